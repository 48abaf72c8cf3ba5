-- Whether only the server's own workers may lease a job's tasks, as the job's kind declares
-- (`RunsOn::ServerWorkers`), recorded when the job is created so the claim reads a column
-- instead of naming kinds. Jobs created before this column: the tree kinds were the ones.
ALTER TABLE jobs ADD COLUMN server_only BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE jobs SET server_only = TRUE WHERE kind IN ('tree_import', 'tree_export', 'tree_generate');
