//! Helpers shared by the RabbitMQ test files.
#![allow(dead_code)]

use lienthong_bus::{Backend, BusConfig, RouteSpec};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

/// The broker URL, or `None` (with the skip notice printed) when unset.
pub fn amqp_url() -> Option<String> {
    match std::env::var("LIENTHONG_TEST_AMQP_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            eprintln!("skipped: LIENTHONG_TEST_AMQP_URL is not set");
            None
        }
    }
}

static N: AtomicU32 = AtomicU32::new(0);

/// A unique prefix for one test: `t-{pid}-{n}`.
pub fn unique_prefix() -> String {
    format!(
        "t-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh temporary directory.
pub fn temp_dir(prefix: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("lienthong-bus-{prefix}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// A config for `url` with a temporary SQLite store, the given prefix and routes.
pub fn config(url: &str, prefix: &str, routes: Vec<RouteSpec>) -> BusConfig {
    let dir = temp_dir(prefix);
    let mut c = BusConfig::new(
        Backend::Amqp {
            url: url.to_string(),
            store_url: format!("sqlite://{}/store.db?mode=rwc", dir.display()),
        },
        routes,
    );
    c.prefix = prefix.to_string();
    c
}

/// How long one `rabbitmqctl` call may take before the test fails (a CLI that cannot reach
/// the node otherwise waits for a long time, and a stuck one forever).
const RABBITMQCTL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// Runs `rabbitmqctl` with arguments (against the node named by `LIENTHONG_TEST_RABBITMQ_NODE`
/// when set, e.g. a second node kept for the restart test); `None` when it is not on PATH. Panics (failing the
/// test with the command line) when it does not finish within two minutes, after killing it.
pub fn rabbitmqctl(args: &[&str]) -> Option<std::process::Output> {
    use std::io::Read;
    let mut cmd = std::process::Command::new("rabbitmqctl");
    if let Ok(node) = std::env::var("LIENTHONG_TEST_RABBITMQ_NODE") {
        cmd.args(["-n", &node]);
    }
    let mut child = cmd
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    // Drain both pipes on threads so a chatty CLI cannot block on a full pipe.
    let mut out_pipe = child.stdout.take()?;
    let mut err_pipe = child.stderr.take()?;
    let out_reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = out_pipe.read_to_end(&mut b);
        b
    });
    let err_reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = err_pipe.read_to_end(&mut b);
        b
    });
    let deadline = std::time::Instant::now() + RABBITMQCTL_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(100))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "`rabbitmqctl {}` did not finish within {} s; the broker node or its CLI \
                     is stuck (check `rabbitmq-diagnostics check_running`)",
                    args.join(" "),
                    RABBITMQCTL_TIMEOUT.as_secs()
                );
            }
        }
    };
    Some(std::process::Output {
        status,
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
    })
}
