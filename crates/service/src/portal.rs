//! Portal submissions: dossiers citizens submit on the national portal (DVCQG) itself.
//!
//! 1. **Receiver** (`POST {portal.receiver_path}`): the portal pushes each dossier
//!    (`{"service":"DongBoHoSoDVCQG","data":[…]}`, read and validated by the DVCQG adapter,
//!    [`lienthong_dvcqg::submission::read_push`]) with `Authorization: Bearer TOKEN`; the
//!    token's SHA-256 is configured and compared in constant time. A valid push is journaled
//!    with its `portal.delivery` work item in one transaction and answered `200` only then; a
//!    second push of the same dossier code is a `200` that changes nothing; an invalid one is a
//!    `400` with the findings (paths, never personal values) and nothing is journaled.
//! 2. **Pull API** for the provincial systems (client tokens, scoped to units):
//!    `GET /v1/submissions?limit=N` lists the submissions of the caller's units not yet
//!    delivered, oldest first; `POST /v1/submissions/{code}/ack` marks one delivered
//!    (idempotent). What is not acknowledged stays listed.
//! 3. **Webhook** ([`DeliveryRoute`], bus route `portal.delivery`): when a client has a
//!    webhook, each submission for its units is POSTed to it, signed with HMAC-SHA256 over
//!    `{timestamp}.{body}` ([`sign`], [`verify`]; headers [`TIMESTAMP_HEADER`],
//!    [`SIGNATURE_HEADER`]). A 2xx marks the submission delivered; anything else is retried
//!    with back-off through the bus ([`Delivery::retry_after`]) and parked after the last
//!    attempt. Without a webhook the item is acknowledged and the submission waits for the
//!    pull API.
//! 4. **Statuses back** ([`StatusRoute`], bus route `portal.status`): when the province
//!    records a version or a step of a dossier whose code is a portal submission, the
//!    journal writes a `portal.status` work item; the route plans with
//!    [`lienthong_workflow::plan_report`] (the reduction of `docs/status-reduction.md`),
//!    sends `DongBoTrangThaiHoSo` (type 2) with [`DvcqgClient::sync_status`], decides with
//!    [`lienthong_workflow::decide`] and records the status the portal accepted.
//!
//! Both submissions and reports are delivered at least once: a webhook receiver must treat
//! the dossier code as its idempotency key (a 2xx whose recording failed is sent again).
//! The provincial system is assumed to keep the portal's dossier code as its own when it
//! reports the dossier's progress (`MaHoSoDonVi` = `MaHoSo`).

use crate::auth::{Principal, TokenHash, Tokens};
use crate::relay::stopped;
use crate::sync::{SharedBreaker, lock_breaker};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hmac::{Hmac, KeyInit, Mac};
use jiff::Timestamp;
use lienthong_bus::{Bus, BusError, Delivery, RetryOutcome};
use lienthong_dvcqg::client::DvcqgClient;
use lienthong_dvcqg::map::{dossier_from_dvcqg, unit_code_of};
use lienthong_dvcqg::submission::{read_push, status_item};
use lienthong_dvcqg::wire::DossierItem;
use lienthong_journal::messages::{Direction, MessageRecord, Outcome};
use lienthong_journal::portal::{IncomingSubmission, Submission, SubmissionRecorded};
use lienthong_journal::{Journal, JournalError, Reveal};
use lienthong_workflow::breaker::{Health, Permit, deferral};
use lienthong_workflow::{Call, CallResult, Decision, RetryPolicy, decide, plan_report, reduce};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::watch;
use tracing::Instrument;

/// The partner that pushes submissions and receives their statuses.
pub const PARTNER: &str = "dvcqg";
/// The `body_kind` of a stored portal dossier object.
pub const BODY_KIND: &str = "dvcqg.dossier";
/// The bus route of webhook deliveries.
pub const DELIVERY_ROUTE: &str = "portal.delivery";
/// The bus route of status reports.
pub const STATUS_ROUTE: &str = "portal.status";
/// Webhook header: Unix seconds when the request was signed.
pub const TIMESTAMP_HEADER: &str = "x-lienthong-timestamp";
/// Webhook header: `sha256=` + lowercase hex HMAC-SHA256 of `{timestamp}.{body}`.
pub const SIGNATURE_HEADER: &str = "x-lienthong-signature";
/// Webhook header: the delivery's id (the same on every retry of one work item).
pub const DELIVERY_HEADER: &str = "x-lienthong-delivery";
/// Submissions listed per pull at most.
pub const MAX_LIST: u32 = 1000;

