//! Composition of NEW outgoing edXML messages: a document (edoc) or a status built from
//! local data.
//!
//! [`crate::write`] lays out whatever a [`Message`] holds and composes nothing; this module
//! applies the *composition policies* of `edxml.md` §12 (rules 6–11, 13, 14) first:
//!
//! * the structured `DocumentId` built from the own code, the promulgation date and the
//!   code (rule 6), or the target's id for a revocation or update (rule 10, §5.5);
//! * the own organisation code in the strict 4-part form with group A, G or H (rule 7,
//!   `codes.md` §1.4) and all eight children of the own organisation block (§3.2, §10 a);
//! * codes only from the tables of §4 and §8.2, `SteeringType` 1 by default, `TypeDetail`
//!   0, `Direction` false, `Paper` 0 (rule 8);
//! * exactly one `TraceHeader`: own code, now in Vietnamese local time (rule 9, §5.1, §9);
//! * every attachment zipped as one deflated entry `<uuid>.<ext>`, `cid:` + uuid content
//!   ids, `application/zip`, at least one attachment per edoc (rule 11, §7.4);
//! * the refusals of §10 gateway policy (b) as error findings, the length numbers of §10
//!   as warnings only — values are never truncated (rule 13);
//! * statuses with one of the nine codes and a filled `ResponseFor` (rule 14, §8).
//!
//! Refusals come back as a [`ComposeError`] listing every finding; a composed message
//! carries the warnings. Nothing here panics and nothing does I/O: randomness (the ids) and
//! the clock come from the caller.

use crate::attachment::Base64Content;
use crate::message::{EdocMessage, EncodedAttachment, Message, Reference, StatusMessage};
use crate::names::{ATTACHMENT_ENCODED, BUSINESS, MANIFEST, MESSAGE_HEADER};
use crate::write::to_vec;
use lienthong_model::time::{VIETNAM_OFFSET_SECONDS, format_date};
use lienthong_model::{
    Business, BusinessDocType, BusinessDocumentInfo, Document, DocumentCode, DocumentId,
    DocumentType, Finding, KnownStatus, LenientDate, LenientTimestamp, OrganId, Organisation,
    OtherInfo, Promulgation, ReplacementInfo, ResponseFor, SignerInfo, StaffInfo, StatusCode,
    StatusReport, TraceEntry, is_null_token, trim_xml,
};
use std::io::Write as _;

/// `ContentType` of every composed attachment (§7.4).
pub const ZIP_CONTENT_TYPE: &str = "application/zip";
/// `TypeDetail` the writer always uses (§4.3).
pub const TYPE_DETAIL: &str = "0";
/// `Direction` the writer always uses (§3.3).
pub const DIRECTION: &str = "false";
/// `Paper` the writer always uses (§4.6).
pub const PAPER: &str = "0";
/// Default `SteeringType`: not a steering document (§4.2).
pub const DEFAULT_STEERING_TYPE: &str = "1";

/// Vietnamese local time: Asia/Ho_Chi_Minh has kept UTC+7, without daylight saving, since
/// 1975, so a fixed offset is exact (§9).
const VIETNAM: jiff::tz::Offset = jiff::tz::Offset::constant(7);
const _: () = assert!(VIETNAM_OFFSET_SECONDS == 7 * 3600);

/// One file to send with a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAttachment {
    /// File name shown to users, with its real extension (`AttachmentName`).
    pub name: String,
    /// `Description`; default: the file name.
    pub description: Option<String>,
    /// The file itself (it is zipped when composed).
    pub content: Vec<u8>,
}

/// The business operation of a new document (`Bussiness` block, §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBusiness {
    /// New, revocation, update or replacement (§4.4).
    pub doc_type: BusinessDocType,
    /// Required for revocation, update and replacement: the `DocumentId` of the document
    /// acted on.
    pub target: Option<DocumentId>,
    /// `BussinessDocReason`; default: [`BusinessDocType::default_reason`].
    pub reason: Option<String>,
    /// Update only: what changed, and recipients added or removed (§5.3).
    pub document_info: Option<BusinessDocumentInfo>,
    /// Replacement only: the replaced documents and who had received them (§5.4). When
    /// empty, one entry is written: the target, received by this message's recipients.
    pub replacements: Vec<ReplacementInfo>,
}

impl NewBusiness {
    /// An operation with every optional part left to its default.
    pub fn new(doc_type: BusinessDocType) -> Self {
        NewBusiness {
            doc_type,
            target: None,
            reason: None,
            document_info: None,
            replacements: Vec::new(),
        }
    }

    /// A revocation, update or replacement of `target`.
    pub fn acting_on(doc_type: BusinessDocType, target: DocumentId) -> Self {
        NewBusiness {
            target: Some(target),
            ..NewBusiness::new(doc_type)
        }
    }
}

