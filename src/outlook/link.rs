//! Turns a verified Microsoft identity into a user of this site: sign in to the linked user,
//! create a new one, or link to the signed-in user.

use chrono::Utc;

use super::client::{IssuedTokens, VerifiedSignIn};
use super::tokens::TokenCipher;
use super::OutlookError;
use crate::auth::password::unusable_password;
use crate::db::models::{
    AccountRefresh, NewOutlookAccount, NewProfile, NewUser, OutlookAccount, User, UserProfile,
};
use crate::db::{Database, DbConnection, DbError};
use crate::domain::{EmailAddress, Username};
use crate::errors::AppError;

/// How a sign-in with Outlook ended.
#[derive(Debug)]
pub enum SignInOutcome {
    /// The account was linked already: this is its user.
    Existing(User),
    /// A new user was made for a new account. `email_in_use` is set when another user already
    /// has the account's email address; that user was not touched.
    Created { user: User, email_in_use: bool },
}

/// Why an account cannot be unlinked.
#[derive(Debug, PartialEq, Eq)]
pub enum UnlinkRefusal {
    NotFound,
    /// It is the user's only way to sign in: no usable password and no other account.
    LastSignInMethod,
}

/// The sealed columns of an account row.
struct SealedTokens {
    access_token: String,
    refresh_token: String,
    token_expires_at: String,
    scopes: String,
}

fn seal(
    cipher: &TokenCipher,
    tenant_id: &str,
    object_id: &str,
    tokens: &IssuedTokens,
) -> SealedTokens {
    use secrecy::ExposeSecret;

    let context = |column: &str| format!("{tenant_id}/{object_id}/{column}");
    let refresh = tokens
        .refresh_token
        .as_ref()
        .map(|t| t.expose_secret())
        .unwrap_or_default();
    let expiry = tokens
        .expires_at
        .map(|t| t.to_rfc3339())
        .unwrap_or_default();
    SealedTokens {
        access_token: cipher.seal(
            tokens.access_token.expose_secret(),
            &context("access_token"),
        ),
        refresh_token: cipher.seal(refresh, &context("refresh_token")),
        token_expires_at: cipher.seal(&expiry, &context("token_expires_at")),
        scopes: cipher.seal(&tokens.scopes.join(" "), &context("scopes")),
    }
}

