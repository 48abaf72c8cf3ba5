//! The task forest on Postgres. Every edit takes the tree's advisory lock first (see
//! `sql.rs`), so edits run one at a time, as they do on SQLite.

use super::{
    Dialect, FilterQuery, LeaseHold, NewTreeTask, SiblingCursor, Slot, TreeChange, TreeImport,
    TreePatch, TreeRow, TreeStore, ViewRow, sql, view_of,
};
use crate::Millis;
use crate::store::param::{Param, bind_pg, bind_pg_query, bind_pg_scalar};
use crate::store::postgres::{PgStore, finish};
use crate::store::{StoreError, StoreResult};
use async_trait::async_trait;
use shared::tasks::fields::{Label, default_label_color};
use shared::tasks::model::{Crumb, POSITION_GAP, Status, TreeTask};
use shared::tasks::views::SavedView;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use std::collections::HashMap;

async fn row(c: &mut PgConnection, id: &str) -> StoreResult<Option<TreeTask>> {
    sqlx::query_as::<_, TreeRow>(sql::TASK)
        .bind(id)
        .fetch_optional(c)
        .await?
        .map(TryInto::try_into)
        .transpose()
}

/// Records `(label, task id)` pairs (after any old pairs of those tasks went), and each
/// label never used before with its first colour, in two statements.
async fn label(c: &mut PgConnection, pairs: &[(String, String)], now: Millis) -> StoreResult<()> {
    if pairs.is_empty() {
        return Ok(());
    }
    let (labels, ids): (Vec<String>, Vec<String>) = pairs.iter().cloned().unzip();
    sqlx::query(sql::LABEL_TASKS_POSTGRES)
        .bind(&labels)
        .bind(&ids)
        .execute(&mut *c)
        .await?;
    let colors: Vec<String> = labels
        .iter()
        .map(|l| default_label_color(l).to_string())
        .collect();
    sqlx::query(sql::NEW_LABELS_POSTGRES)
        .bind(&labels)
        .bind(&colors)
        .bind(now)
        .execute(&mut *c)
        .await?;
    Ok(())
}

async fn task(c: &mut PgConnection, id: &str) -> StoreResult<TreeTask> {
    row(c, id).await?.ok_or_else(|| super::not_found(id))
}

async fn tasks(
    c: &mut PgConnection,
    (text, params): (String, Vec<Param>),
) -> StoreResult<Vec<TreeTask>> {
    bind_pg(sqlx::query_as::<_, TreeRow>(&text), &params)
        .fetch_all(c)
        .await?
        .into_iter()
        .map(TryInto::try_into)
        .collect()
}

async fn numbers(
    c: &mut PgConnection,
    (text, params): (String, Vec<Param>),
) -> StoreResult<Vec<Option<i64>>> {
    Ok(bind_pg_scalar(sqlx::query_scalar(&text), &params)
        .fetch_all(c)
        .await?)
}

async fn add_counts(
    c: &mut PgConnection,
    parent: Option<&str>,
    children: i64,
    done: i64,
) -> StoreResult<()> {
    if let Some(p) = parent {
        sqlx::query(sql::ADD_COUNTS)
            .bind(p)
            .bind(children)
            .bind(done)
            .execute(c)
            .await?;
    }
    Ok(())
}

/// The done rule from `parent` upwards (see `super::settled`); pushes the listings changed.
async fn settle(
    c: &mut PgConnection,
    mut parent: Option<String>,
    now: Millis,
    listings: &mut Vec<Option<String>>,
) -> StoreResult<()> {
    while let Some(id) = parent {
        let (status, children, done_children, up): (String, i64, i64, Option<String>) =
            sqlx::query_as(sql::ROLLUP)
                .bind(&id)
                .fetch_one(&mut *c)
                .await?;
        let Some(want) = super::settled(&status, children, done_children) else {
            break;
        };
        sqlx::query(sql::SET_STATUS_AT)
            .bind(&id)
            .bind(want)
            .bind(now)
            .execute(&mut *c)
            .await?;
        if let Some(p) = &up {
            sqlx::query(sql::ADD_DONE)
                .bind(p)
                .bind(super::done(want) - super::done(&status))
                .execute(&mut *c)
                .await?;
        }
        listings.push(up.clone());
        parent = up;
    }
    Ok(())
}

