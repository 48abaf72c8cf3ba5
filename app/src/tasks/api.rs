//! Server functions of the Tasks page: thin — read the state, call the service. Imports go
//! through `POST /api/v1/tasks/import` (a file body, not a form field); exports download
//! from `GET /api/v1/tasks/export`.

use super::model::{
    Crumb, GenerateParams, SearchResults, Status, TaskPage, TreeFile, TreeFormat, TreeTask,
};
use crate::error::AppError;
use crate::jobs::model::Job;
use leptos::prelude::*;
use shared::tasks::fields::{Label, Priority};
use shared::tasks::views::{Layout, SavedView};

/// A page of the children of `parent` (the roots when `None`), after `cursor`.
#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn list_children(
    parent: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
) -> Result<TaskPage, AppError> {
    let st = crate::require!(ListChildren, Viewer)?.st;
    super::service::list_children(&st, parent.as_deref(), cursor.as_deref(), limit).await
}

#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn get_task(id: String) -> Result<TreeTask, AppError> {
    let st = crate::require!(GetTask, Viewer)?.st;
    super::service::get_task(&st, &id).await
}

/// The task's ancestors and the task itself, root first (breadcrumbs).
#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn get_task_path(id: String) -> Result<Vec<Crumb>, AppError> {
    let st = crate::require!(GetTaskPath, Viewer)?.st;
    super::service::path(&st, &id).await
}

/// The first `limit` tasks matching the filter `q` anywhere in the forest, each with its
/// path, and how many match in all.
#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn get_search(q: String, limit: i64) -> Result<SearchResults, AppError> {
    let g = crate::require!(GetSearch, Viewer)?;
    super::search::search(&g.st, g.caller.person(), &q, limit).await
}

/// Gives a label another colour (one that carries white text at 4.5:1 or better).
#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn recolor_label(name: String, color: String) -> Result<Label, AppError> {
    let st = crate::require!(RecolorLabel, Editor)?.st;
    engine::tasks::labels::recolor(&st, &name, &color).await
}

/// The caller's saved views, by name.
#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn list_views() -> Result<Vec<SavedView>, AppError> {
    let g = crate::require!(ListViews, Viewer)?;
    super::views::list(&g.st, g.caller.user_id()).await
}

/// Saves the filter `q` as the caller's view `name` (replacing one of that name).
#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn save_view(name: String, q: String, layout: Layout) -> Result<SavedView, AppError> {
    let g = crate::require!(SaveView, Viewer)?;
    super::views::save(&g.st, g.caller.user_id(), &name, &q, layout).await
}

#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn delete_view(name: String) -> Result<(), AppError> {
    let g = crate::require!(DeleteView, Viewer)?;
    super::views::delete(&g.st, g.caller.user_id(), &name).await
}

/// How many tasks a delete of this one would remove (itself and every descendant).
#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn get_subtree_size(id: String) -> Result<i64, AppError> {
    let st = crate::require!(GetSubtreeSize, Viewer)?.st;
    super::service::subtree_size(&st, &id).await
}

/// Creates a task under `parent_id` (a root when `None`): right after the sibling `after`,
/// or last when `after` is `None`.
#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn create_task(
    parent_id: Option<String>,
    title: String,
    after: Option<String>,
) -> Result<TreeTask, AppError> {
    let st = crate::require!(CreateTask, Editor)?.st;
    let new = super::service::NewTask {
        parent_id,
        title,
        after,
        ..Default::default()
    };
    super::service::create(&st, new).await
}

/// Changes what is given; a status change follows the done rule (see `model`).
#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn update_task(
    id: String,
    title: Option<String>,
    notes: Option<String>,
    status: Option<Status>,
) -> Result<TreeTask, AppError> {
    let st = crate::require!(UpdateTask, Editor)?.st;
    let patch = super::service::TaskPatch {
        title,
        notes,
        status,
        ..Default::default()
    };
    super::service::update(&st, &id, patch).await
}

/// Sets a task's due date (empty: none), assignee (empty: nobody), labels (all of them)
/// and priority at once, as the fields editor saves them.
#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn set_task_fields(
    id: String,
    due: String,
    assignee: String,
    labels: Vec<String>,
    priority: Priority,
) -> Result<TreeTask, AppError> {
    let st = crate::require!(SetTaskFields, Editor)?.st;
    let patch = super::service::TaskPatch {
        due: Some(shared::tasks::fields::filled(&due)),
        assignee: Some(shared::tasks::fields::filled(&assignee)),
        labels: Some(labels),
        priority: Some(priority),
        ..Default::default()
    };
    super::service::update(&st, &id, patch).await
}

/// Every label with its colour.
#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn list_labels() -> Result<Vec<Label>, AppError> {
    let st = crate::require!(ListLabels, Viewer)?.st;
    engine::tasks::labels::list(&st).await
}

/// Who a task may be assigned to: the usernames of everyone whose account is not
/// disabled, in order.
#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn list_assignees() -> Result<Vec<String>, AppError> {
    let st = crate::require!(ListAssignees, Viewer)?.st;
    let mut names: Vec<String> = st
        .accounts
        .list_users(crate::now_millis())
        .await?
        .into_iter()
        .filter(|u| !u.disabled)
        .map(|u| u.username)
        .collect();
    names.sort_unstable();
    Ok(names)
}

/// Moves a task (with its subtree) to index `position` among the children of `parent_id`
/// (the roots when `None`). Moving a task into its own subtree is refused.
#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn move_task(
    id: String,
    parent_id: Option<String>,
    position: i64,
) -> Result<TreeTask, AppError> {
    let st = crate::require!(MoveTask, Editor)?.st;
    super::service::move_to(&st, &id, parent_id.as_deref(), position).await
}

/// Deletes a task and its subtree; answers how many tasks went.
#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn delete_task(id: String) -> Result<i64, AppError> {
    let st = crate::require!(DeleteTask, Editor)?.st;
    super::service::delete(&st, &id).await
}

/// Starts a job writing the forest (or the subtree of `root`) to a file.
#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn create_export_job(root: Option<String>, format: TreeFormat) -> Result<Job, AppError> {
    let st = crate::require!(CreateExportJob, Editor)?.st;
    super::service::start_export(&st, root.as_deref(), format).await
}

/// Starts a job writing a random tree to a file (and importing it when asked).
#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn create_generate_job(params: GenerateParams) -> Result<Job, AppError> {
    let st = crate::require!(CreateGenerateJob, Editor)?.st;
    super::service::start_generate(&st, params).await
}

/// Tree files written by generate and export jobs, newest first.
#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn list_tree_files() -> Result<Vec<TreeFile>, AppError> {
    let st = crate::require!(ListTreeFiles, Viewer)?.st;
    super::service::tree_files(&st).await
}
