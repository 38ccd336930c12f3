//! Property tests: model → write → read == model, and write is a fixed point of
//! read-then-write, for arbitrary documents and statuses (Vietnamese text, markup
//! characters, multi-line values, any number of recipients, attachments of any bytes).

use lienthong_edxml::message::{EdocMessage, EncodedAttachment, Message, Reference, StatusMessage};
use lienthong_edxml::{Base64Content, read, to_vec};
use lienthong_model::{
    Business, BusinessDocumentInfo, Document, DocumentCode, DocumentId, DocumentType, LenientDate,
    LenientTimestamp, OrganId, Organisation, OtherInfo, Promulgation, Receiver, ReplacementInfo,
    ResponseFor, SignerInfo, StaffInfo, StatusCode, StatusReport, TraceEntry,
};
use proptest::collection::vec;
use proptest::option::of;
use proptest::prelude::*;

/// A value as the reader returns it: trimmed, non-empty, no CR (line breaks are LF).
fn value() -> impl Strategy<Value = String> {
    "[A-Za-z0-9ăâđêôơưĂÂĐÊÔƠƯáàảãạếềểễệốồổỗộớờởỡợứừửữựíìỉĩịýỳỷỹỵ &<>\"'/.,:;()\n\t-]{1,40}"
        .prop_map(|s| s.trim_matches([' ', '\t', '\n']).to_owned())
        .prop_filter("non-empty, not null", |s| {
            !s.is_empty() && !s.eq_ignore_ascii_case("null")
        })
}

fn id() -> impl Strategy<Value = String> {
    "[0-9A-Za-z.,/:-]{1,30}".prop_filter("not null", |s| !s.eq_ignore_ascii_case("null"))
}

fn organ_id() -> impl Strategy<Value = OrganId> {
    prop_oneof![
        "[0-9]{3}\\.[0-9]{2}\\.[0-9]{2}\\.[AGH][0-9]{2}",
        "[0-9]{2}\\.[0-9]{2}\\.[A-Z][0-9]{2}",
        id(),
    ]
    .prop_filter_map("organ id", |s| OrganId::parse_lenient(&s))
}

fn org() -> impl Strategy<Value = Organisation> {
    (
        organ_id(),
        of(value()),
        of(value()),
        of(value()),
        of(value()),
        of(value()),
        of(value()),
        of(value()),
    )
        .prop_map(|(id, ic, n, a, e, t, f, w)| Organisation {
            organ_id: Some(id),
            organization_in_charge: ic,
            organ_name: n,
            organ_add: a,
            email: e,
            telephone: t,
            fax: f,
            website: w,
        })
}

fn date() -> impl Strategy<Value = LenientDate> {
    prop_oneof!["[0-9]{4}/[0-9]{2}/[0-9]{2}", value()]
        .prop_filter_map("date", |s| LenientDate::new(&s))
}

fn timestamp() -> impl Strategy<Value = LenientTimestamp> {
    prop_oneof![
        "[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}",
        value()
    ]
    .prop_filter_map("timestamp", |s| LenientTimestamp::new(&s))
}

fn document_id() -> impl Strategy<Value = DocumentId> {
    id().prop_filter_map("doc id", |s| DocumentId::parse_lenient(&s))
}

fn response_for() -> impl Strategy<Value = ResponseFor> {
    (document_id(), of(organ_id()), of(id()), of(date())).prop_map(|(d, o, c, p)| ResponseFor {
        organ_id: o,
        code: c,
        document_id: Some(d),
        promulgation_date: p,
    })
}

fn staff() -> impl Strategy<Value = StaffInfo> {
    (value(), of(value()), of(value()), of(value())).prop_map(|(d, s, e, m)| StaffInfo {
        department: Some(d),
        staff: s,
        email: e,
        mobile: m,
    })
}

fn trace() -> impl Strategy<Value = TraceEntry> {
    (of(organ_id()), timestamp()).prop_map(|(o, t)| TraceEntry {
        organ_id: o,
        timestamp: Some(t),
    })
}

fn business() -> impl Strategy<Value = Business> {
    (
        of(document_id()),
        "[0-3]",
        of(value()),
        of("[0-9]"),
        of((of("[01]"), of("[01]"), vec((organ_id(), "[01]"), 0..3))),
        vec((of(document_id()), vec(organ_id(), 1..3)), 0..3),
        of(staff()),
    )
        .prop_map(|(d, t, r, p, info, reps, s)| Business {
            document_id: d,
            doc_type: Some(t),
            reason: r,
            paper: p,
            document_info: info
                .map(|(a, b, recv)| BusinessDocumentInfo {
                    document_info: a,
                    document_receiver: b,
                    receivers: recv
                        .into_iter()
                        .map(|(o, t)| Receiver {
                            organ_id: Some(o),
                            receiver_type: Some(t),
                        })
                        .collect(),
                })
                .filter(|i| *i != BusinessDocumentInfo::default()),
            replacements: reps
                .into_iter()
                .map(|(d, o)| ReplacementInfo {
                    document_id: d,
                    organ_ids: o,
                })
                .collect(),
            staff: s,
        })
}

