//! The task forest part of the store: listing a page of siblings, paths, search, and edits
//! that keep every parent's roll-up (`child_count`, `done_count`) and the done rule (see
//! `tasks::model`) true in the same transaction. The trait is the contract; `sqlite.rs` and
//! `postgres.rs` each write the rules once for their backend, with the SQL of `sql.rs` and
//! the statements and decisions built here.

mod filter;
mod postgres;
mod sql;
mod sqlite;

pub use filter::{Dialect, FilterQuery};

use super::param::Param;
use super::{StoreError, StoreResult};
use crate::Millis;
use async_trait::async_trait;
use shared::tasks::fields::{Label, Priority};
use shared::tasks::model::{Crumb, POSITION_GAP, Status, TreeTask};
use shared::tasks::views::{Layout, SavedView};
use std::collections::HashMap;

#[derive(sqlx::FromRow)]
pub struct TreeRow {
    pub id: String,
    pub parent_id: Option<String>,
    pub position: i64,
    pub title: String,
    pub notes: String,
    pub status: String,
    pub child_count: i64,
    pub done_count: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub due: Option<String>,
    pub assignee: Option<String>,
    pub priority: i64,
    /// Label names separated by single spaces (see [`labels_text`]).
    pub labels: String,
    pub blocked: Option<String>,
}

/// A task's labels as stored on its row: names separated by single spaces (a label name
/// has none, see `shared::tasks::fields::label_problem`).
pub fn labels_text(labels: &[String]) -> String {
    labels.join(" ")
}

fn labels_of(text: &str) -> Vec<String> {
    text.split(' ')
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

impl TryFrom<TreeRow> for TreeTask {
    type Error = StoreError;
    fn try_from(r: TreeRow) -> StoreResult<TreeTask> {
        Ok(TreeTask {
            status: Status::parse(&r.status)
                .ok_or_else(|| StoreError::Corrupt(format!("task status {}", r.status)))?,
            id: r.id,
            parent_id: r.parent_id,
            position: r.position,
            title: r.title,
            notes: r.notes,
            child_count: r.child_count,
            done_count: r.done_count,
            created_at: r.created_at,
            updated_at: r.updated_at,
            priority: Priority::from_rank(r.priority)
                .ok_or_else(|| StoreError::Corrupt(format!("task priority {}", r.priority)))?,
            labels: labels_of(&r.labels),
            due: r.due,
            assignee: r.assignee,
            blocked: r.blocked,
        })
    }
}

/// A task to create.
#[derive(Debug, Clone, Default)]
pub struct NewTreeTask {
    pub id: String,
    pub parent_id: Option<String>,
    pub title: String,
    pub notes: String,
    pub status: Status,
    /// Right after this sibling; last when `None`.
    pub after: Option<String>,
}

/// Fields to change; `None` leaves a field as it is. For the due date and the assignee,
/// `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct TreePatch {
    pub title: Option<String>,
    pub notes: Option<String>,
    pub status: Option<Status>,
    pub due: Option<Option<String>>,
    pub assignee: Option<Option<String>>,
    pub priority: Option<Priority>,
    /// Replaces the whole list.
    pub labels: Option<Vec<String>>,
}

impl TreePatch {
    /// The labels as stored on the row, when they change.
    fn labels_text(&self) -> Option<String> {
        self.labels.as_deref().map(labels_text)
    }
}

/// What an edit did: the task as it is now, and every sibling listing whose content
/// changed (`None` is the roots), for change events.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeChange {
    pub task: TreeTask,
    pub listings: Vec<Option<String>>,
    /// Tasks removed (deletes only).
    pub removed: i64,
}

/// An import in progress: one transaction that writes rows (children before their parent)
/// and commits only at `finish`; dropping it changes nothing.
#[async_trait]
pub trait TreeImport: Send {
    /// Which of these ids already exist.
    async fn existing(&mut self, ids: &[&str]) -> StoreResult<Vec<String>>;
    async fn insert(&mut self, rows: &[TreeTask]) -> StoreResult<()>;
    /// Adds the imported top-level tasks to their parent's roll-up, extends the lease of
    /// the job task running the import (`hold`; `Conflict` when another attempt holds it
    /// now, and nothing is imported) and commits. Returns the sibling listings that changed.
    async fn finish(
        self: Box<Self>,
        top: i64,
        top_done: i64,
        now: Millis,
        hold: Option<&LeaseHold>,
    ) -> StoreResult<Vec<Option<String>>>;
}

