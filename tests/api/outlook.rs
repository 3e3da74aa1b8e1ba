//! Sign-in with Outlook through the app's real routes, against the test identity provider.

use diesel::sql_types::{Integer, Text};
use diesel::QueryableByName;
use reqwest::Response;

use crate::helpers::{
    assert_redirects_to, csrf_token, location, spawn_app, spawn_app_with, Browser, TestApp, Vars,
    STRONG_PASSWORD,
};
use crate::idp::{Fault, IdpAccount, TestIdp, PERSONAL_ACCOUNTS_TENANT_ID};

const WORK_TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/// An app configured against `idp`, with `extra` settings on top.
async fn spawn_outlook_app(idp: &TestIdp, extra: Vars) -> TestApp {
    let mut vars: Vars = vec![
        ("OUTLOOK_CLIENT_ID", TestIdp::CLIENT_ID.to_owned()),
        ("OUTLOOK_CLIENT_SECRET", TestIdp::CLIENT_SECRET.to_owned()),
        ("OUTLOOK_AUTHORITY", idp.authority()),
        ("OUTLOOK_HTTP_TIMEOUT", "2".to_owned()),
    ];
    vars.extend(extra);
    spawn_app_with(vars).await
}

/// Follows the whole flow as a browser would: start, Microsoft's authorize endpoint, and back to
/// the callback. Returns the callback's response.
async fn outlook_sign_in(browser: &Browser) -> Response {
    let start = browser.get("/accounts/outlook/login/").await;
    assert_eq!(
        start.status().as_u16(),
        303,
        "start should redirect to Microsoft"
    );
    let authorize_url = location(&start).expect("authorize URL").to_owned();

    let authorize = browser
        .client
        .get(&authorize_url)
        .send()
        .await
        .expect("authorize request");
    assert_eq!(
        authorize.status().as_u16(),
        302,
        "the provider should redirect back"
    );
    let callback_url = location(&authorize).expect("callback URL").to_owned();
    assert!(
        callback_url.starts_with(&browser.url("/accounts/outlook/callback/")),
        "callback goes to PUBLIC_URL: {callback_url}"
    );

    browser
        .client
        .get(&callback_url)
        .send()
        .await
        .expect("callback request")
}

#[derive(QueryableByName, Debug)]
struct AccountRow {
    #[diesel(sql_type = Integer)]
    user_id: i32,
    #[diesel(sql_type = Text)]
    tenant_id: String,
    #[diesel(sql_type = Text)]
    object_id: String,
    #[diesel(sql_type = Text)]
    email: String,
    #[diesel(sql_type = Text)]
    display_name: String,
    #[diesel(sql_type = Text)]
    access_token: String,
    #[diesel(sql_type = Text)]
    refresh_token: String,
    #[diesel(sql_type = Text)]
    token_expires_at: String,
    #[diesel(sql_type = Text)]
    scopes: String,
}

#[derive(QueryableByName, Debug)]
struct UserRow {
    #[diesel(sql_type = Integer)]
    id: i32,
    #[diesel(sql_type = Text)]
    username: String,
    #[diesel(sql_type = Text)]
    email: String,
    #[diesel(sql_type = Text)]
    password: String,
    #[diesel(sql_type = Text)]
    first_name: String,
    #[diesel(sql_type = Text)]
    last_name: String,
}

fn accounts(app: &TestApp) -> Vec<AccountRow> {
    app.db().load(
        "SELECT user_id, tenant_id, object_id, email, display_name, access_token, refresh_token, \
         token_expires_at, scopes FROM outlook_oauth_app_outlookaccount ORDER BY id",
    )
}

fn users(app: &TestApp) -> Vec<UserRow> {
    app.db().load(
        "SELECT id, username, email, password, first_name, last_name FROM auth_user ORDER BY id",
    )
}

