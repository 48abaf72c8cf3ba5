//! Task trees: a forest of tasks of any depth, loaded a page of children at a time, with a
//! status board, live updates, and import, export and generation as jobs.

pub mod api;
pub mod components;
pub mod model;

#[cfg(feature = "ssr")]
pub mod exec;
#[cfg(feature = "ssr")]
pub mod export;
#[cfg(feature = "ssr")]
pub mod generate;
#[cfg(feature = "ssr")]
pub mod import;
#[cfg(feature = "ssr")]
pub mod service;
