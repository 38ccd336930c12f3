//! `lienthong resync CODE`: compares what the journal believes the portal holds of a dossier
//! with the portal's copy (`TraCuuHoSo`), reports the differences and repairs.
//!
//! [`inspect`] reads the journal's state (desired and acknowledged version, whether the
//! portal knows the dossier, progress steps and their acknowledgements), maps the desired
//! version as the sync route would send it, asks the portal, compares member by member
//! ([`lienthong_dvcqg::compare`]) and lets the workflow decide
//! ([`lienthong_workflow::decide_resync`]). [`repair`] makes the journal forget what the
//! verdict says and enqueues a `dossier.sync` work item through the outbox, in one
//! transaction: the sync route then inserts or updates as its plan decides. Nothing is sent
//! to the portal here.
//!
//! The admin API (`POST /v1/admin/dossiers/{code}/resync`) writes the audit entry between
//! the two, so a repair never happens unaudited.

use crate::sync::{BODY_DOSSIER, PARTNER, SyncRoute};
use lienthong_dvcqg::DvcqgError;
use lienthong_dvcqg::compare::{Difference, differences};
use lienthong_journal::state::{ForgetPortal, Forgotten};
use lienthong_journal::{Journal, JournalError, Reveal};
use lienthong_workflow::{PortalCopy, Resync, ResyncView, decide_resync};
use serde_json::{Value, json};
use std::time::Duration;

/// Why a dossier could not be compared or repaired.
#[derive(Debug, thiserror::Error)]
pub enum ResyncError {
    /// The gateway has no `[dvcqg]` section (operator's configuration; retrying does not
    /// help).
    #[error("the national portal is not configured on this gateway ([dvcqg] section)")]
    NotConfigured,
    /// The journal never received the dossier (the operator's code; retrying does not help).
    #[error("the journal holds no dossier {0}")]
    Unknown(String),
    /// The journal failed.
    #[error("the journal ({}) could not answer (retry helps: {}): {}", .0.blame(), .0.retryable(), .0)]
    Journal(#[from] JournalError),
    /// The portal could not be asked.
    #[error("the portal's lookup failed ({}; retry helps: {}): {}", .0.fault, .0.retryable, .0)]
    Portal(#[from] DvcqgError),
    /// The stored version cannot be mapped (the local system's data; a new version fixes it).
    #[error("the desired version cannot be compared: {0}")]
    Unmappable(String),
    /// A route holds the dossier right now (retry in a moment).
    #[error("the dossier {0} is being synchronised right now; try again in a moment")]
    Busy(String),
}

/// The journal's side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalSide {
    /// The desired version.
    pub version: u64,
    /// The version it believes the portal acknowledged.
    pub acked_version: Option<u64>,
    /// Whether it believes the portal knows the dossier.
    pub portal_known: bool,
    /// The desired version's status, as the portal's code (`TrangThaiHoSo`).
    pub status: String,
    /// Progress steps recorded.
    pub steps: u64,
    /// Of these, acknowledged by the portal.
    pub steps_acked: u64,
}

/// The portal's side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalSide {
    /// Whether the lookup found the dossier.
    pub found: bool,
    /// Its `TrangThaiHoSo`.
    pub status: Option<String>,
    /// Progress steps, when the lookup says (`TraCuuHoSo` usually does not).
    pub steps: Option<u64>,
}

/// The comparison of one dossier.
#[derive(Debug, Clone)]
pub struct Inspection {
    /// The dossier.
    pub code: String,
    /// The journal's beliefs.
    pub journal: JournalSide,
    /// The portal's copy.
    pub portal: PortalSide,
    /// Members that differ (values of personal data hidden).
    pub differences: Vec<Difference>,
    /// The workflow's verdict.
    pub verdict: Resync,
}

