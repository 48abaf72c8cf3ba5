//! The schema's history. Each backend applies its folder of migrations in order; once a
//! migration is committed its text never changes (`migrations/checksums.txt` holds every
//! migration's checksum and a test compares them), and a removed number is never reused.
//! A database that applied an earlier text of an edited migration is refused with a pointer
//! to `orchard migrate --repair` (see `repair.rs`).

use super::{Backend, StoreError, StoreResult};
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::{PgPool, SqlitePool};

pub static SQLITE: Migrator = sqlx::migrate!("../migrations/sqlite");
pub static POSTGRES: Migrator = sqlx::migrate!("../migrations/postgres");

/// Versions removed from the history; new migrations skip them.
pub const RETIRED: &[(Backend, i64)] = &[(Backend::Sqlite, 11), (Backend::Postgres, 14)];

/// Applies every pending migration of `SQLITE`.
pub async fn run_sqlite(pool: &SqlitePool) -> StoreResult<()> {
    SQLITE.run(pool).await.map_err(explain)
}

/// Applies every pending migration of `POSTGRES`.
pub async fn run_postgres(pool: &PgPool) -> StoreResult<()> {
    POSTGRES.run(pool).await.map_err(explain)
}

/// A history that differs from today's says how to repair it when Orchard knows how.
fn explain(e: MigrateError) -> StoreError {
    let version = match &e {
        MigrateError::VersionMismatch(v) | MigrateError::VersionMissing(v) => *v,
        _ => return StoreError::Migrate(e),
    };
    if super::repair::EARLIER.iter().any(|x| x.version == version) {
        StoreError::Config(format!(
            "the database applied an earlier text of migration {version} ({e}); stop every \
             Orchard process using it and run `orchard migrate --repair`"
        ))
    } else {
        StoreError::Migrate(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `migrations/checksums.txt`, one line per migration: backend, version, SHA-384.
    fn listed() -> Vec<String> {
        include_str!("../../../migrations/checksums.txt")
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(str::to_string)
            .collect()
    }

    fn actual() -> Vec<String> {
        let mut out = Vec::new();
        for (name, m) in [("postgres", &POSTGRES), ("sqlite", &SQLITE)] {
            for x in m.iter() {
                out.push(format!(
                    "{name} {:04} {}",
                    x.version,
                    hex::encode(&*x.checksum)
                ));
            }
        }
        out
    }

    #[test]
    fn committed_migrations_never_change() {
        let listed = listed();
        for line in actual() {
            assert!(
                listed.contains(&line),
                "{line}: a committed migration changed, or a new one is not listed in \
                 migrations/checksums.txt. Never edit a committed migration: add a new one, \
                 and append its line."
            );
        }
        assert_eq!(
            listed.len(),
            actual().len(),
            "every listed migration still exists"
        );
    }

    #[test]
    fn retired_versions_stay_unused_and_earlier_texts_are_not_today() {
        for (backend, v) in RETIRED {
            let m = match backend {
                Backend::Sqlite => &SQLITE,
                Backend::Postgres => &POSTGRES,
            };
            assert!(m.iter().all(|x| x.version != *v), "{v} is retired");
        }
        for e in super::super::repair::EARLIER {
            let m = match e.backend {
                Backend::Sqlite => &SQLITE,
                Backend::Postgres => &POSTGRES,
            };
            assert!(m.iter().all(|x| hex::encode(&*x.checksum) != e.checksum));
        }
    }
}
