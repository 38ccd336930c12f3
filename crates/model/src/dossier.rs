//! Administrative dossiers (hồ sơ thủ tục hành chính) and their processing steps, as the
//! gateway understands them, whatever system sent them.
//!
//! Times are instants ([`jiff::Timestamp`]); adapters convert to and from their wire forms
//! (RFC 3339 with offset, `yyyyMMddHHmmss` in Vietnamese local time, …). Codes are enums
//! with canonical English names ([`DossierStatus::name`] and friends); wire codes belong to
//! the adapters.

use jiff::Timestamp;
use serde::Serialize;

macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vm])* $variant,)* }
        impl $name {
            /// Every value, in code order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];
            /// The canonical name (snake_case English).
            pub fn name(self) -> &'static str {
                match self { $($name::$variant => $text,)* }
            }
            /// From the canonical name.
            pub fn from_name(s: &str) -> Option<$name> {
                match s { $($text => Some($name::$variant),)* _ => None }
            }
            /// The canonical names, for messages.
            pub fn names() -> String {
                [$($text,)*].join(", ")
            }
        }
    };
}

named_enum!(
    /// Where a dossier stands (the ten DVCQG statuses).
    DossierStatus {
        /// Newly registered (mới đăng ký).
        Registered = "registered",
        /// Accepted (được tiếp nhận).
        Accepted = "accepted",
        /// Not accepted (không được tiếp nhận).
        NotAccepted = "not_accepted",
        /// Being processed (đang xử lý).
        Processing = "processing",
        /// Supplementary documents requested (yêu cầu bổ sung).
        SupplementRequested = "supplement_requested",
        /// Financial obligation requested (yêu cầu thực hiện nghĩa vụ tài chính).
        FinancialObligation = "financial_obligation",
        /// The applicant withdrew the dossier (rút hồ sơ).
        Withdrawn = "withdrawn",
        /// Processing stopped (dừng xử lý).
        Stopped = "stopped",
        /// Processing finished (đã xử lý xong).
        Finished = "finished",
        /// Result returned (đã trả kết quả).
        Returned = "returned",
    }
);

named_enum!(
    /// How the dossier was submitted (kênh thực hiện).
    Channel {
        /// At the one-stop-shop desk (trực tiếp).
        InPerson = "in_person",
        /// Online (trực tuyến).
        Online = "online",
        /// Through the public postal service (bưu chính công ích).
        Postal = "postal",
    }
);

named_enum!(
    /// Who the applicant is (loại đối tượng).
    ApplicantCategory {
        /// A citizen (công dân).
        Citizen = "citizen",
        /// An enterprise (doanh nghiệp).
        Enterprise = "enterprise",
        /// A state agency (cơ quan nhà nước).
        StateAgency = "state_agency",
        /// Another organisation (tổ chức / khác).
        Organisation = "organisation",
    }
);

named_enum!(
    /// How the result is delivered (hình thức trả kết quả).
    ResultDelivery {
        /// Collected at the office.
        AtOffice = "at_office",
        /// Sent by post.
        ByPost = "by_post",
    }
);

named_enum!(
    /// Online payment of fees (được thanh toán trực tuyến).
    OnlinePayment {
        /// No online payment, or no fee.
        None = "none",
        /// Paid on the DVCQG payment platform.
        DvcqgPlatform = "dvcqg_platform",
        /// Paid through the ministry's or province's own gateway.
        OwnGateway = "own_gateway",
        /// A fee exists but was not paid online.
        NotPaidOnline = "not_paid_online",
    }
);

named_enum!(
    /// Kind of personal identifier (loại định danh).
    IdentityKind {
        /// 12-digit citizen identity number (CCCD / personal id number).
        CitizenId = "citizen_id",
        /// 9-digit legacy identity card (CMND).
        LegacyId = "legacy_id",
        /// Passport or any other document.
        Other = "other",
    }
);

