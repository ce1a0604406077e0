/**
 * Start a real `redis-server` for tests and benchmarks: on a free TCP port (`--port 0`
 * would disable TCP, so a free port is picked first), in its own temp directory, with
 * optional persistence, password and ACL user. One server per test file (beforeAll).
 *
 *   const redis = await startRedisServer({ appendonly: true });
 *   ... redis.url ...
 *   await redis.restart();   // same port and dir: appendonly data survives
 *   await redis.stop();      // shuts down and removes the dir
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const REDIS_SERVER_BIN = process.env.BACKACHE_REDIS_SERVER ?? '/usr/bin/redis-server';

export interface RedisServerOptions {
  /** `appendonly yes` (fsync everysec), so data survives `restart()` and `kill()`. */
  appendonly?: boolean;
  /** `requirepass`: the password of the `default` user. */
  requirepass?: string;
  /** An ACL user with full rights (`user NAME on >PASSWORD ~* &* +@all`). */
  user?: { name: string; password: string; rules?: string[] };
  /** Extra command-line arguments, e.g. `['--maxmemory', '64mb']`. */
  args?: string[];
  /** Also listen with TLS (`rediss://`) on a second free port, with these PEM files. */
  tls?: { certFile: string; keyFile: string; caFile: string };
  /** Milliseconds to wait for the first PING answer. */
  startTimeoutMs?: number;
}

export interface RedisServer {
  /** `redis://[user:pass@]127.0.0.1:PORT`: credentials of `user` if given, else of `requirepass`. */
  url: string;
  /** The same URL without credentials. */
  plainUrl: string;
  host: string;
  port: number;
  /** With `tls`: the TLS port and `rediss://` URL (credentials as in `url`). */
  tlsPort?: number;
  tlsUrl?: string;
  dir: string;
  pid(): number | undefined;
  /** Graceful shutdown (SIGTERM) and removal of the temp dir. Idempotent. */
  stop(): Promise<void>;
  /** Stop (gracefully, or by SIGKILL with `{ kill: true }`) and start again on the same port and dir. */
  restart(opts?: { kill?: boolean }): Promise<void>;
  /** SIGKILL, resolves once the process is gone; `restart()` brings it back. */
  kill(): Promise<void>;
  /** Start again after `kill()` (or a stop without removing the dir). */
  start(): Promise<void>;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Never leave servers behind when a test process ends abruptly.
  process.on('exit', () => {
    for (const p of live) p.kill('SIGKILL');
  });
}

/** A TCP port nobody listens on right now (the OS picks it). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** One raw PING over TCP: true when the server is ready (`+PONG`, or `-NOAUTH` when protected; not while `-LOADING`). */
export function ping(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host, port });
    let buf = '';
    const done = (ok: boolean) => {
      clearTimeout(t);
      sock.destroy();
      resolve(ok);
    };
    const t = setTimeout(() => done(false), timeoutMs);
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG') || buf.startsWith('-NOAUTH')); // not -LOADING
    });
    sock.on('error', () => done(false));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const enc = encodeURIComponent;

