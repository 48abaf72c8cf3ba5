//! Who may call what, declared beside each definition. Every route, server function and page
//! names one [`Access`]; the HTTP layer refuses a request whose route declares nothing, and
//! server functions check their caller themselves through [`require!`](crate::require), the
//! only way they reach the application state.

use crate::accounts::model::Role;
use serde::{Deserialize, Serialize};

/// What a caller must show to use a route, server function or page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    /// Anyone, signed in or not: health, sign-in, first-run setup, site files.
    Public,
    /// A signed-in person or a token with at least the viewer role.
    Viewer,
    /// At least the editor role.
    Editor,
    /// The admin role.
    Admin,
    /// A token with the `worker` scope (or the service token): the worker protocol.
    WorkerToken,
    /// A token with the `wpipe` scope (or the service token): the process-monitor routes.
    WpipeToken,
}

impl Access {
    pub const ALL: [Access; 6] = [
        Access::Public,
        Access::Viewer,
        Access::Editor,
        Access::Admin,
        Access::WorkerToken,
        Access::WpipeToken,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Access::Public => "public",
            Access::Viewer => "viewer",
            Access::Editor => "editor",
            Access::Admin => "admin",
            Access::WorkerToken => "worker-token",
            Access::WpipeToken => "wpipe-token",
        }
    }

    pub fn parse(s: &str) -> Option<Access> {
        Access::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The role a person (or a token acting as one) needs, for the role-based levels.
    pub fn role(self) -> Option<Role> {
        match self {
            Access::Viewer => Some(Role::Viewer),
            Access::Editor => Some(Role::Editor),
            Access::Admin => Some(Role::Admin),
            Access::Public | Access::WorkerToken | Access::WpipeToken => None,
        }
    }
}

impl std::fmt::Display for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A page route (in the router's own `{param}` syntax) and who may open it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageAccess {
    pub path: &'static str,
    pub access: Access,
}

/// A server function's endpoint and its declared access, gathered from every
/// [`require!`](crate::require) in the program.
#[cfg(feature = "ssr")]
#[derive(Debug)]
pub struct FnAccess {
    pub path: &'static str,
    pub name: &'static str,
    pub access: Access,
    /// Changes nothing (not written to the audit log): every viewer-level function, and
    /// others marked `reads` in their `require!`.
    pub reads: bool,
}

#[cfg(feature = "ssr")]
impl FnAccess {
    /// The function's own name (`create_task` for `CreateTask`).
    pub fn snake_name(&self) -> String {
        let mut out = String::new();
        for (i, c) in self.name.chars().enumerate() {
            if c.is_ascii_uppercase() {
                if i > 0 {
                    out.push('_');
                }
                out.push(c.to_ascii_lowercase());
            } else {
                out.push(c);
            }
        }
        out
    }
}

#[cfg(feature = "ssr")]
inventory::collect!(FnAccess);

#[cfg(feature = "ssr")]
#[doc(hidden)]
pub use inventory as __inventory;

/// Every server function's declaration.
#[cfg(feature = "ssr")]
pub fn server_fns() -> impl Iterator<Item = &'static FnAccess> {
    inventory::iter::<FnAccess>.into_iter()
}

/// The declared access of the server function at `path`, if it declares one.
#[cfg(feature = "ssr")]
pub fn server_fn_access(path: &str) -> Option<&'static FnAccess> {
    server_fns().find(|f| f.path == path)
}

/// What a server function gets once its caller passed: the state and who is calling.
#[cfg(feature = "ssr")]
pub struct Granted {
    pub st: crate::state::AppState,
    pub caller: crate::accounts::service::Caller,
}

/// Checks the current caller against `access` and hands out the state. Token levels never
/// pass here: server functions serve people and role-bearing tokens.
#[cfg(feature = "ssr")]
pub fn grant(access: Access) -> Result<Granted, crate::error::AppError> {
    let caller = crate::accounts::service::current();
    match access {
        Access::Public => {}
        Access::WorkerToken | Access::WpipeToken => {
            return Err(crate::error::AppError::Forbidden(
                "server functions do not serve worker or pipeline tokens".into(),
            ));
        }
        level => {
            if let Some(role) = level.role() {
                caller.check(role)?;
            }
        }
    }
    Ok(Granted {
        st: crate::state::AppState::from_context()?,
        caller,
    })
}

/// The first line of every server function: declares who may call it (registered for the
/// HTTP layer and the access test under the function's endpoint) and checks the caller.
///
/// ```ignore
/// #[server(prefix = "/fn", output = crate::wire::Json)]
/// pub async fn get_task(id: String) -> Result<TreeTask, AppError> {
///     let g = crate::require!(GetTask, Viewer)?;
///     super::service::get_task(&g.st, &id).await
/// }
/// ```
///
/// A function above the viewer level that changes nothing says so with a third argument,
/// `require!(GetMe, Public, reads)`, and stays out of the audit log.
#[macro_export]
macro_rules! require {
    ($server_fn:ident, $access:ident) => {
        $crate::require!(@declare $server_fn, $access,
            matches!($crate::access::Access::$access, $crate::access::Access::Viewer))
    };
    ($server_fn:ident, $access:ident, reads) => {
        $crate::require!(@declare $server_fn, $access, true)
    };
    (@declare $server_fn:ident, $access:ident, $reads:expr) => {{
        $crate::access::__inventory::submit! {
            $crate::access::FnAccess {
                path: <$server_fn as ::leptos::server_fn::ServerFn>::PATH,
                name: stringify!($server_fn),
                access: $crate::access::Access::$access,
                reads: $reads,
            }
        }
        $crate::access::grant($crate::access::Access::$access)
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_round_trip_through_their_names() {
        for a in Access::ALL {
            assert_eq!(Access::parse(a.as_str()), Some(a));
        }
        assert_eq!(Access::parse("root"), None);
        assert_eq!(Access::Editor.role(), Some(Role::Editor));
        assert_eq!(Access::WorkerToken.role(), None);
    }
}
