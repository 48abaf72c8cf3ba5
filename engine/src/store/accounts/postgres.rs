//! The accounts on Postgres.

use super::{AccountStore, AuditRow, Credentials, GrantRow, TokenGrant, TokenRow, UserRow, sql};
use crate::Millis;
use crate::accounts::model::{AuditEntry, AuditFilter, Role, TokenInfo, User};
use crate::store::StoreResult;
use crate::store::param::bind_pg;
use crate::store::postgres::{PgStore, finish};
use async_trait::async_trait;
use sqlx::{PgConnection, Postgres, Transaction};

async fn user_by_name(c: &mut PgConnection, username: &str) -> StoreResult<User> {
    sqlx::query_as::<_, UserRow>(sql::USER_BY_NAME)
        .bind(username)
        .fetch_optional(&mut *c)
        .await?
        .ok_or_else(|| super::no_user(username))?
        .into_user()
}

async fn enabled_admins(c: &mut PgConnection) -> StoreResult<i64> {
    Ok(sqlx::query_scalar(sql::ENABLED_ADMINS).fetch_one(c).await?)
}

/// A credentials row: the user's columns, then the hash.
#[derive(sqlx::FromRow)]
struct CredentialsRow {
    #[sqlx(flatten)]
    user: UserRow,
    password_hash: String,
}

/// A live session's row: the user's columns, then when it was last seen.
#[derive(sqlx::FromRow)]
struct SessionRow {
    #[sqlx(flatten)]
    user: UserRow,
    last_seen_at: i64,
}

async fn begin(st: &PgStore) -> StoreResult<Transaction<'static, Postgres>> {
    Ok(st.write.begin().await?)
}

