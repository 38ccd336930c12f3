//! What is specific to the embedded backend: the lock file, group commit under concurrency,
//! leases released at reopen, the delivery limit across crashes, claim check in the file,
//! replay, and a quick throughput check (ignored by default).

use lienthong_bus::{
    Backend, Bus, BusConfig, BusError, Message, ParkedFilter, ParkedStatus, Reason, RetryOutcome,
    RouteSpec, Selection, headers,
};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static N: AtomicU32 = AtomicU32::new(0);

fn temp_path() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "lienthong-emb-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join("bus.db")
}

fn config(path: &Path) -> BusConfig {
    let mut c = BusConfig::new(
        Backend::Embedded {
            path: path.to_path_buf(),
        },
        vec![RouteSpec::new("r", 4), RouteSpec::new("other", 1)],
    );
    c.retry_delays = vec![Duration::from_millis(100), Duration::from_millis(300)];
    c.claim_check_above = 1024;
    c.max_body = 64 * 1024;
    c.delivery_limit = 3;
    c
}

async fn next(c: &mut lienthong_bus::Consumer) -> lienthong_bus::Delivery {
    tokio::time::timeout(Duration::from_secs(10), c.next())
        .await
        .expect("a delivery within 10 s")
        .expect("bus open")
}

async fn nothing_within(c: &mut lienthong_bus::Consumer, ms: u64) {
    if let Ok(d) = tokio::time::timeout(Duration::from_millis(ms), c.next()).await {
        panic!("unexpected delivery {d:?}");
    }
}

#[tokio::test]
async fn lock_file_keeps_a_second_owner_out() {
    let path = temp_path();
    let bus = Bus::open(config(&path)).await.expect("open");
    assert_eq!(bus.backend_name(), "embedded");
    let Err(e) = Bus::open(config(&path)).await else {
        panic!("a second owner must be refused");
    };
    assert!(matches!(e, BusError::Unavailable { .. }), "{e}");
    assert!(e.to_string().contains("bus.db.lock"), "{e}");
    bus.close().await;
    let again = Bus::open(config(&path)).await.expect("reopen after close");
    again.close().await;
}

#[tokio::test]
async fn publish_consume_ack_in_order_with_depth_and_queues() {
    let path = temp_path();
    let bus = Bus::open(config(&path)).await.expect("open");
    let msgs: Vec<Message> = (0..40)
        .map(|i| {
            Message::new(format!("m{i}"), "r", format!("k{}", i % 5), vec![i as u8])
                .header("h", "v")
        })
        .collect();
    bus.publish_batch(msgs).await.expect("publish");
    assert_eq!(bus.depth("r").await.expect("depth"), 40);
    assert_eq!(bus.depth("other").await.expect("depth"), 0);
    assert!(matches!(
        bus.depth("nope").await,
        Err(BusError::UnknownRoute(_))
    ));
    let mut c = bus.consume("r", 2).await.expect("consume");
    // A second consumer of the same route is refused while the first lives.
    assert!(matches!(
        bus.consume("r", 2).await,
        Err(BusError::Config(_))
    ));
    let mut last: HashMap<String, usize> = HashMap::new();
    for _ in 0..40 {
        let d = next(&mut c).await;
        assert_eq!(d.attempt, 1);
        assert!(!d.redelivered);
        assert_eq!(d.message.headers.get("h").map(String::as_str), Some("v"));
        let n: usize = d.message.id[1..].parse().expect("number");
        if let Some(prev) = last.insert(d.message.key.clone(), n) {
            assert!(prev < n, "per-key order: {prev} then {n}");
        }
        d.ack().await.expect("ack");
    }
    nothing_within(&mut c, 200).await;
    assert_eq!(bus.depth("r").await.expect("depth"), 0);
    let q = bus.queues().await.expect("queues");
    let r = q.iter().find(|q| q.route == "r").expect("route r");
    assert_eq!(
        (r.ready, r.unacked, r.waiting_retry, r.parked),
        (0, 0, 0, 0)
    );
    assert_eq!(r.consumers, 4);
    assert!(r.published_per_s > 0.0 && r.acked_per_s > 0.0, "{r:?}");
    drop(c);
    // Once the first consumer is gone, consuming again works.
    let c2 = bus.consume("r", 1).await.expect("consume again");
    drop(c2);
    bus.close().await;
}

