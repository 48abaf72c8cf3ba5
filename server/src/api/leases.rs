//! The lease protocol over HTTP: claim (long-poll), heartbeat, complete (one or a batch),
//! fail, release.
//! A call under a lease the caller no longer holds answers 409 and changes nothing.

use crate::error::{ApiJson, ApiResult};
use app::jobs::protocol::{
    BatchReply, ClaimRequest, CompleteBatch, CompleteRequest, FailRequest, HeartbeatReply,
    LeaseRef, LeasedTask,
};
use app::jobs::service;
use app::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/leases/claim", post(claim))
        .route("/leases/complete", post(complete_batch))
        .route("/tasks/{id}/heartbeat", post(heartbeat))
        .route("/tasks/{id}/complete", post(complete))
        .route("/tasks/{id}/fail", post(fail))
        .route("/tasks/{id}/release", post(release))
}

async fn claim(
    State(st): State<AppState>,
    ApiJson(req): ApiJson<ClaimRequest>,
) -> ApiResult<Json<Vec<LeasedTask>>> {
    Ok(Json(service::claim(&st, &req).await?))
}

async fn heartbeat(
    State(st): State<AppState>,
    Path(id): Path<String>,
    ApiJson(lease): ApiJson<LeaseRef>,
) -> ApiResult<Json<HeartbeatReply>> {
    Ok(Json(service::heartbeat(&st, &id, &lease).await?))
}

async fn complete(
    State(st): State<AppState>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<CompleteRequest>,
) -> ApiResult<StatusCode> {
    service::complete(&st, &id, &req).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Several completions in one call, each answered on its own (200 even when some are
/// refused), plus up to `claim` newly leased tasks.
async fn complete_batch(
    State(st): State<AppState>,
    ApiJson(req): ApiJson<CompleteBatch>,
) -> ApiResult<Json<BatchReply>> {
    Ok(Json(service::complete_batch(&st, &req).await?))
}

async fn fail(
    State(st): State<AppState>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<FailRequest>,
) -> ApiResult<StatusCode> {
    service::fail(&st, &id, &req).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn release(
    State(st): State<AppState>,
    Path(id): Path<String>,
    ApiJson(lease): ApiJson<LeaseRef>,
) -> ApiResult<StatusCode> {
    service::release(&st, &id, &lease).await?;
    Ok(StatusCode::NO_CONTENT)
}
