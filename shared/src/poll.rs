//! The retry policy the browser follows while polling something that is still changing
//! (a running job): exponential backoff with jitter after failed polls, up to a maximum
//! number of retries, then it stops and offers to try again.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Time between polls while all is well, and the base of the backoff.
    pub base_delay_ms: u64,
    /// Longest wait between two polls.
    pub max_delay_ms: u64,
    /// Failed polls in a row before giving up.
    pub max_retries: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base_delay_ms: 1_000,
            max_delay_ms: 30_000,
            max_retries: 10,
        }
    }
}

impl RetryPolicy {
    /// Delay before the next poll after `failures` failed polls in a row, with `jitter` in
    /// `0.0..1.0` spreading the delay over its upper half so many tabs do not retry together.
    pub fn delay_ms(&self, failures: u32, jitter: f64) -> u64 {
        let full = self
            .base_delay_ms
            .saturating_mul(1u64 << failures.min(20))
            .min(self.max_delay_ms);
        if failures == 0 {
            return full;
        }
        (full as f64 * (0.5 + 0.5 * jitter.clamp(0.0, 1.0))) as u64
    }

    /// Whether to keep polling after `failures` failed polls in a row.
    pub fn should_retry(&self, failures: u32) -> bool {
        failures <= self.max_retries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backs_off_with_jitter_up_to_a_cap_then_gives_up() {
        let p = RetryPolicy {
            base_delay_ms: 1_000,
            max_delay_ms: 8_000,
            max_retries: 3,
        };
        assert_eq!(p.delay_ms(0, 0.7), 1_000);
        assert_eq!(p.delay_ms(1, 1.0), 2_000);
        assert_eq!(p.delay_ms(1, 0.0), 1_000);
        assert_eq!(p.delay_ms(2, 0.5), 3_000);
        assert_eq!(p.delay_ms(10, 1.0), 8_000);
        assert!(p.should_retry(3));
        assert!(!p.should_retry(4));
    }
}
