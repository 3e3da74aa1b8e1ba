use actix_web::{http::StatusCode, web, HttpResponse};
use actix_web_flash_messages::FlashMessage;
use askama::Template;
use secrecy::SecretString;
use serde::Deserialize;

use crate::accounts::{self, FormError, PasswordChange};
use crate::auth::{Csrf, SignedIn, TypedSession};
use crate::domain::FieldErrors;
use crate::errors::AppError;
use crate::routes::{paths, render, see_other, PageContext};
use crate::startup::AppState;

#[derive(Template)]
#[template(path = "accounts/password_change.html")]
struct PasswordChangePage {
    page: PageContext,
    /// False for users who signed up with Outlook and have never set a password.
    has_password: bool,
    errors: FieldErrors,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PasswordChangeForm {
    old_password: String,
    new_password1: String,
    new_password2: String,
    csrfmiddlewaretoken: String,
}

pub async fn password_change_form(
    page: PageContext,
    SignedIn(user): SignedIn,
) -> Result<HttpResponse, AppError> {
    let page = PasswordChangePage {
        page,
        has_password: user.has_usable_password(),
        errors: FieldErrors::new(),
    };
    render(StatusCode::OK, &page)
}

pub async fn change_password(
    state: web::Data<AppState>,
    csrf: Csrf,
    session: TypedSession,
    page: PageContext,
    SignedIn(user): SignedIn,
    form: web::Form<PasswordChangeForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    csrf.verify(&form.csrfmiddlewaretoken)?;

    let change = PasswordChange {
        old_password: SecretString::from(form.old_password),
        new_password1: SecretString::from(form.new_password1),
        new_password2: SecretString::from(form.new_password2),
    };
    match accounts::change_password(&state.db, &state.passwords, &user, change).await {
        Ok(()) => {
            // Every session of the user was deleted; keep this browser signed in under a new id.
            session.log_in(user.id)?;
            FlashMessage::success("Your password was changed. Other sessions were signed out.")
                .send();
            Ok(see_other(paths::PROFILE))
        }
        Err(FormError::Invalid(errors)) => {
            let page = PasswordChangePage {
                page,
                has_password: user.has_usable_password(),
                errors,
            };
            render(StatusCode::BAD_REQUEST, &page)
        }
        Err(FormError::App(err)) => Err(err),
    }
}
