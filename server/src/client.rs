//! The REST client a remote `orchard worker` uses: the lease protocol and the job files,
//! both over `/api/v1`. Server errors come back as the same `AppError`s local calls give.

use async_trait::async_trait;
use engine::files::{FileError, FileStore, check_key};
use engine::jobs::runner::Leases;
use reqwest::{RequestBuilder, Response, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use shared::error::{AppError, AppResult};
use shared::jobs::protocol::{
    BatchReply, ClaimRequest, CompleteBatch, FailRequest, HeartbeatReply, LeaseRef, LeasedTask,
    LogLines, RegisterWorker, Registered,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A registered worker's id and, for a remote worker, its own secret.
type Me = (String, Option<String>);

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
    /// This worker's id and own secret, from its registration.
    me: Arc<Mutex<Option<Me>>>,
}

impl Client {
    pub fn new(server: &str, token: Option<String>) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            // Longer than the longest claim wait the server allows.
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Self {
            http,
            base: format!("{}/api/v1", server.trim_end_matches('/')),
            token,
            me: Arc::default(),
        })
    }

    fn auth(&self, rb: RequestBuilder) -> RequestBuilder {
        let rb = match &self.token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        };
        let me = self.me.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match me {
            Some((id, secret)) => {
                let rb = rb.header(crate::api::files::WORKER_HEADER, id);
                match secret {
                    Some(s) => rb.header(crate::api::worker_secret::HEADER, s),
                    None => rb,
                }
            }
            None => rb,
        }
    }

    async fn send(&self, rb: RequestBuilder) -> AppResult<Response> {
        let resp = self
            .auth(rb)
            .send()
            .await
            .map_err(|e| AppError::Unreachable(e.to_string()))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let message = resp
            .json::<serde_json::Value>()
            .await
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
            .unwrap_or_else(|| status.to_string());
        Err(match status {
            StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => {
                AppError::Invalid(message)
            }
            StatusCode::NOT_FOUND => AppError::NotFound(message),
            StatusCode::CONFLICT => AppError::Conflict(message),
            StatusCode::UNAUTHORIZED => AppError::Unauthorized(message),
            StatusCode::FORBIDDEN => AppError::Forbidden(message),
            _ => AppError::Unreachable(format!("{status}: {message}")),
        })
    }

    /// `GET` of a JSON answer under `/api/v1`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> AppResult<T> {
        let resp = self
            .send(self.http.get(format!("{}{path}", self.base)))
            .await?;
        resp.json()
            .await
            .map_err(|e| AppError::Unreachable(format!("unreadable answer: {e}")))
    }

    /// `GET` of a text answer under `/api/v1`.
    pub async fn get_text(&self, path: &str) -> AppResult<String> {
        let resp = self
            .send(self.http.get(format!("{}{path}", self.base)))
            .await?;
        resp.text()
            .await
            .map_err(|e| AppError::Unreachable(format!("unreadable answer: {e}")))
    }

    /// `POST` of a JSON body under `/api/v1`, answered with JSON.
    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> AppResult<T> {
        let resp = self
            .send(self.http.post(format!("{}{path}", self.base)).json(body))
            .await?;
        resp.json()
            .await
            .map_err(|e| AppError::Unreachable(format!("unreadable answer: {e}")))
    }

    async fn post_empty<B: Serialize>(&self, path: &str, body: &B) -> AppResult<()> {
        self.send(self.http.post(format!("{}{path}", self.base)).json(body))
            .await
            .map(|_| ())
    }

    /// Registers this worker; later calls carry the secret the server answered with.
    pub async fn register(&self, req: &RegisterWorker) -> AppResult<Registered> {
        let r: Registered = self.post("/workers/register", req).await?;
        *self.me.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((r.worker_id.clone(), r.worker_secret.clone()));
        Ok(r)
    }

    pub async fn worker_heartbeat(&self, id: &str) -> AppResult<()> {
        self.post_empty(&format!("/workers/{id}/heartbeat"), &serde_json::json!({}))
            .await
    }

    pub async fn stop(&self, id: &str) -> AppResult<()> {
        self.post_empty(&format!("/workers/{id}/stop"), &serde_json::json!({}))
            .await
    }
}

#[async_trait]
impl Leases for Client {
    async fn claim(&self, req: &ClaimRequest) -> AppResult<Vec<LeasedTask>> {
        self.post("/leases/claim", req).await
    }
    async fn heartbeat(&self, task_id: &str, lease: &LeaseRef) -> AppResult<HeartbeatReply> {
        self.post(&format!("/tasks/{task_id}/heartbeat"), lease)
            .await
    }
    async fn complete_batch(&self, req: &CompleteBatch) -> AppResult<BatchReply> {
        self.post("/leases/complete", req).await
    }
    async fn fail(&self, task_id: &str, req: &FailRequest) -> AppResult<()> {
        self.post_empty(&format!("/tasks/{task_id}/fail"), req)
            .await
    }
    async fn log(&self, task_id: &str, lines: &LogLines) -> AppResult<()> {
        self.post_empty(&format!("/tasks/{task_id}/log"), lines)
            .await
    }
    async fn release(&self, task_id: &str, lease: &LeaseRef) -> AppResult<()> {
        self.post_empty(&format!("/tasks/{task_id}/release"), lease)
            .await
    }
}

fn file_error(key: &str, e: AppError) -> FileError {
    match e {
        AppError::NotFound(_) => FileError::NotFound(key.to_string()),
        AppError::Invalid(_) => FileError::BadKey(key.to_string()),
        other => FileError::Io(other.to_string()),
    }
}

/// Job files read and written through the server.
#[async_trait]
impl FileStore for Client {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), FileError> {
        check_key(key)?;
        self.send(
            self.http
                .put(format!("{}/files/{key}", self.base))
                .body(bytes),
        )
        .await
        .map(|_| ())
        .map_err(|e| file_error(key, e))
    }
    async fn get(&self, key: &str) -> Result<Vec<u8>, FileError> {
        check_key(key)?;
        let resp = self
            .send(self.http.get(format!("{}/files/{key}", self.base)))
            .await
            .map_err(|e| file_error(key, e))?;
        resp.bytes()
            .await
            .map(|b| b.to_vec())
            .map_err(|e| FileError::Io(e.to_string()))
    }
    async fn delete_prefix(&self, _prefix: &str) -> Result<(), FileError> {
        Err(FileError::Io(
            "remote workers do not delete job files".into(),
        ))
    }
    fn describe(&self) -> String {
        format!("remote:{}", self.base)
    }
}
