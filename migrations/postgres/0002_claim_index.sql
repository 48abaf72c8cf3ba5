-- A claim asks for a job's ready tasks in seq order. With (job_id, state) alone the
-- database sorted every ready task of the job on each claim; this index hands them out in
-- order, so a claim costs the same for a job of ten tasks or a million.
CREATE INDEX job_tasks_claim ON job_tasks (job_id, state, seq);
