//! The admin API of the DVCQG simulator (`/admin/...`, JSON in and out, never subject to
//! faults): inspection of stored dossiers, calls, status reports, sessions and faults;
//! fault injection; response style; citizen-side pushes; reset. See
//! `docs/simulators.md` for every endpoint with examples.

use super::DvcqgSim;
use super::citizen::CitizenError;
use super::config::ResponseStylePatch;
use super::records::Snapshot;
use crate::fault::{FaultError, FaultSettings, NextFailure};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use lienthong_dvcqg::read::read_dossier_item;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use thiserror::Error;

/// An admin request that cannot be carried out.
#[derive(Debug, Error)]
pub enum AdminError {
    /// The body is not the expected JSON.
    #[error("invalid request body: {0}")]
    Body(String),
    /// Invalid fault settings or rule.
    #[error("{0}")]
    Fault(#[from] FaultError),
    /// No such dossier.
    #[error("no dossier {0}")]
    NotFound(String),
    /// The citizen-side push cannot be made.
    #[error("{0}")]
    Citizen(#[from] CitizenError),
    /// The snapshot cannot be written.
    #[error("snapshot: {0}")]
    Snapshot(std::io::Error),
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let status = match &self {
            AdminError::Body(_) | AdminError::Fault(_) => StatusCode::BAD_REQUEST,
            AdminError::NotFound(_) => StatusCode::NOT_FOUND,
            AdminError::Citizen(CitizenError::NoReceiver) => StatusCode::CONFLICT,
            AdminError::Citizen(CitizenError::Client(_)) => StatusCode::INTERNAL_SERVER_ERROR,
            AdminError::Citizen(_) => StatusCode::BAD_REQUEST,
            AdminError::Snapshot(e) if e.kind() == std::io::ErrorKind::NotFound => {
                StatusCode::CONFLICT
            }
            AdminError::Snapshot(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (status, axum::Json(json!({"error": self.to_string()}))).into_response()
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

pub(crate) fn router(sim: DvcqgSim) -> Router {
    Router::new()
        .route("/admin/dossiers", get(dossiers))
        .route("/admin/dossiers/{code}", get(dossier))
        .route("/admin/calls", get(calls))
        .route("/admin/status-sync", get(status_sync))
        .route("/admin/sessions", get(sessions))
        .route("/admin/expire-sessions", post(expire_sessions))
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
            "/admin/response-style",
            get(response_style).post(set_response_style),
        )
        .route(
            "/admin/citizen-dossiers",
            get(citizen_pushes).post(push_citizen_dossiers),
        )
        .route("/admin/config", get(config))
        .route("/admin/snapshot", get(snapshot).post(save_snapshot))
        .route("/admin/restore", post(restore))
        .route("/admin/reset", post(reset))
        .with_state(sim)
}

async fn dossiers(State(sim): State<DvcqgSim>) -> Reply {
    let d = sim.dossiers();
    ok(json!({"count": d.len(), "dossiers": to_value(&d)}))
}

async fn dossier(State(sim): State<DvcqgSim>, Path(code): Path<String>) -> Reply {
    match sim.dossier(&code) {
        Some(d) => ok(to_value(&d)),
        None => Err(AdminError::NotFound(code)),
    }
}

async fn calls(State(sim): State<DvcqgSim>) -> Reply {
    ok(to_value(&sim.calls()))
}

async fn status_sync(State(sim): State<DvcqgSim>) -> Reply {
    let items = sim.status_sync();
    ok(json!({"count": items.len(), "items": to_value(&items)}))
}

async fn sessions(State(sim): State<DvcqgSim>) -> Reply {
    ok(json!({"sessions": to_value(&sim.sessions())}))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ExpireRequest {
    username: Option<String>,
}

async fn expire_sessions(State(sim): State<DvcqgSim>, bytes: Bytes) -> Reply {
    let req: ExpireRequest = body(&bytes)?;
    let n = sim.expire_sessions(req.username.as_deref());
    ok(json!({"expired": n}))
}

async fn faults(State(sim): State<DvcqgSim>) -> Reply {
    ok(to_value(&sim.faults()))
}

async fn set_faults(State(sim): State<DvcqgSim>, bytes: Bytes) -> Reply {
    let settings: FaultSettings = body(&bytes)?;
    sim.set_faults(settings)?;
    ok(to_value(&sim.faults()))
}

async fn clear_faults(State(sim): State<DvcqgSim>) -> Reply {
    sim.set_faults(FaultSettings::default())?;
    sim.clear_next_failures();
    ok(to_value(&sim.faults()))
}

async fn next_failures(State(sim): State<DvcqgSim>) -> Reply {
    ok(json!({"next_failures": to_value(&sim.faults().next_failures)}))
}

async fn push_next_failures(State(sim): State<DvcqgSim>, bytes: Bytes) -> Reply {
    let rule: NextFailure = body(&bytes)?;
    sim.push_next_failure(rule)?;
    ok(json!({"next_failures": to_value(&sim.faults().next_failures)}))
}

async fn clear_next_failures(State(sim): State<DvcqgSim>) -> Reply {
    sim.clear_next_failures();
    ok(json!({"next_failures": []}))
}

async fn response_style(State(sim): State<DvcqgSim>) -> Reply {
    ok(to_value(&sim.response_style()))
}

async fn set_response_style(State(sim): State<DvcqgSim>, bytes: Bytes) -> Reply {
    let patch: ResponseStylePatch = body(&bytes)?;
    ok(to_value(&sim.set_response_style(patch)))
}

async fn citizen_pushes(State(sim): State<DvcqgSim>) -> Reply {
    let p = sim.citizen_pushes();
    ok(json!({"count": p.len(), "pushes": to_value(&p)}))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GenerateRequest {
    count: usize,
    #[serde(default)]
    seed: u64,
}

/// A dossier object, an array of them, or `{"count": N, "seed": S}`.
async fn push_citizen_dossiers(State(sim): State<DvcqgSim>, bytes: Bytes) -> Reply {
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| AdminError::Body(e.to_string()))?;
    let read = |v: &Value, i: usize| {
        let mut f = Vec::new();
        let path = format!("/{i}");
        match read_dossier_item(v, &path, &mut f) {
            Some(item) if !f.iter().any(|x| x.is_error()) => Ok(item),
            _ => Err(AdminError::Body(
                f.iter()
                    .find(|x| x.is_error())
                    .map_or_else(|| "not a dossier object".to_owned(), ToString::to_string),
            )),
        }
    };
    let items = match &v {
        Value::Object(m) if m.contains_key("count") => {
            let g: GenerateRequest =
                serde_json::from_value(v.clone()).map_err(|e| AdminError::Body(e.to_string()))?;
            sim.generate_citizen_dossiers(g.count, g.seed)?
        }
        Value::Object(_) => vec![read(&v, 0)?],
        Value::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, x)| read(x, i))
            .collect::<Result<Vec<_>, _>>()?,
        _ => {
            return Err(AdminError::Body(
                "expected a dossier object, an array of them, or {\"count\": N, \"seed\": S}"
                    .to_owned(),
            ));
        }
    };
    let pushes = sim.push_citizen_dossiers(items).await?;
    let delivered = pushes.iter().filter(|p| p.delivered).count();
    ok(json!({"pushed": pushes.len(), "delivered": delivered, "results": to_value(&pushes)}))
}

async fn config(State(sim): State<DvcqgSim>) -> Reply {
    let mut c = sim.config();
    for a in &mut c.accounts {
        a.password = "***".to_owned();
    }
    if c.receiver_token.is_some() {
        c.receiver_token = Some("***".to_owned());
    }
    ok(to_value(&c))
}

async fn snapshot(State(sim): State<DvcqgSim>) -> Reply {
    ok(to_value(&sim.snapshot()))
}

async fn save_snapshot(State(sim): State<DvcqgSim>) -> Reply {
    let path = sim.save_snapshot().map_err(AdminError::Snapshot)?;
    ok(json!({"saved": path}))
}

async fn restore(State(sim): State<DvcqgSim>, bytes: Bytes) -> Reply {
    let snapshot: Snapshot = body(&bytes)?;
    let n = snapshot.dossiers.len();
    sim.restore(snapshot);
    ok(json!({"restored": n}))
}

async fn reset(State(sim): State<DvcqgSim>) -> Reply {
    sim.reset();
    ok(json!({"reset": true}))
}
