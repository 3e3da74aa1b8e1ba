use crate::helpers::{
    assert_csrf_rejected, assert_redirects_to, csrf_token, set_cookie_header, spawn_app,
    spawn_app_signed_in, spawn_app_with, status_and_html, Browser, EMAIL, SESSION_COOKIE,
    STRONG_PASSWORD, USERNAME,
};

/// A token of the right shape that no seed produced.
const FORGED_TOKEN: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// Returns the fields each form needs besides the token, valid so that only the token can fail.
fn form_fields(path: &str) -> Vec<(&'static str, &'static str)> {
    match path {
        "/accounts/signup/" => vec![
            ("username", "grace"),
            ("email", "grace@example.com"),
            ("password1", STRONG_PASSWORD),
            ("password2", STRONG_PASSWORD),
        ],
        "/accounts/login/" => vec![("username", USERNAME), ("password", STRONG_PASSWORD)],
        "/accounts/profile/" => vec![("first_name", "Forged"), ("time_zone", "UTC")],
        "/accounts/password/change/" => vec![
            ("old_password", STRONG_PASSWORD),
            ("new_password1", "copper-meadow-41-quill"),
            ("new_password2", "copper-meadow-41-quill"),
        ],
        _ => Vec::new(),
    }
}

/// Posts to `path` with `token` (or with no token field when `None`).
async fn post_with_token(browser: &Browser, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut fields = form_fields(path);
    if let Some(token) = token {
        fields.push(("csrfmiddlewaretoken", token));
    }
    browser.post_form(path, &fields).await
}

const ANONYMOUS_FORMS: [&str; 2] = ["/accounts/signup/", "/accounts/login/"];
const SIGNED_IN_FORMS: [&str; 3] = [
    "/accounts/logout/",
    "/accounts/profile/",
    "/accounts/password/change/",
];

#[tokio::test]
async fn csrf_missing_token_is_rejected() {
    let app = spawn_app_signed_in().await;
    let visitor = app.new_browser();
    visitor.get("/").await;

    for path in ANONYMOUS_FORMS {
        assert_csrf_rejected(post_with_token(&visitor, path, None).await, path).await;
    }
    for path in SIGNED_IN_FORMS {
        assert_csrf_rejected(post_with_token(&app, path, None).await, path).await;
    }

    assert!(
        app.user_row("grace").is_none(),
        "sign-up ran without a token"
    );
    assert!(
        visitor.session_cookie().is_none(),
        "log-in ran without a token"
    );
    assert_eq!(
        app.user_row(USERNAME).expect("auth_user row").first_name,
        "",
        "profile saved without a token"
    );
    assert_eq!(
        app.get("/accounts/profile/").await.status().as_u16(),
        200,
        "log-out ran without a token"
    );
}

#[tokio::test]
async fn csrf_wrong_token_is_rejected() {
    let app = spawn_app_signed_in().await;
    let visitor = app.new_browser();
    visitor.get("/").await;
    let hash_before = app.user_row(USERNAME).expect("auth_user row").password;

    for path in ANONYMOUS_FORMS {
        assert_csrf_rejected(
            post_with_token(&visitor, path, Some(FORGED_TOKEN)).await,
            path,
        )
        .await;
        assert_csrf_rejected(post_with_token(&visitor, path, Some("")).await, path).await;
    }
    for path in SIGNED_IN_FORMS {
        assert_csrf_rejected(post_with_token(&app, path, Some(FORGED_TOKEN)).await, path).await;
        assert_csrf_rejected(post_with_token(&app, path, Some("")).await, path).await;
    }

    assert!(
        app.user_row("grace").is_none(),
        "sign-up ran with a forged token"
    );
    assert!(
        visitor.session_cookie().is_none(),
        "log-in ran with a forged token"
    );
    let user = app.user_row(USERNAME).expect("auth_user row");
    assert_eq!(user.first_name, "", "profile saved with a forged token");
    assert_eq!(
        user.password, hash_before,
        "password changed with a forged token"
    );
    assert_eq!(
        app.get("/accounts/profile/").await.status().as_u16(),
        200,
        "log-out ran with a forged token"
    );
}

