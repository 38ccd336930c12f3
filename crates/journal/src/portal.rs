//! Portal submissions: dossiers citizens submitted on the national portal itself, pushed to
//! the gateway, delivered to the provincial system, and whose processing status goes back to
//! the portal.
//!
//! * [`Journal::record_submission`] keeps one row per portal dossier code, with the body as
//!   received (personal fields encrypted), and writes its `portal.delivery` work item in the
//!   same transaction. A second push of the same code changes nothing.
//! * The provincial system takes a submission by pulling and acknowledging it, or through a
//!   webhook; [`Journal::mark_submission_delivered`] records the first delivery only.
//!   [`Journal::undelivered_submissions`] lists what is still waiting, oldest first.
//! * When the province records a version or a step of a dossier whose code is a portal
//!   submission, [`Journal::record_version`] and [`Journal::record_step`] also write a
//!   `portal.status` work item (same transaction). The route reads [`Journal::portal_status`]
//!   (the last status the portal accepted a report of, and the current one) and records an
//!   accepted report with [`Journal::mark_status_reported`].

use crate::Journal;
use crate::crypto::Reveal;
use crate::error::{JournalError, Result};
use crate::outbox::insert_work_item;
use crate::state::{sha256_hex, status_code, status_of};
use crate::time::{ts, ts_opt, us};
use jiff::Timestamp;
use lienthong_model::DossierStatus;
use sqlx::{Any, Row, Transaction};

/// Kind of the work item "deliver this portal submission to the provincial system".
pub const KIND_PORTAL_DELIVERY: &str = "portal.delivery";
/// Kind of the work item "report this portal submission's status to the portal".
pub const KIND_PORTAL_STATUS: &str = "portal.status";

/// A portal submission as received.
#[derive(Debug, Clone, Copy)]
pub struct IncomingSubmission<'a> {
    /// The portal's dossier code.
    pub code: &'a str,
    /// The unit it is for, when known.
    pub unit_code: Option<&'a str>,
    /// The procedure code.
    pub procedure_code: &'a str,
    /// The body as received (the portal's dossier object).
    pub body: &'a [u8],
    /// What the body is (`dvcqg.dossier`).
    pub body_kind: &'a str,
    /// Who pushed it (`dvcqg`).
    pub source: &'a str,
    /// When it arrived.
    pub at: Timestamp,
}

/// What recording a submission did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubmissionRecorded {
    /// New: recorded with its delivery work item.
    New {
        /// The work item's id.
        work_item: i64,
    },
    /// This code was recorded before: nothing changed.
    Duplicate,
}

/// One portal submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// The portal's dossier code.
    pub code: String,
    /// The unit it is for, when known.
    pub unit_code: Option<String>,
    /// The procedure code.
    pub procedure_code: String,
    /// The body (personal values as the reader may see them).
    pub body: Vec<u8>,
    /// What the body is.
    pub body_kind: String,
    /// When it arrived.
    pub received_at: Timestamp,
    /// When the provincial system took it.
    pub delivered_at: Option<Timestamp>,
    /// The client that took it.
    pub delivered_to: Option<String>,
    /// `pull` or `webhook`.
    pub delivered_via: Option<String>,
    /// The last status whose report the portal accepted.
    pub status_reported: Option<DossierStatus>,
}

/// What the status route needs to know about a portal submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalStatus {
    /// The last status whose report the portal accepted (`None`: nothing reported yet).
    pub last_reported: Option<DossierStatus>,
    /// The current status: of the latest recorded among the dossier's latest version and its
    /// latest step that carries a status (`None`: the province recorded no status yet).
    pub current: Option<DossierStatus>,
    /// When the current status was reached (the step's time, else when it was recorded).
    pub at: Option<Timestamp>,
    /// The step's text, when the current status comes from a step.
    pub text: String,
}

