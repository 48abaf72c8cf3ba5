//! The worker loop: claim, run with heartbeats, complete or fail. In-process workers and
//! remote `orchard worker` processes both run it; they differ only in their `Leases`
//! (direct calls vs. REST) and their file store.

use super::exec::{self, ExecError};
use super::protocol::{
    ClaimRequest, CompleteRequest, FailRequest, HeartbeatReply, LeaseRef, LeasedTask,
};
use super::service;
use crate::error::{AppError, AppResult};
use crate::files::FileStore;
use crate::state::AppState;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tracing::Instrument;

/// The lease protocol as a worker sees it.
#[async_trait]
pub trait Leases: Send + Sync + 'static {
    async fn claim(&self, req: &ClaimRequest) -> AppResult<Vec<LeasedTask>>;
    async fn heartbeat(&self, task_id: &str, lease: &LeaseRef) -> AppResult<HeartbeatReply>;
    async fn complete(&self, task_id: &str, req: &CompleteRequest) -> AppResult<()>;
    async fn fail(&self, task_id: &str, req: &FailRequest) -> AppResult<()>;
    async fn release(&self, task_id: &str, lease: &LeaseRef) -> AppResult<()>;
}

/// Leases taken straight from this process's store.
pub struct LocalLeases(pub AppState);

#[async_trait]
impl Leases for LocalLeases {
    async fn claim(&self, req: &ClaimRequest) -> AppResult<Vec<LeasedTask>> {
        service::claim(&self.0, req).await
    }
    async fn heartbeat(&self, task_id: &str, lease: &LeaseRef) -> AppResult<HeartbeatReply> {
        service::heartbeat(&self.0, task_id, lease).await
    }
    async fn complete(&self, task_id: &str, req: &CompleteRequest) -> AppResult<()> {
        service::complete(&self.0, task_id, req).await
    }
    async fn fail(&self, task_id: &str, req: &FailRequest) -> AppResult<()> {
        service::fail(&self.0, task_id, req).await
    }
    async fn release(&self, task_id: &str, lease: &LeaseRef) -> AppResult<()> {
        service::release(&self.0, task_id, lease).await
    }
}

/// What one worker process runs with.
#[derive(Clone)]
pub struct WorkerConfig {
    pub worker_id: String,
    pub slots: usize,
    pub lease_ms: i64,
    /// How long a claim waits for work before asking again.
    pub claim_wait_ms: i64,
    /// On shutdown, how long running tasks may take to finish before their leases are released.
    pub shutdown_grace: Duration,
}

/// Runs `slots` task loops until `shutdown` turns true; then finishes or releases what runs.
pub async fn run_worker(
    leases: Arc<dyn Leases>,
    files: Arc<dyn FileStore>,
    cfg: WorkerConfig,
    shutdown: watch::Receiver<bool>,
) {
    let mut handles = Vec::new();
    for slot in 0..cfg.slots {
        let (leases, files, cfg, shutdown) =
            (leases.clone(), files.clone(), cfg.clone(), shutdown.clone());
        // Spawned tasks do not inherit spans: give each slot its own, naming the worker.
        let span = tracing::info_span!("worker", worker_id = %cfg.worker_id, slot);
        handles.push(tokio::spawn(
            async move { slot_loop(slot, leases, files, cfg, shutdown).await }.instrument(span),
        ));
    }
    for h in handles {
        let _ = h.await;
    }
}

