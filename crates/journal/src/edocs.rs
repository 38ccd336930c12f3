//! Documents and status messages exchanged over the national document exchange axis (VDXP):
//! one `edoc` row per message, both directions, both kinds.
//!
//! * **Sending.** [`Journal::record_outgoing`] keeps the .edxml as submitted (encrypted
//!   whole when [`crate::PersonalData::encrypt_opaque`] is set) and writes its `document.outbound`
//!   work item (keyed by the edoc's id) in the same transaction; a dedup key seen before
//!   changes nothing. The send route calls [`Journal::begin_send`], which records the intent
//!   to send durably *before* the route calls `sendEdoc`: after a crash between the call and
//!   [`Journal::mark_sent`] the next attempt finds the intent ([`SendClaim::Uncertain`]) and
//!   must find out whether the axis took the document before sending it again.
//!   [`Journal::mark_send_failed`] tells whether the axis certainly did not take it;
//!   [`Journal::mark_edoc_parked`] stops retrying; [`Journal::requeue_edoc`] is the
//!   operator's resend.
//! * **Receiving.** [`Journal::record_incoming`] keeps what the poller fetched (once per
//!   axis docId) with its `document.inbound` work item, and correlates a status with the
//!   document of ours it is about (updating that document's last status) and a revocation,
//!   update or replacement with the document we received before. The poller tells the axis
//!   ([`Journal::mark_axis_done`]); after a crash it finds what it stored before with
//!   [`Journal::edoc_by_axis_id`]. The document system takes what waits
//!   ([`Journal::undelivered_edocs`], [`Journal::mark_edoc_delivered`], first delivery only).
//! * **Views** for operators and metrics: [`Journal::edocs`], [`Journal::edoc_history`],
//!   [`Journal::edocs_of_dossier`], [`Journal::edoc_counts`].
//! * **Leases** ([`Journal::acquire_lease`]): a named lease one owner holds at a time across
//!   nodes, e.g. for the single active poller.

use crate::Journal;
use crate::crypto::Reveal;
use crate::error::{JournalError, Result};
use crate::outbox::insert_work_item;
use crate::state::sha256_hex;
use crate::time::{ts, ts_opt, us};
use jiff::{SignedDuration, Timestamp};
use sqlx::{Any, Row, Transaction};

/// Kind of the work item "send this edoc (document or status) to the axis"; its key (the
/// outbox's `dossier_code`) is the edoc's id.
pub const KIND_EDOC_SEND: &str = "document.outbound";
/// Kind of the work item "deliver this received edoc to the document system"; its key is the
/// edoc's id.
pub const KIND_EDOC_DELIVER: &str = "document.inbound";

/// State of an outgoing edoc waiting to be sent.
pub const STATE_QUEUED: &str = "queued";
/// State of an outgoing edoc a route is sending (the intent is recorded).
pub const STATE_SENDING: &str = "sending";
/// State of an outgoing edoc the axis took (it has an axis DocId).
pub const STATE_SENT: &str = "sent";
/// State of an edoc nobody retries any more (until an operator requeues it).
pub const STATE_PARKED: &str = "parked";
/// State of an incoming edoc stored and waiting for the document system.
pub const STATE_RECEIVED: &str = "received";
/// State of an incoming edoc the document system took.
pub const STATE_DELIVERED: &str = "delivered";

/// What an edoc row is: a document message or a status message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EdocKind {
    /// A document message (`messagetype` `edoc`).
    Edoc,
    /// A status message (`messagetype` `status`).
    Status,
}

impl EdocKind {
    /// The name as stored and as the axis's `messagetype`: `edoc` or `status`.
    pub fn as_str(self) -> &'static str {
        match self {
            EdocKind::Edoc => "edoc",
            EdocKind::Status => "status",
        }
    }

    /// The kind a name stands for (`edoc`, `status`).
    pub fn from_name(name: &str) -> Option<EdocKind> {
        match name {
            "edoc" => Some(EdocKind::Edoc),
            "status" => Some(EdocKind::Status),
            _ => None,
        }
    }
}

/// Which way an edoc went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Sent by the gateway to the axis.
    Out,
    /// Received by the gateway from the axis.
    In,
}

impl Direction {
    /// The name as stored: `out` or `in`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Out => "out",
            Direction::In => "in",
        }
    }

    /// The direction a name stands for (`out`, `in`).
    pub fn from_name(name: &str) -> Option<Direction> {
        match name {
            "out" => Some(Direction::Out),
            "in" => Some(Direction::In),
            _ => None,
        }
    }
}

