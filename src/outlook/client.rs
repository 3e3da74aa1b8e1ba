//! The authorization code flow with PKCE against the Microsoft identity platform v2.0, and
//! every check of the ID token it returns.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKeySet,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    reqwest, AdditionalClaims, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret,
    CsrfToken, HttpClientError, IdToken, IdTokenClaims, IdTokenVerifier, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError,
    Scope, SignatureVerificationError, TokenResponse,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, OnceCell};
use url::Url;

use super::{OutlookError, TenantPolicy};
use crate::config::OutlookSettings;

/// Tokens and servers disagree on the time by a few seconds; more than this is an error.
const CLOCK_SKEW: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// A fresh key set is fetched for an unknown key id at most this often, so a flood of forged
/// tokens cannot turn this site into a flood of requests to Microsoft.
const KEY_REFRESH_INTERVAL: Duration = Duration::from_secs(60);

/// How long a started sign-in stays valid.
pub const FLOW_LIFETIME: chrono::TimeDelta = chrono::TimeDelta::minutes(10);

/// The claims Microsoft adds to the standard ones: the tenant and the object id, which
/// together identify an account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MicrosoftClaims {
    pub tid: Option<String>,
    pub oid: Option<String>,
}

impl AdditionalClaims for MicrosoftClaims {}

type MicrosoftIdToken = IdToken<
    MicrosoftClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// The openidconnect client as built from discovery: authorize endpoint set, token and user
/// info endpoints set when discovery lists them.
type DiscoveredClient = openidconnect::Client<
    openidconnect::EmptyAdditionalClaims,
    openidconnect::core::CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    openidconnect::core::CoreJsonWebKey,
    openidconnect::core::CoreAuthPrompt,
    openidconnect::StandardErrorResponse<CoreErrorResponseType>,
    openidconnect::core::CoreTokenResponse,
    openidconnect::core::CoreTokenIntrospectionResponse,
    openidconnect::core::CoreRevocableToken,
    openidconnect::core::CoreRevocationErrorResponse,
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// What the site keeps in the server-side session between the redirect to Microsoft and the
/// callback. It never goes into a cookie.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FlowState {
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
    /// The signed-in user who asked to link an account; `None` for a sign-in.
    pub link_user_id: Option<i32>,
    pub started_at: DateTime<Utc>,
    /// Where to go after sign-in: a local path checked when the flow started.
    pub next: Option<String>,
}

impl FlowState {
    pub fn is_expired(&self) -> bool {
        Utc::now() - self.started_at > FLOW_LIFETIME
    }
}

/// The person Microsoft signed in, after every check passed.
#[derive(Debug, Clone)]
pub struct Identity {
    pub tenant_id: String,
    pub object_id: String,
    pub name: String,
    pub given_name: String,
    pub family_name: String,
    /// Optional in Microsoft's tokens and not always verified: shown, never matched on.
    pub email: Option<String>,
    pub preferred_username: String,
}

/// The tokens from the token endpoint; kept only sealed.
pub struct IssuedTokens {
    pub access_token: SecretString,
    pub refresh_token: Option<SecretString>,
    pub expires_at: Option<DateTime<Utc>>,
    pub scopes: Vec<String>,
}

impl std::fmt::Debug for IssuedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedTokens")
            .field("expires_at", &self.expires_at)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
pub struct VerifiedSignIn {
    pub identity: Identity,
    pub tokens: IssuedTokens,
}

/// Provider metadata as discovered, with the issuer exactly as written there: for the
/// multi-tenant endpoints it is a template with a literal `{tenantid}`.
struct Provider {
    metadata: CoreProviderMetadata,
    issuer: String,
}

struct KeyCache {
    keys: Option<CoreJsonWebKeySet>,
    refreshed_for_unknown_key: Option<Instant>,
}

/// Talks to the identity platform. Discovery and keys are fetched on first use and cached, so
/// the site starts even while Microsoft is unreachable.
pub struct OutlookClient {
    client_id: ClientId,
    client_secret: SecretString,
    discovery_url: Url,
    redirect_uri: RedirectUrl,
    scopes: Vec<Scope>,
    policy: TenantPolicy,
    http: reqwest::Client,
    provider: OnceCell<Arc<Provider>>,
    keys: Mutex<KeyCache>,
}

