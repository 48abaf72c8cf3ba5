//! Jobs and the queue as a domain of the store: jobs with their planned tasks, leases fenced
//! by holder and attempt, retries, the reaper, file reservations, and the figures the pages
//! and metrics read. The trait is the contract; `sqlite.rs` + `sqlite_queue.rs` and
//! `postgres.rs` + `postgres_queue.rs` fulfil it once per backend with the SQL of `sql.rs`
//! (and, on Postgres, the lease functions of `postgres/functions.sql`). What both follow
//! (which lease a call must hold, what a failure or an expired lease turns a task into, how
//! a job's detail is assembled) is written once here.

pub mod plan;
mod postgres;
mod postgres_queue;
mod sql;
mod sqlite;
mod sqlite_queue;
mod want;

pub use want::{BATCH_TARGET_US, MAX_CLAIM_TASKS, MAX_PREFETCH, Want};

use super::{
    Backoff, BatchOutcome, Completion, FailureOutcome, NewJob, QueueStats, ReapReport, StoreError,
    StoreResult,
};
use crate::Millis;
use crate::overview::model::Overview;
use crate::workers::model::{Health, HealthThresholds};
use async_trait::async_trait;
use shared::jobs::model::JobFilter;
use shared::jobs::model::{
    Job, JobDetail, JobKind, JobState, PhaseCounts, PhaseTasks, TaskCounts, TaskError, TaskState,
    ThroughputPoint, WorkerContribution,
};
use shared::jobs::protocol::{
    CompleteRequest, CompletedTask, FailRequest, HeartbeatReply, LeaseRef, LeasedTask,
};

#[async_trait]
pub trait JobStore: Send + Sync {
    async fn overview(&self, health: HealthThresholds, now: Millis) -> StoreResult<Overview>;
    async fn queue_stats(&self, now: Millis) -> StoreResult<QueueStats>;

    /// Reserves `bytes` of job files under `key` if the total reserved stays within `cap`;
    /// false (and nothing reserved) when it would not.
    async fn reserve_file_bytes(&self, key: &str, bytes: i64, cap: i64) -> StoreResult<bool>;
    /// Moves a reservation to another key (from a placeholder to the job made with it).
    async fn rename_file_reservation(&self, from: &str, to: &str) -> StoreResult<()>;
    async fn release_file_bytes(&self, key: &str) -> StoreResult<()>;
    /// Bytes of job files reserved in all.
    async fn reserved_file_bytes(&self) -> StoreResult<i64>;
    /// Whether the worker holds a lease on one of the job's tasks now.
    async fn holds_lease_in_job(&self, worker_id: &str, job_id: &str) -> StoreResult<bool>;
    async fn create_job(&self, job: NewJob, now: Millis) -> StoreResult<Job>;
    /// The newest jobs, at most `limit`.
    async fn list_jobs(&self, limit: i64) -> StoreResult<Vec<Job>> {
        self.find_jobs(limit, &JobFilter::default()).await
    }
    /// The newest jobs the filter lets through, at most `limit`.
    async fn find_jobs(&self, limit: i64, filter: &JobFilter) -> StoreResult<Vec<Job>>;
    async fn get_job(&self, id: &str) -> StoreResult<Job>;
    async fn job_detail(&self, id: &str) -> StoreResult<JobDetail>;
    /// Stops handing out the job's tasks; running ones learn it at their next heartbeat.
    async fn cancel_job(&self, id: &str, now: Millis) -> StoreResult<Job>;
    /// Puts a failed job's failed and cancelled tasks back in the queue with fresh attempts.
    async fn retry_job(&self, id: &str, now: Millis) -> StoreResult<Job>;
    async fn delete_job(&self, id: &str) -> StoreResult<()>;
    /// Records how far a running job's task has got (units done out of a total).
    async fn job_work(&self, job_id: &str, done: i64, total: i64) -> StoreResult<()>;
    /// Adds lines to a running task's log at its current attempt, for its lease holder only
    /// (`Conflict` for anyone else); the log keeps its last `LOG_CAP` bytes.
    async fn append_log(
        &self,
        task_id: &str,
        lease: &LeaseRef,
        lines: &[String],
        now: Millis,
    ) -> StoreResult<()>;
    /// A task's state and attempt.
    async fn task_state(&self, task_id: &str) -> StoreResult<(String, i64)>;
    /// A task's log at `attempt`, or at its latest attempt that wrote one.
    async fn step_log(&self, task_id: &str, attempt: Option<i64>) -> StoreResult<Option<StepLog>>;
    /// Up to `limit` of a job's tasks after place `after` in its plan, in plan order.
    async fn task_page(&self, job_id: &str, after: i64, limit: i64) -> StoreResult<Vec<TaskRow>>;
    /// Outputs of a job's tasks in one phase, in task order (used by verification).
    async fn phase_outputs(&self, job_id: &str, phase: &str)
    -> StoreResult<Vec<serde_json::Value>>;

