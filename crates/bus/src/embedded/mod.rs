//! The embedded backend: a durable queue in one SQLite file, with the semantics of the
//! RabbitMQ backend, for a single node (and `lienthong demo` out of the box).
//!
//! # One file, one process
//! The file holds the queue rows (`{prefix}_queue`), the parked messages and the claim-check
//! bodies (the [`Store`] tables). One process owns it: at open the bus takes an exclusive lock
//! on `{path}.lock` (`flock`), released when the bus closes or the process dies; a second
//! process (or a second bus in the same process) fails with [`BusError::Unavailable`] naming
//! the lock file.
//!
//! # Group commit
//! One engine task owns the writing connection. Publishes, acks, retries, parks, releases and
//! replays reach it over a channel; it takes everything that has accumulated, applies it in one
//! `BEGIN IMMEDIATE` transaction, leases the next deliveries in the same transaction, commits,
//! and only then answers each caller and hands the deliveries out. So [`crate::Bus::publish`]
//! returns once the message is on disk, and under load one fsync covers many messages. When a
//! batch fails, its requests are applied again one per transaction so that one bad request
//! does not fail the others.
//!
//! # Durability
//! The file is in WAL mode with `synchronous=FULL`: every commit fsyncs the WAL before the
//! engine answers. After a **process crash** nothing that was answered is lost (the WAL is in
//! the OS page cache and on disk anyway). After a **power loss** nothing that was answered is
//! lost either, as long as the disk honours fsync (no volatile write cache lying about
//! flushes); a transaction that had not been answered may or may not be there (the caller saw
//! no success and publishes again; consumers are idempotent). `synchronous=NORMAL` would skip
//! the fsync per commit and could lose the last commits on power loss, so it is not used.
//!
//! # Leases, order and redelivery
//! A row is either available (`leased = 0`, `available_at` passed), delayed (`available_at` in
//! the future, after a retry) or leased to a delivery. Each route has at most one [`Consumer`]
//! in the process (a second `consume` of the same route fails with [`BusError::Config`] while
//! the first is alive); it is the single worker of every partition of the route. Within a
//! partition the available rows go out in publish order (`seq`), at most `prefetch` leased
//! per partition at a time. The engine wakes when requests arrive (publish, settle) and at the
//! earliest `available_at` of the delayed rows.
//!
//! A delivery dropped unsettled is released: `deliveries + 1`, and once that count exceeds
//! [`BusConfig::delivery_limit`] (the message was delivered `delivery_limit + 1` times, as with
//! RabbitMQ's `x-delivery-limit`) the message is parked as "delivered N times without being
//! settled". At open, every row still leased (the previous process died with deliveries in
//! hand) is released the same way. Deliveries still buffered in a dropped
//! [`Consumer`] count as unsettled deliveries too (as with a broker's prefetch).
//!
//! # Replay
//! A replay goes one page of parked messages per transaction and one page per engine turn,
//! so publishes and settlements arriving meanwhile are applied between its pages. It takes
//! the messages parked before it was asked for (one that fails again and is parked again
//! meanwhile stays parked for the next replay), and skips, with a warning, a message whose
//! route is no longer configured (it stays parked). Closing the bus stops a replay between
//! two pages: the pages done are replayed and the caller gets [`BusError::Closed`].
//!
//! # Claim check
//! Bodies above [`BusConfig::claim_check_above`] go to the blob table of the same file in the
//! publishing transaction; the row carries the claim and the consumer gets the body back
//! transparently. The blob is deleted on ack and on discard, and kept while parked.
//!
//! # Operator view
//! [`crate::Bus::depth`] counts the route's rows not leased (ready + waiting for a retry).
//! [`crate::Bus::queues`] reports ready, unacked (leased), waiting_retry, parked, the consumers
//! (the route's partition count while a consumer is active, one worker per partition; 0
//! otherwise) and the publish / ack rates of this process since the previous call.

mod engine;

