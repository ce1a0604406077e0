import Database from 'better-sqlite3';
import type { CacheChange, ChangeFeed, ChangeListener } from '../../ports.js';
import { ChangeListeners } from '../change-listeners.js';
import { newId } from '../../hash.js';
import type { SqliteHandle } from './db.js';

/**
 * The SQLite cache's change feed (ports.ts ChangeFeed). SQLite has no pub/sub, so writes of
 * the `cache` table add rows to the `changes` log (schema.ts) in their own transaction, and
 * each process runs one watcher per file that notices commits (its own included) and reads
 * the rows past the last it read.
 *
 * The log is written only while someone listens to the prefix: a watcher registers in
 * `change_watchers` (renewed while it runs) before it counts as up, and a write looks there
 * inside its transaction, so a deployment without listeners (no `l1`, the default) pays one
 * indexed read per write, not a row per id. Writers are serialised, so every write that
 * commits after the registration sees it. A clear drops its prefix's earlier rows: a watcher
 * that had not read them yet hears only the `all`, which covers them.
 */

/**
 * The log keeps about this much history: a watcher that fell further behind (its event loop
 * blocked that long, its process suspended) hears `all`. Watchers read every POLL_MS, so
 * seconds are plenty; the log costs about 80 bytes per id changed in the window.
 */
const KEEP_MS = 10_000;
/** Trim the log every this many rows recorded (per connection). */
const TRIM_EVERY = 1000;
/** How often a watcher looks at PRAGMA data_version (a read of shared memory, no I/O). */
const POLL_MS = 15;
/** Reads that keep failing this long tell the listeners the feed is down. */
const DOWN_AFTER_MS = 200;
/** A registration lasts this long (a watcher that died stops being written for after it)… */
const REGISTERED_MS = 30_000;
/** …and is renewed this often. */
const RENEW_MS = 10_000;

const recorded = new WeakMap<SqliteHandle, number>();

/**
 * Log changed ids of `prefix` (`keys` null: every entry of the prefix, a clear, which makes
 * the prefix's earlier rows moot: they go), if anyone listens to it; runs inside the
 * caller's write transaction, so the rows commit with the change they tell of.
 */
export function recordChanges(h: SqliteHandle, prefix: string, keys: { ns: string; id: string }[] | null) {
  if (keys?.length === 0) return;
  const at = Date.now();
  if (h.pluck('SELECT 1 FROM change_watchers WHERE prefix = ? AND until > ? LIMIT 1').get(prefix, at) === undefined) return;
  let n = 1;
  if (keys === null) {
    h.stmt('DELETE FROM changes WHERE prefix = ?').run(prefix);
    h.stmt('INSERT INTO changes (prefix, ns, id, at) VALUES (?, NULL, NULL, ?)').run(prefix, at);
  } else {
    const params: unknown[] = [];
    for (const k of keys) params.push(prefix, k.ns, k.id, at);
    h.many('INSERT INTO changes (prefix, ns, id, at)', '(?, ?, ?, ?)', '', params, 4);
    n = keys.length;
  }
  const total = (recorded.get(h) ?? 0) + n;
  if (total < TRIM_EVERY) return void recorded.set(h, total);
  recorded.set(h, 0);
  // Rows are appended in time order, so the old ones are the first: up to the first young one.
  const below = h.pluck('SELECT seq FROM changes WHERE at >= ? ORDER BY seq LIMIT 1').get(at - KEEP_MS) as number | undefined;
  if (below === undefined) return; // the clock went back: trim next time
  h.stmt('DELETE FROM changes WHERE seq < ?').run(below);
  h.stmt('INSERT INTO changes_trim (one, below) VALUES (0, ?) ON CONFLICT (one) DO UPDATE SET below = max(below, excluded.below)').run(below);
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
  prefix: string;
  /** This group's row in change_watchers. */
  id: string;
  ls: ChangeListeners;
  /** The last seq read for this prefix; undefined until registered. */
  last: number | undefined;
  /** Until when the registration holds (writers log for us until then). */
  until: number;
  renewing: boolean;
}

/**
 * One file's watcher in this process: a read-only connection of its own (PRAGMA
 * data_version moves on a commit by any other connection, including this process's
 * writing one), looked at every POLL_MS; only when it moved, the log is read for each
 * prefix listened to. It runs while someone listens.
 */
