//! The file store behind job files: a local folder by default, or an S3-compatible bucket
//! (`s3://bucket/prefix`, configured by the usual `AWS_*` variables) so that workers on other
//! machines read the same files. A remote worker without bucket access reads them through the
//! server's REST API, which fulfils the same contract.
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

/// A file being read a piece at a time.
pub type FileReader = Box<dyn tokio::io::AsyncRead + Send + Unpin>;

/// Where job files live.
#[async_trait]
pub trait FileStore: Send + Sync + 'static {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), FileError>;
    async fn get(&self, key: &str) -> Result<Vec<u8>, FileError>;
    /// Reads several files, in the order of `keys`. The default fetches them all at once;
    /// the local store reads them in one go on one blocking thread, which costs a task a
    /// single hand-off instead of one per file (and none when they are small).
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Vec<u8>>, FileError> {
        futures::future::try_join_all(keys.iter().map(|k| self.get(k))).await
    }
    /// Reads a file as a stream, with its size in bytes. Stores that can stream override
    /// this; the default reads the file whole first.
    async fn reader(&self, key: &str) -> Result<(FileReader, u64), FileError> {
        let bytes = self.get(key).await?;
        let len = bytes.len() as u64;
        Ok((Box::new(std::io::Cursor::new(bytes)), len))
    }
    /// Stores the local file at `path` under `key`. Stores that can stream override this;
    /// the default reads the file whole first.
    async fn put_file(&self, key: &str, path: &Path) -> Result<(), FileError> {
        let bytes = tokio::fs::read(path).await.map_err(io)?;
        self.put(key, bytes).await
    }
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

/// Most bytes `get_many` reads without handing off to a blocking thread.
const INLINE_READ_MAX: u64 = 128 * 1024;

/// Runs blocking file work on tokio's blocking pool.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> std::io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(std::io::Error::other)
}

#[async_trait]
impl FileStore for LocalFiles {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), FileError> {
        let path = self.path(key)?;
        // Folder, write and rename on one blocking thread: one hand-off per file.
        blocking(move || {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            // Write then rename, so a reader never sees half a file.
            let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
            std::fs::write(&tmp, bytes)?;
            std::fs::rename(&tmp, &path)
        })
        .await
        .and_then(|r| r)
        .map_err(io)
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, FileError> {
        Ok(self.get_many(&[key.to_string()]).await?.remove(0))
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Vec<u8>>, FileError> {
        let paths = keys
            .iter()
            .map(|k| self.path(k).map(|p| (k.clone(), p)))
            .collect::<Result<Vec<_>, _>>()?;
        // A few small files are read where the task runs: the hand-off to a blocking
        // thread and back would take longer than reading them.
        let small = paths.iter().try_fold(0u64, |total, (_, path)| {
            let len = std::fs::metadata(path).ok()?.len();
            Some(total + len).filter(|t| *t <= INLINE_READ_MAX)
        });
        let read_all = move || {
            paths
                .into_iter()
                .map(|(key, path)| {
                    std::fs::read(&path).map_err(|e| match e.kind() {
                        std::io::ErrorKind::NotFound => FileError::NotFound(key),
                        _ => io(e),
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        if small.is_some() {
            // Reads that never wait still count against the task's turn, so a loop of them
            // lets other tasks run now and then.
            tokio::task::consume_budget().await;
            return read_all();
        }
        blocking(read_all).await.map_err(io)?
    }

    async fn reader(&self, key: &str) -> Result<(FileReader, u64), FileError> {
        let path = self.path(key)?;
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => FileError::NotFound(key.to_string()),
                _ => io(e),
            })?;
        let len = file.metadata().await.map_err(io)?.len();
        Ok((Box::new(file), len))
    }

    async fn put_file(&self, key: &str, from: &Path) -> Result<(), FileError> {
        let path = self.path(key)?;
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await.map_err(io)?;
        }
        let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
        tokio::fs::copy(from, &tmp).await.map_err(io)?;
        tokio::fs::rename(&tmp, &path).await.map_err(io)
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<(), FileError> {
        let path = self.path(prefix)?;
        match tokio::fs::remove_dir_all(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            // A single file rather than a folder.
            Err(_) if path.is_file() => tokio::fs::remove_file(&path).await.map_err(io),
            Err(e) => Err(io(e)),
        }
    }

    fn describe(&self) -> String {
        format!("local:{}", self.root.display())
    }
}

/// Files in an S3-compatible bucket, under a key prefix.
pub struct BucketFiles {
    store: Arc<dyn object_store::ObjectStore>,
    prefix: String,
    spec: String,
}

impl BucketFiles {
    /// `s3://bucket[/prefix]`; credentials, region and endpoint come from `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT` (S3-compatible servers) and
    /// `AWS_ALLOW_HTTP`.
    pub fn open(spec: &str) -> Result<Self, FileError> {
        let rest = spec
            .strip_prefix("s3://")
            .ok_or_else(|| FileError::Io(format!("not an s3:// URL: {spec}")))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(FileError::Io(format!("no bucket in {spec}")));
        }
        let store = object_store::aws::AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .build()
            .map_err(|e| FileError::Io(format!("cannot open {spec}: {e}")))?;
        Ok(Self {
            store: Arc::new(store),
            prefix: prefix.trim_matches('/').to_string(),
            spec: spec.to_string(),
        })
    }

    fn path(&self, key: &str) -> Result<object_store::path::Path, FileError> {
        check_key(key)?;
        let full = if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}/{key}", self.prefix)
        };
        object_store::path::Path::parse(&full).map_err(|_| FileError::BadKey(key.to_string()))
    }
}

fn bucket_error(key: &str, e: object_store::Error) -> FileError {
    match e {
        object_store::Error::NotFound { .. } => FileError::NotFound(key.to_string()),
        other => FileError::Io(other.to_string()),
    }
}

#[async_trait]
impl FileStore for BucketFiles {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), FileError> {
        let path = self.path(key)?;
        self.store
            .put(&path, bytes.into())
            .await
            .map(|_| ())
            .map_err(|e| bucket_error(key, e))
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, FileError> {
        let path = self.path(key)?;
        let got = self
            .store
            .get(&path)
            .await
            .map_err(|e| bucket_error(key, e))?;
        got.bytes()
            .await
            .map(|b| b.to_vec())
            .map_err(|e| bucket_error(key, e))
    }

