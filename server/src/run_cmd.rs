//! `orchard run FILE` and `orchard runs …`: submit a workflow and follow it to its end, or look
//! at runs, cancel and retry them, from a terminal, through the REST API.

use crate::client::Client;
use serde_json::{Value, json};
use shared::jobs::model::{Job, JobKind, JobState};
use shared::jobs::workflow::{StepPage, StepState};
use std::path::PathBuf;
use std::time::Duration;

/// Where the server is and how to show who you are.
#[derive(clap::Args, Clone)]
pub struct Conn {
    /// Base URL of an Orchard server.
    #[arg(long, env = "ORCHARD_SERVER", default_value = "http://127.0.0.1:3000")]
    pub server: String,
    /// A token: `--scope worker` for `orchard worker`, `--scope write` for `orchard run`.
    #[arg(long, env = "ORCHARD_API_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// A file holding the token (its first line).
    #[arg(long, env = "ORCHARD_API_TOKEN_FILE", conflicts_with = "token")]
    pub token_file: Option<PathBuf>,
}

impl Conn {
    pub fn client(&self) -> Result<Client, String> {
        let token = crate::config::secret(self.token.as_deref(), self.token_file.as_deref())?;
        Client::new(&self.server, token)
    }
}

/// `orchard run FILE`.
#[derive(clap::Args)]
pub struct RunArgs {
    /// A workflow: `{"steps": […]}`, or a whole job body `{"kind": "workflow", "params": …}`.
    pub file: PathBuf,
    /// Follow the run to its end: a progress line as steps finish, then its result; the exit
    /// status is 0 when it succeeded, 1 when it failed or was cancelled.
    #[arg(long)]
    pub follow: bool,
    #[command(flatten)]
    pub conn: Conn,
}

/// `orchard runs …`.
#[derive(clap::Subcommand)]
pub enum RunsCommand {
    /// The newest workflow runs.
    List {
        #[arg(long, default_value_t = 20)]
        limit: i64,
        #[command(flatten)]
        conn: Conn,
    },
    /// A run and its steps.
    Show {
        id: String,
        #[command(flatten)]
        conn: Conn,
    },
    /// Cancels a run: its running steps stop, its waiting ones never start.
    Cancel {
        id: String,
        #[command(flatten)]
        conn: Conn,
    },
    /// A step's log (the latest attempt's, or `--attempt N`).
    Logs {
        id: String,
        step: String,
        #[arg(long)]
        attempt: Option<i64>,
        #[command(flatten)]
        conn: Conn,
    },
    /// Runs a failed or cancelled run's failed and cancelled steps again.
    Retry {
        id: String,
        #[command(flatten)]
        conn: Conn,
    },
}

/// Submits a workflow and, with `--follow`, follows it; answers the exit code.
pub async fn run(a: RunArgs) -> Result<u8, String> {
    let text = std::fs::read_to_string(&a.file)
        .map_err(|e| format!("cannot read {}: {e}", a.file.display()))?;
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not JSON: {e}", a.file.display()))?;
    let body = if v.get("kind").is_some() {
        v
    } else {
        json!({ "kind": "workflow", "params": v })
    };
    let client = a.conn.client()?;
    let job: Job = client
        .post("/jobs", &body)
        .await
        .map_err(|e| format!("the run was refused: {e}"))?;
    println!("run {} submitted", job.id);
    if !a.follow {
        return Ok(0);
    }
    follow(&client, &job.id).await
}