async fn slot_loop(
    slot: usize,
    leases: Arc<dyn Leases>,
    files: Arc<dyn FileStore>,
    cfg: WorkerConfig,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut failures = 0u32;
    while !*shutdown.borrow() {
        let req = ClaimRequest {
            worker_id: cfg.worker_id.clone(),
            max: 1,
            wait_ms: cfg.claim_wait_ms,
        };
        let claimed = tokio::select! {
            r = leases.claim(&req) => r,
            _ = shutdown.changed() => break,
        };
        let tasks = match claimed {
            Ok(t) => {
                failures = 0;
                t
            }
            Err(e) => {
                // The server may be restarting: back off and try again, never give up.
                failures = (failures + 1).min(6);
                let delay = Duration::from_millis(250 << failures);
                tracing::warn!(slot, error = %e, retry_in_ms = delay.as_millis() as u64, "claim failed");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.changed() => break,
                }
                continue;
            }
        };
        for task in tasks {
            let span = tracing::info_span!(
                "task",
                job_id = %task.job_id,
                task_id = %task.task_id,
                phase = %task.phase,
                attempt = task.attempt
            );
            run_one(&*leases, &*files, &cfg, task, shutdown.clone())
                .instrument(span)
                .await;
        }
    }
}

enum Stop {
    Cancelled,
    LeaseLost(String),
    Shutdown,
}

/// Runs one task while heartbeating its lease; reports the outcome under that lease.
async fn run_one(
    leases: &dyn Leases,
    files: &dyn FileStore,
    cfg: &WorkerConfig,
    task: LeasedTask,
    mut shutdown: watch::Receiver<bool>,
) {
    let lease = LeaseRef {
        worker_id: cfg.worker_id.clone(),
        attempt: task.attempt,
    };
    let beat_every = Duration::from_millis((cfg.lease_ms / 3).max(100) as u64);
    let work = exec::run(&task, files);
    tokio::pin!(work);
    let mut ticker = tokio::time::interval(beat_every);
    ticker.tick().await;
    let mut shutdown_deadline: Option<tokio::time::Instant> = None;
    let outcome: Result<Result<serde_json::Value, ExecError>, Stop> = loop {
        let grace = async {
            match shutdown_deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = &mut work => break Ok(r),
            _ = ticker.tick() => match leases.heartbeat(&task.task_id, &lease).await {
                Ok(reply) if reply.cancelled => break Err(Stop::Cancelled),
                Ok(_) => {}
                Err(AppError::Conflict(m)) | Err(AppError::NotFound(m)) => break Err(Stop::LeaseLost(m)),
                Err(e) => tracing::warn!(task_id = %task.task_id, error = %e, "heartbeat failed; retrying"),
            },
            _ = shutdown.changed(), if shutdown_deadline.is_none() => {
                shutdown_deadline = Some(tokio::time::Instant::now() + cfg.shutdown_grace);
            }
            _ = grace => break Err(Stop::Shutdown),
        }
    };
    let label = match &outcome {
        Ok(Ok(_)) => "completed",
        Ok(Err(_)) => "failed",
        Err(Stop::Cancelled) => "cancelled",
        Err(Stop::Shutdown) => "released",
        Err(Stop::LeaseLost(_)) => "lease_lost",
    };
    tracing::debug!(outcome = label, "task finished");
    let report = match outcome {
        Ok(Ok(output)) => {
            let req = CompleteRequest {
                worker_id: cfg.worker_id.clone(),
                attempt: task.attempt,
                output,
            };
            leases.complete(&task.task_id, &req).await
        }
        Ok(Err(e)) => {
            let req = FailRequest {
                worker_id: cfg.worker_id.clone(),
                attempt: task.attempt,
                error: e.to_string(),
                retryable: matches!(e, ExecError::Retryable(_)),
            };
            leases.fail(&task.task_id, &req).await
        }
        Err(Stop::Cancelled) | Err(Stop::Shutdown) => leases.release(&task.task_id, &lease).await,
        Err(Stop::LeaseLost(m)) => {
            tracing::warn!(task_id = %task.task_id, reason = %m, "lease lost; result dropped");
            Ok(())
        }
    };
    if let Err(e) = report {
        // A 409 here means another worker took over after our lease expired: correct, and
        // nothing to do. Anything else leaves the lease to expire and be reaped.
        tracing::warn!(task_id = %task.task_id, error = %e, "task outcome not recorded");
    }
}