/// The lease an import's job task holds, to be extended to `until` as the import commits.
#[derive(Debug, Clone)]
pub struct LeaseHold {
    pub task_id: String,
    pub attempt: i64,
    pub until: Millis,
}

fn lease_lost(hold: &LeaseHold) -> StoreError {
    StoreError::Conflict(format!(
        "the import's task {} lost its lease (attempt {}) before the import committed",
        hold.task_id, hold.attempt
    ))
}

/// Siblings are ordered by (position, id); a cursor is the last one seen.
pub type SiblingCursor = (i64, String);

#[async_trait]
pub trait TreeStore: Send + Sync {
    /// Up to `limit` children of `parent` (the roots when `None`) after `after`, and how many
    /// children it has in all. `NotFound` for an unknown parent.
    async fn tree_children(
        &self,
        parent: Option<&str>,
        after: Option<&SiblingCursor>,
        limit: i64,
    ) -> StoreResult<(Vec<TreeTask>, i64)>;
    async fn tree_task(&self, id: &str) -> StoreResult<TreeTask>;
    /// Every child of each of these tasks, grouped by parent in sibling order (for walks
    /// that read many small sibling lists at once).
    async fn tree_children_of(&self, parents: &[String]) -> StoreResult<Vec<TreeTask>>;
    /// The task and its ancestors, root first: at most `keep` nearest the task plus the root,
    /// and how many were left out between them.
    async fn tree_path(&self, id: &str, keep: i64) -> StoreResult<(Vec<Crumb>, i64)>;
    /// The paths of many tasks at once (as `tree_path` gives one), keyed by task id; a task
    /// that does not exist has none.
    async fn tree_paths(
        &self,
        ids: &[String],
        keep: i64,
    ) -> StoreResult<HashMap<String, (Vec<Crumb>, i64)>>;
    /// The first `limit` tasks the filter matches, in id order, and how many match in all.
    async fn tree_filter(&self, q: &FilterQuery, limit: i64) -> StoreResult<(Vec<TreeTask>, i64)>;
    /// The task and all its descendants.
    async fn tree_subtree_size(&self, id: &str) -> StoreResult<i64>;
    /// Levels in the task's subtree, itself included (1 for a leaf).
    async fn tree_height(&self, id: &str) -> StoreResult<u64>;
    /// `NotFound` for an unknown parent or `after`; `Conflict` when `after` is not a child of
    /// the parent or the id is taken.
    async fn tree_create(&self, new: &NewTreeTask, now: Millis) -> StoreResult<TreeChange>;
    async fn tree_update(
        &self,
        id: &str,
        patch: &TreePatch,
        now: Millis,
    ) -> StoreResult<TreeChange>;
    /// Moves the task to index `index` among `parent`'s other children (clamped to the end);
    /// `Conflict` when `parent` is the task itself or inside its subtree.
    async fn tree_move(
        &self,
        id: &str,
        parent: Option<&str>,
        index: i64,
        now: Millis,
    ) -> StoreResult<TreeChange>;
    /// Deletes the task and its subtree.
    async fn tree_delete(&self, id: &str, now: Millis) -> StoreResult<TreeChange>;
    /// Starts an import under `parent` (the roots when `None`): the position after which
    /// the imported tasks go comes back with it.
    async fn tree_import(&self, parent: Option<&str>) -> StoreResult<(Box<dyn TreeImport>, i64)>;
    /// Every label used so far, by name.
    async fn tree_labels(&self) -> StoreResult<Vec<Label>>;
    /// Gives a label a new colour; `NotFound` for a label never used.
    async fn tree_recolor_label(&self, name: &str, color: &str) -> StoreResult<Label>;
    /// The views `owner` (a user id) saved, by name.
    async fn views(&self, owner: &str) -> StoreResult<Vec<SavedView>>;
    /// Saves a view (replacing one of the same name); `Conflict` when `owner` already keeps
    /// `max` other views.
    async fn save_view(&self, owner: &str, view: &SavedView, max: i64) -> StoreResult<()>;
    /// `NotFound` when `owner` has no view of that name.
    async fn delete_view(&self, owner: &str, name: &str) -> StoreResult<()>;
}

impl TreeRow {
    /// Reads the columns of `sql::COLUMNS`, in order.
    fn from_sqlite(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get(0)?,
            parent_id: r.get(1)?,
            position: r.get(2)?,
            title: r.get(3)?,
            notes: r.get(4)?,
            status: r.get(5)?,
            child_count: r.get(6)?,
            done_count: r.get(7)?,
            created_at: r.get(8)?,
            updated_at: r.get(9)?,
            due: r.get(10)?,
            assignee: r.get(11)?,
            priority: r.get(12)?,
            labels: r.get(13)?,
            blocked: r.get(14)?,
        })
    }
}

