//! The fleet on Postgres. A write that decides from a row it read locks that row first
//! (`… FOR UPDATE`, see `sql.rs`).

use super::{
    EndOutcome, FleetStore, JobProcessRow, JobStepRow, LeasedStepRow, MinuteRow, OpenedProcess,
    PreviousBeat, ProcessCountRow, ProcessRow, StepRow, TaskRow, TaskTouched, WorkerRow, sql,
};
use crate::Millis;
use crate::store::NewWorker;
use crate::store::postgres::{PgStore, finish};
use crate::store::{StoreError, StoreResult};
use crate::workers::fleet::{ProcessStatus, StepState};
use crate::workers::model::HealthThresholds;
use async_trait::async_trait;
use sqlx::PgConnection;

async fn sign_of_life(c: &mut PgConnection, worker_id: &str, now: Millis) -> StoreResult<()> {
    sqlx::query(sql::SIGN_OF_LIFE)
        .bind(worker_id)
        .bind(now)
        .execute(c)
        .await?;
    Ok(())
}

#[async_trait]
impl FleetStore for PgStore {
    async fn register_wpipe_worker(
        &self,
        name: &str,
        version: &str,
        templates: &[(String, String)],
        now: Millis,
    ) -> StoreResult<String> {
        let id = super::new_worker_id();
        let mut tx = self.write.begin().await?;
        let out: StoreResult<_> = async {
            sqlx::query(sql::INSERT_WPIPE_WORKER)
                .bind(&id)
                .bind(name)
                .bind(version)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            for (seq, (n, v)) in templates.iter().enumerate() {
                sqlx::query(sql::INSERT_TEMPLATE)
                    .bind(&id)
                    .bind(seq as i64 + 1)
                    .bind(n)
                    .bind(v)
                    .execute(&mut *tx)
                    .await?;
            }
            Ok(id)
        }
        .await;
        finish(tx, out).await
    }

    async fn beat(&self, worker_id: &str, now: Millis) -> StoreResult<PreviousBeat> {
        let prev: Option<i64> = sqlx::query_scalar(sql::BEAT)
            .bind(worker_id)
            .bind(now)
            .fetch_optional(&self.write)
            .await?;
        let last_seen_at =
            prev.ok_or_else(|| StoreError::NotFound(format!("worker {worker_id}")))?;
        Ok(PreviousBeat { last_seen_at })
    }

