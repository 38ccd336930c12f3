//! The document API of the local document systems (client tokens, scoped to their units):
//!
//! | endpoint | what |
//! | --- | --- |
//! | `POST /v1/edocs` | a new document: JSON fields (attachments base64), `multipart/form-data` (part `document` = the JSON fields, every file part an attachment), or a ready edXML (`application/xml`, `?dossier_code=` links it) |
//! | `GET /v1/edocs/{id}` | a document or status this client sent or received: its state and every message about the same `DocumentId` |
//! | `POST /v1/edocs/{id}/status` | a status about it: `{"code": "03", "description": …, "staff": {…}}` — 01–06, 15, 16 for a document received; 13 (take back) for one sent |
//! | `GET /v1/edocs/inbox?limit=` | documents and statuses that arrived for the client's units and were not taken yet, oldest first, with the edXML (base64) and the `action` asked of the client |
//! | `POST /v1/edocs/inbox/{id}/ack` | the client took it |
//!
//! `202` once the journal committed the message and its work item; `200` with
//! `"result": "duplicate"` for a message recorded before (same `Idempotency-Key`, or the
//! same `DocumentId` and business type); `422` with findings (JSON pointer or edXML path,
//! expected, found) for a message that cannot be sent; `403` outside the client's units.
//! Recipients are checked against the agency directory when the journal holds one: a
//! recipient known by an old code is written with its new code (and said so in
//! `warnings`), an unknown recipient is refused.

use super::multipart;
use super::{EdocSettings, StatusError, StatusRequest, delivery_json, new_uuid, record_json};
use crate::auth::{Principal, Tokens};
use crate::portal::{answer, client, refuse, unavailable, with_retry_after};
use axum::Router;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use base64::Engine as _;
use bytes::Bytes;
use jiff::Timestamp;
use jiff::civil::Date;
use lienthong_edxml::{NewAttachment, NewBusiness, NewEdoc};
use lienthong_journal::agencies::Resolved;
use lienthong_journal::edocs::{Direction, EdocKind, EdocRecord, OutRecorded, OutgoingEdoc};
use lienthong_journal::{Journal, JournalError, Reveal};
use lienthong_jsonread::Obj;
use lienthong_model::{
    BusinessDocType, DocumentId, Finding, KnownStatus, OrganId, Organisation, Severity, SignerInfo,
    StaffInfo,
};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// What the document API shares.
pub struct EdocApi {
    /// The journal.
    pub journal: Journal,
    /// Who may call.
    pub tokens: Tokens,
    /// Own organisations, progress mapping, …
    pub settings: Arc<EdocSettings>,
    /// Maintenance mode: new messages are refused with 503.
    pub maintenance: Arc<AtomicBool>,
    /// Largest request body.
    pub max_request_bytes: usize,
}

/// The routes.
pub fn router(state: Arc<EdocApi>) -> Router {
    let limit = state.max_request_bytes;
    Router::new()
        .route("/v1/edocs", post(submit))
        .route("/v1/edocs/inbox", get(inbox))
        .route("/v1/edocs/inbox/{id}/ack", post(ack))
        .route("/v1/edocs/{id}", get(show))
        .route("/v1/edocs/{id}/status", post(status))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

fn invalid(findings: &[Finding], message: &str) -> Response {
    answer(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({
            "error": "invalid",
            "message": message,
            "findings": serde_json::to_value(findings).unwrap_or(Value::Null),
        }),
    )
}

fn idempotency_key(headers: &HeaderMap) -> Option<String> {
    headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 200)
        .map(str::to_owned)
}

/// Whether the client's units include one of `codes`.
fn in_scope(p: &Principal, codes: &[String]) -> bool {
    codes.iter().any(|c| p.may_submit_for(c))
}

/// Whether `p` may see `r`: its sender (for what was sent) or a recipient (for what
/// arrived) is one of the client's units.
fn may_see(p: &Principal, r: &EdocRecord) -> bool {
    match r.direction {
        Direction::Out => p.may_submit_for(&r.from_organ),
        Direction::In => in_scope(p, &r.to_organs),
    }
}

// ---------------------------------------------------------------------------------------
// POST /v1/edocs

#[derive(Debug, Deserialize)]
struct SubmitQuery {
    dossier_code: Option<String>,
}

