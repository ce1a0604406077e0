/**
 * Issue 15, defect 12: SQLite gives space back. After `cleanup` the database file and its
 * WAL shrink (a new file uses auto_vacuum=INCREMENTAL; an older one is converted by a
 * VACUUM then); finished jobs trimmed by retention free their pages too. Sizes, not times.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { createBackache, type Backache } from '../../src/core/engine.js';
import { waitUntil } from '../helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'backache-space-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const size = (p: string) => (existsSync(p) ? statSync(p).size : 0);
const sizes = (db: string) => ({ db: size(db), wal: size(`${db}-wal`) });
const autoVacuum = (db: string) => {
  const raw = new Database(db, { readonly: true });
  try {
    return raw.pragma('auto_vacuum', { simple: true });
  } finally {
    raw.close();
  }
};

const N = 20_000;
const payload = 'p'.repeat(300);

/** N requests delegated (jobs and pending requests) and N cache entries, in batches. */
async function fill(app: Backache) {
  for (let i = 0; i < N; i += 2000) {
    const reqs = Array.from({ length: 2000 }, (_, k) => ({ op: 'op', uri: `https://example.com/${i + k}`, kwargs: { payload }, cbArgs: { k: i + k } }));
    const r = await app.bulkGetOrDelegate(reqs);
    expect(r.delegated).toHaveLength(2000);
    await app.backend.cache.setMany(reqs.map((q) => ({ key: { ns: 'op', id: `${q.uri}#c` }, entry: { value: { payload }, createdAt: Date.now(), expiresAt: null, staleUntil: null } })));
  }
}

describe('sqlite: cleanup gives the space back', () => {
  it('a new database (auto_vacuum=INCREMENTAL): file and WAL shrink', async () => {
    const db = join(dir, `${randomUUID()}.db`);
    const app = await createBackache({ operations: { op: async () => 1 }, broker: `sqlite:${db}` });
    try {
      await fill(app);
      const before = sizes(db);
      expect(before.db + before.wal).toBeGreaterThan(10_000_000);
      await app.cleanup();
      const after = sizes(db);
      expect(after.db).toBeLessThan(before.db / 10);
      expect(after.wal).toBeLessThan(1_000_000);
      expect((await app.stats()).totals).toMatchObject({ waiting: 0, entries: 0 });
    } finally {
      await app.close();
    }
    expect(autoVacuum(db)).toBe(2);
  });

  it('an existing database without auto_vacuum: converted on cleanup, then shrinks', async () => {
    const db = join(dir, `${randomUUID()}.db`);
    // As an earlier backache left it: every table there, auto_vacuum NONE.
    await (await createBackache({ operations: {}, broker: `sqlite:${db}` })).close();
    const raw = new Database(db);
    raw.pragma('auto_vacuum = NONE');
    raw.exec('VACUUM');
    raw.close();
    expect(autoVacuum(db)).toBe(0);
    const app = await createBackache({ operations: { op: async () => 1 }, broker: `sqlite:${db}` });
    try {
      await fill(app);
      const before = sizes(db);
      await app.cleanup();
      const after = sizes(db);
      expect(after.db).toBeLessThan(before.db / 10);
      expect(after.wal).toBeLessThan(1_000_000);
    } finally {
      await app.close();
    }
    expect(autoVacuum(db)).toBe(2);
  });
});

describe('sqlite: retention gives the space back', () => {
  it('finished jobs trimmed to keepFinished free their pages', async () => {
    const db = join(dir, `${randomUUID()}.db`);
    const app = await createBackache({ operations: { op: async () => 1 }, broker: `sqlite:${db}`, settings: { keepFinished: { count: 100 } } });
    try {
      await fill(app);
      // The cache entries go: what is left to free is the jobs' and pending requests'.
      await app.backend.cache.clear();
      const before = sizes(db);
      const w = app.startWorker({ concurrency: 64 });
      try {
        await waitUntil(async () => (await app.stats()).totals.waiting === 0 && (await app.stats()).totals.active === 0, 'every job done', 120_000, 200);
      } finally {
        await w.stop();
      }
      const raw = new Database(db, { readonly: true });
      const finished = raw.prepare('SELECT count(*) FROM jobs WHERE state >= 3').pluck().get() as number;
      raw.close();
      expect(finished).toBeLessThanOrEqual(200);
      // The pages of the trimmed jobs went back to the file system, not only to the free list.
      const after = sizes(db);
      expect(after.db).toBeLessThan(before.db / 2);
    } finally {
      await app.close();
    }
  }, 180_000);
});
