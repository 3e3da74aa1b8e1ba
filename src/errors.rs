//! The web layer's error type and the one place where errors become pages.
//!
//! Policy: lower layers return their own errors (`DbError`, `PasswordError`, `ConfigError`).
//! Handlers turn them into [`AppError`] with `?`. [`AppError::error_response`] only picks the
//! status; the [`error_pages`] middleware then renders the page, with the request id, and logs
//! the cause chain exactly once. Form errors are not `AppError`s: they re-render their form.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpResponse, ResponseError};
use askama::Template;

use crate::db::DbError;
use crate::routes::{paths, PageContext};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("page not found")]
    NotFound,
    #[error("sign-in with Outlook is not configured")]
    OutlookNotConfigured,
    #[error("CSRF token missing or wrong")]
    Csrf,
    #[error("sign-in required")]
    LoginRequired { next: String },
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("sign-in with Outlook failed: {0}")]
    Outlook(#[from] crate::outlook::OutlookError),
    #[error("too many password checks are waiting")]
    Busy,
    #[error("too many requests from this client")]
    RateLimited { retry_after_secs: u64 },
    #[error("too many failed log-ins for this account")]
    Throttled { retry_after_secs: u64 },
    #[error("the database is unavailable")]
    DatabaseUnavailable(#[source] DbError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl AppError {
    pub fn unexpected(message: &'static str) -> Self {
        AppError::Unexpected(anyhow::anyhow!(message))
    }

    /// The heading and explanation shown on the error page; never the internal cause.
    fn page_text(&self) -> (&'static str, String) {
        match self {
            AppError::NotFound => ("Page not found", "There is no page at this address.".into()),
            AppError::OutlookNotConfigured => (
                "Sign-in with Outlook is not configured",
                "This site has not been set up for sign-in with a Microsoft account. \
                 Sign in with your username and password instead."
                    .into(),
            ),
            AppError::Csrf => (
                "This form was not accepted",
                "Its security token was missing or out of date, because the page was open too \
                 long or the form was sent from another site. Reload the page and submit the form \
                 again."
                    .into(),
            ),
            AppError::LoginRequired { .. } => {
                ("Sign-in required", "Log in to see this page.".into())
            }
            AppError::BadRequest(message) => ("Bad request", message.clone()),
            AppError::PayloadTooLarge => (
                "Request too large",
                "The form sent more data than this site accepts. Shorten the text and try again."
                    .into(),
            ),
            AppError::MethodNotAllowed => (
                "Method not allowed",
                "This address does not accept that kind of request.".into(),
            ),
            AppError::Outlook(error) => {
                let (title, message) = error.page_text();
                (title, message.to_owned())
            }
            AppError::Busy => (
                "The site is busy",
                "Too many sign-ins are being checked right now. Wait a few seconds and try again."
                    .into(),
            ),
            AppError::RateLimited { retry_after_secs } => (
                "Too many requests",
                format!(
                    "This address sent too many sign-in requests in a short time. Try again in {}.",
                    crate::auth::throttle::describe_wait(*retry_after_secs)
                ),
            ),
            AppError::Throttled { retry_after_secs } => (
                "Too many failed log-ins",
                format!(
                    "Log-in for this account is paused after too many failed attempts. Try again in {}.",
                    crate::auth::throttle::describe_wait(*retry_after_secs)
                ),
            ),
            AppError::DatabaseUnavailable(_) => (
                "Service unavailable",
                "The site cannot reach its database right now. Try again in a minute.".into(),
            ),
            AppError::Unexpected(_) => (
                "Something went wrong",
                "The server hit an unexpected error. Try again; if it keeps happening, \
                 quote the request id below to the site's operators."
                    .into(),
            ),
        }
    }
}

impl From<DbError> for AppError {
    fn from(err: DbError) -> Self {
        if err.is_unavailable() {
            AppError::DatabaseUnavailable(err)
        } else {
            AppError::Unexpected(err.into())
        }
    }
}

impl From<crate::auth::password::PasswordError> for AppError {
    fn from(err: crate::auth::password::PasswordError) -> Self {
        match err {
            crate::auth::password::PasswordError::Busy => AppError::Busy,
            other => AppError::Unexpected(other.into()),
        }
    }
}

impl From<actix_session::SessionInsertError> for AppError {
    fn from(err: actix_session::SessionInsertError) -> Self {
        AppError::Unexpected(anyhow::anyhow!("storing a session value failed: {err}"))
    }
}

impl From<askama::Error> for AppError {
    fn from(err: askama::Error) -> Self {
        AppError::Unexpected(anyhow::anyhow!("rendering a template failed: {err}"))
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound | AppError::OutlookNotConfigured => StatusCode::NOT_FOUND,
            AppError::Csrf => StatusCode::FORBIDDEN,
            AppError::LoginRequired { .. } => StatusCode::SEE_OTHER,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            AppError::Outlook(error) => error.status(),
            AppError::DatabaseUnavailable(_) | AppError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Throttled { .. } | AppError::RateLimited { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            AppError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::new(self.status_code());
        let retry_after = match self {
            AppError::Busy => Some(2),
            AppError::Throttled { retry_after_secs }
            | AppError::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let AppError::LoginRequired { next } = self {
            let location = format!("{}?next={}", paths::LOGIN, urlencode(next));
            if let Ok(value) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(header::LOCATION, value);
            }
        }
        response
    }
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[derive(Template)]
#[template(path = "errors/error.html")]
struct ErrorPage<'a> {
    page: PageContext,
    status: u16,
    title: &'a str,
    message: &'a str,
    request_id: String,
}

/// Renders every error response that has no body of its own (from [`AppError`], from
/// actix-web's extractors, from the router) as a page in the site layout, and logs it once.
pub async fn error_pages(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let res = next.call(req).await?.map_into_boxed_body();
    Ok(render_error_page(res).await)
}

async fn render_error_page(res: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) || status == StatusCode::SEE_OTHER {
        return res;
    }
    let has_own_page = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if has_own_page && res.response().error().is_none() {
        return res;
    }

    let request_id = res
        .request()
        .extensions()
        .get::<tracing_actix_web::RequestId>()
        .map(|id| id.to_string())
        .unwrap_or_default();
    let fallback;
    let app_error = res
        .response()
        .error()
        .and_then(|e| e.as_error::<AppError>());
    let (title, message) = match app_error {
        Some(app_error) => {
            log_error(app_error, status);
            app_error.page_text()
        }
        None => {
            let cause = res
                .response()
                .error()
                .map(|e| e.to_string())
                .unwrap_or_default();
            log_other(status, &cause);
            fallback = generic_error(status);
            (fallback.0, fallback.1.to_owned())
        }
    };

    let page = PageContext::from_request(res.request(), &mut Payload::None)
        .await
        .unwrap_or_default();
    let body = ErrorPage {
        page,
        status: status.as_u16(),
        title,
        message: &message,
        request_id,
    }
    .render()
    .unwrap_or_else(|_| format!("{} {title}", status.as_u16()));

    let (request, mut response) = res.into_parts();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.remove(header::CONTENT_LENGTH);
    let response = response.set_body(BoxBody::new(body));
    ServiceResponse::new(request, response)
}

fn generic_error(status: StatusCode) -> (&'static str, &'static str) {
    match status {
        StatusCode::BAD_REQUEST => (
            "Bad request",
            "The form could not be read. Reload the page and try again.",
        ),
        StatusCode::NOT_FOUND => ("Page not found", "There is no page at this address."),
        StatusCode::METHOD_NOT_ALLOWED => (
            "Method not allowed",
            "This address does not accept that kind of request.",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "Request too large",
            "The form sent more data than this site accepts. Shorten the text and try again.",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "Unsupported form encoding",
            "Send the form as application/x-www-form-urlencoded, as a browser does.",
        ),
        s if s.is_server_error() => (
            "Something went wrong",
            "The server hit an unexpected error. Try again in a minute.",
        ),
        _ => ("Request failed", "The request could not be completed."),
    }
}

/// Writes the error and each of its causes, outermost first.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn log_error(error: &AppError, status: StatusCode) {
    let chain = error_chain(error);
    match error {
        AppError::Unexpected(inner) => {
            tracing::error!(status = status.as_u16(), error = %format!("{inner:#}"), "request failed")
        }
        AppError::DatabaseUnavailable(_) => {
            tracing::error!(status = status.as_u16(), error = %chain, "database unavailable")
        }
        AppError::Csrf => tracing::warn!(status = status.as_u16(), "CSRF check failed"),
        AppError::Outlook(_) => {
            tracing::warn!(status = status.as_u16(), error = %chain, "sign-in with Outlook failed")
        }
        AppError::LoginRequired { .. } => {}
        // A flood makes thousands of these a second. The request line records each one, and
        // the hashing threads log a count of rejections every 10 seconds.
        AppError::Busy => {
            tracing::debug!(status = status.as_u16(), error = %chain, "request rejected")
        }
        _ => tracing::info!(status = status.as_u16(), error = %chain, "request rejected"),
    }
}

