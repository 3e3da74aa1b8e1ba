use crate::helpers::{
    assert_redirects_to, field_error, input_value, spawn_app, spawn_app_signed_in, status_and_html,
    TestApp, EMAIL, STRONG_PASSWORD, USERNAME,
};

/// Posts the sign-up form with a fresh CSRF token and returns the status and page.
async fn post_signup(
    app: &TestApp,
    username: &str,
    email: &str,
    password1: &str,
    password2: &str,
) -> (u16, String) {
    let response = app
        .submit(
            "/accounts/signup/",
            "/accounts/signup/",
            &[
                ("username", username),
                ("email", email),
                ("password1", password1),
                ("password2", password2),
            ],
        )
        .await;
    status_and_html(response).await
}

/// Asserts that the re-rendered form kept the username and email address but no password.
fn assert_form_kept(html: &str, username: &str, email: &str, passwords: &[&str]) {
    assert_eq!(
        input_value(html, "username").as_deref(),
        Some(username),
        "username not kept"
    );
    assert_eq!(
        input_value(html, "email").as_deref(),
        Some(email),
        "email not kept"
    );
    assert_eq!(
        input_value(html, "password1").as_deref(),
        Some(""),
        "password1 refilled"
    );
    assert_eq!(
        input_value(html, "password2").as_deref(),
        Some(""),
        "password2 refilled"
    );
    for password in passwords.iter().filter(|p| !p.is_empty()) {
        assert!(
            !html.contains(password),
            "password {password:?} appears in the page"
        );
    }
}

#[tokio::test]
async fn signup_creates_user_and_signs_in() {
    let app = spawn_app().await;

    let response = app.signup("ada", "ada@example.com", STRONG_PASSWORD).await;

    assert_redirects_to(&response, "/accounts/profile/");
    let profile = app.get_html("/accounts/profile/").await;
    assert!(
        profile.contains("Welcome, ada! Your account is ready."),
        "flash message missing"
    );
    assert!(profile.contains("ada@example.com"));
}

#[tokio::test]
async fn signup_flash_shows_only_once() {
    let app = spawn_app_signed_in().await;
    app.get_html("/accounts/profile/").await;

    let second_visit = app.get_html("/accounts/profile/").await;

    assert!(
        !second_visit.contains("Welcome, ada!"),
        "flash message shown twice"
    );
}

#[tokio::test]
async fn signup_page_redirects_signed_in_user() {
    let app = spawn_app_signed_in().await;

    let response = app.get("/accounts/signup/").await;

    assert_redirects_to(&response, "/accounts/profile/");
}

#[tokio::test]
async fn signup_stores_user_with_django_hash() {
    let app = spawn_app().await;

    app.signup("ada", "Ada@Example.COM", STRONG_PASSWORD).await;

    let user = app.user_row("ada").expect("auth_user row");
    assert_eq!(user.username, "ada");
    assert!(
        user.password
            .starts_with("argon2$argon2id$v=19$m=19456,t=2,p=1$"),
        "hash not in Django's Argon2 format: {}",
        user.password
    );
    assert!(!user.password.contains(STRONG_PASSWORD));
    assert_eq!(
        user.email, "Ada@example.com",
        "domain should be lower-cased, local part kept"
    );
    assert!(user.is_active);
    assert!(!user.is_staff);
    assert!(!user.is_superuser);
}

#[tokio::test]
async fn signup_creates_profile_in_utc() {
    let app = spawn_app().await;

    app.signup(USERNAME, EMAIL, STRONG_PASSWORD).await;

    let user = app.user_row(USERNAME).expect("auth_user row");
    let profiles = app.profile_rows(user.id);
    assert_eq!(profiles.len(), 1, "expected one profile row");
    assert_eq!(profiles[0].user_id, user.id);
    assert_eq!(profiles[0].time_zone, "UTC");
    assert_eq!(profiles[0].bio, "");
}

