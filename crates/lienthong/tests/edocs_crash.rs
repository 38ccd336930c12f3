//! `lienthong serve` killed after `sendEdoc` reached the axis and before the gateway
//! recorded the answer: the restarted gateway asks the axis (`getSentEdocList`), records the
//! send and does not deliver the official document a second time. Then the operator
//! commands show it: `edocs list`, `edocs show`, `agencies search`, and `edocs resend` is
//! refused for a document the axis took.
//!
//! The gateway runs as a child process (SIGKILL is a real crash: no shutdown code runs);
//! the VDXP simulator runs in the test and holds its answer to `sendEdoc` back (it takes
//! the message at once and answers after 60 s), so the kill lands exactly in the window.

use base64::Engine as _;
use lienthong_sandbox::fault::NextFailure;
use lienthong_sandbox::vdxp::{SystemEntry, VdxpConfig, VdxpSim, spawn_vdxp};
use lienthong_service::auth::TokenHash;
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const CLIENT: &str = "lt_crash_vanthu";
const OPERATOR: &str = "lt_crash_operator";
const H41: &str = "000.00.00.H41";
const G22: &str = "000.00.00.G22";

fn start(config: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_lienthong"))
        .args(["serve", "--config"])
        .arg(config)
        .env("LIENTHONG_VDXP_SECRET", "secret-of-the-province")
        .env("LIENTHONG_JOURNAL_KEY", "3c".repeat(32))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start lienthong serve")
}

async fn until<F, Fut>(what: &str, secs: u64, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn get(http: &reqwest::Client, url: &str, token: &str) -> (u16, Value) {
    match http.get(url).bearer_auth(token).send().await {
        Ok(r) => {
            let s = r.status().as_u16();
            (s, r.json().await.unwrap_or(Value::Null))
        }
        Err(_) => (0, Value::Null),
    }
}

fn sends_of(sim: &VdxpSim, document_id: &str) -> usize {
    sim.sent(Some("tinh-a"))
        .iter()
        .filter(|m| m.document_id.as_deref() == Some(document_id) && m.status_code.is_none())
        .count()
}

async fn cli(args: &[&str]) -> (bool, String) {
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_lienthong"))
            .args(&args)
            .env("LIENTHONG_TOKEN", OPERATOR)
            .output()
            .expect("run lienthong");
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    })
    .await
    .expect("join")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_killed_after_send_edoc_does_not_send_again() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (vdxp_addr, sim, _t) = spawn_vdxp(VdxpConfig {
        systems: vec![
            SystemEntry {
                systemid: "tinh-a".into(),
                secret: "secret-of-the-province".into(),
                organ_ids: vec![H41.into()],
            },
            SystemEntry {
                systemid: "vpcp".into(),
                secret: "secret-of-the-office".into(),
                organ_ids: vec![G22.into()],
            },
        ],
        ..VdxpConfig::default()
    })
    .await
    .expect("simulator");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let dir = std::env::temp_dir().join(format!("lienthong-edocs-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let config = dir.join("lienthong.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[gateway]
listen = "127.0.0.1:{port}"
data_dir = "{data}"

[bus]
retry_delays_secs = [1, 2, 5]

[vdxp]
base_url = "http://{vdxp_addr}"
systemid = "tinh-a"
timeout_ms = 120000
poll_interval_secs = 1
agencies_sync_secs = 1

[[vdxp.organisations]]
organ_id = "{H41}"
organization_in_charge = "UBND Tỉnh Nghệ An"
organ_name = "UBND Tỉnh Nghệ An"
organ_add = "Số 03 đường Trường Thi, TP Vinh"
email = "vanthu@nghean.gov.vn"
telephone = "0238 3840000"
fax = "0238 3840001"
website = "nghean.gov.vn"

[[units]]
code = "{H41}"
name = "UBND Tỉnh Nghệ An"

[[clients]]
name = "vanthu"
token_sha256 = "{c}"
units = ["{H41}"]

[[operators]]
name = "lan"
token_sha256 = "{o}"
role = "operator"
"#,
            data = dir.join("data").display(),
            c = TokenHash::of(CLIENT),
            o = TokenHash::of(OPERATOR),
        ),
    )
    .expect("config");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");

    let mut child = start(&config);
    until("the gateway answers", 60, || async {
        get(&http, &format!("{base}/health"), "").await.0 == 200
    })
    .await;
    // The axis takes the next sendEdoc at once and answers only after 60 s.
    sim.push_next_failure(NextFailure {
        service: "sendEdoc".into(),
        delay_ms: Some(60_000),
        ..NextFailure::default()
    })
    .expect("fault");
    let doc = json!({
        "to": [G22],
        "code_number": "77",
        "code_notation": "UBND-VX",
        "place": "Nghệ An",
        "type_name": "Công văn",
        "subject": "V/v báo cáo kết quả giải quyết hồ sơ",
        "typer_notation": "VX",
        "attachments": [{
            "name": "77-UBND-VX.pdf",
            "content_base64": base64::engine::general_purpose::STANDARD.encode(b"%PDF-1.4 77"),
        }],
    });
    let r = http
        .post(format!("{base}/v1/edocs"))
        .bearer_auth(CLIENT)
        .json(&doc)
        .send()
        .await
        .expect("submit");
    assert_eq!(r.status().as_u16(), 202);
    let v: Value = r.json().await.expect("json");
    let id = v["id"].as_str().expect("id").to_owned();
    let document_id = v["document_id"].as_str().expect("document id").to_owned();
    until("the axis took the document", 60, || async {
        sends_of(&sim, &document_id) == 1
    })
    .await;
    // The answer is still held back: kill the gateway now.
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    sim.clear_next_failures();

    let mut child = start(&config);
    until("the restarted gateway records the send", 60, || async {
        let (s, v) = get(&http, &format!("{base}/v1/edocs/{id}"), CLIENT).await;
        s == 200 && v["state"] == "sent"
    })
    .await;
    let (_, rec) = get(&http, &format!("{base}/v1/edocs/{id}"), CLIENT).await;
    let axis_id = sim
        .sent(Some("tinh-a"))
        .iter()
        .find(|m| m.document_id.as_deref() == Some(document_id.as_str()))
        .map(|m| m.doc_id.clone())
        .expect("sent");
    assert_eq!(rec["axis_doc_id"], axis_id.as_str(), "{rec}");
    assert_eq!(
        sends_of(&sim, &document_id),
        1,
        "the document reached the axis once"
    );
    assert!(sim.calls().count("getSentEdocList", "ok") >= 1);
    // A while later it still has not been sent again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(sends_of(&sim, &document_id), 1);

    // The operator's view.
    let url = base.as_str();
    let (ok, out) = cli(&["edocs", "list", "--direction", "out", "--url", url]).await;
    assert!(ok && out.contains(&id) && out.contains("sent"), "{out}");
    let (ok, out) = cli(&["edocs", "show", &id, "--url", url]).await;
    assert!(ok && out.contains(&axis_id), "{out}");
    let (ok, out) = cli(&["edocs", "resend", &id, "--reason", "test", "--url", url]).await;
    assert!(!ok && out.contains("never sent twice"), "{out}");
    until("the agency directory is synced", 30, || async {
        let (ok, out) = cli(&["agencies", "search", "Văn phòng", "--url", url]).await;
        ok && out.contains(G22)
    })
    .await;

    child.kill().expect("kill");
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
