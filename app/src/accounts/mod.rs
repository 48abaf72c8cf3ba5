//! People and what they may do: users with roles, sessions, the first-run setup link, and
//! the audit log of every change.

pub mod api;
pub mod components;
pub use shared::accounts::model;
#[cfg(feature = "ssr")]
pub mod password;
#[cfg(feature = "ssr")]
pub use engine::accounts::secret;
#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
pub mod sessions;
#[cfg(feature = "ssr")]
pub mod throttle;
