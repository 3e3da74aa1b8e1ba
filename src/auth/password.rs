//! Password hashes in Django's format, computed off the async workers.
//!
//! Django stores an Argon2 hash as `argon2` followed by the PHC string, for example
//! `argon2$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`. A hash that starts with `!` marks a
//! user without a usable password and never verifies. Hashes made by Django's default hasher,
//! `pbkdf2_sha256$<iterations>$<salt>$<base64 hash>`, verify too, so that users of the Django
//! application keep their passwords, and [`needs_rehash`] marks them for an Argon2 hash.

use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

/// Django's prefix for hashes made by its `Argon2PasswordHasher`.
const DJANGO_ARGON2_PREFIX: &str = "argon2";

/// Django's prefix for hashes made by its `PBKDF2PasswordHasher`, Django's default hasher.
const DJANGO_PBKDF2_SHA256_PREFIX: &str = "pbkdf2_sha256$";

/// Argon2id with m = 19 MiB, t = 2, p = 1: OWASP's recommended minimum. Django's
/// `Argon2PasswordHasher` uses m = 100 MiB, t = 2, p = 8 (django/contrib/auth/hashers.py), and
/// such hashes verify here too, because verification reads the parameters from the hash.
fn argon2() -> Argon2<'static> {
    let params =
        Params::new(19_456, 2, 1, None).expect("the Argon2 parameters are valid constants");
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
        let dummy_password =
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, random);
        let dummy_hash =
            hash_blocking(&dummy_password).expect("hashing a random password succeeds");
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
        self.run(move || hash_blocking(password.expose_secret()))
            .await?
    }

    /// Checks `password` against a stored Django hash. With `None` (no such user) it checks a
    /// dummy hash and returns false, taking the same time as a wrong password.
    // NOTE: a stored PBKDF2 hash takes a different time to check than the Argon2 dummy, so a
    // user whose hash Django made stays distinguishable by timing until their first log-in.
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

/// Returns whether `hash` was made by a hasher other than Argon2, so that the user should get an
/// Argon2 hash the next time the password is known, at log-in. Argon2 hashes with other
/// parameters are kept, because Django's defaults cost more than this application's.
pub fn needs_rehash(hash: &str) -> bool {
    hash.starts_with(DJANGO_PBKDF2_SHA256_PREFIX)
}

/// Verifies against a Django hash made by its Argon2 or PBKDF2-SHA256 hasher.
fn verify_blocking(password: &str, django_hash: &str) -> bool {
    // NOTE: Django's pbkdf2_sha1, bcrypt and scrypt hashes are not verified, so users whose hash
    // Django made with them cannot log in with their password.
    if let Some(encoded) = django_hash.strip_prefix(DJANGO_PBKDF2_SHA256_PREFIX) {
        return verify_pbkdf2_sha256(password, encoded);
    }
    let Some(phc) = django_hash.strip_prefix(DJANGO_ARGON2_PREFIX) else {
        return false;
    };
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    // The parameters come from the stored hash, so hashes made with other costs still verify.
    argon2()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// Verifies `<iterations>$<salt>$<base64 hash>`, the part of a Django `pbkdf2_sha256` hash after
/// the algorithm name. Django derives 32 bytes from the UTF-8 password and salt.
fn verify_pbkdf2_sha256(password: &str, encoded: &str) -> bool {
    let mut parts = encoded.splitn(3, '$');
    let (Some(iterations), Some(salt), Some(expected)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Some(iterations) = iterations.parse::<u32>().ok().filter(|&count| count > 0) else {
        return false;
    };
    let Ok(expected) = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, expected)
    else {
        return false;
    };
    let derived = pbkdf2_hmac_sha256(password.as_bytes(), salt.as_bytes(), iterations);
    derived.as_slice().ct_eq(&expected).into()
}

/// Derives the first 32-byte block of PBKDF2 with HMAC-SHA256 (RFC 8018, section 5.2), which is
/// the whole key for Django's `pbkdf2_sha256`.
fn pbkdf2_hmac_sha256(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let keyed =
        <Hmac<Sha256> as Mac>::new_from_slice(password).expect("HMAC accepts keys of any length");

    let mut first = keyed.clone();
    first.update(salt);
    first.update(&1u32.to_be_bytes());
    let mut block: [u8; 32] = first.finalize().into_bytes().into();
    let mut derived = block;

    for _ in 1..iterations {
        let mut next = keyed.clone();
        next.update(&block);
        block = next.finalize().into_bytes().into();
        for (byte, mixed) in derived.iter_mut().zip(block) {
            *byte ^= mixed;
        }
    }
    derived
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

        let hash = passwords
            .hash(secret("violet-lantern-88"))
            .await
            .expect("hash");

        assert!(
            hash.starts_with("argon2$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert_eq!(hash.split('$').count(), 6);
    }

    #[tokio::test]
    async fn right_password_verifies_and_wrong_does_not() {
        let passwords = Passwords::new(1);
        let hash = passwords
            .hash(secret("violet-lantern-88"))
            .await
            .expect("hash");

        let right = passwords
            .verify(secret("violet-lantern-88"), Some(hash.clone()))
            .await;
        let wrong = passwords
            .verify(secret("violet-lantern-89"), Some(hash))
            .await;

        assert!(right.expect("verify"));
        assert!(!wrong.expect("verify"));
    }

    #[tokio::test]
    async fn unknown_user_and_unusable_password_never_verify() {
        let passwords = Passwords::new(1);

        let unknown = passwords
            .verify(secret("anything"), None)
            .await
            .expect("verify");
        let unusable = passwords
            .verify(secret("anything"), Some(unusable_password()))
            .await
            .expect("verify");

        assert!(!unknown);
        assert!(!unusable);
    }

    #[test]
    fn pbkdf2_matches_known_vectors() {
        // PBKDF2-HMAC-SHA256 of "password" with salt "salt", as Python's hashlib.pbkdf2_hmac
        // computes it.
        let one = pbkdf2_hmac_sha256(b"password", b"salt", 1);
        let many = pbkdf2_hmac_sha256(b"password", b"salt", 4096);

        assert_eq!(
            hex(&one),
            "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b"
        );
        assert_eq!(
            hex(&many),
            "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a"
        );
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn django_pbkdf2_hash_verifies() {
        let hash = "pbkdf2_sha256$1000$hJ3kQv9Zt2XcWm8rNpL4aB$bcjFiEv01dGZnpY6kmoNX/4ppLvXcSHBHLQk6zdTeeE=";

        assert!(verify_blocking("violet-lantern-88-orbit", hash));
        assert!(!verify_blocking("violet-lantern-88-orbiT", hash));
        assert!(!verify_blocking(
            "violet-lantern-88-orbit",
            "pbkdf2_sha256$0$salt$AAAA"
        ));
        assert!(!verify_blocking(
            "violet-lantern-88-orbit",
            "pbkdf2_sha256$1000$salt"
        ));
        assert!(needs_rehash(hash));
    }

    #[tokio::test]
    async fn argon2_hashes_need_no_rehash() {
        let hash = Passwords::new(1)
            .hash(secret("violet-lantern-88"))
            .await
            .expect("hash");
        let django_default = "argon2$argon2id$v=19$m=102400,t=2,p=8$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo";

        assert!(!needs_rehash(&hash));
        assert!(!needs_rehash(django_default));
        assert!(!needs_rehash(&unusable_password()));
    }

    #[test]
    fn unusable_password_starts_with_bang() {
        assert!(unusable_password().starts_with('!'));
        assert_ne!(unusable_password(), unusable_password());
    }
}
