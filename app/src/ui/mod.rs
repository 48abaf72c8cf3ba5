//! Shared UI pieces: the layout, live updates, and small components used by every page.

pub mod error_view;
pub mod format;
pub mod layout;
pub mod live;
pub mod not_found;
pub mod poll;
pub mod progress;
pub mod theme_toggle;
