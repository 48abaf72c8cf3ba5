//! The job engine's operations, shared by server functions, the REST API and in-process
//! workers: each validates, calls the store, and announces the change on the event bus.

use super::file_average::{self, Partial};
use super::model::{Job, JobDetail, JobFilter, JobKind, Verification};
use super::params::{FileAverageParams, FileAverageRequest};
use super::plan;
use super::protocol::{
    BatchReply, ClaimRequest, CompleteBatch, CompleteRequest, FailRequest, HeartbeatReply,
    ItemOutcome, LeaseRef, LeasedTask, LogLines, RegisterWorker, Registered, SpawnedTask,
};
use crate::error::{AppError, AppResult};
use crate::kinds::{Kind, RunsOn};
use crate::now_millis;
use crate::state::Core;
use crate::store::jobs::Want;
use crate::store::{NewJob, NewWorker};
use crate::workers::model::WorkerKind;
use shared::jobs::workflow::WorkflowRequest;
use std::time::Duration;

/// Creates a file-average job (seed 003) and its whole task tree.
pub async fn create_file_average(st: &Core, req: FileAverageRequest) -> AppResult<Job> {
    let params =
        FileAverageParams::parse(req, rand::random::<u32>() as u64).map_err(AppError::Invalid)?;
    let tasks = file_average::plan(&params);
    let job = reserving_files(st, params.most_file_bytes(), || {
        enqueue(
            st,
            &file_average::FileAverage,
            &params,
            params.workers,
            file_average::Phase::Generate.as_str(),
            tasks,
        )
    })
    .await?;
    tracing::info!(job_id = %job.id, files = params.files, entries = params.entries, "job created");
    Ok(job)
}

/// Creates a job with `make` once `bytes` of job files are reserved for it within
/// `ORCHARD_MAX_FILES_BYTES`; refused (409) before anything is written when they are not.
pub(crate) async fn reserving_files<F, Fut>(st: &Core, bytes: u64, make: F) -> AppResult<Job>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = AppResult<Job>>,
{
    let key = format!("pending:{}", uuid::Uuid::now_v7());
    let cap = st.engine.max_files_bytes.min(i64::MAX as u64) as i64;
    let bytes = bytes.min(i64::MAX as u64) as i64;
    if !st.jobs.reserve_file_bytes(&key, bytes, cap).await? {
        let used = st.jobs.reserved_file_bytes().await.unwrap_or(0);
        return Err(AppError::Conflict(format!(
            "this job would write up to {} of files, and {} of the {} allowed for job files \
             (ORCHARD_MAX_FILES_BYTES) are taken: delete finished jobs or ask for a larger cap",
            crate::format::bytes(bytes),
            crate::format::bytes(used.max(0)),
            crate::format::bytes(cap),
        )));
    }
    match make().await {
        Ok(job) => {
            st.jobs.rename_file_reservation(&key, &job.id).await?;
            Ok(job)
        }
        Err(e) => {
            if let Err(re) = st.jobs.release_file_bytes(&key).await {
                tracing::warn!(error = %re, "file reservation not released");
            }
            Err(e)
        }
    }
}

/// Creates a workflow run: its definition checked (422 naming the problem), its steps
/// planned as a task graph.
pub async fn create_workflow(st: &Core, req: WorkflowRequest) -> AppResult<Job> {
    workflow_run(st, req, None).await
}

/// Runs a workflow again with a changed definition: a new run that names the one it was
/// made from.
pub async fn replay_workflow(st: &Core, from: &str, req: WorkflowRequest) -> AppResult<Job> {
    let source = st.jobs.get_job(from).await?;
    if source.kind != JobKind::Workflow {
        return Err(AppError::Invalid(format!("job {from} is not a workflow")));
    }
    workflow_run(st, req, Some(source.id)).await
}

