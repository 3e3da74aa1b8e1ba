//! The application on a database that Django made. tests/fixtures/django/make_fixture.py runs
//! Django's `migrate` and creates one user per Django password hasher with Django's own
//! `create_user`, a user with an unusable password, a profile row and an Outlook account row.
//! Users sign in through the log-in form.
//!
//! The fixture needs the venv that tests/fixtures/django/setup-venv.sh makes (`.ci/run` runs
//! it). Without the venv these tests print a notice and pass, except in CI (`CI=true`), where
//! they fail.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Once;

use diesel::sql_types::Text;
use diesel::QueryableByName;
use serde::Deserialize;

use outlook_oauth_app::config::DatabaseUrl;

use crate::helpers::{
    assert_redirects_to, form_error, input_value, spawn_app, spawn_app_with, status_and_html,
    PostgresTestDatabase, TestApp, TestDb, STRONG_PASSWORD,
};

/// The prefix of every hash that the application writes.
const CURRENT_HASH_PREFIX: &str = "argon2$argon2id$v=19$m=19456,t=2,p=1$";

const INVALID_LOGIN: &str =
    "Enter a correct username (or email address) and password. The password is case-sensitive.";

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/django")
}

/// Returns the venv's Python, or `None` after printing a notice when the venv is missing
/// outside CI. In CI a missing venv fails the test.
fn django_python() -> Option<PathBuf> {
    static NOTICE: Once = Once::new();

    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/django-venv/bin/python");
    if python.exists() {
        return Some(python);
    }
    let setup = "run tests/fixtures/django/setup-venv.sh to create it";
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("the Django venv {} is missing: {setup}", python.display());
    }
    NOTICE.call_once(|| {
        // Written to the stderr handle, not with eprintln!, which the test harness captures.
        let _ = writeln!(
            std::io::stderr(),
            "Django tests not run: the Django venv {} is missing; {setup}",
            python.display()
        );
    });
    None
}

/// A Django-made user, as make_fixture.py describes it.
#[derive(Debug, Deserialize)]
struct FixtureUser {
    username: String,
    /// `None` for the user with an unusable password.
    password: Option<String>,
    /// The algorithm name that starts the user's hash, such as `pbkdf2_sha256`.
    algorithm: Option<String>,
    first_name: String,
    last_name: String,
}

#[derive(Debug, Deserialize)]
struct FixtureProfile {
    username: String,
    bio: String,
    job_title: String,
    time_zone: String,
}

#[derive(Debug, Deserialize)]
struct FixtureOutlookAccount {
    username: String,
    display_name: String,
}

#[derive(Debug, Deserialize)]
struct FixtureDescription {
    users: Vec<FixtureUser>,
    profile: FixtureProfile,
    outlook_account: FixtureOutlookAccount,
}

/// A SQLite database made by Django, with the description of what it holds.
struct DjangoDatabase {
    /// `sqlite://PATH`, or the per-test PostgreSQL database when `TEST_DATABASE_URL` is set.
    url: String,
    description: FixtureDescription,
    dir: tempfile::TempDir,
    _postgres: Option<PostgresTestDatabase>,
}

impl DjangoDatabase {
    fn usable_users(&self) -> impl Iterator<Item = (&FixtureUser, &str)> {
        self.description
            .users
            .iter()
            .filter_map(|user| user.password.as_deref().map(|password| (user, password)))
    }

    fn user(&self, username: &str) -> &FixtureUser {
        self.description
            .users
            .iter()
            .find(|user| user.username == username)
            .unwrap_or_else(|| panic!("the fixture has no user {username}"))
    }
}

/// Runs make_fixture.py with `args` into a new temporary folder. Returns `None` when the venv
/// is missing outside CI.
fn make_django_database_with(args: &[&str]) -> Option<DjangoDatabase> {
    let python = django_python()?;
    let dir = tempfile::tempdir().expect("temporary folder");
    let postgres = PostgresTestDatabase::create();
    let url = match &postgres {
        Some(db) => db.url.clone(),
        None => format!("sqlite://{}", dir.path().join("django.sqlite3").display()),
    };

    let output = Command::new(&python)
        .arg(fixture_dir().join("make_fixture.py"))
        .args(args)
        .env("DATABASE_URL", &url)
        .env("DJANGO_SETTINGS_MODULE", "fixture_project.settings")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap_or_else(|e| panic!("running {} failed: {e}", python.display()));
    assert!(
        output.status.success(),
        "make_fixture.py failed with {}:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let description: FixtureDescription =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!(
                "make_fixture.py printed invalid JSON: {e}\n{}",
                String::from_utf8_lossy(&output.stdout)
            )
        });

    Some(DjangoDatabase {
        url,
        description,
        dir,
        _postgres: postgres,
    })
}

