//! Row shapes read from either database, and their conversion into shared types.

use super::{StoreError, StoreResult};
use crate::jobs::model::{Job, JobKind, JobState};

#[derive(sqlx::FromRow)]
pub(super) struct JobRow {
    pub id: String,
    pub kind: String,
    pub state: String,
    pub phase: String,
    pub params: String,
    pub concurrency: i64,
    pub max_attempts: i64,
    pub done: i64,
    pub total: i64,
    pub work_done: i64,
    pub work_total: i64,
    pub result: Option<String>,
    pub error: Option<String>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

pub(super) const JOB_COLUMNS: &str = "id, kind, state, phase, params, concurrency, max_attempts, \
     done, total, work_done, work_total, result, error, created_at, started_at, finished_at";

fn json(s: &str, what: &str) -> StoreResult<serde_json::Value> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

impl TryFrom<JobRow> for Job {
    type Error = StoreError;
    fn try_from(r: JobRow) -> StoreResult<Job> {
        Ok(Job {
            kind: JobKind::parse(&r.kind)
                .ok_or_else(|| StoreError::Corrupt(format!("job kind {}", r.kind)))?,
            state: JobState::parse(&r.state)
                .ok_or_else(|| StoreError::Corrupt(format!("job state {}", r.state)))?,
            params: json(&r.params, "job params")?,
            result: r
                .result
                .as_deref()
                .map(|s| json(s, "job result"))
                .transpose()?,
            id: r.id,
            phase: r.phase,
            concurrency: r.concurrency,
            max_attempts: r.max_attempts,
            progress: crate::jobs::model::Progress {
                done: r.done,
                total: r.total,
                work_done: r.work_done,
                work_total: r.work_total,
            },
            error: r.error,
            created_at: r.created_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct WorkerRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub hostname: String,
    pub version: String,
    pub concurrency: i64,
    pub registered_at: i64,
    pub last_seen_at: i64,
    pub stopped_at: Option<i64>,
    pub active: i64,
    pub tasks_done: i64,
}

pub(super) fn parse_json(s: &str, what: &str) -> StoreResult<serde_json::Value> {
    json(s, what)
}
