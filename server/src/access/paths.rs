//! Request paths a router could read two ways are refused before anything else: dot
//! segments (`.`, `..`, also percent-encoded), encoded slashes and backslashes, NUL bytes
//! and doubled slashes. Only one reading is left, so no rule can be walked around.

/// Why the raw path (as sent, still percent-encoded) is refused, if it is.
pub fn refuse(raw: &str) -> Option<&'static str> {
    if !raw.starts_with('/') {
        return Some("the path must start with /");
    }
    if raw.contains('\\') {
        return Some("backslashes are not allowed in paths");
    }
    let segments: Vec<&str> = raw[1..].split('/').collect();
    let last = segments.len() - 1;
    for (i, seg) in segments.iter().enumerate() {
        if seg.is_empty() {
            if i == last {
                continue;
            }
            return Some("doubled slashes are not allowed in paths");
        }
        let decoded = decode(seg);
        if decoded == b"." || decoded == b".." {
            return Some("dot segments (. and ..) are not allowed in paths");
        }
        if decoded.iter().any(|b| matches!(b, b'/' | b'\\' | 0)) {
            return Some("encoded slashes, backslashes and NUL are not allowed in paths");
        }
    }
    None
}

/// Percent-decodes a segment (bytes that are not a valid escape stay as they are).
fn decode(seg: &str) -> Vec<u8> {
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let b = seg.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            )
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::refuse;

    #[test]
    fn ambiguous_paths_are_refused() {
        for p in [
            "/pkg/../jobs",
            "/pkg/..",
            "/pkg/%2e%2e/tasks",
            "/pkg/%2E./tasks",
            "/dashboard_x/../jobs",
            "/setup/../tasks/abc",
            "/tasks/.",
            "/tasks/%2e",
            "/a//b",
            "//jobs",
            "/a%2fb",
            "/a%5Cb",
            "/a\\b",
            "/a%00b",
            "relative",
        ] {
            assert!(refuse(p).is_some(), "{p} should be refused");
        }
    }

    #[test]
    fn ordinary_paths_pass() {
        for p in [
            "/",
            "/jobs",
            "/jobs/a.b",
            "/workers/x.y",
            "/tasks/",
            "/pkg/orchard.wasm",
            "/tasks/a%20b",
            "/tasks/...",
            "/fn/get_task123",
        ] {
            assert_eq!(refuse(p), None, "{p} should pass");
        }
    }
}
