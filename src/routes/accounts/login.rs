use actix_web::{http::StatusCode, web, HttpResponse};
use actix_web_flash_messages::FlashMessage;
use askama::Template;
use secrecy::SecretString;
use serde::Deserialize;

use crate::accounts;
use crate::auth::redirect::safe_next;
use crate::auth::{Csrf, CurrentUser, TypedSession};
use crate::domain::FieldErrors;
use crate::errors::AppError;
use crate::routes::{paths, render, see_other, PageContext};
use crate::startup::AppState;

/// The same message for an unknown user, a wrong password and an inactive account, so the form
/// does not tell which usernames exist.
pub const INVALID_LOGIN: &str =
    "Enter a correct username (or email address) and password. The password is case-sensitive.";

#[derive(Template)]
#[template(path = "accounts/login.html")]
struct LoginPage {
    page: PageContext,
    username: String,
    next: String,
    /// A message about the form as a whole, such as a failed log-in.
    form_error: Option<&'static str>,
    errors: FieldErrors,
}

impl LoginPage {
    /// The Outlook button's target, carrying `next` along.
    fn outlook_href(&self) -> String {
        if self.next.is_empty() {
            paths::OUTLOOK_LOGIN.to_owned()
        } else {
            let next: String = url::form_urlencoded::byte_serialize(self.next.as_bytes()).collect();
            format!("{}?next={next}", paths::OUTLOOK_LOGIN)
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginQuery {
    next: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginForm {
    username: String,
    password: String,
    next: String,
    csrfmiddlewaretoken: String,
}

/// The page to go to after log-in: `next` when it is a path on this site, else the profile.
fn destination(next: &str) -> &str {
    safe_next(next).unwrap_or(paths::PROFILE)
}

pub async fn login_form(
    page: PageContext,
    user: CurrentUser,
    query: web::Query<LoginQuery>,
) -> Result<HttpResponse, AppError> {
    if user.0.is_some() {
        return Ok(see_other(destination(&query.next)));
    }
    let next = safe_next(&query.next).unwrap_or_default().to_owned();
    render(
        StatusCode::OK,
        &LoginPage {
            page,
            username: String::new(),
            next,
            form_error: None,
            errors: FieldErrors::new(),
        },
    )
}

pub async fn login(
    state: web::Data<AppState>,
    csrf: Csrf,
    session: TypedSession,
    page: PageContext,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    csrf.verify(&form.csrfmiddlewaretoken)?;
    let next = safe_next(&form.next).unwrap_or_default().to_owned();

    let mut errors = FieldErrors::new();
    if form.username.trim().is_empty() {
        errors.add("username", "This field is required.");
    }
    if form.password.is_empty() {
        errors.add("password", "This field is required.");
    }
    if !errors.is_empty() {
        let page = LoginPage {
            page,
            username: form.username,
            next,
            form_error: None,
            errors,
        };
        return render(StatusCode::BAD_REQUEST, &page);
    }

    let password = SecretString::from(form.password);
    let user = accounts::log_in(
        &state.db,
        &state.passwords,
        &state.settings.login_throttle,
        &form.username,
        password,
    )
    .await?;
    let Some(user) = user else {
        tracing::info!("log-in failed");
        let page = LoginPage {
            page,
            username: form.username,
            next,
            form_error: Some(INVALID_LOGIN),
            errors,
        };
        return render(StatusCode::BAD_REQUEST, &page);
    };

    session.log_in(user.id)?;
    tracing::info!(user.id = user.id, "logged in");
    FlashMessage::success(format!("Welcome back, {}.", user.username)).send();
    Ok(see_other(destination(&next)))
}
