//! The process-monitor routes of the wpipe API (seed 002), at the server root so existing
//! wpipe clients report here unchanged: `/matricula`, `/healthchecker`, `/newprocess`,
//! `/actualizar_task`, `/endprocess` and the three dashboards. Wire shapes follow the
//! seed's published code; its bugs do not: health comes from the true heartbeat age,
//! durations are end − start, a process's outcome comes from its tasks and what its details
//! say, and no input produces a 500. Errors answer `{"detail": "…"}` as FastAPI did.

use crate::access::allow;
use crate::openapi::WPIPE;
use app::access::Access;
use app::accounts::service::{Caller, CallerKind};
use app::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use engine::store::fleet::EndOutcome;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use shared::error::AppError;
use shared::workers::fleet::{ProcessSummary, ProcessTask, StepState, details_report_error};
use shared::workers::model::Health;
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Most processes `/dashboard_process` lists for one worker (the newest ones).
const MAX_PROCESSES: i64 = 10_000;
/// Most task templates a worker may register.
const MAX_TEMPLATES: usize = 1_000;

/// The routes with their OpenAPI description (tag `wpipe`); the caller sets their body
/// limit. Every one needs a token with
/// the `wpipe` scope, as the wpipe client sends on every call; `public_dashboard` opens
/// `/dashboard_workers` to anyone (`ORCHARD_WPIPE_PUBLIC_DASHBOARD`).
pub fn router(public_dashboard: bool) -> OpenApiRouter<AppState> {
    let dashboard = if public_dashboard {
        Access::Public
    } else {
        Access::WpipeToken
    };
    OpenApiRouter::new()
        .routes(allow(Access::WpipeToken, routes!(register)))
        .routes(allow(Access::WpipeToken, routes!(healthcheck)))
        .routes(allow(Access::WpipeToken, routes!(new_process)))
        .routes(allow(Access::WpipeToken, routes!(update_task)))
        .routes(allow(Access::WpipeToken, routes!(end_process)))
        .routes(allow(Access::WpipeToken, routes!(dashboard_process)))
        .routes(allow(Access::WpipeToken, routes!(dashboard_tasks)))
        .routes(allow(dashboard, routes!(dashboard_workers)))
        .layer(Extension(Arc::new(DashboardCache::default())))
}

/// An error as FastAPI shaped it.
pub struct WpipeError(StatusCode, String);

impl IntoResponse for WpipeError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({ "detail": self.1 }))).into_response()
    }
}

impl From<AppError> for WpipeError {
    fn from(e: AppError) -> Self {
        let status = match &e {
            AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::Internal | AppError::Unreachable(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        WpipeError(status, e.to_string())
    }
}

impl From<engine::store::StoreError> for WpipeError {
    fn from(e: engine::store::StoreError) -> Self {
        AppError::from(e).into()
    }
}

type WResult<T> = Result<T, WpipeError>;

/// A JSON body, whatever its content type (the seed's clients do not all send one): bad
/// JSON is a 400, a body of the wrong shape a 422, both saying what was wrong.
pub struct Body<T>(T);

impl<S: Send + Sync, T: DeserializeOwned> axum::extract::FromRequest<S> for Body<T> {
    type Rejection = WpipeError;

    async fn from_request(req: Request, state: &S) -> Result<Self, WpipeError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            WpipeError(
                r.status(),
                format!("cannot read the body: {}", r.body_text()),
            )
        })?;
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| WpipeError(StatusCode::BAD_REQUEST, format!("invalid JSON: {e}")))?;
        serde_json::from_value(value).map(Body).map_err(|e| {
            WpipeError(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("invalid body: {e}"),
            )
        })
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
struct TaskTemplate {
    name: String,
    version: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
struct RegisterIn {
    name: String,
    version: String,
    tasks: Vec<TaskTemplate>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct IdOut {
    id: String,
}

fn check_text(what: &str, s: &str, max: usize) -> WResult<()> {
    if s.chars().count() > max {
        return Err(WpipeError(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{what} is longer than {max} characters"),
        ));
    }
    Ok(())
}

#[utoipa::path(post, path = "/matricula", tag = WPIPE, request_body = RegisterIn,
    responses(
        (status = 200, description = "The new worker's id", body = IdOut),
        (status = 401, description = "Missing or wrong token: `{\"detail\": \"Unauthorized\"}`"),
        (status = 400, description = "A body that is not JSON"),
        (status = 422, description = "A body of the wrong shape"),
    ))]
