//! The `document.inbound` route: pushes the documents and statuses that arrived over the
//! axis to the webhook of the local document system that serves their recipient, signed
//! like portal submissions (`x-lienthong-timestamp`, `x-lienthong-signature: sha256=…`
//! over `timestamp.body`, `x-lienthong-delivery`: the bus message id). A refusal or no
//! answer is retried with back-off and parked after the last attempt; without a webhook
//! for the recipient the message waits for the pull API (`GET /v1/edocs/inbox`). Only the
//! first delivery is recorded: a message taken by pull is not pushed again.

use super::{DELIVER_ROUTE, delivery_json};
use crate::portal::{
    Settled, WebhookTarget, consume_loop, journal_settlement, push, settle, stable_hash,
};
use jiff::Timestamp;
use lienthong_bus::{Bus, Delivery};
use lienthong_journal::{Journal, Reveal};
use lienthong_workflow::RetryPolicy;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tracing::Instrument;

/// The route.
pub struct DeliverRoute {
    journal: Journal,
    http: reqwest::Client,
    webhooks: Vec<WebhookTarget>,
    policy: RetryPolicy,
}

impl DeliverRoute {
    /// A route pushing to `webhooks`, each call bounded by `timeout`.
    pub fn new(
        journal: Journal,
        webhooks: Vec<WebhookTarget>,
        timeout: Duration,
    ) -> Result<DeliverRoute, String> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("lienthong/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(DeliverRoute {
            journal,
            http,
            webhooks,
            policy: RetryPolicy::default(),
        })
    }

    /// Consumes `document.inbound` until `shutdown` turns `true`.
    pub async fn run(
        self: Arc<Self>,
        bus: &Bus,
        shutdown: watch::Receiver<bool>,
    ) -> Result<(), crate::portal::PortalError> {
        let me = Arc::clone(&self);
        consume_loop(bus, DELIVER_ROUTE, 4, shutdown, move |d| {
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
        let span = tracing::info_span!("edoc_deliver", doc_id = %id, attempt);
        async move {
            let (s, retry_after) = self.deliver(&id, &delivery.message.id).await;
            let delay = self.policy.delay(attempt, seed, retry_after);
            settle(DELIVER_ROUTE, &id, delivery, s, delay).await
        }
        .instrument(span)
        .await
    }

    async fn deliver(&self, id: &str, message_id: &str) -> (Settled, Option<Duration>) {
        let rec = match self.journal.edoc(id, Reveal::Clear).await {
            Ok(Some(r)) => r,
            Ok(None) => {
                return (
                    Settled::Parked(format!("no received message {id} in the journal")),
                    None,
                );
            }
            Err(e) => return (journal_settlement(&e), None),
        };
        if rec.delivered_at.is_some() {
            return (Settled::Done, None);
        }
        let Some(hook) = self
            .webhooks
            .iter()
            .find(|w| rec.to_organs.iter().any(|t| w.serves(Some(t))))
        else {
            tracing::debug!(doc_id = %id, "no webhook for the recipient; waits for the pull API");
            return (Settled::Done, None);
        };
        let body = delivery_json(&rec).to_string().into_bytes();
        if let Err(failed) = push(&self.http, hook, body, message_id).await {
            tracing::warn!(doc_id = %id, partner = %hook.client, reason = %failed.0,
                "webhook push of a received message failed; retrying later");
            return (Settled::Retry(failed.0), failed.1);
        }
        match self
            .journal
            .mark_edoc_delivered(id, &hook.client, "webhook", Timestamp::now())
            .await
        {
            Ok(_) => {
                crate::metrics::edoc_received(rec.kind.as_str(), "delivered");
                tracing::info!(doc_id = %id, partner = %hook.client,
                    "received message delivered (webhook)");
                (Settled::Done, None)
            }
            Err(e) => (journal_settlement(&e), None),
        }
    }
}
