//! SQLite's one write path: the only writing connection (rusqlite), behind a fair async
//! lock, and the queue of writes waiting for it.
//!
//! A write joins the queue, then takes the lock. Whoever holds the lock runs every write
//! queued by then in one transaction and answers each once it committed; a writer that gets
//! the lock after its write was carried by someone else's transaction just reads its answer.
//! Alone, a write runs straight away on the caller's own thread, with no hop to another
//! thread; when many workers report at once, their writes share a transaction (and a
//! commit). In a shared transaction each write runs inside a savepoint of its own, so one
//! that fails is undone alone.
//!
//! The lock is a plain mutex, held only while a transaction runs (well under a millisecond;
//! an async lock cost a fifth more per worker report, measured). Long work that spans awaits
//! (a tree import) takes the gate for itself instead (`session`): writes wait for the gate
//! asynchronously, so no thread blocks meanwhile.
//!
//! Written here rather than taken from a crate (tokio-rusqlite runs each call on a thread of
//! its own, one call per message) because of those two properties, which is where the
//! queue's figures come from. rusqlite rather than sqlx for the same reason: a statement is
//! a plain call, with no hop to a driver thread.
//!
//! Checkpoints of the write-ahead log run on a thread of their own (a passive checkpoint
//! never blocks writers), woken every `EVERY` transactions. When the log has grown past
//! `COMPLETE_AT` pages anyway, the lock holder runs a `RESTART` checkpoint between two
//! transactions, so the log starts over and stays bounded.

use super::super::{StoreError, StoreResult, blocking};
use rusqlite::Connection;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// Transactions between two passive checkpoints.
const EVERY: u64 = 32;
/// Log pages beyond which the lock holder restarts the log.
const COMPLETE_AT: i64 = 4096;

/// A queued write: runs on the connection (inside the transaction; in a savepoint when the
/// flag says the transaction is shared), says whether it succeeded, and hands back how to
/// answer its caller once the transaction's fate is known (`None`: committed).
type Job = Box<dyn FnOnce(&Connection, bool) -> (bool, Answer) + Send>;
type Answer = Box<dyn FnOnce(Option<&str>) + Send>;

pub struct Writer {
    /// Held shared by each write, alone by a session.
    gate: Arc<tokio::sync::RwLock<()>>,
    conn: Arc<Mutex<Connection>>,
    queue: Mutex<Vec<Job>>,
    transactions: AtomicU64,
    /// Log pages after the last passive checkpoint.
    log: Arc<AtomicI64>,
    restart_at: AtomicI64,
    checkpoints: Option<Checkpoints>,
}

impl Writer {
    /// The write path on `conn`, with passive checkpoints on `checkpoints` (none for an
    /// in-memory database).
    pub fn new(conn: Connection, checkpoints: Option<Connection>) -> Self {
        let log = Arc::new(AtomicI64::new(0));
        Self {
            gate: Arc::new(tokio::sync::RwLock::new(())),
            conn: Arc::new(Mutex::new(conn)),
            queue: Mutex::new(Vec::new()),
            transactions: AtomicU64::new(0),
            checkpoints: checkpoints.map(|c| Checkpoints::start(c, log.clone())),
            log,
            restart_at: AtomicI64::new(COMPLETE_AT),
        }
    }

