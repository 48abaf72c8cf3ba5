//! Server functions of the overview.

use super::model::Overview;
use crate::error::AppError;
use leptos::prelude::*;

/// Live counts of jobs, queued tasks and workers.
#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn get_overview() -> Result<Overview, AppError> {
    let st = crate::require!(GetOverview, Viewer)?.st;
    Ok(st
        .jobs
        .overview(st.engine.health, crate::now_millis())
        .await?)
}
