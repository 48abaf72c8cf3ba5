//! The one error type the UI sees: serializable, readable by a person, never carrying
//! database or filesystem internals (those are logged on the server instead).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// The input was wrong; the message says what to change.
    #[error("{0}")]
    Invalid(String),
    /// The thing asked for does not exist (any more).
    #[error("{0} not found")]
    NotFound(String),
    /// The request conflicts with the current state (e.g. a stale lease, a finished job).
    #[error("{0}")]
    Conflict(String),
    /// Nobody is signed in (or the token is wrong).
    #[error("{0}")]
    Unauthorized(String),
    /// The caller is known but may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// Too many attempts too fast; the message says how long to wait.
    #[error("{0}")]
    TooManyRequests(String),
    /// Something failed on the server; details are in the server log.
    #[error("the server could not complete the request")]
    Internal,
    /// The request never reached the server or its answer could not be read.
    #[error("cannot reach the server: {0}")]
    Unreachable(String),
}

#[cfg(feature = "server-fn")]
impl server_fn::error::FromServerFnError for AppError {
    type Encoder = crate::wire::JsonText;

    fn from_server_fn_error(value: server_fn::error::ServerFnErrorErr) -> Self {
        use server_fn::error::ServerFnErrorErr;
        match value {
            ServerFnErrorErr::Args(m) | ServerFnErrorErr::MissingArg(m) => AppError::Invalid(m),
            other => AppError::Unreachable(other.to_string()),
        }
    }
}

impl AppError {
    /// The HTTP status this error answers with.
    pub fn status_code(&self) -> u16 {
        match self {
            AppError::Invalid(_) => 400,
            AppError::NotFound(_) => 404,
            AppError::Conflict(_) => 409,
            AppError::Unauthorized(_) => 401,
            AppError::Forbidden(_) => 403,
            AppError::TooManyRequests(_) => 429,
            AppError::Internal => 500,
            AppError::Unreachable(_) => 502,
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;
