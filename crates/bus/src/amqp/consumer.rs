//! Consuming: one task per queue consumed (each partition queue of a consumed route, and the
//! dead queue of every route). A task opens a channel on the current session, sets its
//! prefetch, consumes with manual acks and, when the connection is lost, waits for the next
//! session and consumes again, so a [`crate::Consumer`] keeps yielding across reconnections.
//! Also the settlement of a delivery ([`Settle`]) and the dead-queue drain into the park store.

use super::Shared;
use super::supervisor::Session;
use super::topology;
use super::wire::{self, BusHeaders};
use crate::message::Reason;
use crate::ops::{ParkedMessage, ParkedStatus};
use crate::{BusError, Delivery, Message, partition_of};
use futures_util::StreamExt;
use lapin::message::Delivery as AmqpDelivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
};
use lapin::types::FieldTable;
use lapin::{Acker, Channel};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Where the deliveries of a consumed queue go.
#[derive(Clone)]
pub(crate) enum Sink {
    /// A partition queue: deliveries to the route's [`crate::Consumer`].
    Route {
        route: String,
        tx: mpsc::Sender<Delivery>,
    },
    /// A dead queue: parked in the store.
    Dead { route: String },
}

/// Consumes `queue` until `stop` turns true (or its receiver side is gone), across
/// reconnections.
pub(crate) async fn run(
    shared: Arc<Shared>,
    queue: String,
    prefetch: u16,
    sink: Sink,
    mut stop: watch::Receiver<bool>,
) {
    let mut sessions = shared.session.subscribe();
    let mut last_generation = 0;
    loop {
        // Wait for a live session.
        let session = loop {
            if *stop.borrow() {
                return;
            }
            if let Some(s) = sessions.borrow_and_update().as_ref()
                && s.alive()
            {
                break s.clone();
            }
            tokio::select! {
                r = sessions.changed() => if r.is_err() { return },
                r = stop.changed() => if r.is_err() { return },
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        };
        if session.generation != last_generation && last_generation != 0 {
            tracing::info!(queue = %queue, generation = session.generation, "consuming again after reconnection");
        }
        last_generation = session.generation;
        match consume_once(&shared, &session, &queue, prefetch, &sink, &mut stop).await {
            Ended::Stopped => return,
            Ended::Interrupted(why) => {
                if session.alive() {
                    // The channel ended but the connection lives (queue deleted, channel
                    // error): try again shortly.
                    tracing::warn!(queue = %queue, problem = %why, "consumer interrupted; consuming again in 1 s");
                    tokio::select! {
                        _ = stop.changed() => {}
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                } else {
                    tracing::debug!(queue = %queue, problem = %why, "consumer interrupted by the connection loss");
                    session.report_trouble();
                }
            }
        }
    }
}

enum Ended {
    Stopped,
    Interrupted(String),
}

async fn open(
    session: &Session,
    queue: &str,
    prefetch: u16,
) -> Result<(Channel, lapin::Consumer), lapin::Error> {
    let ch = session.conn.create_channel().await?;
    ch.basic_qos(prefetch.max(1), BasicQosOptions { global: false })
        .await?;
    let consumer = ch
        .basic_consume(
            queue.into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok((ch, consumer))
}

async fn consume_once(
    shared: &Arc<Shared>,
    session: &Session,
    queue: &str,
    prefetch: u16,
    sink: &Sink,
    stop: &mut watch::Receiver<bool>,
) -> Ended {
    let (ch, mut consumer) = match open(session, queue, prefetch).await {
        Ok(x) => x,
        Err(e) => return Ended::Interrupted(format!("starting to consume: {e}")),
    };
    let cancel = async |ch: &Channel, consumer: &lapin::Consumer| {
        if ch.status().connected() {
            let _ = ch
                .basic_cancel(consumer.tag(), BasicCancelOptions::default())
                .await;
            let _ = ch.close(200, "consumer stopped".into()).await;
        }
    };
    loop {
        let next = tokio::select! {
            // An error means the stop sender is gone: stop as well.
            r = stop.changed() => if r.is_err() || *stop.borrow() { None } else { continue },
            n = consumer.next() => Some(n),
        };
        let Some(item) = next else {
            cancel(&ch, &consumer).await;
            return Ended::Stopped;
        };
        match item {
            Some(Ok(d)) => match sink {
                Sink::Route { route, tx } => {
                    let Some(delivery) = to_delivery(shared, route, d).await else {
                        continue;
                    };
                    tokio::select! {
                        r = tx.send(delivery) => if r.is_err() {
                            // The Consumer is gone: the delivery was dropped (released).
                            cancel(&ch, &consumer).await;
                            return Ended::Stopped;
                        },
                        _ = stop.changed() => {
                            cancel(&ch, &consumer).await;
                            return Ended::Stopped;
                        }
                    }
                }
                Sink::Dead { route } => drain_dead(shared, route, d).await,
            },
            Some(Err(e)) => return Ended::Interrupted(e.to_string()),
            None => return Ended::Interrupted("the broker ended the consumer".into()),
        }
    }
}

/// Turns an AMQP delivery into a bus delivery, fetching a claim-checked body. `None` when it
/// was handled here (claim missing: parked; store failing: released for redelivery).
async fn to_delivery(shared: &Arc<Shared>, route: &str, d: AmqpDelivery) -> Option<Delivery> {
    let table = d.properties.headers().as_ref();
    let bus = wire::decode(table);
    let id = d
        .properties
        .message_id()
        .as_ref()
        .map(|s| s.to_string())
        .unwrap_or_default();
    let mut message = Message {
        id,
        route: route.to_string(),
        key: bus.key.clone(),
        headers: wire::user_headers(table),
        body: d.data.into(),
    };
    if let Some((claim, _)) = &bus.claim {
        match shared.store.get_blob(claim).await {
            Ok(Some(body)) => message.body = body,
            Ok(None) => {
                let e = BusError::ClaimMissing {
                    id: message.id.clone(),
                    claim: claim.clone(),
                };
                tracing::error!(route, error = %e, "claim-check body missing; parking the message");
                let parked = parked_message(&message, &bus, &Reason::new(e.to_string()));
                match shared.store.park(&parked, None).await {
                    Ok(()) => {
                        let _ = d.acker.ack(BasicAckOptions::default()).await;
                    }
                    Err(e) => release_later(d.acker, route, &e),
                }
                return None;
            }
            Err(e) => {
                release_later(d.acker, route, &e);
                return None;
            }
        }
    }
    Some(Delivery {
        message,
        attempt: bus.attempt,
        redelivered: d.redelivered,
        first_error: bus.first_error.clone(),
        last_error: bus.last_error.clone(),
        max_attempts: shared.config.max_attempts,
        settle: Some(crate::message::Settle::Amqp(Settle {
            acker: Some(d.acker),
            shared: shared.clone(),
            claim: bus.claim.map(|(c, _)| c),
        })),
    })
}

/// The store failed: release the delivery for redelivery after a pause.
fn release_later(acker: Acker, route: &str, e: &BusError) {
    tracing::warn!(route, error = %e, "bus store failing; releasing the delivery for redelivery in 1 s");
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let _ = acker
            .nack(BasicNackOptions {
                multiple: false,
                requeue: true,
            })
            .await;
    });
}

fn parked_message(message: &Message, bus: &BusHeaders, reason: &Reason) -> ParkedMessage {
    ParkedMessage {
        id: message.id.clone(),
        route: message.route.clone(),
        key: message.key.clone(),
        headers: message.headers.clone(),
        body_size: bus
            .claim
            .as_ref()
            .map(|(_, size)| *size)
            .unwrap_or(message.body.len() as u64),
        claim: bus.claim.as_ref().map(|(c, _)| c.clone()),
        reason: reason.message.clone(),
        partner_code: reason.partner_code.clone().or(bus.partner_code.clone()),
        attempts: bus.attempt,
        first_error: bus.first_error.clone().or(Some(reason.message.clone())),
        last_error: Some(reason.message.clone()),
        parked_at: jiff::Timestamp::now(),
        status: ParkedStatus::Parked,
        resolved_by: None,
        resolved_at: None,
        resolution_reason: None,
    }
}

/// A message of a dead queue (delivery limit exceeded): park it, then ack.
async fn drain_dead(shared: &Arc<Shared>, route: &str, d: AmqpDelivery) {
    let table = d.properties.headers().as_ref();
    let bus = wire::decode(table);
    let count = wire::get_int(table, "x-delivery-count")
        .map(|c| c.max(0) as u64)
        .unwrap_or(u64::from(shared.config.delivery_limit) + 1);
    let message = Message {
        id: d
            .properties
            .message_id()
            .as_ref()
            .map(|s| s.to_string())
            .unwrap_or_default(),
        route: route.to_string(),
        key: bus.key.clone(),
        headers: wire::user_headers(table),
        body: bytes::Bytes::new(),
    };
    let reason = Reason::new(format!(
        "delivered {count} times without being settled (consumer crashed or lost its connection)"
    ));
    let mut parked = parked_message(&message, &bus, &reason);
    parked.first_error = bus.first_error.clone();
    parked.last_error = bus.last_error.clone();
    if bus.claim.is_none() {
        parked.body_size = d.data.len() as u64;
    }
    let body = if bus.claim.is_some() {
        None
    } else {
        Some(&d.data[..])
    };
    match shared.store.park(&parked, body).await {
        Ok(()) => {
            tracing::warn!(route, id = %parked.id, "message exceeded the delivery limit; parked");
            let _ = d.acker.ack(BasicAckOptions::default()).await;
        }
        Err(e) => release_later(d.acker, route, &e),
    }
}

/// Settles one AMQP delivery. Dropped unsettled, it releases the delivery (a requeueing nack,
/// which counts against the queue's delivery limit).
pub(crate) struct Settle {
    acker: Option<Acker>,
    shared: Arc<Shared>,
    /// The claim-check blob id, when the body travels by claim check.
    claim: Option<String>,
}

impl Drop for Settle {
    fn drop(&mut self) {
        if let Some(acker) = self.acker.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(async move {
                let _ = acker
                    .nack(BasicNackOptions {
                        multiple: false,
                        requeue: true,
                    })
                    .await;
            });
        }
    }
}

