//! `lienthong import` against a gateway started in this process (SQLite journal, embedded
//! bus, no portal): generated dossiers and steps with a few broken lines; the import is
//! killed mid-way and run again; a crash between an answer and the saved progress is
//! replayed from the idempotency keys. The journal ends with every line recorded once.

use lienthong_journal::messages::SearchQuery;
use lienthong_service::auth::TokenHash;
use lienthong_service::config::Config;
use lienthong_service::gateway::Gateway;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const TOKEN: &str = "lt_import_client_token";

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lienthong"));
    c.env_remove("LIENTHONG_TOKEN");
    c
}

fn gen_lines(kind: &str, count: usize, seed: u64) -> Vec<String> {
    let out = bin()
        .args([
            "gen",
            kind,
            "--count",
            &count.to_string(),
            "--seed",
            &seed.to_string(),
        ])
        .output()
        .expect("gen");
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .expect("utf8")
        .lines()
        .map(str::to_string)
        .collect()
}

fn import_cmd(file: &Path, url: &str) -> Command {
    let mut c = bin();
    c.args(["import", "--url", url, "--batch", "40"])
        .arg(file)
        .env("LIENTHONG_TOKEN", TOKEN);
    c
}

async fn run(mut c: Command) -> Output {
    tokio::task::spawn_blocking(move || c.output().expect("run"))
        .await
        .expect("join")
}

fn state_line(path: &Path) -> usize {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|v| v["line"].as_u64())
        .unwrap_or(0) as usize
}

async fn start(dir: &Path) -> Gateway {
    let toml = format!(
        r#"
[gateway]
listen = "127.0.0.1:0"
data_dir = "{}"
node_name = "import-test"

[[units]]
code = "000.00.00.H41"
name = "UBND tỉnh Nghệ An"

[[clients]]
name = "backfill"
token_sha256 = "{}"
units = ["*"]
"#,
        dir.join("data").display(),
        TokenHash::of(TOKEN)
    );
    let env = |name: &str| (name == "LIENTHONG_JOURNAL_KEY").then(|| "3c".repeat(32));
    let config = Config::parse(&toml, "test", &env).expect("config");
    Gateway::start(&config, &env).await.expect("gateway")
}

