use actix_web::{http::StatusCode, web, HttpResponse};
use actix_web_flash_messages::FlashMessage;
use askama::Template;
use secrecy::SecretString;
use serde::Deserialize;

use crate::accounts::{self, FormError, Registration};
use crate::auth::{Csrf, CurrentUser, TypedSession};
use crate::domain::FieldErrors;
use crate::errors::AppError;
use crate::routes::{paths, render, see_other, PageContext};
use crate::startup::AppState;

#[derive(Template)]
#[template(path = "accounts/signup.html")]
struct SignupPage {
    page: PageContext,
    username: String,
    email: String,
    errors: FieldErrors,
}

/// The posted form. Missing fields read as empty, so they get "This field is required."
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SignupForm {
    username: String,
    email: String,
    password1: String,
    password2: String,
    csrfmiddlewaretoken: String,
}

pub async fn signup_form(page: PageContext, user: CurrentUser) -> Result<HttpResponse, AppError> {
    if user.0.is_some() {
        return Ok(see_other(paths::PROFILE));
    }
    render(
        StatusCode::OK,
        &SignupPage {
            page,
            username: String::new(),
            email: String::new(),
            errors: FieldErrors::new(),
        },
    )
}

pub async fn signup(
    state: web::Data<AppState>,
    csrf: Csrf,
    session: TypedSession,
    page: PageContext,
    form: web::Form<SignupForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    csrf.verify(&form.csrfmiddlewaretoken)?;

    let registration = Registration {
        username: form.username.clone(),
        email: form.email.clone(),
        password1: SecretString::from(form.password1),
        password2: SecretString::from(form.password2),
    };
    match accounts::register(&state.db, &state.passwords, registration).await {
        Ok(user) => {
            session.log_in(user.id)?;
            FlashMessage::success(format!(
                "Welcome, {}! Your account is ready.",
                user.username
            ))
            .send();
            Ok(see_other(paths::PROFILE))
        }
        Err(FormError::Invalid(errors)) => render(
            StatusCode::BAD_REQUEST,
            &SignupPage {
                page,
                username: form.username,
                email: form.email,
                errors,
            },
        ),
        Err(FormError::App(err)) => Err(err),
    }
}
