//! Fleet operations shared by server functions and the REST API.

use crate::error::AppResult;
use crate::state::Core;

/// Removes a dead or stopped worker and its processes, and tells the dashboards.
pub async fn remove_worker(st: &Core, id: &str) -> AppResult<()> {
    st.fleet
        .remove_worker(id, st.engine.health, crate::now_millis())
        .await?;
    tracing::info!(worker_id = %id, "worker removed");
    st.events.publish("worker", id, "deleted");
    Ok(())
}
