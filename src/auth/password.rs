//! Password hashes in Django's format, computed off the async workers.
//!
//! Django stores an Argon2 hash as `argon2` followed by the PHC string, for example
//! `argon2$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`. A hash that starts with `!` marks a
//! user without a usable password and never verifies.

use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

/// Django's prefix for hashes made by its `Argon2PasswordHasher`.
const DJANGO_ARGON2_PREFIX: &str = "argon2";

/// Argon2id with m = 19 MiB, t = 2, p = 1: OWASP's recommended minimum and Django's default.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).expect("the Argon2 parameters are valid constants");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("hashing the password failed: {0}")]
    Hash(argon2::password_hash::Error),
    #[error("the blocking task hashing a password failed")]
    TaskFailed(#[source] tokio::task::JoinError),
}

/// Hashes and verifies passwords on the blocking thread pool, at most one per core at a time,
/// because each Argon2 hash takes 19 MiB of memory and tens of milliseconds of CPU.
#[derive(Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
    /// A real hash of a random password, verified when the user does not exist, so that an
    /// unknown username takes as long to reject as a wrong password.
    dummy_hash: Arc<str>,
}

impl Passwords {
    pub fn new(max_concurrent: usize) -> Self {
        let mut random = [0u8; 24];
        OsRng.fill_bytes(&mut random);
        let dummy_password = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, random);
        let dummy_hash = hash_blocking(&dummy_password).expect("hashing a random password succeeds");
        Passwords {
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            dummy_hash: dummy_hash.into(),
        }
    }

    /// One permit per core.
    pub fn for_this_machine() -> Self {
        Self::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
    }

    /// Hashes a new password in Django's Argon2 format.
    pub async fn hash(&self, password: SecretString) -> Result<String, PasswordError> {
        self.run(move || hash_blocking(password.expose_secret())).await?
    }

    /// Checks `password` against a stored Django hash. With `None` (no such user) it checks a
    /// dummy hash and returns false, taking the same time as a wrong password.
    pub async fn verify(
        &self,
        password: SecretString,
        stored: Option<String>,
    ) -> Result<bool, PasswordError> {
        let dummy = Arc::clone(&self.dummy_hash);
        self.run(move || {
            let (hash, real) = match stored.as_deref() {
                Some(hash) if !hash.starts_with('!') => (hash.to_owned(), true),
                _ => (dummy.to_string(), false),
            };
            // Verify first and then look at `real`, so the dummy hash costs the full time.
            let matches = verify_blocking(password.expose_secret(), &hash);
            real && matches
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PasswordError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            work()
        })
        .await
        .map_err(PasswordError::TaskFailed)
    }
}

fn hash_blocking(password: &str) -> Result<String, PasswordError> {
    let salt = SaltString::generate(&mut OsRng);
    let phc = argon2()
        .hash_password(password.as_bytes(), &salt)
        .map_err(PasswordError::Hash)?;
    Ok(format!("{DJANGO_ARGON2_PREFIX}{phc}"))
}

/// Verifies against a Django hash. Hashers other than Argon2 do not verify yet.
fn verify_blocking(password: &str, django_hash: &str) -> bool {
    // NOTE: Django's pbkdf2, bcrypt and scrypt hashes are not verified yet, so users whose hash
    // Django made with them must reset their password.
    let Some(phc) = django_hash.strip_prefix(DJANGO_ARGON2_PREFIX) else {
        return false;
    };
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    // The parameters come from the stored hash, so hashes made with other costs still verify.
    argon2().verify_password(password.as_bytes(), &parsed).is_ok()
}

/// Django's unusable password: `!` followed by random characters, never matched by any input.
pub fn unusable_password() -> String {
    let mut random = [0u8; 30];
    OsRng.fill_bytes(&mut random);
    let text = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, random);
    format!("!{text}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(text: &str) -> SecretString {
        SecretString::from(text.to_owned())
    }

    #[tokio::test]
    async fn hash_is_in_django_argon2_format() {
        let passwords = Passwords::new(1);

        let hash = passwords.hash(secret("violet-lantern-88")).await.expect("hash");

        assert!(hash.starts_with("argon2$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert_eq!(hash.split('$').count(), 6);
    }

    #[tokio::test]
    async fn right_password_verifies_and_wrong_does_not() {
        let passwords = Passwords::new(1);
        let hash = passwords.hash(secret("violet-lantern-88")).await.expect("hash");

        let right = passwords.verify(secret("violet-lantern-88"), Some(hash.clone())).await;
        let wrong = passwords.verify(secret("violet-lantern-89"), Some(hash)).await;

        assert!(right.expect("verify"));
        assert!(!wrong.expect("verify"));
    }

    #[tokio::test]
    async fn unknown_user_and_unusable_password_never_verify() {
        let passwords = Passwords::new(1);

        let unknown = passwords.verify(secret("anything"), None).await.expect("verify");
        let unusable = passwords
            .verify(secret("anything"), Some(unusable_password()))
            .await
            .expect("verify");

        assert!(!unknown);
        assert!(!unusable);
    }

    #[test]
    fn unusable_password_starts_with_bang() {
        assert!(unusable_password().starts_with('!'));
        assert_ne!(unusable_password(), unusable_password());
    }
}
