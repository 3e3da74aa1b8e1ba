//! Starts the real application on a random loopback port with its own SQLite file, and drives
//! it over HTTP with a cookie-keeping client, as a browser would.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, LazyLock};

use diesel::sql_types::{Bool, Integer, Nullable, Text};
use diesel::{QueryableByName, RunQueryDsl};
use outlook_oauth_app::config::{DatabaseUrl, Settings};
use outlook_oauth_app::startup::Application;
use reqwest::cookie::{CookieStore, Jar};
use reqwest::redirect::Policy;
use reqwest::Response;

pub const SECRET_KEY: &str = "test-secret-key-0123456789abcdef-0123456789";
pub const STRONG_PASSWORD: &str = "violet-lantern-88-orbit";
pub const SESSION_COOKIE: &str = "oauthapp_sessionid";

static TRACING: LazyLock<()> = LazyLock::new(|| {
    // Logs stay quiet unless TEST_LOG is set, so test output shows only failures.
    if std::env::var_os("TEST_LOG").is_some() {
        outlook_oauth_app::telemetry::init(std::io::stdout, false);
    } else {
        outlook_oauth_app::telemetry::init(std::io::sink, false);
    }
});

/// A running application and a browser-like client for it. The request methods of
/// [`Browser`] (`get`, `submit`, `login`, …) can be called on the app directly and use
/// `app.browser`.
pub struct TestApp {
    /// The port the server listens on; no test reads it at the moment.
    #[allow(dead_code)]
    pub port: u16,
    /// The SQLite file, or an unused path when the test runs on PostgreSQL.
    #[allow(dead_code, reason = "kept for tests that need the SQLite file itself")]
    pub database_path: std::path::PathBuf,
    /// The database the application runs on.
    pub database_url: DatabaseUrl,
    /// The per-test PostgreSQL database, dropped with the app.
    _postgres: Option<PostgresTestDatabase>,
    pub browser: Browser,
    /// Kept alive for the test's duration; deleted on drop.
    pub _dir: tempfile::TempDir,
}

/// A cookie-keeping HTTP client for one application, standing in for one browser.
pub struct Browser {
    pub address: String,
    pub client: reqwest::Client,
    pub cookies: Arc<Jar>,
}

/// Extra settings for [`spawn_app_with`], as environment variable names and values.
pub type Vars = Vec<(&'static str, String)>;

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Vec::new()).await
}

pub async fn spawn_app_with(extra: Vars) -> TestApp {
    LazyLock::force(&TRACING);
    let dir = tempfile::tempdir().expect("temporary folder");
    let database_path = dir.path().join("app.sqlite3");
    let postgres = PostgresTestDatabase::create();
    let database_url = match &postgres {
        Some(db) => db.url.clone(),
        None => format!("sqlite://{}", database_path.display()),
    };

    // Bind first, so PUBLIC_URL (the base of the Outlook redirect URI) can name the real port.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let port = listener.local_addr().expect("local address").port();
    let address = format!("http://127.0.0.1:{port}");

    let mut vars: HashMap<String, String> = HashMap::from([
        ("DATABASE_URL".to_owned(), database_url),
        ("BIND_ADDRESS".to_owned(), format!("127.0.0.1:{port}")),
        ("PUBLIC_URL".to_owned(), address.clone()),
        ("SECRET_KEY".to_owned(), SECRET_KEY.to_owned()),
        // The tests send many sign-in posts from one address; rate_limit.rs tests the limit.
        ("RATE_LIMIT_PER_MINUTE".to_owned(), "1000000".to_owned()),
        ("RATE_LIMIT_BURST".to_owned(), "1000000".to_owned()),
    ]);
    for (name, value) in extra {
        vars.insert(name.to_owned(), value);
    }
    let settings =
        Settings::from_lookup(|name| vars.get(name).cloned()).expect("valid test settings");
    let database_url = settings.database_url.clone();

    let app = Application::build_on(settings, listener)
        .await
        .expect("application starts");
    tokio::spawn(app.run_until_stopped());

    TestApp {
        port,
        database_path,
        database_url,
        _postgres: postgres,
        browser: Browser::new(&address),
        _dir: dir,
    }
}

