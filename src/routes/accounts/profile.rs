use actix_web::{http::StatusCode, web, HttpResponse};
use actix_web_flash_messages::FlashMessage;
use askama::Template;
use serde::Deserialize;

use crate::accounts::{self, FormError};
use crate::auth::{Csrf, SignedIn};
use crate::db::models::{OutlookAccount, User, UserProfile};
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
    errors: FieldErrors,
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

fn values_of(user: &User, profile: &UserProfile) -> ProfileInput {
    ProfileInput {
        first_name: user.first_name.clone(),
        last_name: user.last_name.clone(),
        email: user.email.clone(),
        bio: profile.bio.clone(),
        job_title: profile.job_title.clone(),
        department: profile.department.clone(),
        office_location: profile.office_location.clone(),
        mobile_phone: profile.mobile_phone.clone(),
        time_zone: profile.time_zone.clone(),
    }
}

pub async fn profile_page(
    state: web::Data<AppState>,
    page: PageContext,
    SignedIn(user): SignedIn,
) -> Result<HttpResponse, AppError> {
    let owner = user.clone();
    let (profile, accounts) = state
        .db
        .run(move |conn| {
            Ok((
                UserProfile::for_user(conn, &owner)?,
                OutlookAccount::for_user(conn, &owner)?,
            ))
        })
        .await?;

    let values = values_of(&user, &profile);
    render(
        StatusCode::OK,
        &ProfilePage {
            page,
            user,
            values,
            accounts: linked(accounts),
            errors: FieldErrors::new(),
        },
    )
}

pub async fn update_profile(
    state: web::Data<AppState>,
    csrf: Csrf,
    page: PageContext,
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
            let owner = user.clone();
            let accounts = state
                .db
                .run(move |conn| OutlookAccount::for_user(conn, &owner))
                .await?;
            render(
                StatusCode::BAD_REQUEST,
                &ProfilePage {
                    page,
                    user,
                    values: form.input,
                    accounts: linked(accounts),
                    errors,
                },
            )
        }
        Err(FormError::App(err)) => Err(err),
    }
}
