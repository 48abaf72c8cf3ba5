//! SQLite's one write path: a thread that owns the only writing connection (rusqlite) and
//! runs every write of the store, in arrival order.
//!
//! Written here rather than taken from a crate (tokio-rusqlite runs one call per message)
//! because it batches: the writes waiting when the thread comes round share one transaction,
//! each inside a savepoint of its own, so one that fails is undone alone and the others
//! commit together. Many workers reporting at once then cost one commit, not one each.
//! rusqlite rather than sqlx: a write is one plain call on this thread, with no hop to a
//! driver thread per statement, which is what keeps the queue's figures.
//!
//! Checkpoints of the write-ahead log happen off this thread (a passive checkpoint never
//! blocks writers): every `EVERY` batches the checkpoint thread is woken. Only when the log
//! has grown past `COMPLETE_AT` pages does the writer itself run a `RESTART` checkpoint
//! between two batches, so the log starts over and stays bounded.

use super::super::{StoreError, StoreResult};
use rusqlite::{Connection, Transaction, TransactionBehavior};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

/// Batches between two passive checkpoints.
const EVERY: u64 = 32;
/// Log pages beyond which the writer restarts the log between two batches.
const COMPLETE_AT: i64 = 4096;
/// Most writes one transaction carries.
const MOST_PER_BATCH: usize = 64;

/// A write: runs inside the batch's transaction and hands back how to answer its caller
/// once the transaction's fate is known (`None`: committed; `Some`: why it was not).
type Job = Box<dyn FnOnce(&mut Transaction<'_>) -> Answer + Send>;
type Answer = Box<dyn FnOnce(Option<&str>) + Send>;

/// What the writer thread is asked to do.
enum Request {
    /// A write that may share a transaction with others.
    Batched(Job),
    /// A write that runs alone: its own transaction, committed or rolled back by itself
    /// (a long import).
    Alone(Box<dyn FnOnce(&mut Connection) + Send>),
}

/// The handle every write goes through; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Request>,
}

impl Writer {
    /// Starts the writer thread on `conn` and the checkpoint thread on `checkpoints` (none
    /// for an in-memory database).
    pub fn start(conn: Connection, checkpoints: Option<Connection>) -> Self {
        let (tx, rx) = mpsc::channel::<Request>();
        let log = Arc::new(AtomicI64::new(0));
        let ckpt = checkpoints.map(|c| Checkpoints::start(c, log.clone()));
        std::thread::Builder::new()
            .name("orchard-sqlite-writer".into())
            .spawn(move || run(conn, rx, ckpt, log))
            .expect("spawn the SQLite writer thread");
        Self { tx }
    }

    /// Runs `f` in a write transaction (shared with other writes waiting at the same time,
    /// inside a savepoint of its own): its changes commit when it returns `Ok`, and are
    /// undone, alone, when it returns an error.
    pub async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (done, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |tx: &mut Transaction<'_>| {
            let out = match tx.savepoint_with_name("w") {
                Ok(mut sp) => {
                    // A savepoint drops by rolling back unless committed (released).
                    sp.set_drop_behavior(rusqlite::DropBehavior::Rollback);
                    match f(&sp) {
                        Ok(v) => sp.commit().map(|()| v).map_err(StoreError::from),
                        Err(e) => Err(e),
                    }
                }
                Err(e) => Err(e.into()),
            };
            Box::new(move |failed: Option<&str>| {
                let out = match (out, failed) {
                    (Ok(_), Some(why)) => Err(StoreError::Unavailable(why.to_string())),
                    (out, _) => out,
                };
                let _ = done.send(out);
            })
        });
        self.send(Request::Batched(job))?;
        answer.await.map_err(|_| not_run())?
    }

    /// Runs `f` with the connection to itself: no other write runs until it returns. For
    /// work that manages its own transaction.
    pub async fn alone<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let (done, answer) = tokio::sync::oneshot::channel();
        self.send(Request::Alone(Box::new(move |conn| {
            let _ = done.send(f(conn));
        })))?;
        answer.await.map_err(|_| not_run())?
    }

    fn send(&self, r: Request) -> StoreResult<()> {
        self.tx.send(r).map_err(|_| gone())
    }
}

