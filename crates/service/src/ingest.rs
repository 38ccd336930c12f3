//! The ingest API: local one-stop-shop systems submit dossier versions and progress steps.
//!
//! - `POST /v1/dossiers` — one dossier (`application/json`) or an NDJSON batch
//!   (`application/x-ndjson`, answered line by line in NDJSON);
//! - `POST /v1/dossiers/{code}/progress` — one progress step of that dossier.
//!
//! A submission is answered `202 Accepted` only once the journal has committed the state and
//! the work item it causes (one transaction): from then on nothing is lost. `400` carries the
//! findings (path, expected, found — never the submitted values of personal fields, which the
//! findings do not quote); `401` without a known token; `403` for a unit the client does not
//! serve, or an operator token; `413` above the size limit; `429` with `Retry-After` when the
//! bus is behind (backpressure); `503` with `Retry-After` in maintenance mode. An
//! `Idempotency-Key` header (or, without one, client + dossier code + version) makes a resent
//! submission get the original answer; the same key with another body is `422`.

use crate::auth::{Principal, Tokens};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use jiff::{SignedDuration, Timestamp};
use lienthong_journal::Journal;
use lienthong_journal::idempotency::{Begin, StoredAnswer, SubmissionKey};
use lienthong_journal::messages::{Direction, MessageRecord, Outcome};
use lienthong_journal::state::{IncomingStep, IncomingVersion, Recorded, StepRecorded};
use lienthong_model::finding::Finding;
use lienthong_provincial::read::{read_dossier, read_progress};
use lienthong_provincial::validate::{Policy, validate_dossier_with, validate_progress};
use lienthong_provincial::write::{dossier_json, progress_json};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// What the ingest handlers share.
pub struct Ingest {
    /// The journal.
    pub journal: Journal,
    /// Who may submit.
    pub tokens: Tokens,
    /// Validation policy (own unit codes accepted outside the strict form).
    pub policy: Policy,
    /// Maintenance mode: intake answers 503.
    pub maintenance: Arc<AtomicBool>,
    /// Backpressure: when non-zero, intake answers 429 with this `Retry-After` (seconds).
    /// The service sets it from the bus depth.
    pub pressure: Arc<AtomicU64>,
    /// Largest request body in bytes (413 above).
    pub max_request_bytes: usize,
}

/// The ingest routes.
pub fn router(state: Arc<Ingest>) -> Router {
    let limit = state.max_request_bytes;
    Router::new()
        .route("/v1/dossiers", post(post_dossiers))
        .route("/v1/dossiers/{code}/progress", post(post_progress))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// An answer: a status and a JSON body.
#[derive(Debug, Clone)]
struct Answer {
    status: StatusCode,
    body: Value,
    retry_after: Option<u64>,
    /// The `result` label in `lienthong_ingest_total` when the status does not tell it (a
    /// replayed answer counts as a duplicate).
    counted_as: Option<&'static str>,
}

impl Answer {
    fn new(status: StatusCode, body: Value) -> Answer {
        Answer {
            status,
            body,
            retry_after: None,
            counted_as: None,
        }
    }

    fn error(status: StatusCode, error: &str, message: impl Into<String>) -> Answer {
        Answer::new(status, json!({ "error": error, "message": message.into() }))
    }

    fn retry_after(mut self, secs: u64) -> Answer {
        self.retry_after = Some(secs);
        self
    }

    /// The `result` label of this answer in `lienthong_ingest_total`.
    fn result_label(&self) -> &'static str {
        if let Some(r) = self.counted_as {
            return r;
        }
        match self.status.as_u16() {
            202 => match self.body.get("result").and_then(Value::as_str) {
                Some("stale") => "stale",
                Some("duplicate") => "duplicate",
                _ => "accepted",
            },
            401 => "unauthorized",
            403 => "forbidden",
            409 | 429 => "throttled",
            s if s >= 500 => "unavailable",
            _ => "invalid",
        }
    }

    /// Counts this answer to a submission of `kind` (`dossier` | `progress`).
    fn counted(self, kind: &'static str) -> Answer {
        crate::metrics::ingest(kind, self.result_label());
        self
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let mut r = (self.status, axum::Json(self.body)).into_response();
        if let Some(s) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        r
    }
}

