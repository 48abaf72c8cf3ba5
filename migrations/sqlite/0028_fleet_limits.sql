-- Fleet-wide limits: a task leased for a handler whose worker declared a limit records the
-- limit's key, and a claim counts the leased tasks under a key before it leases more.
ALTER TABLE job_tasks ADD COLUMN limit_key TEXT;
CREATE INDEX job_tasks_limited ON job_tasks (limit_key) WHERE state = 'leased' AND limit_key IS NOT NULL;