impl Settle {
    /// Acks the delivery after its durable successor exists; a failed ack (channel gone) is
    /// fine: the message is redelivered and consumers are idempotent.
    async fn ack_after_durable(&mut self, d: &Delivery) {
        if let Some(acker) = self.acker.take() {
            match acker.ack(BasicAckOptions::default()).await {
                Ok(true) => {}
                Ok(false) | Err(_) => tracing::debug!(
                    route = %d.message.route,
                    "ack not delivered (channel gone); the message will be redelivered"
                ),
            }
        }
    }

    pub(crate) async fn ack(mut self, d: &Delivery) -> Result<(), BusError> {
        let Some(acker) = self.acker.take() else {
            return Ok(());
        };
        let done = match acker.ack(BasicAckOptions::default()).await {
            Ok(true) => Ok(()),
            Ok(false) => Err("the channel of the delivery is gone".to_string()),
            Err(e) => Err(e.to_string()),
        };
        match done {
            Ok(()) => {
                self.shared.acked.fetch_add(1, Ordering::Relaxed);
                if let Some(claim) = &self.claim
                    && let Err(e) = self.shared.store.delete_blob(claim).await
                {
                    tracing::warn!(route = %d.message.route, error = %e, "deleting a claim-check body failed");
                }
                Ok(())
            }
            Err(detail) => Err(BusError::Unavailable {
                backend: "rabbitmq",
                detail: format!(
                    "ack of message {} not delivered ({detail}); it will be redelivered",
                    d.message.id
                ),
            }),
        }
    }

