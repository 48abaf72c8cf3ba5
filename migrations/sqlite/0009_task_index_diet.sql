-- A worker's active tasks are few (at most its slots): the lease index, which holds only
-- leased tasks, finds them, so no index on the holder needs rewriting at every claim.
DROP INDEX job_tasks_owner;
