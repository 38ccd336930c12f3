//! RabbitMQ backend: topology (exported definitions, idempotent declaration, disagreeing
//! queues), returned messages, delayed retries through the TTL queues, the delivery limit and
//! the dead queue, claim check and replay. Broker tests need `LIENTHONG_TEST_AMQP_URL`.

mod amqp_common;

use amqp_common::{amqp_url, config, rabbitmqctl, unique_prefix};
use lienthong_bus::amqp::{definitions, delete_topology};
use lienthong_bus::{
    Backend, Bus, BusConfig, BusError, Message, ParkedFilter, Reason, RetryOutcome, RouteSpec,
    Selection, standard_routes,
};
use std::time::Duration;

fn definitions_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/rabbitmq/definitions.json")
}

fn standard_config(url: &str, store_url: &str) -> BusConfig {
    BusConfig::new(
        Backend::Amqp {
            url: url.to_string(),
            store_url: store_url.to_string(),
        },
        standard_routes(),
    )
}

#[test]
fn committed_definitions_are_current() {
    let expected =
        serde_json::to_string_pretty(&definitions(&standard_config("", ""))).expect("json") + "\n";
    let path = definitions_path();
    if std::env::var("LIENTHONG_BLESS").as_deref() == Ok("1") {
        std::fs::write(&path, &expected).expect("write definitions.json");
        return;
    }
    // Compared as JSON values: the key order of the text depends on whether the workspace
    // build enables serde_json's `preserve_order`.
    let committed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_default())
            .unwrap_or(serde_json::Value::Null);
    assert!(
        committed == definitions(&standard_config("", "")),
        "{} is out of date with amqp::definitions(standard routes); regenerate it with\n  \
         LIENTHONG_BLESS=1 cargo test -p lienthong-bus --test amqp_topology committed_definitions_are_current",
        path.display()
    );
}

async fn open(c: &BusConfig) -> Bus {
    Bus::open(c.clone()).await.expect("bus opens")
}