impl Deref for TestApp {
    type Target = Browser;

    fn deref(&self) -> &Browser {
        &self.browser
    }
}

/// A client that keeps cookies and does not follow redirects, so tests see each 303.
pub fn new_client(cookies: &Arc<Jar>) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_provider(Arc::clone(cookies))
        .redirect(Policy::none())
        .build()
        .expect("HTTP client")
}

impl Browser {
    /// Creates a browser with an empty cookie jar.
    pub fn new(address: &str) -> Browser {
        let cookies = Arc::new(Jar::default());
        Browser {
            client: new_client(&cookies),
            address: address.to_owned(),
            cookies,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("GET request")
    }

    pub async fn get_html(&self, path: &str) -> String {
        self.get(path).await.text().await.expect("response body")
    }

    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        self.client
            .post(self.url(path))
            .form(fields)
            .send()
            .await
            .expect("POST request")
    }

    /// Posts `body` as is, with the given `Content-Type`, for malformed-input tests.
    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Response {
        self.client
            .post(self.url(path))
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
            .expect("POST request")
    }

    /// Loads `form_page` to get a CSRF token, then posts `fields` with it to `path`.
    pub async fn submit(&self, form_page: &str, path: &str, fields: &[(&str, &str)]) -> Response {
        let token = csrf_token(&self.get_html(form_page).await);
        let mut with_token: Vec<(&str, &str)> = fields.to_vec();
        with_token.push(("csrfmiddlewaretoken", &token));
        self.post_form(path, &with_token).await
    }

    pub async fn signup(&self, username: &str, email: &str, password: &str) -> Response {
        self.submit(
            "/accounts/signup/",
            "/accounts/signup/",
            &[
                ("username", username),
                ("email", email),
                ("password1", password),
                ("password2", password),
            ],
        )
        .await
    }

    pub async fn login(&self, username: &str, password: &str) -> Response {
        self.submit(
            "/accounts/login/",
            "/accounts/login/",
            &[("username", username), ("password", password)],
        )
        .await
    }

    pub async fn logout(&self) -> Response {
        self.submit("/accounts/profile/", "/accounts/logout/", &[])
            .await
    }

    /// Posts the profile form with a fresh CSRF token. Fields left out are sent empty, as a
    /// browser sends an empty input.
    pub async fn save_profile(&self, fields: &[(&str, &str)]) -> Response {
        self.submit("/accounts/profile/", "/accounts/profile/", fields)
            .await
    }

    pub async fn change_password(&self, old: &str, new: &str) -> Response {
        self.submit(
            "/accounts/password/change/",
            "/accounts/password/change/",
            &[
                ("old_password", old),
                ("new_password1", new),
                ("new_password2", new),
            ],
        )
        .await
    }

    /// The session cookie's value, if the client holds one.
    pub fn session_cookie(&self) -> Option<String> {
        let url = self.address.parse().expect("URL");
        let header = self.cookies.cookies(&url)?;
        let prefix = format!("{SESSION_COOKIE}=");
        header
            .to_str()
            .ok()?
            .split("; ")
            .find_map(|pair| pair.strip_prefix(prefix.as_str()))
            .map(str::to_owned)
    }
}

impl TestApp {
    /// Another browser on the same application, with its own empty cookie jar.
    pub fn new_browser(&self) -> Browser {
        Browser::new(&self.address)
    }

    /// Creates a browser whose only cookie is a session cookie with `value`, as when a cookie
    /// is replayed from elsewhere.
    pub fn browser_with_session_cookie(&self, value: &str) -> Browser {
        let browser = self.new_browser();
        let url = self.address.parse().expect("URL");
        browser
            .cookies
            .add_cookie_str(&format!("{SESSION_COOKIE}={value}; Path=/"), &url);
        browser
    }

