use crate::helpers::{
    assert_redirects_to, csrf_token, field_error, input_value, spawn_app, spawn_app_signed_in,
    status_and_html, TestApp, EMAIL, USERNAME,
};

/// Returns a valid profile form as (field, value) pairs.
fn valid_profile() -> Vec<(&'static str, String)> {
    vec![
        ("first_name", "Ada".to_owned()),
        ("last_name", "Lovelace".to_owned()),
        ("email", "ada.lovelace@example.com".to_owned()),
        (
            "bio",
            "Wrote the first program.\r\nLikes engines.".to_owned(),
        ),
        ("job_title", "Analyst".to_owned()),
        ("department", "Engines".to_owned()),
        ("office_location", "London".to_owned()),
        ("mobile_phone", "+44 20 7946 0958".to_owned()),
        ("time_zone", "Europe/London".to_owned()),
    ]
}

/// Returns [`valid_profile`] with `field` set to `value`.
fn profile_with(field: &str, value: &str) -> Vec<(&'static str, String)> {
    let mut fields = valid_profile();
    let slot = fields
        .iter_mut()
        .find(|(name, _)| *name == field)
        .expect("known profile field");
    slot.1 = value.to_owned();
    fields
}

/// Posts the profile form with a fresh CSRF token and returns the status and page.
async fn post_profile(app: &TestApp, fields: &[(&'static str, String)]) -> (u16, String) {
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect();
    status_and_html(app.save_profile(&pairs).await).await
}

/// Adds a second user, "bob", straight into the database, which needs no Argon2 run.
fn insert_bob(app: &TestApp) {
    app.execute_sql(
        "INSERT INTO auth_user (password, last_login, is_superuser, username, last_name, email, \
                                is_staff, is_active, date_joined, first_name) \
         VALUES ('!unusable', NULL, FALSE, 'bob', '', 'bob@example.com', FALSE, TRUE, '2024-01-01 00:00:00', '')",
    );
}

#[tokio::test]
async fn profile_page_requires_login() {
    let app = spawn_app().await;

    let response = app.get("/accounts/profile/").await;

    assert_redirects_to(&response, "/accounts/login/?next=%2Faccounts%2Fprofile%2F");
}

#[tokio::test]
async fn profile_page_shows_account() {
    let app = spawn_app_signed_in().await;

    let (status, html) = status_and_html(app.get("/accounts/profile/").await).await;

    assert_eq!(status, 200);
    assert!(html.contains("<h1>ada</h1>"), "username heading missing");
    assert_eq!(input_value(&html, "email").as_deref(), Some(EMAIL));
    assert_eq!(input_value(&html, "time_zone").as_deref(), Some("UTC"));
    assert!(
        html.contains("action=\"/accounts/logout/\""),
        "log-out button missing"
    );
}

/// Bytes that are not UTF-8 reach the form as U+FFFD; the field is rejected, not saved.
#[tokio::test]
async fn profile_rejects_invalid_utf8() {
    let app = spawn_app_signed_in().await;
    let token = csrf_token(&app.get_html("/accounts/profile/").await);
    let body = format!(
        "first_name=%FF%FE&last_name=&email=ada%40example.com&time_zone=UTC&csrfmiddlewaretoken={token}"
    );

    let response = app
        .post_raw(
            "/accounts/profile/",
            "application/x-www-form-urlencoded",
            body,
        )
        .await;
    let (status, html) = status_and_html(response).await;

    assert_eq!(status, 400);
    let message = field_error(&html, "first_name").unwrap_or_default();
    assert!(message.contains("not valid UTF-8"), "{message:?}");
    let user = app.user_row(USERNAME).expect("auth_user row");
    assert_eq!(user.first_name, "", "the damaged value was saved");
}

/// Django makes users without a profile row. Viewing the page writes nothing, and saving the
/// form creates the row.
#[tokio::test]
async fn profile_row_created_on_first_save() {
    let app = spawn_app_signed_in().await;
    let user = app.user_row(USERNAME).expect("auth_user row");
    app.execute_sql(&format!(
        "DELETE FROM outlook_oauth_app_userprofile WHERE user_id = {}",
        user.id
    ));

    let (status, html) = status_and_html(app.get("/accounts/profile/").await).await;
    let rows_after_view = app.profile_rows(user.id).len();
    let (saved, _) = post_profile(&app, &valid_profile()).await;
    let rows_after_save = app.profile_rows(user.id);

    assert_eq!(status, 200);
    assert_eq!(input_value(&html, "time_zone").as_deref(), Some("UTC"));
    assert_eq!(input_value(&html, "job_title").as_deref(), Some(""));
    assert_eq!(rows_after_view, 0, "viewing the page wrote a profile row");
    assert_eq!(saved, 303);
    assert_eq!(rows_after_save.len(), 1);
    assert_eq!(rows_after_save[0].job_title, "Analyst");
}

#[tokio::test]
async fn profile_save_stores_both_tables() {
    let app = spawn_app_signed_in().await;

    let (status, _) = post_profile(&app, &valid_profile()).await;

    assert_eq!(status, 303);
    let user = app.user_row(USERNAME).expect("auth_user row");
    assert_eq!(user.first_name, "Ada");
    assert_eq!(user.last_name, "Lovelace");
    assert_eq!(user.email, "ada.lovelace@example.com");
    let profiles = app.profile_rows(user.id);
    assert_eq!(profiles.len(), 1, "expected one profile row");
    let profile = &profiles[0];
    assert_eq!(profile.bio, "Wrote the first program.\nLikes engines.");
    assert_eq!(profile.job_title, "Analyst");
    assert_eq!(profile.department, "Engines");
    assert_eq!(profile.office_location, "London");
    assert_eq!(profile.mobile_phone, "+44 20 7946 0958");
    assert_eq!(profile.time_zone, "Europe/London");
}

#[tokio::test]
async fn profile_save_shows_flash_and_values() {
    let app = spawn_app_signed_in().await;
    post_profile(&app, &valid_profile()).await;

    let html = app.get_html("/accounts/profile/").await;

    assert!(
        html.contains("Your profile was saved."),
        "flash message missing"
    );
    assert_eq!(input_value(&html, "first_name").as_deref(), Some("Ada"));
    assert_eq!(
        input_value(&html, "time_zone").as_deref(),
        Some("Europe/London")
    );
    assert!(html.contains("Likes engines."), "bio missing");
}

#[tokio::test]
async fn profile_blank_time_zone_means_utc() {
    let app = spawn_app_signed_in().await;

    let (status, _) = post_profile(&app, &profile_with("time_zone", "")).await;

    assert_eq!(status, 303);
    let user = app.user_row(USERNAME).expect("auth_user row");
    assert_eq!(app.profile_rows(user.id)[0].time_zone, "UTC");
}

#[tokio::test]
async fn profile_accepts_fields_at_limit() {
    let app = spawn_app_signed_in().await;
    let email_at_limit = format!(
        "{}@{}.{}.{}.com",
        "a".repeat(64),
        "b".repeat(63),
        "c".repeat(63),
        "d".repeat(57)
    );
    assert_eq!(email_at_limit.chars().count(), 254);
    let mut fields = valid_profile();
    for (name, value) in fields.iter_mut() {
        *value = match *name {
            "first_name" | "last_name" => "é".repeat(150),
            "email" => email_at_limit.clone(),
            "bio" => "b".repeat(500),
            "job_title" | "department" | "office_location" => "j".repeat(100),
            "mobile_phone" => "1".repeat(32),
            _ => value.clone(),
        };
    }

    let (status, html) = post_profile(&app, &fields).await;

    assert_eq!(status, 303, "rejected: {html}");
    let user = app.user_row(USERNAME).expect("auth_user row");
    assert_eq!(user.first_name, "é".repeat(150));
    assert_eq!(user.email, email_at_limit);
}

#[tokio::test]
async fn profile_rejects_overlong_fields() {
    let app = spawn_app_signed_in().await;
    let long_email = format!("{}@example.com", "a".repeat(250));
    let cases = [
        ("first_name", "x".repeat(151), 150),
        ("last_name", "x".repeat(151), 150),
        ("email", long_email.clone(), 254),
        ("bio", "x".repeat(501), 500),
        ("job_title", "x".repeat(101), 100),
        ("department", "x".repeat(101), 100),
        ("office_location", "x".repeat(101), 100),
        ("mobile_phone", "1".repeat(33), 32),
        ("time_zone", "x".repeat(65), 64),
    ];

    for (field, value, limit) in cases {
        let (status, html) = post_profile(&app, &profile_with(field, &value)).await;

        assert_eq!(status, 400, "{field}");
        let expected = format!(
            "Use at most {limit} characters (it has {}).",
            value.chars().count()
        );
        assert_eq!(field_error(&html, field), Some(expected), "{field}");
        assert!(html.contains(&value), "{field}: entered value not kept");
    }
    let user = app.user_row(USERNAME).expect("auth_user row");
    assert_eq!(user.first_name, "", "a rejected form changed auth_user");
    assert_eq!(
        app.profile_rows(user.id)[0].time_zone,
        "UTC",
        "a rejected form changed the profile"
    );
}

#[tokio::test]
async fn profile_rejects_unknown_time_zone() {
    let app = spawn_app_signed_in().await;

    let (status, html) = post_profile(&app, &profile_with("time_zone", "Mars/Olympus")).await;

    assert_eq!(status, 400);
    assert_eq!(
        field_error(&html, "time_zone").as_deref(),
        Some("\"Mars/Olympus\" is not a known time zone. Use an IANA name such as Europe/Paris or America/New_York.")
    );
    assert_eq!(
        input_value(&html, "time_zone").as_deref(),
        Some("Mars/Olympus")
    );
}

#[tokio::test]
async fn profile_rejects_invalid_phone() {
    let app = spawn_app_signed_in().await;

    for phone in ["call me", "12", "44+20", "+44 20 7946 0958 ext. 2"] {
        let (status, html) = post_profile(&app, &profile_with("mobile_phone", phone)).await;

        assert_eq!(status, 400, "{phone:?}");
        assert_eq!(
            field_error(&html, "mobile_phone").as_deref(),
            Some("Enter a phone number of digits, such as +1 425 555 0100."),
            "{phone:?}"
        );
        assert_eq!(
            input_value(&html, "mobile_phone").as_deref(),
            Some(phone),
            "{phone:?}"
        );
    }
}

#[tokio::test]
async fn profile_rejects_invalid_email() {
    let app = spawn_app_signed_in().await;

    let (status, html) = post_profile(&app, &profile_with("email", "ada-at-example.com")).await;

    assert_eq!(status, 400);
    assert_eq!(
        field_error(&html, "email").as_deref(),
        Some("Enter a valid email address, such as name@example.com.")
    );
}

#[tokio::test]
async fn profile_rejects_email_of_other_user() {
    let app = spawn_app_signed_in().await;
    insert_bob(&app);

    let (status, html) = post_profile(&app, &profile_with("email", "BOB@example.com")).await;

    assert_eq!(status, 400);
    assert_eq!(
        field_error(&html, "email").as_deref(),
        Some("A user with that email address already exists.")
    );
    assert_eq!(app.user_row(USERNAME).expect("auth_user row").email, EMAIL);
}

#[tokio::test]
async fn profile_keeps_own_email_in_other_case() {
    let app = spawn_app_signed_in().await;

    let (status, _) = post_profile(&app, &profile_with("email", "ADA@example.com")).await;

    assert_eq!(status, 303);
    assert_eq!(
        app.user_row(USERNAME).expect("auth_user row").email,
        "ADA@example.com"
    );
}

#[tokio::test]
async fn profile_rejects_invisible_characters() {
    let app = spawn_app_signed_in().await;
    let cases = [
        ("first_name", "Ada\u{200B}", "U+200B"),
        ("last_name", "Love\u{202E}ecalevol", "U+202E"),
        ("first_name", "A\u{7}da", "U+0007"),
        ("job_title", "\u{FEFF}Analyst", "U+FEFF"),
        ("department", "Eng\u{00AD}ines", "U+00AD"),
        ("bio", "Line one\u{0}", "U+0000"),
        ("first_name", "Ada\u{3164}", "U+3164"),
        ("last_name", "\u{2800}", "U+2800"),
        ("office_location", "London\u{E0041}", "U+E0041"),
    ];

    for (field, value, code_point) in cases {
        let (status, html) = post_profile(&app, &profile_with(field, value)).await;

        assert_eq!(status, 400, "{field}: {value:?}");
        let expected = format!(
            "This field contains an invisible or control character ({code_point}); remove it."
        );
        assert_eq!(
            field_error(&html, field),
            Some(expected),
            "{field}: {value:?}"
        );
    }
    assert_eq!(
        app.user_row(USERNAME).expect("auth_user row").first_name,
        ""
    );
}

#[tokio::test]
async fn profile_error_keeps_other_values() {
    let app = spawn_app_signed_in().await;

    let (status, html) = post_profile(&app, &profile_with("time_zone", "Nowhere/Land")).await;

    assert_eq!(status, 400);
    assert_eq!(input_value(&html, "first_name").as_deref(), Some("Ada"));
    assert_eq!(
        input_value(&html, "email").as_deref(),
        Some("ada.lovelace@example.com")
    );
    assert_eq!(
        input_value(&html, "mobile_phone").as_deref(),
        Some("+44 20 7946 0958")
    );
    assert!(html.contains("Likes engines."), "bio not kept");
    assert_eq!(field_error(&html, "first_name"), None);
}

#[tokio::test]
async fn profile_escapes_markup_in_names() {
    let app = spawn_app_signed_in().await;
    let markup = "<script>alert(1)</script>";

    post_profile(&app, &profile_with("first_name", markup)).await;

    let html = app.get_html("/accounts/profile/").await;
    assert!(!html.contains(markup), "markup rendered unescaped");
    assert_eq!(input_value(&html, "first_name").as_deref(), Some(markup));
    assert_eq!(
        app.user_row(USERNAME).expect("auth_user row").first_name,
        markup
    );
}
