//! Workers: the fleet that leases and runs job tasks, and its health.

pub mod api;
pub mod components;
#[cfg(feature = "ssr")]
pub use engine::workers::service;
pub use shared::workers::{fleet, model};
