//! Workflow jobs: a team's own steps (`shared::jobs::workflow`), planned as a task graph and
//! run on the handlers workers declare (`jobs::handlers`).
//!
//! Each step is a task that waits on the steps it names (`after`, and those its input and map
//! take outputs from) and needs its handler. A map step is a task of its own that any worker
//! runs: from the list its upstream produced it adds one step per element (`Kind::spawn`), and
//! outputs their count; a step downstream then receives the map's count followed by the
//! children's outputs, which it gathers back into the array, in element order.

use super::model::JobKind;
use super::plan::{Retry, TaskSpec};
use super::protocol::{LeasedTask, SpawnedTask};
use crate::error::{AppError, AppResult};
use crate::jobs::handlers::{StepError, StepRun, run_step};
use crate::kinds::{ExecError, Kind, Worksite};
use crate::state::Core;
use async_trait::async_trait;
use serde_json::{Value, json};
use shared::jobs::model::TaskState;
use shared::jobs::workflow::{
    Checked, DepRef, LOG_TAIL_BYTES, LogTail, StepPage, StepPayload, StepState, StepView,
    map_header, no_worker_offers, outputs_by_step, resolve,
};
use std::collections::HashMap;

/// The kind.
pub struct Workflow;

/// A workflow's phases: what a task of it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Runs one step on its handler.
    Step,
    /// Adds one step per element of an upstream output.
    Map,
}

impl Phase {
    pub const ALL: [Phase; 2] = [Phase::Step, Phase::Map];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Step => "step",
            Phase::Map => "map",
        }
    }

    pub fn parse(s: &str) -> Result<Self, ExecError> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| ExecError::Fatal(format!("unknown workflow phase {s:?}")))
    }
}

/// The task graph of a checked workflow; `max_steps` bounds the steps its maps may add.
pub fn plan(w: &Checked, max_steps: usize) -> Vec<TaskSpec> {
    let index: HashMap<&str, usize> = w
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.def.id.as_str(), i))
        .collect();
    let room = max_steps.saturating_sub(w.steps.len());
    w.steps
        .iter()
        .map(|s| {
            let deps = s
                .deps
                .iter()
                .map(|d| DepRef {
                    id: d.clone(),
                    map: w.steps[index[d.as_str()]].map_over.is_some(),
                })
                .collect();
            let is_map = s.map_over.is_some();
            let payload = StepPayload {
                step: s.def.id.clone(),
                handler: s.def.handler.clone(),
                input: s.def.input.clone(),
                map: s.map_over.clone(),
                deps,
                timeout_s: s.def.timeout_s,
                max_children: is_map.then_some(room),
            };
            TaskSpec {
                phase: if is_map { Phase::Map } else { Phase::Step }.as_str(),
                payload: serde_json::to_value(payload).unwrap_or_default(),
                deps: s.deps.iter().map(|d| index[d.as_str()]).collect(),
                // A map adds the steps; it needs no handler itself.
                handler: (!is_map).then(|| s.def.handler.clone()),
                retry: s.def.retry.map(|r| Retry {
                    max_attempts: r.max_attempts.map(i64::from),
                    backoff_base_ms: r.backoff_base_ms.map(|v| v as i64),
                    backoff_max_ms: r.backoff_max_ms.map(|v| v as i64),
                }),
                after_all: false,
            }
        })
        .collect()
}

fn payload(task: &LeasedTask) -> Result<StepPayload, ExecError> {
    serde_json::from_value(task.payload.clone())
        .map_err(|e| ExecError::Fatal(format!("a workflow task's payload: {e}")))
}

/// The list a map step runs over, from the outputs its task received.
fn map_list(task: &LeasedTask, p: &StepPayload) -> Result<Vec<Value>, ExecError> {
    let outputs = outputs_by_step(&p.deps, &task.inputs).map_err(ExecError::Fatal)?;
    let src = p.map.as_deref().unwrap_or_default();
    let list = match outputs.get(src) {
        Some(Value::Array(items)) => items.clone(),
        Some(other) => {
            return Err(ExecError::Fatal(format!(
                "step {} maps over the output of {src}, which is not a JSON array: {}",
                p.step,
                other.to_string().chars().take(200).collect::<String>()
            )));
        }
        None => {
            return Err(ExecError::Fatal(format!(
                "step {}: the output of {src} is missing",
                p.step
            )));
        }
    };
    let most = p.max_children.unwrap_or(usize::MAX);
    if list.len() > most {
        return Err(ExecError::Fatal(format!(
            "step {} would add {} steps, more than the run's limit leaves ({most})",
            p.step,
            list.len()
        )));
    }
    Ok(list)
}

#[async_trait]
impl Kind for Workflow {
    fn kind(&self) -> JobKind {
        JobKind::Workflow
    }

    /// A cancelled run's steps stop within two seconds: they heartbeat every second.
    fn notice_cancel_within(&self) -> Option<std::time::Duration> {
        Some(std::time::Duration::from_secs(1))
    }

