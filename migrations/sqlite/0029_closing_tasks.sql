-- A task may wait on every other task of its job without an edge to each (a closing task):
-- it becomes ready once all the others are done, and a job with closing tasks has them as
-- its only sinks. jobs.closers counts them.
ALTER TABLE job_tasks ADD COLUMN after_all BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE jobs ADD COLUMN closers BIGINT NOT NULL DEFAULT 0;
CREATE INDEX job_tasks_closers ON job_tasks (job_id, seq) WHERE after_all;
