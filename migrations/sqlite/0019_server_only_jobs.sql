-- Whether only the server's own workers may lease a job's tasks, as the job's kind declares
-- (`RunsOn::ServerWorkers`), recorded when the job is created so the claim reads a column
-- instead of naming kinds. Jobs created before this column: the tree kinds were the ones.
ALTER TABLE jobs ADD COLUMN server_only INTEGER NOT NULL DEFAULT 0 CHECK (server_only IN (0, 1));
UPDATE jobs SET server_only = 1 WHERE kind IN ('tree_import', 'tree_export', 'tree_generate');
