-- A workflow step's log, one row per attempt: the lines its process wrote (its output line
-- aside), kept to the last 1 MiB with a count of the bytes dropped before them.
CREATE TABLE step_logs (
    task_id    TEXT NOT NULL,
    attempt    BIGINT NOT NULL,
    job_id     TEXT NOT NULL,
    log        TEXT NOT NULL,
    dropped    BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (task_id, attempt)
);
CREATE INDEX step_logs_job ON step_logs (job_id);
