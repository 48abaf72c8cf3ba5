-- Task trees: a forest of any depth. Each task keeps the roll-up of its direct children
-- (child_count, done_count) so a listing never counts grandchildren. Siblings sort by
-- (position, id); positions are spaced out so inserts rarely renumber.
-- parent_id names another task or is NULL for a root. It is kept true by the code that
-- writes (every create and move checks the parent; a delete takes the whole subtree), not
-- by a foreign key, whose checks would double the cost of a large import.
CREATE TABLE tree_tasks (
    id          TEXT PRIMARY KEY,
    parent_id   TEXT,
    position    BIGINT NOT NULL,
    title       TEXT NOT NULL,
    notes       TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL CHECK (status IN ('todo', 'doing', 'done')),
    child_count BIGINT NOT NULL DEFAULT 0,
    done_count  BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX tree_tasks_children ON tree_tasks (parent_id, position, id);

-- Progress inside a job's tasks, for jobs made of few long tasks (tree import, export,
-- generation): units done out of a total (bytes or tasks), set by the running task.
ALTER TABLE jobs ADD COLUMN work_done BIGINT NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN work_total BIGINT NOT NULL DEFAULT 0;
