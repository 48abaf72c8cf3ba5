//! The fleet part of the store: the process monitor (wpipe workers, their processes and
//! steps) and the processes derived from Orchard's own workers' job tasks. The trait's
//! required methods are each backend's (`sqlite.rs`, `postgres.rs`, with the SQL of
//! `sql.rs`): the writes, each one transaction, and plain row reads. The pages' views of the
//! fleet are built from those rows once, here, as the trait's provided methods.

mod postgres;
mod sql;
mod sqlite;

use super::NewWorker;
use super::{StoreError, StoreResult};
use crate::Millis;
use crate::workers::fleet::{
    FleetWorker, ProcessDetail, ProcessStatus, ProcessSummary, ProcessTask, SPARK_MINUTES,
    StepState,
};
use crate::workers::model::{Health, HealthThresholds, Worker, WorkerKind};
use async_trait::async_trait;
use std::collections::HashMap;

/// Separates the job and the worker in the id of an Orchard worker's process
/// (`<job id>.<worker id>`); wpipe process ids never contain it.
pub const JOB_PROCESS_SEP: char = '.';

/// What a heartbeat found before recording itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreviousBeat {
    /// The previous sign of life; 0 when the worker had stopped.
    pub last_seen_at: Millis,
}

/// A process just opened: its id and its tasks' (name, id), in order.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenedProcess {
    pub id: String,
    pub tasks: Vec<(String, String)>,
}

/// What a task update touched.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskTouched {
    pub process_id: String,
    pub worker_id: String,
}

/// How an end-of-process report went.
#[derive(Debug, Clone, PartialEq)]
pub enum EndOutcome {
    /// Ended now, with this status, for this worker.
    Ended {
        worker_id: String,
        status: crate::workers::fleet::ProcessStatus,
    },
    /// It had already ended; nothing changed.
    AlreadyEnded,
}

#[async_trait]
pub trait FleetStore: Send + Sync {
    /// Records a wpipe worker and its ordered task templates.
    async fn register_wpipe_worker(
        &self,
        name: &str,
        version: &str,
        templates: &[(String, String)],
        now: Millis,
    ) -> StoreResult<String>;
    /// Records a heartbeat and returns the one before it; `NotFound` for an unknown worker.
    async fn beat(&self, worker_id: &str, now: Millis) -> StoreResult<PreviousBeat>;
    /// Opens a process of a wpipe worker with one pending task per template.
    async fn open_process(&self, worker_id: &str, now: Millis) -> StoreResult<OpenedProcess>;
    /// Moves a process task to `state`, keeping `details` when given.
    async fn update_process_task(
        &self,
        task_id: &str,
        state: StepState,
        details: Option<&str>,
        now: Millis,
    ) -> StoreResult<TaskTouched>;
    /// Ends a process: `error` when a task failed or `details_error`, else `success`.
    async fn end_process(
        &self,
        process_id: &str,
        details: Option<&str>,
        details_error: bool,
        now: Millis,
    ) -> StoreResult<EndOutcome>;
    /// Removes a dead or stopped worker with its processes; `Conflict` while it is alive.
    async fn remove_worker(
        &self,
        worker_id: &str,
        health: HealthThresholds,
        now: Millis,
    ) -> StoreResult<()>;

    /// Records one of Orchard's own workers (in-process or remote); its id.
    async fn register_worker(&self, w: NewWorker, now: Millis) -> StoreResult<String>;
    /// Every handler offered by a worker seen since `since` and not stopped.
    async fn offered_handlers(
        &self,
        since: Millis,
    ) -> StoreResult<std::collections::BTreeSet<String>>;
    /// The hash of a worker's secret: `None` for no such worker, `Some(None)` for a worker
    /// registered without one.
    async fn worker_secret_hash(&self, id: &str) -> StoreResult<Option<Option<String>>>;
    /// Records a sign of life; `NotFound` for an unknown worker.
    async fn touch_worker(&self, id: &str, now: Millis) -> StoreResult<()>;
    async fn stop_worker(&self, id: &str, now: Millis) -> StoreResult<()>;
    /// Rows: every worker listed (stopped ones for an hour).
    async fn worker_rows(&self, now: Millis) -> StoreResult<Vec<WorkerRow>>;

