-- Scale: jobs of 100,000 workers, databases of 1,000,000 worker rows.
--
-- The workers table is rebuilt to add three things a big job needs, and to
-- drop the cascade from jobs (the writer deletes a job's workers itself, so
-- that it can do it in slices):
--
-- * `sortkey`: the workid's natural-order key (see `model::natural_key`),
--   which is the key of the table (it is as unique as the workid), so a
--   job's workers are stored in natural order and read a page at a time,
--   in order, without an index to go through or a sort.
-- * `state`: the worker's state as the model defines it (`WorkerState`),
--   derived from its row, and `stale_at`, the time a running worker turns
--   stale (`Worker::stale_at`). Running workers are indexed by the minute
--   they turn stale (`stale_minute`, kept by a trigger), so stale ones are
--   counted without reading the others. An index on `stale_at` itself would
--   move with every report (it doubled the writer's time per update); the
--   minute moves about once a minute.
-- * `percent_micro`: its percent in millionths, summed exactly into
--   `job_tallies` by triggers.
--
-- Both derived columns are plain SQL, so the file stays readable and
-- writable by the sqlite3 shell; a unit test checks they agree with the
-- model on awkward values.
CREATE TABLE workers_scaled (
    job        INTEGER NOT NULL,    -- jobs.id; deleted with its job, by the writer
    workid     TEXT NOT NULL,
    sortkey    BLOB NOT NULL,       -- natural_key(workid)
    current    REAL NOT NULL,
    total      REAL NOT NULL,
    ok         INTEGER NOT NULL,
    desc       TEXT NOT NULL DEFAULT '',
    first_seen REAL NOT NULL,
    updated    REAL NOT NULL,
    updates    INTEGER NOT NULL DEFAULT 1,
    seq        INTEGER,
    history    BLOB,
    state      TEXT GENERATED ALWAYS AS (
                   CASE WHEN updates = 0 THEN 'not_started'
                        WHEN NOT ok THEN 'failed'
                        WHEN current >= total THEN 'done'
                        ELSE 'running' END) STORED,
    stale_at   REAL GENERATED ALWAYS AS (
                   updated + MAX(CASE WHEN updates >= 2
                                      THEN 5.0 * ((updated - first_seen) / (updates - 1))
                                      ELSE 0.0 END,
                                 120.0)) STORED,
    stale_minute INTEGER,           -- CAST(stale_at / 60 AS INTEGER) while running, else NULL
    percent_micro INTEGER GENERATED ALWAYS AS (
                   CASE WHEN updates = 0 THEN 0
                        WHEN total <= 0 OR current >= total THEN 100000000
                        -- As the model: scaled first, unless scaling overflows
                        -- (9e999 is SQLite's infinity).
                        WHEN current * 100.0 < 9e999
                        THEN MIN(CAST(ROUND(current * 100.0 / total * 1000000.0) AS INTEGER),
                                 99999999)
                        ELSE MIN(CAST(ROUND(current / total * 100.0 * 1000000.0) AS INTEGER),
                                 99999999) END) STORED,
    PRIMARY KEY (job, sortkey)
) WITHOUT ROWID;

INSERT INTO workers_scaled (job, workid, sortkey, current, total, ok, desc, first_seen,
                            updated, updates, seq, history)
     SELECT job, workid, natural_key(workid), current, total, ok, desc, first_seen,
            updated, updates, seq, history
       FROM workers;
DROP TABLE workers;
ALTER TABLE workers_scaled RENAME TO workers;
UPDATE workers SET stale_minute = CAST(stale_at / 60 AS INTEGER) WHERE state = 'running';
CREATE INDEX workers_by_stale_minute ON workers(job, stale_minute);

-- The minute changes only when a worker's state or stale_at moves it, so
-- the index above is rewritten about once a minute for a worker that
-- reports every few seconds, not at every report.
CREATE TRIGGER workers_stale_minute_insert AFTER INSERT ON workers
  WHEN NEW.state = 'running' BEGIN
    UPDATE workers SET stale_minute = CAST(NEW.stale_at / 60 AS INTEGER)
     WHERE job = NEW.job AND sortkey = NEW.sortkey;
END;
CREATE TRIGGER workers_stale_minute_update
  AFTER UPDATE OF current, total, ok, updates, updated, first_seen ON workers
  WHEN (CASE WHEN NEW.state = 'running' THEN CAST(NEW.stale_at / 60 AS INTEGER) END)
       IS NOT OLD.stale_minute BEGIN
    UPDATE workers
       SET stale_minute = CASE WHEN NEW.state = 'running'
                               THEN CAST(NEW.stale_at / 60 AS INTEGER) END
     WHERE job = NEW.job AND sortkey = NEW.sortkey;
END;

-- What the job list shows of each job, kept exact by the triggers below so
-- that listing 10,000 jobs reads 10,000 rows, not their workers. `running`
-- counts stale workers too (staleness comes with time, not with a write):
-- the stale-minute index counts those apart.
CREATE TABLE job_tallies (
    job           INTEGER PRIMARY KEY,  -- jobs.id
    workers       INTEGER NOT NULL DEFAULT 0,
    not_started   INTEGER NOT NULL DEFAULT 0,
    running       INTEGER NOT NULL DEFAULT 0,
    done          INTEGER NOT NULL DEFAULT 0,
    failed        INTEGER NOT NULL DEFAULT 0,
    percent_micro INTEGER NOT NULL DEFAULT 0,  -- sum over the workers
    last_report   REAL                          -- latest report, NULL before one
);
INSERT INTO job_tallies (job) SELECT id FROM jobs;
UPDATE job_tallies
   SET (workers, not_started, running, done, failed, percent_micro, last_report) =
       (SELECT COUNT(*), TOTAL(state = 'not_started'), TOTAL(state = 'running'),
               TOTAL(state = 'done'), TOTAL(state = 'failed'), TOTAL(percent_micro),
               MAX(CASE WHEN updates > 0 THEN updated END)
          FROM workers WHERE workers.job = job_tallies.job);

CREATE TRIGGER jobs_tally_start AFTER INSERT ON jobs BEGIN
    INSERT INTO job_tallies (job) VALUES (NEW.id);
END;
CREATE TRIGGER jobs_tally_end AFTER DELETE ON jobs BEGIN
    DELETE FROM job_tallies WHERE job = OLD.id;
END;
CREATE TRIGGER workers_tally_insert AFTER INSERT ON workers BEGIN
    UPDATE job_tallies
       SET workers = workers + 1,
           not_started = not_started + (NEW.state = 'not_started'),
           running = running + (NEW.state = 'running'),
           done = done + (NEW.state = 'done'),
           failed = failed + (NEW.state = 'failed'),
           percent_micro = percent_micro + NEW.percent_micro,
           last_report = CASE WHEN NEW.updates > 0
                              THEN MAX(COALESCE(last_report, NEW.updated), NEW.updated)
                              ELSE last_report END
     WHERE job = NEW.job;
END;
CREATE TRIGGER workers_tally_update
  AFTER UPDATE OF current, total, ok, updates, updated ON workers BEGIN
    UPDATE job_tallies
       SET not_started = not_started + (NEW.state = 'not_started') - (OLD.state = 'not_started'),
           running = running + (NEW.state = 'running') - (OLD.state = 'running'),
           done = done + (NEW.state = 'done') - (OLD.state = 'done'),
           failed = failed + (NEW.state = 'failed') - (OLD.state = 'failed'),
           percent_micro = percent_micro + NEW.percent_micro - OLD.percent_micro,
           last_report = CASE WHEN NEW.updates > 0
                              THEN MAX(COALESCE(last_report, NEW.updated), NEW.updated)
                              ELSE last_report END
     WHERE job = NEW.job;
END;
CREATE TRIGGER workers_tally_delete AFTER DELETE ON workers BEGIN
    UPDATE job_tallies
       SET workers = workers - 1,
           not_started = not_started - (OLD.state = 'not_started'),
           running = running - (OLD.state = 'running'),
           done = done - (OLD.state = 'done'),
           failed = failed - (OLD.state = 'failed'),
           percent_micro = percent_micro - OLD.percent_micro
     WHERE job = OLD.job;
END;

-- The job list reads the most recently active jobs first.
CREATE INDEX jobs_by_activity ON jobs(updated);

-- The time the writer gave its last committed batch. Times the writer
-- gives never go backwards, so a reader that sees this value has seen
-- every row stamped at or before it: `status?since=` starts from it.
CREATE TABLE writer_clock (stamp REAL NOT NULL);
INSERT INTO writer_clock (stamp) SELECT COALESCE(MAX(updated), 0) FROM jobs;
