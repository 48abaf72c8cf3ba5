//! Postgres's lease path: claims and completions as statements on a pooled connection.
//! A claim locks the jobs it takes from with `FOR UPDATE OF j SKIP LOCKED`, and a batch
//! of completions locks each job row before its task rows, in job id order — the lock
//! order every claim, completion, failure and reaper pass follows, so none can deadlock.

use super::PgStore;
use super::queries::{is_active, phase_rank};
use crate::jobs::protocol::{CompletedTask, LeasedTask};
use crate::store::{BatchOutcome, Completion, StoreError, StoreResult};
use std::collections::{BTreeMap, HashMap};

type Tx<'a> = sqlx::Transaction<'a, sqlx::Postgres>;

impl PgStore {
    pub(super) async fn claim_impl(
        &self,
        worker_id: &str,
        max: i64,
        lease_ms: i64,
        now: i64,
    ) -> StoreResult<Vec<LeasedTask>> {
        let mut tx = self.write.begin().await?;
        if !Self::touch_worker_tx(&mut tx, worker_id, now).await? {
            return Self::abort(tx, StoreError::NotFound(format!("worker {worker_id}"))).await;
        }
        let out = Self::claim_tx(&mut tx, worker_id, max, lease_ms, now).await?;
        tx.commit().await?;
        Ok(out)
    }

    pub(super) async fn complete_batch_impl(
        &self,
        worker_id: &str,
        items: &[CompletedTask],
        claim: i64,
        lease_ms: i64,
        now: i64,
    ) -> StoreResult<BatchOutcome> {
        let mut tx = self.write.begin().await?;
        let completed = Self::complete_tx(&mut tx, worker_id, items, now).await?;
        // A worker that held a lease exists; otherwise look it up (and record its sign of
        // life): an unknown worker gets no new work.
        let mut claimed = Vec::new();
        if claim > 0
            && (completed.iter().any(|c| c.is_ok())
                || Self::touch_worker_tx(&mut tx, worker_id, now).await?)
        {
            claimed = Self::claim_tx(&mut tx, worker_id, claim, lease_ms, now).await?;
        }
        tx.commit().await?;
        Ok(BatchOutcome { completed, claimed })
    }

    /// Records a worker's sign of life; false for an unknown worker.
    async fn touch_worker_tx(tx: &mut Tx<'_>, worker_id: &str, now: i64) -> StoreResult<bool> {
        let seen = sqlx::query("UPDATE workers SET last_seen_at = $2 WHERE id = $1")
            .bind(worker_id)
            .bind(now)
            .execute(&mut **tx)
            .await?;
        Ok(seen.rows_affected() > 0)
    }

