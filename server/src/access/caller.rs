//! Who is calling: the service token, a session cookie, or nobody.

use app::accounts::service::{self, Caller, CallerKind, SECURE_SESSION_COOKIE, SESSION_COOKIE};
use app::state::AppState;
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, COOKIE};
use engine::accounts::secret::constant_time_eq;
use shared::accounts::model::Role;
use shared::error::AppError;

/// The bearer token of a request, if it sent one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

/// The session cookie of a request, if it sent one (the `__Host-` one first).
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    let find = |name: &str| {
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    };
    find(SECURE_SESSION_COOKIE).or_else(|| find(SESSION_COOKIE))
}

/// Resolves the caller. A bearer token that matches nothing is an error (a typo should not
/// silently make a script anonymous); an unknown or expired session cookie is anonymous.
pub async fn resolve(
    st: &AppState,
    service_token: Option<&str>,
    headers: &HeaderMap,
) -> Result<Caller, AppError> {
    if let Some(token) = bearer(headers) {
        if let Some(expected) = service_token
            && constant_time_eq(token.as_bytes(), expected.as_bytes())
        {
            return Ok(Caller {
                name: "service".into(),
                role: Some(Role::Admin),
                kind: CallerKind::Token,
            });
        }
        return stored_token(st, token).await;
    }
    if let Some(cookie) = session_cookie(headers)
        && let Some((user, hash)) = service::session_user(st, cookie).await?
    {
        return Ok(Caller {
            name: user.username,
            role: Some(user.role),
            kind: CallerKind::Session {
                user_id: user.id,
                session_hash: hash,
            },
        });
    }
    Ok(Caller::anonymous())
}

/// A stored API token as a caller: `write` acts as an editor, `read` as a viewer, `worker`
/// alone has no role here (it serves the worker protocol only). A person's token never
/// exceeds that person's role, and stops with them.
async fn stored_token(st: &AppState, token: &str) -> Result<Caller, AppError> {
    let wrong = || AppError::Unauthorized("missing or wrong bearer token".into());
    let grant = st
        .accounts
        .token_grant(&engine::accounts::secret::hash(token))
        .await?
        .ok_or_else(wrong)?;
    let scoped = grant.scopes.split_whitespace().fold(None, |best, s| {
        let r = match s {
            "write" => Some(Role::Editor),
            "read" => Some(Role::Viewer),
            _ => None,
        };
        best.max(r)
    });
    let role = match grant.owner {
        Some((_, true)) => return Err(wrong()),
        Some((owner, false)) => scoped.map(|r| r.min(owner)),
        None => scoped,
    };
    crate::tokens::note_use(&*st.accounts, &grant.id).await;
    Ok(Caller {
        name: format!("token:{}", grant.name),
        role,
        kind: CallerKind::Token,
    })
}
