//! The store: everything Orchard keeps, by domain (`accounts`, `fleet`, `tree`, `jobs`), each
//! a trait with one SQLite and one Postgres module and its SQL written once (`sql.rs`), plus
//! each backend's connection (`sqlite`: one write path and read-only readers; `postgres`: a
//! pool and the lease functions), the schema's history (`migrations`, `repair`) and the
//! types the domains share.

pub mod accounts;
mod error;
pub mod fleet;
pub mod jobs;
pub mod migrations;
mod param;
pub mod postgres;
pub mod repair;
mod sqlite;
pub mod tree;

pub use error::{StoreError, StoreResult};
pub use postgres::PgStore;
pub use sqlite::{SqliteStore, Synchronous};

use crate::store::jobs::plan::TaskSpec;
use crate::workers::model::WorkerKind;
use async_trait::async_trait;
use shared::jobs::protocol::LeasedTask;
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
    /// The handlers it offers for workflow steps.
    pub handlers: Vec<String>,
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
    /// The run this one was made from, changed ("Run again with changes").
    pub replayed_from: Option<String>,
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

/// Everything Orchard keeps, behind one contract that both databases fulfil: one trait per
/// domain (`accounts`, `fleet`, `tree`, `jobs`), each with one SQLite and one Postgres
/// module, and what concerns the database as a whole.
#[async_trait]
pub trait Store:
    accounts::AccountStore
    + fleet::FleetStore
    + tree::TreeStore
    + jobs::JobStore
    + Send
    + Sync
    + 'static
{
    fn backend(&self) -> Backend;
    /// Database connections (open, idle), for metrics.
    fn pool_usage(&self) -> (u32, u32);
    /// Succeeds when the database answers a trivial query.
    async fn ping(&self) -> StoreResult<()>;
    /// Sends a change notice to every replica listening on this database.
    async fn notify_change(&self, payload: &str) -> StoreResult<()>;
    /// Listens for change notices; `None` when the database has no such channel (SQLite,
    /// where one process owns the file).
    async fn change_feed(&self) -> StoreResult<Option<Box<dyn ChangeFeed>>>;
}

/// How the store opens its database.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// How much a SQLite commit waits for the disk.
    pub sqlite_synchronous: Synchronous,
}

/// Connects to the database named by `url` (`sqlite:` or `postgres:`) and runs migrations.
pub async fn connect(url: &str) -> StoreResult<Arc<dyn Store>> {
    connect_with(url, Options::default()).await
}

/// `connect`, with options.
pub async fn connect_with(url: &str, opts: Options) -> StoreResult<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(
            SqliteStore::connect(url, opts.sqlite_synchronous).await?,
        ))
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
