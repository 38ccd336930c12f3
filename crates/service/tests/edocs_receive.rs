//! The receiving loop against the VDXP simulator, with real messages of the official SDK
//! example set: exactly one of two nodes sharing a journal polls (the lease), each message
//! is recorded once and answered `done`, a document gets status 01 queued, a crash-like
//! failure of `updateStatus` leaves the item listed and the next pass only acknowledges it,
//! and the lease passes to the other node when released.

use bytes::Bytes;
use lienthong_journal::edocs::{Direction, EdocFilter, EdocKind};
use lienthong_journal::{Journal, JournalOptions};
use lienthong_sandbox::fault::NextFailure;
use lienthong_sandbox::vdxp::{DeliveryState, MessageType, VdxpConfig, spawn_vdxp};
use lienthong_service::config::OwnOrganisation;
use lienthong_service::edocs::receive::Receiver;
use lienthong_service::edocs::{EdocSettings, organisation};
use lienthong_vdxp::client::{VdxpClient, VdxpConfig as ClientConfig};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn sample(name: &str) -> Bytes {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../edxml/tests/data")
        .join(name);
    Bytes::from(std::fs::read(&path).expect("sample"))
}

fn settings(node: &str) -> Arc<EdocSettings> {
    Arc::new(EdocSettings {
        organisations: vec![organisation(&OwnOrganisation {
            organ_id: "000.00.00.H41".into(),
            organization_in_charge: "UBND Tỉnh Nghệ An".into(),
            organ_name: "UBND Tỉnh Nghệ An".into(),
            organ_add: "Số 03 đường Trường Thi".into(),
            email: "vanthu@nghean.gov.vn".into(),
            telephone: "0238 3840000".into(),
            fax: "0238 3840001".into(),
            website: "nghean.gov.vn".into(),
        })],
        arrival_status: true,
        poll_interval: Duration::from_secs(1),
        agencies_sync: None,
        aliases: Vec::new(),
        progress: Default::default(),
        webhooks: Vec::new(),
        node: node.into(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_node_polls_and_each_message_is_taken_once() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut config = VdxpConfig::default();
    // The take-back sample is signed by a commune of the official test data.
    config.systems[1].organ_ids.push("002.00.20.H13".into());
    let (addr, sim, _t) = spawn_vdxp(config).await.expect("sim");
    let dir = std::env::temp_dir().join(format!("lienthong-edocs-receive-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let journal = Journal::open(&JournalOptions::new(format!(
        "sqlite://{}",
        dir.join("j.db").display()
    )))
    .await
    .expect("journal");
    let client = VdxpClient::new(ClientConfig {
        base_url: format!("http://{addr}"),
        systemid: "lienthong".into(),
        secret: "lienthong-vdxp-secret".into(),
        timeout_ms: 5000,
        ..ClientConfig::default()
    })
    .expect("client");
    let n1 = Receiver::new(journal.clone(), client.clone(), settings("n1"));
    let n2 = Receiver::new(journal.clone(), client, settings("n2"));

    // The official sample document from 002.00.20.H13 (addressed to 28.22.H17 in the sample;
    // the axis is told to deliver it to us).
    sim.inject(
        "peer",
        MessageType::Edoc,
        sample("edoc_new.edxml"),
        Some("000.00.00.H41"),
    )
    .expect("inject");
    // And a take-back request (13) addressed to us.
    sim.inject(
        "peer",
        MessageType::Status,
        sample("status_cancellation_13.edxml"),
        Some("000.00.00.H41"),
    )
    .expect("inject status");

    let r1 = n1.pass().await;
    let r2 = n2.pass().await;
    assert!(r1.leader && !r2.leader, "{r1:?} {r2:?}");
    assert_eq!((r1.received, r1.unusable, r1.deferred), (2, 0, 0), "{r1:?}");
    let mine: Vec<_> = sim.deliveries(Some("lienthong"));
    assert_eq!(mine.len(), 2);
    assert!(
        mine.iter().all(|d| d.state == DeliveryState::Done),
        "{mine:?}"
    );
    let received = journal
        .edocs(&EdocFilter {
            direction: Some(Direction::In),
            limit: 100,
            ..EdocFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(received.len(), 2);
    let doc = received
        .iter()
        .find(|r| r.kind == EdocKind::Edoc)
        .expect("the document");
    assert_eq!(doc.from_organ, "002.00.20.H13");
    assert_eq!(doc.to_organs, ["000.00.00.H41"]);
    // Status 01 is queued for its sender.
    let out = journal
        .edocs(&EdocFilter {
            direction: Some(Direction::Out),
            kind: Some(EdocKind::Status),
            limit: 100,
            ..EdocFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].status_code.as_deref(), Some("01"));
    assert_eq!(out[0].to_organs, ["002.00.20.H13"]);
    assert_eq!(out[0].document_id, doc.document_id);

    // The same message delivered again by the axis, and updateStatus failing once: the
    // message is recorded once, acknowledged on the next pass.
    sim.duplicate_next_delivery(1);
    sim.inject(
        "peer",
        MessageType::Edoc,
        sample("edoc_update.edxml"),
        Some("000.00.00.H41"),
    )
    .expect("inject");
    sim.push_next_failure(NextFailure {
        service: "updateStatus".into(),
        error_code: Some("500".into()),
        count: 2,
        ..NextFailure::default()
    })
    .expect("fault");
    let r = n1.pass().await;
    assert!(r.leader);
    let listed = sim.listed("lienthong", MessageType::Edoc);
    assert!(!listed.is_empty(), "unacknowledged items stay listed");
    let r = n1.pass().await;
    assert_eq!(r.received, 0, "nothing recorded twice: {r:?}");
    assert!(sim.listed("lienthong", MessageType::Edoc).is_empty());
    let all_in = journal
        .edocs(&EdocFilter {
            direction: Some(Direction::In),
            kind: Some(EdocKind::Edoc),
            limit: 100,
            ..EdocFilter::default()
        })
        .await
        .expect("list");
    // edoc_new once; edoc_update twice on the axis (a duplicated delivery has its own
    // docId), each recorded once.
    assert_eq!(all_in.len(), 3, "{all_in:?}");
    assert!(
        all_in
            .iter()
            .filter(|r| r.business_type == Some(2))
            .all(|r| r.related_id.is_some()),
        "an update is related to the document it updates: {all_in:?}"
    );

    // The lease moves when its holder lets go.
    journal
        .release_lease("vdxp.poller", "n1")
        .await
        .expect("release");
    assert!(n2.pass().await.leader);
    assert!(!n1.pass().await.leader);

    journal.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}