impl Default for NewBusiness {
    /// A new document.
    fn default() -> Self {
        NewBusiness::new(BusinessDocType::New)
    }
}

/// A new outgoing document, from local data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEdoc {
    /// Own organisation: all eight children expected (from configuration).
    pub from: Organisation,
    /// Recipients, at least one; written as given (`OrganId` + whatever children are set).
    pub to: Vec<Organisation>,
    /// Số.
    pub code_number: String,
    /// Ký hiệu.
    pub code_notation: String,
    /// Place of promulgation.
    pub place: String,
    /// Date of promulgation; not after today (Vietnamese local date of `now`).
    pub promulgation_date: jiff::civil::Date,
    /// `DocumentType/Type`: `1` or `2` (§4.3).
    pub type_code: String,
    /// `DocumentType/TypeName`, e.g. `Công văn`.
    pub type_name: String,
    /// Trích yếu.
    pub subject: String,
    /// Short summary; default: the subject.
    pub content: Option<String>,
    /// Signer.
    pub signer: Option<SignerInfo>,
    /// Processing deadline.
    pub due_date: Option<jiff::civil::Date>,
    /// Độ khẩn, `0`–`4` (§4.1).
    pub priority: String,
    /// Circulation scope.
    pub sphere_of_promulgation: String,
    /// Initials of the drafting unit or person.
    pub typer_notation: String,
    /// Number of copies.
    pub promulgation_amount: Option<u32>,
    /// Number of pages.
    pub page_amount: Option<u32>,
    /// `1`, `2` or `3` (§4.2); default `1`.
    pub steering_type: Option<String>,
    /// "Nơi nhận" lines (not used for routing).
    pub to_places: Vec<String>,
    /// The clerk who sends it (`Bussiness/StaffInfo`).
    pub staff: Option<StaffInfo>,
    /// Business operation.
    pub business: NewBusiness,
    /// Files, at least one (the document itself travels as an attachment).
    pub attachments: Vec<NewAttachment>,
}

/// A new outgoing status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStatus {
    /// The organisation reporting the status (own): all eight children expected.
    pub from: Organisation,
    /// The document the status is about: `OrganId` = the organisation that is to receive
    /// the status, `Code` `number/notation`, `DocumentId`, `PromulgationDate` (see
    /// [`response_for`]).
    pub response_for: ResponseFor,
    /// The clerk.
    pub staff: Option<StaffInfo>,
    /// One of the nine codes of §8.2.
    pub code: KnownStatus,
    /// Free text reason or message.
    pub description: Option<String>,
}

/// A composed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composed {
    /// The `.edxml` file, exactly what [`crate::write::to_vec`] produces.
    pub bytes: Vec<u8>,
    /// Edoc: the id written in `MessageHeader/DocumentId`; status: `ResponseFor/DocumentId`.
    pub document_id: DocumentId,
    /// Warnings (length limits and the like); never errors.
    pub warnings: Vec<Finding>,
}

/// The message was refused: `findings` holds at least one error (and any warnings).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("message not composed: {}", summary(.findings))]
pub struct ComposeError {
    /// Every finding, errors and warnings, in the order found.
    pub findings: Vec<Finding>,
}

impl ComposeError {
    /// The error findings only.
    pub fn errors(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.is_error())
    }
}

fn summary(findings: &[Finding]) -> String {
    let errors = findings.iter().filter(|f| f.is_error()).count();
    match findings.iter().find(|f| f.is_error()) {
        Some(first) if errors > 1 => format!(
            "{}: {} (and {} more error{})",
            first.path,
            first.message,
            errors - 1,
            if errors == 2 { "" } else { "s" }
        ),
        Some(first) => format!("{}: {}", first.path, first.message),
        None => "refused".to_owned(),
    }
}

/// The `ResponseFor` block that answers `document` (a read edoc), addressed to
/// `counterpart` (the original sender for statuses 01–06/15/16, the recipient for 13):
/// `OrganId` = counterpart, `Code` = `CodeNumber/CodeNotation` joined, `DocumentId` and
/// `PromulgationDate` copied (§8.1).
pub fn response_for(document: &Document, counterpart: &OrganId) -> ResponseFor {
    ResponseFor {
        organ_id: Some(counterpart.clone()),
        code: document.code.as_ref().and_then(DocumentCode::joined),
        document_id: document.document_id.clone(),
        promulgation_date: document.promulgation.as_ref().and_then(|p| p.date.clone()),
    }
}