#[tokio::test]
async fn csrf_token_of_other_visitor_is_rejected() {
    let app = spawn_app().await;
    let other = app.new_browser();
    let others_token = csrf_token(&other.get_html("/accounts/signup/").await);
    app.get("/accounts/signup/").await;

    for path in ANONYMOUS_FORMS {
        let response = post_with_token(&app, path, Some(&others_token)).await;

        assert_csrf_rejected(response, path).await;
    }
}

#[tokio::test]
async fn csrf_token_of_other_session_is_rejected() {
    let app = spawn_app_signed_in().await;
    let other = app.new_browser();
    assert_redirects_to(
        &other.login(USERNAME, STRONG_PASSWORD).await,
        "/accounts/profile/",
    );
    let others_token = csrf_token(&other.get_html("/accounts/profile/").await);

    for path in SIGNED_IN_FORMS {
        let response = post_with_token(&app, path, Some(&others_token)).await;

        assert_csrf_rejected(response, path).await;
    }
}

#[tokio::test]
async fn csrf_token_from_before_login_is_rejected() {
    let app = spawn_app_signed_in().await;
    app.logout().await;
    let anonymous_token = csrf_token(&app.get_html("/accounts/login/").await);
    assert_redirects_to(
        &app.login(USERNAME, STRONG_PASSWORD).await,
        "/accounts/profile/",
    );

    let response = post_with_token(&app, "/accounts/profile/", Some(&anonymous_token)).await;

    assert_csrf_rejected(response, "/accounts/profile/").await;
}

#[tokio::test]
async fn csrf_token_survives_reload() {
    let app = spawn_app().await;
    let first = csrf_token(&app.get_html("/accounts/login/").await);

    let second = csrf_token(&app.get_html("/accounts/signup/").await);

    assert_eq!(
        first, second,
        "the token changed between two pages of one visit"
    );
}

#[tokio::test]
async fn session_cookie_is_http_only_and_lax() {
    let app = spawn_app_signed_in().await;
    app.logout().await;

    let response = app.login(USERNAME, STRONG_PASSWORD).await;

    let header =
        set_cookie_header(&response, SESSION_COOKIE).expect("log-in sets the session cookie");
    let attributes: Vec<String> = header
        .split(';')
        .map(|part| part.trim().to_ascii_lowercase())
        .collect();
    assert!(
        attributes.iter().any(|a| a == "httponly"),
        "not HttpOnly: {header}"
    );
    assert!(
        attributes.iter().any(|a| a == "samesite=lax"),
        "not SameSite=Lax: {header}"
    );
    assert!(
        attributes.iter().any(|a| a == "path=/"),
        "not for the whole site: {header}"
    );
    assert!(
        !attributes.iter().any(|a| a == "secure"),
        "Secure over plain http: {header}"
    );
}

/// Browsers drop a `Secure` cookie on any plain-http host but localhost, so the flash messages
/// of an http site must not be marked `Secure`.
#[tokio::test]
async fn flash_cookie_is_not_secure_over_http() {
    let app = spawn_app().await;

    let response = app.signup(USERNAME, EMAIL, STRONG_PASSWORD).await;

    let header = set_cookie_header(&response, "oauthapp_messages")
        .expect("sign-up sets the flash-message cookie");
    let lowered = header.to_ascii_lowercase();
    assert!(
        !lowered.contains("secure"),
        "Secure over plain http: {header}"
    );
    assert!(lowered.contains("httponly"), "not HttpOnly: {header}");
}