    /// Runs `f` in a write transaction, perhaps shared with other writes waiting at the same
    /// time: its changes commit when it returns `Ok` and are undone, alone, when it returns
    /// an error.
    pub async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (done, mut answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn: &Connection, shared: bool| {
            let out = if shared {
                in_savepoint(conn, f)
            } else {
                f(conn)
            };
            let ok = out.is_ok();
            let answer: Answer = Box::new(move |failed: Option<&str>| {
                let out = match (out, failed) {
                    (Ok(_), Some(why)) => Err(StoreError::Unavailable(why.to_string())),
                    (out, _) => out,
                };
                let _ = done.send(out);
            });
            (ok, answer)
        });
        let _gate = self.gate.read().await;
        self.queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(job);
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        // Carried by the transaction of whoever held the lock before.
        if let Ok(out) = answer.try_recv() {
            return out;
        }
        let jobs = std::mem::take(&mut *self.queue.lock().unwrap_or_else(|p| p.into_inner()));
        // On this thread, with no hand-off of its other work: a write takes well under a
        // millisecond, and handing the thread's work elsewhere costs a good part of that.
        self.commit(&conn, jobs);
        self.after_commit(&conn);
        drop(conn);
        answer
            .try_recv()
            .unwrap_or_else(|_| Err(StoreError::Unavailable("the write did not run".into())))
    }

    /// The connection to a session of its own, for work that spans awaits and manages its
    /// own transaction: no other write runs until the session drops.
    pub async fn session(&self) -> Session {
        Session {
            _gate: self.gate.clone().write_owned().await,
            conn: self.conn.clone(),
        }
    }

    /// Runs `jobs` in one transaction and answers each once it committed. Alone, a job runs
    /// in the transaction itself; shared, each in its own savepoint. A transaction that
    /// does not begin or commit fails them all.
    fn commit(&self, conn: &Connection, jobs: Vec<Job>) {
        if jobs.is_empty() {
            return;
        }
        let shared = jobs.len() > 1;
        // A write that panicked left its transaction open: it is undone first.
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        if let Err(e) = run(conn, "BEGIN IMMEDIATE") {
            // The jobs are dropped unrun; their callers learn the write did not run.
            tracing::error!(error = %e, "SQLite write transaction did not begin");
            return;
        }
        let mut all_ok = true;
        let answers: Vec<Answer> = jobs
            .into_iter()
            .map(|job| {
                let (ok, answer) = job(conn, shared);
                all_ok &= ok;
                answer
            })
            .collect();
        // Alone, a write that failed takes the whole transaction back with it; shared, its
        // savepoint already undid it.
        if !shared && !all_ok {
            if let Err(e) = run(conn, "ROLLBACK") {
                tracing::error!(error = %e, "SQLite write transaction did not roll back");
            }
            answers.into_iter().for_each(|a| a(None));
            return;
        }
        match run(conn, "COMMIT") {
            Ok(()) => answers.into_iter().for_each(|a| a(None)),
            Err(e) => {
                tracing::error!(error = %e, "SQLite write transaction did not commit");
                let _ = conn.execute_batch("ROLLBACK");
                let why = format!("the write was not committed: {e}");
                answers.into_iter().for_each(|a| a(Some(&why)));
            }
        }
        self.transactions.fetch_add(1, Ordering::Relaxed);
    }

    /// Checkpoints, between two transactions.
    fn after_commit(&self, conn: &Connection) {
        let Some(c) = &self.checkpoints else { return };
        if self
            .transactions
            .load(Ordering::Relaxed)
            .is_multiple_of(EVERY)
        {
            c.wake();
        }
        let pages = self.log.load(Ordering::Relaxed);
        let restart_at = self.restart_at.load(Ordering::Relaxed);
        if pages < restart_at {
            return;
        }
        // The lock is held: no write runs while the log starts over.
        let next = match blocking(|| checkpoint(conn, "RESTART")) {
            Ok((false, _, _)) => COMPLETE_AT,
            Ok((true, _, _)) => pages + COMPLETE_AT,
            Err(e) => {
                tracing::warn!(error = %e, "checkpoint failed");
                pages + COMPLETE_AT
            }
        };
        self.restart_at.store(next, Ordering::Relaxed);
        self.log.store(0, Ordering::Relaxed);
    }
}

/// The writing connection, to one caller until dropped.
pub struct Session {
    _gate: tokio::sync::OwnedRwLockWriteGuard<()>,
    conn: Arc<Mutex<Connection>>,
}

