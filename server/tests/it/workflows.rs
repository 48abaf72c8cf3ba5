//! Workflows end to end on both databases: real `orchard worker` processes offering real
//! commands as handlers, a chain, a map over an upstream list gathered by a chord, a step
//! retried after exit 75, definitions refused with the problem named, and a step whose
//! output is not JSON failing its run with that said.

use crate::common::{self, Db, spawn_app, start_worker_with};
use serde_json::{Value, json};

common::both!(
    a_map_and_a_chain_run_on_worker_handlers,
    bad_definitions_and_bad_outputs_are_refused_plainly,
    cancel_and_timeout_stop_a_steps_processes,
    a_worker_killed_mid_step_leaves_no_process_behind,
    steps_retry_as_their_policy_says,
    a_fleet_limit_bounds_steps_across_workers,
);

const PY_RANGE: &str =
    "range=python3 -c 'import json,sys; print(json.dumps(list(range(json.load(sys.stdin)))))'";
const PY_SQUARE: &str = "square=python3 -c 'import json,sys; x=json.load(sys.stdin); print(x*x)'";
const PY_SUM: &str = "sum=python3 -c 'import json,sys; print(sum(json.load(sys.stdin)))'";
const PY_ADD: &str = "add=python3 -c 'import json,sys; d=json.load(sys.stdin); print(\"adding\", file=sys.stderr); print(d[\"x\"]+d[\"y\"])'";
const PY_ECHO: &str = "echo=python3 -c 'import sys; print(sys.stdin.read())'";
/// Writes a log line now and then before its output.
const SH_TICKER: &str =
    "ticker=sh -c 'cat >/dev/null; for i in 1 2 3; do echo tick $i >&2; sleep 0.3; done; echo 1'";
/// Asks to be run again on its first attempt, then doubles its input.
const SH_FLAKY: &str = "flaky=sh -c 'read x; if [ \"$ORCHARD_ATTEMPT\" = 1 ]; then echo busy >&2; exit 75; fi; echo $((x * 2))'";
/// Asks to be run again until its fourth attempt.
const SH_STUBBORN: &str = "stubborn=sh -c 'read x; if [ \"$ORCHARD_ATTEMPT\" -lt 4 ]; then echo not yet >&2; exit 75; fi; echo $x'";
const SH_NOT_JSON: &str = "notjson=sh -c 'cat >/dev/null; echo hello there'";

fn handlers() -> Vec<&'static str> {
    [
        PY_RANGE,
        PY_SQUARE,
        PY_SUM,
        PY_ADD,
        PY_ECHO,
        SH_FLAKY,
        SH_STUBBORN,
        SH_NOT_JSON,
        SH_TICKER,
    ]
    .iter()
    .flat_map(|h| ["--handler", *h])
    .collect()
}

async fn submit(app: &common::TestApp, steps: Value) -> (u16, Value) {
    app.post_json(
        "/api/v1/jobs",
        json!({"kind": "workflow", "params": {"steps": steps}}),
    )
    .await
}

