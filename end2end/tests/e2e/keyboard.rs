//! The outliner by keyboard alone, as the shortcut list promises: Enter adds a task below
//! and puts the cursor in it, Tab and Shift+Tab indent and outdent, Alt+↑/↓ move, Ctrl+Enter
//! ticks done, Ctrl+. zooms in and Esc out, `/` goes to the filter and `?` lists every key. After
//! each, the focus is on the task acted on, and the tree says what a screen reader needs.

use crate::common;

use app::accounts::model::Role;
use app::store::tree::NewTreeTask;
use common::{
    Errors, add_user, assert_accessible, launch, server_with, shot, sign_in, wait_live, wait_true,
};
use playwright_rs::protocol::Page;

fn new(id: &str, parent: Option<&str>, title: &str) -> NewTreeTask {
    NewTreeTask {
        id: id.into(),
        parent_id: parent.map(str::to_string),
        title: title.into(),
        ..Default::default()
    }
}

/// Polls `check` until it holds, for up to 5 s (the assertion after it says what failed).
async fn eventually<F, Fut>(check: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..50 {
        if check().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn press(page: &Page, key: &str) {
    page.keyboard().press(key, None).await.unwrap();
}

/// Waits until the focused element is the row of `id`.
async fn focused(page: &Page, id: &str, after: &str) {
    let expr = format!("document.activeElement?.dataset?.id === {id:?}");
    for _ in 0..100 {
        if page.evaluate_value(&expr).await.unwrap_or_default() == "true" {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let at = page
        .evaluate_value("document.activeElement?.outerHTML?.slice(0, 200) || 'nothing'")
        .await
        .unwrap_or_default();
    panic!("after {after} the focus is not on {id} but on {at}");
}

#[tokio::test]
async fn the_outliner_works_by_keyboard_alone() {
    let app = server_with(0, |_| {}).await;
    let base = format!("http://{}", app.addr);
    let store = app.state.store.clone();
    for (id, parent, title) in [
        ("trip", None, "Trip"),
        ("pack", Some("trip"), "Pack"),
        ("book", Some("trip"), "Book"),
    ] {
        store.tree_create(&new(id, parent, title), 1).await.unwrap();
    }
    add_user(&app, "ana", Role::Editor).await;
    let (_pw, browser) = launch().await;
    let ctx = browser.new_context().await.unwrap();
    let page = ctx.new_page().await.unwrap();
    let errors = Errors::watch(&page).await;
    sign_in(&page, &base, "ana").await;
    page.goto(&format!("{base}/tasks/trip"), None)
        .await
        .unwrap();
    wait_live(&page).await;
    let tree = "document.querySelector('[role=tree]')";
    wait_true(&page, &format!("!!{tree}"), 10).await;

    // Enter on "Book" adds a task below it, its title ready to be typed over.
    page.locator("[data-row][data-id=book]")
        .focus()
        .await
        .unwrap();
    press(&page, "Enter").await;
    wait_true(
        &page,
        "(() => { const i = document.querySelector('input[aria-label=Title]'); \
         return !!i && document.activeElement === i && i.selectionEnd === i.value.length; })()",
        10,
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    page.keyboard()
        .type_text("Buy tickets", None)
        .await
        .unwrap();
    press(&page, "Enter").await;
    let mut tickets = String::new();
    for _ in 0..50 {
        let (kids, _) = store.tree_children(Some("trip"), None, 10).await.unwrap();
        if let Some(t) = kids.iter().find(|t| t.title == "Buy tickets") {
            assert_eq!(
                kids.iter().map(|t| t.title.as_str()).collect::<Vec<_>>(),
                ["Pack", "Book", "Buy tickets"],
                "the new task is right below the one Enter was pressed on"
            );
            tickets = t.id.clone();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(!tickets.is_empty(), "Enter added a task");
    focused(&page, &tickets, "saving the new title").await;

    // Tab indents it under "Book"; Shift+Tab brings it back beside it.
    press(&page, "Tab").await;
    eventually(|| async {
        store
            .tree_task(&tickets)
            .await
            .unwrap()
            .parent_id
            .as_deref()
            == Some("book")
    })
    .await;
    assert_eq!(
        store
            .tree_task(&tickets)
            .await
            .unwrap()
            .parent_id
            .as_deref(),
        Some("book")
    );
    focused(&page, &tickets, "Tab").await;
    wait_true(
        &page,
        &format!(
            "document.querySelector('[data-row][data-id={tickets:?}]').closest('li').getAttribute('aria-level') === '2' \
             && document.querySelector('[data-row][data-id=book]').closest('li').getAttribute('aria-expanded') === 'true'"
        ),
        10,
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    press(&page, "Shift+Tab").await;
    eventually(|| async {
        store
            .tree_task(&tickets)
            .await
            .unwrap()
            .parent_id
            .as_deref()
            == Some("trip")
    })
    .await;
    assert_eq!(
        store
            .tree_task(&tickets)
            .await
            .unwrap()
            .parent_id
            .as_deref(),
        Some("trip")
    );
    focused(&page, &tickets, "Shift+Tab").await;

    // Alt+↑ moves it above "Book"; the focus goes with it.
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    press(&page, "Alt+ArrowUp").await;
    let order = || async {
        store
            .tree_children(Some("trip"), None, 10)
            .await
            .unwrap()
            .0
            .into_iter()
            .map(|t| t.title)
            .collect::<Vec<_>>()
    };
    eventually(|| async { order().await == ["Pack", "Buy tickets", "Book"] }).await;
    assert_eq!(order().await, ["Pack", "Buy tickets", "Book"]);
    focused(&page, &tickets, "Alt+ArrowUp").await;

    // Ctrl+Enter ticks it done, and again not done.
    press(&page, "Control+Enter").await;
    eventually(|| async { store.tree_task(&tickets).await.unwrap().status.as_str() == "done" })
        .await;
    assert_eq!(
        store.tree_task(&tickets).await.unwrap().status.as_str(),
        "done"
    );
    focused(&page, &tickets, "Ctrl+Enter").await;

    // `?` lists every key in a dialog that takes the focus; Esc closes it and gives the
    // focus back to the row.
    press(&page, "Shift+?").await;
    wait_true(
        &page,
        "!!document.querySelector('[role=dialog]') && document.activeElement?.textContent === 'Close'",
        10,
    )
    .await;
    for key in ["Tab", "Shift+Tab", "Ctrl+.", "Alt+↑ · Alt+↓", "F2"] {
        wait_true(
            &page,
            &format!("document.querySelector('[role=dialog]').innerText.includes({key:?})"),
            5,
        )
        .await;
    }
    page.screenshot_to_file(&shot("keyboard-shortcuts.png"), None)
        .await
        .unwrap();
    assert_accessible(&page, "the shortcut list", false).await;
    press(&page, "Escape").await;
    wait_true(&page, "!document.querySelector('[role=dialog]')", 10).await;
    focused(&page, &tickets, "closing the shortcut list").await;
    assert_eq!(
        page.evaluate_value("location.pathname").await.unwrap(),
        "/tasks/trip",
        "Esc in the dialog only closed it"
    );

    // `/` goes to the filter.
    press(&page, "/").await;
    wait_true(
        &page,
        "document.activeElement?.getAttribute('aria-label') === 'Filter tasks'",
        10,
    )
    .await;

    // Ctrl+. zooms into a task; Esc zooms back out to its parent, then to the forest.
    page.locator("[data-row][data-id=pack]")
        .focus()
        .await
        .unwrap();
    press(&page, "Control+.").await;
    wait_true(&page, "location.pathname === '/tasks/pack'", 10).await;
    wait_live(&page).await;
    wait_true(
        &page,
        "document.querySelector('h1')?.innerText === 'Pack'",
        10,
    )
    .await;
    press(&page, "Escape").await;
    wait_true(&page, "location.pathname === '/tasks/trip'", 10).await;
    wait_true(
        &page,
        "document.querySelector('h1')?.innerText === 'Trip'",
        10,
    )
    .await;
    press(&page, "Escape").await;
    wait_true(&page, "location.pathname === '/tasks'", 10).await;
    errors.assert_none(&page).await;
    browser.close().await.unwrap();
    app.stop().await;
}
