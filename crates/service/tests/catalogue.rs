//! The procedure catalogue cache against the DVCQG simulator: fetched, detailed on first
//! need, filled into dossiers that lack names, and served stale (with a warning) while the
//! portal is down.

use lienthong_dvcqg::client::{ClientConfig, DvcqgClient};
use lienthong_model::Dossier;
use lienthong_sandbox::dvcqg::{DvcqgConfig, spawn_dvcqg};
use lienthong_sandbox::fault::FaultSettings;
use lienthong_service::catalogue::Catalogue;
use std::time::Duration;

fn client(addr: std::net::SocketAddr) -> DvcqgClient {
    let sim = DvcqgConfig::default();
    let account = &sim.accounts[0];
    DvcqgClient::new(ClientConfig {
        adapter_url: format!("http://{addr}"),
        auth_endpoint: sim.auth_path.clone(),
        integration_endpoint: sim.integration_path.clone(),
        share_endpoint: sim.share_path.clone(),
        username: account.username.clone(),
        password: account.password.clone(),
        dstcode: account.dstcode.clone(),
        madonvi: account.madonvi[0].clone(),
        timeout_ms: 2_000,
        ..ClientConfig::default()
    })
    .expect("client")
}

#[tokio::test]
async fn cached_detailed_filled_and_served_stale() {
    let config = DvcqgConfig::default();
    let first = config.procedures[0].clone();
    let (addr, sim, _task) = spawn_dvcqg(config).await.expect("simulator");
    // A TTL of zero: every use would ask the portal again, so what is served while it is
    // down can only come from the cache.
    let cat = Catalogue::new(client(addr), Duration::ZERO);
    let v = cat.view();
    assert_eq!(v["stale"], true, "nothing fetched yet: {v}");
    assert!(
        v["warning"]
            .as_str()
            .is_some_and(|w| w.contains("not been fetched")),
        "{v}"
    );

    let n = cat.refresh().await.expect("list fetched");
    assert!(n > 0);
    let v = cat.view();
    assert!(v["fetched_at"].is_string(), "{v}");
    assert!(v["last_error"].is_null(), "{v}");

    // Details on first need; a dossier without names gets the portal's.
    let p = cat.procedure(&first.code).await.expect("known procedure");
    assert_eq!(p.name, first.name);
    let fields = p.fields.clone().expect("details fetched");
    assert_eq!(fields.len(), first.fields.len());
    let mut d = Dossier::default();
    d.procedure.code = first.code.clone();
    assert!(cat.fill(&mut d, &first.code).await);
    assert_eq!(d.procedure.name.as_deref(), Some(first.name.as_str()));
    if let Some(f) = first.fields.first() {
        assert_eq!(d.procedure.field_code.as_deref(), Some(f.code.as_str()));
        assert_eq!(d.procedure.field_name.as_deref(), Some(f.name.as_str()));
    }
    // What a dossier names is kept.
    let mut named = Dossier::default();
    named.procedure.code = first.code.clone();
    named.procedure.name = Some("Tên riêng".into());
    named.procedure.field_code = Some("X".into());
    named.procedure.field_name = Some("Y".into());
    assert!(!cat.fill(&mut named, &first.code).await);
    assert_eq!(named.procedure.name.as_deref(), Some("Tên riêng"));
    assert!(cat.procedure("0.000000").await.is_none(), "unknown code");

    // The portal goes down: the refresh fails, the cached copy is served, marked stale.
    sim.set_faults(FaultSettings {
        down_for_ms: Some(60_000),
        ..FaultSettings::default()
    })
    .expect("faults");
    assert!(cat.refresh().await.is_err());
    let v = cat.view();
    assert_eq!(v["stale"], true, "{v}");
    assert!(
        v["warning"].as_str().is_some_and(|w| w.contains("cached")),
        "{v}"
    );
    assert!(v["last_error"].is_string(), "{v}");
    assert!(
        v["procedures"].as_array().is_some_and(|p| !p.is_empty()),
        "{v}"
    );
    let stale = cat.procedure(&first.code).await.expect("served stale");
    assert_eq!(stale.name, first.name);
    let mut d = Dossier::default();
    d.procedure.code = first.code.clone();
    assert!(
        cat.fill(&mut d, &first.code).await,
        "filled from the stale copy"
    );

    // Back up: fresh again.
    sim.set_faults(FaultSettings::default()).expect("faults");
    cat.refresh().await.expect("refreshed");
    assert!(cat.view()["last_error"].is_null());
}
