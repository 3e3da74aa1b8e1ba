//! Many simultaneous requests over real HTTP, and two application processes on one database.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use diesel::sql_types::Integer;
use diesel::QueryableByName;
use futures_util::future::join_all;

use crate::helpers::{
    assert_redirects_to, csrf_token, field_error, location, spawn_app, spawn_app_with, Browser,
    PostgresTestDatabase, TestApp, SECRET_KEY, STRONG_PASSWORD,
};
use crate::idp::{IdpAccount, TestIdp};

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = Integer)]
    count: i32,
}

fn count(app: &TestApp, query: &str) -> i32 {
    app.db().load::<Count>(query)[0].count
}

/// Fetches a sign-up form in a fresh browser, ready to post.
async fn signup_form(app: &TestApp) -> (Browser, String) {
    let browser = app.new_browser();
    let token = csrf_token(&browser.get_html("/accounts/signup/").await);
    (browser, token)
}

#[tokio::test]
async fn simultaneous_signups_with_one_username_make_one_user() {
    let app = spawn_app().await;
    let forms = join_all((0..50).map(|_| signup_form(&app))).await;

    let responses = join_all(forms.iter().enumerate().map(|(i, (browser, token))| {
        // Half of them differ only in case, which must count as the same username.
        let username = if i % 2 == 0 { "racer" } else { "RACER" };
        let email = format!("racer{i}@example.com");
        async move {
            let fields = [
                ("username", username),
                ("email", email.as_str()),
                ("password1", STRONG_PASSWORD),
                ("password2", STRONG_PASSWORD),
                ("csrfmiddlewaretoken", token.as_str()),
            ];
            let response = browser.post_form("/accounts/signup/", &fields).await;
            let status = response.status().as_u16();
            (status, response.text().await.expect("body"))
        }
    }))
    .await;

    let created = responses
        .iter()
        .filter(|(status, _)| *status == 303)
        .count();
    assert_eq!(created, 1, "exactly one sign-up succeeds");
    for (status, html) in responses.iter().filter(|(status, _)| *status != 303) {
        assert_eq!(*status, 400, "a losing sign-up got {status}");
        assert_eq!(
            field_error(html, "username").as_deref(),
            Some("A user with that username already exists.")
        );
    }
    let users = count(
        &app,
        "SELECT CAST(COUNT(*) AS INTEGER) AS count FROM auth_user WHERE lower(username) = 'racer'",
    );
    assert_eq!(users, 1);
}

#[tokio::test]
async fn simultaneous_first_outlook_sign_ins_make_one_user() {
    let idp = TestIdp::start().await;
    let app = spawn_app_with(vec![
        ("OUTLOOK_CLIENT_ID", TestIdp::CLIENT_ID.to_owned()),
        ("OUTLOOK_CLIENT_SECRET", TestIdp::CLIENT_SECRET.to_owned()),
        ("OUTLOOK_AUTHORITY", idp.authority()),
    ])
    .await;
    idp.sign_in_as(IdpAccount::personal("Racer", "racer@outlook.com"));

    // Every browser gets its own code from the provider first, so that the callbacks, where
    // the user is created, run at the same moment.
    let mut callbacks = Vec::new();
    for _ in 0..12 {
        let browser = app.new_browser();
        let start = browser.get("/accounts/outlook/login/").await;
        let authorize = browser
            .client
            .get(location(&start).expect("authorize URL"))
            .send()
            .await
            .expect("authorize");
        let callback = location(&authorize).expect("callback URL").to_owned();
        callbacks.push((browser, callback));
    }

    let statuses = join_all(callbacks.iter().map(|(browser, callback)| async move {
        let response = browser.client.get(callback).send().await.expect("callback");
        (
            response.status().as_u16(),
            location(&response).map(str::to_owned),
        )
    }))
    .await;

    for (status, destination) in &statuses {
        assert_eq!(*status, 303, "a simultaneous sign-in failed");
        assert_eq!(destination.as_deref(), Some("/accounts/profile/"));
    }
    assert_eq!(
        count(
            &app,
            "SELECT CAST(COUNT(*) AS INTEGER) AS count FROM auth_user"
        ),
        1
    );
    assert_eq!(
        count(
            &app,
            "SELECT CAST(COUNT(*) AS INTEGER) AS count FROM outlook_oauth_app_outlookaccount"
        ),
        1
    );
}

