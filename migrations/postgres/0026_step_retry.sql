-- A workflow step may set its own retry policy: most attempts (NULL: the job's) and the
-- backoff between them (NULL: the server's). Tasks a step adds at run time (a map's
-- children) take the policy of the step that added them.
ALTER TABLE job_tasks ADD COLUMN max_attempts BIGINT;
ALTER TABLE job_tasks ADD COLUMN backoff_base_ms BIGINT;
ALTER TABLE job_tasks ADD COLUMN backoff_max_ms BIGINT;
