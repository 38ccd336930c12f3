//! `lienthong sandbox`: runs the partner simulators (DVCQG and VDXP) until interrupted.

use crate::edxml_cmd::Outcome;
use anyhow::Context;
use lienthong_sandbox::dvcqg::{DvcqgConfig, run_dvcqg};
use lienthong_sandbox::vdxp::{VdxpConfig, run_vdxp};
use std::net::SocketAddr;
use std::path::Path;

/// Runs both simulators until Ctrl-C.
pub fn run(dvcqg: SocketAddr, vdxp: SocketAddr, config: Option<&Path>) -> Outcome {
    match serve(dvcqg, vdxp, config) {
        Ok(()) => Outcome::Valid,
        Err(e) => {
            eprintln!("error: {e:#}");
            Outcome::Unreadable
        }
    }
}

/// Reads `{"dvcqg": {...}, "vdxp": {...}}`; a missing member means the built-in default.
fn load(path: &Path) -> anyhow::Result<(DvcqgConfig, VdxpConfig)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let obj = v
        .as_object()
        .with_context(|| format!("{}: expected an object with dvcqg and vdxp", path.display()))?;
    if let Some(k) = obj.keys().find(|k| *k != "dvcqg" && *k != "vdxp") {
        anyhow::bail!(
            "{}: unknown member {k:?} (expected dvcqg, vdxp)",
            path.display()
        );
    }
    let dvcqg = match obj.get("dvcqg") {
        Some(d) => DvcqgConfig::from_json(&d.to_string())
            .with_context(|| format!("{}: /dvcqg", path.display()))?,
        None => DvcqgConfig::default(),
    };
    let vdxp = match obj.get("vdxp") {
        Some(d) => VdxpConfig::from_json(&d.to_string())
            .with_context(|| format!("{}: /vdxp", path.display()))?,
        None => VdxpConfig::default(),
    };
    Ok((dvcqg, vdxp))
}

fn serve(dvcqg: SocketAddr, vdxp: SocketAddr, config: Option<&Path>) -> anyhow::Result<()> {
    let (dvcqg_config, vdxp_config) = match config {
        Some(path) => load(path)?,
        None => (DvcqgConfig::default(), VdxpConfig::default()),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        eprintln!("DVCQG simulator on http://{dvcqg}, VDXP simulator on http://{vdxp} (admin API under /admin, see docs/simulators.md)");
        tokio::select! {
            r = run_dvcqg(dvcqg, dvcqg_config) => r.with_context(|| format!("DVCQG simulator on {dvcqg}")),
            r = run_vdxp(vdxp, vdxp_config) => r.with_context(|| format!("VDXP simulator on {vdxp}")),
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    })
}
