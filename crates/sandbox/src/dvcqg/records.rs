//! What the DVCQG simulator stores and shows through its inspection API: dossiers with
//! every accepted version and their progress steps, status reports of portal dossiers,
//! citizen-side pushes, sessions and call statistics. All records serialise to the JSON
//! of the `/admin` GET endpoints.

use jiff::Timestamp;
use lienthong_dvcqg::wire::{DossierItem, ProgressItem, StatusSyncItem};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};

/// At most this many calls are kept in [`CallStats::recent`].
pub(crate) const RECENT_CALLS: usize = 200;

/// At most this many characters of a request body are kept in a [`CallRecord`].
pub(crate) const BODY_CHARS: usize = 4000;

/// One dossier as the portal knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DossierRecord {
    /// The dossier code.
    #[serde(rename = "MaHoSo")]
    pub code: String,
    /// Accepted `DongBoHoSoMC` calls with `isUpdating` False.
    pub inserts: u64,
    /// Accepted `DongBoHoSoMC` calls with `isUpdating` True (including the one that
    /// created the dossier when it was unknown).
    pub updates: u64,
    /// Inserts refused because the dossier existed (`đã tồn tại`).
    pub duplicate_inserts: u64,
    /// Every accepted version, oldest first.
    pub versions: Vec<DossierVersion>,
    /// Progress steps in arrival order.
    pub progress: Vec<ProgressRecord>,
    /// Steps identical to a step stored before them (still appended).
    pub duplicate_steps: u64,
}

impl DossierRecord {
    /// The latest version's item.
    pub fn latest(&self) -> Option<&DossierItem> {
        self.versions.last().map(|v| &v.item)
    }
}

/// One accepted version of a dossier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DossierVersion {
    /// 1, 2, … in arrival order.
    pub version: u32,
    /// When it was accepted.
    pub arrival: Timestamp,
    /// `isUpdating` of the call.
    pub is_updating: bool,
    /// The session's account.
    pub username: String,
    /// `madonvi` of the call.
    pub madonvi: String,
    /// The item as read (scalars as strings, keys in table order).
    pub item: DossierItem,
    /// The item exactly as received.
    pub raw: Value,
}

/// One progress step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgressRecord {
    /// 1, 2, … in arrival order, per dossier.
    pub seq: u32,
    /// When it was accepted.
    pub arrival: Timestamp,
    /// Identical to a step stored before it.
    pub duplicate: bool,
    /// The session's account.
    pub username: String,
    /// `madonvi` of the call.
    pub madonvi: String,
    /// The step as read.
    pub item: ProgressItem,
    /// The step exactly as received.
    pub raw: Value,
}

/// One `DongBoTrangThaiHoSo` item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusSyncRecord {
    /// When it was accepted.
    pub arrival: Timestamp,
    /// The session's account.
    pub username: String,
    /// `madonvi` of the call.
    pub madonvi: String,
    /// `MaHoSo` is a dossier the simulator pushed on the citizen side.
    pub citizen_dossier: bool,
    /// The item as read.
    pub item: StatusSyncItem,
}

/// One citizen-side push (a dossier submitted on the portal, sent to the province).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CitizenPush {
    /// When it was pushed.
    pub time: Timestamp,
    /// The dossier.
    pub item: DossierItem,
    /// The receiver answered with a 2xx status.
    pub delivered: bool,
    /// The receiver's HTTP status.
    pub http_status: Option<u16>,
    /// The receiver's answer (at most 4000 characters).
    pub response: Option<String>,
    /// The transport error, if the push failed before an answer.
    pub error: Option<String>,
}

/// A live session (`GET /admin/sessions`); tokens are shown by their first 8 characters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// First characters of the token.
    pub token_prefix: String,
    /// The account.
    pub username: String,
    /// When it was issued.
    pub issued: Timestamp,
    /// Seconds since it was issued.
    pub age_secs: u64,
    /// Older than the session lifetime.
    pub expired: bool,
}

/// The stored state, without sessions, statistics or faults (`GET /admin/snapshot`,
/// `POST /admin/restore`, `snapshot_path`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Snapshot {
    /// Stored dossiers with versions and progress.
    pub dossiers: Vec<DossierRecord>,
    /// Stored `DongBoTrangThaiHoSo` items.
    pub status_sync: Vec<StatusSyncRecord>,
    /// Citizen-side pushes.
    pub citizen: Vec<CitizenPush>,
}

/// One call to a simulated endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    /// When it was answered (or dropped).
    pub time: Timestamp,
    /// The request path.
    pub path: String,
    /// The service (`auth` for the authentication endpoint, `(none)` when absent).
    pub service: String,
    /// `ok`, `bad_credentials`, `bad_dstcode`, `bad_session`, `bad_madonvi`,
    /// `malformed`, `invalid`, `duplicate`, `not_found`, `unknown_service`,
    /// `injected_error`, `http_<status>`, `reset`, `down`, `rate_limited`, `too_large`, `body_error`.
    pub outcome: String,
    /// The HTTP status answered (0 for a dropped connection).
    pub http_status: u16,
    /// The §2 request headers as received (`accept`, `content-type`, `charset`,
    /// `dstcode`; absent ones are left out).
    pub headers: BTreeMap<String, String>,
    /// The request body (not for authentication calls; at most 4000 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// Calls counted per service and outcome (`GET /admin/calls`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CallStats {
    /// All calls.
    pub total: u64,
    /// Service → outcome → count.
    pub by_service: BTreeMap<String, BTreeMap<String, u64>>,
    /// The last 200 calls, oldest first.
    pub recent: VecDeque<CallRecord>,
}

impl CallStats {
    /// How many calls of `service` ended with `outcome`.
    pub fn count(&self, service: &str, outcome: &str) -> u64 {
        self.by_service
            .get(service)
            .and_then(|m| m.get(outcome))
            .copied()
            .unwrap_or(0)
    }

    pub(crate) fn record(&mut self, record: CallRecord) {
        self.total += 1;
        *self
            .by_service
            .entry(record.service.clone())
            .or_default()
            .entry(record.outcome.clone())
            .or_insert(0) += 1;
        if self.recent.len() == RECENT_CALLS {
            self.recent.pop_front();
        }
        self.recent.push_back(record);
    }
}
