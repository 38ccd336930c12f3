//! Message log, search, bodies with personal data, purge and timeline on both backends.

mod common;

use common::TestDb;
use jiff::{SignedDuration, Timestamp};
use lienthong_journal::Reveal;
use lienthong_journal::messages::{
    Direction, EntryKind, LogEntry, MessageRecord, Outcome, SearchQuery,
};
use lienthong_journal::state::{IncomingStep, IncomingVersion};
use lienthong_model::{Dossier, DossierStatus, ProgressStep};
use sqlx::Row;

fn t0() -> Timestamp {
    "2025-03-03T01:00:00Z".parse().expect("time")
}

fn at(min: i64) -> Timestamp {
    t0() + SignedDuration::from_mins(min)
}

fn record(i: usize) -> MessageRecord {
    let mut r = MessageRecord::new(
        format!("m{i:03}"),
        if i.is_multiple_of(2) {
            Direction::In
        } else {
            Direction::Out
        },
        ["dvcqg", "vdxp", "mc-nghean"][i % 3],
        "dvcqg.DongBoHoSoMC",
        format!("payload {i}").as_bytes(),
        at(i as i64),
    );
    r.dossier_code = Some(format!("D{}", i % 4));
    r.doc_id = i.is_multiple_of(5).then(|| format!("doc-{i}"));
    r.outcome = [Outcome::Accepted, Outcome::Rejected, Outcome::Pending][i % 3];
    r
}

async fn log_and_search(db: TestDb) {
    let j = db.open().await;
    let records: Vec<MessageRecord> = (0..30).map(record).collect();
    let entries: Vec<LogEntry<'_>> = records
        .iter()
        .map(|r| LogEntry {
            record: r,
            body: None,
        })
        .collect();
    j.log_messages(&entries).await.expect("log");
    let all = j
        .search(&SearchQuery {
            limit: 1000,
            ..SearchQuery::default()
        })
        .await
        .expect("search");
    assert_eq!(all.items.len(), 30);
    assert_eq!(all.items[0].record.id, "m029", "newest first");
    assert_eq!(all.items[0].record, records[29]);
    let ids = |p: &lienthong_journal::messages::Page| {
        p.items
            .iter()
            .map(|f| f.record.id.clone())
            .collect::<Vec<_>>()
    };
    let by = |q: SearchQuery| {
        let j = j.clone();
        async move { j.search(&q).await.expect("search") }
    };
    let d1 = by(SearchQuery {
        dossier_code: Some("D1".into()),
        ..SearchQuery::default()
    })
    .await;
    assert_eq!(d1.items.len(), 8);
    assert!(
        d1.items
            .iter()
            .all(|f| f.record.dossier_code.as_deref() == Some("D1"))
    );
    let doc = by(SearchQuery {
        doc_id: Some("doc-10".into()),
        ..SearchQuery::default()
    })
    .await;
    assert_eq!(ids(&doc), ["m010"]);
    let combined = by(SearchQuery {
        partner: Some("vdxp".into()),
        outcome: Some(Outcome::Rejected),
        from: Some(at(4)),
        to: Some(at(20)),
        ..SearchQuery::default()
    })
    .await;
    assert_eq!(
        ids(&combined),
        ["m019", "m016", "m013", "m010", "m007", "m004"]
    );
    // Pages of 7 cover everything once, newest first.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = by(SearchQuery {
            limit: 7,
            after: after.clone(),
            ..SearchQuery::default()
        })
        .await;
        seen.extend(ids(&page));
        match page.next {
            Some(c) => after = Some(c),
            None => break,
        }
    }
    let expected: Vec<String> = (0..30).rev().map(|i| format!("m{i:03}")).collect();
    assert_eq!(seen, expected);
    // Delivery goes on: the record is updated, the first attempt kept.
    let mut r = records[2].clone();
    r.attempts = 1;
    r.first_attempt_at = Some(at(100));
    r.last_attempt_at = Some(at(100));
    j.log_message(&r, None).await.expect("log");
    r.attempts = 2;
    r.first_attempt_at = Some(at(101));
    r.last_attempt_at = Some(at(101));
    r.finished_at = Some(at(101));
    r.outcome = Outcome::Rejected;
    r.answer_code = Some("-1".into());
    r.answer_message = Some("Mã hồ sơ đã tồn tại".into());
    j.log_message(&r, None).await.expect("log");
    let stored = j.message("m002").await.expect("get").expect("some");
    assert_eq!(stored.attempts, 2);
    assert_eq!(stored.first_attempt_at, Some(at(100)));
    assert_eq!(stored.outcome, Outcome::Rejected);
    assert_eq!(
        stored.answer_message.as_deref(),
        Some("Mã hồ sơ đã tồn tại")
    );
    j.close().await;
}
both_backends!(log_and_search_messages, log_and_search);