fn attachment() -> impl Strategy<Value = (Reference, EncodedAttachment)> {
    (
        "[0-9a-f]{1,12}",
        value(),
        of(value()),
        vec(any::<u8>(), 0..600),
    )
        .prop_map(|(cid, name, descr, bytes)| {
            let cid = format!("cid:{cid}");
            let reference = Reference {
                content_id: Some(cid.clone()),
                content_type: Some("application/zip".to_owned()),
                description: descr.clone(),
                attachment_name: Some(name.clone()),
            };
            let att = EncodedAttachment {
                content_id: Some(cid),
                attachment_name: Some(name),
                description: descr,
                content_type: Some("application/zip".to_owned()),
                content: (!bytes.is_empty()).then(|| Base64Content::encode(&bytes)),
            };
            (reference, att)
        })
}

fn document() -> impl Strategy<Value = Document> {
    let head = (
        of(org()),
        vec(org(), 0..4),
        of(document_id()),
        of((of(id()), id())),
        of((of(value()), date())),
        of((value(), of("[0-9]"), of(value()))),
        of(value()),
        of(value()),
    );
    let tail = (
        of((value(), of(value()), of(value()))),
        of(date()),
        of((
            of("[0-4]"),
            value(),
            of(value()),
            of("[0-9]{1,3}"),
            vec(value(), 0..3),
        )),
        vec(response_for(), 0..3),
        of("[0-3]"),
        vec(value(), 0..3),
        vec(trace(), 0..3),
        of(business()),
    );
    (head, tail).prop_map(
        |(
            (from, to, document_id, code, prom, dtype, subject, content),
            (signer, due_date, other, response_for, steering, to_places, trace, business),
        )| Document {
            from,
            to,
            document_id,
            code: code.map(|(n, x)| DocumentCode {
                number: n,
                notation: Some(x),
            }),
            promulgation: prom.map(|(place, d)| Promulgation {
                place,
                date: Some(d),
            }),
            document_type: dtype.map(|(name, code, detail)| DocumentType {
                type_code: code,
                type_detail: detail,
                type_name: Some(name),
            }),
            subject,
            content,
            signer: signer.map(|(c, p, f)| SignerInfo {
                competence: Some(c),
                position: p,
                full_name: f,
            }),
            due_date,
            other_info: other.map(|(prio, sphere, typer, amount, appendixes)| OtherInfo {
                priority: prio,
                sphere_of_promulgation: Some(sphere),
                typer_notation: typer,
                promulgation_amount: amount,
                page_amount: None,
                direction: Some("false".to_owned()),
                appendixes,
            }),
            response_for,
            steering_type: steering,
            to_places,
            trace,
            business,
        },
    )
}

fn edoc() -> impl Strategy<Value = Message> {
    (document(), vec(attachment(), 0..3)).prop_map(|(document, atts)| {
        let (references, attachments) = atts.into_iter().unzip();
        Message::Edoc(EdocMessage {
            document,
            signature: None,
            manifest_version: Some("1.0".to_owned()),
            references,
            attachments,
        })
    })
}

fn status() -> impl Strategy<Value = Message> {
    (
        of(org()),
        of(response_for()),
        of(staff()),
        prop_oneof!["0[1-6]", "1[356]", "[0-9]{1,3}", value()],
        of(value()),
        of(timestamp()),
        vec(trace(), 0..2),
    )
        .prop_map(|(from, rf, staff, code, description, timestamp, trace)| {
            Message::Status(StatusMessage {
                status: StatusReport {
                    from,
                    response_for: rf,
                    staff,
                    status_code: StatusCode::new(&code),
                    description,
                    timestamp,
                    trace,
                },
            })
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn edoc_write_then_read_is_identity(m in edoc()) {
        let bytes = to_vec(&m);
        let back = read(bytes.clone()).map_err(|e| TestCaseError::fail(format!("{e}\n{}", String::from_utf8_lossy(&bytes))))?;
        prop_assert_eq!(&back.message, &m);
        prop_assert!(back.findings.is_empty(), "{:?}", back.findings);
        // and the writer is a fixed point
        prop_assert_eq!(to_vec(&back.message), bytes);
    }

    #[test]
    fn status_write_then_read_is_identity(m in status()) {
        let bytes = to_vec(&m);
        let back = read(bytes.clone()).map_err(|e| TestCaseError::fail(format!("{e}\n{}", String::from_utf8_lossy(&bytes))))?;
        prop_assert_eq!(&back.message, &m);
        prop_assert!(back.findings.is_empty(), "{:?}", back.findings);
        prop_assert_eq!(to_vec(&back.message), bytes);
    }

    #[test]
    fn attachment_bytes_survive(data in vec(any::<u8>(), 0..5000)) {
        let c = Base64Content::encode(&data);
        prop_assert_eq!(c.decode().ok(), Some(data.clone()));
        let d = c.digest().map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(d.bytes, data.len() as u64);
    }
}
