//! Which requests need what: one table for every route, so a route added anywhere is
//! covered by default (reads need a viewer, changes an editor) unless listed here.

use app::accounts::model::Role;
use axum::http::Method;

/// What a request must show to pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Anyone: health, metrics, static files, sign-in and first-run setup.
    Public,
    /// The worker protocol and the wpipe routes: they check their own bearer tokens.
    OwnToken,
    Role(Role),
}

/// Server functions anyone may call: signing in and out, first-run setup, "who am I".
const PUBLIC_FNS: [&str; 4] = ["login", "logout", "setup_admin", "get_me"];
/// Server functions that change users, tokens or the fleet.
const ADMIN_FNS: [&str; 2] = ["admin_", "remove_worker"];
/// The routes of seed 002's process monitor (wpipe clients), which keep their own tokens.
const WPIPE: [&str; 6] = [
    "/matricula",
    "/healthchecker",
    "/newprocess",
    "/actualizar_task",
    "/endprocess",
    "/dashboard_",
];

/// The server function a `/fn/<name><hash>` path calls, without its hash.
pub fn server_fn_name(path: &str) -> Option<&str> {
    let name = path.strip_prefix("/fn/")?;
    Some(name.trim_end_matches(|c: char| c.is_ascii_digit()))
}

/// Whether a server function only reads: by convention its name starts with `get_` or
/// `list_`; every other one changes something.
pub fn fn_reads(name: &str) -> bool {
    name.starts_with("get_") || name.starts_with("list_")
}

pub fn need(method: &Method, path: &str) -> Need {
    let reads = method == Method::GET || method == Method::HEAD;
    if matches!(
        path,
        "/healthz" | "/readyz" | "/version" | "/metrics" | "/login" | "/api/openapi.json"
    ) || path.starts_with("/setup/")
        || path.starts_with("/api/docs")
        || path.starts_with("/pkg/")
    {
        return Need::Public;
    }
    if let Some(name) = server_fn_name(path) {
        if PUBLIC_FNS.contains(&name) {
            return Need::Public;
        }
        if ADMIN_FNS.iter().any(|p| name.starts_with(p)) {
            return Need::Role(Role::Admin);
        }
        return Need::Role(if fn_reads(name) {
            Role::Viewer
        } else {
            Role::Editor
        });
    }
    if WPIPE.iter().any(|p| path.starts_with(p)) {
        return Need::OwnToken;
    }
    if let Some(rest) = path.strip_prefix("/api/v1/") {
        if worker_protocol(method, rest) {
            return Need::OwnToken;
        }
        let admin = rest.starts_with("users")
            || rest.starts_with("tokens")
            || rest.starts_with("audit")
            || (rest.starts_with("workers/") && method == Method::DELETE);
        if admin {
            return Need::Role(Role::Admin);
        }
        return Need::Role(if reads { Role::Viewer } else { Role::Editor });
    }
    // Files served from the site folder (favicon, theme script).
    if reads
        && !path.starts_with("/api/")
        && path.rsplit('/').next().is_some_and(|f| f.contains('.'))
    {
        return Need::Public;
    }
    Need::Role(if reads { Role::Viewer } else { Role::Editor })
}

/// The routes `orchard worker` uses: register, heartbeat, leases, job files.
fn worker_protocol(method: &Method, rest: &str) -> bool {
    if rest == "workers/register" || rest.starts_with("leases/") || rest.starts_with("files/") {
        return true;
    }
    let parts: Vec<&str> = rest.split('/').collect();
    method == Method::POST
        && parts.len() == 3
        && ((parts[0] == "workers" && matches!(parts[2], "heartbeat" | "stop"))
            || (parts[0] == "tasks"
                && matches!(parts[2], "heartbeat" | "complete" | "fail" | "release")))
}

/// Calls that are not audited: the worker protocol and wpipe telemetry run thousands of
/// times a minute and are recorded in the job and fleet tables themselves.
pub fn audited(method: &Method, path: &str) -> bool {
    let changes = !(method == Method::GET || method == Method::HEAD || method == Method::OPTIONS);
    changes && need(method, path) != Need::OwnToken && server_fn_name(path) != Some("get_me")
}

/// Calls worth slowing down for a guesser: sign-in, setup and token creation.
pub fn rate_limited(method: &Method, path: &str) -> bool {
    method == Method::POST
        && (matches!(
            server_fn_name(path),
            Some("login" | "setup_admin" | "admin_create_token")
        ) || path.starts_with("/setup/")
            || path == "/api/v1/tokens")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(m: Method, p: &str) -> Need {
        need(&m, p)
    }

    #[test]
    fn the_table() {
        use Need::*;
        assert_eq!(n(Method::GET, "/healthz"), Public);
        assert_eq!(n(Method::GET, "/pkg/orchard.wasm"), Public);
        assert_eq!(n(Method::GET, "/favicon.svg"), Public);
        assert_eq!(n(Method::POST, "/fn/login123"), Public);
        assert_eq!(
            n(Method::POST, "/fn/list_jobs987"),
            Role(app::accounts::model::Role::Viewer)
        );
        assert_eq!(
            n(Method::POST, "/fn/cancel_job42"),
            Role(app::accounts::model::Role::Editor)
        );
        assert_eq!(
            n(Method::POST, "/fn/admin_set_role1"),
            Role(app::accounts::model::Role::Admin)
        );
        assert_eq!(
            n(Method::POST, "/fn/remove_worker1"),
            Role(app::accounts::model::Role::Admin)
        );
        assert_eq!(
            n(Method::GET, "/"),
            Role(app::accounts::model::Role::Viewer)
        );
        assert_eq!(
            n(Method::GET, "/jobs/abc"),
            Role(app::accounts::model::Role::Viewer)
        );
        // Admin pages render for anyone signed in; their data needs an admin.
        assert_eq!(
            n(Method::GET, "/admin/users"),
            Role(app::accounts::model::Role::Viewer)
        );
        assert_eq!(
            n(Method::GET, "/api/v1/jobs"),
            Role(app::accounts::model::Role::Viewer)
        );
        assert_eq!(
            n(Method::POST, "/api/v1/jobs"),
            Role(app::accounts::model::Role::Editor)
        );
        assert_eq!(
            n(Method::DELETE, "/api/v1/workers/x"),
            Role(app::accounts::model::Role::Admin)
        );
        assert_eq!(
            n(Method::GET, "/api/v1/audit"),
            Role(app::accounts::model::Role::Admin)
        );
        assert_eq!(n(Method::POST, "/api/v1/leases/claim"), OwnToken);
        assert_eq!(n(Method::POST, "/api/v1/tasks/t1/complete"), OwnToken);
        assert_eq!(
            n(Method::POST, "/api/v1/tasks/t1/move"),
            Role(app::accounts::model::Role::Editor)
        );
        assert_eq!(
            n(Method::PATCH, "/api/v1/tasks/t1"),
            Role(app::accounts::model::Role::Editor)
        );
        assert_eq!(n(Method::POST, "/matricula"), OwnToken);
        assert_eq!(n(Method::GET, "/api/v1/files/x.txt"), OwnToken);
        assert!(audited(&Method::POST, "/api/v1/jobs"));
        assert!(!audited(&Method::POST, "/api/v1/leases/claim"));
        assert!(!audited(&Method::GET, "/api/v1/jobs"));
        assert!(rate_limited(&Method::POST, "/fn/login77"));
    }
}
