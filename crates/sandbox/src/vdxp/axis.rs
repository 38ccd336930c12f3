//! The axis's behaviour (`vdxp.md` §9.1–§9.5), without I/O: the simulator's state and the
//! processing of one authenticated call of an operation. The HTTP layer (`http.rs`)
//! applies faults around it.

use super::config::{AgencyEntry, SystemEntry, VdxpConfig};
use super::multipart;
use super::records::{
    AgencyRecord, CallStats, Delivery, DeliveryState, MessageType, RecipientDelivery, SendStatus,
    SentMessage, SentRecipient,
};
use super::sign::{self, Signed, format_local};
use super::trace::insert_trace_header;
use crate::fault::FaultEngine;
use crate::rng::Rng;
use axum::http::HeaderMap;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use jiff::Timestamp;
use lienthong_edxml::{Message, read};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::fmt;

/// `ErrorDesc` of a success (as seen on the real axis).
pub(crate) const OK_DESC: &str = "Thanh cong";

/// `ErrorDesc` of an injected failure.
pub(crate) const INJECTED_DESC: &str = "Loi he thong (gia lap)";

/// `ErrorCode` of an injected failure.
pub(crate) const INJECTED_CODE: &str = "500";

/// The operations of §3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    SendEdoc,
    GetReceivedEdocList,
    GetSentEdocList,
    GetEdoc,
    DownloadEdoc,
    UpdateStatus,
    CountReceiveEdoc,
    CountReceiveStatus,
    GetAgenciesList,
    GetAgenciesListQd20,
    RegisterAgency,
    DeleteAgency,
    GetSynchronizeUnit,
}

impl Operation {
    /// Every operation.
    pub(crate) const ALL: [Operation; 13] = [
        Operation::SendEdoc,
        Operation::GetReceivedEdocList,
        Operation::GetSentEdocList,
        Operation::GetEdoc,
        Operation::DownloadEdoc,
        Operation::UpdateStatus,
        Operation::CountReceiveEdoc,
        Operation::CountReceiveStatus,
        Operation::GetAgenciesList,
        Operation::GetAgenciesListQd20,
        Operation::RegisterAgency,
        Operation::DeleteAgency,
        Operation::GetSynchronizeUnit,
    ];

    /// The path segment and service name of fault rules.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Operation::SendEdoc => "sendEdoc",
            Operation::GetReceivedEdocList => "getReceivedEdocList",
            Operation::GetSentEdocList => "getSentEdocList",
            Operation::GetEdoc => "getEdoc",
            Operation::DownloadEdoc => "downloadEdoc",
            Operation::UpdateStatus => "updateStatus",
            Operation::CountReceiveEdoc => "countReceiveEdoc",
            Operation::CountReceiveStatus => "countReceiveStatus",
            Operation::GetAgenciesList => "getAgenciesList",
            Operation::GetAgenciesListQd20 => "getAgenciesListQD20",
            Operation::RegisterAgency => "registerAgency",
            Operation::DeleteAgency => "deleteAgency",
            Operation::GetSynchronizeUnit => "getSynchronizeUnit",
        }
    }

    /// Whether GET is served besides POST.
    pub(crate) fn allows_get(self) -> bool {
        matches!(
            self,
            Operation::DownloadEdoc | Operation::CountReceiveEdoc | Operation::CountReceiveStatus
        )
    }

    /// The §9.2 step 4 parameters the operation uses: sent as a header, each must be
    /// signed.
    fn guarded(self) -> &'static [&'static str] {
        match self {
            Operation::SendEdoc => &["servicetype", "messagetype", "from", "to", "hash-file"],
            Operation::GetReceivedEdocList
            | Operation::CountReceiveEdoc
            | Operation::CountReceiveStatus => &["servicetype", "messagetype"],
            Operation::GetSentEdocList => &["servicetype", "messagetype", "docId"],
            Operation::GetEdoc | Operation::DownloadEdoc => &["docId"],
            Operation::UpdateStatus => &["docId", "status"],
            Operation::GetAgenciesListQd20 => &["level"],
            Operation::DeleteAgency => &["AgencyCode"],
            Operation::GetAgenciesList
            | Operation::RegisterAgency
            | Operation::GetSynchronizeUnit => &[],
        }
    }
}

