-- How many reports each worker has sent, for its usual gap between reports
-- (first_seen to updated, divided by updates - 1), from which the show page
-- judges a silent worker stale.
ALTER TABLE workers ADD COLUMN updates INTEGER NOT NULL DEFAULT 1;
