//! Benchmark `load`: the whole gateway under load, as a separate process.
//!
//! `lienthong serve` runs as a child process (so its RSS and CPU are its own) with the
//! DVCQG simulator on loopback in this process. Generated dossiers (one version each) are
//! posted to the ingest API one per request; each travels ingest → journal (state + work
//! item in one transaction) → relay → bus → `dossier.sync` → the simulator's
//! `DongBoHoSoMC`. Latency is ingest-to-portal: from the moment the request is sent to the
//! moment the simulator accepted the insert (one clock: both ends are in this process).
//!
//! Per backend pair (`embedded`: SQLite journal + embedded queue; `rabbitmq`: RabbitMQ +
//! PostgreSQL, own bus prefix and own schema, removed afterwards):
//! - **fixed rate**: `LIENTHONG_LOAD_RATE` dossiers/s (1,000) for `LIENTHONG_LOAD_SECONDS`
//!   (20): p50 / p99 / p99.9 / max latency, achieved rates;
//! - **flat out**: `LIENTHONG_LOAD_DOSSIERS` (20,000) dossiers from
//!   `LIENTHONG_LOAD_CONCURRENCY` (64) concurrent clients: end-to-end dossiers/s, latency;
//! - the gateway's tuning: `LIENTHONG_LOAD_LANES` (`dvcqg.sync_lanes`, 16) and
//!   `LIENTHONG_LOAD_POOL` (`journal.max_connections`, 16);
//! - the gateway's CPU (cores used over the phase) and RSS (at the end and peak), and the
//!   machine's CPU use.
//!
//! With `rabbitmq`, the same run measures the ceiling: a raw lapin publish/consume loop
//! (quorum queue, persistent, publisher confirms, manual acks, one publishing and one
//! consuming connection) with as many messages as the flat-out phase, at the size of the
//! bus messages the gateway publishes per dossier, and at the size of a dossier; the ratio
//! is end-to-end dossiers/s ÷ raw messages/s.
//!
//! `drain` (only when named): `LIENTHONG_LOAD_BACKLOG` (1,000,000) dossiers posted while
//! the portal is down, then the portal comes up: drain rate and the gateway's peak RSS.
//!
//! Usage: `cargo bench -p lienthong --bench load [-- embedded|rabbitmq|drain …]`
//! (RabbitMQ + PostgreSQL from `LIENTHONG_TEST_AMQP_URL` / `LIENTHONG_TEST_DATABASE_URL`;
//! skipped with a message when unset). `cargo test --benches` runs a small pass (debug
//! build, 300 dossiers) as a smoke test. Gateway logs go to a file (`LIENTHONG_LOAD_LOG`
//! sets their level, `info` by default as in production).

#[path = "../../bus/benches/support/raw_lapin.rs"]
mod raw_lapin;