async fn a_map_and_a_chain_run_on_worker_handlers(db: Db) {
    let app = spawn_app(db, 0).await;
    let mut worker = start_worker_with(&app.base, "hands", 4, &handlers());
    let (status, job) = submit(
        &app,
        json!([
            {"id": "gen", "handler": "range", "input": 5},
            {"id": "sq", "handler": "square", "map": {"$output": "gen"}},
            {"id": "total", "handler": "sum", "input": {"$output": "sq"}},
            {"id": "a", "handler": "add", "input": {"x": 1, "y": 2}},
            {"id": "b", "handler": "flaky", "input": {"$output": "a"}},
            {"id": "report", "handler": "echo",
             "input": {"total": {"$output": "total"}, "b": {"$output": "b"},
                       "squares": {"$output": "sq"}, "raw": {"$literal": {"$output": "a"}}}},
        ]),
    )
    .await;
    assert_eq!(status, 201, "{job}");
    assert_eq!(job["kind"], "workflow");
    let d = app.wait_for_job(job["id"].as_str().unwrap(), 90).await;
    assert_eq!(d["state"], "succeeded", "{d}");
    assert_eq!(
        d["result"],
        json!({"total": 30, "b": 6, "squares": [0, 1, 4, 9, 16], "raw": {"$output": "a"}})
    );
    // Six steps and the five the map added, each done once; b ran twice.
    assert_eq!(d["progress"]["done"], 11, "{d}");
    assert_eq!(d["progress"]["total"], 11);
    // The Workers page's API shows what the worker offers.
    let (_, workers) = app.get_json("/api/v1/workers").await;
    let hands = workers
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == "hands")
        .unwrap_or_else(|| panic!("{workers}"));
    assert_eq!(
        hands["handlers"],
        json!([
            "add", "echo", "flaky", "notjson", "range", "square", "stubborn", "sum", "ticker"
        ])
    );
    // The steps API lists them in plan order, map children by index, two at a time.
    let id = job["id"].as_str().unwrap();
    let (mut seen, mut cursor) = (Vec::new(), String::new());
    loop {
        let (status, page) = app
            .get_json(&format!("/api/v1/jobs/{id}/steps?limit=2&cursor={cursor}"))
            .await;
        assert_eq!(status, 200, "{page}");
        seen.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 11);
    assert!(
        seen.iter()
            .all(|s| s["state"] == "succeeded" && s["waiting_reason"].is_null())
    );
    let step = |name: &str| seen.iter().find(|s| s["id"] == name).unwrap().clone();
    assert_eq!(step("b")["attempts"], 2, "retried after exit 75");
    assert_eq!(step("sq[3]")["output"], 9);
    assert_eq!(step("sq[3]")["handler"], "square");
    assert_eq!(step("total")["output"], 30);
    // Each attempt keeps its log: what the step wrote beside its output line.
    let log = |path: String| {
        let http = app.http.clone();
        let url = app.url(&path);
        async move {
            let r = http.get(url).send().await.unwrap();
            assert_eq!(r.status(), 200, "{path}");
            r.text().await.unwrap()
        }
    };
    assert_eq!(
        log(format!("/api/v1/jobs/{id}/steps/a/log")).await,
        "adding\n"
    );
    assert_eq!(
        log(format!("/api/v1/jobs/{id}/steps/b/log?attempt=1")).await,
        "busy\n"
    );
    assert_eq!(log(format!("/api/v1/jobs/{id}/steps/b/log")).await, "");
    assert_eq!(
        log(format!("/api/v1/jobs/{id}/steps/sq%5B2%5D/log")).await,
        ""
    );
    let (status, _) = app
        .get_json(&format!("/api/v1/jobs/{id}/steps/nope/log"))
        .await;
    assert_eq!(status, 404);
    let (status, e) = app
        .post_json(&format!("/api/v1/jobs/{id}/steps/a/retry"), json!({}))
        .await;
    assert_eq!(status, 409, "a step that succeeded is not retried: {e}");
    // A running step's log can be followed as it grows, a line per event.
    let (_, live) = submit(
        &app,
        json!([{"id": "t", "handler": "ticker", "input": null}]),
    )
    .await;
    let url = app.url(&format!(
        "/api/v1/jobs/{}/steps/t/log?follow=1",
        live["id"].as_str().unwrap()
    ));
    let body = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        app.http.get(url).send().await.unwrap().text(),
    )
    .await
    .expect("the stream ends with the step")
    .unwrap();
    let ticks: Vec<&str> = body.lines().filter(|l| l.starts_with("data:")).collect();
    assert_eq!(
        ticks,
        ["data: tick 1", "data: tick 2", "data: tick 3"],
        "{body}"
    );
    let _ = worker.kill();
    let _ = worker.wait();
    app.running.stop().await;
}

