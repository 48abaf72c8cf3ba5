//! One contract, two databases: every test here runs against SQLite and against Postgres.

use crate::common;

use common::Db;
use engine::jobs::file_average;
use engine::store::jobs::Want;
use engine::store::{Backoff, NewJob, NewWorker, Store, StoreError};
use serde_json::json;
use shared::jobs::params::{FileAverageParams, FileAverageRequest};
use shared::jobs::protocol::{CompleteRequest, CompletedTask, FailRequest, LeaseRef, LeasedTask};
use shared::workers::model::{Health, HealthThresholds, WorkerKind};
use std::sync::Arc;

pub(crate) async fn store(db: Db) -> Arc<dyn Store> {
    let dir = common::temp_dir("store");
    let url = common::fresh_database(db, &dir).await;
    let s = engine::store::connect(&url).await.expect("connect");
    // Migrations are idempotent: a second connect finds nothing to do.
    engine::store::connect(&url).await.expect("reconnect");
    s
}

pub(crate) fn new_job(files: u32, group: u32, workers: u32, max_attempts: i64) -> NewJob {
    let p = FileAverageParams::parse(
        FileAverageRequest {
            workers,
            files,
            entries: 10,
            group_size: group,
            seed: Some(1),
        },
        1,
    )
    .unwrap();
    NewJob {
        server_only: false,
        kind: "file_average",
        params: serde_json::to_value(p).unwrap(),
        concurrency: workers as i64,
        max_attempts,
        phase: "generate",
        tasks: file_average::plan(&p),
        replayed_from: None,
    }
}

pub(crate) async fn worker(s: &dyn Store, name: &str) -> String {
    s.register_worker(
        NewWorker {
            name: name.into(),
            kind: WorkerKind::Remote,
            hostname: "h".into(),
            version: "1".into(),
            concurrency: 4,
            secret_hash: None,
            handlers: Vec::new(),
        },
        1_000,
    )
    .await
    .unwrap()
}

fn done(worker_id: &str, attempt: i64, output: serde_json::Value) -> CompleteRequest {
    CompleteRequest {
        worker_id: worker_id.into(),
        attempt,
        output,
    }
}

common::both!(
    ping_and_backend,
    claims_respect_job_concurrency,
    job_runs_to_completion_exactly_once,
    stale_worker_cannot_complete_after_lease_expiry,
    wrong_worker_or_attempt_is_refused,
    failures_retry_with_backoff_then_fail_the_job,
    cancel_stops_handing_out_tasks,
    retry_and_delete,
    workers_and_health,
    concurrent_claimers_never_exceed_w,
    batches_fence_each_item_and_claim_within_w,
    batch_claims_say_whether_they_left_work_behind,
    workers_reporting_at_once_keep_w_and_exact_progress,
    server_only_jobs_go_only_to_the_servers_workers,
);

async fn ping_and_backend(db: Db) {
    let s = store(db).await;
    s.ping().await.unwrap();
    let expected = if db == Db::Sqlite {
        "sqlite"
    } else {
        "postgres"
    };
    assert_eq!(s.backend().as_str(), expected);
    let o = s.overview(HealthThresholds::default(), 0).await.unwrap();
    assert_eq!(o.jobs_queued, 0);
    assert_eq!(o.database, expected);
}

async fn claims_respect_job_concurrency(db: Db) {
    let s = store(db).await;
    let w = worker(&*s, "w").await;
    // 50 files in groups of 5: 10 generate tasks ready at once, W = 3.
    let job = s.create_job(new_job(50, 5, 3, 3), 1_000).await.unwrap();
    assert_eq!(job.progress.total, 10 + 10 + 2 + 1);
    let first = s.claim(&w, Want::tasks(10), 30_000, 2_000).await.unwrap();
    assert_eq!(first.len(), 3, "W bounds the claim");
    assert!(
        first
            .iter()
            .all(|t| t.phase == "generate" && t.attempt == 1)
    );
    assert!(
        s.claim(&w, Want::tasks(10), 30_000, 2_000)
            .await
            .unwrap()
            .is_empty()
    );
    let j = s.get_job(&job.id).await.unwrap();
    assert_eq!(j.state.as_str(), "running");
    // Finishing one frees one slot; its map task is now ready too.
    s.complete(&first[0].task_id, &done(&w, 1, json!({"files": 5})), 3_000)
        .await
        .unwrap();
    let next = s.claim(&w, Want::tasks(10), 30_000, 3_000).await.unwrap();
    assert_eq!(next.len(), 1);
}

