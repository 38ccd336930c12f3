//! The engine of the embedded queue: the one task that writes the file. It applies what has
//! accumulated on its channel in one transaction (group commit), leases the next deliveries
//! in the same transaction, commits, then answers the callers and hands the deliveries out.

use super::{Counters, Settle};
use crate::headers;
use crate::message::{Reason, Settle as AnySettle};
use crate::ops::{ParkedMessage, ParkedStatus, Selection};
use crate::store::{PageCursor, Store, ctx as op_err, decode_headers, encode_headers};
use crate::{BusConfig, BusError, Delivery, Message, partition_of};
use bytes::Bytes;
use jiff::Timestamp;
use sqlx::sqlite::{SqliteConnection, SqliteRow};
use sqlx::{AssertSqlSafe, Connection, Row};
use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// Requests taken in one transaction at most.
const MAX_BATCH: usize = 4096;
/// Parked messages replayed per transaction (one page per engine turn).
const REPLAY_PAGE: u32 = 200;
/// Seq values per `UPDATE … IN (…)`.
const LEASE_CHUNK: usize = 500;

type Reply<T> = oneshot::Sender<Result<T, BusError>>;

/// A message checked and ready to insert.
pub(super) struct NewRow {
    pub(super) message: Message,
    pub(super) partition: u16,
    pub(super) headers: String,
    /// The blob id when the body is claim-checked.
    pub(super) claim: Option<String>,
}

/// What the engine is asked to do.
pub(super) enum Request {
    Publish {
        rows: Vec<NewRow>,
        reply: Reply<()>,
    },
    Ack {
        seq: i64,
        claim: Option<String>,
        reply: Reply<()>,
    },
    /// A counted retry with its reason, or (`None`) a postponement.
    Retry {
        seq: i64,
        delay: Duration,
        reason: Option<Reason>,
        reply: Reply<Duration>,
    },
    Park {
        seq: i64,
        reason: Reason,
        reply: Reply<()>,
    },
    /// A delivery given back unsettled; `counted` when the consumer may have seen it.
    Release {
        seq: i64,
        counted: bool,
    },
    Subscribe {
        route: String,
        prefetch: u16,
        tx: mpsc::Sender<Delivery>,
        token: u64,
        reply: Reply<()>,
    },
    Unsubscribe {
        route: String,
        token: u64,
    },
    Replay {
        selection: Selection,
        operator: String,
        /// When the replay was asked for: only messages parked before it are replayed.
        started: Timestamp,
        reply: Reply<u64>,
    },
    Close {
        reply: Option<oneshot::Sender<()>>,
    },
}

impl Request {
    /// The leased row this request settles or releases.
    fn settled_seq(&self) -> Option<i64> {
        match self {
            Request::Ack { seq, .. }
            | Request::Retry { seq, .. }
            | Request::Park { seq, .. }
            | Request::Release { seq, .. } => Some(*seq),
            _ => None,
        }
    }
}

/// The name of the queue table.
pub(super) fn queue_table(prefix: &str) -> String {
    format!("{}_queue", prefix.replace(['.', '-'], "_"))
}

/// The statements on the queue table.
struct QueueSql {
    table: String,
    /// One row (`$1`…`$10`: id, route, partition, key, headers, body, claim, body size,
    /// attempt, available at).
    insert: String,
    /// `INSERT INTO … VALUES ` without rows, for multi-row inserts of the same columns.
    insert_head: String,
    next: String,
    ack: String,
    retry: String,
    postpone: String,
    release_counted: String,
    release: String,
    row: String,
    delete: String,
    due: String,
    get_blob: String,
}

/// The head of an insert into the queue table `q`: the columns every new row sets.
fn insert_head(q: &str) -> String {
    format!(
        "INSERT INTO {q} (id, route, partition, key, headers, body, claim, body_size, attempt, \
         first_error, last_error, partner_code, available_at, deliveries, leased) VALUES "
    )
}

