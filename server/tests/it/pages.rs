//! Pages as a newcomer meets them: an unknown id is a 404 with the "not found" page, and the
//! audit log holds changes and refusals, not the reads every page makes.

use crate::access::{add_user, call, sign_in};
use crate::common::{Db, spawn_app};
use shared::accounts::model::Role;

#[tokio::test]
async fn unknown_ids_answer_404_with_the_not_found_page() {
    let app = spawn_app(Db::Sqlite, 0).await;
    add_user(&app, "vic", Role::Viewer).await;
    let cookie = sign_in(&app, "vic").await;
    for path in [
        "/jobs/does-not-exist",
        "/tasks/does-not-exist",
        "/workers/nope",
        "/no/such/page",
    ] {
        let r = app
            .anon
            .get(app.url(path))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{path}");
        let html = r.text().await.unwrap();
        assert!(html.contains("Page not found"), "{path}: {html}");
    }
    app.running.stop().await;
}

#[tokio::test]
async fn the_audit_log_holds_changes_not_reads() {
    let app = spawn_app(Db::Sqlite, 0).await;
    add_user(&app, "ed", Role::Editor).await;
    let cookie = sign_in(&app, "ed").await;
    for name in [
        "list_children",
        "get_fleet",
        "list_jobs",
        "get_poll_policy",
        "get_me",
    ] {
        let r = call(&app, name, Some(&cookie), &[]).await;
        assert!(r.status().as_u16() < 500, "{name}");
    }
    for page in ["/", "/tasks", "/jobs", "/workers"] {
        let r = app
            .anon
            .get(app.url(page))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{page}");
    }
    let r = call(&app, "create_task", Some(&cookie), &[("title", "Pack")]).await;
    assert!(r.status().is_success(), "{}", r.status());
    let r = call(&app, "admin_list_users", Some(&cookie), &[]).await;
    assert_eq!(r.status(), 403);
    let log = app
        .running
        .state
        .store
        .list_audit(&Default::default())
        .await
        .unwrap();
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    assert!(actions.contains(&"fn create_task"), "{actions:?}");
    assert!(
        log.iter()
            .any(|e| e.action == "fn admin_list_users" && e.status == 403),
        "{actions:?}"
    );
    for read in [
        "list_children",
        "get_fleet",
        "list_jobs",
        "get_poll_policy",
        "get_me",
    ] {
        assert!(
            !actions.contains(&format!("fn {read}").as_str()),
            "{read} is a read: {actions:?}"
        );
    }
    app.running.stop().await;
}

/// A used setup link says at once that Orchard is set up, and where to sign in.
#[tokio::test]
async fn a_used_setup_link_says_sign_in() {
    let app = spawn_app(Db::Sqlite, 0).await;
    let fresh = app
        .anon
        .get(app.url("/setup/whatever"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!fresh.contains("already set up"), "no account yet");
    add_user(&app, "ada", Role::Admin).await;
    let r = app
        .anon
        .get(app.url("/setup/whatever"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("Orchard is already set up"), "{html}");
    assert!(html.contains("href=\"/login\""));
    app.running.stop().await;
}

/// Started from any folder, `orchard serve` finds the site beside its executable and the
/// pages load their client.
#[tokio::test]
async fn the_site_is_found_from_any_folder() {
    let dir = crate::common::temp_dir("cwd");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_orchard"))
        .arg("serve")
        .current_dir(&dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ORCHARD_ADDR", format!("127.0.0.1:{port}"))
        .env("ORCHARD_DATA_DIR", dir.join("data"))
        .env(
            "DATABASE_URL",
            format!("sqlite:{}", dir.join("o.db").display()),
        )
        .env("ORCHARD_WORKERS", "0")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let site = crate::common::root().join("target/site");
    let js = orchard_server::site_files::assets(&site).url("pkg/orchard.js");
    let mut status = 0;
    for _ in 0..100 {
        if let Ok(r) = client.get(format!("{base}{js}")).send().await {
            status = r.status().as_u16();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status, 200, "the client is served");
}

/// Without JavaScript, "Add" posts to the server function, which creates the task and
/// sends the browser back to the page it came from.
#[tokio::test]
async fn adding_a_task_works_without_javascript() {
    let app = spawn_app(Db::Sqlite, 0).await;
    add_user(&app, "ed", Role::Editor).await;
    let cookie = sign_in(&app, "ed").await;
    let page = app
        .anon
        .get(app.url("/tasks"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let action = page
        .split("action=\"")
        .map(|rest| rest.split('"').next().unwrap_or_default())
        .find(|a| a.starts_with("/fn/create_task"))
        .expect("the add form posts to create_task")
        .to_string();
    let r = app
        .anon
        .post(app.url(&action))
        .header("cookie", &cookie)
        .header("origin", app.base.clone())
        .header("referer", app.url("/tasks"))
        .header("accept", "text/html")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("title=Without+script")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection(), "{}", r.status());
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .trim_end_matches('?')
            .ends_with("/tasks"),
        "back to the page"
    );
    let (_, roots) = app.get_json("/api/v1/tasks").await;
    assert_eq!(roots["items"][0]["title"], "Without script");
    app.running.stop().await;
}

/// Admins issue, list and revoke API tokens from the browser: a new token is answered once
/// and works at once; the list never shows it; a revoked one stops.
#[tokio::test]
async fn admins_manage_tokens_from_the_browser() {
    let app = spawn_app(Db::Sqlite, 0).await;
    add_user(&app, "ada", Role::Admin).await;
    let admin = sign_in(&app, "ada").await;
    let page = app
        .anon
        .get(app.url("/admin/tokens"))
        .header("cookie", &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("New token"));
    let r = call(
        &app,
        "admin_create_token",
        Some(&admin),
        &[("name", "rack-3"), ("worker", "on")],
    )
    .await;
    assert!(r.status().is_success(), "{}", r.status());
    let token: String = r.json().await.unwrap();
    assert!(token.starts_with("orch_"));
    let register = |t: String| {
        app.anon
            .post(app.url("/api/v1/workers/register"))
            .bearer_auth(t)
            .json(&serde_json::json!({"name": "rack-3"}))
            .send()
    };
    assert_eq!(register(token.clone()).await.unwrap().status(), 201);
    let listed = call(&app, "admin_list_tokens", Some(&admin), &[]).await;
    let text = listed.text().await.unwrap();
    assert!(text.contains("rack-3") && text.contains("worker") && !text.contains(&token));
    let bad = call(
        &app,
        "admin_create_token",
        Some(&admin),
        &[("name", "none")],
    )
    .await;
    assert_eq!(bad.status(), 400, "a token needs a scope");
    let r = call(
        &app,
        "admin_revoke_token",
        Some(&admin),
        &[("name", "rack-3")],
    )
    .await;
    assert!(r.status().is_success());
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(register(token).await.unwrap().status(), 401);
    app.running.stop().await;
}
