use crate::helpers::{
    assert_redirects_to, set_cookie_header, spawn_app, spawn_app_signed_in, status_and_html,
    SESSION_COOKIE, STRONG_PASSWORD, USERNAME,
};

#[tokio::test]
async fn logout_redirects_home_with_flash() {
    let app = spawn_app_signed_in().await;

    let response = app.logout().await;

    assert_redirects_to(&response, "/");
    let html = app.get_html("/").await;
    assert!(
        html.contains("You have been logged out."),
        "flash message missing"
    );
    assert!(
        html.contains("href=\"/accounts/login/\""),
        "navigation still shows a signed-in user"
    );
}

#[tokio::test]
async fn logout_ends_session_for_replayed_cookie() {
    let app = spawn_app_signed_in().await;
    let old_cookie = app.session_cookie().expect("session cookie after sign-up");
    assert_eq!(app.session_rows().len(), 1);

    app.logout().await;

    let replay = app.browser_with_session_cookie(&old_cookie);
    let response = replay.get("/accounts/profile/").await;
    assert_redirects_to(&response, "/accounts/login/?next=%2Faccounts%2Fprofile%2F");
    assert!(
        app.session_rows().is_empty(),
        "session row survived log-out"
    );
}

#[tokio::test]
async fn logout_removes_session_cookie() {
    let app = spawn_app_signed_in().await;

    let response = app.logout().await;

    let header =
        set_cookie_header(&response, SESSION_COOKIE).expect("log-out sets the session cookie");
    assert!(
        header.contains("Max-Age=0") || header.contains("1970"),
        "cookie not expired: {header}"
    );
    assert!(
        app.session_cookie().is_none(),
        "browser still holds the session cookie"
    );
}

#[tokio::test]
async fn logout_leaves_other_sessions_alone() {
    let app = spawn_app_signed_in().await;
    let laptop = app.new_browser();
    laptop.login(USERNAME, STRONG_PASSWORD).await;

    app.logout().await;

    let response = laptop.get("/accounts/profile/").await;
    assert_eq!(
        response.status().as_u16(),
        200,
        "log-out in one browser ended another's session"
    );
}

#[tokio::test]
async fn logout_by_get_is_not_allowed() {
    let app = spawn_app_signed_in().await;

    let (status, html) = status_and_html(app.get("/accounts/logout/").await).await;

    assert_eq!(status, 405);
    assert!(
        html.contains("<h1>Method not allowed</h1>"),
        "error page missing: {html}"
    );
    assert!(
        html.contains("class=\"nav\""),
        "error page lacks the site layout"
    );
    let profile = app.get("/accounts/profile/").await;
    assert_eq!(profile.status().as_u16(), 200, "GET signed the user out");
}

#[tokio::test]
async fn logout_when_signed_out_redirects_home() {
    let app = spawn_app().await;

    let response = app
        .submit("/accounts/login/", "/accounts/logout/", &[])
        .await;

    assert_redirects_to(&response, "/");
    assert!(app.session_rows().is_empty());
}
