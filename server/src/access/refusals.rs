//! Refused requests are counted (`orchard_http_refused_total`), and written to the audit
//! log only when they say something: a known caller refused is always recorded; refusals
//! of nobody in particular at most once per client address a minute, so a flood of
//! anonymous requests cannot flood the log.

use crate::metrics::Metrics;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

/// Addresses remembered before the limiter forgets the quiet ones.
const MAX_TRACKED: usize = 10_000;

pub struct Refusals {
    metrics: Arc<Metrics>,
    anonymous: DefaultKeyedRateLimiter<IpAddr>,
}

impl Refusals {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self {
            metrics,
            anonymous: RateLimiter::keyed(Quota::per_minute(NonZeroU32::MIN)),
        }
    }

    pub fn count(&self, reason: &str) {
        self.metrics.refused.with_label_values(&[reason]).inc();
    }

    /// Counts a refusal; true when it should also go to the audit log.
    pub fn refused(&self, anonymous: bool, client: IpAddr) -> bool {
        if !anonymous {
            self.count("forbidden");
            return true;
        }
        self.count("anonymous");
        if self.anonymous.len() > MAX_TRACKED {
            self.anonymous.retain_recent();
        }
        self.anonymous.check_key(&client).is_ok()
    }
}
