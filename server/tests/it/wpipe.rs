//! The wpipe-compatible process-monitor API: every route and error case on SQLite and
//! Postgres, tokens (shared, issued by `orchard token`, revoked), CORS, Orchard's own
//! workers on the same dashboards, and the real `wpipe` client from PyPI end to end.

use crate::common;

use common::{Db, TestApp, spawn_with};
use serde_json::{Value, json};
use std::process::Command;
use std::time::Duration;

const TOKEN: &str = "s3cret-shared-0123456789abcdef0123";

async fn spawn(db: Db, tweak: impl FnOnce(&mut orchard_server::config::ServeSettings)) -> TestApp {
    let dir = common::temp_dir("wpipe");
    let url = common::fresh_database(db, &dir).await;
    let mut s = common::settings(url, &dir, 0);
    s.api_token = Some(TOKEN.into());
    tweak(&mut s);
    spawn_with(s, dir).await
}

/// Sends a request with an optional bearer token and JSON body; (status, JSON body).
async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut rb = app.anon.request(method.parse().unwrap(), app.url(path));
    if let Some(t) = token {
        rb = rb.header("authorization", format!("Bearer {t}"));
    }
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    assert!(status < 500, "{method} {path} answered {status}: {text}");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn post(app: &TestApp, path: &str, body: Value) -> Value {
    let (status, v) = call(app, "POST", path, Some(TOKEN), Some(body)).await;
    assert_eq!(status, 200, "POST {path}: {v}");
    v
}

async fn get(app: &TestApp, path: &str) -> Value {
    let (status, v) = call(app, "GET", path, Some(TOKEN), None).await;
    assert_eq!(status, 200, "GET {path}: {v}");
    v
}

async fn register(app: &TestApp, name: &str, tasks: &[&str]) -> String {
    let tasks: Vec<Value> = tasks
        .iter()
        .map(|t| json!({"name": t, "version": "1.0"}))
        .collect();
    let v = post(
        app,
        "/matricula",
        json!({"name": name, "version": "2.1", "tasks": tasks}),
    )
    .await;
    assert_eq!(v.as_object().unwrap().len(), 1, "{v}");
    v["id"].as_str().unwrap().to_string()
}

fn row<'a>(list: &'a Value, id: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in {list}"))
}

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    k.sort();
    k
}

fn is_iso_time(v: &Value) -> bool {
    let s = v.as_str().unwrap_or_default();
    s.len() == 24 && s.as_bytes()[10] == b'T' && s.ends_with('Z')
}

fn seconds(duration: &Value) -> f64 {
    let s = duration.as_str().unwrap();
    s.strip_prefix("PT")
        .and_then(|s| s.strip_suffix('S'))
        .unwrap_or_else(|| panic!("not an ISO-8601 duration in seconds: {s}"))
        .parse()
        .unwrap()
}

use crate::common::both;

both!(
    a_pipeline_run_end_to_end,
    clean_ends_and_error_details,
    every_error_is_a_clear_4xx,
    the_token_is_required_where_the_seed_documents_it,
    health_comes_from_the_true_heartbeat_age,
    issued_tokens_work_and_revoked_ones_stop,
    without_any_token_the_routes_stay_closed,
    orchard_workers_share_the_dashboards,
    an_orchard_task_failure_shows_on_its_process,
    the_real_wpipe_client_reports_to_orchard,
);

