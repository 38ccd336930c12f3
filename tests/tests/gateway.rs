//! The gateway end to end: the DVCQG simulator and a `Gateway` over loopback, driven only
//! through their HTTP APIs (the ingest API, the admin API, the simulator's `/admin/…`), on
//! the embedded backends (SQLite journal, embedded queue) and — when
//! `LIENTHONG_TEST_AMQP_URL` and `LIENTHONG_TEST_DATABASE_URL` are set — on RabbitMQ and
//! PostgreSQL (each gateway with its own bus prefix and its own schema; the broker is
//! shared and never reconfigured).
//!
//! Covered: a dossier's life (versions, progress steps, result) ends in the right state at
//! the portal with exactly one insert; procedure names a dossier lacks come from the
//! portal's catalogue; invalid input is refused with findings and nothing is journaled or
//! enqueued; a client of one unit cannot submit for another; a viewer cannot replay (nor
//! resync) and the audit log shows no such action; resync reports and repairs a dossier the
//! portal lost or changed, audited; `partners` pings the portal.

use lienthong_bus::{Message, Reason};
use lienthong_dvcqg::map::{MappingConfig, dossier_to_dvcqg};
use lienthong_model::{Dossier, ProgressStep};
use lienthong_provincial::generate::Generator;
use lienthong_provincial::write::{dossier_json, progress_json};
use lienthong_sandbox::dvcqg::{DvcqgConfig, DvcqgSim, spawn_dvcqg};
use lienthong_service::auth::TokenHash;
use lienthong_service::config::Config;
use lienthong_service::gateway::Gateway;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

const CLIENT: &str = "lt_e2e_client_of_the_unit";
const OTHER_CLIENT: &str = "lt_e2e_client_of_another_unit";
const VIEWER: &str = "lt_e2e_viewer";
const OPERATOR: &str = "lt_e2e_operator";
const ADMIN: &str = "lt_e2e_admin";
const KEY_HEX: &str = "2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a";
const OTHER_UNIT: &str = "000.00.99.H41";
/// A route no component consumes yet: messages parked there stay parked.
const IDLE_ROUTE: &str = "status.inbound";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Where the journal and the bus live.
enum Parts {
    /// SQLite journal and embedded queue in the test's directory.
    Embedded,
    /// PostgreSQL journal (own schema) and RabbitMQ (own prefix).
    Remote { amqp: String, pg: String },
}

/// The gateway's bus delay tiers (also needed to delete its RabbitMQ topology).
const RETRY_DELAYS_SECS: [u64; 3] = [1, 2, 5];

