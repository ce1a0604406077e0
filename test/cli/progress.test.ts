/**
 * The progress line of `submit` and `run` (issue 15, defect 10): a bar with percent and ETA
 * when the size is known (bytes read of a FILE), the rate alone otherwise (stdin, a pipe);
 * with --wait, results back of requests delegated (a bar once the input is read), never a
 * constant "waiting". The rendering as strings, submitStream's frames through a recording
 * status line, and the built CLI on a pseudo-terminal (`script`).
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { countBytes, inputSize, openInput } from '../../src/cli/input.js';
import { fmtBar, fmtEta, formatProgress, StatusLine } from '../../src/cli/progress.js';
import { submitStream } from '../../src/cli/submit.js';
import { createBackache } from '../../src/index.js';
import { bin, ensureBuilt, tempDir, TEST_OPS, writeFiles } from '../helpers/cli.js';

// eslint-disable-next-line no-control-regex
const plain = (s: string) => s.replace(/\r|\u001b\[[0-9;]*[A-Za-z]/g, '');

describe('the progress text', () => {
  it('a bar with percent, and the ETA at the pace so far', () => {
    expect(fmtBar(0)).toBe(`[${'░'.repeat(20)}]   0%`);
    expect(fmtBar(0.314)).toBe(`[${'█'.repeat(6)}${'░'.repeat(14)}]  31%`);
    expect(fmtBar(1, 10)).toBe(`[${'█'.repeat(10)}] 100%`);
    expect(fmtBar(2, 4)).toBe('[████] 100%');
    expect(fmtEta(0, 100, 5000)).toBe('ETA –');
    expect(fmtEta(25, 100, 10_000)).toBe('ETA 0:30');
    expect(fmtEta(100, 100, 10_000)).toBe('ETA 0:00');
  });

  it('with a known total: the bar and the ETA first; without: counts and the rate', () => {
    const counts: [string, number][] = [
      ['read', 1234],
      ['errors', 0],
    ];
    expect(formatProgress('submit', counts, 5000, 'read', { done: 250, total: 1000 })).toBe(
      `submit  [${'█'.repeat(5)}${'░'.repeat(15)}]  25% · ETA 0:15 · 1,234 read · 0 errors · 247/s · 0:05`,
    );
    expect(formatProgress('submit', counts, 5000, 'read')).toBe('submit  1,234 read · 0 errors · 247/s · 0:05');
    // An unknown (0) total is no bar.
    expect(formatProgress('submit', counts, 5000, 'read', { done: 0, total: 0 })).toBe('submit  1,234 read · 0 errors · 247/s · 0:05');
  });

  it('a count towards a total reads "n of total", and the rate follows it', () => {
    expect(formatProgress('run', [['completed', { n: 30, of: 120 }]], 10_000, 'completed', { done: 30, total: 120, elapsedMs: 3000 })).toBe(
      `run  [${'█'.repeat(5)}${'░'.repeat(15)}]  25% · ETA 0:09 · 30 of 120 completed · 3.0/s · 0:10`,
    );
  });
});

describe('the size of an input', () => {
  it('a file has one, stdin and a stream do not', async () => {
    const dir = tempDir('backache-progress-');
    writeFileSync(join(dir, 'in.txt'), 'a\nb\n');
    const f = await openInput(join(dir, 'in.txt'));
    expect(inputSize(f)).toBe(4);
    f.destroy();
    expect(inputSize(Readable.from(['a\n']))).toBeUndefined();
    const s = createReadStream('/dev/null');
    await new Promise((r) => s.once('open', r));
    expect(inputSize(s)).toBeUndefined(); // not a regular file
    s.destroy();
  });

  it('bytes are counted as lines are taken, not as the file is read ahead', async () => {
    const count = { bytes: 0 };
    const lines = async function* () {
      yield 'é';
      yield 'ab';
    };
    const it = countBytes(lines(), count)[Symbol.asyncIterator]();
    expect(count.bytes).toBe(0);
    await it.next();
    expect(count.bytes).toBe(3); // 'é' is 2 bytes, and its newline
    await it.next();
    expect(count.bytes).toBe(6);
  });
});

describe("submitStream's frames", () => {
  /** A status line that records every frame (drawn at each update). */
  function recorder() {
    const frames: string[] = [];
    const status = new StatusLine({ columns: 300, write: (s: string) => (plain(s) && frames.push(plain(s)), true) }, { enabled: true, intervalMs: 0, timer: false });
    return { frames, status };
  }
  const sink = { write: () => true, once: () => {} };

  it('from a file: a bar of bytes read, reaching 100%, with an ETA', async () => {
    const app = await createBackache({ operations: { up: async (u: string) => u.toUpperCase() }, broker: `memory:${randomUUID()}` });
    const dir = tempDir('backache-progress-');
    writeFileSync(join(dir, 'in.txt'), Array.from({ length: 3000 }, (_, i) => `https://example.com/${i}`).join('\n'));
    const { frames, status } = recorder();
    try {
      await submitStream({ app, out: sink, status, diag: () => {} }, { input: await openInput(join(dir, 'in.txt')), op: 'up', wait: false, batchSize: 100, label: 'submit' });
    } finally {
      status.stop();
      await app.close();
    }
    expect(frames[0]).toMatch(/^submit {2}\[░{20}\] {3}0% · ETA – · 0 read · /);
    // Batches of 100 lines of a 3,000-line file: the percent follows the lines taken.
    const pcts = frames.map((f) => Number(/\] +(\d+)%/.exec(f)?.[1]));
    expect(pcts.filter((p) => p > 0 && p < 100).length).toBeGreaterThan(10);
    expect(pcts).toEqual([...pcts].sort((a, b) => a - b));
    expect(frames.some((f) => /^submit {2}\[█*░+\] +[1-9]\d?% · ETA \d+:\d\d · [\d,]+ read · .*\/s · \d+:\d\d$/.test(f))).toBe(true);
    expect(frames.at(-1)).toMatch(/^submit {2}\[█{20}\] 100% · ETA 0:00 · 3,000 read · 0 hits · 3,000 delegated · 0 coalesced · 0 errors · /);
  });

  it('from a stream (stdin, a pipe): no bar, the rate', async () => {
    const app = await createBackache({ operations: { up: async (u: string) => u.toUpperCase() }, broker: `memory:${randomUUID()}` });
    const { frames, status } = recorder();
    try {
      await submitStream({ app, out: sink, status, diag: () => {} }, { input: Readable.from(['a\nb\nc\n']), op: 'up', wait: false, label: 'submit' });
    } finally {
      status.stop();
      await app.close();
    }
    expect(frames.length).toBeGreaterThan(0);
    for (const f of frames) expect(f).not.toMatch(/%|ETA|\[/);
    expect(frames.at(-1)).toMatch(/^submit {2}3 read · 0 hits · 3 delegated · 0 coalesced · 0 errors · [\d.,]+\/s · \d+:\d\d$/);
  });

  it('with --wait: completed of delegated, then a bar of results once the input is read; no "waiting"', async () => {
    const app = await createBackache({ operations: { up: async (u: string) => u.toUpperCase() }, broker: `memory:${randomUUID()}` });
    const worker = app.startWorker({ concurrency: 2 });
    const { frames, status } = recorder();
    try {
      await submitStream({ app, out: sink, status, diag: () => {} }, { input: Readable.from(['a\nb\nc\nd\n']), op: 'up', wait: true, label: 'run' });
    } finally {
      status.stop();
      await worker.stop();
      await app.close();
    }
    for (const f of frames) expect(f).not.toContain('waiting');
    expect(frames.some((f) => /· \d of 4 completed ·/.test(f))).toBe(true);
    expect(frames.at(-1)).toMatch(/^run {2}\[█{20}\] 100% · ETA 0:00 · 4 read · 0 hits · 4 delegated · 4 of 4 completed · 0 quarantined · 0 errors · /);
  });
});

