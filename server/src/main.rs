//! `orchard`: serve the web app and API, migrate the database, or run a remote worker.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    orchard_server::cli::main().await
}