/// Registers a worker with its ordered task templates (`wpipe`'s `Pipeline.worker_register`).
async fn register(State(st): State<AppState>, Body(req): Body<RegisterIn>) -> WResult<Json<IdOut>> {
    let name = req.name.trim();
    if name.is_empty() {
        return Err(WpipeError(
            StatusCode::UNPROCESSABLE_ENTITY,
            "name must not be empty".into(),
        ));
    }
    check_text("name", name, 200)?;
    check_text("version", &req.version, 200)?;
    if req.tasks.len() > MAX_TEMPLATES {
        return Err(WpipeError(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("at most {MAX_TEMPLATES} tasks per worker"),
        ));
    }
    let mut templates = Vec::with_capacity(req.tasks.len());
    for (i, t) in req.tasks.into_iter().enumerate() {
        if t.name.trim().is_empty() {
            return Err(WpipeError(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("tasks[{i}].name must not be empty"),
            ));
        }
        check_text("task name", &t.name, 200)?;
        check_text("task version", &t.version, 200)?;
        templates.push((t.name, t.version));
    }
    let id = st
        .fleet
        .register_wpipe_worker(name, &req.version, &templates, engine::now_millis())
        .await?;
    tracing::info!(worker_id = %id, name, tasks = templates.len(), "wpipe worker registered");
    st.events.publish("worker", &id, "created");
    Ok(Json(IdOut { id }))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct IdIn {
    id: String,
}

#[derive(Serialize, utoipa::ToSchema)]
struct HealthOut {
    health: u8,
}

#[utoipa::path(post, path = "/healthchecker", tag = WPIPE, request_body = IdIn,
    responses(
        (status = 200, description = "1 when the worker was healthy as the heartbeat arrived", body = HealthOut),
        (status = 401, description = "Missing or wrong token: `{\"detail\": \"Unauthorized\"}`"),
        (status = 400, description = "A body that is not JSON"),
        (status = 422, description = "A body of the wrong shape"),
        (status = 404, description = "Unknown id"),
    ))]
