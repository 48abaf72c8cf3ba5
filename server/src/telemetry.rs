//! Logging: human-readable by default, one JSON object per line with
//! `ORCHARD_LOG_FORMAT=json`; levels from `RUST_LOG`.
//!
//! Every request runs in a `request` span carrying `request_id`, and, once a handler knows
//! them, `job_id`, `task_id` and `worker_id` (recorded with the helpers below). Worker slots
//! run in a `worker` span with `worker_id`, each task in a `task` span with `job_id`. JSON
//! lines carry the current span's fields in `span` and every enclosing span in `spans`.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let json = std::env::var("ORCHARD_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    // A second init (tests spawn several servers in one process) is harmless.
    let _ = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(true)
            .try_init()
    } else {
        builder.try_init()
    };
}

/// Records the job a request acts on in the current request span.
pub fn record_job(job_id: &str) {
    tracing::Span::current().record("job_id", job_id);
}

/// Records the worker a request comes from in the current request span.
pub fn record_worker(worker_id: &str) {
    tracing::Span::current().record("worker_id", worker_id);
}

/// Records the task and the worker holding its lease in the current request span.
pub fn record_task(task_id: &str, worker_id: &str) {
    let span = tracing::Span::current();
    span.record("task_id", task_id);
    span.record("worker_id", worker_id);
}