/// Messages the gateway logged as received from the import's client.
async fn logged(gw: &Gateway) -> usize {
    let mut q = SearchQuery {
        partner: Some("backfill".into()),
        limit: 1000,
        ..SearchQuery::default()
    };
    let mut n = 0;
    loop {
        let page = gw.journal().search(&q).await.expect("search");
        n += page.items.len();
        match page.next {
            Some(c) => q.after = Some(c),
            None => return n,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn import_is_resumable_and_never_duplicates() {
    let dir = std::env::temp_dir().join(format!("lienthong-import-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let gw = start(&dir).await;
    let url = format!("http://{}", gw.addr());

    // The file: dossiers, then their steps, with three broken lines and a blank one.
    let mut lines = gen_lines("dossiers", 500, 11);
    lines.extend(gen_lines("progress", 120, 11));
    let mut broken = lines[7]
        .clone()
        .replace("\"version\":", "\"colour\":\"red\",\"version\":");
    lines.insert(100, std::mem::take(&mut broken));
    lines.insert(300, "{not json".into());
    lines.insert(301, String::new());
    let step = lines
        .last()
        .expect("a step")
        .replace("\"step_seq\":", "\"step_seq\":\"x\",\"old\":");
    lines.push(step);
    let refused_at = [101, 301, lines.len()];
    let file = dir.join("backfill.ndjson");
    std::fs::write(&file, lines.join("\n") + "\n").expect("write");
    let valid = lines.iter().filter(|l| !l.trim().is_empty()).count() - refused_at.len();
    let state = PathBuf::from(format!("{}.import-state", file.display()));
    let refused = PathBuf::from(format!("{}.refused.ndjson", file.display()));

    // Run 1: killed mid-way (held in maintenance so it cannot finish first).
    let mut child = import_cmd(&file, &url)
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(60);
    while state_line(&state) < 60 {
        assert!(Instant::now() < deadline, "no progress");
        assert!(
            child.try_wait().expect("wait").is_none(),
            "import ended early"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    gw.maintenance().store(true, Ordering::Relaxed);
    let snapshot = std::fs::read(&state).expect("state");
    tokio::time::sleep(Duration::from_millis(300)).await;
    child.kill().expect("SIGKILL");
    let status = child.wait().expect("wait");
    assert!(!status.success());
    let stopped_at = state_line(&state);
    assert!(stopped_at >= 60 && stopped_at < lines.len(), "{stopped_at}");
    gw.maintenance().store(false, Ordering::Relaxed);

    // Run 2: continues from the saved line and completes.
    let out = run(import_cmd(&file, &url)).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("resuming after line {stopped_at}")),
        "{err}"
    );
    let summary = err.lines().last().unwrap_or_default().to_string();
    assert!(summary.contains(", 0 duplicate, 3 refused"), "{summary}");
    let counts = |s: &str| -> Vec<u64> {
        s.split(|c: char| !c.is_ascii_digit())
            .filter_map(|x| x.parse().ok())
            .collect()
    };
    // "{file}: N line(s): A accepted, S stale, 0 duplicate, 3 refused": digits in the file
    // name come first, then N, A, S.
    let c = counts(
        summary
            .split(": ")
            .skip(1)
            .collect::<Vec<_>>()
            .join(": ")
            .as_str(),
    );
    assert_eq!(c[0] as usize, valid + 3, "{summary}");
    assert_eq!((c[1] + c[2]) as usize, valid, "{summary}");

    // Every line is in the journal once: the message log has one entry per valid line, and
    // each dossier's state is its highest version in the file.
    assert_eq!(logged(&gw).await, valid);
    let mut newest: BTreeMap<String, u64> = BTreeMap::new();
    for l in &lines {
        if let Ok(v) = serde_json::from_str::<Value>(l)
            && let (Some(code), Some(version)) = (v["code"].as_str(), v["version"].as_u64())
        {
            let e = newest.entry(code.to_string()).or_default();
            *e = (*e).max(version);
        }
    }
    for (code, version) in &newest {
        let s = gw.journal().dossier_state(code).await.expect("state");
        assert_eq!(s.map(|s| s.version), Some(*version), "{code}");
    }

    // Refused lines, with their findings.
    let text = std::fs::read_to_string(&refused).expect("refused file");
    let entries: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let at: Vec<usize> = entries
        .iter()
        .map(|e| e["line"].as_u64().unwrap_or(0) as usize)
        .collect();
    assert_eq!(at, refused_at, "{text}");
    for e in &entries {
        assert_eq!(e["status"], 400, "{e}");
        assert!(
            !e["findings"].as_array().expect("findings").is_empty(),
            "{e}"
        );
        assert!(!e["document"].is_null(), "{e}");
    }

    // A crash after the gateway answered but before the progress was saved: back to the
    // earlier state; the lines sent again get their first answers, nothing is recorded twice.
    std::fs::write(&state, &snapshot).expect("rewind");
    let again = run(import_cmd(&file, &url)).await;
    let err2 = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(1), "{err2}");
    assert_eq!(err2.lines().last().unwrap_or_default(), summary, "{err2}");
    assert_eq!(logged(&gw).await, valid);
    assert_eq!(std::fs::read_to_string(&refused).expect("refused"), text);

    // Done: a further run has nothing to send.
    let done = run(import_cmd(&file, &url)).await;
    assert_eq!(done.status.code(), Some(1));
    assert_eq!(logged(&gw).await, valid);

    gw.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn import_without_a_token_or_a_gateway_cannot_run() {
    let dir = std::env::temp_dir().join(format!("lienthong-import-x-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("one.ndjson");
    std::fs::write(&file, gen_lines("dossiers", 3, 1).join("\n")).expect("write");
    let out = bin().arg("import").arg(&file).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("LIENTHONG_TOKEN"));
    // Nothing listens on port 9 of loopback.
    let out = bin()
        .args([
            "import",
            "--url",
            "http://127.0.0.1:9",
            "--give-up-secs",
            "1",
            "--token",
            TOKEN,
        ])
        .arg(&file)
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("giving up"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