export async function startRedisServer(opts: RedisServerOptions = {}): Promise<RedisServer> {
  installExitHook();
  const host = '127.0.0.1';
  const dir = mkdtempSync(join(tmpdir(), 'backache-redis-'));
  let port = 0;
  let tlsPort = 0;
  let proc: ChildProcess | undefined;
  let removed = false;

  const args = () => {
    const a = [
      '--port', String(port),
      '--bind', host,
      '--dir', dir,
      '--daemonize', 'no',
      '--protected-mode', 'no',
      '--save', '',
      '--logfile', '',
      '--loglevel', 'warning',
      '--appendonly', opts.appendonly ? 'yes' : 'no',
      '--appendfsync', 'everysec',
    ];
    if (opts.tls) {
      a.push('--tls-port', String(tlsPort), '--tls-cert-file', opts.tls.certFile, '--tls-key-file', opts.tls.keyFile);
      a.push('--tls-ca-cert-file', opts.tls.caFile, '--tls-auth-clients', 'no');
    }
    if (opts.requirepass !== undefined) a.push('--requirepass', opts.requirepass);
    if (opts.user) a.push('--user', opts.user.name, 'on', `>${opts.user.password}`, ...(opts.user.rules ?? ['~*', '&*', '+@all']));
    return [...a, ...(opts.args ?? [])];
  };

  const launch = async () => {
    const p = spawn(REDIS_SERVER_BIN, args(), { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(p);
    let out = '';
    p.stdout!.on('data', (d) => (out = (out + d).slice(-4000)));
    p.stderr!.on('data', (d) => (out = (out + d).slice(-4000)));
    let exited = false;
    p.on('exit', () => {
      exited = true;
      live.delete(p);
    });
    p.on('error', (e) => {
      exited = true;
      out += `\n${e.message}`;
    });
    const t0 = Date.now();
    const timeout = opts.startTimeoutMs ?? 10_000;
    while (!(await ping(host, port))) {
      if (exited) return { ok: false as const, out };
      if (Date.now() - t0 > timeout) {
        p.kill('SIGKILL');
        throw new Error(`redis-server did not answer PING on ${host}:${port} within ${timeout} ms:\n${out}`);
      }
      await sleep(20);
    }
    proc = p;
    return { ok: true as const, out };
  };

  const waitExit = (p: ChildProcess) =>
    new Promise<void>((resolve) => {
      if (p.exitCode !== null || p.signalCode !== null) return resolve();
      p.once('exit', () => resolve());
    });

  const shutdown = async (signal: NodeJS.Signals) => {
    const p = proc;
    proc = undefined;
    if (!p) return;
    const gone = waitExit(p);
    p.kill(signal);
    const t = setTimeout(() => p.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(t);
  };

  /** Start on the same port; retries while the port is still held by the previous process. */
  const start = async () => {
    if (proc) return;
    const t0 = Date.now();
    for (;;) {
      const r = await launch();
      if (r.ok) return;
      if (!/Address already in use|bind/i.test(r.out) || Date.now() - t0 > 10_000) {
        throw new Error(`redis-server failed to start on ${host}:${port}:\n${r.out}`);
      }
      await sleep(100);
    }
  };

  // First start: a fresh free port each try, in case another process grabbed ours.
  let lastOut = '';
  for (let tries = 0; ; tries++) {
    port = await freePort(host);
    if (opts.tls) tlsPort = await freePort(host);
    const r = await launch();
    if (r.ok) break;
    lastOut = r.out;
    if (tries >= 4) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`redis-server (${REDIS_SERVER_BIN}) failed to start:\n${lastOut}`);
    }
  }

  const plainUrl = `redis://${host}:${port}`;
  const auth = opts.user
    ? `${enc(opts.user.name)}:${enc(opts.user.password)}@`
    : opts.requirepass !== undefined
      ? `:${enc(opts.requirepass)}@`
      : '';
  const url = `redis://${auth}${host}:${port}`;

  return {
    url,
    plainUrl,
    host,
    port,
    ...(opts.tls ? { tlsPort, tlsUrl: `rediss://${auth}${host}:${tlsPort}` } : {}),
    dir,
    pid: () => proc?.pid,
    start,
    async stop() {
      await shutdown('SIGTERM');
      if (!removed) {
        removed = true;
        rmSync(dir, { recursive: true, force: true });
      }
    },
    async restart(o = {}) {
      await shutdown(o.kill ? 'SIGKILL' : 'SIGTERM');
      await start();
    },
    async kill() {
      await shutdown('SIGKILL');
    },
  };
}

export interface RedisSentinel {
  /** `redis+sentinel://127.0.0.1:PORT/MASTER` */
  url: string;
  port: number;
  masterName: string;
  stop(): Promise<void>;
}

/**
 * Start one `redis-server --sentinel` watching `master` (quorum 1), for `redis+sentinel://`
 * tests. The sentinel rewrites its config file, so it lives in its own temp dir.
 */
export async function startRedisSentinel(master: { host: string; port: number }, masterName = 'mymaster', opts: { masterPassword?: string } = {}): Promise<RedisSentinel> {
  installExitHook();
  const host = '127.0.0.1';
  const dir = mkdtempSync(join(tmpdir(), 'backache-sentinel-'));
  const port = await freePort(host);
  const conf = [
    `port ${port}`,
    `bind ${host}`,
    `dir ${dir}`,
    'protected-mode no',
    `sentinel monitor ${masterName} ${master.host} ${master.port} 1`,
    `sentinel down-after-milliseconds ${masterName} 5000`,
    ...(opts.masterPassword ? [`sentinel auth-pass ${masterName} ${opts.masterPassword}`] : []),
    '',
  ].join('\n');
  const file = join(dir, 'sentinel.conf');
  writeFileSync(file, conf);
  const p = spawn(REDIS_SERVER_BIN, [file, '--sentinel'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(p);
  let out = '';
  p.stdout!.on('data', (d) => (out = (out + d).slice(-4000)));
  p.stderr!.on('data', (d) => (out = (out + d).slice(-4000)));
  p.on('exit', () => live.delete(p));
  const t0 = Date.now();
  while (!(await ping(host, port))) {
    if (p.exitCode !== null || Date.now() - t0 > 10_000) {
      p.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`redis sentinel failed to start on ${host}:${port}:\n${out}`);
    }
    await sleep(20);
  }
  return {
    url: `redis+sentinel://${host}:${port}/${masterName}`,
    port,
    masterName,
    async stop() {
      if (p.exitCode === null && p.signalCode === null) {
        const gone = new Promise((r) => p.once('exit', r));
        p.kill('SIGTERM');
        await gone;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A throwaway CA and a server certificate for 127.0.0.1/localhost (needs `openssl`). */
export function makeTlsFiles(dir = mkdtempSync(join(tmpdir(), 'backache-tls-'))) {
  const f = (n: string) => join(dir, n);
  const run = (args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
  };
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=backache test CA', '-keyout', f('ca.key'), '-out', f('ca.crt')]);
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', f('server.key'), '-out', f('server.csr')]);
  writeFileSync(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run(['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', f('ext.cnf'), '-out', f('server.crt')]);
  return { dir, caFile: f('ca.crt'), certFile: f('server.crt'), keyFile: f('server.key') };
}
