//! The fleet on SQLite: reads on the readers, writes on the writer (`store/sqlite`).

use super::{
    EndOutcome, FleetStore, JobProcessRow, JobStepRow, LeasedStepRow, MinuteRow, OpenedProcess,
    PreviousBeat, ProcessCountRow, ProcessRow, StepRow, TaskRow, TaskTouched, WorkerRow, sql,
};
use crate::Millis;
use crate::store::NewWorker;
use crate::store::sqlite::{SqliteStore, all, sql as lite};
use crate::store::{StoreError, StoreResult};
use crate::workers::fleet::{ProcessStatus, StepState};
use crate::workers::model::HealthThresholds;
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row};

fn process_row(r: &Row<'_>) -> rusqlite::Result<ProcessRow> {
    Ok(ProcessRow {
        id: r.get(0)?,
        worker_id: r.get(1)?,
        status: r.get(2)?,
        details: r.get(3)?,
        started_at: r.get(4)?,
        ended_at: r.get(5)?,
    })
}

fn task_row(r: &Row<'_>) -> rusqlite::Result<TaskRow> {
    Ok(TaskRow {
        id: r.get(0)?,
        process_id: r.get(1)?,
        seq: r.get(2)?,
        name: r.get(3)?,
        version: r.get(4)?,
        state: r.get(5)?,
        details: r.get(6)?,
        received_at: r.get(7)?,
        started_at: r.get(8)?,
        finished_at: r.get(9)?,
        updated_at: r.get(10)?,
    })
}

fn job_process_row(r: &Row<'_>) -> rusqlite::Result<JobProcessRow> {
    Ok(JobProcessRow {
        worker_id: r.get(0)?,
        job_id: r.get(1)?,
        job_kind: r.get(2)?,
        job_state: r.get(3)?,
        total: r.get(4)?,
        finished: r.get(5)?,
        failed: r.get(6)?,
        input_faults: r.get(7)?,
        started_at: r.get(8)?,
        last_update: r.get(9)?,
        error: r.get(10)?,
    })
}

fn minute_row(r: &Row<'_>) -> rusqlite::Result<MinuteRow> {
    Ok(MinuteRow {
        worker_id: r.get(0)?,
        minute: r.get(1)?,
        n: r.get(2)?,
    })
}

fn sign_of_life(c: &Connection, worker_id: &str, now: Millis) -> StoreResult<()> {
    c.prepare_cached(lite(sql::SIGN_OF_LIFE))?
        .execute((worker_id, now))?;
    Ok(())
}

#[async_trait]
impl FleetStore for SqliteStore {
    async fn register_wpipe_worker(
        &self,
        name: &str,
        version: &str,
        templates: &[(String, String)],
        now: Millis,
    ) -> StoreResult<String> {
        let id = super::new_worker_id();
        let (i, name, version, templates) = (
            id.clone(),
            name.to_string(),
            version.to_string(),
            templates.to_vec(),
        );
        self.on_writer(move |c| {
            c.prepare_cached(lite(sql::INSERT_WPIPE_WORKER))?
                .execute((&i, &name, &version, now))?;
            let mut insert = c.prepare_cached(lite(sql::INSERT_TEMPLATE))?;
            for (seq, (n, v)) in templates.iter().enumerate() {
                insert.execute((&i, seq as i64 + 1, n, v))?;
            }
            Ok(())
        })
        .await?;
        Ok(id)
    }

    async fn beat(&self, worker_id: &str, now: Millis) -> StoreResult<PreviousBeat> {
        let w = worker_id.to_string();
        let prev: Option<i64> = self
            .on_writer(move |c| {
                Ok(c.prepare_cached(lite(sql::BEAT))?
                    .query_row((&w, now), |r| r.get(0))
                    .optional()?)
            })
            .await?;
        let last_seen_at =
            prev.ok_or_else(|| StoreError::NotFound(format!("worker {worker_id}")))?;
        Ok(PreviousBeat { last_seen_at })
    }

    async fn open_process(&self, worker_id: &str, now: Millis) -> StoreResult<OpenedProcess> {
        let w = worker_id.to_string();
        self.on_writer(move |c| {
            let kind: Option<String> = c
                .prepare_cached(lite(sql::WORKER_KIND))?
                .query_row([&w], |r| r.get(0))
                .optional()?;
            super::check_wpipe(&w, kind.as_deref())?;
            let templates: Vec<(String, String)> =
                all(c, sql::TEMPLATES, [&w], |r| Ok((r.get(0)?, r.get(1)?)))?;
            let id = super::new_process_id();
            c.prepare_cached(lite(sql::INSERT_PROCESS))?
                .execute((&id, &w, now))?;
            let mut insert = c.prepare_cached(lite(sql::INSERT_PROCESS_TASK))?;
            let mut tasks = Vec::with_capacity(templates.len());
            for (i, (name, version)) in templates.into_iter().enumerate() {
                let step = super::new_step_id();
                insert.execute((&step, &id, i as i64 + 1, &name, &version, now))?;
                tasks.push((name, step));
            }
            // Opening a process is a sign of life too.
            sign_of_life(c, &w, now)?;
            Ok(OpenedProcess { id, tasks })
        })
        .await
    }