fn profile_count(app: &TestApp, user_id: i32) -> usize {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = Integer)]
        count: i32,
    }
    let rows: Vec<Count> = app.db().load(&format!(
        "SELECT CAST(COUNT(*) AS INTEGER) AS count FROM outlook_oauth_app_userprofile \
         WHERE user_id = {user_id}"
    ));
    rows[0].count as usize
}

async fn is_signed_in(browser: &Browser) -> bool {
    browser.get("/accounts/profile/").await.status().as_u16() == 200
}

async fn page_of(response: Response) -> (u16, String) {
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

#[tokio::test]
async fn first_sign_in_creates_user_profile_and_account() {
    let idp = TestIdp::start().await;
    let app = spawn_outlook_app(&idp, vec![]).await;
    let grace = IdpAccount::work(WORK_TENANT, "Grace Hopper", "grace.hopper@contoso.example");
    idp.sign_in_as(grace.clone());

    let response = outlook_sign_in(&app).await;

    assert_redirects_to(&response, "/accounts/profile/");
    let users = users(&app);
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].username, "grace.hopper");
    assert_eq!(users[0].email, "grace.hopper@contoso.example");
    assert!(
        users[0].password.starts_with('!'),
        "an Outlook user has an unusable password"
    );
    assert_eq!(
        (users[0].first_name.as_str(), users[0].last_name.as_str()),
        ("Grace", "Hopper")
    );
    assert_eq!(profile_count(&app, users[0].id), 1);

    let accounts = accounts(&app);
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].user_id, users[0].id);
    assert_eq!(accounts[0].tenant_id, WORK_TENANT);
    assert_eq!(accounts[0].object_id, grace.oid);
    assert_eq!(accounts[0].display_name, "Grace Hopper");
    assert!(is_signed_in(&app).await);
}

#[tokio::test]
async fn tokens_are_stored_sealed() {
    let idp = TestIdp::start().await;
    let app = spawn_outlook_app(&idp, vec![]).await;

    outlook_sign_in(&app).await;

    let account = &accounts(&app)[0];
    for sealed in [
        &account.access_token,
        &account.refresh_token,
        &account.token_expires_at,
        &account.scopes,
    ] {
        assert!(sealed.starts_with("v1:"), "not sealed: {sealed}");
        assert!(
            !sealed.contains("User.Read"),
            "scopes readable in the database"
        );
        assert!(
            !sealed.contains('.'),
            "looks like a plain JWT or date: {sealed}"
        );
    }
}

#[tokio::test]
async fn second_sign_in_reuses_user() {
    let idp = TestIdp::start().await;
    let app = spawn_outlook_app(&idp, vec![]).await;
    outlook_sign_in(&app).await;
    app.logout().await;

    let response = outlook_sign_in(&app).await;

    assert_redirects_to(&response, "/accounts/profile/");
    assert_eq!(users(&app).len(), 1);
    assert_eq!(accounts(&app).len(), 1);
    let page = app.get_html("/accounts/profile/").await;
    assert!(
        page.contains("Welcome back"),
        "second sign-in greets the returning user"
    );
}

#[tokio::test]
async fn profile_shows_tenant_kind() {
    let idp = TestIdp::start().await;
    let app = spawn_outlook_app(&idp, vec![]).await;
    app.signup("ada", "ada@example.com", STRONG_PASSWORD).await;

    idp.sign_in_as(IdpAccount::personal("Ada Home", "ada@outlook.com"));
    outlook_sign_in(&app).await;
    idp.sign_in_as(IdpAccount::work(
        WORK_TENANT,
        "Ada Work",
        "ada@contoso.example",
    ));
    outlook_sign_in(&app).await;

    let page = app.get_html("/accounts/profile/").await;
    assert!(page.contains("Ada Home"));
    assert!(page.contains("Personal account"));
    assert!(page.contains("Ada Work"));
    assert!(page.contains("Work or school account"));
    assert_eq!(accounts(&app).len(), 2);
}