    async fn execute(&self, task: &LeasedTask, at: Worksite<'_>) -> Result<Value, ExecError> {
        let p = payload(task)?;
        match Phase::parse(&task.phase)? {
            Phase::Map => Ok(map_header(map_list(task, &p)?.len())),
            Phase::Step => {
                let outputs = outputs_by_step(&p.deps, &task.inputs).map_err(ExecError::Fatal)?;
                let input = resolve(&p.input, &outputs)
                    .map_err(|e| ExecError::Fatal(format!("step {}: {e}", p.step)))?;
                let def = at.handlers.get(&p.handler).ok_or_else(|| {
                    ExecError::Retryable(format!(
                        "this worker does not offer handler {:?}",
                        p.handler
                    ))
                })?;
                // Held while the step runs: the handler's own limit on this worker.
                let _place = at.handlers.place(&p.handler).await;
                run_step(
                    def,
                    StepRun {
                        task_id: &task.task_id,
                        log: Some(at.log),
                        job_id: &task.job_id,
                        step_id: &p.step,
                        attempt: task.attempt,
                        input: &input,
                        timeout_s: p.timeout_s,
                        supervisor: at.handlers.supervisor(),
                    },
                )
                .await
                .map_err(|e| match e {
                    StepError::Retry(m) => ExecError::Retryable(m),
                    StepError::Fail(m) => ExecError::Fatal(m),
                })
            }
        }
    }

    fn spawn(&self, task: &LeasedTask, _output: &Value) -> Vec<SpawnedTask> {
        if task.phase != Phase::Map.as_str() {
            return Vec::new();
        }
        let Ok(p) = payload(task) else {
            return Vec::new();
        };
        let Ok(list) = map_list(task, &p) else {
            return Vec::new();
        };
        list.into_iter()
            .enumerate()
            .map(|(i, item)| SpawnedTask {
                phase: Phase::Step.as_str().to_string(),
                handler: Some(p.handler.clone()),
                payload: serde_json::to_value(StepPayload {
                    step: format!("{}[{i}]", p.step),
                    handler: p.handler.clone(),
                    input: json!({ "$literal": item }),
                    map: None,
                    deps: Vec::new(),
                    timeout_s: p.timeout_s,
                    max_children: None,
                })
                .unwrap_or_default(),
            })
            .collect()
    }
}

/// The task of a run's step (`id`, or `id[i]` for a map's child): its id, state and attempt.
pub async fn step_task(st: &Core, job_id: &str, step: &str) -> AppResult<(String, StepState, i64)> {
    let job = st.jobs.get_job(job_id).await?;
    if job.kind != JobKind::Workflow {
        return Err(AppError::Invalid(format!("job {job_id} is not a workflow")));
    }
    let mut after = -1;
    loop {
        let rows = st.jobs.task_page(job_id, after, MAX_STEP_PAGE).await?;
        let Some(last) = rows.last() else {
            return Err(AppError::NotFound(format!("step {step} of job {job_id}")));
        };
        after = last.seq;
        for r in rows {
            let Ok(p) = serde_json::from_str::<StepPayload>(&r.payload) else {
                continue;
            };
            if p.step == step {
                return Ok((r.id, step_state(&r.state), r.attempt));
            }
        }
    }
}

fn step_state(state: &str) -> StepState {
    match TaskState::parse(state) {
        Some(TaskState::Waiting) => StepState::Waiting,
        Some(TaskState::Ready) => StepState::Ready,
        Some(TaskState::Leased) => StepState::Running,
        Some(TaskState::Done) => StepState::Succeeded,
        Some(TaskState::Failed) => StepState::Failed,
        Some(TaskState::Cancelled) | None => StepState::Cancelled,
    }
}

/// Runs a failed or cancelled step again, with what depends on it: the run's failed and
/// cancelled steps go back to the queue with fresh attempts. Answers the step as it is then.
pub async fn retry_step(st: &Core, job_id: &str, step: &str) -> AppResult<StepView> {
    let (_, state, _) = step_task(st, job_id, step).await?;
    if !matches!(state, StepState::Failed | StepState::Cancelled) {
        return Err(AppError::Conflict(format!(
            "step {step} is {}: only a failed or cancelled step can be retried",
            state.as_str()
        )));
    }
    super::service::retry_job(st, job_id).await?;
    let mut cursor: Option<String> = None;
    loop {
        let page = steps(st, job_id, cursor.as_deref(), MAX_STEP_PAGE).await?;
        if let Some(v) = page.items.into_iter().find(|v| v.id == step) {
            return Ok(v);
        }
        cursor = Some(
            page.next_cursor
                .ok_or_else(|| AppError::NotFound(format!("step {step} of job {job_id}")))?,
        );
    }
}

