//! Worker types shared by the browser and the server.

use crate::Millis;
use serde::{Deserialize, Serialize};

/// Where a worker runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum WorkerKind {
    /// A task runner inside an `orchard serve` process.
    Inprocess,
    /// An `orchard worker` process talking to the REST API.
    Remote,
    /// A client of the wpipe-compatible process-monitor routes.
    Wpipe,
}

impl WorkerKind {
    pub const ALL: [WorkerKind; 3] = [WorkerKind::Inprocess, WorkerKind::Remote, WorkerKind::Wpipe];

    pub fn as_str(self) -> &'static str {
        match self {
            WorkerKind::Inprocess => "inprocess",
            WorkerKind::Remote => "remote",
            WorkerKind::Wpipe => "wpipe",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Health from the true age of the last heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Health {
    Healthy,
    Late,
    Dead,
    Stopped,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Late => "late",
            Health::Dead => "dead",
            Health::Stopped => "stopped",
        }
    }
}

/// When a silent worker counts as late, then dead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthThresholds {
    pub late_after_ms: i64,
    pub dead_after_ms: i64,
}

impl Default for HealthThresholds {
    fn default() -> Self {
        Self {
            late_after_ms: 15_000,
            dead_after_ms: 60_000,
        }
    }
}

impl HealthThresholds {
    pub fn health(&self, last_seen_at: Millis, stopped: bool, now: Millis) -> Health {
        let age = now.saturating_sub(last_seen_at);
        if stopped {
            Health::Stopped
        } else if age < self.late_after_ms {
            Health::Healthy
        } else if age < self.dead_after_ms {
            Health::Late
        } else {
            Health::Dead
        }
    }
}

/// A worker as the dashboard shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Worker {
    pub id: String,
    pub name: String,
    pub kind: WorkerKind,
    pub hostname: String,
    pub version: String,
    pub concurrency: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub registered_at: Millis,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub last_seen_at: Millis,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub stopped_at: Option<Millis>,
    pub health: Health,
    /// Tasks this worker holds a lease on now.
    pub active: i64,
    pub tasks_done: i64,
    /// The handlers it offers for workflow steps.
    #[serde(default)]
    pub handlers: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_follows_the_true_age_of_the_heartbeat() {
        let t = HealthThresholds::default();
        let now = 10_000_000;
        assert_eq!(t.health(now - 1_000, false, now), Health::Healthy);
        assert_eq!(t.health(now - 20_000, false, now), Health::Late);
        // A day-old heartbeat is dead, whatever its seconds-of-day part says.
        assert_eq!(t.health(now - 86_400_000 - 1_000, false, now), Health::Dead);
        assert_eq!(t.health(now, true, now), Health::Stopped);
    }
}
