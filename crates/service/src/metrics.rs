//! Metrics in the Prometheus text format: `GET /metrics`.
//!
//! The gateway records with the `metrics` facade; one Prometheus recorder is installed per
//! process ([`handle`], guarded by a `OnceLock`: tests start several gateways in one
//! process) and rendered on scrape — the exporter runs no listener of its own.
//!
//! Exported (labels are low-cardinality names only: never a dossier code, a message id or
//! personal data):
//! - `lienthong_queue_depth{route}` — work waiting on a bus route (ready + waiting for a
//!   retry), refreshed from the bus on every scrape;
//! - `lienthong_parked{route}` — parked messages waiting for an operator, refreshed on scrape;
//! - `lienthong_ingest_total{kind,result}` — submissions to the ingest API; `kind` is
//!   `dossier` or `progress`, `result` one of [`INGEST_RESULTS`];
//! - `lienthong_portal_calls_total{partner,call,outcome}` — calls to a partner portal;
//!   `outcome` is `accepted`, `refused` (the partner refused our request), `partner_error`
//!   or `network_error`;
//! - `lienthong_portal_call_seconds{partner,call}` — histogram of their durations;
//! - `lienthong_portal_submissions_total{result}` — dossiers the national portal pushed to
//!   the receiver; `result` one of [`SUBMISSION_RESULTS`];
//! - `lienthong_webhook_calls_total{outcome}` — calls to the provincial systems' webhooks;
//!   `outcome` is `delivered`, `refused` (a non-2xx answer) or `failed` (no answer);
//! - `lienthong_edocs_total{direction,kind,result}` — documents and statuses over the axis:
//!   `out` results are `queued` (accepted from a local system), `invalid` (refused with findings), `sent`, `refused` (the axis
//!   refused it), `uncertain` (no answer: the next attempt asks the axis first) and
//!   `recovered` (an interrupted send found on the axis); `in` results are `received`,
//!   `duplicate`, `unusable` (answered `fail`) and `delivered` (taken by a local system);
//! - `lienthong_edoc_statuses_total{direction,code}` — status messages by axis status code
//!   (`01`…`16`, `other`);
//! - `lienthong_breaker_open{partner}` — 1 while the circuit breaker in front of the partner
//!   holds calls back (open or half-open), else 0; refreshed on scrape.
//!
//! `/metrics` needs no token: it carries no personal data and Prometheus scrapes it.

use crate::sync::SyncRoute;
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use lienthong_bus::Bus;
use lienthong_model::Fault;
use lienthong_workflow::BreakerState;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Work waiting on a route.
pub const QUEUE_DEPTH: &str = "lienthong_queue_depth";
/// Parked messages of a route.
pub const PARKED: &str = "lienthong_parked";
/// Ingest API submissions.
pub const INGEST_TOTAL: &str = "lienthong_ingest_total";
/// Calls to a partner portal.
pub const PORTAL_CALLS_TOTAL: &str = "lienthong_portal_calls_total";
/// Durations of calls to a partner portal.
pub const PORTAL_CALL_SECONDS: &str = "lienthong_portal_call_seconds";
/// Whether a partner's breaker holds calls back.
pub const BREAKER_OPEN: &str = "lienthong_breaker_open";
/// Dossiers the national portal pushed to the receiver.
pub const PORTAL_SUBMISSIONS_TOTAL: &str = "lienthong_portal_submissions_total";
/// Documents and statuses over the axis.
pub const EDOCS_TOTAL: &str = "lienthong_edocs_total";
/// Status messages over the axis by code.
pub const EDOC_STATUSES_TOTAL: &str = "lienthong_edoc_statuses_total";
/// Calls to the provincial systems' webhooks.
pub const WEBHOOK_CALLS_TOTAL: &str = "lienthong_webhook_calls_total";

/// The values of `result` in `lienthong_portal_submissions_total` (per dossier, or per push
/// when it is refused whole).
pub const SUBMISSION_RESULTS: &[&str] = &[
    "accepted",
    "duplicate",
    "invalid",
    "unauthorized",
    "unavailable",
];

/// The values of `result` in `lienthong_ingest_total`.
pub const INGEST_RESULTS: &[&str] = &[
    "accepted",
    "stale",
    "duplicate",
    "invalid",
    "forbidden",
    "unauthorized",
    "throttled",
    "unavailable",
];

/// An outgoing document or status reached `result` (see the module docs).
pub fn edoc_sent(kind: &'static str, result: &'static str) {
    metrics::counter!(EDOCS_TOTAL, "direction" => "out", "kind" => kind, "result" => result)
        .increment(1);
}

/// An incoming document or status reached `result` (see the module docs).
pub fn edoc_received(kind: &'static str, result: &'static str) {
    metrics::counter!(EDOCS_TOTAL, "direction" => "in", "kind" => kind, "result" => result)
        .increment(1);
}

/// A status message with axis code `code` went `direction` (`in` / `out`).
pub fn edoc_status(direction: &'static str, code: &str) {
    const KNOWN: &[&str] = &["01", "02", "03", "04", "05", "06", "13", "15", "16"];
    let code = KNOWN
        .iter()
        .find(|k| **k == code)
        .copied()
        .unwrap_or("other");
    metrics::counter!(EDOC_STATUSES_TOTAL, "direction" => direction, "code" => code).increment(1);
}

