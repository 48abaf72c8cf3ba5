//! Signing in and out, the first admin, user management and the audit log. The HTTP layer
//! resolves each request's [`Caller`]; server functions check it with [`crate::require!`].

use super::model::{AuditEntry, AuditFilter, Me, Role, User, check_password, check_username};
pub use super::sessions::SessionSettings;
use super::{password, secret};
use crate::error::{AppError, AppResult};
use crate::now_millis;
use crate::state::AppState;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "orchard_session";
/// Its name over HTTPS: the `__Host-` prefix makes browsers refuse it unless it is
/// `Secure`, set by this host itself and for the whole site, so no subdomain can plant one.
pub const SECURE_SESSION_COOKIE: &str = "__Host-orchard_session";

/// Who is making a request; the HTTP layer puts one in every request's extensions.
#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    /// A username, a token's name, `service` (the `ORCHARD_API_TOKEN`), or `anonymous`.
    pub name: String,
    /// `None` for anonymous callers.
    pub role: Option<Role>,
    pub kind: CallerKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CallerKind {
    Anonymous,
    /// Signed in with a session cookie (the hash of which is kept to sign out).
    Session {
        user_id: String,
        session_hash: String,
    },
    /// The service token or a stored API token.
    Token,
}

impl Caller {
    pub fn anonymous() -> Self {
        Caller {
            name: "anonymous".into(),
            role: None,
            kind: CallerKind::Anonymous,
        }
    }

    /// The username of a signed-in person; `None` for tokens and anonymous callers.
    pub fn person(&self) -> Option<&str> {
        matches!(self.kind, CallerKind::Session { .. }).then_some(self.name.as_str())
    }

    /// The user id of a signed-in person.
    pub fn user_id(&self) -> Option<&str> {
        match &self.kind {
            CallerKind::Session { user_id, .. } => Some(user_id),
            _ => None,
        }
    }

    pub fn me(&self) -> Option<Me> {
        self.role.map(|role| Me {
            name: self.name.clone(),
            role,
            person: matches!(self.kind, CallerKind::Session { .. }),
        })
    }

    /// `Unauthorized` for nobody, `Forbidden` for a role below `needed`.
    pub fn check(&self, needed: Role) -> AppResult<()> {
        match self.role {
            None if self.kind == CallerKind::Token => Err(AppError::Forbidden(format!(
                "{} may only use the worker routes: its scopes include neither read nor write",
                self.name
            ))),
            None => Err(AppError::Unauthorized("sign in first".into())),
            Some(r) if r.allows(needed) => Ok(()),
            Some(r) => Err(AppError::Forbidden(format!(
                "this needs the {needed} role; {} is {r}",
                self.name
            ))),
        }
    }
}

/// The caller of the current server function or page render (read through
/// [`crate::access::grant`], which checks it first).
pub(crate) fn current() -> Caller {
    leptos::prelude::use_context::<axum::http::request::Parts>()
        .and_then(|p| p.extensions.get::<Caller>().cloned())
        .unwrap_or_else(Caller::anonymous)
}

/// The client's address as the HTTP layer worked it out (through trusted proxies only).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub std::net::IpAddr);

/// The address of the client of the current server function, if the HTTP layer gave one.
pub fn client_addr() -> Option<std::net::IpAddr> {
    leptos::prelude::use_context::<axum::http::request::Parts>()
        .and_then(|p| p.extensions.get::<ClientAddr>().map(|c| c.0))
}

fn wrong_credentials() -> AppError {
    AppError::Unauthorized("wrong username or password".into())
}

/// Checks a username and password and opens a session; returns the cookie value.
/// Attempts are throttled per client address and per username (see `throttle`).
pub async fn sign_in(st: &AppState, username: &str, pw: &str) -> AppResult<(String, User)> {
    let username = username.trim();
    st.sign_in.admit(client_addr(), username)?;
    let _hashing = st.sign_in.hashing().await;
    let Some(cred) = st.accounts.credentials(username).await? else {
        password::dummy_verify(pw).await;
        st.sign_in.record(username, false);
        return Err(wrong_credentials());
    };
    if !password::verify(pw, &cred.password_hash).await || cred.user.disabled {
        st.sign_in.record(username, false);
        return Err(wrong_credentials());
    }
    st.sign_in.record(username, true);
    let token = open_session(st, &cred.user.id).await?;
    Ok((token, cred.user))
}

async fn open_session(st: &AppState, user_id: &str) -> AppResult<String> {
    let token = secret::generate("");
    let now = now_millis();
    st.accounts
        .create_session(
            &secret::hash(&token),
            user_id,
            now,
            now + st.sessions.max_ms,
        )
        .await?;
    Ok(token)
}

/// The user a session cookie belongs to, if the session is alive.
pub async fn session_user(st: &AppState, cookie: &str) -> AppResult<Option<(User, String)>> {
    let hash = secret::hash(cookie);
    Ok(st
        .accounts
        .session_user(&hash, st.sessions.idle_ms, now_millis())
        .await?
        .map(|u| (u, hash)))
}

pub async fn sign_out(st: &AppState, caller: &Caller) -> AppResult<()> {
    if let CallerKind::Session { session_hash, .. } = &caller.kind {
        st.accounts.delete_session(session_hash).await?;
    }
    Ok(())
}

