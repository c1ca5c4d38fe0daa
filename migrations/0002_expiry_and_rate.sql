-- Expiry: `expires` = updated + maxage, indexed so the expiry thread finds
-- expired jobs without scanning the table.
ALTER TABLE jobs ADD COLUMN expires REAL NOT NULL DEFAULT 0;
UPDATE jobs SET expires = updated + maxage;
CREATE INDEX jobs_by_expiry ON jobs(expires);

-- Rate: the (time, current) point a worker's rate is measured from. It is
-- the worker's first update, moved forward whenever `current` goes backwards
-- (a restarted worker), so the rate never mixes two runs.
ALTER TABLE workers ADD COLUMN base_time REAL NOT NULL DEFAULT 0;
ALTER TABLE workers ADD COLUMN base_current REAL NOT NULL DEFAULT 0;
UPDATE workers SET base_time = updated, base_current = current;
