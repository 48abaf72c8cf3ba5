//! Real worker processes: remote `orchard worker`s lease over REST, survive a killed worker
//! (its leases expire and are reaped), stop cleanly on SIGTERM; jobs survive a server restart.

use crate::common;

use common::{Db, signal, spawn_app, spawn_with, start_worker, wait_exit};
use std::time::Duration;

async fn remote_workers_run_a_job(db: Db) {
    let app = spawn_app(db, 0).await;
    let mut w = start_worker(&app.base, "remote-1", 2);
    let id = app.create_job(2, 12, 200).await;
    let detail = app.wait_for_job(&id, 120).await;
    assert_eq!(detail["state"], "succeeded", "{detail}");
    assert_eq!(detail["contributions"][0]["worker_name"], "remote-1");
    app.assert_verified(&id).await;
    let (_, workers) = app.get_json("/api/v1/workers").await;
    let me = workers
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "remote-1")
        .expect("listed")
        .clone();
    assert_eq!(me["kind"], "remote");
    assert_eq!(me["health"], "healthy");
    signal(&w, "-TERM");
    assert!(wait_exit(&mut w, 15).await.success());
    let (_, workers) = app.get_json("/api/v1/workers").await;
    let me = workers
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "remote-1")
        .unwrap()
        .clone();
    assert_eq!(me["health"], "stopped");
    app.running.stop().await;
}

#[tokio::test]
async fn remote_workers_run_a_job_sqlite() {
    remote_workers_run_a_job(Db::Sqlite).await;
}

#[tokio::test]
async fn remote_workers_run_a_job_postgres() {
    remote_workers_run_a_job(Db::Postgres).await;
}

/// A worker killed mid-job loses its leases to the reaper; another worker finishes the job
/// with the exact result.
#[tokio::test]
async fn a_killed_worker_does_not_lose_the_job() {
    let dir = common::temp_dir("kill");
    let url = common::fresh_database(Db::Postgres, &dir).await;
    let mut s = common::settings(url, &dir, 0);
    s.lease_secs = 2;
    let app = spawn_with(s, dir).await;
    let id = app.create_job(4, 200, 20_000).await;
    let mut a = start_worker(&app.base, "doomed", 4);
    // Let it lease and start some tasks, then kill it without warning.
    app.wait_until(&id, 5, |d| {
        d["counts"]["leased"].as_i64().unwrap_or(0) > 0
            && d["progress"]["done"].as_i64().unwrap_or(0) > 2
    })
    .await;
    signal(&a, "-KILL");
    let _ = wait_exit(&mut a, 5).await;
    let mut b = start_worker(&app.base, "rescuer", 4);
    let detail = app.wait_for_job(&id, 240).await;
    assert_eq!(detail["state"], "succeeded", "{detail}");
    app.assert_verified(&id).await;
    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let expiries = metrics
        .lines()
        .find_map(|l| l.strip_prefix("orchard_lease_expiries_total "))
        .and_then(|n| n.trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    assert!(
        expiries >= 1.0,
        "the killed worker's leases expired:\n{metrics}"
    );
    signal(&b, "-TERM");
    assert!(wait_exit(&mut b, 15).await.success());
    app.running.stop().await;
}

/// Stopping the server mid-job and starting a new one on the same database finishes the job.
#[tokio::test]
async fn jobs_survive_a_server_restart() {
    let dir = common::temp_dir("restart");
    let url = common::fresh_database(Db::Sqlite, &dir).await;
    let app = spawn_with(common::settings(url.clone(), &dir, 2), dir.clone()).await;
    // Long enough (a few seconds on a quick machine) that the server stops well inside it.
    let id = app.create_job(2, 600, 20_000).await;
    let before = app
        .wait_until(&id, 5, |d| d["progress"]["done"].as_i64().unwrap_or(0) > 5)
        .await;
    assert_eq!(before["state"], "running", "{before}");
    app.running.stop().await;
    let app = spawn_with(common::settings(url, &dir, 2), dir).await;
    let detail = app.wait_for_job(&id, 240).await;
    assert_eq!(detail["state"], "succeeded", "{detail}");
    app.assert_verified(&id).await;
    app.running.stop().await;
}

/// Two `orchard serve` replicas on one Postgres share the queue: a job created on one is
/// worked by both replicas' in-process workers and seen finished from either.
#[tokio::test]
async fn replicas_share_one_postgres_queue() {
    let dir_a = common::temp_dir("replica-a");
    let url = common::fresh_database(Db::Postgres, &dir_a).await;
    let a = spawn_with(common::settings(url.clone(), &dir_a, 2), dir_a.clone()).await;
    // Job files must be visible to both replicas: they share the folder, as they would share
    // a network file system or bucket in production.
    let b = spawn_with(common::settings(url, &dir_a, 2), dir_a).await;
    // A browser on replica B hears about a job created on replica A.
    let mut stream = b.http.get(b.url("/api/v1/events")).send().await.unwrap();
    let id = a.create_job(8, 200, 2_000).await;
    let heard = tokio::time::timeout(Duration::from_secs(10), async {
        let mut seen = String::new();
        while let Some(chunk) = stream.chunk().await.unwrap() {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains(&id) {
                return seen;
            }
        }
        seen
    })
    .await
    .expect("replica B relays replica A's events");
    assert!(heard.contains(&format!("\"id\":\"{id}\"")), "{heard}");
    drop(stream);
    let detail = b.wait_for_job(&id, 120).await;
    assert_eq!(detail["state"], "succeeded", "{detail}");
    let (_, workers) = b.get_json("/api/v1/workers").await;
    let in_process: Vec<_> = workers
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["kind"] == "inprocess")
        .collect();
    assert_eq!(
        in_process.len(),
        2,
        "both replicas registered their pools: {workers}"
    );
    let contributors = detail["contributions"].as_array().unwrap().len();
    assert!(contributors >= 1);
    a.assert_verified(&id).await;
    a.running.stop().await;
    b.running.stop().await;
}

