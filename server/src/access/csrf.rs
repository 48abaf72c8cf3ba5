//! Cross-site request protection: a change made with a browser's cookie must come from a
//! page of Orchard itself. The cookie is `SameSite=Lax` as well; this check does not rely on
//! it alone.

use axum::http::HeaderMap;
use axum::http::header::{HOST, ORIGIN, REFERER};

/// True when the request provably comes from this site: its `Origin` (or, without one, its
/// `Referer`) names the host the request was sent to, or the browser says `Sec-Fetch-Site:
/// same-origin`. A request with none of these (not a browser) is also let through: without a
/// browser there is no ambient cookie to abuse, and it still needs its own credentials.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let host = headers
        .get("x-forwarded-host")
        .or_else(|| headers.get(HOST))
        .and_then(|h| h.to_str().ok());
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) {
        return origin != "null" && host.is_some_and(|h| authority(origin) == Some(h));
    }
    if let Some(site) = site {
        return site == "same-origin" || site == "none";
    }
    if let Some(referer) = headers.get(REFERER).and_then(|v| v.to_str().ok()) {
        return host.is_some_and(|h| authority(referer) == Some(h));
    }
    true
}

/// `host[:port]` of an absolute URL.
fn authority(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    Some(rest.split(['/', '?', '#']).next().unwrap_or(rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(*k, v.parse().unwrap());
        }
        m
    }

    #[test]
    fn origins() {
        let host = ("host", "127.0.0.1:3000");
        assert!(same_origin(&h(&[
            host,
            ("origin", "http://127.0.0.1:3000")
        ])));
        assert!(!same_origin(&h(&[host, ("origin", "http://evil.example")])));
        assert!(!same_origin(&h(&[host, ("origin", "null")])));
        assert!(!same_origin(&h(&[host, ("sec-fetch-site", "cross-site")])));
        assert!(same_origin(&h(&[host, ("sec-fetch-site", "same-origin")])));
        assert!(!same_origin(&h(&[
            host,
            ("referer", "https://evil.example/x")
        ])));
        assert!(same_origin(&h(&[
            host,
            ("referer", "http://127.0.0.1:3000/jobs")
        ])));
        assert!(same_origin(&h(&[host])));
    }
}
