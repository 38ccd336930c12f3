//! The HTTP layer of the DVCQG simulator: the router, and the handler of the auth,
//! integration and share endpoints, which reads the body, asks the fault engine for a
//! decision, applies it (down, rate limit, delays, dropped connections, HTTP errors,
//! injected codes) and otherwise lets `portal.rs` process the call.

use super::DvcqgSim;
use super::admin;
use super::portal::Endpoint;
use super::records::{BODY_CHARS, CallRecord};
use crate::conn::ConnHandle;
use crate::fault::{Decision, Failure};
use axum::Router;
use axum::body::to_bytes;
use axum::extract::{ConnectInfo, Request};
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use jiff::Timestamp;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// The request headers of §2 kept in the call log.
const LOGGED_HEADERS: &[&str] = &["accept", "content-type", "charset", "dstcode"];

/// The whole application: the three portal endpoints and `/admin`.
pub(crate) fn router(sim: DvcqgSim) -> Router {
    let config = sim.config();
    let endpoint = |ep: Endpoint| {
        let sim = sim.clone();
        post(move |req: Request| async move { handle(sim, ep, req).await })
    };
    Router::new()
        .route(&config.auth_path, endpoint(Endpoint::Auth))
        .route(&config.integration_path, endpoint(Endpoint::Integration))
        .route(&config.share_path, endpoint(Endpoint::Share))
        .merge(admin::router(sim.clone()))
}

fn json(status: u16, body: &Value, retry_after: Option<u64>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let mut r = (
        status,
        [(CONTENT_TYPE, "application/json; charset=utf-8")],
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

/// One call of a portal endpoint, run on its own task: a client that gives up (timeout,
/// closed connection) does not cancel it, so an admitted call is always processed and
/// counted, whatever the client does meanwhile.
async fn handle(sim: DvcqgSim, endpoint: Endpoint, req: Request) -> Response {
    match tokio::spawn(handle_call(sim, endpoint, req)).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("DVCQG simulator call failed: {e}");
            text(500, None)
        }
    }
}

async fn handle_call(sim: DvcqgSim, endpoint: Endpoint, req: Request) -> Response {
    let conn = req
        .extensions()
        .get::<ConnectInfo<ConnHandle>>()
        .map(|c| c.0.clone());
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    let limit = sim.lock().config.max_body_bytes;
    let headers: BTreeMap<String, String> = LOGGED_HEADERS
        .iter()
        .filter_map(|h| {
            let v = parts.headers.get(*h)?;
            Some((
                (*h).to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            ))
        })
        .collect();
    let record = |service: &str, outcome: &str, status: u16, body: Option<String>| {
        sim.lock().calls.record(CallRecord {
            time: Timestamp::now(),
            path: path.clone(),
            service: service.to_owned(),
            outcome: outcome.to_owned(),
            http_status: status,
            headers: headers.clone(),
            body,
        });
    };
    let bytes = match to_bytes(body, limit).await {
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
            record("(none)", outcome, status, None);
            return text(status, None);
        }
    };
    let parsed: Result<Value, String> = serde_json::from_slice(&bytes).map_err(|e| e.to_string());
    let service = match endpoint {
        Endpoint::Auth => "auth".to_owned(),
        _ => parsed
            .as_ref()
            .ok()
            .and_then(|v| v.get("service"))
            .and_then(Value::as_str)
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "(none)".to_owned()),
    };
    // Never keep credentials in the call log.
    let logged = (endpoint != Endpoint::Auth).then(|| {
        String::from_utf8_lossy(&bytes)
            .chars()
            .take(BODY_CHARS)
            .collect()
    });
    let decision = sim.lock().faults.decide(&service);
    match decision {
        Decision::Down { retry_after_secs } => {
            record(&service, "down", 503, logged);
            text(503, Some(retry_after_secs))
        }
        Decision::RateLimited => {
            record(&service, "rate_limited", 429, logged);
            text(429, Some(1))
        }
        Decision::Fail { delay, failure } => {
            pause(delay).await;
            match failure {
                Failure::Reset => {
                    record(&service, "reset", 0, logged);
                    match conn {
                        Some(c) => c.kill(),
                        None => tracing::warn!("no connection handle: cannot drop the connection"),
                    }
                    // Never written: the connection refuses it and is closed with a reset.
                    text(500, None)
                }
                Failure::Http { status } => {
                    record(&service, &format!("http_{status}"), status, logged);
                    text(status, retry_after_for(status))
                }
                Failure::Answer {
                    status,
                    code,
                    message,
                } => {
                    let body =
                        sim.lock()
                            .fault_reply(endpoint, code.as_deref(), message.as_deref());
                    record(&service, "injected_error", status, logged);
                    json(status, &body, retry_after_for(status))
                }
            }
        }
        Decision::Proceed { before, after, .. } => {
            pause(before).await;
            let processed = {
                let mut st = sim.lock();
                st.process(endpoint, &parts.headers, &parsed, Timestamp::now())
            };
            record(&service, processed.outcome, 200, logged);
            pause(after).await;
            json(200, &processed.body, None)
        }
    }
}