/// Writes a `portal.status` work item in `tx` when `code` is a portal submission.
pub(crate) async fn insert_status_work_if_submitted(
    tx: &mut Transaction<'static, Any>,
    code: &str,
    reason: &str,
    at: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO outbox (kind, dossier_code, reason, created_at, attempts) \
         SELECT $1, $2, $3, $4, 0 WHERE EXISTS \
           (SELECT 1 FROM portal_submission WHERE code = $2)",
    )
    .bind(KIND_PORTAL_STATUS)
    .bind(code)
    .bind(reason)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

const COLUMNS: &str = "code, unit_code, procedure_code, body, body_kind, received_at, \
    delivered_at, delivered_to, delivered_via, status_reported";

impl Journal {
    fn submission_of(&self, r: &sqlx::any::AnyRow, reveal: Reveal) -> Result<Submission> {
        let body: Vec<u8> = r.try_get(3)?;
        Ok(Submission {
            code: r.try_get(0)?,
            unit_code: r.try_get(1)?,
            procedure_code: r.try_get(2)?,
            body: self.protector.reveal(&body, reveal)?,
            body_kind: r.try_get(4)?,
            received_at: ts(r.try_get(5)?)?,
            delivered_at: ts_opt(r.try_get(6)?)?,
            delivered_to: r.try_get(7)?,
            delivered_via: r.try_get(8)?,
            status_reported: status_of(r.try_get(9)?),
        })
    }

    /// Records a portal submission and its `portal.delivery` work item in one transaction;
    /// a code recorded before changes nothing.
    pub async fn record_submission(
        &self,
        s: &IncomingSubmission<'_>,
    ) -> Result<SubmissionRecorded> {
        if s.code.trim().is_empty() {
            return Err(JournalError::Invalid(
                "portal submission without a code".into(),
            ));
        }
        let stored = self.protector.protect(s.body)?;
        let at = us(s.at);
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO portal_submission (code, unit_code, procedure_code, body, body_kind, \
               body_sha256, source, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (code) DO NOTHING",
        )
        .bind(s.code)
        .bind(s.unit_code)
        .bind(s.procedure_code)
        .bind(stored)
        .bind(s.body_kind)
        .bind(sha256_hex(s.body))
        .bind(s.source)
        .bind(at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            tx.commit().await?;
            tracing::debug!(dossier = %s.code, "portal submission received before");
            return Ok(SubmissionRecorded::Duplicate);
        }
        let work_item =
            insert_work_item(&mut tx, KIND_PORTAL_DELIVERY, s.code, "submitted", at).await?;
        tx.commit().await?;
        self.work_committed();
        tracing::debug!(dossier = %s.code, work_item, "portal submission recorded");
        Ok(SubmissionRecorded::New { work_item })
    }

