//! RabbitMQ backend under failure: the broker application stopped and started mid-stream, and
//! every TCP connection cut mid-stream (through a relay written here). In both, 10,000
//! messages are published while a consumer acks; `publish` must return Ok for every batch
//! (the supervisor absorbs the outage: unconfirmed messages go out again on the new
//! connection) and every message id must be received at least once, duplicates being the same
//! ids again. One test runs both scenarios one after the other (they must not overlap).
//! Needs `LIENTHONG_TEST_CHAOS=1`, `LIENTHONG_TEST_AMQP_URL` and `rabbitmqctl` on PATH for the
//! broker restart (`LIENTHONG_TEST_RABBITMQ_NODE` names the node when it is not the default
//! one); `.ci/run` gives it a RabbitMQ node of its own.
//!
//! History: one run in three lost the stream after a cut connection. Cause: lapin left the
//! future of an ack pending forever on the cut connection, so the consuming task waited on it
//! for good while the broker held the unacked deliveries of the new consumers; the bus now
//! bounds every ack and nack (`amqp::consumer::SETTLE_TIMEOUT`).

mod amqp_common;

use amqp_common::{amqp_url, config, rabbitmqctl, unique_prefix};
use lienthong_bus::amqp::delete_topology;
use lienthong_bus::{Bus, Message, RouteSpec};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};

const MESSAGES: usize = 10_000;
const BATCH: usize = 50;

/// Starts the broker application again when dropped, whatever happened.
struct StartAppGuard {
    armed: bool,
}

impl StartAppGuard {
    fn start(&mut self) {
        if self.armed {
            let out = rabbitmqctl(&["start_app"]).expect("rabbitmqctl");
            assert!(out.status.success(), "start_app failed: {out:?}");
            self.armed = false;
        }
    }
}

impl Drop for StartAppGuard {
    fn drop(&mut self) {
        if self.armed {
            let _ = rabbitmqctl(&["start_app"]);
        }
    }
}

/// RabbitMQ 3.10.x: deleting an at-least-once dead-lettering quorum queue shortly after a
/// broker restart can crash its dead-letter worker repeatedly until the broker's
/// `rabbit_fifo_dlx_sup` exceeds its restart intensity and stays down; every new such queue then
/// fails to start (`INTERNAL_ERROR` on declare). A broker bug, not the bus's: start the
/// supervisor again so the next tests get a working broker, and say so.
fn heal_dlx_supervisor() {
    let Some(out) = rabbitmqctl(&["eval", "whereis(rabbit_fifo_dlx_sup)."]) else {
        return;
    };
    if String::from_utf8_lossy(&out.stdout).trim() == "undefined" {
        eprintln!(
            "broker bug: rabbit_fifo_dlx_sup is down after the restart (3.10.x); restarting it"
        );
        let _ = rabbitmqctl(&[
            "eval",
            "supervisor:restart_child(rabbit_sup, rabbit_fifo_dlx_sup).",
        ]);
    }
}

/// Deletes the scenario's topology. On RabbitMQ 3.10.x the deletion itself can hit the broker
/// bug above (the connection is closed with an internal error): heal and try again, a few
/// times, before failing.
async fn cleanup(c: &lienthong_bus::BusConfig) {
    let mut last = None;
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        heal_dlx_supervisor();
        match delete_topology(c).await {
            Ok(()) => {
                heal_dlx_supervisor();
                return;
            }
            Err(e) => {
                eprintln!("cleanup failed ({e}); healing the broker and trying again");
                last = Some(e);
            }
        }
    }
    panic!("cleanup: {last:?}");
}

