use std::process::ExitCode;

use clap::Parser;
use outlook_oauth_app::check;
use outlook_oauth_app::cli::{Cli, Command};
use outlook_oauth_app::config::Settings;
use outlook_oauth_app::db::{adopt, Database};
use outlook_oauth_app::startup::Application;
use outlook_oauth_app::{auth::Passwords, superuser, telemetry};

/// Log lines that may wait for the writer thread. The channel allocates a 32-byte slot for each
/// up front, so tracing-appender's default of 128,000 lines took 4 MiB of an idle server's
/// memory. 16,384 lines take 512 KiB and give the writer about 0.2 s of slack at 85,000
/// requests per second, the anonymous page's rate in the benchmarks.
const LOG_LINES_BUFFERED: usize = 16_384;

#[actix_web::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // Log lines go to stdout from a thread of their own, so that no request waits for the
    // write. The guard flushes what is left when `main` returns. The writer is not lossy, so if
    // whatever reads stdout stalls until the buffer is full, requests wait for it as they would
    // for a direct write, and no line is lost.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let (log_writer, _log_guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(LOG_LINES_BUFFERED)
        .lossy(false)
        .finish(std::io::stdout());
    telemetry::init(log_writer, ansi);

    // A missing .env file is normal; a malformed one is worth stopping for.
    if let Err(error) = dotenvy::dotenv() {
        if !error.not_found() {
            eprintln!("error: cannot read .env: {error}");
            return ExitCode::from(2);
        }
    }
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };

    match run(cli.command.unwrap_or(Command::Serve), settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), "stopped with an error");
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve => {
            let address = settings.bind_address;
            let public_url = settings.public_url.clone();
            let app = Application::build(settings).await?;
            tracing::info!(%address, %public_url, "serving");
            app.run_until_stopped().await?;
            tracing::info!("stopped");
        }
        Command::Migrate => {
            let db = Database::connect_with(&settings.database_url, settings.pool)?;
            let report = tokio::task::spawn_blocking(move || db.migrate()).await??;
            for (app, count) in &report.adoption.django_migrations {
                println!("Django's django_migrations lists {count} migrations of {app}.");
            }
            for table in &report.adoption.existing_tables {
                println!("Adopted the existing table {table}; its rows are unchanged.");
            }
            if report.applied.is_empty() {
                println!("No migrations to apply.");
            }
            for name in &report.applied {
                println!("Applied {name}.");
            }
            if let adopt::UsernameIndex::NotUnique { duplicate_groups } = report.username_index {
                println!(
                    "Warning: {duplicate_groups} groups of usernames differ only in case, so their \
                     index is not unique; new usernames are still checked without regard to case."
                );
            }
        }
        Command::Check => {
            let problems = check::run(&settings).await?;
            if problems > 0 {
                anyhow::bail!("check found {problems} problem(s)");
            }
        }
        Command::Createsuperuser { username, email } => {
            let db = Database::connect_with(&settings.database_url, settings.pool)?;
            let migrator = db.clone();
            tokio::task::spawn_blocking(move || migrator.migrate()).await??;
            let password = superuser::read_password()?;
            let passwords = Passwords::new(1)?;
            let user =
                superuser::create_superuser(&db, &passwords, &username, &email, password).await?;
            println!("Superuser {} created (id {}).", user.username, user.id);
        }
    }
    Ok(())
}
