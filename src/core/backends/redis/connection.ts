import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { BackendUnavailableError, ConfigError } from '../../errors.js';
import { maskText, maskUrl } from '../../url.js';
import { defineScripts } from './scripts.js';

/**
 * Redis connection URLs and connections.
 *
 *   redis://[user:pass@]host[:port][/db]
 *   rediss://[user:pass@]host[:port][/db]                  TLS
 *   redis+sentinel://[user:pass@]h1:26379,h2:26379/MASTER[/db][?sentinelPassword=…&sentinelUsername=…]
 *   redis+cluster://[user:pass@]h1:p1,h2:p2[,…][?tls=true]   Redis Cluster (startup nodes)
 *   rediss+cluster://[user:pass@]h1:p1,h2:p2[,…]             Redis Cluster over TLS
 *
 * User and password are percent-decoded. Opening fails fast (a few seconds) with a
 * `BackendUnavailableError` naming the URL with its password masked; once connected, a
 * connection reconnects by itself.
 */

/** How long opening may take before the backend counts as unreachable. */
export const CONNECT_TIMEOUT_MS = Number(process.env.BACKACHE_REDIS_CONNECT_TIMEOUT_MS) || 3000;

/** A connection of the Redis backend: one server (or Sentinel's master), or a Redis Cluster. */
export type RedisClient = Redis | Cluster;

export const isCluster = (c: RedisClient): c is Cluster => (c as Cluster).isCluster === true;

/** Whether a URL names a Redis Cluster (`redis+cluster://`, `rediss+cluster://`). */
export const isClusterUrl = (url: string) => /^rediss?\+cluster:/i.test(url);

/** The credentials were refused (or are missing). Exit code 3, like any unreachable backend. */
export class RedisAuthError extends BackendUnavailableError {
  static override code = 'E_BACKEND_AUTH';
}

const decode = (s: string | undefined) => {
  if (!s) return undefined;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
};

function hostPort(s: string, defaultPort: number, url: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(s);
  if (!m) throw new ConfigError(`redis URL "${maskUrl(url)}": bad host "${s}"`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: m[2] ? Number(m[2]) : defaultPort };
}

function dbOf(s: string | undefined, url: string) {
  if (s === undefined || s === '') return undefined;
  if (!/^\d+$/.test(s)) throw new ConfigError(`redis URL "${maskUrl(url)}": database "${s}" must be a number`);
  return Number(s);
}