#[tokio::test]
async fn missing_email_claim_still_signs_in() {
    let idp = TestIdp::start().await;
    let app = spawn_outlook_app(&idp, vec![]).await;
    idp.sign_in_as(
        IdpAccount::work(WORK_TENANT, "No Mail", "nomail@contoso.example").without_email(),
    );

    let response = outlook_sign_in(&app).await;

    assert_redirects_to(&response, "/accounts/profile/");
    let users = users(&app);
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].email, "");
    assert_eq!(accounts(&app)[0].email, "");
}

#[tokio::test]
async fn same_email_on_new_account_makes_new_user() {
    let idp = TestIdp::start().await;
    let app = spawn_outlook_app(&idp, vec![]).await;
    app.signup("victim", "shared@example.com", STRONG_PASSWORD)
        .await;
    app.logout().await;
    let attacker = app.new_browser();
    idp.sign_in_as(IdpAccount::work(
        WORK_TENANT,
        "Mallory",
        "shared@example.com",
    ));

    let response = outlook_sign_in(&attacker).await;

    assert_redirects_to(&response, "/accounts/profile/");
    let page = attacker.get_html("/accounts/profile/").await;
    assert!(
        page.contains("connect Outlook from its profile page"),
        "no hint about linking"
    );
    assert!(!page.contains("victim"), "signed in to the existing user");
    let users = users(&app);
    assert_eq!(users.len(), 2);
    assert_eq!(
        users[1].email, "",
        "the new user must not share the address"
    );
    assert_eq!(accounts(&app)[0].user_id, users[1].id);
    let login = app.login("shared@example.com", STRONG_PASSWORD).await;
    assert_redirects_to(&login, "/accounts/profile/");
}

#[tokio::test]
async fn two_accounts_with_same_email_stay_two_users() {
    let idp = TestIdp::start().await;
    let app = spawn_outlook_app(&idp, vec![]).await;
    idp.sign_in_as(IdpAccount::work(WORK_TENANT, "First", "same@example.com"));
    outlook_sign_in(&app).await;
    let other = app.new_browser();
    idp.sign_in_as(IdpAccount::work(
        "11111111-2222-4333-8444-555555555555",
        "Second",
        "same@example.com",
    ));

    outlook_sign_in(&other).await;

    let users = users(&app);
    assert_eq!(users.len(), 2);
    let accounts = accounts(&app);
    assert_ne!(accounts[0].user_id, accounts[1].user_id);
    assert_ne!(users[0].username, users[1].username);
}

#[tokio::test]
async fn signed_in_user_links_and_unlinks_account() {
    let idp = TestIdp::start().await;
    let app = spawn_outlook_app(&idp, vec![]).await;
    app.signup("ada", "ada@example.com", STRONG_PASSWORD).await;
    idp.sign_in_as(IdpAccount::personal("Ada", "ada@outlook.com"));

    let linked = outlook_sign_in(&app).await;

    assert_redirects_to(&linked, "/accounts/profile/");
    let users = users(&app);
    assert_eq!(users.len(), 1);
    assert_eq!(accounts(&app)[0].user_id, users[0].id);
    let page = app.get_html("/accounts/profile/").await;
    assert!(page.contains("Your Microsoft account is now linked"));

    let account_id = first_account_id(&app);
    let unlinked = app
        .submit(
            "/accounts/profile/",
            "/accounts/outlook/disconnect/",
            &[("account_id", &account_id)],
        )
        .await;

    assert_redirects_to(&unlinked, "/accounts/profile/");
    assert!(accounts(&app).is_empty());
}

fn first_account_id(app: &TestApp) -> String {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = Integer)]
        id: i32,
    }
    let ids: Vec<Id> = app
        .db()
        .load("SELECT id FROM outlook_oauth_app_outlookaccount ORDER BY id");
    ids[0].id.to_string()
}

#[tokio::test]
async fn linking_account_of_another_user_is_refused() {
    let idp = TestIdp::start().await;
    let app = spawn_outlook_app(&idp, vec![]).await;
    let owner = app.new_browser();
    outlook_sign_in(&owner).await;
    app.signup("ada", "ada@example.com", STRONG_PASSWORD).await;

    let (status, page) = page_of(outlook_sign_in(&app).await).await;

    assert_eq!(status, 409);
    assert!(page.contains("linked to another user"));
    assert_eq!(accounts(&app).len(), 1);
    assert!(is_signed_in(&app).await, "the linking user stays signed in");
}

