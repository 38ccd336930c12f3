//! Documents over the axis on both backends: outgoing dedup and the durable send intent
//! (fresh, uncertain after a crash, fresh again after a definite failure, sent), parking and
//! requeueing; incoming dedup by axis docId, statuses correlated with our documents (an
//! older status never overwrites a newer one), revocations with the document received;
//! delivery per recipient organ (first delivery only); listings, history, a dossier's
//! edocs; bodies encrypted at rest; the lease.

mod common;

use common::TestDb;
use jiff::{SignedDuration, Timestamp};
use lienthong_journal::edocs::{
    Direction, EdocFilter, EdocKind, InRecorded, IncomingEdoc, KIND_EDOC_DELIVER, KIND_EDOC_SEND,
    OutRecorded, OutgoingEdoc, SendClaim,
};
use lienthong_journal::{Journal, Reveal};
use sqlx::Row;

fn t0() -> Timestamp {
    "2026-03-02T02:00:00Z".parse().expect("time")
}

fn mins(m: i64) -> SignedDuration {
    SignedDuration::from_mins(m)
}

const SECRET: &str = "CCCD 001203004567";

fn xml(document_id: &str) -> Vec<u8> {
    format!("<edXML:Envelope><DocumentId>{document_id}</DocumentId>{SECRET}</edXML:Envelope>")
        .into_bytes()
}