/// Composes a new document message.
///
/// `now` gives the `TraceHeader` timestamp and "today" for the promulgation date check;
/// `new_id` returns a fresh lowercase UUID per attachment (its content id `cid:<uuid>` and
/// its zip entry `<uuid>.<ext>`). Every refusal is reported, not only the first.
pub fn compose_edoc(
    doc: &NewEdoc,
    now: jiff::Timestamp,
    new_id: &mut dyn FnMut() -> String,
) -> Result<Composed, ComposeError> {
    let mut c = Checker::default();
    let local_now = VIETNAM.to_datetime(now);
    let today = local_now.date();

    // Organisations (§3.2, §10; codes.md §1.4).
    let own_id = c.own_org(&h("From"), &doc.from);
    if doc.to.is_empty() {
        c.error(h("To"), "no recipient")
            .expected("at least one To block");
    }
    for (i, to) in doc.to.iter().enumerate() {
        let path = h(&format!("To[{}]", i + 1));
        c.recipient(&path, to);
        if let Some(id) = &to.organ_id
            && doc.to[..i].iter().any(|p| p.organ_id.as_ref() == Some(id))
        {
            c.error(format!("{path}/OrganId"), "recipient listed twice")
                .found(id.as_str());
        }
    }

    // Code, promulgation, type (§3.1, §4.3, §10).
    let number = c.identifier(
        h("Code/CodeNumber"),
        &doc.code_number,
        "document number (số)",
        11,
    );
    let notation = c.identifier(
        h("Code/CodeNotation"),
        &doc.code_notation,
        "document notation (ký hiệu)",
        30,
    );
    let place = c.required(
        h("PromulgationInfo/Place"),
        &doc.place,
        "place of promulgation",
        50,
    );
    if doc.promulgation_date > today {
        c.error(
            h("PromulgationInfo/PromulgationDate"),
            "promulgation date is in the future",
        )
        .expected(format!("{} or earlier", format_date(today)))
        .found(format_date(doc.promulgation_date));
    }
    let type_code = trim_xml(&doc.type_code);
    if !matches!(type_code, "1" | "2") {
        c.error(h("DocumentType/Type"), "document type outside the table")
            .expected("1 or 2")
            .found(type_code);
    }
    let type_name = c.required(
        h("DocumentType/TypeName"),
        &doc.type_name,
        "document type name",
        100,
    );
    let subject = c.required(h("Subject"), &doc.subject, "subject (trích yếu)", 500);
    let content = match doc.content.as_deref().map(clean).filter(|s| !s.is_empty()) {
        Some(content) => {
            c.chars(&h("Content"), &content);
            c.length(&h("Content"), &content, 500);
            Some(content)
        }
        // §10 a: Content is always written; default the subject.
        None => subject.clone(),
    };
    let signer = doc.signer.as_ref().map(|s| {
        let p = h("SignerInfo");
        SignerInfo {
            competence: c.optional(&format!("{p}/Competence"), s.competence.as_deref(), None),
            position: c.optional(&format!("{p}/Position"), s.position.as_deref(), None),
            full_name: c.optional(&format!("{p}/FullName"), s.full_name.as_deref(), None),
        }
    });
    if let Some(due) = doc.due_date
        && due < doc.promulgation_date
    {
        c.warning(h("DueDate"), "due date before the promulgation date")
            .expected(format!("{} or later", format_date(doc.promulgation_date)))
            .found(format_date(due));
    }

    // OtherInfo (§3.3, §4.1): always written.
    let priority = trim_xml(&doc.priority);
    if !matches!(priority, "0" | "1" | "2" | "3" | "4") {
        c.error(h("OtherInfo/Priority"), "priority outside the table")
            .expected("0, 1, 2, 3 or 4")
            .found(priority);
    }
    let sphere = c.required(
        h("OtherInfo/SphereOfPromulgation"),
        &doc.sphere_of_promulgation,
        "circulation scope",
        100,
    );
    let typer = c.required(
        h("OtherInfo/TyperNotation"),
        &doc.typer_notation,
        "typer notation",
        10,
    );
    for (tag, v) in [
        ("PromulgationAmount", doc.promulgation_amount),
        ("PageAmount", doc.page_amount),
    ] {
        if let Some(n) = v
            && n > u32::from(u16::MAX)
        {
            c.warning(
                h(&format!("OtherInfo/{tag}")),
                "number above an unsigned short",
            )
            .expected(format!("at most {}", u16::MAX))
            .found(n.to_string());
        }
    }
    let steering = doc
        .steering_type
        .as_deref()
        .map(trim_xml)
        .filter(|s| !s.is_empty())
        .unwrap_or(DEFAULT_STEERING_TYPE);
    if !matches!(steering, "1" | "2" | "3") {
        c.error(h("SteeringType"), "steering type outside the table")
            .expected("1, 2 or 3")
            .found(steering);
    }
    let mut to_places = Vec::new();
    for (i, p) in doc.to_places.iter().enumerate() {
        let path = h(&format!("ToPlaces/Place[{}]", i + 1));
        if let Some(p) = c.optional(&path, Some(p), Some(150)) {
            to_places.push(p);
        }
    }
    let staff = doc
        .staff
        .as_ref()
        .map(|s| c.staff(&format!("{BUSINESS}/StaffInfo"), s));

    // Business block and the document ids (§4.4, §5.2–§5.5, §12 rules 6 and 10).
    let nb = &doc.business;
    let target = nb
        .target
        .as_ref()
        .filter(|t| !is_null_token(t.as_str()))
        .cloned();
    if let Some(t) = &target {
        c.chars(&format!("{BUSINESS}/DocumentId"), t.as_str());
    }
    let own_document_id = match (&own_id, &number, &notation) {
        (Some(o), Some(n), Some(x)) => Some(DocumentId::structured(
            o,
            &format_date(doc.promulgation_date),
            &format!("{n}/{x}"),
        )),
        _ => None,
    };
    let (header_id, business_id) = match nb.doc_type {
        BusinessDocType::New => {
            if target.is_some() {
                c.warning(
                    format!("{BUSINESS}/DocumentId"),
                    "a new document has no target; the target given is not written",
                );
            }
            (own_document_id, None)
        }
        // §5.5 writer rule: the target's id in both places.
        BusinessDocType::Revocation | BusinessDocType::Update => {
            if target.is_none() {
                c.error(
                    format!("{BUSINESS}/DocumentId"),
                    "revocation or update without the id of its target document",
                );
            }
            (target.clone(), target.clone())
        }
        // §5.4/§5.5: a replacement is a document of its own (own structured id); the
        // replaced document goes in ReplacementInfoList, not in Bussiness/DocumentId.
        BusinessDocType::Replacement => {
            if target.is_none() {
                c.error(
                    format!("{BUSINESS}/ReplacementInfoList"),
                    "replacement without the id of the replaced document",
                );
            }
            (own_document_id, None)
        }
    };
    let reason = match nb.reason.as_deref().map(clean).filter(|s| !s.is_empty()) {
        Some(r) => {
            c.chars(&format!("{BUSINESS}/BussinessDocReason"), &r);
            r
        }
        None => nb.doc_type.default_reason().to_owned(),
    };
    let document_info = match (&nb.document_info, nb.doc_type) {
        (Some(info), BusinessDocType::Update) => Some(c.document_info(info)),
        (Some(_), _) => {
            c.warning(
                format!("{BUSINESS}/BussinessDocumentInfo"),
                "document info belongs to an update only; not written",
            );
            None
        }
        (None, _) => None,
    };
    let replacements = match nb.doc_type {
        BusinessDocType::Replacement => c.replacements(nb, target.as_ref(), &doc.to),
        _ => {
            if !nb.replacements.is_empty() {
                c.warning(
                    format!("{BUSINESS}/ReplacementInfoList"),
                    "replacement info belongs to a replacement only; not written",
                );
            }
            Vec::new()
        }
    };

    // Attachments (§7.4): names first, content only when nothing else is refused.
    if doc.attachments.is_empty() {
        c.error(
            MANIFEST,
            "no attachment: an edoc always carries the document itself as one",
        )
        .expected("at least one attachment");
    }
    let mut names = Vec::with_capacity(doc.attachments.len());
    for (i, a) in doc.attachments.iter().enumerate() {
        let p = format!("{ATTACHMENT_ENCODED}/Attachment[{}]", i + 1);
        let name = c.required(
            format!("{p}/AttachmentName"),
            &a.name,
            "attachment name",
            usize::MAX,
        );
        let description = c.optional(&format!("{p}/Description"), a.description.as_deref(), None);
        if a.content.is_empty() {
            c.warning(
                format!("{p}/ContentTransferEncoded"),
                "attachment is empty (0 bytes)",
            );
        }
        names.push((name, description));
    }

    if c.has_errors() {
        return Err(c.refuse());
    }
    let (Some(own_id), Some(header_id)) = (own_id, header_id) else {
        // Unreachable: a missing own code or target is an error above.
        c.error(h("DocumentId"), "document id could not be built");
        return Err(c.refuse());
    };

    let mut references = Vec::with_capacity(doc.attachments.len());
    let mut attachments = Vec::with_capacity(doc.attachments.len());
    let mut ids: Vec<String> = Vec::with_capacity(doc.attachments.len());
    for (i, (a, (name, description))) in doc.attachments.iter().zip(names).enumerate() {
        let p = format!("{ATTACHMENT_ENCODED}/Attachment[{}]", i + 1);
        let name = name.unwrap_or_default();
        let id = new_id().trim().to_ascii_lowercase();
        if !is_uuid(&id) {
            c.error(
                format!("{p}/ContentId"),
                "the id source did not return a UUID",
            )
            .expected("a lowercase UUID")
            .found(id.as_str());
            continue;
        }
        if ids.contains(&id) {
            c.error(
                format!("{p}/ContentId"),
                "the id source returned the same id twice",
            )
            .found(id.as_str());
            continue;
        }
        let zipped = match zip_one(&entry_name(&id, &name), &a.content, local_now) {
            Ok(z) => z,
            Err(e) => {
                c.error(
                    format!("{p}/ContentTransferEncoded"),
                    format!("cannot zip the attachment: {e}"),
                );
                continue;
            }
        };
        let content_id = format!("cid:{id}");
        let description = description.unwrap_or_else(|| name.clone());
        references.push(Reference {
            content_id: Some(content_id.clone()),
            content_type: Some(ZIP_CONTENT_TYPE.to_owned()),
            description: Some(description.clone()),
            attachment_name: Some(name.clone()),
        });
        attachments.push(EncodedAttachment {
            content_id: Some(content_id),
            attachment_name: Some(name),
            description: Some(description),
            content_type: Some(ZIP_CONTENT_TYPE.to_owned()),
            content: Some(Base64Content::encode(&zipped)),
        });
        ids.push(id);
    }
    if c.has_errors() {
        return Err(c.refuse());
    }

    let document = Document {
        from: Some(doc.from.clone()),
        to: doc.to.clone(),
        document_id: Some(header_id.clone()),
        code: Some(DocumentCode { number, notation }),
        promulgation: Some(Promulgation {
            place,
            date: Some(LenientDate::from_date(doc.promulgation_date)),
        }),
        document_type: Some(DocumentType {
            type_code: Some(type_code.to_owned()),
            type_detail: Some(TYPE_DETAIL.to_owned()),
            type_name,
        }),
        subject,
        content,
        signer,
        due_date: doc.due_date.map(LenientDate::from_date),
        other_info: Some(OtherInfo {
            priority: Some(priority.to_owned()),
            sphere_of_promulgation: sphere,
            typer_notation: typer,
            promulgation_amount: doc.promulgation_amount.map(|n| n.to_string()),
            page_amount: doc.page_amount.map(|n| n.to_string()),
            direction: Some(DIRECTION.to_owned()),
            appendixes: Vec::new(),
        }),
        response_for: Vec::new(),
        steering_type: Some(steering.to_owned()),
        to_places,
        // §5.1, §12 rule 9: exactly one entry, own code, now.
        trace: vec![TraceEntry {
            organ_id: Some(own_id),
            timestamp: Some(LenientTimestamp::from_datetime(local_now)),
        }],
        business: Some(Business {
            document_id: business_id,
            doc_type: Some(nb.doc_type.code().to_string()),
            reason: Some(reason),
            paper: Some(PAPER.to_owned()),
            document_info,
            replacements,
            staff,
        }),
    };
    let message = Message::Edoc(EdocMessage {
        document,
        signature: None,
        manifest_version: Some("1.0".to_owned()),
        references,
        attachments,
    });
    Ok(Composed {
        bytes: to_vec(&message),
        document_id: header_id,
        warnings: c.findings,
    })
}

