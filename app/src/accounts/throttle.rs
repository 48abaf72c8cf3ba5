//! Slowing down password guessing without locking anyone out: a limit per client address
//! (a burst of 10, then 10 a minute), a backoff per username that doubles with each failure
//! after the third and never exceeds 30 s (a correct password after the wait always works,
//! so nobody can keep the admin out by guessing at their name), and a cap on how many
//! password hashes run at once, so a burst of sign-ins cannot take every core.

use crate::error::AppError;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, SemaphorePermit};

/// Failures a username may have before it waits at all.
const FREE_FAILURES: u32 = 3;
/// The first wait, doubled with each later failure.
const FIRST_WAIT: Duration = Duration::from_millis(500);
/// The longest wait.
const MAX_WAIT: Duration = Duration::from_secs(30);
/// Usernames remembered before the quiet ones are forgotten.
const MAX_TRACKED: usize = 10_000;

struct Failures {
    count: u32,
    last: Instant,
}

pub struct Throttle {
    per_address: DefaultKeyedRateLimiter<IpAddr>,
    per_user: Mutex<HashMap<String, Failures>>,
    hashes: Semaphore,
}

impl Throttle {
    /// `max_hashes`: password hashes allowed to run at once (at least 1).
    pub fn new(max_hashes: usize) -> Self {
        let ten = NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN);
        Self {
            per_address: RateLimiter::keyed(Quota::per_minute(ten).allow_burst(ten)),
            per_user: Mutex::new(HashMap::new()),
            hashes: Semaphore::new(max_hashes.max(1)),
        }
    }

    /// Refuses an attempt from `client` that comes too fast, or one for `username` still
    /// inside its backoff (checked before any password is hashed).
    pub fn admit(&self, client: Option<IpAddr>, username: &str) -> Result<(), AppError> {
        if let Some(ip) = client {
            if self.per_address.len() > MAX_TRACKED {
                self.per_address.retain_recent();
            }
            if self.per_address.check_key(&ip).is_err() {
                return Err(AppError::TooManyRequests(
                    "too many sign-in attempts from this address: wait a minute and try again"
                        .into(),
                ));
            }
        }
        let users = self.per_user.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = users.get(&key(username)) {
            let wait = backoff(f.count);
            let waited = f.last.elapsed();
            if waited < wait {
                let left = (wait - waited).as_secs_f64().ceil().max(1.0) as u64;
                return Err(AppError::TooManyRequests(format!(
                    "too many wrong passwords for this user: try again in {left} s"
                )));
            }
        }
        Ok(())
    }

    /// Records how an attempt for `username` ended.
    pub fn record(&self, username: &str, ok: bool) {
        let mut users = self.per_user.lock().unwrap_or_else(|e| e.into_inner());
        if ok {
            users.remove(&key(username));
            return;
        }
        if users.len() > MAX_TRACKED {
            users.retain(|_, f| f.last.elapsed() < MAX_WAIT);
        }
        let f = users.entry(key(username)).or_insert(Failures {
            count: 0,
            last: Instant::now(),
        });
        f.count = f.count.saturating_add(1);
        f.last = Instant::now();
    }

    /// A place among the password hashes allowed to run at once; waits for one.
    pub async fn hashing(&self) -> Option<SemaphorePermit<'_>> {
        self.hashes.acquire().await.ok()
    }
}

impl Default for Throttle {
    fn default() -> Self {
        Self::new(4)
    }
}

fn key(username: &str) -> String {
    username.trim().to_lowercase()
}

/// The wait after `failures` wrong passwords in a row.
fn backoff(failures: u32) -> Duration {
    if failures <= FREE_FAILURES {
        return Duration::ZERO;
    }
    let doublings = (failures - FREE_FAILURES - 1).min(16);
    (FIRST_WAIT * 2u32.pow(doublings)).min(MAX_WAIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_stops_at_thirty_seconds() {
        assert_eq!(backoff(3), Duration::ZERO);
        assert_eq!(backoff(4), Duration::from_millis(500));
        assert_eq!(backoff(5), Duration::from_secs(1));
        assert_eq!(backoff(9), Duration::from_secs(16));
        assert_eq!(backoff(10), MAX_WAIT);
        assert_eq!(backoff(u32::MAX), MAX_WAIT);
    }

    #[test]
    fn one_user_waiting_does_not_stop_another() {
        let t = Throttle::new(4);
        for _ in 0..6 {
            t.record("ada", false);
        }
        assert!(t.admit(None, "Ada").is_err(), "names compare case-blind");
        assert!(t.admit(None, "bob").is_ok());
        t.record("ada", true);
        assert!(t.admit(None, "ada").is_ok(), "a success clears the backoff");
    }

    #[test]
    fn an_address_gets_a_burst_of_ten() {
        let t = Throttle::new(4);
        let a: IpAddr = "203.0.113.1".parse().unwrap();
        let b: IpAddr = "203.0.113.2".parse().unwrap();
        for i in 0..10 {
            assert!(t.admit(Some(a), &format!("u{i}")).is_ok());
        }
        assert!(t.admit(Some(a), "u").is_err());
        assert!(t.admit(Some(b), "u").is_ok());
    }
}