/// An edoc a client submitted for sending.
#[derive(Debug, Clone, Copy)]
pub struct OutgoingEdoc<'a> {
    /// The gateway's id for it (chosen by the caller, unique).
    pub id: &'a str,
    /// Document or status.
    pub kind: EdocKind,
    /// The caller's deduplication key: a second submission with the same key is a duplicate.
    pub dedup_key: &'a str,
    /// The edXML `DocumentId` (a status: the `DocumentId` it is about).
    pub document_id: &'a str,
    /// A document's `BussinessDocType` (0 new, 1 revocation, 2 update, 3 replacement).
    pub business_type: Option<u32>,
    /// A status's code (`01`..`16`).
    pub status_code: Option<&'a str>,
    /// Number/notation.
    pub code: Option<&'a str>,
    /// Subject (trích yếu).
    pub subject: Option<&'a str>,
    /// The sending organ's code.
    pub from_organ: &'a str,
    /// The recipient organs' codes (none may contain a comma).
    pub to_organs: &'a [String],
    /// The dossier it belongs to, when any.
    pub dossier_code: Option<&'a str>,
    /// The client that submitted it.
    pub client: Option<&'a str>,
    /// A status: the id of the incoming edoc it answers.
    pub related_id: Option<&'a str>,
    /// The .edxml bytes.
    pub body: &'a [u8],
    /// When it was submitted.
    pub at: Timestamp,
}

/// What recording an outgoing edoc did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutRecorded {
    /// New: recorded (state `queued`) with its `document.outbound` work item.
    New {
        /// The work item's id.
        work_item: i64,
    },
    /// The dedup key was recorded before: nothing changed.
    Duplicate {
        /// The id of the edoc recorded then.
        id: String,
    },
}

/// What a send route may do with an outgoing edoc ([`Journal::begin_send`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendClaim {
    /// No such edoc.
    Missing,
    /// The axis took it already: nothing to send.
    Sent {
        /// The axis DocId returned by `sendEdoc`.
        axis_doc_id: String,
    },
    /// Parked: not to be sent until an operator requeues it.
    Parked,
    /// No attempt can have reached the axis; the intent to send is now recorded (committed)
    /// and the route may send the record's body (in clear).
    Fresh(EdocRecord),
    /// An earlier attempt may have reached the axis (its intent is recorded, no DocId): the
    /// route must find out before sending again. Nothing was changed.
    Uncertain(EdocRecord),
}

/// An edoc the poller fetched from the axis.
#[derive(Debug, Clone, Copy)]
pub struct IncomingEdoc<'a> {
    /// The gateway's id for it (chosen by the caller, unique).
    pub id: &'a str,
    /// Document or status.
    pub kind: EdocKind,
    /// The axis's docId of this delivery (the key of `getEdoc` and `updateStatus`).
    pub axis_doc_id: &'a str,
    /// The edXML `DocumentId` (a status: `ResponseFor/DocumentId`).
    pub document_id: &'a str,
    /// A document's `BussinessDocType`.
    pub business_type: Option<u32>,
    /// A status's code.
    pub status_code: Option<&'a str>,
    /// Number/notation.
    pub code: Option<&'a str>,
    /// Subject.
    pub subject: Option<&'a str>,
    /// The sending organ's code.
    pub from_organ: &'a str,
    /// The recipient organs' codes.
    pub to_organs: &'a [String],
    /// The .edxml bytes as fetched.
    pub body: &'a [u8],
    /// When it was fetched (a status: also the time its last-status update is ordered by).
    pub at: Timestamp,
}

/// The earlier edoc an incoming one is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelatedEdoc {
    /// Its id.
    pub id: String,
    /// The dossier it belongs to.
    pub dossier_code: Option<String>,
    /// Number/notation.
    pub code: Option<String>,
    /// Subject.
    pub subject: Option<String>,
    /// Its recipients.
    pub to_organs: Vec<String>,
}

/// What recording an incoming edoc did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InRecorded {
    /// New: recorded (state `received`) with its `document.inbound` work item.
    New {
        /// The earlier edoc it is about, when one was found.
        related: Option<RelatedEdoc>,
        /// The work item's id.
        work_item: i64,
    },
    /// This axis docId was recorded before: nothing changed.
    Duplicate {
        /// The id of the edoc recorded then.
        id: String,
    },
}

