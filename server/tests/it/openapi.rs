//! The OpenAPI document at `/api/openapi.json` and its page at `/api/docs`: every route the
//! code declares is described, every described operation reaches a handler of the running
//! server, every schema reference resolves, and the page needs nothing from elsewhere.

use crate::common;

use common::{Db, spawn_app};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn src_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// String literals following `marker` in `text`.
fn literals_after<'a>(text: &'a str, marker: &str) -> Vec<&'a str> {
    text.match_indices(marker)
        .filter_map(|(i, _)| {
            let rest = &text[i + marker.len()..];
            let rest = rest.trim_start().strip_prefix('"')?;
            rest.split('"').next()
        })
        .collect()
}

/// Every route the server's code declares, as (method or "*", OpenAPI path): plain axum
/// `.route("…")` calls and `#[utoipa::path(method, path = "…")]` handlers. Handlers in
/// `api/` live under `/api/v1`.
fn declared_routes() -> BTreeSet<(String, String)> {
    let mut files = Vec::new();
    rust_files(&src_root(), &mut files);
    let mut out = BTreeSet::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        // Unit tests (at the end of a file) route handlers of their own.
        let text = text.split("#[cfg(test)]").next().unwrap_or_default();
        let nested = f.parent().unwrap().ends_with("api") && !f.ends_with("api/mod.rs");
        let full = |p: &str| {
            let p = p.replace("{*", "{");
            if nested && !p.starts_with("/api/") {
                format!("/api/v1{p}")
            } else {
                p
            }
        };
        for p in literals_after(text, ".route(") {
            out.insert(("*".to_string(), full(p)));
        }
        for (i, _) in text.match_indices("#[utoipa::path(") {
            let attr = &text[i..];
            let method = attr["#[utoipa::path(".len()..]
                .split(',')
                .next()
                .unwrap()
                .trim()
                .to_string();
            let path = literals_after(attr, "path =")[0];
            out.insert((method, full(path)));
        }
    }
    out
}

#[tokio::test]
async fn every_declared_route_is_documented_and_served() {
    let app = spawn_app(Db::Sqlite, 0).await;
    let r = app
        .http
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let doc: Value = r.json().await.unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    let paths = doc["paths"].as_object().unwrap();

    // Code → document.
    let declared = declared_routes();
    assert!(declared.len() >= 25, "{declared:?}");
    for (method, path) in &declared {
        if path == "/api/{rest}" {
            continue; // the catch-all that answers 404 for unknown API routes
        }
        let item = paths
            .get(path)
            .unwrap_or_else(|| panic!("{path} is routed but not in the OpenAPI document"));
        if method != "*" {
            assert!(
                item.get(method).is_some(),
                "{method} {path} is not documented"
            );
        }
    }

    // Document → running server: each operation reaches a handler (no 405, no API fallback).
    let mut operations = 0;
    for (path, item) in paths {
        let concrete = path
            .replace("{id}", "no-such-id")
            .replace("{key}", "probe/x.txt");
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()));
            assert!(
                op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{method} {path}"
            );
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let resp = app
                .http
                .request(m, app.url(&concrete))
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            assert_ne!(status, 405, "{method} {path}");
            if path == "/api/v1/events" {
                assert_eq!(status, 200);
                continue; // an endless stream
            }
            let body = resp.text().await.unwrap();
            assert!(
                !body.contains("no such API route"),
                "{method} {path} fell through to the fallback"
            );
            let documented: Vec<&String> = op["responses"].as_object().unwrap().keys().collect();
            // Probes send no body and unknown ids: expect a documented status, or a generic
            // client error from the JSON extractor (415).
            assert!(
                documented.iter().any(|s| s.as_str() == status.to_string()) || status == 415,
                "{method} {path} answered {status}, documented {documented:?}: {body}"
            );
        }
    }
    let handlers = declared.iter().filter(|(m, _)| m != "*").count();
    assert_eq!(
        operations, handlers,
        "one documented operation per annotated handler"
    );

    // Every schema reference resolves.
    let text = doc.to_string();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for (i, _) in text.match_indices("#/components/schemas/") {
        let name: String = text[i + "#/components/schemas/".len()..]
            .chars()
            .take_while(|c| *c != '"')
            .collect();
        assert!(schemas.contains_key(&name), "dangling $ref {name}");
    }
    for name in [
        "Job",
        "JobDetail",
        "Worker",
        "LeasedTask",
        "ErrorBody",
        "CreateJob",
    ] {
        assert!(schemas.contains_key(name), "schema {name} missing");
    }
    // Worker-facing routes declare the bearer token.
    assert!(doc["components"]["securitySchemes"]["token"].is_object());
    assert!(paths["/api/v1/leases/claim"]["post"]["security"].is_array());
    app.running.stop().await;
}

#[tokio::test]
async fn docs_page_renders_the_document_without_outside_assets() {
    let app = spawn_app(Db::Sqlite, 0).await;
    let (_, doc) = app.get_json("/api/openapi.json").await;
    let r = app.http.get(app.url("/api/docs")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = r.text().await.unwrap();
    for path in doc["paths"].as_object().unwrap().keys() {
        assert!(
            page.contains(&format!("<code>{path}</code>")),
            "{path} not on the page"
        );
    }
    for name in doc["components"]["schemas"].as_object().unwrap().keys() {
        assert!(
            page.contains(&format!("id=\"schema-{name}\"")),
            "schema {name}"
        );
    }
    assert!(
        page.contains("href=\"#schema-Job\""),
        "references link to their schemas"
    );
    // Served whole by Orchard: no scripts, stylesheets or images from anywhere else.
    for outside in [
        "src=\"http",
        "href=\"http",
        "src=\"//",
        "href=\"//",
        "@import",
        "url(",
    ] {
        assert!(!page.contains(outside), "page loads {outside}…");
    }
    app.running.stop().await;
}
