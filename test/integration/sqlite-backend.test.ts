/**
 * What is particular to the SQLite backend, beyond the shared conformance suites: opening
 * (paths, errors, pragmas, schema migration), one shared connection per file, deployments
 * isolated by prefix, batching paths, silent and resent pending requests, the worker steps'
 * delivery records, hand-backs, and trimming of finished jobs.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { openBackend } from '../../src/core/backends/index.js';
import { acquireHandle, releaseHandle } from '../../src/core/backends/sqlite/db.js';
import { SCHEMA_VERSION } from '../../src/core/backends/sqlite/schema.js';
import { prefixEnd, sqliteBackend, sqliteCacheStore, sqlitePath, SqliteJobQueue } from '../../src/core/backends/sqlite/index.js';
import { BackendUnavailableError } from '../../src/core/errors.js';
import type { ClaimedJob, StoredEntry } from '../../src/core/ports.js';
import { sleep, waitUntil } from '../helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'backache-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = () => join(dir, `${randomUUID()}.db`);
const entry = (value: unknown, over: Partial<StoredEntry> = {}): StoredEntry => ({ value, createdAt: Date.now(), expiresAt: null, staleUntil: null, ...over });
/** A completed outcome; its delivery id tells which run recorded it. */
const done = (deliveryId = 'd', cbArgs: unknown[] = []) => ({ type: 'completed' as const, result: { cbArgs, deliveryId } });

