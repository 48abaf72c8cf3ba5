//! `/api/v1/jobs`: create, list, inspect, cancel, retry, delete, verify, download.

use crate::error::{ApiError, ApiJson, ApiResult};
use app::jobs::model::{Job, JobDetail, Verification};
use app::jobs::params::FileAverageRequest;
use app::jobs::service;
use app::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/jobs", get(list).post(create))
        .route("/jobs/{id}", get(detail).delete(remove))
        .route("/jobs/{id}/cancel", post(cancel))
        .route("/jobs/{id}/retry", post(retry))
        .route("/jobs/{id}/verify", post(verify))
        .route("/jobs/{id}/result", get(result))
}

/// `{"kind": "file_average", "params": {…}}`
#[derive(Deserialize)]
#[serde(
    tag = "kind",
    content = "params",
    rename_all = "snake_case",
    deny_unknown_fields
)]
enum CreateJob {
    FileAverage(FileAverageRequest),
    Noop(app::jobs::params::NoopParams),
}

async fn create(
    State(st): State<AppState>,
    ApiJson(body): ApiJson<CreateJob>,
) -> ApiResult<(StatusCode, Json<Job>)> {
    let job = match body {
        CreateJob::FileAverage(req) => service::create_file_average(&st, req).await?,
        CreateJob::Noop(p) => service::create_noop(&st, p).await?,
    };
    Ok((StatusCode::CREATED, Json(job)))
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default = "default_limit")]
    limit: i64,
}

fn default_limit() -> i64 {
    100
}

async fn list(State(st): State<AppState>, Query(q): Query<ListQuery>) -> ApiResult<Json<Vec<Job>>> {
    Ok(Json(service::list_jobs(&st, q.limit).await?))
}

async fn detail(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<JobDetail>> {
    Ok(Json(service::job_detail(&st, &id).await?))
}

async fn cancel(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Job>> {
    Ok(Json(service::cancel_job(&st, &id).await?))
}

async fn retry(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Job>> {
    Ok(Json(service::retry_job(&st, &id).await?))
}

async fn remove(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    service::delete_job(&st, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn verify(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Verification>> {
    Ok(Json(service::verify_job(&st, &id).await?))
}

async fn result(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
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
