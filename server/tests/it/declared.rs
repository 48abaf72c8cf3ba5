//! Access by declaration, from the outside: every route of the built server (REST, wpipe,
//! operations, docs, pages, server functions, site files) declares who may call it, and
//! anonymous callers, viewers, editors, admins, worker tokens and wpipe tokens each get
//! exactly that; paths a router could read two ways are refused before anything else.

use crate::access::{add_user, call, fn_path, sign_in};
use crate::common::{self, Db, TestApp, spawn_app};
use app::access::Access;
use orchard_server::access::REFUSED_HEADER;
use reqwest::Method;
use serde_json::json;
use shared::accounts::model::Role;
use std::collections::BTreeSet;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Who calls, and how they show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Anonymous,
    Viewer,
    Editor,
    Admin,
    WorkerToken,
    WpipeToken,
}

const EVERYONE: [Who; 6] = [
    Who::Anonymous,
    Who::Viewer,
    Who::Editor,
    Who::Admin,
    Who::WorkerToken,
    Who::WpipeToken,
];

/// Whether `who` may pass a route declared `access`.
fn may(access: Access, who: Who) -> bool {
    match access {
        Access::Public => true,
        Access::Viewer => matches!(who, Who::Viewer | Who::Editor | Who::Admin),
        Access::Editor => matches!(who, Who::Editor | Who::Admin),
        Access::Admin => who == Who::Admin,
        Access::WorkerToken => who == Who::WorkerToken,
        Access::WpipeToken => who == Who::WpipeToken,
    }
}

struct Callers {
    viewer: String,
    editor: String,
    admin: String,
    worker: String,
    wpipe: String,
}

async fn callers(app: &TestApp) -> Callers {
    add_user(app, "vic", Role::Viewer).await;
    add_user(app, "ed", Role::Editor).await;
    add_user(app, "ada", Role::Admin).await;
    let store = &app.running.state.store;
    let token = |name: &str, scopes: &str| {
        let secret = engine::accounts::secret::generate("orch_");
        let hash = engine::accounts::secret::hash(&secret);
        let (name, scopes) = (name.to_string(), scopes.to_string());
        let store = store.clone();
        async move {
            store
                .create_token(&name, &hash, &scopes, None, engine::now_millis())
                .await
                .unwrap();
            secret
        }
    };
    let worker = token("w", "worker").await;
    let wpipe = token("p", "wpipe").await;
    Callers {
        viewer: sign_in(app, "vic").await,
        editor: sign_in(app, "ed").await,
        admin: sign_in(app, "ada").await,
        worker,
        wpipe,
    }
}

/// A request as `who`, from this site's own pages (so cross-site refusal plays no part).
fn request(
    app: &TestApp,
    c: &Callers,
    who: Who,
    method: Method,
    path: &str,
) -> reqwest::RequestBuilder {
    let req = app
        .anon
        .request(method, app.url(path))
        .header("origin", app.base.clone());
    match who {
        Who::Anonymous => req,
        Who::Viewer => req.header("cookie", &c.viewer),
        Who::Editor => req.header("cookie", &c.editor),
        Who::Admin => req.header("cookie", &c.admin),
        Who::WorkerToken => req.bearer_auth(&c.worker),
        Who::WpipeToken => req.bearer_auth(&c.wpipe),
    }
}

/// Whether the access layer refused the answer (rather than the route answering an error).
fn refused(r: &reqwest::Response) -> bool {
    r.headers().contains_key(REFUSED_HEADER)
}

fn concrete(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for ch in path.chars() {
        match ch {
            '{' => in_param = true,
            '}' => {
                in_param = false;
                out.push('x');
            }
            _ if in_param => {}
            c => out.push(c),
        }
    }
    out
}

