//! Dossier state, outbox, relay and sweeper: the same suite on SQLite and PostgreSQL.

mod common;

use common::TestDb;
use jiff::{SignedDuration, Timestamp};
use lienthong_journal::outbox::{HandOverError, OutboxSink, RelayOptions, WorkItem};
use lienthong_journal::state::{
    ForgetPortal, Forgotten, IncomingStep, IncomingVersion, PortalOperation, Recorded,
    StepRecorded, SyncClaim,
};
use lienthong_journal::{Journal, Reveal};
use lienthong_model::{Dossier, DossierStatus, ProgressStep};
use std::sync::Mutex;

fn t0() -> Timestamp {
    "2025-03-03T01:00:00Z".parse().expect("time")
}

fn mins(m: i64) -> SignedDuration {
    SignedDuration::from_mins(m)
}

fn dossier(code: &str, version: u64) -> Dossier {
    Dossier {
        code: code.into(),
        version,
        status: Some(DossierStatus::Processing),
        ..Dossier::default()
    }
}

fn body(code: &str, version: u64) -> Vec<u8> {
    format!(
        r#"{{"code":"{code}","version":{version},"applicant":{{"name":"Trần Thị B","phone":"0912345678"}}}}"#
    )
    .into_bytes()
}

async fn record(j: &Journal, code: &str, version: u64, at: Timestamp) -> Recorded {
    let d = dossier(code, version);
    let b = body(code, version);
    j.record_version(&IncomingVersion {
        dossier: &d,
        body: &b,
        body_kind: "provincial.dossier",
        source: "mc-nghean",
        at,
    })
    .await
    .expect("record version")
}

