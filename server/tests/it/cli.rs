//! The command line as an admin uses it: `--database-url` is read wherever it is written,
//! and user or token commands never make a new empty database of their own.

use std::process::{Command, Output};

fn orchard(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_orchard"))
        .args(args)
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap()
}

#[test]
fn database_url_is_global_and_no_empty_database_is_made() {
    let dir = crate::common::temp_dir("cli");
    let db = format!("sqlite:{}", dir.join("orchard.db").display());
    assert!(
        orchard(&dir, &["migrate", "--database-url", &db])
            .status
            .success()
    );
    let before = orchard(
        &dir,
        &["--database-url", &db, "token", "create", "--name", "a"],
    );
    assert!(before.status.success(), "{before:?}");
    let after = orchard(
        &dir,
        &["token", "create", "--name", "b", "--database-url", &db],
    );
    assert!(after.status.success(), "{after:?}");
    let listed = orchard(&dir, &["token", "list", "--database-url", &db]);
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(text.contains("a ") && text.contains("b "), "{text}");
    let users = orchard(&dir, &["--database-url", &db, "user", "list"]);
    assert!(users.status.success(), "{users:?}");
    assert!(!dir.join("data").exists(), "no ./data was made");

    // Pointed at nothing, it says so and makes nothing.
    let empty = crate::common::temp_dir("cli-empty");
    for args in [&["user", "list"][..], &["token", "list"][..]] {
        let out = orchard(&empty, args);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("no database at") && err.contains("--database-url"),
            "{err}"
        );
    }
    assert!(!empty.join("data").exists(), "nothing was created");
}
