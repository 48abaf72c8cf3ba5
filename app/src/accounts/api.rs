//! Server functions for signing in and out, first-run setup and administration. Each
//! declares its access on its first line (`require!`).

use super::model::{AuditEntry, AuditFilter, Me, User};
use crate::accounts::model::TokenInfo;
use crate::error::AppError;
use leptos::prelude::*;

/// Only a path on this site may follow a sign-in (no open redirects): an absolute path,
/// not `//host` or `/\\host` (which browsers read as another site), with no backslash,
/// whitespace or control character anywhere (browsers drop tabs and newlines from URLs, so
/// `/\t/evil.example` would become `//evil.example`), and no longer than 2 KiB. Anything
/// else lands on the overview.
pub fn safe_next(next: Option<&str>) -> String {
    let ok = |n: &str| {
        n.starts_with('/')
            && !n.starts_with("//")
            && n.len() <= 2048
            && !n
                .chars()
                .any(|c| c == '\\' || c.is_whitespace() || c.is_control())
    };
    match next {
        Some(n) if ok(n) => n.to_string(),
        _ => "/".to_string(),
    }
}

#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn get_me() -> Result<Option<Me>, AppError> {
    Ok(crate::require!(GetMe, Public, reads)?.caller.me())
}

#[cfg(feature = "ssr")]
fn set_session_cookie(st: &crate::state::AppState, value: Option<&str>) {
    use leptos_axum::ResponseOptions;
    let cookie = super::service::session_cookie(value, super::service::request_is_https(st));
    if let (Some(res), Ok(v)) = (
        use_context::<ResponseOptions>(),
        axum::http::HeaderValue::from_str(&cookie),
    ) {
        res.append_header(axum::http::header::SET_COOKIE, v);
    }
}

/// Sends a plain form post (no JavaScript) on to `path`. A page running the client loads
/// the next page itself, afresh (`reload_after`): a redirect for it too would first move
/// its router there, then the page would load again.
#[cfg(feature = "ssr")]
fn redirect_form_post(path: &str) {
    let plain = use_context::<axum::http::request::Parts>().is_some_and(|req| {
        req.headers
            .get(axum::http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"))
    });
    if plain {
        leptos_axum::redirect(path);
    }
}

#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn login(
    username: String,
    password: String,
    next: Option<String>,
) -> Result<Me, AppError> {
    let st = crate::require!(Login, Public)?.st;
    let (token, user) = super::service::sign_in(&st, &username, &password).await?;
    set_session_cookie(&st, Some(&token));
    tracing::info!(username = %user.username, "signed in");
    redirect_form_post(&safe_next(next.as_deref()));
    Ok(Me {
        name: user.username,
        role: user.role,
        person: true,
    })
}

/// Signs out here, or (with `everywhere`) in every browser; returns the sessions ended.
#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn logout(everywhere: Option<bool>) -> Result<u64, AppError> {
    let crate::access::Granted { st, caller } = crate::require!(Logout, Public)?;
    let ended = if everywhere.unwrap_or(false) {
        super::service::sign_out_everywhere(&st, &caller).await?
    } else {
        super::service::sign_out(&st, &caller).await?;
        1
    };
    set_session_cookie(&st, None);
    redirect_form_post("/login");
    Ok(ended)
}

/// Whether Orchard still waits for its first admin (no account exists yet).
#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn get_setup_needed() -> Result<bool, AppError> {
    let st = crate::require!(GetSetupNeeded, Public, reads)?.st;
    Ok(st.accounts.count_users().await? == 0)
}

#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn setup_admin(
    token: String,
    username: String,
    password: String,
) -> Result<Me, AppError> {
    let st = crate::require!(SetupAdmin, Public)?.st;
    let (session, user) =
        super::service::set_up_first_admin(&st, &token, &username, &password).await?;
    set_session_cookie(&st, Some(&session));
    redirect_form_post("/");
    Ok(Me {
        name: user.username,
        role: user.role,
        person: true,
    })
}

#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn admin_list_users() -> Result<Vec<User>, AppError> {
    let st = crate::require!(AdminListUsers, Admin)?.st;
    Ok(st.accounts.list_users(crate::now_millis()).await?)
}

