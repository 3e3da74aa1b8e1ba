//! A test identity provider that replaces the Microsoft identity platform v2.0 in tests.
//!
//! It serves OpenID Connect discovery, a JWKS, the authorization endpoint, the token endpoint
//! and a userinfo endpoint on a random loopback port, under any tenant segment, and issues
//! RS256 ID tokens with the claims of Microsoft's v2.0 ID tokens (`tid`, `oid`, `ver`, ...).
//! The authorization endpoint shows no login page: it signs in the account set with
//! [`TestIdp::sign_in_as`] and redirects back at once. Unlike Microsoft, it signs that account in
//! through any tenant segment unless [`TestIdp::restrict_tenants`] is called, so that tests can
//! reach the client's own tenant checks. [`TestIdp::inject`] makes later flows fail in the ways a
//! client has to detect.
//!
//! ```ignore
//! let idp = TestIdp::start().await;
//! idp.sign_in_as(IdpAccount::personal("Ada Lovelace", "ada@outlook.com"));
//! let app = spawn_app_with(vec![
//!     ("OUTLOOK_AUTHORITY", idp.authority()),
//!     ("OUTLOOK_CLIENT_ID", TestIdp::CLIENT_ID.to_owned()),
//!     ("OUTLOOK_CLIENT_SECRET", TestIdp::CLIENT_SECRET.to_owned()),
//! ])
//! .await;
//! ```

use std::collections::{HashMap, HashSet};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use actix_web::http::{header, StatusCode};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpResponseBuilder, HttpServer};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chrono::{DateTime, Utc};
use openidconnect::core::{
    CoreGenderClaim, CoreHmacKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreRsaPrivateSigningKey,
};
use openidconnect::{
    AdditionalClaims, Audience, EndUserEmail, EndUserName, EndUserUsername, IdToken, IdTokenClaims,
    IssuerUrl, JsonWebKeyId, Nonce, StandardClaims, SubjectIdentifier,
};
use rsa::pkcs1::{EncodeRsaPrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use url::Url;

/// Tenant id that Microsoft puts in `tid` for every personal Microsoft account.
pub const PERSONAL_ACCOUNTS_TENANT_ID: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// Tenant id that ID tokens name in `iss` under [`Fault::WrongIssuer`]. No test account uses it.
pub const OTHER_TENANT_ID: &str = "0c0ffee0-0000-4000-8000-00000000dead";

/// Audience that ID tokens carry under [`Fault::WrongAudience`].
pub const OTHER_CLIENT_ID: &str = "7e57c1d0-0000-4000-8000-0000000a11e5";

/// How long the token endpoint waits before it responds under [`Fault::TokenEndpointTimeout`].
pub const TOKEN_ENDPOINT_DELAY: Duration = Duration::from_secs(30);

/// Lifetime of ID tokens and access tokens, in seconds.
const TOKEN_LIFETIME_SECONDS: i64 = 3600;

/// Time within which an authorization code must be redeemed, an estimate of Microsoft's limit.
const CODE_LIFETIME: Duration = Duration::from_secs(600);

/// Values of the `prompt` parameter that the authorization endpoint accepts.
const PROMPT_VALUES: [&str; 4] = ["login", "none", "consent", "select_account"];

/// An ID token with Microsoft's extra claims, as this provider issues it.
pub type MicrosoftIdToken = IdToken<
    MicrosoftClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// The claims of a [`MicrosoftIdToken`].
pub type MicrosoftIdTokenClaims = IdTokenClaims<MicrosoftClaims, CoreGenderClaim>;

/// Claims of Microsoft's v2.0 ID tokens that OpenID Connect Core does not define.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MicrosoftClaims {
    /// Tenant id of the account's directory.
    pub tid: String,
    /// Object id of the account, stable across applications.
    pub oid: String,
    /// Token format version, always `"2.0"` here.
    pub ver: String,
    /// Time before which the token is not valid, in seconds since the Unix epoch.
    pub nbf: i64,
}

impl AdditionalClaims for MicrosoftClaims {}

/// An account that the provider signs in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdpAccount {
    /// Tenant id, sent as the `tid` claim and as the tenant in `iss`.
    pub tid: String,
    /// Object id, sent as the `oid` claim.
    pub oid: String,
    /// Display name, sent as the `name` claim.
    pub name: String,
    /// Email address, sent as the `email` claim. `None` leaves the claim out.
    pub email: Option<String>,
    /// Sign-in name, sent as the `preferred_username` claim.
    pub preferred_username: String,
}

impl IdpAccount {
    /// Builds a personal Microsoft account (tenant [`PERSONAL_ACCOUNTS_TENANT_ID`]) that signs in as `email`.
    ///
    /// The `oid` is derived from the email, so equal arguments always give the same account. Like
    /// Microsoft's, it starts with `00000000-0000-0000-`.
    pub fn personal(name: &str, email: &str) -> IdpAccount {
        let digest = sha256_hex(&format!("{PERSONAL_ACCOUNTS_TENANT_ID}:{email}"));
        IdpAccount {
            tid: PERSONAL_ACCOUNTS_TENANT_ID.to_owned(),
            oid: format!("00000000-0000-0000-{}-{}", &digest[0..4], &digest[4..16]),
            name: name.to_owned(),
            email: Some(email.to_owned()),
            preferred_username: email.to_owned(),
        }
    }

    /// Builds a work or school account in tenant `tenant_id` that signs in as `username`, with
    /// `username` as its email.
    ///
    /// The `oid` is derived from the tenant and username, so equal arguments give the same account.
    pub fn work(tenant_id: &str, name: &str, username: &str) -> IdpAccount {
        let digest = sha256_hex(&format!("{tenant_id}:{username}"));
        IdpAccount {
            tid: tenant_id.to_owned(),
            oid: guid_from_hex(&digest),
            name: name.to_owned(),
            email: Some(username.to_owned()),
            preferred_username: username.to_owned(),
        }
    }

    /// Returns the account without an `email` claim, as for a work account without a mailbox.
    pub fn without_email(self) -> IdpAccount {
        IdpAccount {
            email: None,
            ..self
        }
    }

    /// Returns the pairwise `sub` that the account gets in ID tokens for [`TestIdp::CLIENT_ID`].
    pub fn subject(&self) -> String {
        let digest = Sha256::digest(format!("{}:{}:{}", TestIdp::CLIENT_ID, self.tid, self.oid));
        URL_SAFE_NO_PAD.encode(digest)
    }
}

/// A failure that the provider produces in later flows, until [`TestIdp::clear_faults`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// The user cancels: the authorization endpoint redirects back with `error=access_denied`.
    Cancel,
    /// The token endpoint returns `500` with error `server_error`, before it looks at the code.
    TokenEndpointError,
    /// The token endpoint waits [`TOKEN_ENDPOINT_DELAY`] before it responds.
    TokenEndpointTimeout,
    /// The discovery endpoint returns `503 Service Unavailable`.
    DiscoveryDown,
    /// The ID token's `nonce` differs from the one in the authorization request.
    WrongNonce,
    /// The ID token's signature has one bit flipped.
    BadSignature,
    /// The ID token is signed with an RSA key whose `kid` is never in the JWKS.
    UnknownKey,
    /// The ID token's `exp` is one hour in the past.
    Expired,
    /// The ID token's `iat` and `nbf` are one hour in the future.
    IssuedInFuture,
    /// The ID token's `aud` is [`OTHER_CLIENT_ID`].
    WrongAudience,
    /// The ID token's `iss` names [`OTHER_TENANT_ID`] while `tid` names the account's tenant.
    WrongIssuer,
    /// The ID token is unsigned, with header `alg: none` and an empty signature.
    AlgNone,
    /// The ID token is signed with HS256, using the client secret as the key.
    HmacSigned,
}

/// A running test identity provider. Clones share the same server and state.
#[derive(Clone)]
pub struct TestIdp {
    base_url: String,
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    discovery_requests: AtomicUsize,
    jwks_requests: AtomicUsize,
    authorize_requests: AtomicUsize,
    token_requests: AtomicUsize,
}

struct State {
    account: IdpAccount,
    faults: HashSet<Fault>,
    /// Whether the authorization endpoint applies [`Tenant::admit`].
    restrict_tenants: bool,
    signing_key: SigningKey,
    /// The key before the last rotation, still published when the rotation kept it.
    previous_key: Option<SigningKey>,
    /// Domain names accepted as tenant segments, mapped to tenant ids.
    domains: HashMap<String, String>,
    codes: HashMap<String, IssuedCode>,
    access_tokens: HashMap<String, IdpAccount>,
}

/// What the authorization endpoint stored with a code, for the token endpoint to check.
#[derive(Clone)]
struct IssuedCode {
    tenant_segment: String,
    redirect_uri: String,
    nonce: Option<String>,
    code_challenge: String,
    scope: String,
    account: IdpAccount,
    issued_at: Instant,
    redeemed: bool,
}

impl TestIdp {
    /// The client id of the only application registered with the provider.
    pub const CLIENT_ID: &'static str = "5f0b2c6e-3d41-4c1a-9a57-0e7d1b2c3a4f";