use lienthong_provincial::generate::Generator;
use lienthong_provincial::write::dossier_json;
use lienthong_sandbox::dvcqg::{DvcqgConfig, DvcqgSim, spawn_dvcqg};
use lienthong_sandbox::fault::FaultSettings;
use lienthong_service::auth::TokenHash;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const CLIENT: &str = "lt_load_client";
const KEY_HEX: &str = "4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b";
const RETRY_DELAYS_SECS: [u64; 3] = [1, 2, 5];
const SERVICE: &str = "DongBoHoSoMC";

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(Clone)]
struct Sizes {
    full: bool,
    rate: u64,
    seconds: u64,
    dossiers: usize,
    concurrency: usize,
    backlog: usize,
    log: String,
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let sizes = Sizes {
        full,
        rate: env_or("LIENTHONG_LOAD_RATE", if full { 1_000 } else { 100 }),
        seconds: env_or("LIENTHONG_LOAD_SECONDS", if full { 20 } else { 2 }),
        dossiers: env_or("LIENTHONG_LOAD_DOSSIERS", if full { 20_000 } else { 300 }),
        concurrency: env_or("LIENTHONG_LOAD_CONCURRENCY", 64),
        backlog: env_or("LIENTHONG_LOAD_BACKLOG", 1_000_000),
        log: std::env::var("LIENTHONG_LOAD_LOG").unwrap_or_else(|_| "info".into()),
    };
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let named = |part: &str| filters.iter().any(|f| f == part);
    let wanted = |part: &str| filters.is_empty() || named(part);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let _ = rustls::crypto::ring::default_provider().install_default();
    rt.block_on(async {
        println!(
            "load benchmark: {} build, {} cores; fixed rate {}/s for {} s, flat out {} dossiers \
             from {} clients",
            if cfg!(debug_assertions) {
                "debug"
            } else {
                "optimised"
            },
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            sizes.rate,
            sizes.seconds,
            sizes.dossiers,
            sizes.concurrency
        );
        if wanted("embedded") {
            run_pair(Pair::Embedded, &sizes).await;
        }
        if wanted("rabbitmq") {
            match remote() {
                Some((amqp, pg)) => run_pair(Pair::Remote { amqp, pg }, &sizes).await,
                None => println!(
                    "rabbitmq: skipped: LIENTHONG_TEST_AMQP_URL and LIENTHONG_TEST_DATABASE_URL \
                     are not both set"
                ),
            }
        }
        if named("drain") {
            let pair = match remote() {
                Some((amqp, pg)) if !named("drain-embedded") => Pair::Remote { amqp, pg },
                _ => Pair::Embedded,
            };
            drain(pair, &sizes).await;
        }
    });
}

fn remote() -> Option<(String, String)> {
    Some((
        std::env::var("LIENTHONG_TEST_AMQP_URL").ok()?,
        std::env::var("LIENTHONG_TEST_DATABASE_URL").ok()?,
    ))
}

#[derive(Clone)]
enum Pair {
    Embedded,
    Remote { amqp: String, pg: String },
}

impl Pair {
    fn name(&self) -> &'static str {
        match self {
            Pair::Embedded => "embedded (SQLite + embedded queue)",
            Pair::Remote { .. } => "RabbitMQ + PostgreSQL",
        }
    }
}

/// A gateway child process with its simulator and clean-up.
struct Rig {
    child: Child,
    pid: u32,
    url: String,
    sim: DvcqgSim,
    http: reqwest::Client,
    dir: PathBuf,
    pair: Pair,
    prefix: String,
    schema: String,
    generator: Generator,
    next: u64,
}

async fn pg_exec(url: &str, sql: String) {
    use sqlx::Connection as _;
    let mut c = sqlx::PgConnection::connect(url)
        .await
        .expect("connect to PostgreSQL");
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut c)
        .await
        .expect("schema statement");
    let _ = c.close().await;
}

/// Transactions committed in the database so far (all clients).
async fn pg_commits(url: &str) -> i64 {
    use sqlx::Connection as _;
    let Ok(mut c) = sqlx::PgConnection::connect(url).await else {
        return 0;
    };
    let n: i64 = sqlx::query_scalar(
        "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
    )
    .fetch_one(&mut c)
    .await
    .unwrap_or(0);
    let _ = c.close().await;
    n
}

