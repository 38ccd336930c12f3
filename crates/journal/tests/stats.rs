//! Statistics on generated dossiers, checked against answers computed here independently
//! (from the generator's stories, by calendar dates), on both backends.

mod common;

use common::TestDb;
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::offset;
use lienthong_journal::state::IncomingVersion;
use lienthong_journal::stats::{Counts, GroupBy, ReportQuery};
use lienthong_model::{Channel, Dossier, DossierStatus};
use lienthong_provincial::generate::Generator;
use lienthong_provincial::write::dossier_json;
use std::collections::BTreeMap;

const STORIES: usize = 700;

fn local(t: Timestamp) -> jiff::civil::DateTime {
    offset(7).to_datetime(t)
}

/// The latest version of each generated dossier, and every version in a scrambled order.
fn generated() -> (Vec<Dossier>, Vec<Dossier>) {
    let mut g = Generator::new(20250303);
    let mut latest = Vec::new();
    let mut all = Vec::new();
    for _ in 0..STORIES {
        let s = g.story();
        latest.push(s.versions.last().expect("a version").clone());
        all.extend(s.versions);
    }
    // Newest versions first for every third dossier: stale versions must not count.
    let n = all.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|i| ((i * 7919) % n, all[*i].version));
    (latest, order.into_iter().map(|i| all[i].clone()).collect())
}

/// The expected counts, written from the definitions in docs/statistics.md, with
/// calendar dates rather than the journal's instants.
fn expected(latest: &[Dossier], from: Date, to: Date, by: GroupBy) -> BTreeMap<String, Counts> {
    let mut out: BTreeMap<String, Counts> = BTreeMap::new();
    for d in latest {
        let Some(received) = d.received_at else {
            continue;
        };
        let day = local(received).date();
        if day < from || day > to {
            continue;
        }
        // The last day of the period the dossier belongs to (inclusive).
        let last_day = match by {
            GroupBy::Month => {
                let month_last = day.last_of_month();
                if month_last < to { month_last } else { to }
            }
            _ => to,
        };
        let key = match by {
            GroupBy::Month => format!("{:04}-{:02}", day.year(), day.month()),
            GroupBy::Department => d.unit.code.clone().unwrap_or("-".into()),
            GroupBy::Agency => {
                let u = d.unit.code.clone().unwrap_or("-".into());
                format!("000.00.00.{}", &u[u.len() - 3..])
            }
        };
        let c = out.entry(key).or_default();
        let within = |t: Timestamp| local(t).date() <= last_day;
        c.received += 1;
        if d.channel == Some(Channel::Online) {
            c.online += 1;
        } else if d.channel == Some(Channel::Postal) {
            c.postal += 1;
        } else {
            c.in_person += 1;
        }
        let finish = d.finished_at.or(d.returned_at);
        let done = matches!(
            d.status,
            Some(DossierStatus::Finished | DossierStatus::Returned)
        ) && finish.is_none_or(within);
        let refused =
            d.status == Some(DossierStatus::NotAccepted) && d.refused_at.is_none_or(within);
        if done {
            c.resolved += 1;
            let good = match (finish, d.due_at) {
                (_, None) => true,
                (Some(f), Some(due)) => f.as_microsecond() <= due.as_microsecond(),
                _ => false,
            };
            if good {
                c.on_time += 1;
                if let (Some(f), Some(due)) = (finish, d.due_at)
                    && local(f).date() < local(due).date()
                {
                    c.early += 1;
                }
            } else {
                c.late += 1;
            }
        } else if refused {
            c.refused += 1;
        } else if d.status == Some(DossierStatus::Withdrawn) {
            c.withdrawn += 1;
        } else if d.status == Some(DossierStatus::Stopped) {
            c.stopped += 1;
        } else {
            c.pending += 1;
            if d.due_at
                .is_some_and(|due| local(due).date() <= last_day && within(due))
            {
                c.overdue += 1;
            }
        }
    }
    out
}

async fn statistics(db: TestDb) {
    let (latest, scrambled) = generated();
    let j = db.open().await;
    // Four writers at once, versions in scrambled order.
    let mut tasks = Vec::new();
    for part in scrambled.chunks(scrambled.len().div_ceil(4)) {
        let part = part.to_vec();
        let j = j.clone();
        tasks.push(tokio::spawn(async move {
            for d in &part {
                let body = dossier_json(d);
                j.record_version(&IncomingVersion {
                    dossier: d,
                    body: body.as_bytes(),
                    body_kind: "provincial.dossier",
                    source: "mc-nghean",
                    at: Timestamp::now(),
                })
                .await
                .expect("record");
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer");
    }
    let from: Date = "2025-03-01".parse().expect("d");
    let to: Date = "2025-04-30".parse().expect("d");
    let mut grand = Counts::default();
    for by in [GroupBy::Month, GroupBy::Department, GroupBy::Agency] {
        let report = j
            .report(&ReportQuery {
                from,
                to,
                agency: None,
                by,
            })
            .await
            .expect("report");
        let got: BTreeMap<String, Counts> = report
            .rows
            .iter()
            .filter(|r| r.counts.received > 0)
            .map(|r| (r.key.clone(), r.counts))
            .collect();
        assert_eq!(got, expected(&latest, from, to, by), "by {by:?}");
        let t = report.total;
        assert_eq!(
            t.received,
            t.resolved + t.pending + t.refused + t.withdrawn + t.stopped
        );
        assert_eq!(t.resolved, t.on_time + t.late);
        assert_eq!(t.received, t.online + t.in_person + t.postal);
        if by == GroupBy::Month {
            grand = t;
            assert_eq!(report.rows.len(), 2, "March and April");
        }
    }
    // The data must exercise every counter that matters.
    assert!(grand.received > 300, "{grand:?}");
    for (name, v) in [
        ("online", grand.online),
        ("late", grand.late),
        ("early", grand.early),
        ("refused", grand.refused),
        ("pending", grand.pending),
        ("overdue", grand.overdue),
    ] {
        assert!(v > 0, "no {name} dossier in the generated data: {grand:?}");
    }
    // Filtering by a department gives that department's row.
    let dept = j
        .report(&ReportQuery {
            from,
            to,
            agency: Some("000.00.12.H41".into()),
            by: GroupBy::Department,
        })
        .await
        .expect("report");
    assert_eq!(dept.rows.len(), 1);
    assert_eq!(
        dept.total,
        expected(&latest, from, to, GroupBy::Department)["000.00.12.H41"]
    );
    // One day.
    let day: Date = "2025-03-10".parse().expect("d");
    let one = j
        .report(&ReportQuery {
            from: day,
            to: day,
            agency: None,
            by: GroupBy::Agency,
        })
        .await
        .expect("report");
    let exp: Counts = expected(&latest, day, day, GroupBy::Agency).values().fold(
        Counts::default(),
        |mut a, c| {
            a.received += c.received;
            a.pending += c.pending;
            a.overdue += c.overdue;
            a.resolved += c.resolved;
            a
        },
    );
    assert_eq!(
        (
            one.total.received,
            one.total.pending,
            one.total.overdue,
            one.total.resolved
        ),
        (exp.received, exp.pending, exp.overdue, exp.resolved)
    );
    j.close().await;
}
both_backends!(statistics_match_independent_answers, statistics);
