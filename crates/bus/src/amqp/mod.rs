//! The RabbitMQ backend (lapin): quorum partition queues with a single active consumer,
//! publisher confirms, TTL queues for delayed retries, at-least-once dead-lettering into a
//! dead queue drained into the park store, and a supervisor that reconnects.
//!
//! Two connections per session: publishing on one, consuming on the other, so that a broker
//! alarm, which blocks the connections that publish, does not stop the consumers' acks (they
//! keep draining the queues; a retry is a publish, and waits like one).
//!
//! Store failures never bounce a message through the broker: a consumer that cannot fetch a
//! claim-checked body, or park a message, holds the delivery and tries the store again
//! (backing off up to 10 s) until it succeeds or the consumer stops.
//!
//! Submodules: [`topology`] (names, arguments, declaration, exported definitions), `supervisor`
//! (the connection and reconnection), `publisher` (confirmed, pipelined publishing),
//! `consumer` (consuming, settlement, dead-queue drain), `wire` (headers).

mod consumer;
mod publisher;
mod supervisor;
pub mod topology;
mod wire;

pub(crate) use consumer::Settle;
pub use topology::definitions;

use crate::ops::{QueueInfo, Selection};
use crate::store::Store;
use crate::{Backend, BusConfig, BusError, Consumer, Message, partition_of};
use consumer::Sink;
use lapin::options::{ExchangeDeleteOptions, QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use publisher::Outgoing;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use supervisor::Session;
use tokio::sync::{mpsc, watch};
use wire::BusHeaders;

/// How long [`crate::Bus::publish_batch`] (and a retry's publish) keeps trying, across
/// reconnections and waiting for the broker's confirms, before giving up with
/// [`BusError::Unavailable`] (a broker under a memory or disk alarm blocks publishers and
/// confirms nothing).
pub const PUBLISH_TIMEOUT: Duration = Duration::from_secs(60);

/// How long operator views ([`crate::Bus::depth`], [`crate::Bus::queues`]) wait for a
/// connection.
const INFO_TIMEOUT: Duration = Duration::from_secs(10);

/// Dead-queue drain prefetch.
const DEAD_PREFETCH: u16 = 32;

/// Replay page size.
const REPLAY_PAGE: u32 = 200;

/// State shared by the bus, its tasks and its deliveries.
pub(crate) struct Shared {
    pub(crate) config: BusConfig,
    pub(crate) url: String,
    pub(crate) store: Store,
    /// The current session; `None` while reconnecting.
    pub(crate) session: watch::Sender<Option<Arc<Session>>>,
    /// Turns true when the bus is closed.
    pub(crate) closed: watch::Sender<bool>,
    pub(crate) publish_timeout: Duration,
    pub(crate) published: AtomicU64,
    pub(crate) acked: AtomicU64,
    /// Random per bus, part of every claim-check blob id (see [`claim_id`]).
    claim_nonce: u64,
    /// Counter of claim-check blob ids.
    claim_seq: AtomicU64,
    /// Last sample of the counters for the rates: (when, published, acked).
    sample: std::sync::Mutex<(Instant, u64, u64)>,
    tasks: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Shared {
    fn spawn(&self, f: impl Future<Output = ()> + Send + 'static) {
        let h = tokio::spawn(f);
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        tasks.retain(|t| !t.is_finished());
        tasks.push(h);
    }
}

/// The RabbitMQ bus.
pub struct AmqpBus {
    shared: Arc<Shared>,
}

impl AmqpBus {
    pub(crate) async fn open(config: BusConfig) -> Result<Self, BusError> {
        let Backend::Amqp { url, store_url } = &config.backend else {
            return Err(BusError::Config(
                "backend: expected Amqp for the RabbitMQ bus".into(),
            ));
        };
        let store = Store::open(store_url, &config.prefix).await?;
        let shared = Arc::new(Shared {
            url: url.clone(),
            store,
            session: watch::Sender::new(None),
            closed: watch::Sender::new(false),
            publish_timeout: PUBLISH_TIMEOUT,
            published: AtomicU64::new(0),
            acked: AtomicU64::new(0),
            claim_nonce: random_nonce(),
            claim_seq: AtomicU64::new(0),
            sample: std::sync::Mutex::new((Instant::now(), 0, 0)),
            tasks: std::sync::Mutex::new(Vec::new()),
            config,
        });
        let session = supervisor::connect(&shared, 1).await?;
        shared.session.send_replace(Some(session.clone()));
        shared.spawn(supervisor::supervise(shared.clone(), session));
        for r in &shared.config.routes {
            let queue = topology::dead_queue(&shared.config.prefix, &r.name);
            let sink = Sink::Dead {
                route: r.name.clone(),
            };
            let stop = shared.closed.subscribe();
            shared.spawn(consumer::run(
                shared.clone(),
                queue,
                DEAD_PREFETCH,
                sink,
                stop,
            ));
        }
        tracing::info!(prefix = %shared.config.prefix, routes = shared.config.routes.len(), "RabbitMQ bus open");
        Ok(AmqpBus { shared })
    }

    /// Checks a message and turns it into its wire form (claim-checking a large body).
    async fn outgoing(&self, m: Message) -> Result<Outgoing, BusError> {
        m.check()?;
        let config = &self.shared.config;
        let route = config.route(&m.route)?;
        if m.body.len() > config.max_body {
            return Err(BusError::TooLarge {
                id: m.id,
                size: m.body.len(),
                max: config.max_body,
            });
        }
        let partition = partition_of(&m.key, route.partitions);
        let claim = if m.body.len() > config.claim_check_above {
            let blob = claim_id(
                &m.route,
                &m.id,
                self.shared.claim_nonce,
                self.shared.claim_seq.fetch_add(1, Ordering::Relaxed),
            );
            self.shared.store.put_blob(&blob, &m.body).await?;
            Some((blob, m.body.len() as u64))
        } else {
            None
        };
        let bus = BusHeaders {
            route: route.name.clone(),
            key: m.key.clone(),
            attempt: 1,
            claim: claim.clone(),
            ..BusHeaders::default()
        };
        Ok(Outgoing {
            routing_key: topology::partition_queue(&config.prefix, &route.name, partition),
            exchange: String::new(),
            headers: wire::encode(&m.headers, &bus),
            body: if claim.is_some() {
                bytes::Bytes::new()
            } else {
                m.body
            },
            id: m.id,
        })
    }

    pub(crate) async fn publish_batch(&self, messages: Vec<Message>) -> Result<(), BusError> {
        if *self.shared.closed.borrow() {
            return Err(BusError::Closed);
        }
        // Check everything before anything is sent or stored.
        for m in &messages {
            m.check()?;
            self.shared.config.route(&m.route)?;
            if m.body.len() > self.shared.config.max_body {
                return Err(BusError::TooLarge {
                    id: m.id.clone(),
                    size: m.body.len(),
                    max: self.shared.config.max_body,
                });
            }
        }
        let mut items = Vec::with_capacity(messages.len());
        for m in messages {
            items.push(self.outgoing(m).await?);
        }
        self.shared.publish_confirmed(&items).await
    }

    pub(crate) async fn consume(&self, route: &str, prefetch: u16) -> Result<Consumer, BusError> {
        if *self.shared.closed.borrow() {
            return Err(BusError::Closed);
        }
        let spec = self.shared.config.route(route)?.clone();
        let capacity = usize::from(prefetch.max(1)) * usize::from(spec.partitions);
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (stop_w, stop_r) = watch::channel(false);
        let mut closed = self.shared.closed.subscribe();
        // Relays "consumer dropped" and "bus closed" to the partition tasks.
        self.shared.spawn(async move {
            tokio::select! {
                _ = stop_rx => {}
                _ = closed.wait_for(|c| *c) => {}
            }
            let _ = stop_w.send(true);
        });
        for n in 0..spec.partitions {
            let queue = topology::partition_queue(&self.shared.config.prefix, route, n);
            let sink = Sink::Route {
                route: route.to_string(),
                tx: tx.clone(),
            };
            self.shared.spawn(consumer::run(
                self.shared.clone(),
                queue,
                prefetch,
                sink,
                stop_r.clone(),
            ));
        }
        tracing::info!(route, partitions = spec.partitions, prefetch, "consuming");
        Ok(Consumer { rx, _stop: stop_tx })
    }

    /// Passive declare of `queue` on the info channel: (messages ready, consumers).
    async fn peek(&self, session: &Session, queue: &str) -> Result<(u64, u32), BusError> {
        let res = session
            .with_info(&format!("inspecting queue {queue}"), async |ch| {
                ch.queue_declare(
                    queue.into(),
                    QueueDeclareOptions {
                        passive: true,
                        ..QueueDeclareOptions::default()
                    },
                    FieldTable::default(),
                )
                .await
            })
            .await?;
        match res {
            Ok(q) => Ok((u64::from(q.message_count()), q.consumer_count())),
            Err(e) if topology::not_found(&e) => Err(BusError::Topology {
                queue: queue.to_string(),
                detail: format!(
                    "missing on the broker ({}); fix: reopen the bus (it declares its topology) \
                     or import deploy/rabbitmq/definitions.json",
                    topology::broker_text(&e)
                ),
            }),
            Err(e) => {
                session.report_trouble();
                Err(topology::unavailable(
                    &format!("inspecting queue {queue}"),
                    &e,
                ))
            }
        }
    }

    /// (ready, waiting retry, consumers) of a route.
    async fn route_counts(&self, route: &str) -> Result<(u64, u64, u32), BusError> {
        let spec = self.shared.config.route(route)?;
        let session =
            supervisor::wait_session(&self.shared, tokio::time::Instant::now() + INFO_TIMEOUT, "")
                .await?;
        let prefix = &self.shared.config.prefix;
        let (mut ready, mut waiting, mut consumers) = (0, 0, 0);
        for n in 0..spec.partitions {
            let (m, c) = self
                .peek(&session, &topology::partition_queue(prefix, route, n))
                .await?;
            ready += m;
            consumers += c;
        }
        for tier in &self.shared.config.retry_delays {
            let (m, _) = self
                .peek(&session, &topology::retry_queue(prefix, route, *tier))
                .await?;
            waiting += m;
        }
        Ok((ready, waiting, consumers))
    }

    pub(crate) async fn depth(&self, route: &str) -> Result<u64, BusError> {
        let (ready, waiting, _) = self.route_counts(route).await?;
        Ok(ready + waiting)
    }

    /// Every route. `unacked` is always 0: RabbitMQ reports unacknowledged counts only through
    /// the management API, which the bus does not use.
    pub(crate) async fn queues(&self) -> Result<Vec<QueueInfo>, BusError> {
        let (published_per_s, acked_per_s) = {
            let now = Instant::now();
            let published = self.shared.published.load(Ordering::Relaxed);
            let acked = self.shared.acked.load(Ordering::Relaxed);
            let mut s = self.shared.sample.lock().unwrap_or_else(|e| e.into_inner());
            let secs = now.duration_since(s.0).as_secs_f64();
            let rates = if secs > 0.0 {
                (
                    published.saturating_sub(s.1) as f64 / secs,
                    acked.saturating_sub(s.2) as f64 / secs,
                )
            } else {
                (0.0, 0.0)
            };
            *s = (now, published, acked);
            rates
        };
        let mut out = Vec::new();
        for r in &self.shared.config.routes {
            let (ready, waiting_retry, consumers) = self.route_counts(&r.name).await?;
            out.push(QueueInfo {
                route: r.name.clone(),
                partitions: r.partitions,
                ready,
                unacked: 0,
                waiting_retry,
                parked: self.shared.store.parked_count(&r.name).await?,
                consumers,
                published_per_s,
                acked_per_s,
            });
        }
        Ok(out)
    }

    /// Publishes the selected parked messages back to their route and marks them replayed.
    ///
    /// Only rows parked before the replay started are selected, and a row is marked only if it
    /// is still the parking that was selected: a replayed message that fails and is parked
    /// again meanwhile stays parked (and is not selected again by this replay). Rows whose
    /// route is no longer configured are skipped with a warning and left parked.
    pub(crate) async fn replay(
        &self,
        selection: &Selection,
        operator: &str,
    ) -> Result<u64, BusError> {
        let config = &self.shared.config;
        let mut total = 0u64;
        let started = jiff::Timestamp::now();
        // Rows left parked because their route is gone: they stay in the selection, so each
        // page asks for that many more rows and leaves them out.
        let mut skipped: HashSet<(String, String)> = HashSet::new();
        loop {
            let limit =
                REPLAY_PAGE.saturating_add(u32::try_from(skipped.len()).unwrap_or(u32::MAX));
            let page = self
                .shared
                .store
                .select_parked(selection, limit, started)
                .await?;
            let mut items = Vec::with_capacity(page.len());
            let mut sent = Vec::with_capacity(page.len());
            for (p, body) in &page {
                if skipped.contains(&(p.route.clone(), p.id.clone())) {
                    continue;
                }
                let Ok(route) = config.route(&p.route) else {
                    tracing::warn!(
                        route = %p.route,
                        id = %p.id,
                        operator,
                        "parked message not replayed: its route is not configured; left parked"
                    );
                    skipped.insert((p.route.clone(), p.id.clone()));
                    continue;
                };
                let partition = partition_of(&p.key, route.partitions);
                let bus = BusHeaders {
                    route: route.name.clone(),
                    key: p.key.clone(),
                    attempt: 1,
                    // The parked claim travels again (the parked record keeps referencing it).
                    claim: p.claim.clone().map(|c| (c, p.body_size)),
                    replayed_by: Some(operator.to_string()),
                    ..BusHeaders::default()
                };
                items.push(Outgoing {
                    id: p.id.clone(),
                    exchange: String::new(),
                    routing_key: topology::partition_queue(&config.prefix, &route.name, partition),
                    headers: wire::encode(&p.headers, &bus),
                    body: if p.claim.is_some() {
                        bytes::Bytes::new()
                    } else {
                        body.clone()
                    },
                });
                sent.push(p);
            }
            if items.is_empty() {
                return Ok(total);
            }
            self.shared.publish_confirmed(&items).await?;
            for p in sent {
                if self
                    .shared
                    .store
                    .mark_replayed(&p.route, &p.id, operator, p.parked_at)
                    .await?
                {
                    total += 1;
                    tracing::info!(route = %p.route, id = %p.id, operator, "parked message replayed");
                } else {
                    tracing::info!(
                        route = %p.route,
                        id = %p.id,
                        operator,
                        "replayed message was parked again or resolved meanwhile; not marked"
                    );
                }
            }
        }
    }

    pub(crate) async fn close(&self) {
        self.shared.closed.send_replace(true);
        let tasks: Vec<_> =
            std::mem::take(&mut *self.shared.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        for t in tasks {
            let abort = t.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), t)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        if let Some(s) = self.shared.session.send_replace(None) {
            s.close(200, "bus closed").await;
        }
        tracing::info!(prefix = %self.shared.config.prefix, "RabbitMQ bus closed");
    }

    pub(crate) fn store(&self) -> &Store {
        &self.shared.store
    }
}

/// The claim-check blob id of one publish of a message: `{route}/{id}/{µs}-{nonce}-{seq}`,
/// unique per publish (the time, a random number drawn when the bus opened and a counter of
/// this bus), so copies of the same message id published separately (published again by the
/// caller, parked and published anew) never share a blob that the ack of one of them would
/// delete.
///
/// Copies of **one** publish do share its blob: a retry carries the claim of the delivery it
/// retries, a replay the claim of the parked record, and a message sent again after a lost
/// confirm is the same publish. The blob is deleted by the final [`crate::Delivery::ack`]; a
/// duplicate of that copy (at-least-once delivery) arriving later finds it gone and is parked
/// as "claim-check body missing".
fn claim_id(route: &str, id: &str, nonce: u64, seq: u64) -> String {
    let micros = jiff::Timestamp::now().as_microsecond();
    format!("{route}/{id}/{micros}-{nonce:016x}-{seq}")
}

/// A random number (std's per-process random hash keys), to tell apart the claim ids of
/// buses opened at the same microsecond on several nodes.
fn random_nonce() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.write_u32(std::process::id());
    h.finish()
}

/// Deletes every queue and exchange of the topology of `config` (its prefix and routes),
/// **with the messages they hold**. For tests, and for operators retiring a prefix or
/// recreating a queue whose arguments changed (move its messages first). Deleting what does
/// not exist is not an error. Parked messages in the store are not touched.
pub async fn delete_topology(config: &BusConfig) -> Result<(), BusError> {
    let Backend::Amqp { url, .. } = &config.backend else {
        return Err(BusError::Config(
            "backend: expected Amqp to delete a RabbitMQ topology".into(),
        ));
    };
    let conn = supervisor::open_connection(
        url,
        lapin::ConnectionProperties::default(),
        "connecting to RabbitMQ",
    )
    .await?;
    let (queues, exchanges) = topology::names(config);
    let mut ch = conn
        .create_channel()
        .await
        .map_err(|e| topology::unavailable("opening a channel", &e))?;
    let mut first_error = None;
    for q in &queues {
        if !ch.status().connected() {
            ch = conn
                .create_channel()
                .await
                .map_err(|e| topology::unavailable("opening a channel", &e))?;
        }
        if let Err(e) = ch
            .queue_delete(q.as_str().into(), QueueDeleteOptions::default())
            .await
            && !topology::not_found(&e)
        {
            first_error.get_or_insert(topology::unavailable(&format!("deleting queue {q}"), &e));
        }
    }
    for x in &exchanges {
        if !ch.status().connected() {
            ch = conn
                .create_channel()
                .await
                .map_err(|e| topology::unavailable("opening a channel", &e))?;
        }
        if let Err(e) = ch
            .exchange_delete(x.as_str().into(), ExchangeDeleteOptions::default())
            .await
            && !topology::not_found(&e)
        {
            first_error.get_or_insert(topology::unavailable(&format!("deleting exchange {x}"), &e));
        }
    }
    let _ = conn.close(200, "topology deleted".into()).await;
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