impl OutlookClient {
    pub fn new(settings: &OutlookSettings, public_url: &Url) -> anyhow::Result<Self> {
        let timeout = settings.http_timeout;
        let discovery_url = Url::parse(&format!(
            "{}/{}/v2.0/.well-known/openid-configuration",
            settings.authority.as_str().trim_end_matches('/'),
            settings.tenant
        ))?;
        let redirect_uri = RedirectUrl::new(format!(
            "{}/accounts/outlook/callback/",
            public_url.as_str().trim_end_matches('/')
        ))?;

        // Redirects are never followed: a token endpoint that redirects is misconfigured or
        // hostile, and following it would send the client secret elsewhere.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .timeout(timeout)
            .build()?;

        Ok(OutlookClient {
            client_id: ClientId::new(settings.client_id.clone()),
            client_secret: settings.client_secret.clone(),
            discovery_url,
            redirect_uri,
            scopes: settings
                .scopes
                .iter()
                .filter(|scope| scope.as_str() != "openid")
                .map(|scope| Scope::new(scope.clone()))
                .collect(),
            policy: TenantPolicy {
                tenant: settings.tenant.clone(),
                allowed: settings.allowed_tenants.clone(),
            },
            http,
            provider: OnceCell::new(),
            keys: Mutex::new(KeyCache {
                keys: None,
                refreshed_for_unknown_key: None,
            }),
        })
    }

