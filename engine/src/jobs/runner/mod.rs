//! The worker loop: claim, run with heartbeats, complete or fail. In-process workers and
//! remote `orchard worker` processes both run it; they differ only in their `Leases`
//! (direct calls vs. REST) and their file store.
//!
//! A worker keeps a small local queue of leased batches. A claimer fills it (long-polling
//! when there is nothing to do), `slots` runners each take a batch from it and run its tasks
//! one after another, and a reporter sends finished tasks back, asking for more work in the
//! same round trip. The server sizes a batch from how long the job's tasks take (one task
//! when they are slow), so a report carries milliseconds of work rather than microseconds;
//! a job's concurrency bounds its batches, so it bounds the tasks running at once. How far
//! ahead a worker claims follows how long batches take, so a queued one starts well within
//! its lease.

use super::protocol::{
    BatchReply, ClaimRequest, CompleteBatch, CompletedTask, FailRequest, HeartbeatReply, LeaseRef,
    LeasedTask, LogLines,
};
mod pool;

use super::handlers::{Handlers, LogShip};
use super::service::{self, MAX_BATCH};
use crate::error::{AppError, AppResult};
use crate::files::FileStore;
use crate::kinds::{ExecError, Executed, Worksite};
use crate::registry::Registry;
use crate::state::Core;
use crate::store::jobs::MAX_PREFETCH;
use async_trait::async_trait;
use pool::{Counts, Pool};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc, watch};
use tracing::Instrument;

/// The lease protocol as a worker sees it.
#[async_trait]
pub trait Leases: Send + Sync + 'static {
    async fn claim(&self, req: &ClaimRequest) -> AppResult<Vec<LeasedTask>>;
    async fn heartbeat(&self, task_id: &str, lease: &LeaseRef) -> AppResult<HeartbeatReply>;
    async fn complete_batch(&self, req: &CompleteBatch) -> AppResult<BatchReply>;
    async fn fail(&self, task_id: &str, req: &FailRequest) -> AppResult<()>;
    async fn release(&self, task_id: &str, lease: &LeaseRef) -> AppResult<()>;
    /// Adds lines to a running task's log.
    async fn log(&self, task_id: &str, lines: &LogLines) -> AppResult<()>;
    /// The server's state when the worker runs inside the server (it may then run tasks
    /// that work on the server's own data, such as tree imports).
    fn server(&self) -> Option<&Core> {
        None
    }
}

/// Leases taken straight from this process's store.
pub struct LocalLeases(pub Core);

#[async_trait]
impl Leases for LocalLeases {
    async fn claim(&self, req: &ClaimRequest) -> AppResult<Vec<LeasedTask>> {
        service::claim(&self.0, req).await
    }
    async fn heartbeat(&self, task_id: &str, lease: &LeaseRef) -> AppResult<HeartbeatReply> {
        service::heartbeat(&self.0, task_id, lease).await
    }
    async fn complete_batch(&self, req: &CompleteBatch) -> AppResult<BatchReply> {
        service::complete_batch(&self.0, req).await
    }
    async fn fail(&self, task_id: &str, req: &FailRequest) -> AppResult<()> {
        service::fail(&self.0, task_id, req).await
    }
    async fn release(&self, task_id: &str, lease: &LeaseRef) -> AppResult<()> {
        service::release(&self.0, task_id, lease).await
    }
    async fn log(&self, task_id: &str, lines: &LogLines) -> AppResult<()> {
        service::append_log(&self.0, task_id, lines).await
    }
    fn server(&self) -> Option<&Core> {
        Some(&self.0)
    }
}

/// What one worker process runs with.
#[derive(Clone)]
pub struct WorkerConfig {
    pub worker_id: String,
    pub slots: usize,
    pub lease_ms: i64,
    /// How long a claim waits for work before asking again.
    pub claim_wait_ms: i64,
    /// On shutdown, how long running tasks may take to finish before their leases are released.
    pub shutdown_grace: Duration,
    /// The job kinds this worker runs tasks of.
    pub kinds: Arc<Registry>,
    /// The handlers it offers for workflow steps.
    pub handlers: Arc<Handlers>,
}

