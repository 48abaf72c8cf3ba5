//! Tree files in OPML and Markdown on both databases: an outliner's OPML and a Markdown
//! checklist import with their nesting, notes and done boxes; Orchard's OPML export keeps
//! every field (export → import elsewhere → JSON export gives the same bytes); Markdown
//! round-trips what it can say; bad files fail the job with the byte and the path and
//! change nothing; a body of the wrong kind or an unknown format is a 400.

use crate::access::add_user;
use crate::common::{Db, TestApp, both, spawn_app};
use crate::tree::{export, import_file, send};
use app::accounts::model::Role;
use serde_json::{Value, json};

both!(
    outlines_and_checklists_import_with_their_shape,
    opml_keeps_every_field_and_markdown_what_it_can_say,
    bad_outlines_fail_where_they_break_and_change_nothing
);

async fn import_as(app: &TestApp, format: &str, query: &str, body: &str) -> Value {
    let sep = if query.is_empty() { "?" } else { "&" };
    import_file(
        app,
        &format!("{query}{sep}format={format}"),
        body.as_bytes().to_vec(),
    )
    .await
}

async fn children(app: &TestApp, parent: Option<&str>) -> Vec<Value> {
    let q = parent.map(|p| format!("?parent={p}")).unwrap_or_default();
    let (s, page) = app.get_json(&format!("/api/v1/tasks{q}")).await;
    assert_eq!(s, 200, "{page}");
    page["items"].as_array().unwrap().clone()
}

const WORKFLOWY: &str = r#"<?xml version="1.0"?>
<opml version="2.0">
  <head><title>Trip</title></head>
  <body>
    <outline text="Trip to Lisbon" _note="Late May">
      <outline text="Book flights" _complete="true" />
      <outline text="Pack &amp; go">
        <outline text="Socks" />
      </outline>
    </outline>
    <outline text="Someday" />
  </body>
</opml>
"#;

const CHECKLIST: &str = "# Launch\n\n- [ ] Website\n  - [x] Write the copy\n    Two drafts,\n    then the final one.\n  - [ ] Deploy\n1. [x] Done already\n";

async fn outlines_and_checklists_import_with_their_shape(db: Db) {
    let app = spawn_app(db, 1).await;
    let job = import_as(&app, "opml", "", WORKFLOWY).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let roots = children(&app, None).await;
    let titles: Vec<_> = roots.iter().map(|t| t["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Trip to Lisbon", "Someday"]);
    assert_eq!(roots[0]["notes"], "Late May");
    assert_eq!(
        (
            roots[0]["child_count"].as_i64(),
            roots[0]["done_count"].as_i64()
        ),
        (Some(2), Some(1))
    );
    let trip = children(&app, roots[0]["id"].as_str()).await;
    assert_eq!(
        (trip[0]["title"].as_str(), trip[0]["status"].as_str()),
        (Some("Book flights"), Some("done"))
    );
    assert_eq!(trip[1]["title"], "Pack & go");

    // A checklist goes under a task, as a JSON file would.
    let parent = roots[1]["id"].as_str().unwrap();
    let job = import_as(&app, "markdown", &format!("?parent={parent}"), CHECKLIST).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let under = children(&app, Some(parent)).await;
    let titles: Vec<_> = under.iter().map(|t| t["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Website", "Done already"]);
    assert_eq!(under[1]["status"], "done");
    let site = children(&app, under[0]["id"].as_str()).await;
    assert_eq!(site[0]["notes"], "Two drafts,\nthen the final one.");
    assert_eq!(site[0]["status"], "done");
    assert_eq!(site[1]["status"], "todo");
    // The Markdown export of that subtree reads as the checklist did (its heading aside).
    let md = String::from_utf8(
        export(
            &app,
            &format!("?root={}&format=markdown", under[0]["id"].as_str().unwrap()),
        )
        .await,
    )
    .unwrap();
    assert_eq!(
        md,
        "- [ ] Website\n  - [x] Write the copy\n    Two drafts,\n    then the final one.\n  - [ ] Deploy\n"
    );
}