/// A position at index `index` among `parent`'s children other than `skip`.
async fn place(
    c: &mut PgConnection,
    parent: Option<&str>,
    skip: &str,
    index: i64,
) -> StoreResult<i64> {
    for _ in 0..2 {
        let around: Vec<i64> = numbers(c, super::around(parent, skip, index))
            .await?
            .into_iter()
            .flatten()
            .collect();
        match super::slot(index, &around) {
            Slot::At(p) => return Ok(p),
            Slot::AfterLast => {
                let last = numbers(c, super::last_position(parent, skip)).await?;
                return Ok(last
                    .first()
                    .copied()
                    .flatten()
                    .map_or(POSITION_GAP, |l| l + POSITION_GAP));
            }
            Slot::Renumber => {
                let (text, params) = super::renumber(parent);
                bind_pg_query(sqlx::query(&text), &params)
                    .execute(&mut *c)
                    .await?;
            }
        }
    }
    Err(super::no_room())
}

async fn inner_descendants(c: &mut PgConnection, id: &str) -> StoreResult<Vec<Option<String>>> {
    let ids: Vec<String> = sqlx::query_scalar(sql::INNER_DESCENDANTS)
        .bind(id)
        .bind(super::MAX_LISTINGS as i64 + 1)
        .fetch_all(c)
        .await?;
    Ok(super::capped(ids))
}

/// A write transaction holding the tree's lock.
async fn begin(pool: &PgPool) -> StoreResult<Transaction<'static, Postgres>> {
    let mut tx = pool.begin().await?;
    sqlx::query(sql::LOCK_POSTGRES).execute(&mut *tx).await?;
    Ok(tx)
}

#[async_trait]
impl TreeStore for PgStore {
    async fn tree_children(
        &self,
        parent: Option<&str>,
        after: Option<&SiblingCursor>,
        limit: i64,
    ) -> StoreResult<(Vec<TreeTask>, i64)> {
        // One transaction: the count and the page agree.
        let mut tx = self.read.begin().await?;
        let out: StoreResult<_> = async {
            let total: i64 = match parent {
                Some(p) => sqlx::query_scalar(sql::CHILD_COUNT)
                    .bind(p)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or_else(|| super::not_found(p))?,
                None => {
                    sqlx::query_scalar(sql::ROOT_COUNT)
                        .fetch_one(&mut *tx)
                        .await?
                }
            };
            let items = tasks(&mut tx, super::children_page(parent, after, limit)).await?;
            Ok((items, total))
        }
        .await;
        finish(tx, out).await
    }

    async fn tree_task(&self, id: &str) -> StoreResult<TreeTask> {
        let mut c = self.read.acquire().await?;
        task(&mut c, id).await
    }

    async fn tree_children_of(&self, parents: &[String]) -> StoreResult<Vec<TreeTask>> {
        if parents.is_empty() {
            return Ok(Vec::new());
        }
        let mut c = self.read.acquire().await?;
        tasks(&mut c, super::children_of_many(parents)).await
    }

    async fn tree_path(&self, id: &str, keep: i64) -> StoreResult<(Vec<Crumb>, i64)> {
        let rows: Vec<(String, String, i64)> = sqlx::query_as(sql::PATH)
            .bind(id)
            .fetch_all(&self.read)
            .await?;
        if rows.is_empty() {
            return Err(super::not_found(id));
        }
        Ok(super::crumbs(
            rows.into_iter().map(|(i, t, _)| (i, t)).collect(),
            keep,
        ))
    }

