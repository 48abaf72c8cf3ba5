//! The overview: counts across the whole workbench, live.

pub mod api;
pub mod model;
pub mod page;
