//! The fleet half of the store: the process monitor (wpipe workers, their processes and
//! tasks), the processes derived from Orchard's own workers' job tasks, and API tokens.
//! One SQL body for SQLite and Postgres, like `queries.rs`.

use super::StoreResult;
use crate::Millis;
use crate::workers::fleet::{FleetWorker, ProcessDetail, ProcessSummary, StepState};
use crate::workers::model::HealthThresholds;
use async_trait::async_trait;

/// Separates the job and the worker in the id of an Orchard worker's process
/// (`<job id>.<worker id>`); wpipe process ids never contain it.
pub const JOB_PROCESS_SEP: char = '.';

/// What a heartbeat found before recording itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreviousBeat {
    /// The previous sign of life; 0 when the worker had stopped.
    pub last_seen_at: Millis,
}

/// A process just opened: its id and its tasks' (name, id), in order.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenedProcess {
    pub id: String,
    pub tasks: Vec<(String, String)>,
}

/// What a task update touched.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskTouched {
    pub process_id: String,
    pub worker_id: String,
}

/// How an end-of-process report went.
#[derive(Debug, Clone, PartialEq)]
pub enum EndOutcome {
    /// Ended now, with this status, for this worker.
    Ended {
        worker_id: String,
        status: crate::workers::fleet::ProcessStatus,
    },
    /// It had already ended; nothing changed.
    AlreadyEnded,
}

#[async_trait]
pub trait FleetStore: Send + Sync {
    /// Records a wpipe worker and its ordered task templates.
    async fn register_wpipe_worker(
        &self,
        name: &str,
        version: &str,
        templates: &[(String, String)],
        now: Millis,
    ) -> StoreResult<String>;
    /// Records a heartbeat and returns the one before it; `NotFound` for an unknown worker.
    async fn beat(&self, worker_id: &str, now: Millis) -> StoreResult<PreviousBeat>;
    /// Opens a process of a wpipe worker with one pending task per template.
    async fn open_process(&self, worker_id: &str, now: Millis) -> StoreResult<OpenedProcess>;
    /// Moves a process task to `state`, keeping `details` when given.
    async fn update_process_task(
        &self,
        task_id: &str,
        state: StepState,
        details: Option<&str>,
        now: Millis,
    ) -> StoreResult<TaskTouched>;
    /// Ends a process: `error` when a task failed or `details_error`, else `success`.
    async fn end_process(
        &self,
        process_id: &str,
        details: Option<&str>,
        details_error: bool,
        now: Millis,
    ) -> StoreResult<EndOutcome>;

    /// Every listed worker with its process counts, current task and recent throughput.
    async fn fleet(&self, health: HealthThresholds, now: Millis) -> StoreResult<Vec<FleetWorker>>;
    /// A worker's processes, oldest first (at most `limit`, the newest ones).
    async fn worker_processes(
        &self,
        worker_id: &str,
        limit: i64,
    ) -> StoreResult<Vec<ProcessSummary>>;
    /// A process and its tasks in order.
    async fn process_detail(&self, process_id: &str) -> StoreResult<ProcessDetail>;
    /// Removes a dead or stopped worker with its processes; `Conflict` while it is alive.
    async fn remove_worker(
        &self,
        worker_id: &str,
        health: HealthThresholds,
        now: Millis,
    ) -> StoreResult<()>;
}