/// The `WHERE` condition selecting `parent`'s children, binding the parent as the next
/// parameter of `params`.
fn children_of(parent: Option<&str>, params: &mut Vec<Param>) -> String {
    match parent {
        Some(p) => {
            params.push(p.into());
            format!("parent_id = ${}", params.len())
        }
        None => "parent_id IS NULL".to_string(),
    }
}

/// A page of `parent`'s children after `after`.
fn children_page(
    parent: Option<&str>,
    after: Option<&SiblingCursor>,
    limit: i64,
) -> (String, Vec<Param>) {
    let mut params = Vec::new();
    let mut text = format!(
        "SELECT {} FROM tree_tasks WHERE {}",
        sql::COLUMNS,
        children_of(parent, &mut params)
    );
    if let Some((pos, id)) = after {
        params.push((*pos).into());
        params.push(id.as_str().into());
        let (p, i) = (params.len() - 1, params.len());
        text.push_str(&format!(
            " AND (position > ${p} OR (position = ${p} AND id > ${i}))"
        ));
    }
    params.push(limit.into());
    text.push_str(&format!(" ORDER BY position, id LIMIT ${}", params.len()));
    (text, params)
}

/// Every child of each of `parents`, grouped by parent in sibling order.
fn children_of_many(parents: &[String]) -> (String, Vec<Param>) {
    let params: Vec<Param> = parents.iter().map(|p| p.as_str().into()).collect();
    let list = (1..=params.len())
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    (
        format!(
            "SELECT {} FROM tree_tasks WHERE parent_id IN ({list}) \
             ORDER BY parent_id, position, id",
            sql::COLUMNS
        ),
        params,
    )
}

/// Which of `ids` exist.
fn existing(ids: &[&str]) -> (String, Vec<Param>) {
    let params: Vec<Param> = ids.iter().map(|&i| i.into()).collect();
    let list = (1..=params.len())
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    (
        format!("SELECT id FROM tree_tasks WHERE id IN ({list})"),
        params,
    )
}

/// The positions around index `index` among `parent`'s children other than `skip`.
fn around(parent: Option<&str>, skip: &str, index: i64) -> (String, Vec<Param>) {
    let mut params = vec![Param::from(skip)];
    let cond = children_of(parent, &mut params);
    params.push((index - 1).max(0).into());
    (
        format!(
            "SELECT position FROM tree_tasks WHERE {cond} AND id <> $1 \
             ORDER BY position, id LIMIT 2 OFFSET ${}",
            params.len()
        ),
        params,
    )
}

/// The last position among `parent`'s children other than `skip`.
fn last_position(parent: Option<&str>, skip: &str) -> (String, Vec<Param>) {
    let mut params = vec![Param::from(skip)];
    let cond = children_of(parent, &mut params);
    (
        format!("SELECT MAX(position) FROM tree_tasks WHERE {cond} AND id <> $1"),
        params,
    )
}

/// How many of `parent`'s children sort at or before the sibling at (`position`, `id`).
fn siblings_up_to(parent: Option<&str>, position: i64, id: &str) -> (String, Vec<Param>) {
    let mut params = vec![Param::from(position), Param::from(id)];
    let cond = children_of(parent, &mut params);
    (
        format!(
            "SELECT COUNT(*) FROM tree_tasks WHERE {cond} \
             AND (position < $1 OR (position = $1 AND id <= $2))"
        ),
        params,
    )
}

/// Spreads `parent`'s children out to `POSITION_GAP` apart, in their order.
fn renumber(parent: Option<&str>) -> (String, Vec<Param>) {
    let mut params = Vec::new();
    let cond = children_of(parent, &mut params);
    (
        format!(
            "UPDATE tree_tasks SET position = r.rn * {POSITION_GAP} FROM (SELECT id AS rid, \
             ROW_NUMBER() OVER (ORDER BY position, id) AS rn FROM tree_tasks WHERE {cond}) r \
             WHERE tree_tasks.id = r.rid"
        ),
        params,
    )
}

/// Where a new place among siblings goes, from the positions around index `index` (see
/// `around`): a position, after the last sibling, or nowhere until they are renumbered.
enum Slot {
    At(i64),
    AfterLast,
    Renumber,
}

