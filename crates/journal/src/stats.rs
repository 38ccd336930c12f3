//! Statistics of the centre's report: dossiers received, resolved, resolved on time (and
//! early), pending and overdue at the end of the period, refused, withdrawn, stopped, per
//! channel — per month, agency or department. The formulas are written down in
//! `docs/statistics.md`; [`classify`] is their one implementation, pure and separate from
//! the query that gathers the facts.
//!
//! Days and months are Vietnamese calendar days (UTC+07:00).

use crate::Journal;
use crate::error::{JournalError, Result};
use crate::state::status_of;
use crate::time::{ts, ts_opt, us};
use jiff::civil::{Date, Time};
use jiff::tz::{Offset, offset};
use jiff::{Timestamp, ToSpan};
use lienthong_model::{Channel, DossierStatus};
use serde::Serialize;
use sqlx::Row;
use std::collections::BTreeMap;

const VN: Offset = offset(7);

/// The level-1 agency of a unit code: `NNN.NN.NN.XNN` gives `000.00.00.XNN` (codes.md §1.1);
/// any other form is its own agency.
pub fn agency_of(unit_code: &str) -> String {
    let c = unit_code.trim();
    let b = c.as_bytes();
    let strict = b.len() == 13
        && b.iter().enumerate().all(|(i, ch)| match i {
            3 | 6 | 9 => *ch == b'.',
            10 => ch.is_ascii_uppercase(),
            _ => ch.is_ascii_digit(),
        });
    if strict {
        format!("000.00.00.{}", &c[10..])
    } else {
        c.to_owned()
    }
}

/// Start of a Vietnamese calendar day.
pub fn day_start(d: Date) -> Result<Timestamp> {
    VN.to_timestamp(d.to_datetime(Time::midnight()))
        .map_err(|e| JournalError::Invalid(format!("date {d} out of range: {e}")))
}

/// The Vietnamese calendar day of an instant.
pub fn local_date(t: Timestamp) -> Date {
    VN.to_datetime(t).date()
}

/// What the statistics need of one dossier (its latest version).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// Level-1 agency code.
    pub agency: Option<String>,
    /// Receiving unit (department) code.
    pub unit_code: Option<String>,
    /// Its name.
    pub unit_name: Option<String>,
    /// Status.
    pub status: Option<DossierStatus>,
    /// Channel.
    pub channel: Option<Channel>,
    /// Received.
    pub received_at: Option<Timestamp>,
    /// Due.
    pub due_at: Option<Timestamp>,
    /// Processing finished.
    pub finished_at: Option<Timestamp>,
    /// Result returned.
    pub returned_at: Option<Timestamp>,
    /// Refused.
    pub refused_at: Option<Timestamp>,
}

/// The counts of one row of the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Received in the period.
    pub received: u64,
    /// Of those, submitted online (KenhThucHien 2).
    pub online: u64,
    /// In person (KenhThucHien 1, or no channel).
    pub in_person: u64,
    /// By public postal service (KenhThucHien 3).
    pub postal: u64,
    /// Resolved (status 9 or 10) by the end of the period.
    pub resolved: u64,
    /// Resolved no later than due.
    pub on_time: u64,
    /// Of those, resolved on a day before the due day.
    pub early: u64,
    /// Resolved after due.
    pub late: u64,
    /// Not resolved, refused, withdrawn nor stopped at the end of the period.
    pub pending: u64,
    /// Of those, past due at the end of the period.
    pub overdue: u64,
    /// Not accepted (status 3).
    pub refused: u64,
    /// Withdrawn by the applicant (status 7).
    pub withdrawn: u64,
    /// Processing stopped (status 8).
    pub stopped: u64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.received += o.received;
        self.online += o.online;
        self.in_person += o.in_person;
        self.postal += o.postal;
        self.resolved += o.resolved;
        self.on_time += o.on_time;
        self.early += o.early;
        self.late += o.late;
        self.pending += o.pending;
        self.overdue += o.overdue;
        self.refused += o.refused;
        self.withdrawn += o.withdrawn;
        self.stopped += o.stopped;
    }

    /// Share of resolved dossiers resolved on time, in percent (`None` when none resolved).
    pub fn on_time_percent(&self) -> Option<f64> {
        (self.resolved > 0).then(|| 100.0 * self.on_time as f64 / self.resolved as f64)
    }

    /// Share of received dossiers submitted online, in percent.
    pub fn online_percent(&self) -> Option<f64> {
        (self.received > 0).then(|| 100.0 * self.online as f64 / self.received as f64)
    }
}