    async fn reader(&self, key: &str) -> Result<(FileReader, u64), FileError> {
        use futures::TryStreamExt;
        let path = self.path(key)?;
        let got = self
            .store
            .get(&path)
            .await
            .map_err(|e| bucket_error(key, e))?;
        let len = got.meta.size;
        let stream = got.into_stream().map_err(std::io::Error::other);
        Ok((Box::new(tokio_util::io::StreamReader::new(stream)), len))
    }

    async fn put_file(&self, key: &str, from: &Path) -> Result<(), FileError> {
        use tokio::io::AsyncReadExt;
        let path = self.path(key)?;
        let upload = self
            .store
            .put_multipart(&path)
            .await
            .map_err(|e| bucket_error(key, e))?;
        let mut writer = object_store::WriteMultipart::new(upload);
        let mut file = tokio::fs::File::open(from).await.map_err(io)?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut buf).await.map_err(io)?;
            if n == 0 {
                break;
            }
            writer.write(&buf[..n]);
            writer
                .wait_for_capacity(4)
                .await
                .map_err(|e| bucket_error(key, e))?;
        }
        writer
            .finish()
            .await
            .map(|_| ())
            .map_err(|e| bucket_error(key, e))
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<(), FileError> {
        use futures::TryStreamExt;
        let path = self.path(prefix)?;
        let objects: Vec<_> = self
            .store
            .list(Some(&path))
            .map_ok(|m| m.location)
            .try_collect()
            .await
            .map_err(|e| bucket_error(prefix, e))?;
        for location in objects {
            match self.store.delete(&location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(bucket_error(prefix, e)),
            }
        }
        Ok(())
    }

    fn describe(&self) -> String {
        self.spec.clone()
    }
}

/// Opens the file store named by `spec`: empty for `<data dir>/files`, `s3://bucket/prefix`
/// for a bucket, anything else is a folder path.
pub fn open(spec: &str, data_dir: &Path) -> Result<Arc<dyn FileStore>, FileError> {
    if spec.is_empty() {
        return Ok(Arc::new(LocalFiles::new(data_dir.join("files"))));
    }
    if spec.starts_with("s3://") {
        return Ok(Arc::new(BucketFiles::open(spec)?));
    }
    if let Some((scheme, _)) = spec.split_once("://") {
        return Err(FileError::Io(format!(
            "file store scheme {scheme}:// is not supported; use s3://bucket/prefix or a folder"
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

    #[tokio::test]
    async fn local_get_many_keeps_order_and_names_a_missing_file() {
        let dir = std::env::temp_dir().join(format!("orchard-files-{}", uuid::Uuid::new_v4()));
        let fs = LocalFiles::new(&dir);
        fs.put("g/a.txt", b"a".to_vec()).await.unwrap();
        fs.put("g/b.txt", b"b".to_vec()).await.unwrap();
        let keys = ["g/b.txt", "g/a.txt"].map(String::from);
        assert_eq!(
            fs.get_many(&keys).await.unwrap(),
            vec![b"b".to_vec(), b"a".to_vec()]
        );
        let keys = ["g/a.txt", "g/none.txt"].map(String::from);
        match fs.get_many(&keys).await {
            Err(FileError::NotFound(k)) => assert_eq!(k, "g/none.txt"),
            other => panic!("expected NotFound, got {other:?}"),
        }
        let keys = ["g/../x".to_string()];
        assert!(matches!(
            fs.get_many(&keys).await,
            Err(FileError::BadKey(_))
        ));
        let _ = std::fs::remove_dir_all(dir);
    }
}