    /// Opens the application's database directly, to check rows.
    pub fn db(&self) -> TestDb {
        TestDb::open(&self.database_url)
    }

    /// Runs one SQL statement that takes no parameters, such as an `UPDATE` that prepares a case.
    /// Write it so that both SQLite and PostgreSQL accept it (`TRUE`, not `1`).
    pub fn execute_sql(&self, statement: &str) {
        self.db().execute(statement);
    }

    /// Loads the `auth_user` row of `username` (compared exactly), if there is one.
    pub fn user_row(&self, username: &str) -> Option<UserRow> {
        self.db()
            .load::<UserRow>(&format!(
                "SELECT id, username, email, password, first_name, last_name, \
                        is_active, is_staff, is_superuser, CAST(last_login AS TEXT) AS last_login \
                 FROM auth_user WHERE username = {}",
                sql_quote(username)
            ))
            .pop()
    }

    /// Loads the `outlook_oauth_app_userprofile` rows of one user. The application keeps one per
    /// user, and tests check that count.
    pub fn profile_rows(&self, user_id: i32) -> Vec<ProfileRow> {
        self.db().load::<ProfileRow>(&format!(
            "SELECT user_id, bio, job_title, department, office_location, mobile_phone, time_zone \
             FROM outlook_oauth_app_userprofile WHERE user_id = {user_id}"
        ))
    }

    /// Loads every row of `outlook_oauth_app_session`, expired or not.
    pub fn session_rows(&self) -> Vec<SessionRow> {
        self.db().load::<SessionRow>(
            "SELECT session_key, session_data, user_id FROM outlook_oauth_app_session",
        )
    }
}

#[derive(Debug, QueryableByName)]
pub struct UserRow {
    #[diesel(sql_type = Integer)]
    pub id: i32,
    #[diesel(sql_type = Text)]
    pub username: String,
    #[diesel(sql_type = Text)]
    pub email: String,
    /// The Django password hash.
    #[diesel(sql_type = Text)]
    pub password: String,
    #[diesel(sql_type = Text)]
    pub first_name: String,
    #[diesel(sql_type = Text)]
    pub last_name: String,
    #[diesel(sql_type = Bool)]
    pub is_active: bool,
    #[diesel(sql_type = Bool)]
    pub is_staff: bool,
    #[diesel(sql_type = Bool)]
    pub is_superuser: bool,
    #[diesel(sql_type = Nullable<Text>)]
    pub last_login: Option<String>,
}

#[derive(Debug, QueryableByName)]
pub struct ProfileRow {
    #[diesel(sql_type = Integer)]
    pub user_id: i32,
    #[diesel(sql_type = Text)]
    pub bio: String,
    #[diesel(sql_type = Text)]
    pub job_title: String,
    #[diesel(sql_type = Text)]
    pub department: String,
    #[diesel(sql_type = Text)]
    pub office_location: String,
    #[diesel(sql_type = Text)]
    pub mobile_phone: String,
    #[diesel(sql_type = Text)]
    pub time_zone: String,
}

#[derive(Debug, QueryableByName)]
pub struct SessionRow {
    #[diesel(sql_type = Text)]
    pub session_key: String,
    /// The session state as a JSON object.
    #[diesel(sql_type = Text)]
    pub session_data: String,
    #[diesel(sql_type = Nullable<Integer>)]
    pub user_id: Option<i32>,
}

/// Extracts the value of the `csrfmiddlewaretoken` hidden input from a page.
pub fn csrf_token(html: &str) -> String {
    let marker = "name=\"csrfmiddlewaretoken\" value=\"";
    let start = html.find(marker).expect("page has a CSRF token") + marker.len();
    let end = start + html[start..].find('"').expect("closing quote");
    html[start..end].to_owned()
}

pub fn assert_redirects_to(response: &Response, location: &str) {
    assert_eq!(response.status().as_u16(), 303, "expected a 303 redirect");
    assert_eq!(
        response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok()),
        Some(location)
    );
}