#[tokio::test]
async fn prefetch_bounds_leases_per_partition() {
    let path = temp_path();
    let bus = Bus::open(config(&path)).await.expect("open");
    // All on one key: one partition.
    let msgs: Vec<Message> = (0..10)
        .map(|i| Message::new(format!("m{i}"), "r", "same", vec![1]))
        .collect();
    bus.publish_batch(msgs).await.expect("publish");
    let mut c = bus.consume("r", 3).await.expect("consume");
    let mut held = Vec::new();
    for i in 0..3 {
        let d = next(&mut c).await;
        assert_eq!(d.message.id, format!("m{i}"));
        held.push(d);
    }
    nothing_within(&mut c, 200).await;
    let q = bus.queues().await.expect("queues");
    let r = q.iter().find(|q| q.route == "r").expect("r");
    assert_eq!((r.ready, r.unacked), (7, 3));
    assert_eq!(bus.depth("r").await.expect("depth"), 7);
    held.remove(0).ack().await.expect("ack");
    assert_eq!(next(&mut c).await.message.id, "m3");
    bus.close().await;
}

#[tokio::test]
async fn retry_rounds_to_the_tier_and_comes_back_later() {
    let path = temp_path();
    let bus = Bus::open(config(&path)).await.expect("open");
    bus.publish(Message::new("a", "r", "k", "x"))
        .await
        .expect("publish");
    let mut c = bus.consume("r", 4).await.expect("consume");
    let d = next(&mut c).await;
    let t0 = Instant::now();
    let out = d
        .retry_after(
            Duration::from_millis(150),
            Reason::new("boom").partner_code("P1"),
        )
        .await
        .expect("retry");
    assert_eq!(
        out,
        RetryOutcome::Scheduled {
            attempt: 2,
            delay: Duration::from_millis(300)
        }
    );
    let q = bus.queues().await.expect("queues");
    assert_eq!(q[0].waiting_retry, 1);
    assert_eq!(bus.depth("r").await.expect("depth"), 1);
    let d = next(&mut c).await;
    assert!(
        t0.elapsed() >= Duration::from_millis(290),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(d.attempt, 2);
    assert_eq!(d.first_error.as_deref(), Some("boom"));
    assert_eq!(d.last_error.as_deref(), Some("boom"));
    let out = d
        .retry_after(Duration::from_millis(1), Reason::new("again"))
        .await
        .expect("retry");
    assert_eq!(
        out,
        RetryOutcome::Scheduled {
            attempt: 3,
            delay: Duration::from_millis(100)
        }
    );
    let d = next(&mut c).await;
    assert_eq!(d.first_error.as_deref(), Some("boom"));
    assert_eq!(d.last_error.as_deref(), Some("again"));
    d.park(Reason::new("permanent").partner_code("E9"))
        .await
        .expect("park");
    let p = bus.parked(&ParkedFilter::default()).await.expect("parked");
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].attempts, 3);
    assert_eq!(p[0].reason, "permanent");
    assert_eq!(p[0].partner_code.as_deref(), Some("E9"));
    assert_eq!(p[0].first_error.as_deref(), Some("boom"));
    assert_eq!(bus.depth("r").await.expect("depth"), 0);
    bus.close().await;
}

