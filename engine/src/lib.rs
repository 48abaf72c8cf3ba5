//! Orchard's core, free of Leptos and HTTP: the store (SQLite and Postgres), the leased job
//! queue and its services, the job kinds and the runner that executes them, the file store,
//! and task-tree import, export and generation. The server (`orchard serve`) and a remote
//! worker (`orchard worker`) are both built on it; the pages reach it through server
//! functions in the `app` crate.

pub mod events;
pub mod files;
pub mod kinds;
pub mod registry;
pub mod state;
pub mod store;

pub use shared::{Millis, error, format};

pub mod jobs {
    //! Jobs: the durable, leased work queue and the job kinds that run on it.
    pub use shared::jobs::{model, params, protocol};
    pub mod file_average;
    pub mod handlers;
    pub mod input_file;
    pub mod noop;
    pub use crate::store::jobs::plan;
    pub mod runner;
    pub mod service;
    pub mod supervise;
    pub mod workflow;
}

pub mod tasks {
    //! Task trees: their service, and import, export and generation as jobs.
    pub use shared::tasks::model;
    pub mod exec;
    pub mod export;
    pub mod forest;
    mod frames;
    pub mod generate;
    pub mod import;
    mod json_lexer;
    pub mod kinds;
    pub mod labels;
    pub mod markdown;
    pub mod opml;
    pub mod search;
    pub mod service;
    pub mod views;
}

pub mod workers {
    //! The fleet's service: registration, heartbeats and health.
    pub use shared::workers::{fleet, model};
    pub mod service;
}

pub mod accounts {
    //! The secrets behind sessions and tokens (their hashes are what the store keeps).
    pub use shared::accounts::model;
    pub mod secret;
}

pub mod overview {
    //! The overview's counts.
    pub use shared::overview::model;
}

/// The current time in Unix milliseconds.
pub fn now_millis() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}