#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn admin_create_user(
    username: String,
    password: String,
    role: String,
) -> Result<User, AppError> {
    let st = crate::require!(AdminCreateUser, Admin)?.st;
    let role = super::model::Role::parse(&role).map_err(AppError::Invalid)?;
    super::service::create_user(&st, &username, &password, role).await
}

#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn admin_set_role(username: String, role: String) -> Result<User, AppError> {
    let st = crate::require!(AdminSetRole, Admin)?.st;
    let role = super::model::Role::parse(&role).map_err(AppError::Invalid)?;
    Ok(st.accounts.set_role(&username, role).await?)
}

#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn admin_reset_password(username: String, password: String) -> Result<(), AppError> {
    let st = crate::require!(AdminResetPassword, Admin)?.st;
    super::service::set_password(&st, &username, &password).await
}

#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn admin_set_disabled(username: String, disabled: bool) -> Result<User, AppError> {
    let st = crate::require!(AdminSetDisabled, Admin)?.st;
    Ok(st
        .accounts
        .set_disabled(&username, disabled, crate::now_millis())
        .await?)
}

#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn admin_list_audit(filter: AuditFilter) -> Result<Vec<AuditEntry>, AppError> {
    let st = crate::require!(AdminListAudit, Admin)?.st;
    super::service::list_audit(&st, &filter).await
}

/// Every API token, revoked ones too (names, scopes, owners and dates; never a token).
#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn admin_list_tokens() -> Result<Vec<TokenInfo>, AppError> {
    let st = crate::require!(AdminListTokens, Admin, reads)?.st;
    Ok(st.accounts.list_tokens().await?)
}

/// Issues a token; the answer is the only time it is shown (only its hash is kept). Each
/// scope is a checkbox of the form (present = wanted).
#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn admin_create_token(
    name: String,
    user: Option<String>,
    worker: Option<String>,
    wpipe: Option<String>,
    read: Option<String>,
    write: Option<String>,
) -> Result<String, AppError> {
    let st = crate::require!(AdminCreateToken, Admin)?.st;
    let name = name.trim().to_string();
    super::model::check_token_name(&name).map_err(AppError::Invalid)?;
    let wanted: Vec<String> = [
        ("worker", worker),
        ("wpipe", wpipe),
        ("read", read),
        ("write", write),
    ]
    .into_iter()
    .filter(|(_, on)| on.is_some())
    .map(|(scope, _)| scope.to_string())
    .collect();
    let scopes = super::model::check_scopes(&wanted).map_err(AppError::Invalid)?;
    let user = user.filter(|u| !u.trim().is_empty());
    let token = super::secret::generate("orch_");
    st.accounts
        .create_token(
            &name,
            &super::secret::hash(&token),
            &scopes,
            user.as_deref(),
            crate::now_millis(),
        )
        .await?;
    Ok(token)
}

/// Revokes a token by name or id; it stops working within a second.
#[server(prefix = "/fn", output = crate::wire::Json)]
pub async fn admin_revoke_token(name: String) -> Result<TokenInfo, AppError> {
    let st = crate::require!(AdminRevokeToken, Admin)?.st;
    Ok(st.accounts.revoke_token(&name, crate::now_millis()).await?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_local_paths_follow_a_sign_in() {
        assert_eq!(super::safe_next(Some("/jobs/1")), "/jobs/1");
        assert_eq!(super::safe_next(Some("//evil.example")), "/");
        assert_eq!(super::safe_next(Some("https://evil.example")), "/");
        assert_eq!(super::safe_next(Some("/\\evil")), "/");
        assert_eq!(super::safe_next(Some("/\t/evil.example")), "/");
        assert_eq!(super::safe_next(Some("/\n")), "/");
        assert_eq!(super::safe_next(Some("/a\r\nSet-Cookie: x=1")), "/");
        assert_eq!(super::safe_next(Some("/\u{0}x")), "/");
        assert_eq!(
            super::safe_next(Some("/tasks?q=a%20b#x")),
            "/tasks?q=a%20b#x"
        );
        assert_eq!(super::safe_next(None), "/");
    }
}
