//! The task forest on SQLite: reads on the readers, edits on the writer (`store/sqlite`),
//! an import in a writer session of its own.

use super::{
    Dialect, FilterQuery, LeaseHold, NewTreeTask, SiblingCursor, Slot, TreeChange, TreeImport,
    TreePatch, TreeRow, TreeStore, ViewRow, sql, view_of,
};
use crate::Millis;
use crate::store::param::Param;
use crate::store::sqlite::{Session, SqliteStore, sql as lite, sql_built};
use crate::store::{StoreError, StoreResult};
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params_from_iter};
use shared::tasks::fields::{Label, default_label_color};
use shared::tasks::model::{Crumb, Status, TreeTask};
use shared::tasks::views::SavedView;
use std::collections::HashMap;

fn row(c: &Connection, id: &str) -> StoreResult<Option<TreeTask>> {
    c.prepare_cached(lite(sql::TASK))?
        .query_row([id], TreeRow::from_sqlite)
        .optional()?
        .map(TryInto::try_into)
        .transpose()
}

fn task(c: &Connection, id: &str) -> StoreResult<TreeTask> {
    row(c, id)?.ok_or_else(|| super::not_found(id))
}

fn tasks(c: &Connection, (text, params): (String, Vec<Param>)) -> StoreResult<Vec<TreeTask>> {
    c.prepare_cached(&sql_built(&text))?
        .query_map(params_from_iter(&params), TreeRow::from_sqlite)?
        .map(|r| r.map_err(StoreError::from)?.try_into())
        .collect()
}

fn numbers(c: &Connection, (text, params): (String, Vec<Param>)) -> StoreResult<Vec<Option<i64>>> {
    Ok(c.prepare_cached(&sql_built(&text))?
        .query_map(params_from_iter(&params), |r| r.get(0))?
        .collect::<Result<_, _>>()?)
}

/// Records `labels` as `id`'s label pairs (after any old pairs went), and each label never
/// used before with its first colour.
fn label(c: &Connection, id: &str, labels: &[String], now: Millis) -> StoreResult<()> {
    let mut pair = c.prepare_cached(lite(sql::LABEL_TASK))?;
    let mut new = c.prepare_cached(lite(sql::NEW_LABEL))?;
    for l in labels {
        pair.execute((l, id))?;
        new.execute((l, default_label_color(l), now))?;
    }
    Ok(())
}

fn add_counts(c: &Connection, parent: Option<&str>, children: i64, done: i64) -> StoreResult<()> {
    if let Some(p) = parent {
        c.prepare_cached(lite(sql::ADD_COUNTS))?
            .execute((p, children, done))?;
    }
    Ok(())
}

