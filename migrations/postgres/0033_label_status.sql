-- A filter by label and status reads one index range: each label pair carries its task's
-- status, kept in step by a trigger on every status change (the done rule's cascades
-- included) and set from the task when the pair is written.
ALTER TABLE tree_task_labels ADD COLUMN status TEXT NOT NULL DEFAULT 'todo';
UPDATE tree_task_labels l SET status = t.status FROM tree_tasks t WHERE t.id = l.task_id;
CREATE INDEX tree_task_labels_status ON tree_task_labels (label, status, task_id);
CREATE FUNCTION tree_task_labels_follow_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE tree_task_labels SET status = NEW.status WHERE task_id = NEW.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER tree_task_labels_follow_status AFTER UPDATE OF status ON tree_tasks
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status AND NEW.labels <> '')
    EXECUTE FUNCTION tree_task_labels_follow_status();

-- A search scans the whole list of trigram entries still pending (GIN's fast update) on
-- every query: a small list keeps a rare word's search at index speed between vacuums.
ALTER INDEX tree_tasks_title_trgm SET (gin_pending_list_limit = 256);
ALTER INDEX tree_tasks_notes_trgm SET (gin_pending_list_limit = 256);
