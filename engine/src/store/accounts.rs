//! The accounts part of the store: users, sessions, setup links and the audit log. The SQL is
//! shared by SQLite and Postgres like the rest (`accounts_impl!`).

use super::StoreResult;
use crate::Millis;
use crate::accounts::model::{AuditEntry, AuditFilter, Role, User};
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
}

macro_rules! accounts_impl {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::accounts::AccountStore for $store {
            async fn count_users(&self) -> $crate::store::StoreResult<i64> {
                Ok(sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM users")
                    .fetch_one(&self.read)
                    .await?)
            }

            async fn create_user(
                &self,
                username: &str,
                password_hash: &str,
                role: $crate::accounts::model::Role,
                now: i64,
            ) -> $crate::store::StoreResult<$crate::accounts::model::User> {
                let id = uuid::Uuid::now_v7().to_string();
                let done = sqlx::query(
                    "INSERT INTO users (id, username, password_hash, role, created_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username) DO NOTHING",
                )
                .bind(&id)
                .bind(username)
                .bind(password_hash)
                .bind(role.as_str())
                .bind(now)
                .execute(&self.write)
                .await?;
                if done.rows_affected() == 0 {
                    return Err($crate::store::StoreError::Conflict(format!(
                        "the username {username:?} is taken"
                    )));
                }
                Ok($crate::accounts::model::User {
                    id,
                    username: username.to_string(),
                    role,
                    created_at: now,
                    disabled: false,
                    sessions: 0,
                })
            }

            async fn list_users(
                &self,
                now: i64,
            ) -> $crate::store::StoreResult<Vec<$crate::accounts::model::User>> {
                let rows = sqlx::query_as::<_, (String, String, String, i64, Option<i64>, i64)>(
                    "SELECT u.id, u.username, u.role, u.created_at, u.disabled_at, \
                     (SELECT COUNT(*) FROM sessions s WHERE s.user_id = u.id \
                        AND s.expires_at > $1) \
                     FROM users u ORDER BY u.username",
                )
                .bind(now)
                .fetch_all(&self.read)
                .await?;
                rows.into_iter().map(user_row).collect()
            }

            async fn credentials(
                &self,
                username: &str,
            ) -> $crate::store::StoreResult<Option<$crate::store::accounts::Credentials>> {
                let row = sqlx::query_as::<_, (String, String, String, i64, Option<i64>, String)>(
                    "SELECT id, username, role, created_at, disabled_at, password_hash \
                     FROM users WHERE username = $1",
                )
                .bind(username)
                .fetch_optional(&self.read)
                .await?;
                row.map(|(id, name, role, created, disabled, hash)| {
                    Ok($crate::store::accounts::Credentials {
                        user: user_row((id, name, role, created, disabled, 0))?,
                        password_hash: hash,
                    })
                })
                .transpose()
            }

            async fn set_role(
                &self,
                username: &str,
                role: $crate::accounts::model::Role,
            ) -> $crate::store::StoreResult<$crate::accounts::model::User> {
                let mut tx = self.write.begin().await?;
                let user = Self::user_tx(&mut tx, username).await?;
                if user.role == $crate::accounts::model::Role::Admin
                    && role != $crate::accounts::model::Role::Admin
                    && !user.disabled
                    && Self::enabled_admins_tx(&mut tx).await? <= 1
                {
                    let _ = tx.rollback().await;
                    return Err(last_admin());
                }
                sqlx::query("UPDATE users SET role = $2 WHERE id = $1")
                    .bind(&user.id)
                    .bind(role.as_str())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok($crate::accounts::model::User { role, ..user })
            }

            async fn set_password(
                &self,
                username: &str,
                password_hash: &str,
            ) -> $crate::store::StoreResult<()> {
                let mut tx = self.write.begin().await?;
                let user = Self::user_tx(&mut tx, username).await?;
                sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
                    .bind(&user.id)
                    .bind(password_hash)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                    .bind(&user.id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn set_disabled(
                &self,
                username: &str,
                disabled: bool,
                now: i64,
            ) -> $crate::store::StoreResult<$crate::accounts::model::User> {
                let mut tx = self.write.begin().await?;
                let user = Self::user_tx(&mut tx, username).await?;
                if disabled
                    && !user.disabled
                    && user.role == $crate::accounts::model::Role::Admin
                    && Self::enabled_admins_tx(&mut tx).await? <= 1
                {
                    let _ = tx.rollback().await;
                    return Err(last_admin());
                }
                sqlx::query("UPDATE users SET disabled_at = $2 WHERE id = $1")
                    .bind(&user.id)
                    .bind(disabled.then_some(now))
                    .execute(&mut *tx)
                    .await?;
                if disabled {
                    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                        .bind(&user.id)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok($crate::accounts::model::User {
                    disabled,
                    sessions: 0,
                    ..user
                })
            }

            async fn create_session(
                &self,
                hash: &str,
                user_id: &str,
                now: i64,
                expires_at: i64,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query(
                    "INSERT INTO sessions (hash, user_id, created_at, last_seen_at, expires_at) \
                     VALUES ($1, $2, $3, $3, $4)",
                )
                .bind(hash)
                .bind(user_id)
                .bind(now)
                .bind(expires_at)
                .execute(&self.write)
                .await?;
                Ok(())
            }

            async fn session_user(
                &self,
                hash: &str,
                idle_ms: i64,
                now: i64,
            ) -> $crate::store::StoreResult<Option<$crate::accounts::model::User>> {
                let row = sqlx::query_as::<_, (String, String, String, i64, Option<i64>, i64)>(
                    "SELECT u.id, u.username, u.role, u.created_at, u.disabled_at, s.last_seen_at \
                     FROM sessions s JOIN users u ON u.id = s.user_id \
                     WHERE s.hash = $1 AND s.expires_at > $2 AND s.last_seen_at > $3 \
                       AND u.disabled_at IS NULL",
                )
                .bind(hash)
                .bind(now)
                .bind(now - idle_ms)
                .fetch_optional(&self.read)
                .await?;
                let Some((id, name, role, created, disabled, seen)) = row else {
                    return Ok(None);
                };
                if now - seen > 60_000 {
                    sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE hash = $1")
                        .bind(hash)
                        .bind(now)
                        .execute(&self.write)
                        .await?;
                }
                Ok(Some(user_row((id, name, role, created, disabled, 1))?))
            }

            async fn delete_session(&self, hash: &str) -> $crate::store::StoreResult<()> {
                sqlx::query("DELETE FROM sessions WHERE hash = $1")
                    .bind(hash)
                    .execute(&self.write)
                    .await?;
                Ok(())
            }

            async fn delete_user_sessions(&self, user_id: &str) -> $crate::store::StoreResult<u64> {
                Ok(sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&self.write)
                    .await?
                    .rows_affected())
            }

            async fn create_setup_link(
                &self,
                hash: &str,
                now: i64,
                expires_at: i64,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query(
                    "INSERT INTO setup_links (hash, created_at, expires_at) VALUES ($1, $2, $3)",
                )
                .bind(hash)
                .bind(now)
                .bind(expires_at)
                .execute(&self.write)
                .await?;
                Ok(())
            }

            async fn use_setup_link(&self, hash: &str, now: i64) -> $crate::store::StoreResult<bool> {
                Ok(sqlx::query(
                    "UPDATE setup_links SET used_at = $2 \
                     WHERE hash = $1 AND used_at IS NULL AND expires_at > $2",
                )
                .bind(hash)
                .bind(now)
                .execute(&self.write)
                .await?
                .rows_affected()
                    == 1)
            }

            async fn record_audit(
                &self,
                e: &$crate::accounts::model::AuditEntry,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query(
                    "INSERT INTO audit_log (id, at, actor, role, action, target, status, request_id) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&e.id)
                .bind(e.at)
                .bind(&e.actor)
                .bind(&e.role)
                .bind(&e.action)
                .bind(&e.target)
                .bind(e.status)
                .bind(&e.request_id)
                .execute(&self.write)
                .await?;
                Ok(())
            }

            async fn list_audit(
                &self,
                f: &$crate::accounts::model::AuditFilter,
            ) -> $crate::store::StoreResult<Vec<$crate::accounts::model::AuditEntry>> {
                let mut qb = sqlx::QueryBuilder::<$db>::new(
                    "SELECT id, at, actor, role, action, target, status, request_id \
                     FROM audit_log WHERE 1 = 1",
                );
                if let Some(actor) = f.actor.as_deref().filter(|a| !a.is_empty()) {
                    qb.push(" AND actor = ").push_bind(actor.to_string());
                }
                if let Some(action) = f.action.as_deref().filter(|a| !a.is_empty()) {
                    // A case-blind substring match; LIKE wildcards in the text are literal.
                    let escaped = action
                        .to_lowercase()
                        .replace('\\', "\\\\")
                        .replace('%', "\\%")
                        .replace('_', "\\_");
                    qb.push(" AND LOWER(action) LIKE ")
                        .push_bind(format!("%{escaped}%"))
                        .push(" ESCAPE '\\'");
                }
                if let Some(before) = f.before.as_deref().filter(|b| !b.is_empty()) {
                    qb.push(" AND id < ").push_bind(before.to_string());
                }
                qb.push(" ORDER BY id DESC LIMIT ")
                    .push_bind(f.limit.unwrap_or(100).clamp(1, 500));
                let rows = qb
                    .build_query_as::<(String, i64, String, String, String, String, i64, String)>()
                    .fetch_all(&self.read)
                    .await?;
                Ok(rows
                    .into_iter()
                    .map(|(id, at, actor, role, action, target, status, request_id)| {
                        $crate::accounts::model::AuditEntry {
                            id,
                            at,
                            actor,
                            role,
                            action,
                            target,
                            status,
                            request_id,
                        }
                    })
                    .collect())
            }
        }

        impl $store {
            async fn user_tx(
                tx: &mut sqlx::Transaction<'_, $db>,
                username: &str,
            ) -> $crate::store::StoreResult<$crate::accounts::model::User> {
                let row = sqlx::query_as::<_, (String, String, String, i64, Option<i64>, i64)>(
                    "SELECT id, username, role, created_at, disabled_at, CAST(0 AS BIGINT) FROM users \
                     WHERE username = $1",
                )
                .bind(username)
                .fetch_optional(&mut **tx)
                .await?
                .ok_or_else(|| $crate::store::StoreError::NotFound(format!("user {username:?}")))?;
                user_row(row)
            }

            async fn enabled_admins_tx(
                tx: &mut sqlx::Transaction<'_, $db>,
            ) -> $crate::store::StoreResult<i64> {
                Ok(sqlx::query_scalar::<_, i64>(
                    "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL",
                )
                .fetch_one(&mut **tx)
                .await?)
            }
        }
    };
}

pub(super) use accounts_impl;

pub(super) fn user_row(
    (id, username, role, created_at, disabled_at, sessions): (
        String,
        String,
        String,
        i64,
        Option<i64>,
        i64,
    ),
) -> StoreResult<User> {
    Ok(User {
        id,
        username,
        role: Role::parse(&role).map_err(super::StoreError::Corrupt)?,
        created_at,
        disabled: disabled_at.is_some(),
        sessions,
    })
}

pub(super) fn last_admin() -> super::StoreError {
    super::StoreError::Conflict(
        "Orchard needs at least one enabled admin: make someone else admin first".into(),
    )
}