/// Buckets of `lienthong_portal_call_seconds` (the client's timeout is 60 s by default).
const CALL_BUCKETS: &[f64] = &[
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's Prometheus recorder, installed on first use. When another recorder was
/// installed first, a detached one is returned (it renders nothing the facade records) and
/// a warning is logged.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = match PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(PORTAL_CALL_SECONDS.into()), CALL_BUCKETS)
        {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "metric buckets refused; using summaries");
                PrometheusBuilder::new()
            }
        };
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if let Err(e) = metrics::set_global_recorder(recorder) {
            tracing::warn!(error = %e, "a metrics recorder was already installed; /metrics stays empty");
        } else {
            describe();
            // Every ingest series exists from the start, so rates and alerts see zeros.
            for kind in ["dossier", "progress"] {
                for result in INGEST_RESULTS {
                    metrics::counter!(INGEST_TOTAL, "kind" => kind, "result" => *result)
                        .increment(0);
                }
            }
            for result in SUBMISSION_RESULTS {
                metrics::counter!(PORTAL_SUBMISSIONS_TOTAL, "result" => *result).increment(0);
            }
        }
        handle
    })
}

fn describe() {
    metrics::describe_gauge!(
        QUEUE_DEPTH,
        "Work waiting on a bus route (ready + waiting for a retry)."
    );
    metrics::describe_gauge!(PARKED, "Parked messages waiting for an operator.");
    metrics::describe_counter!(INGEST_TOTAL, "Submissions to the ingest API by result.");
    metrics::describe_counter!(
        PORTAL_CALLS_TOTAL,
        "Calls to a partner portal by operation and outcome."
    );
    metrics::describe_histogram!(
        PORTAL_CALL_SECONDS,
        metrics::Unit::Seconds,
        "Duration of calls to a partner portal."
    );
    metrics::describe_counter!(
        PORTAL_SUBMISSIONS_TOTAL,
        "Dossiers the national portal pushed to the receiver, by result."
    );
    metrics::describe_counter!(
        WEBHOOK_CALLS_TOTAL,
        "Calls to the provincial systems' webhooks, by outcome."
    );
    metrics::describe_counter!(
        EDOCS_TOTAL,
        "Documents and statuses over the document exchange axis, by direction, kind and result."
    );
    metrics::describe_counter!(
        EDOC_STATUSES_TOTAL,
        "Status messages over the document exchange axis, by direction and status code."
    );
    metrics::describe_gauge!(
        BREAKER_OPEN,
        "1 while the circuit breaker in front of a partner holds calls back."
    );
}

/// Counts one ingest answer (`kind`: `dossier` | `progress`; `result`: one of
/// [`INGEST_RESULTS`]).
pub fn ingest(kind: &'static str, result: &'static str) {
    metrics::counter!(INGEST_TOTAL, "kind" => kind, "result" => result).increment(1);
}

/// Counts one receiver result (one of [`SUBMISSION_RESULTS`]).
pub fn portal_submission(result: &'static str) {
    metrics::counter!(PORTAL_SUBMISSIONS_TOTAL, "result" => result).increment(1);
}

/// Counts one webhook call (`delivered`, `refused` or `failed`).
pub fn webhook_call(outcome: &'static str) {
    metrics::counter!(WEBHOOK_CALLS_TOTAL, "outcome" => outcome).increment(1);
}

/// The `outcome` label of a portal call: `accepted`, or who failed.
pub fn call_outcome(failure: Option<Fault>) -> &'static str {
    match failure {
        None => "accepted",
        Some(Fault::Us) => "refused",
        Some(Fault::Partner) => "partner_error",
        Some(Fault::Network) => "network_error",
    }
}

/// Counts and times one call to a partner portal (`call`: the operation's name).
pub fn portal_call(
    partner: &'static str,
    call: &'static str,
    outcome: &'static str,
    took: Duration,
) {
    metrics::counter!(PORTAL_CALLS_TOTAL, "partner" => partner, "call" => call, "outcome" => outcome)
        .increment(1);
    metrics::histogram!(PORTAL_CALL_SECONDS, "partner" => partner, "call" => call)
        .record(took.as_secs_f64());
}

/// Sets whether a partner's breaker holds calls back.
pub fn breaker(partner: &'static str, state: BreakerState) {
    let open = !matches!(state, BreakerState::Closed { .. });
    metrics::gauge!(BREAKER_OPEN, "partner" => partner).set(if open { 1.0 } else { 0.0 });
}

/// What a scrape refreshes the gauges from.
pub struct Scrape {
    /// The bus (queue depths, parked counts).
    pub bus: Bus,
    /// The sync route, when the portal is configured (its breaker).
    pub sync: Option<Arc<SyncRoute>>,
}

/// `GET /metrics`.
pub fn router(state: Arc<Scrape>) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(state)
}

async fn scrape(State(st): State<Arc<Scrape>>) -> impl IntoResponse {
    let handle = handle();
    refresh(&st).await;
    handle.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
}

/// Refreshes the gauges from the bus and the breaker; a bus that cannot answer leaves the
/// last values (its failure shows in `/health`).
pub async fn refresh(st: &Scrape) {
    match st.bus.queues().await {
        Ok(queues) => {
            for q in queues {
                let depth = q.ready + q.waiting_retry;
                metrics::gauge!(QUEUE_DEPTH, "route" => q.route.clone()).set(depth as f64);
                metrics::gauge!(PARKED, "route" => q.route).set(q.parked as f64);
            }
        }
        Err(e) => tracing::warn!(error = %e, "queue depths unavailable for /metrics"),
    }
    if let Some(sync) = &st.sync {
        breaker(crate::sync::PARTNER, sync.breaker_state());
    }
}
