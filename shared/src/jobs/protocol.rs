//! The lease protocol spoken between the queue and any worker — in-process or a remote
//! `orchard worker` over REST. Every call after the claim names the lease it acts under
//! (worker id + attempt), which is what fences out stale workers.

use crate::Millis;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A worker announcing itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterWorker {
    pub name: String,
    #[serde(default)]
    pub hostname: String,
    #[serde(default)]
    pub version: String,
    #[serde(default = "one")]
    pub concurrency: i64,
    /// The handlers it offers for workflow steps (at most 1,000 names).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub handlers: Vec<String>,
}

fn one() -> i64 {
    1
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Registered {
    pub worker_id: String,
    /// A remote worker's own secret: every later call for this worker carries it in the
    /// `X-Orchard-Worker-Secret` header, so workers sharing one token cannot act for each
    /// other. Shown once; only its hash is kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_secret: Option<String>,
    /// How long a lease lasts without a heartbeat, in milliseconds.
    pub lease_ms: i64,
}

/// Asks for up to `max` tasks, waiting up to `wait_ms` for one to become ready.
///
/// With `prefetch`, `max` counts batches instead: the worker runs the tasks of one batch
/// (those sharing a `batch`) one after another on one slot, so the server may lease several
/// ready tasks of a job as one batch when its tasks are quick, and a job's concurrency
/// bounds its batches. Without it every task is a batch of its own.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClaimRequest {
    pub worker_id: String,
    #[serde(default = "one")]
    pub max: i64,
    #[serde(default)]
    pub wait_ms: i64,
    #[serde(default)]
    pub prefetch: bool,
    /// The handlers this worker offers: only it may lease a workflow step that needs one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub handlers: Vec<String>,
    /// Fleet-wide limits of handlers it offers, by handler name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, FleetLimit>,
}

/// A bound a handler's steps share across the fleet: no more than `n` steps of the handlers
/// naming `key` run at once, whichever workers run them (`limit = "gpu:2"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FleetLimit {
    /// `[A-Za-z0-9_-]{1,64}`.
    pub key: String,
    /// 1 to 100,000.
    pub n: u32,
}

impl FleetLimit {
    /// Most steps one key may allow.
    pub const MAX: u32 = 100_000;

    /// `key:n`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (key, n) = s
            .split_once(':')
            .ok_or_else(|| format!("limit {s:?} must be KEY:N, e.g. \"gpu:2\""))?;
        let n = n
            .parse::<u32>()
            .map_err(|_| format!("limit {s:?}: {n:?} is not a whole number"))?;
        let limit = Self {
            key: key.to_string(),
            n,
        };
        limit.check()?;
        Ok(limit)
    }

    pub fn check(&self) -> Result<(), String> {
        if !crate::jobs::workflow::is_name(&self.key) {
            return Err(format!(
                "limit key {:?} must be 1 to 64 of A-Z, a-z, 0-9, _ and -",
                self.key
            ));
        }
        if !(1..=Self::MAX).contains(&self.n) {
            return Err(format!(
                "limit {}: n must be between 1 and {}",
                self.key,
                Self::MAX
            ));
        }
        Ok(())
    }
}

/// Checks the handlers a claim offers and their fleet limits: at most 1,000 names, each
/// limit for a handler offered.
pub fn check_offer(
    handlers: &[String],
    limits: &BTreeMap<String, FleetLimit>,
) -> Result<(), String> {
    if handlers.len() > 1_000 || !handlers.iter().all(|h| crate::jobs::workflow::is_name(h)) {
        return Err(
            "handlers must be at most 1,000 names of 1 to 64 of A-Z, a-z, 0-9, _ and -".into(),
        );
    }
    for (h, l) in limits {
        if !handlers.contains(h) {
            return Err(format!(
                "limit for handler {h:?}, which the claim does not offer"
            ));
        }
        l.check()?;
    }
    Ok(())
}

/// A task leased to a worker, with everything needed to run it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub lease_expires_at: Millis,
    /// The batch the task was leased in: the id of the batch's first task (a task leased
    /// alone names itself). A worker runs one batch's tasks one at a time.
    #[serde(default)]
    pub batch: String,
}

