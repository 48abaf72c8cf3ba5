//! Access control from the outside: sign-in, sessions, roles on every route and server
//! function, cross-site refusal, rate limits, headers and the audit log — on both databases.

use crate::common;

use common::{Db, TestApp, spawn_app};
use reqwest::Method;
use serde_json::json;
use shared::accounts::model::Role;

/// The path of a server function by its name.
pub(crate) fn fn_path(name: &str) -> String {
    leptos::server_fn::axum::server_fn_paths()
        .map(|(p, _)| p.to_string())
        .find(|p| {
            p.strip_prefix("/fn/")
                .is_some_and(|rest| rest.trim_end_matches(|c: char| c.is_ascii_digit()) == name)
        })
        .unwrap_or_else(|| panic!("no server function {name}"))
}

/// Calls a server function as a form post, like a page does, with an optional cookie.
pub(crate) async fn call(
    app: &TestApp,
    name: &str,
    cookie: Option<&str>,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let body: String = form
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                v.replace('%', "%25")
                    .replace('&', "%26")
                    .replace('+', "%2B")
                    .replace(' ', "+")
            )
        })
        .collect::<Vec<_>>()
        .join("&");
    let mut req = app
        .anon
        .post(app.url(&fn_path(name)))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", app.base.clone())
        .body(body);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    req.send().await.unwrap()
}

pub(crate) fn session_of(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("orchard_session=") && !v.contains("Max-Age=0"))
        .map(|v| v.split(';').next().unwrap().to_string())
}

pub(crate) async fn add_user(app: &TestApp, name: &str, role: Role) {
    let hash = app::accounts::password::hash("a long password 1")
        .await
        .unwrap();
    app.running
        .state
        .store
        .create_user(name, &hash, role, engine::now_millis())
        .await
        .unwrap();
}

pub(crate) async fn sign_in(app: &TestApp, name: &str) -> String {
    let r = call(
        app,
        "login",
        None,
        &[("username", name), ("password", "a long password 1")],
    )
    .await;
    assert!(r.status().as_u16() < 400, "login {name}: {}", r.status());
    let set = r
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
    session_of(&r).expect("session cookie")
}

