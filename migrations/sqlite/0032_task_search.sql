-- The filter language's indexes, the blocked flag and saved views.

-- Why the task's newest run failed; NULL when it is not blocked.
ALTER TABLE tree_tasks ADD COLUMN blocked TEXT;

-- Free text: a trigram index of every title and notes, so a substring of three characters
-- or more is found without reading the table. It reads its text from tree_tasks by rowid
-- (external content); the triggers keep it in step inside every transaction that writes a
-- task. tree_tasks has no INTEGER PRIMARY KEY, so a VACUUM may renumber its rowids: Orchard
-- never runs one, and after a manual one the index is rebuilt with
-- INSERT INTO tree_tasks_text (tree_tasks_text) VALUES ('rebuild').
CREATE VIRTUAL TABLE tree_tasks_text USING fts5(
    title, notes, content = 'tree_tasks', content_rowid = 'rowid', tokenize = 'trigram'
);
INSERT INTO tree_tasks_text (tree_tasks_text) VALUES ('rebuild');
CREATE TRIGGER tree_tasks_text_insert AFTER INSERT ON tree_tasks BEGIN
    INSERT INTO tree_tasks_text (rowid, title, notes) VALUES (new.rowid, new.title, new.notes);
END;
CREATE TRIGGER tree_tasks_text_delete AFTER DELETE ON tree_tasks BEGIN
    INSERT INTO tree_tasks_text (tree_tasks_text, rowid, title, notes)
        VALUES ('delete', old.rowid, old.title, old.notes);
END;
CREATE TRIGGER tree_tasks_text_update AFTER UPDATE OF title, notes ON tree_tasks
    WHEN old.title IS NOT new.title OR old.notes IS NOT new.notes BEGIN
    INSERT INTO tree_tasks_text (tree_tasks_text, rowid, title, notes)
        VALUES ('delete', old.rowid, old.title, old.notes);
    INSERT INTO tree_tasks_text (rowid, title, notes) VALUES (new.rowid, new.title, new.notes);
END;

-- Few tasks carry a due date or an assignee: partial indexes cost only those.
CREATE INDEX tree_tasks_due ON tree_tasks (due) WHERE due IS NOT NULL;
CREATE INDEX tree_tasks_assignee ON tree_tasks (assignee) WHERE assignee IS NOT NULL;

-- A person's saved filters. owner: a user id. layout: 'outline' or 'board'.
CREATE TABLE saved_views (
    owner      TEXT NOT NULL,
    name       TEXT NOT NULL,
    filter     TEXT NOT NULL,
    layout     TEXT NOT NULL CHECK (layout IN ('outline', 'board')),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (owner, name)
) WITHOUT ROWID;
