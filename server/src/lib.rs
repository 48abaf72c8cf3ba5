//! The `orchard` server: configuration, the HTTP router (pages, REST API, operations
//! endpoints), the job engine's background loops, and the remote worker.

pub mod access;
pub mod api;
pub mod background;
pub mod cli;
pub mod client;
pub mod config;
pub mod cors;
pub mod error;
pub mod http;
pub mod metrics;
pub mod openapi;
pub mod ops;
pub mod run_cmd;
pub mod serve;
pub mod site_files;
pub mod telemetry;
pub mod tokens;
pub mod user_cmd;
pub mod worker_cmd;
pub mod wpipe;
