-- Rosters: `create` may name the workers it expects. A worker that has not
-- reported yet has `updates = 0` (its current and total are placeholders);
-- its first report sets `first_seen`.
--
-- History: a bounded blob of (time, current) points per worker and of
-- (time, percent) points per job (see src/history.rs), NULL until the first
-- point. The rate is now measured over a worker's newest points, so the
-- single base point of migration 0002 goes.
ALTER TABLE workers ADD COLUMN history BLOB;
ALTER TABLE jobs ADD COLUMN history BLOB;
ALTER TABLE workers DROP COLUMN base_time;
ALTER TABLE workers DROP COLUMN base_current;