fn log_other(status: StatusCode, cause: &str) {
    if status.is_server_error() {
        tracing::error!(status = status.as_u16(), error = cause, "request failed");
    } else {
        tracing::info!(status = status.as_u16(), error = cause, "request rejected");
    }
}

#[cfg(test)]
mod tests {
    use actix_web::middleware::from_fn;
    use actix_web::{test, web, App};

    use super::*;

    async fn failing() -> Result<HttpResponse, AppError> {
        Err(AppError::Unexpected(anyhow::anyhow!(
            "secret internal detail"
        )))
    }

    #[actix_web::test]
    async fn unexpected_error_renders_500_page_without_cause() {
        let app = test::init_service(
            App::new()
                .route("/fail", web::get().to(failing))
                .wrap(from_fn(error_pages)),
        )
        .await;

        let response =
            test::call_service(&app, test::TestRequest::get().uri("/fail").to_request()).await;

        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = String::from_utf8(test::read_body(response).await.to_vec()).expect("UTF-8");
        assert!(body.contains("Something went wrong"));
        assert!(body.contains("<nav"), "rendered outside the layout");
        assert!(
            !body.contains("secret internal detail"),
            "the cause leaked into the page"
        );
    }

    #[actix_web::test]
    async fn login_required_redirects_with_next() {
        let response = AppError::LoginRequired {
            next: "/accounts/profile/?a=b".into(),
        }
        .error_response();

        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            response
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok()),
            Some("/accounts/login/?next=%2Faccounts%2Fprofile%2F%3Fa%3Db")
        );
    }
}
