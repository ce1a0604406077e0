/**
 * Start a real Redis Cluster for tests: `masters` × (1 + `replicas`) `redis-server
 * --cluster-enabled yes` processes on free ports in one temp dir, joined by `redis-cli
 * --cluster create`, ready once every node's `CLUSTER INFO` says `cluster_state:ok` and
 * agrees on the masters. One cluster per test file (beforeAll).
 *
 *   const cluster = await startRedisCluster({ masters: 3, replicas: 1 });
 *   ... cluster.url ...       // redis+cluster://127.0.0.1:P1,127.0.0.1:P2,…
 *   await cluster.kill(port); // SIGKILL one node
 *   await cluster.stop();     // kills every node and removes the dir
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, ping, REDIS_SERVER_BIN } from './redis-server.js';

export const REDIS_CLI_BIN = process.env.BACKACHE_REDIS_CLI ?? '/usr/bin/redis-cli';

export interface RedisClusterOptions {
  /** Masters (default 3: `redis-cli --cluster create` needs at least 3). */
  masters?: number;
  /** Replicas per master (default 0). */
  replicas?: number;
  /** `cluster-node-timeout` in ms (default 1000: a dead master is failed over within a few seconds). */
  nodeTimeoutMs?: number;
  /** How long to wait for `cluster_state:ok` (default 30 s). */
  startTimeoutMs?: number;
}

export interface ClusterNode {
  host: string;
  port: number;
  pid(): number | undefined;
  alive(): boolean;
}

export interface RedisCluster {
  /** `redis+cluster://h:p,h:p,…` listing every node. */
  url: string;
  host: string;
  nodes: ClusterNode[];
  dir: string;
  /** `redis-cli -p PORT ARGS…` against one node (its stdout; throws on failure). */
  cli(port: number, ...args: string[]): string;
  /** The current masters (`CLUSTER NODES` seen from a live node) with their slot ranges. */
  masters(): { id: string; host: string; port: number; slots: string[] }[];
  /** SIGKILL one node; resolves once it is gone. */
  kill(port: number): Promise<void>;
  /** Wait until every live node says `cluster_state:ok`. */
  waitOk(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const live = new Set<ChildProcess>();
let hooked = false;
function exitHook() {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const p of live) p.kill('SIGKILL');
  });
}

