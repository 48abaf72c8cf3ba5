//! A page of a build the server no longer holds (as during a rolling upgrade, when a newer
//! replica answers): the chunk it asks for is not found, and the page reloads itself once
//! onto the build that answered, instead of running half a client.

use crate::common;

use app::accounts::model::Role;
use common::{add_user, launch, server_with, sign_in, wait_true};

/// Copies the built site (files only; the folder is flat but for `pkg/`).
fn copy_site(to: &std::path::Path) {
    let from = common::root().join("target/site");
    for dir in ["", "pkg"] {
        std::fs::create_dir_all(to.join(dir)).unwrap();
        for e in std::fs::read_dir(from.join(dir)).unwrap().flatten() {
            if e.file_type().unwrap().is_file() {
                std::fs::copy(e.path(), to.join(dir).join(e.file_name())).unwrap();
            }
        }
    }
}

#[tokio::test]
async fn a_page_whose_chunk_is_gone_reloads_once_onto_the_served_build() {
    let site = std::env::temp_dir().join(format!("orchard-e2e-site-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&site);
    copy_site(&site);
    let app = server_with(0, |s| s.site_root = Some(site.display().to_string())).await;
    let base = format!("http://{}", app.addr);
    add_user(&app, "ada", Role::Admin).await;
    let (_pw, browser) = launch().await;
    let ctx = browser.new_context().await.unwrap();
    let page = ctx.new_page().await.unwrap();
    sign_in(&page, &base, "ada").await;
    wait_true(
        &page,
        "!!document.querySelector('a[href=\"/workers\"]')",
        30,
    )
    .await;

    // The fleet page's own chunk disappears, as it would from a replica of another build.
    let mut removed = 0;
    for e in std::fs::read_dir(site.join("pkg")).unwrap().flatten() {
        if e.file_name()
            .to_string_lossy()
            .starts_with("split___workers_view")
        {
            std::fs::remove_file(e.path()).unwrap();
            removed += 1;
        }
    }
    assert!(
        removed > 0,
        "the split build has a chunk for the fleet page"
    );

    page.evaluate_value("window.__sameDocument = true")
        .await
        .unwrap();
    page.locator("a[href=\"/workers\"]")
        .first()
        .click(None)
        .await
        .unwrap();
    // A new document (the reload), on the page asked for, rendered by the server.
    wait_true(
        &page,
        "location.pathname === '/workers' && window.__sameDocument === undefined \
         && document.readyState === 'complete' && !!document.querySelector('h1')",
        30,
    )
    .await;
    wait_true(
        &page,
        "!!sessionStorage.getItem('orchard-reloaded:/workers')",
        5,
    )
    .await;
    // The reloaded page meets the same missing chunk; it does not reload again.
    page.evaluate_value("window.__reloaded = true")
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let still = page
        .evaluate_value("window.__reloaded === true")
        .await
        .unwrap();
    assert_eq!(still, "true", "the page reloaded more than once");
    browser.close().await.unwrap();
    app.stop().await;
    let _ = std::fs::remove_dir_all(&site);
}