/// The last [`LOG_TAIL_BYTES`] of a step's log at `attempt` (default: the latest), from a
/// line's start.
pub async fn log_tail(
    st: &Core,
    job_id: &str,
    step: &str,
    attempt: Option<i64>,
) -> AppResult<LogTail> {
    let (task_id, _, attempts) = step_task(st, job_id, step).await?;
    let attempt = attempt.unwrap_or(attempts).clamp(0, attempts);
    if attempt == 0 {
        return Ok(LogTail::default());
    }
    let log = st.jobs.step_log(&task_id, Some(attempt)).await?;
    let (mut text, mut cut) = log.map(|l| (l.text, l.dropped)).unwrap_or_default();
    if text.len() > LOG_TAIL_BYTES {
        let from = text.len() - LOG_TAIL_BYTES;
        let from = text[from..].find('\n').map_or(from, |i| from + i + 1);
        let from = (from..=text.len())
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(text.len());
        cut += from as i64;
        text = text.split_off(from);
    }
    Ok(LogTail {
        attempt,
        attempts,
        text,
        cut,
    })
}

/// Every step of a run, in plan order, up to `max` of them.
pub async fn all_steps(st: &Core, job_id: &str, max: usize) -> AppResult<Vec<StepView>> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    while out.len() < max {
        let page = steps(st, job_id, cursor.as_deref(), MAX_STEP_PAGE).await?;
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    out.truncate(max);
    Ok(out)
}

/// Most steps one page lists.
pub const MAX_STEP_PAGE: i64 = 1_000;

/// A page of a run's steps in plan order, after `cursor` (`limit` 1–1000): each with its state,
/// attempts, output or error, times, and why a ready step waits when no live worker offers its
/// handler.
pub async fn steps(
    st: &Core,
    job_id: &str,
    cursor: Option<&str>,
    limit: i64,
) -> AppResult<StepPage> {
    let job = st.jobs.get_job(job_id).await?;
    if job.kind != JobKind::Workflow {
        return Err(AppError::Invalid(format!("job {job_id} is not a workflow")));
    }
    let after = match cursor {
        None | Some("") => -1,
        Some(c) => c
            .parse::<i64>()
            .map_err(|_| AppError::Invalid(format!("cursor {c:?} is not one this API gave")))?,
    };
    let limit = limit.clamp(1, MAX_STEP_PAGE);
    let rows = st.jobs.task_page(job_id, after, limit + 1).await?;
    let live_since = crate::now_millis() - st.engine.health.dead_after_ms;
    let mut offered = None;
    let mut items = Vec::with_capacity(rows.len().min(limit as usize));
    for r in rows.iter().take(limit as usize) {
        let p: StepPayload = serde_json::from_str(&r.payload)
            .map_err(|e| AppError::Invalid(format!("step {} of job {job_id}: {e}", r.seq)))?;
        let state = step_state(&r.state);
        let needs_handler = r.phase == Phase::Step.as_str();
        let waiting_reason = if state == StepState::Ready && needs_handler {
            if offered.is_none() {
                offered = Some(st.fleet.offered_handlers(live_since).await?);
            }
            let offered = offered.as_ref().is_some_and(|o| o.contains(&p.handler));
            (!offered).then(|| no_worker_offers(&p.handler))
        } else {
            None
        };
        items.push(StepView {
            id: p.step,
            handler: p.handler,
            state,
            attempts: r.attempt,
            output: r
                .output
                .as_deref()
                .and_then(|o| serde_json::from_str(o).ok()),
            error: r.last_error.clone(),
            started_at: r.started_at,
            finished_at: r.finished_at,
            waiting_reason,
        });
    }
    let next_cursor = (rows.len() as i64 > limit)
        .then(|| rows.get(limit as usize - 1).map(|r| r.seq.to_string()))
        .flatten();
    Ok(StepPage { items, next_cursor })
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::jobs::workflow::{DEFAULT_MAX_STEPS, WorkflowRequest};

    #[test]
    fn a_map_chord_plans_a_graph_with_handlers_on_steps_only() {
        let w: WorkflowRequest = serde_json::from_value(json!({"steps": [
            {"id": "gen", "handler": "range", "input": 3},
            {"id": "sq", "handler": "square", "map": {"$output": "gen"}},
            {"id": "total", "handler": "sum", "input": {"$output": "sq"}},
        ]}))
        .unwrap();
        let t = plan(
            &w.validate(DEFAULT_MAX_STEPS, 256).unwrap(),
            DEFAULT_MAX_STEPS,
        );
        crate::jobs::plan::check(&t).unwrap();
        assert_eq!(t[1].phase, "map");
        assert_eq!(t[1].handler, None);
        assert_eq!(t[1].deps, [0]);
        assert_eq!(t[2].handler.as_deref(), Some("sum"));
        let p: StepPayload = serde_json::from_value(t[2].payload.clone()).unwrap();
        assert_eq!(
            p.deps,
            [DepRef {
                id: "sq".into(),
                map: true
            }]
        );
    }
}
