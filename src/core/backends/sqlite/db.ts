import { existsSync, mkdirSync } from 'node:fs';
import { jsonText } from '../../entry.js';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { BackendUnavailableError, NoStoreError } from '../../errors.js';
import { MIGRATE_FROM_1, MIGRATE_FROM_2, SCHEMA, SCHEMA_VERSION } from './schema.js';

export const DEFAULT_SQLITE_PATH = '.backache/backache.db';
const BUSY_TIMEOUT_MS = 5000;
/** PRAGMA auto_vacuum's value for INCREMENTAL. */
const INCREMENTAL = 2;
/** Free pages (4 kB) below which retention gives nothing back: they are reused soon. */
const FREE_PAGES_KEPT = 1024;
/** Rows per multi-row statement, largest first (at most 128 × 10 parameters). */
const CHUNK_SIZES = [128, 32, 8, 1];

/** `sqlite:PATH`, `sqlite://PATH` or `sqlite:///ABS`; an empty path is the default file. */
export function sqlitePath(url: string): string {
  let p = url.replace(/^sqlite:/i, '');
  if (p.startsWith('//')) p = p.slice(2);
  if (p === '') p = DEFAULT_SQLITE_PATH;
  return p === ':memory:' ? p : resolve(p);
}

/**
 * One open database file, shared by every store of every deployment that uses it in
 * this process, and reference-counted: the connection closes with its last store.
 *
 * Prepared statements are cached here once per connection. Every write runs in a
 * `BEGIN IMMEDIATE` transaction (`write()`, or `writeSoon()` which groups the writes of
 * one event-loop turn into one): it takes the write lock before reading, so a
 * read-then-write never fails with SQLITE_BUSY_SNAPSHOT when another process wrote in
 * between (it waits up to the busy timeout instead).
 */
export class SqliteHandle {
  refs = 0;
  private stmts = new Map<string, Database.Statement>();
  /** Multi-row statements of `many`: head → tail → rows per statement (one tuple form per head). */
  private multi = new Map<string, Map<string, Map<number, Database.Statement>>>();
  private readonly tx: Database.Transaction<(fn: () => unknown) => unknown>;
  private queued: { fn: () => unknown; resolve: (v: unknown) => void; reject: (e: unknown) => void }[] = [];
  /** In-process wake-ups for consumers waiting on `${prefix}\0${op}`. */
  private waiters = new Map<string, Set<() => void>>();

  constructor(
    readonly path: string,
    readonly db: Database.Database,
  ) {
    this.tx = db.transaction((fn: () => unknown) => fn());
  }

  stmt(sql: string): Database.Statement {
    let s = this.stmts.get(sql);
    if (!s) this.stmts.set(sql, (s = this.db.prepare(sql)));
    return s;
  }

  /** A cached statement that returns the first column only. */
  pluck(sql: string): Database.Statement {
    const key = `pluck\u0000${sql}`;
    let s = this.stmts.get(key);
    if (!s) this.stmts.set(key, (s = this.db.prepare(sql).pluck()));
    return s;
  }

  /**
   * Run `head VALUES (tuple), (tuple), … tail` over many rows in a few multi-row
   * statements: one call per chunk instead of one per row, which is most of the cost of a
   * small insert. `params` holds the parameters of every row in a row, `width` per row.
   * Chunk sizes are fixed so few statements are prepared. Returns the rows of a RETURNING
   * clause, if any (in no particular order), and the number of rows changed otherwise.
   */
  many(head: string, tuple: string, tail: string, params: unknown[], width: number): { rows: unknown[]; changes: number } {
    const out: unknown[] = [];
    const n = params.length / width;
    // Keyed by the (constant) SQL parts themselves: no long key string built per call.
    let byTail = this.multi.get(head);
    if (!byTail) this.multi.set(head, (byTail = new Map()));
    let sized = byTail.get(tail);
    if (!sized) byTail.set(tail, (sized = new Map()));
    let changes = 0;
    let i = 0;
    for (const size of CHUNK_SIZES) {
      if (n - i < size) continue;
      let s = sized.get(size);
      if (!s) sized.set(size, (s = this.db.prepare(`${head} VALUES ${Array(size).fill(tuple).join(', ')} ${tail}`)));
      for (; n - i >= size; i += size) {
        const args = size === n ? params : params.slice(i * width, (i + size) * width);
        if (s.reader) for (const r of s.all(args)) out.push(r);
        else changes += s.run(args).changes;
      }
    }
    return { rows: out, changes };
  }

  /** Run `fn` inside one BEGIN IMMEDIATE transaction (nested calls become savepoints). */
  write<T>(fn: () => T): T {
    return this.tx.immediate(fn) as T;
  }