/// A refused call: the `ErrorCode` and `ErrorDesc` of the `FAIL` answer (§9.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AxisError {
    /// `ErrorCode`: `400`, `401`, `403`, `404`, `409` or `422`.
    pub code: &'static str,
    /// `ErrorDesc`.
    pub message: String,
}

impl fmt::Display for AxisError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, self.message)
    }
}

impl std::error::Error for AxisError {}

impl AxisError {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        AxisError {
            code,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(m: impl Into<String>) -> Self {
        Self::new("400", m)
    }

    pub(crate) fn unauthorized(m: impl Into<String>) -> Self {
        Self::new("401", m)
    }

    pub(crate) fn forbidden(m: impl Into<String>) -> Self {
        Self::new("403", m)
    }

    pub(crate) fn not_found(m: impl Into<String>) -> Self {
        Self::new("404", m)
    }

    pub(crate) fn conflict(m: impl Into<String>) -> Self {
        Self::new("409", m)
    }

    pub(crate) fn unprocessable(m: impl Into<String>) -> Self {
        Self::new("422", m)
    }

    /// The outcome label of the call statistics.
    pub fn outcome(&self) -> &'static str {
        match self.code {
            "400" => "bad_request",
            "401" => "unauthorized",
            "403" => "forbidden",
            "404" => "not_found",
            "409" => "conflict",
            "422" => "unprocessable",
            _ => "error",
        }
    }

    /// The `FAIL` envelope.
    pub(crate) fn envelope(&self) -> Value {
        fail_envelope(self.code, &self.message)
    }
}

/// `{"status":"FAIL","ErrorCode":…,"ErrorDesc":…}`.
pub(crate) fn fail_envelope(code: &str, desc: &str) -> Value {
    json!({"status": "FAIL", "ErrorCode": code, "ErrorDesc": desc})
}

/// `{"status":"OK","ErrorCode":"0","ErrorDesc":"Thanh cong"}` plus `extra`'s members.
fn ok_envelope(extra: Value) -> Value {
    let mut m = Map::new();
    m.insert("status".into(), "OK".into());
    m.insert("ErrorCode".into(), "0".into());
    m.insert("ErrorDesc".into(), OK_DESC.into());
    if let Value::Object(e) = extra {
        m.extend(e);
    }
    Value::Object(m)
}

/// What an operation answers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Payload {
    /// A JSON envelope.
    Json(Value),
    /// Raw file bytes (`downloadEdoc`).
    Raw(Bytes),
}

/// A processed call.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Processed {
    pub(crate) payload: Payload,
    pub(crate) outcome: &'static str,
    pub(crate) error: Option<AxisError>,
}

/// The simulator's state.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) config: VdxpConfig,
    pub(crate) systems: Vec<SystemEntry>,
    pub(crate) agencies: Vec<AgencyRecord>,
    pub(crate) faults: FaultEngine,
    pub(crate) sent: Vec<SentMessage>,
    pub(crate) deliveries: Vec<Delivery>,
    delivery_index: HashMap<String, usize>,
    sent_index: HashMap<String, usize>,
    pub(crate) calls: CallStats,
    pub(crate) duplicate_next: u32,
    rng: Rng,
}

fn agency_record(i: usize, a: AgencyEntry, now: Timestamp) -> AgencyRecord {
    AgencyRecord {
        id: if a.id.is_empty() {
            (i + 1).to_string()
        } else {
            a.id
        },
        code102: if a.code102.is_empty() {
            a.code.clone()
        } else {
            a.code102
        },
        code: a.code,
        name: a.name,
        mail: a.mail,
        pid: a.pid,
        old_code: a.old_code,
        level: a.level,
        mobile: a.mobile,
        fax: a.fax,
        is_agency: a.is_agency,
        version: 1,
        deleted: false,
        modified: now,
    }
}

