//! Task trees on both databases: the store's rules (roll-ups, the done rule, moves that
//! never make cycles, consistent positions) under random edits, and the REST API with
//! import, export and generation as jobs.

use crate::common::{self, Db, TestApp, spawn_app};
use engine::store::tree::{NewTreeTask, TreePatch};
use engine::store::{Store, StoreError};
use serde_json::{Value, json};
use shared::tasks::model::Status;
use std::collections::HashMap;
use std::sync::Arc;

use crate::common::both;

both!(
    rollups_and_the_done_rule,
    moves_refuse_cycles_and_keep_order,
    random_edits_keep_every_invariant,
    rest_shapes_and_refusals,
    import_export_round_trip,
    bad_files_change_nothing,
    deep_chains_and_generated_trees
);

async fn store(db: Db) -> Arc<dyn Store> {
    let dir = common::temp_dir("tree");
    let url = common::fresh_database(db, &dir).await;
    engine::store::connect(&url).await.expect("connect")
}

fn new(id: &str, parent: Option<&str>) -> NewTreeTask {
    NewTreeTask {
        id: id.into(),
        parent_id: parent.map(str::to_string),
        title: format!("task {id}"),
        ..Default::default()
    }
}

async fn status(s: &dyn Store, id: &str) -> Status {
    s.tree_task(id).await.unwrap().status
}

async fn set(s: &dyn Store, id: &str, st: Status) {
    let patch = TreePatch {
        status: Some(st),
        ..Default::default()
    };
    s.tree_update(id, &patch, 2).await.unwrap();
}