#[tokio::test]
async fn unlinking_last_sign_in_method_is_refused() {
    let idp = TestIdp::start().await;
    let app = spawn_outlook_app(&idp, vec![]).await;
    outlook_sign_in(&app).await;
    let account_id = first_account_id(&app);

    let refused = app
        .submit(
            "/accounts/profile/",
            "/accounts/outlook/disconnect/",
            &[("account_id", &account_id)],
        )
        .await;

    let (status, page) = page_of(refused).await;
    assert_eq!(status, 409);
    assert!(page.contains("Set a password first"));
    assert_eq!(accounts(&app).len(), 1);

    let set = app
        .submit(
            "/accounts/password/change/",
            "/accounts/password/change/",
            &[
                ("new_password1", STRONG_PASSWORD),
                ("new_password2", STRONG_PASSWORD),
            ],
        )
        .await;
    assert_redirects_to(&set, "/accounts/profile/");
    let allowed = app
        .submit(
            "/accounts/profile/",
            "/accounts/outlook/disconnect/",
            &[("account_id", &account_id)],
        )
        .await;
    assert_redirects_to(&allowed, "/accounts/profile/");
    assert!(accounts(&app).is_empty());
}

#[tokio::test]
async fn disconnect_needs_csrf_token() {
    let idp = TestIdp::start().await;
    let app = spawn_outlook_app(&idp, vec![]).await;
    outlook_sign_in(&app).await;
    let account_id = first_account_id(&app);

    let response = app
        .post_form(
            "/accounts/outlook/disconnect/",
            &[("account_id", &account_id)],
        )
        .await;

    assert_eq!(response.status().as_u16(), 403);
    assert_eq!(accounts(&app).len(), 1);
}

#[tokio::test]
async fn key_rotation_refetches_keys_once() {
    let idp = TestIdp::start().await;
    let app = spawn_outlook_app(&idp, vec![]).await;
    outlook_sign_in(&app).await;
    app.logout().await;
    let fetches_before = idp.jwks_requests();
    idp.rotate_key();

    let response = outlook_sign_in(&app).await;

    assert_redirects_to(&response, "/accounts/profile/");
    assert_eq!(idp.jwks_requests(), fetches_before + 1);
    assert_eq!(idp.discovery_requests(), 1, "discovery is cached");
}

#[tokio::test]
async fn unknown_key_fails_after_one_refetch() {
    let idp = TestIdp::start().await;
    let app = spawn_outlook_app(&idp, vec![]).await;
    idp.inject(Fault::UnknownKey);

    let (first_status, _) = page_of(outlook_sign_in(&app).await).await;
    let fetches_after_first = idp.jwks_requests();
    let (second_status, page) = page_of(outlook_sign_in(&app).await).await;

    assert_eq!(first_status, 400);
    assert_eq!(second_status, 400);
    assert_eq!(fetches_after_first, 2, "initial fetch plus one refresh");
    assert_eq!(idp.jwks_requests(), 2, "no second refresh within a minute");
    assert!(page.contains("could not be verified"));
    assert!(users(&app).is_empty());
}

/// Runs one flow with `fault` and checks the page's status, that a message is shown, and that
/// nobody got signed in and nothing was stored.
async fn assert_fault(fault: Fault, expected_status: u16, expected_text: &str) {
    let idp = TestIdp::start().await;
    let app = spawn_outlook_app(&idp, vec![]).await;
    idp.inject(fault);

    let (status, page) = page_of(outlook_sign_in(&app).await).await;

    assert_eq!(status, expected_status, "{fault:?}");
    assert!(
        page.contains(expected_text),
        "{fault:?}: page lacks {expected_text:?}"
    );
    assert!(
        page.contains("<nav"),
        "{fault:?}: error page outside the layout"
    );
    assert!(!is_signed_in(&app).await, "{fault:?}: signed in anyway");
    assert!(users(&app).is_empty(), "{fault:?}: user created");
}

