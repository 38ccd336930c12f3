//! Portal submissions on real parts: the DVCQG simulator pushes citizens' dossiers over
//! loopback to the receiver; the provincial system takes them through the pull API (with
//! ack) or a signed webhook (retried through the bus); the statuses the province reports
//! through the ingest API go back to the simulator with `DongBoTrangThaiHoSo`. On a SQLite
//! journal and the embedded bus, and the same life on RabbitMQ + PostgreSQL when
//! `LIENTHONG_TEST_AMQP_URL` and `LIENTHONG_TEST_DATABASE_URL` are set.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use jiff::Timestamp;
use lienthong_bus::{Backend, Bus, BusConfig, ParkedFilter, standard_routes};
use lienthong_dvcqg::client::{ClientConfig, DvcqgClient};
use lienthong_journal::outbox::RelayOptions;
use lienthong_journal::{Journal, JournalOptions, Key, PersonalData, Reveal};
use lienthong_model::{Dossier, DossierStatus, ProgressStep};
use lienthong_provincial::generate::Generator;
use lienthong_provincial::validate::Policy;
use lienthong_provincial::write::{dossier_json, progress_json};
use lienthong_sandbox::dvcqg::{DvcqgConfig, spawn_dvcqg};
use lienthong_service::auth::{TokenHash, Tokens};
use lienthong_service::config::Config;
use lienthong_service::ingest::{Ingest, router as ingest_router};
use lienthong_service::portal::{
    DeliveryRoute, DeliverySettings, Portal, SIGNATURE_HEADER, StatusRoute, StatusSettings,
    TIMESTAMP_HEADER, WebhookTarget, router as portal_router, verify,
};
use lienthong_service::relay::{RelayConfig, run_relay};
use lienthong_service::sync::{SharedBreaker, lock_breaker};
use lienthong_workflow::breaker::Health;
use lienthong_workflow::{BreakerConfig, CircuitBreaker, RetryPolicy, plan_report, reduce};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

static COUNTER: AtomicU32 = AtomicU32::new(0);

const RECEIVER: &str = "/v1/portal/dossiers";
const PORTAL_TOKEN: &str = "lt_portal_push_token_for_tests";
/// Pulls for unit 000.00.12.H41.
const PULLER: &str = "lt_puller_token";
const VIEWER: &str = "lt_viewer_operator";
/// Serves 000.00.99.H41 only.
const OTHER: &str = "lt_other_unit_token";
const PULL_UNIT: &str = "000.00.12.H41";
/// Its webhook fails twice, then takes the submission.
const HOOK_UNIT: &str = "000.00.15.H41";
/// Its webhook never answers 2xx.
const DOWN_UNIT: &str = "000.00.08.H41";
const SECRET: &[u8] = b"webhook-secret-0123456789";

enum Parts {
    Local,
    Remote { amqp: String, pg: String },
}

/// A webhook receiver: verifies the signature, refuses the first `fail_first` valid
/// calls with 503, then answers 200 (or always 500 when `down`).
#[derive(Default)]
struct Hook {
    fail_first: AtomicU32,
    down: AtomicBool,
    bad_signatures: AtomicU32,
    refused: AtomicU32,
    /// Codes taken with a 2xx, in order.
    taken: Mutex<Vec<String>>,
}

