import { MongoClient, type MongoClientOptions } from 'mongodb';
import { BackendUnavailableError } from '../../errors.js';
import type { CacheStore } from '../../ports.js';
import { maskText, maskUrl } from '../../url.js';
import { INDEXES, MongoCacheStore, type CacheDoc } from './cache.js';

export { MongoCacheStore, prefixEnd, docId } from './cache.js';

/** How long opening may take before MongoDB counts as unreachable. */
export const MONGO_CONNECT_TIMEOUT_MS = Number(process.env.BACKACHE_MONGO_CONNECT_TIMEOUT_MS) || 3000;

export class MongoAuthError extends BackendUnavailableError {
  static override code = 'E_BACKEND_AUTH';
}

export const collectionName = (prefix: string) => `${prefix}_cache`;

/** The database named in the URL path (`mongodb://host/DB?…`), else `backache` (not the driver's `test`). */
export function databaseOf(url: string) {
  const m = /^mongodb(?:\+srv)?:\/\/[^/?]*\/([^?#]*)/i.exec(url);
  const name = m?.[1] ? decodeURIComponent(m[1]) : '';
  return name || 'backache';
}

function clientOptions(timeoutMs: number): MongoClientOptions {
  return { serverSelectionTimeoutMS: timeoutMs, connectTimeoutMS: timeoutMs, appName: 'backache' };
}

/** A clear error naming the (masked) URL, never the password. */
export function mongoError(url: string, err: unknown): BackendUnavailableError {
  const masked = maskUrl(url);
  let msg = maskText(err instanceof Error ? err.message : String(err)).split(url).join(masked);
  const pw = /^[a-z+]+:\/\/[^:@/]*:([^@/]*)@/i.exec(url)?.[1];
  if (pw) for (const s of [pw, decodeURIComponent(pw)]) msg = msg.split(s).join('***');
  const code = (err as { code?: number })?.code;
  if (code === 18 || /Authentication failed|auth failed|SCRAM/i.test(msg)) {
    return new MongoAuthError(`mongodb at ${masked} refused the credentials: wrong user name or password`, {
      hint: 'check the user and password in the URL: mongodb://USER:PASSWORD@HOST:PORT/DB (and ?authSource=admin if the user lives there)',
      cause: err,
    });
  }
  return new BackendUnavailableError(`cannot connect to mongodb at ${masked}: ${msg}`, {
    hint: 'is mongod running, and are host, port and database right?',
    cause: err,
  });
}

async function connect(url: string, timeoutMs: number) {
  const client = new MongoClient(url, clientOptions(timeoutMs));
  try {
    await client.connect();
    await client.db(databaseOf(url)).command({ ping: 1 });
    return client;
  } catch (e) {
    await client.close().catch(() => {});
    throw mongoError(url, e);
  }
}

/**
 * The MongoDB cache (`cache: mongodb://…/db`): collection `<prefix>_cache` of the URL's
 * database (default `backache`), its indexes created on open. Needs MongoDB 4.2 or later
 * (update pipelines; index keys longer than 1 KB for long URIs). Fails fast with a `BackendUnavailableError`.
 */
export async function mongoCache(url: string, prefix: string, opts: { connectTimeoutMs?: number } = {}): Promise<CacheStore> {
  const client = await connect(url, opts.connectTimeoutMs ?? MONGO_CONNECT_TIMEOUT_MS);
  try {
    const coll = client.db(databaseOf(url)).collection<CacheDoc>(collectionName(prefix));
    await coll.createIndexes(INDEXES.map((i) => ({ ...i, key: { ...i.key } })));
    return new MongoCacheStore(coll, () => client.close());
  } catch (e) {
    await client.close().catch(() => {});
    throw e instanceof BackendUnavailableError ? e : mongoError(url, e);
  }
}

export interface MongoCheck {
  url: string;
  reachable: boolean;
  version?: string;
  database?: string;
  collection: string;
  /** Index names found on the collection, and the ones backache needs but did not find. */
  indexes: { present: string[]; missing: string[] };
  error?: string;
  hint?: string;
}

/**
 * For `backache doctor`: is MongoDB reachable, which server version, are the cache
 * indexes present (they are created when a backend first opens the cache). Never throws.
 */
export async function checkMongo(url: string, prefix = 'backache', opts: { connectTimeoutMs?: number } = {}): Promise<MongoCheck> {
  const collection = collectionName(prefix);
  const out: MongoCheck = { url: maskUrl(url), reachable: false, collection, indexes: { present: [], missing: INDEXES.map((i) => i.name) } };
  let client: MongoClient | undefined;
  try {
    client = await connect(url, opts.connectTimeoutMs ?? MONGO_CONNECT_TIMEOUT_MS);
    out.reachable = true;
    const db = client.db(databaseOf(url));
    out.database = db.databaseName;
    const info = await db.command({ buildInfo: 1 });
    out.version = String(info.version);
    try {
      const present = (await db.collection(collection).listIndexes().toArray()).map((i) => String(i.name));
      out.indexes = { present, missing: INDEXES.map((i) => i.name).filter((n) => !present.includes(n)) };
    } catch (e) {
      if ((e as { code?: number }).code !== 26) throw e; // 26 NamespaceNotFound: no collection yet
    }
    if (out.indexes.missing.length > 0) {
      out.hint = `indexes ${out.indexes.missing.join(', ')} of ${db.databaseName}.${collection} are missing; they are created when backache first opens the cache (the user needs the createIndex privilege)`;
    }
  } catch (e) {
    const err = e instanceof BackendUnavailableError ? e : mongoError(url, e);
    out.error = err.message;
    out.hint = err.hint;
  } finally {
    await client?.close().catch(() => {});
  }
  return out;
}