/// Ends every session of the caller; returns how many there were.
pub async fn sign_out_everywhere(st: &AppState, caller: &Caller) -> AppResult<u64> {
    match &caller.kind {
        CallerKind::Session { user_id, .. } => {
            Ok(st.accounts.delete_user_sessions(user_id).await?)
        }
        _ => Err(AppError::Invalid(
            "only a signed-in person has sessions".into(),
        )),
    }
}

/// Issues a one-time link to create the first admin, when there is no user yet.
pub async fn issue_setup_link(st: &AppState) -> AppResult<Option<String>> {
    if st.accounts.count_users().await? > 0 {
        return Ok(None);
    }
    let token = secret::generate("");
    let now = now_millis();
    st.accounts
        .create_setup_link(&secret::hash(&token), now, now + 24 * 3_600_000)
        .await?;
    Ok(Some(format!("/setup/{token}")))
}

/// Creates the first admin through a setup link and signs them in.
pub async fn set_up_first_admin(
    st: &AppState,
    link: &str,
    username: &str,
    pw: &str,
) -> AppResult<(String, User)> {
    let username = username.trim();
    st.sign_in.admit(client_addr(), "")?;
    check_username(username).map_err(AppError::Invalid)?;
    check_password(pw).map_err(AppError::Invalid)?;
    password::check_strength(pw, username).map_err(AppError::Invalid)?;
    if st.accounts.count_users().await? > 0 {
        return Err(AppError::Conflict(
            "Orchard is already set up: sign in instead".into(),
        ));
    }
    let _hashing = st.sign_in.hashing().await;
    let hash = password::hash(pw).await.map_err(|e| {
        tracing::error!(error = %e, "password hashing failed");
        AppError::Internal
    })?;
    if !st
        .accounts
        .use_setup_link(&secret::hash(link), now_millis())
        .await?
    {
        return Err(AppError::NotFound(
            "this setup link (it was used, or it expired; restart the server for a new one)".into(),
        ));
    }
    let user = st
        .accounts
        .create_user(username, &hash, Role::Admin, now_millis())
        .await?;
    tracing::info!(username = %user.username, "first admin created");
    let token = open_session(st, &user.id).await?;
    Ok((token, user))
}

pub async fn create_user(st: &AppState, username: &str, pw: &str, role: Role) -> AppResult<User> {
    let username = username.trim();
    check_username(username).map_err(AppError::Invalid)?;
    check_password(pw).map_err(AppError::Invalid)?;
    password::check_strength(pw, username).map_err(AppError::Invalid)?;
    let _hashing = st.sign_in.hashing().await;
    let hash = password::hash(pw).await.map_err(|e| {
        tracing::error!(error = %e, "password hashing failed");
        AppError::Internal
    })?;
    let user = st
        .accounts
        .create_user(username, &hash, role, now_millis())
        .await?;
    st.events.publish("user", &user.id, "created");
    Ok(user)
}

pub async fn set_password(st: &AppState, username: &str, pw: &str) -> AppResult<()> {
    check_password(pw).map_err(AppError::Invalid)?;
    password::check_strength(pw, username).map_err(AppError::Invalid)?;
    let _hashing = st.sign_in.hashing().await;
    let hash = password::hash(pw).await.map_err(|e| {
        tracing::error!(error = %e, "password hashing failed");
        AppError::Internal
    })?;
    st.accounts.set_password(username.trim(), &hash).await?;
    Ok(())
}

/// Records one audited action.
pub async fn audit(
    st: &AppState,
    caller: &Caller,
    action: &str,
    target: &str,
    status: u16,
    request_id: &str,
) {
    let entry = AuditEntry {
        id: uuid::Uuid::now_v7().to_string(),
        at: now_millis(),
        actor: caller.name.clone(),
        role: caller.role.map(Role::as_str).unwrap_or("none").to_string(),
        action: action.chars().take(200).collect(),
        target: target.chars().take(200).collect(),
        status: status as i64,
        request_id: request_id.chars().take(64).collect(),
    };
    if let Err(e) = st.accounts.record_audit(&entry).await {
        tracing::error!(error = %e, action, "audit entry not recorded");
    }
}

pub async fn list_audit(st: &AppState, filter: &AuditFilter) -> AppResult<Vec<AuditEntry>> {
    Ok(st.accounts.list_audit(filter).await?)
}

/// The `Set-Cookie` value that stores a session (`Some`) or clears it (`None`): never
/// readable by scripts, not sent on cross-site subrequests, `Secure` behind HTTPS.
pub fn session_cookie(value: Option<&str>, secure: bool) -> String {
    let (name, secure) = if secure {
        (SECURE_SESSION_COOKIE, "; Secure")
    } else {
        (SESSION_COOKIE, "")
    };
    match value {
        Some(v) => format!("{name}={v}; Path=/; HttpOnly; SameSite=Lax{secure}"),
        None => format!("{name}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"),
    }
}

/// Whether the current request came over HTTPS (directly or through a proxy that says so).
pub fn request_is_https(st: &AppState) -> bool {
    st.sessions.secure_always
        || leptos::prelude::use_context::<axum::http::request::Parts>().is_some_and(|p| {
            p.uri.scheme_str() == Some("https")
                || p.headers
                    .get("x-forwarded-proto")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.eq_ignore_ascii_case("https"))
        })
}
