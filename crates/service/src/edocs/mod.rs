//! Documents over the national document exchange axis (VDXP): the routes, the receiving
//! loop and the API that let a province's document systems exchange official documents
//! and their statuses with other agencies, and that turn the statuses of a document linked
//! to a dossier into that dossier's progress on the national portal.
//!
//! * [`api`]: `POST /v1/edocs` (a document from JSON fields and attachments, or a ready
//!   edXML), `GET /v1/edocs/{id}` (its state and statuses), the statuses the local system
//!   reports (`POST /v1/edocs/{id}/status`: 01–06, 15, 16 for documents it received, 13 to
//!   take back one it sent), the pull API of what arrived (`GET /v1/edocs/inbox`,
//!   `POST /v1/edocs/inbox/{id}/ack`). Every new message is composed by the edXML crate
//!   (`edxml.md` §12) and written to the journal with its work item in one transaction.
//! * [`send`]: the `document.outbound` route — `sendEdoc` with a durable intent recorded
//!   first, so that after a crash or a lost answer the axis is asked (`getSentEdocList`)
//!   before anything is sent again: an official document is never delivered twice.
//! * [`receive`]: the receiving loops of `vdxp.md` §8 — one active poller across all nodes
//!   (a lease in the journal); `getReceivedEdocList` → `getEdoc` → journal → `updateStatus`;
//!   status 01 on arrival; statuses correlated with the documents sent; axis statuses about
//!   a document linked to a dossier recorded as that dossier's progress steps
//!   ([`progress`]); the agency directory synced on a schedule.
//! * [`deliver`]: the `document.inbound` route — what arrived, pushed to the local document
//!   systems' webhooks (signed like portal submissions), retried with back-off.

pub mod api;
pub mod deliver;
pub mod multipart;
pub mod progress;
pub mod receive;
pub mod send;

use crate::config::{OwnOrganisation, Vdxp};
use crate::portal::WebhookTarget;
use jiff::Timestamp;
use lienthong_journal::edocs::EdocRecord;
use lienthong_model::{OrganId, Organisation};
use serde_json::{Value, json};

/// The route that sends documents and statuses to the axis.
pub const SEND_ROUTE: &str = lienthong_journal::edocs::KIND_EDOC_SEND;
/// The route that pushes what arrived to the local document systems.
pub const DELIVER_ROUTE: &str = lienthong_journal::edocs::KIND_EDOC_DELIVER;
/// The `partner` of log events and metrics.
pub const PARTNER: &str = "vdxp";
/// The message-log kind of an edXML document message.
pub const BODY_EDOC: &str = "edxml.edoc";
/// The message-log kind of an edXML status message.
pub const BODY_STATUS: &str = "edxml.status";
/// The journal lease held by the one active poller.
pub const POLLER_LEASE: &str = "vdxp.poller";

/// An own organisation as the `From` block of composed messages.
pub fn organisation(o: &OwnOrganisation) -> Organisation {
    let s = |v: &str| Some(v.trim().to_owned()).filter(|v| !v.is_empty());
    Organisation {
        organ_id: OrganId::parse_lenient(&o.organ_id),
        organization_in_charge: s(&o.organization_in_charge),
        organ_name: s(&o.organ_name),
        organ_add: s(&o.organ_add),
        email: s(&o.email),
        telephone: s(&o.telephone),
        fax: s(&o.fax),
        website: s(&o.website),
    }
}

/// What the document side needs from the configuration, resolved.
#[derive(Debug, Clone)]
pub struct EdocSettings {
    /// Own organisations (the first is the default sender).
    pub organisations: Vec<Organisation>,
    /// Send status 01 for every document received.
    pub arrival_status: bool,
    /// Pause between two passes of the receiving loops.
    pub poll_interval: std::time::Duration,
    /// Pause between two syncs of the agency directory (`None`: never).
    pub agencies_sync: Option<std::time::Duration>,
    /// Merged units: old code → new code.
    pub aliases: Vec<(String, String)>,
    /// Axis status → dossier progress.
    pub progress: progress::ProgressMap,
    /// Webhooks of the local document systems.
    pub webhooks: Vec<WebhookTarget>,
    /// This node's name (lease owner).
    pub node: String,
}

