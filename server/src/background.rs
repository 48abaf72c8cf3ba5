//! Background loops of `orchard serve`: the lease reaper and the in-process worker pool.

use crate::metrics::Metrics;
use app::state::AppState;
use engine::events::Relayed;
use engine::jobs::runner::{LocalLeases, WorkerConfig, run_worker};
use engine::store::ChangeFeed;
use engine::store::NewWorker;
use shared::workers::model::WorkerKind;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Calls `beat` every `period` until `shutdown` turns true.
pub async fn every<F, Fut>(period: Duration, mut shutdown: watch::Receiver<bool>, mut beat: F)
where
    F: FnMut() -> Fut + Send,
    Fut: std::future::Future<Output = ()> + Send,
{
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped(&mut shutdown) => return,
        }
        beat().await;
    }
}

/// Resolves once shutdown has been signalled (holding no lock while it waits).
pub async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|s| *s).await;
}

/// Every second, returns expired leases to the queue (or fails them after their last
/// attempt). Safe to run in every replica: each expiry is re-checked under the job's lock.
pub async fn reaper(st: AppState, metrics: Arc<Metrics>, shutdown: watch::Receiver<bool>) {
    every(Duration::from_secs(1), shutdown, || {
        reap_once(&st, &metrics)
    })
    .await;
}

async fn reap_once(st: &AppState, metrics: &Metrics) {
    match st
        .jobs
        .reap_expired(st.engine.backoff, engine::now_millis())
        .await
    {
        Ok(r) if r.requeued + r.failed > 0 => {
            metrics.lease_expiries.inc_by(r.requeued);
            metrics.lease_expiry_failures.inc_by(r.failed);
            metrics.jobs_finished_by("failed", r.failed);
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

/// How long the relay gathers events before sending them.
const RELAY_WINDOW: Duration = Duration::from_millis(50);

/// Sends this replica's change events to the other replicas (Postgres `NOTIFY`). Events
/// are gathered for a moment and each distinct one is sent once: a busy job's stream of
/// progress events costs a notice per window, not one per batch of completions.
pub async fn relay_out(
    st: AppState,
    mut outgoing: mpsc::UnboundedReceiver<Relayed>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut open = true;
    while open {
        let first = tokio::select! {
            r = outgoing.recv() => match r { Some(r) => r, None => return },
            _ = shutdown.wait_for(|s| *s) => return,
        };
        let mut pending = vec![first];
        let until = tokio::time::Instant::now() + RELAY_WINDOW;
        loop {
            tokio::select! {
                r = tokio::time::timeout_at(until, outgoing.recv()) => match r {
                    Ok(Some(r)) => {
                        if !pending.contains(&r) {
                            pending.push(r);
                        }
                    }
                    Ok(None) => {
                        open = false;
                        break;
                    }
                    Err(_) => break,
                },
                _ = shutdown.wait_for(|s| *s) => return,
            }
        }
        for relayed in pending {
            let Ok(payload) = serde_json::to_string(&relayed) else {
                continue;
            };
            if let Err(e) = st.store.notify_change(&payload).await {
                tracing::warn!(error = %e, "change notice not relayed");
            }
        }
    }
}

/// Delivers other replicas' change events to this replica's event streams.
pub async fn relay_in(
    st: AppState,
    mut feed: Box<dyn ChangeFeed>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let received = tokio::select! {
            r = feed.recv() => r,
            _ = shutdown.wait_for(|s| *s) => return,
        };
        match received {
            Ok(payload) => match serde_json::from_str::<Relayed>(&payload) {
                Ok(relayed) => st.events.deliver(relayed),
                Err(e) => tracing::warn!(error = %e, "unreadable change notice"),
            },
            Err(e) => {
                tracing::warn!(error = %e, "change feed interrupted; reconnecting");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Registers this process as a worker and runs `slots` task loops until shutdown.
pub async fn in_process_workers(
    st: AppState,
    slots: usize,
    handlers: Arc<engine::jobs::handlers::Handlers>,
    metrics: Arc<crate::metrics::WorkerMetrics>,
    mut shutdown: watch::Receiver<bool>,
) {
    let host = gethostname::gethostname().to_string_lossy().to_string();
    let name = format!("in-process@{host}");
    let id = match st
        .fleet
        .register_worker(
            NewWorker {
                name: name.clone(),
                kind: WorkerKind::Inprocess,
                hostname: host,
                version: env!("CARGO_PKG_VERSION").to_string(),
                concurrency: slots as i64,
                secret_hash: None,
                handlers: handlers.names(),
            },
            engine::now_millis(),
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
        let (st, id) = (st.clone(), id.clone());
        tokio::spawn(every(Duration::from_secs(5), shutdown.clone(), move || {
            let (st, id) = (st.clone(), id.clone());
            async move {
                if let Err(e) = st.fleet.touch_worker(&id, engine::now_millis()).await {
                    tracing::warn!(error = %e, "worker heartbeat failed");
                }
            }
        }))
    };
    let cfg = WorkerConfig {
        worker_id: id.clone(),
        slots,
        lease_ms: st.engine.lease_ms,
        claim_wait_ms: 10_000,
        shutdown_grace: Duration::from_secs(5),
        kinds: Arc::new(engine::registry::Registry::builtin()),
        handlers,
    };
    metrics.worker_started(&id, &name);
    let leases = crate::metrics::MeteredLeases {
        inner: Arc::new(LocalLeases(st.core.clone())),
        metrics,
    };
    run_worker(Arc::new(leases), st.files.clone(), cfg, shutdown.clone()).await;
    let _ = shutdown.wait_for(|s| *s).await;
    let _ = beat.await;
    if let Err(e) = st.fleet.stop_worker(&id, engine::now_millis()).await {
        tracing::warn!(error = %e, "worker stop not recorded");
    }
}
