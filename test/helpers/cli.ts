/**
 * Run the BUILT CLI (`node bin/run.js …`) as a subprocess, with real stdin, stdout, stderr
 * and exit codes, in temporary working directories.
 *
 *   beforeAll(ensureBuilt);                       // builds once (a private snapshot) when the sources changed
 *   const dir = tempDir();                        // a fresh working directory
 *   const r = await cli(['run', '--op', 'upper', '-o', 'ops.mjs'], { cwd: dir, input: 'a\nb\n' });
 *   r.code; r.stdout; r.stderr; r.lines()         // stdout as parsed JSON lines
 *
 *   const w = startCli(['work', '-o', 'ops.mjs'], { cwd: dir });
 *   await w.waitFor(/started/);                   // a line on stderr
 *   const done = await w.stop('SIGTERM');         // { code, stdout, stderr }
 *
 * The environment is cleaned of BACKACHE_* so the caller's shell never leaks in.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe } from 'vitest';
import { REDIS_SERVER_BIN, startRedisServer, type RedisServer } from './redis-server.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout as JSON lines. */
  lines<T = any>(): T[];
  /** stdout as one JSON document. */
  json<T = any>(): T;
}

export interface CliOptions {
  cwd: string;
  /** Written to stdin, then closed; without it stdin is empty (/dev/null). */
  input?: string | Iterable<string>;
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
}

function cleanEnv(extra: Record<string, string | undefined> = {}) {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('BACKACHE_') && v !== undefined) env[k] = v;
  delete env.NODE_OPTIONS;
  delete env.VITEST;
  delete env.NODE_ENV;
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

function result(code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string): CliResult {
  return {
    code,
    signal,
    stdout,
    stderr,
    lines: () =>
      stdout
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => {
          try {
            return JSON.parse(l);
          } catch {
            throw new Error(`stdout line is not JSON: ${l}\n--- stderr:\n${stderr}`);
          }
        }),
    json: () => {
      try {
        return JSON.parse(stdout);
      } catch {
        throw new Error(`stdout is not JSON:\n${stdout}\n--- stderr:\n${stderr}`);
      }
    },
  };
}