    /// Leases up to `want.batches` batches of ready tasks to `worker_id`, never more batches
    /// of a job than its concurrency, and records the worker's sign of life; `NotFound` for
    /// an unknown worker. A batch's tasks come together, in plan order.
    async fn claim(
        &self,
        worker_id: &str,
        want: Want,
        lease_ms: i64,
        now: Millis,
    ) -> StoreResult<Vec<LeasedTask>>;
    /// Whether some job has a ready task and room under its concurrency: a read that lets a
    /// waiting claim skip a write transaction that would find nothing.
    async fn claimable(&self, now: Millis) -> StoreResult<bool>;
    /// Extends a lease held by exactly this worker and attempt; `Conflict` otherwise.
    async fn heartbeat(
        &self,
        task_id: &str,
        lease: &LeaseRef,
        lease_ms: i64,
        now: Millis,
    ) -> StoreResult<HeartbeatReply>;
    /// Accepts the output of the current lease holder only; `Conflict` for anyone else.
    async fn complete(
        &self,
        task_id: &str,
        req: &CompleteRequest,
        now: Millis,
    ) -> StoreResult<Completion>;
    /// Completes several of one worker's tasks in one transaction — each item fenced on its
    /// own, so a stale one is refused without touching the others — then leases up to
    /// `claim` more to the same worker, as `claim` would.
    async fn complete_batch(
        &self,
        worker_id: &str,
        items: &[CompletedTask],
        claim: Want,
        lease_ms: i64,
        now: Millis,
    ) -> StoreResult<BatchOutcome>;
    async fn fail(
        &self,
        task_id: &str,
        req: &FailRequest,
        backoff: Backoff,
        now: Millis,
    ) -> StoreResult<FailureOutcome>;
    /// Gives a lease back without using up an attempt (graceful worker shutdown).
    async fn release(&self, task_id: &str, lease: &LeaseRef, now: Millis) -> StoreResult<String>;
    /// Returns expired leases to the queue, or fails them after their last attempt.
    async fn reap_expired(&self, backoff: Backoff, now: Millis) -> StoreResult<ReapReport>;
}

/// Most bytes of log one attempt of a step keeps (its oldest lines go first).
pub const LOG_CAP: usize = 1 << 20;

/// A step's log at one attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct StepLog {
    pub attempt: i64,
    pub text: String,
    /// Bytes dropped from its start to keep it within `LOG_CAP`.
    pub dropped: i64,
}

impl StepLog {
    /// The log as a reader sees it: a marker first when its start was dropped.
    pub fn shown(&self) -> String {
        if self.dropped > 0 {
            format!("[… {} bytes dropped …]\n{}", self.dropped, self.text)
        } else {
            self.text.clone()
        }
    }
}

/// A log with `lines` added, kept to its last `cap` bytes from a line's start: the new text
/// and the bytes dropped in all.
pub(super) fn capped_log(old: &str, dropped: i64, lines: &[String], cap: usize) -> (String, i64) {
    let mut text =
        String::with_capacity(old.len() + lines.iter().map(|l| l.len() + 1).sum::<usize>());
    text.push_str(old);
    for l in lines {
        text.push_str(l);
        text.push('\n');
    }
    if text.len() <= cap {
        return (text, dropped);
    }
    let mut cut = text.len() - cap;
    // Start at a line (and so a character) boundary.
    while !text.is_char_boundary(cut) {
        cut += 1;
    }
    cut = text[cut..].find('\n').map_or(text.len(), |i| cut + i + 1);
    (text[cut..].to_string(), dropped + cut as i64)
}

/// One of a job's tasks as stored (`sql::TASK_PAGE`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TaskRow {
    pub seq: i64,
    pub phase: String,
    pub payload: String,
    pub state: String,
    pub attempt: i64,
    pub output: Option<String>,
    pub last_error: Option<String>,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub id: String,
}