use crate::message::Reason;
use crate::ops::{QueueInfo, Selection};
use crate::store::Store;
use crate::{Backend, BusConfig, BusError, Consumer, Delivery, Message, partition_of};
use engine::{Engine, NewRow, Request};
use jiff::Timestamp;
use sqlx::ConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// How long a statement waits for the file's write lock held by another connection of this
/// process (the store's pool writes parked-message marks beside the engine).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Counters shared by the engine and the bus, for [`EmbeddedBus::queues`].
#[derive(Default)]
pub(crate) struct Counters {
    published: AtomicU64,
    acked: AtomicU64,
    /// Routes with an active consumer.
    consumers: Mutex<Vec<String>>,
}

/// The embedded bus.
pub struct EmbeddedBus {
    config: Arc<BusConfig>,
    store: Store,
    tx: mpsc::UnboundedSender<Request>,
    counters: Arc<Counters>,
    engine: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// (when, published, acked) at the previous [`EmbeddedBus::queues`].
    sample: Mutex<(Instant, u64, u64)>,
    next_token: AtomicU64,
    claim_seq: AtomicU64,
    opened_at: i64,
}

fn unavailable(detail: String) -> BusError {
    BusError::Unavailable {
        backend: "embedded",
        detail,
    }
}

/// `{path}.lock`.
fn lock_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".lock");
    PathBuf::from(s)
}

