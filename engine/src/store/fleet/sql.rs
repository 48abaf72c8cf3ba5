//! The fleet's SQL, shared by both backends (parameters numbered `$1`, `$2`, …). Where the
//! backends differ it says so here: Postgres locks the row a transaction is about to
//! change (`… FOR UPDATE`); SQLite's writes are serial already.

use std::sync::LazyLock;

pub const INSERT_WPIPE_WORKER: &str = "INSERT INTO workers (id, name, kind, hostname, version, \
     concurrency, registered_at, last_seen_at) VALUES ($1, $2, 'wpipe', '', $3, 1, $4, $4)";

pub const INSERT_TEMPLATE: &str =
    "INSERT INTO worker_templates (worker_id, seq, name, version) VALUES ($1, $2, $3, $4)";

/// A heartbeat keeps the previous sign of life (0 after a stop) in the same statement.
pub const BEAT: &str = "UPDATE workers SET prev_seen_at = CASE WHEN stopped_at IS NULL \
     THEN last_seen_at ELSE 0 END, last_seen_at = $2, stopped_at = NULL \
     WHERE id = $1 RETURNING prev_seen_at";

pub const WORKER_KIND: &str = "SELECT kind FROM workers WHERE id = $1";

pub const TEMPLATES: &str =
    "SELECT name, version FROM worker_templates WHERE worker_id = $1 ORDER BY seq";

pub const INSERT_PROCESS: &str = "INSERT INTO processes (id, worker_id, status, started_at, \
     updated_at) VALUES ($1, $2, 'running', $3, $3)";

pub const INSERT_PROCESS_TASK: &str = "INSERT INTO process_tasks (id, process_id, seq, name, \
     version, state, received_at) VALUES ($1, $2, $3, $4, $5, 'pending', $6)";

pub const SIGN_OF_LIFE: &str =
    "UPDATE workers SET last_seen_at = $2, stopped_at = NULL WHERE id = $1";

pub const TASK_OWNER: &str = "SELECT t.process_id, p.worker_id FROM process_tasks t \
     JOIN processes p ON p.id = t.process_id WHERE t.id = $1";

/// A repeated start restarts the clock; an earlier end no longer holds.
pub const TASK_STARTED: &str = "UPDATE process_tasks SET state = $2, started_at = $3, \
     finished_at = NULL, updated_at = $3, details = COALESCE($4, details) WHERE id = $1";

pub const TASK_ENDED: &str = "UPDATE process_tasks SET state = $2, finished_at = $3, \
     updated_at = $3, details = COALESCE($4, details) WHERE id = $1";

pub const PROCESS_TOUCHED: &str = "UPDATE processes SET updated_at = $2 WHERE id = $1";

pub const PROCESS_TO_END: &str = "SELECT worker_id, status FROM processes WHERE id = $1";
pub const PROCESS_TO_END_LOCKED: &str =
    "SELECT worker_id, status FROM processes WHERE id = $1 FOR UPDATE";

pub const FAILED_STEPS: &str =
    "SELECT COUNT(*) FROM process_tasks WHERE process_id = $1 AND state = 'error'";

pub const END_PROCESS: &str = "UPDATE processes SET status = $2, details = $3, ended_at = $4, \
     updated_at = $4 WHERE id = $1";

pub const WORKER_SEEN: &str = "SELECT last_seen_at, stopped_at FROM workers WHERE id = $1";
pub const WORKER_SEEN_LOCKED: &str =
    "SELECT last_seen_at, stopped_at FROM workers WHERE id = $1 FOR UPDATE";

pub const DELETE_WORKER: &str = "DELETE FROM workers WHERE id = $1";

/// Columns of a `ProcessCountRow`.
pub const PROCESS_COUNTS: &str = "SELECT worker_id, status, COUNT(*) AS n, \
     CAST(SUM(CASE WHEN ended_at IS NULL THEN 0 ELSE 1 END) AS BIGINT) AS ended, \
     CAST(SUM(CASE WHEN ended_at IS NULL THEN 0 ELSE ended_at - started_at END) AS BIGINT) \
       AS ended_ms \
     FROM processes GROUP BY worker_id, status";

/// Columns of a `StepRow`: each worker's running wpipe steps, oldest first.
pub const RUNNING_STEPS: &str = "SELECT p.worker_id, t.name FROM process_tasks t \
     JOIN processes p ON p.id = t.process_id WHERE t.state = 'running' ORDER BY t.started_at";

/// Columns of a `LeasedStepRow`: each Orchard worker's leased job tasks, oldest first.
pub const LEASED_STEPS: &str = "SELECT lease_owner AS worker_id, phase, seq FROM job_tasks \
     WHERE state = 'leased' AND lease_owner IS NOT NULL ORDER BY started_at";

/// Columns of a `MinuteRow`: wpipe steps finished per worker and minute since `$1`.
pub const WPIPE_PER_MINUTE: &str = "SELECT p.worker_id, t.finished_at / 60000 AS minute, \
     COUNT(*) AS n FROM process_tasks t JOIN processes p ON p.id = t.process_id \
     WHERE t.finished_at >= $1 GROUP BY p.worker_id, t.finished_at / 60000";

/// Columns of a `MinuteRow`: job tasks finished per worker and minute since `$1`.
pub const JOBS_PER_MINUTE: &str = "SELECT worker_id, finished_at / 60000 AS minute, \
     COUNT(*) AS n FROM job_tasks WHERE finished_at >= $1 AND worker_id IS NOT NULL \
     GROUP BY worker_id, finished_at / 60000";