/// How one dossier counts in a period ending (exclusive) at `end`. The dossier is assumed
/// received in the period.
pub fn classify(f: &Facts, end: Timestamp) -> Counts {
    let mut c = Counts {
        received: 1,
        ..Counts::default()
    };
    match f.channel {
        Some(Channel::Online) => c.online = 1,
        Some(Channel::Postal) => c.postal = 1,
        Some(Channel::InPerson) | None => c.in_person = 1,
    }
    let finish = f.finished_at.or(f.returned_at);
    let pending = match f.status {
        Some(DossierStatus::Finished | DossierStatus::Returned) => match finish {
            Some(t) if t >= end => true,
            _ => {
                c.resolved = 1;
                let on_time = match (finish, f.due_at) {
                    (_, None) => true,
                    (Some(t), Some(due)) => t <= due,
                    (None, Some(_)) => false,
                };
                if on_time {
                    c.on_time = 1;
                    if let (Some(t), Some(due)) = (finish, f.due_at)
                        && local_date(t) < local_date(due)
                    {
                        c.early = 1;
                    }
                } else {
                    c.late = 1;
                }
                false
            }
        },
        Some(DossierStatus::NotAccepted) => match f.refused_at {
            Some(t) if t >= end => true,
            _ => {
                c.refused = 1;
                false
            }
        },
        Some(DossierStatus::Withdrawn) => {
            c.withdrawn = 1;
            false
        }
        Some(DossierStatus::Stopped) => {
            c.stopped = 1;
            false
        }
        _ => true,
    };
    if pending {
        c.pending = 1;
        if f.due_at.is_some_and(|due| due < end) {
            c.overdue = 1;
        }
    }
    c
}

/// How the report is split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// One row per calendar month (each month is its own period).
    Month,
    /// One row per level-1 agency.
    Agency,
    /// One row per receiving unit (department).
    Department,
}

/// What to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportQuery {
    /// First day (inclusive).
    pub from: Date,
    /// Last day (inclusive).
    pub to: Date,
    /// Only this agency (level-1 code) or department (unit code).
    pub agency: Option<String>,
    /// Rows.
    pub by: GroupBy,
}

/// One row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportRow {
    /// Month (`2025-03`), agency code or unit code (`-` when unknown).
    pub key: String,
    /// A name for people (the unit's name), when known.
    pub label: Option<String>,
    /// The counts.
    #[serde(flatten)]
    pub counts: Counts,
}

/// A report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// First day.
    pub from: Date,
    /// Last day.
    pub to: Date,
    /// Rows by.
    pub by: GroupBy,
    /// Agency filter.
    pub agency: Option<String>,
    /// Rows in key order.
    pub rows: Vec<ReportRow>,
    /// Sum of the rows.
    pub total: Counts,
}

/// The report over facts of dossiers (those received outside the period are ignored).
pub fn compute(q: &ReportQuery, facts: &[Facts]) -> Result<Report> {
    if q.to < q.from {
        return Err(JournalError::Invalid(format!(
            "report period ends ({}) before it starts ({})",
            q.to, q.from
        )));
    }
    let start = day_start(q.from)?;
    let end = day_start(
        q.to.tomorrow()
            .map_err(|e| JournalError::Invalid(e.to_string()))?,
    )?;
    let mut rows: BTreeMap<String, ReportRow> = BTreeMap::new();
    if q.by == GroupBy::Month {
        // Every month of the period has a row, even an empty one.
        let mut m = q.from.first_of_month();
        while m <= q.to {
            let key = format!("{:04}-{:02}", m.year(), m.month());
            rows.insert(
                key.clone(),
                ReportRow {
                    key,
                    label: None,
                    counts: Counts::default(),
                },
            );
            m = m
                .checked_add(1.month())
                .map_err(|e| JournalError::Invalid(e.to_string()))?;
        }
    }
    for f in facts {
        let Some(received) = f.received_at else {
            continue;
        };
        if received < start || received >= end {
            continue;
        }
        if let Some(a) = &q.agency
            && f.agency.as_deref() != Some(a)
            && f.unit_code.as_deref() != Some(a)
        {
            continue;
        }
        let (key, label, period_end) = match q.by {
            GroupBy::Month => {
                let d = local_date(received);
                let next = d
                    .first_of_month()
                    .checked_add(1.month())
                    .map_err(|e| JournalError::Invalid(e.to_string()))?;
                let month_end = day_start(next)?.min(end);
                (format!("{:04}-{:02}", d.year(), d.month()), None, month_end)
            }
            GroupBy::Agency => (f.agency.clone().unwrap_or_else(|| "-".into()), None, end),
            GroupBy::Department => (
                f.unit_code.clone().unwrap_or_else(|| "-".into()),
                f.unit_name.clone(),
                end,
            ),
        };
        let row = rows.entry(key.clone()).or_insert(ReportRow {
            key,
            label: None,
            counts: Counts::default(),
        });
        if row.label.is_none() {
            row.label = label;
        }
        row.counts.add(&classify(f, period_end));
    }
    let mut total = Counts::default();
    for r in rows.values() {
        total.add(&r.counts);
    }
    Ok(Report {
        from: q.from,
        to: q.to,
        by: q.by,
        agency: q.agency.clone(),
        rows: rows.into_values().collect(),
        total,
    })
}

