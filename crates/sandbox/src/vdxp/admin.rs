//! The admin API of the VDXP simulator (`/admin/...`, JSON in and out, never subject to
//! faults): injection of messages as if another system had sent them, inspection of sent
//! messages, deliveries, the registry and calls, fault injection, duplicate delivery and
//! reset. See `docs/simulators.md` for every endpoint with examples.

use super::VdxpSim;
use super::axis::AxisError;
use super::records::{DeliveryState, MessageType};
use crate::fault::{FaultError, FaultSettings, NextFailure};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use thiserror::Error;

/// An admin request that cannot be carried out.
#[derive(Debug, Error)]
pub enum AdminError {
    /// The body or query is not the expected JSON.
    #[error("invalid request: {0}")]
    Body(String),
    /// Invalid fault settings or rule.
    #[error("{0}")]
    Fault(#[from] FaultError),
    /// The axis refused the injected message.
    #[error("{0}")]
    Axis(#[from] AxisError),
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            AdminError::Body(_) | AdminError::Fault(_) => (StatusCode::BAD_REQUEST, None),
            AdminError::Axis(e) => (
                e.code
                    .parse::<u16>()
                    .ok()
                    .and_then(|c| StatusCode::from_u16(c).ok())
                    .unwrap_or(StatusCode::BAD_REQUEST),
                Some(e.code),
            ),
        };
        let mut body = json!({"error": self.to_string()});
        if let Some(c) = code {
            body["ErrorCode"] = c.into();
        }
        (status, axum::Json(body)).into_response()
    }
}

type Reply = Result<axum::Json<Value>, AdminError>;

fn ok(v: Value) -> Reply {
    Ok(axum::Json(v))
}

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// An optional JSON body: empty means `T::default()`.
fn body<T: DeserializeOwned + Default>(bytes: &[u8]) -> Result<T, AdminError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes).map_err(|e| AdminError::Body(e.to_string()))
}

pub(crate) fn router(sim: VdxpSim) -> Router {
    Router::new()
        .route("/admin/inject", post(inject))
        .route("/admin/sent", get(sent))
        .route("/admin/deliveries", get(deliveries))
        .route("/admin/registry", get(registry))
        .route("/admin/calls", get(calls))
        .route("/admin/config", get(config))
        .route(
            "/admin/faults",
            get(faults).post(set_faults).delete(clear_faults),
        )
        .route(
            "/admin/next-failures",
            get(next_failures)
                .post(push_next_failures)
                .delete(clear_next_failures),
        )
        .route(
            "/admin/duplicate-next-delivery",
            get(duplicate_pending).post(duplicate_next),
        )
        .route("/admin/reset", post(reset))
        .with_state(sim)
}

/// `POST /admin/inject`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InjectRequest {
    from_system: String,
    #[serde(default = "edoc")]
    messagetype: MessageType,
    data_base64: String,
    /// A JSON array of codes or a string (comma-separated codes).
    #[serde(default)]
    to: Option<Value>,
}

fn edoc() -> MessageType {
    MessageType::Edoc
}

