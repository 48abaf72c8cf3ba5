//! Task-tree operations shared by server functions and the REST API: each validates, calls
//! the store, and announces what changed on the event bus — a `task` event for the task and
//! a `tree` event for every sibling listing whose content changed (`root` for the roots,
//! `*` when too many changed to name).

use super::forest::{announce, depth_of};
use super::kinds::Phase;
use super::model::{
    Crumb, DEFAULT_PAGE, GenerateParams, MAX_NOTES, MAX_PAGE, MAX_TITLE, Status, TaskPage,
    TreeFile, TreeFormat, TreeTask,
};
use crate::error::{AppError, AppResult};
use crate::jobs::model::{Job, JobKind, JobState};
use crate::jobs::plan::TaskSpec;
use crate::now_millis;
use crate::state::Core;
use crate::store::tree::{NewTreeTask, TreeChange, TreePatch};
use serde_json::json;
use shared::tasks::fields::{clean_labels, due_problem};

/// A task to create, as callers give it.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct NewTask {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub parent_id: Option<String>,
    pub title: String,
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default)]
    pub status: Option<Status>,
    #[serde(default)]
    pub after: Option<String>,
}

pub use crate::store::tree::TreePatch as TaskPatch;

/// Ancestors a breadcrumb trail keeps (plus the root).
const CRUMBS: i64 = 200;

fn check_title(t: &str) -> AppResult<String> {
    let t = t.trim();
    if t.is_empty() {
        return Err(AppError::Invalid("the title cannot be empty".into()));
    }
    if t.chars().count() > MAX_TITLE {
        return Err(AppError::Invalid(format!(
            "the title is longer than {MAX_TITLE} characters"
        )));
    }
    if t.chars().any(|c| c.is_control()) {
        return Err(AppError::Invalid(
            "the title cannot contain control characters".into(),
        ));
    }
    Ok(t.to_string())
}

fn check_notes(n: &str) -> AppResult<String> {
    if n.chars().count() > MAX_NOTES {
        return Err(AppError::Invalid(format!(
            "the notes are longer than {MAX_NOTES} characters"
        )));
    }
    Ok(n.to_string())
}

fn check_id(id: &str) -> AppResult<()> {
    if super::import::valid_id(id) {
        Ok(())
    } else {
        Err(AppError::Invalid(format!(
            "invalid task id {id:?}: use 1–{} characters of letters, digits, '_', '-', '.', ':' \
             (not only dots)",
            super::import::MAX_ID
        )))
    }
}

fn announce_change(st: &Core, c: &TreeChange, action: &str) {
    announce(st, &c.task.id, action, &c.listings);
}

fn parse_cursor(c: &str) -> AppResult<(i64, String)> {
    let bad = || AppError::Invalid(format!("invalid cursor {c:?}"));
    let (pos, id) = c.split_once(':').ok_or_else(bad)?;
    let pos = pos.parse::<i64>().map_err(|_| bad())?;
    if !super::import::valid_id(id) {
        return Err(bad());
    }
    Ok((pos, id.to_string()))
}

pub async fn list_children(
    st: &Core,
    parent: Option<&str>,
    cursor: Option<&str>,
    limit: Option<u32>,
) -> AppResult<TaskPage> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(AppError::Invalid(format!(
            "limit must be between 1 and {MAX_PAGE}"
        )));
    }
    if let Some(p) = parent {
        check_id(p)?;
    }
    let after = cursor
        .filter(|c| !c.is_empty())
        .map(parse_cursor)
        .transpose()?;
    let (mut items, total) = st
        .tree
        .tree_children(parent, after.as_ref(), limit as i64 + 1)
        .await?;
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next_cursor = more
        .then(|| items.last().map(|t| format!("{}:{}", t.position, t.id)))
        .flatten();
    Ok(TaskPage {
        items,
        next_cursor,
        total,
    })
}

pub async fn get_task(st: &Core, id: &str) -> AppResult<TreeTask> {
    check_id(id)?;
    Ok(st.tree.tree_task(id).await?)
}

pub async fn path(st: &Core, id: &str) -> AppResult<Vec<Crumb>> {
    check_id(id)?;
    Ok(st.tree.tree_path(id, CRUMBS).await?.0)
}