/// How a task run ended.
enum Outcome {
    Done(CompletedTask),
    Failed(String, FailRequest),
    Release(String, LeaseRef),
    /// The lease was lost; nothing to report.
    Dropped,
}

/// Tasks leased together (one batch, in plan order), run one after another on one slot.
struct Batch {
    tasks: Vec<LeasedTask>,
    /// When the claim that leased them answered: their leases run from about then.
    leased: Instant,
}

impl Batch {
    /// Splits leased tasks into their batches (a batch's tasks come together).
    fn split(tasks: Vec<LeasedTask>) -> Vec<Batch> {
        let leased = Instant::now();
        let mut out: Vec<Batch> = Vec::new();
        for t in tasks {
            match out.last_mut() {
                Some(b) if b.tasks[0].batch == t.batch => b.tasks.push(t),
                _ => out.push(Batch {
                    tasks: vec![t],
                    leased,
                }),
            }
        }
        out
    }
}

/// How a batch's run ended, for the reporter to tell the queue.
#[derive(Default)]
struct Finished {
    done: Vec<CompletedTask>,
    failed: Vec<(String, FailRequest)>,
    released: Vec<(String, LeaseRef)>,
}

/// The local queue: every runner waits on it by itself, so tasks the reporter queues
/// together wake runners that can run on different threads. (Runners taking turns at one
/// receiver behind a lock woke each other from the thread that then ran the first task,
/// and tokio kept the second on that same thread: two tasks leased together ran one
/// after the other.)
type Queue = flume::Receiver<Batch>;

/// Runs `slots` task runners until `shutdown` turns true; then finishes or releases what
/// it holds.
pub async fn run_worker(
    leases: Arc<dyn Leases>,
    files: Arc<dyn FileStore>,
    cfg: WorkerConfig,
    shutdown: watch::Receiver<bool>,
) {
    let pool = Arc::new(Pool {
        cfg: cfg.clone(),
        counts: Mutex::new(Counts {
            inflight: 0,
            avg_ms: None,
            report_ms: None,
            batch_len: None,
        }),
        room: Notify::new(),
        running: AtomicUsize::new(0),
    });
    let (queue_tx, queue) = flume::unbounded::<Batch>();
    let (out_tx, out_rx) = mpsc::unbounded_channel::<Finished>();

    // Spawned tasks do not inherit spans: each gets one naming the worker.
    let span = |part: &'static str| tracing::info_span!("worker", worker_id = %cfg.worker_id, part);
    let claimer = tokio::spawn(
        claimer(
            leases.clone(),
            pool.clone(),
            queue_tx.clone(),
            shutdown.clone(),
        )
        .instrument(span("claimer")),
    );
    let reporter = tokio::spawn(
        reporter(
            leases.clone(),
            pool.clone(),
            queue_tx.clone(),
            out_rx,
            shutdown.clone(),
        )
        .instrument(span("reporter")),
    );
    let mut runners = Vec::new();
    for _ in 0..cfg.slots {
        let (leases, files, pool, queue, out, shutdown) = (
            leases.clone(),
            files.clone(),
            pool.clone(),
            (queue_tx.clone(), queue.clone()),
            out_tx.clone(),
            shutdown.clone(),
        );
        runners.push(tokio::spawn(
            runner(leases, files, pool, queue, out, shutdown).instrument(span("runner")),
        ));
    }
    drop(out_tx);
    let _ = claimer.await;
    for r in runners {
        let _ = r.await;
    }
    // Every runner has gone, so the reporter sends what is left and stops.
    let _ = reporter.await;
    // Tasks claimed but never started go back to the queue at once (the claimer and the
    // reporter have stopped, so nothing more arrives).
    while let Ok(batch) = queue.try_recv() {
        for task in batch.tasks {
            let lease = LeaseRef {
                worker_id: cfg.worker_id.clone(),
                attempt: task.attempt,
            };
            if let Err(e) = leases.release(&task.task_id, &lease).await {
                tracing::warn!(task_id = %task.task_id, error = %e, "queued task not released");
            }
        }
    }
}

