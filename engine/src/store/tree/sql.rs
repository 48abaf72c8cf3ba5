//! The task forest's SQL, shared by both backends (parameters numbered `$1`, `$2`, …).
//! Where they differ it says so here: every Postgres tree write first takes one advisory
//! lock (`LOCK_POSTGRES`), so two concurrent moves can never build a cycle between them
//! (SQLite's writes are serial already); an import inserts with `INSERT OR ROLLBACK` on
//! SQLite, which ends the whole import on a clash and spares it a statement journal.

/// Columns of a `TreeRow`, in its order.
pub const COLUMNS: &str = "id, parent_id, position, title, notes, status, child_count, \
     done_count, created_at, updated_at, due, assignee, priority, labels, blocked";

pub const LOCK_POSTGRES: &str = "SELECT pg_advisory_xact_lock(7310)";

pub const TASK: &str = "SELECT id, parent_id, position, title, notes, status, child_count, \
     done_count, created_at, updated_at, due, assignee, priority, labels, blocked \
     FROM tree_tasks WHERE id = $1";

pub const CHILD_COUNT: &str = "SELECT child_count FROM tree_tasks WHERE id = $1";
pub const ROOT_COUNT: &str = "SELECT COUNT(*) FROM tree_tasks WHERE parent_id IS NULL";

/// A task's roll-up and parent, for the done rule.
pub const ROLLUP: &str =
    "SELECT status, child_count, done_count, parent_id FROM tree_tasks WHERE id = $1";

pub const SET_STATUS_AT: &str = "UPDATE tree_tasks SET status = $2, updated_at = $3 WHERE id = $1";
pub const ADD_DONE: &str = "UPDATE tree_tasks SET done_count = done_count + $2 WHERE id = $1";
pub const ADD_COUNTS: &str = "UPDATE tree_tasks SET child_count = child_count + $2, \
     done_count = done_count + $3 WHERE id = $1";

/// Descendants of `$1` with children of their own, at most `$2`.
pub const INNER_DESCENDANTS: &str = "WITH RECURSIVE sub(id, child_count) AS (\
       SELECT id, child_count FROM tree_tasks WHERE parent_id = $1 \
       UNION ALL SELECT t.id, t.child_count FROM tree_tasks t \
       JOIN sub ON t.parent_id = sub.id WHERE sub.child_count > 0) \
     SELECT id FROM sub WHERE child_count > 0 LIMIT $2";

pub const HEIGHT: &str = "WITH RECURSIVE down(id, level) AS (\
       SELECT id, CAST(1 AS BIGINT) FROM tree_tasks WHERE id = $1 \
       UNION ALL SELECT t.id, down.level + 1 FROM tree_tasks t JOIN down ON t.parent_id = down.id) \
     SELECT MAX(level) FROM down";

/// The task and its ancestors (id, title, depth), root first.
pub const PATH: &str = "WITH RECURSIVE up(id, parent_id, title, depth) AS (\
       SELECT id, parent_id, title, CAST(0 AS BIGINT) FROM tree_tasks WHERE id = $1 \
       UNION ALL SELECT t.id, t.parent_id, t.title, up.depth + 1 \
       FROM tree_tasks t JOIN up ON t.id = up.parent_id) \
     SELECT id, title, depth FROM up ORDER BY depth DESC";

pub const SUBTREE_SIZE: &str = "WITH RECURSIVE sub(id) AS (SELECT id FROM tree_tasks WHERE id = $1 \
       UNION ALL SELECT t.id FROM tree_tasks t JOIN sub ON t.parent_id = sub.id) \
     SELECT COUNT(*) FROM sub";

/// `ON CONFLICT DO NOTHING`: a taken id inserts nothing.
pub const CREATE: &str = "INSERT INTO tree_tasks (id, parent_id, position, title, notes, status, \
     created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (id) DO NOTHING";

/// Title, notes, priority and labels change when given (not null); due date and assignee
/// change when their flag (`$5`, `$7`) says so, to the value given, null included.
pub const EDIT: &str = "UPDATE tree_tasks SET title = COALESCE($2, title), \
     notes = COALESCE($3, notes), updated_at = $4, \
     due = CASE WHEN $5 THEN $6 ELSE due END, \
     assignee = CASE WHEN $7 THEN $8 ELSE assignee END, \
     priority = COALESCE($9, priority), labels = COALESCE($10, labels) WHERE id = $1";