/// Composes a new status message (§8): `Timestamp` is `now` in Vietnamese local time.
pub fn compose_status(status: &NewStatus, now: jiff::Timestamp) -> Result<Composed, ComposeError> {
    let mut c = Checker::default();
    c.own_org(&h("From"), &status.from);

    let rf = &status.response_for;
    let organ_id = rf.organ_id.clone();
    match &organ_id {
        None => {
            c.error(
                h("ResponseFor/OrganId"),
                "the organisation that is to receive the status is missing",
            );
        }
        Some(o) => c.chars(&h("ResponseFor/OrganId"), o.as_str()),
    }
    let code = c.identifier(
        h("ResponseFor/Code"),
        rf.code.as_deref().unwrap_or_default(),
        "code (number/notation) of the document",
        usize::MAX,
    );
    let document_id = rf
        .document_id
        .as_ref()
        .filter(|d| !is_null_token(d.as_str()))
        .cloned();
    match &document_id {
        None => {
            c.error(
                h("ResponseFor/DocumentId"),
                "document id missing: the status could not be matched to its document",
            );
        }
        Some(d) => c.chars(&h("ResponseFor/DocumentId"), d.as_str()),
    }
    if let Some(d) = &rf.promulgation_date {
        c.chars(&h("ResponseFor/PromulgationDate"), d.as_str());
        if !d.is_standard() {
            c.warning(
                h("ResponseFor/PromulgationDate"),
                "promulgation date not in the standard form; written as given",
            )
            .expected("yyyy/MM/dd")
            .found(d.as_str());
        }
    }
    let staff = status.staff.as_ref().map(|s| c.staff(&h("StaffInfo"), s));
    let description = c.optional(&h("Description"), status.description.as_deref(), None);
    if description.is_none()
        && matches!(
            status.code,
            KnownStatus::Refused | KnownStatus::TakeBackRequested
        )
    {
        c.warning(
            h("Description"),
            format!("status {} normally gives its reason", status.code.code()),
        );
    }

    if c.has_errors() {
        return Err(c.refuse());
    }
    let Some(document_id) = document_id else {
        // Unreachable: a missing document id is an error above.
        return Err(c.refuse());
    };
    let report = StatusReport {
        from: Some(status.from.clone()),
        response_for: Some(ResponseFor {
            organ_id,
            code,
            document_id: Some(document_id.clone()),
            promulgation_date: rf.promulgation_date.clone(),
        }),
        staff,
        status_code: Some(StatusCode::of(status.code)),
        description,
        timestamp: Some(LenientTimestamp::from_datetime(VIETNAM.to_datetime(now))),
        trace: Vec::new(),
    };
    let message = Message::Status(StatusMessage { status: report });
    Ok(Composed {
        bytes: to_vec(&message),
        document_id,
        warnings: c.findings,
    })
}