/// A new document, read from the JSON fields.
struct Request {
    doc: NewEdoc,
    dossier_code: Option<String>,
}

fn date_field(o: &mut Obj<'_>, key: &'static str, f: &mut Vec<Finding>) -> Option<Date> {
    let s = o.opt_str(key, f)?;
    let d = s
        .parse::<Date>()
        .ok()
        .or_else(|| lienthong_model::time::parse_date_lenient(&s));
    if d.is_none() {
        f.push(
            Finding::error(o.at(key), "not a date")
                .expected("YYYY-MM-DD (or yyyy/MM/dd)")
                .found(s),
        );
    }
    d
}

fn read_request(
    value: &Value,
    settings: &EdocSettings,
    files: Vec<NewAttachment>,
    f: &mut Vec<Finding>,
) -> Option<Request> {
    let mut o = Obj::new(value, "", f)?;
    let from_code = o.opt_str("from", f);
    let from = match &from_code {
        Some(c) => match settings.own(c) {
            Some(org) => Some(org.clone()),
            None => {
                f.push(
                    Finding::error("/from", "not one of this gateway's organisations")
                        .expected("an organ_id of [[vdxp.organisations]]")
                        .found(c.clone()),
                );
                None
            }
        },
        None => settings.organisations.first().cloned(),
    };
    let mut to = Vec::new();
    for (path, v) in o.array("to", f) {
        match v {
            Value::String(s) if !s.trim().is_empty() => to.push(Organisation {
                organ_id: OrganId::parse_lenient(s),
                ..Organisation::default()
            }),
            Value::Object(_) => {
                if let Some(mut r) = Obj::new(v, &path, f) {
                    let org = Organisation {
                        organ_id: r
                            .req_str("organ_id", f)
                            .and_then(|c| OrganId::parse_lenient(&c)),
                        organization_in_charge: r.opt_str("organization_in_charge", f),
                        organ_name: r.opt_str("organ_name", f),
                        organ_add: r.opt_str("organ_add", f),
                        email: r.opt_str("email", f),
                        telephone: r.opt_str("telephone", f),
                        fax: r.opt_str("fax", f),
                        website: r.opt_str("website", f),
                    };
                    r.finish(Severity::Error, f);
                    to.push(org);
                }
            }
            other => f.push(
                Finding::error(path, "not a recipient")
                    .expected("an organisation code, or {\"organ_id\": …}")
                    .found(lienthong_jsonread::preview(other)),
            ),
        }
    }
    if to.is_empty() {
        f.push(Finding::error("/to", "no recipient").expected("at least one organisation code"));
    }
    let code_number = o.req_str("code_number", f);
    let code_notation = o.req_str("code_notation", f);
    let place = o.req_str("place", f);
    let promulgation_date = if o.has("promulgation_date") {
        date_field(&mut o, "promulgation_date", f)
    } else {
        Some(jiff::tz::offset(7).to_datetime(Timestamp::now()).date())
    };
    let type_code = o.opt_str("type", f).unwrap_or_else(|| "1".into());
    let type_name = o.req_str("type_name", f);
    let subject = o.req_str("subject", f);
    let content = o.opt_str("content", f);
    let signer = o.opt_obj("signer", f).map(|mut s| {
        let v = SignerInfo {
            competence: s.opt_str("competence", f),
            position: s.opt_str("position", f),
            full_name: s.opt_str("full_name", f),
        };
        s.finish(Severity::Error, f);
        v
    });
    let due_date = date_field(&mut o, "due_date", f);
    let priority = o.opt_str("priority", f).unwrap_or_else(|| "0".into());
    let sphere = o
        .opt_str("sphere_of_promulgation", f)
        .unwrap_or_else(|| "Liên thông văn bản quốc gia".into());
    let typer_notation = o
        .opt_str("typer_notation", f)
        .unwrap_or_else(|| "VT".into());
    let promulgation_amount = o
        .opt_u64("promulgation_amount", f)
        .and_then(|n| u32::try_from(n).ok());
    let page_amount = o
        .opt_u64("page_amount", f)
        .and_then(|n| u32::try_from(n).ok());
    let steering_type = o.opt_str("steering_type", f);
    let mut to_places = Vec::new();
    for (path, v) in o.array("to_places", f) {
        match v.as_str() {
            Some(s) if !s.trim().is_empty() => to_places.push(s.trim().to_owned()),
            _ => f.push(Finding::error(path, "expected a text").expected("a place name")),
        }
    }
    let staff = o.opt_obj("staff", f).map(|mut s| {
        let v = StaffInfo {
            department: s.opt_str("department", f),
            staff: s.opt_str("staff", f),
            email: s.opt_str("email", f),
            mobile: s.opt_str("mobile", f),
        };
        s.finish(Severity::Error, f);
        v
    });
    let business = match o.opt_obj("business", f) {
        None => Some(NewBusiness {
            doc_type: BusinessDocType::New,
            target: None,
            reason: None,
            document_info: None,
            replacements: Vec::new(),
        }),
        Some(mut b) => {
            let at = b.at("type");
            let kind = match b.opt_u64("type", f) {
                None => Some(BusinessDocType::New),
                Some(n) => {
                    let t = u32::try_from(n).ok().and_then(BusinessDocType::from_code);
                    if t.is_none() {
                        f.push(
                            Finding::error(at, "not a business type")
                                .expected("0 new, 1 revocation, 2 update, 3 replacement")
                                .found(n.to_string()),
                        );
                    }
                    t
                }
            };
            let target = b
                .opt_str("target", f)
                .and_then(|t| DocumentId::parse_lenient(&t));
            let reason = b.opt_str("reason", f);
            if kind.is_some_and(|k| k != BusinessDocType::New) && target.is_none() {
                f.push(
                    Finding::error(
                        b.at("target"),
                        "required for a revocation, update or replacement",
                    )
                    .expected("the DocumentId of the document acted on"),
                );
            }
            b.finish(Severity::Error, f);
            kind.map(|doc_type| NewBusiness {
                doc_type,
                target,
                reason,
                document_info: None,
                replacements: Vec::new(),
            })
        }
    };
    let mut attachments = Vec::new();
    for (path, v) in o.array("attachments", f) {
        let Some(mut a) = Obj::new(v, &path, f) else {
            continue;
        };
        let name = a.req_str("name", f);
        let description = a.opt_str("description", f);
        let content_at = a.at("content_base64");
        let content = a.req_str("content_base64", f).and_then(|c| {
            match base64::engine::general_purpose::STANDARD.decode(c.as_bytes()) {
                Ok(b) => Some(b),
                Err(e) => {
                    f.push(
                        Finding::error(content_at, "not base64")
                            .expected("the file's bytes in standard base64")
                            .found(e.to_string()),
                    );
                    None
                }
            }
        });
        a.finish(Severity::Error, f);
        if let (Some(name), Some(content)) = (name, content) {
            attachments.push(NewAttachment {
                name,
                description,
                content,
            });
        }
    }
    attachments.extend(files);
    if attachments.is_empty() {
        f.push(
            Finding::error(
                "/attachments",
                "a document travels as at least one attachment",
            )
            .expected("one or more files (edxml.md §7.4)"),
        );
    }
    let dossier_code = o.opt_str("dossier_code", f);
    o.finish(Severity::Error, f);
    Some(Request {
        doc: NewEdoc {
            from: from?,
            to,
            code_number: code_number?,
            code_notation: code_notation?,
            place: place?,
            promulgation_date: promulgation_date?,
            type_code,
            type_name: type_name?,
            subject: subject?,
            content,
            signer,
            due_date,
            priority,
            sphere_of_promulgation: sphere,
            typer_notation,
            promulgation_amount,
            page_amount,
            steering_type,
            to_places,
            staff,
            business: business?,
            attachments,
        },
        dossier_code,
    })
}