async fn a_pipeline_run_end_to_end(db: Db) {
    let app = spawn(db, |_| {}).await;
    let v = call(&app, "GET", "/version", None, None).await;
    assert_eq!(v.0, 200);
    assert!(v.1["version"].is_string(), "{}", v.1);

    let w = register(&app, "etl", &["fetch", "clean", "load"]).await;
    assert_eq!(
        post(&app, "/healthchecker", json!({"id": w})).await,
        json!({"health": 1})
    );
    let p = post(&app, "/newprocess", json!({"id": w})).await;
    assert_eq!(keys(&p), ["father", "sons"]);
    let pid = p["father"].as_str().unwrap().to_string();
    let sons = p["sons"].as_array().unwrap();
    let names: Vec<&str> = sons.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["fetch", "clean", "load"], "registration order");
    assert!(sons.iter().all(|s| keys(s) == ["id", "name"]), "{p}");
    let ids: Vec<String> = sons
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();

    // All pending at first.
    let tasks = get(&app, &format!("/dashboard_tasks/{pid}")).await;
    assert_eq!(tasks.as_array().unwrap().len(), 3);
    for (i, t) in tasks.as_array().unwrap().iter().enumerate() {
        assert_eq!(
            keys(t),
            [
                "details", "father", "id", "name", "received", "runtime", "started", "state",
                "step", "version"
            ]
        );
        assert_eq!(t["state"], "pending");
        assert_eq!(t["step"], format!("{}/3", i + 1));
        assert_eq!(t["father"], pid.as_str());
        assert_eq!(t["id"], ids[i].as_str());
        assert!(t["started"].is_null() && t["details"].is_null());
        assert!(is_iso_time(&t["received"]), "{t}");
        assert_eq!(t["runtime"], "PT0S");
    }

    let upd = |id: &str, status: &str, details: Option<&str>| {
        let mut b = json!({"task_id": id, "status": status});
        if let Some(d) = details {
            b["details"] = json!(d);
        }
        b
    };
    assert_eq!(
        post(&app, "/actualizar_task", upd(&ids[0], "start", None)).await,
        json!({"status": "ok"})
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    post(&app, "/actualizar_task", upd(&ids[0], "success", Some(""))).await;
    post(&app, "/actualizar_task", upd(&ids[1], "start", None)).await;
    tokio::time::sleep(Duration::from_millis(30)).await;

    let tasks = get(&app, &format!("/dashboard_tasks/{pid}")).await;
    let t0 = &tasks[0];
    assert_eq!(t0["state"], "success");
    assert!(is_iso_time(&t0["started"]));
    assert!(
        t0["details"].is_null(),
        "an empty details string is no detail"
    );
    let done = seconds(&t0["runtime"]);
    assert!(done >= 0.02, "end − start, never negative: {t0}");
    let t1 = &tasks[1];
    assert_eq!(t1["state"], "running");
    let live = seconds(&t1["runtime"]);
    assert!(live >= 0.03, "a running task shows its elapsed time: {t1}");
    assert_eq!(tasks[2]["state"], "pending");

    let procs = get(&app, &format!("/dashboard_process/{w}")).await;
    let pr = row(&procs, &pid);
    assert_eq!(
        keys(pr),
        ["id", "last_update", "progress", "status", "step", "worker"]
    );
    assert_eq!(pr["worker"], "etl");
    assert_eq!(pr["status"], "running");
    assert_eq!(pr["step"], "clean", "the most recently updated task");
    assert_eq!(pr["progress"], "33%");
    assert!(is_iso_time(&pr["last_update"]));

    post(
        &app,
        "/actualizar_task",
        upd(&ids[1], "error", Some("{\"error_message\": \"bad row 7\"}")),
    )
    .await;
    assert_eq!(
        post(&app, "/endprocess", json!({"id": pid, "details": ""})).await,
        json!({"status": true})
    );
    // Ending twice changes nothing and says so.
    assert_eq!(
        post(&app, "/endprocess", json!({"id": pid, "details": ""})).await,
        json!({"status": false})
    );
    let tasks = get(&app, &format!("/dashboard_tasks/{pid}")).await;
    assert_eq!(tasks[1]["state"], "error");
    assert_eq!(tasks[1]["details"], "{\"error_message\": \"bad row 7\"}");
    let procs = get(&app, &format!("/dashboard_process/{w}")).await;
    let pr = row(&procs, &pid);
    assert_eq!(pr["status"], "error", "a failed task fails its process");
    assert_eq!(pr["progress"], "66%");

    let (status, workers) = call(&app, "GET", "/dashboard_workers", Some(TOKEN), None).await;
    assert_eq!(status, 200);
    let wr = row(&workers, &w);
    assert_eq!(
        keys(wr),
        [
            "active",
            "failed",
            "id",
            "load_average",
            "orchard_health",
            "processed",
            "status",
            "successed"
        ]
    );
    assert_eq!(wr["status"], "online");
    assert_eq!(wr["orchard_health"], "healthy");
    assert_eq!(
        (
            &wr["processed"],
            &wr["active"],
            &wr["successed"],
            &wr["failed"]
        ),
        (&json!(1), &json!(0), &json!(0), &json!(1))
    );
    let avg: f64 = wr["load_average"].as_str().unwrap().parse().unwrap();
    assert!(avg >= 0.0);
    app.running.stop().await;
}

