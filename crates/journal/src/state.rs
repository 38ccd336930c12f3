//! Dossier state, the source of truth for sync with the national portal.
//!
//! Per dossier the journal keeps the latest version received (the *desired* state, with its
//! body), the latest version the portal acknowledged, and whether the portal knows the
//! dossier at all (which decides between insert and update). Per progress step it keeps
//! whether the portal acknowledged it. Every version received is recorded in
//! `dossier_version`; an older version than the current one is recorded as `stale` and never
//! becomes the desired state; the same version twice is a duplicate.
//!
//! A change of state and the work item it causes (`dossier.sync` in the outbox) are written
//! in one transaction (and, for a dossier citizens submitted on the portal, the
//! `portal.status` work item that reports its status back: [`crate::portal`]). A route that takes the work item does not send "the message it got":
//! it claims the dossier ([`Journal::begin_sync`]), sends what the plan says is missing,
//! acknowledges what the portal accepted, and releases the claim. The order in which bus
//! messages arrive therefore does not matter, and the portal never sees an older version
//! after a newer one: versions only move forward, one route at a time per dossier.

use crate::Journal;
use crate::crypto::Reveal;
use crate::error::{JournalError, Result};
use crate::outbox::{KIND_DOSSIER_SYNC, insert_work_item};
use crate::portal::insert_status_work_if_submitted;
use crate::stats::agency_of;
use crate::time::{ts, ts_opt, us, us_opt};
use jiff::{SignedDuration, Timestamp};
use lienthong_model::{Channel, Dossier, DossierStatus, ProgressStep};
use sha2::{Digest, Sha256};
use sqlx::Row;

/// A dossier version as received from a one-stop-shop system (or a ministry).
#[derive(Debug, Clone, Copy)]
pub struct IncomingVersion<'a> {
    /// The version, read by the format crate (facts for statistics and search).
    pub dossier: &'a Dossier,
    /// The body as received (what the route will send on, after mapping).
    pub body: &'a [u8],
    /// What the body is (`provincial.dossier`, …).
    pub body_kind: &'a str,
    /// The partner that sent it.
    pub source: &'a str,
    /// When it was received.
    pub at: Timestamp,
}

/// A progress step as received.
#[derive(Debug, Clone, Copy)]
pub struct IncomingStep<'a> {
    /// The step, read by the format crate.
    pub step: &'a ProgressStep,
    /// The body as received.
    pub body: &'a [u8],
    /// What the body is (`provincial.progress`, …).
    pub body_kind: &'a str,
    /// The partner that sent it.
    pub source: &'a str,
    /// When it was received.
    pub at: Timestamp,
}

/// What recording a version did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// The version is the new desired state; a work item was written with it.
    Current {
        /// The work item's id.
        work_item: i64,
    },
    /// An older version than the current one: recorded, not the desired state.
    Stale {
        /// The current version.
        current: u64,
    },
    /// This version was recorded before: nothing changed.
    Duplicate,
}

/// What recording a progress step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepRecorded {
    /// A new step; a work item was written with it.
    New {
        /// The work item's id.
        work_item: i64,
    },
    /// This step was recorded before: nothing changed.
    Duplicate,
}

/// The state of one dossier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DossierState {
    /// Dossier code.
    pub code: String,
    /// Latest version received (desired state).
    pub version: u64,
    /// When it was recorded.
    pub recorded_at: Timestamp,
    /// Partner that sent it.
    pub source: String,
    /// Latest version the portal acknowledged.
    pub acked_version: Option<u64>,
    /// When.
    pub acked_at: Option<Timestamp>,
    /// Whether the portal knows the dossier (an update, not an insert, is due).
    pub portal_known: bool,
    /// Since when the desired state is ahead of the portal (`None`: in sync).
    pub ahead_since: Option<Timestamp>,
    /// Status of the latest version.
    pub status: Option<DossierStatus>,
    /// Progress steps recorded.
    pub steps: u64,
    /// Progress steps the portal has not acknowledged.
    pub steps_pending: u64,
    /// The receiving unit of the latest version (for scope checks).
    pub unit_code: Option<String>,
}