class FileWatcher {
  private db: Database.Database | undefined;
  private q: { below: Database.Statement; hi: Database.Statement; rows: Database.Statement; read: Database.Transaction<(fn: () => void) => void> } | undefined;
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
      g = { prefix, id: newId(), ls: new ChangeListeners(), last: undefined, until: 0, renewing: false };
      this.groups.set(prefix, g);
      this.register(g);
    }
    const group = g;
    const stop = group.ls.add(l);
    return () => {
      stop();
      if (group.ls.size > 0 || this.groups.get(prefix) !== group) return;
      this.groups.delete(prefix);
      this.h.writeSoon(() => this.h.stmt('DELETE FROM change_watchers WHERE prefix = ? AND id = ?').run(prefix, group.id)).catch(() => {
        /* closed: it runs out by itself */
      });
      if (this.groups.size === 0) this.stop();
    };
  }

  /**
   * Register (or renew) a group. The first time, its start is the log's last seq as the
   * registration commits: every later write logs for it. A renewal that comes after the
   * registration ran out (an event loop blocked for long) may have missed writes: `all`.
   */
  private register(g: Group) {
    g.renewing = true;
    this.h
      .writeSoon(() => {
        const now = Date.now();
        const until = now + REGISTERED_MS;
        this.h.stmt('INSERT INTO change_watchers (prefix, id, until) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET until = excluded.until').run(g.prefix, g.id, until);
        this.h.stmt('DELETE FROM change_watchers WHERE until < ?').run(now - REGISTERED_MS); // of dead processes
        const hi = this.h.pluck("SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0)").get() as number;
        return { until, hi, lapsed: g.last !== undefined && now >= g.until };
      })
      .then(
        ({ until, hi, lapsed }) => {
          g.renewing = false;
          if (this.groups.get(g.prefix) !== g) return;
          g.until = until;
          if (g.last === undefined) g.last = hi;
          if (this.failingSince === undefined) g.ls.setLive(true);
          if (lapsed) g.ls.tell({ all: true });
        },
        () => {
          g.renewing = false; // busy or closing: the next poll tries again
        },
      );
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
      below: db.prepare('SELECT coalesce(max(below), 0) FROM changes_trim').pluck(),
      // The last seq handed out (sqlite_sequence keeps it whatever trimming and clears removed).
      hi: db.prepare("SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0)").pluck(),
      rows: db.prepare('SELECT seq, ns, id FROM changes WHERE prefix = ? AND seq > ? AND seq <= ? ORDER BY seq'),
      read: db.transaction((fn: () => void) => fn()),
    };
    this.dataVersion = -1;
    return (this.db = db);
  }

  private poll() {
    const now = Date.now();
    for (const g of this.groups.values()) {
      if (g.renewing) continue;
      if (g.last !== undefined && now >= g.until) g.ls.setLive(false); // writers may have stopped logging for us
      if (g.last === undefined || now >= g.until - REGISTERED_MS + RENEW_MS) this.register(g);
    }
    const told: [Group, CacheChange[]][] = [];
    try {
      const db = this.open();
      const own = db === this.h.db;
      const v = own ? -1 : (db.pragma('data_version', { simple: true }) as number);
      if (!own && v === this.dataVersion && this.failingSince === undefined) return;
      const q = this.q!;
      q.read.deferred(() => {
        const below = q.below.get() as number;
        const hi = q.hi.get() as number;
        for (const g of this.groups.values()) {
          if (g.last === undefined || hi <= g.last) continue;
          // Rows past our last one were trimmed before we read them: anything may have changed.
          const gap = below > g.last + 1;
          told.push([g, gap ? [{ all: true }] : toChanges(q.rows.all(g.prefix, g.last, hi) as Row[])]);
          g.last = hi;
        }
      });
      this.dataVersion = v;
      this.failingSince = undefined;
    } catch {
      // Busy or unreadable for a moment: nothing is lost (the log stays), only late.
      this.failingSince ??= now;
      if (now - this.failingSince >= DOWN_AFTER_MS) for (const g of this.groups.values()) g.ls.setLive(false);
      return;
    }
    for (const g of this.groups.values()) if (g.last !== undefined && now < g.until) g.ls.setLive(true);
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