    /// Every worker, as listed on the workers page.
    async fn list_workers(
        &self,
        health: HealthThresholds,
        now: Millis,
    ) -> StoreResult<Vec<Worker>> {
        self.worker_rows(now)
            .await?
            .into_iter()
            .map(|r| r.into_worker(health, now))
            .collect()
    }
    /// Rows: wpipe processes counted by worker and status.
    async fn process_counts(&self) -> StoreResult<Vec<ProcessCountRow>>;
    /// Rows: running wpipe steps and leased job tasks, each oldest first.
    async fn current_steps(&self) -> StoreResult<(Vec<StepRow>, Vec<LeasedStepRow>)>;
    /// Rows: steps and job tasks finished per worker and minute since `since`.
    async fn finished_per_minute(&self, since: Millis) -> StoreResult<Vec<MinuteRow>>;
    /// A worker's name and kind; `NotFound` for an unknown worker.
    async fn worker_name_kind(&self, worker_id: &str) -> StoreResult<(String, String)>;
    /// Rows: a wpipe worker's newest processes (at most `limit`), newest first.
    async fn process_rows(&self, worker_id: &str, limit: i64) -> StoreResult<Vec<ProcessRow>>;
    /// Rows: the steps of a worker's processes started at or after `since`.
    async fn process_step_rows(&self, worker_id: &str, since: Millis) -> StoreResult<Vec<TaskRow>>;
    async fn process_row(&self, process_id: &str) -> StoreResult<Option<ProcessRow>>;
    /// Rows: one process's steps in order.
    async fn step_rows(&self, process_id: &str) -> StoreResult<Vec<TaskRow>>;
    /// Rows: the processes of Orchard's own workers, for one worker or all.
    async fn job_process_rows(&self, worker_id: Option<&str>) -> StoreResult<Vec<JobProcessRow>>;
    /// Rows: a worker's tasks of one job.
    async fn job_step_rows(&self, job_id: &str, worker_id: &str) -> StoreResult<Vec<JobStepRow>>;

    /// Every listed worker with its process counts, current task and recent throughput.
    async fn fleet(&self, health: HealthThresholds, now: Millis) -> StoreResult<Vec<FleetWorker>> {
        let workers = self.list_workers(health, now).await?;
        let mut counts: HashMap<String, Counts> = HashMap::new();
        for r in self.process_counts().await? {
            let c = counts.entry(r.worker_id).or_default();
            c.processes += r.n;
            match r.status.as_str() {
                "running" => c.running += r.n,
                "success" => c.succeeded += r.n,
                _ => c.failed += r.n,
            }
            c.ended += r.ended;
            c.ended_ms += r.ended_ms;
        }
        for p in self.job_processes(None).await? {
            let c = counts.entry(p.worker_id.clone()).or_default();
            c.processes += 1;
            match p.status {
                ProcessStatus::Running => c.running += 1,
                ProcessStatus::Success => c.succeeded += 1,
                // A job whose input was wrong failed, but not because of this worker: it
                // counts neither way in the worker's success rate.
                ProcessStatus::Error if p.input_fault => {}
                ProcessStatus::Error => c.failed += 1,
            }
            if let Some(end) = p.ended_at {
                c.ended += 1;
                c.ended_ms += end - p.started_at;
            }
        }
        let (running, leased) = self.current_steps().await?;
        let mut current: HashMap<String, String> = HashMap::new();
        for s in running {
            current.insert(s.worker_id, s.name);
        }
        for s in leased {
            current.insert(s.worker_id, format!("{} #{}", s.phase, s.seq));
        }
        let first_minute = now / 60_000 - (SPARK_MINUTES - 1);
        let mut spark: HashMap<String, Vec<i64>> = HashMap::new();
        for m in self.finished_per_minute(first_minute * 60_000).await? {
            let i = m.minute - first_minute;
            if (0..SPARK_MINUTES).contains(&i) {
                spark
                    .entry(m.worker_id)
                    .or_insert_with(|| vec![0; SPARK_MINUTES as usize])[i as usize] += m.n;
            }
        }
        Ok(workers
            .into_iter()
            .map(|w| {
                let c = counts.remove(&w.id).unwrap_or_default();
                FleetWorker {
                    processes: c.processes,
                    running: c.running,
                    succeeded: c.succeeded,
                    failed: c.failed,
                    avg_process_ms: (c.ended > 0).then(|| c.ended_ms / c.ended),
                    current_task: current.get(&w.id).cloned(),
                    tasks_per_min: spark
                        .remove(&w.id)
                        .unwrap_or_else(|| vec![0; SPARK_MINUTES as usize]),
                    worker: w,
                }
            })
            .collect())
    }

