//! The accounts' SQL, shared by both backends (parameters numbered `$1`, `$2`, …).

pub const COUNT_USERS: &str = "SELECT COUNT(*) FROM users";

/// `ON CONFLICT DO NOTHING`: a taken username inserts nothing.
pub const CREATE_USER: &str = "INSERT INTO users (id, username, password_hash, role, created_at) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username) DO NOTHING";

/// Columns of a `UserRow` (read by name on Postgres, by position on SQLite), then the
/// number of live sessions.
pub const LIST_USERS: &str = "SELECT u.id, u.username, u.role, u.created_at, u.disabled_at, \
     (SELECT COUNT(*) FROM sessions s WHERE s.user_id = u.id AND s.expires_at > $1) AS sessions \
     FROM users u ORDER BY u.username";

/// A `UserRow` (no sessions counted) and the password hash.
pub const CREDENTIALS: &str = "SELECT id, username, role, created_at, disabled_at, \
     CAST(0 AS BIGINT) AS sessions, password_hash FROM users WHERE username = $1";

pub const USER_BY_NAME: &str = "SELECT id, username, role, created_at, disabled_at, \
     CAST(0 AS BIGINT) AS sessions FROM users WHERE username = $1";

pub const ENABLED_ADMINS: &str =
    "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL";

pub const SET_ROLE: &str = "UPDATE users SET role = $2 WHERE id = $1";
pub const SET_PASSWORD: &str = "UPDATE users SET password_hash = $2 WHERE id = $1";
pub const SET_DISABLED: &str = "UPDATE users SET disabled_at = $2 WHERE id = $1";
pub const DELETE_USER_SESSIONS: &str = "DELETE FROM sessions WHERE user_id = $1";

pub const CREATE_SESSION: &str = "INSERT INTO sessions \
     (hash, user_id, created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $3, $4)";

/// A live session's user (a `UserRow` with one session) and when the session was last seen.
pub const SESSION_USER: &str = "SELECT u.id, u.username, u.role, u.created_at, u.disabled_at, \
     CAST(1 AS BIGINT) AS sessions, s.last_seen_at \
     FROM sessions s JOIN users u ON u.id = s.user_id \
     WHERE s.hash = $1 AND s.expires_at > $2 AND s.last_seen_at > $3 AND u.disabled_at IS NULL";

pub const TOUCH_SESSION: &str = "UPDATE sessions SET last_seen_at = $2 WHERE hash = $1";
pub const DELETE_SESSION: &str = "DELETE FROM sessions WHERE hash = $1";

pub const CREATE_SETUP_LINK: &str =
    "INSERT INTO setup_links (hash, created_at, expires_at) VALUES ($1, $2, $3)";
pub const USE_SETUP_LINK: &str = "UPDATE setup_links SET used_at = $2 \
     WHERE hash = $1 AND used_at IS NULL AND expires_at > $2";

pub const RECORD_AUDIT: &str = "INSERT INTO audit_log \
     (id, at, actor, role, action, target, status, request_id) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

/// The start of an audit query; `audit_query` adds the filter's conditions.
pub const LIST_AUDIT: &str = "SELECT id, at, actor, role, action, target, status, request_id \
     FROM audit_log WHERE 1 = 1";

/// `ON CONFLICT (name) DO NOTHING`: a taken name inserts nothing.
pub const CREATE_TOKEN: &str = "INSERT INTO api_tokens \
     (id, name, hash, created_at, scopes, user_id) VALUES ($1, $2, $3, $4, $5, $6) \
     ON CONFLICT (name) DO NOTHING";

pub const USER_ID: &str = "SELECT id FROM users WHERE username = $1";

/// Columns of a `TokenRow`.
pub const LIST_TOKENS: &str = "SELECT t.id, t.name, t.scopes, u.username, t.created_at, \
     t.last_used_at, t.revoked_at FROM api_tokens t LEFT JOIN users u ON u.id = t.user_id \
     ORDER BY t.created_at, t.id";

pub const REVOKE_TOKEN: &str = "UPDATE api_tokens SET revoked_at = $2 \
     WHERE (name = $1 OR id = $1) AND revoked_at IS NULL";

/// Columns of a `GrantRow`.
pub const TOKEN_GRANT: &str = "SELECT t.id, t.name, t.scopes, u.role, u.disabled_at, \
     u.id IS NOT NULL AS owned FROM api_tokens t LEFT JOIN users u ON u.id = t.user_id \
     WHERE t.hash = $1 AND t.revoked_at IS NULL";

pub const TOUCH_TOKEN: &str = "UPDATE api_tokens SET last_used_at = $2 WHERE id = $1";

pub const LIVE_TOKENS: &str = "SELECT COUNT(*) FROM api_tokens WHERE revoked_at IS NULL";
