//! The Workers page in a real browser: drill down from the fleet to a wpipe worker's process
//! and its tasks, watch a task fail live (no reload), open the same deep link without
//! JavaScript, and remove a dead worker. Screenshots land in `target/screenshots/`.

use crate::common;

use app::accounts::model::Role;
use common::{Errors, add_user, launch, server_with, shot, sign_in, wait_live, wait_true};
use orchard_server::serve::Running;
use playwright_rs::protocol::BrowserContextOptions;
use serde_json::{Value, json};
use std::time::Duration;

async fn server() -> Running {
    server_with(1, |s| {
        s.api_token = Some("e2e-token-0123456789abcdef0123456789".into());
        // Short thresholds so a silent worker is dead within the test.
        s.worker_late_secs = 2;
        s.worker_dead_secs = 3;
    })
    .await
}

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    async fn post(&self, path: &str, body: Value) -> Value {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth("e2e-token-0123456789abcdef0123456789")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
        r.json().await.unwrap()
    }
}

#[tokio::test]
async fn drill_down_live_updates_and_removal() {
    let app = server().await;
    let base = format!("http://{}", app.addr);
    let api = Api {
        http: reqwest::Client::new(),
        base: base.clone(),
    };
    let ghost = api
        .post(
            "/matricula",
            json!({"name": "ghost-pipeline", "version": "0.9", "tasks": []}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let worker = api
        .post(
            "/matricula",
            json!({"name": "etl-e2e", "version": "1.2", "tasks": [
                {"name": "fetch", "version": "1"}, {"name": "load", "version": "2"}]}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let p = api.post("/newprocess", json!({"id": worker})).await;
    let pid = p["father"].as_str().unwrap().to_string();
    let fetch = p["sons"][0]["id"].as_str().unwrap().to_string();
    let load = p["sons"][1]["id"].as_str().unwrap().to_string();
    api.post(
        "/actualizar_task",
        json!({"task_id": fetch, "status": "start"}),
    )
    .await;

    let (_pw, browser) = launch().await;

    // Without JavaScript, the deep link to the process is complete on its own.
    let ctx = browser
        .new_context_with_options(
            BrowserContextOptions::builder()
                .javascript_enabled(false)
                .build(),
        )
        .await
        .unwrap();
    let page = ctx.new_page().await.unwrap();
    add_user(&app, "ana", Role::Admin).await;
    sign_in(&page, &base, "ana").await;
    page.goto(&format!("{base}/workers/{worker}/processes/{pid}"), None)
        .await
        .unwrap();
    let html = page.content().await.unwrap();
    for needle in [
        "etl-e2e",
        "ghost-pipeline",
        "in-process@",
        pid.as_str(),
        "fetch",
        "load",
    ] {
        assert!(html.contains(needle), "{needle} missing from the SSR page");
    }
    assert_eq!(
        page.locator("[data-testid=task-row][data-state=running]")
            .count()
            .await
            .unwrap(),
        1
    );
    // The filter is part of the link and needs no script either.
    page.goto(&format!("{base}/workers?q=ghost"), None)
        .await
        .unwrap();
    assert_eq!(
        page.locator("[data-testid=worker-row]")
            .count()
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        page.locator("#worker-filter")
            .input_value(None)
            .await
            .unwrap(),
        "ghost"
    );
    ctx.close().await.unwrap();

    // With JavaScript: select the worker, then its process.
    let ctx = browser.new_context().await.unwrap();
    let page = ctx.new_page().await.unwrap();
    let errors = Errors::watch(&page).await;
    sign_in(&page, &base, "ana").await;
    page.goto(&format!("{base}/workers"), None).await.unwrap();
    wait_live(&page).await;
    wait_true(
        &page,
        "document.querySelectorAll('[data-testid=worker-row]').length === 3",
        10,
    )
    .await;
    // Filter narrows the table.
    page.locator("#worker-filter")
        .fill("etl", None)
        .await
        .unwrap();
    wait_true(
        &page,
        "document.querySelectorAll('[data-testid=worker-row]').length === 1",
        10,
    )
    .await;
    page.locator(format!("[data-worker-id='{worker}'] a"))
        .click(None)
        .await
        .unwrap();
    wait_true(
        &page,
        &format!(
            "location.pathname === '/workers/{worker}' && location.search === '?q=etl' \
                  && document.querySelectorAll('[data-testid=worker-row]').length === 1 \
                  && !!document.querySelector(\"[data-process-id='{pid}']\")"
        ),
        15,
    )
    .await;
    page.locator(format!("[data-process-id='{pid}'] a"))
        .click(None)
        .await
        .unwrap();
    wait_true(
        &page,
        "document.querySelectorAll('[data-testid=task-row]').length === 2",
        15,
    )
    .await;
    assert!(
        page.url()
            .ends_with(&format!("/workers/{worker}/processes/{pid}?q=etl")),
        "the filter stays through the drill-down: {}",
        page.url()
    );
    wait_true(
        &page,
        "document.querySelector('[data-testid=task-row][data-state=running]') !== null",
        5,
    )
    .await;
    page.screenshot_to_file(&shot("workers-drilldown.png"), None)
        .await
        .unwrap();

    // Live: the pipeline moves on and fails; the page follows without a reload.
    api.post(
        "/actualizar_task",
        json!({"task_id": fetch, "status": "success"}),
    )
    .await;
    api.post(
        "/actualizar_task",
        json!({"task_id": load, "status": "start"}),
    )
    .await;
    api.post(
        "/actualizar_task",
        json!({"task_id": load, "status": "error", "details":
            "{\"task_name\": \"load\", \"error_message\": \"disk full while writing rows\", \"error_traceback\": [{\"file\": \"etl.py\", \"line\": 42, \"method\": \"load\"}]}"}),
    )
    .await;
    api.post("/endprocess", json!({"id": pid, "details": ""}))
        .await;
    wait_true(
        &page,
        "document.querySelector('[data-testid=task-row][data-state=error]') !== null \
         && document.body.innerText.includes('disk full while writing rows') \
         && document.querySelector(\"[data-process-id] [data-testid=process-status]\").innerText === 'error'",
        15,
    )
    .await;
    assert!(
        !page.content().await.unwrap().contains("\"error_message\":"),
        "details are shown readably, not as raw JSON"
    );
    page.screenshot_to_file(&shot("workers-process-error.png"), None)
        .await
        .unwrap();

    // The silent ghost turns dead; it can then be removed from its page.
    page.goto(&format!("{base}/workers/{ghost}"), None)
        .await
        .unwrap();
    wait_live(&page).await;
    // The badge turns dead by itself (the heartbeat age is counted on the server).
    for _ in 0..50 {
        page.reload(None).await.unwrap();
        if page
            .evaluate_value("!!document.querySelector('[data-testid=remove-worker]')")
            .await
            .map(|v| v == "true")
            .unwrap_or(false)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    wait_true(
        &page,
        "!!document.querySelector('[data-testid=remove-worker]')",
        10,
    )
    .await;
    // The button works once the page is hydrated (the live stream is up).
    wait_live(&page).await;
    page.locator("[data-testid=remove-worker]")
        .click(None)
        .await
        .unwrap();
    wait_true(
        &page,
        &format!("location.pathname === '/workers' && !document.querySelector(\"[data-worker-id='{ghost}']\") && document.querySelectorAll('[data-testid=worker-row]').length >= 2"),
        15,
    )
    .await;
    page.screenshot_to_file(&shot("workers-fleet.png"), None)
        .await
        .unwrap();
    errors.assert_none(&page).await;
    ctx.close().await.unwrap();
    browser.close().await.unwrap();
    app.stop().await;
}
