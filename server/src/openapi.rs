//! The OpenAPI 3.1 document of Orchard's HTTP API, built from the `#[utoipa::path]`
//! annotations on the handlers themselves (the `/api/v1` routers register through
//! `OpenApiRouter`, so a route cannot exist without its description). Each operation also
//! says who may call it (`x-orchard-access`, and its security requirement), as declared
//! where the route is added. Served as JSON at `/api/openapi.json` and as an HTML page at
//! `/api/docs` with its stylesheet at `/api/docs.css` (no inline styles or scripts, so the
//! site's own Content-Security-Policy holds there too).

use crate::access::allow;
use app::access::Access;
use app::state::AppState;
use axum::extract::Extension;
use axum::http::header::CONTENT_TYPE;
use axum::response::{Html, IntoResponse};
use serde_json::Value;
use std::fmt::Write;
use std::sync::Arc;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub const JOBS: &str = "jobs";
pub const TASKS: &str = "tasks";
pub const WORKERS: &str = "workers";
pub const LEASES: &str = "leases";
pub const FILES: &str = "files";
pub const EVENTS: &str = "events";
pub const OPS: &str = "operations";
pub const WPIPE: &str = "wpipe";

/// Every error answer: a status code and this body.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong, for people.
    pub error: String,
}

struct Schemes;

impl utoipa::Modify for Schemes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                app::accounts::service::SESSION_COOKIE,
            ))),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Orchard",
        description = "Jobs on a durable leased queue, workers, live events and job files. \
            Every error is a 4xx/5xx with `{\"error\": \"…\"}`. Each operation names who may call \
            it: `public`, a role (`viewer`, `editor`, `admin`: a signed-in session, or \
            `Authorization: Bearer <token>` with the `read` or `write` scope), or a token scope \
            (`worker-token`, `wpipe-token`).",
        license(name = "MIT"),
    ),
    components(schemas(ErrorBody)),
    modifiers(&Schemes),
    tags(
        (name = "tasks", description = "The task forest: children a page at a time, edits, moves, search, import and export"),
        (name = "jobs", description = "Create, follow and manage jobs"),
        (name = "workers", description = "The fleet and the worker lifecycle"),
        (name = "leases", description = "The lease protocol workers speak"),
        (name = "files", description = "Job files for workers that cannot reach the file store"),
        (name = "events", description = "Live change notices"),
        (name = "operations", description = "Health, readiness, version, metrics and these docs"),
        (name = "wpipe", description = "The process monitor of seed 002, as wpipe clients speak it: at the root, errors as `{\"detail\": …}`"),
    )
)]
struct Base;

/// The whole document: the operations endpoints plus the given (already nested) API routes.
pub fn document(api: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let mut doc = Base::openapi().merge_from(api);
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    // axum's catch-all `{*key}` is the path parameter `{key}` in OpenAPI.
    let paths = std::mem::take(&mut doc.paths.paths);
    doc.paths.paths = paths
        .into_iter()
        .map(|(p, item)| (p.replace("{*", "{"), item))
        .collect();
    doc
}

/// The document as the docs routes serve it, made once at start.
pub struct DocPages {
    json: Value,
    page: String,
}

impl DocPages {
    pub fn new(doc: &utoipa::openapi::OpenApi) -> Arc<Self> {
        let json = serde_json::to_value(doc).unwrap_or_default();
        let page = render(&json);
        Arc::new(Self { json, page })
    }
}

/// `/api/openapi.json`, `/api/docs` and its stylesheet; the document reaches them as an
/// extension, added once it is built.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Access::Public, routes!(openapi_json)))
        .routes(allow(Access::Public, routes!(docs_page)))
        .routes(allow(Access::Public, routes!(docs_style)))
}

/// This document, as JSON (OpenAPI 3.1).
#[utoipa::path(get, path = "/api/openapi.json", tag = OPS,
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json")))]
async fn openapi_json(Extension(doc): Extension<Arc<DocPages>>) -> impl IntoResponse {
    axum::Json(doc.json.clone())
}

/// This document, as a page for people.
#[utoipa::path(get, path = "/api/docs", tag = OPS,
    responses((status = 200, description = "HTML", body = String, content_type = "text/html")))]
async fn docs_page(Extension(doc): Extension<Arc<DocPages>>) -> impl IntoResponse {
    Html(doc.page.clone())
}

/// The docs page's stylesheet.
#[utoipa::path(get, path = "/api/docs.css", tag = OPS,
    responses((status = 200, description = "CSS", body = String, content_type = "text/css")))]