fn h(rest: &str) -> String {
    format!("{MESSAGE_HEADER}/{rest}")
}

/// A caller's text as it will be read back: trimmed, line breaks LF (§2.3 rule 9).
fn clean(s: &str) -> String {
    let t = trim_xml(s);
    if t.contains('\r') {
        t.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        t.to_owned()
    }
}

/// The first character XML 1.0 cannot carry, even escaped.
fn forbidden_char(s: &str) -> Option<char> {
    s.chars().find(|&c| {
        let n = u32::from(c);
        (n < 0x20 && !matches!(c, '\t' | '\n' | '\r')) || n == 0xFFFE || n == 0xFFFF
    })
}

/// Whether an id has the 8-4-4-4-12 lowercase hex shape.
fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(&c),
        })
}

/// `<uuid>.<extension of the name, case kept>`, or the bare uuid when the name has no
/// usable extension (§7.4).
fn entry_name(id: &str, name: &str) -> String {
    match name.rsplit_once('.') {
        Some((stem, ext))
            if !stem.is_empty()
                && !ext.is_empty()
                && !ext.contains(['/', '\\'])
                && forbidden_char(ext).is_none() =>
        {
            format!("{id}.{ext}")
        }
        _ => id.to_owned(),
    }
}

/// A ZIP archive holding one deflated entry (§7.2, §7.4), dated `local_now`.
fn zip_one(
    entry: &str,
    content: &[u8],
    local_now: jiff::civil::DateTime,
) -> zip::result::ZipResult<Vec<u8>> {
    let mut options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(content.len() as u64 >= u64::from(u32::MAX));
    let date = local_now.date();
    if let (Ok(y), Ok(m), Ok(d), Ok(hh), Ok(mm), Ok(ss)) = (
        u16::try_from(date.year()),
        u8::try_from(date.month()),
        u8::try_from(date.day()),
        u8::try_from(local_now.hour()),
        u8::try_from(local_now.minute()),
        u8::try_from(local_now.second()),
    ) && let Ok(t) = zip::DateTime::from_date_and_time(y, m, d, hh, mm, ss)
    {
        options = options.last_modified_time(t);
    }
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::with_capacity(
        content.len() / 2 + 256,
    )));
    w.start_file(entry, options)?;
    w.write_all(content)?;
    Ok(w.finish()?.into_inner())
}

