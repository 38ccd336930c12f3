//! The chaos suite (`docs/reliability.md`): `lienthong serve` runs as child processes on
//! RabbitMQ and PostgreSQL, the DVCQG and VDXP simulators run in this test, and while
//! generated dossiers (versions and progress steps) and official documents stream through
//! the HTTP APIs one fault is injected per scenario:
//!
//! * **broker** — `rabbitmqctl stop_app`, a few seconds, `start_app`;
//! * **sigkill** — the gateway killed with SIGKILL and started again;
//! * **portal** — the DVCQG simulator down for a window, then answering 429/5xx and
//!   processing calls but answering past the gateway's timeout, then healthy again;
//! * **two-nodes** — two gateway nodes (own names and ports, one bus prefix, one journal)
//!   share the work; one is killed with SIGKILL and stays dead, the other finishes.
//!
//! The feeders retry whatever did not get an answer (a dead gateway, 429, 503): an item
//! counts as **accepted** only once the gateway answered 202 (or said it is a duplicate of
//! an accepted one). After the fault the test waits for quiescence and proves: every
//! accepted dossier is at the portal with exactly one insert and its latest accepted
//! version; every accepted step is there, in `step_seq` order; every accepted document
//! reached the axis exactly once; nothing is lost (accepted − delivered − parked = 0, and
//! every parked item has a reason). Progress steps stored twice by the portal are counted:
//! none are allowed in *broker*; after a SIGKILL, and in *portal* where the portal
//! processes a call and answers after the gateway gave up on it, the portal took steps the
//! gateway never learned it took — the one window no gateway can close alone — and the
//! duplicates are reported, bounded by the calls that fell into the window. A table of the
//! scenarios is printed and written to `$CARGO_TARGET_TMPDIR/chaos-report.md`.
//!
//! Run (it stops and starts the broker it is given: never the shared one; `.ci/run` starts
//! a node of its own):
//!
//! ```text
//! LIENTHONG_TEST_CHAOS=1 LIENTHONG_TEST_RABBITMQ_NODE=lienthong-chaos@localhost \
//! LIENTHONG_TEST_AMQP_URL=amqp://guest:guest@127.0.0.1:5673/%2f \
//! LIENTHONG_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//! cargo test -p lienthong --test chaos -- --nocapture
//! ```
//!
//! `LIENTHONG_CHAOS_DOSSIERS=N` sets the dossiers per scenario (default 300, the size CI
//! runs); `LIENTHONG_CHAOS_ONLY=broker,sigkill,portal,twonodes` runs some scenarios only.

use base64::Engine as _;
use lienthong_dvcqg::map::{MappingConfig, dossier_to_dvcqg, progress_to_dvcqg};
use lienthong_dvcqg::wire::ProgressItem;
use lienthong_model::Dossier;
use lienthong_provincial::generate::{Generator, Story};
use lienthong_provincial::write::{dossier_json, progress_json};
use lienthong_sandbox::dvcqg::{DvcqgConfig, DvcqgSim, spawn_dvcqg};
use lienthong_sandbox::fault::FaultSettings;
use lienthong_sandbox::vdxp::{SystemEntry, VdxpConfig, VdxpSim, spawn_vdxp};
use lienthong_service::auth::TokenHash;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CLIENT: &str = "lt_chaos_client_of_the_province";
const OPERATOR: &str = "lt_chaos_operator";
const KEY_HEX: &str = "3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c";
const VDXP_SECRET: &str = "secret-of-the-province";
const H41: &str = "000.00.00.H41";
const G22: &str = "000.00.00.G22";
/// The gateway's timeout for one portal call in the *portal* scenario; the portal's hangs
/// last longer.
const PORTAL_TIMEOUT_MS: u64 = 1500;
/// The timeout elsewhere: long enough that a loaded machine never times a call out (a call
/// the portal processed and the gateway gave up on may store steps twice).
const CALM_TIMEOUT_MS: u64 = 5_000;
/// The bus's delay tiers (also needed to delete the topology).
const RETRY_DELAYS_SECS: [u64; 3] = [1, 2, 5];
/// Dossiers per scenario unless `LIENTHONG_CHAOS_DOSSIERS` says otherwise.
const DEFAULT_DOSSIERS: usize = 300;
/// One document is sent for every this many dossiers.
const DOCUMENT_EVERY: usize = 4;
/// Concurrent feeders.
const FEEDERS: usize = 6;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// What the suite runs against, or `None` after saying why it is skipped.
struct Setup {
    amqp: String,
    pg: String,
    dossiers: usize,
}

fn setup() -> Option<Setup> {
    if env("LIENTHONG_TEST_CHAOS").as_deref() != Some("1") {
        eprintln!(
            "skipped: LIENTHONG_TEST_CHAOS is not 1 (this suite stops and starts the broker)"
        );
        return None;
    }
    let Some(amqp) = env("LIENTHONG_TEST_AMQP_URL") else {
        eprintln!("skipped: LIENTHONG_TEST_AMQP_URL is not set");
        return None;
    };
    let Some(pg) = env("LIENTHONG_TEST_DATABASE_URL") else {
        eprintln!("skipped: LIENTHONG_TEST_DATABASE_URL is not set");
        return None;
    };
    let dossiers = env("LIENTHONG_CHAOS_DOSSIERS")
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_DOSSIERS)
        .max(10);
    Some(Setup { amqp, pg, dossiers })
}