/// Recipients of a `to` parameter: a JSON array, a JSON string, or comma-separated text.
fn parse_to(raw: &str) -> Result<Vec<String>, AxisError> {
    let t = raw.trim();
    let values: Vec<String> = if t.starts_with('[') {
        serde_json::from_str::<Vec<String>>(t).map_err(|e| {
            AxisError::bad_request(format!("to is not a JSON array of strings: {e}"))
        })?
    } else if t.starts_with('"') {
        let s: String = serde_json::from_str(t)
            .map_err(|e| AxisError::bad_request(format!("to is not a JSON string: {e}")))?;
        s.split(',').map(str::to_owned).collect()
    } else {
        t.split(',').map(str::to_owned).collect()
    };
    Ok(values
        .into_iter()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect())
}

/// Required signed parameter.
fn required<'a>(signed: &'a Signed, name: &str) -> Result<&'a str, AxisError> {
    signed
        .param(name)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| AxisError::bad_request(format!("missing parameter {name}")))
}

/// `servicetype`, when given, must be `eDoc`.
fn check_servicetype(signed: &Signed, required_here: bool) -> Result<(), AxisError> {
    match signed.param("servicetype").map(str::trim) {
        Some(v) if v.eq_ignore_ascii_case("eDoc") => Ok(()),
        Some(v) => Err(AxisError::bad_request(format!(
            "servicetype must be eDoc, got {v:?}"
        ))),
        None if required_here => Err(AxisError::bad_request("missing parameter servicetype")),
        None => Ok(()),
    }
}

fn message_type(signed: &Signed, required_here: bool) -> Result<Option<MessageType>, AxisError> {
    match signed.param("messagetype") {
        Some(v) => MessageType::parse(v).map(Some).ok_or_else(|| {
            AxisError::bad_request(format!("messagetype must be edoc or status, got {v:?}"))
        }),
        None if required_here => Err(AxisError::bad_request("missing parameter messagetype")),
        None => Ok(None),
    }
}

/// A positive integer parameter.
fn positive(signed: &Signed, name: &str) -> Result<Option<usize>, AxisError> {
    signed
        .param(name)
        .map(|v| {
            v.trim()
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| AxisError::bad_request(format!("{name} must be a positive integer")))
        })
        .transpose()
}

/// What the simulator reads from a sent message.
struct Facts {
    kind: MessageType,
    from: Option<String>,
    to: Vec<String>,
    document_id: Option<String>,
    response_for_organ: Option<String>,
    status_code: Option<String>,
    title: String,
    notation: String,
}

fn facts(file: &Bytes) -> Result<Facts, AxisError> {
    let parsed = read(file.clone())
        .map_err(|e| AxisError::unprocessable(format!("not an edXML message: {e}")))?;
    let organ = |o: &Option<lienthong_model::Organisation>| {
        o.as_ref()
            .and_then(|o| o.organ_id.as_ref())
            .map(|id| id.as_str().to_owned())
    };
    Ok(match parsed.message {
        Message::Edoc(m) => {
            let d = m.document;
            Facts {
                kind: MessageType::Edoc,
                from: organ(&d.from),
                to: d
                    .to
                    .iter()
                    .filter_map(|o| o.organ_id.as_ref().map(|id| id.as_str().to_owned()))
                    .collect(),
                document_id: d.document_id.map(|i| i.as_str().to_owned()),
                response_for_organ: None,
                status_code: None,
                title: d.subject.unwrap_or_default(),
                notation: d.code.and_then(|c| c.joined()).unwrap_or_default(),
            }
        }
        Message::Status(s) => {
            let st = s.status;
            let rf = st.response_for.unwrap_or_default();
            Facts {
                kind: MessageType::Status,
                from: organ(&st.from),
                to: Vec::new(),
                document_id: rf.document_id.map(|i| i.as_str().to_owned()),
                response_for_organ: rf.organ_id.map(|o| o.as_str().to_owned()),
                status_code: st.status_code.map(|c| c.as_str().to_owned()),
                title: st.description.unwrap_or_default(),
                notation: rf.code.unwrap_or_default(),
            }
        }
    })
}