fn organs(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

async fn work(j: &Journal, kind: &str, key: &str) -> usize {
    j.pending_work(1000)
        .await
        .expect("outbox")
        .iter()
        .filter(|w| w.kind == kind && w.dossier_code == key)
        .count()
}

async fn send(
    j: &Journal,
    id: &str,
    dedup: &str,
    document_id: &str,
    dossier: Option<&str>,
    at: Timestamp,
) -> OutRecorded {
    let to = organs(&["000.00.12.H40", "000.00.13.H40"]);
    let body = xml(document_id);
    j.record_outgoing(&OutgoingEdoc {
        id,
        kind: EdocKind::Edoc,
        dedup_key: dedup,
        document_id,
        business_type: Some(0),
        status_code: None,
        code: Some("12/UBND-VP"),
        subject: Some("Về việc cấp phép"),
        from_organ: "000.00.00.H40",
        to_organs: &to,
        dossier_code: dossier,
        client: Some("mc"),
        related_id: None,
        body: &body,
        at,
    })
    .await
    .expect("record outgoing")
}

#[allow(clippy::too_many_arguments)]
async fn receive(
    j: &Journal,
    id: &str,
    axis: &str,
    kind: EdocKind,
    document_id: &str,
    business_type: Option<u32>,
    status: Option<&str>,
    to: &[&str],
    at: Timestamp,
) -> InRecorded {
    let to = organs(to);
    let body = xml(document_id);
    j.record_incoming(&IncomingEdoc {
        id,
        kind,
        axis_doc_id: axis,
        document_id,
        business_type,
        status_code: status,
        code: Some("7/SYT"),
        subject: Some("Báo cáo"),
        from_organ: "000.00.12.H40",
        to_organs: &to,
        body: &body,
        at,
    })
    .await
    .expect("record incoming")
}

fn ids(v: &[lienthong_journal::edocs::EdocRecord]) -> Vec<&str> {
    v.iter().map(|r| r.id.as_str()).collect()
}

async fn outgoing(db: TestDb) {
    let j = db.open().await;
    let r = send(&j, "o1", "k1", "DOC-1", Some("D1"), t0()).await;
    assert!(matches!(r, OutRecorded::New { .. }), "{r:?}");
    assert_eq!(
        send(&j, "o1-again", "k1", "DOC-1", Some("D1"), t0()).await,
        OutRecorded::Duplicate { id: "o1".into() }
    );
    assert_eq!(work(&j, KIND_EDOC_SEND, "o1").await, 1, "one work item");
    assert_eq!(work(&j, KIND_EDOC_SEND, "o1-again").await, 0);
    // An id used under another dedup key is refused.
    let body = xml("X");
    let to = organs(&["A"]);
    let clash = j
        .record_outgoing(&OutgoingEdoc {
            id: "o1",
            kind: EdocKind::Edoc,
            dedup_key: "k-other",
            document_id: "X",
            business_type: None,
            status_code: None,
            code: None,
            subject: None,
            from_organ: "B",
            to_organs: &to,
            dossier_code: None,
            client: None,
            related_id: None,
            body: &body,
            at: t0(),
        })
        .await;
    assert!(clash.is_err(), "{clash:?}");

    // Fresh: the intent is recorded and the body comes back in clear.
    let SendClaim::Fresh(rec) = j.begin_send("o1", t0() + mins(1)).await.expect("begin") else {
        panic!("expected a fresh claim");
    };
    assert_eq!(rec.body, xml("DOC-1"));
    assert_eq!(rec.state, "sending");
    assert_eq!(rec.attempts, 1);
    assert_eq!(rec.send_started_at, Some(t0() + mins(1)));
    assert_eq!(rec.to_organs, organs(&["000.00.12.H40", "000.00.13.H40"]));
    assert_eq!(rec.direction, Direction::Out);
    assert_eq!(rec.business_type, Some(0));

    // "Crash": reopen the journal; the intent survived, the claim is uncertain and changes
    // nothing.
    j.close().await;
    let j = db.open().await;
    let SendClaim::Uncertain(rec) = j.begin_send("o1", t0() + mins(2)).await.expect("begin") else {
        panic!("expected an uncertain claim");
    };
    assert_eq!(rec.attempts, 1, "an uncertain claim changes nothing");
    assert_eq!(rec.body, xml("DOC-1"));
    // An uncertain failure keeps the intent.
    j.mark_send_failed("o1", "timeout", false, t0() + mins(3))
        .await
        .expect("failed");
    assert!(matches!(
        j.begin_send("o1", t0() + mins(3)).await.expect("begin"),
        SendClaim::Uncertain(_)
    ));
    // A definite failure clears it: fresh again.
    j.mark_send_failed("o1", "HTTP 400", true, t0() + mins(4))
        .await
        .expect("failed");
    let e = j
        .edoc("o1", Reveal::Masked)
        .await
        .expect("read")
        .expect("there");
    assert_eq!(
        (e.state.as_str(), e.last_error.as_deref()),
        ("queued", Some("HTTP 400"))
    );
    assert_eq!(e.send_started_at, None);
    let SendClaim::Fresh(rec) = j.begin_send("o1", t0() + mins(5)).await.expect("begin") else {
        panic!("expected a fresh claim");
    };
    assert_eq!(rec.attempts, 2);
    j.mark_sent("o1", "AXIS-77", t0() + mins(6))
        .await
        .expect("sent");
    assert_eq!(
        j.begin_send("o1", t0() + mins(7)).await.expect("begin"),
        SendClaim::Sent {
            axis_doc_id: "AXIS-77".into()
        }
    );
    let e = j
        .edoc("o1", Reveal::Masked)
        .await
        .expect("read")
        .expect("there");
    assert_eq!(e.state, "sent");
    assert_eq!(e.sent_at, Some(t0() + mins(6)));
    assert_eq!(e.last_error, None);
    // Requeue refuses a sent document.
    assert_eq!(
        j.requeue_edoc("o1", true, t0() + mins(8))
            .await
            .expect("requeue"),
        None
    );
    assert_eq!(
        j.begin_send("missing", t0()).await.expect("begin"),
        SendClaim::Missing
    );

    // Parked, then requeued by an operator.
    send(&j, "o2", "k2", "DOC-2", None, t0() + mins(10)).await;
    assert!(matches!(
        j.begin_send("o2", t0() + mins(11)).await.expect("begin"),
        SendClaim::Fresh(_)
    ));
    j.mark_edoc_parked("o2", "recipient unknown", t0() + mins(12))
        .await
        .expect("park");
    assert_eq!(
        j.begin_send("o2", t0() + mins(13)).await.expect("begin"),
        SendClaim::Parked
    );
    let e = j
        .edoc("o2", Reveal::Masked)
        .await
        .expect("read")
        .expect("there");
    assert_eq!(e.last_error.as_deref(), Some("recipient unknown"));
    // Requeued keeping the intent: uncertain; forgetting it: fresh.
    let item = j
        .requeue_edoc("o2", false, t0() + mins(14))
        .await
        .expect("requeue")
        .expect("requeued");
    assert!(item > 0);
    assert_eq!(work(&j, KIND_EDOC_SEND, "o2").await, 2);
    let e = j
        .edoc("o2", Reveal::Masked)
        .await
        .expect("read")
        .expect("there");
    assert_eq!(
        (e.state.as_str(), e.last_error.as_deref()),
        ("queued", None)
    );
    assert!(matches!(
        j.begin_send("o2", t0() + mins(15)).await.expect("begin"),
        SendClaim::Uncertain(_)
    ));
    j.requeue_edoc("o2", true, t0() + mins(16))
        .await
        .expect("requeue")
        .expect("requeued");
    assert!(matches!(
        j.begin_send("o2", t0() + mins(17)).await.expect("begin"),
        SendClaim::Fresh(_)
    ));
    j.close().await;
}
both_backends!(outgoing_dedup_intent_park_requeue, outgoing);

async fn incoming(db: TestDb) {
    let j = db.open().await;
    // Our document, sent twice under the same DocumentId (the newer is correlated).
    send(&j, "o-old", "k-old", "DOC-9", Some("D9"), t0()).await;
    send(&j, "o1", "k1", "DOC-9", Some("D9"), t0() + mins(1)).await;

    // An incoming document, deduplicated by its axis docId.
    let r = receive(
        &j,
        "i1",
        "AX-1",
        EdocKind::Edoc,
        "DOC-IN",
        Some(0),
        None,
        &["000.00.00.H40"],
        t0() + mins(2),
    )
    .await;
    assert!(matches!(r, InRecorded::New { related: None, .. }), "{r:?}");
    let again = receive(
        &j,
        "i1-again",
        "AX-1",
        EdocKind::Edoc,
        "DOC-IN",
        Some(0),
        None,
        &["000.00.00.H40"],
        t0() + mins(3),
    )
    .await;
    assert_eq!(again, InRecorded::Duplicate { id: "i1".into() });
    assert_eq!(work(&j, KIND_EDOC_DELIVER, "i1").await, 1);
    assert_eq!(work(&j, KIND_EDOC_DELIVER, "i1-again").await, 0);
    let by_axis = j
        .edoc_by_axis_id("AX-1")
        .await
        .expect("read")
        .expect("there");
    assert_eq!(by_axis.id, "i1");
    assert_eq!(by_axis.state, "received");
    assert!(j.edoc_by_axis_id("AX-none").await.expect("read").is_none());
    j.mark_axis_done("i1", "done", t0() + mins(3))
        .await
        .expect("ack");
    assert!(j.mark_axis_done("i1", "processing", t0()).await.is_err());
    let e = j
        .edoc("i1", Reveal::Masked)
        .await
        .expect("read")
        .expect("there");
    assert_eq!(e.axis_ack.as_deref(), Some("done"));
    assert_eq!(e.axis_ack_at, Some(t0() + mins(3)));

    // A status about our document: correlated with the newest, its last status updated.
    let r = receive(
        &j,
        "s1",
        "AX-2",
        EdocKind::Status,
        "DOC-9",
        None,
        Some("03"),
        &["000.00.00.H40"],
        t0() + mins(10),
    )
    .await;
    let InRecorded::New {
        related: Some(rel), ..
    } = r
    else {
        panic!("expected a related edoc: {r:?}");
    };
    assert_eq!(rel.id, "o1");
    assert_eq!(rel.dossier_code.as_deref(), Some("D9"));
    assert_eq!(rel.code.as_deref(), Some("12/UBND-VP"));
    assert_eq!(rel.to_organs, organs(&["000.00.12.H40", "000.00.13.H40"]));
    let s = j
        .edoc("s1", Reveal::Masked)
        .await
        .expect("read")
        .expect("there");
    assert_eq!(s.related_id.as_deref(), Some("o1"));
    assert_eq!(s.status_code.as_deref(), Some("03"));
    let o = j
        .edoc("o1", Reveal::Masked)
        .await
        .expect("read")
        .expect("there");
    assert_eq!(o.last_status.as_deref(), Some("03"));
    assert_eq!(o.last_status_at, Some(t0() + mins(10)));
    // An older status (fetched late) does not overwrite the newer one; a newer one does.
    receive(
        &j,
        "s0",
        "AX-3",
        EdocKind::Status,
        "DOC-9",
        None,
        Some("01"),
        &["000.00.00.H40"],
        t0() + mins(5),
    )
    .await;
    let o = j
        .edoc("o1", Reveal::Masked)
        .await
        .expect("read")
        .expect("there");
    assert_eq!(o.last_status.as_deref(), Some("03"));
    receive(
        &j,
        "s2",
        "AX-4",
        EdocKind::Status,
        "DOC-9",
        None,
        Some("06"),
        &["000.00.00.H40"],
        t0() + mins(20),
    )
    .await;
    let o = j
        .edoc("o1", Reveal::Masked)
        .await
        .expect("read")
        .expect("there");
    assert_eq!(o.last_status.as_deref(), Some("06"));
    let old = j
        .edoc("o-old", Reveal::Masked)
        .await
        .expect("read")
        .expect("there");
    assert_eq!(old.last_status, None, "only the newest is correlated");
    // A status about nothing we know.
    let r = receive(
        &j,
        "s-x",
        "AX-5",
        EdocKind::Status,
        "DOC-NONE",
        None,
        Some("01"),
        &["000.00.00.H40"],
        t0() + mins(21),
    )
    .await;
    assert!(matches!(r, InRecorded::New { related: None, .. }), "{r:?}");
    // A take-back request (13) from the sender of a document we received: no document of
    // ours has its DocumentId, the received one is related.
    let r = receive(
        &j,
        "s-13",
        "AX-13",
        EdocKind::Status,
        "DOC-IN",
        None,
        Some("13"),
        &["000.00.00.H40"],
        t0() + mins(21),
    )
    .await;
    let InRecorded::New {
        related: Some(rel), ..
    } = r
    else {
        panic!("expected a related edoc: {r:?}");
    };
    assert_eq!(rel.id, "i1");
    let i1 = j
        .edoc("i1", Reveal::Masked)
        .await
        .expect("read")
        .expect("there");
    assert_eq!(i1.last_status.as_deref(), Some("13"));

    // A revocation of the document we received.
    let r = receive(
        &j,
        "i2",
        "AX-6",
        EdocKind::Edoc,
        "DOC-IN",
        Some(1),
        None,
        &["000.00.00.H40"],
        t0() + mins(22),
    )
    .await;
    let InRecorded::New {
        related: Some(rel), ..
    } = r
    else {
        panic!("expected a related edoc: {r:?}");
    };
    assert_eq!(rel.id, "i1");
    assert_eq!(
        j.edoc("i2", Reveal::Masked)
            .await
            .expect("read")
            .expect("there")
            .related_id
            .as_deref(),
        Some("i1")
    );

    // Lookups, history, listings.
    let newest = j
        .edoc_by_document_id(Direction::Out, EdocKind::Edoc, "DOC-9")
        .await
        .expect("read")
        .expect("there");
    assert_eq!(newest.id, "o1");
    assert!(newest.body.is_empty(), "no body");
    assert!(
        j.edoc_by_document_id(Direction::In, EdocKind::Edoc, "DOC-9")
            .await
            .expect("read")
            .is_none()
    );
    let history = j.edoc_history("DOC-9").await.expect("history");
    assert_eq!(ids(&history), ["o-old", "o1", "s0", "s1", "s2"]);
    assert!(history.iter().all(|r| r.body.is_empty()));
    let statuses = j
        .edocs(&EdocFilter {
            direction: Some(Direction::In),
            kind: Some(EdocKind::Status),
            limit: 10,
            ..EdocFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(
        ids(&statuses),
        ["s-x", "s-13", "s2", "s1", "s0"],
        "newest first"
    );
    let limited = j
        .edocs(&EdocFilter {
            limit: 2,
            ..EdocFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(ids(&limited), ["i2", "s-x"]);
    let queued = j
        .edocs(&EdocFilter {
            state: Some("queued".into()),
            dossier_code: Some("D9".into()),
            limit: 10,
            ..EdocFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(ids(&queued), ["o1", "o-old"]);
    let by_doc = j
        .edocs(&EdocFilter {
            document_id: Some("DOC-IN".into()),
            limit: 10,
            ..EdocFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(ids(&by_doc), ["i2", "s-13", "i1"]);
    let of_dossier = j.edocs_of_dossier("D9").await.expect("dossier");
    assert_eq!(ids(&of_dossier), ["o-old", "o1", "s0", "s1", "s2"]);
    assert!(
        j.edocs_of_dossier("none")
            .await
            .expect("dossier")
            .is_empty()
    );

    let counts = j.edoc_counts().await.expect("counts");
    let count = |d: &str, k: &str, s: &str| {
        counts
            .iter()
            .find(|c| c.0 == d && c.1 == k && c.2 == s)
            .map_or(0, |c| c.3)
    };
    assert_eq!(count("out", "edoc", "queued"), 2);
    assert_eq!(count("in", "status", "received"), 5);
    assert_eq!(count("in", "edoc", "received"), 2);
    j.close().await;
}
both_backends!(incoming_dedup_correlation_listing, incoming);

async fn delivery(db: TestDb) {
    let j = db.open().await;
    let (a, b, c) = ("000.00.00.H40", "000.01.00.H40", "100_%.H40");
    receive(
        &j,
        "i1",
        "AX-1",
        EdocKind::Edoc,
        "D-1",
        Some(0),
        None,
        &[a],
        t0(),
    )
    .await;
    receive(
        &j,
        "i2",
        "AX-2",
        EdocKind::Edoc,
        "D-2",
        Some(0),
        None,
        &[b, a],
        t0() + mins(1),
    )
    .await;
    receive(
        &j,
        "i3",
        "AX-3",
        EdocKind::Status,
        "D-3",
        None,
        Some("01"),
        &[b],
        t0() + mins(2),
    )
    .await;
    receive(
        &j,
        "i4",
        "AX-4",
        EdocKind::Edoc,
        "D-4",
        None,
        None,
        &[c],
        t0() + mins(3),
    )
    .await;
    let all = j.undelivered_edocs(None, 10).await.expect("list");
    assert_eq!(ids(&all), ["i1", "i2", "i3", "i4"], "oldest first");
    assert_eq!(all[0].body, xml("D-1"), "bodies in clear for delivery");
    let only_a = j
        .undelivered_edocs(Some(&organs(&[a])), 10)
        .await
        .expect("list");
    assert_eq!(ids(&only_a), ["i1", "i2"]);
    let only_b = j
        .undelivered_edocs(Some(&organs(&[b])), 1)
        .await
        .expect("list");
    assert_eq!(ids(&only_b), ["i2"]);
    // LIKE's wildcards in a code match only themselves; a prefix is not a match.
    let wild = j
        .undelivered_edocs(Some(&organs(&["100__.H40", "000.00.00", c])), 10)
        .await
        .expect("list");
    assert_eq!(ids(&wild), ["i4"]);
    assert!(
        j.undelivered_edocs(Some(&[]), 10)
            .await
            .expect("list")
            .is_empty()
    );
    // First delivery only.
    assert!(
        j.mark_edoc_delivered("i2", "vpdt", "pull", t0() + mins(5))
            .await
            .expect("ack")
    );
    assert!(
        !j.mark_edoc_delivered("i2", "hook", "webhook", t0() + mins(6))
            .await
            .expect("ack")
    );
    assert!(
        !j.mark_edoc_delivered("none", "vpdt", "pull", t0())
            .await
            .expect("ack")
    );
    let e = j
        .edoc("i2", Reveal::Masked)
        .await
        .expect("read")
        .expect("there");
    assert_eq!(
        (
            e.state.as_str(),
            e.delivered_to.as_deref(),
            e.delivered_via.as_deref(),
            e.delivered_at
        ),
        (
            "delivered",
            Some("vpdt"),
            Some("pull"),
            Some(t0() + mins(5))
        )
    );
    let left = j
        .undelivered_edocs(Some(&organs(&[a, b])), 10)
        .await
        .expect("list");
    assert_eq!(ids(&left), ["i1", "i3"]);
    // A parked incoming edoc is not offered.
    j.mark_edoc_parked("i1", "unusable", t0() + mins(7))
        .await
        .expect("park");
    let left = j
        .undelivered_edocs(Some(&organs(&[a, b])), 10)
        .await
        .expect("list");
    assert_eq!(ids(&left), ["i3"]);
    j.close().await;
}
both_backends!(delivery_by_organ_first_only, delivery);

async fn encryption(db: TestDb) {
    let j = db.open().await;
    send(&j, "o1", "k1", "DOC-1", None, t0()).await;
    receive(
        &j,
        "i1",
        "AX-1",
        EdocKind::Edoc,
        "DOC-2",
        Some(0),
        None,
        &["A"],
        t0(),
    )
    .await;
    let raw = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&raw_url(&db))
        .await
        .expect("raw connect");
    let rows = sqlx::query("SELECT body FROM edoc")
        .fetch_all(&raw)
        .await
        .expect("raw read");
    assert_eq!(rows.len(), 2);
    for row in rows {
        let b: Vec<u8> = row.try_get(0).expect("body");
        let text = String::from_utf8_lossy(&b);
        assert!(!text.contains("001203004567"), "stored in clear: {text}");
        assert!(!text.contains("DocumentId"), "stored in clear: {text}");
    }
    raw.close().await;
    let clear = j
        .edoc("o1", Reveal::Clear)
        .await
        .expect("read")
        .expect("there");
    assert_eq!(clear.body, xml("DOC-1"));
    let masked = j
        .edoc("i1", Reveal::Masked)
        .await
        .expect("read")
        .expect("there");
    assert!(!String::from_utf8_lossy(&masked.body).contains("001203004567"));
    let clear = j
        .edoc("i1", Reveal::Clear)
        .await
        .expect("read")
        .expect("there");
    assert_eq!(clear.body, xml("DOC-2"));
    j.close().await;
}
both_backends!(bodies_encrypted_at_rest, encryption);

fn raw_url(db: &TestDb) -> String {
    if db.is_postgres() {
        db.url.clone()
    } else {
        format!("{}?mode=ro", db.url)
    }
}

async fn lease(db: TestDb) {
    let j = db.open().await;
    let ttl = SignedDuration::from_secs(30);
    let name = "vdxp.poller";
    assert_eq!(j.lease_holder(name, t0()).await.expect("holder"), None);
    assert!(
        j.acquire_lease(name, "n1", ttl, t0())
            .await
            .expect("acquire")
    );
    assert!(
        !j.acquire_lease(name, "n2", ttl, t0())
            .await
            .expect("acquire")
    );
    // The holder extends it.
    let later = t0() + SignedDuration::from_secs(20);
    assert!(
        j.acquire_lease(name, "n1", ttl, later)
            .await
            .expect("acquire")
    );
    assert_eq!(
        j.lease_holder(name, later).await.expect("holder"),
        Some(("n1".to_owned(), later + ttl))
    );
    assert!(
        !j.acquire_lease(name, "n2", ttl, t0() + SignedDuration::from_secs(45))
            .await
            .expect("acquire"),
        "extended: still held"
    );
    // Expired: handed over.
    let expired = later + ttl + SignedDuration::from_secs(1);
    assert_eq!(j.lease_holder(name, expired).await.expect("holder"), None);
    assert!(
        j.acquire_lease(name, "n2", ttl, expired)
            .await
            .expect("acquire")
    );
    assert!(
        !j.acquire_lease(name, "n1", ttl, expired)
            .await
            .expect("acquire")
    );
    // Release: only the holder's counts.
    j.release_lease(name, "n1").await.expect("release");
    assert_eq!(
        j.lease_holder(name, expired)
            .await
            .expect("holder")
            .map(|h| h.0),
        Some("n2".to_owned())
    );
    j.release_lease(name, "n2").await.expect("release");
    assert_eq!(j.lease_holder(name, expired).await.expect("holder"), None);
    assert!(
        j.acquire_lease(name, "n1", ttl, expired)
            .await
            .expect("acquire")
    );
    // Other names are independent.
    assert!(
        j.acquire_lease("other", "n2", ttl, expired)
            .await
            .expect("acquire")
    );

    // Concurrent callers: exactly one wins.
    let mut tasks = Vec::new();
    for n in 0..8 {
        let j = j.clone();
        tasks.push(tokio::spawn(async move {
            j.acquire_lease("race", &format!("node{n}"), ttl, t0())
                .await
                .expect("acquire")
        }));
    }
    let mut won = 0;
    for t in tasks {
        if t.await.expect("task") {
            won += 1;
        }
    }
    assert_eq!(won, 1);
    j.close().await;
}
both_backends!(lease_one_holder, lease);
