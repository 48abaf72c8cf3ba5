//! The lease protocol spoken between the queue and any worker — in-process or a remote
//! `orchard worker` over REST. Every call after the claim names the lease it acts under
//! (worker id + attempt), which is what fences out stale workers.

use crate::Millis;
use serde::{Deserialize, Serialize};

/// A worker announcing itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RegisterWorker {
    pub name: String,
    #[serde(default)]
    pub hostname: String,
    #[serde(default)]
    pub version: String,
    #[serde(default = "one")]
    pub concurrency: i64,
}

fn one() -> i64 {
    1
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Registered {
    pub worker_id: String,
    /// How long a lease lasts without a heartbeat, in milliseconds.
    pub lease_ms: i64,
}

/// Asks for up to `max` tasks, waiting up to `wait_ms` for one to become ready.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ClaimRequest {
    pub worker_id: String,
    #[serde(default = "one")]
    pub max: i64,
    #[serde(default)]
    pub wait_ms: i64,
}

/// A task leased to a worker, with everything needed to run it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LeasedTask {
    pub task_id: String,
    pub job_id: String,
    pub job_kind: String,
    pub job_params: serde_json::Value,
    pub phase: String,
    pub payload: serde_json::Value,
    /// Outputs of the tasks that feed this one, in their order.
    pub inputs: Vec<serde_json::Value>,
    /// True for the task whose completion finishes the job.
    pub is_root: bool,
    pub attempt: i64,
    #[cfg_attr(feature = "ssr", schema(value_type = i64))]
    pub lease_expires_at: Millis,
}

/// Identifies the lease a heartbeat, completion, failure or release acts under.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LeaseRef {
    pub worker_id: String,
    pub attempt: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HeartbeatReply {
    #[cfg_attr(feature = "ssr", schema(value_type = i64))]
    pub lease_expires_at: Millis,
    /// The job was cancelled: stop working on the task and drop it.
    pub cancelled: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CompleteRequest {
    pub worker_id: String,
    pub attempt: i64,
    pub output: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct FailRequest {
    pub worker_id: String,
    pub attempt: i64,
    pub error: String,
    /// False when retrying cannot help (bad input); the task fails at once.
    #[serde(default = "yes")]
    pub retryable: bool,
}

fn yes() -> bool {
    true
}
