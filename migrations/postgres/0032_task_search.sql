-- The filter language's indexes, the blocked flag and saved views.

-- Why the task's newest run failed; NULL when it is not blocked.
ALTER TABLE tree_tasks ADD COLUMN blocked TEXT;

-- Free text: trigram indexes of every title and notes (pg_trgm, a trusted extension), which
-- answer ILIKE '%text%' for three characters or more without reading the table. Postgres
-- keeps them in step with every write.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX tree_tasks_title_trgm ON tree_tasks USING gin (title gin_trgm_ops);
CREATE INDEX tree_tasks_notes_trgm ON tree_tasks USING gin (notes gin_trgm_ops);

-- Few tasks carry a due date or an assignee: partial indexes cost only those.
CREATE INDEX tree_tasks_due ON tree_tasks (due) WHERE due IS NOT NULL;
CREATE INDEX tree_tasks_assignee ON tree_tasks (assignee) WHERE assignee IS NOT NULL;

-- A person's saved filters. owner: a user id. layout: 'outline' or 'board'.
CREATE TABLE saved_views (
    owner      TEXT NOT NULL,
    name       TEXT NOT NULL,
    filter     TEXT NOT NULL,
    layout     TEXT NOT NULL CHECK (layout IN ('outline', 'board')),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (owner, name)
);
