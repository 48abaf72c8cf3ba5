//! Access control for every request, in one layer that runs once the router has matched
//! the request: paths a router could read two ways are refused first (`paths`), then the
//! route's declared access is looked up (`declare`; a route that declares nothing is
//! refused), the caller shown (session cookie, role token, or a worker or wpipe token),
//! cross-site changes refused, and every change written to the audit log. Security headers
//! go on every answer.

mod caller;
mod csrf;
mod declare;
mod headers;
mod paths;
mod proxies;
mod refusals;

use crate::metrics::Metrics;
use crate::tokens::{Scope, TokenCheck};
use app::access::Access as Level;
use app::accounts::service::{self, Caller, CallerKind, ClientAddr};
use app::assets::Assets;
use app::state::AppState;
use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use shared::error::AppError;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

pub use caller::{bearer, session_cookie};
pub use declare::{AccessTable, Declared, EXTENSION, Kind, allow};
pub use proxies::TrustedProxies;

/// Largest body a server function call may carry.
const FN_BODY_LIMIT: usize = 256 * 1024;

/// A per-request nonce for inline scripts, shared by the CSP header and the page.
#[derive(Clone)]
pub struct CspNonce(pub Arc<str>);

/// What the HTTP layer's access rules are built from.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `ORCHARD_API_TOKEN`: acts as an admin and carries every token scope.
    pub service_token: Option<Arc<str>>,
    pub proxies: TrustedProxies,
}

pub struct Access {
    pub state: AppState,
    table: AccessTable,
    service_token: Option<Arc<str>>,
    tokens: TokenCheck,
    proxies: TrustedProxies,
    refusals: refusals::Refusals,
}

impl Access {
    pub fn new(
        state: AppState,
        table: AccessTable,
        settings: &Settings,
        metrics: Arc<Metrics>,
    ) -> Arc<Self> {
        Arc::new(Self {
            tokens: TokenCheck::new(settings.service_token.clone(), state.accounts.clone()),
            state,
            table,
            service_token: settings.service_token.clone(),
            proxies: settings.proxies.clone(),
            refusals: refusals::Refusals::new(metrics),
        })
    }
}

/// Matched by no route: the "not found" answer, which anyone may get.
const FALLBACK: Declared = Declared {
    access: Level::Public,
    kind: Kind::Page,
    reads: true,
};

/// The layer itself.
pub async fn guard(State(a): State<Arc<Access>>, mut req: Request, next: Next) -> Response {
    let nonce = engine::accounts::secret::generate("")[..32].to_string();
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let client = a.proxies.client(peer, req.headers_mut());
    req.extensions_mut().insert(ClientAddr(client));
    let https = a.state.sessions.secure_always
        || req.uri().scheme_str() == Some("https")
        || req
            .headers()
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    let mut resp = check_and_run(&a, req, next, &nonce, client).await;
    headers::apply(resp.headers_mut(), &nonce, https);
    resp
}

/// Marks every answer the access layer refused (rather than the route itself), for clients
/// and tests that need to tell "not allowed" from "not found" or "wrong password".
pub const REFUSED_HEADER: &str = "x-orchard-refused";

/// How a refusal reads for the route that refused it.
fn deny(a: &Access, kind: Kind, path_and_query: &str, e: AppError) -> Response {
    let mut resp = refusal(&a.state.assets, kind, path_and_query, e);
    resp.headers_mut()
        .insert(REFUSED_HEADER, header::HeaderValue::from_static("access"));
    resp
}

