//! The built site's files (the client under `pkg/`, its split chunks, styles, favicon,
//! theme script, with their brotli and gzip copies): one public route per file the build
//! produced, listed when the server starts. Nothing else is ever served from disk, so no
//! path can reach past them.

use crate::access::{AccessTable, Kind};
use app::access::Access;
use app::state::AppState;
use axum::Router;
use axum::http::Method;
use std::path::{Path, PathBuf};
use tower_http::services::ServeFile;

/// How deep the site folder is walked (the build writes at most `pkg/<chunk dir>/file`).
const MAX_DEPTH: usize = 6;

/// Every file under `root`, as its URL path and its place on disk, sorted by URL.
pub fn list(root: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    walk(root, root, 0, &mut out);
    out.sort();
    out
}

fn walk(root: &Path, dir: &Path, depth: usize, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let Ok(kind) = e.file_type() else { continue };
        if kind.is_dir() && depth < MAX_DEPTH {
            walk(root, &path, depth + 1, out);
        } else if kind.is_file()
            && let Some(url) = url_of(root, &path)
        {
            out.push((url, path));
        }
    }
}

/// `/pkg/orchard.wasm` for `<root>/pkg/orchard.wasm`; `None` for a name no URL should
/// carry (not UTF-8, or characters the router reads specially).
fn url_of(root: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(root).ok()?;
    let mut url = String::new();
    for part in rel.components() {
        let part = part.as_os_str().to_str()?;
        let plain = !part.is_empty()
            && !part.starts_with('.')
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if !plain {
            return None;
        }
        url.push('/');
        url.push_str(part);
    }
    Some(url)
}

/// A route per site file, each declared public in `table`. A file with brotli or gzip
/// copies beside it goes out as the copy the browser accepts.
pub fn router(root: &Path, table: &mut AccessTable) -> Router<AppState> {
    let mut router = Router::new();
    for (url, path) in list(root) {
        let service = ServeFile::new(&path)
            .precompressed_br()
            .precompressed_gzip();
        router = router.route_service(&url, service);
        table.declare(Method::GET, &url, Access::Public, Kind::File);
    }
    router
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_the_files_a_build_made_and_nothing_odd() {
        let dir = std::env::temp_dir().join(format!("orchard-site-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(dir.join("pkg/chunks")).unwrap();
        for f in [
            "favicon.svg",
            "pkg/orchard.wasm",
            "pkg/orchard.wasm.br",
            "pkg/chunks/a1.wasm",
            "pkg/.hidden",
            "pkg/odd name.js",
        ] {
            std::fs::write(dir.join(f), b"x").unwrap();
        }
        let urls: Vec<String> = list(&dir).into_iter().map(|(u, _)| u).collect();
        assert_eq!(
            urls,
            [
                "/favicon.svg",
                "/pkg/chunks/a1.wasm",
                "/pkg/orchard.wasm",
                "/pkg/orchard.wasm.br"
            ]
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
