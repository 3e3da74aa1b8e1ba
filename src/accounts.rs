//! What the account pages do, as plain async functions: sign up, authenticate, change a
//! password, edit a profile. Handlers parse forms and call these; tests can call them directly.

use secrecy::SecretString;

use crate::auth::password::{hasher_name, needs_rehash};
use crate::auth::throttle::{login_key, LoginThrottle};
use crate::auth::Passwords;
use crate::db::models::{NewProfile, NewUser, SessionRow, User, UserProfile};
use crate::db::{Database, DbError};
use crate::domain::{
    check_confirmation, check_password_rules, EmailAddress, FieldErrors, PasswordRules,
    ProfileForm, Username,
};
use crate::errors::AppError;

pub const USERNAME_TAKEN: &str = "A user with that username already exists.";
pub const EMAIL_TAKEN: &str = "A user with that email address already exists.";

/// A form that could not be applied: either its fields are wrong (shown beside them, 400), or
/// something failed underneath (an error page).
#[derive(Debug)]
pub enum FormError {
    Invalid(FieldErrors),
    App(AppError),
}

impl<E: Into<AppError>> From<E> for FormError {
    fn from(err: E) -> Self {
        FormError::App(err.into())
    }
}

impl FormError {
    fn field(field: &'static str, message: &str) -> Self {
        let mut errors = FieldErrors::new();
        errors.add(field, message);
        FormError::Invalid(errors)
    }
}

/// The sign-up form's values.
pub struct Registration {
    pub username: String,
    pub email: String,
    pub password1: SecretString,
    pub password2: SecretString,
}

/// Creates a user and their profile in one transaction, after checking every field.
pub async fn register(
    db: &Database,
    passwords: &Passwords,
    form: Registration,
) -> Result<User, FormError> {
    let mut errors = FieldErrors::new();
    let username = errors.take("username", Username::parse(&form.username));
    let email = errors.take("email", EmailAddress::parse(&form.email));
    let rules = PasswordRules {
        username: username
            .as_ref()
            .map_or(form.username.as_str(), Username::as_str),
        email: email
            .as_ref()
            .map_or(form.email.as_str(), EmailAddress::as_str),
    };
    errors.take("password1", check_password_rules(&form.password1, &rules));
    errors.take(
        "password2",
        check_confirmation(&form.password1, &form.password2),
    );
    let (Some(username), Some(email)) = (username, email) else {
        return Err(FormError::Invalid(errors));
    };

    // Check for duplicates before hashing, so a taken name costs no Argon2 run, but only when
    // the hashing queue has room, so a flood of sign-ups reaches no database.
    passwords.check_room()?;
    let (name, address) = (username.to_string(), email.to_string());
    let (username_taken, email_taken) = db
        .run(move |conn| {
            Ok((
                User::username_taken(conn, &name)?,
                User::email_taken(conn, &address, None)?,
            ))
        })
        .await?;
    if username_taken {
        errors.add("username", USERNAME_TAKEN);
    }
    if email_taken {
        errors.add("email", EMAIL_TAKEN);
    }
    if !errors.is_empty() {
        return Err(FormError::Invalid(errors));
    }

    let hash = passwords.hash(form.password1).await?;
    let new_user = NewUser::new(username.into_inner(), email.into_inner(), hash);
    let created = db
        .write_transaction(move |conn| {
            crate::db::lock_account_emails(conn)?;
            // The table has no unique index on the email address, and Django's has none either.
            // So check again under the write lock, because a sign-up running at the same time
            // may have taken the address while this one was hashing.
            if User::email_taken(conn, &new_user.email, None)? {
                return Ok(Err("email"));
            }
            // The unique index folds ASCII letters only, so `Émile` against `émile` is caught
            // here, where the write lock orders simultaneous sign-ups.
            if User::username_taken(conn, &new_user.username)? {
                return Ok(Err("username"));
            }
            let user = User::insert(conn, &new_user)?;
            UserProfile::insert(conn, &NewProfile::empty(user.id))?;
            Ok(Ok(user))
        })
        .await;

    match created {
        Ok(Ok(user)) => {
            tracing::info!(user.id = user.id, "user signed up");
            Ok(user)
        }
        Ok(Err("email")) => Err(FormError::field("email", EMAIL_TAKEN)),
        Ok(Err(_)) => Err(FormError::field("username", USERNAME_TAKEN)),
        // Another sign-up took the name between the check and the insert.
        Err(DbError::UniqueViolation { .. }) => Err(FormError::field("username", USERNAME_TAKEN)),
        Err(other) => Err(other.into()),
    }
}