/// Returns the `Location` header of a redirect.
pub fn location(response: &Response) -> Option<&str> {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
}

/// Asserts that the response to a POST to `path` is the "form expired" page that a failed
/// CSRF check shows.
pub async fn assert_csrf_rejected(response: Response, path: &str) {
    assert_eq!(
        response.status().as_u16(),
        403,
        "POST {path}: expected 403 for a failed CSRF check"
    );
    let html = response.text().await.expect("response body");
    assert!(
        html.contains("<h1>This form was not accepted</h1>"),
        "POST {path}: heading missing: {html}"
    );
    assert!(
        html.contains("Reload the page"),
        "POST {path}: advice to reload missing: {html}"
    );
}

/// Returns the text of the error paragraph beside `field`, if any, with HTML entities decoded.
pub fn field_error(html: &str, field: &str) -> Option<String> {
    let marker = format!("id=\"{field}-error\">");
    let start = html.find(&marker)? + marker.len();
    let end = start + html[start..].find("</p>")?;
    Some(unescape_html(html[start..end].trim()))
}

/// Returns the text of the error about the whole form (such as a failed log-in), if any.
pub fn form_error(html: &str) -> Option<String> {
    let marker = "id=\"form-error\">";
    let start = html.find(marker)? + marker.len();
    let end = start + html[start..].find("</p>")?;
    Some(unescape_html(html[start..end].trim()))
}

/// Returns the `value` attribute of the input named `name`, with HTML entities decoded.
pub fn input_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\"");
    let tag_start = html.find(&marker)?;
    let tag_end = tag_start + html[tag_start..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let value_start = tag.find("value=\"")? + "value=\"".len();
    let value_end = value_start + tag[value_start..].find('"')?;
    Some(unescape_html(&tag[value_start..value_end]))
}

/// Returns the `Set-Cookie` header that sets cookie `name`, if the response has one.
pub fn set_cookie_header(response: &Response, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with(&prefix))
        .map(str::to_owned)
}

/// Decodes the entities that askama writes when it escapes text: numeric ones such as `&#60;`
/// and `&#x27;`, and `&amp;`, `&lt;`, `&gt;`, `&quot;`, `&apos;`.
fn unescape_html(text: &str) -> String {
    let mut decoded = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('&') {
        decoded.push_str(&rest[..start]);
        rest = &rest[start..];
        let entity = rest.find(';').map(|end| (&rest[1..end], end));
        let character = entity.and_then(|(name, _)| match name {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => {
                let code = match name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => name
                        .strip_prefix('#')
                        .and_then(|decimal| decimal.parse().ok()),
                };
                code.and_then(char::from_u32)
            }
        });
        match (character, entity) {
            (Some(character), Some((_, end))) => {
                decoded.push(character);
                rest = &rest[end + 1..];
            }
            _ => {
                decoded.push('&');
                rest = &rest[1..];
            }
        }
    }
    decoded.push_str(rest);
    decoded
}

pub const USERNAME: &str = "ada";
pub const EMAIL: &str = "ada@example.com";

/// Spawns the application and signs up [`USERNAME`], who stays signed in.
pub async fn spawn_app_signed_in() -> TestApp {
    let app = spawn_app().await;
    let response = app.signup(USERNAME, EMAIL, STRONG_PASSWORD).await;
    assert_redirects_to(&response, "/accounts/profile/");
    app
}

/// Reads the response's status code and body.
pub async fn status_and_html(response: Response) -> (u16, String) {
    let status = response.status().as_u16();
    let html = response.text().await.expect("response body");
    (status, html)
}

/// A string as an SQL literal, for test queries built with `format!`.
pub fn sql_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A direct connection to the application's database, for checking and preparing rows.
pub enum TestDb {
    Sqlite(diesel::SqliteConnection),
    Postgres(diesel::PgConnection),
}

