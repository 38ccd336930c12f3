//! The outbox relay: hands the journal's work items to the bus.
//!
//! The journal writes a work item in the same transaction as the state change that causes
//! it (a new dossier version, a new progress step). [`run_relay`] claims waiting items
//! ([`Journal::relay_once`]) and publishes each through [`BusSink`] to the bus route named
//! by the item's kind (`dossier.sync`), keyed by the dossier code so that one dossier's
//! items stay in one partition. An item is marked handed over only once the bus confirmed
//! it; a failed publish leaves it for the next pass. Now and then the sweeper
//! ([`Journal::sweep`]) re-creates work for dossiers that stayed behind on the portal.
//!
//! Delivery is at least once: an item may be published twice (a relay that died between
//! publish and marking). The message id is `wi-{item id}`, and the sync route reconciles
//! towards the journal's state, so a repeated item sends nothing new.

use jiff::{SignedDuration, Timestamp};
use lienthong_bus::{Bus, Message};
use lienthong_journal::Journal;
use lienthong_journal::outbox::{HandOverError, OutboxSink, RelayOptions, WorkItem};
use std::time::Duration;
use tokio::sync::watch;

/// The bus message id of a work item: `wi-{id}`.
pub fn message_id(item: &WorkItem) -> String {
    format!("wi-{}", item.id)
}

/// The body of a work item's bus message: `{"code":…,"reason":…}` (the dossier code and
/// why the item was created). The route reads the dossier's state from the journal, not
/// from the message.
pub fn message_body(item: &WorkItem) -> Vec<u8> {
    serde_json::json!({ "code": item.dossier_code, "reason": item.reason })
        .to_string()
        .into_bytes()
}

/// An [`OutboxSink`] that publishes work items to the bus.
#[derive(Clone)]
pub struct BusSink {
    bus: Bus,
}

impl BusSink {
    /// A sink publishing on `bus`.
    pub fn new(bus: Bus) -> Self {
        BusSink { bus }
    }
}

impl std::fmt::Debug for BusSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BusSink")
            .field("backend", &self.bus.backend_name())
            .finish()
    }
}

impl OutboxSink for BusSink {
    /// Publishes the item on the route named by its kind; `Ok` once the bus confirmed it
    /// (durable).
    async fn hand_over(&self, item: &WorkItem) -> Result<(), HandOverError> {
        let message = Message::new(
            message_id(item),
            item.kind.clone(),
            item.dossier_code.clone(),
            message_body(item),
        );
        self.bus.publish(message).await.map_err(|e| HandOverError {
            message: format!(
                "bus refused work item {} ({}; retry helps: {})",
                item.id,
                e,
                e.retryable()
            ),
        })
    }
}

/// How the relay loop works.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Claims: owner (node name), batch size, lease.
    pub options: RelayOptions,
    /// Pause when a pass found nothing to hand over (or failed).
    pub idle: Duration,
    /// How often the sweeper runs.
    pub sweep_every: Duration,
    /// The sweeper re-creates work for dossiers behind on the portal for longer than this.
    pub sweep_ahead_for: SignedDuration,
    /// At most this many dossiers per sweep.
    pub sweep_limit: u32,
}

impl Default for RelayConfig {
    /// Batches of 100 with a 60 s lease, 200 ms pause when idle, a sweep every minute for
    /// dossiers behind for more than 10 minutes, 1,000 per sweep.
    fn default() -> Self {
        RelayConfig {
            options: RelayOptions::default(),
            idle: Duration::from_millis(200),
            sweep_every: Duration::from_secs(60),
            sweep_ahead_for: SignedDuration::from_mins(10),
            sweep_limit: 1000,
        }
    }
}

/// Waits until `shutdown` says stop (`true`) or its sender is gone.
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    while !*shutdown.borrow_and_update() {
        if shutdown.changed().await.is_err() {
            return;
        }
    }
}

/// Sleeps `d`, or less when a stop is asked; returns whether to stop.
pub(crate) async fn pause(shutdown: &mut watch::Receiver<bool>, d: Duration) -> bool {
    tokio::select! {
        () = stopped(shutdown) => true,
        () = tokio::time::sleep(d) => *shutdown.borrow(),
    }
}

/// Runs the relay until `shutdown` turns `true` (or its sender is dropped): hands waiting
/// work items to the bus, waiting when there is nothing to do until the journal commits new
/// work ([`Journal::work_written`]) or [`RelayConfig::idle`] has passed, and
/// sweeps every [`RelayConfig::sweep_every`]. Journal errors are logged and the pass is
/// tried again after the pause; the relay never gives up on its own.
pub async fn run_relay(
    journal: Journal,
    bus: Bus,
    config: RelayConfig,
    mut shutdown: watch::Receiver<bool>,
) {
    let sink = BusSink::new(bus);
    let mut next_sweep = tokio::time::Instant::now();
    tracing::info!(owner = %config.options.owner, "outbox relay started");
    loop {
        if *shutdown.borrow() {
            break;
        }
        if tokio::time::Instant::now() >= next_sweep {
            next_sweep = tokio::time::Instant::now() + config.sweep_every;
            if let Err(e) = journal
                .sweep(config.sweep_ahead_for, Timestamp::now(), config.sweep_limit)
                .await
            {
                tracing::warn!(error = %e, retryable = e.retryable(), "outbox sweep failed");
            }
        }
        let busy = match journal
            .relay_once(&sink, &config.options, Timestamp::now())
            .await
        {
            Ok(report) => {
                if report.handed > 0 || report.failed > 0 {
                    tracing::debug!(
                        claimed = report.claimed,
                        handed = report.handed,
                        failed = report.failed,
                        "relay pass"
                    );
                }
                // A full, fully handed batch: more may be waiting.
                report.failed == 0 && report.claimed > 0
            }
            Err(e) => {
                tracing::warn!(error = %e, retryable = e.retryable(), "outbox relay pass failed");
                false
            }
        };
        if !busy {
            // Until new work is committed here, the idle pause ends (work written by
            // another node, or a released claim), or a stop is asked.
            tokio::select! {
                () = journal.work_written() => {}
                stop = pause(&mut shutdown, config.idle) => if stop { break },
            }
        }
    }
    tracing::info!(owner = %config.options.owner, "outbox relay stopped");
}
