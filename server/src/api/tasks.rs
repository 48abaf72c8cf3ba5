//! `/api/v1/tasks`: the task forest — a page of children, create, edit, move, delete,
//! search, paths — and tree files: import (a job), export (a streamed download) and
//! generate (a job).

use crate::access::allow;
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::openapi::{ErrorBody, TASKS};
use crate::telemetry::record_job;
use app::access::Access;
use app::accounts::service::Caller;
use app::state::AppState;
use axum::Extension;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::IntoResponse;
use engine::tasks::search;
use engine::tasks::service::{self, NewTask, TaskPatch};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use shared::tasks::fields::Priority;
use shared::tasks::model::{
    Crumb, GenerateParams, SearchResults, Status, TaskPage, TreeFormat, TreeTask,
};
use tokio::io::AsyncWriteExt;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Largest tree file an import accepts.
pub const IMPORT_BODY_LIMIT: u64 = 1024 * 1024 * 1024;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Access::Viewer, routes!(list)))
        .routes(allow(Access::Editor, routes!(create)))
        .routes(allow(Access::Viewer, routes!(search)))
        .routes(allow(Access::Viewer, routes!(export)))
        .routes(allow(Access::Editor, routes!(export_job)))
        .routes(allow(Access::Editor, routes!(generate)))
        .routes(allow(Access::Viewer, routes!(get_one)))
        .routes(allow(Access::Editor, routes!(patch)))
        .routes(allow(Access::Editor, routes!(remove)))
        .routes(allow(Access::Viewer, routes!(path)))
        .routes(allow(Access::Editor, routes!(move_task)))
}

/// The import route reads its body as a stream, so it lives outside the JSON body limit.
pub fn import_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(allow(Access::Editor, routes!(import)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Parent task; omit for the roots.
    parent: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Page size, 1–1000 (default 200).
    limit: Option<u32>,
}

/// A page of the children of `parent` (the roots without it), in order.
#[utoipa::path(get, path = "/tasks", tag = TASKS, params(ListQuery),
    responses(
        (status = 200, description = "A page of children", body = TaskPage),
        (status = 400, description = "Invalid cursor or limit", body = ErrorBody),
        (status = 404, description = "No such parent", body = ErrorBody),
    ))]
async fn list(State(st): State<AppState>, Query(q): Query<ListQuery>) -> ApiResult<Json<TaskPage>> {
    Ok(Json(
        service::list_children(&st, q.parent.as_deref(), q.cursor.as_deref(), q.limit).await?,
    ))
}

/// A new task: `{"parent_id", "title", "notes"?, "status"?, "after"?, "id"?}`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    /// Parent task; `null` or absent for a root.
    #[serde(default)]
    parent_id: Option<String>,
    title: String,
    #[serde(default)]
    notes: Option<String>,
    #[serde(default)]
    status: Option<Status>,
    /// Place it right after this sibling (default: last).
    #[serde(default)]
    after: Option<String>,
    /// Keep this id (default: a new UUID).
    #[serde(default)]
    id: Option<String>,
}

/// Creates a task.
#[utoipa::path(post, path = "/tasks", tag = TASKS, request_body = CreateBody,
    responses(
        (status = 201, description = "The new task", body = TreeTask),
        (status = 400, description = "Invalid fields", body = ErrorBody),
        (status = 404, description = "No such parent or sibling", body = ErrorBody),
        (status = 409, description = "Id taken, or `after` is not a child of the parent", body = ErrorBody),
    ))]
async fn create(
    State(st): State<AppState>,
    ApiJson(b): ApiJson<CreateBody>,
) -> ApiResult<(StatusCode, Json<TreeTask>)> {
    let new = NewTask {
        id: b.id,
        parent_id: b.parent_id,
        title: b.title,
        notes: b.notes,
        status: b.status,
        after: b.after,
    };
    Ok((StatusCode::CREATED, Json(service::create(&st, new).await?)))
}

/// One task with its roll-up.
#[utoipa::path(get, path = "/tasks/{id}", tag = TASKS,
    params(("id" = String, Path, description = "Task id")),
    responses(
        (status = 200, description = "The task", body = TreeTask),
        (status = 400, description = "Invalid id", body = ErrorBody),
        (status = 404, description = "No such task", body = ErrorBody),
    ))]
