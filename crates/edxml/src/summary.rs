//! The facts of a message in one flat, serialisable shape (what `lienthong edxml inspect`
//! prints). Absent values are `null`; values are as written.

use crate::message::{EdocMessage, Message, StatusMessage};
use crate::validate::Checked;
use lienthong_model::Organisation;
use serde::Serialize;

/// The facts of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Summary {
    /// A document message.
    Edoc(EdocSummary),
    /// A status message.
    Status(StatusSummary),
}

/// An organisation block, every key present.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrgSummary {
    /// Organisation code.
    pub organ_id: Option<String>,
    /// Name.
    pub organ_name: Option<String>,
    /// Managing body.
    pub organization_in_charge: Option<String>,
    /// Address.
    pub organ_add: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Telephone.
    pub telephone: Option<String>,
    /// Fax.
    pub fax: Option<String>,
    /// Web site.
    pub website: Option<String>,
}

/// Số and ký hiệu.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeSummary {
    /// Số.
    pub number: Option<String>,
    /// Ký hiệu.
    pub notation: Option<String>,
}

/// One encoded attachment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttachmentSummary {
    /// `ContentId` as written in `AttachmentEncoded/Attachment`.
    pub content_id: Option<String>,
    /// `ContentType` as written in `AttachmentEncoded/Attachment`.
    pub content_type: Option<String>,
    /// File name (the attachment's, else its manifest entry's).
    pub name: Option<String>,
    /// Number of base64-decoded bytes; `null` when the content is missing or not base64.
    pub bytes: Option<u64>,
    /// SHA-256 (hex) of the decoded bytes; `null` likewise.
    pub sha256: Option<String>,
}

/// Facts of a document message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EdocSummary {
    /// Always `"edoc"`.
    pub kind: &'static str,
    /// Sender.
    pub from: Option<OrgSummary>,
    /// Recipients.
    pub to: Vec<OrgSummary>,
    /// Business id.
    pub document_id: Option<String>,
    /// Số and ký hiệu.
    pub code: Option<CodeSummary>,
    /// Trích yếu.
    pub subject: Option<String>,
    /// Promulgation date as written.
    pub promulgation_date: Option<String>,
    /// `BussinessDocType` when numeric.
    pub business_doc_type: Option<u64>,
    /// Encoded attachments, in message order.
    pub attachments: Vec<AttachmentSummary>,
}

/// The document a status is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResponseForSummary {
    /// Business id of the document.
    pub document_id: Option<String>,
    /// Counterpart organisation.
    pub organ_id: Option<String>,
    /// `number/notation`.
    pub code: Option<String>,
}

/// Facts of a status message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusSummary {
    /// Always `"status"`.
    pub kind: &'static str,
    /// Reporting organisation.
    pub from: Option<OrgSummary>,
    /// Status code as written.
    pub status_code: Option<String>,
    /// The document the status is about.
    pub response_for: Option<ResponseForSummary>,
    /// Free text.
    pub description: Option<String>,
    /// Timestamp as written.
    pub timestamp: Option<String>,
}

fn org(o: &Organisation) -> OrgSummary {
    OrgSummary {
        organ_id: o.organ_id.as_ref().map(|x| x.to_string()),
        organ_name: o.organ_name.clone(),
        organization_in_charge: o.organization_in_charge.clone(),
        organ_add: o.organ_add.clone(),
        email: o.email.clone(),
        telephone: o.telephone.clone(),
        fax: o.fax.clone(),
        website: o.website.clone(),
    }
}

/// Summarises a message; `checked` supplies the attachment digests (see [`crate::check`]).
pub fn summarize(message: &Message, checked: &Checked) -> Summary {
    match message {
        Message::Edoc(m) => Summary::Edoc(edoc(m, checked)),
        Message::Status(m) => Summary::Status(status(m)),
    }
}

fn edoc(m: &EdocMessage, checked: &Checked) -> EdocSummary {
    let d = &m.document;
    let attachments = m
        .attachments
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let digest = checked.digests.get(i).and_then(|r| r.as_ref().ok());
            AttachmentSummary {
                content_id: a.content_id.clone(),
                content_type: a.content_type.clone(),
                name: a
                    .attachment_name
                    .clone()
                    .or_else(|| m.reference_for(a).and_then(|r| r.attachment_name.clone())),
                bytes: digest.map(|d| d.bytes),
                sha256: digest.map(|d| d.sha256_hex()),
            }
        })
        .collect();
    EdocSummary {
        kind: "edoc",
        from: d.from.as_ref().map(org),
        to: d.to.iter().map(org).collect(),
        document_id: d.document_id.as_ref().map(|x| x.to_string()),
        code: d.code.as_ref().map(|c| CodeSummary {
            number: c.number.clone(),
            notation: c.notation.clone(),
        }),
        subject: d.subject.clone(),
        promulgation_date: d
            .promulgation
            .as_ref()
            .and_then(|p| p.date.as_ref())
            .map(|x| x.to_string()),
        business_doc_type: d
            .business
            .as_ref()
            .and_then(|b| b.doc_type.as_deref())
            .and_then(|t| t.trim().parse().ok()),
        attachments,
    }
}

fn status(m: &StatusMessage) -> StatusSummary {
    let s = &m.status;
    StatusSummary {
        kind: "status",
        from: s.from.as_ref().map(org),
        status_code: s.status_code.as_ref().map(|x| x.to_string()),
        response_for: s.response_for.as_ref().map(|r| ResponseForSummary {
            document_id: r.document_id.as_ref().map(|x| x.to_string()),
            organ_id: r.organ_id.as_ref().map(|x| x.to_string()),
            code: r.code.clone(),
        }),
        description: s.description.clone(),
        timestamp: s.timestamp.as_ref().map(|x| x.to_string()),
    }
}