fn refusal(assets: &Assets, kind: Kind, path_and_query: &str, e: AppError) -> Response {
    let status = StatusCode::from_u16(e.status_code()).unwrap_or(StatusCode::FORBIDDEN);
    match kind {
        // Server function clients decode the error type itself from the body.
        Kind::ServerFn => {
            let body = serde_json::to_string(&e).unwrap_or_default();
            (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        Kind::Wpipe => {
            let detail = match e {
                AppError::Unauthorized(_) => "Unauthorized".to_string(),
                other => other.to_string(),
            };
            (status, axum::Json(serde_json::json!({ "detail": detail }))).into_response()
        }
        Kind::Page if status == StatusCode::UNAUTHORIZED => {
            // A page asked for by nobody: sign in first, then come back.
            let next = urlencode(path_and_query);
            Redirect::to(&format!("/login?next={next}")).into_response()
        }
        Kind::Page => (status, Html(refusal_page(assets, &e.to_string()))).into_response(),
        Kind::Api | Kind::File => {
            crate::error::ApiError::new(status, e.to_string()).into_response()
        }
    }
}

/// A page for a signed-in person whose role does not reach the page they opened. It uses
/// the app's stylesheet, theme script and the classes of its own "not found" page, so it
/// looks like the rest of Orchard in either theme.
fn refusal_page(assets: &Assets, why: &str) -> String {
    let mut chars = why.chars();
    let why: String = chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    let why = why
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let favicon = assets.url("favicon.svg");
    let boot = assets.url("boot.js");
    let css = assets.url("pkg/orchard.css");
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light dark\"><title>Not allowed · Orchard</title>\
         <link rel=\"icon\" href=\"{favicon}\" type=\"image/svg+xml\">\
         <script src=\"{boot}\"></script>\
         <link rel=\"stylesheet\" href=\"{css}\"></head>\
         <body class=\"min-h-screen bg-slate-50 text-slate-900 antialiased dark:bg-slate-950 dark:text-slate-100\">\
         <main class=\"mx-auto max-w-md py-16 text-center\">\
         <p class=\"text-sm font-semibold text-emerald-600\">403</p>\
         <h1 class=\"mt-2 text-3xl font-bold tracking-tight\">Not allowed</h1>\
         <p class=\"mt-3 text-slate-600 dark:text-slate-400\">{why}. Ask an admin for a higher role.</p>\
         <a href=\"/\" class=\"mt-6 inline-block rounded-md bg-emerald-600 px-4 py-2 text-sm font-medium \
         text-white hover:bg-emerald-700 focus:outline-none focus-visible:ring-2 \
         focus-visible:ring-emerald-400\">Back to the overview</a></main></body></html>"
    )
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The `id` argument of a server function call, for the audit log.
fn fn_target(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
        for key in ["id", "username", "name"] {
            if let Some(s) = v.get(key).and_then(|x| x.as_str()) {
                return s.to_string();
            }
        }
        return String::new();
    }
    for key in ["id=", "username=", "name="] {
        if let Some(v) = text.split('&').find_map(|kv| kv.strip_prefix(key)) {
            return percent_decode(v);
        }
    }
    String::new()
}

fn percent_decode(s: &str) -> String {
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push(h * 16 + l);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn check_and_run(
    a: &Access,
    mut req: Request,
    next: Next,
    nonce: &str,
    client: IpAddr,
) -> Response {
    if let Some(why) = paths::refuse(req.uri().path()) {
        a.refusals.count("path");
        return crate::error::ApiError::bad_request(why).into_response();
    }
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| path.clone());
    let declared = match req.extensions().get::<MatchedPath>() {
        None => FALLBACK,
        Some(m) => match a.table.lookup(&method, m.as_str()) {
            Some(d) => d,
            None => {
                tracing::error!(%method, route = m.as_str(), "no access declared: refused");
                a.refusals.count("undeclared");
                let e = AppError::Forbidden("no access is declared for this route".into());
                return deny(a, Kind::Api, &path_and_query, e);
            }
        },
    };
    let safe = matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
    let given = caller::bearer(req.headers()).map(str::to_string);
    // A browser's cookie rides along with any request to this site: a change made without
    // a bearer token must come from one of Orchard's own pages.
    if !safe && given.is_none() && !csrf::same_origin(req.headers()) {
        a.refusals.count("cross_site");
        let e = AppError::Forbidden("cross-site request refused: use Orchard's own pages".into());
        return deny(a, declared.kind, &path_and_query, e);
    }
    let caller = match shown_caller(a, req.headers(), declared, given.as_deref()).await {
        Ok(c) => c,
        Err((e, who)) => {
            let anonymous = matches!(who.kind, CallerKind::Anonymous);
            if a.refusals.refused(anonymous, client) && !safe {
                let action = action(&method, &path);
                let rid = request_id(&req);
                service::audit(&a.state, &who, &action, "", e.status_code(), &rid).await;
            }
            return deny(a, declared.kind, &path_and_query, e);
        }
    };
    // Server function calls are read here (they are small) so the audit log can name the
    // thing they changed.
    let audit_this = !safe
        && !declared.reads
        && !matches!(declared.access, Level::WorkerToken | Level::WpipeToken);
    let mut target = String::new();
    if audit_this && declared.kind == Kind::ServerFn {
        let (parts, body) = req.into_parts();
        let bytes = match axum::body::to_bytes(body, FN_BODY_LIMIT).await {
            Ok(b) => b,
            Err(_) => {
                let mut r = deny(
                    a,
                    declared.kind,
                    &path_and_query,
                    AppError::Invalid(format!(
                        "the request body is larger than {} KiB",
                        FN_BODY_LIMIT / 1024
                    )),
                );
                *r.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
                return r;
            }
        };
        target = fn_target(&bytes);
        req = Request::from_parts(parts, Body::from(bytes));
    } else if let Some(rest) = path.strip_prefix("/api/v1/") {
        target = rest.split('/').nth(1).unwrap_or("").to_string();
    }
    let request_id = request_id(&req);
    req.extensions_mut().insert(caller.clone());
    req.extensions_mut().insert(CspNonce(nonce.into()));
    let signed_in = caller.role.is_some();
    let mut resp = next.run(req).await;
    if declared.kind == Kind::ServerFn && resp.status() == StatusCode::INTERNAL_SERVER_ERROR {
        resp = error_status(resp).await;
    }
    if signed_in {
        headers::no_store_if_private(resp.headers_mut());
    }
    if audit_this {
        let action = action(&method, &path);
        let status = resp.status().as_u16();
        service::audit(&a.state, &caller, &action, &target, status, &request_id).await;
    }
    resp
}

/// The caller a route's declared access asks for, or why they may not pass (with whoever
/// they turned out to be, for the audit log). Site files ask nobody anything; token routes
/// ask only the token check (no database round trip per lease call once a token is known).
async fn shown_caller(
    a: &Access,
    headers: &axum::http::HeaderMap,
    declared: Declared,
    given: Option<&str>,
) -> Result<Caller, (AppError, Caller)> {
    let token_caller = |scope: Scope| Caller {
        name: format!("{}-token", scope.as_str()),
        role: None,
        kind: CallerKind::Token,
    };
    let scope = match declared.access {
        Level::WorkerToken => Some(Scope::Worker),
        Level::WpipeToken => Some(Scope::Wpipe),
        _ => None,
    };
    if let Some(scope) = scope {
        return match a.tokens.allows(given, scope).await {
            Some(_) => Ok(token_caller(scope)),
            None => {
                let e = AppError::Unauthorized(format!(
                    "this needs a token with the {} scope",
                    scope.as_str()
                ));
                Err((e, Caller::anonymous()))
            }
        };
    }
    if declared.kind == Kind::File {
        return Ok(Caller::anonymous());
    }
    let resolved = caller::resolve(&a.state, a.service_token.as_deref(), headers).await;
    match (declared.access.role(), resolved) {
        // Public routes serve anyone; a wrong token there is simply nobody.
        (None, r) => Ok(r.unwrap_or_else(|_| Caller::anonymous())),
        (Some(_), Err(e)) => Err((e, Caller::anonymous())),
        (Some(role), Ok(c)) => match c.check(role) {
            Ok(()) => Ok(c),
            Err(e) => Err((e, c)),
        },
    }
}

/// Server functions answer every error with a 500; give the answer the status of the error
/// it carries instead (400 for bad input, 404, 409, …), so scripts, logs and metrics see
/// what happened.
async fn error_status(resp: Response) -> Response {
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return Response::from_parts(parts, Body::empty());
    };
    if let Ok(e) = serde_json::from_slice::<AppError>(&bytes)
        && let Ok(status) = StatusCode::from_u16(e.status_code())
    {
        parts.status = status;
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// A client's `X-Request-Id`, already checked by the request-id layer.
fn request_id(req: &Request) -> String {
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// How the audit log names a call: `fn <name>` for a server function, else method and path.
fn action(method: &Method, path: &str) -> String {
    match app::access::server_fn_access(path) {
        Some(f) => format!("fn {}", f.snake_name()),
        None => format!("{method} {path}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn server_fn_targets_are_read_from_forms_and_json() {
        assert_eq!(super::fn_target(b"id=abc%2Fd&x=1"), "abc/d");
        assert_eq!(super::fn_target(br#"{"id":"j1"}"#), "j1");
        assert_eq!(super::fn_target(b"username=ana+b"), "ana b");
        assert_eq!(super::fn_target(b"%E2%82"), "");
        assert_eq!(super::percent_decode("%zz%4"), "%zz%4");
    }
}