#[tokio::test]
async fn user_delete_cascades_to_profile() {
    let app = spawn_app_signed_in().await;
    let user = app.user_row(USERNAME).expect("auth_user row");
    let mut conn = app.db();

    conn.execute(&format!("DELETE FROM auth_user WHERE id = {}", user.id));

    assert!(app.user_row(USERNAME).is_none());
    assert!(
        app.profile_rows(user.id).is_empty(),
        "profile row survived its user"
    );
    let sessions = app.session_rows();
    assert!(
        sessions.iter().all(|row| row.user_id != Some(user.id)),
        "session row survived its user"
    );
}

#[tokio::test]
async fn signup_requires_username() {
    let app = spawn_app().await;

    let (status, html) = post_signup(&app, "", EMAIL, STRONG_PASSWORD, STRONG_PASSWORD).await;

    assert_eq!(status, 400);
    assert_eq!(
        field_error(&html, "username").as_deref(),
        Some("This field is required.")
    );
    assert_form_kept(&html, "", EMAIL, &[STRONG_PASSWORD]);
}

#[tokio::test]
async fn signup_rejects_151_character_username() {
    let app = spawn_app().await;
    let username = "a".repeat(151);

    let (status, html) =
        post_signup(&app, &username, EMAIL, STRONG_PASSWORD, STRONG_PASSWORD).await;

    assert_eq!(status, 400);
    assert_eq!(
        field_error(&html, "username").as_deref(),
        Some("Use at most 150 characters (it has 151).")
    );
    assert_form_kept(&html, &username, EMAIL, &[STRONG_PASSWORD]);
}

#[tokio::test]
async fn signup_accepts_150_character_username() {
    let app = spawn_app().await;
    let username = "a".repeat(150);

    let response = app.signup(&username, EMAIL, STRONG_PASSWORD).await;

    assert_redirects_to(&response, "/accounts/profile/");
    assert!(app.user_row(&username).is_some());
}

#[tokio::test]
async fn signup_rejects_invalid_username_characters() {
    let app = spawn_app().await;

    for (username, found) in [
        ("ada lovelace", "' '"),
        ("ada/lovelace", "'/'"),
        ("<ada>", "'<'"),
    ] {
        let (status, html) =
            post_signup(&app, username, EMAIL, STRONG_PASSWORD, STRONG_PASSWORD).await;

        assert_eq!(status, 400, "{username:?}");
        let expected =
            format!("Usernames may contain only letters, digits and @ . + - _ (found {found}).");
        assert_eq!(
            field_error(&html, "username"),
            Some(expected),
            "{username:?}"
        );
        assert_form_kept(&html, username, EMAIL, &[STRONG_PASSWORD]);
    }
    assert!(
        app.session_rows().is_empty(),
        "a rejected sign-up started a session"
    );
}

#[tokio::test]
async fn signup_rejects_duplicate_username_ignoring_case() {
    let app = spawn_app().await;
    app.signup("ada", "ada@example.com", STRONG_PASSWORD).await;
    app.logout().await;

    let response = app
        .signup("ADA", "other@example.com", STRONG_PASSWORD)
        .await;

    assert_eq!(response.status().as_u16(), 400);
    let html = response.text().await.expect("body");
    assert_eq!(
        field_error(&html, "username").as_deref(),
        Some("A user with that username already exists.")
    );
    assert_form_kept(&html, "ADA", "other@example.com", &[STRONG_PASSWORD]);
}

#[tokio::test]
async fn signup_rejects_duplicate_non_ascii_username() {
    let app = spawn_app().await;
    app.signup("ÉMILE", "emile@example.com", STRONG_PASSWORD)
        .await;
    app.logout().await;

    let (status, html) = post_signup(
        &app,
        "émile",
        "other@example.com",
        STRONG_PASSWORD,
        STRONG_PASSWORD,
    )
    .await;

    assert_eq!(status, 400);
    assert_eq!(
        field_error(&html, "username").as_deref(),
        Some("A user with that username already exists.")
    );
}

