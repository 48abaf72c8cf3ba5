//! Operations endpoints: liveness, readiness, version (seed 002's shape) and metrics, all
//! public (a deploy keeps `/metrics` off the public port; see the README).

use crate::access::allow;
use crate::metrics::{self, Metrics};
use crate::openapi::OPS;
use app::access::Access;
use app::state::AppState;
use axum::Json;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The routes; `/metrics` reads the [`Metrics`] extension the HTTP layer adds.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Access::Public, routes!(healthz)))
        .routes(allow(Access::Public, routes!(readyz)))
        .routes(allow(Access::Public, routes!(version)))
        .routes(allow(Access::Public, routes!(prometheus)))
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
pub async fn prometheus(
    State(st): State<AppState>,
    Extension(m): Extension<Arc<Metrics>>,
) -> impl IntoResponse {
    metrics::handler(&st, &m).await
}
