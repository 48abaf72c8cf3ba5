//! Orchard's shared types: the shapes the browser, the server, the engine and remote workers
//! send each other (jobs, tasks, workers, accounts, change events), the one error type the
//! UI sees, and the small formatting helpers both sides use. Nothing here talks to a
//! database, a file or the network.

pub mod error;
pub mod events;
pub mod format;
pub mod poll;
#[cfg(feature = "server-fn")]
pub mod wire;

pub mod jobs {
    //! Jobs as the API and the pages see them, their parameters, and the lease protocol.
    pub mod model;
    pub mod params;
    pub mod protocol;
    pub mod workflow;
}

pub mod tasks {
    //! Task trees as the API and the pages see them.
    pub mod fields;
    pub mod filter;
    pub mod model;
    pub mod views;
}

pub mod workers {
    //! Workers and the wpipe fleet as the API and the pages see them.
    pub mod fleet;
    pub mod model;
}

pub mod accounts {
    //! People, roles, sessions and tokens as the API and the pages see them.
    pub mod model;
}

pub mod overview {
    //! The overview's counts.
    pub mod model;
}

/// Milliseconds since the Unix epoch, the one time representation Orchard stores and sends.
pub type Millis = i64;