/// Keeps the local queue supplied, long-polling the queue when there is nothing to do.
async fn claimer(
    leases: Arc<dyn Leases>,
    pool: Arc<Pool>,
    queue: flume::Sender<Batch>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut failures = 0u32;
    while !*shutdown.borrow() {
        let room_freed = pool.room.notified();
        tokio::pin!(room_freed);
        room_freed.as_mut().enable();
        let want = pool.reserve(0);
        if want == 0 {
            tokio::select! {
                _ = room_freed => {}
                _ = shutdown.changed() => {}
            }
            continue;
        }
        let req = ClaimRequest {
            worker_id: pool.cfg.worker_id.clone(),
            max: want as i64,
            wait_ms: pool.cfg.claim_wait_ms,
            prefetch: true,
            handlers: pool.cfg.handlers.names(),
            limits: pool.cfg.handlers.limits(),
        };
        let claimed = tokio::select! {
            r = leases.claim(&req) => r,
            _ = shutdown.changed() => {
                pool.release(want);
                break;
            }
        };
        match claimed {
            Ok(tasks) => {
                failures = 0;
                let batches = Batch::split(tasks);
                pool.release(want.saturating_sub(batches.len()));
                for b in batches {
                    let _ = queue.send(b);
                }
            }
            Err(e) => {
                pool.release(want);
                // The server may be restarting: back off and try again, never give up.
                failures = (failures + 1).min(6);
                let delay = Duration::from_millis(250 << failures);
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "claim failed");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.changed() => break,
                }
            }
        }
    }
}

/// Takes batches from the local queue and runs each one's tasks one at a time.
///
/// A runner whose queue is empty when its batch ends, in a worker whose batches take longer
/// than a report, reports that batch itself, claiming more in the same call, and runs the
/// first batch it gets without a hand-off. Nothing would keep it busy while it waited for
/// the reporter, and when a job's concurrency is full (W batches leased, W runners) each
/// runner's report then overlaps the other runners' work instead of all of them waiting for
/// one shared round trip. Otherwise finished batches go to the reporter, which sends them
/// together: quick ones share one transaction.
async fn runner(
    leases: Arc<dyn Leases>,
    files: Arc<dyn FileStore>,
    pool: Arc<Pool>,
    queue: (flume::Sender<Batch>, Queue),
    out: mpsc::UnboundedSender<Finished>,
    mut shutdown: watch::Receiver<bool>,
) {
    let (requeue, queue) = queue;
    let mut next: Option<Batch> = None;
    loop {
        if *shutdown.borrow() {
            // Released with the rest of the local queue when the worker stops.
            if let Some(b) = next.take() {
                let _ = requeue.send(b);
            }
            break;
        }
        let batch = match next.take() {
            Some(b) => b,
            None => {
                let b = tokio::select! {
                    b = queue.recv_async() => b.ok(),
                    _ = shutdown.changed() => None,
                };
                let Some(b) = b else { break };
                b
            }
        };
        let started = Instant::now();
        let len = batch.tasks.len();
        pool.running.fetch_add(1, Ordering::SeqCst);
        let finished = run_batch(&*leases, &*files, &pool.cfg, batch, &shutdown).await;
        pool.ran_for(started.elapsed(), len);
        let alone =
            finished.failed.is_empty() && finished.released.is_empty() && !finished.done.is_empty();
        if alone && queue.is_empty() && !*shutdown.borrow() && pool.reports_alone() {
            pool.running.fetch_sub(1, Ordering::SeqCst);
            let mut batches = deliver(&*leases, &pool, finished.done, 1, false)
                .await
                .into_iter();
            next = batches.next();
            for b in batches {
                let _ = requeue.send(b);
            }
        } else {
            let sent = out.send(finished);
            pool.running.fetch_sub(1, Ordering::SeqCst);
            if sent.is_err() {
                break;
            }
        }
    }
}

