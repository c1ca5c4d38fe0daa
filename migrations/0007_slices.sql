-- Big writes in slices (src/store/slices.rs): a roster of 100,000 workers
-- is inserted, and a deleted job's workers are deleted, a slice at a time
-- between the writer's batches, so that no update waits behind them.

-- Jobs deleted (by `delete`, by expiry, or replaced by a new `create`)
-- whose worker rows are still being deleted. Their `jobs` and
-- `job_tallies` rows are gone already, so no reader sees them. A new job
-- takes an id above every one here (SQLite would reuse the largest id), so
-- their rows never show in another job.
CREATE TABLE doomed_jobs (
    job INTEGER PRIMARY KEY     -- the deleted job's id
);

-- Roster workers not inserted yet, in chunks that a slice inserts whole,
-- in order. A chunk names the ids `first` to `first + size - 1`
-- (`workers=N`), or, when `ids` is set (`workids=`), the ids in it, each
-- between two newlines. `waiting` counts those that have no row yet: an
-- update may insert one before its slice comes.
CREATE TABLE roster_chunks (
    job     INTEGER NOT NULL,   -- jobs.id; deleted with its job
    first   INTEGER NOT NULL,   -- the place of its first id in the roster
    size    INTEGER NOT NULL,
    ids     TEXT,
    waiting INTEGER NOT NULL,
    PRIMARY KEY (job, first)
) WITHOUT ROWID;

-- A roster row (not reported yet: `updates = 0`) is tallied by whoever
-- inserts it, once per chunk, rather than by this trigger once per row:
-- 100,000 roster rows took 415 ms of CPU with it, 345 ms without (in
-- chunks of 500; on the 2-core machine of issue 12).
DROP TRIGGER workers_tally_insert;
CREATE TRIGGER workers_tally_insert AFTER INSERT ON workers WHEN NEW.updates > 0 BEGIN
    UPDATE job_tallies
       SET workers = workers + 1,
           running = running + (NEW.state = 'running'),
           done = done + (NEW.state = 'done'),
           failed = failed + (NEW.state = 'failed'),
           percent_micro = percent_micro + NEW.percent_micro,
           last_report = MAX(COALESCE(last_report, NEW.updated), NEW.updated)
     WHERE job = NEW.job;
END;

-- Worker rows are deleted only after their job, whose tallies are gone
-- with it: the trigger had nothing to keep, and its empty UPDATE per row
-- took a sixth of a deletion's time (100,000 rows: 345 ms of CPU with it,
-- 295 ms without). Code that deletes a worker of a live job must update
-- its tallies itself.
DROP TRIGGER workers_tally_delete;
