//! A fast path for reading well-formed dossiers straight from bytes (serde, borrowed
//! strings, no intermediate `serde_json::Value`). It accepts only documents the strict
//! reader of [`crate::read`] would read without a single finding, and yields the same
//! dossier; anything else (a missing field, a bad time, an unknown key, an empty string
//! where the reader would say more) makes it give up, and [`read_dossier_slice`] falls
//! back to the strict reader for precise findings. Tests hold the two readers equal.

use crate::read::read_dossier;
use jiff::Timestamp;
use lienthong_jsonread::{MAX_STRING_CHARS, parse_rfc3339};
use lienthong_model::{
    Applicant, ApplicantCategory, Channel, Dossier, DossierStatus, Fee, Finding, IdentityDocument,
    IdentityKind, OnlinePayment, OtherAttachment, Procedure, ResultDelivery, ResultDocument,
    SubmittedDocument, SupplementRequest, Unit,
};
use serde::Deserialize;
use std::borrow::Cow;

type S<'a> = Option<Cow<'a, str>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DossierIn<'a> {
    #[serde(borrow)]
    code: Cow<'a, str>,
    version: u64,
    #[serde(borrow)]
    unit: UnitIn<'a>,
    #[serde(borrow)]
    procedure: ProcedureIn<'a>,
    #[serde(borrow, default)]
    channel: S<'a>,
    #[serde(borrow)]
    applicant: ApplicantIn<'a>,
    #[serde(borrow, default)]
    summary: S<'a>,
    #[serde(borrow, default)]
    other_info: S<'a>,
    #[serde(borrow, default)]
    note: S<'a>,
    #[serde(borrow)]
    status: Cow<'a, str>,
    #[serde(borrow, default)]
    submitted_at: S<'a>,
    #[serde(borrow, default)]
    received_at: S<'a>,
    #[serde(borrow, default)]
    due_at: S<'a>,
    #[serde(borrow, default)]
    finished_at: S<'a>,
    #[serde(borrow, default)]
    returned_at: S<'a>,
    #[serde(borrow, default)]
    refused_at: S<'a>,
    #[serde(borrow, default)]
    result_delivery: S<'a>,
    #[serde(borrow, default)]
    return_info: S<'a>,
    #[serde(default)]
    digitised: Option<bool>,
    #[serde(borrow, default)]
    online_payment: S<'a>,
    #[serde(borrow, default)]
    submitted_documents: Option<Vec<SubmittedIn<'a>>>,
    #[serde(borrow, default)]
    fees: Option<Vec<FeeIn<'a>>>,
    #[serde(borrow, default)]
    other_attachments: Option<Vec<OtherIn<'a>>>,
    #[serde(borrow, default)]
    supplement_requests: Option<Vec<SupplementIn<'a>>>,
    #[serde(borrow, default)]
    result_documents: Option<Vec<ResultIn<'a>>>,
    #[serde(borrow, default)]
    consulted_databases: Option<Vec<Cow<'a, str>>>,
    #[serde(borrow, default)]
    submission_place: S<'a>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UnitIn<'a> {
    #[serde(borrow)]
    code: Cow<'a, str>,
    #[serde(borrow, default)]
    name: S<'a>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProcedureIn<'a> {
    #[serde(borrow)]
    code: Cow<'a, str>,
    #[serde(borrow, default)]
    name: S<'a>,
    #[serde(borrow, default)]
    field_code: S<'a>,
    #[serde(borrow, default)]
    field_name: S<'a>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentityIn<'a> {
    #[serde(borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    number: Cow<'a, str>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApplicantIn<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow, default)]
    category: S<'a>,
    #[serde(borrow, default)]
    identity_documents: Option<Vec<IdentityIn<'a>>>,
    #[serde(borrow, default)]
    portal_account: S<'a>,
    #[serde(default)]
    vneid_verified: Option<bool>,
    #[serde(borrow, default)]
    email: S<'a>,
    #[serde(borrow, default)]
    phone: S<'a>,
    #[serde(borrow, default)]
    fax: S<'a>,
    #[serde(borrow, default)]
    address: S<'a>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmittedIn<'a> {
    #[serde(borrow, default)]
    id: S<'a>,
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow, default)]
    component_code: S<'a>,
    #[serde(borrow, default)]
    url: S<'a>,
    #[serde(default)]
    deleted: Option<bool>,
    #[serde(default)]
    digitised: Option<bool>,
    #[serde(default)]
    reused: Option<bool>,
    #[serde(default)]
    from_citizen_store: Option<bool>,
    #[serde(borrow, default)]
    replaces_result_code: S<'a>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FeeIn<'a> {
    #[serde(borrow, default)]
    code: S<'a>,
    #[serde(borrow)]
    name: Cow<'a, str>,
    amount: u64,
    #[serde(borrow, default)]
    collection_method: S<'a>,
    #[serde(borrow, default)]
    kind: S<'a>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OtherIn<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(default)]
    quantity: Option<u32>,
    #[serde(borrow, default)]
    kind: S<'a>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SupplementIn<'a> {
    #[serde(borrow, default)]
    id: S<'a>,
    #[serde(borrow, default)]
    requested_by: S<'a>,
    #[serde(borrow)]
    content: Cow<'a, str>,
    #[serde(borrow, default)]
    requested_at: S<'a>,
    #[serde(borrow, default)]
    received_by: S<'a>,
    #[serde(borrow, default)]
    receipt_info: S<'a>,
    #[serde(borrow, default)]
    received_at: S<'a>,
    #[serde(borrow, default)]
    status: S<'a>,
    #[serde(borrow, default)]
    previous_due_at: S<'a>,
    #[serde(borrow, default)]
    new_due_at: S<'a>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResultIn<'a> {
    #[serde(borrow, default)]
    id: S<'a>,
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow, default)]
    component_code: S<'a>,
    #[serde(borrow, default)]
    url: S<'a>,
    #[serde(borrow, default)]
    result_code: S<'a>,
}

/// Why the fast path gave up (the strict reader will say precisely).
struct GiveUp;

type R<T> = Result<T, GiveUp>;

/// An optional text as the strict reader keeps it: trimmed, blank = absent, length bound.
fn text(s: &S<'_>) -> R<Option<String>> {
    match s {
        None => Ok(None),
        Some(s) => {
            let t = s.trim();
            if t.len() > MAX_STRING_CHARS && t.chars().count() > MAX_STRING_CHARS {
                return Err(GiveUp);
            }
            Ok((!t.is_empty()).then(|| t.to_owned()))
        }
    }
}

/// A required text: present and not blank.
fn req(s: &str) -> R<String> {
    text(&Some(Cow::Borrowed(s)))?.ok_or(GiveUp)
}

fn time(s: &S<'_>) -> R<Option<Timestamp>> {
    match s {
        None => Ok(None),
        Some(s) => parse_rfc3339(s.trim()).map(Some).ok_or(GiveUp),
    }
}

fn named<T>(s: &S<'_>, from: fn(&str) -> Option<T>) -> R<Option<T>> {
    match s {
        None => Ok(None),
        Some(s) => from(s.trim()).map(Some).ok_or(GiveUp),
    }
}

fn convert(d: DossierIn<'_>) -> R<Dossier> {
    let a = d.applicant;
    Ok(Dossier {
        code: req(&d.code)?,
        version: d.version,
        unit: Unit {
            code: Some(req(&d.unit.code)?),
            name: text(&d.unit.name)?,
        },
        procedure: Procedure {
            code: req(&d.procedure.code)?,
            name: text(&d.procedure.name)?,
            field_code: text(&d.procedure.field_code)?,
            field_name: text(&d.procedure.field_name)?,
        },
        channel: named(&d.channel, Channel::from_name)?,
        applicant: Applicant {
            name: Some(req(&a.name)?),
            category: named(&a.category, ApplicantCategory::from_name)?,
            identity_documents: a
                .identity_documents
                .unwrap_or_default()
                .iter()
                .map(|i| {
                    Ok(IdentityDocument {
                        kind: IdentityKind::from_name(i.kind.trim()).ok_or(GiveUp)?,
                        number: req(&i.number)?,
                    })
                })
                .collect::<R<_>>()?,
            portal_account: text(&a.portal_account)?,
            vneid_verified: a.vneid_verified,
            email: text(&a.email)?,
            phone: text(&a.phone)?,
            fax: text(&a.fax)?,
            address: text(&a.address)?,
        },
        summary: text(&d.summary)?,
        other_info: text(&d.other_info)?,
        note: text(&d.note)?,
        status: Some(DossierStatus::from_name(d.status.trim()).ok_or(GiveUp)?),
        submitted_at: time(&d.submitted_at)?,
        received_at: time(&d.received_at)?,
        due_at: time(&d.due_at)?,
        finished_at: time(&d.finished_at)?,
        returned_at: time(&d.returned_at)?,
        refused_at: time(&d.refused_at)?,
        result_delivery: named(&d.result_delivery, ResultDelivery::from_name)?,
        return_info: text(&d.return_info)?,
        digitised: d.digitised,
        online_payment: named(&d.online_payment, OnlinePayment::from_name)?,
        submitted_documents: d
            .submitted_documents
            .unwrap_or_default()
            .iter()
            .map(|x| {
                Ok(SubmittedDocument {
                    id: text(&x.id)?,
                    name: req(&x.name)?,
                    component_code: text(&x.component_code)?,
                    url: text(&x.url)?,
                    deleted: x.deleted.unwrap_or(false),
                    digitised: x.digitised,
                    reused: x.reused,
                    from_citizen_store: x.from_citizen_store,
                    replaces_result_code: text(&x.replaces_result_code)?,
                })
            })
            .collect::<R<_>>()?,
        fees: d
            .fees
            .unwrap_or_default()
            .iter()
            .map(|x| {
                Ok(Fee {
                    code: text(&x.code)?,
                    name: req(&x.name)?,
                    amount: x.amount,
                    collection_method: text(&x.collection_method)?,
                    kind: text(&x.kind)?,
                })
            })
            .collect::<R<_>>()?,
        other_attachments: d
            .other_attachments
            .unwrap_or_default()
            .iter()
            .map(|x| {
                Ok(OtherAttachment {
                    name: req(&x.name)?,
                    quantity: x.quantity,
                    kind: text(&x.kind)?,
                })
            })
            .collect::<R<_>>()?,
        supplement_requests: d
            .supplement_requests
            .unwrap_or_default()
            .iter()
            .map(|x| {
                Ok(SupplementRequest {
                    id: text(&x.id)?,
                    requested_by: text(&x.requested_by)?,
                    content: req(&x.content)?,
                    requested_at: time(&x.requested_at)?,
                    received_by: text(&x.received_by)?,
                    receipt_info: text(&x.receipt_info)?,
                    received_at: time(&x.received_at)?,
                    status: text(&x.status)?,
                    previous_due_at: time(&x.previous_due_at)?,
                    new_due_at: time(&x.new_due_at)?,
                })
            })
            .collect::<R<_>>()?,
        result_documents: d
            .result_documents
            .unwrap_or_default()
            .iter()
            .map(|x| {
                Ok(ResultDocument {
                    id: text(&x.id)?,
                    name: req(&x.name)?,
                    component_code: text(&x.component_code)?,
                    url: text(&x.url)?,
                    result_code: text(&x.result_code)?,
                })
            })
            .collect::<R<_>>()?,
        consulted_databases: d
            .consulted_databases
            .unwrap_or_default()
            .iter()
            .map(|x| {
                let t = x.trim();
                if t.is_empty() {
                    Err(GiveUp)
                } else {
                    Ok(t.to_owned())
                }
            })
            .collect::<R<_>>()?,
        submission_place: text(&d.submission_place)?,
    })
}

/// The fast path alone: `Some` only for a document the strict reader reads without
/// findings (then the same dossier).
pub fn read_dossier_fast(bytes: &[u8]) -> Option<Dossier> {
    let d: DossierIn<'_> = serde_json::from_slice(bytes).ok()?;
    convert(d).ok()
}

/// Reads a dossier from bytes: the fast path when it applies, else the strict reader with
/// every finding. `Err` holds the findings of a document that is not even JSON.
pub fn read_dossier_slice(bytes: &[u8]) -> Result<(Option<Dossier>, Vec<Finding>), Finding> {
    if let Some(d) = read_dossier_fast(bytes) {
        return Ok((Some(d), Vec::new()));
    }
    let v = lienthong_jsonread::parse(bytes)?;
    let mut f = Vec::new();
    let d = read_dossier(&v, &mut f);
    Ok((d, f))
}
