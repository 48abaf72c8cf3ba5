//! What an outside review found, each closed and proved from the outside: token scopes that
//! fit their use, workers that cannot act for each other, the wpipe dashboard's token and
//! wire values, event streams that end with their session, security headers, secrets, the
//! tree's depth limit and the cap on job files.

use crate::access::{add_user, call, sign_in};
use crate::common::{self, Db, TestApp, spawn_app, spawn_with};
use crate::tree::import_file;
use serde_json::{Value, json};
use shared::accounts::model::Role;
use std::time::Duration;

async fn token(app: &TestApp, name: &str, scopes: &str) -> String {
    let secret = engine::accounts::secret::generate("orch_");
    app.running
        .state
        .store
        .create_token(
            name,
            &engine::accounts::secret::hash(&secret),
            scopes,
            None,
            engine::now_millis(),
        )
        .await
        .unwrap();
    secret
}

async fn post(
    app: &TestApp,
    path: &str,
    bearer: &str,
    extra: &[(&str, &str)],
    body: Value,
) -> (u16, Value) {
    let mut req = app.anon.post(app.url(path)).bearer_auth(bearer).json(&body);
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// `wpipe` tokens reach the process monitor and nothing else; `worker` tokens the worker
/// protocol and not the process monitor; two workers sharing one token cannot heartbeat,
/// stop or report for each other; job files are written only by a worker leasing the job.
async fn tokens_and_workers_keep_to_their_own(db: Db) {
    let app = spawn_app(db, 0).await;
    let wpipe = token(&app, "pipe", "wpipe").await;
    let worker = token(&app, "fleet", "worker").await;
    let reg = json!({"name": "p", "version": "1", "tasks": []});
    assert_eq!(
        post(&app, "/matricula", &wpipe, &[], reg.clone()).await.0,
        200
    );
    assert_eq!(post(&app, "/matricula", &worker, &[], reg).await.0, 401);
    let (s, _) = post(
        &app,
        "/api/v1/workers/register",
        &wpipe,
        &[],
        json!({"name": "w"}),
    )
    .await;
    assert_eq!(s, 401, "a wpipe token is not a worker token");

    // Two workers register with one deployment token; each gets its own secret.
    let (s, a) = post(
        &app,
        "/api/v1/workers/register",
        &worker,
        &[],
        json!({"name": "a"}),
    )
    .await;
    assert_eq!(s, 201, "{a}");
    let (_, b) = post(
        &app,
        "/api/v1/workers/register",
        &worker,
        &[],
        json!({"name": "b"}),
    )
    .await;
    let (a_id, a_secret) = (
        a["worker_id"].as_str().unwrap(),
        a["worker_secret"].as_str().unwrap(),
    );
    let (b_id, b_secret) = (
        b["worker_id"].as_str().unwrap(),
        b["worker_secret"].as_str().unwrap(),
    );
    assert_ne!(a_secret, b_secret);
    let as_worker = |secret: &'static str| [("x-orchard-worker-secret", secret)];
    let a_s: &'static str = Box::leak(a_secret.to_string().into_boxed_str());
    let b_s: &'static str = Box::leak(b_secret.to_string().into_boxed_str());
    let hb = |id: &str| format!("/api/v1/workers/{id}/heartbeat");
    assert_eq!(
        post(&app, &hb(a_id), &worker, &as_worker(a_s), json!({}))
            .await
            .0,
        204
    );
    assert_eq!(
        post(&app, &hb(a_id), &worker, &as_worker(b_s), json!({}))
            .await
            .0,
        403
    );
    assert_eq!(post(&app, &hb(a_id), &worker, &[], json!({})).await.0, 403);
    let stop = format!("/api/v1/workers/{a_id}/stop");
    assert_eq!(
        post(&app, &stop, &worker, &as_worker(b_s), json!({}))
            .await
            .0,
        403
    );
    let claim = json!({"worker_id": a_id, "max": 1, "wait_ms": 0});
    assert_eq!(
        post(
            &app,
            "/api/v1/leases/claim",
            &worker,
            &as_worker(b_s),
            claim.clone()
        )
        .await
        .0,
        403
    );

    // A job's files are written only by a worker that holds one of its leases.
    let (s, job) = app
        .post_json(
            "/api/v1/jobs",
            json!({"kind": "file_average", "params": {"workers": 1, "files": 2, "entries": 3}}),
        )
        .await;
    assert_eq!(s, 201, "{job}");
    let job_id = job["id"].as_str().unwrap();
    let put = |who: &'static str, secret: &'static str, key: String| {
        app.anon
            .put(app.url(&format!("/api/v1/files/{key}")))
            .bearer_auth(&worker)
            .header("x-orchard-worker-id", who)
            .header("x-orchard-worker-secret", secret)
            .body("1\n")
            .send()
    };
    let a_id: &'static str = Box::leak(a_id.to_string().into_boxed_str());
    let b_id: &'static str = Box::leak(b_id.to_string().into_boxed_str());
    let key = format!("jobs/{job_id}/input/000000.txt");
    assert_eq!(
        put(a_id, a_s, key.clone()).await.unwrap().status(),
        403,
        "no lease yet"
    );
    let (s, leased) = post(
        &app,
        "/api/v1/leases/claim",
        &worker,
        &as_worker(a_s),
        claim,
    )
    .await;
    assert_eq!(s, 200, "{leased}");
    assert_eq!(leased.as_array().unwrap().len(), 1);
    assert_eq!(put(a_id, a_s, key.clone()).await.unwrap().status(), 204);
    assert_eq!(
        put(b_id, b_s, key.clone()).await.unwrap().status(),
        403,
        "b leases nothing"
    );
    assert_eq!(
        put(b_id, a_s, key.clone()).await.unwrap().status(),
        403,
        "a's secret is not b's"
    );
    assert_eq!(
        put(a_id, a_s, "jobs/other-job/x.txt".into())
            .await
            .unwrap()
            .status(),
        403,
        "only under the leased job"
    );
    app.running.stop().await;
}

use crate::common::both;

both!(
    tokens_and_workers_keep_to_their_own,
    trees_stay_within_their_depth,
    job_files_stay_within_their_cap
);

/// `/dashboard_workers` needs the wpipe token unless opened to all, answers the original
/// server's `online`/`ofline`, and shares one answer a second among anonymous readers.
#[tokio::test]
async fn wpipe_dashboard_token_wire_values_and_cache() {
    let app = spawn_app(Db::Sqlite, 0).await;
    let r = app
        .anon
        .get(app.url("/dashboard_workers"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"detail": "Unauthorized"})
    );
    let (s, rows) = app.get_json("/dashboard_workers").await;
    assert_eq!(s, 200);
    assert_eq!(rows, json!([]));
    app.running.stop().await;

    let dir = common::temp_dir("dash");
    let url = common::fresh_database(Db::Sqlite, &dir).await;
    let mut s = common::settings(url, &dir, 0);
    s.wpipe_public_dashboard = true;
    let app = spawn_with(s, dir).await;
    let reg = json!({"name": "p", "version": "1", "tasks": []});
    let (_, r) = app.post_json("/matricula", reg.clone()).await;
    let first: Value = app
        .anon
        .get(app.url("/dashboard_workers"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(first[0]["status"], "online", "{first}");
    assert_eq!(first[0]["orchard_health"], "healthy");
    assert_eq!(first[0]["id"], r["id"]);
    // A second worker shows at once to a token holder, and to anonymous readers a second
    // later.
    app.post_json(
        "/matricula",
        json!({"name": "q", "version": "1", "tasks": []}),
    )
    .await;
    let cached: Value = app
        .anon
        .get(app.url("/dashboard_workers"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (_, fresh) = app.get_json("/dashboard_workers").await;
    assert_eq!(fresh.as_array().unwrap().len(), 2);
    if cached.as_array().unwrap().len() == 1 {
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let later: Value = app
            .anon
            .get(app.url("/dashboard_workers"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(later.as_array().unwrap().len(), 2);
    }
    app.running.stop().await;
}

/// Event streams end with their session, and one caller holds at most 16.
#[tokio::test]
async fn event_streams_end_with_their_session_and_are_capped() {
    let app = spawn_app(Db::Sqlite, 0).await;
    add_user(&app, "vic", Role::Viewer).await;
    let cookie = sign_in(&app, "vic").await;
    let open = || {
        app.anon
            .get(app.url("/api/v1/events"))
            .header("cookie", cookie.clone())
            .send()
    };
    let mut streams = Vec::new();
    for _ in 0..16 {
        let r = open().await.unwrap();
        assert_eq!(r.status(), 200);
        streams.push(r);
    }
    assert_eq!(open().await.unwrap().status(), 429, "the 17th is refused");
    drop(streams.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut last = open().await.unwrap();
    assert_eq!(last.status(), 200, "a closed stream gives its place back");
    let r = call(&app, "logout", Some(&cookie), &[]).await;
    assert!(r.status().is_success(), "{}", r.status());
    let ended = tokio::time::timeout(Duration::from_secs(15), async {
        while let Ok(Some(_)) = last.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the stream ends after sign-out");
    app.running.stop().await;
}

/// HSTS over HTTPS (as a trusted proxy tells it), no caching of signed-in pages and JSON,
/// the `__Host-` cookie when secure, client request ids only when safe, docs under the CSP.
#[tokio::test]
async fn headers_cookies_and_request_ids() {
    let dir = common::temp_dir("headers");
    let url = common::fresh_database(Db::Sqlite, &dir).await;
    let mut s = common::settings(url, &dir, 0);
    s.trusted_proxies = vec!["127.0.0.1/32".into()];
    let app = spawn_with(s, dir).await;
    add_user(&app, "ed", Role::Editor).await;
    let login = |proto: &'static str| {
        app.anon
            .post(app.url(&crate::access::fn_path("login")))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", app.base.clone())
            .header("x-forwarded-proto", proto)
            .body("username=ed&password=a+long+password+1")
            .send()
    };
    let secure = login("https").await.unwrap();
    let set = secure.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        set.starts_with("__Host-orchard_session=") && set.contains("Secure"),
        "{set}"
    );
    assert!(secure.headers().contains_key("strict-transport-security"));
    let plain = login("http").await.unwrap();
    assert!(!plain.headers().contains_key("strict-transport-security"));
    let cookie = set.split(';').next().unwrap().to_string();
    let page = app
        .anon
        .get(app.url("/jobs"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["cache-control"], "no-store");
    let json = app
        .anon
        .get(app.url("/api/v1/jobs"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(json.headers()["cache-control"], "no-store");
    let public = app.anon.get(app.url("/healthz")).send().await.unwrap();
    assert!(!public.headers().contains_key("cache-control"));

    let id_of = |id: &'static str| {
        app.anon
            .get(app.url("/healthz"))
            .header("x-request-id", id)
            .send()
    };
    assert_eq!(
        id_of("job-42.retry:1").await.unwrap().headers()["x-request-id"],
        "job-42.retry:1"
    );
    for bad in ["<script>", "a b", "x\u{7f}"] {
        if let Ok(r) = app
            .anon
            .get(app.url("/healthz"))
            .header("x-request-id", bad)
            .send()
            .await
        {
            let got = r.headers()["x-request-id"].to_str().unwrap().to_string();
            assert_ne!(got, bad);
        }
    }
    let long: &'static str = Box::leak("a".repeat(65).into_boxed_str());
    assert_ne!(id_of(long).await.unwrap().headers()["x-request-id"], long);

    let docs = app.anon.get(app.url("/api/docs")).send().await.unwrap();
    let csp = docs.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("style-src 'self'"), "{csp}");
    let html = docs.text().await.unwrap();
    assert!(!html.contains("<style") && html.contains("/api/docs.css"));
    let css = app.anon.get(app.url("/api/docs.css")).send().await.unwrap();
    assert!(
        css.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    app.running.stop().await;
}

/// A shared token shorter than 32 characters is refused at start; one in a file works.
#[tokio::test]
async fn short_shared_tokens_are_refused_and_files_hold_secrets() {
    let dir = common::temp_dir("short");
    let url = common::fresh_database(Db::Sqlite, &dir).await;
    let mut s = common::settings(url.clone(), &dir, 0);
    s.api_token = Some("too-short".into());
    let e = orchard_server::serve::start(&s)
        .await
        .err()
        .expect("refused");
    assert!(e.contains("at least 32"), "{e}");
    let file = dir.join("token");
    std::fs::write(&file, format!("{}\n", common::SERVICE_TOKEN)).unwrap();
    let mut s = common::settings(url, &dir, 0);
    s.api_token = None;
    s.api_token_file = Some(file);
    let app = spawn_with(s, dir).await;
    let r = common::client(Some(common::SERVICE_TOKEN))
        .get(app.url("/api/v1/jobs"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "the token from the file is the service token"
    );
    // New passwords a guesser would find are refused.
    add_user(&app, "ada", Role::Admin).await;
    let admin = sign_in(&app, "ada").await;
    let r = call(
        &app,
        "admin_create_user",
        Some(&admin),
        &[
            ("username", "zed"),
            ("password", "password1234"),
            ("role", "viewer"),
        ],
    )
    .await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("too easy to guess"));
    app.running.stop().await;
}

/// A tree may be `ORCHARD_MAX_TREE_DEPTH` levels deep, inclusive: an import past it fails
/// the job with the place it went too deep and leaves the tree as it was; creates, moves
/// and generated trees stop at it too.
async fn trees_stay_within_their_depth(db: Db) {
    let dir = common::temp_dir("depth");
    let url = common::fresh_database(db, &dir).await;
    let mut s = common::settings(url, &dir, 1);
    s.max_tree_depth = 5;
    let app = spawn_with(s, dir).await;
    let chain = |n: usize| {
        let open = r#"{"name":"x","tasks":["#;
        format!(r#"{{"tasks":[{}{}]}}"#, open.repeat(n), "]}".repeat(n)).into_bytes()
    };
    let ok = import_file(&app, "", chain(5)).await;
    assert_eq!(ok["state"], "succeeded", "{ok}");
    let (_, before) = app.get_json("/api/v1/tasks").await;
    let too_deep = import_file(&app, "", chain(6)).await;
    assert_eq!(too_deep["state"], "failed", "{too_deep}");
    let err = too_deep.to_string();
    assert!(
        err.contains("deeper than 5 levels") && err.contains("byte"),
        "{err}"
    );
    let (_, after) = app.get_json("/api/v1/tasks").await;
    assert_eq!(before, after, "a refused import changes nothing");

    // The deepest task has no room below it; moving a two-level subtree under level 4
    // would make 6.
    let mut id = before["items"][0]["id"].as_str().unwrap().to_string();
    let mut ids = vec![id.clone()];
    for _ in 0..4 {
        let (_, page) = app.get_json(&format!("/api/v1/tasks?parent={id}")).await;
        id = page["items"][0]["id"].as_str().unwrap().to_string();
        ids.push(id.clone());
    }
    let (s, e) = app
        .post_json(
            "/api/v1/tasks",
            json!({"parent_id": ids[4], "title": "too deep"}),
        )
        .await;
    assert_eq!(s, 400, "{e}");
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .contains("ORCHARD_MAX_TREE_DEPTH")
    );
    let (s, _) = app
        .post_json(
            "/api/v1/tasks",
            json!({"parent_id": ids[3], "title": "fits"}),
        )
        .await;
    assert_eq!(s, 201);
    let (s, e) = app
        .post_json(
            &format!("/api/v1/tasks/{}/move", ids[3]),
            json!({"parent_id": ids[4], "position": 0}),
        )
        .await;
    assert!(s == 400 || s == 409, "{s} {e}");
    let (s, _) = app
        .post_json("/api/v1/tasks", json!({"title": "root two"}))
        .await;
    assert_eq!(s, 201);
    let (s, e) = app
        .post_json(
            "/api/v1/tasks/generate",
            json!({"max_depth": 6, "max_children": 1, "name_length": 4, "roots": 1, "max_tasks": 10}),
        )
        .await;
    assert_eq!(s, 400, "{e}");

    app.running.stop().await;

    // With the default limit (100,000 levels), a file of a million openings fails cleanly
    // at the limit, with memory to spare, and leaves the tree as it was.
    let app = spawn_app(db, 1).await;
    let (s, _) = app
        .post_json("/api/v1/tasks", json!({"title": "kept"}))
        .await;
    assert_eq!(s, 201);
    let mut huge = b"{\"tasks\":[".to_vec();
    huge.extend(b"{\"name\":\"x\",\"tasks\":[".repeat(1_000_000));
    let failed = import_file(&app, "", huge).await;
    assert_eq!(failed["state"], "failed", "{failed}");
    assert!(
        failed.to_string().contains("deeper than 100000 levels"),
        "{failed}"
    );
    let (_, end) = app.get_json("/api/v1/tasks").await;
    assert_eq!(end["items"].as_array().unwrap().len(), 1);
    assert_eq!(end["items"][0]["title"], "kept");
    app.running.stop().await;
}

/// Job files may take `ORCHARD_MAX_FILES_BYTES` in all: a job that would pass it is refused
/// with a 4xx before it writes anything, and deleting a job gives its share back.
async fn job_files_stay_within_their_cap(db: Db) {
    let dir = common::temp_dir("cap");
    let url = common::fresh_database(db, &dir).await;
    let mut s = common::settings(url, &dir, 0);
    s.max_files_bytes = Some(1_000_000);
    let app = spawn_with(s, dir).await;
    let job = |files: u32, entries: u32| json!({"kind": "file_average", "params": {"workers": 1, "files": files, "entries": entries}});
    let (s, small) = app.post_json("/api/v1/jobs", job(10, 1000)).await;
    assert_eq!(s, 201, "{small}");
    let (s, e) = app.post_json("/api/v1/jobs", job(200, 1000)).await;
    assert_eq!(s, 409, "{e}");
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .contains("ORCHARD_MAX_FILES_BYTES"),
        "{e}"
    );
    let (_, jobs) = app.get_json("/api/v1/jobs").await;
    assert_eq!(
        jobs.as_array().unwrap().len(),
        1,
        "the refused job was never made"
    );
    let files = app.dir.join("files");
    let count = walk(&files);
    assert_eq!(count, 0, "nothing written");
    let r = app
        .http
        .delete(app.url(&format!("/api/v1/jobs/{}", small["id"].as_str().unwrap())))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let (s, _) = app.post_json("/api/v1/jobs", job(50, 1000)).await;
    assert_eq!(s, 201, "the deleted job's share is free again");
    app.running.stop().await;
}

fn walk(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            if e.path().is_dir() {
                walk(&e.path())
            } else {
                1
            }
        })
        .sum()
}

/// A request that is not answered within `ORCHARD_REQUEST_TIMEOUT_SECS` gets 503; a lease
/// claim (a long poll) may wait longer.
#[tokio::test]
async fn slow_requests_time_out_but_long_polls_do_not() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = common::temp_dir("timeout");
    let url = common::fresh_database(Db::Sqlite, &dir).await;
    let mut s = common::settings(url, &dir, 0);
    s.request_timeout_secs = 1;
    let app = spawn_with(s, dir).await;
    // A body that never finishes arriving.
    let mut conn = tokio::net::TcpStream::connect(app.running.addr)
        .await
        .unwrap();
    let head = format!(
        "POST /api/v1/jobs HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"kind\":",
        app.running.addr,
        common::SERVICE_TOKEN
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut answer))
        .await
        .expect("answered before the client gave up")
        .unwrap();
    let text = String::from_utf8_lossy(&answer[..n]).to_string();
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");

    let (_, w) = app
        .post_json("/api/v1/workers/register", json!({"name": "poller"}))
        .await;
    // Nothing is queued, so the claim waits its 2.5 s: past the timeout, and still a 200.
    let (s, tasks) = app
        .post_as_worker(
            w["worker_secret"].as_str().unwrap(),
            "/api/v1/leases/claim",
            json!({"worker_id": w["worker_id"], "max": 1, "wait_ms": 2500}),
        )
        .await;
    assert_eq!(s, 200, "{tasks}");
    assert_eq!(tasks, json!([]));
    app.running.stop().await;
}