/// Log lines of a running step, sent by its lease holder as they come.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogLines {
    pub worker_id: String,
    pub attempt: i64,
    /// At most 1,000 lines and 256 KiB a call.
    pub lines: Vec<String>,
}

/// Identifies the lease a heartbeat, completion, failure or release acts under.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LeaseRef {
    pub worker_id: String,
    pub attempt: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HeartbeatReply {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub lease_expires_at: Millis,
    /// The job was cancelled: stop working on the task and drop it.
    pub cancelled: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CompleteRequest {
    pub worker_id: String,
    pub attempt: i64,
    pub output: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

/// One finished task in a batch of completions.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CompletedTask {
    pub task_id: String,
    /// The task's job, as the lease named it; saves the queue a lookup when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    pub attempt: i64,
    pub output: serde_json::Value,
    /// How long the worker ran the task, for metrics; the lease's age when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_ms: Option<i64>,
    /// When the worker started the task (its clock, microseconds since the Unix epoch) and
    /// how long it ran, in microseconds: kept with the task, they show how many of a job's
    /// tasks ran at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_us: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_us: Option<i64>,
    /// Tasks the completion adds to its running job: a fan-out its result decided. They are
    /// ready at once, and every task waiting on this one waits on them too, their outputs
    /// following this task's own, in this order, in its place among its inputs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spawn: Vec<SpawnedTask>,
}

/// A task a completion adds to its job.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpawnedTask {
    /// One of the job kind's phases: lowercase letters, digits, `_` and `-`, at most 64.
    pub phase: String,
    pub payload: serde_json::Value,
    /// The handler a worker must offer to run it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handler: Option<String>,
}

/// Most tasks one completion may add.
pub const MAX_SPAWN: usize = 10_000;

impl SpawnedTask {
    /// Why a completion's added tasks cannot be taken, if they cannot.
    pub fn check_all(spawn: &[SpawnedTask]) -> Result<(), String> {
        if spawn.len() > MAX_SPAWN {
            return Err(format!(
                "a completion adds at most {MAX_SPAWN} tasks, got {}",
                spawn.len()
            ));
        }
        for t in spawn {
            let ok = !t.phase.is_empty()
                && t.phase.len() <= 64
                && t.phase.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                });
            if !ok {
                return Err(format!(
                    "an added task's phase must be 1 to 64 of a-z, 0-9, _ and -, got {:?}",
                    t.phase.chars().take(80).collect::<String>()
                ));
            }
        }
        Ok(())
    }
}

/// Several completions of one worker at once, and optionally a claim for more work in the
/// same round trip (`claim` tasks at most, no waiting).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CompleteBatch {
    pub worker_id: String,
    pub items: Vec<CompletedTask>,
    #[serde(default)]
    pub claim: i64,
    /// `claim` counts batches, as a claim's `max` does with `prefetch`.
    #[serde(default)]
    pub prefetch: bool,
    /// The handlers this worker offers, as a claim says them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub handlers: Vec<String>,
    /// Their fleet-wide limits, as a claim says them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, FleetLimit>,
}

/// How one item of a batch fared: accepted, or refused with the status and error the single
/// call would have answered (409 for a lease no longer held, 404 for an unknown task).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemOutcome {
    pub task_id: String,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The answer to a batch: one outcome per item, in order, and the newly leased tasks.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BatchReply {
    pub results: Vec<ItemOutcome>,
    pub tasks: Vec<LeasedTask>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fleet_limits_read_and_check() {
        assert_eq!(
            FleetLimit::parse("gpu:2"),
            Ok(FleetLimit {
                key: "gpu".into(),
                n: 2
            })
        );
        for bad in ["gpu", "gpu:0", "gpu:x", "g/u:1", ":1"] {
            assert!(FleetLimit::parse(bad).is_err(), "{bad}");
        }
        let limits = BTreeMap::from([("b".to_string(), FleetLimit::parse("k:1").unwrap())]);
        assert!(check_offer(&["a".into()], &limits).is_err());
        assert!(check_offer(&["a".into(), "b".into()], &limits).is_ok());
    }
}
