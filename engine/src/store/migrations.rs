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

/// A migration text Orchard once shipped and later changed or removed.
pub(super) struct Earlier {
    pub(super) backend: Backend,
    pub(super) version: i64,
    /// SHA-384 of the earlier text, as sqlx records it.
    pub(super) checksum: &'static str,
    /// What the earlier text did differently, for the repair's report.
    pub(super) what: &'static str,
}

pub(super) const EARLIER: &[Earlier] = &[
    Earlier {
        backend: Backend::Sqlite,
        version: 2,
        checksum: "9ee72bacfbe2fe42f3a55f7d4faa8a1150f5db81b0e7e3b9f93f9b26b1f90eb01c26c8fedc2846bf94a6881486b5c94c",
        what: "kept the (state, run_after) ready index and lacked the queue-age index",
    },
    Earlier {
        backend: Backend::Postgres,
        version: 2,
        checksum: "9ee72bacfbe2fe42f3a55f7d4faa8a1150f5db81b0e7e3b9f93f9b26b1f90eb01c26c8fedc2846bf94a6881486b5c94c",
        what: "kept the (state, run_after) ready index and lacked the queue-age index",
    },
    Earlier {
        backend: Backend::Sqlite,
        version: 4,
        checksum: "fefa85db69bd22005f98148981c711c33975604d4fed323f29e1d89907725dfd12555bbf777de7fa362504d94315d181",
        what: "lacked workers.prev_seen_at",
    },
    Earlier {
        backend: Backend::Postgres,
        version: 4,
        checksum: "edf611db8d667169ef72b44840dae0a81fc4ed5aac5087340accac2b2810b0ea71443f29a7de48ada3f482c63b08b958",
        what: "lacked workers.prev_seen_at",
    },
    Earlier {
        backend: Backend::Sqlite,
        version: 8,
        checksum: "b089f8e6807e59822d0b7743299806ebdba71d7cbec8839699a99f042046e290a386970b9123514fb6d3946d07c8f44c",
        what: "gave tree_tasks.parent_id a foreign key",
    },
    Earlier {
        backend: Backend::Postgres,
        version: 8,
        checksum: "be0b5ddf657c7846a57f5402b0d21503c07e9abf1ddb65fef304eeb5b3e0374bef1092e92b167504d94244ff2959b4cc",
        what: "gave tree_tasks.parent_id a foreign key",
    },
    Earlier {
        backend: Backend::Sqlite,
        version: 11,
        checksum: "ffa5651ded1875fd86334adf5a006262309d956549205ba385e5a2e665d87199d0fe307e0759c92e5fc0a33ee63a58ff",
        what: "added job_progress (removed)",
    },
    Earlier {
        backend: Backend::Postgres,
        version: 14,
        checksum: "06ccc6fe98f2ac7d085f5f9554636595220d10f98c2b68f755835a53208400335953c6741ecf30303b07a229fd8787f0",
        what: "added job_progress and orchard_handoff (removed)",
    },
];

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
    if EARLIER.iter().any(|x| x.version == version) {
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
        for e in super::EARLIER {
            let m = match e.backend {
                Backend::Sqlite => &SQLITE,
                Backend::Postgres => &POSTGRES,
            };
            assert!(m.iter().all(|x| hex::encode(&*x.checksum) != e.checksum));
        }
    }
}