/// A task's labels, replaced whole: its pairs go, then each label's pair comes back.
pub const UNLABEL: &str = "DELETE FROM tree_task_labels WHERE task_id = $1";
/// A pair carries its task's status (read from the row here; a trigger keeps it in step).
pub const LABEL_TASK: &str = "INSERT INTO tree_task_labels (label, task_id, status) \
     SELECT $1, id, status FROM tree_tasks WHERE id = $2 ON CONFLICT DO NOTHING";
/// A label used for the first time, with its first colour.
pub const NEW_LABEL: &str = "INSERT INTO labels (name, color, created_at) VALUES ($1, $2, $3) \
     ON CONFLICT (name) DO NOTHING";
/// Label pairs and first uses in one statement each on Postgres, from arrays.
pub const LABEL_TASKS_POSTGRES: &str = "INSERT INTO tree_task_labels (label, task_id, status) \
     SELECT u.l, u.t, t.status FROM UNNEST($1::TEXT[], $2::TEXT[]) AS u(l, t) \
     JOIN tree_tasks t ON t.id = u.t ON CONFLICT DO NOTHING";
pub const NEW_LABELS_POSTGRES: &str = "INSERT INTO labels (name, color, created_at) \
     SELECT DISTINCT ON (n) n, c, $3 FROM UNNEST($1::TEXT[], $2::TEXT[]) AS u(n, c) \
     ON CONFLICT (name) DO NOTHING";
pub const LABELS: &str = "SELECT name, color FROM labels ORDER BY name";
pub const RECOLOR_LABEL: &str = "UPDATE labels SET color = $2 WHERE name = $1";

/// Every task under `$1` takes status `$2` (and the roll-up that goes with it).
pub const SUBTREE_STATUS: &str = "WITH RECURSIVE sub(id) AS (\
       SELECT id FROM tree_tasks WHERE parent_id = $1 \
       UNION ALL SELECT t.id FROM tree_tasks t JOIN sub ON t.parent_id = sub.id) \
     UPDATE tree_tasks SET status = $2, updated_at = $3, \
       done_count = CASE WHEN $2 = 'done' THEN child_count ELSE 0 END \
     WHERE id IN (SELECT id FROM sub) AND status <> $2";

pub const SET_STATUS_ROLLED: &str = "UPDATE tree_tasks SET status = $2, \
     done_count = CASE WHEN $2 = 'done' THEN child_count ELSE 0 END WHERE id = $1";

pub const SET_STATUS: &str = "UPDATE tree_tasks SET status = $2 WHERE id = $1";

/// How many of `$1`'s ancestors (itself included) are `$2`: a move under it would be a cycle.
pub const IS_ANCESTOR: &str = "WITH RECURSIVE up(id, parent_id) AS (\
       SELECT id, parent_id FROM tree_tasks WHERE id = $1 \
       UNION ALL SELECT t.id, t.parent_id FROM tree_tasks t JOIN up ON t.id = up.parent_id) \
     SELECT COUNT(*) FROM up WHERE id = $2";

pub const MOVE: &str = "UPDATE tree_tasks SET parent_id = $2, position = $3, updated_at = $4 \
     WHERE id = $1";

/// The label pairs of `$1` and its subtree (before the tasks themselves go).
pub const UNLABEL_SUBTREE: &str = "WITH RECURSIVE sub(id) AS (SELECT id FROM tree_tasks WHERE id = $1 \
       UNION ALL SELECT t.id FROM tree_tasks t JOIN sub ON t.parent_id = sub.id) \
     DELETE FROM tree_task_labels WHERE task_id IN (SELECT id FROM sub)";

pub const DELETE_SUBTREE: &str = "WITH RECURSIVE sub(id) AS (SELECT id FROM tree_tasks WHERE id = $1 \
       UNION ALL SELECT t.id FROM tree_tasks t JOIN sub ON t.parent_id = sub.id) \
     DELETE FROM tree_tasks WHERE id IN (SELECT id FROM sub)";

