//! Sessions kept in the database, behind a cookie that holds only a random session key.
//!
//! actix-session calls [`DbSessionStore`] to load and save the state; handlers use
//! [`TypedSession`], which names the keys and renews the session id at sign-in.

use std::collections::HashMap;
use std::future::{ready, Ready};

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_session::{Session, SessionExt};
use actix_web::cookie::time::Duration;
use actix_web::{dev::Payload, FromRequest, HttpRequest};
use chrono::{NaiveDateTime, Utc};

use super::random_token;
use crate::db::models::SessionRow;
use crate::db::{Database, DbError};

const USER_ID: &str = "user_id";
const CSRF_SEED: &str = "csrf_seed";
const OUTLOOK_FLOW: &str = "outlook_flow";
const STARTED_AT: &str = "started_at";
const USER_AGENT: &str = "user_agent";
const ADDRESS: &str = "address";

/// What the profile page shows about a signed-in session, read from its stored state.
#[derive(Debug, Clone)]
pub struct SessionSummary {
    pub started_at: Option<chrono::DateTime<Utc>>,
    pub last_seen: NaiveDateTime,
    pub user_agent: String,
    pub address: String,
    /// The session of the browser looking at the page.
    pub current: bool,
}

/// Summarises a user's session rows; `current_seed` picks out the viewer's own session.
pub fn summarize(rows: &[SessionRow], current_seed: Option<&str>) -> Vec<SessionSummary> {
    let mut sessions: Vec<SessionSummary> = rows
        .iter()
        .filter_map(|row| {
            let state: State = serde_json::from_str(&row.session_data).ok()?;
            let text = |key: &str| {
                state
                    .get(key)
                    .and_then(|value| serde_json::from_str::<String>(value).ok())
                    .unwrap_or_default()
            };
            let seed = text(CSRF_SEED);
            Some(SessionSummary {
                started_at: state
                    .get(STARTED_AT)
                    .and_then(|value| serde_json::from_str::<i64>(value).ok())
                    .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0)),
                last_seen: row.updated_at,
                user_agent: text(USER_AGENT),
                address: text(ADDRESS),
                current: current_seed.is_some_and(|current| current == seed),
            })
        })
        .collect();
    sessions.sort_by(|a, b| {
        b.current
            .cmp(&a.current)
            .then(b.last_seen.cmp(&a.last_seen))
    });
    sessions
}

/// The session state as actix-session hands it over: values are JSON-encoded strings.
type State = HashMap<String, String>;

/// An actix-session storage backend over `outlook_oauth_app_session`.
#[derive(Clone)]
pub struct DbSessionStore {
    db: Database,
    /// A session unused this long is over, whatever its expiry date.
    idle_timeout: std::time::Duration,
}

impl DbSessionStore {
    pub fn new(db: Database, idle_timeout: std::time::Duration) -> Self {
        DbSessionStore { db, idle_timeout }
    }
}

/// "Last seen" is written at most this often, so that reading pages costs no write each time.
const LAST_SEEN_RESOLUTION: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

fn expiry(ttl: &Duration) -> NaiveDateTime {
    Utc::now().naive_utc() + chrono::Duration::seconds(ttl.whole_seconds())
}

/// The signed-in user's id, kept as its own column so that all of a user's sessions can be
/// found and ended together.
fn user_id_of(state: &State) -> Option<i32> {
    state
        .get(USER_ID)
        .and_then(|value| serde_json::from_str::<i32>(value).ok())
}

fn encode(state: &State) -> Result<String, serde_json::Error> {
    serde_json::to_string(state)
}

/// Set, in place of the real state, on a session that could not be loaded because the
/// database was unavailable. Only this store writes it; clients cannot.
const DATABASE_OUTAGE: &str = "database_outage";

fn store_error(error: DbError) -> anyhow::Error {
    error.into()
}

impl SessionStore for DbSessionStore {
    async fn load(&self, session_key: &SessionKey) -> Result<Option<State>, LoadError> {
        let key = session_key.as_ref().to_owned();
        let idle = chrono::TimeDelta::from_std(self.idle_timeout).unwrap_or(chrono::TimeDelta::MAX);
        let found = self
            .db
            .run(move |conn| {
                let now = Utc::now().naive_utc();
                let active_since = now.checked_sub_signed(idle).unwrap_or(NaiveDateTime::MIN);
                let row = SessionRow::find_live(conn, &key, active_since)?;
                if let Some(row) = &row {
                    if now - row.updated_at > LAST_SEEN_RESOLUTION {
                        SessionRow::touch(conn, &key, now)?;
                    }
                }
                Ok(row)
            })
            .await;
        let row = match found {
            Ok(row) => row,
            // actix-session turns a load error into a bare 500 before any handler runs. An
            // outage is instead handed on as a marked session, which the user extractors turn
            // into the 503 page.
            Err(error) if error.is_unavailable() => {
                // The cause travels with the marker and is logged once, with the 503.
                let cause = serde_json::to_string(&error_chain(&error)).unwrap_or_default();
                return Ok(Some(State::from([(DATABASE_OUTAGE.to_owned(), cause)])));
            }
            Err(error) => return Err(LoadError::Other(store_error(error))),
        };

        match row {
            None => Ok(None),
            Some(row) => serde_json::from_str(&row.session_data)
                .map(Some)
                .map_err(|e| LoadError::Deserialization(e.into())),
        }
    }

