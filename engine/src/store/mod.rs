//! The store seam: one contract (`Store`) for everything Orchard keeps, with a SQLite and a
//! Postgres implementation. Both share their SQL (see `queries.rs`); they differ only in how
//! they connect and how a claim locks jobs against concurrent claimers.

pub mod accounts;
mod error;
pub mod fleet;
pub mod migrations;
mod param;
pub mod postgres;
mod queries;
pub mod repair;
mod rows;
mod sqlite;
pub mod tree;

pub use error::{StoreError, StoreResult};
pub use postgres::PgStore;
pub use sqlite::SqliteStore;

use crate::Millis;
use crate::jobs::model::{Job, JobDetail};
use crate::jobs::plan::TaskSpec;
use crate::jobs::protocol::{
    CompleteRequest, CompletedTask, FailRequest, HeartbeatReply, LeaseRef, LeasedTask,
};
use crate::overview::model::Overview;
use crate::workers::model::{HealthThresholds, Worker, WorkerKind};
use async_trait::async_trait;
use std::sync::Arc;

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A new worker to record.
#[derive(Debug, Clone)]
pub struct NewWorker {
    pub name: String,
    pub kind: WorkerKind,
    pub hostname: String,
    pub version: String,
    pub concurrency: i64,
    /// SHA-256 of the secret a remote worker shows on every later call (none for the
    /// server's own workers).
    pub secret_hash: Option<String>,
}

/// A failed job's message: what went wrong first, then where (`… (map task 3, after 2
/// attempts)`), so a person reads the cause before the bookkeeping.
pub fn job_failure(error: &str, phase: &str, seq: i64, attempts: i64) -> String {
    let tries = if attempts == 1 {
        "on its first attempt".to_string()
    } else {
        format!("after {attempts} attempts")
    };
    format!("{error} ({phase} task {}, {tries})", seq + 1)
}

/// A new job with its planned tasks.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: &'static str,
    /// Only the server's own workers may lease its tasks (the kind's `RunsOn`).
    pub server_only: bool,
    pub params: serde_json::Value,
    pub concurrency: i64,
    pub max_attempts: i64,
    pub phase: &'static str,
    pub tasks: Vec<TaskSpec>,
}

/// What a completion changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub job_id: String,
    pub phase: String,
    /// How long the successful attempt ran, from its lease to its completion.
    pub duration_ms: i64,
    /// The job finished with this completion (its root task is done).
    pub job_finished: bool,
}

/// What a batch of completions did: one answer per item, in order, and the tasks leased
/// in the same transaction.
#[derive(Debug)]
pub struct BatchOutcome {
    pub completed: Vec<StoreResult<Completion>>,
    pub claimed: Vec<LeasedTask>,
    /// The claim may have left claimable work behind (it stopped at what it was asked for
    /// while a job still had room); false when it took all there was to take.
    pub more: bool,
}

/// What a failure report changed.
#[derive(Debug, Clone, PartialEq)]
pub struct FailureOutcome {
    pub job_id: String,
    pub phase: String,
    /// True when the task will run again; false when it (and its job) failed for good.
    pub will_retry: bool,
}

/// What one reaper pass did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReapReport {
    /// Expired leases returned to the queue.
    pub requeued: u64,
    /// Expired leases that had used their last attempt, failing their job.
    pub failed: u64,
    /// Jobs touched, for change events.
    pub job_ids: Vec<String>,
}

/// Queue figures for metrics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueStats {
    pub jobs_by_state: Vec<(String, i64)>,
    pub tasks_by_state: Vec<(String, i64)>,
    /// Age of the oldest ready task in milliseconds (0 when none is ready).
    pub oldest_ready_age_ms: i64,
}

/// Retry backoff: how long a task waits before its next attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub base_ms: i64,
    pub max_ms: i64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base_ms: 500,
            max_ms: 30_000,
        }
    }
}

