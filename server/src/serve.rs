//! `orchard serve`: opens the store and file store, starts the HTTP server, the lease
//! reaper and the in-process workers, and stops them all gracefully.

use crate::background;
use crate::config::{ServeSettings, default_workers};
use crate::http;
use crate::metrics::Metrics;
use app::accounts::service::SessionSettings;
use app::accounts::throttle::Throttle;
use app::state::{AppState, EngineSettings};
use engine::events::EventBus;
use engine::store::Backoff;
use leptos::config::{LeptosOptions, get_configuration};
use shared::poll::RetryPolicy;
use shared::workers::model::HealthThresholds;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A started server; `stop` shuts it down gracefully.
pub struct Running {
    pub addr: SocketAddr,
    pub state: AppState,
    pub metrics: Arc<Metrics>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Signals shutdown and waits for the server, reaper and workers to finish.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }

    /// Waits until SIGINT or SIGTERM, then stops.
    pub async fn run_until_signal(self) {
        wait_for_signal().await;
        tracing::info!("shutting down");
        self.stop().await;
    }
}

pub async fn wait_for_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// Where the built site is: the configured folder when it holds the client, else (started
/// from another folder) the `site` folder beside the executable's own folder, as `cargo
/// leptos` lays it out (`target/<profile>/orchard` and `target/site`). Neither: a clear
/// refusal instead of a server whose pages never load their client.
fn find_site(options: &mut LeptosOptions) -> Result<(), String> {
    let has_client = |root: &std::path::Path| {
        root.join(&*options.site_pkg_dir)
            .join(format!("{}.js", options.output_name))
            .is_file()
    };
    let configured = std::path::PathBuf::from(&*options.site_root);
    if has_client(&configured) {
        return Ok(());
    }
    let beside_exe = std::env::current_exe().ok().and_then(|exe| {
        let dir = exe.parent()?;
        let up = dir.parent()?;
        [dir.join("site"), up.join("site"), up.parent()?.join("site")]
            .into_iter()
            .find(|c| has_client(c))
    });
    match beside_exe {
        Some(found) => {
            tracing::info!(site = %found.display(), "serving the site found beside the executable");
            options.site_root = found.display().to_string().into();
            Ok(())
        }
        None => Err(format!(
            "no built site at {} (no {}/{}.js there or beside the executable): build it with \
             `make build`, run from the checkout, or pass --site-root (ORCHARD_SITE_ROOT)",
            configured.display(),
            options.site_pkg_dir,
            options.output_name
        )),
    }
}

fn leptos_options(s: &ServeSettings, addr: SocketAddr) -> LeptosOptions {
    let from_file = s
        .leptos_toml
        .to_str()
        .filter(|_| s.leptos_toml.exists())
        .and_then(|p| get_configuration(Some(p)).ok())
        .map(|c| c.leptos_options);
    let mut options = from_file.unwrap_or_else(|| {
        LeptosOptions::builder()
            .output_name("orchard")
            .site_root("target/site")
            .site_pkg_dir("pkg")
            .build()
    });
    options.site_addr = addr;
    if let Some(root) = &s.site_root {
        options.site_root = root.clone().into();
    }
    options
}