/// Checks and routes the recipients through the agency directory: an old code becomes the
/// new one (a warning says so), an unknown code is refused when the directory is not empty.
async fn route_recipients(
    journal: &Journal,
    to: &mut [Organisation],
    path: impl Fn(usize) -> String,
    f: &mut Vec<Finding>,
) -> Result<(), JournalError> {
    let directory = journal.agency_count().await? > 0;
    for (i, org) in to.iter_mut().enumerate() {
        let Some(code) = org.organ_id.clone() else {
            continue;
        };
        match journal.resolve_agency(code.as_str()).await? {
            Resolved::Current(a) => {
                if org.organ_name.is_none() {
                    org.organ_name = a.name.clone();
                    org.organization_in_charge = a.name.clone();
                }
                if org.email.is_none() {
                    org.email = a.mail.clone();
                }
            }
            Resolved::Renamed { from, to: a } => {
                f.push(
                    Finding::warning(
                        path(i),
                        "the recipient's code changed; sent to its new code",
                    )
                    .expected(a.code.clone())
                    .found(from),
                );
                org.organ_id = OrganId::parse_lenient(&a.code);
                org.organ_name = a.name.clone().or(org.organ_name.take());
                org.organization_in_charge = org.organ_name.clone();
                if org.email.is_none() {
                    org.email = a.mail.clone();
                }
            }
            Resolved::Unknown if directory => f.push(
                Finding::error(path(i), "unknown recipient")
                    .expected("an agency of the axis directory (`lienthong agencies search`)")
                    .found(code.as_str()),
            ),
            Resolved::Unknown => {}
        }
    }
    Ok(())
}

