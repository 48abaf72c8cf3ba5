//! The task-tree half of the store: listing a page of siblings, paths, search, and edits that
//! keep every parent's roll-up (`child_count`, `done_count`) and the done rule (see
//! `tasks::model`) true in the same transaction. One SQL body for SQLite and Postgres; on
//! Postgres every tree write first takes one advisory lock, so two concurrent moves can never
//! build a cycle between them.

use super::{StoreError, StoreResult};
use crate::Millis;
use crate::tasks::model::{Crumb, Status, TreeTask};
use async_trait::async_trait;

pub(super) const TREE_COLUMNS: &str = "id, parent_id, position, title, notes, status, \
     child_count, done_count, created_at, updated_at";

#[derive(sqlx::FromRow)]
pub(super) struct TreeRow {
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

/// Fields to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct TreePatch {
    pub title: Option<String>,
    pub notes: Option<String>,
    pub status: Option<Status>,
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
    /// Adds the imported top-level tasks to their parent's roll-up and commits.
    /// Returns the sibling listings that changed.
    async fn finish(
        self: Box<Self>,
        top: i64,
        top_done: i64,
        now: Millis,
    ) -> StoreResult<Vec<Option<String>>>;
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
    /// Tasks whose lower-cased title matches the `LIKE` pattern (with `\` escapes).
    async fn tree_search(&self, pattern: &str, limit: i64) -> StoreResult<Vec<TreeTask>>;
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
}

/// The `WHERE` condition selecting `parent`'s children, binding the parent as `$n`.
pub(super) fn children_of(parent: Option<&str>, n: usize) -> String {
    match parent {
        Some(_) => format!("parent_id = ${n}"),
        None => "parent_id IS NULL".to_string(),
    }
}

/// Whether a status counts as done, as a number for roll-ups.
pub(super) fn done(s: &str) -> i64 {
    (s == "done") as i64
}

/// Most sibling listings an edit names in its change events; beyond it the change names
/// `*` (every listing) instead.
pub const MAX_LISTINGS: usize = 2_000;