/// Runs every task of a job in claim order and checks the reduce inputs and the result.
async fn job_runs_to_completion_exactly_once(db: Db) {
    let s = store(db).await;
    let w = worker(&*s, "w").await;
    let job = s.create_job(new_job(30, 5, 8, 3), 1_000).await.unwrap();
    let mut now = 2_000;
    let mut finished = 0;
    loop {
        let tasks = s.claim(&w, Want::tasks(8), 30_000, now).await.unwrap();
        if tasks.is_empty() {
            break;
        }
        for t in tasks {
            let output = match t.phase.as_str() {
                "generate" => json!({"files": 5}),
                "map" => json!({"sum": 10, "count": 2}),
                _ => {
                    let sum: i64 = t.inputs.iter().map(|i| i["sum"].as_i64().unwrap()).sum();
                    let count: i64 = t.inputs.iter().map(|i| i["count"].as_i64().unwrap()).sum();
                    json!({"sum": sum, "count": count})
                }
            };
            now += 10;
            let c = s
                .complete(&t.task_id, &done(&w, t.attempt, output), now)
                .await
                .unwrap();
            if c.job_finished {
                assert!(t.is_root);
                finished += 1;
            }
        }
    }
    assert_eq!(finished, 1, "exactly one completion finishes the job");
    let j = s.get_job(&job.id).await.unwrap();
    assert_eq!(j.state.as_str(), "succeeded");
    assert_eq!(j.progress.done, j.progress.total);
    assert_eq!(j.phase, "done");
    // 6 map tasks × (10, 2) reduced through two levels.
    assert_eq!(j.result.unwrap(), json!({"sum": 60, "count": 12}));
    let d = s.job_detail(&job.id).await.unwrap();
    assert_eq!(d.counts.done, j.progress.total);
    assert_eq!(d.contributions.len(), 1);
    assert_eq!(d.contributions[0].tasks_done, j.progress.total);
    // Throughput buckets are counted from the job's start and hold every completion.
    let start = d.job.started_at.unwrap();
    assert!(d.throughput_bucket_ms >= 10);
    assert!(
        d.throughput
            .iter()
            .all(|p| p.at >= start && (p.at - start) % d.throughput_bucket_ms == 0)
    );
    assert_eq!(
        d.throughput.iter().map(|p| p.tasks).sum::<i64>(),
        j.progress.total
    );
    // Each bucket's tasks by phase, in phase order, add up to its count.
    let rank = |p: &str| ["generate", "map", "reduce"].iter().position(|x| *x == p);
    for p in &d.throughput {
        assert_eq!(p.phases.iter().map(|t| t.tasks).sum::<i64>(), p.tasks);
        assert!(
            p.phases
                .windows(2)
                .all(|w| rank(&w[0].phase) < rank(&w[1].phase))
        );
    }
    let reduce: i64 = d
        .throughput
        .iter()
        .flat_map(|p| &p.phases)
        .filter(|t| t.phase == "reduce")
        .map(|t| t.tasks)
        .sum();
    assert_eq!(
        reduce, 3,
        "6 map tasks reduce in two groups, then once more"
    );
    // The overview lists the job and counts its completions in the last hour, by minute.
    let o = s.overview(HealthThresholds::default(), now).await.unwrap();
    assert_eq!(o.recent_jobs.len(), 1);
    assert_eq!(o.recent_jobs[0].id, job.id);
    assert_eq!(o.activity_since, now - 3_600_000);
    assert_eq!(
        o.activity.iter().map(|p| p.tasks).sum::<i64>(),
        j.progress.total
    );
    assert!(
        o.activity
            .iter()
            .all(|p| (p.at - o.activity_since) % 60_000 == 0)
    );
    let later = s
        .overview(HealthThresholds::default(), now + 3_600_001)
        .await
        .unwrap();
    assert!(later.activity.is_empty(), "an hour later none are recent");
    assert_eq!(
        d.phases
            .iter()
            .map(|p| p.phase.as_str())
            .collect::<Vec<_>>(),
        ["generate", "map", "reduce"]
    );
}

async fn stale_worker_cannot_complete_after_lease_expiry(db: Db) {
    let s = store(db).await;
    let (a, b) = (worker(&*s, "a").await, worker(&*s, "b").await);
    s.create_job(new_job(5, 5, 1, 3), 1_000).await.unwrap();
    let t = s
        .claim(&a, Want::tasks(1), 1_000, 2_000)
        .await
        .unwrap()
        .remove(0);
    // a stops heartbeating; the reaper returns the task after its lease expires.
    let r = s
        .reap_expired(
            Backoff {
                base_ms: 0,
                max_ms: 0,
            },
            3_001,
        )
        .await
        .unwrap();
    assert_eq!(r.requeued, 1);
    let t2 = s
        .claim(&b, Want::tasks(1), 30_000, 3_002)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(t2.task_id, t.task_id);
    assert_eq!(t2.attempt, 2);
    // a comes back late: its heartbeat and its result are both refused.
    let lease_a = LeaseRef {
        worker_id: a.clone(),
        attempt: 1,
    };
    assert!(matches!(
        s.heartbeat(&t.task_id, &lease_a, 1_000, 3_003).await,
        Err(StoreError::Conflict(_))
    ));
    let late = s
        .complete(&t.task_id, &done(&a, 1, json!({"files": 99})), 3_004)
        .await;
    assert!(matches!(late, Err(StoreError::Conflict(_))), "{late:?}");
    // b's result is the one that counts.
    s.complete(&t.task_id, &done(&b, 2, json!({"files": 5})), 3_005)
        .await
        .unwrap();
    let again = s
        .complete(&t.task_id, &done(&b, 2, json!({"files": 5})), 3_006)
        .await;
    assert!(
        matches!(again, Err(StoreError::Conflict(_))),
        "a duplicate completion is refused"
    );
    let j = s.list_jobs(10).await.unwrap().remove(0);
    assert_eq!(j.progress.done, 1);
}

