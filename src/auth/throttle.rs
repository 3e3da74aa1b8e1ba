//! Throttling of failed log-ins per account, kept in the database so that every instance
//! sharing it counts the same failures.

use std::time::Duration;

use chrono::Utc;
use unicode_normalization::UnicodeNormalization;

use crate::db::models::login_failure::LoginFailure;
use crate::db::{Database, DbError};

/// The policy: after `limit` failures within `window`, log-ins for that login are refused
/// without checking the password, until the oldest failure leaves the window.
#[derive(Debug, Clone, Copy)]
pub struct LoginThrottle {
    pub limit: u32,
    pub window: Duration,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        LoginThrottle {
            limit: 5,
            window: Duration::from_secs(15 * 60),
        }
    }
}

/// The login as typed, normalized so that `Ada`, `ADA` and `ａｄａ` count together. Unknown
/// logins are counted the same way as known ones, so the answer says nothing about which
/// accounts exist.
pub fn login_key(login: &str) -> String {
    let normalized: String = login.trim().nfkc().collect::<String>().to_lowercase();
    normalized.chars().take(254).collect()
}

impl LoginThrottle {
    fn window_start(&self) -> chrono::NaiveDateTime {
        let window = chrono::TimeDelta::from_std(self.window).unwrap_or(chrono::TimeDelta::MAX);
        Utc::now().naive_utc() - window
    }

    /// `Some(seconds to wait)` when the login is locked out now.
    pub async fn locked_for(&self, db: &Database, key: &str) -> Result<Option<u64>, DbError> {
        let (key, since, limit, window) =
            (key.to_owned(), self.window_start(), self.limit, self.window);
        let (failures, oldest) = db
            .run(move |conn| LoginFailure::since(conn, &key, since))
            .await?;
        if failures < i64::from(limit) {
            return Ok(None);
        }

        let unlocks_at = oldest.unwrap_or_else(|| Utc::now().naive_utc())
            + chrono::TimeDelta::from_std(window).unwrap_or_default();
        let wait = (unlocks_at - Utc::now().naive_utc()).num_seconds().max(1);
        Ok(Some(u64::try_from(wait).unwrap_or(1)))
    }

    pub async fn record_failure(&self, db: &Database, key: &str) -> Result<(), DbError> {
        let key = key.to_owned();
        let now = Utc::now().naive_utc();
        db.run(move |conn| LoginFailure::record(conn, &key, now))
            .await
    }

    /// Forgets the failures of a login that just succeeded.
    pub async fn reset(&self, db: &Database, key: &str) -> Result<(), DbError> {
        let key = key.to_owned();
        db.run(move |conn| LoginFailure::clear(conn, &key)).await
    }

    /// Deletes failures that left the window.
    pub async fn purge(&self, db: &Database) -> Result<usize, DbError> {
        let before = self.window_start();
        db.run(move |conn| LoginFailure::purge(conn, before)).await
    }
}

/// "3 minutes", "1 minute", "40 seconds": the wait in words for the page.
pub fn describe_wait(seconds: u64) -> String {
    match seconds {
        0..=59 => format!("{seconds} second{}", if seconds == 1 { "" } else { "s" }),
        _ => {
            let minutes = seconds.div_ceil(60);
            format!("{minutes} minute{}", if minutes == 1 { "" } else { "s" })
        }
    }
}

/// Deletes failures that left the window once an hour, for as long as the server runs.
pub async fn purge_old_failures(db: Database, throttle: LoginThrottle) {
    let mut interval = tokio::time::interval(Duration::from_secs(3600));
    loop {
        interval.tick().await;
        match throttle.purge(&db).await {
            Ok(0) => {}
            Ok(count) => tracing::info!(count, "purged old login failures"),
            Err(error) => tracing::warn!(error = %error, "purging old login failures failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_key_folds_case_and_width() {
        assert_eq!(login_key(" Ada "), "ada");
        assert_eq!(login_key("ＡＤＡ"), "ada");
        assert_eq!(login_key("Ada@Example.com"), "ada@example.com");
    }

    #[test]
    fn wait_is_described_in_words() {
        assert_eq!(describe_wait(1), "1 second");
        assert_eq!(describe_wait(40), "40 seconds");
        assert_eq!(describe_wait(60), "1 minute");
        assert_eq!(describe_wait(61), "2 minutes");
    }
}