/// Collects findings while a message is checked.
#[derive(Default)]
struct Checker {
    findings: Vec<Finding>,
}

/// The eight children of an organisation block, in writer order, with their §10 limits
/// for a `From` block and for a `To` block.
/// One child of an organisation block: tag, value, §10 limit in `From`, in `To`.
type OrgField<'a> = (&'static str, Option<&'a str>, Option<usize>, Option<usize>);

fn org_fields(o: &Organisation) -> [OrgField<'_>; 7] {
    [
        (
            "OrganizationInCharge",
            o.organization_in_charge.as_deref(),
            Some(200),
            None,
        ),
        ("OrganName", o.organ_name.as_deref(), Some(200), Some(200)),
        ("OrganAdd", o.organ_add.as_deref(), Some(250), Some(250)),
        ("Email", o.email.as_deref(), Some(100), Some(100)),
        ("Telephone", o.telephone.as_deref(), Some(20), Some(20)),
        ("Fax", o.fax.as_deref(), Some(20), Some(20)),
        ("Website", o.website.as_deref(), Some(20), Some(20)),
    ]
}

impl Checker {
    fn push(&mut self, f: Finding) -> &mut Finding {
        self.findings.push(f);
        let last = self.findings.len() - 1;
        &mut self.findings[last]
    }