/// Who is calling, or the answer that refuses them (401 / 403 / 503 / 429).
fn admit(st: &Ingest, headers: &HeaderMap) -> Result<Principal, Answer> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Err(Answer::error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send the client token as `Authorization: Bearer TOKEN`",
        ));
    };
    let Some(p) = st.tokens.identify(token) else {
        return Err(Answer::error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "unknown token",
        ));
    };
    if !matches!(p, Principal::Client { .. }) {
        return Err(Answer::error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "operator tokens cannot submit dossiers; use a client token",
        ));
    }
    if st.maintenance.load(Ordering::Relaxed) {
        return Err(Answer::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "maintenance",
            "the gateway is in maintenance mode; try again later / cổng đang bảo trì",
        )
        .retry_after(60));
    }
    let pressure = st.pressure.load(Ordering::Relaxed);
    if pressure > 0 {
        return Err(Answer::error(
            StatusCode::TOO_MANY_REQUESTS,
            "backpressure",
            "the gateway is behind on delivering earlier submissions; try again later",
        )
        .retry_after(pressure));
    }
    Ok(p.clone())
}

/// A body that could not be read: 413 above the size limit (as JSON, like every refusal),
/// otherwise 400.
fn unreadable(st: &Ingest, r: BytesRejection) -> Answer {
    if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Answer::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!(
                "the request body is larger than {} bytes; send smaller batches",
                st.max_request_bytes
            ),
        )
    } else {
        Answer::error(
            StatusCode::BAD_REQUEST,
            "invalid",
            format!("the request body cannot be read: {r}"),
        )
    }
}

fn findings_json(f: &[Finding]) -> Value {
    serde_json::to_value(f).unwrap_or(Value::Null)
}

async fn post_dossiers(
    State(st): State<Arc<Ingest>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let principal = match admit(&st, &headers) {
        Ok(p) => p,
        Err(a) => return a.counted("dossier").into_response(),
    };
    let body = match body {
        Ok(b) => b,
        Err(r) => return unreadable(&st, r).into_response(),
    };
    let ndjson = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-ndjson"));
    let idem = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if !ndjson {
        return submit_dossier(&st, &principal, &body, idem.as_deref(), None)
            .await
            .counted("dossier")
            .into_response();
    }
    // NDJSON: one answer line per input line; the HTTP status is 200 and each line says its
    // own status. An Idempotency-Key applies to the batch as line-numbered keys.
    let mut out = Vec::new();
    for (i, line) in body.split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let n = i + 1;
        let key = idem.as_deref().map(|k| format!("{k}#{n}"));
        let a = submit_dossier(&st, &principal, line, key.as_deref(), Some(n))
            .await
            .counted("dossier");
        let mut v = a.body;
        if let Value::Object(m) = &mut v {
            m.insert("line".into(), json!(n));
            m.insert("status".into(), json!(a.status.as_u16()));
        }
        out.extend_from_slice(v.to_string().as_bytes());
        out.push(b'\n');
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        out,
    )
        .into_response()
}

async fn post_progress(
    State(st): State<Arc<Ingest>>,
    Path(code): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let principal = match admit(&st, &headers) {
        Ok(p) => p,
        Err(a) => return a.counted("progress").into_response(),
    };
    let body = match body {
        Ok(b) => b,
        Err(r) => return unreadable(&st, r).into_response(),
    };
    let idem = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    submit_step(&st, &principal, &code, &body, idem.as_deref())
        .await
        .counted("progress")
        .into_response()
}

