//! `lienthong journal search|timeline|purge` and `lienthong report` on a journal filled
//! through the library (SQLite file), as an operator runs them.

use jiff::Timestamp;
use lienthong_journal::messages::{Direction, MessageRecord, Outcome};
use lienthong_journal::state::IncomingVersion;
use lienthong_journal::{Journal, JournalOptions, Key, PersonalData};
use lienthong_provincial::generate::Generator;
use lienthong_provincial::write::dossier_json;
use std::process::{Command, Output};

const KEY_HEX: &str = "2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a";

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lienthong"))
        .args(args)
        .env_remove("LIENTHONG_JOURNAL_URL")
        .env("LIENTHONG_JOURNAL_KEY", KEY_HEX)
        .output()
        .expect("run")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("utf8")
}

/// A journal with 60 generated dossiers and one message with a personal body.
fn fill(dir: &std::path::Path) -> (String, String) {
    let url = format!("sqlite://{}/j.db", dir.display());
    let rt = tokio::runtime::Runtime::new().expect("rt");
    let code = rt.block_on(async {
        let mut o = JournalOptions::new(&url);
        o.personal_data = PersonalData {
            fields: vec!["phone".into(), "identity_documents".into()],
            key: Some(Key::parse(KEY_HEX).expect("key")),
            encrypt_opaque: true,
        };
        let j = Journal::open(&o).await.expect("open");
        let mut g = Generator::new(5);
        let mut first = String::new();
        for _ in 0..60 {
            for d in g.story().versions {
                if first.is_empty() {
                    first = d.code.clone();
                }
                let body = dossier_json(&d);
                j.record_version(&IncomingVersion {
                    dossier: &d,
                    body: body.as_bytes(),
                    body_kind: "provincial.dossier",
                    source: "mc-nghean",
                    at: d
                        .received_at
                        .or(d.submitted_at)
                        .unwrap_or(Timestamp::UNIX_EPOCH),
                })
                .await
                .expect("record");
            }
        }
        let body = br#"{"code":"X","applicant":{"phone":"0912345678"}}"#;
        let mut m = MessageRecord::new(
            "msg-1",
            Direction::Out,
            "dvcqg",
            "dvcqg.DongBoHoSoMC",
            body,
            "2025-03-03T02:00:00Z".parse().expect("t"),
        );
        m.dossier_code = Some(first.clone());
        m.outcome = Outcome::Accepted;
        m.attempts = 1;
        m.answer_code = Some("0".into());
        j.log_message(&m, Some(body)).await.expect("log");
        j.close().await;
        first
    });
    (url, code)
}

