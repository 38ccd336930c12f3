//! The transactional outbox: work items written in the same transaction as the state
//! change that causes them, a relay that hands them to the bus, and a sweeper for work
//! that got lost anyway.
//!
//! The journal does not know the bus. The binary wires a relay to it by implementing
//! [`OutboxSink`]; [`Journal::relay_once`] claims a batch of items for a lease, hands each
//! to the sink, and marks the ones the sink accepted as handed over. A relay that dies
//! between hand-over and marking leaves its claim to expire; the item is handed over again
//! (at-least-once: the routes reconcile state, so a repeated item is harmless). Several
//! relays (several nodes on PostgreSQL) never claim the same item at the same time.
//!
//! [`Journal::sweep`] re-creates a `dossier.sync` item for every dossier whose desired state
//! has been ahead of the portal (an unacknowledged version or step) for longer than the
//! configured time, unless an item for it is still waiting or was created since.

use crate::error::Result;
use crate::time::{ts, us};
use crate::{Backend, Journal};
use jiff::{SignedDuration, Timestamp};
use sqlx::{Any, Row, Transaction};
use std::future::Future;

/// Kind of the work item "reconcile this dossier with the portal".
pub const KIND_DOSSIER_SYNC: &str = "dossier.sync";

/// One work item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkItem {
    /// Id, increasing in creation order.
    pub id: i64,
    /// What to do (`dossier.sync`).
    pub kind: String,
    /// The dossier concerned (the bus's ordering key).
    pub dossier_code: String,
    /// Why it was created: `version`, `step`, `sweep`, `resync`.
    pub reason: String,
    /// When.
    pub created_at: Timestamp,
    /// How many times a relay claimed it (this claim included).
    pub attempts: u32,
}

/// Why a sink did not take an item.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct HandOverError {
    /// What happened (no personal data).
    pub message: String,
}

/// Where a relay hands work items (the bus, wired by the binary).
pub trait OutboxSink: Send + Sync {
    /// Hands one item over; `Ok` once the receiver holds it durably.
    fn hand_over(
        &self,
        item: &WorkItem,
    ) -> impl Future<Output = std::result::Result<(), HandOverError>> + Send;
}

/// How a relay works.
#[derive(Debug, Clone)]
pub struct RelayOptions {
    /// Who claims (node name); shows in the table for operators.
    pub owner: String,
    /// Items per claim.
    pub batch: u32,
    /// How long a claim holds before another relay may take the item.
    pub lease: SignedDuration,
}

impl Default for RelayOptions {
    fn default() -> Self {
        RelayOptions {
            owner: "relay".into(),
            batch: 100,
            lease: SignedDuration::from_secs(60),
        }
    }
}

/// What one relay pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayReport {
    /// Items claimed.
    pub claimed: usize,
    /// Items handed over and marked.
    pub handed: usize,
    /// Items the sink refused (released for a later pass).
    pub failed: usize,
}

pub(crate) async fn insert_work_item(
    tx: &mut Transaction<'static, Any>,
    kind: &str,
    dossier_code: &str,
    reason: &str,
    at: i64,
) -> Result<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO outbox (kind, dossier_code, reason, created_at, attempts) \
         VALUES ($1, $2, $3, $4, 0) RETURNING id",
    )
    .bind(kind)
    .bind(dossier_code)
    .bind(reason)
    .bind(at)
    .fetch_one(&mut **tx)
    .await?;
    Ok(id)
}

impl Journal {
    /// Claims up to `opts.batch` waiting items, hands them to `sink` in id order, marks
    /// those accepted as handed over and releases the others.
    pub async fn relay_once<S: OutboxSink>(
        &self,
        sink: &S,
        opts: &RelayOptions,
        now: Timestamp,
    ) -> Result<RelayReport> {
        let items = self.claim(opts, now).await?;
        let mut report = RelayReport {
            claimed: items.len(),
            ..RelayReport::default()
        };
        // Hand over in waves of items with distinct keys, each wave at once (the bus
        // pipelines the confirms), so one dossier's items keep their order and a batch
        // costs a few round trips instead of one per item.
        let mut handed = Vec::with_capacity(items.len());
        let mut start = 0;
        while start < items.len() {
            let mut keys = std::collections::HashSet::new();
            let mut end = start;
            while end < items.len() && keys.insert(items[end].dossier_code.as_str()) {
                end += 1;
            }
            let wave = &items[start..end];
            let results =
                futures_util::future::join_all(wave.iter().map(|i| sink.hand_over(i))).await;
            for (item, result) in wave.iter().zip(results) {
                match result {
                    Ok(()) => handed.push(item.id),
                    Err(e) => {
                        tracing::warn!(dossier = %item.dossier_code, work_item = item.id, error = %e,
                            "hand-over failed; item released");
                        sqlx::query(
                            "UPDATE outbox SET claimed_by = NULL, claimed_until = NULL, last_error = $2 \
                             WHERE id = $1 AND claimed_by = $3 AND handed_at IS NULL",
                        )
                        .bind(item.id)
                        .bind(&e.message)
                        .bind(&opts.owner)
                        .execute(&self.pool)
                        .await?;
                        report.failed += 1;
                    }
                }
            }
            start = end;
        }
        if !handed.is_empty() {
            // One statement marks the batch: `id IN ($3, $4, …)`.
            let list = (0..handed.len())
                .map(|i| format!("${}", i + 3))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "UPDATE outbox SET handed_at = $1, claimed_until = NULL, last_error = NULL \
                 WHERE claimed_by = $2 AND handed_at IS NULL AND id IN ({list})"
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(us(now))
                .bind(&opts.owner);
            for id in &handed {
                q = q.bind(*id);
            }
            q.execute(&self.pool).await?;
            report.handed = handed.len();
        }
        Ok(report)
    }