/// Every route the server serves, with its declaration, from four independent lists: the
/// OpenAPI document, the server-function registry, the app's router and the site folder.
async fn every_route(app: &TestApp) -> Vec<(Method, String, Access)> {
    let mut routes = Vec::new();
    let (status, doc) = app.get_json("/api/openapi.json").await;
    assert_eq!(status, 200);
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let declared = op[orchard_server::access::EXTENSION]
                .as_str()
                .and_then(Access::parse)
                .unwrap_or_else(|| panic!("{method} {path} declares no access"));
            routes.push((
                method.to_uppercase().parse().unwrap(),
                path.clone(),
                declared,
            ));
        }
    }
    let registered: BTreeSet<String> = leptos::server_fn::axum::server_fn_paths()
        .map(|(p, _)| p.to_string())
        .collect();
    let declared: BTreeSet<String> = app::access::server_fns()
        .map(|f| f.path.to_string())
        .collect();
    assert_eq!(
        registered, declared,
        "every server function declares its access with require! (and nothing else does)"
    );
    for f in app::access::server_fns() {
        routes.push((Method::POST, f.path.to_string(), f.access));
    }
    let pages: BTreeSet<String> = orchard_server::http::page_routes()
        .iter()
        .map(|r| r.path().to_string())
        .collect();
    let listed: BTreeSet<String> = app::PAGES.iter().map(|p| p.path.to_string()).collect();
    assert_eq!(
        pages, listed,
        "app::PAGES lists every page route, and only those"
    );
    for p in app::PAGES {
        routes.push((Method::GET, p.path.to_string(), p.access));
    }
    let site = common::root().join("target/site");
    let files = orchard_server::site_files::list(&site);
    assert!(
        files.iter().any(|(u, _)| u.starts_with("/pkg/")),
        "the site is built"
    );
    let assets = orchard_server::site_files::assets(&site);
    for (url, _) in files {
        routes.push((
            Method::GET,
            format!("{}{url}", assets.prefix()),
            Access::Public,
        ));
    }
    routes
}

/// Every route, called by every kind of caller: refused exactly when its declaration says.
async fn every_route_gets_exactly_its_declared_access(db: Db) {
    let app = spawn_app(db, 0).await;
    let c = callers(&app).await;
    let routes = every_route(&app).await;
    assert!(routes.len() > 60, "{} routes", routes.len());
    let mut checked = 0;
    for (method, path, access) in &routes {
        let concrete = concrete(path);
        // Signing out ends the session the other callers need; it is public, and anonymous
        // callers show that.
        let whos: &[Who] = if *access == Access::Public {
            &[Who::Anonymous]
        } else {
            &EVERYONE
        };
        for &who in whos {
            let mut req = request(&app, &c, who, method.clone(), &concrete);
            if path.starts_with("/fn/") {
                req = req
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body("id=x");
            } else if *method != Method::GET {
                req = req.json(&json!({}));
            }
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let was_refused = refused(&r);
            // Event streams stay open: the status is all this needs.
            drop(r);
            assert_eq!(
                was_refused,
                !may(*access, who),
                "{method} {path} (declared {access}) as {who:?}: {status}"
            );
            assert!(status < 500, "{method} {concrete} as {who:?}: {status}");
            checked += 1;
        }
    }
    assert!(checked > 200, "{checked} calls");
    app.running.stop().await;
}

