//! The command line: `orchard [serve]`, `orchard migrate`, `orchard worker`, `orchard user`.

use crate::config::{DbSettings, ServeSettings, WorkerSettings};
use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "orchard",
    version,
    about = "Plan work as task trees, run distributed jobs, watch it live."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Settings of `serve`, the default command.
    #[command(flatten)]
    serve: ServeSettings,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web app, the API and in-process workers (the default).
    Serve(Box<ServeSettings>),
    /// Create or upgrade the database schema, then exit.
    Migrate(MigrateArgs),
    /// Run jobs for a remote Orchard server.
    Worker(WorkerSettings),
    /// Manage the people who can sign in.
    User(crate::user_cmd::UserArgs),
    /// Issue, list or revoke API tokens for workers.
    Token(crate::tokens::TokenCommand),
    /// Submit a workflow (and follow it with --follow).
    Run(crate::run_cmd::RunArgs),
    /// List, show, cancel or retry workflow runs.
    #[command(subcommand)]
    Runs(crate::run_cmd::RunsCommand),
    /// Run one workflow step's command and stop its process group if the worker dies (a
    /// worker starts this itself).
    #[command(hide = true)]
    SuperviseStep {
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
}

pub async fn main() -> ExitCode {
    crate::telemetry::init();
    let cli = Cli::parse();
    let result = match cli.command {
        None => serve(cli.serve).await,
        Some(Command::Serve(s)) => serve(*s).await,
        Some(Command::Migrate(m)) => migrate(m).await,
        Some(Command::Worker(w)) => crate::worker_cmd::run(w).await,
        Some(Command::User(u)) => crate::user_cmd::run(u).await,
        Some(Command::Token(t)) => crate::tokens::run(t).await,
        Some(Command::Runs(r)) => crate::run_cmd::runs(r).await,
        Some(Command::Run(r)) => match crate::run_cmd::run(r).await {
            Ok(code) => return ExitCode::from(code),
            Err(e) => Err(e),
        },
        Some(Command::SuperviseStep { command }) => {
            let code =
                tokio::task::spawn_blocking(move || engine::jobs::supervise::supervise(&command))
                    .await
                    .unwrap_or(1);
            return ExitCode::from(code.clamp(0, 255) as u8);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("orchard: {e}");
            ExitCode::FAILURE
        }
    }
}

#[derive(clap::Args)]
struct MigrateArgs {
    #[command(flatten)]
    db: DbSettings,
    /// First repair a database that applied an earlier text of a migration Orchard later
    /// changed or removed (stop every other Orchard process on it first).
    #[arg(long)]
    repair: bool,
}

async fn migrate(m: MigrateArgs) -> Result<(), String> {
    let url = &m.db.database_url;
    if m.repair {
        let done = engine::store::repair::repair(url)
            .await
            .map_err(|e| format!("repair failed: {e}"))?;
        if done.is_empty() {
            println!("nothing to repair");
        }
        for line in done {
            println!("{line}");
        }
    }
    let store = engine::store::connect_with(url, m.db.options())
        .await
        .map_err(|e| format!("migration failed: {e}"))?;
    tracing::info!(
        database = store.backend().as_str(),
        "database is up to date"
    );
    Ok(())
}

async fn serve(s: ServeSettings) -> Result<(), String> {
    crate::serve::start(&s).await?.run_until_signal().await;
    Ok(())
}