    /// The client secret that the token endpoint accepts, shaped like a Microsoft secret.
    ///
    /// The `~` must be percent-encoded in HTTP Basic credentials, which tests the client's encoding.
    pub const CLIENT_SECRET: &'static str = "Qx58Q~test.Client-Secret_0123456789abcdefgh";

    /// Starts the provider on a random port of 127.0.0.1.
    ///
    /// Until [`TestIdp::sign_in_as`] is called, it signs in the personal account "Test User"
    /// (`test.user@outlook.com`).
    pub async fn start() -> TestIdp {
        // Key generation is slow, so it runs off the async thread and before the first request.
        tokio::task::spawn_blocking(|| rsa_key(0))
            .await
            .expect("RSA key generation finishes");

        let listener = TcpListener::bind("127.0.0.1:0")
            .expect("bind the test identity provider to a loopback port");
        let port = listener
            .local_addr()
            .expect("local address of the listener")
            .port();
        let idp = TestIdp {
            base_url: format!("http://127.0.0.1:{port}"),
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    account: IdpAccount::personal("Test User", "test.user@outlook.com"),
                    faults: HashSet::new(),
                    restrict_tenants: false,
                    signing_key: SigningKey::new(0),
                    previous_key: None,
                    domains: HashMap::new(),
                    codes: HashMap::new(),
                    access_tokens: HashMap::new(),
                }),
                discovery_requests: AtomicUsize::new(0),
                jwks_requests: AtomicUsize::new(0),
                authorize_requests: AtomicUsize::new(0),
                token_requests: AtomicUsize::new(0),
            }),
        };

        let data = web::Data::new(idp.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route(
                    "/{tenant}/v2.0/.well-known/openid-configuration",
                    web::get().to(discovery),
                )
                .route("/{tenant}/discovery/v2.0/keys", web::get().to(jwks))
                .route("/{tenant}/oauth2/v2.0/authorize", web::get().to(authorize))
                .route("/{tenant}/oauth2/v2.0/token", web::post().to(token))
                .route("/oidc/userinfo", web::get().to(userinfo))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .expect("listen on the bound port")
        .run();
        tokio::spawn(server);

        idp
    }

    /// Returns the base URL `http://127.0.0.1:PORT`, the value for `OUTLOOK_AUTHORITY`.
    pub fn authority(&self) -> String {
        self.base_url.clone()
    }

    /// Returns the issuer of ID tokens for accounts of `tenant_id`: `{authority}/{tenant_id}/v2.0`.
    pub fn issuer_for(&self, tenant_id: &str) -> String {
        format!("{}/{tenant_id}/v2.0", self.base_url)
    }

    /// Sets the account that later authorization requests sign in, until the next call.
    pub fn sign_in_as(&self, account: IdpAccount) {
        self.state().account = account;
    }

    /// Accepts `domain` (such as `contoso.onmicrosoft.com`) as the tenant segment for `tenant_id`.
    pub fn register_domain(&self, domain: &str, tenant_id: &str) {
        self.state()
            .domains
            .insert(domain.to_ascii_lowercase(), tenant_id.to_ascii_lowercase());
    }

    /// Makes the authorization endpoint reject an account that the tenant segment does not admit,
    /// as Microsoft does: `consumers` admits only personal accounts, `organizations` only work or
    /// school accounts, and a tenant id only that tenant's accounts.
    ///
    /// It is off by default, so that tests can check the client's own tenant and issuer checks.
    pub fn restrict_tenants(&self) {
        self.state().restrict_tenants = true;
    }

    /// Turns on `fault` for every later flow until [`TestIdp::clear_faults`]. Several faults can be
    /// active at once.
    pub fn inject(&self, fault: Fault) {
        self.state().faults.insert(fault);
    }

    /// Turns off all injected faults.
    pub fn clear_faults(&self) {
        self.state().faults.clear();
    }

    /// Signs later ID tokens with a new key under a new `kid` and drops the old key from the JWKS.
    pub fn rotate_key(&self) {
        self.rotate(false);
    }

    /// Signs later ID tokens with a new key under a new `kid`, and keeps the old key in the JWKS
    /// until the next rotation.
    pub fn rotate_key_keeping_old(&self) {
        self.rotate(true);
    }

    /// Returns the `kid` of the key that signs ID tokens now.
    pub fn signing_key_id(&self) -> String {
        self.state().signing_key.kid.clone()
    }

    /// Returns how many discovery documents were requested, under any tenant.
    pub fn discovery_requests(&self) -> usize {
        self.shared.discovery_requests.load(Ordering::SeqCst)
    }

    /// Returns how many times the JWKS was requested, under any tenant.
    pub fn jwks_requests(&self) -> usize {
        self.shared.jwks_requests.load(Ordering::SeqCst)
    }

    /// Returns how many authorization requests arrived, valid or not.
    pub fn authorize_requests(&self) -> usize {
        self.shared.authorize_requests.load(Ordering::SeqCst)
    }

    /// Returns how many token requests arrived, valid or not.
    pub fn token_requests(&self) -> usize {
        self.shared.token_requests.load(Ordering::SeqCst)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic in another handler must not take the whole provider down with it.
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn rotate(&self, keep_old: bool) {
        let next_slot = self.state().signing_key.slot + 1;
        // The key is generated outside the lock, because generation is slow.
        rsa_key(next_slot);

        let mut state = self.state();
        let old = std::mem::replace(&mut state.signing_key, SigningKey::new(next_slot));
        state.previous_key = keep_old.then_some(old);
    }

    /// Builds the discovery document for `tenant`, with a subset of the fields of Microsoft's.
    fn discovery_document(&self, tenant: &Tenant) -> Value {
        let base = &self.base_url;
        let segment = tenant.path_segment();
        json!({
            "issuer": format!("{base}/{}/v2.0", tenant.issuer_segment()),
            "authorization_endpoint": format!("{base}/{segment}/oauth2/v2.0/authorize"),
            "token_endpoint": format!("{base}/{segment}/oauth2/v2.0/token"),
            "jwks_uri": format!("{base}/{segment}/discovery/v2.0/keys"),
            "userinfo_endpoint": format!("{base}/oidc/userinfo"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": [
                "sub", "iss", "aud", "exp", "iat", "nbf", "nonce",
                "name", "preferred_username", "email", "tid", "oid", "ver",
            ],
            "request_uri_parameter_supported": false,
        })
    }

    /// Checks an authorization request and returns the redirect to send back, or a message for a
    /// 400 response.
    fn authorize_redirect(&self, tenant_segment: &str, query: &str) -> Result<Url, String> {
        let params = parse_unique_params(query.as_bytes())?;
        let mut state = self.state();
        let tenant = resolve_tenant(tenant_segment, &state.domains)?;

        let client_id = required_param(&params, "client_id")?;
        if client_id != Self::CLIENT_ID {
            return Err(format!(
                "client_id {client_id:?} is not registered; use TestIdp::CLIENT_ID ({:?})",
                Self::CLIENT_ID
            ));
        }

        let redirect_uri = required_param(&params, "redirect_uri")?;
        let mut redirect = parse_redirect_uri(redirect_uri)?;

        let response_type = required_param(&params, "response_type")?;
        if response_type != "code" {
            return Err(format!(
                "response_type {response_type:?} is not supported; use code"
            ));
        }
        match params.get("response_mode").map(String::as_str) {
            None | Some("query") => {}
            Some(other) => {
                return Err(format!(
                    "response_mode {other:?} is not supported; use query"
                ))
            }
        }

        let scope = required_param(&params, "scope")?;
        if !scope.split(' ').any(|item| item == "openid") {
            return Err(format!(
                "scope {scope:?} must include openid to get an ID token"
            ));
        }

        let code_challenge = required_param(&params, "code_challenge")?;
        if !is_s256_challenge(code_challenge) {
            return Err(format!(
                "code_challenge {code_challenge:?} is invalid; an S256 challenge is 43 base64url characters"
            ));
        }
        match params.get("code_challenge_method").map(String::as_str) {
            Some("S256") => {}
            None => {
                return Err(
                    "code_challenge_method is missing; plain is not supported, use S256".to_owned(),
                )
            }
            Some(other) => {
                return Err(format!(
                    "code_challenge_method {other:?} is not supported; use S256"
                ))
            }
        }

        if let Some(prompt) = params.get("prompt") {
            if let Some(unknown) = prompt
                .split(' ')
                .find(|value| !PROMPT_VALUES.contains(value))
            {
                return Err(format!(
                    "prompt value {unknown:?} is invalid; use one of {PROMPT_VALUES:?}"
                ));
            }
        }

        let account = state.account.clone();
        if state.restrict_tenants {
            tenant.admit(&account)?;
        }

        let state_param = params.get("state").filter(|value| !value.is_empty());
        let mut pairs = redirect.query_pairs_mut();
        if state.faults.contains(&Fault::Cancel) {
            pairs
                .append_pair("error", "access_denied")
                .append_pair("error_description", "The user canceled the sign-in.");
        } else {
            let code = random_token();
            state.codes.insert(
                code.clone(),
                IssuedCode {
                    tenant_segment: tenant.path_segment().to_owned(),
                    redirect_uri: redirect_uri.to_owned(),
                    nonce: params
                        .get("nonce")
                        .filter(|value| !value.is_empty())
                        .cloned(),
                    code_challenge: code_challenge.to_owned(),
                    scope: scope.to_owned(),
                    account,
                    issued_at: Instant::now(),
                    redeemed: false,
                },
            );
            pairs.append_pair("code", &code);
        }
        if let Some(value) = state_param {
            pairs.append_pair("state", value);
        }
        drop(pairs);

        Ok(redirect)
    }

    /// Redeems an authorization code and returns the token response, or an RFC 6749 error.
    ///
    /// A request that gets as far as looking up the code spends it, even when a later check
    /// (expiry, redirect URI, PKCE verifier) fails.
    fn redeem_code(
        &self,
        tenant_segment: &str,
        request: &HttpRequest,
        body: &[u8],
    ) -> Result<Value, TokenError> {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("");
        if !content_type.starts_with("application/x-www-form-urlencoded") {
            return Err(TokenError::invalid_request(format!(
                "Content-Type {content_type:?} is not supported; send application/x-www-form-urlencoded"
            )));
        }
        let form = parse_unique_params(body).map_err(TokenError::invalid_request)?;

        authenticate_client(request, &form)?;

        let mut state = self.state();
        let tenant =
            resolve_tenant(tenant_segment, &state.domains).map_err(TokenError::invalid_request)?;
        if state.faults.contains(&Fault::TokenEndpointError) {
            return Err(TokenError::server_error(
                "The identity provider failed to issue tokens (injected TokenEndpointError fault).",
            ));
        }

        let grant_type =
            required_param(&form, "grant_type").map_err(TokenError::invalid_request)?;
        if grant_type != "authorization_code" {
            // NOTE: Microsoft also accepts refresh_token and other grants; this provider does not.
            return Err(TokenError::unsupported_grant_type(format!(
                "grant_type {grant_type:?} is not supported; use authorization_code"
            )));
        }

        let code = required_param(&form, "code").map_err(TokenError::invalid_request)?;
        let Some(issued) = state.codes.get_mut(code) else {
            return Err(TokenError::invalid_grant(
                "The authorization code is not valid.",
            ));
        };
        if issued.redeemed {
            return Err(TokenError::invalid_grant(
                "The authorization code was already redeemed; start a new authorization request.",
            ));
        }
        issued.redeemed = true;
        let issued = issued.clone();

        if issued.issued_at.elapsed() > CODE_LIFETIME {
            return Err(TokenError::invalid_grant(
                "The authorization code has expired.",
            ));
        }
        if issued.tenant_segment != tenant.path_segment() {
            return Err(TokenError::invalid_grant(format!(
                "The authorization code was issued for tenant {:?}, not {:?}.",
                issued.tenant_segment,
                tenant.path_segment()
            )));
        }

        let redirect_uri =
            required_param(&form, "redirect_uri").map_err(TokenError::invalid_request)?;
        if redirect_uri != issued.redirect_uri {
            return Err(TokenError::invalid_grant(format!(
                "redirect_uri {redirect_uri:?} does not match {:?} from the authorization request.",
                issued.redirect_uri
            )));
        }

        let code_verifier =
            required_param(&form, "code_verifier").map_err(TokenError::invalid_request)?;
        if !is_code_verifier(code_verifier) {
            return Err(TokenError::invalid_grant(
                "code_verifier is invalid; it must be 43 to 128 unreserved characters.",
            ));
        }
        if URL_SAFE_NO_PAD.encode(Sha256::digest(code_verifier)) != issued.code_challenge {
            return Err(TokenError::invalid_grant(
                "code_verifier does not match the code_challenge of the authorization request.",
            ));
        }

        let faults = state.faults.clone();
        let signing_key = state.signing_key.clone();
        let access_token = random_token();
        state
            .access_tokens
            .insert(access_token.clone(), issued.account.clone());
        drop(state);

        let id_token = self
            .id_token(&issued, &faults, &signing_key)
            .map_err(TokenError::server_error)?;

        let mut response = json!({
            "token_type": "Bearer",
            "scope": issued.scope,
            "expires_in": TOKEN_LIFETIME_SECONDS,
            "ext_expires_in": TOKEN_LIFETIME_SECONDS,
            "access_token": access_token,
            "id_token": id_token,
        });
        // Microsoft returns a refresh token only when the client requested offline_access.
        if issued.scope.split(' ').any(|item| item == "offline_access") {
            response["refresh_token"] = Value::String(random_token());
        }
        Ok(response)
    }

    /// Builds and signs the ID token for a redeemed code, altered by the active faults.
    fn id_token(
        &self,
        issued: &IssuedCode,
        faults: &HashSet<Fault>,
        signing_key: &SigningKey,
    ) -> Result<String, String> {
        let claims = self.id_token_claims(issued, faults)?;

        if faults.contains(&Fault::AlgNone) {
            let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
            let payload = serde_json::to_vec(&claims)
                .map_err(|e| format!("failed to serialize the claims: {e}"))?;
            return Ok(format!("{header}.{}.", URL_SAFE_NO_PAD.encode(payload)));
        }

        let token = if faults.contains(&Fault::HmacSigned) {
            let key = CoreHmacKey::new(Self::CLIENT_SECRET.as_bytes());
            MicrosoftIdToken::new(
                claims,
                &key,
                CoreJwsSigningAlgorithm::HmacSha256,
                None,
                None,
            )
        } else if faults.contains(&Fault::UnknownKey) {
            // The next slot is neither the current key nor the one kept by the last rotation.
            let unpublished = SigningKey::new(signing_key.slot + 1);
            let key = unpublished.private_key()?;
            MicrosoftIdToken::new(
                claims,
                &key,
                CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
                None,
                None,
            )
        } else {
            let key = signing_key.private_key()?;
            MicrosoftIdToken::new(
                claims,
                &key,
                CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
                None,
                None,
            )
        };
        let token = token
            .map_err(|e| format!("failed to sign the ID token: {e}"))?
            .to_string();

        if faults.contains(&Fault::BadSignature) {
            return flip_signature_bit(&token);
        }
        Ok(token)
    }

    fn id_token_claims(
        &self,
        issued: &IssuedCode,
        faults: &HashSet<Fault>,
    ) -> Result<MicrosoftIdTokenClaims, String> {
        let account = &issued.account;
        let now = Utc::now();
        let hour = chrono::Duration::hours(1);

        let issue_time: DateTime<Utc> = if faults.contains(&Fault::Expired) {
            now - hour * 2
        } else if faults.contains(&Fault::IssuedInFuture) {
            now + hour
        } else {
            now
        };
        let expiration = issue_time + chrono::Duration::seconds(TOKEN_LIFETIME_SECONDS);

        let issuer_tenant = if faults.contains(&Fault::WrongIssuer) {
            OTHER_TENANT_ID
        } else {
            &account.tid
        };
        let issuer = IssuerUrl::new(self.issuer_for(issuer_tenant))
            .map_err(|e| format!("issuer for tenant {issuer_tenant:?} is not a URL: {e}"))?;

        let audience = if faults.contains(&Fault::WrongAudience) {
            OTHER_CLIENT_ID
        } else {
            Self::CLIENT_ID
        };

        let nonce = if faults.contains(&Fault::WrongNonce) {
            Some(random_token())
        } else {
            issued.nonce.clone()
        };

        let standard_claims = StandardClaims::new(SubjectIdentifier::new(account.subject()))
            .set_name(Some(EndUserName::new(account.name.clone()).into()))
            .set_preferred_username(Some(EndUserUsername::new(
                account.preferred_username.clone(),
            )))
            .set_email(account.email.clone().map(EndUserEmail::new));
        let microsoft_claims = MicrosoftClaims {
            tid: account.tid.clone(),
            oid: account.oid.clone(),
            ver: "2.0".to_owned(),
            nbf: issue_time.timestamp(),
        };

        let claims = IdTokenClaims::new(
            issuer,
            vec![Audience::new(audience.to_owned())],
            expiration,
            issue_time,
            standard_claims,
            microsoft_claims,
        )
        .set_nonce(nonce.map(Nonce::new));
        Ok(claims)
    }
}