impl IdentityKind {
    /// Whether `number` has the form this kind requires (`codes.md` §6).
    pub fn fits(self, number: &str) -> bool {
        let digits = number.bytes().all(|b| b.is_ascii_digit());
        match self {
            IdentityKind::CitizenId => digits && number.len() == 12,
            IdentityKind::LegacyId => digits && number.len() == 9,
            IdentityKind::Other => !number.is_empty(),
        }
    }
}

/// A unit of the province (or ministry) that receives or handles dossiers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Unit {
    /// Organisation code (mã định danh), strict form expected.
    pub code: Option<String>,
    /// Name, e.g. `Sở Nội vụ tỉnh Nghệ An`.
    pub name: Option<String>,
}

/// The administrative procedure (thủ tục hành chính) and its field (lĩnh vực).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Procedure {
    /// Procedure code (long or short form, `codes.md` §2).
    pub code: String,
    /// Procedure name.
    pub name: Option<String>,
    /// Field code (mã lĩnh vực).
    pub field_code: Option<String>,
    /// Field name.
    pub field_name: Option<String>,
}

/// A personal identifier of the applicant. Personal data: never logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdentityDocument {
    /// Kind.
    pub kind: IdentityKind,
    /// Number.
    pub number: String,
}

/// The applicant (chủ hồ sơ). Personal data: never logged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Applicant {
    /// Full name or organisation name.
    pub name: Option<String>,
    /// Category; citizen when unknown.
    pub category: Option<ApplicantCategory>,
    /// Identity documents, first one is the main one.
    pub identity_documents: Vec<IdentityDocument>,
    /// Portal account id (TechID), for online submissions.
    pub portal_account: Option<String>,
    /// Whether that account is verified with VNeID.
    pub vneid_verified: Option<bool>,
    /// E-mail.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Fax.
    pub fax: Option<String>,
    /// Postal address.
    pub address: Option<String>,
}

/// A document the applicant submitted (thành phần hồ sơ).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SubmittedDocument {
    /// File id in the one-stop-shop.
    pub id: Option<String>,
    /// File or document name.
    pub name: String,
    /// Dossier component code (mã thành phần hồ sơ).
    pub component_code: Option<String>,
    /// Where the file can be downloaded.
    pub url: Option<String>,
    /// Whether the file was deleted from the dossier.
    pub deleted: bool,
    /// Whether it was digitised.
    pub digitised: Option<bool>,
    /// Whether it was reused from an earlier result.
    pub reused: Option<bool>,
    /// Whether it was taken from the citizen's data store on the portal.
    pub from_citizen_store: Option<bool>,
    /// Code of the earlier result it replaces.
    pub replaces_result_code: Option<String>,
}

/// A fee or charge (phí, lệ phí).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Fee {
    /// Fee code.
    pub code: Option<String>,
    /// Fee name.
    pub name: String,
    /// Amount in đồng; 0 means no fee.
    pub amount: u64,
    /// How it is collected (free text of the one-stop-shop).
    pub collection_method: Option<String>,
    /// Kind of fee (free text or code of the one-stop-shop).
    pub kind: Option<String>,
}

/// Another attached paper (tệp đính kèm khác).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OtherAttachment {
    /// Name.
    pub name: String,
    /// Number of copies.
    pub quantity: Option<u32>,
    /// Kind (free text).
    pub kind: Option<String>,
}

/// A request for supplementary documents (yêu cầu bổ sung).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SupplementRequest {
    /// Id in the one-stop-shop.
    pub id: Option<String>,
    /// Official who asked.
    pub requested_by: Option<String>,
    /// What is asked.
    pub content: String,
    /// When it was asked.
    pub requested_at: Option<Timestamp>,
    /// Official who received the supplement.
    pub received_by: Option<String>,
    /// What was received.
    pub receipt_info: Option<String>,
    /// When the supplement was received.
    pub received_at: Option<Timestamp>,
    /// State of the request (free text or code of the one-stop-shop).
    pub status: Option<String>,
    /// Due date before the request.
    pub previous_due_at: Option<Timestamp>,
    /// Due date after it.
    pub new_due_at: Option<Timestamp>,
}