/// Authenticates with per-account throttling: a login with too many recent failures is refused
/// with [`AppError::Throttled`] before any password check; a failure is counted, and a success
/// clears the count.
pub async fn log_in(
    db: &Database,
    passwords: &Passwords,
    throttle: &LoginThrottle,
    login: &str,
    password: SecretString,
) -> Result<Option<User>, AppError> {
    // A flood of log-ins meets a full hashing queue. Checking it first rejects those requests
    // before any database work, which would slow every page down.
    passwords.check_room()?;

    let key = login_key(login);
    if let Some(retry_after_secs) = throttle.locked_for(db, &key).await? {
        tracing::info!(
            retry_after_secs,
            "log-in refused: too many failures for this login"
        );
        return Err(AppError::Throttled { retry_after_secs });
    }

    let user = authenticate(db, passwords, login, password).await?;
    match &user {
        Some(_) => throttle.reset(db, &key).await?,
        None => throttle.record_failure(db, &key).await?,
    }
    Ok(user)
}

/// Finds the user whose username is `login` and the one active user whose email address is
/// `login`, and checks the password against each, the username's owner first. Both lookups run
/// because one user's username may be another user's email address, and the second user must
/// still be able to log in with it. Unknown users, wrong passwords and inactive users all return `None`.
/// An unknown login costs the same Argon2 work as a wrong password. A login that matches two
/// users costs one Argon2 run per user.
pub async fn authenticate(
    db: &Database,
    passwords: &Passwords,
    login: &str,
    password: SecretString,
) -> Result<Option<User>, AppError> {
    let login = login.trim().to_owned();
    let candidates = db
        .run(move |conn| {
            let mut candidates: Vec<User> = Vec::new();
            if let Ok(username) = Username::parse(&login) {
                candidates.extend(User::find_by_username(conn, username.as_str())?);
            }
            if let Ok(email) = EmailAddress::parse(&login) {
                if let Some(user) = User::find_by_unique_email(conn, email.as_str())? {
                    if candidates.iter().all(|candidate| candidate.id != user.id) {
                        candidates.push(user);
                    }
                }
            }
            Ok(candidates)
        })
        .await?;

    if candidates.is_empty() {
        // Checks a dummy hash, so that an unknown login takes as long as a wrong password.
        passwords.verify(password, None).await?;
        return Ok(None);
    }
    let mut authenticated = None;
    for candidate in candidates {
        let verified = passwords
            .verify(password.clone(), Some(candidate.password.clone()))
            .await?;
        if verified && candidate.is_active {
            authenticated = Some(candidate);
            break;
        }
    }
    let Some(user) = authenticated else {
        return Ok(None);
    };

    let user_id = user.id;
    // Users that Django made may have no profile row; they get one at their first log-in, so
    // that viewing the profile page never writes.
    db.run(move |conn| {
        User::record_login(conn, user_id)?;
        UserProfile::ensure_exists(conn, user_id)
    })
    .await?;
    if needs_rehash(&user.password) {
        upgrade_hash(db, passwords, &user, password).await;
    }
    Ok(Some(user))
}

