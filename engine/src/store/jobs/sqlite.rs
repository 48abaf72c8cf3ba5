//! Jobs and the queue on SQLite: reads on the readers, every change on the writer
//! (`store/sqlite`), the claim and the completions in `sqlite_queue.rs`.

use super::{
    AfterFailure, DetailRows, JobRow, JobStore, OverviewRows, StepLog, TaskRow, Want, is_active,
    sql, sqlite_queue,
};
use crate::Millis;
use crate::overview::model::{ACTIVITY_BUCKET_MS, ACTIVITY_SPAN_MS, Overview};
use crate::store::sqlite::{SqliteStore, all, sql as lite};
use crate::store::{
    Backoff, BatchOutcome, Completion, FailureOutcome, NewJob, QueueStats, ReapReport, StoreResult,
};
use crate::workers::model::HealthThresholds;
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension};
use shared::jobs::model::{Job, JobDetail, TaskState};
use shared::jobs::protocol::{
    CompleteRequest, CompletedTask, FailRequest, HeartbeatReply, LeaseRef, LeasedTask,
};

fn pairs(c: &Connection, sql: &'static str) -> StoreResult<Vec<(String, i64)>> {
    all(c, sql, [], |r| Ok((r.get(0)?, r.get(1)?)))
}

/// The job's state and attempt budget (serial writes need no lock).
fn job_state(c: &Connection, job_id: &str) -> StoreResult<(String, i64)> {
    c.prepare_cached(lite(sql::JOB_STATE))?
        .query_row([job_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .ok_or_else(|| super::no_job(job_id))
}

/// The retry policy task `task_id` of a job allowing `job_max` attempts runs under.
fn task_policy(
    c: &Connection,
    task_id: &str,
    job_max: i64,
    server: Backoff,
) -> StoreResult<(i64, Backoff)> {
    let own: super::OwnRetry = c
        .prepare_cached(lite(sql::TASK_RETRY_POLICY))?
        .query_row([task_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?
        .unwrap_or_default();
    Ok(super::retry_policy(own, job_max, server))
}

fn job_of_task(c: &Connection, task_id: &str) -> StoreResult<String> {
    c.prepare_cached(lite(sql::JOB_OF_TASK))?
        .query_row([task_id], |r| r.get(0))
        .optional()?
        .ok_or_else(|| super::no_task(task_id))
}

fn check_lease(c: &Connection, task_id: &str, lease: &LeaseRef) -> StoreResult<(String, i64)> {
    let row = c
        .prepare_cached(lite(sql::LEASE))?
        .query_row([task_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .optional()?
        .ok_or_else(|| super::no_task(task_id))?;
    super::check_lease(task_id, lease, row)
}

/// Fails a job for good: keeps the error, cancels what has not started.
fn fail_job(c: &Connection, job_id: &str, error: &str, now: Millis) -> StoreResult<()> {
    c.prepare_cached(lite(sql::FAIL_JOB))?
        .execute((job_id, error, now))?;
    c.prepare_cached(lite(sql::CANCEL_PENDING))?
        .execute([job_id])?;
    Ok(())
}

fn get_job(c: &Connection, id: &str) -> StoreResult<Option<Job>> {
    c.prepare_cached(lite(sql::GET_JOB))?
        .query_row([id], JobRow::from_sqlite)
        .optional()?
        .map(TryInto::try_into)
        .transpose()
}

impl SqliteStore {
    /// A job as stored, with its running task's progress from memory.
    fn with_work(&self, mut job: Job) -> Job {
        if let Some(&(done, total)) = self
            .work
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&job.id)
        {
            job.progress.work_done = done;
            job.progress.work_total = total;
        }
        job
    }
}

#[async_trait]
impl JobStore for SqliteStore {
    async fn overview(&self, health: HealthThresholds, now: Millis) -> StoreResult<Overview> {
        let since = now - ACTIVITY_SPAN_MS;
        let rows = self
            .readers
            .read(|c| {
                Ok(OverviewRows {
                    jobs: pairs(c, sql::JOBS_BY_STATE)?,
                    tasks: pairs(c, sql::QUEUED_TASKS)?,
                    seen: all(c, sql::LIVE_WORKERS_SEEN, [], |r| r.get(0))?,
                    activity: all(c, sql::ACTIVITY, (since, ACTIVITY_BUCKET_MS), |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })?,
                })
            })
            .await?;
        let recent = self.list_jobs(5).await?;
        Ok(super::overview("sqlite", recent, since, rows, health, now))
    }

    async fn queue_stats(&self, now: Millis) -> StoreResult<QueueStats> {
        self.readers
            .read(|c| {
                let oldest: Option<i64> = c
                    .prepare_cached(sql::OLDEST_READY)?
                    .query_row([], |r| r.get(0))?;
                Ok(QueueStats {
                    jobs_by_state: pairs(c, sql::JOBS_BY_STATE)?,
                    tasks_by_state: pairs(c, sql::TASKS_BY_STATE)?,
                    oldest_ready_age_ms: oldest.map(|t| (now - t).max(0)).unwrap_or(0),
                })
            })
            .await
    }

    async fn reserve_file_bytes(&self, key: &str, bytes: i64, cap: i64) -> StoreResult<bool> {
        let key = key.to_string();
        self.on_writer(move |c| {
            Ok(c.prepare_cached(lite(sql::RESERVE_FILES))?
                .execute((&key, bytes, cap))?
                == 1)
        })
        .await
    }

    async fn rename_file_reservation(&self, from: &str, to: &str) -> StoreResult<()> {
        let (from, to) = (from.to_string(), to.to_string());
        self.on_writer(move |c| {
            c.prepare_cached(lite(sql::RENAME_RESERVATION))?
                .execute((&from, &to))?;
            Ok(())
        })
        .await
    }

    async fn release_file_bytes(&self, key: &str) -> StoreResult<()> {
        let key = key.to_string();
        self.on_writer(move |c| {
            c.prepare_cached(lite(sql::RELEASE_FILES))?
                .execute([&key])?;
            Ok(())
        })
        .await
    }

    async fn reserved_file_bytes(&self) -> StoreResult<i64> {
        self.readers
            .read(|c| {
                let n: Option<i64> = c
                    .prepare_cached(sql::RESERVED_FILES)?
                    .query_row([], |r| r.get(0))?;
                Ok(n.unwrap_or(0))
            })
            .await
    }

    async fn holds_lease_in_job(&self, worker_id: &str, job_id: &str) -> StoreResult<bool> {
        self.readers
            .read(|c| {
                let n: i64 = c
                    .prepare_cached(lite(sql::HOLDS_LEASE))?
                    .query_row((worker_id, job_id), |r| r.get(0))?;
                Ok(n > 0)
            })
            .await
    }

    async fn create_job(&self, job: NewJob, now: Millis) -> StoreResult<Job> {
        // Time-ordered ids: each new row goes to the end of the primary key's index.
        let job_id = uuid::Uuid::now_v7().to_string();
        let ids: Vec<String> = (0..job.tasks.len())
            .map(|_| uuid::Uuid::now_v7().to_string())
            .collect();
        let id = job_id.clone();
        self.on_writer(move |c| sqlite_queue::insert_job(c, &id, &job, &ids, now))
            .await?;
        self.get_job(&job_id).await
    }

    async fn find_jobs(
        &self,
        limit: i64,
        filter: &shared::jobs::model::JobFilter,
    ) -> StoreResult<Vec<Job>> {
        let kind = filter.kind.map(|k| k.as_str());
        let state = filter.state.map(|s| s.as_str());
        let handler = filter.handler.as_deref();
        let rows = self
            .readers
            .read(|c| {
                all(
                    c,
                    sql::LIST_JOBS,
                    (limit, kind, state, handler),
                    JobRow::from_sqlite,
                )
            })
            .await?;
        rows.into_iter()
            .map(|r| Ok(self.with_work(r.try_into()?)))
            .collect()
    }

    async fn get_job(&self, id: &str) -> StoreResult<Job> {
        let job = self.readers.read(|c| get_job(c, id)).await?;
        Ok(self.with_work(job.ok_or_else(|| super::no_job(id))?))
    }

    async fn job_detail(&self, id: &str) -> StoreResult<JobDetail> {
        let job = self.get_job(id).await?;
        let (start, bucket) = super::throughput_window(&job);
        let rows = self
            .readers
            .read(|c| {
                Ok(DetailRows {
                    counts: all(c, sql::PHASE_STATE_COUNTS, [id], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })?,
                    spans: all(c, sql::PHASE_SPANS, [id], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                    })?,
                    contributions: all(c, sql::CONTRIBUTIONS, [id], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })?,
                    throughput: all(c, sql::JOB_THROUGHPUT, (id, bucket, start), |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })?,
                    errors: all(c, sql::TASK_ERRORS, [id], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                    })?,
                })
            })
            .await?;
        Ok(super::detail(job, bucket, rows))
    }

    async fn cancel_job(&self, id: &str, now: Millis) -> StoreResult<Job> {
        let job_id = id.to_string();
        self.on_writer(move |c| {
            let (state, _) = job_state(c, &job_id)?;
            if !is_active(&state) {
                return Err(super::cannot_cancel(&job_id, &state));
            }
            c.prepare_cached(lite(sql::CANCEL_JOB))?
                .execute((&job_id, now))?;
            c.prepare_cached(lite(sql::CANCEL_PENDING))?
                .execute([&job_id])?;
            Ok(())
        })
        .await?;
        self.get_job(id).await
    }

    async fn retry_job(&self, id: &str, now: Millis) -> StoreResult<Job> {
        let job_id = id.to_string();
        self.on_writer(move |c| {
            let (state, _) = job_state(c, &job_id)?;
            let leased: i64 = c
                .prepare_cached(lite(sql::LEASED_OF_JOB))?
                .query_row([&job_id], |r| r.get(0))?;
            super::check_retry(&job_id, &state, leased)?;
            c.prepare_cached(lite(sql::RETRY_TASKS))?
                .execute((&job_id, now))?;
            c.prepare_cached(lite(sql::RETRY_JOB))?.execute([&job_id])?;
            c.prepare_cached(lite(sql::REFRESH_PHASE))?
                .execute([&job_id])?;
            Ok(())
        })
        .await?;
        self.get_job(id).await
    }

    async fn delete_job(&self, id: &str) -> StoreResult<()> {
        let job_id = id.to_string();
        self.on_writer(move |c| {
            job_state(c, &job_id)?;
            c.prepare_cached(lite(sql::DELETE_DEPS))?
                .execute([&job_id])?;
            c.prepare_cached(lite(sql::DELETE_STEP_LOGS))?
                .execute([&job_id])?;
            c.prepare_cached(lite(sql::DELETE_TASKS))?
                .execute([&job_id])?;
            c.prepare_cached(lite(sql::DELETE_JOB))?
                .execute([&job_id])?;
            Ok(())
        })
        .await
    }

    /// In memory: one process owns the file, and a long import holds the writer.
    async fn job_work(&self, job_id: &str, done: i64, total: i64) -> StoreResult<()> {
        self.work
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(job_id.to_string(), (done, total));
        Ok(())
    }

    async fn phase_outputs(
        &self,
        job_id: &str,
        phase: &str,
    ) -> StoreResult<Vec<serde_json::Value>> {
        let rows = self
            .readers
            .read(|c| all(c, sql::PHASE_OUTPUTS, (job_id, phase), |r| r.get(0)))
            .await?;
        super::outputs(rows)
    }

    async fn claim(
        &self,
        worker_id: &str,
        want: Want,
        lease_ms: i64,
        now: Millis,
    ) -> StoreResult<Vec<LeasedTask>> {
        if want.batches <= 0 {
            return Ok(Vec::new());
        }
        let worker_id = worker_id.to_string();
        self.on_writer(move |c| sqlite_queue::claim(c, &worker_id, want, lease_ms, now))
            .await
    }

    async fn append_log(
        &self,
        task_id: &str,
        lease: &LeaseRef,
        lines: &[String],
        now: Millis,
    ) -> StoreResult<()> {
        let (task_id, lease, lines) = (task_id.to_string(), lease.clone(), lines.to_vec());
        self.on_writer(move |c| {
            let job_id = job_of_task(c, &task_id)?;
            check_lease(c, &task_id, &lease)?;
            let (old, dropped): (String, i64) = c
                .prepare_cached(lite(sql::STEP_LOG))?
                .query_row((&task_id, lease.attempt), |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?
                .unwrap_or_default();
            let (log, dropped) = super::capped_log(&old, dropped, &lines, super::LOG_CAP);
            c.prepare_cached(lite(sql::PUT_STEP_LOG))?.execute((
                &task_id,
                lease.attempt,
                &job_id,
                log,
                dropped,
                now,
            ))?;
            Ok(())
        })
        .await
    }

    async fn task_state(&self, task_id: &str) -> StoreResult<(String, i64)> {
        self.readers
            .read(|c| {
                c.prepare_cached(lite(sql::LEASE))?
                    .query_row([task_id], |r| Ok((r.get(0)?, r.get(2)?)))
                    .optional()?
                    .ok_or_else(|| super::no_task(task_id))
            })
            .await
    }

    async fn step_log(&self, task_id: &str, attempt: Option<i64>) -> StoreResult<Option<StepLog>> {
        self.readers
            .read(|c| {
                Ok(match attempt {
                    Some(a) => c
                        .prepare_cached(lite(sql::STEP_LOG))?
                        .query_row((task_id, a), |r| {
                            Ok(StepLog {
                                attempt: a,
                                text: r.get(0)?,
                                dropped: r.get(1)?,
                            })
                        })
                        .optional()?,
                    None => c
                        .prepare_cached(lite(sql::LATEST_STEP_LOG))?
                        .query_row([task_id], |r| {
                            Ok(StepLog {
                                attempt: r.get(0)?,
                                text: r.get(1)?,
                                dropped: r.get(2)?,
                            })
                        })
                        .optional()?,
                })
            })
            .await
    }

    async fn task_page(&self, job_id: &str, after: i64, limit: i64) -> StoreResult<Vec<TaskRow>> {
        self.readers
            .read(|c| {
                all(
                    c,
                    sql::TASK_PAGE,
                    (job_id, after, limit),
                    TaskRow::from_sqlite,
                )
            })
            .await
    }

    async fn claimable(&self, now: Millis) -> StoreResult<bool> {
        self.readers
            .read(|c| {
                Ok(c.prepare_cached(lite(sql::CLAIMABLE))?
                    .query_row([now], |r| r.get::<_, String>(0))
                    .optional()?
                    .is_some())
            })
            .await
    }

    async fn heartbeat(
        &self,
        task_id: &str,
        lease: &LeaseRef,
        lease_ms: i64,
        now: Millis,
    ) -> StoreResult<HeartbeatReply> {
        let (task_id, lease) = (task_id.to_string(), lease.clone());
        self.on_writer(move |c| {
            let job_id = job_of_task(c, &task_id)?;
            let (job_state, _) = job_state(c, &job_id)?;
            check_lease(c, &task_id, &lease)?;
            let expires = now + lease_ms;
            c.prepare_cached(lite(sql::EXTEND_LEASE))?
                .execute((&task_id, expires))?;
            c.prepare_cached(lite(sql::WORKER_SEEN))?
                .execute((&lease.worker_id, now))?;
            Ok(HeartbeatReply {
                lease_expires_at: expires,
                cancelled: !is_active(&job_state),
            })
        })
        .await
    }

    async fn complete(
        &self,
        task_id: &str,
        req: &CompleteRequest,
        now: Millis,
    ) -> StoreResult<Completion> {
        // A refusal changes nothing but ending a cancelled job's lease, and is committed
        // like any other answer.
        let item = super::one_completion(task_id, req);
        let out = self
            .complete_batch(&req.worker_id, &[item], Want::tasks(0), 0, now)
            .await?;
        super::answer_of_one(out.completed)
    }

    async fn complete_batch(
        &self,
        worker_id: &str,
        items: &[CompletedTask],
        claim: Want,
        lease_ms: i64,
        now: Millis,
    ) -> StoreResult<BatchOutcome> {
        let worker_id = worker_id.to_string();
        let items = items.to_vec();
        self.on_writer(move |c| {
            sqlite_queue::complete_batch(c, &worker_id, &items, claim, lease_ms, now)
        })
        .await
    }

    async fn fail(
        &self,
        task_id: &str,
        req: &FailRequest,
        backoff: Backoff,
        now: Millis,
    ) -> StoreResult<FailureOutcome> {
        let (task_id, req) = (task_id.to_string(), req.clone());
        self.on_writer(move |c| {
            let job_id = job_of_task(c, &task_id)?;
            let (job_state, job_max) = job_state(c, &job_id)?;
            let (max_attempts, backoff) = task_policy(c, &task_id, job_max, backoff)?;
            let lease = LeaseRef {
                worker_id: req.worker_id.clone(),
                attempt: req.attempt,
            };
            let (phase, seq) = check_lease(c, &task_id, &lease)?;
            let error = super::kept_error(&req.error);
            let will_retry =
                match super::after_failure(&job_state, &req, max_attempts, backoff, now) {
                    AfterFailure::Cancelled => {
                        c.prepare_cached(lite(sql::TASK_CANCELLED))?
                            .execute((&task_id, &error))?;
                        false
                    }
                    AfterFailure::Retry(at) => {
                        c.prepare_cached(lite(sql::TASK_RETRY))?
                            .execute((&task_id, at, &error))?;
                        true
                    }
                    AfterFailure::Failed => {
                        c.prepare_cached(lite(sql::TASK_FAILED))?.execute((
                            &task_id,
                            now,
                            &error,
                            &req.worker_id,
                            !req.retryable,
                        ))?;
                        let msg = crate::store::job_failure(&error, &phase, seq, req.attempt);
                        fail_job(c, &job_id, &msg, now)?;
                        false
                    }
                };
            Ok(FailureOutcome {
                job_id,
                phase,
                will_retry,
            })
        })
        .await
    }

    async fn release(&self, task_id: &str, lease: &LeaseRef, now: Millis) -> StoreResult<String> {
        let (task_id, lease) = (task_id.to_string(), lease.clone());
        self.on_writer(move |c| {
            let job_id = job_of_task(c, &task_id)?;
            let (job_state, _) = job_state(c, &job_id)?;
            check_lease(c, &task_id, &lease)?;
            if is_active(&job_state) {
                c.prepare_cached(lite(sql::TASK_RELEASED))?
                    .execute((&task_id, now))?;
            } else {
                c.prepare_cached(lite(sql::TASK_DROPPED))?
                    .execute([&task_id])?;
            }
            Ok(job_id)
        })
        .await
    }

    async fn reap_expired(&self, backoff: Backoff, now: Millis) -> StoreResult<ReapReport> {
        self.on_writer(move |c| {
            let expired: Vec<(String, String, i64, String, i64)> =
                all(c, sql::EXPIRED, [now], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?;
            let mut report = ReapReport::default();
            for (task_id, job_id, attempt, phase, seq) in expired {
                let (job_state, job_max) = job_state(c, &job_id)?;
                let (max_attempts, backoff) = task_policy(c, &task_id, job_max, backoff)?;
                let (next, run_after) =
                    super::after_expiry(&job_state, attempt, max_attempts, backoff, now);
                let changed = c.prepare_cached(lite(sql::REAP))?.execute((
                    &task_id,
                    attempt,
                    now,
                    next.as_str(),
                    run_after,
                    super::LEASE_EXPIRED,
                ))?;
                if changed == 0 {
                    continue;
                }
                match next {
                    TaskState::Ready => report.requeued += 1,
                    TaskState::Failed => {
                        report.failed += 1;
                        let msg =
                            crate::store::job_failure(super::LEASE_EXPIRED, &phase, seq, attempt);
                        fail_job(c, &job_id, &msg, now)?;
                    }
                    _ => {}
                }
                if !report.job_ids.contains(&job_id) {
                    report.job_ids.push(job_id);
                }
            }
            Ok(report)
        })
        .await
    }
}
