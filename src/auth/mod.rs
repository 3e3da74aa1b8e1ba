//! Who is signed in and how they prove it: password hashes, server-side sessions, CSRF tokens,
//! and the extractors that hand the current user to handlers.

pub mod csrf;
pub mod current_user;
pub mod hash_workers;
pub mod password;
pub mod rate_limit;
pub mod redirect;
pub mod session;
pub mod throttle;

pub use csrf::{Csrf, CsrfKey};
pub use current_user::{CurrentUser, SignedIn};
pub use password::Passwords;
pub use session::{DbSessionStore, TypedSession};

/// 32 random bytes as URL-safe base64: session keys and CSRF seeds.
pub fn random_token() -> String {
    use rand::RngCore;

    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes)
}
