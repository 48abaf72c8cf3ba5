//! Monitoring as a user of Prometheus and Grafana sees it: `/metrics` of a server that ran a
//! job, parsed by a Prometheus text parser and linted by `promtool check metrics`; the same
//! from an `orchard worker --metrics-addr`; every metric the dashboards and alert rules query
//! is exported (with the label values they select); and JSON logs carry request, job and
//! worker ids.

use crate::common;

use common::{Db, spawn_app, start_worker_with, temp_dir, wait_exit};
use prometheus_parse::{Scrape, Value};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// One exported family: its type and every label set it has samples for.
#[derive(Debug, Default)]
struct Family {
    kind: String,
    series: Vec<BTreeMap<String, String>>,
}

/// Parses an exposition with `prometheus-parse` into families by name.
fn parse(text: &str) -> BTreeMap<String, Family> {
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("parses");
    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    for name in scrape.docs.keys() {
        families.entry(name.clone()).or_default();
    }
    for s in &scrape.samples {
        // `_sum` and `_count` of histograms come back as separate untyped samples.
        let (name, kind) = match &s.value {
            Value::Counter(_) => (s.metric.clone(), "counter"),
            Value::Gauge(_) => (s.metric.clone(), "gauge"),
            Value::Histogram(_) => (s.metric.clone(), "histogram"),
            Value::Summary(_) => (s.metric.clone(), "summary"),
            Value::Untyped(_) => {
                let base = s
                    .metric
                    .strip_suffix("_sum")
                    .or_else(|| s.metric.strip_suffix("_count"))
                    .unwrap_or(&s.metric);
                assert!(
                    scrape.docs.contains_key(base),
                    "sample {} belongs to no documented family",
                    s.metric
                );
                continue;
            }
        };
        let f = families.entry(name).or_default();
        f.kind = kind.to_string();
        f.series.push(
            s.labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        );
    }
    families
}

/// Runs `promtool check metrics` (Prometheus's own parser and naming lint) on an exposition.
fn promtool_check_metrics(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian's prometheus package; run scripts/bootstrap --test)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Checks Prometheus naming conventions on every family.
fn assert_conventions(families: &BTreeMap<String, Family>) {
    for (name, f) in families {
        assert!(name.starts_with("orchard_"), "{name}: no orchard_ prefix");
        match f.kind.as_str() {
            "counter" => assert!(name.ends_with("_total"), "counter {name} lacks _total"),
            "histogram" => assert!(name.ends_with("_seconds"), "histogram {name}: unit?"),
            _ => assert!(
                !name.ends_with("_total"),
                "{name} is a {} named like a counter",
                f.kind
            ),
        }
    }
}

fn value_of(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
            Value::Histogram(ref h) => h.last().map(|b| b.count).unwrap_or(0.0),
            Value::Summary(_) => 0.0,
        })
        .sum()
}

async fn scrape(http: &reqwest::Client, url: &str) -> String {
    let r = http.get(url).send().await.expect("scrape");
    assert_eq!(r.status(), 200);
    let ct = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    r.text().await.unwrap()
}

