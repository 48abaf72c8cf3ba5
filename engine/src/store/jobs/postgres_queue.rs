//! Postgres's lease path: a claim, and a worker's batch of completions with its claim for
//! more work, are each one call of a lease function (`postgres/functions.sql`: `orchard_claim`,
//! `orchard_report`), so a job's row lock is held only while the database works, never
//! across round trips. Both lock a job's row before its tasks, jobs in id order, and the
//! worker's row last — the order every failure, release and reaper pass follows too, so
//! none can deadlock.

use super::{BATCH_TARGET_US, MAX_CLAIM_TASKS, Want};
use crate::store::postgres::PgStore;
use crate::store::{BatchOutcome, Completion, StoreError, StoreResult};
use shared::jobs::protocol::{CompletedTask, LeaseRef, LeasedTask};
use std::collections::{BTreeMap, HashMap};

/// A task as `orchard_claim` leased it.
#[derive(sqlx::FromRow)]
struct ClaimedRow {
    id: String,
    job_id: String,
    phase: String,
    payload: String,
    fan_out: i64,
    attempt: i64,
    lease_expires_at: Option<i64>,
    job_kind: String,
    job_params: String,
    inputs: Option<String>,
    lease_batch: Option<String>,
}

/// A row of `orchard_report`: a task its completions marked done (with its phase and start,
/// and whether it finished its job), a job that no longer accepts results (its state, no task), a task its claim
/// leased (`claimed`), or, claimed but with no task, the sign that the claim may have left
/// work behind.
#[derive(sqlx::FromRow)]
struct ReportRow {
    claimed: bool,
    id: Option<String>,
    job_id: Option<String>,
    finished: Option<bool>,
    fan_out: Option<i64>,
    phase: Option<String>,
    started_at: Option<i64>,
    job_state: Option<String>,
    payload: Option<String>,
    attempt: Option<i64>,
    lease_expires_at: Option<i64>,
    job_kind: Option<String>,
    job_params: Option<String>,
    inputs: Option<String>,
    lease_batch: Option<String>,
}

impl ReportRow {
    fn leased(self) -> StoreResult<ClaimedRow> {
        let corrupt = || StoreError::Corrupt("claimed task without its columns".into());
        Ok(ClaimedRow {
            id: self.id.ok_or_else(corrupt)?,
            job_id: self.job_id.ok_or_else(corrupt)?,
            phase: self.phase.ok_or_else(corrupt)?,
            payload: self.payload.ok_or_else(corrupt)?,
            fan_out: self.fan_out.ok_or_else(corrupt)?,
            attempt: self.attempt.ok_or_else(corrupt)?,
            lease_expires_at: self.lease_expires_at,
            job_kind: self.job_kind.ok_or_else(corrupt)?,
            job_params: self.job_params.ok_or_else(corrupt)?,
            inputs: self.inputs,
            lease_batch: self.lease_batch,
        })
    }
}

/// The functions raise `P0002` for a worker or job that does not exist.
fn missing(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.code().as_deref() == Some("P0002") => {
            StoreError::NotFound(db.message().to_string())
        }
        _ => StoreError::Database(e),
    }
}

/// The tasks a claim leased, as workers receive them.
fn leased_tasks(rows: Vec<ClaimedRow>, lease_ms: i64, now: i64) -> StoreResult<Vec<LeasedTask>> {
    let mut params = HashMap::<String, serde_json::Value>::new();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let job_params = match params.get(&row.job_id) {
            Some(p) => p.clone(),
            None => {
                let p = super::parse_json(&row.job_params, "job params")?;
                params.insert(row.job_id.clone(), p.clone());
                p
            }
        };
        let inputs = match row.inputs.as_deref() {
            Some(s) => serde_json::from_str(s)
                .map_err(|e| StoreError::Corrupt(format!("task inputs: {e}")))?,
            None => Vec::new(),
        };
        out.push(LeasedTask {
            batch: row.lease_batch.unwrap_or_else(|| row.id.clone()),
            inputs,
            job_kind: row.job_kind,
            job_params,
            payload: super::parse_json(&row.payload, "task payload")?,
            is_root: row.fan_out == 0,
            attempt: row.attempt,
            lease_expires_at: row.lease_expires_at.unwrap_or(now + lease_ms),
            task_id: row.id,
            job_id: row.job_id,
            phase: row.phase,
        });
    }
    Ok(out)
}

