//! REST API `/api/v1`: JSON in, JSON out, errors as `{"error": …}`. Routers by module.
//! The worker-facing routes (registration, leases, files) require the API token when one
//! is configured.
//!
//! Every route is declared through an [`OpenApiRouter`] from a handler carrying
//! `#[utoipa::path]`, so the router and the OpenAPI document (`/api/openapi.json`, rendered
//! at `/api/docs`) are built from the same declarations and cannot drift apart. A new module
//! adds its handlers with `.routes(routes!(…))` and merges its router here.

pub mod auth;
mod events;
mod files;
mod jobs;
mod leases;
mod tasks;
mod workers;

use crate::error::ApiError;
use crate::openapi;
use app::state::AppState;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;

/// JSON bodies are small; job files have their own, larger limit.
pub const JSON_BODY_LIMIT: usize = 1024 * 1024;
pub const FILE_BODY_LIMIT: usize = 256 * 1024 * 1024;

/// The `/api/v1` routes together with their OpenAPI description.
/// The `/api/v1` routes with their OpenAPI description; `check` guards the worker-facing
/// ones (absent only when the document alone is wanted).
pub fn documented(check: Option<Arc<crate::tokens::TokenCheck>>) -> OpenApiRouter<AppState> {
    let mut worker_facing = OpenApiRouter::new()
        .merge(workers::worker_router())
        .merge(leases::router())
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .merge(files::router().layer(DefaultBodyLimit::max(FILE_BODY_LIMIT)));
    if let Some(check) = check {
        worker_facing = worker_facing.layer(axum::middleware::from_fn_with_state(
            check,
            auth::require_token,
        ));
    }
    let open = OpenApiRouter::new()
        .merge(jobs::router())
        .merge(workers::router())
        .merge(events::router())
        .merge(tasks::router())
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .merge(tasks::import_router());
    OpenApiRouter::new().nest(
        "/api/v1",
        open.merge(worker_facing)
            .fallback(|| async { ApiError::not_found("no such API route") }),
    )
}

pub fn router(state: AppState, token: Option<Arc<str>>) -> Router {
    let check = Arc::new(crate::tokens::TokenCheck::new(token, state.store.clone()));
    let (v1, doc) = documented(Some(check.clone()))
        .merge(crate::wpipe::router(check))
        .split_for_parts();
    Router::new()
        .merge(v1)
        .merge(openapi::router(openapi::document(doc)))
        .route(
            "/api/{*rest}",
            axum::routing::any(|| async { ApiError::not_found("no such API route") }),
        )
        .with_state(state)
}
