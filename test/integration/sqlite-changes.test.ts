/**
 * The SQLite change log behind the change feed (src/core/backends/sqlite/changes.ts): what
 * the conformance suite cannot reach from the port: grouping, trimming, a watcher that fell
 * behind the trimming, files of schema 3, and the deletions that log nothing.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { toChanges } from '../../src/core/backends/sqlite/changes.js';
import { sqliteBackend, sqliteCacheStore, type SqliteCacheStore } from '../../src/core/backends/sqlite/index.js';
import type { CacheChange, StoredEntry } from '../../src/core/ports.js';
import { sleep, waitUntil } from '../helpers/wait.js';

const dir = join(tmpdir(), `backache-sqlite-changes-${randomUUID()}`);
mkdirSync(dir, { recursive: true });
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = () => join(dir, `${randomUUID()}.db`);
const entry = (value: unknown, over: Partial<StoredEntry> = {}): StoredEntry => ({ value, createdAt: Date.now(), expiresAt: null, staleUntil: null, ...over });

function listen(c: SqliteCacheStore) {
  const heard: CacheChange[] = [];
  const ups: boolean[] = [];
  const stop = c.changes.listen({ change: (x) => heard.push(x), up: (u) => ups.push(u) });
  return { heard, ups, stop };
}

afterEach(() => vi.restoreAllMocks());

describe('sqlite change log', () => {
  it('groups consecutive rows of one namespace, each id once, a clear on its own', () => {
    const rows = [
      { seq: 1, ns: 'a', id: 'x' },
      { seq: 2, ns: 'a', id: 'y' },
      { seq: 3, ns: 'a', id: 'x' },
      { seq: 4, ns: 'b', id: 'x' },
      { seq: 5, ns: null, id: null },
      { seq: 6, ns: null, id: null },
      { seq: 7, ns: 'a', id: 'z' },
    ];
    expect(toChanges(rows)).toEqual([{ ns: 'a', ids: ['x', 'y'] }, { ns: 'b', ids: ['x'] }, { all: true }, { ns: 'a', ids: ['z'] }]);
  });

  it('rows are written with the change, one per id; a clear is one row and drops the earlier rows of its prefix; old rows are trimmed', async () => {
    const path = file();
    const c = (await sqliteCacheStore(`sqlite:${path}`, 'p')) as SqliteCacheStore;
    const raw = new Database(path, { readonly: true });
    const rows = () => raw.prepare('SELECT prefix, ns, id FROM changes ORDER BY seq').all();
    const h = listen(c);
    try {
      await waitUntil(() => h.ups.includes(true), 'up');
      await c.setMany(['x', 'y'].map((id) => ({ key: { ns: 'a', id }, entry: entry(1) })));
      await c.deleteMany([{ ns: 'a', id: 'x' }]);
      await c.markStale([{ ns: 'a', id: 'y' }], Date.now());
      expect(rows()).toEqual([
        { prefix: 'p', ns: 'a', id: 'x' },
        { prefix: 'p', ns: 'a', id: 'y' },
        { prefix: 'p', ns: 'a', id: 'x' },
        { prefix: 'p', ns: 'a', id: 'y' },
      ]);
      await c.clear();
      expect(rows()).toEqual([{ prefix: 'p', ns: null, id: null }]);
      // Seconds later, the next thousand rows trim what is older, and say where they trimmed.
      const later = Date.now() + 11_000;
      vi.spyOn(Date, 'now').mockReturnValue(later);
      await c.setMany(Array.from({ length: 1000 }, (_, i) => ({ key: { ns: 'b', id: `k${i}` }, entry: entry(i) })));
      const left = raw.prepare('SELECT count(*) AS n, min(at) AS oldest, min(seq) AS first FROM changes').get() as { n: number; oldest: number; first: number };
      expect([left.n, left.oldest]).toEqual([1000, later]);
      expect(raw.prepare('SELECT below FROM changes_trim').pluck().get()).toBe(left.first);
    } finally {
      raw.close();
      await c.close();
    }
  });

  it('nothing is logged while nobody listens to the prefix; from the registration of a listener on, everything', async () => {
    const path = file();
    const c = (await sqliteCacheStore(`sqlite:${path}`, 'p')) as SqliteCacheStore;
    const other = (await sqliteCacheStore(`sqlite:${path}`, 'q')) as SqliteCacheStore;
    const raw = new Database(path, { readonly: true });
    const count = () => raw.prepare('SELECT count(*) FROM changes').pluck().get();
    try {
      await c.setMany([{ key: { ns: 'a', id: 'x' }, entry: entry(1) }]);
      await c.clear();
      const hq = listen(other); // another deployment's listener does not count
      await waitUntil(() => hq.ups.includes(true), 'up');
      await c.deleteMany([{ ns: 'a', id: 'x' }]);
      expect(count()).toBe(0);
      const h = listen(c);
      expect(raw.prepare('SELECT count(*) FROM change_watchers').pluck().get()).toBe(1);
      await waitUntil(() => h.ups.includes(true), 'up');
      expect(raw.prepare('SELECT prefix FROM change_watchers ORDER BY prefix').pluck().all()).toEqual(['p', 'q']);
      await c.setMany([{ key: { ns: 'a', id: 'y' }, entry: entry(1) }]);
      expect(count()).toBe(1);
      await waitUntil(() => h.heard.length > 0, 'told');
      expect(h.heard).toEqual([{ ns: 'a', ids: ['y'] }]);
      // The last listener gone, so is the registration.
      h.stop();
      await waitUntil(() => raw.prepare('SELECT count(*) FROM change_watchers').pluck().get() === 1, 'unregistered');
    } finally {
      raw.close();
      await c.close();
      await other.close();
    }
  });

  it('a registration that ran out (an event loop blocked for long) is renewed, and told as everything', async () => {
    const path = file();
    const c = (await sqliteCacheStore(`sqlite:${path}`, 'p')) as SqliteCacheStore;
    const h = listen(c);
    try {
      await waitUntil(() => h.ups.includes(true), 'up');
      vi.spyOn(Date, 'now').mockReturnValue(Date.now() + 31_000);
      await waitUntil(() => h.heard.length > 0, 'told');
      expect(h.heard).toEqual([{ all: true }]);
      expect(h.ups).toEqual([true, false, true]);
    } finally {
      await c.close();
    }
  });

  it('a watcher whose next rows were trimmed before it read them is told everything changed', async () => {
    const path = file();
    const c = (await sqliteCacheStore(`sqlite:${path}`, 'p')) as SqliteCacheStore;
    const h = listen(c);
    const raw = new Database(path);
    try {
      await waitUntil(() => h.ups.includes(true), 'up');
      // What trimming does to a watcher that fell behind: its next rows are gone.
      raw.transaction(() => {
        const ins = raw.prepare("INSERT INTO changes (prefix, ns, id, at) VALUES ('p', 'a', ?, 0)");
        const first = ins.run('lost').lastInsertRowid;
        const next = ins.run('seen').lastInsertRowid;
        raw.prepare('DELETE FROM changes WHERE seq = ?').run(first);
        raw.prepare('INSERT INTO changes_trim (one, below) VALUES (0, ?)').run(next);
      })();
      await waitUntil(() => h.heard.length > 0, 'told');
      expect(h.heard).toEqual([{ all: true }]);
      // And from there on, as usual.
      await c.setMany([{ key: { ns: 'a', id: 'next' }, entry: entry(1) }]);
      await waitUntil(() => h.heard.length > 1, 'told again');
      expect(h.heard).toEqual([{ all: true }, { ns: 'a', ids: ['next'] }]);
    } finally {
      raw.close();
      await c.close();
    }
  });

  it('deployments in one file hear only their own changes; a closed store stops its listeners', async () => {
    const path = file();
    const p = (await sqliteCacheStore(`sqlite:${path}`, 'p')) as SqliteCacheStore;
    const q = (await sqliteCacheStore(`sqlite:${path}`, 'q')) as SqliteCacheStore;
    const hp = listen(p);
    const hq = listen(q);
    try {
      await waitUntil(() => hp.ups.includes(true) && hq.ups.includes(true), 'up');
      await p.setMany([{ key: { ns: 'a', id: 'x' }, entry: entry(1) }]);
      await q.clear();
      await waitUntil(() => hp.heard.length > 0 && hq.heard.length > 0, 'told');
      await sleep(50);
      expect([hp.heard, hq.heard]).toEqual([[{ ns: 'a', ids: ['x'] }], [{ all: true }]]);
      await q.close();
      expect(hq.ups).toEqual([true, false]);
      await p.setMany([{ key: { ns: 'a', id: 'y' }, entry: entry(1) }]);
      await waitUntil(() => hp.heard.length > 1, 'told');
      expect(hq.heard).toEqual([{ all: true }]);
    } finally {
      await p.close();
      await q.close();
    }
  });

  it('entries dropped past their grace period log nothing (no reader sees them go)', async () => {
    const path = file();
    const c = (await sqliteCacheStore(`sqlite:${path}`, 'p')) as SqliteCacheStore;
    const raw = new Database(path, { readonly: true });
    const h = listen(c);
    try {
      await waitUntil(() => h.ups.includes(true), 'up');
      const now = Date.now();
      await c.setMany([{ key: { ns: 'a', id: 'gone' }, entry: entry(1, { expiresAt: now - 20, staleUntil: now - 10 }) }]);
      const before = raw.prepare('SELECT count(*) FROM changes').pluck().get();
      expect(await c.getMany([{ ns: 'a', id: 'gone' }])).toEqual([undefined]); // and forgets it, soon
      await waitUntil(() => raw.prepare('SELECT count(*) FROM cache').pluck().get() === 0, 'forgotten');
      expect(raw.prepare('SELECT count(*) FROM changes').pluck().get()).toBe(before);
    } finally {
      raw.close();
      await c.close();
    }
  });

  it('a file of schema 3 gets the change log', async () => {
    const path = file();
    const b0 = await sqliteBackend(`sqlite:${path}`, 'p');
    await b0.close();
    const raw = new Database(path);
    raw.exec('DROP TABLE changes; DROP TABLE change_watchers; DROP TABLE changes_trim; PRAGMA user_version = 3;');
    raw.close();
    const b = await sqliteBackend(`sqlite:${path}`, 'p');
    try {
      const h = listen(b.cache as SqliteCacheStore);
      await waitUntil(() => h.ups.includes(true), 'up');
      await b.cache.setMany([{ key: { ns: 'a', id: 'x' }, entry: entry(1) }]);
      await waitUntil(() => h.heard.length > 0, 'told');
      expect(h.heard).toEqual([{ ns: 'a', ids: ['x'] }]);
    } finally {
      await b.close();
    }
  });
});
