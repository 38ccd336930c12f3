//! Business checks of a message that was read: what a receiver needs to act on it.
//!
//! Missing business fields are errors (the message cannot be used as it is); odd forms
//! that the reader can still interpret (non-standard dates, organisation codes outside the
//! 4-part form, codes outside the known tables) are warnings. Attachment content is decoded
//! here, once, which also yields each attachment's size and SHA-256.

use crate::attachment::{AttachmentDigest, DecodeError};
use crate::message::{EdocMessage, Message, StatusMessage, content_id_key};
use crate::names::{ATTACHMENT_ENCODED, BUSINESS, MANIFEST, MESSAGE_HEADER, TRACE_HEADER_LIST};
use lienthong_model::{
    Finding, KnownStatus, LenientDate, LenientTimestamp, OrganId, Organisation, ResponseFor,
};

/// Findings of a check, and the digest of every attachment whose content could be decoded
/// (same order as [`EdocMessage::attachments`]; `None` for a status message's nothing).
#[derive(Debug, Clone, Default)]
pub struct Checked {
    /// What is wrong.
    pub findings: Vec<Finding>,
    /// Per attachment: its digest, or why its content could not be decoded.
    pub digests: Vec<Result<AttachmentDigest, AttachmentProblem>>,
}

/// Why an attachment has no digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttachmentProblem {
    /// No `ContentTransferEncoded`.
    NoContent,
    /// The content is not base64.
    Invalid(DecodeError),
}

/// Checks a message; see the module docs.
pub fn validate(message: &Message) -> Vec<Finding> {
    check(message).findings
}

/// Checks a message and decodes its attachments once.
pub fn check(message: &Message) -> Checked {
    let mut c = Checked::default();
    match message {
        Message::Edoc(m) => check_edoc(m, &mut c),
        Message::Status(m) => check_status(m, &mut c.findings),
    }
    c
}

fn h(rest: &str) -> String {
    format!("{MESSAGE_HEADER}/{rest}")
}

fn organ_id(path: String, id: Option<&OrganId>, what: &str, f: &mut Vec<Finding>) {
    match id {
        None => f.push(Finding::error(
            path,
            format!("{what}: organisation code missing"),
        )),
        Some(id) if !id.is_strict() => f.push(
            Finding::warning(path, "organisation code is not in the strict 4-part form")
                .expected("NNN.NN.NN.XNN, e.g. 000.00.00.G22")
                .found(id.as_str()),
        ),
        Some(_) => {}
    }
}

fn org(path: String, o: Option<&Organisation>, what: &str, f: &mut Vec<Finding>) {
    match o {
        None => f.push(Finding::error(path, format!("{what} missing"))),
        Some(o) => organ_id(format!("{path}/OrganId"), o.organ_id.as_ref(), what, f),
    }
}

fn date(path: String, d: Option<&LenientDate>, f: &mut Vec<Finding>) {
    let Some(d) = d else { return };
    if d.is_standard() {
        return;
    }
    let msg = if d.parse().is_some() {
        "date not in the standard form; read leniently"
    } else {
        "not a valid date; kept as written"
    };
    f.push(
        Finding::warning(path, msg)
            .expected("yyyy/MM/dd")
            .found(d.as_str()),
    );
}

fn timestamp(path: String, t: Option<&LenientTimestamp>, f: &mut Vec<Finding>) {
    let Some(t) = t else { return };
    if t.is_standard() {
        return;
    }
    let msg = if t.parse().is_some() {
        "timestamp not in the standard form; read leniently"
    } else {
        "not a valid timestamp; kept as written"
    };
    f.push(
        Finding::warning(path, msg)
            .expected("yyyy/MM/dd HH:mm:ss")
            .found(t.as_str()),
    );
}

fn code_in(path: String, v: Option<&str>, allowed: &[u32], what: &str, f: &mut Vec<Finding>) {
    let Some(v) = v else { return };
    let ok = v.trim().parse::<u32>().is_ok_and(|n| allowed.contains(&n));
    if !ok {
        let list: Vec<String> = allowed.iter().map(u32::to_string).collect();
        f.push(
            Finding::warning(
                path,
                format!("{what} outside the known table; kept as written"),
            )
            .expected(list.join(", "))
            .found(v),
        );
    }
}

