//! Test harness: a real server on port 0 with a fresh database (SQLite in a temp folder, or
//! a new database on the throwaway Postgres cluster named by `TEST_DATABASE_URL`).

use orchard_server::config::ServeSettings;
use orchard_server::serve::{Running, start};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Db {
    Sqlite,
    Postgres,
}

pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "orchard-test-{tag}-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The Postgres server for tests. `make test` starts a throwaway cluster and sets this.
pub fn pg_admin_url() -> String {
    std::env::var("TEST_DATABASE_URL").expect(
        "TEST_DATABASE_URL is not set: run the tests with `make test` (which starts a throwaway \
         Postgres cluster via scripts/with-postgres) or point it at a Postgres server",
    )
}

/// A URL for a fresh, empty database of the given kind.
pub async fn fresh_database(db: Db, dir: &std::path::Path) -> String {
    match db {
        Db::Sqlite => format!("sqlite:{}", dir.join("orchard.db").display()),
        Db::Postgres => {
            use sqlx::Connection;
            let admin = pg_admin_url();
            let name = format!("orchard_test_{}", uuid::Uuid::new_v4().simple());
            let mut conn = sqlx::PgConnection::connect(&admin)
                .await
                .expect("connect to test Postgres");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await
                .expect("create test database");
            let base = admin
                .rsplit_once('/')
                .map(|(b, _)| b.to_string())
                .unwrap_or(admin);
            format!("{base}/{name}")
        }
    }
}

/// The repository's root folder.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn settings(database_url: String, dir: &std::path::Path, workers: usize) -> ServeSettings {
    let root = root();
    let mut s = ServeSettings::from_env();
    s.addr = "127.0.0.1:0".parse().unwrap();
    s.db.database_url = database_url;
    s.data_dir = dir.to_path_buf();
    s.workers = Some(workers);
    s.site_root = Some(root.join("target/site").display().to_string());
    s.leptos_toml = root.join("Leptos.toml");
    // Tests call the API as the service (full access); access control has tests of its own.
    s.api_token = Some(SERVICE_TOKEN.into());
    s
}

/// The `ORCHARD_API_TOKEN` test servers run with; `TestApp::http` sends it.
pub const SERVICE_TOKEN: &str = "test-service-token-0123456789abcdef";

pub struct TestApp {
    pub running: Running,
    pub base: String,
    /// Sends the service token, when the server has one.
    pub http: reqwest::Client,
    /// Sends no credentials and does not follow redirects.
    pub anon: reqwest::Client,
    pub dir: PathBuf,
    pub database_url: String,
}

pub async fn spawn_with(s: ServeSettings, dir: PathBuf) -> TestApp {
    let database_url = s.db.database_url.clone();
    let running = start(&s).await.expect("server starts");
    TestApp {
        base: format!("http://{}", running.addr),
        running,
        http: client(s.api_token.as_deref()),
        anon: reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        dir,
        database_url,
    }
}

/// An HTTP client, with a bearer token on every request when given one.
pub fn client(token: Option<&str>) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(t) = token {
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {t}").parse().unwrap(),
        );
    }
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .default_headers(headers)
        .build()
        .unwrap()
}

pub async fn spawn_app(db: Db, workers: usize) -> TestApp {
    let dir = temp_dir("app");
    let url = fresh_database(db, &dir).await;
    spawn_with(settings(url, &dir, workers), dir).await
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let r = self.http.get(self.url(path)).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    pub async fn post_json(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        let r = self
            .http
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// A POST as a registered worker: the service token and the worker's own secret.
    pub async fn post_as_worker(
        &self,
        secret: &str,
        path: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let r = self
            .http
            .post(self.url(path))
            .header("x-orchard-worker-secret", secret)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// Polls a job until it is finished, failing the test after `secs`.
    pub async fn wait_for_job(&self, id: &str, secs: u64) -> serde_json::Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let (status, detail) = self.get_json(&format!("/api/v1/jobs/{id}")).await;
            assert_eq!(status, 200, "{detail}");
            let state = detail["state"].as_str().unwrap_or_default().to_string();
            if ["succeeded", "failed", "cancelled"].contains(&state.as_str()) {
                return detail;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "job {id} still {state}: {detail}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Polls a job's detail until `ready` holds, for at most `secs` (then goes on, so the
    /// test's own assertions say what was wrong).
    pub async fn wait_until(
        &self,
        id: &str,
        secs: u64,
        ready: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let (_, d) = self.get_json(&format!("/api/v1/jobs/{id}")).await;
            if ready(&d) || tokio::time::Instant::now() >= deadline {
                return d;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Recomputes a finished job's average in one pass and asserts it matches the result.
    pub async fn assert_verified(&self, id: &str) -> serde_json::Value {
        let (status, v) = self
            .post_json(&format!("/api/v1/jobs/{id}/verify"), serde_json::json!({}))
            .await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["matches"], true, "{v}");
        v
    }

    pub async fn create_job(&self, workers: u32, files: u32, entries: u32) -> String {
        let (status, job) = self
            .post_json(
                "/api/v1/jobs",
                serde_json::json!({"kind": "file_average", "params": {
                    "workers": workers, "files": files, "entries": entries, "seed": 7
                }}),
            )
            .await;
        assert_eq!(status, 201, "{job}");
        job["id"].as_str().unwrap().to_string()
    }
}

pub fn start_worker(base: &str, name: &str, concurrency: u32) -> Child {
    start_worker_with(base, name, concurrency, &[])
}

/// Starts a real `orchard worker` process; `extra` adds flags.
pub fn start_worker_with(base: &str, name: &str, concurrency: u32, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_orchard"))
        .args([
            "worker",
            "--server",
            base,
            "--name",
            name,
            "--concurrency",
            &concurrency.to_string(),
        ])
        .args(["--shutdown-grace-secs", "2"])
        .args(if extra.contains(&"--token") {
            vec![]
        } else {
            vec!["--token", SERVICE_TOKEN]
        })
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn orchard worker")
}

pub fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// Waits for a child without blocking the runtime the server under test runs on.
pub async fn wait_exit(child: &mut Child, secs: u64) -> std::process::ExitStatus {
    for _ in 0..secs * 10 {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    panic!("worker did not exit within {secs}s");
}

/// Runs each named `async fn(Db)` test once on SQLite and once on Postgres:
/// `both!(a, b)` makes `sqlite::a`, `postgres::a`, `sqlite::b`, `postgres::b`.
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test] async fn $name() { super::$name(crate::common::Db::Sqlite).await } )* }
        mod postgres { $( #[tokio::test] async fn $name() { super::$name(crate::common::Db::Postgres).await } )* }
    };
}
pub(crate) use both;