impl TestDb {
    pub fn open(url: &DatabaseUrl) -> TestDb {
        use diesel::connection::SimpleConnection;
        use diesel::Connection;
        use secrecy::ExposeSecret;

        match url {
            DatabaseUrl::Sqlite(path) => {
                let mut conn = diesel::SqliteConnection::establish(&path.to_string_lossy())
                    .expect("open the SQLite database");
                // The application may be writing at the same moment; wait for its lock.
                conn.batch_execute("PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;")
                    .expect("set SQLite options");
                TestDb::Sqlite(conn)
            }
            DatabaseUrl::Postgres(url) => {
                let mut conn = diesel::PgConnection::establish(url.expose_secret())
                    .expect("connect to the PostgreSQL database");
                conn.batch_execute("SET TIME ZONE 'UTC'")
                    .expect("set the time zone");
                TestDb::Postgres(conn)
            }
        }
    }

    pub fn execute(&mut self, statement: &str) {
        use diesel::connection::SimpleConnection;

        let result = match self {
            TestDb::Sqlite(c) => c.batch_execute(statement),
            TestDb::Postgres(c) => c.batch_execute(statement),
        };
        result.unwrap_or_else(|e| panic!("SQL failed: {statement}: {e}"));
    }

    /// Runs a query written for both backends and loads its rows.
    pub fn load<T>(&mut self, query: &str) -> Vec<T>
    where
        T: QueryableByName<diesel::sqlite::Sqlite> + QueryableByName<diesel::pg::Pg> + 'static,
    {
        let result = match self {
            TestDb::Sqlite(c) => diesel::sql_query(query).load::<T>(c),
            TestDb::Postgres(c) => diesel::sql_query(query).load::<T>(c),
        };
        result.unwrap_or_else(|e| panic!("SQL failed: {query}: {e}"))
    }
}

/// The server named by `TEST_DATABASE_URL` (for example
/// `postgres://postgres@127.0.0.1:5432/postgres`), on which each test gets its own database.
/// Without it the tests run on SQLite and say so once.
pub fn test_database_url() -> Option<String> {
    static NOTICE: LazyLock<()> = LazyLock::new(|| {
        use std::io::Write;
        // Written straight to stderr, which the test harness does not capture.
        let _ = writeln!(
            std::io::stderr(),
            "note: TEST_DATABASE_URL is not set, so the tests ran on SQLite only and the \
             PostgreSQL tests were not run"
        );
    });
    match std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
    {
        Some(url) => Some(url),
        None => {
            LazyLock::force(&NOTICE);
            None
        }
    }
}

/// A database made for one test on the `TEST_DATABASE_URL` server, dropped afterwards.
pub struct PostgresTestDatabase {
    pub url: String,
    admin_url: String,
    name: String,
}

impl PostgresTestDatabase {
    /// Creates a fresh database, or returns `None` when the tests run on SQLite.
    pub fn create() -> Option<PostgresTestDatabase> {
        use diesel::connection::SimpleConnection;
        use diesel::Connection;
        use rand::RngCore;

        let admin_url = test_database_url()?;
        let name = format!("oauthapp_test_{:016x}", rand::rngs::OsRng.next_u64());
        let mut admin = diesel::PgConnection::establish(&admin_url)
            .unwrap_or_else(|e| panic!("TEST_DATABASE_URL names no reachable server: {e}"));
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create the test database");

        let mut url = url::Url::parse(&admin_url).expect("TEST_DATABASE_URL is a URL");
        url.set_path(&name);
        Some(PostgresTestDatabase {
            url: url.to_string(),
            admin_url,
            name,
        })
    }
}

impl Drop for PostgresTestDatabase {
    fn drop(&mut self) {
        use diesel::connection::SimpleConnection;
        use diesel::Connection;

        if let Ok(mut admin) = diesel::PgConnection::establish(&self.admin_url) {
            // FORCE ends the application's pooled connections, which outlive the test.
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}