pub async fn subtree_size(st: &Core, id: &str) -> AppResult<i64> {
    check_id(id)?;
    Ok(st.tree.tree_subtree_size(id).await?)
}

pub async fn create(st: &Core, new: NewTask) -> AppResult<TreeTask> {
    let id = match new.id {
        Some(id) => {
            check_id(&id)?;
            id
        }
        None => uuid::Uuid::now_v7().to_string(),
    };
    for p in new.parent_id.iter().chain(new.after.iter()) {
        check_id(p)?;
    }
    if let Some(p) = &new.parent_id {
        let d = depth_of(st, p).await?;
        if d + 1 > st.engine.max_tree_depth {
            return Err(too_deep(st, p, d));
        }
    }
    let row = NewTreeTask {
        id,
        parent_id: new.parent_id,
        title: check_title(&new.title)?,
        notes: check_notes(new.notes.as_deref().unwrap_or_default())?,
        status: new.status.unwrap_or_default(),
        after: new.after,
    };
    let c = st.tree.tree_create(&row, now_millis()).await?;
    announce_change(st, &c, "created");
    Ok(c.task)
}

pub async fn update(st: &Core, id: &str, patch: TaskPatch) -> AppResult<TreeTask> {
    check_id(id)?;
    let patch = checked(st, patch).await?;
    let c = st.tree.tree_update(id, &patch, now_millis()).await?;
    announce_change(st, &c, "updated");
    Ok(c.task)
}

/// A patch with every field checked: title and notes as on create, the due date a real
/// day, the assignee a person who exists, the labels well-formed (repeats dropped).
async fn checked(st: &Core, p: TaskPatch) -> AppResult<TreePatch> {
    if let Some(problem) = p
        .due
        .as_ref()
        .and_then(|d| d.as_deref().and_then(due_problem))
    {
        return Err(AppError::Invalid(problem));
    }
    if let Some(Some(who)) = &p.assignee
        && st.accounts.credentials(who).await?.is_none()
    {
        return Err(AppError::Invalid(format!(
            "no person is named {who:?}: an assignee must be an Orchard user"
        )));
    }
    Ok(TreePatch {
        title: p.title.as_deref().map(check_title).transpose()?,
        notes: p.notes.as_deref().map(check_notes).transpose()?,
        labels: p
            .labels
            .as_deref()
            .map(clean_labels)
            .transpose()
            .map_err(AppError::Invalid)?,
        status: p.status,
        due: p.due,
        assignee: p.assignee,
        priority: p.priority,
    })
}

pub async fn move_to(
    st: &Core,
    id: &str,
    parent: Option<&str>,
    position: i64,
) -> AppResult<TreeTask> {
    check_id(id)?;
    if let Some(p) = parent {
        check_id(p)?;
    }
    if position < 0 {
        return Err(AppError::Invalid("position cannot be negative".into()));
    }
    if let Some(p) = parent {
        // Only a move to a deeper place can make the tree too deep; those measure the
        // subtree that goes along.
        let to = depth_of(st, p).await?;
        let from = depth_of(st, id).await?.saturating_sub(1);
        if to > from {
            let height = st.tree.tree_height(id).await?;
            if to + height > st.engine.max_tree_depth {
                return Err(too_deep(st, p, to));
            }
        }
    }
    let c = st
        .tree
        .tree_move(id, parent, position, now_millis())
        .await?;
    announce_change(st, &c, "moved");
    Ok(c.task)
}

fn too_deep(st: &Core, parent: &str, level: u64) -> AppError {
    AppError::Invalid(format!(
        "a tree may be at most {} levels deep (ORCHARD_MAX_TREE_DEPTH) and {parent} is at \
         level {level}: this would go deeper",
        st.engine.max_tree_depth
    ))
}

pub async fn delete(st: &Core, id: &str) -> AppResult<i64> {
    check_id(id)?;
    let c = st.tree.tree_delete(id, now_millis()).await?;
    announce_change(st, &c, "deleted");
    Ok(c.removed)
}

/// Tree jobs run one task at a time, on the server's own workers.
async fn enqueue(
    st: &Core,
    kind: &dyn crate::kinds::Kind,
    params: serde_json::Value,
    phase: &'static str,
    tasks: Vec<TaskSpec>,
) -> AppResult<Job> {
    crate::jobs::service::enqueue(st, kind, &params, 1, phase, tasks).await
}

