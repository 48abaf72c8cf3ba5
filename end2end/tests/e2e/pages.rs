//! Every page of the router, as a person opens it: each hydrates from its own chunk of the
//! split client, reports no console error or WASM panic, and passes axe's WCAG 2 A/AA
//! checks in both themes, on a desktop screen and at 390 px.

use crate::common;

use app::accounts::model::Role;
use common::{
    Errors, TOKEN, accessibility_violations, add_user, launch, server_with, sign_in, wait_true,
};
use playwright_rs::protocol::{Page, Viewport};
use serde_json::{Value, json};

/// True once the page has hydrated: its theme switch answers a click (it is put back).
const HYDRATED: &str = "(() => { const b = document.getElementById('theme-toggle'); \
    if (!b) return false; const d = document.documentElement.classList.contains('dark'); \
    b.click(); const a = document.documentElement.classList.contains('dark'); \
    if (a !== d) b.click(); return a !== d; })()";

/// True once the page's own chunk (a `split_…` module) has been fetched.
const CHUNK_LOADED: &str = "performance.getEntriesByType('resource')\
    .some(e => e.name.includes('/pkg/split_'))";

const SCREENS: [(u32, u32); 2] = [(1280, 800), (390, 844)];

/// Opens `path` at each screen size and checks it in both themes; what axe found goes to
/// `failures`, so one run names every page at fault.
async fn check(page: &Page, base: &str, path: &str, failures: &mut Vec<String>) {
    for (width, height) in SCREENS {
        page.set_viewport_size(Viewport { width, height })
            .await
            .unwrap();
        page.goto(&format!("{base}{path}"), None).await.unwrap();
        wait_true(page, HYDRATED, 30).await;
        wait_true(page, CHUNK_LOADED, 5).await;
        for dark in [false, true] {
            let found = accessibility_violations(page, dark).await;
            if found != "[]" {
                let theme = if dark { "dark" } else { "light" };
                failures.push(format!("{path} at {width} px, {theme}: {found}"));
            }
        }
    }
}

#[tokio::test]
async fn every_page_hydrates_from_its_chunk_without_errors_and_passes_axe() {
    let app = server_with(1, |s| s.api_token = Some(TOKEN.into())).await;
    let base = format!("http://{}", app.addr);
    add_user(&app, "ada", Role::Admin).await;
    let http = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        http.post(format!("{base}{path}"))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
    };
    let task: Value = post(
        "/api/v1/tasks",
        json!({"parent_id": null, "title": "Plan the launch"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    // Every kind of chip on the outline, the board and the zoomed task.
    let fields = http
        .patch(format!(
            "{base}/api/v1/tasks/{}",
            task["id"].as_str().unwrap()
        ))
        .bearer_auth(TOKEN)
        .json(
            &json!({"due": "2020-01-31", "assignee": "ada", "priority": "urgent",
                      "labels": ["infra", "web", "q3", "later", "ops", "design"]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(fields.status(), 200);
    let job: Value = post(
        "/api/v1/jobs",
        json!({"kind": "file_average", "params": {"files": 4, "entries": 10, "workers": 1, "seed": 1}}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let job_id = job["id"].as_str().unwrap().to_string();
    let detail = common::finished(&base, &job_id).await;
    assert_eq!(detail["state"], "succeeded", "{detail}");
    // A worker's processes are the jobs it took part in.
    let worker = detail["contributions"][0]["worker_id"]
        .as_str()
        .unwrap()
        .to_string();
    let process = app.state.fleet.worker_processes(&worker, 1).await.unwrap()[0]
        .id
        .clone();

    let (_pw, browser) = launch().await;
    let ctx = browser.new_context().await.unwrap();
    let page = ctx.new_page().await.unwrap();
    let errors = Errors::watch(&page).await;
    sign_in(&page, &base, "ada").await;
    let mut failures = Vec::new();
    let task_id = task["id"].as_str().unwrap();
    for path in [
        "/".to_string(),
        "/tasks".into(),
        "/tasks?view=board".into(),
        format!("/tasks/{task_id}"),
        "/workers".into(),
        format!("/workers/{worker}"),
        format!("/workers/{worker}/processes/{process}"),
        "/jobs".into(),
        format!("/jobs/{job_id}"),
        "/admin/users".into(),
        "/admin/audit".into(),
        "/admin/tokens".into(),
    ] {
        check(&page, &base, &path, &mut failures).await;
    }
    errors.assert_none(&page).await;
    ctx.close().await.unwrap();

    // The pages of someone not signed in.
    let ctx = browser.new_context().await.unwrap();
    let page = ctx.new_page().await.unwrap();
    let errors = Errors::watch(&page).await;
    for path in ["/login", "/setup/not-a-real-token"] {
        check(&page, &base, path, &mut failures).await;
    }
    errors.assert_none(&page).await;
    ctx.close().await.unwrap();
    browser.close().await.unwrap();
    app.stop().await;
    assert!(
        failures.is_empty(),
        "WCAG 2 A/AA violations:\n{}",
        failures.join("\n")
    );
}
