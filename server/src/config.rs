//! Typed settings, from flags and environment variables with sensible defaults (clap reads
//! both; flags win). Every option is listed in the README's configuration table.

use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Settings of `orchard serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeSettings {
    /// Address to listen on.
    #[arg(long, env = "ORCHARD_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    #[command(flatten)]
    pub db: DbSettings,

    /// Folder for data that is not in the database (job files by default).
    #[arg(long, env = "ORCHARD_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// Where job files live: a folder (default: <data-dir>/files).
    #[arg(long, env = "ORCHARD_FILES", default_value = "")]
    pub files: String,

    /// In-process workers (task slots); 0 runs none. Default: one per core.
    #[arg(long, env = "ORCHARD_WORKERS")]
    pub workers: Option<usize>,

    /// A TOML file of `[[handler]]` tables the in-process workers offer for workflow steps
    /// (name, command, cwd, env, timeout_s, max_concurrent).
    #[arg(long, env = "ORCHARD_HANDLERS")]
    pub handlers: Option<PathBuf>,

    /// The `orchard` binary whose `supervise-step` runs each step (default: the running
    /// one; a server embedded in another program, such as a test, names it).
    #[arg(skip)]
    pub supervisor: Option<PathBuf>,

    /// Seconds a task lease lasts without a heartbeat.
    #[arg(long, env = "ORCHARD_LEASE_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub lease_secs: u64,

    /// Attempts per task before the task and its job fail.
    #[arg(long, env = "ORCHARD_MAX_ATTEMPTS", default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=100))]
    pub max_attempts: u64,

    /// Full-access service token for automation, also accepted by the worker API and the
    /// wpipe routes (which refuse everyone when no token of any kind exists).
    #[arg(long, env = "ORCHARD_API_TOKEN", hide_env_values = true)]
    pub api_token: Option<String>,

    /// A file holding the shared token (its first line), so it need not appear in the
    /// process list or the environment.
    #[arg(long, env = "ORCHARD_API_TOKEN_FILE", conflicts_with = "api_token")]
    pub api_token_file: Option<PathBuf>,

    /// Seconds without a heartbeat before a worker counts as late.
    #[arg(long, env = "ORCHARD_WORKER_LATE_SECS", default_value_t = 15)]
    pub worker_late_secs: u64,

    /// Seconds without a heartbeat before a worker counts as dead.
    #[arg(long, env = "ORCHARD_WORKER_DEAD_SECS", default_value_t = 60)]
    pub worker_dead_secs: u64,

    /// Browsers following a running job poll this often (ms) and back off from it on errors.
    #[arg(long, env = "ORCHARD_POLL_BASE_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(100..=60_000))]
    pub poll_base_ms: u64,

    /// Failed polls in a row after which a browser stops retrying (and offers to try again).
    #[arg(long, env = "ORCHARD_POLL_MAX_RETRIES", default_value_t = 10)]
    pub poll_max_retries: u32,

    /// Minutes a session may stay unused before it ends.
    #[arg(long, env = "ORCHARD_SESSION_IDLE_MINS", default_value_t = 720, value_parser = clap::value_parser!(u64).range(1..=525_600))]
    pub session_idle_mins: u64,

    /// Hours after sign-in when a session ends, used or not.
    #[arg(long, env = "ORCHARD_SESSION_MAX_HOURS", default_value_t = 168, value_parser = clap::value_parser!(u64).range(1..=8_760))]
    pub session_max_hours: u64,

    /// Mark the session cookie `Secure` always (it is anyway when a proxy says the request
    /// came over HTTPS with `X-Forwarded-Proto: https`).
    #[arg(long, env = "ORCHARD_SECURE_COOKIES", default_value_t = false)]
    pub secure_cookies: bool,

    /// Folder holding the built site (`pkg/` with wasm, JS, CSS); overrides Leptos.toml.
    #[arg(long, env = "ORCHARD_SITE_ROOT")]
    pub site_root: Option<String>,

    /// Origins (comma-separated, e.g. `https://a.example,https://b.example`) whose pages may
    /// call this server from a browser (CORS). None by default.
    #[arg(long, env = "ORCHARD_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// Path of the Leptos site settings file.
    #[arg(long, env = "ORCHARD_LEPTOS_TOML", default_value = "Leptos.toml")]
    pub leptos_toml: PathBuf,

    /// Proxies (addresses or networks, comma-separated, e.g. `10.0.0.0/8,127.0.0.1`) whose
    /// `X-Forwarded-For`, `-Host` and `-Proto` headers are believed. From anyone else these
    /// headers are ignored. None by default.
    #[arg(long, env = "ORCHARD_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,

    /// Let anyone read `/dashboard_workers` (cached for a second) without the wpipe token.
    #[arg(long, env = "ORCHARD_WPIPE_PUBLIC_DASHBOARD", default_value_t = false)]
    pub wpipe_public_dashboard: bool,

    /// Seconds a request may take before it is answered 503 (not the event stream, lease
    /// claims, imports or job files).
    #[arg(long, env = "ORCHARD_REQUEST_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub request_timeout_secs: u64,

    /// Most levels a task tree may have (inclusive); imports, creates, moves and generated
    /// trees that would go deeper are refused, so every tree exports and imports.
    #[arg(long, env = "ORCHARD_MAX_TREE_DEPTH", default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub max_tree_depth: u64,

    /// Most steps a workflow run may have, the steps its maps add included.
    #[arg(long, env = "ORCHARD_MAX_WORKFLOW_STEPS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_workflow_steps: u64,

    /// Most bytes all job files may take together (file-average inputs and results,
    /// generated trees); a job that would pass it is refused before it writes anything.
    /// Unlimited when unset.
    #[arg(long, env = "ORCHARD_MAX_FILES_BYTES")]
    pub max_files_bytes: Option<u64>,

    /// Password hashes (sign-ins, new passwords) allowed to run at once.
    #[arg(long, env = "ORCHARD_MAX_PASSWORD_HASHES", default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub max_password_hashes: u64,
}

