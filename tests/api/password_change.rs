use crate::helpers::{
    assert_redirects_to, field_error, spawn_app, spawn_app_signed_in, status_and_html, TestApp,
    STRONG_PASSWORD, USERNAME,
};

const NEW_PASSWORD: &str = "copper-meadow-41-quill";
const PAGE: &str = "/accounts/password/change/";

/// Posts the password-change form with a fresh CSRF token and returns the status and page.
async fn post_change(app: &TestApp, old: &str, new1: &str, new2: &str) -> (u16, String) {
    let response = app
        .submit(
            PAGE,
            PAGE,
            &[
                ("old_password", old),
                ("new_password1", new1),
                ("new_password2", new2),
            ],
        )
        .await;
    status_and_html(response).await
}

/// Asserts that no password typed into the form is shown again.
fn assert_no_password_echoed(html: &str, passwords: &[&str]) {
    for password in passwords {
        assert!(
            !html.contains(password),
            "password {password:?} appears in the page"
        );
    }
}

#[tokio::test]
async fn password_change_page_requires_login() {
    let app = spawn_app().await;

    let response = app.get(PAGE).await;

    assert_redirects_to(
        &response,
        "/accounts/login/?next=%2Faccounts%2Fpassword%2Fchange%2F",
    );
}

#[tokio::test]
async fn password_change_page_shows_form() {
    let app = spawn_app_signed_in().await;

    let (status, html) = status_and_html(app.get(PAGE).await).await;

    assert_eq!(status, 200);
    assert!(html.contains("<h1>Change your password</h1>"));
    for name in [
        "old_password",
        "new_password1",
        "new_password2",
        "csrfmiddlewaretoken",
    ] {
        assert!(
            html.contains(&format!("name=\"{name}\"")),
            "input {name} missing"
        );
    }
}

#[tokio::test]
async fn password_change_stores_new_hash_and_shows_flash() {
    let app = spawn_app_signed_in().await;
    let old_hash = app.user_row(USERNAME).expect("auth_user row").password;

    let response = app.change_password(STRONG_PASSWORD, NEW_PASSWORD).await;

    assert_redirects_to(&response, "/accounts/profile/");
    let html = app.get_html("/accounts/profile/").await;
    assert!(
        html.contains("Your password was changed. Other sessions were signed out."),
        "flash message missing"
    );
    let new_hash = app.user_row(USERNAME).expect("auth_user row").password;
    assert_ne!(new_hash, old_hash);
    assert!(
        new_hash.starts_with("argon2$argon2id$v=19$m=19456,t=2,p=1$"),
        "{new_hash}"
    );
}

#[tokio::test]
async fn password_change_swaps_working_password() {
    let app = spawn_app_signed_in().await;
    app.change_password(STRONG_PASSWORD, NEW_PASSWORD).await;
    let other = app.new_browser();

    let with_old = other.login(USERNAME, STRONG_PASSWORD).await;
    let with_new = other.login(USERNAME, NEW_PASSWORD).await;

    assert_eq!(
        with_old.status().as_u16(),
        400,
        "the old password still works"
    );
    assert_redirects_to(&with_new, "/accounts/profile/");
}

#[tokio::test]
async fn password_change_ends_other_sessions() {
    let app = spawn_app_signed_in().await;
    let phone = app.new_browser();
    assert_redirects_to(
        &phone.login(USERNAME, STRONG_PASSWORD).await,
        "/accounts/profile/",
    );
    let phone_cookie = phone.session_cookie().expect("phone's session cookie");

    let response = app.change_password(STRONG_PASSWORD, NEW_PASSWORD).await;

    assert_redirects_to(&response, "/accounts/profile/");
    let on_phone = phone.get("/accounts/profile/").await;
    assert_redirects_to(&on_phone, "/accounts/login/?next=%2Faccounts%2Fprofile%2F");
    let changing_browser = app.get("/accounts/profile/").await;
    assert_eq!(
        changing_browser.status().as_u16(),
        200,
        "the changing browser was signed out"
    );
    let sessions = app.session_rows();
    assert_eq!(
        sessions.len(),
        1,
        "expected only the changing browser's session"
    );
    assert!(
        !phone_cookie.contains(&sessions[0].session_key),
        "the other browser's session row survived"
    );
}