    async fn tree_paths(
        &self,
        ids: &[String],
        keep: i64,
    ) -> StoreResult<HashMap<String, (Vec<Crumb>, i64)>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let (text, params) = super::paths_of(ids);
        let rows: Vec<(String, String, String, i64)> = bind_pg(sqlx::query_as(&text), &params)
            .fetch_all(&self.read)
            .await?;
        Ok(super::group_paths(rows, keep))
    }

    async fn tree_filter(&self, q: &FilterQuery, limit: i64) -> StoreResult<(Vec<TreeTask>, i64)> {
        let (text, mut params) = super::filter::select(q, Dialect::Postgres, sql::COLUMNS);
        params.push(limit.into());
        let rows: Vec<Counted> = bind_pg(sqlx::query_as(&text), &params)
            .fetch_all(&self.read)
            .await?;
        let total = rows.first().map_or(0, |r| r.total);
        let found = rows
            .into_iter()
            .map(|r| r.row.try_into())
            .collect::<StoreResult<_>>()?;
        Ok((found, total))
    }

    async fn tree_subtree_size(&self, id: &str) -> StoreResult<i64> {
        let n: i64 = sqlx::query_scalar(sql::SUBTREE_SIZE)
            .bind(id)
            .fetch_one(&self.read)
            .await?;
        if n == 0 {
            return Err(super::not_found(id));
        }
        Ok(n)
    }

    async fn tree_height(&self, id: &str) -> StoreResult<u64> {
        let h: Option<i64> = sqlx::query_scalar(sql::HEIGHT)
            .bind(id)
            .fetch_one(&self.read)
            .await?;
        h.map(|h| h as u64).ok_or_else(|| super::not_found(id))
    }

    async fn tree_create(&self, new: &NewTreeTask, now: Millis) -> StoreResult<TreeChange> {
        let mut tx = begin(&self.write).await?;
        let out: StoreResult<_> = async {
            let parent = new.parent_id.as_deref();
            if let Some(p) = parent {
                task(&mut tx, p).await?;
            }
            let index = match &new.after {
                None => i64::MAX,
                Some(after) => {
                    let sibling = task(&mut tx, after).await?;
                    if sibling.parent_id.as_deref() != parent {
                        return Err(super::not_a_child(after, parent));
                    }
                    numbers(
                        &mut tx,
                        super::siblings_up_to(parent, sibling.position, after),
                    )
                    .await?
                    .first()
                    .copied()
                    .flatten()
                    .unwrap_or(0)
                }
            };
            let position = place(&mut tx, parent, &new.id, index).await?;
            let inserted = sqlx::query(sql::CREATE)
                .bind(&new.id)
                .bind(parent)
                .bind(position)
                .bind(&new.title)
                .bind(&new.notes)
                .bind(new.status.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if inserted == 0 {
                return Err(super::id_taken(&new.id));
            }
            add_counts(&mut tx, parent, 1, (new.status == Status::Done) as i64).await?;
            let mut listings = vec![new.parent_id.clone()];
            settle(&mut tx, new.parent_id.clone(), now, &mut listings).await?;
            let task = task(&mut tx, &new.id).await?;
            Ok(TreeChange {
                task,
                listings,
                removed: 0,
            })
        }
        .await;
        finish(tx, out).await
    }

    async fn tree_update(
        &self,
        id: &str,
        patch: &TreePatch,
        now: Millis,
    ) -> StoreResult<TreeChange> {
        let mut tx = begin(&self.write).await?;
        let out: StoreResult<_> = async {
            let before = task(&mut tx, id).await?;
            let mut listings = vec![before.parent_id.clone()];
            sqlx::query(sql::EDIT)
                .bind(id)
                .bind(patch.title.as_deref())
                .bind(patch.notes.as_deref())
                .bind(now)
                .bind(patch.due.is_some())
                .bind(patch.due.clone().flatten())
                .bind(patch.assignee.is_some())
                .bind(patch.assignee.clone().flatten())
                .bind(patch.priority.map(|p| p.rank()))
                .bind(patch.labels_text())
                .execute(&mut *tx)
                .await?;
            if let Some(labels) = &patch.labels {
                sqlx::query(sql::UNLABEL).bind(id).execute(&mut *tx).await?;
                let pairs: Vec<(String, String)> =
                    labels.iter().map(|l| (l.clone(), id.to_string())).collect();
                label(&mut tx, &pairs, now).await?;
            }
            if let Some(status) = patch.status.filter(|s| *s != before.status) {
                let was_done = before.status == Status::Done;
                let is_done = status == Status::Done;
                if was_done != is_done {
                    // The whole subtree follows: all done, or all back to do.
                    if before.child_count > 0 {
                        let sub = if is_done { Status::Done } else { Status::Todo };
                        listings.push(Some(id.to_string()));
                        listings.extend(inner_descendants(&mut tx, id).await?);
                        sqlx::query(sql::SUBTREE_STATUS)
                            .bind(id)
                            .bind(sub.as_str())
                            .bind(now)
                            .execute(&mut *tx)
                            .await?;
                    }
                    sqlx::query(sql::SET_STATUS_ROLLED)
                        .bind(id)
                        .bind(status.as_str())
                        .execute(&mut *tx)
                        .await?;
                    add_counts(
                        &mut tx,
                        before.parent_id.as_deref(),
                        0,
                        if is_done { 1 } else { -1 },
                    )
                    .await?;
                    settle(&mut tx, before.parent_id.clone(), now, &mut listings).await?;
                } else {
                    sqlx::query(sql::SET_STATUS)
                        .bind(id)
                        .bind(status.as_str())
                        .execute(&mut *tx)
                        .await?;
                }
            }
            let task = task(&mut tx, id).await?;
            Ok(TreeChange {
                task,
                listings,
                removed: 0,
            })
        }
        .await;
        finish(tx, out).await
    }

    async fn tree_move(
        &self,
        id: &str,
        parent: Option<&str>,
        index: i64,
        now: Millis,
    ) -> StoreResult<TreeChange> {
        let mut tx = begin(&self.write).await?;
        let out: StoreResult<_> = async {
            let before = task(&mut tx, id).await?;
            if let Some(p) = parent {
                task(&mut tx, p).await?;
                let cycle: i64 = sqlx::query_scalar(sql::IS_ANCESTOR)
                    .bind(p)
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
                if cycle > 0 {
                    return Err(super::cycle(id, p));
                }
            }
            let position = place(&mut tx, parent, id, index).await?;
            sqlx::query(sql::MOVE)
                .bind(id)
                .bind(parent)
                .bind(position)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            let mut listings = vec![before.parent_id.clone()];
            if before.parent_id.as_deref() != parent {
                listings.push(parent.map(str::to_string));
                let is_done = (before.status == Status::Done) as i64;
                add_counts(&mut tx, before.parent_id.as_deref(), -1, -is_done).await?;
                add_counts(&mut tx, parent, 1, is_done).await?;
                settle(&mut tx, before.parent_id.clone(), now, &mut listings).await?;
                settle(&mut tx, parent.map(str::to_string), now, &mut listings).await?;
            }
            let task = task(&mut tx, id).await?;
            Ok(TreeChange {
                task,
                listings,
                removed: 0,
            })
        }
        .await;
        finish(tx, out).await
    }

    async fn tree_delete(&self, id: &str, now: Millis) -> StoreResult<TreeChange> {
        let mut tx = begin(&self.write).await?;
        let out: StoreResult<_> = async {
            let gone = task(&mut tx, id).await?;
            let mut listings = vec![gone.parent_id.clone()];
            if gone.child_count > 0 {
                listings.push(Some(id.to_string()));
                listings.extend(inner_descendants(&mut tx, id).await?);
            }
            sqlx::query(sql::UNLABEL_SUBTREE)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            let removed = sqlx::query(sql::DELETE_SUBTREE)
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected() as i64;
            let is_done = (gone.status == Status::Done) as i64;
            add_counts(&mut tx, gone.parent_id.as_deref(), -1, -is_done).await?;
            settle(&mut tx, gone.parent_id.clone(), now, &mut listings).await?;
            Ok(TreeChange {
                task: gone,
                listings,
                removed,
            })
        }
        .await;
        finish(tx, out).await
    }

    async fn tree_import(&self, parent: Option<&str>) -> StoreResult<(Box<dyn TreeImport>, i64)> {
        let mut tx = begin(&self.write).await?;
        let last: StoreResult<i64> = async {
            if let Some(p) = parent {
                task(&mut tx, p).await?;
            }
            for s in sql::GIN_BULK_POSTGRES {
                sqlx::query(s).execute(&mut *tx).await?;
            }
            Ok(numbers(&mut tx, super::last_position(parent, ""))
                .await?
                .first()
                .copied()
                .flatten()
                .unwrap_or(0))
        }
        .await;
        let last = match last {
            Ok(last) => last,
            // Refused: the lock goes now, not when the connection is next used.
            Err(e) => return finish(tx, Err(e)).await,
        };
        Ok((
            Box::new(Import {
                tx,
                pool: self.read.clone(),
                parent: parent.map(str::to_string),
            }),
            last,
        ))
    }

    async fn tree_labels(&self) -> StoreResult<Vec<Label>> {
        let rows: Vec<(String, String)> = sqlx::query_as(sql::LABELS).fetch_all(&self.read).await?;
        Ok(rows
            .into_iter()
            .map(|(name, color)| Label { name, color })
            .collect())
    }

    async fn tree_recolor_label(&self, name: &str, color: &str) -> StoreResult<Label> {
        let n = sqlx::query(sql::RECOLOR_LABEL)
            .bind(name)
            .bind(color)
            .execute(&self.write)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound(format!("label {name}")));
        }
        Ok(Label {
            name: name.to_string(),
            color: color.to_string(),
        })
    }

    async fn views(&self, owner: &str) -> StoreResult<Vec<SavedView>> {
        let rows: Vec<ViewRow> = sqlx::query_as(sql::VIEWS)
            .bind(owner)
            .fetch_all(&self.read)
            .await?;
        rows.into_iter().map(view_of).collect()
    }

    async fn save_view(&self, owner: &str, view: &SavedView, max: i64) -> StoreResult<()> {
        let mut tx = self.write.begin().await?;
        let out: StoreResult<()> = async {
            let others: i64 = sqlx::query_scalar(sql::OTHER_VIEWS)
                .bind(owner)
                .bind(&view.name)
                .fetch_one(&mut *tx)
                .await?;
            if others >= max {
                return Err(StoreError::Conflict(format!(
                    "you keep {others} views already, the most there may be; delete one first"
                )));
            }
            sqlx::query(sql::SAVE_VIEW)
                .bind(owner)
                .bind(&view.name)
                .bind(&view.filter)
                .bind(view.layout.as_str())
                .bind(view.created_at)
                .execute(&mut *tx)
                .await?;
            Ok(())
        }
        .await;
        finish(tx, out).await
    }

    async fn delete_view(&self, owner: &str, name: &str) -> StoreResult<()> {
        let n = sqlx::query(sql::DELETE_VIEW)
            .bind(owner)
            .bind(name)
            .execute(&self.write)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound(format!("view {name}")));
        }
        Ok(())
    }
}