/// A claim waiting for work is woken by a new job and answers with its task (on Postgres the
/// wake-up's readiness check once failed to decode, and the claim answered 500).
async fn a_waiting_claim_is_woken_by_a_new_job(db: Db) {
    let app = spawn_app(db, 0).await;
    let (_, w) = app
        .post_json(
            "/api/v1/workers/register",
            serde_json::json!({"name": "waiter"}),
        )
        .await;
    let secret = w["worker_secret"].as_str().unwrap().to_string();
    let claim = {
        let app_base = app.base.clone();
        let http = app.http.clone();
        let body = serde_json::json!({"worker_id": w["worker_id"], "max": 1, "wait_ms": 4000});
        tokio::spawn(async move {
            let r = http
                .post(format!("{app_base}/api/v1/leases/claim"))
                .header("x-orchard-worker-secret", secret)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<serde_json::Value>().await.unwrap())
        })
    };
    // The claim is waiting (its first look found nothing) when the job arrives.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let id = app.create_job(1, 5, 10).await;
    let (status, tasks) = claim.await.unwrap();
    assert_eq!(status, 200, "{tasks}");
    let tasks = tasks.as_array().expect("a list of tasks");
    assert_eq!(tasks.len(), 1, "woken with the new job's task: {tasks:?}");
    assert_eq!(tasks[0]["job_id"], id.as_str());
    app.running.stop().await;
}

#[tokio::test]
async fn a_waiting_claim_is_woken_by_a_new_job_sqlite() {
    a_waiting_claim_is_woken_by_a_new_job(Db::Sqlite).await;
}

#[tokio::test]
async fn a_waiting_claim_is_woken_by_a_new_job_postgres() {
    a_waiting_claim_is_woken_by_a_new_job(Db::Postgres).await;
}

