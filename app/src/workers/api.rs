//! Server functions of the workers dashboard.

use super::fleet::{FleetWorker, ProcessDetail, ProcessSummary};
use super::model::{HealthThresholds, Worker};
use crate::Millis;
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Every worker with its health and load.
#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn list_workers() -> Result<Vec<Worker>, AppError> {
    let st = crate::require!(ListWorkers, Viewer)?.st;
    Ok(st
        .fleet
        .list_workers(st.engine.health, crate::now_millis())
        .await?)
}

/// The fleet table's data, with the server's clock and health thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetView {
    pub workers: Vec<FleetWorker>,
    pub health: HealthThresholds,
    pub now: Millis,
}

#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn get_fleet() -> Result<FleetView, AppError> {
    let st = crate::require!(GetFleet, Viewer)?.st;
    let now = crate::now_millis();
    Ok(FleetView {
        workers: st.fleet.fleet(st.engine.health, now).await?,
        health: st.engine.health,
        now,
    })
}

/// A worker's most recent processes (at most 200), newest first.
#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn get_worker_processes(id: String) -> Result<Vec<ProcessSummary>, AppError> {
    let st = crate::require!(GetWorkerProcesses, Viewer)?.st;
    let mut ps = st.fleet.worker_processes(&id, 200).await?;
    ps.reverse();
    Ok(ps)
}

#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn get_process(id: String) -> Result<ProcessDetail, AppError> {
    let st = crate::require!(GetProcess, Viewer)?.st;
    Ok(st.fleet.process_detail(&id).await?)
}

/// Removes a dead or stopped worker and its processes.
#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn remove_worker(id: String) -> Result<(), AppError> {
    let st = crate::require!(RemoveWorker, Admin)?.st;
    super::service::remove_worker(&st, &id).await
}
