//! Job kinds as a trait. A kind declares its name, which workers may run its tasks, and how
//! one of its leased tasks runs to an output. Each kind lives beside its domain
//! (`jobs::file_average`, `jobs::noop`, `tasks::kinds`); `registry.rs` alone knows them all,
//! so the queue (`jobs`) does not depend on the task forest (`tasks`).

use crate::files::{FileError, FileStore};
use crate::jobs::handlers::{Handlers, LogShip};
use crate::jobs::model::JobKind;
use crate::jobs::protocol::{LeasedTask, SpawnedTask};
use crate::state::Core;
use async_trait::async_trait;
use serde_json::Value;

/// Why a task did not produce an output.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExecError {
    /// Worth another attempt (I/O trouble, a file not there yet).
    #[error("{0}")]
    Retryable(String),
    /// Retrying cannot help (malformed input).
    #[error("{0}")]
    Fatal(String),
}

impl From<FileError> for ExecError {
    fn from(e: FileError) -> Self {
        match e {
            FileError::BadKey(_) => ExecError::Fatal(e.to_string()),
            _ => ExecError::Retryable(e.to_string()),
        }
    }
}

/// Which workers may lease a kind's tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunsOn {
    /// Any worker: the server's own pool or a remote `orchard worker`.
    AnyWorker,
    /// Only the server's own workers (the task works on the server's database).
    ServerWorkers,
}

/// What a running task may use: the file store it was given and, on the server's own
/// workers, the engine itself.
#[derive(Clone, Copy)]
pub struct Worksite<'a> {
    pub files: &'a dyn FileStore,
    pub server: Option<&'a Core>,
    /// The handlers the worker offers (workflow steps run on them).
    pub handlers: &'a Handlers,
    /// Where a running step's log lines go.
    pub log: &'a dyn LogShip,
}

/// A kind of job.
#[async_trait]
pub trait Kind: Send + Sync + 'static {
    /// The name jobs of this kind carry.
    fn kind(&self) -> JobKind;

    /// Which workers may lease its tasks.
    fn runs_on(&self) -> RunsOn {
        RunsOn::AnyWorker
    }

    /// How soon a running task of this kind must learn that its job was cancelled (its
    /// heartbeat comes at least this often); by default a third of its lease.
    fn notice_cancel_within(&self) -> Option<std::time::Duration> {
        None
    }

    /// Runs one leased task of a job of this kind to its output (for a task nothing waits
    /// on, part of the job's result).
    async fn execute(&self, task: &LeasedTask, at: Worksite<'_>) -> Result<Value, ExecError>;

    /// The tasks a task's output adds to its running job (a fan-out decided at run time),
    /// reported with its completion; none unless the kind says so.
    fn spawn(&self, _task: &LeasedTask, _output: &Value) -> Vec<SpawnedTask> {
        Vec::new()
    }
}

/// A task's run: its output and the tasks it adds to its job.
#[derive(Debug, Clone, PartialEq)]
pub struct Executed {
    pub output: Value,
    pub spawn: Vec<SpawnedTask>,
}
