//! `/api/v1/workers`: the fleet list (open) and the worker lifecycle (token-guarded).

use crate::error::{ApiJson, ApiResult};
use app::jobs::protocol::{RegisterWorker, Registered};
use app::jobs::service;
use app::state::AppState;
use app::workers::model::{Worker, WorkerKind};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/workers", get(list))
        .route("/workers/{id}", axum::routing::delete(remove))
}

pub fn worker_router() -> Router<AppState> {
    Router::new()
        .route("/workers/register", post(register))
        .route("/workers/{id}/heartbeat", post(heartbeat))
        .route("/workers/{id}/stop", post(stop))
}

async fn list(State(st): State<AppState>) -> ApiResult<Json<Vec<Worker>>> {
    Ok(Json(
        st.store
            .list_workers(st.engine.health, app::now_millis())
            .await
            .map_err(app::error::AppError::from)?,
    ))
}

async fn register(
    State(st): State<AppState>,
    ApiJson(req): ApiJson<RegisterWorker>,
) -> ApiResult<(StatusCode, Json<Registered>)> {
    let r = service::register_worker(&st, req, WorkerKind::Remote).await?;
    Ok((StatusCode::CREATED, Json(r)))
}

async fn heartbeat(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    service::worker_heartbeat(&st, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn stop(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    service::stop_worker(&st, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a dead or stopped worker with its processes; 409 while it is alive.
async fn remove(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    app::workers::service::remove_worker(&st, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