#[tokio::test]
async fn cancelled_sign_in_changes_nothing() {
    assert_fault(Fault::Cancel, 400, "was cancelled").await;
}

#[tokio::test]
async fn wrong_nonce_is_rejected() {
    assert_fault(Fault::WrongNonce, 400, "could not be verified").await;
}

#[tokio::test]
async fn bad_signature_is_rejected() {
    assert_fault(Fault::BadSignature, 400, "could not be verified").await;
}

#[tokio::test]
async fn expired_token_is_rejected() {
    assert_fault(Fault::Expired, 400, "could not be verified").await;
}

#[tokio::test]
async fn token_from_the_future_is_rejected() {
    assert_fault(Fault::IssuedInFuture, 400, "could not be verified").await;
}

#[tokio::test]
async fn wrong_audience_is_rejected() {
    assert_fault(Fault::WrongAudience, 400, "could not be verified").await;
}

#[tokio::test]
async fn wrong_issuer_is_rejected() {
    assert_fault(Fault::WrongIssuer, 400, "could not be verified").await;
}

#[tokio::test]
async fn unsigned_token_is_rejected() {
    assert_fault(Fault::AlgNone, 400, "could not be verified").await;
}

#[tokio::test]
async fn hmac_signed_token_is_rejected() {
    assert_fault(Fault::HmacSigned, 400, "could not be verified").await;
}

#[tokio::test]
async fn token_endpoint_error_is_bad_gateway() {
    assert_fault(Fault::TokenEndpointError, 502, "returned an error").await;
}

#[tokio::test]
async fn token_endpoint_timeout_is_gateway_timeout() {
    assert_fault(Fault::TokenEndpointTimeout, 504, "did not answer in time").await;
}

#[tokio::test]
async fn unreachable_discovery_is_bad_gateway() {
    let idp = TestIdp::start().await;
    let app = spawn_outlook_app(&idp, vec![]).await;
    idp.inject(Fault::DiscoveryDown);

    let (status, page) = page_of(app.get("/accounts/outlook/login/").await).await;

    assert_eq!(status, 502);
    assert!(page.contains("Microsoft is not answering"));

    idp.clear_faults();
    let recovered = outlook_sign_in(&app).await;
    assert_redirects_to(&recovered, "/accounts/profile/");
}

#[tokio::test]
async fn reused_code_is_rejected() {
    let idp = TestIdp::start().await;
    let app = spawn_outlook_app(&idp, vec![]).await;
    let start = app.get("/accounts/outlook/login/").await;
    let authorize = app
        .client
        .get(location(&start).expect("authorize URL"))
        .send()
        .await
        .expect("authorize");
    let callback_url = location(&authorize).expect("callback").to_owned();
    let first = app
        .client
        .get(&callback_url)
        .send()
        .await
        .expect("callback");
    assert_redirects_to(&first, "/accounts/profile/");
    app.logout().await;

    // Replay the same code in a fresh flow whose state matches, as an attacker holding a
    // leaked code would: only the token endpoint can tell the code was used.
    let restart = app.get("/accounts/outlook/login/").await;
    let state = state_of(location(&restart).expect("authorize URL"));
    let code = query_value(&callback_url, "code").expect("code");
    let replay = app
        .get(&format!(
            "/accounts/outlook/callback/?code={code}&state={state}"
        ))
        .await;

    let (status, page) = page_of(replay).await;
    assert_eq!(status, 400);
    assert!(page.contains("already used"));
    assert!(!is_signed_in(&app).await);
}

