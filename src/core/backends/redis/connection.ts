import { Redis, type RedisOptions } from 'ioredis';
import { BackendUnavailableError, ConfigError } from '../../errors.js';
import { maskText, maskUrl } from '../../url.js';
import { defineScripts } from './scripts.js';

/**
 * Redis connection URLs and connections.
 *
 *   redis://[user:pass@]host[:port][/db]
 *   rediss://[user:pass@]host[:port][/db]                  TLS
 *   redis+sentinel://[user:pass@]h1:26379,h2:26379/MASTER[/db][?sentinelPassword=…&sentinelUsername=…]
 *
 * User and password are percent-decoded. Opening fails fast (a few seconds) with a
 * `BackendUnavailableError` naming the URL with its password masked; once connected, a
 * connection reconnects by itself.
 */

/** How long opening may take before the backend counts as unreachable. */
export const CONNECT_TIMEOUT_MS = Number(process.env.BACKACHE_REDIS_CONNECT_TIMEOUT_MS) || 3000;

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

/** ioredis options for a URL (no connection made). */
export function parseRedisUrl(url: string): RedisOptions {
  const m = /^(redis|rediss|redis\+sentinel):\/\/(?:([^@/]*)@)?([^/?#]*)(?:\/([^?#]*))?(?:\?([^#]*))?$/i.exec(url);
  if (!m) throw new ConfigError(`"${maskUrl(url)}" is not a redis URL; expected redis://[user:password@]host:port[/db], rediss://… or redis+sentinel://host:26379,host2:26379/MASTER`);
  const scheme = m[1]!.toLowerCase();
  const auth = m[2];
  const hosts = m[3] ?? '';
  const path = m[4] ?? '';
  const query = new URLSearchParams(m[5] ?? '');
  let username: string | undefined;
  let password: string | undefined;
  if (auth !== undefined) {
    const i = auth.indexOf(':');
    username = decode(i < 0 ? auth : auth.slice(0, i));
    password = i < 0 ? undefined : decode(auth.slice(i + 1));
  }
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

/** Reconnect forever once connected: 50 ms, 100 ms, … up to 2 s between tries. */
const reconnectDelay = (times: number) => Math.min(times * 50, 2000);

/** Turn a connection failure into a clear error naming the (masked) URL. */
export function connectError(url: string, err: unknown): BackendUnavailableError {
  const masked = maskUrl(url);
  const raw = err instanceof Error ? err.message : String(err);
  let msg = maskText(raw).split(url).join(masked);
  try {
    const { password, sentinelPassword } = parseRedisUrl(url);
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
export async function openRedis(url: string, opts: OpenOptions = {}): Promise<Redis> {
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
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.connect(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(Object.assign(new Error(`no answer within ${timeout} ms`), { code: 'ETIMEDOUT' })), timeout + 500);
      }),
    ]);
    // A server with requirepass accepts the connection but answers NOAUTH to the first command.
    await client.ping();
  } catch (e) {
    client.disconnect();
    const cause = lastError && (/Connection is closed|no answer within/.test((e as Error)?.message ?? '') || !(e instanceof Error)) ? lastError : e;
    throw connectError(url, cause);
  } finally {
    clearTimeout(timer);
  }
  opened = true;
  defineScripts(client);
  return client;
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
export async function closeRedis(client: Redis) {
  if (client.status === 'end') return;
  try {
    await Promise.race([client.quit(), new Promise((r) => setTimeout(r, 1000).unref())]);
  } catch {
    /* already closed */
  }
  client.disconnect();
}