macro_rules! fleet_impl {
    ($store:ty, $db:ty, $lock:literal) => {
        #[async_trait::async_trait]
        impl $crate::store::fleet::FleetStore for $store {
            async fn register_wpipe_worker(
                &self,
                name: &str,
                version: &str,
                templates: &[(String, String)],
                now: i64,
            ) -> $crate::store::StoreResult<String> {
                let id = format!("worker_{}", uuid::Uuid::now_v7());
                let mut tx = self.write.begin().await?;
                sqlx::query(
                    "INSERT INTO workers (id, name, kind, hostname, version, concurrency, \
                     registered_at, last_seen_at) VALUES ($1, $2, 'wpipe', '', $3, 1, $4, $4)",
                )
                .bind(&id)
                .bind(name)
                .bind(version)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                for (c, chunk) in templates.chunks(500).enumerate() {
                    let mut qb = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO worker_templates (worker_id, seq, name, version) ",
                    );
                    qb.push_values(chunk.iter().enumerate(), |mut b, (i, (n, v))| {
                        b.push_bind(id.clone())
                            .push_bind((c * 500 + i + 1) as i64)
                            .push_bind(n.clone())
                            .push_bind(v.clone());
                    });
                    qb.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(id)
            }

            async fn beat(
                &self,
                worker_id: &str,
                now: i64,
            ) -> $crate::store::StoreResult<$crate::store::fleet::PreviousBeat> {
                let prev = sqlx::query_scalar::<_, i64>(
                    "UPDATE workers SET prev_seen_at = CASE WHEN stopped_at IS NULL \
                     THEN last_seen_at ELSE 0 END, last_seen_at = $2, stopped_at = NULL \
                     WHERE id = $1 RETURNING prev_seen_at",
                )
                .bind(worker_id)
                .bind(now)
                .fetch_optional(&self.write)
                .await?
                .ok_or_else(|| {
                    $crate::store::StoreError::NotFound(format!("worker {worker_id}"))
                })?;
                Ok($crate::store::fleet::PreviousBeat {
                    last_seen_at: prev,
                })
            }

            async fn open_process(
                &self,
                worker_id: &str,
                now: i64,
            ) -> $crate::store::StoreResult<$crate::store::fleet::OpenedProcess> {
                let mut tx = self.write.begin().await?;
                let kind = sqlx::query_scalar::<_, String>("SELECT kind FROM workers WHERE id = $1")
                    .bind(worker_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                match kind.as_deref() {
                    None => {
                        let _ = tx.rollback().await;
                        return Err($crate::store::StoreError::NotFound(format!(
                            "worker {worker_id}"
                        )));
                    }
                    Some("wpipe") => {}
                    Some(other) => {
                        let _ = tx.rollback().await;
                        return Err($crate::store::StoreError::Conflict(format!(
                            "worker {worker_id} is an Orchard {other} worker: its processes are its jobs"
                        )));
                    }
                }
                let templates = sqlx::query_as::<_, (String, String)>(
                    "SELECT name, version FROM worker_templates WHERE worker_id = $1 ORDER BY seq",
                )
                .bind(worker_id)
                .fetch_all(&mut *tx)
                .await?;
                let id = format!("process_{}", uuid::Uuid::now_v7());
                sqlx::query(
                    "INSERT INTO processes (id, worker_id, status, started_at, updated_at) \
                     VALUES ($1, $2, 'running', $3, $3)",
                )
                .bind(&id)
                .bind(worker_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                let ids: Vec<String> = templates
                    .iter()
                    .map(|_| format!("task_{}", uuid::Uuid::new_v4()))
                    .collect();
                let rows: Vec<usize> = (0..templates.len()).collect();
                for chunk in rows.chunks(500) {
                    let mut qb = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO process_tasks (id, process_id, seq, name, version, state, \
                         received_at) ",
                    );
                    qb.push_values(chunk, |mut b, &i| {
                        b.push_bind(ids[i].clone())
                            .push_bind(id.clone())
                            .push_bind((i + 1) as i64)
                            .push_bind(templates[i].0.clone())
                            .push_bind(templates[i].1.clone())
                            .push_bind("pending")
                            .push_bind(now);
                    });
                    qb.build().execute(&mut *tx).await?;
                }
                // Opening a process is a sign of life too.
                sqlx::query("UPDATE workers SET last_seen_at = $2, stopped_at = NULL WHERE id = $1")
                    .bind(worker_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok($crate::store::fleet::OpenedProcess {
                    id,
                    tasks: templates
                        .into_iter()
                        .map(|(n, _)| n)
                        .zip(ids)
                        .collect(),
                })
            }

            async fn update_process_task(
                &self,
                task_id: &str,
                state: $crate::workers::fleet::StepState,
                details: Option<&str>,
                now: i64,
            ) -> $crate::store::StoreResult<$crate::store::fleet::TaskTouched> {
                let mut tx = self.write.begin().await?;
                let found = sqlx::query_as::<_, (String, String)>(
                    "SELECT t.process_id, p.worker_id FROM process_tasks t \
                     JOIN processes p ON p.id = t.process_id WHERE t.id = $1",
                )
                .bind(task_id)
                .fetch_optional(&mut *tx)
                .await?;
                let Some((process_id, worker_id)) = found else {
                    let _ = tx.rollback().await;
                    return Err($crate::store::StoreError::NotFound(format!("task {task_id}")));
                };
                let sql = if state == $crate::workers::fleet::StepState::Running {
                    // A repeated start restarts the clock; an earlier end no longer holds.
                    "UPDATE process_tasks SET state = $2, started_at = $3, finished_at = NULL, \
                     updated_at = $3, details = COALESCE($4, details) WHERE id = $1"
                } else {
                    "UPDATE process_tasks SET state = $2, finished_at = $3, updated_at = $3, \
                     details = COALESCE($4, details) WHERE id = $1"
                };
                sqlx::query(sql)
                    .bind(task_id)
                    .bind(state.as_str())
                    .bind(now)
                    .bind(details)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("UPDATE processes SET updated_at = $2 WHERE id = $1")
                    .bind(&process_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("UPDATE workers SET last_seen_at = $2, stopped_at = NULL WHERE id = $1")
                    .bind(&worker_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok($crate::store::fleet::TaskTouched {
                    process_id,
                    worker_id,
                })
            }

            async fn end_process(
                &self,
                process_id: &str,
                details: Option<&str>,
                details_error: bool,
                now: i64,
            ) -> $crate::store::StoreResult<$crate::store::fleet::EndOutcome> {
                use $crate::workers::fleet::ProcessStatus;
                let mut tx = self.write.begin().await?;
                let found = sqlx::query_as::<_, (String, String)>(concat!(
                    "SELECT worker_id, status FROM processes WHERE id = $1",
                    $lock
                ))
                .bind(process_id)
                .fetch_optional(&mut *tx)
                .await?;
                let Some((worker_id, status)) = found else {
                    let _ = tx.rollback().await;
                    return Err($crate::store::StoreError::NotFound(format!(
                        "process {process_id}"
                    )));
                };
                if status != "running" {
                    let _ = tx.rollback().await;
                    return Ok($crate::store::fleet::EndOutcome::AlreadyEnded);
                }
                let failed = sqlx::query_scalar::<_, i64>(
                    "SELECT COUNT(*) FROM process_tasks WHERE process_id = $1 AND state = 'error'",
                )
                .bind(process_id)
                .fetch_one(&mut *tx)
                .await?;
                let status = if failed > 0 || details_error {
                    ProcessStatus::Error
                } else {
                    ProcessStatus::Success
                };
                sqlx::query(
                    "UPDATE processes SET status = $2, details = $3, ended_at = $4, \
                     updated_at = $4 WHERE id = $1",
                )
                .bind(process_id)
                .bind(status.as_str())
                .bind(details.filter(|d| !d.is_empty()))
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query("UPDATE workers SET last_seen_at = $2, stopped_at = NULL WHERE id = $1")
                    .bind(&worker_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok($crate::store::fleet::EndOutcome::Ended { worker_id, status })
            }

            async fn fleet(
                &self,
                health: $crate::workers::model::HealthThresholds,
                now: i64,
            ) -> $crate::store::StoreResult<Vec<$crate::workers::fleet::FleetWorker>> {
                use $crate::workers::fleet::{FleetWorker, SPARK_MINUTES};
                use std::collections::HashMap;
                let workers = $crate::store::Store::list_workers(self, health, now).await?;
                // (processes, running, succeeded, failed, ended, ended duration total)
                let mut counts: HashMap<String, [i64; 6]> = HashMap::new();
                let wpipe = sqlx::query_as::<_, (String, String, i64, i64, i64)>(
                    "SELECT worker_id, status, COUNT(*), \
                     CAST(SUM(CASE WHEN ended_at IS NULL THEN 0 ELSE 1 END) AS BIGINT), \
                     CAST(SUM(CASE WHEN ended_at IS NULL THEN 0 ELSE ended_at - started_at END) AS BIGINT) \
                     FROM processes GROUP BY worker_id, status",
                )
                .fetch_all(&self.read)
                .await?;
                for (w, status, n, ended, total) in wpipe {
                    let c = counts.entry(w).or_default();
                    c[0] += n;
                    match status.as_str() {
                        "running" => c[1] += n,
                        "success" => c[2] += n,
                        _ => c[3] += n,
                    }
                    c[4] += ended;
                    c[5] += total;
                }
                for p in self.job_processes(None).await? {
                    let c = counts.entry(p.worker_id.clone()).or_default();
                    c[0] += 1;
                    match p.status {
                        $crate::workers::fleet::ProcessStatus::Running => c[1] += 1,
                        $crate::workers::fleet::ProcessStatus::Success => c[2] += 1,
                        // A job whose input was wrong failed, but not because of this
                        // worker: it counts neither way in the worker's success rate.
                        $crate::workers::fleet::ProcessStatus::Error if p.input_fault => {}
                        $crate::workers::fleet::ProcessStatus::Error => c[3] += 1,
                    }
                    if let Some(end) = p.ended_at {
                        c[4] += 1;
                        c[5] += end - p.started_at;
                    }
                }
                let mut current: HashMap<String, String> = HashMap::new();
                let running = sqlx::query_as::<_, (String, String)>(
                    "SELECT p.worker_id, t.name FROM process_tasks t \
                     JOIN processes p ON p.id = t.process_id \
                     WHERE t.state = 'running' ORDER BY t.started_at",
                )
                .fetch_all(&self.read)
                .await?;
                let leased = sqlx::query_as::<_, (String, String, i64)>(
                    "SELECT lease_owner, phase, seq FROM job_tasks \
                     WHERE state = 'leased' AND lease_owner IS NOT NULL ORDER BY started_at",
                )
                .fetch_all(&self.read)
                .await?;
                for (w, name) in running {
                    current.insert(w, name);
                }
                for (w, phase, seq) in leased {
                    current.insert(w, format!("{phase} #{seq}"));
                }
                let first_minute = now / 60_000 - (SPARK_MINUTES - 1);
                let since = first_minute * 60_000;
                let mut spark: HashMap<String, Vec<i64>> = HashMap::new();
                let per_min_wpipe = sqlx::query_as::<_, (String, i64, i64)>(
                    "SELECT p.worker_id, t.finished_at / 60000, COUNT(*) FROM process_tasks t \
                     JOIN processes p ON p.id = t.process_id \
                     WHERE t.finished_at >= $1 GROUP BY p.worker_id, t.finished_at / 60000",
                )
                .bind(since)
                .fetch_all(&self.read)
                .await?;
                let per_min_jobs = sqlx::query_as::<_, (String, i64, i64)>(
                    "SELECT worker_id, finished_at / 60000, COUNT(*) FROM job_tasks \
                     WHERE finished_at >= $1 AND worker_id IS NOT NULL \
                     GROUP BY worker_id, finished_at / 60000",
                )
                .bind(since)
                .fetch_all(&self.read)
                .await?;
                for (w, minute, n) in per_min_wpipe.into_iter().chain(per_min_jobs) {
                    let i = minute - first_minute;
                    if (0..SPARK_MINUTES).contains(&i) {
                        spark
                            .entry(w)
                            .or_insert_with(|| vec![0; SPARK_MINUTES as usize])[i as usize] += n;
                    }
                }
                Ok(workers
                    .into_iter()
                    .map(|w| {
                        let c = counts.get(&w.id).copied().unwrap_or_default();
                        FleetWorker {
                            processes: c[0],
                            running: c[1],
                            succeeded: c[2],
                            failed: c[3],
                            avg_process_ms: (c[4] > 0).then(|| c[5] / c[4]),
                            current_task: current.get(&w.id).cloned(),
                            tasks_per_min: spark
                                .remove(&w.id)
                                .unwrap_or_else(|| vec![0; SPARK_MINUTES as usize]),
                            worker: w,
                        }
                    })
                    .collect())
            }

            async fn worker_processes(
                &self,
                worker_id: &str,
                limit: i64,
            ) -> $crate::store::StoreResult<Vec<$crate::workers::fleet::ProcessSummary>> {
                let (name, kind) = self.worker_name_kind(worker_id).await?;
                if kind != "wpipe" {
                    let mut ps = self.job_processes(Some(worker_id)).await?;
                    let skip = ps.len().saturating_sub(limit.max(0) as usize);
                    ps.drain(..skip);
                    for p in &mut ps {
                        p.worker_name = name.clone();
                    }
                    return Ok(ps);
                }
                let rows = sqlx::query_as::<_, $crate::store::fleet::ProcessRow>(
                    "SELECT id, status, details, started_at, ended_at, worker_id FROM processes \
                     WHERE worker_id = $1 ORDER BY started_at DESC, id DESC LIMIT $2",
                )
                .bind(worker_id)
                .bind(limit)
                .fetch_all(&self.read)
                .await?;
                // Every listed process's tasks in one query, not one per process.
                let since = rows.last().map(|r| r.started_at).unwrap_or_default();
                let mut tasks: std::collections::HashMap<
                    String,
                    Vec<$crate::workers::fleet::ProcessTask>,
                > = std::collections::HashMap::new();
                let task_rows = sqlx::query_as::<_, $crate::store::fleet::TaskRow>(
                    "SELECT t.id, t.process_id, t.seq, t.name, t.version, t.state, t.details, \
                     t.received_at, t.started_at, t.finished_at, t.updated_at \
                     FROM process_tasks t JOIN processes p ON p.id = t.process_id \
                     WHERE p.worker_id = $1 AND p.started_at >= $2 ORDER BY t.process_id, t.seq",
                )
                .bind(worker_id)
                .bind(since)
                .fetch_all(&self.read)
                .await?;
                for t in task_rows {
                    let t: $crate::workers::fleet::ProcessTask = t.try_into()?;
                    tasks.entry(t.process_id.clone()).or_default().push(t);
                }
                rows.into_iter()
                    .rev()
                    .map(|r| {
                        let ts = tasks.remove(&r.id).unwrap_or_default();
                        $crate::store::fleet::summarize(r, worker_id, &name, &ts)
                    })
                    .collect()
            }

            async fn process_detail(
                &self,
                process_id: &str,
            ) -> $crate::store::StoreResult<$crate::workers::fleet::ProcessDetail> {
                if let Some((job_id, worker_id)) =
                    process_id.split_once($crate::store::fleet::JOB_PROCESS_SEP)
                {
                    return self.job_process_detail(process_id, job_id, worker_id).await;
                }
                let r = sqlx::query_as::<_, $crate::store::fleet::ProcessRow>(
                    "SELECT id, status, details, started_at, ended_at, worker_id \
                     FROM processes WHERE id = $1",
                )
                .bind(process_id)
                .fetch_optional(&self.read)
                .await?
                .ok_or_else(|| {
                    $crate::store::StoreError::NotFound(format!("process {process_id}"))
                })?;
                let worker_id = r.worker_id.clone();
                let (name, _) = self.worker_name_kind(&worker_id).await?;
                let tasks = self.wpipe_tasks(process_id).await?;
                Ok($crate::workers::fleet::ProcessDetail {
                    process: $crate::store::fleet::summarize(r, &worker_id, &name, &tasks)?,
                    tasks,
                })
            }

            async fn remove_worker(
                &self,
                worker_id: &str,
                health: $crate::workers::model::HealthThresholds,
                now: i64,
            ) -> $crate::store::StoreResult<()> {
                let mut tx = self.write.begin().await?;
                let found = sqlx::query_as::<_, (i64, Option<i64>)>(concat!(
                    "SELECT last_seen_at, stopped_at FROM workers WHERE id = $1",
                    $lock
                ))
                .bind(worker_id)
                .fetch_optional(&mut *tx)
                .await?;
                let Some((seen, stopped)) = found else {
                    let _ = tx.rollback().await;
                    return Err($crate::store::StoreError::NotFound(format!(
                        "worker {worker_id}"
                    )));
                };
                let h = health.health(seen, stopped.is_some(), now);
                if !matches!(
                    h,
                    $crate::workers::model::Health::Dead | $crate::workers::model::Health::Stopped
                ) {
                    let _ = tx.rollback().await;
                    return Err($crate::store::StoreError::Conflict(format!(
                        "worker {worker_id} is {}: only dead or stopped workers can be removed",
                        h.as_str()
                    )));
                }
                sqlx::query("DELETE FROM workers WHERE id = $1")
                    .bind(worker_id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }
        }

        impl $store {
            async fn worker_name_kind(
                &self,
                worker_id: &str,
            ) -> $crate::store::StoreResult<(String, String)> {
                sqlx::query_as::<_, (String, String)>("SELECT name, kind FROM workers WHERE id = $1")
                    .bind(worker_id)
                    .fetch_optional(&self.read)
                    .await?
                    .ok_or_else(|| $crate::store::StoreError::NotFound(format!("worker {worker_id}")))
            }

            async fn wpipe_tasks(
                &self,
                process_id: &str,
            ) -> $crate::store::StoreResult<Vec<$crate::workers::fleet::ProcessTask>> {
                sqlx::query_as::<_, $crate::store::fleet::TaskRow>(
                    "SELECT id, process_id, seq, name, version, state, details, received_at, \
                     started_at, finished_at, updated_at FROM process_tasks \
                     WHERE process_id = $1 ORDER BY seq",
                )
                .bind(process_id)
                .fetch_all(&self.read)
                .await?
                .into_iter()
                .map(TryInto::try_into)
                .collect()
            }

            /// The processes of Orchard's own workers (one per worker and job it took part
            /// in), derived from the job tasks they ran; for one worker or all of them.
            async fn job_processes(
                &self,
                worker_id: Option<&str>,
            ) -> $crate::store::StoreResult<Vec<$crate::workers::fleet::ProcessSummary>> {
                // One worker's tasks and the whole fleet's alike come from a scan of the
                // job tasks: no index holds finished tasks by worker.
                let filter = if worker_id.is_some() {
                    "(t.state IN ('done', 'failed') AND t.worker_id = $1) \
                     OR (t.state = 'leased' AND t.lease_owner = $1)"
                } else {
                    "(t.state IN ('done', 'failed') AND t.worker_id IS NOT NULL) \
                     OR (t.state = 'leased' AND t.lease_owner IS NOT NULL)"
                };
                let sql = format!(
                    "SELECT COALESCE(t.lease_owner, t.worker_id) AS worker_id, t.job_id, \
                     j.kind AS job_kind, j.state AS job_state, COUNT(*) AS total, \
                     CAST(SUM(CASE WHEN t.state IN ('done', 'failed') THEN 1 ELSE 0 END) AS BIGINT) AS finished, \
                     CAST(SUM(CASE WHEN t.state = 'failed' THEN 1 ELSE 0 END) AS BIGINT) AS failed, \
                     CAST(SUM(CASE WHEN t.state = 'failed' AND t.input_fault THEN 1 ELSE 0 END) AS BIGINT) AS input_faults, \
                     MIN(t.started_at) AS started_at, \
                     MAX(COALESCE(t.finished_at, t.started_at)) AS last_update, \
                     j.error AS error \
                     FROM job_tasks t JOIN jobs j ON j.id = t.job_id WHERE {filter} \
                     GROUP BY COALESCE(t.lease_owner, t.worker_id), t.job_id, j.kind, j.state, j.error \
                     ORDER BY MIN(t.started_at)"
                );
                let mut q = sqlx::query_as::<_, $crate::store::fleet::JobProcessRow>(&sql);
                if let Some(w) = worker_id {
                    q = q.bind(w);
                }
                let rows = q.fetch_all(&self.read).await?;
                Ok(rows
                    .into_iter()
                    .map($crate::store::fleet::JobProcessRow::summary)
                    .collect())
            }

            async fn job_process_detail(
                &self,
                process_id: &str,
                job_id: &str,
                worker_id: &str,
            ) -> $crate::store::StoreResult<$crate::workers::fleet::ProcessDetail> {
                let not_found =
                    || $crate::store::StoreError::NotFound(format!("process {process_id}"));
                let (name, _) = self.worker_name_kind(worker_id).await.map_err(|_| not_found())?;
                let mut process = self
                    .job_processes(Some(worker_id))
                    .await?
                    .into_iter()
                    .find(|p| p.id == process_id)
                    .ok_or_else(not_found)?;
                process.worker_name = name;
                let rows = sqlx::query_as::<_, (String, String, i64, String, Option<String>, Option<i64>, Option<i64>, Option<i64>)>(
                    "SELECT id, phase, seq, state, last_error, ready_at, started_at, finished_at \
                     FROM job_tasks WHERE job_id = $1 \
                     AND ((state IN ('done', 'failed') AND worker_id = $2) \
                       OR (state = 'leased' AND lease_owner = $2)) \
                     ORDER BY started_at, seq",
                )
                .bind(job_id)
                .bind(worker_id)
                .fetch_all(&self.read)
                .await?;
                let tasks = rows
                    .into_iter()
                    .enumerate()
                    .map(|(i, (id, phase, seq, state, error, ready, started, finished))| {
                        let state = match state.as_str() {
                            "leased" => $crate::workers::fleet::StepState::Running,
                            "done" => $crate::workers::fleet::StepState::Success,
                            _ => $crate::workers::fleet::StepState::Error,
                        };
                        $crate::workers::fleet::ProcessTask {
                            id,
                            process_id: process_id.to_string(),
                            seq: i as i64 + 1,
                            name: format!("{phase} #{seq}"),
                            version: env!("CARGO_PKG_VERSION").to_string(),
                            details: if state == $crate::workers::fleet::StepState::Error {
                                error
                            } else {
                                None
                            },
                            received_at: ready.or(started).unwrap_or_default(),
                            started_at: started,
                            finished_at: finished,
                            updated_at: finished.or(started),
                            state,
                        }
                    })
                    .collect();
                Ok($crate::workers::fleet::ProcessDetail { process, tasks })
            }
        }
    };
}

// Postgres locks the row a transaction changes; SQLite's writes are serial already.
fleet_impl!(super::SqliteStore, sqlx::Sqlite, "");
fleet_impl!(super::PgStore, sqlx::Postgres, " FOR UPDATE");

#[derive(sqlx::FromRow)]
pub(super) struct ProcessRow {
    pub id: String,
    pub worker_id: String,
    pub status: String,
    pub details: Option<String>,
    pub started_at: i64,
    pub ended_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
pub(super) struct TaskRow {
    pub id: String,
    pub process_id: String,
    pub seq: i64,
    pub name: String,
    pub version: String,
    pub state: String,
    pub details: Option<String>,
    pub received_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub updated_at: Option<i64>,
}

impl TryFrom<TaskRow> for crate::workers::fleet::ProcessTask {
    type Error = super::StoreError;
    fn try_from(r: TaskRow) -> StoreResult<Self> {
        Ok(Self {
            state: StepState::parse(&r.state)
                .ok_or_else(|| super::StoreError::Corrupt(format!("task state {}", r.state)))?,
            id: r.id,
            process_id: r.process_id,
            seq: r.seq,
            name: r.name,
            version: r.version,
            details: r.details,
            received_at: r.received_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
            updated_at: r.updated_at,
        })
    }
}

/// A wpipe process's summary from its row and tasks.
pub(super) fn summarize(
    r: ProcessRow,
    worker_id: &str,
    worker_name: &str,
    tasks: &[crate::workers::fleet::ProcessTask],
) -> StoreResult<ProcessSummary> {
    use crate::workers::fleet::ProcessStatus;
    let last = tasks
        .iter()
        .filter(|t| t.updated_at.is_some())
        .max_by_key(|t| (t.updated_at, t.seq));
    Ok(ProcessSummary {
        status: ProcessStatus::parse(&r.status)
            .ok_or_else(|| super::StoreError::Corrupt(format!("process status {}", r.status)))?,
        id: r.id,
        worker_id: worker_id.to_string(),
        worker_name: worker_name.to_string(),
        started_at: r.started_at,
        ended_at: r.ended_at,
        tasks_total: tasks.len() as i64,
        tasks_finished: tasks.iter().filter(|t| t.state.finished()).count() as i64,
        tasks_failed: tasks.iter().filter(|t| t.state == StepState::Error).count() as i64,
        input_fault: false,
        step: last.or(tasks.first()).map(|t| t.name.clone()),
        step_state: last.or(tasks.first()).map(|t| t.state),
        last_update: last.and_then(|t| t.updated_at),
        details: r.details,
    })
}

#[derive(sqlx::FromRow)]
pub(super) struct JobProcessRow {
    pub worker_id: String,
    pub job_id: String,
    pub job_kind: String,
    pub job_state: String,
    pub total: i64,
    pub finished: i64,
    pub failed: i64,
    pub input_faults: i64,
    pub started_at: Option<i64>,
    pub last_update: Option<i64>,
    pub error: Option<String>,
}

impl JobProcessRow {
    pub(super) fn summary(self) -> ProcessSummary {
        use crate::workers::fleet::ProcessStatus;
        let status = if self.failed > 0 {
            ProcessStatus::Error
        } else if self.job_state == "queued" || self.job_state == "running" {
            ProcessStatus::Running
        } else {
            ProcessStatus::Success
        };
        let started = self.started_at.unwrap_or_default();
        ProcessSummary {
            id: format!("{}{JOB_PROCESS_SEP}{}", self.job_id, self.worker_id),
            worker_name: String::new(),
            status,
            started_at: started,
            ended_at: (status != ProcessStatus::Running)
                .then(|| self.last_update.unwrap_or(started)),
            tasks_total: self.total,
            tasks_finished: self.finished,
            tasks_failed: self.failed,
            input_fault: self.failed > 0 && self.input_faults == self.failed,
            // What the job is, not only its id: "File average job 01a2…".
            step: Some(format!(
                "{} job {}",
                crate::jobs::model::JobKind::parse(&self.job_kind)
                    .map(|k| k.label())
                    .unwrap_or("A"),
                self.job_id.get(..8).unwrap_or(&self.job_id)
            )),
            step_state: Some(match status {
                ProcessStatus::Running => StepState::Running,
                ProcessStatus::Success => StepState::Success,
                ProcessStatus::Error => StepState::Error,
            }),
            last_update: self.last_update,
            details: if self.failed > 0 { self.error } else { None },
            worker_id: self.worker_id,
        }
    }
}
