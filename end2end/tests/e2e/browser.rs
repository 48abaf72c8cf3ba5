//! What a person does, in a real browser: Debian's Chromium driven by Playwright against a
//! real Orchard server on port 0. Screenshots land in `target/screenshots/`.

use crate::common;

use app::accounts::model::Role;
use common::{
    Errors, add_user, assert_accessible, launch, server_with, shot, sign_in, wait_live, wait_true,
};
use orchard_server::serve::Running;
use playwright_rs::protocol::BrowserContextOptions;

async fn server(workers: usize) -> Running {
    server_with(workers, |_| {}).await
}

#[tokio::test]
async fn pages_work_with_and_without_javascript() {
    let app = server(2).await;
    let base = format!("http://{}", app.addr);
    let (_pw, browser) = launch().await;

    // (a) No JavaScript: the server-rendered overview is all there.
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
    page.goto(&base, None).await.unwrap();
    assert!(page.title().await.unwrap().contains("Orchard"));
    let running = page
        .get_by_test_id("jobs-running")
        .text_content()
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(running.contains("Jobs running"), "{running}");
    assert_eq!(
        page.locator("nav[aria-label=Main] a")
            .count()
            .await
            .unwrap(),
        4
    );
    page.goto(&format!("{base}/jobs"), None).await.unwrap();
    assert!(
        page.content()
            .await
            .unwrap()
            .contains("New file-average job")
    );
    page.screenshot_to_file(&shot("jobs-no-js.png"), None)
        .await
        .unwrap();
    ctx.close().await.unwrap();

    // (b) Hydrated: the live stream connects and the dark-mode toggle works and persists.
    let ctx = browser.new_context().await.unwrap();
    let page = ctx.new_page().await.unwrap();
    let errors = Errors::watch(&page).await;
    page.goto(&format!("{base}/login"), None).await.unwrap();
    page.screenshot_to_file(&shot("login.png"), None)
        .await
        .unwrap();
    sign_in(&page, &base, "ana").await;
    page.goto(&base, None).await.unwrap();
    wait_live(&page).await;
    wait_true(
        &page,
        "!document.documentElement.classList.contains('dark')",
        5,
    )
    .await;
    page.locator("#theme-toggle").click(None).await.unwrap();
    wait_true(
        &page,
        "document.documentElement.classList.contains('dark')",
        5,
    )
    .await;
    page.screenshot_to_file(&shot("overview-dark.png"), None)
        .await
        .unwrap();
    page.reload(None).await.unwrap();
    wait_true(
        &page,
        "document.documentElement.classList.contains('dark')",
        5,
    )
    .await;
    // The toggle works once the page is hydrated (the live stream is up).
    wait_live(&page).await;
    page.locator("#theme-toggle").click(None).await.unwrap();
    wait_true(
        &page,
        "localStorage.getItem('orchard-theme') === 'light'",
        5,
    )
    .await;

    // A job started from the form appears and finishes live, without a reload.
    page.goto(&format!("{base}/jobs"), None).await.unwrap();
    wait_live(&page).await;
    page.locator("input[name=files]")
        .fill("20", None)
        .await
        .unwrap();
    page.locator("input[name=entries]")
        .fill("200", None)
        .await
        .unwrap();
    page.locator("form[aria-label='New file-average job'] button[type=submit]")
        .click(None)
        .await
        .unwrap();
    wait_true(
        &page,
        "document.querySelectorAll('[data-testid=job-row]').length === 1",
        30,
    )
    .await;
    wait_true(
        &page,
        "document.querySelector('[data-testid=job-state]').innerText === 'succeeded'",
        60,
    )
    .await;
    page.screenshot_to_file(&shot("jobs.png"), None)
        .await
        .unwrap();
    for dark in [false, true] {
        assert_accessible(&page, "the jobs page", dark).await;
    }
    page.locator("[data-testid=job-row] a")
        .click(None)
        .await
        .unwrap();
    wait_true(
        &page,
        "!!document.querySelector('[data-testid=job-average]')",
        30,
    )
    .await;
    page.get_by_text("Verify (one pass)", false)
        .click(None)
        .await
        .unwrap();
    wait_true(&page, "!!document.querySelector('[data-testid=verify-result]') && document.querySelector('[data-testid=verify-result]').innerText.includes('Matches')", 30).await;
    page.screenshot_to_file(&shot("job.png"), None)
        .await
        .unwrap();
    for dark in [false, true] {
        assert_accessible(&page, "a job's page", dark).await;
    }

    page.goto(&format!("{base}/workers"), None).await.unwrap();
    wait_true(
        &page,
        "document.querySelectorAll('[data-testid=worker-row]').length >= 1",
        30,
    )
    .await;
    page.screenshot_to_file(&shot("workers.png"), None)
        .await
        .unwrap();
    for dark in [false, true] {
        assert_accessible(&page, "the workers page", dark).await;
    }
    page.goto(&base, None).await.unwrap();
    wait_live(&page).await;
    for dark in [false, true] {
        assert_accessible(&page, "the overview", dark).await;
    }
    errors.assert_none(&page).await;
    ctx.close().await.unwrap();
    browser.close().await.unwrap();
    app.stop().await;
}

