//! Server functions of the Jobs pages: thin — read the state, call the service.

use super::model::{Job, JobDetail, Verification};
use crate::error::AppError;
use leptos::prelude::*;

/// The retry policy the browser follows while polling a running job.
#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn get_poll_policy() -> Result<crate::ui::poll::RetryPolicy, AppError> {
    let g = crate::require!(GetPollPolicy, Viewer)?;
    Ok(g.st.engine.poll)
}

/// The newest jobs the filter lets through (words as in the page's URL; empty: any).
#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn list_jobs(kind: String, state: String, handler: String) -> Result<Vec<Job>, AppError> {
    let st = crate::require!(ListJobs, Viewer)?.st;
    let filter =
        super::model::JobFilter::from_words(&kind, &state, &handler).map_err(AppError::Invalid)?;
    super::service::find_jobs(&st, 100, &filter).await
}

#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn get_job_detail(id: String) -> Result<JobDetail, AppError> {
    let st = crate::require!(GetJobDetail, Viewer)?.st;
    super::service::job_detail(&st, &id).await
}

/// Creates a file-average job from the form; `seed` may be empty for a random one.
#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn create_file_average_job(
    workers: u32,
    files: u32,
    entries: u32,
    group_size: u32,
    seed: String,
) -> Result<Job, AppError> {
    let g = crate::require!(CreateFileAverageJob, Editor)?;
    let seed = match seed.trim() {
        "" => None,
        s => Some(
            s.parse::<u64>()
                .map_err(|_| AppError::Invalid(format!("seed {s:?} is not a whole number")))?,
        ),
    };
    let st = g.st;
    let req = super::params::FileAverageRequest {
        workers,
        files,
        entries,
        group_size,
        seed,
    };
    super::service::create_file_average(&st, req).await
}

#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn cancel_job(id: String) -> Result<Job, AppError> {
    let st = crate::require!(CancelJob, Editor)?.st;
    super::service::cancel_job(&st, &id).await
}

#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn retry_job(id: String) -> Result<Job, AppError> {
    let st = crate::require!(RetryJob, Editor)?.st;
    super::service::retry_job(&st, &id).await
}

#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn delete_job(id: String) -> Result<(), AppError> {
    let st = crate::require!(DeleteJob, Editor)?.st;
    super::service::delete_job(&st, &id).await
}

#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn verify_job(id: String) -> Result<Verification, AppError> {
    let st = crate::require!(VerifyJob, Editor)?.st;
    super::service::verify_job(&st, &id).await
}

/// Most steps the run page draws (a larger map shows its first children).
pub const RUN_PAGE_STEPS: usize = 5_000;

/// A workflow run's steps, in plan order, for its graph and step panel.
#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn get_run_steps(id: String) -> Result<Vec<shared::jobs::workflow::StepView>, AppError> {
    let st = crate::require!(GetRunSteps, Viewer)?.st;
    engine::jobs::workflow::all_steps(&st, &id, RUN_PAGE_STEPS).await
}

/// The end of a step's log at `attempt` (the latest when absent).
#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn get_step_log(
    id: String,
    step: String,
    attempt: Option<i64>,
) -> Result<shared::jobs::workflow::LogTail, AppError> {
    let st = crate::require!(GetStepLog, Viewer)?.st;
    engine::jobs::workflow::log_tail(&st, &id, &step, attempt).await
}

/// Runs a failed or cancelled step again, with what depends on it.
#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn retry_step(
    id: String,
    step: String,
) -> Result<shared::jobs::workflow::StepView, AppError> {
    let st = crate::require!(RetryStep, Editor)?.st;
    engine::jobs::workflow::retry_step(&st, &id, &step).await
}

/// Runs a workflow again with the definition given (JSON text): a new run that names this one.
#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn replay_run(id: String, definition: String) -> Result<Job, AppError> {
    let st = crate::require!(ReplayRun, Editor)?.st;
    let req: shared::jobs::workflow::WorkflowRequest = serde_json::from_str(&definition)
        .map_err(|e| AppError::Invalid(format!("the definition: {e}")))?;
    super::service::replay_workflow(&st, &id, req).await
}