/// One edoc row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdocRecord {
    /// The gateway's id.
    pub id: String,
    /// Out or in.
    pub direction: Direction,
    /// Document or status.
    pub kind: EdocKind,
    /// The deduplication key (in: `in:` + axis docId).
    pub dedup_key: String,
    /// The edXML `DocumentId` (a status: the document it is about).
    pub document_id: String,
    /// A document's `BussinessDocType`.
    pub business_type: Option<u32>,
    /// A status's code.
    pub status_code: Option<String>,
    /// Number/notation.
    pub code: Option<String>,
    /// Subject.
    pub subject: Option<String>,
    /// The sending organ.
    pub from_organ: String,
    /// The recipient organs.
    pub to_organs: Vec<String>,
    /// The dossier it belongs to.
    pub dossier_code: Option<String>,
    /// Out: the client that submitted it.
    pub client: Option<String>,
    /// The .edxml bytes as the reader may see them; empty where the call says "no bodies".
    pub body: Vec<u8>,
    /// SHA-256 (hex) of the bytes as submitted or fetched.
    pub body_sha256: String,
    /// `queued`, `sending`, `sent`, `parked` (out); `received`, `delivered`, `parked` (in).
    pub state: String,
    /// Out: the DocId `sendEdoc` returned; in: the axis's docId of the delivery.
    pub axis_doc_id: Option<String>,
    /// Out: when the pending send attempt began (`None`: none can have reached the axis).
    pub send_started_at: Option<Timestamp>,
    /// Out: send attempts begun.
    pub attempts: u32,
    /// The last error.
    pub last_error: Option<String>,
    /// In status: our edoc it is about; in revocation/update: the edoc received before;
    /// out status: the incoming edoc it answers.
    pub related_id: Option<String>,
    /// The latest status code received about this document.
    pub last_status: Option<String>,
    /// When that status was received.
    pub last_status_at: Option<Timestamp>,
    /// In: what the axis was told (`done`, `fail`).
    pub axis_ack: Option<String>,
    /// In: when.
    pub axis_ack_at: Option<Timestamp>,
    /// When it was recorded.
    pub created_at: Timestamp,
    /// When the row last changed.
    pub updated_at: Timestamp,
    /// Out: when the axis took it.
    pub sent_at: Option<Timestamp>,
    /// In: when the document system took it.
    pub delivered_at: Option<Timestamp>,
    /// In: the client that took it.
    pub delivered_to: Option<String>,
    /// In: `pull` or `webhook`.
    pub delivered_via: Option<String>,
}

/// Which edocs [`Journal::edocs`] lists (`None`: any).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EdocFilter {
    /// Only this direction.
    pub direction: Option<Direction>,
    /// Only this kind.
    pub kind: Option<EdocKind>,
    /// Only this state.
    pub state: Option<String>,
    /// Only of this dossier.
    pub dossier_code: Option<String>,
    /// Only with this `DocumentId`.
    pub document_id: Option<String>,
    /// At most this many.
    pub limit: u32,
}

/// Columns of an edoc row; the body comes last so listings can leave it out.
const COLUMNS: &str = "id, direction, kind, dedup_key, document_id, business_type, status_code, \
    code, subject, from_organ, to_organs, dossier_code, client, body_sha256, state, axis_doc_id, \
    send_started_at, attempts, last_error, related_id, last_status, last_status_at, axis_ack, \
    axis_ack_at, created_at, updated_at, sent_at, delivered_at, delivered_to, delivered_via";
const BODY_INDEX: usize = 30;

fn organs_text(organs: &[String]) -> Result<String> {
    if let Some(bad) = organs
        .iter()
        .find(|o| o.contains(',') || o.trim().is_empty())
    {
        return Err(JournalError::Invalid(format!(
            "organ code {bad:?} is empty or contains a comma"
        )));
    }
    Ok(organs.join(","))
}

fn organs_of(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `text` with LIKE's special characters escaped (for `LIKE … ESCAPE '\'`).
pub(crate) fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn require(what: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(JournalError::Invalid(format!("edoc without {what}")));
    }
    Ok(())
}

fn u32_of(v: i64, what: &str) -> Result<u32> {
    u32::try_from(v).map_err(|_| JournalError::Corrupt(format!("edoc {what} {v} out of range")))
}

async fn related_of(
    tx: &mut Transaction<'static, Any>,
    sql: &str,
    document_id: &str,
    id: &str,
) -> Result<Option<RelatedEdoc>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .bind(document_id)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    row.map(|r| {
        Ok(RelatedEdoc {
            id: r.try_get(0)?,
            dossier_code: r.try_get(1)?,
            code: r.try_get(2)?,
            subject: r.try_get(3)?,
            to_organs: organs_of(&r.try_get::<String, _>(4)?),
        })
    })
    .transpose()
}