/// A TCP relay to the broker that can cut every connection it carries.
struct Relay {
    port: u16,
    conns: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Relay {
    async fn start(target: String) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let conns: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let c = conns.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                let target = target.clone();
                let h = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                c.lock().expect("lock").push(h.abort_handle());
            }
        });
        Relay {
            port,
            conns,
            accept,
        }
    }

    /// Cuts every connection carried so far (new ones are accepted).
    fn cut(&self) -> usize {
        let conns: Vec<_> = std::mem::take(&mut *self.conns.lock().expect("lock"));
        for c in &conns {
            c.abort();
        }
        conns.len()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

/// `host:port` of an AMQP URL.
fn host_port(url: &str) -> (String, String) {
    let rest = url.split("://").nth(1).unwrap_or(url);
    let rest = rest.rsplit('@').next().unwrap_or(rest);
    let hp = rest.split('/').next().unwrap_or(rest);
    let (host, port) = hp.rsplit_once(':').unwrap_or((hp, "5672"));
    (host.to_string(), port.to_string())
}

#[derive(Default)]
struct Received {
    counts: HashMap<String, u32>,
    redelivered: u32,
}

/// Publishes `MESSAGES` while a consumer acks, runs `disrupt` once a third is published, and
/// checks that nothing is lost.
async fn run_scenario(
    name: &str,
    url: &str,
    disrupt: impl AsyncFnOnce() + Send,
) -> (Duration, usize, u32) {
    let prefix = unique_prefix();
    let c = config(url, &prefix, vec![RouteSpec::new("chaos", 4)]);
    let started = Instant::now();
    let bus = Bus::open(c.clone()).await.expect("bus opens");
    let received: Arc<Mutex<Received>> = Arc::default();
    let mut consumer = bus.consume("chaos", 100).await.expect("consume");
    let r = received.clone();
    let consuming = tokio::spawn(async move {
        while let Some(d) = consumer.next().await {
            {
                let mut r = r.lock().expect("lock");
                *r.counts.entry(d.message.id.clone()).or_default() += 1;
                if d.redelivered {
                    r.redelivered += 1;
                }
            }
            // An ack lost with the connection is fine: the message comes again. An ack must
            // not hang, though (lapin can leave one pending forever on a cut connection; the
            // bus bounds it): the test has no timeout of its own here.
            let _ = d.ack().await;
        }
    });

    let published: HashSet<String> = (0..MESSAGES).map(|i| format!("{name}-{i}")).collect();
    let bus2 = bus.clone();
    let name2 = name.to_string();
    let publishing = tokio::spawn(async move {
        let mut errors = Vec::new();
        let mut i = 0;
        while i < MESSAGES {
            let batch: Vec<Message> = (i..(i + BATCH).min(MESSAGES))
                .map(|n| {
                    Message::new(
                        format!("{name2}-{n}"),
                        "chaos",
                        format!("key-{}", n % 97),
                        format!("body {n}"),
                    )
                })
                .collect();
            match bus2.publish_batch(batch).await {
                Ok(()) => i += BATCH,
                Err(e) => {
                    // Not expected: recorded, asserted below; retried so the run can finish.
                    errors.push(e.to_string());
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        errors
    });

    // Disrupt once a third is received.
    loop {
        if received.lock().expect("lock").counts.len() >= MESSAGES / 3 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{name}: too slow before the disruption"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    disrupt().await;

    let errors = publishing.await.expect("publisher task");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let got = received.lock().expect("lock").counts.len();
        if got >= MESSAGES {
            break;
        }
        if Instant::now() >= deadline {
            // Where are the others? Queued, waiting for a retry, parked?
            let queues = bus.queues().await;
            let parked = bus.parked(&Default::default()).await.map(|p| p.len());
            panic!(
                "{name}: only {got} of {MESSAGES} distinct messages received within 120 s; \
                 queues: {queues:?}; parked: {parked:?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = started.elapsed();
    bus.close().await;
    let _ = tokio::time::timeout(Duration::from_secs(10), consuming).await;

    let r = std::mem::take(&mut *received.lock().expect("lock"));
    let unknown: Vec<&String> = r
        .counts
        .keys()
        .filter(|id| !published.contains(*id))
        .collect();
    assert!(unknown.is_empty(), "{name}: unknown ids {unknown:?}");
    let missing = published
        .iter()
        .filter(|id| !r.counts.contains_key(*id))
        .count();
    assert_eq!(missing, 0, "{name}: messages lost");
    let duplicates: usize = r.counts.values().map(|n| (*n - 1) as usize).sum();
    eprintln!(
        "{name}: {MESSAGES} published and all received in {elapsed:?}; {duplicates} duplicate \
         deliveries (same ids), {} flagged redelivered; publish errors: {}",
        r.redelivered,
        errors.len()
    );
    assert!(
        errors.is_empty(),
        "{name}: publish_batch failed instead of absorbing the outage: {errors:?}"
    );
    cleanup(&c).await;
    (elapsed, duplicates, r.redelivered)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nothing_is_lost_across_a_broker_restart_and_cut_connections() {
    let Some(url) = amqp_url() else { return };
    // The bus's reconnection log, when RUST_LOG asks for it.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    // Opt-in: it stops and starts the broker it is given, so it must not share one with other
    // tests. `.ci/run` starts a node of its own for it (port 5673) and sets
    // LIENTHONG_TEST_CHAOS=1, LIENTHONG_TEST_RABBITMQ_NODE and LIENTHONG_TEST_AMQP_URL.
    if std::env::var("LIENTHONG_TEST_CHAOS").as_deref() != Ok("1") {
        eprintln!("skipped: LIENTHONG_TEST_CHAOS is not 1 (this test restarts the broker)");
        return;
    }

    // A broker left broken by an earlier run (the 3.10 bug) is healed first.
    broker_serves_again(&url).await;

    // (1) The broker application stopped and started mid-stream.
    if rabbitmqctl(&["status"]).is_none() {
        eprintln!("skipped (broker restart scenario): rabbitmqctl is not on PATH");
    } else {
        run_scenario("restart", &url, async || {
            let mut guard = StartAppGuard { armed: true };
            let out = tokio::task::spawn_blocking(|| rabbitmqctl(&["stop_app"]))
                .await
                .expect("join")
                .expect("rabbitmqctl");
            assert!(out.status.success(), "stop_app failed: {out:?}");
            eprintln!("restart: broker application stopped");
            tokio::time::sleep(Duration::from_secs(4)).await;
            tokio::task::spawn_blocking(move || guard.start())
                .await
                .expect("join");
            eprintln!("restart: broker application started");
        })
        .await;
    }

    // (2) Every TCP connection cut mid-stream.
    let (host, port) = host_port(&url);
    let relay = Relay::start(format!("{host}:{port}")).await;
    let relayed = url.replacen(
        &format!("{host}:{port}"),
        &format!("127.0.0.1:{}", relay.port),
        1,
    );
    assert_ne!(relayed, url, "the URL must name host:port explicitly");
    run_scenario("cut", &relayed, async || {
        let n = relay.cut();
        eprintln!("cut: {n} connection(s) cut");
        assert!(n > 0);
    })
    .await;
    broker_serves_again(&url).await;
}

/// The test binaries after this one (and the scenarios of this one) need a broker that
/// declares at-least-once quorum queues: probe with a small topology for up to a minute, healing the 3.10 supervisor between
/// tries.
async fn broker_serves_again(url: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let c = config(url, &unique_prefix(), vec![RouteSpec::new("probe", 1)]);
        match Bus::open(c.clone()).await {
            Ok(bus) => {
                bus.close().await;
                delete_topology(&c).await.expect("cleanup probe");
                return;
            }
            Err(e) if std::time::Instant::now() < deadline => {
                eprintln!("broker not serving yet after the chaos ({e}); healing and retrying");
                heal_dlx_supervisor();
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(e) => panic!("the broker does not serve again after the chaos: {e}"),
        }
    }
}
