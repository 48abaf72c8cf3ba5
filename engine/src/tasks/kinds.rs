//! The task forest's job kinds: import a tree file, export the forest (or a subtree), and
//! generate a random tree (then import it when asked). Their tasks work on the server's
//! database, so only the server's own workers run them.

use super::exec::{Step, run};
use crate::jobs::model::JobKind;
use crate::jobs::protocol::LeasedTask;
use crate::kinds::{ExecError, Kind, RunsOn, Worksite};
use crate::state::Core;
use async_trait::async_trait;
use serde_json::Value;

/// The phases of tree jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Reads a tree file into the forest.
    Import,
    /// Writes the forest or a subtree to a tree file.
    Export,
    /// Writes a random tree file.
    Generate,
}

impl Phase {
    pub const ALL: [Phase; 3] = [Phase::Import, Phase::Export, Phase::Generate];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Import => "import",
            Phase::Export => "export",
            Phase::Generate => "generate",
        }
    }

    pub fn parse(s: &str) -> Result<Self, ExecError> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| ExecError::Fatal(format!("unknown tree phase {s:?}")))
    }
}

fn server<'a>(at: Worksite<'a>) -> Result<&'a Core, ExecError> {
    at.server
        .ok_or_else(|| ExecError::Retryable("tree jobs run on the server's own workers".into()))
}

fn wrong_phase(kind: JobKind, phase: Phase) -> ExecError {
    ExecError::Fatal(format!(
        "{} jobs have no {} phase",
        kind.as_str(),
        phase.as_str()
    ))
}

/// Reads an uploaded tree file into the forest.
pub struct TreeImport;

#[async_trait]
impl Kind for TreeImport {
    fn kind(&self) -> JobKind {
        JobKind::TreeImport
    }
    fn runs_on(&self) -> RunsOn {
        RunsOn::ServerWorkers
    }
    async fn execute(&self, task: &LeasedTask, at: Worksite<'_>) -> Result<Value, ExecError> {
        match Phase::parse(&task.phase)? {
            Phase::Import => run(task, server(at)?, Step::Import).await,
            p => Err(wrong_phase(self.kind(), p)),
        }
    }
}

/// Writes the forest or a subtree to a tree file.
pub struct TreeExport;

#[async_trait]
impl Kind for TreeExport {
    fn kind(&self) -> JobKind {
        JobKind::TreeExport
    }
    fn runs_on(&self) -> RunsOn {
        RunsOn::ServerWorkers
    }
    async fn execute(&self, task: &LeasedTask, at: Worksite<'_>) -> Result<Value, ExecError> {
        match Phase::parse(&task.phase)? {
            Phase::Export => run(task, server(at)?, Step::Export).await,
            p => Err(wrong_phase(self.kind(), p)),
        }
    }
}

/// Writes a random tree file, then (when asked) imports it.
pub struct TreeGenerate;

#[async_trait]
impl Kind for TreeGenerate {
    fn kind(&self) -> JobKind {
        JobKind::TreeGenerate
    }
    fn runs_on(&self) -> RunsOn {
        RunsOn::ServerWorkers
    }
    async fn execute(&self, task: &LeasedTask, at: Worksite<'_>) -> Result<Value, ExecError> {
        match Phase::parse(&task.phase)? {
            Phase::Generate => run(task, server(at)?, Step::Generate).await,
            Phase::Import => run(task, server(at)?, Step::ImportGenerated).await,
            p => Err(wrong_phase(self.kind(), p)),
        }
    }
}
