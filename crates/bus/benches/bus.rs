//! Benchmark `bus`: 4 KB persistent messages, published and consumed with ack at the same
//! time, through
//! - a raw lapin loop (quorum queue, publisher confirms with the same window, manual acks with
//!   the same prefetch): the ceiling for RabbitMQ;
//! - the bus on RabbitMQ (one route, one partition: the same single queue);
//! - the bus on the embedded SQLite queue.
//!
//! `cargo bench -p lienthong-bus --bench bus` runs the full sizes and prints messages/s and the
//! ratio to the raw loop; `cargo test --benches` runs a small pass as a smoke test. RabbitMQ
//! parts need `LIENTHONG_TEST_AMQP_URL` (skipped with a message otherwise).

#[path = "support/raw_lapin.rs"]
mod raw_lapin;

use bytes::Bytes;
use lienthong_bus::{Backend, Bus, BusConfig, Message, RouteSpec};
use std::time::{Duration, Instant};

const BODY: usize = 4096;
const WINDOW: usize = 256;
const PREFETCH: u16 = 256;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let n: usize = std::env::var("LIENTHONG_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 20_000 } else { 300 });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    // `cargo bench -p lienthong-bus --bench bus -- rabbitmq` runs only the RabbitMQ part.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wanted =
        |part: &str| filters.is_empty() || filters.iter().any(|f| part.contains(f.as_str()));
    rt.block_on(run(n, wanted("embedded"), wanted("rabbitmq")));
}

async fn run(n: usize, with_embedded: bool, with_rabbitmq: bool) {
    println!("bus benchmark: {n} messages of {BODY} bytes, persistent, publish + consume with ack");
    if with_embedded {
        let embedded = embedded(n).await;
        report("embedded (SQLite)", n, embedded, None);
    }
    if !with_rabbitmq {
        return;
    }
    let Ok(url) = std::env::var("LIENTHONG_TEST_AMQP_URL") else {
        println!("rabbitmq: skipped: LIENTHONG_TEST_AMQP_URL is not set");
        return;
    };
    let raw = raw_lapin::raw_lapin(&url, n, BODY, WINDOW, PREFETCH).await;
    report("raw lapin loop (ceiling)", n, raw, None);
    let bus = bus_amqp(&url, n).await;
    report("bus on RabbitMQ", n, bus, Some(raw));
}

fn report(what: &str, n: usize, took: Duration, ceiling: Option<Duration>) {
    let rate = n as f64 / took.as_secs_f64();
    match ceiling {
        Some(c) => println!(
            "{what:<28} {rate:>10.0} msg/s  ({:.2} s)  = {:.0} % of the raw loop",
            took.as_secs_f64(),
            100.0 * c.as_secs_f64() / took.as_secs_f64()
        ),
        None => println!(
            "{what:<28} {rate:>10.0} msg/s  ({:.2} s)",
            took.as_secs_f64()
        ),
    }
}

fn body() -> Bytes {
    Bytes::from((0..BODY).map(|i| (i % 251) as u8).collect::<Vec<u8>>())
}

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("lienthong-bus-bench-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

async fn through_bus(config: BusConfig, n: usize) -> Duration {
    let bus = Bus::open(config).await.expect("bus opens");
    let body = body();
    let start = Instant::now();
    let mut consumer = bus.consume("bench", PREFETCH).await.expect("consume");
    let reader = tokio::spawn(async move {
        for _ in 0..n {
            let d = consumer.next().await.expect("delivery");
            d.ack().await.expect("ack");
        }
    });
    let mut i = 0;
    while i < n {
        let end = (i + 1000).min(n);
        let batch = (i..end)
            .map(|j| {
                Message::new(
                    format!("m{j}"),
                    "bench",
                    format!("k{}", j % 64),
                    body.clone(),
                )
            })
            .collect();
        bus.publish_batch(batch).await.expect("publish");
        i = end;
    }
    reader.await.expect("consumer task");
    let took = start.elapsed();
    bus.close().await;
    took
}

fn bench_config(backend: Backend, prefix: String) -> BusConfig {
    let mut c = BusConfig::new(backend, vec![RouteSpec::new("bench", 1)]);
    c.prefix = prefix;
    c.confirm_window = WINDOW;
    c
}

async fn embedded(n: usize) -> Duration {
    let dir = temp_dir("embedded");
    let c = bench_config(
        Backend::Embedded {
            path: dir.join("bus.db"),
        },
        "bench".into(),
    );
    let took = through_bus(c, n).await;
    let _ = std::fs::remove_dir_all(&dir);
    took
}

async fn bus_amqp(url: &str, n: usize) -> Duration {
    let dir = temp_dir("amqp");
    let c = bench_config(
        Backend::Amqp {
            url: url.to_string(),
            store_url: format!("sqlite://{}?mode=rwc", dir.join("store.db").display()),
        },
        format!("bench-{}", std::process::id()),
    );
    let took = through_bus(c.clone(), n).await;
    lienthong_bus::amqp::delete_topology(&c)
        .await
        .expect("delete bench topology");
    let _ = std::fs::remove_dir_all(&dir);
    took
}
