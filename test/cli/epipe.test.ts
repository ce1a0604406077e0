/** A reader that goes away early (`backache run … | head -1`) must not hang the command. */
import { spawn } from 'node:child_process';
import { beforeAll, expect, it } from 'vitest';
import { bin, ensureBuilt, tempDir, TEST_OPS, writeFiles } from '../helpers/cli.js';

beforeAll(() => ensureBuilt(), 180_000);

it('run whose stdout closes after the first line finishes its work and exits 0', async () => {
  const cwd = tempDir();
  writeFiles(cwd, { 'ops.mjs': TEST_OPS, 'urls.txt': Array.from({ length: 2000 }, (_, i) => `https://x/${i}`).join('\n') });
  for (let round = 0; round < 2; round++) {
    const child = spawn(process.execPath, [bin(), 'run', 'urls.txt', '--op', 'upper', '-o', 'ops.mjs'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const firstLine = await new Promise<string>((resolve) => {
      child.stdout.once('data', (d: Buffer) => {
        child.stdout.destroy(); // like `head -1`: read one chunk, go away
        resolve(String(d).split('\n')[0]!);
      });
    });
    expect(JSON.parse(firstLine)).toMatchObject({ op: 'upper', status: round === 0 ? 'computed' : 'hit' });
    const code = await new Promise<number | null>((resolve) => {
      const t = setTimeout(() => resolve(-1), 20_000);
      child.on('close', (c) => (clearTimeout(t), resolve(c)));
    });
    expect(code).toBe(0);
  }
}, 60_000);