/// Many tasks logging at once (the group commit writes them together): every entry is
/// there once with its body, every caller gets `Ok` only after its entry is readable, and
/// callers cancelled while waiting lose neither their own entry nor anyone else's.
async fn concurrent_logging(db: TestDb) {
    let j = db.open().await;
    let mut tasks = Vec::new();
    for i in 0..200 {
        let j = j.clone();
        tasks.push(tokio::spawn(async move {
            let r = record(i);
            j.log_message(&r, Some(format!("body {i}").as_bytes()))
                .await
                .expect("log");
            // Committed before the answer.
            assert!(j.message(&r.id).await.expect("read").is_some(), "{}", r.id);
        }));
    }
    // Some callers are cancelled while they wait for the writer.
    let mut cancelled = Vec::new();
    for i in 200..260 {
        let j = j.clone();
        cancelled.push(tokio::spawn(async move {
            let r = record(i);
            let _ = j.log_message(&r, None).await;
        }));
    }
    for t in &cancelled[..30] {
        t.abort();
    }
    for t in tasks {
        t.await.expect("logger");
    }
    for t in cancelled {
        let _ = t.await;
    }
    // One more entry: it is written after everything queued before it.
    j.log_message(&record(999), None).await.expect("log");
    let all = j
        .search(&SearchQuery {
            limit: 1000,
            ..SearchQuery::default()
        })
        .await
        .expect("search");
    let ids: std::collections::HashSet<String> =
        all.items.iter().map(|m| m.record.id.clone()).collect();
    for i in 0..200 {
        assert!(ids.contains(&format!("m{i:03}")), "m{i:03} missing");
    }
    assert!(ids.contains("m999"));
    // The callers that were not cancelled are there too (a cancelled one's entry is
    // written if it was queued before the cancellation).
    for i in 230..260 {
        assert!(ids.contains(&format!("m{i:03}")), "m{i:03} missing");
    }
    let body = j
        .message_body("m007", Reveal::Masked)
        .await
        .expect("body")
        .expect("kept");
    assert_eq!(body, b"[encrypted body, 6 bytes]");
    j.close().await;
}
both_backends!(
    concurrent_logging_is_grouped_and_loses_nothing,
    concurrent_logging
);

