//! What a task carries besides title, notes and status, on both databases: due date,
//! assignee, labels and priority through the REST API (set, cleared, refused with nothing
//! changed), labels and their colours, and export → import keeping every field.

use crate::access::add_user;
use crate::common::{Db, TestApp, both, spawn_app};
use crate::tree::{export, import_file, send};
use app::accounts::model::Role;
use serde_json::{Value, json};
use shared::tasks::fields::LABEL_PALETTE;

both!(
    fields_are_set_cleared_and_refused,
    fields_survive_export_and_import
);

async fn task(app: &TestApp, id: &str) -> Value {
    let (s, t) = app.get_json(&format!("/api/v1/tasks/{id}")).await;
    assert_eq!(s, 200, "{t}");
    t
}

async fn patch(app: &TestApp, id: &str, body: Value) -> (u16, Value) {
    send(app, "PATCH", &format!("/api/v1/tasks/{id}"), Some(body)).await
}

async fn fields_are_set_cleared_and_refused(db: Db) {
    let app = spawn_app(db, 0).await;
    add_user(&app, "ada", Role::Editor).await;
    let (s, t) = app
        .post_json("/api/v1/tasks", json!({"title": "Ship the release"}))
        .await;
    assert_eq!(s, 201, "{t}");
    assert_eq!(
        (&t["due"], &t["assignee"], &t["labels"], &t["priority"]),
        (&Value::Null, &Value::Null, &json!([]), &json!("none")),
        "a new task carries none of them"
    );
    let id = t["id"].as_str().unwrap().to_string();

    let (s, t) = patch(
        &app,
        &id,
        json!({"due": "2027-03-31", "assignee": "ada", "labels": ["infra", "q3/ops", "infra"],
               "priority": "high"}),
    )
    .await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["due"], "2027-03-31");
    assert_eq!(t["assignee"], "ada");
    assert_eq!(
        t["labels"],
        json!(["infra", "q3/ops"]),
        "repeats are dropped"
    );
    assert_eq!(t["priority"], "high");
    assert_eq!(task(&app, &id).await, t, "read back as answered");

    // A key left out stays; null clears; labels replace the whole list.
    let (s, t) = patch(&app, &id, json!({"due": null, "labels": ["later"]})).await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["due"], Value::Null);
    assert_eq!(t["assignee"], "ada");
    assert_eq!(t["labels"], json!(["later"]));
    assert_eq!(t["priority"], "high");

    // Every label used so far is listed, with a colour from the palette.
    let (s, labels) = app.get_json("/api/v1/labels").await;
    assert_eq!(s, 200);
    let names: Vec<&str> = labels
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["infra", "later", "q3/ops"]);
    for l in labels.as_array().unwrap() {
        assert!(LABEL_PALETTE.contains(&l["color"].as_str().unwrap()), "{l}");
    }

    // Refusals answer 4xx with {"error"} and change nothing, the valid keys beside them
    // included.
    let before = task(&app, &id).await;
    for (body, why) in [
        (
            json!({"title": "Renamed", "assignee": "nobody"}),
            "Orchard user",
        ),
        (
            json!({"title": "Renamed", "due": "2027-02-29"}),
            "not a date",
        ),
        (json!({"title": "Renamed", "due": "tomorrow"}), "not a date"),
        (
            json!({"title": "Renamed", "labels": ["two words"]}),
            "label",
        ),
        (json!({"title": "Renamed", "labels": [""]}), "name"),
        (json!({"title": "Renamed", "priority": "asap"}), ""),
        (json!({"title": "Renamed", "labels": "infra"}), ""),
    ] {
        let (s, e) = patch(&app, &id, body.clone()).await;
        assert!((400..500).contains(&s), "{body}: {s} {e}");
        let msg = e["error"].as_str().unwrap_or_else(|| panic!("{body}: {e}"));
        assert!(msg.contains(why), "{body}: {msg}");
        assert_eq!(task(&app, &id).await, before, "{body} changed the task");
    }
    let many: Vec<String> = (0..21).map(|i| format!("l{i}")).collect();
    let (s, _) = patch(&app, &id, json!({ "labels": many })).await;
    assert_eq!(s, 400);

    // Recolouring: a colour dark enough for white text; a label that was never used is 404.
    let (s, e) = send(
        &app,
        "PATCH",
        "/api/v1/labels/infra",
        Some(json!({"color": "#fde047"})),
    )
    .await;
    assert_eq!(s, 400, "{e}");
    assert!(e["error"].as_str().unwrap().contains("too light"), "{e}");
    let (s, l) = send(
        &app,
        "PATCH",
        "/api/v1/labels/infra",
        Some(json!({"color": "#1D4ED8"})),
    )
    .await;
    assert_eq!(s, 200, "{l}");
    assert_eq!(l, json!({"name": "infra", "color": "#1d4ed8"}));
    let (s, _) = send(
        &app,
        "PATCH",
        "/api/v1/labels/never-used",
        Some(json!({"color": "#1d4ed8"})),
    )
    .await;
    assert_eq!(s, 404);
    app.running.stop().await;
}

