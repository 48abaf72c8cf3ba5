//! The jobs' and the queue's SQL that both backends run (parameters numbered `$1`, `$2`,
//! …). Where they differ it says so here: on Postgres a transaction that decides from a
//! job's state locks the job's row first (`…_LOCKED`), the lock every lease change takes
//! before its tasks' rows, so none can deadlock; SQLite's writes are serial already. The
//! claim and the completion of a batch are each backend's own: Postgres functions
//! (`postgres/functions.sql`) and SQLite statements (`jobs/sqlite_queue.rs`).

pub const LIST_JOBS: &str = "SELECT id, kind, state, phase, params, concurrency, max_attempts, \
     done, total, work_done, work_total, result, error, created_at, started_at, finished_at, \
     replayed_from FROM jobs \
     WHERE (CAST($2 AS TEXT) IS NULL OR kind = $2) AND (CAST($3 AS TEXT) IS NULL OR state = $3) \
       AND (CAST($4 AS TEXT) IS NULL \
         OR EXISTS (SELECT 1 FROM job_tasks t WHERE t.job_id = jobs.id AND t.handler = $4)) \
     ORDER BY created_at DESC, id DESC LIMIT $1";

pub const GET_JOB: &str = "SELECT id, kind, state, phase, params, concurrency, max_attempts, \
     done, total, work_done, work_total, result, error, created_at, started_at, finished_at, \
     replayed_from FROM jobs WHERE id = $1";

pub const INSERT_JOB: &str = "INSERT INTO jobs (id, kind, params, state, phase, concurrency, \
     max_attempts, done, total, created_at, server_only, replayed_from, closers) \
     VALUES ($1, $2, $3, 'queued', $4, $5, $6, 0, $7, $8, $9, $10, $11)";

pub const JOB_STATE: &str = "SELECT state, max_attempts FROM jobs WHERE id = $1";
pub const JOB_STATE_LOCKED: &str = "SELECT state, max_attempts FROM jobs WHERE id = $1 FOR UPDATE";

/// A task's own retry policy (each NULL where it has none): most attempts, backoff base and
/// cap.
pub const TASK_RETRY_POLICY: &str =
    "SELECT max_attempts, backoff_base_ms, backoff_max_ms FROM job_tasks WHERE id = $1";

pub const JOB_OF_TASK: &str = "SELECT job_id FROM job_tasks WHERE id = $1";

/// A task's lease, for fencing: its state, holder, attempt, phase and place in the plan.
pub const LEASE: &str =
    "SELECT state, lease_owner, attempt, phase, seq FROM job_tasks WHERE id = $1";

pub const FAIL_JOB: &str = "UPDATE jobs SET state = 'failed', error = $2, finished_at = $3 \
     WHERE id = $1 AND state IN ('queued', 'running')";

pub const CANCEL_PENDING: &str = "UPDATE job_tasks SET state = 'cancelled' \
     WHERE job_id = $1 AND state IN ('waiting', 'ready')";

/// The phase of the first unfinished task, or `done`.
pub const REFRESH_PHASE: &str = "UPDATE jobs SET phase = COALESCE((SELECT phase FROM job_tasks \
     WHERE job_id = $1 AND state IN ('waiting', 'ready', 'leased') ORDER BY seq LIMIT 1), 'done') \
     WHERE id = $1";

pub const JOBS_BY_STATE: &str = "SELECT state, COUNT(*) FROM jobs GROUP BY state";
pub const TASKS_BY_STATE: &str = "SELECT state, COUNT(*) FROM job_tasks GROUP BY state";
pub const QUEUED_TASKS: &str = "SELECT state, COUNT(*) FROM job_tasks \
     WHERE state IN ('ready', 'leased') GROUP BY state";
pub const LIVE_WORKERS_SEEN: &str = "SELECT last_seen_at FROM workers WHERE stopped_at IS NULL";
pub const OLDEST_READY: &str = "SELECT MIN(ready_at) FROM job_tasks WHERE state = 'ready'";

/// Tasks done per bucket of `$2` ms since `$1`, through each recently active job's tasks
/// (no index holds every job's done tasks by finish time alone).
pub const ACTIVITY: &str = "SELECT $1 + ((t.finished_at - $1) / $2) * $2 AS at, COUNT(*) \
     FROM jobs j JOIN job_tasks t ON t.job_id = j.id \
     WHERE (j.finished_at IS NULL OR j.finished_at >= $1) \
       AND t.state = 'done' AND t.finished_at >= $1 \
     GROUP BY 1 ORDER BY 1";

/// One statement: two jobs reserving at once cannot both pass the cap.
pub const RESERVE_FILES: &str = "INSERT INTO file_reservations (job_id, bytes) \
     SELECT $1, $2 WHERE $2 <= $3 - (SELECT COALESCE(SUM(bytes), 0) FROM file_reservations)";