impl PgStore {
    /// Leases up to `want.batches` batches of ready tasks to `worker_id` (recording its sign
    /// of life): jobs oldest first, tasks in plan order, never more batches of a job than
    /// its concurrency. An unknown worker is `NotFound`.
    pub(super) async fn claim_impl(
        &self,
        worker_id: &str,
        want: Want,
        lease_ms: i64,
        now: i64,
    ) -> StoreResult<Vec<LeasedTask>> {
        let (limit_handlers, limit_keys, limit_ns) = want.limit_arrays();
        let rows = sqlx::query_as::<_, ClaimedRow>(
            "SELECT id, job_id, phase, payload, fan_out, attempt, lease_expires_at, \
             job_kind, job_params, inputs, lease_batch \
             FROM orchard_claim($1, $2, $3, $4, true, $5, $6, $7, $8, $9, $10, $11) \
             WHERE id IS NOT NULL",
        )
        .bind(worker_id)
        .bind(want.batches)
        .bind(lease_ms)
        .bind(now)
        .bind(want.batch_max())
        .bind(BATCH_TARGET_US)
        .bind(MAX_CLAIM_TASKS)
        .bind(&want.handlers)
        .bind(&limit_handlers)
        .bind(&limit_keys)
        .bind(&limit_ns)
        .fetch_all(&self.write)
        .await
        .map_err(missing)?;
        leased_tasks(rows, lease_ms, now)
    }