async fn get_one(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<TreeTask>> {
    Ok(Json(service::get_task(&st, &id).await?))
}

/// Fields to change; absent ones stay, and `null` clears `due` or `assignee`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    notes: Option<String>,
    /// Follows the done rule: done marks the subtree done, reopening reopens it, parents
    /// follow their children.
    #[serde(default)]
    status: Option<Status>,
    /// `YYYY-MM-DD`, or `null` to clear.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable)]
    due: Option<Option<String>>,
    /// A username, or `null` to clear; someone who is not an Orchard user is refused.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable)]
    assignee: Option<Option<String>>,
    /// Replaces the whole list; a label used for the first time is created.
    #[serde(default)]
    labels: Option<Vec<String>>,
    #[serde(default)]
    priority: Option<Priority>,
}

/// A key that is present, `null` included (`Some(None)`); an absent key stays `None`.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Changes any of a task's fields: title, notes, status, due date, assignee, labels,
/// priority.
#[utoipa::path(patch, path = "/tasks/{id}", tag = TASKS, request_body = PatchBody,
    params(("id" = String, Path, description = "Task id")),
    responses(
        (status = 200, description = "The task as it is now", body = TreeTask),
        (status = 400, description = "Invalid fields", body = ErrorBody),
        (status = 404, description = "No such task", body = ErrorBody),
    ))]
async fn patch(
    State(st): State<AppState>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<PatchBody>,
) -> ApiResult<Json<TreeTask>> {
    let p = TaskPatch {
        title: b.title,
        notes: b.notes,
        status: b.status,
        due: b.due,
        assignee: b.assignee,
        labels: b.labels,
        priority: b.priority,
    };
    Ok(Json(service::update(&st, &id, p).await?))
}

#[derive(Serialize, utoipa::ToSchema)]
struct Deleted {
    /// Tasks removed: the task and its descendants.
    deleted: i64,
}

/// Deletes a task and its whole subtree.
#[utoipa::path(delete, path = "/tasks/{id}", tag = TASKS,
    params(("id" = String, Path, description = "Task id")),
    responses(
        (status = 200, description = "How many tasks went", body = Deleted),
        (status = 400, description = "Invalid id", body = ErrorBody),
        (status = 404, description = "No such task", body = ErrorBody),
    ))]
async fn remove(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Deleted>> {
    Ok(Json(Deleted {
        deleted: service::delete(&st, &id).await?,
    }))
}

/// The task's ancestors and itself, root first.
#[utoipa::path(get, path = "/tasks/{id}/path", tag = TASKS,
    params(("id" = String, Path, description = "Task id")),
    responses(
        (status = 200, description = "Root first, the task last", body = Vec<Crumb>),
        (status = 400, description = "Invalid id", body = ErrorBody),
        (status = 404, description = "No such task", body = ErrorBody),
    ))]
async fn path(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Vec<Crumb>>> {
    Ok(Json(service::path(&st, &id).await?))
}

/// Where to move a task: `{"parent_id", "position"}`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct MoveBody {
    /// New parent; `null` for the roots.
    parent_id: Option<String>,
    /// Index among the new parent's other children (0 = first; past the end = last).
    position: i64,
}

/// Moves a task with its subtree. Moving it into its own subtree is refused (409).
#[utoipa::path(post, path = "/tasks/{id}/move", tag = TASKS, request_body = MoveBody,
    params(("id" = String, Path, description = "Task id")),
    responses(
        (status = 200, description = "The moved task", body = TreeTask),
        (status = 400, description = "Invalid fields", body = ErrorBody),
        (status = 404, description = "No such task or parent", body = ErrorBody),
        (status = 409, description = "Into its own subtree", body = ErrorBody),
    ))]