async fn wrong_worker_or_attempt_is_refused(db: Db) {
    let s = store(db).await;
    let (a, b) = (worker(&*s, "a").await, worker(&*s, "b").await);
    s.create_job(new_job(5, 5, 1, 3), 1_000).await.unwrap();
    let t = s
        .claim(&a, Want::tasks(1), 30_000, 2_000)
        .await
        .unwrap()
        .remove(0);
    let hb = s
        .heartbeat(
            &t.task_id,
            &LeaseRef {
                worker_id: a.clone(),
                attempt: 1,
            },
            30_000,
            5_000,
        )
        .await
        .unwrap();
    assert_eq!(hb.lease_expires_at, 35_000);
    assert!(!hb.cancelled);
    for (who, attempt) in [(&b, 1), (&a, 2), (&a, 0)] {
        let r = s
            .complete(&t.task_id, &done(who, attempt, json!({})), 6_000)
            .await;
        assert!(
            matches!(r, Err(StoreError::Conflict(_))),
            "{who} {attempt}: {r:?}"
        );
    }
    let missing = s
        .complete("no-such-task", &done(&a, 1, json!({})), 6_000)
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound(_))));
}

async fn failures_retry_with_backoff_then_fail_the_job(db: Db) {
    let s = store(db).await;
    let w = worker(&*s, "w").await;
    let job = s.create_job(new_job(10, 5, 1, 2), 1_000).await.unwrap();
    let backoff = Backoff {
        base_ms: 1_000,
        max_ms: 10_000,
    };
    let t = s
        .claim(&w, Want::tasks(1), 30_000, 2_000)
        .await
        .unwrap()
        .remove(0);
    let fail = |attempt| FailRequest {
        worker_id: w.clone(),
        attempt,
        error: "disk on fire".into(),
        retryable: true,
    };
    let o = s.fail(&t.task_id, &fail(1), backoff, 2_100).await.unwrap();
    assert!(o.will_retry);
    // The other generate task is claimable; the failed one waits out its backoff.
    let other = s
        .claim(&w, Want::tasks(1), 30_000, 2_200)
        .await
        .unwrap()
        .remove(0);
    assert_ne!(other.task_id, t.task_id);
    s.release(
        &other.task_id,
        &LeaseRef {
            worker_id: w.clone(),
            attempt: 1,
        },
        2_300,
    )
    .await
    .unwrap();
    let again = s
        .claim(&w, Want::tasks(1), 30_000, 3_200)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(again.task_id, t.task_id);
    assert_eq!(again.attempt, 2);
    let o = s.fail(&t.task_id, &fail(2), backoff, 3_300).await.unwrap();
    assert!(!o.will_retry);
    let j = s.get_job(&job.id).await.unwrap();
    assert_eq!(j.state.as_str(), "failed");
    assert!(
        j.error.as_deref().unwrap().contains("disk on fire"),
        "{:?}",
        j.error
    );
    assert!(
        s.claim(&w, Want::tasks(5), 30_000, 10_000)
            .await
            .unwrap()
            .is_empty(),
        "a failed job hands out nothing"
    );
    let d = s.job_detail(&job.id).await.unwrap();
    assert_eq!(d.errors[0].error, "disk on fire");
}

async fn cancel_stops_handing_out_tasks(db: Db) {
    let s = store(db).await;
    let w = worker(&*s, "w").await;
    let job = s.create_job(new_job(10, 5, 1, 3), 1_000).await.unwrap();
    let t = s
        .claim(&w, Want::tasks(1), 30_000, 2_000)
        .await
        .unwrap()
        .remove(0);
    s.cancel_job(&job.id, 2_100).await.unwrap();
    assert!(
        s.claim(&w, Want::tasks(5), 30_000, 2_200)
            .await
            .unwrap()
            .is_empty()
    );
    let lease = LeaseRef {
        worker_id: w.clone(),
        attempt: 1,
    };
    assert!(
        s.heartbeat(&t.task_id, &lease, 30_000, 2_300)
            .await
            .unwrap()
            .cancelled
    );
    assert!(matches!(
        s.complete(&t.task_id, &done(&w, 1, json!({})), 2_400).await,
        Err(StoreError::Conflict(_))
    ));
    // The refused completion ended the lease: there is nothing left to release.
    assert!(matches!(
        s.release(&t.task_id, &lease, 2_500).await,
        Err(StoreError::Conflict(_))
    ));
    let d = s.job_detail(&job.id).await.unwrap();
    assert_eq!(d.counts.cancelled, d.job.progress.total);
    assert!(matches!(
        s.cancel_job(&job.id, 2_600).await,
        Err(StoreError::Conflict(_))
    ));
}

