//! SQLite store: WAL mode, foreign keys on, a busy timeout, a pool of readers and a single
//! writer connection so write transactions never fight over SQLite's one write lock.

use super::queries::{is_active, phase_rank, store_impl};
use super::{Backend, StoreError, StoreResult};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::str::FromStr;
use std::time::Duration;

mod leases;
mod readers;
mod writer;

pub(in crate::store) use readers::{sql, sql_built};
pub(in crate::store) use writer::Session;

pub struct SqliteStore {
    pub(super) read: SqlitePool,
    /// sqlx's one writing connection, for the writes not yet moved to `writer`; every write
    /// of `writer` holds it meanwhile, so the two never contend for SQLite's write lock.
    pub(super) write: SqlitePool,
    /// The write path (`writer.rs`): one thread owning the writing connection.
    writer: writer::Writer,
    /// Read-only connections (`readers.rs`).
    pub(in crate::store) readers: readers::Readers,
    /// Progress inside running tasks stays in memory: one process owns the file, and a
    /// long import holds the one writer the progress would otherwise wait for.
    work: super::WorkBoard,
}

impl SqliteStore {
    /// Opens (creating if needed, with parent folders) the database at `url` and migrates it.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("bad SQLite URL {url:?}: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let path = opts.get_filename().to_path_buf();
        let in_memory = path.as_os_str().is_empty() || path.to_string_lossy().contains(":memory:");
        if let Some(dir) = path
            .parent()
            .filter(|d| !in_memory && !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Config(format!("cannot create {}: {e}", dir.display())))?;
        }
        // The writer keeps up to 64 MiB of pages: a large write (a tree import) then finds
        // its indexes in memory instead of spilling and re-reading them, and memory stays
        // bounded however large the write.
        // The connections live in this process and cannot go stale, so the pools hand them
        // out without the usual health check: that ping is a round trip to the connection's
        // thread before every transaction and every read.
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(opts.clone().pragma("cache_size", "-65536"))
            .await?;
        super::migrations::run_sqlite(&write).await?;
        let checkpoints = if in_memory {
            None
        } else {
            Some(rusqlite::Connection::open(&path)?)
        };
        let writer = writer::Writer::new(leases::open(&path, in_memory)?, checkpoints);
        let readers = readers::Readers::open(&path, in_memory, 8)?;
        let read = SqlitePoolOptions::new()
            .max_connections(8)
            .test_before_acquire(false)
            .connect_with(opts.read_only(true))
            .await?;
        Ok(Self {
            read,
            write,
            writer,
            readers,
            work: Default::default(),
        })
    }

    /// Runs `f` on the writer, holding sqlx's writer meanwhile (see `write`).
    pub(in crate::store) async fn on_writer<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Connection) -> StoreResult<T> + Send + 'static,
    {
        let _sqlx_writer = self.write.acquire().await?;
        self.writer.write(f).await
    }

    /// The writer to one caller until the session drops (with sqlx's writer held too,
    /// until every write has moved to the writer).
    pub(in crate::store) async fn session(
        &self,
    ) -> StoreResult<(writer::Session, sqlx::pool::PoolConnection<sqlx::Sqlite>)> {
        let hold = self.write.acquire().await?;
        Ok((self.writer.session().await, hold))
    }

    /// Leases up to `max` tasks to a worker (see `Store::claim`).
    async fn claim_impl(
        &self,
        worker_id: &str,
        max: i64,
        lease_ms: i64,
        now: i64,
    ) -> StoreResult<Vec<crate::jobs::protocol::LeasedTask>> {
        let worker_id = worker_id.to_string();
        self.on_writer(move |tx| leases::claim(tx, &worker_id, max, lease_ms, now))
            .await
    }

    /// Records completions and leases more tasks (see `Store::complete_batch`).
    async fn complete_batch_impl(
        &self,
        worker_id: &str,
        items: &[crate::jobs::protocol::CompletedTask],
        claim: i64,
        lease_ms: i64,
        now: i64,
    ) -> StoreResult<super::BatchOutcome> {
        let worker_id = worker_id.to_string();
        let items = items.to_vec();
        self.on_writer(move |tx| {
            leases::complete_batch(tx, &worker_id, &items, claim, lease_ms, now)
        })
        .await
    }

    /// Inserts a new job and its tasks (`ids[i]` is task `i`'s id) in one transaction.
    async fn insert_job(
        &self,
        job_id: &str,
        job: &super::NewJob,
        ids: &[String],
        now: i64,
    ) -> StoreResult<()> {
        let (job_id, job, ids) = (job_id.to_string(), job.clone(), ids.to_vec());
        self.on_writer(move |tx| leases::insert_job(tx, &job_id, &job, &ids, now))
            .await
    }

    fn work_board(&self) -> Option<&super::WorkBoard> {
        Some(&self.work)
    }

    /// A job as stored, with its running task's progress from memory.
    fn with_work(&self, mut job: crate::jobs::model::Job) -> StoreResult<crate::jobs::model::Job> {
        if let Some(&(done, total)) = self
            .work
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&job.id)
        {
            job.progress.work_done = done;
            job.progress.work_total = total;
        }
        Ok(job)
    }

    /// One process owns a SQLite file: there is nobody to notify.
    async fn notify_change_impl(&self, _payload: &str) -> StoreResult<()> {
        Ok(())
    }

    async fn change_feed_impl(&self) -> StoreResult<Option<Box<dyn super::ChangeFeed>>> {
        Ok(None)
    }

    /// Pool figures for metrics: (connections open, idle).
    pub fn pool_figures(&self) -> (u32, u32) {
        (
            self.read.size() + self.write.size(),
            (self.read.num_idle() + self.write.num_idle()) as u32,
        )
    }
}

store_impl!(SqliteStore, sqlx::Sqlite, Backend::Sqlite, "", "");
