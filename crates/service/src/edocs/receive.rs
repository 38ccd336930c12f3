//! The receiving loops of `vdxp.md` §8 and the agency directory sync.
//!
//! Exactly one node polls the axis: the loop takes the journal lease [`POLLER_LEASE`]
//! before each pass (renewing it while it keeps it); the other nodes wait and take over
//! when the lease expires. One pass, for documents then statuses:
//!
//! 1. `getReceivedEdocList`;
//! 2. an item whose axis `docId` the journal already holds (a crash after step 4) goes
//!    straight to step 5;
//! 3. `getEdoc` (on failure: the item comes back with the next pass; no `updateStatus`);
//!    the bytes are logged before they are parsed;
//! 4. read leniently; not edXML, or not the kind the list said → `updateStatus fail`,
//!    logged as rejected; else recorded in the journal with its delivery work item, a
//!    status correlated with the document it is about;
//! 5. the side effects, each idempotent: status 01 composed for a new document (when
//!    configured), a progress step for a status about a document linked to a dossier;
//!    then `updateStatus done`, recorded.
//!
//! The agency directory (`getAgenciesList`, `getAgenciesListQD20`, `getSynchronizeUnit`)
//! is synced into the journal by the same lease holder, on its own schedule, with the
//! configured aliases of merged units.

use super::progress::{About, step_of};
use super::{BODY_EDOC, BODY_STATUS, EdocSettings, PARTNER, POLLER_LEASE, StatusRequest};
use crate::relay::pause;
use bytes::Bytes;
use jiff::{SignedDuration, Timestamp};
use lienthong_edxml::Message;
use lienthong_journal::Journal;
use lienthong_journal::agencies::AgencyRow;
use lienthong_journal::edocs::{EdocKind, EdocRecord, InRecorded, IncomingEdoc};
use lienthong_journal::messages::{Direction, MessageRecord, Outcome};
use lienthong_journal::state::IncomingStep;
use lienthong_model::KnownStatus;
use lienthong_vdxp::client::VdxpClient;
use lienthong_vdxp::wire::{DeliveryStatus, DocId, MessageType, ReceivedItem};
use std::sync::Arc;
use tokio::sync::watch;

/// The receiving side.
pub struct Receiver {
    journal: Journal,
    client: VdxpClient,
    settings: Arc<EdocSettings>,
    health: Arc<super::PartnerHealth>,
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Whether this node held the lease (else nothing was done).
    pub leader: bool,
    /// New messages recorded.
    pub received: u32,
    /// Items already recorded (only acknowledged to the axis again).
    pub repeated: u32,
    /// Messages answered `fail`.
    pub unusable: u32,
    /// Items left for the next pass (a call failed).
    pub deferred: u32,
}

impl Receiver {
    /// A receiver over `journal` and `client`.
    pub fn new(journal: Journal, client: VdxpClient, settings: Arc<EdocSettings>) -> Receiver {
        let health = Arc::new(super::PartnerHealth::new(settings.poll_interval));
        Receiver {
            journal,
            client,
            settings,
            health,
        }
    }

    /// What the loop last saw of the axis (for the operators' overview).
    pub fn health(&self) -> Arc<super::PartnerHealth> {
        Arc::clone(&self.health)
    }

    fn lease_ttl(&self) -> SignedDuration {
        SignedDuration::try_from(self.settings.poll_interval * 3)
            .unwrap_or(SignedDuration::from_secs(30))
            .saturating_add(SignedDuration::from_secs(30))
    }

