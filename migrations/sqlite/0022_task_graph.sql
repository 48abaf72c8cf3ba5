-- A job's tasks form a graph: a task may wait on several tasks and feed several. An edge says
-- that task_id waits on dep_id and takes its output as input number ord (sub orders the tasks
-- a completion added in one place). Edges replace job_tasks.parent_id, which new tasks leave
-- NULL. fan_out counts the tasks waiting on a task: a task nothing waits on is a sink, and a
-- job's result is made of its sinks' outputs.
CREATE TABLE job_task_deps (
    job_id  TEXT NOT NULL,
    task_id TEXT NOT NULL,
    dep_id  TEXT NOT NULL,
    ord     BIGINT NOT NULL,
    sub     BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, task_id, ord, sub)
);
CREATE INDEX job_task_deps_dep ON job_task_deps (dep_id);
INSERT INTO job_task_deps (job_id, task_id, dep_id, ord, sub)
    SELECT job_id, parent_id, id, seq, 0 FROM job_tasks WHERE parent_id IS NOT NULL;
ALTER TABLE job_tasks ADD COLUMN fan_out BIGINT NOT NULL DEFAULT 0;
UPDATE job_tasks SET fan_out = 1 WHERE parent_id IS NOT NULL;
CREATE INDEX job_tasks_sinks ON job_tasks (job_id, seq) WHERE fan_out = 0;