async fn hook(State(h): State<Arc<Hook>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let ok = verify(
        SECRET,
        &header(TIMESTAMP_HEADER),
        &header(SIGNATURE_HEADER),
        &body,
        Timestamp::now(),
        Duration::from_secs(300),
    );
    if !ok {
        h.bad_signatures.fetch_add(1, Ordering::SeqCst);
        return StatusCode::UNAUTHORIZED;
    }
    if h.down.load(Ordering::SeqCst) {
        h.refused.fetch_add(1, Ordering::SeqCst);
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    if h.fail_first
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        h.refused.fetch_add(1, Ordering::SeqCst);
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let code = v["code"].as_str().unwrap_or("").to_owned();
    assert_eq!(
        v["dossier"]["code"],
        code.as_str(),
        "provincial dossier inside"
    );
    h.taken.lock().expect("lock").push(code);
    StatusCode::OK
}

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

/// The gateway's and the simulator's HTTP APIs.
struct Api {
    gateway: String,
    sim: String,
    http: reqwest::Client,
}

struct Harness {
    dir: PathBuf,
    journal: Journal,
    bus: Bus,
    bus_config: BusConfig,
    api: Api,
    hook: Arc<Hook>,
    down: Arc<Hook>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    pg_schema: Option<(String, String)>,
    /// The portal's breaker the status route asks (one failure opens it for 2 s).
    breaker: SharedBreaker,
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

fn config() -> Config {
    let toml = format!(
        r#"
[[units]]
code = "{PULL_UNIT}"
name = "Sở Tư pháp"
[[units]]
code = "{HOOK_UNIT}"
name = "Sở Xây dựng"
[[units]]
code = "{DOWN_UNIT}"
name = "Sở Kế hoạch và Đầu tư"
[[units]]
code = "000.00.99.H41"
name = "Other"
[[clients]]
name = "motcua"
token_sha256 = "{p}"
units = ["{PULL_UNIT}"]
[[clients]]
name = "other"
token_sha256 = "{o}"
units = ["000.00.99.H41"]
"#,
        p = TokenHash::of(PULLER),
        o = TokenHash::of(OTHER),
    );
    Config::parse(&toml, "test", &|_| None).expect("config")
}

impl Harness {
    async fn start(parts: Parts) -> Harness {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let tag = format!("{}-{n}", std::process::id());
        let dir = std::env::temp_dir().join(format!("lienthong-portal-{tag}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let (journal_url, backend, prefix, pg_schema) = match parts {
            Parts::Local => (
                format!("sqlite://{}/journal.db", dir.display()),
                Backend::Embedded {
                    path: dir.join("bus.db"),
                },
                "lienthong".to_owned(),
                None,
            ),
            Parts::Remote { amqp, pg } => {
                let schema = format!("portal_{}", tag.replace('-', "_"));
                pg_exec(&pg, format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await;
                pg_exec(&pg, format!("CREATE SCHEMA {schema}")).await;
                let sep = if pg.contains('?') { '&' } else { '?' };
                (
                    format!("{pg}{sep}options=-csearch_path%3D{schema}"),
                    Backend::Amqp {
                        url: amqp,
                        store_url: format!("sqlite://{}/store.db?mode=rwc", dir.display()),
                    },
                    format!("ltportal{}", tag.replace('-', "x")),
                    Some((pg, schema)),
                )
            }
        };
        let mut jo = JournalOptions::new(journal_url);
        jo.personal_data = PersonalData {
            fields: lienthong_service::gateway::DEFAULT_PERSONAL_FIELDS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            key: Some(Key::from_bytes([7; 32])),
            encrypt_opaque: true,
        };
        let journal = Journal::open(&jo).await.expect("journal");
        let mut bc = BusConfig::new(backend, standard_routes());
        bc.prefix = prefix;
        bc.max_attempts = 4;
        bc.retry_delays = vec![
            Duration::from_millis(50),
            Duration::from_millis(200),
            Duration::from_millis(500),
        ];
        let bus = Bus::open(bc.clone()).await.expect("bus");
        let policy = RetryPolicy {
            base: Duration::from_millis(50),
            max_delay: Duration::from_millis(300),
            max_retry_after: Duration::from_millis(300),
        };

        // The gateway's HTTP side: receiver, pull API and ingest.
        let config = config();
        let maintenance = Arc::new(AtomicBool::new(false));
        let portal = Arc::new(Portal {
            journal: journal.clone(),
            tokens: Tokens::from_config(&config),
            receiver_token: TokenHash::of(PORTAL_TOKEN),
            maintenance: maintenance.clone(),
            max_request_bytes: 1024 * 1024,
        });
        let ingest = Arc::new(Ingest {
            journal: journal.clone(),
            tokens: Tokens::from_config(&config),
            policy: Policy::default(),
            maintenance,
            pressure: Arc::new(AtomicU64::new(0)),
            max_request_bytes: 1024 * 1024,
        });
        let gateway = serve(portal_router(portal, RECEIVER).merge(ingest_router(ingest))).await;

        // The provincial systems' webhooks.
        let hook = Arc::new(Hook::default());
        hook.fail_first.store(2, Ordering::SeqCst);
        let hook_url = serve(
            Router::new()
                .route("/hook", post(hook_handler))
                .with_state(hook.clone()),
        )
        .await;
        let down = Arc::new(Hook::default());
        down.down.store(true, Ordering::SeqCst);
        let down_url = serve(
            Router::new()
                .route("/hook", post(hook_handler))
                .with_state(down.clone()),
        )
        .await;

        // The portal, pushing to the receiver.
        let sim_config = DvcqgConfig {
            receiver_url: Some(format!("{gateway}{RECEIVER}")),
            receiver_token: Some(PORTAL_TOKEN.to_owned()),
            ..DvcqgConfig::default()
        };
        let account = sim_config.accounts[0].clone();
        let (addr, _sim, _task) = spawn_dvcqg(sim_config.clone()).await.expect("simulator");
        let client = DvcqgClient::new(ClientConfig {
            adapter_url: format!("http://{addr}"),
            auth_endpoint: sim_config.auth_path.clone(),
            integration_endpoint: sim_config.integration_path.clone(),
            share_endpoint: sim_config.share_path.clone(),
            username: account.username.clone(),
            password: account.password.clone(),
            dstcode: account.dstcode.clone(),
            madonvi: account.madonvi[0].clone(),
            timeout_ms: 2_000,
            ..ClientConfig::default()
        })
        .expect("client");

        let target = |client: &str, unit: &str, url: &str| WebhookTarget {
            client: client.to_owned(),
            units: Some(vec![unit.to_owned()]),
            url: format!("{url}/hook"),
            secret: SECRET.to_vec(),
        };
        let delivery = Arc::new(
            DeliveryRoute::new(
                journal.clone(),
                DeliverySettings {
                    webhooks: vec![
                        target("hooked", HOOK_UNIT, &hook_url),
                        target("down", DOWN_UNIT, &down_url),
                    ],
                    timeout: Duration::from_secs(2),
                    policy,
                    prefetch: 4,
                },
            )
            .expect("delivery route"),
        );
        let breaker: SharedBreaker = Arc::new(Mutex::new(CircuitBreaker::new(BreakerConfig {
            failure_threshold: 1,
            window: Duration::from_secs(60),
            cool_down: Duration::from_secs(2),
            probe_timeout: Duration::from_secs(10),
        })));
        let status = Arc::new(
            StatusRoute::new(
                journal.clone(),
                client,
                StatusSettings {
                    policy,
                    prefetch: 4,
                },
            )
            .expect("status route")
            .with_breaker(breaker.clone()),
        );
        let (stop, rx) = watch::channel(false);
        let relay = RelayConfig {
            options: RelayOptions {
                owner: format!("relay-{tag}"),
                ..RelayOptions::default()
            },
            idle: Duration::from_millis(20),
            ..RelayConfig::default()
        };
        let tasks = vec![
            tokio::spawn(run_relay(journal.clone(), bus.clone(), relay, rx.clone())),
            tokio::spawn({
                let (bus, rx) = (bus.clone(), rx.clone());
                async move { delivery.run(&bus, rx).await.expect("delivery route") }
            }),
            tokio::spawn({
                let bus = bus.clone();
                async move { status.run(&bus, rx).await.expect("status route") }
            }),
        ];
        Harness {
            dir,
            journal,
            bus,
            bus_config: bc,
            api: Api {
                gateway,
                sim: format!("http://{addr}"),
                http: reqwest::Client::new(),
            },
            hook,
            down,
            stop,
            tasks,
            pg_schema,
            breaker,
        }
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            t.await.expect("task");
        }
        self.bus.close().await;
        if matches!(self.bus_config.backend, Backend::Amqp { .. }) {
            let _ = lienthong_bus::amqp::delete_topology(&self.bus_config).await;
        }
        self.journal.close().await;
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some((pg, schema)) = self.pg_schema {
            pg_exec(&pg, format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await;
        }
    }
}

impl Api {
    /// Asks the simulator to push one dossier; the receiver's HTTP status and answer.
    async fn push(&self, item: &Value) -> (u16, Value) {
        let v: Value = self
            .http
            .post(format!("{}/admin/citizen-dossiers", self.sim))
            .json(item)
            .send()
            .await
            .expect("admin push")
            .json()
            .await
            .expect("json");
        let r = &v["results"][0];
        let answer = r["response"]
            .as_str()
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or(Value::Null);
        (r["http_status"].as_u64().unwrap_or(0) as u16, answer)
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<String>,
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.gateway);
        let r = match method {
            "GET" => self.http.get(url),
            _ => self.http.post(url),
        }
        .bearer_auth(token)
        .header("content-type", "application/json");
        let r = match body {
            Some(b) => r.body(b),
            None => r,
        };
        let resp = r.send().await.expect("send");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn listed(&self, token: &str) -> Vec<String> {
        let (status, v) = self
            .call("GET", "/v1/submissions?limit=50", token, None)
            .await;
        assert_eq!(status, 200, "{v}");
        v["submissions"]
            .as_array()
            .expect("submissions")
            .iter()
            .map(|s| s["code"].as_str().unwrap_or("").to_owned())
            .collect()
    }

    /// The reduced statuses the simulator recorded for `code`, in arrival order.
    async fn reported(&self, code: &str) -> Vec<String> {
        let v: Value = self
            .http
            .get(format!("{}/admin/status-sync", self.sim))
            .send()
            .await
            .expect("status-sync")
            .json()
            .await
            .expect("json");
        v["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|r| r["item"]["MaHoSo"] == code)
            .map(|r| {
                assert_eq!(r["citizen_dossier"], true, "a dossier the portal pushed");
                assert_eq!(r["item"]["MaHoSoDonVi"], code);
                r["item"]["TrangThai"].as_str().unwrap_or("").to_owned()
            })
            .collect()
    }
}

async fn hook_handler(state: State<Arc<Hook>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    hook(state, headers, body).await
}

async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if check().await {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A citizen's dossier as the portal pushes it, for `unit`.
fn citizen_dossier(unit: &str, n: u32) -> Value {
    json!({
        "MaHoSo": format!("{unit}-251127-9{n:04}"),
        "MaTTHC": "1.001193",
        "TenTTHC": "Đăng ký khai sinh",
        "KenhThucHien": "2",
        "ChuHoSo": "Nguyễn Văn An",
        "LoaiDoiTuong": "1",
        "MaDoiTuong": "techid-0012345678",
        "SoDienThoai": "0912345678",
        "TrichYeuHoSo": "Đăng ký khai sinh",
        "NgayTiepNhan": "20251127091502",
        "TrangThaiHoSo": "1",
        "HinhThuc": "0",
        "HoSoCoThanhPhanSoHoa": "0",
        "TaiKhoanDuocXacThucVoiVNeID": "1",
        "DuocThanhToanTrucTuyen": "0",
        "NgayNopHoSo": "20251127090000",
    })
}

/// The province's dossier version and steps for a portal dossier: the generator's dossier
/// under the portal's code, and steps with the given statuses.
fn province_reports(
    code: &str,
    unit: &str,
    statuses: &[DossierStatus],
) -> (Dossier, Vec<ProgressStep>) {
    let story = Generator::new(5).story();
    let first = story.versions.first().expect("a version").clone();
    let mut d = Dossier {
        code: code.to_owned(),
        version: 1,
        ..first
    };
    d.unit.code = Some(unit.to_owned());
    let template = story.steps.first().expect("a step").clone();
    let steps = statuses
        .iter()
        .enumerate()
        .map(|(i, s)| ProgressStep {
            dossier_code: code.to_owned(),
            step_seq: i as u64 + 1,
            action: format!("bước {}", i + 1),
            status: Some(*s),
            ..template.clone()
        })
        .collect();
    (d, steps)
}

async fn pull_and_ack(h: &Harness) {
    let item = citizen_dossier(PULL_UNIT, 1);
    let code = item["MaHoSo"].as_str().expect("code").to_owned();
    let (status, answer) = h.api.push(&item).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["results"][0]["result"], "accepted");
    // A second push of the same dossier changes nothing.
    let (status, answer) = h.api.push(&item).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["results"][0]["result"], "duplicate");

    // Listed once, for its unit only, in the provincial format with personal data in clear.
    let (s, v) = h.api.call("GET", "/v1/submissions", PULLER, None).await;
    assert_eq!(s, 200);
    let subs = v["submissions"].as_array().expect("array");
    assert_eq!(subs.len(), 1, "{v}");
    assert_eq!(subs[0]["code"], code.as_str());
    assert_eq!(subs[0]["unit"], PULL_UNIT);
    assert_eq!(subs[0]["dossier"]["code"], code.as_str());
    assert_eq!(subs[0]["dossier"]["channel"], "online");
    assert!(
        v.to_string().contains("0912345678"),
        "the province gets the phone"
    );
    assert!(h.api.listed(OTHER).await.is_empty());

    // Only a client of the unit may take it; the ack is idempotent; then it is gone.
    let ack = format!("/v1/submissions/{code}/ack");
    assert_eq!(h.api.call("POST", &ack, OTHER, None).await.0, 403);
    assert_eq!(
        h.api
            .call("POST", "/v1/submissions/nope/ack", PULLER, None)
            .await
            .0,
        404
    );
    assert_eq!(h.api.call("POST", &ack, "lt_unknown", None).await.0, 401);
    let (s, v) = h.api.call("POST", &ack, PULLER, None).await;
    assert_eq!((s, v["result"].as_str()), (200, Some("acknowledged")));
    let (s, v) = h.api.call("POST", &ack, PULLER, None).await;
    assert_eq!((s, v["result"].as_str()), (200, Some("already_delivered")));
    assert!(h.api.listed(PULLER).await.is_empty());
    let sub = h
        .journal
        .submission(&code, Reveal::Masked)
        .await
        .expect("journal")
        .expect("recorded");
    assert_eq!(sub.delivered_to.as_deref(), Some("motcua"));
    assert_eq!(sub.delivered_via.as_deref(), Some("pull"));
}

async fn webhook_with_retries(h: &Harness) {
    let item = citizen_dossier(HOOK_UNIT, 2);
    let code = item["MaHoSo"].as_str().expect("code").to_owned();
    assert_eq!(h.api.push(&item).await.0, 200);
    eventually("the webhook took the submission", || async {
        h.journal
            .submission(&code, Reveal::Masked)
            .await
            .expect("journal")
            .is_some_and(|s| s.delivered_at.is_some())
    })
    .await;
    eventually("the delivery route is idle", || async {
        h.bus.depth("portal.delivery").await.expect("depth") == 0
    })
    .await;
    assert_eq!(
        *h.hook.taken.lock().expect("lock"),
        std::slice::from_ref(&code),
        "taken once"
    );
    assert_eq!(
        h.hook.refused.load(Ordering::SeqCst),
        2,
        "failed twice first"
    );
    assert_eq!(h.hook.bad_signatures.load(Ordering::SeqCst), 0);
    let sub = h
        .journal
        .submission(&code, Reveal::Masked)
        .await
        .expect("journal")
        .expect("recorded");
    assert_eq!(sub.delivered_via.as_deref(), Some("webhook"));
    assert_eq!(sub.delivered_to.as_deref(), Some("hooked"));

    // A webhook that never takes it: parked after the last attempt, nothing lost.
    let item = citizen_dossier(DOWN_UNIT, 3);
    let code = item["MaHoSo"].as_str().expect("code").to_owned();
    assert_eq!(h.api.push(&item).await.0, 200);
    eventually("the failing delivery is parked", || async {
        !h.bus
            .parked(&ParkedFilter {
                key: Some(code.clone()),
                ..ParkedFilter::default()
            })
            .await
            .expect("parked")
            .is_empty()
    })
    .await;
    assert!(h.down.refused.load(Ordering::SeqCst) >= 1);
    assert_eq!(h.down.bad_signatures.load(Ordering::SeqCst), 0);
    let sub = h
        .journal
        .submission(&code, Reveal::Masked)
        .await
        .expect("journal")
        .expect("still recorded");
    assert!(sub.delivered_at.is_none(), "not delivered, still waiting");
}

async fn bad_dossiers_are_refused(h: &Harness) {
    let mut item = citizen_dossier(PULL_UNIT, 4);
    item["TrangThaiHoSo"] = json!("11");
    let code = item["MaHoSo"].as_str().expect("code").to_owned();
    let (status, answer) = h.api.push(&item).await;
    assert_eq!(status, 400, "{answer}");
    let paths: Vec<&str> = answer["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["severity"] == "error")
        .filter_map(|f| f["path"].as_str())
        .collect();
    assert_eq!(paths, ["/data/0/TrangThaiHoSo"], "{answer}");
    assert!(
        h.journal
            .submission(&code, Reveal::Masked)
            .await
            .expect("journal")
            .is_none(),
        "nothing journaled"
    );
    let work = h.journal.pending_work(1000).await.expect("outbox");
    assert!(work.iter().all(|w| w.dossier_code != code));

    // The wrong token: 401, nothing journaled.
    let body = json!({"service": "DongBoHoSoDVCQG", "data": [citizen_dossier(PULL_UNIT, 5)]});
    let (s, _) = h
        .api
        .call("POST", RECEIVER, "not-the-token", Some(body.to_string()))
        .await;
    assert_eq!(s, 401);
    assert!(
        h.journal
            .submission(&format!("{PULL_UNIT}-251127-90005"), Reveal::Masked)
            .await
            .expect("journal")
            .is_none()
    );
}

async fn statuses_go_back(h: &Harness) {
    let item = citizen_dossier(PULL_UNIT, 6);
    let code = item["MaHoSo"].as_str().expect("code").to_owned();
    assert_eq!(h.api.push(&item).await.0, 200);
    use DossierStatus::*;
    let statuses = [
        Accepted,
        Processing,
        SupplementRequested,
        SupplementRequested,
        Finished,
    ];
    let (version, steps) = province_reports(&code, PULL_UNIT, &statuses);

    let mut expected: Vec<String> = Vec::new();
    let mut last: Option<DossierStatus> = None;
    let note = |s: DossierStatus, expected: &mut Vec<String>, last: &mut Option<DossierStatus>| {
        if plan_report(*last, s).is_some() {
            let code = reduce(s).map(|r| r.status()).expect("reduced");
            expected.push(if code == Accepted { "2" } else { "5" }.to_owned());
            *last = Some(s);
            true
        } else {
            false
        }
    };
    let (s, v) = h
        .api
        .call("POST", "/v1/dossiers", PULLER, Some(dossier_json(&version)))
        .await;
    assert_eq!(s, 202, "{v}");
    if let Some(st) = version.status
        && note(st, &mut expected, &mut last)
    {
        let want = expected.clone();
        eventually("the version's status reported", || async {
            h.api.reported(&code).await == want
        })
        .await;
    }
    for step in &steps {
        let (s, v) = h
            .api
            .call(
                "POST",
                &format!("/v1/dossiers/{code}/progress"),
                PULLER,
                Some(progress_json(step)),
            )
            .await;
        assert_eq!(s, 202, "{v}");
        if note(step.status.expect("status"), &mut expected, &mut last) {
            let want = expected.clone();
            eventually("the step's status reported", || async {
                h.api.reported(&code).await == want
            })
            .await;
        }
    }
    eventually("the status route is idle", || async {
        h.bus.depth("portal.status").await.expect("depth") == 0
    })
    .await;
    // Exactly once per change: the repeated status 5 sent nothing.
    assert_eq!(h.api.reported(&code).await, expected);
    assert!(
        expected.ends_with(&["2".into(), "5".into(), "2".into()]),
        "{expected:?}"
    );
    let sub = h
        .journal
        .submission(&code, Reveal::Masked)
        .await
        .expect("journal")
        .expect("recorded");
    assert_eq!(sub.status_reported, Some(Finished));
}

/// While the portal's breaker is open (one failure of another route opened it), a status
/// report waits, costs no attempt and parks nothing; after the cool-down it is sent once.
async fn reports_wait_while_the_breaker_is_open(h: &Harness) {
    let item = citizen_dossier(PULL_UNIT, 7);
    let code = item["MaHoSo"].as_str().expect("code").to_owned();
    assert_eq!(h.api.push(&item).await.0, 200);
    lock_breaker(&h.breaker).record(Timestamp::now(), Health::Failure);
    let (version, _) = province_reports(&code, PULL_UNIT, &[DossierStatus::Accepted]);
    let (s, v) = h
        .api
        .call("POST", "/v1/dossiers", PULLER, Some(dossier_json(&version)))
        .await;
    assert_eq!(s, 202, "{v}");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(
        h.api.reported(&code).await.is_empty(),
        "nothing is sent while the breaker is open"
    );
    eventually("the status reported after the cool-down", || async {
        h.api.reported(&code).await.len() == 1
    })
    .await;
    eventually("the status route is idle", || async {
        h.bus.depth("portal.status").await.expect("depth") == 0
    })
    .await;
    assert_eq!(h.api.reported(&code).await.len(), 1, "sent once");
    let parked = h
        .bus
        .parked(&ParkedFilter::default())
        .await
        .expect("parked");
    assert!(
        parked.iter().all(|p| p.route != "portal.status"),
        "{parked:?}"
    );
}

async fn life(h: &Harness) {
    pull_and_ack(h).await;
    webhook_with_retries(h).await;
    bad_dossiers_are_refused(h).await;
    statuses_go_back(h).await;
    reports_wait_while_the_breaker_is_open(h).await;
    let per_route: BTreeMap<String, u64> = [
        (
            "portal.delivery",
            h.bus.depth("portal.delivery").await.expect("depth"),
        ),
        (
            "portal.status",
            h.bus.depth("portal.status").await.expect("depth"),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert!(per_route.values().all(|d| *d == 0), "{per_route:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn portal_submissions_reach_the_province_and_statuses_go_back() {
    let h = Harness::start(Parts::Local).await;
    life(&h).await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn portal_submissions_on_rabbitmq_and_postgres() {
    let (Some(amqp), Some(pg)) = (
        env("LIENTHONG_TEST_AMQP_URL"),
        env("LIENTHONG_TEST_DATABASE_URL"),
    ) else {
        return;
    };
    let h = Harness::start(Parts::Remote { amqp, pg }).await;
    life(&h).await;
    h.stop().await;
}

/// The same wiring through `Gateway::start` and its configuration: receiver, pull API,
/// webhook and status reports (embedded backends).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_started_gateway_wires_the_portal_submissions() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = std::env::temp_dir().join(format!("lienthong-portal-gw-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // The portal must know the receiver's URL before the gateway starts.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let hook_state = Arc::new(Hook::default());
    let hook_url = serve(
        Router::new()
            .route("/hook", post(hook_handler))
            .with_state(hook_state.clone()),
    )
    .await;
    let sim_config = DvcqgConfig {
        receiver_url: Some(format!("http://127.0.0.1:{port}{RECEIVER}")),
        receiver_token: Some(PORTAL_TOKEN.to_owned()),
        ..DvcqgConfig::default()
    };
    let account = sim_config.accounts[0].clone();
    let (addr, _sim, _task) = spawn_dvcqg(sim_config).await.expect("simulator");
    let toml = format!(
        r#"
[gateway]
listen = "127.0.0.1:{port}"
data_dir = "{dir}"
[dvcqg]
adapter_url = "http://{addr}"
username = "{user}"
dstcode = "{dstcode}"
madonvi = "{madonvi}"
timeout_ms = 2000
[[units]]
code = "{PULL_UNIT}"
name = "Sở Tư pháp"
[[units]]
code = "{HOOK_UNIT}"
name = "Sở Xây dựng"
[[clients]]
name = "motcua"
token_sha256 = "{puller}"
units = ["{PULL_UNIT}"]
[[clients]]
name = "hooked"
token_sha256 = "{hooked}"
units = ["{HOOK_UNIT}"]
[[operators]]
name = "vien"
token_sha256 = "{viewer}"
role = "viewer"
[portal]
receiver_token_sha256 = "{portal}"
[[portal.webhooks]]
client = "hooked"
url = "{hook_url}/hook"
secret_env = "HOOK_SECRET"
"#,
        dir = dir.display(),
        user = account.username,
        dstcode = account.dstcode.clone().unwrap_or_default(),
        madonvi = account.madonvi[0],
        puller = TokenHash::of(PULLER),
        hooked = TokenHash::of("lt_hooked_client"),
        portal = TokenHash::of(PORTAL_TOKEN),
        viewer = TokenHash::of(VIEWER),
    );
    let password = account.password.clone();
    let env = move |name: &str| match name {
        "LIENTHONG_DVCQG_PASSWORD" => Some(password.clone()),
        "LIENTHONG_JOURNAL_KEY" => Some("2a".repeat(32)),
        "HOOK_SECRET" => Some(String::from_utf8_lossy(SECRET).into_owned()),
        _ => None,
    };
    let config = Config::parse(&toml, "test", &env).expect("config");
    let errors: Vec<_> = config
        .check(&env)
        .into_iter()
        .filter(|f| f.is_error())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    let gw = lienthong_service::gateway::Gateway::start(&config, &env)
        .await
        .expect("gateway");
    let api = Api {
        gateway: format!("http://{}", gw.addr()),
        sim: format!("http://{addr}"),
        http: reqwest::Client::new(),
    };

    // Pulled and acknowledged.
    let item = citizen_dossier(PULL_UNIT, 11);
    let pulled = item["MaHoSo"].as_str().expect("code").to_owned();
    assert_eq!(api.push(&item).await.0, 200);
    assert_eq!(api.listed(PULLER).await, std::slice::from_ref(&pulled));
    // The operator's view: waiting, no body; a client token is not an operator's.
    let overview = async |query: &str| {
        let (s, v) = api
            .call(
                "GET",
                &format!("/v1/admin/submissions{query}"),
                VIEWER,
                None,
            )
            .await;
        assert_eq!(s, 200, "{v}");
        v["submissions"].as_array().cloned().unwrap_or_default()
    };
    let waiting = overview("?undelivered=true").await;
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert_eq!(waiting[0]["code"], pulled.as_str());
    assert_eq!(waiting[0]["unit"], PULL_UNIT);
    assert!(waiting[0]["delivered_at"].is_null());
    assert!(waiting[0]["waiting_secs"].is_u64());
    assert!(waiting[0].get("body").is_none(), "no personal data");
    let (s, _) = api.call("GET", "/v1/admin/submissions", PULLER, None).await;
    assert!(s == 401 || s == 403, "a client token got {s}");
    let (s, v) = api
        .call(
            "POST",
            &format!("/v1/submissions/{pulled}/ack"),
            PULLER,
            None,
        )
        .await;
    assert_eq!((s, v["result"].as_str()), (200, Some("acknowledged")));
    assert!(api.listed(PULLER).await.is_empty());
    assert!(overview("?undelivered=true").await.is_empty());
    let all = overview(&format!("?unit={PULL_UNIT}")).await;
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(
        (
            all[0]["delivered_via"].as_str(),
            all[0]["delivered_to"].as_str()
        ),
        (Some("pull"), Some("motcua"))
    );
    assert!(overview("?unit=000.00.99.H41").await.is_empty());

    // Pushed to the webhook.
    let item = citizen_dossier(HOOK_UNIT, 12);
    let hooked = item["MaHoSo"].as_str().expect("code").to_owned();
    assert_eq!(api.push(&item).await.0, 200);
    eventually("the webhook took the submission", || async {
        hook_state.taken.lock().expect("lock").len() == 1
    })
    .await;
    assert_eq!(*hook_state.taken.lock().expect("lock"), [hooked]);
    assert_eq!(hook_state.bad_signatures.load(Ordering::SeqCst), 0);

    // The province's statuses reach the portal.
    use DossierStatus::*;
    let (version, steps) = province_reports(&pulled, PULL_UNIT, &[Processing]);
    let (s, v) = api
        .call("POST", "/v1/dossiers", PULLER, Some(dossier_json(&version)))
        .await;
    assert_eq!(s, 202, "{v}");
    let mut expected = Vec::new();
    let mut last = None;
    for st in version.status.into_iter().chain([Processing]) {
        if plan_report(last, st).is_some() {
            let r = reduce(st).map(|r| r.status()).expect("reduced");
            expected.push(if r == Accepted { "2" } else { "5" }.to_owned());
            last = Some(st);
        }
    }
    let (s, v) = api
        .call(
            "POST",
            &format!("/v1/dossiers/{pulled}/progress"),
            PULLER,
            Some(progress_json(&steps[0])),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    let want = expected.last().cloned();
    eventually("the status reached the portal", || async {
        api.reported(&pulled).await.last().cloned() == want
    })
    .await;
    // Counted in /metrics, without dossier codes.
    let metrics = api
        .http
        .get(format!("{}/metrics", api.gateway))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for series in [
        "lienthong_portal_submissions_total{result=\"accepted\"}",
        "lienthong_webhook_calls_total{outcome=\"delivered\"}",
        "lienthong_portal_calls_total{partner=\"dvcqg\",call=\"DongBoTrangThaiHoSo\",outcome=\"accepted\"}",
        "lienthong_queue_depth{route=\"portal.delivery\"}",
    ] {
        assert!(metrics.contains(series), "{series} missing");
    }
    assert!(!metrics.contains(&pulled), "a dossier code in /metrics");
    gw.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

fn env(name: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            eprintln!("skipped: {name} is not set");
            None
        }
    }
}