    /// Leases up to `max` ready tasks to `worker_id` inside `tx`: jobs oldest first,
    /// tasks in plan order, never more than a job's concurrency at once.
    async fn claim_tx(
        tx: &mut Tx<'_>,
        worker_id: &str,
        max: i64,
        lease_ms: i64,
        now: i64,
    ) -> StoreResult<Vec<LeasedTask>> {
        let mut out = Vec::new();
        let jobs = sqlx::query_as::<_, (String, i64, String, String, String, String)>(concat!(
            "SELECT j.id, j.concurrency, j.kind, j.params, j.state, j.phase \
             FROM jobs j WHERE j.state IN ('queued', 'running') \
               AND EXISTS (SELECT 1 FROM job_tasks t WHERE t.job_id = j.id \
                  AND t.state = 'ready' AND t.run_after <= $1) \
               AND (j.kind NOT IN ('tree_import', 'tree_export', 'tree_generate') \
                  OR EXISTS (SELECT 1 FROM workers w WHERE w.id = $2 \
                  AND w.kind = 'inprocess')) \
             ORDER BY j.created_at, j.id LIMIT 64",
            " FOR UPDATE OF j SKIP LOCKED"
        ))
        .bind(now)
        .bind(worker_id)
        .fetch_all(&mut **tx)
        .await?;
        for (job_id, concurrency, kind, params, job_state, job_phase) in jobs {
            let want = max - out.len() as i64;
            if want <= 0 {
                break;
            }
            // The job's leased tasks are counted inside the claiming statement, which
            // starts after the job row is locked: on Postgres its snapshot then sees
            // every claim that committed while this one waited for the lock.
            let mut rows = sqlx::query_as::<_, crate::store::rows::LeasedRow>(
                "UPDATE job_tasks SET state = 'leased', attempt = attempt + 1, \
                 lease_owner = $2, lease_expires_at = $3, started_at = $4 \
                 WHERE id IN (SELECT id FROM job_tasks WHERE job_id = $1 \
                   AND state = 'ready' AND run_after <= $4 ORDER BY seq \
                   LIMIT (SELECT CASE WHEN $6 - COUNT(*) <= 0 THEN 0 \
                     WHEN $6 - COUNT(*) < $5 THEN $6 - COUNT(*) ELSE $5 END \
                     FROM job_tasks WHERE job_id = $1 AND state = 'leased')) \
                 RETURNING id, job_id, phase, payload, parent_id, attempt, \
                 lease_expires_at, seq, fan_in",
            )
            .bind(&job_id)
            .bind(worker_id)
            .bind(now + lease_ms)
            .bind(now)
            .bind(want)
            .bind(concurrency)
            .fetch_all(&mut **tx)
            .await?;
            if rows.is_empty() {
                continue;
            }
            rows.sort_by_key(|r| r.seq);
            let fed: Vec<&str> = rows
                .iter()
                .filter(|r| r.fan_in > 0)
                .map(|r| r.id.as_str())
                .collect();
            let mut inputs = if fed.is_empty() {
                Default::default()
            } else {
                Self::inputs_tx(tx, fed.into_iter()).await?
            };
            // The job runs now, and its phase is the furthest one it has reached.
            let furthest = rows
                .iter()
                .max_by_key(|r| phase_rank(&r.phase))
                .map(|r| r.phase.clone())
                .unwrap_or_default();
            if job_state != "running" || phase_rank(&job_phase) < phase_rank(&furthest) {
                sqlx::query(
                    "UPDATE jobs SET state = 'running', \
                     started_at = COALESCE(started_at, $2), \
                     phase = CASE WHEN (CASE phase WHEN 'generate' THEN 0 WHEN 'map' THEN 1 \
                       WHEN 'reduce' THEN 2 ELSE 3 END) < $3 THEN $4 ELSE phase END \
                     WHERE id = $1",
                )
                .bind(&job_id)
                .bind(now)
                .bind(phase_rank(&furthest))
                .bind(&furthest)
                .execute(&mut **tx)
                .await?;
            }
            let params = crate::store::rows::parse_json(&params, "job params")?;
            for row in rows {
                out.push(LeasedTask {
                    inputs: inputs.remove(&row.id).unwrap_or_default(),
                    job_kind: kind.clone(),
                    job_params: params.clone(),
                    payload: crate::store::rows::parse_json(&row.payload, "task payload")?,
                    is_root: row.parent_id.is_none(),
                    attempt: row.attempt,
                    lease_expires_at: row.lease_expires_at.unwrap_or(now + lease_ms),
                    task_id: row.id,
                    job_id: row.job_id,
                    phase: row.phase,
                });
            }
        }
        Ok(out)
    }

