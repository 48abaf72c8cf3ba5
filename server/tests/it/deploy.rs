//! The deployment files (Dockerfile, compose, Kubernetes, Prometheus, Grafana, GitHub
//! Actions) cannot run here, so this keeps them honest: every environment variable they set
//! for Orchard is one the code reads and the README documents, every port and path agrees
//! with the settings and the build, every probe and scrape path is answered by a real server
//! or worker, and every image name and command matches what is built and released.

use crate::common;

use common::{Db, spawn_app, start_worker_with, wait_exit};
use serde_yaml::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn yaml(rel: &str) -> Value {
    let mut v: Value = serde_yaml::from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    v.apply_merge().unwrap();
    v
}

/// Every document of a multi-document YAML file.
fn yaml_docs(rel: &str) -> Vec<Value> {
    let text = read(rel);
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap_or_else(|e| panic!("{rel}: {e}")))
        .collect()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v:?}"))
}

/// Quoted names following `marker` in a source text.
fn quoted_after(text: &str, marker: &str) -> Vec<String> {
    text.match_indices(marker)
        .filter_map(|(i, _)| {
            let rest = text[i + marker.len()..].trim_start().strip_prefix('"')?;
            Some(rest.split('"').next()?.to_string())
        })
        .collect()
}

/// Environment variables the code reads: clap `env = "…"`, `std::env::var("…")`, `RUST_LOG`
/// through `EnvFilter`, and the `AWS_*` variables the S3 file store names.
fn vars_the_code_reads() -> BTreeSet<String> {
    let mut vars = BTreeSet::new();
    for f in [
        "server/src/config.rs",
        "server/src/run_cmd.rs",
        "server/src/telemetry.rs",
        "engine/src/files.rs",
    ] {
        let text = read(f);
        vars.extend(quoted_after(&text, "env = "));
        vars.extend(quoted_after(&text, "env::var("));
        if text.contains("EnvFilter::try_from_default_env") {
            vars.insert("RUST_LOG".into());
        }
        if f.ends_with("files.rs") {
            assert!(text.contains("AmazonS3Builder::from_env"));
            for w in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if w.starts_with("AWS_") {
                    vars.insert(w.to_string());
                }
            }
        }
    }
    assert!(vars.contains("ORCHARD_ADDR") && vars.contains("DATABASE_URL"));
    vars
}

/// The variables named in the README's configuration section.
fn vars_in_readme() -> BTreeSet<String> {
    let readme = read("README.md");
    let start = readme
        .find("## Configuration")
        .expect("configuration section");
    let section = &readme[start..];
    let end = section[3..]
        .find("\n## ")
        .map(|i| i + 3)
        .unwrap_or(section.len());
    section[..end]
        .split('`')
        .filter(|w| {
            !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .map(String::from)
        .collect()
}

fn assert_known_vars(origin: &str, vars: impl IntoIterator<Item = String>) {
    let code = vars_the_code_reads();
    let readme = vars_in_readme();
    for v in vars {
        assert!(code.contains(&v), "{origin}: {v} is not read by Orchard");
        assert!(
            readme.contains(&v),
            "{origin}: {v} is not in the README configuration"
        );
    }
}

fn port_of(addr: &str) -> u16 {
    addr.rsplit(':').next().unwrap().parse().unwrap()
}

/// The Dockerfile's instructions, continuation lines joined, comments dropped.
fn dockerfile() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in read("Dockerfile").lines() {
        let t = line.trim();
        if t.starts_with('#') || (t.is_empty() && current.is_empty()) {
            continue;
        }
        if let Some(head) = t.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
            continue;
        }
        current.push_str(t);
        let (op, rest) = current.split_once(' ').unwrap_or((&current, ""));
        out.push((op.to_uppercase(), rest.trim().to_string()));
        current.clear();
    }
    out
}

