/**
 * The SQLite schema. Every table carries the deployment `prefix` as the first column of
 * its key, so several deployments share one file without seeing each other.
 *
 * Tables whose rows are ordered by insertion declare `seq INTEGER PRIMARY KEY`, an alias
 * of the rowid that VACUUM keeps stable.
 */
export const SCHEMA_VERSION = 4;

/** From the pre-release layout 1: one pending_args row per request, ordered by rowid. */
export const MIGRATE_FROM_1 = `
ALTER TABLE pending RENAME TO pending_v1;
ALTER TABLE pending_args RENAME TO pending_args_v1;
CREATE TABLE pending (
  prefix TEXT NOT NULL, ns TEXT NOT NULL, id TEXT NOT NULL, job_id TEXT NOT NULL,
  n INTEGER NOT NULL, cb_args TEXT NOT NULL, PRIMARY KEY (prefix, ns, id)
) WITHOUT ROWID;
CREATE TABLE pending_args (
  prefix TEXT NOT NULL, ns TEXT NOT NULL, id TEXT NOT NULL, n INTEGER NOT NULL,
  cb_args TEXT NOT NULL, PRIMARY KEY (prefix, ns, id, n)
) WITHOUT ROWID;
CREATE TEMP TABLE numbered AS
  SELECT prefix, ns, id, row_number() OVER (PARTITION BY prefix, ns, id ORDER BY seq) AS n, cb_args FROM pending_args_v1;
INSERT INTO pending (prefix, ns, id, job_id, n, cb_args)
  SELECT p.prefix, p.ns, p.id, p.job_id,
    (SELECT count(*) FROM numbered a WHERE a.prefix = p.prefix AND a.ns = p.ns AND a.id = p.id),
    coalesce((SELECT a.cb_args FROM numbered a WHERE a.prefix = p.prefix AND a.ns = p.ns AND a.id = p.id AND a.n = 1), 'null')
  FROM pending_v1 p;
INSERT INTO pending_args (prefix, ns, id, n, cb_args)
  SELECT a.prefix, a.ns, a.id, a.n, a.cb_args FROM numbered a JOIN pending p USING (prefix, ns, id) WHERE a.n > 1;
DROP TABLE numbered;
DROP TABLE pending_v1;
DROP TABLE pending_args_v1;
`;

/**
 * From layout 2: a pair's first request may be silent (no cbArgs), so `pending.cb_args`
 * becomes nullable; `pending_args` rows are keyed by request id, so a request added twice
 * counts once (rows from layout 2 get a placeholder id, unique within their pair). SQLite
 * changes neither a NOT NULL nor a key without rebuilding the table. `jobs.stalls` is added
 * by db.ts (when `jobs` exists); the new table (deliveries) comes from SCHEMA, which runs
 * after every migration.
 */
export const MIGRATE_FROM_2 = `
ALTER TABLE pending RENAME TO pending_v2;
ALTER TABLE pending_args RENAME TO pending_args_v2;
CREATE TABLE pending (
  prefix TEXT NOT NULL, ns TEXT NOT NULL, id TEXT NOT NULL, job_id TEXT NOT NULL,
  n INTEGER NOT NULL, cb_args TEXT, PRIMARY KEY (prefix, ns, id)
) WITHOUT ROWID;
CREATE TABLE pending_args (
  prefix TEXT NOT NULL, ns TEXT NOT NULL, id TEXT NOT NULL, req TEXT NOT NULL,
  n INTEGER NOT NULL, cb_args TEXT NOT NULL, PRIMARY KEY (prefix, ns, id, req)
) WITHOUT ROWID;
INSERT INTO pending (prefix, ns, id, job_id, n, cb_args) SELECT prefix, ns, id, job_id, n, cb_args FROM pending_v2;
INSERT INTO pending_args (prefix, ns, id, req, n, cb_args) SELECT prefix, ns, id, 'layout 2 #' || n, n, cb_args FROM pending_args_v2;
DROP TABLE pending_v2;
DROP TABLE pending_args_v2;
`;

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS cache (
  prefix TEXT NOT NULL,
  ns TEXT NOT NULL,
  id TEXT NOT NULL,
  value TEXT,                 -- JSON; NULL stands for undefined
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  stale_until INTEGER,
  uri TEXT,
  PRIMARY KEY (prefix, ns, id)
);
CREATE INDEX IF NOT EXISTS cache_gone ON cache (prefix, stale_until) WHERE stale_until IS NOT NULL;