    async fn save(&self, state: State, ttl: &Duration) -> Result<SessionKey, SaveError> {
        let data = encode(&state).map_err(|e| SaveError::Serialization(e.into()))?;
        let key = random_token();
        let now = Utc::now().naive_utc();
        let row = SessionRow {
            session_key: key.clone(),
            session_data: data,
            created_at: now,
            updated_at: now,
            expire_date: expiry(ttl),
            user_id: user_id_of(&state),
        };

        self.db
            .run(move |conn| SessionRow::insert(conn, &row))
            .await
            .map_err(|e| SaveError::Other(store_error(e)))?;
        SessionKey::try_from(key).map_err(|e| SaveError::Other(e.into()))
    }

    async fn update(
        &self,
        session_key: SessionKey,
        state: State,
        ttl: &Duration,
    ) -> Result<SessionKey, UpdateError> {
        let data = encode(&state).map_err(|e| UpdateError::Serialization(e.into()))?;
        let key = session_key.as_ref().to_owned();
        let user_id = user_id_of(&state);
        let expire_date = expiry(ttl);

        let updated = self
            .db
            .run(move |conn| SessionRow::update_data(conn, &key, &data, user_id, expire_date))
            .await
            .map_err(|e| UpdateError::Other(store_error(e)))?;
        if updated {
            return Ok(session_key);
        }

        // The row was deleted (log-out elsewhere, a password change) or expired while this
        // request ran: start a new session rather than revive the old key.
        self.save(state, ttl).await.map_err(|e| match e {
            SaveError::Serialization(e) => UpdateError::Serialization(e),
            SaveError::Other(e) => UpdateError::Other(e),
        })
    }

    async fn update_ttl(
        &self,
        session_key: &SessionKey,
        ttl: &Duration,
    ) -> Result<(), anyhow::Error> {
        let key = session_key.as_ref().to_owned();
        let expire_date = expiry(ttl);
        self.db
            .run(move |conn| SessionRow::update_expiry(conn, &key, expire_date))
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn delete(&self, session_key: &SessionKey) -> Result<(), anyhow::Error> {
        let key = session_key.as_ref().to_owned();
        self.db
            .run(move |conn| SessionRow::delete(conn, &key))
            .await
            .map_err(store_error)?;
        Ok(())
    }
}

/// Deletes expired sessions once an hour, for as long as the server runs.
pub async fn purge_expired_sessions(db: Database) {
    let mut interval = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        interval.tick().await;
        match db.run(SessionRow::purge_expired).await {
            Ok(0) => {}
            Ok(count) => tracing::info!(count, "purged expired sessions"),
            Err(error) => {
                tracing::warn!(error = %error_chain(&error), "purging expired sessions failed")
            }
        }
    }
}

fn error_chain(error: &DbError) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The session with named keys, so handlers cannot misspell them, and the facts about the
/// client that a sign-in records.
pub struct TypedSession(Session, ClientFacts);

/// The browser and address a session was signed in from, shown to the user.
#[derive(Default)]
struct ClientFacts {
    user_agent: String,
    address: String,
}

impl TypedSession {
    pub fn of(req: &HttpRequest) -> Self {
        let user_agent: String = req
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_control())
            .take(300)
            .collect();
        let trusted: &[std::net::IpAddr] = req
            .app_data::<actix_web::web::Data<crate::startup::AppState>>()
            .map_or(&[], |state| state.settings.trusted_proxies.as_slice());
        let address = crate::auth::rate_limit::client_address(req, trusted)
            .map(|ip| ip.to_string())
            .unwrap_or_default();
        TypedSession(
            req.get_session(),
            ClientFacts {
                user_agent,
                address,
            },
        )
    }

    pub fn user_id(&self) -> Option<i32> {
        self.0.get::<i32>(USER_ID).ok().flatten()
    }

    /// The cause, when the session could not be loaded because the database was unavailable.
    pub fn database_outage(&self) -> Option<String> {
        self.0.get::<String>(DATABASE_OUTAGE).ok().flatten()
    }

    /// The CSRF seed of a signed-in session.
    pub fn csrf_seed(&self) -> Option<String> {
        self.0.get::<String>(CSRF_SEED).ok().flatten()
    }

    /// Signs `user_id` in under a new session id and a new CSRF seed, so that an id or token
    /// planted before sign-in (session fixation) is worthless after it.
    pub fn log_in(&self, user_id: i32) -> Result<(), actix_session::SessionInsertError> {
        self.0.renew();
        self.0.insert(USER_ID, user_id)?;
        self.0.insert(CSRF_SEED, random_token())?;
        self.0.insert(STARTED_AT, Utc::now().timestamp())?;
        self.0.insert(USER_AGENT, &self.1.user_agent)?;
        self.0.insert(ADDRESS, &self.1.address)?;
        Ok(())
    }

    /// Keeps a started sign-in with Outlook until its callback.
    pub fn set_outlook_flow(
        &self,
        flow: &crate::outlook::FlowState,
    ) -> Result<(), actix_session::SessionInsertError> {
        self.0.insert(OUTLOOK_FLOW, flow)
    }

    /// Takes the started sign-in out of the session, so that its state is used once only.
    pub fn take_outlook_flow(&self) -> Option<crate::outlook::FlowState> {
        self.0
            .remove_as::<crate::outlook::FlowState>(OUTLOOK_FLOW)?
            .ok()
    }

    /// Deletes the session's row and its cookie.
    pub fn log_out(&self) {
        self.0.purge();
    }

    pub fn inner(&self) -> &Session {
        &self.0
    }
}

impl FromRequest for TypedSession {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(Ok(TypedSession::of(req)))
    }
}
