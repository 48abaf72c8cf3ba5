//! Databases that applied an earlier text of a migration Orchard later edited or removed: the
//! server refuses them with a pointer to `orchard migrate --repair`, and the repair brings
//! each one to today's schema with its data kept.

use crate::common::{self, Db, both};
use std::path::{Path, PathBuf};
use std::process::Command;

fn backend(db: Db) -> &'static str {
    match db {
        Db::Sqlite => "sqlite",
        Db::Postgres => "postgres",
    }
}

/// A folder holding today's migrations before the earlier `file`, then that earlier text.
fn history_until(db: Db, file: &str) -> PathBuf {
    let version: u32 = file[..4].parse().unwrap();
    let dir = common::temp_dir("history");
    let today = common::root().join("migrations").join(backend(db));
    for entry in std::fs::read_dir(&today).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name[..4].parse::<u32>().unwrap() < version {
            std::fs::copy(&path, dir.join(&name)).unwrap();
        }
    }
    let earlier = common::root()
        .join("server/tests/it/fixtures/earlier-migrations")
        .join(backend(db))
        .join(file);
    std::fs::copy(earlier, dir.join(file)).unwrap();
    dir
}

async fn apply(url: &str, history: &Path) {
    let migrator = sqlx::migrate::Migrator::new(history).await.unwrap();
    if url.starts_with("sqlite:") {
        let opts: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
        let pool = sqlx::SqlitePool::connect_with(opts.create_if_missing(true))
            .await
            .unwrap();
        migrator.run(&pool).await.unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        migrator.run(&pool).await.unwrap();
        pool.close().await;
    }
}

/// Runs one statement on the database at `url`.
async fn exec(url: &str, sql: &str) {
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
        pool.close().await;
    }
}

async fn scalar(url: &str, sql: &str) -> i64 {
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        let v = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
        pool.close().await;
        v
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        let v = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
        pool.close().await;
        v
    }
}

/// A database on the earlier `file`: refused at start with a pointer to the repair, repaired
/// (each repaired text reported), then migrated to today's schema.
async fn refused_then_repaired(db: Db, file: &str, seed: &[&str]) -> String {
    let dir = common::temp_dir("repair");
    let url = common::fresh_database(db, &dir).await;
    apply(&url, &history_until(db, file)).await;
    for sql in seed {
        exec(&url, sql).await;
    }
    let refused = engine::store::connect(&url).await.err().expect("refused");
    assert!(
        refused.to_string().contains("orchard migrate --repair"),
        "{refused}"
    );
    let version: i64 = file[..4].parse().unwrap();
    let done = engine::store::repair::repair(&url).await.unwrap();
    assert_eq!(done.len(), 1, "{done:?}");
    assert!(
        done[0].starts_with(&format!("migration {version}:")),
        "{done:?}"
    );
    let store = engine::store::connect(&url)
        .await
        .expect("today's history applies");
    store.ping().await.unwrap();
    drop(store);
    // Repairing again finds nothing to do.
    assert!(
        engine::store::repair::repair(&url)
            .await
            .unwrap()
            .is_empty()
    );
    url
}

const JOB: &str = "INSERT INTO jobs (id, kind, params, state, concurrency, max_attempts, done, \
                   total, created_at) VALUES ('j1', 'noop', '{}', 'running', 2, 3, 5, 20, 1)";

async fn earlier_claim_index(db: Db) {
    refused_then_repaired(db, "0002_claim_index.sql", &[JOB]).await;
}

async fn earlier_fleet(db: Db) {
    let url = refused_then_repaired(
        db,
        "0004_fleet.sql",
        &[
            "INSERT INTO workers (id, name, kind, registered_at, last_seen_at) \
           VALUES ('w1', 'a', 'remote', 1, 1)",
        ],
    )
    .await;
    let prev = scalar(&url, "SELECT prev_seen_at FROM workers WHERE id = 'w1'").await;
    assert_eq!(prev, 0);
}

async fn earlier_task_trees(db: Db) {
    let url = refused_then_repaired(
        db,
        "0008_task_trees.sql",
        &[
            "INSERT INTO tree_tasks (id, parent_id, position, title, status, created_at, \
           updated_at) VALUES ('root', NULL, 1, 'kept', 'todo', 1, 1)",
        ],
    )
    .await;
    // The parent is no longer a foreign key: an import may write children first.
    exec(
        &url,
        "INSERT INTO tree_tasks (id, parent_id, position, title, status, created_at, \
         updated_at) VALUES ('child', 'later', 1, 'c', 'todo', 1, 1)",
    )
    .await;
    let kept = scalar(&url, "SELECT COUNT(*) FROM tree_tasks WHERE title = 'kept'").await;
    assert_eq!(kept, 1);
}

async fn removed_job_progress(db: Db) {
    let file = match db {
        Db::Sqlite => "0011_job_progress.sql",
        Db::Postgres => "0014_lease_handoff.sql",
    };
    let url = refused_then_repaired(
        db,
        file,
        &[
            JOB,
            "INSERT INTO job_progress (job_id, worker_id, done) VALUES ('j1', 'a', 3), \
             ('j1', 'b', 4)",
        ],
    )
    .await;
    // The counts the removed table kept are folded into the job's.
    let done = scalar(&url, "SELECT done FROM jobs WHERE id = 'j1'").await;
    assert_eq!(done, 12);
}

both!(
    earlier_claim_index,
    earlier_fleet,
    earlier_task_trees,
    removed_job_progress
);

#[tokio::test]
async fn the_command_line_repairs() {
    let dir = common::temp_dir("repair-cli");
    let url = common::fresh_database(Db::Sqlite, &dir).await;
    apply(&url, &history_until(Db::Sqlite, "0008_task_trees.sql")).await;
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_orchard"))
            .args(args)
            .args(["--database-url", &url])
            .env_remove("DATABASE_URL")
            .output()
            .unwrap()
    };
    let refused = run(&["migrate"]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--repair"),
        "{refused:?}"
    );
    let repaired = run(&["migrate", "--repair"]);
    assert!(repaired.status.success(), "{repaired:?}");
    assert!(String::from_utf8_lossy(&repaired.stdout).contains("migration 8:"));
    let again = run(&["migrate", "--repair"]);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing to repair"));
}