impl EdocSettings {
    /// The settings of a `[vdxp]` section (checked by `Config::check`).
    pub fn from_config(v: &Vdxp, webhooks: Vec<WebhookTarget>, node: String) -> EdocSettings {
        EdocSettings {
            organisations: v.organisations.iter().map(organisation).collect(),
            arrival_status: v.arrival_status,
            poll_interval: std::time::Duration::from_secs(v.poll_interval_secs.max(1)),
            agencies_sync: (v.agencies_sync_secs > 0)
                .then(|| std::time::Duration::from_secs(v.agencies_sync_secs)),
            aliases: v
                .aliases
                .iter()
                .map(|(a, b)| (a.trim().to_owned(), b.trim().to_owned()))
                .collect(),
            progress: progress::ProgressMap::from_config(&v.progress),
            webhooks,
            node,
        }
    }

    /// The own organisation `code`, if it is one.
    pub fn own(&self, code: &str) -> Option<&Organisation> {
        self.organisations
            .iter()
            .find(|o| o.organ_id.as_ref().is_some_and(|c| c.as_str() == code))
    }
}

/// A fresh lowercase UUID (version 4) from the operating system's random source.
pub fn new_uuid() -> String {
    let mut b = [0u8; 16];
    if getrandom::fill(&mut b).is_err() {
        // No OS randomness: fall back on the clock and a counter (still unique per
        // process, which is all a content id or a gateway id needs).
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let t = Timestamp::now().as_nanosecond();
        b[..8].copy_from_slice(&(t as u64).to_be_bytes());
        b[8..].copy_from_slice(&n.to_be_bytes());
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// What the local system must do about a message that arrived.
pub fn action_of(r: &EdocRecord) -> &'static str {
    use lienthong_journal::edocs::EdocKind;
    match r.kind {
        EdocKind::Edoc => match r.business_type.unwrap_or(0) {
            1 => "revoke",
            2 => "update",
            3 => "replace",
            _ => "new_document",
        },
        EdocKind::Status => match r.status_code.as_deref() {
            Some("13") => "revoke_request",
            _ => "status",
        },
    }
}

fn time(t: Option<Timestamp>) -> Value {
    t.map_or(Value::Null, |t| Value::String(t.to_string()))
}

/// The JSON of a journal record for clients and operators (no body).
pub fn record_json(r: &EdocRecord) -> Value {
    json!({
        "id": r.id,
        "direction": r.direction.as_str(),
        "kind": r.kind.as_str(),
        "action": action_of(r),
        "document_id": r.document_id,
        "business_type": r.business_type,
        "status_code": r.status_code,
        "code": r.code,
        "subject": r.subject,
        "from": r.from_organ,
        "to": r.to_organs,
        "dossier_code": r.dossier_code,
        "client": r.client,
        "state": r.state,
        "axis_doc_id": r.axis_doc_id,
        "attempts": r.attempts,
        "last_error": r.last_error,
        "related_id": r.related_id,
        "last_status": r.last_status,
        "last_status_at": time(r.last_status_at),
        "axis_ack": r.axis_ack,
        "created_at": r.created_at.to_string(),
        "sent_at": time(r.sent_at),
        "delivered_at": time(r.delivered_at),
        "delivered_to": r.delivered_to,
        "delivered_via": r.delivered_via,
    })
}

/// The JSON pushed to (or pulled by) a local document system for a message that arrived:
/// the record and the edXML file as received, base64.
pub fn delivery_json(r: &EdocRecord) -> Value {
    use base64::Engine as _;
    let mut v = record_json(r);
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "edxml_base64".into(),
            Value::String(base64::engine::general_purpose::STANDARD.encode(&r.body)),
        );
    }
    v
}

