-- Prefetch: a worker slot may lease several ready tasks of a job at once, as one batch that
-- the slot runs one task after another. A leased task names its batch (the id of the
-- batch's first task; a task leased alone names itself), and a job's concurrency bounds the
-- batches it has leased, so it still bounds the tasks running at once. The column means
-- something only while the task is leased.
ALTER TABLE job_tasks ADD COLUMN lease_batch TEXT;
-- How long the job's tasks have been running on their workers (a moving average, in
-- microseconds; NULL until one reported it): what sizes its batches.
ALTER TABLE jobs ADD COLUMN task_us BIGINT;
