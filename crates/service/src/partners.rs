//! `lienthong partners ping`: is each configured partner reachable from this node?
//!
//! For the national portal (DVCQG) a ping builds a client of its own — so it authenticates
//! afresh instead of reusing the sync route's session — and makes one cheap call, a lookup
//! (`TraCuuHoSo`) of a code no dossier has. Reported per partner: whether it is configured,
//! reachable, the latency of authentication and call together in milliseconds, and on
//! failure the error class (who is at fault: `us`, `partner`, `network`), its kind and
//! whether a retry can help; beside it the state of the sync route's circuit breaker. A
//! ping is a diagnosis: it does not count towards the breaker.
//!
//! The document-exchange axis (VDXP) has no section in the gateway's configuration yet; it
//! is reported as not configured.

use crate::sync::SyncRoute;
use lienthong_dvcqg::ErrorKind;
use lienthong_dvcqg::client::{ClientConfig, DvcqgClient};
use lienthong_model::Fault;
use lienthong_workflow::BreakerState;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Instant;

/// The code a ping looks up: no dossier has it (dossier codes contain dots and dashes).
pub const PING_CODE: &str = "LIENTHONGPING";

/// What the ping endpoint knows of the partners.
#[derive(Debug, Default)]
pub struct Partners {
    /// The portal's client settings (with the password), when configured.
    pub dvcqg: Option<ClientConfig>,
    /// The sync route (its breaker).
    pub sync: Option<Arc<SyncRoute>>,
}

/// A breaker state as a word and, when open, until when.
pub fn breaker_json(state: BreakerState) -> Value {
    match state {
        BreakerState::Closed { failures, .. } => json!({ "state": "closed", "failures": failures }),
        BreakerState::Open { until } => json!({ "state": "open", "until": until }),
        BreakerState::HalfOpen { .. } => json!({ "state": "half-open" }),
    }
}

fn class(f: Fault) -> &'static str {
    match f {
        Fault::Us => "us",
        Fault::Partner => "partner",
        Fault::Network => "network",
    }
}

impl Partners {
    /// Pings every partner; one JSON object each.
    pub async fn ping(&self) -> Vec<Value> {
        let breaker = self.sync.as_ref().map(|s| breaker_json(s.breaker_state()));
        let dvcqg = match &self.dvcqg {
            None => json!({ "partner": "dvcqg", "configured": false }),
            Some(cc) => {
                let started = Instant::now();
                let result = match DvcqgClient::new(cc.clone()) {
                    Ok(client) => client.lookup_dossier(PING_CODE).await.map(|_| ()),
                    Err(e) => Err(e),
                };
                let latency_ms = started.elapsed().as_millis() as u64;
                match result {
                    Ok(()) => {
                        tracing::info!(partner = "dvcqg", latency_ms, "partner ping answered");
                        json!({
                            "partner": "dvcqg", "configured": true, "reachable": true,
                            "latency_ms": latency_ms, "error_class": null, "error": null,
                            "breaker": breaker,
                        })
                    }
                    Err(e) => {
                        tracing::warn!(partner = "dvcqg", latency_ms, kind = %e.kind,
                            fault = %e.fault, "partner ping failed");
                        // Reachable when the portal answered as a service (a refusal is an
                        // answer; an HTTP 5xx or no answer is not).
                        let reachable = e.fault != Fault::Network
                            && !matches!(e.kind, ErrorKind::Http(s) if s >= 500);
                        json!({
                            "partner": "dvcqg", "configured": true, "reachable": reachable,
                            "latency_ms": latency_ms, "error_class": class(e.fault),
                            "error": e.kind.to_string(), "retryable": e.retryable,
                            "breaker": breaker,
                        })
                    }
                }
            }
        };
        vec![
            dvcqg,
            json!({ "partner": "vdxp", "configured": false,
                    "note": "the gateway's configuration has no VDXP section yet" }),
        ]
    }
}
