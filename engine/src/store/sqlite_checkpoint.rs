//! Checkpoints of SQLite's write-ahead log, off the lease path.
//!
//! SQLite copies the log back into the database file (a checkpoint) from the connection
//! whose commit took the log past a size, inside that commit's call. On the lease path
//! that is a worker's report: every thousand pages of log one report took 2–3 ms, and every
//! other report waited behind it, a fifth of a busy job's time at `W = 2`.
//!
//! So the lease connection does not checkpoint; this does, on a connection of its own, on a
//! blocking thread, every `EVERY` lease transactions, while they go on (a passive
//! checkpoint never blocks writers). The log starts over from its beginning only after a
//! checkpoint that copied all of it and saw no reader still using it, which a checkpoint
//! racing ongoing writes and reads does not reliably get; so once the log holds
//! `COMPLETE_AT` pages, one checkpoint runs in `RESTART` mode while holding the store's
//! writer: it copies the little the passive ones left, waits (briefly) for readers, and has
//! the next write start the log over. The log stays bounded however long writes go on.

use super::StoreResult;
use super::sqlite_writer::WriterHold;
use rusqlite::{Connection, OpenFlags};
use sqlx::sqlite::SqlitePool;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// Lease transactions between two checkpoints (each writes a few pages of log).
const EVERY: u64 = 32;
/// Log pages beyond which the log starts over (a checkpoint with writes held).
const COMPLETE_AT: i64 = 4096;

pub(super) struct Checkpointer {
    conn: Mutex<Connection>,
    commits: AtomicU64,
    wake: Notify,
    stopped: AtomicBool,
}

impl Checkpointer {
    /// Opens a connection for checkpoints and starts them; they stop with `stop`.
    pub fn start(
        path: &Path,
        write: SqlitePool,
        writer: Arc<WriterHold>,
    ) -> StoreResult<Arc<Self>> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // Readers end within milliseconds; a restart waiting longer for one (while holding
        // the writer) gives up, and the next try waits for the log to grow again.
        conn.busy_timeout(Duration::from_millis(10))?;
        let this = Arc::new(Self {
            conn: Mutex::new(conn),
            commits: AtomicU64::new(0),
            wake: Notify::new(),
            stopped: AtomicBool::new(false),
        });
        tokio::spawn(run(this.clone(), write, writer));
        Ok(this)
    }

    /// Counts a lease transaction; every `EVERY`th asks for a checkpoint.
    pub fn committed(&self) {
        if self.commits.fetch_add(1, Ordering::Relaxed) % EVERY == EVERY - 1 {
            self.wake.notify_one();
        }
    }

    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// A checkpoint (`PASSIVE` or `RESTART`): (whether a reader or writer kept it from
    /// finishing, pages in the log, pages of it now in the database file).
    fn checkpoint(&self, mode: &str) -> rusqlite::Result<(bool, i64, i64)> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
            Ok((r.get::<_, i64>(0)? != 0, r.get(1)?, r.get(2)?))
        })
    }
}

async fn run(this: Arc<Checkpointer>, write: SqlitePool, writer: Arc<WriterHold>) {
    // The log size at which to start it over; moved on when a reader kept a restart from
    // finishing (a long read, such as a tree export, keeps it from finishing meanwhile).
    let mut restart_at = COMPLETE_AT;
    loop {
        this.wake.notified().await;
        if this.stopped.load(Ordering::SeqCst) {
            return;
        }
        let ck = this.clone();
        let log = match tokio::task::spawn_blocking(move || ck.checkpoint("PASSIVE")).await {
            Ok(Ok((_, log, copied))) => {
                tracing::debug!(log, copied, "checkpoint");
                log
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "checkpoint failed");
                continue;
            }
            Err(_) => return,
        };
        if log < restart_at {
            continue;
        }
        let ck = this.clone();
        let done = writer
            .run(&write, || {
                super::blocking(|| ck.checkpoint("RESTART")).map_err(Into::into)
            })
            .await;
        tracing::debug!(result = ?done, "checkpoint with writes held");
        restart_at = match done {
            Ok((false, _, _)) => COMPLETE_AT,
            Ok((true, _, _)) => log + COMPLETE_AT,
            Err(e) => {
                tracing::warn!(error = %e, "checkpoint failed");
                log + COMPLETE_AT
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_log_stays_bounded_under_back_to_back_writes() {
        let dir = std::env::temp_dir().join(format!("orchard-ckpt-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.db");
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(
                SqliteConnectOptions::new()
                    .filename(&path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal),
            )
            .await
            .unwrap();
        sqlx::query("CREATE TABLE t (v BLOB)")
            .execute(&pool)
            .await
            .unwrap();
        let writes = Connection::open(&path).unwrap();
        writes.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        let writes = Mutex::new(writes);
        let hold = Arc::new(WriterHold::default());
        let ck = Checkpointer::start(&path, pool.clone(), hold.clone()).unwrap();
        let page = vec![7u8; 4096];
        // Each write adds a few pages of log: 12,000 of them, some 50,000 pages unchecked.
        for i in 0..12_000 {
            hold.run(&pool, || {
                let c = writes.lock().unwrap();
                c.execute("INSERT INTO t (v) VALUES (?1)", [&page])?;
                if i % 100 == 99 {
                    c.execute("DELETE FROM t", [])?;
                }
                Ok(())
            })
            .await
            .unwrap();
            ck.committed();
            if i % 64 == 0 {
                tokio::task::yield_now().await;
            }
        }
        let wal = std::fs::metadata(dir.join("t.db-wal")).unwrap().len();
        ck.stop();
        assert!(
            wal < 3 * (COMPLETE_AT as u64) * 4096,
            "the log grew to {wal} bytes"
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
