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

/// Runs `rabbitmqctl` with arguments; `None` when it is not on PATH.
pub fn rabbitmqctl(args: &[&str]) -> Option<std::process::Output> {
    std::process::Command::new("rabbitmqctl")
        .args(args)
        .output()
        .ok()
}