/// Runs a batch's tasks one after another. A task that waited behind others renews its lease
/// before it starts once a third of the lease has gone by. A cancelled job, or the worker
/// stopping, gives back what is left of the batch.
async fn run_batch(
    leases: &dyn Leases,
    files: &dyn FileStore,
    cfg: &WorkerConfig,
    batch: Batch,
    shutdown: &watch::Receiver<bool>,
) -> Finished {
    let mut f = Finished::default();
    let renew_after = Duration::from_millis((cfg.lease_ms / 3).max(0) as u64);
    let mut tasks = batch.tasks.into_iter();
    let give_back = |f: &mut Finished, task: LeasedTask| {
        let lease = LeaseRef {
            worker_id: cfg.worker_id.clone(),
            attempt: task.attempt,
        };
        f.released.push((task.task_id, lease));
    };
    while let Some(task) = tasks.next() {
        let mut stop = *shutdown.borrow();
        if !stop && batch.leased.elapsed() > renew_after {
            let lease = LeaseRef {
                worker_id: cfg.worker_id.clone(),
                attempt: task.attempt,
            };
            match leases.heartbeat(&task.task_id, &lease).await {
                Ok(reply) if reply.cancelled => stop = true,
                Ok(_) => {}
                Err(AppError::Conflict(m)) | Err(AppError::NotFound(m)) => {
                    tracing::warn!(task_id = %task.task_id, reason = %m, "lease lost before the task started");
                    continue;
                }
                Err(e) => tracing::warn!(task_id = %task.task_id, error = %e, "heartbeat failed"),
            }
        }
        if stop {
            give_back(&mut f, task);
            tasks.by_ref().for_each(|t| give_back(&mut f, t));
            break;
        }
        let span = tracing::info_span!(
            "task",
            job_id = %task.job_id,
            task_id = %task.task_id,
            phase = %task.phase,
            attempt = task.attempt
        );
        match run_one(leases, files, cfg, task, shutdown.clone())
            .instrument(span)
            .await
        {
            Outcome::Done(item) => f.done.push(item),
            Outcome::Failed(id, req) => f.failed.push((id, req)),
            Outcome::Release(id, lease) => {
                // Cancelled, or the worker is stopping: the rest go back too.
                f.released.push((id, lease));
                tasks.by_ref().for_each(|t| give_back(&mut f, t));
                break;
            }
            Outcome::Dropped => {}
        }
    }
    f
}

/// How long the reporter keeps its thread awake waiting for a short task to end.
const AWAKE_WAIT: Duration = Duration::from_micros(250);

/// Sends finished batches back: their completions together (with a claim for more work
/// riding along), failures and releases one by one.
async fn reporter(
    leases: Arc<dyn Leases>,
    pool: Arc<Pool>,
    queue: flume::Sender<Batch>,
    mut outcomes: mpsc::UnboundedReceiver<Finished>,
    shutdown: watch::Receiver<bool>,
) {
    // Another batch fits in one report while this many completions or fewer are taken.
    const FITS: usize = (MAX_BATCH - MAX_PREFETCH) as usize;
    while let Some(first) = outcomes.recv().await {
        // Take what has finished, then give the runners a moment: batches finishing right
        // now share this round trip instead of paying for one of their own.
        let mut items = first.done.len();
        let mut taken = vec![first];
        let mut quiet = 0;
        while quiet < 3 && items <= FITS {
            let before = taken.len();
            while items <= FITS {
                match outcomes.try_recv() {
                    Ok(f) => {
                        items += f.done.len();
                        taken.push(f);
                    }
                    Err(_) => break,
                }
            }
            quiet = if taken.len() > before { 0 } else { quiet + 1 };
            tokio::task::yield_now().await;
        }
        // Short batches still running here end in a moment: waiting for them (about as long
        // as such a batch takes, never more than a couple of milliseconds) lets them share
        // this round trip too, so a job of W quick batches costs one transaction per W.
        // For its first fraction of a millisecond the wait keeps this thread awake (a parked
        // thread takes tens of microseconds to wake when the batch ends on another one).
        if let Some(wait) = pool.short_wait() {
            let until = tokio::time::Instant::now() + wait;
            let awake_until = std::time::Instant::now() + wait.min(AWAKE_WAIT);
            let more = |items: usize| pool.running.load(Ordering::SeqCst) > 0 && items <= FITS;
            while more(items) && std::time::Instant::now() < awake_until {
                match outcomes.try_recv() {
                    Ok(f) => {
                        items += f.done.len();
                        taken.push(f);
                    }
                    Err(mpsc::error::TryRecvError::Empty) => tokio::task::yield_now().await,
                    Err(mpsc::error::TryRecvError::Disconnected) => break,
                }
            }
            while more(items) {
                match tokio::time::timeout_at(until, outcomes.recv()).await {
                    Ok(Some(f)) => {
                        items += f.done.len();
                        taken.push(f);
                    }
                    _ => break,
                }
            }
        }
        let mut done = Vec::with_capacity(items);
        let mut units = 0;
        for f in taken {
            for (id, req) in f.failed {
                if let Err(e) = leases.fail(&id, &req).await {
                    tracing::warn!(task_id = %id, error = %e, "failure not recorded");
                }
            }
            for (id, lease) in f.released {
                if let Err(e) = leases.release(&id, &lease).await {
                    tracing::warn!(task_id = %id, error = %e, "release not recorded");
                }
            }
            if f.done.is_empty() {
                pool.release(1);
            } else {
                units += 1;
                done.extend(f.done);
            }
        }
        if done.is_empty() {
            continue;
        }
        let stopping = *shutdown.borrow();
        for b in deliver(&*leases, &pool, done, units, stopping).await {
            let _ = queue.send(b);
        }
    }
}

