//! Official documents (văn bản điện tử) exchanged between agencies.
//!
//! Field names follow QCVN 102:2016 in English. Every value is kept as written (trimmed);
//! codes whose tables are disputed (document type, steering type, priority) stay raw text,
//! with typed views where a table is settled.

use crate::org::{OrganId, Organisation};
use crate::time::{LenientDate, LenientTimestamp};
use serde::Serialize;
use std::fmt;

/// The business id of a document (edXML `DocumentId`): an opaque string compared exactly.
///
/// The structured form `{OrganId},{yyyy/MM/dd},{CodeNumber}/{CodeNotation}` is what the
/// gateway writes; senders also use UUIDs, and the date inside may be impossible.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct DocumentId(String);

/// The parts of a structured [`DocumentId`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StructuredDocumentId<'a> {
    /// Issuing organisation.
    pub organ_id: &'a str,
    /// Promulgation date as written (`yyyy/MM/dd`, never validated).
    pub date: &'a str,
    /// Số.
    pub code_number: &'a str,
    /// Ký hiệu.
    pub code_notation: &'a str,
}

impl DocumentId {
    /// Reads an id leniently: trimmed; empty or `null` means absent.
    pub fn parse_lenient(raw: &str) -> Option<DocumentId> {
        (!crate::is_null_token(raw)).then(|| DocumentId(crate::trim_xml(raw).to_owned()))
    }

    /// Builds the structured form from its parts.
    pub fn structured(organ_id: &OrganId, date: &str, code: &str) -> DocumentId {
        DocumentId(format!("{organ_id},{date},{code}"))
    }

    /// The id as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Splits the structured form, if the id has it.
    pub fn parts(&self) -> Option<StructuredDocumentId<'_>> {
        let (organ_id, rest) = self.0.split_once(',')?;
        let (date, code) = rest.split_once(',')?;
        let (code_number, code_notation) = code.split_once('/')?;
        let d = date.as_bytes();
        let date_shaped = d.len() == 10
            && d[4] == b'/'
            && d[7] == b'/'
            && d.iter()
                .enumerate()
                .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
        (!organ_id.is_empty()
            && date_shaped
            && !code_number.is_empty()
            && !code_notation.is_empty())
        .then_some(StructuredDocumentId {
            organ_id,
            date,
            code_number,
            code_notation,
        })
    }
}

impl fmt::Display for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Số and ký hiệu of a document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DocumentCode {
    /// Số, e.g. `7816`.
    pub number: Option<String>,
    /// Ký hiệu, e.g. `VPCP-TTĐT`.
    pub notation: Option<String>,
}

impl DocumentCode {
    /// `number/notation`, the one-string form used by `ResponseFor/Code`.
    pub fn joined(&self) -> Option<String> {
        match (&self.number, &self.notation) {
            (Some(n), Some(x)) => Some(format!("{n}/{x}")),
            (Some(n), None) => Some(n.clone()),
            (None, Some(x)) => Some(x.clone()),
            (None, None) => None,
        }
    }
}

/// Place and date of promulgation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Promulgation {
    /// Place name.
    pub place: Option<String>,
    /// Date, `yyyy/MM/dd` in the standard form.
    pub date: Option<LenientDate>,
}

/// Kind of document (`DocumentType`); the code table is disputed, so codes stay raw.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DocumentType {
    /// `Type` code as written (`1` in the official samples).
    pub type_code: Option<String>,
    /// `TypeDetail` as written.
    pub type_detail: Option<String>,
    /// Display name, e.g. `Công văn`.
    pub type_name: Option<String>,
}

/// Who signed the document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SignerInfo {
    /// Signing authority, e.g. `KT. CHỦ TỊCH`.
    pub competence: Option<String>,
    /// Title.
    pub position: Option<String>,
    /// Full name.
    pub full_name: Option<String>,
}

/// `OtherInfo`: urgency, circulation and copies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OtherInfo {
    /// Độ khẩn, `0`–`4`, as written.
    pub priority: Option<String>,
    /// Circulation scope.
    pub sphere_of_promulgation: Option<String>,
    /// Initials of the drafting unit or person.
    pub typer_notation: Option<String>,
    /// Number of copies, as written.
    pub promulgation_amount: Option<String>,
    /// Number of pages, as written.
    pub page_amount: Option<String>,
    /// `Direction`, as written (`false` in SDK output).
    pub direction: Option<String>,
    /// Appendix titles.
    pub appendixes: Vec<String>,
}

/// A document this one answers, or the document a status is about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ResponseFor {
    /// The counterpart organisation (see `edxml.md` §8.1: never route on it alone).
    pub organ_id: Option<OrganId>,
    /// `number/notation` as one string.
    pub code: Option<String>,
    /// The business id of the document: the correlation key.
    pub document_id: Option<DocumentId>,
    /// Its promulgation date.
    pub promulgation_date: Option<LenientDate>,
}

