//! The accounts part of the store: users, sessions, setup links and the audit log. The
//! trait is the contract; `sqlite.rs` and `postgres.rs` fulfil it with the SQL of `sql.rs`,
//! and the rules both follow (the last enabled admin stays) are written once here.

mod postgres;
mod sql;
mod sqlite;

use super::param::{Param, contains_pattern};
use super::{StoreError, StoreResult};
use crate::Millis;
use crate::accounts::model::{AuditEntry, AuditFilter, Role, TokenInfo, User};
use async_trait::async_trait;

/// A user with the stored password hash, for signing in.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user: User,
    pub password_hash: String,
}

#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    async fn count_users(&self) -> StoreResult<i64>;
    /// `Conflict` when the username is taken.
    async fn create_user(
        &self,
        username: &str,
        password_hash: &str,
        role: Role,
        now: Millis,
    ) -> StoreResult<User>;
    async fn list_users(&self, now: Millis) -> StoreResult<Vec<User>>;
    async fn credentials(&self, username: &str) -> StoreResult<Option<Credentials>>;
    /// Changes a role; `Conflict` when it would leave no enabled admin.
    async fn set_role(&self, username: &str, role: Role) -> StoreResult<User>;
    /// Sets a new password and ends every session of the user.
    async fn set_password(&self, username: &str, password_hash: &str) -> StoreResult<()>;
    /// Disables (ending every session) or enables a user; `Conflict` for the last admin.
    async fn set_disabled(&self, username: &str, disabled: bool, now: Millis) -> StoreResult<User>;

    async fn create_session(
        &self,
        hash: &str,
        user_id: &str,
        now: Millis,
        expires_at: Millis,
    ) -> StoreResult<()>;
    /// The user of a live session (not expired, not idle longer than `idle_ms`, user enabled),
    /// noting the use at most once a minute.
    async fn session_user(
        &self,
        hash: &str,
        idle_ms: i64,
        now: Millis,
    ) -> StoreResult<Option<User>>;
    async fn delete_session(&self, hash: &str) -> StoreResult<()>;
    /// Signs a user out everywhere; returns how many sessions ended.
    async fn delete_user_sessions(&self, user_id: &str) -> StoreResult<u64>;

    async fn create_setup_link(
        &self,
        hash: &str,
        now: Millis,
        expires_at: Millis,
    ) -> StoreResult<()>;
    /// Uses a setup link up, once: true when it was valid and unused.
    async fn use_setup_link(&self, hash: &str, now: Millis) -> StoreResult<bool>;

    async fn record_audit(&self, entry: &AuditEntry) -> StoreResult<()>;
    async fn list_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>>;

    /// Stores a new token's hash under a unique name with its scopes (and owner, if any);
    /// `Conflict` when the name is taken, `NotFound` for an unknown owner.
    async fn create_token(
        &self,
        name: &str,
        hash: &str,
        scopes: &str,
        username: Option<&str>,
        now: Millis,
    ) -> StoreResult<TokenInfo>;
    async fn list_tokens(&self) -> StoreResult<Vec<TokenInfo>>;
    /// Revokes the token with this name or id; `NotFound` when there is none.
    async fn revoke_token(&self, name_or_id: &str, now: Millis) -> StoreResult<TokenInfo>;
    /// What the unrevoked token with this hash grants: its id, name, scopes and, for a
    /// person's token, that person's role and whether they are disabled.
    async fn token_grant(&self, hash: &str) -> StoreResult<Option<TokenGrant>>;
    async fn touch_token(&self, id: &str, now: Millis) -> StoreResult<()>;
    /// Whether any unrevoked token exists.
    async fn any_token(&self) -> StoreResult<bool>;
}

/// What a stored token grants.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenGrant {
    pub id: String,
    pub name: String,
    pub scopes: String,
    /// For a person's token: their role, and whether they are disabled.
    pub owner: Option<(Role, bool)>,
}

/// A token as listed.
#[derive(Debug, sqlx::FromRow)]
struct TokenRow {
    id: String,
    name: String,
    scopes: String,
    username: Option<String>,
    created_at: i64,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl TokenRow {
    fn from_sqlite(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get(0)?,
            name: r.get(1)?,
            scopes: r.get(2)?,
            username: r.get(3)?,
            created_at: r.get(4)?,
            last_used_at: r.get(5)?,
            revoked_at: r.get(6)?,
        })
    }
}

impl From<TokenRow> for TokenInfo {
    fn from(r: TokenRow) -> Self {
        TokenInfo {
            id: r.id,
            name: r.name,
            scopes: r.scopes,
            username: r.username,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            revoked_at: r.revoked_at,
        }
    }
}

/// What a token grants, as stored.
#[derive(Debug, sqlx::FromRow)]
struct GrantRow {
    id: String,
    name: String,
    scopes: String,
    role: Option<String>,
    disabled_at: Option<i64>,
    owned: bool,
}

