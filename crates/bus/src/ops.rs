//! Operator views and actions: queue depths and rates, parked messages, replay and discard.

use jiff::Timestamp;
use serde::Serialize;
use std::collections::BTreeMap;

/// One route as an operator sees it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QueueInfo {
    /// Route name.
    pub route: String,
    /// Partition queues.
    pub partitions: u16,
    /// Messages ready for delivery.
    pub ready: u64,
    /// Messages delivered and not yet settled (embedded: leased; RabbitMQ: not known without
    /// the management plugin, reported as 0).
    pub unacked: u64,
    /// Messages waiting for a retry delay to pass.
    pub waiting_retry: u64,
    /// Parked messages not yet replayed or discarded.
    pub parked: u64,
    /// Active consumers over all partitions.
    pub consumers: u32,
    /// Messages published per second by this process (over the last sampling interval).
    pub published_per_s: f64,
    /// Messages acknowledged per second by this process (over the last sampling interval).
    pub acked_per_s: f64,
}

/// The state of a parked message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParkedStatus {
    /// Waiting for an operator.
    Parked,
    /// Published back to its route by an operator.
    Replayed,
    /// Discarded by an operator (kept for audit).
    Discarded,
}

impl ParkedStatus {
    /// The name stored and shown: `parked`, `replayed`, `discarded`.
    pub fn name(self) -> &'static str {
        match self {
            ParkedStatus::Parked => "parked",
            ParkedStatus::Replayed => "replayed",
            ParkedStatus::Discarded => "discarded",
        }
    }

    /// Reads a stored name.
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "parked" => Some(ParkedStatus::Parked),
            "replayed" => Some(ParkedStatus::Replayed),
            "discarded" => Some(ParkedStatus::Discarded),
            _ => None,
        }
    }
}

/// A parked message with everything an operator needs to decide.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ParkedMessage {
    /// Message id.
    pub id: String,
    /// Route.
    pub route: String,
    /// Ordering key.
    pub key: String,
    /// The publisher's headers (bus headers removed).
    pub headers: BTreeMap<String, String>,
    /// Body size in bytes.
    pub body_size: u64,
    /// Claim-check blob id when the body is in the blob table.
    pub claim: Option<String>,
    /// Why it was parked.
    pub reason: String,
    /// The partner's code of the last failure, if any.
    pub partner_code: Option<String>,
    /// Attempts made.
    pub attempts: u32,
    /// Error of the first failed attempt.
    pub first_error: Option<String>,
    /// Error of the last failed attempt.
    pub last_error: Option<String>,
    /// When it was parked.
    pub parked_at: Timestamp,
    /// Parked, replayed or discarded.
    pub status: ParkedStatus,
    /// The operator who replayed or discarded it.
    pub resolved_by: Option<String>,
    /// When it was replayed or discarded.
    pub resolved_at: Option<Timestamp>,
    /// The operator's reason for a discard.
    pub resolution_reason: Option<String>,
}

/// Which parked messages to list. Every set field must match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParkedFilter {
    /// Route.
    pub route: Option<String>,
    /// Ordering key (exact).
    pub key: Option<String>,
    /// Message ids (any of).
    pub ids: Vec<String>,
    /// Partner code (exact).
    pub partner_code: Option<String>,
    /// Substring of the reason, case-insensitive: for ASCII letters only on SQLite (its
    /// `LOWER`), for every letter (Vietnamese included) on PostgreSQL.
    pub reason_contains: Option<String>,
    /// Parked at or after.
    pub since: Option<Timestamp>,
    /// Parked before.
    pub until: Option<Timestamp>,
    /// Status; `None` lists all.
    pub status: Option<ParkedStatus>,
    /// Page size (at most 1,000).
    pub limit: u32,
    /// Rows to skip.
    pub offset: u32,
}

impl Default for ParkedFilter {
    /// Everything still parked, first page of 100.
    fn default() -> Self {
        ParkedFilter {
            route: None,
            key: None,
            ids: Vec::new(),
            partner_code: None,
            reason_contains: None,
            since: None,
            until: None,
            status: Some(ParkedStatus::Parked),
            limit: 100,
            offset: 0,
        }
    }
}

/// Which parked messages an operator action applies to (only those still `parked`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    /// One message.
    One {
        /// Route.
        route: String,
        /// Message id.
        id: String,
    },
    /// Every parked message.
    All,
    /// Those matching a filter (its status, limit and offset are ignored).
    Filter(ParkedFilter),
}