#[tokio::test]
async fn signup_requires_email() {
    let app = spawn_app().await;

    let (status, html) = post_signup(&app, USERNAME, "", STRONG_PASSWORD, STRONG_PASSWORD).await;

    assert_eq!(status, 400);
    assert_eq!(
        field_error(&html, "email").as_deref(),
        Some("This field is required.")
    );
    assert_form_kept(&html, USERNAME, "", &[STRONG_PASSWORD]);
}

#[tokio::test]
async fn signup_rejects_invalid_email() {
    let app = spawn_app().await;

    for email in [
        "ada-at-example.com",
        "ada@",
        "Ada <ada@example.com>",
        "ada@exa mple.com",
    ] {
        let (status, html) =
            post_signup(&app, USERNAME, email, STRONG_PASSWORD, STRONG_PASSWORD).await;

        assert_eq!(status, 400, "{email:?}");
        assert_eq!(
            field_error(&html, "email").as_deref(),
            Some("Enter a valid email address, such as name@example.com."),
            "{email:?}"
        );
        assert_form_kept(&html, USERNAME, email, &[STRONG_PASSWORD]);
    }
}

#[tokio::test]
async fn signup_rejects_email_without_full_domain() {
    let app = spawn_app().await;

    let (status, html) = post_signup(
        &app,
        USERNAME,
        "ada@localhost",
        STRONG_PASSWORD,
        STRONG_PASSWORD,
    )
    .await;

    assert_eq!(status, 400);
    assert_eq!(
        field_error(&html, "email").as_deref(),
        Some("Enter an email address with a full domain, such as name@example.com.")
    );
}

#[tokio::test]
async fn signup_rejects_duplicate_email_ignoring_case() {
    let app = spawn_app_signed_in().await;
    app.logout().await;

    let (status, html) = post_signup(
        &app,
        "bob",
        "ADA@Example.com",
        STRONG_PASSWORD,
        STRONG_PASSWORD,
    )
    .await;

    assert_eq!(status, 400);
    assert_eq!(
        field_error(&html, "email").as_deref(),
        Some("A user with that email address already exists.")
    );
    assert_form_kept(&html, "bob", "ADA@Example.com", &[STRONG_PASSWORD]);
    assert!(app.user_row("bob").is_none());
}

#[tokio::test]
async fn signup_rejects_weak_passwords() {
    let app = spawn_app().await;
    let too_long = format!("{STRONG_PASSWORD}-{}", "x".repeat(240));
    let cases = [
        ("ada", "ada@example.com", "", "This field is required."),
        (
            "ada",
            "ada@example.com",
            "ab1!xy",
            "This password is too short. It must contain at least 8 characters.",
        ),
        (
            "ada",
            "ada@example.com",
            too_long.as_str(),
            "This password is too long. Use at most 256 characters.",
        ),
        (
            "ada",
            "ada@example.com",
            "4815162342007",
            "This password is entirely numeric.",
        ),
        (
            "margaret",
            "ada@example.com",
            "margaret1974",
            "This password is too similar to your username.",
        ),
        (
            "ada",
            "maggie.smith@example.com",
            "maggie.smith!",
            "This password is too similar to your email address.",
        ),
        (
            "ada",
            "ada@example.com",
            "password123",
            "This password is too common. Choose one that is harder to guess.",
        ),
    ];

    for (username, email, password, expected) in cases {
        let (status, html) = post_signup(&app, username, email, password, password).await;

        assert_eq!(status, 400, "{password:?}");
        assert_eq!(
            field_error(&html, "password1").as_deref(),
            Some(expected),
            "{password:?}"
        );
        assert_eq!(field_error(&html, "username"), None, "{password:?}");
        assert_eq!(field_error(&html, "email"), None, "{password:?}");
        assert_form_kept(&html, username, email, &[password]);
    }
    assert!(app.user_row("ada").is_none(), "a user was created");
}

