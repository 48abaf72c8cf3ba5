-- A claim asks for a job's ready tasks in seq order. Led by (state, run_after), the old
-- ready index made the database sort every ready task of the job on each claim; these
-- indexes hand tasks out in order, so a claim costs the same for a job of ten tasks or a
-- million.
DROP INDEX job_tasks_ready;
CREATE INDEX job_tasks_claim ON job_tasks (job_id, state, seq);
-- The age of the oldest ready task (a metric) without scanning the queue.
CREATE INDEX job_tasks_ready_age ON job_tasks (state, ready_at);
