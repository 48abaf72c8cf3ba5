//! The filter language on both databases: the store's answer to hundreds of random filters
//! equals the reference matcher's (`Filter::matches`) over every task, before and after
//! edits and a delete (the trigram index follows each write); the search API's total,
//! limits, refusals and `assignee:me`; saved views per person; a database written before
//! the index finds its old tasks once upgraded.

use crate::access::{add_user, sign_in};
use crate::common::{self, Db, TestApp, both, spawn_app};
use crate::tree::{Rng, send};
use app::accounts::model::Role;
use engine::store::Store;
use engine::store::tree::{FilterQuery, NewTreeTask, TreePatch};
use serde_json::{Value, json};
use shared::tasks::fields::{Priority, format_date};
use shared::tasks::filter::{Clause, Cmp, Day, Filter, HasField, IsState, Term, Who};
use shared::tasks::model::{Status, TreeTask};
use std::sync::Arc;

both!(
    store_filters_agree_with_the_reference,
    search_api_counts_limits_and_refuses,
    saved_views_belong_to_their_person,
    a_forest_from_before_the_index_is_found_after_the_upgrade
);

const TODAY: i64 = 20_000;

const WORDS: [&str; 12] = [
    "Deploy",
    "ingest",
    "INGESTION pipeline",
    "fix CSS bug",
    "write docs",
    "50% done_",
    r"back\slash",
    r#"say "hi""#,
    "de",
    "Cs",
    "release notes",
    "",
];

fn random_term(rng: &mut Rng) -> Term {
    let texts = [
        "ingest", "INGEST", "de", "cs", "ss b", "50%", "e_", r"\sl", "\"hi", "pipeline", "zzz",
        "d", "e n", "%", "_",
    ];
    let cmps = [Cmp::Eq, Cmp::Lt, Cmp::Le, Cmp::Gt, Cmp::Ge];
    match rng.below(9) {
        0 | 1 => Term::Text(texts[rng.below(texts.len())].into()),
        2 => Term::Status(Status::ALL[rng.below(3)]),
        3 => Term::Label(["infra", "q3/ops", "later", "none"][rng.below(4)].into()),
        4 => Term::Assignee(match rng.below(3) {
            0 => Who::Me,
            1 => Who::User("bob".into()),
            _ => Who::User("carol".into()),
        }),
        5 => Term::Priority(cmps[rng.below(5)], Priority::ALL[rng.below(5)]),
        6 => Term::Due(
            cmps[rng.below(5)],
            if rng.below(2) == 0 {
                Day::FromToday(rng.below(9) as i64 - 4)
            } else {
                Day::Date(TODAY + rng.below(9) as i64 - 4)
            },
        ),
        7 => Term::Has([HasField::Due, HasField::Assignee, HasField::Label][rng.below(3)]),
        _ => Term::Is([IsState::Blocked, IsState::Overdue][rng.below(2)]),
    }
}

fn random_filter(rng: &mut Rng) -> Filter {
    let clauses = (0..1 + rng.below(3))
        .map(|_| Clause {
            negated: rng.below(4) == 0,
            term: random_term(rng),
        })
        .collect();
    Filter { clauses }
}

async fn every_task(s: &dyn Store, ids: &[String]) -> Vec<TreeTask> {
    let mut out = Vec::new();
    for id in ids {
        if let Ok(t) = s.tree_task(id).await {
            out.push(t);
        }
    }
    out
}

/// Runs `n` random filters; each must match exactly the tasks the reference picks.
async fn agree(s: &dyn Store, ids: &[String], rng: &mut Rng, n: usize) {
    let all = every_task(s, ids).await;
    for _ in 0..n {
        let filter = random_filter(rng);
        // What the URL keeps reads back as the same filter.
        let text = filter.to_string();
        assert_eq!(Filter::parse(&text).as_ref(), Ok(&filter), "{text}");
        let q = FilterQuery {
            filter: filter.clone(),
            me: Some("ann".into()),
            today: TODAY,
        };
        let (found, total) = s.tree_filter(&q, 1000).await.unwrap();
        let mut want: Vec<&str> = all
            .iter()
            .filter(|t| filter.matches(t, Some("ann"), TODAY))
            .map(|t| t.id.as_str())
            .collect();
        want.sort_unstable();
        let got: Vec<&str> = found.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(got, want, "filter {text}");
        assert_eq!(total, want.len() as i64, "filter {text}");
        // A smaller limit returns the first matches and still counts them all.
        let (first, total) = s.tree_filter(&q, 3).await.unwrap();
        assert_eq!(first.len(), want.len().min(3), "filter {text}");
        assert_eq!(total, want.len() as i64, "filter {text}");
    }
}

