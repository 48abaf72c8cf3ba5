//! API tokens: `orchard token create|list|revoke`, and the check every token-guarded route
//! runs. A token is 32 random bytes shown once at creation; only its SHA-256 is stored. The
//! shared `ORCHARD_API_TOKEN` keeps working beside the stored tokens.

use clap::{Args, Subcommand};
use engine::accounts::secret::{self, constant_time_eq};
use engine::store::accounts::AccountStore;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A new random token: `orch_` and 64 hex digits.
pub fn generate() -> String {
    secret::generate("orch_")
}

pub use secret::hash;

/// How long a verified token, or the absence of any token, is believed without asking the
/// database again: revocation takes effect within this time.
const CACHE_TTL: Duration = Duration::from_secs(1);
/// `last_used_at` is written at most this often per token.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// A token's scope outside the roles: what the worker protocol and the wpipe routes need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The worker protocol: register, heartbeat, leases, job files.
    Worker,
    /// The process-monitor (wpipe) routes: telemetry only.
    Wpipe,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Worker => "worker",
            Scope::Wpipe => "wpipe",
        }
    }
}

/// A verified token: its id and whether it may act for workers and for pipelines.
#[derive(Clone)]
struct Verified {
    at: Instant,
    id: String,
    worker: bool,
    wpipe: bool,
}

#[derive(Default)]
struct Cache {
    valid: HashMap<String, Verified>,
}

/// Decides whether a request's bearer token is accepted for a scope.
pub struct TokenCheck {
    shared: Option<Arc<str>>,
    accounts: Arc<dyn AccountStore>,
    cache: Mutex<Cache>,
}

impl TokenCheck {
    pub fn new(shared: Option<Arc<str>>, accounts: Arc<dyn AccountStore>) -> Self {
        Self {
            shared,
            accounts,
            cache: Mutex::new(Cache::default()),
        }
    }

    /// The stored token's id when `given` (the text after `Bearer `, if any) carries
    /// `scope`; `Some("service")` for the shared token, which carries every scope.
    /// With no token configured at all nothing passes: workers and pipelines need one
    /// (`orchard token create`), so these routes are never open to anyone on the network.
    pub async fn allows(&self, given: Option<&str>, scope: Scope) -> Option<String> {
        let given = given.filter(|g| !g.is_empty())?;
        if let Some(shared) = &self.shared
            && constant_time_eq(given.as_bytes(), shared.as_bytes())
        {
            return Some("service".into());
        }
        let h = hash(given);
        let cached = self.cache.lock().ok().and_then(|c| {
            c.valid
                .get(&h)
                .filter(|v| v.at.elapsed() < CACHE_TTL)
                .cloned()
        });
        let fresh = cached.is_none();
        let v = match cached {
            Some(v) => v,
            None => match self.accounts.token_grant(&h).await {
                Ok(Some(g)) if !g.owner.is_some_and(|(_, disabled)| disabled) => {
                    let has = |s: &str| g.scopes.split_whitespace().any(|x| x == s);
                    Verified {
                        at: Instant::now(),
                        worker: has("worker"),
                        wpipe: has("wpipe"),
                        id: g.id,
                    }
                }
                Ok(_) => return None,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read API tokens");
                    return None;
                }
            },
        };
        // Believed for one TTL from the database read, not from its last use.
        if fresh && let Ok(mut c) = self.cache.lock() {
            c.valid.insert(h, v.clone());
        }
        let allowed = match scope {
            Scope::Worker => v.worker,
            Scope::Wpipe => v.wpipe,
        };
        if !allowed {
            return None;
        }
        note_use(&*self.accounts, &v.id).await;
        Some(v.id)
    }
}