    /// A worker's processes, oldest first (at most `limit`, the newest ones).
    async fn worker_processes(
        &self,
        worker_id: &str,
        limit: i64,
    ) -> StoreResult<Vec<ProcessSummary>> {
        let (name, kind) = self.worker_name_kind(worker_id).await?;
        if kind != "wpipe" {
            let mut ps = self.job_processes(Some(worker_id)).await?;
            let skip = ps.len().saturating_sub(limit.max(0) as usize);
            ps.drain(..skip);
            for p in &mut ps {
                p.worker_name = name.clone();
            }
            return Ok(ps);
        }
        let rows = self.process_rows(worker_id, limit).await?;
        // Every listed process's steps in one query, not one per process.
        let since = rows.last().map(|r| r.started_at).unwrap_or_default();
        let mut steps: HashMap<String, Vec<ProcessTask>> = HashMap::new();
        for t in self.process_step_rows(worker_id, since).await? {
            let t: ProcessTask = t.try_into()?;
            steps.entry(t.process_id.clone()).or_default().push(t);
        }
        rows.into_iter()
            .rev()
            .map(|r| {
                let ts = steps.remove(&r.id).unwrap_or_default();
                summarize(r, worker_id, &name, &ts)
            })
            .collect()
    }

    /// A process and its tasks in order.
    async fn process_detail(&self, process_id: &str) -> StoreResult<ProcessDetail> {
        if let Some((job_id, worker_id)) = process_id.split_once(JOB_PROCESS_SEP) {
            return self.job_process_detail(process_id, job_id, worker_id).await;
        }
        let r = self
            .process_row(process_id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("process {process_id}")))?;
        let worker_id = r.worker_id.clone();
        let (name, _) = self.worker_name_kind(&worker_id).await?;
        let tasks = self
            .step_rows(process_id)
            .await?
            .into_iter()
            .map(TryInto::try_into)
            .collect::<StoreResult<Vec<ProcessTask>>>()?;
        Ok(ProcessDetail {
            process: summarize(r, &worker_id, &name, &tasks)?,
            tasks,
        })
    }

    /// The processes of Orchard's own workers (one per worker and job it took part in),
    /// derived from the job tasks they ran; for one worker or all of them.
    async fn job_processes(&self, worker_id: Option<&str>) -> StoreResult<Vec<ProcessSummary>> {
        Ok(self
            .job_process_rows(worker_id)
            .await?
            .into_iter()
            .map(JobProcessRow::summary)
            .collect())
    }

    /// One of Orchard's own workers' processes: its job tasks as steps.
    async fn job_process_detail(
        &self,
        process_id: &str,
        job_id: &str,
        worker_id: &str,
    ) -> StoreResult<ProcessDetail> {
        let not_found = || StoreError::NotFound(format!("process {process_id}"));
        let (name, _) = self
            .worker_name_kind(worker_id)
            .await
            .map_err(|_| not_found())?;
        let mut process = self
            .job_processes(Some(worker_id))
            .await?
            .into_iter()
            .find(|p| p.id == process_id)
            .ok_or_else(not_found)?;
        process.worker_name = name;
        let tasks = self
            .job_step_rows(job_id, worker_id)
            .await?
            .into_iter()
            .enumerate()
            .map(|(i, r)| r.into_step(process_id, i))
            .collect();
        Ok(ProcessDetail { process, tasks })
    }
}

/// A worker's processes counted (wpipe and job processes alike).
#[derive(Default, Clone, Copy)]
struct Counts {
    processes: i64,
    running: i64,
    succeeded: i64,
    failed: i64,
    ended: i64,
    ended_ms: i64,
}

/// A worker as stored, with its leased tasks counted.
#[derive(Debug, sqlx::FromRow)]
pub struct WorkerRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub hostname: String,
    pub version: String,
    pub concurrency: i64,
    pub registered_at: i64,
    pub last_seen_at: i64,
    pub stopped_at: Option<i64>,
    pub active: i64,
    pub tasks_done: i64,
    pub handlers: Option<String>,
}

impl WorkerRow {
    fn into_worker(self, health: HealthThresholds, now: Millis) -> StoreResult<Worker> {
        Ok(Worker {
            kind: WorkerKind::parse(&self.kind)
                .ok_or_else(|| StoreError::Corrupt(format!("worker kind {}", self.kind)))?,
            health: health.health(self.last_seen_at, self.stopped_at.is_some(), now),
            id: self.id,
            name: self.name,
            hostname: self.hostname,
            version: self.version,
            concurrency: self.concurrency,
            registered_at: self.registered_at,
            last_seen_at: self.last_seen_at,
            stopped_at: self.stopped_at,
            active: self.active,
            tasks_done: self.tasks_done,
            handlers: handler_union(self.handlers.into_iter().collect())
                .into_iter()
                .collect(),
        })
    }
}

