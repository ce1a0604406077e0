/**
 * `backache top` for real: the built CLI under tmux (send-keys, capture-pane) on a SQLite
 * file in a temp dir, with an in-test worker and a feeder keeping jobs flowing. Rows and
 * counts appear and change; `p` pauses (checked through `backache stats --json`); `r` then
 * `y` replays the quarantine; `q` exits 0 and restores the screen. Without a TTY `top`
 * exits 2 and points to `backache stats --json`.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackache, defineOperations, type Backache, type WorkerHandle } from '../../src/index.js';
import type { Stats } from '../../src/core/stats.js';
import { sleep, waitUntil } from '../helpers/wait.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const run = join(root, 'bin/run.js');
const hasTmux = spawnSync('tmux', ['-V']).status === 0;

/** Newest modification time under a folder. */
function newest(dir: string): number {
  let t = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = statSync(p);
    t = Math.max(t, s.isDirectory() ? newest(p) : s.mtimeMs);
  }
  return t;
}

/** Build the CLI when dist/ is missing or older than src/. */
function ensureBuilt() {
  const built = join(root, 'dist/commands/top.js');
  if (existsSync(built) && statSync(built).mtimeMs >= newest(join(root, 'src'))) return;
  const r = spawnSync('npm', ['run', 'build'], { cwd: root, encoding: 'utf8' });
  // Type errors in files being written elsewhere still emit JS; only a missing command is fatal.
  if (!existsSync(built)) throw new Error(`npm run build did not produce dist/commands/top.js:\n${r.stdout}\n${r.stderr}`);
}

const execFileP = promisify(execFile);

describe.skipIf(!hasTmux && process.env.CI !== 'true')('backache top under tmux', () => {
  const socket = `backache-top-${randomUUID().slice(0, 8)}`;
  const session = 'top';
  let dir: string;
  let broker: string;
  let app: Backache;
  let worker: WorkerHandle;
  let feeding = true;
  let feeder: Promise<void>;

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
  const cliStats = async (): Promise<Stats> => JSON.parse((await execFileP(process.execPath, [run, 'stats', '--json', '--broker', broker], { cwd: dir })).stdout) as Stats;
  const opOf = (s: Stats, op: string) => s.ops.find((o) => o.op === op);

  beforeAll(async () => {
    if (!hasTmux) throw new Error('tmux is not installed (CI=true: not skipping)');
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'backache-top-'));
    broker = `sqlite:${join(dir, 'backache.db')}`;
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
    app = await createBackache({ operations, broker });
    worker = app.startWorker({ concurrency: 4, heartbeatMs: 500 });
    let i = 0;
    feeder = (async () => {
      while (feeding) {
        const batch = Array.from({ length: 10 }, () => ({ op: i % 5 === 0 ? 'flaky' : 'title', uri: `https://example.com/${i++}` }));
        await app.bulkGetOrDelegate(batch);
        await sleep(100);
      }
    })();
    await waitUntil(async () => ((await app.stats()).ops.find((o) => o.op === 'flaky')?.quarantined ?? 0) > 0, 'first quarantined items');
    // A shell in a 120×40 terminal, with a line on screen before top starts.
    tmux('new-session', '-d', '-x', '120', '-y', '40', '-s', session, '-c', dir, 'env', 'PS1=$ ', 'sh', '-i');
    keys(`clear; echo BEFORE-TOP; node ${run} top --interval 250ms --broker ${broker}; echo TOP_EXIT=$?`, 'Enter');
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
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('shows rows and counts that change, pauses, replays after y, and quits with 0', async () => {
    await waitScreen((s) => /> flaky/.test(s) && /^\s+title\s/m.test(s), 'rows for flaky and title');
    expect(screen()).toMatch(/broker sqlite:.*backache\.db/);
    const done = () => Number(/done (\d+)/.exec(screen())?.[1] ?? -1);
    const before = done();
    await waitScreen(() => done() > before, 'the done count to grow');
    await waitScreen((s) => /WORKERS 1 alive/.test(s) && /QUARANTINE \d+ items/.test(s) && /quarantined by the operation/.test(s), 'workers and quarantine sections');

    // Filter to flaky, then pause it.
    keys('/', 'fla');
    await waitScreen((s) => s.includes('/fla') && !/^\s+title\s/m.test(s), 'the filter');
    keys('Enter');
    keys('p');
    await waitScreen((s) => s.includes('paused flaky'), 'the pause reported');
    expect(opOf(await cliStats(), 'flaky')?.paused).toBe(true);
    await waitScreen((s) => s.includes('flaky (paused)'), 'the paused row');

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
    await waitScreen((s) => s.includes('RECENT JOBS') && /waiting\s+\S+\s+https:\/\/example\.com\//.test(s), 'the detail view with recent jobs');
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

  it('without a TTY exits 2 and says to use backache stats --json', async () => {
    const r = spawnSync(process.execPath, [run, 'top', '--broker', broker], { cwd: dir, encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('backache stats --json');
    expect(r.stdout).toBe('');
  });

  it('rejects an interval under 250ms with exit 2', async () => {
    const r = spawnSync('script', ['-qec', `node ${run} top --interval 100ms --broker ${broker}`, '/dev/null'], { cwd: dir, encoding: 'utf8' });
    if (r.error) return; // no `script` here: the check is covered by the unit tests
    expect(r.status).toBe(2);
    expect(r.stdout).toContain('--interval must be at least 250ms');
  });
});
