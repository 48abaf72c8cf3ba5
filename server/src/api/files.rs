//! `/api/v1/files/{key}`: job files for remote workers that cannot see the server's store.

use super::worker_secret::ShownSecret;
use crate::access::allow;
use crate::error::{ApiError, ApiResult};
use crate::openapi::{ErrorBody, FILES};
use app::access::Access;
use app::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::http::StatusCode;
use engine::files::FileError;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Access::WorkerToken, routes!(read)))
        .routes(allow(Access::WorkerToken, routes!(write)))
}

/// The header naming the worker that writes a file.
pub const WORKER_HEADER: &str = "x-orchard-worker-id";

fn forbidden(m: String) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, m)
}

fn map(e: FileError) -> ApiError {
    match e {
        FileError::NotFound(k) => ApiError::not_found(format!("file {k} not found")),
        FileError::BadKey(k) => ApiError::bad_request(format!("invalid file key {k:?}")),
        FileError::Io(m) => {
            tracing::error!(error = %m, "file store failure");
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "file store unavailable")
        }
    }
}

/// Reads a job file. Keys are `/`-separated segments of `[A-Za-z0-9._-]`.
#[utoipa::path(get, path = "/files/{*key}", tag = FILES,
    params(("key" = String, Path, description = "File key, e.g. jobs/<id>/input/000001.txt")),
    responses(
        (status = 200, description = "The file's bytes", body = Vec<u8>, content_type = "application/octet-stream"),
        (status = 400, description = "Invalid key", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 404, description = "No such file", body = ErrorBody),
    ))]
async fn read(State(st): State<AppState>, Path(key): Path<String>) -> ApiResult<Vec<u8>> {
    st.files.get(&key).await.map_err(map)
}

/// Writes a job file (whole, atomically); at most 256 MiB. Only a worker holding a lease
/// in the job may write under `jobs/<job id>/`: it names itself in `X-Orchard-Worker-Id`
/// and shows its own secret.
#[utoipa::path(put, path = "/files/{*key}", tag = FILES,
    params(("key" = String, Path, description = "File key, e.g. jobs/<id>/input/000001.txt")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses(
        (status = 204, description = "Written"),
        (status = 400, description = "Invalid key", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 403, description = "The worker holds no lease in this job", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
    ))]
async fn write(
    State(st): State<AppState>,
    Path(key): Path<String>,
    headers: HeaderMap,
    secret: ShownSecret,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let worker = headers
        .get(WORKER_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| forbidden(format!("name the writing worker in {WORKER_HEADER}")))?;
    secret.check(&st, worker).await?;
    let job = key
        .strip_prefix("jobs/")
        .and_then(|rest| rest.split('/').next())
        .filter(|j| !j.is_empty())
        .ok_or_else(|| forbidden("workers write only under jobs/<job id>/".into()))?;
    let holds = st
        .jobs
        .holds_lease_in_job(worker, job)
        .await
        .map_err(shared::error::AppError::from)?;
    if !holds {
        return Err(forbidden(format!(
            "worker {worker} holds no lease in job {job}"
        )));
    }
    st.files.put(&key, body.to_vec()).await.map_err(map)?;
    Ok(StatusCode::NO_CONTENT)
}
