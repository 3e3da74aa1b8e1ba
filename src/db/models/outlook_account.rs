//! `outlook_oauth_app_outlookaccount`: a Microsoft account linked to a user, found by
//! (`tenant_id`, `object_id`) and never by email.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::User;
use crate::db::schema::outlook_oauth_app_outlookaccount as account;
use crate::db::{with_connection, DbConnection, DbError};

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
        Ok(with_connection!(conn, |c| OutlookAccount::belonging_to(
            user
        )
        .select(OutlookAccount::as_select())
        .order(account::id)
        .load(c))?)
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = account)]
pub struct NewOutlookAccount {
    pub user_id: i32,
    pub tenant_id: String,
    pub object_id: String,
    pub display_name: String,
    pub email: String,
    pub preferred_username: String,
    pub access_token: String,
    pub refresh_token: String,
    pub token_expires_at: String,
    pub scopes: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub last_login_at: Option<NaiveDateTime>,
}

/// The claims and sealed tokens refreshed at each sign-in.
#[derive(Debug, AsChangeset)]
#[diesel(table_name = account)]
pub struct AccountRefresh {
    pub display_name: String,
    pub email: String,
    pub preferred_username: String,
    pub access_token: String,
    pub refresh_token: String,
    pub token_expires_at: String,
    pub scopes: String,
    pub updated_at: NaiveDateTime,
    pub last_login_at: Option<NaiveDateTime>,
}

impl OutlookAccount {
    /// Finds an account by Microsoft's (tenant id, object id), the only key ever used.
    pub fn find_by_identity(
        conn: &mut DbConnection,
        tenant_id: &str,
        object_id: &str,
    ) -> Result<Option<OutlookAccount>, DbError> {
        Ok(with_connection!(conn, |c| account::table
            .filter(account::tenant_id.eq(tenant_id))
            .filter(account::object_id.eq(object_id))
            .select(OutlookAccount::as_select())
            .first(c)
            .optional())?)
    }

    pub fn insert(
        conn: &mut DbConnection,
        new: &NewOutlookAccount,
    ) -> Result<OutlookAccount, DbError> {
        Ok(with_connection!(conn, |c| diesel::insert_into(
            account::table
        )
        .values(new)
        .returning(OutlookAccount::as_returning())
        .get_result(c))?)
    }

    pub fn refresh(
        conn: &mut DbConnection,
        id: i32,
        changes: &AccountRefresh,
    ) -> Result<(), DbError> {
        with_connection!(conn, |c| diesel::update(account::table.find(id))
            .set(changes)
            .execute(c))?;
        Ok(())
    }

    /// Deletes one of the user's accounts; returns false when the user has no such account.
    pub fn delete_for_user(
        conn: &mut DbConnection,
        id: i32,
        user_id: i32,
    ) -> Result<bool, DbError> {
        let deleted = with_connection!(conn, |c| diesel::delete(
            account::table
                .filter(account::id.eq(id))
                .filter(account::user_id.eq(user_id)),
        )
        .execute(c))?;
        Ok(deleted == 1)
    }
}