type HmacSha256 = Hmac<Sha256>;

/// What the receiver and the pull API share.
pub struct Portal {
    /// The journal.
    pub journal: Journal,
    /// Client tokens (the pull API).
    pub tokens: Tokens,
    /// The SHA-256 of the token the portal presents to the receiver.
    pub receiver_token: TokenHash,
    /// Maintenance mode: the receiver answers 503.
    pub maintenance: Arc<AtomicBool>,
    /// Largest request body in bytes (413 above).
    pub max_request_bytes: usize,
}

/// The receiver at `receiver_path` and the pull API.
pub fn router(state: Arc<Portal>, receiver_path: &str) -> Router {
    let limit = state.max_request_bytes;
    Router::new()
        .route(receiver_path, post(receive))
        .route("/v1/submissions", get(list))
        .route("/v1/submissions/{code}/ack", post(ack))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

pub(crate) fn answer(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

pub(crate) fn refuse(status: StatusCode, error: &str, message: impl Into<String>) -> Response {
    answer(status, json!({ "error": error, "message": message.into() }))
}

pub(crate) fn with_retry_after(mut r: Response, secs: u64) -> Response {
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// The client calling the pull API, or the refusal (401 / 403).
pub(crate) fn client(tokens: &Tokens, headers: &HeaderMap) -> Result<Principal, Box<Response>> {
    let Some(token) = bearer(headers) else {
        return Err(Box::new(refuse(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send the client token as `Authorization: Bearer TOKEN`",
        )));
    };
    match tokens.identify(token) {
        None => Err(Box::new(refuse(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "unknown token",
        ))),
        Some(p @ Principal::Client { .. }) => Ok(p.clone()),
        Some(_) => Err(Box::new(refuse(
            StatusCode::FORBIDDEN,
            "forbidden",
            "operator tokens cannot use this API; use a client token (operators: /v1/admin)",
        ))),
    }
}

pub(crate) fn unavailable(what: &str, e: &JournalError) -> Response {
    tracing::error!(error = %e, retryable = e.retryable(), "journal unavailable: {what}");
    with_retry_after(
        refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!("the journal is unavailable ({what}); nothing changed, try again"),
        ),
        5,
    )
}

async fn receive(
    State(st): State<Arc<Portal>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let authorised = bearer(&headers).is_some_and(|t| TokenHash::of(t).matches(&st.receiver_token));
    if !authorised {
        tracing::warn!(
            partner = PARTNER,
            "portal push refused: missing or wrong token"
        );
        crate::metrics::portal_submission("unauthorized");
        return refuse(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the receiver token is missing or wrong",
        );
    }
    if st.maintenance.load(Ordering::Relaxed) {
        return with_retry_after(
            refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "maintenance",
                "the gateway is in maintenance mode; push again later / cổng đang bảo trì",
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
    let push = match read_push(&body) {
        Ok(p) => p,
        Err(findings) => {
            let errors = findings.iter().filter(|f| f.is_error()).count();
            let paths: Vec<&str> = findings
                .iter()
                .filter(|f| f.is_error())
                .map(|f| f.path.as_str())
                .collect();
            tracing::warn!(partner = PARTNER, errors, paths = %paths.join(", "),
                "portal push refused: invalid dossier");
            crate::metrics::portal_submission("invalid");
            return answer(
                StatusCode::BAD_REQUEST,
                json!({
                    "error": "invalid",
                    "message": format!("{errors} error(s); nothing was accepted"),
                    "findings": serde_json::to_value(&findings).unwrap_or(Value::Null),
                }),
            );
        }
    };
    let now = Timestamp::now();
    let mut results = Vec::with_capacity(push.items.len());
    for item in &push.items {
        let code = item.MaHoSo.trim();
        let stored = match serde_json::to_vec(item) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(dossier = %code, error = %e, "cannot serialise a portal dossier");
                return refuse(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the dossier cannot be stored (a gateway bug); nothing more was accepted",
                );
            }
        };
        let unit = unit_code_of(code);
        let recorded = st
            .journal
            .record_submission(&IncomingSubmission {
                code,
                unit_code: unit,
                procedure_code: item.MaTTHC.trim(),
                body: &stored,
                body_kind: BODY_KIND,
                source: PARTNER,
                at: now,
            })
            .await;
        match recorded {
            Ok(SubmissionRecorded::New { .. }) => {
                tracing::info!(dossier = %code, partner = PARTNER, unit = unit.unwrap_or("?"),
                    "portal submission received");
                log_in(&st.journal, code, &stored, now).await;
                crate::metrics::portal_submission("accepted");
                results.push(json!({ "MaHoSo": code, "result": "accepted" }));
            }
            Ok(SubmissionRecorded::Duplicate) => {
                tracing::info!(dossier = %code, partner = PARTNER,
                    "portal submission received again; nothing changed");
                crate::metrics::portal_submission("duplicate");
                results.push(json!({ "MaHoSo": code, "result": "duplicate" }));
            }
            Err(e) => {
                crate::metrics::portal_submission("unavailable");
                return unavailable("recording a portal submission", &e);
            }
        }
    }
    answer(
        StatusCode::OK,
        json!({ "error_code": "0", "message": "Tiếp nhận thành công", "results": results }),
    )
}

async fn log_in(journal: &Journal, code: &str, body: &[u8], now: Timestamp) {
    let id = format!("in-{PARTNER}-submission-{code}");
    let mut m = MessageRecord::new(id, Direction::In, PARTNER, "dvcqg.submission", body, now);
    m.route = Some("portal".into());
    m.dossier_code = Some(code.to_owned());
    m.outcome = Outcome::Accepted;
    m.attempts = 1;
    m.finished_at = Some(now);
    if let Err(e) = journal.log_message(&m, Some(body)).await {
        tracing::warn!(dossier = %code, error = %e, "could not log a portal submission");
    }
}

/// A submission as the provincial system receives it (pull API entries and webhook bodies):
/// `{"code", "unit", "procedure", "received_at", "dossier"}`, the dossier in the provincial
/// format (version 1: the dossier as the portal received it).
pub fn delivery_document(s: &Submission) -> Value {
    let dossier = serde_json::from_slice::<DossierItem>(&s.body)
        .ok()
        .and_then(|item| {
            let (mut d, _) = dossier_from_dvcqg(&item);
            d.version = 1;
            serde_json::from_str::<Value>(&lienthong_provincial::write::dossier_json(&d)).ok()
        });
    if dossier.is_none() {
        tracing::error!(dossier = %s.code, "stored portal submission does not read");
    }
    json!({
        "code": s.code,
        "unit": s.unit_code,
        "procedure": s.procedure_code,
        "received_at": s.received_at.to_string(),
        "dossier": dossier,
    })
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    limit: Option<u32>,
}

async fn list(
    State(st): State<Arc<Portal>>,
    headers: HeaderMap,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let p = match client(&st.tokens, &headers) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let limit = match query {
        Ok(Query(q)) => q.limit.unwrap_or(100),
        Err(e) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "invalid",
                format!("bad query string: {e}"),
            );
        }
    };
    if !(1..=MAX_LIST).contains(&limit) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid",
            format!("limit must be 1 to {MAX_LIST}"),
        );
    }
    let units = match &p {
        Principal::Client { units, .. } => units.clone(),
        Principal::Operator { .. } => Some(Vec::new()),
    };
    let subs = match st
        .journal
        .undelivered_submissions(units.as_deref(), limit, Reveal::Clear)
        .await
    {
        Ok(s) => s,
        Err(e) => return unavailable("listing portal submissions", &e),
    };
    let items: Vec<Value> = subs.iter().map(delivery_document).collect();
    answer(
        StatusCode::OK,
        json!({ "count": items.len(), "submissions": items }),
    )
}