#[test]
fn search_timeline_report_and_purge() {
    let dir = std::env::temp_dir().join(format!("lienthong-cli-journal-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let (url, code) = fill(&dir);

    let o = run(&["journal", "search", "--dossier", &code, "--journal", &url]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = stdout(&o);
    assert!(
        text.contains("msg-1") && text.contains("accepted"),
        "{text}"
    );

    // Bodies are masked unless revealed (the key comes from the environment).
    let o = run(&[
        "journal",
        "search",
        "--partner",
        "dvcqg",
        "--bodies",
        "--journal",
        &url,
    ]);
    let text = stdout(&o);
    assert!(
        text.contains(r#""phone":"***""#) && !text.contains("0912345678"),
        "{text}"
    );
    let o = run(&[
        "journal",
        "search",
        "--doc",
        "none",
        "--journal",
        &url,
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["items"].as_array().map(Vec::len), Some(0));
    let o = run(&[
        "journal",
        "search",
        "--partner",
        "dvcqg",
        "--bodies",
        "--reveal",
        "--journal",
        &url,
    ]);
    assert!(stdout(&o).contains("0912345678"));

    // The journal URL can come from a configuration file.
    let cfg = dir.join("lienthong.json");
    std::fs::write(&cfg, format!(r#"{{"journal":{{"url":"{url}"}}}}"#)).expect("cfg");
    let o = run(&[
        "journal",
        "timeline",
        &code,
        "--config",
        cfg.to_str().expect("p"),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = stdout(&o);
    assert!(text.contains("version 1 from mc-nghean"), "{text}");
    assert!(text.contains("out dvcqg dvcqg.DongBoHoSoMC"), "{text}");
    let o = run(&["journal", "timeline", "NO-SUCH", "--journal", &url]);
    assert_eq!(o.status.code(), Some(1));

    let o = run(&[
        "report",
        "--from",
        "2025-01-01",
        "--to",
        "2025-12-31",
        "--journal",
        &url,
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let table = stdout(&o);
    assert!(
        table.contains("Tiếp nhận") && table.contains("Received"),
        "{table}"
    );
    assert!(table.contains("Tổng / Total"));
    let o = run(&[
        "report",
        "--from",
        "2025-01-01",
        "--to",
        "2025-12-31",
        "--by",
        "department",
        "--format",
        "json",
        "--journal",
        &url,
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["total"]["received"], 60);
    let rows = v["rows"].as_array().expect("rows");
    let sum: u64 = rows
        .iter()
        .map(|r| r["received"].as_u64().expect("n"))
        .sum();
    assert_eq!(sum, 60);
    let o = run(&[
        "report",
        "--from",
        "2025-01-01",
        "--to",
        "2025-12-31",
        "--by",
        "agency",
        "--format",
        "csv",
        "--journal",
        &url,
    ]);
    let csv = stdout(&o);
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .expect("header")
            .starts_with("agency,received,online,")
    );
    assert!(csv.contains("000.00.00.H41,60,"), "{csv}");
    assert!(csv.lines().last().expect("total").starts_with("total,60,"));
    let o = run(&[
        "report",
        "--from",
        "2025-02-01",
        "--to",
        "2025-01-01",
        "--journal",
        &url,
    ]);
    assert_eq!(o.status.code(), Some(2));

    let o = run(&["journal", "purge", "--days", "0", "--journal", &url]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout(&o).contains("1 messages"), "{}", stdout(&o));
    if std::env::var_os("LIENTHONG_KEEP_TEST_JOURNAL").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn unusable_journal_is_a_usage_error() {
    let o = run(&["journal", "search", "--journal", "mysql://x/y"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("sqlite: or postgres:"));
}

/// `journal load`: generated dossiers and steps go in through the same checks as `validate`;
/// loading again changes nothing; a refused line is reported and makes the exit code 1; the
/// report then counts what was loaded.
#[test]
fn load_records_generated_dossiers_once_and_refuses_bad_lines() {
    let dir = std::env::temp_dir().join(format!("lienthong-journal-load-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let url = format!("sqlite://{}/j.db", dir.display());
    let dossiers = dir.join("d.ndjson");
    let generated = run(&["gen", "dossiers", "--count", "300", "--seed", "11"]);
    assert!(generated.status.success());
    std::fs::write(&dossiers, &generated.stdout).expect("write");
    let versions = generated
        .stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .count();

    let o = run(&[
        "journal",
        "--journal",
        &url,
        "load",
        dossiers.to_str().expect("path"),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        stdout(&o).contains(&format!("recorded: {versions} current versions, 0 stale")),
        "{}",
        stdout(&o)
    );
    // Again: every version is a duplicate.
    let o = run(&[
        "journal",
        "--journal",
        &url,
        "load",
        dossiers.to_str().expect("path"),
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stdout(&o).contains(&format!(
            "0 progress steps, {versions} duplicates; refused: 0"
        )),
        "{}",
        stdout(&o)
    );
    // A refused line: reported with its line number, nothing recorded from it.
    let bad = dir.join("bad.ndjson");
    let first = String::from_utf8(generated.stdout.clone()).expect("utf8");
    let first = first.lines().next().expect("a line");
    let broken = first.replacen("\"version\":1", "\"version\":\"one\"", 1);
    assert_ne!(broken, first);
    std::fs::write(&bad, format!("{first}\n{broken}\n")).expect("write");
    let o = run(&[
        "journal",
        "--journal",
        &url,
        "load",
        bad.to_str().expect("path"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("line 2"), "{err}");
    assert!(stdout(&o).contains("refused: 1"), "{}", stdout(&o));

    let o = run(&[
        "report",
        "--journal",
        &url,
        "--from",
        "2000-01-01",
        "--to",
        "2099-12-31",
        "--format",
        "json",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let text = v.to_string();
    assert!(text.contains("\"received\""), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
