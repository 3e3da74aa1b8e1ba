//! All database access: the connection pool, migrations, and the queries in `models`.
//!
//! Handlers never hold a connection. They call [`Database::run`] or
//! [`Database::write_transaction`] with a closure, which runs on the blocking thread pool so that
//! diesel's synchronous calls never stall the async workers.

pub mod models;
pub mod schema;

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sqlite::SqliteConnection;

use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::config::DatabaseUrl;

pub type DbConnection = SqliteConnection;

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// How long a request waits for a pooled connection before the page reports the database as
/// unavailable.
const POOL_TIMEOUT: Duration = Duration::from_secs(5);

/// How long SQLite waits on a lock held by another connection before it returns "database is
/// locked". Writers hold the lock for milliseconds, so this covers bursts of sign-ups.
const BUSY_TIMEOUT_MS: u32 = 5_000;

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
    /// True when the database itself could not be reached, rather than a query being wrong.
    pub fn is_unavailable(&self) -> bool {
        match self {
            DbError::Unavailable(_) => true,
            DbError::Query(DieselError::DatabaseError(DatabaseErrorKind::Unknown, info)) => {
                let message = info.message();
                message.contains("unable to open")
                    || message.contains("readonly")
                    || message.contains("locked")
                    || message.contains("disk I/O")
            }
            _ => false,
        }
    }
}

/// Sets the per-connection SQLite options on every connection the pool opens.
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

/// A handle to the connection pool; cheap to clone.
#[derive(Clone)]
pub struct Database {
    pool: Pool<ConnectionManager<DbConnection>>,
}

impl Database {
    /// Builds the pool. Connections open lazily, so this succeeds while the database is down.
    pub fn connect(url: &DatabaseUrl) -> Result<Self, DbError> {
        let DatabaseUrl::Sqlite(path) = url;
        let manager = ConnectionManager::<DbConnection>::new(path.to_string_lossy());
        let pool = Pool::builder()
            .max_size(8)
            .min_idle(Some(0))
            .connection_timeout(POOL_TIMEOUT)
            .connection_customizer(Box::new(SqliteOptions))
            .build_unchecked(manager);
        Ok(Database { pool })
    }

    /// Applies pending migrations and returns the names of those it applied.
    pub fn migrate(&self) -> Result<Vec<String>, anyhow::Error> {
        let mut conn = self.pool.get().map_err(DbError::Unavailable)?;
        let applied = conn
            .run_pending_migrations(MIGRATIONS)
            .map_err(|e| anyhow::anyhow!("applying migrations failed: {e}"))?;
        Ok(applied.iter().map(|v| v.to_string()).collect())
    }

    /// Runs `f` with a pooled connection on the blocking thread pool.
    pub async fn run<T, F>(&self, f: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, DbError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let mut conn: PooledConnection<_> = pool.get().map_err(DbError::Unavailable)?;
            f(&mut conn)
        })
        .await
        .map_err(DbError::TaskFailed)?
    }

    /// Runs `f` inside a write transaction on the blocking thread pool.
    ///
    /// On SQLite the transaction starts with `BEGIN IMMEDIATE`, so it takes the write lock at
    /// once and waits under the busy timeout, instead of failing with "database is locked" when
    /// a read lock cannot be upgraded halfway through.
    pub async fn write_transaction<T, F>(&self, f: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, DbError> + Send + 'static,
        T: Send + 'static,
    {
        self.run(move |conn| conn.immediate_transaction(f)).await
    }

    /// Checks that a connection can be had and answers a query.
    pub async fn ping(&self) -> Result<(), DbError> {
        self.run(|conn| {
            conn.batch_execute("SELECT 1")?;
            Ok(())
        })
        .await
    }
}

impl From<DbError> for diesel::result::Error {
    fn from(err: DbError) -> Self {
        match err {
            DbError::Query(e) => e,
            other => DieselError::QueryBuilderError(Box::new(other)),
        }
    }
}
