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

#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn list_jobs() -> Result<Vec<Job>, AppError> {
    let st = crate::require!(ListJobs, Viewer)?.st;
    super::service::list_jobs(&st, 100).await
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