async fn bad_definitions_and_bad_outputs_are_refused_plainly(db: Db) {
    let app = spawn_app(db, 0).await;
    for (steps, says) in [
        (
            json!([{"id": "a", "handler": "add", "after": ["b"]}, {"id": "b", "handler": "add", "after": ["a"]}]),
            "cycle",
        ),
        (
            json!([{"id": "a", "handler": "add", "input": {"$output": "nope"}}]),
            "\"nope\", which is not a step",
        ),
        (
            json!([{"id": "a", "handler": "add"}, {"id": "a", "handler": "add"}]),
            "appears twice",
        ),
        (json!([{"id": "a/b", "handler": "add"}]), "step id"),
        (
            json!([{"id": "a", "handler": "add", "retry": {"max_attempts": 0}}]),
            "step a: retry.max_attempts must be between 1 and 100",
        ),
        (
            json!([{"id": "a", "handler": "add", "retry": {"backoff_base_ms": 50, "backoff_max_ms": 10}}]),
            "backoff_max_ms must not be less",
        ),
        (
            json!([{"id": "a", "handler": "add", "retry": {"attempts": 2}}]),
            "unknown field `attempts`",
        ),
    ] {
        let (status, e) = submit(&app, steps.clone()).await;
        assert!(status == 400 || status == 422, "{steps}: {status} {e}");
        assert!(
            e["error"].as_str().unwrap_or_default().contains(says),
            "{steps}: {e}"
        );
    }
    let (_, jobs) = app.get_json("/api/v1/jobs").await;
    assert_eq!(jobs.as_array().unwrap().len(), 0, "nothing was made");

    let mut worker = start_worker_with(&app.base, "hands", 2, &handlers());
    let (_, bad) = submit(&app, json!([{"id": "n", "handler": "notjson", "input": 1}])).await;
    let d = app.wait_for_job(bad["id"].as_str().unwrap(), 60).await;
    assert_eq!(d["state"], "failed", "{d}");
    assert!(d["error"].as_str().unwrap().contains("not JSON"), "{d}");
    // A failed step can be run again (here it fails again the same way).
    let bad_id = bad["id"].as_str().unwrap();
    let (status, again) = app
        .post_json(&format!("/api/v1/jobs/{bad_id}/steps/n/retry"), json!({}))
        .await;
    assert_eq!(status, 200, "{again}");
    assert!(
        again["state"] == "ready" || again["state"] == "running",
        "{again}"
    );
    let d = app.wait_for_job(bad_id, 60).await;
    assert_eq!(d["state"], "failed", "{d}");
    let (_, not_list) = submit(
        &app,
        json!([{"id": "a", "handler": "add", "input": {"x": 1, "y": 1}},
               {"id": "m", "handler": "square", "map": {"$output": "a"}}]),
    )
    .await;
    let d = app.wait_for_job(not_list["id"].as_str().unwrap(), 60).await;
    assert_eq!(d["state"], "failed", "{d}");
    assert!(
        d["error"].as_str().unwrap().contains("not a JSON array"),
        "{d}"
    );
    // A step whose handler no live worker offers says so instead of sitting silently.
    let (_, orphan) = submit(
        &app,
        json!([{"id": "lonely", "handler": "nobody", "input": 1}]),
    )
    .await;
    let id = orphan["id"].as_str().unwrap();
    let (status, page) = app.get_json(&format!("/api/v1/jobs/{id}/steps")).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"][0]["state"], "ready");
    assert_eq!(
        page["items"][0]["waiting_reason"],
        "no worker offers handler \"nobody\""
    );
    let (status, e) = app
        .get_json(&format!("/api/v1/jobs/{id}/steps?cursor=x"))
        .await;
    assert_eq!(status, 400, "{e}");
    let _ = worker.kill();
    let _ = worker.wait();
    app.running.stop().await;
}

/// A worker offering `sleeper`, a step that starts a grandchild, writes its pid to the file
/// returned, and waits for it.
fn sleeper_worker(
    app: &common::TestApp,
    tag: &str,
    name: &str,
    concurrency: u32,
) -> (std::process::Child, std::path::PathBuf) {
    let pidfile = common::temp_dir(tag).join("pid");
    let sleeper = format!(
        "sleeper=sh -c 'cat >/dev/null; sleep 300 & echo $! > {}; wait'",
        pidfile.display()
    );
    let worker = start_worker_with(&app.base, name, concurrency, &["--handler", &sleeper]);
    (worker, pidfile)
}