#[tokio::test]
async fn claim_check_park_replay_discard() {
    let path = temp_path();
    let bus = Bus::open(config(&path)).await.expect("open");
    let big = vec![7u8; 5000];
    assert!(matches!(
        bus.publish(Message::new("huge", "r", "k", vec![0u8; 70_000]))
            .await,
        Err(BusError::TooLarge { .. })
    ));
    assert!(matches!(
        bus.publish(Message::new("", "r", "k", "x")).await,
        Err(BusError::InvalidMessage { .. })
    ));
    assert!(matches!(
        bus.publish(Message::new("x", "nope", "k", "x")).await,
        Err(BusError::UnknownRoute(_))
    ));
    bus.publish(Message::new("big", "r", "k", big.clone()).header("a", "b"))
        .await
        .expect("publish");
    bus.publish(Message::new("small", "r", "k", "s"))
        .await
        .expect("publish");
    let mut c = bus.consume("r", 4).await.expect("consume");
    let d = next(&mut c).await;
    assert_eq!(d.message.id, "big");
    assert_eq!(
        &d.message.body[..],
        &big[..],
        "claim-checked body comes back"
    );
    d.park(Reason::new("bad")).await.expect("park");
    let d = next(&mut c).await;
    d.park(Reason::new("bad too")).await.expect("park");
    let p = bus
        .parked(&ParkedFilter {
            ids: vec!["big".into()],
            ..ParkedFilter::default()
        })
        .await
        .expect("parked");
    assert_eq!(p[0].body_size, 5000);
    let claim = p[0].claim.clone().expect("claim kept while parked");
    assert_eq!(p[0].headers.get("a").map(String::as_str), Some("b"));
    let q = bus.queues().await.expect("queues");
    assert_eq!(q[0].parked, 2);

    // Replay the big one: it comes back with attempt 1, its body and the replayed-by header.
    let n = bus
        .replay(
            &Selection::One {
                route: "r".into(),
                id: "big".into(),
            },
            "ops",
        )
        .await
        .expect("replay");
    assert_eq!(n, 1);
    let d = next(&mut c).await;
    assert_eq!(d.message.id, "big");
    assert_eq!(d.attempt, 1);
    assert_eq!(&d.message.body[..], &big[..]);
    assert_eq!(
        d.message
            .headers
            .get(headers::REPLAYED_BY)
            .map(String::as_str),
        Some("ops")
    );
    d.ack().await.expect("ack");
    let replayed = bus
        .parked(&ParkedFilter {
            status: Some(ParkedStatus::Replayed),
            ..ParkedFilter::default()
        })
        .await
        .expect("parked");
    assert_eq!(replayed.len(), 1);
    assert_eq!(replayed[0].resolved_by.as_deref(), Some("ops"));
    // The ack deletes the blob (acks are committed shortly after `ack` returns, as a broker
    // ack is not confirmed either).
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("connect");
    let mut blobs = -1i64;
    for _ in 0..50 {
        blobs = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM lienthong_blobs WHERE id = '{claim}'"
        )))
        .fetch_one(&pool)
        .await
        .expect("count");
        if blobs == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        blobs, 0,
        "the acked message's blob is still there after 5 s"
    );

    // Discard the other one.
    assert_eq!(
        bus.discard(&Selection::All, "ops", "obsolete")
            .await
            .expect("discard"),
        1
    );
    assert_eq!(bus.queues().await.expect("queues")[0].parked, 0);
    nothing_within(&mut c, 200).await;
    bus.close().await;
}

#[tokio::test]
async fn dropped_delivery_is_redelivered_then_parked_at_the_limit() {
    let path = temp_path();
    let bus = Bus::open(config(&path)).await.expect("open");
    bus.publish(Message::new("poison", "r", "k", "x"))
        .await
        .expect("publish");
    let mut c = bus.consume("r", 1).await.expect("consume");
    let d = next(&mut c).await;
    assert!(!d.redelivered);
    drop(d);
    let d = next(&mut c).await;
    assert!(d.redelivered);
    drop(d);
    let d = next(&mut c).await;
    drop(d);
    // As RabbitMQ's x-delivery-limit of 3: returned 3 times, still delivered a 4th time.
    assert!(
        bus.parked(&ParkedFilter::default())
            .await
            .expect("parked")
            .is_empty()
    );
    let d = next(&mut c).await;
    assert_eq!(d.message.id, "poison");
    drop(d);
    nothing_within(&mut c, 300).await;
    let p = bus.parked(&ParkedFilter::default()).await.expect("parked");
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].reason, "delivered 4 times without being settled");
    bus.close().await;
}

