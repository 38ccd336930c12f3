//! `lienthong demo`: the national portal and axis simulators and a gateway on the embedded
//! backends (or RabbitMQ + PostgreSQL), fed with generated dossiers and progress through the
//! ingest API — some invalid, some sent out of order, a portal outage in the middle — and
//! with citizens' dossiers submitted on the national portal, pushed to the gateway and taken
//! by the province through the pull API, and with official documents exchanged over the
//! axis simulator with a second gateway (the Government Office, `000.00.00.G22`): the
//! province sends documents linked to its dossiers, the Office's clerk accepts, handles
//! or refuses them, and the statuses come back as the dossiers' progress; the Office sends
//! documents the province's clerk takes and accepts. A live summary shows it all. Wiring
//! only: simulators, gateways and generator come from the library crates.

use anyhow::Context;
use lienthong_provincial::generate::Generator;
use lienthong_provincial::write::{dossier_json, progress_json};
use lienthong_sandbox::dvcqg::{DvcqgConfig, spawn_dvcqg};
use lienthong_sandbox::fault::FaultSettings;
use lienthong_sandbox::vdxp::{VdxpConfig, spawn_vdxp};
use lienthong_service::auth::new_token;
use lienthong_service::config::Config;
use lienthong_service::gateway::Gateway;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Options of the demo.
pub struct DemoArgs {
    /// End by itself after this many seconds (CI uses it); Ctrl-C otherwise.
    pub duration: Option<u64>,
    /// Dossier stories fed per second.
    pub rate: u32,
    /// RabbitMQ instead of the embedded queue.
    pub amqp: Option<String>,
    /// PostgreSQL instead of SQLite.
    pub database: Option<String>,
    /// Seed of the generated dossiers.
    pub seed: u64,
}

#[derive(Default)]
struct Counters {
    versions: AtomicU64,
    steps: AtomicU64,
    accepted: AtomicU64,
    refused: AtomicU64,
    other: AtomicU64,
    /// Citizens' portal submissions the gateway accepted from the portal.
    submitted: AtomicU64,
    /// Of these, the ones the province pulled and acknowledged.
    taken: AtomicU64,
    /// Documents the province sent to the Government Office.
    docs_sent: AtomicU64,
    /// Documents the Government Office sent to the province.
    docs_from_office: AtomicU64,
    /// Of these, the ones the province's clerk took.
    docs_taken: AtomicU64,
}

/// The own organisation block of a gateway (all eight children).
fn organisation(code: &str, name: &str, address: &str) -> String {
    format!(
        r#"
[[vdxp.organisations]]
organ_id = "{code}"
organization_in_charge = "{name}"
organ_name = "{name}"
organ_add = "{address}"
email = "vanthu@example.gov.vn"
telephone = "024 0000 0000"
fax = "024 0000 0001"
website = "example.gov.vn"
"#
    )
}

/// The province's documents system and the Office's, as the demo drives them.
struct Clerks {
    http: reqwest::Client,
    /// The province's gateway and client token.
    province: (String, String),
    /// The Office's gateway and clerk token.
    office: (String, String),
    /// Dossier codes the province's gateway accepted (documents are linked to them).
    dossiers: std::sync::Mutex<Vec<String>>,
    /// Documents the Office received, with the last status it reported.
    handling: std::sync::Mutex<Vec<(String, &'static str)>>,
    counter: AtomicU64,
}

/// Citizens' dossiers the portal pushes every two seconds.
const CITIZEN_BATCH: usize = 2;

/// Runs the demo; exit code 0 when it ran (its summary says what happened).
pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(demo(args))
}

