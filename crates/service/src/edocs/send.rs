//! The `document.outbound` route: sends the documents and statuses the journal holds to the
//! axis with `sendEdoc`, and never delivers an official document twice.
//!
//! Before each `sendEdoc` the journal records a durable *intent*
//! ([`Journal::begin_send`]). The intent is cleared when the axis certainly did not take
//! the message (it answered with a refusal, or no connection was ever made), and replaced
//! by the axis's `DocId` when it did. A work item that finds an intent without a `DocId` —
//! the gateway died after `sendEdoc` and before recording its answer, or the answer was
//! lost (timeout, reset) — does not send: it lists this centre's sends
//! (`getSentEdocList`) and looks for the message (same sender, same number/notation,
//! same title, sent after the intent). Found: the send is recorded with the axis's id.
//! Not found: sent again. The axis cannot tell (it refuses the listing): the message is
//! parked for an operator, who checks with the recipient and then resends
//! (`lienthong edocs resend ID --not-sent`).

use super::{PARTNER, SEND_ROUTE};
use crate::portal::{Settled, consume_loop, journal_settlement, settle, stable_hash};
use bytes::Bytes;
use jiff::{SignedDuration, Timestamp};
use lienthong_bus::{Bus, Delivery};
use lienthong_journal::Journal;
use lienthong_journal::edocs::{EdocKind, EdocRecord, SendClaim};
use lienthong_journal::messages::{Direction, MessageRecord, Outcome};
use lienthong_vdxp::client::VdxpClient;
use lienthong_vdxp::error::{ErrorKind, VdxpError};
use lienthong_vdxp::wire::{MessageType, SentItem};
use lienthong_workflow::RetryPolicy;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tracing::Instrument;

/// How far before the recorded intent a listed send may be dated and still be ours (the
/// axis's clock and ours differ; its times have a one-second resolution).
const CLOCK_SLACK: SignedDuration = SignedDuration::from_secs(120);

/// The route.
pub struct SendRoute {
    journal: Journal,
    client: VdxpClient,
    policy: RetryPolicy,
    prefetch: u16,
}

/// Whether a failed `sendEdoc` certainly left nothing on the axis.
pub fn definitely_not_sent(e: &VdxpError) -> bool {
    match e.kind {
        // No answer, or an answer that is not the axis's: the message may have arrived.
        ErrorKind::Timeout | ErrorKind::Transport | ErrorKind::Http(_) | ErrorKind::Decode => false,
        // Never connected, refused before sending, or the axis answered with a refusal.
        ErrorKind::Connect
        | ErrorKind::InvalidRequest
        | ErrorKind::Config
        | ErrorKind::Auth
        | ErrorKind::BadRequest
        | ErrorKind::NotHosted
        | ErrorKind::UnknownDoc
        | ErrorKind::Conflict
        | ErrorKind::Undeliverable
        | ErrorKind::Partner => true,
    }
}

fn message_type(kind: EdocKind) -> MessageType {
    match kind {
        EdocKind::Edoc => MessageType::Edoc,
        EdocKind::Status => MessageType::Status,
    }
}

/// Parses the axis's `yyyy/MM/dd HH:mm:ss` (Vietnamese local time).
fn axis_time(s: &str) -> Option<Timestamp> {
    let dt = lienthong_model::time::parse_timestamp_lenient(s)?;
    jiff::tz::offset(7).to_timestamp(dt).ok()
}

/// The listed send that is `rec`'s, if any: same sender, number/notation and title, sent
/// no earlier than the intent (less the clock slack).
pub fn find_send<'a>(rec: &EdocRecord, items: &'a [SentItem]) -> Option<&'a SentItem> {
    let since = rec
        .send_started_at
        .map(|t| t.saturating_sub(CLOCK_SLACK).unwrap_or(t));
    let same = |a: &Option<String>, b: &Option<String>| {
        a.as_deref().map(str::trim).unwrap_or("") == b.as_deref().map(str::trim).unwrap_or("")
    };
    items.iter().find(|i| {
        i.sender_doc_id.as_deref().is_some_and(|d| !d.is_empty())
            && i.from_code.as_deref().map(str::trim) == Some(rec.from_organ.as_str())
            && same(&i.notation, &rec.code)
            && same(&i.title, &rec.subject)
            && match (since, i.sent_time.as_deref().and_then(axis_time)) {
                (Some(since), Some(sent)) => sent >= since,
                // A send without a readable time is taken as ours: recording a send that
                // happened is safe, sending twice is not.
                _ => true,
            }
    })
}

