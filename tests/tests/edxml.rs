//! End to end through the `lienthong` binary: the edXML commands on real messages.

use lienthong_e2e::{base64, lienthong, samples_dir, scratch_dir};
use std::io::Write;
use std::process::Stdio;

fn inspect_bytes(bytes: &[u8]) -> serde_json::Value {
    let mut child = lienthong()
        .args(["edxml", "inspect", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = bytes.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().expect("wait");
    writer.join().expect("join").expect("write stdin");
    assert_eq!(out.status.code(), Some(0));
    serde_json::from_slice(&out.stdout).expect("json")
}

#[test]
fn normalize_keeps_every_fact_and_is_idempotent() {
    let mut n = 0;
    for entry in std::fs::read_dir(samples_dir()).expect("samples") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "edxml") {
            continue;
        }
        let once = lienthong()
            .args(["edxml", "normalize"])
            .arg(&path)
            .output()
            .expect("normalize");
        assert_eq!(once.status.code(), Some(0), "{}", path.display());
        let original = std::fs::read(&path).expect("read");
        assert_eq!(
            inspect_bytes(&original),
            inspect_bytes(&once.stdout),
            "{}",
            path.display()
        );
        let p2 = scratch_dir().join("once.edxml");
        std::fs::write(&p2, &once.stdout).expect("write");
        let twice = lienthong()
            .args(["edxml", "normalize"])
            .arg(&p2)
            .output()
            .expect("normalize");
        assert!(
            once.stdout == twice.stdout,
            "{} is not a fixed point",
            path.display()
        );
        n += 1;
    }
    assert_eq!(n, 13);
}

/// Reading a message with a 50 MB (decoded) attachment stays under 150 MB peak RSS.
#[test]
fn fifty_megabyte_attachment_in_bounded_memory() {
    const SIZE: usize = 50 * 1024 * 1024;
    // incompressible, deterministic content
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let data: Vec<u8> = (0..SIZE)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    let ns = "http://www.mic.gov.vn/TBT/QCVN_102_2016";
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<edXML xmlns=\"{ns}\"><edXML:edXMLEnvelope xmlns:edXML=\"{ns}\">\
<edXML:edXMLHeader><edXML:MessageHeader><edXML:Subject>Tệp lớn</edXML:Subject></edXML:MessageHeader></edXML:edXMLHeader>\
<edXML:edXMLBody><edXML:edXMLManifest version=\"1.0\"><edXML:Reference><edXML:ContentId>cid:1</edXML:ContentId>\
<edXML:AttachmentName>lon.pdf</edXML:AttachmentName></edXML:Reference></edXML:edXMLManifest></edXML:edXMLBody></edXML:edXMLEnvelope>\
<AttachmentEncoded><Attachment><ContentId>cid:1</ContentId><AttachmentName>lon.pdf</AttachmentName>\
<ContentType>application/pdf</ContentType><edXML:ContentTransferEncoded xmlns:edXML=\"{ns}\">{}</edXML:ContentTransferEncoded>\
</Attachment></AttachmentEncoded></edXML>",
        base64(&data)
    );
    drop(data);
    let path = scratch_dir().join("large.edxml");
    std::fs::write(&path, xml.as_bytes()).expect("write");
    drop(xml);
    let out = lienthong()
        .args(["edxml", "inspect"])
        .arg(&path)
        .env("LIENTHONG_REPORT_PEAK_RSS", "1")
        .output()
        .expect("inspect");
    let _ = std::fs::remove_file(&path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "{stderr}"
    );
    let facts: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(facts["attachments"][0]["bytes"], SIZE as u64);
    let peak_kib: u64 = stderr
        .lines()
        .find_map(|l| l.strip_prefix("peak_rss_kib="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no peak RSS report in stderr: {stderr}"));
    eprintln!(
        "peak RSS reading a 50 MB attachment: {} MiB",
        peak_kib / 1024
    );
    assert!(
        peak_kib < 150 * 1024,
        "peak RSS {peak_kib} KiB is over 150 MiB"
    );
}
