//! Property-based: schemathesis (from PyPI, installed by `scripts/bootstrap --test`) reads
//! `/api/openapi.json` and sends generated, often hostile, requests to every operation —
//! the REST API, the wpipe routes, the operations endpoints — as the service. Not one may
//! answer with a server error.

use crate::common;

use common::{Db, SERVICE_TOKEN, spawn_app};
use std::process::Command;

#[tokio::test]
async fn generated_requests_never_get_a_server_error() {
    let bin = common::root().join("target/schemathesis/bin/schemathesis");
    assert!(
        bin.exists(),
        "{} is missing: run scripts/bootstrap --test",
        bin.display()
    );
    let app = spawn_app(Db::Sqlite, 1).await;
    let schema = app.url("/api/openapi.json");
    // Its cache of findings goes to the test's own folder, not the checkout.
    let cwd = app.dir.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(bin)
            .current_dir(cwd)
            .args(["run", &schema, "--checks", "not_a_server_error"])
            .args([
                "--header",
                &format!("Authorization: Bearer {SERVICE_TOKEN}"),
            ])
            .args(["--max-examples", "15", "--seed", "1"])
            // An endless stream: it never answers "completely".
            .args(["--exclude-path", "/api/v1/events"])
            .env("NO_COLOR", "1")
            .output()
            .expect("run schemathesis")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found failures:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("passed"), "{stdout}");
    app.running.stop().await;
}
