//! Change events pushed to browsers over SSE (`/api/v1/events`): small notices that say what
//! changed, so pages refetch just that.

use serde::{Deserialize, Serialize};

/// One change notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// `job`, `worker` or `task`.
    pub topic: String,
    /// The id of what changed.
    pub id: String,
    /// What happened: `created`, `updated`, `deleted`, `progress`.
    pub action: String,
}

/// An event as relayed between server replicas, tagged with the replica it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relayed {
    pub origin: String,
    pub event: Event,
}
