-- What a task carries besides its title, notes and status.
-- due: a date 'YYYY-MM-DD', which sorts as it reads. assignee: a username (usernames never
-- change). priority: 0 (none) to 4 (urgent). labels: the task's label names in the order
-- given, separated by single spaces (a label name has none), so a listing reads them with
-- the row; tree_task_labels holds the same pairs, keyed by label, for filters.
ALTER TABLE tree_tasks ADD COLUMN due TEXT;
ALTER TABLE tree_tasks ADD COLUMN assignee TEXT;
ALTER TABLE tree_tasks ADD COLUMN priority INTEGER NOT NULL DEFAULT 0 CHECK (priority BETWEEN 0 AND 4);
ALTER TABLE tree_tasks ADD COLUMN labels TEXT NOT NULL DEFAULT '';

-- Every label used so far, with its colour ('#rrggbb', carrying white text).
CREATE TABLE labels (
    name       TEXT PRIMARY KEY,
    color      TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE tree_task_labels (
    label   TEXT NOT NULL,
    task_id TEXT NOT NULL,
    PRIMARY KEY (label, task_id)
) WITHOUT ROWID;
CREATE INDEX tree_task_labels_task ON tree_task_labels (task_id);