/// The file of a `sendEdoc` body: the part `file_doc` of a multipart body, else the raw
/// body without one trailing CR LF (or LF).
fn file_of(headers: &HeaderMap, body: &Bytes) -> Result<Bytes, AxisError> {
    let content_type = sign::header(headers, "content-type").unwrap_or_default();
    let file = match multipart::boundary(content_type) {
        Some(b) => multipart::part(body, &b, "file_doc").ok_or_else(|| {
            AxisError::bad_request("multipart body without a well-formed part file_doc")
        })?,
        None if body.ends_with(b"\r\n") => body.slice(..body.len() - 2),
        None if body.ends_with(b"\n") => body.slice(..body.len() - 1),
        None => body.clone(),
    };
    if file.is_empty() {
        return Err(AxisError::bad_request("empty file"));
    }
    Ok(file)
}

impl State {
    pub(crate) fn new(config: VdxpConfig, faults: FaultEngine) -> Self {
        let now = Timestamp::now();
        State {
            systems: config.systems.clone(),
            agencies: config
                .agencies
                .iter()
                .cloned()
                .enumerate()
                .map(|(i, a)| agency_record(i, a, now))
                .collect(),
            config,
            faults,
            sent: Vec::new(),
            deliveries: Vec::new(),
            delivery_index: HashMap::new(),
            sent_index: HashMap::new(),
            calls: CallStats::default(),
            duplicate_next: 0,
            rng: Rng::from_entropy(),
        }
    }

    /// A lowercase UUID (version 4 layout).
    fn uuid(&mut self) -> String {
        let a = (self.rng.next_u64() & 0xffff_ffff_ffff_0fff) | 0x4000;
        let b = (self.rng.next_u64() & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xffff,
            b >> 48,
            b & 0xffff_ffff_ffff
        )
    }

    pub(crate) fn system(&self, systemid: &str) -> Option<&SystemEntry> {
        self.systems.iter().find(|s| s.systemid == systemid)
    }

    /// The system hosting `organ`.
    fn host_of(&self, organ: &str) -> Option<&SystemEntry> {
        self.systems.iter().find(|s| s.hosts(organ))
    }

    pub(crate) fn delivery(&self, doc_id: &str) -> Option<&Delivery> {
        self.delivery_index
            .get(doc_id.trim())
            .map(|&i| &self.deliveries[i])
    }

    /// A sent message with the current state of its deliveries.
    pub(crate) fn sent_view(&self, m: &SentMessage) -> SentMessage {
        let mut m = m.clone();
        for r in &mut m.recipients {
            for d in &mut r.deliveries {
                if let Some(live) = self.delivery(&d.doc_id) {
                    d.state = live.state;
                    d.receive_status = live.receive_status.clone();
                    d.description = live.description.clone();
                    d.updated = live.updated;
                }
            }
        }
        m
    }

    pub(crate) fn sent_message(&self, doc_id: &str) -> Option<SentMessage> {
        self.sent_index
            .get(doc_id.trim())
            .map(|&i| self.sent_view(&self.sent[i]))
    }

    /// Processes one call of `op`.
    pub(crate) fn process(
        &mut self,
        op: Operation,
        headers: &HeaderMap,
        body: &Bytes,
        now: Timestamp,
    ) -> Processed {
        match self.run(op, headers, body, now) {
            Ok(payload) => Processed {
                payload,
                outcome: "ok",
                error: None,
            },
            Err(e) => Processed {
                payload: Payload::Json(e.envelope()),
                outcome: e.outcome(),
                error: Some(e),
            },
        }
    }