/// The run intervals (start, end) in microseconds of a job's done tasks, as workers
/// reported them.
async fn run_intervals(app: &common::TestApp, job_id: &str) -> Vec<(i64, i64)> {
    let sql = "SELECT run_started_us, run_us FROM job_tasks WHERE job_id = $1 AND state = 'done'";
    let rows: Vec<(Option<i64>, Option<i64>)> = if app.database_url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(&app.database_url).await.unwrap();
        sqlx::query_as(sql)
            .bind(job_id)
            .fetch_all(&pool)
            .await
            .unwrap()
    } else {
        let pool = sqlx::PgPool::connect(&app.database_url).await.unwrap();
        sqlx::query_as(sql)
            .bind(job_id)
            .fetch_all(&pool)
            .await
            .unwrap()
    };
    rows.into_iter()
        .map(|(start, run)| {
            let (start, run) = (start.expect("a start time"), run.expect("a run time"));
            (start, start + run)
        })
        .collect()
}

/// The most intervals that overlap at any instant (half-open: one ending as another starts
/// do not overlap).
fn most_at_once(intervals: &[(i64, i64)]) -> usize {
    let mut edges: Vec<(i64, i32)> = intervals
        .iter()
        .flat_map(|&(s, e)| [(s, 1), (e, -1)])
        .collect();
    // Ends before starts at the same instant.
    edges.sort();
    let (mut now, mut most) = (0i32, 0i32);
    for (_, d) in edges {
        now += d;
        most = most.max(now);
    }
    most as usize
}

/// No-op and file-average jobs never run more than their W tasks at once, shown from the
/// start and run times the workers reported (two in-process slots and two remote workers
/// compete for them).
async fn never_more_than_w_tasks_run_at_once(db: Db) {
    let app = spawn_app(db, 2).await;
    // Killed however the test ends, so no worker outlives it.
    struct Workers(Vec<std::process::Child>);
    impl Drop for Workers {
        fn drop(&mut self) {
            for w in &mut self.0 {
                let _ = w.kill();
                let _ = w.wait();
            }
        }
    }
    let _remote = Workers(vec![
        start_worker(&app.base, "w-a", 3),
        start_worker(&app.base, "w-b", 3),
    ]);
    let (_, noop) = app
        .post_json(
            "/api/v1/jobs",
            serde_json::json!({"kind": "noop", "params": {"tasks": 400, "workers": 3}}),
        )
        .await;
    let noop_id = noop["id"].as_str().unwrap().to_string();
    let file_average = app.create_job(2, 40, 2000).await;
    let mut totals = Vec::new();
    for id in [&noop_id, &file_average] {
        let detail = app.wait_for_job(id, 120).await;
        assert_eq!(detail["state"], "succeeded", "{detail}");
        totals.push(detail["progress"]["total"].as_u64().unwrap() as usize);
    }
    let runs = run_intervals(&app, &noop_id).await;
    assert_eq!(runs.len(), totals[0]);
    assert!(
        most_at_once(&runs) <= 3,
        "{} no-op tasks at once",
        most_at_once(&runs)
    );
    let runs = run_intervals(&app, &file_average).await;
    assert_eq!(runs.len(), totals[1]);
    assert!(
        most_at_once(&runs) <= 2,
        "{} file-average tasks at once",
        most_at_once(&runs)
    );
    app.running.stop().await;
}

#[test]
fn overlap_is_counted_half_open() {
    assert_eq!(most_at_once(&[(0, 10), (10, 20), (20, 30)]), 1);
    assert_eq!(most_at_once(&[(0, 10), (5, 20), (9, 30)]), 3);
    assert_eq!(most_at_once(&[]), 0);
}

#[tokio::test]
async fn never_more_than_w_tasks_run_at_once_sqlite() {
    never_more_than_w_tasks_run_at_once(Db::Sqlite).await;
}

#[tokio::test]
async fn never_more_than_w_tasks_run_at_once_postgres() {
    never_more_than_w_tasks_run_at_once(Db::Postgres).await;
}