/// The families point 1 of the monitoring design asks for, with their type and labels.
const SERVER_FAMILIES: &[(&str, &str, &[&str])] = &[
    (
        "orchard_http_requests_total",
        "counter",
        &["method", "route", "status"],
    ),
    (
        "orchard_http_request_duration_seconds",
        "histogram",
        &["method", "route"],
    ),
    ("orchard_jobs", "gauge", &["state"]),
    ("orchard_job_tasks", "gauge", &["state"]),
    ("orchard_jobs_finished_total", "counter", &["state"]),
    ("orchard_queue_oldest_ready_age_seconds", "gauge", &[]),
    ("orchard_lease_expiries_total", "counter", &[]),
    ("orchard_lease_expiry_failures_total", "counter", &[]),
    ("orchard_job_task_retries_total", "counter", &["phase"]),
    ("orchard_job_task_duration_seconds", "histogram", &["phase"]),
    ("orchard_workers", "gauge", &["health"]),
    ("orchard_sse_clients", "gauge", &[]),
    ("orchard_db_pool_connections", "gauge", &["state"]),
    ("orchard_build_info", "gauge", &["version"]),
    (
        "orchard_worker_tasks_claimed_total",
        "counter",
        &["worker_id", "phase"],
    ),
    (
        "orchard_worker_tasks_finished_total",
        "counter",
        &["worker_id", "phase", "outcome"],
    ),
    (
        "orchard_worker_task_duration_seconds",
        "histogram",
        &["phase", "outcome"],
    ),
    ("orchard_worker_tasks_running", "gauge", &["worker_id"]),
    ("orchard_worker_info", "gauge", &["worker_id", "name"]),
    (
        "orchard_worker_lease_call_errors_total",
        "counter",
        &["call"],
    ),
    (
        "orchard_worker_lease_call_duration_seconds",
        "histogram",
        &["call"],
    ),
];

fn assert_family(families: &BTreeMap<String, Family>, name: &str, kind: &str, labels: &[&str]) {
    let f = families
        .get(name)
        .unwrap_or_else(|| panic!("{name} is not exported"));
    assert!(!f.series.is_empty(), "{name} has no samples");
    assert_eq!(f.kind, kind, "{name}");
    for s in &f.series {
        let got: BTreeSet<&str> = s.keys().map(String::as_str).collect();
        let want: BTreeSet<&str> = labels.iter().copied().collect();
        assert_eq!(got, want, "labels of {name}");
    }
}

