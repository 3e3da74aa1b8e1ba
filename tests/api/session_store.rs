//! The database session store: expiry, purging, cookie attributes that depend on settings.

use outlook_oauth_app::db::models::SessionRow;
use outlook_oauth_app::db::Database;

use crate::helpers::{assert_redirects_to, set_cookie_header, spawn_app_with, STRONG_PASSWORD};

#[tokio::test]
async fn https_public_url_makes_cookies_secure() {
    let app = spawn_app_with(vec![(
        "PUBLIC_URL",
        "https://accounts.example.com".to_owned(),
    )])
    .await;

    let response = app.signup("ada", "ada@example.com", STRONG_PASSWORD).await;

    let cookie = set_cookie_header(&response, "oauthapp_sessionid").expect("session cookie");
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    let hsts = response.headers().get("strict-transport-security");
    assert_eq!(hsts.and_then(|v| v.to_str().ok()), Some("max-age=31536000"));
}

#[tokio::test]
async fn session_cookie_age_is_configurable() {
    let app = spawn_app_with(vec![("SESSION_COOKIE_AGE", "600".to_owned())]).await;

    let response = app.signup("ada", "ada@example.com", STRONG_PASSWORD).await;

    let cookie = set_cookie_header(&response, "oauthapp_sessionid").expect("session cookie");
    assert!(cookie.contains("Max-Age=600"), "{cookie}");
}

#[tokio::test]
async fn expired_session_signs_nobody_in_and_is_purged() {
    let app = spawn_app_with(vec![]).await;
    app.signup("ada", "ada@example.com", STRONG_PASSWORD).await;
    app.execute_sql("UPDATE outlook_oauth_app_session SET expire_date = '2000-01-01 00:00:00'");

    let profile = app.get("/accounts/profile/").await;
    let db = Database::connect(&app.database_url).expect("pool");
    let purged = db.run(SessionRow::purge_expired).await.expect("purge");

    assert_redirects_to(&profile, "/accounts/login/?next=%2Faccounts%2Fprofile%2F");
    assert_eq!(purged, 1);
    assert!(app.session_rows().is_empty());
}
