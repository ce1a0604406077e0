/**
 * Health checks of one store URL, for `backache doctor`: can it be reached, and is it set
 * up the way backache needs (SQLite: a writable file in WAL mode; Redis: server version
 * and eviction policy; MongoDB: the driver's own check). Never throws; never includes a
 * password (URLs are masked).
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { BackacheError } from './errors.js';
import { maskText, maskUrl, schemeOf } from './url.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface Check {
  name: string;
  status: CheckStatus;
  message: string;
  /** What to do about it. */
  hint?: string;
  /** For a failure: 2 configuration, 3 unreachable. */
  exitCode?: 2 | 3;
}

const ok = (name: string, message: string): Check => ({ name, status: 'ok', message });
const warn = (name: string, message: string, hint?: string): Check => ({ name, status: 'warn', message, ...(hint ? { hint } : {}) });
const fail = (name: string, message: string, hint: string | undefined, exitCode: 2 | 3 = 3): Check => ({ name, status: 'fail', message, exitCode, ...(hint ? { hint } : {}) });

const reason = (e: unknown) => maskText(e instanceof Error ? e.message : String(e));

/** Checks that need no open backend: files, servers, versions. */
export async function checkStoreUrl(role: 'broker' | 'cache', url: string, prefix: string): Promise<Check[]> {
  const name = `${role} ${maskUrl(url)}`;
  try {
    switch (schemeOf(url)) {
      case 'sqlite':
        return await checkSqliteFile(name, url);
      case 'memory':
        return [warn(name, 'in-memory: lives and dies with one process', 'work and submit in two processes do not share it; use sqlite:PATH or redis://')];
      case 'redis':
      case 'rediss':
      case 'redis+cluster':
      case 'rediss+cluster':
        return await checkRedis(name, url, prefix);
      case 'redis+sentinel':
        return [ok(name, 'Redis Sentinel: checked by opening it below')];
      case 'mongodb':
      case 'mongodb+srv':
        return role === 'broker' ? [fail(name, 'MongoDB can hold the cache only', 'use --cache mongodb://… with a sqlite: or redis:// broker', 2)] : await checkMongoUrl(name, url, prefix);
      default:
        return [];
    }
  } catch (e) {
    return [fail(name, reason(e), e instanceof BackacheError ? e.hint : undefined, e instanceof BackacheError && e.exitCode === 2 ? 2 : 3)];
  }
}

async function checkSqliteFile(name: string, url: string): Promise<Check[]> {
  const { sqlitePath } = await import('./backends/sqlite/db.js');
  const path = sqlitePath(url);
  if (path === ':memory:') return [warn(name, 'an in-memory SQLite database lives and dies with one process')];
  if (existsSync(path)) {
    if (!statSync(path).isFile()) return [fail(name, `${path} is not a file`, 'point --broker at a file path: sqlite:PATH')];
    for (const p of [path, dirname(path)]) {
      try {
        accessSync(p, constants.R_OK | constants.W_OK);
      } catch {
        return [fail(name, `${p} is not writable`, `fix its permissions (chmod/chown) or use another file: --broker sqlite:PATH${p !== path ? ' (SQLite needs to create -wal and -shm files next to the database)' : ''}`)];
      }
    }
    return [ok(name, `file ${path} is writable`), await sqliteJournalMode(name, path)];
  }
  // Not created yet: the nearest existing directory must let us create it.
  let dir = dirname(path);
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    return [fail(name, `${path} does not exist and ${dir} is not writable`, 'create the directory, or use another file: --broker sqlite:PATH')];
  }
  return [ok(name, `${path} will be created on first use`)];
}

async function sqliteJournalMode(name: string, path: string): Promise<Check> {
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(path, { readonly: true, fileMustExist: true, timeout: 2000 });
  try {
    const mode = String(db.pragma('journal_mode', { simple: true }));
    return mode.toLowerCase() === 'wal'
      ? ok(name, 'journal mode WAL (several processes can share the file)')
      : warn(name, `journal mode is ${mode}, not WAL`, 'backache switches it to WAL when it opens the file; if it stays so, the filesystem may not support WAL (network filesystems do not): use a local disk');
  } finally {
    db.close();
  }
}

async function checkRedis(name: string, url: string, prefix: string): Promise<Check[]> {
  const { openRedis, closeRedis, isCluster } = await import('./backends/redis/connection.js');
  const { evictionPolicies, evictionProblem, muteBullmqEvictionWarning } = await import('./backends/redis/eviction.js');
  let client: Awaited<ReturnType<typeof openRedis>> | undefined;
  try {
    client = await openRedis(url);
  } catch (e) {
    return [fail(name, reason(e), e instanceof BackacheError ? e.hint : 'is redis-server running, and are host, port and password right?')];
  }
  // The Queues opened below to read versions would each print BullMQ's eviction warning.
  const unmute = muteBullmqEvictionWarning();
  try {
    const out: Check[] = [];
    // On a cluster, server-wide questions go to one master (`info` on the Cluster would pick any node).
    const server = isCluster(client) ? client.nodes('master')[0]! : client;
    const info = String(await server.info('server'));
    const version = /redis_version:([\d.]+)/.exec(info)?.[1] ?? '?';
    const [maj = 0, min = 0] = version.split('.').map(Number);
    out.push(maj > 6 || (maj === 6 && min >= 2) ? ok(name, `reachable, Redis ${version}`) : warn(name, `Redis ${version} is older than 6.2`, 'BullMQ needs Redis 6.2 or newer: upgrade the server'));
    // From INFO (CONFIG is often disabled on managed Redis), the same words as every command's warning.
    const evicts = evictionProblem(await evictionPolicies(client).catch(() => []));
    if (evicts) out.push(warn(name, evicts.message, evicts.hint));
    if (isCluster(client)) out.push(...(await clusterChecks(name, client, prefix)));
    out.push(...(await bullmqVersions(name, client, prefix)));
    return out;
  } finally {
    await closeRedis(client);
    unmute();
  }
}

