//! The server's shared state, handed to axum handlers (through `FromRef`) and to server
//! functions and pages (through Leptos context): the engine's [`Core`] and what only the web
//! side needs (Leptos options, sessions, sign-in limits). One per process, no globals.

pub use engine::state::{Core, EngineObserver, EngineSettings, NoObserver};
use leptos::config::LeptosOptions;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    /// The engine; its fields read through `AppState` too (`st.store`, `st.engine`, …).
    pub core: Core,
    pub sessions: Arc<crate::accounts::sessions::SessionSettings>,
    /// Limits on sign-in attempts and on password hashes running at once.
    pub sign_in: Arc<crate::accounts::throttle::Throttle>,
    /// Where pages point the browser for the build's files.
    pub assets: crate::assets::Assets,
}

impl std::ops::Deref for AppState {
    type Target = Core;

    fn deref(&self) -> &Core {
        &self.core
    }
}

impl axum::extract::FromRef<AppState> for LeptosOptions {
    fn from_ref(st: &AppState) -> Self {
        st.leptos_options.clone()
    }
}

impl AppState {
    /// The state of the current server function or page render. Only
    /// [`crate::access::grant`] reads it, after checking the caller.
    pub(crate) fn from_context() -> Result<Self, crate::error::AppError> {
        leptos::prelude::use_context::<AppState>().ok_or_else(|| {
            tracing::error!("AppState missing from Leptos context");
            crate::error::AppError::Internal
        })
    }
}