/// A status the local system (or the gateway itself, for 01 on arrival) reports.
#[derive(Debug, Clone)]
pub struct StatusRequest {
    /// The status.
    pub code: lienthong_model::KnownStatus,
    /// Reason or message (required for 02, 13 and 16).
    pub description: Option<String>,
    /// The clerk.
    pub staff: Option<lienthong_model::StaffInfo>,
    /// The client's `Idempotency-Key`, when it sent one.
    pub idempotency_key: Option<String>,
    /// The client reporting it (`None`: the gateway).
    pub client: Option<String>,
}

/// Why a status cannot be composed.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// The status does not fit the message (wrong code for the direction, missing reason).
    #[error("{0}")]
    NotAllowed(String),
    /// The stored message cannot be read back (a gateway bug or a damaged journal).
    #[error("the stored message cannot be read: {0}")]
    Stored(String),
    /// The edXML composer refused it.
    #[error("{0}")]
    Compose(#[from] lienthong_edxml::ComposeError),
    /// The journal failed.
    #[error("journal: {0}")]
    Journal(#[from] lienthong_journal::JournalError),
}

/// Composes the status `req` about `about` (a document received or sent, with its body) and
/// records it for sending, with its work item. Recipients of a document report 01–06, 15
/// and 16 to its sender; the sender reports 13 (take back) to its recipients.
pub async fn record_status(
    journal: &lienthong_journal::Journal,
    settings: &EdocSettings,
    about: &EdocRecord,
    req: &StatusRequest,
) -> Result<(String, lienthong_journal::edocs::OutRecorded), StatusError> {
    use lienthong_journal::edocs::{Direction, EdocKind, OutgoingEdoc};
    use lienthong_model::KnownStatus as K;
    if about.kind != EdocKind::Edoc {
        return Err(StatusError::NotAllowed(format!(
            "{} is a status message; statuses answer documents",
            about.id
        )));
    }
    let code = req.code;
    let (own_code, counterpart) = match about.direction {
        Direction::In => {
            if code == K::TakeBackRequested {
                return Err(StatusError::NotAllowed(
                    "13 (take back) is sent by the sender of a document, not by a recipient".into(),
                ));
            }
            let own = about
                .to_organs
                .iter()
                .find(|c| settings.own(c).is_some())
                .cloned()
                .or_else(|| {
                    settings
                        .organisations
                        .first()
                        .and_then(|o| o.organ_id.as_ref().map(|c| c.as_str().to_owned()))
                })
                .unwrap_or_default();
            (own, about.from_organ.clone())
        }
        Direction::Out => {
            if code != K::TakeBackRequested {
                return Err(StatusError::NotAllowed(format!(
                    "{} is a document this gateway sent: only 13 (take back) can be reported \
                     about it; 01–06, 15 and 16 come from its recipients",
                    about.id
                )));
            }
            let first = about.to_organs.first().cloned().unwrap_or_default();
            (about.from_organ.clone(), first)
        }
    };
    let needs_reason = matches!(code, K::Refused | K::TakeBackRequested | K::ChangeRefused);
    let description = req
        .description
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_owned);
    if needs_reason && description.is_none() {
        return Err(StatusError::NotAllowed(format!(
            "status {} needs a reason in `description`",
            code.code()
        )));
    }
    let Some(from) = settings.own(&own_code).cloned() else {
        return Err(StatusError::NotAllowed(format!(
            "{own_code} is not one of this gateway's organisations ([[vdxp.organisations]])"
        )));
    };
    let parsed = lienthong_edxml::read(bytes::Bytes::from(about.body.clone()))
        .map_err(|e| StatusError::Stored(e.to_string()))?;
    let lienthong_edxml::Message::Edoc(m) = parsed.message else {
        return Err(StatusError::Stored("not a document message".into()));
    };
    let counterpart_id = lienthong_model::OrganId::parse_lenient(&counterpart)
        .ok_or_else(|| StatusError::Stored("the document names no counterpart".into()))?;
    let response_for = lienthong_edxml::compose::response_for(&m.document, &counterpart_id);
    let composed = lienthong_edxml::compose_status(
        &lienthong_edxml::NewStatus {
            from,
            response_for: response_for.clone(),
            staff: req.staff.clone(),
            code,
            description: description.clone(),
        },
        Timestamp::now(),
    )?;
    let id = format!("out-{}", new_uuid());
    let dedup = match (&req.idempotency_key, &req.client) {
        (Some(k), Some(c)) => format!("out:key:{c}:{k}"),
        _ => format!("out:status:{}:{}", about.id, code.code()),
    };
    let to = vec![counterpart];
    let recorded = journal
        .record_outgoing(&OutgoingEdoc {
            id: &id,
            kind: EdocKind::Status,
            dedup_key: &dedup,
            document_id: composed.document_id.as_str(),
            business_type: None,
            status_code: Some(code.code()),
            code: response_for.code.as_deref(),
            subject: description.as_deref(),
            from_organ: &own_code,
            to_organs: &to,
            dossier_code: about.dossier_code.as_deref(),
            client: req.client.as_deref(),
            related_id: Some(&about.id),
            body: &composed.bytes,
            at: Timestamp::now(),
        })
        .await?;
    if matches!(recorded, lienthong_journal::edocs::OutRecorded::New { .. }) {
        crate::metrics::edoc_sent("status", "queued");
        crate::metrics::edoc_status("out", code.code());
    }
    Ok((id, recorded))
}

