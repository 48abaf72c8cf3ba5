//! Shared UI pieces: the layout, live updates, and small components used by every page.

pub use shared::{format, poll};

pub mod error_view;
pub mod layout;
pub mod live;
pub mod not_found;
pub mod progress;
pub mod theme_toggle;