    fn error(&mut self, path: impl Into<String>, message: impl Into<String>) -> FindingMut<'_> {
        FindingMut(self.push(Finding::error(path, message)))
    }

    fn warning(&mut self, path: impl Into<String>, message: impl Into<String>) -> FindingMut<'_> {
        FindingMut(self.push(Finding::warning(path, message)))
    }

    fn has_errors(&self) -> bool {
        self.findings.iter().any(Finding::is_error)
    }

    fn refuse(self) -> ComposeError {
        ComposeError {
            findings: self.findings,
        }
    }

    /// Error when the value holds a character XML cannot carry.
    fn chars(&mut self, path: &str, v: &str) {
        if let Some(ch) = forbidden_char(v) {
            self.error(path, "value holds a character XML cannot carry")
                .found(format!("U+{:04X}", u32::from(ch)));
        }
    }

    /// Warning above `limit` characters (§10: never truncated).
    fn length(&mut self, path: &str, v: &str, limit: usize) {
        let n = v.chars().count();
        if n > limit {
            self.warning(
                path,
                "value longer than one provincial hub accepts; sent whole",
            )
            .expected(format!("at most {limit} characters"))
            .found(format!("{n} characters"));
        }
    }

    /// A required text: error when blank.
    fn required(&mut self, path: String, v: &str, what: &str, limit: usize) -> Option<String> {
        let v = clean(v);
        if v.is_empty() {
            self.error(path, format!("{what} is empty"));
            return None;
        }
        self.chars(&path, &v);
        self.length(&path, &v, limit);
        Some(v)
    }

    /// A required identifier: error when blank or `null` (which a reader takes as absent,
    /// §11 rule 8).
    fn identifier(&mut self, path: String, v: &str, what: &str, limit: usize) -> Option<String> {
        if is_null_token(v) {
            self.error(path, format!("{what} is empty"))
                .found(trim_xml(v));
            return None;
        }
        self.required(path, v, what, limit)
    }

    /// An optional text: blank means absent.
    fn optional(&mut self, path: &str, v: Option<&str>, limit: Option<usize>) -> Option<String> {
        let v = clean(v?);
        if v.is_empty() {
            return None;
        }
        self.chars(path, &v);
        if let Some(limit) = limit {
            self.length(path, &v, limit);
        }
        Some(v)
    }

    /// The own organisation (§3.2, §10 a; codes.md §1.4). Returns its code when present.
    fn own_org(&mut self, path: &str, o: &Organisation) -> Option<OrganId> {
        match &o.organ_id {
            None => {
                self.error(
                    format!("{path}/OrganId"),
                    "own organisation code missing (configuration must supply it)",
                );
            }
            Some(id) if !id.is_valid_own_code() => {
                self.error(
                    format!("{path}/OrganId"),
                    "own organisation code is not in the strict 4-part form with group A, G or H",
                )
                .expected("NNN.NN.NN.XNN with X in A, G, H, e.g. 000.00.00.G22")
                .found(id.as_str());
            }
            Some(_) => {}
        }
        for (tag, v, limit, _) in org_fields(o) {
            let p = format!("{path}/{tag}");
            match v.map(trim_xml).filter(|s| !s.is_empty()) {
                None => {
                    self.error(
                        p,
                        format!(
                            "own organisation block without {tag}: configuration must supply all eight children"
                        ),
                    );
                }
                Some(v) => {
                    self.chars(&p, v);
                    if let Some(limit) = limit {
                        self.length(&p, v, limit);
                    }
                    if tag == "Email" && !v.contains('@') {
                        self.warning(p, "not an e-mail address").found(v);
                    }
                }
            }
        }
        o.organ_id.clone()
    }

    /// A recipient block, written as given (§3.2).
    fn recipient(&mut self, path: &str, o: &Organisation) {
        match &o.organ_id {
            None => {
                self.error(
                    format!("{path}/OrganId"),
                    "recipient organisation code missing",
                );
            }
            Some(id) => self.chars(&format!("{path}/OrganId"), id.as_str()),
        }
        for (tag, v, _, limit) in org_fields(o) {
            let p = format!("{path}/{tag}");
            match v.map(trim_xml).filter(|s| !s.is_empty()) {
                None if tag == "OrganName" => {
                    self.warning(p, "recipient without a name");
                }
                None => {}
                Some(v) => {
                    self.chars(&p, v);
                    if let Some(limit) = limit {
                        self.length(&p, v, limit);
                    }
                }
            }
        }
    }

    fn staff(&mut self, path: &str, s: &StaffInfo) -> StaffInfo {
        StaffInfo {
            department: self.optional(&format!("{path}/Department"), s.department.as_deref(), None),
            staff: self.optional(&format!("{path}/Staff"), s.staff.as_deref(), None),
            email: self.optional(&format!("{path}/Email"), s.email.as_deref(), None),
            mobile: self.optional(&format!("{path}/Mobile"), s.mobile.as_deref(), None),
        }
    }

    fn document_info(&mut self, info: &BusinessDocumentInfo) -> BusinessDocumentInfo {
        let p = format!("{BUSINESS}/BussinessDocumentInfo");
        let mut receivers = Vec::with_capacity(info.receivers.len());
        for (i, r) in info.receivers.iter().enumerate() {
            let rp = format!("{p}/ReceiverList/Receiver[{}]", i + 1);
            if let Some(id) = &r.organ_id {
                self.chars(&format!("{rp}/OrganId"), id.as_str());
            } else {
                self.warning(
                    format!("{rp}/OrganId"),
                    "receiver without organisation code",
                );
            }
            let receiver_type = self.optional(
                &format!("{rp}/ReceiverType"),
                r.receiver_type.as_deref(),
                None,
            );
            if let Some(t) = &receiver_type
                && !matches!(t.as_str(), "0" | "1")
            {
                self.error(
                    format!("{rp}/ReceiverType"),
                    "receiver type outside the table",
                )
                .expected("0 or 1")
                .found(t.as_str());
            }
            receivers.push(lienthong_model::Receiver {
                organ_id: r.organ_id.clone(),
                receiver_type,
            });
        }
        BusinessDocumentInfo {
            document_info: self.optional(
                &format!("{p}/DocumentInfo"),
                info.document_info.as_deref(),
                None,
            ),
            document_receiver: self.optional(
                &format!("{p}/DocumentReceiver"),
                info.document_receiver.as_deref(),
                None,
            ),
            receivers,
        }
    }

    /// The replacement list: as given, or the target received by this message's
    /// recipients.
    fn replacements(
        &mut self,
        nb: &NewBusiness,
        target: Option<&DocumentId>,
        to: &[Organisation],
    ) -> Vec<ReplacementInfo> {
        let p = format!("{BUSINESS}/ReplacementInfoList");
        if nb.replacements.is_empty() {
            return target
                .map(|t| ReplacementInfo {
                    document_id: Some(t.clone()),
                    organ_ids: to.iter().filter_map(|o| o.organ_id.clone()).collect(),
                })
                .into_iter()
                .collect();
        }
        for (i, r) in nb.replacements.iter().enumerate() {
            let rp = format!("{p}/ReplacementInfo[{}]", i + 1);
            match &r.document_id {
                Some(d) => self.chars(&format!("{rp}/DocumentId"), d.as_str()),
                None => {
                    self.error(
                        format!("{rp}/DocumentId"),
                        "replacement entry without the id of the replaced document",
                    );
                }
            }
            for (j, o) in r.organ_ids.iter().enumerate() {
                self.chars(&format!("{rp}/OrganIdList/OrganId[{}]", j + 1), o.as_str());
            }
        }
        if let Some(t) = target
            && !nb
                .replacements
                .iter()
                .any(|r| r.document_id.as_ref() == Some(t))
        {
            self.warning(p, "the target is not among the replaced documents listed")
                .found(t.as_str());
        }
        nb.replacements.clone()
    }
}

