//! Browser tests: headless Chromium, driven through ChromeDriver over WebDriver, clicks and types
//! through the pages of an application started by [`spawn_app_with`].
//!
//! Each test starts its own ChromeDriver on a free loopback port, and ChromeDriver starts
//! Chromium with a fresh profile folder and flags that keep it off the network (see
//! [`chromium_args`]). Every page the tests visit is checked with axe-core, injected from
//! `tests/browser/node_modules` (`npm ci` there installs it), and [`Chromium::capture`] saves
//! screenshots at desktop and phone widths to `target/tmp/screenshots/`, or to
//! `docs/screenshots/` with `UPDATE_SCREENSHOTS=1`.
//!
//! Without `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian's `chromium` and
//! `chromium-driver`) the tests print one notice and pass, except with `CI=true`, where they fail.
//! The same holds for axe-core alone.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{LazyLock, Once};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::wd::TimeoutConfiguration;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, TestApp, Vars, STRONG_PASSWORD};
use crate::idp::{Fault, IdpAccount, TestIdp};

/// Installed by Debian's `chromium` package; a shell script that starts [`CHROMIUM_BINARY`].
const CHROMIUM: &str = "/usr/bin/chromium";

/// The browser itself. ChromeDriver starts it directly, because Debian's launcher script adds
/// flags of its own (`--enable-remote-extensions`, extension folders) and API keys.
const CHROMIUM_BINARY: &str = "/usr/lib/chromium/chromium";

/// Installed by Debian's `chromium-driver` package.
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A closed port on loopback: Chromium's proxy for every host other than the test servers.
const BLACK_HOLE_PROXY: &str = "127.0.0.1:9";

/// Maximum wait for a page load, a script, ChromeDriver's start or an element.
const TIMEOUT: Duration = Duration::from_secs(30);

const DESKTOP_WIDTH: u32 = 1280;
const PHONE_WIDTH: u32 = 390;
const WINDOW_HEIGHT: u32 = 900;

/// Screenshots taller than this are cut off at the bottom.
const MAX_SCREENSHOT_HEIGHT: u32 = 3000;

const NEW_PASSWORD: &str = "copper-meadow-51-quartz";

static BROWSER_NOTICE: Once = Once::new();
static AXE_NOTICE: Once = Once::new();

/// The axe-core script, or `None` when `npm ci` has not installed it.
static AXE_SOURCE: LazyLock<Option<String>> =
    LazyLock::new(|| std::fs::read_to_string(axe_path()).ok());

/// Runs axe-core's WCAG 2.0 and 2.1 rules of levels A and AA, then the best-practice rules
/// about page structure: one `h1`, headings without skipped levels, content inside landmarks.
/// It calls WebDriver's callback with `{violations: [...]}` or `{error: "..."}`.
const AXE_RUN: &str = r#"
const done = arguments[arguments.length - 1];
const summarize = (results) => results.violations.map((violation) => ({
  id: violation.id,
  impact: violation.impact,
  help: violation.help,
  nodes: violation.nodes.map((node) => ({
    target: node.target.join(' '),
    summary: node.failureSummary,
  })),
}));
(async () => {
  const wcag = await axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    resultTypes: ['violations'],
  });
  const structure = await axe.run(document, {
    runOnly: {
      type: 'rule',
      values: ['heading-order', 'page-has-heading-one', 'landmark-one-main', 'region', 'skip-link'],
    },
    resultTypes: ['violations'],
  });
  return { violations: summarize(wcag).concat(summarize(structure)) };
})().then(done, (error) => done({ error: String(error) }));
"#;

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| value == "true")
}

fn axe_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/node_modules/axe-core/axe.min.js")
}

/// `docs/screenshots/` with `UPDATE_SCREENSHOTS=1`, else `target/tmp/screenshots/`, so that a
/// test run leaves the committed pictures alone unless asked to renew them.
fn screenshot_dir() -> PathBuf {
    if std::env::var("UPDATE_SCREENSHOTS").is_ok_and(|value| value == "1") {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots")
    } else {
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots")
    }
}

/// Reports that a part of the browser tests cannot run: a failure in CI, else one line on
/// stderr per test binary run.
fn not_run(notice: &Once, message: &str) {
    assert!(
        !in_ci(),
        "{message}. CI=true, so this is a failure: .ci/run installs what the browser tests need"
    );
    notice.call_once(|| {
        // Written to the stderr handle itself, which the test harness does not capture.
        let _ = writeln!(std::io::stderr(), "{message}");
    });
}

/// Returns why the browser tests cannot run here, if they cannot.
fn missing_browser() -> Option<String> {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|path| !Path::new(path).exists())
        .collect();
    if missing.is_empty() {
        return None;
    }
    Some(format!(
        "browser tests not run: {} not found; install Debian's chromium and chromium-driver \
         (apt-get install chromium chromium-driver) to run them",
        missing.join(" and ")
    ))
}