struct Harness {
    gateway: Gateway,
    url: String,
    sim_url: String,
    _sim: DvcqgSim,
    http: reqwest::Client,
    dir: std::path::PathBuf,
    pg_schema: Option<(String, String)>,
    /// RabbitMQ URL and queue prefix of the remote variant: its topology is deleted at the end.
    amqp_topology: Option<(String, String)>,
    /// The unit the generated dossiers belong to (the client's unit).
    unit: String,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The remote backends, or `None` after printing why the test is skipped.
fn remote() -> Option<Parts> {
    match (
        env("LIENTHONG_TEST_AMQP_URL"),
        env("LIENTHONG_TEST_DATABASE_URL"),
    ) {
        (Some(amqp), Some(pg)) => Some(Parts::Remote { amqp, pg }),
        (None, _) => {
            eprintln!("skipped: LIENTHONG_TEST_AMQP_URL is not set");
            None
        }
        (_, None) => {
            eprintln!("skipped: LIENTHONG_TEST_DATABASE_URL is not set");
            None
        }
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

/// Seed of the generator whose stories are used: their unit is the client's unit.
const SEED: u64 = 7;

impl Harness {
    async fn start(parts: Parts) -> Harness {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let tag = format!("{}-{n}", std::process::id());
        let dir = std::env::temp_dir().join(format!("lienthong-e2e-gateway-{tag}"));
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
        let prefix = format!("lte2e{}", tag.replace('-', "x"));
        let (backends, pg_schema, amqp_topology) = match parts {
            Parts::Embedded => (String::new(), None, None),
            Parts::Remote { amqp, pg } => {
                let schema = format!("e2e_gw_{}", tag.replace('-', "_"));
                pg_exec(&pg, format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await;
                pg_exec(&pg, format!("CREATE SCHEMA {schema}")).await;
                let sep = if pg.contains('?') { '&' } else { '?' };
                let journal = format!("{pg}{sep}options=-csearch_path%3D{schema}");
                (
                    format!(
                        "[journal]\nurl = \"{journal}\"\n\n[bus]\namqp_url = \"{amqp}\"\n\
                         prefix = \"{prefix}\"\nretry_delays_secs = {RETRY_DELAYS_SECS:?}\n"
                    ),
                    Some((pg, schema)),
                    Some((amqp, prefix)),
                )
            }
        };
        let bus_section = if backends.is_empty() {
            format!("[bus]\nretry_delays_secs = {RETRY_DELAYS_SECS:?}\n")
        } else {
            backends
        };
        let toml = format!(
            r#"
[gateway]
listen = "127.0.0.1:0"
data_dir = "{data}"
node_name = "e2e-{tag}"

{bus_section}

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

[[units]]
code = "{OTHER_UNIT}"
name = "Đơn vị khác"

[[clients]]
name = "motcua"
token_sha256 = "{c}"
units = ["{unit}"]

[[clients]]
name = "motcua-khac"
token_sha256 = "{x}"
units = ["{OTHER_UNIT}"]

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
            x = TokenHash::of(OTHER_CLIENT),
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
        let config = Config::parse(&toml, "e2e", &secrets).expect("config");
        let gateway = Gateway::start(&config, &secrets).await.expect("gateway");
        Harness {
            url: format!("http://{}", gateway.addr()),
            gateway,
            sim_url: format!("http://{sim_addr}"),
            _sim: sim,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            dir,
            pg_schema,
            amqp_topology,
            unit,
        }
    }

    async fn stop(self) {
        self.gateway.stop().await;
        if let Some((url, prefix)) = self.amqp_topology {
            let mut c = lienthong_bus::BusConfig::new(
                lienthong_bus::Backend::Amqp {
                    url,
                    store_url: String::new(),
                },
                lienthong_bus::standard_routes(),
            );
            c.prefix = prefix;
            // The delay tiers of the configuration (`retry_delays_secs`).
            c.retry_delays = RETRY_DELAYS_SECS.map(Duration::from_secs).to_vec();
            lienthong_bus::amqp::delete_topology(&c)
                .await
                .expect("delete the test's topology");
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some((pg, schema)) = self.pg_schema {
            pg_exec(&pg, format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await;
        }
    }

    async fn send(&self, r: reqwest::RequestBuilder, token: Option<&str>) -> (u16, Value) {
        let r = match token {
            Some(t) => r.bearer_auth(t),
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

    async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.send(self.http.get(format!("{}{path}", self.url)), Some(token))
            .await
    }

    async fn post(&self, path: &str, token: &str, body: String) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body(body);
        self.send(r, Some(token)).await
    }

    async fn submit(&self, d: &Dossier) {
        let (s, v) = self.post("/v1/dossiers", CLIENT, dossier_json(d)).await;
        assert_eq!(s, 202, "version {} of {}: {v}", d.version, d.code);
    }

    async fn progress(&self, p: &ProgressStep) {
        let path = format!("/v1/dossiers/{}/progress", p.dossier_code);
        let (s, v) = self.post(&path, CLIENT, progress_json(p)).await;
        assert_eq!(s, 202, "step {}: {v}", p.step_seq);
    }

    /// The simulator's admin API.
    async fn sim_get(&self, path: &str) -> (u16, Value) {
        self.send(self.http.get(format!("{}{path}", self.sim_url)), None)
            .await
    }

    async fn sim_post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.sim_url))
            .header("content-type", "application/json")
            .body(body.to_string());
        self.send(r, None).await
    }

    /// The portal's record of a dossier, if it has one.
    async fn at_portal(&self, code: &str) -> Option<Value> {
        let (s, v) = self.sim_get(&format!("/admin/dossiers/{code}")).await;
        (s == 200).then_some(v)
    }

    /// Waits until the journal believes the portal has everything of `code` and no work
    /// waits on the bus.
    async fn in_step(&self, code: &str, what: &str) {
        eventually(what, || async {
            let s = self
                .gateway
                .journal()
                .dossier_state(code)
                .await
                .expect("state");
            let synced =
                s.is_some_and(|s| s.acked_version == Some(s.version) && s.steps_pending == 0);
            synced && self.sync_idle().await
        })
        .await;
    }

    /// Whether no work item of `dossier.sync` waits, retries or is being handled.
    async fn sync_idle(&self) -> bool {
        let queues = self.gateway.bus().queues().await.expect("queues");
        queues
            .iter()
            .filter(|q| q.route == "dossier.sync")
            .all(|q| q.ready == 0 && q.unacked == 0 && q.waiting_retry == 0)
    }

    async fn sync_depth(&self) -> u64 {
        self.gateway
            .bus()
            .depth("dossier.sync")
            .await
            .expect("depth")
    }

    async fn audit(&self, action: &str) -> Vec<Value> {
        let (s, v) = self
            .get(&format!("/v1/admin/audit?action={action}"), ADMIN)
            .await;
        assert_eq!(s, 200, "{v}");
        v["audit"].as_array().cloned().unwrap_or_default()
    }

    /// Parks `ids` on [`IDLE_ROUTE`] through the gateway's bus, as a route would.
    async fn park(&self, ids: &[&str]) {
        let bus = self.gateway.bus();
        for id in ids {
            bus.publish(Message::new(
                *id,
                IDLE_ROUTE,
                format!("key-{id}"),
                b"{}".to_vec(),
            ))
            .await
            .expect("publish");
        }
        let mut consumer = bus.consume(IDLE_ROUTE, 8).await.expect("consume");
        for _ in ids {
            let d = tokio::time::timeout(Duration::from_secs(30), consumer.next())
                .await
                .expect("delivery in time")
                .expect("delivery");
            d.park(Reason::new("refused by the partner").partner_code("E42"))
                .await
                .expect("park");
        }
    }
}

async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if check().await {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A generated story of the client's unit with at least two versions, a step and a result
/// (result documents in its last version); `skip` such stories are passed over.
fn story(skip: usize) -> (Vec<Dossier>, Vec<ProgressStep>) {
    let mut g = Generator::new(SEED);
    let unit = g
        .clone()
        .story()
        .versions
        .first()
        .and_then(|d| d.unit.code.clone());
    let mut found = 0;
    for _ in 0..10_000 {
        let s = g.story();
        let first = s.versions.first().expect("a version");
        let with_result = s
            .versions
            .last()
            .is_some_and(|l| !l.result_documents.is_empty());
        if first.unit.code == unit && s.versions.len() >= 2 && !s.steps.is_empty() && with_result {
            if found == skip {
                return (s.versions, s.steps);
            }
            found += 1;
        }
    }
    panic!("no story of the unit with versions, steps and a result")
}

fn wire_status(d: &Dossier) -> String {
    dossier_to_dvcqg(d, &MappingConfig::default())
        .0
        .TrangThaiHoSo
}

fn count(v: &Value, member: &str) -> usize {
    v[member].as_array().map_or(0, Vec::len)
}

/// Submits a whole story and waits until the portal has it.
async fn submit_story(h: &Harness, versions: &[Dossier], steps: &[ProgressStep]) {
    // The first version, then steps and later versions interleaved.
    h.submit(&versions[0]).await;
    let per_version = steps.len().div_ceil(versions.len());
    let mut pending = steps.iter();
    for v in &versions[1..] {
        for s in pending.by_ref().take(per_version) {
            h.progress(s).await;
        }
        h.submit(v).await;
    }
    for s in pending {
        h.progress(s).await;
    }
    h.in_step(
        &versions[0].code,
        "the whole story acknowledged by the portal",
    )
    .await;
}

// ---------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------

async fn a_dossiers_life(h: &Harness) {
    let (versions, steps) = story(0);
    let code = versions[0].code.clone();
    let last = versions.last().expect("a version");
    submit_story(h, &versions, &steps).await;

    let rec = h
        .at_portal(&code)
        .await
        .expect("the portal has the dossier");
    assert_eq!(rec["inserts"], 1, "exactly one insert: {rec}");
    assert_eq!(rec["duplicate_inserts"], 0, "{rec}");
    let sent = rec["versions"].as_array().expect("versions");
    assert_eq!(
        rec["updates"].as_u64(),
        Some(sent.len() as u64 - 1),
        "every later version as an update: {rec}"
    );
    let latest = &sent.last().expect("a version")["item"];
    assert_eq!(
        latest["TrangThaiHoSo"],
        wire_status(last).as_str(),
        "{latest}"
    );
    assert_eq!(
        count(latest, "DanhSachGiayToKetQua"),
        last.result_documents.len(),
        "the result documents: {latest}"
    );
    let actions: Vec<&str> = rec["progress"]
        .as_array()
        .expect("progress")
        .iter()
        .map(|p| p["item"]["NoiDungXuLy"].as_str().unwrap_or(""))
        .collect();
    let expected: Vec<&str> = steps.iter().map(|s| s.action.as_str()).collect();
    assert_eq!(actions, expected, "every step once, in order");
    assert_eq!(rec["duplicate_steps"], 0, "{rec}");

    // The portal's call log agrees: one accepted insert among the sync calls.
    let (_, calls) = h.sim_get("/admin/calls").await;
    let inserts = calls["recent"]
        .as_array()
        .expect("recent calls")
        .iter()
        .filter(|c| {
            c["service"] == "DongBoHoSoMC"
                && c["outcome"] == "ok"
                && c["body"]
                    .as_str()
                    .is_some_and(|b| b.contains(&code) && b.contains("\"isUpdating\":\"False\""))
        })
        .count();
    assert_eq!(inserts, 1, "one insert call for {code}: {calls}");
}

async fn names_from_the_catalogue(h: &Harness) {
    // The catalogue is fetched in the background and shown read-only.
    eventually("catalogue fetched", || async {
        let (s, v) = h.get("/v1/admin/catalogue", VIEWER).await;
        s == 200 && v["fetched_at"].is_string() && count(&v, "procedures") > 0
    })
    .await;
    let (_, cat) = h.get("/v1/admin/catalogue", VIEWER).await;
    assert_eq!(cat["stale"], false, "{cat}");
    // A dossier without its procedure's name and field gets the portal's.
    let (versions, _) = story(1);
    let mut d = versions[0].clone();
    let listed = cat["procedures"]
        .as_array()
        .expect("procedures")
        .iter()
        .find(|p| p["code"] == d.procedure.code.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("procedure {} in the catalogue: {cat}", d.procedure.code));
    d.procedure.name = None;
    d.procedure.field_code = None;
    d.procedure.field_name = None;
    h.submit(&d).await;
    h.in_step(&d.code, "the nameless dossier on the portal")
        .await;
    let rec = h.at_portal(&d.code).await.expect("on the portal");
    let item = &rec["versions"][0]["item"];
    assert_eq!(item["TenTTHC"], listed["name"], "{item}");
    assert!(
        item["MaLinhVuc"].as_str().is_some_and(|s| !s.is_empty()),
        "{item}"
    );
    let (_, cat) = h.get("/v1/admin/catalogue", VIEWER).await;
    let detailed = cat["procedures"]
        .as_array()
        .expect("procedures")
        .iter()
        .find(|p| p["code"] == d.procedure.code.as_str())
        .expect("still listed");
    assert_eq!(
        detailed["fields"][0]["code"], item["MaLinhVuc"],
        "{detailed}"
    );
    // Viewers may look; nobody without a token.
    let (s, _) = h
        .send(h.http.get(format!("{}/v1/admin/catalogue", h.url)), None)
        .await;
    assert_eq!(s, 401);
}

async fn invalid_input_is_refused_and_nothing_is_enqueued(h: &Harness) {
    let (versions, _) = story(2);
    let d = &versions[0];
    let mut body: Value = serde_json::from_str(&dossier_json(d)).expect("json");
    body["received_at"] = json!("hôm qua");
    let (s, v) = h.post("/v1/dossiers", CLIENT, body.to_string()).await;
    assert_eq!(s, 400, "{v}");
    assert!(
        v["findings"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["path"] == "/received_at")),
        "the finding names the field: {v}"
    );
    let (s, v) = h.post("/v1/dossiers", CLIENT, "{\"code\":".into()).await;
    assert_eq!(s, 400, "{v}");
    assert!(
        h.gateway
            .journal()
            .dossier_state(&d.code)
            .await
            .expect("state")
            .is_none(),
        "nothing journaled"
    );
    assert_eq!(
        h.gateway.journal().pending_work(100).await.expect("outbox"),
        vec![],
        "no work item in the outbox"
    );
    assert_eq!(h.sync_depth().await, 0, "nothing enqueued");
    let (_, q) = h.get("/v1/admin/queues", VIEWER).await;
    let sync = q["queues"]
        .as_array()
        .and_then(|a| a.iter().find(|q| q["route"] == "dossier.sync"))
        .expect("dossier.sync listed");
    assert_eq!(sync["ready"], 0, "{q}");
    assert!(h.at_portal(&d.code).await.is_none());
}

async fn a_client_cannot_submit_for_another_unit(h: &Harness) {
    let (versions, steps) = story(3);
    let d = &versions[0];
    assert_eq!(d.unit.code.as_deref(), Some(h.unit.as_str()));
    let (s, v) = h.post("/v1/dossiers", OTHER_CLIENT, dossier_json(d)).await;
    assert_eq!(s, 403, "{v}");
    let path = format!("/v1/dossiers/{}/progress", d.code);
    let (s, v) = h.post(&path, OTHER_CLIENT, progress_json(&steps[0])).await;
    assert!(
        s == 403 || s == 409,
        "a step for a dossier of another unit: {v}"
    );
    // An operator token is no client token either.
    let (s, v) = h.post("/v1/dossiers", ADMIN, dossier_json(d)).await;
    assert_eq!(s, 403, "{v}");
    assert!(
        h.gateway
            .journal()
            .dossier_state(&d.code)
            .await
            .expect("state")
            .is_none(),
        "nothing journaled"
    );
    assert_eq!(h.sync_depth().await, 0, "nothing enqueued");
}

async fn a_viewer_cannot_replay(h: &Harness) {
    h.park(&["e2e-parked-1"]).await;
    let body = json!({ "route": IDLE_ROUTE, "id": "e2e-parked-1", "reason": "try again" });
    let (s, v) = h
        .post("/v1/admin/parked/replay", VIEWER, body.to_string())
        .await;
    assert_eq!(s, 403, "{v}");
    let (s, v) = h
        .post(
            "/v1/admin/parked/replay",
            VIEWER,
            json!({"all": true, "reason": "x"}).to_string(),
        )
        .await;
    assert_eq!(s, 403, "{v}");
    let (s, v) = h
        .post(
            "/v1/admin/dossiers/ANY/resync",
            VIEWER,
            json!({"reason": "x"}).to_string(),
        )
        .await;
    assert_eq!(s, 403, "{v}");
    assert!(
        h.audit("parked.replay").await.is_empty(),
        "no replay audited"
    );
    assert!(h.audit("dossier.resync").await.is_empty());
    let (s, p) = h
        .get(&format!("/v1/admin/parked?route={IDLE_ROUTE}"), VIEWER)
        .await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(count(&p, "parked"), 1, "still parked: {p}");
    // An operator may, and it is audited.
    let (s, v) = h
        .post("/v1/admin/parked/replay", OPERATOR, body.to_string())
        .await;
    assert_eq!((s, &v["replayed"]), (200, &json!(1)), "{v}");
    let replays = h.audit("parked.replay").await;
    assert_eq!(replays.len(), 1);
    assert_eq!(replays[0]["actor"], "op");
}

/// Applies `change` to the simulator's stored record of `code` (snapshot, edit, restore:
/// sessions are kept).
async fn change_at_portal(h: &Harness, code: &str, change: impl FnOnce(&mut Vec<Value>)) {
    let (s, mut snap) = h.sim_get("/admin/snapshot").await;
    assert_eq!(s, 200, "{snap}");
    let dossiers = snap["dossiers"].as_array_mut().expect("dossiers");
    assert!(
        dossiers.iter().any(|d| d["MaHoSo"] == code),
        "{code} stored"
    );
    change(dossiers);
    let (s, v) = h.sim_post("/admin/restore", snap).await;
    assert_eq!(s, 200, "{v}");
}

async fn resync_repairs_what_the_portal_lost_or_changed(h: &Harness) {
    let (versions, steps) = story(4);
    let code = versions[0].code.clone();
    let last = versions.last().expect("a version").clone();
    submit_story(h, &versions, &steps).await;
    let resync = |body: Value| {
        let path = format!("/v1/admin/dossiers/{code}/resync");
        async move { h.post(&path, OPERATOR, body.to_string()).await }
    };

    // In step: nothing to repair, nothing audited.
    let (s, v) = resync(json!({ "dry_run": true })).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["in_step"], true, "{v}");
    assert_eq!(count(&v, "differences"), 0, "{v}");

    // The portal changes the status behind the gateway's back.
    let wrong = if wire_status(&last) == "1" { "2" } else { "1" };
    change_at_portal(h, &code, |ds| {
        for d in ds.iter_mut().filter(|d| d["MaHoSo"] == code.as_str()) {
            if let Some(v) = d["versions"].as_array_mut().and_then(|v| v.last_mut()) {
                v["item"]["TrangThaiHoSo"] = json!(wrong);
            }
        }
    })
    .await;
    let (s, v) = resync(json!({ "dry_run": true })).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["in_step"], false, "{v}");
    assert_eq!(v["portal"]["status"], wrong, "{v}");
    assert_eq!(v["journal"]["status"], wire_status(&last).as_str(), "{v}");
    let diff = v["differences"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["field"] == "TrangThaiHoSo"))
        .unwrap_or_else(|| panic!("TrangThaiHoSo differs: {v}"));
    assert_eq!(diff["found"], wrong);
    assert_eq!(v["repair"]["next_send"], "update", "{v}");
    assert_eq!(v["repaired"], false);
    assert!(
        h.audit("dossier.resync").await.is_empty(),
        "a dry run is no action"
    );
    // A repair needs a reason.
    let (s, v) = resync(json!({})).await;
    assert_eq!(s, 400, "{v}");
    let (s, v) = resync(json!({ "reason": "trạng thái sai trên cổng" })).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["repaired"], true, "{v}");
    let before_steps = steps.len();
    eventually("the portal's status repaired", || async {
        h.at_portal(&code).await.is_some_and(|r| {
            r["versions"]
                .as_array()
                .and_then(|v| v.last())
                .is_some_and(|v| v["item"]["TrangThaiHoSo"] == wire_status(&last).as_str())
        })
    })
    .await;
    h.in_step(&code, "in step after the update").await;
    let rec = h.at_portal(&code).await.expect("on the portal");
    assert_eq!(rec["inserts"], 1, "repaired by an update: {rec}");
    assert_eq!(
        count(&rec, "progress"),
        before_steps,
        "steps not sent again"
    );
    let audited = h.audit("dossier.resync").await;
    assert_eq!(audited.len(), 1, "{audited:?}");
    assert_eq!(audited[0]["actor"], "op");
    assert_eq!(audited[0]["reason"], "trạng thái sai trên cổng");
    assert_eq!(audited[0]["target"], code.as_str());

