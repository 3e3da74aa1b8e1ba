//! The command line.

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "outlook-oauth-app",
    version,
    about = "Sign-up, sign-in and profile pages, with sign-in by Microsoft account"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations and serve HTTP (the default).
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Report the database backend, migrations, users per password hasher and configuration
    /// problems, without changing anything. Exits with 1 when it finds a problem.
    Check,
    /// Create a staff superuser. The password is read from the terminal, or from
    /// OUTLOOK_APP_SUPERUSER_PASSWORD when set.
    Createsuperuser {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
    },
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn no_subcommand_means_serve() {
        let cli = Cli::try_parse_from(["outlook-oauth-app"]).expect("parses");

        assert!(cli.command.is_none());
    }
}