/// A viewer reads everything but gets no edit controls, and the server refuses a change
/// even when the request is made by hand from their page.
#[tokio::test]
async fn a_viewer_sees_no_edit_controls_and_is_refused() {
    let app = server(0).await;
    let base = format!("http://{}", app.addr);
    add_user(&app, "vic", Role::Viewer).await;
    let (_pw, browser) = launch().await;
    let ctx = browser.new_context().await.unwrap();
    let page = ctx.new_page().await.unwrap();
    sign_in(&page, &base, "vic").await;
    wait_live(&page).await;
    wait_true(
        &page,
        "document.querySelector('[data-testid=me]').innerText.includes('viewer')",
        10,
    )
    .await;
    assert!(
        !page
            .content()
            .await
            .unwrap()
            .contains("New file-average job")
    );
    // The outline's key hint lists only what a viewer may do.
    page.goto(&format!("{base}/tasks"), None).await.unwrap();
    wait_true(&page, "document.body.innerText.includes('Keys:')", 10).await;
    assert_eq!(
        page.evaluate_value("document.body.innerText.includes('F2 rename')")
            .await
            .unwrap(),
        "false"
    );
    page.goto(&format!("{base}/jobs"), None).await.unwrap();
    assert_eq!(
        page.locator("a[href='/admin/users']")
            .count()
            .await
            .unwrap(),
        0
    );
    let status = page
        .evaluate_value(
            "fetch('/api/v1/jobs', {method: 'POST', headers: {'content-type': 'application/json'}, \
             body: JSON.stringify({kind: 'noop', params: {tasks: 1, workers: 1}})}).then(r => r.status)",
        )
        .await
        .unwrap();
    assert_eq!(status, "403");
    page.goto(&format!("{base}/admin/users"), None)
        .await
        .unwrap();
    wait_true(&page, "document.body.innerText.includes('admin role')", 10).await;
    page.screenshot_to_file(&shot("viewer-forbidden.png"), None)
        .await
        .unwrap();
    ctx.close().await.unwrap();
    browser.close().await.unwrap();
    app.stop().await;
}

/// At 390 px no page scrolls sideways, and a used setup link offers sign-in instead of a
/// form that can only fail.
#[tokio::test]
async fn narrow_screens_fit_and_used_setup_links_say_sign_in() {
    let app = server_with(0, |_| {}).await;
    let base = format!("http://{}", app.addr);
    add_user(&app, "ada", Role::Admin).await;
    app.state
        .store
        .tree_create(
            &app::store::tree::NewTreeTask {
                id: "long".into(),
                title: "Pick a venue that has room for forty people and a garden".into(),
                ..Default::default()
            },
            1,
        )
        .await
        .unwrap();
    let (_pw, browser) = launch().await;
    let ctx = browser.new_context().await.unwrap();
    let page = ctx.new_page().await.unwrap();
    let errors = Errors::watch(&page).await;
    page.set_viewport_size(playwright_rs::protocol::Viewport {
        width: 390,
        height: 844,
    })
    .await
    .unwrap();
    sign_in(&page, &base, "ada").await;
    for path in [
        "/",
        "/tasks",
        "/tasks?view=board",
        "/jobs",
        "/workers",
        "/admin/users",
        "/admin/tokens",
        "/admin/audit",
    ] {
        page.goto(&format!("{base}{path}"), None).await.unwrap();
        wait_live(&page).await;
        let width = page
            .evaluate_value("document.documentElement.scrollWidth")
            .await
            .unwrap();
        assert_eq!(width, "390", "{path} scrolls sideways");
    }
    errors.assert_none(&page).await;
    ctx.close().await.unwrap();

    let ctx = browser.new_context().await.unwrap();
    let page = ctx.new_page().await.unwrap();
    page.goto(&format!("{base}/setup/used-or-not"), None)
        .await
        .unwrap();
    wait_true(
        &page,
        "document.body.innerText.includes('Orchard is already set up')",
        10,
    )
    .await;
    assert_eq!(
        page.evaluate_value(
            "document.querySelector('form[aria-label=\"Create the first admin\"]').offsetParent === null"
        )
        .await
        .unwrap(),
        "true",
        "the form is not offered"
    );
    ctx.close().await.unwrap();
    browser.close().await.unwrap();
    app.stop().await;
}
