//! `/api/v1/workers`: the fleet list (open) and the worker lifecycle (token-guarded).

use super::worker_secret::ShownSecret;
use crate::access::allow;
use crate::error::{ApiJson, ApiResult};
use crate::openapi::{ErrorBody, WORKERS};
use crate::telemetry::record_worker;
use app::access::Access;
use app::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use engine::jobs::service;
use shared::jobs::protocol::{RegisterWorker, Registered};
use shared::workers::model::{Worker, WorkerKind};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Access::Viewer, routes!(list)))
        .routes(allow(Access::Admin, routes!(remove)))
}

pub fn worker_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Access::WorkerToken, routes!(register)))
        .routes(allow(Access::WorkerToken, routes!(heartbeat)))
        .routes(allow(Access::WorkerToken, routes!(stop)))
}

/// The fleet: in-process and remote workers with their health.
#[utoipa::path(get, path = "/workers", tag = WORKERS,
    responses((status = 200, description = "Every worker, with health from its last heartbeat", body = Vec<Worker>)))]
async fn list(State(st): State<AppState>) -> ApiResult<Json<Vec<Worker>>> {
    Ok(Json(
        st.fleet
            .list_workers(st.engine.health, engine::now_millis())
            .await
            .map_err(shared::error::AppError::from)?,
    ))
}

/// Registers a remote worker; the answer carries its id and the lease length.
#[utoipa::path(post, path = "/workers/register", tag = WORKERS, request_body = RegisterWorker,
    responses(
        (status = 201, description = "Registered", body = Registered),
        (status = 400, description = "Invalid registration", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
    ))]
async fn register(
    State(st): State<AppState>,
    ApiJson(req): ApiJson<RegisterWorker>,
) -> ApiResult<(StatusCode, Json<Registered>)> {
    let r = service::register_worker(&st, req, WorkerKind::Remote).await?;
    record_worker(&r.worker_id);
    Ok((StatusCode::CREATED, Json(r)))
}

/// Records that the worker is alive.
#[utoipa::path(post, path = "/workers/{id}/heartbeat", tag = WORKERS,
    params(("id" = String, Path, description = "Worker id")),
    responses(
        (status = 204, description = "Recorded"),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 403, description = "Not this worker's own secret", body = ErrorBody),
        (status = 404, description = "No such worker", body = ErrorBody),
    ))]
async fn heartbeat(
    State(st): State<AppState>,
    Path(id): Path<String>,
    secret: ShownSecret,
) -> ApiResult<StatusCode> {
    record_worker(&id);
    secret.check(&st, &id).await?;
    service::worker_heartbeat(&st, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Records that the worker stopped.
#[utoipa::path(post, path = "/workers/{id}/stop", tag = WORKERS,
    params(("id" = String, Path, description = "Worker id")),
    responses(
        (status = 204, description = "Recorded"),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 403, description = "Not this worker's own secret", body = ErrorBody),
        (status = 404, description = "No such worker", body = ErrorBody),
    ))]
async fn stop(
    State(st): State<AppState>,
    Path(id): Path<String>,
    secret: ShownSecret,
) -> ApiResult<StatusCode> {
    record_worker(&id);
    secret.check(&st, &id).await?;
    service::stop_worker(&st, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a dead or stopped worker with its processes; 409 while it is alive.
#[utoipa::path(delete, path = "/workers/{id}", tag = WORKERS,
    params(("id" = String, Path, description = "Worker id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "Only admins remove workers", body = ErrorBody),
        (status = 404, description = "Unknown worker", body = ErrorBody),
        (status = 409, description = "The worker is alive", body = ErrorBody),
    ))]
async fn remove(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    engine::workers::service::remove_worker(&st, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
