//! The audit log on both backends: entries read back as written, newest first, filtered.

mod common;

use common::TestDb;
use jiff::{SignedDuration, Timestamp};
use lienthong_journal::audit::{AuditEntry, AuditFilter};
use serde_json::json;

fn entry(at: Timestamp, actor: &str, action: &str, reason: Option<&str>) -> AuditEntry {
    AuditEntry {
        at,
        actor: actor.into(),
        role: "operator".into(),
        action: action.into(),
        target: Some("dossier.sync/m-1".into()),
        reason: reason.map(str::to_owned),
        details: json!({ "count": 1, "selection": { "route": "dossier.sync" } }),
    }
}

async fn records_and_filters(db: TestDb) {
    let j = db.open().await;
    let t0: Timestamp = "2025-03-03T01:00:00Z".parse().expect("t");
    let min = SignedDuration::from_mins(1);
    let a = entry(t0, "lan", "parked.replay", Some("portal back up"));
    let b = entry(
        t0 + min,
        "minh",
        "parked.discard",
        Some("sent by hand / đã gửi tay"),
    );
    let mut c = entry(t0 + min * 2, "lan", "maintenance.on", None);
    c.role = "admin".into();
    c.target = None;
    c.details = serde_json::Value::Null;
    let ia = j.audit(&a).await.expect("audit a");
    let ib = j.audit(&b).await.expect("audit b");
    let ic = j.audit(&c).await.expect("audit c");
    assert!(ia < ib && ib < ic);

    let all = j.audit_log(&AuditFilter::default()).await.expect("log");
    assert_eq!(
        all.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![ic, ib, ia],
        "newest first"
    );
    assert_eq!(all[2].entry, a);
    assert_eq!(
        all[1].entry.reason.as_deref(),
        Some("sent by hand / đã gửi tay")
    );
    assert_eq!(
        all[0].entry.details,
        json!({}),
        "no details read back as {{}}"
    );
    assert_eq!(all[0].entry.target, None);

    let by_lan = AuditFilter {
        actor: Some("lan".into()),
        ..AuditFilter::default()
    };
    let got = j.audit_log(&by_lan).await.expect("log");
    assert_eq!(got.iter().map(|r| r.id).collect::<Vec<_>>(), vec![ic, ia]);

    let discards = AuditFilter {
        action: Some("parked.discard".into()),
        ..AuditFilter::default()
    };
    let got = j.audit_log(&discards).await.expect("log");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].entry.actor, "minh");

    let recent = AuditFilter {
        actor: Some("lan".into()),
        since: Some(t0 + min),
        ..AuditFilter::default()
    };
    let got = j.audit_log(&recent).await.expect("log");
    assert_eq!(got.iter().map(|r| r.id).collect::<Vec<_>>(), vec![ic]);

    let one = AuditFilter {
        limit: 1,
        ..AuditFilter::default()
    };
    assert_eq!(j.audit_log(&one).await.expect("log").len(), 1);

    // Refused: no actor, details that are not an object.
    assert!(j.audit(&entry(t0, " ", "x", None)).await.is_err());
    let mut bad = entry(t0, "lan", "x", None);
    bad.details = json!([1, 2]);
    assert!(j.audit(&bad).await.is_err());
    assert_eq!(
        j.audit_log(&AuditFilter::default())
            .await
            .expect("log")
            .len(),
        3
    );
    j.close().await;
}
both_backends!(audit_log, records_and_filters);