// ---------------------------------------------------------------------------------------
// The broker and the database.

/// Runs `rabbitmqctl` (against `LIENTHONG_TEST_RABBITMQ_NODE` when set); `None` when it
/// cannot be run. Bounded: a CLI stuck on a node fails the suite after two minutes.
fn rabbitmqctl(args: &[&str]) -> Option<std::process::Output> {
    let mut cmd = Command::new("timeout");
    cmd.arg("120").arg("rabbitmqctl");
    if let Some(node) = env("LIENTHONG_TEST_RABBITMQ_NODE") {
        cmd.args(["-n", &node]);
    }
    cmd.args(args).stdin(Stdio::null()).output().ok()
}

async fn rabbitmqctl_async(args: &'static [&'static str]) -> Option<std::process::Output> {
    tokio::task::spawn_blocking(move || rabbitmqctl(args))
        .await
        .ok()
        .flatten()
}

/// Starts the broker application again when dropped, whatever happened.
struct StartAppGuard(bool);

impl Drop for StartAppGuard {
    fn drop(&mut self) {
        if self.0 {
            let _ = rabbitmqctl(&["start_app"]);
        }
    }
}

/// RabbitMQ 3.10.x can lose its dead-letter supervisor after a restart (see
/// `crates/bus/tests/amqp_chaos.rs`): start it again so declarations work.
fn heal_dlx_supervisor() {
    let Some(out) = rabbitmqctl(&["eval", "whereis(rabbit_fifo_dlx_sup)."]) else {
        return;
    };
    if String::from_utf8_lossy(&out.stdout).trim() == "undefined" {
        eprintln!(
            "broker bug: rabbit_fifo_dlx_sup is down after the restart (3.10.x); restarting it"
        );
        let _ = rabbitmqctl(&[
            "eval",
            "supervisor:restart_child(rabbit_sup, rabbit_fifo_dlx_sup).",
        ]);
    }
}

async fn pg_exec(base: &str, sql: String) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(base)
        .await
        .expect("connect to the test PostgreSQL");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&pool)
        .await
        .expect("schema statement");
    pool.close().await;
}

fn bus_config(amqp: &str, prefix: &str) -> lienthong_bus::BusConfig {
    let mut c = lienthong_bus::BusConfig::new(
        lienthong_bus::Backend::Amqp {
            url: amqp.to_owned(),
            store_url: String::new(),
        },
        lienthong_bus::standard_routes(),
    );
    c.prefix = prefix.to_owned();
    c.retry_delays = RETRY_DELAYS_SECS.map(Duration::from_secs).to_vec();
    c
}