/// A tenant segment of a request path, resolved.
enum Tenant {
    Common,
    Organizations,
    Consumers,
    /// A tenant id, lowercase.
    Id(String),
}

impl Tenant {
    /// Returns the segment that endpoint URLs carry for this tenant.
    fn path_segment(&self) -> &str {
        match self {
            Tenant::Common => "common",
            Tenant::Organizations => "organizations",
            Tenant::Consumers => "consumers",
            Tenant::Id(id) => id,
        }
    }

    /// Returns the tenant part of the discovery `issuer`, a literal `{tenantid}` template for the
    /// multi-tenant segments as Microsoft publishes it.
    fn issuer_segment(&self) -> &str {
        match self {
            Tenant::Common | Tenant::Organizations | Tenant::Consumers => "{tenantid}",
            Tenant::Id(id) => id,
        }
    }

    /// Checks that `account` may sign in through this tenant's endpoints, as Microsoft checks it.
    fn admit(&self, account: &IdpAccount) -> Result<(), String> {
        let personal = account
            .tid
            .eq_ignore_ascii_case(PERSONAL_ACCOUNTS_TENANT_ID);
        match self {
            Tenant::Common => Ok(()),
            Tenant::Consumers if !personal => Err(format!(
                "account {:?} of tenant {} cannot sign in through /consumers, which admits only personal accounts",
                account.preferred_username, account.tid
            )),
            Tenant::Organizations if personal => Err(format!(
                "personal account {:?} cannot sign in through /organizations, which admits only work or school accounts",
                account.preferred_username
            )),
            Tenant::Id(id) if !account.tid.eq_ignore_ascii_case(id) => Err(format!(
                "account {:?} of tenant {} cannot sign in through tenant {id}",
                account.preferred_username, account.tid
            )),
            _ => Ok(()),
        }
    }
}

