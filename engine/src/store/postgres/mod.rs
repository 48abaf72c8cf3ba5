//! Postgres store: the scale-out queue. Claims lock job rows with `FOR UPDATE SKIP LOCKED`,
//! so any number of `orchard serve` replicas can claim at once without waiting on each other
//! or ever leasing more than a job's concurrency.

use super::queries::{is_active, phase_rank, store_impl};
use super::{Backend, StoreError, StoreResult};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

pub mod functions;
mod leases;

/// The `LISTEN`/`NOTIFY` channel replicas share change notices on.
const CHANNEL: &str = "orchard_changes";

struct Feed(PgListener);

#[async_trait::async_trait]
impl super::ChangeFeed for Feed {
    async fn recv(&mut self) -> StoreResult<String> {
        Ok(self.0.recv().await?.payload().to_string())
    }
}

pub struct PgStore {
    pub(super) read: PgPool,
    pub(super) write: PgPool,
}

impl PgStore {
    /// Connects to `url` and migrates the database.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let opts = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("bad Postgres URL: {e}")))?;
        // No ping before each use: it is a network round trip per transaction and per read.
        // A connection broken by a database restart fails its next statement once and is
        // then replaced; the workers retry, and a request sees one error.
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await?;
        super::migrations::run_postgres(&pool).await?;
        functions::install(&pool).await?;
        Ok(Self {
            read: pool.clone(),
            write: pool,
        })
    }

    /// Inserts a new job and its tasks (`ids[i]` is task `i`'s id) in one transaction.
    async fn insert_job(
        &self,
        job_id: &str,
        job: &super::NewJob,
        ids: &[String],
        now: i64,
    ) -> StoreResult<()> {
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO jobs (id, kind, params, state, phase, concurrency, max_attempts, \
             done, total, created_at, server_only) \
             VALUES ($1, $2, $3, 'queued', $4, $5, $6, 0, $7, $8, $9)",
        )
        .bind(job_id)
        .bind(job.kind)
        .bind(job.params.to_string())
        .bind(job.phase)
        .bind(job.concurrency)
        .bind(job.max_attempts)
        .bind(job.tasks.len() as i64)
        .bind(now)
        .bind(job.server_only)
        .execute(&mut *tx)
        .await?;
        Self::insert_tasks(&mut tx, job_id, ids, &job.tasks, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Inserts a new job's tasks: one statement per 10,000, the columns bound as arrays
    /// (a statement with a placeholder per value costs more to send and plan than to run),
    /// in plan order.
    async fn insert_tasks(
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        job_id: &str,
        ids: &[String],
        tasks: &[crate::jobs::plan::TaskSpec],
        now: i64,
    ) -> StoreResult<()> {
        for (c, chunk) in tasks.chunks(10_000).enumerate() {
            let first = c * 10_000;
            let seqs: Vec<i64> = (first..first + chunk.len()).map(|i| i as i64).collect();
            let parents: Vec<Option<&str>> = chunk
                .iter()
                .map(|t| t.parent.map(|p| ids[p].as_str()))
                .collect();
            let phases: Vec<&str> = chunk.iter().map(|t| t.phase).collect();
            let payloads: Vec<String> = chunk.iter().map(|t| t.payload.to_string()).collect();
            let deps: Vec<i64> = chunk.iter().map(|t| t.deps).collect();
            sqlx::query(
                "INSERT INTO job_tasks (id, job_id, parent_id, phase, seq, payload, state, \
                 deps_pending, fan_in, ready_at) \
                 SELECT t.id, $1, t.parent, t.phase, t.seq, t.payload, \
                   CASE WHEN t.deps = 0 THEN 'ready' ELSE 'waiting' END, t.deps, t.deps, \
                   CASE WHEN t.deps = 0 THEN $2::BIGINT END \
                 FROM UNNEST($3::TEXT[], $4::TEXT[], $5::TEXT[], $6::BIGINT[], $7::TEXT[], \
                   $8::BIGINT[]) AS t (id, parent, phase, seq, payload, deps)",
            )
            .bind(job_id)
            .bind(now)
            .bind(&ids[first..first + chunk.len()])
            .bind(&parents)
            .bind(&phases)
            .bind(&seqs)
            .bind(&payloads)
            .bind(&deps)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    /// Progress inside running tasks is stored in the jobs table, for every replica.
    fn work_board(&self) -> Option<&super::WorkBoard> {
        None
    }

    fn with_work(&self, job: crate::jobs::model::Job) -> StoreResult<crate::jobs::model::Job> {
        Ok(job)
    }

    async fn notify_change_impl(&self, payload: &str) -> StoreResult<()> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(payload)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn change_feed_impl(&self) -> StoreResult<Option<Box<dyn super::ChangeFeed>>> {
        let mut listener = PgListener::connect_with(&self.write).await?;
        listener.listen(CHANNEL).await?;
        Ok(Some(Box::new(Feed(listener))))
    }

    /// Pool figures for metrics: (connections open, idle).
    pub fn pool_figures(&self) -> (u32, u32) {
        (self.write.size(), self.write.num_idle() as u32)
    }
}

store_impl!(
    PgStore,
    sqlx::Postgres,
    Backend::Postgres,
    " FOR UPDATE",
    " FOR UPDATE OF j SKIP LOCKED"
);