async fn submit(
    State(st): State<Arc<EdocApi>>,
    Query(q): Query<SubmitQuery>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let p = match client(&st.tokens, &headers) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    if st.maintenance.load(Ordering::Relaxed) {
        return with_retry_after(
            refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "maintenance",
                "the gateway is in maintenance mode; send again later / cổng đang bảo trì",
            ),
            60,
        );
    }
    let body = match body {
        Ok(b) => b,
        Err(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!(
                    "the request body is larger than {} bytes",
                    st.max_request_bytes
                ),
            );
        }
        Err(r) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "invalid",
                format!("the request body cannot be read: {r}"),
            );
        }
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let mut f = Vec::new();
    let prepared = match mime.as_str() {
        "application/xml" | "text/xml" | "application/edxml+xml" => {
            prepare_edxml(&st, &body, q.dossier_code.clone(), &mut f).await
        }
        "multipart/form-data" => {
            let Some(boundary) = multipart::boundary(&content_type) else {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    "invalid",
                    "multipart without a boundary",
                );
            };
            let parts = match multipart::parse(&body, &boundary) {
                Ok(p) => p,
                Err(e) => return refuse(StatusCode::BAD_REQUEST, "invalid", e),
            };
            let mut document = None;
            let mut files = Vec::new();
            for part in parts {
                if part.name == "document" && part.filename.is_none() {
                    document = Some(part.body);
                } else if let Some(name) = part.filename {
                    files.push(NewAttachment {
                        name,
                        description: None,
                        content: part.body,
                    });
                }
            }
            let Some(document) = document else {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    "invalid",
                    "the multipart body has no part `document` (the JSON fields)",
                );
            };
            prepare_json(&st, &document, files, q.dossier_code.clone(), &mut f).await
        }
        _ => prepare_json(&st, &body, Vec::new(), q.dossier_code.clone(), &mut f).await,
    };
    let prepared = match prepared {
        Ok(Some(p)) => p,
        Ok(None) => {
            crate::metrics::edoc_sent("edoc", "invalid");
            let errors = f.iter().filter(|x| x.is_error()).count();
            return invalid(&f, &format!("{errors} error(s); nothing was sent"));
        }
        Err(e) => return unavailable("checking a document", &e),
    };
    if !p.may_submit_for(&prepared.from) {
        return refuse(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("client {} may not send for {}", p.name(), prepared.from),
        );
    }
    if let Some(code) = &prepared.dossier_code {
        match st.journal.dossier_state(code).await {
            Ok(Some(_)) => {}
            Ok(None) => {
                f.push(
                    Finding::error("/dossier_code", "no such dossier in the journal")
                        .expected("the code of a dossier submitted to this gateway")
                        .found(code.clone()),
                );
                return invalid(&f, "the linked dossier is unknown; nothing was sent");
            }
            Err(e) => return unavailable("looking up the dossier", &e),
        }
    }
    let id = format!("out-{}", new_uuid());
    let dedup = match idempotency_key(&headers) {
        Some(k) => format!("out:key:{}:{k}", p.name()),
        None => format!(
            "out:edoc:{}:{}",
            prepared.document_id, prepared.business_type
        ),
    };
    let recorded = st
        .journal
        .record_outgoing(&OutgoingEdoc {
            id: &id,
            kind: EdocKind::Edoc,
            dedup_key: &dedup,
            document_id: &prepared.document_id,
            business_type: Some(prepared.business_type),
            status_code: None,
            code: prepared.code.as_deref(),
            subject: prepared.subject.as_deref(),
            from_organ: &prepared.from,
            to_organs: &prepared.to,
            dossier_code: prepared.dossier_code.as_deref(),
            client: Some(p.name()),
            related_id: None,
            body: &prepared.bytes,
            at: Timestamp::now(),
        })
        .await;
    match recorded {
        Ok(OutRecorded::New { .. }) => {
            crate::metrics::edoc_sent("edoc", "queued");
            tracing::info!(doc_id = %id, partner = %p.name(),
                dossier = prepared.dossier_code.as_deref().unwrap_or(""),
                recipients = prepared.to.len(), "document accepted for the axis");
            answer(
                StatusCode::ACCEPTED,
                json!({
                    "id": id,
                    "result": "accepted",
                    "document_id": prepared.document_id,
                    "to": prepared.to,
                    "state": "queued",
                    "warnings": serde_json::to_value(&f).unwrap_or(Value::Null),
                }),
            )
        }
        Ok(OutRecorded::Duplicate { id }) => answer(
            StatusCode::OK,
            json!({
                "id": id,
                "result": "duplicate",
                "document_id": prepared.document_id,
                "message": "this document was accepted before; nothing more was sent",
            }),
        ),
        Err(e) => unavailable("recording a document", &e),
    }
}