function splitUrl(url: string) {
  const m = /^(redis|rediss|redis\+sentinel|redis\+cluster|rediss\+cluster):\/\/(?:([^@/]*)@)?([^/?#]*)(?:\/([^?#]*))?(?:\?([^#]*))?$/i.exec(url);
  if (!m) return undefined;
  const auth = m[2];
  let username: string | undefined;
  let password: string | undefined;
  if (auth !== undefined) {
    const i = auth.indexOf(':');
    username = decode(i < 0 ? auth : auth.slice(0, i));
    password = i < 0 ? undefined : decode(auth.slice(i + 1));
  }
  return { scheme: m[1]!.toLowerCase(), username, password, hosts: m[3] ?? '', path: m[4] ?? '', query: new URLSearchParams(m[5] ?? '') };
}

export interface ClusterUrl {
  /** Startup nodes: any reachable one tells the client the whole cluster. */
  nodes: { host: string; port: number }[];
  /** Options of every node connection (credentials, TLS). */
  redisOptions: RedisOptions;
}

/** Startup nodes and node options of a `redis+cluster://` / `rediss+cluster://` URL (no connection made). */
export function parseClusterUrl(url: string): ClusterUrl {
  const u = splitUrl(url);
  if (!u || !u.scheme.endsWith('+cluster')) {
    throw new ConfigError(`"${maskUrl(url)}" is not a redis cluster URL; expected redis+cluster://[user:password@]host:port,host2:port2[,…][?tls=true]`);
  }
  const nodes = u.hosts.split(',').filter((h) => h.trim() !== '').map((h) => hostPort(h.trim(), 6379, url));
  if (nodes.length === 0) throw new ConfigError(`redis URL "${maskUrl(url)}" has no host; list one or more cluster nodes: redis+cluster://host:port,host2:port2`);
  if (u.path !== '' && u.path !== '0') throw new ConfigError(`redis URL "${maskUrl(url)}": Redis Cluster has database 0 only (remove "/${u.path}")`);
  for (const k of u.query.keys()) if (k !== 'tls') throw new ConfigError(`redis URL "${maskUrl(url)}": unknown option "${k}" (a cluster URL takes ?tls=true)`);
  const tls = u.scheme === 'rediss+cluster' || u.query.get('tls') === 'true';
  const redisOptions: RedisOptions = {};
  if (u.username) redisOptions.username = u.username;
  if (u.password !== undefined && u.password !== '') redisOptions.password = u.password;
  if (tls) redisOptions.tls = {};
  return { nodes, redisOptions };
}

/** ioredis options for a URL (no connection made). */
export function parseRedisUrl(url: string): RedisOptions {
  if (isClusterUrl(url)) throw new ConfigError(`"${maskUrl(url)}" is a cluster URL: it has no single server (parseClusterUrl)`);
  const u = splitUrl(url);
  if (!u) throw new ConfigError(`"${maskUrl(url)}" is not a redis URL; expected redis://[user:password@]host:port[/db], rediss://… or redis+sentinel://host:26379,host2:26379/MASTER`);
  const { scheme, username, password, hosts, path, query } = u;
  const common: RedisOptions = {};
  if (username) common.username = username;
  if (password !== undefined && password !== '') common.password = password;

  if (scheme === 'redis+sentinel') {
    const [name, db] = path.split('/');
    if (!name) throw new ConfigError(`redis URL "${maskUrl(url)}": name the master, redis+sentinel://host:26379,host2:26379/MASTER`);
    const sentinels = hosts.split(',').filter(Boolean).map((h) => hostPort(h, 26379, url));
    if (sentinels.length === 0) throw new ConfigError(`redis URL "${maskUrl(url)}": no sentinel host`);
    return {
      ...common,
      sentinels,
      name: decode(name),
      db: dbOf(db, url),
      sentinelPassword: query.get('sentinelPassword') ?? undefined,
      sentinelUsername: query.get('sentinelUsername') ?? undefined,
      ...(query.get('tls') === 'true' ? { tls: {}, enableTLSForSentinelMode: true } : {}),
    };
  }
  if (!hosts) throw new ConfigError(`redis URL "${maskUrl(url)}" has no host`);
  const { host, port } = hostPort(hosts, 6379, url);
  return {
    ...common,
    host,
    port,
    db: dbOf(path.split('/')[0], url),
    ...(scheme === 'rediss' ? { tls: {} } : {}),
  };
}

const hostsOf = (o: RedisOptions) => `${o.host ?? '127.0.0.1'}:${o.port ?? 6379}`;

/** Reconnect forever once connected: 50 ms, 100 ms, … up to 2 s between tries. */
const reconnectDelay = (times: number) => Math.min(times * 50, 2000);

/** Turn a connection failure into a clear error naming the (masked) URL. */
export function connectError(url: string, err: unknown): BackendUnavailableError {
  const masked = maskUrl(url);
  const raw = err instanceof Error ? err.message : String(err);
  let msg = maskText(raw).split(url).join(masked);
  try {
    const { password, sentinelPassword } = isClusterUrl(url) ? { password: parseClusterUrl(url).redisOptions.password, sentinelPassword: undefined } : parseRedisUrl(url);
    for (const secret of [password, sentinelPassword]) if (secret) msg = msg.split(String(secret)).join('***');
  } catch {
    /* a bad URL has no password to hide */
  }
  const code = (err as { code?: string })?.code;
  if (/WRONGPASS|invalid password|invalid username-password/i.test(msg)) {
    return new RedisAuthError(`redis at ${masked} refused the credentials: wrong user name or password (${msg.split(' ')[0]})`, {
      hint: 'check the user and password in the URL: redis://USER:PASSWORD@HOST:PORT',
      cause: err,
    });
  }
  if (/NOAUTH|Authentication required/i.test(msg)) {
    return new RedisAuthError(`redis at ${masked} requires a password (NOAUTH)`, {
      hint: 'put the credentials in the URL: redis://USER:PASSWORD@HOST:PORT (or redis://:PASSWORD@HOST:PORT)',
      cause: err,
    });
  }
  if (/NOPERM/i.test(msg)) {
    return new RedisAuthError(`redis at ${masked}: the user lacks permissions (${msg})`, {
      hint: 'grant the ACL user access to the keys and commands (e.g. ~* &* +@all)',
      cause: err,
    });
  }
  const reason = code && !msg.includes(code) ? `${code} ${msg}` : msg;
  if (/certificate|SSL|TLS/i.test(reason)) {
    return new BackendUnavailableError(`cannot connect to redis at ${masked}: ${reason}`, {
      hint: 'the TLS handshake failed: for a private CA, start with NODE_EXTRA_CA_CERTS=/path/to/ca.pem; rediss:// needs a TLS port',
      cause: err,
    });
  }
  if (isClusterUrl(url) && /refresh slots cache|CLUSTERDOWN|cluster support disabled|no cluster node answered/i.test(reason)) {
    return new BackendUnavailableError(`cannot connect to the redis cluster at ${masked}: ${reason}`, {
      hint: 'are the nodes up and in cluster mode (cluster-enabled yes), with every slot served (redis-cli -p PORT cluster info: cluster_state:ok)? For one server use redis://',
      cause: err,
    });
  }
  const tls = /^rediss:/i.test(url);
  return new BackendUnavailableError(`cannot connect to redis at ${masked}: ${reason || 'connection failed'}`, {
    hint: tls ? 'is redis-server running with TLS on that port (rediss:// needs a TLS port; redis:// is plain)?' : 'is redis-server running, and are host and port right?',
    cause: err,
  });
}

export interface OpenOptions {
  /** Worker connections (BullMQ Worker): commands wait for a reconnect instead of failing. */
  blocking?: boolean;
  connectTimeoutMs?: number;
  /** Called with errors after opening (the connection retries by itself). */
  onError?: (err: Error) => void;
}

/**
 * Open a connection and wait until it is ready, failing fast with a clear error. The
 * backache Lua scripts are registered on it.
 */
export async function openRedis(url: string, opts: OpenOptions = {}): Promise<RedisClient> {
  if (isClusterUrl(url)) return openCluster(url, opts);
  const base = parseRedisUrl(url);
  const timeout = opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
  let opened = false;
  let lastError: Error | undefined;
  const client = new Redis({
    ...base,
    lazyConnect: true,
    connectTimeout: timeout,
    // Commands wait for a reconnect this many times (about half a minute) before failing;
    // worker connections wait for ever (BullMQ requires it).
    maxRetriesPerRequest: opts.blocking ? null : 20,
    retryStrategy: (times) => (opened ? reconnectDelay(times) : null),
    sentinelRetryStrategy: (times) => (opened ? reconnectDelay(times) : null),
    // Commands issued while reconnecting wait in the offline queue and are sent on reconnect.
    enableOfflineQueue: true,
  });
  client.on('error', (e: Error) => {
    lastError = e;
    if (opened) opts.onError?.(e);
  });
  await connectWithin(client, url, timeout, 'no answer', () => lastError, /Connection is closed|no answer within/);
  if (!base.sentinels && /cluster_enabled:1/.test(await client.info('cluster').catch(() => ''))) {
    client.disconnect();
    throw new ConfigError(`${maskUrl(url)} is a node of a Redis Cluster: use redis+cluster://${hostsOf(base)} (list one or more nodes) so that keys reach the master that holds them`);
  }
  opened = true;
  defineScripts(client);
  return client;
}

/**
 * Connect and ping within `timeout`, or disconnect and throw a clear error naming the
 * masked URL. When the failure is only "closed" or the timeout, the connection's last
 * error event says why (refused, NOAUTH, TLS), so that is what is reported.
 */
async function connectWithin(client: RedisClient, url: string, timeout: number, silence: string, lastError: () => Error | undefined, vague: RegExp) {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.connect(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(Object.assign(new Error(`${silence} within ${timeout} ms`), { code: 'ETIMEDOUT' })), timeout + 500);
      }),
    ]);
    // A server with requirepass accepts the connection but answers NOAUTH to the first command.
    await client.ping();
  } catch (e) {
    client.disconnect();
    const last = lastError();
    const cause = last && (vague.test((e as Error)?.message ?? '') || !(e instanceof Error)) ? last : e;
    throw connectError(url, cause);
  } finally {
    clearTimeout(timer);
  }
}

