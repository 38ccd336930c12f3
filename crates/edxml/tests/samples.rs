//! Data-driven tests over the official SDK example messages (`tests/data`, copied from
//! `shared/samples/edxml`): the facts of every message, checked against `facts.json`, which
//! an independent reader (`tests/oracle/facts.py`, Python's ElementTree) produced.

use lienthong_edxml::message::Message;
use lienthong_edxml::{check, read, summarize, to_vec};
use std::path::PathBuf;

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn data(name: &str) -> Vec<u8> {
    std::fs::read(data_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn expected_facts() -> serde_json::Map<String, serde_json::Value> {
    let text = std::fs::read_to_string(data_dir().join("facts.json")).expect("facts.json");
    match serde_json::from_str(&text).expect("facts.json is JSON") {
        serde_json::Value::Object(m) => m,
        other => panic!("facts.json: expected an object, found {other}"),
    }
}

#[test]
fn facts_of_every_sample_match_the_independent_reader() {
    let facts = expected_facts();
    assert_eq!(facts.len(), 13);
    for (name, want) in &facts {
        let parsed = read(data(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let checked = check(&parsed.message);
        let got = serde_json::to_value(summarize(&parsed.message, &checked)).expect("json");
        assert_eq!(&got, want, "{name}");
        let errors: Vec<_> = parsed
            .findings
            .iter()
            .chain(&checked.findings)
            .filter(|f| f.is_error())
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:?}");
    }
}

#[test]
fn stray_bytes_before_the_declaration_are_a_warning() {
    let parsed = read(data("edoc_new.edxml")).expect("edoc_new");
    let f = parsed
        .findings
        .iter()
        .find(|f| f.message.contains("before the XML declaration"))
        .expect("a finding about the 4 stray bytes");
    assert!(!f.is_error());
    assert_eq!(f.found.as_deref(), Some("\"1212\""));
}

#[test]
fn edoc_details_are_read() {
    let Message::Edoc(m) = read(data("edoc_update.edxml")).expect("read").message else {
        panic!("edoc_update is an edoc");
    };
    let d = &m.document;
    assert_eq!(d.to.len(), 3);
    let b = d.business.as_ref().expect("Bussiness");
    assert_eq!(b.doc_type.as_deref(), Some("2"));
    assert_eq!(
        b.document_id.as_ref().map(|x| x.as_str()),
        Some("000.00.00.G22,2014/02/30,7806/VPCP-TTĐT")
    );
    let info = b.document_info.as_ref().expect("BussinessDocumentInfo");
    let receivers: Vec<(&str, &str)> = info
        .receivers
        .iter()
        .map(|r| {
            (
                r.organ_id.as_ref().map_or("", |o| o.as_str()),
                r.receiver_type.as_deref().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(receivers, [("000.00.00.H41", "0"), ("000.00.00.H14", "1")]);
    assert_eq!(
        b.staff.as_ref().and_then(|s| s.mobile.as_deref()),
        Some("84912000001")
    );
    let other = d.other_info.as_ref().expect("OtherInfo");
    assert_eq!(other.appendixes.len(), 1);
    assert_eq!(d.to_places.len(), 2);
    assert_eq!(d.steering_type.as_deref(), Some("1"));
    assert_eq!(d.trace.len(), 1);
    let sig = m.signature.as_ref().expect("signature kept");
    assert!(sig.raw().starts_with("<Signature>") && sig.raw().ends_with("</Signature>"));
    assert!(
        sig.raw()
            .contains("<X509Certificate>MIIFqTCCBJG</X509Certificate>")
    );
    assert_eq!(m.references.len(), 1);
    assert_eq!(m.attachments.len(), 1);
    assert!(m.reference_for(&m.attachments[0]).is_some());

    let Message::Edoc(r) = read(data("edoc_replacement.edxml")).expect("read").message else {
        panic!("edoc_replacement is an edoc");
    };
    let reps = &r
        .document
        .business
        .as_ref()
        .expect("Bussiness")
        .replacements;
    assert_eq!(reps.len(), 2);
    assert_eq!(reps[1].organ_ids.len(), 2);

    let Message::Edoc(v) = read(data("edoc_revocation.edxml")).expect("read").message else {
        panic!("edoc_revocation is an edoc");
    };
    assert_eq!(v.document.response_for.len(), 1);
    assert_eq!(
        v.document.response_for[0].code.as_deref(),
        Some("267/VPCP-TTĐT")
    );
}

#[test]
fn sample_attachment_unpacks_to_its_single_zip_entry() {
    let Message::Edoc(m) = read(data("edoc_new.edxml")).expect("read").message else {
        panic!("edoc");
    };
    let a = &m.attachments[0];
    let decoded = a
        .content
        .as_ref()
        .expect("content")
        .decode()
        .expect("base64");
    let inner = lienthong_edxml::attachment::unpack_zip_of_one(
        &decoded,
        a.content_type.as_deref() == Some("application/zip"),
        a.attachment_name.as_deref(),
    )
    .expect("unzip")
    .expect("the SDK's zip of one file is unwrapped");
    // The official samples attach another (ill-formed) edXML message under a .doc name.
    assert!(
        inner.len() > decoded.len(),
        "deflated content grows when unpacked"
    );
    assert!(String::from_utf8_lossy(&inner[..200.min(inner.len())]).contains("edXML"));
}

#[test]
fn status_samples_are_written_in_the_sdk_inner_order() {
    let out = to_vec(&read(data("status_inbox_01.edxml")).expect("read").message);
    let out = String::from_utf8(out).expect("utf8");
    let pos = |s: &str| {
        out.find(s)
            .unwrap_or_else(|| panic!("{s} missing in\n{out}"))
    };
    // the hand-edited sample has OrganName first, PromulgationDate before DocumentId,
    // Mobile before Email; the SDK order is the reverse in each case
    assert!(pos("<edXML:OrganizationInCharge>") < pos("<edXML:OrganName>"));
    assert!(pos("<edXML:ResponseFor>\r\n          <edXML:OrganId>") > 0);
    assert!(pos("<edXML:DocumentId>") < pos("<edXML:PromulgationDate>"));
    assert!(pos("<edXML:Email>ngoctram") < pos("<edXML:Mobile>"));
    assert!(
        !out.contains('\t'),
        "tabs of the hand-edited sample are gone"
    );
    assert!(out.lines().all(|l| !l.ends_with(' ')), "no trailing blanks");
}
