//! Access control for every request, in one layer: who is calling (service token, session
//! cookie or nobody), what the route needs (`policy`), cross-site protection for cookie
//! callers, a rate limit on sign-in, security headers on every answer, and the audit log of
//! every change.

mod caller;
mod csrf;
mod headers;
pub mod policy;
mod rate;

use app::accounts::service::{self, CallerKind};
use app::error::AppError;
use app::state::AppState;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use policy::Need;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

pub use caller::{bearer, session_cookie};

/// Largest body a server function call may carry.
const FN_BODY_LIMIT: usize = 256 * 1024;

/// A per-request nonce for inline scripts, shared by the CSP header and the page.
#[derive(Clone)]
pub struct CspNonce(pub Arc<str>);

pub struct Access {
    pub state: AppState,
    pub service_token: Option<Arc<str>>,
    limit: rate::RateLimit,
}

impl Access {
    pub fn new(state: AppState, service_token: Option<Arc<str>>) -> Arc<Self> {
        Arc::new(Self {
            state,
            service_token,
            limit: rate::RateLimit::new(10, 10),
        })
    }
}

fn deny(path: &str, e: AppError) -> Response {
    let status = StatusCode::from_u16(e.status_code()).unwrap_or(StatusCode::FORBIDDEN);
    if path.starts_with("/fn/") {
        // Server function clients decode the error type itself from the body.
        let body = serde_json::to_string(&e).unwrap_or_default();
        return (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    }
    if path.starts_with("/api/")
        || matches!(e, AppError::Forbidden(_))
        || status == StatusCode::TOO_MANY_REQUESTS
    {
        return crate::error::ApiError::new(status, e.to_string()).into_response();
    }
    // A page asked for by nobody: sign in first, then come back.
    let next = urlencode(path);
    Redirect::to(&format!("/login?next={next}")).into_response()
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

fn client_ip(req: &Request) -> IpAddr {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]))
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

/// The layer itself.
pub async fn guard(State(a): State<Arc<Access>>, req: Request, next: Next) -> Response {
    let nonce = app::accounts::secret::generate("")[..32].to_string();
    let mut resp = check_and_run(&a, req, next, &nonce).await;
    headers::apply(resp.headers_mut(), &nonce);
    resp
}

async fn check_and_run(a: &Access, mut req: Request, next: Next, nonce: &str) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let need = policy::need(&method, &path);
    if need == Need::OwnToken {
        return next.run(req).await;
    }
    let caller = match caller::resolve(&a.state, a.service_token.as_deref(), req.headers()).await {
        Ok(c) => c,
        Err(e) => return deny(&path, e),
    };
    if policy::rate_limited(&method, &path) && !a.limit.allow(client_ip(&req)) {
        return crate::error::ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too many attempts: wait a minute and try again",
        )
        .into_response();
    }
    let safe = method == Method::GET || method == Method::HEAD || method == Method::OPTIONS;
    let cookie_borne = !matches!(caller.kind, CallerKind::Token);
    if !safe && cookie_borne && !csrf::same_origin(req.headers()) {
        return deny(
            &path,
            AppError::Forbidden("cross-site request refused: use Orchard's own pages".into()),
        );
    }
    if let Need::Role(role) = need
        && let Err(e) = caller.check(role)
    {
        if policy::audited(&method, &path) {
            let request_id = request_id(&req);
            let action = action(&method, &path);
            service::audit(&a.state, &caller, &action, "", e.status_code(), &request_id).await;
        }
        return deny(&path, e);
    }
    // Server function calls are read here (they are small) so the audit log can name the
    // thing they changed.
    let mut target = String::new();
    if !safe && path.starts_with("/fn/") {
        let (parts, body) = req.into_parts();
        let bytes = match axum::body::to_bytes(body, FN_BODY_LIMIT).await {
            Ok(b) => b,
            Err(_) => {
                let mut r = deny(
                    &path,
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
    let audit_this = policy::audited(&method, &path);
    let request_id = request_id(&req);
    req.extensions_mut().insert(caller.clone());
    req.extensions_mut().insert(CspNonce(nonce.into()));
    let mut resp = next.run(req).await;
    if path.starts_with("/fn/") && resp.status() == StatusCode::INTERNAL_SERVER_ERROR {
        resp = error_status(resp).await;
    }
    if audit_this {
        let action = action(&method, &path);
        service::audit(
            &a.state,
            &caller,
            &action,
            &target,
            resp.status().as_u16(),
            &request_id,
        )
        .await;
    }
    resp
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

fn request_id(req: &Request) -> String {
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// How the audit log names a call: `fn <name>` for a server function, else method and path.
fn action(method: &Method, path: &str) -> String {
    match policy::server_fn_name(path) {
        Some(name) => format!("fn {name}"),
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