async fn docs_style() -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/css; charset=utf-8")], STYLE)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Escapes prose and renders its `code spans` as `<code>`.
fn prose(s: &str) -> String {
    esc(s)
        .split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                format!("<code>{part}</code>")
            } else {
                part.to_string()
            }
        })
        .collect()
}

/// `#/components/schemas/Job` → `Job`.
fn ref_name(v: &Value) -> Option<&str> {
    v.get("$ref")?.as_str()?.rsplit('/').next()
}

/// A short type for a schema: a link for references, `[T]` for arrays.
fn type_of(schema: &Value) -> String {
    if let Some(name) = ref_name(schema) {
        return format!("<a href=\"#schema-{0}\">{0}</a>", esc(name));
    }
    if let Some(items) = schema.get("items") {
        return format!("[{}]", type_of(items));
    }
    for key in ["oneOf", "allOf", "anyOf"] {
        if let Some(list) = schema.get(key).and_then(Value::as_array) {
            let parts: Vec<String> = list
                .iter()
                .filter(|s| s.get("type") != Some(&Value::from("null")))
                .map(type_of)
                .collect();
            return parts.join(" | ");
        }
    }
    match schema.get("type") {
        Some(Value::String(t)) => esc(t),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .map(esc)
            .collect::<Vec<_>>()
            .join(" | "),
        _ => "any".into(),
    }
}

fn content_types(content: Option<&Value>) -> String {
    let Some(Value::Object(map)) = content else {
        return String::new();
    };
    map.iter()
        .map(|(ct, media)| {
            let schema = media.get("schema").map(type_of).unwrap_or_default();
            format!("<code>{}</code> {schema}", esc(ct))
        })
        .collect::<Vec<_>>()
        .join("<br>")
}