    /// Starts a flow: returns the URL of Microsoft's authorize endpoint and the state to keep
    /// in the session until the callback.
    pub async fn begin(
        &self,
        link_user_id: Option<i32>,
        next: Option<String>,
    ) -> Result<(Url, FlowState), OutlookError> {
        let provider = self.provider().await?;
        let client = self.client(&provider);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();

        let (url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scopes(self.scopes.iter().cloned())
            .set_pkce_challenge(challenge)
            .url();

        let flow = FlowState {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            link_user_id,
            started_at: Utc::now(),
            next,
        };
        Ok((url, flow))
    }

    /// Redeems the authorization code and verifies the ID token: signature (RS256 only),
    /// audience, expiry and issue time, nonce, issuer and tenant.
    pub async fn finish(
        &self,
        flow: &FlowState,
        code: &str,
    ) -> Result<VerifiedSignIn, OutlookError> {
        let provider = self.provider().await?;
        let client = self.client(&provider);

        let request = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| OutlookError::BadProviderResponse(format!("no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(flow.pkce_verifier.clone()));
        let response = request
            .request_async(&self.http)
            .await
            .map_err(token_error)?;

        let raw_id_token = response
            .id_token()
            .ok_or_else(|| {
                OutlookError::InvalidIdToken("the token response has no ID token".into())
            })?
            .to_string();
        let id_token: MicrosoftIdToken = raw_id_token
            .parse()
            .map_err(|e| OutlookError::InvalidIdToken(format!("malformed: {e}")))?;

        let nonce = Nonce::new(flow.nonce.clone());
        let claims = self.verify(&provider, &id_token, &nonce).await?;
        let identity = self.identity(&provider, &claims)?;

        let tokens = IssuedTokens {
            access_token: SecretString::from(response.access_token().secret().clone()),
            refresh_token: response
                .refresh_token()
                .map(|token| SecretString::from(token.secret().clone())),
            expires_at: response
                .expires_in()
                .and_then(|d| chrono::TimeDelta::from_std(d).ok())
                .map(|d| Utc::now() + d),
            scopes: response
                .scopes()
                .map(|scopes| scopes.iter().map(|s| s.to_string()).collect())
                .unwrap_or_default(),
        };
        Ok(VerifiedSignIn { identity, tokens })
    }

    fn client(&self, provider: &Provider) -> DiscoveredClient {
        CoreClient::from_provider_metadata(
            provider.metadata.clone(),
            self.client_id.clone(),
            Some(ClientSecret::new(
                self.client_secret.expose_secret().to_owned(),
            )),
        )
        .set_redirect_uri(self.redirect_uri.clone())
    }

    /// Fetches the discovery document once; a failed fetch is tried again on the next sign-in.
    async fn provider(&self) -> Result<Arc<Provider>, OutlookError> {
        self.provider
            .get_or_try_init(|| async {
                let document: serde_json::Value = self.get_json(&self.discovery_url).await?;
                let issuer = document
                    .get("issuer")
                    .and_then(|v| v.as_str())
                    .ok_or_else(|| OutlookError::BadProviderResponse("discovery has no issuer".into()))?
                    .to_owned();
                let metadata: CoreProviderMetadata = serde_json::from_value(document)
                    .map_err(|e| OutlookError::BadProviderResponse(format!("discovery: {e}")))?;

                for endpoint in [
                    metadata.authorization_endpoint().url(),
                    metadata.jwks_uri().url(),
                ]
                .into_iter()
                .chain(metadata.token_endpoint().map(|t| t.url()))
                {
                    check_endpoint(endpoint)?;
                }
                tracing::info!(issuer = %issuer, "fetched the identity platform's discovery document");
                Ok(Arc::new(Provider { metadata, issuer }))
            })
            .await
            .cloned()
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &Url) -> Result<T, OutlookError> {
        let response = self
            .http
            .get(url.clone())
            .send()
            .await
            .map_err(request_error)?;
        let status = response.status();
        if !status.is_success() {
            return Err(OutlookError::BadProviderResponse(format!(
                "{url} answered {status}"
            )));
        }
        let body = response.bytes().await.map_err(request_error)?;
        serde_json::from_slice(&body)
            .map_err(|e| OutlookError::BadProviderResponse(format!("{url}: invalid JSON: {e}")))
    }

    /// The cached signing keys; fetched when absent, or when `unknown_key` is set and the
    /// last such refresh is older than [`KEY_REFRESH_INTERVAL`]. Returns `None` when a refresh
    /// was wanted but is not yet allowed.
    async fn signing_keys(
        &self,
        provider: &Provider,
        unknown_key: bool,
    ) -> Result<Option<CoreJsonWebKeySet>, OutlookError> {
        let mut cache = self.keys.lock().await;
        match (&cache.keys, unknown_key) {
            (Some(keys), false) => return Ok(Some(keys.clone())),
            (Some(_), true) => {
                let recent = cache
                    .refreshed_for_unknown_key
                    .is_some_and(|at| at.elapsed() < KEY_REFRESH_INTERVAL);
                if recent {
                    return Ok(None);
                }
                cache.refreshed_for_unknown_key = Some(Instant::now());
            }
            (None, _) => {}
        }

        let keys: CoreJsonWebKeySet = self.get_json(provider.metadata.jwks_uri().url()).await?;
        tracing::info!(
            keys = keys.keys().len(),
            "fetched the identity platform's signing keys"
        );
        cache.keys = Some(keys.clone());
        Ok(Some(keys))
    }

    async fn verify(
        &self,
        provider: &Provider,
        id_token: &MicrosoftIdToken,
        nonce: &Nonce,
    ) -> Result<IdTokenClaims<MicrosoftClaims, CoreGenderClaim>, OutlookError> {
        let keys = self
            .signing_keys(provider, false)
            .await?
            .ok_or_else(|| OutlookError::InvalidIdToken("no signing keys".into()))?;
        match id_token.claims(&self.verifier(provider, keys), nonce) {
            Ok(claims) => return Ok(claims.clone()),
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {}
            Err(other) => return Err(OutlookError::InvalidIdToken(other.to_string())),
        }

        // Microsoft rotates its keys: an unknown key id is worth one fresh look at the set.
        let Some(keys) = self.signing_keys(provider, true).await? else {
            return Err(OutlookError::InvalidIdToken(
                "signed with an unknown key, and the key set was refreshed less than a minute ago"
                    .into(),
            ));
        };
        id_token
            .claims(&self.verifier(provider, keys), nonce)
            .cloned()
            .map_err(|e| {
                OutlookError::InvalidIdToken(format!("{e} (after refreshing the key set)"))
            })
    }

    fn verifier(
        &self,
        provider: &Provider,
        keys: CoreJsonWebKeySet,
    ) -> IdTokenVerifier<'static, openidconnect::core::CoreJsonWebKey> {
        // A public-client verifier holds no client secret, so an HMAC-signed token cannot
        // verify; the issuer is checked by `identity` because of the `{tenantid}` template.
        IdTokenVerifier::new_public_client(
            self.client_id.clone(),
            provider.metadata.issuer().clone(),
            keys,
        )
        .require_issuer_match(false)
        .set_allowed_algs([CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256])
        .set_time_fn(|| Utc::now() - CLOCK_SKEW)
        .set_issue_time_verifier_fn(|issued_at| {
            if issued_at > Utc::now() + CLOCK_SKEW {
                Err(format!("issued in the future ({issued_at})"))
            } else {
                Ok(())
            }
        })
    }

    /// Checks issuer and tenant, and reads the account's identity from verified claims.
    fn identity(
        &self,
        provider: &Provider,
        claims: &IdTokenClaims<MicrosoftClaims, CoreGenderClaim>,
    ) -> Result<Identity, OutlookError> {
        let extra = claims.additional_claims();
        let (Some(tid), Some(oid)) = (extra.tid.clone(), extra.oid.clone()) else {
            return Err(OutlookError::InvalidIdToken(
                "the tid or oid claim is missing".into(),
            ));
        };
        if tid.is_empty() || oid.is_empty() || tid.len() > 64 || oid.len() > 64 {
            return Err(OutlookError::InvalidIdToken(
                "the tid or oid claim is malformed".into(),
            ));
        }

        let expected_issuer = provider.issuer.replace("{tenantid}", &tid);
        if claims.issuer().as_str() != expected_issuer {
            return Err(OutlookError::InvalidIdToken(format!(
                "issuer {} does not match {expected_issuer}",
                claims.issuer().as_str()
            )));
        }
        self.policy.check(&tid)?;

        let text = |claim: Option<&str>| claim.unwrap_or_default().to_owned();
        Ok(Identity {
            tenant_id: tid,
            object_id: oid,
            name: text(claims.name().and_then(|n| n.get(None)).map(|n| n.as_str())),
            given_name: text(
                claims
                    .given_name()
                    .and_then(|n| n.get(None))
                    .map(|n| n.as_str()),
            ),
            family_name: text(
                claims
                    .family_name()
                    .and_then(|n| n.get(None))
                    .map(|n| n.as_str()),
            ),
            email: claims
                .email()
                .map(|e| e.as_str().to_owned())
                .filter(|e| !e.is_empty()),
            preferred_username: text(claims.preferred_username().map(|u| u.as_str())),
        })
    }
}

/// Endpoints from discovery must use https, except on this machine (tests).
fn check_endpoint(url: &Url) -> Result<(), OutlookError> {
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(domain)) => domain == "localhost",
        None => false,
    };
    if url.scheme() == "https" || loopback {
        Ok(())
    } else {
        Err(OutlookError::BadProviderResponse(format!(
            "endpoint {url} does not use https"
        )))
    }
}

fn request_error(error: reqwest::Error) -> OutlookError {
    let described = match error.url() {
        Some(url) => format!("{} ({url})", describe(&error)),
        None => describe(&error),
    };
    if error.is_timeout() {
        OutlookError::TimedOut(described)
    } else {
        OutlookError::Unreachable(described)
    }
}

fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn token_error(
    error: RequestTokenError<
        HttpClientError<reqwest::Error>,
        openidconnect::StandardErrorResponse<CoreErrorResponseType>,
    >,
) -> OutlookError {
    match error {
        RequestTokenError::ServerResponse(response) => {
            let code = response.error().to_string();
            if matches!(response.error(), CoreErrorResponseType::InvalidGrant) {
                OutlookError::CodeRejected(code)
            } else {
                OutlookError::TokenEndpointError(code)
            }
        }
        RequestTokenError::Request(HttpClientError::Reqwest(inner)) => request_error(*inner),
        RequestTokenError::Request(other) => OutlookError::Unreachable(describe(&other)),
        RequestTokenError::Parse(e, _) => {
            OutlookError::BadProviderResponse(format!("token response: {e}"))
        }
        RequestTokenError::Other(text) => OutlookError::TokenEndpointError(text),
    }
}