/// Prints a progress line whenever it changes, then the outcome.
async fn follow(client: &Client, id: &str) -> Result<u8, String> {
    let mut last = String::new();
    loop {
        let job: Job = client
            .get(&format!("/jobs/{id}"))
            .await
            .map_err(|e| e.to_string())?;
        let steps: StepPage = client
            .get(&format!("/jobs/{id}/steps?limit=1000"))
            .await
            .map_err(|e| e.to_string())?;
        let count = |s: StepState| steps.items.iter().filter(|x| x.state == s).count();
        let waiting: Vec<&str> = steps
            .items
            .iter()
            .filter_map(|s| s.waiting_reason.as_deref())
            .collect();
        let line = format!(
            "{}: {} of {} steps done, {} running{}",
            job.state.as_str(),
            count(StepState::Succeeded),
            steps.items.len(),
            count(StepState::Running),
            waiting
                .first()
                .map(|w| format!(" (waiting: {w})"))
                .unwrap_or_default()
        );
        if line != last {
            println!("{line}");
            last = line;
        }
        match job.state {
            JobState::Succeeded => {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&job.result).unwrap_or_default()
                );
                return Ok(0);
            }
            JobState::Failed | JobState::Cancelled => {
                eprintln!(
                    "run {id} {}: {}",
                    job.state.as_str(),
                    job.error.as_deref().unwrap_or("no error recorded")
                );
                return Ok(1);
            }
            JobState::Queued | JobState::Running => {}
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

pub async fn runs(c: RunsCommand) -> Result<(), String> {
    match c {
        RunsCommand::List { limit, conn } => {
            let jobs: Vec<Job> = conn
                .client()?
                .get(&format!("/jobs?limit={}", limit.clamp(1, 500)))
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "{:<38} {:<10} {:>11}  created",
                "run", "state", "steps done"
            );
            for j in jobs.iter().filter(|j| j.kind == JobKind::Workflow) {
                println!(
                    "{:<38} {:<10} {:>11}  {}",
                    j.id,
                    j.state.as_str(),
                    format!("{}/{}", j.progress.done, j.progress.total),
                    j.created_at
                );
            }
        }
        RunsCommand::Show { id, conn } => {
            let client = conn.client()?;
            let job: Job = client
                .get(&format!("/jobs/{id}"))
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "run {} {} ({}/{} steps done)",
                job.id,
                job.state.as_str(),
                job.progress.done,
                job.progress.total
            );
            if let Some(e) = &job.error {
                println!("error: {e}");
            }
            let mut cursor = String::new();
            loop {
                let page: StepPage = client
                    .get(&format!("/jobs/{id}/steps?limit=1000&cursor={cursor}"))
                    .await
                    .map_err(|e| e.to_string())?;
                for s in &page.items {
                    let state = serde_json::to_value(s.state).unwrap_or_default();
                    println!(
                        "  {:<24} {:<10} {:<10} attempts {}{}",
                        s.id,
                        s.handler,
                        state.as_str().unwrap_or_default(),
                        s.attempts,
                        s.waiting_reason
                            .as_deref()
                            .or(s.error.as_deref())
                            .map(|w| format!("  {}", w.lines().next().unwrap_or_default()))
                            .unwrap_or_default()
                    );
                }
                match page.next_cursor {
                    Some(c) => cursor = c,
                    None => break,
                }
            }
        }
        RunsCommand::Logs {
            id,
            step,
            attempt,
            conn,
        } => {
            let step =
                percent_encoding::utf8_percent_encode(&step, percent_encoding::NON_ALPHANUMERIC);
            let query = attempt.map(|a| format!("?attempt={a}")).unwrap_or_default();
            let text = conn
                .client()?
                .get_text(&format!("/jobs/{id}/steps/{step}/log{query}"))
                .await
                .map_err(|e| e.to_string())?;
            print!("{text}");
        }
        RunsCommand::Cancel { id, conn } => {
            let job: Job = conn
                .client()?
                .post(&format!("/jobs/{id}/cancel"), &json!({}))
                .await
                .map_err(|e| e.to_string())?;
            println!("run {} {}", job.id, job.state.as_str());
        }
        RunsCommand::Retry { id, conn } => {
            let job: Job = conn
                .client()?
                .post(&format!("/jobs/{id}/retry"), &json!({}))
                .await
                .map_err(|e| e.to_string())?;
            println!("run {} {}", job.id, job.state.as_str());
        }
    }
    Ok(())
}
