//! `GET /api/v1/events`: server-sent events with every change notice, one JSON object each
//! (unnamed, so a browser's `EventSource.onmessage` sees them all).

use crate::access::allow;
use crate::error::{ApiError, ApiResult};
use crate::openapi::{EVENTS, ErrorBody};
use app::access::Access;
use app::accounts::service::{Caller, CallerKind};
use app::state::AppState;
use axum::extract::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use futures::StreamExt;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_stream::wrappers::BroadcastStream;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Access::Viewer, routes!(stream)))
        .layer(Extension(Arc::new(StreamSlots::default())))
}

/// Most event streams one caller may hold open at once.
pub const MAX_STREAMS_PER_CALLER: usize = 16;
/// How often a stream checks that the session it was opened with is still alive.
const SESSION_CHECK: Duration = Duration::from_secs(5);

/// Open streams per caller.
#[derive(Default)]
pub struct StreamSlots(Mutex<HashMap<String, usize>>);

/// One open stream's place, given back when the stream ends.
struct Slot {
    slots: Arc<StreamSlots>,
    key: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.slots.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

impl StreamSlots {
    fn take(self: &Arc<Self>, key: String) -> Option<Slot> {
        let mut open = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(key.clone()).or_insert(0);
        if *n >= MAX_STREAMS_PER_CALLER {
            return None;
        }
        *n += 1;
        Some(Slot {
            slots: self.clone(),
            key,
        })
    }
}

/// One change notice per event, as JSON `{"topic","id","action"}`; `resync` when the
/// client fell behind and should refetch. A stream opened with a session ends within
/// seconds of the session (sign-out, disabled user, expiry); one caller may hold
/// [`MAX_STREAMS_PER_CALLER`] streams at once.
#[utoipa::path(get, path = "/events", tag = EVENTS,
    responses(
        (status = 200, description = "A stream of change notices", body = String, content_type = "text/event-stream"),
        (status = 429, description = "Too many streams open for this caller", body = ErrorBody),
    ))]
async fn stream(
    State(st): State<AppState>,
    Extension(slots): Extension<Arc<StreamSlots>>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let key = match &caller.kind {
        CallerKind::Session { user_id, .. } => format!("user:{user_id}"),
        _ => format!("name:{}", caller.name),
    };
    let slot = slots.take(key).ok_or_else(|| {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("at most {MAX_STREAMS_PER_CALLER} event streams may be open at once"),
        )
    })?;
    let session = match caller.kind {
        CallerKind::Session { session_hash, .. } => Some(session_hash),
        _ => None,
    };
    let checker = st.clone();
    let ended = async move {
        let Some(hash) = session else {
            return std::future::pending::<()>().await;
        };
        loop {
            tokio::time::sleep(SESSION_CHECK).await;
            let alive = checker
                .accounts
                .session_user(&hash, checker.sessions.idle_ms, engine::now_millis())
                .await;
            // A database hiccup is not the end of a session.
            if matches!(alive, Ok(None)) {
                return;
            }
        }
    };
    let rx = BroadcastStream::new(st.events.subscribe());
    let events = rx
        .map(move |msg| {
            let _held = &slot;
            Ok(match msg {
                Ok(e) => Event::default().data(serde_json::to_string(&e).unwrap_or_default()),
                // Fell behind: tell the client to refetch everything.
                Err(_) => Event::default().data(r#"{"topic":"resync","id":"","action":"resync"}"#),
            })
        })
        .take_until(Box::pin(ended));
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