    /// One portal submission.
    pub async fn submission(&self, code: &str, reveal: Reveal) -> Result<Option<Submission>> {
        let sql = format!("SELECT {COLUMNS} FROM portal_submission WHERE code = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(code)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| self.submission_of(&r, reveal)).transpose()
    }

    /// Submissions not delivered yet, oldest first, for the units given (`None`: every
    /// submission, those of unknown units included), at most `limit`.
    pub async fn undelivered_submissions(
        &self,
        units: Option<&[String]>,
        limit: u32,
        reveal: Reveal,
    ) -> Result<Vec<Submission>> {
        let mut sql = format!("SELECT {COLUMNS} FROM portal_submission WHERE delivered_at IS NULL");
        if let Some(units) = units {
            if units.is_empty() {
                return Ok(Vec::new());
            }
            let marks: Vec<String> = (0..units.len()).map(|i| format!("${}", i + 2)).collect();
            sql.push_str(&format!(" AND unit_code IN ({})", marks.join(", ")));
        }
        sql.push_str(" ORDER BY received_at, code LIMIT $1");
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(i64::from(limit));
        for u in units.unwrap_or_default() {
            q = q.bind(u.clone());
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter().map(|r| self.submission_of(r, reveal)).collect()
    }

    /// Submissions for an operator's overview, newest first, at most `limit`: only those not
    /// delivered yet when `undelivered`, only those of `unit` when given. Bodies are masked.
    pub async fn recent_submissions(
        &self,
        unit: Option<&str>,
        undelivered: bool,
        limit: u32,
    ) -> Result<Vec<Submission>> {
        let mut sql = format!("SELECT {COLUMNS} FROM portal_submission WHERE 1 = 1");
        if undelivered {
            sql.push_str(" AND delivered_at IS NULL");
        }
        if unit.is_some() {
            sql.push_str(" AND unit_code = $2");
        }
        sql.push_str(" ORDER BY received_at DESC, code DESC LIMIT $1");
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(i64::from(limit));
        if let Some(u) = unit {
            q = q.bind(u.to_owned());
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| self.submission_of(r, Reveal::Masked))
            .collect()
    }

    /// The provincial system took the submission (`via` `pull` or `webhook`, `to` the
    /// client). Only the first delivery is recorded; `false` when it was delivered before
    /// or is unknown.
    pub async fn mark_submission_delivered(
        &self,
        code: &str,
        to: &str,
        via: &str,
        at: Timestamp,
    ) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE portal_submission SET delivered_at = $2, delivered_to = $3, \
               delivered_via = $4 WHERE code = $1 AND delivered_at IS NULL",
        )
        .bind(code)
        .bind(us(at))
        .bind(to)
        .bind(via)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n > 0)
    }

    /// The reported and the current status of a portal submission; `None` when `code` is
    /// not one.
    pub async fn portal_status(&self, code: &str) -> Result<Option<PortalStatus>> {
        let Some(reported) =
            sqlx::query("SELECT status_reported FROM portal_submission WHERE code = $1")
                .bind(code)
                .fetch_optional(&self.pool)
                .await?
        else {
            return Ok(None);
        };
        let last_reported = status_of(reported.try_get(0)?);
        let version = sqlx::query(
            "SELECT status, recorded_at FROM dossier WHERE code = $1 AND status IS NOT NULL",
        )
        .bind(code)
        .fetch_optional(&self.pool)
        .await?;
        let step = sqlx::query(
            "SELECT status, recorded_at, at, action FROM progress_step \
             WHERE code = $1 AND status IS NOT NULL ORDER BY step_seq DESC LIMIT 1",
        )
        .bind(code)
        .fetch_optional(&self.pool)
        .await?;
        let version = match version {
            Some(r) => Some((status_of(r.try_get(0)?), r.try_get::<i64, _>(1)?)),
            None => None,
        };
        let step = match step {
            Some(r) => {
                let recorded: i64 = r.try_get(1)?;
                let at: Option<i64> = r.try_get(2)?;
                Some((
                    status_of(r.try_get(0)?),
                    recorded,
                    at.unwrap_or(recorded),
                    r.try_get::<String, _>(3)?,
                ))
            }
            None => None,
        };
        let mut status = PortalStatus {
            last_reported,
            current: None,
            at: None,
            text: String::new(),
        };
        // The later recorded of the two tells the current status; a tie goes to the step.
        match (version, step) {
            (Some((current, recorded)), s) if s.as_ref().is_none_or(|s| s.1 < recorded) => {
                status.current = current;
                status.at = Some(ts(recorded)?);
            }
            (_, Some((current, _, at, text))) => {
                status.current = current;
                status.at = Some(ts(at)?);
                status.text = text;
            }
            (_, None) => {}
        }
        Ok(Some(status))
    }

    /// The portal accepted the report of `status`.
    pub async fn mark_status_reported(
        &self,
        code: &str,
        status: DossierStatus,
        at: Timestamp,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE portal_submission SET status_reported = $2, status_reported_at = $3 \
             WHERE code = $1",
        )
        .bind(code)
        .bind(status_code(status))
        .bind(us(at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
