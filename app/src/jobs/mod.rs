//! Jobs: the durable, leased work queue and the job kinds that run on it.

pub mod api;
pub mod components;
pub mod model;
pub mod params;
pub mod protocol;

#[cfg(feature = "ssr")]
pub mod runner;
#[cfg(feature = "ssr")]
pub mod service;

#[cfg(feature = "ssr")]
pub mod exec;
#[cfg(feature = "ssr")]
pub mod plan;
