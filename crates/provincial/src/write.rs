//! The canonical JSON of provincial documents: keys in the order of the guide, absent
//! values and empty lists omitted, times RFC 3339 in Vietnamese local time (`+07:00`).

use jiff::Timestamp;
use jiff::tz::Offset;
use lienthong_model::{Dossier, ProgressStep};
use serde::Serialize;

/// Vietnamese local time offset.
fn vn() -> Offset {
    Offset::constant(7)
}

/// RFC 3339 in `+07:00`, e.g. `2025-03-14T09:15:02+07:00`.
pub fn time(t: Timestamp) -> String {
    t.display_with_offset(vn()).to_string()
}

fn times(t: Option<Timestamp>) -> Option<String> {
    t.map(time)
}

fn no(v: &bool) -> bool {
    !*v
}

#[derive(Serialize)]
struct DossierOut<'a> {
    code: &'a str,
    version: u64,
    unit: UnitOut<'a>,
    procedure: ProcedureOut<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: Option<&'static str>,
    applicant: ApplicantOut<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    other_info: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    submitted_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    received_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    due_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    finished_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    returned_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refused_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    result_delivery: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    return_info: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    digitised: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    online_payment: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    submitted_documents: Vec<SubmittedOut<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    fees: Vec<FeeOut<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    other_attachments: Vec<OtherOut<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    supplement_requests: Vec<SupplementOut<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    result_documents: Vec<ResultOut<'a>>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    consulted_databases: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    submission_place: Option<&'a str>,
}

#[derive(Serialize)]
struct UnitOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
}

#[derive(Serialize)]
struct ProcedureOut<'a> {
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    field_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    field_name: Option<&'a str>,
}

#[derive(Serialize)]
struct IdentityOut<'a> {
    kind: &'static str,
    number: &'a str,
}

#[derive(Serialize)]
struct ApplicantOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    category: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    identity_documents: Vec<IdentityOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    portal_account: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vneid_verified: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fax: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<&'a str>,
}

#[derive(Serialize)]
struct SubmittedOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    component_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    #[serde(skip_serializing_if = "no")]
    deleted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    digitised: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reused: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    from_citizen_store: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    replaces_result_code: Option<&'a str>,
}

#[derive(Serialize)]
struct FeeOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'a str>,
    name: &'a str,
    amount: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    collection_method: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'a str>,
}

#[derive(Serialize)]
struct OtherOut<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    quantity: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'a str>,
}

#[derive(Serialize)]
struct SupplementOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    requested_by: Option<&'a str>,
    content: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    requested_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    received_by: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    receipt_info: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    received_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_due_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    new_due_at: Option<String>,
}

#[derive(Serialize)]
struct ResultOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    component_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    result_code: Option<&'a str>,
}

#[derive(Serialize)]
struct HandlerOut<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    department: Option<&'a str>,
}

#[derive(Serialize)]
struct ProgressOut<'a> {
    dossier_code: &'a str,
    step_seq: u64,
    handler: HandlerOut<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    at: Option<String>,
    action: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    started_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deadline_at: Option<String>,
}