    async fn claim(&self, opts: &RelayOptions, now: Timestamp) -> Result<Vec<WorkItem>> {
        // PostgreSQL: pick the rows once (a materialised CTE; an `IN (… LIMIT … SKIP
        // LOCKED)` subquery may be re-run by the planner and claim more than the batch),
        // skipping rows another relay is claiming right now.
        let sql = match self.backend {
            Backend::Postgres => {
                "WITH picked AS MATERIALIZED (SELECT id FROM outbox WHERE handed_at IS NULL \
                   AND (claimed_until IS NULL OR claimed_until < $3) ORDER BY id LIMIT $4 \
                   FOR UPDATE SKIP LOCKED) \
                 UPDATE outbox SET claimed_by = $1, claimed_until = $2, attempts = attempts + 1 \
                 FROM picked WHERE outbox.id = picked.id \
                 RETURNING outbox.id, kind, dossier_code, reason, created_at, attempts"
            }
            Backend::Sqlite => {
                "UPDATE outbox SET claimed_by = $1, claimed_until = $2, attempts = attempts + 1 \
                 WHERE id IN (SELECT id FROM outbox WHERE handed_at IS NULL \
                   AND (claimed_until IS NULL OR claimed_until < $3) ORDER BY id LIMIT $4) \
                 RETURNING id, kind, dossier_code, reason, created_at, attempts"
            }
        };
        let until = now.saturating_add(opts.lease).unwrap_or(now);
        let rows = sqlx::query(sql)
            .bind(&opts.owner)
            .bind(us(until))
            .bind(us(now))
            .bind(i64::from(opts.batch.max(1)))
            .fetch_all(&self.pool)
            .await?;
        let mut items = rows
            .into_iter()
            .map(|r| {
                Ok(WorkItem {
                    id: r.try_get(0)?,
                    kind: r.try_get(1)?,
                    dossier_code: r.try_get(2)?,
                    reason: r.try_get(3)?,
                    created_at: ts(r.try_get(4)?)?,
                    attempts: r.try_get::<i64, _>(5)?.clamp(0, i64::from(u32::MAX)) as u32,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        items.sort_by_key(|i| i.id);
        Ok(items)
    }

    /// Items not yet handed over, oldest first (for operators and tests).
    pub async fn pending_work(&self, limit: u32) -> Result<Vec<WorkItem>> {
        let rows = sqlx::query(
            "SELECT id, kind, dossier_code, reason, created_at, attempts FROM outbox \
             WHERE handed_at IS NULL ORDER BY id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(WorkItem {
                    id: r.try_get(0)?,
                    kind: r.try_get(1)?,
                    dossier_code: r.try_get(2)?,
                    reason: r.try_get(3)?,
                    created_at: ts(r.try_get(4)?)?,
                    attempts: r.try_get::<i64, _>(5)?.clamp(0, i64::from(u32::MAX)) as u32,
                })
            })
            .collect()
    }

    /// Re-creates a `dossier.sync` item for up to `limit` dossiers whose desired state has
    /// been ahead of the portal for longer than `ahead_for`, unless an item for the dossier
    /// is still waiting or was created within that time. Returns how many were created.
    pub async fn sweep(
        &self,
        ahead_for: SignedDuration,
        now: Timestamp,
        limit: u32,
    ) -> Result<u64> {
        let cutoff = us(now.saturating_sub(ahead_for).unwrap_or(now));
        let n = sqlx::query(
            "INSERT INTO outbox (kind, dossier_code, reason, created_at, attempts) \
             SELECT $1, a.code, 'sweep', $2, 0 FROM ( \
               SELECT code FROM dossier WHERE ahead_since IS NOT NULL AND ahead_since < $3 \
               UNION \
               SELECT code FROM progress_step WHERE acked_at IS NULL AND recorded_at < $3 \
             ) a \
             WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.dossier_code = a.code \
               AND (o.handed_at IS NULL OR o.created_at >= $3)) \
             ORDER BY a.code LIMIT $4",
        )
        .bind(KIND_DOSSIER_SYNC)
        .bind(us(now))
        .bind(cutoff)
        .bind(i64::from(limit))
        .execute(&self.pool)
        .await?
        .rows_affected();
        if n > 0 {
            tracing::info!(
                created = n,
                "sweeper re-created work for dossiers behind on the portal"
            );
        }
        Ok(n)
    }

    /// Deletes up to `batch` items handed over before `before`; call until it returns 0.
    pub async fn purge_outbox(&self, before: Timestamp, batch: u32) -> Result<u64> {
        let n = sqlx::query(
            "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox \
             WHERE handed_at IS NOT NULL AND handed_at < $1 ORDER BY id LIMIT $2)",
        )
        .bind(us(before))
        .bind(i64::from(batch.max(1)))
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n)
    }
}