async fn ack(
    State(st): State<Arc<Portal>>,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> Response {
    let p = match client(&st.tokens, &headers) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let sub = match st.journal.submission(&code, Reveal::Masked).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return refuse(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no portal submission {code}"),
            );
        }
        Err(e) => return unavailable("reading a portal submission", &e),
    };
    let unit = sub.unit_code.clone().unwrap_or_default();
    if !p.may_submit_for(&unit) {
        return refuse(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("client {} does not serve unit {unit:?}", p.name()),
        );
    }
    let now = Timestamp::now();
    let first = if sub.delivered_at.is_some() {
        false
    } else {
        match st
            .journal
            .mark_submission_delivered(&code, p.name(), "pull", now)
            .await
        {
            Ok(first) => first,
            Err(e) => return unavailable("acknowledging a portal submission", &e),
        }
    };
    if first {
        tracing::info!(dossier = %code, partner = p.name(), "portal submission delivered (pull)");
    }
    answer(
        StatusCode::OK,
        json!({ "code": code, "result": if first { "acknowledged" } else { "already_delivered" } }),
    )
}

/// Lowercase hex of the HMAC-SHA256 of `{timestamp}.{body}` under `secret`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    mac(secret, timestamp, body)
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length: new_from_slice cannot fail.
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| HmacSha256::new(&Default::default()));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// Checks a webhook request: `signature` is the [`SIGNATURE_HEADER`] value
/// (`sha256=HEX`), `timestamp` the [`TIMESTAMP_HEADER`] value; the time must be within
/// `tolerance` of `now` (replays of old requests fail). Compared in constant time.
pub fn verify(
    secret: &[u8],
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: Timestamp,
    tolerance: Duration,
) -> bool {
    let Ok(ts) = timestamp.trim().parse::<i64>() else {
        return false;
    };
    if now.as_second().abs_diff(ts) > tolerance.as_secs() {
        return false;
    }
    let Some(hex) = signature.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Some(bytes) = from_hex(hex) else {
        return false;
    };
    mac(secret, ts, body).verify_slice(&bytes).is_ok()
}

