import Database from 'better-sqlite3';
import type { CacheChange, ChangeFeed, ChangeListener } from '../../ports.js';
import { ChangeListeners } from '../change-listeners.js';
import type { SqliteHandle } from './db.js';

/**
 * The SQLite cache's change feed (ports.ts ChangeFeed). SQLite has no pub/sub, so every
 * write of the `cache` table adds rows to the `changes` log (schema.ts) in its own
 * transaction, and each process runs one watcher per file that notices commits (its own
 * included) and reads the rows past the last it read.
 */

/** The log keeps about this much history: a watcher that fell further behind hears `all`. */
const KEEP_MS = 60_000;
/** Trim the log every this many rows recorded (per connection). */
const TRIM_EVERY = 1000;
/** How often a watcher looks at PRAGMA data_version (a read of shared memory, no I/O). */
const POLL_MS = 15;
/** Reads that keep failing this long tell the listeners the feed is down. */
const DOWN_AFTER_MS = 200;

const recorded = new WeakMap<SqliteHandle, number>();

/**
 * Log changed ids of `prefix` (`ids` null: every entry of the prefix, a clear); runs inside
 * the caller's write transaction, so the rows commit with the change they tell of.
 */
export function recordChanges(h: SqliteHandle, prefix: string, keys: { ns: string; id: string }[] | null) {
  const at = Date.now();
  let n = 1;
  if (keys === null) h.stmt('INSERT INTO changes (prefix, ns, id, at) VALUES (?, NULL, NULL, ?)').run(prefix, at);
  else {
    if (keys.length === 0) return;
    const params: unknown[] = [];
    for (const k of keys) params.push(prefix, k.ns, k.id, at);
    h.many('INSERT INTO changes (prefix, ns, id, at)', '(?, ?, ?, ?)', '', params, 4);
    n = keys.length;
  }
  const total = (recorded.get(h) ?? 0) + n;
  if (total < TRIM_EVERY) return void recorded.set(h, total);
  recorded.set(h, 0);
  // Rows are appended in time order, so the old ones are the first: delete up to the first
  // young one, always keeping the newest row (the high-water mark watchers compare against).
  h.stmt(
    `DELETE FROM changes WHERE seq < coalesce((SELECT seq FROM changes WHERE at >= ? ORDER BY seq LIMIT 1), (SELECT max(seq) FROM changes))`,
  ).run(at - KEEP_MS);
}

interface Row {
  seq: number;
  ns: string | null;
  id: string | null;
}

/** Rows in log order as changes: consecutive ids of one namespace in one change (each id once). */
export function toChanges(rows: Row[]): CacheChange[] {
  const out: CacheChange[] = [];
  let cur: { ns: string; ids: Set<string> } | undefined;
  const flush = () => {
    if (cur) out.push({ ns: cur.ns, ids: [...cur.ids] });
    cur = undefined;
  };
  for (const r of rows) {
    if (r.ns === null) {
      flush();
      if (!('all' in (out[out.length - 1] ?? {}))) out.push({ all: true });
    } else if (cur?.ns === r.ns) cur.ids.add(r.id!);
    else {
      flush();
      cur = { ns: r.ns, ids: new Set([r.id!]) };
    }
  }
  flush();
  return out;
}

interface Group {
  ls: ChangeListeners;
  /** The last seq read for this prefix; undefined until the watcher could read the log. */
  last: number | undefined;
}

/**
 * One file's watcher in this process: a read-only connection of its own (PRAGMA
 * data_version moves on a commit by any other connection, including this process's
 * writing one), looked at every POLL_MS; only when it moved, the log is read for each
 * prefix listened to. It runs while someone listens.
 */
class FileWatcher {
  private db: Database.Database | undefined;
  private q: { lo: Database.Statement; hi: Database.Statement; rows: Database.Statement } | undefined;
  private dataVersion = -1;
  private readonly groups = new Map<string, Group>();
  private readonly timer: NodeJS.Timeout;
  private failingSince: number | undefined;

  constructor(private readonly h: SqliteHandle) {
    this.timer = setInterval(() => this.poll(), POLL_MS);
    this.timer.unref();
  }

