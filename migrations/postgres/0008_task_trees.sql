-- Task trees: a forest of any depth. Each task keeps the roll-up of its direct children
-- (child_count, done_count) so a listing never counts grandchildren. Siblings sort by
-- (position, id); positions are spaced out so inserts rarely renumber.
-- The parent reference is deferrable: an import writes a subtree children first.
CREATE TABLE tree_tasks (
    id          TEXT PRIMARY KEY,
    parent_id   TEXT REFERENCES tree_tasks (id) DEFERRABLE INITIALLY IMMEDIATE,
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