async fn opml_keeps_every_field_and_markdown_what_it_can_say(db: Db) {
    let app = spawn_app(db, 1).await;
    add_user(&app, "ann", Role::Editor).await;
    let (_, root) = app
        .post_json(
            "/api/v1/tasks",
            json!({"title": "Q3 <plan> & \"goals\"", "notes": "line one\n\tline two"}),
        )
        .await;
    let root_id = root["id"].as_str().unwrap().to_string();
    for (i, title) in ["Hire", "Ship", "[x] looks like a box"].iter().enumerate() {
        let (s, t) = app
            .post_json("/api/v1/tasks", json!({"title": title, "parent_id": root_id, "status": if i == 1 { "doing" } else { "todo" }}))
            .await;
        assert_eq!(s, 201, "{t}");
        let (s, _) = send(
            &app,
            "PATCH",
            &format!("/api/v1/tasks/{}", t["id"].as_str().unwrap()),
            Some(json!({"due": "2027-03-31", "assignee": "ann", "labels": ["infra", "q3/ops"], "priority": "high"})),
        )
        .await;
        assert_eq!(s, 200);
    }
    let json_before = export(&app, "").await;
    let opml = export(&app, "?format=opml").await;
    let md = export(&app, "?format=markdown").await;

    // Into a fresh database: OPML brings back every field, so the JSON exports agree.
    let other = spawn_app(Db::Sqlite, 1).await;
    add_user(&other, "ann", Role::Editor).await;
    let job = import_as(&other, "opml", "", std::str::from_utf8(&opml).unwrap()).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(
        String::from_utf8(export(&other, "").await).unwrap(),
        String::from_utf8(json_before.clone()).unwrap()
    );
    // Markdown brings back titles, notes, nesting and done; a second export is the same.
    let third = spawn_app(Db::Sqlite, 1).await;
    let job = import_as(&third, "markdown", "", std::str::from_utf8(&md).unwrap()).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(export(&third, "?format=markdown").await, md);
    let roots = children(&third, None).await;
    assert_eq!(
        (roots[0]["title"].as_str(), roots[0]["notes"].as_str()),
        (Some("Q3 <plan> & \"goals\""), Some("line one\nline two"))
    );
    let kids = children(&third, roots[0]["id"].as_str()).await;
    assert_eq!(kids[2]["title"], "[x] looks like a box");

    // An export job writes the format asked for.
    let (s, started) = app
        .post_json("/api/v1/tasks/export", json!({"format": "opml"}))
        .await;
    assert_eq!(s, 202, "{started}");
    let job = app
        .wait_for_job(started["job_id"].as_str().unwrap(), 60)
        .await;
    assert_eq!(job["result"]["format"], "opml", "{job}");
    assert!(
        job["result"]["file"].as_str().unwrap().ends_with(".opml"),
        "{job}"
    );
    let r = app
        .http
        .get(app.url("/api/v1/tasks/export?format=markdown"))
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/markdown")
    );
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(".md")
    );
}

async fn bad_outlines_fail_where_they_break_and_change_nothing(db: Db) {
    let app = spawn_app(db, 1).await;
    let (_, keep) = app
        .post_json("/api/v1/tasks", json!({"title": "Keep me"}))
        .await;
    let before = export(&app, "").await;
    for (format, body, says, at) in [
        (
            "opml",
            "<opml><body><outline text=\"a\"><outline text=\"b\"></body></opml>",
            "well-formed",
            None,
        ),
        (
            "opml",
            "<opml><body><outline text=\"a\"><outline _note=\"no title\"/></outline></body></opml>",
            "no \"text\"",
            Some("tasks[0].tasks[0]"),
        ),
        (
            "opml",
            "<!DOCTYPE opml [<!ENTITY x \"xx\">]><opml><body><outline text=\"&x;\"/></body></opml>",
            "DOCTYPE",
            None,
        ),
        (
            "markdown",
            "- fine\n  - [ ]\n",
            "no text (line 2)",
            Some("tasks[0].tasks[0]"),
        ),
        ("markdown", "just prose\n", "no list items", None),
    ] {
        let job = import_as(&app, format, "", body).await;
        assert_eq!(job["state"], "failed", "{format} {body}: {job}");
        let error = job["error"].as_str().unwrap();
        assert!(error.contains(says) && error.contains("byte"), "{error}");
        if let Some(path) = at {
            assert!(error.contains(path), "{error}");
        }
        assert_eq!(export(&app, "").await, before, "nothing changed");
    }
    // Not UTF-8: the byte is named.
    let r = app
        .http
        .post(app.url("/api/v1/tasks/import?format=markdown"))
        .body(b"- ok\n- \xff\n".to_vec())
        .send()
        .await
        .unwrap();
    let started: Value = r.json().await.unwrap();
    let job = app
        .wait_for_job(started["job_id"].as_str().unwrap(), 60)
        .await;
    assert!(
        job["error"].as_str().unwrap().contains("at byte 7"),
        "{job}"
    );
    // The wrong kind of body, or a format Orchard does not know, is refused at once.
    for (query, body) in [
        ("?format=opml", "- a list"),
        ("?format=yaml", "x: 1"),
        ("", "- a list"),
    ] {
        let r = app
            .http
            .post(app.url(&format!("/api/v1/tasks/import{query}")))
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400, "{query}");
    }
    let (s, _) = app.get_json("/api/v1/tasks/export?format=yaml").await;
    assert_eq!(s, 400);
    assert_eq!(children(&app, None).await[0]["id"], keep["id"]);
}
