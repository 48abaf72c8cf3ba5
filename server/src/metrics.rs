//! Prometheus metrics: HTTP traffic by matched route, plus queue, worker, SSE and database
//! figures read at scrape time (so every replica reports the shared queue's true state), and
//! what this process's own workers do ([`WorkerMetrics`], also served by `orchard worker
//! --metrics-addr`). Names follow Prometheus conventions: `orchard_` prefix, base units in
//! the name (`_seconds`), `_total` on counters, `_info` for constant labels.

use app::state::AppState;
use async_trait::async_trait;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use engine::jobs::runner::Leases;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use shared::error::{AppError, AppResult};
use shared::jobs::protocol::{
    BatchReply, ClaimRequest, CompleteBatch, FailRequest, HeartbeatReply, LeaseRef, LeasedTask,
    LogLines,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
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
    jobs_finished: IntCounterVec,
    /// Requests the access guard refused, by reason.
    pub refused: IntCounterVec,
    /// The in-process workers of this server.
    pub workers_local: Arc<WorkerMetrics>,
}

/// The phases job tasks run in (file-average: generate, map, reduce; no-op jobs: noop).
const PHASES: [&str; 4] = ["generate", "map", "reduce", "noop"];

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
        let build = build_info();
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
        // Series exist from the start (at zero), so rates and alerts see the first increase.
        for phase in PHASES {
            task_retries.with_label_values(&[phase]);
        }
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
            Opts::new(
                "orchard_db_pool_connections",
                "Database pool connections by state (in_use, idle)",
            ),
            &["state"],
        ));
        let jobs_finished = must(IntCounterVec::new(
            Opts::new(
                "orchard_jobs_finished_total",
                "Jobs that ended, by final state (succeeded, failed, cancelled)",
            ),
            &["state"],
        ));
        for state in ["succeeded", "failed", "cancelled"] {
            jobs_finished.with_label_values(&[state]);
        }
        let refused = must(IntCounterVec::new(
            Opts::new(
                "orchard_http_refused_total",
                "Requests refused by the access guard, by reason (path, anonymous, forbidden, \
                 token, undeclared, cross_site)",
            ),
            &["reason"],
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
            Box::new(jobs_finished.clone()),
            Box::new(refused.clone()),
        ] {
            must(registry.register(c));
        }
        let workers_local = WorkerMetrics::new(&registry);
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
            jobs_finished,
            refused,
            workers_local,
        })
    }

    /// Counts `n` jobs that ended in `state`.
    pub fn jobs_finished_by(&self, state: &str, n: u64) {
        if n > 0 {
            self.jobs_finished.with_label_values(&[state]).inc_by(n);
        }
    }

    /// Reads the live figures and renders the exposition text.
    pub async fn render(&self, st: &AppState) -> String {
        let now = engine::now_millis();
        if let Ok(q) = st.jobs.queue_stats(now).await {
            self.jobs.reset();
            for s in shared::jobs::model::JobState::ALL {
                self.jobs.with_label_values(&[s.as_str()]).set(0);
            }
            for (state, n) in q.jobs_by_state {
                self.jobs.with_label_values(&[&state]).set(n);
            }
            self.tasks.reset();
            for s in shared::jobs::model::TaskState::ALL {
                self.tasks.with_label_values(&[s.as_str()]).set(0);
            }
            for (state, n) in q.tasks_by_state {
                self.tasks.with_label_values(&[&state]).set(n);
            }
            self.oldest_ready.set(q.oldest_ready_age_ms as f64 / 1000.0);
        }
        if let Ok(ws) = st.fleet.list_workers(st.engine.health, now).await {
            for h in ["healthy", "late", "dead", "stopped"] {
                let n = ws.iter().filter(|w| w.health.as_str() == h).count();
                self.workers.with_label_values(&[h]).set(n as i64);
            }
        }
        self.sse_clients.set(st.events.subscribers() as i64);
        let (open, idle) = st.store.pool_usage();
        self.db_connections
            .with_label_values(&["in_use"])
            .set(open.saturating_sub(idle) as i64);
        self.db_connections
            .with_label_values(&["idle"])
            .set(idle as i64);
        encode(&self.registry)
    }
}