impl TaskRow {
    fn from_sqlite(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            seq: r.get(0)?,
            phase: r.get(1)?,
            payload: r.get(2)?,
            state: r.get(3)?,
            attempt: r.get(4)?,
            output: r.get(5)?,
            last_error: r.get(6)?,
            started_at: r.get(7)?,
            finished_at: r.get(8)?,
            id: r.get(9)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct JobRow {
    pub id: String,
    pub kind: String,
    pub state: String,
    pub phase: String,
    pub params: String,
    pub concurrency: i64,
    pub max_attempts: i64,
    pub done: i64,
    pub total: i64,
    pub work_done: i64,
    pub work_total: i64,
    pub result: Option<String>,
    pub error: Option<String>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub replayed_from: Option<String>,
}

impl TryFrom<JobRow> for Job {
    type Error = StoreError;
    fn try_from(r: JobRow) -> StoreResult<Job> {
        Ok(Job {
            kind: JobKind::parse(&r.kind)
                .ok_or_else(|| StoreError::Corrupt(format!("job kind {}", r.kind)))?,
            state: JobState::parse(&r.state)
                .ok_or_else(|| StoreError::Corrupt(format!("job state {}", r.state)))?,
            params: parse_json(&r.params, "job params")?,
            result: r
                .result
                .as_deref()
                .map(|s| parse_json(s, "job result"))
                .transpose()?,
            id: r.id,
            phase: r.phase,
            concurrency: r.concurrency,
            max_attempts: r.max_attempts,
            progress: shared::jobs::model::Progress {
                done: r.done,
                total: r.total,
                work_done: r.work_done,
                work_total: r.work_total,
            },
            error: r.error,
            created_at: r.created_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
            replayed_from: r.replayed_from,
        })
    }
}

impl JobRow {
    /// Reads the columns of `sql::GET_JOB`, in order.
    fn from_sqlite(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get(0)?,
            kind: r.get(1)?,
            state: r.get(2)?,
            phase: r.get(3)?,
            params: r.get(4)?,
            concurrency: r.get(5)?,
            max_attempts: r.get(6)?,
            done: r.get(7)?,
            total: r.get(8)?,
            work_done: r.get(9)?,
            work_total: r.get(10)?,
            result: r.get(11)?,
            error: r.get(12)?,
            created_at: r.get(13)?,
            started_at: r.get(14)?,
            finished_at: r.get(15)?,
            replayed_from: r.get(16)?,
        })
    }
}

/// A stored JSON text, or `Corrupt` naming what it was.
pub(super) fn parse_json(s: &str, what: &str) -> StoreResult<serde_json::Value> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// Outputs as stored (NULL for none), parsed.
fn outputs(rows: Vec<Option<String>>) -> StoreResult<Vec<serde_json::Value>> {
    rows.into_iter()
        .map(|o| match o {
            Some(s) => parse_json(&s, "task output"),
            None => Ok(serde_json::Value::Null),
        })
        .collect()
}

/// A finished job's result from its sinks' outputs (as stored, in plan order): the output
/// itself when the job has one sink, as most plans do, else the outputs as an array.
pub(super) fn job_result(sinks: Vec<Option<String>>) -> StoreResult<serde_json::Value> {
    let mut all = outputs(sinks)?;
    Ok(if all.len() == 1 {
        all.pop().unwrap_or_default()
    } else {
        serde_json::Value::Array(all)
    })
}

/// Whether a job in this state still runs tasks.
pub(super) fn is_active(job_state: &str) -> bool {
    JobState::parse(job_state).is_some_and(|s| matches!(s, JobState::Queued | JobState::Running))
}

/// The refusal of a call made under a lease the caller no longer holds.
pub(super) fn lease_conflict(
    task_id: &str,
    worker_id: &str,
    attempt: i64,
    state: &str,
    current_attempt: i64,
) -> super::StoreError {
    super::StoreError::Conflict(format!(
        "task {task_id} is not leased to worker {worker_id} at attempt {attempt} \
         (it is {state}, attempt {current_attempt}): the lease expired or was taken over"
    ))
}

/// A task's lease as stored, checked against the caller's: `Conflict` unless the caller
/// holds it at this attempt. Answers the task's phase and place in the plan.
fn check_lease(
    task_id: &str,
    lease: &LeaseRef,
    (state, owner, attempt, phase, seq): (String, Option<String>, i64, String, i64),
) -> StoreResult<(String, i64)> {
    if state != TaskState::Leased.as_str()
        || owner.as_deref() != Some(lease.worker_id.as_str())
        || attempt != lease.attempt
    {
        return Err(lease_conflict(
            task_id,
            &lease.worker_id,
            lease.attempt,
            &state,
            attempt,
        ));
    }
    Ok((phase, seq))
}