    async fn open_process(&self, worker_id: &str, now: Millis) -> StoreResult<OpenedProcess> {
        let mut tx = self.write.begin().await?;
        let out: StoreResult<_> = async {
            let kind: Option<String> = sqlx::query_scalar(sql::WORKER_KIND)
                .bind(worker_id)
                .fetch_optional(&mut *tx)
                .await?;
            super::check_wpipe(worker_id, kind.as_deref())?;
            let templates: Vec<(String, String)> = sqlx::query_as(sql::TEMPLATES)
                .bind(worker_id)
                .fetch_all(&mut *tx)
                .await?;
            let id = super::new_process_id();
            sqlx::query(sql::INSERT_PROCESS)
                .bind(&id)
                .bind(worker_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            let mut tasks = Vec::with_capacity(templates.len());
            for (i, (name, version)) in templates.into_iter().enumerate() {
                let step = super::new_step_id();
                sqlx::query(sql::INSERT_PROCESS_TASK)
                    .bind(&step)
                    .bind(&id)
                    .bind(i as i64 + 1)
                    .bind(&name)
                    .bind(&version)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                tasks.push((name, step));
            }
            // Opening a process is a sign of life too.
            sign_of_life(&mut tx, worker_id, now).await?;
            Ok(OpenedProcess { id, tasks })
        }
        .await;
        finish(tx, out).await
    }

    async fn update_process_task(
        &self,
        task_id: &str,
        state: StepState,
        details: Option<&str>,
        now: Millis,
    ) -> StoreResult<TaskTouched> {
        let mut tx = self.write.begin().await?;
        let out: StoreResult<_> = async {
            let (process_id, worker_id): (String, String) = sqlx::query_as(sql::TASK_OWNER)
                .bind(task_id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("task {task_id}")))?;
            sqlx::query(super::step_update(state))
                .bind(task_id)
                .bind(state.as_str())
                .bind(now)
                .bind(details)
                .execute(&mut *tx)
                .await?;
            sqlx::query(sql::PROCESS_TOUCHED)
                .bind(&process_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sign_of_life(&mut tx, &worker_id, now).await?;
            Ok(TaskTouched {
                process_id,
                worker_id,
            })
        }
        .await;
        finish(tx, out).await
    }

    async fn end_process(
        &self,
        process_id: &str,
        details: Option<&str>,
        details_error: bool,
        now: Millis,
    ) -> StoreResult<EndOutcome> {
        let mut tx = self.write.begin().await?;
        let out: StoreResult<_> = async {
            let (worker_id, status): (String, String) = sqlx::query_as(sql::PROCESS_TO_END_LOCKED)
                .bind(process_id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("process {process_id}")))?;
            if status != ProcessStatus::Running.as_str() {
                return Ok(EndOutcome::AlreadyEnded);
            }
            let failed: i64 = sqlx::query_scalar(sql::FAILED_STEPS)
                .bind(process_id)
                .fetch_one(&mut *tx)
                .await?;
            let status = super::ending(failed, details_error);
            sqlx::query(sql::END_PROCESS)
                .bind(process_id)
                .bind(status.as_str())
                .bind(details.filter(|d| !d.is_empty()))
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sign_of_life(&mut tx, &worker_id, now).await?;
            Ok(EndOutcome::Ended { worker_id, status })
        }
        .await;
        finish(tx, out).await
    }

    async fn remove_worker(
        &self,
        worker_id: &str,
        health: HealthThresholds,
        now: Millis,
    ) -> StoreResult<()> {
        let mut tx = self.write.begin().await?;
        let out: StoreResult<_> = async {
            let seen: Option<(i64, Option<i64>)> = sqlx::query_as(sql::WORKER_SEEN_LOCKED)
                .bind(worker_id)
                .fetch_optional(&mut *tx)
                .await?;
            super::check_removable(worker_id, seen, health, now)?;
            sqlx::query(sql::DELETE_WORKER)
                .bind(worker_id)
                .execute(&mut *tx)
                .await?;
            Ok(())
        }
        .await;
        finish(tx, out).await
    }

    async fn register_worker(&self, w: NewWorker, now: Millis) -> StoreResult<String> {
        let id = uuid::Uuid::now_v7().to_string();
        sqlx::query(sql::REGISTER_WORKER)
            .bind(&id)
            .bind(&w.name)
            .bind(w.kind.as_str())
            .bind(&w.hostname)
            .bind(&w.version)
            .bind(w.concurrency)
            .bind(now)
            .bind(&w.secret_hash)
            .bind(super::handlers_text(&w.handlers))
            .execute(&self.write)
            .await?;
        Ok(id)
    }

    async fn offered_handlers(
        &self,
        since: Millis,
    ) -> StoreResult<std::collections::BTreeSet<String>> {
        let rows: Vec<String> = sqlx::query_scalar(sql::OFFERED_HANDLERS)
            .bind(since)
            .fetch_all(&self.read)
            .await?;
        Ok(super::handler_union(rows))
    }

    async fn worker_secret_hash(&self, id: &str) -> StoreResult<Option<Option<String>>> {
        Ok(sqlx::query_scalar(sql::SECRET_HASH)
            .bind(id)
            .fetch_optional(&self.read)
            .await?)
    }

    async fn touch_worker(&self, id: &str, now: Millis) -> StoreResult<()> {
        let r = sqlx::query(sql::SIGN_OF_LIFE)
            .bind(id)
            .bind(now)
            .execute(&self.write)
            .await?;
        if r.rows_affected() == 0 {
            return Err(super::no_worker(id));
        }
        Ok(())
    }

