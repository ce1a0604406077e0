/**
 * `backache top` for real: the built CLI under tmux (send-keys, capture-pane) with an
 * in-test worker and a feeder keeping jobs flowing, on SQLite (a file in a temp dir) and on
 * Redis (a real redis-server from the test helpers). Rows and counts appear and change;
 * the layout fits 80×24; `r` then `y` replays exactly the items the question counted, while
 * more fail; the status line clears with the next key; `/` filters the operations and the
 * quarantine panel; `p` pauses (checked through `backache stats --json`); `r` then `y`
 * replays the quarantine; `q` exits 0 and restores the screen. Without a TTY `top` exits 2
 * and points to `backache stats --json`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackache, defineOperations, type Backache, type WorkerHandle } from '../../src/index.js';
import type { Stats } from '../../src/core/stats.js';
import { BIN, cli, describeOnBackends, ensureBuilt, tempDir } from '../helpers/cli.js';
import { sleep, waitUntil } from '../helpers/wait.js';

const hasTmux = spawnSync('tmux', ['-V']).status === 0;
if (!hasTmux && process.env.CI !== 'true') console.warn('\n!!! backache top under tmux SKIPPED: tmux is not installed\n');

/** `--broker X --prefix Y` as engine options. */
function optionsOf(flags: string[]) {
  const get = (name: string) => {
    const i = flags.indexOf(name);
    return i >= 0 ? flags[i + 1] : undefined;
  };
  return { broker: get('--broker'), prefix: get('--prefix') };
}

const operations = defineOperations({
  title: async (uri) => {
    await sleep(2);
    return uri.length;
  },
  flaky: {
    run: async (_uri, ctx) => {
      throw ctx.quarantine({ reason: 'always' });
    },
  },
});

