-- Notifications (src/store/notices.rs, src/notify.rs): a job may ask
-- (`create … notify=`) that its events be announced to the webhooks the
-- operator configured (`--notify-url`).
--
-- `notify` holds the events the job asked for and `notified` the job-wide
-- ones raised already (bits: 1 finished, 2 a worker failed, 4 a worker went
-- stale, 8 expired unfinished), so a job is announced finished once.
ALTER TABLE jobs ADD COLUMN notify INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN notified INTEGER NOT NULL DEFAULT 0;
-- The time up to which the stale scan has looked at the job's workers: the
-- next scan reads only those that turned stale since (by the stale-minute
-- index of 0006), so each stale spell is announced once, and a worker
-- that reports and stops again, in a later spell, is announced again.
ALTER TABLE jobs ADD COLUMN stale_scanned REAL NOT NULL DEFAULT 0;
-- The stale scan reads only the jobs that asked.
CREATE INDEX jobs_notifying ON jobs(id) WHERE notify <> 0;

-- Each event, raised in the transaction of the write that caused it, with
-- what its message says (the job may be gone by the time it is sent).
-- AUTOINCREMENT: an id is never used twice, so a target's cursor past it
-- stays past it.
CREATE TABLE notices (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          REAL NOT NULL,     -- when it happened
    job         INTEGER NOT NULL,  -- jobs.id then (the row may be gone)
    jobid       TEXT NOT NULL,
    title       TEXT NOT NULL,
    kind        TEXT NOT NULL,     -- finished, failed, stale, expired
    workid      TEXT,              -- the worker, for failed and stale
    desc        TEXT,              -- its desc then
    more        INTEGER NOT NULL DEFAULT 0,  -- like events folded into this one
    workers     INTEGER NOT NULL,  -- the job's counts then
    done        INTEGER NOT NULL,
    failed      INTEGER NOT NULL,
    running     INTEGER NOT NULL,
    not_started INTEGER NOT NULL
);
CREATE INDEX notices_by_job ON notices(job, kind);

-- For each configured target (its URL), the last notice it took; a notice
-- every target has taken is deleted.
CREATE TABLE notice_cursors (
    target TEXT PRIMARY KEY,
    sent   INTEGER NOT NULL
);
