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

#[cfg(feature = "ssr")]
pub use bus::EventBus;

#[cfg(feature = "ssr")]
mod bus {
    use super::Event;
    use tokio::sync::broadcast;

    /// Fan-out of change events to every open SSE stream of this process.
    #[derive(Clone)]
    pub struct EventBus {
        tx: broadcast::Sender<Event>,
    }

    impl Default for EventBus {
        fn default() -> Self {
            Self::new()
        }
    }

    impl EventBus {
        pub fn new() -> Self {
            let (tx, _) = broadcast::channel(1024);
            Self { tx }
        }

        pub fn publish(&self, topic: &str, id: &str, action: &str) {
            // No subscribers is fine: nobody is watching.
            let _ = self.tx.send(Event {
                topic: topic.to_string(),
                id: id.to_string(),
                action: action.to_string(),
            });
        }

        pub fn subscribe(&self) -> broadcast::Receiver<Event> {
            self.tx.subscribe()
        }

        pub fn subscribers(&self) -> usize {
            self.tx.receiver_count()
        }
    }
}
