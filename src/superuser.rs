//! `createsuperuser`: a staff superuser, made from the command line.

use secrecy::{ExposeSecret, SecretString};

use crate::auth::Passwords;
use crate::db::models::{NewProfile, NewUser, User, UserProfile};
use crate::db::Database;
use crate::domain::{check_new_password, EmailAddress, PasswordRules, Username};

pub const PASSWORD_VARIABLE: &str = "OUTLOOK_APP_SUPERUSER_PASSWORD";

/// Reads the password from [`PASSWORD_VARIABLE`], or else twice from the terminal.
pub fn read_password() -> anyhow::Result<(SecretString, SecretString)> {
    if let Ok(password) = std::env::var(PASSWORD_VARIABLE) {
        let password = SecretString::from(password);
        return Ok((password.clone(), password));
    }
    let first = rpassword::prompt_password("Password: ").map_err(|e| {
        anyhow::anyhow!(
            "cannot read the password from the terminal ({e}); set {PASSWORD_VARIABLE} instead"
        )
    })?;
    let second = rpassword::prompt_password("Password (again): ")?;
    Ok((SecretString::from(first), SecretString::from(second)))
}

/// Creates an active staff superuser with a profile.
pub async fn create_superuser(
    db: &Database,
    passwords: &Passwords,
    username: &str,
    email: &str,
    password: (SecretString, SecretString),
) -> anyhow::Result<User> {
    let username = Username::parse(username).map_err(|e| anyhow::anyhow!("--username: {e}"))?;
    let email = EmailAddress::parse(email).map_err(|e| anyhow::anyhow!("--email: {e}"))?;
    let rules = PasswordRules {
        username: username.as_str(),
        email: email.as_str(),
    };
    check_new_password(&password.0, &password.1, &rules)
        .map_err(|e| anyhow::anyhow!("password: {e}"))?;

    let name = username.to_string();
    if db
        .run(move |conn| User::username_taken(conn, &name))
        .await?
    {
        anyhow::bail!("--username: a user named {username} already exists");
    }

    let hash = passwords
        .hash(SecretString::from(password.0.expose_secret().to_owned()))
        .await?;
    let mut new_user = NewUser::new(username.into_inner(), email.into_inner(), hash);
    new_user.is_staff = true;
    new_user.is_superuser = true;

    let user = db
        .write_transaction(move |conn| {
            let user = User::insert(conn, &new_user)?;
            UserProfile::insert(conn, &NewProfile::empty(user.id))?;
            Ok(user)
        })
        .await?;
    Ok(user)
}
