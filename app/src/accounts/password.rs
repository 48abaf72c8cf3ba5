//! Password hashing with argon2id (the crate's defaults: 19 MiB, 2 passes), run off the
//! async threads because each hash takes tens of milliseconds on purpose.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// The PHC string of `password` with a fresh salt.
pub async fn hash(password: &str) -> Result<String, String> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| format!("cannot hash the password: {e}"))
    })
    .await
    .map_err(|e| format!("password hashing stopped: {e}"))?
}

/// Whether `password` matches the stored PHC string.
pub async fn verify(password: &str, stored: &str) -> bool {
    let (password, stored) = (password.to_string(), stored.to_string());
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// A hash to check against when the user does not exist, so that a wrong username takes as
/// long to refuse as a wrong password.
pub async fn dummy_verify(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let stored = match DUMMY.get() {
        Some(h) => h.clone(),
        None => {
            let h = hash("not a real password").await.unwrap_or_default();
            DUMMY.get_or_init(|| h).clone()
        }
    };
    let _ = verify(password, &stored).await;
}

/// Refuses a new password a guesser would find quickly: zxcvbn's estimate (which knows
/// common passwords, words, names, keyboard walks, dates and the username itself) must
/// reach 3 of 4, about 10^8 guesses.
pub fn check_strength(password: &str, username: &str) -> Result<(), String> {
    let estimate = zxcvbn::zxcvbn(password, &[username, "orchard"]);
    if u8::from(estimate.score()) >= 3 {
        return Ok(());
    }
    let hint = estimate
        .feedback()
        .and_then(|f| f.warning().map(|w| w.to_string()))
        .filter(|w| !w.is_empty())
        .map(|w| format!(" ({w})"))
        .unwrap_or_default();
    Err(format!(
        "this password is too easy to guess{hint}: add words or characters that do not \
         follow a pattern"
    ))
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn hashes_verify_and_differ() {
        let a = super::hash("correct horse battery").await.unwrap();
        let b = super::hash("correct horse battery").await.unwrap();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b, "salted");
        assert!(super::verify("correct horse battery", &a).await);
        assert!(!super::verify("wrong horse battery", &a).await);
        assert!(!super::verify("x", "not a hash").await);
    }

    #[test]
    fn guessable_passwords_are_refused() {
        use super::check_strength;
        for weak in ["password123", "qwertyuiop", "adaada12345", "orchard2026!"] {
            assert!(check_strength(weak, "ada").is_err(), "{weak}");
        }
        assert!(check_strength("correct horse battery staple", "ada").is_ok());
        assert!(check_strength("v7#Lq9!xTz2@wB", "ada").is_ok());
        assert!(
            check_strength("a long password 1", "zed").is_ok(),
            "{:?}",
            check_strength("a long password 1", "zed")
        );
    }
}
