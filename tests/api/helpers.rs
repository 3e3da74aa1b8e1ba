//! Starts the real application on a random loopback port with its own SQLite file, and drives
//! it over HTTP with a cookie-keeping client, as a browser would.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use outlook_oauth_app::config::Settings;
use outlook_oauth_app::startup::Application;
use reqwest::cookie::{CookieStore, Jar};
use reqwest::redirect::Policy;
use reqwest::Response;

pub const SECRET_KEY: &str = "test-secret-key-0123456789abcdef-0123456789";
pub const STRONG_PASSWORD: &str = "violet-lantern-88-orbit";

static TRACING: LazyLock<()> = LazyLock::new(|| {
    // Logs stay quiet unless TEST_LOG is set, so test output shows only failures.
    if std::env::var_os("TEST_LOG").is_some() {
        outlook_oauth_app::telemetry::init(std::io::stdout, false);
    } else {
        outlook_oauth_app::telemetry::init(std::io::sink, false);
    }
});

/// A running application and a browser-like client for it.
pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub client: reqwest::Client,
    pub cookies: Arc<Jar>,
    pub database_path: std::path::PathBuf,
    /// Kept alive for the test's duration; deleted on drop.
    pub _dir: tempfile::TempDir,
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

    let mut vars: HashMap<String, String> = HashMap::from([
        ("DATABASE_URL".to_owned(), format!("sqlite://{}", database_path.display())),
        ("BIND_ADDRESS".to_owned(), "127.0.0.1:0".to_owned()),
        ("SECRET_KEY".to_owned(), SECRET_KEY.to_owned()),
    ]);
    for (name, value) in extra {
        vars.insert(name.to_owned(), value);
    }
    let settings = Settings::from_lookup(|name| vars.get(name).cloned()).expect("valid test settings");

    let app = Application::build(settings).await.expect("application starts");
    let port = app.port();
    tokio::spawn(app.run_until_stopped());

    let address = format!("http://127.0.0.1:{port}");
    if vars.get("PUBLIC_URL").is_none() {
        // PUBLIC_URL only matters for redirect URIs; tests that need it pass it explicitly.
    }
    let cookies = Arc::new(Jar::default());
    TestApp {
        client: new_client(&cookies),
        address,
        port,
        cookies,
        database_path,
        _dir: dir,
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

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.expect("GET request")
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
            &[("username", username), ("email", email), ("password1", password), ("password2", password)],
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
        self.submit("/accounts/profile/", "/accounts/logout/", &[]).await
    }

    /// The session cookie's value, if the client holds one.
    pub fn session_cookie(&self) -> Option<String> {
        let url = self.address.parse().expect("URL");
        let header = self.cookies.cookies(&url)?;
        header
            .to_str()
            .ok()?
            .split("; ")
            .find_map(|pair| pair.strip_prefix("oauthapp_sessionid="))
            .map(str::to_owned)
    }

    /// Opens the application's SQLite file directly, to check rows.
    pub fn sqlite(&self) -> diesel::SqliteConnection {
        use diesel::Connection;
        diesel::SqliteConnection::establish(&self.database_path.to_string_lossy()).expect("open database")
    }
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
        response.headers().get("location").and_then(|v| v.to_str().ok()),
        Some(location)
    );
}

/// The text of the error paragraph beside `field`, if any.
pub fn field_error(html: &str, field: &str) -> Option<String> {
    let marker = format!("id=\"{field}-error\">");
    let start = html.find(&marker)? + marker.len();
    let end = start + html[start..].find("</p>")?;
    Some(html[start..end].trim().to_owned())
}
