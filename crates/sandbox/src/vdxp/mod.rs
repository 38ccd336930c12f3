//! The VDXP simulator: the national document exchange axis (`vdxp.md` §9,
//! `docs/simulators.md`).
//!
//! An HTTP server answering `{base}/{operation}` for every operation of §3 — `sendEdoc`,
//! `getReceivedEdocList`, `getSentEdocList`, `getEdoc`, `downloadEdoc`, `updateStatus`,
//! `countReceiveEdoc`, `countReceiveStatus`, `getAgenciesList`, `getAgenciesListQD20`,
//! `registerAgency`, `deleteAgency`, `getSynchronizeUnit` — with the `XroadVnpt-*`
//! signature checked on every call (§9.2), edXML messages routed between the registered
//! systems (§9.3), per-recipient deliveries with their state machine (§9.4), the
//! simulator's error codes (§9.5), and an admin API under `/admin` for tests: injection,
//! inspection, fault injection, duplicate delivery and reset.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use lienthong_sandbox::vdxp::{VdxpConfig, spawn_vdxp};
//! let (addr, sim, _task) = spawn_vdxp(VdxpConfig::default()).await?;
//! // point the client at http://{addr} (systemid lienthong, secret lienthong-vdxp-secret)
//! assert!(sim.sent(None).is_empty());
//! # let _ = addr; Ok(()) }
//! ```
//!
//! * [`config`] — [`VdxpConfig`] and its parts;
//! * [`records`] — what is stored and shown by inspection;
//! * [`sign`] — HMAC-SHA256, `hash-file`, the timestamp format;
//! * [`trace`] — the byte-level `TraceHeader` insertion;
//! * [`admin`] — the admin API's error type.

pub mod admin;
mod axis;
pub mod config;
mod http;
mod multipart;
pub mod records;
pub mod sign;
pub mod trace;

pub use axis::AxisError;
pub use config::{AgencyEntry, ConfigError, SystemEntry, VdxpConfig};
pub use records::{
    AgencyRecord, CallRecord, CallStats, Delivery, DeliveryState, MessageType, RecipientDelivery,
    SendStatus, SentMessage, SentRecipient,
};

use crate::conn::{ConnHandle, KillableListener};
use crate::fault::{FaultEngine, FaultError, FaultReport, FaultSettings, NextFailure};
use axis::State;
use bytes::Bytes;
use jiff::Timestamp;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A running (or ready to run) VDXP simulator: a cheap, clonable handle on its state,
/// shared by the server and the test that inspects it.
#[derive(Debug, Clone)]
pub struct VdxpSim {
    state: Arc<Mutex<State>>,
}

impl VdxpSim {
    /// A simulator with `config`, nothing sent, the configured faults in force.
    pub fn new(config: VdxpConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let faults = FaultEngine::new(config.faults.clone())?;
        Ok(VdxpSim {
            state: Arc::new(Mutex::new(State::new(config, faults))),
        })
    }

    /// The state; a poisoned lock (a panic elsewhere) is recovered, the state being
    /// plain data.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The configuration (as started; the registry in force is [`VdxpSim::systems`] and
    /// [`VdxpSim::agencies`]).
    pub fn config(&self) -> VdxpConfig {
        self.lock().config.clone()
    }

    /// The systems in force (`registerAgency` / `deleteAgency` change their
    /// organisations).
    pub fn systems(&self) -> Vec<SystemEntry> {
        self.lock().systems.clone()
    }

    /// The agency catalogue with versions, deleted ones included.
    pub fn agencies(&self) -> Vec<AgencyRecord> {
        self.lock().agencies.clone()
    }

    /// Messages accepted from `system` (every system when `None`), oldest first, with the
    /// current state of their deliveries.
    pub fn sent(&self, system: Option<&str>) -> Vec<SentMessage> {
        let st = self.lock();
        st.sent
            .iter()
            .filter(|m| system.is_none_or(|s| m.system == s))
            .map(|m| st.sent_view(m))
            .collect()
    }

    /// One accepted message by its `DocId`.
    pub fn sent_message(&self, doc_id: &str) -> Option<SentMessage> {
        self.lock().sent_message(doc_id)
    }

    /// Deliveries owned by `system` (every delivery when `None`), oldest first, whatever
    /// their state.
    pub fn deliveries(&self, system: Option<&str>) -> Vec<Delivery> {
        self.lock()
            .deliveries
            .iter()
            .filter(|d| system.is_none_or(|s| d.to_system == s))
            .cloned()
            .collect()
    }

