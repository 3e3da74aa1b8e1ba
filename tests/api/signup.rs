use crate::helpers::{assert_redirects_to, field_error, spawn_app, STRONG_PASSWORD};

#[tokio::test]
async fn signup_creates_user_and_signs_in() {
    let app = spawn_app().await;

    let response = app.signup("ada", "ada@example.com", STRONG_PASSWORD).await;

    assert_redirects_to(&response, "/accounts/profile/");
    let profile = app.get_html("/accounts/profile/").await;
    assert!(profile.contains("Welcome, ada!"), "flash message missing");
    assert!(profile.contains("ada@example.com"));
}

#[tokio::test]
async fn signup_rejects_duplicate_username_ignoring_case() {
    let app = spawn_app().await;
    app.signup("ada", "ada@example.com", STRONG_PASSWORD).await;
    app.logout().await;

    let response = app.signup("ADA", "other@example.com", STRONG_PASSWORD).await;

    assert_eq!(response.status().as_u16(), 400);
    let html = response.text().await.expect("body");
    assert_eq!(
        field_error(&html, "username").as_deref(),
        Some("A user with that username already exists.")
    );
}