fn check_edoc(m: &EdocMessage, c: &mut Checked) {
    let f = &mut c.findings;
    let d = &m.document;
    org(h("From"), d.from.as_ref(), "sender", f);
    if d.to.is_empty() {
        f.push(Finding::error(h("To"), "no recipient").expected("at least one To"));
    }
    for (i, t) in d.to.iter().enumerate() {
        organ_id(
            h(&format!("To[{}]/OrganId", i + 1)),
            t.organ_id.as_ref(),
            "recipient",
            f,
        );
        if let Some(id) = &t.organ_id
            && d.to[..i].iter().any(|p| p.organ_id.as_ref() == Some(id))
        {
            f.push(
                Finding::warning(
                    h(&format!("To[{}]/OrganId", i + 1)),
                    "recipient listed twice",
                )
                .found(id.as_str()),
            );
        }
    }
    if d.document_id.is_none() {
        f.push(Finding::warning(h("DocumentId"), "document id missing"));
    }
    let code = d.code.as_ref();
    if code.and_then(|c| c.number.as_ref()).is_none() {
        f.push(Finding::error(
            h("Code/CodeNumber"),
            "document number (số) missing",
        ));
    }
    if code.and_then(|c| c.notation.as_ref()).is_none() {
        f.push(Finding::error(
            h("Code/CodeNotation"),
            "document notation (ký hiệu) missing",
        ));
    }
    match d.promulgation.as_ref().and_then(|p| p.date.as_ref()) {
        None => f.push(Finding::warning(
            h("PromulgationInfo/PromulgationDate"),
            "promulgation date missing",
        )),
        Some(pd) => date(h("PromulgationInfo/PromulgationDate"), Some(pd), f),
    }
    if d.subject.is_none() {
        f.push(Finding::error(h("Subject"), "subject (trích yếu) missing"));
    }
    date(h("DueDate"), d.due_date.as_ref(), f);
    if let Some(t) = d
        .document_type
        .as_ref()
        .and_then(|t| t.type_code.as_deref())
        && t.trim().parse::<u32>().is_err()
    {
        f.push(Finding::warning(h("DocumentType/Type"), "document type is not a number").found(t));
    }
    if let Some(o) = &d.other_info {
        code_in(
            h("OtherInfo/Priority"),
            o.priority.as_deref(),
            &[0, 1, 2, 3, 4],
            "priority",
            f,
        );
    }
    code_in(
        h("SteeringType"),
        d.steering_type.as_deref(),
        &[0, 1, 2, 3],
        "steering type",
        f,
    );
    for (i, r) in d.response_for.iter().enumerate() {
        date(
            h(&format!("ResponseFor[{}]/PromulgationDate", i + 1)),
            r.promulgation_date.as_ref(),
            f,
        );
    }
    for (i, t) in d.trace.iter().enumerate() {
        let p = format!("{TRACE_HEADER_LIST}/TraceHeader[{}]", i + 1);
        if t.organ_id.is_none() {
            f.push(Finding::warning(
                format!("{p}/OrganId"),
                "trace entry without organisation code",
            ));
        }
        timestamp(format!("{p}/Timestamp"), t.timestamp.as_ref(), f);
    }
    match &d.business {
        None => f.push(Finding::warning(
            BUSINESS,
            "no Bussiness block; the message is treated as a new document",
        )),
        Some(b) => {
            code_in(
                format!("{BUSINESS}/BussinessDocType"),
                b.doc_type.as_deref(),
                &[0, 1, 2, 3],
                "business document type",
                f,
            );
            use lienthong_model::BusinessDocType as T;
            match b.doc_type() {
                Some(T::Revocation | T::Update)
                    if b.document_id.is_none() && d.document_id.is_none() =>
                {
                    f.push(Finding::error(
                        format!("{BUSINESS}/DocumentId"),
                        "revocation or update without the id of its target document",
                    ));
                }
                Some(T::Replacement) if b.replacements.is_empty() => f.push(Finding::warning(
                    format!("{BUSINESS}/ReplacementInfoList"),
                    "replacement without the list of replaced documents",
                )),
                _ => {}
            }
        }
    }
    // Attachments: decode each once.
    if m.attachments.is_empty() && m.references.is_empty() {
        f.push(Finding::warning(
            MANIFEST,
            "no attachment: the document itself normally travels as one",
        ));
    }
    for (i, a) in m.attachments.iter().enumerate() {
        let p = format!("{ATTACHMENT_ENCODED}/Attachment[{}]", i + 1);
        let label = a
            .attachment_name
            .clone()
            .or_else(|| a.content_id.clone())
            .unwrap_or_else(|| format!("#{}", i + 1));
        let digest = match &a.content {
            None => {
                f.push(Finding::error(
                    format!("{p}/ContentTransferEncoded"),
                    format!("attachment '{label}' has no content"),
                ));
                Err(AttachmentProblem::NoContent)
            }
            Some(content) => match content.digest() {
                Ok(dg) => Ok(dg),
                Err(e) => {
                    f.push(
                        Finding::error(
                            format!("{p}/ContentTransferEncoded"),
                            format!("attachment '{label}': content is not valid base64 ({e})"),
                        )
                        .expected("base64 (RFC 4648 standard alphabet)"),
                    );
                    Err(AttachmentProblem::Invalid(e))
                }
            },
        };
        c.digests.push(digest);
        if a.content_id.is_none() {
            f.push(Finding::warning(
                format!("{p}/ContentId"),
                "attachment without id",
            ));
        } else if m.reference_for(a).is_none() {
            f.push(
                Finding::warning(
                    format!("{p}/ContentId"),
                    "attachment not listed in the manifest; delivered under its own name",
                )
                .found(a.content_id.clone().unwrap_or_default()),
            );
        }
    }
    for (i, r) in m.references_without_content() {
        f.push(
            Finding::error(
                format!("{MANIFEST}/Reference[{}]", i + 1),
                "manifest entry without attachment content",
            )
            .found(
                r.content_id
                    .as_deref()
                    .map(|id| format!("cid {}", content_id_key(id)))
                    .unwrap_or_else(|| "no ContentId".to_owned()),
            ),
        );
    }
}