/// Records the heartbeat; `health` says whether the worker was healthy when it arrived
/// (its previous sign of life younger than the late threshold), so a worker that had gone
/// quiet learns it.
async fn healthcheck(
    State(st): State<AppState>,
    Body(req): Body<IdIn>,
) -> WResult<Json<HealthOut>> {
    let now = engine::now_millis();
    let prev = st.fleet.beat(&req.id, now).await?;
    let health = st.engine.health.health(prev.last_seen_at, false, now);
    if health != Health::Healthy {
        // Its badge changes: tell the dashboards.
        st.events.publish("worker", &req.id, "updated");
    }
    Ok(Json(HealthOut {
        health: u8::from(health == Health::Healthy),
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
struct Son {
    name: String,
    id: String,
}

#[derive(Serialize, utoipa::ToSchema)]
struct NewProcessOut {
    father: String,
    sons: Vec<Son>,
}

#[utoipa::path(post, path = "/newprocess", tag = WPIPE, request_body = IdIn,
    responses(
        (status = 200, description = "The process and one pending task per registered task", body = NewProcessOut),
        (status = 401, description = "Missing or wrong token: `{\"detail\": \"Unauthorized\"}`"),
        (status = 400, description = "A body that is not JSON"),
        (status = 422, description = "A body of the wrong shape"),
        (status = 404, description = "Unknown id"),
    ))]
/// Starts a run of the worker's pipeline: one pending task per registered template, in order.
async fn new_process(
    State(st): State<AppState>,
    Body(req): Body<IdIn>,
) -> WResult<Json<NewProcessOut>> {
    let p = st.fleet.open_process(&req.id, engine::now_millis()).await?;
    st.events.publish("worker", &req.id, "updated");
    Ok(Json(NewProcessOut {
        father: p.id,
        sons: p
            .tasks
            .into_iter()
            .map(|(name, id)| Son { name, id })
            .collect(),
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct TaskUpdateIn {
    task_id: String,
    status: String,
    #[serde(default)]
    details: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct StatusOk {
    status: &'static str,
}

#[utoipa::path(post, path = "/actualizar_task", tag = WPIPE, request_body = TaskUpdateIn,
    responses(
        (status = 200, description = "Recorded", body = StatusOk),
        (status = 401, description = "Missing or wrong token: `{\"detail\": \"Unauthorized\"}`"),
        (status = 400, description = "A body that is not JSON"),
        (status = 422, description = "A body of the wrong shape"),
        (status = 404, description = "Unknown id"),
    ))]
/// Moves a task: `start` → running, `success`, `error` (with the details kept readable).
async fn update_task(
    State(st): State<AppState>,
    Body(req): Body<TaskUpdateIn>,
) -> WResult<Json<StatusOk>> {
    let state = match req.status.as_str() {
        "start" => StepState::Running,
        "success" => StepState::Success,
        "error" => StepState::Error,
        other => {
            return Err(WpipeError(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("status must be one of start, success, error (got {other:?})"),
            ));
        }
    };
    let details: Option<String> = req
        .details
        .filter(|d| !d.is_empty())
        .map(|d| d.chars().take(20_000).collect());
    let touched = st
        .fleet
        .update_process_task(
            &req.task_id,
            state,
            details.as_deref(),
            engine::now_millis(),
        )
        .await?;
    st.events.publish("worker", &touched.worker_id, "updated");
    Ok(Json(StatusOk { status: "ok" }))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct EndIn {
    id: String,
    #[serde(default)]
    details: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct EndOut {
    status: bool,
}

#[utoipa::path(post, path = "/endprocess", tag = WPIPE, request_body = EndIn,
    responses(
        (status = 200, description = "true when it ended now, false when it had already ended", body = EndOut),
        (status = 401, description = "Missing or wrong token: `{\"detail\": \"Unauthorized\"}`"),
        (status = 400, description = "A body that is not JSON"),
        (status = 422, description = "A body of the wrong shape"),
        (status = 404, description = "Unknown id"),
    ))]
/// Ends a process: `error` when any of its tasks failed or its details report an error,
/// else `success`. `{"status": false}` when it had already ended (nothing changes).
async fn end_process(State(st): State<AppState>, Body(req): Body<EndIn>) -> WResult<Json<EndOut>> {
    let details: Option<String> = req.details.map(|d| d.chars().take(20_000).collect());
    let out = st
        .fleet
        .end_process(
            &req.id,
            details.as_deref(),
            details_report_error(details.as_deref()),
            engine::now_millis(),
        )
        .await?;
    Ok(Json(EndOut {
        status: match out {
            EndOutcome::Ended { worker_id, status } => {
                tracing::info!(process_id = %req.id, status = status.as_str(), "process ended");
                st.events.publish("worker", &worker_id, "updated");
                true
            }
            EndOutcome::AlreadyEnded => false,
        },
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
struct WorkerRow {
    id: String,
    /// `online` when the last heartbeat is within the late threshold, else `ofline` (the
    /// original server's spelling, which its clients compare against).
    status: &'static str,
    /// Orchard's finer health: `healthy`, `late`, `dead` or `stopped`.
    orchard_health: &'static str,
    processed: i64,
    active: i64,
    successed: i64,
    failed: i64,
    load_average: String,
}

#[utoipa::path(get, path = "/dashboard_workers", tag = WPIPE,
    responses(
        (status = 200, description = "Every worker with health and process counts", body = Vec<WorkerRow>),
    ))]
/// Every worker: `status` as the original server answered it (`online` / `ofline`), Orchard's
/// own health in `orchard_health`, process counts and the mean process duration in seconds
/// (`"NA"` before any process ended). Anonymous readers (with
/// `ORCHARD_WPIPE_PUBLIC_DASHBOARD`) share one answer for a second; token holders always get
/// a fresh one.
async fn dashboard_workers(
    State(st): State<AppState>,
    Extension(cache): Extension<Arc<DashboardCache>>,
    Extension(caller): Extension<Caller>,
) -> WResult<Response> {
    let anonymous = matches!(caller.kind, CallerKind::Anonymous);
    if anonymous && let Some(body) = cache.fresh() {
        return Ok(json_bytes(body));
    }
    let fleet = st
        .fleet
        .fleet(st.engine.health, engine::now_millis())
        .await?;
    let rows: Vec<WorkerRow> = fleet
        .into_iter()
        .map(|f| WorkerRow {
            load_average: f
                .avg_process_ms
                .map(|ms| format!("{:?}", ms as f64 / 1000.0))
                .unwrap_or_else(|| "NA".into()),
            id: f.worker.id,
            status: if f.worker.health == Health::Healthy {
                "online"
            } else {
                "ofline"
            },
            orchard_health: f.worker.health.as_str(),
            processed: f.processes,
            active: f.running,
            successed: f.succeeded,
            failed: f.failed,
        })
        .collect();
    let body = Bytes::from(serde_json::to_vec(&rows).unwrap_or_default());
    if anonymous {
        cache.keep(body.clone());
    }
    Ok(json_bytes(body))
}

fn json_bytes(body: Bytes) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// The last answer given to an anonymous reader, kept for [`DASHBOARD_CACHE`].
#[derive(Default)]
pub struct DashboardCache(std::sync::Mutex<Option<(std::time::Instant, Bytes)>>);

/// How long anonymous readers of `/dashboard_workers` share one answer.
const DASHBOARD_CACHE: std::time::Duration = std::time::Duration::from_secs(1);

impl DashboardCache {
    fn fresh(&self) -> Option<Bytes> {
        let g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        g.as_ref()
            .filter(|(at, _)| at.elapsed() < DASHBOARD_CACHE)
            .map(|(_, b)| b.clone())
    }

    fn keep(&self, body: Bytes) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some((std::time::Instant::now(), body));
    }
}

#[derive(Serialize, utoipa::ToSchema)]
struct ProcessRow {
    id: String,
    worker: String,
    step: String,
    status: &'static str,
    last_update: Option<String>,
    progress: String,
}

impl From<ProcessSummary> for ProcessRow {
    fn from(p: ProcessSummary) -> Self {
        ProcessRow {
            progress: format!("{}%", p.percent()),
            id: p.id,
            worker: p.worker_name,
            step: p.step.unwrap_or_default(),
            status: p.status.as_str(),
            last_update: p.last_update.map(iso8601),
        }
    }
}

#[utoipa::path(get, path = "/dashboard_process/{id}", tag = WPIPE, params(("id" = String, Path, description = "Worker id")),
    responses(
        (status = 200, description = "The worker's processes, newest first", body = Vec<ProcessRow>),
        (status = 401, description = "Missing or wrong token: `{\"detail\": \"Unauthorized\"}`"),
        (status = 404, description = "Unknown id"),
    ))]
/// A worker's processes: status, the most recently updated step and its time, progress.
async fn dashboard_process(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> WResult<Json<Vec<ProcessRow>>> {
    let ps = st.fleet.worker_processes(&id, MAX_PROCESSES).await?;
    Ok(Json(ps.into_iter().map(ProcessRow::from).collect()))
}

#[derive(Serialize, utoipa::ToSchema)]
struct TaskRow {
    id: String,
    name: String,
    version: String,
    state: &'static str,
    received: String,
    started: Option<String>,
    runtime: String,
    father: String,
    details: Option<String>,
    step: String,
}

fn task_row(t: ProcessTask, total: usize, now: i64) -> TaskRow {
    TaskRow {
        runtime: iso_duration(t.runtime_ms(now)),
        step: format!("{}/{total}", t.seq),
        id: t.id,
        name: t.name,
        version: t.version,
        state: t.state.as_str(),
        received: iso8601(t.received_at),
        started: t.started_at.map(iso8601),
        father: t.process_id,
        details: t.details,
    }
}

#[utoipa::path(get, path = "/dashboard_tasks/{id}", tag = WPIPE, params(("id" = String, Path, description = "Process id")),
    responses(
        (status = 200, description = "The process's tasks in registration order", body = Vec<TaskRow>),
        (status = 401, description = "Missing or wrong token: `{\"detail\": \"Unauthorized\"}`"),
        (status = 404, description = "Unknown id"),
    ))]
/// A process's tasks: state, times, runtime (ISO 8601 duration) and details.
async fn dashboard_tasks(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> WResult<Json<Vec<TaskRow>>> {
    let d = st.fleet.process_detail(&id).await?;
    let now = engine::now_millis();
    let total = d.tasks.len();
    Ok(Json(
        d.tasks
            .into_iter()
            .map(|t| task_row(t, total, now))
            .collect(),
    ))
}

pub use shared::format::iso8601;

/// `PT1.5S`: a duration in seconds, ISO 8601.
pub fn iso_duration(ms: i64) -> String {
    let ms = ms.max(0);
    let (s, frac) = (ms / 1000, ms % 1000);
    if frac == 0 {
        format!("PT{s}S")
    } else {
        let f = format!("{frac:03}");
        format!("PT{s}.{}S", f.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_iso_8601() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_726_230_896_789), "2024-09-13T12:34:56.789Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso_duration(1_500), "PT1.5S");
        assert_eq!(iso_duration(0), "PT0S");
        assert_eq!(iso_duration(125_050), "PT125.05S");
        assert_eq!(iso_duration(-5), "PT0S");
    }
}
