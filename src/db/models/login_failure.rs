//! `outlook_oauth_app_loginfailure`: failed log-ins, for throttling.

use chrono::NaiveDateTime;
use diesel::dsl::{count_star, min};
use diesel::prelude::*;

use crate::db::schema::outlook_oauth_app_loginfailure as failure;
use crate::db::{with_connection, DbConnection, DbError};

pub struct LoginFailure;

impl LoginFailure {
    pub fn record(conn: &mut DbConnection, key: &str, at: NaiveDateTime) -> Result<(), DbError> {
        with_connection!(conn, |c| diesel::insert_into(failure::table)
            .values((failure::login_key.eq(key), failure::failed_at.eq(at)))
            .execute(c))?;
        Ok(())
    }

    /// The number of failures for `key` since `since`, and the oldest of them.
    pub fn since(
        conn: &mut DbConnection,
        key: &str,
        since: NaiveDateTime,
    ) -> Result<(i64, Option<NaiveDateTime>), DbError> {
        Ok(with_connection!(conn, |c| failure::table
            .filter(failure::login_key.eq(key))
            .filter(failure::failed_at.gt(since))
            .select((count_star(), min(failure::failed_at)))
            .first(c))?)
    }

    pub fn clear(conn: &mut DbConnection, key: &str) -> Result<(), DbError> {
        with_connection!(conn, |c| diesel::delete(
            failure::table.filter(failure::login_key.eq(key))
        )
        .execute(c))?;
        Ok(())
    }

    /// Deletes failures older than `before`; returns how many.
    pub fn purge(conn: &mut DbConnection, before: NaiveDateTime) -> Result<usize, DbError> {
        Ok(with_connection!(conn, |c| diesel::delete(
            failure::table.filter(failure::failed_at.le(before))
        )
        .execute(c))?)
    }
}
