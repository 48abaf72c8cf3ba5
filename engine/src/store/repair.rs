//! `orchard migrate --repair`: brings a database that applied an earlier text of a migration
//! (one edited after release, or since removed) to the schema today's history gives, then
//! rewrites sqlx's history table to match, so the ordinary migration run accepts it.
//!
//! Only the earlier texts listed here are repaired, each by the statements that turn its
//! schema into today's; a history row that matches neither today's text nor a listed one is
//! refused. Each backend's repair is one transaction. Run it with no other Orchard process
//! on the database.

use super::migrations::{EARLIER, Earlier, POSTGRES, SQLITE};
use super::{Backend, StoreError, StoreResult};
use sqlx::migrate::Migrator;
use sqlx::{Connection, PgPool, SqlitePool};
use std::str::FromStr;

/// One applied row of sqlx's history table.
#[derive(sqlx::FromRow)]
struct Applied {
    version: i64,
    checksum: Vec<u8>,
}

/// The known earlier texts among `rows`; an error names a row that is neither today's text
/// nor a known earlier one.
fn plan(
    backend: Backend,
    migrator: &Migrator,
    rows: &[Applied],
) -> StoreResult<Vec<&'static Earlier>> {
    let mut known = Vec::new();
    for row in rows {
        let today = migrator.iter().find(|m| m.version == row.version);
        if today.is_some_and(|m| *m.checksum == *row.checksum) {
            continue;
        }
        let stored = hex::encode(&row.checksum);
        let earlier = EARLIER
            .iter()
            .find(|x| x.backend == backend && x.version == row.version && x.checksum == stored)
            .ok_or_else(|| {
                StoreError::Config(format!(
                    "migration {} in the database matches no text Orchard shipped; not repairing",
                    row.version
                ))
            })?;
        known.push(earlier);
    }
    Ok(known)
}

/// What the repair does to the history row of `e`: today's checksum, or no row for a
/// retired version.
fn history_fix(migrator: &Migrator, e: &Earlier) -> Option<Vec<u8>> {
    migrator
        .iter()
        .find(|m| m.version == e.version)
        .map(|m| m.checksum.to_vec())
}

fn reported(e: &Earlier) -> String {
    format!(
        "migration {}: the applied text {}; repaired",
        e.version, e.what
    )
}

/// Repairs the database at `url`; answers one line per repaired migration (none when the
/// history is already today's).
pub async fn repair(url: &str) -> StoreResult<Vec<String>> {
    if url.starts_with("sqlite:") {
        repair_sqlite(url).await
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        repair_postgres(url).await
    } else {
        Err(StoreError::Config(
            "unsupported database URL: use sqlite:… or postgres://…".into(),
        ))
    }
}

const HISTORY_SQLITE: &str =
    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'";
const HISTORY_POSTGRES: &str = "SELECT 1 FROM pg_tables WHERE tablename = '_sqlx_migrations' \
     AND schemaname = current_schema()";
const READ_HISTORY: &str = "SELECT version, checksum FROM _sqlx_migrations ORDER BY version";

/// Today's 0002 on a database that applied the earlier one (both backends).
const FIX_READY_INDEX: &[&str] = &[
    "DROP INDEX IF EXISTS job_tasks_ready",
    "CREATE INDEX IF NOT EXISTS job_tasks_ready_age ON job_tasks (state, ready_at)",
];

async fn repair_sqlite(url: &str) -> StoreResult<Vec<String>> {
    let opts = sqlx::sqlite::SqliteConnectOptions::from_str(url)
        .map_err(|e| StoreError::Config(format!("bad SQLite URL: {e}")))?
        .foreign_keys(false);
    let pool = SqlitePool::connect_with(opts).await?;
    let mut conn = pool.acquire().await?;
    let exists = sqlx::query(HISTORY_SQLITE)
        .fetch_optional(&mut *conn)
        .await?
        .is_some();
    if !exists {
        return Ok(Vec::new());
    }
    let rows: Vec<Applied> = sqlx::query_as(READ_HISTORY).fetch_all(&mut *conn).await?;
    let todo = plan(Backend::Sqlite, &SQLITE, &rows)?;
    let mut tx = conn.begin().await?;
    for e in &todo {
        match e.version {
            2 => {
                for sql in FIX_READY_INDEX {
                    sqlx::query(sql).execute(&mut *tx).await?;
                }
            }
            4 => {
                let has: Option<i64> = sqlx::query_scalar(
                    "SELECT 1 FROM pragma_table_info('workers') WHERE name = 'prev_seen_at'",
                )
                .fetch_optional(&mut *tx)
                .await?;
                if has.is_none() {
                    sqlx::query(
                        "ALTER TABLE workers ADD COLUMN prev_seen_at INTEGER NOT NULL DEFAULT 0",
                    )
                    .execute(&mut *tx)
                    .await?;
                }
            }
            8 => rebuild_tree_tasks_without_parent_key(&mut tx).await?,
            11 => {
                sqlx::query(
                    "UPDATE jobs SET done = done + (SELECT SUM(p.done) FROM job_progress p \
                     WHERE p.job_id = jobs.id) \
                     WHERE id IN (SELECT job_id FROM job_progress)",
                )
                .execute(&mut *tx)
                .await?;
                sqlx::query("DROP TABLE job_progress")
                    .execute(&mut *tx)
                    .await?;
            }
            v => unreachable!("no SQLite repair for {v}"),
        }
        rewrite_history(&mut tx, history_fix(&SQLITE, e), e.version).await?;
    }
    let problems: Vec<(String,)> = sqlx::query_as("SELECT 'x' FROM pragma_foreign_key_check")
        .fetch_all(&mut *tx)
        .await?;
    if !problems.is_empty() {
        return Err(StoreError::Corrupt(format!(
            "{} rows break a foreign key; nothing was changed",
            problems.len()
        )));
    }
    tx.commit().await?;
    Ok(todo.into_iter().map(reported).collect())
}

