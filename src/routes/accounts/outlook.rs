//! Sign-in with Outlook: start, callback, and disconnect.

use actix_web::{web, HttpResponse};
use actix_web_flash_messages::FlashMessage;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::auth::redirect::safe_next;
use crate::auth::{Csrf, CurrentUser, TypedSession};
use crate::errors::AppError;
use crate::outlook::link::{self, SignInOutcome, UnlinkRefusal};
use crate::outlook::{OutlookClient, OutlookError};
use crate::routes::{paths, see_other};
use crate::startup::AppState;

fn client(state: &AppState) -> Result<&OutlookClient, AppError> {
    state.outlook.as_ref().ok_or(AppError::OutlookNotConfigured)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct StartQuery {
    next: String,
}

/// Sends the browser to Microsoft. A signed-in user links the account they sign in with;
/// anyone else signs in with it.
pub async fn outlook_login(
    state: web::Data<AppState>,
    session: TypedSession,
    user: CurrentUser,
    query: web::Query<StartQuery>,
) -> Result<HttpResponse, AppError> {
    let client = client(&state)?;
    let next = safe_next(&query.next).map(str::to_owned);
    let link_user_id = user.0.map(|user| user.id);

    let (url, flow) = client.begin(link_user_id, next).await?;
    session.set_outlook_flow(&flow)?;
    tracing::info!(
        linking = link_user_id.is_some(),
        "sign-in with Outlook started"
    );
    Ok(see_other(url.as_str()))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// The redirect URI registered with Microsoft.
pub async fn outlook_callback(
    state: web::Data<AppState>,
    session: TypedSession,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, AppError> {
    let client = client(&state)?;
    let query = query.into_inner();

    let flow = session
        .take_outlook_flow()
        .filter(|flow| !flow.is_expired())
        .ok_or(OutlookError::NoFlowInProgress)?;
    let state_matches: bool = query
        .state
        .as_deref()
        .unwrap_or_default()
        .as_bytes()
        .ct_eq(flow.state.as_bytes())
        .into();
    if !state_matches {
        return Err(OutlookError::StateMismatch.into());
    }
    if let Some(error) = query.error {
        // Only a short, plain error code goes to the log: the parameter is attacker-controlled.
        let code: String = error
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(64)
            .collect();
        return Err(OutlookError::Cancelled { code }.into());
    }
    let code = query
        .code
        .filter(|c| !c.is_empty())
        .ok_or(OutlookError::MissingCode)?;

    let signin = client.finish(&flow, &code).await?;
    let tenant_kind = crate::outlook::tenant_kind(&signin.identity.tenant_id);

    if let Some(link_user_id) = flow.link_user_id {
        if session.user_id() != Some(link_user_id) {
            return Err(OutlookError::UserChanged.into());
        }
        link::link(&state.db, &state.token_cipher, link_user_id, signin).await?;
        tracing::info!(
            user.id = link_user_id,
            tenant_kind,
            "Outlook account linked"
        );
        FlashMessage::success("Your Microsoft account is now linked. You can sign in with it.")
            .send();
        return Ok(see_other(paths::PROFILE));
    }

    let outcome = link::sign_in(&state.db, &state.token_cipher, signin).await?;
    let user = match outcome {
        SignInOutcome::Existing(user) => {
            FlashMessage::success(format!("Welcome back, {}.", user.username)).send();
            user
        }
        SignInOutcome::Created { user, email_in_use } => {
            tracing::info!(
                user.id = user.id,
                tenant_kind,
                "user signed up with Outlook"
            );
            FlashMessage::success(format!(
                "Welcome, {}! Your account is ready.",
                user.username
            ))
            .send();
            if email_in_use {
                FlashMessage::info(
                    "This Microsoft account was not linked to an existing account here, so a new one was made. \
                     If you already have an account, log in to it and connect Outlook from its profile page.",
                )
                .send();
            }
            user
        }
    };
    if !user.is_active {
        return Err(OutlookError::UserInactive.into());
    }

    session.log_in(user.id)?;
    tracing::info!(user.id = user.id, tenant_kind, "logged in with Outlook");
    let destination = flow
        .next
        .as_deref()
        .and_then(safe_next)
        .unwrap_or(paths::PROFILE);
    Ok(see_other(destination))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DisconnectForm {
    account_id: String,
    csrfmiddlewaretoken: String,
}

/// Unlinks one of the signed-in user's Microsoft accounts.
pub async fn outlook_disconnect(
    state: web::Data<AppState>,
    csrf: Csrf,
    user: CurrentUser,
    form: web::Form<DisconnectForm>,
) -> Result<HttpResponse, AppError> {
    client(&state)?;
    let user = user.0.ok_or_else(|| AppError::LoginRequired {
        next: paths::PROFILE.to_owned(),
    })?;
    csrf.verify(&form.csrfmiddlewaretoken)?;
    let account_id: i32 =
        form.account_id.trim().parse().map_err(|_| {
            AppError::BadRequest("The account to disconnect is not a valid id.".into())
        })?;

    match link::unlink(&state.db, &user, account_id).await? {
        Ok(()) => {
            tracing::info!(user.id = user.id, "Outlook account unlinked");
            FlashMessage::success("The Microsoft account was disconnected.").send();
            Ok(see_other(paths::PROFILE))
        }
        Err(UnlinkRefusal::NotFound) => Err(AppError::NotFound),
        Err(UnlinkRefusal::LastSignInMethod) => Err(OutlookError::LastSignInMethod.into()),
    }
}
