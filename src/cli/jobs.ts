/**
 * The operators' queue commands (`queue pause|resume|drain`, `jobs list|show`, `stats
 * --watch`): choosing operations, and human renderings of what they return. Renderings
 * are pure functions of their input; text from the data is made safe for the terminal
 * (control characters shown as `\xNN`).
 */
import { Flags } from '@oclif/core';
import { env, listFlag } from '../commands/base.js';
import type { Backache } from '../core/engine.js';
import type { DrainResult } from '../core/drain.js';
import { ConfigError, UnknownOperationError } from '../core/errors.js';
import type { JobInfo, JobListState } from '../core/ports.js';
import { maskText } from '../core/url.js';
import { printable } from '../ui/format.js';
import { ago, iso, table } from './output.js';

export const JOB_STATES: JobListState[] = ['waiting', 'active', 'delayed', 'completed', 'failed'];

/** Data text for people: passwords masked, control characters visible. */
const safe = (s: string) => printable(maskText(s));
const plural = (n: number, one: string, many = `${one}s`) => `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
/** `in 5m` for a time to come (`ago` the other way round). */
const dueIn = (t: number, now: number) => `in ${ago(now, t).replace(' ago', '')}`;

/** An operation this deployment knows, or a usage error listing the known ones. */
export async function knownOp(app: Backache, op: string): Promise<string> {
  const known = await app.seenOperations();
  if (!known.includes(op)) throw new UnknownOperationError(op, known);
  return op;
}

/** The flags that choose queues, shared by `queue pause` and `queue resume`. */
export const queueFlags = (verb: string) => ({
  op: Flags.string({ summary: `Operation whose queue to ${verb} (repeatable; in the environment, one per line).`, multiple: true, env: env('op') }),
  all: Flags.boolean({ summary: 'Every known operation.', env: env('all') }),
});

/**
 * `queue pause|resume`: `--op OP…` or `--all` (exactly one; checked before anything opens),
 * then every named operation must be known. Returns the operations and the line to print.
 */
export async function setPaused(open: () => Promise<Backache>, flags: { op?: string[] | string; all: boolean }, paused: boolean) {
  const verb = paused ? 'pause' : 'resume';
  const named = listFlag(flags.op);
  if (flags.all && named.length) throw new ConfigError('give --op or --all, not both');
  if (!flags.all && named.length === 0) throw new ConfigError(`say which queue to ${verb}: --op OP (repeatable) or --all`);
  const app = await open();
  const known = await app.seenOperations();
  for (const op of named) if (!known.includes(op)) throw new UnknownOperationError(op, known);
  const ops = flags.all ? known : [...new Set(named)];
  for (const op of ops) await (paused ? app.pause(op) : app.resume(op));
  const names = ops.map(safe).join(', ');
  const line = ops.length === 0 ? `no operation known: nothing ${verb}d` : paused ? `paused ${names}: workers take no new jobs (running ones finish); resume with: backache queue resume` : `resumed ${names}`;
  return { ops, line };
}

/**
 * `stats --watch [INTERVAL]` as milliseconds: a duration (500ms, 5s, 1m) or a bare number of
 * seconds, as `rq info --interval 2` and `watch -n 2` read it.
 */
export function watchIntervalMs(v: string, toMs: (d: string, what: string) => number): number {
  const ms = /^\s*\d+(\.\d+)?\s*$/.test(v) ? Math.round(Number(v) * 1000) : toMs(v, '--watch');
  if (ms < 250) throw new ConfigError(`--watch must be at least 250ms, got ${v}`);
  return ms;
}

/** The argv with the default interval after a bare `--watch` (oclif's string flags need a value). */
export function defaultWatch(argv: string[], interval = '2s'): string[] {
  const i = argv.indexOf('--watch');
  const end = argv.indexOf('--'); // after `--` everything is an argument
  if (i < 0 || (end >= 0 && end < i)) return argv;
  const next = argv[i + 1];
  if (next !== undefined && !next.startsWith('-')) return argv;
  return [...argv.slice(0, i + 1), interval, ...argv.slice(i + 1)];
}

export function renderJobList(jobs: JobInfo[], op: string, state: JobListState | undefined, now = Date.now()): string {
  if (jobs.length === 0) {
    return state ? `no ${state} jobs of ${safe(op)}` : `no waiting, active or delayed jobs of ${safe(op)} (finished ones: --state completed or --state failed)`;
  }
  return table(jobs, [
    { header: 'ID', get: (j) => safe(j.id) },
    { header: 'STATE', get: (j) => j.state },
    { header: 'URI', get: (j) => safe(j.uri), max: 50 },
    { header: 'ATTEMPTS', get: (j) => j.attempts },
    { header: 'STALLS', get: (j) => j.stalls },
    { header: 'WORKER', get: (j) => (j.worker ? safe(j.worker) : '-'), max: 40 },
    { header: 'CREATED', get: (j) => ago(j.createdAt, now) },
    { header: 'DUE/FINISHED', get: (j) => (j.finishedAt ? ago(j.finishedAt, now) : j.runAt ? dueIn(j.runAt, now) : '-') },
  ]);
}

export function renderJob(j: JobInfo, now = Date.now()): string {
  // Pretty JSON keeps its own newlines; JSON.stringify has escaped those of the data.
  const json = (v: unknown) => (JSON.stringify(v, null, 2) ?? 'undefined').split('\n').map(safe).join('\n');
  const when = (t: number | undefined) => (t ? `${iso(t)} (${t > now ? dueIn(t, now) : ago(t, now)})` : '-');
  const { op: _op, uri: _uri, kwargs, ...rest } = (j.data && typeof j.data === 'object' ? j.data : {}) as Record<string, unknown>;
  const lines = [
    `id          ${safe(j.id)}`,
    `op          ${safe(j.op)}`,
    `uri         ${safe(j.uri)}`,
    `state       ${j.state}`,
    `priority    ${j.priority}`,
    `attempts    ${j.attempts}`,
    `stalls      ${j.stalls}`,
    `worker      ${j.worker ? safe(j.worker) : '-'}`,
    `created     ${when(j.createdAt)}`,
    `started     ${when(j.startedAt)}`,
  ];
  if (j.state === 'delayed') lines.push(`due         ${when(j.runAt)}`);
  lines.push(`finished    ${when(j.finishedAt)}`);
  if (j.progress !== undefined) lines.push(`progress    ${json(j.progress)}`);
  lines.push(`kwargs      ${json(kwargs ?? {})}`);
  if (Object.keys(rest).length) lines.push(`data        ${json(rest)}`);
  if (j.result) lines.push(`delivered   ${json(j.result.cbArgs)} (delivery ${safe(j.result.deliveryId)}; the value is in the cache: backache get --op ${safe(j.op)} URI)`);
  if (j.error) lines.push(`error       ${safe(`${j.error.name}: ${j.error.message}`)}`);
  if (j.quarantineId) lines.push(`quarantine  ${safe(j.quarantineId)} (backache quarantine show ${safe(j.quarantineId)})`);
  return lines.join('\n');
}

/** The lines `queue drain` prints on stderr. */
export function drainSummary(r: DrainResult): string[] {
  const op = safe(r.op);
  const found = `${r.waiting.toLocaleString('en-US')} waiting, ${r.delayed.toLocaleString('en-US')} delayed`;
  const out: string[] = [];
  if (r.dryRun) out.push(`queue drain --dry-run: ${plural(r.waiting + r.delayed, 'job')} of ${op} would be drained (${found}); their requests would go to quarantine (DrainedError)`);
  else {
    out.push(`drained ${plural(r.drained, 'job')} of ${op} (${found}): ${plural(r.requests, 'request')} now in quarantine as DrainedError`);
    if (r.skipped) out.push(`${plural(r.skipped, 'job was', 'jobs were')} left alone: a worker had run or was running ${r.skipped === 1 ? 'it' : 'them'} (or another drain had ${r.skipped === 1 ? 'it' : 'them'})`);
    if (r.taken) out.push(`${plural(r.taken, 'job was', 'jobs were')} taken by a worker meanwhile: it quarantines ${r.taken === 1 ? 'it' : 'them'} the same way`);
    if (r.items.length) out.push(`bring them back with: backache quarantine replay --op ${op} (or by id, from: backache quarantine list --op ${op})`);
  }
  if (r.active) out.push(`${plural(r.active, 'active job')} left running${r.dryRun ? ' (drain never touches them)' : ''}`);
  return out;
}
