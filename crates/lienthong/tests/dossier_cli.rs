//! `lienthong convert`, `validate` and `gen` as a user runs them.

use serde_json::{Value, json};
use std::io::Write;
use std::process::{Command, Output, Stdio};

fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lienthong"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut input = child.stdin.take().expect("stdin");
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || input.write_all(&data));
    let out = child.wait_with_output().expect("wait");
    let _ = writer.join();
    out
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exit code")
}

fn generated(count: usize, seed: u64) -> Vec<u8> {
    let o = run(
        &[
            "gen",
            "dossiers",
            "--count",
            &count.to_string(),
            "--seed",
            &seed.to_string(),
        ],
        b"",
    );
    assert_eq!(code(&o), 0);
    o.stdout
}

fn findings(o: &Output, from_stdout: bool) -> Vec<Value> {
    let bytes = if from_stdout { &o.stdout } else { &o.stderr };
    if bytes.is_empty() {
        return Vec::new();
    }
    match serde_json::from_slice(bytes).expect("findings as JSON") {
        Value::Array(a) => a,
        other => panic!("expected an array, found {other}"),
    }
}

#[test]
fn gen_is_deterministic_ndjson() {
    let a = generated(25, 9);
    assert_eq!(a, generated(25, 9));
    assert_ne!(a, generated(25, 10));
    let lines: Vec<&[u8]> = a.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 25);
    for l in lines {
        let v: Value = serde_json::from_slice(l).expect("each line is JSON");
        assert!(v["code"].is_string() && v["version"].is_u64());
    }
    let p = run(&["gen", "progress", "--count", "7", "--seed", "9"], b"");
    assert_eq!(code(&p), 0);
    let first: Value =
        serde_json::from_slice(p.stdout.split(|b| *b == b'\n').next().expect("line"))
            .expect("json");
    let d: Value =
        serde_json::from_slice(a.split(|b| *b == b'\n').next().expect("line")).expect("json");
    assert_eq!(first["dossier_code"], d["code"]);
    assert_eq!(first["step_seq"], 1);
}

#[test]
fn convert_keeps_the_framing_and_round_trips() {
    let input = generated(40, 3);
    let o = run(
        &["convert", "--from", "provincial", "--to", "dvcqg"],
        &input,
    );
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let items: Vec<Value> = o
        .stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("NDJSON out"))
        .collect();
    assert_eq!(items.len(), 40);
    assert!(
        items.iter().all(|i| i["MaHoSo"].is_string()
            && i["NgayTiepNhan"].as_str().is_some_and(|s| s.len() == 14))
    );
    // keys in the order of dvcqg.md §6.2
    let line = String::from_utf8_lossy(&o.stdout);
    let first = line.lines().next().expect("line");
    let pos = |k: &str| {
        first
            .find(&format!("\"{k}\""))
            .unwrap_or_else(|| panic!("{k}"))
    };
    assert!(pos("MaHoSo") < pos("MaTTHC") && pos("TrangThaiHoSo") < pos("DonViXuLy"));

    // back to provincial, then to DVCQG again: the same items
    let back = run(
        &["convert", "--from", "dvcqg", "--to", "provincial"],
        &o.stdout,
    );
    assert_eq!(code(&back), 0, "{}", String::from_utf8_lossy(&back.stderr));
    let again = run(
        &["convert", "--from", "provincial", "--to", "dvcqg"],
        &back.stdout,
    );
    assert_eq!(code(&again), 0);
    assert_eq!(again.stdout, o.stdout);

    // one document in, one pretty document out
    let one = input.split(|b| *b == b'\n').next().expect("line");
    let o = run(
        &["convert", "--from", "provincial", "--to", "dvcqg", "-"],
        one,
    );
    assert_eq!(code(&o), 0);
    assert!(o.stdout.starts_with(b"{\n  \"MaHoSo\""));
}

fn example() -> Value {
    let line = generated(1, 21);
    serde_json::from_slice(line.split(|b| *b == b'\n').next().expect("line")).expect("json")
}

#[test]
fn broken_fields_are_reported_at_their_path() {
    type Breakage = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Breakage)> = vec![
        (
            "/code",
            Box::new(|v: &mut Value| {
                v.as_object_mut().expect("obj").remove("code");
            }),
        ),
        (
            "/version",
            Box::new(|v: &mut Value| v["version"] = json!("2")),
        ),
        (
            "/status",
            Box::new(|v: &mut Value| v["status"] = json!("done")),
        ),
        (
            "/channel",
            Box::new(|v: &mut Value| v["channel"] = json!(2)),
        ),
        (
            "/received_at",
            Box::new(|v: &mut Value| v["received_at"] = json!("2025-03-14 09:15")),
        ),
        (
            "/unit/code",
            Box::new(|v: &mut Value| {
                v["unit"].as_object_mut().expect("obj").remove("code");
            }),
        ),
        (
            "/applicant/name",
            Box::new(|v: &mut Value| v["applicant"]["name"] = json!("")),
        ),
        (
            "/applicant/email",
            Box::new(|v: &mut Value| v["applicant"]["email"] = json!("không có")),
        ),
        (
            "/procedure/code",
            Box::new(|v: &mut Value| v["procedure"]["code"] = json!("TTHC-01")),
        ),
        (
            "/submitted_documents/0/name",
            Box::new(|v: &mut Value| v["submitted_documents"][0]["name"] = json!(null)),
        ),
        (
            "/colour",
            Box::new(|v: &mut Value| v["colour"] = json!("red")),
        ),
        (
            "/due_at",
            Box::new(|v: &mut Value| v["due_at"] = json!("2020-01-01T00:00:00+07:00")),
        ),
        (
            "/summary",
            Box::new(|v: &mut Value| v["summary"] = json!("x".repeat(70_000))),
        ),
    ];
    for (path, breakage) in cases {
        let mut v = example();
        breakage(&mut v);
        let o = run(&["validate", "--format", "json"], v.to_string().as_bytes());
        assert_eq!(
            code(&o),
            1,
            "{path}: {}",
            String::from_utf8_lossy(&o.stdout)
        );
        let f = findings(&o, true);
        assert!(
            f.iter()
                .any(|x| x["severity"] == "error" && x["path"] == path),
            "{path}: {f:?}"
        );
    }
}

