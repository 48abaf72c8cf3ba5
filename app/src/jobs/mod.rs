//! Jobs: the durable, leased work queue and the job kinds that run on it.

pub mod api;
pub mod components;
pub use shared::jobs::{model, params, protocol};

#[cfg(feature = "ssr")]
pub use engine::jobs::{file_average, noop, plan, runner, service};