impl ResponseFor {
    /// Whether nothing at all is known (an empty `ResponseFor` means absent).
    pub fn is_empty(&self) -> bool {
        *self == ResponseFor::default()
    }
}

/// One hop of a message (`TraceHeader`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TraceEntry {
    /// Organisation that handled the message; absent when written empty or `null`.
    pub organ_id: Option<OrganId>,
    /// When.
    pub timestamp: Option<LenientTimestamp>,
}

/// The clerk who sent a message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StaffInfo {
    /// Department.
    pub department: Option<String>,
    /// Name.
    pub staff: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Mobile phone.
    pub mobile: Option<String>,
}

/// Business operation of a document message (`BussinessDocType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BusinessDocType {
    /// 0: a new document.
    New,
    /// 1: revocation (thu hồi).
    Revocation,
    /// 2: update (cập nhật).
    Update,
    /// 3: replacement (thay thế).
    Replacement,
}

impl BusinessDocType {
    /// From the numeric code.
    pub fn from_code(code: u32) -> Option<Self> {
        Some(match code {
            0 => Self::New,
            1 => Self::Revocation,
            2 => Self::Update,
            3 => Self::Replacement,
            _ => return None,
        })
    }

    /// The numeric code.
    pub fn code(self) -> u32 {
        match self {
            Self::New => 0,
            Self::Revocation => 1,
            Self::Update => 2,
            Self::Replacement => 3,
        }
    }

    /// The reason text the official samples use.
    pub fn default_reason(self) -> &'static str {
        match self {
            Self::New => "Văn bản điện tử mới",
            Self::Revocation => "Thu hồi văn bản điện tử",
            Self::Update => "Cập nhật văn bản điện tử",
            Self::Replacement => "Văn bản thay thế",
        }
    }
}

/// A recipient concerned by an update.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Receiver {
    /// The organisation.
    pub organ_id: Option<OrganId>,
    /// `0` removed, `1` added, as written.
    pub receiver_type: Option<String>,
}

/// What an update changes (`BussinessDocumentInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BusinessDocumentInfo {
    /// Flag, as written.
    pub document_info: Option<String>,
    /// Flag, as written.
    pub document_receiver: Option<String>,
    /// Recipients added or removed.
    pub receivers: Vec<Receiver>,
}

/// A document replaced by this one, and who had received it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReplacementInfo {
    /// The replaced document.
    pub document_id: Option<DocumentId>,
    /// Organisations that had received it.
    pub organ_ids: Vec<OrganId>,
}

/// The business block (`Bussiness`, sic) of a document message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Business {
    /// For revocations and updates, the target document.
    pub document_id: Option<DocumentId>,
    /// `BussinessDocType` as written; see [`Business::doc_type`].
    pub doc_type: Option<String>,
    /// Reason text.
    pub reason: Option<String>,
    /// `Paper`, as written.
    pub paper: Option<String>,
    /// Update details.
    pub document_info: Option<BusinessDocumentInfo>,
    /// Replacement details.
    pub replacements: Vec<ReplacementInfo>,
    /// The clerk.
    pub staff: Option<StaffInfo>,
}

impl Business {
    /// The operation, when the code is one of the four known ones.
    pub fn doc_type(&self) -> Option<BusinessDocType> {
        let raw = self.doc_type.as_deref()?;
        BusinessDocType::from_code(raw.trim().parse().ok()?)
    }
}

/// An official document message: everything but its attachments' content.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Document {
    /// Sender.
    pub from: Option<Organisation>,
    /// Recipients.
    pub to: Vec<Organisation>,
    /// Business id.
    pub document_id: Option<DocumentId>,
    /// Số and ký hiệu.
    pub code: Option<DocumentCode>,
    /// Place and date of promulgation.
    pub promulgation: Option<Promulgation>,
    /// Kind of document.
    pub document_type: Option<DocumentType>,
    /// Trích yếu.
    pub subject: Option<String>,
    /// Short summary.
    pub content: Option<String>,
    /// Signer.
    pub signer: Option<SignerInfo>,
    /// Processing deadline.
    pub due_date: Option<LenientDate>,
    /// Urgency, circulation, copies.
    pub other_info: Option<OtherInfo>,
    /// Documents this one answers.
    pub response_for: Vec<ResponseFor>,
    /// `SteeringType` as written.
    pub steering_type: Option<String>,
    /// "Nơi nhận" lines (not used for routing).
    pub to_places: Vec<String>,
    /// Hops, oldest first.
    pub trace: Vec<TraceEntry>,
    /// Business block.
    pub business: Option<Business>,
}
