//! `/api/v1/jobs`: create, list, inspect, cancel, retry, delete, verify, download.

use crate::access::allow;
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::openapi::{ErrorBody, JOBS};
use crate::telemetry::record_job;
use app::access::Access;
use app::state::AppState;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::IntoResponse;
use engine::jobs::service;
use futures::StreamExt;
use serde::Deserialize;
use shared::jobs::model::{Job, JobDetail, TaskState, Verification};
use shared::jobs::params::FileAverageRequest;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Access::Viewer, routes!(list)))
        .routes(allow(Access::Editor, routes!(create)))
        .routes(allow(Access::Viewer, routes!(detail)))
        .routes(allow(Access::Viewer, routes!(steps)))
        .routes(allow(Access::Viewer, routes!(step_log)))
        .routes(allow(Access::Editor, routes!(retry_step)))
        .routes(allow(Access::Editor, routes!(replay)))
        .routes(allow(Access::Editor, routes!(remove)))
        .routes(allow(Access::Editor, routes!(cancel)))
        .routes(allow(Access::Editor, routes!(retry)))
        .routes(allow(Access::Editor, routes!(verify)))
        .routes(allow(Access::Viewer, routes!(result)))
}

/// `{"kind": "file_average", "params": {…}}`
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(
    tag = "kind",
    content = "params",
    rename_all = "snake_case",
    deny_unknown_fields
)]
enum CreateJob {
    /// Generate F files of C numbers, sum them in groups, reduce to one average.
    FileAverage(FileAverageRequest),
    /// Tasks that do nothing, to measure the queue itself.
    Noop(shared::jobs::params::NoopParams),
    /// A team's own steps (a graph: chain, group, chord, map), run on the handlers workers
    /// offer.
    Workflow(shared::jobs::workflow::WorkflowRequest),
}

/// Creates a job; its tasks are queued at once.
#[utoipa::path(post, path = "/jobs", tag = JOBS, request_body = CreateJob,
    responses(
        (status = 201, description = "The new job", body = Job),
        (status = 400, description = "Invalid parameters", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
    ))]
async fn create(
    State(st): State<AppState>,
    ApiJson(body): ApiJson<CreateJob>,
) -> ApiResult<(StatusCode, Json<Job>)> {
    let job = match body {
        CreateJob::FileAverage(req) => service::create_file_average(&st, req).await?,
        CreateJob::Noop(p) => service::create_noop(&st, p).await?,
        CreateJob::Workflow(w) => service::create_workflow(&st, w).await?,
    };
    record_job(&job.id);
    Ok((StatusCode::CREATED, Json(job)))
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default = "default_limit")]
    limit: i64,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    handler: String,
}

fn default_limit() -> i64 {
    100
}

/// Lists jobs, newest first, optionally of one kind, in one state, or with a step of one
/// handler.
#[utoipa::path(get, path = "/jobs", tag = JOBS,
    params(
        ("limit" = Option<i64>, Query, description = "Most jobs to return (default 100, at most 500)"),
        ("kind" = Option<String>, Query, description = "Only jobs of this kind, e.g. `workflow`"),
        ("state" = Option<String>, Query, description = "Only jobs in this state, e.g. `failed`"),
        ("handler" = Option<String>, Query, description = "Only runs with a step of this handler"),
    ),
    responses(
        (status = 200, description = "Jobs, newest first", body = Vec<Job>),
        (status = 400, description = "A filter that is not a kind, state or handler name", body = ErrorBody),
    ))]
async fn list(State(st): State<AppState>, Query(q): Query<ListQuery>) -> ApiResult<Json<Vec<Job>>> {
    let filter = shared::jobs::model::JobFilter::from_words(&q.kind, &q.state, &q.handler)
        .map_err(shared::error::AppError::Invalid)?;
    Ok(Json(service::find_jobs(&st, q.limit, &filter).await?))
}

/// A job with task counts, phases, throughput, contributions and errors.
#[utoipa::path(get, path = "/jobs/{id}", tag = JOBS,
    params(("id" = String, Path, description = "Job id")),
    responses(
        (status = 200, description = "The job in detail", body = JobDetail),
        (status = 404, description = "No such job", body = ErrorBody),
    ))]
async fn detail(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<JobDetail>> {
    record_job(&id);
    Ok(Json(service::job_detail(&st, &id).await?))
}

#[derive(Deserialize)]
struct StepsQuery {
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default = "default_step_limit")]
    limit: i64,
}

fn default_step_limit() -> i64 {
    200
}