/// Notes a token's use (its `last_used_at`), at most once a minute per token, whichever
/// route it was used on.
pub async fn note_use(store: &dyn AccountStore, id: &str) {
    static SEEN: std::sync::OnceLock<Mutex<HashMap<String, Instant>>> = std::sync::OnceLock::new();
    let due = {
        let mut seen = SEEN
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let due = seen.get(id).is_none_or(|at| at.elapsed() >= TOUCH_EVERY);
        if due {
            seen.insert(id.to_string(), Instant::now());
        }
        due
    };
    if due && let Err(e) = store.touch_token(id, engine::now_millis()).await {
        tracing::warn!(error = %e, "token use not recorded");
    }
}

/// `orchard token …`
#[derive(Debug, Clone, Args)]
pub struct TokenCommand {
    #[command(flatten)]
    pub db: crate::config::DbSettings,
    #[command(subcommand)]
    pub action: TokenAction,
}

#[derive(Debug, Clone, Subcommand)]
pub enum TokenAction {
    /// Issue a token; it is printed once and only its hash is kept.
    Create {
        /// A unique name, e.g. the worker, machine or script it is for.
        #[arg(long)]
        name: String,
        /// What it may do: `worker` (the worker protocol), `wpipe` (the process-monitor
        /// routes), `read` (what a viewer reads), `write` (what an editor changes). Repeat
        /// for several.
        #[arg(long = "scope", default_value = "worker")]
        scopes: Vec<String>,
        /// The person it belongs to: it never does more than their role allows.
        #[arg(long)]
        user: Option<String>,
    },
    /// List tokens (names and dates, never the tokens).
    List,
    /// Revoke a token by name or id.
    Revoke {
        /// The token's name or id.
        name: String,
    },
}

pub use shared::accounts::model::check_scopes;

fn when(ms: Option<i64>) -> String {
    ms.map(shared::format::iso8601)
        .unwrap_or_else(|| "-".into())
}

pub async fn run(cmd: TokenCommand) -> Result<(), String> {
    let store = cmd.db.open_existing().await?;
    match cmd.action {
        TokenAction::Create { name, scopes, user } => {
            let name = name.trim();
            shared::accounts::model::check_token_name(name)?;
            let scopes = check_scopes(&scopes)?;
            let token = generate();
            store
                .create_token(
                    name,
                    &hash(&token),
                    &scopes,
                    user.as_deref(),
                    engine::now_millis(),
                )
                .await
                .map_err(|e| format!("token not created: {e}"))?;
            crate::user_cmd::audit(&*store, "token.create", &format!("{name} ({scopes})")).await;
            eprintln!(
                "Token {name:?} created. It is shown only now; store it safely and pass it as \
                 `Authorization: Bearer <token>` (or `orchard worker --token`):"
            );
            println!("{token}");
        }
        TokenAction::List => {
            let tokens = store
                .list_tokens()
                .await
                .map_err(|e| format!("cannot list tokens: {e}"))?;
            println!(
                "{:<24} {:<36} {:<18} {:<16} {:<24} {:<24} {:<24}",
                "NAME", "ID", "SCOPES", "USER", "CREATED", "LAST USED", "REVOKED"
            );
            for t in tokens {
                println!(
                    "{:<24} {:<36} {:<18} {:<16} {:<24} {:<24} {:<24}",
                    t.name,
                    t.id,
                    t.scopes,
                    t.username.as_deref().unwrap_or("-"),
                    when(Some(t.created_at)),
                    when(t.last_used_at),
                    when(t.revoked_at)
                );
            }
        }
        TokenAction::Revoke { name } => {
            let t = store
                .revoke_token(&name, engine::now_millis())
                .await
                .map_err(|e| format!("cannot revoke: {e}"))?;
            crate::user_cmd::audit(&*store, "token.revoke", &t.name).await;
            println!("revoked {} ({})", t.name, t.id);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, b) = (generate(), generate());
        assert_ne!(a, b);
        assert_eq!(a.len(), 5 + 64);
        assert_eq!(hash(&a).len(), 64);
        assert_eq!(hash(&a), hash(&a));
        assert_ne!(hash(&a), hash(&b));
        assert_eq!(
            hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
