//! How sessions behave: how long an unused one lasts, how long one lasts at most, and whether
//! its cookie is always marked `Secure`. The server's state holds them; the accounts service
//! reads them.

/// How sessions behave.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// A session unused this long ends.
    pub idle_ms: i64,
    /// A session ends this long after sign-in, used or not.
    pub max_ms: i64,
    /// Mark the cookie `Secure` even when no proxy says the request came over HTTPS.
    pub secure_always: bool,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            idle_ms: 12 * 3_600_000,
            max_ms: 7 * 24 * 3_600_000,
            secure_always: false,
        }
    }
}
