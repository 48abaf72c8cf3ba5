//! SQLite's lease path: claims and completions, each a plain function on the writer's
//! connection (`writer.rs`), which runs it inside the write transaction of its batch. The
//! connection's prepared statements live as long as the store.
//!
//! The rules are those of the Postgres path (`postgres/functions.sql`), and the store conformance
//! suite runs the same cases on both: each completion is fenced on its own (holder and
//! attempt), a completion for a job no longer active is refused and ends its lease, a claim
//! never leases more than a job's concurrency.

use super::{MAX_CLAIM_TASKS, Want, is_active, sql};
use crate::store::sqlite::sql as lite;
use crate::store::{BatchOutcome, Completion, NewJob, StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension};
use shared::jobs::model::TaskState;
use shared::jobs::protocol::{CompletedTask, LeasedTask};
use std::collections::BTreeMap;

/// Jobs with a ready task, oldest first; server-only jobs only for in-process workers.
const CLAIM_JOBS: &str = "SELECT j.id, j.concurrency, j.kind, j.params, j.state, j.phase_seq, \
       j.task_us \
     FROM jobs j WHERE j.state IN ('queued', 'running') \
       AND EXISTS (SELECT 1 FROM job_tasks t WHERE t.job_id = j.id \
          AND t.state = 'ready' AND t.run_after <= ?1 \
          AND (t.handler IS NULL OR t.handler IN (SELECT value FROM json_each(?3)))) \
       AND (j.server_only = 0 \
          OR EXISTS (SELECT 1 FROM workers w WHERE w.id = ?2 AND w.kind = 'inprocess')) \
     ORDER BY j.created_at, j.id LIMIT 64";

/// The batches a job has leased (a task leased before batches counts as one of its own).
const LEASED_BATCHES: &str = "SELECT COUNT(DISTINCT COALESCE(lease_batch, id)) \
     FROM job_tasks WHERE job_id = ?1 AND state = 'leased'";

/// A job's next ready tasks, in plan order, with the handler each needs.
const NEXT_READY: &str = "SELECT id, handler FROM job_tasks WHERE job_id = ?1 \
     AND state = 'ready' AND run_after <= ?2 \
     AND (handler IS NULL OR handler IN (SELECT value FROM json_each(?4))) ORDER BY seq LIMIT ?3";

/// Leases one ready task, in batch ?5, under fleet limit key ?6 (NULL: none).
const LEASE_TASK: &str = "UPDATE job_tasks SET state = 'leased', attempt = attempt + 1, \
     lease_owner = ?2, lease_expires_at = ?3, started_at = ?4, lease_batch = ?5, limit_key = ?6 \
     WHERE id = ?1 AND state = 'ready' \
     RETURNING phase, payload, fan_out, attempt, fan_in, seq";

/// Tasks leased under a fleet limit's key, across every job and worker.
const LIMITED_RUNNING: &str =
    "SELECT COUNT(*) FROM job_tasks WHERE limit_key = ?1 AND state = 'leased'";

/// Marks a task done if this worker holds its lease at this attempt and its job is active.
const FINISH: &str = "UPDATE job_tasks SET state = 'done', lease_owner = NULL, \
     lease_expires_at = NULL, output = ?5, finished_at = ?6, worker_id = ?3, \
     run_started_us = ?7, run_us = ?8 \
     WHERE id = ?1 AND job_id = ?2 AND state = 'leased' AND lease_owner = ?3 \
       AND attempt = ?4 \
       AND EXISTS (SELECT 1 FROM jobs WHERE id = ?2 AND state IN ('queued', 'running')) \
     RETURNING fan_out, phase, started_at";

/// Takes a task's finished inputs (?2) off its pending count; with none left it is ready.
const INPUTS_DONE: &str = "UPDATE job_tasks SET deps_pending = deps_pending - ?2, \
     state = CASE WHEN deps_pending = ?2 AND state = 'waiting' THEN 'ready' ELSE state END, \
     ready_at = CASE WHEN deps_pending = ?2 THEN ?3 ELSE ready_at END \
     WHERE id = ?1";

