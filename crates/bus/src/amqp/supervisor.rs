//! The connections and their supervisor: one [`Session`] at a time, published to every task
//! through a `watch` channel. A session holds two AMQP connections: one for consuming (acks,
//! topology, passive declares) and one for publishing (publishes, retries, replays). RabbitMQ
//! blocks the connections that publish while a memory or disk alarm is in effect; keeping
//! consumers on a connection that never publishes lets them go on acking, and so draining the
//! queues, during an alarm. When either connection is lost (broker restart, cut TCP
//! connection) the supervisor closes both, reconnects with exponential backoff (forever, until
//! the bus is closed), declares the topology again and publishes the new session, on which
//! consumers resume and unconfirmed publishes are sent again.

use super::Shared;
use super::topology;
use crate::BusError;
use backon::{BackoffBuilder, ExponentialBuilder};
use lapin::options::ConfirmSelectOptions;
use lapin::{Channel, Connection, ConnectionProperties};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// How often the supervisor checks the connection status besides being told.
const POLL: Duration = Duration::from_millis(200);

/// How long a call on the info channel (a passive declare) may take, waiting for the channel
/// included.
pub(crate) const INFO_CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// How long closing a connection may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long opening a connection (TCP, AMQP handshake, login) may take. A broker that accepts
/// TCP connections but does not answer (a node stuck on start-up, a wedged Erlang VM) would
/// otherwise hold `Bus::open` and every reconnection forever.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// How long declaring the whole topology may take on a fresh connection.
const DECLARE_TIMEOUT: Duration = Duration::from_secs(60);

/// Opens a connection, bounded by [`CONNECT_TIMEOUT`]; `what` names it in the error.
pub(crate) async fn open_connection(
    url: &str,
    props: ConnectionProperties,
    what: &str,
) -> Result<Connection, BusError> {
    match tokio::time::timeout(CONNECT_TIMEOUT, Connection::connect(url, props)).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(topology::unavailable(what, &e)),
        Err(_) => Err(BusError::Unavailable {
            backend: "rabbitmq",
            detail: format!(
                "{what}: the broker accepted no AMQP connection within {} s (is the node \
                 running and answering? try `rabbitmq-diagnostics check_running`)",
                CONNECT_TIMEOUT.as_secs()
            ),
        }),
    }
}

/// One live connection with its channels.
pub(crate) struct Session {
    /// Increases with every reconnection.
    pub(crate) generation: u64,
    /// The consuming connection (consumers, acks, topology, passive declares).
    pub(crate) conn: Connection,
    /// The publishing connection (confirm-mode channels only).
    pub(crate) publish_conn: Connection,
    /// Confirm-mode channels not in use (each publish batch takes one exclusively, so returned
    /// messages and confirms belong to that batch).
    pool: std::sync::Mutex<Vec<Channel>>,
    /// The channel for passive declares (depth, queues).
    info: tokio::sync::Mutex<Option<Channel>>,
    lost: AtomicBool,
    lost_notify: Notify,
}

impl Session {
    /// Whether the connection is still usable.
    pub(crate) fn alive(&self) -> bool {
        !self.lost.load(Ordering::Acquire)
            && self.conn.status().connected()
            && self.publish_conn.status().connected()
    }

    /// Closes both connections (bounded: a blocked connection may not answer).
    pub(crate) async fn close(&self, code: u16, why: &str) {
        for conn in [&self.conn, &self.publish_conn] {
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, conn.close(code, why.into())).await;
        }
    }

    /// Tells the supervisor the connection looks dead (it checks and reconnects).
    pub(crate) fn report_trouble(&self) {
        if !self.conn.status().connected() || !self.publish_conn.status().connected() {
            self.lost.store(true, Ordering::Release);
        }
        self.lost_notify.notify_one();
    }

    /// A confirm-mode channel for exclusive use; give it back with [`Session::give_back`].
    pub(crate) async fn publish_channel(&self) -> Result<Channel, lapin::Error> {
        loop {
            let ch = self.pool.lock().unwrap_or_else(|e| e.into_inner()).pop();
            match ch {
                Some(ch) if ch.status().connected() => return Ok(ch),
                Some(_) => continue,
                None => break,
            }
        }
        let ch = self.publish_conn.create_channel().await?;
        ch.confirm_select(ConfirmSelectOptions::default()).await?;
        Ok(ch)
    }

    /// Returns a healthy publish channel to the pool.
    pub(crate) fn give_back(&self, ch: Channel) {
        if ch.status().connected() {
            self.pool.lock().unwrap_or_else(|e| e.into_inner()).push(ch);
        }
    }

    /// Runs `f` with the info channel (opened again when a failed passive declare closed it).
    /// Waiting for the channel and `f` together are bounded by [`INFO_CALL_TIMEOUT`]: past it
    /// the channel is dropped (closed; the next call opens a new one) and the answer is
    /// [`BusError::Unavailable`]. The inner result is `f`'s.
    pub(crate) async fn with_info<T>(
        &self,
        what: &str,
        f: impl AsyncFnOnce(&Channel) -> Result<T, lapin::Error>,
    ) -> Result<Result<T, lapin::Error>, BusError> {
        let call = async {
            let mut guard = self.info.lock().await;
            // Taken out of the slot while in use: if the call times out, the channel is
            // dropped with this future and the slot stays empty.
            let ch = match guard.take() {
                Some(ch) if ch.status().connected() => ch,
                _ => self.conn.create_channel().await?,
            };
            let res = f(&ch).await;
            if ch.status().connected() {
                *guard = Some(ch);
            }
            res
        };
        match tokio::time::timeout(INFO_CALL_TIMEOUT, call).await {
            Ok(res) => Ok(res),
            Err(_) => {
                tracing::warn!(
                    timeout_s = INFO_CALL_TIMEOUT.as_secs(),
                    "no answer from the broker on the info channel; dropping the channel"
                );
                Err(BusError::Unavailable {
                    backend: "rabbitmq",
                    detail: format!(
                        "{what}: no answer from the broker within {} s",
                        INFO_CALL_TIMEOUT.as_secs()
                    ),
                })
            }
        }
    }
}

