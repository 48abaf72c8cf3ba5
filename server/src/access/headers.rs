//! Security headers on every answer: a Content-Security-Policy that lets the hydration
//! script run by its nonce (no `unsafe-inline` for scripts), no sniffing, no framing, no
//! referrer leaving the site, HSTS over HTTPS, and no caching of what a signed-in person
//! was shown.

use axum::http::{HeaderMap, HeaderValue};

/// The policy for a page whose inline scripts carry `nonce`.
pub fn csp(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; style-src-attr 'unsafe-inline'; img-src 'self' data:; \
         connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

/// Pages and JSON answered to a signed-in caller are theirs alone: no cache keeps them.
pub fn no_store_if_private(headers: &mut HeaderMap) {
    let kind = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let private = kind.starts_with("text/html") || kind.starts_with("application/json");
    if private && !headers.contains_key("cache-control") {
        headers.insert("cache-control", HeaderValue::from_static("no-store"));
    }
}

pub fn apply(headers: &mut HeaderMap, nonce: &str, https: bool) {
    let set = |h: &mut HeaderMap, k: &'static str, v: &str| {
        if let Ok(v) = HeaderValue::from_str(v) {
            h.insert(k, v);
        }
    };
    if !headers.contains_key("content-security-policy") {
        set(headers, "content-security-policy", &csp(nonce));
    }
    set(headers, "x-content-type-options", "nosniff");
    set(headers, "referrer-policy", "same-origin");
    set(headers, "x-frame-options", "DENY");
    set(
        headers,
        "permissions-policy",
        "camera=(), microphone=(), geolocation=()",
    );
    if https {
        set(headers, "strict-transport-security", "max-age=31536000");
    }
}
