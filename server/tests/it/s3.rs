//! Job files in an S3-compatible bucket: a real S3 server (moto, installed by
//! `scripts/bootstrap --test`) holds them; the server and a remote worker both use the bucket.

use crate::common;

use common::{Db, spawn_with};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn moto_bin() -> String {
    std::env::var("MOTO_SERVER").unwrap_or_else(|_| {
        format!(
            "{}/../target/pyenv/bin/moto_server",
            env!("CARGO_MANIFEST_DIR")
        )
    })
}

async fn start_moto() -> (Moto, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(moto_bin())
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server (run scripts/bootstrap --test)");
    let moto = Moto(child);
    let endpoint = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    for _ in 0..200 {
        if http.get(&endpoint).send().await.is_ok() {
            return (moto, endpoint);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("moto_server did not start");
}

#[tokio::test]
async fn job_files_live_in_a_bucket() {
    let (_moto, endpoint) = start_moto().await;
    // The usual AWS variables, read by the server here and inherited by the worker process.
    for (k, v) in [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT", endpoint.as_str()),
        ("AWS_ALLOW_HTTP", "true"),
    ] {
        set_env(k, v);
    }
    let http = reqwest::Client::new();
    let created = http
        .put(format!("{endpoint}/orchard-test"))
        .send()
        .await
        .unwrap();
    assert!(
        created.status().is_success(),
        "create bucket: {}",
        created.status()
    );

    let dir = common::temp_dir("s3");
    let url = common::fresh_database(Db::Sqlite, &dir).await;
    let mut s = common::settings(url, &dir, 0);
    s.files = "s3://orchard-test/jobs-here".into();
    let app = spawn_with(s, dir.clone()).await;
    let mut worker = common::start_worker_with(
        &app.base,
        "bucket-worker",
        2,
        &["--files", "s3://orchard-test/jobs-here"],
    );
    let id = app.create_job(2, 12, 300).await;
    let detail = app.wait_for_job(&id, 120).await;
    assert_eq!(detail["state"], "succeeded", "{detail}");
    app.assert_verified(&id).await;
    // Nothing went to the local folder; the bucket holds the inputs and the result.
    assert!(!dir.join("files").exists());
    assert_eq!(
        count_keys(&http, &endpoint, &format!("jobs-here/jobs/{id}/")).await,
        12 + 1
    );
    let r = app
        .http
        .get(app.url(&format!("/api/v1/jobs/{id}/result")))
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().starts_with("average\t"));
    // Deleting the job empties its prefix.
    let r = app
        .http
        .delete(app.url(&format!("/api/v1/jobs/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        count_keys(&http, &endpoint, &format!("jobs-here/jobs/{id}/")).await,
        0
    );
    common::signal(&worker, "-TERM");
    assert!(common::wait_exit(&mut worker, 15).await.success());
    app.running.stop().await;
}

/// How many objects the test bucket holds under `prefix`.
async fn count_keys(http: &reqwest::Client, endpoint: &str, prefix: &str) -> usize {
    let listing = http
        .get(format!(
            "{endpoint}/orchard-test?list-type=2&prefix={prefix}"
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    listing.matches("<Key>").count()
}

#[allow(unsafe_code)]
fn set_env(k: &str, v: &str) {
    // SAFETY: called at the start of the only test in this binary, before the server or any
    // task that reads the environment is started.
    unsafe { std::env::set_var(k, v) }
}
