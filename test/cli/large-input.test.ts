/**
 * `submit` streams: peak memory does not grow with the input. 20k and 200k lines through
 * stdin; the peak RSS (measured by /usr/bin/time) stays about the same.
 * (bench/ records the 1M-line figure.)
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { beforeAll, expect, it } from 'vitest';
import { bin, ensureBuilt, tempDir, TEST_OPS, writeFiles } from '../helpers/cli.js';

beforeAll(ensureBuilt, 300_000);

const TIME = '/usr/bin/time';

function submitLines(dir: string, n: number): Promise<{ code: number | null; stderr: string; peakKb: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(TIME, ['-f', 'peak=%M', process.execPath, bin(), 'submit', '--op', 'upper', '-o', 'ops.mjs'], { cwd: dir, stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr, peakKb: Number(/peak=(\d+)/.exec(stderr)?.[1] ?? NaN) }));
    // Write the input as it is consumed (back-pressure), never all of it in memory.
    let i = 0;
    const write = () => {
      while (i < n) {
        const chunk = Array.from({ length: Math.min(1000, n - i) }, (_, k) => `https://example.com/items/${i + k}?q=${'x'.repeat(40)}`).join('\n') + '\n';
        i += 1000;
        if (!child.stdin.write(chunk)) return void child.stdin.once('drain', write);
      }
      child.stdin.end();
    };
    write();
  });
}

it.skipIf(!existsSync(TIME))('submit of 200k lines: flat memory (peak RSS close to that of 20k lines)', async () => {
  const small = tempDir();
  const big = tempDir();
  writeFiles(small, { 'ops.mjs': TEST_OPS });
  writeFiles(big, { 'ops.mjs': TEST_OPS });
  const a = await submitLines(small, 20_000);
  expect(a.code, a.stderr).toBe(0);
  const b = await submitLines(big, 200_000);
  expect(b.code, b.stderr).toBe(0);
  expect(b.stderr).toMatch(/submit: 200,000 requests: 0 hits \(0 stale\), 200,000 delegated/);
  // Ten times the input, not ten times the memory: allow 60 MB of noise (SQLite page cache, GC timing).
  expect(b.peakKb - a.peakKb, `peak RSS 20k: ${a.peakKb} KB, 200k: ${b.peakKb} KB`).toBeLessThan(60_000);
}, 120_000);