#[test]
fn identity_numbers_are_not_echoed() {
    let mut v = example();
    v["applicant"]["identity_documents"] = json!([{"kind": "citizen_id", "number": "0401234"}]);
    let o = run(&["validate"], v.to_string().as_bytes());
    assert_eq!(code(&o), 1);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("/applicant/identity_documents/0/number"),
        "{out}"
    );
    assert!(
        !out.contains("0401234"),
        "personal data in a finding: {out}"
    );
}

#[test]
fn long_summaries_are_truncated_with_a_warning() {
    let mut v = example();
    v["summary"] = json!("Đề nghị ".repeat(200));
    let o = run(
        &[
            "convert",
            "--from",
            "provincial",
            "--to",
            "dvcqg",
            "--format",
            "json",
        ],
        v.to_string().as_bytes(),
    );
    assert_eq!(code(&o), 0);
    let item: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(
        item["TrichYeuHoSo"].as_str().map(|s| s.chars().count()),
        Some(1000)
    );
    let f = findings(&o, false);
    assert!(
        f.iter()
            .any(|x| x["severity"] == "warning" && x["path"] == "/summary"),
        "{f:?}"
    );
}

#[test]
fn unreadable_inputs_and_format_detection() {
    // not JSON at all (and not XML): 2
    let o = run(&["validate"], b"{\"code\": ");
    assert_eq!(code(&o), 2);
    assert!(String::from_utf8_lossy(&o.stdout).contains("not valid JSON"));
    let o = run(
        &["convert", "--from", "provincial", "--to", "dvcqg"],
        b"{\"code\": \"\xff\"}",
    );
    assert_eq!(code(&o), 2);
    // NDJSON with one bad line: the good lines are converted, the bad one named
    let mut input = generated(3, 4);
    input.extend_from_slice(b"{broken\n");
    let o = run(
        &["convert", "--from", "provincial", "--to", "dvcqg"],
        &input,
    );
    assert_eq!(code(&o), 2);
    assert_eq!(
        o.stdout
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .count(),
        3
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("line 4: not valid JSON"));
    // DVCQG items are recognised and checked
    let item = json!({"MaHoSo": "000.00.12.H41-250314-0007", "MaTTHC": "2.000477", "TrangThaiHoSo": "12", "NgayTiepNhan": "2025-03-14"});
    let o = run(
        &["validate", "--format", "json"],
        item.to_string().as_bytes(),
    );
    assert_eq!(code(&o), 1);
    let f = findings(&o, true);
    assert!(f.iter().any(|x| x["path"] == "/TrangThaiHoSo"), "{f:?}");
    assert!(f.iter().any(|x| x["path"] == "/NgayTiepNhan"), "{f:?}");
    // edXML is recognised
    let o = run(
        &["validate"],
        b"<edXML xmlns=\"http://www.mic.gov.vn/TBT/QCVN_102_2016\"/>",
    );
    assert_eq!(code(&o), 2);
    assert!(String::from_utf8_lossy(&o.stdout).contains("edXMLEnvelope"));
}

#[test]
fn configured_identifier_rules() {
    let mut v = example();
    let local = v["procedure"]["code"].as_str().expect("code").to_owned();
    let arg = format!("{local}=1.000001");
    let o = run(
        &[
            "convert",
            "--from",
            "provincial",
            "--to",
            "dvcqg",
            "--procedure-map",
            &arg,
        ],
        v.to_string().as_bytes(),
    );
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let item: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(item["MaTTHC"], "1.000001");
    // an own unit code outside the strict form is an error unless configured
    v["unit"]["code"] = json!("H41.12");
    let o = run(&["validate", "--format", "json"], v.to_string().as_bytes());
    assert_eq!(code(&o), 1);
    assert!(
        findings(&o, true)
            .iter()
            .any(|x| x["path"] == "/unit/code" && x["severity"] == "error")
    );
    let o = run(
        &["validate", "--own-code", "H41.12"],
        v.to_string().as_bytes(),
    );
    assert!(!String::from_utf8_lossy(&o.stdout).contains("/unit/code"));
    let o = run(
        &[
            "convert",
            "--from",
            "provincial",
            "--to",
            "dvcqg",
            "--procedure-map",
            "nonsense",
        ],
        b"{}",
    );
    assert_eq!(code(&o), 2, "a usage error");
}