  add(prefix: string, l: ChangeListener): () => void {
    let g = this.groups.get(prefix);
    if (!g) {
      g = { ls: new ChangeListeners(), last: undefined };
      this.groups.set(prefix, g);
      try {
        this.open();
        g.last = this.q!.hi.get() as number;
        g.ls.setLive(true);
      } catch {
        this.dataVersion = -1; // not readable now: the next poll that can read starts it
      }
    }
    const group = g;
    const stop = group.ls.add(l);
    return () => {
      stop();
      if (group.ls.size > 0 || this.groups.get(prefix) !== group) return;
      this.groups.delete(prefix);
      if (this.groups.size === 0) this.stop();
    };
  }

  private stop() {
    clearInterval(this.timer);
    if (watchers.get(this.h.path) === this) watchers.delete(this.h.path);
    if (this.db && this.db !== this.h.db) this.db.close();
    this.db = this.q = undefined;
  }

  /**
   * The watcher's connection. An in-memory database has no other connection to see it:
   * there the handle's own is read, every poll (its data_version does not move for its own
   * commits).
   */
  private open(): Database.Database {
    if (this.db?.open) return this.db;
    const db = this.h.path === ':memory:' ? this.h.db : new Database(this.h.path, { readonly: true, fileMustExist: true, timeout: 20 });
    this.q = {
      lo: db.prepare('SELECT min(seq) FROM changes').pluck(),
      hi: db.prepare('SELECT coalesce(max(seq), 0) FROM changes').pluck(),
      rows: db.prepare('SELECT seq, ns, id FROM changes WHERE prefix = ? AND seq > ? AND seq <= ? ORDER BY seq'),
    };
    this.dataVersion = -1;
    return (this.db = db);
  }

  private poll() {
    const told: [Group, CacheChange[]][] = [];
    try {
      const db = this.open();
      const own = db === this.h.db;
      const v = own ? -1 : (db.pragma('data_version', { simple: true }) as number);
      if (!own && v === this.dataVersion && this.failingSince === undefined) return;
      const q = this.q!;
      db.transaction(() => {
        const lo = q.lo.get() as number | null;
        const hi = q.hi.get() as number;
        for (const [prefix, g] of this.groups) {
          if (g.last === undefined) g.last = hi;
          else if (hi > g.last) {
            // Rows past our last one were trimmed before we read them: anything may have changed.
            const gap = lo !== null && lo > g.last + 1;
            told.push([g, gap ? [{ all: true }] : toChanges(q.rows.all(prefix, g.last, hi) as Row[])]);
            g.last = hi;
          }
        }
      }).deferred();
      this.dataVersion = v;
      this.failingSince = undefined;
    } catch {
      // Busy or unreadable for a moment: nothing is lost (the log stays), only late.
      const now = Date.now();
      this.failingSince ??= now;
      if (now - this.failingSince >= DOWN_AFTER_MS) for (const g of this.groups.values()) g.ls.setLive(false);
      return;
    }
    for (const g of this.groups.values()) if (g.last !== undefined) g.ls.setLive(true);
    for (const [g, changes] of told) for (const c of changes) g.ls.tell(c);
  }
}

const watchers = new Map<string, FileWatcher>();

/**
 * A cache store's view of its file's watcher: `close` stops what was listened through it,
 * telling those that were up that they are no more (as Redis's feed does).
 */
export class SqliteChangeFeed implements ChangeFeed {
  private readonly stops = new Map<() => void, () => void>();

  constructor(
    private readonly h: SqliteHandle,
    private readonly prefix: string,
  ) {}

  listen(l: ChangeListener) {
    let w = watchers.get(this.h.path);
    if (!w) watchers.set(this.h.path, (w = new FileWatcher(this.h)));
    let isUp = false;
    const stop = w.add(this.prefix, { change: (c) => l.change(c), up: (u) => l.up((isUp = u)) });
    const once = () => {
      if (this.stops.delete(once)) stop();
    };
    this.stops.set(once, () => {
      once();
      try {
        if (isUp) l.up(false);
      } catch {
        /* the listener's own failure (change-listeners.ts) */
      }
    });
    return once;
  }

  close() {
    for (const closing of [...this.stops.values()]) closing();
  }
}