impl Journal {
    fn edoc_of(&self, r: &sqlx::any::AnyRow, body: Option<Reveal>) -> Result<EdocRecord> {
        let direction: String = r.try_get(1)?;
        let kind: String = r.try_get(2)?;
        let body = match body {
            Some(reveal) => {
                let stored: Vec<u8> = r.try_get(BODY_INDEX)?;
                self.protector.reveal(&stored, reveal)?
            }
            None => Vec::new(),
        };
        Ok(EdocRecord {
            id: r.try_get(0)?,
            direction: Direction::from_name(&direction)
                .ok_or_else(|| JournalError::Corrupt(format!("edoc direction {direction:?}")))?,
            kind: EdocKind::from_name(&kind)
                .ok_or_else(|| JournalError::Corrupt(format!("edoc kind {kind:?}")))?,
            dedup_key: r.try_get(3)?,
            document_id: r.try_get(4)?,
            business_type: r
                .try_get::<Option<i64>, _>(5)?
                .map(|v| u32_of(v, "business type"))
                .transpose()?,
            status_code: r.try_get(6)?,
            code: r.try_get(7)?,
            subject: r.try_get(8)?,
            from_organ: r.try_get(9)?,
            to_organs: organs_of(&r.try_get::<String, _>(10)?),
            dossier_code: r.try_get(11)?,
            client: r.try_get(12)?,
            body,
            body_sha256: r.try_get(13)?,
            state: r.try_get(14)?,
            axis_doc_id: r.try_get(15)?,
            send_started_at: ts_opt(r.try_get(16)?)?,
            attempts: u32_of(r.try_get(17)?, "attempts")?,
            last_error: r.try_get(18)?,
            related_id: r.try_get(19)?,
            last_status: r.try_get(20)?,
            last_status_at: ts_opt(r.try_get(21)?)?,
            axis_ack: r.try_get(22)?,
            axis_ack_at: ts_opt(r.try_get(23)?)?,
            created_at: ts(r.try_get(24)?)?,
            updated_at: ts(r.try_get(25)?)?,
            sent_at: ts_opt(r.try_get(26)?)?,
            delivered_at: ts_opt(r.try_get(27)?)?,
            delivered_to: r.try_get(28)?,
            delivered_via: r.try_get(29)?,
        })
    }

    /// Rows for `where_and_order` (SQL after `WHERE`), bodies revealed as `body` says or not
    /// loaded (`None`).
    async fn edoc_rows(
        &self,
        where_and_order: &str,
        binds: &[&str],
        body: Option<Reveal>,
    ) -> Result<Vec<EdocRecord>> {
        let columns = if body.is_some() {
            format!("{COLUMNS}, body")
        } else {
            COLUMNS.to_owned()
        };
        let sql = format!("SELECT {columns} FROM edoc WHERE {where_and_order}");
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for b in binds {
            q = q.bind(b.to_string());
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter().map(|r| self.edoc_of(r, body)).collect()
    }

    /// Records an edoc to send (state `queued`) and its `document.outbound` work item (keyed by the
    /// id) in one transaction. A dedup key recorded before changes nothing
    /// ([`OutRecorded::Duplicate`]); an id already used under another dedup key is refused.
    pub async fn record_outgoing(&self, e: &OutgoingEdoc<'_>) -> Result<OutRecorded> {
        require("an id", e.id)?;
        require("a dedup key", e.dedup_key)?;
        require("a document id", e.document_id)?;
        require("a sending organ", e.from_organ)?;
        let to = organs_text(e.to_organs)?;
        let stored = self.protector.protect(e.body)?;
        let at = us(e.at);
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO edoc (id, direction, kind, dedup_key, document_id, business_type, \
               status_code, code, subject, from_organ, to_organs, dossier_code, client, body, \
               body_sha256, state, attempts, related_id, created_at, updated_at) \
             VALUES ($1, 'out', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 0, \
               $16, $17, $17) ON CONFLICT DO NOTHING",
        )
        .bind(e.id)
        .bind(e.kind.as_str())
        .bind(e.dedup_key)
        .bind(e.document_id)
        .bind(e.business_type.map(i64::from))
        .bind(e.status_code)
        .bind(e.code)
        .bind(e.subject)
        .bind(e.from_organ)
        .bind(to)
        .bind(e.dossier_code)
        .bind(e.client)
        .bind(stored)
        .bind(sha256_hex(e.body))
        .bind(STATE_QUEUED)
        .bind(e.related_id)
        .bind(at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            let existing: Option<String> =
                sqlx::query_scalar("SELECT id FROM edoc WHERE dedup_key = $1")
                    .bind(e.dedup_key)
                    .fetch_optional(&mut *tx)
                    .await?;
            tx.commit().await?;
            return match existing {
                Some(id) => {
                    tracing::debug!(edoc = %id, "outgoing edoc submitted before");
                    Ok(OutRecorded::Duplicate { id })
                }
                None => Err(JournalError::Invalid(format!(
                    "edoc id {:?} is already used",
                    e.id
                ))),
            };
        }
        let work_item = insert_work_item(&mut tx, KIND_EDOC_SEND, e.id, "submitted", at).await?;
        tx.commit().await?;
        self.work_committed();
        tracing::debug!(edoc = %e.id, work_item, "outgoing edoc recorded");
        Ok(OutRecorded::New { work_item })
    }

