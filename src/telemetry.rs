//! Logging: the subscriber, and one line per request.
//!
//! Logs carry the request id, method, path and status, and user ids. They never carry
//! passwords, tokens, cookies, session keys, query strings (which hold OAuth codes and `next`
//! URLs), email addresses or usernames.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::HttpMessage;
use tracing::Span;
use tracing_actix_web::{RequestId, RootSpanBuilder};
use tracing_subscriber::{fmt::MakeWriter, EnvFilter};

/// Installs the global subscriber writing to `sink`, filtered by `RUST_LOG` (default `info`),
/// with colours only when `ansi` is set. Calling it twice is harmless: the second call changes
/// nothing.
pub fn init<W>(sink: W, ansi: bool)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,actix_server=warn,actix_web=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(sink)
        .with_target(false)
        .with_ansi(ansi)
        .try_init();
}

/// The span around each request: its id and method only. The default builder of
/// tracing-actix-web also records the full target (with the query string, where OAuth codes
/// travel), the client address and the user agent, which must not reach the log.
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default();
        tracing::info_span!("request", %request_id, method = %request.method())
    }

    fn on_request_end<B: MessageBody>(
        _span: Span,
        _outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
    }
}

/// Logs one line per request when its response is ready; the request span adds the id and
/// method.
pub async fn log_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let path = req.path().to_owned();

    let res = next.call(req).await;

    let status = match &res {
        Ok(res) => res.status().as_u16(),
        Err(err) => err.as_response_error().status_code().as_u16(),
    };
    tracing::info!(
        path,
        status,
        duration_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    res
}