/// The database to use; its URL scheme picks SQLite or Postgres.
#[derive(Debug, Clone, Args)]
pub struct DbSettings {
    /// `sqlite:PATH` or `postgres://USER:PASS@HOST/DB`.
    #[arg(
        long,
        global = true,
        env = "DATABASE_URL",
        default_value = "sqlite:./data/orchard.db",
        hide_env_values = true
    )]
    pub database_url: String,

    /// SQLite only: `normal` (a crash of Orchard loses nothing; a power cut may lose the last
    /// commits) or `full` (every commit reaches the disk before it is answered).
    #[arg(
        long,
        global = true,
        env = "ORCHARD_SQLITE_SYNCHRONOUS",
        default_value = "normal",
        value_parser = parse_synchronous
    )]
    pub sqlite_synchronous: engine::store::Synchronous,
}

fn parse_synchronous(s: &str) -> Result<engine::store::Synchronous, String> {
    engine::store::Synchronous::parse(s).ok_or_else(|| format!("{s:?}: use normal or full"))
}

impl DbSettings {
    /// How the store opens the database.
    pub fn options(&self) -> engine::store::Options {
        engine::store::Options {
            sqlite_synchronous: self.sqlite_synchronous,
        }
    }

    /// Opens the store of an Orchard that exists: a SQLite file that is not there is not
    /// made (an admin command pointed at the wrong folder would otherwise manage an empty
    /// new database and say nothing).
    pub async fn open_existing(&self) -> Result<std::sync::Arc<dyn engine::store::Store>, String> {
        if let Some(path) = sqlite_path(&self.database_url)
            && !std::path::Path::new(path).exists()
        {
            return Err(format!(
                "no database at {path}: pass --database-url (or DATABASE_URL) naming Orchard's \
                 database, or create one with `orchard migrate --database-url …`"
            ));
        }
        engine::store::connect_with(&self.database_url, self.options())
            .await
            .map_err(|e| format!("cannot open the database: {e}"))
    }
}

/// The file of a `sqlite:` URL (without its `?options`), if it is one.
fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then_some(path)
}

/// Settings of `orchard worker`.
#[derive(Clone, Args)]
pub struct WorkerSettings {
    /// The server, and the token of its worker API.
    #[command(flatten)]
    pub conn: crate::run_cmd::Conn,

