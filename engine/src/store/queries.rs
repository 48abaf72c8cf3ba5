//! The SQL both stores share. SQLite and Postgres accept the same `$N` placeholders and the
//! same statements here; the only difference is row locking, passed in as `$lock` (lock the
//! job row a transaction works on) and `$skip` (let concurrent claimers skip a locked job).
//! On SQLite both are empty: every write goes through one connection, so transactions are
//! already serial.
//!
//! Lock order everywhere: the job row first, then its task rows. Claims, completions,
//! failures, cancellations and the reaper all follow it, so they cannot deadlock.

/// Whether a job in this state still runs tasks.
pub(super) fn is_active(job_state: &str) -> bool {
    job_state == "queued" || job_state == "running"
}

/// The refusal of a call made under a lease the caller no longer holds.
pub(super) fn lease_conflict(
    task_id: &str,
    worker_id: &str,
    attempt: i64,
    state: &str,
    current_attempt: i64,
) -> super::StoreError {
    super::StoreError::Conflict(format!(
        "task {task_id} is not leased to worker {worker_id} at attempt {attempt} \
         (it is {state}, attempt {current_attempt}): the lease expired or was taken over"
    ))
}

/// Order of a job's phases; the SQL in `claim` spells out the same order.
pub(super) fn phase_rank(phase: &str) -> i64 {
    match phase {
        "generate" => 0,
        "map" => 1,
        "reduce" => 2,
        _ => 3,
    }
}

