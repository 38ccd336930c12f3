//! The message log: every message in and out, searchable by dossier code, document id,
//! partner, outcome and time; bodies kept by the retention policy with personal data
//! encrypted ([`crate::crypto`]); a dossier timeline; purge in small batches.

use crate::Journal;
use crate::crypto::Reveal;
use crate::error::{JournalError, Result};
use crate::state::{sha256_hex, status_of, to_i64};
use crate::time::{ts, ts_opt, us, us_opt};
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use sqlx::{AssertSqlSafe, Row};
use std::collections::HashMap;

/// Which way a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Received by the gateway.
    In,
    /// Sent by the gateway.
    Out,
}

impl Direction {
    /// `in` or `out`.
    pub fn name(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }

    fn parse(s: &str) -> Result<Direction> {
        match s {
            "in" => Ok(Direction::In),
            "out" => Ok(Direction::Out),
            other => Err(JournalError::Corrupt(format!("direction {other:?}"))),
        }
    }
}

/// What became of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Not finished (being handled, or waiting for a retry).
    Pending,
    /// Accepted (received and recorded, or delivered and acknowledged).
    Accepted,
    /// Refused by the partner or by the gateway (no retry helps).
    Rejected,
    /// Failed after the retries; parked for an operator.
    Parked,
    /// A duplicate of an earlier message (answered from the journal).
    Duplicate,
}

impl Outcome {
    /// Every outcome.
    pub const ALL: &'static [Outcome] = &[
        Outcome::Pending,
        Outcome::Accepted,
        Outcome::Rejected,
        Outcome::Parked,
        Outcome::Duplicate,
    ];

    /// The stored name.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Pending => "pending",
            Outcome::Accepted => "accepted",
            Outcome::Rejected => "rejected",
            Outcome::Parked => "parked",
            Outcome::Duplicate => "duplicate",
        }
    }

    /// From the stored name.
    pub fn from_name(s: &str) -> Option<Outcome> {
        Outcome::ALL.iter().copied().find(|o| o.name() == s)
    }
}

/// One message in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageRecord {
    /// Message id (the bus message id or the partner's), unique.
    pub id: String,
    /// In or out.
    pub direction: Direction,
    /// The partner (`dvcqg`, `vdxp`, a one-stop-shop system's name, …).
    pub partner: String,
    /// The route that handled it.
    pub route: Option<String>,
    /// The dossier it concerns.
    pub dossier_code: Option<String>,
    /// The axis document id it concerns.
    pub doc_id: Option<String>,
    /// What it is (`dvcqg.DongBoHoSoMC`, `edxml.edoc`, `edxml.status`, …).
    pub kind: String,
    /// SHA-256 of the payload, hex.
    pub payload_sha256: String,
    /// Payload size in bytes.
    pub payload_size: u64,
    /// Outcome so far.
    pub outcome: Outcome,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// When the message was first seen.
    pub created_at: Timestamp,
    /// First delivery attempt.
    pub first_attempt_at: Option<Timestamp>,
    /// Last delivery attempt.
    pub last_attempt_at: Option<Timestamp>,
    /// When it reached its final outcome.
    pub finished_at: Option<Timestamp>,
    /// The partner's answer code.
    pub answer_code: Option<String>,
    /// The partner's answer message.
    pub answer_message: Option<String>,
}

impl MessageRecord {
    /// A pending record for `payload` (hash and size computed).
    pub fn new(
        id: impl Into<String>,
        direction: Direction,
        partner: impl Into<String>,
        kind: impl Into<String>,
        payload: &[u8],
        created_at: Timestamp,
    ) -> MessageRecord {
        MessageRecord {
            id: id.into(),
            direction,
            partner: partner.into(),
            route: None,
            dossier_code: None,
            doc_id: None,
            kind: kind.into(),
            payload_sha256: sha256_hex(payload),
            payload_size: payload.len() as u64,
            outcome: Outcome::Pending,
            attempts: 0,
            created_at,
            first_attempt_at: None,
            last_attempt_at: None,
            finished_at: None,
            answer_code: None,
            answer_message: None,
        }
    }
}

/// Entries waiting for the message log's group commit ([`Journal::log_message`]).
#[derive(Debug, Default)]
pub(crate) struct LogGroup {
    queue: std::sync::Mutex<Vec<Queued>>,
    writer: tokio::sync::Mutex<()>,
}