#[tokio::test]
async fn imported_definitions_agree_with_the_bus() {
    let Some(url) = amqp_url() else { return };
    let path = definitions_path();
    let Some(out) = rabbitmqctl(&["import_definitions", &path.display().to_string()]) else {
        eprintln!("skipped: rabbitmqctl is not on PATH");
        return;
    };
    assert!(
        out.status.success(),
        "import_definitions failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = amqp_common::temp_dir(&format!("{}-import", unique_prefix()));
    let c = standard_config(
        &url,
        &format!("sqlite://{}/store.db?mode=rwc", dir.display()),
    );
    let bus = Bus::open(c.clone())
        .await
        .expect("the bus opens on the imported topology (arguments equal)");
    assert!(bus.depth("dossier.sync").await.is_ok());
    bus.close().await;
    delete_topology(&c).await.expect("cleanup");
}

#[tokio::test]
async fn declaring_twice_is_idempotent_and_a_disagreeing_queue_is_named() {
    let Some(url) = amqp_url() else { return };
    let prefix = unique_prefix();
    let c = config(&url, &prefix, vec![RouteSpec::new("topo", 2)]);
    let a = open(&c).await;
    let b = open(&c).await;
    assert_eq!(a.depth("topo").await.expect("depth"), 0);
    a.close().await;
    b.close().await;

    // Same names, another delivery limit: the existing partition queues disagree.
    let mut other = c.clone();
    other.delivery_limit = c.delivery_limit + 1;
    match Bus::open(other).await {
        Err(BusError::Topology { queue, detail }) => {
            eprintln!("topology error: queue {queue}: {detail}");
            assert_eq!(queue, format!("{prefix}.topo.p0"));
            assert!(detail.contains("x-delivery-limit"), "{detail}");
            assert!(detail.contains("definitions.json"), "{detail}");
        }
        Err(e) => panic!("expected a topology error, got {e}"),
        Ok(_) => panic!("expected a topology error, the bus opened"),
    }
    delete_topology(&c).await.expect("cleanup");
}

#[tokio::test]
async fn a_returned_message_is_an_error() {
    let Some(url) = amqp_url() else { return };
    let prefix = unique_prefix();
    let c = config(&url, &prefix, vec![RouteSpec::new("ret", 1)]);
    let bus = open(&c).await;
    bus.publish(Message::new("m1", "ret", "k", "x"))
        .await
        .expect("routable");
    // Delete the partition queue behind the bus's back.
    let conn = lapin::Connection::connect(&url, lapin::ConnectionProperties::default())
        .await
        .expect("connect");
    let ch = conn.create_channel().await.expect("channel");
    ch.queue_delete(
        format!("{prefix}.ret.p0").as_str().into(),
        lapin::options::QueueDeleteOptions::default(),
    )
    .await
    .expect("delete");
    match bus.publish(Message::new("m2", "ret", "k", "x")).await {
        Err(BusError::Returned { id, queue, .. }) => {
            assert_eq!(id, "m2");
            assert_eq!(queue, format!("{prefix}.ret.p0"));
        }
        other => panic!("expected Returned, got {other:?}"),
    }
    // The batch form too, and the channel stays usable.
    let batch = (0..5)
        .map(|i| Message::new(format!("b{i}"), "ret", "k", "x"))
        .collect();
    assert!(matches!(
        bus.publish_batch(batch).await,
        Err(BusError::Returned { .. })
    ));
    let _ = conn.close(200, "done".into()).await;
    bus.close().await;
    delete_topology(&c).await.expect("cleanup");
}

#[tokio::test]
async fn retry_goes_through_the_ttl_queue_and_comes_back_as_attempt_2() {
    let Some(url) = amqp_url() else { return };
    let prefix = unique_prefix();
    let mut c = config(&url, &prefix, vec![RouteSpec::new("retry", 2)]);
    c.retry_delays = vec![Duration::from_millis(300), Duration::from_secs(2)];
    let bus = open(&c).await;
    let mut consumer = bus.consume("retry", 10).await.expect("consume");
    bus.publish(Message::new("r1", "retry", "key-1", "body").header("kind", "test"))
        .await
        .expect("publish");
    let d = tokio::time::timeout(Duration::from_secs(10), consumer.next())
        .await
        .expect("first delivery in time")
        .expect("delivery");
    assert_eq!(d.attempt, 1);
    assert_eq!(d.last_error, None);
    let started = std::time::Instant::now();
    let outcome = d
        .retry_after(
            Duration::from_millis(100),
            Reason::new("partner timed out").partner_code("E504"),
        )
        .await
        .expect("retry");
    assert_eq!(
        outcome,
        RetryOutcome::Scheduled {
            attempt: 2,
            delay: Duration::from_millis(300)
        }
    );
    // While waiting it is counted in the depth (ready + retries).
    let d = tokio::time::timeout(Duration::from_secs(10), consumer.next())
        .await
        .expect("retried delivery in time")
        .expect("delivery");
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert_eq!(d.message.id, "r1");
    assert_eq!(d.message.key, "key-1");
    assert_eq!(&d.message.body[..], b"body");
    assert_eq!(
        d.message.headers.get("kind").map(String::as_str),
        Some("test")
    );
    assert_eq!(d.message.headers.len(), 1, "{:?}", d.message.headers);
    assert_eq!(d.attempt, 2);
    assert_eq!(d.first_error.as_deref(), Some("partner timed out"));
    assert_eq!(d.last_error.as_deref(), Some("partner timed out"));
    d.ack().await.expect("ack");
    assert_eq!(bus.depth("retry").await.expect("depth"), 0);
    bus.close().await;
    delete_topology(&c).await.expect("cleanup");
}

#[tokio::test]
async fn deliveries_dropped_past_the_limit_are_parked_via_the_dead_queue() {
    let Some(url) = amqp_url() else { return };
    let prefix = unique_prefix();
    let mut c = config(&url, &prefix, vec![RouteSpec::new("poison", 1)]);
    c.delivery_limit = 2;
    let bus = open(&c).await;
    let mut consumer = bus.consume("poison", 1).await.expect("consume");
    bus.publish(Message::new("p1", "poison", "k", "bad").header("kind", "poison"))
        .await
        .expect("publish");
    for i in 0..=c.delivery_limit {
        let d = tokio::time::timeout(Duration::from_secs(10), consumer.next())
            .await
            .unwrap_or_else(|_| panic!("delivery {i} in time"))
            .expect("delivery");
        assert_eq!(d.message.id, "p1");
        assert_eq!(d.redelivered, i > 0);
        drop(d);
    }
    let filter = ParkedFilter {
        route: Some("poison".into()),
        ..ParkedFilter::default()
    };
    let mut parked = Vec::new();
    for _ in 0..100 {
        parked = bus.parked(&filter).await.expect("parked");
        if !parked.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(parked.len(), 1, "parked via the dead queue");
    let p = &parked[0];
    assert_eq!(p.id, "p1");
    assert_eq!(p.key, "k");
    assert_eq!(p.body_size, 3);
    assert_eq!(p.headers.get("kind").map(String::as_str), Some("poison"));
    eprintln!("parked reason: {}", p.reason);
    assert!(p.reason.contains("without being settled"), "{}", p.reason);
    // Nothing more is delivered.
    assert!(
        tokio::time::timeout(Duration::from_millis(500), consumer.next())
            .await
            .is_err()
    );

    // Replay brings it back with attempt 1 and the operator's name.
    let n = bus
        .replay(
            &Selection::One {
                route: "poison".into(),
                id: "p1".into(),
            },
            "alice",
        )
        .await
        .expect("replay");
    assert_eq!(n, 1);
    let d = tokio::time::timeout(Duration::from_secs(10), consumer.next())
        .await
        .expect("replayed in time")
        .expect("delivery");
    assert_eq!(d.message.id, "p1");
    assert_eq!(d.attempt, 1);
    assert_eq!(&d.message.body[..], b"bad");
    d.ack().await.expect("ack");
    assert!(bus.parked(&filter).await.expect("parked").is_empty());
    bus.close().await;
    delete_topology(&c).await.expect("cleanup");
}

#[tokio::test]
async fn large_bodies_travel_by_claim_check_and_park_keeps_the_claim() {
    let Some(url) = amqp_url() else { return };
    let prefix = unique_prefix();
    let mut c = config(&url, &prefix, vec![RouteSpec::new("big", 1)]);
    c.claim_check_above = 1024;
    c.max_body = 64 * 1024;
    let bus = open(&c).await;
    let too_big = Message::new("x", "big", "k", vec![0u8; 64 * 1024 + 1]);
    assert!(matches!(
        bus.publish(too_big).await,
        Err(BusError::TooLarge { .. })
    ));
    let body: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    let mut consumer = bus.consume("big", 5).await.expect("consume");
    bus.publish(Message::new("c1", "big", "k", body.clone()))
        .await
        .expect("publish");
    bus.publish(Message::new("c2", "big", "k", body.clone()))
        .await
        .expect("publish");
    let d = tokio::time::timeout(Duration::from_secs(10), consumer.next())
        .await
        .expect("in time")
        .expect("delivery");
    assert_eq!(d.message.id, "c1");
    assert_eq!(&d.message.body[..], &body[..]);
    d.ack().await.expect("ack");
    let d = tokio::time::timeout(Duration::from_secs(10), consumer.next())
        .await
        .expect("in time")
        .expect("delivery");
    assert_eq!(&d.message.body[..], &body[..]);
    d.park(Reason::new("schema error")).await.expect("park");
    let parked = bus.parked(&ParkedFilter::default()).await.expect("parked");
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].body_size, body.len() as u64);
    assert!(parked[0].claim.is_some());
    assert_eq!(parked[0].reason, "schema error");
    bus.replay(&Selection::All, "bob").await.expect("replay");
    let d = tokio::time::timeout(Duration::from_secs(10), consumer.next())
        .await
        .expect("in time")
        .expect("delivery");
    assert_eq!(d.message.id, "c2");
    assert_eq!(&d.message.body[..], &body[..], "claim kept on replay");
    d.ack().await.expect("ack");
    let info = bus.queues().await.expect("queues");
    assert_eq!(info.len(), 1);
    assert_eq!(info[0].parked, 0);
    assert_eq!(info[0].consumers, 1);
    bus.close().await;
    delete_topology(&c).await.expect("cleanup");
}