    // The portal loses the dossier altogether.
    change_at_portal(h, &code, |ds| ds.retain(|d| d["MaHoSo"] != code.as_str())).await;
    assert!(h.at_portal(&code).await.is_none());
    let (s, v) = resync(json!({ "dry_run": true })).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["portal"]["found"], false, "{v}");
    assert_eq!(v["journal"]["portal_known"], true, "{v}");
    assert_eq!(v["repair"]["next_send"], "insert", "{v}");
    let (s, v) = resync(json!({ "reason": "cổng mất hồ sơ" })).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["repaired"], true, "{v}");
    eventually("the dossier inserted again with every step", || async {
        h.at_portal(&code)
            .await
            .is_some_and(|r| count(&r, "progress") == before_steps)
    })
    .await;
    h.in_step(&code, "in step after the insert").await;
    let rec = h.at_portal(&code).await.expect("on the portal");
    assert_eq!(rec["inserts"], 1, "{rec}");
    let latest = &rec["versions"]
        .as_array()
        .expect("versions")
        .last()
        .expect("v")["item"];
    assert_eq!(latest["TrangThaiHoSo"], wire_status(&last).as_str());
    assert_eq!(h.audit("dossier.resync").await.len(), 2);

    // Unknown dossiers are 404; the result is in step again.
    let (s, v) = h
        .post(
            "/v1/admin/dossiers/NO-SUCH-DOSSIER/resync",
            OPERATOR,
            json!({"dry_run": true}).to_string(),
        )
        .await;
    assert_eq!(s, 404, "{v}");
    let (_, v) = resync(json!({ "dry_run": true })).await;
    assert_eq!(v["in_step"], true, "{v}");
}