fn one_task(phase: &'static str) -> Vec<TaskSpec> {
    vec![TaskSpec {
        phase,
        payload: json!({}),
        deps: Vec::new(),
        handler: None,
        retry: None,
        after_all: false,
    }]
}

/// Starts importing the tree file stored under `key` (`bytes` long) into the roots or
/// under `parent`.
pub async fn start_import(
    st: &Core,
    key: &str,
    bytes: u64,
    parent: Option<&str>,
    new_ids: bool,
    format: TreeFormat,
) -> AppResult<Job> {
    if let Some(p) = parent {
        check_id(p)?;
        st.tree.tree_task(p).await?;
    }
    let params = json!({ "file": key, "bytes": bytes, "parent": parent, "new_ids": new_ids,
                         "format": format.as_str() });
    enqueue(
        st,
        &super::kinds::TreeImport,
        params,
        Phase::Import.as_str(),
        one_task(Phase::Import.as_str()),
    )
    .await
}

pub async fn start_export(st: &Core, root: Option<&str>, format: TreeFormat) -> AppResult<Job> {
    if let Some(r) = root {
        check_id(r)?;
        st.tree.tree_task(r).await?;
    }
    enqueue(
        st,
        &super::kinds::TreeExport,
        json!({ "root": root, "format": format.as_str() }),
        Phase::Export.as_str(),
        one_task(Phase::Export.as_str()),
    )
    .await
}

pub async fn start_generate(st: &Core, mut params: GenerateParams) -> AppResult<Job> {
    super::generate::validate(&params).map_err(AppError::Invalid)?;
    if params.max_depth as u64 > st.engine.max_tree_depth {
        return Err(AppError::Invalid(format!(
            "max_depth may be at most {} (ORCHARD_MAX_TREE_DEPTH)",
            st.engine.max_tree_depth
        )));
    }
    params.seed = Some(params.seed.unwrap_or_else(|| rand::random::<u32>() as u64));
    let value = serde_json::to_value(&params).map_err(|_| AppError::Internal)?;
    let tasks = if params.import {
        vec![
            TaskSpec {
                phase: Phase::Generate.as_str(),
                payload: json!({}),
                deps: Vec::new(),
                handler: None,
                retry: None,
                after_all: false,
            },
            TaskSpec {
                phase: Phase::Import.as_str(),
                payload: json!({}),
                deps: vec![0],
                handler: None,
                retry: None,
                after_all: false,
            },
        ]
    } else {
        one_task(Phase::Generate.as_str())
    };
    // Each task written is its name and about 80 bytes of keys, id and punctuation.
    let most = params
        .max_tasks
        .saturating_mul(params.name_length as u64 + 80);
    crate::jobs::service::reserving_files(st, most, || {
        enqueue(
            st,
            &super::kinds::TreeGenerate,
            value,
            Phase::Generate.as_str(),
            tasks,
        )
    })
    .await
}

/// Files written by finished export and generate jobs.
pub async fn tree_files(st: &Core) -> AppResult<Vec<TreeFile>> {
    let jobs = st.jobs.list_jobs(500).await?;
    Ok(jobs
        .into_iter()
        .filter(|j| {
            matches!(j.kind, JobKind::TreeExport | JobKind::TreeGenerate)
                && j.state == JobState::Succeeded
        })
        .filter_map(|j| {
            let r = j.result.as_ref()?;
            let file = r.get("file").or_else(|| r.get("generated")?.get("file"))?;
            Some(TreeFile {
                key: file.as_str()?.to_string(),
                tasks: r.get("tasks").and_then(|v| v.as_i64()).unwrap_or(0),
                bytes: r.get("bytes").and_then(|v| v.as_i64()).unwrap_or(0),
                created_at: j.finished_at.unwrap_or(j.created_at),
                job_id: j.id,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_junk() {
        assert_eq!(parse_cursor("-5:abc").unwrap(), (-5, "abc".to_string()));
        for bad in ["", "5", "x:abc", "5:", "5:a b"] {
            assert!(parse_cursor(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn titles_are_trimmed_and_bounded() {
        assert_eq!(check_title("  a  ").unwrap(), "a");
        assert!(check_title(" ").is_err());
        assert!(check_title("a\u{0}b").is_err());
        assert!(check_title(&"x".repeat(MAX_TITLE + 1)).is_err());
    }
}