/// A document ready to be recorded.
struct Prepared {
    bytes: Vec<u8>,
    document_id: String,
    business_type: u32,
    code: Option<String>,
    subject: Option<String>,
    from: String,
    to: Vec<String>,
    dossier_code: Option<String>,
}

async fn prepare_json(
    st: &EdocApi,
    body: &[u8],
    files: Vec<NewAttachment>,
    dossier_in_query: Option<String>,
    f: &mut Vec<Finding>,
) -> Result<Option<Prepared>, JournalError> {
    let value = match lienthong_jsonread::parse(body) {
        Ok(v) => v,
        Err(finding) => {
            f.push(finding);
            return Ok(None);
        }
    };
    let Some(mut req) = read_request(&value, &st.settings, files, f) else {
        return Ok(None);
    };
    route_recipients(&st.journal, &mut req.doc.to, |i| format!("/to/{i}"), f).await?;
    if f.iter().any(Finding::is_error) {
        return Ok(None);
    }
    let composed = match lienthong_edxml::compose_edoc(&req.doc, Timestamp::now(), &mut new_uuid) {
        Ok(c) => c,
        Err(e) => {
            f.extend(e.findings);
            return Ok(None);
        }
    };
    f.extend(composed.warnings);
    let from = req
        .doc
        .from
        .organ_id
        .as_ref()
        .map(|c| c.as_str().to_owned())
        .unwrap_or_default();
    Ok(Some(Prepared {
        bytes: composed.bytes,
        document_id: composed.document_id.as_str().to_owned(),
        business_type: req.doc.business.doc_type.code(),
        code: Some(format!("{}/{}", req.doc.code_number, req.doc.code_notation)),
        subject: Some(req.doc.subject.clone()),
        from,
        to: req
            .doc
            .to
            .iter()
            .filter_map(|o| o.organ_id.as_ref().map(|c| c.as_str().to_owned()))
            .collect(),
        dossier_code: req.dossier_code.or(dossier_in_query),
    }))
}