/// A filter's row: the task and the count of every match.
#[derive(sqlx::FromRow)]
struct Counted {
    #[sqlx(flatten)]
    row: TreeRow,
    total: i64,
}

/// An import's open transaction.
struct Import {
    tx: Transaction<'static, Postgres>,
    /// For looking up clashes once a failed insert has spoiled the transaction.
    pool: PgPool,
    parent: Option<String>,
}

#[async_trait]
impl TreeImport for Import {
    async fn existing(&mut self, ids: &[&str]) -> StoreResult<Vec<String>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let (text, params) = super::existing(ids);
        let found = bind_pg_scalar(sqlx::query_scalar(&text), &params)
            .fetch_all(&mut *self.tx)
            .await;
        match found {
            Ok(found) => Ok(found),
            Err(_) => Ok(bind_pg_scalar(sqlx::query_scalar(&text), &params)
                .fetch_all(&self.pool)
                .await?),
        }
    }

    async fn insert(&mut self, rows: &[TreeTask]) -> StoreResult<()> {
        for chunk in rows.chunks(5_000) {
            let col = |f: fn(&TreeTask) -> String| chunk.iter().map(f).collect::<Vec<_>>();
            let num = |f: fn(&TreeTask) -> i64| chunk.iter().map(f).collect::<Vec<_>>();
            let parents: Vec<Option<String>> = chunk.iter().map(|t| t.parent_id.clone()).collect();
            let r = sqlx::query(sql::IMPORT_ROWS_POSTGRES)
                .bind(col(|t| t.id.clone()))
                .bind(parents)
                .bind(num(|t| t.position))
                .bind(col(|t| t.title.clone()))
                .bind(col(|t| t.notes.clone()))
                .bind(col(|t| t.status.as_str().to_string()))
                .bind(num(|t| t.child_count))
                .bind(num(|t| t.done_count))
                .bind(num(|t| t.created_at))
                .bind(num(|t| t.updated_at))
                .bind(chunk.iter().map(|t| t.due.clone()).collect::<Vec<_>>())
                .bind(chunk.iter().map(|t| t.assignee.clone()).collect::<Vec<_>>())
                .bind(num(|t| t.priority.rank()))
                .bind(col(|t| super::labels_text(&t.labels)))
                .execute(&mut *self.tx)
                .await;
            match r {
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                    return Err(StoreError::Conflict("a task id already exists".into()));
                }
                other => {
                    other?;
                }
            }
            let pairs: Vec<(String, String)> = chunk
                .iter()
                .flat_map(|t| t.labels.iter().map(|l| (l.clone(), t.id.clone())))
                .collect();
            let now = chunk.first().map_or(0, |t| t.updated_at);
            label(&mut self.tx, &pairs, now).await?;
        }
        Ok(())
    }

    async fn finish(
        mut self: Box<Self>,
        top: i64,
        top_done: i64,
        now: Millis,
        hold: Option<&LeaseHold>,
    ) -> StoreResult<Vec<Option<String>>> {
        if let Some(h) = hold {
            let held = sqlx::query(sql::HOLD_LEASE)
                .bind(&h.task_id)
                .bind(h.attempt)
                .bind(h.until)
                .execute(&mut *self.tx)
                .await?
                .rows_affected();
            if held == 0 {
                return Err(super::lease_lost(h));
            }
        }
        add_counts(&mut self.tx, self.parent.as_deref(), top, top_done).await?;
        let mut listings = vec![self.parent.clone()];
        settle(&mut self.tx, self.parent.clone(), now, &mut listings).await?;
        sqlx::query(sql::GIN_MERGE_POSTGRES)
            .execute(&mut *self.tx)
            .await?;
        for s in sql::GIN_SMALL_POSTGRES {
            sqlx::query(s).execute(&mut *self.tx).await?;
        }
        self.tx.commit().await?;
        Ok(listings)
    }
}
