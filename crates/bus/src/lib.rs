//! The message bus of lienthong.
//!
//! Routes publish messages and consume them; the bus makes them durable, redelivers them,
//! retries them after a delay and parks what cannot be delivered, with its reason, for an
//! operator to replay or discard. It moves **bytes with metadata** and knows no message format.
//!
//! Two backends with the same semantics:
//! - [`amqp`]: RabbitMQ (quorum queues, publisher confirms, TTL queues for delayed retries,
//!   at-least-once dead-lettering, a supervisor that reconnects);
//! - [`embedded`]: one SQLite file (WAL, group commit), the default when no AMQP URL is set.
//!
//! Parked messages and claim-check bodies live in a SQL [`store`] (the embedded queue's own
//! file, or a SQLite / PostgreSQL database next to RabbitMQ), so parked messages can be listed
//! and filtered without consuming them, and nothing is kept only in memory.
//!
//! # Delivery contract
//! - [`Bus::publish`] returns only once the message is durable (confirmed by the broker /
//!   committed to disk). A broker nack or a returned (unroutable) message is an error.
//! - Every [`Delivery`] ends in exactly one of [`Delivery::ack`], [`Delivery::retry_after`]
//!   (a counted attempt), [`Delivery::postpone`] (not tried, not counted) or
//!   [`Delivery::park`]. A delivery that is dropped unsettled (or whose consumer dies) is
//!   redelivered; once it has come back unsettled more than [`BusConfig::delivery_limit`]
//!   times (delivered `delivery_limit + 1` times) it is parked.
//! - Delivery is **at least once**: a message may arrive again (same [`Message::id`]) after a
//!   crash or a cut connection. Every consumer must be idempotent on the message id.
//!
//! # Ordering
//! Each route is split into [`RouteSpec::partitions`] partition queues; the publisher hashes
//! the message key (FNV-1a, stable across processes and versions) to pick one, and each
//! partition has a single active consumer (RabbitMQ `x-single-active-consumer`; one worker per
//! partition in the embedded queue). So on the normal path, messages with the same key are
//! delivered in publish order, provided the consumer settles them in that order.
//!
//! Retries **reorder**: a message retried after a delay goes behind later messages of its key.
//! Redelivery after a crash also reorders. Routes must therefore never depend on bus order for
//! correctness: they reconcile towards the state recorded in the journal (a newer dossier
//! version wins whatever order the messages arrive in).

pub mod amqp;
pub mod config;
pub mod embedded;
pub mod error;
pub mod message;
pub mod ops;
pub mod store;

pub use config::{Backend, BusConfig, RouteSpec, standard_routes};
pub use error::BusError;
pub use message::{Delivery, Message, Reason, RetryOutcome};
pub use ops::{ParkedFilter, ParkedMessage, ParkedStatus, QueueInfo, Selection};

use std::sync::Arc;
use tokio::sync::mpsc;

/// Header names the bus sets on the wire (AMQP headers / embedded columns mirror them).
pub mod headers {
    /// The number of this delivery attempt, 1 for the first.
    pub const ATTEMPT: &str = "x-lienthong-attempt";
    /// The route the message belongs to.
    pub const ROUTE: &str = "x-lienthong-route";
    /// The ordering key.
    pub const KEY: &str = "x-lienthong-key";
    /// The error of the first failed attempt.
    pub const FIRST_ERROR: &str = "x-lienthong-first-error";
    /// The error of the latest failed attempt.
    pub const LAST_ERROR: &str = "x-lienthong-last-error";
    /// The partner's code of the latest failed attempt.
    pub const PARTNER_CODE: &str = "x-lienthong-partner-code";
    /// Claim check: the blob id when the body travels in the store.
    pub const CLAIM: &str = "x-lienthong-claim";
    /// Claim check: the size of the claimed body.
    pub const CLAIM_SIZE: &str = "x-lienthong-claim-size";
    /// Set on a message replayed by an operator: the operator's name.
    pub const REPLAYED_BY: &str = "x-lienthong-replayed-by";
}

/// Picks the partition of a key: FNV-1a 64 of the key bytes modulo the partition count.
/// Stable across processes, machines and versions (unlike `std`'s hasher), because publishers on
/// several nodes must agree.
pub fn partition_of(key: &str, partitions: u16) -> u16 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h % u64::from(partitions.max(1))) as u16
}

/// The bus the routes use: one of the two backends behind one API.
#[derive(Clone)]
pub struct Bus {
    inner: Arc<Inner>,
}

enum Inner {
    Amqp(amqp::AmqpBus),
    Embedded(embedded::EmbeddedBus),
}

impl Bus {
    /// Opens the backend named in the config, declares the topology (idempotently) and starts
    /// the background tasks (supervisor, relays). Fails with a clear error when the broker or
    /// the file cannot be reached or the existing topology disagrees with the config.
    pub async fn open(config: BusConfig) -> Result<Bus, BusError> {
        config.check()?;
        let inner = match &config.backend {
            Backend::Amqp { .. } => Inner::Amqp(amqp::AmqpBus::open(config).await?),
            Backend::Embedded { .. } => Inner::Embedded(embedded::EmbeddedBus::open(config).await?),
        };
        Ok(Bus {
            inner: Arc::new(inner),
        })
    }