async fn clean_ends_and_error_details(db: Db) {
    let app = spawn(db, |_| {}).await;
    let w = register(&app, "nightly", &["only"]).await;
    let mut outcome = Vec::new();
    let mut pids = Vec::new();
    for details in [
        None,
        Some(json!("")),
        Some(json!(null)),
        Some(json!("wrote 12 rows")),
        Some(json!("{\"message\": \"x\", \"error_code\": 502}")),
        Some(json!("Traceback (most recent call last): ...")),
    ] {
        let p = post(&app, "/newprocess", json!({"id": w})).await;
        let pid = p["father"].as_str().unwrap().to_string();
        pids.push(pid.clone());
        let task = p["sons"][0]["id"].as_str().unwrap().to_string();
        post(
            &app,
            "/actualizar_task",
            json!({"task_id": task, "status": "start"}),
        )
        .await;
        post(
            &app,
            "/actualizar_task",
            json!({"task_id": task, "status": "success"}),
        )
        .await;
        let mut body = json!({"id": pid});
        if let Some(d) = details {
            body["details"] = d;
        }
        assert_eq!(
            post(&app, "/endprocess", body).await,
            json!({"status": true})
        );
        let procs = get(&app, &format!("/dashboard_process/{w}")).await;
        outcome.push(row(&procs, &pid)["status"].as_str().unwrap().to_string());
        assert_eq!(row(&procs, &pid)["progress"], "100%");
    }
    assert_eq!(
        outcome,
        ["success", "success", "success", "success", "error", "error"],
        "missing details are fine; the outcome follows what details say, not their length"
    );
    // Listed in the order they started, each with its own tasks.
    let procs = get(&app, &format!("/dashboard_process/{w}")).await;
    let listed: Vec<&str> = procs
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, pids);
    assert!(
        procs
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["step"] == "only")
    );
    let (_, workers) = call(&app, "GET", "/dashboard_workers", Some(TOKEN), None).await;
    let wr = row(&workers, &w);
    assert_eq!((&wr["successed"], &wr["failed"]), (&json!(4), &json!(2)));
    app.running.stop().await;
}

