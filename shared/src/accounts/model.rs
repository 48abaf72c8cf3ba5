//! Accounts as the UI and the API see them: roles, users, the signed-in caller, audit entries.

use crate::Millis;
use serde::{Deserialize, Serialize};

/// What a person may do. Each role includes the ones below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything, changes nothing.
    Viewer,
    /// Also changes tasks and jobs.
    Editor,
    /// Also manages users, tokens and workers.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Editor, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Result<Role, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "viewer" => Ok(Role::Viewer),
            "editor" => Ok(Role::Editor),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "unknown role {other:?}: use admin, editor or viewer"
            )),
        }
    }

    /// Whether this role includes `needed`.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub username: String,
    pub role: Role,
    pub created_at: Millis,
    pub disabled: bool,
    /// Signed-in sessions that have not expired.
    pub sessions: i64,
}

/// Who is making a request, as pages and server functions see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Me {
    /// A username, or a token's name for automation.
    pub name: String,
    pub role: Role,
    /// False for tokens: they have no session to sign out of.
    pub person: bool,
}

impl Me {
    pub fn can(&self, needed: Role) -> bool {
        self.role.allows(needed)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: String,
    pub at: Millis,
    pub actor: String,
    pub role: String,
    pub action: String,
    pub target: String,
    pub status: i64,
    pub request_id: String,
}

/// Which audit entries to list: newest first, `before` an entry id for the next page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditFilter {
    #[serde(default)]
    pub actor: Option<String>,
    /// Entries whose action contains this text (e.g. "jobs", "DELETE", "user.").
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub before: Option<String>,
    #[serde(default)]
    pub limit: Option<i64>,
}

/// Usernames: 1–64 letters, digits, `.`, `_`, `-` or `@`.
pub fn check_username(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err("a username is 1 to 64 letters, digits, '.', '_', '-' or '@'".into())
    }
}

/// The scopes a stored API token may carry.
pub const TOKEN_SCOPES: [&str; 4] = ["worker", "wpipe", "read", "write"];

/// The known scopes among `scopes` (split on commas and spaces), deduplicated,
/// space-separated; an unknown scope or none at all is refused.
pub fn check_scopes(scopes: &[String]) -> Result<String, String> {
    let mut out: Vec<&str> = Vec::new();
    for s in scopes
        .iter()
        .flat_map(|s| s.split([',', ' ']))
        .filter(|s| !s.is_empty())
    {
        let Some(known) = TOKEN_SCOPES.iter().find(|k| **k == s) else {
            return Err(format!(
                "unknown scope {s:?}: use worker, wpipe, read or write"
            ));
        };
        if !out.contains(known) {
            out.push(known);
        }
    }
    if out.is_empty() {
        return Err("a token needs at least one scope".into());
    }
    Ok(out.join(" "))
}

/// Token names: 1 to 100 characters after trimming.
pub fn check_token_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() || name.trim().chars().count() > 100 {
        return Err("token name must be 1 to 100 characters".into());
    }
    Ok(())
}

/// Passwords: at least 10 characters, at most 1,024 bytes.
pub fn check_password(pw: &str) -> Result<(), String> {
    if pw.chars().count() < 10 {
        return Err("a password needs at least 10 characters".into());
    }
    if pw.len() > 1024 {
        return Err("a password may be at most 1,024 bytes".into());
    }
    Ok(())
}

/// An API token as listed (never the token itself).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub id: String,
    pub name: String,
    /// Space-separated: `worker`, `read`, `write`.
    pub scopes: String,
    /// The person the token belongs to, if any.
    pub username: Option<String>,
    pub created_at: Millis,
    pub last_used_at: Option<Millis>,
    pub revoked_at: Option<Millis>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_include_the_ones_below() {
        assert!(Role::Admin.allows(Role::Editor));
        assert!(Role::Editor.allows(Role::Viewer));
        assert!(!Role::Viewer.allows(Role::Editor));
        assert!(!Role::Editor.allows(Role::Admin));
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Ok(r));
        }
        assert!(Role::parse("root").is_err());
    }

    #[test]
    fn usernames_and_passwords_are_checked() {
        assert!(check_username("ana.lopez@example").is_ok());
        assert!(check_username("").is_err());
        assert!(check_username("a b").is_err());
        assert!(check_username(&"x".repeat(65)).is_err());
        assert!(check_password("short").is_err());
        assert!(check_password("long enough pw").is_ok());
        assert!(check_password(&"x".repeat(1025)).is_err());
    }
}