/// An import's rows into SQLite, one at a time through a cached statement.
pub const IMPORT_ROW_SQLITE: &str = "INSERT OR ROLLBACK INTO tree_tasks (id, parent_id, position, \
     title, notes, status, child_count, done_count, created_at, updated_at, due, assignee, \
     priority, labels) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";

/// An import on SQLite indexes its rows' text in one statement at its end rather than row by
/// row through the insert trigger (which costs thirteen times the insert itself): it drops
/// the trigger inside its transaction, notes the last rowid before its rows, and at the end
/// indexes every row after it and puts the trigger back as it was. A rolled-back import
/// rolls the trigger back too.
pub const TEXT_TRIGGER_SQLITE: &str =
    "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'tree_tasks_text_insert'";
pub const DROP_TEXT_TRIGGER_SQLITE: &str = "DROP TRIGGER tree_tasks_text_insert";
pub const LAST_ROWID_SQLITE: &str = "SELECT COALESCE(MAX(rowid), 0) FROM tree_tasks";
pub const INDEX_TEXT_AFTER_SQLITE: &str = "INSERT INTO tree_tasks_text (rowid, title, notes) \
     SELECT rowid, title, notes FROM tree_tasks WHERE rowid > $1";

/// An import's job task keeps its lease in the transaction that commits the import: on
/// SQLite the import holds the only writer for as long as it runs, so no heartbeat can land
/// meanwhile, and without this the lease would lapse under a long import and a second
/// attempt start over work the first has just committed. No row (another attempt holds the
/// task now) rolls the import back.
pub const HOLD_LEASE: &str = "UPDATE job_tasks SET lease_expires_at = $3 \
     WHERE id = $1 AND attempt = $2 AND state = 'leased'";

/// An import on Postgres lets the trigram indexes' lists of pending entries grow large for
/// its own transaction (entries then merge into the indexes in a few big sorted passes
/// rather than many small ones), merges what is left at its end, and puts back the small
/// list searches need between vacuums (migration 0033). A rollback undoes the settings too.
pub const GIN_BULK_POSTGRES: [&str; 2] = [
    "ALTER INDEX tree_tasks_title_trgm SET (gin_pending_list_limit = 65536)",
    "ALTER INDEX tree_tasks_notes_trgm SET (gin_pending_list_limit = 65536)",
];
pub const GIN_MERGE_POSTGRES: &str = "SELECT gin_clean_pending_list('tree_tasks_title_trgm'::regclass) \
     + gin_clean_pending_list('tree_tasks_notes_trgm'::regclass)";
pub const GIN_SMALL_POSTGRES: [&str; 2] = [
    "ALTER INDEX tree_tasks_title_trgm SET (gin_pending_list_limit = 256)",
    "ALTER INDEX tree_tasks_notes_trgm SET (gin_pending_list_limit = 256)",
];

/// An import's rows into Postgres, a batch at a time as arrays.
pub const IMPORT_ROWS_POSTGRES: &str = "INSERT INTO tree_tasks (id, parent_id, position, title, \
     notes, status, child_count, done_count, created_at, updated_at, due, assignee, priority, \
     labels) \
     SELECT * FROM UNNEST($1::TEXT[], $2::TEXT[], $3::BIGINT[], $4::TEXT[], $5::TEXT[], \
       $6::TEXT[], $7::BIGINT[], $8::BIGINT[], $9::BIGINT[], $10::BIGINT[], $11::TEXT[], \
       $12::TEXT[], $13::BIGINT[], $14::TEXT[])";

/// A person's saved views, by name.
pub const VIEWS: &str = "SELECT name, filter, layout, created_at FROM saved_views \
     WHERE owner = $1 ORDER BY name";
pub const OTHER_VIEWS: &str = "SELECT COUNT(*) FROM saved_views WHERE owner = $1 AND name <> $2";
/// Saves a view, replacing the filter and layout of one of the same name.
pub const SAVE_VIEW: &str = "INSERT INTO saved_views (owner, name, filter, layout, created_at) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (owner, name) \
     DO UPDATE SET filter = excluded.filter, layout = excluded.layout";
pub const DELETE_VIEW: &str = "DELETE FROM saved_views WHERE owner = $1 AND name = $2";