    /// One delivery by its `docId`.
    pub fn delivery(&self, doc_id: &str) -> Option<Delivery> {
        self.lock().delivery(doc_id).cloned()
    }

    /// Deliveries `getReceivedEdocList` would list for `system` (pending or processing,
    /// of `kind`).
    pub fn listed(&self, system: &str, kind: MessageType) -> Vec<Delivery> {
        self.lock()
            .listed(system, kind)
            .into_iter()
            .cloned()
            .collect()
    }

    /// Delivers `file` as if `from_system` had sent it with `sendEdoc` (`to`: the `to`
    /// parameter, a JSON array or comma-separated codes). The checks and routing of
    /// §9.3 steps 3–6 apply; the signature and `hash-file` do not.
    pub fn inject(
        &self,
        from_system: &str,
        message_type: MessageType,
        file: impl Into<Bytes>,
        to: Option<&str>,
    ) -> Result<SentMessage, AxisError> {
        self.lock().send(
            from_system,
            message_type,
            file.into(),
            None,
            to,
            true,
            Timestamp::now(),
        )
    }

    /// Calls counted per operation and outcome, and the last ones.
    pub fn calls(&self) -> CallStats {
        self.lock().calls.clone()
    }

    /// Replaces the random and scheduled faults (restarting the sequence from the seed).
    pub fn set_faults(&self, settings: FaultSettings) -> Result<(), FaultError> {
        self.lock().faults.set(settings)
    }

    /// The fault engine's state.
    pub fn faults(&self) -> FaultReport {
        self.lock().faults.report()
    }

    /// Queues a next-failure rule (`service` = the operation name, e.g. `sendEdoc`).
    pub fn push_next_failure(&self, rule: NextFailure) -> Result<(), FaultError> {
        self.lock().faults.push_next(rule)
    }

    /// Drops every pending next-failure rule.
    pub fn clear_next_failures(&self) {
        self.lock().faults.clear_next();
    }

    /// Delivers each of the next `count` accepted messages twice to every recipient (two
    /// delivery ids, same bytes); returns how many messages are still to be doubled.
    pub fn duplicate_next_delivery(&self, count: u32) -> u32 {
        let mut st = self.lock();
        st.duplicate_next = st.duplicate_next.saturating_add(count);
        st.duplicate_next
    }

    /// Forgets everything: sent messages, deliveries, call statistics, next-failure rules,
    /// pending duplications, registry changes; restores the configured faults.
    pub fn reset(&self) {
        let mut st = self.lock();
        let config = st.config.clone();
        let faults = FaultEngine::new(config.faults.clone()).unwrap_or_default();
        *st = State::new(config, faults);
    }
}

/// Serves the simulator on `listener` until the task is dropped or an I/O error ends it.
pub async fn serve(listener: TcpListener, sim: VdxpSim) -> io::Result<()> {
    let app = http::router(sim).into_make_service_with_connect_info::<ConnHandle>();
    axum::serve(KillableListener(listener), app).await
}

/// Binds `addr` and serves a new simulator with `config` until an I/O error.
pub async fn run_vdxp(addr: SocketAddr, config: VdxpConfig) -> io::Result<()> {
    let sim = VdxpSim::new(config).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let listener = TcpListener::bind(addr).await?;
    tracing::info!("VDXP simulator listening on {}", listener.local_addr()?);
    serve(listener, sim).await
}

/// Binds `addr` (port 0: any free port), starts a simulator with `config` on a Tokio
/// task, and returns the bound address, the handle and the task.
pub async fn spawn_vdxp_on(
    addr: SocketAddr,
    config: VdxpConfig,
) -> io::Result<(SocketAddr, VdxpSim, JoinHandle<()>)> {
    let sim = VdxpSim::new(config).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let task = tokio::spawn({
        let sim = sim.clone();
        async move {
            if let Err(e) = serve(listener, sim).await {
                tracing::error!("VDXP simulator stopped: {e}");
            }
        }
    });
    Ok((bound, sim, task))
}

/// [`spawn_vdxp_on`] `127.0.0.1:0`: a simulator on a free loopback port, for tests.
pub async fn spawn_vdxp(config: VdxpConfig) -> io::Result<(SocketAddr, VdxpSim, JoinHandle<()>)> {
    spawn_vdxp_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), config).await
}