async fn bodies(db: TestDb) {
    let j = db.open().await;
    let body = r#"{"MaHoSo":"D9","applicant":{"name":"Nguyễn Văn An","phone":"0912345678","identity_documents":[{"kind":"citizen_id","number":"001203004567"}],"address":"Số 1 Lê Lợi, Vinh"}}"#.as_bytes();
    let mut r = MessageRecord::new(
        "b1",
        Direction::In,
        "mc-nghean",
        "provincial.dossier",
        body,
        at(0),
    );
    r.dossier_code = Some("D9".into());
    j.log_message(&r, Some(body)).await.expect("log");
    let xml = b"<edXML>CCCD 001203004567</edXML>";
    let x = MessageRecord::new("b2", Direction::Out, "vdxp", "edxml.edoc", xml, at(1));
    j.log_message(&x, Some(xml)).await.expect("log");
    // At rest: no personal value in clear.
    let raw = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&raw_url(&db))
        .await
        .expect("raw connect");
    for row in sqlx::query("SELECT body FROM message_body")
        .fetch_all(&raw)
        .await
        .expect("raw read")
    {
        let b: Vec<u8> = row.try_get(0).expect("body");
        let text = String::from_utf8_lossy(&b);
        for secret in ["0912345678", "001203004567", "Lê Lợi"] {
            assert!(!text.contains(secret), "{secret} stored in clear");
        }
    }
    raw.close().await;
    // Search results are masked unless revealed.
    let q = SearchQuery {
        dossier_code: Some("D9".into()),
        with_bodies: true,
        ..SearchQuery::default()
    };
    let masked = j.search(&q).await.expect("search");
    let text = masked.items[0].body.clone().expect("body");
    assert!(text.contains(r#""phone":"***""#), "{text}");
    assert!(
        text.contains("Nguyễn Văn An"),
        "names are not in the configured list"
    );
    let clear = j
        .search(&SearchQuery {
            reveal: Reveal::Clear,
            ..q
        })
        .await
        .expect("search");
    let v: serde_json::Value =
        serde_json::from_str(clear.items[0].body.as_deref().expect("b")).expect("json");
    let original: serde_json::Value = serde_json::from_slice(body).expect("json");
    assert_eq!(v, original);
    let x_masked = j
        .message_body("b2", Reveal::Masked)
        .await
        .expect("b")
        .expect("s");
    assert!(String::from_utf8_lossy(&x_masked).starts_with("[encrypted body"));
    assert_eq!(
        j.message_body("b2", Reveal::Clear)
            .await
            .expect("b")
            .expect("s"),
        xml.to_vec()
    );
    // Retention: bodies go after 30 days, records stay.
    assert_eq!(
        j.purge_expired_bodies(at(60 * 24 * 29), 10)
            .await
            .expect("p"),
        0
    );
    assert_eq!(
        j.purge_expired_bodies(at(60 * 24 * 31), 10)
            .await
            .expect("p"),
        2
    );
    assert!(j.message("b1").await.expect("m").is_some());
    assert!(
        j.message_body("b1", Reveal::Clear)
            .await
            .expect("b")
            .is_none()
    );
    j.close().await;
}
both_backends!(bodies_encrypted_masked_and_kept_by_retention, bodies);

fn raw_url(db: &TestDb) -> String {
    if db.is_postgres() {
        db.url.clone()
    } else {
        format!("{}?mode=ro", db.url)
    }
}

async fn purge(db: TestDb) {
    let j = db.open().await;
    let records: Vec<MessageRecord> = (0..25).map(record).collect();
    let entries: Vec<LogEntry<'_>> = records
        .iter()
        .map(|r| LogEntry {
            record: r,
            body: Some(b"{}"),
        })
        .collect();
    j.log_messages(&entries).await.expect("log");
    let mut batches = Vec::new();
    loop {
        let n = j.purge_messages(at(20), 6).await.expect("purge");
        if n == 0 {
            break;
        }
        batches.push(n);
    }
    assert_eq!(batches, [6, 6, 6, 2]);
    let left = j.search(&SearchQuery::default()).await.expect("search");
    assert_eq!(left.items.len(), 5);
    assert!(
        j.message_body("m000", Reveal::Clear)
            .await
            .expect("b")
            .is_none()
    );
    assert!(
        j.message_body("m024", Reveal::Clear)
            .await
            .expect("b")
            .is_some()
    );
    j.close().await;
}
both_backends!(purge_in_small_batches, purge);

async fn timeline(db: TestDb) {
    let j = db.open().await;
    let code = "000.00.12.H41-250303-0001";
    for (v, min, status) in [
        (1, 0, DossierStatus::Accepted),
        (3, 30, DossierStatus::Finished),
        (2, 40, DossierStatus::Processing),
    ] {
        let d = Dossier {
            code: code.into(),
            version: v,
            status: Some(status),
            ..Dossier::default()
        };
        j.record_version(&IncomingVersion {
            dossier: &d,
            body: b"{}",
            body_kind: "provincial.dossier",
            source: "mc-nghean",
            at: at(min),
        })
        .await
        .expect("version");
    }
    let p = ProgressStep {
        dossier_code: code.into(),
        step_seq: 1,
        action: "Chuyển xử lý".into(),
        at: Some(at(10)),
        status: Some(DossierStatus::Processing),
        ..ProgressStep::default()
    };
    j.record_step(&IncomingStep {
        step: &p,
        body: b"{}",
        body_kind: "provincial.progress",
        source: "mc-nghean",
        at: at(11),
    })
    .await
    .expect("step");
    let mut m = MessageRecord::new(
        "out-1",
        Direction::Out,
        "dvcqg",
        "dvcqg.DongBoHoSoMC",
        b"x",
        at(5),
    );
    m.dossier_code = Some(code.into());
    m.outcome = Outcome::Accepted;
    m.attempts = 1;
    m.answer_code = Some("0".into());
    j.log_message(&m, None).await.expect("log");
    let mut e = MessageRecord::new("in-2", Direction::In, "vdxp", "edxml.status", b"y", at(20));
    e.dossier_code = Some(code.into());
    e.doc_id = Some("a1b2c3".into());
    j.log_message(&e, None).await.expect("log");
    j.ack_version(code, 1, at(6)).await.expect("ack");
    let tl = j.timeline(code).await.expect("timeline");
    let kinds: Vec<EntryKind> = tl.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EntryKind::Version,
            EntryKind::Message,
            EntryKind::PortalAck,
            EntryKind::Step,
            EntryKind::Message,
            EntryKind::Version,
            EntryKind::Version,
        ]
    );
    assert!(tl.windows(2).all(|w| w[0].at <= w[1].at));
    assert!(tl[3].summary.contains("Chuyển xử lý"));
    assert!(tl[4].summary.contains("document a1b2c3"));
    assert!(tl[6].summary.contains("stale"), "{}", tl[6].summary);
    assert!(j.timeline("unknown").await.expect("t").is_empty());
    j.close().await;
}
both_backends!(timeline_merges_versions_steps_and_messages, timeline);

