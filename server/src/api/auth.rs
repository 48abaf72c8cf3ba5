//! Bearer-token check for the worker-facing API: the shared token (compared in constant
//! time) or any unrevoked stored token (see `crate::tokens`).

use crate::error::ApiError;
use crate::tokens::TokenCheck;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The token after `Bearer ` in the request's `Authorization` header.
pub fn bearer(req: &Request) -> Option<&str> {
    crate::access::bearer(req.headers())
}

pub async fn require_token(
    State(check): State<Arc<TokenCheck>>,
    req: Request,
    next: Next,
) -> Response {
    if !check.allows(bearer(&req)).await {
        return ApiError::unauthorized().into_response();
    }
    next.run(req).await
}