async fn workflow_run(
    st: &Core,
    req: WorkflowRequest,
    replayed_from: Option<String>,
) -> AppResult<Job> {
    let max = st.engine.max_workflow_steps;
    let checked = req
        .validate(max, super::params::MAX_CONCURRENCY)
        .map_err(AppError::Invalid)?;
    let tasks = super::workflow::plan(&checked, max);
    let phase = tasks[0].phase;
    let kind = &super::workflow::Workflow;
    enqueue_from(st, kind, &req, checked.workers, phase, tasks, replayed_from).await
}

/// Creates a no-op job (a queue benchmark).
pub async fn create_noop(st: &Core, params: super::params::NoopParams) -> AppResult<Job> {
    let params = params.validate().map_err(AppError::Invalid)?;
    let tasks = super::noop::plan(params.tasks);
    enqueue(
        st,
        &super::noop::Noop,
        &params,
        params.workers,
        super::noop::Phase::Run.as_str(),
        tasks,
    )
    .await
}

/// Stores a validated job with its planned tasks and wakes the workers.
pub(crate) async fn enqueue(
    st: &Core,
    kind: &dyn Kind,
    params: &impl serde::Serialize,
    concurrency: u32,
    phase: &'static str,
    tasks: Vec<plan::TaskSpec>,
) -> AppResult<Job> {
    enqueue_from(st, kind, params, concurrency, phase, tasks, None).await
}

/// [`enqueue`], for a run made from another (`replayed_from`).
async fn enqueue_from(
    st: &Core,
    kind: &dyn Kind,
    params: &impl serde::Serialize,
    concurrency: u32,
    phase: &'static str,
    tasks: Vec<plan::TaskSpec>,
    replayed_from: Option<String>,
) -> AppResult<Job> {
    plan::check(&tasks).map_err(AppError::Invalid)?;
    let job = st
        .jobs
        .create_job(
            NewJob {
                kind: kind.kind().as_str(),
                server_only: kind.runs_on() == RunsOn::ServerWorkers,
                params: serde_json::to_value(params).map_err(|_| AppError::Internal)?,
                concurrency: concurrency as i64,
                max_attempts: st.engine.max_attempts,
                phase,
                tasks,
                replayed_from,
            },
            now_millis(),
        )
        .await?;
    st.events.publish("job", &job.id, "created");
    st.work_ready.notify_waiters();
    Ok(job)
}

pub async fn list_jobs(st: &Core, limit: i64) -> AppResult<Vec<Job>> {
    find_jobs(st, limit, &JobFilter::default()).await
}

/// The newest jobs (1 to 500) of a kind, in a state, or with a step of a handler.
pub async fn find_jobs(st: &Core, limit: i64, filter: &JobFilter) -> AppResult<Vec<Job>> {
    Ok(st.jobs.find_jobs(limit.clamp(1, 500), filter).await?)
}

pub async fn job_detail(st: &Core, id: &str) -> AppResult<JobDetail> {
    Ok(st.jobs.job_detail(id).await?)
}

pub async fn cancel_job(st: &Core, id: &str) -> AppResult<Job> {
    let job = st.jobs.cancel_job(id, now_millis()).await?;
    st.observer.job_finished("cancelled");
    tracing::info!(job_id = %id, "job cancelled");
    st.events.publish("job", id, "updated");
    Ok(job)
}

pub async fn retry_job(st: &Core, id: &str) -> AppResult<Job> {
    let job = st.jobs.retry_job(id, now_millis()).await?;
    tracing::info!(job_id = %id, "job retried");
    st.events.publish("job", id, "updated");
    st.work_ready.notify_waiters();
    Ok(job)
}

/// Deletes a job, its tasks and its files.
pub async fn delete_job(st: &Core, id: &str) -> AppResult<()> {
    st.jobs.delete_job(id).await?;
    if let Err(e) = st.files.delete_prefix(&format!("jobs/{id}")).await {
        tracing::warn!(job_id = %id, error = %e, "job files not removed");
    }
    if let Err(e) = st.jobs.release_file_bytes(id).await {
        tracing::warn!(job_id = %id, error = %e, "job file reservation not released");
    }
    tracing::info!(job_id = %id, "job deleted");
    st.events.publish("job", id, "deleted");
    Ok(())
}