async fn rollups_and_the_done_rule(db: Db) {
    let s = store(db).await;
    let s = &*s;
    // r ─┬─ a ─┬─ a1
    //    │     └─ a2
    //    └─ b
    for (id, parent) in [
        ("r", None),
        ("a", Some("r")),
        ("b", Some("r")),
        ("a1", Some("a")),
        ("a2", Some("a")),
    ] {
        s.tree_create(&new(id, parent), 1).await.unwrap();
    }
    let r = s.tree_task("r").await.unwrap();
    assert_eq!((r.child_count, r.done_count), (2, 0));
    // Done on a parent: its subtree follows.
    set(s, "a", Status::Done).await;
    assert_eq!(status(s, "a1").await, Status::Done);
    assert_eq!(s.tree_task("a").await.unwrap().done_count, 2);
    assert_eq!(s.tree_task("r").await.unwrap().done_count, 1);
    // The last child done: the parent follows, all the way up.
    set(s, "b", Status::Done).await;
    assert_eq!(status(s, "r").await, Status::Done);
    // Reopening a child: done parents become `doing`.
    set(s, "a2", Status::Todo).await;
    assert_eq!(status(s, "a").await, Status::Doing);
    assert_eq!(status(s, "r").await, Status::Doing);
    assert_eq!(status(s, "a1").await, Status::Done);
    // A new child under a done parent reopens it.
    set(s, "a2", Status::Done).await;
    assert_eq!(status(s, "r").await, Status::Done);
    s.tree_create(&new("b1", Some("b")), 3).await.unwrap();
    assert_eq!(status(s, "b").await, Status::Doing);
    assert_eq!(status(s, "r").await, Status::Doing);
    // Deleting the only open child completes the parent again.
    let gone = s.tree_delete("b1", 4).await.unwrap();
    assert_eq!(gone.removed, 1);
    // b has no children now and keeps `doing`; finishing it finishes r.
    set(s, "b", Status::Done).await;
    assert_eq!(status(s, "r").await, Status::Done);
    // Reopening the root reopens everything under it.
    set(s, "r", Status::Todo).await;
    for id in ["a", "a1", "a2", "b"] {
        assert_eq!(status(s, id).await, Status::Todo, "{id}");
    }
    assert_eq!(s.tree_task("r").await.unwrap().done_count, 0);
    // Subtree size, path, search.
    assert_eq!(s.tree_subtree_size("r").await.unwrap(), 5);
    let (path, elided) = s.tree_path("a2", 10).await.unwrap();
    let ids: Vec<_> = path.iter().map(|c| c.id.as_str()).collect();
    assert_eq!((ids, elided), (vec!["r", "a", "a2"], 0));
    let q = engine::store::tree::FilterQuery {
        filter: shared::tasks::filter::Filter::parse(r#""task a""#).unwrap(),
        me: None,
        today: 0,
    };
    let (hits, total) = s.tree_filter(&q, 2).await.unwrap();
    assert_eq!((hits.len(), total), (2, 3));
    let deleted = s.tree_delete("a", 5).await.unwrap();
    assert_eq!(deleted.removed, 3);
    assert!(matches!(
        s.tree_task("a1").await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(s.tree_task("r").await.unwrap().child_count, 1);
}

async fn moves_refuse_cycles_and_keep_order(db: Db) {
    let s = store(db).await;
    let s = &*s;
    s.tree_create(&new("p", None), 1).await.unwrap();
    for i in 0..5 {
        s.tree_create(&new(&format!("c{i}"), Some("p")), 1)
            .await
            .unwrap();
    }
    s.tree_create(&new("g", Some("c0")), 1).await.unwrap();
    let order = |s: &'static str| s.to_string();
    let kids = |v: Vec<shared::tasks::model::TreeTask>| -> Vec<String> {
        v.into_iter().map(|t| t.id).collect()
    };
    let (page, total) = s.tree_children(Some("p"), None, 10).await.unwrap();
    assert_eq!(total, 5);
    assert_eq!(kids(page), ["c0", "c1", "c2", "c3", "c4"].map(order));
    // Reorder: c4 to the front, c0 to index 2.
    s.tree_move("c4", Some("p"), 0, 2).await.unwrap();
    s.tree_move("c0", Some("p"), 2, 2).await.unwrap();
    let (page, _) = s.tree_children(Some("p"), None, 10).await.unwrap();
    assert_eq!(kids(page), ["c4", "c1", "c0", "c2", "c3"].map(order));
    // Cursor paging sees every child once.
    let (first, _) = s.tree_children(Some("p"), None, 2).await.unwrap();
    let last = first.last().unwrap();
    let (rest, _) = s
        .tree_children(Some("p"), Some(&(last.position, last.id.clone())), 10)
        .await
        .unwrap();
    assert_eq!(first.len() + rest.len(), 5);
    // Into itself or its own subtree: refused, nothing changes.
    for target in ["c0", "g"] {
        match s.tree_move("c0", Some(target), 0, 3).await {
            Err(StoreError::Conflict(m)) => assert!(m.contains("into"), "{m}"),
            other => panic!("moving c0 under {target}: {other:?}"),
        }
    }
    assert_eq!(
        s.tree_task("c0").await.unwrap().parent_id.as_deref(),
        Some("p")
    );
    // Out to the roots and back under another parent.
    s.tree_move("c0", None, 0, 4).await.unwrap();
    let (roots, n) = s.tree_children(None, None, 10).await.unwrap();
    assert_eq!((kids(roots), n), (vec![order("c0"), order("p")], 2));
    assert_eq!(s.tree_task("p").await.unwrap().child_count, 4);
    s.tree_move("p", Some("g"), 0, 5).await.unwrap();
    assert_eq!(s.tree_path("c3", 10).await.unwrap().0.len(), 4);
    // Many inserts at the same place force a renumbering, and order still holds.
    let mut after = "c1".to_string();
    for i in 0..40 {
        let mut t = new(&format!("n{i}"), Some("p"));
        t.after = Some("c1".into());
        s.tree_create(&t, 6).await.unwrap();
        after = t.id;
    }
    let (page, total) = s.tree_children(Some("p"), None, 100).await.unwrap();
    assert_eq!(total, 44);
    let ids = kids(page);
    assert_eq!(ids[1], "c1");
    assert_eq!(ids[2], after);
    assert_eq!(ids[41], "n0");
    let mut positions: Vec<i64> = s
        .tree_children(Some("p"), None, 100)
        .await
        .unwrap()
        .0
        .iter()
        .map(|t| t.position)
        .collect();
    let sorted = positions.clone();
    positions.dedup();
    assert_eq!(positions, sorted, "positions are distinct");
}

/// Every row, read back through the store.
async fn all_rows(s: &dyn Store) -> Vec<shared::tasks::model::TreeTask> {
    let mut out = Vec::new();
    let mut stack = vec![None::<String>];
    while let Some(parent) = stack.pop() {
        let mut cursor = None;
        loop {
            let (page, _) = s
                .tree_children(parent.as_deref(), cursor.as_ref(), 100)
                .await
                .unwrap();
            if page.is_empty() {
                break;
            }
            cursor = page.last().map(|t| (t.position, t.id.clone()));
            for t in page {
                stack.push(Some(t.id.clone()));
                out.push(t);
            }
        }
    }
    out
}

/// The invariants: roll-ups match the children, parents follow the done rule where it
/// was applied, positions are distinct among siblings, and every task reaches a root.
async fn check_invariants(s: &dyn Store, expected: usize) {
    let rows = all_rows(s).await;
    assert_eq!(rows.len(), expected, "every task is reachable from a root");
    let by_id: HashMap<&str, &shared::tasks::model::TreeTask> =
        rows.iter().map(|t| (t.id.as_str(), t)).collect();
    let mut children: HashMap<&str, (i64, i64, Vec<i64>)> = HashMap::new();
    for t in &rows {
        if let Some(p) = &t.parent_id {
            let e = children.entry(p.as_str()).or_default();
            e.0 += 1;
            e.1 += (t.status == Status::Done) as i64;
            e.2.push(t.position);
        }
        // No cycles: walking up ends at a root within the number of tasks.
        let mut up = t.parent_id.as_deref();
        let mut steps = 0;
        while let Some(p) = up {
            steps += 1;
            assert!(steps <= rows.len(), "cycle through {}", t.id);
            up = by_id[p].parent_id.as_deref();
        }
    }
    for t in &rows {
        let (n, d, mut pos) = children.remove(t.id.as_str()).unwrap_or_default();
        assert_eq!((t.child_count, t.done_count), (n, d), "roll-up of {}", t.id);
        let len = pos.len();
        pos.sort();
        pos.dedup();
        assert_eq!(pos.len(), len, "positions under {}", t.id);
    }
}

/// A small deterministic generator (SplitMix64).
pub(crate) struct Rng(pub(crate) u64);
impl Rng {
    pub(crate) fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) % n.max(1) as u64) as usize
    }
}