#[tokio::test]
async fn leases_are_released_at_reopen_and_count_towards_the_limit() {
    let path = temp_path();
    let mut cfg = config(&path);
    cfg.delivery_limit = 2;
    let bus = Bus::open(cfg.clone()).await.expect("open");
    bus.publish_batch(vec![
        Message::new("a", "r", "k", "1"),
        Message::new("b", "r", "k", "2"),
    ])
    .await
    .expect("publish");
    let mut c = bus.consume("r", 1).await.expect("consume");
    let held = next(&mut c).await;
    assert_eq!(held.message.id, "a");
    // "Crash": the bus goes away with the delivery in hand.
    bus.close().await;
    drop(c);
    drop(held);

    let bus = Bus::open(cfg.clone()).await.expect("reopen");
    let q = bus.queues().await.expect("queues");
    assert_eq!((q[0].ready, q[0].unacked), (2, 0));
    let mut c = bus.consume("r", 1).await.expect("consume");
    let held = next(&mut c).await;
    assert_eq!(held.message.id, "a");
    assert!(held.redelivered);
    bus.close().await;
    drop(c);
    drop(held);

    // Second unsettled delivery: at the limit of 2, delivered once more (as RabbitMQ).
    let bus = Bus::open(cfg.clone()).await.expect("reopen");
    assert!(
        bus.parked(&ParkedFilter::default())
            .await
            .expect("parked")
            .is_empty()
    );
    let mut c = bus.consume("r", 1).await.expect("consume");
    let held = next(&mut c).await;
    assert_eq!(held.message.id, "a");
    bus.close().await;
    drop(c);
    drop(held);

    // Third unsettled delivery: more than the limit of 2, parked at open.
    let bus = Bus::open(cfg).await.expect("reopen");
    let p = bus.parked(&ParkedFilter::default()).await.expect("parked");
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].id, "a");
    assert_eq!(p[0].reason, "delivered 3 times without being settled");
    let mut c = bus.consume("r", 1).await.expect("consume");
    let d = next(&mut c).await;
    assert_eq!(d.message.id, "b");
    d.ack().await.expect("ack");
    bus.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commit_under_concurrency_loses_nothing() {
    let path = temp_path();
    let bus = Bus::open(config(&path)).await.expect("open");
    let publishers = 16;
    let each = 150;
    let mut tasks = Vec::new();
    for t in 0..publishers {
        let bus = bus.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..each {
                bus.publish(Message::new(
                    format!("p{t}-{i}"),
                    "r",
                    format!("key{t}"),
                    format!("{i}"),
                ))
                .await
                .expect("publish");
            }
        }));
    }
    let mut c = bus.consume("r", 8).await.expect("consume");
    let mut seen = HashSet::new();
    let mut last: HashMap<String, i32> = HashMap::new();
    let mut acks = Vec::new();
    while seen.len() < publishers * each {
        let d = next(&mut c).await;
        let i: i32 = std::str::from_utf8(&d.message.body)
            .expect("utf8")
            .parse()
            .expect("number");
        let prev = last.insert(d.message.key.clone(), i).unwrap_or(-1);
        assert_eq!(prev + 1, i, "per-key publish order for {}", d.message.key);
        assert!(
            seen.insert(d.message.id.clone()),
            "duplicate {}",
            d.message.id
        );
        acks.push(tokio::spawn(d.ack()));
    }
    for t in tasks {
        t.await.expect("publisher");
    }
    for a in acks {
        a.await.expect("task").expect("ack");
    }
    nothing_within(&mut c, 200).await;
    assert_eq!(bus.depth("r").await.expect("depth"), 0);
    bus.close().await;
}

