//! Background loops of `orchard serve`: the lease reaper and the in-process worker pool.

use crate::metrics::Metrics;
use app::jobs::runner::{LocalLeases, WorkerConfig, run_worker};
use app::state::AppState;
use app::store::NewWorker;
use app::workers::model::WorkerKind;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Every second, returns expired leases to the queue (or fails them after their last
/// attempt). Safe to run in every replica: each expiry is re-checked under the job's lock.
pub async fn reaper(st: AppState, metrics: Arc<Metrics>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        match st
            .store
            .reap_expired(st.engine.backoff, app::now_millis())
            .await
        {
            Ok(r) if r.requeued + r.failed > 0 => {
                metrics.lease_expiries.inc_by(r.requeued);
                metrics.lease_expiry_failures.inc_by(r.failed);
                tracing::warn!(
                    requeued = r.requeued,
                    failed = r.failed,
                    "expired leases reaped"
                );
                for j in &r.job_ids {
                    st.events.publish("job", j, "updated");
                }
                st.work_ready.notify_waiters();
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "reaper pass failed"),
        }
    }
}

/// Registers this process as a worker and runs `slots` task loops until shutdown.
pub async fn in_process_workers(st: AppState, slots: usize, mut shutdown: watch::Receiver<bool>) {
    let host = gethostname::gethostname().to_string_lossy().to_string();
    let id = match st
        .store
        .register_worker(
            NewWorker {
                name: format!("in-process@{host}"),
                kind: WorkerKind::Inprocess,
                hostname: host,
                version: env!("CARGO_PKG_VERSION").to_string(),
                concurrency: slots as i64,
            },
            app::now_millis(),
        )
        .await
    {
        Ok(id) => id,
        Err(e) => {
            tracing::error!(error = %e, "in-process workers not started");
            return;
        }
    };
    st.events.publish("worker", &id, "created");
    let beat = {
        let (st, id, mut shutdown) = (st.clone(), id.clone(), shutdown.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = shutdown.wait_for(|s| *s) => return,
                }
                if let Err(e) = st.store.touch_worker(&id, app::now_millis()).await {
                    tracing::warn!(error = %e, "worker heartbeat failed");
                }
            }
        })
    };
    let cfg = WorkerConfig {
        worker_id: id.clone(),
        slots,
        lease_ms: st.engine.lease_ms,
        claim_wait_ms: 10_000,
        shutdown_grace: Duration::from_secs(5),
    };
    run_worker(
        Arc::new(LocalLeases(st.clone())),
        st.files.clone(),
        cfg,
        shutdown.clone(),
    )
    .await;
    let _ = shutdown.wait_for(|s| *s).await;
    let _ = beat.await;
    if let Err(e) = st.store.stop_worker(&id, app::now_millis()).await {
        tracing::warn!(error = %e, "worker stop not recorded");
    }
}