#[tokio::test]
async fn session_cookie_is_secure_for_https_site() {
    let app = spawn_app_with(vec![("PUBLIC_URL", "https://app.example".to_owned())]).await;

    let response = app.signup(USERNAME, EMAIL, STRONG_PASSWORD).await;

    let header =
        set_cookie_header(&response, SESSION_COOKIE).expect("sign-up sets the session cookie");
    let attributes: Vec<String> = header
        .split(';')
        .map(|part| part.trim().to_ascii_lowercase())
        .collect();
    assert!(
        attributes.iter().any(|a| a == "secure"),
        "not Secure: {header}"
    );
    let flash = set_cookie_header(&response, "oauthapp_messages")
        .expect("sign-up sets the flash-message cookie");
    assert!(
        flash.to_ascii_lowercase().contains("; secure"),
        "flash cookie not Secure: {flash}"
    );
}

#[tokio::test]
async fn session_cookie_holds_only_session_key() {
    let app = spawn_app_signed_in().await;

    let cookie = app.session_cookie().expect("session cookie");

    let rows = app.session_rows();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert!(
        cookie.contains(&row.session_key),
        "cookie does not carry the session key"
    );
    let signature_and_key = cookie.len() - row.session_key.len();
    assert!(
        signature_and_key <= 64,
        "cookie carries more than a key and a signature: {cookie}"
    );
    for user_data in [USERNAME, EMAIL, "user_id", "csrf"] {
        assert!(
            !cookie.contains(user_data),
            "cookie holds {user_data:?}: {cookie}"
        );
    }
    assert!(
        row.session_data.contains("user_id"),
        "session state not kept in the row"
    );
}

#[tokio::test]
async fn anonymous_pages_write_no_session() {
    let app = spawn_app().await;

    let responses = [
        app.get("/").await,
        app.get("/accounts/login/").await,
        app.get("/accounts/signup/").await,
        app.get("/accounts/login/?next=%2Faccounts%2Fprofile%2F")
            .await,
    ];
    let failed_login = app.login("nobody", STRONG_PASSWORD).await;

    for response in responses.iter().chain([&failed_login]) {
        assert!(
            set_cookie_header(response, SESSION_COOKIE).is_none(),
            "{} set a session cookie",
            response.url()
        );
    }
    assert!(app.session_rows().is_empty(), "a session row was written");
}

#[tokio::test]
async fn login_renews_session_id() {
    let app = spawn_app_signed_in().await;
    let first = app.session_cookie().expect("cookie after sign-up");

    let token = csrf_token(&app.get_html("/").await);
    let response = app
        .post_form(
            "/accounts/login/",
            &[
                ("username", USERNAME),
                ("password", STRONG_PASSWORD),
                ("csrfmiddlewaretoken", &token),
            ],
        )
        .await;

    assert_redirects_to(&response, "/accounts/profile/");
    let second = app.session_cookie().expect("cookie after log-in");
    assert_ne!(first, second, "log-in kept the session id");
    assert_eq!(app.session_rows().len(), 1, "the old session row was kept");
    let replay = app.browser_with_session_cookie(&first);
    let replayed = replay.get("/accounts/profile/").await;
    assert_redirects_to(&replayed, "/accounts/login/?next=%2Faccounts%2Fprofile%2F");
}

#[tokio::test]
async fn login_replaces_planted_session() {
    let app = spawn_app_signed_in().await;
    app.logout().await;
    let attacker = app.new_browser();
    assert_redirects_to(
        &attacker
            .signup("mallory", "mallory@example.com", STRONG_PASSWORD)
            .await,
        "/accounts/profile/",
    );
    let planted = attacker
        .session_cookie()
        .expect("attacker's session cookie");
    let victim = app.browser_with_session_cookie(&planted);
    let token = csrf_token(&victim.get_html("/").await);

    let response = victim
        .post_form(
            "/accounts/login/",
            &[
                ("username", USERNAME),
                ("password", STRONG_PASSWORD),
                ("csrfmiddlewaretoken", &token),
            ],
        )
        .await;

    assert_redirects_to(&response, "/accounts/profile/");
    let victims_cookie = victim.session_cookie().expect("victim's session cookie");
    assert_ne!(
        victims_cookie, planted,
        "log-in kept the planted session id"
    );
    let victim_page = victim.get_html("/accounts/profile/").await;
    assert!(
        victim_page.contains("<h1>ada</h1>"),
        "victim is not signed in as ada"
    );
    let attacker_view = attacker.get("/accounts/profile/").await;
    let (status, html) = status_and_html(attacker_view).await;
    assert!(
        !html.contains("<h1>ada</h1>"),
        "the planted cookie reaches ada's profile"
    );
    assert_eq!(status, 303, "the planted session still signs someone in");
}