pub const WORKER_NAME_KIND: &str = "SELECT name, kind FROM workers WHERE id = $1";

/// Columns of a `ProcessRow`.
pub const WORKER_PROCESSES: &str = "SELECT id, worker_id, status, details, started_at, ended_at \
     FROM processes WHERE worker_id = $1 ORDER BY started_at DESC, id DESC LIMIT $2";

pub const PROCESS: &str = "SELECT id, worker_id, status, details, started_at, ended_at \
     FROM processes WHERE id = $1";

/// Columns of a `TaskRow`: the steps of a worker's processes started since `$2`.
pub const WORKER_PROCESS_STEPS: &str = "SELECT t.id, t.process_id, t.seq, t.name, t.version, \
     t.state, t.details, t.received_at, t.started_at, t.finished_at, t.updated_at \
     FROM process_tasks t JOIN processes p ON p.id = t.process_id \
     WHERE p.worker_id = $1 AND p.started_at >= $2 ORDER BY t.process_id, t.seq";

pub const PROCESS_STEPS: &str = "SELECT id, process_id, seq, name, version, state, details, \
     received_at, started_at, finished_at, updated_at FROM process_tasks \
     WHERE process_id = $1 ORDER BY seq";

/// The processes of Orchard's own workers (one per worker and job it took part in), from
/// the job tasks they ran: `JOB_PROCESSES` for the whole fleet, `JOB_PROCESSES_OF` for one
/// worker (`$1`). Columns of a `JobProcessRow`. No index holds finished tasks by worker:
/// both scan the job tasks.
pub static JOB_PROCESSES: LazyLock<String> = LazyLock::new(|| {
    JOB_PROCESSES_WHERE.replace(
        "{filter}",
        "(t.state IN ('done', 'failed') AND t.worker_id IS NOT NULL) \
         OR (t.state = 'leased' AND t.lease_owner IS NOT NULL)",
    )
});
pub static JOB_PROCESSES_OF: LazyLock<String> = LazyLock::new(|| {
    JOB_PROCESSES_WHERE.replace(
        "{filter}",
        "(t.state IN ('done', 'failed') AND t.worker_id = $1) \
         OR (t.state = 'leased' AND t.lease_owner = $1)",
    )
});
const JOB_PROCESSES_WHERE: &str = "SELECT COALESCE(t.lease_owner, t.worker_id) AS worker_id, \
     t.job_id, j.kind AS job_kind, j.state AS job_state, COUNT(*) AS total, \
     CAST(SUM(CASE WHEN t.state IN ('done', 'failed') THEN 1 ELSE 0 END) AS BIGINT) AS finished, \
     CAST(SUM(CASE WHEN t.state = 'failed' THEN 1 ELSE 0 END) AS BIGINT) AS failed, \
     CAST(SUM(CASE WHEN t.state = 'failed' AND t.input_fault THEN 1 ELSE 0 END) AS BIGINT) \
       AS input_faults, \
     MIN(t.started_at) AS started_at, MAX(COALESCE(t.finished_at, t.started_at)) AS last_update, \
     j.error AS error \
     FROM job_tasks t JOIN jobs j ON j.id = t.job_id WHERE {filter} \
     GROUP BY COALESCE(t.lease_owner, t.worker_id), t.job_id, j.kind, j.state, j.error \
     ORDER BY MIN(t.started_at)";

/// Columns of a `JobStepRow`: a worker's tasks of one job.
pub const JOB_PROCESS_STEPS: &str = "SELECT id, phase, seq, state, last_error, ready_at, \
     started_at, finished_at FROM job_tasks WHERE job_id = $1 \
     AND ((state IN ('done', 'failed') AND worker_id = $2) \
       OR (state = 'leased' AND lease_owner = $2)) \
     ORDER BY started_at, seq";

pub const REGISTER_WORKER: &str = "INSERT INTO workers (id, name, kind, hostname, version, \
     concurrency, registered_at, last_seen_at, secret_hash, handlers) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9)";

/// The handlers of the workers seen since `$1` and not stopped (each a JSON array).
pub const OFFERED_HANDLERS: &str = "SELECT handlers FROM workers \
     WHERE handlers IS NOT NULL AND stopped_at IS NULL AND last_seen_at >= $1";

pub const SECRET_HASH: &str = "SELECT secret_hash FROM workers WHERE id = $1";

pub const STOP_WORKER: &str = "UPDATE workers SET stopped_at = $2 WHERE id = $1";

/// Columns of a `WorkerRow`. Stopped workers stay listed for an hour (since `$1`) so a
/// restart is visible.
pub const LIST_WORKERS: &str = "SELECT w.id, w.name, w.kind, w.hostname, w.version, \
     w.concurrency, w.registered_at, w.last_seen_at, w.stopped_at, \
     COALESCE(a.active, 0) AS active, w.tasks_done, w.handlers \
     FROM workers w LEFT JOIN (SELECT lease_owner, COUNT(*) AS active \
        FROM job_tasks WHERE state = 'leased' GROUP BY lease_owner) a ON a.lease_owner = w.id \
     WHERE w.stopped_at IS NULL OR w.stopped_at > $1 \
     ORDER BY w.registered_at DESC LIMIT 10000";