async function collect(it: AsyncIterable<string>) {
  const out: string[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('sqlite: opening', () => {
  it('reads the path from the URL, relative to the working directory, with a default', () => {
    expect(sqlitePath('sqlite:')).toBe(resolve('.backache/backache.db'));
    expect(sqlitePath('sqlite:data/x.db')).toBe(resolve('data/x.db'));
    expect(sqlitePath('sqlite:/abs/x.db')).toBe('/abs/x.db');
    expect(sqlitePath('sqlite:///abs/x.db')).toBe('/abs/x.db');
    expect(sqlitePath('SQLITE:x.db')).toBe(resolve('x.db'));
    expect(sqlitePath('sqlite::memory:')).toBe(':memory:');
  });

  it('creates parent directories, and uses WAL with synchronous=NORMAL', async () => {
    const path = join(dir, 'deep', 'er', 'x.db');
    const b = await sqliteBackend(`sqlite:${path}`, 'p');
    expect(existsSync(path)).toBe(true);
    const raw = new Database(path, { readonly: true });
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    raw.close();
    await b.close();
  });

  it('throws BackendUnavailableError naming the path when the file cannot be opened', async () => {
    const notADir = join(dir, 'plain-file');
    writeFileSync(notADir, 'x');
    const garbage = join(dir, 'garbage.db');
    writeFileSync(garbage, 'this is not a database, not at all, and it is long enough to have a header'.repeat(20));
    const aDir = join(dir, 'a-directory');
    mkdirSync(aDir);
    for (const path of [join(notADir, 'x.db'), garbage, aDir]) {
      const err = await openBackend({ broker: `sqlite:${path}` }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(BackendUnavailableError);
      expect((err as BackendUnavailableError).message).toContain(path);
      expect((err as BackendUnavailableError).code).toBe('E_BACKEND_UNAVAILABLE');
      expect((err as BackendUnavailableError).exitCode).toBe(3);
    }
  });

  it('migrates pending requests from schema 1', async () => {
    const path = file();
    const raw = new Database(path);
    raw.exec(`
      CREATE TABLE pending (prefix TEXT NOT NULL, ns TEXT NOT NULL, id TEXT NOT NULL, job_id TEXT NOT NULL, PRIMARY KEY (prefix, ns, id));
      CREATE TABLE pending_args (seq INTEGER PRIMARY KEY, prefix TEXT NOT NULL, ns TEXT NOT NULL, id TEXT NOT NULL, cb_args TEXT NOT NULL);
      CREATE INDEX pending_args_pair ON pending_args (prefix, ns, id);
      INSERT INTO pending VALUES ('p', 'op', 'a', 'j1'), ('p', 'op', 'b', 'j2');
      INSERT INTO pending_args (prefix, ns, id, cb_args) VALUES ('p', 'op', 'a', '1'), ('p', 'op', 'b', '"x"'), ('p', 'op', 'a', '2'), ('p', 'op', 'a', '3');
      PRAGMA user_version = 1;`);
    raw.close();
    const b = await sqliteBackend(`sqlite:${path}`, 'p');
    expect(await b.pending.jobIdOf({ ns: 'op', id: 'a' })).toBe('j1');
    expect(await b.pending.count('op')).toBe(2);
    expect(await b.pending.addMany([{ key: { ns: 'op', id: 'a' }, cbArgs: 4, jobId: 'new' }])).toEqual([{ first: false, jobId: 'j1' }]);
    expect(await b.pending.takeAll({ ns: 'op', id: 'a' })).toEqual([1, 2, 3, 4]);
    expect(await b.pending.takeAll({ ns: 'op', id: 'b' })).toEqual(['x']);
    await b.close();
  });

  it('migrates a schema 2 file, keeping its jobs, pending requests and entries', async () => {
    const path = file();
    const raw = new Database(path);
    const past = Date.now() - 60_000;
    const data = (uri: string) => JSON.stringify({ op: 'op', uri, kwargs: {} });
    // The tables of schema 2 that changed or hold what must survive, as schema 2 wrote them.
    raw.exec(`
      CREATE TABLE cache (prefix TEXT NOT NULL, ns TEXT NOT NULL, id TEXT NOT NULL, value TEXT, created_at INTEGER NOT NULL,
        expires_at INTEGER, stale_until INTEGER, uri TEXT, PRIMARY KEY (prefix, ns, id));
      CREATE TABLE pending (prefix TEXT NOT NULL, ns TEXT NOT NULL, id TEXT NOT NULL, job_id TEXT NOT NULL,
        n INTEGER NOT NULL, cb_args TEXT NOT NULL, PRIMARY KEY (prefix, ns, id)) WITHOUT ROWID;
      CREATE TABLE pending_args (prefix TEXT NOT NULL, ns TEXT NOT NULL, id TEXT NOT NULL, n INTEGER NOT NULL,
        cb_args TEXT NOT NULL, PRIMARY KEY (prefix, ns, id, n)) WITHOUT ROWID;
      CREATE TABLE jobs (seq INTEGER PRIMARY KEY, prefix TEXT NOT NULL, id TEXT NOT NULL, op TEXT NOT NULL, state INTEGER NOT NULL,
        priority INTEGER NOT NULL, run_at INTEGER NOT NULL, attempt INTEGER NOT NULL, created_at INTEGER NOT NULL, data TEXT NOT NULL,
        owner TEXT, lease_until INTEGER, outcome TEXT, finished_at INTEGER, UNIQUE (prefix, id));
      CREATE INDEX jobs_waiting ON jobs (prefix, op, priority, run_at) WHERE state = 0;
      PRAGMA user_version = 2;`);
    raw.prepare('INSERT INTO cache VALUES (?, ?, ?, ?, ?, NULL, NULL, NULL)').run('p', 'op', 'u0', '"kept"', past);
    raw.prepare('INSERT INTO pending VALUES (?, ?, ?, ?, ?, ?)').run('p', 'op', 'u1', 'w', 2, '1');
    raw.prepare('INSERT INTO pending_args VALUES (?, ?, ?, ?, ?)').run('p', 'op', 'u1', 2, '2');
    const job = raw.prepare('INSERT INTO jobs (prefix, id, op, state, priority, run_at, attempt, created_at, data, owner, lease_until, outcome, finished_at) VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?)');
    job.run('p', 'w', 'op', 0, past, 1, past, data('u1'), null, null, null, null);
    job.run('p', 'a', 'op', 2, past, 1, past, data('u2'), 'dead', past, null, null); // its worker died
    job.run('p', 'c', 'op', 3, past, 1, past, data('u3'), null, null, JSON.stringify({ state: 'completed', result: { cbArgs: [] } }), past);
    raw.close();

    const b = await sqliteBackend(`sqlite:${path}`, 'p');
    const check = new Database(path, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect((check.pragma('table_info(jobs)') as { name: string }[]).map((c) => c.name)).toContain('stalls');
    check.close();
    expect((await b.cache.getMany([{ ns: 'op', id: 'u0' }]))[0]?.value).toBe('kept');
    expect(await b.queue.counts('op')).toMatchObject({ waiting: 1, active: 1 });
    expect(await b.queue.getState('c')).toEqual({ state: 'completed', result: { cbArgs: [] }, op: 'op', uri: 'u3' });
    const claimed = await (b.queue as SqliteJobQueue).claim('op', 10, 5000, 'me');
    expect(claimed.map((j) => [j.id, j.attempt, j.stalls])).toEqual([
      ['a', 2, 1],
      ['w', 1, 0],
    ]);
    // The pair keeps its requests, and takes silent ones (pending.cb_args is nullable now).
    expect(await b.pending.addMany([{ key: { ns: 'op', id: 'u1' }, cbArgs: 3, jobId: 'r3' }])).toEqual([{ first: false, jobId: 'w' }]);
    expect(await b.pending.takeAll({ ns: 'op', id: 'u1' })).toEqual([1, 2, 3]);
    expect(await b.pending.addMany([{ key: { ns: 'op', id: 'u4' }, cbArgs: 'x', jobId: 'r4', silent: true }])).toEqual([{ first: true, jobId: 'r4' }]);
    expect(await b.pending.takeAll({ ns: 'op', id: 'u4' })).toEqual([]);
    await b.close();
  });
});

describe('sqlite: one connection per file, deployments by prefix', () => {
  it('keeps prefixes apart in every store', async () => {
    const path = file();
    const [a, b] = await Promise.all([sqliteBackend(`sqlite:${path}`, 'a'), sqliteBackend(`sqlite:${path}`, 'b')]);
    const key = { ns: 'op', id: 'u' };
    await a.cache.setMany([{ key, entry: entry('A') }]);
    await a.queue.addMany([{ id: 'j', data: { op: 'op', uri: 'u', kwargs: {} } }]);
    await a.pending.addMany([{ key, cbArgs: 1, jobId: 'j' }]);
    await a.quarantine.put({ id: 'q', op: 'op', uri: 'u', cbArgs: [], kwargs: {}, error: { name: 'E', message: 'm' }, attempts: 1, firstFailedAt: 1, lastFailedAt: 1 });
    await a.registry.incr({ op: { hits: 1 } });
    await a.queue.pause('op');
    expect(await a.locker.acquire(key, 5000)).toBeTruthy();

    expect(await b.cache.getMany([key])).toEqual([undefined]);
    expect(await b.cache.namespaces()).toEqual([]);
    expect(await b.queue.counts('op')).toEqual({ waiting: 0, active: 0, delayed: 0, paused: false });
    expect(await b.queue.getState('j')).toEqual({ state: 'unknown' });
    expect(await b.pending.addMany([{ key, cbArgs: 2, jobId: 'k' }])).toEqual([{ first: true, jobId: 'k' }]);
    expect(await b.quarantine.get('q')).toBeUndefined();
    expect(await b.registry.counters()).toEqual({});
    expect(await b.locker.acquire(key, 5000)).toBeTruthy();

    await b.cache.clear();
    await b.queue.clear();
    expect(await a.cache.getMany([key]).then((r) => r[0]?.value)).toBe('A');
    expect((await a.queue.counts('op')).waiting).toBe(1);
    await a.close();
    await b.close();
  });

  it('shares one connection and closes it with the last store', async () => {
    const path = file();
    const a = await sqliteBackend(`sqlite:${path}`, 'a');
    const b = await sqliteBackend(`sqlite:${path}`, 'b');
    const cache = await sqliteCacheStore(`sqlite:${path}`, 'c');
    await a.close();
    await a.close(); // twice is harmless
    await b.cache.setMany([{ key: { ns: 'n', id: 'i' }, entry: entry(1) }]);
    expect((await b.cache.getMany([{ ns: 'n', id: 'i' }]))[0]?.value).toBe(1);
    await b.close();
    await cache.setMany([{ key: { ns: 'n', id: 'i' }, entry: entry(2) }]);
    expect(existsSync(`${path}-wal`)).toBe(true);
    await cache.close();
    // The last connection to a WAL database checkpoints and removes the -wal file.
    expect(existsSync(`${path}-wal`)).toBe(false);
    const again = await sqliteBackend(`sqlite:${path}`, 'c');
    expect((await again.cache.getMany([{ ns: 'n', id: 'i' }]))[0]?.value).toBe(2);
    await again.close();
  });
});

describe('sqlite: group commit', () => {
  it('writes queued in one turn commit together; one failing fails alone', async () => {
    const h = acquireHandle(file());
    h.db.exec('CREATE TABLE t (k TEXT PRIMARY KEY)');
    const ins = (k: string) => () => h.stmt('INSERT INTO t (k) VALUES (?)').run(k).changes;
    const results = await Promise.allSettled([
      h.writeSoon(ins('a')),
      h.writeSoon(ins('b')),
      h.writeSoon(ins('a')), // a unique constraint violation, in the same group
      h.writeSoon(() => {
        throw new Error('boom');
      }),
      h.writeSoon(ins('c')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'rejected', 'fulfilled']);
    expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ code: 'SQLITE_CONSTRAINT_PRIMARYKEY' });
    expect(h.db.prepare('SELECT k FROM t ORDER BY k').pluck().all()).toEqual(['a', 'b', 'c']);
    releaseHandle(h);
  });

  it('flushes queued writes before the connection closes', async () => {
    const path = file();
    const b = await sqliteBackend(`sqlite:${path}`, 'p');
    const pending = b.cache.setMany([{ key: { ns: 'n', id: 'i' }, entry: entry('kept') }]);
    await b.close();
    await pending;
    const again = await sqliteBackend(`sqlite:${path}`, 'p');
    expect((await again.cache.getMany([{ ns: 'n', id: 'i' }]))[0]?.value).toBe('kept');
    await again.close();
  });
});

describe('sqlite: batches', () => {
  it('pending: a batch mixing pending pairs, new pairs and duplicates numbers every request in order', async () => {
    const b = await sqliteBackend(`sqlite:${file()}`, 'p');
    const k1 = { ns: 'op', id: 'one' };
    const k2 = { ns: 'op', id: 'two' };
    const k3 = { ns: 'other', id: 'one' };
    await b.pending.addMany([{ key: k1, cbArgs: 'a', jobId: 'j1' }]);
    const res = await b.pending.addMany([
      { key: k1, cbArgs: 'b', jobId: 'x1' },
      { key: k2, cbArgs: 'c', jobId: 'j2' },
      { key: k1, cbArgs: 'd', jobId: 'x2' },
      { key: k2, cbArgs: 'e', jobId: 'x3' },
      { key: k3, cbArgs: { f: [1] }, jobId: 'j3' },
    ]);
    expect(res).toEqual([
      { first: false, jobId: 'j1' },
      { first: true, jobId: 'j2' },
      { first: false, jobId: 'j1' },
      { first: false, jobId: 'j2' },
      { first: true, jobId: 'j3' },
    ]);
    await b.pending.addMany([{ key: k1, cbArgs: 'g', jobId: 'x4' }]);
    expect(await b.pending.takeAll(k1)).toEqual(['a', 'b', 'd', 'g']);
    expect(await b.pending.takeAll(k2)).toEqual(['c', 'e']);
    expect(await b.pending.takeAll(k3)).toEqual([{ f: [1] }]);
    expect(await b.pending.count('op')).toBe(0);
    await b.close();
  });

  it('pending: silent requests join or create a pair without cbArgs', async () => {
    const b = await sqliteBackend(`sqlite:${file()}`, 'p');
    const k1 = { ns: 'op', id: 'one' };
    const k2 = { ns: 'op', id: 'two' };
    const res = await b.pending.addMany([
      { key: k1, cbArgs: 'warm', jobId: 's1', silent: true },
      { key: k1, cbArgs: 'a', jobId: 'r1' },
      { key: k2, cbArgs: 'b', jobId: 'r2' },
      { key: k2, cbArgs: 'warm', jobId: 's2', silent: true },
    ]);
    expect(res).toEqual([
      { first: true, jobId: 's1' },
      { first: false, jobId: 's1' },
      { first: true, jobId: 'r2' },
      { first: false, jobId: 'r2' },
    ]);
    // Joining pending pairs (the upsert path), silent and not.
    await b.pending.addMany([
      { key: k1, cbArgs: 'warm', jobId: 's3', silent: true },
      { key: k1, cbArgs: 'c', jobId: 'r3' },
      { key: k2, cbArgs: 'd', jobId: 'r4' },
    ]);
    expect(await b.pending.takeAll(k1)).toEqual(['a', 'c']);
    expect(await b.pending.takeAll(k2)).toEqual(['b', 'd']);
    await b.pending.addMany([{ key: k1, cbArgs: null, jobId: 's4', silent: true }]);
    expect(await b.pending.jobIdOf(k1)).toBe('s4');
    expect(await b.pending.takeAll(k1)).toEqual([]);
    await b.close();
  });

  it('pending: a request added twice (same request id) answers the same and adds its cbArgs once', async () => {
    const b = await sqliteBackend(`sqlite:${file()}`, 'p');
    const k = { ns: 'op', id: 'u' };
    const first = { key: k, cbArgs: 'a', jobId: 'r1' };
    const joiner = { key: k, cbArgs: 'b', jobId: 'r2' };
    expect(await b.pending.addMany([first, first])).toEqual([
      { first: true, jobId: 'r1' },
      { first: true, jobId: 'r1' },
    ]);
    expect(await b.pending.addMany([first])).toEqual([{ first: true, jobId: 'r1' }]);
    expect(await b.pending.addMany([joiner, first, joiner])).toEqual([
      { first: false, jobId: 'r1' },
      { first: true, jobId: 'r1' },
      { first: false, jobId: 'r1' },
    ]);
    expect(await b.pending.addMany([joiner, { key: k, cbArgs: 'c', jobId: 'r3' }])).toEqual([
      { first: false, jobId: 'r1' },
      { first: false, jobId: 'r1' },
    ]);
    expect(await b.pending.takeAll(k)).toEqual(['a', 'b', 'c']);
    // Taken: the same request again is a new one (its job has run).
    expect(await b.pending.addMany([joiner])).toEqual([{ first: true, jobId: 'r2' }]);
    expect(await b.pending.takeAll(k)).toEqual(['b']);
    await b.close();
  });

  it('pending: 1,000 new pairs in one batch are all first', async () => {

    const b = await sqliteBackend(`sqlite:${file()}`, 'p');
    const res = await b.pending.addMany(Array.from({ length: 1000 }, (_, i) => ({ key: { ns: 'op', id: `u${i}` }, cbArgs: i, jobId: `j${i}` })));
    expect(res.every((r, i) => r.first && r.jobId === `j${i}`)).toBe(true);
    expect(await b.pending.count('op')).toBe(1000);
    expect(await b.pending.takeAll({ ns: 'op', id: 'u999' })).toEqual([999]);
    await b.close();
  });

  it('queue: a large batch keeps its order, and duplicates inside it are added once', async () => {
    const b = await sqliteBackend(`sqlite:${file()}`, 'p');
    const q = b.queue as SqliteJobQueue;
    const ids = Array.from({ length: 1001 }, (_, i) => `j${i}`);
    await q.addMany([...ids, 'j5', 'j500'].map((id) => ({ id, data: { op: 'op', uri: id, kwargs: {} } })));
    expect((await q.counts('op')).waiting).toBe(1001);
    const claimed = await q.claim('op', 2000, 5000, 'me');
    expect(claimed.map((j) => j.id)).toEqual(ids);
    expect((await q.counts('op')).active).toBe(1001);
    await b.close();
  });

  it('cache: a large batch with a key set twice keeps the last', async () => {
    const b = await sqliteBackend(`sqlite:${file()}`, 'p');
    const items = Array.from({ length: 700 }, (_, i) => ({ key: { ns: 'n', id: `k${i}` }, entry: entry(i) }));
    await b.cache.setMany([...items, { key: { ns: 'n', id: 'k3' }, entry: entry('last') }]);
    expect(await b.cache.count('n')).toBe(700);
    const got = await b.cache.getMany([{ ns: 'n', id: 'k3' }, { ns: 'n', id: 'k699' }]);
    expect(got.map((e) => e?.value)).toEqual(['last', 699]);
    await b.close();
  });
});

describe('sqlite: cache', () => {
  it('deletes entries found past their grace period', async () => {
    const b = await sqliteBackend(`sqlite:${file()}`, 'p');
    const now = Date.now();
    await b.cache.setMany([
      { key: { ns: 'n', id: 'gone' }, entry: entry(1, { expiresAt: now - 20, staleUntil: now - 10 }) },
      { key: { ns: 'n', id: 'kept' }, entry: entry(2) },
    ]);
    expect(await b.cache.count('n')).toBe(2);
    expect((await b.cache.getMany([{ ns: 'n', id: 'gone' }]))[0]).toBeUndefined();
    await waitUntil(async () => (await b.cache.count('n')) === 1, 'the lazy delete');
    expect(await collect(b.cache.scan('n', ''))).toEqual(['kept']);
    await b.close();
  });

  it('scans by prefix through the index at the edges of unicode', async () => {
    expect(prefixEnd('')).toBeNull();
    expect(prefixEnd('ab')).toBe('ac');
    expect(prefixEnd('a\u{10FFFF}')).toBe('b');
    expect(prefixEnd('\u{10FFFF}')).toBeNull();
    expect(prefixEnd('x\uD7FF')).toBe('x\uE000');
    expect(prefixEnd('x\u{1F600}')).toBe('x\u{1F601}');
    const b = await sqliteBackend(`sqlite:${file()}`, 'p');
    const ids = ['a\u{10FFFF}', 'a\u{10FFFF}x', 'a\uFFFF', 'b', 'a', 'a\u{10FFFF}\u{10FFFF}', 'é/1', 'é/2', 'é0'];
    await b.cache.setMany(ids.map((id) => ({ key: { ns: 'n', id }, entry: entry(id) })));
    expect(await collect(b.cache.scan('n', 'a\u{10FFFF}'))).toEqual(['a\u{10FFFF}', 'a\u{10FFFF}x', 'a\u{10FFFF}\u{10FFFF}']);
    expect(await collect(b.cache.scan('n', '\u{10FFFF}'))).toEqual([]);
    expect(await collect(b.cache.scan('n', 'é/', { batchSize: 1 }))).toEqual(['é/1', 'é/2']);
    await b.close();
  });
});

describe('sqlite: worker steps', () => {
  const key = { ns: 'op', id: 'u' };
  const item = (id: string) => ({ id, op: 'op', uri: 'u', cbArgs: [], kwargs: {}, error: { name: 'E', message: 'm' }, attempts: 1, firstFailedAt: 1, lastFailedAt: 1 });

  it('begin locks, finish stores and moves the pending cbArgs into a record, which a second run finds', async () => {
    const b = await sqliteBackend(`sqlite:${file()}`, 'p');
    await b.pending.addMany([
      { key, cbArgs: 1, jobId: 'j' },
      { key, cbArgs: 2, jobId: 'r2' },
    ]);
    const got = await b.steps.begin(key, 'j', 'run', 5000, false);
    expect(got).toEqual({ token: expect.any(String), runs: 1 });
    expect(await b.steps.begin(key, 'other', 'run', 5000, false)).toEqual({ busy: true });
    const e = entry('V');
    const d = await b.steps.finish(key, 'j', [{ key, entry: e }, { key: { ns: 'op', id: 'alias' }, entry: e }], (got as { token: string }).token);
    expect(d).toEqual({ deliveryId: expect.any(String), kind: 'result', cbArgs: [1, 2] });
    expect(await b.locker.isLocked(key)).toBe(false);
    expect((await b.cache.getMany([{ ns: 'op', id: 'alias' }]))[0]?.value).toBe('V');
    expect(await b.pending.count('op')).toBe(0);
    expect(await b.steps.records('op')).toBe(1);

    // A run after a crash: the same record, the entry with it; a request added since stays pending.
    await b.pending.addMany([{ key, cbArgs: 3, jobId: 'j2' }]);
    expect(await b.steps.begin(key, 'j', 'run', 5000, true)).toEqual({ delivery: d, entry: e, runs: 1 });
    expect(await b.steps.finish(key, 'j', [], null)).toEqual(d);
    expect(await b.pending.takeAll(key)).toEqual([3]);

    // Another job of the pair: the fresh entry, unless forced.
    expect(await b.steps.begin(key, 'j3', 'run', 5000, false)).toEqual({ entry: e, runs: 1 });
    expect(await b.steps.begin(key, 'j3', 'run', 5000, true)).toEqual({ token: expect.any(String), runs: 1 });
    await b.steps.settle(key, 'j');
    await b.steps.settle(key, 'j');
    expect(await b.steps.records('op')).toBe(0);
    await b.close();
  });

  it('quarantine takes the pending cbArgs, turns a result record into a quarantine one, and keeps that one', async () => {
    const b = await sqliteBackend(`sqlite:${file()}`, 'p');
    await b.pending.addMany([{ key, cbArgs: 'a', jobId: 'q' }]);
    const { token } = (await b.steps.begin(key, 'q', 'run', 5000, false)) as { token: string };
    const q = await b.steps.quarantine(key, 'q', item('q'), token);
    expect(q).toEqual({ deliveryId: expect.any(String), kind: 'quarantine', cbArgs: ['a'], item: { ...item('q'), cbArgs: ['a'] } });
    expect(await b.locker.isLocked(key)).toBe(false);
    expect(await b.steps.quarantine(key, 'q', { ...item('q'), attempts: 9 }, null)).toEqual(q);
    expect(await b.steps.begin(key, 'q', 'run', 5000, false)).toEqual({ delivery: q, runs: 1 });

    await b.pending.addMany([{ key, cbArgs: 'b', jobId: 'r' }]);
    const d = await b.steps.finish(key, 'r', [{ key, entry: entry(1) }], null);
    const turned = await b.steps.quarantine(key, 'r', item('r'), null);
    expect(turned).toEqual({ deliveryId: d.deliveryId, kind: 'quarantine', cbArgs: ['b'], item: { ...item('r'), cbArgs: ['b'] } });
    expect(await b.steps.records('op')).toBe(2);
    await b.pending.clear();
    expect(await b.steps.records('op')).toBe(0);
    await b.close();
  });

  it('the queue trim drops records older than keepFinished.ageMs', async () => {
    const b = await sqliteBackend(`sqlite:${file()}`, 'p', { keepFinished: { ageMs: 20 }, queue: { trimEvery: 1 } });
    const q = b.queue as SqliteJobQueue;
    await b.steps.finish(key, 'old', [], null);
    await sleep(40);
    await b.steps.finish(key, 'new', [], null);
    await q.addMany([{ id: 'j', data: { op: 'op', uri: 'u', kwargs: {} } }]);
    const [j] = await q.claim('op', 1, 5000, 'me');
    await q.finish(j!, done(), 'me');
    expect(await b.steps.records('op')).toBe(1);
    expect(await b.steps.begin(key, 'new', 'run', 5000, false)).toMatchObject({ delivery: { kind: 'result' } });
    await b.close();
  });
});

describe('sqlite: queue', () => {
  it('trims finished jobs beyond the newest kept', async () => {
    const b = await sqliteBackend(`sqlite:${file()}`, 'p', { queue: { keepFinished: 5, trimEvery: 1 } });
    await b.queue.addMany(Array.from({ length: 20 }, (_, i) => ({ id: `j${String(i).padStart(2, '0')}`, data: { op: 'op', uri: `u${i}`, kwargs: {} } })));
    const seen: string[] = [];
    const c = b.queue.consume({ ops: ['op'], concurrency: () => 1, handler: async (j) => (seen.push(j.id), await sleep(2), done(j.id)) });
    await waitUntil(() => seen.length === 20, 'all jobs');
    await c.stop();
    expect(await b.queue.getState('j19')).toEqual({ state: 'completed', result: { cbArgs: [], deliveryId: 'j19' }, op: 'op', uri: 'u19' });
    expect(await b.queue.getState('j00')).toEqual({ state: 'unknown' });
    const kept = (await Promise.all(seen.map((id) => b.queue.getState(id)))).filter((s) => s.state === 'completed');
    expect(kept.length).toBeGreaterThanOrEqual(5);
    expect(kept.length).toBeLessThan(10);
    await b.close();
  });

  it('reports due delayed jobs as waiting, and recent jobs newest first', async () => {
    const b = await sqliteBackend(`sqlite:${file()}`, 'p');
    await b.queue.addMany([
      { id: 'd', data: { op: 'op', uri: 'https://x/d', kwargs: {} }, delayMs: 100 },
      { id: 'w', data: { op: 'op', uri: 'https://x/w', kwargs: {} } },
    ]);
    expect((await b.queue.getState('d')).state).toBe('delayed');
    await sleep(150);
    expect((await b.queue.getState('d')).state).toBe('waiting');
    expect(await b.queue.counts('op')).toMatchObject({ waiting: 2, delayed: 0 });
    const recent = await b.queue.recent!('op', 10);
    expect(recent.map((r) => [r.id, r.uri, r.state])).toEqual([
      ['w', 'https://x/w', 'waiting'],
      ['d', 'https://x/d', 'waiting'],
    ]);
    await b.close();
  });

  it('a finish from a consumer that lost its lease does not overwrite the new holder', async () => {
    const b = await sqliteBackend(`sqlite:${file()}`, 'p');
    const q = b.queue as SqliteJobQueue;
    await q.addMany([{ id: 'j', data: { op: 'op', uri: 'u', kwargs: {} } }]);
    const [first] = await q.claim('op', 1, 50, 'old');
    await sleep(80);
    const [second] = await q.claim('op', 1, 5000, 'new');
    expect(second).toMatchObject({ id: 'j', attempt: 2, stalls: 1 });
    await q.finish(first as ClaimedJob, done('stale'), 'old');
    expect((await q.getState('j')).state).toBe('active');
    expect(await q.renew(['j'], 5000, 'old')).toEqual(['j']);
    expect(await q.renew(['j'], 5000, 'new')).toEqual([]);
    await q.finish(second as ClaimedJob, done('fresh'), 'new');
    expect(await q.getState('j')).toEqual({ state: 'completed', result: { cbArgs: [], deliveryId: 'fresh' }, op: 'op', uri: 'u' });
    await b.close();
  });

  it('a hand-back puts the job back in line as it was, and wakes a consumer', async () => {
    const b = await sqliteBackend(`sqlite:${file()}`, 'p');
    const q = b.queue as SqliteJobQueue;
    await q.addMany(['h', 'x'].map((id) => ({ id, data: { op: 'op', uri: id, kwargs: {} } })));
    const [h] = await q.claim('op', 1, 5000, 'me');
    await q.finish(h!, { type: 'handback' }, 'me');
    expect(await q.getState('h')).toEqual({ state: 'waiting' });
    const runs: ClaimedJob[] = [];
    const c = q.consume({ ops: ['op'], concurrency: () => 1, handler: async (j) => (runs.push(j), done(j.id)) });
    await waitUntil(() => runs.length === 2, 'both jobs');
    await c.stop();
    expect(runs.map((j) => [j.id, j.attempt, j.stalls])).toEqual([
      ['h', 1, 0],
      ['x', 1, 0],
    ]);
    await b.close();
  });

  it('takes keepFinished from the broker settings given to openBackend', async () => {
    const b = await openBackend({ broker: `sqlite:${file()}`, prefix: 'p', settings: { keepFinished: { count: 10 } } });
    const q = b.queue as SqliteJobQueue;
    const ids = Array.from({ length: 1000 }, (_, i) => `j${i}`);
    await q.addMany(ids.map((id) => ({ id, data: { op: 'op', uri: id, kwargs: {} } })));
    const claimed = await q.claim('op', 1000, 60_000, 'me');
    // The default trim runs every 1000 finishes: the first half finished well before the rest.
    await Promise.all(claimed.slice(0, 500).map((j) => q.finish(j, done(), 'me')));
    await sleep(20);
    await Promise.all(claimed.slice(500).map((j) => q.finish(j, done(), 'me')));
    expect((await q.getState('j0')).state).toBe('unknown');
    expect((await q.getState('j999')).state).toBe('completed');
    await b.close();
  });

  it('a retry keeps the stored data and replaces only its kwargs', async () => {
    const b = await sqliteBackend(`sqlite:${file()}`, 'p');
    const q = b.queue as SqliteJobQueue;
    await q.addMany([{ id: 'r', data: { op: 'op', uri: 'https://x/ü', kwargs: { a: 1 }, refresh: true } }]);
    const [j] = await q.claim('op', 1, 5000, 'me');
    await q.finish(j!, { type: 'retry', delayMs: 0, kwargs: { a: 2, deep: { x: [null] } } }, 'me');
    const [again] = await q.claim('op', 1, 5000, 'me');
    expect(again).toMatchObject({ id: 'r', attempt: 2, data: { op: 'op', uri: 'https://x/ü', kwargs: { a: 2, deep: { x: [null] } }, refresh: true } });
    await b.close();
  });
});