async fn inject(State(sim): State<VdxpSim>, bytes: Bytes) -> Reply {
    let req: InjectRequest =
        serde_json::from_slice(&bytes).map_err(|e| AdminError::Body(e.to_string()))?;
    let data = STANDARD
        .decode(req.data_base64.trim())
        .map_err(|e| AdminError::Body(format!("data_base64: {e}")))?;
    let to = match req.to {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(v @ Value::Array(_)) => Some(v.to_string()),
        Some(_) => {
            return Err(AdminError::Body(
                "to must be an array of codes or a string".into(),
            ));
        }
    };
    let m = sim.inject(&req.from_system, req.messagetype, data, to.as_deref())?;
    let deliveries: Vec<Value> =
        m.recipients
            .iter()
            .flat_map(|r| {
                let failed = r.deliveries.is_empty().then(
                    || json!({"to": r.to, "system": r.system, "status": r.send_status.as_str()}),
                );
                failed.into_iter().chain(r.deliveries.iter().map(|d| {
                    json!({"to": r.to, "system": r.system, "docId": d.doc_id,
                       "status": r.send_status.as_str()})
                }))
            })
            .collect();
    ok(json!({"DocId": m.doc_id, "trace_inserted": m.trace_inserted, "deliveries": deliveries}))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct SentQuery {
    system: Option<String>,
    doc_id: Option<String>,
}

async fn sent(State(sim): State<VdxpSim>, Query(q): Query<SentQuery>) -> Reply {
    let mut items = sim.sent(q.system.as_deref());
    if let Some(id) = &q.doc_id {
        items.retain(|m| m.doc_id == id.trim());
    }
    ok(json!({"count": items.len(), "sent": to_value(&items)}))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct DeliveryQuery {
    system: Option<String>,
    state: Option<String>,
    doc_id: Option<String>,
}

async fn deliveries(State(sim): State<VdxpSim>, Query(q): Query<DeliveryQuery>) -> Reply {
    let mut items = sim.deliveries(q.system.as_deref());
    if let Some(s) = &q.state {
        items.retain(|d| d.state.as_str() == s.trim());
    }
    if let Some(id) = &q.doc_id {
        items.retain(|d| d.doc_id == id.trim());
    }
    let listed = items
        .iter()
        .filter(|d| matches!(d.state, DeliveryState::Pending | DeliveryState::Processing))
        .count();
    ok(json!({"count": items.len(), "listed": listed, "deliveries": to_value(&items)}))
}

async fn registry(State(sim): State<VdxpSim>) -> Reply {
    let systems: Vec<Value> = sim
        .systems()
        .into_iter()
        .map(|s| json!({"systemid": s.systemid, "organ_ids": s.organ_ids}))
        .collect();
    ok(json!({"systems": systems, "agencies": to_value(&sim.agencies())}))
}

async fn calls(State(sim): State<VdxpSim>) -> Reply {
    ok(to_value(&sim.calls()))
}

async fn config(State(sim): State<VdxpSim>) -> Reply {
    let mut c = sim.config();
    for s in &mut c.systems {
        s.secret = "***".to_owned();
    }
    ok(to_value(&c))
}

async fn faults(State(sim): State<VdxpSim>) -> Reply {
    ok(to_value(&sim.faults()))
}

async fn set_faults(State(sim): State<VdxpSim>, bytes: Bytes) -> Reply {
    let settings: FaultSettings = body(&bytes)?;
    sim.set_faults(settings)?;
    ok(to_value(&sim.faults()))
}

async fn clear_faults(State(sim): State<VdxpSim>) -> Reply {
    sim.set_faults(FaultSettings::default())?;
    sim.clear_next_failures();
    ok(to_value(&sim.faults()))
}

async fn next_failures(State(sim): State<VdxpSim>) -> Reply {
    ok(json!({"next_failures": to_value(&sim.faults().next_failures)}))
}

async fn push_next_failures(State(sim): State<VdxpSim>, bytes: Bytes) -> Reply {
    let rule: NextFailure = body(&bytes)?;
    sim.push_next_failure(rule)?;
    ok(json!({"next_failures": to_value(&sim.faults().next_failures)}))
}

async fn clear_next_failures(State(sim): State<VdxpSim>) -> Reply {
    sim.clear_next_failures();
    ok(json!({"next_failures": []}))
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct DuplicateRequest {
    count: u32,
}

impl Default for DuplicateRequest {
    fn default() -> Self {
        DuplicateRequest { count: 1 }
    }
}

async fn duplicate_next(State(sim): State<VdxpSim>, bytes: Bytes) -> Reply {
    let req: DuplicateRequest = body(&bytes)?;
    ok(json!({"pending": sim.duplicate_next_delivery(req.count)}))
}

async fn duplicate_pending(State(sim): State<VdxpSim>) -> Reply {
    ok(json!({"pending": sim.duplicate_next_delivery(0)}))
}

async fn reset(State(sim): State<VdxpSim>) -> Reply {
    sim.reset();
    ok(json!({"reset": true}))
}