    /// Runs the loops until `shutdown`; releases the lease on the way out.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        tracing::info!(partner = PARTNER, node = %self.settings.node, "axis receiver started");
        let mut next_agencies = tokio::time::Instant::now();
        loop {
            if *shutdown.borrow() {
                break;
            }
            let report = self.pass().await;
            if report.leader
                && let Some(every) = self.settings.agencies_sync
                && tokio::time::Instant::now() >= next_agencies
            {
                next_agencies = tokio::time::Instant::now() + every;
                if let Err(e) = self.sync_agencies().await {
                    tracing::warn!(partner = PARTNER, error = %e, "agency directory sync failed");
                }
            }
            if pause(&mut shutdown, self.settings.poll_interval).await {
                break;
            }
        }
        if let Err(e) = self
            .journal
            .release_lease(POLLER_LEASE, &self.settings.node)
            .await
        {
            tracing::warn!(error = %e, "cannot release the poller lease");
        }
        tracing::info!(partner = PARTNER, "axis receiver stopped");
    }

    /// One pass over both lists, if this node holds (or takes) the lease.
    pub async fn pass(&self) -> PassReport {
        let mut report = PassReport::default();
        match self
            .journal
            .acquire_lease(
                POLLER_LEASE,
                &self.settings.node,
                self.lease_ttl(),
                Timestamp::now(),
            )
            .await
        {
            Ok(true) => report.leader = true,
            Ok(false) => {
                self.health.standby();
                return report;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot take the poller lease; not polling");
                return report;
            }
        }
        for kind in [MessageType::Edoc, MessageType::Status] {
            let items = match self.client.get_received_list(kind, None).await {
                Ok(items) => {
                    self.health.ok(Timestamp::now());
                    items
                }
                Err(e) => {
                    self.health.failed(
                        Timestamp::now(),
                        format!("getReceivedEdocList: {:?} ({:?})", e.kind, e.fault),
                    );
                    tracing::warn!(partner = PARTNER, kind = kind.as_str(), error = %e,
                        retryable = e.retryable, "getReceivedEdocList failed; next pass");
                    continue;
                }
            };
            for item in items {
                self.take(kind, &item, &mut report).await;
            }
        }
        report
    }

    async fn take(&self, listed: MessageType, item: &ReceivedItem, report: &mut PassReport) {
        let axis_id = item.doc_id.as_str();
        match self.journal.edoc_by_axis_id(axis_id).await {
            Ok(Some(rec)) => {
                report.repeated += 1;
                if rec.axis_ack.is_none() {
                    self.finish(&rec, &item.doc_id, report).await;
                } else {
                    // Acknowledged before and listed again: say it once more.
                    self.acknowledge(&rec.id, &item.doc_id, DeliveryStatus::Done, None)
                        .await;
                }
                return;
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "journal unavailable; the item waits for the next pass");
                report.deferred += 1;
                return;
            }
        }
        let bytes = match self.client.get_edoc(&item.doc_id).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(partner = PARTNER, axis_doc_id = %axis_id, error = %e,
                    "getEdoc failed; the item waits for the next pass");
                report.deferred += 1;
                return;
            }
        };
        let now = Timestamp::now();
        let log_id = format!("in-{PARTNER}-{axis_id}");
        let kind_name = match listed {
            MessageType::Edoc => BODY_EDOC,
            MessageType::Status => BODY_STATUS,
        };
        // The bytes are durable before they are parsed.
        let mut log = MessageRecord::new(
            log_id.clone(),
            Direction::In,
            PARTNER,
            kind_name,
            &bytes,
            now,
        );
        log.route = Some("vdxp.receive".into());
        log.attempts = 1;
        if let Err(e) = self.journal.log_message(&log, Some(&bytes)).await {
            tracing::warn!(error = %e, "cannot log a received message; it waits for the next pass");
            report.deferred += 1;
            return;
        }
        let facts = match facts_of(listed, item, &bytes) {
            Ok(f) => f,
            Err(why) => {
                // The reason may quote the message: it goes to the journal, not the log.
                tracing::warn!(partner = PARTNER, axis_doc_id = %axis_id,
                    "unusable message; answered fail (reason in the message log)");
                report.unusable += 1;
                crate::metrics::edoc_received(listed.as_str(), "unusable");
                log.outcome = Outcome::Rejected;
                log.finished_at = Some(now);
                log.answer_message = Some(why.clone());
                let _ = self.journal.log_message(&log, None).await;
                let description: String = why.chars().filter(char::is_ascii).take(200).collect();
                if let Err(e) = self
                    .client
                    .update_status(&item.doc_id, DeliveryStatus::Fail, Some(description.trim()))
                    .await
                {
                    tracing::warn!(partner = PARTNER, axis_doc_id = %axis_id, error = %e,
                        "updateStatus fail failed; the item comes back");
                }
                return;
            }
        };
        let id = format!("in-{}", super::new_uuid());
        let recorded = self
            .journal
            .record_incoming(&IncomingEdoc {
                id: &id,
                kind: facts.kind,
                axis_doc_id: axis_id,
                document_id: &facts.document_id,
                business_type: facts.business_type,
                status_code: facts.status_code.as_deref(),
                code: facts.code.as_deref(),
                subject: facts.subject.as_deref(),
                from_organ: &facts.from,
                to_organs: &facts.to,
                body: &bytes,
                at: now,
            })
            .await;
        let dossier = match &recorded {
            Ok(InRecorded::New { related, .. }) => {
                report.received += 1;
                crate::metrics::edoc_received(facts.kind.as_str(), "received");
                if let Some(c) = &facts.status_code {
                    crate::metrics::edoc_status("in", c);
                }
                tracing::info!(partner = PARTNER, doc_id = %id, axis_doc_id = %axis_id,
                    kind = facts.kind.as_str(), status = facts.status_code.as_deref().unwrap_or(""),
                    related = related.as_ref().map_or("", |r| r.id.as_str()),
                    "received from the axis");
                related.as_ref().and_then(|r| r.dossier_code.clone())
            }
            Ok(InRecorded::Duplicate { .. }) => None,
            Err(e) => {
                tracing::warn!(error = %e, "cannot record a received message; next pass");
                report.deferred += 1;
                return;
            }
        };
        log.outcome = Outcome::Accepted;
        log.finished_at = Some(Timestamp::now());
        log.doc_id = Some(facts.document_id.clone());
        log.dossier_code = dossier;
        let _ = self.journal.log_message(&log, None).await;
        match self.journal.edoc_by_axis_id(axis_id).await {
            Ok(Some(rec)) => self.finish(&rec, &item.doc_id, report).await,
            Ok(None) => report.deferred += 1,
            Err(e) => {
                tracing::warn!(error = %e, "journal unavailable after recording; next pass");
                report.deferred += 1;
            }
        }
    }

    /// The side effects of a recorded message (idempotent), then `updateStatus done`.
    async fn finish(&self, rec: &EdocRecord, axis_id: &DocId, report: &mut PassReport) {
        let ok = match rec.kind {
            EdocKind::Edoc => self.arrival_status(rec).await,
            EdocKind::Status => self.progress_step(rec).await,
        };
        if !ok {
            report.deferred += 1;
            return;
        }
        self.acknowledge(&rec.id, axis_id, DeliveryStatus::Done, None)
            .await;
    }

    async fn acknowledge(
        &self,
        id: &str,
        axis_id: &DocId,
        status: DeliveryStatus,
        description: Option<&str>,
    ) {
        match self
            .client
            .update_status(axis_id, status, description)
            .await
        {
            Ok(()) => {
                if let Err(e) = self
                    .journal
                    .mark_axis_done(id, status.as_str(), Timestamp::now())
                    .await
                {
                    tracing::warn!(doc_id = %id, error = %e, "cannot record updateStatus");
                }
            }
            Err(e) => {
                tracing::warn!(partner = PARTNER, doc_id = %id, axis_doc_id = %axis_id.as_str(),
                error = %e, "updateStatus failed; the item comes back with the next pass")
            }
        }
    }

    /// Status 01 for a document that arrived (when configured); `false` when it could not
    /// be recorded (the item stays unacknowledged and comes back).
    async fn arrival_status(&self, rec: &EdocRecord) -> bool {
        if !self.settings.arrival_status {
            return true;
        }
        let Ok(Some(full)) = self
            .journal
            .edoc(&rec.id, lienthong_journal::Reveal::Clear)
            .await
        else {
            return false;
        };
        let req = StatusRequest {
            code: KnownStatus::Received,
            description: Some("Đã đến".into()),
            staff: None,
            idempotency_key: None,
            client: None,
        };
        match super::record_status(&self.journal, &self.settings, &full, &req).await {
            Ok(_) => true,
            Err(super::StatusError::Journal(e)) => {
                tracing::warn!(doc_id = %rec.id, error = %e, "cannot record status 01; next pass");
                false
            }
            Err(e) => {
                // The document cannot be answered (e.g. no sender): it is still taken.
                tracing::warn!(doc_id = %rec.id, error = %e, "no status 01 for this document");
                true
            }
        }
    }

    /// The progress step of a status about a document linked to a dossier.
    async fn progress_step(&self, rec: &EdocRecord) -> bool {
        let Some(related) = rec.related_id.as_deref() else {
            return true;
        };
        let about = match self
            .journal
            .edoc(related, lienthong_journal::Reveal::Masked)
            .await
        {
            Ok(Some(a)) => a,
            Ok(None) => return true,
            Err(e) => {
                tracing::warn!(error = %e, "journal unavailable; next pass");
                return false;
            }
        };
        let Some(dossier) = about.dossier_code.as_deref() else {
            return true;
        };
        let full = match self
            .journal
            .edoc(&rec.id, lienthong_journal::Reveal::Clear)
            .await
        {
            Ok(Some(f)) => f,
            Ok(None) => return true,
            Err(e) => {
                tracing::warn!(error = %e, "journal unavailable; next pass");
                return false;
            }
        };
        let Ok(parsed) = lienthong_edxml::read(Bytes::from(full.body)) else {
            return true;
        };
        let Message::Status(m) = parsed.message else {
            return true;
        };
        let Some(step) = step_of(
            &self.settings.progress,
            dossier,
            &m.status,
            &About {
                code: about.code.as_deref(),
                subject: about.subject.as_deref(),
            },
            rec.created_at,
        ) else {
            return true;
        };
        let body = lienthong_provincial::write::progress_json(&step);
        match self
            .journal
            .record_step(&IncomingStep {
                step: &step,
                body: body.as_bytes(),
                body_kind: crate::sync::BODY_PROGRESS,
                source: PARTNER,
                at: rec.created_at,
            })
            .await
        {
            Ok(r) => {
                tracing::info!(dossier = %dossier, doc_id = %rec.id, step_seq = step.step_seq,
                    recorded = ?r, "axis status recorded as dossier progress");
                true
            }
            Err(e) if e.retryable() => {
                tracing::warn!(dossier = %dossier, error = %e, "cannot record the step; next pass");
                false
            }
            Err(e) => {
                tracing::warn!(dossier = %dossier, error = %e, "the step cannot be recorded");
                true
            }
        }
    }

    /// Syncs the agency directory into the journal; returns the number of agencies.
    pub async fn sync_agencies(&self) -> Result<u64, String> {
        let now = Timestamp::now();
        let mut rows: Vec<AgencyRow> = Vec::new();
        let mut errors = Vec::new();
        let upsert = |rows: &mut Vec<AgencyRow>, row: AgencyRow| match rows
            .iter_mut()
            .find(|r| r.code == row.code)
        {
            Some(r) => merge(r, row),
            None => rows.push(row),
        };
        match self.client.get_synchronize_unit().await {
            Ok(list) => {
                for u in list {
                    let Some(code) = u.code.filter(|c| !c.trim().is_empty()) else {
                        continue;
                    };
                    upsert(
                        &mut rows,
                        AgencyRow {
                            code: code.trim().to_owned(),
                            name: u.name,
                            mail: u.mail,
                            pid: u.pid,
                            old_code: None,
                            code102: None,
                            level: None,
                            center_code: u.center_code,
                            is_agency: u.is_agency,
                            deleted: u.deleted.unwrap_or(false),
                            version: u.version,
                            modified: u.modify_date,
                        },
                    );
                }
            }
            Err(e) => errors.push(format!("getSynchronizeUnit: {e}")),
        }
        match self.client.get_agencies().await {
            Ok(list) => {
                for a in list {
                    let Some(code) = a.code.filter(|c| !c.trim().is_empty()) else {
                        continue;
                    };
                    upsert(
                        &mut rows,
                        AgencyRow {
                            code: code.trim().to_owned(),
                            name: a.name,
                            mail: a.mail,
                            pid: a.pid,
                            old_code: a.old_code.filter(|c| !c.trim().is_empty()),
                            code102: None,
                            level: None,
                            center_code: None,
                            is_agency: None,
                            deleted: false,
                            version: None,
                            modified: None,
                        },
                    );
                }
            }
            Err(e) => errors.push(format!("getAgenciesList: {e}")),
        }
        match self.client.get_agencies_qd20("1").await {
            Ok(list) => {
                for a in list {
                    let Some(code) = a.code.filter(|c| !c.trim().is_empty()) else {
                        continue;
                    };
                    upsert(
                        &mut rows,
                        AgencyRow {
                            code: code.trim().to_owned(),
                            name: a.name,
                            mail: a.mail,
                            pid: None,
                            old_code: None,
                            code102: a.code102.filter(|c| !c.trim().is_empty()),
                            level: Some(1),
                            center_code: None,
                            is_agency: None,
                            deleted: false,
                            version: None,
                            modified: None,
                        },
                    );
                }
            }
            Err(e) => errors.push(format!("getAgenciesListQD20: {e}")),
        }
        if let Err(e) = self
            .journal
            .set_config_aliases(&self.settings.aliases)
            .await
        {
            errors.push(format!("journal (aliases): {e}"));
        }
        if rows.is_empty() {
            return if errors.is_empty() {
                Ok(0)
            } else {
                Err(errors.join("; "))
            };
        }
        let n = self
            .journal
            .upsert_agencies(&rows, PARTNER, now)
            .await
            .map_err(|e| format!("journal: {e}"))?;
        tracing::info!(
            partner = PARTNER,
            agencies = n,
            failed_lists = errors.len(),
            "agency directory synced"
        );
        if errors.is_empty() {
            Ok(n)
        } else {
            Err(format!("{n} agencies synced, but: {}", errors.join("; ")))
        }
    }
}

