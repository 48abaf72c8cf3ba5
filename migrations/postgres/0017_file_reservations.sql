-- Bytes of job files each job may write, reserved when the job is created and given back
-- when it is deleted: a job that would take the total past ORCHARD_MAX_FILES_BYTES is
-- refused before any of its files is written. The reservation is made under a placeholder
-- key in one statement with the cap check, then moved to the job's id.
CREATE TABLE file_reservations (
    job_id TEXT PRIMARY KEY,
    bytes  BIGINT NOT NULL
);