#[tokio::test]
async fn password_change_renews_session_id() {
    let app = spawn_app_signed_in().await;
    let before = app.session_cookie().expect("session cookie");

    app.change_password(STRONG_PASSWORD, NEW_PASSWORD).await;

    let after = app.session_cookie().expect("session cookie");
    assert_ne!(before, after);
    let replay = app.browser_with_session_cookie(&before);
    let response = replay.get("/accounts/profile/").await;
    assert_redirects_to(&response, "/accounts/login/?next=%2Faccounts%2Fprofile%2F");
}

#[tokio::test]
async fn password_change_rejects_wrong_old_password() {
    let app = spawn_app_signed_in().await;
    let wrong = "violet-lantern-88-orbiT";

    let (status, html) = post_change(&app, wrong, NEW_PASSWORD, NEW_PASSWORD).await;

    assert_eq!(status, 400);
    assert_eq!(
        field_error(&html, "old_password").as_deref(),
        Some("Your old password was entered incorrectly. Please enter it again.")
    );
    assert_eq!(field_error(&html, "new_password1"), None);
    assert_no_password_echoed(&html, &[wrong, NEW_PASSWORD]);
    let other = app.new_browser();
    assert_redirects_to(
        &other.login(USERNAME, STRONG_PASSWORD).await,
        "/accounts/profile/",
    );
}

#[tokio::test]
async fn password_change_rejects_weak_new_password() {
    let app = spawn_app_signed_in().await;
    let cases = [
        ("", "This field is required."),
        (
            "ab1!xy",
            "This password is too short. It must contain at least 8 characters.",
        ),
        ("4815162342007", "This password is entirely numeric."),
        (
            "ada-1815-ada",
            "This password is too similar to your username.",
        ),
        (
            "password123",
            "This password is too common. Choose one that is harder to guess.",
        ),
    ];

    for (password, expected) in cases {
        let (status, html) = post_change(&app, STRONG_PASSWORD, password, password).await;

        assert_eq!(status, 400, "{password:?}");
        assert_eq!(
            field_error(&html, "new_password1").as_deref(),
            Some(expected),
            "{password:?}"
        );
        assert_eq!(field_error(&html, "old_password"), None, "{password:?}");
        if !password.is_empty() {
            assert_no_password_echoed(&html, &[password, STRONG_PASSWORD]);
        }
    }
    let other = app.new_browser();
    assert_redirects_to(
        &other.login(USERNAME, STRONG_PASSWORD).await,
        "/accounts/profile/",
    );
}

#[tokio::test]
async fn password_change_rejects_password_like_email() {
    let app = spawn_app().await;
    app.signup("lovelace", "maggie.smith@example.com", STRONG_PASSWORD)
        .await;

    let (status, html) = post_change(&app, STRONG_PASSWORD, "maggie.smith!", "maggie.smith!").await;

    assert_eq!(status, 400);
    assert_eq!(
        field_error(&html, "new_password1").as_deref(),
        Some("This password is too similar to your email address.")
    );
}

#[tokio::test]
async fn password_change_rejects_mismatched_confirmation() {
    let app = spawn_app_signed_in().await;

    let (status, html) = post_change(
        &app,
        STRONG_PASSWORD,
        NEW_PASSWORD,
        "copper-meadow-41-quilt",
    )
    .await;

    assert_eq!(status, 400);
    assert_eq!(
        field_error(&html, "new_password2").as_deref(),
        Some("The two password fields do not match.")
    );
    assert_eq!(field_error(&html, "new_password1"), None);
}

#[tokio::test]
async fn password_change_reports_old_and_new_errors_together() {
    let app = spawn_app_signed_in().await;

    let (status, html) = post_change(&app, "not-my-password", "short", "short").await;

    assert_eq!(status, 400);
    assert!(
        field_error(&html, "old_password").is_some(),
        "old password error missing"
    );
    assert!(
        field_error(&html, "new_password1").is_some(),
        "new password error missing"
    );
}
