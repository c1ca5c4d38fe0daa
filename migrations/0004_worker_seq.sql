-- Retry-safe updates: the highest `seq` a worker has reported (NULL while it
-- has sent none). An update with a lower `seq` is acknowledged but not
-- applied, so a retried or late request never moves a bar backwards.
ALTER TABLE workers ADD COLUMN seq INTEGER;
