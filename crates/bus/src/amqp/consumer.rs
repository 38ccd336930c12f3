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
use backon::{BackoffBuilder, ExponentialBuilder};
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
    // Bounded for the same reason as acks: a call on a connection cut under it may never end.
    let (ch, mut consumer) = match tokio::time::timeout(
        super::supervisor::CONNECT_TIMEOUT,
        open(session, queue, prefetch),
    )
    .await
    {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => return Ended::Interrupted(format!("starting to consume: {e}")),
        Err(_) => {
            session.report_trouble();
            return Ended::Interrupted(format!(
                "starting to consume: no answer within {} s",
                super::supervisor::CONNECT_TIMEOUT.as_secs()
            ));
        }
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
                    let Some(delivery) = to_delivery(shared, route, d, &ch, stop).await else {
                        if *stop.borrow() {
                            cancel(&ch, &consumer).await;
                            return Ended::Stopped;
                        }
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
                Sink::Dead { route } => {
                    drain_dead(shared, route, d, &ch, stop).await;
                    if *stop.borrow() {
                        cancel(&ch, &consumer).await;
                        return Ended::Stopped;
                    }
                }
            },
            Some(Err(e)) => return Ended::Interrupted(e.to_string()),
            None => return Ended::Interrupted("the broker ended the consumer".into()),
        }
    }
}

/// Turns an AMQP delivery into a bus delivery, fetching a claim-checked body. `None` when it
/// was handled here (claim missing: parked and acked) or left to the broker (the bus or the
/// consumer stopped, or the channel closed, while the store was failing).
///
/// A failing store never sends the delivery back to the queue (a requeue would count against
/// the delivery limit, let later messages of the same key overtake it and finally park it as
/// "not settled"): the delivery is held and the store call retried until it succeeds.
async fn to_delivery(
    shared: &Arc<Shared>,
    route: &str,
    d: AmqpDelivery,
    ch: &Channel,
    stop: &mut watch::Receiver<bool>,
) -> Option<Delivery> {
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
        let held = Held {
            route,
            id: &message.id,
            ch,
        };
        let fetched = held
            .retry("fetching a claim-check body", stop, || {
                shared.store.get_blob(claim)
            })
            .await?;
        match fetched {
            Some(body) => message.body = body,
            None => {
                let e = BusError::ClaimMissing {
                    id: message.id.clone(),
                    claim: claim.clone(),
                };
                tracing::error!(route, id = %message.id, error = %e, "claim-check body missing; parking the message");
                // The error of this attempt: it becomes the last error (and the first one when
                // there was none). The partner code stays the one of the latest failed attempt.
                let text = e.to_string();
                let mut parked = parked_message(&message, &bus, &text, bus.partner_code.clone());
                parked.first_error = bus.first_error.clone().or(Some(text.clone()));
                parked.last_error = Some(text);
                let parked = &parked;
                held.retry("parking a message", stop, || {
                    shared.store.park(parked, None)
                })
                .await?;
                let _ = settle_bounded(d.acker.ack(BasicAckOptions::default())).await;
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

/// Pause between store attempts while a delivery is held: exponential from 100 ms, capped at
/// 10 s, with jitter, forever.
fn store_backoff() -> impl Iterator<Item = Duration> {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(10))
        .with_jitter()
        .without_max_times()
        .build()
}

/// A delivery held while a store call is retried.
struct Held<'a> {
    route: &'a str,
    id: &'a str,
    /// The channel of the delivery: once it is closed the broker redelivers the message, so
    /// holding it is pointless.
    ch: &'a Channel,
}

impl Held<'_> {
    /// Runs `op` until it succeeds, logging each failure. `None` when `stop` turned true or
    /// the channel closed meanwhile (the delivery is then left unsettled, to the broker).
    async fn retry<T, F: Future<Output = Result<T, BusError>>>(
        &self,
        what: &str,
        stop: &mut watch::Receiver<bool>,
        mut op: impl FnMut() -> F,
    ) -> Option<T> {
        let mut delays = store_backoff();
        loop {
            match op().await {
                Ok(v) => return Some(v),
                Err(e) => {
                    let delay = delays.next().unwrap_or(Duration::from_secs(10));
                    tracing::warn!(
                        route = self.route,
                        id = self.id,
                        error = %e,
                        retry_in_ms = delay.as_millis() as u64,
                        "bus store failing while {what}; holding the delivery and trying again"
                    );
                    tokio::select! {
                        r = stop.changed() => if r.is_err() || *stop.borrow() {
                            return None;
                        },
                        _ = tokio::time::sleep(delay) => {}
                    }
                    if *stop.borrow() || !self.ch.status().connected() {
                        tracing::info!(
                            route = self.route,
                            id = self.id,
                            "stopped holding a delivery (consumer stopped or channel closed); \
                             the broker will deliver it again"
                        );
                        return None;
                    }
                }
            }
        }
    }
}