async fn every_error_is_a_clear_4xx(db: Db) {
    let app = spawn(db, |_| {}).await;
    let w = register(&app, "e", &["a"]).await;
    let p = post(&app, "/newprocess", json!({"id": w})).await;
    let task = p["sons"][0]["id"].as_str().unwrap().to_string();
    let t = Some(TOKEN);
    let cases: Vec<(&str, &str, Option<Value>, u16)> = vec![
        (
            "POST",
            "/healthchecker",
            Some(json!({"id": "worker_nope"})),
            404,
        ),
        (
            "POST",
            "/newprocess",
            Some(json!({"id": "worker_nope"})),
            404,
        ),
        (
            "POST",
            "/endprocess",
            Some(json!({"id": "process_nope"})),
            404,
        ),
        (
            "POST",
            "/actualizar_task",
            Some(json!({"task_id": "task_nope", "status": "start"})),
            404,
        ),
        (
            "POST",
            "/actualizar_task",
            Some(json!({"task_id": task, "status": "completed"})),
            422,
        ),
        (
            "POST",
            "/actualizar_task",
            Some(json!({"task_id": null, "status": "start"})),
            422,
        ),
        (
            "POST",
            "/actualizar_task",
            Some(json!({"status": "start"})),
            422,
        ),
        (
            "POST",
            "/matricula",
            Some(json!({"name": "x", "version": "1"})),
            422,
        ),
        (
            "POST",
            "/matricula",
            Some(json!({"name": "", "version": "1", "tasks": []})),
            422,
        ),
        (
            "POST",
            "/matricula",
            Some(json!({"name": "x", "version": "1", "tasks": [{"name": "a"}]})),
            422,
        ),
        ("POST", "/matricula", Some(json!([1, 2])), 422),
        ("POST", "/healthchecker", Some(json!({})), 422),
        ("POST", "/endprocess", Some(json!({"id": 5})), 422),
        ("GET", "/dashboard_process/worker_nope", None, 404),
        ("GET", "/dashboard_tasks/process_nope", None, 404),
        ("GET", "/dashboard_tasks/jobx.workery", None, 404),
    ];
    for (method, path, body, want) in cases {
        let (status, v) = call(&app, method, path, t, body.clone()).await;
        assert_eq!(status, want, "{method} {path} {body:?}: {v}");
        assert!(
            v["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{method} {path}: a readable message: {v}"
        );
    }
    // Broken JSON is a 400.
    let r = app
        .http
        .post(app.url("/matricula"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["detail"].as_str().unwrap().contains("invalid JSON"),
        "{v}"
    );
    // A body without a content type is still read (wpipe's clients always send one; curl
    // users often do not).
    let r = app
        .http
        .post(app.url("/healthchecker"))
        .bearer_auth(TOKEN)
        .body(format!("{{\"id\": \"{w}\"}}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // Nothing above changed the task.
    let tasks = get(
        &app,
        &format!("/dashboard_tasks/{}", p["father"].as_str().unwrap()),
    )
    .await;
    assert_eq!(tasks[0]["state"], "pending");
    app.running.stop().await;
}

async fn the_token_is_required_where_the_seed_documents_it(db: Db) {
    let app = spawn(db, |_| {}).await;
    let w = register(&app, "t", &["a"]).await;
    let p = post(&app, "/newprocess", json!({"id": w})).await;
    let pid = p["father"].as_str().unwrap();
    let guarded: Vec<(&str, String, Option<Value>)> = vec![
        (
            "POST",
            "/matricula".into(),
            Some(json!({"name": "x", "version": "1", "tasks": []})),
        ),
        ("POST", "/healthchecker".into(), Some(json!({"id": w}))),
        ("POST", "/newprocess".into(), Some(json!({"id": w}))),
        (
            "POST",
            "/actualizar_task".into(),
            Some(json!({"task_id": p["sons"][0]["id"], "status": "start"})),
        ),
        ("POST", "/endprocess".into(), Some(json!({"id": pid}))),
        ("GET", format!("/dashboard_process/{w}"), None),
        ("GET", format!("/dashboard_tasks/{pid}"), None),
    ];
    for (method, path, body) in &guarded {
        for token in [
            None,
            Some("wrong"),
            Some("s3cret-shared-0123456789abcdef0123X"),
        ] {
            let (status, v) = call(&app, method, path, token, body.clone()).await;
            assert_eq!(status, 401, "{method} {path} with {token:?}");
            assert_eq!(v, json!({"detail": "Unauthorized"}));
        }
        // Only the exact `Bearer <token>` form counts.
        let r = app
            .http
            .request(method.parse().unwrap(), app.url(path))
            .header("authorization", format!("bearer {TOKEN}"))
            .json(&body.clone().unwrap_or(json!({})))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401, "{path}");
    }
    let (status, _) = call(&app, "GET", "/version", None, None).await;
    assert_eq!(status, 200, "/version is open");
    // The dashboard needs the token too (the wpipe client sends it on every call), unless
    // ORCHARD_WPIPE_PUBLIC_DASHBOARD opens it.
    let (status, _) = call(&app, "GET", "/dashboard_workers", None, None).await;
    assert_eq!(status, 401, "/dashboard_workers needs the token");
    // Nothing reached the store: the task is still pending.
    let tasks = get(&app, &format!("/dashboard_tasks/{pid}")).await;
    assert_eq!(tasks[0]["state"], "pending");
    app.running.stop().await;
}

async fn health_comes_from_the_true_heartbeat_age(db: Db) {
    let app = spawn(db, |s| {
        s.worker_late_secs = 1;
        s.worker_dead_secs = 2;
    })
    .await;
    let w = register(&app, "sleepy", &[]).await;
    let status_of = |workers: &Value| row(workers, &w)["status"].as_str().unwrap().to_string();
    let (_, ws) = call(&app, "GET", "/dashboard_workers", Some(TOKEN), None).await;
    assert_eq!(status_of(&ws), "online");
    // A live worker cannot be removed.
    let (status, v) = call(
        &app,
        "DELETE",
        &format!("/api/v1/workers/{w}"),
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(status, 409, "{v}");
    tokio::time::sleep(Duration::from_millis(2_300)).await;
    let (_, ws) = call(&app, "GET", "/dashboard_workers", Some(TOKEN), None).await;
    assert_eq!(status_of(&ws), "ofline");
    // The heartbeat reports that it arrived from a dead worker, then it is healthy again.
    assert_eq!(
        post(&app, "/healthchecker", json!({"id": w})).await,
        json!({"health": 0})
    );
    assert_eq!(
        post(&app, "/healthchecker", json!({"id": w})).await,
        json!({"health": 1})
    );
    let (_, ws) = call(&app, "GET", "/dashboard_workers", Some(TOKEN), None).await;
    assert_eq!(status_of(&ws), "online");
    tokio::time::sleep(Duration::from_millis(2_300)).await;
    let (status, _) = call(
        &app,
        "DELETE",
        &format!("/api/v1/workers/{w}"),
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (_, ws) = call(&app, "GET", "/dashboard_workers", Some(TOKEN), None).await;
    assert!(ws.as_array().unwrap().iter().all(|r| r["id"] != w.as_str()));
    let (status, _) = call(
        &app,
        "DELETE",
        &format!("/api/v1/workers/{w}"),
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = call(
        &app,
        "GET",
        &format!("/dashboard_process/{w}"),
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(status, 404);
    app.running.stop().await;
}

/// `orchard token …` against the test database, returning stdout.
fn token_cli(url: &str, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_orchard"))
        .args(["token", "--database-url", url])
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run orchard token");
    assert!(
        out.status.success(),
        "orchard token {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

async fn issued_tokens_work_and_revoked_ones_stop(db: Db) {
    let app = spawn(db, |_| {}).await;
    let url = app.database_url.clone();
    let issued = token_cli(
        &url,
        &[
            "create",
            "--name",
            "builder-7",
            "--scope",
            "wpipe",
            "--scope",
            "worker",
        ],
    );
    let token = issued.trim().to_string();
    assert!(token.starts_with("orch_") && token.len() > 40, "{issued}");
    // Names are unique.
    let dup = Command::new(env!("CARGO_BIN_EXE_orchard"))
        .args([
            "token",
            "--database-url",
            &url,
            "create",
            "--name",
            "builder-7",
        ])
        .output()
        .unwrap();
    assert!(!dup.status.success());
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already exists"));
    // Only the hash is stored.
    let listed = token_cli(&url, &["list"]);
    assert!(listed.contains("builder-7"), "{listed}");
    assert!(!listed.contains(&token), "the list never shows a token");

    let body = json!({"name": "x", "version": "1", "tasks": []});
    let (status, _) = call(&app, "POST", "/matricula", Some(&token), Some(body.clone())).await;
    assert_eq!(status, 200, "an issued token is accepted");
    let (status, _) = call(&app, "POST", "/matricula", Some(TOKEN), Some(body.clone())).await;
    assert_eq!(status, 200, "the shared token still works");
    // The REST worker API accepts it too.
    let (status, _) = call(
        &app,
        "POST",
        "/api/v1/workers/register",
        Some(&token),
        Some(json!({"name": "r"})),
    )
    .await;
    assert_eq!(status, 201);
    let listed = token_cli(&url, &["list"]);
    let line = listed.lines().find(|l| l.contains("builder-7")).unwrap();
    assert!(
        line.matches('T').count() >= 2,
        "created and last used are shown: {line}"
    );

    assert!(token_cli(&url, &["revoke", "builder-7"]).contains("revoked"));
    // Revocation takes effect within the server's one-second token cache.
    let mut refused = false;
    for _ in 0..50 {
        let (status, _) = call(&app, "POST", "/matricula", Some(&token), Some(body.clone())).await;
        if status == 401 {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(refused, "a revoked token is refused");
    let (status, _) = call(
        &app,
        "POST",
        "/api/v1/workers/register",
        Some(&token),
        Some(json!({"name": "r"})),
    )
    .await;
    assert_eq!(status, 401);
    app.running.stop().await;
}

/// With no token configured at all the routes are closed (nobody on the network may post
/// to them); an issued token opens them, and only for its holder.
async fn without_any_token_the_routes_stay_closed(db: Db) {
    let app = spawn(db, |s| s.api_token = None).await;
    let body = json!({"name": "x", "version": "1", "tasks": []});
    let (status, v) = call(&app, "POST", "/matricula", None, Some(body.clone())).await;
    assert_eq!(status, 401, "closed while nothing is configured");
    assert_eq!(v, json!({"detail": "Unauthorized"}));
    let (status, _) = call(
        &app,
        "POST",
        "/api/v1/leases/claim",
        None,
        Some(json!({"worker_id": "w", "max": 1})),
    )
    .await;
    assert_eq!(status, 401, "the worker API too");
    let token = token_cli(
        &app.database_url,
        &["create", "--name", "first", "--scope", "wpipe"],
    )
    .trim()
    .to_string();
    let (status, _) = call(&app, "POST", "/matricula", Some(&token), Some(body.clone())).await;
    assert_eq!(status, 200);
    let (status, _) = call(&app, "POST", "/matricula", None, Some(body)).await;
    assert_eq!(status, 401);
    app.running.stop().await;
}

/// An `orchard worker` holding an issued token runs a job; the job is one of its processes
/// on the same dashboards, its job tasks that process's tasks.
async fn orchard_workers_share_the_dashboards(db: Db) {
    let app = spawn(db, |_| {}).await;
    let token = token_cli(&app.database_url, &["create", "--name", "w1"])
        .trim()
        .to_string();
    let wpipe_worker = register(&app, "pipeline", &["a"]).await;
    let mut worker = common::start_worker_with(&app.base, "remote-fleet", 2, &["--token", &token]);
    let job = app.create_job(2, 6, 50).await;
    let detail = app.wait_for_job(&job, 120).await;
    assert_eq!(detail["state"], "succeeded", "{detail}");
    let (_, ws) = app.get_json("/api/v1/workers").await;
    let remote = ws
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == "remote-fleet")
        .expect("the remote worker registered with its issued token")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, board) = call(&app, "GET", "/dashboard_workers", Some(TOKEN), None).await;
    let r = row(&board, &remote);
    assert_eq!((&r["processed"], &r["successed"]), (&json!(1), &json!(1)));
    assert_eq!(r["status"], "online");
    row(&board, &wpipe_worker);

    let procs = get(&app, &format!("/dashboard_process/{remote}")).await;
    assert_eq!(procs.as_array().unwrap().len(), 1, "{procs}");
    let p = &procs[0];
    assert_eq!(p["worker"], "remote-fleet");
    assert_eq!(p["status"], "success");
    assert!(
        p["step"].as_str().unwrap().starts_with("File average job "),
        "a job's process says what the job is: {p}"
    );
    assert_eq!(p["progress"], "100%");
    let pid = p["id"].as_str().unwrap();
    assert!(pid.starts_with(&job), "{pid}");
    let tasks = get(&app, &format!("/dashboard_tasks/{pid}")).await;
    let n = tasks.as_array().unwrap().len();
    assert_eq!(n as i64, detail["progress"]["total"].as_i64().unwrap());
    for (i, t) in tasks.as_array().unwrap().iter().enumerate() {
        assert_eq!(t["state"], "success");
        assert_eq!(t["step"], format!("{}/{n}", i + 1));
        assert!(is_iso_time(&t["started"]));
        assert!(seconds(&t["runtime"]) >= 0.0);
    }
    // A wpipe process cannot be opened for an Orchard worker.
    let (status, _) = call(
        &app,
        "POST",
        "/newprocess",
        Some(TOKEN),
        Some(json!({"id": remote})),
    )
    .await;
    assert_eq!(status, 409);
    common::signal(&worker, "-TERM");
    assert!(common::wait_exit(&mut worker, 15).await.success());
    app.running.stop().await;
}

/// A job task an Orchard worker failed for good makes that worker's process an error, with
/// the error as the task's details.
async fn an_orchard_task_failure_shows_on_its_process(db: Db) {
    let app = spawn(db, |_| {}).await;
    let (status, reg) = call(
        &app,
        "POST",
        "/api/v1/workers/register",
        Some(TOKEN),
        Some(json!({"name": "flaky"})),
    )
    .await;
    assert_eq!(status, 201, "{reg}");
    let wid = reg["worker_id"].as_str().unwrap().to_string();
    let secret = reg["worker_secret"].as_str().unwrap().to_string();
    let (status, job) = call(
        &app,
        "POST",
        "/api/v1/jobs",
        Some(TOKEN),
        Some(json!({"kind": "noop", "params": {"tasks": 2, "workers": 1}})),
    )
    .await;
    assert_eq!(status, 201, "{job}");
    let (status, leased) = app
        .post_as_worker(
            &secret,
            "/api/v1/leases/claim",
            json!({"worker_id": wid, "max": 1}),
        )
        .await;
    assert_eq!(status, 200, "{leased}");
    let task = &leased[0];
    let (status, _) = app
        .post_as_worker(
            &secret,
            &format!("/api/v1/tasks/{}/fail", task["task_id"].as_str().unwrap()),
            json!({"worker_id": wid, "attempt": task["attempt"], "error": "input unreadable", "retryable": false}),
        )
        .await;
    assert_eq!(status, 204);
    let procs = get(&app, &format!("/dashboard_process/{wid}")).await;
    assert_eq!(procs.as_array().unwrap().len(), 1, "{procs}");
    assert_eq!(procs[0]["status"], "error");
    assert_eq!(procs[0]["worker"], "flaky");
    let tasks = get(
        &app,
        &format!("/dashboard_tasks/{}", procs[0]["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(tasks[0]["state"], "error");
    assert_eq!(tasks[0]["details"], "input unreadable");
    let (_, board) = call(&app, "GET", "/dashboard_workers", Some(TOKEN), None).await;
    // The worker said retrying cannot help (the input is wrong): the process is an error,
    // but the failure is not counted against the worker's own record.
    assert_eq!(row(&board, &wid)["failed"], 0);
    app.running.stop().await;
}

/// The real `wpipe` package from PyPI (installed by `scripts/bootstrap --test` into
/// `target/pyenv`) runs two pipelines against Orchard — one succeeds, one raises in its
/// second step — and the dashboards and pages show exactly what happened.
async fn the_real_wpipe_client_reports_to_orchard(db: Db) {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = root.join("target/pyenv/bin/python");
    assert!(
        python.exists(),
        "{} missing: run scripts/bootstrap --test (it installs the wpipe client)",
        python.display()
    );
    let app = spawn(db, |_| {}).await;
    let base = app.base.clone();
    let cwd = app.dir.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(root.join("server/tests/it/wpipe_client.py"))
            .args([&base, TOKEN])
            .current_dir(cwd)
            .output()
            .expect("run python")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "wpipe client failed:\n{stdout}\n{stderr}"
    );
    // The client logs and swallows HTTP errors: none may have happened.
    assert!(
        !stderr.contains("Error in POST") && !stderr.contains("Problem updating"),
        "the client reported API errors:\n{stderr}"
    );
    let r: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(r["good_out"]["doubled"], 6, "{r}");
    assert_eq!(r["good_health"], json!({"health": 1}));
    assert!(
        r["bad_error"].as_str().unwrap().contains("disk full"),
        "{r}"
    );
    let (good_w, good_p) = (
        r["good_worker"].as_str().unwrap(),
        r["good_process"].as_str().unwrap(),
    );
    let (bad_w, bad_p) = (
        r["bad_worker"].as_str().unwrap(),
        r["bad_process"].as_str().unwrap(),
    );

    let (_, board) = call(&app, "GET", "/dashboard_workers", Some(TOKEN), None).await;
    let g = row(&board, good_w);
    assert_eq!(
        (&g["processed"], &g["active"], &g["successed"], &g["failed"]),
        (&json!(1), &json!(0), &json!(1), &json!(0))
    );
    let b = row(&board, bad_w);
    assert_eq!(
        (&b["processed"], &b["active"], &b["successed"], &b["failed"]),
        (&json!(1), &json!(0), &json!(0), &json!(1))
    );

    let procs = get(&app, &format!("/dashboard_process/{good_w}")).await;
    let p = row(&procs, good_p);
    assert_eq!(
        (&p["status"], &p["progress"], &p["worker"]),
        (&json!("success"), &json!("100%"), &json!("etl-good"))
    );
    assert_eq!(p["step"], "transform");
    let tasks = get(&app, &format!("/dashboard_tasks/{good_p}")).await;
    let states: Vec<&str> = tasks
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["success", "success"]);
    assert_eq!(tasks[0]["name"], "fetch");
    assert_eq!(tasks[1]["version"], "v2");
    assert!(
        tasks
            .as_array()
            .unwrap()
            .iter()
            .all(|t| is_iso_time(&t["started"]) && seconds(&t["runtime"]) >= 0.0)
    );

    let procs = get(&app, &format!("/dashboard_process/{bad_w}")).await;
    let p = row(&procs, bad_p);
    assert_eq!(
        (&p["status"], &p["progress"]),
        (&json!("error"), &json!("66%"))
    );
    let tasks = get(&app, &format!("/dashboard_tasks/{bad_p}")).await;
    let states: Vec<&str> = tasks
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["success", "error", "pending"]);
    let details = tasks[1]["details"].as_str().unwrap();
    let parsed: Value =
        serde_json::from_str(details).expect("the client's error report, kept as sent");
    assert!(
        parsed["error_message"]
            .as_str()
            .unwrap()
            .contains("disk full"),
        "{parsed}"
    );

    // The drill-down pages render these runs on the server.
    let html = app
        .http
        .get(app.url(&format!("/workers/{bad_w}/processes/{bad_p}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("etl-bad") && html.contains("explode"),
        "worker and task on the page"
    );
    assert!(
        html.contains("disk full while writing rows"),
        "the error, readable"
    );
    app.running.stop().await;
}

#[tokio::test]
async fn cors_allows_only_the_configured_origins() {
    for (origins, origin, allowed) in [
        (vec![], "https://app.example", false),
        (
            vec!["https://app.example".to_string()],
            "https://app.example",
            true,
        ),
        (
            vec!["https://app.example".to_string()],
            "https://evil.example",
            false,
        ),
    ] {
        let app = spawn(Db::Sqlite, |s| s.cors_origins = origins.clone()).await;
        let r = app
            .http
            .request(reqwest::Method::OPTIONS, app.url("/matricula"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .send()
            .await
            .unwrap();
        let allow = r
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_string());
        assert_eq!(
            allow.as_deref() == Some(origin),
            allowed,
            "{origins:?} {origin}: {allow:?}"
        );
        assert!(
            r.headers()
                .get("access-control-allow-credentials")
                .is_none()
        );
        let r = app
            .http
            .get(app.url("/dashboard_workers"))
            .header("origin", origin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(
            r.headers().get("access-control-allow-origin").is_some(),
            allowed
        );
        app.running.stop().await;
    }
}