/// The writer dropped a write without running it (its transaction did not begin; the
/// server log says why).
fn not_run() -> StoreError {
    StoreError::Unavailable("the write did not run".into())
}

fn gone() -> StoreError {
    StoreError::Unavailable("the SQLite writer has stopped".into())
}

fn run(
    mut conn: Connection,
    rx: mpsc::Receiver<Request>,
    ckpt: Option<Checkpoints>,
    log: Arc<AtomicI64>,
) {
    let mut batches = 0u64;
    let mut restart_at = COMPLETE_AT;
    // Ends when every `Writer` is dropped.
    while let Ok(first) = rx.recv() {
        let mut jobs = Vec::new();
        let mut next = Some(first);
        while let Some(r) = next.take() {
            match r {
                Request::Batched(j) => jobs.push(j),
                Request::Alone(f) => {
                    commit_batch(&mut conn, std::mem::take(&mut jobs));
                    f(&mut conn);
                }
            }
            if jobs.len() < MOST_PER_BATCH {
                next = rx.try_recv().ok();
            }
        }
        commit_batch(&mut conn, jobs);
        batches += 1;
        if let Some(c) = &ckpt
            && batches % EVERY == 0
        {
            c.wake();
        }
        let pages = log.load(Ordering::Relaxed);
        if ckpt.is_some() && pages >= restart_at {
            // The writer holds every write back while it runs: the log starts over.
            restart_at = match checkpoint(&conn, "RESTART") {
                Ok((false, _, _)) => COMPLETE_AT,
                Ok((true, _, _)) => pages + COMPLETE_AT,
                Err(e) => {
                    tracing::warn!(error = %e, "checkpoint failed");
                    pages + COMPLETE_AT
                }
            };
            log.store(0, Ordering::Relaxed);
        }
    }
}

/// Runs `jobs` in one transaction and answers each once it committed. A job's own failure
/// is undone by its savepoint and answered as its error; a transaction that does not begin
/// or commit fails them all.
fn commit_batch(conn: &mut Connection, jobs: Vec<Job>) {
    if jobs.is_empty() {
        return;
    }
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            tracing::error!(error = %e, "SQLite write transaction did not begin");
            drop(jobs);
            return;
        }
    };
    let mut tx = tx;
    let answers: Vec<Answer> = jobs.into_iter().map(|job| job(&mut tx)).collect();
    match tx.commit() {
        Ok(()) => answers.into_iter().for_each(|a| a(None)),
        Err(e) => {
            tracing::error!(error = %e, "SQLite write transaction did not commit");
            let why = format!("the write was not committed: {e}");
            answers.into_iter().for_each(|a| a(Some(&why)));
        }
    }
}

/// `PRAGMA wal_checkpoint(mode)`: (whether a reader or writer kept it from finishing, pages
/// in the log, pages of it now in the database file).
fn checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<(bool, i64, i64)> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
        Ok((r.get::<_, i64>(0)? != 0, r.get(1)?, r.get(2)?))
    })
}

/// The checkpoint thread: passive checkpoints on a connection of its own, when woken.
struct Checkpoints {
    wake: mpsc::SyncSender<()>,
}

impl Checkpoints {
    fn start(conn: Connection, log: Arc<AtomicI64>) -> Self {
        let (wake, rx) = mpsc::sync_channel::<()>(1);
        let _ = conn.busy_timeout(Duration::from_millis(10));
        std::thread::Builder::new()
            .name("orchard-sqlite-checkpoints".into())
            .spawn(move || {
                while rx.recv().is_ok() {
                    match checkpoint(&conn, "PASSIVE") {
                        Ok((_, pages, copied)) => {
                            tracing::debug!(pages, copied, "checkpoint");
                            log.store(pages, Ordering::Relaxed);
                        }
                        Err(e) => tracing::warn!(error = %e, "checkpoint failed"),
                    }
                }
            })
            .expect("spawn the SQLite checkpoint thread");
        Self { wake }
    }

    /// Asks for a checkpoint unless one is already asked for.
    fn wake(&self) {
        let _ = self.wake.try_send(());
    }
}
