//! The audit log: every state-changing operator action — who (actor and role), what
//! (action, target, details), when, and why (the operator's reason). Entries are only ever
//! added; [`Journal::audit_log`] reads them newest first.
//!
//! The journal knows no action names: the caller chooses them (the gateway writes
//! `parked.replay`, `parked.discard`, `maintenance.on`, `maintenance.off`, `dossier.resync`).
//! Details are a JSON object; callers put no personal data in them.

use crate::Journal;
use crate::error::{JournalError, Result};
use crate::time::{ts, us};
use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;
use sqlx::{AssertSqlSafe, Row};

/// One action to record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    /// When it was asked for.
    pub at: Timestamp,
    /// The operator's configured name.
    pub actor: String,
    /// Their role (`viewer`, `operator`, `admin`).
    pub role: String,
    /// What was done, e.g. `parked.replay`.
    pub action: String,
    /// What it applied to, e.g. `dossier.sync/MSG-ID`, `all`, a filter.
    pub target: Option<String>,
    /// The operator's reason.
    pub reason: Option<String>,
    /// More facts, a JSON object (`{}` when there are none).
    pub details: Value,
}

/// A recorded entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRecord {
    /// Position in the log (ascending with time of writing).
    pub id: i64,
    /// The entry.
    #[serde(flatten)]
    pub entry: AuditEntry,
}

/// Which entries to read. Every set field must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditFilter {
    /// Actor (exact).
    pub actor: Option<String>,
    /// Action (exact).
    pub action: Option<String>,
    /// At or after.
    pub since: Option<Timestamp>,
    /// At most this many (1..=1,000; 0 counts as 1).
    pub limit: u32,
}

impl Default for AuditFilter {
    /// The newest 100 entries.
    fn default() -> Self {
        AuditFilter {
            actor: None,
            action: None,
            since: None,
            limit: 100,
        }
    }
}

impl Journal {
    /// Records an action; returns its id once committed.
    pub async fn audit(&self, entry: &AuditEntry) -> Result<i64> {
        if entry.actor.trim().is_empty() || entry.action.trim().is_empty() {
            return Err(JournalError::Invalid(
                "an audit entry needs an actor and an action".into(),
            ));
        }
        let details = match &entry.details {
            Value::Null => "{}".to_owned(),
            Value::Object(_) => entry.details.to_string(),
            _ => {
                return Err(JournalError::Invalid(
                    "audit details must be a JSON object".into(),
                ));
            }
        };
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO audit (at, actor, role, action, target, reason, details) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(us(entry.at))
        .bind(&entry.actor)
        .bind(&entry.role)
        .bind(&entry.action)
        .bind(entry.target.as_deref())
        .bind(entry.reason.as_deref())
        .bind(details)
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }

    /// Entries matching `filter`, newest first.
    pub async fn audit_log(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>> {
        let mut conds: Vec<String> = Vec::new();
        let mut texts: Vec<String> = Vec::new();
        let mut n = 0;
        for (column, value) in [("actor", &filter.actor), ("action", &filter.action)] {
            if let Some(v) = value {
                n += 1;
                conds.push(format!("{column} = ${n}"));
                texts.push(v.clone());
            }
        }
        let since = filter.since.map(us);
        if since.is_some() {
            n += 1;
            conds.push(format!("at >= ${n}"));
        }
        let mut sql =
            "SELECT id, at, actor, role, action, target, reason, details FROM audit".to_owned();
        if !conds.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conds.join(" AND "));
        }
        sql.push_str(&format!(
            " ORDER BY at DESC, id DESC LIMIT {}",
            filter.limit.clamp(1, 1000)
        ));
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for t in texts {
            query = query.bind(t);
        }
        if let Some(s) = since {
            query = query.bind(s);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                let details: String = r.try_get(7)?;
                let details = serde_json::from_str(&details).map_err(|e| {
                    JournalError::Corrupt(format!("audit details are not JSON: {e}"))
                })?;
                Ok(AuditRecord {
                    id: r.try_get(0)?,
                    entry: AuditEntry {
                        at: ts(r.try_get(1)?)?,
                        actor: r.try_get(2)?,
                        role: r.try_get(3)?,
                        action: r.try_get(4)?,
                        target: r.try_get(5)?,
                        reason: r.try_get(6)?,
                        details,
                    },
                })
            })
            .collect()
    }
}