fn check_status(m: &StatusMessage, f: &mut Vec<Finding>) {
    let s = &m.status;
    org(h("From"), s.from.as_ref(), "reporting organisation", f);
    match &s.response_for {
        None => f.push(Finding::error(
            h("ResponseFor"),
            "the document this status is about is missing",
        )),
        Some(ResponseFor {
            organ_id,
            code,
            document_id,
            promulgation_date,
        }) => {
            if document_id.is_none() {
                f.push(Finding::error(
                    h("ResponseFor/DocumentId"),
                    "document id missing: the status cannot be matched to its document",
                ));
            }
            if code.is_none() {
                f.push(Finding::warning(
                    h("ResponseFor/Code"),
                    "document code missing",
                ));
            }
            if organ_id.is_none() {
                f.push(Finding::warning(
                    h("ResponseFor/OrganId"),
                    "counterpart organisation code missing",
                ));
            }
            date(
                h("ResponseFor/PromulgationDate"),
                promulgation_date.as_ref(),
                f,
            );
        }
    }
    match &s.status_code {
        None => f.push(Finding::error(h("StatusCode"), "status code empty")),
        Some(code) => {
            let known: Vec<&str> = KnownStatus::ALL.iter().map(|k| k.code()).collect();
            match code.normalized() {
                None => f.push(
                    Finding::warning(
                        h("StatusCode"),
                        "status code is not a number; kept as written",
                    )
                    .expected(known.join(", "))
                    .found(code.as_str()),
                ),
                Some(n) if code.known().is_none() => f.push(
                    Finding::warning(h("StatusCode"), "unknown status code; kept as written")
                        .expected(known.join(", "))
                        .found(n),
                ),
                Some(n) if n != code.as_str() => f.push(
                    Finding::warning(h("StatusCode"), "status code not written with two digits")
                        .expected(n)
                        .found(code.as_str()),
                ),
                Some(_) => {}
            }
        }
    }
    match &s.timestamp {
        None => f.push(Finding::warning(h("Timestamp"), "timestamp missing")),
        Some(t) => timestamp(h("Timestamp"), Some(t), f),
    }
}