/// The result file of a finished job, as (file name, bytes).
pub async fn result_file(st: &Core, id: &str) -> AppResult<(String, Vec<u8>)> {
    let job = st.jobs.get_job(id).await?;
    if job.state != super::model::JobState::Succeeded {
        return Err(AppError::Conflict(format!(
            "job {id} is {}: there is no result file yet",
            job.state
        )));
    }
    let bytes = st
        .files
        .get(&file_average::result_key(id))
        .await
        .map_err(|e| {
            tracing::error!(job_id = %id, error = %e, "result file unreadable");
            AppError::NotFound(format!("result file of job {id}"))
        })?;
    Ok((format!("orchard-average-{id}.txt"), bytes))
}

/// Recomputes the average in one pass over the job's files and compares it with the result.
pub async fn verify_job(st: &Core, id: &str) -> AppResult<Verification> {
    let job = st.jobs.get_job(id).await?;
    if job.state != super::model::JobState::Succeeded {
        return Err(AppError::Conflict(format!(
            "job {id} is {}: only a succeeded job can be verified",
            job.state
        )));
    }
    if job.kind != JobKind::FileAverage {
        return Err(AppError::Conflict(format!(
            "job {id} is a {} job: only file-average jobs can be verified",
            job.kind.as_str()
        )));
    }
    let params: FileAverageParams =
        serde_json::from_value(job.params.clone()).map_err(|_| AppError::Internal)?;
    let linear = file_average::verify_file_average(id, &params, st.files.as_ref())
        .await
        .map_err(|e| AppError::Conflict(format!("cannot verify: {e}")))?;
    let stored = job
        .result
        .as_ref()
        .map(Partial::from_json)
        .transpose()
        .map_err(|e| AppError::Conflict(format!("stored result unreadable: {e}")))?;
    Ok(Verification {
        job_id: id.to_string(),
        sum: linear.sum,
        count: linear.count,
        average: linear.average(),
        matches: stored == Some(linear),
        files_read: params.files as i64,
    })
}

pub async fn register_worker(
    st: &Core,
    req: RegisterWorker,
    kind: WorkerKind,
) -> AppResult<Registered> {
    let name = req.name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(AppError::Invalid(
            "worker name must be 1 to 200 characters".into(),
        ));
    }
    if !(1..=1024).contains(&req.concurrency) {
        return Err(AppError::Invalid(
            "concurrency must be between 1 and 1024".into(),
        ));
    }
    if req.handlers.len() > 1_000
        || !req
            .handlers
            .iter()
            .all(|h| shared::jobs::workflow::is_name(h))
    {
        return Err(AppError::Invalid(
            "handlers must be at most 1,000 names of 1 to 64 of A-Z, a-z, 0-9, _ and -".into(),
        ));
    }
    let clip = |s: &str| s.chars().take(200).collect::<String>();
    let secret = (kind == WorkerKind::Remote).then(|| crate::accounts::secret::generate("ows_"));
    let id = st
        .fleet
        .register_worker(
            NewWorker {
                name: name.to_string(),
                kind,
                hostname: clip(&req.hostname),
                version: clip(&req.version),
                concurrency: req.concurrency,
                secret_hash: secret.as_deref().map(crate::accounts::secret::hash),
                handlers: req.handlers.clone(),
            },
            now_millis(),
        )
        .await?;
    tracing::info!(worker_id = %id, name, "worker registered");
    st.events.publish("worker", &id, "created");
    Ok(Registered {
        worker_secret: secret,
        worker_id: id,
        lease_ms: st.engine.lease_ms,
    })
}

pub async fn worker_heartbeat(st: &Core, id: &str) -> AppResult<()> {
    st.fleet.touch_worker(id, now_millis()).await?;
    st.events.publish("worker", id, "updated");
    Ok(())
}

pub async fn stop_worker(st: &Core, id: &str) -> AppResult<()> {
    st.fleet.stop_worker(id, now_millis()).await?;
    tracing::info!(worker_id = %id, "worker stopped");
    st.events.publish("worker", id, "updated");
    Ok(())
}

