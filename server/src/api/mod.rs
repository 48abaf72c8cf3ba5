//! REST API `/api/v1`: JSON in, JSON out, errors as `{"error": …}`. Routers by module.
//! The worker-facing routes (registration, leases, files) require the API token when one
//! is configured.

pub mod auth;
mod events;
mod files;
mod jobs;
mod leases;
mod workers;
pub mod wpipe;

use crate::error::ApiError;
use app::state::AppState;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use std::sync::Arc;

/// JSON bodies are small; job files have their own, larger limit.
pub const JSON_BODY_LIMIT: usize = 1024 * 1024;
pub const FILE_BODY_LIMIT: usize = 256 * 1024 * 1024;

pub fn router(state: AppState, token: Option<Arc<str>>) -> Router {
    let check = Arc::new(crate::tokens::TokenCheck::new(token, state.store.clone()));
    let worker_facing = Router::new()
        .merge(workers::worker_router())
        .merge(leases::router())
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .merge(files::router().layer(DefaultBodyLimit::max(FILE_BODY_LIMIT)))
        .layer(axum::middleware::from_fn_with_state(
            check.clone(),
            auth::require_token,
        ));
    let open = Router::new()
        .merge(jobs::router())
        .merge(workers::router())
        .merge(events::router())
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT));
    Router::new()
        .merge(wpipe::router(check))
        .nest(
            "/api/v1",
            open.merge(worker_facing)
                .fallback(|| async { ApiError::not_found("no such API route") }),
        )
        .route(
            "/api/{*rest}",
            axum::routing::any(|| async { ApiError::not_found("no such API route") }),
        )
        .with_state(state)
}
