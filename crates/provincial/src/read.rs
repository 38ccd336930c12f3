//! Strict reading of provincial documents into the model, with findings.

use jiff::Timestamp;
use lienthong_jsonread::Obj;
use lienthong_model::{
    Applicant, ApplicantCategory, Channel, Dossier, DossierStatus, Fee, Finding, Handler,
    IdentityDocument, IdentityKind, OnlinePayment, OtherAttachment, Procedure, ProgressStep,
    ResultDelivery, ResultDocument, Severity, SubmittedDocument, SupplementRequest, Unit,
};
use serde_json::Value;

/// Reads a dossier. `None` only when the value is not an object; otherwise a dossier is
/// returned together with every finding (missing required values are left empty).
pub fn read_dossier(v: &Value, f: &mut Vec<Finding>) -> Option<Dossier> {
    let mut o = Obj::new(v, "", f)?;
    let mut d = Dossier {
        code: o.req_str("code", f).unwrap_or_default(),
        version: o.req_u64("version", f).unwrap_or_default(),
        ..Dossier::default()
    };
    if let Some(mut u) = o.req_obj("unit", f) {
        d.unit = Unit {
            code: u.req_str("code", f),
            name: u.opt_str("name", f),
        };
        u.finish(Severity::Error, f);
    }
    if let Some(mut p) = o.req_obj("procedure", f) {
        d.procedure = Procedure {
            code: p.req_str("code", f).unwrap_or_default(),
            name: p.opt_str("name", f),
            field_code: p.opt_str("field_code", f),
            field_name: p.opt_str("field_name", f),
        };
        p.finish(Severity::Error, f);
    }
    d.channel = o.opt_enum("channel", Channel::from_name, &Channel::names(), f);
    if let Some(a) = o.req_obj("applicant", f) {
        d.applicant = applicant(a, f);
    }
    d.summary = o.opt_str("summary", f);
    d.other_info = o.opt_str("other_info", f);
    d.note = o.opt_str("note", f);
    d.status = o.opt_enum(
        "status",
        DossierStatus::from_name,
        &DossierStatus::names(),
        f,
    );
    if d.status.is_none() && !o.has("status") {
        f.push(
            Finding::error(o.at("status"), "required field missing")
                .expected(format!("one of {}", DossierStatus::names())),
        );
    }
    d.submitted_at = o.opt_time("submitted_at", f);
    d.received_at = o.opt_time("received_at", f);
    d.due_at = o.opt_time("due_at", f);
    d.finished_at = o.opt_time("finished_at", f);
    d.returned_at = o.opt_time("returned_at", f);
    d.refused_at = o.opt_time("refused_at", f);
    d.result_delivery = o.opt_enum(
        "result_delivery",
        ResultDelivery::from_name,
        &ResultDelivery::names(),
        f,
    );
    d.return_info = o.opt_str("return_info", f);
    d.digitised = o.opt_bool("digitised", f);
    d.online_payment = o.opt_enum(
        "online_payment",
        OnlinePayment::from_name,
        &OnlinePayment::names(),
        f,
    );
    for (path, item) in o.array("submitted_documents", f) {
        if let Some(mut x) = Obj::new(item, &path, f) {
            d.submitted_documents.push(SubmittedDocument {
                id: x.opt_str("id", f),
                name: x.req_str("name", f).unwrap_or_default(),
                component_code: x.opt_str("component_code", f),
                url: x.opt_str("url", f),
                deleted: x.opt_bool("deleted", f).unwrap_or(false),
                digitised: x.opt_bool("digitised", f),
                reused: x.opt_bool("reused", f),
                from_citizen_store: x.opt_bool("from_citizen_store", f),
                replaces_result_code: x.opt_str("replaces_result_code", f),
            });
            x.finish(Severity::Error, f);
        }
    }
    for (path, item) in o.array("fees", f) {
        if let Some(mut x) = Obj::new(item, &path, f) {
            d.fees.push(Fee {
                code: x.opt_str("code", f),
                name: x.req_str("name", f).unwrap_or_default(),
                amount: x.req_u64("amount", f).unwrap_or_default(),
                collection_method: x.opt_str("collection_method", f),
                kind: x.opt_str("kind", f),
            });
            x.finish(Severity::Error, f);
        }
    }
    for (path, item) in o.array("other_attachments", f) {
        if let Some(mut x) = Obj::new(item, &path, f) {
            let quantity = x.opt_u64("quantity", f);
            let quantity = quantity.and_then(|q| match u32::try_from(q) {
                Ok(q) => Some(q),
                Err(_) => {
                    f.push(
                        Finding::error(x.at("quantity"), "number too large")
                            .expected("at most 4294967295")
                            .found(q.to_string()),
                    );
                    None
                }
            });
            d.other_attachments.push(OtherAttachment {
                name: x.req_str("name", f).unwrap_or_default(),
                quantity,
                kind: x.opt_str("kind", f),
            });
            x.finish(Severity::Error, f);
        }
    }
    for (path, item) in o.array("supplement_requests", f) {
        if let Some(mut x) = Obj::new(item, &path, f) {
            d.supplement_requests.push(SupplementRequest {
                id: x.opt_str("id", f),
                requested_by: x.opt_str("requested_by", f),
                content: x.req_str("content", f).unwrap_or_default(),
                requested_at: x.opt_time("requested_at", f),
                received_by: x.opt_str("received_by", f),
                receipt_info: x.opt_str("receipt_info", f),
                received_at: x.opt_time("received_at", f),
                status: x.opt_str("status", f),
                previous_due_at: x.opt_time("previous_due_at", f),
                new_due_at: x.opt_time("new_due_at", f),
            });
            x.finish(Severity::Error, f);
        }
    }
    for (path, item) in o.array("result_documents", f) {
        if let Some(mut x) = Obj::new(item, &path, f) {
            d.result_documents.push(ResultDocument {
                id: x.opt_str("id", f),
                name: x.req_str("name", f).unwrap_or_default(),
                component_code: x.opt_str("component_code", f),
                url: x.opt_str("url", f),
                result_code: x.opt_str("result_code", f),
            });
            x.finish(Severity::Error, f);
        }
    }
    for (path, item) in o.array("consulted_databases", f) {
        match item {
            Value::String(s) if !s.trim().is_empty() => d.consulted_databases.push(s.trim().into()),
            other => f.push(
                Finding::error(path, "expected a non-empty string")
                    .found(lienthong_jsonread::type_name(other)),
            ),
        }
    }
    d.submission_place = o.opt_str("submission_place", f);
    o.finish(Severity::Error, f);
    Some(d)
}