async fn store_filters_agree_with_the_reference(db: Db) {
    let dir = common::temp_dir("search");
    let url = common::fresh_database(db, &dir).await;
    let s: Arc<dyn Store> = engine::store::connect(&url).await.expect("connect");
    let mut rng = Rng(7);
    let mut ids: Vec<String> = Vec::new();
    for i in 0..240 {
        let id = format!("t{i:03}");
        let parent = (i >= 12).then(|| ids[rng.below(ids.len())].clone());
        let new = NewTreeTask {
            id: id.clone(),
            parent_id: parent,
            title: format!("{} {}", WORDS[rng.below(WORDS.len())], i),
            notes: WORDS[rng.below(WORDS.len())].to_string(),
            ..Default::default()
        };
        s.tree_create(&new, 1).await.unwrap();
        ids.push(id);
    }
    for id in &ids {
        let labels = ["infra", "q3/ops", "later"];
        let patch = TreePatch {
            status: (rng.below(3) == 0).then(|| Status::ALL[rng.below(3)]),
            due: Some((rng.below(2) == 0).then(|| format_date(TODAY + rng.below(11) as i64 - 5))),
            assignee: Some(match rng.below(4) {
                0 => Some("ann".into()),
                1 => Some("bob".into()),
                _ => None,
            }),
            priority: Some(Priority::ALL[rng.below(5)]),
            labels: Some(
                labels
                    .iter()
                    .filter(|_| rng.below(3) == 0)
                    .map(|l| l.to_string())
                    .collect(),
            ),
            ..Default::default()
        };
        s.tree_update(id, &patch, 2).await.unwrap();
    }
    agree(&*s, &ids, &mut rng, 300).await;

    // Renames and new notes move a task in and out of the text index; a deleted subtree
    // leaves it.
    for id in ids.iter().step_by(7) {
        let patch = TreePatch {
            title: Some(format!("renamed {}", WORDS[rng.below(WORDS.len())])),
            notes: Some(WORDS[rng.below(WORDS.len())].to_string()),
            ..Default::default()
        };
        s.tree_update(id, &patch, 3).await.unwrap();
    }
    s.tree_delete(&ids[3], 4).await.unwrap();
    agree(&*s, &ids, &mut rng, 200).await;
    let q = |f: &str| FilterQuery {
        filter: Filter::parse(f).unwrap(),
        me: None,
        today: TODAY,
    };
    let (renamed, n) = s.tree_filter(&q("RENAMED"), 1000).await.unwrap();
    assert!(n > 0 && renamed.iter().all(|t| t.title.starts_with("renamed")));
    // Nobody asking: `assignee:me` matches no task, its negation every one.
    let (_, none) = s.tree_filter(&q("assignee:me"), 10).await.unwrap();
    assert_eq!(none, 0);
}

async fn search(app: &TestApp, q: &str) -> (u16, Value) {
    app.get_json(&format!(
        "/api/v1/tasks/search?q={}",
        shared::format::query_escape(q)
    ))
    .await
}

