//! Canonical domain types of lienthong.
//!
//! Every adapter (edXML, DVCQG, the provincial dossier format) translates its wire format
//! to and from these types. The crate holds no I/O and knows no wire format: values are
//! kept as the sender wrote them (trimmed), and typed views (`class()`, `parse()`,
//! `normalized()`) interpret them without losing the original.
//!
//! Also home of [`Finding`], the one shape every validating command of the project reports.

pub mod document;
pub mod dossier;
pub mod finding;
pub mod org;
pub mod partner;
pub mod status;
pub mod time;

pub use document::{
    Business, BusinessDocType, BusinessDocumentInfo, Document, DocumentCode, DocumentId,
    DocumentType, OtherInfo, Promulgation, Receiver, ReplacementInfo, ResponseFor, SignerInfo,
    StaffInfo, TraceEntry,
};
pub use dossier::{
    Applicant, ApplicantCategory, Channel, Dossier, DossierStatus, Fee, Handler, IdentityDocument,
    IdentityKind, OnlinePayment, OtherAttachment, Procedure, ProgressStep, ResultDelivery,
    ResultDocument, SubmittedDocument, SupplementRequest, Unit,
};
pub use finding::{Finding, Severity};
pub use org::{OrganId, OrganIdClass, Organisation};
pub use partner::{Fault, PartnerFailure};
pub use status::{KnownStatus, StatusCode, StatusReport};
pub use time::{LenientDate, LenientTimestamp};

/// Characters XML treats as white space (and the only ones trimmed from values).
pub fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Trims XML white space from both ends of a value.
pub fn trim_xml(s: &str) -> &str {
    s.trim_matches(is_xml_space)
}

/// Whether an identifier value means "absent": empty after trimming, or `null` in any case.
pub fn is_null_token(s: &str) -> bool {
    let t = trim_xml(s);
    t.is_empty() || t.eq_ignore_ascii_case("null")
}
