-- When a task's successful attempt ran on its worker (the worker's clock, microseconds since
-- the Unix epoch) and for how long: what shows that no more than a job's W tasks ran at once.
-- NULL for tasks finished before this column and for reports that do not say.
ALTER TABLE job_tasks ADD COLUMN run_started_us BIGINT;
ALTER TABLE job_tasks ADD COLUMN run_us BIGINT;