impl QueueSql {
    fn new(prefix: &str, blobs: &str) -> QueueSql {
        let q = queue_table(prefix);
        QueueSql {
            insert: format!(
                "{}($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, NULL, NULL, $10, 0, 0)",
                insert_head(&q)
            ),
            insert_head: insert_head(&q),
            next: format!(
                "SELECT seq, id, key, headers, body, claim, attempt, first_error, last_error, \
                 deliveries FROM {q} WHERE route = $1 AND partition = $2 AND leased = 0 \
                 AND available_at <= $3 ORDER BY seq LIMIT $4"
            ),
            ack: format!("DELETE FROM {q} WHERE seq = $1"),
            retry: format!(
                "UPDATE {q} SET attempt = attempt + 1, first_error = COALESCE(first_error, $2), \
                 last_error = $2, partner_code = $3, available_at = $4, leased = 0, \
                 deliveries = 0 WHERE seq = $1"
            ),
            postpone: format!(
                "UPDATE {q} SET available_at = $2, leased = 0, deliveries = 0 WHERE seq = $1"
            ),
            release_counted: format!(
                "UPDATE {q} SET leased = 0, deliveries = deliveries + 1 \
                 WHERE seq = $1 AND leased = 1 RETURNING deliveries"
            ),
            release: format!("UPDATE {q} SET leased = 0 WHERE seq = $1"),
            row: format!(
                "SELECT id, route, key, headers, body, claim, body_size, attempt, first_error, \
                 last_error, partner_code FROM {q} WHERE seq = $1"
            ),
            delete: format!("DELETE FROM {q} WHERE seq = $1"),
            due: format!(
                "SELECT MIN(available_at) FROM {q} WHERE leased = 0 AND available_at > $1"
            ),
            get_blob: format!("SELECT body FROM {blobs} WHERE id = $1"),
            table: q,
        }
    }

    fn schema(&self) -> [String; 3] {
        let q = &self.table;
        [
            format!(
                "CREATE TABLE IF NOT EXISTS {q} (\
                 seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, route TEXT NOT NULL, \
                 partition INTEGER NOT NULL, key TEXT NOT NULL, headers TEXT NOT NULL, \
                 body BLOB, claim TEXT, body_size INTEGER NOT NULL, attempt INTEGER NOT NULL, \
                 first_error TEXT, last_error TEXT, partner_code TEXT, \
                 available_at INTEGER NOT NULL, deliveries INTEGER NOT NULL DEFAULT 0, \
                 leased INTEGER NOT NULL DEFAULT 0)"
            ),
            format!("CREATE INDEX IF NOT EXISTS {q}_next ON {q} (route, partition, leased, seq)"),
            format!("CREATE INDEX IF NOT EXISTS {q}_due ON {q} (leased, available_at)"),
        ]
    }
}