macro_rules! store_impl {
    ($store:ty, $db:ty, $backend:expr, $lock:literal, $skip:literal) => {
        impl $store {
            /// Locks the job row and returns its state and attempt budget.
            pub(super) async fn lock_job(
                tx: &mut sqlx::Transaction<'_, $db>,
                job_id: &str,
            ) -> $crate::store::StoreResult<(String, i64)> {
                sqlx::query_as::<_, (String, i64)>(concat!(
                    "SELECT state, max_attempts FROM jobs WHERE id = $1",
                    $lock
                ))
                .bind(job_id)
                .fetch_optional(&mut **tx)
                .await?
                .ok_or_else(|| $crate::store::StoreError::NotFound(format!("job {job_id}")))
            }

            /// Ends a transaction that found a reason to refuse, releasing its row locks now
            /// (a dropped transaction would hold them until its connection is next used).
            pub(super) async fn abort<T>(
                tx: sqlx::Transaction<'_, $db>,
                e: $crate::store::StoreError,
            ) -> $crate::store::StoreResult<T> {
                let _ = tx.rollback().await;
                Err(e)
            }

            async fn job_of_task(&self, task_id: &str) -> $crate::store::StoreResult<String> {
                sqlx::query_scalar::<_, String>("SELECT job_id FROM job_tasks WHERE id = $1")
                    .bind(task_id)
                    .fetch_optional(&self.read)
                    .await?
                    .ok_or_else(|| $crate::store::StoreError::NotFound(format!("task {task_id}")))
            }

            /// Fails a job for good: keeps the error, cancels what has not started.
            async fn fail_job_tx(
                tx: &mut sqlx::Transaction<'_, $db>,
                job_id: &str,
                error: &str,
                now: i64,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query(
                    "UPDATE jobs SET state = 'failed', error = $2, finished_at = $3 \
                     WHERE id = $1 AND state IN ('queued', 'running')",
                )
                .bind(job_id)
                .bind(error)
                .bind(now)
                .execute(&mut **tx)
                .await?;
                Self::cancel_pending_tx(tx, job_id).await
            }

            /// Cancels the job's tasks that have not started.
            async fn cancel_pending_tx(
                tx: &mut sqlx::Transaction<'_, $db>,
                job_id: &str,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query(
                    "UPDATE job_tasks SET state = 'cancelled' \
                     WHERE job_id = $1 AND state IN ('waiting', 'ready')",
                )
                .bind(job_id)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            /// Checks that `(worker, attempt)` holds the lease on a task; `Conflict` if not.
            pub(super) async fn check_lease(
                tx: &mut sqlx::Transaction<'_, $db>,
                task_id: &str,
                lease: &$crate::jobs::protocol::LeaseRef,
            ) -> $crate::store::StoreResult<(String, i64)> {
                let row = sqlx::query_as::<_, (String, Option<String>, i64, String, i64)>(
                    "SELECT state, lease_owner, attempt, phase, seq FROM job_tasks WHERE id = $1",
                )
                .bind(task_id)
                .fetch_optional(&mut **tx)
                .await?
                .ok_or_else(|| $crate::store::StoreError::NotFound(format!("task {task_id}")))?;
                let (state, owner, attempt, phase, seq) = row;
                if state != "leased"
                    || owner.as_deref() != Some(lease.worker_id.as_str())
                    || attempt != lease.attempt
                {
                    return Err(super::queries::lease_conflict(
                        task_id,
                        &lease.worker_id,
                        lease.attempt,
                        &state,
                        attempt,
                    ));
                }
                Ok((phase, seq))
            }

            /// The phase of the first unfinished task, or "done".
            async fn refresh_phase(
                tx: &mut sqlx::Transaction<'_, $db>,
                job_id: &str,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query(
                    "UPDATE jobs SET phase = COALESCE((SELECT phase FROM job_tasks \
                     WHERE job_id = $1 AND state IN ('waiting', 'ready', 'leased') \
                     ORDER BY seq LIMIT 1), 'done') WHERE id = $1",
                )
                .bind(job_id)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            fn backend(&self) -> $crate::store::Backend {
                $backend
            }

            fn pool_usage(&self) -> (u32, u32) {
                self.pool_figures()
            }

            async fn notify_change(&self, payload: &str) -> $crate::store::StoreResult<()> {
                self.notify_change_impl(payload).await
            }

            async fn change_feed(
                &self,
            ) -> $crate::store::StoreResult<Option<Box<dyn $crate::store::ChangeFeed>>> {
                self.change_feed_impl().await
            }

            async fn ping(&self) -> $crate::store::StoreResult<()> {
                sqlx::query_scalar::<_, i64>("SELECT CAST(1 AS BIGINT)")
                    .fetch_one(&self.read)
                    .await?;
                Ok(())
            }

            async fn overview(
                &self,
                health: $crate::workers::model::HealthThresholds,
                now: i64,
            ) -> $crate::store::StoreResult<$crate::overview::model::Overview> {
                let mut o = $crate::overview::model::Overview {
                    database: $backend.as_str().to_string(),
                    ..Default::default()
                };
                let jobs = sqlx::query_as::<_, (String, i64)>(
                    "SELECT state, COUNT(*) FROM jobs GROUP BY state",
                )
                .fetch_all(&self.read)
                .await?;
                for (state, n) in jobs {
                    match state.as_str() {
                        "queued" => o.jobs_queued = n,
                        "running" => o.jobs_running = n,
                        "succeeded" => o.jobs_succeeded = n,
                        "failed" => o.jobs_failed = n,
                        "cancelled" => o.jobs_cancelled = n,
                        _ => {}
                    }
                }
                let tasks = sqlx::query_as::<_, (String, i64)>(
                    "SELECT state, COUNT(*) FROM job_tasks \
                     WHERE state IN ('ready', 'leased') GROUP BY state",
                )
                .fetch_all(&self.read)
                .await?;
                for (state, n) in tasks {
                    match state.as_str() {
                        "ready" => o.tasks_ready = n,
                        "leased" => o.tasks_leased = n,
                        _ => {}
                    }
                }
                let seen = sqlx::query_scalar::<_, i64>(
                    "SELECT last_seen_at FROM workers WHERE stopped_at IS NULL",
                )
                .fetch_all(&self.read)
                .await?;
                o.recent_jobs = self.list_jobs(5).await?;
                // Through each recently active job's done tasks by finish time: no index holds
                // every job's done tasks by finish time alone.
                let since = now - $crate::overview::model::ACTIVITY_SPAN_MS;
                o.activity_since = since;
                o.activity = sqlx::query_as::<_, (i64, i64)>(
                    "SELECT $1 + ((t.finished_at - $1) / $2) * $2 AS at, COUNT(*) \
                     FROM jobs j JOIN job_tasks t ON t.job_id = j.id \
                     WHERE (j.finished_at IS NULL OR j.finished_at >= $1) \
                       AND t.state = 'done' AND t.finished_at >= $1 \
                     GROUP BY 1 ORDER BY 1",
                )
                .bind(since)
                .bind($crate::overview::model::ACTIVITY_BUCKET_MS)
                .fetch_all(&self.read)
                .await?
                .into_iter()
                .map(|(at, tasks)| $crate::jobs::model::ThroughputPoint {
                    at,
                    tasks,
                    phases: Vec::new(),
                })
                .collect();
                o.workers_total = seen.len() as i64;
                o.workers_healthy = seen
                    .into_iter()
                    .filter(|t| {
                        health.health(*t, false, now)
                            == $crate::workers::model::Health::Healthy
                    })
                    .count() as i64;
                Ok(o)
            }

            async fn queue_stats(
                &self,
                now: i64,
            ) -> $crate::store::StoreResult<$crate::store::QueueStats> {
                let jobs_by_state = sqlx::query_as::<_, (String, i64)>(
                    "SELECT state, COUNT(*) FROM jobs GROUP BY state",
                )
                .fetch_all(&self.read)
                .await?;
                let tasks_by_state = sqlx::query_as::<_, (String, i64)>(
                    "SELECT state, COUNT(*) FROM job_tasks GROUP BY state",
                )
                .fetch_all(&self.read)
                .await?;
                let oldest = sqlx::query_scalar::<_, Option<i64>>(
                    "SELECT MIN(ready_at) FROM job_tasks WHERE state = 'ready'",
                )
                .fetch_one(&self.read)
                .await?;
                Ok($crate::store::QueueStats {
                    jobs_by_state,
                    tasks_by_state,
                    oldest_ready_age_ms: oldest.map(|t| (now - t).max(0)).unwrap_or(0),
                })
            }

            async fn register_worker(
                &self,
                w: $crate::store::NewWorker,
                now: i64,
            ) -> $crate::store::StoreResult<String> {
                let id = uuid::Uuid::now_v7().to_string();
                sqlx::query(
                    "INSERT INTO workers (id, name, kind, hostname, version, concurrency, \
                     registered_at, last_seen_at, secret_hash) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)",
                )
                .bind(&id)
                .bind(&w.name)
                .bind(w.kind.as_str())
                .bind(&w.hostname)
                .bind(&w.version)
                .bind(w.concurrency)
                .bind(now)
                .bind(&w.secret_hash)
                .execute(&self.write)
                .await?;
                Ok(id)
            }

            async fn reserve_file_bytes(
                &self,
                key: &str,
                bytes: i64,
                cap: i64,
            ) -> $crate::store::StoreResult<bool> {
                // One statement: two jobs reserving at once cannot both pass the cap.
                let r = sqlx::query(
                    "INSERT INTO file_reservations (job_id, bytes) \
                     SELECT $1, $2 WHERE \
                       $2 <= $3 - (SELECT COALESCE(SUM(bytes), 0) FROM file_reservations)",
                )
                .bind(key)
                .bind(bytes)
                .bind(cap)
                .execute(&self.write)
                .await?;
                Ok(r.rows_affected() == 1)
            }

            async fn rename_file_reservation(
                &self,
                from: &str,
                to: &str,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query("UPDATE file_reservations SET job_id = $2 WHERE job_id = $1")
                    .bind(from)
                    .bind(to)
                    .execute(&self.write)
                    .await?;
                Ok(())
            }

            async fn release_file_bytes(&self, key: &str) -> $crate::store::StoreResult<()> {
                sqlx::query("DELETE FROM file_reservations WHERE job_id = $1")
                    .bind(key)
                    .execute(&self.write)
                    .await?;
                Ok(())
            }

            async fn reserved_file_bytes(&self) -> $crate::store::StoreResult<i64> {
                Ok(sqlx::query_scalar::<_, Option<i64>>(
                    "SELECT CAST(SUM(bytes) AS BIGINT) FROM file_reservations",
                )
                .fetch_one(&self.read)
                .await?
                .unwrap_or(0))
            }

            async fn holds_lease_in_job(
                &self,
                worker_id: &str,
                job_id: &str,
            ) -> $crate::store::StoreResult<bool> {
                Ok(sqlx::query_scalar::<_, i64>(
                    "SELECT COUNT(*) FROM job_tasks \
                     WHERE lease_owner = $1 AND state = 'leased' AND job_id = $2",
                )
                .bind(worker_id)
                .bind(job_id)
                .fetch_one(&self.read)
                .await?
                    > 0)
            }

            async fn worker_secret_hash(
                &self,
                id: &str,
            ) -> $crate::store::StoreResult<Option<Option<String>>> {
                Ok(sqlx::query_scalar::<_, Option<String>>(
                    "SELECT secret_hash FROM workers WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.read)
                .await?)
            }

            async fn touch_worker(&self, id: &str, now: i64) -> $crate::store::StoreResult<()> {
                let r = sqlx::query(
                    "UPDATE workers SET last_seen_at = $2, stopped_at = NULL WHERE id = $1",
                )
                .bind(id)
                .bind(now)
                .execute(&self.write)
                .await?;
                if r.rows_affected() == 0 {
                    return Err($crate::store::StoreError::NotFound(format!("worker {id}")));
                }
                Ok(())
            }

            async fn stop_worker(&self, id: &str, now: i64) -> $crate::store::StoreResult<()> {
                let r = sqlx::query("UPDATE workers SET stopped_at = $2 WHERE id = $1")
                    .bind(id)
                    .bind(now)
                    .execute(&self.write)
                    .await?;
                if r.rows_affected() == 0 {
                    return Err($crate::store::StoreError::NotFound(format!("worker {id}")));
                }
                Ok(())
            }

            async fn list_workers(
                &self,
                health: $crate::workers::model::HealthThresholds,
                now: i64,
            ) -> $crate::store::StoreResult<Vec<$crate::workers::model::Worker>> {
                // Stopped workers stay listed for an hour so a restart is visible.
                let rows = sqlx::query_as::<_, $crate::store::rows::WorkerRow>(
                    "SELECT w.id, w.name, w.kind, w.hostname, w.version, w.concurrency, \
                     w.registered_at, w.last_seen_at, w.stopped_at, \
                     COALESCE(a.active, 0) AS active, w.tasks_done \
                     FROM workers w LEFT JOIN (SELECT lease_owner, COUNT(*) AS active \
                        FROM job_tasks WHERE state = 'leased' GROUP BY lease_owner) a \
                       ON a.lease_owner = w.id \
                     WHERE w.stopped_at IS NULL OR w.stopped_at > $1 \
                     ORDER BY w.registered_at DESC LIMIT 10000",
                )
                .bind(now - 3_600_000)
                .fetch_all(&self.read)
                .await?;
                rows.into_iter()
                    .map(|r| {
                        Ok($crate::workers::model::Worker {
                            kind: $crate::workers::model::WorkerKind::parse(&r.kind).ok_or_else(
                                || $crate::store::StoreError::Corrupt(format!("worker kind {}", r.kind)),
                            )?,
                            health: health.health(r.last_seen_at, r.stopped_at.is_some(), now),
                            id: r.id,
                            name: r.name,
                            hostname: r.hostname,
                            version: r.version,
                            concurrency: r.concurrency,
                            registered_at: r.registered_at,
                            last_seen_at: r.last_seen_at,
                            stopped_at: r.stopped_at,
                            active: r.active,
                            tasks_done: r.tasks_done,
                        })
                    })
                    .collect()
            }

            async fn create_job(
                &self,
                job: $crate::store::NewJob,
                now: i64,
            ) -> $crate::store::StoreResult<$crate::jobs::model::Job> {
                // Time-ordered ids: each new row goes to the end of the primary key's index.
                let job_id = uuid::Uuid::now_v7().to_string();
                let ids: Vec<String> = (0..job.tasks.len())
                    .map(|_| uuid::Uuid::now_v7().to_string())
                    .collect();
                self.insert_job(&job_id, &job, &ids, now).await?;
                self.get_job(&job_id).await
            }

            async fn list_jobs(
                &self,
                limit: i64,
            ) -> $crate::store::StoreResult<Vec<$crate::jobs::model::Job>> {
                let sql = format!(
                    "SELECT {} FROM jobs ORDER BY created_at DESC, id DESC LIMIT $1",
                    $crate::store::rows::JOB_COLUMNS
                );
                sqlx::query_as::<_, $crate::store::rows::JobRow>(&sql)
                    .bind(limit)
                    .fetch_all(&self.read)
                    .await?
                    .into_iter()
                    .map(|r| self.with_work(r.try_into()?))
                    .collect()
            }

            async fn get_job(
                &self,
                id: &str,
            ) -> $crate::store::StoreResult<$crate::jobs::model::Job> {
                let sql = format!(
                    "SELECT {} FROM jobs WHERE id = $1",
                    $crate::store::rows::JOB_COLUMNS
                );
                sqlx::query_as::<_, $crate::store::rows::JobRow>(&sql)
                    .bind(id)
                    .fetch_optional(&self.read)
                    .await?
                    .ok_or_else(|| $crate::store::StoreError::NotFound(format!("job {id}")))
                    .and_then(|r| self.with_work(r.try_into()?))
            }

            async fn job_detail(
                &self,
                id: &str,
            ) -> $crate::store::StoreResult<$crate::jobs::model::JobDetail> {
                use $crate::jobs::model::*;
                let job = self.get_job(id).await?;
                let rows = sqlx::query_as::<_, (String, String, i64)>(
                    "SELECT phase, state, COUNT(*) FROM job_tasks WHERE job_id = $1 \
                     GROUP BY phase, state",
                )
                .bind(id)
                .fetch_all(&self.read)
                .await?;
                let mut counts = TaskCounts::default();
                let mut phases: Vec<PhaseCounts> = Vec::new();
                for (phase, state, n) in rows {
                    let Some(state) = TaskState::parse(&state) else {
                        continue;
                    };
                    counts.add(state, n);
                    match phases.iter_mut().find(|p| p.phase == phase) {
                        Some(p) => p.counts.add(state, n),
                        None => {
                            let mut c = TaskCounts::default();
                            c.add(state, n);
                            phases.push(PhaseCounts {
                                phase,
                                counts: c,
                                started_at: None,
                                finished_at: None,
                            });
                        }
                    }
                }
                phases.sort_by_key(|p| phase_rank(&p.phase));
                let spans = sqlx::query_as::<_, (String, Option<i64>, Option<i64>)>(
                    "SELECT phase, MIN(started_at), MAX(finished_at) FROM job_tasks \
                     WHERE job_id = $1 GROUP BY phase",
                )
                .bind(id)
                .fetch_all(&self.read)
                .await?;
                for (phase, started, finished) in spans {
                    if let Some(p) = phases.iter_mut().find(|p| p.phase == phase) {
                        p.started_at = started;
                        p.finished_at = finished;
                    }
                }
                let contributions = sqlx::query_as::<_, (String, Option<String>, i64)>(
                    "SELECT t.worker_id, w.name, COUNT(*) FROM job_tasks t \
                     LEFT JOIN workers w ON w.id = t.worker_id \
                     WHERE t.job_id = $1 AND t.state = 'done' AND t.worker_id IS NOT NULL \
                     GROUP BY t.worker_id, w.name ORDER BY COUNT(*) DESC",
                )
                .bind(id)
                .fetch_all(&self.read)
                .await?
                .into_iter()
                .map(|(worker_id, name, n)| WorkerContribution {
                    worker_name: name.unwrap_or_else(|| worker_id.clone()),
                    worker_id,
                    tasks_done: n,
                })
                .collect();
                // At most 60 buckets over the job's life, counted from its start.
                let start = job.started_at.unwrap_or(job.created_at);
                let end = job.finished_at.unwrap_or_else($crate::now_millis);
                let bucket = $crate::jobs::model::throughput_bucket(end - start);
                let rows = sqlx::query_as::<_, (i64, String, i64)>(
                    "SELECT $3 + ((finished_at - $3) / $2) * $2 AS at, phase, COUNT(*) \
                     FROM job_tasks \
                     WHERE job_id = $1 AND state = 'done' AND finished_at >= $3 \
                     GROUP BY 1, 2 ORDER BY 1",
                )
                .bind(id)
                .bind(bucket)
                .bind(start)
                .fetch_all(&self.read)
                .await?;
                let mut throughput: Vec<ThroughputPoint> = Vec::new();
                for (at, phase, tasks) in rows {
                    let part = $crate::jobs::model::PhaseTasks { phase, tasks };
                    match throughput.last_mut() {
                        Some(p) if p.at == at => {
                            p.tasks += tasks;
                            p.phases.push(part);
                        }
                        _ => throughput.push(ThroughputPoint {
                            at,
                            tasks,
                            phases: vec![part],
                        }),
                    }
                }
                for p in &mut throughput {
                    p.phases
                        .sort_by_key(|t| phase_rank(&t.phase));
                }
                let errors = sqlx::query_as::<_, (String, String, i64, String)>(
                    "SELECT id, phase, attempt, last_error FROM job_tasks \
                     WHERE job_id = $1 AND last_error IS NOT NULL ORDER BY seq LIMIT 20",
                )
                .bind(id)
                .fetch_all(&self.read)
                .await?
                .into_iter()
                .map(|(task_id, phase, attempt, error)| TaskError {
                    task_id,
                    phase,
                    attempt,
                    error,
                })
                .collect();
                Ok(JobDetail {
                    job,
                    counts,
                    phases,
                    contributions,
                    throughput,
                    throughput_bucket_ms: bucket,
                    errors,
                })
            }

            async fn cancel_job(
                &self,
                id: &str,
                now: i64,
            ) -> $crate::store::StoreResult<$crate::jobs::model::Job> {
                let mut tx = self.write.begin().await?;
                let (state, _) = Self::lock_job(&mut tx, id).await?;
                if !is_active(&state) {
                    return Self::abort(
                        tx,
                        $crate::store::StoreError::Conflict(format!(
                        "job {id} is already {state} and cannot be cancelled"
                    )),
                    )
                    .await;
                }
                sqlx::query(
                    "UPDATE jobs SET state = 'cancelled', finished_at = $2 WHERE id = $1",
                )
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                Self::cancel_pending_tx(&mut tx, id).await?;
                tx.commit().await?;
                self.get_job(id).await
            }

            async fn retry_job(
                &self,
                id: &str,
                now: i64,
            ) -> $crate::store::StoreResult<$crate::jobs::model::Job> {
                let mut tx = self.write.begin().await?;
                let (state, _) = Self::lock_job(&mut tx, id).await?;
                if state != "failed" && state != "cancelled" {
                    return Self::abort(
                        tx,
                        $crate::store::StoreError::Conflict(format!(
                        "job {id} is {state}: only failed or cancelled jobs can be retried"
                    )),
                    )
                    .await;
                }
                let leased = sqlx::query_scalar::<_, i64>(
                    "SELECT COUNT(*) FROM job_tasks WHERE job_id = $1 AND state = 'leased'",
                )
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
                if leased > 0 {
                    return Self::abort(
                        tx,
                        $crate::store::StoreError::Conflict(format!(
                        "job {id} still has {leased} task(s) stopping on workers; retry in a moment"
                    )),
                    )
                    .await;
                }
                sqlx::query(
                    "UPDATE job_tasks SET \
                       state = CASE WHEN deps_pending = 0 THEN 'ready' ELSE 'waiting' END, \
                       ready_at = CASE WHEN deps_pending = 0 THEN $2 ELSE NULL END, \
                       attempt = 0, run_after = 0, lease_owner = NULL, lease_expires_at = NULL \
                     WHERE job_id = $1 AND state IN ('failed', 'cancelled')",
                )
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE jobs SET state = CASE WHEN started_at IS NULL THEN 'queued' \
                     ELSE 'running' END, error = NULL, finished_at = NULL WHERE id = $1",
                )
                .bind(id)
                .execute(&mut *tx)
                .await?;
                Self::refresh_phase(&mut tx, id).await?;
                tx.commit().await?;
                self.get_job(id).await
            }

            async fn delete_job(&self, id: &str) -> $crate::store::StoreResult<()> {
                let mut tx = self.write.begin().await?;
                Self::lock_job(&mut tx, id).await?;
                // Children first: the task tree's self-reference would otherwise make the
                // cascade order matter.
                sqlx::query("DELETE FROM job_tasks WHERE job_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM jobs WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn job_work(
                &self,
                job_id: &str,
                done: i64,
                total: i64,
            ) -> $crate::store::StoreResult<()> {
                if let Some(board) = self.work_board() {
                    board
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(job_id.to_string(), (done, total));
                    return Ok(());
                }
                sqlx::query(
                    "UPDATE jobs SET work_done = $2, work_total = $3 \
                     WHERE id = $1 AND state IN ('queued', 'running')",
                )
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
            ) -> $crate::store::StoreResult<Vec<serde_json::Value>> {
                let rows = sqlx::query_scalar::<_, Option<String>>(
                    "SELECT output FROM job_tasks WHERE job_id = $1 AND phase = $2 ORDER BY seq",
                )
                .bind(job_id)
                .bind(phase)
                .fetch_all(&self.read)
                .await?;
                rows.into_iter()
                    .map(|o| match o {
                        Some(s) => $crate::store::rows::parse_json(&s, "task output"),
                        None => Ok(serde_json::Value::Null),
                    })
                    .collect()
            }

            async fn claim(
                &self,
                worker_id: &str,
                max: i64,
                lease_ms: i64,
                now: i64,
            ) -> $crate::store::StoreResult<Vec<$crate::jobs::protocol::LeasedTask>> {
                if max <= 0 {
                    return Ok(Vec::new());
                }
                self.claim_impl(worker_id, max, lease_ms, now).await
            }

            async fn claimable(&self, now: i64) -> $crate::store::StoreResult<bool> {
                // A subquery per job rather than a join: a job's ready tasks are one range
                // of the claim index, however many tasks the planner guesses are ready.
                // The job's id, a TEXT column on both databases: a bare `SELECT 1` is an
                // INT4 on Postgres and an INTEGER (i64) on SQLite, so no one Rust type reads both.
                let found = sqlx::query_scalar::<_, String>(
                    "SELECT j.id FROM jobs j WHERE j.state IN ('queued', 'running') \
                     AND (SELECT t.seq FROM job_tasks t WHERE t.job_id = j.id \
                        AND t.state = 'ready' AND t.run_after <= $1 \
                        ORDER BY t.seq LIMIT 1) IS NOT NULL \
                     AND (SELECT COUNT(*) FROM job_tasks t WHERE t.job_id = j.id \
                        AND t.state = 'leased') < j.concurrency \
                     LIMIT 1",
                )
                .bind(now)
                .fetch_optional(&self.read)
                .await?;
                Ok(found.is_some())
            }

            async fn heartbeat(
                &self,
                task_id: &str,
                lease: &$crate::jobs::protocol::LeaseRef,
                lease_ms: i64,
                now: i64,
            ) -> $crate::store::StoreResult<$crate::jobs::protocol::HeartbeatReply> {
                let job_id = self.job_of_task(task_id).await?;
                let mut tx = self.write.begin().await?;
                let (job_state, _) = Self::lock_job(&mut tx, &job_id).await?;
                match Self::check_lease(&mut tx, task_id, lease).await {
                    Ok(v) => v,
                    Err(e) => return Self::abort(tx, e).await,
                };
                let expires = now + lease_ms;
                sqlx::query("UPDATE job_tasks SET lease_expires_at = $2 WHERE id = $1")
                    .bind(task_id)
                    .bind(expires)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("UPDATE workers SET last_seen_at = $2 WHERE id = $1")
                    .bind(&lease.worker_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok($crate::jobs::protocol::HeartbeatReply {
                    lease_expires_at: expires,
                    cancelled: !is_active(&job_state),
                })
            }

            async fn complete(
                &self,
                task_id: &str,
                req: &$crate::jobs::protocol::CompleteRequest,
                now: i64,
            ) -> $crate::store::StoreResult<$crate::store::Completion> {
                let item = $crate::jobs::protocol::CompletedTask {
                    task_id: task_id.to_string(),
                    job_id: None,
                    attempt: req.attempt,
                    output: req.output.clone(),
                    run_ms: None,
                };
                // A refusal changes nothing but ending a cancelled job's lease, and is
                // committed like any other answer.
                let mut done = self
                    .complete_batch_impl(&req.worker_id, &[item], 0, 0, now)
                    .await?
                    .completed;
                done.pop().unwrap_or_else(|| {
                    Err($crate::store::StoreError::Corrupt("completion lost its answer".into()))
                })
            }

            async fn complete_batch(
                &self,
                worker_id: &str,
                items: &[$crate::jobs::protocol::CompletedTask],
                claim: i64,
                lease_ms: i64,
                now: i64,
            ) -> $crate::store::StoreResult<$crate::store::BatchOutcome> {
                self.complete_batch_impl(worker_id, items, claim, lease_ms, now).await
            }

            async fn fail(
                &self,
                task_id: &str,
                req: &$crate::jobs::protocol::FailRequest,
                backoff: $crate::store::Backoff,
                now: i64,
            ) -> $crate::store::StoreResult<$crate::store::FailureOutcome> {
                let job_id = self.job_of_task(task_id).await?;
                let mut tx = self.write.begin().await?;
                let (job_state, max_attempts) = Self::lock_job(&mut tx, &job_id).await?;
                let lease = $crate::jobs::protocol::LeaseRef {
                    worker_id: req.worker_id.clone(),
                    attempt: req.attempt,
                };
                let (phase, seq) = match Self::check_lease(&mut tx, task_id, &lease).await {
                    Ok(v) => v,
                    Err(e) => return Self::abort(tx, e).await,
                };
                let error: String = req.error.chars().take(2_000).collect();
                let will_retry = if !is_active(&job_state) {
                    sqlx::query(
                        "UPDATE job_tasks SET state = 'cancelled', lease_owner = NULL, \
                         lease_expires_at = NULL, last_error = $2 WHERE id = $1",
                    )
                    .bind(task_id)
                    .bind(&error)
                    .execute(&mut *tx)
                    .await?;
                    false
                } else if req.retryable && req.attempt < max_attempts {
                    let at = now + backoff.delay(req.attempt);
                    sqlx::query(
                        "UPDATE job_tasks SET state = 'ready', lease_owner = NULL, \
                         lease_expires_at = NULL, run_after = $2, ready_at = $2, \
                         last_error = $3 WHERE id = $1",
                    )
                    .bind(task_id)
                    .bind(at)
                    .bind(&error)
                    .execute(&mut *tx)
                    .await?;
                    true
                } else {
                    sqlx::query(
                        "UPDATE job_tasks SET state = 'failed', lease_owner = NULL, \
                         lease_expires_at = NULL, finished_at = $2, last_error = $3, \
                         worker_id = $4, input_fault = $5 WHERE id = $1",
                    )
                    .bind(task_id)
                    .bind(now)
                    .bind(&error)
                    .bind(&req.worker_id)
                    // Not retryable: the input is wrong, whoever runs it.
                    .bind(!req.retryable)
                    .execute(&mut *tx)
                    .await?;
                    let msg = $crate::store::job_failure(&error, &phase, seq, req.attempt);
                    Self::fail_job_tx(&mut tx, &job_id, &msg, now).await?;
                    false
                };
                tx.commit().await?;
                Ok($crate::store::FailureOutcome {
                    job_id,
                    phase,
                    will_retry,
                })
            }

            async fn release(
                &self,
                task_id: &str,
                lease: &$crate::jobs::protocol::LeaseRef,
                now: i64,
            ) -> $crate::store::StoreResult<String> {
                let job_id = self.job_of_task(task_id).await?;
                let mut tx = self.write.begin().await?;
                let (job_state, _) = Self::lock_job(&mut tx, &job_id).await?;
                match Self::check_lease(&mut tx, task_id, lease).await {
                    Ok(v) => v,
                    Err(e) => return Self::abort(tx, e).await,
                };
                if is_active(&job_state) {
                    // A released task did no harm: give its attempt back.
                    sqlx::query(
                        "UPDATE job_tasks SET state = 'ready', attempt = attempt - 1, \
                         lease_owner = NULL, lease_expires_at = NULL, ready_at = $2 \
                         WHERE id = $1",
                    )
                    .bind(task_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                } else {
                    sqlx::query(
                        "UPDATE job_tasks SET state = 'cancelled', lease_owner = NULL, \
                         lease_expires_at = NULL WHERE id = $1",
                    )
                    .bind(task_id)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(job_id)
            }

            async fn reap_expired(
                &self,
                backoff: $crate::store::Backoff,
                now: i64,
            ) -> $crate::store::StoreResult<$crate::store::ReapReport> {
                let expired = sqlx::query_as::<_, (String, String, i64, String, i64)>(
                    "SELECT id, job_id, attempt, phase, seq FROM job_tasks \
                     WHERE state = 'leased' AND lease_expires_at < $1 \
                     ORDER BY lease_expires_at LIMIT 500",
                )
                .bind(now)
                .fetch_all(&self.read)
                .await?;
                let mut report = $crate::store::ReapReport::default();
                for (task_id, job_id, attempt, phase, seq) in expired {
                    let mut tx = self.write.begin().await?;
                    let (job_state, max_attempts) = Self::lock_job(&mut tx, &job_id).await?;
                    let error = "lease expired: the worker stopped heartbeating";
                    let active = is_active(&job_state);
                    let (next, run_after) = if !active {
                        ("cancelled", 0)
                    } else if attempt < max_attempts {
                        ("ready", now + backoff.delay(attempt))
                    } else {
                        ("failed", 0)
                    };
                    // Re-checked under the lock: a heartbeat may have renewed it meanwhile.
                    let r = sqlx::query(
                        "UPDATE job_tasks SET state = $4, lease_owner = NULL, \
                         lease_expires_at = NULL, run_after = $5, ready_at = $5, \
                         last_error = $6 \
                         WHERE id = $1 AND state = 'leased' AND attempt = $2 \
                         AND lease_expires_at < $3",
                    )
                    .bind(&task_id)
                    .bind(attempt)
                    .bind(now)
                    .bind(next)
                    .bind(run_after)
                    .bind(error)
                    .execute(&mut *tx)
                    .await?;
                    if r.rows_affected() == 0 {
                        tx.rollback().await?;
                        continue;
                    }
                    match next {
                        "ready" => report.requeued += 1,
                        "failed" => {
                            report.failed += 1;
                            let msg = $crate::store::job_failure(&error, &phase, seq, attempt);
                            Self::fail_job_tx(&mut tx, &job_id, &msg, now).await?;
                        }
                        _ => {}
                    }
                    tx.commit().await?;
                    if !report.job_ids.contains(&job_id) {
                        report.job_ids.push(job_id);
                    }
                }
                Ok(report)
            }
        }
    };
}

pub(super) use store_impl;