/// `$lock` serialises tree writes (Postgres); `$insert` is how an import inserts: SQLite's
/// `INSERT OR ROLLBACK` ends the whole import on a clash, which spares it a statement
/// journal (written for every page each statement touches).
macro_rules! tree_impl {
    ($store:ty, $db:ty, $lock:literal, $insert:literal) => {
        impl $store {
            /// Serialises tree writes (Postgres; SQLite has one writer anyway).
            async fn tree_lock(tx: &mut sqlx::Transaction<'_, $db>) -> $crate::store::StoreResult<()> {
                if !$lock.is_empty() {
                    sqlx::query($lock).execute(&mut **tx).await?;
                }
                Ok(())
            }

            async fn tree_row(
                tx: &mut sqlx::Transaction<'_, $db>,
                id: &str,
            ) -> $crate::store::StoreResult<$crate::tasks::model::TreeTask> {
                let row = sqlx::query_as::<_, $crate::store::tree::TreeRow>(&format!(
                    "SELECT {} FROM tree_tasks WHERE id = $1",
                    $crate::store::tree::TREE_COLUMNS
                ))
                .bind(id)
                .fetch_optional(&mut **tx)
                .await?
                .ok_or_else(|| $crate::store::StoreError::NotFound(format!("task {id}")))?;
                row.try_into()
            }

            /// Re-applies the done rule from `parent` upwards after its children changed:
            /// a parent whose children are all done becomes done, a done parent with a
            /// child not done becomes `doing`. Stops at the first parent that keeps its
            /// status; pushes the listings it changed.
            async fn tree_settle(
                tx: &mut sqlx::Transaction<'_, $db>,
                mut parent: Option<String>,
                now: i64,
                listings: &mut Vec<Option<String>>,
            ) -> $crate::store::StoreResult<()> {
                while let Some(id) = parent {
                    let (status, children, done_children, up) =
                        sqlx::query_as::<_, (String, i64, i64, Option<String>)>(
                            "SELECT status, child_count, done_count, parent_id \
                             FROM tree_tasks WHERE id = $1",
                        )
                        .bind(&id)
                        .fetch_one(&mut **tx)
                        .await?;
                    let want = if children > 0 && done_children == children {
                        "done"
                    } else if status == "done" {
                        "doing"
                    } else {
                        break;
                    };
                    if want == status {
                        break;
                    }
                    let delta = $crate::store::tree::done(want) - $crate::store::tree::done(&status);
                    sqlx::query(
                        "UPDATE tree_tasks SET status = $2, updated_at = $3 WHERE id = $1",
                    )
                    .bind(&id)
                    .bind(want)
                    .bind(now)
                    .execute(&mut **tx)
                    .await?;
                    if let Some(p) = &up {
                        sqlx::query(
                            "UPDATE tree_tasks SET done_count = done_count + $2 WHERE id = $1",
                        )
                        .bind(p)
                        .bind(delta)
                        .execute(&mut **tx)
                        .await?;
                    }
                    listings.push(up.clone());
                    parent = up;
                }
                Ok(())
            }

            /// Adds `children` and `done_children` to a parent's roll-up (nothing for roots).
            async fn tree_add_counts(
                tx: &mut sqlx::Transaction<'_, $db>,
                parent: Option<&str>,
                children: i64,
                done_children: i64,
            ) -> $crate::store::StoreResult<()> {
                if let Some(p) = parent {
                    sqlx::query(
                        "UPDATE tree_tasks SET child_count = child_count + $2, \
                         done_count = done_count + $3 WHERE id = $1",
                    )
                    .bind(p)
                    .bind(children)
                    .bind(done_children)
                    .execute(&mut **tx)
                    .await?;
                }
                Ok(())
            }

            /// Spreads `parent`'s children out to `POSITION_GAP` apart, in their order.
            async fn tree_renumber(
                tx: &mut sqlx::Transaction<'_, $db>,
                parent: Option<&str>,
            ) -> $crate::store::StoreResult<()> {
                let sql = format!(
                    "UPDATE tree_tasks SET position = r.rn * {} FROM (SELECT id AS rid, \
                     ROW_NUMBER() OVER (ORDER BY position, id) AS rn FROM tree_tasks WHERE {}) r \
                     WHERE tree_tasks.id = r.rid",
                    $crate::tasks::model::POSITION_GAP,
                    $crate::store::tree::children_of(parent, 1)
                );
                let mut q = sqlx::query(&sql);
                if let Some(p) = parent {
                    q = q.bind(p);
                }
                q.execute(&mut **tx).await?;
                Ok(())
            }

            /// A position for a new place among `parent`'s children other than `skip`:
            /// at index `index` (past the end: last). Renumbers when there is no room.
            async fn tree_slot(
                tx: &mut sqlx::Transaction<'_, $db>,
                parent: Option<&str>,
                skip: &str,
                index: i64,
            ) -> $crate::store::StoreResult<i64> {
                let gap = $crate::tasks::model::POSITION_GAP;
                for _ in 0..2 {
                    let n = if parent.is_some() { 3 } else { 2 };
                    let sql = format!(
                        "SELECT position FROM tree_tasks WHERE {} AND id <> $1 \
                         ORDER BY position, id LIMIT 2 OFFSET ${n}",
                        $crate::store::tree::children_of(parent, 2)
                    );
                    let mut q = sqlx::query_scalar::<_, i64>(&sql).bind(skip);
                    if let Some(p) = parent {
                        q = q.bind(p);
                    }
                    let around = q.bind((index - 1).max(0)).fetch_all(&mut **tx).await?;
                    let slot = match (index <= 0, around.as_slice()) {
                        (true, []) => Some(gap),
                        (false, []) => {
                            // Past the end: after the last sibling.
                            let sql = format!(
                                "SELECT MAX(position) FROM tree_tasks WHERE {} AND id <> $1",
                                $crate::store::tree::children_of(parent, 2)
                            );
                            let mut q = sqlx::query_scalar::<_, Option<i64>>(&sql).bind(skip);
                            if let Some(p) = parent {
                                q = q.bind(p);
                            }
                            Some(q.fetch_one(&mut **tx).await?.map_or(gap, |last| last + gap))
                        }
                        (true, [first, ..]) => Some(first - gap),
                        (false, [prev]) => Some(prev + gap),
                        (false, [prev, next, ..]) => {
                            (next - prev >= 2).then(|| prev + (next - prev) / 2)
                        }
                    };
                    if let Some(slot) = slot {
                        return Ok(slot);
                    }
                    Self::tree_renumber(tx, parent).await?;
                }
                Err($crate::store::StoreError::Corrupt(
                    "sibling positions could not be spread out".into(),
                ))
            }

            /// Every descendant of `id` that has children of its own (capped), for events.
            async fn tree_inner_descendants(
                tx: &mut sqlx::Transaction<'_, $db>,
                id: &str,
            ) -> $crate::store::StoreResult<Vec<Option<String>>> {
                let cap = $crate::store::tree::MAX_LISTINGS as i64;
                let ids = sqlx::query_scalar::<_, String>(
                    "WITH RECURSIVE sub(id, child_count) AS (\
                       SELECT id, child_count FROM tree_tasks WHERE parent_id = $1 \
                       UNION ALL SELECT t.id, t.child_count FROM tree_tasks t \
                       JOIN sub ON t.parent_id = sub.id WHERE sub.child_count > 0) \
                     SELECT id FROM sub WHERE child_count > 0 LIMIT $2",
                )
                .bind(id)
                .bind(cap + 1)
                .fetch_all(&mut **tx)
                .await?;
                if ids.len() as i64 > cap {
                    return Ok(vec![Some("*".to_string())]);
                }
                Ok(ids.into_iter().map(Some).collect())
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::tree::TreeStore for $store {
            async fn tree_children(
                &self,
                parent: Option<&str>,
                after: Option<&$crate::store::tree::SiblingCursor>,
                limit: i64,
            ) -> $crate::store::StoreResult<(Vec<$crate::tasks::model::TreeTask>, i64)> {
                use $crate::store::tree::{TREE_COLUMNS, TreeRow, children_of};
                let mut tx = self.read.begin().await?;
                let total = match parent {
                    Some(p) => sqlx::query_scalar::<_, i64>(
                        "SELECT child_count FROM tree_tasks WHERE id = $1",
                    )
                    .bind(p)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or_else(|| $crate::store::StoreError::NotFound(format!("task {p}")))?,
                    None => sqlx::query_scalar::<_, i64>(
                        "SELECT COUNT(*) FROM tree_tasks WHERE parent_id IS NULL",
                    )
                    .fetch_one(&mut *tx)
                    .await?,
                };
                let mut n = 1;
                let mut sql = format!(
                    "SELECT {TREE_COLUMNS} FROM tree_tasks WHERE {}",
                    children_of(parent, n)
                );
                if parent.is_some() {
                    n += 1;
                }
                if after.is_some() {
                    sql.push_str(&format!(
                        " AND (position > ${n} OR (position = ${n} AND id > ${}))",
                        n + 1
                    ));
                    n += 2;
                }
                sql.push_str(&format!(" ORDER BY position, id LIMIT ${n}"));
                let mut q = sqlx::query_as::<_, TreeRow>(&sql);
                if let Some(p) = parent {
                    q = q.bind(p);
                }
                if let Some((pos, id)) = after {
                    q = q.bind(*pos).bind(id);
                }
                let rows = q.bind(limit).fetch_all(&mut *tx).await?;
                tx.commit().await?;
                let items = rows
                    .into_iter()
                    .map(TryInto::try_into)
                    .collect::<$crate::store::StoreResult<Vec<_>>>()?;
                Ok((items, total))
            }

            async fn tree_children_of(
                &self,
                parents: &[String],
            ) -> $crate::store::StoreResult<Vec<$crate::tasks::model::TreeTask>> {
                if parents.is_empty() {
                    return Ok(Vec::new());
                }
                let mut qb = sqlx::QueryBuilder::<$db>::new(format!(
                    "SELECT {} FROM tree_tasks WHERE parent_id IN (",
                    $crate::store::tree::TREE_COLUMNS
                ));
                let mut list = qb.separated(", ");
                for p in parents {
                    list.push_bind(p.clone());
                }
                list.push_unseparated(") ORDER BY parent_id, position, id");
                qb.build_query_as::<$crate::store::tree::TreeRow>()
                    .fetch_all(&self.read)
                    .await?
                    .into_iter()
                    .map(TryInto::try_into)
                    .collect()
            }

            async fn tree_task(
                &self,
                id: &str,
            ) -> $crate::store::StoreResult<$crate::tasks::model::TreeTask> {
                let mut tx = self.read.begin().await?;
                let t = Self::tree_row(&mut tx, id).await?;
                tx.commit().await?;
                Ok(t)
            }

            async fn tree_height(&self, id: &str) -> $crate::store::StoreResult<u64> {
                let h = sqlx::query_scalar::<_, Option<i64>>(
                    "WITH RECURSIVE down(id, level) AS (\
                       SELECT id, CAST(1 AS BIGINT) FROM tree_tasks WHERE id = $1 \
                       UNION ALL SELECT t.id, down.level + 1 \
                       FROM tree_tasks t JOIN down ON t.parent_id = down.id) \
                     SELECT MAX(level) FROM down",
                )
                .bind(id)
                .fetch_one(&self.read)
                .await?;
                match h {
                    Some(h) => Ok(h as u64),
                    None => Err($crate::store::StoreError::NotFound(format!("task {id}"))),
                }
            }

            async fn tree_path(
                &self,
                id: &str,
                keep: i64,
            ) -> $crate::store::StoreResult<(Vec<$crate::tasks::model::Crumb>, i64)> {
                // Walks up one row at a time from the task: the first `keep` rows are
                // the nearest ancestors; the walk goes on (ids only) to find the root.
                let rows = sqlx::query_as::<_, (String, String, i64)>(
                    "WITH RECURSIVE up(id, parent_id, title, depth) AS (\
                       SELECT id, parent_id, title, CAST(0 AS BIGINT) FROM tree_tasks WHERE id = $1 \
                       UNION ALL SELECT t.id, t.parent_id, t.title, up.depth + 1 \
                       FROM tree_tasks t JOIN up ON t.id = up.parent_id) \
                     SELECT id, title, depth FROM up ORDER BY depth DESC",
                )
                .bind(id)
                .fetch_all(&self.read)
                .await?;
                if rows.is_empty() {
                    return Err($crate::store::StoreError::NotFound(format!("task {id}")));
                }
                let total = rows.len() as i64;
                let keep = keep.max(2);
                let crumb = |(id, title, _): &(String, String, i64)| $crate::tasks::model::Crumb {
                    id: id.clone(),
                    title: title.clone(),
                };
                if total <= keep {
                    return Ok((rows.iter().map(crumb).collect(), 0));
                }
                let mut path = vec![crumb(&rows[0])];
                let tail = (keep - 1) as usize;
                path.extend(rows[rows.len() - tail..].iter().map(crumb));
                Ok((path, total - keep))
            }

            async fn tree_search(
                &self,
                pattern: &str,
                limit: i64,
            ) -> $crate::store::StoreResult<Vec<$crate::tasks::model::TreeTask>> {
                let rows = sqlx::query_as::<_, $crate::store::tree::TreeRow>(&format!(
                    "SELECT {} FROM tree_tasks WHERE LOWER(title) LIKE $1 ESCAPE '\\' LIMIT $2",
                    $crate::store::tree::TREE_COLUMNS
                ))
                .bind(pattern)
                .bind(limit)
                .fetch_all(&self.read)
                .await?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn tree_subtree_size(&self, id: &str) -> $crate::store::StoreResult<i64> {
                let n = sqlx::query_scalar::<_, i64>(
                    "WITH RECURSIVE sub(id) AS (SELECT id FROM tree_tasks WHERE id = $1 \
                       UNION ALL SELECT t.id FROM tree_tasks t JOIN sub ON t.parent_id = sub.id) \
                     SELECT COUNT(*) FROM sub",
                )
                .bind(id)
                .fetch_one(&self.read)
                .await?;
                if n == 0 {
                    return Err($crate::store::StoreError::NotFound(format!("task {id}")));
                }
                Ok(n)
            }

            async fn tree_create(
                &self,
                new: &$crate::store::tree::NewTreeTask,
                now: i64,
            ) -> $crate::store::StoreResult<$crate::store::tree::TreeChange> {
                let mut tx = self.write.begin().await?;
                Self::tree_lock(&mut tx).await?;
                let parent = new.parent_id.as_deref();
                if let Some(p) = parent {
                    Self::tree_row(&mut tx, p).await?;
                }
                let index = match &new.after {
                    None => i64::MAX,
                    Some(after) => {
                        let sibling = Self::tree_row(&mut tx, after).await?;
                        if sibling.parent_id.as_deref() != parent {
                            return Err($crate::store::StoreError::Conflict(format!(
                                "task {after} is not a child of {}",
                                parent.unwrap_or("the roots")
                            )));
                        }
                        let before = format!(
                            "SELECT COUNT(*) FROM tree_tasks WHERE {} AND (position < $1 \
                             OR (position = $1 AND id <= $2))",
                            $crate::store::tree::children_of(parent, 3)
                        );
                        let mut q = sqlx::query_scalar::<_, i64>(&before)
                            .bind(sibling.position)
                            .bind(after);
                        if let Some(p) = parent {
                            q = q.bind(p);
                        }
                        q.fetch_one(&mut *tx).await?
                    }
                };
                let position = Self::tree_slot(&mut tx, parent, &new.id, index).await?;
                let inserted = sqlx::query(
                    "INSERT INTO tree_tasks (id, parent_id, position, title, notes, status, \
                     created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
                )
                .bind(&new.id)
                .bind(parent)
                .bind(position)
                .bind(&new.title)
                .bind(&new.notes)
                .bind(new.status.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await;
                match inserted {
                    Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                        return Err($crate::store::StoreError::Conflict(format!(
                            "a task with id {} already exists",
                            new.id
                        )));
                    }
                    other => {
                        other?;
                    }
                }
                let is_done = (new.status == $crate::tasks::model::Status::Done) as i64;
                Self::tree_add_counts(&mut tx, parent, 1, is_done).await?;
                let mut listings = vec![new.parent_id.clone()];
                Self::tree_settle(&mut tx, new.parent_id.clone(), now, &mut listings).await?;
                let task = Self::tree_row(&mut tx, &new.id).await?;
                tx.commit().await?;
                Ok($crate::store::tree::TreeChange {
                    task,
                    listings,
                    removed: 0,
                })
            }

            async fn tree_update(
                &self,
                id: &str,
                patch: &$crate::store::tree::TreePatch,
                now: i64,
            ) -> $crate::store::StoreResult<$crate::store::tree::TreeChange> {
                use $crate::tasks::model::Status;
                let mut tx = self.write.begin().await?;
                Self::tree_lock(&mut tx).await?;
                let before = Self::tree_row(&mut tx, id).await?;
                let mut listings = vec![before.parent_id.clone()];
                sqlx::query(
                    "UPDATE tree_tasks SET title = COALESCE($2, title), \
                     notes = COALESCE($3, notes), updated_at = $4 WHERE id = $1",
                )
                .bind(id)
                .bind(patch.title.as_deref())
                .bind(patch.notes.as_deref())
                .bind(now)
                .execute(&mut *tx)
                .await?;
                if let Some(status) = patch.status.filter(|s| *s != before.status) {
                    let was_done = before.status == Status::Done;
                    let is_done = status == Status::Done;
                    if was_done != is_done {
                        // The whole subtree follows: all done, or all back to do.
                        let sub = if is_done { "done" } else { "todo" };
                        if before.child_count > 0 {
                            listings.push(Some(id.to_string()));
                            listings.extend(Self::tree_inner_descendants(&mut tx, id).await?);
                            sqlx::query(
                                "WITH RECURSIVE sub(id) AS (\
                                   SELECT id FROM tree_tasks WHERE parent_id = $1 \
                                   UNION ALL SELECT t.id FROM tree_tasks t \
                                   JOIN sub ON t.parent_id = sub.id) \
                                 UPDATE tree_tasks SET status = $2, updated_at = $3, \
                                   done_count = CASE WHEN $2 = 'done' THEN child_count ELSE 0 END \
                                 WHERE id IN (SELECT id FROM sub) AND status <> $2",
                            )
                            .bind(id)
                            .bind(sub)
                            .bind(now)
                            .execute(&mut *tx)
                            .await?;
                        }
                        sqlx::query(
                            "UPDATE tree_tasks SET status = $2, \
                             done_count = CASE WHEN $2 = 'done' THEN child_count ELSE 0 END \
                             WHERE id = $1",
                        )
                        .bind(id)
                        .bind(status.as_str())
                        .execute(&mut *tx)
                        .await?;
                        Self::tree_add_counts(
                            &mut tx,
                            before.parent_id.as_deref(),
                            0,
                            if is_done { 1 } else { -1 },
                        )
                        .await?;
                        Self::tree_settle(&mut tx, before.parent_id.clone(), now, &mut listings)
                            .await?;
                    } else {
                        sqlx::query("UPDATE tree_tasks SET status = $2 WHERE id = $1")
                            .bind(id)
                            .bind(status.as_str())
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                let task = Self::tree_row(&mut tx, id).await?;
                tx.commit().await?;
                Ok($crate::store::tree::TreeChange {
                    task,
                    listings,
                    removed: 0,
                })
            }

            async fn tree_move(
                &self,
                id: &str,
                parent: Option<&str>,
                index: i64,
                now: i64,
            ) -> $crate::store::StoreResult<$crate::store::tree::TreeChange> {
                let mut tx = self.write.begin().await?;
                Self::tree_lock(&mut tx).await?;
                let before = Self::tree_row(&mut tx, id).await?;
                if let Some(p) = parent {
                    Self::tree_row(&mut tx, p).await?;
                    let cycle = sqlx::query_scalar::<_, i64>(
                        "WITH RECURSIVE up(id, parent_id) AS (\
                           SELECT id, parent_id FROM tree_tasks WHERE id = $1 \
                           UNION ALL SELECT t.id, t.parent_id FROM tree_tasks t \
                           JOIN up ON t.id = up.parent_id) \
                         SELECT COUNT(*) FROM up WHERE id = $2",
                    )
                    .bind(p)
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
                    if cycle > 0 {
                        return Err($crate::store::StoreError::Conflict(if p == id {
                            "a task cannot be moved into itself".to_string()
                        } else {
                            format!("task {id} cannot be moved into its own subtree")
                        }));
                    }
                }
                let position = Self::tree_slot(&mut tx, parent, id, index).await?;
                sqlx::query(
                    "UPDATE tree_tasks SET parent_id = $2, position = $3, updated_at = $4 \
                     WHERE id = $1",
                )
                .bind(id)
                .bind(parent)
                .bind(position)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                let mut listings = vec![before.parent_id.clone()];
                if before.parent_id.as_deref() != parent {
                    listings.push(parent.map(str::to_string));
                    let is_done =
                        (before.status == $crate::tasks::model::Status::Done) as i64;
                    Self::tree_add_counts(&mut tx, before.parent_id.as_deref(), -1, -is_done)
                        .await?;
                    Self::tree_add_counts(&mut tx, parent, 1, is_done).await?;
                    Self::tree_settle(&mut tx, before.parent_id.clone(), now, &mut listings)
                        .await?;
                    Self::tree_settle(&mut tx, parent.map(str::to_string), now, &mut listings)
                        .await?;
                }
                let task = Self::tree_row(&mut tx, id).await?;
                tx.commit().await?;
                Ok($crate::store::tree::TreeChange {
                    task,
                    listings,
                    removed: 0,
                })
            }

            async fn tree_delete(
                &self,
                id: &str,
                now: i64,
            ) -> $crate::store::StoreResult<$crate::store::tree::TreeChange> {
                let mut tx = self.write.begin().await?;
                Self::tree_lock(&mut tx).await?;
                let task = Self::tree_row(&mut tx, id).await?;
                let mut listings = vec![task.parent_id.clone()];
                if task.child_count > 0 {
                    listings.push(Some(id.to_string()));
                    listings.extend(Self::tree_inner_descendants(&mut tx, id).await?);
                }
                let removed = sqlx::query(
                    "WITH RECURSIVE sub(id) AS (SELECT id FROM tree_tasks WHERE id = $1 \
                       UNION ALL SELECT t.id FROM tree_tasks t JOIN sub ON t.parent_id = sub.id) \
                     DELETE FROM tree_tasks WHERE id IN (SELECT id FROM sub)",
                )
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected() as i64;
                let is_done = (task.status == $crate::tasks::model::Status::Done) as i64;
                Self::tree_add_counts(&mut tx, task.parent_id.as_deref(), -1, -is_done).await?;
                Self::tree_settle(&mut tx, task.parent_id.clone(), now, &mut listings).await?;
                tx.commit().await?;
                Ok($crate::store::tree::TreeChange {
                    task,
                    listings,
                    removed,
                })
            }

            async fn tree_import(
                &self,
                parent: Option<&str>,
            ) -> $crate::store::StoreResult<(Box<dyn $crate::store::tree::TreeImport>, i64)> {
                let mut tx = self.write.begin().await?;
                Self::tree_lock(&mut tx).await?;
                if let Some(p) = parent {
                    Self::tree_row(&mut tx, p).await?;
                }
                let sql = format!(
                    "SELECT MAX(position) FROM tree_tasks WHERE {}",
                    $crate::store::tree::children_of(parent, 1)
                );
                let mut q = sqlx::query_scalar::<_, Option<i64>>(&sql);
                if let Some(p) = parent {
                    q = q.bind(p);
                }
                let last = q.fetch_one(&mut *tx).await?.unwrap_or(0);
                let import = TreeImportTx::<$store> {
                    tx,
                    pool: self.read.clone(),
                    parent: parent.map(str::to_string),
                    _store: std::marker::PhantomData,
                };
                Ok((Box::new(import), last))
            }
        }

        /// An import's open transaction.
        struct TreeImportTx<S> {
            tx: sqlx::Transaction<'static, $db>,
            /// For looking up clashes once a failed insert has spoiled the transaction.
            pool: sqlx::Pool<$db>,
            parent: Option<String>,
            _store: std::marker::PhantomData<fn() -> S>,
        }

        #[async_trait::async_trait]
        impl $crate::store::tree::TreeImport for TreeImportTx<$store> {
            async fn existing(
                &mut self,
                ids: &[&str],
            ) -> $crate::store::StoreResult<Vec<String>> {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let query = || {
                    let mut qb = sqlx::QueryBuilder::<$db>::new("SELECT id FROM tree_tasks WHERE id IN (");
                    let mut list = qb.separated(", ");
                    for id in ids {
                        list.push_bind(id.to_string());
                    }
                    list.push_unseparated(")");
                    qb
                };
                let mut qb = query();
                let found = qb
                    .build_query_scalar::<String>()
                    .fetch_all(&mut *self.tx)
                    .await;
                match found {
                    Ok(found) => Ok(found),
                    Err(_) => Ok(query()
                        .build_query_scalar::<String>()
                        .fetch_all(&self.pool)
                        .await?),
                }
            }

            async fn insert(
                &mut self,
                rows: &[$crate::tasks::model::TreeTask],
            ) -> $crate::store::StoreResult<()> {
                for chunk in rows.chunks(500) {
                    let mut qb = sqlx::QueryBuilder::<$db>::new(concat!(
                        $insert,
                        " INTO tree_tasks (id, parent_id, position, title, notes, status, \
                         child_count, done_count, created_at, updated_at) "
                    ));
                    qb.push_values(chunk, |mut b, t| {
                        b.push_bind(t.id.clone())
                            .push_bind(t.parent_id.clone())
                            .push_bind(t.position)
                            .push_bind(t.title.clone())
                            .push_bind(t.notes.clone())
                            .push_bind(t.status.as_str())
                            .push_bind(t.child_count)
                            .push_bind(t.done_count)
                            .push_bind(t.created_at)
                            .push_bind(t.updated_at);
                    });
                    match qb.build().execute(&mut *self.tx).await {
                        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                            return Err($crate::store::StoreError::Conflict(
                                "a task id already exists".into(),
                            ));
                        }
                        other => {
                            other?;
                        }
                    }
                }
                Ok(())
            }

            async fn finish(
                mut self: Box<Self>,
                top: i64,
                top_done: i64,
                now: i64,
            ) -> $crate::store::StoreResult<Vec<Option<String>>> {
                <$store>::tree_add_counts(&mut self.tx, self.parent.as_deref(), top, top_done)
                    .await?;
                let mut listings = vec![self.parent.clone()];
                <$store>::tree_settle(&mut self.tx, self.parent.clone(), now, &mut listings)
                    .await?;
                self.tx.commit().await?;
                Ok(listings)
            }
        }
    };
}

pub(super) use tree_impl;
