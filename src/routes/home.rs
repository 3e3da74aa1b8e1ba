use actix_web::{http::StatusCode, HttpResponse};
use askama::Template;

use super::{render, PageContext};
use crate::auth::CurrentUser;
use crate::errors::AppError;

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    page: PageContext,
    username: Option<String>,
}

pub async fn home(page: PageContext, user: CurrentUser) -> Result<HttpResponse, AppError> {
    let username = user.0.map(|user| user.username);
    render(StatusCode::OK, &HomePage { page, username })
}