fn from_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.as_bytes()
        .chunks(2)
        .map(|p| {
            let hi = (p[0] as char).to_digit(16)?;
            let lo = (p[1] as char).to_digit(16)?;
            Some((hi * 16 + lo) as u8)
        })
        .collect()
}

/// FNV-1a 64, for jitter seeds.
pub(crate) fn stable_hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Why a portal route cannot run or start.
#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    /// A setting that cannot work (operator's fault; retrying does not help).
    #[error("portal settings (fix the configuration): {0}")]
    Settings(String),
    /// The bus refused the consumer.
    #[error("cannot consume {route} (retry helps: {}): {source}", source.retryable())]
    Consume {
        /// The route.
        route: &'static str,
        /// The bus's error.
        source: BusError,
    },
    /// The bus closed under the consumer (restart the route once the bus is back).
    #[error("the bus closed while {route} was consuming (retry helps once it is back)")]
    BusClosed {
        /// The route.
        route: &'static str,
    },
}

/// How a delivery ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// Done (delivered, reported, or nothing to do): acknowledged.
    Done,
    /// Scheduled again after a delay (or parked by the bus after the last attempt).
    Retry(String),
    /// Parked for an operator.
    Parked(String),
    /// Not tried (the partner's circuit breaker is open): again after the delay, no attempt
    /// counted.
    Postponed(String),
}