/// A result document (giấy tờ kết quả).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ResultDocument {
    /// Id in the one-stop-shop.
    pub id: Option<String>,
    /// Name.
    pub name: String,
    /// Dossier component code.
    pub component_code: Option<String>,
    /// Where the electronic result can be downloaded.
    pub url: Option<String>,
    /// Code of the electronic result.
    pub result_code: Option<String>,
}

/// A dossier as a one-stop-shop system holds it, at one version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Dossier {
    /// Dossier code (mã hồ sơ), the key everywhere.
    pub code: String,
    /// Version, monotonic per dossier, set by the sending system.
    pub version: u64,
    /// Unit that received / handles the dossier.
    pub unit: Unit,
    /// Procedure.
    pub procedure: Procedure,
    /// Submission channel.
    pub channel: Option<Channel>,
    /// Applicant.
    pub applicant: Applicant,
    /// Dossier abstract (trích yếu).
    pub summary: Option<String>,
    /// Other information.
    pub other_info: Option<String>,
    /// Note.
    pub note: Option<String>,
    /// Current status.
    pub status: Option<DossierStatus>,
    /// When the applicant submitted it.
    pub submitted_at: Option<Timestamp>,
    /// When the unit received it.
    pub received_at: Option<Timestamp>,
    /// Promised return date.
    pub due_at: Option<Timestamp>,
    /// When processing ended.
    pub finished_at: Option<Timestamp>,
    /// When the result was returned.
    pub returned_at: Option<Timestamp>,
    /// When the dossier was refused.
    pub refused_at: Option<Timestamp>,
    /// How the result is delivered.
    pub result_delivery: Option<ResultDelivery>,
    /// Information about the returned result.
    pub return_info: Option<String>,
    /// Whether the dossier has digitised components.
    pub digitised: Option<bool>,
    /// Online payment.
    pub online_payment: Option<OnlinePayment>,
    /// Submitted documents.
    pub submitted_documents: Vec<SubmittedDocument>,
    /// Fees.
    pub fees: Vec<Fee>,
    /// Other attached papers.
    pub other_attachments: Vec<OtherAttachment>,
    /// Requests for supplements.
    pub supplement_requests: Vec<SupplementRequest>,
    /// Result documents.
    pub result_documents: Vec<ResultDocument>,
    /// National databases consulted (codes not public; passed through).
    pub consulted_databases: Vec<String>,
    /// Submission place code (meaning not public; passed through).
    pub submission_place: Option<String>,
}

/// Who handled a processing step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Handler {
    /// Official's name.
    pub name: String,
    /// Title.
    pub title: Option<String>,
    /// Department.
    pub department: Option<String>,
}

/// One processing step of a dossier (tiến độ xử lý).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProgressStep {
    /// The dossier.
    pub dossier_code: String,
    /// Position of the step, monotonic per dossier.
    pub step_seq: u64,
    /// Who handled it.
    pub handler: Handler,
    /// When.
    pub at: Option<Timestamp>,
    /// What was done.
    pub action: String,
    /// Dossier status after the step.
    pub status: Option<DossierStatus>,
    /// Step start.
    pub started_at: Option<Timestamp>,
    /// Step deadline.
    pub deadline_at: Option<Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in DossierStatus::ALL {
            assert_eq!(DossierStatus::from_name(s.name()), Some(*s));
        }
        assert_eq!(DossierStatus::ALL.len(), 10);
        assert_eq!(Channel::from_name("by_pigeon"), None);
        assert!(DossierStatus::names().contains("supplement_requested"));
    }

    #[test]
    fn identity_numbers() {
        assert!(IdentityKind::CitizenId.fits("001203004567"));
        assert!(!IdentityKind::CitizenId.fits("00120300456"));
        assert!(IdentityKind::LegacyId.fits("123456789"));
        assert!(!IdentityKind::LegacyId.fits("12345678a"));
    }
}
