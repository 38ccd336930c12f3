//! The operator dashboard (`/ui`) in headless Chromium, driven through chromedriver's W3C
//! WebDriver HTTP API, against a `Gateway` started in-process with the DVCQG simulator as
//! the portal and the embedded backends.
//!
//! Covered: a wrong token is refused with a visible error; a viewer sees the parked list
//! but no replay button and no audit page; an operator opens every page, replays from the
//! page a dossier the portal refused for review (the admin API then lists it no longer
//! parked, the dossier reaches the portal, and the audit log has the replay with the reason
//! typed in the page), searches a dossier code and sees its timeline; an admin switches
//! maintenance on and off from the page and reads the audit log; the language switch
//! changes the labels and `<html lang>` and is kept over a reload; after signing out the
//! cookie no longer opens the admin API. A screenshot of each page is saved in
//! `target/ui-screenshots/`.
//!
//! chromedriver is taken from `LIENTHONG_TEST_CHROMEDRIVER`, else `/usr/bin/chromedriver`;
//! the browser from `LIENTHONG_TEST_CHROMIUM`, else `/usr/bin/chromium` when it exists
//! (else chromedriver's own choice). Without chromedriver the test is skipped.

use base64::Engine as _;
use lienthong_model::Dossier;
use lienthong_provincial::generate::Generator;
use lienthong_provincial::write::dossier_json;
use lienthong_sandbox::dvcqg::{DvcqgConfig, DvcqgSim, spawn_dvcqg};
use lienthong_sandbox::fault::NextFailure;
use lienthong_service::auth::TokenHash;
use lienthong_service::config::Config;
use lienthong_service::gateway::Gateway;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;

const CLIENT: &str = "lt_e2e_ui_client";
const VIEWER: &str = "lt_e2e_ui_viewer";
const OPERATOR: &str = "lt_e2e_ui_operator";
const ADMIN: &str = "lt_e2e_ui_admin";
const KEY_HEX: &str = "2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c";
const SEED: u64 = 7;
/// How long the page may take to show something.
const PATIENCE: Duration = Duration::from_secs(30);

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

// -----------------------------------------------------------------------------------------
// WebDriver
// -----------------------------------------------------------------------------------------

