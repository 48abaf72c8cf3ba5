-- The process monitor (wpipe-compatible routes) and per-worker API tokens (Postgres).
-- A wpipe worker registers an ordered list of task templates; each run of its pipeline is a
-- process holding one task per template, in the same order. Orchard's own workers have no
-- rows here: their processes are derived from the job tasks they ran.

-- A heartbeat keeps the time of the one before it, in the same statement (no read first),
-- so its answer can say whether the worker was healthy when it arrived; 0 after a stop.
ALTER TABLE workers ADD COLUMN prev_seen_at BIGINT NOT NULL DEFAULT 0;

CREATE TABLE worker_templates (
    worker_id  TEXT NOT NULL REFERENCES workers (id) ON DELETE CASCADE,
    seq        BIGINT NOT NULL,             -- registration order, from 1
    name       TEXT NOT NULL,
    version    TEXT NOT NULL,
    PRIMARY KEY (worker_id, seq)
);

CREATE TABLE processes (
    id          TEXT PRIMARY KEY,
    worker_id   TEXT NOT NULL REFERENCES workers (id) ON DELETE CASCADE,
    status      TEXT NOT NULL CHECK (status IN ('running', 'success', 'error')),
    details     TEXT,
    started_at  BIGINT NOT NULL,
    ended_at    BIGINT,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX processes_worker ON processes (worker_id, started_at);

CREATE TABLE process_tasks (
    id          TEXT PRIMARY KEY,
    process_id  TEXT NOT NULL REFERENCES processes (id) ON DELETE CASCADE,
    seq         BIGINT NOT NULL,             -- position in the pipeline, from 1
    name        TEXT NOT NULL,
    version     TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('pending', 'running', 'success', 'error')),
    details     TEXT,
    received_at BIGINT NOT NULL,
    started_at  BIGINT,
    finished_at BIGINT,
    updated_at  BIGINT
);
CREATE INDEX process_tasks_process ON process_tasks (process_id, seq);
CREATE INDEX process_tasks_finished ON process_tasks (finished_at);
CREATE INDEX process_tasks_state ON process_tasks (state);

-- Only a token's SHA-256 is kept; the token itself is shown once, when it is created.
CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    hash         TEXT NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