/// The done rule from `parent` upwards (see `super::settled`); pushes the listings changed.
fn settle(
    c: &Connection,
    mut parent: Option<String>,
    now: Millis,
    listings: &mut Vec<Option<String>>,
) -> StoreResult<()> {
    while let Some(id) = parent {
        let (status, children, done_children, up): (String, i64, i64, Option<String>) = c
            .prepare_cached(lite(sql::ROLLUP))?
            .query_row([&id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        let Some(want) = super::settled(&status, children, done_children) else {
            break;
        };
        c.prepare_cached(lite(sql::SET_STATUS_AT))?
            .execute((&id, want, now))?;
        if let Some(p) = &up {
            c.prepare_cached(lite(sql::ADD_DONE))?
                .execute((p, super::done(want) - super::done(&status)))?;
        }
        listings.push(up.clone());
        parent = up;
    }
    Ok(())
}

/// A position at index `index` among `parent`'s children other than `skip`.
fn place(c: &Connection, parent: Option<&str>, skip: &str, index: i64) -> StoreResult<i64> {
    for _ in 0..2 {
        let around: Vec<i64> = numbers(c, super::around(parent, skip, index))?
            .into_iter()
            .flatten()
            .collect();
        match super::slot(index, &around) {
            Slot::At(p) => return Ok(p),
            Slot::AfterLast => {
                let last = numbers(c, super::last_position(parent, skip))?;
                return Ok(last
                    .first()
                    .copied()
                    .flatten()
                    .map_or(shared::tasks::model::POSITION_GAP, |l| {
                        l + shared::tasks::model::POSITION_GAP
                    }));
            }
            Slot::Renumber => {
                let (text, params) = super::renumber(parent);
                c.prepare_cached(&sql_built(&text))?
                    .execute(params_from_iter(&params))?;
            }
        }
    }
    Err(super::no_room())
}

fn inner_descendants(c: &Connection, id: &str) -> StoreResult<Vec<Option<String>>> {
    let ids: Vec<String> = c
        .prepare_cached(lite(sql::INNER_DESCENDANTS))?
        .query_map((id, super::MAX_LISTINGS as i64 + 1), |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(super::capped(ids))
}

fn create(c: &Connection, new: &NewTreeTask, now: Millis) -> StoreResult<TreeChange> {
    let parent = new.parent_id.as_deref();
    if let Some(p) = parent {
        task(c, p)?;
    }
    let index = match &new.after {
        None => i64::MAX,
        Some(after) => {
            let sibling = task(c, after)?;
            if sibling.parent_id.as_deref() != parent {
                return Err(super::not_a_child(after, parent));
            }
            numbers(c, super::siblings_up_to(parent, sibling.position, after))?
                .first()
                .copied()
                .flatten()
                .unwrap_or(0)
        }
    };
    let position = place(c, parent, &new.id, index)?;
    let inserted = c.prepare_cached(lite(sql::CREATE))?.execute((
        &new.id,
        parent,
        position,
        &new.title,
        &new.notes,
        new.status.as_str(),
        now,
    ))?;
    if inserted == 0 {
        return Err(super::id_taken(&new.id));
    }
    add_counts(c, parent, 1, (new.status == Status::Done) as i64)?;
    let mut listings = vec![new.parent_id.clone()];
    settle(c, new.parent_id.clone(), now, &mut listings)?;
    Ok(TreeChange {
        task: task(c, &new.id)?,
        listings,
        removed: 0,
    })
}

fn update(c: &Connection, id: &str, patch: &TreePatch, now: Millis) -> StoreResult<TreeChange> {
    let before = task(c, id)?;
    let mut listings = vec![before.parent_id.clone()];
    c.prepare_cached(lite(sql::EDIT))?.execute((
        id,
        patch.title.as_deref(),
        patch.notes.as_deref(),
        now,
        patch.due.is_some(),
        patch.due.clone().flatten(),
        patch.assignee.is_some(),
        patch.assignee.clone().flatten(),
        patch.priority.map(|p| p.rank()),
        patch.labels_text(),
    ))?;
    if let Some(labels) = &patch.labels {
        c.prepare_cached(lite(sql::UNLABEL))?.execute([id])?;
        label(c, id, labels, now)?;
    }
    if let Some(status) = patch.status.filter(|s| *s != before.status) {
        let was_done = before.status == Status::Done;
        let is_done = status == Status::Done;
        if was_done != is_done {
            // The whole subtree follows: all done, or all back to do.
            if before.child_count > 0 {
                let sub = if is_done { Status::Done } else { Status::Todo };
                listings.push(Some(id.to_string()));
                listings.extend(inner_descendants(c, id)?);
                c.prepare_cached(lite(sql::SUBTREE_STATUS))?
                    .execute((id, sub.as_str(), now))?;
            }
            c.prepare_cached(lite(sql::SET_STATUS_ROLLED))?
                .execute((id, status.as_str()))?;
            add_counts(
                c,
                before.parent_id.as_deref(),
                0,
                if is_done { 1 } else { -1 },
            )?;
            settle(c, before.parent_id.clone(), now, &mut listings)?;
        } else {
            c.prepare_cached(lite(sql::SET_STATUS))?
                .execute((id, status.as_str()))?;
        }
    }
    Ok(TreeChange {
        task: task(c, id)?,
        listings,
        removed: 0,
    })
}

fn move_to(
    c: &Connection,
    id: &str,
    parent: Option<&str>,
    index: i64,
    now: Millis,
) -> StoreResult<TreeChange> {
    let before = task(c, id)?;
    if let Some(p) = parent {
        task(c, p)?;
        let cycle: i64 = c
            .prepare_cached(lite(sql::IS_ANCESTOR))?
            .query_row((p, id), |r| r.get(0))?;
        if cycle > 0 {
            return Err(super::cycle(id, p));
        }
    }
    let position = place(c, parent, id, index)?;
    c.prepare_cached(lite(sql::MOVE))?
        .execute((id, parent, position, now))?;
    let mut listings = vec![before.parent_id.clone()];
    if before.parent_id.as_deref() != parent {
        listings.push(parent.map(str::to_string));
        let is_done = (before.status == Status::Done) as i64;
        add_counts(c, before.parent_id.as_deref(), -1, -is_done)?;
        add_counts(c, parent, 1, is_done)?;
        settle(c, before.parent_id.clone(), now, &mut listings)?;
        settle(c, parent.map(str::to_string), now, &mut listings)?;
    }
    Ok(TreeChange {
        task: task(c, id)?,
        listings,
        removed: 0,
    })
}

fn delete(c: &Connection, id: &str, now: Millis) -> StoreResult<TreeChange> {
    let gone = task(c, id)?;
    let mut listings = vec![gone.parent_id.clone()];
    if gone.child_count > 0 {
        listings.push(Some(id.to_string()));
        listings.extend(inner_descendants(c, id)?);
    }
    c.prepare_cached(lite(sql::UNLABEL_SUBTREE))?
        .execute([id])?;
    let removed = c.prepare_cached(lite(sql::DELETE_SUBTREE))?.execute([id])? as i64;
    let is_done = (gone.status == Status::Done) as i64;
    add_counts(c, gone.parent_id.as_deref(), -1, -is_done)?;
    settle(c, gone.parent_id.clone(), now, &mut listings)?;
    Ok(TreeChange {
        task: gone,
        listings,
        removed,
    })
}

#[async_trait]
impl TreeStore for SqliteStore {
    async fn tree_children(
        &self,
        parent: Option<&str>,
        after: Option<&SiblingCursor>,
        limit: i64,
    ) -> StoreResult<(Vec<TreeTask>, i64)> {
        self.readers
            .read(|c| {
                // One transaction: the count and the page agree.
                c.execute_batch("BEGIN")?;
                let out = (|| {
                    let total: i64 = match parent {
                        Some(p) => c
                            .prepare_cached(lite(sql::CHILD_COUNT))?
                            .query_row([p], |r| r.get(0))
                            .optional()?
                            .ok_or_else(|| super::not_found(p))?,
                        None => c
                            .prepare_cached(sql::ROOT_COUNT)?
                            .query_row([], |r| r.get(0))?,
                    };
                    Ok((tasks(c, super::children_page(parent, after, limit))?, total))
                })();
                c.execute_batch("COMMIT")?;
                out
            })
            .await
    }

    async fn tree_task(&self, id: &str) -> StoreResult<TreeTask> {
        self.readers.read(|c| task(c, id)).await
    }

    async fn tree_children_of(&self, parents: &[String]) -> StoreResult<Vec<TreeTask>> {
        if parents.is_empty() {
            return Ok(Vec::new());
        }
        self.readers
            .read(|c| tasks(c, super::children_of_many(parents)))
            .await
    }

    async fn tree_path(&self, id: &str, keep: i64) -> StoreResult<(Vec<Crumb>, i64)> {
        let rows: Vec<(String, String)> = self
            .readers
            .read(|c| {
                Ok(c.prepare_cached(lite(sql::PATH))?
                    .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<_, _>>()?)
            })
            .await?;
        if rows.is_empty() {
            return Err(super::not_found(id));
        }
        Ok(super::crumbs(rows, keep))
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
        let rows: Vec<(String, String, String, i64)> = self
            .readers
            .read(move |c| {
                Ok(c.prepare_cached(&sql_built(&text))?
                    .query_map(params_from_iter(&params), |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                    })?
                    .collect::<Result<_, _>>()?)
            })
            .await?;
        Ok(super::group_paths(rows, keep))
    }

    async fn tree_filter(&self, q: &FilterQuery, limit: i64) -> StoreResult<(Vec<TreeTask>, i64)> {
        let (text, mut params) = super::filter::select(q, Dialect::Sqlite, sql::COLUMNS);
        params.push(limit.into());
        self.readers
            .read(move |c| {
                let mut total = 0;
                let mut found = Vec::new();
                let mut stmt = c.prepare_cached(&sql_built(&text))?;
                let mut rows = stmt.query(params_from_iter(&params))?;
                while let Some(r) = rows.next()? {
                    total = r.get(15)?;
                    found.push(TreeRow::from_sqlite(r)?.try_into()?);
                }
                Ok((found, total))
            })
            .await
    }

    async fn tree_subtree_size(&self, id: &str) -> StoreResult<i64> {
        let n: i64 = self
            .readers
            .read(|c| {
                Ok(c.prepare_cached(lite(sql::SUBTREE_SIZE))?
                    .query_row([id], |r| r.get(0))?)
            })
            .await?;
        if n == 0 {
            return Err(super::not_found(id));
        }
        Ok(n)
    }

    async fn tree_height(&self, id: &str) -> StoreResult<u64> {
        let h: Option<i64> = self
            .readers
            .read(|c| {
                Ok(c.prepare_cached(lite(sql::HEIGHT))?
                    .query_row([id], |r| r.get(0))?)
            })
            .await?;
        h.map(|h| h as u64).ok_or_else(|| super::not_found(id))
    }

    async fn tree_create(&self, new: &NewTreeTask, now: Millis) -> StoreResult<TreeChange> {
        let new = new.clone();
        self.on_writer(move |c| create(c, &new, now)).await
    }

    async fn tree_update(
        &self,
        id: &str,
        patch: &TreePatch,
        now: Millis,
    ) -> StoreResult<TreeChange> {
        let (id, patch) = (id.to_string(), patch.clone());
        self.on_writer(move |c| update(c, &id, &patch, now)).await
    }

    async fn tree_move(
        &self,
        id: &str,
        parent: Option<&str>,
        index: i64,
        now: Millis,
    ) -> StoreResult<TreeChange> {
        let (id, parent) = (id.to_string(), parent.map(str::to_string));
        self.on_writer(move |c| move_to(c, &id, parent.as_deref(), index, now))
            .await
    }

    async fn tree_delete(&self, id: &str, now: Millis) -> StoreResult<TreeChange> {
        let id = id.to_string();
        self.on_writer(move |c| delete(c, &id, now)).await
    }

    async fn tree_import(&self, parent: Option<&str>) -> StoreResult<(Box<dyn TreeImport>, i64)> {
        let session = self.session().await;
        let (last, rowid, trigger) = session.run(|c| {
            c.execute_batch("BEGIN IMMEDIATE")?;
            if let Some(p) = parent {
                task(c, p)?;
            }
            let last = numbers(c, super::last_position(parent, ""))?
                .first()
                .copied()
                .flatten()
                .unwrap_or(0);
            let rowid: i64 = c.query_row(sql::LAST_ROWID_SQLITE, [], |r| r.get(0))?;
            let trigger: String = c.query_row(sql::TEXT_TRIGGER_SQLITE, [], |r| r.get(0))?;
            c.execute_batch(sql::DROP_TEXT_TRIGGER_SQLITE)?;
            Ok((last, rowid, trigger))
        })?;
        Ok((
            Box::new(Import {
                session,
                parent: parent.map(str::to_string),
                rowid,
                trigger,
            }),
            last,
        ))
    }

    async fn tree_labels(&self) -> StoreResult<Vec<Label>> {
        self.readers
            .read(|c| {
                Ok(c.prepare_cached(lite(sql::LABELS))?
                    .query_map([], |r| {
                        Ok(Label {
                            name: r.get(0)?,
                            color: r.get(1)?,
                        })
                    })?
                    .collect::<Result<_, _>>()?)
            })
            .await
    }

    async fn tree_recolor_label(&self, name: &str, color: &str) -> StoreResult<Label> {
        let (name, color) = (name.to_string(), color.to_string());
        self.on_writer(move |c| {
            let n = c
                .prepare_cached(lite(sql::RECOLOR_LABEL))?
                .execute((&name, &color))?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("label {name}")));
            }
            Ok(Label { name, color })
        })
        .await
    }

    async fn views(&self, owner: &str) -> StoreResult<Vec<SavedView>> {
        let owner = owner.to_string();
        let rows: Vec<ViewRow> = self
            .readers
            .read(move |c| {
                Ok(c.prepare_cached(lite(sql::VIEWS))?
                    .query_map([&owner], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                    })?
                    .collect::<Result<_, _>>()?)
            })
            .await?;
        rows.into_iter().map(view_of).collect()
    }

    async fn save_view(&self, owner: &str, view: &SavedView, max: i64) -> StoreResult<()> {
        let (owner, view) = (owner.to_string(), view.clone());
        self.on_writer(move |c| {
            let others: i64 = c
                .prepare_cached(lite(sql::OTHER_VIEWS))?
                .query_row((&owner, &view.name), |r| r.get(0))?;
            if others >= max {
                return Err(StoreError::Conflict(format!(
                    "you keep {others} views already, the most there may be; delete one first"
                )));
            }
            c.prepare_cached(lite(sql::SAVE_VIEW))?.execute((
                &owner,
                &view.name,
                &view.filter,
                view.layout.as_str(),
                view.created_at,
            ))?;
            Ok(())
        })
        .await
    }

    async fn delete_view(&self, owner: &str, name: &str) -> StoreResult<()> {
        let (owner, name) = (owner.to_string(), name.to_string());
        self.on_writer(move |c| {
            let n = c
                .prepare_cached(lite(sql::DELETE_VIEW))?
                .execute((&owner, &name))?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("view {name}")));
            }
            Ok(())
        })
        .await
    }
}