async fn get_with(app: &TestApp, path: &str, cookie: &str) -> u16 {
    app.anon
        .get(app.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn first_run_setup(db: Db) {
    let app = spawn_app(db, 0).await;
    let st = &app.running.state;
    // Nothing opens without signing in: pages send people to the sign-in page, the API
    // answers 401.
    let r = app.anon.get(app.url("/jobs")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login?next=/jobs");
    assert_eq!(
        app.anon
            .get(app.url("/api/v1/jobs"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        app.anon
            .get(app.url("/login"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // The start-up printed a one-time link; a fresh one works the same way.
    let link = app::accounts::service::issue_setup_link(st)
        .await
        .unwrap()
        .unwrap();
    let token = link.strip_prefix("/setup/").unwrap();
    assert_eq!(
        app.anon.get(app.url(&link)).send().await.unwrap().status(),
        200
    );
    let bad = call(
        &app,
        "setup_admin",
        None,
        &[("token", token), ("username", "ana"), ("password", "short")],
    )
    .await;
    assert_eq!(bad.status(), 400);
    let r = call(
        &app,
        "setup_admin",
        None,
        &[
            ("token", token),
            ("username", "ana"),
            ("password", "a long password 1"),
        ],
    )
    .await;
    assert!(r.status().as_u16() < 400, "{}", r.status());
    let cookie = session_of(&r).expect("signed in");
    assert_eq!(get_with(&app, "/api/v1/jobs", &cookie).await, 200);
    assert_eq!(get_with(&app, "/admin/users", &cookie).await, 200);
    // The link works once, and there is no second first admin.
    let again = call(
        &app,
        "setup_admin",
        None,
        &[
            ("token", token),
            ("username", "eve"),
            ("password", "a long password 1"),
        ],
    )
    .await;
    assert!(again.status().is_client_error());
    assert!(
        app::accounts::service::issue_setup_link(st)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(st.store.count_users().await.unwrap(), 1);

    // Signing out ends the session on the server.
    let r = call(&app, "logout", Some(&cookie), &[]).await;
    assert!(r.status().as_u16() < 400);
    assert_eq!(get_with(&app, "/api/v1/jobs", &cookie).await, 401);
    app.running.stop().await;
}

async fn roles_are_enforced_everywhere(db: Db) {
    let app = spawn_app(db, 0).await;
    add_user(&app, "vic", Role::Viewer).await;
    add_user(&app, "ed", Role::Editor).await;
    add_user(&app, "ada", Role::Admin).await;
    let viewer = sign_in(&app, "vic").await;
    let editor = sign_in(&app, "ed").await;
    let admin = sign_in(&app, "ada").await;

    // Every REST operation in the API document: anonymous callers get 401 for all of them;
    // a viewer gets 403 for every one that changes something but their own saved views.
    let doc: serde_json::Value = app
        .anon
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut mutating = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        let concrete = path
            .replace("{id}", "x")
            .replace("{key}", "k")
            .replace("{name}", "n");
        for method in ops.as_object().unwrap().keys() {
            let m: Method = method.to_uppercase().parse().unwrap();
            let anon = app
                .anon
                .request(m.clone(), app.url(&concrete))
                .header("origin", app.base.clone())
                .send()
                .await
                .unwrap();
            let public = matches!(
                concrete.as_str(),
                "/healthz" | "/readyz" | "/version" | "/metrics" | "/dashboard_workers"
            ) || concrete.starts_with("/api/openapi")
                || concrete.starts_with("/api/docs");
            if !public {
                assert_eq!(anon.status(), 401, "anonymous {method} {concrete}");
            }
            if m != Method::GET && m != Method::HEAD {
                mutating += 1;
                let as_viewer = app
                    .anon
                    .request(m.clone(), app.url(&concrete))
                    .header("cookie", &viewer)
                    .header("origin", app.base.clone())
                    .json(&json!({}))
                    .send()
                    .await
                    .unwrap();
                if concrete.starts_with("/api/v1/views/") {
                    // A viewer keeps views of their own: refused for the body or the name,
                    // never for the role.
                    assert!(
                        matches!(as_viewer.status().as_u16(), 400 | 404 | 422),
                        "viewer {method} {concrete}: {}",
                        as_viewer.status()
                    );
                    continue;
                }
                assert!(
                    matches!(as_viewer.status().as_u16(), 401 | 403),
                    "viewer {method} {concrete}: {}",
                    as_viewer.status()
                );
            }
        }
    }
    assert!(mutating >= 8, "the document lists the mutating routes");

    // Every server function as its declaration says: anonymous callers are refused all but
    // the public ones, a viewer those above the viewer level.
    for f in app::access::server_fns() {
        let name = f.snake_name();
        if f.access == app::access::Access::Public {
            continue;
        }
        let anon = call(&app, &name, None, &[("id", "x")]).await;
        assert_eq!(anon.status(), 401, "anonymous {name}");
        let as_viewer = call(&app, &name, Some(&viewer), &[("id", "x")]).await;
        if f.access == app::access::Access::Viewer {
            assert_ne!(
                as_viewer.status().as_u16(),
                403,
                "viewer may read with {name}"
            );
        } else {
            assert_eq!(as_viewer.status(), 403, "viewer {name}");
        }
    }

    // Editors change jobs; only admins manage people.
    let job = json!({"kind": "noop", "params": {"tasks": 3, "workers": 1}});
    let post = |cookie: &str| {
        app.anon
            .post(app.url("/api/v1/jobs"))
            .header("cookie", cookie.to_string())
            .header("origin", app.base.clone())
            .json(&job)
            .send()
    };
    assert_eq!(post(&viewer).await.unwrap().status(), 403);
    assert_eq!(post(&editor).await.unwrap().status(), 201);
    let r = call(
        &app,
        "admin_create_user",
        Some(&editor),
        &[
            ("username", "zed"),
            ("password", "a long password 1"),
            ("role", "viewer"),
        ],
    )
    .await;
    assert_eq!(r.status(), 403);
    let r = call(
        &app,
        "admin_create_user",
        Some(&admin),
        &[
            ("username", "zed"),
            ("password", "a long password 1"),
            ("role", "viewer"),
        ],
    )
    .await;
    assert!(r.status().is_success(), "{}", r.status());
    // The last admin cannot be demoted.
    let r = call(
        &app,
        "admin_set_role",
        Some(&admin),
        &[("username", "ada"), ("role", "viewer")],
    )
    .await;
    assert_eq!(r.status(), 409);

    // A change made with a cookie from another site is refused and changes nothing.
    let r = app
        .anon
        .post(app.url("/api/v1/jobs"))
        .header("cookie", editor.clone())
        .header("origin", "http://evil.example")
        .json(&job)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let (_, jobs) = app.get_json("/api/v1/jobs").await;
    assert_eq!(jobs.as_array().unwrap().len(), 1);

    // Each change is in the audit log with who made it.
    let log = app
        .running
        .state
        .store
        .list_audit(&Default::default())
        .await
        .unwrap();
    assert!(
        log.iter()
            .any(|e| e.actor == "ed" && e.action == "POST /api/v1/jobs" && e.status == 201),
        "{log:?}"
    );
    assert!(log.iter().any(|e| e.actor == "vic" && e.status == 403));
    assert!(
        log.iter()
            .any(|e| e.actor == "ada" && e.action == "fn admin_create_user" && e.target == "zed")
    );
    app.running.stop().await;
}

/// Stored tokens: `read` acts as a viewer, `write` as an editor, `worker` only on the worker
/// routes; a person's token never exceeds their role and stops with them; revoked is 401.
async fn tokens_act_within_their_scopes(db: Db) {
    let app = spawn_app(db, 0).await;
    let store = &app.running.state.store;
    add_user(&app, "vic", Role::Viewer).await;
    let mut tokens = std::collections::HashMap::new();
    for (name, scopes, user) in [
        ("reader", "read", None),
        ("writer", "read write", None),
        ("worker", "worker", None),
        ("vics", "read write", Some("vic")),
    ] {
        let secret = engine::accounts::secret::generate("orch_");
        store
            .create_token(
                name,
                &engine::accounts::secret::hash(&secret),
                scopes,
                user,
                engine::now_millis(),
            )
            .await
            .unwrap();
        tokens.insert(name, secret);
    }
    let job = json!({"kind": "noop", "params": {"tasks": 1, "workers": 1}});
    let status = |method: Method, path: &str, token: &str| {
        app.anon
            .request(method, app.url(path))
            .bearer_auth(token)
            .json(&job)
            .send()
    };
    assert_eq!(
        status(Method::GET, "/api/v1/jobs", &tokens["reader"])
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        status(Method::POST, "/api/v1/jobs", &tokens["reader"])
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        status(Method::POST, "/api/v1/jobs", &tokens["writer"])
            .await
            .unwrap()
            .status(),
        201
    );
    assert_eq!(
        status(Method::GET, "/api/v1/jobs", &tokens["worker"])
            .await
            .unwrap()
            .status(),
        403
    );
    let r = app
        .anon
        .post(app.url("/api/v1/workers/register"))
        .bearer_auth(&tokens["worker"])
        .json(&json!({"name": "w"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "a worker token registers workers");
    let r = app
        .anon
        .post(app.url("/api/v1/workers/register"))
        .bearer_auth(&tokens["reader"])
        .json(&json!({"name": "w"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "a read token is not a worker token");
    // Vic is a viewer: her write-scoped token still only reads.
    assert_eq!(
        status(Method::GET, "/api/v1/jobs", &tokens["vics"])
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        status(Method::POST, "/api/v1/jobs", &tokens["vics"])
            .await
            .unwrap()
            .status(),
        403
    );
    store
        .set_disabled("vic", true, engine::now_millis())
        .await
        .unwrap();
    assert_eq!(
        status(Method::GET, "/api/v1/jobs", &tokens["vics"])
            .await
            .unwrap()
            .status(),
        401
    );
    store
        .revoke_token("reader", engine::now_millis())
        .await
        .unwrap();
    assert_eq!(
        status(Method::GET, "/api/v1/jobs", &tokens["reader"])
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        status(Method::GET, "/api/v1/jobs", "orch_wrong")
            .await
            .unwrap()
            .status(),
        401
    );
    // Their use is noted, and the audit log names them.
    let listed = store.list_tokens().await.unwrap();
    assert!(
        listed
            .iter()
            .find(|t| t.name == "writer")
            .unwrap()
            .last_used_at
            .is_some()
    );
    assert_eq!(
        listed
            .iter()
            .find(|t| t.name == "vics")
            .unwrap()
            .username
            .as_deref(),
        Some("vic")
    );
    let log = store.list_audit(&Default::default()).await.unwrap();
    assert!(
        log.iter()
            .any(|e| e.actor == "token:writer" && e.status == 201)
    );
    app.running.stop().await;
}

use crate::common::both;

both!(
    first_run_setup,
    roles_are_enforced_everywhere,
    tokens_act_within_their_scopes
);

#[tokio::test]
async fn sign_in_is_rate_limited_and_pages_carry_security_headers() {
    let app = spawn_app(Db::Sqlite, 0).await;
    add_user(&app, "ana", Role::Editor).await;
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let r = call(
            &app,
            "login",
            None,
            &[("username", "ana"), ("password", "wrong password!!")],
        )
        .await;
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses[0], 401, "a wrong password is a 401");
    assert_eq!(*statuses.last().unwrap(), 429, "{statuses:?}");

    let r = app.http.get(app.url("/jobs")).send().await.unwrap();
    let h = r.headers().clone();
    let csp = h["content-security-policy"].to_str().unwrap().to_string();
    let script_src = csp
        .split(';')
        .find(|d| d.trim().starts_with("script-src"))
        .unwrap();
    assert!(
        !script_src.contains("unsafe-inline") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "same-origin");
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap()
        .to_string();
    let html = r.text().await.unwrap();
    assert!(
        html.contains(&format!("nonce=\"{nonce}\"")),
        "inline scripts carry the nonce"
    );
    // A huge server-function body is refused before it is read whole.
    let big = "x".repeat(1024 * 1024);
    let r = call(&app, "cancel_job", None, &[("id", &big)]).await;
    assert_eq!(r.status(), 401);
    app.running.stop().await;
}

/// A plain form post (no JavaScript) is sent on to the next page; the client, which loads
/// the next page itself, gets the answer without a redirect to follow first.
#[tokio::test]
async fn only_plain_form_sign_ins_are_redirected() {
    let app = spawn_app(Db::Sqlite, 0).await;
    add_user(&app, "ana", Role::Editor).await;
    let form = "username=ana&password=a+long+password+1&next=%2Fjobs";
    let post = |accept: &'static str| {
        app.anon
            .post(app.url(&fn_path("login")))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", accept)
            .header("origin", app.base.clone())
            .body(form)
            .send()
    };
    let plain = post("text/html,application/xhtml+xml").await.unwrap();
    assert_eq!(plain.status(), 302);
    assert_eq!(plain.headers()["location"], "/jobs");
    assert!(session_of(&plain).is_some());
    let client = post("application/json").await.unwrap();
    assert_eq!(client.status(), 200);
    assert!(session_of(&client).is_some());
    assert!(client.headers().get("location").is_none());
    assert!(client.headers().get("serverfnredirect").is_none());
    app.running.stop().await;
}
