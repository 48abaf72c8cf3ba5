//! Task trees: a forest of tasks of any depth, loaded a page of children at a time, with a
//! status board, live updates, and import, export and generation as jobs.

pub mod api;
pub mod components;
pub use shared::tasks::model;

#[cfg(feature = "ssr")]
pub use engine::tasks::{exec, export, generate, import, kinds, search, service, views};