impl engine::state::EngineObserver for Metrics {
    fn task_completed(&self, phase: &str, seconds: f64) {
        self.task_duration
            .with_label_values(&[phase])
            .observe(seconds);
    }
    fn task_retried(&self, phase: &str) {
        self.task_retries.with_label_values(&[phase]).inc();
    }
    fn job_finished(&self, state: &str) {
        self.jobs_finished_by(state, 1);
    }
}

fn encode(registry: &Registry) -> String {
    let mut buf = Vec::new();
    let _ = TextEncoder::new().encode(&registry.gather(), &mut buf);
    String::from_utf8(buf).unwrap_or_default()
}

fn build_info() -> IntGaugeVec {
    let build = must(IntGaugeVec::new(
        Opts::new("orchard_build_info", "Build information; always 1"),
        &["version"],
    ));
    build.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
    build
}

/// What a process's workers do with their leases, seen from the worker side: in-process
/// workers report on the server's `/metrics`, `orchard worker` on its `--metrics-addr`.
pub struct WorkerMetrics {
    claimed: IntCounterVec,
    finished: IntCounterVec,
    duration: HistogramVec,
    running: IntGaugeVec,
    call_errors: IntCounterVec,
    call_duration: HistogramVec,
    info: IntGaugeVec,
    /// Leased tasks not yet reported, with when and in which phase they were claimed.
    in_flight: Mutex<HashMap<String, (String, Instant)>>,
}

/// The lease calls whose round trip is timed (a claim may wait for work on purpose).
const TIMED_CALLS: [&str; 4] = ["complete", "heartbeat", "fail", "release"];

/// How a leased task ended, as the worker reported it.
const OUTCOMES: [&str; 4] = ["completed", "failed", "released", "lease_lost"];

