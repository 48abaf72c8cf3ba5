//! Postgres store: the scale-out queue. Claims lock job rows with `FOR UPDATE SKIP LOCKED`,
//! so any number of `orchard serve` replicas can claim at once without waiting on each other
//! or ever leasing more than a job's concurrency.

use super::queries::store_impl;
use super::{Backend, StoreError, StoreResult};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

pub struct PgStore {
    pub(super) read: PgPool,
    pub(super) write: PgPool,
}

impl PgStore {
    /// Connects to `url` and migrates the database.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let opts = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("bad Postgres URL: {e}")))?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await?;
        sqlx::migrate!("../migrations/postgres").run(&pool).await?;
        Ok(Self {
            read: pool.clone(),
            write: pool,
        })
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