/// Most tasks (or batches) one claim asks for, and most completions one batch carries.
pub const MAX_BATCH: i64 = crate::store::jobs::MAX_CLAIM_TASKS;

/// How many batches leased tasks came in (a batch's tasks come together).
pub fn batches(tasks: &[LeasedTask]) -> usize {
    tasks
        .iter()
        .enumerate()
        .filter(|(i, t)| *i == 0 || tasks[i - 1].batch != t.batch)
        .count()
}

/// Leases up to `max` tasks, waiting (without polling the database in a tight loop) up to
/// `wait_ms` for one to become ready.
pub async fn claim(st: &Core, req: &ClaimRequest) -> AppResult<Vec<LeasedTask>> {
    if !(1..=MAX_BATCH).contains(&req.max) {
        return Err(AppError::Invalid(format!(
            "max must be between 1 and {MAX_BATCH}"
        )));
    }
    shared::jobs::protocol::check_offer(&req.handlers, &req.limits).map_err(AppError::Invalid)?;
    let want = Want {
        batches: req.max,
        prefetch: req.prefetch,
        handlers: req.handlers.clone(),
        limits: req.limits.clone(),
    };
    let wait = req.wait_ms.clamp(0, st.engine.max_claim_wait_ms);
    let deadline = tokio::time::Instant::now() + Duration::from_millis(wait as u64);
    let mut first = true;
    loop {
        let notified = st.work_ready.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        // After a wake-up, a read (which never waits for the writer) tells whether a claim
        // could find anything before a write transaction is spent on it.
        if first || st.jobs.claimable(now_millis()).await? {
            let tasks = st
                .jobs
                .claim(
                    &req.worker_id,
                    want.clone(),
                    st.engine.lease_ms,
                    now_millis(),
                )
                .await?;
            if !tasks.is_empty() {
                announce(st, tasks.iter().map(|t| (t.job_id.as_str(), false)));
                // A claim that took all it asked for may have left more behind.
                if batches(&tasks) as i64 >= req.max {
                    st.work_ready.notify_waiters();
                }
                return Ok(tasks);
            }
        }
        first = false;
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Ok(Vec::new());
        }
        // Another replica or a retry's backoff can make work ready without a local wake-up,
        // so look again at least once a second.
        let nap = (deadline - now).min(Duration::from_secs(1));
        let _ = tokio::time::timeout(nap, notified).await;
    }
}

/// Most lines, and bytes, one call adds to a step's log.
pub const MAX_LOG_LINES: usize = 1_000;
pub const MAX_LOG_BYTES: usize = 256 * 1024;

/// Adds lines to a running step's log, for its lease holder only.
pub async fn append_log(st: &Core, task_id: &str, req: &LogLines) -> AppResult<()> {
    if req.lines.len() > MAX_LOG_LINES
        || req.lines.iter().map(|l| l.len() + 1).sum::<usize>() > MAX_LOG_BYTES
    {
        return Err(AppError::Invalid(format!(
            "a call adds at most {MAX_LOG_LINES} log lines and 256 KiB"
        )));
    }
    let lease = LeaseRef {
        worker_id: req.worker_id.clone(),
        attempt: req.attempt,
    };
    st.jobs
        .append_log(task_id, &lease, &req.lines, now_millis())
        .await?;
    Ok(())
}

pub async fn heartbeat(st: &Core, task_id: &str, lease: &LeaseRef) -> AppResult<HeartbeatReply> {
    Ok(st
        .jobs
        .heartbeat(task_id, lease, st.engine.lease_ms, now_millis())
        .await?)
}

pub async fn complete(st: &Core, task_id: &str, req: &CompleteRequest) -> AppResult<()> {
    let done = st.jobs.complete(task_id, req, now_millis()).await?;
    st.observer
        .task_completed(&done.phase, done.duration_ms as f64 / 1000.0);
    announce(st, [(done.job_id.as_str(), done.job_finished)]);
    st.work_ready.notify_waiters();
    Ok(())
}