/// The command line that keeps Chromium off the network and free of first-run state.
///
/// Chromium otherwise contacts its vendor's hosts on its own (component updates, safe browsing
/// lists, sync, translation, metrics). The proxy settings send every request for a host other
/// than 127.0.0.1 and localhost to [`BLACK_HOLE_PROXY`], and the resolver rules resolve every
/// other name to "not found", so nothing leaves the machine even if a feature ignores a flag.
fn chromium_args(profile: &Path) -> Vec<String> {
    let mut args: Vec<String> = [
        "--headless=new",
        // The tests run as root, where Chromium's sandbox cannot start.
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--disable-client-side-phishing-detection",
        "--disable-domain-reliability",
        "--disable-breakpad",
        "--metrics-recording-only",
        "--no-pings",
        "--password-store=basic",
        "--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider,\
         AutofillServerCommunication,CertificateTransparencyComponentUpdater,\
         PasswordLeakDetection,InterestFeedContentSuggestions",
        "--proxy-bypass-list=<-loopback>;127.0.0.1;localhost",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        "--lang=en-US",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    args.push(format!("--proxy-server={BLACK_HOLE_PROXY}"));
    args.push(format!("--window-size={DESKTOP_WIDTH},{WINDOW_HEIGHT}"));
    args.push(format!("--user-data-dir={}", profile.display()));
    args
}

/// Profile preferences that turn off the password manager and autofill, so no dialog or
/// filled-in value gets between the test and the page.
fn chromium_prefs() -> Value {
    json!({
        "credentials_enable_service": false,
        "profile.password_manager_enabled": false,
        "profile.password_manager_leak_detection": false,
        "autofill.profile_enabled": false,
        "autofill.credit_card_enabled": false,
        "safebrowsing.enabled": false,
        "search.suggest_enabled": false,
        "translate.enabled": false,
    })
}

/// A ChromeDriver process on a loopback port. Dropping it ends its browser sessions and the
/// process.
struct ChromeDriver {
    process: Child,
    port: u16,
    log_path: PathBuf,
}

impl ChromeDriver {
    fn start(log_path: PathBuf) -> ChromeDriver {
        // Another process may take the free port before ChromeDriver binds it, so try a few.
        for _ in 0..3 {
            let port = free_port();
            let log = std::fs::File::create(&log_path).expect("create the ChromeDriver log");
            let process = Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .arg(format!("--log-path={}", log_path.display()))
                .arg("--log-level=WARNING")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("{CHROMEDRIVER} failed to start: {e}"));
            let mut driver = ChromeDriver {
                process,
                port,
                log_path: log_path.clone(),
            };
            if driver.wait_until_listening() {
                return driver;
            }
        }
        panic!(
            "{CHROMEDRIVER} did not start listening; its log:\n{}",
            std::fs::read_to_string(&log_path).unwrap_or_default()
        );
    }

    /// Waits until the port accepts connections. Returns false if ChromeDriver exited first.
    fn wait_until_listening(&mut self) -> bool {
        let address = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + TIMEOUT;
        while Instant::now() < deadline {
            if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
                return true;
            }
            if let Ok(Some(_)) = self.process.try_wait() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "{CHROMEDRIVER} did not listen on port {} within {TIMEOUT:?}",
            self.port
        );
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        // `/shutdown` makes ChromeDriver quit its browsers and exit. Killing it instead would
        // leave Chromium running.
        request_shutdown(self.port);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.process.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// Sends `GET /shutdown` to ChromeDriver, ignoring failures: the process may be gone already.
fn request_shutdown(port: u16) {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = TcpStream::connect_timeout(&address, Duration::from_secs(2)) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request =
        format!("GET /shutdown HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_ok() {
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind a free loopback port")
        .port()
}

/// One headless Chromium with its own ChromeDriver and profile folder, pointed at one
/// application.
struct Chromium {
    client: Client,
    base_url: String,
    /// Dropped after `client`: ends the browser.
    driver: ChromeDriver,
    /// Dropped last: the profile folder and the ChromeDriver log.
    _folder: tempfile::TempDir,
}

impl Chromium {
    /// Starts a browser for the application at `base_url`, or returns `None` when Chromium or
    /// ChromeDriver is not installed and `CI` is not `true`.
    async fn launch(base_url: &str) -> Option<Chromium> {
        if let Some(message) = missing_browser() {
            not_run(&BROWSER_NOTICE, &message);
            return None;
        }
        let folder = tempfile::tempdir().expect("temporary folder for the browser");
        let profile = folder.path().join("profile");
        std::fs::create_dir(&profile).expect("create the profile folder");
        let driver = ChromeDriver::start(folder.path().join("chromedriver.log"));

        let binary = if Path::new(CHROMIUM_BINARY).exists() {
            CHROMIUM_BINARY
        } else {
            CHROMIUM
        };
        let capabilities = json!({
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "goog:chromeOptions": {
                "binary": binary,
                "args": chromium_args(&profile),
                "prefs": chromium_prefs(),
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("json! of an object literal is an object")
        };
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&driver.url())
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "Chromium failed to start through ChromeDriver: {e}\nChromeDriver log:\n{}",
                    driver.log()
                )
            });
        client
            .update_timeouts(TimeoutConfiguration::new(
                Some(TIMEOUT),
                Some(TIMEOUT),
                Some(Duration::ZERO),
            ))
            .await
            .expect("set WebDriver timeouts");

        Some(Chromium {
            client,
            base_url: base_url.trim_end_matches('/').to_owned(),
            driver,
            _folder: folder,
        })
    }

    async fn open_app(app: &TestApp) -> Option<Chromium> {
        Chromium::launch(&app.address).await
    }

    // ---- navigation ----

    /// Opens `path` of the application, as when a person types the address.
    async fn goto(&self, path: &str) {
        let url = format!("{}{path}", self.base_url);
        self.client
            .goto(&url)
            .await
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// Returns the path of the page shown now.
    async fn path(&self) -> String {
        self.client
            .current_url()
            .await
            .expect("current URL")
            .path()
            .to_owned()
    }

    async fn assert_path(&self, expected: &str) {
        assert_eq!(
            self.path().await,
            expected,
            "expected to be on {expected}; the page's heading is {:?}",
            self.heading().await
        );
    }

    /// Marks the current document, so that [`Chromium::wait_for_new_page`] detects its replacement.
    async fn mark_page(&self) {
        self.client
            .execute("window.browserTestOldPage = true;", Vec::new())
            .await
            .expect("mark the current page");
    }

    /// Waits until the marked document has been replaced by a fully loaded one.
    async fn wait_for_new_page(&self) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let loaded = self
                .client
                .execute(
                    "return window.browserTestOldPage !== true && document.readyState === 'complete';",
                    Vec::new(),
                )
                .await;
            // A script can fail while the navigation is under way, so try again.
            if let Ok(Value::Bool(true)) = loaded {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no new page loaded within {TIMEOUT:?}; still on {}",
                self.path().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn find(&self, xpath: &str) -> fantoccini::elements::Element {
        self.client
            .find(Locator::XPath(xpath))
            .await
            .unwrap_or_else(|e| panic!("no element matches {xpath} on {}: {e}", self.base_url))
    }

    /// Clicks the element at `xpath` and waits for the page it leads to.
    async fn click_and_load(&self, xpath: &str) {
        self.mark_page().await;
        self.find(xpath)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {xpath}: {e}"));
        self.wait_for_new_page().await;
    }

    /// Clicks the button inside `<main>` whose text starts with `text`.
    async fn press_button(&self, text: &str) {
        self.click_and_load(&format!(
            "//main//button[starts-with(normalize-space(.), '{text}')]"
        ))
        .await;
    }

    /// Clicks the first link inside `<main>` whose text is `text`.
    async fn follow_link(&self, text: &str) {
        self.click_and_load(&format!("(//main//a[normalize-space(.)='{text}'])[1]"))
            .await;
    }

    /// Clicks "Log out" in the page header.
    async fn log_out(&self) {
        self.click_and_load("//header//button[normalize-space(.)='Log out']")
            .await;
        self.assert_path("/").await;
        assert_eq!(self.flash().await, "You have been logged out.");
    }

    // ---- forms ----

    /// Clicks into the input named `name`, clears it and types `text`.
    async fn fill(&self, name: &str, text: &str) {
        let input = self.find(&format!("//*[@id='id_{name}']")).await;
        input
            .click()
            .await
            .unwrap_or_else(|e| panic!("click into {name}: {e}"));
        input
            .clear()
            .await
            .unwrap_or_else(|e| panic!("clear {name}: {e}"));
        input
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("type into {name}: {e}"));
    }

    /// Returns the current value of the input named `name`.
    async fn value(&self, name: &str) -> String {
        self.find(&format!("//*[@id='id_{name}']"))
            .await
            .prop("value")
            .await
            .expect("read an input's value")
            .unwrap_or_default()
    }

    async fn attribute(&self, xpath: &str, attribute: &str) -> Option<String> {
        self.find(xpath)
            .await
            .attr(attribute)
            .await
            .expect("read an attribute")
    }

    async fn text(&self, xpath: &str) -> String {
        self.find(xpath)
            .await
            .text()
            .await
            .expect("read an element's text")
    }

    async fn heading(&self) -> String {
        match self.client.find(Locator::Css("h1")).await {
            Ok(heading) => heading.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Returns the text of the first flash message.
    async fn flash(&self) -> String {
        self.text("//*[contains(@class, 'flash')]").await
    }

    async fn body_text(&self) -> String {
        self.text("//body").await
    }

    /// Checks that the input named `field` is marked invalid, that its error message is shown
    /// beside it and announced through `aria-describedby`, and returns the message.
    async fn assert_field_error(&self, field: &str) -> String {
        let input = format!("//*[@id='id_{field}']");
        assert_eq!(
            self.attribute(&input, "aria-invalid").await.as_deref(),
            Some("true"),
            "{field} should be marked aria-invalid"
        );
        let described_by = self
            .attribute(&input, "aria-describedby")
            .await
            .unwrap_or_default();
        let error_id = format!("{field}-error");
        assert!(
            described_by.split_whitespace().any(|id| id == error_id),
            "{field}'s aria-describedby {described_by:?} should name {error_id}"
        );
        let error = self.find(&format!("//*[@id='{error_id}']")).await;
        assert!(
            error.is_displayed().await.expect("read visibility"),
            "the error beside {field} should be visible"
        );
        // The message sits in the same field block as its input.
        let same_field = self
            .client
            .find(Locator::XPath(&format!(
                "//*[@id='id_{field}']/ancestor::div[contains(@class, 'field')][1]//*[@id='{error_id}']"
            )))
            .await;
        assert!(
            same_field.is_ok(),
            "the error of {field} should sit beside its input"
        );
        error.text().await.expect("read the error text")
    }

    /// Checks that the input named `field` carries no error.
    async fn assert_no_field_error(&self, field: &str) {
        let input = format!("//*[@id='id_{field}']");
        assert_eq!(
            self.attribute(&input, "aria-invalid").await,
            None,
            "{field}"
        );
        let error = self
            .client
            .find(Locator::Id(&format!("{field}-error")))
            .await;
        assert!(error.is_err(), "{field} should have no error message");
    }

    // ---- keyboard ----

    /// Presses each key of `keys` in turn on the keyboard.
    async fn press_keys(&self, keys: &str) {
        let mut actions = KeyActions::new("keyboard".to_owned());
        for key in keys.chars() {
            actions = actions
                .then(KeyAction::Down { value: key })
                .then(KeyAction::Up { value: key });
        }
        self.client
            .perform_actions(actions)
            .await
            .expect("press keys");
        self.client.release_actions().await.expect("release keys");
    }

    /// Presses Tab until the focused element matches the CSS `selector`, checking on the way
    /// that every element that takes focus shows a visible focus indicator.
    async fn tab_to(&self, selector: &str) {
        for _ in 0..40 {
            self.press_keys(&char::from(Key::Tab).to_string()).await;
            let focus = self
                .client
                .execute(
                    "const el = document.activeElement;
                     const style = getComputedStyle(el);
                     return {
                       matches: el.matches(arguments[0]),
                       description: el.outerHTML.slice(0, 120),
                       outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2,
                     };",
                    vec![json!(selector)],
                )
                .await
                .expect("read the focused element");
            assert_eq!(
                focus["outline"],
                json!(true),
                "focused element has no visible focus outline: {}",
                focus["description"]
            );
            if focus["matches"] == json!(true) {
                return;
            }
        }
        panic!(
            "{selector} was not reached with Tab on {}",
            self.path().await
        );
    }

    /// Types `text` into the focused element.
    async fn type_text(&self, text: &str) {
        self.press_keys(text).await;
    }

    /// Presses Enter and waits for the page it leads to.
    async fn press_enter_and_load(&self) {
        self.mark_page().await;
        self.press_keys(&char::from(Key::Enter).to_string()).await;
        self.wait_for_new_page().await;
    }

    // ---- layout, accessibility, screenshots ----

    /// Resizes the window so that the page's viewport is `width` pixels wide.
    async fn set_viewport_width(&self, width: u32, height: u32) {
        self.client
            .set_window_size(width, height)
            .await
            .expect("resize the window");
        let inner_width = self
            .client
            .execute("return window.innerWidth;", Vec::new())
            .await
            .expect("read the viewport width");
        assert_eq!(inner_width, json!(width), "viewport width after resize");
    }

    /// Checks that the page fits the viewport's width and that its body text is at least
    /// 16 px.
    async fn assert_fits_width(&self, page: &str) {
        let metrics = self
            .client
            .execute(
                "return {
                   scroll: document.documentElement.scrollWidth,
                   viewport: window.innerWidth,
                   font: parseFloat(getComputedStyle(document.body).fontSize),
                 };",
                Vec::new(),
            )
            .await
            .expect("read the page's width");
        let scroll_width = metrics["scroll"].as_f64().expect("scroll width");
        let viewport_width = metrics["viewport"].as_f64().expect("viewport width");
        assert!(
            scroll_width <= viewport_width,
            "{page} scrolls sideways: {metrics}"
        );
        assert!(
            metrics["font"].as_f64().is_some_and(|size| size >= 16.0),
            "{page} body text is smaller than 16 px: {metrics}"
        );
    }

    /// Runs axe-core on the page and fails with every violation found.
    async fn assert_accessible(&self, page: &str) {
        let Some(source) = AXE_SOURCE.as_deref() else {
            not_run(
                &AXE_NOTICE,
                &format!(
                    "axe-core checks not run: {} not found; run `npm ci` in tests/browser",
                    axe_path().display()
                ),
            );
            return;
        };
        let loaded = self
            .client
            .execute("return typeof window.axe === 'object';", Vec::new())
            .await
            .expect("look for axe-core");
        if loaded != json!(true) {
            self.client
                .execute(source, Vec::new())
                .await
                .unwrap_or_else(|e| panic!("inject axe-core into {page}: {e}"));
        }
        let result = self
            .client
            .execute_async(AXE_RUN, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("run axe-core on {page}: {e}"));
        if let Some(error) = result.get("error") {
            panic!("axe-core failed on {page}: {error}");
        }
        let violations = result["violations"]
            .as_array()
            .unwrap_or_else(|| panic!("axe-core returned no violation list on {page}: {result}"));
        if violations.is_empty() {
            return;
        }
        let mut report = String::new();
        for violation in violations {
            report.push_str(&format!(
                "\n- {} ({}): {}",
                violation["id"], violation["impact"], violation["help"]
            ));
            for node in violation["nodes"].as_array().into_iter().flatten() {
                report.push_str(&format!(
                    "\n    {}: {}",
                    node["target"].as_str().unwrap_or_default(),
                    node["summary"]
                        .as_str()
                        .unwrap_or_default()
                        .replace('\n', " ")
                ));
            }
        }
        panic!(
            "{page} has {} accessibility violations:{report}",
            violations.len()
        );
    }

    /// Checks the page at desktop and phone widths (no sideways scrolling, readable text, no
    /// axe-core violation) and saves a full-page screenshot of each as `{name}-desktop.png` and
    /// `{name}-phone.png` in [`screenshot_dir`].
    async fn capture(&self, name: &str) {
        let folder = screenshot_dir();
        std::fs::create_dir_all(&folder).expect("create the screenshot folder");
        for (width, suffix) in [(DESKTOP_WIDTH, "desktop"), (PHONE_WIDTH, "phone")] {
            let page = format!("{name} at {width} px");
            self.set_viewport_width(width, WINDOW_HEIGHT).await;
            self.assert_fits_width(&page).await;
            self.assert_accessible(&page).await;

            let sizes = self
                .client
                .execute(
                    "return [window.outerHeight - window.innerHeight, \
                             document.documentElement.scrollHeight];",
                    Vec::new(),
                )
                .await
                .expect("read the page height");
            let frame = sizes[0].as_u64().unwrap_or(0) as u32;
            let content = sizes[1].as_u64().unwrap_or(u64::from(WINDOW_HEIGHT)) as u32;
            self.set_viewport_width(width, frame + content.min(MAX_SCREENSHOT_HEIGHT))
                .await;
            let png = self.client.screenshot().await.expect("take a screenshot");
            let path = folder.join(format!("{name}-{suffix}.png"));
            std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        }
        self.set_viewport_width(DESKTOP_WIDTH, WINDOW_HEIGHT).await;
    }

    /// Ends the browser session; dropping [`Chromium`] without it also ends the browser.
    async fn close(self) {
        let Chromium { client, driver, .. } = self;
        let _ = client.close().await;
        drop(driver);
    }
}

/// Signs up through the sign-up form and checks that the profile page follows.
async fn sign_up(chrome: &Chromium, username: &str, email: &str, password: &str) {
    chrome.goto("/accounts/signup/").await;
    chrome.fill("username", username).await;
    chrome.fill("email", email).await;
    chrome.fill("password1", password).await;
    chrome.fill("password2", password).await;
    chrome.press_button("Sign up").await;
    chrome.assert_path("/accounts/profile/").await;
}

/// Logs in through the log-in form with `login` (a username or an email address).
async fn log_in(chrome: &Chromium, login: &str, password: &str) {
    chrome.goto("/accounts/login/").await;
    chrome.fill("username", login).await;
    chrome.fill("password", password).await;
    chrome.press_button("Log in").await;
}

/// Spawns an app configured against `idp` for sign-in with Outlook.
async fn spawn_outlook_app(idp: &TestIdp) -> TestApp {
    let vars: Vars = vec![
        ("OUTLOOK_CLIENT_ID", TestIdp::CLIENT_ID.to_owned()),
        ("OUTLOOK_CLIENT_SECRET", TestIdp::CLIENT_SECRET.to_owned()),
        ("OUTLOOK_AUTHORITY", idp.authority()),
        ("OUTLOOK_HTTP_TIMEOUT", "5".to_owned()),
    ];
    spawn_app_with(vars).await
}

#[tokio::test]
async fn signup_shows_error_beside_field() {
    let app = spawn_app().await;
    let Some(chrome) = Chromium::open_app(&app).await else {
        return;
    };

    chrome.goto("/").await;
    assert_eq!(chrome.heading().await, "Your account, your way");
    chrome.capture("landing").await;

    chrome.follow_link("Create an account").await;
    chrome.assert_path("/accounts/signup/").await;
    chrome.fill("username", "grace").await;
    chrome.fill("email", "grace@example.com").await;
    chrome.fill("password1", STRONG_PASSWORD).await;
    chrome.fill("password2", "a-different-password-42").await;
    chrome.press_button("Sign up").await;

    assert_eq!(chrome.heading().await, "Create an account");
    let title = chrome.client.title().await.expect("page title");
    assert!(title.starts_with("Error: Sign up"), "title: {title:?}");
    assert_eq!(
        chrome.text("//*[@id='error-summary']").await,
        "Correct the field marked below and send the form again."
    );
    assert_eq!(
        chrome
            .attribute("//*[@id='error-summary']", "role")
            .await
            .as_deref(),
        Some("alert"),
        "the error summary is announced"
    );
    let message = chrome.assert_field_error("password2").await;
    assert!(
        message.contains("do not match"),
        "unexpected message beside password2: {message:?}"
    );
    chrome.assert_no_field_error("username").await;
    assert_eq!(chrome.value("username").await, "grace", "username kept");
    assert_eq!(
        chrome.value("email").await,
        "grace@example.com",
        "email kept"
    );
    assert_eq!(
        chrome.value("password1").await,
        "",
        "passwords are not sent back"
    );
    chrome.capture("signup-error").await;

    chrome.fill("password1", STRONG_PASSWORD).await;
    chrome.fill("password2", STRONG_PASSWORD).await;
    chrome.press_button("Sign up").await;
    chrome.assert_path("/accounts/profile/").await;
    assert_eq!(chrome.heading().await, "grace");
    assert_eq!(
        chrome.flash().await,
        "Welcome, grace! Your account is ready."
    );
    assert!(app.user_row("grace").is_some(), "the user row exists");

    chrome.close().await;
}

#[tokio::test]
async fn login_by_username_and_by_email() {
    let app = spawn_app().await;
    let Some(chrome) = Chromium::open_app(&app).await else {
        return;
    };
    sign_up(&chrome, "ada", "ada@example.com", STRONG_PASSWORD).await;
    chrome.log_out().await;

    chrome.goto("/").await;
    chrome
        .click_and_load("//header//a[normalize-space(.)='Log in']")
        .await;
    chrome.assert_path("/accounts/login/").await;
    chrome.capture("login").await;

    log_in(&chrome, "ada", "not-the-password").await;
    chrome.assert_path("/accounts/login/").await;
    let form_error = chrome.text("//*[@id='form-error']").await;
    assert!(
        form_error.starts_with("Enter a correct username"),
        "unexpected form error: {form_error:?}"
    );
    assert_eq!(
        chrome
            .attribute("//*[@id='form-error']", "role")
            .await
            .as_deref(),
        Some("alert"),
        "the failed log-in is announced"
    );
    assert_eq!(chrome.value("username").await, "ada", "username kept");
    chrome.capture("login-error").await;

    log_in(&chrome, "ada", STRONG_PASSWORD).await;
    chrome.assert_path("/accounts/profile/").await;
    assert_eq!(chrome.flash().await, "Welcome back, ada.");
    chrome.log_out().await;

    log_in(&chrome, "ADA@example.com", STRONG_PASSWORD).await;
    chrome.assert_path("/accounts/profile/").await;
    assert_eq!(chrome.heading().await, "ada");

    chrome.goto("/").await;
    assert!(
        chrome
            .body_text()
            .await
            .contains("You are signed in as ada."),
        "the landing page greets the signed-in user"
    );
    chrome.assert_accessible("landing, signed in").await;
    chrome.goto("/accounts/no-such-page/").await;
    assert_eq!(chrome.heading().await, "Page not found");
    chrome.assert_accessible("page not found").await;

    chrome.log_out().await;
    chrome.goto("/accounts/profile/").await;
    chrome.assert_path("/accounts/login/").await;

    chrome.close().await;
}

#[tokio::test]
async fn profile_edit_saves_and_shows_errors() {
    let app = spawn_app().await;
    let Some(chrome) = Chromium::open_app(&app).await else {
        return;
    };
    sign_up(&chrome, "ada", "ada@example.com", STRONG_PASSWORD).await;

    chrome.fill("first_name", "Ada").await;
    chrome.fill("last_name", "Lovelace").await;
    chrome.fill("job_title", "Analyst").await;
    chrome.fill("department", "Engines").await;
    chrome.fill("time_zone", "Mars/Olympus_Mons").await;
    chrome.fill("bio", "Wrote the first program.").await;
    chrome.press_button("Save profile").await;

    let message = chrome.assert_field_error("time_zone").await;
    assert!(!message.is_empty(), "time zone error has text");
    chrome.assert_no_field_error("first_name").await;
    assert_eq!(chrome.value("first_name").await, "Ada", "typed values kept");
    assert_eq!(chrome.value("bio").await, "Wrote the first program.");
    chrome.capture("profile-error").await;

    chrome.fill("time_zone", "Europe/London").await;
    chrome.press_button("Save profile").await;
    chrome.assert_path("/accounts/profile/").await;
    assert_eq!(chrome.flash().await, "Your profile was saved.");

    chrome.goto("/accounts/profile/").await;
    assert_eq!(chrome.value("first_name").await, "Ada");
    assert_eq!(chrome.value("last_name").await, "Lovelace");
    assert_eq!(chrome.value("job_title").await, "Analyst");
    assert_eq!(chrome.value("department").await, "Engines");
    assert_eq!(chrome.value("time_zone").await, "Europe/London");
    assert_eq!(chrome.value("bio").await, "Wrote the first program.");
    let user = app.user_row("ada").expect("user row");
    assert_eq!(user.first_name, "Ada");
    assert_eq!(user.last_name, "Lovelace");
    chrome.capture("profile").await;

    chrome.close().await;
}

#[tokio::test]
async fn password_change_then_login() {
    let app = spawn_app().await;
    let Some(chrome) = Chromium::open_app(&app).await else {
        return;
    };
    sign_up(&chrome, "ada", "ada@example.com", STRONG_PASSWORD).await;

    chrome.follow_link("Change your password").await;
    chrome.assert_path("/accounts/password/change/").await;
    chrome.capture("password-change").await;

    chrome.fill("old_password", "not-the-password").await;
    chrome.fill("new_password1", NEW_PASSWORD).await;
    chrome.fill("new_password2", NEW_PASSWORD).await;
    chrome.press_button("Change password").await;
    chrome.assert_field_error("old_password").await;
    chrome.capture("password-change-error").await;

    chrome.fill("old_password", STRONG_PASSWORD).await;
    chrome.fill("new_password1", NEW_PASSWORD).await;
    chrome.fill("new_password2", NEW_PASSWORD).await;
    chrome.press_button("Change password").await;
    chrome.assert_path("/accounts/profile/").await;
    assert_eq!(
        chrome.flash().await,
        "Your password was changed. Other sessions were signed out."
    );
    chrome.log_out().await;

    log_in(&chrome, "ada", STRONG_PASSWORD).await;
    chrome.assert_path("/accounts/login/").await;
    log_in(&chrome, "ada", NEW_PASSWORD).await;
    chrome.assert_path("/accounts/profile/").await;

    chrome.close().await;
}

/// Fills and sends every form with the keyboard alone, and checks that each element that
/// takes focus on the way shows it.
#[tokio::test]
async fn every_form_works_by_keyboard() {
    let app = spawn_app().await;
    let Some(chrome) = Chromium::open_app(&app).await else {
        return;
    };

    chrome.goto("/").await;
    chrome.tab_to("a.skip-link").await;
    chrome.tab_to("main a[href='/accounts/signup/']").await;
    chrome.press_enter_and_load().await;
    chrome.assert_path("/accounts/signup/").await;

    chrome.tab_to("#id_username").await;
    chrome.type_text("lin").await;
    chrome.tab_to("#id_email").await;
    chrome.capture("signup-focus").await;
    chrome.type_text("lin@example.com").await;
    chrome.tab_to("#id_password1").await;
    chrome.type_text(STRONG_PASSWORD).await;
    chrome.tab_to("#id_password2").await;
    chrome.type_text(STRONG_PASSWORD).await;
    chrome.tab_to("main button[type='submit']").await;
    chrome.press_enter_and_load().await;
    chrome.assert_path("/accounts/profile/").await;

    chrome.tab_to("#id_first_name").await;
    chrome.type_text("Lin").await;
    chrome.tab_to("#id_bio").await;
    chrome.type_text("Uses the keyboard.").await;
    chrome.tab_to("main button[type='submit']").await;
    chrome.press_enter_and_load().await;
    assert_eq!(chrome.flash().await, "Your profile was saved.");
    assert_eq!(chrome.value("first_name").await, "Lin");
    assert_eq!(chrome.value("bio").await, "Uses the keyboard.");

    chrome
        .tab_to("main a[href='/accounts/password/change/']")
        .await;
    chrome.press_enter_and_load().await;
    chrome.tab_to("#id_old_password").await;
    chrome.type_text(STRONG_PASSWORD).await;
    chrome.tab_to("#id_new_password1").await;
    chrome.type_text(NEW_PASSWORD).await;
    chrome.tab_to("#id_new_password2").await;
    chrome.type_text(NEW_PASSWORD).await;
    // Enter in a text input sends its form.
    chrome.press_enter_and_load().await;
    chrome.assert_path("/accounts/profile/").await;
    assert!(
        chrome
            .flash()
            .await
            .starts_with("Your password was changed."),
        "flash after the password change"
    );

    chrome.tab_to("header button").await;
    chrome.press_enter_and_load().await;
    chrome.assert_path("/").await;

    chrome.tab_to("header a[href='/accounts/login/']").await;
    chrome.press_enter_and_load().await;
    chrome.tab_to("#id_username").await;
    chrome.type_text("lin").await;
    chrome.tab_to("#id_password").await;
    chrome.type_text(NEW_PASSWORD).await;
    chrome.press_enter_and_load().await;
    chrome.assert_path("/accounts/profile/").await;
    assert_eq!(chrome.heading().await, "lin");

    chrome.close().await;
}

#[tokio::test]
async fn outlook_sign_in_and_error_page() {
    let idp = TestIdp::start().await;
    idp.sign_in_as(IdpAccount::personal("Ada Lovelace", "ada@outlook.com"));
    let app = spawn_outlook_app(&idp).await;
    let Some(chrome) = Chromium::open_app(&app).await else {
        return;
    };

    chrome.goto("/accounts/login/").await;
    chrome.follow_link("Sign in with Outlook").await;
    chrome.assert_path("/accounts/profile/").await;
    assert!(
        chrome.flash().await.starts_with("Welcome, "),
        "flash after the first sign-in with Outlook"
    );
    let accounts = chrome.text("//ul[contains(@class, 'accounts')]").await;
    assert!(
        accounts.contains("Ada Lovelace"),
        "linked account listed: {accounts}"
    );
    assert!(
        accounts.contains("ada@outlook.com"),
        "linked account listed: {accounts}"
    );
    assert!(
        accounts.contains("Personal account"),
        "account kind: {accounts}"
    );
    chrome.capture("profile-outlook").await;

    // A user made by sign-in with Outlook has no password yet, so the page offers to set one.
    chrome.follow_link("Set a password").await;
    assert_eq!(chrome.heading().await, "Set a password");
    chrome.assert_no_field_error("new_password1").await;
    chrome.assert_accessible("set a password").await;
    chrome.log_out().await;

    idp.inject(Fault::Cancel);
    chrome.goto("/accounts/login/").await;
    chrome.follow_link("Sign in with Outlook").await;
    chrome.assert_path("/accounts/outlook/callback/").await;
    assert_eq!(chrome.heading().await, "Sign-in with Outlook was cancelled");
    assert!(
        chrome.body_text().await.contains("nothing changed here"),
        "the error page explains what happened"
    );
    chrome.capture("outlook-error").await;

    chrome.follow_link("Go to the home page").await;
    chrome.assert_path("/").await;
    assert!(
        chrome.body_text().await.contains("Create an account"),
        "still signed out after the cancelled sign-in"
    );

    chrome.close().await;
}

#[tokio::test]
async fn outlook_account_links_and_unlinks() {
    let idp = TestIdp::start().await;
    idp.sign_in_as(IdpAccount::work(
        "72f988bf-86f1-41af-91ab-2d7cd011db47",
        "Ada Lovelace",
        "ada@contoso.com",
    ));
    let app = spawn_outlook_app(&idp).await;
    let Some(chrome) = Chromium::open_app(&app).await else {
        return;
    };
    sign_up(&chrome, "ada", "ada@example.com", STRONG_PASSWORD).await;
    assert!(
        chrome
            .body_text()
            .await
            .contains("No Microsoft account is linked."),
        "no account before linking"
    );

    chrome.follow_link("Connect Outlook").await;
    chrome.assert_path("/accounts/profile/").await;
    assert_eq!(
        chrome.flash().await,
        "Your Microsoft account is now linked. You can sign in with it."
    );
    let accounts = chrome.text("//ul[contains(@class, 'accounts')]").await;
    assert!(
        accounts.contains("ada@contoso.com"),
        "linked account listed: {accounts}"
    );
    assert!(
        accounts.contains("Work or school account"),
        "account kind: {accounts}"
    );
    assert_eq!(chrome.heading().await, "ada", "still the same user");

    // Disconnect with the keyboard, as a person without a mouse would.
    chrome.tab_to("ul.accounts button").await;
    chrome.press_enter_and_load().await;
    chrome.assert_path("/accounts/profile/").await;
    assert_eq!(
        chrome.flash().await,
        "The Microsoft account was disconnected."
    );
    assert!(
        chrome
            .body_text()
            .await
            .contains("No Microsoft account is linked."),
        "no account after unlinking"
    );

    chrome.close().await;
}

/// Checks that Chromium reaches only the test server: a page on another loopback address,
/// served by a listener here, must not be fetched, because the proxy settings send it to a
/// closed port.
#[tokio::test]
async fn browser_reaches_only_test_servers() {
    let app = spawn_app().await;
    let Some(chrome) = Chromium::open_app(&app).await else {
        return;
    };
    let outside = TcpListener::bind("127.0.0.2:0").expect("bind 127.0.0.2");
    outside
        .set_nonblocking(true)
        .expect("non-blocking listener");
    let port = outside.local_addr().expect("listener address").port();

    let _ = chrome
        .client
        .goto(&format!("http://127.0.0.2:{port}/"))
        .await;
    let url = chrome.client.current_url().await.expect("current URL");
    assert!(
        outside.accept().is_err(),
        "Chromium connected to 127.0.0.2 past its proxy settings"
    );
    assert_ne!(
        chrome.heading().await,
        "Your account, your way",
        "the page at {url} should not load"
    );

    chrome.goto("/").await;
    assert_eq!(
        chrome.heading().await,
        "Your account, your way",
        "the test server itself stays reachable"
    );

    chrome.close().await;
}

/// Checks that "Sign out of all other sessions" on the profile page signs out a second browser
/// signed in as the same user, and keeps this one signed in.
#[tokio::test]
async fn sign_out_of_other_sessions() {
    let app = spawn_app().await;
    let Some(first) = Chromium::open_app(&app).await else {
        return;
    };
    let Some(second) = Chromium::open_app(&app).await else {
        return;
    };
    sign_up(&first, "ada", "ada@example.com", STRONG_PASSWORD).await;
    log_in(&second, "ada", STRONG_PASSWORD).await;
    second.assert_path("/accounts/profile/").await;

    // The button shows once a second session exists, so load the page again.
    first.goto("/accounts/profile/").await;
    let sessions = first.text("//table[contains(@class, 'sessions')]").await;
    assert!(
        sessions.contains("(this browser)"),
        "the sessions table marks this browser: {sessions}"
    );
    first.capture("profile-sessions").await;
    first.press_button("Sign out of all other sessions").await;
    first.assert_path("/accounts/profile/").await;
    assert_eq!(
        first.flash().await,
        "You were signed out of every other session."
    );

    second.goto("/accounts/profile/").await;
    second.assert_path("/accounts/login/").await;
    first.goto("/accounts/profile/").await;
    first.assert_path("/accounts/profile/").await;

    first.close().await;
    second.close().await;
}
