//! All database access: the connection pools, migrations, and the queries in `models`.
//!
//! Handlers never hold a connection. They call [`Database::run`] or
//! [`Database::write_transaction`] with a closure, which runs on the blocking thread pool so that
//! diesel's synchronous calls never stall the async workers.
//!
//! One build serves SQLite and PostgreSQL, chosen at start by `DATABASE_URL`. A
//! [`DbConnection`] holds a pooled connection of either kind, and each query in `models` is
//! written once inside [`with_connection!`], which compiles it for both backends. Diesel's own
//! `MultiConnection` derive was the other candidate; it supports only the SQL types every backend
//! shares, and `Bool` (Django's `is_active`, `is_staff`, …) is not among them.

pub mod adopt;
pub mod models;
pub mod schema;

use std::sync::Arc;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use secrecy::ExposeSecret;

use crate::config::{DatabaseUrl, PoolSettings};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// How long SQLite waits on a lock held by another connection before it returns "database is
/// locked". Writers hold the lock for milliseconds, so this covers bursts of sign-ups.
const BUSY_TIMEOUT_MS: u32 = 5_000;

/// What [`Database::migrate`] found and did.
#[derive(Debug)]
pub struct MigrationReport {
    /// The migrations applied now.
    pub applied: Vec<String>,
    pub adoption: adopt::Adoption,
    pub username_index: adopt::UsernameIndex,
}

impl MigrationReport {
    /// Logs what was adopted from Django and what was applied.
    pub fn log(&self) {
        for (app, count) in &self.adoption.django_migrations {
            tracing::info!(app = %app, migrations = count, "Django's django_migrations lists this app");
        }
        for table in &self.adoption.existing_tables {
            tracing::info!(
                table,
                "adopted an existing table; its rows are left as they are"
            );
        }
        for name in &self.applied {
            tracing::info!(migration = %name, "applied migration");
        }
        if let adopt::UsernameIndex::NotUnique { duplicate_groups } = self.username_index {
            tracing::warn!(
                duplicate_groups,
                "auth_user has usernames that differ only in case, so their index is not unique; \
                 new usernames are still checked without regard to case"
            );
        }
    }
}

/// A pooled connection to either backend.
pub enum DbConnection {
    Sqlite(PooledConnection<ConnectionManager<SqliteConnection>>),
    Postgres(PooledConnection<ConnectionManager<PgConnection>>),
}

