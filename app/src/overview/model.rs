//! What the overview page shows.

use serde::{Deserialize, Serialize};

/// Live counts across Orchard.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overview {
    pub jobs_queued: i64,
    pub jobs_running: i64,
    pub jobs_succeeded: i64,
    pub jobs_failed: i64,
    pub jobs_cancelled: i64,
    pub tasks_ready: i64,
    pub tasks_leased: i64,
    pub workers_healthy: i64,
    pub workers_total: i64,
    pub database: String,
}
