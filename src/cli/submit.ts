/**
 * The shared body of `submit` and `run`: read requests as a stream, submit them in
 * batches (one `bulkGetOrDelegate` per batch), and optionally wait for every delegated
 * request with bounded concurrency, printing one JSON line per result as it completes.
 *
 *   input ─► parseLines ─► batches(1000) ─► bulkGetOrDelegate ─► hits: printed at once
 *                                                   └─► delegated ─► ResultWaiter ─► printed on completion
 *
 * Memory is bounded by one batch plus the waiter's window, whatever the input length.
 */
import type { Readable } from 'node:stream';
import type { Backache } from '../core/engine.js';
import { QuarantinedError, TimeoutError } from '../core/errors.js';
import { batches } from './batch.js';
import { countBytes, inputSize, parseLines, readLines, type InputItem, type InputRequest } from './input.js';
import { resultLine, writeLine, type ResultLine, type Writable } from './output.js';
import { formatProgress, type Count, type Fraction, type StatusLine } from './progress.js';
import { ResultWaiter, type WaitOutcome } from './waiter.js';

export interface SubmitSummary {
  /** Non-blank input lines. */
  read: number;
  hits: number;
  stale: number;
  delegated: number;
  coalesced: number;
  /** Bad lines and rejected requests. */
  errors: number;
  /** With wait: results computed, quarantined, or not back in time. */
  computed: number;
  quarantined: number;
  timedOut: number;
}

export interface SubmitOptions {
  input: Readable;
  op?: string;
  cbArgs?: unknown;
  kwargs?: Record<string, unknown>;
  /** Wait for delegated requests and stream their results. */
  wait: boolean;
  /** Per-request wait limit (ms). */
  waitTimeoutMs?: number;
  batchSize?: number;
  /** How many delegated requests are waited for at once. */
  waitWindow?: number;
  /** Label of the progress line. */
  label: string;
  /** Called once, before waiting for the first delegated request (`run` starts its workers there). */
  beforeFirstWait?: () => void;
}

export interface SubmitIO {
  app: Backache;
  out: Writable;
  status: StatusLine;
  /** A diagnostic line on stderr. */
  diag: (line: string) => void;
}

export const emptySummary = (): SubmitSummary => ({ read: 0, hits: 0, stale: 0, delegated: 0, coalesced: 0, errors: 0, computed: 0, quarantined: 0, timedOut: 0 });

