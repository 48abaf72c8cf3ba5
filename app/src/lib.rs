//! Orchard's isomorphic crate: the types shared by browser and server, every page and
//! component, the server functions, and (behind the `ssr` feature) the domain code that
//! talks to the database and the file store.

#![recursion_limit = "256"]

pub mod access;
pub mod accounts;
pub mod error;
pub mod events;
pub mod jobs;
pub mod overview;
pub mod tasks;
pub mod ui;
pub mod wire;
pub mod workers;

#[cfg(feature = "ssr")]
pub mod files;
#[cfg(feature = "ssr")]
pub mod state;
#[cfg(feature = "ssr")]
pub mod store;

mod shell;
pub use shell::{App, PAGES, shell};

/// Milliseconds since the Unix epoch, the one time representation Orchard stores and sends.
pub type Millis = i64;

/// The current time in Unix milliseconds.
pub fn now_millis() -> Millis {
    #[cfg(feature = "ssr")]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or_default()
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
