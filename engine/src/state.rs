//! The engine's shared state: the store, the file store, the event bus, the settings and
//! the wake-up of waiting claims. One per process, no globals; the server's state wraps it.

use crate::events::EventBus;
use crate::files::FileStore;
use crate::store::accounts::AccountStore;
use crate::store::fleet::FleetStore;
use crate::store::jobs::JobStore;
use crate::store::tree::TreeStore;
use crate::store::{Backoff, Store};
use crate::workers::model::HealthThresholds;
use std::sync::Arc;
use tokio::sync::Notify;

/// Tunables of the job engine.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// How long a lease lasts without a heartbeat.
    pub lease_ms: i64,
    /// Attempts per task before the task and its job fail.
    pub max_attempts: i64,
    pub backoff: Backoff,
    pub health: HealthThresholds,
    /// Longest a claim may wait for work.
    pub max_claim_wait_ms: i64,
    /// How browsers poll a running job.
    pub poll: shared::poll::RetryPolicy,
    /// Most levels a task tree may have (inclusive), so every tree exports and imports.
    pub max_tree_depth: u64,
    /// Most steps of a workflow run, map children included.
    pub max_workflow_steps: usize,
    /// Most bytes all job files may take together (reserved as jobs are created).
    pub max_files_bytes: u64,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            lease_ms: 30_000,
            max_attempts: 3,
            backoff: Backoff::default(),
            health: HealthThresholds::default(),
            max_claim_wait_ms: 30_000,
            poll: Default::default(),
            max_tree_depth: crate::tasks::import::DEFAULT_MAX_DEPTH,
            max_workflow_steps: shared::jobs::workflow::DEFAULT_MAX_STEPS,
            max_files_bytes: u64::MAX,
        }
    }
}

/// Hears what the job engine does, for metrics.
pub trait EngineObserver: Send + Sync + 'static {
    /// A task completed; `seconds` is how long its successful attempt ran.
    fn task_completed(&self, phase: &str, seconds: f64);
    /// A failed task went back to the queue for another attempt.
    fn task_retried(&self, phase: &str);
    /// A job ended: `succeeded`, `failed` or `cancelled`.
    fn job_finished(&self, _state: &str) {}
}

impl Core {
    pub fn new(
        store: Arc<dyn Store>,
        files: Arc<dyn FileStore>,
        events: EventBus,
        engine: Arc<EngineSettings>,
        observer: Arc<dyn EngineObserver>,
    ) -> Self {
        Self {
            jobs: store.clone(),
            tree: store.clone(),
            fleet: store.clone(),
            accounts: store.clone(),
            store,
            files,
            events,
            engine,
            work_ready: Arc::new(Notify::new()),
            observer,
        }
    }
}

/// An observer that ignores everything.
pub struct NoObserver;

impl EngineObserver for NoObserver {
    fn task_completed(&self, _: &str, _: f64) {}
    fn task_retried(&self, _: &str) {}
}

/// What every engine service works with. Each service reads and writes through the domain of
/// the store it concerns (`jobs`, `tree`, `fleet`, `accounts`); the whole `store` is for what
/// concerns the database itself (health, metrics, change notices).
#[derive(Clone)]
pub struct Core {
    pub store: Arc<dyn Store>,
    pub jobs: Arc<dyn JobStore>,
    pub tree: Arc<dyn TreeStore>,
    pub fleet: Arc<dyn FleetStore>,
    pub accounts: Arc<dyn AccountStore>,
    pub files: Arc<dyn FileStore>,
    pub events: EventBus,
    pub engine: Arc<EngineSettings>,
    /// Woken whenever tasks may have become ready, so waiting claims answer at once.
    pub work_ready: Arc<Notify>,
    pub observer: Arc<dyn EngineObserver>,
}