const STYLE: &str = "
:root{color-scheme:light dark;--fg:#1f2937;--bg:#fff;--muted:#6b7280;--line:#e5e7eb;--code:#f3f4f6;--accent:#15803d}
@media (prefers-color-scheme:dark){:root{--fg:#e5e7eb;--bg:#0b1120;--muted:#9ca3af;--line:#1f2937;--code:#111827;--accent:#4ade80}}
body{font:15px/1.5 system-ui,sans-serif;color:var(--fg);background:var(--bg);margin:0}
main{max-width:980px;margin:0 auto;padding:1.5rem}
h1{margin:.2rem 0}h2{border-bottom:1px solid var(--line);padding-bottom:.3rem;margin-top:2rem}
a{color:var(--accent)}code,pre{background:var(--code);border-radius:4px;padding:.1rem .3rem;font-size:13px}
pre{padding:.7rem;overflow:auto}
.op{border:1px solid var(--line);border-radius:8px;padding:.6rem .9rem;margin:.8rem 0}
.op h3{margin:.2rem 0;font-size:1rem}.m{display:inline-block;min-width:4.2rem;font-weight:700;text-transform:uppercase}
.get{color:#2563eb}.post{color:#16a34a}.put{color:#d97706}.delete{color:#dc2626}
.muted{color:var(--muted)}table{border-collapse:collapse;width:100%;margin:.4rem 0}
td,th{border-top:1px solid var(--line);padding:.3rem .4rem;text-align:left;vertical-align:top}
nav a{margin-right:.8rem}.lock{font-size:.8rem;border:1px solid var(--line);border-radius:9px;padding:0 .4rem}
";

/// Renders the document as one HTML page: operations grouped by tag, then the schemas.
pub fn render(doc: &Value) -> String {
    let mut out = String::new();
    let title = doc["info"]["title"].as_str().unwrap_or("API");
    let version = doc["info"]["version"].as_str().unwrap_or("");
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t} API</title><link rel=\"stylesheet\" href=\"/api/docs.css\"></head><body><main>\
         <h1>{t} API <span class=\"muted\">{v}</span></h1><p>{d}</p>\
         <p>OpenAPI {o}: <a href=\"/api/openapi.json\">/api/openapi.json</a></p><nav aria-label=\"Sections\">",
        t = esc(title),
        v = esc(version),
        o = esc(doc["openapi"].as_str().unwrap_or("")),
        d = prose(doc["info"]["description"].as_str().unwrap_or("")),
    );
    let tags: Vec<(String, String)> = doc["tags"]
        .as_array()
        .map(|ts| {
            ts.iter()
                .map(|t| {
                    (
                        t["name"].as_str().unwrap_or("").to_string(),
                        t["description"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    for (name, _) in &tags {
        let _ = write!(out, "<a href=\"#tag-{0}\">{0}</a>", esc(name));
    }
    out.push_str("<a href=\"#schemas\">schemas</a></nav>");
    let empty = serde_json::Map::new();
    let paths = doc["paths"].as_object().unwrap_or(&empty);
    for (tag, description) in &tags {
        let _ = write!(
            out,
            "<section><h2 id=\"tag-{0}\">{0}</h2><p class=\"muted\">{1}</p>",
            esc(tag),
            prose(description)
        );
        for (path, item) in paths {
            let Some(ops) = item.as_object() else {
                continue;
            };
            for (method, op) in ops {
                let in_tag = op["tags"]
                    .as_array()
                    .is_some_and(|ts| ts.iter().any(|t| t.as_str() == Some(tag)));
                if !in_tag {
                    continue;
                }
                operation(&mut out, method, path, op);
            }
        }
        out.push_str("</section>");
    }
    out.push_str("<section><h2 id=\"schemas\">Schemas</h2>");
    if let Some(schemas) = doc["components"]["schemas"].as_object() {
        for (name, schema) in schemas {
            let pretty = serde_json::to_string_pretty(schema).unwrap_or_default();
            let _ = write!(
                out,
                "<h3 id=\"schema-{0}\">{0}</h3><pre>{1}</pre>",
                esc(name),
                esc(&pretty)
            );
        }
    }
    out.push_str("</section></main></body></html>");
    out
}

fn operation(out: &mut String, method: &str, path: &str, op: &Value) {
    let access = op[crate::access::EXTENSION]
        .as_str()
        .unwrap_or("undeclared");
    let _ = write!(
        out,
        "<div class=\"op\" id=\"op-{m}-{anchor}\"><h3><span class=\"m {m}\">{m}</span> <code>{p}</code> \
         <span class=\"lock\" title=\"Who may call it\">{lock}</span></h3><p>{s}</p>",
        m = esc(method),
        anchor = esc(&path.replace(['/', '{', '}', '.', '*'], "_")),
        p = esc(path),
        lock = esc(access),
        s = prose(op["summary"].as_str().unwrap_or("")),
    );
    if let Some(params) = op["parameters"].as_array().filter(|p| !p.is_empty()) {
        out.push_str("<table><tr><th>parameter</th><th>in</th><th>type</th><th>about</th></tr>");
        for p in params {
            let _ = write!(
                out,
                "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(p["name"].as_str().unwrap_or("")),
                if p["required"].as_bool() == Some(true) {
                    " *"
                } else {
                    ""
                },
                esc(p["in"].as_str().unwrap_or("")),
                type_of(&p["schema"]),
                prose(p["description"].as_str().unwrap_or("")),
            );
        }
        out.push_str("</table>");
    }
    if let Some(body) = op.get("requestBody") {
        let _ = write!(
            out,
            "<p><strong>Body</strong>: {}</p>",
            content_types(body.get("content"))
        );
    }
    if let Some(responses) = op["responses"].as_object() {
        out.push_str("<table><tr><th>status</th><th>meaning</th><th>body</th></tr>");
        for (status, r) in responses {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(status),
                prose(r["description"].as_str().unwrap_or("")),
                content_types(r.get("content")),
            );
        }
        out.push_str("</table>");
    }
    out.push_str("</div>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prose_escapes_html_and_renders_code_spans() {
        assert_eq!(
            prose("use `<id>` & <b>"),
            "use <code>&lt;id&gt;</code> &amp; &lt;b&gt;"
        );
        assert_eq!(prose("no code"), "no code");
    }

    #[test]
    fn types_link_to_their_schemas() {
        let v = serde_json::json!({"type": "array", "items": {"$ref": "#/components/schemas/Job"}});
        assert_eq!(type_of(&v), "[<a href=\"#schema-Job\">Job</a>]");
        let v = serde_json::json!({"type": ["integer", "null"]});
        assert_eq!(type_of(&v), "integer | null");
    }

    #[test]
    fn catch_all_parameters_become_path_parameters() {
        let doc = document(crate::api::documented(&Default::default()).into_openapi());
        assert!(doc.paths.paths.contains_key("/api/v1/files/{key}"));
        assert!(doc.paths.paths.keys().all(|p| !p.contains("{*")));
        assert_eq!(doc.info.version, env!("CARGO_PKG_VERSION"));
    }
}