/// A finding just pushed, to add `expected` / `found`.
struct FindingMut<'a>(&'a mut Finding);

impl FindingMut<'_> {
    fn expected(self, e: impl Into<String>) -> Self {
        self.0.expected = Some(e.into());
        self
    }

    fn found(self, f: impl Into<String>) -> Self {
        self.0.found = Some(f.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_keep_the_extension_case() {
        let id = "5b0c7a52-3f0e-4a8e-9d51-2f6f2c1b7e90";
        assert_eq!(entry_name(id, "a.PDF"), format!("{id}.PDF"));
        assert_eq!(entry_name(id, "a.b.docx"), format!("{id}.docx"));
        assert_eq!(entry_name(id, "README"), id);
        assert_eq!(entry_name(id, ".hidden"), id);
        assert_eq!(entry_name(id, "x.a/b"), id);
    }

    #[test]
    fn uuid_shape() {
        assert!(is_uuid("5b0c7a52-3f0e-4a8e-9d51-2f6f2c1b7e90"));
        assert!(!is_uuid("5B0C7A52-3F0E-4A8E-9D51-2F6F2C1B7E90"));
        assert!(!is_uuid("209"));
    }

    #[test]
    fn forbidden_characters() {
        assert_eq!(forbidden_char("a\tb\nc\rd Văn"), None);
        assert_eq!(forbidden_char("a\u{1}"), Some('\u{1}'));
        assert_eq!(forbidden_char("\u{FFFF}"), Some('\u{FFFF}'));
    }

    #[test]
    fn clean_normalises_line_breaks() {
        assert_eq!(clean("  a\r\nb\rc\n "), "a\nb\nc");
    }
}
