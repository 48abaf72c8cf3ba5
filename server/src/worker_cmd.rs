//! `orchard worker`: registers with a server, leases tasks over REST (long-poll), runs them,
//! heartbeats, and on SIGTERM/SIGINT finishes what it can within the grace period and
//! releases the rest.

use crate::config::WorkerSettings;
use engine::jobs::runner::{WorkerConfig, run_worker};
use shared::jobs::protocol::RegisterWorker;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

pub async fn run(s: WorkerSettings) -> Result<(), String> {
    let handlers = crate::config::load_handlers(&s.handler, s.handlers.as_deref(), None)?;
    if !handlers.is_empty() {
        tracing::info!(handlers = ?handlers.names(), "offering handlers");
    }
    let client = s.conn.client()?;
    let (registry, metrics) = crate::metrics::WorkerMetrics::standalone();
    // Bound before registering, so a wrong address fails at once.
    let metrics_server = match s.metrics_addr {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| format!("cannot listen on {addr} for metrics: {e}"))?;
            let local = listener
                .local_addr()
                .map_err(|e| format!("no local address: {e}"))?;
            tracing::info!(addr = %local, "worker metrics at http://{local}/metrics");
            let app = crate::metrics::worker_router(registry);
            Some(tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, app).await {
                    tracing::error!(error = %e, "metrics server stopped");
                }
            }))
        }
        None => None,
    };
    let leases = Arc::new(client.clone());
    let files: Arc<dyn engine::files::FileStore> = if s.files.is_empty() {
        leases.clone()
    } else {
        engine::files::open(&s.files, std::path::Path::new("."))
            .map_err(|e| format!("cannot open the file store: {e}"))?
    };
    tracing::info!(files = %files.describe(), "job files");
    let host = gethostname::gethostname().to_string_lossy().to_string();
    let req = RegisterWorker {
        name: s.name.clone().unwrap_or_else(|| format!("worker@{host}")),
        hostname: host,
        version: env!("CARGO_PKG_VERSION").to_string(),
        concurrency: s.concurrency as i64,
        handlers: handlers.names(),
    };
    // The server may still be starting: keep trying for a while.
    let mut delay = Duration::from_millis(250);
    let registered = loop {
        match client.register(&req).await {
            Ok(r) => break r,
            Err(e @ shared::error::AppError::Invalid(_)) => {
                return Err(format!("registration refused: {e}"));
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot register yet; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
        }
    };
    let id = registered.worker_id.clone();
    tracing::info!(worker_id = %id, server = %s.conn.server, concurrency = s.concurrency, "worker registered");
    metrics.worker_started(&id, &req.name);
    let (tx, rx) = watch::channel(false);
    let beat = {
        let (client, id) = (client.clone(), id.clone());
        tokio::spawn(crate::background::every(
            Duration::from_secs(5),
            rx.clone(),
            move || {
                let (client, id) = (client.clone(), id.clone());
                async move {
                    if let Err(e) = client.worker_heartbeat(&id).await {
                        tracing::warn!(error = %e, "heartbeat failed");
                    }
                }
            },
        ))
    };
    let signal = tokio::spawn(async move {
        crate::serve::wait_for_signal().await;
        tracing::info!("stopping: finishing or releasing running tasks");
        let _ = tx.send(true);
    });
    let cfg = WorkerConfig {
        worker_id: id.clone(),
        slots: s.concurrency as usize,
        lease_ms: registered.lease_ms,
        claim_wait_ms: 20_000,
        shutdown_grace: Duration::from_secs(s.shutdown_grace_secs),
        kinds: Arc::new(engine::registry::Registry::builtin()),
        handlers: Arc::new(handlers),
    };
    let metered = Arc::new(crate::metrics::MeteredLeases {
        inner: leases,
        metrics,
    });
    run_worker(metered, files, cfg, rx).await;
    signal.abort();
    let _ = beat.await;
    if let Err(e) = client.stop(&id).await {
        tracing::warn!(error = %e, "could not record the stop");
    }
    tracing::info!("worker stopped");
    if let Some(m) = metrics_server {
        m.abort();
    }
    Ok(())
}