describe('on a terminal (script gives the CLI a pseudo-terminal)', () => {
  const haveScript = existsSync('/usr/bin/script');
  let dir: string;
  beforeAll(async () => {
    await ensureBuilt();
    dir = tempDir('backache-progress-');
    writeFiles(dir, { 'ops.mjs': TEST_OPS, 'in.txt': Array.from({ length: 2000 }, (_, i) => `u${i}`).join('\n') });
  }, 300_000);
  const onTty = (cmd: string) => spawnSync('script', ['-q', '-e', '-c', `stty cols 200; ${cmd}`, '/dev/null'], { cwd: dir, encoding: 'utf8', env: { ...process.env, COLUMNS: '200' }, timeout: 60_000 });

  it.skipIf(!haveScript)('submit FILE draws a bar with its percent', () => {
    const r = onTty(`node ${bin()} submit in.txt --op upper -o ops.mjs --batch-size 100`);
    expect(r.status, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/\r\x1b\[2Ksubmit {2}\[[█░]{20}\] +\d+% · ETA \S+ · [\d,]+ read · /);
    expect(r.stdout).toMatch(/submit: 2,000 requests/);
  });

  it.skipIf(!haveScript)('submit from a pipe draws the rate, no bar', () => {
    const r = onTty(`cat in.txt | node ${bin()} submit --op upper -o ops.mjs --batch-size 100 --prefix pipe`);
    expect(r.status, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/\r\x1b\[2Ksubmit {2}[\d,]+ read · [\d,]+ hits · [\d,]+ delegated · [\d,]+ coalesced · 0 errors · [\d,.]+\/s · 0:\d\d/);
    expect(r.stdout).not.toMatch(/\d%/);
  });
});