impl Session {
    /// Runs `f` on the connection, on this thread (handing its other work to the runtime).
    pub fn run<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        blocking(|| f(&conn))
    }
}

impl Drop for Session {
    /// A session that ended without finishing its transaction (an error, a cancelled
    /// import) leaves nothing half done.
    fn drop(&mut self) {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
    }
}

/// Runs `f` inside a savepoint: released when it returns `Ok`, rolled back otherwise.
fn in_savepoint<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> StoreResult<T>,
) -> StoreResult<T> {
    run(conn, "SAVEPOINT w")?;
    match f(conn) {
        Ok(v) => {
            run(conn, "RELEASE w")?;
            Ok(v)
        }
        Err(e) => {
            run(conn, "ROLLBACK TO w")?;
            run(conn, "RELEASE w")?;
            Err(e)
        }
    }
}

/// Runs a transaction-control statement through the statement cache: parsed once, not on
/// every write.
fn run(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
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
                // Ends when the writer (and with it the sender) is dropped.
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn temp_db(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("orchard-{tag}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("t.db")
    }

    fn open(path: &std::path::Path) -> Connection {
        let c = Connection::open(path).unwrap();
        c.pragma_update(None, "journal_mode", "WAL").unwrap();
        c.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        c
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_waiting_together_commit_together_and_fail_alone() {
        let path = temp_db("batch");
        let c = open(&path);
        c.execute_batch("CREATE TABLE t (v INTEGER PRIMARY KEY)")
            .unwrap();
        let w = Arc::new(Writer::new(c, None));
        let mut handles = Vec::new();
        for i in 0..200_i64 {
            let w = w.clone();
            handles.push(tokio::spawn(async move {
                w.write(move |c| {
                    c.execute("INSERT INTO t (v) VALUES (?1)", [i])?;
                    if i % 10 == 0 {
                        // A second insert of the same value fails: this write is undone
                        // whole, its first insert included, and nobody else's is.
                        c.execute("INSERT INTO t (v) VALUES (?1)", [i])?;
                    }
                    Ok(i)
                })
                .await
            }));
        }
        let mut failed = 0;
        for h in handles {
            if h.await.unwrap().is_err() {
                failed += 1;
            }
        }
        assert_eq!(failed, 20);
        let rows: i64 = w
            .write(|c| {
                Ok(c.query_row("SELECT COUNT(*) FROM t WHERE v % 10 <> 0", [], |r| r.get(0))?)
            })
            .await
            .unwrap();
        let undone: i64 = w
            .write(
                |c| Ok(c.query_row("SELECT COUNT(*) FROM t WHERE v % 10 = 0", [], |r| r.get(0))?),
            )
            .await
            .unwrap();
        assert_eq!((rows, undone), (180, 0));
        std::fs::remove_dir_all(path.parent().unwrap()).ok();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_log_stays_bounded_under_back_to_back_writes() {
        let path = temp_db("ckpt");
        let c = open(&path);
        c.execute_batch("CREATE TABLE t (v BLOB)").unwrap();
        let w = Writer::new(c, Some(Connection::open(&path).unwrap()));
        let page = vec![7u8; 4096];
        // Each write adds a few pages of log: 12,000 of them, some 50,000 pages unchecked.
        for i in 0..12_000 {
            let page = page.clone();
            w.write(move |c| {
                c.execute("INSERT INTO t (v) VALUES (?1)", [&page])?;
                if i % 100 == 99 {
                    c.execute("DELETE FROM t", [])?;
                }
                Ok(())
            })
            .await
            .unwrap();
            if i % 64 == 0 {
                tokio::task::yield_now().await;
            }
        }
        let wal = std::fs::metadata(path.with_extension("db-wal"))
            .unwrap()
            .len();
        assert!(
            wal < 3 * (COMPLETE_AT as u64) * 4096,
            "the log grew to {wal} bytes"
        );
        std::fs::remove_dir_all(path.parent().unwrap()).ok();
    }
}
