/**
 * stderr for long commands: a status line (counts and rate) redrawn at most ~10×/s on a
 * TTY, and diagnostics printed above it. Without a TTY the status line is never drawn,
 * so the output is only results and diagnostics.
 */

export interface StatusStream {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface StatusOptions {
  /** Draw the status line (default: the stream is a TTY). */
  enabled?: boolean;
  /** Minimum time between two redraws (default 100 ms). */
  intervalMs?: number;
  now?: () => number;
  /** Redraw on a timer even without updates (keeps the rate and clock moving). Default true. */
  timer?: boolean;
}

const nf = new Intl.NumberFormat('en-US');
export const fmtCount = (n: number) => nf.format(n);

export function fmtElapsed(ms: number): string {
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

export function fmtRate(n: number, ms: number): string {
  if (ms <= 0) return '0/s';
  const r = (n * 1000) / ms;
  return r >= 100 ? `${fmtCount(Math.round(r))}/s` : `${r.toFixed(1)}/s`;
}

/** How far a known amount of work is: `done` of `total` (bytes of a file, results of requests). */
export interface Fraction {
  done: number;
  total: number;
  /** How long this amount has been worked on (ms), for the ETA; default: the line's elapsed time. */
  elapsedMs?: number;
}

/** `[██████░░░░░░░░░░░░░░]  31%`: a bar `width` cells wide. */
export function fmtBar(fraction: number, width = 20): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.floor(f * width);
  return `[${'█'.repeat(full)}${'░'.repeat(width - full)}] ${String(Math.floor(f * 100)).padStart(3)}%`;
}

/** Time left at the pace so far: `ETA 0:42`, or `ETA –` before any progress. */
export function fmtEta(done: number, total: number, elapsedMs: number): string {
  if (done <= 0 || elapsedMs <= 0) return 'ETA –';
  return `ETA ${fmtElapsed(Math.max(0, ((total - done) * elapsedMs) / done))}`;
}

/** A count, or `120 of 11,000` when it counts towards a known total. */
export type Count = number | { n: number; of: number };

/**
 * The text of a progress line: `label  1,234 read · 1,000 hits · 0 errors · 2,345/s · 0:03`.
 * `rateOf` names the count the rate is computed from. With `fraction` (the total is known)
 * the line starts with a bar, its percent and the ETA:
 * `label  [████░░░░]  31% · ETA 0:07 · 1,234 read · … · 0:03`.
 */
export function formatProgress(label: string, counts: [string, Count][], elapsedMs: number, rateOf?: string, fraction?: Fraction): string {
  const n = (v: Count) => (typeof v === 'number' ? v : v.n);
  const parts = counts.map(([k, v]) => (typeof v === 'number' ? `${fmtCount(v)} ${k}` : `${fmtCount(v.n)} of ${fmtCount(v.of)} ${k}`));
  const rated = counts.find(([k]) => k === rateOf) ?? counts[0];
  if (rated) parts.push(fmtRate(n(rated[1]), elapsedMs));
  parts.push(fmtElapsed(elapsedMs));
  // Bar and ETA first: a narrow terminal cuts the end of the line.
  if (fraction && fraction.total > 0) parts.unshift(fmtBar(fraction.done / fraction.total), fmtEta(fraction.done, fraction.total, fraction.elapsedMs ?? elapsedMs));
  return `${label}  ${parts.join(' · ')}`;
}

export class StatusLine {
  readonly enabled: boolean;
  private shown = false;
  private lastDraw = -Infinity;
  private timer?: NodeJS.Timeout;
  private render?: () => string;
  private readonly now: () => number;
  private readonly intervalMs: number;

  constructor(
    private stream: StatusStream = process.stderr,
    o: StatusOptions = {},
  ) {
    this.enabled = o.enabled ?? !!stream.isTTY;
    this.now = o.now ?? Date.now;
    this.intervalMs = o.intervalMs ?? 100;
    if (this.enabled && o.timer !== false) {
      this.timer = setInterval(() => this.refresh(), this.intervalMs);
      this.timer.unref();
    }
  }

  /** Set the renderer (called at each redraw) and draw if the interval allows. */
  use(render: () => string) {
    this.render = render;
    this.update();
  }

  /** The state changed: redraw now unless the last draw was less than an interval ago (the timer catches up). */
  update() {
    if (!this.enabled) return;
    if (this.now() - this.lastDraw >= this.intervalMs) this.draw();
  }

  private refresh() {
    if (this.render) this.draw();
  }

  private draw() {
    if (!this.enabled || !this.render) return;
    const cols = this.stream.columns || 100;
    let t = this.render();
    if (t.length > cols - 1) t = `${t.slice(0, cols - 2)}…`;
    this.stream.write(`\r\x1b[2K${t}`);
    this.shown = true;
    this.lastDraw = this.now();
  }

  private clearLine() {
    if (this.shown) this.stream.write('\r\x1b[2K');
    this.shown = false;
  }

  /** Print a diagnostic line above the status line. */
  print(line: string) {
    this.clearLine();
    this.stream.write(line.endsWith('\n') ? line : `${line}\n`);
    if (this.enabled && this.render) this.draw();
  }

  /** Remove the status line for good. */
  stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.clearLine();
    this.render = undefined;
  }
}
