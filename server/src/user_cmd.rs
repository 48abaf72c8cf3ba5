//! `orchard user create|list|set-role|reset-password|disable|enable`: managing people from
//! the command line, straight on the database (the server need not run). Passwords are read
//! from standard input, one line, so they stay out of the shell history.

use crate::config::DbSettings;
use app::accounts::password;
use clap::{Args, Subcommand};
use engine::store::Store;
use shared::accounts::model::{AuditEntry, Role, check_password, check_username};
use std::io::{BufRead, IsTerminal, Write};

#[derive(Args)]
pub struct UserArgs {
    #[command(flatten)]
    db: DbSettings,
    #[command(subcommand)]
    action: UserAction,
}

#[derive(Subcommand)]
enum UserAction {
    /// Add a person; the password is read from standard input.
    Create {
        username: String,
        /// admin, editor or viewer.
        #[arg(long, default_value = "viewer")]
        role: String,
    },
    /// Everyone, with role and status.
    List,
    /// Change someone's role (the last enabled admin stays an admin).
    SetRole { username: String, role: String },
    /// Set a new password (read from standard input); signs the person out everywhere.
    ResetPassword { username: String },
    /// Stop someone from signing in; ends their sessions.
    Disable { username: String },
    /// Let a disabled person sign in again.
    Enable { username: String },
}

fn read_password() -> Result<String, String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Password (at least 10 characters; input is shown): ");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password: {e}"))?;
    let pw = line.trim_end_matches(['\r', '\n']).to_string();
    check_password(&pw)?;
    Ok(pw)
}

/// Records a change made from the command line in the audit log.
pub async fn audit(store: &dyn Store, action: &str, target: &str) {
    let entry = AuditEntry {
        id: uuid::Uuid::now_v7().to_string(),
        at: engine::now_millis(),
        actor: "cli".into(),
        role: "admin".into(),
        action: action.into(),
        target: target.into(),
        status: 200,
        request_id: String::new(),
    };
    if let Err(e) = store.record_audit(&entry).await {
        eprintln!("orchard: warning: audit entry not recorded: {e}");
    }
}

pub async fn run(args: UserArgs) -> Result<(), String> {
    let store = args.db.open_existing().await?;
    let now = engine::now_millis();
    match args.action {
        UserAction::Create { username, role } => {
            check_username(&username)?;
            let role = Role::parse(&role)?;
            let pw = read_password()?;
            let hash = password::hash(&pw).await?;
            let u = store
                .create_user(&username, &hash, role, now)
                .await
                .map_err(|e| e.to_string())?;
            audit(&*store, "user.create", &u.username).await;
            println!("created {} ({})", u.username, u.role);
        }
        UserAction::List => {
            let users = store.list_users(now).await.map_err(|e| e.to_string())?;
            println!("{:<32} {:<8} {:<9} sessions", "username", "role", "status");
            for u in users {
                let status = if u.disabled { "disabled" } else { "active" };
                println!(
                    "{:<32} {:<8} {:<9} {}",
                    u.username, u.role, status, u.sessions
                );
            }
        }
        UserAction::SetRole { username, role } => {
            let role = Role::parse(&role)?;
            let u = store
                .set_role(&username, role)
                .await
                .map_err(|e| e.to_string())?;
            audit(
                &*store,
                "user.set_role",
                &format!("{} → {}", u.username, u.role),
            )
            .await;
            println!("{} is now {}", u.username, u.role);
        }
        UserAction::ResetPassword { username } => {
            let pw = read_password()?;
            let hash = password::hash(&pw).await?;
            store
                .set_password(&username, &hash)
                .await
                .map_err(|e| e.to_string())?;
            audit(&*store, "user.reset_password", &username).await;
            println!("password of {username} changed; their sessions ended");
        }
        UserAction::Disable { username } => set_disabled(&*store, &username, true, now).await?,
        UserAction::Enable { username } => set_disabled(&*store, &username, false, now).await?,
    }
    Ok(())
}

async fn set_disabled(
    store: &dyn Store,
    username: &str,
    disabled: bool,
    now: i64,
) -> Result<(), String> {
    let u = store
        .set_disabled(username, disabled, now)
        .await
        .map_err(|e| e.to_string())?;
    let action = if disabled {
        "user.disable"
    } else {
        "user.enable"
    };
    audit(store, action, &u.username).await;
    println!(
        "{} is {}",
        u.username,
        if disabled { "disabled" } else { "enabled" }
    );
    Ok(())
}