fn no_task(task_id: &str) -> StoreError {
    StoreError::NotFound(format!("task {task_id}"))
}

fn no_job(job_id: &str) -> StoreError {
    StoreError::NotFound(format!("job {job_id}"))
}

/// What a failure report turns the task into.
enum AfterFailure {
    /// The job no longer runs: the task is cancelled.
    Cancelled,
    /// Another attempt, not before this time.
    Retry(Millis),
    /// Failed for good, and its job with it.
    Failed,
}

fn after_failure(
    job_state: &str,
    req: &FailRequest,
    max_attempts: i64,
    backoff: Backoff,
    now: Millis,
) -> AfterFailure {
    if !is_active(job_state) {
        AfterFailure::Cancelled
    } else if req.retryable && req.attempt < max_attempts {
        AfterFailure::Retry(now + backoff.delay(req.attempt))
    } else {
        AfterFailure::Failed
    }
}

/// A task's own retry policy as stored (most attempts, backoff base and cap; each `None`
/// where it has none).
pub(crate) type OwnRetry = (Option<i64>, Option<i64>, Option<i64>);

/// The retry policy a task runs under: its own where it sets one, else its job's attempts
/// and the server's backoff.
fn retry_policy(own: OwnRetry, job_max: i64, server: Backoff) -> (i64, Backoff) {
    let (attempts, base_ms, max_ms) = own;
    (
        attempts.unwrap_or(job_max),
        Backoff {
            base_ms: base_ms.unwrap_or(server.base_ms),
            max_ms: max_ms.unwrap_or(server.max_ms),
        },
    )
}

/// A failure's error as kept: its first 2,000 characters.
fn kept_error(error: &str) -> String {
    error.chars().take(2_000).collect()
}

/// The error an expired lease leaves.
const LEASE_EXPIRED: &str = "lease expired: the worker stopped heartbeating";

/// What an expired lease turns its task into: the state and when it may run again.
fn after_expiry(
    job_state: &str,
    attempt: i64,
    max_attempts: i64,
    backoff: Backoff,
    now: Millis,
) -> (TaskState, Millis) {
    if !is_active(job_state) {
        (TaskState::Cancelled, 0)
    } else if attempt < max_attempts {
        (TaskState::Ready, now + backoff.delay(attempt))
    } else {
        (TaskState::Failed, 0)
    }
}

fn cannot_cancel(id: &str, state: &str) -> StoreError {
    StoreError::Conflict(format!(
        "job {id} is already {state} and cannot be cancelled"
    ))
}

/// Only a failed or cancelled job, with no task still stopping on a worker, may be retried.
fn check_retry(id: &str, state: &str, leased: i64) -> StoreResult<()> {
    if state != JobState::Failed.as_str() && state != JobState::Cancelled.as_str() {
        return Err(StoreError::Conflict(format!(
            "job {id} is {state}: only failed or cancelled jobs can be retried"
        )));
    }
    if leased > 0 {
        return Err(StoreError::Conflict(format!(
            "job {id} still has {leased} task(s) stopping on workers; retry in a moment"
        )));
    }
    Ok(())
}

/// The rows a job's detail is assembled from.
struct DetailRows {
    counts: Vec<(String, String, i64)>,
    spans: Vec<(String, Option<i64>, Option<i64>, i64)>,
    contributions: Vec<(String, Option<String>, i64)>,
    throughput: Vec<(i64, String, i64)>,
    errors: Vec<(String, String, i64, String)>,
}

/// The time span a job's throughput is counted over, and its bucket.
fn throughput_window(job: &Job) -> (Millis, i64) {
    let start = job.started_at.unwrap_or(job.created_at);
    let end = job.finished_at.unwrap_or_else(crate::now_millis);
    (start, shared::jobs::model::throughput_bucket(end - start))
}

