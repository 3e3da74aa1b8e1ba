//! Random and hostile input to every form and query string: no response may be a 5xx.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::helpers::{csrf_token, spawn_app_signed_in, Browser, TestApp};

const FORMS: [&str; 6] = [
    "/accounts/signup/",
    "/accounts/login/",
    "/accounts/profile/",
    "/accounts/password/change/",
    "/accounts/logout/",
    "/accounts/outlook/disconnect/",
];

const FIELDS: [&str; 16] = [
    "username",
    "email",
    "password",
    "password1",
    "password2",
    "first_name",
    "last_name",
    "bio",
    "time_zone",
    "mobile_phone",
    "old_password",
    "new_password1",
    "new_password2",
    "next",
    "account_id",
    "csrfmiddlewaretoken",
];

const QUERIES: [&str; 4] = [
    "/accounts/login/?",
    "/accounts/outlook/login/?",
    "/accounts/outlook/callback/?",
    "/?",
];

/// Pieces of hostile values: encodings that do not decode, NUL and control bytes, invalid
/// UTF-8, markup, SQL, path tricks, and very long runs.
fn hostile_piece(rng: &mut StdRng) -> String {
    let pieces = [
        "%00",
        "%FF%FE",
        "%C3%28",
        "%zz",
        "%",
        "%%",
        "%2",
        "+",
        "&",
        "=",
        "==",
        "%0D%0A",
        "<script>alert(1)</script>",
        "' OR '1'='1",
        "\"; DROP TABLE auth_user; --",
        "../../etc/passwd",
        "//evil.example",
        "\\\\evil.example",
        "%E2%80%AE",
        "%EF%BB%BF",
        "ａｄｍｉｎ",
        "🙂",
        "\u{0}",
        "null",
        "-1",
        "99999999999999999999",
        "0x41",
        "{{7*7}}",
        "${jndi}",
    ];
    let piece = pieces[rng.gen_range(0..pieces.len())];
    if rng.gen_bool(0.05) {
        piece.repeat(rng.gen_range(100..5000))
    } else {
        piece.to_owned()
    }
}

fn hostile_value(rng: &mut StdRng) -> String {
    (0..rng.gen_range(0..6))
        .map(|_| hostile_piece(rng))
        .collect()
}

/// A urlencoded-looking body with random, repeated and missing fields; raw, so that broken
/// encodings reach the server as they are.
fn hostile_body(rng: &mut StdRng, token: &str) -> String {
    let mut pairs: Vec<String> = (0..rng.gen_range(0..10))
        .map(|_| {
            let field = FIELDS[rng.gen_range(0..FIELDS.len())];
            format!("{field}={}", hostile_value(rng))
        })
        .collect();
    if rng.gen_bool(0.7) {
        pairs.push(format!("csrfmiddlewaretoken={token}"));
    }
    pairs.join("&")
}

async fn assert_no_server_error(
    browser: &Browser,
    method: &str,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) {
    let request = match method {
        "GET" => browser.client.get(browser.url(path)),
        _ => browser
            .client
            .post(browser.url(path))
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body),
    };
    let shown: String = path.chars().take(200).collect();
    let response = match request.send().await {
        Ok(response) => response,
        // The client refuses to send some of these (an over-long URL); they never reach the
        // server, so there is nothing to check.
        Err(error) if error.is_builder() => return,
        Err(error) => panic!("{method} {shown}: the server did not answer: {error}"),
    };
    let status = response.status().as_u16();
    assert!(
        status < 500,
        "{method} {shown} ({content_type}) answered {status}"
    );
}

#[tokio::test]
async fn hostile_forms_and_queries_never_get_5xx() {
    let app: TestApp = spawn_app_signed_in().await;
    let token = csrf_token(&app.get_html("/accounts/profile/").await);
    let mut rng = StdRng::seed_from_u64(0x5eed_2026);

    for round in 0..300 {
        let path = FORMS[round % FORMS.len()];
        let content_type = match rng.gen_range(0..10) {
            0 => "application/json",
            1 => "multipart/form-data; boundary=x",
            2 => "text/plain",
            3 => "application/x-www-form-urlencoded; charset=latin1",
            _ => "application/x-www-form-urlencoded",
        };
        let body = if rng.gen_bool(0.1) {
            (0..rng.gen_range(0..2000))
                .map(|_| rng.gen::<u8>())
                .collect()
        } else {
            hostile_body(&mut rng, &token).into_bytes()
        };
        assert_no_server_error(&app, "POST", path, content_type, body).await;
    }

    for _ in 0..120 {
        let base = QUERIES[rng.gen_range(0..QUERIES.len())];
        let query: String = (0..rng.gen_range(1..5))
            .map(|_| {
                let field =
                    ["next", "code", "state", "error", "error_description"][rng.gen_range(0..5)];
                format!("{field}={}&", hostile_value(&mut rng))
            })
            .collect();
        let path = format!("{base}{query}");
        assert_no_server_error(&app, "GET", &path, "", Vec::new()).await;
    }

    // Some rounds post a valid log-out, so only the server's health is checked here.
    let home = app.get("/").await;
    assert_eq!(home.status().as_u16(), 200, "the server still serves pages");
}

#[tokio::test]
async fn huge_body_is_refused_with_413() {
    let app = spawn_app_signed_in().await;
    let body = format!("bio={}", "a".repeat(5 * 1024 * 1024));

    let response = app
        .client
        .post(app.url("/accounts/profile/"))
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(body)
        .send()
        .await
        .expect("the server answers");

    assert_eq!(response.status().as_u16(), 413);
}