impl GrantRow {
    fn from_sqlite(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get(0)?,
            name: r.get(1)?,
            scopes: r.get(2)?,
            role: r.get(3)?,
            disabled_at: r.get(4)?,
            owned: r.get(5)?,
        })
    }

    fn into_grant(self) -> StoreResult<TokenGrant> {
        let owner = match (self.owned, self.role) {
            (true, Some(r)) => Some((
                Role::parse(&r).map_err(StoreError::Corrupt)?,
                self.disabled_at.is_some(),
            )),
            _ => None,
        };
        Ok(TokenGrant {
            id: self.id,
            name: self.name,
            scopes: self.scopes,
            owner,
        })
    }
}

fn token_taken(name: &str) -> StoreError {
    StoreError::Conflict(format!("a token named {name:?} already exists"))
}

fn no_token(name_or_id: &str) -> StoreError {
    StoreError::NotFound(format!("token {name_or_id:?}"))
}

/// The token just revoked (or already revoked) by this name or id, from the list.
fn find_token(list: Vec<TokenInfo>, name_or_id: &str) -> StoreResult<TokenInfo> {
    list.into_iter()
        .find(|t| t.name == name_or_id || t.id == name_or_id)
        .ok_or_else(|| no_token(name_or_id))
}

/// A user as the accounts queries read it: id, username, role, created, disabled since,
/// live sessions (in that column order).
#[derive(Debug, sqlx::FromRow)]
pub(super) struct UserRow {
    id: String,
    username: String,
    role: String,
    created_at: i64,
    disabled_at: Option<i64>,
    sessions: i64,
}

impl UserRow {
    /// Reads the row's first six columns.
    fn from_sqlite(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get(0)?,
            username: r.get(1)?,
            role: r.get(2)?,
            created_at: r.get(3)?,
            disabled_at: r.get(4)?,
            sessions: r.get(5)?,
        })
    }

    fn into_user(self) -> StoreResult<User> {
        Ok(User {
            id: self.id,
            username: self.username,
            role: Role::parse(&self.role).map_err(StoreError::Corrupt)?,
            created_at: self.created_at,
            disabled: self.disabled_at.is_some(),
            sessions: self.sessions,
        })
    }
}

/// An audit entry as stored.
#[derive(Debug, sqlx::FromRow)]
struct AuditRow {
    id: String,
    at: i64,
    actor: String,
    role: String,
    action: String,
    target: String,
    status: i64,
    request_id: String,
}

impl AuditRow {
    fn from_sqlite(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get(0)?,
            at: r.get(1)?,
            actor: r.get(2)?,
            role: r.get(3)?,
            action: r.get(4)?,
            target: r.get(5)?,
            status: r.get(6)?,
            request_id: r.get(7)?,
        })
    }
}

impl From<AuditRow> for AuditEntry {
    fn from(r: AuditRow) -> Self {
        AuditEntry {
            id: r.id,
            at: r.at,
            actor: r.actor,
            role: r.role,
            action: r.action,
            target: r.target,
            status: r.status,
            request_id: r.request_id,
        }
    }
}

fn last_admin() -> StoreError {
    StoreError::Conflict(
        "Orchard needs at least one enabled admin: make someone else admin first".into(),
    )
}

/// A role change may not leave no enabled admin.
fn check_role_change(user: &User, role: Role, enabled_admins: i64) -> StoreResult<()> {
    if user.role == Role::Admin && role != Role::Admin && !user.disabled && enabled_admins <= 1 {
        return Err(last_admin());
    }
    Ok(())
}

/// Disabling may not leave no enabled admin.
fn check_disable(user: &User, disabled: bool, enabled_admins: i64) -> StoreResult<()> {
    if disabled && !user.disabled && user.role == Role::Admin && enabled_admins <= 1 {
        return Err(last_admin());
    }
    Ok(())
}

fn taken(username: &str) -> StoreError {
    StoreError::Conflict(format!("the username {username:?} is taken"))
}

fn no_user(username: &str) -> StoreError {
    StoreError::NotFound(format!("user {username:?}"))
}

/// A session's last use is written at most once a minute.
const SESSION_TOUCH_MS: i64 = 60_000;

/// The audit query for a filter: the statement and its parameters, in order.
fn audit_query(f: &AuditFilter) -> (String, Vec<Param>) {
    let mut sql = sql::LIST_AUDIT.to_string();
    let mut params = Vec::new();
    let mut push = |cond: &str, p: Param, sql: &mut String| {
        params.push(p);
        sql.push_str(&cond.replace('#', &format!("${}", params.len())));
    };
    if let Some(actor) = f.actor.as_deref().filter(|a| !a.is_empty()) {
        push(" AND actor = #", Param::Text(actor.to_string()), &mut sql);
    }
    if let Some(action) = f.action.as_deref().filter(|a| !a.is_empty()) {
        // A case-blind substring match; LIKE wildcards in the text are literal.
        push(
            " AND LOWER(action) LIKE # ESCAPE '\\'",
            Param::Text(contains_pattern(&action.to_lowercase())),
            &mut sql,
        );
    }
    if let Some(before) = f.before.as_deref().filter(|b| !b.is_empty()) {
        push(" AND id < #", Param::Text(before.to_string()), &mut sql);
    }
    push(
        " ORDER BY id DESC LIMIT #",
        Param::Int(f.limit.unwrap_or(100).clamp(1, 500)),
        &mut sql,
    );
    (sql, params)
}
