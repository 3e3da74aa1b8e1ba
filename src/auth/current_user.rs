//! Extractors for the signed-in user.

use std::future::Future;
use std::pin::Pin;

use actix_web::{dev::Payload, web, FromRequest, HttpRequest};

use super::TypedSession;
use crate::db::models::User;
use crate::errors::AppError;
use crate::startup::AppState;

/// The signed-in user, or `None` for a visitor. A session whose user was deleted or
/// deactivated counts as signed out.
pub struct CurrentUser(pub Option<User>);

/// A signed-in user; visitors are redirected to the log-in page with `?next=` set to the
/// requested path.
pub struct SignedIn(pub User);

async fn load_user(req: HttpRequest) -> Result<Option<User>, AppError> {
    let session = TypedSession::of(&req);
    if let Some(cause) = session.database_outage() {
        return Err(crate::db::DbError::SessionOutage(cause).into());
    }
    let Some(user_id) = session.user_id() else {
        return Ok(None);
    };
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| AppError::unexpected("application state is missing"))?;

    let user = state.db.run(move |conn| User::find(conn, user_id)).await?;
    match user {
        Some(user) if user.is_active => Ok(Some(user)),
        _ => {
            session.log_out();
            Ok(None)
        }
    }
}

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { load_user(req).await.map(CurrentUser) })
    }
}

impl FromRequest for SignedIn {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            match load_user(req.clone()).await? {
                Some(user) => Ok(SignedIn(user)),
                None => {
                    let next = match req.uri().path_and_query() {
                        Some(pq) if req.method() == actix_web::http::Method::GET => pq.to_string(),
                        _ => req.path().to_owned(),
                    };
                    Err(AppError::LoginRequired { next })
                }
            }
        })
    }
}