impl WorkerMetrics {
    pub fn new(registry: &Registry) -> Arc<Self> {
        let claimed = must(IntCounterVec::new(
            Opts::new(
                "orchard_worker_tasks_claimed_total",
                "Tasks this process's workers leased, by worker and phase",
            ),
            &["worker_id", "phase"],
        ));
        let finished = must(IntCounterVec::new(
            Opts::new(
                "orchard_worker_tasks_finished_total",
                "Leased tasks this process's workers finished, by worker, phase and outcome \
                 (completed, failed, released, lease_lost)",
            ),
            &["worker_id", "phase", "outcome"],
        ));
        let duration = must(HistogramVec::new(
            HistogramOpts::new(
                "orchard_worker_task_duration_seconds",
                "Time from lease to report of tasks run by this process's workers",
            )
            .buckets(vec![
                0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
            ]),
            &["phase", "outcome"],
        ));
        let running = must(IntGaugeVec::new(
            Opts::new(
                "orchard_worker_tasks_running",
                "Tasks this process's workers hold a lease on now",
            ),
            &["worker_id"],
        ));
        let call_errors = must(IntCounterVec::new(
            Opts::new(
                "orchard_worker_lease_call_errors_total",
                "Lease protocol calls that failed other than by losing the lease",
            ),
            &["call"],
        ));
        let call_duration = must(HistogramVec::new(
            HistogramOpts::new(
                "orchard_worker_lease_call_duration_seconds",
                "Round trip of this process's workers' lease calls: completion batches (each \
                 with the claim riding along), heartbeats, failures and releases; a claim's \
                 long poll is not timed",
            )
            .buckets(vec![
                0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                1.0, 2.5,
            ]),
            &["call"],
        ));
        let info = must(IntGaugeVec::new(
            Opts::new(
                "orchard_worker_info",
                "The workers of this process with their names; always 1 (join on worker_id)",
            ),
            &["worker_id", "name"],
        ));
        for call in ["claim", "heartbeat", "complete", "fail", "release"] {
            call_errors.with_label_values(&[call]);
        }
        for call in TIMED_CALLS {
            call_duration.with_label_values(&[call]);
        }
        for c in [
            Box::new(claimed.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(finished.clone()),
            Box::new(duration.clone()),
            Box::new(running.clone()),
            Box::new(call_errors.clone()),
            Box::new(call_duration.clone()),
            Box::new(info.clone()),
        ] {
            must(registry.register(c));
        }
        Arc::new(Self {
            claimed,
            finished,
            duration,
            running,
            call_errors,
            call_duration,
            info,
            in_flight: Mutex::new(HashMap::new()),
        })
    }

    /// A registry holding only the build info and these metrics, for `orchard worker`.
    pub fn standalone() -> (Registry, Arc<Self>) {
        let registry = Registry::new();
        must(registry.register(Box::new(build_info())));
        let m = Self::new(&registry);
        (registry, m)
    }

    /// Names a worker and makes its series visible (at zero) before its first task.
    pub fn worker_started(&self, worker_id: &str, name: &str) {
        self.info.with_label_values(&[worker_id, name]).set(1);
        self.running.with_label_values(&[worker_id]).set(0);
    }

    fn claimed(&self, worker_id: &str, tasks: &[LeasedTask]) {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        for t in tasks {
            self.claimed.with_label_values(&[worker_id, &t.phase]).inc();
            in_flight.insert(t.task_id.clone(), (t.phase.clone(), Instant::now()));
        }
        self.running
            .with_label_values(&[worker_id])
            .add(tasks.len() as i64);
    }

    fn finished(&self, worker_id: &str, task_id: &str, outcome: &str) {
        let entry = self
            .in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(task_id);
        // A task this process did not see leased (e.g. after a restart) is not counted.
        let Some((phase, since)) = entry else {
            return;
        };
        debug_assert!(OUTCOMES.contains(&outcome));
        self.finished
            .with_label_values(&[worker_id, &phase, outcome])
            .inc();
        self.duration
            .with_label_values(&[&phase, outcome])
            .observe(since.elapsed().as_secs_f64());
        self.running.with_label_values(&[worker_id]).dec();
    }

    /// Awaits a lease call, recording its round trip under `call`.
    async fn timed<T>(&self, call: &str, f: impl std::future::Future<Output = T>) -> T {
        let since = Instant::now();
        let out = f.await;
        self.call_duration
            .with_label_values(&[call])
            .observe(since.elapsed().as_secs_f64());
        out
    }

    /// Classifies a report's result: lost leases are an outcome, other errors are counted.
    fn reported(
        &self,
        call: &str,
        worker_id: &str,
        task_id: &str,
        outcome: &str,
        r: &AppResult<()>,
    ) {
        match r {
            Ok(()) => self.finished(worker_id, task_id, outcome),
            Err(AppError::Conflict(_)) | Err(AppError::NotFound(_)) => {
                self.finished(worker_id, task_id, "lease_lost")
            }
            // Not recorded: the worker moves on and the lease will expire.
            Err(_) => {
                self.call_errors.with_label_values(&[call]).inc();
                self.finished(worker_id, task_id, "lease_lost");
            }
        }
    }
}

/// Wraps a worker's lease protocol to record what its workers do in [`WorkerMetrics`].
pub struct MeteredLeases {
    pub inner: Arc<dyn Leases>,
    pub metrics: Arc<WorkerMetrics>,
}

#[async_trait]
impl Leases for MeteredLeases {
    fn server(&self) -> Option<&engine::state::Core> {
        self.inner.server()
    }
    async fn claim(&self, req: &ClaimRequest) -> AppResult<Vec<LeasedTask>> {
        let r = self.inner.claim(req).await;
        match &r {
            Ok(tasks) => self.metrics.claimed(&req.worker_id, tasks),
            Err(_) => self.metrics.call_errors.with_label_values(&["claim"]).inc(),
        }
        r
    }
    async fn heartbeat(&self, task_id: &str, lease: &LeaseRef) -> AppResult<HeartbeatReply> {
        let r = self
            .metrics
            .timed("heartbeat", self.inner.heartbeat(task_id, lease))
            .await;
        match &r {
            Ok(_) => {}
            // The worker drops the task without another call: it ends here.
            Err(AppError::Conflict(_)) | Err(AppError::NotFound(_)) => {
                self.metrics
                    .finished(&lease.worker_id, task_id, "lease_lost")
            }
            Err(_) => self
                .metrics
                .call_errors
                .with_label_values(&["heartbeat"])
                .inc(),
        }
        r
    }
    async fn complete_batch(&self, req: &CompleteBatch) -> AppResult<BatchReply> {
        let r = self
            .metrics
            .timed("complete", self.inner.complete_batch(req))
            .await;
        match &r {
            Ok(reply) => {
                for o in &reply.results {
                    let outcome = if o.ok { "completed" } else { "lease_lost" };
                    self.metrics.finished(&req.worker_id, &o.task_id, outcome);
                }
                self.metrics.claimed(&req.worker_id, &reply.tasks);
            }
            // The worker sends the batch again while the server may be restarting.
            Err(AppError::Unreachable(_)) | Err(AppError::Internal) => self
                .metrics
                .call_errors
                .with_label_values(&["complete"])
                .inc(),
            Err(_) => {
                self.metrics
                    .call_errors
                    .with_label_values(&["complete"])
                    .inc();
                for item in &req.items {
                    self.metrics
                        .finished(&req.worker_id, &item.task_id, "lease_lost");
                }
            }
        }
        r
    }
    async fn fail(&self, task_id: &str, req: &FailRequest) -> AppResult<()> {
        let r = self
            .metrics
            .timed("fail", self.inner.fail(task_id, req))
            .await;
        self.metrics
            .reported("fail", &req.worker_id, task_id, "failed", &r);
        r
    }
    async fn log(&self, task_id: &str, lines: &LogLines) -> AppResult<()> {
        self.metrics
            .timed("log", self.inner.log(task_id, lines))
            .await
    }
    async fn release(&self, task_id: &str, lease: &LeaseRef) -> AppResult<()> {
        let r = self
            .metrics
            .timed("release", self.inner.release(task_id, lease))
            .await;
        self.metrics
            .reported("release", &lease.worker_id, task_id, "released", &r);
        r
    }
}

/// `/metrics` for `orchard worker --metrics-addr`.
pub fn worker_router(registry: Registry) -> axum::Router {
    let registry = Arc::new(registry);
    axum::Router::new()
        .route(
            "/metrics",
            axum::routing::get(move || {
                let registry = registry.clone();
                async move {
                    (
                        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
                        encode(&registry),
                    )
                }
            }),
        )
        .route(
            "/healthz",
            axum::routing::get(|| async { axum::Json(serde_json::json!({ "status": "ok" })) }),
        )
}

/// Records every request under its matched route (never the raw path: ids would explode
/// the label set).
pub async fn track(State(m): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    // The build's files are one label: one per file (and per build) would grow without end.
    let route = if req.uri().path().starts_with("/v/") {
        "/v/*".to_string()
    } else {
        req.extensions()
            .get::<MatchedPath>()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "unmatched".into())
    };
    let method = method_label(req.method()).to_string();
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

/// A method as a metric label: the standard ones by name, anything else `other`, so a
/// client inventing methods cannot grow the label set.
fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

pub async fn handler(st: &AppState, m: &Metrics) -> impl IntoResponse + use<> {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        m.render(st).await,
    )
}
