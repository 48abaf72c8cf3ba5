//! `GET /api/v1/events`: server-sent events with every change notice, one JSON object each
//! (unnamed, so a browser's `EventSource.onmessage` sees them all).

use app::state::AppState;
use axum::Router;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use futures::Stream;
use std::convert::Infallible;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;

pub fn router() -> Router<AppState> {
    Router::new().route("/events", get(stream))
}

async fn stream(State(st): State<AppState>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = BroadcastStream::new(st.events.subscribe());
    let events = rx.map(|msg| {
        Ok(match msg {
            Ok(e) => Event::default().data(serde_json::to_string(&e).unwrap_or_default()),
            // Fell behind: tell the client to refetch everything.
            Err(_) => Event::default().data(r#"{"topic":"resync","id":"","action":"resync"}"#),
        })
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}
