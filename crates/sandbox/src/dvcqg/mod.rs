//! The DVCQG portal simulator (`docs/dvcqg.md` §13, `docs/simulators.md`).
//!
//! An HTTP server with three configurable endpoints — authentication (`/auth`),
//! integration (`/integration`) and share (`/share`) — that behaves like the national
//! public service portal as far as public evidence goes (and by documented *sim rules*
//! where it does not), plus an admin API under `/admin` for tests: inspection, fault
//! injection, response style, expiry of sessions, citizen-side pushes and reset.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use lienthong_sandbox::dvcqg::{DvcqgConfig, spawn_dvcqg};
//! let (addr, sim, _task) = spawn_dvcqg(DvcqgConfig::default()).await?;
//! // point the client at http://{addr}/auth, /integration, /share …
//! assert!(sim.dossiers().is_empty());
//! # let _ = addr; Ok(()) }
//! ```
//!
//! * [`config`] — [`DvcqgConfig`] and its parts;
//! * [`records`] — what is stored and shown by inspection;
//! * [`citizen`] — the citizen side (portal → province pushes, an ASSUMPTION);
//! * [`admin`] — the admin API's error type.

pub mod admin;
pub mod citizen;
pub mod config;
mod http;
mod portal;
pub mod records;

pub use config::{
    Account, AgencyEntry, ConfigError, DvcqgConfig, ErrorCodes, FieldEntry, ProcedureEntry,
    ProcedureField, ResponseStyle, ResponseStylePatch, SuccessCode,
};
pub use records::{
    CallRecord, CallStats, CitizenPush, DossierRecord, DossierVersion, ProgressRecord, SessionInfo,
    Snapshot, StatusSyncRecord,
};

use crate::conn::{ConnHandle, KillableListener};
use crate::fault::{FaultEngine, FaultError, FaultReport, FaultSettings, NextFailure};
use citizen::CitizenError;
use jiff::Timestamp;
use lienthong_dvcqg::wire::DossierItem;
use portal::State;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A running (or ready to run) DVCQG simulator: a cheap, clonable handle on its state,
/// shared by the server and the test that inspects it.
#[derive(Debug, Clone)]
pub struct DvcqgSim {
    state: Arc<Mutex<State>>,
}

impl DvcqgSim {
    /// A simulator with `config`, nothing stored, the configured faults in force.
    pub fn new(config: DvcqgConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let faults = FaultEngine::new(config.faults.clone())?;
        Ok(DvcqgSim {
            state: Arc::new(Mutex::new(State::new(config, faults))),
        })
    }

    /// The state; a poisoned lock (a panic elsewhere) is recovered, the state being
    /// plain data.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The configuration (as started; the response style in force is
    /// [`DvcqgSim::response_style`]).
    pub fn config(&self) -> DvcqgConfig {
        self.lock().config.clone()
    }

    /// Every stored dossier, by code.
    pub fn dossiers(&self) -> Vec<DossierRecord> {
        self.lock().dossiers.values().cloned().collect()
    }

    /// One stored dossier.
    pub fn dossier(&self, code: &str) -> Option<DossierRecord> {
        self.lock().dossiers.get(code.trim()).cloned()
    }

    /// Calls counted per service and outcome, and the last ones.
    pub fn calls(&self) -> CallStats {
        self.lock().calls.clone()
    }

    /// Stored `DongBoTrangThaiHoSo` items, in arrival order.
    pub fn status_sync(&self) -> Vec<StatusSyncRecord> {
        self.lock().status_sync.clone()
    }

    /// Citizen-side pushes, in order.
    pub fn citizen_pushes(&self) -> Vec<CitizenPush> {
        self.lock().citizen.clone()
    }

    /// Live sessions.
    pub fn sessions(&self) -> Vec<SessionInfo> {
        self.lock().session_infos()
    }

    /// Ends the sessions of `username`, or all when `None`; later calls with them get
    /// the bad-session answer. Returns how many ended.
    pub fn expire_sessions(&self, username: Option<&str>) -> usize {
        self.lock().expire_sessions(username)
    }

    /// Replaces the random and scheduled faults (restarting the sequence from the seed).
    pub fn set_faults(&self, settings: FaultSettings) -> Result<(), FaultError> {
        self.lock().faults.set(settings)
    }

    /// The fault engine's state.
    pub fn faults(&self) -> FaultReport {
        self.lock().faults.report()
    }

    /// Queues a next-failure rule.
    pub fn push_next_failure(&self, rule: NextFailure) -> Result<(), FaultError> {
        self.lock().faults.push_next(rule)
    }

    /// Drops every pending next-failure rule.
    pub fn clear_next_failures(&self) {
        self.lock().faults.clear_next();
    }

    /// The response style in force.
    pub fn response_style(&self) -> ResponseStyle {
        self.lock().style
    }

    /// Changes members of the response style; returns the style now in force.
    pub fn set_response_style(&self, patch: ResponseStylePatch) -> ResponseStyle {
        let mut st = self.lock();
        st.style = st.style.patched(patch);
        st.style
    }

    /// Forgets everything: dossiers, progress, status reports, citizen pushes, sessions,
    /// call statistics, next-failure rules; restores the configured response style and
    /// faults.
    pub fn reset(&self) {
        let mut st = self.lock();
        let config = st.config.clone();
        let faults = FaultEngine::new(config.faults.clone()).unwrap_or_default();
        *st = State::new(config, faults);
    }

