-- Every change of a task's state rewrites the index entries that contain the state. Indexes
-- that only serve one state now hold only the rows in that state, and the (job_id, state)
-- index goes: job_tasks_claim (job_id, state, seq) answers the same lookups.
DROP INDEX job_tasks_job;
DROP INDEX job_tasks_lease;
DROP INDEX job_tasks_owner;
DROP INDEX job_tasks_worker;
DROP INDEX job_tasks_ready_age;
DROP INDEX job_tasks_finished;
-- The reaper's scan of expired leases, and a worker's active tasks.
CREATE INDEX job_tasks_lease ON job_tasks (lease_expires_at) WHERE state = 'leased';
CREATE INDEX job_tasks_owner ON job_tasks (lease_owner) WHERE state = 'leased';
-- Tasks a worker completed.
CREATE INDEX job_tasks_worker ON job_tasks (worker_id) WHERE state = 'done';
-- The age of the oldest ready task.
CREATE INDEX job_tasks_ready_age ON job_tasks (ready_at) WHERE state = 'ready';
-- A job's throughput over time.
CREATE INDEX job_tasks_finished ON job_tasks (job_id, finished_at) WHERE state = 'done';
-- How many tasks feed this one (fixed at planning): a claim reads inputs only for these.
ALTER TABLE job_tasks ADD COLUMN fan_in INTEGER NOT NULL DEFAULT 0;
UPDATE job_tasks SET fan_in = (SELECT COUNT(*) FROM job_tasks c WHERE c.parent_id = job_tasks.id);
