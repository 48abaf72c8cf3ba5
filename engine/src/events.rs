//! The change-event bus: fans each change notice out to every open event stream of this
//! process and, when several replicas share one Postgres, relays it to the others.

pub use shared::events::{Event, Relayed};
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc};

/// Fan-out of change events to every open SSE stream of this process and, when a relay
/// is attached (several replicas on one Postgres), to the other replicas.
#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Event>,
    origin: Arc<str>,
    relay: Option<mpsc::UnboundedSender<Relayed>>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    /// A bus for this process alone.
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(1024);
        Self {
            tx,
            origin: uuid::Uuid::new_v4().to_string().into(),
            relay: None,
        }
    }

    /// A bus whose events also go out on the returned channel, for relaying.
    pub fn with_relay() -> (Self, mpsc::UnboundedReceiver<Relayed>) {
        let (relay, rx) = mpsc::unbounded_channel();
        let bus = Self {
            relay: Some(relay),
            ..Self::new()
        };
        (bus, rx)
    }

    pub fn publish(&self, topic: &str, id: &str, action: &str) {
        let event = Event {
            topic: topic.to_string(),
            id: id.to_string(),
            action: action.to_string(),
        };
        // No subscribers is fine: nobody is watching.
        let _ = self.tx.send(event.clone());
        if let Some(relay) = &self.relay {
            let _ = relay.send(Relayed {
                origin: self.origin.to_string(),
                event,
            });
        }
    }

    /// Hands an event relayed from another replica to this replica's streams; events
    /// this replica sent itself come back too and are dropped.
    pub fn deliver(&self, relayed: Relayed) {
        if *relayed.origin != *self.origin {
            let _ = self.tx.send(relayed.event);
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    pub fn subscribers(&self) -> usize {
        self.tx.receiver_count()
    }
}
