//! Prometheus metrics: HTTP traffic by matched route, plus queue, worker, SSE and database
//! figures read at scrape time (so every replica reports the shared queue's true state).

use app::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use std::sync::Arc;
use std::time::Instant;

pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    pub lease_expiries: IntCounter,
    task_duration: HistogramVec,
    task_retries: IntCounterVec,
    pub lease_expiry_failures: IntCounter,
    jobs: IntGaugeVec,
    tasks: IntGaugeVec,
    oldest_ready: prometheus::Gauge,
    workers: IntGaugeVec,
    sse_clients: IntGauge,
    db_connections: IntGaugeVec,
}

fn must<T>(r: prometheus::Result<T>) -> T {
    // Metric definitions are static; a failure here is a programming error caught by tests.
    r.expect("valid metric definition")
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        let registry = Registry::new();
        let http_requests = must(IntCounterVec::new(
            Opts::new(
                "orchard_http_requests_total",
                "HTTP requests by matched route and status",
            ),
            &["method", "route", "status"],
        ));
        let http_duration = must(HistogramVec::new(
            HistogramOpts::new(
                "orchard_http_request_duration_seconds",
                "HTTP request duration",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0,
            ]),
            &["method", "route"],
        ));
        let build = must(IntGaugeVec::new(
            Opts::new("orchard_build_info", "Build information; always 1"),
            &["version"],
        ));
        build.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        let lease_expiries = must(IntCounter::new(
            "orchard_lease_expiries_total",
            "Task leases that expired and went back to the queue",
        ));
        let lease_expiry_failures = must(IntCounter::new(
            "orchard_lease_expiry_failures_total",
            "Task leases that expired on their last attempt, failing the task",
        ));
        let task_duration = must(HistogramVec::new(
            HistogramOpts::new(
                "orchard_job_task_duration_seconds",
                "Run time of completed job tasks, from lease to completion",
            )
            .buckets(vec![
                0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
            ]),
            &["phase"],
        ));
        let task_retries = must(IntCounterVec::new(
            Opts::new(
                "orchard_job_task_retries_total",
                "Failed job tasks sent back to the queue for another attempt",
            ),
            &["phase"],
        ));
        let jobs = must(IntGaugeVec::new(
            Opts::new("orchard_jobs", "Jobs by state"),
            &["state"],
        ));
        let tasks = must(IntGaugeVec::new(
            Opts::new("orchard_job_tasks", "Job tasks by state"),
            &["state"],
        ));
        let oldest_ready = must(prometheus::Gauge::new(
            "orchard_queue_oldest_ready_age_seconds",
            "Age of the oldest task waiting for a worker",
        ));
        let workers = must(IntGaugeVec::new(
            Opts::new("orchard_workers", "Workers by health"),
            &["health"],
        ));
        let sse_clients = must(IntGauge::new("orchard_sse_clients", "Open event streams"));
        let db_connections = must(IntGaugeVec::new(
            Opts::new("orchard_db_pool_connections", "Database pool connections"),
            &["state"],
        ));
        for c in [
            Box::new(http_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(http_duration.clone()),
            Box::new(build),
            Box::new(lease_expiries.clone()),
            Box::new(lease_expiry_failures.clone()),
            Box::new(task_duration.clone()),
            Box::new(task_retries.clone()),
            Box::new(jobs.clone()),
            Box::new(tasks.clone()),
            Box::new(oldest_ready.clone()),
            Box::new(workers.clone()),
            Box::new(sse_clients.clone()),
            Box::new(db_connections.clone()),
        ] {
            must(registry.register(c));
        }
        Arc::new(Self {
            registry,
            http_requests,
            http_duration,
            lease_expiries,
            lease_expiry_failures,
            task_duration,
            task_retries,
            jobs,
            tasks,
            oldest_ready,
            workers,
            sse_clients,
            db_connections,
        })
    }

    /// Reads the live figures and renders the exposition text.
    pub async fn render(&self, st: &AppState) -> String {
        let now = app::now_millis();
        if let Ok(q) = st.store.queue_stats(now).await {
            self.jobs.reset();
            for s in app::jobs::model::JobState::ALL {
                self.jobs.with_label_values(&[s.as_str()]).set(0);
            }
            for (state, n) in q.jobs_by_state {
                self.jobs.with_label_values(&[&state]).set(n);
            }
            self.tasks.reset();
            for s in app::jobs::model::TaskState::ALL {
                self.tasks.with_label_values(&[s.as_str()]).set(0);
            }
            for (state, n) in q.tasks_by_state {
                self.tasks.with_label_values(&[&state]).set(n);
            }
            self.oldest_ready.set(q.oldest_ready_age_ms as f64 / 1000.0);
        }
        if let Ok(ws) = st.store.list_workers(st.engine.health, now).await {
            for h in ["healthy", "late", "dead", "stopped"] {
                let n = ws.iter().filter(|w| w.health.as_str() == h).count();
                self.workers.with_label_values(&[h]).set(n as i64);
            }
        }
        self.sse_clients.set(st.events.subscribers() as i64);
        let (open, idle) = st.store.pool_usage();
        self.db_connections
            .with_label_values(&["open"])
            .set(open as i64);
        self.db_connections
            .with_label_values(&["idle"])
            .set(idle as i64);
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

impl app::state::EngineObserver for Metrics {
    fn task_completed(&self, phase: &str, seconds: f64) {
        self.task_duration
            .with_label_values(&[phase])
            .observe(seconds);
    }
    fn task_retried(&self, phase: &str) {
        self.task_retries.with_label_values(&[phase]).inc();
    }
}

/// Records every request under its matched route (never the raw path: ids would explode
/// the label set).
pub async fn track(State(m): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| {
            if req.uri().path().starts_with("/pkg/") {
                "/pkg/*".into()
            } else {
                "unmatched".into()
            }
        });
    let method = req.method().as_str().to_string();
    let start = Instant::now();
    let resp = next.run(req).await;
    m.http_duration
        .with_label_values(&[&method, &route])
        .observe(start.elapsed().as_secs_f64());
    m.http_requests
        .with_label_values(&[&method, &route, resp.status().as_str()])
        .inc();
    resp
}

pub async fn handler(State((st, m)): State<(AppState, Arc<Metrics>)>) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        m.render(&st).await,
    )
}