/// Sends finished tasks (of `units` batches) back with a claim for as many batches as
/// there is room for (none when shutting down), and returns the batches claimed.
async fn deliver(
    leases: &dyn Leases,
    pool: &Pool,
    items: Vec<CompletedTask>,
    units: usize,
    stopping: bool,
) -> Vec<Batch> {
    let claim = if stopping {
        pool.release(units);
        0
    } else {
        pool.reserve(units)
    };
    let req = CompleteBatch {
        worker_id: pool.cfg.worker_id.clone(),
        items,
        claim: claim as i64,
        prefetch: true,
        handlers: pool.cfg.handlers.names(),
        limits: pool.cfg.handlers.limits(),
    };
    let sent = Instant::now();
    match send_batch(leases, &req, pool.cfg.lease_ms).await {
        Some(reply) => {
            pool.reported_in(sent.elapsed());
            let batches = Batch::split(reply.tasks);
            tracing::debug!(
                completed = req.items.len(),
                asked = claim,
                claimed = batches.len(),
                ms = sent.elapsed().as_secs_f64() * 1000.0,
                "batch reported"
            );
            for r in reply.results.iter().filter(|r| !r.ok) {
                // Another worker took over after this lease expired: correct, nothing to do.
                tracing::warn!(task_id = %r.task_id, error = ?r.error, "completion refused");
            }
            pool.release(claim.saturating_sub(batches.len()));
            batches
        }
        None => {
            pool.release(claim);
            Vec::new()
        }
    }
}

/// Sends a batch, retrying while the server is unreachable for as long as the leases could
/// still be valid; `None` when it could not be delivered (the leases then expire and the
/// tasks run again elsewhere).
async fn send_batch(leases: &dyn Leases, req: &CompleteBatch, lease_ms: i64) -> Option<BatchReply> {
    let give_up = Instant::now() + Duration::from_millis(lease_ms.max(0) as u64);
    let mut failures = 0u32;
    loop {
        match leases.complete_batch(req).await {
            Ok(reply) => return Some(reply),
            Err(e @ (AppError::Unreachable(_) | AppError::Internal))
                if Instant::now() < give_up =>
            {
                failures = (failures + 1).min(6);
                let delay = Duration::from_millis(100 << failures);
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "completions not sent");
                tokio::time::sleep(delay).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, tasks = req.items.len(), "completions not recorded");
                return None;
            }
        }
    }
}

/// Sends a running step's log lines to the server under the step's lease.
struct Shipper<'a> {
    leases: &'a dyn Leases,
    worker_id: &'a str,
}

