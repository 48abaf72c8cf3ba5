-- A job's sinks are read once, when its last task finishes: a scan of the job's tasks through
-- job_tasks_claim answers it, so no index needs an entry for every task nothing waits on.
-- Every update of a task writes an entry into each index whose predicate its new version
-- meets, so an index that no query reads costs each claim and each completion.
DROP INDEX job_tasks_sinks;
-- Inputs are read through job_task_deps since the task graph; parent_id is no longer set.
DROP INDEX job_tasks_inputs;
