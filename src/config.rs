//! Settings, read once at start from the environment (and a `.env` file, loaded by `main`).
//!
//! | variable | default | meaning |
//! | --- | --- | --- |
//! | `DATABASE_URL` | `sqlite://outlook_oauth_app.sqlite3` | `sqlite://PATH` or `postgres://USER:PASSWORD@HOST:PORT/NAME` |
//! | `DATABASE_POOL_SIZE` | `10` | most connections each instance keeps to the database |
//! | `DATABASE_POOL_TIMEOUT` | `5` | seconds a request waits for a connection before the page says the database is unavailable |
//! | `BIND_ADDRESS` | `127.0.0.1:8000` | listen address |
//! | `PUBLIC_URL` | `http://127.0.0.1:8000` | external base URL; `https://` makes cookies `Secure` |
//! | `SECRET_KEY` | generated into `<database file>.secret-key` | signs cookies, derives the other keys |
//! | `SESSION_COOKIE_AGE` | `1209600` (two weeks) | session lifetime in seconds |
//! | `SESSION_IDLE_TIMEOUT` | `604800` (a week) | seconds a session may go unused before it ends |
//! | `LOGIN_FAILURE_LIMIT` | `5` | failed log-ins for one login before it is paused |
//! | `LOGIN_FAILURE_WINDOW` | `900` | seconds over which failures count, and the pause |
//! | `RATE_LIMIT_PER_MINUTE`, `RATE_LIMIT_BURST` | `30`, `10` | sign-in requests per client address |
//! | `OUTLOOK_CLIENT_ID`, `OUTLOOK_CLIENT_SECRET` | unset | the Microsoft Entra ID app registration |
//! | `OUTLOOK_TENANT` | `common` | `common`, `organizations`, `consumers`, or a tenant id or domain |
//! | `OUTLOOK_AUTHORITY` | `https://login.microsoftonline.com` | identity platform base URL |
//! | `OUTLOOK_ALLOWED_TENANTS` | unset | comma-separated tenant ids allowed to sign in |
//! | `OUTLOOK_SCOPES` | `openid profile email offline_access User.Read` | scopes requested |
//! | `OUTLOOK_GRAPH_URL` | `https://graph.microsoft.com` | Microsoft Graph base URL |
//! | `OUTLOOK_HTTP_TIMEOUT` | `10` | seconds to wait for the identity platform per request |
//! | `TRUSTED_PROXIES` | unset | comma-separated proxy addresses whose `X-Forwarded-For` is believed |
//!
//! Every invalid value is reported, each with its variable's name, before the program stops.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha512;
use url::Url;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://outlook_oauth_app.sqlite3";
pub const DEFAULT_SCOPES: &str = "openid profile email offline_access User.Read";

/// A `SECRET_KEY` shorter than this is rejected: it would be guessable.
const MIN_SECRET_KEY_LEN: usize = 32;

/// Everything the application reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: DatabaseUrl,
    pub pool: PoolSettings,
    pub bind_address: SocketAddr,
    pub public_url: Url,
    pub secret_key: SecretKey,
    /// The file the key was read from or generated into, when `SECRET_KEY` is unset.
    pub secret_key_file: Option<PathBuf>,
    pub session_age: Duration,
    /// A session unused this long is over.
    pub session_idle_timeout: Duration,
    pub login_throttle: crate::auth::throttle::LoginThrottle,
    pub rate_limit: crate::auth::rate_limit::RateLimit,
    pub outlook: Option<OutlookSettings>,
    pub trusted_proxies: Vec<IpAddr>,
}

/// The database connection pool's bounds.
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    pub max_size: u32,
    pub connection_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_size: 10,
            connection_timeout: Duration::from_secs(5),
        }
    }
}

/// The Microsoft Entra ID app registration and identity platform endpoints.
#[derive(Debug, Clone)]
pub struct OutlookSettings {
    pub client_id: String,
    pub client_secret: SecretString,
    pub tenant: String,
    pub authority: Url,
    pub allowed_tenants: Vec<String>,
    pub scopes: Vec<String>,
    pub graph_url: Url,
    /// The whole-request timeout for calls to the identity platform.
    pub http_timeout: Duration,
}

/// All invalid settings found, one line each.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n  {}", .0.join("\n  "))]
pub struct ConfigError(pub Vec<String>);