    /// Records a batch of completions, each item fenced on its own (one whose lease the
    /// worker no longer holds is refused with the reason and changes nothing, while the
    /// others go through), and leases up to `claim` more tasks in the same transaction.
    pub(super) async fn complete_batch_impl(
        &self,
        worker_id: &str,
        items: &[CompletedTask],
        claim: Want,
        lease_ms: i64,
        now: i64,
    ) -> StoreResult<BatchOutcome> {
        let mut results: Vec<Option<StoreResult<Completion>>> =
            items.iter().map(|_| None).collect();
        // Items name their job (the function checks it); look up the others.
        let unnamed: Vec<String> = items
            .iter()
            .filter(|it| it.job_id.is_none())
            .map(|it| it.task_id.clone())
            .collect();
        let owners: HashMap<String, String> = if unnamed.is_empty() {
            HashMap::new()
        } else {
            sqlx::query_as::<_, (String, String)>(
                "SELECT id, job_id FROM job_tasks WHERE id = ANY($1)",
            )
            .bind(&unnamed)
            .fetch_all(&self.write)
            .await?
            .into_iter()
            .collect()
        };
        // The items whose job is known, by index, and their columns for the function.
        let mut named = Vec::new();
        let (mut ids, mut jobs, mut attempts, mut outputs) = (vec![], vec![], vec![], vec![]);
        let (mut started, mut runs): (Vec<Option<i64>>, Vec<Option<i64>>) = (vec![], vec![]);
        let (mut spawn_of, mut spawn_ids, mut spawn_phases, mut spawn_payloads) =
            (vec![], vec![], vec![], vec![]);
        let mut spawn_handlers: Vec<Option<String>> = vec![];
        for (i, it) in items.iter().enumerate() {
            match it.job_id.as_ref().or_else(|| owners.get(&it.task_id)) {
                Some(job) => {
                    named.push((i, job.clone()));
                    ids.push(it.task_id.clone());
                    jobs.push(job.clone());
                    attempts.push(it.attempt);
                    outputs.push(it.output.to_string());
                    started.push(it.started_us);
                    runs.push(it.run_us);
                    for t in &it.spawn {
                        spawn_of.push(it.task_id.clone());
                        spawn_ids.push(uuid::Uuid::now_v7().to_string());
                        spawn_phases.push(t.phase.clone());
                        spawn_payloads.push(t.payload.to_string());
                        spawn_handlers.push(t.handler.clone());
                    }
                }
                None => {
                    results[i] = Some(Err(StoreError::NotFound(format!("task {}", it.task_id))))
                }
            }
        }
        let (limit_handlers, limit_keys, limit_ns) = claim.limit_arrays();
        let rows = sqlx::query_as::<_, ReportRow>(
            "SELECT claimed, id, job_id, finished, fan_out, phase, started_at, job_state, payload, \
             attempt, lease_expires_at, job_kind, job_params, inputs, lease_batch \
             FROM orchard_report($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
               $14, $15, $16, $17, $18, $19, $20, $21, $22)",
        )
        .bind(worker_id)
        .bind(ids)
        .bind(jobs)
        .bind(attempts)
        .bind(outputs)
        .bind(now)
        .bind(claim.batches)
        .bind(lease_ms)
        .bind(started)
        .bind(runs)
        .bind(claim.batch_max())
        .bind(BATCH_TARGET_US)
        .bind(MAX_CLAIM_TASKS)
        .bind((!spawn_of.is_empty()).then_some(spawn_of))
        .bind(spawn_ids)
        .bind(spawn_phases)
        .bind(spawn_payloads)
        .bind(spawn_handlers)
        .bind(&claim.handlers)
        .bind(&limit_handlers)
        .bind(&limit_keys)
        .bind(&limit_ns)
        .fetch_all(&self.write)
        .await
        .map_err(missing)?;
        let mut inactive = BTreeMap::<String, String>::new();
        let mut leased = Vec::new();
        let mut more = false;
        for row in rows {
            if row.claimed {
                if row.id.is_none() {
                    more = true;
                } else {
                    leased.push(row.leased()?);
                }
                continue;
            }
            let job_id = row
                .job_id
                .ok_or_else(|| StoreError::Corrupt("completion without its job".into()))?;
            let (Some(id), None) = (row.id, &row.job_state) else {
                inactive.insert(job_id, row.job_state.unwrap_or_default());
                continue;
            };
            // A task named twice counts once, for its first entry.
            let Some(&(i, _)) = named
                .iter()
                .find(|(i, j)| items[*i].task_id == id && *j == job_id && results[*i].is_none())
            else {
                continue;
            };
            results[i] = Some(Ok(Completion {
                job_id,
                phase: row.phase.unwrap_or_default(),
                duration_ms: items[i]
                    .run_ms
                    .unwrap_or_else(|| row.started_at.map(|s| now - s).unwrap_or(0))
                    .max(0),
                job_finished: row.finished.unwrap_or(false),
            }));
        }
        self.explain_refusals(worker_id, items, &named, &inactive, &mut results)
            .await?;
        Ok(BatchOutcome {
            completed: results
                .into_iter()
                .map(|r| {
                    r.unwrap_or_else(|| Err(StoreError::Corrupt("unanswered completion".into())))
                })
                .collect(),
            claimed: leased_tasks(leased, lease_ms, now)?,
            more,
        })
    }

    /// Says why the completions that did not go through were refused.
    async fn explain_refusals(
        &self,
        worker_id: &str,
        items: &[CompletedTask],
        named: &[(usize, String)],
        inactive: &BTreeMap<String, String>,
        results: &mut [Option<StoreResult<Completion>>],
    ) -> StoreResult<()> {
        let refused: Vec<&(usize, String)> = named
            .iter()
            .filter(|(i, _)| results[*i].is_none())
            .collect();
        if refused.is_empty() {
            return Ok(());
        }
        let mut tx = self.write.begin().await?;
        for (i, job_id) in refused {
            let (i, it) = (*i, &items[*i]);
            if let Some(state) = inactive.get(job_id) {
                results[i] = Some(Err(StoreError::Conflict(format!(
                    "job {job_id} is {state}; its tasks no longer accept results"
                ))));
                continue;
            }
            let dup = items[..i]
                .iter()
                .zip(&results[..i])
                .any(|(o, r)| o.task_id == it.task_id && matches!(r, Some(Ok(_))));
            let lease = LeaseRef {
                worker_id: worker_id.to_string(),
                attempt: it.attempt,
            };
            results[i] = Some(
                match super::postgres::check_lease(&mut tx, &it.task_id, &lease).await {
                    Err(e) => Err(e),
                    Ok(_) if dup => Err(StoreError::Conflict(format!(
                        "task {} appears twice in one batch",
                        it.task_id
                    ))),
                    Ok(_) => Err(StoreError::Invalid(format!(
                        "task {} is not a task of job {job_id}",
                        it.task_id
                    ))),
                },
            );
        }
        tx.commit().await?;
        Ok(())
    }
}