/// Reads, checks, authorises and records one dossier version.
async fn submit_dossier(
    st: &Ingest,
    p: &Principal,
    body: &[u8],
    idem: Option<&str>,
    line: Option<usize>,
) -> Answer {
    let v = match lienthong_jsonread::parse(body) {
        Ok(v) => v,
        Err(f) => {
            return Answer::new(
                StatusCode::BAD_REQUEST,
                json!({ "error": "invalid", "message": "not JSON", "findings": findings_json(&[f]) }),
            );
        }
    };
    let mut f = Vec::new();
    let Some(d) = read_dossier(&v, &mut f) else {
        return invalid(&f);
    };
    f.extend(validate_dossier_with(&d, &st.policy));
    if f.iter().any(Finding::is_error) {
        return invalid(&f);
    }
    let unit = d.unit.code.clone().unwrap_or_default();
    if !p.may_submit_for(&unit) {
        return Answer::error(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("client {} may not submit for unit {unit:?}", p.name()),
        );
    }
    let key = match idem {
        Some(k) => SubmissionKey::from_header(p.name(), k),
        None => SubmissionKey::for_version(p.name(), &d.code, d.version),
    };
    let canonical = dossier_json(&d);
    let now = Timestamp::now();
    match begin(st, &key, canonical.as_bytes(), now).await {
        Err(a) => return a,
        Ok(Some(replay)) => return replay,
        Ok(None) => {}
    }
    let recorded = st
        .journal
        .record_version(&IncomingVersion {
            dossier: &d,
            body: canonical.as_bytes(),
            body_kind: "provincial.dossier",
            source: p.name(),
            at: now,
        })
        .await;
    let answer = match recorded {
        Ok(Recorded::Current { .. }) => Answer::new(
            StatusCode::ACCEPTED,
            json!({ "code": d.code, "version": d.version, "result": "accepted" }),
        ),
        Ok(Recorded::Stale { current }) => Answer::new(
            StatusCode::ACCEPTED,
            json!({ "code": d.code, "version": d.version, "result": "stale",
                    "message": format!("recorded; version {current} is newer and stays the one synchronised") }),
        ),
        Ok(_) => Answer::new(
            StatusCode::ACCEPTED,
            json!({ "code": d.code, "version": d.version, "result": "duplicate" }),
        ),
        Err(e) => {
            tracing::error!(dossier = %d.code, error = %e, "journal refused a dossier version");
            let _ = st.journal.abandon_submission(&key).await;
            return Answer::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the journal could not record the dossier; nothing was accepted, send it again",
            )
            .retry_after(5);
        }
    };
    finish(st, &key, &answer, now).await;
    log_in(
        st,
        p,
        "ingest.dossier",
        Some(&d.code),
        canonical.as_bytes(),
        now,
        line,
    )
    .await;
    tracing::info!(dossier = %d.code, version = d.version, client = p.name(), "dossier version accepted");
    answer
}

/// Reads, checks, authorises and records one progress step.
async fn submit_step(
    st: &Ingest,
    p: &Principal,
    code: &str,
    body: &[u8],
    idem: Option<&str>,
) -> Answer {
    let v = match lienthong_jsonread::parse(body) {
        Ok(v) => v,
        Err(f) => return invalid(&[f]),
    };
    let mut f = Vec::new();
    let Some(step) = read_progress(&v, &mut f) else {
        return invalid(&f);
    };
    f.extend(validate_progress(&step));
    if step.dossier_code != code {
        f.push(
            Finding::error(
                "/dossier_code",
                "the step belongs to another dossier than the URL",
            )
            .expected(code)
            .found(step.dossier_code.clone()),
        );
    }
    if f.iter().any(Finding::is_error) {
        return invalid(&f);
    }
    // The step's unit is the dossier's: a client may add steps only to dossiers of its units.
    match st.journal.dossier_state(code).await {
        Ok(Some(s)) => {
            let unit = s.unit_code.unwrap_or_default();
            if !p.may_submit_for(&unit) {
                return Answer::error(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    format!("client {} may not submit for unit {unit:?}", p.name()),
                );
            }
        }
        Ok(None) => {
            // Steps may arrive before their dossier; only a client serving every unit may
            // send one then (its unit cannot be checked yet).
            if !p.may_submit_for("*") {
                return Answer::error(
                    StatusCode::CONFLICT,
                    "unknown_dossier",
                    format!("dossier {code} has not been received yet; submit it first"),
                )
                .retry_after(5);
            }
        }
        Err(e) => {
            tracing::error!(dossier = %code, error = %e, "journal unavailable");
            return Answer::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the journal is unavailable; nothing was accepted, send it again",
            )
            .retry_after(5);
        }
    }
    let key = match idem {
        Some(k) => SubmissionKey::from_header(p.name(), k),
        None => SubmissionKey::from_header(p.name(), &format!("step:{code}:{}", step.step_seq)),
    };
    let canonical = progress_json(&step);
    let now = Timestamp::now();
    match begin(st, &key, canonical.as_bytes(), now).await {
        Err(a) => return a,
        Ok(Some(replay)) => return replay,
        Ok(None) => {}
    }
    let recorded = st
        .journal
        .record_step(&IncomingStep {
            step: &step,
            body: canonical.as_bytes(),
            body_kind: "provincial.progress",
            source: p.name(),
            at: now,
        })
        .await;
    let answer = match recorded {
        Ok(StepRecorded::New { .. }) => Answer::new(
            StatusCode::ACCEPTED,
            json!({ "code": code, "step_seq": step.step_seq, "result": "accepted" }),
        ),
        Ok(_) => Answer::new(
            StatusCode::ACCEPTED,
            json!({ "code": code, "step_seq": step.step_seq, "result": "duplicate" }),
        ),
        Err(e) => {
            tracing::error!(dossier = %code, error = %e, "journal refused a progress step");
            let _ = st.journal.abandon_submission(&key).await;
            return Answer::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the journal could not record the step; nothing was accepted, send it again",
            )
            .retry_after(5);
        }
    };
    finish(st, &key, &answer, now).await;
    log_in(
        st,
        p,
        "ingest.progress",
        Some(code),
        canonical.as_bytes(),
        now,
        None,
    )
    .await;
    answer
}