fn dossier_out(d: &Dossier) -> DossierOut<'_> {
    let a = &d.applicant;
    DossierOut {
        code: &d.code,
        version: d.version,
        unit: UnitOut {
            code: d.unit.code.as_deref(),
            name: d.unit.name.as_deref(),
        },
        procedure: ProcedureOut {
            code: &d.procedure.code,
            name: d.procedure.name.as_deref(),
            field_code: d.procedure.field_code.as_deref(),
            field_name: d.procedure.field_name.as_deref(),
        },
        channel: d.channel.map(|c| c.name()),
        applicant: ApplicantOut {
            name: a.name.as_deref(),
            category: a.category.map(|c| c.name()),
            identity_documents: a
                .identity_documents
                .iter()
                .map(|i| IdentityOut {
                    kind: i.kind.name(),
                    number: &i.number,
                })
                .collect(),
            portal_account: a.portal_account.as_deref(),
            vneid_verified: a.vneid_verified,
            email: a.email.as_deref(),
            phone: a.phone.as_deref(),
            fax: a.fax.as_deref(),
            address: a.address.as_deref(),
        },
        summary: d.summary.as_deref(),
        other_info: d.other_info.as_deref(),
        note: d.note.as_deref(),
        status: d.status.map(|s| s.name()),
        submitted_at: times(d.submitted_at),
        received_at: times(d.received_at),
        due_at: times(d.due_at),
        finished_at: times(d.finished_at),
        returned_at: times(d.returned_at),
        refused_at: times(d.refused_at),
        result_delivery: d.result_delivery.map(|r| r.name()),
        return_info: d.return_info.as_deref(),
        digitised: d.digitised,
        online_payment: d.online_payment.map(|p| p.name()),
        submitted_documents: d
            .submitted_documents
            .iter()
            .map(|s| SubmittedOut {
                id: s.id.as_deref(),
                name: &s.name,
                component_code: s.component_code.as_deref(),
                url: s.url.as_deref(),
                deleted: s.deleted,
                digitised: s.digitised,
                reused: s.reused,
                from_citizen_store: s.from_citizen_store,
                replaces_result_code: s.replaces_result_code.as_deref(),
            })
            .collect(),
        fees: d
            .fees
            .iter()
            .map(|x| FeeOut {
                code: x.code.as_deref(),
                name: &x.name,
                amount: x.amount,
                collection_method: x.collection_method.as_deref(),
                kind: x.kind.as_deref(),
            })
            .collect(),
        other_attachments: d
            .other_attachments
            .iter()
            .map(|x| OtherOut {
                name: &x.name,
                quantity: x.quantity,
                kind: x.kind.as_deref(),
            })
            .collect(),
        supplement_requests: d
            .supplement_requests
            .iter()
            .map(|x| SupplementOut {
                id: x.id.as_deref(),
                requested_by: x.requested_by.as_deref(),
                content: &x.content,
                requested_at: times(x.requested_at),
                received_by: x.received_by.as_deref(),
                receipt_info: x.receipt_info.as_deref(),
                received_at: times(x.received_at),
                status: x.status.as_deref(),
                previous_due_at: times(x.previous_due_at),
                new_due_at: times(x.new_due_at),
            })
            .collect(),
        result_documents: d
            .result_documents
            .iter()
            .map(|x| ResultOut {
                id: x.id.as_deref(),
                name: &x.name,
                component_code: x.component_code.as_deref(),
                url: x.url.as_deref(),
                result_code: x.result_code.as_deref(),
            })
            .collect(),
        consulted_databases: &d.consulted_databases,
        submission_place: d.submission_place.as_deref(),
    }
}

fn progress_out(p: &ProgressStep) -> ProgressOut<'_> {
    ProgressOut {
        dossier_code: &p.dossier_code,
        step_seq: p.step_seq,
        handler: HandlerOut {
            name: &p.handler.name,
            title: p.handler.title.as_deref(),
            department: p.handler.department.as_deref(),
        },
        at: times(p.at),
        action: &p.action,
        status: p.status.map(|s| s.name()),
        started_at: times(p.started_at),
        deadline_at: times(p.deadline_at),
    }
}

/// A dossier as one line of JSON.
pub fn dossier_json(d: &Dossier) -> String {
    serde_json::to_string(&dossier_out(d)).unwrap_or_default()
}

/// A dossier as indented JSON.
pub fn dossier_json_pretty(d: &Dossier) -> String {
    serde_json::to_string_pretty(&dossier_out(d)).unwrap_or_default()
}

/// A progress step as one line of JSON.
pub fn progress_json(p: &ProgressStep) -> String {
    serde_json::to_string(&progress_out(p)).unwrap_or_default()
}

/// A progress step as indented JSON.
pub fn progress_json_pretty(p: &ProgressStep) -> String {
    serde_json::to_string_pretty(&progress_out(p)).unwrap_or_default()
}
