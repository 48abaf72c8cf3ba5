-- People, their sessions, the one-time link that creates the first admin, and the audit log.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,                -- argon2id, PHC string
    role          TEXT NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
    created_at    BIGINT NOT NULL,
    disabled_at   BIGINT
);

-- Only a session token's SHA-256 is kept; the token itself lives in the browser's cookie.
CREATE TABLE sessions (
    hash         TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL                   -- the absolute timeout
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE setup_links (
    hash       TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);

-- Who changed what, and when. Ids are UUIDv7, so they sort by time.
CREATE TABLE audit_log (
    id         TEXT PRIMARY KEY,
    at         BIGINT NOT NULL,
    actor      TEXT NOT NULL,                   -- a username, "token:<name>", "service", "cli"
    role       TEXT NOT NULL,
    action     TEXT NOT NULL,                   -- e.g. "POST /api/v1/jobs/{id}/cancel", "user.create"
    target     TEXT NOT NULL DEFAULT '',
    status     BIGINT NOT NULL,                 -- the HTTP status answered
    request_id TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor ON audit_log (actor, at);