#[tokio::test]
async fn signup_rejects_mismatched_confirmation() {
    let app = spawn_app().await;
    let confirmation = "violet-lantern-88-orbiT";

    let (status, html) = post_signup(&app, USERNAME, EMAIL, STRONG_PASSWORD, confirmation).await;

    assert_eq!(status, 400);
    assert_eq!(
        field_error(&html, "password2").as_deref(),
        Some("The two password fields do not match.")
    );
    assert_eq!(field_error(&html, "password1"), None);
    assert_form_kept(&html, USERNAME, EMAIL, &[STRONG_PASSWORD, confirmation]);
}

#[tokio::test]
async fn signup_requires_confirmation() {
    let app = spawn_app().await;

    let (status, html) = post_signup(&app, USERNAME, EMAIL, STRONG_PASSWORD, "").await;

    assert_eq!(status, 400);
    assert_eq!(
        field_error(&html, "password2").as_deref(),
        Some("This field is required.")
    );
    assert_form_kept(&html, USERNAME, EMAIL, &[STRONG_PASSWORD]);
}

#[tokio::test]
async fn signup_reports_every_invalid_field_at_once() {
    let app = spawn_app().await;

    let (status, html) = post_signup(&app, "a b", "not-an-address", "short", "short").await;

    assert_eq!(status, 400);
    assert!(
        field_error(&html, "username").is_some(),
        "username error missing"
    );
    assert!(field_error(&html, "email").is_some(), "email error missing");
    assert!(
        field_error(&html, "password1").is_some(),
        "password error missing"
    );
}

#[tokio::test]
async fn signup_race_for_one_username_has_one_winner() {
    let app = spawn_app().await;
    let other = app.new_browser();

    let (first, second) = tokio::join!(
        app.signup("ada", "ada@example.com", STRONG_PASSWORD),
        other.signup("ADA", "ada.other@example.com", STRONG_PASSWORD),
    );

    let mut statuses = [first.status().as_u16(), second.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(
        statuses,
        [303, 400],
        "expected one sign-up to win and one to be rejected"
    );
    let loser = if first.status().as_u16() == 400 {
        first
    } else {
        second
    };
    let html = loser.text().await.expect("body");
    assert_eq!(
        field_error(&html, "username").as_deref(),
        Some("A user with that username already exists.")
    );
}

#[tokio::test]
async fn signup_race_for_one_email_has_one_winner() {
    let app = spawn_app().await;
    let other = app.new_browser();

    let (first, second) = tokio::join!(
        app.signup("ada", "ada@example.com", STRONG_PASSWORD),
        other.signup("grace", "ADA@example.com", STRONG_PASSWORD),
    );

    let mut statuses = [first.status().as_u16(), second.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(
        statuses,
        [303, 400],
        "expected one sign-up to win and one to be rejected"
    );
    let loser = if first.status().as_u16() == 400 {
        first
    } else {
        second
    };
    let html = loser.text().await.expect("body");
    assert_eq!(
        field_error(&html, "email").as_deref(),
        Some("A user with that email address already exists.")
    );
}

#[tokio::test]
async fn signup_rejects_invisible_letter_in_username() {
    let app = spawn_app().await;

    let (status, html) =
        post_signup(&app, "ada\u{3164}", EMAIL, STRONG_PASSWORD, STRONG_PASSWORD).await;

    assert_eq!(status, 400);
    // NFKC turns U+3164 into U+1160 before the check, so the message names either.
    let message = field_error(&html, "username").expect("username error");
    assert!(
        message.starts_with("This field contains an invisible or control character"),
        "{message}"
    );
    assert!(
        app.user_row("ada\u{1160}").is_none(),
        "the look-alike username was stored"
    );
}
