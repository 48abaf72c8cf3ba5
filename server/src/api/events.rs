//! `GET /api/v1/events`: server-sent events with every change notice, one JSON object each
//! (unnamed, so a browser's `EventSource.onmessage` sees them all).

use crate::openapi::EVENTS;
use app::state::AppState;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use std::convert::Infallible;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(stream))
}

/// One change notice per event, as JSON `{"topic","id","action"}`; `resync` when the
/// client fell behind and should refetch.
#[utoipa::path(get, path = "/events", tag = EVENTS,
    responses((status = 200, description = "A stream of change notices", body = String, content_type = "text/event-stream")))]

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
