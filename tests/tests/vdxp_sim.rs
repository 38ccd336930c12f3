//! The VDXP client against the VDXP simulator over loopback HTTP: the official sample
//! messages travel from one system to another and back as statuses; wrong signatures are
//! refused; every fault mode is classified (who is at fault, whether a retry can help).

use bytes::Bytes;
use lienthong_sandbox::fault::{FaultSettings, NextFailure};
use lienthong_sandbox::vdxp::{VdxpConfig as SimConfig, VdxpSim, spawn_vdxp};
use lienthong_vdxp::client::{VdxpClient, VdxpConfig};
use lienthong_vdxp::error::{ErrorKind, Fault, VdxpError};
use lienthong_vdxp::wire::{DeliveryStatus, MessageType};
use std::net::SocketAddr;
use std::path::PathBuf;

fn sample(name: &str) -> Bytes {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/edxml/tests/data")
        .join(name);
    Bytes::from(std::fs::read(p).expect("sample"))
}

async fn start() -> (SocketAddr, VdxpSim) {
    let (addr, sim, _task) = spawn_vdxp(SimConfig::default()).await.expect("simulator");
    (addr, sim)
}

fn client(addr: SocketAddr, system: &str, secret: &str) -> VdxpClient {
    VdxpClient::new(VdxpConfig {
        base_url: format!("http://{addr}"),
        systemid: system.into(),
        secret: secret.into(),
        timeout_ms: 400,
        ..VdxpConfig::default()
    })
    .expect("client")
}

fn peer(addr: SocketAddr) -> VdxpClient {
    client(addr, "peer", "peer-secret")
}

fn us(addr: SocketAddr) -> VdxpClient {
    client(addr, "lienthong", "lienthong-vdxp-secret")
}

fn assert_class(e: &VdxpError, fault: Fault, retryable: bool, what: &str) {
    assert_eq!(e.fault, fault, "{what}: {e:?}");
    assert_eq!(e.retryable, retryable, "{what}: {e:?}");
    let f = e.to_failure();
    assert_eq!(
        (f.partner, f.fault, f.retryable),
        ("vdxp", fault, retryable),
        "{what}"
    );
    if let Some(m) = f.message.as_deref().filter(|m| m.len() > 3) {
        assert!(!f.to_string().contains(m), "{what}: {f}");
    }
}

#[tokio::test]
async fn a_document_and_its_statuses_travel_both_ways() {
    let (addr, _sim) = start().await;
    let (peer, us) = (peer(addr), us(addr));
    // G22 (peer) sends an update to H41 (us), H14 and G17 (peer)
    let sent = peer
        .send_edoc(sample("edoc_update.edxml"), MessageType::Edoc, None)
        .await
        .expect("send");
    let list = us
        .get_received_list(MessageType::Edoc, None)
        .await
        .expect("list");
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(
        us.count_received(MessageType::Edoc).await.expect("count"),
        1
    );
    let delivery = &list[0].doc_id;
    let bytes = us.get_edoc(delivery).await.expect("getEdoc");
    assert_eq!(us.download_edoc(delivery).await.expect("download"), bytes);
    let read = lienthong_edxml::read(bytes).expect("the delivered message reads");
    let lienthong_edxml::Message::Edoc(m) = read.message else {
        panic!("an edoc");
    };
    assert_eq!(m.document.trace.len(), 2, "the axis added its trace entry");
    us.update_status(delivery, DeliveryStatus::Done, Some("received"))
        .await
        .expect("done");
    assert!(
        us.get_received_list(MessageType::Edoc, None)
            .await
            .expect("list")
            .is_empty()
    );
    // changing a final state is refused, and it is our bookkeeping's fault
    let e = us
        .update_status(delivery, DeliveryStatus::Fail, None)
        .await
        .expect_err("409");
    assert!(matches!(e.kind, ErrorKind::Conflict), "{e:?}");
    assert_class(&e, Fault::Us, false, "final state changed");
    // H41 answers with status 03: it goes back to G22's system
    us.send_edoc(
        sample("status_acceptance_03.edxml"),
        MessageType::Status,
        None,
    )
    .await
    .expect("status");
    let statuses = peer
        .get_received_list(MessageType::Status, None)
        .await
        .expect("list");
    assert_eq!(statuses.len(), 1);
    // the sender sees one line per recipient
    let sent_list = peer
        .get_sent_list(&sent, MessageType::Edoc)
        .await
        .expect("sent list");
    assert_eq!(sent_list.len(), 3, "{sent_list:?}");
    // a foreign delivery id is unknown to this system
    let e = peer.get_edoc(delivery).await.expect_err("foreign");
    assert!(matches!(e.kind, ErrorKind::UnknownDoc), "{e:?}");
}