pub const RENAME_RESERVATION: &str = "UPDATE file_reservations SET job_id = $2 WHERE job_id = $1";
pub const RELEASE_FILES: &str = "DELETE FROM file_reservations WHERE job_id = $1";
pub const RESERVED_FILES: &str = "SELECT CAST(SUM(bytes) AS BIGINT) FROM file_reservations";

pub const HOLDS_LEASE: &str = "SELECT COUNT(*) FROM job_tasks \
     WHERE lease_owner = $1 AND state = 'leased' AND job_id = $2";

pub const PHASE_STATE_COUNTS: &str = "SELECT phase, state, COUNT(*) FROM job_tasks \
     WHERE job_id = $1 GROUP BY phase, state";
/// Each phase's span, and its first task's place in the plan (what orders the phases).
pub const PHASE_SPANS: &str = "SELECT phase, MIN(started_at), MAX(finished_at), MIN(seq) \
     FROM job_tasks WHERE job_id = $1 GROUP BY phase";

/// A claim leased job `$1` tasks, the furthest in plan order at `$3` in phase `$4`: the job
/// runs, and shows that phase when it is further than the one it showed.
pub const JOB_LEASED: &str = "UPDATE jobs SET state = 'running', \
       started_at = COALESCE(started_at, $2), \
       phase = CASE WHEN phase_seq < $3 THEN $4 ELSE phase END, \
       phase_seq = CASE WHEN phase_seq < $3 THEN $3 ELSE phase_seq END \
     WHERE id = $1 AND (state <> 'running' OR phase_seq < $3)";
pub const CONTRIBUTIONS: &str = "SELECT t.worker_id, w.name, COUNT(*) FROM job_tasks t \
     LEFT JOIN workers w ON w.id = t.worker_id \
     WHERE t.job_id = $1 AND t.state = 'done' AND t.worker_id IS NOT NULL \
     GROUP BY t.worker_id, w.name ORDER BY COUNT(*) DESC";
/// A job's tasks done per bucket of `$2` ms since `$3`, by phase.
pub const JOB_THROUGHPUT: &str = "SELECT $3 + ((finished_at - $3) / $2) * $2 AS at, phase, \
     COUNT(*) FROM job_tasks WHERE job_id = $1 AND state = 'done' AND finished_at >= $3 \
     GROUP BY 1, 2 ORDER BY 1";
pub const TASK_ERRORS: &str = "SELECT id, phase, attempt, last_error FROM job_tasks \
     WHERE job_id = $1 AND last_error IS NOT NULL ORDER BY seq LIMIT 20";

/// Counts a report's tasks done (`$2`) and folds their mean run time (`$3`, in
/// microseconds, NULL when the worker did not say) into the job's task time: a moving
/// average that follows a change of phase within a few reports. (`orchard_complete` in
/// `postgres/functions.sql` does the same.)
pub const JOB_TASKS_DONE: &str = "UPDATE jobs SET done = done + $2, \
       task_us = CASE WHEN $3 IS NULL THEN task_us WHEN task_us IS NULL THEN $3 \
         ELSE (task_us * 3 + $3) / 4 END \
     WHERE id = $1 RETURNING done, total, closers";

/// A job's closing tasks, ready once every other task of the job is done.
pub const CLOSERS_READY: &str = "UPDATE job_tasks SET state = 'ready', ready_at = $2 \
     WHERE job_id = $1 AND after_all AND state = 'waiting'";
/// The outputs of a job's closing tasks, its only sinks, in plan order.
pub const CLOSER_OUTPUTS: &str =
    "SELECT output FROM job_tasks WHERE job_id = $1 AND after_all ORDER BY seq";

/// A job every task of which is done: succeeded, with its result.
pub const JOB_SUCCEEDED: &str = "UPDATE jobs SET state = 'succeeded', phase = 'done', \
     result = $2, finished_at = $3 WHERE id = $1";

pub const CANCEL_JOB: &str = "UPDATE jobs SET state = 'cancelled', finished_at = $2 WHERE id = $1";
pub const LEASED_OF_JOB: &str =
    "SELECT COUNT(*) FROM job_tasks WHERE job_id = $1 AND state = 'leased'";
pub const RETRY_TASKS: &str = "UPDATE job_tasks SET \
       state = CASE WHEN deps_pending = 0 THEN 'ready' ELSE 'waiting' END, \
       ready_at = CASE WHEN deps_pending = 0 THEN $2 ELSE NULL END, \
       attempt = 0, run_after = 0, lease_owner = NULL, lease_expires_at = NULL \
     WHERE job_id = $1 AND state IN ('failed', 'cancelled')";
pub const RETRY_JOB: &str = "UPDATE jobs SET state = CASE WHEN started_at IS NULL THEN 'queued' \
     ELSE 'running' END, error = NULL, finished_at = NULL WHERE id = $1";
