//! Builds the application: the database, the middleware stack and the HTTP server.

use std::net::TcpListener;

use actix_session::config::{CookieContentSecurity, PersistentSession};
use actix_session::SessionMiddleware;
use actix_web::body::MessageBody;
use actix_web::cookie::{Cookie, Key, SameSite};
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{from_fn, Condition, DefaultHeaders, Next};
use actix_web::{error, web, App, HttpServer};
use actix_web_flash_messages::storage::CookieMessageStore;
use actix_web_flash_messages::FlashMessagesFramework;
use tracing_actix_web::TracingLogger;

use crate::auth::csrf::csrf_cookie;
use crate::auth::session::purge_expired_sessions;
use crate::auth::{CsrfKey, DbSessionStore, Passwords};
use crate::config::Settings;
use crate::db::Database;
use crate::errors::{error_pages, AppError};
use crate::outlook::tokens::TokenCipher;
use crate::outlook::OutlookClient;
use crate::routes;
use crate::telemetry::{log_request, RequestSpan};

/// Forms larger than this are refused with 413; the largest real form is a few kilobytes.
pub const MAX_FORM_BYTES: usize = 32 * 1024;

pub const SESSION_COOKIE: &str = "oauthapp_sessionid";
const FLASH_COOKIE: &str = "oauthapp_messages";

/// Shared by every request.
pub struct AppState {
    pub settings: Settings,
    pub db: Database,
    pub passwords: Passwords,
    pub csrf_key: CsrfKey,
    /// `None` when `OUTLOOK_CLIENT_ID` is unset.
    pub outlook: Option<OutlookClient>,
    pub token_cipher: TokenCipher,
    pub rate_limiter: crate::auth::rate_limit::RateLimiter,
}

