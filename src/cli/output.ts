/**
 * Output helpers: result lines on stdout (JSON lines, honouring back-pressure), readable
 * tables, times and sizes for people.
 */
import { printable, printableJson } from '../core/printable.js';
import { maskText } from '../core/url.js';

export type ResultStatus = 'hit' | 'stale' | 'computed' | 'quarantined';

/** One streamed result (`run`, `submit --wait`): `{"op","uri","status","value"?,"error"?}`. */
export interface ResultLine {
  op: string;
  uri: string;
  status: ResultStatus;
  value?: unknown;
  error?: string;
}

export function resultLine(r: ResultLine): string {
  const o: ResultLine = { op: r.op, uri: r.uri, status: r.status };
  if (r.status === 'quarantined') o.error = r.error ?? 'quarantined';
  else o.value = r.value;
  return jsonLine(o);
}

/** A value as one line of JSON, safe for a terminal (see printableJson). */
export const jsonLine = (v: unknown) => printableJson(JSON.stringify(v));

export interface Writable {
  write(s: string): boolean;
  once(ev: 'drain' | 'close' | 'error', f: () => void): unknown;
  removeListener?(ev: 'drain' | 'close' | 'error', f: () => void): unknown;
  destroyed?: boolean;
}

/**
 * Write a line; wait for 'drain' only when the stream asks for it (slow consumer). When
 * the reader has gone (`| head`: EPIPE) lines are dropped and the command still finishes
 * its work and closes cleanly; what it computed is in the cache.
 */
export function writeLine(out: Writable, line: string): void | Promise<void> {
  if (out.destroyed) return;
  if (out.write(`${line}\n`)) return;
  return new Promise((resolve) => {
    const done = () => {
      out.removeListener?.('drain', done);
      out.removeListener?.('close', done);
      out.removeListener?.('error', done);
      resolve();
    };
    out.once('drain', done);
    out.once('close', done);
    out.once('error', done);
  });
}

export interface Column<T> {
  header: string;
  get: (row: T) => string | number | null | undefined;
  align?: 'left' | 'right';
  /** Truncate to this many characters. */
  max?: number;
}

const cell = (v: string | number | null | undefined) => (v === null || v === undefined ? '-' : typeof v === 'number' ? fmtNum(v) : v);

export function fmtNum(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  return Number.isInteger(n) ? n.toLocaleString('en-US') : n.toFixed(1);
}

export function truncate(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, Math.max(1, max - 1))}…` : s;
}

/** A plain-text table; numbers align right. */
export function table<T>(rows: T[], cols: Column<T>[]): string {
  const cells = rows.map((r) =>
    cols.map((c) => {
      const v = c.get(r);
      const s = printable(cell(v)).replace(/\s+/g, ' ');
      return c.max ? truncate(s, c.max) : s;
    }),
  );
  const right = cols.map((c) => c.align === 'right' || (c.align === undefined && rows.some((r) => typeof c.get(r) === 'number')));
  const widths = cols.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i]!.length)));
  const fmt = (vals: string[]) =>
    vals
      .map((v, i) => (right[i] ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [fmt(cols.map((c) => c.header)), ...cells.map(fmt)].join('\n');
}

/** `3s ago`, `5m ago`, `2h ago`, `4d ago`. */
export function ago(at: number | null | undefined, now = Date.now()): string {
  if (!at) return '-';
  const s = Math.max(0, Math.round((now - at) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

export const iso = (at: number | null | undefined) => (at ? new Date(at).toISOString() : '-');

export const pct = (r: number | null) => (r === null ? '-' : `${(r * 100).toFixed(r === 1 ? 0 : 1)}%`);

export const ms = (n: number | null) => (n === null ? '-' : n >= 1000 ? `${(n / 1000).toFixed(1)}s` : `${Math.round(n)}ms`);

/** Safe text for the terminal: passwords in URLs masked, control characters escaped. */
export const safe = (s: string) => printable(maskText(s));

/**
 * A stack as lines safe for a terminal. Its first line(s) are `name: message`, where the
 * message is data (a URI with a newline in it would forge a line): that head is escaped
 * whole, and only the frames after it are split at their newlines.
 */
export function stackLines(e: { name: string; message: string; stack?: string }): string[] {
  const stack = e.stack ?? `${e.name}: ${e.message}`;
  // The head is `Name: message` (whichever name the error had when its stack was taken).
  const at = e.message ? stack.indexOf(e.message) : -1;
  if (at < 0 || !/^(?:[^\n:]*: )?$/.test(stack.slice(0, at))) return stack.split('\n').map(safe);
  const end = at + e.message.length;
  return [safe(stack.slice(0, end)), ...stack.slice(end).split('\n').slice(1).map(safe)];
}

/** JSON for people: pretty on a TTY, one line otherwise; safe for a terminal. */
export const toJson = (v: unknown, pretty: boolean) => printableJson(JSON.stringify(v, null, pretty ? 2 : 0));