async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    // Only warnings and errors: the summary is the demo's output.
    crate::service_cmd::init_logs("warn");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = std::env::temp_dir().join(format!("lienthong-demo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;

    // The portal pushes citizens' dossiers to the gateway, so it must know the gateway's
    // address before either starts: a free port, taken again by the gateway right after.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .context("cannot find a free port for the gateway")?
        .port();
    let portal_token = new_token()?;
    let dvcqg_config = DvcqgConfig {
        receiver_url: Some(format!("http://127.0.0.1:{port}/v1/portal/dossiers")),
        receiver_token: Some(portal_token.token.clone()),
        ..DvcqgConfig::default()
    };
    let account = dvcqg_config
        .accounts
        .first()
        .cloned()
        .context("the simulator has no account")?;
    let (dvcqg_addr, sim, _dvcqg_task) = spawn_dvcqg(dvcqg_config)
        .await
        .context("cannot start the DVCQG simulator")?;
    let (vdxp_addr, _vdxp, _vdxp_task) = spawn_vdxp(VdxpConfig::default())
        .await
        .context("cannot start the VDXP simulator")?;

    let client = new_token()?;
    let key = new_token()?;
    let key_hex = key.token.trim_start_matches("lt_").to_string();
    let journal_url = args
        .database
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.join("lienthong.db").display()));
    let amqp = args
        .amqp
        .as_ref()
        .map(|u| format!("amqp_url = \"{u}\"\n"))
        .unwrap_or_default();
    let toml = format!(
        r#"
[gateway]
listen = "127.0.0.1:{port}"
data_dir = "{data}"
node_name = "demo"

[journal]
url = "{journal_url}"

[bus]
{amqp}retry_delays_secs = [1, 2, 5, 10]
max_attempts = 8

[dvcqg]
adapter_url = "http://{dvcqg_addr}"
username = "{user}"
dstcode = "H41-DVC"
madonvi = "000.00.00.H41"
timeout_ms = 5000
breaker_open_secs = 3

[[units]]
code = "000.00.00.H41"
name = "UBND tỉnh Nghệ An"

[[clients]]
name = "demo-motcua"
token_sha256 = "{hash}"
units = ["*"]

[portal]
receiver_token_sha256 = "{portal_hash}"

[vdxp]
base_url = "http://{vdxp_addr}"
systemid = "lienthong"
poll_interval_secs = 1
{own}
"#,
        own = organisation(
            "000.00.00.H41",
            "UBND Tỉnh Nghệ An",
            "Số 03 đường Trường Thi, TP Vinh, Nghệ An"
        ),
        data = dir.display(),
        user = account.username,
        hash = client.hash,
        portal_hash = portal_token.hash,
    );
    let password = account.password.clone();
    let env = move |name: &str| match name {
        "LIENTHONG_DVCQG_PASSWORD" => Some(password.clone()),
        "LIENTHONG_JOURNAL_KEY" => Some(key_hex.clone()),
        "LIENTHONG_VDXP_SECRET" => Some("lienthong-vdxp-secret".to_owned()),
        _ => None,
    };
    let config = Config::parse(&toml, "demo", &env)?;
    let gateway = Gateway::start(&config, &env).await?;

    // The Government Office: a second gateway on the axis (embedded backends).
    let office_token = new_token()?;
    let office_dir = dir.join("office");
    let office_toml = format!(
        r#"
[gateway]
listen = "127.0.0.1:0"
data_dir = "{data}"
node_name = "demo-office"

[bus]
retry_delays_secs = [1, 2, 5, 10]

[vdxp]
base_url = "http://{vdxp_addr}"
systemid = "peer"
poll_interval_secs = 1
{own}

[[units]]
code = "000.00.00.G22"
name = "Văn phòng Chính phủ"

[[clients]]
name = "demo-vanthu-vpcp"
token_sha256 = "{hash}"
units = ["000.00.00.G22"]
"#,
        data = office_dir.display(),
        own = organisation(
            "000.00.00.G22",
            "Văn phòng Chính phủ",
            "Số 1 Hoàng Hoa Thám, Ba Đình, Hà Nội"
        ),
        hash = office_token.hash,
    );
    let office_key = key.token.trim_start_matches("lt_").to_string();
    let office_env = move |name: &str| match name {
        "LIENTHONG_JOURNAL_KEY" => Some(office_key.clone()),
        "LIENTHONG_VDXP_SECRET" => Some("peer-secret".to_owned()),
        _ => None,
    };
    let office_config = Config::parse(&office_toml, "demo-office", &office_env)?;
    let office = Gateway::start(&office_config, &office_env).await?;
    let api = format!("http://{}", gateway.addr());
    println!("lienthong demo — cổng liên thông (bản trình diễn)");
    println!(
        "  gateway API      {api}/v1/dossiers   (token: {})",
        client.token
    );
    println!("  health           {api}/health");
    println!("  DVCQG simulator  http://{dvcqg_addr}   (admin API under /admin)");
    println!("  VDXP simulator   http://{vdxp_addr}");
    println!(
        "  second gateway   http://{}   (Văn phòng Chính phủ, 000.00.00.G22, on the axis)",
        office.addr()
    );
    println!(
        "  backends         bus {}, journal {}",
        gateway.bus().backend_name(),
        if args.database.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    );
    println!(
        "Feeding generated dossiers at {} stories/s; Ctrl-C ends.",
        args.rate
    );

    let counters = Arc::new(Counters::default());
    let http = reqwest::Client::new();
    let clerks = Arc::new(Clerks {
        http: http.clone(),
        province: (api.clone(), client.token.clone()),
        office: (
            format!("http://{}", office.addr()),
            office_token.token.clone(),
        ),
        dossiers: std::sync::Mutex::new(Vec::new()),
        handling: std::sync::Mutex::new(Vec::new()),
        counter: AtomicU64::new(0),
    });
    let started = Instant::now();
    let end = args.duration.map(|d| started + Duration::from_secs(d));
    let outage_at = args
        .duration
        .map_or(Duration::from_secs(20), |d| Duration::from_secs(d / 3));
    let mut outage_done = false;
    let mut g = Generator::new(args.seed);
    let mut tick = tokio::time::interval(Duration::from_millis(1000 / u64::from(args.rate.max(1))));
    let mut report = tokio::time::interval(Duration::from_secs(2));
    let mut n: u64 = 0;
    let mut citizen_seed = args.seed;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = report.tick() => {
                print_summary(&counters, &sim, &gateway, started).await;
                let (c, k) = (counters.clone(), clerks.clone());
                tokio::spawn(async move { k.documents(&c).await });
                citizen_seed += 1;
                let (c, h, a, s) = (counters.clone(), http.clone(), api.clone(), sim.clone());
                let token = client.token.clone();
                tokio::spawn(async move { citizens(&s, citizen_seed, &h, &a, &token, &c).await });
            }
            _ = tick.tick() => {
                if end.is_some_and(|e| Instant::now() >= e) { break; }
                if !outage_done && started.elapsed() >= outage_at {
                    outage_done = true;
                    let _ = sim.set_faults(FaultSettings { down_for_ms: Some(6000), ..FaultSettings::default() });
                    println!("-- the national portal goes down for 6 s (the gateway retries) --");
                }
                n += 1;
                let story = g.story();
                let (c, h, a, k) = (counters.clone(), http.clone(), api.clone(), clerks.clone());
                let token = client.token.clone();
                tokio::spawn(async move { feed(story, n, &h, &a, &token, &c, &k).await });
            }
        }
    }
    println!("Stopping: intake closes, routes finish the work in hand…");
    // Give the routes a moment to drain what the portal can still take.
    tokio::time::sleep(Duration::from_secs(3)).await;
    print_summary(&counters, &sim, &gateway, started).await;
    gateway.stop().await;
    office.stop().await;
    println!("Data of this run: {}", dir.display());
    Ok(())
}