/// What the receiving loop last saw of the axis, for the operators' overview: the time of
/// the last successful call and the last failure.
#[derive(Debug, Default)]
pub struct PartnerHealth {
    inner: std::sync::Mutex<HealthState>,
}

#[derive(Debug, Default, Clone)]
struct HealthState {
    last_ok: Option<Timestamp>,
    last_failure: Option<(Timestamp, String)>,
    interval_secs: u64,
    standby: bool,
}

impl PartnerHealth {
    /// A health record for a loop polling every `interval`.
    pub fn new(interval: std::time::Duration) -> PartnerHealth {
        PartnerHealth {
            inner: std::sync::Mutex::new(HealthState {
                interval_secs: interval.as_secs().max(1),
                ..HealthState::default()
            }),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut HealthState) -> R) -> R {
        let mut g = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut g)
    }

    /// A call succeeded.
    pub fn ok(&self, at: Timestamp) {
        self.with(|h| {
            h.last_ok = Some(at);
            h.standby = false;
        });
    }

    /// Another node holds the poller lease: this one does not call the axis.
    pub fn standby(&self) {
        self.with(|h| h.standby = true);
    }

    /// A call failed (`what` names the call and the error kind, never message content).
    pub fn failed(&self, at: Timestamp, what: String) {
        self.with(|h| h.last_failure = Some((at, what)));
    }

    /// `up` (the last call succeeded recently), `degraded` (successes and failures mixed
    /// recently, or no news for a while), `down` (only failures since the last success);
    /// with a short explanation.
    pub fn state(&self, now: Timestamp) -> (&'static str, String) {
        let h = self.with(|h| h.clone());
        let stale = |t: Timestamp| {
            now.duration_since(t).as_secs()
                > i64::try_from(h.interval_secs * 3 + 30).unwrap_or(i64::MAX)
        };
        if h.standby {
            return ("up", "another node polls the axis; see its overview".into());
        }
        match (h.last_ok, h.last_failure) {
            (None, None) => ("degraded", "not polled yet".into()),
            (Some(ok), None) if stale(ok) => ("degraded", format!("no answer since {ok}")),
            (Some(ok), None) => ("up", format!("last answer {ok}")),
            (None, Some((at, what))) => {
                ("down", format!("no answer yet; last failure {at}: {what}"))
            }
            (Some(ok), Some((at, what))) if at > ok => (
                "down",
                format!("last failure {at}: {what}; last answer {ok}"),
            ),
            (Some(ok), Some((at, what))) if !stale(at) => (
                "degraded",
                format!("answering (last {ok}) after a recent failure {at}: {what}"),
            ),
            (Some(ok), Some(_)) if stale(ok) => ("degraded", format!("no answer since {ok}")),
            (Some(ok), Some(_)) => ("up", format!("last answer {ok}")),
        }
    }
}