/// The SQLite store of a test config (see `amqp_common::config`) and its table prefix.
async fn store_pool(prefix: &str) -> (sqlx::SqlitePool, String) {
    let path = std::env::temp_dir()
        .join(format!("lienthong-bus-{prefix}"))
        .join("store.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("store opens");
    (pool, prefix.replace(['.', '-'], "_"))
}

async fn sql(pool: &sqlx::SqlitePool, stmt: String) {
    sqlx::query(sqlx::AssertSqlSafe(stmt))
        .execute(pool)
        .await
        .expect("sql");
}

async fn blob_count(pool: &sqlx::SqlitePool, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM {table}_blobs"
    )))
    .fetch_one(pool)
    .await
    .expect("count blobs")
}

async fn next(c: &mut lienthong_bus::Consumer) -> lienthong_bus::Delivery {
    tokio::time::timeout(Duration::from_secs(10), c.next())
        .await
        .expect("delivery in time")
        .expect("delivery")
}

#[tokio::test]
async fn claim_check_blobs_belong_to_one_publish() {
    let Some(url) = amqp_url() else { return };
    let prefix = unique_prefix();
    let mut c = config(&url, &prefix, vec![RouteSpec::new("claims", 1)]);
    c.claim_check_above = 1024;
    c.retry_delays = vec![Duration::from_millis(200)];
    let bus = open(&c).await;
    let (pool, table) = store_pool(&prefix).await;
    let body_a: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    let body_b: Vec<u8> = (0..6000u32).map(|i| (i % 241) as u8).collect();
    let mut consumer = bus.consume("claims", 5).await.expect("consume");

    // A retry reuses the claim: acking the original after the retry is confirmed keeps the
    // body for the retried copy; its final ack deletes it.
    bus.publish(Message::new("r1", "claims", "k", body_a.clone()))
        .await
        .expect("publish");
    let d = next(&mut consumer).await;
    assert_eq!(&d.message.body[..], &body_a[..]);
    d.retry_after(Duration::from_millis(1), Reason::new("later"))
        .await
        .expect("retry");
    let d = next(&mut consumer).await;
    assert_eq!((d.message.id.as_str(), d.attempt), ("r1", 2));
    assert_eq!(&d.message.body[..], &body_a[..], "body intact on the retry");
    d.ack().await.expect("ack");
    assert_eq!(blob_count(&pool, &table).await, 0, "final ack deletes");

    // Two publishes of one id: acking the first does not take the second's body.
    bus.publish(Message::new("twice", "claims", "k", body_a.clone()))
        .await
        .expect("publish");
    bus.publish(Message::new("twice", "claims", "k", body_b.clone()))
        .await
        .expect("publish again");
    let d = next(&mut consumer).await;
    assert_eq!(&d.message.body[..], &body_a[..]);
    d.ack().await.expect("ack");
    let d = next(&mut consumer).await;
    assert_eq!(d.message.id, "twice");
    assert_eq!(&d.message.body[..], &body_b[..], "second copy has its body");
    d.ack().await.expect("ack");

    // A parked copy keeps its body when another publish of the same id is acked.
    bus.publish(Message::new("kept", "claims", "k", body_a.clone()))
        .await
        .expect("publish");
    next(&mut consumer)
        .await
        .park(Reason::new("schema error"))
        .await
        .expect("park");
    bus.publish(Message::new("kept", "claims", "k", body_b.clone()))
        .await
        .expect("publish again");
    next(&mut consumer).await.ack().await.expect("ack");
    let n = bus
        .replay(
            &Selection::One {
                route: "claims".into(),
                id: "kept".into(),
            },
            "carol",
        )
        .await
        .expect("replay");
    assert_eq!(n, 1);
    let d = next(&mut consumer).await;
    assert_eq!(d.message.id, "kept");
    assert_eq!(
        &d.message.body[..],
        &body_a[..],
        "the parked body is intact"
    );
    d.ack().await.expect("ack");
    assert_eq!(blob_count(&pool, &table).await, 0);
    assert!(
        bus.parked(&ParkedFilter {
            status: Some(lienthong_bus::ParkedStatus::Parked),
            ..ParkedFilter::default()
        })
        .await
        .expect("parked")
        .is_empty()
    );
    bus.close().await;
    delete_topology(&c).await.expect("cleanup");
}