fn make_django_database() -> Option<DjangoDatabase> {
    make_django_database_with(&[])
}

/// Starts the application on the Django-made database. The row helpers of [`TestApp`] read
/// that database too.
async fn spawn_app_on(database: &DjangoDatabase) -> TestApp {
    spawn_app_with(vec![("DATABASE_URL", database.url.clone())]).await
}

/// Runs Django's `check_password` through check_password.py. Returns whether Django accepts
/// `password` for `hash`.
fn django_accepts(python: &Path, hash: &str, password: &str) -> bool {
    let mut child = Command::new(python)
        .arg(fixture_dir().join("check_password.py"))
        .env("DJANGO_SETTINGS_MODULE", "fixture_project.settings")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start check_password.py");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(format!("{hash}\n{password}\n").as_bytes())
        .expect("write to check_password.py");
    let output = child
        .wait_with_output()
        .expect("wait for check_password.py");
    match output.status.code() {
        Some(0) => true,
        Some(1) => false,
        _ => panic!(
            "check_password.py failed with {}:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

#[derive(Debug, PartialEq, QueryableByName)]
struct RowText {
    #[diesel(sql_type = Text)]
    row: String,
}

/// Returns every row of `table` as text, ordered by id, so that types and values are compared
/// exactly: through SQLite's `quote()` of each column, or PostgreSQL's text form of the row.
fn table_snapshot(url: &str, table: &str) -> Vec<String> {
    let url = DatabaseUrl::parse(url).expect("database URL");
    let mut db = TestDb::open(&url);
    let query = match &url {
        DatabaseUrl::Sqlite(_) => {
            let columns: Vec<String> = db
                .load::<RowText>(&format!(
                    "SELECT name AS row FROM pragma_table_info('{table}') ORDER BY cid"
                ))
                .into_iter()
                .map(|column| format!("quote(\"{}\")", column.row))
                .collect();
            assert!(!columns.is_empty(), "table {table} is missing");
            format!(
                "SELECT {} AS row FROM \"{table}\" ORDER BY id",
                columns.join(" || ',' || ")
            )
        }
        DatabaseUrl::Postgres(_) => {
            format!("SELECT CAST(t AS TEXT) AS row FROM \"{table}\" AS t ORDER BY id")
        }
    };
    db.load::<RowText>(&query)
        .into_iter()
        .map(|row| row.row)
        .collect()
}

#[tokio::test]
async fn django_users_log_in_and_get_argon2id() {
    let Some(database) = make_django_database() else {
        return;
    };
    let app = spawn_app_on(&database).await;
    let algorithms: Vec<&str> = database
        .usable_users()
        .filter_map(|(user, _)| user.algorithm.as_deref())
        .collect();
    for expected in [
        "pbkdf2_sha256",
        "pbkdf2_sha1",
        "argon2",
        "bcrypt_sha256",
        "bcrypt",
        "scrypt",
    ] {
        assert!(
            algorithms.contains(&expected),
            "no {expected} user in the fixture"
        );
    }

    for (user, password) in database.usable_users() {
        let name = &user.username;
        let django_hash = app.user_row(name).expect("auth_user row").password;
        assert!(
            django_hash.starts_with(user.algorithm.as_deref().expect("usable user's hasher")),
            "{name}: the fixture stored {django_hash}"
        );

        let response = app.login(name, password).await;
        assert_eq!(response.status().as_u16(), 303, "{name}: log-in failed");
        assert_redirects_to(&response, "/accounts/profile/");
        let row = app.user_row(name).expect("auth_user row");
        assert!(
            row.password.starts_with(CURRENT_HASH_PREFIX),
            "{name}: the hash was not replaced with Argon2id: {}",
            row.password
        );
        assert!(row.last_login.is_some(), "{name}: last_login not recorded");

        let response = app.logout().await;
        assert_redirects_to(&response, "/");
        let response = app.login(name, password).await;
        assert_eq!(
            response.status().as_u16(),
            303,
            "{name}: second log-in failed"
        );
        assert_redirects_to(&response, "/accounts/profile/");
        let response = app.logout().await;
        assert_redirects_to(&response, "/");
    }
}

#[tokio::test]
async fn django_user_with_wrong_password_keeps_hash() {
    let Some(database) = make_django_database() else {
        return;
    };
    let app = spawn_app_on(&database).await;
    let user = database.user("django_bcrypt_sha256");
    let before = app.user_row(&user.username).expect("auth_user row");

    let response = app.login(&user.username, "Koln-lantern-42").await;

    let (status, html) = status_and_html(response).await;
    assert_eq!(status, 400, "a wrong password did not fail the log-in");
    assert_eq!(form_error(&html).as_deref(), Some(INVALID_LOGIN));
    let after = app.user_row(&user.username).expect("auth_user row");
    assert_eq!(
        after.password, before.password,
        "a failed log-in changed the hash"
    );
}

#[tokio::test]
async fn django_unusable_password_never_logs_in() {
    let Some(database) = make_django_database() else {
        return;
    };
    let app = spawn_app_on(&database).await;
    let user = database.user("django_unusable");
    assert!(user.password.is_none(), "the fixture gave a password");
    let stored = app
        .user_row(&user.username)
        .expect("auth_user row")
        .password;
    assert!(
        stored.starts_with('!'),
        "not an unusable password: {stored}"
    );

    // The stored text itself, the text after `!`, and an empty password.
    for attempt in [stored.as_str(), &stored[1..], ""] {
        let response = app.login(&user.username, attempt).await;

        let (status, _) = status_and_html(response).await;
        assert_eq!(status, 400, "logged in with {attempt:?}");
    }
    let after = app.user_row(&user.username).expect("auth_user row");
    assert_eq!(after.password, stored, "the unusable password was replaced");
}

#[tokio::test]
async fn django_rows_survive_startup() {
    let Some(database) = make_django_database() else {
        return;
    };
    let tables = [
        "auth_user",
        "outlook_oauth_app_userprofile",
        "outlook_oauth_app_outlookaccount",
    ];
    let before: Vec<Vec<String>> = tables
        .iter()
        .map(|table| table_snapshot(&database.url, table))
        .collect();

    let _app = spawn_app_on(&database).await;

    for (table, rows) in tables.iter().zip(&before) {
        assert!(!rows.is_empty(), "the fixture left {table} empty");
        assert_eq!(
            &table_snapshot(&database.url, table),
            rows,
            "starting the application changed rows of {table}"
        );
    }
}

#[tokio::test]
async fn django_usernames_differing_in_case_start() {
    let Some(database) = make_django_database_with(&["--case-variant-username"]) else {
        return;
    };
    let before = table_snapshot(&database.url, "auth_user");
    database.user("DJANGO_PBKDF2_SHA256");
    database.user("django_pbkdf2_sha256");

    // Panics with the migration error when the application does not start.
    let app = spawn_app_on(&database).await;

    assert_eq!(table_snapshot(&database.url, "auth_user"), before);
    let upper = database.user("DJANGO_PBKDF2_SHA256");
    let password = upper.password.as_deref().expect("password");
    let response = app.login("DJANGO_PBKDF2_SHA256", password).await;
    assert_redirects_to(&response, "/accounts/profile/");
    let page = app.get_html("/accounts/profile/").await;
    assert!(
        page.contains("<h1>DJANGO_PBKDF2_SHA256</h1>"),
        "signed in as the other user"
    );
}

/// Runs the application binary with `args` on the Django database; returns its output.
fn run_binary(database: &DjangoDatabase, args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_outlook-oauth-app"))
        .args(args)
        .current_dir(database.dir.path())
        .env("DATABASE_URL", &database.url)
        .env("SECRET_KEY", crate::helpers::SECRET_KEY)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run the application binary");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[tokio::test]
async fn migrate_adopts_django_tables_and_check_reports_hashers() {
    let Some(database) = make_django_database() else {
        return;
    };
    let before = table_snapshot(&database.url, "auth_user");

    let (migrated, migrate_output) = run_binary(&database, &["migrate"]);
    let (_, check_output) = run_binary(&database, &["check"]);

    assert!(migrated, "migrate failed: {migrate_output}");
    assert!(
        migrate_output.contains("Adopted the existing table auth_user"),
        "{migrate_output}"
    );
    assert!(
        migrate_output.contains("migrations of auth"),
        "{migrate_output}"
    );
    assert_eq!(table_snapshot(&database.url, "auth_user"), before);
    let backend = DatabaseUrl::parse(&database.url).expect("URL").backend();
    assert!(
        check_output.contains(&format!("Database: {backend}")),
        "{check_output}"
    );
    assert!(
        check_output.contains("Migrations pending: none"),
        "{check_output}"
    );
    assert!(
        check_output.contains("pbkdf2_sha256 (upgraded at log-in)"),
        "{check_output}"
    );
    assert!(
        check_output.contains("scrypt (upgraded at log-in)"),
        "{check_output}"
    );
    assert!(
        check_output.contains("unusable (no password)"),
        "{check_output}"
    );
    assert!(check_output.contains("OUTLOOK_CLIENT_ID"), "{check_output}");
}

#[tokio::test]
async fn django_profile_page_renders() {
    let Some(database) = make_django_database() else {
        return;
    };
    let app = spawn_app_on(&database).await;
    let profile = &database.description.profile;
    let owner = database.user(&profile.username);
    assert_eq!(
        owner.first_name, "",
        "the profile's owner should have no names"
    );
    let password = owner.password.as_deref().expect("profile owner's password");

    let response = app.login(&owner.username, password).await;
    assert_redirects_to(&response, "/accounts/profile/");
    let (status, html) = status_and_html(app.get("/accounts/profile/").await).await;

    assert_eq!(status, 200, "profile page failed: {html}");
    assert!(html.contains(&format!("<h1>{}</h1>", owner.username)));
    assert_eq!(input_value(&html, "first_name").as_deref(), Some(""));
    assert_eq!(input_value(&html, "last_name").as_deref(), Some(""));
    assert_eq!(
        input_value(&html, "job_title").as_deref(),
        Some(profile.job_title.as_str())
    );
    assert_eq!(
        input_value(&html, "time_zone").as_deref(),
        Some(profile.time_zone.as_str())
    );
    assert!(html.contains(&profile.bio), "bio missing");
    let account = &database.description.outlook_account;
    assert_eq!(account.username, owner.username);
    assert!(
        html.contains(&account.display_name),
        "the Outlook account Django stored is not listed"
    );
}

#[tokio::test]
async fn django_user_without_profile_row_gets_one() {
    let Some(database) = make_django_database() else {
        return;
    };
    let app = spawn_app_on(&database).await;
    let user = database.user("django_scrypt");
    let password = user.password.as_deref().expect("password");
    let user_id = app.user_row(&user.username).expect("auth_user row").id;
    assert!(
        app.profile_rows(user_id).is_empty(),
        "the fixture made a profile row"
    );

    let response = app.login(&user.username, password).await;
    assert_redirects_to(&response, "/accounts/profile/");
    let rows_after_login = app.profile_rows(user_id).len();
    let (status, html) = status_and_html(app.get("/accounts/profile/").await).await;

    assert_eq!(rows_after_login, 1, "log-in did not create the profile row");

    assert_eq!(status, 200, "profile page failed: {html}");
    assert_eq!(input_value(&html, "first_name").as_deref(), Some(""));
    assert_eq!(
        input_value(&html, "last_name").as_deref(),
        Some(user.last_name.as_str())
    );
    assert_eq!(app.profile_rows(user_id).len(), 1);
}

#[tokio::test]
async fn application_hash_verifies_in_django() {
    let Some(python) = django_python() else {
        return;
    };
    let app = spawn_app().await;
    let response = app
        .signup("grace", "grace@example.com", STRONG_PASSWORD)
        .await;
    assert_redirects_to(&response, "/accounts/profile/");
    let hash = app.user_row("grace").expect("auth_user row").password;
    assert!(hash.starts_with(CURRENT_HASH_PREFIX), "{hash}");

    assert!(
        django_accepts(&python, &hash, STRONG_PASSWORD),
        "Django rejected the application's hash {hash}"
    );
    assert!(
        !django_accepts(&python, &hash, "violet-lantern-88-orbiT"),
        "Django accepted a wrong password for {hash}"
    );
}
