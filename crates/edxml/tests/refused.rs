//! Inputs that are not edXML messages at all: each refused with one clear error finding
//! (where, what was expected, what was found), never a panic.

use lienthong_edxml::{ReadError, read};

const NS: &str = "http://www.mic.gov.vn/TBT/QCVN_102_2016";

fn refused(input: impl Into<Vec<u8>>) -> ReadError {
    match read(input.into()) {
        Ok(p) => panic!("expected a refusal, read {:?}", p.message.kind()),
        Err(e) => {
            assert!(e.finding.is_error());
            assert!(!e.finding.path.is_empty());
            e
        }
    }
}

fn sample() -> Vec<u8> {
    let p =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/edoc_update.edxml");
    std::fs::read(p).expect("sample")
}

#[test]
fn empty_and_not_xml() {
    assert!(refused("").finding.message.contains("empty"));
    let e = refused("this is a PDF, not XML");
    assert!(e.finding.message.contains("not XML"), "{e}");
    assert_eq!(
        e.finding.found.as_deref(),
        Some("\"this is a PDF, not XML\"")
    );
    let e = refused(b"%PDF-1.4 \x00\x01 < binary".to_vec());
    assert!(e.finding.message.contains("XML"), "{e}");
}

#[test]
fn truncated_messages() {
    let full = sample();
    for cut in [100, 1000, 5000, 10_000, full.len() / 2, full.len() - 20] {
        let e = refused(full[..cut].to_vec());
        let m = &e.finding.message;
        assert!(
            m.contains("truncated") || m.contains("not well-formed"),
            "cut at {cut}: {e}"
        );
        assert!(e.finding.path.starts_with("/edXML"), "cut at {cut}: {e}");
    }
}

#[test]
fn entity_expansion_is_refused() {
    let xml = format!(
        r#"<?xml version="1.0"?>
<!DOCTYPE edXML [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<edXML xmlns="{NS}"><edXMLEnvelope><edXMLHeader><MessageHeader><Subject>&lol2;</Subject></MessageHeader></edXMLHeader></edXMLEnvelope></edXML>"#
    );
    let e = refused(xml);
    assert!(
        e.finding.message.contains("&lol2;") && e.finding.message.contains("never expanded"),
        "{e}"
    );
    assert_eq!(
        e.finding.path,
        "/edXML/edXMLEnvelope/edXMLHeader/MessageHeader/Subject"
    );

    let xxe = format!(
        r#"<!DOCTYPE edXML [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<edXML xmlns="{NS}"><edXMLEnvelope><edXMLHeader><MessageHeader><Subject>&x;</Subject></MessageHeader></edXMLHeader></edXMLEnvelope></edXML>"#
    );
    assert!(refused(xxe).finding.message.contains("&x;"));
}

#[test]
fn deep_nesting_is_refused() {
    let depth = 10_000;
    let mut xml = format!(r#"<edXML xmlns="{NS}"><edXMLEnvelope><edXMLHeader><MessageHeader>"#);
    xml.push_str(&"<a>".repeat(depth));
    xml.push_str(&"</a>".repeat(depth));
    xml.push_str("</MessageHeader></edXMLHeader></edXMLEnvelope></edXML>");
    let e = refused(xml);
    assert!(e.finding.message.contains("nested deeper"), "{e}");
}

#[test]
fn invalid_utf8_is_refused_with_its_position() {
    let mut bytes = sample();
    let at = bytes
        .windows(9)
        .position(|w| w == b"<edXML:Su")
        .expect("Subject")
        + 15;
    bytes[at] = 0xFF;
    let line = bytes[..at].iter().filter(|b| **b == b'\n').count() + 1;
    let col = at
        - bytes[..at]
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |p| p + 1)
        + 1;
    let e = refused(bytes);
    assert!(e.finding.message.contains("UTF-8"), "{e}");
    assert_eq!(
        e.finding.path,
        "/edXML/edXMLEnvelope/edXMLHeader/MessageHeader/Subject"
    );
    assert_eq!(
        e.finding.found,
        Some(format!("line {line}, column {col}")),
        "{e}"
    );
}

#[test]
fn wrong_root_and_missing_envelope_parts() {
    let e = refused(format!(r#"<Envelope xmlns="{NS}"/>"#));
    assert_eq!(e.finding.expected.as_deref(), Some("edXML"));
    assert_eq!(e.finding.found.as_deref(), Some("Envelope"));

    let e = refused(format!(
        r#"<edXML xmlns="{NS}"><AttachmentEncoded/></edXML>"#
    ));
    assert!(e.finding.message.contains("no edXMLEnvelope"), "{e}");
    assert_eq!(e.finding.path, "/edXML");

    let e = refused(format!(
        r#"<edXML xmlns="{NS}"><edXMLEnvelope><edXMLBody/></edXMLEnvelope></edXML>"#
    ));
    assert!(e.finding.message.contains("no edXMLHeader"), "{e}");

    let e = refused(format!(
        r#"<edXML xmlns="{NS}"><edXMLEnvelope><edXMLHeader><TraceHeaderList/></edXMLHeader></edXMLEnvelope></edXML>"#
    ));
    assert!(e.finding.message.contains("no MessageHeader"), "{e}");
    assert_eq!(e.finding.path, "/edXML/edXMLEnvelope/edXMLHeader");
}

#[test]
fn mismatched_tags_are_refused() {
    let e = refused(format!(
        r#"<edXML xmlns="{NS}"><edXMLEnvelope><edXMLHeader><MessageHeader><Subject>S</Content></MessageHeader></edXMLHeader></edXMLEnvelope></edXML>"#
    ));
    assert!(e.finding.message.contains("not well-formed"), "{e}");
}

#[test]
fn arbitrary_bytes_never_panic() {
    // every prefix of a real message and a few mutations of it
    let full = sample();
    let head = &full[..6000];
    for cut in (0..head.len()).step_by(97) {
        let _ = read(head[..cut].to_vec());
    }
    for (i, b) in [b'<', b'>', b'&', b'"', 0u8, 0xC3].into_iter().enumerate() {
        for at in (50..head.len()).step_by(401 + i) {
            let mut m = head.to_vec();
            m[at] = b;
            let _ = read(m);
        }
    }
}
