//! The `dossier.sync` route on real parts: a SQLite journal file, the embedded bus in a
//! temporary directory, the outbox relay, and the DVCQG simulator over loopback — and the
//! same life on RabbitMQ + PostgreSQL when `LIENTHONG_TEST_AMQP_URL` and
//! `LIENTHONG_TEST_DATABASE_URL` are set.

use jiff::Timestamp;
use lienthong_bus::{Backend, Bus, BusConfig, Message, ParkedFilter, standard_routes};
use lienthong_dvcqg::client::{ClientConfig, DvcqgClient};
use lienthong_journal::outbox::RelayOptions;
use lienthong_journal::state::{IncomingStep, IncomingVersion, Recorded, StepRecorded};
use lienthong_journal::{Journal, JournalOptions, Key, PersonalData};
use lienthong_model::{Dossier, ProgressStep};
use lienthong_provincial::generate::Generator;
use lienthong_provincial::write::{dossier_json, progress_json};
use lienthong_sandbox::dvcqg::{DvcqgConfig, DvcqgSim, spawn_dvcqg};
use lienthong_sandbox::fault::FaultSettings;
use lienthong_service::relay::{RelayConfig, run_relay};
use lienthong_service::sync::{SyncRoute, SyncSettings};
use lienthong_workflow::{BreakerConfig, RetryPolicy};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

static COUNTER: AtomicU32 = AtomicU32::new(0);

const PROGRESS: &str = "CapNhatTienDoHoSoMC";
const SYNC: &str = "DongBoHoSoMC";

fn personal_data() -> PersonalData {
    PersonalData {
        fields: vec![
            "identity_documents".into(),
            "phone".into(),
            "address".into(),
            "email".into(),
        ],
        key: Some(Key::from_bytes([42; 32])),
        encrypt_opaque: true,
    }
}

/// Where the journal and the bus live.
enum Parts {
    /// SQLite journal + embedded bus in the test's directory.
    Local,
    /// PostgreSQL journal (in its own schema) + RabbitMQ (own prefix).
    Remote { amqp: String, pg: String },
}

struct Harness {
    dir: PathBuf,
    journal: Journal,
    bus: Bus,
    /// Its topology is deleted at the end (RabbitMQ).
    bus_config: BusConfig,
    sim: DvcqgSim,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    pg_schema: Option<(String, String)>,
}

fn client_config(addr: std::net::SocketAddr) -> ClientConfig {
    let sim = DvcqgConfig::default();
    let account = &sim.accounts[0];
    ClientConfig {
        adapter_url: format!("http://{addr}"),
        auth_endpoint: sim.auth_path.clone(),
        integration_endpoint: sim.integration_path.clone(),
        share_endpoint: sim.share_path.clone(),
        username: account.username.clone(),
        password: account.password.clone(),
        dstcode: account.dstcode.clone(),
        madonvi: account.madonvi[0].clone(),
        timeout_ms: 2_000,
        ..ClientConfig::default()
    }
}

async fn pg_admin(base: &str) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(base)
        .await
        .expect("connect to the test PostgreSQL")
}

async fn pg_exec(base: &str, sql: String) {
    let pool = pg_admin(base).await;
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&pool)
        .await
        .expect("schema statement");
    pool.close().await;
}

impl Harness {
    async fn start(parts: Parts) -> Harness {
        Harness::start_with_lease(parts, SyncSettings::default().lease).await
    }