    /// Claims an outgoing edoc for sending. When no attempt can have reached the axis, the
    /// intent (`send_started_at` = `now`, one more attempt, state `sending`) is committed
    /// before this returns [`SendClaim::Fresh`]; otherwise nothing changes. The records of
    /// `Fresh` and `Uncertain` carry the body in clear (what goes to the axis).
    pub async fn begin_send(&self, id: &str, now: Timestamp) -> Result<SendClaim> {
        let claimed = sqlx::query(
            "UPDATE edoc SET send_started_at = $2, attempts = attempts + 1, state = $3, \
               updated_at = $2 \
             WHERE id = $1 AND direction = 'out' AND axis_doc_id IS NULL \
               AND send_started_at IS NULL AND state <> $4",
        )
        .bind(id)
        .bind(us(now))
        .bind(STATE_SENDING)
        .bind(STATE_PARKED)
        .execute(&self.pool)
        .await?
        .rows_affected();
        let Some(record) = self
            .edoc_rows("id = $1 AND direction = 'out'", &[id], Some(Reveal::Clear))
            .await?
            .pop()
        else {
            return Ok(SendClaim::Missing);
        };
        if claimed > 0 {
            tracing::debug!(edoc = %id, attempts = record.attempts, "edoc send begun");
            return Ok(SendClaim::Fresh(record));
        }
        Ok(if let Some(axis_doc_id) = record.axis_doc_id {
            SendClaim::Sent { axis_doc_id }
        } else if record.state == STATE_PARKED {
            SendClaim::Parked
        } else {
            SendClaim::Uncertain(record)
        })
    }