async fn retry_and_delete(db: Db) {
    let s = store(db).await;
    let w = worker(&*s, "w").await;
    let job = s.create_job(new_job(5, 5, 1, 1), 1_000).await.unwrap();
    assert!(matches!(
        s.retry_job(&job.id, 1_100).await,
        Err(StoreError::Conflict(_))
    ));
    let t = s
        .claim(&w, Want::tasks(1), 30_000, 2_000)
        .await
        .unwrap()
        .remove(0);
    let f = FailRequest {
        worker_id: w.clone(),
        attempt: 1,
        error: "bad".into(),
        retryable: true,
    };
    s.fail(&t.task_id, &f, Backoff::default(), 2_100)
        .await
        .unwrap();
    assert_eq!(s.get_job(&job.id).await.unwrap().state.as_str(), "failed");
    let j = s.retry_job(&job.id, 2_200).await.unwrap();
    assert_eq!(j.state.as_str(), "running");
    assert_eq!(j.error, None);
    let t = s
        .claim(&w, Want::tasks(1), 30_000, 2_300)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(t.attempt, 1, "retry gives fresh attempts");
    s.delete_job(&job.id).await.unwrap();
    assert!(matches!(
        s.get_job(&job.id).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.delete_job(&job.id).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(s.list_jobs(10).await.unwrap().is_empty());
}

async fn workers_and_health(db: Db) {
    let s = store(db).await;
    let h = HealthThresholds {
        late_after_ms: 10_000,
        dead_after_ms: 30_000,
    };
    let a = worker(&*s, "a").await;
    let b = worker(&*s, "b").await;
    s.touch_worker(&a, 50_000).await.unwrap();
    let ws = s.list_workers(h, 55_000).await.unwrap();
    let health = |id: &str| ws.iter().find(|w| w.id == id).unwrap().health;
    assert_eq!(health(&a), Health::Healthy);
    assert_eq!(health(&b), Health::Dead);
    s.stop_worker(&b, 56_000).await.unwrap();
    let ws = s.list_workers(h, 57_000).await.unwrap();
    assert_eq!(
        ws.iter().find(|w| w.id == b).unwrap().health,
        Health::Stopped
    );
    assert!(matches!(
        s.touch_worker("nope", 1).await,
        Err(StoreError::NotFound(_))
    ));
    let o = s.overview(h, 55_000).await.unwrap();
    assert_eq!(o.workers_total, 1);
    // Each worker's running tasks (counted from the leases) and completed ones (counted as
    // they complete).
    s.create_job(new_job(30, 5, 4, 3), 58_000).await.unwrap();
    let tasks = s.claim(&a, Want::tasks(3), 30_000, 58_000).await.unwrap();
    assert_eq!(tasks.len(), 3);
    let t = &tasks[0];
    s.complete(
        &t.task_id,
        &done(&a, t.attempt, json!({"files": 5})),
        58_100,
    )
    .await
    .unwrap();
    let ws = s.list_workers(h, 58_200).await.unwrap();
    let counts = |id: &str| {
        let w = ws.iter().find(|w| w.id == id).unwrap();
        (w.active, w.tasks_done)
    };
    assert_eq!(counts(&a), (2, 1));
    assert_eq!(counts(&b), (0, 0));
}

/// Many claimers at once: no task is leased twice and W is never exceeded.
async fn concurrent_claimers_never_exceed_w(db: Db) {
    let s = store(db).await;
    let job = s.create_job(new_job(200, 5, 4, 3), 1_000).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..8 {
        ids.push(worker(&*s, &format!("w{i}")).await);
    }
    let mut handles = Vec::new();
    for w in ids {
        let s = s.clone();
        handles.push(tokio::spawn(async move {
            s.claim(&w, Want::tasks(3), 30_000, 2_000).await.unwrap()
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.unwrap());
    }
    // Claimers that met a locked job skip it (Postgres), so some may come back empty.
    assert!(
        all.len() <= 4,
        "at most W tasks leased across all claimers, got {}",
        all.len()
    );
    let w = worker(&*s, "late").await;
    let more = s.claim(&w, Want::tasks(10), 30_000, 2_000).await.unwrap();
    assert_eq!(
        all.len() + more.len(),
        4,
        "the remaining slots are claimable"
    );
    all.extend(more);
    let mut seen: Vec<_> = all.iter().map(|t| t.task_id.clone()).collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), all.len());
    let d = s.job_detail(&job.id).await.unwrap();
    assert_eq!(d.counts.leased, 4);
}

/// The SQLite file is in WAL mode (readers never wait for the writer) and the folders
/// above it are created.
#[tokio::test]
async fn sqlite_is_configured_for_concurrency() {
    use sqlx::Connection;
    let dir = common::temp_dir("pragma").join("nested/deeper");
    let url = format!("sqlite:{}", dir.join("orchard.db").display());
    let s = engine::store::connect(&url).await.unwrap();
    s.ping().await.unwrap();
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    assert!(dir.join("orchard.db").exists());
}

/// Postgres's lease functions find tasks through indexes on a connection's first call, when
/// the table is young and small: the plan they keep for the connection must not read the
/// whole task table on every claim once it has grown.
#[tokio::test]
async fn postgres_leases_never_scan_the_task_table() {
    use sqlx::{Connection, Row};
    let dir = common::temp_dir("pg-plans");
    let url = common::fresh_database(Db::Postgres, &dir).await;
    let s = engine::store::connect(&url).await.unwrap();
    let w = worker(&*s, "w").await;
    s.create_job(new_job(200, 5, 2, 3), 1_000).await.unwrap();
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    let mut tx = conn.begin().await.unwrap();
    let claimed = sqlx::query(
        "SELECT id, job_id, attempt FROM orchard_claim($1, 2, 30000, 2000, true) \
         WHERE id IS NOT NULL",
    )
    .bind(&w)
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    assert_eq!(claimed.len(), 2, "W = 2 bounds the claim");
    let ids: Vec<String> = claimed.iter().map(|r| r.get("id")).collect();
    let jobs: Vec<String> = claimed.iter().map(|r| r.get("job_id")).collect();
    let attempts: Vec<i64> = claimed.iter().map(|r| r.get("attempt")).collect();
    let outputs = vec![r#"{"files": 5}"#.to_string(); 2];
    // Both completions go through, and the same call leases the next two.
    let report = sqlx::query(
        "SELECT claimed, id FROM orchard_report($1, $2, $3, $4, $5, 3000, 2, 30000) \
         WHERE id IS NOT NULL",
    )
    .bind(&w)
    .bind(&ids)
    .bind(&jobs)
    .bind(&attempts)
    .bind(&outputs)
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    let claimed_again = report
        .iter()
        .filter(|r| r.get::<bool, _>("claimed"))
        .count();
    assert_eq!((report.len() - claimed_again, claimed_again), (2, 2));
    let (seq, idx): (i64, i64) = sqlx::query_as(
        "SELECT seq_scan, idx_scan FROM pg_stat_xact_user_tables WHERE relname = 'job_tasks'",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!(seq, 0, "a lease function read job_tasks sequentially");
    assert!(idx > 0);
    tx.rollback().await.unwrap();
}

pub(crate) fn output_for(t: &LeasedTask) -> serde_json::Value {
    match t.phase.as_str() {
        "generate" => json!({"files": 5}),
        "map" => json!({"sum": 10, "count": 2}),
        _ => {
            let sum: i64 = t.inputs.iter().map(|i| i["sum"].as_i64().unwrap()).sum();
            let count: i64 = t.inputs.iter().map(|i| i["count"].as_i64().unwrap()).sum();
            json!({"sum": sum, "count": count})
        }
    }
}

pub(crate) fn item(t: &LeasedTask, attempt: i64) -> CompletedTask {
    CompletedTask {
        task_id: t.task_id.clone(),
        job_id: Some(t.job_id.clone()),
        attempt,
        output: output_for(t),
        run_ms: Some(3),
        started_us: None,
        run_us: None,
        spawn: Vec::new(),
    }
}

pub(crate) async fn leased(s: &dyn Store, job_id: &str) -> i64 {
    s.job_detail(job_id).await.unwrap().counts.leased
}

async fn batches_fence_each_item_and_claim_within_w(db: Db) {
    let s = store(db).await;
    let w = worker(&*s, "w").await;
    let job = s.create_job(new_job(100, 5, 8, 3), 1_000).await.unwrap();
    let first = s.claim(&w, Want::tasks(8), 30_000, 2_000).await.unwrap();
    assert_eq!(first.len(), 8);
    // Seven good items (two without their job id, which the queue then looks up), one under
    // a wrong attempt, one unknown task, one listed twice, one naming the wrong job.
    let mut items: Vec<CompletedTask> = first[..7].iter().map(|t| item(t, t.attempt)).collect();
    items[1].job_id = None;
    items[2].job_id = None;
    items.push(item(&first[7], first[7].attempt + 1));
    items.push(CompletedTask {
        task_id: "no-such-task".into(),
        ..item(&first[0], 1)
    });
    items.push(item(&first[0], first[0].attempt));
    let other = s.create_job(new_job(10, 5, 1, 3), 1_500).await.unwrap();
    items.push(CompletedTask {
        job_id: Some(other.id.clone()),
        ..item(&first[7], first[7].attempt)
    });
    let out = s
        .complete_batch(&w, &items, Want::tasks(8), 30_000, 2_100)
        .await
        .unwrap();
    assert_eq!(out.completed.len(), items.len());
    assert!(
        out.completed[..7].iter().all(|r| r.is_ok()),
        "{:?}",
        out.completed
    );
    assert!(matches!(out.completed[7], Err(StoreError::Conflict(_))));
    assert!(matches!(out.completed[8], Err(StoreError::NotFound(_))));
    assert!(matches!(out.completed[9], Err(StoreError::Conflict(_))));
    assert!(matches!(out.completed[10], Err(StoreError::Invalid(_))));
    // The refused task is still leased, so the claim riding along took 7 of this job's
    // tasks, not 8 (and the other job's one task, its W being 1).
    let (mut held, others): (Vec<LeasedTask>, Vec<LeasedTask>) =
        out.claimed.into_iter().partition(|t| t.job_id == job.id);
    assert_eq!(held.len(), 7);
    assert_eq!(others.len(), 1);
    assert_eq!(leased(&*s, &job.id).await, 8);
    assert_eq!(s.get_job(&job.id).await.unwrap().progress.done, 7);

    // Batches alone drive the job to its exact result; W is never exceeded.
    held.push(first[7].clone());
    let mut now = 2_200;
    let mut finished = 0;
    let mut maps = 0;
    while !held.is_empty() {
        maps += held.iter().filter(|t| t.phase == "map").count() as i64;
        now += 10;
        let items: Vec<CompletedTask> = held.iter().map(|t| item(t, t.attempt)).collect();
        let out = s
            .complete_batch(&w, &items, Want::tasks(8), 30_000, now)
            .await
            .unwrap();
        for (r, t) in out.completed.iter().zip(&held) {
            let c = r.as_ref().expect("held lease accepted");
            assert_eq!(c.duration_ms, 3);
            if c.job_finished {
                assert!(t.is_root);
                finished += 1;
            }
        }
        assert!(leased(&*s, &job.id).await <= 8);
        held = out.claimed;
    }
    assert_eq!(finished, 1);
    let j = s.get_job(&job.id).await.unwrap();
    assert_eq!(j.state.as_str(), "succeeded");
    assert_eq!(j.progress.done, j.progress.total);
    assert!(maps > 0);
    assert_eq!(
        j.result.unwrap(),
        json!({"sum": 10 * maps, "count": 2 * maps})
    );

    // A cancelled job refuses every item of a batch and hands out nothing.
    let job = s.create_job(new_job(10, 5, 4, 3), now).await.unwrap();
    let t = s.claim(&w, Want::tasks(4), 30_000, now + 1).await.unwrap();
    s.cancel_job(&job.id, now + 2).await.unwrap();
    let items: Vec<CompletedTask> = t.iter().map(|t| item(t, t.attempt)).collect();
    let out = s
        .complete_batch(&w, &items, Want::tasks(4), 30_000, now + 3)
        .await
        .unwrap();
    assert!(
        out.completed
            .iter()
            .all(|r| matches!(r, Err(StoreError::Conflict(_))))
    );
    assert!(out.claimed.is_empty());
    // Their leases ended with the refusal: nothing of the cancelled job stays leased.
    assert_eq!(leased(&*s, &job.id).await, 0);
    // An unknown worker's batch is refused item by item and claims nothing.
    let out = s
        .complete_batch("ghost", &items, Want::tasks(4), 30_000, now + 4)
        .await
        .unwrap();
    assert!(out.completed.iter().all(|r| r.is_err()));
    assert!(out.claimed.is_empty());

    // An item naming a job that does not exist fails the whole batch, and the good items
    // before it are rolled back with it.
    let job = s.create_job(new_job(10, 5, 2, 3), now + 5).await.unwrap();
    let t = s.claim(&w, Want::tasks(1), 30_000, now + 6).await.unwrap();
    let items = vec![
        item(&t[0], t[0].attempt),
        CompletedTask {
            job_id: Some("no-such-job".into()),
            ..item(&t[0], t[0].attempt)
        },
    ];
    let err = s
        .complete_batch(&w, &items, Want::tasks(2), 30_000, now + 7)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    assert_eq!(s.get_job(&job.id).await.unwrap().progress.done, 0);
    assert_eq!(leased(&*s, &job.id).await, 1);
    // The same completion on its own still goes through.
    let out = s
        .complete_batch(&w, &items[..1], Want::tasks(0), 30_000, now + 8)
        .await
        .unwrap();
    assert!(out.completed[0].is_ok());
    assert_eq!(s.get_job(&job.id).await.unwrap().progress.done, 1);
}

/// `BatchOutcome::more`: true when the claim riding along may have left claimable work
/// behind, which is what makes the queue wake other claimers; false when it filled its
/// job's concurrency or took all there was.
async fn batch_claims_say_whether_they_left_work_behind(db: Db) {
    let s = store(db).await;
    let w = worker(&*s, "w").await;
    // Twenty ready generate tasks, at most four leased at once.
    let job = s.create_job(new_job(100, 5, 4, 3), 1_000).await.unwrap();
    let held = s.claim(&w, Want::tasks(2), 30_000, 2_000).await.unwrap();
    assert_eq!(held.len(), 2);
    // Room for three, asked for one: more is left.
    let out = s
        .complete_batch(
            &w,
            &[item(&held[0], held[0].attempt)],
            Want::tasks(1),
            30_000,
            2_010,
        )
        .await
        .unwrap();
    assert_eq!(out.claimed.len(), 1);
    assert!(out.more);
    // Two more fill the job's four; then a completion frees one place and the claim takes it.
    let more = s.claim(&w, Want::tasks(2), 30_000, 2_020).await.unwrap();
    assert_eq!(more.len(), 2);
    assert_eq!(leased(&*s, &job.id).await, 4);
    let out = s
        .complete_batch(
            &w,
            &[item(&held[1], held[1].attempt)],
            Want::tasks(1),
            30_000,
            2_030,
        )
        .await
        .unwrap();
    assert_eq!(out.claimed.len(), 1);
    assert_eq!(leased(&*s, &job.id).await, 4);
    assert!(!out.more, "the job is full");
    // A claim that got fewer than it asked for took all there was.
    let out = s
        .complete_batch(
            &w,
            &[item(&more[0], more[0].attempt)],
            Want::tasks(4),
            30_000,
            2_040,
        )
        .await
        .unwrap();
    assert_eq!(out.claimed.len(), 1);
    assert!(!out.more);
    // A batch that claims nothing says nothing is left behind.
    let out = s
        .complete_batch(
            &w,
            &[item(&more[1], more[1].attempt)],
            Want::tasks(0),
            30_000,
            2_050,
        )
        .await
        .unwrap();
    assert!(out.claimed.is_empty());
    assert!(!out.more);
}

/// Two workers each report their own tasks, at once, asking for more than they return: W
/// is never exceeded, every task runs once, and progress and result come out exact.
async fn workers_reporting_at_once_keep_w_and_exact_progress(db: Db) {
    use std::sync::atomic::{AtomicI64, Ordering};
    let s = store(db).await;
    let job = s.create_job(new_job(200, 5, 2, 3), 1_000).await.unwrap();
    let clock = Arc::new(AtomicI64::new(2_000));
    let maps = Arc::new(AtomicI64::new(0));
    let mut loops = Vec::new();
    for name in ["a", "b"] {
        let (s, clock, maps, job_id) = (s.clone(), clock.clone(), maps.clone(), job.id.clone());
        let w = worker(&*s, name).await;
        loops.push(tokio::spawn(async move {
            let mut held = Vec::new();
            loop {
                let now = clock.fetch_add(1, Ordering::SeqCst);
                if held.is_empty() {
                    let state = s.get_job(&job_id).await.unwrap().state;
                    if !matches!(state.as_str(), "queued" | "running") {
                        return;
                    }
                    held = s.claim(&w, Want::tasks(1), 30_000, now).await.unwrap();
                    if held.is_empty() {
                        tokio::task::yield_now().await;
                    }
                    continue;
                }
                let map_tasks = held.iter().filter(|t| t.phase == "map").count() as i64;
                maps.fetch_add(map_tasks, Ordering::SeqCst);
                let items: Vec<CompletedTask> = held.iter().map(|t| item(t, t.attempt)).collect();
                let out = s
                    .complete_batch(&w, &items, Want::tasks(3), 30_000, now)
                    .await
                    .unwrap();
                assert!(
                    out.completed.iter().all(|r| r.is_ok()),
                    "{:?}",
                    out.completed
                );
                let leased = s.job_detail(&job_id).await.unwrap().counts.leased;
                assert!(leased <= 2, "{leased} tasks leased under W = 2");
                held = out.claimed;
            }
        }));
    }
    for l in loops {
        l.await.unwrap();
    }
    let j = s.get_job(&job.id).await.unwrap();
    assert_eq!(j.state.as_str(), "succeeded");
    assert_eq!(j.progress.done, j.progress.total);
    let maps = maps.load(Ordering::SeqCst);
    assert_eq!(maps, 40, "each map task ran once");
    assert_eq!(
        j.result.unwrap(),
        json!({"sum": 10 * maps, "count": 2 * maps})
    );
}

mod accounts {
    use super::*;
    use shared::accounts::model::{AuditEntry, AuditFilter, Role};

    use crate::common::both;
    both!(
        users_sessions_and_the_last_admin,
        audit_log_filters_and_pages
    );

    async fn users_sessions_and_the_last_admin(db: Db) {
        let s = store(db).await;
        assert_eq!(s.count_users().await.unwrap(), 0);
        let ana = s
            .create_user("ana", "h1", Role::Admin, 1_000)
            .await
            .unwrap();
        assert!(matches!(
            s.create_user("ana", "h2", Role::Viewer, 1_000).await,
            Err(StoreError::Conflict(_))
        ));
        s.create_user("bo", "h3", Role::Viewer, 1_001)
            .await
            .unwrap();
        let c = s.credentials("ana").await.unwrap().unwrap();
        assert_eq!((c.password_hash.as_str(), c.user.role), ("h1", Role::Admin));
        assert!(s.credentials("nobody").await.unwrap().is_none());

        // Sessions end when idle too long, at their absolute end, or when the user is disabled.
        s.create_session("s1", &ana.id, 2_000, 100_000)
            .await
            .unwrap();
        assert_eq!(
            s.session_user("s1", 10_000, 5_000)
                .await
                .unwrap()
                .unwrap()
                .username,
            "ana"
        );
        assert!(
            s.session_user("s1", 10_000, 20_000)
                .await
                .unwrap()
                .is_none(),
            "idle"
        );
        s.create_session("s2", &ana.id, 2_000, 100_000)
            .await
            .unwrap();
        assert!(
            s.session_user("s2", 1_000_000, 100_001)
                .await
                .unwrap()
                .is_none(),
            "absolute"
        );
        assert!(
            s.session_user("nope", 10_000, 5_000)
                .await
                .unwrap()
                .is_none()
        );
        s.create_session("s3", &ana.id, 2_000, 100_000)
            .await
            .unwrap();
        s.create_session("s4", &ana.id, 2_000, 100_000)
            .await
            .unwrap();
        assert_eq!(s.list_users(3_000).await.unwrap()[0].sessions, 4);
        s.delete_session("s3").await.unwrap();
        assert!(s.session_user("s3", 10_000, 3_000).await.unwrap().is_none());
        assert_eq!(s.delete_user_sessions(&ana.id).await.unwrap(), 3);

        // The last enabled admin can be neither demoted nor disabled.
        assert!(matches!(
            s.set_role("ana", Role::Editor).await,
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            s.set_disabled("ana", true, 3_000).await,
            Err(StoreError::Conflict(_))
        ));
        s.set_role("bo", Role::Admin).await.unwrap();
        s.set_role("ana", Role::Editor).await.unwrap();
        s.create_session("s5", &ana.id, 3_000, 100_000)
            .await
            .unwrap();
        let ana = s.set_disabled("ana", true, 3_100).await.unwrap();
        assert!(ana.disabled);
        assert!(s.session_user("s5", 10_000, 3_200).await.unwrap().is_none());
        s.set_password("bo", "h9").await.unwrap();
        assert_eq!(
            s.credentials("bo").await.unwrap().unwrap().password_hash,
            "h9"
        );
        assert!(matches!(
            s.set_role("ghost", Role::Viewer).await,
            Err(StoreError::NotFound(_))
        ));

        // A setup link works once, before it expires.
        s.create_setup_link("l1", 1_000, 5_000).await.unwrap();
        assert!(!s.use_setup_link("l1", 6_000).await.unwrap());
        s.create_setup_link("l2", 1_000, 5_000).await.unwrap();
        assert!(s.use_setup_link("l2", 2_000).await.unwrap());
        assert!(!s.use_setup_link("l2", 2_001).await.unwrap());
    }

    async fn audit_log_filters_and_pages(db: Db) {
        let s = store(db).await;
        for i in 0..30 {
            let entry = AuditEntry {
                id: uuid::Uuid::now_v7().to_string(),
                at: 1_000 + i,
                actor: if i % 2 == 0 {
                    "ana".into()
                } else {
                    "bo".into()
                },
                role: "editor".into(),
                action: if i % 3 == 0 {
                    "DELETE /api/v1/jobs/{id}".into()
                } else {
                    "fn cancel_job".into()
                },
                target: format!("t{i}"),
                status: 200,
                request_id: String::new(),
            };
            s.record_audit(&entry).await.unwrap();
        }
        let all = s.list_audit(&AuditFilter::default()).await.unwrap();
        assert_eq!(all.len(), 30);
        assert_eq!(all[0].target, "t29", "newest first");
        let ana = s
            .list_audit(&AuditFilter {
                actor: Some("ana".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(ana.len(), 15);
        let deletes = s
            .list_audit(&AuditFilter {
                action: Some("delete".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(deletes.len(), 10);
        let wild = s
            .list_audit(&AuditFilter {
                action: Some("%".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(wild.is_empty(), "wildcards are literal");
        let page = s
            .list_audit(&AuditFilter {
                limit: Some(10),
                ..Default::default()
            })
            .await
            .unwrap();
        let next = s
            .list_audit(&AuditFilter {
                limit: Some(10),
                before: Some(page[9].id.clone()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(next[0].target, "t19");
    }
}

/// A job whose kind runs only on the server's own workers is never leased to a remote
/// worker, by a claim or by a report's claim; the server's workers take it.
async fn server_only_jobs_go_only_to_the_servers_workers(db: Db) {
    let s = store(db).await;
    let remote = worker(&*s, "remote").await;
    let own = s
        .register_worker(
            NewWorker {
                name: "pool".into(),
                kind: WorkerKind::Inprocess,
                hostname: "h".into(),
                version: "1".into(),
                concurrency: 4,
                secret_hash: None,
                handlers: Vec::new(),
            },
            1_000,
        )
        .await
        .unwrap();
    let open = s.create_job(new_job(10, 5, 4, 3), 1_000).await.unwrap();
    let server_job = s
        .create_job(
            NewJob {
                server_only: true,
                ..new_job(10, 5, 4, 3)
            },
            1_001,
        )
        .await
        .unwrap();
    let got = s
        .claim(&remote, Want::tasks(10), 30_000, 2_000)
        .await
        .unwrap();
    assert!(!got.is_empty());
    assert!(got.iter().all(|t| t.job_id == open.id), "{got:?}");
    let out = s
        .complete_batch(
            &remote,
            &[item(&got[0], got[0].attempt)],
            Want::tasks(10),
            30_000,
            2_010,
        )
        .await
        .unwrap();
    assert!(
        out.claimed.iter().all(|t| t.job_id == open.id),
        "{:?}",
        out.claimed
    );
    let mine = s.claim(&own, Want::tasks(10), 30_000, 2_020).await.unwrap();
    assert!(mine.iter().any(|t| t.job_id == server_job.id), "{mine:?}");
}
