//! What the VDXP simulator stores and shows through its inspection API: sent messages
//! with their per-recipient outcome, deliveries with their state, agencies with their
//! versions, and call statistics. All records serialise to the JSON of the `/admin` GET
//! endpoints; file bytes are shown as base64 (`data_base64`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use jiff::Timestamp;
use serde::{Serialize, Serializer};
use std::collections::{BTreeMap, VecDeque};

/// At most this many calls are kept in [`CallStats::recent`].
pub(crate) const RECENT_CALLS: usize = 200;

fn base64<S: Serializer>(bytes: &Bytes, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&STANDARD.encode(bytes))
}

/// `messagetype` of a message: document or status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageType {
    /// A document message (`edoc`).
    Edoc,
    /// A status message (`status`).
    Status,
}

impl MessageType {
    /// `"edoc"` or `"status"`.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::Edoc => "edoc",
            MessageType::Status => "status",
        }
    }

    /// Reads `edoc` / `status` (case-insensitive, trimmed).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("edoc") {
            Some(MessageType::Edoc)
        } else if s.eq_ignore_ascii_case("status") {
            Some(MessageType::Status)
        } else {
            None
        }
    }
}

/// State of a delivery on the receiving side (§9.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    /// Not yet acknowledged: listed.
    Pending,
    /// `updateStatus` `processing`: still listed.
    Processing,
    /// `updateStatus` `done`: final, no longer listed.
    Done,
    /// `updateStatus` `fail`: final, no longer listed.
    Fail,
}

impl DeliveryState {
    /// The wire word (`pending`, `processing`, `done`, `fail`).
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Processing => "processing",
            DeliveryState::Done => "done",
            DeliveryState::Fail => "fail",
        }
    }

    /// Whether `done` or `fail`.
    pub fn is_final(self) -> bool {
        matches!(self, DeliveryState::Done | DeliveryState::Fail)
    }

    /// The `status_desc` of `getReceivedEdocList` (simulator text).
    pub fn description(self) -> &'static str {
        match self {
            DeliveryState::Pending => "Cho nhan",
            DeliveryState::Processing => "Dang xu ly",
            DeliveryState::Done => "Da nhan",
            DeliveryState::Fail => "Nhan loi",
        }
    }
}

/// One copy of a sent message addressed to one recipient organisation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delivery {
    /// The delivery id (`docId` of `getReceivedEdocList`, `getEdoc`, `updateStatus`).
    #[serde(rename = "docId")]
    pub doc_id: String,
    /// The `DocId` the sender got from `sendEdoc`.
    pub sender_doc_id: String,
    /// `edoc` or `status`.
    pub message_type: MessageType,
    /// Sender organisation (`From/OrganId`).
    pub from: String,
    /// Sending system.
    pub from_system: String,
    /// Recipient organisation.
    pub to: String,
    /// System hosting the recipient (the owner of this delivery).
    pub to_system: String,
    /// When it was created.
    pub created: Timestamp,
    /// Last change of state.
    pub updated: Timestamp,
    /// Current state.
    pub state: DeliveryState,
    /// The last `updateStatus` value (`done`, `fail`, `processing`), `None` until then.
    pub receive_status: Option<String>,
    /// The last `description` given with `updateStatus`.
    pub description: Option<String>,
    /// How many times `getEdoc` / `downloadEdoc` returned it.
    pub fetches: u32,
    /// A second copy made by `duplicate-next-delivery`.
    pub duplicate: bool,
    /// The delivered bytes (with the simulator's `TraceHeader` for documents).
    #[serde(rename = "data_base64", serialize_with = "base64")]
    pub bytes: Bytes,
}

/// `sendStatus` of a recipient (§9.4, sim rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SendStatus {
    /// A delivery exists.
    Delivered,
    /// The recipient is not hosted by any system.
    Failed,
}

impl SendStatus {
    /// `delivered` / `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            SendStatus::Delivered => "delivered",
            SendStatus::Failed => "failed",
        }
    }
}

/// The receiving side of one delivery, as seen from the sender.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecipientDelivery {
    /// The delivery id.
    #[serde(rename = "docId")]
    pub doc_id: String,
    /// Its state now.
    pub state: DeliveryState,
    /// The recipient's last `updateStatus` value.
    pub receive_status: Option<String>,
    /// The recipient's last description.
    pub description: Option<String>,
    /// When the state last changed.
    pub updated: Timestamp,
}

/// One recipient of a sent message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SentRecipient {
    /// Recipient organisation.
    pub to: String,
    /// The system hosting it, if any.
    pub system: Option<String>,
    /// `delivered` or `failed`.
    pub send_status: SendStatus,
    /// Its deliveries (two after `duplicate-next-delivery`, none when failed).
    pub deliveries: Vec<RecipientDelivery>,
}

