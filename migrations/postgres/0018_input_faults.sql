-- A task that failed for good because its input was wrong (the runner said retrying could
-- not help: a bad tree file, a missing parent) rather than because of the worker running
-- it. Such failures fail their job as before but do not count against the worker's success
-- rate on the dashboards.
ALTER TABLE job_tasks ADD COLUMN input_fault BOOLEAN NOT NULL DEFAULT FALSE;
