//! `orchard`: serve the web app and API, migrate the database, or run a remote worker.

/// mimalloc instead of the system allocator: the queue's hot path allocates a little per
/// task everywhere (requests, rows, JSON), and mimalloc's per-thread pages make that cheap.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    orchard_server::cli::main().await
}
