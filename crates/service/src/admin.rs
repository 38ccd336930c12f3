//! The admin API: operators look at the bus, act on parked messages, switch maintenance
//! mode and read the audit log.
//!
//! Operator tokens only (`Authorization: Bearer TOKEN`): `401` without a known token, `403`
//! for a role too low or a client token. Each endpoint names the role it needs:
//!
//! | endpoint | role |
//! | --- | --- |
//! | `GET /v1/admin/queues` | viewer |
//! | `GET /v1/admin/parked?route=&partner_code=&reason=&key=&status=&limit=&offset=` | viewer |
//! | `POST /v1/admin/parked/replay` | operator |
//! | `POST /v1/admin/parked/discard` | operator |
//! | `POST /v1/admin/maintenance` | admin |
//! | `GET /v1/admin/audit?actor=&action=&since=&limit=` | admin |
//! | `GET /v1/admin/catalogue` | viewer |
//! | `GET /v1/admin/partners` | viewer |
//! | `POST /v1/admin/dossiers/{code}/resync` | operator |
//! | `GET /v1/admin/edocs?direction=&kind=&state=&dossier=&document_id=&limit=` | viewer |
//! | `GET /v1/admin/edocs/{id}` | viewer |
//! | `POST /v1/admin/edocs/{id}/resend` | operator |
//! | `GET /v1/admin/agencies?q=&limit=` | viewer |
//! | `GET /v1/admin/overview` | viewer |
//! | `GET /v1/admin/search?dossier=&doc_id=&partner=&outcome=&limit=&cursor=` | viewer |
//! | `GET /v1/admin/dossiers/{code}/timeline` | viewer |
//! | `GET /v1/admin/report?from=&to=&by=&format=json\|csv` | viewer |
//! | `GET /v1/admin/maintenance` | viewer |
//!
//! The dashboard (`/ui`) calls the same endpoints with its session cookie instead of a
//! token ([`crate::session`]); a state-changing call then also needs the session's CSRF
//! token. Search answers and timelines never reveal personal data.
//!
//! The document endpoints list and show what went over the axis (no bodies) with every
//! message about the same `DocumentId`; resend takes `{"reason": TEXT, "not_sent": bool}`:
//! it queues an outgoing message again (refused for one the axis took); `not_sent` says the
//! operator checked that an interrupted send did not arrive, so the route sends without
//! asking the axis first. Agencies searches the directory synced from the axis.
//!
//! Replay and discard take a JSON body selecting parked messages — `{"route": R, "id": ID}`,
//! `{"all": true}` or `{"filter": {"route", "partner_code", "reason_contains", "key"}}` —
//! and the operator's `reason` (required: the audit log says why). Maintenance takes
//! `{"on": bool, "reason": TEXT}`.
//!
//! The catalogue is the portal's procedure catalogue as cached ([`crate::catalogue`]);
//! partners pings every configured partner ([`crate::partners`]). Resync takes
//! `{"reason": TEXT, "dry_run": bool}`: it compares the journal's state of the dossier with
//! the portal's copy and answers the report ([`crate::resync`]); unless `dry_run` (which
//! needs no reason) and when the dossier is out of step, it writes the audit entry
//! (`dossier.resync`, with the findings and the repair), makes the journal forget what the
//! portal no longer holds and enqueues a sync. `404` for a dossier the journal does not
//! hold, `409` while a route is synchronising it, `502` when the portal cannot be asked,
//! `503` without a `[dvcqg]` section.
//!
//! Every state-changing action is written to the journal's audit log (who, role, what,
//! when, why) **before** it is carried out and answered: when the entry cannot be written,
//! nothing is done and the answer is `503`. So the log never misses an action (an action
//! that fails after its entry was written is answered `503` and logged as an error).

use crate::auth::{Principal, Role, Tokens};
use crate::partners::Partners;
use crate::resync::ResyncError;
use crate::sync::SyncRoute;
use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jiff::Timestamp;
use lienthong_bus::{Bus, ParkedFilter, ParkedStatus, Selection};
use lienthong_journal::Journal;
use lienthong_journal::audit::{AuditEntry, AuditFilter};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// What the admin handlers share.
pub struct Admin {
    /// The bus (queues, parked messages).
    pub bus: Bus,
    /// The journal (audit log).
    pub journal: Journal,
    /// Who may operate.
    pub tokens: Tokens,
    /// Maintenance mode: the ingest API answers 503 while it is on.
    pub maintenance: Arc<AtomicBool>,
    /// The sync route, when the portal is configured (client, catalogue, breaker).
    pub sync: Option<Arc<SyncRoute>>,
    /// The partners to ping.
    pub partners: Partners,
    /// Dashboard sessions (the cookie is accepted like a token).
    pub sessions: Arc<crate::session::Sessions>,
    /// What the receiving loop last saw of the document exchange axis (`None`: no `[vdxp]`).
    pub vdxp: Option<Arc<crate::edocs::PartnerHealth>>,
}

