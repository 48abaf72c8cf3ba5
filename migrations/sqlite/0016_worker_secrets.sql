-- A remote worker's own secret (its SHA-256): registration hands the worker a secret that
-- every later call for it must show, so workers sharing a deployment token cannot
-- heartbeat, stop or report for each other. Workers registered before have none.
ALTER TABLE workers ADD COLUMN secret_hash TEXT;
