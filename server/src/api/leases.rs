//! The lease protocol over HTTP: claim (long-poll), heartbeat, complete (one or a batch),
//! fail, release.
//! A call under a lease the caller no longer holds answers 409 and changes nothing.

use super::worker_secret::ShownSecret;
use crate::access::allow;
use crate::error::{ApiJson, ApiResult};
use crate::openapi::{ErrorBody, LEASES};
use crate::telemetry::{record_task, record_worker};
use app::access::Access;
use app::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use engine::jobs::service;
use shared::jobs::protocol::{
    BatchReply, ClaimRequest, CompleteBatch, CompleteRequest, FailRequest, HeartbeatReply,
    LeaseRef, LeasedTask, LogLines,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Access::WorkerToken, routes!(claim)))
        .routes(allow(Access::WorkerToken, routes!(complete_batch)))
        .routes(allow(Access::WorkerToken, routes!(heartbeat)))
        .routes(allow(Access::WorkerToken, routes!(complete)))
        .routes(allow(Access::WorkerToken, routes!(fail)))
        .routes(allow(Access::WorkerToken, routes!(release)))
        .routes(allow(Access::WorkerToken, routes!(log)))
}

/// Adds lines to a running step's log (its current attempt), from its lease holder.
#[utoipa::path(post, path = "/tasks/{id}/log", tag = LEASES, request_body = LogLines,
    params(("id" = String, Path, description = "Task id")),
    responses(
        (status = 204, description = "Recorded"),
        (status = 400, description = "More than 1,000 lines or 256 KiB", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 403, description = "Not this worker's own secret", body = ErrorBody),
        (status = 404, description = "Unknown task", body = ErrorBody),
        (status = 409, description = "The lease is not held by this worker at this attempt", body = ErrorBody),
    ))]
async fn log(
    State(st): State<AppState>,
    Path(id): Path<String>,
    secret: ShownSecret,
    ApiJson(req): ApiJson<LogLines>,
) -> ApiResult<StatusCode> {
    secret.check(&st, &req.worker_id).await?;
    service::append_log(&st, &id, &req).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Leases up to `max` ready tasks, waiting up to `wait_ms` (at most 30 s) for one.
#[utoipa::path(post, path = "/leases/claim", tag = LEASES, request_body = ClaimRequest,
    responses(
        (status = 200, description = "Leased tasks; empty when none became ready in time", body = Vec<LeasedTask>),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 403, description = "Not this worker's own secret", body = ErrorBody),
        (status = 404, description = "Unknown worker", body = ErrorBody),
    ))]
async fn claim(
    State(st): State<AppState>,
    secret: ShownSecret,
    ApiJson(req): ApiJson<ClaimRequest>,
) -> ApiResult<Json<Vec<LeasedTask>>> {
    record_worker(&req.worker_id);
    secret.check(&st, &req.worker_id).await?;
    Ok(Json(service::claim(&st, &req).await?))
}

/// Extends the lease; tells the worker when the job was cancelled.
#[utoipa::path(post, path = "/tasks/{id}/heartbeat", tag = LEASES, request_body = LeaseRef,
    params(("id" = String, Path, description = "Task id")),
    responses(
        (status = 200, description = "The new expiry", body = HeartbeatReply),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 403, description = "Not this worker's own secret", body = ErrorBody),
        (status = 409, description = "The lease is not held by this worker at this attempt", body = ErrorBody),
    ))]
async fn heartbeat(
    State(st): State<AppState>,
    Path(id): Path<String>,
    secret: ShownSecret,
    ApiJson(lease): ApiJson<LeaseRef>,
) -> ApiResult<Json<HeartbeatReply>> {
    record_task(&id, &lease.worker_id);
    secret.check(&st, &lease.worker_id).await?;
    Ok(Json(service::heartbeat(&st, &id, &lease).await?))
}

/// Completes the task with its output.
#[utoipa::path(post, path = "/tasks/{id}/complete", tag = LEASES, request_body = CompleteRequest,
    params(("id" = String, Path, description = "Task id")),
    responses(
        (status = 204, description = "Recorded"),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 403, description = "Not this worker's own secret", body = ErrorBody),
        (status = 409, description = "The lease is not held by this worker at this attempt", body = ErrorBody),
    ))]
async fn complete(
    State(st): State<AppState>,
    Path(id): Path<String>,
    secret: ShownSecret,
    ApiJson(req): ApiJson<CompleteRequest>,
) -> ApiResult<StatusCode> {
    record_task(&id, &req.worker_id);
    secret.check(&st, &req.worker_id).await?;
    service::complete(&st, &id, &req).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Several completions in one call, each answered on its own (200 even when some are
/// refused), plus up to `claim` newly leased tasks in the same transaction.
#[utoipa::path(post, path = "/leases/complete", tag = LEASES, request_body = CompleteBatch,
    responses(
        (status = 200, description = "One outcome per item, in order, and the newly leased tasks", body = BatchReply),
        (status = 400, description = "More than 256 items, or claim out of range", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 403, description = "Not this worker's own secret", body = ErrorBody),
    ))]
async fn complete_batch(
    State(st): State<AppState>,
    secret: ShownSecret,
    ApiJson(req): ApiJson<CompleteBatch>,
) -> ApiResult<Json<BatchReply>> {
    secret.check(&st, &req.worker_id).await?;
    Ok(Json(service::complete_batch(&st, &req).await?))
}

/// Fails the attempt; a retryable failure goes back to the queue with backoff.
#[utoipa::path(post, path = "/tasks/{id}/fail", tag = LEASES, request_body = FailRequest,
    params(("id" = String, Path, description = "Task id")),
    responses(
        (status = 204, description = "Recorded"),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 403, description = "Not this worker's own secret", body = ErrorBody),
        (status = 409, description = "The lease is not held by this worker at this attempt", body = ErrorBody),
    ))]
async fn fail(
    State(st): State<AppState>,
    Path(id): Path<String>,
    secret: ShownSecret,
    ApiJson(req): ApiJson<FailRequest>,
) -> ApiResult<StatusCode> {
    record_task(&id, &req.worker_id);
    secret.check(&st, &req.worker_id).await?;
    service::fail(&st, &id, &req).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Gives the task back to the queue (the worker is stopping or the job was cancelled).
#[utoipa::path(post, path = "/tasks/{id}/release", tag = LEASES, request_body = LeaseRef,
    params(("id" = String, Path, description = "Task id")),
    responses(
        (status = 204, description = "Released"),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 403, description = "Not this worker's own secret", body = ErrorBody),
        (status = 409, description = "The lease is not held by this worker at this attempt", body = ErrorBody),
    ))]
async fn release(
    State(st): State<AppState>,
    Path(id): Path<String>,
    secret: ShownSecret,
    ApiJson(lease): ApiJson<LeaseRef>,
) -> ApiResult<StatusCode> {
    record_task(&id, &lease.worker_id);
    secret.check(&st, &lease.worker_id).await?;
    service::release(&st, &id, &lease).await?;
    Ok(StatusCode::NO_CONTENT)
}