enum Flow {
    Settle(Settled),
    /// Try the send now (the intent is recorded).
    Send(Box<EdocRecord>),
}

impl SendRoute {
    /// A route over `journal` and `client`.
    pub fn new(journal: Journal, client: VdxpClient) -> SendRoute {
        SendRoute {
            journal,
            client,
            policy: RetryPolicy::default(),
            prefetch: 4,
        }
    }

    /// Consumes `document.outbound` until `shutdown` turns `true`.
    pub async fn run(
        self: Arc<Self>,
        bus: &Bus,
        shutdown: watch::Receiver<bool>,
    ) -> Result<(), crate::portal::PortalError> {
        let me = Arc::clone(&self);
        consume_loop(bus, SEND_ROUTE, self.prefetch, shutdown, move |d| {
            let me = Arc::clone(&me);
            async move { me.handle(d).await }
        })
        .await
    }

    /// Handles one delivery and settles it.
    pub async fn handle(&self, delivery: Delivery) -> Settled {
        let id = delivery.message.key.clone();
        let attempt = delivery.attempt;
        let seed = stable_hash(&delivery.message.id);
        let span = tracing::info_span!("edoc_send", doc_id = %id, attempt, partner = PARTNER);
        async move {
            let (s, retry_after) = self.send(&id).await;
            let delay = self.policy.delay(attempt, seed, retry_after);
            let settled = settle(SEND_ROUTE, &id, delivery, s, delay).await;
            // Parked by the route or after the last attempt: the journal says so too, so
            // `lienthong edocs list --state parked` shows it.
            if let Settled::Parked(reason) = &settled
                && let Err(e) = self
                    .journal
                    .mark_edoc_parked(&id, reason, Timestamp::now())
                    .await
            {
                tracing::warn!(doc_id = %id, error = %e, "cannot record the parking");
            }
            settled
        }
        .instrument(span)
        .await
    }

    async fn send(&self, id: &str) -> (Settled, Option<Duration>) {
        let rec = match self.claim(id).await {
            Ok(Flow::Send(rec)) => rec,
            Ok(Flow::Settle(s)) => return (s, None),
            Err(s) => return (s, None),
        };
        let kind = message_type(rec.kind);
        let sent = self
            .client
            .send_edoc(Bytes::from(rec.body.clone()), kind, None)
            .await;
        let now = Timestamp::now();
        match sent {
            Ok(doc_id) => {
                crate::metrics::edoc_sent(rec.kind.as_str(), "sent");
                if let Err(e) = self.journal.mark_sent(id, doc_id.as_str(), now).await {
                    // The intent stays: the next attempt finds the send in the axis's list.
                    return (journal_settlement(&e), None);
                }
                tracing::info!(doc_id = %id, axis_doc_id = %doc_id.as_str(), kind = rec.kind.as_str(),
                    "sent to the axis");
                self.log(&rec, Some(doc_id.as_str()), Outcome::Accepted, None, now)
                    .await;
                (Settled::Done, None)
            }
            Err(e) => {
                let definite = definitely_not_sent(&e);
                crate::metrics::edoc_sent(
                    rec.kind.as_str(),
                    if definite { "refused" } else { "uncertain" },
                );
                let why = format!(
                    "sendEdoc: {e}{}",
                    e.message().map(|m| format!(" ({m})")).unwrap_or_default()
                );
                if let Err(je) = self.journal.mark_send_failed(id, &why, definite, now).await {
                    tracing::warn!(doc_id = %id, error = %je, "cannot record a failed send");
                }
                tracing::warn!(doc_id = %id, kind = ?e.kind, fault = ?e.fault, retryable = e.retryable,
                    definite, "send to the axis failed");
                if e.retryable || !definite {
                    // Not definite and not retryable (an acceptance without DocId): the
                    // next attempt asks the axis before anything else.
                    (Settled::Retry(why), e.retry_after)
                } else {
                    self.log(&rec, None, Outcome::Rejected, Some(&why), now)
                        .await;
                    (
                        Settled::Parked(format!(
                            "{why}; fault: {:?}; the message cannot be sent as it is",
                            e.fault
                        )),
                        None,
                    )
                }
            }
        }
    }

