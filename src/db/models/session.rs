//! `outlook_oauth_app_session`: server-side session state, keyed by the id in the cookie.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::outlook_oauth_app_session as session;
use crate::db::{with_connection, DbConnection, DbError};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = session)]
pub struct SessionRow {
    pub session_key: String,
    /// The session state as a JSON object of strings.
    pub session_data: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub expire_date: NaiveDateTime,
    pub user_id: Option<i32>,
}

impl SessionRow {
    /// Loads a session that has not expired and was used after `active_since`.
    pub fn find_live(
        conn: &mut DbConnection,
        key: &str,
        active_since: NaiveDateTime,
    ) -> Result<Option<SessionRow>, DbError> {
        Ok(with_connection!(conn, |c| session::table
            .find(key)
            .filter(session::expire_date.gt(Utc::now().naive_utc()))
            .filter(session::updated_at.gt(active_since))
            .select(SessionRow::as_select())
            .first(c)
            .optional())?)
    }

    /// Records that the session was used at `now`.
    pub fn touch(conn: &mut DbConnection, key: &str, now: NaiveDateTime) -> Result<(), DbError> {
        with_connection!(conn, |c| diesel::update(session::table.find(key))
            .set(session::updated_at.eq(now))
            .execute(c))?;
        Ok(())
    }

    /// The live sessions of one user.
    pub fn for_user(conn: &mut DbConnection, user_id: i32) -> Result<Vec<SessionRow>, DbError> {
        Ok(with_connection!(conn, |c| session::table
            .filter(session::user_id.eq(user_id))
            .filter(session::expire_date.gt(Utc::now().naive_utc()))
            .select(SessionRow::as_select())
            .load(c))?)
    }

    pub fn insert(conn: &mut DbConnection, row: &SessionRow) -> Result<(), DbError> {
        with_connection!(conn, |c| diesel::insert_into(session::table)
            .values(row)
            .execute(c))?;
        Ok(())
    }

    /// Replaces a live session's state; returns false when the row is gone or expired.
    pub fn update_data(
        conn: &mut DbConnection,
        key: &str,
        data: &str,
        user_id: Option<i32>,
        expire_date: NaiveDateTime,
    ) -> Result<bool, DbError> {
        let now = Utc::now().naive_utc();
        let updated = with_connection!(conn, |c| diesel::update(
            session::table
                .find(key)
                .filter(session::expire_date.gt(now))
        )
        .set((
            session::session_data.eq(data),
            session::user_id.eq(user_id),
            session::updated_at.eq(now),
            session::expire_date.eq(expire_date),
        ))
        .execute(c))?;
        Ok(updated == 1)
    }

    pub fn update_expiry(
        conn: &mut DbConnection,
        key: &str,
        expire_date: NaiveDateTime,
    ) -> Result<(), DbError> {
        with_connection!(conn, |c| diesel::update(session::table.find(key))
            .set(session::expire_date.eq(expire_date))
            .execute(c))?;
        Ok(())
    }

    pub fn delete(conn: &mut DbConnection, key: &str) -> Result<(), DbError> {
        with_connection!(conn, |c| diesel::delete(session::table.find(key))
            .execute(c))?;
        Ok(())
    }

    /// Ends every session of one user; returns how many there were.
    pub fn delete_for_user(conn: &mut DbConnection, user_id: i32) -> Result<usize, DbError> {
        Ok(with_connection!(conn, |c| diesel::delete(
            session::table.filter(session::user_id.eq(user_id))
        )
        .execute(c))?)
    }

    /// Deletes expired sessions; returns how many there were.
    pub fn purge_expired(conn: &mut DbConnection) -> Result<usize, DbError> {
        Ok(with_connection!(conn, |c| diesel::delete(
            session::table.filter(session::expire_date.le(Utc::now().naive_utc()))
        )
        .execute(c))?)
    }

    pub fn count_for_user(conn: &mut DbConnection, user_id: i32) -> Result<i64, DbError> {
        Ok(with_connection!(conn, |c| session::table
            .filter(session::user_id.eq(user_id))
            .count()
            .get_result(c))?)
    }
}
