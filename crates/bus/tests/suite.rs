//! The behavioural suite of the bus, run against both backends: the embedded SQLite queue
//! (always) and RabbitMQ (when `LIENTHONG_TEST_AMQP_URL` is set; `.ci/run` sets it).
//!
//! Each scenario is one async function taking a fresh [`Env`]; the `suite!` macro makes a test
//! per backend. Every RabbitMQ test uses its own queue prefix and deletes its topology at the
//! end.

use bytes::Bytes;
use lienthong_bus::{
    Backend, Bus, BusConfig, BusError, Consumer, Delivery, Message, ParkedFilter, ParkedStatus,
    Reason, RetryOutcome, RouteSpec, Selection,
};
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const ROUTE: &str = "work";
const OTHER: &str = "other";

#[derive(Clone, Copy, Debug)]
enum Kind {
    Embedded,
    Amqp,
}

struct Env {
    kind: Kind,
    bus: Bus,
    config: BusConfig,
    dir: PathBuf,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

fn config(kind: Kind) -> Option<(BusConfig, PathBuf)> {
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let pid = std::process::id();
    let dir = std::env::temp_dir().join(format!("lienthong-bus-suite-{pid}-{n}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let backend = match kind {
        Kind::Embedded => Backend::Embedded {
            path: dir.join("bus.db"),
        },
        Kind::Amqp => {
            let Ok(url) = std::env::var("LIENTHONG_TEST_AMQP_URL") else {
                eprintln!("skipped: LIENTHONG_TEST_AMQP_URL is not set");
                return None;
            };
            Backend::Amqp {
                url,
                store_url: format!("sqlite://{}?mode=rwc", dir.join("store.db").display()),
            }
        }
    };
    let mut c = BusConfig::new(
        backend,
        vec![RouteSpec::new(ROUTE, 4), RouteSpec::new(OTHER, 1)],
    );
    c.prefix = format!("suite-{pid}-{n}");
    c.retry_delays = vec![Duration::from_millis(200), Duration::from_millis(400)];
    c.max_attempts = 3;
    c.delivery_limit = 3;
    c.claim_check_above = 1024;
    c.max_body = 64 * 1024;
    Some((c, dir))
}

async fn env(kind: Kind) -> Option<Env> {
    let (config, dir) = config(kind)?;
    let bus = Bus::open(config.clone()).await.expect("bus opens");
    Some(Env {
        kind,
        bus,
        config,
        dir,
    })
}

impl Env {
    async fn finish(self) {
        self.bus.close().await;
        if let Kind::Amqp = self.kind {
            lienthong_bus::amqp::delete_topology(&self.config)
                .await
                .expect("delete test topology");
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    async fn reopen(&mut self) {
        self.bus.close().await;
        self.bus = Bus::open(self.config.clone()).await.expect("bus reopens");
    }
}

fn msg(id: &str, key: &str, body: &str) -> Message {
    Message::new(id, ROUTE, key, body.to_string()).header("kind", "test")
}

async fn next(c: &mut Consumer) -> Delivery {
    tokio::time::timeout(Duration::from_secs(20), c.next())
        .await
        .expect("a delivery within 20 s")
        .expect("consumer open")
}

async fn nothing_within(c: &mut Consumer, wait: Duration) {
    if let Ok(Some(d)) = tokio::time::timeout(wait, c.next()).await {
        panic!("expected no delivery, got {d:?}");
    }
}

/// Ack: every published message is delivered once with its metadata, and gone after ack.
async fn ack_removes(mut e: Env) {
    for i in 0..10 {
        e.bus
            .publish(msg(
                &format!("m{i}"),
                &format!("k{i}"),
                &format!("body {i}"),
            ))
            .await
            .expect("publish");
    }
    assert_eq!(e.bus.depth(ROUTE).await.expect("depth"), 10);
    let mut c = e.bus.consume(ROUTE, 8).await.expect("consume");
    let mut seen = HashSet::new();
    for _ in 0..10 {
        let d = next(&mut c).await;
        assert_eq!(d.attempt, 1);
        assert_eq!(d.message.route, ROUTE);
        assert_eq!(
            d.message.headers.get("kind").map(String::as_str),
            Some("test")
        );
        let i = d.message.id.trim_start_matches('m').to_string();
        assert_eq!(d.message.key, format!("k{i}"));
        assert_eq!(d.message.body, Bytes::from(format!("body {i}")));
        assert!(d.first_error.is_none() && d.last_error.is_none());
        assert!(
            seen.insert(d.message.id.clone()),
            "duplicate {}",
            d.message.id
        );
        d.ack().await.expect("ack");
    }
    nothing_within(&mut c, Duration::from_millis(500)).await;
    drop(c);
    assert_eq!(e.bus.depth(ROUTE).await.expect("depth"), 0);
    e.reopen().await;
    let mut c = e.bus.consume(ROUTE, 8).await.expect("consume");
    nothing_within(&mut c, Duration::from_millis(500)).await;
    drop(c);
    e.finish().await;
}

/// Retry: the message comes back after the delay tier with attempt 2 and the error recorded.
async fn retry_after_delay(e: Env) {
    e.bus.publish(msg("r1", "k", "x")).await.expect("publish");
    let mut c = e.bus.consume(ROUTE, 4).await.expect("consume");
    let d = next(&mut c).await;
    assert_eq!(d.attempt, 1);
    let retried_at = Instant::now();
    let outcome = d
        .retry_after(
            Duration::from_millis(150),
            Reason::new("portal unavailable").partner_code("503"),
        )
        .await
        .expect("retry");
    assert_eq!(
        outcome,
        RetryOutcome::Scheduled {
            attempt: 2,
            delay: Duration::from_millis(200)
        }
    );
    let d = next(&mut c).await;
    assert!(
        retried_at.elapsed() >= Duration::from_millis(180),
        "came back after {:?}, before its delay tier",
        retried_at.elapsed()
    );
    assert_eq!(d.message.id, "r1");
    assert_eq!(d.message.body, Bytes::from("x"));
    assert_eq!(d.attempt, 2);
    assert_eq!(d.first_error.as_deref(), Some("portal unavailable"));
    assert_eq!(d.last_error.as_deref(), Some("portal unavailable"));
    let outcome = d
        .retry_after(Duration::from_millis(300), Reason::new("timeout"))
        .await
        .expect("retry");
    assert_eq!(
        outcome,
        RetryOutcome::Scheduled {
            attempt: 3,
            delay: Duration::from_millis(400)
        }
    );
    let d = next(&mut c).await;
    assert_eq!(d.attempt, 3);
    assert_eq!(d.first_error.as_deref(), Some("portal unavailable"));
    assert_eq!(d.last_error.as_deref(), Some("timeout"));
    d.ack().await.expect("ack");
    drop(c);
    e.finish().await;
}

/// Postponing: the delivery comes back after its delay tier with the same attempt number and
/// errors, as often as it is postponed (more often than `max_attempts`), and is never parked;
/// a counted retry afterwards goes on from the same attempt.
async fn postpone_costs_no_attempt(e: Env) {
    e.bus.publish(msg("pp", "k", "x")).await.expect("publish");
    let mut c = e.bus.consume(ROUTE, 4).await.expect("consume");
    let d = next(&mut c).await;
    d.retry_after(
        Duration::from_millis(1),
        Reason::new("portal down").partner_code("503"),
    )
    .await
    .expect("retry");
    // max_attempts is 3: five postponements would have parked counted retries.
    for _ in 0..5 {
        let d = next(&mut c).await;
        assert_eq!(d.message.id, "pp");
        assert_eq!(d.attempt, 2, "a postponement is not an attempt");
        assert_eq!(d.first_error.as_deref(), Some("portal down"));
        assert_eq!(d.last_error.as_deref(), Some("portal down"));
        let postponed_at = Instant::now();
        let tier = d
            .postpone(Duration::from_millis(150))
            .await
            .expect("postpone");
        assert_eq!(tier, Duration::from_millis(200));
        let d = next(&mut c).await;
        assert!(
            postponed_at.elapsed() >= Duration::from_millis(180),
            "came back after {:?}, before its delay tier",
            postponed_at.elapsed()
        );
        d.postpone(Duration::from_millis(1))
            .await
            .expect("postpone");
    }
    let d = next(&mut c).await;
    assert_eq!(d.attempt, 2);
    let out = d
        .retry_after(Duration::from_millis(1), Reason::new("timeout"))
        .await
        .expect("retry");
    assert!(
        matches!(out, RetryOutcome::Scheduled { attempt: 3, .. }),
        "{out:?}"
    );
    let d = next(&mut c).await;
    assert_eq!(d.attempt, 3);
    assert_eq!(d.last_error.as_deref(), Some("timeout"));
    d.ack().await.expect("ack");
    let parked = e
        .bus
        .parked(&ParkedFilter::default())
        .await
        .expect("parked");
    assert!(parked.is_empty(), "nothing parked: {parked:?}");
    drop(c);
    e.finish().await;
}

/// Parking: after the configured attempts a retry parks, with reason, attempts, first and last
/// error and partner code; parked messages are not delivered and can be listed and filtered.
async fn parks_after_limit(e: Env) {
    e.bus
        .publish(msg("p1", "k1", "one"))
        .await
        .expect("publish");
    let mut c = e.bus.consume(ROUTE, 4).await.expect("consume");
    for n in 1..=3u32 {
        let d = next(&mut c).await;
        assert_eq!(d.attempt, n);
        let out = d
            .retry_after(
                Duration::from_millis(1),
                Reason::new(format!("error {n}")).partner_code(format!("E{n}")),
            )
            .await
            .expect("retry");
        if n < 3 {
            assert!(matches!(out, RetryOutcome::Scheduled { .. }), "{out:?}");
        } else {
            assert_eq!(out, RetryOutcome::Parked);
        }
    }
    nothing_within(&mut c, Duration::from_millis(900)).await;
    // A permanent error parks at once.
    e.bus
        .publish(msg("p2", "k2", "two"))
        .await
        .expect("publish");
    let d = next(&mut c).await;
    assert_eq!(d.message.id, "p2");
    d.park(Reason::new("invalid dossier: /applicant/name is missing"))
        .await
        .expect("park");
    drop(c);

    let all = e.bus.parked(&ParkedFilter::default()).await.expect("list");
    assert_eq!(all.len(), 2, "{all:?}");
    // Newest first.
    assert_eq!(all[0].id, "p2");
    let p1 = &all[1];
    assert_eq!(p1.id, "p1");
    assert_eq!(p1.route, ROUTE);
    assert_eq!(p1.key, "k1");
    assert_eq!(p1.attempts, 3);
    assert_eq!(p1.status, ParkedStatus::Parked);
    assert!(
        p1.reason.contains("gave up after 3 attempts"),
        "{}",
        p1.reason
    );
    assert!(p1.reason.contains("error 3"), "{}", p1.reason);
    assert_eq!(p1.first_error.as_deref(), Some("error 1"));
    assert!(
        p1.last_error
            .as_deref()
            .is_some_and(|l| l.contains("error 3")),
        "{:?}",
        p1.last_error
    );
    assert_eq!(p1.partner_code.as_deref(), Some("E3"));
    assert_eq!(p1.body_size, 3);
    assert_eq!(p1.headers.get("kind").map(String::as_str), Some("test"));
    let p2 = &all[0];
    assert_eq!(p2.attempts, 1);
    assert_eq!(p2.partner_code, None);

    let by_reason = e
        .bus
        .parked(&ParkedFilter {
            reason_contains: Some("INVALID DOSSIER".into()),
            ..ParkedFilter::default()
        })
        .await
        .expect("filter");
    assert_eq!(ids(&by_reason), ["p2"]);
    let by_code = e
        .bus
        .parked(&ParkedFilter {
            partner_code: Some("E3".into()),
            ..ParkedFilter::default()
        })
        .await
        .expect("filter");
    assert_eq!(ids(&by_code), ["p1"]);
    let other_route = e
        .bus
        .parked(&ParkedFilter {
            route: Some(OTHER.into()),
            ..ParkedFilter::default()
        })
        .await
        .expect("filter");
    assert!(other_route.is_empty());
    let page = e
        .bus
        .parked(&ParkedFilter {
            limit: 1,
            offset: 1,
            ..ParkedFilter::default()
        })
        .await
        .expect("page");
    assert_eq!(ids(&page), ["p1"]);
    // Listing consumed nothing.
    assert_eq!(
        e.bus
            .parked(&ParkedFilter::default())
            .await
            .expect("list")
            .len(),
        2
    );
    let q = e.bus.queues().await.expect("queues");
    let work = q.iter().find(|q| q.route == ROUTE).expect("route listed");
    assert_eq!(work.parked, 2);
    assert_eq!(work.partitions, 4);
    e.finish().await;
}

fn ids(v: &[lienthong_bus::ParkedMessage]) -> Vec<&str> {
    v.iter().map(|p| p.id.as_str()).collect()
}

/// Replay and discard: the operator sends parked messages back (attempts start again) or
/// discards them with a reason; both are recorded with the operator's name.
async fn replay_and_discard(e: Env) {
    for id in ["a", "b", "c"] {
        e.bus.publish(msg(id, id, id)).await.expect("publish");
    }
    let mut c = e.bus.consume(ROUTE, 4).await.expect("consume");
    for _ in 0..3 {
        let d = next(&mut c).await;
        let partner = if d.message.id == "c" { "E9" } else { "E1" };
        d.park(Reason::new("refused").partner_code(partner))
            .await
            .expect("park");
    }
    // Replay one.
    let n = e
        .bus
        .replay(
            &Selection::One {
                route: ROUTE.into(),
                id: "a".into(),
            },
            "operator.nguyen",
        )
        .await
        .expect("replay one");
    assert_eq!(n, 1);
    let d = next(&mut c).await;
    assert_eq!(d.message.id, "a");
    assert_eq!(d.message.body, Bytes::from("a"));
    assert_eq!(d.attempt, 1);
    assert_eq!(
        d.message
            .headers
            .get(lienthong_bus::headers::REPLAYED_BY)
            .map(String::as_str),
        Some("operator.nguyen")
    );
    d.ack().await.expect("ack");
    // Replaying it again does nothing: it is no longer parked.
    let n = e
        .bus
        .replay(
            &Selection::One {
                route: ROUTE.into(),
                id: "a".into(),
            },
            "operator.nguyen",
        )
        .await
        .expect("replay again");
    assert_eq!(n, 0);
    // Discard by filter.
    let n = e
        .bus
        .discard(
            &Selection::Filter(ParkedFilter {
                partner_code: Some("E9".into()),
                ..ParkedFilter::default()
            }),
            "operator.tran",
            "duplicate of H41.01-0001",
        )
        .await
        .expect("discard");
    assert_eq!(n, 1);
    // Replay all: only b is left.
    let n = e
        .bus
        .replay(&Selection::All, "operator.le")
        .await
        .expect("all");
    assert_eq!(n, 1);
    let d = next(&mut c).await;
    assert_eq!(d.message.id, "b");
    d.ack().await.expect("ack");
    nothing_within(&mut c, Duration::from_millis(500)).await;
    drop(c);

    let all = e
        .bus
        .parked(&ParkedFilter {
            status: None,
            ..ParkedFilter::default()
        })
        .await
        .expect("list all");
    let by_id: BTreeMap<_, _> = all.iter().map(|p| (p.id.as_str(), p)).collect();
    assert_eq!(by_id["a"].status, ParkedStatus::Replayed);
    assert_eq!(by_id["a"].resolved_by.as_deref(), Some("operator.nguyen"));
    assert!(by_id["a"].resolved_at.is_some());
    assert_eq!(by_id["b"].status, ParkedStatus::Replayed);
    assert_eq!(by_id["b"].resolved_by.as_deref(), Some("operator.le"));
    assert_eq!(by_id["c"].status, ParkedStatus::Discarded);
    assert_eq!(by_id["c"].resolved_by.as_deref(), Some("operator.tran"));
    assert_eq!(
        by_id["c"].resolution_reason.as_deref(),
        Some("duplicate of H41.01-0001")
    );
    assert!(
        e.bus
            .parked(&ParkedFilter::default())
            .await
            .expect("parked")
            .is_empty()
    );
    e.finish().await;
}

/// Per-key order on the normal path: interleaved keys over 4 partitions, each key's messages
/// arrive in publish order.
async fn per_key_order(e: Env) {
    let keys = 20;
    let per_key = 25;
    let mut batch = Vec::new();
    for seq in 0..per_key {
        for k in 0..keys {
            // Every 7th body is above the claim-check threshold: claim-checked and inline
            // messages interleave in the batch and keep their order.
            let body = if (seq * keys + k) % 7 == 0 {
                format!("{seq:<2000}")
            } else {
                seq.to_string()
            };
            batch.push(msg(&format!("k{k}-{seq}"), &format!("key-{k}"), &body));
        }
    }
    e.bus.publish_batch(batch).await.expect("publish batch");
    let mut c = e.bus.consume(ROUTE, 16).await.expect("consume");
    let mut last: BTreeMap<String, i64> = BTreeMap::new();
    for _ in 0..keys * per_key {
        let d = next(&mut c).await;
        let seq: i64 = std::str::from_utf8(&d.message.body)
            .expect("utf8")
            .trim_end()
            .parse()
            .expect("seq");
        let prev = last.insert(d.message.key.clone(), seq).unwrap_or(-1);
        assert_eq!(
            seq,
            prev + 1,
            "key {} out of order: {seq} after {prev}",
            d.message.key
        );
        d.ack().await.expect("ack");
    }
    assert_eq!(last.len(), keys);
    assert!(last.values().all(|v| *v == per_key as i64 - 1));
    drop(c);
    e.finish().await;
}

/// Claim check: a large body travels through the store and arrives intact, also after parking
/// and replay; a body above the maximum is refused and nothing is published.
async fn claim_check(e: Env) {
    let big: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    e.bus
        .publish(Message::new("big", ROUTE, "k", big.clone()))
        .await
        .expect("publish big");
    let too_big = vec![0u8; 64 * 1024 + 1];
    match e
        .bus
        .publish(Message::new("huge", ROUTE, "k", too_big))
        .await
    {
        Err(BusError::TooLarge { id, size, max }) => {
            assert_eq!((id.as_str(), size, max), ("huge", 64 * 1024 + 1, 64 * 1024));
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert_eq!(e.bus.depth(ROUTE).await.expect("depth"), 1);
    let mut c = e.bus.consume(ROUTE, 4).await.expect("consume");
    let d = next(&mut c).await;
    assert_eq!(d.message.id, "big");
    assert_eq!(d.message.body.as_ref(), big.as_slice());
    d.park(Reason::new("hold")).await.expect("park");
    let parked = e.bus.parked(&ParkedFilter::default()).await.expect("list");
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].body_size, 10_000);
    e.bus
        .replay(&Selection::All, "operator")
        .await
        .expect("replay");
    let d = next(&mut c).await;
    assert_eq!(d.message.body.as_ref(), big.as_slice());
    d.ack().await.expect("ack");
    drop(c);
    e.finish().await;
}

/// A delivery dropped without settlement comes back, marked redelivered.
async fn unsettled_is_redelivered(e: Env) {
    e.bus.publish(msg("u1", "k", "u")).await.expect("publish");
    let mut c = e.bus.consume(ROUTE, 4).await.expect("consume");
    let d = next(&mut c).await;
    assert!(!d.redelivered);
    drop(d);
    let d = next(&mut c).await;
    assert_eq!(d.message.id, "u1");
    assert!(d.redelivered);
    assert_eq!(d.attempt, 1, "a redelivery is not a retry");
    d.ack().await.expect("ack");
    drop(c);
    e.finish().await;
}

/// Bad publishes get clear errors and publish nothing.
async fn refuses_bad_messages(e: Env) {
    match e.bus.publish(Message::new("x", "nope", "k", "b")).await {
        Err(BusError::UnknownRoute(r)) => assert_eq!(r, "nope"),
        other => panic!("expected UnknownRoute, got {other:?}"),
    }
    match e.bus.publish(Message::new("", ROUTE, "k", "b")).await {
        Err(BusError::InvalidMessage { detail, .. }) => assert!(detail.contains("id"), "{detail}"),
        other => panic!("expected InvalidMessage, got {other:?}"),
    }
    match e
        .bus
        .publish(msg("h", "k", "b").header("x-lienthong-attempt", "9"))
        .await
    {
        Err(BusError::InvalidMessage { detail, .. }) => {
            assert!(detail.contains("reserved"), "{detail}")
        }
        other => panic!("expected InvalidMessage, got {other:?}"),
    }
    assert!(matches!(
        e.bus.consume("nope", 1).await,
        Err(BusError::UnknownRoute(_))
    ));
    assert_eq!(e.bus.depth(ROUTE).await.expect("depth"), 0);
    e.finish().await;
}

/// Routes are separate: a message on one route is not delivered on another; the operator view
/// lists every route with its depth.
async fn routes_are_separate(e: Env) {
    e.bus
        .publish(Message::new("o1", OTHER, "k", "o"))
        .await
        .expect("publish");
    e.bus.publish(msg("w1", "k", "w")).await.expect("publish");
    e.bus.publish(msg("w2", "k", "w")).await.expect("publish");
    let q = e.bus.queues().await.expect("queues");
    let depth = |r: &str| {
        let i = q.iter().find(|q| q.route == r).expect("listed");
        i.ready + i.waiting_retry
    };
    assert_eq!(depth(ROUTE), 2);
    assert_eq!(depth(OTHER), 1);
    let mut c = e.bus.consume(OTHER, 4).await.expect("consume");
    let d = next(&mut c).await;
    assert_eq!(d.message.id, "o1");
    d.ack().await.expect("ack");
    nothing_within(&mut c, Duration::from_millis(400)).await;
    drop(c);
    assert_eq!(e.bus.depth(ROUTE).await.expect("depth"), 2);
    e.finish().await;
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(e) = super::env(super::Kind::Embedded).await {
                        super::$name(e).await;
                    }
                }
            )*
        }
        mod rabbitmq {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(e) = super::env(super::Kind::Amqp).await {
                        super::$name(e).await;
                    }
                }
            )*
        }
    };
}

suite!(
    ack_removes,
    retry_after_delay,
    postpone_costs_no_attempt,
    parks_after_limit,
    replay_and_discard,
    per_key_order,
    claim_check,
    unsettled_is_redelivered,
    refuses_bad_messages,
    routes_are_separate,
);
