//! Sign-in with a Microsoft account (Outlook.com, Microsoft 365, Entra ID) over OpenID Connect.
//!
//! `client` talks to the identity platform and verifies ID tokens, `link` turns a verified
//! identity into a user of this site, and `tokens` seals the tokens kept in the database.
//! A Microsoft account is identified by its tenant id (`tid`) and object id (`oid`) only:
//! the email and `preferred_username` claims can be changed by a tenant administrator and are
//! not always verified, so matching on them would let one account take over another.

pub mod client;
pub mod link;
pub mod tokens;

use actix_web::http::StatusCode;

pub use client::{FlowState, OutlookClient, VerifiedSignIn};

/// The tenant id Microsoft gives every personal account (Outlook.com, Hotmail, Xbox).
pub const CONSUMER_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// What a person sees and what the log records when sign-in with Outlook fails.
#[derive(Debug, thiserror::Error)]
pub enum OutlookError {
    #[error("the person cancelled or Microsoft refused sign-in ({code})")]
    Cancelled { code: String },
    #[error("no sign-in was in progress in this session")]
    NoFlowInProgress,
    #[error("the state parameter does not match the one sent")]
    StateMismatch,
    #[error("the callback has no authorization code")]
    MissingCode,
    #[error("Microsoft's identity platform could not be reached: {0}")]
    Unreachable(String),
    #[error("Microsoft's identity platform did not answer in time: {0}")]
    TimedOut(String),
    #[error("Microsoft's identity platform sent an invalid answer: {0}")]
    BadProviderResponse(String),
    #[error("the token endpoint rejected the authorization code ({0})")]
    CodeRejected(String),
    #[error("the token endpoint returned an error ({0})")]
    TokenEndpointError(String),
    #[error("the ID token is invalid: {0}")]
    InvalidIdToken(String),
    #[error("tenant {0} is not allowed to sign in here")]
    TenantNotAllowed(String),
    #[error("the Microsoft account is already linked to another user")]
    AlreadyLinked,
    #[error("the session's user changed during sign-in")]
    UserChanged,
    #[error("the linked user is inactive")]
    UserInactive,
    #[error("the account is the user's last way to sign in")]
    LastSignInMethod,
}

impl OutlookError {
    pub fn status(&self) -> StatusCode {
        match self {
            OutlookError::Unreachable(_)
            | OutlookError::BadProviderResponse(_)
            | OutlookError::TokenEndpointError(_) => StatusCode::BAD_GATEWAY,
            OutlookError::TimedOut(_) => StatusCode::GATEWAY_TIMEOUT,
            OutlookError::TenantNotAllowed(_) => StatusCode::FORBIDDEN,
            OutlookError::AlreadyLinked | OutlookError::LastSignInMethod => StatusCode::CONFLICT,
            OutlookError::UserInactive => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The heading and explanation for the error page.
    pub fn page_text(&self) -> (&'static str, &'static str) {
        match self {
            OutlookError::Cancelled { .. } => (
                "Sign-in with Outlook was cancelled",
                "Microsoft did not sign you in, so nothing changed here. You can try again, or log in with your username and password.",
            ),
            OutlookError::NoFlowInProgress | OutlookError::StateMismatch | OutlookError::MissingCode => (
                "This sign-in link is not valid",
                "The sign-in expired or was started in another browser or tab. Start sign-in with Outlook again from this page.",
            ),
            OutlookError::Unreachable(_) | OutlookError::BadProviderResponse(_) => (
                "Microsoft is not answering",
                "This site could not reach Microsoft's sign-in service. Try again in a few minutes.",
            ),
            OutlookError::TimedOut(_) => (
                "Microsoft took too long to answer",
                "Microsoft's sign-in service did not answer in time. Try again in a few minutes.",
            ),
            OutlookError::CodeRejected(_) => (
                "This sign-in was already used",
                "Microsoft refused the sign-in code: it was used before or has expired. Start sign-in with Outlook again.",
            ),
            OutlookError::TokenEndpointError(_) => (
                "Microsoft refused the sign-in",
                "Microsoft's sign-in service returned an error. Try again in a few minutes.",
            ),
            OutlookError::InvalidIdToken(_) => (
                "The sign-in could not be verified",
                "The answer from Microsoft failed a security check, so you were not signed in. Start sign-in with Outlook again.",
            ),
            OutlookError::TenantNotAllowed(_) => (
                "This Microsoft account cannot sign in here",
                "This site accepts only Microsoft accounts from certain organizations, and yours is not one of them. Log in with your username and password instead.",
            ),
            OutlookError::AlreadyLinked => (
                "This Microsoft account is linked to another user",
                "A Microsoft account can be linked to one user of this site only. Log in as that user and disconnect it there first.",
            ),
            OutlookError::UserInactive => (
                "This account is deactivated",
                "The user linked to this Microsoft account has been deactivated. Contact the site's operators.",
            ),
            OutlookError::LastSignInMethod => (
                "Set a password first",
                "This Microsoft account is your only way to sign in. Set a password on the password page before you disconnect it.",
            ),
            OutlookError::UserChanged => (
                "You signed in as someone else meanwhile",
                "The user who started linking is no longer signed in in this browser, so nothing was linked. Start again from your profile.",
            ),
        }
    }
}

/// Which tenants a setting of `OUTLOOK_TENANT` and `OUTLOOK_ALLOWED_TENANTS` lets in.
#[derive(Debug, Clone)]
pub struct TenantPolicy {
    /// `common`, `organizations`, `consumers`, or one tenant's id or domain.
    pub tenant: String,
    /// When not empty, only these tenant ids.
    pub allowed: Vec<String>,
}

impl TenantPolicy {
    /// Checks the token's `tid` against the mode and the allow list.
    pub fn check(&self, tid: &str) -> Result<(), OutlookError> {
        let tid_lower = tid.to_ascii_lowercase();
        let personal = tid_lower == CONSUMER_TENANT;

        let mode_allows = match self.tenant.to_ascii_lowercase().as_str() {
            "common" => true,
            "consumers" => personal,
            "organizations" => !personal,
            // A single tenant: the issuer check already pinned the exact tenant.
            _ => true,
        };
        let list_allows =
            self.allowed.is_empty() || self.allowed.iter().any(|t| t.eq_ignore_ascii_case(tid));

        if mode_allows && list_allows {
            Ok(())
        } else {
            Err(OutlookError::TenantNotAllowed(tid.to_owned()))
        }
    }
}

/// "Personal" for Microsoft accounts in the consumer tenant, else "Work or school".
pub fn tenant_kind(tid: &str) -> &'static str {
    if tid.eq_ignore_ascii_case(CONSUMER_TENANT) {
        "Personal"
    } else {
        "Work or school"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORK: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    fn policy(tenant: &str, allowed: &[&str]) -> TenantPolicy {
        TenantPolicy {
            tenant: tenant.into(),
            allowed: allowed.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn consumers_accepts_only_personal_tenant() {
        assert!(policy("consumers", &[]).check(CONSUMER_TENANT).is_ok());
        assert!(policy("consumers", &[]).check(WORK).is_err());
    }

    #[test]
    fn organizations_rejects_personal_tenant() {
        assert!(policy("organizations", &[]).check(WORK).is_ok());
        assert!(policy("organizations", &[]).check(CONSUMER_TENANT).is_err());
    }

    #[test]
    fn allow_list_narrows_common() {
        assert!(policy("common", &[WORK]).check(WORK).is_ok());
        assert!(policy("common", &[WORK]).check(CONSUMER_TENANT).is_err());
        assert!(policy("common", &[]).check(CONSUMER_TENANT).is_ok());
    }
}
