//! A step's input too large for stdin (`handlers::MAX_STDIN_INPUT`): written to a file only
//! the worker's user can read, named to the step on stdin and in `ORCHARD_INPUT_FILE`, and
//! removed when the step ends, however it ends.

use std::path::PathBuf;

/// A step's input too large for stdin, in a file only the worker's user can read; removed
/// when dropped.
pub struct InputFile(pub PathBuf);

impl InputFile {
    /// Writes `bytes` to a new file for task `task_id`'s attempt.
    pub fn write(task_id: &str, attempt: i64, bytes: &[u8]) -> std::io::Result<Self> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let path = std::env::temp_dir().join(format!(
            "orchard-input-{}-{attempt}-{}.json",
            task_id
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>(),
            uuid::Uuid::new_v4().simple()
        ));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        f.write_all(bytes)?;
        Ok(Self(path))
    }
}

impl Drop for InputFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