/// Settles `delivery` as `s` says; answers how it ended (a retry on the last allowed
/// attempt ends [`Settled::Parked`]).
pub(crate) async fn settle(
    route: &str,
    code: &str,
    delivery: Delivery,
    s: Settled,
    delay: Duration,
) -> Settled {
    let id = delivery.message.id.clone();
    let mut exhausted = None;
    let r = match &s {
        Settled::Done => delivery.ack().await.map(|_| ()),
        Settled::Retry(reason) => match delivery
            .retry_after(delay, lienthong_bus::Reason::new(reason.clone()))
            .await
        {
            Ok(RetryOutcome::Parked) => {
                tracing::warn!(dossier = %code, route, message = %id, reason = %reason,
                    "attempts exhausted; work item parked");
                exhausted = Some(format!("attempts exhausted; last: {reason}"));
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        },
        Settled::Postponed(reason) => {
            tracing::info!(dossier = %code, route, message = %id, reason = %reason,
                "work item postponed");
            delivery.postpone(delay).await.map(|_| ())
        }
        Settled::Parked(reason) => {
            tracing::warn!(dossier = %code, route, message = %id, reason = %reason,
                "work item parked");
            delivery
                .park(lienthong_bus::Reason::new(reason.clone()))
                .await
        }
    };
    if let Err(e) = r {
        tracing::warn!(dossier = %code, route, message = %id, error = %e,
            "settling the work item failed; the bus will deliver it again");
    }
    // A retry on the last allowed attempt parked the work item.
    match exhausted {
        Some(reason) => Settled::Parked(reason),
        None => s,
    }
}

pub(crate) async fn consume_loop<F, Fut>(
    bus: &Bus,
    route: &'static str,
    prefetch: u16,
    mut shutdown: watch::Receiver<bool>,
    handle: F,
) -> Result<(), PortalError>
where
    F: Fn(Delivery) -> Fut,
    Fut: std::future::Future<Output = Settled>,
{
    let mut consumer = bus
        .consume(route, prefetch)
        .await
        .map_err(|source| PortalError::Consume { route, source })?;
    tracing::info!(route, "route started");
    let result = loop {
        tokio::select! {
            () = stopped(&mut shutdown) => break Ok(()),
            next = consumer.next() => {
                let Some(delivery) = next else {
                    break Err(PortalError::BusClosed { route });
                };
                handle(delivery).await;
            }
        }
    };
    drop(consumer);
    tracing::info!(route, "route stopped");
    result
}

/// A client's webhook, ready to sign.
#[derive(Clone)]
pub struct WebhookTarget {
    /// The client's name.
    pub client: String,
    /// The units it serves (`None`: every unit, those of unknown units included).
    pub units: Option<Vec<String>>,
    /// Where to POST.
    pub url: String,
    /// The HMAC secret.
    pub secret: Vec<u8>,
}

impl std::fmt::Debug for WebhookTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookTarget")
            .field("client", &self.client)
            .field("units", &self.units)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl WebhookTarget {
    pub(crate) fn serves(&self, unit: Option<&str>) -> bool {
        match (&self.units, unit) {
            (None, _) => true,
            (Some(units), Some(u)) => units.iter().any(|x| x == u),
            (Some(_), None) => false,
        }
    }
}

/// Settings of the webhook route.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// The webhooks.
    pub webhooks: Vec<WebhookTarget>,
    /// How long one webhook call may take.
    pub timeout: Duration,
    /// Back-off of retried deliveries.
    pub policy: RetryPolicy,
    /// Unsettled deliveries per partition the bus may hand this node.
    pub prefetch: u16,
}

impl Default for DeliverySettings {
    /// No webhook, 10 s per call, the default back-off, prefetch 4.
    fn default() -> Self {
        DeliverySettings {
            webhooks: Vec::new(),
            timeout: Duration::from_secs(10),
            policy: RetryPolicy::default(),
            prefetch: 4,
        }
    }
}

/// The `portal.delivery` route: pushes submissions to the clients' webhooks.
pub struct DeliveryRoute {
    journal: Journal,
    http: reqwest::Client,
    settings: DeliverySettings,
}