    /// Claims the message for a send: `Send` once the intent is durable.
    async fn claim(&self, id: &str) -> Result<Flow, Settled> {
        let now = Timestamp::now();
        let claim = self
            .journal
            .begin_send(id, now)
            .await
            .map_err(|e| journal_settlement(&e))?;
        match claim {
            SendClaim::Missing => {
                tracing::warn!(doc_id = %id, "no such outgoing message in the journal");
                Ok(Flow::Settle(Settled::Parked(format!(
                    "no outgoing message {id} in the journal"
                ))))
            }
            SendClaim::Sent { axis_doc_id } => {
                tracing::debug!(doc_id = %id, %axis_doc_id, "already sent");
                Ok(Flow::Settle(Settled::Done))
            }
            SendClaim::Parked => Ok(Flow::Settle(Settled::Done)),
            SendClaim::Fresh(rec) => Ok(Flow::Send(Box::new(rec))),
            SendClaim::Uncertain(rec) => self.check_uncertain(id, rec).await,
        }
    }

    /// An earlier attempt may have reached the axis: ask before sending again.
    async fn check_uncertain(&self, id: &str, rec: EdocRecord) -> Result<Flow, Settled> {
        let listed = self.client.list_sent(message_type(rec.kind)).await;
        let now = Timestamp::now();
        match listed {
            Ok(items) => {
                if let Some(found) = find_send(&rec, &items) {
                    let axis_id = found.sender_doc_id.clone().unwrap_or_default();
                    tracing::info!(doc_id = %id, axis_doc_id = %axis_id,
                        "an interrupted send had reached the axis; recorded, not sent again");
                    crate::metrics::edoc_sent(rec.kind.as_str(), "recovered");
                    self.journal
                        .mark_sent(id, &axis_id, now)
                        .await
                        .map_err(|e| journal_settlement(&e))?;
                    self.log(&rec, Some(&axis_id), Outcome::Accepted, None, now)
                        .await;
                    return Ok(Flow::Settle(Settled::Done));
                }
                tracing::info!(doc_id = %id,
                    "an interrupted send did not reach the axis; sending again");
                self.journal
                    .mark_send_failed(id, "interrupted send not found on the axis", true, now)
                    .await
                    .map_err(|e| journal_settlement(&e))?;
                match self
                    .journal
                    .begin_send(id, now)
                    .await
                    .map_err(|e| journal_settlement(&e))?
                {
                    SendClaim::Fresh(rec) => Ok(Flow::Send(Box::new(rec))),
                    SendClaim::Sent { .. } | SendClaim::Parked => Ok(Flow::Settle(Settled::Done)),
                    SendClaim::Missing | SendClaim::Uncertain(_) => Ok(Flow::Settle(
                        Settled::Retry(format!("outgoing message {id} changed under the route")),
                    )),
                }
            }
            Err(e) if e.retryable => Ok(Flow::Settle(Settled::Retry(format!(
                "an earlier send may have reached the axis and it cannot be asked now: {e}"
            )))),
            Err(e) => Ok(Flow::Settle(Settled::Parked(format!(
                "an earlier send of this message may have reached the axis, and the axis \
                 does not say ({e}); check with the recipient, then `lienthong edocs resend \
                 {id} --not-sent` to send it, or leave it"
            )))),
        }
    }

    async fn log(
        &self,
        rec: &EdocRecord,
        axis_id: Option<&str>,
        outcome: Outcome,
        answer: Option<&str>,
        now: Timestamp,
    ) {
        let kind = match rec.kind {
            EdocKind::Edoc => super::BODY_EDOC,
            EdocKind::Status => super::BODY_STATUS,
        };
        let mut m = MessageRecord::new(
            format!("out-{PARTNER}-{}", rec.id),
            Direction::Out,
            PARTNER,
            kind,
            &rec.body,
            rec.created_at,
        );
        m.route = Some(SEND_ROUTE.into());
        m.dossier_code = rec.dossier_code.clone();
        m.doc_id = Some(rec.document_id.clone());
        m.outcome = outcome;
        m.attempts = rec.attempts;
        m.last_attempt_at = Some(now);
        m.finished_at = Some(now);
        m.answer_code = axis_id.map(|a| format!("DocId {a}"));
        m.answer_message = answer.map(str::to_owned);
        if let Err(e) = self.journal.log_message(&m, Some(&rec.body)).await {
            tracing::warn!(doc_id = %rec.id, error = %e, "cannot log the message");
        }
    }
}
