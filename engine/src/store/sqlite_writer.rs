//! Holding SQLite's one sqlx writer across a run of lease transactions.
//!
//! Claims and completions run on a connection of their own (`sqlite_leases.rs`) and keep
//! every other write out by holding the store's single sqlx writer meanwhile. Taking that
//! writer from its pool and giving it back for every transaction is costly: sqlx checks a
//! returned connection with a round trip to its thread, in a task of its own, and the next
//! transaction cannot start until the check is done. That hand-off, not SQLite, bounded a
//! worker reporting one task at a time.
//!
//! So lease transactions keep the writer while they come in quick succession: it goes back
//! to the pool once none has run for `IDLE`, and in any case `MAX_HOLD` after it was taken,
//! so a sqlx write waiting for it (the pool serves waiters in order) waits at most that long.

use super::StoreResult;
use sqlx::Sqlite;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::SqlitePool;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// No lease transaction for this long: the writer goes back to the pool.
const IDLE: Duration = Duration::from_millis(1);
/// Held this long: the writer goes back at the next transaction, letting sqlx writes in.
const MAX_HOLD: Duration = Duration::from_millis(4);

struct Held {
    conn: Option<PoolConnection<Sqlite>>,
    since: Instant,
    last_used: Instant,
}

impl Drop for Held {
    fn drop(&mut self) {
        // Giving a connection back spawns a task: with no runtime left (the store dropped
        // after it), the connection just closes.
        if let Some(conn) = self.conn.take()
            && tokio::runtime::Handle::try_current().is_err()
        {
            drop(conn.detach());
        }
    }
}

#[derive(Default)]
pub(super) struct WriterHold {
    held: Arc<Mutex<Option<Held>>>,
    /// Taken while fetching the writer from the pool, so one caller fetches it and the
    /// others then find it held.
    fetching: tokio::sync::Mutex<()>,
}

impl WriterHold {
    /// Runs `f` (a synchronous transaction on the lease connection) while this store's one
    /// sqlx writer is held, so no other write runs meanwhile.
    pub async fn run<R>(
        &self,
        pool: &SqlitePool,
        f: impl FnOnce() -> StoreResult<R>,
    ) -> StoreResult<R> {
        let mut f = Some(f);
        loop {
            let stale = {
                let mut slot = self.held.lock().unwrap_or_else(|p| p.into_inner());
                match slot.as_mut() {
                    Some(h) if h.since.elapsed() < MAX_HOLD => {
                        h.last_used = Instant::now();
                        // Lease transactions take their turns here: each is a fraction of
                        // a millisecond of in-process work.
                        let run = f.take().expect("runs once");
                        return run();
                    }
                    _ => slot.take(),
                }
            };
            // Dropped outside the lock: giving it back spawns sqlx's check.
            drop(stale);
            let _one = self.fetching.lock().await;
            if self
                .held
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_some()
            {
                continue;
            }
            let conn = pool.acquire().await?;
            let now = Instant::now();
            *self.held.lock().unwrap_or_else(|p| p.into_inner()) = Some(Held {
                conn: Some(conn),
                since: now,
                last_used: now,
            });
            tokio::spawn(give_back_when_idle(self.held.clone(), now));
        }
    }
}

/// Gives the writer taken at `since` back to the pool once lease transactions pause (or
/// when a newer hold replaced it).
async fn give_back_when_idle(held: Arc<Mutex<Option<Held>>>, since: Instant) {
    loop {
        let due = {
            let slot = held.lock().unwrap_or_else(|p| p.into_inner());
            match slot.as_ref() {
                Some(h) if h.since == since => h.last_used + IDLE,
                _ => return,
            }
        };
        tokio::time::sleep_until(due).await;
        let done = {
            let mut slot = held.lock().unwrap_or_else(|p| p.into_inner());
            match slot.as_ref() {
                Some(h) if h.since == since && h.last_used + IDLE <= Instant::now() => slot.take(),
                Some(h) if h.since == since => None,
                _ => return,
            }
        };
        if let Some(h) = done {
            // Dropped outside the lock.
            drop(h);
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::sqlite::SqlitePoolOptions;

    async fn one_writer() -> SqlitePool {
        SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn the_writer_goes_back_when_lease_transactions_pause() {
        let pool = one_writer().await;
        let hold = WriterHold::default();
        assert_eq!(hold.run(&pool, || Ok(7)).await.unwrap(), 7);
        // Held right after the transaction, back in the pool once it stays idle.
        let conn = tokio::time::timeout(Duration::from_secs(5), pool.acquire())
            .await
            .expect("the writer came back");
        drop(conn.unwrap());
        assert_eq!(hold.run(&pool, || Ok(8)).await.unwrap(), 8);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_sqlx_write_gets_in_between_back_to_back_lease_transactions() {
        let pool = one_writer().await;
        let hold = Arc::new(WriterHold::default());
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let busy = {
            let (pool, hold, stop) = (pool.clone(), hold.clone(), stop.clone());
            tokio::spawn(async move {
                let mut n = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    n += hold.run(&pool, || Ok(1)).await.unwrap();
                    tokio::task::yield_now().await;
                }
                n
            })
        };
        for _ in 0..3 {
            let conn = tokio::time::timeout(Duration::from_secs(5), pool.acquire())
                .await
                .expect("the writer was handed over while lease transactions kept coming");
            drop(conn.unwrap());
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(busy.await.unwrap() > 0);
    }
}