async fn activity(db: TestDb) {
    let j = db.open().await;
    // 30 messages, one a minute from t0: minute i is accepted, rejected or pending, and
    // finished 250 ms later when accepted.
    let records: Vec<MessageRecord> = (0..30)
        .map(|i| {
            let mut r = record(i);
            if r.outcome == Outcome::Accepted {
                r.finished_at = Some(at(i as i64) + SignedDuration::from_millis(250));
            }
            r
        })
        .collect();
    let entries: Vec<LogEntry<'_>> = records
        .iter()
        .map(|r| LogEntry {
            record: r,
            body: None,
        })
        .collect();
    j.log_messages(&entries).await.expect("log");
    // From minute 5, six periods of 5 minutes: minutes 5..35 (only 5..29 hold messages).
    let b = j
        .activity(at(5), SignedDuration::from_mins(5), 6)
        .await
        .expect("activity");
    assert_eq!(b.len(), 6);
    assert_eq!(b[0].start, at(5));
    assert_eq!(b[5].start, at(30));
    let expect = |lo: usize, hi: usize| {
        let r = &records[lo..hi];
        (
            r.len() as u64,
            r.iter().filter(|x| x.outcome == Outcome::Rejected).count() as u64,
            r.iter().filter(|x| x.finished_at.is_some()).count() as u64,
        )
    };
    for (k, bucket) in b.iter().enumerate().take(5) {
        let (n, f, d) = expect(5 + 5 * k, 10 + 5 * k);
        assert_eq!(
            (bucket.messages, bucket.failed, bucket.finished),
            (n, f, d),
            "{k}"
        );
        assert!(
            (bucket.total_ms - 250.0 * d as f64).abs() < 0.001,
            "{bucket:?}"
        );
    }
    assert_eq!(b[5].messages, 0);
    // Nothing before `since` is counted.
    let none = j
        .activity(at(100), SignedDuration::from_mins(5), 2)
        .await
        .expect("activity");
    assert!(none.iter().all(|x| x.messages == 0));
    j.close().await;
}
both_backends!(activity_per_period, activity);