/// The admin routes.
pub fn router(state: Arc<Admin>) -> Router {
    Router::new()
        .route("/v1/admin/queues", get(queues))
        .route("/v1/admin/parked", get(parked))
        .route("/v1/admin/parked/replay", post(replay))
        .route("/v1/admin/parked/discard", post(discard))
        .route("/v1/admin/audit", get(audit))
        .route("/v1/admin/catalogue", get(catalogue))
        .route("/v1/admin/submissions", get(submissions))
        .route("/v1/admin/partners", get(partners))
        .route("/v1/admin/dossiers/{code}/resync", post(resync))
        .route("/v1/admin/edocs", get(edocs))
        .route("/v1/admin/edocs/{id}", get(edoc))
        .route("/v1/admin/edocs/{id}/resend", post(resend))
        .route("/v1/admin/agencies", get(agencies))
        .route("/v1/admin/overview", get(overview))
        .route("/v1/admin/search", get(search))
        .route("/v1/admin/dossiers/{code}/timeline", get(timeline))
        .route("/v1/admin/report", get(report))
        .route(
            "/v1/admin/maintenance",
            get(maintenance_state).post(maintenance),
        )
        .layer(axum::middleware::from_fn_with_state(
            state.sessions.clone(),
            crate::session::csrf_guard,
        ))
        .with_state(state)
}

/// A refusal or failure: a status and `{"error", "message"}`.
struct Refusal(StatusCode, &'static str, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1, "message": self.2 }))).into_response()
    }
}

type Answer = Result<Response, Refusal>;

/// The operator presenting the request, if their role allows `needed`.
fn operator(st: &Admin, headers: &HeaderMap, needed: Role) -> Result<(String, Role), Refusal> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        // A dashboard session (its CSRF token is checked by `session::csrf_guard`).
        if let Some(s) = st.sessions.from_headers(headers) {
            return if s.role.allows(needed) {
                Ok((s.operator, s.role))
            } else {
                Err(Refusal(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    format!(
                        "this needs the {} role; {} is {}",
                        needed.name(),
                        s.operator,
                        s.role.name()
                    ),
                ))
            };
        }
        return Err(Refusal(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send an operator token as `Authorization: Bearer TOKEN`".into(),
        ));
    };
    match st.tokens.identify(token) {
        None => Err(Refusal(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "unknown token".into(),
        )),
        Some(Principal::Client { .. }) => Err(Refusal(
            StatusCode::FORBIDDEN,
            "forbidden",
            "client tokens cannot use the admin API; use an operator token".into(),
        )),
        Some(Principal::Operator { name, role }) => {
            if role.allows(needed) {
                Ok((name.clone(), *role))
            } else {
                Err(Refusal(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    format!(
                        "this needs the {} role; {name} is {}",
                        needed.name(),
                        role.name()
                    ),
                ))
            }
        }
    }
}

fn bus_failure(e: &lienthong_bus::BusError) -> Refusal {
    tracing::error!(error = %e, "the bus failed an admin request");
    Refusal(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        format!("the bus could not answer: {e}"),
    )
}

fn journal_failure(e: &lienthong_journal::JournalError) -> Refusal {
    tracing::error!(error = %e, "the journal failed an admin request");
    Refusal(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        format!("the journal could not answer: {e}"),
    )
}

fn bad_request(message: impl Into<String>) -> Refusal {
    Refusal(StatusCode::BAD_REQUEST, "invalid", message.into())
}

/// A JSON body, or a 400 saying what is wrong with it.
fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, Refusal> {
    serde_json::from_slice(bytes).map_err(|e| bad_request(format!("unreadable JSON body: {e}")))
}

/// The operator's reason, required and trimmed.
fn reason(r: Option<&str>) -> Result<String, Refusal> {
    match r.map(str::trim).filter(|r| !r.is_empty()) {
        Some(r) => Ok(r.to_owned()),
        None => Err(bad_request(
            "a reason is required: the audit log records why (\"reason\": \"…\")",
        )),
    }
}

/// Writes the audit entry; nothing is done when it cannot be written.
async fn record(
    st: &Admin,
    who: &(String, Role),
    action: &str,
    target: Option<String>,
    why: &str,
    details: Value,
) -> Result<i64, Refusal> {
    let entry = AuditEntry {
        at: Timestamp::now(),
        actor: who.0.clone(),
        role: who.1.name().to_owned(),
        action: action.to_owned(),
        target,
        reason: Some(why.to_owned()),
        details,
    };
    st.journal.audit(&entry).await.map_err(|e| {
        tracing::error!(error = %e, actor = %who.0, action, "audit entry not written; action refused");
        Refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the audit log cannot be written, so nothing was done; try again later".into(),
        )
    })
}