/// Inserts a new job and its tasks (`ids[i]` is task `i`'s id) with the edges of its graph.
pub(super) fn insert_job(
    tx: &Connection,
    job_id: &str,
    job: &NewJob,
    ids: &[String],
    now: i64,
) -> StoreResult<()> {
    tx.prepare_cached(lite(sql::INSERT_JOB))?.execute((
        job_id,
        job.kind,
        job.params.to_string(),
        job.phase,
        job.concurrency,
        job.max_attempts,
        job.tasks.len() as i64,
        now,
        job.server_only,
        job.replayed_from.as_deref(),
        job.tasks.iter().filter(|t| t.after_all).count() as i64,
    ))?;
    let fan_out = crate::store::jobs::plan::fan_out(&job.tasks);
    let mut insert = tx.prepare_cached(lite(sql::INSERT_TASK_SQLITE))?;
    let mut edge = tx.prepare_cached(lite(sql::INSERT_DEP_SQLITE))?;
    for (i, t) in job.tasks.iter().enumerate() {
        let ready = t.deps.is_empty() && !t.after_all;
        insert.execute((
            &ids[i],
            job_id,
            t.phase,
            i as i64,
            t.payload.to_string(),
            if ready {
                TaskState::Ready
            } else {
                TaskState::Waiting
            }
            .as_str(),
            t.deps.len() as i64,
            fan_out[i],
            ready.then_some(now),
            t.handler.as_deref(),
            t.retry.and_then(|r| r.max_attempts),
            t.retry.and_then(|r| r.backoff_base_ms),
            t.retry.and_then(|r| r.backoff_max_ms),
            t.after_all,
        ))?;
        for (ord, &d) in t.deps.iter().enumerate() {
            edge.execute((job_id, &ids[i], &ids[d], ord as i64, 0))?;
        }
    }
    Ok(())
}

/// Records the worker's sign of life and leases it up to `max` tasks; `NotFound` for an
/// unknown worker.
pub(super) fn claim(
    tx: &Connection,
    worker_id: &str,
    want: Want,
    lease_ms: i64,
    now: i64,
) -> StoreResult<Vec<LeasedTask>> {
    if !touch_worker(tx, worker_id, now)? {
        return Err(StoreError::NotFound(format!("worker {worker_id}")));
    }
    Ok(claim_tx(tx, worker_id, &want, lease_ms, now)?.0)
}

/// Records a worker's completions (each fenced on its own), then leases it up to `claim`
/// more tasks, all in one transaction.
pub(super) fn complete_batch(
    tx: &Connection,
    worker_id: &str,
    items: &[CompletedTask],
    claim: Want,
    lease_ms: i64,
    now: i64,
) -> StoreResult<BatchOutcome> {
    let completed = complete_tx(tx, worker_id, items, now)?;
    // A worker that held a lease exists; otherwise look it up (and record its sign of
    // life): an unknown worker gets no new work.
    let (mut claimed, mut more) = (Vec::new(), false);
    if claim.batches > 0
        && (completed.iter().any(|c| c.is_ok()) || touch_worker(tx, worker_id, now)?)
    {
        (claimed, more) = claim_tx(tx, worker_id, &claim, lease_ms, now)?;
    }
    Ok(BatchOutcome {
        completed,
        claimed,
        more,
    })
}

fn touch_worker(tx: &Connection, worker_id: &str, now: i64) -> StoreResult<bool> {
    let n = tx
        .prepare_cached("UPDATE workers SET last_seen_at = ?2 WHERE id = ?1")?
        .execute((worker_id, now))?;
    Ok(n > 0)
}

fn json(s: &str, what: &str) -> StoreResult<serde_json::Value> {
    super::parse_json(s, what)
}

