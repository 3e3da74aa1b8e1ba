use crate::helpers::{
    assert_redirects_to, field_error, form_error, input_value, location, spawn_app,
    spawn_app_signed_in, status_and_html, Browser, TestApp, EMAIL, STRONG_PASSWORD, USERNAME,
};

const INVALID_LOGIN: &str =
    "Enter a correct username (or email address) and password. The password is case-sensitive.";

/// Spawns the application with [`USERNAME`] signed up and then logged out.
async fn spawn_app_with_user() -> TestApp {
    let app = spawn_app_signed_in().await;
    let response = app.logout().await;
    assert_redirects_to(&response, "/");
    app
}

/// Posts the log-in form, with `next` as the hidden input carries it.
async fn post_login(
    browser: &Browser,
    username: &str,
    password: &str,
    next: &str,
) -> reqwest::Response {
    browser
        .submit(
            "/accounts/login/",
            "/accounts/login/",
            &[
                ("username", username),
                ("password", password),
                ("next", next),
            ],
        )
        .await
}

#[tokio::test]
async fn login_with_username_signs_in() {
    let app = spawn_app_with_user().await;

    let response = app.login(USERNAME, STRONG_PASSWORD).await;

    assert_redirects_to(&response, "/accounts/profile/");
    let (status, html) = status_and_html(app.get("/accounts/profile/").await).await;
    assert_eq!(status, 200);
    assert!(html.contains("Welcome back, ada."), "flash message missing");
    assert!(html.contains("<h1>ada</h1>"), "not ada's profile");
}

#[tokio::test]
async fn login_records_last_login() {
    let app = spawn_app_with_user().await;
    let before = app.user_row(USERNAME).expect("auth_user row");

    app.login(USERNAME, STRONG_PASSWORD).await;

    let after = app.user_row(USERNAME).expect("auth_user row");
    assert!(
        before.last_login.is_none(),
        "sign-up set last_login: {:?}",
        before.last_login
    );
    assert!(after.last_login.is_some(), "log-in left last_login empty");
}

#[tokio::test]
async fn login_with_username_ignores_case() {
    let app = spawn_app_with_user().await;

    let response = app.login("ADA", STRONG_PASSWORD).await;

    assert_redirects_to(&response, "/accounts/profile/");
    let html = app.get_html("/accounts/profile/").await;
    assert!(html.contains("<h1>ada</h1>"), "not ada's profile");
}

#[tokio::test]
async fn login_with_email_ignores_case() {
    let app = spawn_app_with_user().await;

    let response = app.login("ADA@EXAMPLE.COM", STRONG_PASSWORD).await;

    assert_redirects_to(&response, "/accounts/profile/");
    let html = app.get_html("/accounts/profile/").await;
    assert!(html.contains("<h1>ada</h1>"), "not ada's profile");
}

#[tokio::test]
async fn login_with_non_ascii_username() {
    let app = spawn_app().await;
    app.signup("ÉMILE", "emile@example.com", STRONG_PASSWORD)
        .await;
    app.logout().await;

    let response = app.login("ÉMILE", STRONG_PASSWORD).await;

    assert_redirects_to(&response, "/accounts/profile/");
}

#[tokio::test]
async fn login_with_shared_email_fails() {
    let app = spawn_app_with_user().await;
    // A second user with the same email address and the same password hash, as a database
    // that Django filled may have: the address no longer identifies who is signing in.
    app.execute_sql(
        "INSERT INTO auth_user (password, last_login, is_superuser, username, last_name, email, \
                                is_staff, is_active, date_joined, first_name) \
         SELECT password, NULL, FALSE, 'ada2', '', email, FALSE, TRUE, date_joined, '' \
         FROM auth_user WHERE username = 'ada'",
    );

    let (status, html) = status_and_html(app.login(EMAIL, STRONG_PASSWORD).await).await;

    assert_eq!(status, 400);
    assert_eq!(form_error(&html).as_deref(), Some(INVALID_LOGIN));
    assert!(app.session_cookie().is_none(), "a session was started");
    let by_username = app.login("ada2", STRONG_PASSWORD).await;
    assert_redirects_to(&by_username, "/accounts/profile/");
}