    /// The axis took the edoc: state `sent`, its DocId, `sent_at`, no last error. An unknown
    /// id changes nothing.
    pub async fn mark_sent(&self, id: &str, axis_doc_id: &str, now: Timestamp) -> Result<()> {
        sqlx::query(
            "UPDATE edoc SET state = $2, axis_doc_id = $3, sent_at = $4, updated_at = $4, \
               last_error = NULL WHERE id = $1 AND direction = 'out'",
        )
        .bind(id)
        .bind(STATE_SENT)
        .bind(axis_doc_id)
        .bind(us(now))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A send attempt failed: state back to `queued`, the error kept. `definite`: the axis
    /// certainly did not take it, the intent is cleared (the next [`Journal::begin_send`] is
    /// `Fresh`); otherwise it stays (the next is `Uncertain`). A sent or parked edoc is left
    /// alone.
    pub async fn mark_send_failed(
        &self,
        id: &str,
        error: &str,
        definite: bool,
        now: Timestamp,
    ) -> Result<()> {
        let clear = if definite {
            ", send_started_at = NULL"
        } else {
            ""
        };
        let sql = format!(
            "UPDATE edoc SET state = $2, last_error = $3, updated_at = $4{clear} \
             WHERE id = $1 AND direction = 'out' AND axis_doc_id IS NULL AND state <> $5"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .bind(STATE_QUEUED)
            .bind(error)
            .bind(us(now))
            .bind(STATE_PARKED)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Stops retrying an edoc: state `parked`, `reason` as the last error. A sent outgoing
    /// edoc is left alone.
    pub async fn mark_edoc_parked(&self, id: &str, reason: &str, now: Timestamp) -> Result<()> {
        sqlx::query(
            "UPDATE edoc SET state = $2, last_error = $3, updated_at = $4 \
             WHERE id = $1 AND (direction = 'in' OR axis_doc_id IS NULL)",
        )
        .bind(id)
        .bind(STATE_PARKED)
        .bind(reason)
        .bind(us(now))
        .execute(&self.pool)
        .await?;
        tracing::info!(edoc = %id, reason, "edoc parked");
        Ok(())
    }

    /// An operator's resend of an outgoing edoc not sent yet: state `queued`, no last error,
    /// the send intent forgotten when `forget_intent` (the operator checked that the axis
    /// did not take it), and a new `document.outbound` work item in the same transaction (its id
    /// returned). `None` (nothing changed) when the edoc is unknown or already sent.
    pub async fn requeue_edoc(
        &self,
        id: &str,
        forget_intent: bool,
        now: Timestamp,
    ) -> Result<Option<i64>> {
        let forget = if forget_intent {
            ", send_started_at = NULL"
        } else {
            ""
        };
        let sql = format!(
            "UPDATE edoc SET state = $2, last_error = NULL, updated_at = $3{forget} \
             WHERE id = $1 AND direction = 'out' AND axis_doc_id IS NULL"
        );
        let at = us(now);
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .bind(STATE_QUEUED)
            .bind(at)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        let work_item = insert_work_item(&mut tx, KIND_EDOC_SEND, id, "requeue", at).await?;
        tx.commit().await?;
        self.work_committed();
        tracing::info!(edoc = %id, work_item, forget_intent, "edoc requeued");
        Ok(Some(work_item))
    }

    /// Records an edoc fetched from the axis (state `received`) and its `document.inbound` work
    /// item (keyed by the id) in one transaction; an axis docId recorded before changes
    /// nothing. In the same transaction:
    ///
    /// * a status is linked to our outgoing document with its `DocumentId` (the newest when
    ///   several; failing that, a document we received with it, e.g. a take-back request
    ///   13), whose last status becomes this one unless it already has a newer one;
    /// * a revocation, update or replacement (business type 1, 2, 3) is linked to the
    ///   document with its `DocumentId` received before (an original, type 0 or none,
    ///   preferred; then the newest).
    ///
    /// The linked edoc comes back as `related`.
    pub async fn record_incoming(&self, e: &IncomingEdoc<'_>) -> Result<InRecorded> {
        require("an id", e.id)?;
        require("an axis doc id", e.axis_doc_id)?;
        require("a document id", e.document_id)?;
        let to = organs_text(e.to_organs)?;
        let stored = self.protector.protect(e.body)?;
        let at = us(e.at);
        let dedup_key = format!("in:{}", e.axis_doc_id);
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO edoc (id, direction, kind, dedup_key, document_id, business_type, \
               status_code, code, subject, from_organ, to_organs, body, body_sha256, state, \
               axis_doc_id, attempts, created_at, updated_at) \
             VALUES ($1, 'in', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 0, \
               $15, $15) ON CONFLICT DO NOTHING",
        )
        .bind(e.id)
        .bind(e.kind.as_str())
        .bind(&dedup_key)
        .bind(e.document_id)
        .bind(e.business_type.map(i64::from))
        .bind(e.status_code)
        .bind(e.code)
        .bind(e.subject)
        .bind(e.from_organ)
        .bind(to)
        .bind(stored)
        .bind(sha256_hex(e.body))
        .bind(STATE_RECEIVED)
        .bind(e.axis_doc_id)
        .bind(at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            let existing: Option<String> = sqlx::query_scalar(
                "SELECT id FROM edoc WHERE dedup_key = $1 \
                 OR (direction = 'in' AND axis_doc_id = $2)",
            )
            .bind(&dedup_key)
            .bind(e.axis_doc_id)
            .fetch_optional(&mut *tx)
            .await?;
            tx.commit().await?;
            return match existing {
                Some(id) => {
                    tracing::debug!(edoc = %id, axis_doc_id = %e.axis_doc_id,
                        "incoming edoc fetched before");
                    Ok(InRecorded::Duplicate { id })
                }
                None => Err(JournalError::Invalid(format!(
                    "edoc id {:?} is already used",
                    e.id
                ))),
            };
        }
        const PICK: &str = "SELECT id, dossier_code, code, subject, to_organs FROM edoc \
            WHERE document_id = $1 AND id <> $2 AND kind = 'edoc'";
        let related = match (e.kind, e.business_type) {
            (EdocKind::Status, _) => {
                let ours = related_of(
                    &mut tx,
                    &format!("{PICK} AND direction = 'out' ORDER BY created_at DESC, id DESC"),
                    e.document_id,
                    e.id,
                )
                .await?;
                let related = match ours {
                    Some(r) => Some(r),
                    None => {
                        related_of(
                            &mut tx,
                            &format!(
                                "{PICK} AND direction = 'in' ORDER BY created_at DESC, id DESC"
                            ),
                            e.document_id,
                            e.id,
                        )
                        .await?
                    }
                };
                if let Some(r) = &related {
                    sqlx::query(
                        "UPDATE edoc SET last_status = $2, last_status_at = $3, updated_at = $3 \
                         WHERE id = $1 AND (last_status_at IS NULL OR last_status_at <= $3)",
                    )
                    .bind(&r.id)
                    .bind(e.status_code)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                }
                related
            }
            (EdocKind::Edoc, Some(1..=3)) => {
                related_of(
                    &mut tx,
                    &format!(
                        "{PICK} AND direction = 'in' ORDER BY \
                         CASE WHEN business_type IN (1, 2, 3) THEN 1 ELSE 0 END, \
                         created_at DESC, id DESC"
                    ),
                    e.document_id,
                    e.id,
                )
                .await?
            }
            (EdocKind::Edoc, _) => None,
        };
        if let Some(r) = &related {
            sqlx::query("UPDATE edoc SET related_id = $2 WHERE id = $1")
                .bind(e.id)
                .bind(&r.id)
                .execute(&mut *tx)
                .await?;
        }
        let work_item = insert_work_item(&mut tx, KIND_EDOC_DELIVER, e.id, "received", at).await?;
        tx.commit().await?;
        self.work_committed();
        tracing::debug!(edoc = %e.id, axis_doc_id = %e.axis_doc_id, work_item,
            related = related.as_ref().map(|r| r.id.as_str()), "incoming edoc recorded");
        Ok(InRecorded::New { related, work_item })
    }

    /// The poller told the axis about an incoming edoc (`updateStatus`): `outcome` `done` or
    /// `fail`.
    pub async fn mark_axis_done(&self, id: &str, outcome: &str, now: Timestamp) -> Result<()> {
        if !matches!(outcome, "done" | "fail") {
            return Err(JournalError::Invalid(format!(
                "axis outcome {outcome:?}: expected done or fail"
            )));
        }
        sqlx::query(
            "UPDATE edoc SET axis_ack = $2, axis_ack_at = $3, updated_at = $3 \
             WHERE id = $1 AND direction = 'in'",
        )
        .bind(id)
        .bind(outcome)
        .bind(us(now))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The incoming edoc recorded for an axis docId (without its body).
    pub async fn edoc_by_axis_id(&self, axis_doc_id: &str) -> Result<Option<EdocRecord>> {
        Ok(self
            .edoc_rows(
                "direction = 'in' AND axis_doc_id = $1",
                &[axis_doc_id],
                None,
            )
            .await?
            .pop())
    }

    /// Incoming edocs (documents and statuses) the document system has not taken, parked
    /// ones excepted, oldest first, at most `limit`, bodies in clear (what is delivered).
    /// `organs`: only those addressed to any of these organs (`None`: all).
    pub async fn undelivered_edocs(
        &self,
        organs: Option<&[String]>,
        limit: u32,
    ) -> Result<Vec<EdocRecord>> {
        let mut sql = format!(
            "SELECT {COLUMNS}, body FROM edoc WHERE direction = 'in' AND delivered_at IS NULL \
             AND state <> $2"
        );
        if let Some(organs) = organs {
            if organs.is_empty() {
                return Ok(Vec::new());
            }
            let tests: Vec<String> = (0..organs.len())
                .map(|i| format!("(',' || to_organs || ',') LIKE ${} ESCAPE '\\'", i + 3))
                .collect();
            sql.push_str(&format!(" AND ({})", tests.join(" OR ")));
        }
        sql.push_str(" ORDER BY created_at, id LIMIT $1");
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(i64::from(limit))
            .bind(STATE_PARKED);
        for o in organs.unwrap_or_default() {
            q = q.bind(format!("%,{},%", like_escape(o.trim())));
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| self.edoc_of(r, Some(Reveal::Clear)))
            .collect()
    }

    /// The document system took an incoming edoc (`client`, `via` `pull` or `webhook`):
    /// state `delivered`. Only the first delivery is recorded; `false` when it was
    /// delivered before or is unknown.
    pub async fn mark_edoc_delivered(
        &self,
        id: &str,
        client: &str,
        via: &str,
        now: Timestamp,
    ) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE edoc SET delivered_at = $4, delivered_to = $2, delivered_via = $3, \
               state = $5, updated_at = $4 \
             WHERE id = $1 AND direction = 'in' AND delivered_at IS NULL",
        )
        .bind(id)
        .bind(client)
        .bind(via)
        .bind(us(now))
        .bind(STATE_DELIVERED)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n > 0)
    }