export async function startRedisCluster(opts: RedisClusterOptions = {}): Promise<RedisCluster> {
  exitHook();
  const host = '127.0.0.1';
  const nMasters = opts.masters ?? 3;
  const replicas = opts.replicas ?? 0;
  const total = nMasters * (1 + replicas);
  const dir = mkdtempSync(join(tmpdir(), 'backache-cluster-'));
  const procs = new Map<number, ChildProcess>();
  const logs = new Map<number, string>();

  const cli = (port: number, ...args: string[]) => {
    const r = spawnSync(REDIS_CLI_BIN, ['-h', host, '-p', String(port), ...args], { encoding: 'utf8', timeout: 30_000 });
    if (r.status !== 0) throw new Error(`redis-cli -p ${port} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
    return r.stdout;
  };

  const launch = async (port: number) => {
    const p = spawn(
      REDIS_SERVER_BIN,
      [
        '--port', String(port),
        '--bind', host,
        '--dir', dir,
        '--daemonize', 'no',
        '--protected-mode', 'no',
        '--cluster-enabled', 'yes',
        '--cluster-config-file', join(dir, `nodes-${port}.conf`),
        '--cluster-node-timeout', String(opts.nodeTimeoutMs ?? 1000),
        '--save', '',
        '--appendonly', 'no',
        // Replicas sync at once (the default waits 5 s for more replicas) and may always
        // take over, however long they were cut off (tests kill masters on purpose).
        '--repl-diskless-sync-delay', '0',
        '--cluster-replica-validity-factor', '0',
        '--logfile', '',
        '--loglevel', 'warning',
      ],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    live.add(p);
    p.stdout!.on('data', (d) => logs.set(port, ((logs.get(port) ?? '') + d).slice(-4000)));
    p.stderr!.on('data', (d) => logs.set(port, ((logs.get(port) ?? '') + d).slice(-4000)));
    p.on('exit', () => live.delete(p));
    const t0 = Date.now();
    while (!(await ping(host, port))) {
      if (p.exitCode !== null || Date.now() - t0 > 10_000) {
        p.kill('SIGKILL');
        return false;
      }
      await sleep(20);
    }
    procs.set(port, p);
    return true;
  };

  const stopAll = async () => {
    await Promise.all(
      [...procs.values()].map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.exitCode !== null || p.signalCode !== null) return resolve();
            p.once('exit', () => resolve());
            p.kill('SIGKILL');
          }),
      ),
    );
    procs.clear();
  };

  const alive = (port: number) => {
    const p = procs.get(port);
    return !!p && p.exitCode === null && p.signalCode === null;
  };

  const waitOk = async (timeoutMs = opts.startTimeoutMs ?? 30_000) => {
    const t0 = Date.now();
    for (;;) {
      const ports = [...procs.keys()].filter(alive);
      const states = ports.map((port) => {
        try {
          return /cluster_state:ok/.test(cli(port, 'CLUSTER', 'INFO'));
        } catch {
          return false;
        }
      });
      if (states.every(Boolean)) return;
      if (Date.now() - t0 > timeoutMs) throw new Error(`redis cluster not ok within ${timeoutMs} ms:\n${cli(ports[0]!, 'CLUSTER', 'NODES')}`);
      await sleep(100);
    }
  };

  const masters = () => {
    const port = [...procs.keys()].find(alive)!;
    return cli(port, 'CLUSTER', 'NODES')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => l.split(' '))
      .filter((f) => /\bmaster\b/.test(f[2]!) && !/\bfail\b/.test(f[2]!) && f.length > 8)
      .map((f) => {
        const [h, rest] = f[1]!.split(':');
        return { id: f[0]!, host: h!, port: Number(rest!.split('@')[0]), slots: f.slice(8) };
      })
      .sort((a, b) => a.port - b.port);
  };

  try {
    const ports: number[] = [];
    while (ports.length < total) {
      const port = await freePort(host);
      if (ports.includes(port)) continue;
      if (await launch(port)) ports.push(port);
    }
    cli(ports[0]!, '--cluster', 'create', ...ports.map((p) => `${host}:${p}`), '--cluster-replicas', String(replicas), '--cluster-yes');
    await waitOk();
    // Every node must see every master with its slots (gossip may lag behind cluster_state:ok).
    const t0 = Date.now();
    for (;;) {
      const views = ports.map((p) => cli(p, 'CLUSTER', 'NODES').split('\n').filter((l) => / master /.test(` ${l.split(' ')[2]} `.replace(/,/g, ' ')) && l.split(' ').length > 8).length);
      const replicaViews = ports.map((p) => cli(p, 'CLUSTER', 'NODES').split('\n').filter((l) => /slave/.test(l.split(' ')[2] ?? '')).length);
      // …and every replica must be in sync with its master (else it cannot take over).
      const synced = replicas === 0 || ports.every((p) => {
        const info = cli(p, 'INFO', 'replication');
        return !/role:master/.test(info) || (info.match(/state=online/g) ?? []).length === replicas;
      });
      if (synced && views.every((n) => n === nMasters) && replicaViews.every((n) => n === nMasters * replicas)) break;
      if (Date.now() - t0 > 30_000) throw new Error(`redis cluster nodes disagree on the masters: ${views.join(',')}`);
      await sleep(100);
    }
    return {
      url: `redis+cluster://${ports.map((p) => `${host}:${p}`).join(',')}`,
      host,
      dir,
      nodes: ports.map((port) => ({ host, port, pid: () => procs.get(port)?.pid, alive: () => alive(port) })),
      cli,
      masters,
      waitOk,
      async kill(port: number) {
        const p = procs.get(port);
        if (!p || !alive(port)) return;
        const gone = new Promise<void>((r) => p.once('exit', () => r()));
        p.kill('SIGKILL');
        await gone;
      },
      async stop() {
        await stopAll();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await stopAll();
    const out = [...logs].map(([p, l]) => `${p}: ${l}`).join('\n');
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`${(e as Error).message}\n${out}`);
  }
}
