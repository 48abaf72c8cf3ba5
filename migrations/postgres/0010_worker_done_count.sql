-- Each worker counts the job tasks it has completed, in the same transaction that marks
-- them done, instead of an index of done tasks by worker that every completion wrote to.
ALTER TABLE workers ADD COLUMN tasks_done BIGINT NOT NULL DEFAULT 0;
UPDATE workers SET tasks_done = (SELECT COUNT(*) FROM job_tasks t
  WHERE t.worker_id = workers.id AND t.state = 'done');
DROP INDEX job_tasks_worker;