impl DeliveryRoute {
    /// A route over `journal` with checked settings.
    pub fn new(journal: Journal, settings: DeliverySettings) -> Result<Self, PortalError> {
        settings
            .policy
            .validate()
            .map_err(|e| PortalError::Settings(e.to_string()))?;
        if settings.prefetch == 0 || settings.timeout.is_zero() {
            return Err(PortalError::Settings(
                "prefetch and timeout must be positive".into(),
            ));
        }
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("lienthong/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| PortalError::Settings(format!("cannot build the HTTP client: {e}")))?;
        Ok(DeliveryRoute {
            journal,
            http,
            settings,
        })
    }

    /// Consumes `portal.delivery` until `shutdown` turns `true`; the delivery in hand is
    /// finished first.
    pub async fn run(
        self: Arc<Self>,
        bus: &Bus,
        shutdown: watch::Receiver<bool>,
    ) -> Result<(), PortalError> {
        let me = Arc::clone(&self);
        consume_loop(
            bus,
            DELIVERY_ROUTE,
            self.settings.prefetch,
            shutdown,
            move |d| {
                let me = Arc::clone(&me);
                async move { me.handle(d).await }
            },
        )
        .await
    }

    /// Handles one delivery and settles it.
    pub async fn handle(&self, delivery: Delivery) -> Settled {
        let code = delivery.message.key.clone();
        let attempt = delivery.attempt;
        let seed = stable_hash(&delivery.message.id);
        let span = tracing::info_span!("portal_delivery", dossier = %code, attempt);
        async move {
            let (s, retry_after) = self.deliver(&code, &delivery.message.id, attempt).await;
            let delay = self.settings.policy.delay(attempt, seed, retry_after);
            settle(DELIVERY_ROUTE, &code, delivery, s, delay).await
        }
        .instrument(span)
        .await
    }

    async fn deliver(&self, code: &str, id: &str, attempt: u32) -> (Settled, Option<Duration>) {
        let sub = match self.journal.submission(code, Reveal::Clear).await {
            Ok(Some(s)) => s,
            Ok(None) => {
                return (
                    Settled::Parked(format!("no portal submission {code} in the journal")),
                    None,
                );
            }
            Err(e) => return (journal_settlement(&e), None),
        };
        if sub.delivered_at.is_some() {
            return (Settled::Done, None);
        }
        let Some(hook) = self
            .settings
            .webhooks
            .iter()
            .find(|w| w.serves(sub.unit_code.as_deref()))
        else {
            tracing::debug!(dossier = %code, "no webhook for the unit; the submission waits for the pull API");
            return (Settled::Done, None);
        };
        let body = delivery_document(&sub).to_string().into_bytes();
        if let Err(failed) = push(&self.http, hook, body, id).await {
            tracing::warn!(dossier = %code, partner = %hook.client, attempt,
                reason = %failed.0, "webhook push of a portal submission failed; retrying later");
            return (Settled::Retry(failed.0), failed.1);
        }
        match self
            .journal
            .mark_submission_delivered(code, &hook.client, "webhook", Timestamp::now())
            .await
        {
            Ok(_) => {
                tracing::info!(dossier = %code, partner = %hook.client, attempt,
                    "portal submission delivered (webhook)");
                (Settled::Done, None)
            }
            Err(e) => (journal_settlement(&e), None),
        }
    }
}

/// POSTs `body` to a client's webhook, signed (`x-lienthong-timestamp`,
/// `x-lienthong-signature: sha256=…` over `timestamp.body`, `x-lienthong-delivery`: the bus
/// message id). `Err` carries the reason to retry with (the client's side or the network;
/// never the body) and the client's `Retry-After`. Shared by every route that pushes to the
/// local systems.
pub(crate) async fn push(
    http: &reqwest::Client,
    hook: &WebhookTarget,
    body: Vec<u8>,
    delivery_id: &str,
) -> Result<(), (String, Option<Duration>)> {
    let ts = Timestamp::now().as_second();
    let signature = format!("sha256={}", sign(&hook.secret, ts, &body));
    let sent = http
        .post(&hook.url)
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .header(TIMESTAMP_HEADER, ts.to_string())
        .header(SIGNATURE_HEADER, signature)
        .header(DELIVERY_HEADER, delivery_id)
        .body(body)
        .send()
        .await;
    match sent {
        Ok(r) if r.status().is_success() => {
            crate::metrics::webhook_call("delivered");
            Ok(())
        }
        Ok(r) => {
            crate::metrics::webhook_call("refused");
            let status = r.status().as_u16();
            let retry_after = r
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            Err((
                format!(
                    "webhook of client {} answered HTTP {status} (the local system's side; retried)",
                    hook.client
                ),
                retry_after,
            ))
        }
        Err(e) => {
            crate::metrics::webhook_call("failed");
            let kind = if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "unreachable"
            } else {
                "failed"
            };
            Err((
                format!(
                    "webhook of client {} {kind} (network or the local system; retried)",
                    hook.client
                ),
                None,
            ))
        }
    }
}

pub(crate) fn journal_settlement(e: &JournalError) -> Settled {
    let why = format!("journal ({}): {e}", e.blame());
    if e.retryable() {
        Settled::Retry(why)
    } else {
        Settled::Parked(why)
    }
}

/// Settings of the status route.
#[derive(Debug, Clone)]
pub struct StatusSettings {
    /// Back-off of retried reports.
    pub policy: RetryPolicy,
    /// Unsettled deliveries per partition the bus may hand this node.
    pub prefetch: u16,
}

impl Default for StatusSettings {
    /// The default back-off, prefetch 4.
    fn default() -> Self {
        StatusSettings {
            policy: RetryPolicy::default(),
            prefetch: 4,
        }
    }
}

