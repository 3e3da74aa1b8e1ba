//! Extractors for the signed-in user.

use std::future::Future;
use std::pin::Pin;

use actix_web::{dev::Payload, web, FromRequest, HttpRequest};

use super::TypedSession;
use crate::db::models::User;
use crate::db::{DbConnection, DbError};
use crate::errors::AppError;
use crate::startup::AppState;

/// The signed-in user, or `None` for a visitor. A session whose user was deleted or
/// deactivated counts as signed out.
pub struct CurrentUser(pub Option<User>);

/// A signed-in user; visitors are redirected to the log-in page with `?next=` set to the
/// requested path.
pub struct SignedIn(pub User);

/// Loads the session's user and, in the same trip to the database, what `page` reads for that
/// user; `None` for a visitor. `page` must only read, because it runs in a read transaction. One trip instead of two matters on busy pages, because each trip
/// waits for a blocking thread and a pooled connection.
async fn load_user_with<T, F>(req: &HttpRequest, page: F) -> Result<Option<(User, T)>, AppError>
where
    F: FnOnce(&mut DbConnection, &User) -> Result<T, DbError> + Send + 'static,
    T: Send + 'static,
{
    let session = TypedSession::of(req);
    if let Some(cause) = session.database_outage() {
        return Err(DbError::SessionOutage(cause).into());
    }
    let Some(user_id) = session.user_id() else {
        return Ok(None);
    };
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| AppError::unexpected("application state is missing"))?;

    let loaded = state
        .db
        .read(move |conn| match User::find(conn, user_id)? {
            Some(user) if user.is_active => {
                let extra = page(conn, &user)?;
                Ok(Some((user, extra)))
            }
            _ => Ok(None),
        })
        .await?;
    if loaded.is_none() {
        session.log_out();
    }
    Ok(loaded)
}

async fn load_user(req: &HttpRequest) -> Result<Option<User>, AppError> {
    let loaded = load_user_with(req, |_, _| Ok(())).await?;
    Ok(loaded.map(|(user, ())| user))
}

/// Loads the signed-in user and what `page` reads for them in the same trip to the database. A
/// visitor gets [`AppError::LoginRequired`], which redirects to the log-in page as
/// [`SignedIn`] does.
pub async fn signed_in_with<T, F>(req: &HttpRequest, page: F) -> Result<(User, T), AppError>
where
    F: FnOnce(&mut DbConnection, &User) -> Result<T, DbError> + Send + 'static,
    T: Send + 'static,
{
    load_user_with(req, page)
        .await?
        .ok_or_else(|| login_required(req))
}

/// Sends a visitor to the log-in page, with `next` set to where they were going: the whole
/// target of a GET, and only the path of anything else, whose form cannot be replayed.
fn login_required(req: &HttpRequest) -> AppError {
    let next = match req.uri().path_and_query() {
        Some(pq) if req.method() == actix_web::http::Method::GET => pq.to_string(),
        _ => req.path().to_owned(),
    };
    AppError::LoginRequired { next }
}

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { load_user(&req).await.map(CurrentUser) })
    }
}

impl FromRequest for SignedIn {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            load_user(&req)
                .await?
                .map(SignedIn)
                .ok_or_else(|| login_required(&req))
        })
    }
}