    fn run(
        &mut self,
        op: Operation,
        headers: &HeaderMap,
        body: &Bytes,
        now: Timestamp,
    ) -> Result<Payload, AxisError> {
        let signed = sign::verify(
            headers,
            |s| self.system(s).map(|x| x.secret.clone()),
            op.guarded(),
            self.config.max_timestamp_skew_secs,
            now,
        )
        .map_err(AxisError::unauthorized)?;
        let caller = signed.systemid.clone();
        let json = |v: Value| Ok(Payload::Json(ok_envelope(v)));
        match op {
            Operation::SendEdoc => {
                check_servicetype(&signed, true)?;
                let kind = message_type(&signed, true)?.unwrap_or(MessageType::Edoc);
                let claimed = required(&signed, "hash-file")?;
                let file = file_of(headers, body)?;
                if !sign::hash_file_matches(claimed, &file) {
                    return Err(AxisError::bad_request(format!(
                        "hash-file {claimed} does not match the file (expected {})",
                        sign::hash_file(&file)
                    )));
                }
                let from = signed
                    .param("from")
                    .map(str::trim)
                    .filter(|f| !f.is_empty());
                let to = signed.param("to");
                let sent = self.send(&caller, kind, file, from, to, false, now)?;
                json(json!({"DocId": sent.doc_id}))
            }
            Operation::GetReceivedEdocList => {
                check_servicetype(&signed, true)?;
                let kind = message_type(&signed, true)?.unwrap_or(MessageType::Edoc);
                let size = positive(&signed, "pageSize")?;
                let index = positive(&signed, "pageIndex")?.unwrap_or(1);
                let listed = self.listed(&caller, kind);
                let page: Vec<Value> = match size {
                    Some(size) => listed
                        .into_iter()
                        .skip(size.saturating_mul(index - 1))
                        .take(size)
                        .collect(),
                    None => listed,
                }
                .into_iter()
                .map(|d| {
                    json!({
                        "docId": d.doc_id,
                        "serviceType": "eDoc",
                        "messageType": d.message_type.as_str(),
                        "created_time": format_local(d.created),
                        "updated_time": format_local(d.updated),
                        "from": d.from,
                        "to": d.to,
                        "status": d.state.as_str(),
                        "status_desc": d.state.description(),
                    })
                })
                .collect();
                json(json!({"data": page}))
            }
            Operation::CountReceiveEdoc | Operation::CountReceiveStatus => {
                check_servicetype(&signed, false)?;
                message_type(&signed, false)?;
                let kind = if op == Operation::CountReceiveEdoc {
                    MessageType::Edoc
                } else {
                    MessageType::Status
                };
                json(json!({"count": self.listed(&caller, kind).len()}))
            }
            Operation::GetSentEdocList => {
                check_servicetype(&signed, false)?;
                let kind = message_type(&signed, false)?;
                // (sim rule) Without `docId`: every send of the caller (of the given
                // `messagetype`, if any), newest first — how a client that lost a `DocId`
                // can find out whether a send reached the axis.
                let Some(doc_id) = signed.param("docId").filter(|d| !d.trim().is_empty()) else {
                    let mut items = Vec::new();
                    for m in self.sent.iter().rev() {
                        if m.system == caller && kind.is_none_or(|k| m.message_type == k) {
                            items.extend(self.sent_items(&self.sent_view(m)));
                        }
                    }
                    return json(json!({ "data": items }));
                };
                let m = self
                    .sent_message(doc_id)
                    .filter(|m| m.system == caller)
                    .ok_or_else(|| AxisError::not_found(format!("no sent message {doc_id}")))?;
                json(json!({"data": self.sent_items(&m)}))
            }
            Operation::GetEdoc | Operation::DownloadEdoc => {
                let doc_id = required(&signed, "docId")?;
                let d = self.owned(&caller, doc_id)?;
                d.fetches += 1;
                let bytes = d.bytes.clone();
                if op == Operation::GetEdoc {
                    json(json!({"data": STANDARD.encode(&bytes)}))
                } else {
                    Ok(Payload::Raw(bytes))
                }
            }
            Operation::UpdateStatus => {
                let doc_id = required(&signed, "docId")?.to_owned();
                let word = required(&signed, "status")?.to_ascii_lowercase();
                let state = match word.as_str() {
                    "done" => DeliveryState::Done,
                    "fail" => DeliveryState::Fail,
                    "processing" => DeliveryState::Processing,
                    _ => {
                        return Err(AxisError::bad_request(format!(
                            "status must be done, fail or processing, got {word:?}"
                        )));
                    }
                };
                let description = signed.param("description").map(str::to_owned);
                let d = self.owned(&caller, &doc_id)?;
                if d.state.is_final() && d.state != state {
                    return Err(AxisError::conflict(format!(
                        "delivery {doc_id} is already {}",
                        d.state.as_str()
                    )));
                }
                if d.state != state {
                    d.updated = now;
                }
                d.state = state;
                d.receive_status = Some(word);
                if description.is_some() {
                    d.description = description;
                }
                json(json!({}))
            }
            Operation::GetAgenciesList => json(json!({"data": self
                .agencies
                .iter()
                .filter(|a| !a.deleted)
                .map(|a| json!({"id": a.id, "code": a.code, "name": a.name, "mail": a.mail,
                                "pid": a.pid, "oldCode": a.old_code}))
                .collect::<Vec<_>>()})),
            Operation::GetAgenciesListQd20 => {
                let level = signed
                    .param("level")
                    .map(|l| {
                        l.trim()
                            .parse::<u32>()
                            .map_err(|_| AxisError::bad_request("level must be an integer"))
                    })
                    .transpose()?;
                json(json!({"data": self
                    .agencies
                    .iter()
                    .filter(|a| !a.deleted && (level.is_none() || a.level == level))
                    .map(|a| json!({"id": a.id, "code": a.code, "name": a.name, "mail": a.mail,
                                    "code102": a.code102}))
                    .collect::<Vec<_>>()}))
            }
            Operation::GetSynchronizeUnit => {
                let data: Vec<Value> = self
                    .agencies
                    .iter()
                    .map(|a| {
                        let center = self
                            .host_of(&a.code)
                            .map(|s| s.systemid.clone())
                            .unwrap_or_default();
                        json!({"id": a.id, "code": a.code, "name": a.name, "mail": a.mail,
                               "pid": a.pid, "version": a.version, "centerCode": center,
                               "deleted": a.deleted, "modifyDate": format_local(a.modified),
                               "isAgency": a.is_agency})
                    })
                    .collect();
                json(json!({"data": data}))
            }
            Operation::RegisterAgency => {
                self.register_agency(&caller, body, now)?;
                json(json!({}))
            }
            Operation::DeleteAgency => {
                let code = required(&signed, "AgencyCode")?.to_owned();
                self.delete_agency(&caller, &code, now)?;
                json(json!({}))
            }
        }
    }