    /// With the route's claims lasting `lease`.
    async fn start_with_lease(parts: Parts, lease: jiff::SignedDuration) -> Harness {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let tag = format!("{}-{n}", std::process::id());
        let dir = std::env::temp_dir().join(format!("lienthong-sync-{tag}"));
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
                let schema = format!("sync_{}", tag.replace('-', "_"));
                pg_exec(&pg, format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await;
                pg_exec(&pg, format!("CREATE SCHEMA {schema}")).await;
                let sep = if pg.contains('?') { '&' } else { '?' };
                (
                    format!("{pg}{sep}options=-csearch_path%3D{schema}"),
                    Backend::Amqp {
                        url: amqp,
                        store_url: format!("sqlite://{}/store.db?mode=rwc", dir.display()),
                    },
                    format!("ltsync{}", tag.replace('-', "x")),
                    Some((pg, schema)),
                )
            }
        };
        let mut jo = JournalOptions::new(journal_url);
        jo.personal_data = personal_data();
        let journal = Journal::open(&jo).await.expect("journal");
        let mut bc = BusConfig::new(backend, standard_routes());
        bc.prefix = prefix;
        bc.retry_delays = vec![
            Duration::from_millis(50),
            Duration::from_millis(200),
            Duration::from_millis(500),
        ];
        let bus = Bus::open(bc.clone()).await.expect("bus");
        let (addr, sim, _task) = spawn_dvcqg(DvcqgConfig::default())
            .await
            .expect("simulator");
        let client = DvcqgClient::new(client_config(addr)).expect("client");
        let settings = SyncSettings {
            breaker: BreakerConfig {
                failure_threshold: 3,
                window: Duration::from_secs(60),
                cool_down: Duration::from_millis(300),
                probe_timeout: Duration::from_secs(5),
            },
            policy: RetryPolicy {
                base: Duration::from_millis(50),
                max_delay: Duration::from_millis(500),
                max_retry_after: Duration::from_millis(500),
            },
            owner: format!("sync-{tag}"),
            lease,
            lanes: 4,
            ..SyncSettings::default()
        };
        let route = Arc::new(SyncRoute::new(journal.clone(), client, settings).expect("route"));
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
                let bus = bus.clone();
                async move { route.run(&bus, rx).await.expect("sync route") }
            }),
        ];
        Harness {
            dir,
            journal,
            bus,
            bus_config: bc,
            sim,
            stop,
            tasks,
            pg_schema,
        }
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            t.await.expect("task");
        }
        self.bus.close().await;
        if matches!(self.bus_config.backend, lienthong_bus::Backend::Amqp { .. }) {
            lienthong_bus::amqp::delete_topology(&self.bus_config)
                .await
                .expect("delete the test's topology");
        }
        self.journal.close().await;
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some((pg, schema)) = self.pg_schema {
            pg_exec(&pg, format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await;
        }
    }

    async fn version(&self, d: &Dossier) -> Recorded {
        let body = dossier_json(d);
        self.journal
            .record_version(&IncomingVersion {
                dossier: d,
                body: body.as_bytes(),
                body_kind: "provincial.dossier",
                source: "mc-test",
                at: Timestamp::now(),
            })
            .await
            .expect("record version")
    }

    async fn step(&self, s: &ProgressStep) -> StepRecorded {
        let body = progress_json(s);
        self.journal
            .record_step(&IncomingStep {
                step: s,
                body: body.as_bytes(),
                body_kind: "provincial.progress",
                source: "mc-test",
                at: Timestamp::now(),
            })
            .await
            .expect("record step")
    }

    /// Waits until the journal says the portal has everything and the bus is empty.
    async fn settled(&self, code: &str, what: &str) {
        eventually(what, || async {
            let s = self.journal.dossier_state(code).await.expect("state");
            let in_step =
                s.is_some_and(|s| s.acked_version == Some(s.version) && s.steps_pending == 0);
            in_step && self.bus.depth("dossier.sync").await.expect("depth") == 0
        })
        .await;
    }

    async fn parked(&self, code: &str) -> Vec<lienthong_bus::ParkedMessage> {
        self.bus
            .parked(&ParkedFilter {
                key: Some(code.to_owned()),
                ..ParkedFilter::default()
            })
            .await
            .expect("parked")
    }

    fn calls(&self, service: &str) -> u64 {
        self.sim
            .calls()
            .by_service
            .get(service)
            .map_or(0, |m| m.values().sum())
    }
}