/// Records a batch of completions (each item fenced on its own) and leases up to
/// `req.claim` more tasks in the same transaction.
pub async fn complete_batch(st: &Core, req: &CompleteBatch) -> AppResult<BatchReply> {
    if req.items.len() > MAX_BATCH as usize {
        return Err(AppError::Invalid(format!(
            "a batch carries at most {MAX_BATCH} completions"
        )));
    }
    if !(0..=MAX_BATCH).contains(&req.claim) {
        return Err(AppError::Invalid(format!(
            "claim must be between 0 and {MAX_BATCH}"
        )));
    }
    shared::jobs::protocol::check_offer(&req.handlers, &req.limits).map_err(AppError::Invalid)?;
    for item in &req.items {
        SpawnedTask::check_all(&item.spawn)
            .map_err(|e| AppError::Invalid(format!("task {}: {e}", item.task_id)))?;
    }
    let out = st
        .jobs
        .complete_batch(
            &req.worker_id,
            &req.items,
            Want {
                batches: req.claim,
                prefetch: req.prefetch,
                handlers: req.handlers.clone(),
                limits: req.limits.clone(),
            },
            st.engine.lease_ms,
            now_millis(),
        )
        .await?;
    let mut touched = Vec::new();
    let mut accepted = false;
    let results = req
        .items
        .iter()
        .zip(out.completed)
        .map(|(item, r)| match r {
            Ok(done) => {
                accepted = true;
                st.observer
                    .task_completed(&done.phase, done.duration_ms as f64 / 1000.0);
                touched.push((done.job_id, done.job_finished));
                ItemOutcome {
                    task_id: item.task_id.clone(),
                    ok: true,
                    status: None,
                    error: None,
                }
            }
            Err(e) => {
                let e = AppError::from(e);
                ItemOutcome {
                    task_id: item.task_id.clone(),
                    ok: false,
                    status: Some(e.status_code()),
                    error: Some(e.to_string()),
                }
            }
        })
        .collect();
    announce(
        st,
        touched
            .iter()
            .map(|(j, f)| (j.as_str(), *f))
            .chain(out.claimed.iter().map(|t| (t.job_id.as_str(), false))),
    );
    // Unless the claim may have left work behind, it took all there was to take (the
    // freed concurrency and the tasks these completions made ready included): waking the
    // other claimers would only send them looking.
    if accepted && (req.claim == 0 || out.more) {
        st.work_ready.notify_waiters();
    }
    Ok(BatchReply {
        results,
        tasks: out.claimed,
    })
}

/// One change event per job touched: "updated" when it finished, else "progress".
fn announce<'a>(st: &Core, jobs: impl IntoIterator<Item = (&'a str, bool)>) {
    let mut seen = std::collections::BTreeMap::<&str, bool>::new();
    for (job, finished) in jobs {
        *seen.entry(job).or_default() |= finished;
    }
    for (job, finished) in seen {
        if finished {
            st.observer.job_finished("succeeded");
            tracing::info!(job_id = %job, "job succeeded");
        }
        st.events
            .publish("job", job, if finished { "updated" } else { "progress" });
    }
}

pub async fn fail(st: &Core, task_id: &str, req: &FailRequest) -> AppResult<()> {
    let out = st
        .jobs
        .fail(task_id, req, st.engine.backoff, now_millis())
        .await?;
    if out.will_retry {
        st.observer.task_retried(&out.phase);
    } else {
        st.observer.job_finished("failed");
    }
    tracing::warn!(job_id = %out.job_id, task_id, error = %req.error, will_retry = out.will_retry, "task failed");
    st.events.publish("job", &out.job_id, "updated");
    Ok(())
}

pub async fn release(st: &Core, task_id: &str, lease: &LeaseRef) -> AppResult<()> {
    let job_id = st.jobs.release(task_id, lease, now_millis()).await?;
    st.events.publish("job", &job_id, "progress");
    st.work_ready.notify_waiters();
    Ok(())
}