    /// Deliveries of `kind` addressed to `system` and not final, oldest first.
    pub(crate) fn listed(&self, system: &str, kind: MessageType) -> Vec<&Delivery> {
        self.deliveries
            .iter()
            .filter(|d| d.to_system == system && d.message_type == kind && !d.state.is_final())
            .collect()
    }

    /// The delivery `doc_id` if `system` owns it.
    fn owned(&mut self, system: &str, doc_id: &str) -> Result<&mut Delivery, AxisError> {
        match self.delivery_index.get(doc_id.trim()) {
            Some(&i) if self.deliveries[i].to_system == system => Ok(&mut self.deliveries[i]),
            _ => Err(AxisError::not_found(format!("no delivery {doc_id}"))),
        }
    }

    /// The `getSentEdocList` items of `m`: one per delivery, one per failed recipient.
    fn sent_items(&self, m: &SentMessage) -> Vec<Value> {
        let mut items = Vec::new();
        for r in &m.recipients {
            let base = |receiver: &str, d: Option<&RecipientDelivery>| {
                json!({
                    "serviceType": "eDoc",
                    "messageType": m.message_type.as_str(),
                    "senderDocId": m.doc_id,
                    "receiverDocId": receiver,
                    "fromCode": m.from,
                    "toCode": r.to,
                    "title": m.title,
                    "notation": m.notation,
                    "sentTime": format_local(m.sent),
                    "receivedTime": d
                        .filter(|d| d.receive_status.is_some())
                        .map(|d| format_local(d.updated))
                        .unwrap_or_default(),
                    "sendStatus": r.send_status.as_str(),
                    "sendStatusDesc": match r.send_status {
                        SendStatus::Delivered => "Da chuyen".to_owned(),
                        SendStatus::Failed => format!("Khong tim thay don vi nhan {}", r.to),
                    },
                    "receiveStatus": d.and_then(|d| d.receive_status.clone()).unwrap_or_default(),
                    "receiveStatusDesc": d.and_then(|d| d.description.clone()).unwrap_or_default(),
                })
            };
            if r.deliveries.is_empty() {
                items.push(base("", None));
            }
            for d in &r.deliveries {
                items.push(base(&d.doc_id, Some(d)));
            }
        }
        items
    }

