//! The Postgres lease functions live in one file installed at start-up: the database holds
//! exactly that file's functions, stamped with its version; a database stamped by a newer
//! Orchard is refused; a function changed behind Orchard's back is put back at the next start.

use crate::common::{self, Db};
use engine::store::postgres::functions::{FUNCTIONS, FUNCTIONS_VERSION, checksum, defined};

async fn fresh() -> (String, sqlx::PgPool) {
    let dir = common::temp_dir("pg-functions");
    let url = common::fresh_database(Db::Postgres, &dir).await;
    engine::store::connect(&url).await.expect("connect");
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    (url, pool)
}

async fn body(pool: &sqlx::PgPool, name: &str) -> String {
    sqlx::query_scalar("SELECT prosrc FROM pg_proc WHERE proname = $1")
        .bind(name)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_database_holds_the_files_functions_and_stamp() {
    let (_, pool) = fresh().await;
    let functions = defined();
    assert!(functions.len() >= 4, "{functions:?}");
    for (name, text) in &functions {
        assert_eq!(&body(&pool, name).await, text, "{name} as installed");
    }
    // No other Orchard function is left over (a removed one is dropped by the file).
    let installed: Vec<String> = sqlx::query_scalar(
        "SELECT proname::TEXT FROM pg_proc WHERE proname LIKE 'orchard\\_%' ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut named: Vec<String> = functions.iter().map(|(n, _)| n.clone()).collect();
    named.sort();
    assert_eq!(installed, named);
    let (version, sum): (i64, String) =
        sqlx::query_as("SELECT version, checksum FROM orchard_code WHERE name = 'lease_functions'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((version, sum), (FUNCTIONS_VERSION, checksum(FUNCTIONS)));
    // The claim and the completion plan with sequential scans off.
    for f in ["orchard_claim", "orchard_complete"] {
        let config: Vec<String> =
            sqlx::query_scalar("SELECT unnest(proconfig) FROM pg_proc WHERE proname = $1")
                .bind(f)
                .fetch_all(&pool)
                .await
                .unwrap();
        assert!(
            config.iter().any(|c| c == "enable_seqscan=off"),
            "{f}: {config:?}"
        );
    }
}

#[tokio::test]
async fn a_changed_function_is_put_back_and_a_newer_stamp_refused() {
    let (url, pool) = fresh().await;
    sqlx::query(
        "CREATE OR REPLACE FUNCTION orchard_spawn(p_job TEXT, p_task TEXT, p_fan BIGINT, \
         p_ids TEXT[], p_phases TEXT[], p_payloads TEXT[], p_handlers TEXT[], p_now BIGINT) \
         RETURNS VOID \
         LANGUAGE sql AS $$ DELETE FROM job_task_deps WHERE false $$",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("UPDATE orchard_code SET checksum = 'edited'")
        .execute(&pool)
        .await
        .unwrap();
    engine::store::connect(&url).await.expect("reconnect");
    let (_, text) = defined()
        .into_iter()
        .find(|(n, _)| n == "orchard_spawn")
        .unwrap();
    assert_eq!(body(&pool, "orchard_spawn").await, text);

    sqlx::query("UPDATE orchard_code SET version = version + 1")
        .execute(&pool)
        .await
        .unwrap();
    let refused = engine::store::connect(&url).await.err().expect("refused");
    assert!(refused.to_string().contains("newer"), "{refused}");
}
