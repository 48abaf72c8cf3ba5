//! SQLite's readers: a few read-only rusqlite connections (WAL lets them read while the
//! writer writes). A read runs on the calling thread, which hands its other work to the
//! runtime meanwhile (`blocking`), so it costs no hop to another thread.

use super::super::{StoreError, StoreResult, blocking};
use rusqlite::{Connection, OpenFlags};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

pub struct Readers {
    idle: Mutex<Vec<Connection>>,
    permits: Semaphore,
    size: u32,
}

impl Readers {
    /// Opens `n` read-only connections to the database at `path`.
    pub fn open(path: &Path, in_memory: bool, n: usize) -> StoreResult<Self> {
        let mut flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        if in_memory {
            flags = OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI
                | OpenFlags::SQLITE_OPEN_MEMORY
                | OpenFlags::SQLITE_OPEN_SHARED_CACHE;
        }
        let mut idle = Vec::with_capacity(n);
        for _ in 0..n {
            let conn = Connection::open_with_flags(path, flags)?;
            conn.busy_timeout(Duration::from_secs(10))?;
            conn.set_prepared_statement_cache_capacity(64);
            idle.push(conn);
        }
        Ok(Self {
            idle: Mutex::new(idle),
            permits: Semaphore::new(n),
            size: n as u32,
        })
    }

    /// Runs `f` on an idle reader, waiting for one when all are busy.
    pub async fn read<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| StoreError::Unavailable("the SQLite readers are closed".into()))?;
        let conn = Lent::take(&self.idle);
        blocking(|| f(conn.conn.as_ref().expect("a lent reader")))
    }

    /// How many readers exist and how many are idle, for metrics.
    pub fn usage(&self) -> (u32, u32) {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).len() as u32;
        (self.size, idle)
    }
}

/// A reader out of the pool, back in it when dropped (also after a panic).
struct Lent<'a> {
    pool: &'a Mutex<Vec<Connection>>,
    conn: Option<Connection>,
}

impl<'a> Lent<'a> {
    fn take(pool: &'a Mutex<Vec<Connection>>) -> Self {
        // A permit is held, so a connection is idle.
        let conn = pool.lock().unwrap_or_else(|p| p.into_inner()).pop();
        Self { pool, conn }
    }
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            self.pool.lock().unwrap_or_else(|p| p.into_inner()).push(c);
        }
    }
}

/// The SQLite text of a statement the backends share. Shared SQL numbers its parameters
/// `$1`, `$2`, … as Postgres requires; SQLite reads `$1` as a *named* parameter and numbers
/// those by first appearance, so here they become `?1`, `?2`, …, which it numbers as
/// written. Each statement is translated once.
pub fn sql(shared: &'static str) -> &'static str {
    translated(shared)
}

/// `sql` for a statement built at run time (a filter's query).
pub fn sql_built(shared: &str) -> String {
    numbered(shared)
}

fn numbered(shared: &str) -> String {
    let mut out = String::with_capacity(shared.len());
    let mut chars = shared.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

fn translated(shared: &'static str) -> &'static str {
    static DONE: LazyLock<Mutex<HashMap<usize, &'static str>>> = LazyLock::new(Default::default);
    if !shared.contains('$') {
        return shared;
    }
    let key = shared.as_ptr() as usize;
    let mut done = DONE.lock().unwrap_or_else(|p| p.into_inner());
    done.entry(key)
        .or_insert_with(|| Box::leak(numbered(shared).into_boxed_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_parameters_keep_their_numbers() {
        assert_eq!(sql("SELECT $2, $1, $10"), "SELECT ?2, ?1, ?10");
        assert_eq!(sql("SELECT 1"), "SELECT 1");
        let c = Connection::open_in_memory().unwrap();
        let (a, b): (i64, i64) = c
            .query_row(sql("SELECT $2, $1"), (10, 20), |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((a, b), (20, 10));
    }
}
