//! The file store behind job files: a local folder by default; any other implementation
//! (an object store, or a remote server seen through the REST API) fulfils the same contract.
//! Keys are relative paths of plain segments (`jobs/<id>/input/00001.txt`), checked before use.

use async_trait::async_trait;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("file {0} not found")]
    NotFound(String),
    #[error("invalid file key {0:?}")]
    BadKey(String),
    #[error("file store: {0}")]
    Io(String),
}

/// Where job files live.
#[async_trait]
pub trait FileStore: Send + Sync + 'static {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), FileError>;
    async fn get(&self, key: &str) -> Result<Vec<u8>, FileError>;
    /// Removes every file under `prefix/`; missing files are fine.
    async fn delete_prefix(&self, prefix: &str) -> Result<(), FileError>;
    /// A short description for logs and the overview (`local:./data/files`).
    fn describe(&self) -> String;
}

/// Accepts keys made of non-empty segments of `[A-Za-z0-9._-]`, none of them `.` or `..`.
pub fn check_key(key: &str) -> Result<(), FileError> {
    let ok = !key.is_empty()
        && key.len() <= 512
        && key.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(FileError::BadKey(key.to_string()))
    }
}

/// Files in a folder on this machine.
pub struct LocalFiles {
    root: PathBuf,
}

impl LocalFiles {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn path(&self, key: &str) -> Result<PathBuf, FileError> {
        check_key(key)?;
        Ok(self.root.join(key))
    }
}

fn io(e: std::io::Error) -> FileError {
    FileError::Io(e.to_string())
}

#[async_trait]
impl FileStore for LocalFiles {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), FileError> {
        let path = self.path(key)?;
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await.map_err(io)?;
        }
        // Write then rename, so a reader never sees half a file.
        let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
        tokio::fs::write(&tmp, bytes).await.map_err(io)?;
        tokio::fs::rename(&tmp, &path).await.map_err(io)
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, FileError> {
        let path = self.path(key)?;
        tokio::fs::read(&path).await.map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => FileError::NotFound(key.to_string()),
            _ => io(e),
        })
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<(), FileError> {
        let path = self.path(prefix)?;
        match tokio::fs::remove_dir_all(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(e)),
        }
    }

    fn describe(&self) -> String {
        format!("local:{}", self.root.display())
    }
}

/// Opens the file store named by `spec`: a folder path (default `./data/files`).
pub fn open(spec: &str, data_dir: &Path) -> Result<Arc<dyn FileStore>, FileError> {
    if spec.is_empty() {
        return Ok(Arc::new(LocalFiles::new(data_dir.join("files"))));
    }
    if let Some(scheme) = spec.split_once("://").map(|(s, _)| s) {
        return Err(FileError::Io(format!(
            "file store scheme {scheme}:// is not supported; use a local folder path"
        )));
    }
    Ok(Arc::new(LocalFiles::new(spec)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_cannot_escape_the_root() {
        assert!(check_key("jobs/abc/input/00001.txt").is_ok());
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../b",
            "a//b",
            "a/./b",
            "a b",
            "a\\b",
        ] {
            assert!(check_key(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[tokio::test]
    async fn local_files_round_trip_and_delete() {
        let dir = std::env::temp_dir().join(format!("orchard-files-{}", uuid::Uuid::new_v4()));
        let fs = LocalFiles::new(&dir);
        fs.put("jobs/j1/a.txt", b"1\n2\n".to_vec()).await.unwrap();
        assert_eq!(fs.get("jobs/j1/a.txt").await.unwrap(), b"1\n2\n");
        fs.delete_prefix("jobs/j1").await.unwrap();
        assert!(matches!(
            fs.get("jobs/j1/a.txt").await,
            Err(FileError::NotFound(_))
        ));
        fs.delete_prefix("jobs/j1").await.unwrap();
        let _ = std::fs::remove_dir_all(dir);
    }
}
