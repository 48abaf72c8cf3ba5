//! Jobs and the queue on Postgres. A change that decides from a job's state locks the job's
//! row first (`sql::JOB_STATE_LOCKED`); the claim and the completions are the lease
//! functions (`postgres_queue.rs`).

use super::plan::Retry;
use super::{
    AfterFailure, DetailRows, JobRow, JobStore, OverviewRows, StepLog, TaskRow, Want, is_active,
    sql,
};
use crate::Millis;
use crate::overview::model::{ACTIVITY_BUCKET_MS, ACTIVITY_SPAN_MS, Overview};
use crate::store::postgres::{PgStore, finish};
use crate::store::{
    Backoff, BatchOutcome, Completion, FailureOutcome, NewJob, QueueStats, ReapReport, StoreResult,
};
use crate::workers::model::HealthThresholds;
use async_trait::async_trait;
use shared::jobs::model::{Job, JobDetail, TaskState};
use shared::jobs::protocol::{
    CompleteRequest, CompletedTask, FailRequest, HeartbeatReply, LeaseRef, LeasedTask,
};
use sqlx::PgConnection;

/// The job's state and attempt budget, its row locked for the transaction.
async fn lock_job(c: &mut PgConnection, job_id: &str) -> StoreResult<(String, i64)> {
    sqlx::query_as(sql::JOB_STATE_LOCKED)
        .bind(job_id)
        .fetch_optional(c)
        .await?
        .ok_or_else(|| super::no_job(job_id))
}

/// The retry policy task `task_id` of a job allowing `job_max` attempts runs under.
async fn task_policy(
    c: &mut PgConnection,
    task_id: &str,
    job_max: i64,
    server: Backoff,
) -> StoreResult<(i64, Backoff)> {
    let own: Option<super::OwnRetry> = sqlx::query_as(sql::TASK_RETRY_POLICY)
        .bind(task_id)
        .fetch_optional(c)
        .await?;
    Ok(super::retry_policy(
        own.unwrap_or_default(),
        job_max,
        server,
    ))
}

pub(super) async fn check_lease(
    c: &mut PgConnection,
    task_id: &str,
    lease: &LeaseRef,
) -> StoreResult<(String, i64)> {
    let row = sqlx::query_as(sql::LEASE)
        .bind(task_id)
        .fetch_optional(c)
        .await?
        .ok_or_else(|| super::no_task(task_id))?;
    super::check_lease(task_id, lease, row)
}

/// Fails a job for good: keeps the error, cancels what has not started.
async fn fail_job(c: &mut PgConnection, job_id: &str, error: &str, now: Millis) -> StoreResult<()> {
    sqlx::query(sql::FAIL_JOB)
        .bind(job_id)
        .bind(error)
        .bind(now)
        .execute(&mut *c)
        .await?;
    sqlx::query(sql::CANCEL_PENDING)
        .bind(job_id)
        .execute(c)
        .await?;
    Ok(())
}

impl PgStore {
    async fn job_of_task(&self, task_id: &str) -> StoreResult<String> {
        sqlx::query_scalar(sql::JOB_OF_TASK)
            .bind(task_id)
            .fetch_optional(&self.read)
            .await?
            .ok_or_else(|| super::no_task(task_id))
    }