/** ioredis Cluster options (startup nodes apart): node connections and the cluster's own retries. */
function clusterOptions(url: string, timeout: number, blocking: boolean, retry: (times: number) => number | null): ClusterOptions {
  const { redisOptions } = parseClusterUrl(url);
  return {
    redisOptions: {
      ...redisOptions,
      connectTimeout: timeout,
      // As for one server: commands wait through reconnects; worker connections for ever.
      maxRetriesPerRequest: blocking ? null : 20,
    },
    clusterRetryStrategy: retry,
    enableOfflineQueue: true,
    slotsRefreshTimeout: Math.max(1000, timeout),
    // A master that dies is replaced by its replica within a few node timeouts: commands
    // sent meanwhile are retried (every 200 ms, up to 100 times: about 20 s) on the new map.
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    retryDelayOnTryAgain: 200,
    maxRedirections: 100,
  };
}

async function openCluster(url: string, opts: OpenOptions): Promise<Cluster> {
  const { nodes } = parseClusterUrl(url);
  const timeout = opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
  let opened = false;
  let lastError: Error | undefined;
  const client = new Cluster(nodes, { ...clusterOptions(url, timeout, !!opts.blocking, (times) => (opened ? reconnectDelay(times) : null)), lazyConnect: true });
  const onError = (e: Error) => {
    lastError = e;
    if (opened) opts.onError?.(e);
  };
  client.on('error', onError);
  client.on('node error', onError);
  await connectWithin(client, url, timeout, 'no cluster node answered', () => lastError, /Connection is closed|no cluster node answered|None of startup nodes|Failed to refresh slots/);
  opened = true;
  defineScripts(client);
  return client;
}

