//! Encryption at rest for the tokens Microsoft issues.
//!
//! Each value is sealed with AES-256-GCM under a key derived from `SECRET_KEY`, with a random
//! 96-bit nonce, and bound to its row and column through the associated data, so a sealed
//! value copied into another row or column does not open. Stored form: `v1:` then URL-safe
//! base64 of nonce followed by ciphertext.

use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use secrecy::SecretString;

const VERSION_PREFIX: &str = "v1:";
const NONCE_BYTES: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("the sealed value is malformed")]
    Malformed,
    #[error("the sealed value does not open with this key (was SECRET_KEY changed?)")]
    WrongKeyOrContext,
}

/// Seals and opens token values.
#[derive(Clone)]
pub struct TokenCipher {
    cipher: Aes256Gcm,
}

impl TokenCipher {
    /// Builds the cipher from the first 32 bytes of a purpose-bound key.
    pub fn new(key: &[u8; 64]) -> Self {
        let key = Key::<Aes256Gcm>::from_slice(&key[..32]);
        TokenCipher {
            cipher: Aes256Gcm::new(key),
        }
    }

    /// Seals `plaintext`; `context` names where it will be stored, such as
    /// `"{tenant_id}/{object_id}/access_token"`.
    pub fn seal(&self, plaintext: &str, context: &str) -> String {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");

        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&ciphertext);
        format!("{VERSION_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Opens a value sealed with the same key and `context`.
    pub fn open(&self, sealed: &str, context: &str) -> Result<SecretString, SealError> {
        let encoded = sealed
            .strip_prefix(VERSION_PREFIX)
            .ok_or(SealError::Malformed)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| SealError::Malformed)?;
        if bytes.len() < NONCE_BYTES {
            return Err(SealError::Malformed);
        }

        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        let plaintext = self
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SealError::WrongKeyOrContext)?;
        let text = String::from_utf8(plaintext).map_err(|_| SealError::Malformed)?;
        Ok(SecretString::from(text))
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn sealed_value_opens_with_same_key_and_context() {
        let cipher = TokenCipher::new(&[7; 64]);

        let sealed = cipher.seal("eyJ0eXAi.access.token", "tid/oid/access_token");

        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains("access.token"));
        let opened = cipher.open(&sealed, "tid/oid/access_token").expect("opens");
        assert_eq!(opened.expose_secret(), "eyJ0eXAi.access.token");
    }

    #[test]
    fn sealing_twice_gives_different_text() {
        let cipher = TokenCipher::new(&[7; 64]);

        assert_ne!(cipher.seal("same", "c"), cipher.seal("same", "c"));
    }

    #[test]
    fn other_key_or_context_does_not_open() {
        let sealed = TokenCipher::new(&[7; 64]).seal("secret", "row-1/access_token");

        assert!(TokenCipher::new(&[8; 64])
            .open(&sealed, "row-1/access_token")
            .is_err());
        assert!(TokenCipher::new(&[7; 64])
            .open(&sealed, "row-2/access_token")
            .is_err());
        assert!(TokenCipher::new(&[7; 64])
            .open("v1:bad", "row-1/access_token")
            .is_err());
    }
}
