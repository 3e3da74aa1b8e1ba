//! `outlook_oauth_app_outlookaccount`: a Microsoft account linked to a user, found by
//! (`tenant_id`, `object_id`) and never by email.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::User;
use crate::db::schema::outlook_oauth_app_outlookaccount as account;
use crate::db::{DbConnection, DbError};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Associations)]
#[diesel(table_name = account, belongs_to(User))]
pub struct OutlookAccount {
    pub id: i32,
    /// The `tid` claim: the Entra ID tenant, or the fixed consumer tenant for personal accounts.
    pub tenant_id: String,
    /// The `oid` claim: the account's immutable id within its tenant.
    pub object_id: String,
    pub display_name: String,
    pub email: String,
    pub preferred_username: String,
    /// Sealed with the token-encryption key; see `outlook::tokens`.
    pub access_token: String,
    pub refresh_token: String,
    pub token_expires_at: String,
    pub scopes: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub last_login_at: Option<NaiveDateTime>,
    pub user_id: i32,
}

impl OutlookAccount {
    pub fn for_user(conn: &mut DbConnection, user: &User) -> Result<Vec<OutlookAccount>, DbError> {
        Ok(OutlookAccount::belonging_to(user)
            .select(OutlookAccount::as_select())
            .order(account::id)
            .load(conn)?)
    }
}