/// A raw HTTP/1.1 GET, with the path exactly as given (no client tidies it first).
async fn raw_get(app: &TestApp, path: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(app.running.addr)
        .await
        .unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAccept: text/html\r\n\r\n",
        app.running.addr
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// The requests of the outside review: none of them shows a job, task or worker to nobody.
async fn path_tricks_reach_no_data(db: Db) {
    let app = spawn_app(db, 0).await;
    let (s, task) = app
        .post_json(
            "/api/v1/tasks",
            json!({"id": "plan.v2", "title": "Secret plan Zeta"}),
        )
        .await;
    assert_eq!(s, 201, "{task}");
    let (s, job) = app
        .post_json(
            "/api/v1/jobs",
            json!({"kind": "noop", "params": {"tasks": 1, "workers": 1}}),
        )
        .await;
    assert_eq!(s, 201, "{job}");
    let job_id = job["id"].as_str().unwrap().to_string();
    let (s, worker) = app
        .post_json(
            "/api/v1/workers/register",
            json!({"name": "secret-worker-host"}),
        )
        .await;
    assert_eq!(s, 201, "{worker}");
    let worker_id = worker["worker_id"]
        .as_str()
        .or(worker["id"].as_str())
        .unwrap()
        .to_string();
    let cases: Vec<(String, &[u16])> = vec![
        (format!("/workers/{worker_id}"), &[303, 302, 307]),
        ("/workers/x.y".into(), &[303, 302, 307]),
        ("/pkg/../jobs".into(), &[400]),
        ("/pkg/../tasks".into(), &[400]),
        ("/pkg/..".into(), &[400]),
        ("/pkg/%2e%2e/tasks".into(), &[400]),
        ("/dashboard_x/../jobs".into(), &[400]),
        ("/setup/../tasks/plan.v2".into(), &[400]),
        ("/tasks/.".into(), &[400]),
        ("/tasks/%2e%2e".into(), &[400]),
        ("/jobs/a.b".into(), &[303, 302, 307]),
        (format!("/jobs/{job_id}"), &[303, 302, 307]),
        ("/tasks/plan.v2".into(), &[303, 302, 307]),
        ("//tasks".into(), &[400]),
        ("/tasks%2fplan.v2".into(), &[400]),
        ("/tasks\\plan.v2".into(), &[400]),
        ("/api/v1/tasks/plan.v2".into(), &[401]),
        ("/api/v1/../v1/jobs".into(), &[400]),
        ("/dashboard_workers".into(), &[401]),
        ("/pkg/orchard.js/../../jobs".into(), &[400]),
    ];
    for (path, want) in &cases {
        let (status, text) = raw_get(&app, path).await;
        assert!(want.contains(&status), "{path}: {status}\n{text}");
        for secret in ["Secret plan Zeta", "secret-worker-host"] {
            assert!(!text.contains(secret), "{path} shows {secret:?}");
        }
        // The job's id may come back in a sign-in redirect to the page that named it; the
        // answer's body never shows it.
        let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
        assert!(!body.contains(&job_id), "{path} shows the job");
    }
    // A task id made only of dots could never be opened: it is refused.
    let (s, body) = app
        .post_json("/api/v1/tasks", json!({"id": "..", "title": "x"}))
        .await;
    assert_eq!(s, 400, "{body}");
    app.running.stop().await;
}

/// `next=` after sign-in lands only on this site, and never on an error.
async fn sign_in_redirects_stay_on_this_site(db: Db) {
    let app = spawn_app(db, 0).await;
    add_user(&app, "ana", Role::Editor).await;
    for next in [
        "%2F%09%2Fevil.example",
        "%2F%0A",
        "https%3A%2F%2Fevil.example",
        "%2F%2Fevil.example",
        "%2F%5Cevil.example",
        "%2F%0D%0ASet-Cookie%3A+x%3D1",
    ] {
        let form = format!("username=ana&password=a+long+password+1&next={next}");
        let r = app
            .anon
            .post(app.url(&fn_path("login")))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "text/html")
            .header("origin", app.base.clone())
            .body(form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 302, "next={next}");
        assert_eq!(r.headers()["location"], "/", "next={next}");
    }
    // The sign-in page carries `next` on without rendering it anywhere but the form.
    let (status, text) = raw_get(&app, "/login?next=%2F%09%2Fevil.example").await;
    assert_eq!(status, 200, "{text}");
    app.running.stop().await;
}

use crate::common::both;

both!(
    every_route_gets_exactly_its_declared_access,
    path_tricks_reach_no_data,
    sign_in_redirects_stay_on_this_site
);