    /// One edoc, its body as `reveal` says.
    pub async fn edoc(&self, id: &str, reveal: Reveal) -> Result<Option<EdocRecord>> {
        Ok(self.edoc_rows("id = $1", &[id], Some(reveal)).await?.pop())
    }

    /// The newest edoc of a direction and kind with this `DocumentId` (without its body).
    pub async fn edoc_by_document_id(
        &self,
        direction: Direction,
        kind: EdocKind,
        document_id: &str,
    ) -> Result<Option<EdocRecord>> {
        Ok(self
            .edoc_rows(
                "document_id = $1 AND direction = $2 AND kind = $3 \
                 ORDER BY created_at DESC, id DESC LIMIT 1",
                &[document_id, direction.as_str(), kind.as_str()],
                None,
            )
            .await?
            .pop())
    }

    /// Edocs matching `f`, newest first, without bodies.
    pub async fn edocs(&self, f: &EdocFilter) -> Result<Vec<EdocRecord>> {
        let mut sql = format!("SELECT {COLUMNS} FROM edoc WHERE 1 = 1");
        let mut binds: Vec<String> = Vec::new();
        let mut add = |column: &str, value: &str| {
            binds.push(value.to_owned());
            sql.push_str(&format!(" AND {column} = ${}", binds.len() + 1));
        };
        if let Some(d) = f.direction {
            add("direction", d.as_str());
        }
        if let Some(k) = f.kind {
            add("kind", k.as_str());
        }
        if let Some(s) = &f.state {
            add("state", s);
        }
        if let Some(d) = &f.dossier_code {
            add("dossier_code", d);
        }
        if let Some(d) = &f.document_id {
            add("document_id", d);
        }
        sql.push_str(" ORDER BY created_at DESC, id DESC LIMIT $1");
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(i64::from(f.limit));
        for b in binds {
            q = q.bind(b);
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter().map(|r| self.edoc_of(r, None)).collect()
    }

    /// Every edoc with this `DocumentId` (both directions, both kinds), oldest first,
    /// without bodies.
    pub async fn edoc_history(&self, document_id: &str) -> Result<Vec<EdocRecord>> {
        self.edoc_rows(
            "document_id = $1 ORDER BY created_at, id",
            &[document_id],
            None,
        )
        .await
    }

    /// The edocs of a dossier: those recorded with its code and the edocs related to them
    /// (statuses about them), oldest first, without bodies.
    pub async fn edocs_of_dossier(&self, dossier_code: &str) -> Result<Vec<EdocRecord>> {
        self.edoc_rows(
            "dossier_code = $1 OR related_id IN (SELECT id FROM edoc WHERE dossier_code = $1) \
             ORDER BY created_at, id",
            &[dossier_code],
            None,
        )
        .await
    }

    /// How many edocs per direction, kind and state (for metrics).
    pub async fn edoc_counts(&self) -> Result<Vec<(String, String, String, u64)>> {
        let rows = sqlx::query(
            "SELECT direction, kind, state, COUNT(*) FROM edoc \
             GROUP BY direction, kind, state ORDER BY direction, kind, state",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get(0)?,
                    r.try_get(1)?,
                    r.try_get(2)?,
                    r.try_get::<i64, _>(3)?.max(0) as u64,
                ))
            })
            .collect()
    }

    /// Takes the lease `name` for `owner` until `now + ttl`: `true` when `owner` holds it
    /// now (it was free, expired, or already `owner`'s — then it is extended). Atomic across
    /// concurrent callers and nodes.
    pub async fn acquire_lease(
        &self,
        name: &str,
        owner: &str,
        ttl: SignedDuration,
        now: Timestamp,
    ) -> Result<bool> {
        let until = now.saturating_add(ttl).unwrap_or(now);
        let n = sqlx::query(
            "INSERT INTO lease (name, owner, until) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until \
             WHERE lease.until < $4 OR lease.owner = excluded.owner",
        )
        .bind(name)
        .bind(owner)
        .bind(us(until))
        .bind(us(now))
        .execute(&self.pool)
        .await?
        .rows_affected();
        if n > 0 {
            tracing::trace!(lease = name, owner, "lease held");
        }
        Ok(n > 0)
    }

    /// Gives the lease up, if `owner` holds it.
    pub async fn release_lease(&self, name: &str, owner: &str) -> Result<()> {
        sqlx::query("DELETE FROM lease WHERE name = $1 AND owner = $2")
            .bind(name)
            .bind(owner)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Who holds the lease at `now`, and until when (`None`: free or expired).
    pub async fn lease_holder(
        &self,
        name: &str,
        now: Timestamp,
    ) -> Result<Option<(String, Timestamp)>> {
        let row = sqlx::query("SELECT owner, until FROM lease WHERE name = $1 AND until >= $2")
            .bind(name)
            .bind(us(now))
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((r.try_get(0)?, ts(r.try_get(1)?)?)))
            .transpose()
    }
}