    async fn update_process_task(
        &self,
        task_id: &str,
        state: StepState,
        details: Option<&str>,
        now: Millis,
    ) -> StoreResult<TaskTouched> {
        let (t, details) = (task_id.to_string(), details.map(str::to_string));
        self.on_writer(move |c| {
            let (process_id, worker_id): (String, String) = c
                .prepare_cached(lite(sql::TASK_OWNER))?
                .query_row([&t], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?
                .ok_or_else(|| StoreError::NotFound(format!("task {t}")))?;
            c.prepare_cached(lite(super::step_update(state)))?
                .execute((&t, state.as_str(), now, &details))?;
            c.prepare_cached(lite(sql::PROCESS_TOUCHED))?
                .execute((&process_id, now))?;
            sign_of_life(c, &worker_id, now)?;
            Ok(TaskTouched {
                process_id,
                worker_id,
            })
        })
        .await
    }

    async fn end_process(
        &self,
        process_id: &str,
        details: Option<&str>,
        details_error: bool,
        now: Millis,
    ) -> StoreResult<EndOutcome> {
        let (p, details) = (
            process_id.to_string(),
            details.filter(|d| !d.is_empty()).map(str::to_string),
        );
        self.on_writer(move |c| {
            let (worker_id, status): (String, String) = c
                .prepare_cached(lite(sql::PROCESS_TO_END))?
                .query_row([&p], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?
                .ok_or_else(|| StoreError::NotFound(format!("process {p}")))?;
            if status != ProcessStatus::Running.as_str() {
                return Ok(EndOutcome::AlreadyEnded);
            }
            let failed: i64 = c
                .prepare_cached(lite(sql::FAILED_STEPS))?
                .query_row([&p], |r| r.get(0))?;
            let status = super::ending(failed, details_error);
            c.prepare_cached(lite(sql::END_PROCESS))?.execute((
                &p,
                status.as_str(),
                &details,
                now,
            ))?;
            sign_of_life(c, &worker_id, now)?;
            Ok(EndOutcome::Ended { worker_id, status })
        })
        .await
    }

    async fn remove_worker(
        &self,
        worker_id: &str,
        health: HealthThresholds,
        now: Millis,
    ) -> StoreResult<()> {
        let w = worker_id.to_string();
        self.on_writer(move |c| {
            let seen: Option<(i64, Option<i64>)> = c
                .prepare_cached(lite(sql::WORKER_SEEN))?
                .query_row([&w], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            super::check_removable(&w, seen, health, now)?;
            c.prepare_cached(lite(sql::DELETE_WORKER))?.execute([&w])?;
            Ok(())
        })
        .await
    }

    async fn register_worker(&self, w: NewWorker, now: Millis) -> StoreResult<String> {
        let id = uuid::Uuid::now_v7().to_string();
        let i = id.clone();
        self.on_writer(move |c| {
            c.prepare_cached(lite(sql::REGISTER_WORKER))?.execute((
                &i,
                &w.name,
                w.kind.as_str(),
                &w.hostname,
                &w.version,
                w.concurrency,
                now,
                &w.secret_hash,
                super::handlers_text(&w.handlers),
            ))?;
            Ok(())
        })
        .await?;
        Ok(id)
    }

    async fn offered_handlers(
        &self,
        since: Millis,
    ) -> StoreResult<std::collections::BTreeSet<String>> {
        let rows = self
            .readers
            .read(|c| all(c, sql::OFFERED_HANDLERS, [since], |r| r.get::<_, String>(0)))
            .await?;
        Ok(super::handler_union(rows))
    }

    async fn worker_secret_hash(&self, id: &str) -> StoreResult<Option<Option<String>>> {
        self.readers
            .read(|c| {
                Ok(c.prepare_cached(lite(sql::SECRET_HASH))?
                    .query_row([id], |r| r.get(0))
                    .optional()?)
            })
            .await
    }

    async fn touch_worker(&self, id: &str, now: Millis) -> StoreResult<()> {
        let w = id.to_string();
        let n = self
            .on_writer(move |c| {
                Ok(c.prepare_cached(lite(sql::SIGN_OF_LIFE))?
                    .execute((&w, now))?)
            })
            .await?;
        if n == 0 {
            return Err(super::no_worker(id));
        }
        Ok(())
    }

    async fn stop_worker(&self, id: &str, now: Millis) -> StoreResult<()> {
        let w = id.to_string();
        let n = self
            .on_writer(move |c| {
                Ok(c.prepare_cached(lite(sql::STOP_WORKER))?
                    .execute((&w, now))?)
            })
            .await?;
        if n == 0 {
            return Err(super::no_worker(id));
        }
        Ok(())
    }

    async fn worker_rows(&self, now: Millis) -> StoreResult<Vec<WorkerRow>> {
        self.readers
            .read(|c| {
                all(
                    c,
                    sql::LIST_WORKERS,
                    [now - super::STOPPED_LISTED_MS],
                    |r| {
                        Ok(WorkerRow {
                            id: r.get(0)?,
                            name: r.get(1)?,
                            kind: r.get(2)?,
                            hostname: r.get(3)?,
                            version: r.get(4)?,
                            concurrency: r.get(5)?,
                            registered_at: r.get(6)?,
                            last_seen_at: r.get(7)?,
                            stopped_at: r.get(8)?,
                            active: r.get(9)?,
                            tasks_done: r.get(10)?,
                            handlers: r.get(11)?,
                        })
                    },
                )
            })
            .await
    }

    async fn process_counts(&self) -> StoreResult<Vec<ProcessCountRow>> {
        self.readers
            .read(|c| {
                all(c, sql::PROCESS_COUNTS, [], |r| {
                    Ok(ProcessCountRow {
                        worker_id: r.get(0)?,
                        status: r.get(1)?,
                        n: r.get(2)?,
                        ended: r.get(3)?,
                        ended_ms: r.get(4)?,
                    })
                })
            })
            .await
    }

    async fn current_steps(&self) -> StoreResult<(Vec<StepRow>, Vec<LeasedStepRow>)> {
        self.readers
            .read(|c| {
                let running = all(c, sql::RUNNING_STEPS, [], |r| {
                    Ok(StepRow {
                        worker_id: r.get(0)?,
                        name: r.get(1)?,
                    })
                })?;
                let leased = all(c, sql::LEASED_STEPS, [], |r| {
                    Ok(LeasedStepRow {
                        worker_id: r.get(0)?,
                        phase: r.get(1)?,
                        seq: r.get(2)?,
                    })
                })?;
                Ok((running, leased))
            })
            .await
    }

    async fn finished_per_minute(&self, since: Millis) -> StoreResult<Vec<MinuteRow>> {
        self.readers
            .read(|c| {
                let mut out = all(c, sql::WPIPE_PER_MINUTE, [since], minute_row)?;
                out.extend(all(c, sql::JOBS_PER_MINUTE, [since], minute_row)?);
                Ok(out)
            })
            .await
    }

    async fn worker_name_kind(&self, worker_id: &str) -> StoreResult<(String, String)> {
        self.readers
            .read(|c| {
                c.prepare_cached(lite(sql::WORKER_NAME_KIND))?
                    .query_row([worker_id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?
                    .ok_or_else(|| StoreError::NotFound(format!("worker {worker_id}")))
            })
            .await
    }

    async fn process_rows(&self, worker_id: &str, limit: i64) -> StoreResult<Vec<ProcessRow>> {
        self.readers
            .read(|c| all(c, sql::WORKER_PROCESSES, (worker_id, limit), process_row))
            .await
    }

    async fn process_step_rows(&self, worker_id: &str, since: Millis) -> StoreResult<Vec<TaskRow>> {
        self.readers
            .read(|c| all(c, sql::WORKER_PROCESS_STEPS, (worker_id, since), task_row))
            .await
    }

    async fn process_row(&self, process_id: &str) -> StoreResult<Option<ProcessRow>> {
        self.readers
            .read(|c| {
                Ok(c.prepare_cached(lite(sql::PROCESS))?
                    .query_row([process_id], process_row)
                    .optional()?)
            })
            .await
    }

    async fn step_rows(&self, process_id: &str) -> StoreResult<Vec<TaskRow>> {
        self.readers
            .read(|c| all(c, sql::PROCESS_STEPS, [process_id], task_row))
            .await
    }

    async fn job_process_rows(&self, worker_id: Option<&str>) -> StoreResult<Vec<JobProcessRow>> {
        self.readers
            .read(|c| match worker_id {
                Some(w) => all(c, sql::JOB_PROCESSES_OF.as_str(), [w], job_process_row),
                None => all(c, sql::JOB_PROCESSES.as_str(), [], job_process_row),
            })
            .await
    }

    async fn job_step_rows(&self, job_id: &str, worker_id: &str) -> StoreResult<Vec<JobStepRow>> {
        self.readers
            .read(|c| {
                all(c, sql::JOB_PROCESS_STEPS, (job_id, worker_id), |r| {
                    Ok(JobStepRow {
                        id: r.get(0)?,
                        phase: r.get(1)?,
                        seq: r.get(2)?,
                        state: r.get(3)?,
                        last_error: r.get(4)?,
                        ready_at: r.get(5)?,
                        started_at: r.get(6)?,
                        finished_at: r.get(7)?,
                    })
                })
            })
            .await
    }
}