#[tokio::test]
async fn parked_records_have_the_publishers_headers_and_the_reasons_code() {
    let Some(url) = amqp_url() else { return };
    let prefix = unique_prefix();
    let mut c = config(&url, &prefix, vec![RouteSpec::new("hdr", 1)]);
    c.retry_delays = vec![Duration::from_millis(200)];
    c.claim_check_above = 1024;
    let bus = open(&c).await;
    let (pool, table) = store_pool(&prefix).await;
    let mut consumer = bus.consume("hdr", 5).await.expect("consume");
    bus.publish(Message::new("h1", "hdr", "k", "body").header("kind", "test"))
        .await
        .expect("publish");
    next(&mut consumer)
        .await
        .retry_after(
            Duration::from_millis(1),
            Reason::new("partner down").partner_code("E1"),
        )
        .await
        .expect("retry");
    let d = next(&mut consumer).await;
    assert_eq!(d.attempt, 2);
    d.park(Reason::new("refused")).await.expect("park");
    let only = |p: &[lienthong_bus::ParkedMessage]| {
        assert_eq!(p.len(), 1, "{p:?}");
        p[0].clone()
    };
    let p = only(&bus.parked(&ParkedFilter::default()).await.expect("list"));
    assert_eq!(p.partner_code, None, "the reason's code, as given");
    assert_eq!(p.first_error.as_deref(), Some("partner down"));
    assert_eq!(p.last_error.as_deref(), Some("refused"));
    assert_eq!(p.headers.len(), 1, "{:?}", p.headers);

    // Replayed: the consumer sees who replayed it; parked again, the record does not keep it.
    bus.replay(&Selection::All, "dave").await.expect("replay");
    let d = next(&mut consumer).await;
    assert_eq!(
        d.message
            .headers
            .get(lienthong_bus::headers::REPLAYED_BY)
            .map(String::as_str),
        Some("dave")
    );
    d.park(Reason::new("still refused").partner_code("E2"))
        .await
        .expect("park");
    let p = only(
        &bus.parked(&ParkedFilter {
            status: Some(lienthong_bus::ParkedStatus::Parked),
            ..ParkedFilter::default()
        })
        .await
        .expect("list"),
    );
    assert_eq!(
        p.headers.keys().collect::<Vec<_>>(),
        ["kind"],
        "no x-lienthong-* header in a parked record"
    );
    assert_eq!(p.partner_code.as_deref(), Some("E2"));

    // A missing claim-check body parks with its text as the last (and first) error.
    bus.publish(Message::new("gone", "hdr", "k", vec![7u8; 4096]))
        .await
        .expect("publish");
    // The consumer may already be fetching it: stop consuming first.
    drop(consumer);
    sql(&pool, format!("DELETE FROM {table}_blobs")).await;
    let _consumer = bus.consume("hdr", 5).await.expect("consume");
    let filter = ParkedFilter {
        ids: vec!["gone".into()],
        ..ParkedFilter::default()
    };
    let mut parked = Vec::new();
    for _ in 0..100 {
        parked = bus.parked(&filter).await.expect("list");
        if !parked.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let p = only(&parked);
    assert!(p.reason.contains("missing"), "{}", p.reason);
    assert_eq!(p.last_error.as_deref(), Some(p.reason.as_str()));
    assert_eq!(p.first_error.as_deref(), Some(p.reason.as_str()));
    bus.close().await;
    delete_topology(&c).await.expect("cleanup");
}

#[tokio::test]
async fn a_failing_store_holds_the_delivery_instead_of_requeueing_it() {
    let Some(url) = amqp_url() else { return };
    let prefix = unique_prefix();
    let mut c = config(&url, &prefix, vec![RouteSpec::new("hold", 1)]);
    c.claim_check_above = 1024;
    c.delivery_limit = 1;
    let bus = open(&c).await;
    let (pool, table) = store_pool(&prefix).await;
    let body: Vec<u8> = (0..4096u32).map(|i| (i % 253) as u8).collect();
    bus.publish(Message::new("held", "hold", "k", body.clone()))
        .await
        .expect("publish");
    bus.publish(Message::new("after", "hold", "k", "small"))
        .await
        .expect("publish");
    // The claim-check bodies become unreadable while the message is delivered.
    sql(
        &pool,
        format!("ALTER TABLE {table}_blobs RENAME TO {table}_blobs_off"),
    )
    .await;
    let mut consumer = bus.consume("hold", 1).await.expect("consume");
    assert!(
        tokio::time::timeout(Duration::from_secs(4), consumer.next())
            .await
            .is_err(),
        "nothing is delivered while the store fails (no overtaking, no requeue)"
    );
    sql(
        &pool,
        format!("ALTER TABLE {table}_blobs_off RENAME TO {table}_blobs"),
    )
    .await;
    let d = next(&mut consumer).await;
    assert_eq!(d.message.id, "held");
    assert!(!d.redelivered, "held, not requeued");
    assert_eq!(&d.message.body[..], &body[..]);
    d.ack().await.expect("ack");
    let d = next(&mut consumer).await;
    assert_eq!(d.message.id, "after");
    d.ack().await.expect("ack");
    assert!(
        bus.parked(&ParkedFilter::default())
            .await
            .expect("list")
            .is_empty()
    );
    bus.close().await;
    delete_topology(&c).await.expect("cleanup");
}

#[tokio::test]
async fn replay_skips_rows_of_unconfigured_routes() {
    let Some(url) = amqp_url() else { return };
    let prefix = unique_prefix();
    let c = config(&url, &prefix, vec![RouteSpec::new("kept", 1)]);
    let bus = open(&c).await;
    let (pool, table) = store_pool(&prefix).await;
    let mut consumer = bus.consume("kept", 5).await.expect("consume");
    for id in ["a", "b"] {
        bus.publish(Message::new(id, "kept", "k", "x"))
            .await
            .expect("publish");
        next(&mut consumer)
            .await
            .park(Reason::new("no"))
            .await
            .expect("park");
    }
    // Row "b" now belongs to a route this bus does not know.
    sql(
        &pool,
        format!("UPDATE {table}_parked SET route = 'retired' WHERE id = 'b'"),
    )
    .await;
    let n = tokio::time::timeout(Duration::from_secs(20), bus.replay(&Selection::All, "erin"))
        .await
        .expect("replay ends")
        .expect("replay");
    assert_eq!(n, 1);
    assert_eq!(next(&mut consumer).await.message.id, "a");
    let left = bus
        .parked(&ParkedFilter {
            status: Some(lienthong_bus::ParkedStatus::Parked),
            ..ParkedFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(left.len(), 1);
    assert_eq!(
        (left[0].route.as_str(), left[0].id.as_str()),
        ("retired", "b")
    );
    bus.close().await;
    delete_topology(&c).await.expect("cleanup");
}