    /// Inserts a new job and its tasks (`ids[i]` is task `i`'s id) in one transaction.
    async fn insert_job(
        &self,
        job_id: &str,
        job: &NewJob,
        ids: &[String],
        now: Millis,
    ) -> StoreResult<()> {
        let mut tx = self.write.begin().await?;
        let out: StoreResult<_> = async {
            sqlx::query(sql::INSERT_JOB)
                .bind(job_id)
                .bind(job.kind)
                .bind(job.params.to_string())
                .bind(job.phase)
                .bind(job.concurrency)
                .bind(job.max_attempts)
                .bind(job.tasks.len() as i64)
                .bind(now)
                .bind(job.server_only)
                .bind(job.replayed_from.as_deref())
                .bind(job.tasks.iter().filter(|t| t.after_all).count() as i64)
                .execute(&mut *tx)
                .await?;
            let fan_out = crate::store::jobs::plan::fan_out(&job.tasks);
            for (c, chunk) in job.tasks.chunks(10_000).enumerate() {
                let first = c * 10_000;
                let seqs: Vec<i64> = (first..first + chunk.len()).map(|i| i as i64).collect();
                let phases: Vec<&str> = chunk.iter().map(|t| t.phase).collect();
                let payloads: Vec<String> = chunk.iter().map(|t| t.payload.to_string()).collect();
                let deps: Vec<i64> = chunk.iter().map(|t| t.deps.len() as i64).collect();
                let handlers: Vec<Option<&str>> =
                    chunk.iter().map(|t| t.handler.as_deref()).collect();
                let retry = |f: fn(&Retry) -> Option<i64>| -> Vec<Option<i64>> {
                    chunk.iter().map(|t| t.retry.as_ref().and_then(f)).collect()
                };
                let closes: Vec<bool> = chunk.iter().map(|t| t.after_all).collect();
                sqlx::query(sql::INSERT_TASKS_POSTGRES)
                    .bind(job_id)
                    .bind(now)
                    .bind(&ids[first..first + chunk.len()])
                    .bind(&phases)
                    .bind(&seqs)
                    .bind(&payloads)
                    .bind(&deps)
                    .bind(&fan_out[first..first + chunk.len()])
                    .bind(&handlers)
                    .bind(retry(|r| r.max_attempts))
                    .bind(retry(|r| r.backoff_base_ms))
                    .bind(retry(|r| r.backoff_max_ms))
                    .bind(&closes)
                    .execute(&mut *tx)
                    .await?;
            }
            let edges: Vec<(usize, usize, usize)> = job
                .tasks
                .iter()
                .enumerate()
                .flat_map(|(i, t)| t.deps.iter().enumerate().map(move |(o, &d)| (i, d, o)))
                .collect();
            for chunk in edges.chunks(10_000) {
                let tasks: Vec<&str> = chunk.iter().map(|e| ids[e.0].as_str()).collect();
                let deps: Vec<&str> = chunk.iter().map(|e| ids[e.1].as_str()).collect();
                let ords: Vec<i64> = chunk.iter().map(|e| e.2 as i64).collect();
                let subs = vec![0i64; chunk.len()];
                sqlx::query(sql::INSERT_DEPS_POSTGRES)
                    .bind(job_id)
                    .bind(&tasks)
                    .bind(&deps)
                    .bind(&ords)
                    .bind(&subs)
                    .execute(&mut *tx)
                    .await?;
            }
            Ok(())
        }
        .await;
        finish(tx, out).await
    }
}

#[async_trait]
impl JobStore for PgStore {
    async fn overview(&self, health: HealthThresholds, now: Millis) -> StoreResult<Overview> {
        let since = now - ACTIVITY_SPAN_MS;
        let rows = OverviewRows {
            jobs: sqlx::query_as(sql::JOBS_BY_STATE)
                .fetch_all(&self.read)
                .await?,
            tasks: sqlx::query_as(sql::QUEUED_TASKS)
                .fetch_all(&self.read)
                .await?,
            seen: sqlx::query_scalar(sql::LIVE_WORKERS_SEEN)
                .fetch_all(&self.read)
                .await?,
            activity: sqlx::query_as(sql::ACTIVITY)
                .bind(since)
                .bind(ACTIVITY_BUCKET_MS)
                .fetch_all(&self.read)
                .await?,
        };
        let recent = self.list_jobs(5).await?;
        Ok(super::overview(
            "postgres", recent, since, rows, health, now,
        ))
    }

    async fn queue_stats(&self, now: Millis) -> StoreResult<QueueStats> {
        let oldest: Option<i64> = sqlx::query_scalar(sql::OLDEST_READY)
            .fetch_one(&self.read)
            .await?;
        Ok(QueueStats {
            jobs_by_state: sqlx::query_as(sql::JOBS_BY_STATE)
                .fetch_all(&self.read)
                .await?,
            tasks_by_state: sqlx::query_as(sql::TASKS_BY_STATE)
                .fetch_all(&self.read)
                .await?,
            oldest_ready_age_ms: oldest.map(|t| (now - t).max(0)).unwrap_or(0),
        })
    }