/// Takes the exclusive lock on `{path}.lock`, held as long as the returned file is open.
fn take_lock(path: &Path) -> Result<File, BusError> {
    let lock = lock_path(path);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock)
        .map_err(|e| unavailable(format!("cannot open the lock file {}: {e}", lock.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(unavailable(format!(
            "{} is locked: another process (or bus) owns the embedded queue {}",
            lock.display(),
            path.display()
        ))),
        Err(TryLockError::Error(e)) => {
            Err(unavailable(format!("cannot lock {}: {e}", lock.display())))
        }
    }
}

impl EmbeddedBus {
    pub(crate) async fn open(config: BusConfig) -> Result<Self, BusError> {
        let Backend::Embedded { path } = &config.backend else {
            return Err(BusError::Config(
                "backend: expected the embedded backend".into(),
            ));
        };
        let path = path.clone();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                unavailable(format!(
                    "cannot create the directory {}: {e}",
                    dir.display()
                ))
            })?;
        }
        let lock = take_lock(&path)?;
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(false);
        let cannot = |e: sqlx::Error| unavailable(format!("cannot open {}: {e}", path.display()));
        let conn = options.connect().await.map_err(cannot)?;
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.clone())
            .await
            .map_err(cannot)?;
        let store = Store::with_sqlite(pool, &config.prefix).await?;
        let config = Arc::new(config);
        let counters = Arc::new(Counters::default());
        let (tx, rx) = mpsc::unbounded_channel();
        let engine = Engine::start(
            conn,
            store.clone(),
            config.clone(),
            counters.clone(),
            rx,
            tx.downgrade(),
            lock,
        )
        .await?;
        let handle = tokio::spawn(engine.run());
        tracing::info!(path = %path.display(), "embedded bus: open");
        Ok(EmbeddedBus {
            config,
            store,
            tx,
            counters,
            engine: tokio::sync::Mutex::new(Some(handle)),
            sample: Mutex::new((Instant::now(), 0, 0)),
            next_token: AtomicU64::new(1),
            claim_seq: AtomicU64::new(0),
            opened_at: Timestamp::now().as_microsecond(),
        })
    }

    fn send(&self, request: Request) -> Result<(), BusError> {
        self.tx.send(request).map_err(|_| BusError::Closed)
    }

    pub(crate) async fn publish_batch(&self, messages: Vec<Message>) -> Result<(), BusError> {
        if messages.is_empty() {
            return Ok(());
        }
        let mut rows = Vec::with_capacity(messages.len());
        for m in messages {
            m.check()?;
            let route = self.config.route(&m.route)?;
            if m.body.len() > self.config.max_body {
                return Err(BusError::TooLarge {
                    id: m.id,
                    size: m.body.len(),
                    max: self.config.max_body,
                });
            }
            let claim = (m.body.len() > self.config.claim_check_above).then(|| {
                format!(
                    "emb-{}-{}",
                    self.opened_at,
                    self.claim_seq.fetch_add(1, Ordering::Relaxed)
                )
            });
            rows.push(NewRow {
                partition: partition_of(&m.key, route.partitions),
                headers: crate::store::encode_headers(&m.headers),
                claim,
                message: m,
            });
        }
        let (reply, answer) = oneshot::channel();
        self.send(Request::Publish { rows, reply })?;
        answer.await.map_err(|_| BusError::Closed)?
    }

    pub(crate) async fn consume(&self, route: &str, prefetch: u16) -> Result<Consumer, BusError> {
        let prefetch = prefetch.max(1);
        let spec = self.config.route(route)?;
        let capacity = usize::from(prefetch) * usize::from(spec.partitions);
        let (deliveries, rx) = mpsc::channel(capacity);
        let token = self.next_token.fetch_add(1, Ordering::Relaxed);
        let (reply, answer) = oneshot::channel();
        self.send(Request::Subscribe {
            route: route.to_string(),
            prefetch,
            tx: deliveries,
            token,
            reply,
        })?;
        answer.await.map_err(|_| BusError::Closed)??;
        // Dropping the consumer drops `stop`: tell the engine at once.
        let (stop, stopped) = oneshot::channel::<()>();
        let engine = self.tx.downgrade();
        let route = route.to_string();
        tokio::spawn(async move {
            let _ = stopped.await;
            if let Some(tx) = engine.upgrade() {
                let _ = tx.send(Request::Unsubscribe { route, token });
            }
        });
        Ok(Consumer { rx, _stop: stop })
    }

    pub(crate) async fn depth(&self, route: &str) -> Result<u64, BusError> {
        self.config.route(route)?;
        let pool = self.pool()?;
        let sql = format!(
            "SELECT COUNT(*) FROM {} WHERE route = $1 AND leased = 0",
            engine::queue_table(&self.config.prefix)
        );
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(route)
            .fetch_one(pool)
            .await
            .map_err(crate::store::ctx(format_args!(
                "count the queue of {route}"
            )))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn pool(&self) -> Result<&sqlx::SqlitePool, BusError> {
        // Invariant: the embedded store is always opened on SQLite.
        self.store
            .sqlite_pool()
            .ok_or_else(|| BusError::Store("embedded store is not on SQLite".into()))
    }

    pub(crate) async fn queues(&self) -> Result<Vec<QueueInfo>, BusError> {
        let pool = self.pool()?;
        let now = Timestamp::now().as_microsecond();
        let sql = format!(
            "SELECT route, \
             COALESCE(SUM(CASE WHEN leased = 0 AND available_at <= $1 THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(leased), 0), \
             COALESCE(SUM(CASE WHEN leased = 0 AND available_at > $1 THEN 1 ELSE 0 END), 0) \
             FROM {} GROUP BY route",
            engine::queue_table(&self.config.prefix)
        );
        let rows: Vec<(String, i64, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(now)
            .fetch_all(pool)
            .await
            .map_err(crate::store::ctx("count the queues"))?;
        let (published_per_s, acked_per_s) = self.rates();
        let active = self
            .counters
            .consumers
            .lock()
            .map(|c| c.clone())
            .unwrap_or_default();
        let mut out = Vec::with_capacity(self.config.routes.len());
        for r in &self.config.routes {
            let (ready, unacked, waiting) = rows
                .iter()
                .find(|x| x.0 == r.name)
                .map(|x| (x.1, x.2, x.3))
                .unwrap_or_default();
            let n = |v: i64| u64::try_from(v).unwrap_or(0);
            out.push(QueueInfo {
                route: r.name.clone(),
                partitions: r.partitions,
                ready: n(ready),
                unacked: n(unacked),
                waiting_retry: n(waiting),
                parked: self.store.parked_count(&r.name).await?,
                consumers: if active.contains(&r.name) {
                    u32::from(r.partitions)
                } else {
                    0
                },
                published_per_s,
                acked_per_s,
            });
        }
        Ok(out)
    }

    /// Publish and ack rates since the previous call (since open for the first).
    fn rates(&self) -> (f64, f64) {
        let published = self.counters.published.load(Ordering::Relaxed);
        let acked = self.counters.acked.load(Ordering::Relaxed);
        let Ok(mut sample) = self.sample.lock() else {
            return (0.0, 0.0);
        };
        let (at, p0, a0) = *sample;
        let secs = at.elapsed().as_secs_f64();
        *sample = (Instant::now(), published, acked);
        if secs <= 0.0 {
            return (0.0, 0.0);
        }
        (
            published.saturating_sub(p0) as f64 / secs,
            acked.saturating_sub(a0) as f64 / secs,
        )
    }

    pub(crate) async fn replay(
        &self,
        selection: &Selection,
        operator: &str,
    ) -> Result<u64, BusError> {
        let (reply, answer) = oneshot::channel();
        self.send(Request::Replay {
            selection: selection.clone(),
            operator: operator.to_string(),
            started: Timestamp::now(),
            reply,
        })?;
        answer.await.map_err(|_| BusError::Closed)?
    }

    pub(crate) async fn close(&self) {
        let (reply, answer) = oneshot::channel();
        if self.tx.send(Request::Close { reply: Some(reply) }).is_ok() {
            let _ = answer.await;
        }
        if let Some(handle) = self.engine.lock().await.take() {
            let _ = handle.await;
        }
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }
}

impl Drop for EmbeddedBus {
    fn drop(&mut self) {
        // Outstanding deliveries keep the engine's channel open: stop it explicitly.
        let _ = self.tx.send(Request::Close { reply: None });
    }
}

/// Settles one embedded delivery. Dropped without being used, it releases the lease (an
/// unsettled delivery, counted against the delivery limit).
pub(crate) struct Settle {
    engine: mpsc::UnboundedSender<Request>,
    seq: i64,
    claim: Option<String>,
    done: bool,
}

impl Settle {
    async fn call<T>(
        mut self,
        make: impl FnOnce(i64, oneshot::Sender<Result<T, BusError>>) -> Request,
    ) -> Result<T, BusError> {
        self.done = true;
        let (reply, answer) = oneshot::channel();
        self.engine
            .send(make(self.seq, reply))
            .map_err(|_| BusError::Closed)?;
        answer.await.map_err(|_| BusError::Closed)?
    }

    /// Hands the acknowledgement to the engine and returns without waiting for its commit,
    /// like a broker ack (`basic.ack` is not confirmed either): a consumer that settles one
    /// delivery after the other is then not held to one disk flush per message, and the engine
    /// commits the acks that accumulate together. If the process dies before that commit, the
    /// message is delivered again (at least once; consumers are idempotent). A failed ack is
    /// logged by the engine and the lease given back.
    pub(crate) async fn ack(mut self, d: &Delivery) -> Result<(), BusError> {
        let _ = d;
        self.done = true;
        let claim = self.claim.clone();
        // Nobody waits for the answer: the engine's reply goes nowhere.
        let (reply, _answer) = oneshot::channel();
        self.engine
            .send(Request::Ack {
                seq: self.seq,
                claim,
                reply,
            })
            .map_err(|_| BusError::Closed)
    }

    /// Schedules the retry (counted, with `reason`) or the postponement (`None`); returns the
    /// delay tier used.
    pub(crate) async fn retry(
        self,
        d: &Delivery,
        delay: Duration,
        reason: Option<&Reason>,
    ) -> Result<Duration, BusError> {
        let _ = d;
        let reason = reason.cloned();
        self.call(|seq, reply| Request::Retry {
            seq,
            delay,
            reason,
            reply,
        })
        .await
    }

    pub(crate) async fn park(self, d: &Delivery, reason: &Reason) -> Result<(), BusError> {
        let _ = d;
        let reason = reason.clone();
        self.call(|seq, reply| Request::Park { seq, reason, reply })
            .await
    }

    /// Gives the lease back without counting a delivery (the consumer never saw it).
    fn release_uncounted(mut self) {
        self.done = true;
        let _ = self.engine.send(Request::Release {
            seq: self.seq,
            counted: false,
        });
    }
}

impl Drop for Settle {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.engine.send(Request::Release {
                seq: self.seq,
                counted: true,
            });
        }
    }
}