#[async_trait]
impl AccountStore for PgStore {
    async fn count_users(&self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(sql::COUNT_USERS)
            .fetch_one(&self.read)
            .await?)
    }

    async fn create_user(
        &self,
        username: &str,
        password_hash: &str,
        role: Role,
        now: Millis,
    ) -> StoreResult<User> {
        let id = uuid::Uuid::now_v7().to_string();
        let done = sqlx::query(sql::CREATE_USER)
            .bind(&id)
            .bind(username)
            .bind(password_hash)
            .bind(role.as_str())
            .bind(now)
            .execute(&self.write)
            .await?;
        if done.rows_affected() == 0 {
            return Err(super::taken(username));
        }
        Ok(User {
            id,
            username: username.to_string(),
            role,
            created_at: now,
            disabled: false,
            sessions: 0,
        })
    }

    async fn list_users(&self, now: Millis) -> StoreResult<Vec<User>> {
        sqlx::query_as::<_, UserRow>(sql::LIST_USERS)
            .bind(now)
            .fetch_all(&self.read)
            .await?
            .into_iter()
            .map(UserRow::into_user)
            .collect()
    }

    async fn credentials(&self, username: &str) -> StoreResult<Option<Credentials>> {
        sqlx::query_as::<_, CredentialsRow>(sql::CREDENTIALS)
            .bind(username)
            .fetch_optional(&self.read)
            .await?
            .map(|r| {
                Ok(Credentials {
                    user: r.user.into_user()?,
                    password_hash: r.password_hash,
                })
            })
            .transpose()
    }

    async fn set_role(&self, username: &str, role: Role) -> StoreResult<User> {
        let mut tx = begin(self).await?;
        let out: StoreResult<_> = async {
            let user = user_by_name(&mut tx, username).await?;
            super::check_role_change(&user, role, enabled_admins(&mut tx).await?)?;
            sqlx::query(sql::SET_ROLE)
                .bind(&user.id)
                .bind(role.as_str())
                .execute(&mut *tx)
                .await?;
            Ok(User { role, ..user })
        }
        .await;
        finish(tx, out).await
    }

    async fn set_password(&self, username: &str, password_hash: &str) -> StoreResult<()> {
        let mut tx = begin(self).await?;
        let out: StoreResult<_> = async {
            let user = user_by_name(&mut tx, username).await?;
            sqlx::query(sql::SET_PASSWORD)
                .bind(&user.id)
                .bind(password_hash)
                .execute(&mut *tx)
                .await?;
            sqlx::query(sql::DELETE_USER_SESSIONS)
                .bind(&user.id)
                .execute(&mut *tx)
                .await?;
            Ok(())
        }
        .await;
        finish(tx, out).await
    }

    async fn set_disabled(&self, username: &str, disabled: bool, now: Millis) -> StoreResult<User> {
        let mut tx = begin(self).await?;
        let out: StoreResult<_> = async {
            let user = user_by_name(&mut tx, username).await?;
            super::check_disable(&user, disabled, enabled_admins(&mut tx).await?)?;
            sqlx::query(sql::SET_DISABLED)
                .bind(&user.id)
                .bind(disabled.then_some(now))
                .execute(&mut *tx)
                .await?;
            if disabled {
                sqlx::query(sql::DELETE_USER_SESSIONS)
                    .bind(&user.id)
                    .execute(&mut *tx)
                    .await?;
            }
            Ok(User {
                disabled,
                sessions: 0,
                ..user
            })
        }
        .await;
        finish(tx, out).await
    }

    async fn create_session(
        &self,
        hash: &str,
        user_id: &str,
        now: Millis,
        expires_at: Millis,
    ) -> StoreResult<()> {
        sqlx::query(sql::CREATE_SESSION)
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
        now: Millis,
    ) -> StoreResult<Option<User>> {
        let Some(row) = sqlx::query_as::<_, SessionRow>(sql::SESSION_USER)
            .bind(hash)
            .bind(now)
            .bind(now - idle_ms)
            .fetch_optional(&self.read)
            .await?
        else {
            return Ok(None);
        };
        if now - row.last_seen_at > super::SESSION_TOUCH_MS {
            sqlx::query(sql::TOUCH_SESSION)
                .bind(hash)
                .bind(now)
                .execute(&self.write)
                .await?;
        }
        Ok(Some(row.user.into_user()?))
    }

    async fn delete_session(&self, hash: &str) -> StoreResult<()> {
        sqlx::query(sql::DELETE_SESSION)
            .bind(hash)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn delete_user_sessions(&self, user_id: &str) -> StoreResult<u64> {
        Ok(sqlx::query(sql::DELETE_USER_SESSIONS)
            .bind(user_id)
            .execute(&self.write)
            .await?
            .rows_affected())
    }

    async fn create_setup_link(
        &self,
        hash: &str,
        now: Millis,
        expires_at: Millis,
    ) -> StoreResult<()> {
        sqlx::query(sql::CREATE_SETUP_LINK)
            .bind(hash)
            .bind(now)
            .bind(expires_at)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn use_setup_link(&self, hash: &str, now: Millis) -> StoreResult<bool> {
        Ok(sqlx::query(sql::USE_SETUP_LINK)
            .bind(hash)
            .bind(now)
            .execute(&self.write)
            .await?
            .rows_affected()
            == 1)
    }

    async fn record_audit(&self, e: &AuditEntry) -> StoreResult<()> {
        sqlx::query(sql::RECORD_AUDIT)
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

    async fn list_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        let (text, params) = super::audit_query(filter);
        Ok(bind_pg(sqlx::query_as::<_, AuditRow>(&text), &params)
            .fetch_all(&self.read)
            .await?
            .into_iter()
            .map(AuditEntry::from)
            .collect())
    }

    async fn create_token(
        &self,
        name: &str,
        hash: &str,
        scopes: &str,
        username: Option<&str>,
        now: Millis,
    ) -> StoreResult<TokenInfo> {
        let id = uuid::Uuid::now_v7().to_string();
        let user_id: Option<String> = match username {
            Some(u) => Some(
                sqlx::query_scalar(sql::USER_ID)
                    .bind(u)
                    .fetch_optional(&self.read)
                    .await?
                    .ok_or_else(|| super::no_user(u))?,
            ),
            None => None,
        };
        let done = sqlx::query(sql::CREATE_TOKEN)
            .bind(&id)
            .bind(name)
            .bind(hash)
            .bind(now)
            .bind(scopes)
            .bind(&user_id)
            .execute(&self.write)
            .await?;
        if done.rows_affected() == 0 {
            return Err(super::token_taken(name));
        }
        Ok(TokenInfo {
            id,
            name: name.to_string(),
            scopes: scopes.to_string(),
            username: username.map(str::to_string),
            created_at: now,
            last_used_at: None,
            revoked_at: None,
        })
    }

    async fn list_tokens(&self) -> StoreResult<Vec<TokenInfo>> {
        Ok(sqlx::query_as::<_, TokenRow>(sql::LIST_TOKENS)
            .fetch_all(&self.read)
            .await?
            .into_iter()
            .map(TokenInfo::from)
            .collect())
    }

    async fn revoke_token(&self, name_or_id: &str, now: Millis) -> StoreResult<TokenInfo> {
        sqlx::query(sql::REVOKE_TOKEN)
            .bind(name_or_id)
            .bind(now)
            .execute(&self.write)
            .await?;
        super::find_token(self.list_tokens().await?, name_or_id)
    }

    async fn token_grant(&self, hash: &str) -> StoreResult<Option<TokenGrant>> {
        sqlx::query_as::<_, GrantRow>(sql::TOKEN_GRANT)
            .bind(hash)
            .fetch_optional(&self.read)
            .await?
            .map(GrantRow::into_grant)
            .transpose()
    }

    async fn touch_token(&self, id: &str, now: Millis) -> StoreResult<()> {
        sqlx::query(sql::TOUCH_TOKEN)
            .bind(id)
            .bind(now)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn any_token(&self) -> StoreResult<bool> {
        let n: i64 = sqlx::query_scalar(sql::LIVE_TOKENS)
            .fetch_one(&self.read)
            .await?;
        Ok(n > 0)
    }
}
