//! `check`: what an operator needs to know before pointing the application at a database,
//! printed without changing anything.

use crate::config::{DatabaseUrl, Settings};
use crate::db::{adopt, Database};

/// Prints the report and returns how many problems it found.
pub async fn run(settings: &Settings) -> anyhow::Result<usize> {
    // Opening a missing SQLite file would create it, and `check` changes nothing.
    if let DatabaseUrl::Sqlite(path) = &settings.database_url {
        if !path.exists() {
            println!(
                "Database: the SQLite file {} does not exist yet; `migrate` or `serve` creates it.",
                path.display()
            );
            return Ok(1);
        }
    }
    let db = Database::connect_with(&settings.database_url, settings.pool)?;
    println!("Database: {} ({:?})", db.backend(), settings.database_url);

    let status_db = db.clone();
    let (applied, pending) =
        tokio::task::spawn_blocking(move || status_db.migration_status()).await??;
    let adoption = db.run(adopt::inspect).await?;
    println!("Migrations applied: {}", list_or_none(&applied));
    println!("Migrations pending: {}", list_or_none(&pending));
    if adoption.django_migrations.is_empty() {
        println!("Django: no django_migrations table, so Django has not run on this database.");
    }
    for (app, count) in &adoption.django_migrations {
        println!(
            "Django: {count} migrations of {app} applied; its tables are adopted as they are."
        );
    }

    if adoption.existing_tables.contains(&"auth_user") {
        println!("Users per password hasher:");
        for (hasher, users) in db.run(adopt::users_per_hasher).await? {
            println!("  {users:>8}  {hasher}");
        }
    }

    if settings.outlook.is_none() {
        println!(
            "Sign-in with Outlook: off, because OUTLOOK_CLIENT_ID and OUTLOOK_CLIENT_SECRET are \
             not set. To turn it on, register the app in Microsoft Entra ID (see the README) and \
             set both."
        );
    }

    let problems = configuration_problems(settings);
    if problems.is_empty() {
        println!("Configuration: no problems found.");
    } else {
        println!("Configuration problems:");
        for problem in &problems {
            println!("  - {problem}");
        }
    }
    Ok(problems.len())
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

/// True for `localhost` and loopback addresses, where plain http and a generated key are fine.
fn is_local(settings: &Settings) -> bool {
    match settings.public_url.host() {
        Some(url::Host::Domain(domain)) => domain == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => true,
    }
}

/// Each problem with what to do about it.
pub fn configuration_problems(settings: &Settings) -> Vec<String> {
    let mut problems = Vec::new();
    let production = !is_local(settings);

    if let Some(file) = &settings.secret_key_file {
        if production || matches!(settings.database_url, DatabaseUrl::Postgres(_)) {
            problems.push(format!(
                "SECRET_KEY is not set, so the key comes from {}. Set SECRET_KEY to one random \
                 value of at least 32 characters, the same on every instance.",
                file.display()
            ));
        }
    }
    if production && settings.public_url.scheme() != "https" {
        problems.push(format!(
            "PUBLIC_URL ({}) uses http:// for a public host, so cookies travel unencrypted and \
             Microsoft refuses the redirect URI. Serve the site over https and set PUBLIC_URL to \
             its https:// address.",
            settings.public_url
        ));
    }
    // Without the Outlook settings the site runs with passwords only, which is a choice, so
    // `run` reports it as information rather than as a problem.
    if let Some(outlook) = &settings.outlook {
        if outlook.client_id.trim().is_empty() {
            problems.push(
                "OUTLOOK_CLIENT_ID is empty. Set it to the registration's Application (client) ID."
                    .to_owned(),
            );
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Settings {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|name| map.get(name).cloned()).expect("valid settings")
    }

    #[test]
    fn complete_production_settings_have_no_problems() {
        let problems = configuration_problems(&settings(&[
            ("SECRET_KEY", "0123456789abcdef0123456789abcdef"),
            ("PUBLIC_URL", "https://accounts.example.com"),
            ("OUTLOOK_CLIENT_ID", "id"),
            ("OUTLOOK_CLIENT_SECRET", "secret"),
        ]));

        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn plain_http_public_site_is_a_problem() {
        let problems = configuration_problems(&settings(&[
            ("SECRET_KEY", "0123456789abcdef0123456789abcdef"),
            ("PUBLIC_URL", "http://accounts.example.com"),
            ("OUTLOOK_CLIENT_ID", "id"),
            ("OUTLOOK_CLIENT_SECRET", "secret"),
        ]));

        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("PUBLIC_URL"));
    }

    #[test]
    fn outlook_off_is_not_a_problem() {
        let problems = configuration_problems(&settings(&[(
            "SECRET_KEY",
            "0123456789abcdef0123456789abcdef",
        )]));

        assert!(problems.is_empty(), "{problems:?}");
    }
}
