//! Server functions of the workers dashboard.

use super::model::Worker;
use crate::error::AppError;
use leptos::prelude::*;

/// Every worker with its health and load.
#[server(prefix = "/fn")]
pub async fn list_workers() -> Result<Vec<Worker>, AppError> {
    let st = crate::state::AppState::from_context()?;
    Ok(st
        .store
        .list_workers(st.engine.health, crate::now_millis())
        .await?)
}