async fn queues(State(st): State<Arc<Admin>>, headers: HeaderMap) -> Answer {
    operator(&st, &headers, Role::Viewer)?;
    let q = st.bus.queues().await.map_err(|e| bus_failure(&e))?;
    Ok(Json(json!({ "backend": st.bus.backend_name(), "queues": q })).into_response())
}

/// Query of `GET /v1/admin/parked`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ParkedQuery {
    route: Option<String>,
    partner_code: Option<String>,
    reason: Option<String>,
    key: Option<String>,
    status: Option<String>,
    limit: Option<u32>,
    offset: Option<u32>,
}

async fn parked(
    State(st): State<Arc<Admin>>,
    headers: HeaderMap,
    query: Result<Query<ParkedQuery>, axum::extract::rejection::QueryRejection>,
) -> Answer {
    operator(&st, &headers, Role::Viewer)?;
    let Query(q) = query.map_err(|e| bad_request(e.body_text()))?;
    let status = match q.status.as_deref() {
        None => Some(ParkedStatus::Parked),
        Some("all") => None,
        Some(s) => Some(ParkedStatus::from_name(s).ok_or_else(|| {
            bad_request(format!(
                "status: expected parked, replayed, discarded or all, found {s:?}"
            ))
        })?),
    };
    let filter = ParkedFilter {
        route: q.route,
        key: q.key,
        partner_code: q.partner_code,
        reason_contains: q.reason,
        status,
        limit: q.limit.unwrap_or(100).clamp(1, 1000),
        offset: q.offset.unwrap_or(0),
        ..ParkedFilter::default()
    };
    let list = st.bus.parked(&filter).await.map_err(|e| bus_failure(&e))?;
    Ok(
        Json(json!({ "parked": list, "limit": filter.limit, "offset": filter.offset }))
            .into_response(),
    )
}

/// A filter in a replay or discard body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilterBody {
    route: Option<String>,
    partner_code: Option<String>,
    reason_contains: Option<String>,
    key: Option<String>,
}

/// Body of replay and discard.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionBody {
    route: Option<String>,
    id: Option<String>,
    #[serde(default)]
    all: bool,
    filter: Option<FilterBody>,
    reason: Option<String>,
}

/// The selection a body names, with its description for the audit log.
fn selection(b: ActionBody) -> Result<(Selection, String, Value, String), Refusal> {
    let why = reason(b.reason.as_deref())?;
    let named = usize::from(b.all) + usize::from(b.id.is_some()) + usize::from(b.filter.is_some());
    if named != 1 {
        return Err(bad_request(
            "name exactly one of: {\"route\", \"id\"}, {\"all\": true}, {\"filter\": {…}}",
        ));
    }
    if b.all {
        if b.route.is_some() {
            return Err(bad_request(
                "\"all\" takes no route; use a filter by route instead",
            ));
        }
        return Ok((Selection::All, "all".into(), json!({ "all": true }), why));
    }
    if let Some(id) = b.id {
        let Some(route) = b.route.filter(|r| !r.trim().is_empty()) else {
            return Err(bad_request("\"id\" needs its \"route\""));
        };
        let target = format!("{route}/{id}");
        let details = json!({ "route": route, "id": id });
        return Ok((Selection::One { route, id }, target, details, why));
    }
    let f = b.filter.unwrap_or_default();
    if b.route.is_some() {
        return Err(bad_request("put the route inside \"filter\""));
    }
    if f.route.is_none()
        && f.partner_code.is_none()
        && f.reason_contains.is_none()
        && f.key.is_none()
    {
        return Err(bad_request(
            "an empty filter would select everything; say {\"all\": true} instead",
        ));
    }
    let details = json!({ "filter": {
        "route": f.route, "partner_code": f.partner_code,
        "reason_contains": f.reason_contains, "key": f.key,
    }});
    let target = format!("filter {}", details["filter"]);
    let filter = ParkedFilter {
        route: f.route,
        key: f.key,
        partner_code: f.partner_code,
        reason_contains: f.reason_contains,
        ..ParkedFilter::default()
    };
    Ok((Selection::Filter(filter), target, details, why))
}