fn docker_env() -> BTreeMap<String, String> {
    dockerfile()
        .into_iter()
        .filter(|(op, _)| op == "ENV")
        .flat_map(|(_, rest)| {
            rest.split_whitespace()
                .map(|kv| {
                    let (k, v) = kv.split_once('=').expect("ENV KEY=value");
                    (k.to_string(), v.to_string())
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The leptos build settings from Cargo.toml's workspace metadata.
fn leptos_metadata() -> toml_lite::Table {
    toml_lite::leptos_metadata(&read("Cargo.toml"))
}

/// Just enough TOML reading for `[[workspace.metadata.leptos]]` key = "value" lines.
mod toml_lite {
    pub type Table = std::collections::BTreeMap<String, String>;
    pub fn leptos_metadata(text: &str) -> Table {
        let start = text
            .find("[[workspace.metadata.leptos]]")
            .expect("leptos metadata");
        text[start..]
            .lines()
            .skip(1)
            .take_while(|l| !l.starts_with('['))
            .filter_map(|l| {
                let (k, v) = l.split_once('=')?;
                Some((k.trim().to_string(), v.trim().trim_matches('"').to_string()))
            })
            .collect()
    }
}

#[test]
fn dockerfile_builds_and_runs_what_the_code_expects() {
    let ins = dockerfile();
    let meta = leptos_metadata();
    let froms: Vec<&String> = ins
        .iter()
        .filter(|(o, _)| o == "FROM")
        .map(|(_, r)| r)
        .collect();
    assert_eq!(froms.len(), 2, "multi-stage: build and runtime");
    assert!(froms[0].starts_with("rust:") && froms[0].ends_with(" AS build"));
    assert!(froms[1].contains("-slim"), "slim runtime: {}", froms[1]);
    // The build uses the project's own tools and release target.
    let runs: Vec<&String> = ins
        .iter()
        .filter(|(o, _)| o == "RUN")
        .map(|(_, r)| r)
        .collect();
    assert!(runs.iter().any(|r| r.contains("scripts/bootstrap")));
    assert!(runs.iter().any(|r| r.contains("make release")));
    let makefile = read("Makefile");
    assert!(makefile.contains("release: bootstrap\n\tcargo leptos build --release"));
    // Every COPY from the context names something in the repository.
    for (_, rest) in ins
        .iter()
        .filter(|(o, r)| o == "COPY" && !r.starts_with("--from"))
    {
        let parts: Vec<&str> = rest.split_whitespace().collect();
        for src in &parts[..parts.len() - 1] {
            assert!(
                root().join(src).exists(),
                "COPY {src}: not in the repository"
            );
        }
    }
    // The runtime copies the binary and the site from where cargo-leptos puts them, and the
    // settings point at the copies.
    let copies: BTreeMap<String, String> = ins
        .iter()
        .filter(|(o, r)| o == "COPY" && r.starts_with("--from=build"))
        .map(|(_, r)| {
            let p: Vec<&str> = r.split_whitespace().collect();
            (p[1].to_string(), p[2].to_string())
        })
        .collect();
    let exe = format!("/src/target/release/{}", meta["bin-exe-name"]);
    assert!(copies.contains_key(&exe), "{copies:?}");
    let site = format!("/src/{}", meta["site-root"]);
    let env = docker_env();
    assert_eq!(env["ORCHARD_SITE_ROOT"], copies[&site]);
    assert_eq!(env["ORCHARD_LEPTOS_TOML"], copies["/src/Leptos.toml"]);
    assert!(env["DATABASE_URL"].starts_with(&format!("sqlite:{}", env["ORCHARD_DATA_DIR"])));
    assert_known_vars("Dockerfile", env.keys().cloned());
    // Port, health check, user, entry point.
    let port = port_of(&env["ORCHARD_ADDR"]);
    assert!(
        env["ORCHARD_ADDR"].starts_with("0.0.0.0:"),
        "listen beyond loopback"
    );
    let expose: Vec<u16> = ins
        .iter()
        .filter(|(o, _)| o == "EXPOSE")
        .map(|(_, r)| r.parse().unwrap())
        .collect();
    assert_eq!(expose, vec![port]);
    let health = ins
        .iter()
        .find(|(o, _)| o == "HEALTHCHECK")
        .map(|(_, r)| r.clone())
        .expect("HEALTHCHECK");
    assert!(
        health.contains(&format!("http://127.0.0.1:{port}/readyz")),
        "{health}"
    );
    let user = ins
        .iter()
        .rev()
        .find(|(o, _)| o == "USER")
        .expect("USER")
        .1
        .clone();
    assert!(!user.starts_with("root") && !user.starts_with('0'));
    assert!(
        runs.iter()
            .any(|r| r.contains("useradd") && r.contains("orchard"))
    );
    assert!(ins.contains(&(
        "ENTRYPOINT".into(),
        format!("[\"{}\"]", meta["bin-exe-name"])
    )));
    assert!(ins.contains(&("CMD".into(), "[\"serve\"]".into())));
    let ignore = read(".dockerignore");
    for p in ["target/", "node_modules/", "data/", ".git/"] {
        assert!(ignore.lines().any(|l| l == p), ".dockerignore lacks {p}");
    }
}

/// Compose: the services the design names, seed 001's front/back split, and settings that
/// agree with each other and with the code.
#[test]
fn compose_stack_is_consistent() {
    let c = yaml("deploy/compose.yaml");
    let services = c["services"].as_mapping().unwrap();
    let names: BTreeSet<&str> = services.keys().map(s).collect();
    for want in [
        "orchard",
        "worker",
        "postgres",
        "s3",
        "prometheus",
        "grafana",
        "node-exporter",
        "cadvisor",
    ] {
        assert!(names.contains(want), "compose lacks {want}");
    }
    let svc = |n: &str| &c["services"][n];
    // Networks: only Orchard's web port and Grafana are published, both on `front`; the
    // `back` network is internal.
    assert_eq!(c["networks"]["back"]["internal"], Value::Bool(true));
    for (name, def) in services {
        let nets: Vec<&str> = def["networks"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{} names no network", s(name)))
            .iter()
            .map(s)
            .collect();
        let published = def.get("ports").is_some();
        assert_eq!(
            published,
            ["orchard", "grafana"].contains(&s(name)),
            "{} publishes ports",
            s(name)
        );
        assert_eq!(nets.contains(&"front"), published, "{} on front", s(name));
    }
    // Orchard's containers: the image built from the Dockerfile, variables the code reads.
    let image = s(&svc("orchard")["image"]);
    assert_eq!(s(&svc("worker")["image"]), image);
    assert_eq!(s(&svc("orchard")["build"]["dockerfile"]), "Dockerfile");
    let context = root()
        .join("deploy")
        .join(s(&svc("orchard")["build"]["context"]));
    assert!(context.join("Dockerfile").exists());
    let env_of = |n: &str| -> BTreeMap<String, String> {
        svc(n)["environment"]
            .as_mapping()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(x) => x.clone(),
                    other => serde_yaml::to_string(other).unwrap().trim().to_string(),
                };
                (s(k).to_string(), v)
            })
            .collect()
    };
    let server_env = env_of("orchard");
    let worker_env = env_of("worker");
    assert_known_vars("compose orchard", server_env.keys().cloned());
    assert_known_vars("compose worker", worker_env.keys().cloned());
    let web_port = port_of(&server_env["ORCHARD_ADDR"]);
    let ports: Vec<&str> = svc("orchard")["ports"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(s)
        .collect();
    assert_eq!(ports, vec![format!("{web_port}:{web_port}")]);
    assert_eq!(
        worker_env["ORCHARD_SERVER"],
        format!("http://orchard:{web_port}")
    );
    assert!(server_env["DATABASE_URL"].starts_with("postgres://"));
    assert!(server_env["DATABASE_URL"].contains("@postgres:5432/"));
    assert_eq!(svc("worker")["command"][0], Value::from("worker"));
    assert_eq!(svc("worker")["deploy"]["replicas"], Value::from(2));
    let metrics_port = port_of(&worker_env["ORCHARD_WORKER_METRICS_ADDR"]);
    let worker_check = svc("worker")["healthcheck"]["test"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(s)
        .collect::<Vec<_>>()
        .join(" ");
    assert!(worker_check.contains(&format!("http://127.0.0.1:{metrics_port}/healthz")));
    // Both sides use the same bucket and S3 endpoint.
    for env in [&server_env, &worker_env] {
        assert!(env["ORCHARD_FILES"].starts_with("s3://orchard/"));
        assert_eq!(env["AWS_ENDPOINT"], "http://s3:9000");
    }
    // Prometheus scrapes what the services serve.
    let prom = yaml("deploy/prometheus/prometheus.yml");
    let jobs: BTreeMap<&str, &Value> = prom["scrape_configs"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|j| (s(&j["job_name"]), j))
        .collect();
    for (job, service, port) in [
        ("orchard", "orchard", web_port),
        ("orchard-worker", "worker", metrics_port),
    ] {
        let sd = &jobs[job]["dns_sd_configs"][0];
        assert_eq!(sd["names"][0], Value::from(service));
        assert_eq!(sd["port"], Value::from(port));
        assert_eq!(jobs[job]["metrics_path"], Value::from("/metrics"));
    }
    for j in ["node", "cadvisor"] {
        let target = s(&jobs[j]["static_configs"][0]["targets"][0]);
        let host = target.split(':').next().unwrap();
        assert!(names.contains(host), "{j} scrapes {target}");
    }
    // Mounted folders exist; Grafana's provisioning points at where the dashboards are.
    let mut mounts = BTreeMap::new();
    for svc_name in ["prometheus", "grafana"] {
        for v in svc(svc_name)["volumes"].as_sequence().unwrap() {
            let v = s(v);
            if let Some(rel) = v.strip_prefix("./") {
                let (src, dst) = rel.split_once(':').unwrap();
                assert!(root().join("deploy").join(src).is_dir(), "{v}");
                mounts.insert(src.to_string(), dst.split(':').next().unwrap().to_string());
            }
        }
    }
    let provider = yaml("deploy/grafana/provisioning/dashboards/orchard.yml");
    assert_eq!(
        s(&provider["providers"][0]["options"]["path"]),
        mounts["grafana/dashboards"]
    );
    assert_eq!(mounts["grafana/provisioning"], "/etc/grafana/provisioning");
    let datasource = yaml("deploy/grafana/provisioning/datasources/prometheus.yml");
    assert_eq!(
        s(&datasource["datasources"][0]["url"]),
        "http://prometheus:9090"
    );
    assert_eq!(mounts["prometheus"], "/etc/prometheus");
    let home = s(&svc("grafana")["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]);
    let home_file = home
        .strip_prefix(&format!("{}/", mounts["grafana/dashboards"]))
        .unwrap();
    assert!(
        root()
            .join("deploy/grafana/dashboards")
            .join(home_file)
            .exists()
    );
    // Every dashboard queries the provisioned data source.
    let uid = s(&datasource["datasources"][0]["uid"]);
    for f in std::fs::read_dir(root().join("deploy/grafana/dashboards")).unwrap() {
        let d: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(f.unwrap().path()).unwrap()).unwrap();
        let mut ids = BTreeSet::new();
        for p in d["panels"].as_array().unwrap() {
            assert_eq!(p["datasource"]["uid"], uid);
            assert!(ids.insert(p["id"].as_i64().unwrap()), "duplicate panel id");
        }
    }
}

/// The manifests of one kind, by name.
fn k8s_objects() -> Vec<Value> {
    let kustomization = yaml("deploy/k8s/kustomization.yaml");
    let mut out = Vec::new();
    for r in kustomization["resources"].as_sequence().unwrap() {
        out.extend(yaml_docs(&format!("deploy/k8s/{}", s(r))));
    }
    out
}

fn find<'a>(objs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objs.iter()
        .find(|o| o["kind"] == *kind && o["metadata"]["name"] == *name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

#[test]
fn kubernetes_manifests_are_consistent() {
    let objs = k8s_objects();
    let kustomization = yaml("deploy/k8s/kustomization.yaml");
    // Image: the manifests say `orchard`, the kustomization maps it to the released image.
    let img = &kustomization["images"][0];
    assert_eq!(img["name"], Value::from("orchard"));
    assert!(s(&img["newName"]).starts_with("ghcr.io/") && s(&img["newName"]).ends_with("/orchard"));
    assert_eq!(s(&img["newTag"]), env!("CARGO_PKG_VERSION"));
    let config = find(&objs, "ConfigMap", "orchard-config");
    let secret = find(&objs, "Secret", "orchard-secrets");
    let mut vars: Vec<String> = config["data"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| s(k).to_string())
        .collect();
    vars.extend(
        secret["stringData"]
            .as_mapping()
            .unwrap()
            .keys()
            .map(|k| s(k).to_string()),
    );
    assert_known_vars("k8s ConfigMap/Secret", vars);
    let cfg = |k: &str| s(&config["data"][k]).to_string();
    let secret_keys: BTreeSet<&str> = secret["stringData"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(s)
        .collect();
    assert!(secret_keys.contains("DATABASE_URL") && secret_keys.contains("ORCHARD_API_TOKEN"));
    let web_port = port_of(&cfg("ORCHARD_ADDR"));
    let metrics_port = port_of(&cfg("ORCHARD_WORKER_METRICS_ADDR"));

    let server = find(&objs, "Deployment", "orchard");
    let worker = find(&objs, "Deployment", "orchard-worker");
    let help = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_orchard"))
            .args(args)
            .arg("--help")
            .output()
            .unwrap();
        assert!(out.status.success(), "orchard {args:?} --help");
        String::from_utf8(out.stdout).unwrap()
    };
    for (dep, port, sub) in [
        (server, web_port, "serve"),
        (worker, metrics_port, "worker"),
    ] {
        let spec = &dep["spec"]["template"]["spec"];
        assert_eq!(spec["securityContext"]["runAsNonRoot"], Value::Bool(true));
        let c = &spec["containers"][0];
        assert_eq!(c["image"], Value::from("orchard"));
        let args: Vec<&str> = c["args"].as_sequence().unwrap().iter().map(s).collect();
        assert_eq!(args[0], sub);
        let usage = help(&[sub]);
        for flag in args.iter().filter(|a| a.starts_with("--")) {
            assert!(usage.contains(flag), "orchard {sub} has no {flag}");
        }
        let ports = c["ports"].as_sequence().unwrap();
        assert_eq!(ports[0]["containerPort"], Value::from(port));
        let port_name = s(&ports[0]["name"]);
        let annotations = &dep["spec"]["template"]["metadata"]["annotations"];
        assert_eq!(s(&annotations["prometheus.io/port"]), port.to_string());
        assert_eq!(s(&annotations["prometheus.io/path"]), "/metrics");
        for probe in ["livenessProbe", "readinessProbe"] {
            if let Some(p) = c.get(probe) {
                assert_eq!(s(&p["httpGet"]["port"]), port_name);
            }
        }
        let from: BTreeSet<&str> = c["envFrom"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|e| {
                s(e.get("configMapRef")
                    .or(e.get("secretRef"))
                    .map(|r| &r["name"])
                    .unwrap())
            })
            .collect();
        assert_eq!(from, BTreeSet::from(["orchard-config", "orchard-secrets"]));
    }
    let sc = &server["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(s(&sc["readinessProbe"]["httpGet"]["path"]), "/readyz");
    assert_eq!(s(&sc["livenessProbe"]["httpGet"]["path"]), "/healthz");
    let wc = &worker["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(s(&wc["livenessProbe"]["httpGet"]["path"]), "/healthz");
    // The read-only root file system leaves the server a writable data folder.
    let data_mount = s(&sc["volumeMounts"][0]["mountPath"]);
    assert_eq!(data_mount, docker_env()["ORCHARD_DATA_DIR"]);

    // Services select the pods and reach their named ports; workers find the server.
    let svc = find(&objs, "Service", "orchard");
    assert_eq!(
        svc["spec"]["selector"],
        server["spec"]["selector"]["matchLabels"]
    );
    assert_eq!(svc["spec"]["ports"][0]["port"], Value::from(web_port));
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], Value::from("http"));
    assert_eq!(cfg("ORCHARD_SERVER"), format!("http://orchard:{web_port}"));
    let wsvc = find(&objs, "Service", "orchard-worker-metrics");
    assert_eq!(
        wsvc["spec"]["selector"],
        worker["spec"]["selector"]["matchLabels"]
    );
    let pdb = find(&objs, "PodDisruptionBudget", "orchard");
    assert_eq!(
        pdb["spec"]["selector"]["matchLabels"],
        server["spec"]["selector"]["matchLabels"]
    );
    // Ingress: TLS from cert-manager, routed to the server's Service.
    let ing = find(&objs, "Ingress", "orchard");
    assert!(ing["metadata"]["annotations"]["cert-manager.io/cluster-issuer"].is_string());
    let host = s(&ing["spec"]["tls"][0]["hosts"][0]);
    assert_eq!(s(&ing["spec"]["rules"][0]["host"]), host);
    let backend = &ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"];
    assert_eq!(backend["name"], Value::from("orchard"));
    assert_eq!(backend["port"]["name"], Value::from("http"));
    assert!(read("README.md").contains("## Running at scale"));
}

#[test]
fn github_workflows_test_and_release() {
    let ci = yaml(".github/workflows/ci.yml");
    let on = &ci["on"];
    assert!(on.get("push").is_some() && on.get("pull_request").is_some());
    let makefile = read("Makefile");
    let runs: Vec<String> = ci["jobs"]["test"]["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|st| st.get("run").map(|r| s(r).to_string()))
        .collect();
    assert!(runs.iter().any(|r| r.trim() == "make test"));
    for r in &runs {
        for target in r
            .split_whitespace()
            .skip_while(|w| *w != "make")
            .skip(1)
            .take(1)
        {
            assert!(
                makefile.contains(&format!("\n{target}:")),
                "no make target {target}"
            );
        }
    }
    // The CI container's Rust is the one the Dockerfile builds with.
    let ci_image = s(&ci["jobs"]["test"]["container"]["image"]);
    let build_from = dockerfile()
        .into_iter()
        .find(|(o, _)| o == "FROM")
        .unwrap()
        .1;
    assert_eq!(build_from.split_whitespace().next().unwrap(), ci_image);

    let rel = yaml(".github/workflows/release.yml");
    let tags: Vec<&str> = rel["on"]["push"]["tags"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(s)
        .collect();
    assert_eq!(tags, vec!["v[0-9]+.[0-9]+.[0-9]+"], "semver tags only");
    assert_eq!(rel["permissions"]["packages"], Value::from("write"));
    let steps = rel["jobs"]["image"]["steps"].as_sequence().unwrap();
    let step = |uses: &str| {
        steps
            .iter()
            .find(|st| st.get("uses").is_some_and(|u| s(u).starts_with(uses)))
            .unwrap_or_else(|| panic!("no {uses} step"))
    };
    assert_eq!(
        s(&step("docker/metadata-action")["with"]["images"]),
        "ghcr.io/${{ github.repository }}"
    );
    let build = &step("docker/build-push-action")["with"];
    assert_eq!(build["push"], Value::Bool(true));
    assert!(root().join(s(&build["file"])).exists());
    assert!(s(&step("docker/metadata-action")["with"]["tags"]).contains("type=semver"));
}

/// The probe, health-check and scrape paths of every file are answered by a real server and
/// a real `orchard worker --metrics-addr`.
#[tokio::test]
async fn probed_and_scraped_paths_are_served() {
    let objs = k8s_objects();
    let server_paths: BTreeSet<String> = {
        let c = &find(&objs, "Deployment", "orchard")["spec"]["template"]["spec"]["containers"][0];
        let mut p: BTreeSet<String> = ["livenessProbe", "readinessProbe"]
            .iter()
            .map(|k| s(&c[*k]["httpGet"]["path"]).to_string())
            .collect();
        p.insert("/metrics".into());
        let health = dockerfile()
            .into_iter()
            .find(|(o, _)| o == "HEALTHCHECK")
            .unwrap()
            .1;
        let url = health
            .split('"')
            .find(|w| w.starts_with("http://"))
            .unwrap();
        p.insert(format!("/{}", url.splitn(4, '/').nth(3).unwrap()));
        p
    };
    let worker_paths: BTreeSet<String> = {
        let c = &find(&objs, "Deployment", "orchard-worker")["spec"]["template"]["spec"]["containers"]
            [0];
        let compose = yaml("deploy/compose.yaml");
        let check = compose["services"]["worker"]["healthcheck"]["test"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(s)
            .find(|w| w.starts_with("http://"))
            .unwrap()
            .to_string();
        BTreeSet::from([
            s(&c["livenessProbe"]["httpGet"]["path"]).to_string(),
            "/metrics".to_string(),
            format!("/{}", check.splitn(4, '/').nth(3).unwrap()),
        ])
    };
    let app = spawn_app(Db::Sqlite, 0).await;
    for p in &server_paths {
        let r = app.http.get(app.url(p)).send().await.unwrap();
        assert_eq!(r.status(), 200, "server {p}");
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut w = start_worker_with(&app.base, "probed", 1, &["--metrics-addr", &addr]);
    for p in &worker_paths {
        let mut ok = false;
        for _ in 0..100 {
            if let Ok(r) = app.http.get(format!("http://{addr}{p}")).send().await {
                assert_eq!(r.status(), 200, "worker {p}");
                ok = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(ok, "worker never answered {p}");
    }
    common::signal(&w, "-TERM");
    assert!(wait_exit(&mut w, 20).await.success());
    app.running.stop().await;
}

/// The dashboards' JSON is what `deploy/grafana/generate.py` writes (edit the generator).
#[test]
fn dashboards_match_their_generator() {
    let out = Command::new("python3")
        .arg(root().join("deploy/grafana/generate.py"))
        .arg("--check")
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
