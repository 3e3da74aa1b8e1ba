//! `outlook_oauth_app_userprofile`, one row per user.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

use super::User;
use crate::db::schema::outlook_oauth_app_userprofile as profile;
use crate::db::{with_connection, DbConnection, DbError};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Associations)]
#[diesel(table_name = profile, belongs_to(User))]
pub struct UserProfile {
    pub id: i32,
    pub bio: String,
    pub job_title: String,
    pub department: String,
    pub office_location: String,
    pub mobile_phone: String,
    /// An IANA time zone name such as `Europe/Paris`.
    pub time_zone: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub user_id: i32,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = profile)]
pub struct NewProfile {
    pub user_id: i32,
    pub bio: String,
    pub job_title: String,
    pub department: String,
    pub office_location: String,
    pub mobile_phone: String,
    pub time_zone: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl NewProfile {
    /// An empty profile in UTC.
    pub fn empty(user_id: i32) -> Self {
        let now = Utc::now().naive_utc();
        NewProfile {
            user_id,
            bio: String::new(),
            job_title: String::new(),
            department: String::new(),
            office_location: String::new(),
            mobile_phone: String::new(),
            time_zone: "UTC".to_owned(),
            created_at: now,
            updated_at: now,
        }
    }
}

/// The fields the profile page edits.
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = profile)]
pub struct ProfileChanges {
    pub bio: String,
    pub job_title: String,
    pub department: String,
    pub office_location: String,
    pub mobile_phone: String,
    pub time_zone: String,
}

impl UserProfile {
    pub fn insert(conn: &mut DbConnection, new: &NewProfile) -> Result<UserProfile, DbError> {
        Ok(with_connection!(conn, |c| diesel::insert_into(
            profile::table
        )
        .values(new)
        .returning(UserProfile::as_returning())
        .get_result(c))?)
    }

    /// Loads the user's profile, creating an empty one for users that Django made without one.
    pub fn for_user(conn: &mut DbConnection, user: &User) -> Result<UserProfile, DbError> {
        match UserProfile::find_for_user(conn, user)? {
            Some(found) => Ok(found),
            None => UserProfile::insert(conn, &NewProfile::empty(user.id)),
        }
    }

    /// Creates an empty profile for a user that has none, as Django's application did for
    /// each user it made. A user that has one keeps it. Concurrent calls for one user are
    /// safe, because the insert does nothing when the unique `user_id` already has a row.
    pub fn ensure_exists(conn: &mut DbConnection, user_id: i32) -> Result<(), DbError> {
        with_connection!(conn, |c| diesel::insert_into(profile::table)
            .values(&NewProfile::empty(user_id))
            .on_conflict(profile::user_id)
            .do_nothing()
            .execute(c))?;
        Ok(())
    }

    pub fn find_for_user(
        conn: &mut DbConnection,
        user: &User,
    ) -> Result<Option<UserProfile>, DbError> {
        Ok(with_connection!(conn, |c| UserProfile::belonging_to(user)
            .select(UserProfile::as_select())
            .first(c)
            .optional())?)
    }

    /// Loads the fields the profile page edits, without writing: a user that Django made
    /// without a profile gets the fields of an empty one, and saving the form creates the row.
    pub fn fields_for_user(
        conn: &mut DbConnection,
        user: &User,
    ) -> Result<ProfileChanges, DbError> {
        Ok(match UserProfile::find_for_user(conn, user)? {
            Some(found) => ProfileChanges {
                bio: found.bio,
                job_title: found.job_title,
                department: found.department,
                office_location: found.office_location,
                mobile_phone: found.mobile_phone,
                time_zone: found.time_zone,
            },
            None => {
                let empty = NewProfile::empty(user.id);
                ProfileChanges {
                    bio: empty.bio,
                    job_title: empty.job_title,
                    department: empty.department,
                    office_location: empty.office_location,
                    mobile_phone: empty.mobile_phone,
                    time_zone: empty.time_zone,
                }
            }
        })
    }

    pub fn update(
        conn: &mut DbConnection,
        user_id: i32,
        changes: &ProfileChanges,
    ) -> Result<(), DbError> {
        with_connection!(conn, |c| diesel::update(
            profile::table.filter(profile::user_id.eq(user_id))
        )
        .set((changes, profile::updated_at.eq(Utc::now().naive_utc())))
        .execute(c))?;
        Ok(())
    }
}