fn no_worker(id: &str) -> StoreError {
    StoreError::NotFound(format!("worker {id}"))
}

/// How long a stopped worker stays listed.
const STOPPED_LISTED_MS: i64 = 3_600_000;

/// A wpipe worker's processes of one status.
#[derive(Debug, sqlx::FromRow)]
pub struct ProcessCountRow {
    pub worker_id: String,
    pub status: String,
    pub n: i64,
    pub ended: i64,
    pub ended_ms: i64,
}

/// A running wpipe step.
#[derive(Debug, sqlx::FromRow)]
pub struct StepRow {
    pub worker_id: String,
    pub name: String,
}

/// A leased job task.
#[derive(Debug, sqlx::FromRow)]
pub struct LeasedStepRow {
    pub worker_id: String,
    pub phase: String,
    pub seq: i64,
}

/// Steps or tasks one worker finished in one minute.
#[derive(Debug, sqlx::FromRow)]
pub struct MinuteRow {
    pub worker_id: String,
    pub minute: i64,
    pub n: i64,
}

/// One of a worker's tasks of a job, as a step of its job process.
#[derive(Debug, sqlx::FromRow)]
pub struct JobStepRow {
    pub id: String,
    pub phase: String,
    pub seq: i64,
    pub state: String,
    pub last_error: Option<String>,
    pub ready_at: Option<i64>,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

impl JobStepRow {
    fn into_step(self, process_id: &str, index: usize) -> ProcessTask {
        let state = match self.state.as_str() {
            "leased" => StepState::Running,
            "done" => StepState::Success,
            _ => StepState::Error,
        };
        ProcessTask {
            id: self.id,
            process_id: process_id.to_string(),
            seq: index as i64 + 1,
            name: format!("{} #{}", self.phase, self.seq),
            version: env!("CARGO_PKG_VERSION").to_string(),
            details: if state == StepState::Error {
                self.last_error
            } else {
                None
            },
            received_at: self.ready_at.or(self.started_at).unwrap_or_default(),
            started_at: self.started_at,
            finished_at: self.finished_at,
            updated_at: self.finished_at.or(self.started_at),
            state,
        }
    }
}

/// Whether a wpipe worker may open a process: `NotFound` for none, `Conflict` for one of
/// Orchard's own (whose processes are its jobs).
fn check_wpipe(worker_id: &str, kind: Option<&str>) -> StoreResult<()> {
    match kind {
        None => Err(StoreError::NotFound(format!("worker {worker_id}"))),
        Some("wpipe") => Ok(()),
        Some(other) => Err(StoreError::Conflict(format!(
            "worker {worker_id} is an Orchard {other} worker: its processes are its jobs"
        ))),
    }
}

/// A worker may be removed only once dead or stopped.
fn check_removable(
    worker_id: &str,
    seen: Option<(i64, Option<i64>)>,
    health: HealthThresholds,
    now: Millis,
) -> StoreResult<()> {
    let Some((seen, stopped)) = seen else {
        return Err(StoreError::NotFound(format!("worker {worker_id}")));
    };
    let h = health.health(seen, stopped.is_some(), now);
    if !matches!(h, Health::Dead | Health::Stopped) {
        return Err(StoreError::Conflict(format!(
            "worker {worker_id} is {}: only dead or stopped workers can be removed",
            h.as_str()
        )));
    }
    Ok(())
}

/// How a process ends: an error when a step failed or its details say so.
fn ending(failed_steps: i64, details_error: bool) -> ProcessStatus {
    if failed_steps > 0 || details_error {
        ProcessStatus::Error
    } else {
        ProcessStatus::Success
    }
}

/// The statement that moves a step to `state`.
fn step_update(state: StepState) -> &'static str {
    if state == StepState::Running {
        sql::TASK_STARTED
    } else {
        sql::TASK_ENDED
    }
}

fn new_worker_id() -> String {
    format!("worker_{}", uuid::Uuid::now_v7())
}

fn new_process_id() -> String {
    format!("process_{}", uuid::Uuid::now_v7())
}

fn new_step_id() -> String {
    format!("task_{}", uuid::Uuid::new_v4())
}