/// A ready edXML: read leniently, checked, routed, written strictly (values kept).
async fn prepare_edxml(
    st: &EdocApi,
    body: &[u8],
    dossier_code: Option<String>,
    f: &mut Vec<Finding>,
) -> Result<Option<Prepared>, JournalError> {
    let parsed = match lienthong_edxml::read(Bytes::copy_from_slice(body)) {
        Ok(p) => p,
        Err(e) => {
            f.push(e.finding.clone());
            return Ok(None);
        }
    };
    let lienthong_edxml::Message::Edoc(mut m) = parsed.message else {
        f.push(
            Finding::error("MessageHeader/StatusCode", "a status message")
                .expected("a document message (statuses: POST /v1/edocs/{id}/status)"),
        );
        return Ok(None);
    };
    let checked = lienthong_edxml::check(&lienthong_edxml::Message::Edoc(m.clone()));
    f.extend(checked.findings.into_iter().filter(Finding::is_error));
    let from = m
        .document
        .from
        .as_ref()
        .and_then(|o| o.organ_id.as_ref())
        .map(|c| c.as_str().to_owned())
        .unwrap_or_default();
    if st.settings.own(&from).is_none() {
        f.push(
            Finding::error(
                "MessageHeader/From/OrganId",
                "not one of this gateway's organisations",
            )
            .expected("an organ_id of [[vdxp.organisations]]")
            .found(from.clone()),
        );
    }
    if m.attachments.is_empty() {
        f.push(
            Finding::error(
                "AttachmentEncoded",
                "a document travels as at least one attachment",
            )
            .expected("one or more attachments (edxml.md §7.4)"),
        );
    }
    route_recipients(
        &st.journal,
        &mut m.document.to,
        |i| format!("MessageHeader/To[{i}]/OrganId"),
        f,
    )
    .await?;
    let document_id = m
        .document
        .document_id
        .as_ref()
        .map(|d| d.as_str().to_owned())
        .unwrap_or_default();
    if document_id.trim().is_empty() {
        f.push(Finding::error(
            "MessageHeader/DocumentId",
            "required field missing",
        ));
    }
    if f.iter().any(Finding::is_error) {
        return Ok(None);
    }
    let business_type = m
        .document
        .business
        .as_ref()
        .and_then(|b| b.doc_type())
        .map_or(0, BusinessDocType::code);
    let code = m.document.code.as_ref().and_then(|c| c.joined());
    let subject = m.document.subject.clone();
    let to = m
        .document
        .to
        .iter()
        .filter_map(|o| o.organ_id.as_ref().map(|c| c.as_str().to_owned()))
        .collect();
    let bytes = lienthong_edxml::to_vec(&lienthong_edxml::Message::Edoc(m));
    Ok(Some(Prepared {
        bytes,
        document_id,
        business_type,
        code,
        subject,
        from,
        to,
        dossier_code,
    }))
}

// ---------------------------------------------------------------------------------------
// GET /v1/edocs/{id}

async fn show(
    State(st): State<Arc<EdocApi>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let p = match client(&st.tokens, &headers) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let rec = match st.journal.edoc(&id, Reveal::Masked).await {
        Ok(Some(r)) if may_see(&p, &r) => r,
        Ok(_) => {
            return refuse(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no message {id} for this client"),
            );
        }
        Err(e) => return unavailable("reading a message", &e),
    };
    let history = match st.journal.edoc_history(&rec.document_id).await {
        Ok(h) => h,
        Err(e) => return unavailable("reading a message's history", &e),
    };
    let mut v = record_json(&rec);
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "history".into(),
            Value::Array(
                history
                    .iter()
                    .filter(|h| may_see(&p, h) || h.related_id.as_deref() == Some(rec.id.as_str()))
                    .map(record_json)
                    .collect(),
            ),
        );
    }
    answer(StatusCode::OK, v)
}

// ---------------------------------------------------------------------------------------
// POST /v1/edocs/{id}/status