/// A server with in-process workers runs a job, one is cancelled, one fails validation;
/// then `/metrics` has every family with real figures.
async fn server_that_ran_jobs() -> (common::TestApp, String) {
    let app = spawn_app(Db::Sqlite, 2).await;
    let id = app.create_job(2, 12, 50).await;
    let done = app.wait_for_job(&id, 60).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    // A job cancelled while its tasks wait (W=1 keeps most of them queued).
    let (_, big) = app
        .post_json(
            "/api/v1/jobs",
            json!({"kind": "noop", "params": {"tasks": 2000, "workers": 1}}),
        )
        .await;
    let big = big["id"].as_str().unwrap().to_string();
    let (status, _) = app
        .post_json(&format!("/api/v1/jobs/{big}/cancel"), json!({}))
        .await;
    assert_eq!(status, 200);

    let (status, _) = app.post_json("/api/v1/jobs", json!({"kind": "nope"})).await;
    assert_eq!(status, 400);
    let (status, _) = app.get_json("/api/v1/jobs/no-such-job").await;
    assert_eq!(status, 404);
    // A worker records a task's end just after the store does: scrape until both agree.
    let mut text = String::new();
    for _ in 0..100 {
        text = scrape(&app.http, &app.url("/metrics")).await;
        let done = value_of(&text, "orchard_job_tasks", &[("state", "done")]);
        let completed = value_of(
            &text,
            "orchard_worker_tasks_finished_total",
            &[("outcome", "completed")],
        );
        if done == completed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (app, text)
}

#[tokio::test]
async fn server_metrics_parse_and_cover_every_required_family() {
    let (app, text) = server_that_ran_jobs().await;
    let families = parse(&text);
    for (name, kind, labels) in SERVER_FAMILIES {
        assert_family(&families, name, kind, labels);
    }
    assert_conventions(&families);
    promtool_check_metrics(&text);

    // The figures describe what happened.
    let tasks_done = value_of(&text, "orchard_job_tasks", &[("state", "done")]);
    assert!(tasks_done >= 1.0, "{text}");
    assert_eq!(
        value_of(
            &text,
            "orchard_jobs_finished_total",
            &[("state", "succeeded")]
        ),
        1.0
    );
    assert_eq!(
        value_of(
            &text,
            "orchard_jobs_finished_total",
            &[("state", "cancelled")]
        ),
        1.0
    );
    let completed_by_workers = value_of(
        &text,
        "orchard_worker_tasks_finished_total",
        &[("outcome", "completed")],
    );
    assert_eq!(
        completed_by_workers, tasks_done,
        "every done task was completed by this server's in-process workers"
    );
    assert_eq!(
        value_of(&text, "orchard_workers", &[("health", "healthy")]),
        1.0
    );
    assert!(
        value_of(
            &text,
            "orchard_http_requests_total",
            &[
                ("route", "/api/v1/jobs"),
                ("method", "POST"),
                ("status", "400")
            ]
        ) >= 1.0,
        "requests are counted by matched route and status:\n{text}"
    );
    assert_eq!(
        value_of(
            &text,
            "orchard_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );
    app.running.stop().await;
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `orchard worker --metrics-addr` serves its own `/metrics` with what it ran.
#[tokio::test]
async fn worker_process_serves_its_metrics() {
    let app = spawn_app(Db::Sqlite, 0).await;
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut w = start_worker_with(&app.base, "metered", 2, &["--metrics-addr", &addr]);
    let id = app.create_job(2, 10, 20).await;
    let done = app.wait_for_job(&id, 60).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    let total = done["progress"]["total"].as_f64().unwrap();
    let (_, workers) = app.get_json("/api/v1/workers").await;
    let worker_id = workers
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == "metered")
        .expect("registered")["id"]
        .as_str()
        .unwrap()
        .to_string();

    let text = scrape(&app.http, &format!("http://{addr}/metrics")).await;
    let families = parse(&text);
    for (name, kind, labels) in SERVER_FAMILIES
        .iter()
        .filter(|(n, ..)| n.starts_with("orchard_worker_") || *n == "orchard_build_info")
    {
        assert_family(&families, name, kind, labels);
    }
    assert_conventions(&families);
    promtool_check_metrics(&text);
    assert_eq!(
        value_of(
            &text,
            "orchard_worker_tasks_finished_total",
            &[("worker_id", &worker_id), ("outcome", "completed")]
        ),
        total,
        "the worker ran every task of the job:\n{text}"
    );
    assert_eq!(
        value_of(
            &text,
            "orchard_worker_tasks_claimed_total",
            &[("worker_id", &worker_id)]
        ),
        total
    );
    assert_eq!(
        value_of(
            &text,
            "orchard_worker_tasks_running",
            &[("worker_id", &worker_id)]
        ),
        0.0
    );
    assert_eq!(
        value_of(
            &text,
            "orchard_worker_info",
            &[("worker_id", &worker_id), ("name", "metered")]
        ),
        1.0
    );
    let r = app
        .http
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    common::signal(&w, "-TERM");
    assert!(wait_exit(&mut w, 20).await.success());
    app.running.stop().await;
}

/// A wrong `--metrics-addr` stops the worker at once with a clear message.
#[tokio::test]
async fn worker_refuses_a_metrics_address_in_use() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_orchard"))
        .args([
            "worker",
            "--server",
            "http://127.0.0.1:9",
            "--metrics-addr",
            &addr,
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("for metrics"), "{err}");
}

/// A label matcher: label, operator (`=`, `!=`, `=~`, `!~`), value.
type Matcher = (String, String, String);

/// Metric selectors in PromQL: `name{label="value", …}` or a bare `name`.
fn selectors(expr: &str) -> Vec<(String, Vec<Matcher>)> {
    let mut out = Vec::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i] as char;
        if c == '"' {
            // Skip string literals (label values, regexes).
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += 1;
            }
            i += 1;
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            let word = &expr[start..i];
            let prev = expr[..start].trim_end();
            // Labels inside by (…)/without (…) or a selector are not metric names.
            let in_grouping = prev.ends_with('(')
                && ["by", "without"]
                    .iter()
                    .any(|k| prev[..prev.len() - 1].trim_end().ends_with(k));
            if !(word.starts_with("orchard_") || word == "up") || in_grouping {
                continue;
            }
            let mut matchers = Vec::new();
            if expr[i..].starts_with('{') {
                let end = i + expr[i..].find('}').expect("closing brace");
                for m in expr[i + 1..end].split(',') {
                    let m = m.trim();
                    for op in ["=~", "!~", "!=", "="] {
                        if let Some((l, v)) = m.split_once(op) {
                            matchers.push((
                                l.trim().to_string(),
                                op.to_string(),
                                v.trim().trim_matches('"').to_string(),
                            ));
                            break;
                        }
                    }
                }
                i = end + 1;
            }
            out.push((word.to_string(), matchers));
            continue;
        }
        i += 1;
    }
    out
}