async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if check().await {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A dossier of the generator with two versions (summaries tell them apart) and twelve
/// steps (`bước 1` … `bước 12`).
fn life(seed: u64) -> (Dossier, Dossier, Vec<ProgressStep>) {
    let story = Generator::new(seed).story();
    let last = story.versions.last().expect("a version").clone();
    let v = |n: u64| Dossier {
        version: n,
        summary: Some(format!("Hồ sơ thử — phiên bản {n}")),
        ..last.clone()
    };
    let template = story.steps.first().expect("a step").clone();
    let steps = (1..=12)
        .map(|i| ProgressStep {
            dossier_code: last.code.clone(),
            step_seq: i,
            action: format!("bước {i}"),
            ..template.clone()
        })
        .collect();
    (v(1), v(2), steps)
}

/// Progress calls the simulator logged carry at most ten steps (bodies it kept whole).
fn assert_chunks(sim: &DvcqgSim) {
    for c in sim.calls().recent.iter().filter(|c| c.service == PROGRESS) {
        let Some(v) = c
            .body
            .as_deref()
            .and_then(|b| serde_json::from_str::<serde_json::Value>(b).ok())
        else {
            continue;
        };
        if let Some(data) = v.get("data").and_then(|d| d.as_array()) {
            assert!(
                data.len() <= 10,
                "a progress call with {} steps",
                data.len()
            );
        }
    }
}

async fn dossier_life(h: &Harness, seed: u64) {
    let (v1, v2, steps) = life(seed);
    let code = v1.code.clone();
    assert!(matches!(h.version(&v1).await, Recorded::Current { .. }));
    for s in &steps[..3] {
        h.step(s).await;
    }
    h.settled(&code, "version 1 and steps 1-3 on the portal")
        .await;
    assert!(matches!(h.version(&v2).await, Recorded::Current { .. }));
    for s in &steps[3..] {
        h.step(s).await;
    }
    h.settled(&code, "version 2 and steps 4-12 on the portal")
        .await;
    let rec = h.sim.dossier(&code).expect("on the portal");
    assert_eq!(rec.inserts, 1, "exactly one insert");
    assert_eq!(
        (rec.updates, rec.duplicate_inserts),
        (1, 0),
        "version 2 as an update"
    );
    assert_eq!(rec.versions.len(), 2);
    assert_eq!(
        rec.latest().expect("a version").TrichYeuHoSo,
        "Hồ sơ thử — phiên bản 2"
    );
    let actions: Vec<&str> = rec
        .progress
        .iter()
        .map(|p| p.item.NoiDungXuLy.as_str())
        .collect();
    let expected: Vec<String> = (1..=12).map(|i| format!("bước {i}")).collect();
    assert_eq!(actions, expected, "every step once, in order");
    assert_chunks(&h.sim);
    assert!(h.parked(&code).await.is_empty());
    // The message log holds the calls, without bodies.
    let log = h
        .journal
        .search(&lienthong_journal::messages::SearchQuery {
            dossier_code: Some(code.clone()),
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("search");
    assert!(
        log.items
            .iter()
            .all(|m| m.record.partner == "dvcqg" && m.body.is_none()),
        "{log:?}"
    );
    assert!(
        log.items
            .iter()
            .any(|m| m.record.kind == "dvcqg.DongBoHoSoMC")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dossiers_life_reaches_the_portal_once_in_order() {
    let h = Harness::start(Parts::Local).await;
    dossier_life(&h, 11).await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dossiers_life_on_rabbitmq_and_postgres() {
    let (Some(amqp), Some(pg)) = (
        env("LIENTHONG_TEST_AMQP_URL"),
        env("LIENTHONG_TEST_DATABASE_URL"),
    ) else {
        return;
    };
    let h = Harness::start(Parts::Remote { amqp, pg }).await;
    dossier_life(&h, 12).await;
    h.stop().await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn versions_out_of_order_never_move_the_portal_back() {
    let h = Harness::start(Parts::Local).await;
    let (v1, v2, _) = life(21);
    let code = v2.code.clone();
    assert!(matches!(h.version(&v2).await, Recorded::Current { .. }));
    assert_eq!(h.version(&v1).await, Recorded::Stale { current: 2 });
    h.settled(&code, "version 2 on the portal").await;
    // A late work item for the dossier (as if version 1's had been relayed) sends nothing.
    h.bus
        .publish(Message::new("late-1", "dossier.sync", code.clone(), "{}"))
        .await
        .expect("publish");
    h.settled(&code, "late item handled").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rec = h.sim.dossier(&code).expect("on the portal");
    assert_eq!(rec.versions.len(), 1, "only version 2 was ever sent");
    assert_eq!(
        rec.latest().expect("v").TrichYeuHoSo,
        "Hồ sơ thử — phiên bản 2"
    );
    assert_eq!(h.calls(SYNC), 1);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn portal_down_is_retried_until_it_is_back() {
    let h = Harness::start(Parts::Local).await;
    h.sim
        .set_faults(FaultSettings {
            down_for_ms: Some(1_500),
            ..FaultSettings::default()
        })
        .expect("faults");
    let (v1, _, steps) = life(31);
    let code = v1.code.clone();
    h.version(&v1).await;
    for s in &steps[..3] {
        h.step(s).await;
    }
    h.settled(&code, "dossier on the portal after the outage")
        .await;
    let calls = h.sim.calls();
    let down: u64 = calls
        .by_service
        .values()
        .filter_map(|m| m.get("down"))
        .sum();
    assert!(down > 0, "the outage was hit: {:?}", calls.by_service);
    let rec = h.sim.dossier(&code).expect("on the portal");
    assert_eq!((rec.inserts, rec.progress.len()), (1, 3));
    assert!(h.parked(&code).await.is_empty(), "nothing parked");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dossier_the_portal_mapping_refuses_is_parked_unsent() {
    let h = Harness::start(Parts::Local).await;
    let (mut v1, _, steps) = life(41);
    v1.received_at = None;
    let code = v1.code.clone();
    h.version(&v1).await;
    h.step(&steps[0]).await;
    eventually("work item parked", || async {
        !h.parked(&code).await.is_empty()
    })
    .await;
    let parked = h.parked(&code).await;
    assert!(
        parked[0].reason.contains("/received_at"),
        "{}",
        parked[0].reason
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(h.sim.dossier(&code).is_none(), "nothing sent");
    assert_eq!(h.calls(SYNC) + h.calls(PROGRESS), 0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn duplicate_work_items_send_nothing_new() {
    let h = Harness::start(Parts::Local).await;
    let (v1, _, steps) = life(51);
    let code = v1.code.clone();
    let Recorded::Current { work_item } = h.version(&v1).await else {
        panic!("current")
    };
    for s in &steps[..4] {
        h.step(s).await;
    }
    h.settled(&code, "dossier on the portal").await;
    let before = h.sim.calls().total;
    // The same work item again (a relay that died before marking it), and others.
    let mut again = vec![Message::new(
        format!("wi-{work_item}"),
        "dossier.sync",
        code.clone(),
        "{}",
    )];
    for i in 0..5 {
        again.push(Message::new(
            format!("dup-{i}"),
            "dossier.sync",
            code.clone(),
            "{}",
        ));
    }
    h.bus.publish_batch(again).await.expect("publish");
    h.settled(&code, "duplicates handled").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(h.sim.calls().total, before, "no call for duplicates");
    let rec = h.sim.dossier(&code).expect("on the portal");
    assert_eq!((rec.inserts, rec.updates, rec.progress.len()), (1, 0, 4));
    h.stop().await;
}

/// A node that died while it held a dossier's claim: another node's work item for the
/// dossier finds it busy. Found by the chaos suite: the item was acknowledged ("the holder
/// looks again after releasing"), but a dead holder never does, and the dossier waited for
/// the sweeper (ten minutes behind). Now the item is postponed by one lease, without
/// counting an attempt, and goes through once the dead node's claim lapsed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dossier_claimed_by_a_dead_node_is_synced_once_the_claim_lapses() {
    let lease = jiff::SignedDuration::from_secs(1);
    let h = Harness::start_with_lease(Parts::Local, lease).await;
    let (v1, _, steps) = life(14);
    let code = v1.code.clone();
    h.version(&v1).await;
    h.settled(&code, "version 1 at the portal").await;
    // The dead node's claim: three seconds long, never released.
    assert!(matches!(
        h.journal
            .begin_sync(
                &code,
                "dead-node",
                jiff::SignedDuration::from_secs(3),
                Timestamp::now()
            )
            .await
            .expect("claim"),
        lienthong_journal::state::SyncClaim::Plan(_)
    ));
    h.step(&steps[0]).await;
    h.settled(
        &code,
        "the step at the portal once the dead node's claim lapsed",
    )
    .await;
    let rec = h.sim.dossier(&code).expect("at the portal");
    assert_eq!((rec.inserts, rec.progress.len()), (1, 1));
    assert!(h.parked(&code).await.is_empty());
    h.stop().await;
}

/// The portal answers an insert with `đã tồn tại` and the update resent after it fails
/// (503). Found by the chaos suite: the retry sent an insert again, refused again, so every
/// failed update after the duplicate signal cost another refused insert. The gateway now
/// records that the portal has the dossier: the retry is an update.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_the_duplicate_signal_a_retry_is_an_update() {
    use lienthong_sandbox::fault::NextFailure;
    let h = Harness::start(Parts::Local).await;
    let (v1, _, _) = life(15);
    let code = v1.code.clone();
    let duplicate = h.sim.config().codes.duplicate.clone();
    h.sim
        .push_next_failure(NextFailure {
            service: SYNC.into(),
            error_code: Some(duplicate),
            message: Some(format!("Hồ sơ {code} đã tồn tại")),
            ..NextFailure::default()
        })
        .expect("duplicate signal");
    h.sim
        .push_next_failure(NextFailure {
            service: SYNC.into(),
            http_status: Some(503),
            ..NextFailure::default()
        })
        .expect("failed update");
    h.version(&v1).await;
    h.settled(&code, "version 1 at the portal").await;
    let rec = h.sim.dossier(&code).expect("at the portal");
    assert_eq!(
        (rec.inserts, rec.updates),
        (0, 1),
        "the retry after the failed update is an update, not another insert"
    );
    h.stop().await;
}