/// Compares the journal's state of `code` with the portal's copy.
pub async fn inspect(
    journal: &Journal,
    route: Option<&SyncRoute>,
    code: &str,
) -> Result<Inspection, ResyncError> {
    let route = route.ok_or(ResyncError::NotConfigured)?;
    let state = journal
        .dossier_state(code)
        .await?
        .ok_or_else(|| ResyncError::Unknown(code.to_owned()))?;
    let body = journal
        .dossier_body(code, Reveal::Clear)
        .await?
        .ok_or_else(|| ResyncError::Unknown(code.to_owned()))?;
    // The ingest API stores versions in the provincial format only.
    let expected = route
        .map_dossier(BODY_DOSSIER, &body)
        .await
        .map_err(ResyncError::Unmappable)?;
    let found = route.client().lookup_dossier(code).await?;
    let steps_acked = state.steps.saturating_sub(state.steps_pending);
    let (portal, diffs) = match &found {
        None => (
            PortalSide {
                found: false,
                status: None,
                steps: None,
            },
            Vec::new(),
        ),
        Some(v) => (
            PortalSide {
                found: true,
                status: v
                    .get("TrangThaiHoSo")
                    .map(|s| s.as_str().map_or_else(|| s.to_string(), str::to_owned)),
                steps: None,
            },
            differences(&expected, v),
        ),
    };
    let view = ResyncView {
        version: state.version,
        acked_version: state.acked_version,
        portal_known: state.portal_known,
        steps: state.steps,
        steps_acked,
        portal: if portal.found {
            PortalCopy::Present {
                differing: diffs.iter().map(|d| d.field.clone()).collect(),
                steps: portal.steps,
            }
        } else {
            PortalCopy::Absent
        },
    };
    let verdict = decide_resync(&view);
    tracing::info!(dossier = %code, partner = PARTNER, found = portal.found,
        differences = diffs.len(), in_step = verdict == Resync::InStep, "dossier compared with the portal");
    Ok(Inspection {
        code: code.to_owned(),
        journal: JournalSide {
            version: state.version,
            acked_version: state.acked_version,
            portal_known: state.portal_known,
            status: expected.TrangThaiHoSo.clone(),
            steps: state.steps,
            steps_acked,
        },
        portal,
        differences: diffs,
        verdict,
    })
}

/// Makes the journal forget what the verdict says and enqueues a sync; `Ok(None)` when the
/// dossier is in step (nothing changed). While a route holds the dossier it waits up to five
/// seconds for the claim to be released, then answers [`ResyncError::Busy`].
pub async fn repair(journal: &Journal, i: &Inspection) -> Result<Option<i64>, ResyncError> {
    let Resync::Repair { forget, .. } = &i.verdict else {
        return Ok(None);
    };
    let what = ForgetPortal {
        version: forget.version,
        steps: forget.steps,
        portal_knows: forget.portal_knows,
    };
    // A route holds a dossier only while it handles one delivery: wait a moment for it.
    let mut waited = Duration::ZERO;
    loop {
        match journal
            .forget_portal(&i.code, what, jiff::Timestamp::now())
            .await?
        {
            Forgotten::Enqueued { work_item } => return Ok(Some(work_item)),
            Forgotten::Unknown => return Err(ResyncError::Unknown(i.code.clone())),
            Forgotten::Busy if waited < BUSY_WAIT => {
                tokio::time::sleep(BUSY_POLL).await;
                waited += BUSY_POLL;
            }
            Forgotten::Busy => return Err(ResyncError::Busy(i.code.clone())),
        }
    }
}

/// How long a repair waits for a route to release the dossier before answering busy.
const BUSY_WAIT: Duration = Duration::from_secs(5);
/// How often it looks meanwhile.
const BUSY_POLL: Duration = Duration::from_millis(100);

impl Inspection {
    /// The repair the verdict asks for, as JSON (`null` when in step).
    pub fn repair_json(&self) -> Value {
        match &self.verdict {
            Resync::InStep => Value::Null,
            Resync::Repair { forget, .. } => json!({
                "forget_version": forget.version,
                "forget_steps": forget.steps,
                "portal_knows": forget.portal_knows,
                "next_send": if forget.portal_knows { "update" } else { "insert" },
            }),
        }
    }

    /// The report, as the admin API answers it.
    pub fn to_json(&self) -> Value {
        let findings: &[String] = match &self.verdict {
            Resync::InStep => &[],
            Resync::Repair { findings, .. } => findings,
        };
        json!({
            "code": self.code,
            "in_step": self.verdict == Resync::InStep,
            "journal": {
                "version": self.journal.version,
                "acked_version": self.journal.acked_version,
                "portal_known": self.journal.portal_known,
                "status": self.journal.status,
                "steps": self.journal.steps,
                "steps_acked": self.journal.steps_acked,
            },
            "portal": {
                "found": self.portal.found,
                "status": self.portal.status,
                "steps": self.portal.steps,
            },
            "differences": self.differences,
            "findings": findings,
            "repair": self.repair_json(),
        })
    }
}