async fn partners_are_pinged(h: &Harness) {
    let (s, v) = h.get("/v1/admin/partners", VIEWER).await;
    assert_eq!(s, 200, "{v}");
    let dvcqg = v["partners"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["partner"] == "dvcqg"))
        .unwrap_or_else(|| panic!("dvcqg listed: {v}"));
    assert_eq!(dvcqg["reachable"], true, "{dvcqg}");
    assert!(dvcqg["latency_ms"].is_u64(), "{dvcqg}");
    assert_eq!(dvcqg["error_class"], Value::Null, "{dvcqg}");
    assert_eq!(dvcqg["breaker"]["state"], "closed", "{dvcqg}");
    // The portal down: reported, with the class of the error.
    let (s, _) = h
        .sim_post("/admin/faults", json!({ "down_for_ms": 60_000 }))
        .await;
    assert_eq!(s, 200);
    let (_, v) = h.get("/v1/admin/partners", VIEWER).await;
    let dvcqg = &v["partners"][0];
    assert_eq!(dvcqg["reachable"], false, "{dvcqg}");
    assert_eq!(dvcqg["error_class"], "partner", "{dvcqg}");
    let (s, _) = h
        .send(h.http.delete(format!("{}/admin/faults", h.sim_url)), None)
        .await;
    assert_eq!(s, 200);
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dossiers_life_reaches_the_portal_with_one_insert() {
    let h = Harness::start(Parts::Embedded).await;
    a_dossiers_life(&h).await;
    names_from_the_catalogue(&h).await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_leave_no_trace() {
    let h = Harness::start(Parts::Embedded).await;
    invalid_input_is_refused_and_nothing_is_enqueued(&h).await;
    a_client_cannot_submit_for_another_unit(&h).await;
    a_viewer_cannot_replay(&h).await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resync_repairs_and_partners_answer() {
    let h = Harness::start(Parts::Embedded).await;
    resync_repairs_what_the_portal_lost_or_changed(&h).await;
    partners_are_pinged(&h).await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_on_rabbitmq_and_postgres() {
    let Some(parts) = remote() else {
        return;
    };
    let h = Harness::start(parts).await;
    a_dossiers_life(&h).await;
    names_from_the_catalogue(&h).await;
    invalid_input_is_refused_and_nothing_is_enqueued(&h).await;
    a_client_cannot_submit_for_another_unit(&h).await;
    a_viewer_cannot_replay(&h).await;
    resync_repairs_what_the_portal_lost_or_changed(&h).await;
    partners_are_pinged(&h).await;
    h.stop().await;
}
