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

/**
 * The text of a progress line: `label  1,234 read · 1,000 hits · 0 errors · 2,345/s · 0:03`.
 * `rateOf` names the count the rate is computed from.
 */
export function formatProgress(label: string, counts: [string, number][], elapsedMs: number, rateOf?: string): string {
  const parts = counts.map(([k, v]) => `${fmtCount(v)} ${k}`);
  const rated = counts.find(([k]) => k === rateOf) ?? counts[0];
  if (rated) parts.push(fmtRate(rated[1], elapsedMs));
  parts.push(fmtElapsed(elapsedMs));
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