fn applicant(mut a: Obj<'_>, f: &mut Vec<Finding>) -> Applicant {
    let mut out = Applicant {
        name: a.req_str("name", f),
        category: a.opt_enum(
            "category",
            ApplicantCategory::from_name,
            &ApplicantCategory::names(),
            f,
        ),
        ..Applicant::default()
    };
    for (path, item) in a.array("identity_documents", f) {
        if let Some(mut x) = Obj::new(item, &path, f) {
            let kind = x.opt_enum("kind", IdentityKind::from_name, &IdentityKind::names(), f);
            if kind.is_none() && !x.has("kind") {
                f.push(
                    Finding::error(x.at("kind"), "required field missing")
                        .expected(format!("one of {}", IdentityKind::names())),
                );
            }
            let number = x.req_str("number", f);
            if let (Some(kind), Some(number)) = (kind, number) {
                out.identity_documents
                    .push(IdentityDocument { kind, number });
            }
            x.finish(Severity::Error, f);
        }
    }
    out.portal_account = a.opt_str("portal_account", f);
    out.vneid_verified = a.opt_bool("vneid_verified", f);
    out.email = a.opt_str("email", f);
    out.phone = a.opt_str("phone", f);
    out.fax = a.opt_str("fax", f);
    out.address = a.opt_str("address", f);
    a.finish(Severity::Error, f);
    out
}

/// Reads a progress step, like [`read_dossier`].
pub fn read_progress(v: &Value, f: &mut Vec<Finding>) -> Option<ProgressStep> {
    let mut o = Obj::new(v, "", f)?;
    let mut p = ProgressStep {
        dossier_code: o.req_str("dossier_code", f).unwrap_or_default(),
        step_seq: o.req_u64("step_seq", f).unwrap_or_default(),
        ..ProgressStep::default()
    };
    if let Some(mut h) = o.req_obj("handler", f) {
        p.handler = Handler {
            name: h.req_str("name", f).unwrap_or_default(),
            title: h.opt_str("title", f),
            department: h.opt_str("department", f),
        };
        h.finish(Severity::Error, f);
    }
    p.at = req_time(&mut o, "at", f);
    p.action = o.req_str("action", f).unwrap_or_default();
    p.status = o.opt_enum(
        "status",
        DossierStatus::from_name,
        &DossierStatus::names(),
        f,
    );
    if p.status.is_none() && !o.has("status") {
        f.push(
            Finding::error(o.at("status"), "required field missing")
                .expected(format!("one of {}", DossierStatus::names())),
        );
    }
    p.started_at = o.opt_time("started_at", f);
    p.deadline_at = o.opt_time("deadline_at", f);
    o.finish(Severity::Error, f);
    Some(p)
}

fn req_time(o: &mut Obj<'_>, key: &'static str, f: &mut Vec<Finding>) -> Option<Timestamp> {
    o.req_time(key, f)
}
