-- Jobs and the workers that report to them.
-- Times are Unix seconds as REAL (sub-second precision for rates).
CREATE TABLE jobs (
    id      INTEGER PRIMARY KEY,
    jobid   TEXT NOT NULL UNIQUE,   -- exactly as the client sent it, after URL decoding
    desc    TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    updated REAL NOT NULL,          -- last activity: create or any update
    maxage  REAL NOT NULL           -- seconds after `updated` when the job may be deleted
);

CREATE TABLE workers (
    job        INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    workid     TEXT NOT NULL,
    current    REAL NOT NULL,
    total      REAL NOT NULL,
    ok         INTEGER NOT NULL,    -- 0 = failed
    desc       TEXT NOT NULL DEFAULT '',
    first_seen REAL NOT NULL,
    updated    REAL NOT NULL,
    PRIMARY KEY (job, workid)
) WITHOUT ROWID;