    /// `count` simple online dossiers for the citizen side (see
    /// [`citizen`]); deterministic for `seed` apart from dates and the code counter.
    pub fn generate_citizen_dossiers(
        &self,
        count: usize,
        seed: u64,
    ) -> Result<Vec<DossierItem>, CitizenError> {
        let mut st = self.lock();
        let mut counter = st.citizen_counter;
        let items = citizen::generate(&st.config, count, seed, &mut counter, Timestamp::now())?;
        st.citizen_counter = counter;
        Ok(items)
    }

    /// Pushes dossiers to the configured receiver, one request each (see [`citizen`]);
    /// every outcome is recorded and returned, failed deliveries included.
    pub async fn push_citizen_dossiers(
        &self,
        items: Vec<DossierItem>,
    ) -> Result<Vec<CitizenPush>, CitizenError> {
        let (url, token) = {
            let st = self.lock();
            let url = st
                .config
                .receiver_url
                .clone()
                .ok_or(CitizenError::NoReceiver)?;
            (url, st.config.receiver_token.clone())
        };
        let client = citizen::http_client()?;
        let pushes = citizen::push(&client, &url, token.as_deref(), items).await;
        let mut st = self.lock();
        for p in &pushes {
            st.citizen_codes.insert(p.item.MaHoSo.trim().to_owned());
        }
        st.citizen.extend(pushes.iter().cloned());
        Ok(pushes)
    }
}

impl DvcqgSim {
    /// The stored state (dossiers, status reports, citizen pushes).
    pub fn snapshot(&self) -> Snapshot {
        let st = self.lock();
        Snapshot {
            dossiers: st.dossiers.values().cloned().collect(),
            status_sync: st.status_sync.clone(),
            citizen: st.citizen.clone(),
        }
    }

    /// Replaces the stored state with `snapshot` (sessions, statistics and faults are
    /// kept).
    pub fn restore(&self, snapshot: Snapshot) {
        let mut st = self.lock();
        st.dossiers = snapshot
            .dossiers
            .into_iter()
            .map(|d| (d.code.clone(), d))
            .collect();
        st.status_sync = snapshot.status_sync;
        st.citizen_codes = snapshot
            .citizen
            .iter()
            .map(|p| p.item.MaHoSo.trim().to_owned())
            .collect();
        st.citizen = snapshot.citizen;
    }

    /// Writes the snapshot to the configured `snapshot_path`; returns the path.
    pub fn save_snapshot(&self) -> io::Result<String> {
        let path = self.config().snapshot_path.ok_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, "snapshot_path is not configured")
        })?;
        let json = serde_json::to_vec_pretty(&self.snapshot()).map_err(io::Error::other)?;
        let tmp = format!("{path}.tmp");
        std::fs::write(&tmp, json)?;
        std::fs::rename(&tmp, &path)?;
        Ok(path)
    }

    /// Loads the configured `snapshot_path` if the file exists; returns whether it did.
    pub fn load_snapshot(&self) -> io::Result<bool> {
        let Some(path) = self.config().snapshot_path else {
            return Ok(false);
        };
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        let snapshot: Snapshot = serde_json::from_slice(&bytes)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        self.restore(snapshot);
        Ok(true)
    }
}

/// Serves the simulator on `listener` until the task is dropped or an I/O error ends it.
pub async fn serve(listener: TcpListener, sim: DvcqgSim) -> io::Result<()> {
    let app = http::router(sim).into_make_service_with_connect_info::<ConnHandle>();
    axum::serve(KillableListener(listener), app).await
}

/// Binds `addr` and serves a new simulator with `config` (state loaded from
/// `snapshot_path` when the file exists) until an I/O error.
pub async fn run_dvcqg(addr: SocketAddr, config: DvcqgConfig) -> io::Result<()> {
    let sim = DvcqgSim::new(config).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    sim.load_snapshot()?;
    let listener = TcpListener::bind(addr).await?;
    tracing::info!("DVCQG simulator listening on {}", listener.local_addr()?);
    serve(listener, sim).await
}

/// Binds `addr` (port 0: any free port), starts a simulator with `config` (state loaded
/// from `snapshot_path` when the file exists) on a Tokio task, and returns the bound
/// address, the handle and the task.
pub async fn spawn_dvcqg_on(
    addr: SocketAddr,
    config: DvcqgConfig,
) -> io::Result<(SocketAddr, DvcqgSim, JoinHandle<()>)> {
    let sim = DvcqgSim::new(config).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    sim.load_snapshot()?;
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let task = tokio::spawn({
        let sim = sim.clone();
        async move {
            if let Err(e) = serve(listener, sim).await {
                tracing::error!("DVCQG simulator stopped: {e}");
            }
        }
    });
    Ok((bound, sim, task))
}

/// [`spawn_dvcqg_on`] `127.0.0.1:0`: a simulator on a free loopback port, for tests.
pub async fn spawn_dvcqg(
    config: DvcqgConfig,
) -> io::Result<(SocketAddr, DvcqgSim, JoinHandle<()>)> {
    spawn_dvcqg_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), config).await
}
