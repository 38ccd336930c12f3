//! The DVCQG client against the DVCQG simulator over loopback HTTP, through every fault
//! mode: each failure is classified (who is at fault, whether a retry can help) as the
//! client documents, and the simulator refuses wrong `dstcode`, wrong passwords and expired
//! sessions.

use lienthong_dvcqg::client::{ClientConfig, DvcqgClient, SyncOutcome};
use lienthong_dvcqg::error::{DvcqgError, ErrorKind, Fault};
use lienthong_dvcqg::map::{MappingConfig, dossier_to_dvcqg, progress_to_dvcqg};
use lienthong_dvcqg::wire::{DossierItem, ProgressItem};
use lienthong_provincial::generate::Generator;
use lienthong_sandbox::dvcqg::{DvcqgConfig, DvcqgSim, spawn_dvcqg};
use lienthong_sandbox::fault::{FaultSettings, NextFailure};
use std::net::SocketAddr;

async fn start() -> (SocketAddr, DvcqgSim) {
    let (addr, sim, _task) = spawn_dvcqg(DvcqgConfig::default())
        .await
        .expect("simulator");
    (addr, sim)
}

fn config(addr: SocketAddr) -> ClientConfig {
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

fn client(cfg: ClientConfig) -> DvcqgClient {
    DvcqgClient::new(cfg).expect("client")
}

/// A story of the provincial generator as DVCQG items: its latest version and its steps.
fn story(seed: u64) -> (DossierItem, Vec<ProgressItem>) {
    next_story(&mut Generator::new(seed))
}

/// The generator's next story as DVCQG items (stories of one generator have distinct codes).
fn next_story(g: &mut Generator) -> (DossierItem, Vec<ProgressItem>) {
    let s = g.story();
    let cfg = MappingConfig::default();
    let last = s.versions.last().expect("a version");
    let (item, f) = dossier_to_dvcqg(last, &cfg);
    assert!(f.iter().all(|x| !x.is_error()), "{f:?}");
    let steps = s
        .steps
        .iter()
        .map(|p| progress_to_dvcqg(p, &cfg).0)
        .collect();
    (item, steps)
}

fn faults(f: FaultSettings) -> FaultSettings {
    FaultSettings { seed: 7, ..f }
}

fn assert_class(e: &DvcqgError, fault: Fault, retryable: bool, what: &str) {
    assert_eq!(e.fault, fault, "{what}: {e:?}");
    assert_eq!(e.retryable, retryable, "{what}: {e:?}");
    // the project-wide shape says the same, and its text never carries the portal's message
    let f = e.to_failure();
    assert_eq!(
        (f.partner, f.fault, f.retryable),
        ("dvcqg", fault, retryable),
        "{what}"
    );
    if let Some(m) = f.message.as_deref().filter(|m| m.len() > 3) {
        assert!(!f.to_string().contains(m), "{what}: {f}");
    }
}

#[tokio::test]
async fn dossiers_and_progress_reach_the_portal() {
    let (addr, sim) = start().await;
    let c = client(config(addr));
    let mut g = Generator::new(1);
    for _ in 0..10 {
        let (item, steps) = next_story(&mut g);
        assert_eq!(
            c.sync_dossier(&item, false).await.expect("insert"),
            SyncOutcome::Inserted
        );
        // a resend as if the gateway had lost track: the duplicate signal turns it into an update
        assert_eq!(
            c.sync_dossier(&item, false).await.expect("again"),
            SyncOutcome::UpdatedAfterDuplicate
        );
        assert_eq!(
            c.sync_dossier(&item, true).await.expect("update"),
            SyncOutcome::Updated
        );
        c.send_progress(&steps).await.expect("progress");
        let rec = sim.dossier(&item.MaHoSo).expect("stored");
        assert_eq!((rec.inserts, rec.updates, rec.duplicate_inserts), (1, 2, 1));
        assert_eq!(rec.progress.len(), steps.len());
        assert!(
            c.lookup_dossier(&item.MaHoSo)
                .await
                .expect("lookup")
                .is_some()
        );
    }
    assert!(
        c.lookup_dossier("000.00.12.H41-250101-9999")
            .await
            .expect("lookup")
            .is_none()
    );
    assert!(!c.procedures().await.expect("catalogue").is_empty());
    // one login for all of it
    let calls = sim.calls();
    let auth: u64 = calls
        .by_service
        .iter()
        .filter(|(k, _)| k.to_lowercase().contains("auth"))
        .flat_map(|(_, v)| v.values())
        .sum();
    assert_eq!(auth, 1, "{:?}", calls.by_service);
}

#[tokio::test]
async fn wrong_credentials_and_dstcode_are_refused() {
    let (addr, _sim) = start().await;
    let (item, _) = story(1);
    let mut cfg = config(addr);
    cfg.dstcode = Some("H99-DVC".into());
    let e = client(cfg)
        .sync_dossier(&item, false)
        .await
        .expect_err("wrong dstcode");
    assert!(matches!(e.kind, ErrorKind::Auth), "{e:?}");
    assert_class(&e, Fault::Us, false, "wrong dstcode");
    let mut cfg = config(addr);
    cfg.password = "sai".into();
    let e = client(cfg)
        .sync_dossier(&item, false)
        .await
        .expect_err("wrong password");
    assert_class(&e, Fault::Us, false, "wrong password");
}

#[tokio::test]
async fn expired_sessions_are_refused_and_renewed_once() {
    let (addr, sim) = start().await;
    let (item, _) = story(2);
    let mut cfg = config(addr);
    cfg.refresh_if_older_than_secs = 0;
    let c = client(cfg);
    c.sync_dossier(&item, false).await.expect("first");
    assert!(sim.expire_sessions(None) >= 1);
    // the simulator refuses the stale token; the client logs in again and repeats once
    assert_eq!(
        c.sync_dossier(&item, true).await.expect("after expiry"),
        SyncOutcome::Updated
    );
    // a refusal that persists after the renewal is reported, not retried forever
    sim.push_next_failure(NextFailure {
        service: "DongBoHoSoMC".into(),
        count: 2,
        error_code: Some("-1".into()),
        message: Some("Phiên làm việc không hợp lệ hoặc đã hết hạn".into()),
        ..NextFailure::default()
    })
    .expect("rule");
    let e = c
        .sync_dossier(&item, true)
        .await
        .expect_err("still refused");
    assert_class(&e, Fault::Partner, true, "session refused twice");
}

#[tokio::test]
async fn every_fault_mode_is_classified() {
    let (addr, sim) = start().await;
    let (item, _) = story(3);
    let mut cfg = config(addr);
    cfg.timeout_ms = 400;
    let c = client(cfg);
    c.sync_dossier(&item, false)
        .await
        .expect("warm-up: session and dossier");

    let cases: Vec<(&str, FaultSettings, Fault, bool)> = vec![
        (
            "injected error",
            FaultSettings {
                error_rate: 1.0,
                ..Default::default()
            },
            Fault::Partner,
            true,
        ),
        (
            "HTTP 500",
            FaultSettings {
                http_status_rate: 1.0,
                http_statuses: vec![500],
                ..Default::default()
            },
            Fault::Partner,
            true,
        ),
        (
            "HTTP 503",
            FaultSettings {
                http_status_rate: 1.0,
                http_statuses: vec![503],
                ..Default::default()
            },
            Fault::Partner,
            true,
        ),
        (
            "HTTP 429",
            FaultSettings {
                http_status_rate: 1.0,
                http_statuses: vec![429],
                ..Default::default()
            },
            Fault::Partner,
            true,
        ),
        (
            "hang past the timeout",
            FaultSettings {
                hang_rate: 1.0,
                hang_ms: 1_500,
                ..Default::default()
            },
            Fault::Network,
            true,
        ),
        (
            "latency past the timeout",
            FaultSettings {
                latency_ms: 1_000,
                ..Default::default()
            },
            Fault::Network,
            true,
        ),
        (
            "connection reset",
            FaultSettings {
                reset_rate: 1.0,
                ..Default::default()
            },
            Fault::Network,
            true,
        ),
        (
            "down window",
            FaultSettings {
                down_for_ms: Some(60_000),
                ..Default::default()
            },
            Fault::Partner,
            true,
        ),
    ];
    for (what, f, fault, retryable) in cases {
        sim.set_faults(faults(f)).expect("faults");
        let e = c.sync_dossier(&item, true).await.expect_err(what);
        assert_class(&e, fault, retryable, what);
        if what == "HTTP 429" || what == "HTTP 503" {
            assert!(
                e.retry_after.is_some(),
                "{what}: Retry-After honoured: {e:?}"
            );
        }
        if what == "injected error" {
            assert!(matches!(e.kind, ErrorKind::Partner), "{e:?}");
            assert!(e.message.is_some(), "the portal's message is kept");
        }
        sim.set_faults(FaultSettings::default()).expect("clear");
        c.sync_dossier(&item, true)
            .await
            .unwrap_or_else(|e| panic!("{what}: recovers: {e:?}"));
    }

    // rate limit: bursts beyond the limit get 429, retryable
    sim.set_faults(faults(FaultSettings {
        rate_limit_per_sec: Some(2),
        ..Default::default()
    }))
    .expect("faults");
    let mut limited = 0;
    for _ in 0..6 {
        if let Err(e) = c.sync_dossier(&item, true).await {
            assert!(matches!(e.kind, ErrorKind::Http(429)), "{e:?}");
            assert_class(&e, Fault::Partner, true, "rate limit");
            limited += 1;
        }
    }
    assert!(limited >= 3, "{limited} of 6 limited");
    sim.set_faults(FaultSettings::default()).expect("clear");

    // "the next N calls fail": code 3 without the duplicate text is parked for review
    sim.push_next_failure(NextFailure {
        service: "DongBoHoSoMC".into(),
        count: 1,
        error_code: Some("3".into()),
        message: Some("Dữ liệu không hợp lệ".into()),
        ..NextFailure::default()
    })
    .expect("rule");
    let e = c.sync_dossier(&item, true).await.expect_err("review");
    assert!(e.needs_review(), "{e:?}");
    assert_class(&e, Fault::Partner, false, "code 3");
    c.sync_dossier(&item, true)
        .await
        .expect("only the next call failed");

    // a dossier the portal's validation refuses is not retried blindly either
    let mut bad = item.clone();
    bad.TrangThaiHoSo = "12".into();
    let e = c.sync_dossier(&bad, true).await.expect_err("invalid");
    assert!(!e.retryable, "{e:?}");
}

#[tokio::test]
async fn faults_are_deterministic_by_seed() {
    async fn outcomes(seed: u64) -> Vec<bool> {
        let (addr, sim) = start().await;
        let (item, _) = story(4);
        let c = client(config(addr));
        c.sync_dossier(&item, false).await.expect("warm-up");
        sim.set_faults(FaultSettings {
            seed,
            error_rate: 0.5,
            ..Default::default()
        })
        .expect("faults");
        let mut v = Vec::new();
        for _ in 0..20 {
            v.push(c.sync_dossier(&item, true).await.is_ok());
        }
        v
    }
    let a = outcomes(11).await;
    assert_eq!(a, outcomes(11).await);
    assert!(a.iter().any(|x| *x) && a.iter().any(|x| !*x), "{a:?}");
}

#[tokio::test]
async fn an_unreachable_portal_is_a_network_fault() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let (item, _) = story(5);
    let e = client(config(addr))
        .sync_dossier(&item, false)
        .await
        .expect_err("refused");
    assert!(matches!(e.kind, ErrorKind::Connect), "{e:?}");
    assert_class(&e, Fault::Network, true, "connection refused");
}