fn detail(job: Job, bucket: i64, rows: DetailRows) -> JobDetail {
    let mut counts = TaskCounts::default();
    let mut phases: Vec<PhaseCounts> = Vec::new();
    for (phase, state, n) in rows.counts {
        let Some(state) = TaskState::parse(&state) else {
            continue;
        };
        counts.add(state, n);
        match phases.iter_mut().find(|p| p.phase == phase) {
            Some(p) => p.counts.add(state, n),
            None => {
                let mut c = TaskCounts::default();
                c.add(state, n);
                phases.push(PhaseCounts {
                    phase,
                    counts: c,
                    started_at: None,
                    finished_at: None,
                });
            }
        }
    }
    // Phases in plan order: by where each one's first task is.
    let first_seq = |phase: &str| {
        rows.spans
            .iter()
            .find(|s| s.0 == phase)
            .map_or(i64::MAX, |s| s.3)
    };
    phases.sort_by_key(|p| first_seq(&p.phase));
    for (phase, started, finished, _) in &rows.spans {
        if let Some(p) = phases.iter_mut().find(|p| &p.phase == phase) {
            p.started_at = *started;
            p.finished_at = *finished;
        }
    }
    let contributions = rows
        .contributions
        .into_iter()
        .map(|(worker_id, name, n)| WorkerContribution {
            worker_name: name.unwrap_or_else(|| worker_id.clone()),
            worker_id,
            tasks_done: n,
        })
        .collect();
    let mut throughput: Vec<ThroughputPoint> = Vec::new();
    for (at, phase, tasks) in rows.throughput {
        let part = PhaseTasks { phase, tasks };
        match throughput.last_mut() {
            Some(p) if p.at == at => {
                p.tasks += tasks;
                p.phases.push(part);
            }
            _ => throughput.push(ThroughputPoint {
                at,
                tasks,
                phases: vec![part],
            }),
        }
    }
    for p in &mut throughput {
        p.phases.sort_by_key(|t| first_seq(&t.phase));
    }
    let errors = rows
        .errors
        .into_iter()
        .map(|(task_id, phase, attempt, error)| TaskError {
            task_id,
            phase,
            attempt,
            error,
        })
        .collect();
    JobDetail {
        job,
        counts,
        phases,
        contributions,
        throughput,
        throughput_bucket_ms: bucket,
        errors,
    }
}

/// The rows the overview is assembled from.
struct OverviewRows {
    jobs: Vec<(String, i64)>,
    tasks: Vec<(String, i64)>,
    seen: Vec<i64>,
    activity: Vec<(i64, i64)>,
}

fn overview(
    database: &str,
    recent_jobs: Vec<Job>,
    since: Millis,
    rows: OverviewRows,
    health: HealthThresholds,
    now: Millis,
) -> Overview {
    let mut o = Overview {
        database: database.to_string(),
        ..Default::default()
    };
    for (state, n) in rows.jobs {
        match JobState::parse(&state) {
            Some(JobState::Queued) => o.jobs_queued = n,
            Some(JobState::Running) => o.jobs_running = n,
            Some(JobState::Succeeded) => o.jobs_succeeded = n,
            Some(JobState::Failed) => o.jobs_failed = n,
            Some(JobState::Cancelled) => o.jobs_cancelled = n,
            None => {}
        }
    }
    for (state, n) in rows.tasks {
        match TaskState::parse(&state) {
            Some(TaskState::Ready) => o.tasks_ready = n,
            Some(TaskState::Leased) => o.tasks_leased = n,
            _ => {}
        }
    }
    o.recent_jobs = recent_jobs;
    o.activity_since = since;
    o.activity = rows
        .activity
        .into_iter()
        .map(|(at, tasks)| ThroughputPoint {
            at,
            tasks,
            phases: Vec::new(),
        })
        .collect();
    o.workers_total = rows.seen.len() as i64;
    o.workers_healthy = rows
        .seen
        .into_iter()
        .filter(|t| health.health(*t, false, now) == Health::Healthy)
        .count() as i64;
    o
}

/// A single completion, as a batch of one that claims nothing.
fn one_completion(task_id: &str, req: &CompleteRequest) -> CompletedTask {
    CompletedTask {
        task_id: task_id.to_string(),
        job_id: None,
        attempt: req.attempt,
        output: req.output.clone(),
        run_ms: None,
        started_us: None,
        run_us: None,
        spawn: Vec::new(),
    }
}

fn answer_of_one(mut done: Vec<StoreResult<Completion>>) -> StoreResult<Completion> {
    done.pop()
        .unwrap_or_else(|| Err(StoreError::Corrupt("completion lost its answer".into())))
}

#[cfg(test)]
mod tests {
    use super::capped_log;

    #[test]
    fn a_log_keeps_its_last_bytes_from_a_line_start() {
        let (t, d) = capped_log("", 0, &["one".into(), "two".into()], 100);
        assert_eq!((t.as_str(), d), ("one\ntwo\n", 0));
        let (t, d) = capped_log(&t, 0, &["three".into()], 10);
        assert_eq!((t.as_str(), d), ("three\n", 8));
        let (t, d) = capped_log(&t, d, &["é".repeat(20)], 10);
        assert_eq!((t.as_str(), d), ("", 8 + 6 + 41));
    }
}
