//! `lienthong queues|parked|maintenance|audit|resync|partners|catalogue` against a gateway
//! started in the test process (SQLite journal, embedded bus; no portal, or the DVCQG
//! simulator as the portal), as an operator runs them.

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

    // Without a portal: nothing to resync against, nothing to ping but "not configured".
    let o = lienthong(&[
        "resync",
        "X-1",
        "--dry-run",
        "--url",
        &url,
        "--token",
        OPERATOR,
    ])
    .await;
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(err(&o).contains("not configured"), "{}", err(&o));
    let o = lienthong(&["partners", "ping", "--url", &url, "--token", OPERATOR]).await;
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).starts_with("PARTNER"), "{}", out(&o));

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

/// A gateway with the DVCQG simulator as its portal.
async fn start_with_portal(tag: &str) -> (Gateway, String, std::path::PathBuf) {
    let dir =
        std::env::temp_dir().join(format!("lienthong-admin-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let sim = lienthong_sandbox::dvcqg::DvcqgConfig::default();
    let account = sim.accounts[0].clone();
    let (sim_addr, _sim, _task) = lienthong_sandbox::dvcqg::spawn_dvcqg(sim)
        .await
        .expect("simulator");
    let unit = lienthong_provincial::generate::Generator::new(1)
        .story()
        .versions[0]
        .unit
        .code
        .clone()
        .expect("unit");
    let toml = format!(
        r#"
[gateway]
listen = "127.0.0.1:0"
data_dir = "{data}"

[bus]
retry_delays_secs = [1, 2, 5]

[dvcqg]
adapter_url = "http://{sim_addr}"
username = "{user}"
dstcode = "{dstcode}"
madonvi = "{madonvi}"
timeout_ms = 5000

[[units]]
code = "{unit}"
name = "Đơn vị"

[[clients]]
name = "motcua"
token_sha256 = "{c}"
units = ["*"]

[[operators]]
name = "lan"
token_sha256 = "{o}"
role = "operator"
"#,
        data = dir.display(),
        user = account.username,
        dstcode = account.dstcode.clone().unwrap_or_default(),
        madonvi = account.madonvi[0],
        c = TokenHash::of(CLIENT),
        o = TokenHash::of(OPERATOR),
    );
    let password = account.password.clone();
    let env = move |name: &str| match name {
        "LIENTHONG_DVCQG_PASSWORD" => Some(password.clone()),
        "LIENTHONG_JOURNAL_KEY" => Some("2a".repeat(32)),
        _ => None,
    };
    let config = Config::parse(&toml, "test", &env).expect("config");
    let gateway = Gateway::start(&config, &env).await.expect("gateway");
    let url = format!("http://{}", gateway.addr());
    (gateway, url, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resync_partners_and_catalogue_from_the_command_line() {
    let (gateway, url, dir) = start_with_portal("resync").await;
    let d = lienthong_provincial::generate::Generator::new(1)
        .story()
        .versions
        .remove(0);
    let code = d.code.clone();
    let resp = reqwest::Client::new()
        .post(format!("{url}/v1/dossiers"))
        .bearer_auth(CLIENT)
        .header("content-type", "application/json")
        .body(lienthong_provincial::write::dossier_json(&d))
        .send()
        .await
        .expect("submit");
    assert_eq!(resp.status().as_u16(), 202);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let s = gateway.journal().dossier_state(&code).await.expect("state");
        if s.is_some_and(|s| s.acked_version == Some(s.version)) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "dossier not synced");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // Partners: the portal answers, the breaker is closed; VDXP is not configured.
    let o = lienthong(&["partners", "ping", "--url", &url, "--token", OPERATOR]).await;
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let table = out(&o);
    let row = table
        .lines()
        .find(|l| l.starts_with("dvcqg"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(row.contains("yes") && row.contains("closed"), "{table}");
    assert!(table.lines().any(|l| l.starts_with("vdxp")), "{table}");
    let o = lienthong(&[
        "partners", "ping", "--url", &url, "--token", OPERATOR, "--format", "json",
    ])
    .await;
    let v: serde_json::Value = serde_json::from_str(&out(&o)).expect("json");
    assert_eq!(v["partners"][0]["reachable"], true, "{v}");

    // The catalogue, once fetched.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let o = lienthong(&["catalogue", "--url", &url, "--token", OPERATOR]).await;
        assert_eq!(o.status.code(), Some(0), "{}", err(&o));
        if out(&o).starts_with("CODE") && !out(&o).contains("\n0 procedure(s)") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{}", out(&o));
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // Resync: in step, as a table and as JSON; a reason is needed to repair.
    let o = lienthong(&[
        "resync",
        &code,
        "--dry-run",
        "--url",
        &url,
        "--token",
        OPERATOR,
    ])
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(
        out(&o).contains("in step: nothing to repair"),
        "{}",
        out(&o)
    );
    assert!(out(&o).contains("status"), "{}", out(&o));
    let o = lienthong(&[
        "resync",
        &code,
        "--dry-run",
        "--url",
        &url,
        "--token",
        OPERATOR,
        "--format",
        "json",
    ])
    .await;
    let v: serde_json::Value = serde_json::from_str(&out(&o)).expect("json");
    assert_eq!(
        (&v["in_step"], &v["portal"]["found"]),
        (&serde_json::json!(true), &serde_json::json!(true)),
        "{v}"
    );
    let o = lienthong(&["resync", &code, "--url", &url, "--token", OPERATOR]).await;
    assert_ne!(o.status.code(), Some(0));
    assert!(err(&o).contains("--reason"), "{}", err(&o));
    let o = lienthong(&[
        "resync",
        "NO-SUCH-CODE",
        "--dry-run",
        "--url",
        &url,
        "--token",
        OPERATOR,
    ])
    .await;
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("not found"), "{}", err(&o));
    gateway.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
