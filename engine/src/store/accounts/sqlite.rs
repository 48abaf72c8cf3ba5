//! The accounts on SQLite: reads on the readers, writes on the writer (`store/sqlite`).

use super::{AccountStore, AuditRow, Credentials, GrantRow, TokenGrant, TokenRow, UserRow, sql};
use crate::Millis;
use crate::accounts::model::{AuditEntry, AuditFilter, Role, TokenInfo, User};
use crate::store::sqlite::{SqliteStore, sql as lite, sql_built};
use crate::store::{StoreError, StoreResult};
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension};

fn user_by_name(c: &Connection, username: &str) -> StoreResult<User> {
    c.prepare_cached(lite(sql::USER_BY_NAME))?
        .query_row([username], UserRow::from_sqlite)
        .optional()?
        .ok_or_else(|| super::no_user(username))?
        .into_user()
}

fn enabled_admins(c: &Connection) -> StoreResult<i64> {
    Ok(c.prepare_cached(sql::ENABLED_ADMINS)?
        .query_row([], |r| r.get(0))?)
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn count_users(&self) -> StoreResult<i64> {
        self.readers
            .read(|c| {
                Ok(c.prepare_cached(sql::COUNT_USERS)?
                    .query_row([], |r| r.get(0))?)
            })
            .await
    }

    async fn create_user(
        &self,
        username: &str,
        password_hash: &str,
        role: Role,
        now: Millis,
    ) -> StoreResult<User> {
        let id = uuid::Uuid::now_v7().to_string();
        let (i, name, hash) = (id.clone(), username.to_string(), password_hash.to_string());
        let inserted = self
            .on_writer(move |c| {
                Ok(c.prepare_cached(lite(sql::CREATE_USER))?.execute((
                    &i,
                    &name,
                    &hash,
                    role.as_str(),
                    now,
                ))?)
            })
            .await?;
        if inserted == 0 {
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
        self.readers
            .read(|c| {
                c.prepare_cached(lite(sql::LIST_USERS))?
                    .query_map([now], UserRow::from_sqlite)?
                    .map(|r| r.map_err(StoreError::from)?.into_user())
                    .collect()
            })
            .await
    }

    async fn credentials(&self, username: &str) -> StoreResult<Option<Credentials>> {
        self.readers
            .read(|c| {
                let row = c
                    .prepare_cached(lite(sql::CREDENTIALS))?
                    .query_row([username], |r| Ok((UserRow::from_sqlite(r)?, r.get(6)?)))
                    .optional()?;
                row.map(|(user, password_hash)| {
                    Ok(Credentials {
                        user: UserRow::into_user(user)?,
                        password_hash,
                    })
                })
                .transpose()
            })
            .await
    }

    async fn set_role(&self, username: &str, role: Role) -> StoreResult<User> {
        let username = username.to_string();
        self.on_writer(move |c| {
            let user = user_by_name(c, &username)?;
            super::check_role_change(&user, role, enabled_admins(c)?)?;
            c.prepare_cached(lite(sql::SET_ROLE))?
                .execute((&user.id, role.as_str()))?;
            Ok(User { role, ..user })
        })
        .await
    }

    async fn set_password(&self, username: &str, password_hash: &str) -> StoreResult<()> {
        let (username, hash) = (username.to_string(), password_hash.to_string());
        self.on_writer(move |c| {
            let user = user_by_name(c, &username)?;
            c.prepare_cached(lite(sql::SET_PASSWORD))?
                .execute((&user.id, &hash))?;
            c.prepare_cached(lite(sql::DELETE_USER_SESSIONS))?
                .execute([&user.id])?;
            Ok(())
        })
        .await
    }

    async fn set_disabled(&self, username: &str, disabled: bool, now: Millis) -> StoreResult<User> {
        let username = username.to_string();
        self.on_writer(move |c| {
            let user = user_by_name(c, &username)?;
            super::check_disable(&user, disabled, enabled_admins(c)?)?;
            c.prepare_cached(lite(sql::SET_DISABLED))?
                .execute((&user.id, disabled.then_some(now)))?;
            if disabled {
                c.prepare_cached(lite(sql::DELETE_USER_SESSIONS))?
                    .execute([&user.id])?;
            }
            Ok(User {
                disabled,
                sessions: 0,
                ..user
            })
        })
        .await
    }

    async fn create_session(
        &self,
        hash: &str,
        user_id: &str,
        now: Millis,
        expires_at: Millis,
    ) -> StoreResult<()> {
        let (hash, user_id) = (hash.to_string(), user_id.to_string());
        self.on_writer(move |c| {
            c.prepare_cached(lite(sql::CREATE_SESSION))?
                .execute((&hash, &user_id, now, expires_at))?;
            Ok(())
        })
        .await
    }

    async fn session_user(
        &self,
        hash: &str,
        idle_ms: i64,
        now: Millis,
    ) -> StoreResult<Option<User>> {
        let row = self
            .readers
            .read(|c| {
                Ok(c.prepare_cached(lite(sql::SESSION_USER))?
                    .query_row((hash, now, now - idle_ms), |r| {
                        Ok((UserRow::from_sqlite(r)?, r.get::<_, i64>(6)?))
                    })
                    .optional()?)
            })
            .await?;
        let Some((user, seen)) = row else {
            return Ok(None);
        };
        if now - seen > super::SESSION_TOUCH_MS {
            let hash = hash.to_string();
            self.on_writer(move |c| {
                c.prepare_cached(lite(sql::TOUCH_SESSION))?
                    .execute((&hash, now))?;
                Ok(())
            })
            .await?;
        }
        Ok(Some(user.into_user()?))
    }

    async fn delete_session(&self, hash: &str) -> StoreResult<()> {
        let hash = hash.to_string();
        self.on_writer(move |c| {
            c.prepare_cached(lite(sql::DELETE_SESSION))?
                .execute([&hash])?;
            Ok(())
        })
        .await
    }

    async fn delete_user_sessions(&self, user_id: &str) -> StoreResult<u64> {
        let user_id = user_id.to_string();
        self.on_writer(move |c| {
            Ok(c.prepare_cached(lite(sql::DELETE_USER_SESSIONS))?
                .execute([&user_id])? as u64)
        })
        .await
    }

    async fn create_setup_link(
        &self,
        hash: &str,
        now: Millis,
        expires_at: Millis,
    ) -> StoreResult<()> {
        let hash = hash.to_string();
        self.on_writer(move |c| {
            c.prepare_cached(lite(sql::CREATE_SETUP_LINK))?
                .execute((&hash, now, expires_at))?;
            Ok(())
        })
        .await
    }

    async fn use_setup_link(&self, hash: &str, now: Millis) -> StoreResult<bool> {
        let hash = hash.to_string();
        self.on_writer(move |c| {
            Ok(c.prepare_cached(lite(sql::USE_SETUP_LINK))?
                .execute((&hash, now))?
                == 1)
        })
        .await
    }

    async fn record_audit(&self, e: &AuditEntry) -> StoreResult<()> {
        let e = e.clone();
        self.on_writer(move |c| {
            c.prepare_cached(lite(sql::RECORD_AUDIT))?.execute((
                &e.id,
                e.at,
                &e.actor,
                &e.role,
                &e.action,
                &e.target,
                e.status,
                &e.request_id,
            ))?;
            Ok(())
        })
        .await
    }

    async fn list_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        let (text, params) = super::audit_query(filter);
        let text = sql_built(&text);
        self.readers
            .read(|c| {
                Ok(c.prepare(&text)?
                    .query_map(rusqlite::params_from_iter(&params), AuditRow::from_sqlite)?
                    .map(|r| r.map(AuditEntry::from))
                    .collect::<Result<_, _>>()?)
            })
            .await
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
        let (i, n, h, sc, user) = (
            id.clone(),
            name.to_string(),
            hash.to_string(),
            scopes.to_string(),
            username.map(str::to_string),
        );
        let inserted = self
            .on_writer(move |c| {
                let user_id: Option<String> = match &user {
                    Some(u) => Some(
                        c.prepare_cached(lite(sql::USER_ID))?
                            .query_row([u], |r| r.get(0))
                            .optional()?
                            .ok_or_else(|| super::no_user(u))?,
                    ),
                    None => None,
                };
                Ok(c.prepare_cached(lite(sql::CREATE_TOKEN))?
                    .execute((&i, &n, &h, now, &sc, &user_id))?)
            })
            .await?;
        if inserted == 0 {
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
        self.readers
            .read(|c| {
                Ok(c.prepare_cached(sql::LIST_TOKENS)?
                    .query_map([], TokenRow::from_sqlite)?
                    .map(|r| r.map(TokenInfo::from))
                    .collect::<Result<_, _>>()?)
            })
            .await
    }

    async fn revoke_token(&self, name_or_id: &str, now: Millis) -> StoreResult<TokenInfo> {
        let key = name_or_id.to_string();
        self.on_writer(move |c| {
            c.prepare_cached(lite(sql::REVOKE_TOKEN))?
                .execute((&key, now))?;
            Ok(())
        })
        .await?;
        super::find_token(self.list_tokens().await?, name_or_id)
    }

    async fn token_grant(&self, hash: &str) -> StoreResult<Option<TokenGrant>> {
        self.readers
            .read(|c| {
                Ok(c.prepare_cached(lite(sql::TOKEN_GRANT))?
                    .query_row([hash], GrantRow::from_sqlite)
                    .optional()?)
            })
            .await?
            .map(GrantRow::into_grant)
            .transpose()
    }

    async fn touch_token(&self, id: &str, now: Millis) -> StoreResult<()> {
        let id = id.to_string();
        self.on_writer(move |c| {
            c.prepare_cached(lite(sql::TOUCH_TOKEN))?
                .execute((&id, now))?;
            Ok(())
        })
        .await
    }

    async fn any_token(&self) -> StoreResult<bool> {
        self.readers
            .read(|c| {
                let n: i64 = c
                    .prepare_cached(sql::LIVE_TOKENS)?
                    .query_row([], |r| r.get(0))?;
                Ok(n > 0)
            })
            .await
    }
}