/// Every PromQL expression of the dashboards (by file and panel) and the alert rules.
fn queries() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let dir = root().join("deploy/grafana/dashboards");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 3, "Overview, Jobs & queue, Workers");
    for f in files {
        let d: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        for p in d["panels"].as_array().unwrap() {
            for t in p["targets"].as_array().unwrap() {
                let expr = t["expr"].as_str().unwrap().replace("$instance", ".*");
                out.push((
                    format!("{} / {}", f.display(), p["title"].as_str().unwrap()),
                    expr,
                ));
            }
        }
    }
    for f in std::fs::read_dir(root().join("deploy/prometheus/rules")).unwrap() {
        let f = f.unwrap().path();
        let y: serde_yaml::Value =
            serde_yaml::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        for g in y["groups"].as_sequence().unwrap() {
            for r in g["rules"].as_sequence().unwrap() {
                out.push((
                    format!("{} / {}", f.display(), r["alert"].as_str().unwrap_or("?")),
                    r["expr"].as_str().unwrap().to_string(),
                ));
            }
        }
    }
    out
}

/// Every metric a dashboard panel or an alert rule queries is exported by a server that ran
/// a job (or by a worker process, whose families the server also exports for its own
/// workers), with the labels the query matches on — and every equality matcher selects a
/// series that exists. The expressions are valid PromQL (promtool parses them as rules).
#[tokio::test]
async fn dashboards_and_alerts_query_metrics_that_exist() {
    let (app, text) = server_that_ran_jobs().await;
    let families = parse(&text);
    let all = queries();
    assert!(all.len() > 20, "{all:?}");
    for (origin, expr) in &all {
        let sels = selectors(expr);
        assert!(!sels.is_empty(), "{origin}: no metric in {expr}");
        for (name, matchers) in sels {
            if name == "up" {
                continue; // Prometheus's own series for each scrape target
            }
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .filter(|b| families.get(*b).is_some_and(|f| f.kind == "histogram"))
                .unwrap_or(&name);
            let f = families
                .get(base)
                .unwrap_or_else(|| panic!("{origin}: {name} is not exported ({expr})"));
            for (label, op, value) in matchers {
                let label_ok = label == "instance"
                    || label == "job"
                    || (label == "le" && f.kind == "histogram")
                    || f.series.iter().any(|s| s.contains_key(&label));
                assert!(label_ok, "{origin}: {base} has no label {label}");
                if op == "=" && label != "instance" && label != "job" {
                    assert!(
                        f.series.iter().any(|s| s.get(&label) == Some(&value)),
                        "{origin}: no {base} series with {label}=\"{value}\""
                    );
                }
            }
        }
    }
    // promtool parses each expression (as a recording rule).
    let dir = temp_dir("promql");
    let rules: Vec<serde_yaml::Value> = all
        .iter()
        .enumerate()
        .map(|(i, (_, e))| {
            serde_yaml::to_value(json!({"record": format!("orchard:check_{i}"), "expr": e}))
                .unwrap()
        })
        .collect();
    let doc = json!({"groups": [{"name": "dashboards", "rules": rules}]});
    let file = dir.join("dashboards.yml");
    std::fs::write(&file, serde_yaml::to_string(&doc).unwrap()).unwrap();
    let out = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .expect("promtool");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    app.running.stop().await;
}

/// Reads JSON log lines until `pred` holds for one of them.
fn find_line(path: &Path, pred: impl Fn(&serde_json::Value) -> bool) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|l| {
        let v: serde_json::Value =
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {l}"));
        pred(&v).then_some(v)
    })
}