/// The graph's edges first, then the tasks: the tasks' legacy self-reference would otherwise
/// make the cascade order matter.
pub const DELETE_DEPS: &str = "DELETE FROM job_task_deps WHERE job_id = $1";
pub const DELETE_TASKS: &str = "DELETE FROM job_tasks WHERE job_id = $1";
pub const DELETE_JOB: &str = "DELETE FROM jobs WHERE id = $1";
pub const JOB_WORK: &str = "UPDATE jobs SET work_done = $2, work_total = $3 \
     WHERE id = $1 AND state IN ('queued', 'running')";
pub const PHASE_OUTPUTS: &str =
    "SELECT output FROM job_tasks WHERE job_id = $1 AND phase = $2 ORDER BY seq";

/// Whether some job has a ready task and room under its concurrency. A subquery per job
/// rather than a join: a job's ready tasks are one range of the claim index, however many
/// tasks the planner guesses are ready. It reads the job's id (TEXT on both databases; a
/// bare `SELECT 1` is an INT4 on Postgres and an INTEGER on SQLite).
pub const CLAIMABLE: &str = "SELECT j.id FROM jobs j WHERE j.state IN ('queued', 'running') \
     AND (SELECT t.seq FROM job_tasks t WHERE t.job_id = j.id \
        AND t.state = 'ready' AND t.run_after <= $1 ORDER BY t.seq LIMIT 1) IS NOT NULL \
     AND (SELECT COUNT(DISTINCT COALESCE(t.lease_batch, t.id)) FROM job_tasks t \
        WHERE t.job_id = j.id AND t.state = 'leased') < j.concurrency \
     LIMIT 1";

pub const EXTEND_LEASE: &str = "UPDATE job_tasks SET lease_expires_at = $2 WHERE id = $1";
pub const WORKER_SEEN: &str = "UPDATE workers SET last_seen_at = $2 WHERE id = $1";

/// A failure's outcomes: the job no longer runs, another attempt later, or failed for good.
pub const TASK_CANCELLED: &str = "UPDATE job_tasks SET state = 'cancelled', lease_owner = NULL, \
     lease_expires_at = NULL, last_error = $2 WHERE id = $1";
pub const TASK_RETRY: &str = "UPDATE job_tasks SET state = 'ready', lease_owner = NULL, \
     lease_expires_at = NULL, run_after = $2, ready_at = $2, last_error = $3 WHERE id = $1";
/// `$5`: the input was wrong, whoever runs it (not retryable).
pub const TASK_FAILED: &str = "UPDATE job_tasks SET state = 'failed', lease_owner = NULL, \
     lease_expires_at = NULL, finished_at = $2, last_error = $3, worker_id = $4, \
     input_fault = $5 WHERE id = $1";

/// A released task did no harm: its attempt is given back.
pub const TASK_RELEASED: &str = "UPDATE job_tasks SET state = 'ready', attempt = attempt - 1, \
     lease_owner = NULL, lease_expires_at = NULL, ready_at = $2 WHERE id = $1";
pub const TASK_DROPPED: &str = "UPDATE job_tasks SET state = 'cancelled', lease_owner = NULL, \
     lease_expires_at = NULL WHERE id = $1";

pub const EXPIRED: &str = "SELECT id, job_id, attempt, phase, seq FROM job_tasks \
     WHERE state = 'leased' AND lease_expires_at < $1 ORDER BY lease_expires_at LIMIT 500";
/// Re-checked under the job's lock: a heartbeat may have renewed the lease meanwhile.
pub const REAP: &str = "UPDATE job_tasks SET state = $4, lease_owner = NULL, \
     lease_expires_at = NULL, run_after = $5, ready_at = $5, last_error = $6 \
     WHERE id = $1 AND state = 'leased' AND attempt = $2 AND lease_expires_at < $3";

/// A new job's task into SQLite, one at a time through a cached statement (in reverse plan
/// order: SQLite checks the parent's foreign key per statement).
pub const INSERT_TASK_SQLITE: &str = "INSERT INTO job_tasks (id, job_id, phase, seq, payload, \
     state, deps_pending, fan_in, fan_out, ready_at, handler, max_attempts, backoff_base_ms, \
     backoff_max_ms, after_all) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9, $10, $11, $12, $13, $14)";

/// An edge of a job's task graph: task `$2` waits on task `$3`, whose output is its input
/// number `$4` (`$5` orders the tasks a completion added in one place).
pub const INSERT_DEP_SQLITE: &str =
    "INSERT INTO job_task_deps (job_id, task_id, dep_id, ord, sub) VALUES ($1, $2, $3, $4, $5)";

