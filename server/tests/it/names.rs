//! Docs and comments name only things that exist: every `….rs` or `….sql` file named in the
//! README, `docs/` or a comment of the code is a file of the repository.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if path.is_dir() {
            if !["target", "node_modules", ".git", "fixtures"].contains(&name.as_str()) {
                files(&path, out);
            }
        } else {
            out.push(path);
        }
    }
}

/// The file names (such as `store/mod` with its extension) a text mentions.
fn named(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    for ext in [".rs", ".sql"] {
        let mut from = 0;
        while let Some(at) = text[from..].find(ext) {
            let end = from + at + ext.len();
            from = end;
            if bytes
                .get(end)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
            {
                continue;
            }
            let start = text[..end - ext.len()]
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '/' || c == '-'))
                .map_or(0, |i| {
                    i + text[i..].chars().next().map_or(1, char::len_utf8)
                });
            let name = &text[start..end];
            if name.len() > ext.len() && !name.starts_with('/') {
                out.push(name.to_string());
            }
        }
    }
    out
}

#[test]
fn every_named_file_exists() {
    let root = crate::common::root();
    let mut all = Vec::new();
    files(&root, &mut all);
    let known: BTreeSet<String> = all
        .iter()
        .map(|p| p.strip_prefix(&root).unwrap().to_string_lossy().to_string())
        .collect();
    let exists = |name: &str| {
        known
            .iter()
            .any(|k| k == name || k.ends_with(&format!("/{name}")))
    };
    let mut texts: Vec<(String, String)> = Vec::new();
    for doc in ["README.md", "docs/architecture.md"] {
        texts.push((
            doc.to_string(),
            std::fs::read_to_string(root.join(doc)).unwrap(),
        ));
    }
    for path in &all {
        let rel = path
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .to_string();
        if rel.ends_with(".rs") && !rel.starts_with("fuzz/") {
            let text = std::fs::read_to_string(path).unwrap();
            let comments: String = text
                .lines()
                .filter(|l| {
                    let t = l.trim_start();
                    t.starts_with("//") || t.starts_with("--")
                })
                .collect::<Vec<_>>()
                .join("\n");
            texts.push((rel, comments));
        }
    }
    let mut missing = Vec::new();
    for (source, text) in &texts {
        for name in named(text) {
            if !exists(&name) {
                missing.push(format!("{source}: {name}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "names of files that do not exist:\n{}",
        missing.join("\n")
    );
}
