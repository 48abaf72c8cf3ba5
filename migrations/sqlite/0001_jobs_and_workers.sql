-- Orchard's job engine and worker fleet (SQLite).
-- Times are Unix milliseconds (INTEGER) so that both databases share one representation
-- and every comparison in the queue is a plain integer comparison.

-- A registered worker: an in-process pool thread set, a remote `orchard worker`, or a wpipe client.
CREATE TABLE workers (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('inprocess', 'remote', 'wpipe')),
    hostname      TEXT NOT NULL DEFAULT '',
    version       TEXT NOT NULL DEFAULT '',
    concurrency   INTEGER NOT NULL DEFAULT 1,
    registered_at INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    stopped_at    INTEGER
);

CREATE TABLE jobs (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    params        TEXT NOT NULL,              -- JSON, validated by the job kind before insert
    state         TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    phase         TEXT NOT NULL DEFAULT '',
    concurrency   INTEGER NOT NULL CHECK (concurrency >= 1),   -- W: most tasks of this job leased at once
    max_attempts  INTEGER NOT NULL CHECK (max_attempts >= 1),
    done          INTEGER NOT NULL DEFAULT 0,
    total         INTEGER NOT NULL DEFAULT 0,
    result        TEXT,                       -- JSON
    error         TEXT,
    created_at    INTEGER NOT NULL,
    started_at    INTEGER,
    finished_at   INTEGER
);
CREATE INDEX jobs_created ON jobs (created_at DESC);
CREATE INDEX jobs_state ON jobs (state);

-- Job tasks form a tree per job: a task becomes ready when every task feeding it is done
-- (deps_pending reaches 0). The job's root task finishing is the exact, persisted completion
-- signal: no in-memory bookkeeping is needed to know a job is over, even across restarts.
CREATE TABLE job_tasks (
    id               TEXT PRIMARY KEY,
    job_id           TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    parent_id        TEXT REFERENCES job_tasks (id) ON DELETE CASCADE,
    phase            TEXT NOT NULL,
    seq              INTEGER NOT NULL,        -- order within the job, also the claim order
    payload          TEXT NOT NULL,           -- JSON
    output           TEXT,                    -- JSON, set on completion
    state            TEXT NOT NULL CHECK (state IN ('waiting', 'ready', 'leased', 'done', 'failed', 'cancelled')),
    deps_pending     INTEGER NOT NULL DEFAULT 0,
    attempt          INTEGER NOT NULL DEFAULT 0,
    lease_owner      TEXT,
    lease_expires_at INTEGER,
    run_after        INTEGER NOT NULL DEFAULT 0,
    ready_at         INTEGER,                 -- when it last became ready (queue age)
    last_error       TEXT,
    worker_id        TEXT,                    -- the worker that completed it
    started_at       INTEGER,
    finished_at      INTEGER
);
CREATE INDEX job_tasks_ready ON job_tasks (state, run_after, job_id, seq);
CREATE INDEX job_tasks_job ON job_tasks (job_id, state);
CREATE INDEX job_tasks_parent ON job_tasks (parent_id);
CREATE INDEX job_tasks_lease ON job_tasks (state, lease_expires_at);
CREATE INDEX job_tasks_finished ON job_tasks (job_id, finished_at);
CREATE INDEX job_tasks_owner ON job_tasks (lease_owner, state);
CREATE INDEX job_tasks_worker ON job_tasks (worker_id, state);