/// A new job's tasks into Postgres, up to 10,000 a statement, the columns bound as arrays
/// (a statement with a placeholder per value costs more to send and plan than to run).
pub const INSERT_TASKS_POSTGRES: &str = "INSERT INTO job_tasks (id, job_id, phase, seq, payload, \
     state, deps_pending, fan_in, fan_out, ready_at, handler, max_attempts, backoff_base_ms, \
     backoff_max_ms, after_all) \
     SELECT t.id, $1, t.phase, t.seq, t.payload, \
       CASE WHEN t.deps = 0 AND NOT t.closes THEN 'ready' ELSE 'waiting' END, t.deps, t.deps, \
       t.fan_out, CASE WHEN t.deps = 0 AND NOT t.closes THEN $2::BIGINT END, t.handler, \
       t.attempts, t.base_ms, t.max_ms, t.closes \
     FROM UNNEST($3::TEXT[], $4::TEXT[], $5::BIGINT[], $6::TEXT[], $7::BIGINT[], $8::BIGINT[], \
       $9::TEXT[], $10::BIGINT[], $11::BIGINT[], $12::BIGINT[], $13::BOOLEAN[]) \
       AS t (id, phase, seq, payload, deps, fan_out, handler, attempts, base_ms, max_ms, closes)";

/// Edges of a job's task graph into Postgres, bound as arrays.
pub const INSERT_DEPS_POSTGRES: &str = "INSERT INTO job_task_deps (job_id, task_id, dep_id, ord, sub) \
     SELECT $1, e.task, e.dep, e.ord, e.sub \
     FROM UNNEST($2::TEXT[], $3::TEXT[], $4::BIGINT[], $5::BIGINT[]) AS e (task, dep, ord, sub)";

/// The outputs of the tasks a task waits on, in input order.
pub const TASK_INPUTS: &str = "SELECT t.output FROM job_task_deps d \
     JOIN job_tasks t ON t.id = d.dep_id \
     WHERE d.job_id = $1 AND d.task_id = $2 ORDER BY d.ord, d.sub";

/// A task a completion added: ready at once, waited on by as many tasks as the task that
/// added it (`$9`) was, and retried as that task is.
pub const INSERT_SPAWNED_SQLITE: &str = "INSERT INTO job_tasks (id, job_id, phase, seq, payload, \
     state, deps_pending, fan_in, fan_out, ready_at, handler, max_attempts, backoff_base_ms, \
     backoff_max_ms) \
     SELECT $1, $2, $3, $4, $5, 'ready', 0, 0, $6, $7, $8, s.max_attempts, s.backoff_base_ms, \
       s.backoff_max_ms FROM job_tasks s WHERE s.id = $9";

/// The edges into the tasks waiting on task `$1`, with each one's place among its inputs.
pub const WAITING_ON: &str = "SELECT task_id, ord FROM job_task_deps WHERE dep_id = $1";
/// A waiting task waits on `$2` more tasks (those a completion added).
pub const INPUTS_ADDED: &str = "UPDATE job_tasks SET deps_pending = deps_pending + $2, \
       fan_in = fan_in + $2 WHERE id = $1";
/// A job grows by the tasks a completion added.
pub const JOB_GREW: &str = "UPDATE jobs SET total = total + $2 WHERE id = $1 RETURNING total";

/// A step's log at one attempt.
pub const STEP_LOG: &str = "SELECT log, dropped FROM step_logs WHERE task_id = $1 AND attempt = $2";
pub const STEP_LOG_LOCKED: &str =
    "SELECT log, dropped FROM step_logs WHERE task_id = $1 AND attempt = $2 FOR UPDATE";
/// A step's log at its latest attempt that wrote one.
pub const LATEST_STEP_LOG: &str = "SELECT attempt, log, dropped FROM step_logs \
     WHERE task_id = $1 ORDER BY attempt DESC LIMIT 1";
pub const PUT_STEP_LOG: &str = "INSERT INTO step_logs (task_id, attempt, job_id, log, dropped, \
       updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
     ON CONFLICT (task_id, attempt) DO UPDATE SET log = excluded.log, \
       dropped = excluded.dropped, updated_at = excluded.updated_at";
pub const DELETE_STEP_LOGS: &str = "DELETE FROM step_logs WHERE job_id = $1";

/// A page of a job's tasks in plan order, after place `$2`.
pub const TASK_PAGE: &str = "SELECT seq, phase, payload, state, attempt, output, last_error, \
     started_at, finished_at, id FROM job_tasks WHERE job_id = $1 AND seq > $2 ORDER BY seq LIMIT $3";

/// The tasks waiting on task `$1`.
pub const DEPENDENTS: &str = "SELECT task_id FROM job_task_deps WHERE dep_id = $1";

/// The outputs of a job's sinks (the tasks nothing waits on), in plan order: its result.
pub const SINK_OUTPUTS: &str =
    "SELECT output FROM job_tasks WHERE job_id = $1 AND fan_out = 0 ORDER BY seq";
