//! The profile page's list of signed-in sessions, signing out of the others, and idle expiry.

use crate::helpers::{assert_redirects_to, spawn_app, spawn_app_with, STRONG_PASSWORD};

#[tokio::test]
async fn profile_lists_each_signed_in_session() {
    let app = spawn_app().await;
    app.signup("ada", "ada@example.com", STRONG_PASSWORD).await;
    let phone = app.new_browser();
    phone.login("ada", STRONG_PASSWORD).await;

    let page = app.get_html("/accounts/profile/").await;

    assert!(page.contains("Signed-in sessions"));
    assert_eq!(
        page.matches("<tr>").count(),
        3,
        "a header row and two sessions"
    );
    assert_eq!(page.matches("(this browser)").count(), 1);
    assert!(page.contains("127.0.0.1"), "the address is shown");
    assert!(page.contains("Sign out of all other sessions"));
}

#[tokio::test]
async fn sign_out_of_others_keeps_this_browser() {
    let app = spawn_app().await;
    app.signup("ada", "ada@example.com", STRONG_PASSWORD).await;
    let other = app.new_browser();
    other.login("ada", STRONG_PASSWORD).await;
    assert_eq!(other.get("/accounts/profile/").await.status().as_u16(), 200);

    let response = app
        .submit(
            "/accounts/profile/",
            "/accounts/sessions/sign-out-others/",
            &[],
        )
        .await;

    assert_redirects_to(&response, "/accounts/profile/");
    assert_eq!(app.get("/accounts/profile/").await.status().as_u16(), 200);
    assert_redirects_to(
        &other.get("/accounts/profile/").await,
        "/accounts/login/?next=%2Faccounts%2Fprofile%2F",
    );
    assert_eq!(app.session_rows().len(), 1);
}

#[tokio::test]
async fn sign_out_of_others_needs_csrf_token() {
    let app = spawn_app().await;
    app.signup("ada", "ada@example.com", STRONG_PASSWORD).await;

    let response = app
        .post_form("/accounts/sessions/sign-out-others/", &[])
        .await;

    assert_eq!(response.status().as_u16(), 403);
}

#[tokio::test]
async fn idle_session_ends() {
    let app = spawn_app_with(vec![("SESSION_IDLE_TIMEOUT", "600".to_owned())]).await;
    app.signup("ada", "ada@example.com", STRONG_PASSWORD).await;
    assert_eq!(app.get("/accounts/profile/").await.status().as_u16(), 200);

    app.execute_sql("UPDATE outlook_oauth_app_session SET updated_at = '2000-01-01 00:00:00'");

    assert_redirects_to(
        &app.get("/accounts/profile/").await,
        "/accounts/login/?next=%2Faccounts%2Fprofile%2F",
    );
}