/// Fills the fields of `into` that `from` knows and `into` does not.
fn merge(into: &mut AgencyRow, from: AgencyRow) {
    fn fill<T>(a: &mut Option<T>, b: Option<T>) {
        if a.is_none() {
            *a = b;
        }
    }
    fill(&mut into.name, from.name);
    fill(&mut into.mail, from.mail);
    fill(&mut into.pid, from.pid);
    fill(&mut into.old_code, from.old_code);
    fill(&mut into.code102, from.code102);
    fill(&mut into.level, from.level);
    fill(&mut into.center_code, from.center_code);
    fill(&mut into.is_agency, from.is_agency);
    fill(&mut into.version, from.version);
    fill(&mut into.modified, from.modified);
    into.deleted = into.deleted || from.deleted;
}

/// What the journal records of a received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// Document or status.
    pub kind: EdocKind,
    /// The edXML `DocumentId` (of the document a status is about).
    pub document_id: String,
    /// `BussinessDocType` of a document.
    pub business_type: Option<u32>,
    /// The status code (two digits).
    pub status_code: Option<String>,
    /// `number/notation`.
    pub code: Option<String>,
    /// Subject (document) or description (status).
    pub subject: Option<String>,
    /// The sender organisation.
    pub from: String,
    /// The recipient organisations on this side.
    pub to: Vec<String>,
}

