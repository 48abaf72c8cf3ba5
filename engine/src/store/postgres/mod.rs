//! The Postgres store: the scale-out queue. Claims lock job rows with `FOR UPDATE SKIP
//! LOCKED` (in the lease functions, `functions.sql`), so any number of `orchard serve`
//! replicas can claim at once without waiting on each other or ever leasing more than a
//! job's concurrency. Each domain's Postgres module (`accounts/postgres.rs`, …) works
//! through this pool; change notices travel between replicas with `LISTEN`/`NOTIFY`.

use super::{Backend, StoreError, StoreResult};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

pub mod functions;

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
}

/// Ends a write transaction by its outcome: committed when `out` is `Ok`, rolled back now
/// otherwise. A dropped transaction would keep its row and advisory locks until its
/// connection is next used, and a claim skipping a locked job would find nothing meanwhile.
pub(in crate::store) async fn finish<T>(
    tx: sqlx::Transaction<'static, sqlx::Postgres>,
    out: StoreResult<T>,
) -> StoreResult<T> {
    match out {
        Ok(v) => {
            tx.commit().await?;
            Ok(v)
        }
        Err(e) => {
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

#[async_trait::async_trait]
impl super::Store for PgStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    /// Pool figures for metrics: (connections open, idle).
    fn pool_usage(&self) -> (u32, u32) {
        (self.write.size(), self.write.num_idle() as u32)
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query_scalar::<_, i64>("SELECT CAST(1 AS BIGINT)")
            .fetch_one(&self.read)
            .await?;
        Ok(())
    }

    async fn notify_change(&self, payload: &str) -> StoreResult<()> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(payload)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn change_feed(&self) -> StoreResult<Option<Box<dyn super::ChangeFeed>>> {
        let mut listener = PgListener::connect_with(&self.write).await?;
        listener.listen(CHANNEL).await?;
        Ok(Some(Box::new(Feed(listener))))
    }
}
