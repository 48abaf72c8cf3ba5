//! The server's shared state, handed to axum handlers (through `FromRef`) and to server
//! functions and pages (through Leptos context). One store pool per process, no globals.

use crate::events::EventBus;
use crate::files::FileStore;
use crate::store::{Backoff, Store};
use crate::workers::model::HealthThresholds;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;
use tokio::sync::Notify;

/// Tunables of the job engine.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// How long a lease lasts without a heartbeat.
    pub lease_ms: i64,
    /// Attempts per task before the task and its job fail.
    pub max_attempts: i64,
    pub backoff: Backoff,
    pub health: HealthThresholds,
    /// Longest a claim may wait for work.
    pub max_claim_wait_ms: i64,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            lease_ms: 30_000,
            max_attempts: 3,
            backoff: Backoff::default(),
            health: HealthThresholds::default(),
            max_claim_wait_ms: 30_000,
        }
    }
}

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub store: Arc<dyn Store>,
    pub files: Arc<dyn FileStore>,
    pub events: EventBus,
    pub engine: Arc<EngineSettings>,
    /// Woken whenever tasks may have become ready, so waiting claims answer at once.
    pub work_ready: Arc<Notify>,
}

impl AppState {
    /// The state of the current server function or page render.
    pub fn from_context() -> Result<Self, crate::error::AppError> {
        leptos::prelude::use_context::<AppState>().ok_or_else(|| {
            tracing::error!("AppState missing from Leptos context");
            crate::error::AppError::Internal
        })
    }
}
