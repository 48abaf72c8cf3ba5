//! States, statuses, kinds and roles are Rust enums; the database's CHECK constraints allow
//! exactly their values, on both databases, and every such literal the SQL writes is one of
//! them.

use crate::common::{self, Db, both};
use shared::accounts::model::Role;
use shared::jobs::model::{JobKind, JobState, TaskState};
use shared::tasks::model::Status;
use shared::workers::fleet::{ProcessStatus, StepState};
use shared::workers::model::WorkerKind;
use std::collections::BTreeSet;

fn set<T: Copy>(all: &[T], name: impl Fn(T) -> &'static str) -> BTreeSet<String> {
    all.iter().map(|x| name(*x).to_string()).collect()
}

/// (table, column, the enum's values).
fn columns() -> Vec<(&'static str, &'static str, BTreeSet<String>)> {
    vec![
        ("jobs", "state", set(&JobState::ALL, JobState::as_str)),
        (
            "job_tasks",
            "state",
            set(&TaskState::ALL, TaskState::as_str),
        ),
        ("workers", "kind", set(&WorkerKind::ALL, WorkerKind::as_str)),
        (
            "processes",
            "status",
            set(&ProcessStatus::ALL, ProcessStatus::as_str),
        ),
        (
            "process_tasks",
            "state",
            set(&StepState::ALL, StepState::as_str),
        ),
        ("users", "role", set(&Role::ALL, Role::as_str)),
        ("tree_tasks", "status", set(&Status::ALL, Status::as_str)),
    ]
}

/// The single-quoted words of a text.
fn quoted(text: &str) -> BTreeSet<String> {
    text.split('\'')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

async fn check_constraints_match_the_enums(db: Db) {
    let dir = common::temp_dir("states");
    let url = common::fresh_database(db, &dir).await;
    engine::store::connect(&url).await.unwrap();
    for (table, column, expected) in columns() {
        let allowed = match db {
            Db::Sqlite => {
                let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
                let sql: String = sqlx::query_scalar(
                    "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = $1",
                )
                .bind(table)
                .fetch_one(&pool)
                .await
                .unwrap();
                let start = sql
                    .find(&format!("CHECK ({column} IN ("))
                    .unwrap_or_else(|| panic!("{table}.{column} has a CHECK: {sql}"));
                let end = start + sql[start..].find("))").unwrap();
                quoted(&sql[start..end])
            }
            Db::Postgres => {
                let pool = sqlx::PgPool::connect(&url).await.unwrap();
                let defs: Vec<String> = sqlx::query_scalar(
                    "SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c \
                     WHERE c.conrelid = $1::regclass AND c.contype = 'c'",
                )
                .bind(table)
                .fetch_all(&pool)
                .await
                .unwrap();
                let def = defs
                    .iter()
                    .find(|d| {
                        d.contains(&format!("({column} = ANY"))
                            || d.contains(&format!("(({column})::text = ANY"))
                    })
                    .unwrap_or_else(|| panic!("{table}.{column} has a CHECK: {defs:?}"));
                quoted(def)
            }
        };
        assert_eq!(allowed, expected, "{table}.{column}");
    }
}

both!(check_constraints_match_the_enums);

/// Every `state`, `status`, `kind` or `role` literal the store's SQL compares with or sets
/// is a value of the enum for that column.
#[test]
fn the_sqls_literals_are_the_enums_values() {
    let root = common::root().join("engine/src/store");
    let mut texts = Vec::new();
    for dir in ["accounts", "fleet", "tree", "jobs", "postgres"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if name == "sql.rs" || name.ends_with("_queue.rs") || name == "functions.sql" {
                texts.push((
                    path.display().to_string(),
                    std::fs::read_to_string(&path).unwrap(),
                ));
            }
        }
    }
    assert!(texts.len() >= 6, "{texts:?}");
    let states: BTreeSet<String> = set(&JobState::ALL, JobState::as_str)
        .into_iter()
        .chain(set(&TaskState::ALL, TaskState::as_str))
        .chain(set(&StepState::ALL, StepState::as_str))
        .collect();
    let statuses: BTreeSet<String> = set(&ProcessStatus::ALL, ProcessStatus::as_str)
        .into_iter()
        .chain(set(&Status::ALL, Status::as_str))
        .collect();
    let kinds: BTreeSet<String> = set(&WorkerKind::ALL, WorkerKind::as_str)
        .into_iter()
        .chain(set(&JobKind::ALL, JobKind::as_str))
        .collect();
    let roles = set(&Role::ALL, Role::as_str);
    let mut checked = 0;
    for (file, text) in &texts {
        for (column, allowed) in [
            ("state", &states),
            ("status", &statuses),
            ("kind", &kinds),
            ("role", &roles),
        ] {
            for op in [" = '", " <> '", " IN ("] {
                let pattern = format!("{column}{op}");
                let mut from = 0;
                while let Some(at) = text[from..].find(&pattern) {
                    let start = from + at + pattern.len() - if op == " IN (" { 0 } else { 1 };
                    let end = start + text[start..].find([')', ' ', ',']).map_or(0, |e| e);
                    let span = if op == " IN (" {
                        &text[start..start + text[start..].find(')').unwrap()]
                    } else {
                        &text[start..end.max(start + 1)]
                    };
                    for word in quoted(span) {
                        assert!(allowed.contains(&word), "{file}: {column} literal {word:?}");
                        checked += 1;
                    }
                    from = start;
                }
            }
        }
    }
    assert!(checked > 20, "only {checked} literals found");
}