/// Connects and declares the topology: a new session.
pub(crate) async fn connect(shared: &Shared, generation: u64) -> Result<Arc<Session>, BusError> {
    let props = |role: &str| {
        ConnectionProperties::default()
            .with_connection_name(format!("lienthong-bus {} {role}", shared.config.prefix).into())
    };
    let conn = open_connection(&shared.url, props("consume"), "connecting to RabbitMQ").await?;
    let declared = tokio::time::timeout(DECLARE_TIMEOUT, topology::declare(&conn, &shared.config))
        .await
        .unwrap_or_else(|_| {
            Err(BusError::Unavailable {
                backend: "rabbitmq",
                detail: format!(
                    "declaring the topology took longer than {} s",
                    DECLARE_TIMEOUT.as_secs()
                ),
            })
        });
    if let Err(e) = declared {
        let _ = tokio::time::timeout(
            CLOSE_TIMEOUT,
            conn.close(200, "topology declaration failed".into()),
        )
        .await;
        return Err(e);
    }
    let publish_conn = match open_connection(
        &shared.url,
        props("publish"),
        "connecting to RabbitMQ (publishing connection)",
    )
    .await
    {
        Ok(c) => c,
        Err(e) => {
            let _ = tokio::time::timeout(
                CLOSE_TIMEOUT,
                conn.close(200, "publishing connection failed".into()),
            )
            .await;
            return Err(e);
        }
    };
    Ok(Arc::new(Session {
        generation,
        conn,
        publish_conn,
        pool: std::sync::Mutex::new(Vec::new()),
        info: tokio::sync::Mutex::new(None),
        lost: AtomicBool::new(false),
        lost_notify: Notify::new(),
    }))
}

/// The reconnection backoff: exponential from 100 ms, capped at 3 s, with jitter, forever.
fn backoff() -> impl Iterator<Item = Duration> {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(3))
        .with_jitter()
        .without_max_times()
        .build()
}

/// Watches the current session; reconnects when it is lost. Returns when the bus is closed.
pub(crate) async fn supervise(shared: Arc<Shared>, mut current: Arc<Session>) {
    let mut closed = shared.closed.subscribe();
    loop {
        // Wait until the connection is lost or the bus closed.
        loop {
            if *closed.borrow() {
                return;
            }
            if !current.alive() {
                break;
            }
            tokio::select! {
                _ = closed.changed() => {}
                _ = current.lost_notify.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
        shared.session.send_replace(None);
        tracing::warn!(
            generation = current.generation,
            "connection to RabbitMQ lost; reconnecting"
        );
        {
            let old = current.clone();
            tokio::spawn(async move { old.close(320, "reconnecting").await });
        }
        let started = Instant::now();
        let mut delays = backoff();
        let generation = current.generation + 1;
        loop {
            if *closed.borrow() {
                return;
            }
            match connect(&shared, generation).await {
                Ok(s) => {
                    tracing::info!(
                        generation,
                        after_ms = started.elapsed().as_millis() as u64,
                        "reconnected to RabbitMQ, topology declared"
                    );
                    current = s;
                    shared.session.send_replace(Some(current.clone()));
                    break;
                }
                Err(e) => {
                    let delay = delays.next().unwrap_or(Duration::from_secs(3));
                    tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "reconnecting to RabbitMQ failed");
                    tokio::select! {
                        _ = closed.changed() => {}
                        _ = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
    }
}

/// Waits for a live session until `deadline`. `Closed` once the bus is closed; `Unavailable`
/// (with `detail` of the last problem) at the deadline.
pub(crate) async fn wait_session(
    shared: &Shared,
    deadline: Instant,
    last_problem: &str,
) -> Result<Arc<Session>, BusError> {
    let mut rx = shared.session.subscribe();
    let mut closed = shared.closed.subscribe();
    loop {
        if *closed.borrow() {
            return Err(BusError::Closed);
        }
        if let Some(s) = rx.borrow_and_update().as_ref()
            && s.alive()
        {
            return Ok(s.clone());
        }
        tokio::select! {
            _ = rx.changed() => {}
            _ = closed.changed() => {}
            // A dead session is replaced by the supervisor; look again shortly.
            _ = tokio::time::sleep(POLL) => {}
            _ = tokio::time::sleep_until(deadline) => {
                return Err(BusError::Unavailable {
                    backend: "rabbitmq",
                    detail: if last_problem.is_empty() {
                        "no connection to the broker".to_string()
                    } else {
                        format!("no connection to the broker ({last_problem})")
                    },
                });
            }
        }
    }
}