/// An import's open transaction, in a writer session of its own.
struct Import {
    session: Session,
    parent: Option<String>,
    /// The last rowid before the import's rows: the text index takes every row after it.
    rowid: i64,
    /// The text index's insert trigger, dropped for the import and put back at its end.
    trigger: String,
}

#[async_trait]
impl TreeImport for Import {
    async fn existing(&mut self, ids: &[&str]) -> StoreResult<Vec<String>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // After a clash (`INSERT OR ROLLBACK`) the transaction is gone and this reads the
        // database as it was.
        self.session.run(|c| {
            let (text, params) = super::existing(ids);
            Ok(c.prepare(&sql_built(&text))?
                .query_map(params_from_iter(&params), |r| r.get(0))?
                .collect::<Result<_, _>>()?)
        })
    }

    async fn insert(&mut self, rows: &[TreeTask]) -> StoreResult<()> {
        self.session.run(|c| {
            let mut insert = c.prepare_cached(lite(sql::IMPORT_ROW_SQLITE))?;
            for t in rows {
                let r = insert.execute((
                    &t.id,
                    &t.parent_id,
                    t.position,
                    &t.title,
                    &t.notes,
                    t.status.as_str(),
                    t.child_count,
                    t.done_count,
                    t.created_at,
                    t.updated_at,
                    &t.due,
                    &t.assignee,
                    t.priority.rank(),
                    super::labels_text(&t.labels),
                ));
                match r {
                    Err(rusqlite::Error::SqliteFailure(e, _))
                        if e.code == rusqlite::ErrorCode::ConstraintViolation =>
                    {
                        return Err(StoreError::Conflict("a task id already exists".into()));
                    }
                    other => {
                        other?;
                    }
                }
                if !t.labels.is_empty() {
                    label(c, &t.id, &t.labels, t.updated_at)?;
                }
            }
            Ok(())
        })
    }

    async fn finish(
        self: Box<Self>,
        top: i64,
        top_done: i64,
        now: Millis,
        hold: Option<&LeaseHold>,
    ) -> StoreResult<Vec<Option<String>>> {
        self.session.run(|c| {
            if let Some(h) = hold {
                let held = c
                    .prepare_cached(lite(sql::HOLD_LEASE))?
                    .execute((&h.task_id, h.attempt, h.until))?;
                if held == 0 {
                    return Err(super::lease_lost(h));
                }
            }
            add_counts(c, self.parent.as_deref(), top, top_done)?;
            let mut listings = vec![self.parent.clone()];
            settle(c, self.parent.clone(), now, &mut listings)?;
            c.execute(lite(sql::INDEX_TEXT_AFTER_SQLITE), [self.rowid])?;
            c.execute_batch(&self.trigger)?;
            c.execute_batch("COMMIT")?;
            Ok(listings)
        })
    }
}
