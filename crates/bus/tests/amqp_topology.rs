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
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == expected,
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