const FILE: &str = r#"{"tasks": [
  {"id": "f1", "name": "Launch", "due": "2027-01-15", "assignee": "ada",
   "labels": ["infra", "urgent-ish"], "priority": "urgent", "tasks": [
    {"id": "f2", "name": "Write notes", "labels": [], "priority": "none", "due": null,
     "assignee": null, "tasks": []},
    {"id": "f3", "name": "Book the hall", "priority": "low", "future_key": {"x": [1]},
     "tasks": []}]}]}"#;

async fn fields_survive_export_and_import(db: Db) {
    let app = spawn_app(db, 1).await;
    add_user(&app, "ada", Role::Editor).await;
    let job = import_file(&app, "", FILE.as_bytes().to_vec()).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let f1 = task(&app, "f1").await;
    assert_eq!(
        (&f1["due"], &f1["assignee"], &f1["labels"], &f1["priority"]),
        (
            &json!("2027-01-15"),
            &json!("ada"),
            &json!(["infra", "urgent-ish"]),
            &json!("urgent")
        )
    );
    assert_eq!(task(&app, "f3").await["priority"], "low");
    let (_, labels) = app.get_json("/api/v1/labels").await;
    assert_eq!(labels.as_array().unwrap().len(), 2, "{labels}");

    // Export writes the fields that are set, and only those; export → delete → import →
    // export is byte for byte the same.
    let first = export(&app, "").await;
    let v: Value = serde_json::from_slice(&first).unwrap();
    assert_eq!(v["tasks"][0]["labels"], json!(["infra", "urgent-ish"]));
    assert_eq!(v["tasks"][0]["assignee"], "ada");
    let f2 = &v["tasks"][0]["tasks"][0];
    for k in ["due", "assignee", "labels", "priority"] {
        assert!(f2.get(k).is_none(), "{k} written though unset: {f2}");
    }
    let (s, _) = send(&app, "DELETE", "/api/v1/tasks/f1", None).await;
    assert_eq!(s, 200);
    let job = import_file(&app, "", first.clone()).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(export(&app, "").await, first);

    // A file naming someone who is not an Orchard user imports nothing and says where.
    let bad = r#"{"tasks": [{"id": "g1", "name": "A", "tasks": []},
        {"id": "g2", "name": "B", "assignee": "mallory", "tasks": []}]}"#;
    let job = import_file(&app, "", bad.as_bytes().to_vec()).await;
    assert_eq!(job["state"], "failed", "{job}");
    let err = job["error"].as_str().unwrap();
    assert!(err.contains("mallory") && err.contains("byte"), "{err}");
    let (s, _) = app.get_json("/api/v1/tasks/g1").await;
    assert_eq!(s, 404, "nothing of the refused file was kept");

    // A bad field value is refused with its place in the file.
    for (file, why) in [
        (
            r#"{"tasks":[{"name":"A","due":"2027-13-01"}]}"#,
            "tasks[0].due",
        ),
        (
            r#"{"tasks":[{"name":"A","priority":"asap"}]}"#,
            "tasks[0].priority",
        ),
        (
            r#"{"tasks":[{"name":"A","labels":["a b"]}]}"#,
            "tasks[0].labels",
        ),
        (
            r#"{"tasks":[{"name":"A","labels":["a" "b"]}]}"#,
            "tasks[0].labels",
        ),
    ] {
        let job = import_file(&app, "", file.as_bytes().to_vec()).await;
        assert_eq!(job["state"], "failed", "{file}: {job}");
        let err = job["error"].as_str().unwrap();
        assert!(err.contains(why), "{file}: {err}");
    }
    app.running.stop().await;
}