    /// Tasks to run at once.
    #[arg(long, env = "ORCHARD_WORKER_CONCURRENCY", default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub concurrency: u64,

    /// Name shown on the workers dashboard (default: worker@hostname).
    #[arg(long, env = "ORCHARD_WORKER_NAME")]
    pub name: Option<String>,

    /// Where to read and write job files directly (`s3://bucket/prefix` or a shared folder);
    /// by default through the server's API.
    #[arg(long, env = "ORCHARD_FILES", default_value = "")]
    pub files: String,

    /// Seconds running tasks may take to finish after SIGTERM before their leases are released.
    #[arg(long, default_value_t = 10)]
    pub shutdown_grace_secs: u64,

    /// Address to serve this worker's Prometheus `/metrics` (and `/healthz`) on, e.g.
    /// `0.0.0.0:9464`. Unset: no metrics endpoint.
    #[arg(long, env = "ORCHARD_WORKER_METRICS_ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,

    /// A handler this worker offers for workflow steps, `NAME=COMMAND` (repeatable): COMMAND
    /// is split into words as a shell would split it and run without a shell.
    #[arg(long = "handler", value_name = "NAME=COMMAND")]
    pub handler: Vec<String>,

    /// A TOML file of `[[handler]]` tables (name, command, cwd, env, timeout_s,
    /// max_concurrent), offered beside `--handler`.
    #[arg(long, env = "ORCHARD_HANDLERS")]
    pub handlers: Option<PathBuf>,
}

/// The handlers `--handler` flags and a `--handlers` file declare.
pub fn load_handlers(
    flags: &[String],
    file: Option<&std::path::Path>,
    supervisor: Option<&std::path::Path>,
) -> Result<engine::jobs::handlers::Handlers, String> {
    use engine::jobs::handlers::{HandlerDef, Handlers};
    let mut defs = flags
        .iter()
        .map(|f| HandlerDef::parse_flag(f))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        defs.extend(Handlers::parse_toml(&text)?);
    }
    let handlers = Handlers::new(defs)?;
    let exe = supervisor
        .map(|p| Ok(p.to_path_buf()))
        .unwrap_or_else(std::env::current_exe);
    Ok(match exe {
        Ok(exe) => handlers.supervised_by(exe),
        Err(e) => {
            tracing::warn!(error = %e, "steps run without a supervisor: the binary's path is unknown");
            handlers
        }
    })
}

impl ServeSettings {
    /// The settings `orchard serve` would use with no flags (environment variables still
    /// apply), for embedding a server, e.g. in tests, without restating the defaults.
    pub fn from_env() -> Self {
        #[derive(clap::Parser)]
        struct Only {
            #[command(flatten)]
            serve: ServeSettings,
        }
        <Only as clap::Parser>::parse_from(["orchard"]).serve
    }
}

/// Shortest shared token `orchard serve` accepts.
pub const MIN_TOKEN_CHARS: usize = 32;

/// A secret given directly or as a file (its first line, trimmed); empty means none.
pub fn secret(
    given: Option<&str>,
    file: Option<&std::path::Path>,
) -> Result<Option<String>, String> {
    let value = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read the token file {}: {e}", path.display()))?;
            Some(text.lines().next().unwrap_or("").trim().to_string())
        }
        None => given.map(|g| g.trim().to_string()),
    };
    Ok(value.filter(|v| !v.is_empty()))
}

/// The shared token `orchard serve` runs with, refused when it is short enough to guess.
pub fn service_token(s: &ServeSettings) -> Result<Option<String>, String> {
    let token = secret(s.api_token.as_deref(), s.api_token_file.as_deref())?;
    if let Some(t) = &token
        && t.chars().count() < MIN_TOKEN_CHARS
    {
        return Err(format!(
            "ORCHARD_API_TOKEN is {} characters long; use at least {MIN_TOKEN_CHARS} \
             (e.g. `openssl rand -hex 32`)",
            t.chars().count()
        ));
    }
    Ok(token)
}

/// Number of in-process task slots when `--workers` is not given.
pub fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}