/// The server bound to its port, ready to run.
pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Connects to the database, applies pending migrations and binds the listen address.
    /// Port 0 picks a free port, which [`Application::port`] then reports.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(settings.bind_address)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.bind_address))?;
        Self::build_on(settings, listener).await
    }

    /// Like [`Application::build`], on a listener bound already; tests use it to learn the
    /// port before they set `PUBLIC_URL`.
    pub async fn build_on(settings: Settings, listener: TcpListener) -> anyhow::Result<Self> {
        let db = Database::connect_with(&settings.database_url, settings.pool)?;
        let report = {
            let db = db.clone();
            tokio::task::spawn_blocking(move || db.migrate()).await??
        };
        report.log();

        let port = listener.local_addr()?.port();
        let passwords = tokio::task::spawn_blocking(Passwords::for_this_machine).await??;

        tokio::spawn(purge_expired_sessions(db.clone()));
        tokio::spawn(crate::auth::throttle::purge_old_failures(
            db.clone(),
            settings.login_throttle,
        ));

        let outlook = match &settings.outlook {
            Some(outlook) => Some(OutlookClient::new(outlook, &settings.public_url)?),
            None => {
                tracing::info!("OUTLOOK_CLIENT_ID is not set: sign-in with Outlook is off");
                None
            }
        };

        let state = web::Data::new(AppState {
            csrf_key: CsrfKey::new(settings.secret_key.derive("csrf")),
            token_cipher: TokenCipher::new(&settings.secret_key.derive("token-encryption")),
            rate_limiter: crate::auth::rate_limit::RateLimiter::new(settings.rate_limit),
            outlook,
            settings,
            db,
            passwords,
        });
        let server = serve(listener, state)?;
        Ok(Application { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until the process is asked to stop (Ctrl-C or SIGTERM), then finishes the
    /// requests in flight.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

fn serve(listener: TcpListener, state: web::Data<AppState>) -> anyhow::Result<Server> {
    let settings = &state.settings;
    let secure = settings.secure_cookies();
    let session_key = Key::from(&settings.secret_key.derive("session-cookie"));
    let flash_key = Key::from(&settings.secret_key.derive("flash-cookie"));
    let session_age = actix_web::cookie::time::Duration::seconds(
        i64::try_from(settings.session_age.as_secs()).unwrap_or(i64::MAX),
    );
    let store = DbSessionStore::new(state.db.clone(), settings.session_idle_timeout);

    let server = HttpServer::new(move || {
        let sessions = SessionMiddleware::builder(store.clone(), session_key.clone())
            .cookie_name(SESSION_COOKIE.to_owned())
            .cookie_secure(secure)
            .cookie_http_only(true)
            .cookie_same_site(SameSite::Lax)
            .cookie_content_security(CookieContentSecurity::Signed)
            .session_lifecycle(PersistentSession::default().session_ttl(session_age))
            .build();
        let flashes = FlashMessagesFramework::builder(
            CookieMessageStore::builder(flash_key.clone())
                .cookie_name(FLASH_COOKIE.to_owned())
                .build(),
        )
        .build();

        // `wrap` adds an outer layer, so the list below reads from the handler outwards.
        App::new()
            .app_data(state.clone())
            .app_data(form_config())
            .app_data(query_config())
            .configure(routes::configure)
            .default_service(web::to(|| async {
                Err::<actix_web::HttpResponse, _>(AppError::NotFound)
            }))
            .wrap(from_fn(crate::auth::rate_limit::rate_limit))
            .wrap(from_fn(error_pages))
            .wrap(security_headers(secure))
            .wrap(from_fn(csrf_cookie))
            .wrap(sessions)
            .wrap(flashes)
            .wrap(Condition::new(!secure, from_fn(flash_cookie_over_http)))
            .wrap(from_fn(log_request))
            .wrap(TracingLogger::<RequestSpan>::new())
    })
    .listen(listener)?
    .run();
    Ok(server)
}

/// Removes the `Secure` attribute from the flash-message cookie on a plain-http site.
/// actix-web-flash-messages 0.5 always sets it, and browsers drop such a cookie on any http
/// host but localhost, so messages such as "Your profile was saved." never showed there.
async fn flash_cookie_over_http(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;

    // Most responses set no flash cookie, so look before copying any header.
    let prefix = format!("{FLASH_COOKIE}=");
    let is_flash = |value: &HeaderValue| value.to_str().is_ok_and(|text| text.starts_with(&prefix));
    let headers = res.headers_mut();
    if !headers.get_all(header::SET_COOKIE).any(is_flash) {
        return Ok(res);
    }

    let cookies: Vec<HeaderValue> = headers.get_all(header::SET_COOKIE).cloned().collect();
    headers.remove(header::SET_COOKIE);
    for value in cookies {
        let rewritten = value
            .to_str()
            .ok()
            .filter(|text| text.starts_with(&prefix))
            .and_then(|text| Cookie::parse(text.to_owned()).ok())
            .and_then(|mut cookie| {
                cookie.set_secure(false);
                HeaderValue::from_str(&cookie.to_string()).ok()
            });
        headers.append(header::SET_COOKIE, rewritten.unwrap_or(value));
    }
    Ok(res)
}

/// Headers for every response, error pages included.
///
/// NOTE: the policy allows no script and no inline style at all; a template that adds either
/// must change it here.
fn security_headers(https: bool) -> DefaultHeaders {
    let mut headers = DefaultHeaders::new()
        .add((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "same-origin"));
    if https {
        headers = headers.add((header::STRICT_TRANSPORT_SECURITY, "max-age=31536000"));
    }
    headers
}

fn form_config() -> web::FormConfig {
    web::FormConfig::default()
        .limit(MAX_FORM_BYTES)
        .error_handler(|err, _req| {
            let app_error = match err {
                error::UrlencodedError::Overflow { .. } => AppError::PayloadTooLarge,
                error::UrlencodedError::ContentType => AppError::BadRequest(
                    "Send the form as a browser does (application/x-www-form-urlencoded).".into(),
                ),
                other => AppError::BadRequest(format!(
                    "The form could not be read ({}). Send it again from the page.",
                    parser_detail(&other.to_string(), "Parse error: ")
                )),
            };
            app_error.into()
        })
}

/// Returns the parser's own words for what was wrong, without its prefix and final period,
/// such as "duplicate field `first_name`".
fn parser_detail<'a>(message: &'a str, prefix: &str) -> &'a str {
    let detail = message.strip_prefix(prefix).unwrap_or(message);
    detail.trim_end_matches('.')
}

fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        AppError::BadRequest(format!(
            "The address has a malformed query string ({}).",
            parser_detail(&err.to_string(), "Query deserialize error: ")
        ))
        .into()
    })
}