/**
 * A Redis Cluster: its masters, their slot ranges and replicas, and which operations each
 * one holds (one operation = one hash tag = one master; one with `shards` is on several).
 */
async function clusterChecks(name: string, client: import('ioredis').Cluster, prefix: string): Promise<Check[]> {
  const { clusterLayout, slotRanges } = await import('./backends/redis/cluster-info.js');
  const { RedisKeys } = await import('./backends/redis/keys.js');
  const { loadLayouts } = await import('./backends/redis/layouts.js');
  let masters: Awaited<ReturnType<typeof clusterLayout>>;
  try {
    const keys = new RedisKeys(prefix);
    await loadLayouts(client, keys);
    masters = await clusterLayout(client, keys);
  } catch (e) {
    return [warn(name, `could not read the cluster layout: ${reason(e)}`)];
  }
  const covered = masters.reduce((n, m) => n + m.slots.reduce((k, [a, b]) => k + b - a + 1, 0), 0);
  const out: Check[] = [
    covered === 16384
      ? ok(name, `Redis Cluster: ${masters.length} master(s) serve all 16384 slots`)
      : warn(name, `Redis Cluster: ${masters.length} master(s) serve ${covered} of 16384 slots`, 'some slots have no master: check CLUSTER INFO / redis-cli --cluster check'),
  ];
  const { failingNodes } = await import('./backends/redis/cluster-info.js');
  const down = await failingNodes(client).catch(() => []);
  const isDown = (address: string) => down.some((d) => d.address === address);
  for (const m of masters) {
    const ops = m.ops.length === 0 ? 'no operations' : `${m.ops.length} operation(s): ${m.ops.join(', ')}`;
    const line = `master ${m.address} slots ${slotRanges(m.slots)}, ${m.replicas} replica(s), ${ops}`;
    out.push(isDown(m.address) ? fail(name, `${line}: DOWN (the cluster marks it failing; its slots wait for a replica to take over)`, 'restart it, or check that its replica is promoted: redis-cli --cluster check') : ok(name, line));
  }
  for (const d of down) {
    if (!masters.some((m) => m.address === d.address)) out.push(warn(name, `${d.role} ${d.address} is down (${d.flags})`, 'restart it; a master without a live replica has no failover'));
  }
  return out;
}

/**
 * Which BullMQ version wrote each operation's queue (its meta `version`, read with BullMQ's
 * `Queue.getVersion()` without writing it), against the version this backache pins.
 */
async function bullmqVersions(name: string, client: import('./backends/redis/connection.js').RedisClient, prefix: string): Promise<Check[]> {
  const { queueVersions, RedisKeys } = await import('./backends/redis/index.js');
  const { loadLayouts } = await import('./backends/redis/layouts.js');
  let all: Awaited<ReturnType<typeof queueVersions>>;
  try {
    const keys = new RedisKeys(prefix);
    await loadLayouts(client, keys);
    all = await queueVersions(client, keys);
  } catch (e) {
    return [warn(name, `could not read the BullMQ version of the queues: ${reason(e)}`)];
  }
  if (all.length === 0) return [];
  const ours = all[0]!.ours;
  const other = all.filter((v) => v.written !== null && v.written !== ours);
  if (other.length === 0) return [ok(name, `the queues of ${all.length} operation(s) were written by ${ours}, the version this backache pins`)];
  const list = other.map((v) => `${v.op} (${v.written})`).join(', ');
  return [
    warn(
      name,
      `queues written by another BullMQ than the pinned ${ours}: ${list}`,
      'a producer or worker with another BullMQ version uses this prefix; run one backache version (one lockfile) everywhere, or give each its own --prefix',
    ),
  ];
}

async function checkMongoUrl(name: string, url: string, prefix: string): Promise<Check[]> {
  const mod = (await import('./backends/mongodb/index.js')) as { checkMongo?: (url: string, prefix: string) => Promise<{ reachable: boolean; version?: string; database?: string; collection: string; indexes: { missing: string[] }; error?: string; hint?: string }> };
  if (typeof mod.checkMongo !== 'function') return [warn(name, 'this build has no MongoDB check; opening it below is the test')];
  const r = await mod.checkMongo(url, prefix);
  if (!r.reachable) return [fail(name, maskText(r.error ?? 'unreachable'), r.hint)];
  const out = [ok(name, `reachable, MongoDB ${r.version ?? '?'}, collection ${r.database ?? '?'}.${r.collection}`)];
  if (r.indexes.missing.length) out.push(warn(name, `indexes missing: ${r.indexes.missing.join(', ')}`, r.hint));
  return out;
}