/// Resolves a tenant path segment: `common`, `organizations`, `consumers`, a tenant id, or a
/// domain registered with [`TestIdp::register_domain`].
fn resolve_tenant(segment: &str, domains: &HashMap<String, String>) -> Result<Tenant, String> {
    let segment = segment.to_ascii_lowercase();
    match segment.as_str() {
        "common" => Ok(Tenant::Common),
        "organizations" => Ok(Tenant::Organizations),
        "consumers" => Ok(Tenant::Consumers),
        _ if is_guid(&segment) => Ok(Tenant::Id(segment)),
        _ => match domains.get(&segment) {
            Some(tenant_id) => Ok(Tenant::Id(tenant_id.clone())),
            None => Err(format!(
                "tenant {segment:?} not found; use common, organizations, consumers, a tenant id, or a domain registered with TestIdp::register_domain"
            )),
        },
    }
}

/// A signing key: a slot of the shared RSA key pool under a `kid` of this provider.
#[derive(Clone)]
struct SigningKey {
    slot: usize,
    kid: String,
}

impl SigningKey {
    fn new(slot: usize) -> SigningKey {
        SigningKey {
            slot: slot % RSA_KEYS.len(),
            kid: random_token(),
        }
    }

    fn private_key(&self) -> Result<CoreRsaPrivateSigningKey, String> {
        CoreRsaPrivateSigningKey::from_pem(
            &rsa_key(self.slot).private_pem,
            Some(JsonWebKeyId::new(self.kid.clone())),
        )
        .map_err(|e| format!("failed to load RSA key {}: {e}", self.kid))
    }

    fn public_jwk(&self) -> Value {
        let material = rsa_key(self.slot);
        json!({
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(&material.modulus),
            "e": URL_SAFE_NO_PAD.encode(&material.public_exponent),
        })
    }
}

/// An RSA key pair, kept as PKCS#1 PEM for [`CoreRsaPrivateSigningKey::from_pem`] and as the
/// big-endian public numbers for the JWKS.
struct RsaKeyMaterial {
    private_pem: String,
    modulus: Vec<u8>,
    public_exponent: Vec<u8>,
}

/// RSA keys shared by every provider in the test binary, generated on first use because 2048-bit
/// generation is slow.
///
/// Three slots cover the current key, the key kept by the last rotation, and an unpublished key
/// for [`Fault::UnknownKey`]. Rotations move to the next slot, so a reused slot gets a new `kid`.
static RSA_KEYS: [OnceLock<RsaKeyMaterial>; 3] =
    [OnceLock::new(), OnceLock::new(), OnceLock::new()];

fn rsa_key(slot: usize) -> &'static RsaKeyMaterial {
    RSA_KEYS[slot % RSA_KEYS.len()].get_or_init(|| {
        let private_key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048)
            .expect("generate a 2048-bit RSA key");
        let private_pem = private_key
            .to_pkcs1_pem(LineEnding::LF)
            .expect("encode the RSA key as PKCS#1 PEM");
        RsaKeyMaterial {
            private_pem: private_pem.as_str().to_owned(),
            modulus: private_key.n().to_bytes_be(),
            public_exponent: private_key.e().to_bytes_be(),
        }
    })
}

/// An RFC 6749 section 5.2 error response of the token endpoint.
struct TokenError {
    status: StatusCode,
    error: &'static str,
    description: String,
    /// Whether the client authenticated with HTTP Basic, so a 401 has to carry a Basic challenge.
    basic_challenge: bool,
}

impl TokenError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> TokenError {
        TokenError {
            status,
            error,
            description: description.into(),
            basic_challenge: false,
        }
    }

    fn invalid_request(description: impl Into<String>) -> TokenError {
        TokenError::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    fn invalid_client(description: impl Into<String>, basic_challenge: bool) -> TokenError {
        TokenError {
            basic_challenge,
            ..TokenError::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
        }
    }

    fn invalid_grant(description: impl Into<String>) -> TokenError {
        TokenError::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    fn unsupported_grant_type(description: impl Into<String>) -> TokenError {
        TokenError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            description,
        )
    }

    fn server_error(description: impl Into<String>) -> TokenError {
        TokenError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            description,
        )
    }

    fn into_response(self) -> HttpResponse {
        let mut response = HttpResponseBuilder::new(self.status);
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        if self.basic_challenge {
            response.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"test-idp\""));
        }
        response.json(json!({ "error": self.error, "error_description": self.description }))
    }
}

/// Checks the client credentials, sent either with HTTP Basic (RFC 6749 section 2.3.1) or as the
/// `client_id` and `client_secret` form fields, but not both.
fn authenticate_client(
    request: &HttpRequest,
    form: &HashMap<String, String>,
) -> Result<(), TokenError> {
    let basic = basic_credentials(request)?;
    let form_secret = form.get("client_secret");
    let form_client_id = form.get("client_id");

    let (client_id, client_secret, via_basic) = match (basic, form_secret) {
        (Some(_), Some(_)) => {
            return Err(TokenError::invalid_request(
                "the request sends client credentials both in the Authorization header and in the form; use one method",
            ))
        }
        (Some((client_id, client_secret)), None) => {
            if form_client_id.is_some_and(|form_id| *form_id != client_id) {
                return Err(TokenError::invalid_request(
                    "client_id in the form differs from the client id in the Authorization header",
                ));
            }
            (client_id, client_secret, true)
        }
        (None, Some(client_secret)) => {
            let client_id = form_client_id
                .ok_or_else(|| TokenError::invalid_request("client_id is missing from the form"))?;
            (client_id.clone(), client_secret.clone(), false)
        }
        (None, None) => {
            return Err(TokenError::invalid_client(
                "client credentials are missing; send client_secret or HTTP Basic credentials",
                false,
            ))
        }
    };

    if client_id != TestIdp::CLIENT_ID {
        return Err(TokenError::invalid_client(
            format!("client_id {client_id:?} is not registered"),
            via_basic,
        ));
    }
    if client_secret != TestIdp::CLIENT_SECRET {
        return Err(TokenError::invalid_client(
            "invalid client secret provided",
            via_basic,
        ));
    }
    Ok(())
}

/// Decodes HTTP Basic client credentials, whose id and secret are form-urlencoded before base64.
fn basic_credentials(request: &HttpRequest) -> Result<Option<(String, String)>, TokenError> {
    let Some(value) = request.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed =
        || TokenError::invalid_client("the Basic Authorization header is malformed", true);

    let value = value.to_str().map_err(|_| malformed())?;
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Err(malformed());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(TokenError::invalid_client(
            format!("authorization scheme {scheme:?} is not supported; use Basic"),
            true,
        ));
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (client_id, client_secret) = decoded.split_once(':').ok_or_else(malformed)?;

    Ok(Some((form_decode(client_id)?, form_decode(client_secret)?)))
}

fn form_decode(value: &str) -> Result<String, TokenError> {
    let with_spaces = value.replace('+', " ");
    percent_encoding::percent_decode_str(&with_spaces)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| {
            TokenError::invalid_client("the Basic credentials are not UTF-8 once decoded", true)
        })
}

async fn discovery(idp: web::Data<TestIdp>, tenant: web::Path<String>) -> HttpResponse {
    idp.shared.discovery_requests.fetch_add(1, Ordering::SeqCst);

    let (down, resolved) = {
        let state = idp.state();
        (
            state.faults.contains(&Fault::DiscoveryDown),
            resolve_tenant(&tenant, &state.domains),
        )
    };
    if down {
        tracing::warn!(tenant = %tenant, "test identity provider: discovery returns 503 for the injected DiscoveryDown fault");
        return HttpResponse::ServiceUnavailable()
            .content_type("text/plain; charset=utf-8")
            .body("The identity provider is unavailable (injected DiscoveryDown fault).");
    }

    match resolved {
        Ok(resolved) => HttpResponse::Ok().json(idp.discovery_document(&resolved)),
        Err(message) => invalid_tenant(message),
    }
}