/// One accepted `sendEdoc` (or admin injection).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SentMessage {
    /// The `DocId` answered to the sender.
    #[serde(rename = "DocId")]
    pub doc_id: String,
    /// The sending system.
    pub system: String,
    /// `edoc` or `status`.
    pub message_type: MessageType,
    /// Sender organisation (`From/OrganId`; empty when the message has none).
    pub from: String,
    /// The `from` parameter, when given.
    pub from_param: Option<String>,
    /// The `to` parameter, when given.
    pub to_param: Option<String>,
    /// edXML `DocumentId` (documents) or `ResponseFor/DocumentId` (statuses).
    pub document_id: Option<String>,
    /// `StatusCode` of a status message.
    pub status_code: Option<String>,
    /// `Subject` of a document, `Description` of a status (the `title` of
    /// `getSentEdocList`).
    pub title: String,
    /// `CodeNumber/CodeNotation` of a document, `ResponseFor/Code` of a status.
    pub notation: String,
    /// When it was accepted.
    pub sent: Timestamp,
    /// Made through `POST /admin/inject`.
    pub injected: bool,
    /// The simulator's `TraceHeader` was inserted into the delivered copy.
    pub trace_inserted: bool,
    /// Recipients in routing order.
    pub recipients: Vec<SentRecipient>,
    /// The file exactly as sent (after removal of the trailing CR LF).
    #[serde(rename = "data_base64", serialize_with = "base64")]
    pub bytes: Bytes,
    /// The file as delivered.
    #[serde(rename = "delivered_base64", serialize_with = "base64")]
    pub delivered: Bytes,
}

/// An agency of the catalogue with its change history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgencyRecord {
    /// `id`.
    pub id: String,
    /// `code`.
    pub code: String,
    /// `name`.
    pub name: String,
    /// `mail`.
    pub mail: String,
    /// `pid`.
    pub pid: String,
    /// `oldCode`.
    pub old_code: String,
    /// `code102` (the code when not configured).
    pub code102: String,
    /// QĐ 20 level.
    pub level: Option<u32>,
    /// `mobile`.
    pub mobile: String,
    /// `fax`.
    pub fax: String,
    /// `isAgency`.
    pub is_agency: bool,
    /// `version`: 1, incremented by every `registerAgency` / `deleteAgency`.
    pub version: u32,
    /// `deleted`.
    pub deleted: bool,
    /// `modifyDate`.
    pub modified: Timestamp,
}

/// One call to an axis operation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallRecord {
    /// When it was answered (or dropped).
    pub time: Timestamp,
    /// `GET` or `POST`.
    pub method: String,
    /// The request path.
    pub path: String,
    /// The operation (`sendEdoc`, …).
    pub operation: String,
    /// `XroadVnpt-systemid` as sent (authenticated or not).
    pub system: Option<String>,
    /// `ok`, `bad_request`, `unauthorized`, `forbidden`, `not_found`, `conflict`,
    /// `unprocessable`, `injected_error`, `http_<status>`, `reset`, `down`,
    /// `rate_limited`, `too_large`, `body_error`.
    pub outcome: String,
    /// The HTTP status answered (0 for a dropped connection).
    pub http_status: u16,
    /// `ErrorCode` of a JSON answer.
    pub error_code: Option<String>,
    /// `ErrorDesc` of a failed JSON answer.
    pub error_desc: Option<String>,
    /// The request's `XroadVnpt-*` parameter headers (not the signature ones).
    pub headers: BTreeMap<String, String>,
}

/// Calls counted per operation and outcome (`GET /admin/calls`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CallStats {
    /// All calls.
    pub total: u64,
    /// Operation → outcome → count.
    pub by_operation: BTreeMap<String, BTreeMap<String, u64>>,
    /// The last 200 calls, oldest first.
    pub recent: VecDeque<CallRecord>,
}

impl CallStats {
    /// How many calls of `operation` ended with `outcome`.
    pub fn count(&self, operation: &str, outcome: &str) -> u64 {
        self.by_operation
            .get(operation)
            .and_then(|m| m.get(outcome))
            .copied()
            .unwrap_or(0)
    }

    pub(crate) fn record(&mut self, record: CallRecord) {
        self.total += 1;
        *self
            .by_operation
            .entry(record.operation.clone())
            .or_default()
            .entry(record.outcome.clone())
            .or_insert(0) += 1;
        if self.recent.len() == RECENT_CALLS {
            self.recent.pop_front();
        }
        self.recent.push_back(record);
    }
}
