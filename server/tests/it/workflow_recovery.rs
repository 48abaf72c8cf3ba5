//! Workflows under stress, on both databases with real `orchard worker` processes: a run
//! whose worker is killed outright mid-map and whose server is restarted still ends with
//! every step's output exactly once in its result; a map of 500 gathers every output in
//! order; a run made again with a changed input names the run it came from.

use crate::common::{self, Db, spawn_with, start_worker_with};
use serde_json::{Value, json};

common::both!(
    a_run_survives_a_killed_worker_and_a_restarted_server,
    a_map_of_500_gathers_every_output_and_runs_again_with_changes,
);

const SH_RANGE: &str = "range=sh -c 'read n; i=0; printf \"[\"; while [ $i -lt $n ]; do [ $i -gt 0 ] && printf \",\"; printf \"%d\" $i; i=$((i+1)); done; echo \"]\"'";
const SH_SLOW_DOUBLE: &str = "slowdouble=sh -c 'read x; sleep 0.3; echo $((x * 2))'";
const SH_SQUARE: &str = "square=sh -c 'read x; echo $((x * x))'";
const PY_SUM: &str = "sum=python3 -c 'import json,sys; print(sum(json.load(sys.stdin)))'";

fn flags() -> Vec<&'static str> {
    [SH_RANGE, SH_SLOW_DOUBLE, SH_SQUARE, PY_SUM]
        .iter()
        .flat_map(|h| ["--handler", *h])
        .collect()
}

async fn submit(app: &common::TestApp, steps: Value) -> String {
    let (status, job) = app
        .post_json(
            "/api/v1/jobs",
            json!({"kind": "workflow", "params": {"steps": steps}}),
        )
        .await;
    assert_eq!(status, 201, "{job}");
    job["id"].as_str().unwrap().to_string()
}

async fn a_run_survives_a_killed_worker_and_a_restarted_server(db: Db) {
    let dir = common::temp_dir("wf-recovery");
    let url = common::fresh_database(db, &dir).await;
    let settings = || {
        let mut s = common::settings(url.clone(), &dir, 0);
        // Leases of the killed worker expire soon after it dies.
        s.lease_secs = 2;
        s
    };
    let app = spawn_with(settings(), dir.clone()).await;
    let mut doomed = start_worker_with(&app.base, "doomed", 2, &flags());
    let id = submit(
        &app,
        json!([
            {"id": "gen", "handler": "range", "input": 12},
            {"id": "twice", "handler": "slowdouble", "map": {"$output": "gen"}},
            {"id": "total", "handler": "sum", "input": {"$output": "twice"}},
        ]),
    )
    .await;
    app.wait_until(&id, 60, |d| {
        d["progress"]["done"].as_i64().unwrap_or(0) >= 4
    })
    .await;
    common::signal(&doomed, "-KILL");
    let _ = doomed.wait();
    app.running.stop().await;

    let app = spawn_with(settings(), dir).await;
    let mut worker = start_worker_with(&app.base, "heir", 2, &flags());
    let d = app.wait_for_job(&id, 120).await;
    assert_eq!(d["state"], "succeeded", "{d}");
    assert_eq!(d["result"], (0..12).map(|x| 2 * x).sum::<i64>(), "{d}");
    let (_, page) = app.get_json(&format!("/api/v1/jobs/{id}/steps")).await;
    let items = page["items"].as_array().unwrap();
    // gen, the map, its 12 runs and the total: each once, each succeeded.
    assert_eq!(items.len(), 15, "{page}");
    assert!(items.iter().all(|s| s["state"] == "succeeded"), "{page}");
    for i in 0..12 {
        let run = items
            .iter()
            .find(|s| s["id"] == format!("twice[{i}]"))
            .unwrap_or_else(|| panic!("twice[{i}]: {page}"));
        assert_eq!(run["output"], 2 * i, "{run}");
    }
    let _ = worker.kill();
    let _ = worker.wait();
    app.running.stop().await;
}

async fn a_map_of_500_gathers_every_output_and_runs_again_with_changes(db: Db) {
    let dir = common::temp_dir("wf-500");
    let url = common::fresh_database(db, &dir).await;
    let app = spawn_with(common::settings(url, &dir, 0), dir).await;
    let mut worker = start_worker_with(&app.base, "many", 8, &flags());
    let steps = json!([
        {"id": "gen", "handler": "range", "input": 500},
        {"id": "sq", "handler": "square", "map": {"$output": "gen"}},
        {"id": "total", "handler": "sum", "input": {"$output": "sq"}},
    ]);
    let id = submit(&app, steps.clone()).await;
    let d = app.wait_for_job(&id, 180).await;
    assert_eq!(d["state"], "succeeded", "{d}");
    assert_eq!(d["result"], (0..500i64).map(|x| x * x).sum::<i64>(), "{d}");
    assert_eq!(d["progress"]["total"], 503, "{d}");

    // The same run again with gen's input changed: a new run that names this one.
    let mut changed = steps.clone();
    changed[0]["input"] = json!(10);
    let (status, again) = app
        .post_json(
            &format!("/api/v1/jobs/{id}/replay"),
            json!({"steps": changed}),
        )
        .await;
    assert_eq!(status, 201, "{again}");
    assert_eq!(again["replayed_from"], id.as_str(), "{again}");
    let d = app.wait_for_job(again["id"].as_str().unwrap(), 60).await;
    assert_eq!(d["result"], 285, "{d}");
    assert_eq!(d["replayed_from"], id.as_str(), "{d}");
    // A definition that does not hold is refused, and nothing is made.
    let (status, e) = app
        .post_json(
            &format!("/api/v1/jobs/{id}/replay"),
            json!({"steps": [{"id": "a", "handler": "sum", "after": ["a"]}]}),
        )
        .await;
    assert_eq!(status, 400, "{e}");
    let (_, jobs) = app.get_json("/api/v1/jobs").await;
    assert_eq!(jobs.as_array().unwrap().len(), 2, "{jobs}");
    let _ = worker.kill();
    let _ = worker.wait();
    app.running.stop().await;
}
