-- Pipelines get a scope of their own: `wpipe` reaches the process-monitor routes and nothing
-- else, so a pipeline's token can no longer lease or complete job tasks. Tokens issued
-- before the split reached both with `worker`, and keep both.
UPDATE api_tokens SET scopes = scopes || ' wpipe'
WHERE (' ' || scopes || ' ') LIKE '% worker %' AND (' ' || scopes || ' ') NOT LIKE '% wpipe %';