#[derive(Debug)]
struct Queued {
    record: MessageRecord,
    body: Option<Vec<u8>>,
    done: tokio::sync::oneshot::Sender<std::result::Result<(), String>>,
}

/// The queue behind its lock; a panic while it was held leaves it usable.
fn lock(queue: &std::sync::Mutex<Vec<Queued>>) -> std::sync::MutexGuard<'_, Vec<Queued>> {
    queue
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A message to log, with its body when it should be kept.
#[derive(Debug, Clone, Copy)]
pub struct LogEntry<'a> {
    /// The record.
    pub record: &'a MessageRecord,
    /// The body (kept for the retention time; personal data encrypted).
    pub body: Option<&'a [u8]>,
}

/// A search of the message log. Empty fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    /// Dossier code (exact).
    pub dossier_code: Option<String>,
    /// Document id (exact).
    pub doc_id: Option<String>,
    /// Partner (exact).
    pub partner: Option<String>,
    /// Outcome.
    pub outcome: Option<Outcome>,
    /// Created at or after.
    pub from: Option<Timestamp>,
    /// Created before.
    pub to: Option<Timestamp>,
    /// Page size (1–1000; 50 when 0).
    pub limit: u32,
    /// Where the previous page ended ([`Page::next`]).
    pub after: Option<Cursor>,
    /// Whether to return kept bodies.
    pub with_bodies: bool,
    /// Whether personal data in returned bodies is shown.
    pub reveal: Reveal,
}

/// Where a page ended: newest first, so the next page is older.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cursor {
    /// `created_at` of the last record, microseconds.
    pub created_at: i64,
    /// Its id.
    pub id: String,
}

impl Cursor {
    /// The text form (`MICROS:ID`), for command lines and URLs.
    pub fn to_text(&self) -> String {
        format!("{}:{}", self.created_at, self.id)
    }

    /// From the text form.
    pub fn parse(s: &str) -> Option<Cursor> {
        let (t, id) = s.split_once(':')?;
        Some(Cursor {
            created_at: t.parse().ok()?,
            id: id.to_owned(),
        })
    }
}

/// A found message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Found {
    /// The record.
    #[serde(flatten)]
    pub record: MessageRecord,
    /// The body, if asked for and still kept (masked unless revealed), as text when it is
    /// UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// One page of results, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page {
    /// The messages.
    pub items: Vec<Found>,
    /// Cursor of the next page, if there is one.
    pub next: Option<Cursor>,
}

/// What a timeline entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A dossier version received.
    Version,
    /// A progress step received.
    Step,
    /// A message in or out (axis documents and status reports included).
    Message,
    /// The portal's acknowledgement of the latest acknowledged version.
    PortalAck,
}

/// One event in a dossier's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelineEntry {
    /// When.
    pub at: Timestamp,
    /// What.
    pub kind: EntryKind,
    /// One line for people.
    pub summary: String,
    /// The message id, for messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
}

const COLUMNS: &str = "id, direction, partner, route, dossier_code, doc_id, kind, payload_sha256, \
    payload_size, outcome, attempts, created_at, first_attempt_at, last_attempt_at, finished_at, \
    answer_code, answer_message";
const NCOLS: usize = 17;
/// Rows per multi-row INSERT: 17 parameters each, below every dialect's limit. Small
/// statements are faster on SQLite than huge ones (50: ~36k records/s; 400: ~5k/s).
const CHUNK: usize = 50;

fn read_record(r: &sqlx::any::AnyRow) -> Result<MessageRecord> {
    let outcome: String = r.try_get(9)?;
    Ok(MessageRecord {
        id: r.try_get(0)?,
        direction: Direction::parse(&r.try_get::<String, _>(1)?)?,
        partner: r.try_get(2)?,
        route: r.try_get(3)?,
        dossier_code: r.try_get(4)?,
        doc_id: r.try_get(5)?,
        kind: r.try_get(6)?,
        payload_sha256: r.try_get(7)?,
        payload_size: r.try_get::<i64, _>(8)?.max(0) as u64,
        outcome: Outcome::from_name(&outcome)
            .ok_or_else(|| JournalError::Corrupt(format!("outcome {outcome:?}")))?,
        attempts: r.try_get::<i64, _>(10)?.clamp(0, i64::from(u32::MAX)) as u32,
        created_at: ts(r.try_get(11)?)?,
        first_attempt_at: ts_opt(r.try_get(12)?)?,
        last_attempt_at: ts_opt(r.try_get(13)?)?,
        finished_at: ts_opt(r.try_get(14)?)?,
        answer_code: r.try_get(15)?,
        answer_message: r.try_get(16)?,
    })
}