#[tokio::test]
async fn expired_session_signs_out() {
    let app = spawn_app_signed_in().await;
    app.execute_sql("UPDATE outlook_oauth_app_session SET expire_date = '2000-01-01 00:00:00'");

    let response = app.get("/accounts/profile/").await;

    assert_redirects_to(&response, "/accounts/login/?next=%2Faccounts%2Fprofile%2F");
}

#[tokio::test]
async fn deactivated_user_is_signed_out() {
    let app = spawn_app_signed_in().await;
    app.execute_sql("UPDATE auth_user SET is_active = FALSE WHERE username = 'ada'");

    let response = app.get("/accounts/profile/").await;

    assert_redirects_to(&response, "/accounts/login/?next=%2Faccounts%2Fprofile%2F");
    assert!(
        app.session_rows().is_empty(),
        "the session of a deactivated user was kept"
    );
}

#[tokio::test]
async fn form_over_32_kib_is_rejected() {
    let app = spawn_app().await;
    let token = csrf_token(&app.get_html("/accounts/signup/").await);
    let long_name = "a".repeat(33 * 1024);

    let response = app
        .post_form(
            "/accounts/signup/",
            &[
                ("username", long_name.as_str()),
                ("email", EMAIL),
                ("password1", STRONG_PASSWORD),
                ("password2", STRONG_PASSWORD),
                ("csrfmiddlewaretoken", &token),
            ],
        )
        .await;

    let (status, html) = status_and_html(response).await;
    assert_eq!(status, 413);
    assert!(
        html.contains("<h1>Request too large</h1>"),
        "error page missing: {html}"
    );
    assert!(
        html.contains("class=\"nav\""),
        "error page lacks the site layout"
    );
    assert!(app.user_row(&long_name).is_none());
}

#[tokio::test]
async fn form_just_under_limit_is_read() {
    let app = spawn_app_signed_in().await;
    let token = csrf_token(&app.get_html("/accounts/profile/").await);
    // The bio is far over its own 500-character limit but the body stays under 32 KiB, so the
    // form is read and the field rule rejects it.
    let bio = "b".repeat(30 * 1024);

    let response = app
        .post_form(
            "/accounts/profile/",
            &[("bio", bio.as_str()), ("csrfmiddlewaretoken", &token)],
        )
        .await;

    assert_eq!(response.status().as_u16(), 400);
}

#[tokio::test]
async fn repeated_field_message_is_readable() {
    let app = spawn_app().await;
    let token = csrf_token(&app.get_html("/accounts/login/").await);
    let body = format!("username=a&username=b&password=c&csrfmiddlewaretoken={token}");

    let response = app
        .post_raw(
            "/accounts/login/",
            "application/x-www-form-urlencoded",
            body,
        )
        .await;
    let (status, html) = status_and_html(response).await;

    assert_eq!(status, 400);
    assert!(
        html.contains("The form could not be read (duplicate field `username`)"),
        "{html}"
    );
    assert!(!html.contains("Parse error"), "{html}");
}