/// Starts everything `orchard serve` runs. Binding to port 0 picks a free port (tests).
pub async fn start(s: &ServeSettings) -> Result<Running, String> {
    let service_token = crate::config::service_token(s)?;
    let proxies = crate::access::TrustedProxies::parse(&s.trusted_proxies)?;
    let store = engine::store::connect_with(&s.db.database_url, s.db.options())
        .await
        .map_err(|e| format!("cannot open the database: {e}"))?;
    let files = engine::files::open(&s.files, &s.data_dir)
        .map_err(|e| format!("cannot open the file store: {e}"))?;
    // With several replicas on one Postgres, change events travel between them.
    let feed = store
        .change_feed()
        .await
        .map_err(|e| format!("cannot listen for changes: {e}"))?;
    let (events, outgoing) = match feed {
        Some(_) => {
            let (bus, rx) = EventBus::with_relay();
            (bus, Some(rx))
        }
        None => (EventBus::new(), None),
    };
    let listener = tokio::net::TcpListener::bind(s.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", s.addr))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("no local address: {e}"))?;
    let engine = EngineSettings {
        lease_ms: (s.lease_secs * 1000) as i64,
        max_attempts: s.max_attempts as i64,
        backoff: Backoff::default(),
        health: HealthThresholds {
            late_after_ms: (s.worker_late_secs * 1000) as i64,
            dead_after_ms: (s.worker_dead_secs.max(s.worker_late_secs) * 1000) as i64,
        },
        max_claim_wait_ms: 30_000,
        poll: RetryPolicy {
            base_delay_ms: s.poll_base_ms,
            max_delay_ms: 30_000.max(s.poll_base_ms),
            max_retries: s.poll_max_retries,
        },
        max_tree_depth: s.max_tree_depth,
        max_workflow_steps: s.max_workflow_steps as usize,
        max_files_bytes: s.max_files_bytes.unwrap_or(u64::MAX),
    };
    let mut site_options = leptos_options(s, addr);
    find_site(&mut site_options)?;
    let metrics = Metrics::new();
    let state = AppState {
        leptos_options: site_options.clone(),
        core: engine::state::Core::new(store, files, events, Arc::new(engine), metrics.clone()),
        sessions: Arc::new(SessionSettings {
            idle_ms: (s.session_idle_mins * 60_000) as i64,
            max_ms: (s.session_max_hours * 3_600_000) as i64,
            secure_always: s.secure_cookies,
        }),
        sign_in: Arc::new(Throttle::new(s.max_password_hashes as usize)),
        assets: crate::site_files::assets(std::path::Path::new(&*site_options.site_root)),
    };
    let api = crate::api::ApiSettings {
        wpipe_public_dashboard: s.wpipe_public_dashboard,
        request_timeout: std::time::Duration::from_secs(s.request_timeout_secs),
    };
    let access = crate::access::Settings {
        service_token: service_token.map(Arc::<str>::from),
        proxies,
    };
    let router = http::router(state.clone(), metrics.clone(), &api, &access);
    let router = match crate::cors::layer(&s.cors_origins)? {
        Some(cors) => router.layer(cors),
        None => router,
    };
    let (shutdown, rx) = watch::channel(false);
    let mut tasks = Vec::new();

    let mut server_rx = rx.clone();
    tasks.push(tokio::spawn(async move {
        let served = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = server_rx.wait_for(|stop| *stop).await;
        })
        .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "server stopped with an error");
        }
    }));
    tasks.push(tokio::spawn(background::reaper(
        state.clone(),
        metrics.clone(),
        rx.clone(),
    )));
    if let (Some(feed), Some(outgoing)) = (feed, outgoing) {
        tasks.push(tokio::spawn(background::relay_out(
            state.clone(),
            outgoing,
            rx.clone(),
        )));
        tasks.push(tokio::spawn(background::relay_in(
            state.clone(),
            feed,
            rx.clone(),
        )));
    }
    let slots = s.workers.unwrap_or_else(default_workers);
    if slots > 0 {
        let handlers =
            crate::config::load_handlers(&[], s.handlers.as_deref(), s.supervisor.as_deref())?;
        tasks.push(tokio::spawn(background::in_process_workers(
            state.clone(),
            slots,
            Arc::new(handlers),
            metrics.workers_local.clone(),
            rx.clone(),
        )));
    }
    tracing::info!(
        %addr,
        database = state.store.backend().as_str(),
        files = %state.files.describe(),
        workers = slots,
        "orchard is serving at http://{addr}"
    );
    match app::accounts::service::issue_setup_link(&state).await {
        Ok(Some(path)) => {
            let host = if addr.ip().is_unspecified() {
                format!("127.0.0.1:{}", addr.port())
            } else {
                addr.to_string()
            };
            tracing::warn!(
                "no accounts yet: open the one-time setup link to create the first admin"
            );
            eprintln!(
                "\n  No accounts yet. Create the first admin (link valid 24 h, once):\n    http://{host}{path}\n"
            );
        }
        Ok(None) => {}
        Err(e) => tracing::error!(error = %e, "cannot issue a setup link"),
    }
    Ok(Running {
        addr,
        state,
        metrics,
        shutdown,
        tasks,
    })
}
