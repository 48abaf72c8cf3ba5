//! `/api/v1/files/{key}`: job files for remote workers that cannot see the server's store.

use crate::error::{ApiError, ApiResult};
use app::files::FileError;
use app::state::AppState;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;

pub fn router() -> Router<AppState> {
    Router::new().route("/files/{*key}", get(read).put(write))
}

fn map(e: FileError) -> ApiError {
    match e {
        FileError::NotFound(k) => ApiError::not_found(format!("file {k} not found")),
        FileError::BadKey(k) => ApiError::bad_request(format!("invalid file key {k:?}")),
        FileError::Io(m) => {
            tracing::error!(error = %m, "file store failure");
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "file store unavailable")
        }
    }
}

async fn read(State(st): State<AppState>, Path(key): Path<String>) -> ApiResult<Vec<u8>> {
    st.files.get(&key).await.map_err(map)
}

async fn write(
    State(st): State<AppState>,
    Path(key): Path<String>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    st.files.put(&key, body.to_vec()).await.map_err(map)?;
    Ok(StatusCode::NO_CONTENT)
}