    async fn stop_worker(&self, id: &str, now: Millis) -> StoreResult<()> {
        let r = sqlx::query(sql::STOP_WORKER)
            .bind(id)
            .bind(now)
            .execute(&self.write)
            .await?;
        if r.rows_affected() == 0 {
            return Err(super::no_worker(id));
        }
        Ok(())
    }

    async fn worker_rows(&self, now: Millis) -> StoreResult<Vec<WorkerRow>> {
        Ok(sqlx::query_as(sql::LIST_WORKERS)
            .bind(now - super::STOPPED_LISTED_MS)
            .fetch_all(&self.read)
            .await?)
    }

    async fn process_counts(&self) -> StoreResult<Vec<ProcessCountRow>> {
        Ok(sqlx::query_as(sql::PROCESS_COUNTS)
            .fetch_all(&self.read)
            .await?)
    }

    async fn current_steps(&self) -> StoreResult<(Vec<StepRow>, Vec<LeasedStepRow>)> {
        let running = sqlx::query_as(sql::RUNNING_STEPS)
            .fetch_all(&self.read)
            .await?;
        let leased = sqlx::query_as(sql::LEASED_STEPS)
            .fetch_all(&self.read)
            .await?;
        Ok((running, leased))
    }

    async fn finished_per_minute(&self, since: Millis) -> StoreResult<Vec<MinuteRow>> {
        let mut out: Vec<MinuteRow> = sqlx::query_as(sql::WPIPE_PER_MINUTE)
            .bind(since)
            .fetch_all(&self.read)
            .await?;
        out.extend(
            sqlx::query_as::<_, MinuteRow>(sql::JOBS_PER_MINUTE)
                .bind(since)
                .fetch_all(&self.read)
                .await?,
        );
        Ok(out)
    }

    async fn worker_name_kind(&self, worker_id: &str) -> StoreResult<(String, String)> {
        sqlx::query_as(sql::WORKER_NAME_KIND)
            .bind(worker_id)
            .fetch_optional(&self.read)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("worker {worker_id}")))
    }

    async fn process_rows(&self, worker_id: &str, limit: i64) -> StoreResult<Vec<ProcessRow>> {
        Ok(sqlx::query_as(sql::WORKER_PROCESSES)
            .bind(worker_id)
            .bind(limit)
            .fetch_all(&self.read)
            .await?)
    }

    async fn process_step_rows(&self, worker_id: &str, since: Millis) -> StoreResult<Vec<TaskRow>> {
        Ok(sqlx::query_as(sql::WORKER_PROCESS_STEPS)
            .bind(worker_id)
            .bind(since)
            .fetch_all(&self.read)
            .await?)
    }

    async fn process_row(&self, process_id: &str) -> StoreResult<Option<ProcessRow>> {
        Ok(sqlx::query_as(sql::PROCESS)
            .bind(process_id)
            .fetch_optional(&self.read)
            .await?)
    }

    async fn step_rows(&self, process_id: &str) -> StoreResult<Vec<TaskRow>> {
        Ok(sqlx::query_as(sql::PROCESS_STEPS)
            .bind(process_id)
            .fetch_all(&self.read)
            .await?)
    }

    async fn job_process_rows(&self, worker_id: Option<&str>) -> StoreResult<Vec<JobProcessRow>> {
        Ok(match worker_id {
            Some(w) => {
                sqlx::query_as(sql::JOB_PROCESSES_OF.as_str())
                    .bind(w)
                    .fetch_all(&self.read)
                    .await?
            }
            None => {
                sqlx::query_as(sql::JOB_PROCESSES.as_str())
                    .fetch_all(&self.read)
                    .await?
            }
        })
    }

    async fn job_step_rows(&self, job_id: &str, worker_id: &str) -> StoreResult<Vec<JobStepRow>> {
        Ok(sqlx::query_as(sql::JOB_PROCESS_STEPS)
            .bind(job_id)
            .bind(worker_id)
            .fetch_all(&self.read)
            .await?)
    }
}
