//! What the overview page shows.

use crate::jobs::model::{Job, ThroughputPoint};
use serde::{Deserialize, Serialize};

/// How far back the overview's activity chart looks, and the width of its buckets.
pub const ACTIVITY_SPAN_MS: i64 = 3_600_000;
pub const ACTIVITY_BUCKET_MS: i64 = 60_000;

/// Live counts across Orchard, the newest jobs, and the tasks completed lately.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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
    /// The five newest jobs.
    pub recent_jobs: Vec<Job>,
    /// Tasks of every job completed per minute over the last hour; `activity_since` is the
    /// first bucket's start.
    pub activity: Vec<ThroughputPoint>,
    pub activity_since: i64,
}