describe.runIf(hasTmux || process.env.CI === 'true')('backache top', () => {
  describeOnBackends('backache top under tmux', (backend) => {
    const socket = `backache-top-${randomUUID().slice(0, 8)}`;
    const session = 'top';
    let dir: string;
    let flags: string[];
    let app: Backache;
    let worker: WorkerHandle;
    let feeding = true;
    let feeder: Promise<void> | undefined;

    const tmux = (...args: string[]) => execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
    const screen = () => tmux('capture-pane', '-p', '-t', session);
    const keys = (...k: string[]) => tmux('send-keys', '-t', session, ...k);
    const waitScreen = async (pred: (s: string) => boolean, what: string, ms = 15_000) => {
      try {
        await waitUntil(() => pred(screen()), what, ms, 100);
      } catch (e) {
        throw new Error(`${(e as Error).message}; screen:\n${screen()}`);
      }
    };
    const cliStats = async (): Promise<Stats> => {
      const r = await cli(['stats', '--json', ...flags], { cwd: dir });
      expect(r.code, r.stderr).toBe(0);
      return r.json<Stats>();
    };
    const opOf = (s: Stats, op: string) => s.ops.find((o) => o.op === op);

    beforeAll(async () => {
      if (!hasTmux) throw new Error('tmux is not installed (CI=true: not skipping)');
      await ensureBuilt();
      dir = tempDir('backache-top-');
      flags = backend.name === 'sqlite' ? ['--broker', `sqlite:${join(dir, 'backache.db')}`] : backend.flags();
      app = await createBackache({ operations, ...optionsOf(flags) });
      worker = app.startWorker({ concurrency: 4, heartbeatMs: 500 });
      let i = 0;
      feeder = (async () => {
        while (feeding) {
          const batch = Array.from({ length: 10 }, () => ({ op: i % 5 === 0 ? 'flaky' : 'title', uri: `https://example.com/${i++}` }));
          await app.bulkGetOrDelegate(batch);
          await sleep(100);
        }
      })();
      await waitUntil(async () => (opOf(await app.stats(), 'flaky')?.quarantined ?? 0) > 0, 'first quarantined items');
      // A shell in a 120×40 terminal, with a line on screen before top starts.
      tmux('new-session', '-d', '-x', '120', '-y', '40', '-s', session, '-c', dir, 'env', 'PS1=$ ', 'sh', '-i');
      keys(`clear; echo BEFORE-TOP; node ${BIN} top --interval 250ms ${flags.join(' ')}; echo TOP_EXIT=$?`, 'Enter');
    }, 120_000);

    afterAll(async () => {
      feeding = false;
      await feeder;
      try {
        tmux('kill-server');
      } catch {
        // already gone
      }
      await worker?.stop('2s');
      await app?.close();
    });

    it('shows rows and counts that change, fits 80×24, pauses, replays after y, and quits with 0', async () => {
      await waitScreen((s) => /> flaky/.test(s) && /^\s+title\s/m.test(s), 'rows for flaky and title');
      expect(screen()).toMatch(backend.name === 'sqlite' ? /broker sqlite:.*backache\.db/ : /broker redis:\/\/127\.0\.0\.1:\d+/);
      const done = () => Number(/done (\d+)/.exec(screen())?.[1] ?? -1);
      const before = done();
      await waitScreen(() => done() > before, 'the done count to grow');
      await waitScreen((s) => /WORKERS 1 alive/.test(s) && /QUARANTINE \d+ items/.test(s) && /quarantined by the operation/.test(s), 'workers and quarantine sections');

      // r asks about the items it listed and y replays exactly those, though flaky (whose
      // queue runs) keeps failing while the question is open.
      keys('r');
      await waitScreen((s) => /Replay \d+ quarantined flaky requests?\? \[y\/N\]/.test(s), 'the y/n question');
      const asked = Number(/Replay (\d+) quarantined flaky/.exec(screen())![1]);
      await waitUntil(async () => opOf(await cliStats(), 'flaky')!.quarantined > asked, 'more items quarantined while the question is open', 30_000, 200);
      keys('y');
      await waitScreen((s) => /replayed \d+ (of \d+ )?quarantined flaky request/.test(s), 'the replay reported');
      expect(screen()).toContain(`replayed ${asked} quarantined flaky request${asked === 1 ? '' : 's'}`);
      // The status line clears with the next key.
      keys('j');
      await waitScreen((s) => !s.includes('replayed ') && /> title/.test(s), 'the status cleared by the next key');
      keys('k');
      await waitScreen((s) => /> flaky/.test(s), 'flaky selected again');

      // Readable at 80×24: the narrow layout, everything on screen; the rest runs at that size.
      tmux('resize-window', '-t', session, '-x', '80', '-y', '24');
      await waitScreen(
        (s) => /OPERATION\s+WAIT\s+ACT\s+DELAY\s+DONE\/s\s+FAIL\/s\s+QUAR\s+HIT%\s+P95\s+LAST 60s/.test(s) && /workers 1 · wait /.test(s),
        'the 80-column layout',
      );
      const rows = screen().split('\n');
      expect(rows.findIndex((l) => l.includes('every 250ms'))).toBeLessThan(24);
      expect(rows.filter((l) => l.includes('OPERATION'))).toHaveLength(1); // no stale frames left behind

      // / filters the quarantine panel too: title never fails, flaky does.
      keys('/', 'tit');
      await waitScreen((s) => s.includes('/tit') && /QUARANTINE empty of \/tit/.test(s) && !/quarantined by the operation/.test(s), 'the quarantine panel filtered to title');
      keys('Escape');
      await waitScreen((s) => /QUARANTINE \d+ items(?! of)/.test(s), 'the filter cleared');

      // Filter to flaky, then pause it.
      keys('/', 'fla');
      await waitScreen((s) => s.includes('/fla') && !/^\s+title\s/m.test(s) && /QUARANTINE \d+ items of \/fla/.test(s) && /quarantined by the operation/.test(s), 'the filter');
      keys('Enter');
      keys('p');
      await waitScreen((s) => s.includes('paused flaky'), 'the pause reported');
      expect(opOf(await cliStats(), 'flaky')?.paused).toBe(true);
      await waitScreen((s) => /> flaky(?: \(paused\)|\s+‖)/.test(s), 'the paused row (marked ‖ when the name column is narrow)');

      // r asks, y replays: the quarantine of flaky empties (its jobs wait: the queue is paused).
      const quarantined = opOf(await cliStats(), 'flaky')!.quarantined;
      expect(quarantined).toBeGreaterThan(0);
      keys('r');
      await waitScreen((s) => /Replay \d+ quarantined flaky requests?\? \[y\/N\]/.test(s), 'the y/n question');
      keys('y');
      await waitScreen((s) => /replayed \d+ quarantined flaky request/.test(s), 'the replay reported');
      const after = opOf(await cliStats(), 'flaky')!;
      expect(after.quarantined).toBe(0);
      expect(after.waiting).toBeGreaterThan(0);

      // The detail view of the selected operation, and back.
      keys('Enter');
      await waitScreen((s) => s.includes('RECENT JOBS') && s.includes('flaky PAUSED'), 'the detail view');
      await waitScreen((s) => /^\s+\d+[smhd] (waiting|completed|quarantined|active)\s+\S+\s+https:\/\/example\.com\//m.test(s), 'recent jobs in the detail view');
      keys('Escape');
      await waitScreen((s) => s.includes('OPERATION'), 'back to the list');

      // p again resumes.
      keys('p');
      await waitScreen((s) => s.includes('resumed flaky'), 'the resume reported');
      expect(opOf(await cliStats(), 'flaky')?.paused).toBe(false);

      // q exits 0 and the screen shows what it showed before.
      const t0 = Date.now();
      keys('q');
      await waitScreen((s) => s.includes('TOP_EXIT='), 'top to exit', 10_000);
      const quitMs = Date.now() - t0;
      const s = screen();
      expect(s).toContain('TOP_EXIT=0');
      expect(s).toContain('BEFORE-TOP');
      expect(s).not.toContain('OPERATION');
      expect(quitMs).toBeLessThan(1900); // not held open until the CLI's 2 s safety exit
    }, 90_000);
  });

  describe('without a terminal', () => {
    let dir: string;
    beforeAll(async () => {
      await ensureBuilt();
      dir = tempDir('backache-top-');
    }, 120_000);

    it('exits 2 and says to use backache stats --json', async () => {
      const r = await cli(['top'], { cwd: dir });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('backache stats --json');
      expect(r.stdout).toBe('');
    });

    it('an interval under 250ms is a usage error (exit 2), on a terminal too', () => {
      // `script` gives the command a pseudo-terminal, so the TTY check passes.
      const r = spawnSync('script', ['-qec', `node ${BIN} top --interval 100ms`, '/dev/null'], { cwd: dir, encoding: 'utf8' });
      if (r.error) return void console.warn('no `script` command: interval check left to the unit tests');
      expect(r.status).toBe(2);
      expect(r.stdout).toContain('--interval must be at least 250ms');
    });
  });
});
