/**
 * `stats --watch`: a snapshot every interval until SIGINT or SIGTERM (then it returns, and
 * the command exits 0). One fetch at a time: the next waits for the interval after the last
 * one settled. A failed fetch is told on stderr and the next one tried; on a terminal the
 * screen is redrawn, elsewhere snapshots follow each other (JSON: one line each).
 */
import { sleep } from '../core/backends/polling-consumer.js';
import { maskText } from '../core/url.js';
import { writeLine, type Writable } from './output.js';

export interface WatchOptions<T> {
  intervalMs: number;
  json: boolean;
  render: (snapshot: T) => string;
  out: Writable & { isTTY?: boolean };
  diag: (line: string) => void;
  /** Stops the loop (tests); SIGINT and SIGTERM do too. */
  signal?: AbortSignal;
}

const CLEAR = '\u001b[H\u001b[2J';

export async function watchStats<T extends { at: number }>(fetch: () => Promise<T>, o: WatchOptions<T>): Promise<number> {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  const signals = ['SIGINT', 'SIGTERM'] as const;
  for (const s of signals) process.on(s, onSignal);
  o.signal?.addEventListener('abort', onSignal, { once: true });
  let shown = 0;
  try {
    while (!stop.signal.aborted && !o.out.destroyed) {
      try {
        const snap = await fetch();
        if (stop.signal.aborted) break;
        if (o.json) await writeLine(o.out, JSON.stringify(snap));
        else if (o.out.isTTY) o.out.write(`${CLEAR}${new Date(snap.at).toISOString()}  every ${o.intervalMs / 1000}s (Ctrl-C stops)\n\n${o.render(snap)}\n`);
        else await writeLine(o.out, `${shown ? '\n' : ''}--- ${new Date(snap.at).toISOString()}\n${o.render(snap)}`);
        shown++;
      } catch (e) {
        o.diag(`stats failed: ${maskText((e as Error)?.message ?? String(e))} (trying again in ${o.intervalMs / 1000}s)`);
      }
      await sleep(o.intervalMs, stop.signal);
    }
  } finally {
    for (const s of signals) process.off(s, onSignal);
  }
  return shown;
}