/** A new connection for one BullMQ Worker: reconnecting for ever, commands waiting (maxRetriesPerRequest null). */
export function workerConnection(url: string): RedisClient {
  if (isClusterUrl(url)) return new Cluster(parseClusterUrl(url).nodes, clusterOptions(url, CONNECT_TIMEOUT_MS, true, reconnectDelay));
  return new Redis(workerConnectionOptions(url));
}

/**
 * The masters of a connection (the connection itself for one server), for commands that
 * address one server, not a key: SCAN, DBSIZE, INFO.
 */
export function masters(client: RedisClient): Redis[] {
  return isCluster(client) ? client.nodes('master') : [client];
}

/** ioredis options for a BullMQ worker connection (created by BullMQ, reconnecting for ever). */
export function workerConnectionOptions(url: string): RedisOptions {
  return {
    ...parseRedisUrl(url),
    maxRetriesPerRequest: null,
    connectTimeout: CONNECT_TIMEOUT_MS,
    retryStrategy: reconnectDelay,
    sentinelRetryStrategy: reconnectDelay,
  };
}

/** Close a connection politely (QUIT), or drop it when the server is gone. */
export async function closeRedis(client: RedisClient) {
  if (client.status === 'end') return;
  if (client.status === 'wait') return void client.disconnect(); // lazy, never connected: nothing to quit
  try {
    await Promise.race([client.quit(), new Promise((r) => setTimeout(r, 1000).unref())]);
  } catch {
    /* already closed */
  }
  client.disconnect();
}

/**
 * A second connection for cache reads: no scripts defined on it (ioredis copies every
 * defined script into each pipeline it makes). On a single server the cache merges the
 * reads of one tick itself (read-batcher.ts). Never auto-pipelined: on a cluster, ioredis's
 * auto-pipelines group commands by node, and after a failover a pipeline of two slots that
 * both answer MOVED is neither retried nor followed by a slot refresh (redis/ioredis#2075),
 * so every later read would fail. It connects lazily, on the first read; commands wait for it.
 */
export function readerConnection(client: RedisClient): RedisClient {
  const reader = isCluster(client) ? client.duplicate([], { lazyConnect: true }) : client.duplicate({ lazyConnect: true });
  reader.on('error', () => {}); // reconnects by itself; callers see failed commands
  return reader;
}
