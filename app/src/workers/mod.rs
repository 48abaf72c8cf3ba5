//! Workers: the fleet that leases and runs job tasks, and its health.

pub mod api;
pub mod components;
pub mod fleet;
pub mod model;
#[cfg(feature = "ssr")]
pub mod service;
