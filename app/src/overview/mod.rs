//! The overview: counts across the whole workbench, live.

pub mod api;
pub use shared::overview::model;
pub mod page;
