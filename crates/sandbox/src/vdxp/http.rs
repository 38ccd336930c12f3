//! The HTTP layer of the VDXP simulator: the router (`{base}/{operation}` and `/admin`),
//! and the handler of every operation, which reads the body, asks the fault engine for a
//! decision, applies it (down, rate limit, delays, dropped connections, HTTP errors,
//! injected `FAIL` answers) and otherwise lets `axis.rs` process the call.

use super::VdxpSim;
use super::admin;
use super::axis::{INJECTED_CODE, INJECTED_DESC, Operation, Payload, fail_envelope};
use super::records::CallRecord;
use super::sign::PREFIX;
use crate::conn::ConnHandle;
use crate::fault::{Decision, Failure};
use axum::Router;
use axum::body::{Bytes, to_bytes};
use axum::extract::{ConnectInfo, Request};
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use jiff::Timestamp;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// Signature headers, left out of the call log.
const UNLOGGED: &[&str] = &["sign-header", "hash-header"];

/// The whole application: every operation under the base path, and `/admin`.
pub(crate) fn router(sim: VdxpSim) -> Router {
    let base = sim.config().base_path;
    let mut router = Router::new();
    for op in Operation::ALL {
        let handler = {
            let sim = sim.clone();
            move |req: Request| async move { handle(sim, op, req).await }
        };
        let methods: MethodRouter = if op.allows_get() {
            get(handler.clone()).post(handler)
        } else {
            post(handler)
        };
        router = router.route(&format!("{base}/{}", op.name()), methods);
    }
    router.merge(admin::router(sim))
}

fn json(status: u16, body: &Value, retry_after: Option<u64>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let mut r = (
        status,
        [(CONTENT_TYPE, "application/json;charset=UTF-8")],
        body.to_string(),
    )
        .into_response();
    if let Some(s) = retry_after {
        r.headers_mut().insert(RETRY_AFTER, HeaderValue::from(s));
    }
    r
}

fn text(status: u16, retry_after: Option<u64>) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = format!(
        "{} {} (simulated)",
        code.as_u16(),
        code.canonical_reason().unwrap_or("Error")
    );
    let mut r = (code, [(CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response();
    if let Some(s) = retry_after {
        r.headers_mut().insert(RETRY_AFTER, HeaderValue::from(s));
    }
    r
}

/// `Retry-After: 1` for 429 and 503.
fn retry_after_for(status: u16) -> Option<u64> {
    matches!(status, 429 | 503).then_some(1)
}

async fn pause(d: Duration) {
    if !d.is_zero() {
        tokio::time::sleep(d).await;
    }
}

/// The `XroadVnpt-*` parameter headers and `Content-Type`, for the call log.
fn logged_headers(headers: &HeaderMap) -> BTreeMap<String, String> {
    headers
        .iter()
        .filter_map(|(name, value)| {
            let n = name.as_str();
            let param = n
                .get(..PREFIX.len())
                .filter(|p| p.eq_ignore_ascii_case(PREFIX))
                .map(|_| &n[PREFIX.len()..]);
            let keep = match param {
                Some(p) => !UNLOGGED.contains(&p),
                None => n == "content-type",
            };
            keep.then(|| {
                (
                    n.to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
        })
        .collect()
}

/// One call of an operation, run on its own task: a client that gives up does not
/// cancel it, so an admitted call is always processed and counted.
async fn handle(sim: VdxpSim, op: Operation, req: Request) -> Response {
    match tokio::spawn(handle_call(sim, op, req)).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("VDXP simulator call failed: {e}");
            text(500, None)
        }
    }
}

async fn handle_call(sim: VdxpSim, op: Operation, req: Request) -> Response {
    let conn = req
        .extensions()
        .get::<ConnectInfo<ConnHandle>>()
        .map(|c| c.0.clone());
    let (parts, body) = req.into_parts();
    let limit = sim.lock().config.max_body_bytes;
    let headers = logged_headers(&parts.headers);
    let system = headers
        .get("xroadvnpt-systemid")
        .map(|s| s.trim().to_owned());
    let record = |outcome: &str, status: u16, error: Option<(String, String)>| {
        let (error_code, error_desc) = error.unzip();
        sim.lock().calls.record(CallRecord {
            time: Timestamp::now(),
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            operation: op.name().to_owned(),
            system: system.clone(),
            outcome: outcome.to_owned(),
            http_status: status,
            error_code,
            error_desc,
            headers: headers.clone(),
        });
    };
    let bytes: Bytes = match to_bytes(body, limit).await {
        Ok(b) => b,
        Err(e) => {
            let too_large =
                std::iter::successors(Some(&e as &(dyn std::error::Error + 'static)), |x| {
                    x.source()
                })
                .any(|x| x.to_string().contains("length limit"));
            let (outcome, status) = if too_large {
                ("too_large", 413)
            } else {
                ("body_error", 400)
            };
            record(outcome, status, None);
            return text(status, None);
        }
    };
    let decision = sim.lock().faults.decide(op.name());
    match decision {
        Decision::Down { retry_after_secs } => {
            record("down", 503, None);
            text(503, Some(retry_after_secs))
        }
        Decision::RateLimited => {
            record("rate_limited", 429, None);
            text(429, Some(1))
        }
        Decision::Fail { delay, failure } => {
            pause(delay).await;
            match failure {
                Failure::Reset => {
                    record("reset", 0, None);
                    match conn {
                        Some(c) => c.kill(),
                        None => tracing::warn!("no connection handle: cannot drop the connection"),
                    }
                    // Never written: the connection refuses it and is closed with a reset.
                    text(500, None)
                }
                Failure::Http { status } => {
                    record(&format!("http_{status}"), status, None);
                    text(status, retry_after_for(status))
                }
                Failure::Answer {
                    status,
                    code,
                    message,
                } => {
                    let code = code.unwrap_or_else(|| INJECTED_CODE.to_owned());
                    let message = message.unwrap_or_else(|| INJECTED_DESC.to_owned());
                    let body = fail_envelope(&code, &message);
                    record("injected_error", status, Some((code, message)));
                    json(status, &body, retry_after_for(status))
                }
            }
        }
        Decision::Proceed { before, after, .. } => {
            pause(before).await;
            let processed = sim
                .lock()
                .process(op, &parts.headers, &bytes, Timestamp::now());
            let error = processed
                .error
                .as_ref()
                .map(|e| (e.code.to_owned(), e.message.clone()));
            record(processed.outcome, 200, error);
            pause(after).await;
            match processed.payload {
                Payload::Json(v) => json(200, &v, None),
                Payload::Raw(b) => (
                    StatusCode::OK,
                    [(CONTENT_TYPE, "application/octet-stream")],
                    b,
                )
                    .into_response(),
            }
        }
    }
}
