//! Job types shared by the browser, the server and remote workers.

use crate::Millis;
use serde::{Deserialize, Serialize};
use std::fmt;

/// What a job does. Each kind knows how to split itself into job tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum JobKind {
    FileAverage,
    /// Tasks that do nothing: measures the queue itself.
    Noop,
    /// Reads a tree file into the task forest.
    TreeImport,
    /// Writes the forest or a subtree to a tree file.
    TreeExport,
    /// Writes a random tree file (and imports it when asked).
    TreeGenerate,
    /// A team's own steps, run on the handlers workers offer.
    Workflow,
}

impl JobKind {
    pub const ALL: [JobKind; 6] = [
        JobKind::FileAverage,
        JobKind::Noop,
        JobKind::TreeImport,
        JobKind::TreeExport,
        JobKind::TreeGenerate,
        JobKind::Workflow,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::FileAverage => "file_average",
            JobKind::Noop => "noop",
            JobKind::TreeImport => "tree_import",
            JobKind::TreeExport => "tree_export",
            JobKind::TreeGenerate => "tree_generate",
            JobKind::Workflow => "workflow",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
    pub fn label(self) -> &'static str {
        match self {
            JobKind::FileAverage => "File average",
            JobKind::Noop => "No-op (queue benchmark)",
            JobKind::TreeImport => "Tree import",
            JobKind::TreeExport => "Tree export",
            JobKind::TreeGenerate => "Tree generation",
            JobKind::Workflow => "Workflow",
        }
    }
}

/// Which jobs a list shows: of one kind, in one state, with a step of one handler (each
/// `None`: any).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobFilter {
    #[serde(default)]
    pub kind: Option<JobKind>,
    #[serde(default)]
    pub state: Option<JobState>,
    #[serde(default)]
    pub handler: Option<String>,
}

impl JobFilter {
    /// A filter from the words of a URL's query (empty words mean any); `Err` names a word
    /// that is not a kind, a state or a handler name.
    pub fn from_words(kind: &str, state: &str, handler: &str) -> Result<Self, String> {
        let word = |s: &str| Some(s.trim()).filter(|s| !s.is_empty()).map(str::to_string);
        Ok(Self {
            kind: word(kind)
                .map(|k| JobKind::parse(&k).ok_or_else(|| format!("kind {k:?} is not a job kind")))
                .transpose()?,
            state: word(state)
                .map(|s| {
                    JobState::parse(&s).ok_or_else(|| format!("state {s:?} is not a job state"))
                })
                .transpose()?,
            handler: word(handler)
                .map(|h| {
                    if crate::jobs::workflow::is_name(&h) {
                        Ok(h)
                    } else {
                        Err(format!("handler {h:?} is not a handler name"))
                    }
                })
                .transpose()?,
        })
    }
}

/// A job's life: `queued → running → succeeded | failed | cancelled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum JobState {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl JobState {
    pub const ALL: [JobState; 5] = [
        JobState::Queued,
        JobState::Running,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Cancelled,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled
        )
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A job task's life. `waiting` tasks become `ready` when every task feeding them is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TaskState {
    Waiting,
    Ready,
    Leased,
    Done,
    Failed,
    Cancelled,
}

impl TaskState {
    pub const ALL: [TaskState; 6] = [
        TaskState::Waiting,
        TaskState::Ready,
        TaskState::Leased,
        TaskState::Done,
        TaskState::Failed,
        TaskState::Cancelled,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Waiting => "waiting",
            TaskState::Ready => "ready",
            TaskState::Leased => "leased",
            TaskState::Done => "done",
            TaskState::Failed => "failed",
            TaskState::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A job as lists and pages show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Job {
    pub id: String,
    pub kind: JobKind,
    pub state: JobState,
    pub phase: String,
    pub params: serde_json::Value,
    pub concurrency: i64,
    pub max_attempts: i64,
    pub progress: Progress,
    pub result: Option<serde_json::Value>,
    pub error: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub created_at: Millis,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub started_at: Option<Millis>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub finished_at: Option<Millis>,
    /// The run this one was made from with changes, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replayed_from: Option<String>,
}

/// Tasks done out of the job's total and, for jobs made of a few long tasks, the units
/// (bytes or tree tasks) the running task has got through.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Progress {
    pub done: i64,
    pub total: i64,
    #[serde(default)]
    pub work_done: i64,
    #[serde(default)]
    pub work_total: i64,
}

impl Progress {
    /// Fraction done, 0.0 to 1.0: by units while a task reports them, else by tasks.
    pub fn fraction(&self) -> f64 {
        let (done, total) = if self.work_total > 0 && self.done < self.total {
            (self.work_done, self.work_total)
        } else {
            (self.done, self.total)
        };
        if total <= 0 {
            0.0
        } else {
            (done as f64 / total as f64).clamp(0.0, 1.0)
        }
    }
}

/// How many of a job's tasks are in each state, for one phase or the whole job.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskCounts {
    pub waiting: i64,
    pub ready: i64,
    pub leased: i64,
    pub done: i64,
    pub failed: i64,
    pub cancelled: i64,
}

