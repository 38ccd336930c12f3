//! The `lienthong edxml` commands as a user runs them: output, findings and exit codes.

use std::path::PathBuf;
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lienthong"))
}

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../edxml/tests/data")
        .join(name)
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run lienthong")
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exit code")
}

fn temp_file(name: &str, content: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lienthong-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let p = dir.join(name);
    std::fs::write(&p, content).expect("write temp file");
    p
}

#[test]
fn inspect_prints_the_facts_of_every_sample() {
    let facts: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data("facts.json")).expect("facts.json"))
            .expect("json");
    let facts = facts.as_object().expect("object");
    assert_eq!(facts.len(), 13);
    for (name, want) in facts {
        let o = run(&["edxml", "inspect", data(name).to_str().expect("path")]);
        assert_eq!(
            code(&o),
            0,
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let got: serde_json::Value =
            serde_json::from_slice(&o.stdout).expect("inspect prints JSON");
        assert_eq!(&got, want, "{name}");
    }
}

#[test]
fn normalize_reproduces_the_sdk_samples() {
    for name in [
        "edoc_update.edxml",
        "edoc_replacement.edxml",
        "edoc_revocation.edxml",
    ] {
        let p = data(name);
        let o = run(&["edxml", "normalize", p.to_str().expect("path")]);
        assert_eq!(code(&o), 0);
        assert!(
            o.stdout == std::fs::read(&p).expect("sample"),
            "{name} differs"
        );
        assert!(
            o.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // edoc_new: warnings on stderr, strict output on stdout
    let o = run(&[
        "edxml",
        "normalize",
        data("edoc_new.edxml").to_str().expect("path"),
    ]);
    assert_eq!(code(&o), 0);
    assert!(
        o.stdout
            .starts_with(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<edXML ")
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("warning: /: 4 byte(s)"));
}

#[test]
fn validate_exit_codes_and_formats() {
    // valid (warnings allowed): 0
    let o = run(&[
        "edxml",
        "validate",
        data("edoc_new.edxml").to_str().expect("path"),
    ]);
    assert_eq!(code(&o), 0);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.lines().all(|l| l.starts_with("warning: /")), "{out}");

    // read but invalid: 1, and the message names the attachment and says base64
    let sample = std::fs::read(data("edoc_update.edxml")).expect("sample");
    let text = String::from_utf8(sample).expect("utf8");
    let start = text.find("QCVN_102_2016\">UEsDB").expect("content") + "QCVN_102_2016\">".len();
    let broken = format!("{}@@not-base64@@{}", &text[..start], &text[start + 10..]);
    let p = temp_file("broken.edxml", broken.as_bytes());
    let o = run(&[
        "edxml",
        "validate",
        "--format",
        "json",
        p.to_str().expect("path"),
    ]);
    assert_eq!(code(&o), 1);
    let findings: serde_json::Value = serde_json::from_slice(&o.stdout).expect("a JSON array");
    let errors: Vec<&serde_json::Value> = findings
        .as_array()
        .expect("array")
        .iter()
        .filter(|f| f["severity"] == "error")
        .collect();
    assert_eq!(errors.len(), 1, "{findings}");
    let msg = errors[0]["message"].as_str().expect("message");
    assert!(
        msg.contains("1896_QD-TTg_m_294779.doc") && msg.contains("base64"),
        "{msg}"
    );
    assert_eq!(
        errors[0]["path"],
        "/edXML/AttachmentEncoded/Attachment[1]/ContentTransferEncoded"
    );
    // inspect reads it too, exits 1, and reports the attachment without a digest
    let o = run(&["edxml", "inspect", p.to_str().expect("path")]);
    assert_eq!(code(&o), 1);
    let facts: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(facts["attachments"][0]["bytes"], serde_json::Value::Null);
    assert!(String::from_utf8_lossy(&o.stderr).contains("base64"));

    // not readable: 2, the finding on stdout for validate, on stderr for inspect
    let p = temp_file("not.edxml", b"hello");
    let o = run(&["edxml", "validate", p.to_str().expect("path")]);
    assert_eq!(code(&o), 2);
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("error: /: not XML"));
    let o = run(&[
        "edxml",
        "inspect",
        "--format",
        "json",
        p.to_str().expect("path"),
    ]);
    assert_eq!(code(&o), 2);
    assert!(o.stdout.is_empty());
    let f: serde_json::Value = serde_json::from_slice(&o.stderr).expect("JSON findings on stderr");
    assert_eq!(f[0]["severity"], "error");
    // missing file and usage errors: 2
    assert_eq!(code(&run(&["edxml", "inspect", "/nonexistent/x.edxml"])), 2);
    assert_eq!(code(&run(&["edxml", "inspect"])), 2);
    assert_eq!(code(&run(&["edxml", "frobnicate", "x"])), 2);
}

#[test]
fn reads_standard_input() {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = bin()
        .args(["edxml", "inspect", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let bytes = std::fs::read(data("status_finish_06.edxml")).expect("sample");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&bytes)
        .expect("write");
    let o = child.wait_with_output().expect("wait");
    assert_eq!(code(&o), 0);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["status_code"], "06");
}
