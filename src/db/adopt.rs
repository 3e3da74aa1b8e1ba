//! Running on a database that the Django application made: recognising its tables, and the
//! facts `check` reports about a database.

use diesel::connection::SimpleConnection;
use diesel::sql_types::{Integer, Text};
use diesel::{QueryableByName, RunQueryDsl};

use super::{with_connection, DbConnection, DbError};

/// The tables the first migration creates when they are missing.
pub const APPLICATION_TABLES: [&str; 4] = [
    "auth_user",
    "outlook_oauth_app_userprofile",
    "outlook_oauth_app_outlookaccount",
    "outlook_oauth_app_session",
];

/// What a database held before the application's migrations ran.
#[derive(Debug, Default)]
pub struct Adoption {
    /// Application tables that existed already and were kept as they are.
    pub existing_tables: Vec<&'static str>,
    /// Django's applied migrations per app, from `django_migrations`; empty when Django never
    /// ran on this database.
    pub django_migrations: Vec<(String, i32)>,
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct AppCount {
    #[diesel(sql_type = Text)]
    app: String,
    #[diesel(sql_type = Integer)]
    count: i32,
}

/// Names of the tables in the database (the `public` schema on PostgreSQL).
fn table_names(conn: &mut DbConnection) -> Result<Vec<String>, DbError> {
    let names: Vec<Name> = match conn {
        DbConnection::Sqlite(c) => {
            diesel::sql_query("SELECT name FROM sqlite_master WHERE type = 'table'")
                .load(&mut **c)?
        }
        DbConnection::Postgres(c) => diesel::sql_query(
            "SELECT CAST(table_name AS TEXT) AS name FROM information_schema.tables \
             WHERE table_schema = current_schema()",
        )
        .load(&mut **c)?,
    };
    Ok(names.into_iter().map(|n| n.name).collect())
}

/// Looks at the database before migrating: which application tables exist, and what Django's
/// `django_migrations` says about them.
pub fn inspect(conn: &mut DbConnection) -> Result<Adoption, DbError> {
    let tables = table_names(conn)?;
    let existing_tables = APPLICATION_TABLES
        .into_iter()
        .filter(|table| tables.iter().any(|t| t == table))
        .collect();

    let django_migrations = if tables.iter().any(|t| t == "django_migrations") {
        let counts: Vec<AppCount> = with_connection!(conn, |c| diesel::sql_query(
            "SELECT app, CAST(COUNT(*) AS INTEGER) AS count FROM django_migrations \
             WHERE app IN ('auth', 'outlook_oauth_app') GROUP BY app ORDER BY app"
        )
        .load(c))?;
        counts.into_iter().map(|c| (c.app, c.count)).collect()
    } else {
        Vec::new()
    };

    Ok(Adoption {
        existing_tables,
        django_migrations,
    })
}

/// How usernames are kept unique without regard to case.
#[derive(Debug, PartialEq, Eq)]
pub enum UsernameIndex {
    /// A unique index on `lower(username)`.
    Unique,
    /// Django allowed usernames that differ only in case, and this many such groups exist, so
    /// the index is a plain one; the application still refuses new duplicates.
    NotUnique { duplicate_groups: i32 },
}

/// Creates the index that makes usernames unique without regard to case, or a plain index
/// when the data Django left does not allow a unique one.
pub fn ensure_username_index(conn: &mut DbConnection) -> Result<UsernameIndex, DbError> {
    let unique = with_connection!(conn, |c| c.batch_execute(
        "CREATE UNIQUE INDEX IF NOT EXISTS outlook_oauth_app_user_username_ci \
         ON auth_user (lower(username))"
    ));
    match unique.map_err(DbError::from) {
        Ok(()) => return Ok(UsernameIndex::Unique),
        Err(DbError::UniqueViolation { .. }) => {}
        // SQLite reports a failed unique index as a constraint error of unknown kind.
        Err(DbError::Query(diesel::result::Error::DatabaseError(_, info)))
            if info.message().contains("UNIQUE") => {}
        Err(other) => return Err(other),
    }

    with_connection!(conn, |c| c.batch_execute(
        "CREATE INDEX IF NOT EXISTS outlook_oauth_app_user_username_lower \
         ON auth_user (lower(username))"
    ))?;
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = Integer)]
        count: i32,
    }
    let groups: Vec<Count> = with_connection!(conn, |c| diesel::sql_query(
        "SELECT CAST(COUNT(*) AS INTEGER) AS count FROM \
         (SELECT lower(username) FROM auth_user GROUP BY lower(username) HAVING COUNT(*) > 1) AS d"
    )
    .load(c))?;
    Ok(UsernameIndex::NotUnique {
        duplicate_groups: groups.first().map_or(0, |g| g.count),
    })
}

/// The number of users per password hasher, for `check`.
pub fn users_per_hasher(conn: &mut DbConnection) -> Result<Vec<(String, i32)>, DbError> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        hasher: String,
        #[diesel(sql_type = Integer)]
        users: i32,
    }
    let rows: Vec<Row> = with_connection!(conn, |c| {
        diesel::sql_query(
        "SELECT CASE \
           WHEN password LIKE '!%' THEN 'unusable (no password)' \
           WHEN password LIKE 'argon2$argon2id$v=19$m=19456,t=2,p=1$%' THEN 'argon2id, current parameters' \
           WHEN password LIKE 'argon2$%' THEN 'argon2, other parameters (upgraded at log-in)' \
           WHEN password LIKE 'pbkdf2_sha256$%' THEN 'pbkdf2_sha256 (upgraded at log-in)' \
           WHEN password LIKE 'pbkdf2_sha1$%' THEN 'pbkdf2_sha1 (upgraded at log-in)' \
           WHEN password LIKE 'bcrypt_sha256$%' THEN 'bcrypt_sha256 (upgraded at log-in)' \
           WHEN password LIKE 'bcrypt$%' THEN 'bcrypt (upgraded at log-in)' \
           WHEN password LIKE 'scrypt$%' THEN 'scrypt (upgraded at log-in)' \
           ELSE 'unknown format (cannot log in)' END AS hasher, \
         CAST(COUNT(*) AS INTEGER) AS users FROM auth_user GROUP BY 1 ORDER BY 1"
    )
    .load(c)
    })?;
    Ok(rows.into_iter().map(|r| (r.hasher, r.users)).collect())
}
