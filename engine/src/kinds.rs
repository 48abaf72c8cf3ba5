//! Job kinds as a trait with a registry. A kind declares its name, which workers may run its
//! tasks, and how one of its leased tasks runs to an output; the runner looks the kind up in
//! the registry and never tests names or phases itself. Each kind lives beside its domain
//! (`jobs::file_average`, `jobs::noop`, `tasks::kinds`); only this module knows them all, so
//! the queue (`jobs`) does not depend on the task forest (`tasks`).

use crate::files::{FileError, FileStore};
use crate::jobs::model::JobKind;
use crate::jobs::protocol::LeasedTask;
use crate::state::Core;
use async_trait::async_trait;
use serde_json::Value;
use std::sync::Arc;

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

    /// Runs one leased task of a job of this kind to its output (for the job's root task,
    /// also the job's result).
    async fn execute(&self, task: &LeasedTask, at: Worksite<'_>) -> Result<Value, ExecError>;
}

/// The kinds a process knows, by name.
#[derive(Clone)]
pub struct Registry {
    kinds: Vec<Arc<dyn Kind>>,
}

impl Registry {
    /// Every kind Orchard ships.
    pub fn builtin() -> Self {
        let kinds: Vec<Arc<dyn Kind>> = vec![
            Arc::new(crate::jobs::file_average::FileAverage),
            Arc::new(crate::jobs::noop::Noop),
            Arc::new(crate::tasks::kinds::TreeImport),
            Arc::new(crate::tasks::kinds::TreeExport),
            Arc::new(crate::tasks::kinds::TreeGenerate),
        ];
        Self { kinds }
    }

    /// The kind of `kind`, if this process knows it.
    pub fn get(&self, kind: JobKind) -> Option<&dyn Kind> {
        self.kinds
            .iter()
            .find(|k| k.kind() == kind)
            .map(|k| k.as_ref())
    }

    /// Where tasks of `kind` may run; a kind this process does not know runs nowhere.
    pub fn runs_on(&self, kind: JobKind) -> Option<RunsOn> {
        self.get(kind).map(|k| k.runs_on())
    }

    /// Runs a leased task through its kind. A task of a kind this process does not know, or
    /// one that must run on the server's workers handed to a remote one, is not run.
    pub async fn execute(&self, task: &LeasedTask, at: Worksite<'_>) -> Result<Value, ExecError> {
        let kind = JobKind::parse(&task.job_kind)
            .and_then(|k| self.get(k))
            .ok_or_else(|| ExecError::Fatal(format!("unknown job kind {:?}", task.job_kind)))?;
        if kind.runs_on() == RunsOn::ServerWorkers && at.server.is_none() {
            return Err(ExecError::Retryable(format!(
                "{} jobs run on the server's own workers",
                task.job_kind
            )));
        }
        kind.execute(task, at).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_registered_once() {
        let r = Registry::builtin();
        for k in JobKind::ALL {
            assert_eq!(r.kinds.iter().filter(|x| x.kind() == k).count(), 1, "{k:?}");
        }
        assert_eq!(r.kinds.len(), JobKind::ALL.len());
    }

    #[test]
    fn tree_kinds_run_only_on_the_server() {
        let r = Registry::builtin();
        for k in JobKind::ALL {
            let server = matches!(
                k,
                JobKind::TreeImport | JobKind::TreeExport | JobKind::TreeGenerate
            );
            assert_eq!(r.runs_on(k) == Some(RunsOn::ServerWorkers), server, "{k:?}");
        }
    }
}
