//! REST API `/api/v1`: JSON in, JSON out, errors as `{"error": …}`. Routers by module.
//!
//! Every route is declared through an [`OpenApiRouter`] from a handler carrying
//! `#[utoipa::path]`, so the router and the OpenAPI document (`/api/openapi.json`, rendered
//! at `/api/docs`) are built from the same declarations and cannot drift apart. A new module
//! adds each handler with `.routes(allow(Access::Viewer, routes!(handler)))`, which also
//! declares who may call it, and merges its router here.

mod events;
pub mod files;
mod jobs;
mod labels;
mod leases;
mod tasks;
mod views;
pub mod worker_secret;
mod workers;

use crate::access::AccessTable;
use crate::openapi;
use app::state::AppState;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use std::time::Duration;
use tower_http::timeout::TimeoutLayer;
use utoipa_axum::router::OpenApiRouter;

/// JSON bodies are small; job files have their own, larger limit.
pub const JSON_BODY_LIMIT: usize = 1024 * 1024;
pub const FILE_BODY_LIMIT: usize = 256 * 1024 * 1024;

/// What changes the routes themselves.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// `/dashboard_workers` answers anyone (`ORCHARD_WPIPE_PUBLIC_DASHBOARD`).
    pub wpipe_public_dashboard: bool,
    /// How long a request may take before it is answered 503 (`ORCHARD_REQUEST_TIMEOUT_SECS`);
    /// not applied to the event stream, lease claims (a long poll), imports and job files.
    pub request_timeout: Duration,
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            wpipe_public_dashboard: false,
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// The request timeout as a layer.
pub fn timeout(s: &ApiSettings) -> TimeoutLayer {
    TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, s.request_timeout)
}

/// Every documented route: `/api/v1`, the wpipe routes at the root, the operations
/// endpoints and the docs, each declared with its access.
pub fn documented(s: &ApiSettings) -> OpenApiRouter<AppState> {
    let timed = OpenApiRouter::new()
        .merge(jobs::router())
        .merge(workers::router())
        .merge(workers::worker_router())
        .merge(tasks::router())
        .merge(labels::router())
        .merge(views::router())
        .layer(timeout(s));
    let v1 = timed
        .merge(leases::router())
        .merge(events::router())
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .merge(files::router().layer(DefaultBodyLimit::max(FILE_BODY_LIMIT)))
        .merge(tasks::import_router());
    let root = OpenApiRouter::new()
        .merge(
            crate::wpipe::router(s.wpipe_public_dashboard)
                .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT)),
        )
        .merge(crate::ops::router())
        .merge(openapi::router())
        .layer(timeout(s));
    let v1 = v1.layer(axum::Extension(std::sync::Arc::new(
        worker_secret::WorkerSecrets::default(),
    )));
    OpenApiRouter::new().nest("/api/v1", v1).merge(root)
}

/// The routes, the OpenAPI document served at `/api/openapi.json`, and their declared
/// access read back from that document.
pub fn router(s: &ApiSettings) -> (Router<AppState>, utoipa::openapi::OpenApi, AccessTable) {
    let (routes, doc) = documented(s).split_for_parts();
    let table = AccessTable::from_doc(&doc, openapi::WPIPE);
    (routes, openapi::document(doc), table)
}