/// Quick throughput check: `cargo test -p lienthong-bus --test embedded_backend --release
/// -- --ignored --nocapture throughput`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "throughput measurement"]
async fn throughput() {
    let path = temp_path();
    let bus = Bus::open(config(&path)).await.expect("open");
    let total = 20_000usize;
    let body = vec![b'x'; 4096];
    let mut c = bus.consume("r", 64).await.expect("consume");
    let t0 = Instant::now();
    let publishers = 32;
    let mut tasks = Vec::new();
    for t in 0..publishers {
        let bus = bus.clone();
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..total / publishers {
                bus.publish(Message::new(
                    format!("p{t}-{i}"),
                    "r",
                    format!("key{}", i % 100),
                    body.clone(),
                ))
                .await
                .expect("publish");
            }
        }));
    }
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut got = 0;
    while got < total {
        let d = next(&mut c).await;
        got += 1;
        let done = done_tx.clone();
        tokio::spawn(async move {
            d.ack().await.expect("ack");
            let _ = done.send(());
        });
    }
    for _ in 0..total {
        done_rx.recv().await.expect("ack done");
    }
    let secs = t0.elapsed().as_secs_f64();
    for t in tasks {
        t.await.expect("publisher");
    }
    eprintln!(
        "embedded: {total} messages of 4 KiB published, consumed and acked in {secs:.2} s: {:.0} msg/s",
        total as f64 / secs
    );
    bus.close().await;
}

#[tokio::test]
async fn parked_partner_code_is_the_reasons_own() {
    let path = temp_path();
    let mut cfg = config(&path);
    cfg.max_attempts = 2;
    let bus = Bus::open(cfg).await.expect("open");
    bus.publish_batch(vec![
        Message::new("parked", "r", "k", "1").header("h", "v"),
        Message::new("gave-up", "r", "k", "2"),
    ])
    .await
    .expect("publish");
    let mut c = bus.consume("r", 4).await.expect("consume");
    for _ in 0..2 {
        let d = next(&mut c).await;
        d.retry_after(
            Duration::from_millis(1),
            Reason::new("busy").partner_code("P1"),
        )
        .await
        .expect("retry");
    }
    let mut by_id = HashMap::new();
    for _ in 0..2 {
        let d = next(&mut c).await;
        assert_eq!(d.attempt, 2);
        by_id.insert(d.message.id.clone(), d);
    }
    // Parked without a code after a retry with one: no code (not the retry's).
    by_id
        .remove("parked")
        .expect("parked")
        .park(Reason::new("permanent"))
        .await
        .expect("park");
    // Giving up on the last attempt without a code: no code either.
    let out = by_id
        .remove("gave-up")
        .expect("gave-up")
        .retry_after(Duration::from_millis(1), Reason::new("still busy"))
        .await
        .expect("retry");
    assert_eq!(out, RetryOutcome::Parked);
    let p = bus.parked(&ParkedFilter::default()).await.expect("parked");
    assert_eq!(p.len(), 2);
    for m in &p {
        assert_eq!(m.partner_code, None, "{m:?}");
        assert_eq!(m.first_error.as_deref(), Some("busy"), "{m:?}");
        // The publisher's headers only: no bus header (attempt, route, errors...).
        assert!(
            m.headers.keys().all(|k| !k.starts_with("x-lienthong-")),
            "{:?}",
            m.headers
        );
    }
    let parked = p.iter().find(|m| m.id == "parked").expect("parked");
    assert_eq!(parked.last_error.as_deref(), Some("permanent"));
    assert_eq!(parked.headers.get("h").map(String::as_str), Some("v"));
    bus.close().await;
}