impl Rig {
    async fn start(pair: Pair, tag: &str, log: &str) -> Rig {
        let sim_config = DvcqgConfig::default();
        let account = sim_config.accounts[0].clone();
        let (sim_addr, sim, _task) = spawn_dvcqg(sim_config).await.expect("simulator");
        let id = format!("{}{tag}", std::process::id());
        let dir = std::env::temp_dir().join(format!("lienthong-load-{id}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let prefix = format!("ltload{id}");
        let schema = format!("load_{id}");
        let backends = match &pair {
            Pair::Embedded => String::new(),
            Pair::Remote { amqp, pg } => {
                pg_exec(
                    pg,
                    format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"),
                )
                .await;
                let sep = if pg.contains('?') { '&' } else { '?' };
                format!(
                    "[journal]\nurl = \"{pg}{sep}options=-csearch_path%3D{schema}\"\n\n\
                     [bus]\namqp_url = \"{amqp}\"\nprefix = \"{prefix}\"\n\
                     retry_delays_secs = {RETRY_DELAYS_SECS:?}\n"
                )
            }
        };
        let pool = env_or("LIENTHONG_LOAD_POOL", 16u32);
        let backends = if backends.is_empty() {
            format!("[journal]\nmax_connections = {pool}\n\n")
        } else {
            backends.replace(
                "[journal]\n",
                &format!("[journal]\nmax_connections = {pool}\n"),
            )
        };
        let bus = if !backends.contains("[bus]") {
            format!("{backends}[bus]\nretry_delays_secs = {RETRY_DELAYS_SECS:?}\n")
        } else {
            backends
        };
        // The drain queues a backlog far beyond the default backpressure depth.
        let bus = bus.replace("[bus]\n", "[bus]\nbackpressure_depth = 0\n");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let config = dir.join("lienthong.toml");
        std::fs::write(
            &config,
            format!(
                r#"
[gateway]
listen = "127.0.0.1:{port}"
data_dir = "{data}"
node_name = "load-{id}"

{bus}

[dvcqg]
sync_lanes = {lanes}
adapter_url = "http://{sim_addr}"
username = "{user}"
dstcode = "{dstcode}"
madonvi = "{madonvi}"
timeout_ms = 10000
breaker_open_secs = {breaker}

[[units]]
code = "000.00.00.H41"
name = "UBND tỉnh Nghệ An"

[[clients]]
name = "load"
token_sha256 = "{hash}"
units = ["*"]
"#,
                data = dir.join("data").display(),
                user = account.username,
                dstcode = account.dstcode.clone().unwrap_or_default(),
                madonvi = account.madonvi[0],
                hash = TokenHash::of(CLIENT),
                lanes = env_or("LIENTHONG_LOAD_LANES", 16u32),
                // The drain runs through a long outage: the default 30 s, as in production
                // (fewer redeliveries while the portal is down, up to 30 s before the first
                // probe once it is back — counted in the drain time).
                breaker = if tag == "d" { 30 } else { 1 },
            ),
        )
        .expect("config");
        let logs = std::fs::File::create(dir.join("gateway.log")).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_lienthong"))
            .args(["serve", "--config"])
            .arg(&config)
            .env("LIENTHONG_DVCQG_PASSWORD", &account.password)
            .env("LIENTHONG_JOURNAL_KEY", KEY_HEX)
            .env("RUST_LOG", log)
            .stdout(Stdio::null())
            .stderr(logs)
            .spawn()
            .expect("start lienthong serve");
        let pid = child.id();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(1024)
            .build()
            .expect("client");
        let url = format!("http://127.0.0.1:{port}");
        let rig = Rig {
            child,
            pid,
            url,
            sim,
            http,
            dir,
            pair,
            prefix,
            schema,
            generator: Generator::new(11),
            next: 0,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let ok = rig
                .http
                .get(format!("{}/ready", rig.url))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ok {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the gateway did not become ready; see {}",
                rig.dir.join("gateway.log").display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        rig
    }

    /// `n` new dossiers (first versions) as JSON bodies with their codes. Codes are made
    /// unique per run (the generator's stories repeat codes across seeds).
    fn dossiers(&mut self, n: usize) -> Vec<(String, String)> {
        (0..n)
            .map(|_| {
                let mut d = self
                    .generator
                    .story()
                    .versions
                    .into_iter()
                    .next()
                    .expect("a story has a version");
                // `{unit}-{yyMMdd}-{NNNN}` as the portal expects: 9,999 a day from 2025-01-01.
                let unit = d
                    .unit
                    .code
                    .clone()
                    .unwrap_or_else(|| "000.00.15.H41".into());
                let day = jiff::civil::date(2025, 1, 1)
                    .checked_add(jiff::Span::new().days((self.next / 9_999) as i64))
                    .expect("a date in range");
                d.code = format!(
                    "{unit}-{}-{:04}",
                    day.strftime("%y%m%d"),
                    self.next % 9_999 + 1
                );
                self.next += 1;
                d.version = 1;
                let body = dossier_json(&d);
                (d.code, body)
            })
            .collect()
    }

    fn delivered(&self) -> u64 {
        self.sim.calls().count(SERVICE, "ok")
    }

    async fn wait_delivered(&self, total: u64, secs: u64) -> bool {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while self.delivered() < total {
            if Instant::now() > deadline {
                return false;
            }
            // Any answer but success means the benchmark measures something else: stop.
            let calls = self.sim.calls();
            if let Some((outcome, n)) = calls
                .by_service
                .get(SERVICE)
                .and_then(|m| m.iter().find(|(o, _)| !matches!(o.as_str(), "ok" | "down")))
            {
                panic!(
                    "the simulator answered {n} {SERVICE} call(s) with {outcome}; see {}",
                    self.dir.join("gateway.log").display()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }

    async fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Pair::Remote { amqp, pg } = &self.pair {
            let mut c = lienthong_bus::BusConfig::new(
                lienthong_bus::Backend::Amqp {
                    url: amqp.clone(),
                    store_url: String::new(),
                },
                lienthong_bus::standard_routes(),
            );
            c.prefix = self.prefix.clone();
            c.retry_delays = RETRY_DELAYS_SECS.map(Duration::from_secs).to_vec();
            if let Err(e) = lienthong_bus::amqp::delete_topology(&c).await {
                eprintln!("warning: could not delete the benchmark's topology: {e}");
            }
            pg_exec(pg, format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema)).await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// CPU ticks (user + system) and RSS / peak RSS (kB) of a process.
fn proc_stats(pid: u32) -> (u64, u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let ticks = stat_ticks(&stat).map_or(0, |(_, t)| t);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (ticks, kb("VmRSS:"), kb("VmHWM:"))
}

/// The command name and CPU ticks (user + system) of a `/proc/PID/stat` line.
fn stat_ticks(stat: &str) -> Option<(&str, u64)> {
    // The command name is in parentheses and may hold spaces.
    let open = stat.find('(')?;
    let (head, rest) = stat.rsplit_once(')')?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    Some((&head[open + 1..], field(11) + field(12)))
}

/// CPU ticks per group of processes: the gateway, this process (simulator and clients),
/// RabbitMQ, PostgreSQL and everything else (so a busy neighbour shows).
fn cpu_groups(gateway: u32) -> [u64; 5] {
    let me = std::process::id();
    let mut groups = [0u64; 5];
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return groups;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((comm, ticks)) = stat_ticks(&stat) else {
            continue;
        };
        let group = if pid == gateway {
            0
        } else if pid == me {
            1
        } else if comm.starts_with("beam.smp") || comm.starts_with("erl_") {
            2
        } else if comm.starts_with("postgres") {
            3
        } else {
            4
        };
        groups[group] += ticks;
    }
    groups
}

/// Busy and total jiffies of the whole machine.
fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let v: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

/// What one phase measured.
struct Phase {
    dossiers: usize,
    ingest_secs: f64,
    e2e_secs: f64,
    latencies_ms: Vec<f64>,
    throttled: u64,
    gateway_cores: f64,
    /// Cores used by this process, RabbitMQ, PostgreSQL and the rest.
    others: [f64; 4],
    /// PostgreSQL commits per dossier (all clients of the database), when it is used.
    commits_per_dossier: Option<f64>,
    machine_busy: f64,
    rss_mb: f64,
    peak_mb: f64,
    complete: bool,
}

impl Phase {
    fn percentile(&self, p: f64) -> f64 {
        if self.latencies_ms.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies_ms.len() as f64 - 1.0) * p).round() as usize;
        self.latencies_ms[i.min(self.latencies_ms.len() - 1)]
    }

    fn print(&self, what: &str) {
        println!(
            "  {what:<10} {:>7} dossiers  ingest {:>7.0}/s  end to end {:>7.0}/s{}",
            self.dossiers,
            self.dossiers as f64 / self.ingest_secs,
            self.dossiers as f64 / self.e2e_secs,
            if self.complete {
                String::new()
            } else {
                "  (INCOMPLETE: not every dossier reached the portal)".into()
            }
        );
        println!(
            "  {:<10} latency ms p50 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}; 429 answers {}",
            "",
            self.percentile(0.5),
            self.percentile(0.99),
            self.percentile(0.999),
            self.latencies_ms.last().copied().unwrap_or(f64::NAN),
            self.throttled
        );
        println!(
            "  {:<10} gateway {:.2} cores, RSS {:.0} MB (peak {:.0} MB); machine CPU busy {:.0} %",
            "",
            self.gateway_cores,
            self.rss_mb,
            self.peak_mb,
            100.0 * self.machine_busy
        );
        println!(
            "  {:<10} cores used by the simulator + clients {:.2}, RabbitMQ {:.2}, PostgreSQL \
             {:.2}, other processes {:.2}",
            "", self.others[0], self.others[1], self.others[2], self.others[3]
        );
        if let Some(c) = self.commits_per_dossier {
            println!("  {:<10} PostgreSQL commits per dossier {c:.1}", "");
        }
    }
}

/// Sends one dossier until it is accepted (429 and 503 are waited out as `Retry-After`
/// says); counts the 429s. Returns the instant the first attempt was sent.
async fn post(
    http: &reqwest::Client,
    url: &str,
    body: String,
    throttled: &AtomicU64,
) -> jiff::Timestamp {
    let sent = jiff::Timestamp::now();
    loop {
        let r = http
            .post(url)
            .bearer_auth(CLIENT)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await;
        match r {
            Ok(r) if r.status().as_u16() == 202 => return sent,
            Ok(r) if matches!(r.status().as_u16(), 429 | 503) => {
                throttled.fetch_add(1, Ordering::Relaxed);
                let wait = r
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(1);
                tokio::time::sleep(Duration::from_secs(wait)).await;
            }
            Ok(r) => {
                let status = r.status();
                let text = r.text().await.unwrap_or_default();
                panic!("the gateway answered {status}: {text}");
            }
            Err(e) => panic!("cannot post a dossier: {e}"),
        }
    }
}

/// Posts `bodies` either at `rate` per second or flat out from `concurrency` clients, waits
/// until the simulator has them all, and measures.
async fn phase(
    rig: &Rig,
    bodies: Vec<(String, String)>,
    rate: Option<u64>,
    concurrency: usize,
) -> Phase {
    let n = bodies.len();
    let before = rig.delivered();
    let (cpu0, _, _) = proc_stats(rig.pid);
    let groups0 = cpu_groups(rig.pid);
    let pg = match &rig.pair {
        Pair::Remote { pg, .. } => Some(pg.clone()),
        Pair::Embedded => None,
    };
    let commits0 = match &pg {
        Some(url) => pg_commits(url).await,
        None => 0,
    };
    let machine0 = machine_ticks();
    let url = format!("{}/v1/dossiers", rig.url);
    let throttled = Arc::new(AtomicU64::new(0));
    let sent_at = Arc::new(std::sync::Mutex::new(HashMap::with_capacity(n)));
    let start = Instant::now();
    let start_ts = jiff::Timestamp::now();
    match rate {
        Some(rate) => {
            // Ticks of 10 ms, each sending its share; every post in its own task.
            let mut tasks = tokio::task::JoinSet::new();
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let mut queue = bodies.into_iter();
            let mut due = 0.0_f64;
            let mut done = false;
            while !done {
                tick.tick().await;
                due += rate as f64 / 100.0;
                while due >= 1.0 {
                    due -= 1.0;
                    let Some((code, body)) = queue.next() else {
                        done = true;
                        break;
                    };
                    let (http, url, throttled, sent_at) = (
                        rig.http.clone(),
                        url.clone(),
                        throttled.clone(),
                        sent_at.clone(),
                    );
                    tasks.spawn(async move {
                        let t = post(&http, &url, body, &throttled).await;
                        sent_at.lock().expect("lock").insert(code, t);
                    });
                }
            }
            while let Some(r) = tasks.join_next().await {
                r.expect("post task");
            }
        }
        None => {
            let queue = Arc::new(std::sync::Mutex::new(bodies.into_iter()));
            let mut tasks = tokio::task::JoinSet::new();
            for _ in 0..concurrency {
                let (http, url, throttled, sent_at, queue) = (
                    rig.http.clone(),
                    url.clone(),
                    throttled.clone(),
                    sent_at.clone(),
                    queue.clone(),
                );
                tasks.spawn(async move {
                    loop {
                        let next = queue.lock().expect("lock").next();
                        let Some((code, body)) = next else { break };
                        let t = post(&http, &url, body, &throttled).await;
                        sent_at.lock().expect("lock").insert(code, t);
                    }
                });
            }
            while let Some(r) = tasks.join_next().await {
                r.expect("post task");
            }
        }
    }
    let ingest_secs = start.elapsed().as_secs_f64();
    let complete = rig.wait_delivered(before + n as u64, 600).await;
    let (cpu1, rss, peak) = proc_stats(rig.pid);
    let groups1 = cpu_groups(rig.pid);
    let commits1 = match &pg {
        Some(url) => pg_commits(url).await,
        None => 0,
    };
    let machine1 = machine_ticks();
    let wall = start.elapsed().as_secs_f64();
    let sent_at = std::mem::take(&mut *sent_at.lock().expect("lock"));
    let mut latencies_ms = Vec::with_capacity(n);
    let mut last = start_ts;
    for record in rig.sim.dossiers() {
        let (Some(sent), Some(first)) = (sent_at.get(&record.code), record.versions.first()) else {
            continue;
        };
        last = last.max(first.arrival);
        latencies_ms.push((first.arrival - *sent).as_secs_f64() * 1000.0);
    }
    latencies_ms.sort_by(f64::total_cmp);
    let ticks_per_sec = 100.0;
    Phase {
        dossiers: n,
        ingest_secs,
        e2e_secs: (last - start_ts).as_secs_f64().max(1e-3),
        latencies_ms,
        throttled: throttled.load(Ordering::Relaxed),
        gateway_cores: (cpu1 - cpu0) as f64 / ticks_per_sec / wall,
        others: [1, 2, 3, 4]
            .map(|g| groups1[g].saturating_sub(groups0[g]) as f64 / ticks_per_sec / wall),
        commits_per_dossier: pg.map(|_| (commits1 - commits0) as f64 / n as f64),
        machine_busy: (machine1.0 - machine0.0) as f64 / (machine1.1 - machine0.1).max(1) as f64,
        rss_mb: rss as f64 / 1024.0,
        peak_mb: peak as f64 / 1024.0,
        complete,
    }
}

async fn run_pair(pair: Pair, sizes: &Sizes) {
    println!("\n{}", pair.name());
    let mut rig = Rig::start(pair.clone(), "p", &sizes.log).await;
    // Warm-up: sessions, catalogue, connections.
    let warm = rig.dossiers(if sizes.full { 500 } else { 20 });
    phase(&rig, warm, None, 16).await;
    let fixed = rig.dossiers((sizes.rate * sizes.seconds) as usize);
    let p = phase(&rig, fixed, Some(sizes.rate), 0).await;
    p.print(&format!("{}/s", sizes.rate));
    let flat = rig.dossiers(sizes.dossiers);
    let f = phase(&rig, flat, None, sizes.concurrency).await;
    f.print("flat out");
    let sample = rig.dossiers(1).pop().map(|(_, b)| b.len()).unwrap_or(0);
    let inserts: u64 = rig.sim.dossiers().iter().map(|d| d.inserts).sum();
    let dups: u64 = rig.sim.dossiers().iter().map(|d| d.duplicate_inserts).sum();
    println!("  every dossier once: {inserts} inserts, {dups} duplicate inserts");
    let remote = match &rig.pair {
        Pair::Remote { amqp, .. } => Some(amqp.clone()),
        Pair::Embedded => None,
    };
    rig.stop().await;
    if let Some(amqp) = remote {
        // The bus message of a dossier's work item: {"code":…,"reason":"version"}.
        let small = format!(
            "{{\"code\":\"LOAD-{}-0000001\",\"reason\":\"version\"}}",
            1234567
        )
        .len();
        for (what, size) in [("bus message", small), ("dossier", sample)] {
            let took = raw_lapin::raw_lapin(&amqp, sizes.dossiers, size, 256, 256).await;
            let raw = sizes.dossiers as f64 / took.as_secs_f64();
            println!(
                "  raw lapin loop, {size} B ({what}): {raw:>7.0} msg/s; end to end = {:.0} % of it",
                100.0 * (f.dossiers as f64 / f.e2e_secs) / raw
            );
        }
    }
}

/// The backlog drain: dossiers queued while the portal is down, then drained.
async fn drain(pair: Pair, sizes: &Sizes) {
    println!(
        "\nbacklog drain on {}: {} dossiers",
        pair.name(),
        sizes.backlog
    );
    let mut rig = Rig::start(pair, "d", &sizes.log).await;
    rig.sim
        .set_faults(FaultSettings {
            down_for_ms: Some(365 * 24 * 3600 * 1000),
            ..FaultSettings::default()
        })
        .expect("faults");
    let start = Instant::now();
    let sent = Arc::new(AtomicUsize::new(0));
    let throttled = Arc::new(AtomicU64::new(0));
    let url = format!("{}/v1/dossiers", rig.url);
    let chunk = 10_000;
    let mut peak = 0;
    while sent.load(Ordering::Relaxed) < sizes.backlog {
        let n = chunk.min(sizes.backlog - sent.load(Ordering::Relaxed));
        let bodies = Arc::new(std::sync::Mutex::new(rig.dossiers(n).into_iter()));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..sizes.concurrency {
            let (http, url, throttled, bodies, sent) = (
                rig.http.clone(),
                url.clone(),
                throttled.clone(),
                bodies.clone(),
                sent.clone(),
            );
            tasks.spawn(async move {
                loop {
                    let next = bodies.lock().expect("lock").next();
                    let Some((_, body)) = next else { break };
                    post(&http, &url, body, &throttled).await;
                    sent.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        while let Some(r) = tasks.join_next().await {
            r.expect("post task");
        }
        let (_, rss, hwm) = proc_stats(rig.pid);
        peak = peak.max(hwm);
        println!(
            "  queued {:>8} in {:>6.0} s; gateway RSS {:.0} MB, peak {:.0} MB",
            sent.load(Ordering::Relaxed),
            start.elapsed().as_secs_f64(),
            rss as f64 / 1024.0,
            hwm as f64 / 1024.0
        );
    }
    let queued_secs = start.elapsed().as_secs_f64();
    println!(
        "  queued {} dossiers at {:.0}/s (429 answers: {})",
        sizes.backlog,
        sizes.backlog as f64 / queued_secs,
        throttled.load(Ordering::Relaxed)
    );
    rig.sim
        .set_faults(FaultSettings::default())
        .expect("faults");
    let up = Instant::now();
    let mut last_print = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(6 * 3600);
    while rig.delivered() < sizes.backlog as u64 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (_, _, hwm) = proc_stats(rig.pid);
        peak = peak.max(hwm);
        if last_print.elapsed() > Duration::from_secs(30) {
            last_print = Instant::now();
            println!(
                "  drained {:>8} in {:>6.0} s",
                rig.delivered(),
                up.elapsed().as_secs_f64()
            );
        }
    }
    let secs = up.elapsed().as_secs_f64();
    let (_, rss, hwm) = proc_stats(rig.pid);
    peak = peak.max(hwm);
    println!(
        "  drained {} of {} in {secs:.0} s = {:.0} dossiers/s; gateway RSS {:.0} MB, peak {:.0} MB",
        rig.delivered(),
        sizes.backlog,
        rig.delivered() as f64 / secs,
        rss as f64 / 1024.0,
        peak as f64 / 1024.0
    );
    rig.stop().await;
}
