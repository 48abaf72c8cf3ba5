//! The filter in the browser, as a newcomer uses it: `/` reaches the field, a typed filter
//! lands in the URL and shows the count and each match's path, chips add and remove terms,
//! a mistake is named, a saved view comes back after clearing and a reload, and the board
//! shows a filter's matches in its columns — accessible in light and dark, with no error.

use crate::common;

use app::accounts::model::Role;
use app::store::tree::{NewTreeTask, TreePatch};
use app::tasks::model::Status;
use common::{
    Errors, add_user, assert_accessible, launch, server_with, shot, sign_in, wait_live, wait_true,
};

/// A task to seed: id, parent, title, labels, status, assignee.
type Seed<'a> = (
    &'a str,
    Option<&'a str>,
    &'a str,
    &'a [&'a str],
    Option<Status>,
    Option<&'a str>,
);

#[tokio::test]
async fn filters_chips_and_saved_views() {
    let app = server_with(0, |_| {}).await;
    let base = format!("http://{}", app.addr);
    add_user(&app, "ana", Role::Editor).await;
    let tree = &app.state.store;
    let tasks: [Seed; 5] = [
        ("site", None, "Website", &[], None, None),
        (
            "login",
            Some("site"),
            "Fix the login bug",
            &["infra"],
            Some(Status::Doing),
            Some("ana"),
        ),
        (
            "copy",
            Some("site"),
            "Write the copy",
            &["content"],
            None,
            None,
        ),
        (
            "deploy",
            Some("site"),
            "Deploy the infra",
            &["infra"],
            None,
            None,
        ),
        (
            "later",
            Some("site"),
            "Someday maybe",
            &["later"],
            None,
            None,
        ),
    ];
    for (id, parent, title, labels, status, assignee) in tasks {
        tree.tree_create(
            &NewTreeTask {
                id: id.into(),
                parent_id: parent.map(str::to_string),
                title: title.into(),
                ..Default::default()
            },
            1,
        )
        .await
        .unwrap();
        let patch = TreePatch {
            labels: Some(labels.iter().map(|l| l.to_string()).collect()),
            status,
            assignee: Some(assignee.map(str::to_string)),
            ..Default::default()
        };
        tree.tree_update(id, &patch, 2).await.unwrap();
    }
    let (_pw, browser) = launch().await;
    let ctx = browser.new_context().await.unwrap();
    let page = ctx.new_page().await.unwrap();
    let errors = Errors::watch(&page).await;
    sign_in(&page, &base, "ana").await;
    page.goto(&format!("{base}/tasks"), None).await.unwrap();
    wait_live(&page).await;

    // `/` reaches the field; a typed filter goes into the URL and shows its matches.
    page.keyboard().press("/", None).await.unwrap();
    wait_true(
        &page,
        "document.activeElement?.getAttribute('aria-label') === 'Filter tasks'",
        10,
    )
    .await;
    page.keyboard()
        .type_text("label:infra", None)
        .await
        .unwrap();
    wait_true(&page, "location.search === '?q=label%3Ainfra'", 10).await;
    wait_true(
        &page,
        "document.querySelector('[data-total]')?.textContent === '2 tasks match'",
        10,
    )
    .await;
    wait_true(
        &page,
        "[...document.querySelectorAll('[data-hit]')].every(h => h.textContent.includes('Website'))",
        10,
    )
    .await;

    // Chips add terms and show which are on.
    page.locator("button[aria-pressed]:text-is('In Progress')")
        .click(None)
        .await
        .unwrap();
    wait_true(
        &page,
        "document.querySelector('input[aria-label=\"Filter tasks\"]').value === 'label:infra status:doing'",
        10,
    )
    .await;
    wait_true(
        &page,
        "document.querySelector('[data-total]')?.textContent === '1 task matches' \
         && !!document.querySelector('[data-hit=login]')",
        10,
    )
    .await;
    page.locator("button[aria-pressed=false]:text-is('Assigned to me')")
        .click(None)
        .await
        .unwrap();
    wait_true(
        &page,
        "new URLSearchParams(location.search).get('q') === 'label:infra status:doing assignee:me'",
        10,
    )
    .await;
    wait_true(&page, "!!document.querySelector('[data-hit=login]')", 10).await;
    page.screenshot_to_file(&shot("filters.png"), None)
        .await
        .unwrap();
    assert_accessible(&page, "the filtered tasks", false).await;
    assert_accessible(&page, "the filtered tasks", true).await;

    // Saved as a view, it comes back after clearing the filter and reloading.
    page.locator("button:text-is('Save view…')")
        .click(None)
        .await
        .unwrap();
    wait_true(
        &page,
        "document.activeElement?.getAttribute('aria-label') === 'View name'",
        10,
    )
    .await;
    page.keyboard().type_text("My infra", None).await.unwrap();
    page.keyboard().press("Enter", None).await.unwrap();
    wait_true(
        &page,
        "!!document.querySelector('a[aria-current=true]')",
        10,
    )
    .await;
    page.locator("button:text-is('Clear')")
        .click(None)
        .await
        .unwrap();
    wait_true(
        &page,
        "location.search === '' && !!document.querySelector('[role=tree]')",
        10,
    )
    .await;
    page.reload(None).await.unwrap();
    wait_live(&page).await;
    page.locator("a:text-is('My infra')")
        .click(None)
        .await
        .unwrap();
    wait_true(
        &page,
        "document.querySelector('[data-total]')?.textContent === '1 task matches'",
        10,
    )
    .await;

    // The board shows the matches in their columns, and the URL keeps both.
    page.locator("[role=tab]:text-is('Board')")
        .click(None)
        .await
        .unwrap();
    wait_true(
        &page,
        "new URLSearchParams(location.search).get('view') === 'board' \
         && !!document.querySelector('section[aria-label=\"In Progress\"] [data-card=login]')",
        10,
    )
    .await;
    page.screenshot_to_file(&shot("filters-board.png"), None)
        .await
        .unwrap();
    assert_accessible(&page, "the filtered board", true).await;

    // On a phone the field, the chips and the columns stack and stay usable.
    page.set_viewport_size(playwright_rs::protocol::Viewport {
        width: 390,
        height: 844,
    })
    .await
    .unwrap();
    wait_true(
        &page,
        "document.documentElement.scrollWidth <= window.innerWidth",
        10,
    )
    .await;
    page.screenshot_to_file(&shot("filters-narrow.png"), None)
        .await
        .unwrap();
    assert_accessible(&page, "the filtered board on a phone", false).await;

    // A mistake is named, with where it is.
    page.locator("input[aria-label='Filter tasks']")
        .fill("status:late", None)
        .await
        .unwrap();
    wait_true(
        &page,
        "document.querySelector('#filter-help[role=alert]')?.textContent.includes('no status')",
        10,
    )
    .await;
    errors.assert_none(&page).await;
    ctx.close().await.unwrap();
    browser.close().await.unwrap();
    app.stop().await;
}