    /// Accepts a message sent by `system` (§9.3 steps 3–6): checks, routes, delivers and
    /// records it; returns the record.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn send(
        &mut self,
        system: &str,
        kind: MessageType,
        file: Bytes,
        from_param: Option<&str>,
        to_param: Option<&str>,
        injected: bool,
        now: Timestamp,
    ) -> Result<SentMessage, AxisError> {
        let sender = self
            .system(system)
            .cloned()
            .ok_or_else(|| AxisError::not_found(format!("unknown system {system}")))?;
        let f = facts(&file)?;
        if f.kind != kind {
            return Err(AxisError::unprocessable(format!(
                "messagetype is {} but the file is a {} message",
                kind.as_str(),
                f.kind.as_str()
            )));
        }
        if self.config.check_sender_hosted {
            match f.from.as_deref() {
                None => {
                    return Err(AxisError::forbidden(
                        "the message has no From/OrganId to check against the system",
                    ));
                }
                Some(o) if !sender.hosts(o) => {
                    return Err(AxisError::forbidden(format!(
                        "{o} is not hosted by system {system}"
                    )));
                }
                Some(_) => {}
            }
            if let Some(o) = from_param.filter(|o| !sender.hosts(o)) {
                return Err(AxisError::forbidden(format!(
                    "from {o} is not hosted by system {system}"
                )));
            }
        }
        let from = f.from.clone().unwrap_or_default();
        let mut targets = match to_param {
            Some(t) => parse_to(t)?,
            None => match kind {
                MessageType::Edoc => f.to.clone(),
                MessageType::Status => self.status_targets(&f, &from),
            },
        };
        let mut seen = std::collections::HashSet::new();
        targets.retain(|t| seen.insert(t.clone()));
        if !targets.iter().any(|t| self.host_of(t).is_some()) {
            return Err(AxisError::unprocessable(if targets.is_empty() {
                "no recipient".to_owned()
            } else {
                format!("no deliverable recipient among {}", targets.join(", "))
            }));
        }
        let (delivered, trace_inserted) = match kind {
            MessageType::Edoc if self.config.add_trace_header => {
                match insert_trace_header(&file, &self.config.organ_id, &format_local(now)) {
                    Some(v) => (Bytes::from(v), true),
                    None => (file.clone(), false),
                }
            }
            _ => (file.clone(), false),
        };
        let copies = if self.duplicate_next > 0 {
            self.duplicate_next -= 1;
            2
        } else {
            1
        };
        let doc_id = self.uuid();
        let mut recipients = Vec::new();
        for to in targets {
            let Some(host) = self.host_of(&to).map(|s| s.systemid.clone()) else {
                recipients.push(SentRecipient {
                    to,
                    system: None,
                    send_status: SendStatus::Failed,
                    deliveries: Vec::new(),
                });
                continue;
            };
            let mut ids = Vec::new();
            for copy in 0..copies {
                let id = self.uuid();
                self.delivery_index
                    .insert(id.clone(), self.deliveries.len());
                self.deliveries.push(Delivery {
                    doc_id: id.clone(),
                    sender_doc_id: doc_id.clone(),
                    message_type: kind,
                    from: from.clone(),
                    from_system: system.to_owned(),
                    to: to.clone(),
                    to_system: host.clone(),
                    created: now,
                    updated: now,
                    state: DeliveryState::Pending,
                    receive_status: None,
                    description: None,
                    fetches: 0,
                    duplicate: copy > 0,
                    bytes: delivered.clone(),
                });
                ids.push(RecipientDelivery {
                    doc_id: id,
                    state: DeliveryState::Pending,
                    receive_status: None,
                    description: None,
                    updated: now,
                });
            }
            recipients.push(SentRecipient {
                to,
                system: Some(host),
                send_status: SendStatus::Delivered,
                deliveries: ids,
            });
        }
        let record = SentMessage {
            doc_id: doc_id.clone(),
            system: system.to_owned(),
            message_type: kind,
            from,
            from_param: from_param.map(str::to_owned),
            to_param: to_param.map(str::to_owned),
            document_id: f.document_id,
            status_code: f.status_code,
            title: f.title,
            notation: f.notation,
            sent: now,
            injected,
            trace_inserted,
            recipients,
            bytes: file,
            delivered,
        };
        self.sent_index.insert(doc_id, self.sent.len());
        self.sent.push(record.clone());
        Ok(record)
    }

    /// §9.3 step 4 for a status: the original document first, `ResponseFor/OrganId` only
    /// when no document with that `DocumentId` was sent.
    fn status_targets(&self, f: &Facts, from: &str) -> Vec<String> {
        let original = f.document_id.as_deref().and_then(|id| {
            self.sent.iter().rev().find(|m| {
                m.message_type == MessageType::Edoc && m.document_id.as_deref() == Some(id)
            })
        });
        match original {
            Some(doc) if doc.from == from => doc.recipients.iter().map(|r| r.to.clone()).collect(),
            Some(doc) => vec![doc.from.clone()],
            None => f
                .response_for_organ
                .iter()
                .filter(|o| self.host_of(o).is_some())
                .cloned()
                .collect(),
        }
    }

    fn register_agency(
        &mut self,
        caller: &str,
        body: &Bytes,
        now: Timestamp,
    ) -> Result<(), AxisError> {
        let v: Map<String, Value> = serde_json::from_slice(body)
            .map_err(|e| AxisError::bad_request(format!("body is not a JSON object: {e}")))?;
        let text = |k: &str| -> Option<String> {
            match v.get(k)? {
                Value::String(s) => Some(s.trim().to_owned()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            }
        };
        let code = text("code")
            .filter(|c| !c.is_empty())
            .ok_or_else(|| AxisError::bad_request("registerAgency: missing code"))?;
        if let Some(other) = self.host_of(&code).filter(|s| s.systemid != caller) {
            return Err(AxisError::forbidden(format!(
                "{code} is hosted by system {}",
                other.systemid
            )));
        }
        let next_id = self.agencies.len() + 1;
        let record = match self.agencies.iter_mut().find(|a| a.code == code) {
            Some(a) => {
                a.version += 1;
                a.deleted = false;
                a.modified = now;
                a
            }
            None => {
                self.agencies.push(agency_record(
                    next_id - 1,
                    AgencyEntry {
                        id: String::new(),
                        code: code.clone(),
                        name: String::new(),
                        mail: String::new(),
                        pid: String::new(),
                        old_code: String::new(),
                        code102: String::new(),
                        level: None,
                        mobile: String::new(),
                        fax: String::new(),
                        is_agency: true,
                    },
                    now,
                ));
                let last = self.agencies.len() - 1;
                &mut self.agencies[last]
            }
        };
        for (key, field) in [
            ("id", &mut record.id),
            ("name", &mut record.name),
            ("mail", &mut record.mail),
            ("pcode", &mut record.pid),
            ("mobile", &mut record.mobile),
            ("fax", &mut record.fax),
        ] {
            if let Some(value) = text(key) {
                *field = value;
            }
        }
        if let Some(s) = self.systems.iter_mut().find(|s| s.systemid == caller)
            && !s.hosts(&code)
        {
            s.organ_ids.push(code);
        }
        Ok(())
    }

    fn delete_agency(&mut self, caller: &str, code: &str, now: Timestamp) -> Result<(), AxisError> {
        if let Some(other) = self.host_of(code).filter(|s| s.systemid != caller) {
            return Err(AxisError::forbidden(format!(
                "{code} is hosted by system {}",
                other.systemid
            )));
        }
        let a = self
            .agencies
            .iter_mut()
            .find(|a| a.code == code && !a.deleted)
            .ok_or_else(|| AxisError::not_found(format!("no agency {code}")))?;
        a.deleted = true;
        a.version += 1;
        a.modified = now;
        if let Some(s) = self.systems.iter_mut().find(|s| s.systemid == caller) {
            s.organ_ids.retain(|o| o != code);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_forms() {
        let v = |s: &str| parse_to(s).expect("valid");
        assert_eq!(v(r#"["A","B"]"#), ["A", "B"]);
        assert_eq!(v(r#""A""#), ["A"]);
        assert_eq!(v("A, B,,A"), ["A", "B", "A"]);
        assert!(parse_to("[1]").is_err());
    }

    #[test]
    fn uuids_are_lowercase_v4() {
        let mut st = State::new(VdxpConfig::default(), FaultEngine::default());
        let a = st.uuid();
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(
            a.chars()
                .all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, st.uuid());
    }
}