/// Insert or update on the portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortalOperation {
    /// The portal does not know the dossier yet.
    Insert,
    /// The portal knows it.
    Update,
}

/// A version the route must send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionToSend {
    /// The version.
    pub version: u64,
    /// Its body (personal data decrypted: this goes to the portal).
    pub body: Vec<u8>,
    /// What the body is.
    pub body_kind: String,
    /// Insert or update.
    pub operation: PortalOperation,
}

/// A progress step the route must send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepToSend {
    /// Its position.
    pub step_seq: u64,
    /// Its body.
    pub body: Vec<u8>,
    /// What the body is.
    pub body_kind: String,
}

/// What is missing on the portal for one dossier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncPlan {
    /// Dossier code.
    pub code: String,
    /// The desired version (latest received) at the time of the claim.
    pub desired_version: u64,
    /// The latest version the portal acknowledged, at the time of the claim.
    pub acked_version: Option<u64>,
    /// Whether the portal knew the dossier at the time of the claim.
    pub portal_known: bool,
    /// The desired version, when the portal has not acknowledged it.
    pub version: Option<VersionToSend>,
    /// Steps not acknowledged, in `step_seq` order. Send them after the version (the portal
    /// must know the dossier first).
    pub steps: Vec<StepToSend>,
}

impl SyncPlan {
    /// Whether nothing is missing.
    pub fn is_empty(&self) -> bool {
        self.version.is_none() && self.steps.is_empty()
    }
}

/// What [`Journal::forget_portal`] is to forget about a dossier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForgetPortal {
    /// Forget the acknowledged version (it is sent again).
    pub version: bool,
    /// Forget every step acknowledgement (every step is sent again).
    pub steps: bool,
    /// Whether the portal knows the dossier from now on (`false`: the next send inserts).
    pub portal_knows: bool,
}

/// What [`Journal::forget_portal`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forgotten {
    /// Forgotten, and a `dossier.sync` work item written in the same transaction.
    Enqueued {
        /// The work item's id.
        work_item: i64,
    },
    /// A route holds the dossier right now: nothing changed (ask again in a moment).
    Busy,
    /// No version of the dossier was received.
    Unknown,
}

/// The answer to a claim on a dossier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncClaim {
    /// Claimed: what to send. Release with [`Journal::end_sync`].
    Plan(SyncPlan),
    /// Another route holds the claim; its work item covers this one.
    Busy,
    /// No version of the dossier has been received yet (steps wait for it).
    Unknown,
}

pub(crate) fn status_code(s: DossierStatus) -> i64 {
    DossierStatus::ALL
        .iter()
        .position(|x| *x == s)
        .map_or(0, |i| i as i64 + 1)
}

pub(crate) fn status_of(code: Option<i64>) -> Option<DossierStatus> {
    let c = code?;
    if c < 1 {
        return None;
    }
    DossierStatus::ALL.get(c as usize - 1).copied()
}

pub(crate) fn channel_code(c: Channel) -> i64 {
    Channel::ALL
        .iter()
        .position(|x| *x == c)
        .map_or(0, |i| i as i64 + 1)
}

