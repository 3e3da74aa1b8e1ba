//! HTTP handlers, one module per page group, and the single list of routes.

pub mod accounts;
mod assets;
mod health;
mod home;

use std::future::{ready, Ready};

use actix_web::http::{header, StatusCode};
use actix_web::HttpMessage;
use actix_web::{dev::Payload, web, FromRequest, HttpRequest, HttpResponse};
use actix_web_flash_messages::storage::FlashMessageStore;
use actix_web_flash_messages::{IncomingFlashMessages, Level};
use askama::Template;

use crate::auth::{Csrf, TypedSession};
use crate::errors::AppError;

/// Every path the application serves; templates use the same literals.
pub mod paths {
    pub const HOME: &str = "/";
    pub const SIGNUP: &str = "/accounts/signup/";
    pub const LOGIN: &str = "/accounts/login/";
    pub const LOGOUT: &str = "/accounts/logout/";
    pub const PROFILE: &str = "/accounts/profile/";
    pub const PASSWORD_CHANGE: &str = "/accounts/password/change/";
    pub const SIGN_OUT_OTHERS: &str = "/accounts/sessions/sign-out-others/";
    pub const OUTLOOK_LOGIN: &str = "/accounts/outlook/login/";
    pub const OUTLOOK_CALLBACK: &str = "/accounts/outlook/callback/";
    pub const OUTLOOK_DISCONNECT: &str = "/accounts/outlook/disconnect/";
    pub const HEALTH: &str = "/healthz";
    pub const STATIC: &str = "/static/{name}";
}

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(paths::HOME, web::get().to(home::home))
        .route(paths::HEALTH, web::get().to(health::health))
        .route(paths::HEALTH, web::head().to(health::health))
        .route(paths::STATIC, web::get().to(assets::asset))
        .service(
            web::resource(paths::SIGNUP)
                .route(web::get().to(accounts::signup::signup_form))
                .route(web::post().to(accounts::signup::signup)),
        )
        .service(
            web::resource(paths::LOGIN)
                .route(web::get().to(accounts::login::login_form))
                .route(web::post().to(accounts::login::login)),
        )
        .service(web::resource(paths::LOGOUT).route(web::post().to(accounts::logout::logout)))
        .service(
            web::resource(paths::PROFILE)
                .route(web::get().to(accounts::profile::profile_page))
                .route(web::post().to(accounts::profile::update_profile)),
        )
        .service(
            web::resource(paths::OUTLOOK_LOGIN)
                .route(web::get().to(accounts::outlook::outlook_login)),
        )
        .service(
            web::resource(paths::OUTLOOK_CALLBACK)
                .route(web::get().to(accounts::outlook::outlook_callback)),
        )
        .service(
            web::resource(paths::OUTLOOK_DISCONNECT)
                .route(web::post().to(accounts::outlook::outlook_disconnect)),
        )
        .service(
            web::resource(paths::SIGN_OUT_OTHERS)
                .route(web::post().to(accounts::profile::sign_out_other_sessions)),
        )
        .service(
            web::resource(paths::PASSWORD_CHANGE)
                .route(web::get().to(accounts::password_change::password_change_form))
                .route(web::post().to(accounts::password_change::change_password)),
        );
}

/// What the base layout needs on every page: the signed-in state for the navigation, the CSRF
/// token for the log-out button, and flash messages. It reads no database row, so error pages
/// can render while the database is down.
#[derive(Debug, Default)]
pub struct PageContext {
    pub signed_in: bool,
    /// Whether `OUTLOOK_CLIENT_ID` is set, so the Outlook buttons work.
    pub outlook_enabled: bool,
    pub csrf_token: String,
    pub flashes: Vec<Flash>,
}

#[derive(Debug)]
pub struct Flash {
    /// A CSS class suffix: `info`, `success`, `warning` or `error`.
    pub level: &'static str,
    pub text: String,
}

impl FromRequest for PageContext {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let signed_in = TypedSession::of(req).user_id().is_some();
        let outlook_enabled = req
            .app_data::<web::Data<crate::startup::AppState>>()
            .is_some_and(|state| state.outlook.is_some());
        let csrf_token = Csrf::from_request(req, payload)
            .into_inner()
            .map(|csrf| csrf.token().to_owned())
            .unwrap_or_default();
        // The extractor panics when the flash middleware is not installed (unit tests of single
        // middlewares), so look for it first.
        let has_flash_store = req
            .extensions()
            .get::<std::sync::Arc<dyn FlashMessageStore>>()
            .is_some();
        let flashes = has_flash_store
            .then(|| IncomingFlashMessages::from_request(req, payload).into_inner())
            .and_then(Result::ok)
            .map(|incoming| {
                incoming
                    .iter()
                    .map(|message| Flash {
                        level: match message.level() {
                            Level::Debug | Level::Info => "info",
                            Level::Success => "success",
                            Level::Warning => "warning",
                            Level::Error => "error",
                        },
                        text: message.content().to_owned(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        ready(Ok(PageContext {
            signed_in,
            outlook_enabled,
            csrf_token,
            flashes,
        }))
    }
}

/// Renders a page with `status`. Pages are never cached: they hold CSRF tokens and, once
/// signed in, personal data.
pub fn render(status: StatusCode, page: &impl Template) -> Result<HttpResponse, AppError> {
    let body = page.render()?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}

/// A 303 redirect, the answer to a successful form post.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}
