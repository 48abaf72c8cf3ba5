//! Operations endpoints: liveness, readiness, version (seed 002's shape) and metrics.

use crate::metrics::{self, Metrics};
use crate::openapi::OPS;
use app::state::AppState;
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use std::sync::Arc;

pub fn router(state: AppState, metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/version", get(version))
        .with_state(state.clone())
        .merge(
            Router::new()
                .route("/metrics", get(metrics::handler))
                .with_state((state, metrics)),
        )
}

/// Liveness: the process answers HTTP.
#[utoipa::path(get, path = "/healthz", tag = OPS,
    responses((status = 200, description = "`{\"status\": \"ok\"}`", body = Object)))]
pub async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok" }))
}

/// Readiness: the database answers.
#[utoipa::path(get, path = "/readyz", tag = OPS,
    responses(
        (status = 200, description = "`{\"status\": \"ready\", \"database\": \"sqlite\"|\"postgres\"}`", body = Object),
        (status = 503, description = "`{\"status\": \"unavailable\", \"error\": …}`", body = Object),
    ))]
pub async fn readyz(State(st): State<AppState>) -> impl IntoResponse {
    match st.store.ping().await {
        Ok(()) => (
            StatusCode::OK,
            Json(serde_json::json!({ "status": "ready", "database": st.store.backend().as_str() })),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(
                    serde_json::json!({ "status": "unavailable", "error": "database unreachable" }),
                ),
            )
        }
    }
}

/// The server's version.
#[utoipa::path(get, path = "/version", tag = OPS,
    responses((status = 200, description = "`{\"version\": \"…\"}`", body = Object)))]
pub async fn version() -> impl IntoResponse {
    Json(serde_json::json!({ "version": env!("CARGO_PKG_VERSION") }))
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = OPS,
    responses((status = 200, description = "Prometheus text format 0.0.4", body = String, content_type = "text/plain")))]
#[allow(dead_code)]
pub(crate) fn metrics() {}
