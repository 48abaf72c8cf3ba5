//! The built site's files (the client under `pkg/`, its split chunks, styles, favicon,
//! boot script, with their brotli and gzip copies): one public route per file the build
//! produced, listed when the server starts. Nothing else is ever served from disk, so no
//! path can reach past them.
//!
//! Every file is served under `/v/<build>/`, where `<build>` is a digest of all the files'
//! names and bytes. A URL therefore names one file's bytes for good and is cached as
//! immutable. The chunks of a split client keep their names from build to build
//! (`chunk_11.wasm`), so without the prefix a page rendered by one build could load another
//! build's chunk and fail in the middle of running. With it, a page of a build this server
//! does not hold gets a 404 for its files, and `boot.js` reloads the page once onto the
//! build that answers.

use crate::access::{AccessTable, Kind};
use app::access::Access;
use app::assets::Assets;
use app::state::AppState;
use axum::Router;
use axum::http::{HeaderValue, Method, header};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use tower_http::services::ServeFile;
use tower_http::set_header::SetResponseHeaderLayer;

/// How long a browser or proxy may keep a build's file: a year, never revalidated, as its
/// URL changes whenever its bytes do.
const CACHE_FOREVER: &str = "public, max-age=31536000, immutable";

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

/// The build's id: the first 16 hex digits of a SHA-256 over every file's URL and bytes,
/// in URL order. The brotli and gzip copies are left out: they are made from the files
/// beside them. Unreadable files count as empty (they are not served either way).
pub fn build_id(files: &[(String, PathBuf)]) -> String {
    let mut h = Sha256::new();
    for (url, path) in files {
        if url.ends_with(".br") || url.ends_with(".gz") {
            continue;
        }
        let bytes = std::fs::read(path).unwrap_or_default();
        h.update((url.len() as u64).to_le_bytes());
        h.update(url.as_bytes());
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    hex::encode(&h.finalize()[..8])
}

/// Where the files under `root` are served: the prefix of their build. Worked out once per
/// folder and process (a debug site is over 100 MB, and tests start many servers on it).
pub fn assets(root: &Path) -> Assets {
    static SEEN: std::sync::Mutex<Vec<(PathBuf, Assets)>> = std::sync::Mutex::new(Vec::new());
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, a)) = seen.iter().find(|(r, _)| r == root) {
        return a.clone();
    }
    let a = Assets::for_build(&build_id(&list(root)));
    seen.push((root.to_path_buf(), a.clone()));
    a
}

/// A route per site file under `assets`' prefix, each declared public in `table`. A file
/// with brotli or gzip copies beside it goes out as the copy the browser accepts, and
/// every answer may be cached for good.
pub fn router(root: &Path, assets: &Assets, table: &mut AccessTable) -> Router<AppState> {
    let mut router = Router::new();
    for (url, path) in list(root) {
        let url = format!("{}{url}", assets.prefix());
        let service = ServeFile::new(&path)
            .precompressed_br()
            .precompressed_gzip();
        router = router.route_service(&url, service);
        table.declare(Method::GET, &url, Access::Public, Kind::File);
    }
    router.layer(SetResponseHeaderLayer::overriding(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_FOREVER),
    ))
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

    #[test]
    fn the_build_id_follows_every_byte_and_name() {
        let dir = std::env::temp_dir().join(format!("orchard-site-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(dir.join("pkg")).unwrap();
        std::fs::write(dir.join("pkg/a.wasm"), b"one").unwrap();
        std::fs::write(dir.join("pkg/b.js"), b"two").unwrap();
        let first = build_id(&list(&dir));
        assert_eq!(first.len(), 16);
        assert!(first.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(build_id(&list(&dir)), first, "same files, same id");
        std::fs::write(dir.join("pkg/a.wasm"), b"One").unwrap();
        let changed = build_id(&list(&dir));
        assert_ne!(changed, first, "a changed byte changes the id");
        std::fs::rename(dir.join("pkg/b.js"), dir.join("pkg/c.js")).unwrap();
        assert_ne!(
            build_id(&list(&dir)),
            changed,
            "a renamed file changes the id"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