#[tokio::test]
async fn malformed_form_bodies_get_error_page() {
    let app = spawn_app().await;
    let token = csrf_token(&app.get_html("/accounts/login/").await);
    let bodies = [
        "%zz".to_owned(),
        "%".to_owned(),
        format!("username=%zz&password=%&csrfmiddlewaretoken={token}"),
        format!("username=%FF%FE&password=%C0%AF&csrfmiddlewaretoken={token}"),
        format!("username=a&username=b&password=c&csrfmiddlewaretoken={token}"),
        "=&=&&&==".to_owned(),
        "username\0=\u{1}\u{2}".to_owned(),
    ];

    for body in bodies {
        let response = app
            .post_raw(
                "/accounts/login/",
                "application/x-www-form-urlencoded",
                body.clone(),
            )
            .await;

        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let html = response.text().await.expect("body");
        assert!((400..500).contains(&status), "{body:?}: status {status}");
        assert!(
            content_type.starts_with("text/html"),
            "{body:?}: content type {content_type}"
        );
        assert!(
            html.contains("class=\"nav\""),
            "{body:?}: page lacks the site layout"
        );
    }
}

#[tokio::test]
async fn wrong_content_type_gets_error_page() {
    let app = spawn_app().await;
    let token = csrf_token(&app.get_html("/accounts/login/").await);
    let body = format!("username=ada&password=x&csrfmiddlewaretoken={token}");

    for content_type in [
        "application/json",
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/xml",
    ] {
        let response = app
            .post_raw("/accounts/login/", content_type, body.clone())
            .await;

        let (status, html) = status_and_html(response).await;
        assert!(
            (400..500).contains(&status),
            "{content_type}: status {status}"
        );
        assert!(
            html.contains("class=\"nav\""),
            "{content_type}: page lacks the site layout"
        );
    }
    let without_type = app
        .client
        .post(app.url("/accounts/login/"))
        .body(body)
        .send()
        .await
        .expect("POST request");
    assert!(
        without_type.status().is_client_error(),
        "no content type: {}",
        without_type.status()
    );
}

#[tokio::test]
async fn unknown_path_gets_404_page() {
    let app = spawn_app().await;

    for path in ["/no/such/page", "/accounts/", "/static/missing.css"] {
        let (status, html) = status_and_html(app.get(path).await).await;

        assert_eq!(status, 404, "{path}");
        assert!(
            html.contains("<h1>Page not found</h1>"),
            "{path}: heading missing"
        );
        assert!(
            html.contains("class=\"nav\""),
            "{path}: page lacks the site navigation"
        );
        assert!(
            html.contains("href=\"/accounts/login/\""),
            "{path}: navigation lacks the log-in link"
        );
    }
}

#[tokio::test]
async fn malformed_query_gets_error_page() {
    let app = spawn_app().await;

    for path in [
        "/accounts/login/?next=%zz&next=b",
        "/accounts/login/?next=a&next=b",
    ] {
        let (status, html) = status_and_html(app.get(path).await).await;

        assert_eq!(status, 400, "{path}");
        assert!(
            html.contains("<h1>Bad request</h1>"),
            "{path}: heading missing"
        );
        assert!(
            html.contains("class=\"nav\""),
            "{path}: page lacks the site layout"
        );
    }
}

#[tokio::test]
async fn pages_forbid_framing() {
    let app = spawn_app_signed_in().await;

    for path in ["/accounts/profile/", "/accounts/password/change/", "/"] {
        let response = app.get(path).await;

        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_ascii_lowercase()
        };
        let frame_options = header("x-frame-options");
        let policy = header("content-security-policy");
        assert!(
            matches!(frame_options.as_str(), "deny" | "sameorigin")
                || policy.contains("frame-ancestors"),
            "{path}: no framing protection"
        );
    }
}

#[tokio::test]
async fn responses_forbid_content_sniffing() {
    let app = spawn_app().await;

    for path in ["/", "/accounts/login/", "/static/app.css", "/no/such/page"] {
        let response = app.get(path).await;

        let nosniff = response
            .headers()
            .get("x-content-type-options")
            .and_then(|v| v.to_str().ok());
        assert_eq!(nosniff, Some("nosniff"), "{path}");
    }
}
