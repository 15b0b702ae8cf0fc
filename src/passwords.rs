//! Password hashing (argon2id) and generation. Hashing is deliberately slow,
//! so the async wrappers run it on the blocking pool, off the request threads.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::distr::{Alphanumeric, SampleString};
use rand::RngCore;

/// Shortest password accepted for a staff account.
pub const MIN_LENGTH: usize = 10;

pub fn hash(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| e.to_string())
}

pub fn verify(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

pub async fn hash_async(password: String) -> Result<String, String> {
    rocket::tokio::task::spawn_blocking(move || hash(&password)).await.map_err(|e| e.to_string())?
}

pub async fn verify_async(password: String, hash: String) -> bool {
    rocket::tokio::task::spawn_blocking(move || verify(&password, &hash)).await.unwrap_or(false)
}

/// A hash no password matches, checked when an email is unknown so that a
/// failed sign-in takes as long whether or not the account exists.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash(&generate()).unwrap_or_default())
}

/// A strong random password of 20 letters and digits.
pub fn generate() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 20)
}

/// A random token for CSRF protection.
pub fn token() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 40)
}

/// Why a new password is not acceptable, if it is not.
pub fn check_strength(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_LENGTH {
        return Err(format!("Use at least {MIN_LENGTH} characters."));
    }
    if password.chars().count() > 200 {
        return Err("Use at most 200 characters.".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_hash_verifies_only_its_password() {
        let h = super::hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(super::verify("correct horse battery", &h));
        assert!(!super::verify("wrong", &h));
        assert!(!super::verify("anything", super::decoy_hash()));
    }
}