/// Replaces a verified hash that [`needs_rehash`] marks (another Django hasher, or Argon2 with
/// other parameters) with an Argon2id one made by [`Passwords::hash`], as Django does at log-in
/// when its preferred hasher or its parameters change. The row changes only while it still holds
/// the verified hash, so a password changed meanwhile in another session is kept. A failure is
/// logged and the log-in goes ahead, because the old hash still works.
async fn upgrade_hash(db: &Database, passwords: &Passwords, user: &User, password: SecretString) {
    let user_id = user.id;
    let old_hash = user.password.clone();
    let old_hasher = hasher_name(&user.password).to_owned();
    let hash = match passwords.hash(password).await {
        Ok(hash) => hash,
        Err(error) => {
            tracing::warn!(user.id = user_id, error = %error, "rehashing a password at log-in failed");
            return;
        }
    };
    let replaced = db
        .run(move |conn| User::replace_password(conn, user_id, &old_hash, &hash))
        .await;
    match replaced {
        Ok(true) => tracing::info!(
            user.id = user_id,
            old_hasher = %old_hasher,
            "password hash upgraded to Argon2id"
        ),
        Ok(false) => tracing::info!(
            user.id = user_id,
            "password hash not upgraded: the password changed during the log-in"
        ),
        Err(error) => {
            tracing::warn!(user.id = user_id, error = %error, "storing an upgraded password hash failed")
        }
    }
}

/// The password-change form's values.
pub struct PasswordChange {
    pub old_password: SecretString,
    pub new_password1: SecretString,
    pub new_password2: SecretString,
}

/// Checks the old password (when the user has one) and the new one, stores the new hash and
/// ends every session of the user. The caller signs the current browser in again.
pub async fn change_password(
    db: &Database,
    passwords: &Passwords,
    user: &User,
    form: PasswordChange,
) -> Result<(), FormError> {
    let mut errors = FieldErrors::new();
    let rules = PasswordRules {
        username: &user.username,
        email: &user.email,
    };
    errors.take(
        "new_password1",
        check_password_rules(&form.new_password1, &rules),
    );
    errors.take(
        "new_password2",
        check_confirmation(&form.new_password1, &form.new_password2),
    );

    // A user who signed up with Outlook has no password yet and may set a first one.
    if user.has_usable_password() {
        let verified = passwords
            .verify(form.old_password, Some(user.password.clone()))
            .await?;
        if !verified {
            errors.add(
                "old_password",
                "Your old password was entered incorrectly. Please enter it again.",
            );
        }
    }
    if !errors.is_empty() {
        return Err(FormError::Invalid(errors));
    }

    let hash = passwords.hash(form.new_password1).await?;
    let user_id = user.id;
    let ended = db
        .write_transaction(move |conn| {
            User::set_password(conn, user_id, &hash)?;
            SessionRow::delete_for_user(conn, user_id)
        })
        .await?;
    tracing::info!(
        user.id = user_id,
        sessions_ended = ended,
        "password changed"
    );
    Ok(())
}

/// Saves the profile form, refusing an email address that another user has.
pub async fn update_profile(
    db: &Database,
    user: &User,
    form: ProfileForm,
) -> Result<(), FormError> {
    let user_id = user.id;
    let owner = user.clone();
    let result = db
        .write_transaction(move |conn| {
            crate::db::lock_account_emails(conn)?;
            if !form.user.email.is_empty()
                && User::email_taken(conn, &form.user.email, Some(user_id))?
            {
                return Ok(false);
            }
            User::update(conn, user_id, &form.user)?;
            // Users that Django created may have no profile row yet.
            UserProfile::for_user(conn, &owner)?;
            UserProfile::update(conn, user_id, &form.profile)?;
            Ok(true)
        })
        .await?;

    if result {
        tracing::info!(user.id = user_id, "profile updated");
        Ok(())
    } else {
        Err(FormError::field("email", EMAIL_TAKEN))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DatabaseUrl;

    /// A full hashing queue rejects a log-in before the database is touched: this database
    /// cannot be opened, so any query would fail with another error.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn log_in_checks_queue_before_database() {
        let passwords = Passwords::with_queue(1, 0, crate::auth::password::unusable_password())
            .expect("threads start");
        let db = Database::connect(&DatabaseUrl::Sqlite(
            "/nonexistent-folder/for-this-test/db.sqlite3".into(),
        ))
        .expect("the pool opens connections lazily");
        let hold = passwords.occupy_one_thread().await;

        let result = log_in(
            &db,
            &passwords,
            &LoginThrottle::default(),
            "ada",
            SecretString::from("violet-lantern-88".to_owned()),
        )
        .await;
        drop(hold);

        assert!(matches!(result, Err(AppError::Busy)), "{result:?}");
    }
}
