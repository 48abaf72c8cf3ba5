//! What every browser test needs: a real server on port 0 with the built site, Debian's
//! Chromium, screenshots, polling a page, and a signed-in person.

use app::accounts::model::Role;
use orchard_server::config::ServeSettings;
use orchard_server::serve::{Running, start};
use playwright_rs::protocol::{Browser, Page};
use playwright_rs::{LaunchOptions, Playwright};
use std::path::PathBuf;
use std::time::Duration;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Starts a server on a fresh SQLite database; `tweak` adjusts its settings.
pub async fn server_with(workers: usize, tweak: impl FnOnce(&mut ServeSettings)) -> Running {
    static SERVERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = SERVERS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("orchard-e2e-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let site = root().join("target/site");
    assert!(
        site.join("pkg/orchard.wasm").exists(),
        "{} has no built site: run `cargo leptos build` (make test does)",
        site.display()
    );
    let mut s = ServeSettings::from_env();
    s.addr = "127.0.0.1:0".parse().unwrap();
    s.db.database_url = format!("sqlite:{}", dir.join("orchard.db").display());
    s.data_dir = dir.clone();
    s.workers = Some(workers);
    s.site_root = Some(site.display().to_string());
    s.leptos_toml = root().join("Leptos.toml");
    tweak(&mut s);
    start(&s).await.expect("server starts")
}

/// Debian's Chromium, headless, through the Playwright driver `make test` assembles. The
/// `Playwright` handle must outlive the browser.
pub async fn launch() -> (Playwright, Browser) {
    let pw = Playwright::launch()
        .await
        .expect("playwright driver (make test assembles it)");
    let path = std::env::var("CHROMIUM_PATH").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let options = LaunchOptions::new()
        .headless(true)
        .executable_path(path)
        .args(
            [
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ]
            .map(String::from)
            .to_vec(),
        );
    let browser = pw
        .chromium()
        .launch_with_options(options)
        .await
        .expect("chromium");
    (pw, browser)
}

pub fn shot(name: &str) -> PathBuf {
    let dir = root().join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Polls a JavaScript expression until it is true.
pub async fn wait_true(page: &Page, expr: &str, secs: u64) {
    for _ in 0..secs * 10 {
        if page
            .evaluate_value(expr)
            .await
            .map(|v| v == "true")
            .unwrap_or(false)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let html = page.content().await.unwrap_or_default();
    panic!(
        "timed out waiting for `{expr}`; page:\n{}",
        &html[..html.len().min(4000)]
    );
}

/// Waits until the page is hydrated and its live stream is up.
pub async fn wait_live(page: &Page) {
    wait_true(
        page,
        "document.getElementById('live-indicator').innerText.includes('Live')",
        30,
    )
    .await;
}

pub const PASSWORD: &str = "a long password 1";

/// The API token of servers that tests drive over REST as well.
pub const TOKEN: &str = "e2e-token-0123456789abcdef0123456789";

/// A job as the API shows it.
pub async fn get_job(base: &str, id: &str) -> serde_json::Value {
    reqwest::Client::new()
        .get(format!("{base}/api/v1/jobs/{id}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The job once it has stopped running.
pub async fn finished(base: &str, id: &str) -> serde_json::Value {
    for _ in 0..600 {
        let j = get_job(base, id).await;
        if ["succeeded", "failed", "cancelled"].contains(&j["state"].as_str().unwrap_or("")) {
            return j;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("job {id} did not finish within a minute");
}

/// Adds a person straight to the database.
pub async fn add_user(app: &Running, name: &str, role: Role) {
    let hash = app::accounts::password::hash(PASSWORD).await.unwrap();
    app.state
        .store
        .create_user(name, &hash, role, app::now_millis())
        .await
        .unwrap();
}

/// Signs in through the sign-in page (with or without JavaScript): a visit to `/jobs` is
/// sent to the sign-in page, which leads back there.
pub async fn sign_in(page: &Page, base: &str, name: &str) {
    page.goto(&format!("{base}/jobs"), None).await.unwrap();
    wait_true(page, "location.pathname === '/login'", 10).await;
    page.locator("input[name=username]")
        .fill(name, None)
        .await
        .unwrap();
    page.locator("input[name=password]")
        .fill(PASSWORD, None)
        .await
        .unwrap();
    page.locator("form[aria-label='Sign in'] button[type=submit]")
        .click(None)
        .await
        .unwrap();
    wait_true(page, "location.pathname === '/jobs'", 30).await;
}

/// Everything a page reports as going wrong: console errors (a WASM panic is one) and
/// uncaught exceptions or rejections, gathered from the moment the page is made.
#[derive(Clone, Default)]
pub struct Errors(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl Errors {
    /// Starts watching `page`; call before its first navigation.
    pub async fn watch(page: &Page) -> Self {
        let errors = Errors::default();
        let sink = errors.0.clone();
        page.on_console(move |msg| {
            let sink = sink.clone();
            async move {
                if msg.type_() == "error" {
                    sink.lock().unwrap().push(msg.text().to_string());
                }
                Ok(())
            }
        })
        .await
        .unwrap();
        page.add_init_script(
            "window.__orchardErrors = [];\
             addEventListener('error', e => window.__orchardErrors.push(String(e.message)));\
             addEventListener('unhandledrejection', e => window.__orchardErrors.push(String(e.reason)));",
        )
        .await
        .unwrap();
        errors
    }

    /// Fails the test if the page reported anything.
    pub async fn assert_none(&self, page: &Page) {
        let thrown = page
            .evaluate_value("JSON.stringify(window.__orchardErrors || [])")
            .await
            .unwrap_or_default();
        let logged = self.0.lock().unwrap().clone();
        assert!(
            logged.is_empty() && (thrown == "[]" || thrown.is_empty()),
            "the page reported errors: console {logged:?}, thrown {thrown}"
        );
    }
}

/// Runs axe-core (npm, installed by `make test`) on the page as it is, in the theme given,
/// and fails on any WCAG 2 A or AA violation, naming each with the elements at fault.
pub async fn assert_accessible(page: &Page, what: &str, dark: bool) {
    let found = accessibility_violations(page, dark).await;
    assert_eq!(
        found,
        "[]",
        "{what} ({}) breaks WCAG 2 A/AA",
        if dark { "dark" } else { "light" }
    );
}

/// axe-core's WCAG 2 A/AA violations on the page in the theme given, as a JSON list of
/// "rule: elements" (`[]` when there are none). It checks the page at rest: after the
/// theme switch, once no CSS transition is running (a control fading in reads as low
/// contrast half way) and the document has its title (set as the page's data arrives).
pub async fn accessibility_violations(page: &Page, dark: bool) -> String {
    static AXE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let axe = AXE.get_or_init(|| {
        std::fs::read_to_string(root().join("node_modules/axe-core/axe.min.js"))
            .expect("axe-core (make test installs it)")
    });
    let theme = if dark { "add" } else { "remove" };
    let script = format!(
        "(async () => {{ document.documentElement.classList.{theme}('dark'); {axe}\n\
         const still = () => document.title && !document.getAnimations().some(a => a.playState === 'running');\n\
         for (let i = 0; i < 50 && !still(); i++) await new Promise(r => setTimeout(r, 50));\n\
         const r = await axe.run(document, {{ runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] }});\n\
         return JSON.stringify(r.violations.map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))); }})()"
    );
    page.evaluate_value(&script).await.unwrap_or_default()
}
