use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};
use actix_web_flash_messages::FlashMessage;
use askama::Template;
use serde::Deserialize;

use crate::accounts::{self, FormError};
use crate::auth::current_user::signed_in_with;
use crate::auth::session::{summarize, SessionSummary};
use crate::auth::{Csrf, SignedIn, TypedSession};
use crate::db::models::{OutlookAccount, ProfileChanges, SessionRow, User, UserProfile};
use crate::domain::{FieldErrors, ProfileForm, ProfileInput};
use crate::errors::AppError;
use crate::routes::{paths, render, see_other, PageContext};
use crate::startup::AppState;

#[derive(Template)]
#[template(path = "accounts/profile.html")]
struct ProfilePage {
    page: PageContext,
    user: User,
    values: ProfileInput,
    accounts: Vec<LinkedAccount>,
    sessions: Vec<SessionView>,
    errors: FieldErrors,
}

/// One signed-in session as the profile page lists it.
struct SessionView {
    started: String,
    last_seen: String,
    browser: String,
    address: String,
    current: bool,
}

impl From<SessionSummary> for SessionView {
    fn from(summary: SessionSummary) -> Self {
        SessionView {
            started: summary
                .started_at
                .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_else(|| "unknown".to_owned()),
            last_seen: summary.last_seen.format("%Y-%m-%d %H:%M UTC").to_string(),
            browser: describe_browser(&summary.user_agent),
            address: if summary.address.is_empty() {
                "unknown".to_owned()
            } else {
                summary.address
            },
            current: summary.current,
        }
    }
}

/// "Firefox on Linux" from a User-Agent header; the header itself when nothing matches.
fn describe_browser(user_agent: &str) -> String {
    let browser = [
        ("Edg/", "Edge"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
    ]
    .into_iter()
    .find(|(marker, _)| user_agent.contains(marker))
    .map(|(_, name)| name);
    let system = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ]
    .into_iter()
    .find(|(marker, _)| user_agent.contains(marker))
    .map(|(_, name)| name);
    match (browser, system) {
        (Some(browser), Some(system)) => format!("{browser} on {system}"),
        (Some(browser), None) => browser.to_owned(),
        (None, _) if user_agent.is_empty() => "unknown browser".to_owned(),
        (None, _) => user_agent.chars().take(60).collect(),
    }
}

/// Loads the page's linked accounts and sessions.
async fn page_lists(
    state: &AppState,
    user: &User,
    session: &TypedSession,
) -> Result<(Vec<LinkedAccount>, Vec<SessionView>), AppError> {
    let owner = user.clone();
    let (accounts, rows) = state
        .db
        .run(move |conn| {
            Ok((
                OutlookAccount::for_user(conn, &owner)?,
                SessionRow::for_user(conn, owner.id)?,
            ))
        })
        .await?;
    Ok((linked(accounts), session_views(&rows, session)))
}

fn session_views(rows: &[SessionRow], session: &TypedSession) -> Vec<SessionView> {
    let seed = session.csrf_seed();
    summarize(rows, seed.as_deref())
        .into_iter()
        .map(SessionView::from)
        .collect()
}

/// A linked Microsoft account as the profile page lists it.
struct LinkedAccount {
    id: i32,
    display_name: String,
    email: String,
    /// "Personal" or "Work or school".
    kind: &'static str,
}

impl From<OutlookAccount> for LinkedAccount {
    fn from(account: OutlookAccount) -> Self {
        let email = if account.email.is_empty() {
            account.preferred_username
        } else {
            account.email
        };
        LinkedAccount {
            id: account.id,
            kind: crate::outlook::tenant_kind(&account.tenant_id),
            display_name: account.display_name,
            email,
        }
    }
}

fn linked(accounts: Vec<OutlookAccount>) -> Vec<LinkedAccount> {
    accounts.into_iter().map(LinkedAccount::from).collect()
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ProfilePost {
    #[serde(flatten)]
    input: ProfileInput,
    csrfmiddlewaretoken: String,
}

fn values_of(user: &User, profile: ProfileChanges) -> ProfileInput {
    ProfileInput {
        first_name: user.first_name.clone(),
        last_name: user.last_name.clone(),
        email: user.email.clone(),
        bio: profile.bio,
        job_title: profile.job_title,
        department: profile.department,
        office_location: profile.office_location,
        mobile_phone: profile.mobile_phone,
        time_zone: profile.time_zone,
    }
}

pub async fn profile_page(
    req: HttpRequest,
    page: PageContext,
    session: TypedSession,
) -> Result<HttpResponse, AppError> {
    let (user, (profile, accounts, rows)) = signed_in_with(&req, |conn, user| {
        Ok((
            UserProfile::fields_for_user(conn, user)?,
            OutlookAccount::for_user(conn, user)?,
            SessionRow::for_user(conn, user.id)?,
        ))
    })
    .await?;

    let values = values_of(&user, profile);
    render(
        StatusCode::OK,
        &ProfilePage {
            page,
            user,
            values,
            accounts: linked(accounts),
            sessions: session_views(&rows, &session),
            errors: FieldErrors::new(),
        },
    )
}

pub async fn update_profile(
    state: web::Data<AppState>,
    csrf: Csrf,
    page: PageContext,
    session: TypedSession,
    SignedIn(user): SignedIn,
    form: web::Form<ProfilePost>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    csrf.verify(&form.csrfmiddlewaretoken)?;

    let result = match ProfileForm::parse(&form.input) {
        Ok(parsed) => accounts::update_profile(&state.db, &user, parsed).await,
        Err(errors) => Err(FormError::Invalid(errors)),
    };
    match result {
        Ok(()) => {
            FlashMessage::success("Your profile was saved.").send();
            Ok(see_other(paths::PROFILE))
        }
        Err(FormError::Invalid(errors)) => {
            let (accounts, sessions) = page_lists(&state, &user, &session).await?;
            render(
                StatusCode::BAD_REQUEST,
                &ProfilePage {
                    page,
                    user,
                    values: form.input,
                    accounts,
                    sessions,
                    errors,
                },
            )
        }
        Err(FormError::App(err)) => Err(err),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SignOutOthersForm {
    csrfmiddlewaretoken: String,
}

/// Ends every other session of the user; this browser stays signed in under a new session id.
pub async fn sign_out_other_sessions(
    state: web::Data<AppState>,
    csrf: Csrf,
    session: TypedSession,
    SignedIn(user): SignedIn,
    form: web::Form<SignOutOthersForm>,
) -> Result<HttpResponse, AppError> {
    csrf.verify(&form.csrfmiddlewaretoken)?;

    let user_id = user.id;
    let ended = state
        .db
        .run(move |conn| SessionRow::delete_for_user(conn, user_id))
        .await?;
    session.log_in(user_id)?;
    tracing::info!(
        user.id = user_id,
        sessions_ended = ended.saturating_sub(1),
        "signed out of other sessions"
    );
    FlashMessage::success("You were signed out of every other session.").send();
    Ok(see_other(paths::PROFILE))
}

#[cfg(test)]
mod tests {
    use super::describe_browser;

    #[test]
    fn browsers_are_named() {
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36";

        assert_eq!(describe_browser(firefox), "Firefox on Linux");
        assert_eq!(describe_browser(chrome), "Chrome on Windows");
        assert_eq!(describe_browser(""), "unknown browser");
        assert_eq!(describe_browser("curl/8.0"), "curl/8.0");
    }
}