/// Keeps at most `max` characters, dropping control and formatting characters.
fn clean(text: &str, max: usize) -> String {
    text.chars()
        .filter(|c| !c.is_control() && !matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{FEFF}'))
        .take(max)
        .collect::<String>()
        .trim()
        .to_owned()
}

fn refresh_of(signin: &VerifiedSignIn, sealed: SealedTokens) -> AccountRefresh {
    let identity = &signin.identity;
    let now = Utc::now().naive_utc();
    AccountRefresh {
        display_name: clean(&identity.name, 255),
        email: clean(identity.email.as_deref().unwrap_or_default(), 254),
        preferred_username: clean(&identity.preferred_username, 254),
        access_token: sealed.access_token,
        refresh_token: sealed.refresh_token,
        token_expires_at: sealed.token_expires_at,
        scopes: sealed.scopes,
        updated_at: now,
        last_login_at: Some(now),
    }
}

fn new_account(user_id: i32, signin: &VerifiedSignIn, sealed: SealedTokens) -> NewOutlookAccount {
    let refresh = refresh_of(signin, sealed);
    NewOutlookAccount {
        user_id,
        tenant_id: signin.identity.tenant_id.clone(),
        object_id: signin.identity.object_id.clone(),
        display_name: refresh.display_name,
        email: refresh.email,
        preferred_username: refresh.preferred_username,
        access_token: refresh.access_token,
        refresh_token: refresh.refresh_token,
        token_expires_at: refresh.token_expires_at,
        scopes: refresh.scopes,
        created_at: refresh.updated_at,
        updated_at: refresh.updated_at,
        last_login_at: refresh.last_login_at,
    }
}

/// A free username from the part of `preferred_username` before `@`: `ada.lovelace`, then
/// `ada.lovelace-2`, `ada.lovelace-3`, … .
fn free_username(conn: &mut DbConnection, preferred_username: &str) -> Result<String, DbError> {
    let local = preferred_username.split('@').next().unwrap_or_default();
    let mut base: String = local
        .chars()
        .filter(|&c| c.is_alphanumeric() || matches!(c, '_' | '.' | '+' | '-'))
        .take(140)
        .collect();
    base = Username::parse(&base)
        .map(Username::into_inner)
        .unwrap_or_default();
    if base.is_empty() {
        base = "outlook-user".to_owned();
    }

    if !User::username_taken(conn, &base)? {
        return Ok(base);
    }
    for n in 2..1000 {
        let candidate = format!("{base}-{n}");
        if !User::username_taken(conn, &candidate)? {
            return Ok(candidate);
        }
    }
    Ok(format!("{base}-{}", &crate::auth::random_token()[..8]))
}

/// The first and last name to prefill: the given and family name claims, or the `name`
/// claim split at its last space.
fn names(signin: &VerifiedSignIn) -> (String, String) {
    let identity = &signin.identity;
    if !identity.given_name.is_empty() || !identity.family_name.is_empty() {
        return (
            clean(&identity.given_name, 150),
            clean(&identity.family_name, 150),
        );
    }
    match identity.name.trim().rsplit_once(' ') {
        Some((first, last)) => (clean(first, 150), clean(last, 150)),
        None => (clean(&identity.name, 150), String::new()),
    }
}

fn sign_in_once(
    conn: &mut DbConnection,
    cipher: &TokenCipher,
    signin: &VerifiedSignIn,
) -> Result<SignInOutcome, DbError> {
    let identity = &signin.identity;
    let sealed = seal(
        cipher,
        &identity.tenant_id,
        &identity.object_id,
        &signin.tokens,
    );

    if let Some(account) =
        OutlookAccount::find_by_identity(conn, &identity.tenant_id, &identity.object_id)?
    {
        OutlookAccount::refresh(conn, account.id, &refresh_of(signin, sealed))?;
        User::record_login(conn, account.user_id)?;
        UserProfile::ensure_exists(conn, account.user_id)?;
        let user = User::find(conn, account.user_id)?
            .ok_or(DbError::Query(diesel::result::Error::NotFound))?;
        return Ok(SignInOutcome::Existing(user));
    }

    crate::db::lock_account_emails(conn)?;
    // The email claim is shown and kept, never used to find a user. The new user gets the
    // address only when no other user has it, so email log-in stays unambiguous.
    let email = identity
        .email
        .as_deref()
        .and_then(|e| EmailAddress::parse(e).ok())
        .map(EmailAddress::into_inner);
    let email_in_use = match &email {
        Some(address) => User::email_taken(conn, address, None)?,
        None => false,
    };
    let username = free_username(conn, &identity.preferred_username)?;
    let (first_name, last_name) = names(signin);

    let mut new_user = NewUser::new(
        username,
        if email_in_use {
            String::new()
        } else {
            email.unwrap_or_default()
        },
        unusable_password(),
    );
    new_user.first_name = first_name;
    new_user.last_name = last_name;

    let user = User::insert(conn, &new_user)?;
    UserProfile::insert(conn, &NewProfile::empty(user.id))?;
    OutlookAccount::insert(conn, &new_account(user.id, signin, sealed))?;
    User::record_login(conn, user.id)?;
    Ok(SignInOutcome::Created { user, email_in_use })
}

/// Signs in with a verified identity: the linked user, or a new user for a new account.
pub async fn sign_in(
    db: &Database,
    cipher: &TokenCipher,
    signin: VerifiedSignIn,
) -> Result<SignInOutcome, AppError> {
    let signin = std::sync::Arc::new(signin);
    for attempt in 0..2 {
        let (cipher, signin) = (cipher.clone(), std::sync::Arc::clone(&signin));
        match db
            .write_transaction(move |conn| sign_in_once(conn, &cipher, &signin))
            .await
        {
            Ok(outcome) => return Ok(outcome),
            // A simultaneous first sign-in of the same account won the insert: the second try
            // finds its row and signs in to the same user.
            Err(DbError::UniqueViolation { .. }) if attempt == 0 => continue,
            Err(other) => return Err(other.into()),
        }
    }
    Err(AppError::unexpected(
        "signing in with Outlook kept colliding with another sign-in",
    ))
}

/// Links a verified identity to `user_id`, or refreshes it when it is linked to them already.
pub async fn link(
    db: &Database,
    cipher: &TokenCipher,
    user_id: i32,
    signin: VerifiedSignIn,
) -> Result<(), AppError> {
    let cipher = cipher.clone();
    let result = db
        .write_transaction(move |conn| {
            let identity = &signin.identity;
            let sealed = seal(
                &cipher,
                &identity.tenant_id,
                &identity.object_id,
                &signin.tokens,
            );
            match OutlookAccount::find_by_identity(conn, &identity.tenant_id, &identity.object_id)?
            {
                Some(account) if account.user_id == user_id => {
                    OutlookAccount::refresh(conn, account.id, &refresh_of(&signin, sealed))?;
                    Ok(true)
                }
                Some(_) => Ok(false),
                None => {
                    OutlookAccount::insert(conn, &new_account(user_id, &signin, sealed))?;
                    Ok(true)
                }
            }
        })
        .await;

    match result {
        Ok(true) => Ok(()),
        Ok(false) | Err(DbError::UniqueViolation { .. }) => {
            Err(AppError::Outlook(OutlookError::AlreadyLinked))
        }
        Err(other) => Err(other.into()),
    }
}

/// Unlinks one of the user's accounts unless it is their last way to sign in.
pub async fn unlink(
    db: &Database,
    user: &User,
    account_id: i32,
) -> Result<Result<(), UnlinkRefusal>, AppError> {
    let owner = user.clone();
    Ok(db
        .write_transaction(move |conn| {
            let accounts = OutlookAccount::for_user(conn, &owner)?;
            if !accounts.iter().any(|a| a.id == account_id) {
                return Ok(Err(UnlinkRefusal::NotFound));
            }
            if !owner.has_usable_password() && accounts.len() == 1 {
                return Ok(Err(UnlinkRefusal::LastSignInMethod));
            }
            OutlookAccount::delete_for_user(conn, account_id, owner.id)?;
            Ok(Ok(()))
        })
        .await?)
}
