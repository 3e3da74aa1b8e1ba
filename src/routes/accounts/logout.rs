use actix_web::{web, HttpResponse};
use actix_web_flash_messages::FlashMessage;
use serde::Deserialize;

use crate::auth::{Csrf, TypedSession};
use crate::errors::AppError;
use crate::routes::{paths, see_other};

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LogoutForm {
    csrfmiddlewaretoken: String,
}

/// Deletes the session row, so the old cookie no longer signs anyone in.
pub async fn logout(
    csrf: Csrf,
    session: TypedSession,
    form: web::Form<LogoutForm>,
) -> Result<HttpResponse, AppError> {
    csrf.verify(&form.csrfmiddlewaretoken)?;

    if let Some(user_id) = session.user_id() {
        tracing::info!(user.id = user_id, "logged out");
    }
    session.log_out();
    FlashMessage::info("You have been logged out.").send();
    Ok(see_other(paths::HOME))
}