/// The named span's field, from a JSON line's `spans` list.
fn span_field<'a>(line: &'a serde_json::Value, span: &str, field: &str) -> Option<&'a str> {
    line["spans"]
        .as_array()?
        .iter()
        .find(|s| s["name"] == span)?
        .get(field)?
        .as_str()
}

/// With `ORCHARD_LOG_FORMAT=json`, a server and a worker process log one JSON object per
/// line, with the request id on request work and the job and worker ids on task work.
#[tokio::test]
async fn json_logs_carry_request_job_and_worker_ids() {
    let dir = temp_dir("logs");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let server_log = dir.join("server.log");
    let mut server = Command::new(env!("CARGO_BIN_EXE_orchard"))
        .args([
            "serve",
            "--addr",
            &format!("127.0.0.1:{port}"),
            "--workers",
            "0",
        ])
        .arg("--database-url")
        .arg(format!("sqlite:{}", dir.join("o.db").display()))
        .arg("--data-dir")
        .arg(&dir)
        .env("ORCHARD_LOG_FORMAT", "json")
        .env("ORCHARD_API_TOKEN", common::SERVICE_TOKEN)
        .env("RUST_LOG", "info")
        .stdout(std::fs::File::create(&server_log).unwrap())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let http = common::client(Some(common::SERVICE_TOKEN));
    let mut up = false;
    for _ in 0..100 {
        if http.get(format!("{base}/readyz")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "server did not start");
    let worker_log = dir.join("worker.log");
    let mut worker = Command::new(env!("CARGO_BIN_EXE_orchard"))
        .args(["worker", "--server", &base, "--name", "logger"])
        .args(["--token", common::SERVICE_TOKEN])
        .env("ORCHARD_LOG_FORMAT", "json")
        .env("RUST_LOG", "info,engine=debug")
        .stdout(std::fs::File::create(&worker_log).unwrap())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let r = http
        .post(format!("{base}/api/v1/jobs"))
        .header("x-request-id", "req-under-test")
        .json(&json!({"kind": "file_average", "params": {"workers": 1, "files": 3, "entries": 5}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["x-request-id"], "req-under-test");
    let job: serde_json::Value = r.json().await.unwrap();
    let job_id = job["id"].as_str().unwrap().to_string();
    let mut finished = false;
    for _ in 0..300 {
        let d: serde_json::Value = http
            .get(format!("{base}/api/v1/jobs/{job_id}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if d["state"] == "succeeded" {
            finished = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(finished, "job did not finish");
    common::signal(&worker, "-TERM");
    assert!(wait_exit(&mut worker, 20).await.success());
    common::signal(&server, "-TERM");
    assert!(wait_exit(&mut server, 20).await.success());

    // The server: the creation is logged inside the request's span, with its id.
    let created =
        find_line(&server_log, |l| l["message"] == "job created").expect("a 'job created' line");
    assert_eq!(created["job_id"], job_id.as_str());
    assert_eq!(
        span_field(&created, "request", "request_id"),
        Some("req-under-test"),
        "{created}"
    );
    let registered = find_line(&server_log, |l| l["message"] == "worker registered")
        .expect("a 'worker registered' line");
    let worker_id = registered["worker_id"].as_str().unwrap().to_string();
    assert!(
        span_field(&registered, "request", "request_id").is_some_and(|r| !r.is_empty()),
        "{registered}"
    );

    // The worker: every task line names the worker and the job.
    let task_line = find_line(&worker_log, |l| l["message"] == "task finished")
        .expect("a 'task finished' line");
    assert_eq!(
        span_field(&task_line, "worker", "worker_id"),
        Some(worker_id.as_str()),
        "{task_line}"
    );
    assert_eq!(
        span_field(&task_line, "task", "job_id"),
        Some(job_id.as_str()),
        "{task_line}"
    );
    assert_eq!(task_line["outcome"], "completed");
}