async fn random_edits_keep_every_invariant(db: Db) {
    let s = store(db).await;
    let s = &*s;
    let mut rng = Rng(42);
    let mut ids: Vec<String> = Vec::new();
    let mut refused_cycles = 0;
    for step in 0..400 {
        let pick = |rng: &mut Rng, ids: &[String]| ids[rng.below(ids.len())].clone();
        match rng.below(10) {
            0..=3 => {
                let parent = (!ids.is_empty() && rng.below(4) > 0).then(|| pick(&mut rng, &ids));
                let id = format!("t{step}");
                s.tree_create(&new(&id, parent.as_deref()), step)
                    .await
                    .unwrap();
                ids.push(id);
            }
            4..=6 if ids.len() > 1 => {
                let id = pick(&mut rng, &ids);
                let parent = (rng.below(5) > 0).then(|| pick(&mut rng, &ids));
                let index = rng.below(6) as i64;
                match s.tree_move(&id, parent.as_deref(), index, step).await {
                    Ok(_) => {}
                    Err(StoreError::Conflict(_)) => refused_cycles += 1,
                    Err(e) => panic!("move: {e}"),
                }
            }
            7..=8 if !ids.is_empty() => {
                let id = pick(&mut rng, &ids);
                let st = Status::ALL[rng.below(3)];
                set(s, &id, st).await;
            }
            9 if ids.len() > 5 => {
                let id = pick(&mut rng, &ids);
                s.tree_delete(&id, step).await.unwrap();
                let mut alive = Vec::new();
                for i in &ids {
                    if s.tree_task(i).await.is_ok() {
                        alive.push(i.clone());
                    }
                }
                ids = alive;
            }
            _ => {}
        }
        if step % 50 == 49 {
            check_invariants(s, ids.len()).await;
        }
    }
    check_invariants(s, ids.len()).await;
    assert!(refused_cycles > 0, "the walk tried some cyclic moves");
}

async fn app_for(db: Db) -> TestApp {
    spawn_app(db, 1).await
}