pub(crate) fn to_i64(v: u64, what: &str) -> Result<i64> {
    i64::try_from(v).map_err(|_| JournalError::Invalid(format!("{what} {v} is too large")))
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in d.iter() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

impl Journal {
    /// Records a dossier version: the new desired state and its work item in one
    /// transaction, or a stale version / a duplicate that changes nothing.
    pub async fn record_version(&self, v: &IncomingVersion<'_>) -> Result<Recorded> {
        let d = v.dossier;
        if d.code.trim().is_empty() {
            return Err(JournalError::Invalid("dossier without a code".into()));
        }
        let version = to_i64(d.version, "version")?;
        let stored_body = self.protector.protect(v.body)?;
        let at = us(v.at);
        let status = d.status.map(status_code);
        let mut tx = self.pool.begin().await?;
        // The first statement writes, so SQLite takes the write lock at once.
        let inserted = sqlx::query(
            "INSERT INTO dossier_version \
             (code, version, recorded_at, source, outcome, status, body_sha256, body_size) \
             VALUES ($1, $2, $3, $4, 'current', $5, $6, $7) \
             ON CONFLICT (code, version) DO NOTHING",
        )
        .bind(&d.code)
        .bind(version)
        .bind(at)
        .bind(v.source)
        .bind(status)
        .bind(sha256_hex(v.body))
        .bind(v.body.len() as i64)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            tx.commit().await?;
            tracing::debug!(dossier = %d.code, version = d.version, "duplicate version");
            return Ok(Recorded::Duplicate);
        }
        let unit_code = d.unit.code.as_deref();
        let updated = sqlx::query(
            "INSERT INTO dossier (code, version, body, body_kind, source, recorded_at, \
               ahead_since, agency_code, unit_code, unit_name, procedure_code, status, channel, \
               submitted_at, received_at, due_at, finished_at, returned_at, refused_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9, $10, $11, $12, \
               $13, $14, $15, $16, $17, $18) \
             ON CONFLICT (code) DO UPDATE SET version = excluded.version, body = excluded.body, \
               body_kind = excluded.body_kind, source = excluded.source, \
               recorded_at = excluded.recorded_at, \
               ahead_since = COALESCE(dossier.ahead_since, excluded.ahead_since), \
               agency_code = excluded.agency_code, unit_code = excluded.unit_code, \
               unit_name = excluded.unit_name, procedure_code = excluded.procedure_code, \
               status = excluded.status, channel = excluded.channel, \
               submitted_at = excluded.submitted_at, received_at = excluded.received_at, \
               due_at = excluded.due_at, finished_at = excluded.finished_at, \
               returned_at = excluded.returned_at, refused_at = excluded.refused_at \
             WHERE dossier.version < excluded.version",
        )
        .bind(&d.code)
        .bind(version)
        .bind(stored_body)
        .bind(v.body_kind)
        .bind(v.source)
        .bind(at)
        .bind(unit_code.map(agency_of))
        .bind(unit_code)
        .bind(d.unit.name.as_deref())
        .bind(&d.procedure.code)
        .bind(status)
        .bind(d.channel.map(channel_code))
        .bind(us_opt(d.submitted_at))
        .bind(us_opt(d.received_at))
        .bind(us_opt(d.due_at))
        .bind(us_opt(d.finished_at))
        .bind(us_opt(d.returned_at))
        .bind(us_opt(d.refused_at))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            sqlx::query(
                "UPDATE dossier_version SET outcome = 'stale' WHERE code = $1 AND version = $2",
            )
            .bind(&d.code)
            .bind(version)
            .execute(&mut *tx)
            .await?;
            let current: i64 = sqlx::query_scalar("SELECT version FROM dossier WHERE code = $1")
                .bind(&d.code)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            tracing::info!(dossier = %d.code, version = d.version, current, "stale version recorded");
            return Ok(Recorded::Stale {
                current: current as u64,
            });
        }
        let work_item =
            insert_work_item(&mut tx, KIND_DOSSIER_SYNC, &d.code, "version", at).await?;
        insert_status_work_if_submitted(&mut tx, &d.code, "version", at).await?;
        tx.commit().await?;
        self.work_committed();
        tracing::debug!(dossier = %d.code, version = d.version, work_item, "version recorded");
        Ok(Recorded::Current { work_item })
    }

    /// Records a progress step and its work item in one transaction.
    pub async fn record_step(&self, s: &IncomingStep<'_>) -> Result<StepRecorded> {
        let p = s.step;
        if p.dossier_code.trim().is_empty() {
            return Err(JournalError::Invalid(
                "progress step without a dossier code".into(),
            ));
        }
        let seq = to_i64(p.step_seq, "step_seq")?;
        let stored_body = self.protector.protect(s.body)?;
        let at = us(s.at);
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO progress_step (code, step_seq, body, body_kind, source, recorded_at, \
               at, status, action, department) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (code, step_seq) DO NOTHING",
        )
        .bind(&p.dossier_code)
        .bind(seq)
        .bind(stored_body)
        .bind(s.body_kind)
        .bind(s.source)
        .bind(at)
        .bind(us_opt(p.at))
        .bind(p.status.map(status_code))
        .bind(&p.action)
        .bind(p.handler.department.as_deref())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            tx.commit().await?;
            return Ok(StepRecorded::Duplicate);
        }
        let work_item =
            insert_work_item(&mut tx, KIND_DOSSIER_SYNC, &p.dossier_code, "step", at).await?;
        insert_status_work_if_submitted(&mut tx, &p.dossier_code, "step", at).await?;
        tx.commit().await?;
        self.work_committed();
        tracing::debug!(dossier = %p.dossier_code, step_seq = p.step_seq, work_item, "step recorded");
        Ok(StepRecorded::New { work_item })
    }

    /// The state of a dossier, if any version was received.
    pub async fn dossier_state(&self, code: &str) -> Result<Option<DossierState>> {
        let Some(r) = sqlx::query(
            "SELECT code, version, recorded_at, source, acked_version, acked_at, \
               portal_known_at, ahead_since, status, \
               (SELECT COUNT(*) FROM progress_step p WHERE p.code = d.code), \
               (SELECT COUNT(*) FROM progress_step p WHERE p.code = d.code \
                  AND p.acked_at IS NULL), \
               unit_code \
             FROM dossier d WHERE code = $1",
        )
        .bind(code)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        Ok(Some(DossierState {
            code: r.try_get(0)?,
            version: r.try_get::<i64, _>(1)? as u64,
            recorded_at: ts(r.try_get(2)?)?,
            source: r.try_get(3)?,
            acked_version: r.try_get::<Option<i64>, _>(4)?.map(|v| v as u64),
            acked_at: ts_opt(r.try_get(5)?)?,
            portal_known: r.try_get::<Option<i64>, _>(6)?.is_some(),
            ahead_since: ts_opt(r.try_get(7)?)?,
            status: status_of(r.try_get(8)?),
            steps: r.try_get::<i64, _>(9)? as u64,
            steps_pending: r.try_get::<i64, _>(10)? as u64,
            unit_code: r.try_get(11)?,
        }))
    }

    /// The body of the desired version, as a reader may see it.
    pub async fn dossier_body(&self, code: &str, reveal: Reveal) -> Result<Option<Vec<u8>>> {
        let body: Option<Vec<u8>> = sqlx::query_scalar("SELECT body FROM dossier WHERE code = $1")
            .bind(code)
            .fetch_optional(&self.pool)
            .await?;
        body.map(|b| self.protector.reveal(&b, reveal)).transpose()
    }

    /// Claims a dossier for reconciliation by `owner` until `now + lease`, and returns
    /// what the portal lacks. Keep the lease longer than the calls to the portal take; a
    /// claim whose lease ran out may be taken by another route.
    pub async fn begin_sync(
        &self,
        code: &str,
        owner: &str,
        lease: SignedDuration,
        now: Timestamp,
    ) -> Result<SyncClaim> {
        let until = us(now.saturating_add(lease).unwrap_or(now));
        let claimed = sqlx::query(
            "UPDATE dossier SET sync_owner = $2, sync_until = $3 WHERE code = $1 \
             AND (sync_owner IS NULL OR sync_owner = $2 OR sync_until < $4)",
        )
        .bind(code)
        .bind(owner)
        .bind(until)
        .bind(us(now))
        .execute(&self.pool)
        .await?
        .rows_affected();
        if claimed == 0 {
            let exists: Option<i64> =
                sqlx::query_scalar("SELECT version FROM dossier WHERE code = $1")
                    .bind(code)
                    .fetch_optional(&self.pool)
                    .await?;
            return Ok(if exists.is_some() {
                SyncClaim::Busy
            } else {
                SyncClaim::Unknown
            });
        }
        let r = sqlx::query(
            "SELECT version, body, body_kind, acked_version, portal_known_at \
             FROM dossier WHERE code = $1",
        )
        .bind(code)
        .fetch_one(&self.pool)
        .await?;
        let version: i64 = r.try_get(0)?;
        let acked: Option<i64> = r.try_get(3)?;
        let known = r.try_get::<Option<i64>, _>(4)?.is_some();
        let to_send = if acked.is_none_or(|a| a < version) {
            let body: Vec<u8> = r.try_get(1)?;
            Some(VersionToSend {
                version: version as u64,
                body: self.protector.reveal(&body, Reveal::Clear)?,
                body_kind: r.try_get(2)?,
                operation: if known {
                    PortalOperation::Update
                } else {
                    PortalOperation::Insert
                },
            })
        } else {
            None
        };
        let rows = sqlx::query(
            "SELECT step_seq, body, body_kind FROM progress_step \
             WHERE code = $1 AND acked_at IS NULL ORDER BY step_seq",
        )
        .bind(code)
        .fetch_all(&self.pool)
        .await?;
        let mut steps = Vec::with_capacity(rows.len());
        for r in rows {
            let body: Vec<u8> = r.try_get(1)?;
            steps.push(StepToSend {
                step_seq: r.try_get::<i64, _>(0)? as u64,
                body: self.protector.reveal(&body, Reveal::Clear)?,
                body_kind: r.try_get(2)?,
            });
        }
        Ok(SyncClaim::Plan(SyncPlan {
            code: code.to_owned(),
            desired_version: version as u64,
            acked_version: acked.map(|a| a as u64),
            portal_known: known,
            version: to_send,
            steps,
        }))
    }

    /// The portal acknowledged `version`: it knows the dossier from now on. An older
    /// acknowledgement than the one recorded changes nothing.
    pub async fn ack_version(&self, code: &str, version: u64, at: Timestamp) -> Result<bool> {
        let v = to_i64(version, "version")?;
        let n = sqlx::query(
            "UPDATE dossier SET acked_version = $2, acked_at = $3, \
               portal_known_at = COALESCE(portal_known_at, $3), \
               ahead_since = CASE WHEN version <= $2 THEN NULL ELSE ahead_since END \
             WHERE code = $1 AND (acked_version IS NULL OR acked_version < $2)",
        )
        .bind(code)
        .bind(v)
        .bind(us(at))
        .execute(&self.pool)
        .await?
        .rows_affected();
        tracing::debug!(dossier = %code, version, changed = n > 0, "portal acknowledged version");
        Ok(n > 0)
    }

    /// The portal already knows the dossier (it answered "duplicate" to an insert).
    pub async fn mark_portal_known(&self, code: &str, at: Timestamp) -> Result<()> {
        sqlx::query(
            "UPDATE dossier SET portal_known_at = COALESCE(portal_known_at, $2) WHERE code = $1",
        )
        .bind(code)
        .bind(us(at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The portal acknowledged a progress step.
    pub async fn ack_step(&self, code: &str, step_seq: u64, at: Timestamp) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE progress_step SET acked_at = $3 \
             WHERE code = $1 AND step_seq = $2 AND acked_at IS NULL",
        )
        .bind(code)
        .bind(to_i64(step_seq, "step_seq")?)
        .bind(us(at))
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n > 0)
    }

    /// Forgets what the journal believes the portal acknowledged of a dossier, as `what`
    /// says, and writes a `dossier.sync` work item (reason `resync`) in the same
    /// transaction, so the sync route plans from the corrected beliefs. Refused with
    /// [`Forgotten::Busy`] while a route holds the dossier (its acknowledgements would
    /// land after the correction).
    pub async fn forget_portal(
        &self,
        code: &str,
        what: ForgetPortal,
        now: Timestamp,
    ) -> Result<Forgotten> {
        let at = us(now);
        let mut tx = self.pool.begin().await?;
        let changed = sqlx::query(
            "UPDATE dossier SET \
               acked_version = CASE WHEN $2 = 1 THEN NULL ELSE acked_version END, \
               acked_at = CASE WHEN $2 = 1 THEN NULL ELSE acked_at END, \
               portal_known_at = CASE WHEN $3 = 1 THEN COALESCE(portal_known_at, $4) \
                 ELSE NULL END, \
               ahead_since = CASE WHEN $2 = 1 OR $5 = 1 THEN COALESCE(ahead_since, $4) \
                 ELSE ahead_since END \
             WHERE code = $1 AND (sync_owner IS NULL OR sync_until < $4)",
        )
        .bind(code)
        .bind(i64::from(what.version))
        .bind(i64::from(what.portal_knows))
        .bind(at)
        .bind(i64::from(what.steps))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            let exists: Option<i64> =
                sqlx::query_scalar("SELECT version FROM dossier WHERE code = $1")
                    .bind(code)
                    .fetch_optional(&mut *tx)
                    .await?;
            tx.commit().await?;
            return Ok(if exists.is_some() {
                Forgotten::Busy
            } else {
                Forgotten::Unknown
            });
        }
        if what.steps {
            sqlx::query("UPDATE progress_step SET acked_at = NULL WHERE code = $1")
                .bind(code)
                .execute(&mut *tx)
                .await?;
        }
        let work_item = insert_work_item(&mut tx, KIND_DOSSIER_SYNC, code, "resync", at).await?;
        tx.commit().await?;
        self.work_committed();
        tracing::info!(dossier = %code, version = what.version, steps = what.steps,
            portal_knows = what.portal_knows, work_item, "portal acknowledgements forgotten");
        Ok(Forgotten::Enqueued { work_item })
    }

    /// Extends a claim `owner` holds to `now + lease`; `false` when it does not hold it any
    /// more (its lease ran out and another route took the dossier, or it was released).
    /// A route renews before each call, so a claim outlives a slow plan but not its holder.
    pub async fn renew_sync(
        &self,
        code: &str,
        owner: &str,
        lease: SignedDuration,
        now: Timestamp,
    ) -> Result<bool> {
        let until = us(now.saturating_add(lease).unwrap_or(now));
        let renewed =
            sqlx::query("UPDATE dossier SET sync_until = $3 WHERE code = $1 AND sync_owner = $2")
                .bind(code)
                .bind(owner)
                .bind(until)
                .execute(&self.pool)
                .await?
                .rows_affected();
        Ok(renewed == 1)
    }

    /// Releases a claim taken with [`Journal::begin_sync`].
    pub async fn end_sync(&self, code: &str, owner: &str) -> Result<()> {
        sqlx::query(
            "UPDATE dossier SET sync_owner = NULL, sync_until = NULL \
             WHERE code = $1 AND sync_owner = $2",
        )
        .bind(code)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Dossiers whose desired state is ahead of the portal (oldest first), for operators.
    pub async fn dossiers_ahead(&self, limit: u32) -> Result<Vec<(String, Timestamp)>> {
        let rows = sqlx::query(
            "SELECT code, ahead_since FROM dossier WHERE ahead_since IS NOT NULL \
             ORDER BY ahead_since LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| Ok((r.try_get(0)?, ts(r.try_get(1)?)?)))
            .collect()
    }
}