impl Settings {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup`, which returns a variable's value or `None`; tests
    /// pass a map here instead of changing the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut errors = Vec::new();

        let database_url = DatabaseUrl::parse(
            &var("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned()),
        )
        .map_err(|e| errors.push(e))
        .ok();

        let mut pool = PoolSettings::default();
        if let Some(v) = var("DATABASE_POOL_SIZE") {
            match v.parse::<u32>() {
                Ok(size) if (1..=500).contains(&size) => pool.max_size = size,
                _ => errors.push(format!(
                    "DATABASE_POOL_SIZE must be a whole number from 1 to 500 (found {v:?})"
                )),
            }
        }
        if let Some(v) = var("DATABASE_POOL_TIMEOUT") {
            match v.parse::<u64>() {
                Ok(secs) if (1..=120).contains(&secs) => {
                    pool.connection_timeout = Duration::from_secs(secs)
                }
                _ => errors.push(format!(
                    "DATABASE_POOL_TIMEOUT must be a whole number of seconds from 1 to 120 (found {v:?})"
                )),
            }
        }

        let bind_address = var("BIND_ADDRESS")
            .unwrap_or_else(|| "127.0.0.1:8000".to_owned())
            .parse::<SocketAddr>()
            .map_err(|_| {
                errors
                    .push("BIND_ADDRESS must be an address and port, such as 127.0.0.1:8000".into())
            })
            .ok();

        let public_url = parse_base_url(
            "PUBLIC_URL",
            &var("PUBLIC_URL").unwrap_or_else(|| "http://127.0.0.1:8000".to_owned()),
        )
        .map_err(|e| errors.push(e))
        .ok();

        let session_age = match var("SESSION_COOKIE_AGE") {
            None => Some(Duration::from_secs(14 * 24 * 3600)),
            Some(v) => match v.parse::<u64>() {
                Ok(secs) if secs >= 60 => Some(Duration::from_secs(secs)),
                _ => {
                    errors.push(format!(
                        "SESSION_COOKIE_AGE must be a whole number of seconds, at least 60 (found {v:?})"
                    ));
                    None
                }
            },
        };

        let session_idle_timeout = match var("SESSION_IDLE_TIMEOUT") {
            None => Duration::from_secs(7 * 24 * 3600),
            Some(v) => match v.parse::<u64>() {
                Ok(secs) if (60..=366 * 24 * 3600).contains(&secs) => Duration::from_secs(secs),
                _ => {
                    errors.push(format!(
                        "SESSION_IDLE_TIMEOUT must be a whole number of seconds from 60 to 31622400 (found {v:?})"
                    ));
                    Duration::from_secs(7 * 24 * 3600)
                }
            },
        };

        let mut login_throttle = crate::auth::throttle::LoginThrottle::default();
        if let Some(v) = var("LOGIN_FAILURE_LIMIT") {
            match v.parse::<u32>() {
                Ok(limit) if (1..=1000).contains(&limit) => login_throttle.limit = limit,
                _ => errors.push(format!(
                    "LOGIN_FAILURE_LIMIT must be a whole number from 1 to 1000 (found {v:?})"
                )),
            }
        }
        if let Some(v) = var("LOGIN_FAILURE_WINDOW") {
            match v.parse::<u64>() {
                Ok(secs) if (1..=86_400).contains(&secs) => {
                    login_throttle.window = Duration::from_secs(secs)
                }
                _ => errors.push(format!(
                    "LOGIN_FAILURE_WINDOW must be a whole number of seconds from 1 to 86400 (found {v:?})"
                )),
            }
        }

        let mut rate_limit = crate::auth::rate_limit::RateLimit::default();
        for (name, field) in [
            ("RATE_LIMIT_PER_MINUTE", &mut rate_limit.per_minute),
            ("RATE_LIMIT_BURST", &mut rate_limit.burst),
        ] {
            if let Some(v) = var(name) {
                match v.parse::<u32>() {
                    Ok(value) if (1..=1_000_000).contains(&value) => *field = value,
                    _ => errors.push(format!(
                        "{name} must be a whole number from 1 to 1000000 (found {v:?})"
                    )),
                }
            }
        }

        let outlook = outlook_settings(&var, &mut errors);

        let trusted_proxies = list(var("TRUSTED_PROXIES"))
            .into_iter()
            .filter_map(|item| match item.parse::<IpAddr>() {
                Ok(ip) => Some(ip),
                Err(_) => {
                    errors.push(format!("TRUSTED_PROXIES: {item:?} is not an IP address"));
                    None
                }
            })
            .collect();

        let secret_key_file = match (&var("SECRET_KEY"), &database_url) {
            (None, Some(url)) => Some(url.secret_key_path()),
            _ => None,
        };
        // The key file lives beside the database, so resolve it only once the URL is valid.
        let secret_key = match (var("SECRET_KEY"), &database_url) {
            (Some(key), _) if key.len() < MIN_SECRET_KEY_LEN => {
                errors.push(format!(
                    "SECRET_KEY must be at least {MIN_SECRET_KEY_LEN} characters long"
                ));
                None
            }
            (Some(key), _) => Some(SecretKey::new(key)),
            (None, Some(url)) => SecretKey::load_or_generate(&url.secret_key_path())
                .map_err(|e| errors.push(e))
                .ok(),
            (None, None) => None,
        };

        match (
            database_url,
            bind_address,
            public_url,
            secret_key,
            session_age,
        ) {
            (
                Some(database_url),
                Some(bind_address),
                Some(public_url),
                Some(secret_key),
                Some(session_age),
            ) if errors.is_empty() => Ok(Settings {
                database_url,
                pool,
                bind_address,
                public_url,
                secret_key,
                secret_key_file,
                session_age,
                session_idle_timeout,
                login_throttle,
                rate_limit,
                outlook,
                trusted_proxies,
            }),
            _ => Err(ConfigError(errors)),
        }
    }

    /// Cookies get the `Secure` attribute when the site is served over https.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.scheme() == "https"
    }
}

fn outlook_settings(
    var: &impl Fn(&str) -> Option<String>,
    errors: &mut Vec<String>,
) -> Option<OutlookSettings> {
    let client_id = var("OUTLOOK_CLIENT_ID");
    let client_secret = var("OUTLOOK_CLIENT_SECRET");
    let (client_id, client_secret) = match (client_id, client_secret) {
        (None, None) => return None,
        (Some(id), Some(secret)) => (id, SecretString::from(secret)),
        (Some(_), None) => {
            errors.push(
                "OUTLOOK_CLIENT_SECRET is missing: set it together with OUTLOOK_CLIENT_ID".into(),
            );
            return None;
        }
        (None, Some(_)) => {
            errors.push(
                "OUTLOOK_CLIENT_ID is missing: set it together with OUTLOOK_CLIENT_SECRET".into(),
            );
            return None;
        }
    };

    let tenant = var("OUTLOOK_TENANT").unwrap_or_else(|| "common".to_owned());
    if !tenant
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    {
        errors.push(format!(
            "OUTLOOK_TENANT must be common, organizations, consumers, a tenant id or a domain (found {tenant:?})"
        ));
    }

    let authority = parse_base_url(
        "OUTLOOK_AUTHORITY",
        &var("OUTLOOK_AUTHORITY").unwrap_or_else(|| "https://login.microsoftonline.com".to_owned()),
    )
    .and_then(|url| require_https_unless_loopback("OUTLOOK_AUTHORITY", url))
    .map_err(|e| errors.push(e))
    .ok()?;

    let graph_url = parse_base_url(
        "OUTLOOK_GRAPH_URL",
        &var("OUTLOOK_GRAPH_URL").unwrap_or_else(|| "https://graph.microsoft.com".to_owned()),
    )
    .and_then(|url| require_https_unless_loopback("OUTLOOK_GRAPH_URL", url))
    .map_err(|e| errors.push(e))
    .ok()?;

    let scopes: Vec<String> = var("OUTLOOK_SCOPES")
        .unwrap_or_else(|| DEFAULT_SCOPES.to_owned())
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if !scopes.iter().any(|s| s == "openid") {
        errors.push("OUTLOOK_SCOPES must include openid".into());
    }

    let http_timeout = match var("OUTLOOK_HTTP_TIMEOUT") {
        None => Duration::from_secs(10),
        Some(v) => match v.parse::<u64>() {
            Ok(secs) if (1..=120).contains(&secs) => Duration::from_secs(secs),
            _ => {
                errors.push(format!(
                    "OUTLOOK_HTTP_TIMEOUT must be a whole number of seconds from 1 to 120 (found {v:?})"
                ));
                Duration::from_secs(10)
            }
        },
    };

    Some(OutlookSettings {
        http_timeout,
        client_id,
        client_secret,
        tenant,
        authority,
        allowed_tenants: list(var("OUTLOOK_ALLOWED_TENANTS")),
        scopes,
        graph_url,
    })
}

fn list(value: Option<String>) -> Vec<String> {
    value
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Parses an absolute http(s) URL and drops a trailing slash, so that paths can be appended.
fn parse_base_url(name: &str, value: &str) -> Result<Url, String> {
    let url = Url::parse(value.trim_end_matches('/'))
        .map_err(|e| format!("{name} must be an absolute URL such as https://example.com ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!(
            "{name} must start with http:// or https:// and name a host"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("{name} must not have a query string or fragment"));
    }
    Ok(url)
}

/// Identity-provider traffic carries secrets, so plain http is allowed only on this machine.
fn require_https_unless_loopback(name: &str, url: Url) -> Result<Url, String> {
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(domain)) => domain == "localhost",
        None => false,
    };
    if url.scheme() == "https" || loopback {
        Ok(url)
    } else {
        Err(format!(
            "{name} must use https:// (plain http:// is allowed only for a loopback host)"
        ))
    }
}

/// The database location. Its `Debug` hides any password in the URL.
#[derive(Clone)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    /// A libpq connection URL, which may hold a password.
    Postgres(SecretString),
}

impl DatabaseUrl {
    pub fn parse(value: &str) -> Result<Self, String> {
        if let Some(path) = value.strip_prefix("sqlite://") {
            if path.is_empty() || path.contains('?') {
                return Err(
                    "DATABASE_URL must be sqlite://PATH, for example sqlite://app.sqlite3".into(),
                );
            }
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
        }
        if value.starts_with("postgres://") || value.starts_with("postgresql://") {
            let parsed = Url::parse(value).map_err(|e| {
                format!("DATABASE_URL is not a valid postgres:// URL ({e}); the form is postgres://USER:PASSWORD@HOST:PORT/NAME")
            })?;
            if parsed.path().trim_start_matches('/').is_empty() {
                return Err(
                    "DATABASE_URL must name the database: postgres://USER:PASSWORD@HOST:PORT/NAME"
                        .into(),
                );
            }
            return Ok(DatabaseUrl::Postgres(SecretString::from(value.to_owned())));
        }
        // SQLite would open almost any string as a file name, so anything else is refused
        // rather than guessed at.
        Err(format!(
            "DATABASE_URL must start with sqlite:// or postgres:// (found {:?})",
            value.split("://").next().unwrap_or_default()
        ))
    }

    /// Where a generated `SECRET_KEY` is kept: beside the SQLite file, or in the working folder
    /// for PostgreSQL.
    pub fn secret_key_path(&self) -> PathBuf {
        match self {
            DatabaseUrl::Sqlite(path) => {
                let mut name = path.file_name().unwrap_or_default().to_os_string();
                name.push(".secret-key");
                path.with_file_name(name)
            }
            DatabaseUrl::Postgres(_) => PathBuf::from("outlook_oauth_app.secret-key"),
        }
    }

    /// The backend's name, for logs and `check`.
    pub fn backend(&self) -> &'static str {
        match self {
            DatabaseUrl::Sqlite(_) => "sqlite",
            DatabaseUrl::Postgres(_) => "postgres",
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            DatabaseUrl::Postgres(url) => match Url::parse(url.expose_secret()) {
                Ok(mut parsed) => {
                    if parsed.password().is_some() {
                        let _ = parsed.set_password(Some("REDACTED"));
                    }
                    write!(f, "{parsed}")
                }
                Err(_) => f.write_str("postgres://[unparsable]"),
            },
        }
    }
}

/// The application's master secret. Purpose-bound keys are derived from it, so that a key
/// leaked from one use (say, cookie signing) says nothing about another (token encryption).
#[derive(Clone)]
pub struct SecretKey(SecretString);

impl SecretKey {
    pub fn new(key: String) -> Self {
        SecretKey(SecretString::from(key))
    }

    /// Reads the key file, or creates it with a fresh random key readable by the owner only.
    fn load_or_generate(path: &Path) -> Result<Self, String> {
        match std::fs::read_to_string(path) {
            Ok(key) if key.trim().len() >= MIN_SECRET_KEY_LEN => {
                return Ok(SecretKey::new(key.trim().to_owned()));
            }
            Ok(_) => {
                return Err(format!(
                    "the key file {} is too short: delete it or set SECRET_KEY",
                    path.display()
                ))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(format!(
                    "SECRET_KEY is unset and the key file {} cannot be read: {e}",
                    path.display()
                ))
            }
        }

        let mut bytes = [0u8; 48];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let key = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes);
        write_private_file(path, &key).map_err(|e| {
            format!(
                "SECRET_KEY is unset and the key file {} cannot be written: {e}",
                path.display()
            )
        })?;
        tracing::warn!(
            path = %path.display(),
            "SECRET_KEY is not set: generated a new key into a file beside the database; \
             set SECRET_KEY when several instances serve one site"
        );
        Ok(SecretKey::new(key))
    }

    /// Derives a 64-byte key for one purpose, such as "session-cookie" or "csrf".
    pub fn derive(&self, purpose: &str) -> [u8; 64] {
        let mut mac = <Hmac<Sha512> as Mac>::new_from_slice(self.0.expose_secret().as_bytes())
            .expect("HMAC accepts keys of any length");
        mac.update(b"outlook-oauth-app:");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey([REDACTED])")
    }
}

#[cfg(unix)]
fn write_private_file(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;

    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())
}

#[cfg(not(unix))]
fn write_private_file(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    const KEY: (&str, &str) = ("SECRET_KEY", "0123456789abcdef0123456789abcdef");

    #[test]
    fn defaults_apply_when_unset() {
        let settings = settings(&[KEY]).expect("valid");

        assert_eq!(settings.bind_address.to_string(), "127.0.0.1:8000");
        assert_eq!(settings.public_url.as_str(), "http://127.0.0.1:8000/");
        assert!(settings.outlook.is_none());
        assert!(!settings.secure_cookies());
    }

    #[test]
    fn every_invalid_value_is_reported() {
        let err = settings(&[
            ("DATABASE_URL", "mysql://x"),
            ("BIND_ADDRESS", "nowhere"),
            ("PUBLIC_URL", "ftp://example.com"),
            ("SECRET_KEY", "short"),
            ("OUTLOOK_CLIENT_ID", "abc"),
        ])
        .expect_err("invalid");

        let text = err.to_string();
        for name in [
            "DATABASE_URL",
            "BIND_ADDRESS",
            "PUBLIC_URL",
            "OUTLOOK_CLIENT_SECRET",
        ] {
            assert!(text.contains(name), "{name} missing from: {text}");
        }
    }

    #[test]
    fn short_secret_key_is_rejected() {
        let err = settings(&[("SECRET_KEY", "short")]).expect_err("invalid");

        assert!(err.to_string().contains("SECRET_KEY"));
    }

    #[test]
    fn plain_http_authority_needs_loopback() {
        let base = [
            KEY,
            ("OUTLOOK_CLIENT_ID", "id"),
            ("OUTLOOK_CLIENT_SECRET", "s"),
        ];
        let remote = [
            &base[..],
            &[("OUTLOOK_AUTHORITY", "http://login.example.com")],
        ]
        .concat();
        let local = [&base[..], &[("OUTLOOK_AUTHORITY", "http://127.0.0.1:9999")]].concat();

        assert!(settings(&remote).is_err());
        assert!(settings(&local).is_ok());
    }

    #[test]
    fn generated_key_file_is_private_and_reused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/app.sqlite3", dir.path().display());

        let first = settings(&[("DATABASE_URL", &url)]).expect("valid");
        let second = settings(&[("DATABASE_URL", &url)]).expect("valid");

        let path = dir.path().join("app.sqlite3.secret-key");
        assert_eq!(first.secret_key.derive("x"), second.secret_key.derive("x"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)
                .expect("key file")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn postgres_url_is_accepted_and_redacted() {
        let settings = settings(&[
            KEY,
            (
                "DATABASE_URL",
                "postgres://app:hunter22@db.example:5432/accounts",
            ),
            ("DATABASE_POOL_SIZE", "20"),
        ])
        .expect("valid");

        assert_eq!(settings.database_url.backend(), "postgres");
        assert_eq!(settings.pool.max_size, 20);
        let text = format!("{:?}", settings.database_url);
        assert!(!text.contains("hunter22"), "{text}");
        assert!(text.contains("db.example"), "{text}");
    }

    #[test]
    fn invalid_pool_settings_are_reported() {
        let err = settings(&[
            KEY,
            ("DATABASE_POOL_SIZE", "0"),
            ("DATABASE_POOL_TIMEOUT", "soon"),
        ])
        .expect_err("invalid");

        let text = err.to_string();
        assert!(text.contains("DATABASE_POOL_SIZE"), "{text}");
        assert!(text.contains("DATABASE_POOL_TIMEOUT"), "{text}");
    }

    #[test]
    fn postgres_url_without_database_is_rejected() {
        let err =
            settings(&[KEY, ("DATABASE_URL", "postgres://127.0.0.1:5432")]).expect_err("invalid");

        assert!(err.to_string().contains("name the database"));
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let settings = settings(&[
            KEY,
            ("OUTLOOK_CLIENT_ID", "id"),
            ("OUTLOOK_CLIENT_SECRET", "very-secret-value"),
        ])
        .expect("valid");

        let text = format!("{settings:?}");
        assert!(!text.contains("0123456789abcdef"));
        assert!(!text.contains("very-secret-value"));
    }
}
