-- A filter by label and status reads one index range: each label pair carries its task's
-- status, kept in step by a trigger on every status change (the done rule's cascades
-- included) and set from the task when the pair is written.
ALTER TABLE tree_task_labels ADD COLUMN status TEXT NOT NULL DEFAULT 'todo';
UPDATE tree_task_labels
    SET status = (SELECT t.status FROM tree_tasks t WHERE t.id = tree_task_labels.task_id);
CREATE INDEX tree_task_labels_status ON tree_task_labels (label, status, task_id);
CREATE TRIGGER tree_task_labels_follow_status AFTER UPDATE OF status ON tree_tasks
    WHEN old.status IS NOT new.status AND new.labels <> '' BEGIN
    UPDATE tree_task_labels SET status = new.status WHERE task_id = new.id;
END;