pub(crate) async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = app.http.request(m, app.url(path));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn rest_shapes_and_refusals(db: Db) {
    let app = app_for(db).await;
    let (s, root) = app
        .post_json("/api/v1/tasks", json!({"parent_id": null, "title": "Plan"}))
        .await;
    assert_eq!(s, 201, "{root}");
    let root_id = root["id"].as_str().unwrap().to_string();
    for i in 0..5 {
        let (s, _) = app
            .post_json(
                "/api/v1/tasks",
                json!({"parent_id": root_id, "title": format!("step {i}")}),
            )
            .await;
        assert_eq!(s, 201);
    }
    let (s, page) = app
        .get_json(&format!("/api/v1/tasks?parent={root_id}&limit=2"))
        .await;
    assert_eq!(s, 200, "{page}");
    let item = &page["items"][0];
    for field in [
        "id",
        "parent_id",
        "title",
        "status",
        "child_count",
        "done_count",
    ] {
        assert!(item.get(field).is_some(), "{field} in {item}");
    }
    assert_eq!(item["title"], "step 0");
    let cursor = page["next_cursor"].as_str().unwrap().to_string();
    let (_, next) = app
        .get_json(&format!(
            "/api/v1/tasks?parent={root_id}&limit=10&cursor={cursor}"
        ))
        .await;
    assert_eq!(next["items"].as_array().unwrap().len(), 3);
    assert_eq!(next["next_cursor"], Value::Null);
    let (_, roots) = app.get_json("/api/v1/tasks").await;
    assert_eq!(roots["items"][0]["child_count"], 5);
    // Edit, status, move, search, path, delete.
    let step1 = page["items"][1]["id"].as_str().unwrap().to_string();
    let (s, t) = send(
        &app,
        "PATCH",
        &format!("/api/v1/tasks/{step1}"),
        Some(json!({"title": "renamed", "status": "done", "notes": "why"})),
    )
    .await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(
        (t["title"].as_str(), t["status"].as_str()),
        (Some("renamed"), Some("done"))
    );
    let (_, r) = app.get_json(&format!("/api/v1/tasks/{root_id}")).await;
    assert_eq!(r["done_count"], 1);
    let (s, moved) = app
        .post_json(
            &format!("/api/v1/tasks/{step1}/move"),
            json!({"parent_id": null, "position": 0}),
        )
        .await;
    assert_eq!((s, moved["parent_id"].clone()), (200, Value::Null));
    let (s, e) = app
        .post_json(
            &format!("/api/v1/tasks/{root_id}/move"),
            json!({"parent_id": root_id, "position": 0}),
        )
        .await;
    assert_eq!(s, 409, "{e}");
    assert!(e["error"].as_str().unwrap().contains("into itself"), "{e}");
    let child = next["items"][0]["id"].as_str().unwrap().to_string();
    let (s, e) = app
        .post_json(
            &format!("/api/v1/tasks/{root_id}/move"),
            json!({"parent_id": child, "position": 0}),
        )
        .await;
    assert_eq!(s, 409);
    assert!(e["error"].as_str().unwrap().contains("own subtree"), "{e}");
    let (s, hits) = app.get_json("/api/v1/tasks/search?q=%22STEP%203%22").await;
    assert_eq!(s, 200);
    assert_eq!(hits["hits"][0]["task"]["title"], "step 3");
    assert_eq!(hits["hits"][0]["path"][0]["title"], "Plan");
    let (s, path) = app.get_json(&format!("/api/v1/tasks/{child}/path")).await;
    assert_eq!((s, path.as_array().unwrap().len()), (200, 2));
    // Refusals: clear 4xx, `{"error"}`, nothing changed.
    let bad: Vec<(&str, String, Option<Value>, u16)> = vec![
        ("GET", "/api/v1/tasks?limit=0".into(), None, 400),
        ("GET", "/api/v1/tasks?cursor=junk".into(), None, 400),
        ("GET", "/api/v1/tasks?parent=nope".into(), None, 404),
        ("GET", "/api/v1/tasks?parent=bad%20id".into(), None, 400),
        ("GET", "/api/v1/tasks/search?q=".into(), None, 400),
        (
            "POST",
            "/api/v1/tasks".into(),
            Some(json!({"title": "  "})),
            400,
        ),
        (
            "POST",
            "/api/v1/tasks".into(),
            Some(json!({"title": "x", "bogus": 1})),
            400,
        ),
        (
            "POST",
            "/api/v1/tasks".into(),
            Some(json!({"title": "x", "parent_id": "ghost"})),
            404,
        ),
        (
            "POST",
            "/api/v1/tasks".into(),
            Some(json!({"title": "x", "id": root_id})),
            409,
        ),
        (
            "PATCH",
            format!("/api/v1/tasks/{child}"),
            Some(json!({"status": "later"})),
            400,
        ),
        (
            "PATCH",
            "/api/v1/tasks/ghost".into(),
            Some(json!({"title": "x"})),
            404,
        ),
        ("DELETE", "/api/v1/tasks/ghost".into(), None, 404),
        (
            "POST",
            format!("/api/v1/tasks/{child}/move"),
            Some(json!({"parent_id": null, "position": -1})),
            400,
        ),
    ];
    for (m, path, body, want) in bad {
        let (s, e) = send(&app, m, &path, body).await;
        assert_eq!(s, want, "{m} {path}: {e}");
        assert!(e["error"].is_string(), "{m} {path}: {e}");
    }
    let (_, r) = app.get_json(&format!("/api/v1/tasks/{root_id}")).await;
    assert_eq!(r["child_count"], 4);
    // Delete answers how many went.
    let (s, d) = send(&app, "DELETE", &format!("/api/v1/tasks/{root_id}"), None).await;
    assert_eq!((s, d["deleted"].as_i64()), (200, Some(5)));
    // Anonymous callers are refused.
    let r = app.anon.get(app.url("/api/v1/tasks")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
}

pub(crate) async fn import_file(app: &TestApp, query: &str, body: Vec<u8>) -> Value {
    let r = app
        .http
        .post(app.url(&format!("/api/v1/tasks/import{query}")))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    let started: Value = r.json().await.unwrap();
    app.wait_for_job(started["job_id"].as_str().unwrap(), 120)
        .await
}

pub(crate) async fn export(app: &TestApp, query: &str) -> Vec<u8> {
    let r = app
        .http
        .get(app.url(&format!("/api/v1/tasks/export{query}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    r.bytes().await.unwrap().to_vec()
}

const SEED_FILE: &str = r#"{"tasks": [
  {"id": "11111111-1111-4111-8111-111111111111", "name": "Write the book", "isDone": false, "tasks": [
    {"id": "22222222-2222-4222-8222-222222222222", "name": "Outline", "isDone": true, "tasks": []},
    {"id": "33333333-3333-4333-8333-333333333333", "name": "Chapter \"one\"", "isDone": false, "tasks": [
      {"id": "44444444-4444-4444-8444-444444444444", "name": "Draft ✍", "isDone": false, "tasks": []}
    ]}
  ]},
  {"id": "55555555-5555-4555-8555-555555555555", "name": "Rest", "isDone": true, "tasks": []}
]}"#;

async fn import_export_round_trip(db: Db) {
    let app = app_for(db).await;
    let job = import_file(&app, "", SEED_FILE.as_bytes().to_vec()).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["result"]["tasks"], 5);
    let (_, roots) = app.get_json("/api/v1/tasks").await;
    let book = &roots["items"][0];
    assert_eq!(book["id"], "11111111-1111-4111-8111-111111111111");
    assert_eq!(
        (book["child_count"].as_i64(), book["done_count"].as_i64()),
        (Some(2), Some(1))
    );
    assert_eq!(roots["items"][1]["status"], "done");
    // Export → delete → import → export is identical, and the file is seed 000's format.
    let first = export(&app, "").await;
    let v: Value = serde_json::from_slice(&first).unwrap();
    let chapter = &v["tasks"][0]["tasks"][1];
    assert_eq!(chapter["name"], "Chapter \"one\"");
    assert_eq!(chapter["isDone"], false);
    assert_eq!(chapter["tasks"][0]["name"], "Draft ✍");
    for t in roots["items"].as_array().unwrap() {
        send(
            &app,
            "DELETE",
            &format!("/api/v1/tasks/{}", t["id"].as_str().unwrap()),
            None,
        )
        .await;
    }
    let (_, none) = app.get_json("/api/v1/tasks").await;
    assert_eq!(none["items"].as_array().unwrap().len(), 0);
    let job = import_file(&app, "", first.clone()).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(export(&app, "").await, first);
    // The same file again clashes on its ids and changes nothing ...
    let job = import_file(&app, "", first.clone()).await;
    assert_eq!(job["state"], "failed");
    let err = job["error"].as_str().unwrap();
    assert!(
        err.contains("already exists") && err.contains("byte"),
        "{err}"
    );
    // ... unless new ids are asked for; then it lands under a chosen task.
    let rest = "55555555-5555-4555-8555-555555555555";
    let job = import_file(&app, &format!("?parent={rest}&new_ids=true"), first.clone()).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let (_, under) = app.get_json(&format!("/api/v1/tasks?parent={rest}")).await;
    assert_eq!(under["items"].as_array().unwrap().len(), 2);
    assert_ne!(
        under["items"][0]["id"],
        "11111111-1111-4111-8111-111111111111"
    );
    // Rest was done; it gained open children, so it is `doing` now.
    let (_, r) = app.get_json(&format!("/api/v1/tasks/{rest}")).await;
    assert_eq!(r["status"], "doing");
    // A subtree export holds that subtree only.
    let sub = export(&app, "?root=33333333-3333-4333-8333-333333333333").await;
    let v: Value = serde_json::from_slice(&sub).unwrap();
    assert_eq!(v["tasks"].as_array().unwrap().len(), 1);
    assert_eq!(
        v["tasks"][0]["tasks"][0]["id"],
        "44444444-4444-4444-8444-444444444444"
    );
    // An export job writes the same file, for download later.
    let (s, started) = app.post_json("/api/v1/tasks/export", json!({})).await;
    assert_eq!(s, 202, "{started}");
    let job = app
        .wait_for_job(started["job_id"].as_str().unwrap(), 60)
        .await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let key = job["result"]["file"].as_str().unwrap();
    let r = app
        .http
        .get(app.url(&format!("/api/v1/files/{key}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().to_vec(), export(&app, "").await);
}

async fn bad_files_change_nothing(db: Db) {
    let app = app_for(db).await;
    let job = import_file(&app, "", SEED_FILE.as_bytes().to_vec()).await;
    assert_eq!(job["state"], "succeeded");
    let before = export(&app, "").await;
    let bad: [(&str, &str); 4] = [
        (
            r#"{"tasks":[{"id":"a1","name":"ok","tasks":[]},{"id":"a2","name":"x","isDone":"yes"}]}"#,
            "tasks[1].isDone",
        ),
        (
            r#"{"tasks":[{"id":"b1","name":"ok","tasks":[{"name":"no end""#,
            "ended",
        ),
        (
            r#"{"tasks":[{"id":"c1","name":"one"},{"id":"c1","name":"two"}]}"#,
            "twice",
        ),
        (
            r#"{"tasks":[{"name":"x","status":"maybe"}]}"#,
            "unknown status",
        ),
    ];
    for (file, says) in bad {
        let job = import_file(&app, "", file.as_bytes().to_vec()).await;
        assert_eq!(job["state"], "failed", "{file}");
        let err = job["error"].as_str().unwrap();
        assert!(err.contains(says) && err.contains("byte"), "{file}: {err}");
    }
    assert_eq!(export(&app, "").await, before);
    // Refused before any job: empty, not JSON, unknown parent.
    for (query, body, want) in [
        ("", "", 400),
        ("", "hello", 400),
        ("?parent=ghost", "{}", 404),
    ] {
        let r = app
            .http
            .post(app.url(&format!("/api/v1/tasks/import{query}")))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), want);
        let e: Value = r.json().await.unwrap();
        assert!(e["error"].is_string());
    }
}

async fn deep_chains_and_generated_trees(db: Db) {
    let app = app_for(db).await;
    // A 10,000-deep chain imports and exports, no stack overflow anywhere.
    let depth = 10_000;
    let mut file = String::from("{\"tasks\":[");
    for i in 0..depth {
        file.push_str(&format!(
            "{{\"id\":\"d{i}\",\"name\":\"level {i}\",\"tasks\":["
        ));
    }
    for _ in 0..depth {
        file.push_str("]}");
    }
    file.push_str("]}");
    let job = import_file(&app, "", file.into_bytes()).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let (_, path) = app
        .get_json(&format!("/api/v1/tasks/d{}/path", depth - 1))
        .await;
    assert_eq!(path[0]["id"], "d0");
    let (_, hits) = app
        .get_json("/api/v1/tasks/search?q=%22level%209999%22")
        .await;
    assert!(
        hits["hits"][0]["path_elided"].as_i64().unwrap() > 9_000,
        "{hits}"
    );
    let out = export(&app, "?root=d0").await;
    assert_eq!(out.iter().filter(|&&b| b == b'{').count(), depth + 1);
    // Done at the top marks the whole chain done.
    let (s, _) = send(
        &app,
        "PATCH",
        "/api/v1/tasks/d0",
        Some(json!({"status": "done"})),
    )
    .await;
    assert_eq!(s, 200);
    let (_, last) = app.get_json(&format!("/api/v1/tasks/d{}", depth - 1)).await;
    assert_eq!(last["status"], "done");
    let (s, d) = send(&app, "DELETE", "/api/v1/tasks/d0", None).await;
    assert_eq!((s, d["deleted"].as_i64()), (200, Some(depth as i64)));
    // Generate and import in one job; the file is listed and downloadable.
    let (s, started) = app
        .post_json(
            "/api/v1/tasks/generate",
            json!({"max_depth": 4, "max_children": 6, "name_length": 10, "roots": 3,
                   "max_tasks": 300, "seed": 9, "import": true}),
        )
        .await;
    assert_eq!(s, 202, "{started}");
    let job = app
        .wait_for_job(started["job_id"].as_str().unwrap(), 60)
        .await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let tasks = job["result"]["tasks"].as_i64().unwrap();
    assert!(tasks > 0 && tasks <= 300);
    assert_eq!(job["result"]["imported"]["tasks"].as_i64(), Some(tasks));
    let key = job["result"]["file"].as_str().unwrap();
    let r = app
        .http
        .get(app.url(&format!("/api/v1/files/{key}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let file = r.bytes().await.unwrap();
    let exported = export(&app, "").await;
    let (a, b): (Value, Value) = (
        serde_json::from_slice(&file).unwrap(),
        serde_json::from_slice(&exported).unwrap(),
    );
    assert_eq!(
        a["tasks"].as_array().unwrap().len(),
        b["tasks"].as_array().unwrap().len()
    );
    assert_eq!(a["tasks"][0]["name"], b["tasks"][0]["name"]);
    // Out-of-range parameters are refused with the parameter named.
    let (s, e) = app
        .post_json(
            "/api/v1/tasks/generate",
            json!({"max_depth": 0, "max_children": 6, "name_length": 10, "roots": 3, "max_tasks": 300}),
        )
        .await;
    assert_eq!(s, 400);
    assert!(e["error"].as_str().unwrap().contains("max_depth"), "{e}");
}

/// A file from elsewhere whose parent of only done tasks is not done imports under the
/// done rule, and exports so.
#[tokio::test]
async fn imports_follow_the_done_rule() {
    let app = spawn_app(Db::Sqlite, 1).await;
    let file = r#"{"tasks":[{"id":"trip","name":"Trip","isDone":false,"tasks":[
        {"id":"book","name":"Book","isDone":true},{"id":"pack","name":"Pack","isDone":true}]}]}"#;
    let job = import_file(&app, "", file.as_bytes().to_vec()).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let (_, trip) = app.get_json("/api/v1/tasks/trip").await;
    assert_eq!(trip["status"], "done", "{trip}");
    let out: Value = serde_json::from_slice(&export(&app, "").await).unwrap();
    assert_eq!(out["tasks"][0]["isDone"], true, "{out}");
    app.running.stop().await;
}

/// A bad tree file fails its import job, but does not count against the worker that read
/// it: the worker's success rate is about the worker.
#[tokio::test]
async fn a_bad_file_is_not_held_against_the_worker() {
    let app = spawn_app(Db::Sqlite, 1).await;
    let job = import_file(&app, "", b"{\"tasks\": [{\"nope\": 1}]}".to_vec()).await;
    assert_eq!(job["state"], "failed", "{job}");
    let err = job["error"].as_str().unwrap_or_default().to_string();
    assert!(
        err.contains("the task has no \"name\"") && !err.starts_with("import task"),
        "the cause comes first: {err}"
    );
    let (_, board) = app.get_json("/dashboard_workers").await;
    let rows = board.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{board}");
    assert_eq!(rows[0]["failed"], 0, "{board}");
    app.running.stop().await;
}