/// A value to bind in a query built at run time.
enum Arg {
    Text(String),
    Int(i64),
}

/// Messages of one period of [`Journal::activity`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActivityBucket {
    /// Start of the period.
    pub start: Timestamp,
    /// Messages logged in it (created in it).
    pub messages: u64,
    /// Of these, refused or parked.
    pub failed: u64,
    /// Of these, finished (with a duration).
    pub finished: u64,
    /// Sum of the finished ones' durations (creation to finish), in milliseconds.
    pub total_ms: f64,
}

impl Journal {
    /// Logs one message (or updates it: outcome, attempts, timings and answer change as
    /// delivery goes on; the first body kept stays).
    ///
    /// Group commit: entries logged at the same time by several tasks are written in one
    /// transaction. The first caller to find no write in progress writes everything queued
    /// (its own entry included); the others wait, and each returns once its entry is
    /// committed, as before. The write runs in a task of its own, so a caller that is
    /// cancelled does not lose the entries of the others.
    pub async fn log_message(&self, record: &MessageRecord, body: Option<&[u8]>) -> Result<()> {
        let (done, mut written) = tokio::sync::oneshot::channel();
        lock(&self.log_group.queue).push(Queued {
            record: record.clone(),
            body: body.map(<[u8]>::to_vec),
            done,
        });
        let _writer = self.log_group.writer.lock().await;
        match written.try_recv() {
            // A writer before us committed it (or failed).
            Ok(result) => return result.map_err(JournalError::Grouped),
            // A writer took it and vanished without an answer: write it alone.
            Err(tokio::sync::oneshot::error::TryRecvError::Closed) => {
                return self.log_messages(&[LogEntry { record, body }]).await;
            }
            Err(tokio::sync::oneshot::error::TryRecvError::Empty) => {}
        }
        // Our entry is still queued (only the writer takes from the queue): write the queue.
        let batch = std::mem::take(&mut *lock(&self.log_group.queue));
        let journal = self.clone();
        let write = tokio::spawn(async move {
            let entries: Vec<LogEntry<'_>> = batch
                .iter()
                .map(|q| LogEntry {
                    record: &q.record,
                    body: q.body.as_deref(),
                })
                .collect();
            let result = journal
                .log_messages(&entries)
                .await
                .map_err(|e| e.to_string());
            drop(entries);
            for q in batch {
                let _ = q.done.send(result.clone());
            }
        });
        if let Err(e) = write.await {
            return Err(JournalError::Grouped(format!(
                "the message log writer ended abnormally: {e}"
            )));
        }
        match written.try_recv() {
            Ok(result) => result.map_err(JournalError::Grouped),
            Err(_) => self.log_messages(&[LogEntry { record, body }]).await,
        }
    }

