//! The job kinds a process knows, by name: the runner looks a leased task's kind up here and
//! never tests names or phases itself. The one place that knows every kind.

use crate::jobs::model::JobKind;
use crate::jobs::protocol::LeasedTask;
use crate::kinds::{ExecError, Executed, Kind, RunsOn, Worksite};
use std::sync::Arc;

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
            Arc::new(crate::jobs::workflow::Workflow),
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

    /// How often a running task of `kind` must heartbeat at the least (see
    /// `Kind::notice_cancel_within`).
    pub fn notice_cancel_within(&self, kind: &str) -> Option<std::time::Duration> {
        JobKind::parse(kind)
            .and_then(|k| self.get(k))
            .and_then(|k| k.notice_cancel_within())
    }

    /// Runs a leased task through its kind. A task of a kind this process does not know, or
    /// one that must run on the server's workers handed to a remote one, is not run.
    pub async fn execute(
        &self,
        task: &LeasedTask,
        at: Worksite<'_>,
    ) -> Result<Executed, ExecError> {
        let kind = JobKind::parse(&task.job_kind)
            .and_then(|k| self.get(k))
            .ok_or_else(|| ExecError::Fatal(format!("unknown job kind {:?}", task.job_kind)))?;
        if kind.runs_on() == RunsOn::ServerWorkers && at.server.is_none() {
            return Err(ExecError::Retryable(format!(
                "{} jobs run on the server's own workers",
                task.job_kind
            )));
        }
        let output = kind.execute(task, at).await?;
        let spawn = kind.spawn(task, &output);
        Ok(Executed { output, spawn })
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
