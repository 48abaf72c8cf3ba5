//! The SQLite store: one file in WAL mode, written through one write path (`writer.rs`:
//! the only writing connection, group commits) and read through a few read-only
//! connections (`readers.rs`), both on rusqlite. sqlx only migrates the schema at start.
//! Each domain's SQLite module (`accounts/sqlite.rs`, `fleet/sqlite.rs`, `tree/sqlite.rs`,
//! `jobs/sqlite.rs`) works through these two.
//!
//! Durability: `synchronous = NORMAL` by default (a crash of the process loses nothing; a
//! power cut may lose the last commits), `FULL` when asked (`ORCHARD_SQLITE_SYNCHRONOUS`).

use super::{Backend, StoreError, StoreResult};
use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

mod readers;
mod writer;

pub(in crate::store) use readers::{sql, sql_built};
pub(in crate::store) use writer::Session;

/// How much a commit waits for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// A crash of the process loses nothing; a power cut may lose the last commits.
    #[default]
    Normal,
    /// Every commit reaches the disk before it is answered.
    Full,
}

impl Synchronous {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "normal" => Some(Synchronous::Normal),
            "full" => Some(Synchronous::Full),
            _ => None,
        }
    }

    fn pragma(self) -> &'static str {
        match self {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        }
    }
}

pub struct SqliteStore {
    /// The connection the migrations ran on, kept open: an in-memory database lives only as
    /// long as a connection to it.
    _schema: SqlitePool,
    /// The write path (`writer.rs`).
    writer: writer::Writer,
    /// Read-only connections (`readers.rs`).
    pub(in crate::store) readers: readers::Readers,
    /// Progress inside running tasks stays in memory: one process owns the file, and a
    /// long import holds the writer the progress would otherwise wait for.
    pub(in crate::store) work: super::WorkBoard,
}

impl SqliteStore {
    /// Opens (creating if needed, with parent folders) the database at `url` and migrates it.
    pub async fn connect(url: &str, synchronous: Synchronous) -> StoreResult<Self> {
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("bad SQLite URL {url:?}: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
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
        let schema = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts)
            .await?;
        super::migrations::run_sqlite(&schema).await?;
        let checkpoints = if in_memory {
            None
        } else {
            Some(rusqlite::Connection::open(&path)?)
        };
        let writer = writer::Writer::new(open_writer(&path, in_memory, synchronous)?, checkpoints);
        let readers = readers::Readers::open(&path, in_memory, 8)?;
        Ok(Self {
            _schema: schema,
            writer,
            readers,
            work: Default::default(),
        })
    }

    /// Runs `f` in a write transaction (see `writer.rs`).
    pub(in crate::store) async fn on_writer<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Connection) -> StoreResult<T> + Send + 'static,
    {
        self.writer.write(f).await
    }

    /// The writer to one caller until the session drops.
    pub(in crate::store) async fn session(&self) -> Session {
        self.writer.session().await
    }
}

/// Every row a shared statement (`$N` parameters) answers, read by `map`.
pub(in crate::store) fn all<T, P: rusqlite::Params>(
    c: &rusqlite::Connection,
    shared: &'static str,
    params: P,
    map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> StoreResult<Vec<T>> {
    Ok(c.prepare_cached(sql(shared))?
        .query_map(params, map)?
        .collect::<Result<_, _>>()?)
}

#[async_trait]
impl super::Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    /// Readers open and idle, and the writer.
    fn pool_usage(&self) -> (u32, u32) {
        let (open, idle) = self.readers.usage();
        (open + 1, idle)
    }

    async fn ping(&self) -> StoreResult<()> {
        self.readers
            .read(|c| Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?))
            .await?;
        Ok(())
    }

    /// One process owns a SQLite file: there is nobody to notify.
    async fn notify_change(&self, _payload: &str) -> StoreResult<()> {
        Ok(())
    }

    async fn change_feed(&self) -> StoreResult<Option<Box<dyn super::ChangeFeed>>> {
        Ok(None)
    }
}

/// Opens the writer's connection to the (already migrated) database file.
fn open_writer(
    path: &Path,
    in_memory: bool,
    synchronous: Synchronous,
) -> StoreResult<rusqlite::Connection> {
    let mut flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE
        | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX
        | rusqlite::OpenFlags::SQLITE_OPEN_URI;
    if in_memory {
        // sqlx names its in-memory database and shares its cache between connections.
        flags |=
            rusqlite::OpenFlags::SQLITE_OPEN_MEMORY | rusqlite::OpenFlags::SQLITE_OPEN_SHARED_CACHE;
    }
    let conn = rusqlite::Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.pragma_update(None, "synchronous", synchronous.pragma())?;
    // Up to 64 MiB of pages: a large write (a tree import) finds its indexes in memory
    // instead of spilling and re-reading them. Statement journals (each statement of a
    // transaction keeps one, to undo just itself) stay in memory rather than in a file.
    conn.pragma_update(None, "cache_size", -65536)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // The checkpoint thread copies the log back (`writer.rs`), not this connection's commits.
    if !in_memory {
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    }
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn commits_wait_for_the_disk_as_asked() {
        let dir = std::env::temp_dir().join(format!("orchard-sync-{}", uuid::Uuid::new_v4()));
        for (mode, pragma) in [(Synchronous::Normal, 1), (Synchronous::Full, 2)] {
            let url = format!("sqlite:{}", dir.join(format!("{pragma}.db")).display());
            let store = SqliteStore::connect(&url, mode).await.unwrap();
            let got: i64 = store
                .on_writer(|c| Ok(c.query_row("PRAGMA synchronous", [], |r| r.get(0))?))
                .await
                .unwrap();
            assert_eq!(got, pragma, "{mode:?}");
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}
