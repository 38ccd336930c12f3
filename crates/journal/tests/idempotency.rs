//! Idempotency keys on both backends.

mod common;

use common::TestDb;
use jiff::{SignedDuration, Timestamp};
use lienthong_journal::idempotency::{Begin, StoredAnswer, SubmissionKey};

async fn duplicates(db: TestDb) {
    let j = db.open().await;
    let now: Timestamp = "2025-03-03T01:00:00Z".parse().expect("t");
    let stale = SignedDuration::from_mins(5);
    let k = SubmissionKey::for_version("mc-nghean", "000.00.12.H41-250303-0001", 2);
    let req = br#"{"code":"000.00.12.H41-250303-0001","version":2}"#;
    assert_eq!(
        j.begin_submission(&k, req, now, stale).await.expect("b"),
        Begin::New
    );
    assert_eq!(
        j.begin_submission(&k, req, now, stale).await.expect("b"),
        Begin::InProgress
    );
    j.complete_submission(&k, 202, br#"{"accepted":true}"#, now)
        .await
        .expect("complete");
    assert_eq!(
        j.begin_submission(&k, req, now, stale).await.expect("b"),
        Begin::Replay(StoredAnswer {
            status: 202,
            body: br#"{"accepted":true}"#.to_vec()
        })
    );
    assert_eq!(
        j.begin_submission(&k, b"{}", now, stale).await.expect("b"),
        Begin::Mismatch
    );
    // A client's own key; the first handler died: after stale_after another takes over.
    let h = SubmissionKey::from_header("ministry-x", "7f0c1d");
    assert_eq!(
        j.begin_submission(&h, b"a", now, stale).await.expect("b"),
        Begin::New
    );
    let later = now + SignedDuration::from_mins(6);
    assert_eq!(
        j.begin_submission(&h, b"a", later, stale).await.expect("b"),
        Begin::New
    );
    assert_eq!(
        j.begin_submission(&h, b"a", later, stale).await.expect("b"),
        Begin::InProgress
    );
    j.abandon_submission(&h).await.expect("abandon");
    assert_eq!(
        j.begin_submission(&h, b"a", later, stale).await.expect("b"),
        Begin::New
    );
    assert_eq!(j.purge_submissions(later + stale, 1).await.expect("p"), 1);
    assert_eq!(j.purge_submissions(later + stale, 1).await.expect("p"), 1);
    assert_eq!(j.purge_submissions(later + stale, 1).await.expect("p"), 0);
    j.close().await;
}
both_backends!(duplicate_submission_gets_the_original_answer, duplicates);