#[tokio::test]
async fn wrong_signatures_are_refused() {
    let (addr, _sim) = start().await;
    for (system, secret) in [("lienthong", "wrong-secret"), ("stranger", "x")] {
        let e = client(addr, system, secret)
            .get_received_list(MessageType::Edoc, None)
            .await
            .expect_err("refused");
        assert!(matches!(e.kind, ErrorKind::Auth), "{e:?}");
        assert_class(&e, Fault::Us, false, "bad signature");
    }
    // a sender that does not host the From organisation is refused
    let e = us(addr)
        .send_edoc(sample("edoc_update.edxml"), MessageType::Edoc, None)
        .await
        .expect_err("not hosted");
    assert!(matches!(e.kind, ErrorKind::NotHosted), "{e:?}");
    assert_class(&e, Fault::Us, false, "not hosted");
}

#[tokio::test]
async fn every_fault_mode_is_classified() {
    let (addr, sim) = start().await;
    let us = us(addr);
    us.get_received_list(MessageType::Edoc, None)
        .await
        .expect("warm-up");
    let cases: Vec<(&str, FaultSettings, Fault, bool)> = vec![
        (
            "injected error",
            FaultSettings {
                error_rate: 1.0,
                ..Default::default()
            },
            Fault::Partner,
            true,
        ),
        (
            "HTTP 500",
            FaultSettings {
                http_status_rate: 1.0,
                http_statuses: vec![500],
                ..Default::default()
            },
            Fault::Partner,
            true,
        ),
        (
            "HTTP 503",
            FaultSettings {
                http_status_rate: 1.0,
                http_statuses: vec![503],
                ..Default::default()
            },
            Fault::Partner,
            true,
        ),
        (
            "HTTP 429",
            FaultSettings {
                http_status_rate: 1.0,
                http_statuses: vec![429],
                ..Default::default()
            },
            Fault::Partner,
            true,
        ),
        (
            "hang past the timeout",
            FaultSettings {
                hang_rate: 1.0,
                hang_ms: 1_500,
                ..Default::default()
            },
            Fault::Network,
            true,
        ),
        (
            "latency past the timeout",
            FaultSettings {
                latency_ms: 1_000,
                ..Default::default()
            },
            Fault::Network,
            true,
        ),
        (
            "connection reset",
            FaultSettings {
                reset_rate: 1.0,
                ..Default::default()
            },
            Fault::Network,
            true,
        ),
        (
            "down window",
            FaultSettings {
                down_for_ms: Some(60_000),
                ..Default::default()
            },
            Fault::Partner,
            true,
        ),
    ];
    for (what, f, fault, retryable) in cases {
        sim.set_faults(FaultSettings { seed: 3, ..f })
            .expect("faults");
        let e = us
            .get_received_list(MessageType::Edoc, None)
            .await
            .expect_err(what);
        assert_class(&e, fault, retryable, what);
        if what == "HTTP 429" || what == "HTTP 503" {
            assert!(e.retry_after.is_some(), "{what}: {e:?}");
        }
        sim.set_faults(FaultSettings::default()).expect("clear");
        us.get_received_list(MessageType::Edoc, None)
            .await
            .unwrap_or_else(|e| panic!("{what}: recovers: {e:?}"));
    }
    // "the next N calls fail" with a code the axis's meaning of which is unknown: retryable
    sim.push_next_failure(NextFailure {
        service: "getReceivedEdocList".into(),
        count: 2,
        error_code: Some("999".into()),
        message: Some("Loi he thong".into()),
        ..NextFailure::default()
    })
    .expect("rule");
    for _ in 0..2 {
        let e = us
            .get_received_list(MessageType::Edoc, None)
            .await
            .expect_err("next");
        assert_class(&e, Fault::Partner, true, "unknown code");
        assert_eq!(
            e.message.as_deref(),
            Some("Loi he thong"),
            "the axis's text is kept"
        );
    }
    us.get_received_list(MessageType::Edoc, None)
        .await
        .expect("only two failed");
}

#[tokio::test]
async fn an_unreachable_axis_is_a_network_fault() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let e = us(addr)
        .get_received_list(MessageType::Edoc, None)
        .await
        .expect_err("refused");
    assert!(matches!(e.kind, ErrorKind::Connect), "{e:?}");
    assert_class(&e, Fault::Network, true, "connection refused");
}
