import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** A child process driven by JSON lines (test/fixtures/sqlite-child.ts, region-child.ts). */
export interface JsonChild {
  child: ChildProcess;
  pid: number;
  /** Send a command and wait for its answer (rejects with the child's error message). */
  send<T = unknown>(cmd: Record<string, unknown>): Promise<T>;
  /** Resolves with the next `{event: name}` line (or one already seen and not yet taken). */
  event(name: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
  /** Everything it wrote to stderr (for failure messages). */
  stderr(): string;
}

export type SqliteChild = JsonChild;

/** A child process running test/fixtures/sqlite-child.ts on a shared SQLite file. */
export const startSqliteChild = (dbPath: string, prefix: string) => startJsonChild('sqlite-child.ts', [dbPath, prefix]);

/** A fixture of test/fixtures/ that answers JSON commands `{n, cmd, …}` with `{n, result | error}` and says `{event: 'ready'}`. */
export async function startJsonChild(fixture: string, args: string[]): Promise<JsonChild> {
  const child = spawn(process.execPath, ['--import', 'tsx', `test/fixtures/${fixture}`, ...args], {
    cwd: root,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const replies = new Map<number, (m: Record<string, unknown>) => void>();
  const events: Record<string, unknown>[] = [];
  const eventWaiters: { name: string; resolve: (m: Record<string, unknown>) => void }[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let m: Record<string, unknown>;
    try {
      m = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return; // not ours (a warning printed by a library)
    }
    if (typeof m.n === 'number') {
      replies.get(m.n)?.(m);
      replies.delete(m.n);
    } else if (typeof m.event === 'string') {
      const i = eventWaiters.findIndex((w) => w.name === m.event);
      if (i >= 0) eventWaiters.splice(i, 1)[0]!.resolve(m);
      else events.push(m);
    }
  });
  let n = 0;
  const handle: JsonChild = {
    child,
    pid: child.pid!,
    exited,
    stderr: () => err,
    send<T>(cmd: Record<string, unknown>) {
      const id = ++n;
      return new Promise<T>((resolve, reject) => {
        replies.set(id, (m) => (m.error ? reject(new Error(String(m.error))) : resolve(m.result as T)));
        child.stdin!.write(JSON.stringify({ ...cmd, n: id }) + '\n');
      });
    },
    event(name, timeoutMs = 20_000) {
      const i = events.findIndex((e) => e.event === name);
      if (i >= 0) return Promise.resolve(events.splice(i, 1)[0]!);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no "${name}" from child ${child.pid} within ${timeoutMs} ms; stderr: ${err}`)), timeoutMs);
        eventWaiters.push({ name, resolve: (m) => (clearTimeout(t), resolve(m)) });
        void exited.then((code) => reject(new Error(`child ${child.pid} exited (${code}) before "${name}"; stderr: ${err}`)));
      });
    },
  };
  await handle.event('ready');
  return handle;
}
