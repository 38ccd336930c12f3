//! Crash safety of the embedded queue: a child process publishes and consumes against the file
//! and is killed (SIGKILL) mid-stream, several times; then every message whose publish
//! returned Ok was either received by a consumer or is still delivered now.

use lienthong_bus::{Backend, Bus, BusConfig, Message, RouteSpec};
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Set in the child: the directory of the file and the log.
const CHILD_DIR: &str = "LIENTHONG_CRASH_CHILD_DIR";
/// Set in the child: the round number (keeps message ids unique across rounds).
const CHILD_ROUND: &str = "LIENTHONG_CRASH_CHILD_ROUND";

fn config(dir: &Path) -> BusConfig {
    let mut c = BusConfig::new(
        Backend::Embedded {
            path: dir.join("bus.db"),
        },
        vec![RouteSpec::new("r", 4)],
    );
    // Many crashes in a row must not park anything here.
    c.delivery_limit = 1000;
    c.claim_check_above = 2048;
    c
}

/// Appends one line with one `write` (a SIGKILL leaves whole lines or nothing).
fn log(file: &std::fs::File, line: String) {
    let mut f = file;
    f.write_all(line.as_bytes()).expect("log");
}

/// The child: publishes (logging `P id` after each Ok) and consumes (logging `R id` before
/// each ack) until killed. Does nothing when not started by the parent test.
#[test]
fn crash_child() {
    let (Ok(dir), Ok(round)) = (std::env::var(CHILD_DIR), std::env::var(CHILD_ROUND)) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let open = |name: &str| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join(name))
                .expect("log file")
        };
        let bus = Bus::open(config(&dir)).await.expect("child open");
        let published = open(&format!("published-{round}.log"));
        let received = open(&format!("received-{round}.log"));
        let mut consumer = bus.consume("r", 16).await.expect("consume");
        for t in 0..8 {
            let bus = bus.clone();
            let published = published.try_clone().expect("clone");
            let round = round.clone();
            tokio::spawn(async move {
                for i in 0u64.. {
                    let id = format!("{round}-{t}-{i}");
                    // Every 10th body is claim-checked.
                    let size = if i.is_multiple_of(10) { 4096 } else { 100 };
                    bus.publish(Message::new(
                        &id,
                        "r",
                        format!("k{}", i % 7),
                        vec![1u8; size],
                    ))
                    .await
                    .expect("publish");
                    log(&published, format!("P {id}\n"));
                }
            });
        }
        let mut n = 0u64;
        while let Some(d) = consumer.next().await {
            log(&received, format!("R {}\n", d.message.id));
            n += 1;
            // Leave some deliveries unsettled for a while (they are in hand at the kill).
            if n.is_multiple_of(50) {
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    d.ack().await.expect("ack");
                });
            } else {
                d.ack().await.expect("ack");
            }
        }
    });
}

/// The ids on complete lines starting with `tag` in the logs of `prefix`.
fn read_ids(dir: &Path, prefix: &str, tag: &str) -> HashSet<String> {
    let mut out = HashSet::new();
    for e in std::fs::read_dir(dir).expect("dir").flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if !name.starts_with(prefix) {
            continue;
        }
        let text = std::fs::read_to_string(e.path()).expect("read log");
        let complete = match text.rfind('\n') {
            Some(end) => &text[..end],
            None => "",
        };
        for line in complete.lines() {
            if let Some(id) = line.strip_prefix(tag) {
                out.insert(id.to_string());
            }
        }
    }
    out
}

#[test]
fn killed_mid_stream_loses_nothing() {
    if std::env::var(CHILD_DIR).is_ok() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("lienthong-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let exe = std::env::current_exe().expect("test binary");
    let rounds: u32 = 4;
    for round in 0..rounds {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "crash_child",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env(CHILD_DIR, &dir)
            .env(CHILD_ROUND, format!("r{round}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        // Let it get going, then kill it at a different point each round.
        let log = dir.join(format!("published-r{round}.log"));
        let t0 = Instant::now();
        let want = 300 + 250 * round as usize;
        while t0.elapsed() < Duration::from_secs(30) {
            let lines = std::fs::read_to_string(&log)
                .map(|t| t.lines().count())
                .unwrap_or(0);
            if lines >= want {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(37 * u64::from(round)));
        child.kill().expect("SIGKILL");
        let status = child.wait().expect("wait");
        assert!(!status.success(), "the child was killed, not finished");
    }
    let published = read_ids(&dir, "published-", "P ");
    let received = read_ids(&dir, "received-", "R ");
    assert!(
        published.len() >= 300 * rounds as usize,
        "the children published {} messages",
        published.len()
    );

    // Reopen and drain.
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let drained = rt.block_on(async {
        let bus = Bus::open(config(&dir)).await.expect("reopen");
        let mut c = bus.consume("r", 64).await.expect("consume");
        let mut drained = HashSet::new();
        while let Ok(Some(d)) = tokio::time::timeout(Duration::from_millis(1000), c.next()).await {
            drained.insert(d.message.id.clone());
            d.ack().await.expect("ack");
        }
        assert_eq!(bus.depth("r").await.expect("depth"), 0);
        let parked = bus.parked(&Default::default()).await.expect("parked");
        assert!(parked.is_empty(), "nothing parked: {parked:?}");
        bus.close().await;
        drained
    });
    let lost: Vec<&String> = published
        .iter()
        .filter(|id| !received.contains(*id) && !drained.contains(*id))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} published messages lost, e.g. {:?}",
        lost.len(),
        published.len(),
        &lost[..lost.len().min(5)]
    );
    eprintln!(
        "crash test: {} published with Ok over {rounds} kills, {} received before the kills, \
         {} drained after",
        published.len(),
        received.len(),
        drained.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