#[async_trait]
impl LogShip for Shipper<'_> {
    async fn ship(&self, task_id: &str, attempt: i64, lines: Vec<String>) {
        let req = LogLines {
            worker_id: self.worker_id.to_string(),
            attempt,
            lines,
        };
        if let Err(e) = self.leases.log(task_id, &req).await {
            // The lines are lost; the step goes on (its lease decides whether it counts).
            tracing::warn!(task_id, error = %e, "log lines not recorded");
        }
    }
}

enum Stop {
    Cancelled,
    LeaseLost(String),
    Shutdown,
}

/// Runs one task while heartbeating its lease; says how it ended.
async fn run_one(
    leases: &dyn Leases,
    files: &dyn FileStore,
    cfg: &WorkerConfig,
    task: LeasedTask,
    mut shutdown: watch::Receiver<bool>,
) -> Outcome {
    let lease = LeaseRef {
        worker_id: cfg.worker_id.clone(),
        attempt: task.attempt,
    };
    let started = Instant::now();
    let started_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or_default();
    let mut beat_every = Duration::from_millis((cfg.lease_ms / 3).max(100) as u64);
    if let Some(within) = cfg.kinds.notice_cancel_within(&task.job_kind) {
        beat_every = beat_every.min(within);
    }
    let shipper = Shipper {
        leases,
        worker_id: &cfg.worker_id,
    };
    let site = Worksite {
        files,
        server: leases.server(),
        handlers: &cfg.handlers,
        log: &shipper,
    };
    let work = cfg.kinds.execute(&task, site);
    tokio::pin!(work);
    // The first beat is one period away: an interval's immediate first tick would wait for
    // the timer wheel and cost a quick task a millisecond.
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + beat_every, beat_every);
    let mut shutdown_deadline: Option<tokio::time::Instant> = None;
    let outcome: Result<Result<Executed, ExecError>, Stop> = loop {
        let grace = async {
            match shutdown_deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = &mut work => break Ok(r),
            _ = ticker.tick() => match leases.heartbeat(&task.task_id, &lease).await {
                Ok(reply) if reply.cancelled => break Err(Stop::Cancelled),
                Ok(_) => {}
                Err(AppError::Conflict(m)) | Err(AppError::NotFound(m)) => break Err(Stop::LeaseLost(m)),
                Err(e) => tracing::warn!(task_id = %task.task_id, error = %e, "heartbeat failed; retrying"),
            },
            _ = shutdown.changed(), if shutdown_deadline.is_none() => {
                shutdown_deadline = Some(tokio::time::Instant::now() + cfg.shutdown_grace);
            }
            _ = grace => break Err(Stop::Shutdown),
        }
    };
    let label = match &outcome {
        Ok(Ok(_)) => "completed",
        Ok(Err(_)) => "failed",
        Err(Stop::Cancelled) => "cancelled",
        Err(Stop::Shutdown) => "released",
        Err(Stop::LeaseLost(_)) => "lease_lost",
    };
    tracing::debug!(outcome = label, "task finished");
    match outcome {
        Ok(Ok(done)) => Outcome::Done(CompletedTask {
            task_id: task.task_id.clone(),
            job_id: Some(task.job_id.clone()),
            attempt: task.attempt,
            output: done.output,
            run_ms: Some(started.elapsed().as_millis() as i64),
            started_us: Some(started_us),
            run_us: Some(started.elapsed().as_micros() as i64),
            spawn: done.spawn,
        }),
        Ok(Err(e)) => Outcome::Failed(
            task.task_id.clone(),
            FailRequest {
                worker_id: cfg.worker_id.clone(),
                attempt: task.attempt,
                error: e.to_string(),
                retryable: matches!(e, ExecError::Retryable(_)),
            },
        ),
        Err(Stop::Cancelled) | Err(Stop::Shutdown) => Outcome::Release(task.task_id.clone(), lease),
        Err(Stop::LeaseLost(m)) => {
            tracing::warn!(task_id = %task.task_id, reason = %m, "lease lost; result dropped");
            Outcome::Dropped
        }
    }
}