impl Backoff {
    /// Delay after the given (1-based) attempt failed: base × 2^(attempt−1), capped.
    pub fn delay(&self, attempt: i64) -> i64 {
        let shift = (attempt - 1).clamp(0, 20) as u32;
        self.base_ms.saturating_mul(1i64 << shift).min(self.max_ms)
    }
}

/// In-process progress of running tasks, by job id: (units done, total).
pub type WorkBoard = std::sync::Mutex<std::collections::HashMap<String, (i64, i64)>>;

/// A stream of change notices from other server replicas sharing the database.
#[async_trait]
pub trait ChangeFeed: Send {
    /// The next notice's payload; reconnects by itself after a lost connection.
    async fn recv(&mut self) -> StoreResult<String>;
}

/// Everything Orchard keeps, behind one contract that both databases fulfil.
#[async_trait]
pub trait Store:
    accounts::AccountStore + fleet::FleetStore + tree::TreeStore + Send + Sync + 'static
{
    fn backend(&self) -> Backend;
    /// Database connections (open, idle), for metrics.
    fn pool_usage(&self) -> (u32, u32);
    /// Succeeds when the database answers a trivial query.
    async fn ping(&self) -> StoreResult<()>;
    async fn overview(&self, health: HealthThresholds, now: Millis) -> StoreResult<Overview>;
    async fn queue_stats(&self, now: Millis) -> StoreResult<QueueStats>;

    async fn register_worker(&self, w: NewWorker, now: Millis) -> StoreResult<String>;
    /// Reserves `bytes` of job files under `key` if the total reserved stays within `cap`;
    /// false (and nothing reserved) when it would not.
    async fn reserve_file_bytes(&self, key: &str, bytes: i64, cap: i64) -> StoreResult<bool>;
    /// Moves a reservation to another key (from a placeholder to the job made with it).
    async fn rename_file_reservation(&self, from: &str, to: &str) -> StoreResult<()>;
    async fn release_file_bytes(&self, key: &str) -> StoreResult<()>;
    /// Bytes of job files reserved in all.
    async fn reserved_file_bytes(&self) -> StoreResult<i64>;
    /// Whether the worker holds a lease on one of the job's tasks now.
    async fn holds_lease_in_job(&self, worker_id: &str, job_id: &str) -> StoreResult<bool>;
    /// The hash of a worker's secret: `None` for no such worker, `Some(None)` for a worker
    /// registered without one.
    async fn worker_secret_hash(&self, id: &str) -> StoreResult<Option<Option<String>>>;
    /// Records a heartbeat; `NotFound` for an unknown worker.
    async fn touch_worker(&self, id: &str, now: Millis) -> StoreResult<()>;
    async fn stop_worker(&self, id: &str, now: Millis) -> StoreResult<()>;
    async fn list_workers(&self, health: HealthThresholds, now: Millis)
    -> StoreResult<Vec<Worker>>;

    async fn create_job(&self, job: NewJob, now: Millis) -> StoreResult<Job>;
    async fn list_jobs(&self, limit: i64) -> StoreResult<Vec<Job>>;
    async fn get_job(&self, id: &str) -> StoreResult<Job>;
    async fn job_detail(&self, id: &str) -> StoreResult<JobDetail>;
    /// Stops handing out the job's tasks; running ones learn it at their next heartbeat.
    async fn cancel_job(&self, id: &str, now: Millis) -> StoreResult<Job>;
    /// Puts a failed job's failed and cancelled tasks back in the queue with fresh attempts.
    async fn retry_job(&self, id: &str, now: Millis) -> StoreResult<Job>;
    async fn delete_job(&self, id: &str) -> StoreResult<()>;
    /// Records how far a running job's task has got (units done out of a total).
    async fn job_work(&self, job_id: &str, done: i64, total: i64) -> StoreResult<()>;
    /// Outputs of a job's tasks in one phase, in task order (used by verification).
    async fn phase_outputs(&self, job_id: &str, phase: &str)
    -> StoreResult<Vec<serde_json::Value>>;

    /// Leases up to `max` ready tasks to `worker_id`, never more than a job's concurrency,
    /// and records the worker's sign of life; `NotFound` for an unknown worker.
    async fn claim(
        &self,
        worker_id: &str,
        max: i64,
        lease_ms: i64,
        now: Millis,
    ) -> StoreResult<Vec<LeasedTask>>;
    /// Whether some job has a ready task and room under its concurrency: a read that lets a
    /// waiting claim skip a write transaction that would find nothing.
    async fn claimable(&self, now: Millis) -> StoreResult<bool>;
    /// Extends a lease held by exactly this worker and attempt; `Conflict` otherwise.
    async fn heartbeat(
        &self,
        task_id: &str,
        lease: &LeaseRef,
        lease_ms: i64,
        now: Millis,
    ) -> StoreResult<HeartbeatReply>;
    /// Accepts the output of the current lease holder only; `Conflict` for anyone else.
    async fn complete(
        &self,
        task_id: &str,
        req: &CompleteRequest,
        now: Millis,
    ) -> StoreResult<Completion>;
    /// Completes several of one worker's tasks in one transaction — each item fenced on its
    /// own, so a stale one is refused without touching the others — then leases up to
    /// `claim` more tasks to the same worker.
    async fn complete_batch(
        &self,
        worker_id: &str,
        items: &[CompletedTask],
        claim: i64,
        lease_ms: i64,
        now: Millis,
    ) -> StoreResult<BatchOutcome>;
    async fn fail(
        &self,
        task_id: &str,
        req: &FailRequest,
        backoff: Backoff,
        now: Millis,
    ) -> StoreResult<FailureOutcome>;
    /// Gives a lease back without using up an attempt (graceful worker shutdown).
    async fn release(&self, task_id: &str, lease: &LeaseRef, now: Millis) -> StoreResult<String>;
    /// Returns expired leases to the queue, or fails them after their last attempt.
    async fn reap_expired(&self, backoff: Backoff, now: Millis) -> StoreResult<ReapReport>;

    /// Sends a change notice to every replica listening on this database.
    async fn notify_change(&self, payload: &str) -> StoreResult<()>;
    /// Listens for change notices; `None` when the database has no such channel (SQLite,
    /// where one process owns the file).
    async fn change_feed(&self) -> StoreResult<Option<Box<dyn ChangeFeed>>>;
}