export function startCli(args: string[], o: CliOptions) {
  const child: ChildProcess = spawn(process.execPath, [bin(), ...args], {
    cwd: o.cwd,
    env: cleanEnv(o.env),
    stdio: [o.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const listeners = new Set<() => void>();
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    for (const l of listeners) l();
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    for (const l of listeners) l();
  });
  const exited = new Promise<CliResult>((resolve) => child.on('close', (code, signal) => resolve(result(code, signal, stdout, stderr))));
  if (o.input !== undefined) {
    const stdin = child.stdin!;
    stdin.on('error', () => {}); // the CLI may exit before reading everything (usage errors)
    void (async () => {
      const chunks = typeof o.input === 'string' ? [o.input] : o.input!;
      for (const c of chunks) if (!stdin.write(c)) await new Promise((r) => stdin.once('drain', r));
      stdin.end();
    })();
  }
  const timeout = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 60_000);
  void exited.then(() => clearTimeout(timeout));
  return {
    child,
    exited,
    stdout: () => stdout,
    stderr: () => stderr,
    /** Resolves when stderr (or stdout) matches; rejects if the process exits first or after `ms`. */
    waitFor(re: RegExp, ms = 20_000, stream: 'stderr' | 'stdout' = 'stderr'): Promise<void> {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (re.test(stream === 'stderr' ? stderr : stdout)) {
            cleanup();
            resolve();
          }
        };
        const t = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out waiting for ${re} on ${stream}\n--- stdout:\n${stdout}\n--- stderr:\n${stderr}`));
        }, ms);
        const cleanup = () => {
          clearTimeout(t);
          listeners.delete(check);
        };
        listeners.add(check);
        void exited.then((r) => {
          if (listeners.has(check)) {
            cleanup();
            reject(new Error(`exited (${r.code}) before ${re}\n--- stdout:\n${stdout}\n--- stderr:\n${stderr}`));
          }
        });
        check();
      });
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      child.kill(signal);
      return exited;
    },
  };
}

export function cli(args: string[], o: CliOptions): Promise<CliResult> {
  return startCli(args, o).exited;
}

const made: string[] = [];
/** A fresh temp working directory, removed at process exit. */
export function tempDir(prefix = 'backache-cli-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}
process.on('exit', () => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** Write files (relative path → content) into `dir`. */
export function writeFiles(dir: string, files: Record<string, string>) {
  for (const [p, content] of Object.entries(files)) {
    const full = join(dir, p);
    mkdirSync(join(full, '..'), { recursive: true });
    writeFileSync(full, content);
  }
}

/** An operations module (ESM JavaScript) for tests: a few behaviours worth testing. */
export const TEST_OPS = `
export default {
  upper: async (uri) => uri.toUpperCase(),
  len: { run: async (uri) => ({ len: uri.length }) },
  echo: { run: async (uri, ctx) => ({ uri, kwargs: ctx.kwargs }) },
  slow: { run: async (uri) => { await new Promise((r) => setTimeout(r, 300)); return uri.length; } },
  fn: async () => () => 1,
  fail: async (uri) => { throw new Error('failed on ' + uri); },
  reject: async (uri, ctx) => ctx.quarantine({ why: 'rejected ' + uri }),
  flaky: async (uri, ctx) => { if (!ctx.kwargs.fixed) throw new Error('not fixed yet'); return 'fixed ' + uri; },
};
`;

/** Newest mtime of the files under `dir` (recursively). */
function newest(dir: string): number {
  let t = 0;
  for (const name of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, name.name);
    t = Math.max(t, name.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

let cliRoot: string | undefined;

/**
 * The built `bin/run.js` the tests run: the repository's until ensureBuilt() has run,
 * then the snapshot's (a live binding: read it after ensureBuilt).
 */
export let BIN = join(ROOT, 'bin', 'run.js');

/** The `bin/run.js` the tests run (set by ensureBuilt). */
export function bin(): string {
  if (!cliRoot) throw new Error('call ensureBuilt() first (beforeAll)');
  return join(cliRoot, 'bin', 'run.js');
}

/**
 * Build the CLI once for the test run, exactly as `npm run build` does (tsc with
 * tsconfig.build.json, scripts/copy-assets.mjs, scripts/manifest.mjs), but into a private
 * snapshot directory keyed by the sources' newest mtime. The tests run that snapshot's
 * `node bin/run.js`, so a rebuild of the shared dist/ by someone else (which starts with
 * `rm -rf dist`) never breaks a running test, and parallel test files share one build.
 * With BACKACHE_TEST_CLI_DIST=1 the repository's own dist/ is used instead (after
 * `npm run build`, e.g. in CI).
 */
export async function ensureBuilt(): Promise<void> {
  if (process.env.BACKACHE_TEST_CLI_DIST === '1') {
    if (!existsSync(join(ROOT, 'oclif.manifest.json')) || !existsSync(join(ROOT, 'dist', 'commands', 'run.js'))) throw new Error('BACKACHE_TEST_CLI_DIST=1 but dist/ is not built: npm run build');
    cliRoot = ROOT;
    BIN = bin();
    return;
  }
  const key = Math.floor(Math.max(newest(join(ROOT, 'src')), newest(join(ROOT, 'scripts')), statSync(join(ROOT, 'package.json')).mtimeMs, statSync(join(ROOT, 'bin', 'run.js')).mtimeMs));
  const snap = join(tmpdir(), `backache-cli-build-${key}`);
  const ready = join(snap, '.ready');
  if (existsSync(ready)) {
    cliRoot = snap;
    BIN = bin();
    return;
  }
  const lock = join(tmpdir(), 'backache-cli-build.lock');
  const t0 = Date.now();
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // Another test file builds; a lock older than 3 minutes is left over from a crash.
      try {
        if (Date.now() - statSync(lock).mtimeMs > 180_000) rmSync(lock, { recursive: true, force: true });
      } catch {
        /* gone meanwhile */
      }
      if (Date.now() - t0 > 240_000) throw new Error('timed out waiting for another test file to build the CLI');
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    if (existsSync(ready)) {
      cliRoot = snap;
      BIN = bin();
      return;
    }
    // Old snapshots (of earlier sources) go.
    for (const name of readdirSync(tmpdir())) {
      const p = join(tmpdir(), name);
      if (name.startsWith('backache-cli-build-') && p !== snap) {
        try {
          if (Date.now() - statSync(p).mtimeMs > 3_600_000) rmSync(p, { recursive: true, force: true });
        } catch {
          /* someone else's, or gone */
        }
      }
    }
    rmSync(snap, { recursive: true, force: true });
    mkdirSync(join(snap, 'bin'), { recursive: true });
    for (const f of ['package.json', 'bin/run.js']) writeFileSync(join(snap, f), readFileSync(join(ROOT, f)));
    symlinkSync(join(ROOT, 'node_modules'), join(snap, 'node_modules'));
    symlinkSync(join(ROOT, 'src'), join(snap, 'src')); // for copy-assets.mjs (src → dist)
    const log = join(snap, 'build.log');
    const fd = openSync(log, 'w');
    const run = (file: string, args: string[]) => execFileSync(file, args, { cwd: snap, stdio: ['ignore', fd, fd], env: cleanEnv() });
    try {
      try {
        run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(snap, 'dist')]);
      } catch {
        // Type errors (perhaps in someone's unfinished file) still emit JavaScript: go on if the CLI is there.
        if (!existsSync(join(snap, 'dist', 'commands', 'run.js'))) throw new Error(`tsc failed; see ${log}`);
        console.warn(`\n!!! tsc reported errors while building the CLI for tests (see ${log}); testing the emitted JavaScript\n`);
      }
      run(process.execPath, [join(ROOT, 'scripts', 'copy-assets.mjs')]);
      run(process.execPath, [join(ROOT, 'scripts', 'manifest.mjs')]);
    } catch (e) {
      throw new Error(`building the CLI failed (${(e as Error).message}); see ${log}`);
    } finally {
      closeSync(fd);
    }
    writeFileSync(ready, '');
    cliRoot = snap;
    BIN = bin();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/**
 * The backends the CLI tests run on: SQLite (the default, a file in the working
 * directory) always; Redis when test/helpers/redis-server.ts can start a server.
 */
export interface CliBackend {
  name: string;
  /** Extra flags for every command (e.g. --broker redis://… --prefix t-…). */
  flags(): string[];
}


/**
 * Run `fn` once per backend: SQLite (a file in each test's working directory) and Redis
 * (one real redis-server per file, a fresh prefix per `flags()` call). Without a
 * redis-server binary the Redis suite is skipped loudly, and fails under CI=true.
 */
export function describeOnBackends(title: string, fn: (b: CliBackend) => void, o: { redis?: boolean } = {}) {
  describe(`${title} [sqlite]`, () => fn({ name: 'sqlite', flags: () => [] }));
  if (o.redis === false) return;
  const haveRedis = existsSync(REDIS_SERVER_BIN);
  if (!haveRedis && process.env.CI !== 'true') {
    console.warn(`\n!!! ${title} [redis] SKIPPED: no redis-server at ${REDIS_SERVER_BIN} (set BACKACHE_REDIS_SERVER)\n`);
    return;
  }
  describe(`${title} [redis]`, () => {
    let server: RedisServer | undefined;
    beforeAll(async () => {
      server = await startRedisServer();
    });
    afterAll(async () => {
      await server?.stop();
    });
    fn({
      name: 'redis',
      flags: () => {
        if (!server) throw new Error('redis-server did not start');
        return ['--broker', server.url, '--prefix', `t${randomUUID().slice(0, 8)}`];
      },
    });
  });
}