async fn jwks(idp: web::Data<TestIdp>, tenant: web::Path<String>) -> HttpResponse {
    idp.shared.jwks_requests.fetch_add(1, Ordering::SeqCst);

    let state = idp.state();
    if let Err(message) = resolve_tenant(&tenant, &state.domains) {
        return invalid_tenant(message);
    }
    let keys: Vec<Value> = std::iter::once(&state.signing_key)
        .chain(state.previous_key.as_ref())
        .map(SigningKey::public_jwk)
        .collect();
    drop(state);

    HttpResponse::Ok().json(json!({ "keys": keys }))
}

async fn authorize(
    idp: web::Data<TestIdp>,
    tenant: web::Path<String>,
    request: HttpRequest,
) -> HttpResponse {
    idp.shared.authorize_requests.fetch_add(1, Ordering::SeqCst);

    match idp.authorize_redirect(&tenant, request.query_string()) {
        Ok(location) => HttpResponse::Found()
            .insert_header((header::LOCATION, location.as_str()))
            .finish(),
        Err(message) => {
            tracing::warn!(tenant = %tenant, error = %message, "test identity provider rejected an authorization request");
            HttpResponse::BadRequest()
                .content_type("text/plain; charset=utf-8")
                .body(format!("Invalid authorization request: {message}"))
        }
    }
}

async fn token(
    idp: web::Data<TestIdp>,
    tenant: web::Path<String>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    idp.shared.token_requests.fetch_add(1, Ordering::SeqCst);

    let delay = idp.state().faults.contains(&Fault::TokenEndpointTimeout);
    if delay {
        tokio::time::sleep(TOKEN_ENDPOINT_DELAY).await;
    }

    match idp.redeem_code(&tenant, &request, &body) {
        Ok(tokens) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"))
            .json(tokens),
        Err(error) => {
            tracing::warn!(
                tenant = %tenant,
                error = error.error,
                description = %error.description,
                "test identity provider rejected a token request"
            );
            error.into_response()
        }
    }
}

/// Returns the signed-in account's claims for a Bearer access token from the token endpoint.
async fn userinfo(idp: web::Data<TestIdp>, request: HttpRequest) -> HttpResponse {
    let access_token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let account = access_token.and_then(|token| idp.state().access_tokens.get(token).cloned());

    let Some(account) = account else {
        tracing::warn!(
            "test identity provider rejected a userinfo request without a known access token"
        );
        return HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\""))
            .json(json!({ "error": "invalid_token", "error_description": "the access token is missing or unknown" }));
    };

    let mut claims = json!({ "sub": account.subject(), "name": account.name });
    if let Some(email) = account.email {
        claims["email"] = Value::String(email);
    }
    HttpResponse::Ok().json(claims)
}

fn invalid_tenant(message: String) -> HttpResponse {
    tracing::warn!(error = %message, "test identity provider rejected an unknown tenant");
    HttpResponse::BadRequest()
        .json(json!({ "error": "invalid_tenant", "error_description": message }))
}

/// Parses form-urlencoded parameters, rejecting a repeated name as RFC 6749 section 3.1 requires.
fn parse_unique_params(input: &[u8]) -> Result<HashMap<String, String>, String> {
    let mut params = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(input) {
        if params
            .insert(name.to_string(), value.into_owned())
            .is_some()
        {
            return Err(format!(
                "parameter {name} is repeated; send each parameter once"
            ));
        }
    }
    Ok(params)
}

/// Returns a parameter's value. An empty value counts as missing, as RFC 6749 section 3.1 specifies.
fn required_param<'a>(params: &'a HashMap<String, String>, name: &str) -> Result<&'a str, String> {
    match params.get(name) {
        Some(value) if !value.is_empty() => Ok(value),
        _ => Err(format!("parameter {name} is missing")),
    }
}

fn parse_redirect_uri(value: &str) -> Result<Url, String> {
    let url = Url::parse(value)
        .map_err(|e| format!("redirect_uri {value:?} is not an absolute URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!(
            "redirect_uri {value:?} must be an http or https URL with a host"
        ));
    }
    if url.fragment().is_some() {
        return Err(format!("redirect_uri {value:?} must not have a fragment"));
    }
    Ok(url)
}

/// Returns whether `value` has the form of an S256 challenge: base64url of a SHA-256 digest, unpadded.
fn is_s256_challenge(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

/// Returns whether `value` is a PKCE code verifier as RFC 7636 section 4.1 defines it.
fn is_code_verifier(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-._~".contains(&byte))
}

fn is_guid(value: &str) -> bool {
    let groups: Vec<&str> = value.split('-').collect();
    groups.iter().map(|group| group.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|group| group.bytes().all(|byte| byte.is_ascii_hexdigit()))
}

/// Flips the lowest bit of a JWT's last signature byte, keeping the token well-formed.
fn flip_signature_bit(jwt: &str) -> Result<String, String> {
    let (signing_input, signature) = jwt
        .rsplit_once('.')
        .ok_or_else(|| "the ID token has no signature part".to_owned())?;
    let mut signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|e| format!("the ID token signature is not base64url: {e}"))?;
    let last = signature
        .last_mut()
        .ok_or_else(|| "the ID token signature is empty".to_owned())?;
    *last ^= 0x01;
    Ok(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    ))
}

/// Returns 32 random bytes as unpadded base64url, for codes, tokens, nonces and key ids.
fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