/// Runs `$body` with `$c` bound to the concrete connection inside `$conn`, so the same diesel
/// query compiles once per backend.
macro_rules! with_connection {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Sqlite(pooled) => {
                let $c: &mut diesel::sqlite::SqliteConnection = &mut *pooled;
                $body
            }
            $crate::db::DbConnection::Postgres(pooled) => {
                let $c: &mut diesel::pg::PgConnection = &mut *pooled;
                $body
            }
        }
    };
}
pub(crate) use with_connection;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("no database connection could be had")]
    Unavailable(#[source] diesel::r2d2::PoolError),
    #[error("the database rejected a duplicate value for {constraint}")]
    UniqueViolation { constraint: String },
    #[error("database query failed")]
    Query(#[source] DieselError),
    #[error("the blocking task running a database call failed")]
    TaskFailed(#[source] tokio::task::JoinError),
    /// The session store could not load the session because the database was unavailable.
    #[error("the database was unavailable when the session was loaded: {0}")]
    SessionOutage(String),
}

impl From<DieselError> for DbError {
    fn from(err: DieselError) -> Self {
        match err {
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, ref info) => {
                // SQLite names the columns ("auth_user.username"); PostgreSQL names the
                // constraint. Either way the text identifies what was duplicated.
                let constraint = info
                    .constraint_name()
                    .map(str::to_owned)
                    .unwrap_or_else(|| info.message().to_owned());
                DbError::UniqueViolation { constraint }
            }
            other => DbError::Query(other),
        }
    }
}

impl DbError {
    /// True when the database itself could not be reached or written, rather than a query
    /// being wrong: the page then says "try again later" with 503.
    pub fn is_unavailable(&self) -> bool {
        match self {
            DbError::Unavailable(_) | DbError::SessionOutage(_) => true,
            DbError::Query(DieselError::DatabaseError(kind, info)) => match kind {
                DatabaseErrorKind::UnableToSendCommand | DatabaseErrorKind::ClosedConnection => {
                    true
                }
                DatabaseErrorKind::ReadOnlyTransaction => true,
                _ => {
                    let message = info.message();
                    message.contains("unable to open")
                        || message.contains("readonly")
                        || message.contains("database is locked")
                        || message.contains("disk I/O")
                        || message.contains("terminating connection")
                        || message.contains("server closed the connection")
                        || message.contains("no connection to the server")
                }
            },
            _ => false,
        }
    }
}

/// Makes writes that check email addresses wait for each other, inside a write transaction.
///
/// Email addresses have no unique index (Django's table has none, and Django's data may hold
/// duplicates), so "is the address free?" and the insert must not interleave. On SQLite,
/// `BEGIN IMMEDIATE` already orders every write transaction; on PostgreSQL a transaction-scoped
/// advisory lock does, released at commit or rollback.
pub fn lock_account_emails(conn: &mut DbConnection) -> Result<(), DbError> {
    if let DbConnection::Postgres(c) = conn {
        c.batch_execute(
            "SELECT pg_advisory_xact_lock(hashtext('outlook_oauth_app.account_emails'))",
        )?;
    }
    Ok(())
}

/// Sets the per-connection SQLite options on every connection the pool opens, and registers
/// the `casefold` function that the queries use.
#[derive(Debug)]
struct SqliteOptions;

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for SqliteOptions {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(&format!(
            "PRAGMA busy_timeout = {BUSY_TIMEOUT_MS};
             PRAGMA foreign_keys = ON;
             PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;"
        ))
        .map_err(diesel::r2d2::Error::QueryError)?;
        models::casefold_utils::register_impl(conn, |text: String| text.to_lowercase())
            .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// Sets the session time zone to UTC on every PostgreSQL connection. The application reads
/// and writes naive UTC timestamps; Django's columns are `timestamp with time zone`, which
/// PostgreSQL converts through the session time zone.
#[derive(Debug)]
struct PostgresOptions;

impl CustomizeConnection<PgConnection, diesel::r2d2::Error> for PostgresOptions {
    fn on_acquire(&self, conn: &mut PgConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute("SET TIME ZONE 'UTC'")
            .map_err(diesel::r2d2::Error::QueryError)
    }
}

#[derive(Clone)]
enum Pools {
    Sqlite(Pool<ConnectionManager<SqliteConnection>>),
    Postgres(Pool<ConnectionManager<PgConnection>>),
}

/// A handle to the connection pool; cheap to clone.
#[derive(Clone)]
pub struct Database {
    pools: Pools,
    /// On SQLite, write transactions of this process take turns here before they start. SQLite
    /// allows one writer at a time, and a connection that finds the file locked waits in
    /// SQLite's busy handler, which sleeps 1 to 100 ms between attempts. Under load those
    /// sleeps made the 99th percentile of a profile edit 10 times its median. Waiting here
    /// wakes the next writer as soon as the lock is free. Other processes on the same file
    /// still meet the busy handler.
    writers: Option<Arc<tokio::sync::Mutex<()>>>,
}

impl Database {
    /// Builds the pool with default bounds.
    pub fn connect(url: &DatabaseUrl) -> Result<Self, DbError> {
        Self::connect_with(url, PoolSettings::default())
    }

    /// Builds the pool. Connections open lazily, so this succeeds while the database is down,
    /// and a database that comes back is used again without a restart.
    pub fn connect_with(url: &DatabaseUrl, settings: PoolSettings) -> Result<Self, DbError> {
        let pools = match url {
            DatabaseUrl::Sqlite(path) => {
                let manager = ConnectionManager::<SqliteConnection>::new(path.to_string_lossy());
                Pools::Sqlite(
                    Pool::builder()
                        .max_size(settings.max_size)
                        .min_idle(Some(0))
                        .connection_timeout(settings.connection_timeout)
                        .connection_customizer(Box::new(SqliteOptions))
                        .error_handler(Box::new(diesel::r2d2::NopErrorHandler))
                        .build_unchecked(manager),
                )
            }
            DatabaseUrl::Postgres(url) => {
                let manager = ConnectionManager::<PgConnection>::new(url.expose_secret());
                Pools::Postgres(
                    Pool::builder()
                        .max_size(settings.max_size)
                        .min_idle(Some(0))
                        .connection_timeout(settings.connection_timeout)
                        .connection_customizer(Box::new(PostgresOptions))
                        .error_handler(Box::new(diesel::r2d2::NopErrorHandler))
                        .build_unchecked(manager),
                )
            }
        };
        let writers = match pools {
            Pools::Sqlite(_) => Some(Arc::new(tokio::sync::Mutex::new(()))),
            Pools::Postgres(_) => None,
        };
        Ok(Database { pools, writers })
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self.pools {
            Pools::Sqlite(_) => "sqlite",
            Pools::Postgres(_) => "postgres",
        }
    }

    fn get(&self) -> Result<DbConnection, DbError> {
        match &self.pools {
            Pools::Sqlite(pool) => pool.get().map(DbConnection::Sqlite),
            Pools::Postgres(pool) => pool.get().map(DbConnection::Postgres),
        }
        .map_err(DbError::Unavailable)
    }

    /// Applies pending migrations on a database that may already hold Django's tables, and
    /// reports what it found and did.
    pub fn migrate(&self) -> Result<MigrationReport, anyhow::Error> {
        let mut conn = self.get()?;
        let adoption = adopt::inspect(&mut conn)?;

        let applied = match &mut conn {
            DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS),
            DbConnection::Postgres(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS),
        }
        .map_err(|e| anyhow::anyhow!("applying migrations failed: {e}"))?
        .iter()
        .map(|v| v.to_string())
        .collect();

        let username_index = adopt::ensure_username_index(&mut conn)?;
        Ok(MigrationReport {
            applied,
            adoption,
            username_index,
        })
    }

    /// The applied and pending migrations, without applying any.
    pub fn migration_status(&self) -> Result<(Vec<String>, Vec<String>), anyhow::Error> {
        let mut conn = self.get()?;
        let text = |e: Box<dyn std::error::Error + Send + Sync>| anyhow::anyhow!("{e}");
        let names = |versions: Vec<diesel::migration::MigrationVersion<'_>>| {
            versions.iter().map(ToString::to_string).collect::<Vec<_>>()
        };
        match &mut conn {
            DbConnection::Sqlite(c) => {
                let applied = names(c.applied_migrations().map_err(text)?);
                let pending = c.pending_migrations(SQLITE_MIGRATIONS).map_err(text)?;
                Ok((
                    applied,
                    pending.iter().map(|m| m.name().to_string()).collect(),
                ))
            }
            DbConnection::Postgres(c) => {
                let applied = names(c.applied_migrations().map_err(text)?);
                let pending = c.pending_migrations(POSTGRES_MIGRATIONS).map_err(text)?;
                Ok((
                    applied,
                    pending.iter().map(|m| m.name().to_string()).collect(),
                ))
            }
        }
    }

    /// Runs `f` with a pooled connection on the blocking thread pool.
    pub async fn run<T, F>(&self, f: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, DbError> + Send + 'static,
        T: Send + 'static,
    {
        let db = self.clone();
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let mut conn = db.get()?;
            f(&mut conn)
        })
        .await
        .map_err(DbError::TaskFailed)?
    }

    /// Runs `f`, which only reads, on the blocking thread pool. On SQLite its queries share one
    /// read transaction, so they see one snapshot and take the file's locks once rather than
    /// once per statement. On PostgreSQL they run as they come, because `BEGIN` and `COMMIT`
    /// would be two more round trips to the server.
    pub async fn read<T, F>(&self, f: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, DbError> + Send + 'static,
        T: Send + 'static,
    {
        fn sqlite(conn: &mut DbConnection) -> Option<&mut SqliteConnection> {
            match conn {
                DbConnection::Sqlite(c) => Some(&mut **c),
                DbConnection::Postgres(_) => None,
            }
        }

        self.run(move |conn| {
            let Some(c) = sqlite(conn) else {
                return f(conn);
            };
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN")?;

            let result = f(conn);

            // A read transaction has nothing to commit, so ending it cannot lose a write.
            if let Some(c) = sqlite(conn) {
                if let Err(error) = AnsiTransactionManager::commit_transaction(c) {
                    tracing::warn!(%error, "ending a read transaction failed");
                    return Err(error.into());
                }
            }
            result
        })
        .await
    }

    /// Runs `f` inside a write transaction on the blocking thread pool; an error rolls it back.
    ///
    /// On SQLite the transaction starts with `BEGIN IMMEDIATE`, so it takes the write lock at
    /// once and waits under the busy timeout, instead of failing with "database is locked" when
    /// a read lock cannot be upgraded halfway through.
    pub async fn write_transaction<T, F>(&self, f: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, DbError> + Send + 'static,
        T: Send + 'static,
    {
        let _turn = match &self.writers {
            Some(writers) => Some(writers.lock().await),
            None => None,
        };

        self.run(move |conn| {
            match conn {
                DbConnection::Sqlite(c) => {
                    AnsiTransactionManager::begin_transaction_sql(&mut **c, "BEGIN IMMEDIATE")?
                }
                DbConnection::Postgres(c) => {
                    <AnsiTransactionManager as TransactionManager<PgConnection>>::begin_transaction(&mut **c)?
                }
            }

            let result = f(conn);

            let finished = match (&result, &mut *conn) {
                (Ok(_), DbConnection::Sqlite(c)) => AnsiTransactionManager::commit_transaction(&mut **c),
                (Ok(_), DbConnection::Postgres(c)) => AnsiTransactionManager::commit_transaction(&mut **c),
                (Err(_), DbConnection::Sqlite(c)) => AnsiTransactionManager::rollback_transaction(&mut **c),
                (Err(_), DbConnection::Postgres(c)) => AnsiTransactionManager::rollback_transaction(&mut **c),
            };
            match (result, finished) {
                (Ok(value), Ok(())) => Ok(value),
                (Ok(_), Err(commit_error)) => Err(commit_error.into()),
                (Err(error), Ok(())) => Err(error),
                (Err(error), Err(rollback_error)) => {
                    tracing::warn!(error = %rollback_error, "rolling back a failed transaction failed too");
                    Err(error)
                }
            }
        })
        .await
    }

    /// Checks that a connection can be had and answers a query. On SQLite it also takes and
    /// releases the write lock, because a file that reads fine may still refuse writes (held
    /// by another process, or on a read-only file system); nothing is written.
    pub async fn ping(&self) -> Result<(), DbError> {
        self.run(|conn| {
            match conn {
                DbConnection::Sqlite(c) => c.batch_execute("BEGIN IMMEDIATE; ROLLBACK;")?,
                DbConnection::Postgres(c) => c.batch_execute("SELECT 1")?,
            }
            Ok(())
        })
        .await
    }
}
