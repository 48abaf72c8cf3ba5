-- Done counts a job's workers keep apart from the job's row (a job's done count is
-- jobs.done plus these). SQLite writes every completion through one connection and counts
-- on the job's row; the table exists so that both databases read a job's progress alike.
CREATE TABLE job_progress (
    job_id    TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    worker_id TEXT NOT NULL,
    done      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, worker_id)
);
