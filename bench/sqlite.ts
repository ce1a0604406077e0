/**
 * SQLite broker: backache vs raw better-sqlite3, alternately in one process.
 *   submit: bulkGetOrDelegate of 100k new URIs in batches of 1,000 vs inserts, 1,000 per transaction
 *   drain:  startWorker draining 30k no-op jobs vs one-row IMMEDIATE transactions
 * Run: npm run bench:sqlite   (BENCH_ROUNDS, SUBMIT_N, DRAIN_N to change sizes)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { compare, loadLibrary, printTable, rounds, save } from './lib.js';

const { createBackache } = await loadLibrary();

const SUBMIT_N = Number(process.env.SUBMIT_N ?? 100_000);
const DRAIN_N = Number(process.env.DRAIN_N ?? 30_000);
const BATCH = 1000;
const dir = mkdtempSync(join(tmpdir(), 'backache-bench-'));
let fileNo = 0;
const freshFile = () => join(dir, `b${fileNo++}.db`);

function rawDb(path: string) {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.exec('CREATE TABLE jobs (seq INTEGER PRIMARY KEY, id TEXT UNIQUE, op TEXT, data TEXT, state INTEGER)');
  // What a hand-written queue needs to take the next job without scanning the finished ones.
  db.exec('CREATE INDEX jobs_waiting ON jobs (seq) WHERE state = 0');
  return db;
}

const uris = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `https://example.com/${tag}/${i}`);

async function submit() {
  return compare('submit 100k, SQLite broker', SUBMIT_N, rounds(), {
    raw: {
      async prepare(round) {
        const db = rawDb(freshFile());
        const ins = db.prepare('INSERT INTO jobs (id, op, data, state) VALUES (?, ?, ?, 0)');
        const tx = db.transaction((batch: string[]) => {
          for (const u of batch) ins.run(`${round}-${u}`, 'noop', JSON.stringify({ op: 'noop', uri: u, kwargs: {} }));
        });
        const all = uris(SUBMIT_N, `raw${round}`);
        return {
          run: async () => {
            for (let i = 0; i < all.length; i += BATCH) tx.immediate(all.slice(i, i + BATCH));
          },
          teardown: async () => db.close(),
        };
      },
    },
    backache: {
      async prepare(round) {
        const app = await createBackache({ operations: { noop: async () => null }, broker: `sqlite:${freshFile()}` });
        const all = uris(SUBMIT_N, `b${round}`).map((uri) => ({ op: 'noop', uri }));
        return {
          run: async () => {
            for (let i = 0; i < all.length; i += BATCH) await app.bulkGetOrDelegate(all.slice(i, i + BATCH));
          },
          teardown: () => app.close(),
        };
      },
    },
  });
}

async function drain() {
  return compare('drain 30k no-op jobs, SQLite broker', DRAIN_N, rounds(), {
    raw: {
      async prepare(round) {
        const db = rawDb(freshFile());
        const ins = db.prepare('INSERT INTO jobs (id, op, data, state) VALUES (?, ?, ?, 0)');
        db.transaction(() => {
          for (const u of uris(DRAIN_N, `raw${round}`)) ins.run(u, 'noop', JSON.stringify({ op: 'noop', uri: u }));
        }).immediate();
        const take = db.prepare('SELECT seq, data FROM jobs WHERE state = 0 ORDER BY seq LIMIT 1');
        const done = db.prepare('UPDATE jobs SET state = 2 WHERE seq = ?');
        // One job per IMMEDIATE transaction: take it, parse it, mark it done.
        const one = db.transaction(() => {
          const row = take.get() as { seq: number; data: string } | undefined;
          if (!row) return false;
          JSON.parse(row.data);
          done.run(row.seq);
          return true;
        });
        return {
          run: async () => {
            while (one.immediate());
          },
          teardown: async () => db.close(),
        };
      },
    },
    backache: {
      async prepare(round) {
        let finished = 0;
        let resolveAll!: () => void;
        const allDone = new Promise<void>((r) => (resolveAll = r));
        const app = await createBackache({
          operations: { noop: { run: async () => null, onResult: () => void (++finished === DRAIN_N && resolveAll()) } },
          broker: `sqlite:${freshFile()}`,
        });
        const all = uris(DRAIN_N, `b${round}`).map((uri) => ({ op: 'noop', uri }));
        for (let i = 0; i < all.length; i += BATCH) await app.bulkGetOrDelegate(all.slice(i, i + BATCH));
        return {
          run: async () => {
            const w = app.startWorker({ concurrency: 50 });
            await allDone;
            await w.stop();
          },
          teardown: () => app.close(),
        };
      },
    },
  });
}

const which = process.argv[2] ?? 'all';
const rows = [];
if (which === 'all' || which === 'submit') rows.push(await submit());
if (which === 'all' || which === 'drain') rows.push(await drain());
printTable(rows);
save(`sqlite-${which}`, rows);
rmSync(dir, { recursive: true, force: true });
