//! The database going away and coming back: pages answer 503, `/healthz` answers 503, and the
//! application recovers by itself.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::helpers::{assert_redirects_to, spawn_app_with, TestApp, TestDb, STRONG_PASSWORD};

/// The PostgreSQL server programs, or `None` (with a notice) when this machine has none. CI
/// has them, so there a missing server is a failure rather than a skip.
fn postgres_bin_dir() -> Option<PathBuf> {
    let found = std::fs::read_dir("/usr/lib/postgresql")
        .ok()
        .and_then(|versions| {
            versions
                .filter_map(Result::ok)
                .map(|entry| entry.path().join("bin"))
                .filter(|bin| bin.join("pg_ctl").exists())
                .max()
        });
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "the PostgreSQL server programs are missing under /usr/lib/postgresql"
        );
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "note: PostgreSQL outage test not run: no PostgreSQL server programs on this machine"
        );
    }
    found
}

/// A throwaway PostgreSQL cluster in a temporary folder, run as the `postgres` user because
/// PostgreSQL refuses to run as root.
struct Cluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
}

impl Cluster {
    fn create(bin: PathBuf) -> Cluster {
        let dir = tempfile::tempdir().expect("temporary folder");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let cluster = Cluster { bin, dir, port };
        run(Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(cluster.dir.path()));
        cluster.as_postgres(
            &cluster.bin.join("initdb"),
            &[
                "-D",
                &cluster.data().display().to_string(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        );
        cluster.start();
        cluster
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn as_postgres(&self, program: &Path, args: &[&str]) {
        run(Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(program)
            .args(args));
    }

    fn start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        self.as_postgres(
            &self.bin.join("pg_ctl"),
            &[
                "-D",
                &self.data().display().to_string(),
                "-o",
                &options,
                "-l",
                &self.dir.path().join("server.log").display().to_string(),
                "-w",
                "start",
            ],
        );
    }

    fn stop(&self) {
        self.as_postgres(
            &self.bin.join("pg_ctl"),
            &[
                "-D",
                &self.data().display().to_string(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .args([
                "-D",
                &self.data().display().to_string(),
                "-m",
                "immediate",
                "stop",
            ])
            .output();
    }
}

fn run(command: &mut Command) {
    let output = command.output().expect("run a command");
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Checks the outage as a visitor sees it: a 503 page from a signed-in page and from `/healthz`.
async fn assert_outage(app: &TestApp, page: &str) {
    let response = app.get(page).await;
    let status = response.status().as_u16();
    let html = response.text().await.expect("body");
    assert_eq!(status, 503, "{page} during the outage");
    assert!(html.contains("cannot reach its database"), "{page}: {html}");
    assert!(
        html.contains("class=\"nav\""),
        "{page}: error page outside the layout"
    );

    let health = app.get("/healthz").await;
    assert_eq!(health.status().as_u16(), 503);
}

#[tokio::test]
async fn postgres_outage_gives_503_and_recovers() {
    let Some(bin) = postgres_bin_dir() else {
        return;
    };
    let cluster = Cluster::create(bin);
    let app = spawn_app_with(vec![
        ("DATABASE_URL", cluster.url()),
        ("DATABASE_POOL_TIMEOUT", "2".to_owned()),
    ])
    .await;
    let signup = app.signup("ada", "ada@example.com", STRONG_PASSWORD).await;
    assert_redirects_to(&signup, "/accounts/profile/");

    cluster.stop();
    assert_outage(&app, "/accounts/profile/").await;
    let login = app.get("/accounts/login/").await;
    assert!(login.status().as_u16() < 500 || login.status().as_u16() == 503);

    cluster.start();
    let profile = app.get("/accounts/profile/").await;
    assert_eq!(
        profile.status().as_u16(),
        200,
        "no recovery after the server came back"
    );
    assert_eq!(app.get("/healthz").await.status().as_u16(), 200);
}

#[tokio::test]
async fn locked_sqlite_file_gives_503_and_recovers() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("locked.sqlite3");
    let url = format!("sqlite://{}", path.display());
    let app = spawn_app_with(vec![("DATABASE_URL", url.clone())]).await;
    app.signup("ada", "ada@example.com", STRONG_PASSWORD).await;

    // Another process holding the write lock makes the file unwritable for the application
    // for as long as it holds it. (Changing the file's mode would not: SQLite checks it only
    // when it opens the file, and the pool keeps its connections open.)
    let mut holder =
        TestDb::open(&outlook_oauth_app::config::DatabaseUrl::parse(&url).expect("URL"));
    holder.execute("BEGIN EXCLUSIVE");
    let (status, html) = {
        let response = app
            .submit(
                "/accounts/profile/",
                "/accounts/profile/",
                &[("job_title", "Pilot")],
            )
            .await;
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    };
    let health = app.get("/healthz").await.status().as_u16();
    holder.execute("ROLLBACK");

    assert_eq!(status, 503, "a write during the lock");
    assert!(html.contains("cannot reach its database"));
    assert_eq!(health, 503);

    tokio::time::sleep(Duration::from_millis(50)).await;
    let saved = app
        .submit(
            "/accounts/profile/",
            "/accounts/profile/",
            &[("job_title", "Pilot")],
        )
        .await;
    assert_redirects_to(&saved, "/accounts/profile/");
    assert_eq!(app.get("/healthz").await.status().as_u16(), 200);
}