  /**
   * Group commit: run `fn` in one write transaction with every other write queued in this
   * turn of the event loop, and resolve once it has committed. Many small writes of
   * concurrent jobs then cost one commit instead of one each. `fn` must be a function of
   * the database only (it may run twice): when one of the group throws, the group is
   * rolled back and each runs again alone, so the failure is its own.
   */
  writeSoon<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.queued.push({ fn, resolve: resolve as (v: unknown) => void, reject }) === 1) setImmediate(() => this.flush());
    });
  }

  /** Commit the queued writes now (also done before the connection closes). */
  flush() {
    const batch = this.queued;
    if (batch.length === 0) return;
    this.queued = [];
    let results: unknown[];
    try {
      results = this.write(() => batch.map((op) => op.fn()));
    } catch (e) {
      // Waiting longer for the lock would not help any of them.
      if (batch.length === 1 || isBusy(e)) return batch.forEach((op) => op.reject(e));
      for (const op of batch) {
        try {
          op.resolve(this.write(op.fn));
        } catch (e1) {
          op.reject(e1);
        }
      }
      return;
    }
    batch.forEach((op, i) => op.resolve(results[i]));
  }

  private compacting?: Promise<void>;

  /**
   * Give the file's free pages back to the file system and empty the WAL: after a clear
   * (cleanup). The clears of one cleanup share one compaction (the next turn of the event
   * loop, once their writes are committed).
   */
  compactSoon(): Promise<void> {
    this.compacting ??= new Promise<void>((resolve, reject) =>
      setImmediate(() => {
        this.compacting = undefined;
        try {
          this.compact();
          resolve();
        } catch (e) {
          reject(e);
        }
      }),
    );
    return this.compacting;
  }

  compact() {
    this.flush();
    try {
      if (this.db.pragma('auto_vacuum', { simple: true }) === INCREMENTAL) this.db.pragma('incremental_vacuum');
      else {
        // A file from before auto_vacuum=INCREMENTAL: one VACUUM rewrites it in that mode
        // (the pragma set on open is pending until then).
        this.db.pragma('auto_vacuum = INCREMENTAL');
        this.db.exec('VACUUM');
      }
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch (e) {
      // Best effort: the rows are gone either way. The file is in use (another process
      // reading, a statement of this one still iterating): its space comes back next time.
      if (!/^SQLITE_/.test(String((e as { code?: unknown })?.code))) throw e;
    }
  }

  /**
   * Inside a write transaction that deleted many rows (retention): when a good part of the
   * file is free, give those pages back, so the file shrinks rather than only stops growing.
   * Only in auto_vacuum=INCREMENTAL files (a VACUUM is not for the middle of a workload).
   */
  releaseFreePages() {
    const free = this.db.pragma('freelist_count', { simple: true }) as number;
    if (free < FREE_PAGES_KEPT) return;
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    if (free * 4 < pages || this.db.pragma('auto_vacuum', { simple: true }) !== INCREMENTAL) return;
    // Some free pages stay, for the inserts that follow.
    this.db.pragma(`incremental_vacuum(${free - FREE_PAGES_KEPT / 2})`);
  }

  /** Run `fn` inside one read transaction: a consistent snapshot for several statements. */
  read<T>(fn: () => T): T {
    return this.tx.deferred(fn) as T;
  }

  /** Resolve after `ms`, or earlier when `wake(key)` is called in this process. */
  waitFor(key: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      let ws = this.waiters.get(key);
      if (!ws) this.waiters.set(key, (ws = new Set()));
      const set = ws;
      const done = () => {
        clearTimeout(t);
        set.delete(done);
        if (set.size === 0 && this.waiters.get(key) === set) this.waiters.delete(key);
        resolve();
      };
      const t = setTimeout(done, ms);
      set.add(done);
    });
  }

  wake(key: string) {
    const ws = this.waiters.get(key);
    if (!ws) return;
    this.waiters.delete(key);
    for (const w of ws) w();
  }
}

const handles = new Map<string, SqliteHandle>();

/**
 * Open (or share) the database at `path` and take one reference to it. With
 * `create: false` a file that does not exist is not created: `NoStoreError`.
 */
export function acquireHandle(path: string, o: { create?: boolean } = {}): SqliteHandle {
  let h = handles.get(path);
  if (!h || !h.db.open) {
    h = new SqliteHandle(path, openDatabase(path, o.create !== false));
    handles.set(path, h);
  }
  h.refs++;
  return h;
}

/** Drop one reference; the last one closes the connection. */
export function releaseHandle(h: SqliteHandle) {
  if (--h.refs > 0) return;
  if (handles.get(h.path) === h) handles.delete(h.path);
  h.flush();
  if (h.db.open) h.db.close();
}

