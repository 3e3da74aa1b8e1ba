//! `auth_user`, Django's user table.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

use super::{casefold, lower};
use crate::db::schema::auth_user;
use crate::db::{with_connection, DbConnection, DbError};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = auth_user)]
pub struct User {
    pub id: i32,
    /// A Django password hash such as `argon2$argon2id$…`, or `!…` when the user has no usable
    /// password. Never shown or logged.
    pub password: String,
    pub last_login: Option<NaiveDateTime>,
    pub is_superuser: bool,
    pub username: String,
    pub last_name: String,
    pub email: String,
    pub is_staff: bool,
    pub is_active: bool,
    pub date_joined: NaiveDateTime,
    pub first_name: String,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = auth_user)]
pub struct NewUser {
    pub password: String,
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub is_superuser: bool,
    pub is_staff: bool,
    pub is_active: bool,
    pub date_joined: NaiveDateTime,
}

impl NewUser {
    /// A regular, active user joining now.
    pub fn new(username: String, email: String, password_hash: String) -> Self {
        NewUser {
            password: password_hash,
            username,
            email,
            first_name: String::new(),
            last_name: String::new(),
            is_superuser: false,
            is_staff: false,
            is_active: true,
            date_joined: Utc::now().naive_utc(),
        }
    }
}

/// The columns the profile page edits.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = auth_user)]
pub struct UserChanges {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
}

impl User {
    /// Django marks a user without a password with a hash that starts with `!`.
    pub fn has_usable_password(&self) -> bool {
        !self.password.starts_with('!')
    }

    pub fn find(conn: &mut DbConnection, id: i32) -> Result<Option<User>, DbError> {
        Ok(with_connection!(conn, |c| auth_user::table
            .find(id)
            .select(User::as_select())
            .first(c)
            .optional())?)
    }

    /// Finds the user whose username equals `username` without regard to case.
    pub fn find_by_username(
        conn: &mut DbConnection,
        username: &str,
    ) -> Result<Option<User>, DbError> {
        // An exact match wins: a database Django filled may hold both `ada` and `Ada`.
        let exact = with_connection!(conn, |c| auth_user::table
            .filter(auth_user::username.eq(username))
            .select(User::as_select())
            .first(c)
            .optional())?;
        if exact.is_some() {
            return Ok(exact);
        }
        // The unique index on lower(username) answers ASCII names; only names with other
        // letters need the full Unicode comparison, which scans the table on SQLite.
        let found = with_connection!(conn, |c| auth_user::table
            .filter(lower(auth_user::username).eq(lower(username)))
            .select(User::as_select())
            .first(c)
            .optional())?;
        if found.is_some() || username.is_ascii() {
            return Ok(found);
        }
        Ok(with_connection!(conn, |c| auth_user::table
            .filter(casefold(auth_user::username).eq(casefold(username)))
            .select(User::as_select())
            .first(c)
            .optional())?)
    }

    /// Finds the one active user with this email address, compared without regard to case.
    /// Returns `None` when no user or several users have it, because then the address does not
    /// say who is signing in.
    pub fn find_by_unique_email(
        conn: &mut DbConnection,
        email: &str,
    ) -> Result<Option<User>, DbError> {
        let mut users: Vec<User> = with_connection!(conn, |c| auth_user::table
            .filter(casefold(auth_user::email).eq(casefold(email)))
            .filter(auth_user::is_active.eq(true))
            .select(User::as_select())
            .limit(2)
            .load(c))?;
        Ok(if users.len() == 1 { users.pop() } else { None })
    }

    pub fn username_taken(conn: &mut DbConnection, username: &str) -> Result<bool, DbError> {
        Ok(Self::find_by_username(conn, username)?.is_some())
    }

    /// True when a user other than `except` has this email address.
    pub fn email_taken(
        conn: &mut DbConnection,
        email: &str,
        except: Option<i32>,
    ) -> Result<bool, DbError> {
        let count: i64 = with_connection!(conn, |c| auth_user::table
            .filter(casefold(auth_user::email).eq(casefold(email)))
            .filter(auth_user::id.ne(except.unwrap_or(0)))
            .count()
            .get_result(c))?;
        Ok(count > 0)
    }

    pub fn insert(conn: &mut DbConnection, new_user: &NewUser) -> Result<User, DbError> {
        Ok(with_connection!(conn, |c| diesel::insert_into(
            auth_user::table
        )
        .values(new_user)
        .returning(User::as_returning())
        .get_result(c))?)
    }

    pub fn update(conn: &mut DbConnection, id: i32, changes: &UserChanges) -> Result<(), DbError> {
        with_connection!(conn, |c| diesel::update(auth_user::table.find(id))
            .set(changes)
            .execute(c))?;
        Ok(())
    }

    pub fn set_password(conn: &mut DbConnection, id: i32, hash: &str) -> Result<(), DbError> {
        with_connection!(conn, |c| diesel::update(auth_user::table.find(id))
            .set(auth_user::password.eq(hash))
            .execute(c))?;
        Ok(())
    }

    /// Replaces the hash only while the row still holds `old_hash`; returns whether it did.
    pub fn replace_password(
        conn: &mut DbConnection,
        id: i32,
        old_hash: &str,
        new_hash: &str,
    ) -> Result<bool, DbError> {
        let updated = with_connection!(conn, |c| diesel::update(
            auth_user::table
                .find(id)
                .filter(auth_user::password.eq(old_hash))
        )
        .set(auth_user::password.eq(new_hash))
        .execute(c))?;
        Ok(updated == 1)
    }

    pub fn record_login(conn: &mut DbConnection, id: i32) -> Result<(), DbError> {
        with_connection!(conn, |c| diesel::update(auth_user::table.find(id))
            .set(auth_user::last_login.eq(Utc::now().naive_utc()))
            .execute(c))?;
        Ok(())
    }
}