#[tokio::test]
async fn missing_claim_check_body_is_parked_with_its_errors() {
    let path = temp_path();
    let bus = Bus::open(config(&path)).await.expect("open");
    bus.publish_batch(vec![
        Message::new("fresh", "r", "k1", vec![1u8; 2000]),
        Message::new("retried", "r", "k2", vec![2u8; 2000]),
    ])
    .await
    .expect("publish");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("connect");
    let delete_blobs = || async {
        sqlx::query("DELETE FROM lienthong_blobs")
            .execute(&pool)
            .await
            .expect("delete blobs");
    };
    // "retried" fails once (with a partner code), then loses its body while waiting.
    let mut c = bus.consume("r", 4).await.expect("consume");
    let mut seen = HashMap::new();
    for _ in 0..2 {
        let d = next(&mut c).await;
        seen.insert(d.message.id.clone(), d);
    }
    seen.remove("retried")
        .expect("retried")
        .retry_after(
            Duration::from_millis(300),
            Reason::new("boom").partner_code("P1"),
        )
        .await
        .expect("retry");
    // "fresh" is released unsettled (not a failed attempt) and loses its body too.
    delete_blobs().await;
    drop(seen);
    nothing_within(&mut c, 600).await;

    let p = bus.parked(&ParkedFilter::default()).await.expect("parked");
    assert_eq!(p.len(), 2, "{p:?}");
    let fresh = p.iter().find(|m| m.id == "fresh").expect("fresh");
    let missing = fresh.last_error.clone().expect("last error");
    assert!(missing.contains("is missing from the store"), "{missing}");
    assert_eq!(fresh.reason, missing);
    assert_eq!(fresh.first_error.as_deref(), Some(missing.as_str()));
    let retried = p.iter().find(|m| m.id == "retried").expect("retried");
    assert_eq!(retried.first_error.as_deref(), Some("boom"));
    assert!(
        retried
            .last_error
            .as_deref()
            .is_some_and(|l| l.contains("is missing from the store")),
        "{retried:?}"
    );
    assert_eq!(retried.partner_code.as_deref(), Some("P1"));
    bus.close().await;
}

#[tokio::test]
async fn replay_pages_skip_unconfigured_routes_and_let_publishes_through() {
    let path = temp_path();
    let url = format!("sqlite://{}", path.display());
    let bus = Bus::open(config(&path)).await.expect("open");
    // Parked rows written straight into the store: three pages' worth, one of them on a
    // route this bus no longer has.
    let store = lienthong_bus::store::Store::open(&url, "lienthong")
        .await
        .expect("store");
    let t0 = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(60);
    for i in 0..450i64 {
        let route = if i == 7 { "gone" } else { "r" };
        let m = lienthong_bus::ParkedMessage {
            id: format!("p{i:03}"),
            route: route.into(),
            key: format!("k{i}"),
            headers: Default::default(),
            body_size: 1,
            claim: None,
            reason: "parked".into(),
            partner_code: None,
            attempts: 1,
            first_error: None,
            last_error: None,
            parked_at: t0 + jiff::SignedDuration::from_millis(i),
            status: ParkedStatus::Parked,
            resolved_by: None,
            resolved_at: None,
            resolution_reason: None,
        };
        store.park(&m, Some(b"x")).await.expect("park");
    }
    let replay = {
        let bus = bus.clone();
        tokio::spawn(async move { bus.replay(&Selection::All, "ops").await })
    };
    // Publishes go through while the replay runs.
    for i in 0..20 {
        bus.publish(Message::new(format!("new{i}"), "other", "k", "n"))
            .await
            .expect("publish during replay");
    }
    let n = replay.await.expect("join").expect("replay");
    assert_eq!(n, 449);
    let left = bus.parked(&ParkedFilter::default()).await.expect("parked");
    assert_eq!(left.len(), 1);
    assert_eq!(
        (left[0].route.as_str(), left[0].id.as_str()),
        ("gone", "p007")
    );
    assert_eq!(bus.depth("r").await.expect("depth"), 449);
    assert_eq!(bus.depth("other").await.expect("depth"), 20);
    bus.close().await;
}
