-- How many workers a job's roster named (`create … workers=N` or
-- `workids=…`; 0 without one). A roster worker's row loses every mark of
-- the roster at its first report, so without this the show page could not
-- tell workers that report outside the roster (a job that expected ids
-- 0..N-1 hearing from rank1..rankN) from roster workers that report.
ALTER TABLE jobs ADD COLUMN roster INTEGER NOT NULL DEFAULT 0;