-- The cache's change log (changes.ts): while a process listens to a prefix (its row in
-- change_watchers), one row per id written, deleted or marked stale, in the transaction
-- that did it; ns NULL = every entry of the prefix (a clear, which also drops the prefix's
-- earlier rows). Watchers read the rows past their last seq (a rowid range: no index); rows
-- older than a few seconds are trimmed, and changes_trim.below says where trimming reached,
-- so a watcher that fell behind it knows it missed rows. AUTOINCREMENT: a seq is never
-- handed out twice. Schema 4 added these tables: a file of schema 3 gets them from these
-- CREATEs, and a backache that would write entries without logging them refuses the file.
CREATE TABLE IF NOT EXISTS changes (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  prefix TEXT NOT NULL,
  ns TEXT,
  id TEXT,
  at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS change_watchers (
  prefix TEXT NOT NULL,
  id TEXT NOT NULL,           -- one per process and prefix listened to
  until INTEGER NOT NULL,     -- renewed while it listens; writers log for it until then
  PRIMARY KEY (prefix, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS changes_trim (
  one INTEGER PRIMARY KEY CHECK (one = 0),
  below INTEGER NOT NULL      -- every row with a seq below this one is trimmed
);

CREATE TABLE IF NOT EXISTS locks (
  prefix TEXT NOT NULL,
  ns TEXT NOT NULL,
  id TEXT NOT NULL,
  token TEXT NOT NULL,
  until INTEGER NOT NULL,
  PRIMARY KEY (prefix, ns, id)
) WITHOUT ROWID;

-- A pair's pending requests: the row holds the job id (the first request's id), the
-- first request's cbArgs and the last number handed out; the cbArgs of later requests
-- are in pending_args, keyed by request id (so a request added twice counts once) and
-- numbered 2..n in arrival order (with gaps where a request was silent or a resend).
CREATE TABLE IF NOT EXISTS pending (
  prefix TEXT NOT NULL,
  ns TEXT NOT NULL,
  id TEXT NOT NULL,
  job_id TEXT NOT NULL,
  n INTEGER NOT NULL,
  cb_args TEXT,               -- JSON; NULL when the first request was silent
  PRIMARY KEY (prefix, ns, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pending_args (
  prefix TEXT NOT NULL,
  ns TEXT NOT NULL,
  id TEXT NOT NULL,
  req TEXT NOT NULL,          -- the request's id (PendingAdd.jobId)
  n INTEGER NOT NULL,
  cb_args TEXT NOT NULL,      -- JSON
  PRIMARY KEY (prefix, ns, id, req)
) WITHOUT ROWID;

-- A job's delivery record (ports.ts Delivery): the cbArgs taken from its pair, kept from
-- the step that stored the entry (or chose quarantine) until the job is recorded. Few
-- rows at any time, so no index beyond the key.
CREATE TABLE IF NOT EXISTS deliveries (
  prefix TEXT NOT NULL,
  ns TEXT NOT NULL,
  job_id TEXT NOT NULL,
  delivery_id TEXT NOT NULL,
  kind TEXT NOT NULL,         -- 'result' | 'quarantine'
  cb_args TEXT NOT NULL,      -- JSON array
  item TEXT,                  -- JSON QuarantineItem without its cbArgs (they are cb_args)
  created_at INTEGER NOT NULL,
  PRIMARY KEY (prefix, ns, job_id)
) WITHOUT ROWID;

-- Open runs of a job: each take that began (WorkerSteps.begin) and has not ended. A run
-- whose worker died stays, which is how deaths are counted against maxStalls.
CREATE TABLE IF NOT EXISTS runs (
  prefix TEXT NOT NULL,
  ns TEXT NOT NULL,
  job_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  PRIMARY KEY (prefix, ns, job_id, run_id)
) WITHOUT ROWID;

-- state: 0 waiting, 1 delayed, 2 active, 3 completed, 4 quarantined
CREATE TABLE IF NOT EXISTS jobs (
  seq INTEGER PRIMARY KEY,
  prefix TEXT NOT NULL,
  id TEXT NOT NULL,
  op TEXT NOT NULL,
  state INTEGER NOT NULL,
  priority INTEGER NOT NULL,
  run_at INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  data TEXT NOT NULL,         -- JSON JobData
  owner TEXT,
  lease_until INTEGER,
  outcome TEXT,               -- JSON JobState once finished
  finished_at INTEGER,
  stalls INTEGER NOT NULL DEFAULT 0, -- leases that ran out; last, where migration adds it
  UNIQUE (prefix, id)
);
CREATE INDEX IF NOT EXISTS jobs_waiting ON jobs (prefix, op, priority, run_at) WHERE state = 0;
CREATE INDEX IF NOT EXISTS jobs_delayed ON jobs (prefix, op, run_at) WHERE state = 1;
CREATE INDEX IF NOT EXISTS jobs_active ON jobs (prefix, op, lease_until) WHERE state = 2;
CREATE INDEX IF NOT EXISTS jobs_finished ON jobs (prefix, finished_at) WHERE state >= 3;

CREATE TABLE IF NOT EXISTS paused (
  prefix TEXT NOT NULL,
  op TEXT NOT NULL,
  PRIMARY KEY (prefix, op)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS quarantine (
  prefix TEXT NOT NULL,
  id TEXT NOT NULL,
  op TEXT NOT NULL,
  uri TEXT NOT NULL,
  last_failed_at INTEGER NOT NULL,
  item TEXT NOT NULL,         -- JSON QuarantineItem
  PRIMARY KEY (prefix, id)
);
CREATE INDEX IF NOT EXISTS quarantine_newest ON quarantine (prefix, last_failed_at, id);
CREATE INDEX IF NOT EXISTS quarantine_op ON quarantine (prefix, op, last_failed_at, id);
CREATE INDEX IF NOT EXISTS quarantine_uri ON quarantine (prefix, uri);

CREATE TABLE IF NOT EXISTS workers (
  prefix TEXT NOT NULL,
  id TEXT NOT NULL,
  until INTEGER NOT NULL,
  info TEXT NOT NULL,         -- JSON WorkerInfo
  PRIMARY KEY (prefix, id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS counters (
  prefix TEXT NOT NULL,
  op TEXT NOT NULL,
  name TEXT NOT NULL,
  value INTEGER NOT NULL,
  PRIMARY KEY (prefix, op, name)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS durations (
  prefix TEXT NOT NULL,
  op TEXT NOT NULL,
  ms TEXT NOT NULL,           -- JSON array, the most recent window
  PRIMARY KEY (prefix, op)
);
`;
