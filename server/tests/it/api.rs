//! Black-box HTTP tests: a real server on port 0 with a fresh SQLite or Postgres database.

use crate::common;

use common::{Db, spawn_app};
use serde_json::json;

#[tokio::test]
async fn operations_endpoints() {
    let app = spawn_app(Db::Sqlite, 0).await;
    let (s, v) = app.get_json("/healthz").await;
    assert_eq!((s, v["status"].as_str()), (200, Some("ok")));
    let (s, v) = app.get_json("/readyz").await;
    assert_eq!((s, v["database"].as_str()), (200, Some("sqlite")));
    let (s, v) = app.get_json("/version").await;
    assert_eq!(s, 200);
    assert_eq!(v, json!({"version": env!("CARGO_PKG_VERSION")}));
    let r = app.http.get(app.url("/healthz")).send().await.unwrap();
    let rid = r
        .headers()
        .get("x-request-id")
        .expect("request id")
        .to_str()
        .unwrap();
    assert_eq!(rid.len(), 36);
    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "orchard_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"}",
        "orchard_http_request_duration_seconds_bucket",
        "orchard_build_info{version=",
        "orchard_jobs{state=\"queued\"} 0",
        "orchard_job_tasks{state=\"ready\"} 0",
        "orchard_queue_oldest_ready_age_seconds 0",
        "orchard_db_pool_connections",
        "orchard_sse_clients",
    ] {
        assert!(metrics.contains(name), "metrics lack {name}:\n{metrics}");
    }
    app.running.stop().await;
}

#[tokio::test]
async fn bad_input_gets_a_json_4xx_and_changes_nothing() {
    let app = spawn_app(Db::Sqlite, 0).await;
    let (s, v) = app.get_json("/api/v1/nothing-here").await;
    assert_eq!(s, 404);
    assert_eq!(v["error"], "no such API route");
    let (s, v) = app.get_json("/api/v1/jobs/not-a-job").await;
    assert_eq!(s, 404);
    assert!(v["error"].as_str().unwrap().contains("not found"));

    let send = |body: String, ct: &'static str| {
        app.http
            .post(app.url("/api/v1/jobs"))
            .header("content-type", ct)
            .body(body)
            .send()
    };
    for (body, ct, want) in [
        ("{not json".to_string(), "application/json", 400),
        ("{}".to_string(), "text/plain", 415),
        (json!({"kind": "file_average"}).to_string(), "application/json", 400),
        (json!({"kind": "rm -rf", "params": {}}).to_string(), "application/json", 400),
        ("[".repeat(100_000), "application/json", 400),
        (format!("{{\"kind\":\"file_average\",\"params\":{{\"pad\":\"{}\"}}}}", "x".repeat(2_000_000)), "application/json", 413),
        (json!({"kind": "file_average", "params": {"workers": 0, "files": 1, "entries": 1}}).to_string(), "application/json", 400),
        (json!({"kind": "file_average", "params": {"workers": 1, "files": 100000, "entries": 1000000}}).to_string(), "application/json", 400),
        (json!({"kind": "file_average", "params": {"workers": -1, "files": 1, "entries": 1}}).to_string(), "application/json", 400),
    ] {
        let r = send(body.clone(), ct).await.unwrap();
        let status = r.status().as_u16();
        let v: serde_json::Value = r.json().await.unwrap_or_default();
        assert_eq!(status, want, "{} → {v}", &body[..body.len().min(80)]);
        assert!(v["error"].is_string(), "error body for {}: {v}", &body[..body.len().min(80)]);
    }
    let (_, jobs) = app.get_json("/api/v1/jobs").await;
    assert_eq!(jobs, json!([]), "no bad request created a job");
    // Lease calls on unknown tasks and bad file keys.
    let (s, _) = app
        .post_json(
            "/api/v1/tasks/nope/complete",
            json!({"worker_id": "w", "attempt": 1, "output": {}}),
        )
        .await;
    assert_eq!(s, 404);
    let r = app
        .http
        .get(app.url("/api/v1/files/..%2F..%2Fetc%2Fpasswd"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());
    app.running.stop().await;
}