    /// The name of the backend in use: `"rabbitmq"` or `"embedded"`.
    pub fn backend_name(&self) -> &'static str {
        match &*self.inner {
            Inner::Amqp(_) => "rabbitmq",
            Inner::Embedded(_) => "embedded",
        }
    }

    /// Publishes one message; returns once it is durable. See [`Bus::publish_batch`].
    pub async fn publish(&self, message: Message) -> Result<(), BusError> {
        self.publish_batch(vec![message]).await
    }

    /// Publishes several messages, pipelined (RabbitMQ: confirms within a bounded window;
    /// embedded: one transaction). Returns once every message is durable, or the first error.
    /// On error some messages may have been made durable: publishing again is safe because
    /// consumers are idempotent on the message id.
    ///
    /// Refuses a body larger than [`BusConfig::max_body`] ([`BusError::TooLarge`]); a body
    /// larger than [`BusConfig::claim_check_above`] is stored in the store and a reference
    /// travels instead (transparent to the consumer).
    pub async fn publish_batch(&self, messages: Vec<Message>) -> Result<(), BusError> {
        match &*self.inner {
            Inner::Amqp(b) => b.publish_batch(messages).await,
            Inner::Embedded(b) => b.publish_batch(messages).await,
        }
    }

    /// Starts consuming a route: deliveries from all its partitions (those whose single active
    /// consumer this is), at most `prefetch` unsettled at a time per partition.
    pub async fn consume(&self, route: &str, prefetch: u16) -> Result<Consumer, BusError> {
        match &*self.inner {
            Inner::Amqp(b) => b.consume(route, prefetch).await,
            Inner::Embedded(b) => b.consume(route, prefetch).await,
        }
    }

    /// Messages waiting on a route (ready + waiting for a retry), for backpressure.
    pub async fn depth(&self, route: &str) -> Result<u64, BusError> {
        match &*self.inner {
            Inner::Amqp(b) => b.depth(route).await,
            Inner::Embedded(b) => b.depth(route).await,
        }
    }

    /// Operator view: every route with its depth, retries waiting, parked count, consumers and
    /// rates.
    pub async fn queues(&self) -> Result<Vec<QueueInfo>, BusError> {
        match &*self.inner {
            Inner::Amqp(b) => b.queues().await,
            Inner::Embedded(b) => b.queues().await,
        }
    }

    /// Operator view: parked messages matching the filter (newest first, paginated), without
    /// consuming them.
    pub async fn parked(&self, filter: &ParkedFilter) -> Result<Vec<ParkedMessage>, BusError> {
        self.store().list_parked(filter).await
    }

    /// Operator action: publishes the selected parked messages back to their route (attempts
    /// start again at 1) and marks them replayed by `operator`. Returns how many.
    pub async fn replay(&self, selection: &Selection, operator: &str) -> Result<u64, BusError> {
        match &*self.inner {
            Inner::Amqp(b) => b.replay(selection, operator).await,
            Inner::Embedded(b) => b.replay(selection, operator).await,
        }
    }

    /// Operator action: marks the selected parked messages discarded by `operator` with a
    /// reason (kept for audit; their claim-check bodies are deleted). Returns how many.
    pub async fn discard(
        &self,
        selection: &Selection,
        operator: &str,
        reason: &str,
    ) -> Result<u64, BusError> {
        self.store().discard(selection, operator, reason).await
    }

    /// Stops background tasks and closes connections; unsettled deliveries are redelivered
    /// later.
    pub async fn close(&self) {
        match &*self.inner {
            Inner::Amqp(b) => b.close().await,
            Inner::Embedded(b) => b.close().await,
        }
    }

    fn store(&self) -> &store::Store {
        match &*self.inner {
            Inner::Amqp(b) => b.store(),
            Inner::Embedded(b) => b.store(),
        }
    }
}

/// The deliveries of one route. Dropping it stops consuming; unsettled deliveries are then
/// redelivered.
pub struct Consumer {
    pub(crate) rx: mpsc::Receiver<Delivery>,
    /// Dropped with the consumer: stops the backend tasks feeding `rx`.
    pub(crate) _stop: tokio::sync::oneshot::Sender<()>,
}

impl Consumer {
    /// The next delivery; `None` once the bus is closed.
    pub async fn next(&mut self) -> Option<Delivery> {
        self.rx.recv().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_is_stable_and_in_range() {
        // Fixed expectations: publishers on other nodes and versions must agree.
        assert_eq!(partition_of("", 8), (0xcbf2_9ce4_8422_2325u64 % 8) as u16);
        assert_eq!(partition_of("H41.01-241127-0001", 1), 0);
        for p in 1..=16u16 {
            for k in ["a", "b", "dossier-1", "H41.01-241127-0001"] {
                assert!(partition_of(k, p) < p);
                assert_eq!(partition_of(k, p), partition_of(k, p));
            }
        }
        // Keys spread: 1,000 keys over 4 partitions hit every partition.
        let mut seen = [0u32; 4];
        for i in 0..1000 {
            seen[partition_of(&format!("k{i}"), 4) as usize] += 1;
        }
        assert!(seen.iter().all(|n| *n > 150), "{seen:?}");
    }
}