/// The parked record of a message: the publisher's headers (no `x-lienthong-*` header),
/// `reason` as the reason, `partner_code` as given; the errors are those carried by the
/// message (callers set them for the case at hand).
fn parked_message(
    message: &Message,
    bus: &BusHeaders,
    reason: &str,
    partner_code: Option<String>,
) -> ParkedMessage {
    let mut headers = message.headers.clone();
    headers.retain(|k, _| !k.starts_with("x-lienthong-"));
    ParkedMessage {
        id: message.id.clone(),
        route: message.route.clone(),
        key: message.key.clone(),
        headers,
        body_size: bus
            .claim
            .as_ref()
            .map(|(_, size)| *size)
            .unwrap_or(message.body.len() as u64),
        claim: bus.claim.as_ref().map(|(c, _)| c.clone()),
        reason: reason.to_string(),
        partner_code,
        attempts: bus.attempt,
        first_error: bus.first_error.clone(),
        last_error: bus.last_error.clone(),
        parked_at: jiff::Timestamp::now(),
        status: ParkedStatus::Parked,
        resolved_by: None,
        resolved_at: None,
        resolution_reason: None,
    }
}

/// A message of a dead queue (delivery limit exceeded): park it, then ack. While the store
/// fails the delivery is held (never requeued: the dead queue has no dead-letter target, and a
/// delivery limit — RabbitMQ 4.x gives quorum queues one by default — would drop it).
async fn drain_dead(
    shared: &Arc<Shared>,
    route: &str,
    d: AmqpDelivery,
    ch: &Channel,
    stop: &mut watch::Receiver<bool>,
) {
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
    let reason = format!(
        "delivered {count} times without being settled (consumer crashed or lost its connection)"
    );
    // Not the error of an attempt: the errors and the partner code stay those of the latest
    // failed attempt.
    let mut parked = parked_message(&message, &bus, &reason, bus.partner_code.clone());
    if bus.claim.is_none() {
        parked.body_size = d.data.len() as u64;
    }
    let body = if bus.claim.is_some() {
        None
    } else {
        Some(&d.data[..])
    };
    let parked_ref = &parked;
    let held = Held {
        route,
        id: &parked.id,
        ch,
    };
    let stored = held
        .retry("parking a message of the dead queue", stop, || {
            shared.store.park(parked_ref, body)
        })
        .await;
    if stored.is_some() {
        tracing::warn!(route, id = %parked.id, "message exceeded the delivery limit; parked");
        // Not acked (connection lost): the dead queue delivers it again and parking it again
        // is idempotent.
        let _ = settle_bounded(d.acker.ack(BasicAckOptions::default())).await;
    }
}

/// How long an ack or nack may take. lapin can leave the future of an ack pending forever when
/// the TCP connection is cut under it (seen in the chaos test: one consumer stalled for good);
/// an ack that is not sent in time is treated like one on a closed channel: the broker
/// redelivers the message, and consumers are idempotent.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs an ack or nack, bounded by [`SETTLE_TIMEOUT`]; `Err` says why it was not delivered.
async fn settle_bounded(call: impl Future<Output = lapin::Result<bool>>) -> Result<(), String> {
    match tokio::time::timeout(SETTLE_TIMEOUT, call).await {
        Ok(Ok(true)) => Ok(()),
        Ok(Ok(false)) => Err("the channel of the delivery is gone".to_string()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "not sent within {} s (connection lost?)",
            SETTLE_TIMEOUT.as_secs()
        )),
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
                let _ = settle_bounded(acker.nack(BasicNackOptions {
                    multiple: false,
                    requeue: true,
                }))
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
            match settle_bounded(acker.ack(BasicAckOptions::default())).await {
                Ok(()) => {}
                Err(_) => tracing::debug!(
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
        match settle_bounded(acker.ack(BasicAckOptions::default())).await {
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

    /// Schedules the delivery again after `delay`: as a counted attempt with `reason`, or, with
    /// `None`, postponed (attempt and errors unchanged).
    pub(crate) async fn retry(
        mut self,
        d: &Delivery,
        delay: Duration,
        reason: Option<&Reason>,
    ) -> Result<Duration, BusError> {
        let shared = self.shared.clone();
        let config = &shared.config;
        let route = config.route(&d.message.route)?;
        let tier = config.delay_tier(delay);
        let partition = partition_of(&d.message.key, route.partitions);
        let bus = BusHeaders {
            route: route.name.clone(),
            key: d.message.key.clone(),
            attempt: d.attempt + u32::from(reason.is_some()),
            first_error: match reason {
                Some(r) => d.first_error.clone().or(Some(r.message.clone())),
                None => d.first_error.clone(),
            },
            last_error: reason.map_or_else(|| d.last_error.clone(), |r| Some(r.message.clone())),
            partner_code: reason.and_then(|r| r.partner_code.clone()),
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
        match reason {
            Some(reason) => tracing::info!(
                route = %route.name,
                partner = reason.partner_code.as_deref().unwrap_or(""),
                attempt = d.attempt + 1,
                delay_ms = tier.as_millis() as u64,
                "retry scheduled"
            ),
            None => tracing::debug!(
                route = %route.name,
                attempt = d.attempt,
                delay_ms = tier.as_millis() as u64,
                "delivery postponed"
            ),
        }
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
        // The reason is the error of this attempt: it becomes the last error (and the first
        // one when there was none); the partner code is the reason's, as given.
        let mut parked = parked_message(
            &d.message,
            &bus,
            &reason.message,
            reason.partner_code.clone(),
        );
        parked.first_error = d.first_error.clone().or(Some(reason.message.clone()));
        parked.last_error = Some(reason.message.clone());
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