async fn replay(
    State(st): State<Arc<Admin>>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> Answer {
    let who = operator(&st, &headers, Role::Operator)?;
    let (sel, target, details, why) = selection(body(&bytes)?)?;
    let entry = record(
        &st,
        &who,
        "parked.replay",
        Some(target.clone()),
        &why,
        details,
    )
    .await?;
    let n = st
        .bus
        .replay(&sel, &who.0)
        .await
        .map_err(|e| bus_failure(&e))?;
    tracing::info!(actor = %who.0, target = %target, replayed = n, audit = entry, "parked messages replayed");
    Ok(Json(json!({ "replayed": n, "audit_id": entry })).into_response())
}

async fn discard(
    State(st): State<Arc<Admin>>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> Answer {
    let who = operator(&st, &headers, Role::Operator)?;
    let (sel, target, details, why) = selection(body(&bytes)?)?;
    let entry = record(
        &st,
        &who,
        "parked.discard",
        Some(target.clone()),
        &why,
        details,
    )
    .await?;
    let n = st
        .bus
        .discard(&sel, &who.0, &why)
        .await
        .map_err(|e| bus_failure(&e))?;
    tracing::info!(actor = %who.0, target = %target, discarded = n, audit = entry, "parked messages discarded");
    Ok(Json(json!({ "discarded": n, "audit_id": entry })).into_response())
}

/// Body of `POST /v1/admin/maintenance`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MaintenanceBody {
    on: bool,
    reason: Option<String>,
}

async fn maintenance(
    State(st): State<Arc<Admin>>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> Answer {
    let who = operator(&st, &headers, Role::Admin)?;
    let b: MaintenanceBody = body(&bytes)?;
    let why = reason(b.reason.as_deref())?;
    let was = st.maintenance.load(Ordering::SeqCst);
    let action = if b.on {
        "maintenance.on"
    } else {
        "maintenance.off"
    };
    let entry = record(
        &st,
        &who,
        action,
        None,
        &why,
        json!({ "on": b.on, "was": was }),
    )
    .await?;
    st.maintenance.store(b.on, Ordering::SeqCst);
    tracing::warn!(actor = %who.0, on = b.on, was, audit = entry, "maintenance mode switched");
    Ok(Json(json!({ "maintenance": b.on, "was": was, "audit_id": entry })).into_response())
}

/// Query of `GET /v1/admin/audit`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    since: Option<String>,
    limit: Option<u32>,
}

async fn audit(
    State(st): State<Arc<Admin>>,
    headers: HeaderMap,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Answer {
    operator(&st, &headers, Role::Admin)?;
    let Query(q) = query.map_err(|e| bad_request(e.body_text()))?;
    let since = match q.since.as_deref() {
        None => None,
        Some(s) => Some(s.parse::<Timestamp>().map_err(|e| {
            bad_request(format!(
                "since: expected an RFC 3339 time, found {s:?}: {e}"
            ))
        })?),
    };
    let filter = AuditFilter {
        actor: q.actor,
        action: q.action,
        since,
        limit: q.limit.unwrap_or(100).clamp(1, 1000),
    };
    let log = st
        .journal
        .audit_log(&filter)
        .await
        .map_err(|e| journal_failure(&e))?;
    Ok(Json(json!({ "audit": log })).into_response())
}

/// Query of `GET /v1/admin/submissions`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmissionsQuery {
    /// Only those the provincial system has not taken yet.
    #[serde(default)]
    undelivered: bool,
    /// Only those of this unit.
    unit: Option<String>,
    limit: Option<u32>,
}

/// Portal submissions, newest first: what arrived from the national portal and whether the
/// provincial system took it (no bodies: they hold personal data).
async fn submissions(
    State(st): State<Arc<Admin>>,
    headers: HeaderMap,
    query: Result<Query<SubmissionsQuery>, axum::extract::rejection::QueryRejection>,
) -> Answer {
    operator(&st, &headers, Role::Viewer)?;
    let Query(q) = query.map_err(|e| bad_request(e.body_text()))?;
    let list = st
        .journal
        .recent_submissions(
            q.unit.as_deref(),
            q.undelivered,
            q.limit.unwrap_or(100).clamp(1, 1000),
        )
        .await
        .map_err(|e| journal_failure(&e))?;
    let now = Timestamp::now();
    let rows: Vec<_> = list
        .iter()
        .map(|s| {
            json!({
                "code": s.code,
                "unit": s.unit_code,
                "procedure": s.procedure_code,
                "received_at": s.received_at.to_string(),
                "waiting_secs": s.delivered_at.is_none().then(|| now.duration_since(s.received_at).as_secs()),
                "delivered_at": s.delivered_at.map(|t| t.to_string()),
                "delivered_to": s.delivered_to,
                "delivered_via": s.delivered_via,
                "status_reported": s.status_reported.map(|st| st.name()),
            })
        })
        .collect();
    Ok(Json(json!({ "submissions": rows })).into_response())
}

async fn catalogue(State(st): State<Arc<Admin>>, headers: HeaderMap) -> Answer {
    operator(&st, &headers, Role::Viewer)?;
    match st.sync.as_ref().and_then(|s| s.catalogue()) {
        Some(c) => Ok(Json(c.view()).into_response()),
        None => Err(Refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_configured",
            "the national portal is not configured on this gateway ([dvcqg] section)".into(),
        )),
    }
}

