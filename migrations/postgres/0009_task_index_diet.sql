-- Every claim and completion writes a new row version and an entry in each index whose
-- predicate the new version matches. Indexes that serve one kind of lookup now hold only
-- the rows that lookup can find.
--
-- A worker's active tasks are few (at most its slots): the lease index, which holds only
-- leased tasks, finds them.
DROP INDEX job_tasks_owner;
-- The only lookup by parent is a claim reading the outputs of a task's finished inputs.
DROP INDEX job_tasks_parent;
CREATE INDEX job_tasks_inputs ON job_tasks (parent_id, seq) WHERE state = 'done';
-- The store writes a job's tasks with the job and deletes them before it (in one
-- transaction, with the job row locked), so the foreign keys only cost a check per insert.
ALTER TABLE job_tasks DROP CONSTRAINT job_tasks_job_id_fkey;
ALTER TABLE job_tasks DROP CONSTRAINT job_tasks_parent_id_fkey;
