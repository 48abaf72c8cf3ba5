-- A job's sinks are read once, when its last task finishes: a scan of the job's tasks through
-- job_tasks_claim answers it, so no index needs an entry for every task nothing waits on.
DROP INDEX job_tasks_sinks;