    /// Logs a batch of messages in one transaction (multi-row statements).
    pub async fn log_messages(&self, entries: &[LogEntry<'_>]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        // Protect bodies before opening the transaction (CPU work, no lock held).
        let keep = self.body_retention.is_positive();
        let mut bodies = Vec::new();
        if keep {
            for e in entries {
                if let Some(b) = e.body {
                    let expires = e
                        .record
                        .created_at
                        .saturating_add(self.body_retention)
                        .unwrap_or(e.record.created_at);
                    bodies.push((
                        e.record.id.as_str(),
                        self.protector.protect(b)?,
                        us(expires),
                    ));
                }
            }
        }
        let mut tx = self.pool.begin().await?;
        for chunk in entries.chunks(CHUNK) {
            // The same id twice in one statement is refused by PostgreSQL: keep the last.
            let mut last: HashMap<&str, usize> = HashMap::with_capacity(chunk.len());
            for (i, e) in chunk.iter().enumerate() {
                last.insert(e.record.id.as_str(), i);
            }
            let rows: Vec<&MessageRecord> = chunk
                .iter()
                .enumerate()
                .filter(|(i, e)| last.get(e.record.id.as_str()) == Some(i))
                .map(|(_, e)| e.record)
                .collect();
            let mut sql = format!("INSERT INTO message ({COLUMNS}) VALUES ");
            for i in 0..rows.len() {
                if i > 0 {
                    sql.push(',');
                }
                sql.push('(');
                for c in 0..NCOLS {
                    if c > 0 {
                        sql.push(',');
                    }
                    sql.push_str(&format!("${}", i * NCOLS + c + 1));
                }
                sql.push(')');
            }
            sql.push_str(
                " ON CONFLICT (id) DO UPDATE SET outcome = excluded.outcome, \
                 attempts = excluded.attempts, \
                 first_attempt_at = COALESCE(message.first_attempt_at, excluded.first_attempt_at), \
                 last_attempt_at = excluded.last_attempt_at, finished_at = excluded.finished_at, \
                 answer_code = excluded.answer_code, answer_message = excluded.answer_message, \
                 route = COALESCE(excluded.route, message.route), \
                 dossier_code = COALESCE(excluded.dossier_code, message.dossier_code), \
                 doc_id = COALESCE(excluded.doc_id, message.doc_id)",
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for r in rows {
                q = q
                    .bind(r.id.clone())
                    .bind(r.direction.name())
                    .bind(r.partner.clone())
                    .bind(r.route.clone())
                    .bind(r.dossier_code.clone())
                    .bind(r.doc_id.clone())
                    .bind(r.kind.clone())
                    .bind(r.payload_sha256.clone())
                    .bind(to_i64(r.payload_size, "payload size")?)
                    .bind(r.outcome.name())
                    .bind(i64::from(r.attempts))
                    .bind(us(r.created_at))
                    .bind(us_opt(r.first_attempt_at))
                    .bind(us_opt(r.last_attempt_at))
                    .bind(us_opt(r.finished_at))
                    .bind(r.answer_code.clone())
                    .bind(r.answer_message.clone());
            }
            q.execute(&mut *tx).await?;
        }
        for chunk in bodies.chunks(CHUNK) {
            let mut sql =
                String::from("INSERT INTO message_body (message_id, body, expires_at) VALUES ");
            for i in 0..chunk.len() {
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!("(${}, ${}, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3));
            }
            sql.push_str(" ON CONFLICT (message_id) DO NOTHING");
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for (id, body, expires) in chunk {
                q = q.bind(id.to_string()).bind(body.clone()).bind(*expires);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// One message by id.
    pub async fn message(&self, id: &str) -> Result<Option<MessageRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM message WHERE id = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(read_record).transpose()
    }

    /// The kept body of a message, as the reader may see it.
    pub async fn message_body(&self, id: &str, reveal: Reveal) -> Result<Option<Vec<u8>>> {
        let body: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT body FROM message_body WHERE message_id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        body.map(|b| self.protector.reveal(&b, reveal)).transpose()
    }

    /// Searches the log, newest first, one page at a time.
    pub async fn search(&self, q: &SearchQuery) -> Result<Page> {
        let limit = match q.limit {
            0 => 50,
            n => n.min(1000),
        };
        let mut conds: Vec<String> = Vec::new();
        let mut args: Vec<Arg> = Vec::new();
        let mut push = |cond: &str, arg: Arg, args: &mut Vec<Arg>| {
            args.push(arg);
            conds.push(cond.replace('?', &format!("${}", args.len())));
        };
        if let Some(v) = &q.dossier_code {
            push("dossier_code = ?", Arg::Text(v.clone()), &mut args);
        }
        if let Some(v) = &q.doc_id {
            push("doc_id = ?", Arg::Text(v.clone()), &mut args);
        }
        if let Some(v) = &q.partner {
            push("partner = ?", Arg::Text(v.clone()), &mut args);
        }
        if let Some(v) = q.outcome {
            push("outcome = ?", Arg::Text(v.name().to_owned()), &mut args);
        }
        if let Some(v) = q.from {
            push("created_at >= ?", Arg::Int(us(v)), &mut args);
        }
        if let Some(v) = q.to {
            push("created_at < ?", Arg::Int(us(v)), &mut args);
        }
        if let Some(c) = &q.after {
            args.push(Arg::Int(c.created_at));
            let a = args.len();
            args.push(Arg::Text(c.id.clone()));
            let b = args.len();
            conds.push(format!(
                "(created_at < ${a} OR (created_at = ${a} AND id < ${b}))"
            ));
        }
        let mut sql = format!("SELECT {COLUMNS} FROM message");
        if !conds.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conds.join(" AND "));
        }
        sql.push_str(&format!(
            " ORDER BY created_at DESC, id DESC LIMIT {}",
            limit + 1
        ));
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for a in args {
            query = match a {
                Arg::Text(s) => query.bind(s),
                Arg::Int(i) => query.bind(i),
            };
        }
        let rows = query.fetch_all(&self.pool).await?;
        let mut records = rows.iter().map(read_record).collect::<Result<Vec<_>>>()?;
        let next = if records.len() > limit as usize {
            records.truncate(limit as usize);
            records.last().map(|r| Cursor {
                created_at: us(r.created_at),
                id: r.id.clone(),
            })
        } else {
            None
        };
        let mut items = Vec::with_capacity(records.len());
        for record in records {
            let body = if q.with_bodies {
                self.message_body(&record.id, q.reveal)
                    .await?
                    .map(|b| match String::from_utf8(b) {
                        Ok(s) => s,
                        Err(e) => format!("[binary body, {} bytes]", e.as_bytes().len()),
                    })
            } else {
                None
            };
            items.push(Found { record, body });
        }
        Ok(Page { items, next })
    }

    /// Deletes up to `batch` messages created before `before`, with their bodies; call
    /// until it returns 0 (small batches keep locks short while the gateway runs).
    pub async fn purge_messages(&self, before: Timestamp, batch: u32) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        // A write first, so SQLite takes the write lock at once.
        sqlx::query(
            "DELETE FROM message_body WHERE message_id IN (SELECT id FROM message \
             WHERE created_at < $1 ORDER BY created_at LIMIT $2)",
        )
        .bind(us(before))
        .bind(i64::from(batch.max(1)))
        .execute(&mut *tx)
        .await?;
        let n = sqlx::query(
            "DELETE FROM message WHERE id IN (SELECT id FROM message \
             WHERE created_at < $1 ORDER BY created_at LIMIT $2)",
        )
        .bind(us(before))
        .bind(i64::from(batch.max(1)))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(n)
    }

    /// Deletes up to `batch` bodies whose retention ended before `now`; call until 0.
    pub async fn purge_expired_bodies(&self, now: Timestamp, batch: u32) -> Result<u64> {
        Ok(sqlx::query(
            "DELETE FROM message_body WHERE message_id IN (SELECT message_id FROM message_body \
             WHERE expires_at < $1 LIMIT $2)",
        )
        .bind(us(now))
        .bind(i64::from(batch.max(1)))
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    /// The message log's activity since `since`, in `count` periods of `width` (oldest
    /// first; empty periods included): throughput, failures and durations for the
    /// operators' overview. One aggregate query; no bodies read.
    pub async fn activity(
        &self,
        since: Timestamp,
        width: SignedDuration,
        count: u32,
    ) -> Result<Vec<ActivityBucket>> {
        let w = width.as_micros().max(1) as i64;
        let start = us(since);
        let end = start.saturating_add(w.saturating_mul(i64::from(count)));
        let rows = sqlx::query(
            "SELECT (created_at - $1) / $2 AS b, COUNT(*) AS n, \
               CAST(COALESCE(SUM(CASE WHEN outcome IN ('rejected', 'parked') THEN 1 ELSE 0 END), 0) AS BIGINT) AS f, \
               CAST(COALESCE(SUM(CASE WHEN finished_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT) AS d, \
               CAST(COALESCE(SUM(CASE WHEN finished_at IS NOT NULL THEN finished_at - created_at ELSE 0 END), 0) AS BIGINT) AS t \
             FROM message WHERE created_at >= $1 AND created_at < $3 GROUP BY b ORDER BY b",
        )
        .bind(start)
        .bind(w)
        .bind(end)
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<ActivityBucket> = (0..count)
            .map(|i| {
                Ok(ActivityBucket {
                    start: ts(start.saturating_add(w.saturating_mul(i64::from(i))))?,
                    messages: 0,
                    failed: 0,
                    finished: 0,
                    total_ms: 0.0,
                })
            })
            .collect::<Result<_>>()?;
        for r in rows {
            let b: i64 = r.try_get(0)?;
            let Some(bucket) = usize::try_from(b).ok().and_then(|i| out.get_mut(i)) else {
                continue;
            };
            bucket.messages = u64::try_from(r.try_get::<i64, _>(1)?).unwrap_or(0);
            bucket.failed = u64::try_from(r.try_get::<i64, _>(2)?).unwrap_or(0);
            bucket.finished = u64::try_from(r.try_get::<i64, _>(3)?).unwrap_or(0);
            bucket.total_ms = r.try_get::<i64, _>(4)? as f64 / 1000.0;
        }
        Ok(out)
    }

    /// Everything the journal holds about a dossier, in time order: versions received
    /// (stale ones marked), progress steps, messages in and out (axis documents and status
    /// reports included) and the portal's acknowledgement.
    pub async fn timeline(&self, code: &str) -> Result<Vec<TimelineEntry>> {
        let mut out = Vec::new();
        let rows = sqlx::query(
            "SELECT version, recorded_at, source, outcome, status FROM dossier_version \
             WHERE code = $1",
        )
        .bind(code)
        .fetch_all(&self.pool)
        .await?;
        for r in rows {
            let version: i64 = r.try_get(0)?;
            let source: String = r.try_get(2)?;
            let outcome: String = r.try_get(3)?;
            let status = status_of(r.try_get(4)?).map_or("no status", |s| s.name());
            let stale = if outcome == "stale" {
                " — stale, not applied"
            } else {
                ""
            };
            out.push(TimelineEntry {
                at: ts(r.try_get(1)?)?,
                kind: EntryKind::Version,
                summary: format!("version {version} from {source} ({status}){stale}"),
                message_id: None,
            });
        }
        let rows = sqlx::query(
            "SELECT step_seq, recorded_at, at, status, action, acked_at FROM progress_step \
             WHERE code = $1",
        )
        .bind(code)
        .fetch_all(&self.pool)
        .await?;
        for r in rows {
            let seq: i64 = r.try_get(0)?;
            let at = ts_opt(r.try_get(2)?)?.unwrap_or(ts(r.try_get(1)?)?);
            let status = status_of(r.try_get(3)?).map_or("no status", |s| s.name());
            let action: String = r.try_get(4)?;
            let acked = if r.try_get::<Option<i64>, _>(5)?.is_some() {
                "portal acknowledged"
            } else {
                "not yet on the portal"
            };
            out.push(TimelineEntry {
                at,
                kind: EntryKind::Step,
                summary: format!("step {seq}: {action} ({status}; {acked})"),
                message_id: None,
            });
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM message WHERE dossier_code = $1 ORDER BY created_at LIMIT 10000"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(code)
            .fetch_all(&self.pool)
            .await?;
        for r in rows {
            let m = read_record(&r)?;
            let doc = m
                .doc_id
                .as_deref()
                .map(|d| format!(" document {d}"))
                .unwrap_or_default();
            let answer = match (&m.answer_code, &m.answer_message) {
                (Some(c), Some(t)) => format!("; answer {c}: {t}"),
                (Some(c), None) => format!("; answer {c}"),
                (None, Some(t)) => format!("; answer: {t}"),
                (None, None) => String::new(),
            };
            out.push(TimelineEntry {
                at: m.created_at,
                kind: EntryKind::Message,
                summary: format!(
                    "{} {} {}{doc}: {} after {} attempt(s){answer}",
                    m.direction.name(),
                    m.partner,
                    m.kind,
                    m.outcome.name(),
                    m.attempts
                ),
                message_id: Some(m.id),
            });
        }
        if let Some(r) = sqlx::query(
            "SELECT acked_version, acked_at FROM dossier WHERE code = $1 AND acked_at IS NOT NULL",
        )
        .bind(code)
        .fetch_optional(&self.pool)
        .await?
        {
            let v: i64 = r.try_get(0)?;
            out.push(TimelineEntry {
                at: ts(r.try_get(1)?)?,
                kind: EntryKind::PortalAck,
                summary: format!("portal acknowledged version {v}"),
                message_id: None,
            });
        }
        out.sort_by(|a, b| a.at.cmp(&b.at).then(a.kind.cmp(&b.kind)));
        Ok(out)
    }
}