/// The `portal.status` route: reports the processing status of portal submissions back to
/// the portal with `DongBoTrangThaiHoSo` (type 2).
pub struct StatusRoute {
    journal: Journal,
    client: DvcqgClient,
    settings: StatusSettings,
    /// The portal's circuit breaker, shared with the sync route (one per partner).
    breaker: Option<SharedBreaker>,
}

/// Reports sent per delivery at most (the status may change while one is sent).
const MAX_REPORTS: usize = 8;

impl StatusRoute {
    /// A route over `journal` and `client`, with checked settings.
    pub fn new(
        journal: Journal,
        client: DvcqgClient,
        settings: StatusSettings,
    ) -> Result<Self, PortalError> {
        settings
            .policy
            .validate()
            .map_err(|e| PortalError::Settings(e.to_string()))?;
        if settings.prefetch == 0 {
            return Err(PortalError::Settings("prefetch must be positive".into()));
        }
        Ok(StatusRoute {
            journal,
            client,
            settings,
            breaker: None,
        })
    }

    /// Asks `breaker` (the portal's, shared with the sync route) before every report and
    /// tells it the outcome: while the portal is presumed down, reports are postponed
    /// without spending attempts.
    pub fn with_breaker(mut self, breaker: SharedBreaker) -> Self {
        self.breaker = Some(breaker);
        self
    }

    /// Consumes `portal.status` until `shutdown` turns `true`; the delivery in hand is
    /// finished first.
    pub async fn run(
        self: Arc<Self>,
        bus: &Bus,
        shutdown: watch::Receiver<bool>,
    ) -> Result<(), PortalError> {
        let me = Arc::clone(&self);
        consume_loop(
            bus,
            STATUS_ROUTE,
            self.settings.prefetch,
            shutdown,
            move |d| {
                let me = Arc::clone(&me);
                async move { me.handle(d).await }
            },
        )
        .await
    }

    /// Handles one delivery and settles it.
    pub async fn handle(&self, delivery: Delivery) -> Settled {
        let code = delivery.message.key.clone();
        let attempt = delivery.attempt;
        let seed = stable_hash(&delivery.message.id);
        let span =
            tracing::info_span!("portal_status", dossier = %code, partner = PARTNER, attempt);
        async move {
            let (s, delay) = self.report(&code, attempt, seed).await;
            settle(STATUS_ROUTE, &code, delivery, s, delay).await
        }
        .instrument(span)
        .await
    }

    async fn report(&self, code: &str, attempt: u32, seed: u64) -> (Settled, Duration) {
        let policy = &self.settings.policy;
        let backoff = || policy.delay(attempt, seed, None);
        for _ in 0..MAX_REPORTS {
            let status = match self.journal.portal_status(code).await {
                Ok(Some(s)) => s,
                Ok(None) => return (Settled::Done, backoff()),
                Err(e) => return (journal_settlement(&e), backoff()),
            };
            let Some(current) = status.current else {
                return (Settled::Done, backoff());
            };
            let Some(call) = plan_report(status.last_reported, current) else {
                tracing::debug!(dossier = %code, "status already reported");
                return (Settled::Done, backoff());
            };
            let Some(reduced) = reduce(current) else {
                return (Settled::Done, backoff());
            };
            let sub = match self.journal.submission(code, Reveal::Clear).await {
                Ok(Some(s)) => s,
                Ok(None) => return (Settled::Done, backoff()),
                Err(e) => return (journal_settlement(&e), backoff()),
            };
            let Ok(portal) = serde_json::from_slice::<DossierItem>(&sub.body) else {
                return (
                    Settled::Parked(format!("stored portal submission {code} does not read")),
                    backoff(),
                );
            };
            let now = Timestamp::now();
            let item = status_item(
                &portal,
                code,
                reduced.status(),
                &status.text,
                status.at.unwrap_or(now),
            );
            if let Some(b) = &self.breaker
                && let Permit::Deny { retry_at } = lock_breaker(b).allow(now)
            {
                let (delay, reason) = deferral(PARTNER, retry_at, now);
                tracing::info!(dossier = %code, partner = PARTNER, %retry_at,
                    "portal presumed down; status report postponed");
                return (Settled::Postponed(reason.message), delay);
            }
            let started = std::time::Instant::now();
            let result = self.client.sync_status(std::slice::from_ref(&item)).await;
            let failure = result.as_ref().err().map(|e| e.to_failure());
            crate::metrics::portal_call(
                PARTNER,
                "DongBoTrangThaiHoSo",
                crate::metrics::call_outcome(failure.as_ref().map(|f| f.fault)),
                started.elapsed(),
            );
            let call_result = match &failure {
                None => CallResult::Accepted,
                Some(f) => CallResult::Failed {
                    failure: f,
                    accepted_steps: 0,
                },
            };
            if let Some(b) = &self.breaker {
                lock_breaker(b).record(Timestamp::now(), Health::of(&call_result));
            }
            let decision = decide(&call, &call_result, attempt, policy, seed);
            let reported = decision.record().status_reported;
            if let Some(s) = reported
                && let Err(e) = self
                    .journal
                    .mark_status_reported(code, s, Timestamp::now())
                    .await
            {
                return (journal_settlement(&e), backoff());
            }
            self.log(code, &call, &item.TrangThai, &decision).await;
            match decision {
                Decision::Ack { .. } => {
                    tracing::info!(dossier = %code, partner = PARTNER, status = current.name(),
                        reported = %item.TrangThai, "status reported to the portal");
                }
                Decision::RetryAfter { delay, reason, .. } => {
                    tracing::warn!(dossier = %code, partner = PARTNER, reason = %reason.message,
                        "status report failed; retrying later");
                    return (Settled::Retry(reason.message), delay);
                }
                Decision::Postpone { delay, reason } => {
                    return (Settled::Postponed(reason.message), delay);
                }
                Decision::Park { reason, .. } => {
                    return (Settled::Parked(reason.message), backoff());
                }
            }
        }
        (
            Settled::Retry(format!(
                "status changed through {MAX_REPORTS} reports without settling; trying later"
            )),
            backoff(),
        )
    }

