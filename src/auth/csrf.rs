//! CSRF tokens for every POST form.
//!
//! A token is an HMAC of a random seed. A signed-in session keeps its seed in the server-side
//! session, so the token is bound to that session. An anonymous visitor's seed lives in a
//! cookie instead, as Django does, so showing the log-in or sign-up form stores nothing in the
//! database. A forged cross-site POST has neither the seed nor the key, so it cannot make a token.

use std::future::{ready, Ready};

use actix_web::body::MessageBody;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::{random_token, TypedSession};
use crate::errors::AppError;

pub const CSRF_COOKIE: &str = "oauthapp_csrftoken";
/// The hidden input's name, the same as Django's.
pub const CSRF_FIELD: &str = "csrfmiddlewaretoken";

/// The key tokens are made with, derived from `SECRET_KEY`.
#[derive(Clone)]
pub struct CsrfKey([u8; 64]);

impl CsrfKey {
    pub fn new(key: [u8; 64]) -> Self {
        CsrfKey(key)
    }

    fn token_for(&self, seed: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("any key length");
        mac.update(seed.as_bytes());
        base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            mac.finalize().into_bytes(),
        )
    }
}

/// The anonymous visitor's seed, read from the cookie or freshly made by [`csrf_cookie`].
#[derive(Clone)]
struct CookieSeed(String);

fn is_well_formed_seed(seed: &str) -> bool {
    seed.len() == 43
        && seed
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Middleware giving every visitor a CSRF seed cookie. It only sets the cookie; checking
/// tokens is the job of each POST handler through [`Csrf::verify`].
pub async fn csrf_cookie(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let existing = req
        .cookie(CSRF_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|seed| is_well_formed_seed(seed));
    let seed = existing.clone().unwrap_or_else(random_token);
    req.extensions_mut().insert(CookieSeed(seed.clone()));
    let secure = req
        .app_data::<actix_web::web::Data<crate::startup::AppState>>()
        .is_some_and(|state| state.settings.secure_cookies());

    let mut res = next.call(req).await?;

    if existing.is_none() {
        let cookie = Cookie::build(CSRF_COOKIE, seed)
            .path("/")
            .http_only(true)
            .secure(secure)
            .same_site(SameSite::Lax)
            .max_age(actix_web::cookie::time::Duration::days(365))
            .finish();
        res.response_mut().add_cookie(&cookie)?;
    }
    Ok(res)
}

/// The request's CSRF token, for rendering into forms and checking posted ones.
pub struct Csrf {
    token: String,
}

impl Csrf {
    /// The value for the hidden `csrfmiddlewaretoken` input.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Checks a posted token; a missing or wrong one is [`AppError::Csrf`].
    pub fn verify(&self, posted: &str) -> Result<(), AppError> {
        let matches: bool = posted.as_bytes().ct_eq(self.token.as_bytes()).into();
        if matches {
            Ok(())
        } else {
            Err(AppError::Csrf)
        }
    }
}

impl FromRequest for Csrf {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let Some(state) = req.app_data::<actix_web::web::Data<crate::startup::AppState>>() else {
            return ready(Err(
                AppError::unexpected("application state is missing").into()
            ));
        };
        let session_seed = TypedSession::of(req).csrf_seed();
        let seed =
            session_seed.or_else(|| req.extensions().get::<CookieSeed>().map(|s| s.0.clone()));

        ready(match seed {
            Some(seed) => Ok(Csrf {
                token: state.csrf_key.token_for(&seed),
            }),
            None => Err(AppError::unexpected("the CSRF middleware is not installed").into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_depends_on_seed_and_key() {
        let key = CsrfKey::new([1; 64]);
        let other_key = CsrfKey::new([2; 64]);

        assert_eq!(key.token_for("a"), key.token_for("a"));
        assert_ne!(key.token_for("a"), key.token_for("b"));
        assert_ne!(key.token_for("a"), other_key.token_for("a"));
    }

    #[test]
    fn wrong_or_empty_token_fails() {
        let csrf = Csrf {
            token: CsrfKey::new([1; 64]).token_for("seed"),
        };

        assert!(csrf.verify(csrf.token()).is_ok());
        assert!(csrf.verify("").is_err());
        assert!(csrf.verify("forged").is_err());
    }

    #[test]
    fn seed_shape_is_checked() {
        assert!(is_well_formed_seed(&random_token()));
        assert!(!is_well_formed_seed("short"));
        assert!(!is_well_formed_seed(&"a;".repeat(22)[..43]));
    }
}