impl Journal {
    /// The report, from the latest version of every dossier received in the period.
    pub async fn report(&self, q: &ReportQuery) -> Result<Report> {
        let start = day_start(q.from)?;
        let end = day_start(
            q.to.tomorrow()
                .map_err(|e| JournalError::Invalid(e.to_string()))?,
        )?;
        let mut sql = String::from(
            "SELECT agency_code, unit_code, unit_name, status, channel, received_at, due_at, \
             finished_at, returned_at, refused_at FROM dossier \
             WHERE received_at >= $1 AND received_at < $2",
        );
        if q.agency.is_some() {
            sql.push_str(" AND (agency_code = $3 OR unit_code = $3)");
        }
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(us(start))
            .bind(us(end));
        if let Some(a) = &q.agency {
            query = query.bind(a.clone());
        }
        let rows = query.fetch_all(&self.pool).await?;
        let mut facts = Vec::with_capacity(rows.len());
        for r in rows {
            let channel: Option<i64> = r.try_get(4)?;
            facts.push(Facts {
                agency: r.try_get(0)?,
                unit_code: r.try_get(1)?,
                unit_name: r.try_get(2)?,
                status: status_of(r.try_get(3)?),
                channel: channel
                    .filter(|c| (1..=3).contains(c))
                    .map(|c| Channel::ALL[c as usize - 1]),
                received_at: Some(ts(r.try_get(5)?)?),
                due_at: ts_opt(r.try_get(6)?)?,
                finished_at: ts_opt(r.try_get(7)?)?,
                returned_at: ts_opt(r.try_get(8)?)?,
                refused_at: ts_opt(r.try_get(9)?)?,
            });
        }
        compute(q, &facts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().expect("time")
    }

    fn facts(status: DossierStatus) -> Facts {
        Facts {
            agency: Some("000.00.00.H41".into()),
            unit_code: Some("000.00.12.H41".into()),
            unit_name: None,
            status: Some(status),
            channel: Some(Channel::Online),
            received_at: Some(t("2025-03-03T02:00:00Z")),
            due_at: Some(t("2025-03-05T10:00:00Z")),
            finished_at: None,
            returned_at: None,
            refused_at: None,
        }
    }

    #[test]
    fn agencies() {
        assert_eq!(agency_of("000.00.12.H41"), "000.00.00.H41");
        assert_eq!(agency_of("H41.12"), "H41.12");
    }

    #[test]
    fn on_time_early_late_overdue() {
        let end = t("2025-04-01T00:00:00+07:00");
        let mut f = facts(DossierStatus::Finished);
        f.finished_at = Some(t("2025-03-05T10:00:00Z")); // exactly due
        let c = classify(&f, end);
        assert_eq!((c.resolved, c.on_time, c.early, c.late), (1, 1, 0, 0));
        f.finished_at = Some(t("2025-03-04T16:59:00Z")); // 23:59 local on the 4th
        let c = classify(&f, end);
        assert_eq!((c.on_time, c.early), (1, 1));
        f.finished_at = Some(t("2025-03-05T10:00:01Z"));
        assert_eq!(classify(&f, end).late, 1);
        // Finished after the end of the period: pending (and overdue) then.
        f.finished_at = Some(t("2025-04-02T00:00:00Z"));
        let c = classify(&f, end);
        assert_eq!((c.resolved, c.pending, c.overdue), (0, 1, 1));
        let p = facts(DossierStatus::Processing);
        assert_eq!(classify(&p, t("2025-03-05T10:00:00Z")).overdue, 0);
        assert_eq!(classify(&p, t("2025-03-05T10:00:01Z")).overdue, 1);
        assert_eq!(classify(&facts(DossierStatus::NotAccepted), end).refused, 1);
        assert_eq!(classify(&facts(DossierStatus::Withdrawn), end).withdrawn, 1);
        assert_eq!(classify(&facts(DossierStatus::Stopped), end).stopped, 1);
    }
}