/// A workflow run's steps in plan order (map children as `id[0]`, `id[1]`, …), with state,
/// attempts, output, error, times, and why a ready step is not running.
#[utoipa::path(get, path = "/jobs/{id}/steps", tag = JOBS,
    params(
        ("id" = String, Path, description = "Job id"),
        ("cursor" = Option<String>, Query, description = "From the previous page's `next_cursor`"),
        ("limit" = Option<i64>, Query, description = "Most steps to return, 1–1000 (default 200)"),
    ),
    responses(
        (status = 200, description = "A page of steps", body = shared::jobs::workflow::StepPage),
        (status = 400, description = "Not a workflow, or a bad cursor", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody),
    ))]
async fn steps(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<StepsQuery>,
) -> ApiResult<Json<shared::jobs::workflow::StepPage>> {
    record_job(&id);
    Ok(Json(
        engine::jobs::workflow::steps(&st, &id, q.cursor.as_deref(), q.limit).await?,
    ))
}

#[derive(Deserialize)]
struct LogQuery {
    #[serde(default)]
    attempt: Option<i64>,
    /// `1` (or `true`) streams the log as server-sent events, a line per event, until the
    /// step ends.
    #[serde(default)]
    follow: Option<String>,
}

/// How often a followed log is looked at.
const LOG_POLL: std::time::Duration = std::time::Duration::from_millis(500);

/// A step's log: its latest attempt's (`?attempt=N` for another) as plain text, or with
/// `?follow=1` as server-sent events, one line each, until the step stops running.
#[utoipa::path(get, path = "/jobs/{id}/steps/{step}/log", tag = JOBS,
    params(
        ("id" = String, Path, description = "Job id"),
        ("step" = String, Path, description = "Step id (`sq[0]` for a map's child, percent-encoded)"),
        ("attempt" = Option<i64>, Query, description = "Which attempt (default: the latest)"),
        ("follow" = Option<String>, Query, description = "`1`: stream it as it grows"),
    ),
    responses(
        (status = 200, description = "The log", content_type = "text/plain"),
        (status = 400, description = "Not a workflow", body = ErrorBody),
        (status = 404, description = "No such job or step", body = ErrorBody),
    ))]
async fn step_log(
    State(st): State<AppState>,
    Path((id, step)): Path<(String, String)>,
    Query(q): Query<LogQuery>,
) -> ApiResult<axum::response::Response> {
    record_job(&id);
    let (task_id, _, attempt) = engine::jobs::workflow::step_task(&st, &id, &step).await?;
    let follow = matches!(q.follow.as_deref(), Some("1" | "true"));
    if !follow {
        let log = st
            .jobs
            .step_log(&task_id, q.attempt.or((attempt > 0).then_some(attempt)))
            .await
            .map_err(shared::error::AppError::from)?;
        let text = log.map(|l| l.shown()).unwrap_or_default();
        return Ok(([(CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response());
    }
    let attempt = q.attempt.unwrap_or(attempt.max(1));
    // (bytes sent, counting those dropped before; finished)
    let lines = futures::stream::unfold((0i64, false), move |(sent, over)| {
        let (st, task_id) = (st.clone(), task_id.clone());
        async move {
            if over {
                return None;
            }
            loop {
                let log = st
                    .jobs
                    .step_log(&task_id, Some(attempt))
                    .await
                    .ok()
                    .flatten();
                let (state, now_attempt) = match st.jobs.task_state(&task_id).await {
                    Ok((s, a)) => (TaskState::parse(&s), a),
                    Err(_) => (None, attempt),
                };
                // Running at this attempt, or about to start it.
                let running = match state {
                    Some(TaskState::Leased) => now_attempt == attempt,
                    Some(TaskState::Ready | TaskState::Waiting) => now_attempt < attempt,
                    _ => false,
                };
                if let Some(l) = log {
                    let total = l.dropped + l.text.len() as i64;
                    if total > sent {
                        let from = (sent - l.dropped).max(0) as usize;
                        let from = (from..=l.text.len())
                            .find(|i| l.text.is_char_boundary(*i))
                            .unwrap_or(l.text.len());
                        let new = l.text[from..].to_string();
                        return Some((new, (total, !running)));
                    }
                }
                if !running {
                    return None;
                }
                tokio::time::sleep(LOG_POLL).await;
            }
        }
    });
    let events = lines.flat_map(|chunk| {
        let evs: Vec<Result<axum::response::sse::Event, std::convert::Infallible>> = chunk
            .lines()
            .map(|l| Ok(axum::response::sse::Event::default().data(l)))
            .collect();
        futures::stream::iter(evs)
    });
    Ok(axum::response::sse::Sse::new(events)
        .keep_alive(axum::response::sse::KeepAlive::default())
        .into_response())
}

/// Runs a failed or cancelled step again, with what depends on it (the run's failed and
/// cancelled steps get fresh attempts).
#[utoipa::path(post, path = "/jobs/{id}/steps/{step}/retry", tag = JOBS,
    params(
        ("id" = String, Path, description = "Job id"),
        ("step" = String, Path, description = "Step id (percent-encoded)"),
    ),
    responses(
        (status = 200, description = "The step, back in the queue", body = shared::jobs::workflow::StepView),
        (status = 400, description = "Not a workflow", body = ErrorBody),
        (status = 404, description = "No such job or step", body = ErrorBody),
        (status = 409, description = "The step did not fail, or the run still runs", body = ErrorBody),
    ))]
async fn retry_step(
    State(st): State<AppState>,
    Path((id, step)): Path<(String, String)>,
) -> ApiResult<Json<shared::jobs::workflow::StepView>> {
    record_job(&id);
    Ok(Json(
        engine::jobs::workflow::retry_step(&st, &id, &step).await?,
    ))
}

/// Runs a workflow again with a changed definition: a new run whose `replayed_from` names
/// this one.
#[utoipa::path(post, path = "/jobs/{id}/replay", tag = JOBS,
    params(("id" = String, Path, description = "The run to start from")),
    request_body = shared::jobs::workflow::WorkflowRequest,
    responses(
        (status = 201, description = "The new run", body = Job),
        (status = 400, description = "Not a workflow, or an invalid definition", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody),
    ))]