#[tokio::test]
async fn mixed_simultaneous_requests_never_fail() {
    let app = spawn_app().await;
    let mut members = Vec::new();
    for i in 0..4 {
        let browser = app.new_browser();
        let response = browser
            .signup(
                &format!("member{i}"),
                &format!("member{i}@example.com"),
                STRONG_PASSWORD,
            )
            .await;
        assert_redirects_to(&response, "/accounts/profile/");
        members.push(browser);
    }
    let app = &app;

    let signups = join_all((0..8).map(|i| async move {
        let browser = app.new_browser();
        let username = format!("newcomer{i}");
        let email = format!("newcomer{i}@example.com");
        browser
            .signup(&username, &email, STRONG_PASSWORD)
            .await
            .status()
            .as_u16()
    }));
    let logins = join_all((0..8).map(|i| async move {
        let browser = app.new_browser();
        let username = format!("member{}", i % 4);
        browser
            .login(&username, STRONG_PASSWORD)
            .await
            .status()
            .as_u16()
    }));
    let edits = join_all((0..24).map(|i| {
        let browser = &members[i % 4];
        async move {
            let title = format!("Title {i}");
            let response = browser
                .save_profile(&[("job_title", title.as_str()), ("time_zone", "Europe/Paris")])
                .await;
            response.status().as_u16()
        }
    }));
    let (signups, logins, edits) = tokio::join!(signups, logins, edits);

    for status in signups.iter().chain(&logins).chain(&edits) {
        assert_eq!(*status, 303, "a request failed under load with {status}");
    }
    assert_eq!(
        count(
            app,
            "SELECT CAST(COUNT(*) AS INTEGER) AS count FROM auth_user"
        ),
        12
    );
}

/// An application process started from the built binary, stopped when dropped.
struct AppProcess {
    child: Child,
    address: String,
}

impl AppProcess {
    async fn start(database_url: &str, dir: &std::path::Path) -> AppProcess {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let address = format!("http://127.0.0.1:{port}");
        let child = Command::new(env!("CARGO_BIN_EXE_outlook-oauth-app"))
            .arg("serve")
            .current_dir(dir)
            .env("DATABASE_URL", database_url)
            .env("BIND_ADDRESS", format!("127.0.0.1:{port}"))
            .env("PUBLIC_URL", &address)
            .env("SECRET_KEY", SECRET_KEY)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the application binary");
        let process = AppProcess { child, address };

        let client = reqwest::Client::new();
        for _ in 0..200 {
            let health = client
                .get(format!("{}/healthz", process.address))
                .send()
                .await;
            if health.is_ok_and(|r| r.status().is_success()) {
                return process;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the application process did not answer /healthz within 10 seconds");
    }
}

impl Drop for AppProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A browser for `address` whose only cookie is the session cookie `value`.
fn browser_with_cookie(address: &str, value: &str) -> Browser {
    let browser = Browser::new(address);
    let url = address.parse().expect("URL");
    browser
        .cookies
        .add_cookie_str(&format!("oauthapp_sessionid={value}; Path=/"), &url);
    browser
}

#[tokio::test]
async fn two_processes_share_sessions() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let postgres = PostgresTestDatabase::create();
    let database_url = match &postgres {
        Some(db) => db.url.clone(),
        None => format!("sqlite://{}", dir.path().join("shared.sqlite3").display()),
    };
    let first = AppProcess::start(&database_url, dir.path()).await;
    let second = AppProcess::start(&database_url, dir.path()).await;
    let on_first = Browser::new(&first.address);

    let signup = on_first
        .signup("ada", "ada@example.com", STRONG_PASSWORD)
        .await;
    assert_redirects_to(&signup, "/accounts/profile/");
    let cookie = on_first.session_cookie().expect("session cookie");
    let on_second = browser_with_cookie(&second.address, &cookie);
    let profile_on_second = on_second.get("/accounts/profile/").await;

    assert_eq!(
        profile_on_second.status().as_u16(),
        200,
        "the session is not shared"
    );

    let logout = on_second.logout().await;
    assert_redirects_to(&logout, "/");
    let replayed = browser_with_cookie(&first.address, &cookie);
    let profile_on_first = replayed.get("/accounts/profile/").await;

    assert_redirects_to(
        &profile_on_first,
        "/accounts/login/?next=%2Faccounts%2Fprofile%2F",
    );
}
