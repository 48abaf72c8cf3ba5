//! A task's fields in the browser: set from the outline by keyboard (F opens the editor,
//! focus lands in it and comes back to the row), shown as chips on the row and on the
//! board card (overdue in red, labels in their colours), a second tab seeing them live, and
//! a label recoloured from the palette.

use crate::common;

use app::accounts::model::Role;
use app::store::tree::NewTreeTask;
use common::{
    Errors, add_user, assert_accessible, launch, server_with, shot, sign_in, wait_live, wait_true,
};
use playwright_rs::protocol::SelectOption;

#[tokio::test]
async fn fields_are_set_by_keyboard_and_shown_on_rows_and_cards() {
    let app = server_with(0, |_| {}).await;
    let base = format!("http://{}", app.addr);
    app.state
        .store
        .tree_create(
            &NewTreeTask {
                id: "launch".into(),
                title: "Launch the site".into(),
                ..Default::default()
            },
            1,
        )
        .await
        .unwrap();
    add_user(&app, "ana", Role::Editor).await;
    add_user(&app, "bo", Role::Editor).await;
    let (_pw, browser) = launch().await;
    let ctx = browser.new_context().await.unwrap();
    let page = ctx.new_page().await.unwrap();
    let errors = Errors::watch(&page).await;
    sign_in(&page, &base, "ana").await;
    page.goto(&format!("{base}/tasks"), None).await.unwrap();
    wait_live(&page).await;
    let other = ctx.new_page().await.unwrap();
    other.goto(&format!("{base}/tasks"), None).await.unwrap();
    wait_live(&other).await;

    // F on a focused row opens the editor with the focus in its first field.
    page.locator("[data-row][data-id=launch]")
        .focus()
        .await
        .unwrap();
    page.keyboard().press("f", None).await.unwrap();
    wait_true(&page, "document.activeElement?.id === 'due-launch'", 10).await;
    page.locator("#due-launch")
        .fill("2020-01-31", None)
        .await
        .unwrap();
    // The people come from the server once the page runs.
    wait_true(
        &page,
        "!!document.querySelector('#assignee-launch option[value=bo]')",
        10,
    )
    .await;
    page.locator("#assignee-launch")
        .select_option(SelectOption::Value("bo".into()), None)
        .await
        .unwrap();
    page.locator("#labels-launch")
        .fill("infra web infra", None)
        .await
        .unwrap();
    page.locator("#priority-launch")
        .select_option(SelectOption::Value("urgent".into()), None)
        .await
        .unwrap();
    page.screenshot_to_file(&shot("fields-editor.png"), None)
        .await
        .unwrap();
    assert_accessible(&page, "the fields editor", true).await;
    page.locator("#labels-launch")
        .press("Enter", None)
        .await
        .unwrap();
    // Saved: the editor closes, the focus is back on the row, the chips show.
    wait_true(
        &page,
        "!document.querySelector('#due-launch') && document.activeElement?.dataset?.id === 'launch'",
        10,
    )
    .await;
    let row = "document.querySelector('[data-row][data-id=launch]').parentElement";
    for chip in ["Overdue · 2020-01-31", "@bo", "Urgent", "infra", "web"] {
        wait_true(&page, &format!("{row}.innerText.includes({chip:?})"), 10).await;
    }
    let task = app.state.store.tree_task("launch").await.unwrap();
    assert_eq!(
        (
            task.due.as_deref(),
            task.assignee.as_deref(),
            task.labels.clone()
        ),
        (
            Some("2020-01-31"),
            Some("bo"),
            vec!["infra".to_string(), "web".to_string()]
        )
    );
    assert_eq!(task.priority.as_str(), "urgent");
    // The other tab sees them without a reload.
    wait_true(
        &other,
        "document.body.innerText.includes('@bo') && document.body.innerText.includes('Overdue')",
        15,
    )
    .await;
    page.screenshot_to_file(&shot("fields-outline.png"), None)
        .await
        .unwrap();
    assert_accessible(&page, "the outline with fields", false).await;
    assert_accessible(&page, "the outline with fields", true).await;

    // Esc closes the editor unsaved.
    page.keyboard().press("f", None).await.unwrap();
    wait_true(&page, "document.activeElement?.id === 'due-launch'", 10).await;
    page.locator("#labels-launch")
        .fill("discarded", None)
        .await
        .unwrap();
    page.keyboard().press("Escape", None).await.unwrap();
    wait_true(&page, "!document.querySelector('#due-launch')", 10).await;
    assert_eq!(
        app.state.store.tree_task("launch").await.unwrap().labels,
        ["infra", "web"]
    );

    // An editor recolours a label from the palette: the chips take it and the focus stays.
    page.locator("summary:text-is('Label colours')")
        .click(None)
        .await
        .unwrap();
    page.locator("fieldset:has(legend:text-is('Colour of infra')) label:has(span:text-is('teal'))")
        .click(None)
        .await
        .unwrap();
    wait_true(
        &page,
        "getComputedStyle(document.querySelector('[data-row][data-id=launch]').parentElement\
         .querySelector('[data-label=infra]')).backgroundColor === 'rgb(15, 118, 110)'",
        10,
    )
    .await;
    wait_true(
        &page,
        "document.activeElement?.type === 'radio' && document.activeElement.value === '#0f766e'",
        10,
    )
    .await;
    page.screenshot_to_file(&shot("label-colours.png"), None)
        .await
        .unwrap();
    assert_accessible(&page, "the label colours", true).await;
    assert_eq!(
        app.state
            .store
            .tree_labels()
            .await
            .unwrap()
            .into_iter()
            .find(|l| l.name == "infra")
            .map(|l| l.color),
        Some("#0f766e".to_string())
    );

    // The board card carries the same chips, and its own editor.
    page.goto(&format!("{base}/tasks?view=board"), None)
        .await
        .unwrap();
    wait_live(&page).await;
    let card = "document.querySelector('[data-card=launch]')";
    wait_true(
        &page,
        &format!("{card}.innerText.includes('@bo') && {card}.innerText.includes('infra')"),
        10,
    )
    .await;
    page.locator("button:has-text('Fields')")
        .first()
        .click(None)
        .await
        .unwrap();
    page.locator("#priority-launch")
        .select_option(SelectOption::Value("low".into()), None)
        .await
        .unwrap();
    page.locator("form[aria-label='Fields of Launch the site'] button[type=submit]")
        .click(None)
        .await
        .unwrap();
    wait_true(&page, &format!("{card}.innerText.includes('Low')"), 10).await;
    page.screenshot_to_file(&shot("fields-board.png"), None)
        .await
        .unwrap();
    assert_accessible(&page, "the board with fields", true).await;
    errors.assert_none(&page).await;
    browser.close().await.unwrap();
    app.stop().await;
}