#[tokio::test]
async fn login_failures_look_alike() {
    let app = spawn_app_with_user().await;

    let (unknown_status, unknown_html) =
        status_and_html(app.login("nobody", STRONG_PASSWORD).await).await;
    let (wrong_status, wrong_html) =
        status_and_html(app.login(USERNAME, "violet-lantern-88-orbiT").await).await;

    assert_eq!(unknown_status, 400);
    assert_eq!(wrong_status, unknown_status);
    assert_eq!(form_error(&unknown_html).as_deref(), Some(INVALID_LOGIN));
    assert_eq!(form_error(&wrong_html), form_error(&unknown_html));
    assert_eq!(field_error(&wrong_html, "username"), None);
    assert_eq!(field_error(&wrong_html, "password"), None);
}

#[tokio::test]
async fn login_keeps_username_but_not_password() {
    let app = spawn_app_with_user().await;
    let wrong_password = "violet-lantern-88-orbiT";

    let (status, html) = status_and_html(app.login(USERNAME, wrong_password).await).await;

    assert_eq!(status, 400);
    assert_eq!(input_value(&html, "username").as_deref(), Some(USERNAME));
    assert_eq!(input_value(&html, "password").as_deref(), Some(""));
    assert!(
        !html.contains(wrong_password),
        "password echoed in the page"
    );
}

#[tokio::test]
async fn login_of_inactive_user_fails() {
    let app = spawn_app_with_user().await;
    app.execute_sql("UPDATE auth_user SET is_active = FALSE WHERE username = 'ada'");

    let (status, html) = status_and_html(app.login(USERNAME, STRONG_PASSWORD).await).await;

    assert_eq!(status, 400);
    assert_eq!(form_error(&html).as_deref(), Some(INVALID_LOGIN));
    assert!(app.session_cookie().is_none(), "a session was started");
    assert!(app.session_rows().is_empty(), "a session row was written");
}

#[tokio::test]
async fn login_requires_each_field() {
    let app = spawn_app().await;

    let (status, html) = status_and_html(app.login("", "").await).await;

    assert_eq!(status, 400);
    assert_eq!(
        field_error(&html, "username").as_deref(),
        Some("This field is required.")
    );
    assert_eq!(
        field_error(&html, "password").as_deref(),
        Some("This field is required.")
    );
    assert_eq!(form_error(&html), None);
}

#[tokio::test]
async fn login_requires_password() {
    let app = spawn_app_with_user().await;

    let (status, html) = status_and_html(app.login(USERNAME, "").await).await;

    assert_eq!(status, 400);
    assert_eq!(field_error(&html, "username"), None);
    assert_eq!(
        field_error(&html, "password").as_deref(),
        Some("This field is required.")
    );
    assert_eq!(input_value(&html, "username").as_deref(), Some(USERNAME));
}

#[tokio::test]
async fn login_page_redirects_signed_in_user() {
    let app = spawn_app_signed_in().await;

    let response = app.get("/accounts/login/").await;

    assert_redirects_to(&response, "/accounts/profile/");
}

#[tokio::test]
async fn login_page_carries_local_next() {
    let app = spawn_app().await;

    let html = app
        .get_html("/accounts/login/?next=%2Faccounts%2Fpassword%2Fchange%2F")
        .await;

    assert_eq!(
        input_value(&html, "next").as_deref(),
        Some("/accounts/password/change/")
    );
}

#[tokio::test]
async fn login_page_drops_offsite_next() {
    let app = spawn_app().await;

    let html = app
        .get_html("/accounts/login/?next=https%3A%2F%2Fevil.example%2F")
        .await;

    assert_eq!(input_value(&html, "next").as_deref(), Some(""));
}

#[tokio::test]
async fn login_follows_local_next() {
    let app = spawn_app_with_user().await;

    let response = post_login(
        &app,
        USERNAME,
        STRONG_PASSWORD,
        "/accounts/password/change/?from=login",
    )
    .await;

    assert_redirects_to(&response, "/accounts/password/change/?from=login");
}

