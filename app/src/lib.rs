//! Orchard's isomorphic crate: every page and component and the server functions behind
//! them. The types it shares with the server come from `shared` (re-exported under the same
//! paths); on the server (`ssr`) its server functions call the `engine`.

#![recursion_limit = "256"]

pub mod access;
pub mod accounts;
pub mod assets;
pub mod jobs;
pub mod overview;
pub mod tasks;
pub mod ui;
pub mod workers;

pub use shared::{error, wire};

/// Change events: their shapes, and (on the server) the bus that carries them.
pub mod events {
    #[cfg(feature = "ssr")]
    pub use engine::events::EventBus;
    pub use shared::events::*;
}

#[cfg(feature = "ssr")]
pub use engine::{files, store};
#[cfg(feature = "ssr")]
pub mod state;

mod routes;
mod shell;
pub use shell::{App, PAGES, shell};

pub use shared::Millis;

/// The current time in Unix milliseconds.
pub fn now_millis() -> Millis {
    #[cfg(feature = "ssr")]
    {
        engine::now_millis()
    }
    #[cfg(all(not(feature = "ssr"), feature = "hydrate"))]
    {
        js_sys::Date::now() as i64
    }
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    {
        0
    }
}
