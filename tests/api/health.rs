use crate::helpers::{csrf_token, spawn_app, spawn_app_signed_in, status_and_html};

#[tokio::test]
async fn health_answers_ok_when_database_answers() {
    let app = spawn_app().await;

    let response = app.get("/healthz").await;

    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.text().await.expect("body"), "ok\n");
}

#[tokio::test]
async fn health_answers_head() {
    let app = spawn_app().await;

    let response = app
        .client
        .head(app.url("/healthz"))
        .send()
        .await
        .expect("HEAD request");

    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test]
async fn home_page_offers_signup_and_login() {
    let app = spawn_app().await;

    let (status, html) = status_and_html(app.get("/").await).await;

    assert_eq!(status, 200);
    assert!(
        html.contains("<h1>Your account, your way</h1>"),
        "heading missing"
    );
    assert!(
        html.contains("href=\"/accounts/signup/\""),
        "sign-up link missing"
    );
    assert!(
        html.contains("href=\"/accounts/login/\""),
        "log-in link missing"
    );
    assert!(
        !html.contains("action=\"/accounts/logout/\""),
        "log-out button shown to a visitor"
    );
}

#[tokio::test]
async fn home_page_links_signed_in_user_to_profile() {
    let app = spawn_app_signed_in().await;

    let (status, html) = status_and_html(app.get("/").await).await;

    assert_eq!(status, 200);
    assert!(
        html.contains("You are signed in as <strong>ada</strong>."),
        "greeting missing"
    );
    assert!(
        html.contains("href=\"/accounts/profile/\""),
        "profile link missing"
    );
    assert!(
        html.contains("action=\"/accounts/logout/\""),
        "log-out button missing"
    );
    assert!(
        !csrf_token(&html).is_empty(),
        "log-out form has no CSRF token"
    );
}

#[tokio::test]
async fn pages_are_not_cached() {
    let app = spawn_app().await;

    for path in ["/", "/accounts/signup/", "/accounts/login/"] {
        let response = app.get(path).await;

        let cache_control = response
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok());
        assert_eq!(cache_control, Some("no-store"), "{path}");
    }
}

#[tokio::test]
async fn signup_page_shows_form() {
    let app = spawn_app().await;

    let (status, html) = status_and_html(app.get("/accounts/signup/").await).await;

    assert_eq!(status, 200);
    assert!(
        html.contains("<h1>Create an account</h1>"),
        "heading missing"
    );
    assert!(
        html.contains("action=\"/accounts/signup/\""),
        "form missing"
    );
    for name in ["username", "email", "password1", "password2"] {
        assert!(
            html.contains(&format!("name=\"{name}\"")),
            "input {name} missing"
        );
    }
    assert!(!csrf_token(&html).is_empty(), "CSRF token missing");
}

#[tokio::test]
async fn login_page_shows_form() {
    let app = spawn_app().await;

    let (status, html) = status_and_html(app.get("/accounts/login/").await).await;

    assert_eq!(status, 200);
    assert!(html.contains("<h1>Log in</h1>"), "heading missing");
    assert!(html.contains("action=\"/accounts/login/\""), "form missing");
    for name in ["username", "password", "next"] {
        assert!(
            html.contains(&format!("name=\"{name}\"")),
            "input {name} missing"
        );
    }
    assert!(!csrf_token(&html).is_empty(), "CSRF token missing");
}

#[tokio::test]
async fn static_stylesheet_is_served() {
    let app = spawn_app().await;

    let response = app.get("/static/app.css").await;

    assert_eq!(response.status().as_u16(), 200);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok());
    assert_eq!(content_type, Some("text/css; charset=utf-8"));
    let body = response.text().await.expect("body");
    assert!(!body.is_empty(), "stylesheet is empty");
}

#[tokio::test]
async fn static_favicon_is_served() {
    let app = spawn_app().await;

    let response = app.get("/static/favicon.svg").await;

    assert_eq!(response.status().as_u16(), 200);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok());
    assert_eq!(content_type, Some("image/svg+xml"));
}

/// `check` reports a SQLite file that does not exist without creating it.
#[test]
fn check_leaves_missing_database_alone() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let database = folder.path().join("new.sqlite3");

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_outlook-oauth-app"))
        .arg("check")
        .current_dir(folder.path())
        .env("DATABASE_URL", format!("sqlite://{}", database.display()))
        .env("SECRET_KEY", crate::helpers::SECRET_KEY)
        .env_remove("OUTLOOK_CLIENT_ID")
        .env_remove("OUTLOOK_CLIENT_SECRET")
        .env("RUST_LOG", "warn")
        .output()
        .expect("run the application binary");
    let stdout = String::from_utf8_lossy(&output.stdout);

    assert!(
        !output.status.success(),
        "check passed on a missing database"
    );
    assert!(stdout.contains("does not exist yet"), "{stdout}");
    assert!(!database.exists(), "check created the database file");
}
