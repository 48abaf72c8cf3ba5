//! No-op jobs: N independent tasks that do nothing, then one closing task that finishes the
//! job once they are all done.
//! They measure the queue itself (claims, reports, fencing) with no work in between.

use super::model::JobKind;
use super::plan::TaskSpec;
use super::protocol::LeasedTask;
use crate::kinds::{ExecError, Kind, Worksite};
use async_trait::async_trait;
use serde_json::{Value, json};

/// The kind.
pub struct Noop;

#[async_trait]
impl Kind for Noop {
    fn kind(&self) -> JobKind {
        JobKind::Noop
    }

    async fn execute(&self, task: &LeasedTask, _: Worksite<'_>) -> Result<Value, ExecError> {
        Ok(match Phase::parse(&task.phase)? {
            Phase::Finish => json!({ "tasks": task.payload["tasks"] }),
            Phase::Run => json!({}),
        })
    }
}

/// A no-op job's phases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// One of the N tasks.
    Run,
    /// The root, ready once every run task is done.
    Finish,
}

impl Phase {
    pub const ALL: [Phase; 2] = [Phase::Run, Phase::Finish];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Run => "run",
            Phase::Finish => "finish",
        }
    }

    pub fn parse(s: &str) -> Result<Self, ExecError> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| ExecError::Fatal(format!("unknown no-op phase {s:?}")))
    }
}

/// `n` independent tasks feeding one root that marks the job done.
pub fn plan(n: u32) -> Vec<TaskSpec> {
    let n = n as usize;
    let mut tasks: Vec<TaskSpec> = (0..n)
        .map(|i| TaskSpec {
            phase: Phase::Run.as_str(),
            payload: json!({ "index": i }),
            deps: Vec::new(),
            handler: None,
            retry: None,
            after_all: false,
        })
        .collect();
    // The root closes the job: it waits on every run task, with no edge to each.
    tasks.push(TaskSpec {
        phase: Phase::Finish.as_str(),
        payload: json!({ "tasks": n }),
        deps: Vec::new(),
        handler: None,
        retry: None,
        after_all: true,
    });
    tasks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_feed_one_root() {
        let t = plan(4);
        assert_eq!(t.len(), 5);
        super::super::plan::check_one_sink(&t);
        assert_eq!(t[4].phase, Phase::Finish.as_str());
        assert!(t[4].after_all && t[4].deps.is_empty());
        assert_eq!(t[4].payload["tasks"], 4);
    }
}