#[derive(sqlx::FromRow)]
pub struct ProcessRow {
    pub id: String,
    pub worker_id: String,
    pub status: String,
    pub details: Option<String>,
    pub started_at: i64,
    pub ended_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
pub struct TaskRow {
    pub id: String,
    pub process_id: String,
    pub seq: i64,
    pub name: String,
    pub version: String,
    pub state: String,
    pub details: Option<String>,
    pub received_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub updated_at: Option<i64>,
}

impl TryFrom<TaskRow> for crate::workers::fleet::ProcessTask {
    type Error = StoreError;
    fn try_from(r: TaskRow) -> StoreResult<Self> {
        Ok(Self {
            state: StepState::parse(&r.state)
                .ok_or_else(|| StoreError::Corrupt(format!("task state {}", r.state)))?,
            id: r.id,
            process_id: r.process_id,
            seq: r.seq,
            name: r.name,
            version: r.version,
            details: r.details,
            received_at: r.received_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
            updated_at: r.updated_at,
        })
    }
}

/// A wpipe process's summary from its row and tasks.
fn summarize(
    r: ProcessRow,
    worker_id: &str,
    worker_name: &str,
    tasks: &[crate::workers::fleet::ProcessTask],
) -> StoreResult<ProcessSummary> {
    use crate::workers::fleet::ProcessStatus;
    let last = tasks
        .iter()
        .filter(|t| t.updated_at.is_some())
        .max_by_key(|t| (t.updated_at, t.seq));
    Ok(ProcessSummary {
        status: ProcessStatus::parse(&r.status)
            .ok_or_else(|| StoreError::Corrupt(format!("process status {}", r.status)))?,
        id: r.id,
        worker_id: worker_id.to_string(),
        worker_name: worker_name.to_string(),
        started_at: r.started_at,
        ended_at: r.ended_at,
        tasks_total: tasks.len() as i64,
        tasks_finished: tasks.iter().filter(|t| t.state.finished()).count() as i64,
        tasks_failed: tasks.iter().filter(|t| t.state == StepState::Error).count() as i64,
        input_fault: false,
        step: last.or(tasks.first()).map(|t| t.name.clone()),
        step_state: last.or(tasks.first()).map(|t| t.state),
        last_update: last.and_then(|t| t.updated_at),
        details: r.details,
    })
}

#[derive(sqlx::FromRow)]
pub struct JobProcessRow {
    pub worker_id: String,
    pub job_id: String,
    pub job_kind: String,
    pub job_state: String,
    pub total: i64,
    pub finished: i64,
    pub failed: i64,
    pub input_faults: i64,
    pub started_at: Option<i64>,
    pub last_update: Option<i64>,
    pub error: Option<String>,
}

impl JobProcessRow {
    fn summary(self) -> ProcessSummary {
        use crate::workers::fleet::ProcessStatus;
        let status = if self.failed > 0 {
            ProcessStatus::Error
        } else if self.job_state == "queued" || self.job_state == "running" {
            ProcessStatus::Running
        } else {
            ProcessStatus::Success
        };
        let started = self.started_at.unwrap_or_default();
        ProcessSummary {
            id: format!("{}{JOB_PROCESS_SEP}{}", self.job_id, self.worker_id),
            worker_name: String::new(),
            status,
            started_at: started,
            ended_at: (status != ProcessStatus::Running)
                .then(|| self.last_update.unwrap_or(started)),
            tasks_total: self.total,
            tasks_finished: self.finished,
            tasks_failed: self.failed,
            input_fault: self.failed > 0 && self.input_faults == self.failed,
            // What the job is, not only its id: "File average job 01a2…".
            step: Some(format!(
                "{} job {}",
                shared::jobs::model::JobKind::parse(&self.job_kind)
                    .map(|k| k.label())
                    .unwrap_or("A"),
                self.job_id.get(..8).unwrap_or(&self.job_id)
            )),
            step_state: Some(match status {
                ProcessStatus::Running => StepState::Running,
                ProcessStatus::Success => StepState::Success,
                ProcessStatus::Error => StepState::Error,
            }),
            last_update: self.last_update,
            details: if self.failed > 0 { self.error } else { None },
            worker_id: self.worker_id,
        }
    }
}

/// The handlers workers offer, from their rows' JSON arrays (a row that does not parse offers
/// nothing).
pub(super) fn handler_union(rows: Vec<String>) -> std::collections::BTreeSet<String> {
    rows.iter()
        .filter_map(|r| serde_json::from_str::<Vec<String>>(r).ok())
        .flatten()
        .collect()
}

/// How a worker's handlers are kept: a JSON array, or nothing when it offers none.
pub(super) fn handlers_text(handlers: &[String]) -> Option<String> {
    (!handlers.is_empty()).then(|| serde_json::to_string(handlers).unwrap_or_default())
}