impl TaskCounts {
    pub fn add(&mut self, state: TaskState, n: i64) {
        match state {
            TaskState::Waiting => self.waiting += n,
            TaskState::Ready => self.ready += n,
            TaskState::Leased => self.leased += n,
            TaskState::Done => self.done += n,
            TaskState::Failed => self.failed += n,
            TaskState::Cancelled => self.cancelled += n,
        }
    }
    pub fn total(&self) -> i64 {
        self.waiting + self.ready + self.leased + self.done + self.failed + self.cancelled
    }
}

/// Task counts of one phase of a job (`generate`, `map`, `reduce`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PhaseCounts {
    pub phase: String,
    pub counts: TaskCounts,
    /// When the phase's first task started (its latest attempt) and its last task finished.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub started_at: Option<Millis>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub finished_at: Option<Millis>,
}

/// How many of a job's tasks one worker completed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkerContribution {
    pub worker_id: String,
    pub worker_name: String,
    pub tasks_done: i64,
}

/// Tasks completed in one throughput bucket: `at` is the bucket's start. Buckets are
/// `JobDetail::throughput_bucket_ms` wide and counted from the job's start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ThroughputPoint {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub at: Millis,
    pub tasks: i64,
    /// The bucket's tasks by phase, in the job's phase order (absent where phases are not
    /// told apart).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<PhaseTasks>,
}

/// Tasks of one phase finished in a throughput bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PhaseTasks {
    pub phase: String,
    pub tasks: i64,
}

/// A failed task's last error, shown on the job page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskError {
    pub task_id: String,
    pub phase: String,
    pub attempt: i64,
    pub error: String,
}

/// Everything the job page shows about one job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobDetail {
    /// The job's own fields sit at the top level of the JSON, as in the job list.
    #[serde(flatten)]
    pub job: Job,
    pub counts: TaskCounts,
    pub phases: Vec<PhaseCounts>,
    pub contributions: Vec<WorkerContribution>,
    pub throughput: Vec<ThroughputPoint>,
    /// Width of each throughput bucket: at most sixty over the job's life, a round number of
    /// milliseconds (10 ms at the least).
    pub throughput_bucket_ms: i64,
    pub errors: Vec<TaskError>,
}

/// The throughput bucket width for a job that has run `span_ms`: the smallest round width
/// that covers the span in at most sixty buckets.
pub fn throughput_bucket(span_ms: i64) -> i64 {
    const WIDTHS: [i64; 16] = [
        10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000,
        300_000, 600_000,
    ];
    let want = (span_ms.max(0) + 59) / 60;
    WIDTHS
        .into_iter()
        .find(|w| *w >= want)
        .unwrap_or_else(|| (want + 599_999) / 600_000 * 600_000)
}

/// The outcome of recomputing a file-average job in one pass over its files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Verification {
    pub job_id: String,
    pub sum: i64,
    pub count: i64,
    pub average: f64,
    pub matches: bool,
    pub files_read: i64,
}

#[cfg(test)]
mod tests {
    use super::throughput_bucket;

    #[test]
    fn throughput_buckets_are_round_and_about_sixty_to_a_job() {
        assert_eq!(throughput_bucket(-5), 10);
        assert_eq!(throughput_bucket(75), 10);
        assert_eq!(throughput_bucket(600), 10);
        assert_eq!(throughput_bucket(601), 20);
        assert_eq!(throughput_bucket(1_500), 50);
        assert_eq!(throughput_bucket(60_000), 1_000);
        assert_eq!(throughput_bucket(3_600_000), 60_000);
        assert_eq!(throughput_bucket(36_000_000), 600_000);
        assert_eq!(throughput_bucket(360_000_000), 6_000_000);
    }
}