export async function submitStream(io: SubmitIO, o: SubmitOptions): Promise<SubmitSummary> {
  const { app, out, status, diag } = io;
  const known = new Set(app.knownOperations());
  const knownList = () => [...known].join(', ') || '(none)';
  const s = emptySummary();
  const started = Date.now();

  const emit = async (r: ResultLine) => {
    await writeLine(out, resultLine(r));
  };

  const waiter = o.wait
    ? new ResultWaiter(
        (jobId) => app.waitFor(jobId, { timeout: o.waitTimeoutMs }),
        async (outcome: WaitOutcome, item) => {
          if (outcome.result) {
            if (outcome.result.status === 'quarantined') {
              s.quarantined++;
              outcome.result.error = await quarantineReason(app, outcome.result.error ?? 'quarantined', outcome.quarantineId);
            } else s.computed++;
            await emit(outcome.result);
          } else {
            s.timedOut++;
            diag(`${item.op} ${item.uri}: ${outcome.failure}`);
          }
          status.update();
        },
        o.waitWindow ?? 256,
        (e) => {
          if (e instanceof QuarantinedError) return { result: { op: '', uri: '', status: 'quarantined', error: e.message }, quarantineId: e.quarantineId };
          if (e instanceof TimeoutError) return { failure: `no result within ${o.waitTimeoutMs} ms (is a worker running? see: backache workers)` };
          return undefined;
        },
      )
    : undefined;

  // The bar: bytes of a file taken so far (as lines, not the read-ahead); with --wait, once
  // the input is read, results back of requests delegated. Without a known total, the rate.
  const size = inputSize(o.input);
  const taken = { bytes: 0 };
  let readAllAt: number | undefined;
  status.use(() => {
    const now = Date.now();
    const finished = s.computed + s.quarantined + s.timedOut;
    const counts: [string, Count][] = [
      ['read', s.read],
      ['hits', s.hits],
      ['delegated', s.delegated],
    ];
    if (o.wait) counts.push(['completed', { n: finished, of: s.delegated }], ['quarantined', s.quarantined]);
    else counts.push(['coalesced', s.coalesced]);
    counts.push(['errors', s.errors]);
    let fraction: Fraction | undefined;
    if (o.wait && readAllAt !== undefined) fraction = { done: finished, total: s.delegated, elapsedMs: now - readAllAt };
    else if (size) fraction = { done: Math.min(taken.bytes, size), total: size };
    return formatProgress(o.label, counts, now - started, o.wait ? 'completed' : 'read', fraction);
  });

  const validate = (r: InputRequest) => (known.has(r.op) ? undefined : `unknown operation "${r.op}"; known operations: ${knownList()}`);
  async function* requests(items: AsyncIterable<InputItem>): AsyncGenerator<InputRequest> {
    for await (const item of items) {
      s.read++;
      if (item.ok) yield item.req;
      else {
        s.errors++;
        diag(item.error.message);
        status.update();
      }
    }
  }

  const items = parseLines(countBytes(readLines(o.input), taken), { op: o.op, cbArgs: o.cbArgs, kwargs: o.kwargs, validate });
  for await (const batch of batches(requests(items), o.batchSize ?? 1000)) {
    const r = await app.bulkGetOrDelegate(batch.map(({ line: _line, ...req }) => req));
    for (const h of r.hits) {
      s.hits++;
      if (h.stale) s.stale++;
      if (o.wait) await emit({ op: h.op, uri: h.uri, status: h.stale ? 'stale' : 'hit', value: h.value });
    }
    for (const e of r.errors) {
      s.errors++;
      diag(`${e.op} ${e.uri}: ${e.error}`);
    }
    for (const d of r.delegated) {
      s.delegated++;
      if (d.coalesced) s.coalesced++;
    }
    status.update();
    if (waiter && r.delegated.length) {
      if (o.beforeFirstWait) {
        o.beforeFirstWait();
        o.beforeFirstWait = undefined;
      }
      for (const d of r.delegated) await waiter.add(d);
    }
  }
  readAllAt = Date.now();
  if (waiter) await waiter.drain();
  status.update();
  return s;
}

/**
 * Why a request was quarantined, for its result line: the error message, and the details
 * the operation gave to `ctx.quarantine(details)` (kept out of the message itself so that
 * `quarantine list --group` still groups by message).
 */
export async function quarantineReason(app: Backache, message: string, id: string | undefined): Promise<string> {
  if (!id) return message;
  const item = await app.quarantine.get(id).catch(() => undefined);
  if (item?.details === undefined) return message;
  const d = JSON.stringify(item.details);
  return `${message}: ${d.length > 300 ? `${d.slice(0, 299)}…` : d}`;
}

/** `submitted 3 requests: 1 hit (0 stale), 2 delegated (1 coalesced), 0 errors` and, with --wait, the outcomes. */
export function summaryText(label: string, s: SubmitSummary, wait: boolean, elapsedMs: number): string {
  const plural = (n: number, w: string) => `${n.toLocaleString('en-US')} ${w}${n === 1 ? '' : 's'}`;
  let t = `${label}: ${plural(s.read, 'request')}: ${plural(s.hits, 'hit')} (${s.stale} stale), ${s.delegated.toLocaleString('en-US')} delegated (${s.coalesced} coalesced), ${plural(s.errors, 'error')}`;
  if (wait) t += `; ${s.computed.toLocaleString('en-US')} computed, ${s.quarantined.toLocaleString('en-US')} quarantined${s.timedOut ? `, ${s.timedOut} timed out` : ''}`;
  return `${t} in ${(elapsedMs / 1000).toFixed(1)}s`;
}

export const summaryFailed = (s: SubmitSummary) => s.errors > 0 || s.quarantined > 0 || s.timedOut > 0;
