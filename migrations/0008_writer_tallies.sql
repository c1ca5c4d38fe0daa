-- The writer keeps `job_tallies` and `stale_minute` for the reports it
-- stores (src/store/tallies.rs), once per operation rather than by these
-- triggers once per row, which ran a nested program for every report.
-- Rosters tally their rows per chunk as before, and worker rows are
-- deleted only after their job.
-- A worker row changed outside progressd (the sqlite3 shell) no longer
-- moves its job's tallies.
DROP TRIGGER workers_tally_insert;
DROP TRIGGER workers_tally_update;
DROP TRIGGER workers_stale_minute_insert;
DROP TRIGGER workers_stale_minute_update;