async fn step(j: &Journal, code: &str, seq: u64, at: Timestamp) -> StepRecorded {
    let p = ProgressStep {
        dossier_code: code.into(),
        step_seq: seq,
        action: format!("step {seq}"),
        ..ProgressStep::default()
    };
    let b = format!(r#"{{"dossier_code":"{code}","step_seq":{seq}}}"#).into_bytes();
    j.record_step(&IncomingStep {
        step: &p,
        body: &b,
        body_kind: "provincial.progress",
        source: "mc-nghean",
        at,
    })
    .await
    .expect("record step")
}

/// A sink that keeps what it is handed, or refuses everything.
#[derive(Default)]
struct Collect {
    items: Mutex<Vec<WorkItem>>,
    refuse: bool,
}

impl OutboxSink for Collect {
    async fn hand_over(&self, item: &WorkItem) -> Result<(), HandOverError> {
        if self.refuse {
            return Err(HandOverError {
                message: "bus unavailable".into(),
            });
        }
        self.items.lock().expect("lock").push(item.clone());
        Ok(())
    }
}

impl Collect {
    fn codes(&self) -> Vec<String> {
        self.items
            .lock()
            .expect("lock")
            .iter()
            .map(|i| i.dossier_code.clone())
            .collect()
    }
}

async fn versions_and_stale(db: TestDb) {
    let j = db.open().await;
    assert!(matches!(
        record(&j, "H41.1", 1, t0()).await,
        Recorded::Current { .. }
    ));
    assert_eq!(record(&j, "H41.1", 1, t0()).await, Recorded::Duplicate);
    assert!(matches!(
        record(&j, "H41.1", 3, t0() + mins(1)).await,
        Recorded::Current { .. }
    ));
    assert_eq!(
        record(&j, "H41.1", 2, t0() + mins(2)).await,
        Recorded::Stale { current: 3 }
    );
    let s = j
        .dossier_state("H41.1")
        .await
        .expect("state")
        .expect("known");
    assert_eq!(s.version, 3);
    assert_eq!(s.acked_version, None);
    assert!(!s.portal_known);
    assert_eq!(
        s.ahead_since,
        Some(t0()),
        "ahead since the first unacknowledged version"
    );
    // The stored body has the personal field encrypted; a reader without rights sees a mask.
    let masked = j
        .dossier_body("H41.1", Reveal::Masked)
        .await
        .expect("body")
        .expect("some");
    let masked = String::from_utf8(masked).expect("utf8");
    assert!(masked.contains(r#""phone":"***""#), "{masked}");
    assert!(masked.contains(r#""version":3"#));
    let clear = j
        .dossier_body("H41.1", Reveal::Clear)
        .await
        .expect("body")
        .expect("some");
    assert_eq!(clear, body("H41.1", 3));
    // Only current versions caused work.
    let work = j.pending_work(100).await.expect("pending");
    assert_eq!(work.len(), 2);
    assert!(
        work.iter()
            .all(|w| w.dossier_code == "H41.1" && w.reason == "version")
    );
    j.close().await;
}
both_backends!(versions_and_stale_versions, versions_and_stale);

async fn insert_then_update(db: TestDb) {
    let j = db.open().await;
    record(&j, "D1", 2, t0()).await;
    let SyncClaim::Plan(plan) = j
        .begin_sync("D1", "route-a", mins(1), t0())
        .await
        .expect("claim")
    else {
        panic!("expected a plan")
    };
    assert_eq!(
        (plan.desired_version, plan.acked_version, plan.portal_known),
        (2, None, false)
    );
    let v = plan.version.expect("version to send");
    assert_eq!((v.version, v.operation), (2, PortalOperation::Insert));
    assert_eq!(v.body, body("D1", 2), "the route gets the body in clear");
    assert!(j.ack_version("D1", 2, t0()).await.expect("ack"));
    j.end_sync("D1", "route-a").await.expect("end");
    let s = j.dossier_state("D1").await.expect("s").expect("some");
    assert_eq!(
        (s.acked_version, s.portal_known, s.ahead_since),
        (Some(2), true, None)
    );
    // Nothing missing now.
    let SyncClaim::Plan(plan) = j
        .begin_sync("D1", "route-a", mins(1), t0())
        .await
        .expect("c")
    else {
        panic!("expected a plan")
    };
    assert!(plan.is_empty());
    assert_eq!(
        (plan.desired_version, plan.acked_version, plan.portal_known),
        (2, Some(2), true),
        "the claim reports the state it saw"
    );
    j.end_sync("D1", "route-a").await.expect("end");
    // A newer version is an update; an older acknowledgement never moves back.
    record(&j, "D1", 5, t0() + mins(1)).await;
    assert!(!j.ack_version("D1", 1, t0()).await.expect("ack"));
    let SyncClaim::Plan(plan) = j
        .begin_sync("D1", "route-a", mins(1), t0())
        .await
        .expect("c")
    else {
        panic!("expected a plan")
    };
    let v = plan.version.expect("version");
    assert_eq!((v.version, v.operation), (5, PortalOperation::Update));
    j.close().await;
}
both_backends!(insert_then_update_and_no_regression, insert_then_update);

async fn steps_and_claims(db: TestDb) {
    let j = db.open().await;
    // Steps may arrive before the dossier: they wait for it.
    assert!(matches!(
        step(&j, "D2", 2, t0()).await,
        StepRecorded::New { .. }
    ));
    assert_eq!(step(&j, "D2", 2, t0()).await, StepRecorded::Duplicate);
    assert_eq!(
        j.begin_sync("D2", "a", mins(1), t0()).await.expect("c"),
        SyncClaim::Unknown
    );
    step(&j, "D2", 1, t0()).await;
    record(&j, "D2", 1, t0()).await;
    let SyncClaim::Plan(plan) = j.begin_sync("D2", "a", mins(1), t0()).await.expect("c") else {
        panic!("expected a plan")
    };
    assert!(plan.version.is_some());
    let seqs: Vec<u64> = plan.steps.iter().map(|s| s.step_seq).collect();
    assert_eq!(
        seqs,
        [1, 2],
        "steps in step_seq order whatever the arrival order"
    );
    // One route at a time per dossier, until the lease runs out.
    assert_eq!(
        j.begin_sync("D2", "b", mins(1), t0() + mins(0))
            .await
            .expect("c"),
        SyncClaim::Busy
    );
    j.ack_version("D2", 1, t0()).await.expect("ack");
    assert!(j.ack_step("D2", 1, t0()).await.expect("ack"));
    assert!(!j.ack_step("D2", 1, t0()).await.expect("ack twice"));
    let SyncClaim::Plan(plan) = j
        .begin_sync("D2", "b", mins(1), t0() + mins(2))
        .await
        .expect("claim after the lease")
    else {
        panic!("expected a plan")
    };
    assert!(plan.version.is_none());
    assert_eq!(plan.steps.len(), 1);
    assert_eq!(plan.steps[0].step_seq, 2);
    // The holder renews its claim; a route that lost it (lease run out) cannot.
    assert!(
        !j.renew_sync("D2", "a", mins(1), t0() + mins(2))
            .await
            .expect("r")
    );
    assert!(
        j.renew_sync("D2", "b", mins(1), t0() + mins(3))
            .await
            .expect("r")
    );
    assert_eq!(
        j.begin_sync("D2", "a", mins(1), t0() + mins(3))
            .await
            .expect("c"),
        SyncClaim::Busy,
        "renewed until t0 + 4 min"
    );
    j.end_sync("D2", "b").await.expect("end");
    assert!(
        !j.renew_sync("D2", "b", mins(1), t0() + mins(3))
            .await
            .expect("r")
    );
    let s = j.dossier_state("D2").await.expect("s").expect("some");
    assert_eq!((s.steps, s.steps_pending), (2, 1));
    j.close().await;
}
both_backends!(steps_and_sync_claims, steps_and_claims);

async fn forget(db: TestDb) {
    let j = db.open().await;
    record(&j, "D3", 2, t0()).await;
    step(&j, "D3", 1, t0()).await;
    step(&j, "D3", 2, t0()).await;
    j.ack_version("D3", 2, t0()).await.expect("ack");
    j.ack_step("D3", 1, t0()).await.expect("ack");
    j.ack_step("D3", 2, t0()).await.expect("ack");
    let before = j.pending_work(100).await.expect("work").len();
    let all = ForgetPortal {
        version: true,
        steps: true,
        portal_knows: false,
    };
    assert_eq!(
        j.forget_portal("NOPE", all, t0()).await.expect("forget"),
        Forgotten::Unknown
    );
    // Refused while a route holds the dossier; allowed once its lease ran out.
    assert!(matches!(
        j.begin_sync("D3", "a", mins(1), t0()).await.expect("claim"),
        SyncClaim::Plan(_)
    ));
    assert_eq!(
        j.forget_portal("D3", all, t0()).await.expect("forget"),
        Forgotten::Busy
    );
    let s = j.dossier_state("D3").await.expect("s").expect("some");
    assert_eq!((s.acked_version, s.portal_known), (Some(2), true));
    j.end_sync("D3", "a").await.expect("end");
    // Only the version, the portal keeps knowing the dossier: an update is due.
    let Forgotten::Enqueued { .. } = j
        .forget_portal(
            "D3",
            ForgetPortal {
                version: true,
                steps: false,
                portal_knows: true,
            },
            t0(),
        )
        .await
        .expect("forget")
    else {
        panic!("enqueued")
    };
    let s = j.dossier_state("D3").await.expect("s").expect("some");
    assert_eq!((s.acked_version, s.portal_known), (None, true));
    assert_eq!(s.steps_pending, 0);
    assert!(s.ahead_since.is_some());
    let SyncClaim::Plan(plan) = j.begin_sync("D3", "a", mins(1), t0()).await.expect("c") else {
        panic!("plan")
    };
    let v = plan.version.expect("version to send");
    assert_eq!((v.version, v.operation), (2, PortalOperation::Update));
    assert!(plan.steps.is_empty());
    j.end_sync("D3", "a").await.expect("end");
    // Everything: an insert, then every step again.
    let Forgotten::Enqueued { work_item } = j.forget_portal("D3", all, t0()).await.expect("f")
    else {
        panic!("enqueued")
    };
    let work = j.pending_work(100).await.expect("work");
    assert_eq!(work.len(), before + 2);
    let item = work.iter().find(|w| w.id == work_item).expect("the item");
    assert_eq!(
        (item.dossier_code.as_str(), item.reason.as_str()),
        ("D3", "resync")
    );
    let SyncClaim::Plan(plan) = j.begin_sync("D3", "a", mins(1), t0()).await.expect("c") else {
        panic!("plan")
    };
    assert_eq!(
        plan.version.expect("version").operation,
        PortalOperation::Insert
    );
    assert_eq!(plan.steps.len(), 2);
    j.end_sync("D3", "a").await.expect("end");
    j.close().await;
}
both_backends!(forgetting_the_portals_acknowledgements, forget);

async fn relay(db: TestDb) {
    let j = db.open().await;
    for i in 0..5 {
        record(&j, &format!("R{i}"), 1, t0()).await;
    }
    let opts = RelayOptions {
        owner: "node-1".into(),
        batch: 3,
        lease: mins(1),
    };
    // The bus is down: items stay, attempts count.
    let down = Collect {
        refuse: true,
        ..Collect::default()
    };
    let r = j.relay_once(&down, &opts, t0()).await.expect("relay");
    assert_eq!((r.claimed, r.handed, r.failed), (3, 0, 3));
    let up = Collect::default();
    let mut total = 0;
    loop {
        let r = j.relay_once(&up, &opts, t0()).await.expect("relay");
        if r.claimed == 0 {
            break;
        }
        total += r.handed;
    }
    assert_eq!(total, 5);
    assert_eq!(
        up.codes(),
        ["R0", "R1", "R2", "R3", "R4"],
        "in creation order"
    );
    assert_eq!(up.items.lock().expect("lock")[0].attempts, 2);
    assert!(j.pending_work(10).await.expect("p").is_empty());
    // Handed items are purged in batches.
    let mut purged = 0;
    loop {
        let n = j.purge_outbox(t0() + mins(1), 2).await.expect("purge");
        if n == 0 {
            break;
        }
        assert!(n <= 2);
        purged += n;
    }
    assert_eq!(purged, 5);
    j.close().await;
}
both_backends!(relay_hands_over_in_order, relay);

/// A sink whose hand-overs take longer for earlier calls (so a batch handed over at once
/// completes out of order), refuses one dossier, and records the order of completion.
struct Slow {
    calls: std::sync::atomic::AtomicU64,
    done: Mutex<Vec<(String, i64)>>,
    refuse: &'static str,
}

impl OutboxSink for Slow {
    async fn hand_over(&self, item: &WorkItem) -> Result<(), HandOverError> {
        let n = self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let wait = 40u64.saturating_sub(5 * n.min(7));
        tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
        if item.dossier_code == self.refuse {
            return Err(HandOverError {
                message: "bus refused".into(),
            });
        }
        self.done
            .lock()
            .expect("lock")
            .push((item.dossier_code.clone(), item.id));
        Ok(())
    }
}

/// A batch is handed over concurrently, but one dossier's items keep their order; a
/// refused item is released alone; a commit that wrote work wakes `work_written`.
async fn relay_concurrent(db: TestDb) {
    let j = db.open().await;
    let waiter = {
        let j = j.clone();
        tokio::spawn(async move { j.work_written().await })
    };
    record(&j, "W1", 1, t0()).await;
    tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
        .await
        .expect("a committed work item wakes the relay")
        .expect("waiter");
    step(&j, "W1", 1, t0()).await;
    record(&j, "W2", 1, t0()).await;
    record(&j, "W3", 1, t0()).await;
    step(&j, "W1", 2, t0()).await;
    record(&j, "W4", 1, t0()).await;
    let sink = Slow {
        calls: Default::default(),
        done: Mutex::default(),
        refuse: "W3",
    };
    let opts = RelayOptions {
        owner: "node-1".into(),
        batch: 10,
        lease: mins(1),
    };
    let r = j.relay_once(&sink, &opts, t0()).await.expect("relay");
    assert_eq!((r.claimed, r.handed, r.failed), (6, 5, 1));
    let done = sink.done.lock().expect("lock").clone();
    let w1: Vec<i64> = done
        .iter()
        .filter(|(c, _)| c == "W1")
        .map(|(_, id)| *id)
        .collect();
    assert_eq!(w1.len(), 3, "{done:?}");
    assert!(w1.windows(2).all(|w| w[0] < w[1]), "W1 in order: {done:?}");
    // Only the refused item is left, and it is handed over by the next pass.
    let pending = j.pending_work(10).await.expect("pending");
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0].dossier_code, "W3");
    let ok = Collect::default();
    let r = j.relay_once(&ok, &opts, t0()).await.expect("relay");
    assert_eq!((r.claimed, r.handed, r.failed), (1, 1, 0));
    assert_eq!(ok.codes(), ["W3"]);
    j.close().await;
}
both_backends!(relay_hands_a_batch_over_at_once, relay_concurrent);

/// The process dies after the state change and before the hand-over: reopening and
/// relaying recovers the work. It dies after claiming and before marking: the claim
/// expires and the item is handed over again.
async fn crash(db: TestDb) {
    let j = db.open().await;
    record(&j, "C1", 1, t0()).await;
    step(&j, "C1", 1, t0()).await;
    drop(j); // no relay, no close: the process "dies"
    let j = db.open().await;
    let sink = Collect::default();
    let opts = RelayOptions::default();
    let r = j.relay_once(&sink, &opts, t0()).await.expect("relay");
    assert_eq!(r.handed, 2);
    // A relay that claims and hangs (killed while publishing).
    record(&j, "C2", 1, t0()).await;
    struct Hang;
    impl OutboxSink for Hang {
        async fn hand_over(&self, _: &WorkItem) -> Result<(), HandOverError> {
            std::future::pending().await
        }
    }
    let dying = j.relay_once(&Hang, &opts, t0());
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(300), dying)
            .await
            .is_err()
    );
    drop(j);
    let j = db.open().await;
    let sink = Collect::default();
    let r = j
        .relay_once(&sink, &opts, t0() + mins(0))
        .await
        .expect("relay");
    assert_eq!(r.claimed, 0, "the claim still holds");
    let r = j
        .relay_once(&sink, &opts, t0() + mins(2))
        .await
        .expect("relay");
    assert_eq!(r.handed, 1);
    assert_eq!(sink.codes(), ["C2"]);
    j.close().await;
}
both_backends!(crash_between_state_change_and_hand_over, crash);

async fn sweeper(db: TestDb) {
    let j = db.open().await;
    let sink = Collect::default();
    let opts = RelayOptions::default();
    record(&j, "S1", 1, t0()).await;
    record(&j, "S2", 1, t0()).await;
    step(&j, "S3", 1, t0()).await;
    j.relay_once(&sink, &opts, t0()).await.expect("relay");
    // The work was lost downstream (the portal never acknowledged).
    let ahead = mins(15);
    assert_eq!(j.sweep(ahead, t0() + mins(5), 100).await.expect("sweep"), 0);
    j.ack_version("S2", 1, t0() + mins(1)).await.expect("ack");
    assert_eq!(
        j.sweep(ahead, t0() + mins(20), 100).await.expect("sweep"),
        2
    );
    let mut codes: Vec<String> = j
        .pending_work(10)
        .await
        .expect("p")
        .into_iter()
        .map(|w| {
            assert_eq!(w.reason, "sweep");
            w.dossier_code
        })
        .collect();
    codes.sort();
    assert_eq!(codes, ["S1", "S3"]);
    // Waiting items are not duplicated; fresh ones hold the sweeper back.
    assert_eq!(
        j.sweep(ahead, t0() + mins(21), 100).await.expect("sweep"),
        0
    );
    j.relay_once(&sink, &opts, t0() + mins(21))
        .await
        .expect("relay");
    assert_eq!(
        j.sweep(ahead, t0() + mins(30), 100).await.expect("sweep"),
        0
    );
    assert_eq!(
        j.sweep(ahead, t0() + mins(40), 100).await.expect("sweep"),
        2
    );
    j.relay_once(&sink, &opts, t0() + mins(40))
        .await
        .expect("relay");
    j.ack_version("S1", 1, t0() + mins(41)).await.expect("ack");
    j.ack_step("S3", 1, t0() + mins(41)).await.expect("ack");
    assert_eq!(
        j.sweep(ahead, t0() + mins(90), 100).await.expect("sweep"),
        0
    );
    j.close().await;
}
both_backends!(sweeper_recreates_lost_work, sweeper);

const CHILD_URL: &str = "LIENTHONG_JOURNAL_TEST_CHILD_URL";
const DOSSIERS: u64 = 20;
const VERSIONS: u64 = 15;

/// Writes every version of every dossier, in an order that depends on `seed`.
async fn write_all(j: &Journal, seed: u64) {
    for round in 0..VERSIONS {
        for d in 0..DOSSIERS {
            let v = (round * 7 + d * 3 + seed * 5) % VERSIONS + 1;
            record(
                j,
                &format!("P{d}"),
                v,
                t0() + SignedDuration::from_secs(round as i64),
            )
            .await;
        }
    }
}

/// The child half of the two-process test (run by the parent).
#[tokio::test]
#[ignore = "run by concurrent_writers as a second process"]
async fn child_writer() {
    let Ok(url) = std::env::var(CHILD_URL) else {
        return;
    };
    let mut o = lienthong_journal::JournalOptions::new(url);
    o.personal_data = common::personal_data();
    let j = Journal::open(&o).await.expect("child open");
    write_all(&j, 1).await;
    j.close().await;
}

async fn concurrent(db: TestDb) {
    let j = db.open().await; // migrate before the others start
    let exe = std::env::current_exe().expect("test binary");
    let child = tokio::process::Command::new(exe)
        .args(["--exact", "child_writer", "--include-ignored", "--quiet"])
        .env(CHILD_URL, &db.url)
        .spawn()
        .expect("spawn the second process");
    // Two more writers in this process, with separate pools.
    let a = db.open().await;
    let b = db.open().await;
    let ta = tokio::spawn(async move { write_all(&a, 2).await });
    let tb = tokio::spawn(async move { write_all(&b, 3).await });
    let out = child.wait_with_output().await.expect("child");
    assert!(out.status.success(), "second process failed");
    ta.await.expect("writer a");
    tb.await.expect("writer b");
    for d in 0..DOSSIERS {
        let s = j
            .dossier_state(&format!("P{d}"))
            .await
            .expect("s")
            .expect("some");
        assert_eq!(
            s.version, VERSIONS,
            "the newest version wins whatever the order"
        );
    }
    // Each version was recorded once across the three writers; work exists only for
    // versions that became current, and at least for the last one of each dossier.
    let work = j.pending_work(100_000).await.expect("p");
    assert!(work.len() as u64 >= DOSSIERS);
    assert!(work.len() as u64 <= DOSSIERS * VERSIONS);
    j.close().await;
}
both_backends!(concurrent_writers_in_two_processes, concurrent);
