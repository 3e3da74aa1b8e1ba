//! Per-account throttling of failed log-ins.

use crate::helpers::{assert_redirects_to, spawn_app, spawn_app_with, TestApp, STRONG_PASSWORD};

const WRONG: &str = "not-the-password-77";

async fn fail_times(app: &TestApp, login: &str, times: usize) {
    for _ in 0..times {
        let response = app.login(login, WRONG).await;
        assert_eq!(
            response.status().as_u16(),
            400,
            "a failure before the limit"
        );
    }
}

#[tokio::test]
async fn five_failures_pause_the_account() {
    let app = spawn_app().await;
    app.signup("ada", "ada@example.com", STRONG_PASSWORD).await;
    app.logout().await;
    fail_times(&app, "ada", 5).await;

    let response = app.login("ada", STRONG_PASSWORD).await;

    assert_eq!(
        response.status().as_u16(),
        429,
        "the right password must wait too"
    );
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After header in seconds");
    assert!(retry_after > 0 && retry_after <= 900, "{retry_after}");
    let html = response.text().await.expect("body");
    assert!(html.contains("Too many failed log-ins"), "{html}");
    assert!(html.contains("Try again in"), "{html}");
    assert_eq!(app.get("/accounts/profile/").await.status().as_u16(), 303);
}

#[tokio::test]
async fn unknown_login_is_paused_alike() {
    let app = spawn_app().await;
    fail_times(&app, "nobody-here", 5).await;

    let response = app.login("nobody-here", WRONG).await;

    assert_eq!(response.status().as_u16(), 429);
    let html = response.text().await.expect("body");
    assert!(html.contains("Too many failed log-ins"));
}

#[tokio::test]
async fn case_variants_count_together() {
    let app = spawn_app().await;
    app.signup("ada", "ada@example.com", STRONG_PASSWORD).await;
    app.logout().await;
    for login in ["ada", "ADA", "Ada", "aDa", "adA"] {
        app.login(login, WRONG).await;
    }

    let response = app.login("ada", STRONG_PASSWORD).await;

    assert_eq!(response.status().as_u16(), 429);
}

#[tokio::test]
async fn success_resets_the_count() {
    let app = spawn_app().await;
    app.signup("ada", "ada@example.com", STRONG_PASSWORD).await;
    app.logout().await;
    fail_times(&app, "ada", 4).await;
    assert_redirects_to(
        &app.login("ada", STRONG_PASSWORD).await,
        "/accounts/profile/",
    );
    app.logout().await;
    fail_times(&app, "ada", 4).await;

    let response = app.login("ada", STRONG_PASSWORD).await;

    assert_redirects_to(&response, "/accounts/profile/");
}

#[tokio::test]
async fn failure_limit_is_configurable() {
    let app = spawn_app_with(vec![("LOGIN_FAILURE_LIMIT", "2".to_owned())]).await;
    fail_times(&app, "someone", 2).await;

    let response = app.login("someone", WRONG).await;

    assert_eq!(response.status().as_u16(), 429);
}

#[tokio::test]
async fn client_rate_limit_answers_429() {
    let app = spawn_app_with(vec![
        ("RATE_LIMIT_PER_MINUTE", "1".to_owned()),
        ("RATE_LIMIT_BURST", "2".to_owned()),
    ])
    .await;
    fail_times(&app, "someone", 2).await;

    let limited = app.login("someone-else", WRONG).await;
    let page = app.get("/accounts/login/").await;

    assert_eq!(limited.status().as_u16(), 429);
    assert!(limited.headers().get("retry-after").is_some());
    let html = limited.text().await.expect("body");
    assert!(html.contains("Too many requests"), "{html}");
    assert_eq!(page.status().as_u16(), 200, "plain pages are not limited");
}