    /// One message-log entry per reported status (no body: it quotes the portal account).
    async fn log(&self, code: &str, call: &Call, reported: &str, decision: &Decision) {
        let Call::StatusReport { status } = call else {
            return;
        };
        let now = Timestamp::now();
        let id = format!("out-{PARTNER}-{code}-status-{}", status.name());
        let previous = self.journal.message(&id).await.ok().flatten();
        let mut m = MessageRecord::new(
            id,
            Direction::Out,
            PARTNER,
            "dvcqg.DongBoTrangThaiHoSo",
            reported.as_bytes(),
            previous.as_ref().map_or(now, |p| p.created_at),
        );
        m.route = Some(STATUS_ROUTE.to_owned());
        m.dossier_code = Some(code.to_owned());
        m.attempts = previous.as_ref().map_or(0, |p| p.attempts) + 1;
        m.first_attempt_at = previous
            .as_ref()
            .and_then(|p| p.first_attempt_at)
            .or(Some(now));
        m.last_attempt_at = Some(now);
        m.outcome = match decision {
            Decision::Ack { .. } => Outcome::Accepted,
            Decision::RetryAfter { .. } | Decision::Postpone { .. } => Outcome::Pending,
            Decision::Park { .. } => Outcome::Parked,
        };
        if m.outcome != Outcome::Pending {
            m.finished_at = Some(now);
        }
        if let Err(e) = self.journal.log_message(&m, None).await {
            tracing::warn!(dossier = %code, error = %e, "logging the status report failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_reject_tampering() {
        let secret = b"0123456789abcdef0123";
        let body = br#"{"code":"X"}"#;
        let sig = format!("sha256={}", sign(secret, 1_700_000_000, body));
        let now = Timestamp::from_second(1_700_000_010).expect("instant");
        let tol = Duration::from_secs(300);
        assert!(verify(secret, "1700000000", &sig, body, now, tol));
        assert!(!verify(secret, "1700000001", &sig, body, now, tol));
        assert!(!verify(secret, "1700000000", &sig, b"{}", now, tol));
        assert!(!verify(
            b"another secret!!",
            "1700000000",
            &sig,
            body,
            now,
            tol
        ));
        let late = Timestamp::from_second(1_700_001_000).expect("instant");
        assert!(!verify(secret, "1700000000", &sig, body, late, tol));
        assert!(!verify(secret, "1700000000", "sha256=zz", body, now, tol));
        assert!(!verify(secret, "x", &sig, body, now, tol));
        // A known vector: HMAC-SHA256("key", "1.The quick brown fox").
        assert_eq!(sign(b"key", 1, b"The quick brown fox").len(), 64);
    }
}