async fn as_person(
    app: &TestApp,
    cookie: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = app
        .anon
        .request(method.parse().unwrap(), app.url(path))
        .header("cookie", cookie);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn search_api_counts_limits_and_refuses(db: Db) {
    let app = spawn_app(db, 0).await;
    add_user(&app, "ann", Role::Editor).await;
    let (s, root) = app
        .post_json("/api/v1/tasks", json!({"title": "Batch"}))
        .await;
    assert_eq!(s, 201, "{root}");
    for i in 0..60 {
        let (s, t) = app
            .post_json(
                "/api/v1/tasks",
                json!({"title": format!("batch item {i}"), "parent_id": root["id"]}),
            )
            .await;
        assert_eq!(s, 201, "{t}");
        if i % 20 == 0 {
            let (s, _) = send(
                &app,
                "PATCH",
                &format!("/api/v1/tasks/{}", t["id"].as_str().unwrap()),
                Some(json!({"assignee": "ann", "labels": ["infra"]})),
            )
            .await;
            assert_eq!(s, 200);
        }
    }
    let (s, found) = app
        .get_json("/api/v1/tasks/search?q=%22batch%20item%22&limit=10")
        .await;
    assert_eq!(s, 200, "{found}");
    assert_eq!(found["hits"].as_array().unwrap().len(), 10);
    assert_eq!(
        (found["more"].as_bool(), found["total"].as_i64()),
        (Some(true), Some(60))
    );
    assert_eq!(found["hits"][0]["path"][0]["title"], "Batch");
    let (_, found) = search(&app, "label:infra -assignee:bob item").await;
    assert_eq!(
        (found["total"].as_i64(), found["more"].as_bool()),
        (Some(3), Some(false))
    );

    // Refusals name what is wrong, and where.
    for (q, says) in [
        ("statsu:done", "no key"),
        ("status:late", "no status"),
        ("", "type something"),
        ("\"open", "never closed"),
        ("assignee:me", "signed-in person"),
    ] {
        let (s, e) = search(&app, q).await;
        assert_eq!(s, 400, "{q}: {e}");
        assert!(e["error"].as_str().unwrap().contains(says), "{q}: {e}");
    }
    let (s, e) = search(&app, &"x".repeat(501)).await;
    assert_eq!(s, 400, "{e}");
    for limit in ["0", "201", "x"] {
        let (s, _) = app
            .get_json(&format!("/api/v1/tasks/search?q=batch&limit={limit}"))
            .await;
        assert_eq!(s, 400, "limit {limit}");
    }

    // A person's `me` is their username.
    let cookie = sign_in(&app, "ann").await;
    let (s, mine) = as_person(
        &app,
        &cookie,
        "GET",
        "/api/v1/tasks/search?q=assignee:me",
        None,
    )
    .await;
    assert_eq!(s, 200, "{mine}");
    assert_eq!(mine["total"], 3);
    assert!(
        mine["hits"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["task"]["assignee"] == "ann" && h["task"]["blocked"].is_null())
    );
}

async fn saved_views_belong_to_their_person(db: Db) {
    let app = spawn_app(db, 0).await;
    add_user(&app, "ann", Role::Viewer).await;
    add_user(&app, "bob", Role::Editor).await;
    let ann = sign_in(&app, "ann").await;
    let bob = sign_in(&app, "bob").await;

    // A token is nobody: it keeps no views.
    let (s, e) = app.get_json("/api/v1/views").await;
    assert_eq!(s, 400, "{e}");
    assert!(e["error"].as_str().unwrap().contains("person"), "{e}");

    let (s, v) = as_person(
        &app,
        &ann,
        "PUT",
        "/api/v1/views/My%20work",
        Some(json!({"filter": "  status:doing   label:infra ", "layout": "board"})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (&v["name"], &v["filter"], &v["layout"]),
        (
            &json!("My work"),
            &json!("status:doing label:infra"),
            &json!("board")
        )
    );
    // The same name replaces; a bad filter or name changes nothing.
    let (s, _) = as_person(
        &app,
        &ann,
        "PUT",
        "/api/v1/views/My%20work",
        Some(json!({"filter": "assignee:me"})),
    )
    .await;
    assert_eq!(s, 200);
    for (path, body) in [
        ("/api/v1/views/My%20work", json!({"filter": "status:late"})),
        ("/api/v1/views/My%20work", json!({"filter": "   "})),
        ("/api/v1/views/%20", json!({"filter": "x"})),
        (
            "/api/v1/views/My%20work",
            json!({"filter": "x", "layout": "table"}),
        ),
        (
            "/api/v1/views/My%20work",
            json!({"filter": "x", "extra": 1}),
        ),
    ] {
        let (s, e) = as_person(&app, &ann, "PUT", path, Some(body.clone())).await;
        assert!(s == 400 || s == 422, "{body}: {s} {e}");
    }
    let (s, list) = as_person(&app, &ann, "GET", "/api/v1/views", None).await;
    assert_eq!(s, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(
        (&list[0]["filter"], &list[0]["layout"]),
        (&json!("assignee:me"), &json!("outline"))
    );
    // Nobody else sees or deletes them.
    let (_, others) = as_person(&app, &bob, "GET", "/api/v1/views", None).await;
    assert_eq!(others, json!([]));
    let (s, _) = as_person(&app, &bob, "DELETE", "/api/v1/views/My%20work", None).await;
    assert_eq!(s, 404);
    // At most 50 views each.
    for i in 1..50 {
        let (s, e) = as_person(
            &app,
            &ann,
            "PUT",
            &format!("/api/v1/views/v{i}"),
            Some(json!({"filter": "x"})),
        )
        .await;
        assert_eq!(s, 200, "{i}: {e}");
    }
    let (s, e) = as_person(
        &app,
        &ann,
        "PUT",
        "/api/v1/views/one-more",
        Some(json!({"filter": "x"})),
    )
    .await;
    assert_eq!(s, 409, "{e}");
    let (s, _) = as_person(
        &app,
        &ann,
        "PUT",
        "/api/v1/views/v1",
        Some(json!({"filter": "y"})),
    )
    .await;
    assert_eq!(s, 200, "replacing one is not one more");
    let (s, _) = as_person(&app, &ann, "DELETE", "/api/v1/views/My%20work", None).await;
    assert_eq!(s, 204);
    let (s, _) = as_person(&app, &ann, "DELETE", "/api/v1/views/My%20work", None).await;
    assert_eq!(s, 404);
}

/// Runs the migrations before `version` on the database at `url`.
async fn migrate_before(db: Db, url: &str, version: u32) {
    let backend = match db {
        Db::Sqlite => "sqlite",
        Db::Postgres => "postgres",
    };
    let dir = common::temp_dir("history");
    for entry in std::fs::read_dir(common::root().join("migrations").join(backend)).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name[..4].parse::<u32>().unwrap() < version {
            std::fs::copy(&path, dir.join(&name)).unwrap();
        }
    }
    let migrator = sqlx::migrate::Migrator::new(dir.as_path()).await.unwrap();
    let rows = [
        "INSERT INTO tree_tasks (id, parent_id, position, title, notes, status, child_count, \
         done_count, created_at, updated_at, labels) VALUES \
         ('old', NULL, 1, 'Migrate the Ledger', 'from the mainframe', 'doing', 0, 0, 1, 1, 'infra')",
        "INSERT INTO tree_task_labels (label, task_id) VALUES ('infra', 'old')",
        "INSERT INTO labels (name, color, created_at) VALUES ('infra', '#0f766e', 1)",
    ];
    if url.starts_with("sqlite:") {
        let opts: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
        let pool = sqlx::SqlitePool::connect_with(opts.create_if_missing(true))
            .await
            .unwrap();
        migrator.run(&pool).await.unwrap();
        for r in rows {
            sqlx::query(r).execute(&pool).await.unwrap();
        }
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        migrator.run(&pool).await.unwrap();
        for r in rows {
            sqlx::query(r).execute(&pool).await.unwrap();
        }
        pool.close().await;
    }
}

async fn a_forest_from_before_the_index_is_found_after_the_upgrade(db: Db) {
    let dir = common::temp_dir("upgrade");
    let url = common::fresh_database(db, &dir).await;
    migrate_before(db, &url, 32).await;
    let s: Arc<dyn Store> = engine::store::connect(&url).await.expect("upgraded");
    let q = |f: &str| FilterQuery {
        filter: Filter::parse(f).unwrap(),
        me: None,
        today: TODAY,
    };
    for f in [
        "ledger",
        "MAINFRAME",
        "label:infra status:doing",
        "label:infra",
    ] {
        let (found, total) = s.tree_filter(&q(f), 10).await.unwrap();
        assert_eq!((found.len(), total), (1, 1), "{f}");
    }
    let (_, none) = s
        .tree_filter(&q("label:infra status:todo"), 10)
        .await
        .unwrap();
    assert_eq!(none, 0, "the pair took its task's status");
    // And it goes on following edits.
    let patch = TreePatch {
        status: Some(Status::Todo),
        title: Some("Retire the Ledger".into()),
        ..Default::default()
    };
    s.tree_update("old", &patch, 2).await.unwrap();
    let (found, _) = s
        .tree_filter(&q("retire label:infra status:todo"), 10)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    let (_, gone) = s.tree_filter(&q("migrate"), 10).await.unwrap();
    assert_eq!(gone, 0);
}