fn slot(index: i64, around: &[i64]) -> Slot {
    match (index <= 0, around) {
        (true, []) => Slot::At(POSITION_GAP),
        (false, []) => Slot::AfterLast,
        (true, [first, ..]) => Slot::At(first - POSITION_GAP),
        (false, [prev]) => Slot::At(prev + POSITION_GAP),
        (false, [prev, next, ..]) if next - prev >= 2 => Slot::At(prev + (next - prev) / 2),
        (false, _) => Slot::Renumber,
    }
}

fn no_room() -> StoreError {
    StoreError::Corrupt("sibling positions could not be spread out".into())
}

/// The done rule for a parent whose children changed: the status it must take, or `None`
/// when it keeps its own (which ends the walk up).
fn settled(status: &str, children: i64, done_children: i64) -> Option<&'static str> {
    let want = if children > 0 && done_children == children {
        Status::Done.as_str()
    } else if status == Status::Done.as_str() {
        Status::Doing.as_str()
    } else {
        return None;
    };
    (want != status).then_some(want)
}

/// Whether a status counts as done, as a number for roll-ups.
fn done(s: &str) -> i64 {
    (s == Status::Done.as_str()) as i64
}

/// The crumbs of a path (root first): the root and the `keep - 1` nearest the task, and how
/// many were left out between them.
/// The paths of `ids`, all in one recursive statement: rows of (task, ancestor id, title,
/// depth), each task's ancestors root first.
fn paths_of(ids: &[String]) -> (String, Vec<Param>) {
    let params: Vec<Param> = ids.iter().map(|i| i.as_str().into()).collect();
    let list = (1..=params.len())
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    (
        format!(
            "WITH RECURSIVE up(hit, id, parent_id, title, depth) AS (\
               SELECT id, id, parent_id, title, CAST(0 AS BIGINT) FROM tree_tasks \
               WHERE id IN ({list}) \
               UNION ALL SELECT up.hit, t.id, t.parent_id, t.title, up.depth + 1 \
               FROM tree_tasks t JOIN up ON t.id = up.parent_id) \
             SELECT hit, id, title, depth FROM up ORDER BY hit, depth DESC"
        ),
        params,
    )
}

/// Rows of `paths_of`, grouped by task and cut to `keep` crumbs each.
fn group_paths(
    rows: Vec<(String, String, String, i64)>,
    keep: i64,
) -> HashMap<String, (Vec<Crumb>, i64)> {
    let mut by: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for (hit, id, title, _) in rows {
        by.entry(hit).or_default().push((id, title));
    }
    by.into_iter()
        .map(|(hit, rows)| (hit, crumbs(rows, keep)))
        .collect()
}

fn crumbs(rows: Vec<(String, String)>, keep: i64) -> (Vec<Crumb>, i64) {
    let total = rows.len() as i64;
    let keep = keep.max(2);
    let crumb = |(id, title): (String, String)| Crumb { id, title };
    if total <= keep {
        return (rows.into_iter().map(crumb).collect(), 0);
    }
    let tail = (keep - 1) as usize;
    let mut rows = rows.into_iter();
    let mut path = vec![crumb(rows.next().expect("a root"))];
    path.extend(rows.skip((total as usize) - 1 - tail).map(crumb));
    (path, total - keep)
}

fn not_found(id: &str) -> StoreError {
    StoreError::NotFound(format!("task {id}"))
}

fn not_a_child(after: &str, parent: Option<&str>) -> StoreError {
    StoreError::Conflict(format!(
        "task {after} is not a child of {}",
        parent.unwrap_or("the roots")
    ))
}

fn id_taken(id: &str) -> StoreError {
    StoreError::Conflict(format!("a task with id {id} already exists"))
}

fn cycle(id: &str, parent: &str) -> StoreError {
    StoreError::Conflict(if parent == id {
        "a task cannot be moved into itself".to_string()
    } else {
        format!("task {id} cannot be moved into its own subtree")
    })
}

/// Descendant listings beyond `MAX_LISTINGS` name every listing instead.
fn capped(ids: Vec<String>) -> Vec<Option<String>> {
    if ids.len() > MAX_LISTINGS {
        return vec![Some("*".to_string())];
    }
    ids.into_iter().map(Some).collect()
}

/// Most sibling listings an edit names in its change events; beyond it the change names
/// `*` (every listing) instead.
pub const MAX_LISTINGS: usize = 2_000;

/// A saved view's row: name, filter, layout, created_at.
type ViewRow = (String, String, String, i64);

fn view_of((name, filter, layout, created_at): ViewRow) -> StoreResult<SavedView> {
    Ok(SavedView {
        layout: Layout::parse(&layout)
            .ok_or_else(|| StoreError::Corrupt(format!("view layout {layout}")))?,
        name,
        filter,
        created_at,
    })
}