/// Leases up to `want.batches` batches of ready tasks: jobs oldest first, tasks in plan
/// order, never more batches of a job than its concurrency. Also says whether the claim may
/// have left work behind (it stopped at what it was asked for, or took all it asked of a
/// job that had room for more).
fn claim_tx(
    tx: &Connection,
    worker_id: &str,
    want: &Want,
    lease_ms: i64,
    now: i64,
) -> StoreResult<(Vec<LeasedTask>, bool)> {
    type JobRow = (String, i64, String, String, String, i64, Option<i64>);
    // The handlers offered, once for every statement of this claim.
    let offers = want.handlers_json();
    let jobs = tx
        .prepare_cached(CLAIM_JOBS)?
        .query_map((now, worker_id, &offers), |r| JobRow::try_from(r))?
        .collect::<Result<Vec<JobRow>, _>>()?;
    let mut out = Vec::new();
    let (mut batches, mut more) = (0, false);
    let mut lease = tx.prepare_cached(LEASE_TASK)?;
    // Room left under each fleet limit's key this claim has looked at.
    let mut rooms = std::collections::HashMap::<String, i64>::new();
    for (job_id, concurrency, kind, params, job_state, phase_seq, task_us) in jobs {
        if batches >= want.batches || out.len() as i64 >= MAX_CLAIM_TASKS {
            more = true;
            break;
        }
        let leased: i64 = tx
            .prepare_cached(LEASED_BATCHES)?
            .query_row([&job_id], |r| r.get(0))?;
        let room = concurrency - leased;
        let n = (want.batches - batches).min(room);
        if n <= 0 {
            continue;
        }
        let size = want.batch_size(task_us);
        let limit = (n * size).min(MAX_CLAIM_TASKS - out.len() as i64);
        let ready = tx
            .prepare_cached(NEXT_READY)?
            .query_map((&job_id, now, limit, &offers), |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let found = ready.len() as i64;
        // A task of a handler under a fleet limit is taken only while its key has room.
        let mut ids = Vec::with_capacity(ready.len());
        let mut keys = Vec::with_capacity(ready.len());
        for (id, handler) in ready {
            let key = match want.limit_of(handler.as_deref()) {
                None => None,
                Some(l) => {
                    let left = match rooms.get(&l.key) {
                        Some(left) => *left,
                        None => {
                            let used: i64 = tx
                                .prepare_cached(LIMITED_RUNNING)?
                                .query_row([&l.key], |r| r.get(0))?;
                            i64::from(l.n) - used
                        }
                    };
                    if left <= 0 {
                        rooms.insert(l.key.clone(), 0);
                        continue;
                    }
                    rooms.insert(l.key.clone(), left - 1);
                    Some(l.key.clone())
                }
            };
            ids.push(id);
            keys.push(key);
        }
        if ids.is_empty() {
            continue;
        }
        more |= found == limit && (n < room || limit < n * size);
        let params = json(&params, "job params")?;
        let mut furthest: Option<(i64, String)> = None;
        for (batch, batch_keys) in ids.chunks(size as usize).zip(keys.chunks(size as usize)) {
            batches += 1;
            for (id, key) in batch.iter().zip(batch_keys) {
                type TaskRow = (String, String, i64, i64, i64, i64);
                let Some((phase, payload, fan_out, attempt, fan_in, seq)) = lease
                    .query_row((id, worker_id, now + lease_ms, now, &batch[0], key), |r| {
                        TaskRow::try_from(r)
                    })
                    .optional()?
                else {
                    continue;
                };
                let inputs = if fan_in > 0 {
                    inputs(tx, &job_id, id)?
                } else {
                    Vec::new()
                };
                if furthest.as_ref().is_none_or(|(s, _)| seq > *s) {
                    furthest = Some((seq, phase.clone()));
                }
                out.push(LeasedTask {
                    inputs,
                    job_kind: kind.clone(),
                    job_params: params.clone(),
                    payload: json(&payload, "task payload")?,
                    is_root: fan_out == 0,
                    attempt,
                    lease_expires_at: now + lease_ms,
                    task_id: id.clone(),
                    job_id: job_id.clone(),
                    batch: batch[0].clone(),
                    phase,
                });
            }
        }
        // The job runs now, and shows the phase of the furthest task it has leased.
        let Some((seq, phase)) = furthest else {
            continue;
        };
        if job_state != "running" || phase_seq < seq {
            tx.prepare_cached(lite(sql::JOB_LEASED))?
                .execute((&job_id, now, seq, phase))?;
        }
    }
    Ok((out, more))
}

/// Adds the tasks a completion spawned to its job, after its last task: each is ready, and
/// each task that waits on the completed one waits on them too, their outputs following the
/// completed task's own in its place among its inputs (the same rule as `orchard_spawn` in
/// `postgres/functions.sql`).
fn spawn(
    tx: &Connection,
    job_id: &str,
    it: &CompletedTask,
    fan_out: i64,
    now: i64,
) -> StoreResult<()> {
    let n = it.spawn.len() as i64;
    let total: i64 = tx
        .prepare_cached(lite(sql::JOB_GREW))?
        .query_row((job_id, n), |r| r.get(0))?;
    let first = total - n;
    let mut insert = tx.prepare_cached(lite(sql::INSERT_SPAWNED_SQLITE))?;
    let mut ids = Vec::with_capacity(it.spawn.len());
    for (i, t) in it.spawn.iter().enumerate() {
        let id = uuid::Uuid::now_v7().to_string();
        insert.execute((
            &id,
            job_id,
            &t.phase,
            first + i as i64,
            t.payload.to_string(),
            fan_out,
            now,
            t.handler.as_deref(),
            &it.task_id,
        ))?;
        ids.push(id);
    }
    if fan_out == 0 {
        return Ok(());
    }
    let waiting = tx
        .prepare_cached(lite(sql::WAITING_ON))?
        .query_map([&it.task_id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut edge = tx.prepare_cached(lite(sql::INSERT_DEP_SQLITE))?;
    let mut added = tx.prepare_cached(lite(sql::INPUTS_ADDED))?;
    for (task, ord) in waiting {
        for (sub, id) in ids.iter().enumerate() {
            edge.execute((job_id, &task, id, ord, sub as i64 + 1))?;
        }
        added.execute((&task, n))?;
    }
    Ok(())
}

/// The outputs (as stored) a query of one job's tasks reads.
fn outputs_of(tx: &Connection, query: &str, job_id: &str) -> StoreResult<Vec<Option<String>>> {
    let mut stmt = tx.prepare_cached(query)?;
    let rows = stmt
        .query_map([job_id], |r| r.get::<_, Option<String>>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// The outputs of the tasks `id` waits on, in input order.
fn inputs(tx: &Connection, job_id: &str, id: &str) -> StoreResult<Vec<serde_json::Value>> {
    let mut stmt = tx.prepare_cached(lite(sql::TASK_INPUTS))?;
    let outputs = stmt
        .query_map([job_id, id], |r| r.get::<_, Option<String>>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    outputs
        .into_iter()
        .map(|o| match o {
            Some(s) => json(&s, "task output"),
            None => Ok(serde_json::Value::Null),
        })
        .collect()
}

/// Records completions of `worker_id`'s tasks. Each item is fenced on its own: one whose
/// lease the worker no longer holds is refused with the reason and changes nothing, while
/// the others go through.
fn complete_tx(
    tx: &Connection,
    worker_id: &str,
    items: &[CompletedTask],
    now: i64,
) -> StoreResult<Vec<StoreResult<Completion>>> {
    let mut results: Vec<Option<StoreResult<Completion>>> = items.iter().map(|_| None).collect();
    // Items name their job (the update checks it); look up the others.
    let mut by_job = BTreeMap::<String, Vec<usize>>::new();
    {
        let mut owner = tx.prepare_cached("SELECT job_id FROM job_tasks WHERE id = ?1")?;
        for (i, it) in items.iter().enumerate() {
            let job = match &it.job_id {
                Some(j) => Some(j.clone()),
                None => owner
                    .query_row([&it.task_id], |r| r.get::<_, String>(0))
                    .optional()?,
            };
            match job {
                Some(j) => by_job.entry(j).or_default().push(i),
                None => {
                    results[i] = Some(Err(StoreError::NotFound(format!("task {}", it.task_id))))
                }
            }
        }
    }
    let mut finish = tx.prepare_cached(FINISH)?;
    let mut finished = 0;
    for (job_id, idx) in by_job {
        let mut dependents = BTreeMap::<String, i64>::new();
        let mut last = None;
        let mut accepted = 0;
        let (mut run_sum, mut runs) = (0i64, 0i64);
        for &i in &idx {
            let it = &items[i];
            let row = finish
                .query_row(
                    (
                        &it.task_id,
                        &job_id,
                        worker_id,
                        it.attempt,
                        it.output.to_string(),
                        now,
                        it.started_us,
                        it.run_us,
                    ),
                    |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, Option<i64>>(2)?,
                        ))
                    },
                )
                .optional()?;
            let Some((fan_out, phase, started_at)) = row else {
                continue;
            };
            accepted += 1;
            if let Some(us) = it.run_us {
                run_sum += us.max(0);
                runs += 1;
            }
            results[i] = Some(Ok(Completion {
                job_id: job_id.clone(),
                phase,
                duration_ms: it
                    .run_ms
                    .unwrap_or_else(|| started_at.map(|s| now - s).unwrap_or(0))
                    .max(0),
                job_finished: false,
            }));
            if !it.spawn.is_empty() {
                spawn(tx, &job_id, it, fan_out, now)?;
            }
            if fan_out > 0 {
                let mut waiting = tx.prepare_cached(lite(sql::DEPENDENTS))?;
                for d in waiting.query_map([&it.task_id], |r| r.get::<_, String>(0))? {
                    *dependents.entry(d?).or_default() += 1;
                }
            }
            last = Some(i);
        }
        if accepted < idx.len() {
            let state = tx
                .prepare_cached("SELECT state FROM jobs WHERE id = ?1")?
                .query_row([&job_id], |r| r.get::<_, String>(0))
                .optional()?
                .ok_or_else(|| StoreError::NotFound(format!("job {job_id}")))?;
            if !is_active(&state) {
                // Nothing was accepted (the update requires an active job); the leases end
                // now rather than at expiry.
                refuse_inactive(tx, worker_id, items, &idx, &job_id, &state, &mut results)?;
                continue;
            }
        }
        finished += accepted;
        if accepted > 0 {
            let mean_us = (runs > 0).then(|| run_sum / runs);
            let (done, total, closers): (i64, i64, i64) = tx
                .prepare_cached(lite(sql::JOB_TASKS_DONE))?
                .query_row((&job_id, accepted as i64, mean_us), |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?;
            // Every task but the closing ones done: they may run now.
            if closers > 0 && done + closers == total {
                tx.prepare_cached(lite(sql::CLOSERS_READY))?
                    .execute((&job_id, now))?;
            }
            let mut inputs_done = tx.prepare_cached(INPUTS_DONE)?;
            for (task, k) in &dependents {
                inputs_done.execute((task, k, now))?;
            }
            // Every task done: the job is, with its sinks' outputs as its result.
            if done >= total {
                let sinks = if closers > 0 {
                    sql::CLOSER_OUTPUTS
                } else {
                    sql::SINK_OUTPUTS
                };
                let result = super::job_result(outputs_of(tx, lite(sinks), &job_id)?)?;
                tx.prepare_cached(lite(sql::JOB_SUCCEEDED))?.execute((
                    &job_id,
                    result.to_string(),
                    now,
                ))?;
                if let Some(Ok(c)) = last.and_then(|i| results[i].as_mut()) {
                    c.job_finished = true;
                }
            }
        }
        // Say why the others were refused.
        for i in idx {
            if results[i].is_none() {
                results[i] = Some(refusal(tx, worker_id, items, &results, i, &job_id)?);
            }
        }
    }
    if finished > 0 {
        tx.prepare_cached("UPDATE workers SET tasks_done = tasks_done + ?2 WHERE id = ?1")?
            .execute((worker_id, finished as i64))?;
    }
    Ok(results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(StoreError::Corrupt("unanswered completion".into()))))
        .collect())
}

/// Why item `i` of a batch for an active job was not accepted.
fn refusal(
    tx: &Connection,
    worker_id: &str,
    items: &[CompletedTask],
    results: &[Option<StoreResult<Completion>>],
    i: usize,
    job_id: &str,
) -> StoreResult<StoreResult<Completion>> {
    let it = &items[i];
    let row = tx
        .prepare_cached("SELECT state, lease_owner, attempt FROM job_tasks WHERE id = ?1")?
        .query_row([&it.task_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })
        .optional()?;
    let Some((state, owner, attempt)) = row else {
        return Ok(Err(StoreError::NotFound(format!("task {}", it.task_id))));
    };
    if state != "leased" || owner.as_deref() != Some(worker_id) || attempt != it.attempt {
        return Ok(Err(super::lease_conflict(
            &it.task_id,
            worker_id,
            it.attempt,
            &state,
            attempt,
        )));
    }
    let dup = items[..i]
        .iter()
        .zip(&results[..i])
        .any(|(o, r)| o.task_id == it.task_id && matches!(r, Some(Ok(_))));
    Ok(Err(if dup {
        StoreError::Conflict(format!("task {} appears twice in one batch", it.task_id))
    } else {
        StoreError::Invalid(format!("task {} is not a task of job {job_id}", it.task_id))
    }))
}

/// Refuses completions for a job that is no longer active, ending their leases.
fn refuse_inactive(
    tx: &Connection,
    worker_id: &str,
    items: &[CompletedTask],
    idx: &[usize],
    job_id: &str,
    job_state: &str,
    results: &mut [Option<StoreResult<Completion>>],
) -> StoreResult<()> {
    let mut end = tx.prepare_cached(
        "UPDATE job_tasks SET state = 'cancelled', lease_owner = NULL, \
         lease_expires_at = NULL WHERE id = ?1 AND job_id = ?2 \
         AND state = 'leased' AND lease_owner = ?3 AND attempt = ?4",
    )?;
    for &i in idx {
        end.execute((&items[i].task_id, job_id, worker_id, items[i].attempt))?;
        results[i] = Some(Err(StoreError::Conflict(format!(
            "job {job_id} is {job_state}; its tasks no longer accept results"
        ))));
    }
    Ok(())
}