    pub(crate) async fn retry(
        mut self,
        d: &Delivery,
        delay: Duration,
        reason: &Reason,
    ) -> Result<Duration, BusError> {
        let shared = self.shared.clone();
        let config = &shared.config;
        let route = config.route(&d.message.route)?;
        let tier = config.delay_tier(delay);
        let partition = partition_of(&d.message.key, route.partitions);
        let bus = BusHeaders {
            route: route.name.clone(),
            key: d.message.key.clone(),
            attempt: d.attempt + 1,
            first_error: d.first_error.clone().or(Some(reason.message.clone())),
            last_error: Some(reason.message.clone()),
            partner_code: reason.partner_code.clone(),
            claim: self
                .claim
                .as_ref()
                .map(|c| (c.clone(), d.message.body.len() as u64)),
            replayed_by: None,
        };
        let out = super::publisher::Outgoing {
            id: d.message.id.clone(),
            exchange: topology::retry_queue(&config.prefix, &route.name, tier),
            routing_key: topology::partition_queue(&config.prefix, &route.name, partition),
            headers: wire::encode(&d.message.headers, &bus),
            body: if self.claim.is_some() {
                bytes::Bytes::new()
            } else {
                d.message.body.clone()
            },
        };
        // On failure `self` is dropped unsettled: the delivery is released for redelivery.
        shared.publish_confirmed(std::slice::from_ref(&out)).await?;
        tracing::info!(
            route = %route.name,
            partner = reason.partner_code.as_deref().unwrap_or(""),
            attempt = d.attempt + 1,
            delay_ms = tier.as_millis() as u64,
            "retry scheduled"
        );
        self.ack_after_durable(d).await;
        Ok(tier)
    }

    pub(crate) async fn park(mut self, d: &Delivery, reason: &Reason) -> Result<(), BusError> {
        let bus = BusHeaders {
            route: d.message.route.clone(),
            key: d.message.key.clone(),
            attempt: d.attempt,
            first_error: d.first_error.clone(),
            last_error: d.last_error.clone(),
            partner_code: None,
            claim: self
                .claim
                .as_ref()
                .map(|c| (c.clone(), d.message.body.len() as u64)),
            replayed_by: None,
        };
        let parked = parked_message(&d.message, &bus, reason);
        let body = if self.claim.is_some() {
            None
        } else {
            Some(&d.message.body[..])
        };
        // On failure `self` is dropped unsettled: the delivery is released for redelivery.
        self.shared.store.park(&parked, body).await?;
        tracing::warn!(
            route = %d.message.route,
            partner = reason.partner_code.as_deref().unwrap_or(""),
            id = %d.message.id,
            attempts = d.attempt,
            reason = %reason.message,
            "message parked"
        );
        self.ack_after_durable(d).await;
        Ok(())
    }
}