async fn status(
    State(st): State<Arc<EdocApi>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let p = match client(&st.tokens, &headers) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    if st.maintenance.load(Ordering::Relaxed) {
        return with_retry_after(
            refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "maintenance",
                "the gateway is in maintenance mode; send again later",
            ),
            60,
        );
    }
    let Ok(body) = body else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid",
            "the request body cannot be read",
        );
    };
    let mut f = Vec::new();
    let value = match lienthong_jsonread::parse(&body) {
        Ok(v) => v,
        Err(finding) => return invalid(&[finding], "the body is not JSON"),
    };
    let Some(mut o) = Obj::new(&value, "", &mut f) else {
        return invalid(&f, "the body is not a JSON object");
    };
    let code_at = o.at("code");
    let code = o.req_str("code", &mut f).and_then(|c| {
        let known = lienthong_model::StatusCode::new(&c).and_then(|s| s.known());
        if known.is_none() {
            f.push(
                Finding::error(code_at.clone(), "not an axis status code")
                    .expected("01, 02, 03, 04, 05, 06, 13, 15 or 16")
                    .found(c),
            );
        }
        known
    });
    let description = o.opt_str("description", &mut f);
    let staff = o.opt_obj("staff", &mut f).map(|mut s| {
        let v = StaffInfo {
            department: s.opt_str("department", &mut f),
            staff: s.opt_str("staff", &mut f),
            email: s.opt_str("email", &mut f),
            mobile: s.opt_str("mobile", &mut f),
        };
        s.finish(Severity::Error, &mut f);
        v
    });
    o.finish(Severity::Error, &mut f);
    let Some(code) = code.filter(|_| !f.iter().any(Finding::is_error)) else {
        return invalid(&f, "nothing was sent");
    };
    let about = match st.journal.edoc(&id, Reveal::Clear).await {
        Ok(Some(r)) if may_see(&p, &r) => r,
        Ok(_) => {
            return refuse(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no message {id} for this client"),
            );
        }
        Err(e) => return unavailable("reading a message", &e),
    };
    let req = StatusRequest {
        code,
        description,
        staff,
        idempotency_key: idempotency_key(&headers),
        client: Some(p.name().to_owned()),
    };
    match super::record_status(&st.journal, &st.settings, &about, &req).await {
        Ok((new_id, OutRecorded::New { .. })) => {
            tracing::info!(doc_id = %new_id, about = %about.id, status = code.code(), partner = %p.name(),
                "status accepted for the axis");
            answer(
                StatusCode::ACCEPTED,
                json!({ "id": new_id, "result": "accepted", "status": code.code(), "about": about.id, "state": "queued" }),
            )
        }
        Ok((_, OutRecorded::Duplicate { id: existing })) => answer(
            StatusCode::OK,
            json!({ "id": existing, "result": "duplicate", "status": code.code(), "about": about.id,
                    "message": "this status was reported before; nothing more was sent" }),
        ),
        Err(StatusError::NotAllowed(why)) => invalid(
            &[Finding::error("/code", why).found(code.code())],
            "this status cannot be reported about this message",
        ),
        Err(StatusError::Compose(e)) => invalid(&e.findings, "the status cannot be composed"),
        Err(StatusError::Journal(e)) => unavailable("recording a status", &e),
        Err(e @ StatusError::Stored(_)) => {
            tracing::error!(doc_id = %id, error = %e, "stored message unreadable");
            refuse(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
        }
    }
}

// ---------------------------------------------------------------------------------------
// Pull API

#[derive(Debug, Deserialize)]
struct InboxQuery {
    limit: Option<u32>,
}

async fn inbox(
    State(st): State<Arc<EdocApi>>,
    Query(q): Query<InboxQuery>,
    headers: HeaderMap,
) -> Response {
    let p = match client(&st.tokens, &headers) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let units = match &p {
        Principal::Client { units, .. } => units.clone(),
        Principal::Operator { .. } => Some(Vec::new()),
    };
    let limit = q.limit.unwrap_or(100).clamp(1, crate::portal::MAX_LIST);
    match st.journal.undelivered_edocs(units.as_deref(), limit).await {
        Ok(list) => answer(
            StatusCode::OK,
            json!({ "items": list.iter().map(delivery_json).collect::<Vec<_>>() }),
        ),
        Err(e) => unavailable("listing received messages", &e),
    }
}

async fn ack(
    State(st): State<Arc<EdocApi>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let p = match client(&st.tokens, &headers) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let rec = match st.journal.edoc(&id, Reveal::Masked).await {
        Ok(Some(r)) if r.direction == Direction::In && may_see(&p, &r) => r,
        Ok(_) => {
            return refuse(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no received message {id} for this client"),
            );
        }
        Err(e) => return unavailable("reading a message", &e),
    };
    match st
        .journal
        .mark_edoc_delivered(&rec.id, p.name(), "pull", Timestamp::now())
        .await
    {
        Ok(first) => {
            if first {
                crate::metrics::edoc_received(rec.kind.as_str(), "delivered");
            }
            answer(
                StatusCode::OK,
                json!({ "id": rec.id, "result": if first { "acknowledged" } else { "already_acknowledged" } }),
            )
        }
        Err(e) => unavailable("recording an acknowledgement", &e),
    }
}

/// Statuses a recipient may report (for documentation and checks).
pub const RECIPIENT_STATUSES: &[KnownStatus] = &[
    KnownStatus::Received,
    KnownStatus::Refused,
    KnownStatus::Accepted,
    KnownStatus::Assigned,
    KnownStatus::Processing,
    KnownStatus::Finished,
    KnownStatus::ChangeAccepted,
    KnownStatus::ChangeRefused,
];