/// Reads a received message: its facts, or why it is unusable.
pub fn facts_of(listed: MessageType, item: &ReceivedItem, bytes: &Bytes) -> Result<Facts, String> {
    let parsed = lienthong_edxml::read(bytes.clone()).map_err(|e| format!("not edXML: {e}"))?;
    let kind = parsed.message.kind();
    if kind != listed.as_str() {
        return Err(format!(
            "listed as {} but the message is a {kind} message",
            listed.as_str()
        ));
    }
    let listed_to = item
        .to
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    match parsed.message {
        Message::Edoc(m) => {
            let d = m.document;
            let document_id = d
                .document_id
                .as_ref()
                .map(|i| i.as_str().to_owned())
                .filter(|i| !i.trim().is_empty())
                .ok_or("the document has no DocumentId")?;
            let from = d
                .from
                .as_ref()
                .and_then(|o| o.organ_id.as_ref())
                .map(|c| c.as_str().to_owned())
                .ok_or("the document has no From/OrganId")?;
            let mut to: Vec<String> = listed_to.into_iter().collect();
            if to.is_empty() {
                to =
                    d.to.iter()
                        .filter_map(|o| o.organ_id.as_ref().map(|c| c.as_str().to_owned()))
                        .collect();
            }
            Ok(Facts {
                kind: EdocKind::Edoc,
                document_id,
                business_type: d
                    .business
                    .as_ref()
                    .and_then(|b| b.doc_type())
                    .map(|t| t.code()),
                status_code: None,
                code: d.code.as_ref().and_then(|c| c.joined()),
                subject: d.subject.clone(),
                from,
                to,
            })
        }
        Message::Status(m) => {
            let s = m.status;
            let rf = s.response_for.clone().unwrap_or_default();
            let document_id = rf
                .document_id
                .as_ref()
                .map(|i| i.as_str().to_owned())
                .filter(|i| !i.trim().is_empty())
                .ok_or("the status has no ResponseFor/DocumentId")?;
            let code = s
                .status_code
                .as_ref()
                .and_then(|c| c.normalized())
                .ok_or("the status has no StatusCode")?;
            let from = s
                .from
                .as_ref()
                .and_then(|o| o.organ_id.as_ref())
                .map(|c| c.as_str().to_owned())
                .ok_or("the status has no From/OrganId")?;
            let to = listed_to
                .or_else(|| rf.organ_id.as_ref().map(|c| c.as_str().to_owned()))
                .into_iter()
                .collect();
            Ok(Facts {
                kind: EdocKind::Status,
                document_id,
                business_type: None,
                status_code: Some(code),
                code: rf.code.clone(),
                subject: s.description.clone(),
                from,
                to,
            })
        }
    }
}
