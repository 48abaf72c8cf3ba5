//! A workflow run in a real browser: the chord example runs on the examples' handlers while
//! its graph fills in live; a step's panel shows its output and log; "Run again with changes"
//! checks an edited definition as it is typed and starts a new run that shows what changed.
//! The page passes axe-core in both themes.

use crate::common;

use app::accounts::model::Role;
use common::{
    Errors, TOKEN, add_user, assert_accessible, finished, get_job, launch, root, server_with, shot,
    sign_in, wait_live, wait_true,
};
use serde_json::Value;

/// The examples' handlers, run from the repository's root.
fn handlers_file() -> std::path::PathBuf {
    let root = root().canonicalize().unwrap();
    let text = std::fs::read_to_string(root.join("examples/handlers.toml")).unwrap();
    let mut out = String::new();
    for line in text.lines() {
        out.push_str(line);
        out.push('\n');
        if line.starts_with("name = ") {
            out.push_str(&format!("cwd = {:?}\n", root.display().to_string()));
        }
    }
    let path =
        std::env::temp_dir().join(format!("orchard-e2e-handlers-{}.toml", std::process::id()));
    std::fs::write(&path, out).unwrap();
    path
}

#[tokio::test]
async fn a_chord_runs_live_and_runs_again_with_changes() {
    let handlers = handlers_file();
    let app = server_with(2, |s| {
        s.api_token = Some(TOKEN.into());
        s.handlers = Some(handlers);
        // Steps run under the supervisor of the `orchard` binary the site was built with.
        s.supervisor = Some(root().join("target/debug/orchard"));
    })
    .await;
    let base = format!("http://{}", app.addr);
    let (_pw, browser) = launch().await;
    let ctx = browser.new_context().await.unwrap();
    let page = ctx.new_page().await.unwrap();
    let errors = Errors::watch(&page).await;
    add_user(&app, "ana", Role::Admin).await;
    sign_in(&page, &base, "ana").await;

    let chord = std::fs::read_to_string(root().join("examples/chord.json")).unwrap();
    let job: Value = reqwest::Client::new()
        .post(format!("{base}/api/v1/jobs"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(chord)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = job["id"].as_str().unwrap().to_string();
    page.goto(&format!("{base}/jobs/{id}"), None).await.unwrap();
    wait_live(&page).await;
    // The graph: four steps, the sum after the three additions, all green in the end.
    wait_true(
        &page,
        "document.querySelectorAll('[data-testid=run-graph] a[data-step]').length === 4",
        30,
    )
    .await;
    let done = finished(&base, &id).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    wait_true(
        &page,
        "[...document.querySelectorAll('[data-testid=run-graph] a[data-step]')].every(a => a.dataset.state === 'succeeded')",
        30,
    )
    .await;
    page.locator("[data-testid=run-graph] a[data-step=total]")
        .click(None)
        .await
        .unwrap();
    wait_true(
        &page,
        "!!document.querySelector('[data-testid=step-output]') && document.querySelector('[data-testid=step-output]').innerText.trim() === '12'",
        30,
    )
    .await;
    wait_true(
        &page,
        "document.querySelector('[data-testid=step-log]').innerText.includes('summing 3 numbers')",
        30,
    )
    .await;
    page.screenshot_to_file(&shot("run.png"), None)
        .await
        .unwrap();
    assert_accessible(&page, "a run's page", false).await;
    assert_accessible(&page, "a run's page", true).await;
    page.screenshot_to_file(&shot("run-dark.png"), None)
        .await
        .unwrap();

    // Run again with changes: a broken definition is named as it is typed; a fixed one runs.
    page.locator("[data-testid=replay] summary")
        .click(None)
        .await
        .unwrap();
    let editor = page.locator("#replay-definition");
    let original = editor.input_value(None).await.unwrap();
    editor
        .fill(
            &original.replace("\"total\"", "\"total\", \"after\": [\"nope\"]"),
            None,
        )
        .await
        .unwrap();
    wait_true(
        &page,
        "document.querySelector('[data-testid=replay-verdict]').innerText.includes('\"nope\", which is not a step')",
        10,
    )
    .await;
    let edited = original.replacen("\"x\": 1", "\"x\": 10", 1);
    assert_ne!(edited, original, "the definition shows step a's input");
    editor.fill(&edited, None).await.unwrap();
    wait_true(
        &page,
        "document.querySelector('[data-testid=replay-verdict]').innerText.includes('4 steps, valid')",
        10,
    )
    .await;
    page.get_by_text("Start the new run", false)
        .click(None)
        .await
        .unwrap();
    wait_true(
        &page,
        &format!("location.pathname.startsWith('/jobs/') && location.pathname !== '/jobs/{id}'"),
        30,
    )
    .await;
    wait_true(
        &page,
        "!!document.querySelector('[data-testid=replay-diff]') && document.querySelector('[data-testid=replay-diff]').innerText.includes('a: input')",
        30,
    )
    .await;
    wait_true(
        &page,
        "[...document.querySelectorAll('[data-testid=run-graph] a[data-step]')].every(a => a.dataset.state === 'succeeded')",
        60,
    )
    .await;
    let new_id = page
        .evaluate_value("location.pathname.split('/').pop()")
        .await
        .unwrap();
    let again = get_job(&base, &new_id).await;
    assert_eq!(again["replayed_from"], id.as_str(), "{again}");
    assert_eq!(again["result"], 21, "{again}");
    page.screenshot_to_file(&shot("run-replayed.png"), None)
        .await
        .unwrap();
    errors.assert_none(&page).await;
    ctx.close().await.unwrap();
    browser.close().await.unwrap();
    app.stop().await;
}