async fn partners(State(st): State<Arc<Admin>>, headers: HeaderMap) -> Answer {
    operator(&st, &headers, Role::Viewer)?;
    let list = st.partners.ping().await;
    Ok(Json(json!({ "partners": list })).into_response())
}

/// Body of `POST /v1/admin/dossiers/{code}/resync`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResyncBody {
    reason: Option<String>,
    #[serde(default)]
    dry_run: bool,
}

fn resync_failure(e: &ResyncError) -> Refusal {
    let (status, error) = match e {
        ResyncError::NotConfigured => (StatusCode::SERVICE_UNAVAILABLE, "not_configured"),
        ResyncError::Unknown(_) => (StatusCode::NOT_FOUND, "not_found"),
        ResyncError::Journal(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        ResyncError::Portal(_) => (StatusCode::BAD_GATEWAY, "partner_unavailable"),
        ResyncError::Unmappable(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unmappable"),
        ResyncError::Busy(_) => (StatusCode::CONFLICT, "busy"),
    };
    if status.is_server_error() {
        tracing::warn!(error = %e, "resync failed");
    }
    Refusal(status, error, e.to_string())
}

async fn resync(
    State(st): State<Arc<Admin>>,
    headers: HeaderMap,
    Path(code): Path<String>,
    bytes: axum::body::Bytes,
) -> Answer {
    let who = operator(&st, &headers, Role::Operator)?;
    let b: ResyncBody = if bytes.iter().all(u8::is_ascii_whitespace) {
        ResyncBody::default()
    } else {
        body(&bytes)?
    };
    let code = code.trim().to_owned();
    let why = if b.dry_run {
        b.reason.clone().unwrap_or_default()
    } else {
        reason(b.reason.as_deref())?
    };
    let inspection = crate::resync::inspect(&st.journal, st.sync.as_deref(), &code)
        .await
        .map_err(|e| resync_failure(&e))?;
    let mut report = inspection.to_json();
    if b.dry_run || inspection.verdict == lienthong_workflow::Resync::InStep {
        report["dry_run"] = json!(b.dry_run);
        report["repaired"] = json!(false);
        return Ok(Json(report).into_response());
    }
    let details = json!({
        "findings": report["findings"],
        "differences": inspection.differences.iter().map(|d| d.field.as_str()).collect::<Vec<_>>(),
        "portal_found": inspection.portal.found,
        "repair": inspection.repair_json(),
    });
    let entry = record(
        &st,
        &who,
        "dossier.resync",
        Some(code.clone()),
        &why,
        details,
    )
    .await?;
    let work_item = crate::resync::repair(&st.journal, &inspection)
        .await
        .map_err(|e| resync_failure(&e))?;
    tracing::info!(actor = %who.0, dossier = %code, audit = entry,
        work_item = work_item.unwrap_or(0), "dossier resynchronised");
    report["dry_run"] = json!(false);
    report["repaired"] = json!(work_item.is_some());
    report["work_item"] = json!(work_item);
    report["audit_id"] = json!(entry);
    Ok(Json(report).into_response())
}

#[derive(Debug, Deserialize)]
struct EdocsQuery {
    direction: Option<String>,
    kind: Option<String>,
    state: Option<String>,
    dossier: Option<String>,
    document_id: Option<String>,
    limit: Option<u32>,
}

async fn edocs(
    State(st): State<Arc<Admin>>,
    headers: HeaderMap,
    Query(q): Query<EdocsQuery>,
) -> Answer {
    use lienthong_journal::edocs::{Direction, EdocFilter, EdocKind};
    operator(&st, &headers, Role::Viewer)?;
    let direction = match q.direction.as_deref() {
        None | Some("") => None,
        Some(d) => Some(
            Direction::from_name(d)
                .ok_or_else(|| bad_request(format!("direction must be in or out, not {d:?}")))?,
        ),
    };
    let kind = match q.kind.as_deref() {
        None | Some("") => None,
        Some(k) => Some(
            EdocKind::from_name(k)
                .ok_or_else(|| bad_request(format!("kind must be edoc or status, not {k:?}")))?,
        ),
    };
    let filter = EdocFilter {
        direction,
        kind,
        state: q.state.filter(|s| !s.is_empty()),
        dossier_code: q.dossier.filter(|s| !s.is_empty()),
        document_id: q.document_id.filter(|s| !s.is_empty()),
        limit: q.limit.unwrap_or(100).clamp(1, 1000),
    };
    let list = st
        .journal
        .edocs(&filter)
        .await
        .map_err(|e| journal_failure(&e))?;
    Ok(Json(json!({
        "edocs": list.iter().map(crate::edocs::record_json).collect::<Vec<_>>()
    }))
    .into_response())
}

async fn edoc(State(st): State<Arc<Admin>>, headers: HeaderMap, Path(id): Path<String>) -> Answer {
    operator(&st, &headers, Role::Viewer)?;
    let rec = st
        .journal
        .edoc(&id, lienthong_journal::Reveal::Masked)
        .await
        .map_err(|e| journal_failure(&e))?
        .ok_or_else(|| {
            Refusal(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no message {id}"),
            )
        })?;
    let history = st
        .journal
        .edoc_history(&rec.document_id)
        .await
        .map_err(|e| journal_failure(&e))?;
    let mut v = crate::edocs::record_json(&rec);
    v["history"] = Value::Array(history.iter().map(crate::edocs::record_json).collect());
    Ok(Json(v).into_response())
}

#[derive(Debug, Default, Deserialize)]
struct ResendBody {
    reason: Option<String>,
    #[serde(default)]
    not_sent: bool,
}

async fn resend(
    State(st): State<Arc<Admin>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: axum::body::Bytes,
) -> Answer {
    use lienthong_journal::edocs::Direction;
    let who = operator(&st, &headers, Role::Operator)?;
    let b: ResendBody = body(&bytes)?;
    let why = reason(b.reason.as_deref())?;
    let rec = st
        .journal
        .edoc(&id, lienthong_journal::Reveal::Masked)
        .await
        .map_err(|e| journal_failure(&e))?
        .filter(|r| r.direction == Direction::Out)
        .ok_or_else(|| {
            Refusal(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no outgoing message {id}"),
            )
        })?;
    if rec.axis_doc_id.is_some() {
        return Err(Refusal(
            StatusCode::CONFLICT,
            "already_sent",
            format!(
                "{id} was taken by the axis (DocId {}); an official document is never sent twice",
                rec.axis_doc_id.unwrap_or_default()
            ),
        ));
    }
    let entry = record(
        &st,
        &who,
        "edoc.resend",
        Some(id.clone()),
        &why,
        json!({ "not_sent": b.not_sent, "state": rec.state, "last_error": rec.last_error }),
    )
    .await?;
    let item = st
        .journal
        .requeue_edoc(&id, b.not_sent, Timestamp::now())
        .await
        .map_err(|e| journal_failure(&e))?;
    match item {
        Some(work_item) => {
            tracing::info!(actor = %who.0, doc_id = %id, audit = entry, work_item, "outgoing message queued again");
            Ok(Json(
                json!({ "id": id, "result": "queued", "work_item": work_item, "audit_id": entry }),
            )
            .into_response())
        }
        None => Err(Refusal(
            StatusCode::CONFLICT,
            "already_sent",
            format!("{id} was sent meanwhile; nothing was queued"),
        )),
    }
}

#[derive(Debug, Deserialize)]
struct AgenciesQuery {
    q: Option<String>,
    limit: Option<u32>,
}

async fn agencies(
    State(st): State<Arc<Admin>>,
    headers: HeaderMap,
    Query(q): Query<AgenciesQuery>,
) -> Answer {
    operator(&st, &headers, Role::Viewer)?;
    let text = q.q.unwrap_or_default();
    let list = st
        .journal
        .search_agencies(text.trim(), q.limit.unwrap_or(50).clamp(1, 1000))
        .await
        .map_err(|e| journal_failure(&e))?;
    let resolved = if text.trim().is_empty() {
        Value::Null
    } else {
        match st
            .journal
            .resolve_agency(text.trim())
            .await
            .map_err(|e| journal_failure(&e))?
        {
            lienthong_journal::agencies::Resolved::Current(a) => {
                json!({ "code": a.code, "renamed_from": null })
            }
            lienthong_journal::agencies::Resolved::Renamed { from, to } => {
                json!({ "code": to.code, "renamed_from": from })
            }
            lienthong_journal::agencies::Resolved::Unknown => Value::Null,
        }
    };
    let total = st
        .journal
        .agency_count()
        .await
        .map_err(|e| journal_failure(&e))?;
    Ok(Json(json!({
        "total": total,
        "resolved": resolved,
        "agencies": list.iter().map(|a| json!({
            "code": a.code, "name": a.name, "mail": a.mail, "old_code": a.old_code,
            "code102": a.code102, "pid": a.pid, "center_code": a.center_code,
            "deleted": a.deleted, "synced_at": a.synced_at.to_string(),
        })).collect::<Vec<_>>(),
    }))
    .into_response())
}

/// State of a partner for the overview.
fn partner_state(partner: &str, state: &str, detail: String) -> Value {
    json!({ "partner": partner, "state": state, "detail": detail })
}

async fn maintenance_state(State(st): State<Arc<Admin>>, headers: HeaderMap) -> Answer {
    operator(&st, &headers, Role::Viewer)?;
    Ok(Json(json!({ "on": st.maintenance.load(Ordering::Relaxed) })).into_response())
}

async fn overview(State(st): State<Arc<Admin>>, headers: HeaderMap) -> Answer {
    operator(&st, &headers, Role::Viewer)?;
    let queues = st.bus.queues().await.map_err(|e| bus_failure(&e))?;
    let parked: u64 = queues.iter().map(|q| q.parked).sum();
    let dvcqg = match &st.sync {
        None => partner_state("dvcqg", "not_configured", "no [dvcqg] section".into()),
        Some(sync) => match sync.breaker_state() {
            lienthong_workflow::BreakerState::Closed { failures: 0, .. } => {
                partner_state("dvcqg", "up", "circuit breaker closed".into())
            }
            lienthong_workflow::BreakerState::Closed { failures, .. } => partner_state(
                "dvcqg",
                "degraded",
                format!("{failures} consecutive failure(s); circuit breaker still closed"),
            ),
            lienthong_workflow::BreakerState::HalfOpen { .. } => partner_state(
                "dvcqg",
                "degraded",
                "circuit breaker half-open: one probe call allowed".into(),
            ),
            lienthong_workflow::BreakerState::Open { until } => partner_state(
                "dvcqg",
                "circuit_open",
                format!("circuit breaker open after repeated failures; next probe at {until}"),
            ),
        },
    };
    let vdxp = match &st.vdxp {
        None => partner_state("vdxp", "not_configured", "no [vdxp] section".into()),
        Some(h) => {
            let (state, detail) = h.state(Timestamp::now());
            partner_state("vdxp", state, detail)
        }
    };
    let now = Timestamp::now();
    let since = now
        .checked_sub(jiff::SignedDuration::from_hours(1))
        .unwrap_or(now);
    let buckets = st
        .journal
        .activity(since, jiff::SignedDuration::from_mins(5), 12)
        .await
        .map_err(|e| journal_failure(&e))?;
    let messages: u64 = buckets.iter().map(|b| b.messages).sum();
    let failed: u64 = buckets.iter().map(|b| b.failed).sum();
    let finished: u64 = buckets.iter().map(|b| b.finished).sum();
    let total_ms: f64 = buckets.iter().map(|b| b.total_ms).sum();
    let avg = |n: u64, t: f64| {
        if n == 0 {
            Value::Null
        } else {
            json!((t / n as f64).round())
        }
    };
    Ok(Json(json!({
        "maintenance": st.maintenance.load(Ordering::Relaxed),
        "partners": [dvcqg, vdxp],
        "queues": queues,
        "parked": parked,
        "last_hour": {
            "messages": messages,
            "failed": failed,
            "avg_ms": avg(finished, total_ms),
            "buckets": buckets.iter().map(|b| json!({
                "start": b.start.to_string(),
                "messages": b.messages,
                "failed": b.failed,
                "avg_ms": avg(b.finished, b.total_ms),
            })).collect::<Vec<_>>(),
        },
    }))
    .into_response())
}

#[derive(Debug, Default, Deserialize)]
struct SearchQueryParams {
    dossier: Option<String>,
    doc_id: Option<String>,
    partner: Option<String>,
    outcome: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

async fn search(
    State(st): State<Arc<Admin>>,
    headers: HeaderMap,
    query: Result<Query<SearchQueryParams>, axum::extract::rejection::QueryRejection>,
) -> Answer {
    use lienthong_journal::messages::{Cursor, Outcome, SearchQuery};
    operator(&st, &headers, Role::Viewer)?;
    let Query(q) = query.map_err(|e| bad_request(e.body_text()))?;
    let outcome = match q.outcome.as_deref().filter(|o| !o.is_empty()) {
        None => None,
        Some(o) => Some(Outcome::from_name(o).ok_or_else(|| {
            bad_request(format!(
                "outcome: expected pending, accepted, rejected, parked or duplicate, found {o:?}"
            ))
        })?),
    };
    let after = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => {
            Some(Cursor::parse(c).ok_or_else(|| bad_request("cursor: not a cursor of this API"))?)
        }
    };
    let some = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let page = st
        .journal
        .search(&SearchQuery {
            dossier_code: some(q.dossier),
            doc_id: some(q.doc_id),
            partner: some(q.partner),
            outcome,
            from: None,
            to: None,
            limit: q.limit.unwrap_or(50).clamp(1, 500),
            after,
            with_bodies: false,
            reveal: lienthong_journal::Reveal::Masked,
        })
        .await
        .map_err(|e| journal_failure(&e))?;
    Ok(Json(json!({
        "messages": page.items.iter().map(|f| &f.record).collect::<Vec<_>>(),
        "next": page.next.map(|c| c.to_text()),
    }))
    .into_response())
}

async fn timeline(
    State(st): State<Arc<Admin>>,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> Answer {
    operator(&st, &headers, Role::Viewer)?;
    let code = code.trim().to_owned();
    let entries = st
        .journal
        .timeline(&code)
        .await
        .map_err(|e| journal_failure(&e))?;
    let edocs = st
        .journal
        .edocs_of_dossier(&code)
        .await
        .map_err(|e| journal_failure(&e))?;
    if entries.is_empty() && edocs.is_empty() {
        return Err(Refusal(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("the journal holds nothing about dossier {code}"),
        ));
    }
    Ok(Json(json!({
        "code": code,
        "entries": entries.iter().map(|e| json!({
            "at": e.at.to_string(),
            "kind": e.kind,
            "summary": e.summary,
            "message_id": e.message_id,
        })).collect::<Vec<_>>(),
        "edocs": edocs.iter().map(crate::edocs::record_json).collect::<Vec<_>>(),
    }))
    .into_response())
}

#[derive(Debug, Default, Deserialize)]
struct ReportParams {
    from: Option<String>,
    to: Option<String>,
    by: Option<String>,
    agency: Option<String>,
    format: Option<String>,
}

fn counts_json(label: &str, c: &lienthong_journal::stats::Counts) -> Value {
    json!({
        "label": label,
        "received": c.received,
        "online": c.online,
        "resolved": c.resolved,
        "resolved_on_time": c.on_time,
        "on_time_percent": c.on_time_percent(),
        "overdue": c.overdue,
        "pending": c.pending,
        "online_percent": c.online_percent(),
    })
}

fn csv_cell(v: &Value) -> String {
    let s = match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

async fn report(
    State(st): State<Arc<Admin>>,
    headers: HeaderMap,
    query: Result<Query<ReportParams>, axum::extract::rejection::QueryRejection>,
) -> Answer {
    use lienthong_journal::stats::{GroupBy, ReportQuery};
    operator(&st, &headers, Role::Viewer)?;
    let Query(q) = query.map_err(|e| bad_request(e.body_text()))?;
    let today = jiff::tz::offset(7).to_datetime(Timestamp::now()).date();
    let date = |v: Option<String>, name: &str, default: jiff::civil::Date| match v
        .as_deref()
        .filter(|s| !s.is_empty())
    {
        None => Ok(default),
        Some(s) => s
            .parse::<jiff::civil::Date>()
            .map_err(|_| bad_request(format!("{name}: expected YYYY-MM-DD, found {s:?}"))),
    };
    let to = date(q.to, "to", today)?;
    let from = date(q.from, "from", jiff::civil::date(today.year(), 1, 1))?;
    if from > to {
        return Err(bad_request("from is after to"));
    }
    let by = match q.by.as_deref().unwrap_or("month") {
        "month" => GroupBy::Month,
        "agency" => GroupBy::Agency,
        "department" => GroupBy::Department,
        other => {
            return Err(bad_request(format!(
                "by: expected month, agency or department, found {other:?}"
            )));
        }
    };
    let r = st
        .journal
        .report(&ReportQuery {
            from,
            to,
            agency: q.agency.filter(|a| !a.is_empty()),
            by,
        })
        .await
        .map_err(|e| journal_failure(&e))?;
    let rows: Vec<Value> = r
        .rows
        .iter()
        .map(|row| counts_json(row.label.as_deref().unwrap_or(&row.key), &row.counts))
        .collect();
    let total = counts_json("total", &r.total);
    if q.format.as_deref() == Some("csv") {
        const COLUMNS: &[&str] = &[
            "label",
            "received",
            "online",
            "resolved",
            "resolved_on_time",
            "on_time_percent",
            "overdue",
            "pending",
            "online_percent",
        ];
        let mut out = COLUMNS.join(",");
        out.push_str("\r\n");
        for row in rows.iter().chain(std::iter::once(&total)) {
            let cells: Vec<String> = COLUMNS.iter().map(|c| csv_cell(&row[*c])).collect();
            out.push_str(&cells.join(","));
            out.push_str("\r\n");
        }
        let name = format!("lienthong-report-{from}-{to}.csv");
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}\""),
                ),
            ],
            out,
        )
            .into_response());
    }
    Ok(Json(json!({
        "from": from.to_string(),
        "to": to.to_string(),
        "by": q.by.unwrap_or_else(|| "month".into()),
        "rows": rows,
        "total": total,
    }))
    .into_response())
}