fn query_value(url: &str, name: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    parsed
        .query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

fn state_of(authorize_url: &str) -> String {
    query_value(authorize_url, "state").expect("state in the authorize URL")
}

#[tokio::test]
async fn callback_without_started_flow_is_rejected() {
    let idp = TestIdp::start().await;
    let app = spawn_outlook_app(&idp, vec![]).await;

    let (status, page) = page_of(
        app.get("/accounts/outlook/callback/?code=abc&state=xyz")
            .await,
    )
    .await;

    assert_eq!(status, 400);
    assert!(page.contains("not valid"));
}

#[tokio::test]
async fn callback_with_wrong_state_is_rejected() {
    let idp = TestIdp::start().await;
    let app = spawn_outlook_app(&idp, vec![]).await;
    let start = app.get("/accounts/outlook/login/").await;
    let authorize = app
        .client
        .get(location(&start).expect("authorize URL"))
        .send()
        .await
        .expect("authorize");
    let code = query_value(location(&authorize).expect("callback"), "code").expect("code");

    let response = app
        .get(&format!(
            "/accounts/outlook/callback/?code={code}&state=forged"
        ))
        .await;

    let (status, page) = page_of(response).await;
    assert_eq!(status, 400);
    assert!(page.contains("not valid"));
    assert!(users(&app).is_empty());
    assert_eq!(
        idp.token_requests(),
        0,
        "a forged state must not redeem the code"
    );
}

#[tokio::test]
async fn authorize_request_uses_pkce_and_nonce() {
    let idp = TestIdp::start().await;
    let app = spawn_outlook_app(&idp, vec![]).await;

    let start = app.get("/accounts/outlook/login/").await;

    let url = location(&start).expect("authorize URL").to_owned();
    assert!(url.starts_with(&format!("{}/common/oauth2/v2.0/authorize", idp.authority())));
    assert_eq!(
        query_value(&url, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert!(query_value(&url, "code_challenge").is_some());
    assert!(query_value(&url, "nonce").is_some());
    let scope = query_value(&url, "scope").expect("scope");
    for expected in ["openid", "profile", "email", "offline_access", "User.Read"] {
        assert!(
            scope.split(' ').any(|s| s == expected),
            "scope lacks {expected}: {scope}"
        );
    }
    assert!(!url.contains("client_secret"));
}

#[tokio::test]
async fn consumers_mode_refuses_work_accounts() {
    let idp = TestIdp::start().await;
    let app = spawn_outlook_app(&idp, vec![("OUTLOOK_TENANT", "consumers".to_owned())]).await;
    idp.sign_in_as(IdpAccount::work(WORK_TENANT, "Work", "w@contoso.example"));

    let (status, page) = page_of(outlook_sign_in(&app).await).await;

    assert_eq!(status, 403);
    assert!(page.contains("cannot sign in here"));
    assert!(users(&app).is_empty());
}

#[tokio::test]
async fn consumers_mode_accepts_personal_accounts() {
    let idp = TestIdp::start().await;
    let app = spawn_outlook_app(&idp, vec![("OUTLOOK_TENANT", "consumers".to_owned())]).await;
    idp.sign_in_as(IdpAccount::personal("Home", "home@outlook.com"));

    let response = outlook_sign_in(&app).await;

    assert_redirects_to(&response, "/accounts/profile/");
    assert_eq!(accounts(&app)[0].tenant_id, PERSONAL_ACCOUNTS_TENANT_ID);
}

#[tokio::test]
async fn organizations_mode_refuses_personal_accounts() {
    let idp = TestIdp::start().await;
    let app = spawn_outlook_app(&idp, vec![("OUTLOOK_TENANT", "organizations".to_owned())]).await;
    idp.sign_in_as(IdpAccount::personal("Home", "home@outlook.com"));

    let (status, _) = page_of(outlook_sign_in(&app).await).await;

    assert_eq!(status, 403);
    assert!(users(&app).is_empty());
}

#[tokio::test]
async fn allowed_tenants_list_narrows_sign_in() {
    let idp = TestIdp::start().await;
    let app = spawn_outlook_app(
        &idp,
        vec![("OUTLOOK_ALLOWED_TENANTS", WORK_TENANT.to_owned())],
    )
    .await;
    idp.sign_in_as(IdpAccount::work(
        "11111111-2222-4333-8444-555555555555",
        "Other",
        "o@other.example",
    ));

    let (refused, _) = page_of(outlook_sign_in(&app).await).await;
    idp.sign_in_as(IdpAccount::work(
        WORK_TENANT,
        "Allowed",
        "a@contoso.example",
    ));
    let allowed = outlook_sign_in(&app).await;

    assert_eq!(refused, 403);
    assert_redirects_to(&allowed, "/accounts/profile/");
}

#[tokio::test]
async fn single_tenant_mode_checks_exact_issuer() {
    let idp = TestIdp::start().await;
    let app = spawn_outlook_app(&idp, vec![("OUTLOOK_TENANT", WORK_TENANT.to_owned())]).await;
    idp.sign_in_as(IdpAccount::work(WORK_TENANT, "Member", "m@contoso.example"));

    let allowed = outlook_sign_in(&app).await;
    app.logout().await;
    idp.sign_in_as(IdpAccount::work(
        "11111111-2222-4333-8444-555555555555",
        "Guest",
        "g@other.example",
    ));
    let (refused, _) = page_of(outlook_sign_in(&app).await).await;

    assert_redirects_to(&allowed, "/accounts/profile/");
    assert_eq!(
        refused, 400,
        "a token from another tenant has the wrong issuer"
    );
}

#[tokio::test]
async fn next_is_followed_after_outlook_sign_in() {
    let idp = TestIdp::start().await;
    let app = spawn_outlook_app(&idp, vec![]).await;

    let start = app
        .get("/accounts/outlook/login/?next=/accounts/password/change/")
        .await;
    let authorize = app
        .client
        .get(location(&start).expect("authorize URL"))
        .send()
        .await
        .expect("authorize");
    let callback = app
        .client
        .get(location(&authorize).expect("callback"))
        .send()
        .await
        .expect("callback");

    assert_redirects_to(&callback, "/accounts/password/change/");
}

#[tokio::test]
async fn login_page_offers_outlook_button() {
    let idp = TestIdp::start().await;
    let app = spawn_outlook_app(&idp, vec![]).await;

    let page = app
        .get_html("/accounts/login/?next=/accounts/profile/")
        .await;

    assert!(page.contains("href=\"/accounts/outlook/login/?next=%2Faccounts%2Fprofile%2F\""));
    assert!(!page.contains("not configured"));
}

#[tokio::test]
async fn unconfigured_outlook_explains_itself() {
    let app = spawn_app().await;

    let login = app.get_html("/accounts/login/").await;
    let (start_status, start_page) = page_of(app.get("/accounts/outlook/login/").await).await;
    let (callback_status, _) =
        page_of(app.get("/accounts/outlook/callback/?code=x&state=y").await).await;
    let token = csrf_token(&app.get_html("/accounts/login/").await);
    let disconnect = app
        .post_form(
            "/accounts/outlook/disconnect/",
            &[("account_id", "1"), ("csrfmiddlewaretoken", &token)],
        )
        .await;

    assert!(login.contains("Sign-in with Outlook is not configured"));
    assert_eq!(start_status, 404);
    assert!(start_page.contains("Sign-in with Outlook is not configured"));
    assert_eq!(callback_status, 404);
    assert_eq!(disconnect.status().as_u16(), 404);
}

#[tokio::test]
async fn session_id_changes_at_outlook_sign_in() {
    let idp = TestIdp::start().await;
    let app = spawn_outlook_app(&idp, vec![]).await;

    let start = app.get("/accounts/outlook/login/").await;
    let before = app.session_cookie().expect("flow state makes a session");
    let authorize = app
        .client
        .get(location(&start).expect("authorize URL"))
        .send()
        .await
        .expect("authorize");
    app.client
        .get(location(&authorize).expect("callback"))
        .send()
        .await
        .expect("callback");
    let after = app.session_cookie().expect("signed-in session");

    assert_ne!(before, after);
}