async fn move_task(
    State(st): State<AppState>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<MoveBody>,
) -> ApiResult<Json<TreeTask>> {
    Ok(Json(
        service::move_to(&st, &id, b.parent_id.as_deref(), b.position).await?,
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct SearchQuery {
    /// A filter: `status:doing label:infra assignee:me due<7d priority>=high "free text"
    /// -label:later` (terms all hold; see the README for the grammar).
    q: String,
    /// Hits to return, 1–200 (default 50); `total` counts them all.
    limit: Option<i64>,
}

/// The tasks a filter matches anywhere in the forest, oldest first, each with its path.
#[utoipa::path(get, path = "/tasks/search", tag = TASKS, params(SearchQuery),
    responses(
        (status = 200, description = "Hits with their paths, and how many match", body = SearchResults),
        (status = 400, description = "Not a filter (the error names the place), empty, a limit out of range, or `assignee:me` from a token", body = ErrorBody),
    ))]
async fn search(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<SearchQuery>,
) -> ApiResult<Json<SearchResults>> {
    let limit = q.limit.unwrap_or(search::DEFAULT_HITS);
    Ok(Json(
        search::search(&st, caller.person(), &q.q, limit).await?,
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ImportQuery {
    /// Import under this task; omit for the roots.
    parent: Option<String>,
    /// Give every imported task a new id instead of the file's.
    #[serde(default)]
    new_ids: bool,
    /// `json` (the default), `opml` or `markdown`.
    #[serde(default)]
    format: TreeFormat,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Started {
    job_id: String,
}

/// Starts importing the tree file sent as the body: JSON (seed 000's format or Orchard's
/// export), OPML or a Markdown list, as `format` says. Follow the job at
/// `/api/v1/jobs/{job_id}`: a bad file fails it with the byte offset and path of the
/// problem and changes nothing.
#[utoipa::path(post, path = "/tasks/import", tag = TASKS, params(ImportQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The tree file"),
    responses(
        (status = 202, description = "The import job started", body = Started),
        (status = 400, description = "Empty, not of the format named, or an unknown format", body = ErrorBody),
        (status = 404, description = "No such parent", body = ErrorBody),
        (status = 413, description = "Larger than 1 GiB", body = ErrorBody),
    ))]
async fn import(
    State(st): State<AppState>,
    Query(q): Query<ImportQuery>,
    body: Body,
) -> ApiResult<(StatusCode, Json<Started>)> {
    if let Some(p) = &q.parent {
        service::get_task(&st, p).await?;
    }
    let tmp = std::env::temp_dir().join(format!("orchard-upload-{}", uuid::Uuid::new_v4()));
    let _cleanup = RemoveOnDrop(tmp.clone());
    let io = |e: std::io::Error| {
        tracing::error!(error = %e, "cannot buffer an upload");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "cannot store the upload")
    };
    let mut file = tokio::fs::File::create(&tmp).await.map_err(io)?;
    let mut stream = body.into_data_stream();
    let mut size = 0u64;
    let mut first: Option<u8> = None;
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::bad_request(format!("the upload broke off: {e}")))?;
        size += chunk.len() as u64;
        if size > IMPORT_BODY_LIMIT {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("tree files are limited to {} MiB", IMPORT_BODY_LIMIT >> 20),
            ));
        }
        if first.is_none() {
            first = chunk.iter().copied().find(|b| !b.is_ascii_whitespace());
        }
        file.write_all(&chunk).await.map_err(io)?;
    }
    file.flush().await.map_err(io)?;
    drop(file);
    match (first, q.format) {
        (None, _) => {
            return Err(ApiError::bad_request(
                "the body is empty: send the tree file as the request body",
            ));
        }
        (Some(b'{' | b'['), TreeFormat::Json) | (Some(b'<'), TreeFormat::Opml) => {}
        (_, TreeFormat::Markdown) => {}
        (Some(_), TreeFormat::Json) => {
            return Err(ApiError::bad_request(
                "the body is not a JSON tree file: it must start with '{' or '[' \
                 (for OPML or Markdown, say format=opml or format=markdown)",
            ));
        }
        (Some(_), TreeFormat::Opml) => {
            return Err(ApiError::bad_request(
                "the body is not an OPML file: it must start with '<'",
            ));
        }
    }
    let key = format!(
        "uploads/{}.{}",
        uuid::Uuid::new_v4().simple(),
        q.format.extension()
    );
    st.files.put_file(&key, &tmp).await.map_err(|e| {
        tracing::error!(error = %e, "cannot store an upload");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "cannot store the upload")
    })?;
    let job = match service::start_import(&st, &key, size, q.parent.as_deref(), q.new_ids, q.format)
        .await
    {
        Ok(job) => job,
        Err(e) => {
            let _ = st.files.delete_prefix(&key).await;
            return Err(e.into());
        }
    };
    record_job(&job.id);
    Ok((StatusCode::ACCEPTED, Json(Started { job_id: job.id })))
}

struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ExportQuery {
    /// Export this task's subtree; omit for the whole forest.
    root: Option<String>,
    /// `json` (the default), `opml` or `markdown`.
    #[serde(default)]
    format: TreeFormat,
}

/// The forest (or one subtree) as a tree file, streamed: every task, loaded in a browser
/// or not. Importing a JSON or OPML export restores every field; Markdown keeps titles,
/// notes, nesting and done.
#[utoipa::path(get, path = "/tasks/export", tag = TASKS, params(ExportQuery),
    responses(
        (status = 200, description = "The tree file", content_type = "application/json"),
        (status = 400, description = "Invalid id", body = ErrorBody),
        (status = 404, description = "No such task", body = ErrorBody),
    ))]
async fn export(
    State(st): State<AppState>,
    Query(q): Query<ExportQuery>,
) -> ApiResult<impl IntoResponse> {
    if let Some(r) = &q.root {
        service::get_task(&st, r).await?;
    }
    let (mut writer, reader) = tokio::io::duplex(1 << 16);
    let store = st.tree.clone();
    let root = q.root.clone();
    let format = q.format;
    tokio::spawn(async move {
        if let Err(e) =
            engine::tasks::export::write_tree(&*store, root.as_deref(), format, &mut writer, |_| {})
                .await
        {
            // The client sees a truncated file; the log says why.
            tracing::warn!(error = %e, "export stopped");
        }
    });
    let ext = format.extension();
    let name = match &q.root {
        Some(r) => format!("attachment; filename=\"orchard-tasks-{r}.{ext}\""),
        None => format!("attachment; filename=\"orchard-tasks.{ext}\""),
    };
    Ok((
        [
            (CONTENT_TYPE, format.content_type().to_string()),
            (CONTENT_DISPOSITION, name),
        ],
        Body::from_stream(tokio_util::io::ReaderStream::new(reader)),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ExportJob {
    /// Export this task's subtree; absent or `null` for the whole forest.
    #[serde(default)]
    root: Option<String>,
    /// `json` (the default), `opml` or `markdown`.
    #[serde(default)]
    format: TreeFormat,
}

/// Starts a job writing the forest (or a subtree) to a tree file; its result names the
/// file, downloadable at `/api/v1/files/{file}`.
#[utoipa::path(post, path = "/tasks/export", tag = TASKS, request_body = ExportJob,
    responses(
        (status = 202, description = "The export job started", body = Started),
        (status = 400, description = "Invalid id", body = ErrorBody),
        (status = 404, description = "No such task", body = ErrorBody),
    ))]
async fn export_job(
    State(st): State<AppState>,
    ApiJson(b): ApiJson<ExportJob>,
) -> ApiResult<(StatusCode, Json<Started>)> {
    let job = service::start_export(&st, b.root.as_deref(), b.format).await?;
    record_job(&job.id);
    Ok((StatusCode::ACCEPTED, Json(Started { job_id: job.id })))
}

/// Starts a job writing a random tree file (and importing it when `import` is true).
#[utoipa::path(post, path = "/tasks/generate", tag = TASKS, request_body = GenerateParams,
    responses(
        (status = 202, description = "The generate job started", body = Started),
        (status = 400, description = "A parameter out of range", body = ErrorBody),
    ))]
async fn generate(
    State(st): State<AppState>,
    ApiJson(p): ApiJson<GenerateParams>,
) -> ApiResult<(StatusCode, Json<Started>)> {
    let job = service::start_generate(&st, p).await?;
    record_job(&job.id);
    Ok((StatusCode::ACCEPTED, Json(Started { job_id: job.id })))
}
