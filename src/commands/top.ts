import { Flags } from '@oclif/core';
import { BaseCommand, env } from './base.js';

const ALT_SCREEN_ON = '\u001b[?1049h';
const ALT_SCREEN_OFF = '\u001b[?1049l';

export default class Top extends BaseCommand<typeof Top> {
  static override summary = 'The live dashboard: queues, rates, hit ratio, workers and quarantine.';
  static override description = `Refreshed every --interval: per operation waiting, active, delayed, completed/s, failed/s, quarantined, hit ratio, coalesced, p50/p95 run time and a sparkline of the last minute; the live workers; the latest quarantine entries grouped by error.
Keys: ↑↓ or j/k move, Enter details (every counter, the hits served from L1 among the hits, recent jobs, quarantine items), Esc back, p pause/resume the operation's queue, r replay its quarantine (asks y/n about the items it counts, and replays exactly those), / filter the operations and the quarantine panel by name, ? help, q quit.
Needs a terminal; for scripts use "backache stats --json" (the same data, once).`;
  static override examples = [
    '<%= config.bin %> top',
    '<%= config.bin %> top --interval 250ms',
    '<%= config.bin %> top --broker redis://localhost:6379 --cache mongodb://localhost/backache',
  ];
  static override flags = {
    interval: Flags.string({ summary: 'Refresh period, at least 250ms.', default: '1s', env: env('interval') }),
  };

  async run() {
    const { ConfigError } = await import('../core/errors.js');
    if (!process.stdout.isTTY) {
      throw new ConfigError('top needs a terminal; use `backache stats --json` for a snapshot in scripts and pipes');
    }
    const { toMs } = await import('../core/duration.js');
    const { MIN_INTERVAL_MS } = await import('../ui/poller.js');
    const intervalMs = toMs(this.flags.interval, '--interval');
    if (intervalMs < MIN_INTERVAL_MS) throw new ConfigError(`--interval must be at least ${MIN_INTERVAL_MS}ms, got ${this.flags.interval}`);

    // Nothing may print over the dashboard: the engine's diagnostics are dropped here.
    const quiet = { info() {}, warn() {}, error() {} };
    const app = await this.openApp({ operations: 'optional', logger: quiet , create: false });

    // Ink and React load only here, so other commands start fast. Ink decides once, on
    // import, that a CI variable means "no live redraws, print the last frame at exit"; a
    // person is watching this terminal (stdout is a TTY), so hide those variables from it.
    const ciVars = { CI: process.env.CI, CONTINUOUS_INTEGRATION: process.env.CONTINUOUS_INTEGRATION };
    delete process.env.CI;
    delete process.env.CONTINUOUS_INTEGRATION;
    const [{ render }, { createElement }, { App }, { sourceFromApp }] = await Promise.all([
      import('ink'),
      import('react'),
      import('../ui/App.js'),
      import('../ui/snapshot.js'),
    ]).finally(() => {
      for (const [k, v] of Object.entries(ciVars)) if (v !== undefined) process.env[k] = v;
    });
    const interactive = !!process.stdin.isTTY;
    // The alternate screen: on exit the terminal shows what it showed before.
    process.stdout.write(ALT_SCREEN_ON);
    const ink = render(createElement(App, { source: sourceFromApp(app), intervalMs, interactive }), { exitOnCtrlC: false, patchConsole: true });
    const stop = () => ink.unmount();
    const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
    for (const s of signals) process.once(s, stop);
    try {
      await ink.waitUntilExit();
    } finally {
      for (const s of signals) process.off(s, stop);
      process.stdout.write(ALT_SCREEN_OFF);
    }
  }
}