/// Deletes the scenario's topology (healing the 3.10 broker between tries).
async fn delete_topology(amqp: &str, prefix: &str) {
    let c = bus_config(amqp, prefix);
    for attempt in 0..5 {
        tokio::task::spawn_blocking(heal_dlx_supervisor)
            .await
            .expect("join");
        match lienthong_bus::amqp::delete_topology(&c).await {
            Ok(()) => return,
            Err(e) if attempt < 4 => {
                eprintln!("deleting the topology failed ({e}); trying again");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => panic!("cannot delete the topology of {prefix}: {e}"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Gateway nodes.

/// One `lienthong serve` child process.
struct Node {
    name: String,
    port: u16,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl Node {
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("node log");
        let child = Command::new(env!("CARGO_BIN_EXE_lienthong"))
            .args(["serve", "--config"])
            .arg(&self.config)
            .env("LIENTHONG_DVCQG_PASSWORD", &*DVCQG_PASSWORD)
            .env("LIENTHONG_JOURNAL_KEY", KEY_HEX)
            .env("LIENTHONG_VDXP_SECRET", VDXP_SECRET)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start lienthong serve");
        self.child = Some(child);
    }

    /// SIGKILL: no shutdown code runs.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn alive(&self) -> bool {
        self.child.is_some()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

static DVCQG_PASSWORD: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    DvcqgConfig::default()
        .accounts
        .first()
        .map(|a| a.password.clone())
        .unwrap_or_default()
});

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

// ---------------------------------------------------------------------------------------
// What was sent and accepted.

#[derive(Default)]
struct DossierLedger {
    /// Versions the gateway accepted, with the dossier.
    accepted: BTreeMap<u64, Dossier>,
    /// Steps the gateway accepted, by `step_seq`, as the portal should get them.
    steps: BTreeMap<u64, ProgressItem>,
}

struct DocLedger {
    /// The gateway's id (`out-…`), the key of its work item.
    id: String,
}

#[derive(Default)]
struct Ledger {
    dossiers_sent: usize,
    versions_sent: usize,
    steps_sent: usize,
    dossiers: HashMap<String, DossierLedger>,
    docs_sent: usize,
    /// By `DocumentId`.
    docs: HashMap<String, DocLedger>,
    /// Answers that refused an item for good (status and error code; no bodies).
    refused: Vec<String>,
    /// Items given up after the feeders' deadline.
    given_up: usize,
}

/// Posts until the gateway accepts (202, or 200 with `"result": "duplicate"`) or refuses
/// for good; connection failures, 429, 5xx and 409 (a step before its dossier) are retried
/// on the next node. `None` when not accepted.
async fn post_until_accepted(
    http: &reqwest::Client,
    urls: &[String],
    first: usize,
    path: &str,
    body: &str,
    idempotency_key: Option<&str>,
    ledger: &Mutex<Ledger>,
) -> Option<Value> {
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut i = first;
    let mut unanswered = 0;
    loop {
        if Instant::now() > deadline {
            ledger.lock().expect("ledger").given_up += 1;
            return None;
        }
        let url = format!("{}{path}", urls[i % urls.len()]);
        let mut r = http
            .post(url)
            .bearer_auth(CLIENT)
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(k) = idempotency_key {
            r = r.header("idempotency-key", k);
        }
        let (status, retry_after, v) = match r.send().await {
            Ok(resp) => {
                let s = resp.status().as_u16();
                let ra = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|h| h.to_str().ok())
                    .and_then(|h| h.parse::<u64>().ok());
                (s, ra, resp.json::<Value>().await.unwrap_or(Value::Null))
            }
            Err(_) => (0, None, Value::Null),
        };
        match status {
            202 => return Some(v),
            200 if v["result"] == "duplicate" => return Some(v),
            0 | 409 | 429 | 500..=599 => {
                if status == 0 {
                    // A dead node: the next one at once, if there is one; a pause once
                    // every node was tried.
                    i += 1;
                    unanswered += 1;
                    if unanswered % urls.len() != 0 {
                        continue;
                    }
                } else {
                    unanswered = 0;
                }
                let wait = retry_after.map_or(300, |s| (s * 1000).min(2000));
                tokio::time::sleep(Duration::from_millis(wait)).await;
            }
            _ => {
                let code = v["error"].as_str().unwrap_or("").to_owned();
                ledger
                    .lock()
                    .expect("ledger")
                    .refused
                    .push(format!("{path}: {status} {code}"));
                return None;
            }
        }
    }
}

fn document(n: usize) -> Value {
    json!({
        "to": [G22],
        "code_number": (1000 + n).to_string(),
        "code_notation": "UBND-CHAOS",
        "place": "Nghệ An",
        "type_name": "Công văn",
        "subject": format!("V/v báo cáo số {n}"),
        "typer_notation": "VX",
        "attachments": [{
            "name": format!("{}-UBND-CHAOS.pdf", 1000 + n),
            "content_base64": base64::engine::general_purpose::STANDARD
                .encode(format!("%PDF-1.4 chaos {n}")),
        }],
    })
}

/// Feeds one story: its versions (every seventh story newest first: the older ones are
/// answered "stale"), then its steps in order, and every fourth story a document.
async fn feed_story(
    n: usize,
    story: Story,
    http: &reqwest::Client,
    urls: &[String],
    ledger: &Mutex<Ledger>,
    tag: &str,
) {
    let mut versions = story.versions;
    if n % 7 == 3 {
        versions.reverse();
    }
    let Some(code) = versions.first().map(|d| d.code.clone()) else {
        return;
    };
    ledger.lock().expect("ledger").dossiers_sent += 1;
    for d in versions {
        ledger.lock().expect("ledger").versions_sent += 1;
        let body = dossier_json(&d);
        if post_until_accepted(http, urls, n, "/v1/dossiers", &body, None, ledger)
            .await
            .is_some()
        {
            let mut l = ledger.lock().expect("ledger");
            l.dossiers
                .entry(code.clone())
                .or_default()
                .accepted
                .insert(d.version, d);
        }
    }
    if !ledger.lock().expect("ledger").dossiers.contains_key(&code) {
        return;
    }
    for s in story.steps {
        ledger.lock().expect("ledger").steps_sent += 1;
        let path = format!("/v1/dossiers/{}/progress", s.dossier_code);
        let body = progress_json(&s);
        if post_until_accepted(http, urls, n, &path, &body, None, ledger)
            .await
            .is_some()
        {
            let item = progress_to_dvcqg(&s, &MappingConfig::default()).0;
            let mut l = ledger.lock().expect("ledger");
            if let Some(d) = l.dossiers.get_mut(&code) {
                d.steps.insert(s.step_seq, item);
            }
        }
    }
    if n.is_multiple_of(DOCUMENT_EVERY) {
        ledger.lock().expect("ledger").docs_sent += 1;
        let body = document(n).to_string();
        let key = format!("chaos-{tag}-{n}");
        if let Some(v) =
            post_until_accepted(http, urls, n, "/v1/edocs", &body, Some(&key), ledger).await
            && let (Some(document_id), Some(id)) = (v["document_id"].as_str(), v["id"].as_str())
        {
            ledger
                .lock()
                .expect("ledger")
                .docs
                .insert(document_id.to_owned(), DocLedger { id: id.to_owned() });
        }
    }
}

// ---------------------------------------------------------------------------------------
// The world of one scenario.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Broker,
    Sigkill,
    Portal,
    TwoNodes,
}

impl Fault {
    fn name(self) -> &'static str {
        match self {
            Fault::Broker => "(a) broker stop/start",
            Fault::Sigkill => "(b) gateway SIGKILL + restart",
            Fault::Portal => "(c) portal down, 429/5xx, timeouts",
            Fault::TwoNodes => "(d) two nodes, one SIGKILLed",
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Fault::Broker => "broker",
            Fault::Sigkill => "sigkill",
            Fault::Portal => "portal",
            Fault::TwoNodes => "twonodes",
        }
    }
}

struct World {
    fault: Fault,
    dir: PathBuf,
    schema: String,
    prefix: String,
    nodes: Vec<Node>,
    dvcqg: DvcqgSim,
    vdxp: VdxpSim,
    http: reqwest::Client,
    _tasks: Vec<tokio::task::JoinHandle<()>>,
}

#[allow(clippy::too_many_arguments)]
fn node_config(
    port: u16,
    data: &Path,
    node: &str,
    journal: &str,
    amqp: &str,
    prefix: &str,
    dvcqg: &str,
    vdxp: &str,
    timeout_ms: u64,
) -> String {
    let account = DvcqgConfig::default().accounts[0].clone();
    format!(
        r#"
[gateway]
listen = "127.0.0.1:{port}"
data_dir = "{data}"
node_name = "{node}"

[journal]
url = "{journal}"

[bus]
amqp_url = "{amqp}"
prefix = "{prefix}"
retry_delays_secs = {RETRY_DELAYS_SECS:?}

[dvcqg]
adapter_url = "http://{dvcqg}"
username = "{user}"
dstcode = "{dstcode}"
madonvi = "{madonvi}"
timeout_ms = {timeout_ms}
breaker_open_secs = 2

[vdxp]
base_url = "http://{vdxp}"
systemid = "tinh-a"
timeout_ms = 5000
poll_interval_secs = 1
agencies_sync_secs = 1

[[vdxp.organisations]]
organ_id = "{H41}"
organization_in_charge = "UBND Tỉnh Nghệ An"
organ_name = "UBND Tỉnh Nghệ An"
organ_add = "Số 03 đường Trường Thi, TP Vinh"
email = "vanthu@nghean.gov.vn"
telephone = "0238 3840000"
fax = "0238 3840001"
website = "nghean.gov.vn"

[[units]]
code = "{H41}"
name = "UBND Tỉnh Nghệ An"

[[clients]]
name = "motcua"
token_sha256 = "{c}"
units = ["*"]

[[operators]]
name = "op"
token_sha256 = "{o}"
role = "operator"
"#,
        data = data.display(),
        user = account.username,
        dstcode = account.dstcode.clone().unwrap_or_default(),
        madonvi = account.madonvi[0],
        c = TokenHash::of(CLIENT),
        o = TokenHash::of(OPERATOR),
    )
}

impl World {
    async fn start(setup: &Setup, fault: Fault) -> World {
        let tag = format!("{}{}", fault.tag(), std::process::id());
        let dir = std::env::temp_dir().join(format!("lienthong-chaos-{tag}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let (dvcqg_addr, dvcqg, t1) = spawn_dvcqg(DvcqgConfig::default())
            .await
            .expect("DVCQG simulator");
        let (vdxp_addr, vdxp, t2) = spawn_vdxp(VdxpConfig {
            systems: vec![
                SystemEntry {
                    systemid: "tinh-a".into(),
                    secret: VDXP_SECRET.into(),
                    organ_ids: vec![H41.into()],
                },
                SystemEntry {
                    systemid: "vpcp".into(),
                    secret: "secret-of-the-office".into(),
                    organ_ids: vec![G22.into()],
                },
            ],
            ..VdxpConfig::default()
        })
        .await
        .expect("VDXP simulator");
        let schema = format!("chaos_{tag}");
        let prefix = format!("ltchaos{tag}");
        pg_exec(&setup.pg, format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await;
        pg_exec(&setup.pg, format!("CREATE SCHEMA {schema}")).await;
        let sep = if setup.pg.contains('?') { '&' } else { '?' };
        let journal = format!("{}{sep}options=-csearch_path%3D{schema}", setup.pg);
        let count = if fault == Fault::TwoNodes { 2 } else { 1 };
        let mut nodes = Vec::new();
        for i in 1..=count {
            let name = format!("chaos-{}-{i}", fault.tag());
            let data = dir.join(&name);
            std::fs::create_dir_all(&data).expect("node dir");
            let port = free_port();
            let config = dir.join(format!("{name}.toml"));
            std::fs::write(
                &config,
                node_config(
                    port,
                    &data,
                    &name,
                    &journal,
                    &setup.amqp,
                    &prefix,
                    &dvcqg_addr.to_string(),
                    &vdxp_addr.to_string(),
                    if fault == Fault::Portal {
                        PORTAL_TIMEOUT_MS
                    } else {
                        CALM_TIMEOUT_MS
                    },
                ),
            )
            .expect("config");
            nodes.push(Node {
                log: dir.join(format!("{name}.log")),
                name,
                port,
                config,
                child: None,
            });
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client");
        let mut w = World {
            fault,
            dir,
            schema,
            prefix,
            nodes,
            dvcqg,
            vdxp,
            http,
            _tasks: vec![t1, t2],
        };
        // One node first: it creates the schema and the topology the other then finds.
        for i in 0..w.nodes.len() {
            w.nodes[i].start();
            w.wait_ready(i).await;
        }
        w
    }

    async fn wait_ready(&self, i: usize) {
        let url = format!("{}/health", self.nodes[i].url());
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Ok(r) = self.http.get(&url).send().await
                && r.status().as_u16() == 200
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{}: node {} did not answer within 90 s (log: {})",
                self.fault.name(),
                self.nodes[i].name,
                self.nodes[i].log.display()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(Node::url).collect()
    }

    /// A live node's admin API.
    async fn admin(&self, path: &str) -> Option<Value> {
        for n in self.nodes.iter().filter(|n| n.alive()) {
            if let Ok(r) = self
                .http
                .get(format!("{}{path}", n.url()))
                .bearer_auth(OPERATOR)
                .send()
                .await
                && r.status().as_u16() == 200
                && let Ok(v) = r.json::<Value>().await
            {
                return Some(v);
            }
        }
        None
    }

    /// Portal calls of `call` (operation name) that failed at the network level on the
    /// live nodes (`lienthong_portal_calls_total`): timeouts among them.
    async fn network_errors(&self, call: &str) -> u64 {
        let mut n = 0;
        for node in self.nodes.iter().filter(|n| n.alive()) {
            let Ok(r) = self
                .http
                .get(format!("{}/metrics", node.url()))
                .bearer_auth(OPERATOR)
                .send()
                .await
            else {
                continue;
            };
            let text = r.text().await.unwrap_or_default();
            n += text
                .lines()
                .filter(|l| {
                    l.starts_with("lienthong_portal_calls_total{")
                        && l.contains(&format!("call=\"{call}\""))
                        && l.contains("outcome=\"network_error\"")
                })
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum::<f64>() as u64;
        }
        n
    }

    async fn stop(mut self, setup: &Setup) {
        for n in &mut self.nodes {
            n.kill();
        }
        delete_topology(&setup.amqp, &self.prefix).await;
        pg_exec(
            &setup.pg,
            format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema),
        )
        .await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// ---------------------------------------------------------------------------------------
// The checks.

/// How the portal's and the axis's copies compare with what was accepted.
#[derive(Default, Debug)]
struct Tally {
    dossiers_accepted: usize,
    dossiers_delivered: usize,
    dossiers_parked: usize,
    docs_accepted: usize,
    docs_delivered_once: usize,
    docs_parked: usize,
    steps_accepted: usize,
    extra_inserts: u64,
    duplicate_inserts: u64,
    duplicate_steps: u64,
    docs_sent_twice: usize,
    /// Accepted items neither delivered nor parked.
    lost: usize,
    /// Parked items without a reason.
    parked_without_reason: usize,
    /// Invariants broken (no personal data: codes, counts, field names).
    broken: Vec<String>,
    /// Work the bus still holds (ready or waiting for a retry).
    bus_busy: u64,
}

/// The members of `expected` that are set, compared with `got`; the names of those that
/// differ. Members the dossier leaves empty may be filled by the gateway (the catalogue).
fn differing_members(expected: &Value, got: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(map) = expected.as_object() {
        for (k, v) in map {
            let empty = match v {
                Value::String(s) => s.is_empty(),
                Value::Array(a) => a.is_empty(),
                Value::Null => true,
                _ => false,
            };
            if !empty && got.get(k) != Some(v) {
                out.push(k.clone());
            }
        }
    }
    out
}

async fn tally(w: &World, ledger: &Ledger) -> Tally {
    let mut t = Tally::default();
    let parked = w
        .admin("/v1/admin/parked?limit=10000")
        .await
        .unwrap_or(Value::Null);
    let mut parked_keys: HashMap<(String, String), String> = HashMap::new();
    for p in parked["parked"].as_array().into_iter().flatten() {
        let (route, key) = (
            p["route"].as_str().unwrap_or("").to_owned(),
            p["key"].as_str().unwrap_or("").to_owned(),
        );
        let reason = p["reason"].as_str().unwrap_or("").to_owned();
        if reason.trim().is_empty() {
            t.parked_without_reason += 1;
        }
        parked_keys.insert((route, key), reason);
    }
    if let Some(q) = w.admin("/v1/admin/queues").await {
        for r in q["queues"].as_array().into_iter().flatten() {
            t.bus_busy +=
                r["ready"].as_u64().unwrap_or(0) + r["waiting_retry"].as_u64().unwrap_or(0);
        }
    } else {
        t.bus_busy = u64::MAX;
    }
    let portal: HashMap<String, _> = w
        .dvcqg
        .dossiers()
        .into_iter()
        .map(|d| (d.code.clone(), d))
        .collect();
    for rec in portal.values() {
        t.extra_inserts += rec.inserts.saturating_sub(1);
        t.duplicate_inserts += rec.duplicate_inserts;
        t.duplicate_steps += rec.duplicate_steps;
    }
    let mapping = MappingConfig::default();
    for (code, d) in &ledger.dossiers {
        let Some((_, latest)) = d.accepted.last_key_value() else {
            continue;
        };
        t.dossiers_accepted += 1;
        t.steps_accepted += d.steps.len();
        let parked = parked_keys.contains_key(&("dossier.sync".to_owned(), code.clone()));
        let Some(rec) = portal.get(code) else {
            if parked {
                t.dossiers_parked += 1;
            } else {
                t.lost += 1;
                t.broken
                    .push(format!("{code}: not at the portal, not parked"));
            }
            continue;
        };
        let mut problems = Vec::new();
        if rec.inserts != 1 {
            problems.push(format!("{} inserts", rec.inserts));
        }
        let expected =
            serde_json::to_value(dossier_to_dvcqg(latest, &mapping).0).unwrap_or(Value::Null);
        let got = rec
            .latest()
            .and_then(|i| serde_json::to_value(i).ok())
            .unwrap_or(Value::Null);
        let differ = differing_members(&expected, &got);
        if !differ.is_empty() {
            problems.push(format!(
                "latest version at the portal is not version {} (members {})",
                latest.version,
                differ.join(", ")
            ));
        }
        // Steps: every accepted one there, first copies in step_seq order.
        let wanted: Vec<&ProgressItem> = d.steps.values().collect();
        let mut seen: Vec<&ProgressItem> = Vec::new();
        for p in &rec.progress {
            if wanted.contains(&&p.item) && !seen.contains(&&p.item) {
                seen.push(&p.item);
            }
        }
        if seen.len() < wanted.len() {
            problems.push(format!(
                "{} of {} accepted steps at the portal",
                seen.len(),
                wanted.len()
            ));
        } else if seen != wanted {
            problems.push("steps out of step_seq order".to_owned());
        }
        if problems.is_empty() {
            t.dossiers_delivered += 1;
        } else if parked {
            t.dossiers_parked += 1;
        } else {
            t.lost += 1;
            t.broken.push(format!("{code}: {}", problems.join("; ")));
        }
    }
    let mut sends: HashMap<String, usize> = HashMap::new();
    for m in w.vdxp.sent(Some("tinh-a")) {
        if m.status_code.is_none()
            && let Some(id) = m.document_id
        {
            *sends.entry(id).or_default() += 1;
        }
    }
    t.docs_sent_twice = sends.values().filter(|n| **n > 1).count();
    for (document_id, doc) in &ledger.docs {
        t.docs_accepted += 1;
        match sends.get(document_id).copied().unwrap_or(0) {
            1 => t.docs_delivered_once += 1,
            0 if parked_keys.contains_key(&("document.outbound".to_owned(), doc.id.clone())) => {
                t.docs_parked += 1
            }
            0 => {
                t.lost += 1;
                t.broken
                    .push(format!("document {}: not on the axis, not parked", doc.id));
            }
            n => t
                .broken
                .push(format!("document {}: sent {n} times", doc.id)),
        }
    }
    t
}

// ---------------------------------------------------------------------------------------
// One scenario.

struct Row {
    name: &'static str,
    ledger_sent: usize,
    tally: Tally,
    docs_sent: usize,
    took: Duration,
    failures: Vec<String>,
    note: String,
}

/// What the fault did: a note for the table.
struct Injected {
    note: String,
}

/// Injects the scenario's fault.
async fn inject(w: &mut World) -> Injected {
    let note = |note: String| Injected { note };
    match w.fault {
        Fault::Broker => {
            let mut guard = StartAppGuard(true);
            let out = rabbitmqctl_async(&["stop_app"]).await;
            assert!(
                out.as_ref().is_some_and(|o| o.status.success()),
                "stop_app failed (is rabbitmqctl on PATH and LIENTHONG_TEST_RABBITMQ_NODE right?): {out:?}"
            );
            eprintln!("  broker application stopped");
            tokio::time::sleep(Duration::from_secs(5)).await;
            let out = rabbitmqctl_async(&["start_app"]).await;
            assert!(
                out.as_ref().is_some_and(|o| o.status.success()),
                "start_app failed: {out:?}"
            );
            guard.0 = false;
            tokio::task::spawn_blocking(heal_dlx_supervisor)
                .await
                .expect("join");
            eprintln!("  broker application started");
            note("broker stopped for 5 s".to_owned())
        }
        Fault::Sigkill => {
            w.nodes[0].kill();
            eprintln!("  gateway killed (SIGKILL)");
            tokio::time::sleep(Duration::from_secs(2)).await;
            w.nodes[0].start();
            w.wait_ready(0).await;
            eprintln!("  gateway started again");
            note("killed, restarted after 2 s".to_owned())
        }
        Fault::Portal => {
            let set = |f: FaultSettings| w.dvcqg.set_faults(f).expect("faults");
            set(FaultSettings {
                down_for_ms: Some(5000),
                ..FaultSettings::default()
            });
            eprintln!("  portal down for 5 s");
            tokio::time::sleep(Duration::from_secs(5)).await;
            set(FaultSettings {
                seed: 11,
                http_status_rate: 0.25,
                http_statuses: vec![429, 500, 502, 503],
                hang_rate: 0.05,
                hang_ms: PORTAL_TIMEOUT_MS * 2,
                ..FaultSettings::default()
            });
            eprintln!("  portal answering 429/5xx and timing out for 10 s");
            tokio::time::sleep(Duration::from_secs(10)).await;
            let report = w.dvcqg.faults();
            set(FaultSettings::default());
            eprintln!("  portal healthy again; outcomes {:?}", report.counts);
            let c = |k: &str| report.counts.get(k).copied().unwrap_or(0);
            Injected {
                note: format!(
                    "down 5 s, then in 10 s {} answers 429/5xx and {} calls processed but \
                     answered after the gateway's timeout",
                    c("http_429") + c("http_500") + c("http_502") + c("http_503"),
                    c("hang")
                ),
            }
        }
        Fault::TwoNodes => {
            w.nodes[0].kill();
            eprintln!("  node {} killed (SIGKILL), stays dead", w.nodes[0].name);
            note(format!("{} killed for good", w.nodes[0].name))
        }
    }
}

async fn scenario(setup: &Setup, fault: Fault) -> Row {
    let started = Instant::now();
    eprintln!("\n== {} ({} dossiers)", fault.name(), setup.dossiers);
    let mut w = World::start(setup, fault).await;
    let mut g = Generator::new(7_000 + fault as u64);
    let stories: Vec<Story> = (0..setup.dossiers).map(|_| g.story()).collect();
    let ledger: Arc<Mutex<Ledger>> = Arc::default();
    let urls = Arc::new(w.urls());
    let next = Arc::new(AtomicUsize::new(0));
    let stories = Arc::new(Mutex::new(
        stories.into_iter().enumerate().collect::<Vec<_>>(),
    ));
    // Stories are started at a steady pace over about 20 s (longer for larger runs).
    let pace = Duration::from_millis((20_000 / setup.dossiers as u64).clamp(5, 200));
    let feed_started = Instant::now();
    let mut feeders = Vec::new();
    for _ in 0..FEEDERS {
        let (stories, ledger, urls, next, http) = (
            stories.clone(),
            ledger.clone(),
            urls.clone(),
            next.clone(),
            w.http.clone(),
        );
        let tag = fault.tag();
        feeders.push(tokio::spawn(async move {
            loop {
                let item = {
                    let mut s = stories.lock().expect("stories");
                    if s.is_empty() {
                        None
                    } else {
                        Some(s.remove(0))
                    }
                };
                let Some((n, story)) = item else { return };
                let due = feed_started + pace * n as u32;
                tokio::time::sleep_until(due.into()).await;
                next.fetch_add(1, Ordering::Relaxed);
                feed_story(n, story, &http, &urls, &ledger, tag).await;
            }
        }));
    }
    // The fault, once about a third of the stories started.
    while next.load(Ordering::Relaxed) < setup.dossiers / 3 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let injected = inject(&mut w).await;
    for f in feeders {
        f.await.expect("feeder");
    }
    eprintln!(
        "  feeding done after {:.0} s; waiting for quiescence",
        feed_started.elapsed().as_secs_f64()
    );
    // Quiescence: every accepted item delivered or parked, the bus idle, twice in a row.
    let ledger = Arc::try_unwrap(ledger)
        .ok()
        .expect("feeders done")
        .into_inner()
        .expect("ledger");
    let deadline = Instant::now() + Duration::from_secs(240 + setup.dossiers as u64 / 5);
    let mut calm = 0;
    let mut last_report = Instant::now();
    let t = loop {
        let t = tally(&w, &ledger).await;
        let settled = t.lost == 0 && t.bus_busy == 0;
        calm = if settled { calm + 1 } else { 0 };
        if calm >= 3 || Instant::now() > deadline {
            break t;
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            last_report = Instant::now();
            eprintln!(
                "  … {} of {} dossiers and {} of {} documents delivered, {} parked, bus {}",
                t.dossiers_delivered,
                t.dossiers_accepted,
                t.docs_delivered_once,
                t.docs_accepted,
                t.dossiers_parked + t.docs_parked,
                t.bus_busy
            );
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let took = started.elapsed();
    // Calls the gateway gave up on (timeouts): the portal may have processed them.
    let timed_out_progress = w.network_errors("CapNhatTienDoHoSoMC").await;
    let timed_out_dossier = w.network_errors("DongBoHoSoMC").await;

    let mut failures = Vec::new();
    for b in t.broken.iter().take(20) {
        failures.push(b.clone());
    }
    if t.broken.len() > 20 {
        failures.push(format!("… and {} more", t.broken.len() - 20));
    }
    if t.lost > 0 {
        failures.push(format!(
            "{} accepted items neither delivered nor parked",
            t.lost
        ));
    }
    if t.parked_without_reason > 0 {
        failures.push(format!(
            "{} parked items without a reason",
            t.parked_without_reason
        ));
    }
    if t.extra_inserts > 0 {
        failures.push(format!("{} inserts beyond the first", t.extra_inserts));
    }
    if t.docs_sent_twice > 0 {
        failures.push(format!(
            "{} documents reached the axis twice",
            t.docs_sent_twice
        ));
    }
    if !ledger.refused.is_empty() {
        failures.push(format!(
            "refused submissions: {:?}",
            ledger.refused.iter().take(5).collect::<Vec<_>>()
        ));
    }
    if ledger.given_up > 0 {
        failures.push(format!(
            "{} submissions not accepted within 180 s of retrying",
            ledger.given_up
        ));
    }
    // Steps stored twice, and inserts of a dossier the portal already had (refused with
    // `đã tồn tại`, then sent as an update): only where the portal took a call the gateway
    // never heard about — a SIGKILL between the call and the journal, or an answer after
    // the gateway's timeout (at most 10 steps per progress call).
    let (max_steps, max_inserts) = match fault {
        Fault::Broker => (0, 0),
        Fault::Portal => (10 * timed_out_progress, timed_out_dossier),
        Fault::Sigkill | Fault::TwoNodes => (u64::MAX, u64::MAX),
    };
    if t.duplicate_steps > max_steps {
        failures.push(format!(
            "{} progress steps stored twice (at most {max_steps} explained by the fault)",
            t.duplicate_steps
        ));
    }
    if t.duplicate_inserts > max_inserts {
        failures.push(format!(
            "{} inserts of dossiers the portal had (at most {max_inserts} explained by the \
             fault)",
            t.duplicate_inserts
        ));
    }
    eprintln!(
        "  done in {:.0} s: {} of {} dossiers delivered, {} of {} documents once, {} parked, \
         {} lost; duplicates: {} inserts beyond the first, {} refused inserts, {} steps",
        took.as_secs_f64(),
        t.dossiers_delivered,
        t.dossiers_accepted,
        t.docs_delivered_once,
        t.docs_accepted,
        t.dossiers_parked + t.docs_parked,
        t.lost,
        t.extra_inserts,
        t.duplicate_inserts,
        t.duplicate_steps
    );
    if failures.is_empty() {
        w.stop(setup).await;
    } else {
        for n in &w.nodes {
            eprintln!("  log of {}: {}", n.name, n.log.display());
        }
        // Kept for a look: the nodes are stopped, the schema and topology are removed.
        let dir = std::mem::take(&mut w.dir);
        let keep = dir.with_extension("failed");
        let _ = std::fs::rename(&dir, &keep);
        w.dir = keep.join("gone");
        w.stop(setup).await;
    }
    Row {
        name: fault.name(),
        ledger_sent: ledger.dossiers_sent,
        docs_sent: ledger.docs_sent,
        tally: t,
        took,
        failures,
        note: if fault == Fault::Portal {
            format!(
                "{}; the gateway gave up on {timed_out_progress} progress and \
                 {timed_out_dossier} dossier calls",
                injected.note
            )
        } else {
            injected.note
        },
    }
}

fn table(rows: &[Row], setup: &Setup) -> String {
    let mut s = format!(
        "Chaos suite, {} dossiers per scenario (debug build).\n\n\
         | scenario | dossiers sent | accepted | delivered | duplicates (inserts/steps) | documents sent/accepted/delivered once | parked | lost | took s |\n\
         |---|---|---|---|---|---|---|---|---|\n",
        setup.dossiers
    );
    for r in rows {
        let t = &r.tally;
        s.push_str(&format!(
            "| {} | {} | {} | {} | {}/{} | {}/{}/{} | {} | {} | {:.0} |\n",
            r.name,
            r.ledger_sent,
            t.dossiers_accepted,
            t.dossiers_delivered,
            t.extra_inserts,
            t.duplicate_steps,
            r.docs_sent,
            t.docs_accepted,
            t.docs_delivered_once,
            t.dossiers_parked + t.docs_parked,
            t.lost,
            r.took.as_secs_f64()
        ));
    }
    s.push('\n');
    for r in rows {
        let t = &r.tally;
        s.push_str(&format!(
            "- {}: {}; {} accepted steps; {} inserts refused as already present \
             (`đã tồn tại`, then sent as an update)\n",
            r.name, r.note, t.steps_accepted, t.duplicate_inserts
        ));
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_lost_or_duplicated_under_chaos() {
    let Some(setup) = setup() else { return };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let only = env("LIENTHONG_CHAOS_ONLY");
    let started = Instant::now();
    let mut rows = Vec::new();
    for fault in [
        Fault::Broker,
        Fault::Sigkill,
        Fault::Portal,
        Fault::TwoNodes,
    ] {
        if only
            .as_deref()
            .is_some_and(|o| !o.split(',').any(|x| x == fault.tag()))
        {
            continue;
        }
        rows.push(scenario(&setup, fault).await);
    }
    let report = table(&rows, &setup);
    println!("\n{report}");
    println!("whole suite: {:.0} s", started.elapsed().as_secs_f64());
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("chaos-report.md");
    if std::fs::write(&path, &report).is_ok() {
        println!("table written to {}", path.display());
    }
    let failed: Vec<String> = rows
        .iter()
        .flat_map(|r| r.failures.iter().map(move |f| format!("{}: {f}", r.name)))
        .collect();
    assert!(
        failed.is_empty(),
        "invariants broken:\n{}",
        failed.join("\n")
    );
}