/// Connects to the database named by `url` (`sqlite:` or `postgres:`) and runs migrations.
pub async fn connect(url: &str) -> StoreResult<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(PgStore::connect(url).await?))
    } else {
        Err(StoreError::Config(format!(
            "unsupported database URL scheme in {:?}: use sqlite:… or postgres://…",
            url.split(':').next().unwrap_or_default()
        )))
    }
}

/// Runs blocking work on this thread, letting the runtime move this thread's other tasks
/// elsewhere meanwhile (where it can: a single-threaded runtime just runs it).
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::current().runtime_flavor() {
        tokio::runtime::RuntimeFlavor::CurrentThread => f(),
        _ => tokio::task::block_in_place(f),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let b = Backoff {
            base_ms: 100,
            max_ms: 1_000,
        };
        assert_eq!(b.delay(1), 100);
        assert_eq!(b.delay(2), 200);
        assert_eq!(b.delay(4), 800);
        assert_eq!(b.delay(5), 1_000);
        assert_eq!(b.delay(500), 1_000);
    }
}

#[cfg(test)]
mod failure_message_tests {
    #[test]
    fn the_cause_comes_first() {
        assert_eq!(
            super::job_failure("the file is empty at byte 0 (top level)", "import", 0, 1),
            "the file is empty at byte 0 (top level) (import task 1, on its first attempt)"
        );
        assert_eq!(
            super::job_failure("boom", "map", 2, 3),
            "boom (map task 3, after 3 attempts)"
        );
    }
}