async fn replay(
    State(st): State<AppState>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<shared::jobs::workflow::WorkflowRequest>,
) -> ApiResult<(StatusCode, Json<Job>)> {
    record_job(&id);
    let job = service::replay_workflow(&st, &id, req).await?;
    Ok((StatusCode::CREATED, Json(job)))
}

/// Cancels a job: no more of its tasks are handed out; running ones release.
#[utoipa::path(post, path = "/jobs/{id}/cancel", tag = JOBS,
    params(("id" = String, Path, description = "Job id")),
    responses(
        (status = 200, description = "The cancelled job", body = Job),
        (status = 404, description = "No such job", body = ErrorBody),
        (status = 409, description = "The job already finished", body = ErrorBody),
    ))]
async fn cancel(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Job>> {
    record_job(&id);
    Ok(Json(service::cancel_job(&st, &id).await?))
}

/// Sends a failed job's failed tasks back to the queue.
#[utoipa::path(post, path = "/jobs/{id}/retry", tag = JOBS,
    params(("id" = String, Path, description = "Job id")),
    responses(
        (status = 200, description = "The job, running again", body = Job),
        (status = 404, description = "No such job", body = ErrorBody),
        (status = 409, description = "Nothing to retry", body = ErrorBody),
    ))]
async fn retry(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Job>> {
    record_job(&id);
    Ok(Json(service::retry_job(&st, &id).await?))
}

/// Deletes a job with its tasks and files.
#[utoipa::path(delete, path = "/jobs/{id}", tag = JOBS,
    params(("id" = String, Path, description = "Job id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such job", body = ErrorBody),
    ))]
async fn remove(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    record_job(&id);
    service::delete_job(&st, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Recomputes a finished file-average job in one pass and compares.
#[utoipa::path(post, path = "/jobs/{id}/verify", tag = JOBS,
    params(("id" = String, Path, description = "Job id")),
    responses(
        (status = 200, description = "The one-pass result and whether it matches", body = Verification),
        (status = 404, description = "No such job", body = ErrorBody),
        (status = 409, description = "The job has no result yet", body = ErrorBody),
    ))]
async fn verify(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Verification>> {
    record_job(&id);
    Ok(Json(service::verify_job(&st, &id).await?))
}

/// Downloads the result file (tab-separated `average`, `sum`, `count`, `files`).
#[utoipa::path(get, path = "/jobs/{id}/result", tag = JOBS,
    params(("id" = String, Path, description = "Job id")),
    responses(
        (status = 200, description = "The result file", body = String, content_type = "text/plain"),
        (status = 404, description = "No such job", body = ErrorBody),
        (status = 409, description = "The job has not succeeded", body = ErrorBody),
    ))]
async fn result(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    record_job(&id);
    let (name, bytes) = service::result_file(&st, &id).await?;
    Ok((
        [
            (CONTENT_TYPE, "text/plain; charset=utf-8".to_string()),
            (
                CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    ))
}