    /// The outputs of the tasks feeding each of `ids`, in their order.
    async fn inputs_tx<'a>(
        tx: &mut Tx<'_>,
        ids: impl Iterator<Item = &'a str>,
    ) -> StoreResult<HashMap<String, Vec<serde_json::Value>>> {
        let mut qb = sqlx::QueryBuilder::<sqlx::Postgres>::new(
            "SELECT parent_id, output FROM job_tasks WHERE parent_id IN (",
        );
        let mut list = qb.separated(", ");
        for id in ids {
            list.push_bind(id.to_string());
        }
        // A task is ready only once every input is done: the partial index of done tasks
        // by parent answers this.
        qb.push(") AND state = 'done' ORDER BY parent_id, seq");
        let rows = qb
            .build_query_as::<(String, Option<String>)>()
            .fetch_all(&mut **tx)
            .await?;
        let mut map = HashMap::<String, Vec<serde_json::Value>>::new();
        for (parent, output) in rows {
            let v = match output {
                Some(s) => crate::store::rows::parse_json(&s, "task output")?,
                None => serde_json::Value::Null,
            };
            map.entry(parent).or_default().push(v);
        }
        Ok(map)
    }

    /// Records completions of `worker_id`'s tasks inside `tx`. Each item is fenced on
    /// its own: one whose lease the worker no longer holds is refused with the reason
    /// and changes nothing, while the others go through.
    async fn complete_tx(
        tx: &mut Tx<'_>,
        worker_id: &str,
        items: &[CompletedTask],
        now: i64,
    ) -> StoreResult<Vec<StoreResult<Completion>>> {
        use StoreError;
        let mut results: Vec<Option<StoreResult<Completion>>> =
            items.iter().map(|_| None).collect();
        if items.is_empty() {
            return Ok(Vec::new());
        }
        // Items name their job (the update below checks it); look up the others.
        let unnamed: Vec<&str> = items
            .iter()
            .filter(|it| it.job_id.is_none())
            .map(|it| it.task_id.as_str())
            .collect();
        let mut owners = HashMap::<String, String>::new();
        if !unnamed.is_empty() {
            let mut qb = sqlx::QueryBuilder::<sqlx::Postgres>::new(
                "SELECT id, job_id FROM job_tasks WHERE id IN (",
            );
            let mut list = qb.separated(", ");
            for id in unnamed {
                list.push_bind(id.to_string());
            }
            qb.push(")");
            owners = qb
                .build_query_as::<(String, String)>()
                .fetch_all(&mut **tx)
                .await?
                .into_iter()
                .collect();
        }
        let mut by_job = BTreeMap::<String, Vec<usize>>::new();
        for (i, it) in items.iter().enumerate() {
            match it.job_id.as_ref().or_else(|| owners.get(&it.task_id)) {
                Some(job) => by_job.entry(job.clone()).or_default().push(i),
                None => {
                    results[i] = Some(Err(StoreError::NotFound(format!("task {}", it.task_id))))
                }
            }
        }
        // Jobs in id order, each job row locked before its tasks; the worker's row last.
        let mut finished = 0;
        for (job_id, idx) in by_job {
            if let Some(state) = Self::inactive_state(tx, &job_id).await? {
                // Nothing is accepted; the leases end now rather than at expiry.
                Self::refuse_inactive(tx, worker_id, items, &idx, &job_id, &state, &mut results)
                    .await?;
                continue;
            }
            let done = Self::finish_leased(tx, worker_id, items, &idx, &job_id, now).await?;
            let mut parents = BTreeMap::<String, i64>::new();
            let mut root = None;
            for (id, parent, phase, started_at) in &done {
                let Some(&i) = idx
                    .iter()
                    .find(|&&i| items[i].task_id == *id && results[i].is_none())
                else {
                    continue;
                };
                results[i] = Some(Ok(Completion {
                    job_id: job_id.clone(),
                    phase: phase.clone(),
                    duration_ms: items[i]
                        .run_ms
                        .unwrap_or_else(|| started_at.map(|s| now - s).unwrap_or(0))
                        .max(0),
                    job_finished: false,
                }));
                match parent {
                    Some(p) => *parents.entry(p.clone()).or_default() += 1,
                    None => root = Some(i),
                }
            }
            if !done.is_empty() {
                Self::count_done(tx, &job_id, done.len() as i64, &parents, now).await?;
            }
            finished += done.len() as i64;
            if let Some(i) = root {
                sqlx::query(
                    "UPDATE jobs SET state = 'succeeded', phase = 'done', result = $2, \
                     finished_at = $3 WHERE id = $1",
                )
                .bind(&job_id)
                .bind(items[i].output.to_string())
                .bind(now)
                .execute(&mut **tx)
                .await?;
                if let Some(Ok(c)) = results[i].as_mut() {
                    c.job_finished = true;
                }
            }
            // Say why the others were refused.
            for i in idx {
                if results[i].is_some() {
                    continue;
                }
                let dup = items[..i]
                    .iter()
                    .zip(&results[..i])
                    .any(|(o, r)| o.task_id == items[i].task_id && matches!(r, Some(Ok(_))));
                let lease = crate::jobs::protocol::LeaseRef {
                    worker_id: worker_id.to_string(),
                    attempt: items[i].attempt,
                };
                results[i] = Some(
                    match Self::check_lease(tx, &items[i].task_id, &lease).await {
                        Err(e) => Err(e),
                        Ok(_) if dup => Err(StoreError::Conflict(format!(
                            "task {} appears twice in one batch",
                            items[i].task_id
                        ))),
                        Ok(_) => Err(StoreError::Invalid(format!(
                            "task {} is not a task of job {job_id}",
                            items[i].task_id
                        ))),
                    },
                );
            }
        }
        if finished > 0 {
            sqlx::query("UPDATE workers SET tasks_done = tasks_done + $2 WHERE id = $1")
                .bind(worker_id)
                .bind(finished)
                .execute(&mut **tx)
                .await?;
        }
        Ok(results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(StoreError::Corrupt("unanswered completion".into()))))
            .collect())
    }

    /// Adds `n` to a job's done count and takes each parent's finished children off
    /// its pending count (a parent with none left becomes ready).
    async fn count_done(
        tx: &mut Tx<'_>,
        job_id: &str,
        n: i64,
        parents: &BTreeMap<String, i64>,
        now: i64,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE jobs SET done = done + $2 WHERE id = $1")
            .bind(job_id)
            .bind(n)
            .execute(&mut **tx)
            .await?;
        for (parent, k) in parents {
            sqlx::query(
                "UPDATE job_tasks SET deps_pending = deps_pending - $2, \
                 state = CASE WHEN deps_pending = $2 AND state = 'waiting' \
                   THEN 'ready' ELSE state END, \
                 ready_at = CASE WHEN deps_pending = $2 THEN $3 ELSE ready_at END \
                 WHERE id = $1",
            )
            .bind(parent)
            .bind(*k)
            .bind(now)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    /// Refuses completions for a job that is no longer active, ending their leases.
    async fn refuse_inactive(
        tx: &mut Tx<'_>,
        worker_id: &str,
        items: &[CompletedTask],
        idx: &[usize],
        job_id: &str,
        job_state: &str,
        results: &mut [Option<StoreResult<Completion>>],
    ) -> StoreResult<()> {
        for &i in idx {
            sqlx::query(
                "UPDATE job_tasks SET state = 'cancelled', lease_owner = NULL, \
                 lease_expires_at = NULL WHERE id = $1 AND job_id = $2 \
                 AND state = 'leased' AND lease_owner = $3 AND attempt = $4",
            )
            .bind(&items[i].task_id)
            .bind(job_id)
            .bind(worker_id)
            .bind(items[i].attempt)
            .execute(&mut **tx)
            .await?;
            results[i] = Some(Err(StoreError::Conflict(format!(
                "job {job_id} is {job_state}; its tasks no longer accept results"
            ))));
        }
        Ok(())
    }

    /// The job's state when it is no longer active (locking its row on Postgres).
    async fn inactive_state(tx: &mut Tx<'_>, job_id: &str) -> StoreResult<Option<String>> {
        let (state, _) = Self::lock_job(tx, job_id).await?;
        Ok((!is_active(&state)).then_some(state))
    }

    /// Marks done those of `idx` whose lease `worker_id` still holds at the attempt
    /// given; returns (id, parent, phase, started_at) of each.
    async fn finish_leased(
        tx: &mut Tx<'_>,
        worker_id: &str,
        items: &[CompletedTask],
        idx: &[usize],
        job_id: &str,
        now: i64,
    ) -> StoreResult<Vec<(String, Option<String>, String, Option<i64>)>> {
        // Ids in a plain IN list (and per-item values by CASE) rather than a join with a
        // VALUES list: each row is then looked up by its key, whatever the statistics say
        // about a freshly filled table.
        let case =
            |qb: &mut sqlx::QueryBuilder<'_, sqlx::Postgres>,
             value: &dyn Fn(usize, &mut sqlx::QueryBuilder<'_, sqlx::Postgres>)| {
                qb.push("CASE id");
                for &i in idx {
                    qb.push(" WHEN ");
                    qb.push_bind(items[i].task_id.clone());
                    qb.push(" THEN ");
                    value(i, qb);
                }
                qb.push(" END");
            };
        let mut qb = sqlx::QueryBuilder::<sqlx::Postgres>::new(
            "UPDATE job_tasks SET state = 'done', lease_owner = NULL, \
             lease_expires_at = NULL, output = ",
        );
        case(&mut qb, &|i, qb| {
            qb.push_bind(items[i].output.to_string());
        });
        qb.push(", finished_at = ");
        qb.push_bind(now);
        qb.push(", worker_id = ");
        qb.push_bind(worker_id.to_string());
        qb.push(" WHERE id IN (");
        let mut list = qb.separated(", ");
        for &i in idx {
            list.push_bind(items[i].task_id.clone());
        }
        qb.push(") AND job_id = ");
        qb.push_bind(job_id.to_string());
        qb.push(" AND state = 'leased' AND lease_owner = ");
        qb.push_bind(worker_id.to_string());
        qb.push(" AND attempt = ");
        case(&mut qb, &|i, qb| {
            qb.push_bind(items[i].attempt);
        });
        qb.push(" RETURNING id, parent_id, phase, started_at");
        Ok(qb
            .build_query_as::<(String, Option<String>, String, Option<i64>)>()
            .fetch_all(&mut **tx)
            .await?)
    }
}
