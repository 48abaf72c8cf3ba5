//! Each remote worker's own secret: registration hands it out once, and every later call
//! for that worker (heartbeat, stop, claims, reports) shows it in `X-Orchard-Worker-Secret`.
//! Workers sharing one deployment token therefore cannot act for each other. Verified
//! secrets are remembered per worker, so the lease path pays a hash, not a query.

use crate::error::ApiError;
use app::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use engine::accounts::secret::{constant_time_eq, hash};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The header a worker's secret travels in.
pub const HEADER: &str = "x-orchard-worker-secret";
/// Workers remembered before the memory starts over.
const MAX_KNOWN: usize = 100_000;

/// What the server knows of each worker's secret (its hash; `None` for a worker registered
/// before secrets existed).
#[derive(Default)]
pub struct WorkerSecrets(Mutex<HashMap<String, Option<String>>>);

/// The secret a request showed, ready to be checked against the worker it acts for.
pub struct ShownSecret {
    given: Option<String>,
    known: Arc<WorkerSecrets>,
}

impl<S: Send + Sync> FromRequestParts<S> for ShownSecret {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let known = parts
            .extensions
            .get::<Arc<WorkerSecrets>>()
            .cloned()
            .ok_or_else(|| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error"))?;
        let given = parts
            .headers
            .get(HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Ok(Self { given, known })
    }
}

impl ShownSecret {
    /// Passes when the request may act for `worker_id`: it showed that worker's secret (or
    /// the worker has none). An unknown worker passes here, so the route answers 404.
    pub async fn check(&self, st: &AppState, worker_id: &str) -> Result<(), ApiError> {
        let cached = self
            .known
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(worker_id)
            .cloned();
        let stored = match cached {
            Some(s) => s,
            None => match st
                .fleet
                .worker_secret_hash(worker_id)
                .await
                .map_err(shared::error::AppError::from)?
            {
                None => return Ok(()),
                Some(s) => {
                    let mut known = self.known.0.lock().unwrap_or_else(|e| e.into_inner());
                    if known.len() >= MAX_KNOWN {
                        known.clear();
                    }
                    known.insert(worker_id.to_string(), s.clone());
                    s
                }
            },
        };
        let Some(expected) = stored else {
            return Ok(());
        };
        let shown = self.given.as_deref().map(hash).unwrap_or_default();
        if constant_time_eq(shown.as_bytes(), expected.as_bytes()) {
            return Ok(());
        }
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "this call is for worker {worker_id}: show that worker's own secret in {HEADER}"
            ),
        ))
    }
}
