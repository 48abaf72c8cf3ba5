//! The Postgres lease functions (`functions.sql`), installed at start-up rather
//! than by a migration: their text lives in one file that a change edits in place, while the
//! append-only migration history keeps only the schema.
//!
//! Installing takes a transaction-scoped advisory lock (replicas starting together take
//! turns), reads the stamp in `orchard_code`, and runs the file when the stamp's version or
//! checksum differs from this build's. A database stamped with a newer version was set up by
//! a newer Orchard, whose functions this server may not understand: it refuses to start.

use super::{StoreError, StoreResult};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

/// The functions' text.
pub const FUNCTIONS: &str = include_str!("functions.sql");

/// Raised with every change of `FUNCTIONS`; a unit test holds it to the text's checksum.
pub const FUNCTIONS_VERSION: i64 = 7;

/// SHA-256 of `FUNCTIONS` as of `FUNCTIONS_VERSION`.
pub const FUNCTIONS_SHA256: &str =
    "47d8e2b0d45035104eb94a2cbb214b6a7607a14d494403bcbaefde2a31cee7df";

/// The name of the stamp's row.
const STAMP: &str = "lease_functions";

/// Any constant shared by every Orchard server: the advisory lock of the installation.
const LOCK_KEY: i64 = 0x6f72_6368_6172_6401;

const CREATE_STAMPS: &str = "CREATE TABLE IF NOT EXISTS orchard_code (\
     name TEXT PRIMARY KEY, version BIGINT NOT NULL, checksum TEXT NOT NULL, \
     installed_at BIGINT NOT NULL)";
const READ_STAMP: &str = "SELECT version, checksum FROM orchard_code WHERE name = $1";
const WRITE_STAMP: &str = "INSERT INTO orchard_code (name, version, checksum, installed_at) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO UPDATE SET version = EXCLUDED.version, \
     checksum = EXCLUDED.checksum, installed_at = EXCLUDED.installed_at";

/// The checksum of a functions text, as the stamp records it.
pub fn checksum(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Installs the functions unless the database already holds this version's text.
pub async fn install(pool: &PgPool) -> StoreResult<()> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(LOCK_KEY)
        .execute(&mut *tx)
        .await?;
    sqlx::query(CREATE_STAMPS).execute(&mut *tx).await?;
    let stamp: Option<(i64, String)> = sqlx::query_as(READ_STAMP)
        .bind(STAMP)
        .fetch_optional(&mut *tx)
        .await?;
    let sum = checksum(FUNCTIONS);
    match stamp {
        Some((v, _)) if v > FUNCTIONS_VERSION => {
            return Err(StoreError::Config(format!(
                "the database's lease functions are version {v}, newer than this server's \
                 {FUNCTIONS_VERSION}: a newer Orchard set it up; run that version"
            )));
        }
        Some((v, s)) if v == FUNCTIONS_VERSION && s == sum => {}
        _ => {
            // A bare `&str` runs unprepared, as one simple query of several statements
            // (`sqlx::raw_sql` would too, but its future is not `Send`).
            sqlx::Executor::execute(&mut *tx, FUNCTIONS).await?;
            sqlx::query(WRITE_STAMP)
                .bind(STAMP)
                .bind(FUNCTIONS_VERSION)
                .bind(&sum)
                .bind(crate::now_millis())
                .execute(&mut *tx)
                .await?;
            tracing::info!(
                version = FUNCTIONS_VERSION,
                "Postgres lease functions installed"
            );
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Each function the file defines, with its body (the text between `AS $$` and `$$`), in
/// the file's order: what `pg_proc.prosrc` holds once installed.
pub fn defined() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = FUNCTIONS;
    while let Some(at) = rest.find("CREATE OR REPLACE FUNCTION ") {
        rest = &rest[at + "CREATE OR REPLACE FUNCTION ".len()..];
        let name = rest[..rest.find('(').unwrap_or(0)].trim().to_string();
        let Some(open) = rest.find("$$") else { break };
        let body_and_rest = &rest[open + 2..];
        let Some(close) = body_and_rest.find("$$") else {
            break;
        };
        out.push((name, body_and_rest[..close].to_string()));
        rest = &body_and_rest[close + 2..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_of_the_functions_raises_their_version() {
        assert_eq!(
            checksum(FUNCTIONS),
            FUNCTIONS_SHA256,
            "postgres/functions.sql changed: raise FUNCTIONS_VERSION and set \
             FUNCTIONS_SHA256 to the new checksum"
        );
    }

    #[test]
    fn the_file_defines_the_lease_path() {
        let names: Vec<String> = defined().into_iter().map(|(n, _)| n).collect();
        for f in ["orchard_claim", "orchard_complete", "orchard_report"] {
            assert!(names.iter().any(|n| n == f), "{f} in {names:?}");
        }
    }
}