function openDatabase(path: string, create: boolean): Database.Database {
  if (!create && path !== ':memory:' && !existsSync(path)) {
    throw new NoStoreError(`no SQLite database at ${path}`, {
      hint: 'check the path (--broker or --cache sqlite:PATH); a command that writes (work, submit, run, call, warm) creates it',
    });
  }
  let db: Database.Database | undefined;
  try {
    if (path !== ':memory:' && create) mkdirSync(dirname(path), { recursive: true });
    db = new Database(path, { timeout: BUSY_TIMEOUT_MS, fileMustExist: !create });
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    // Takes effect on a new file only (before its first table); an older file is converted
    // by the VACUUM of its first compaction (see SqliteHandle.compact).
    db.pragma('auto_vacuum = INCREMENTAL');
    retryBusy(() => db!.pragma('journal_mode = WAL'));
    db.pragma('synchronous = NORMAL');
    db.pragma('cache_size = -16000'); // 16 MB of page cache
    // Checkpoint the WAL every ~16 MB instead of 4 MB: a queue rewrites the same few pages
    // (index edges) over and over, and each checkpoint copies them once.
    db.pragma('wal_autocheckpoint = 4000');
    // After a checkpoint, a WAL that grew past this (one big transaction) is cut back to it.
    db.pragma(`journal_size_limit = ${4000 * 4096}`);
    const conn = db;
    const version = conn.pragma('user_version', { simple: true }) as number;
    if (version < SCHEMA_VERSION) {
      conn.transaction(() => {
        // Read again under the write lock: another process may have just done this.
        const v = conn.pragma('user_version', { simple: true }) as number;
        if (v >= SCHEMA_VERSION) return;
        if (v === 1) conn.exec(MIGRATE_FROM_1);
        if (v === 1 || v === 2) migrateFrom2(conn);
        conn.exec(SCHEMA);
        conn.pragma(`user_version = ${SCHEMA_VERSION}`);
      }).immediate();
    } else if (version > SCHEMA_VERSION) {
      throw new Error(`it was written by a newer backache (schema ${version}, this one knows ${SCHEMA_VERSION})`);
    }
    return conn;
  } catch (e) {
    try {
      db?.close();
    } catch {
      /* already failing */
    }
    const reason = e instanceof Error ? e.message : String(e);
    throw new BackendUnavailableError(`cannot open SQLite database "${path}": ${reason}`, {
      hint: 'check that the directory can be created and is writable and that the file is a backache SQLite database, or use another sqlite:PATH',
      cause: e,
    });
  }
}

function migrateFrom2(conn: Database.Database) {
  conn.exec(MIGRATE_FROM_2);
  const cols = conn.pragma('table_info(jobs)') as { name: string }[];
  // No jobs table yet (a file that never held a queue): SCHEMA creates it with the column.
  if (cols.length > 0 && !cols.some((c) => c.name === 'stalls')) conn.exec('ALTER TABLE jobs ADD COLUMN stalls INTEGER NOT NULL DEFAULT 0');
}

const isBusy = (e: unknown) => /^SQLITE_BUSY/.test(String((e as { code?: unknown })?.code));

/** Switching to WAL needs a moment of exclusive access, which the busy handler does not cover. */
function retryBusy<T>(fn: () => T): T {
  const until = Date.now() + BUSY_TIMEOUT_MS;
  for (;;) {
    try {
      return fn();
    } catch (e) {
      if (!isBusy(e) || Date.now() > until) throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
}

/**
 * The exclusive upper bound of the strings starting with `p` (in SQLite's BINARY order,
 * which is UTF-8 byte order, which is code point order): `p` with its last code point
 * incremented. `null` when there is none (`''`, or only U+10FFFF). Then
 * `id >= p AND id < end` selects exactly the ids starting with `p`, through the index
 * (unlike LIKE, which treats `%` and `_` as wildcards).
 */
export function prefixEnd(p: string): string | null {
  const cps = Array.from(p);
  while (cps.length > 0) {
    const last = cps.pop()!.codePointAt(0)!;
    if (last < 0x10ffff) {
      const next = last + 1 === 0xd800 ? 0xe000 : last + 1; // skip the surrogate range
      return cps.join('') + String.fromCodePoint(next);
    }
  }
  return null;
}

/** Base of every store: one reference to the shared handle, released once on close. */
export abstract class SqliteStore {
  private closed = false;
  constructor(
    protected readonly h: SqliteHandle,
    protected readonly prefix: string,
  ) {}

  async close() {
    if (this.closed) return;
    this.closed = true;
    releaseHandle(this.h);
  }

  /** Delete this deployment's rows of `tables` in one transaction, then give the space back. */
  protected async clearPrefix(...tables: string[]) {
    await this.h.writeSoon(() => {
      for (const t of tables) this.h.stmt(`DELETE FROM ${t} WHERE prefix = ?`).run(this.prefix);
    });
    await this.h.compactSoon();
  }
}

export const toJson = (v: unknown) => (v === undefined ? null : (jsonText(v) ?? null));
export const fromJson = (s: string | null): unknown => (s === null ? undefined : JSON.parse(s));
