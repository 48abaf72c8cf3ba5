-- What a stored API token may do: `worker` (the worker protocol and the wpipe routes),
-- `read` (everything a viewer reads), `write` (what an editor changes); space-separated.
-- A token may belong to a person: it then never does more than that person's role allows,
-- and it dies with them.
ALTER TABLE api_tokens ADD COLUMN scopes TEXT NOT NULL DEFAULT 'worker';
ALTER TABLE api_tokens ADD COLUMN user_id TEXT REFERENCES users (id) ON DELETE CASCADE;