/// The pid a step wrote to `file` once it started.
async fn started(file: &std::path::Path) -> i32 {
    for _ in 0..300 {
        if let Some(p) = std::fs::read_to_string(file)
            .ok()
            .and_then(|t| t.trim().parse::<i32>().ok())
        {
            return p;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the step never started");
}

/// Whether process `pid` is gone within ten seconds.
async fn ends(pid: i32) -> bool {
    for _ in 0..100 {
        if gone(pid) {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}

/// Whether a process is gone (or a zombie waiting for its reaper).
fn gone(pid: i32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.is_empty() || stat.contains(") Z ")
}

async fn cancel_and_timeout_stop_a_steps_processes(db: Db) {
    let app = spawn_app(db, 0).await;
    let (mut worker, pidfile) = sleeper_worker(&app, "steps", "hands", 2);
    let (_, job) = submit(
        &app,
        json!([{"id": "s", "handler": "sleeper", "input": null}]),
    )
    .await;
    let id = job["id"].as_str().unwrap().to_string();
    let pid = started(&pidfile).await;
    assert!(!gone(pid));
    let (status, _) = app
        .post_json(&format!("/api/v1/jobs/{id}/cancel"), json!({}))
        .await;
    assert_eq!(status, 200);
    // Cancelled within two seconds, grandchild included (waited for up to ten).
    let stopped = ends(pid).await;
    assert!(
        stopped,
        "the cancelled step's process {pid} is still running"
    );

    // A step over its timeout is stopped, and fails its run after its attempts.
    let (_, job) = submit(
        &app,
        json!([{"id": "slow", "handler": "sleeper", "input": null, "timeout_s": 1}]),
    )
    .await;
    let d = app.wait_for_job(job["id"].as_str().unwrap(), 90).await;
    assert_eq!(d["state"], "failed", "{d}");
    assert!(d["error"].as_str().unwrap().contains("timed out"), "{d}");
    let last: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        gone(last),
        "a timed-out step's process {last} is still running"
    );
    let _ = worker.kill();
    let _ = worker.wait();
    app.running.stop().await;
}

async fn a_worker_killed_mid_step_leaves_no_process_behind(db: Db) {
    let app = spawn_app(db, 0).await;
    let (mut worker, pidfile) = sleeper_worker(&app, "orphans", "doomed", 1);
    let (_, job) = submit(
        &app,
        json!([{"id": "s", "handler": "sleeper", "input": null}]),
    )
    .await;
    let pid = started(&pidfile).await;
    common::signal(&worker, "-KILL");
    let _ = worker.wait();
    let stopped = ends(pid).await;
    assert!(stopped, "step process {pid} outlived its killed worker");
    // The run goes on: another worker takes the step once its lease has expired.
    let (status, _) = app
        .post_json(
            &format!("/api/v1/jobs/{}/cancel", job["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    app.running.stop().await;
}

/// Every example in `examples/` runs on a worker offering `examples/handlers.toml` and gives
/// the result its README promises.
#[tokio::test]
async fn the_examples_give_what_their_readme_says() {
    let app = spawn_app(Db::Sqlite, 0).await;
    let mut worker = std::process::Command::new(env!("CARGO_BIN_EXE_orchard"))
        .args([
            "worker",
            "--server",
            &app.base,
            "--name",
            "examples",
            "--concurrency",
            "4",
        ])
        .args([
            "--token",
            common::SERVICE_TOKEN,
            "--handlers",
            "examples/handlers.toml",
        ])
        .current_dir(common::root())
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn orchard worker");
    for (file, result) in [
        ("chain.json", json!(32)),
        ("group.json", json!([2, 4, 6])),
        ("chord.json", json!(12)),
        ("map.json", json!(285)),
        ("pipeline.json", json!(18)),
    ] {
        let body: Value = serde_json::from_str(
            &std::fs::read_to_string(common::root().join("examples").join(file)).unwrap(),
        )
        .unwrap();
        let (status, job) = app.post_json("/api/v1/jobs", body).await;
        assert_eq!(status, 201, "{file}: {job}");
        let d = app.wait_for_job(job["id"].as_str().unwrap(), 60).await;
        assert_eq!(d["state"], "succeeded", "{file}: {d}");
        assert_eq!(d["result"], result, "{file}");
    }
    let _ = worker.kill();
    let _ = worker.wait();
    app.running.stop().await;
}

/// `orchard run FILE --follow` submits a run and follows it to its end, its exit status from
/// the outcome; `orchard runs list` and `show` list runs and steps.
#[tokio::test]
async fn the_cli_runs_and_follows_workflows() {
    let app = spawn_app(Db::Sqlite, 0).await;
    let root = common::root();
    let mut worker = std::process::Command::new(env!("CARGO_BIN_EXE_orchard"))
        .args([
            "worker",
            "--server",
            &app.base,
            "--name",
            "cli",
            "--concurrency",
            "2",
        ])
        .args([
            "--token",
            common::SERVICE_TOKEN,
            "--handlers",
            "examples/handlers.toml",
        ])
        .current_dir(&root)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn orchard worker");
    let orchard = |args: &[&str]| {
        let base = app.base.clone();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let root = root.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                std::process::Command::new(env!("CARGO_BIN_EXE_orchard"))
                    .args(&args)
                    .args(["--server", &base, "--token", common::SERVICE_TOKEN])
                    .current_dir(root)
                    .env("RUST_LOG", "warn")
                    .output()
                    .unwrap()
            })
            .await
            .unwrap()
        }
    };
    let ok = orchard(&["run", "examples/chain.json", "--follow"]).await;
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(
        out.contains("submitted") && out.contains("2 of 2 steps done"),
        "{out}"
    );
    assert_eq!(out.lines().last().unwrap().trim(), "32", "{out}");

    let dir = common::temp_dir("cli-run");
    let bad = dir.join("bad.json");
    std::fs::write(
        &bad,
        r#"{"steps": [{"id": "oops", "handler": "add", "input": {"x": 1}}]}"#,
    )
    .unwrap();
    let failed = orchard(&["run", bad.to_str().unwrap(), "--follow"]).await;
    assert_eq!(failed.status.code(), Some(1));
    let err = String::from_utf8_lossy(&failed.stderr);
    assert!(err.contains("failed") && err.contains("KeyError"), "{err}");
    let refused = dir.join("refused.json");
    std::fs::write(
        &refused,
        r#"{"steps": [{"id": "a", "handler": "add", "after": ["a"]}]}"#,
    )
    .unwrap();
    let no = orchard(&["run", refused.to_str().unwrap()]).await;
    assert!(!no.status.success());
    assert!(String::from_utf8_lossy(&no.stderr).contains("comes after itself"));

    let list = orchard(&["runs", "list"]).await;
    let listed = String::from_utf8_lossy(&list.stdout);
    assert_eq!(listed.lines().count(), 3, "a header and two runs: {listed}");
    let id = listed
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let show = orchard(&["runs", "show", &id]).await;
    let shown = String::from_utf8_lossy(&show.stdout);
    assert!(
        shown.contains("oops") && shown.contains("failed"),
        "{shown}"
    );
    let logs = orchard(&["runs", "logs", &id, "oops"]).await;
    let logged = String::from_utf8_lossy(&logs.stdout);
    assert!(logged.contains("KeyError"), "{logged}");
    let _ = worker.kill();
    let _ = worker.wait();
    app.running.stop().await;
}

/// A step's own retry policy: how many attempts it gets and how long it waits between them;
/// a map's runs follow their map's.
async fn steps_retry_as_their_policy_says(db: Db) {
    let app = spawn_app(db, 0).await;
    let mut worker = start_worker_with(&app.base, "hands", 4, &handlers());
    let patient = json!({"max_attempts": 4, "backoff_base_ms": 10, "backoff_max_ms": 40});
    let (status, job) = submit(
        &app,
        json!([
            {"id": "p", "handler": "stubborn", "input": 7, "retry": patient},
            {"id": "gen", "handler": "range", "input": 2},
            {"id": "m", "handler": "stubborn", "map": {"$output": "gen"}, "retry": patient},
        ]),
    )
    .await;
    assert_eq!(status, 201, "{job}");
    let id = job["id"].as_str().unwrap();
    let d = app.wait_for_job(id, 90).await;
    assert_eq!(d["state"], "succeeded", "{d}");
    let (_, page) = app.get_json(&format!("/api/v1/jobs/{id}/steps")).await;
    let attempts = |step: &str| {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == step)
            .unwrap_or_else(|| panic!("{step}: {page}"))["attempts"]
            .clone()
    };
    assert_eq!(attempts("p"), 4, "{page}");
    assert_eq!(attempts("m[0]"), 4, "{page}");
    assert_eq!(attempts("m[1]"), 4, "{page}");
    // With two attempts allowed, the same step fails its run after the second.
    let (_, hasty) = submit(
        &app,
        json!([{"id": "h", "handler": "stubborn", "input": 1,
                "retry": {"max_attempts": 2, "backoff_base_ms": 10}}]),
    )
    .await;
    let hid = hasty["id"].as_str().unwrap();
    let d = app.wait_for_job(hid, 60).await;
    assert_eq!(d["state"], "failed", "{d}");
    let (_, page) = app.get_json(&format!("/api/v1/jobs/{hid}/steps")).await;
    assert_eq!(page["items"][0]["state"], "failed", "{page}");
    assert_eq!(page["items"][0]["attempts"], 2, "{page}");
    // The jobs list filters by kind, state and handler.
    let ids = |v: Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|j| j["id"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, failed) = app
        .get_json("/api/v1/jobs?kind=workflow&state=failed")
        .await;
    assert_eq!(ids(failed), [hid]);
    let (_, mapped) = app.get_json("/api/v1/jobs?handler=range").await;
    assert_eq!(ids(mapped), [id]);
    let (_, none) = app.get_json("/api/v1/jobs?kind=noop").await;
    assert_eq!(ids(none), Vec::<String>::new());
    let (status, e) = app.get_json("/api/v1/jobs?state=bogus").await;
    assert_eq!(status, 400, "{e}");
    let _ = worker.kill();
    let _ = worker.wait();
    app.running.stop().await;
}

/// Two workers offer `gpu` under the fleet limit `gpu:2`: of eight such steps, never more
/// than two run at once across both, though each worker alone has room for four.
async fn a_fleet_limit_bounds_steps_across_workers(db: Db) {
    let app = spawn_app(db, 0).await;
    let file = std::env::temp_dir().join(format!(
        "orchard-limits-{}-{}.toml",
        std::process::id(),
        uuid::Uuid::new_v4()
    ));
    std::fs::write(
        &file,
        "[[handler]]\nname = \"gpu\"\ncommand = [\"sh\", \"-c\", \"cat >/dev/null; sleep 0.4; echo 1\"]\n\
         limit = \"gpu:2\"\n",
    )
    .unwrap();
    let path = file.display().to_string();
    let mut workers: Vec<_> = ["g1", "g2"]
        .iter()
        .map(|n| start_worker_with(&app.base, n, 4, &["--handlers", &path]))
        .collect();
    let steps: Vec<Value> = (0..8)
        .map(|i| json!({"id": format!("s{i}"), "handler": "gpu", "input": i}))
        .collect();
    let (status, job) = submit(&app, json!(steps)).await;
    assert_eq!(status, 201, "{job}");
    let id = job["id"].as_str().unwrap();
    let d = app.wait_for_job(id, 90).await;
    assert_eq!(d["state"], "succeeded", "{d}");
    let (_, page) = app.get_json(&format!("/api/v1/jobs/{id}/steps")).await;
    // Each step held its lease from its start to its finish; count the overlaps.
    let mut edges: Vec<(i64, i64)> = Vec::new();
    for s in page["items"].as_array().unwrap() {
        edges.push((s["started_at"].as_i64().unwrap(), 1));
        edges.push((s["finished_at"].as_i64().unwrap(), -1));
    }
    edges.sort();
    let (mut now, mut most) = (0, 0);
    for (_, d) in edges {
        now += d;
        most = most.max(now);
    }
    assert!(most <= 2, "{most} steps ran at once: {page}");
    assert_eq!(most, 2, "the limit allows two at once: {page}");
    for w in &mut workers {
        let _ = w.kill();
        let _ = w.wait();
    }
    let _ = std::fs::remove_file(&file);
    app.running.stop().await;
}
