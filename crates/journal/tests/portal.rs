//! Portal submissions on both backends: recorded once with their delivery work item,
//! listed per unit oldest first until delivered (first delivery only), personal data
//! encrypted at rest, a `portal.status` work item with each version or step of a submitted
//! dossier (and only of one), the current status from the latest version or step.

mod common;

use common::TestDb;
use jiff::{SignedDuration, Timestamp};
use lienthong_journal::portal::{
    IncomingSubmission, KIND_PORTAL_DELIVERY, KIND_PORTAL_STATUS, SubmissionRecorded,
};
use lienthong_journal::state::{IncomingStep, IncomingVersion};
use lienthong_journal::{Journal, Reveal};
use lienthong_model::{Dossier, DossierStatus, ProgressStep};

fn t0() -> Timestamp {
    "2025-11-27T01:00:00Z".parse().expect("time")
}

fn mins(m: i64) -> SignedDuration {
    SignedDuration::from_mins(m)
}

async fn submit(j: &Journal, code: &str, unit: Option<&str>, at: Timestamp) -> SubmissionRecorded {
    let body = format!(r#"{{"MaHoSo":"{code}","phone":"0912345678"}}"#).into_bytes();
    j.record_submission(&IncomingSubmission {
        code,
        unit_code: unit,
        procedure_code: "1.001193",
        body: &body,
        body_kind: "dvcqg.dossier",
        source: "dvcqg",
        at,
    })
    .await
    .expect("record submission")
}

async fn version(j: &Journal, code: &str, v: u64, status: DossierStatus, at: Timestamp) {
    let d = Dossier {
        code: code.into(),
        version: v,
        status: Some(status),
        ..Dossier::default()
    };
    let body = format!(r#"{{"code":"{code}","version":{v}}}"#).into_bytes();
    j.record_version(&IncomingVersion {
        dossier: &d,
        body: &body,
        body_kind: "provincial.dossier",
        source: "mc",
        at,
    })
    .await
    .expect("record version");
}

async fn step(j: &Journal, code: &str, seq: u64, status: DossierStatus, at: Timestamp) {
    let p = ProgressStep {
        dossier_code: code.into(),
        step_seq: seq,
        action: format!("bước {seq}"),
        status: Some(status),
        at: Some(at),
        ..ProgressStep::default()
    };
    let body = format!(r#"{{"dossier_code":"{code}","step_seq":{seq}}}"#).into_bytes();
    j.record_step(&IncomingStep {
        step: &p,
        body: &body,
        body_kind: "provincial.progress",
        source: "mc",
        at,
    })
    .await
    .expect("record step");
}

async fn work(j: &Journal, kind: &str, code: &str) -> usize {
    j.pending_work(1000)
        .await
        .expect("outbox")
        .iter()
        .filter(|w| w.kind == kind && w.dossier_code == code)
        .count()
}

async fn submissions(db: TestDb) {
    let j = db.open().await;
    let (a, b, c) = ("U1-1", "U2-1", "X-1");
    assert!(matches!(
        submit(&j, a, Some("U1"), t0()).await,
        SubmissionRecorded::New { .. }
    ));
    assert_eq!(
        submit(&j, a, Some("U1"), t0()).await,
        SubmissionRecorded::Duplicate
    );
    submit(&j, b, Some("U2"), t0() + mins(1)).await;
    submit(&j, c, None, t0() + mins(2)).await;
    assert_eq!(work(&j, KIND_PORTAL_DELIVERY, a).await, 1, "one work item");

    // Personal data: encrypted at rest, masked unless revealed.
    let clear = j
        .submission(a, Reveal::Clear)
        .await
        .expect("read")
        .expect("there");
    assert!(String::from_utf8_lossy(&clear.body).contains("0912345678"));
    let masked = j
        .submission(a, Reveal::Masked)
        .await
        .expect("read")
        .expect("there");
    assert!(!String::from_utf8_lossy(&masked.body).contains("0912345678"));

    let codes = |v: Vec<lienthong_journal::portal::Submission>| {
        v.into_iter().map(|s| s.code).collect::<Vec<_>>()
    };
    let all = j
        .undelivered_submissions(None, 10, Reveal::Masked)
        .await
        .expect("list");
    assert_eq!(
        codes(all),
        [a, b, c],
        "oldest first, unknown units included"
    );
    let units = vec!["U2".to_owned(), "U1".to_owned()];
    let some = j
        .undelivered_submissions(Some(&units), 10, Reveal::Masked)
        .await
        .expect("list");
    assert_eq!(codes(some), [a, b]);
    let one = j
        .undelivered_submissions(Some(&units), 1, Reveal::Masked)
        .await
        .expect("list");
    assert_eq!(codes(one), [a]);
    assert!(
        j.undelivered_submissions(Some(&[]), 10, Reveal::Masked)
            .await
            .expect("list")
            .is_empty()
    );

    // The first delivery only.
    assert!(
        j.mark_submission_delivered(a, "mc", "pull", t0() + mins(5))
            .await
            .expect("ack")
    );
    assert!(
        !j.mark_submission_delivered(a, "hook", "webhook", t0() + mins(6))
            .await
            .expect("ack")
    );
    assert!(
        !j.mark_submission_delivered("none", "mc", "pull", t0())
            .await
            .expect("ack")
    );
    let s = j
        .submission(a, Reveal::Masked)
        .await
        .expect("read")
        .expect("there");
    assert_eq!(s.delivered_to.as_deref(), Some("mc"));
    assert_eq!(s.delivered_via.as_deref(), Some("pull"));
    assert_eq!(s.delivered_at, Some(t0() + mins(5)));
    let left = j
        .undelivered_submissions(Some(&units), 10, Reveal::Masked)
        .await
        .expect("list");
    assert_eq!(codes(left), [b]);
    j.close().await;
}
both_backends!(portal_submissions, submissions);

async fn statuses(db: TestDb) {
    let j = db.open().await;
    let code = "U1-7";
    // A dossier that is not a portal submission gets no status work.
    version(&j, "LOCAL-1", 1, DossierStatus::Accepted, t0()).await;
    assert_eq!(work(&j, KIND_PORTAL_STATUS, "LOCAL-1").await, 0);
    assert_eq!(j.portal_status("LOCAL-1").await.expect("status"), None);

    submit(&j, code, Some("U1"), t0()).await;
    let s = j
        .portal_status(code)
        .await
        .expect("status")
        .expect("a submission");
    assert_eq!((s.last_reported, s.current), (None, None));

    version(&j, code, 1, DossierStatus::Accepted, t0() + mins(1)).await;
    assert_eq!(work(&j, KIND_PORTAL_STATUS, code).await, 1);
    let s = j.portal_status(code).await.expect("status").expect("there");
    assert_eq!(s.current, Some(DossierStatus::Accepted));
    assert_eq!(s.at, Some(t0() + mins(1)));

    step(&j, code, 1, DossierStatus::Processing, t0() + mins(2)).await;
    assert_eq!(work(&j, KIND_PORTAL_STATUS, code).await, 2);
    let s = j.portal_status(code).await.expect("status").expect("there");
    assert_eq!(s.current, Some(DossierStatus::Processing));
    assert_eq!(s.text, "bước 1");

    // A later version wins over an earlier step.
    version(
        &j,
        code,
        2,
        DossierStatus::SupplementRequested,
        t0() + mins(3),
    )
    .await;
    let s = j.portal_status(code).await.expect("status").expect("there");
    assert_eq!(s.current, Some(DossierStatus::SupplementRequested));
    assert_eq!(s.text, "");

    j.mark_status_reported(code, DossierStatus::SupplementRequested, t0() + mins(4))
        .await
        .expect("reported");
    let s = j.portal_status(code).await.expect("status").expect("there");
    assert_eq!(s.last_reported, Some(DossierStatus::SupplementRequested));
    let sub = j
        .submission(code, Reveal::Masked)
        .await
        .expect("read")
        .expect("there");
    assert_eq!(
        sub.status_reported,
        Some(DossierStatus::SupplementRequested)
    );
    j.close().await;
}
both_backends!(portal_statuses, statuses);