    async fn reserve_file_bytes(&self, key: &str, bytes: i64, cap: i64) -> StoreResult<bool> {
        let r = sqlx::query(sql::RESERVE_FILES)
            .bind(key)
            .bind(bytes)
            .bind(cap)
            .execute(&self.write)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn rename_file_reservation(&self, from: &str, to: &str) -> StoreResult<()> {
        sqlx::query(sql::RENAME_RESERVATION)
            .bind(from)
            .bind(to)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn release_file_bytes(&self, key: &str) -> StoreResult<()> {
        sqlx::query(sql::RELEASE_FILES)
            .bind(key)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn reserved_file_bytes(&self) -> StoreResult<i64> {
        let n: Option<i64> = sqlx::query_scalar(sql::RESERVED_FILES)
            .fetch_one(&self.read)
            .await?;
        Ok(n.unwrap_or(0))
    }

    async fn holds_lease_in_job(&self, worker_id: &str, job_id: &str) -> StoreResult<bool> {
        let n: i64 = sqlx::query_scalar(sql::HOLDS_LEASE)
            .bind(worker_id)
            .bind(job_id)
            .fetch_one(&self.read)
            .await?;
        Ok(n > 0)
    }

    async fn create_job(&self, job: NewJob, now: Millis) -> StoreResult<Job> {
        // Time-ordered ids: each new row goes to the end of the primary key's index.
        let job_id = uuid::Uuid::now_v7().to_string();
        let ids: Vec<String> = (0..job.tasks.len())
            .map(|_| uuid::Uuid::now_v7().to_string())
            .collect();
        self.insert_job(&job_id, &job, &ids, now).await?;
        self.get_job(&job_id).await
    }

    async fn find_jobs(
        &self,
        limit: i64,
        filter: &shared::jobs::model::JobFilter,
    ) -> StoreResult<Vec<Job>> {
        sqlx::query_as::<_, JobRow>(sql::LIST_JOBS)
            .bind(limit)
            .bind(filter.kind.map(|k| k.as_str()))
            .bind(filter.state.map(|s| s.as_str()))
            .bind(filter.handler.as_deref())
            .fetch_all(&self.read)
            .await?
            .into_iter()
            .map(TryInto::try_into)
            .collect()
    }

    async fn get_job(&self, id: &str) -> StoreResult<Job> {
        sqlx::query_as::<_, JobRow>(sql::GET_JOB)
            .bind(id)
            .fetch_optional(&self.read)
            .await?
            .ok_or_else(|| super::no_job(id))?
            .try_into()
    }

    async fn job_detail(&self, id: &str) -> StoreResult<JobDetail> {
        let job = self.get_job(id).await?;
        let (start, bucket) = super::throughput_window(&job);
        let rows = DetailRows {
            counts: sqlx::query_as(sql::PHASE_STATE_COUNTS)
                .bind(id)
                .fetch_all(&self.read)
                .await?,
            spans: sqlx::query_as(sql::PHASE_SPANS)
                .bind(id)
                .fetch_all(&self.read)
                .await?,
            contributions: sqlx::query_as(sql::CONTRIBUTIONS)
                .bind(id)
                .fetch_all(&self.read)
                .await?,
            throughput: sqlx::query_as(sql::JOB_THROUGHPUT)
                .bind(id)
                .bind(bucket)
                .bind(start)
                .fetch_all(&self.read)
                .await?,
            errors: sqlx::query_as(sql::TASK_ERRORS)
                .bind(id)
                .fetch_all(&self.read)
                .await?,
        };
        Ok(super::detail(job, bucket, rows))
    }

    async fn cancel_job(&self, id: &str, now: Millis) -> StoreResult<Job> {
        let mut tx = self.write.begin().await?;
        let out: StoreResult<_> = async {
            let (state, _) = lock_job(&mut tx, id).await?;
            if !is_active(&state) {
                return Err(super::cannot_cancel(id, &state));
            }
            sqlx::query(sql::CANCEL_JOB)
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sqlx::query(sql::CANCEL_PENDING)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            Ok(())
        }
        .await;
        finish(tx, out).await?;
        self.get_job(id).await
    }

    async fn retry_job(&self, id: &str, now: Millis) -> StoreResult<Job> {
        let mut tx = self.write.begin().await?;
        let out: StoreResult<_> = async {
            let (state, _) = lock_job(&mut tx, id).await?;
            let leased: i64 = sqlx::query_scalar(sql::LEASED_OF_JOB)
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
            super::check_retry(id, &state, leased)?;
            sqlx::query(sql::RETRY_TASKS)
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sqlx::query(sql::RETRY_JOB)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(sql::REFRESH_PHASE)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            Ok(())
        }
        .await;
        finish(tx, out).await?;
        self.get_job(id).await
    }

    async fn delete_job(&self, id: &str) -> StoreResult<()> {
        let mut tx = self.write.begin().await?;
        let out: StoreResult<_> = async {
            lock_job(&mut tx, id).await?;
            sqlx::query(sql::DELETE_DEPS)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(sql::DELETE_STEP_LOGS)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(sql::DELETE_TASKS)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(sql::DELETE_JOB)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            Ok(())
        }
        .await;
        finish(tx, out).await
    }

    /// In the jobs table, for every replica.
    async fn job_work(&self, job_id: &str, done: i64, total: i64) -> StoreResult<()> {
        sqlx::query(sql::JOB_WORK)
            .bind(job_id)
            .bind(done)
            .bind(total)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn phase_outputs(
        &self,
        job_id: &str,
        phase: &str,
    ) -> StoreResult<Vec<serde_json::Value>> {
        let rows: Vec<Option<String>> = sqlx::query_scalar(sql::PHASE_OUTPUTS)
            .bind(job_id)
            .bind(phase)
            .fetch_all(&self.read)
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
        self.claim_impl(worker_id, want, lease_ms, now).await
    }

    async fn append_log(
        &self,
        task_id: &str,
        lease: &LeaseRef,
        lines: &[String],
        now: Millis,
    ) -> StoreResult<()> {
        let job_id = self.job_of_task(task_id).await?;
        let mut tx = self.write.begin().await?;
        let out: StoreResult<_> = async {
            check_lease(&mut tx, task_id, lease).await?;
            let (old, dropped): (String, i64) = sqlx::query_as(sql::STEP_LOG_LOCKED)
                .bind(task_id)
                .bind(lease.attempt)
                .fetch_optional(&mut *tx)
                .await?
                .unwrap_or_default();
            let (log, dropped) = super::capped_log(&old, dropped, lines, super::LOG_CAP);
            sqlx::query(sql::PUT_STEP_LOG)
                .bind(task_id)
                .bind(lease.attempt)
                .bind(&job_id)
                .bind(log)
                .bind(dropped)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            Ok(())
        }
        .await;
        finish(tx, out).await
    }

    async fn task_state(&self, task_id: &str) -> StoreResult<(String, i64)> {
        let row: Option<(String, Option<String>, i64, String, i64)> = sqlx::query_as(sql::LEASE)
            .bind(task_id)
            .fetch_optional(&self.read)
            .await?;
        row.map(|(state, _, attempt, _, _)| (state, attempt))
            .ok_or_else(|| super::no_task(task_id))
    }

    async fn step_log(&self, task_id: &str, attempt: Option<i64>) -> StoreResult<Option<StepLog>> {
        Ok(match attempt {
            Some(a) => sqlx::query_as::<_, (String, i64)>(sql::STEP_LOG)
                .bind(task_id)
                .bind(a)
                .fetch_optional(&self.read)
                .await?
                .map(|(text, dropped)| StepLog {
                    attempt: a,
                    text,
                    dropped,
                }),
            None => sqlx::query_as::<_, (i64, String, i64)>(sql::LATEST_STEP_LOG)
                .bind(task_id)
                .fetch_optional(&self.read)
                .await?
                .map(|(attempt, text, dropped)| StepLog {
                    attempt,
                    text,
                    dropped,
                }),
        })
    }

    async fn task_page(&self, job_id: &str, after: i64, limit: i64) -> StoreResult<Vec<TaskRow>> {
        Ok(sqlx::query_as(sql::TASK_PAGE)
            .bind(job_id)
            .bind(after)
            .bind(limit)
            .fetch_all(&self.read)
            .await?)
    }

    async fn claimable(&self, now: Millis) -> StoreResult<bool> {
        let found: Option<String> = sqlx::query_scalar(sql::CLAIMABLE)
            .bind(now)
            .fetch_optional(&self.read)
            .await?;
        Ok(found.is_some())
    }

    async fn heartbeat(
        &self,
        task_id: &str,
        lease: &LeaseRef,
        lease_ms: i64,
        now: Millis,
    ) -> StoreResult<HeartbeatReply> {
        let job_id = self.job_of_task(task_id).await?;
        let mut tx = self.write.begin().await?;
        let out: StoreResult<_> = async {
            let (job_state, _) = lock_job(&mut tx, &job_id).await?;
            check_lease(&mut tx, task_id, lease).await?;
            let expires = now + lease_ms;
            sqlx::query(sql::EXTEND_LEASE)
                .bind(task_id)
                .bind(expires)
                .execute(&mut *tx)
                .await?;
            sqlx::query(sql::WORKER_SEEN)
                .bind(&lease.worker_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            Ok(HeartbeatReply {
                lease_expires_at: expires,
                cancelled: !is_active(&job_state),
            })
        }
        .await;
        finish(tx, out).await
    }

    async fn complete(
        &self,
        task_id: &str,
        req: &CompleteRequest,
        now: Millis,
    ) -> StoreResult<Completion> {
        let item = super::one_completion(task_id, req);
        let out = self
            .complete_batch_impl(&req.worker_id, &[item], Want::tasks(0), 0, now)
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
        self.complete_batch_impl(worker_id, items, claim, lease_ms, now)
            .await
    }

    async fn fail(
        &self,
        task_id: &str,
        req: &FailRequest,
        backoff: Backoff,
        now: Millis,
    ) -> StoreResult<FailureOutcome> {
        let job_id = self.job_of_task(task_id).await?;
        let mut tx = self.write.begin().await?;
        let out: StoreResult<_> = async {
            let (job_state, job_max) = lock_job(&mut tx, &job_id).await?;
            let (max_attempts, backoff) = task_policy(&mut tx, task_id, job_max, backoff).await?;
            let lease = LeaseRef {
                worker_id: req.worker_id.clone(),
                attempt: req.attempt,
            };
            let (phase, seq) = check_lease(&mut tx, task_id, &lease).await?;
            let error = super::kept_error(&req.error);
            let will_retry = match super::after_failure(&job_state, req, max_attempts, backoff, now)
            {
                AfterFailure::Cancelled => {
                    sqlx::query(sql::TASK_CANCELLED)
                        .bind(task_id)
                        .bind(&error)
                        .execute(&mut *tx)
                        .await?;
                    false
                }
                AfterFailure::Retry(at) => {
                    sqlx::query(sql::TASK_RETRY)
                        .bind(task_id)
                        .bind(at)
                        .bind(&error)
                        .execute(&mut *tx)
                        .await?;
                    true
                }
                AfterFailure::Failed => {
                    sqlx::query(sql::TASK_FAILED)
                        .bind(task_id)
                        .bind(now)
                        .bind(&error)
                        .bind(&req.worker_id)
                        .bind(!req.retryable)
                        .execute(&mut *tx)
                        .await?;
                    let msg = crate::store::job_failure(&error, &phase, seq, req.attempt);
                    fail_job(&mut tx, &job_id, &msg, now).await?;
                    false
                }
            };
            Ok(FailureOutcome {
                job_id,
                phase,
                will_retry,
            })
        }
        .await;
        finish(tx, out).await
    }

    async fn release(&self, task_id: &str, lease: &LeaseRef, now: Millis) -> StoreResult<String> {
        let job_id = self.job_of_task(task_id).await?;
        let mut tx = self.write.begin().await?;
        let out: StoreResult<_> = async {
            let (job_state, _) = lock_job(&mut tx, &job_id).await?;
            check_lease(&mut tx, task_id, lease).await?;
            if is_active(&job_state) {
                sqlx::query(sql::TASK_RELEASED)
                    .bind(task_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            } else {
                sqlx::query(sql::TASK_DROPPED)
                    .bind(task_id)
                    .execute(&mut *tx)
                    .await?;
            }
            Ok(job_id)
        }
        .await;
        finish(tx, out).await
    }

    async fn reap_expired(&self, backoff: Backoff, now: Millis) -> StoreResult<ReapReport> {
        let expired: Vec<(String, String, i64, String, i64)> = sqlx::query_as(sql::EXPIRED)
            .bind(now)
            .fetch_all(&self.read)
            .await?;
        let mut report = ReapReport::default();
        for (task_id, job_id, attempt, phase, seq) in expired {
            let mut tx = self.write.begin().await?;
            // The task's new state, or `None` when a heartbeat renewed the lease meanwhile.
            let out: StoreResult<Option<TaskState>> = async {
                let (job_state, job_max) = lock_job(&mut tx, &job_id).await?;
                let (max_attempts, backoff) =
                    task_policy(&mut tx, &task_id, job_max, backoff).await?;
                let (next, run_after) =
                    super::after_expiry(&job_state, attempt, max_attempts, backoff, now);
                let changed = sqlx::query(sql::REAP)
                    .bind(&task_id)
                    .bind(attempt)
                    .bind(now)
                    .bind(next.as_str())
                    .bind(run_after)
                    .bind(super::LEASE_EXPIRED)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if changed == 0 {
                    return Ok(None);
                }
                if next == TaskState::Failed {
                    let msg = crate::store::job_failure(super::LEASE_EXPIRED, &phase, seq, attempt);
                    fail_job(&mut tx, &job_id, &msg, now).await?;
                }
                Ok(Some(next))
            }
            .await;
            match finish(tx, out).await? {
                None => continue,
                Some(TaskState::Ready) => report.requeued += 1,
                Some(TaskState::Failed) => report.failed += 1,
                Some(_) => {}
            }
            if !report.job_ids.contains(&job_id) {
                report.job_ids.push(job_id);
            }
        }
        Ok(report)
    }
}