/// Citizens submit dossiers on the portal, which pushes them to the gateway; the province
/// then takes what is waiting through the pull API and acknowledges it.
async fn citizens(
    sim: &lienthong_sandbox::dvcqg::DvcqgSim,
    seed: u64,
    http: &reqwest::Client,
    api: &str,
    token: &str,
    c: &Counters,
) {
    if let Ok(items) = sim.generate_citizen_dossiers(CITIZEN_BATCH, seed)
        && let Ok(pushes) = sim.push_citizen_dossiers(items).await
    {
        let ok = pushes.iter().filter(|p| p.delivered).count() as u64;
        c.submitted.fetch_add(ok, Ordering::Relaxed);
    }
    let listed = http
        .get(format!("{api}/v1/submissions?limit=100"))
        .bearer_auth(token)
        .send()
        .await;
    let Ok(listed) = listed else { return };
    let Ok(v) = listed.json::<serde_json::Value>().await else {
        return;
    };
    for s in v["submissions"].as_array().into_iter().flatten() {
        let Some(code) = s["code"].as_str() else {
            continue;
        };
        let answer = match http
            .post(format!("{api}/v1/submissions/{code}/ack"))
            .bearer_auth(token)
            .send()
            .await
        {
            Ok(r) => r.json::<serde_json::Value>().await.unwrap_or_default(),
            Err(_) => continue,
        };
        // Counted once: a repeated ack answers "already_delivered".
        if answer["result"] == "acknowledged" {
            c.taken.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Posts one story: its versions (every 7th story out of order), some refused on purpose,
/// then its steps.
async fn feed(
    story: lienthong_provincial::generate::Story,
    n: u64,
    http: &reqwest::Client,
    api: &str,
    token: &str,
    c: &Counters,
    clerks: &Clerks,
) {
    let mut versions = story.versions;
    if n.is_multiple_of(7) {
        versions.reverse();
    }
    for d in &versions {
        let mut body = dossier_json(d);
        if n.is_multiple_of(11) {
            // An invalid submission: the gateway refuses it with findings, nothing is queued.
            body = body.replacen("\"version\":", "\"version\":\"x\",\"_v\":", 1);
        }
        if post(http, &format!("{api}/v1/dossiers"), token, body, c).await == 202
            && let Ok(mut codes) = clerks.dossiers.lock()
            && !codes.contains(&d.code)
        {
            codes.push(d.code.clone());
        }
        c.versions.fetch_add(1, Ordering::Relaxed);
    }
    for s in &story.steps {
        let url = format!("{api}/v1/dossiers/{}/progress", s.dossier_code);
        post(http, &url, token, progress_json(s), c).await;
        c.steps.fetch_add(1, Ordering::Relaxed);
    }
}

async fn post(http: &reqwest::Client, url: &str, token: &str, body: String, c: &Counters) -> u16 {
    let status = http
        .post(url)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    match status {
        202 => c.accepted.fetch_add(1, Ordering::Relaxed),
        400 => c.refused.fetch_add(1, Ordering::Relaxed),
        _ => c.other.fetch_add(1, Ordering::Relaxed),
    };
    status
}

async fn print_summary(
    c: &Counters,
    sim: &lienthong_sandbox::dvcqg::DvcqgSim,
    gw: &Gateway,
    started: Instant,
) {
    let records = sim.dossiers();
    let inserts: u64 = records.iter().map(|r| r.inserts).sum();
    let updates: u64 = records.iter().map(|r| r.updates).sum();
    let steps: usize = records.iter().map(|r| r.progress.len()).sum();
    let queues = gw.bus().queues().await.unwrap_or_default();
    let sync = queues.iter().find(|q| q.route == "dossier.sync");
    let (waiting, retrying) = sync.map_or((0, 0), |q| (q.ready, q.waiting_retry));
    let parked: u64 = queues.iter().map(|q| q.parked).sum();
    println!(
        "[{:>4}s] sent {} versions + {} steps: {} accepted, {} refused (invalid), {} other | \
         portal: {} dossiers ({} inserts, {} updates), {} steps | bus: {} waiting, {} retrying, {} parked \
         | citizens on the portal: {} submitted, {} taken by the province",
        started.elapsed().as_secs(),
        c.versions.load(Ordering::Relaxed),
        c.steps.load(Ordering::Relaxed),
        c.accepted.load(Ordering::Relaxed),
        c.refused.load(Ordering::Relaxed),
        c.other.load(Ordering::Relaxed),
        records.len(),
        inserts,
        updates,
        steps,
        waiting,
        retrying,
        parked,
        c.submitted.load(Ordering::Relaxed),
        c.taken.load(Ordering::Relaxed),
    );
    use lienthong_journal::edocs::{Direction, EdocFilter, EdocKind};
    let statuses = gw
        .journal()
        .edocs(&EdocFilter {
            direction: Some(Direction::In),
            kind: Some(EdocKind::Status),
            limit: 100_000,
            ..EdocFilter::default()
        })
        .await
        .unwrap_or_default();
    let count = |code: &str| {
        statuses
            .iter()
            .filter(|s| s.status_code.as_deref() == Some(code))
            .count()
    };
    println!(
        "       documents: {} sent to the Government Office; statuses back: {} arrived (01), \
         {} accepted (03), {} in handling (05), {} finished (06), {} refused (02) | {} received \
         from the Office, {} taken by the province's clerk",
        c.docs_sent.load(Ordering::Relaxed),
        count("01"),
        count("03"),
        count("05"),
        count("06"),
        count("02"),
        c.docs_from_office.load(Ordering::Relaxed),
        c.docs_taken.load(Ordering::Relaxed),
    );
}

impl Clerks {
    async fn call(
        &self,
        base: &(String, String),
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let url = format!("{}{path}", base.0);
        let r = match body {
            Some(b) => self
                .http
                .post(url)
                .bearer_auth(&base.1)
                .header("content-type", "application/json")
                .body(b.to_string()),
            None => self.http.get(url).bearer_auth(&base.1),
        };
        match r.send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                (status, resp.json().await.unwrap_or_default())
            }
            Err(_) => (0, serde_json::Value::Null),
        }
    }

    fn document(&self, to: &str, subject: &str, dossier: Option<&str>) -> serde_json::Value {
        use base64::Engine as _;
        let n = self.counter.fetch_add(1, Ordering::Relaxed) + 1;
        let pdf = format!("%PDF-1.4 demo document {n}");
        let mut v = serde_json::json!({
            "to": [to],
            "code_number": (100 + n).to_string(),
            "code_notation": "DEMO",
            "place": "Hà Nội",
            "type_name": "Công văn",
            "subject": subject,
            "typer_notation": "VT",
            "staff": { "department": "Văn thư", "staff": "Văn thư demo" },
            "attachments": [{
                "name": format!("{}-DEMO.pdf", 100 + n),
                "content_base64": base64::engine::general_purpose::STANDARD.encode(pdf),
            }],
        });
        if let Some(d) = dossier {
            v["dossier_code"] = serde_json::json!(d);
        }
        v
    }

    /// One round of both clerks: the province sends a document about a dossier, the Office
    /// takes what arrived and moves its documents along (03 → 05 → 06, one in five
    /// refused), the Office sends a document, the province takes what arrived.
    async fn documents(&self, c: &Counters) {
        let dossier = self.dossiers.lock().ok().and_then(|d| d.last().cloned());
        if let Some(code) = dossier {
            let doc = self.document(
                "000.00.00.G22",
                &format!("V/v xin ý kiến về hồ sơ {code}"),
                Some(&code),
            );
            if self.call(&self.province, "/v1/edocs", Some(doc)).await.0 == 202 {
                c.docs_sent.fetch_add(1, Ordering::Relaxed);
            }
        }
        // The Office's clerk.
        let (_, inbox) = self
            .call(&self.office, "/v1/edocs/inbox?limit=100", None)
            .await;
        for item in inbox["items"].as_array().into_iter().flatten() {
            let Some(id) = item["id"].as_str() else {
                continue;
            };
            self.call(
                &self.office,
                &format!("/v1/edocs/inbox/{id}/ack"),
                Some(serde_json::json!({})),
            )
            .await;
            if item["action"] == "new_document" {
                let refuse = self.counter.load(Ordering::Relaxed).is_multiple_of(5);
                let status = if refuse {
                    serde_json::json!({ "code": "02", "description": "Không thuộc thẩm quyền" })
                } else {
                    serde_json::json!({ "code": "03" })
                };
                self.call(
                    &self.office,
                    &format!("/v1/edocs/{id}/status"),
                    Some(status),
                )
                .await;
                if !refuse && let Ok(mut h) = self.handling.lock() {
                    h.push((id.to_owned(), "03"));
                }
            }
        }
        let next: Vec<(String, &'static str)> = match self.handling.lock() {
            Ok(mut h) => {
                let moved = h
                    .iter()
                    .map(|(id, s)| (id.clone(), if *s == "03" { "05" } else { "06" }))
                    .collect::<Vec<_>>();
                h.clear();
                h.extend(moved.iter().filter(|(_, s)| *s == "05").cloned());
                moved
            }
            Err(_) => Vec::new(),
        };
        for (id, code) in next {
            self.call(
                &self.office,
                &format!("/v1/edocs/{id}/status"),
                Some(serde_json::json!({ "code": code })),
            )
            .await;
        }
        // The Office writes to the province.
        let doc = self.document(
            "000.00.00.H41",
            "V/v triển khai văn bản của Chính phủ",
            None,
        );
        if self.call(&self.office, "/v1/edocs", Some(doc)).await.0 == 202 {
            c.docs_from_office.fetch_add(1, Ordering::Relaxed);
        }
        // The province's clerk.
        let (_, inbox) = self
            .call(&self.province, "/v1/edocs/inbox?limit=100", None)
            .await;
        for item in inbox["items"].as_array().into_iter().flatten() {
            let Some(id) = item["id"].as_str() else {
                continue;
            };
            let (_, ack) = self
                .call(
                    &self.province,
                    &format!("/v1/edocs/inbox/{id}/ack"),
                    Some(serde_json::json!({})),
                )
                .await;
            if item["action"] == "new_document" && ack["result"] == "acknowledged" {
                c.docs_taken.fetch_add(1, Ordering::Relaxed);
                self.call(
                    &self.province,
                    &format!("/v1/edocs/{id}/status"),
                    Some(serde_json::json!({ "code": "03" })),
                )
                .await;
            }
        }
    }
}
