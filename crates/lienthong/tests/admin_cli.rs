//! `lienthong queues|parked|maintenance|audit` against a gateway started in the test process
//! (SQLite journal, embedded bus, no portal), as an operator runs them.

use lienthong_service::auth::TokenHash;
use lienthong_service::config::Config;
use lienthong_service::gateway::Gateway;
use std::process::Output;

const OPERATOR: &str = "lt_cli_operator";
const ADMIN: &str = "lt_cli_admin";
const CLIENT: &str = "lt_cli_client";

async fn start(tag: &str) -> (Gateway, String, std::path::PathBuf) {
    let dir =
        std::env::temp_dir().join(format!("lienthong-admin-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let toml = format!(
        r#"
[gateway]
listen = "127.0.0.1:0"
data_dir = "{data}"

[[units]]
code = "000.00.00.H41"
name = "UBND tỉnh"

[[clients]]
name = "motcua"
token_sha256 = "{c}"
units = ["*"]

[[operators]]
name = "lan"
token_sha256 = "{o}"
role = "operator"

[[operators]]
name = "root"
token_sha256 = "{a}"
role = "admin"
"#,
        data = dir.display(),
        c = TokenHash::of(CLIENT),
        o = TokenHash::of(OPERATOR),
        a = TokenHash::of(ADMIN),
    );
    let config = Config::parse(&toml, "test", &|_| None).expect("config");
    let gateway = Gateway::start(&config, &|_| None).await.expect("gateway");
    let url = format!("http://{}", gateway.addr());
    (gateway, url, dir)
}

/// Runs the binary off the async workers (the gateway serves on them meanwhile).
async fn lienthong(args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_lienthong"))
            .args(&args)
            .env_remove("LIENTHONG_TOKEN")
            .output()
            .expect("run")
    })
    .await
    .expect("join")
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_uses_the_admin_commands() {
    let (gateway, url, dir) = start("ops").await;

    // Queues as a table and as JSON.
    let o = lienthong(&["queues", "--url", &url, "--token", OPERATOR]).await;
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let table = out(&o);
    assert!(table.starts_with("ROUTE"), "{table}");
    assert!(table.contains("dossier.sync"), "{table}");
    let o = lienthong(&[
        "queues", "--url", &url, "--token", OPERATOR, "--format", "json",
    ])
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let v: serde_json::Value = serde_json::from_str(&out(&o)).expect("json");
    assert_eq!(v["backend"], "embedded");
    assert!(v["queues"].as_array().is_some_and(|q| q.len() >= 5));

    // Parked: nothing yet; a replay by id answers 0.
    let o = lienthong(&["parked", "list", "--url", &url, "--token", OPERATOR]).await;
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).contains("0 parked message(s)"), "{}", out(&o));
    let o = lienthong(&[
        "parked",
        "replay",
        "--id",
        "m-1",
        "--route",
        "dossier.sync",
        "--reason",
        "retry now",
        "--url",
        &url,
        "--token",
        OPERATOR,
    ])
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).starts_with("replayed 0 message(s)"), "{}", out(&o));
    let o = lienthong(&[
        "parked", "discard", "--reason", "x", "--url", &url, "--token", OPERATOR,
    ])
    .await;
    assert_eq!(o.status.code(), Some(1), "no selection");

    // Maintenance needs the admin role; the admin switches it on and off.
    let o = lienthong(&[
        "maintenance",
        "on",
        "--reason",
        "upgrade",
        "--url",
        &url,
        "--token",
        OPERATOR,
    ])
    .await;
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("not allowed"), "{}", err(&o));
    let o = lienthong(&[
        "maintenance",
        "on",
        "--reason",
        "upgrade",
        "--url",
        &url,
        "--token",
        ADMIN,
    ])
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(
        out(&o).starts_with("maintenance mode on (was off"),
        "{}",
        out(&o)
    );
    assert!(
        gateway
            .maintenance()
            .load(std::sync::atomic::Ordering::SeqCst)
    );
    let o = lienthong(&[
        "maintenance",
        "off",
        "--reason",
        "done",
        "--url",
        &url,
        "--token",
        ADMIN,
    ])
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));

    // The audit log shows all three actions with their reasons.
    let o = lienthong(&["audit", "--url", &url, "--token", ADMIN]).await;
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let log = out(&o);
    for needle in [
        "maintenance.off",
        "maintenance.on",
        "parked.replay",
        "retry now",
        "upgrade",
        "lan",
        "root",
    ] {
        assert!(log.contains(needle), "{needle} missing:\n{log}");
    }

    // Clear errors: a client token, an unknown token, no token, no gateway.
    let o = lienthong(&["queues", "--url", &url, "--token", "lt_unknown"]).await;
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err(&o).contains("the token is not an operator token of this gateway"),
        "{}",
        err(&o)
    );
    let o = lienthong(&["queues", "--url", &url, "--token", CLIENT]).await;
    assert_eq!(o.status.code(), Some(1));
    let o = lienthong(&["queues", "--url", &url]).await;
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("LIENTHONG_TOKEN"), "{}", err(&o));
    gateway.stop().await;
    let o = lienthong(&["queues", "--url", &url, "--token", OPERATOR]).await;
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err(&o).contains(&format!("no gateway at {url}")),
        "{}",
        err(&o)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