/// Sign-in guessing: 50 bad passwords for one user from one address do not stop another
/// user signing in from another address, as told by a trusted proxy; headers from anyone
/// else are not believed.
#[tokio::test]
async fn sign_in_throttling_cannot_lock_others_out() {
    let dir = common::temp_dir("throttle");
    let url = common::fresh_database(Db::Sqlite, &dir).await;
    let mut s = common::settings(url, &dir, 0);
    s.trusted_proxies = vec!["127.0.0.1".into()];
    let app = common::spawn_with(s, dir).await;
    add_user(&app, "ana", Role::Editor).await;
    add_user(&app, "bob", Role::Editor).await;
    let login = |user: &'static str, pw: &'static str, from: &'static str| {
        app.anon
            .post(app.url(&fn_path("login")))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", app.base.clone())
            .header("x-forwarded-for", from)
            .body(format!("username={user}&password={}", pw.replace(' ', "+")))
            .send()
    };
    let mut statuses = BTreeSet::new();
    for _ in 0..50 {
        let r = login("ana", "wrong password!!", "203.0.113.1")
            .await
            .unwrap();
        statuses.insert(r.status().as_u16());
        if r.status() == 429 {
            let e: serde_json::Value = r.json().await.unwrap();
            let msg = e.to_string();
            assert!(msg.contains("wait") || msg.contains("try again"), "{msg}");
        }
    }
    assert!(
        statuses.contains(&401) && statuses.contains(&429),
        "{statuses:?}"
    );
    let r = login("bob", "a long password 1", "198.51.100.7")
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "bob from elsewhere signs in");
    app.running.stop().await;

    // Without trusted proxies, X-Forwarded-For is nobody's word: every attempt counts
    // against the real address.
    let app = spawn_app(Db::Sqlite, 0).await;
    let mut last = 0;
    for i in 0..12 {
        let r = app
            .anon
            .post(app.url(&fn_path("login")))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", app.base.clone())
            .header("x-forwarded-for", format!("203.0.113.{i}"))
            .body(format!("username=u{i}&password=wrong+password"))
            .send()
            .await
            .unwrap();
        last = r.status().as_u16();
    }
    assert_eq!(last, 429);
    // Nor may a stranger's X-Forwarded-Host make a cross-site change look same-site.
    add_user(&app, "eve", Role::Editor).await;
    let cookie = {
        let r = call(
            &app,
            "login",
            None,
            &[("username", "eve"), ("password", "a long password 1")],
        )
        .await;
        crate::access::session_of(&r)
    };
    if let Some(cookie) = cookie {
        let r = app
            .anon
            .post(app.url("/api/v1/jobs"))
            .header("cookie", cookie)
            .header("origin", "http://evil.example")
            .header("x-forwarded-host", "evil.example")
            .json(&json!({"kind": "noop", "params": {"tasks": 1, "workers": 1}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
    }
    app.running.stop().await;
}

/// A flood of anonymous changes is counted, not written to the audit log row by row; an
/// invented HTTP method is the label `other`.
#[tokio::test]
async fn anonymous_floods_are_counted_not_logged() {
    let app = spawn_app(Db::Sqlite, 0).await;
    let path = app.url(&fn_path("cancel_job"));
    let sent = futures::stream::iter(0..10_000)
        .map(|_| {
            app.anon
                .post(&path)
                .header("content-type", "application/x-www-form-urlencoded")
                .body("id=x")
                .send()
        })
        .buffer_unordered(32)
        .fold(0u32, |n, r| async move {
            assert_eq!(r.unwrap().status(), 401);
            n + 1
        })
        .await;
    assert_eq!(sent, 10_000);
    let log = app
        .running
        .state
        .store
        .list_audit(&Default::default())
        .await
        .unwrap();
    assert!(log.len() <= 1, "{} audit rows", log.len());
    let r = app
        .anon
        .request(Method::from_bytes(b"FROB").unwrap(), app.url("/jobs"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());
    let text = app
        .anon
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let refused: f64 = text
        .lines()
        .find(|l| l.starts_with("orchard_http_refused_total{reason=\"anonymous\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    assert!(refused >= 10_000.0, "{refused}");
    assert!(
        text.contains("method=\"other\""),
        "an invented method is `other`"
    );
    assert!(!text.contains("FROB"));
    app.running.stop().await;
}

use futures::StreamExt;
