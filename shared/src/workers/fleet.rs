//! The fleet as the process monitor sees it: workers with their processes, processes with
//! their tasks. A wpipe pipeline run is a process whose tasks are its steps; an Orchard
//! worker's process is a job it took part in, and its tasks are the job tasks it ran.

use super::model::Worker;
use crate::Millis;
use serde::{Deserialize, Serialize};

/// How a process ended, or that it still runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessStatus {
    Running,
    Success,
    Error,
}

impl ProcessStatus {
    pub const ALL: [ProcessStatus; 3] = [
        ProcessStatus::Running,
        ProcessStatus::Success,
        ProcessStatus::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProcessStatus::Running => "running",
            ProcessStatus::Success => "success",
            ProcessStatus::Error => "error",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Running, Self::Success, Self::Error]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// Where a process's task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    Pending,
    Running,
    Success,
    Error,
}

impl StepState {
    pub const ALL: [StepState; 4] = [
        StepState::Pending,
        StepState::Running,
        StepState::Success,
        StepState::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StepState::Pending => "pending",
            StepState::Running => "running",
            StepState::Success => "success",
            StepState::Error => "error",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Running, Self::Success, Self::Error]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
    pub fn finished(self) -> bool {
        matches!(self, StepState::Success | StepState::Error)
    }
}

/// A worker with what it has done, for the fleet table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetWorker {
    pub worker: Worker,
    pub processes: i64,
    pub running: i64,
    pub succeeded: i64,
    pub failed: i64,
    /// Mean duration of its ended processes.
    pub avg_process_ms: Option<i64>,
    /// The task it is running now, if any.
    pub current_task: Option<String>,
    /// Tasks finished in each of the last 30 minutes, oldest first.
    pub tasks_per_min: Vec<i64>,
}

impl FleetWorker {
    /// Share of ended processes that succeeded, in percent.
    pub fn success_rate(&self) -> Option<f64> {
        let ended = self.succeeded + self.failed;
        (ended > 0).then(|| self.succeeded as f64 * 100.0 / ended as f64)
    }
}

/// Minutes covered by the tasks-per-minute series.
pub const SPARK_MINUTES: i64 = 30;

/// One process of a worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessSummary {
    pub id: String,
    pub worker_id: String,
    pub worker_name: String,
    pub status: ProcessStatus,
    pub started_at: Millis,
    pub ended_at: Option<Millis>,
    pub tasks_total: i64,
    /// Tasks that finished (successfully or not).
    pub tasks_finished: i64,
    pub tasks_failed: i64,
    /// Every failed task failed because its input was wrong (not the worker's doing).
    #[serde(default)]
    pub input_fault: bool,
    /// The most recently updated task: its name, state and time.
    pub step: Option<String>,
    pub step_state: Option<StepState>,
    pub last_update: Option<Millis>,
    pub details: Option<String>,
}

impl ProcessSummary {
    /// `3/5`: finished tasks of all.
    pub fn progress(&self) -> String {
        format!("{}/{}", self.tasks_finished, self.tasks_total)
    }

    /// Whole percent of finished tasks (an ended process with no tasks is complete).
    pub fn percent(&self) -> i64 {
        if self.tasks_total == 0 {
            if self.ended_at.is_some() { 100 } else { 0 }
        } else {
            self.tasks_finished * 100 / self.tasks_total
        }
    }
}

/// One task of a process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessTask {
    pub id: String,
    pub process_id: String,
    /// Position in the process, from 1.
    pub seq: i64,
    pub name: String,
    pub version: String,
    pub state: StepState,
    pub details: Option<String>,
    pub received_at: Millis,
    pub started_at: Option<Millis>,
    pub finished_at: Option<Millis>,
    pub updated_at: Option<Millis>,
}

impl ProcessTask {
    /// End − start for a finished task, the live elapsed time for a running one, zero for a
    /// task that has not started. Never negative.
    pub fn runtime_ms(&self, now: Millis) -> Millis {
        let start = self.started_at.unwrap_or(self.received_at);
        let end = match self.state {
            StepState::Pending => return 0,
            StepState::Running => now,
            StepState::Success | StepState::Error => self.finished_at.unwrap_or(start),
        };
        (end - start).max(0)
    }
}

/// A process with its tasks, for the drill-down.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessDetail {
    pub process: ProcessSummary,
    pub tasks: Vec<ProcessTask>,
}

/// Whether end-of-process details report an error: a JSON object carrying an error field
/// (wpipe sends `{"message", "error_code", …}` when a step failed), or free text that names
/// an error, exception or traceback. Empty or missing details are a clean end.
pub fn details_report_error(details: Option<&str>) -> bool {
    let Some(d) = details.map(str::trim).filter(|d| !d.is_empty()) else {
        return false;
    };
    match serde_json::from_str::<serde_json::Value>(d) {
        Ok(serde_json::Value::Object(m)) => [
            "error",
            "error_code",
            "error_message",
            "exception",
            "traceback",
        ]
        .iter()
        .any(|k| {
            m.get(*k).is_some_and(|v| {
                !(v.is_null() || v == &serde_json::json!("") || v == &serde_json::json!(false))
            })
        }),
        Ok(serde_json::Value::Null) | Ok(serde_json::Value::Bool(false)) => false,
        Ok(serde_json::Value::String(s)) => details_report_error(Some(&s)),
        Ok(_) => false,
        Err(_) => {
            let l = d.to_ascii_lowercase();
            ["error", "exception", "traceback", "failed"]
                .iter()
                .any(|w| l.contains(w))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_details_decide_the_outcome_by_content_not_length() {
        assert!(!details_report_error(None));
        assert!(!details_report_error(Some("")));
        assert!(!details_report_error(Some("  ")));
        assert!(!details_report_error(Some("all good, 12 rows written")));
        assert!(!details_report_error(Some("{}")));
        assert!(!details_report_error(Some(r#"{"error": null}"#)));
        assert!(!details_report_error(Some("boom")));
        assert!(details_report_error(Some("Error")));
        assert!(details_report_error(Some(
            r#"{"message": "[Error Code: 502] x", "error_code": 502, "task_name": "a"}"#
        )));
        assert!(details_report_error(Some(
            "Traceback (most recent call last)"
        )));
    }

    fn task(state: StepState, started: Option<i64>, finished: Option<i64>) -> ProcessTask {
        ProcessTask {
            id: "t".into(),
            process_id: "p".into(),
            seq: 1,
            name: "n".into(),
            version: "1".into(),
            state,
            details: None,
            received_at: 1_000,
            started_at: started,
            finished_at: finished,
            updated_at: finished.or(started),
        }
    }

    #[test]
    fn runtimes_are_end_minus_start_and_live_while_running() {
        assert_eq!(task(StepState::Pending, None, None).runtime_ms(9_000), 0);
        assert_eq!(
            task(StepState::Running, Some(2_000), None).runtime_ms(9_000),
            7_000
        );
        assert_eq!(
            task(StepState::Success, Some(2_000), Some(3_500)).runtime_ms(9_000),
            1_500
        );
        // Finished without a start report: measured from when it was received.
        assert_eq!(
            task(StepState::Error, None, Some(4_000)).runtime_ms(9_000),
            3_000
        );
    }
}