fn sha256_hex(input: &str) -> String {
    Sha256::digest(input)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Formats the first 32 hex digits of `hex` as a GUID (8-4-4-4-12).
fn guid_from_hex(hex: &str) -> String {
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    use openidconnect::core::{
        CoreAuthenticationFlow, CoreClient, CoreIdTokenVerifier, CoreJsonWebKeySet,
        CoreProviderMetadata,
    };
    use openidconnect::{
        AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
        OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
        SignatureVerificationError, TokenResponse,
    };
    use reqwest::redirect::Policy;

    /// Where the provider sends the browser back. The tests never follow the redirect.
    const REDIRECT_URI: &str = "http://127.0.0.1:9/accounts/outlook/callback/";

    /// Tells whether a verification error is the one a fault should cause.
    type ErrorMatcher = fn(&ClaimsVerificationError) -> bool;

    const WORK_TENANT_ID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    /// The client-side secrets of one authorization request.
    struct Flow {
        pkce_verifier: PkceCodeVerifier,
        nonce: String,
        state: String,
    }

    fn http_client() -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(Policy::none())
            .build()
            .expect("HTTP client")
    }

    /// Sends an authorization request for `tenant` with a fresh PKCE pair, nonce and state.
    async fn start_flow(idp: &TestIdp, tenant: &str) -> (Flow, reqwest::Response) {
        let (challenge, pkce_verifier) = PkceCodeChallenge::new_random_sha256();
        let flow = Flow {
            pkce_verifier,
            nonce: random_token(),
            state: random_token(),
        };

        let mut url = Url::parse(&format!(
            "{}/{tenant}/oauth2/v2.0/authorize",
            idp.authority()
        ))
        .expect("authorize URL");
        url.query_pairs_mut()
            .append_pair("client_id", TestIdp::CLIENT_ID)
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", REDIRECT_URI)
            .append_pair("response_mode", "query")
            .append_pair("scope", "openid profile email offline_access User.Read")
            .append_pair("state", &flow.state)
            .append_pair("nonce", &flow.nonce)
            .append_pair("code_challenge", challenge.as_str())
            .append_pair("code_challenge_method", "S256")
            .append_pair("prompt", "select_account");

        let response = http_client()
            .get(url)
            .send()
            .await
            .expect("authorization request");
        (flow, response)
    }

    /// Returns the query parameter `name` of a redirect's Location header.
    fn redirect_param(response: &reqwest::Response, name: &str) -> Option<String> {
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)?
            .to_str()
            .ok()?;
        let url = Url::parse(location).ok()?;
        url.query_pairs()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    }

    /// Runs the authorization request and returns the flow with the code from the redirect.
    async fn authorization_code(idp: &TestIdp, tenant: &str) -> (Flow, String) {
        let (flow, response) = start_flow(idp, tenant).await;
        assert_eq!(
            response.status().as_u16(),
            302,
            "authorization request should redirect"
        );
        assert_eq!(
            redirect_param(&response, "state").as_deref(),
            Some(flow.state.as_str())
        );
        let code = redirect_param(&response, "code").expect("redirect carries a code");
        (flow, code)
    }

    /// Redeems `code` with client_secret_post and returns the status and JSON body.
    async fn redeem(idp: &TestIdp, tenant: &str, code: &str, code_verifier: &str) -> (u16, Value) {
        let response = http_client()
            .post(format!("{}/{tenant}/oauth2/v2.0/token", idp.authority()))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT_URI),
                ("code_verifier", code_verifier),
                ("client_id", TestIdp::CLIENT_ID),
                ("client_secret", TestIdp::CLIENT_SECRET),
            ])
            .send()
            .await
            .expect("token request");
        json_response(response).await
    }

    async fn json_response(response: reqwest::Response) -> (u16, Value) {
        let status = response.status().as_u16();
        let body = response.text().await.expect("response body");
        let json = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {body}"));
        (status, json)
    }

    async fn get_json(url: &str) -> (u16, Value) {
        json_response(http_client().get(url).send().await.expect("GET request")).await
    }

    /// Runs a whole flow through `common` and returns the flow and the raw ID token.
    async fn sign_in(idp: &TestIdp) -> (Flow, String) {
        let (flow, code) = authorization_code(idp, "common").await;
        let (status, body) = redeem(idp, "common", &code, flow.pkce_verifier.secret()).await;
        assert_eq!(status, 200, "token response: {body}");
        let id_token = body["id_token"]
            .as_str()
            .expect("id_token in the token response")
            .to_owned();
        (flow, id_token)
    }

    async fn fetch_jwks(idp: &TestIdp) -> CoreJsonWebKeySet {
        let (status, body) =
            get_json(&format!("{}/common/discovery/v2.0/keys", idp.authority())).await;
        assert_eq!(status, 200);
        serde_json::from_value(body).expect("JWKS parses as a JSON Web Key Set")
    }

    fn jwks_key_ids(jwks: &Value) -> Vec<String> {
        jwks["keys"]
            .as_array()
            .expect("keys array")
            .iter()
            .map(|key| key["kid"].as_str().expect("kid").to_owned())
            .collect()
    }

    /// A verifier as strict as a client should be, which also rejects an `iat` in the future.
    fn strict_verifier(
        idp: &TestIdp,
        jwks: CoreJsonWebKeySet,
        tenant_id: &str,
    ) -> CoreIdTokenVerifier<'static> {
        CoreIdTokenVerifier::new_confidential_client(
            ClientId::new(TestIdp::CLIENT_ID.to_owned()),
            ClientSecret::new(TestIdp::CLIENT_SECRET.to_owned()),
            IssuerUrl::new(idp.issuer_for(tenant_id)).expect("issuer URL"),
            jwks,
        )
        .set_issue_time_verifier_fn(|issued_at| {
            if issued_at > Utc::now() + chrono::Duration::minutes(5) {
                Err(format!("iat {issued_at} is in the future"))
            } else {
                Ok(())
            }
        })
    }

    /// Decodes a JWT's header without checking anything.
    fn jwt_header(jwt: &str) -> Value {
        let header = jwt.split('.').next().expect("header part");
        let bytes = URL_SAFE_NO_PAD.decode(header).expect("header is base64url");
        serde_json::from_slice(&bytes).expect("header is JSON")
    }

    #[tokio::test]
    async fn discovery_common_uses_tenantid_template() {
        let idp = TestIdp::start().await;
        let base = idp.authority();

        let (status, document) = get_json(&format!(
            "{base}/common/v2.0/.well-known/openid-configuration"
        ))
        .await;

        assert_eq!(status, 200);
        assert_eq!(document["issuer"], format!("{base}/{{tenantid}}/v2.0"));
        assert_eq!(
            document["authorization_endpoint"],
            format!("{base}/common/oauth2/v2.0/authorize")
        );
        assert_eq!(
            document["token_endpoint"],
            format!("{base}/common/oauth2/v2.0/token")
        );
        assert_eq!(
            document["jwks_uri"],
            format!("{base}/common/discovery/v2.0/keys")
        );
        assert_eq!(document["subject_types_supported"], json!(["pairwise"]));
        assert_eq!(
            document["id_token_signing_alg_values_supported"],
            json!(["RS256"])
        );
        assert_eq!(
            document["code_challenge_methods_supported"],
            json!(["S256"])
        );
        assert_eq!(idp.discovery_requests(), 1);
    }

    #[tokio::test]
    async fn discovery_for_tenant_id_and_domain() {
        let idp = TestIdp::start().await;
        let base = idp.authority();
        idp.register_domain("contoso.onmicrosoft.com", WORK_TENANT_ID);

        let (_, by_id) = get_json(&format!(
            "{base}/{WORK_TENANT_ID}/v2.0/.well-known/openid-configuration"
        ))
        .await;
        let (_, by_domain) = get_json(&format!(
            "{base}/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration"
        ))
        .await;
        let (_, consumers) = get_json(&format!(
            "{base}/consumers/v2.0/.well-known/openid-configuration"
        ))
        .await;
        let (unknown_status, unknown) = get_json(&format!(
            "{base}/fabrikam.com/v2.0/.well-known/openid-configuration"
        ))
        .await;

        assert_eq!(by_id["issuer"], format!("{base}/{WORK_TENANT_ID}/v2.0"));
        assert_eq!(
            by_id["token_endpoint"],
            format!("{base}/{WORK_TENANT_ID}/oauth2/v2.0/token")
        );
        assert_eq!(by_domain["issuer"], format!("{base}/{WORK_TENANT_ID}/v2.0"));
        assert_eq!(consumers["issuer"], format!("{base}/{{tenantid}}/v2.0"));
        assert_eq!(unknown_status, 400);
        assert_eq!(unknown["error"], "invalid_tenant");
        assert_eq!(idp.discovery_requests(), 4);
    }

    #[tokio::test]
    async fn code_flow_returns_verified_id_token() {
        let idp = TestIdp::start().await;
        let account = IdpAccount::personal("Ada Lovelace", "ada@outlook.com");
        idp.sign_in_as(account.clone());

        let (flow, code) = authorization_code(&idp, "common").await;
        let (status, body) = redeem(&idp, "common", &code, flow.pkce_verifier.secret()).await;
        assert_eq!(status, 200, "token response: {body}");
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 3600);
        assert_eq!(
            body["scope"],
            "openid profile email offline_access User.Read"
        );
        assert!(
            body["access_token"].is_string(),
            "access_token missing: {body}"
        );
        assert!(
            body["refresh_token"].is_string(),
            "refresh_token missing although offline_access was requested: {body}"
        );

        let raw_id_token = body["id_token"].as_str().expect("id_token");
        let header = jwt_header(raw_id_token);
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["kid"], idp.signing_key_id());

        let verifier = strict_verifier(&idp, fetch_jwks(&idp).await, &account.tid);
        let id_token: MicrosoftIdToken = raw_id_token.parse().expect("ID token parses");
        let claims = id_token
            .claims(&verifier, &Nonce::new(flow.nonce.clone()))
            .expect("ID token passes openidconnect's verifier");

        assert_eq!(
            claims.issuer().as_str(),
            format!("{}/{PERSONAL_ACCOUNTS_TENANT_ID}/v2.0", idp.authority())
        );
        assert_eq!(
            claims.audiences(),
            &[Audience::new(TestIdp::CLIENT_ID.to_owned())]
        );
        assert_eq!(claims.subject().as_str(), account.subject());
        assert_eq!(claims.additional_claims().tid, PERSONAL_ACCOUNTS_TENANT_ID);
        assert_eq!(claims.additional_claims().oid, account.oid);
        assert_eq!(claims.additional_claims().ver, "2.0");
        assert_eq!(
            claims.additional_claims().nbf,
            claims.issue_time().timestamp()
        );
        assert_eq!(
            claims.email().map(|email| email.as_str()),
            Some("ada@outlook.com")
        );
        assert_eq!(
            claims
                .preferred_username()
                .map(|username| username.as_str()),
            Some("ada@outlook.com")
        );
        let name = claims
            .name()
            .and_then(|name| name.get(None))
            .map(|name| name.as_str());
        assert_eq!(name, Some("Ada Lovelace"));
        assert!(claims.expiration() > Utc::now(), "exp is not in the future");
        assert_eq!(idp.token_requests(), 1);
        assert_eq!(idp.authorize_requests(), 1);
    }

    #[tokio::test]
    async fn openidconnect_client_signs_in_through_tenant() {
        let idp = TestIdp::start().await;
        let account = IdpAccount::work(
            WORK_TENANT_ID,
            "Grace Hopper",
            "grace@contoso.onmicrosoft.com",
        );
        idp.sign_in_as(account.clone());
        let http = http_client();

        let issuer = IssuerUrl::new(idp.issuer_for(WORK_TENANT_ID)).expect("issuer URL");
        let metadata = CoreProviderMetadata::discover_async(issuer, &http)
            .await
            .expect("openidconnect accepts the discovery document");
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(TestIdp::CLIENT_ID.to_owned()),
            Some(ClientSecret::new(TestIdp::CLIENT_SECRET.to_owned())),
        )
        .set_redirect_uri(RedirectUrl::new(REDIRECT_URI.to_owned()).expect("redirect URL"));

        let (challenge, pkce_verifier) = PkceCodeChallenge::new_random_sha256();
        let (authorize_url, csrf_state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("profile".to_owned()))
            .add_scope(Scope::new("email".to_owned()))
            .set_pkce_challenge(challenge)
            .url();
        let response = http
            .get(authorize_url.as_str())
            .send()
            .await
            .expect("authorization request");
        assert_eq!(response.status().as_u16(), 302);
        assert_eq!(
            redirect_param(&response, "state").as_deref(),
            Some(csrf_state.secret().as_str())
        );
        let code = redirect_param(&response, "code").expect("redirect carries a code");

        // The client sends its credentials with HTTP Basic, so this also checks their decoding.
        let tokens = client
            .exchange_code(AuthorizationCode::new(code))
            .expect("token endpoint is known")
            .set_pkce_verifier(pkce_verifier)
            .request_async(&http)
            .await
            .expect("token exchange succeeds");
        let id_token = tokens.id_token().expect("token response has an ID token");
        let claims = id_token
            .claims(&client.id_token_verifier(), &nonce)
            .expect("ID token passes the client's verifier");

        assert_eq!(claims.subject().as_str(), account.subject());
        assert_eq!(claims.issuer().as_str(), idp.issuer_for(WORK_TENANT_ID));
        assert!(
            tokens.refresh_token().is_none(),
            "refresh token without offline_access"
        );
        assert_eq!(idp.discovery_requests(), 1);
        assert_eq!(idp.jwks_requests(), 1);
        assert_eq!(idp.token_requests(), 1);
    }

    #[tokio::test]
    async fn reused_code_gets_invalid_grant() {
        let idp = TestIdp::start().await;
        let (flow, code) = authorization_code(&idp, "common").await;

        let (first_status, first) =
            redeem(&idp, "common", &code, flow.pkce_verifier.secret()).await;
        let (second_status, second) =
            redeem(&idp, "common", &code, flow.pkce_verifier.secret()).await;

        assert_eq!(first_status, 200, "first redemption: {first}");
        assert_eq!(second_status, 400);
        assert_eq!(second["error"], "invalid_grant");
        assert!(second["error_description"].is_string());
        assert_eq!(idp.token_requests(), 2);
    }

    #[tokio::test]
    async fn wrong_code_verifier_is_rejected() {
        let idp = TestIdp::start().await;
        let (_, code) = authorization_code(&idp, "common").await;
        let (_, other_verifier) = PkceCodeChallenge::new_random_sha256();

        let (status, body) = redeem(&idp, "common", &code, other_verifier.secret()).await;

        assert_eq!(status, 400);
        assert_eq!(body["error"], "invalid_grant");
        assert!(
            body.get("id_token").is_none(),
            "tokens issued for a wrong verifier: {body}"
        );
    }

    #[tokio::test]
    async fn token_request_checks_client_and_redirect() {
        let idp = TestIdp::start().await;
        let token_url = format!("{}/common/oauth2/v2.0/token", idp.authority());

        let (flow, code) = authorization_code(&idp, "common").await;
        let wrong_secret = http_client()
            .post(&token_url)
            .basic_auth(TestIdp::CLIENT_ID, Some("not-the-secret"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT_URI),
                ("code_verifier", flow.pkce_verifier.secret().as_str()),
            ])
            .send()
            .await
            .expect("token request");
        assert!(wrong_secret
            .headers()
            .contains_key(reqwest::header::WWW_AUTHENTICATE));
        let (status, body) = json_response(wrong_secret).await;
        assert_eq!(status, 401);
        assert_eq!(body["error"], "invalid_client");

        let (flow, code) = authorization_code(&idp, "common").await;
        let wrong_redirect = http_client()
            .post(&token_url)
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", "http://127.0.0.1:9/elsewhere/"),
                ("code_verifier", flow.pkce_verifier.secret().as_str()),
                ("client_id", TestIdp::CLIENT_ID),
                ("client_secret", TestIdp::CLIENT_SECRET),
            ])
            .send()
            .await
            .expect("token request");
        let (status, body) = json_response(wrong_redirect).await;
        assert_eq!(status, 400);
        assert_eq!(body["error"], "invalid_grant");

        let (status, body) =
            redeem(&idp, "common", "no-such-code", flow.pkce_verifier.secret()).await;
        assert_eq!(status, 400);
        assert_eq!(body["error"], "invalid_grant");
    }

    #[tokio::test]
    async fn rotate_key_changes_jwks_kid() {
        let idp = TestIdp::start().await;
        let keys_url = format!("{}/common/discovery/v2.0/keys", idp.authority());

        let (_, before) = get_json(&keys_url).await;
        let first_kid = idp.signing_key_id();
        assert_eq!(jwks_key_ids(&before), vec![first_kid.clone()]);
        let key = &before["keys"][0];
        assert_eq!(key["kty"], "RSA");
        assert_eq!(key["use"], "sig");
        assert_eq!(key["alg"], "RS256");
        assert_eq!(key["e"], "AQAB");
        assert!(
            key["n"].as_str().is_some_and(|n| n.len() > 300),
            "modulus too short: {key}"
        );

        idp.rotate_key();
        let (_, after) = get_json(&keys_url).await;
        let second_kid = idp.signing_key_id();
        assert_ne!(second_kid, first_kid);
        assert_eq!(jwks_key_ids(&after), vec![second_kid.clone()]);
        assert_ne!(
            after["keys"][0]["n"], before["keys"][0]["n"],
            "rotation kept the same RSA key"
        );

        idp.rotate_key_keeping_old();
        let (_, both) = get_json(&keys_url).await;
        let third_kid = idp.signing_key_id();
        assert_eq!(jwks_key_ids(&both), vec![third_kid, second_kid]);
        assert_eq!(idp.jwks_requests(), 3);

        let (_, id_token) = sign_in(&idp).await;
        assert_eq!(jwt_header(&id_token)["kid"], idp.signing_key_id());
    }

    #[tokio::test]
    async fn token_faults_fail_verification() {
        let idp = TestIdp::start().await;
        let account = IdpAccount::personal("Ada Lovelace", "ada@outlook.com");
        idp.sign_in_as(account.clone());
        // Each fault must be rejected for its own reason, not for an unrelated defect.
        let cases: [(Fault, ErrorMatcher); 9] = [
            (Fault::WrongNonce, |e| {
                matches!(e, ClaimsVerificationError::InvalidNonce(_))
            }),
            (Fault::BadSignature, |e| {
                matches!(
                    e,
                    ClaimsVerificationError::SignatureVerification(
                        SignatureVerificationError::CryptoError(_)
                    )
                )
            }),
            (Fault::UnknownKey, |e| {
                matches!(
                    e,
                    ClaimsVerificationError::SignatureVerification(
                        SignatureVerificationError::NoMatchingKey
                    )
                )
            }),
            (Fault::Expired, |e| {
                matches!(e, ClaimsVerificationError::Expired(_))
            }),
            (
                Fault::IssuedInFuture,
                |e| matches!(e, ClaimsVerificationError::Expired(message) if message.contains("in the future")),
            ),
            (Fault::WrongAudience, |e| {
                matches!(e, ClaimsVerificationError::InvalidAudience(_))
            }),
            (Fault::WrongIssuer, |e| {
                matches!(e, ClaimsVerificationError::InvalidIssuer(_))
            }),
            (Fault::AlgNone, |e| {
                matches!(
                    e,
                    ClaimsVerificationError::SignatureVerification(
                        SignatureVerificationError::NoSignature
                    )
                )
            }),
            (Fault::HmacSigned, |e| {
                matches!(
                    e,
                    ClaimsVerificationError::SignatureVerification(
                        SignatureVerificationError::DisallowedAlg(_)
                    )
                )
            }),
        ];

        for (fault, is_expected_error) in cases {
            idp.clear_faults();
            idp.inject(fault);
            let (flow, raw_id_token) = sign_in(&idp).await;
            let verifier = strict_verifier(&idp, fetch_jwks(&idp).await, &account.tid);

            let id_token: MicrosoftIdToken = raw_id_token.parse().expect("ID token parses");
            let result = id_token.claims(&verifier, &Nonce::new(flow.nonce.clone()));

            let Err(error) = result else {
                panic!("{fault:?}: the verifier accepted the token");
            };
            assert!(
                is_expected_error(&error),
                "{fault:?}: rejected for another reason: {error:?}"
            );
        }

        idp.clear_faults();
        let (flow, raw_id_token) = sign_in(&idp).await;
        let verifier = strict_verifier(&idp, fetch_jwks(&idp).await, &account.tid);
        let id_token: MicrosoftIdToken = raw_id_token.parse().expect("ID token parses");
        assert!(
            id_token.claims(&verifier, &Nonce::new(flow.nonce)).is_ok(),
            "clear_faults left a fault active"
        );
    }

    #[tokio::test]
    async fn faults_set_the_documented_claims() {
        let idp = TestIdp::start().await;
        let account = IdpAccount::work(
            WORK_TENANT_ID,
            "Grace Hopper",
            "grace@contoso.onmicrosoft.com",
        );
        idp.sign_in_as(account.clone());
        let payload = |jwt: &str| -> Value {
            let part = jwt.split('.').nth(1).expect("payload part");
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
        };
        let now = Utc::now().timestamp();

        idp.inject(Fault::Expired);
        let (_, expired) = sign_in(&idp).await;
        let exp = payload(&expired)["exp"].as_i64().expect("exp");
        assert!(
            (now - 3700..now - 3500).contains(&exp),
            "exp {exp} is not an hour before {now}"
        );

        idp.clear_faults();
        idp.inject(Fault::IssuedInFuture);
        let (_, future) = sign_in(&idp).await;
        let iat = payload(&future)["iat"].as_i64().expect("iat");
        assert!(
            (now + 3500..now + 3700).contains(&iat),
            "iat {iat} is not an hour after {now}"
        );
        assert_eq!(payload(&future)["nbf"], iat);

        idp.clear_faults();
        idp.inject(Fault::WrongIssuer);
        let (_, wrong_issuer) = sign_in(&idp).await;
        assert_eq!(
            payload(&wrong_issuer)["iss"],
            idp.issuer_for(OTHER_TENANT_ID)
        );
        assert_eq!(payload(&wrong_issuer)["tid"], WORK_TENANT_ID);

        idp.clear_faults();
        idp.inject(Fault::UnknownKey);
        let (_, unknown_key) = sign_in(&idp).await;
        let (_, jwks) = get_json(&format!("{}/common/discovery/v2.0/keys", idp.authority())).await;
        let kid = jwt_header(&unknown_key)["kid"]
            .as_str()
            .expect("kid")
            .to_owned();
        assert!(
            !jwks_key_ids(&jwks).contains(&kid),
            "kid {kid} is in the JWKS"
        );

        idp.clear_faults();
        idp.inject(Fault::AlgNone);
        let (_, unsigned) = sign_in(&idp).await;
        assert_eq!(jwt_header(&unsigned)["alg"], "none");
        assert!(unsigned.ends_with('.'), "unsigned token has a signature");

        idp.clear_faults();
        idp.inject(Fault::HmacSigned);
        let (_, hmac) = sign_in(&idp).await;
        assert_eq!(jwt_header(&hmac)["alg"], "HS256");
    }

    #[tokio::test]
    async fn cancel_fault_redirects_with_access_denied() {
        let idp = TestIdp::start().await;
        idp.inject(Fault::Cancel);

        let (flow, response) = start_flow(&idp, "common").await;

        assert_eq!(response.status().as_u16(), 302);
        assert_eq!(
            redirect_param(&response, "error").as_deref(),
            Some("access_denied")
        );
        assert!(redirect_param(&response, "error_description").is_some());
        assert_eq!(
            redirect_param(&response, "state").as_deref(),
            Some(flow.state.as_str())
        );
        assert_eq!(redirect_param(&response, "code"), None);
        let location = response.headers()[reqwest::header::LOCATION]
            .to_str()
            .expect("ASCII Location");
        assert!(location.starts_with(REDIRECT_URI), "redirect to {location}");
    }

    #[tokio::test]
    async fn discovery_down_fault_returns_503() {
        let idp = TestIdp::start().await;
        let url = format!(
            "{}/common/v2.0/.well-known/openid-configuration",
            idp.authority()
        );
        idp.inject(Fault::DiscoveryDown);

        let down = http_client()
            .get(&url)
            .send()
            .await
            .expect("discovery request");
        idp.clear_faults();
        let (up_status, _) = get_json(&url).await;

        assert_eq!(down.status().as_u16(), 503);
        assert_eq!(up_status, 200);
        assert_eq!(idp.discovery_requests(), 2);
    }

    #[tokio::test]
    async fn token_endpoint_error_fault_returns_500() {
        let idp = TestIdp::start().await;
        idp.inject(Fault::TokenEndpointError);
        let (flow, code) = authorization_code(&idp, "common").await;

        let (status, body) = redeem(&idp, "common", &code, flow.pkce_verifier.secret()).await;

        assert_eq!(status, 500);
        assert_eq!(body["error"], "server_error");
        assert!(body["error_description"].is_string());
    }

    #[tokio::test]
    async fn timeout_fault_outlasts_client_timeout() {
        let idp = TestIdp::start().await;
        idp.inject(Fault::TokenEndpointTimeout);
        let (flow, code) = authorization_code(&idp, "common").await;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(500))
            .build()
            .expect("HTTP client");

        let result = client
            .post(format!("{}/common/oauth2/v2.0/token", idp.authority()))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT_URI),
                ("code_verifier", flow.pkce_verifier.secret().as_str()),
                ("client_id", TestIdp::CLIENT_ID),
                ("client_secret", TestIdp::CLIENT_SECRET),
            ])
            .send()
            .await;

        let error = result.expect_err("the token endpoint answered before the client timeout");
        assert!(error.is_timeout(), "expected a timeout, got {error}");
        assert_eq!(idp.token_requests(), 1);
    }

    #[tokio::test]
    async fn account_without_email_has_no_email_claim() {
        let idp = TestIdp::start().await;
        let account = IdpAccount::work(
            WORK_TENANT_ID,
            "Grace Hopper",
            "grace@contoso.onmicrosoft.com",
        )
        .without_email();
        idp.sign_in_as(account.clone());

        let (flow, raw_id_token) = sign_in(&idp).await;
        let verifier = strict_verifier(&idp, fetch_jwks(&idp).await, WORK_TENANT_ID);
        let id_token: MicrosoftIdToken = raw_id_token.parse().expect("ID token parses");
        let claims = id_token
            .claims(&verifier, &Nonce::new(flow.nonce))
            .expect("ID token passes the verifier");

        assert_eq!(claims.email(), None);
        assert_eq!(
            claims
                .preferred_username()
                .map(|username| username.as_str()),
            Some("grace@contoso.onmicrosoft.com")
        );
        assert_eq!(claims.additional_claims().oid, account.oid);
    }

    #[tokio::test]
    async fn authorize_rejects_invalid_requests() {
        let idp = TestIdp::start().await;
        let (challenge, _) = PkceCodeChallenge::new_random_sha256();
        let valid = [
            ("client_id", TestIdp::CLIENT_ID),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "openid profile"),
            ("state", "state-1"),
            ("nonce", "nonce-1"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        let cases: [(&str, &str, Option<&str>); 8] = [
            (
                "wrong client_id",
                "client_id",
                Some("00000000-0000-0000-0000-000000000000"),
            ),
            ("missing redirect_uri", "redirect_uri", None),
            ("relative redirect_uri", "redirect_uri", Some("/callback")),
            ("implicit flow", "response_type", Some("token")),
            ("scope without openid", "scope", Some("profile email")),
            ("plain PKCE", "code_challenge_method", Some("plain")),
            ("missing PKCE method", "code_challenge_method", None),
            ("missing code_challenge", "code_challenge", None),
        ];

        for (case, name, value) in cases {
            let mut url = Url::parse(&format!("{}/common/oauth2/v2.0/authorize", idp.authority()))
                .expect("URL");
            for (param, default) in valid {
                let value = if param == name { value } else { Some(default) };
                if let Some(value) = value {
                    url.query_pairs_mut().append_pair(param, value);
                }
            }

            let response = http_client()
                .get(url)
                .send()
                .await
                .expect("authorization request");

            assert_eq!(response.status().as_u16(), 400, "{case}: expected 400");
            let body = response.text().await.expect("body");
            assert!(
                body.contains(name),
                "{case}: message {body:?} does not name {name}"
            );
        }
        assert_eq!(idp.authorize_requests(), cases.len());
    }

    #[tokio::test]
    async fn restrict_tenants_rejects_foreign_accounts() {
        let idp = TestIdp::start().await;
        let work = IdpAccount::work(
            WORK_TENANT_ID,
            "Grace Hopper",
            "grace@contoso.onmicrosoft.com",
        );
        let personal = IdpAccount::personal("Ada Lovelace", "ada@outlook.com");

        idp.sign_in_as(work.clone());
        let (_, unrestricted) = start_flow(&idp, "consumers").await;
        assert_eq!(
            unrestricted.status().as_u16(),
            302,
            "tenants are restricted by default"
        );

        idp.restrict_tenants();
        let (_, work_through_consumers) = start_flow(&idp, "consumers").await;
        let (_, work_through_tenant) = start_flow(&idp, WORK_TENANT_ID).await;
        idp.sign_in_as(personal);
        let (_, personal_through_organizations) = start_flow(&idp, "organizations").await;
        let (_, personal_through_consumers) = start_flow(&idp, "consumers").await;

        assert_eq!(work_through_consumers.status().as_u16(), 400);
        assert_eq!(work_through_tenant.status().as_u16(), 302);
        assert_eq!(personal_through_organizations.status().as_u16(), 400);
        assert_eq!(personal_through_consumers.status().as_u16(), 302);
    }

    #[tokio::test]
    async fn userinfo_returns_signed_in_account() {
        let idp = TestIdp::start().await;
        let account = IdpAccount::personal("Ada Lovelace", "ada@outlook.com");
        idp.sign_in_as(account.clone());
        let (flow, code) = authorization_code(&idp, "common").await;
        let (_, tokens) = redeem(&idp, "common", &code, flow.pkce_verifier.secret()).await;
        let access_token = tokens["access_token"].as_str().expect("access_token");
        let userinfo_url = format!("{}/oidc/userinfo", idp.authority());

        let response = http_client()
            .get(&userinfo_url)
            .bearer_auth(access_token)
            .send()
            .await
            .expect("userinfo request");
        let (status, claims) = json_response(response).await;
        let anonymous = http_client()
            .get(&userinfo_url)
            .send()
            .await
            .expect("userinfo request");

        assert_eq!(status, 200);
        assert_eq!(claims["sub"], account.subject());
        assert_eq!(claims["email"], "ada@outlook.com");
        assert_eq!(anonymous.status().as_u16(), 401);
    }
}