/// A chromedriver process started by the test (killed when dropped).
struct Driver {
    child: std::process::Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Driver {
    async fn start(path: &str, http: &reqwest::Client) -> Driver {
        let port = free_port();
        let child = std::process::Command::new(path)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let ready = http
                .get(format!("{}/status", driver.url))
                .send()
                .await
                .ok()
                .filter(|r| r.status().is_success());
            if let Some(r) = ready {
                let v: Value = r.json().await.expect("status JSON");
                if v["value"]["ready"] == true {
                    return driver;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "chromedriver did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A browser session.
struct Browser {
    http: reqwest::Client,
    session: String,
    shots: PathBuf,
}

impl Browser {
    async fn open(driver: &Driver, http: &reqwest::Client) -> Browser {
        let mut options = json!({
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--window-size=1366,900", "--lang=vi-VN"],
        });
        let binary = env("LIENTHONG_TEST_CHROMIUM").or_else(|| {
            std::path::Path::new("/usr/bin/chromium")
                .exists()
                .then(|| "/usr/bin/chromium".to_owned())
        });
        if let Some(b) = binary {
            options["binary"] = json!(b);
        }
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome", "goog:chromeOptions": options,
        }}});
        let r = http
            .post(format!("{}/session", driver.url))
            .json(&caps)
            .send()
            .await
            .expect("new session");
        let v: Value = r.json().await.expect("session JSON");
        let session = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {v}"))
            .to_owned();
        let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/ui-screenshots");
        std::fs::create_dir_all(&shots).expect("screenshot directory");
        Browser {
            http: http.clone(),
            session: format!("{}/session/{session}", driver.url),
            shots,
        }
    }

    /// A WebDriver command; its `value`, or the error it answered.
    async fn cmd(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Value> {
        let mut r = self.http.request(method, format!("{}{path}", self.session));
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.expect("webdriver request");
        let ok = resp.status().is_success();
        let v: Value = resp.json().await.expect("webdriver JSON");
        if ok {
            Ok(v["value"].clone())
        } else {
            Err(v["value"].clone())
        }
    }

    async fn must(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let what = format!("{method} {path}");
        self.cmd(method, path, body)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"))
    }

    async fn goto(&self, url: &str) {
        self.must(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    /// The elements matching `css` now.
    async fn all(&self, css: &str) -> Vec<String> {
        let v = self
            .must(
                reqwest::Method::POST,
                "/elements",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e.as_object()?.values().next()?.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    async fn exists(&self, css: &str) -> bool {
        !self.all(css).await.is_empty()
    }

    async fn displayed(&self, css: &str) -> bool {
        for e in self.all(css).await {
            let path = format!("/element/{e}/displayed");
            if self.cmd(reqwest::Method::GET, &path, None).await == Ok(json!(true)) {
                return true;
            }
        }
        false
    }

    /// Waits until an element matching `css` is displayed; its id.
    async fn wait(&self, css: &str) -> String {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if self.displayed(css).await {
                return self.all(css).await.remove(0);
            }
            if tokio::time::Instant::now() >= deadline {
                let body = self.text("body").await;
                panic!("timed out waiting for {css}; the page shows:\n{body}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the text of the first `css` element satisfies `check`; that text.
    async fn wait_text(&self, css: &str, check: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if self.exists(css).await {
                let t = self.text(css).await;
                if check(&t) {
                    return t;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "timed out waiting for the text of {css}; it is {t:?}"
                );
            } else {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "timed out waiting for {css}"
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn text(&self, css: &str) -> String {
        let Some(e) = self.all(css).await.into_iter().next() else {
            return String::new();
        };
        let path = format!("/element/{e}/text");
        self.cmd(reqwest::Method::GET, &path, None)
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    async fn attribute(&self, css: &str, name: &str) -> Option<String> {
        let e = self.all(css).await.into_iter().next()?;
        let path = format!("/element/{e}/attribute/{name}");
        self.must(reqwest::Method::GET, &path, None)
            .await
            .as_str()
            .map(str::to_owned)
    }

    async fn click(&self, css: &str) {
        let e = self.wait(css).await;
        self.must(
            reqwest::Method::POST,
            &format!("/element/{e}/click"),
            Some(json!({})),
        )
        .await;
    }

    async fn type_into(&self, css: &str, text: &str) {
        let e = self.wait(css).await;
        self.must(
            reqwest::Method::POST,
            &format!("/element/{e}/clear"),
            Some(json!({})),
        )
        .await;
        self.must(
            reqwest::Method::POST,
            &format!("/element/{e}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    async fn script(&self, script: &str) -> Value {
        self.must(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
        .await
    }

    async fn window(&self, width: u64, height: u64) {
        self.must(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({ "width": width, "height": height })),
        )
        .await;
    }

    /// Runs an asynchronous script (it calls its last argument with the result).
    async fn script_async(&self, script: &str) -> Value {
        self.must(
            reqwest::Method::POST,
            "/execute/async",
            Some(json!({ "script": script, "args": [] })),
        )
        .await
    }

    /// Saves a PNG of the whole page (the window made as tall as the page for the shot)
    /// as `target/ui-screenshots/{name}.png`.
    async fn screenshot(&self, name: &str) {
        // The window's frame is what the viewport lacks of the window's height.
        let size = self
            .script(
                "return [document.documentElement.scrollHeight, window.innerHeight, \
                 window.outerHeight]",
            )
            .await;
        let n = |i: usize| size[i].as_u64().unwrap_or(900);
        let frame = 900u64.max(n(2)).saturating_sub(n(1));
        self.window(1366, (n(0) + frame).clamp(900, 2400)).await;
        // Let the page settle (fonts, the last paint).
        tokio::time::sleep(Duration::from_millis(300)).await;
        let v = self.must(reqwest::Method::GET, "/screenshot", None).await;
        self.window(1366, 900).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().expect("base64 screenshot"))
            .expect("screenshot decodes");
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        let path = self.shots.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        eprintln!("screenshot: {}", path.display());
    }

    async fn quit(self) {
        let _ = self.cmd(reqwest::Method::DELETE, "", None).await;
    }
}

// -----------------------------------------------------------------------------------------
// The gateway
// -----------------------------------------------------------------------------------------

struct Harness {
    gateway: Gateway,
    url: String,
    sim: DvcqgSim,
    sim_url: String,
    http: reqwest::Client,
    dir: PathBuf,
    unit: String,
}

impl Harness {
    async fn start() -> Harness {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let tag = std::process::id();
        let dir = std::env::temp_dir().join(format!("lienthong-e2e-ui-{tag}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let unit = Generator::new(SEED)
            .story()
            .versions
            .first()
            .and_then(|d| d.unit.code.clone())
            .expect("generated dossiers have a unit");
        let sim_config = DvcqgConfig::default();
        let account = sim_config.accounts[0].clone();
        let (sim_addr, sim, _task) = spawn_dvcqg(sim_config).await.expect("simulator");
        let toml = format!(
            r#"
[gateway]
listen = "127.0.0.1:0"
data_dir = "{data}"
node_name = "e2e-ui-{tag}"

[bus]
retry_delays_secs = [1, 2, 5]

[dvcqg]
adapter_url = "http://{sim_addr}"
username = "{user}"
dstcode = "{dstcode}"
madonvi = "{madonvi}"
timeout_ms = 5000
breaker_open_secs = 1

[[units]]
code = "{unit}"
name = "Đơn vị thử"

[[clients]]
name = "motcua"
token_sha256 = "{c}"
units = ["{unit}"]

[[operators]]
name = "vy"
token_sha256 = "{v}"
role = "viewer"

[[operators]]
name = "op"
token_sha256 = "{o}"
role = "operator"

[[operators]]
name = "root"
token_sha256 = "{a}"
role = "admin"
"#,
            data = dir.display(),
            user = account.username,
            dstcode = account.dstcode.clone().unwrap_or_default(),
            madonvi = account.madonvi[0],
            c = TokenHash::of(CLIENT),
            v = TokenHash::of(VIEWER),
            o = TokenHash::of(OPERATOR),
            a = TokenHash::of(ADMIN),
        );
        let password = account.password.clone();
        let secrets = move |name: &str| match name {
            "LIENTHONG_DVCQG_PASSWORD" => Some(password.clone()),
            "LIENTHONG_JOURNAL_KEY" => Some(KEY_HEX.to_owned()),
            _ => None,
        };
        let config = Config::parse(&toml, "e2e-ui", &secrets).expect("config");
        let gateway = Gateway::start(&config, &secrets).await.expect("gateway");
        Harness {
            url: format!("http://{}", gateway.addr()),
            gateway,
            sim,
            sim_url: format!("http://{sim_addr}"),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            dir,
            unit,
        }
    }

    async fn stop(self) {
        self.gateway.stop().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    async fn call(&self, r: reqwest::RequestBuilder, token: &str) -> (u16, Value) {
        let resp = r.bearer_auth(token).send().await.expect("send");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.call(self.http.get(format!("{}{path}", self.url)), token)
            .await
    }

    /// Has the portal refuse the next dossier for review (`error_code` 3: parked for a
    /// human, not retried), submits the first version of the second story and waits
    /// until the sync route parked it; its code and the parked message's id.
    async fn a_parked_dossier(&self) -> (String, String) {
        self.sim
            .push_next_failure(NextFailure {
                service: "DongBoHoSoMC".into(),
                count: 1,
                error_code: Some("3".into()),
                message: Some("Hồ sơ cần được cán bộ kiểm tra lại".into()),
                ..NextFailure::default()
            })
            .expect("failure rule");
        let d = self.stories(2).remove(1).remove(0);
        self.submit(&d).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(id) = self.parked_ids().await.into_iter().next() {
                return (d.code, id);
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} was never parked",
                d.code
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Whether the portal (the simulator) holds `code`.
    async fn at_portal(&self, code: &str) -> bool {
        let r = self
            .http
            .get(format!("{}/admin/dossiers/{code}", self.sim_url))
            .send()
            .await
            .expect("simulator");
        r.status().is_success()
    }

    /// The first `n` generated stories of the client's unit (their versions).
    fn stories(&self, n: usize) -> Vec<Vec<Dossier>> {
        let mut g = Generator::new(SEED);
        let stories: Vec<_> = (0..10_000)
            .map(|_| g.story().versions)
            .filter(|v| {
                v.first()
                    .is_some_and(|d| d.unit.code.as_deref() == Some(self.unit.as_str()))
            })
            .take(n)
            .collect();
        assert_eq!(stories.len(), n, "enough stories of the unit");
        stories
    }

    async fn submit(&self, d: &Dossier) {
        let r = self
            .http
            .post(format!("{}/v1/dossiers", self.url))
            .header("content-type", "application/json")
            .body(dossier_json(d));
        let (s, v) = self.call(r, CLIENT).await;
        assert_eq!(s, 202, "version {} of {}: {v}", d.version, d.code);
    }

    /// Submits the first version of the first story and waits until the portal
    /// acknowledged it; its code.
    async fn a_synced_dossier(&self) -> String {
        let d = self.stories(1).remove(0).remove(0);
        self.submit(&d).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let st = self
                .gateway
                .journal()
                .dossier_state(&d.code)
                .await
                .expect("state");
            if st.is_some_and(|s| s.acked_version == Some(s.version)) {
                return d.code;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the portal never acknowledged {}",
                d.code
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Submits every version of `n` more stories, for the statistics; the period of their
    /// receptions (six months from the first day of the earliest one's month).
    async fn some_history(&self, n: usize) -> (String, String) {
        let mut days = Vec::new();
        for versions in self.stories(n + 2).into_iter().skip(2) {
            for d in &versions {
                self.submit(d).await;
            }
            if let Some(at) = versions.first().and_then(|d| d.received_at) {
                days.push(at.to_string()[..10].to_owned());
            }
        }
        days.sort();
        let first = days.first().expect("received dates");
        let from = format!("{}-01", &first[..7]);
        // Six months: the resolutions come after the receptions.
        let (y, m): (u32, u32) = (
            first[..4].parse().expect("year"),
            first[5..7].parse().expect("month"),
        );
        let (y, m) = if m + 5 > 12 {
            (y + 1, m + 5 - 12)
        } else {
            (y, m + 5)
        };
        (from, format!("{y}-{m:02}-28"))
    }

    async fn parked_ids(&self) -> Vec<String> {
        let (s, v) = self
            .get("/v1/admin/parked?route=dossier.sync", OPERATOR)
            .await;
        assert_eq!(s, 200, "{v}");
        v["parked"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| p["id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

// -----------------------------------------------------------------------------------------
// The scenario
// -----------------------------------------------------------------------------------------

async fn sign_in(b: &Browser, token: &str) {
    b.type_into("#signin-token", token).await;
    b.click("#signin-submit").await;
    b.wait("#signout").await;
}

async fn sign_out(b: &Browser) {
    b.click("#signout").await;
    b.wait("#signin-token").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_in_a_browser() {
    let chromedriver =
        env("LIENTHONG_TEST_CHROMEDRIVER").unwrap_or_else(|| "/usr/bin/chromedriver".to_owned());
    if !std::path::Path::new(&chromedriver).exists() {
        eprintln!("skipped: chromedriver not found");
        return;
    }
    let h = Harness::start().await;
    let driver = Driver::start(&chromedriver, &h.http).await;
    let b = Browser::open(&driver, &h.http).await;
    let ui = format!("{}/ui/", h.url);

    let code = h.a_synced_dossier().await;
    let (parked_code, parked_id) = h.a_parked_dossier().await;
    assert!(!h.at_portal(&parked_code).await, "refused by the portal");

    // The page and its headers.
    let r = h.http.get(&ui).send().await.expect("the page");
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .expect("ascii");
    assert!(csp.contains("script-src 'self'"), "{csp}");

    // A wrong token: refused, said so on the page. A client token is no operator's.
    b.goto(&ui).await;
    b.script("localStorage.clear(); return null;").await;
    b.goto(&ui).await;
    for wrong in ["lt_not_a_token_of_anyone", CLIENT] {
        b.type_into("#signin-token", wrong).await;
        b.click("#signin-submit").await;
        let error = b.wait_text("#signin-error", |t| !t.is_empty()).await;
        assert!(error.contains("không hợp lệ"), "{error}");
        assert!(!b.exists("#signout").await, "not signed in");
    }
    b.screenshot("signin-error").await;

    // The viewer: sees the parked message, cannot act on it, has no audit page.
    sign_in(&b, VIEWER).await;
    b.wait("#page-overview #partner-dvcqg").await;
    assert_eq!(b.text("#who-name").await, "vy");
    assert!(!b.exists("#nav-audit").await, "no audit entry for a viewer");
    assert!(!b.exists("#maintenance-toggle").await);
    b.goto(&format!("{ui}#/queues")).await;
    b.wait(&format!(
        "[data-testid=parked-row][data-id=\"{parked_id}\"]"
    ))
    .await;
    assert!(b.exists("#parked-viewer-note").await);
    for button in [
        "#replay-selected",
        "#replay-filter",
        "#discard-selected",
        "[data-testid=replay-one]",
        "[data-testid=parked-check]",
    ] {
        assert!(
            !b.exists(button).await,
            "{button} is not offered to a viewer"
        );
    }
    b.screenshot("queues-viewer").await;
    b.goto(&format!("{ui}#/audit")).await;
    b.wait("#page-audit #page-error").await;
    sign_out(&b).await;

    // The operator: every page.
    sign_in(&b, OPERATOR).await;
    b.wait("#chart-last-hour").await;
    b.wait("#partner-dvcqg").await;
    let state = b
        .attribute("#partner-dvcqg", "data-state")
        .await
        .unwrap_or_default();
    assert!(
        ["up", "degraded", "down", "circuit_open"].contains(&state.as_str()),
        "{state}"
    );
    b.wait("#overview-queues").await;
    b.wait_text("#figure-parked .figure-value", |t| t.trim() == "1")
        .await;
    assert!(
        !b.exists("#nav-audit").await,
        "no audit entry for an operator"
    );
    assert!(
        !b.exists("#maintenance-toggle").await,
        "maintenance is the admin's"
    );
    b.screenshot("overview").await;

    // Replay the parked message from the page.
    b.click("#nav-queues").await;
    let check = format!("[data-testid=parked-check][data-id=\"{parked_id}\"]");
    b.click(&check).await;
    b.screenshot("queues").await;
    b.click("#replay-selected").await;
    b.wait("#reason-input").await;
    // No reason, no replay.
    b.click("#reason-ok").await;
    b.wait("#reason-error").await;
    b.type_into("#reason-input", "cán bộ đã kiểm tra hồ sơ")
        .await;
    b.click("#reason-ok").await;
    b.wait_text("#page-message", |t| t.contains("1")).await;
    assert!(
        h.parked_ids().await.is_empty(),
        "no longer parked after the replay from the page"
    );
    // Replayed, the dossier reaches the portal.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !h.at_portal(&parked_code).await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{parked_code} never reached the portal after the replay"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (s, v) = h.get("/v1/admin/audit?action=parked.replay", ADMIN).await;
    assert_eq!(s, 200, "{v}");
    let replay = &v["audit"][0];
    assert_eq!(replay["actor"], "op", "{v}");
    assert_eq!(replay["reason"], "cán bộ đã kiểm tra hồ sơ", "{v}");
    b.wait_text("#parked-card h2", |t| t.contains("(0)")).await;

    // More dossiers for the statistics.
    let (from, to) = h.some_history(12).await;

    // Search the dossier and see its timeline.
    b.click("#nav-search").await;
    b.type_into("#search-input", &code).await;
    b.click("#search-submit").await;
    b.wait("[data-testid=search-row]").await;
    b.wait("[data-testid=timeline-entry][data-kind=version]")
        .await;
    let title = b.text("#timeline h2").await;
    assert!(title.contains(&code), "{title}");
    b.screenshot("search").await;

    // Statistics: the table, the chart, the CSV link.
    b.click("#nav-stats").await;
    b.wait("#stats-table").await;
    b.goto(&format!("{ui}#/stats?from={from}&to={to}&by=month"))
        .await;
    b.wait_text("[data-testid=stats-total] td:nth-child(2)", |t| {
        t.trim().parse::<u32>().is_ok_and(|n| n > 0)
    })
    .await;
    b.wait("#chart-stats").await;
    let csv = b.attribute("#stats-csv", "href").await.unwrap_or_default();
    assert!(csv.contains("format=csv"), "{csv}");
    let (s, _) = h
        .get(csv.strip_prefix(&h.url).unwrap_or(&csv), OPERATOR)
        .await;
    assert_eq!(s, 200, "the CSV link answers");
    b.screenshot("stats").await;
    sign_out(&b).await;

    // The admin: maintenance on and off from the page, the audit log.
    sign_in(&b, ADMIN).await;
    // Signed in again, the page stays where it was.
    b.wait("#page-stats").await;
    b.click("#nav-overview").await;
    b.click("#maintenance-toggle").await;
    b.type_into("#reason-input", "nâng cấp máy chủ").await;
    b.click("#reason-ok").await;
    b.wait("#maintenance-state[data-on=true]").await;
    let (s, v) = h.get("/v1/admin/maintenance", ADMIN).await;
    assert_eq!((s, &v["on"]), (200, &json!(true)), "{v}");
    b.click("#maintenance-toggle").await;
    b.type_into("#reason-input", "xong").await;
    b.click("#reason-ok").await;
    b.wait("#maintenance-state[data-on=false]").await;
    let (s, v) = h.get("/v1/admin/maintenance", ADMIN).await;
    assert_eq!((s, &v["on"]), (200, &json!(false)), "{v}");
    b.click("#nav-audit").await;
    b.wait("[data-testid=audit-row][data-action=\"parked.replay\"]")
        .await;
    b.wait("[data-testid=audit-row][data-action=\"maintenance.on\"]")
        .await;
    b.screenshot("audit").await;

    // The language: Vietnamese by default, English on a click, kept over a reload.
    b.click("#nav-overview").await;
    b.wait("#partner-dvcqg").await;
    assert_eq!(b.text("#nav-overview").await, "Tổng quan");
    assert_eq!(b.script("return document.documentElement.lang").await, "vi");
    b.click("#lang-en").await;
    b.wait_text("#nav-overview", |t| t == "Overview").await;
    assert_eq!(b.script("return document.documentElement.lang").await, "en");
    b.wait("#partner-dvcqg").await;
    b.screenshot("overview-en").await;
    // A reload: the session cookie and the language are kept.
    b.goto(&format!("{ui}#/queues")).await;
    b.must(reqwest::Method::POST, "/refresh", Some(json!({})))
        .await;
    b.wait_text("#nav-queues", |t| t == "Queues").await;
    assert_eq!(b.script("return document.documentElement.lang").await, "en");
    b.wait("#parked-table").await;
    b.screenshot("queues-en").await;
    b.click("#lang-vi").await;
    b.wait_text("#nav-queues", |t| t == "Hàng đợi").await;

    // Signed out, the cookie no longer opens the admin API.
    let asked = "const done = arguments[arguments.length - 1]; \
                 fetch('/v1/admin/queues', {credentials: 'same-origin'}) \
                 .then(r => done(r.status), () => done(0));";
    assert_eq!(
        b.script_async(asked).await,
        200,
        "the session opens the API"
    );
    sign_out(&b).await;
    assert_eq!(b.script_async(asked).await, 401, "not after signing out");
    b.goto(&format!("{ui}#/overview")).await;
    b.wait("#signin-token").await;

    b.quit().await;
    drop(driver);
    h.stop().await;
}