fn invalid(f: &[Finding]) -> Answer {
    Answer::new(
        StatusCode::BAD_REQUEST,
        json!({
            "error": "invalid",
            "message": format!("{} error(s); nothing was accepted", f.iter().filter(|x| x.is_error()).count()),
            "findings": findings_json(f),
        }),
    )
}

/// How long a submission may stay begun and unanswered before a resend takes it over.
/// Handling one takes a journal transaction (milliseconds); a submission begun longer ago
/// was abandoned — its gateway died between the two — and the client, which got no answer,
/// is sending it again. It must not be kept waiting long: until this passes, it is told
/// `409 in_progress`. Taking over a submission that is in fact still running is harmless:
/// the journal records a version or a step once and answers the second `duplicate`.
pub const ABANDONED_AFTER: SignedDuration = SignedDuration::from_secs(30);

/// The idempotency gate: `Ok(None)` to go on, `Ok(Some(answer))` to answer as before.
async fn begin(
    st: &Ingest,
    key: &SubmissionKey,
    request: &[u8],
    now: Timestamp,
) -> Result<Option<Answer>, Answer> {
    match st
        .journal
        .begin_submission(key, request, now, ABANDONED_AFTER)
        .await
    {
        Ok(Begin::New) => Ok(None),
        Ok(Begin::Replay(StoredAnswer { status, body })) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::ACCEPTED);
            let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let mut a = Answer::new(status, body);
            a.counted_as = Some("duplicate");
            Ok(Some(a))
        }
        Ok(Begin::InProgress) => Err(Answer::error(
            StatusCode::CONFLICT,
            "in_progress",
            "the same submission is being processed; ask again shortly",
        )
        .retry_after(1)),
        Ok(Begin::Mismatch) => Err(Answer::error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this idempotency key was used for a different request",
        )),
        Err(e) => {
            tracing::error!(error = %e, "journal unavailable for idempotency");
            Err(Answer::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the journal is unavailable; nothing was accepted, send it again",
            )
            .retry_after(5))
        }
    }
}

async fn finish(st: &Ingest, key: &SubmissionKey, a: &Answer, now: Timestamp) {
    let body = a.body.to_string();
    if let Err(e) = st
        .journal
        .complete_submission(key, a.status.as_u16(), body.as_bytes(), now)
        .await
    {
        // The state is committed; only the stored answer is missing: a resend would record a
        // duplicate and answer "duplicate", which is still correct.
        tracing::warn!(error = %e, "could not store the answer of a submission");
    }
}

async fn log_in(
    st: &Ingest,
    p: &Principal,
    kind: &str,
    code: Option<&str>,
    body: &[u8],
    now: Timestamp,
    line: Option<usize>,
) {
    let id = format!(
        "in-{}-{}{}",
        now.as_microsecond(),
        p.name(),
        line.map(|n| format!("-{n}")).unwrap_or_default()
    );
    let mut m = MessageRecord::new(id, Direction::In, p.name(), kind, body, now);
    m.route = Some("ingest".into());
    m.dossier_code = code.map(str::to_string);
    m.outcome = Outcome::Accepted;
    m.attempts = 1;
    m.finished_at = Some(now);
    if let Err(e) = st.journal.log_message(&m, Some(body)).await {
        tracing::warn!(error = %e, "could not log an incoming message");
    }
}