fn now_us() -> i64 {
    Timestamp::now().as_microsecond()
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// The consumer of one route.
struct Sub {
    tx: mpsc::Sender<Delivery>,
    prefetch: u16,
    token: u64,
}

/// A row leased in a transaction, handed out once it commits.
struct Pending {
    route: usize,
    partition: u16,
    seq: i64,
    message: Message,
    claim: Option<String>,
    attempt: u32,
    deliveries: i64,
    first_error: Option<String>,
    last_error: Option<String>,
}

/// What the statements need, apart from the connection.
struct Ctx {
    store: Store,
    config: Arc<BusConfig>,
    sql: QueueSql,
}

/// The engine task's state.
pub(super) struct Engine {
    conn: SqliteConnection,
    ctx: Ctx,
    counters: Arc<Counters>,
    rx: mpsc::UnboundedReceiver<Request>,
    me: mpsc::WeakUnboundedSender<Request>,
    /// Held until the engine stops: the file's ownership.
    lock: Option<File>,
    subs: Vec<Option<Sub>>,
    /// Leased rows per route and partition.
    leased: Vec<Vec<u32>>,
    /// Leased rows: seq → (route, partition).
    inflight: HashMap<i64, (usize, u16)>,
    /// Releases to apply again after a failed transaction.
    deferred: Vec<Request>,
    /// The earliest `available_at` in the future (µs), when a consumer waits.
    next_due: Option<i64>,
    /// The time (µs) the rows were leased at in this turn, when leasing succeeded: the next
    /// due time is computed from it, so that a row due between the two is not missed.
    lease_at: Option<i64>,
    /// Replays in progress, one page per turn each in turn.
    replays: VecDeque<ReplayJob>,
}

/// A replay in progress.
struct ReplayJob {
    selection: Selection,
    operator: String,
    started: Timestamp,
    /// Where the previous page ended.
    after: Option<PageCursor>,
    total: u64,
    reply: Reply<u64>,
}

impl Engine {
    /// Creates the queue table and releases the leases left by a previous process.
    pub(super) async fn start(
        mut conn: SqliteConnection,
        store: Store,
        config: Arc<BusConfig>,
        counters: Arc<Counters>,
        rx: mpsc::UnboundedReceiver<Request>,
        me: mpsc::WeakUnboundedSender<Request>,
        lock: File,
    ) -> Result<Engine, BusError> {
        let sql = QueueSql::new(&config.prefix, store.blobs_table());
        for stmt in sql.schema() {
            sqlx::query(AssertSqlSafe(stmt))
                .execute(&mut conn)
                .await
                .map_err(op_err("create the queue table"))?;
        }
        let ctx = Ctx { store, config, sql };
        recover(&ctx, &mut conn).await?;
        let routes = ctx.config.routes.len();
        let leased = ctx
            .config
            .routes
            .iter()
            .map(|r| vec![0; usize::from(r.partitions)])
            .collect();
        Ok(Engine {
            conn,
            ctx,
            counters,
            rx,
            me,
            lock: Some(lock),
            subs: (0..routes).map(|_| None).collect(),
            leased,
            inflight: HashMap::new(),
            deferred: Vec::new(),
            next_due: None,
            lease_at: None,
            replays: VecDeque::new(),
        })
    }

    /// The loop: wait for requests (or the next due row), apply them, repeat until closed.
    pub(super) async fn run(mut self) {
        let mut close_replies = Vec::new();
        loop {
            let wake = if !self.replays.is_empty() {
                // A replay goes on at once, after the requests that have arrived meanwhile.
                Some(Instant::now())
            } else if self.deferred.is_empty() {
                self.next_due.map(|due| {
                    let wait = u64::try_from(due - now_us()).unwrap_or(0);
                    Instant::now() + Duration::from_micros(wait)
                })
            } else {
                Some(Instant::now() + Duration::from_millis(100))
            };
            let mut batch = Vec::new();
            tokio::select! {
                r = self.rx.recv() => match r {
                    Some(r) => batch.push(r),
                    None => break,
                },
                () = sleep_until(wake) => {}
            }
            batch.append(&mut self.deferred);
            while batch.len() < MAX_BATCH {
                match self.rx.try_recv() {
                    Ok(r) => batch.push(r),
                    Err(_) => break,
                }
            }
            if let Some(replies) = self.process(batch).await {
                close_replies = replies;
                break;
            }
        }
        // Consumers see the end of their stream; deliveries still in hand fail with Closed.
        self.subs.clear();
        if let Ok(mut c) = self.counters.consumers.lock() {
            c.clear();
        }
        self.rx.close();
        if let Err(e) = self.conn.close().await {
            tracing::warn!(error = %e, "embedded bus: closing the file failed");
        }
        drop(self.lock.take());
        tracing::info!("embedded bus: closed");
        for r in close_replies.into_iter().flatten() {
            let _ = r.send(());
        }
    }

    /// Applies one batch; `Some(replies)` when asked to close.
    async fn process(&mut self, batch: Vec<Request>) -> Option<Vec<Option<oneshot::Sender<()>>>> {
        let mut writes = Vec::with_capacity(batch.len());
        let mut close = None;
        self.lease_at = None;
        for r in batch {
            match r {
                Request::Subscribe {
                    route,
                    prefetch,
                    tx,
                    token,
                    reply,
                } => {
                    let _ = reply.send(self.subscribe(&route, prefetch, tx, token));
                }
                Request::Unsubscribe { route, token } => self.unsubscribe(&route, token),
                Request::Close { reply } => close.get_or_insert_with(Vec::new).push(reply),
                Request::Replay {
                    selection,
                    operator,
                    started,
                    reply,
                } => self.replays.push_back(ReplayJob {
                    selection,
                    operator,
                    started,
                    after: None,
                    total: 0,
                    reply,
                }),
                other => writes.push(other),
            }
        }
        self.write(writes).await;
        // One page of one replay per turn, so that a large replay does not hold up the
        // publishes and settlements arriving meanwhile.
        if close.is_none()
            && let Some(mut job) = self.replays.pop_front()
        {
            match replay_page(&self.ctx, &mut self.conn, &mut job).await {
                Ok((n, done)) => {
                    self.counters
                        .published
                        .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
                    if done {
                        tracing::info!(
                            operator = %job.operator,
                            count = job.total,
                            "embedded bus: replayed parked messages"
                        );
                        let _ = job.reply.send(Ok(job.total));
                    } else {
                        self.replays.push_back(job);
                    }
                }
                Err(e) => {
                    tracing::warn!(
                        operator = %job.operator,
                        replayed = job.total,
                        error = %e,
                        "embedded bus: replay failed"
                    );
                    let _ = job.reply.send(Err(e));
                }
            }
            self.write(Vec::new()).await;
        }
        self.next_due = if self.subs.iter().any(Option::is_some) {
            match self.lease_at {
                Some(at) => {
                    let due: Result<Option<i64>, sqlx::Error> =
                        sqlx::query_scalar(AssertSqlSafe(self.ctx.sql.due.as_str()))
                            .bind(at)
                            .fetch_one(&mut self.conn)
                            .await;
                    due.unwrap_or_else(|e| {
                        tracing::warn!(error = %e, "embedded bus: reading the next due time failed");
                        Some(now_us() + 1_000_000)
                    })
                }
                // Leasing failed this turn: try again in a second.
                None => Some(now_us() + 1_000_000),
            }
        } else {
            None
        };
        close
    }

    fn subscribe(
        &mut self,
        route: &str,
        prefetch: u16,
        tx: mpsc::Sender<Delivery>,
        token: u64,
    ) -> Result<(), BusError> {
        let ri = self.route_index(route)?;
        if let Some(s) = &self.subs[ri]
            && !s.tx.is_closed()
        {
            return Err(BusError::Config(format!(
                "route {route:?} already has a consumer in this process (the embedded queue \
                 allows one consumer per route; drop the first one before consuming again)"
            )));
        }
        self.subs[ri] = Some(Sub {
            tx,
            prefetch,
            token,
        });
        if let Ok(mut c) = self.counters.consumers.lock()
            && !c.iter().any(|r| r == route)
        {
            c.push(route.to_string());
        }
        tracing::debug!(route, prefetch, "embedded bus: consumer started");
        Ok(())
    }

    fn unsubscribe(&mut self, route: &str, token: u64) {
        let Ok(ri) = self.route_index(route) else {
            return;
        };
        if self.subs[ri].as_ref().is_some_and(|s| s.token == token) {
            self.drop_sub(ri);
        }
    }

    fn drop_sub(&mut self, ri: usize) {
        self.subs[ri] = None;
        let name = &self.ctx.config.routes[ri].name;
        if let Ok(mut c) = self.counters.consumers.lock() {
            c.retain(|r| r != name);
        }
        tracing::debug!(route = %name, "embedded bus: consumer stopped");
    }

    fn route_index(&self, route: &str) -> Result<usize, BusError> {
        self.ctx
            .config
            .routes
            .iter()
            .position(|r| r.name == route)
            .ok_or_else(|| BusError::UnknownRoute(route.to_string()))
    }

    /// Applies the writes and leases the next deliveries: all in one transaction, or one
    /// request per transaction when the batch fails.
    async fn write(&mut self, writes: Vec<Request>) {
        for ri in 0..self.subs.len() {
            if self.subs[ri].as_ref().is_some_and(|s| s.tx.is_closed()) {
                self.drop_sub(ri);
            }
        }
        let has_subs = self.subs.iter().any(Option::is_some);
        if writes.is_empty() && !has_subs {
            return;
        }
        match self.transaction(&writes, has_subs).await {
            Ok(pending) => {
                for w in writes {
                    self.finish(w);
                }
                self.deliver(pending);
            }
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    requests = writes.len(),
                    "embedded bus: batch failed, applying its requests one by one"
                );
                for w in writes {
                    match self.transaction(std::slice::from_ref(&w), false).await {
                        Ok(_) => self.finish(w),
                        Err(e) => self.fail(w, e),
                    }
                }
                if has_subs {
                    match self.transaction(&[], true).await {
                        Ok(pending) => self.deliver(pending),
                        Err(e) => tracing::warn!(error = %e, "embedded bus: leasing failed"),
                    }
                }
            }
        }
    }

    async fn transaction(
        &mut self,
        writes: &[Request],
        dispatch: bool,
    ) -> Result<Vec<Pending>, BusError> {
        let mut tx = self
            .conn
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(op_err("begin a queue transaction"))?;
        // Plain acks are gathered into a few DELETEs; everything else in order. (A delivery is
        // settled once, so no other request of the batch touches an acked row.)
        let mut acked = Vec::new();
        for w in writes {
            match w {
                Request::Ack {
                    seq, claim: None, ..
                } => acked.push(*seq),
                _ => apply(&self.ctx, &mut tx, w).await?,
            }
        }
        delete_acked(&self.ctx.sql, &mut tx, &acked).await?;
        let lease_at = now_us();
        let pending = if dispatch {
            // The settlements of this batch free their room before leasing (the in-memory
            // counts only change once the transaction commits).
            let mut leased = self.leased.clone();
            for w in writes {
                if let Some(seq) = w.settled_seq()
                    && let Some((ri, p)) = self.inflight.get(&seq)
                    && let Some(n) = leased[*ri].get_mut(usize::from(*p))
                {
                    *n = n.saturating_sub(1);
                }
            }
            lease(&self.ctx, &mut tx, &self.subs, &leased, lease_at).await?
        } else {
            Vec::new()
        };
        tx.commit()
            .await
            .map_err(op_err("commit a queue transaction"))?;
        if dispatch {
            self.lease_at = Some(lease_at);
        }
        Ok(pending)
    }

    fn settled(&mut self, seq: i64) {
        if let Some((ri, p)) = self.inflight.remove(&seq)
            && let Some(n) = self.leased[ri].get_mut(usize::from(p))
        {
            *n = n.saturating_sub(1);
        }
    }

    /// Answers a committed request.
    fn finish(&mut self, w: Request) {
        use std::sync::atomic::Ordering::Relaxed;
        match w {
            Request::Publish { rows, reply } => {
                self.counters
                    .published
                    .fetch_add(rows.len() as u64, Relaxed);
                let _ = reply.send(Ok(()));
            }
            Request::Ack { seq, reply, .. } => {
                self.settled(seq);
                self.counters.acked.fetch_add(1, Relaxed);
                let _ = reply.send(Ok(()));
            }
            Request::Retry {
                seq, delay, reply, ..
            } => {
                self.settled(seq);
                let _ = reply.send(Ok(self.ctx.config.delay_tier(delay)));
            }
            Request::Park { seq, reply, .. } => {
                self.settled(seq);
                let _ = reply.send(Ok(()));
            }
            Request::Release { seq, .. } => self.settled(seq),
            _ => {}
        }
    }

    /// Answers a request that failed on its own; a settlement that failed leaves the row
    /// leased, so the lease is given back later.
    fn fail(&mut self, w: Request, e: BusError) {
        tracing::warn!(error = %e, "embedded bus: request failed");
        match w {
            Request::Publish { reply, .. } => {
                let _ = reply.send(Err(e));
            }
            Request::Ack { seq, reply, .. } | Request::Park { seq, reply, .. } => {
                self.deferred.push(Request::Release {
                    seq,
                    counted: false,
                });
                let _ = reply.send(Err(e));
            }
            Request::Retry { seq, reply, .. } => {
                self.deferred.push(Request::Release {
                    seq,
                    counted: false,
                });
                let _ = reply.send(Err(e));
            }
            r @ Request::Release { .. } => self.deferred.push(r),
            _ => {}
        }
    }

    /// Hands committed leases to their consumers.
    fn deliver(&mut self, pending: Vec<Pending>) {
        let Some(engine) = self.me.upgrade() else {
            // Every handle is gone: the engine is stopping; the leases are released at the
            // next open.
            return;
        };
        for p in pending {
            self.inflight.insert(p.seq, (p.route, p.partition));
            if let Some(n) = self.leased[p.route].get_mut(usize::from(p.partition)) {
                *n += 1;
            }
            let settle = Settle {
                engine: engine.clone(),
                seq: p.seq,
                claim: p.claim,
                done: false,
            };
            let delivery = Delivery {
                message: p.message,
                attempt: p.attempt,
                redelivered: p.deliveries > 0,
                first_error: p.first_error,
                last_error: p.last_error,
                max_attempts: self.ctx.config.max_attempts,
                settle: Some(AnySettle::Embedded(settle)),
            };
            let sent = match &self.subs[p.route] {
                Some(sub) => sub.tx.try_send(delivery).map_err(|e| match e {
                    mpsc::error::TrySendError::Full(d) | mpsc::error::TrySendError::Closed(d) => d,
                }),
                None => Err(delivery),
            };
            if let Err(mut d) = sent
                && let Some(AnySettle::Embedded(s)) = d.settle.take()
            {
                s.release_uncounted();
            }
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Applies one write request inside the open transaction.
/// Rows per multi-row INSERT (10 parameters each: 500 parameters a statement).
const INSERT_CHUNK: usize = 50;

/// Acks per `DELETE … WHERE seq IN (…)`.
const ACK_CHUNK: usize = 500;

/// Inserts publish rows in one statement (nothing for none). A claim-checked row's body is in
/// the blob store already.
async fn insert_rows(
    sql: &QueueSql,
    conn: &mut SqliteConnection,
    rows: &[&NewRow],
    now: i64,
) -> Result<(), BusError> {
    let Some(first) = rows.first() else {
        return Ok(());
    };
    let mut text = sql.insert_head.clone();
    for i in 0..rows.len() {
        if i > 0 {
            text.push_str(", ");
        }
        text.push_str("(?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, ?, 0, 0)");
    }
    let mut q = sqlx::query(AssertSqlSafe(text));
    for r in rows {
        let m = &r.message;
        q = q
            .bind(m.id.as_str())
            .bind(m.route.as_str())
            .bind(i64::from(r.partition))
            .bind(m.key.as_str())
            .bind(r.headers.as_str())
            .bind(r.claim.is_none().then_some(&m.body[..]))
            .bind(r.claim.as_deref())
            .bind(i64::try_from(m.body.len()).unwrap_or(i64::MAX))
            .bind(1_i64)
            .bind(now);
    }
    q.execute(&mut *conn).await.map_err(op_err(format_args!(
        "queue {} message(s) of {} from {}",
        rows.len(),
        first.message.route,
        first.message.id
    )))?;
    Ok(())
}

/// Deletes acknowledged rows (without claim-check bodies), [`ACK_CHUNK`] per statement.
async fn delete_acked(
    sql: &QueueSql,
    conn: &mut SqliteConnection,
    seqs: &[i64],
) -> Result<(), BusError> {
    for chunk in seqs.chunks(ACK_CHUNK) {
        let marks = vec!["?"; chunk.len()].join(", ");
        let text = format!("DELETE FROM {} WHERE seq IN ({marks})", sql.table);
        let mut q = sqlx::query(AssertSqlSafe(text));
        for seq in chunk {
            q = q.bind(*seq);
        }
        q.execute(&mut *conn)
            .await
            .map_err(op_err(format_args!("ack {} deliveries", chunk.len())))?;
    }
    Ok(())
}

async fn apply(ctx: &Ctx, conn: &mut SqliteConnection, w: &Request) -> Result<(), BusError> {
    let sql = &ctx.sql;
    match w {
        Request::Publish { rows, .. } => {
            let now = now_us();
            // Consecutive rows with inline bodies go in multi-row INSERTs (one statement, one
            // round trip to SQLite's worker thread, for up to INSERT_CHUNK rows); a claim-checked
            // row is inserted alone after its blob. Rows keep their order, so their sequence
            // numbers (the delivery order) are those of the batch.
            let mut inline: Vec<&NewRow> = Vec::new();
            for r in rows {
                match &r.claim {
                    None => {
                        inline.push(r);
                        if inline.len() == INSERT_CHUNK {
                            insert_rows(sql, conn, &inline, now).await?;
                            inline.clear();
                        }
                    }
                    Some(claim) => {
                        insert_rows(sql, conn, &inline, now).await?;
                        inline.clear();
                        ctx.store.put_blob_on(conn, claim, &r.message.body).await?;
                        insert_rows(sql, conn, &[r], now).await?;
                    }
                }
            }
            insert_rows(sql, conn, &inline, now).await?;
        }
        Request::Ack { seq, claim, .. } => {
            sqlx::query(AssertSqlSafe(sql.ack.as_str()))
                .bind(*seq)
                .execute(&mut *conn)
                .await
                .map_err(op_err("ack a delivery"))?;
            if let Some(claim) = claim {
                ctx.store.delete_blob_on(conn, claim).await?;
            }
        }
        Request::Retry {
            seq, delay, reason, ..
        } => {
            let at = now_us().saturating_add(micros(ctx.config.delay_tier(*delay)));
            match reason {
                Some(reason) => sqlx::query(AssertSqlSafe(sql.retry.as_str()))
                    .bind(*seq)
                    .bind(reason.message.as_str())
                    .bind(reason.partner_code.as_deref())
                    .bind(at)
                    .execute(&mut *conn)
                    .await
                    .map_err(op_err("schedule a retry"))?,
                None => sqlx::query(AssertSqlSafe(sql.postpone.as_str()))
                    .bind(*seq)
                    .bind(at)
                    .execute(&mut *conn)
                    .await
                    .map_err(op_err("postpone a delivery"))?,
            };
        }
        Request::Park { seq, reason, .. } => {
            park_row(
                ctx,
                conn,
                *seq,
                &reason.message,
                ParkCause::Failed {
                    partner_code: reason.partner_code.as_deref(),
                },
            )
            .await?;
        }
        Request::Release { seq, counted } => {
            if *counted {
                let n: Option<i64> =
                    sqlx::query_scalar(AssertSqlSafe(sql.release_counted.as_str()))
                        .bind(*seq)
                        .fetch_optional(&mut *conn)
                        .await
                        .map_err(op_err("release a delivery"))?;
                // As RabbitMQ's x-delivery-limit: parked once returned unsettled more than
                // delivery_limit times (delivered delivery_limit + 1 times).
                if let Some(n) = n
                    && n > i64::from(ctx.config.delivery_limit)
                {
                    let reason = format!("delivered {n} times without being settled");
                    park_row(ctx, conn, *seq, &reason, ParkCause::Unsettled).await?;
                }
            } else {
                sqlx::query(AssertSqlSafe(sql.release.as_str()))
                    .bind(*seq)
                    .execute(&mut *conn)
                    .await
                    .map_err(op_err("release a delivery"))?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Why a queue row is parked, which decides the errors and partner code of the record (the
/// same as the RabbitMQ backend).
#[derive(Clone, Copy)]
enum ParkCause<'a> {
    /// The consumer parked it, or gave up retrying: the reason is the error of this attempt
    /// (the last error, and the first if none yet) and the reason's partner code is recorded
    /// as it is (`None` included).
    Failed { partner_code: Option<&'a str> },
    /// Its claim-check body is missing: the reason is the error of this attempt; the partner
    /// code of the latest failed attempt stays.
    ClaimMissing,
    /// Delivered too many times without being settled: the errors and partner code of the
    /// latest failed attempt stay.
    Unsettled,
}

/// Moves a queue row into the parked table (same transaction).
async fn park_row(
    ctx: &Ctx,
    conn: &mut SqliteConnection,
    seq: i64,
    reason: &str,
    cause: ParkCause<'_>,
) -> Result<bool, BusError> {
    let Some(row) = sqlx::query(AssertSqlSafe(ctx.sql.row.as_str()))
        .bind(seq)
        .fetch_optional(&mut *conn)
        .await
        .map_err(op_err("read a queue row to park"))?
    else {
        return Ok(false);
    };
    let mut headers = decode_headers(&row.try_get::<String, _>("headers")?)?;
    headers.retain(|k, _| !k.starts_with("x-lienthong-"));
    let first_error: Option<String> = row.try_get("first_error")?;
    let last_error: Option<String> = row.try_get("last_error")?;
    let (first_error, last_error) = match cause {
        ParkCause::Failed { .. } | ParkCause::ClaimMissing => (
            first_error.or_else(|| Some(reason.to_string())),
            Some(reason.to_string()),
        ),
        ParkCause::Unsettled => (first_error, last_error),
    };
    let partner_code = match cause {
        ParkCause::Failed { partner_code } => partner_code.map(str::to_string),
        ParkCause::ClaimMissing | ParkCause::Unsettled => row.try_get("partner_code")?,
    };
    let body: Option<Vec<u8>> = row.try_get("body")?;
    let parked = ParkedMessage {
        id: row.try_get("id")?,
        route: row.try_get("route")?,
        key: row.try_get("key")?,
        headers,
        body_size: u64::try_from(row.try_get::<i64, _>("body_size")?).unwrap_or(0),
        claim: row.try_get("claim")?,
        reason: reason.to_string(),
        partner_code,
        attempts: u32::try_from(row.try_get::<i64, _>("attempt")?).unwrap_or(u32::MAX),
        first_error,
        last_error,
        parked_at: Timestamp::now(),
        status: ParkedStatus::Parked,
        resolved_by: None,
        resolved_at: None,
        resolution_reason: None,
    };
    ctx.store.park_on(conn, &parked, body.as_deref()).await?;
    sqlx::query(AssertSqlSafe(ctx.sql.delete.as_str()))
        .bind(seq)
        .execute(&mut *conn)
        .await
        .map_err(op_err(format_args!(
            "remove parked message {}/{} from the queue",
            parked.route, parked.id
        )))?;
    tracing::warn!(
        route = %parked.route,
        id = %parked.id,
        attempts = parked.attempts,
        reason,
        "embedded bus: message parked"
    );
    Ok(true)
}

/// Leases the next rows of every partition with room, in seq order, inside the transaction.
async fn lease(
    ctx: &Ctx,
    conn: &mut SqliteConnection,
    subs: &[Option<Sub>],
    leased: &[Vec<u32>],
    now: i64,
) -> Result<Vec<Pending>, BusError> {
    let mut out = Vec::new();
    let mut missing = Vec::new();
    for (ri, sub) in subs.iter().enumerate() {
        let Some(sub) = sub else { continue };
        let route = &ctx.config.routes[ri];
        for p in 0..route.partitions {
            let room = u32::from(sub.prefetch)
                .saturating_sub(leased[ri].get(usize::from(p)).copied().unwrap_or(0));
            if room == 0 {
                continue;
            }
            let rows: Vec<SqliteRow> = sqlx::query(AssertSqlSafe(ctx.sql.next.as_str()))
                .bind(route.name.as_str())
                .bind(i64::from(p))
                .bind(now)
                .bind(i64::from(room))
                .fetch_all(&mut *conn)
                .await
                .map_err(op_err(format_args!("lease messages of {}", route.name)))?;
            for row in rows {
                let seq: i64 = row.try_get("seq")?;
                let id: String = row.try_get("id")?;
                let claim: Option<String> = row.try_get("claim")?;
                let body = match &claim {
                    Some(c) => {
                        let blob: Option<Vec<u8>> =
                            sqlx::query_scalar(AssertSqlSafe(ctx.sql.get_blob.as_str()))
                                .bind(c.as_str())
                                .fetch_optional(&mut *conn)
                                .await
                                .map_err(op_err(format_args!("get claim-check body {c}")))?;
                        match blob {
                            Some(b) => Bytes::from(b),
                            None => {
                                missing.push((
                                    seq,
                                    format!(
                                        "{}",
                                        BusError::ClaimMissing {
                                            id: id.clone(),
                                            claim: c.clone(),
                                        }
                                    ),
                                ));
                                continue;
                            }
                        }
                    }
                    None => Bytes::from(
                        row.try_get::<Option<Vec<u8>>, _>("body")?
                            .unwrap_or_default(),
                    ),
                };
                let headers: String = row.try_get("headers")?;
                let headers = decode_headers(&headers).unwrap_or_else(|e| {
                    tracing::warn!(route = %route.name, id, error = %e, "embedded bus: unreadable headers");
                    Default::default()
                });
                out.push(Pending {
                    route: ri,
                    partition: p,
                    seq,
                    message: Message {
                        id,
                        route: route.name.clone(),
                        key: row.try_get("key")?,
                        headers,
                        body,
                    },
                    claim,
                    attempt: u32::try_from(row.try_get::<i64, _>("attempt")?).unwrap_or(u32::MAX),
                    deliveries: row.try_get("deliveries")?,
                    first_error: row.try_get("first_error")?,
                    last_error: row.try_get("last_error")?,
                });
            }
        }
    }
    for chunk in out.chunks(LEASE_CHUNK) {
        let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "UPDATE {} SET leased = 1 WHERE seq IN ({})",
            ctx.sql.table,
            marks.join(", ")
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for p in chunk {
            q = q.bind(p.seq);
        }
        q.execute(&mut *conn)
            .await
            .map_err(op_err("lease messages"))?;
    }
    for (seq, reason) in missing {
        park_row(ctx, conn, seq, &reason, ParkCause::ClaimMissing).await?;
    }
    Ok(out)
}

/// At open: every row still leased was in the hands of a process that died; release it as an
/// unsettled delivery (parking it at the delivery limit).
async fn recover(ctx: &Ctx, conn: &mut SqliteConnection) -> Result<(), BusError> {
    const RECOVER: &str = "release the deliveries left by the previous process";
    let mut tx = conn
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(op_err(RECOVER))?;
    let q = &ctx.sql.table;
    let released = sqlx::query(AssertSqlSafe(format!(
        "UPDATE {q} SET leased = 0, deliveries = deliveries + 1 WHERE leased = 1"
    )))
    .execute(&mut *tx)
    .await
    .map_err(op_err(RECOVER))?
    .rows_affected();
    // Parked once returned unsettled more than delivery_limit times, as on release.
    let over: Vec<(i64, i64)> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT seq, deliveries FROM {q} WHERE deliveries > $1 ORDER BY seq"
    )))
    .bind(i64::from(ctx.config.delivery_limit))
    .fetch_all(&mut *tx)
    .await
    .map_err(op_err(RECOVER))?;
    for (seq, n) in &over {
        let reason = format!("delivered {n} times without being settled");
        park_row(ctx, &mut tx, *seq, &reason, ParkCause::Unsettled).await?;
    }
    tx.commit().await.map_err(op_err(RECOVER))?;
    if released > 0 {
        tracing::warn!(
            released,
            parked = over.len(),
            "embedded bus: released the deliveries left unsettled by the previous process"
        );
    }
    Ok(())
}

/// One page of a replay, in its own transaction: publishes the selected parked messages back
/// (attempt 1, replayed-by header) and marks them replayed. A message whose route is no
/// longer configured is skipped (left parked, with a warning). Returns how many were
/// replayed and whether the replay is done.
async fn replay_page(
    ctx: &Ctx,
    conn: &mut SqliteConnection,
    job: &mut ReplayJob,
) -> Result<(u64, bool), BusError> {
    const REPLAY: &str = "replay parked messages";
    let mut tx = conn
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(op_err(REPLAY))?;
    let page = ctx
        .store
        .select_parked_on(
            &mut tx,
            &job.selection,
            REPLAY_PAGE,
            job.started,
            job.after.as_ref(),
        )
        .await?;
    let done = page.len() < REPLAY_PAGE as usize;
    let now = now_us();
    let mut replayed = 0;
    let mut last = None;
    for (m, body) in &page {
        last = Some(PageCursor {
            parked_at: m.parked_at,
            route: m.route.clone(),
            id: m.id.clone(),
        });
        let Ok(spec) = ctx.config.route(&m.route) else {
            tracing::warn!(
                route = %m.route,
                id = %m.id,
                "embedded bus: replay skips a parked message whose route is not configured; \
                 it stays parked"
            );
            continue;
        };
        // Marked first: only a message still parked as selected goes back to its queue.
        if !ctx
            .store
            .mark_replayed_on(&mut tx, &m.route, &m.id, &job.operator, m.parked_at)
            .await?
        {
            continue;
        }
        let mut h = m.headers.clone();
        h.insert(headers::REPLAYED_BY.to_string(), job.operator.clone());
        let body = if m.claim.is_some() {
            None
        } else {
            Some(&body[..])
        };
        sqlx::query(AssertSqlSafe(ctx.sql.insert.as_str()))
            .bind(m.id.as_str())
            .bind(m.route.as_str())
            .bind(i64::from(partition_of(&m.key, spec.partitions)))
            .bind(m.key.as_str())
            .bind(encode_headers(&h))
            .bind(body)
            .bind(m.claim.as_deref())
            .bind(i64::try_from(m.body_size).unwrap_or(i64::MAX))
            .bind(1_i64)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(op_err(format_args!(
                "queue replayed message {}/{}",
                m.route, m.id
            )))?;
        replayed += 1;
    }
    tx.commit().await.map_err(op_err(REPLAY))?;
    job.total += replayed;
    if last.is_some() {
        job.after = last;
    }
    Ok((replayed, done))
}