#[tokio::test]
async fn login_failure_keeps_next() {
    let app = spawn_app_with_user().await;

    let (status, html) = status_and_html(
        post_login(
            &app,
            USERNAME,
            "wrong-password-1",
            "/accounts/password/change/",
        )
        .await,
    )
    .await;

    assert_eq!(status, 400);
    assert_eq!(
        input_value(&html, "next").as_deref(),
        Some("/accounts/password/change/")
    );
}

#[tokio::test]
async fn login_ignores_offsite_next() {
    let app = spawn_app_with_user().await;

    for next in [
        "https://evil.example/",
        "//evil.example",
        "/\\evil.example",
        "http:/evil.example",
        "/\t/evil.example",
    ] {
        let browser = app.new_browser();
        let response = post_login(&browser, USERNAME, STRONG_PASSWORD, next).await;

        assert_eq!(response.status().as_u16(), 303, "{next:?}");
        assert_eq!(location(&response), Some("/accounts/profile/"), "{next:?}");
    }
}

#[tokio::test]
async fn anonymous_profile_visit_returns_after_login() {
    let app = spawn_app_with_user().await;
    let redirect = app.get("/accounts/profile/").await;
    assert_redirects_to(&redirect, "/accounts/login/?next=%2Faccounts%2Fprofile%2F");
    let login_page = app
        .get_html("/accounts/login/?next=%2Faccounts%2Fprofile%2F")
        .await;
    let next = input_value(&login_page, "next").expect("next input");

    let response = post_login(&app, USERNAME, STRONG_PASSWORD, &next).await;

    assert_redirects_to(&response, "/accounts/profile/");
}

#[tokio::test]
async fn login_with_email_despite_lookalike_username() {
    let app = spawn_app_with_user().await;
    let mallory = app.new_browser();
    // Another user takes the email address of ada as a username, which the username rules allow.
    assert_redirects_to(
        &mallory
            .signup(EMAIL, "mallory@example.com", "copper-meadow-41-quill")
            .await,
        "/accounts/profile/",
    );

    let response = app.login(EMAIL, STRONG_PASSWORD).await;

    assert_redirects_to(&response, "/accounts/profile/");
    let html = app.get_html("/accounts/profile/").await;
    assert!(html.contains("<h1>ada</h1>"), "not ada's profile");
    let as_mallory = app
        .new_browser()
        .login(EMAIL, "copper-meadow-41-quill")
        .await;
    assert_redirects_to(&as_mallory, "/accounts/profile/");
}

/// A hash that Django's default `PBKDF2PasswordHasher` makes for [`STRONG_PASSWORD`], computed
/// with Python's `hashlib.pbkdf2_hmac("sha256", password, salt, 1000)`. Django uses far more
/// iterations, but the count is read from the hash, so 1000 keeps the test fast.
const DJANGO_PBKDF2_HASH: &str =
    "pbkdf2_sha256$1000$hJ3kQv9Zt2XcWm8rNpL4aB$bcjFiEv01dGZnpY6kmoNX/4ppLvXcSHBHLQk6zdTeeE=";

#[tokio::test]
async fn login_with_django_pbkdf2_hash() {
    let app = spawn_app_with_user().await;
    app.execute_sql(&format!(
        "UPDATE auth_user SET password = '{DJANGO_PBKDF2_HASH}' WHERE username = 'ada'"
    ));

    let wrong = app.login(USERNAME, "violet-lantern-88-orbiT").await;
    let right = app.login(USERNAME, STRONG_PASSWORD).await;

    assert_eq!(
        wrong.status().as_u16(),
        400,
        "a wrong password matched the PBKDF2 hash"
    );
    assert_redirects_to(&right, "/accounts/profile/");
}

#[tokio::test]
async fn login_upgrades_django_pbkdf2_hash() {
    let app = spawn_app_with_user().await;
    app.execute_sql(&format!(
        "UPDATE auth_user SET password = '{DJANGO_PBKDF2_HASH}' WHERE username = 'ada'"
    ));

    app.login(USERNAME, STRONG_PASSWORD).await;

    let hash = app.user_row(USERNAME).expect("auth_user row").password;
    assert!(
        hash.starts_with("argon2$argon2id$"),
        "hash not upgraded: {hash}"
    );
    let other = app.new_browser();
    assert_redirects_to(
        &other.login(USERNAME, STRONG_PASSWORD).await,
        "/accounts/profile/",
    );
}
