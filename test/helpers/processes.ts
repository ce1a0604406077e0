import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Start a TypeScript fixture under tsx; resolves once it prints `ready` (or at once with waitReady false). */
export function startFixture(file: string, env: Record<string, string>, waitReady = true): Promise<{ child: ChildProcess; output: () => string; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', `test/fixtures/${file}`], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const handle = { child, output: () => out, exited };
  if (!waitReady) return Promise.resolve(handle);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${file} did not get ready: ${out}`)), 20_000);
    child.stdout!.on('data', () => {
      if (out.includes('ready')) {
        clearTimeout(t);
        resolve(handle);
      }
    });
    void exited.then((code) => reject(new Error(`${file} exited with ${code} before ready: ${out}`)));
  });
}

/** JSON lines of a log file written by fixtures. */
export function readLog<T = Record<string, unknown>>(file: string): T[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as T);
}