/// SQLite cannot drop a foreign key: the table is rebuilt from its own definition without
/// it, rows and indexes kept (the procedure of SQLite's ALTER TABLE documentation).
async fn rebuild_tree_tasks_without_parent_key(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
) -> StoreResult<()> {
    let table: String = sqlx::query_scalar(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'tree_tasks'",
    )
    .fetch_one(&mut **tx)
    .await?;
    let key = "REFERENCES tree_tasks (id) DEFERRABLE INITIALLY IMMEDIATE";
    if !table.contains(key) {
        return Ok(());
    }
    let rebuilt = table.replacen(key, "", 1).replacen(
        "CREATE TABLE tree_tasks",
        "CREATE TABLE tree_tasks_rebuilt",
        1,
    );
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'tree_tasks' \
         AND sql IS NOT NULL",
    )
    .fetch_all(&mut **tx)
    .await?;
    sqlx::query(&rebuilt).execute(&mut **tx).await?;
    sqlx::query("INSERT INTO tree_tasks_rebuilt SELECT * FROM tree_tasks")
        .execute(&mut **tx)
        .await?;
    sqlx::query("DROP TABLE tree_tasks")
        .execute(&mut **tx)
        .await?;
    sqlx::query("ALTER TABLE tree_tasks_rebuilt RENAME TO tree_tasks")
        .execute(&mut **tx)
        .await?;
    for sql in indexes {
        sqlx::query(&sql).execute(&mut **tx).await?;
    }
    Ok(())
}

async fn repair_postgres(url: &str) -> StoreResult<Vec<String>> {
    let pool = PgPool::connect(url).await?;
    let exists = sqlx::query(HISTORY_POSTGRES)
        .fetch_optional(&pool)
        .await?
        .is_some();
    if !exists {
        return Ok(Vec::new());
    }
    let rows: Vec<Applied> = sqlx::query_as(READ_HISTORY).fetch_all(&pool).await?;
    let todo = plan(Backend::Postgres, &POSTGRES, &rows)?;
    let mut tx = pool.begin().await?;
    for e in &todo {
        let statements: &[&str] = match e.version {
            2 => FIX_READY_INDEX,
            4 => &[
                "ALTER TABLE workers ADD COLUMN IF NOT EXISTS prev_seen_at BIGINT NOT NULL DEFAULT 0",
            ],
            8 => &["ALTER TABLE tree_tasks DROP CONSTRAINT IF EXISTS tree_tasks_parent_id_fkey"],
            14 => &[
                "UPDATE jobs j SET done = j.done + p.done \
                 FROM (SELECT job_id, SUM(done) AS done FROM job_progress GROUP BY job_id) p \
                 WHERE p.job_id = j.id",
                "DROP FUNCTION IF EXISTS orchard_handoff",
                "DROP TABLE job_progress",
            ],
            v => unreachable!("no Postgres repair for {v}"),
        };
        for sql in statements {
            sqlx::query(sql).execute(&mut *tx).await?;
        }
        rewrite_history(&mut tx, history_fix(&POSTGRES, e), e.version).await?;
    }
    tx.commit().await?;
    Ok(todo.into_iter().map(reported).collect())
}

/// Records today's checksum for `version`, or removes the row of a retired version.
async fn rewrite_history<DB>(
    tx: &mut sqlx::Transaction<'_, DB>,
    checksum: Option<Vec<u8>>,
    version: i64,
) -> StoreResult<()>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    Vec<u8>: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    match checksum {
        Some(sum) => {
            sqlx::query("UPDATE _sqlx_migrations SET checksum = $1 WHERE version = $2")
                .bind(sum)
                .bind(version)
                .execute(&mut **tx)
                .await?;
        }
        None => {
            sqlx::query("DELETE FROM _sqlx_migrations WHERE version = $1")
                .bind(version)
                .execute(&mut **tx)
                .await?;
        }
    }
    Ok(())
}