async fn file_average_end_to_end(db: Db) {
    let app = spawn_app(db, 2).await;
    let id = app.create_job(3, 23, 500).await;
    // The fixed shapes scripts rely on.
    let (_, list) = app.get_json("/api/v1/jobs").await;
    let listed = &list[0];
    assert_eq!(listed["id"], id);
    assert_eq!(listed["kind"], "file_average");
    for key in ["state", "progress", "result", "error", "created_at"] {
        assert!(listed.get(key).is_some(), "job lacks {key}: {listed}");
    }
    assert!(
        listed["progress"]["done"].is_i64()
            && listed["progress"]["total"].as_i64() == Some(5 + 5 + 1)
    );
    let detail = app.wait_for_job(&id, 120).await;
    assert_eq!(detail["state"], "succeeded", "{detail}");
    assert_eq!(detail["progress"]["done"], detail["progress"]["total"]);
    let result = &detail["result"];
    assert_eq!(result["count"], 23 * 500);
    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "orchard_job_task_duration_seconds_bucket{phase=\"map\"",
        "orchard_jobs{state=\"succeeded\"} 1",
    ] {
        assert!(metrics.contains(name), "metrics lack {name}");
    }
    // The linear validator agrees.
    let (s, v) = app
        .post_json(&format!("/api/v1/jobs/{id}/verify"), json!({}))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["matches"], true, "{v}");
    assert_eq!(v["sum"], result["sum"]);
    // The result file downloads.
    let r = app
        .http
        .get(app.url(&format!("/api/v1/jobs/{id}/result")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("attachment")
    );
    let text = r.text().await.unwrap();
    assert!(text.starts_with("average\t"), "{text}");
    // Finished jobs cannot be cancelled; they can be deleted, files and all.
    let (s, _) = app
        .post_json(&format!("/api/v1/jobs/{id}/cancel"), json!({}))
        .await;
    assert_eq!(s, 409);
    let r = app
        .http
        .delete(app.url(&format!("/api/v1/jobs/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(!app.dir.join("files/jobs").join(&id).exists());
    let (s, _) = app.get_json(&format!("/api/v1/jobs/{id}")).await;
    assert_eq!(s, 404);
    app.running.stop().await;
}

#[tokio::test]
async fn file_average_end_to_end_sqlite() {
    file_average_end_to_end(Db::Sqlite).await;
}

#[tokio::test]
async fn file_average_end_to_end_postgres() {
    file_average_end_to_end(Db::Postgres).await;
}

#[tokio::test]
async fn pages_render_on_the_server() {
    let app = spawn_app(Db::Sqlite, 0).await;
    let site = common::root().join("target/site");
    let css = orchard_server::site_files::assets(&site).url("pkg/orchard.css");
    for (path, text) in [
        ("/", "Jobs running"),
        ("/jobs", "No jobs yet"),
        ("/workers", "No workers yet"),
        ("/tasks", "Tasks"),
    ] {
        let r = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let html = r.text().await.unwrap();
        assert!(html.contains(text), "{path} lacks {text}");
        assert!(
            html.contains(&css),
            "{path} lacks the stylesheet of the build it serves"
        );
    }
    let r = app.http.get(app.url("/no/such/page")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("Page not found"));
    app.running.stop().await;
}

/// The encoding a response says its body is in, if any.
fn content_encoding(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get("content-encoding")
        .map(|v| v.to_str().unwrap().to_string())
}

/// A site file with compressed copies beside it (as `make release` writes them) goes to each
/// browser in the encoding it accepts, brotli first, to anyone signed in or not, typed so a
/// browser compiles wasm as it arrives; a browser that accepts neither gets the file itself.
/// It is served only under its build's prefix, and may be cached for good there; the same
/// name under another build's prefix, or under none, is not found.
#[tokio::test]
async fn site_files_are_sent_precompressed() {
    let dir = common::temp_dir("site");
    let site = dir.join("site");
    std::fs::create_dir_all(site.join("pkg")).unwrap();
    std::fs::write(site.join("pkg/orchard.js"), b"// the client's loader").unwrap();
    std::fs::write(site.join("pkg/orchard.wasm"), b"\0asm plain bytes").unwrap();
    std::fs::write(site.join("pkg/orchard.wasm.br"), b"brotli bytes").unwrap();
    std::fs::write(site.join("pkg/orchard.wasm.gz"), b"gzip bytes").unwrap();
    let url = common::fresh_database(Db::Sqlite, &dir).await;
    let mut s = common::settings(url, &dir, 0);
    s.site_root = Some(site.display().to_string());
    let app = common::spawn_with(s, dir).await;
    let wasm = orchard_server::site_files::assets(&site).url("pkg/orchard.wasm");
    for (accept, encoding, body) in [
        (Some("gzip, deflate, br"), Some("br"), &b"brotli bytes"[..]),
        (Some("gzip"), Some("gzip"), &b"gzip bytes"[..]),
        (None, None, &b"\0asm plain bytes"[..]),
    ] {
        let mut req = app.anon.get(app.url(&wasm));
        if let Some(a) = accept {
            req = req.header("accept-encoding", a);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 200, "{accept:?}");
        assert_eq!(content_encoding(&r).as_deref(), encoding, "{accept:?}");
        assert_eq!(
            r.headers()["content-type"],
            "application/wasm",
            "{accept:?}"
        );
        assert_eq!(
            r.headers()["cache-control"],
            "public, max-age=31536000, immutable",
            "{accept:?}"
        );
        assert_eq!(&r.bytes().await.unwrap()[..], body, "{accept:?}");
    }
    for stale in ["/pkg/orchard.wasm", "/v/0123456789abcdef/pkg/orchard.wasm"] {
        let r = app.anon.get(app.url(stale)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{stale}");
    }
    app.running.stop().await;
}

/// Pages and JSON go out compressed to a client that asks, and as they are to one that does
/// not; the event stream and downloads are never compressed.
#[tokio::test]
async fn pages_and_json_are_compressed_when_asked() {
    use std::io::Read;
    let app = spawn_app(Db::Sqlite, 0).await;
    let gunzip = |bytes: &[u8]| {
        let mut out = String::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_string(&mut out)
            .expect("a gzip body");
        out
    };
    let get = |path: &str, accept: Option<&str>| {
        let mut req = app.http.get(app.url(path));
        if let Some(a) = accept {
            req = req.header("accept-encoding", a);
        }
        req.send()
    };
    let r = get("/", Some("gzip")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(content_encoding(&r).as_deref(), Some("gzip"));
    assert!(gunzip(&r.bytes().await.unwrap()).contains("Jobs running"));
    let r = get("/", None).await.unwrap();
    assert_eq!(content_encoding(&r), None);
    assert!(r.text().await.unwrap().contains("Jobs running"));

    let r = get("/api/openapi.json", Some("gzip")).await.unwrap();
    assert_eq!(content_encoding(&r).as_deref(), Some("gzip"));
    let doc: serde_json::Value = serde_json::from_str(&gunzip(&r.bytes().await.unwrap())).unwrap();
    assert!(doc["paths"].is_object());
    let r = get("/api/openapi.json", Some("br, gzip")).await.unwrap();
    assert_eq!(content_encoding(&r).as_deref(), Some("br"));

    // The event stream: headers come at once, unencoded, while the stream stays open.
    let r = get("/api/v1/events", Some("gzip, br")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    assert_eq!(content_encoding(&r), None);
    drop(r);

    // A download keeps its bytes as they are.
    let (status, _) = app
        .post_json("/api/v1/tasks", json!({ "title": "Export me" }))
        .await;
    assert_eq!(status, 201);
    let r = get("/api/v1/tasks/export", Some("gzip, br")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("content-disposition"));
    assert_eq!(content_encoding(&r), None);
    assert!(r.text().await.unwrap().contains("Export me"));
    app.running.stop().await;
}

/// Servers starting in the same process (each finds its page routes by rendering the app
/// with resources held back) must not leave another server's page waiting for its data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_render_while_other_servers_start() {
    let app = spawn_app(Db::Sqlite, 0).await;
    let starting = tokio::spawn(async {
        for _ in 0..12 {
            spawn_app(Db::Sqlite, 0).await.running.stop().await;
        }
    });
    let quick = common::client(Some(common::SERVICE_TOKEN));
    let mut renders = 0;
    while !starting.is_finished() || renders < 50 {
        let r = tokio::time::timeout(
            std::time::Duration::from_secs(20),
            quick.get(app.url("/workers")).send(),
        )
        .await
        .expect("a page render waited for data that never came")
        .unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.text().await.unwrap().contains("No workers yet"));
        renders += 1;
    }
    starting.await.unwrap();
    app.running.stop().await;
}

#[tokio::test]
async fn worker_api_requires_the_token_when_set() {
    let dir = common::temp_dir("token");
    let url = common::fresh_database(Db::Sqlite, &dir).await;
    let mut s = common::settings(url, &dir, 0);
    s.api_token = Some("s3cret-0123456789abcdef0123456789ab".into());
    let app = common::spawn_with(s, dir).await;
    let body = json!({"name": "w1"});
    for (token, want) in [
        (None, 401),
        (Some("wrong"), 401),
        (Some("s3cret-0123456789abcdef0123456789ab"), 201),
    ] {
        let mut req = app
            .anon
            .post(app.url("/api/v1/workers/register"))
            .json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        assert_eq!(req.send().await.unwrap().status(), want, "token {token:?}");
    }
    app.running.stop().await;
}

/// No-op jobs measure the queue; they run to completion and cannot be verified.
#[tokio::test]
async fn noop_jobs_run_and_refuse_verification() {
    let app = spawn_app(Db::Sqlite, 2).await;
    let (s, job) = app
        .post_json(
            "/api/v1/jobs",
            json!({"kind": "noop", "params": {"tasks": 200, "workers": 8}}),
        )
        .await;
    assert_eq!(s, 201, "{job}");
    let id = job["id"].as_str().unwrap();
    let detail = app.wait_for_job(id, 60).await;
    assert_eq!(detail["state"], "succeeded", "{detail}");
    assert_eq!(detail["result"]["tasks"], 200);
    assert_eq!(detail["progress"]["done"], 201);
    let (s, v) = app
        .post_json(&format!("/api/v1/jobs/{id}/verify"), json!({}))
        .await;
    assert_eq!(s, 409, "{v}");
    let (s, _) = app
        .post_json(
            "/api/v1/jobs",
            json!({"kind": "noop", "params": {"tasks": 0, "workers": 8}}),
        )
        .await;
    assert_eq!(s, 400);
    app.running.stop().await;
}

/// The batch endpoint answers each item on its own and claims within W in the same call.
#[tokio::test]
async fn batched_completions_over_rest() {
    let app = spawn_app(Db::Sqlite, 0).await;
    let (s, w) = app
        .post_json("/api/v1/workers/register", json!({"name": "batcher"}))
        .await;
    assert_eq!(s, 201, "{w}");
    let worker = w["worker_id"].as_str().unwrap().to_string();
    let secret = w["worker_secret"].as_str().unwrap().to_string();
    let (s, job) = app
        .post_json(
            "/api/v1/jobs",
            json!({"kind": "noop", "params": {"tasks": 10, "workers": 4}}),
        )
        .await;
    assert_eq!(s, 201, "{job}");
    let (s, tasks) = app
        .post_as_worker(
            &secret,
            "/api/v1/leases/claim",
            json!({"worker_id": worker, "max": 10, "wait_ms": 0}),
        )
        .await;
    assert_eq!(s, 200, "{tasks}");
    let tasks = tasks.as_array().unwrap().clone();
    assert_eq!(tasks.len(), 4, "W = 4 caps the claim");
    let item = |t: &serde_json::Value, attempt: i64| json!({"task_id": t["task_id"], "attempt": attempt, "output": {}});
    let items = vec![
        item(&tasks[0], 1),
        item(&tasks[1], 1),
        item(&tasks[2], 7),
        json!({"task_id": "nope", "attempt": 1, "output": {}}),
    ];
    let (s, reply) = app
        .post_as_worker(
            &secret,
            "/api/v1/leases/complete",
            json!({"worker_id": worker, "items": items, "claim": 10}),
        )
        .await;
    assert_eq!(s, 200, "{reply}");
    let results = reply["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    assert_eq!(results[0]["ok"], true);
    assert_eq!(results[1]["ok"], true);
    assert_eq!(
        (results[2]["ok"].clone(), results[2]["status"].clone()),
        (json!(false), json!(409))
    );
    assert_eq!(
        (results[3]["ok"].clone(), results[3]["status"].clone()),
        (json!(false), json!(404))
    );
    assert!(results[2]["error"].as_str().unwrap().contains("not leased"));
    // Two finished, two still leased: the claim riding along took two more.
    assert_eq!(reply["tasks"].as_array().unwrap().len(), 2);
    let (_, detail) = app
        .get_json(&format!("/api/v1/jobs/{}", job["id"].as_str().unwrap()))
        .await;
    assert_eq!(detail["progress"]["done"], 2);
    assert_eq!(detail["counts"]["leased"], 4);

    // Bad batches are a 400 that changes nothing.
    let many: Vec<_> = (0..257).map(|_| item(&tasks[3], 1)).collect();
    for body in [
        json!({"worker_id": worker, "items": many, "claim": 0}),
        json!({"worker_id": worker, "items": [], "claim": 1000}),
        json!({"worker_id": worker, "items": "nope"}),
        json!({"worker_id": worker, "claim": 0, "items": [{
            "task_id": tasks[3]["task_id"], "attempt": 1, "output": {},
            "spawn": [{"phase": "Not A Phase", "payload": {}}]}]}),
        json!({"worker_id": worker, "claim": 0, "items": [{
            "task_id": tasks[3]["task_id"], "attempt": 1, "output": {},
            "spawn": (0..10_001).map(|_| json!({"phase": "run", "payload": null})).collect::<Vec<_>>()}]}),
    ] {
        let (s, e) = app
            .post_as_worker(&secret, "/api/v1/leases/complete", body)
            .await;
        assert_eq!(s, 400, "{e}");
        assert!(e["error"].is_string(), "{e}");
    }
    let (_, after) = app
        .get_json(&format!("/api/v1/jobs/{}", job["id"].as_str().unwrap()))
        .await;
    assert_eq!(after["progress"]["done"], 2);
    app.running.stop().await;
}
