//! `lienthong sandbox`: runs the partner simulators until interrupted.

use crate::edxml_cmd::Outcome;
use anyhow::Context;
use lienthong_sandbox::dvcqg::{DvcqgConfig, run_dvcqg};
use std::net::SocketAddr;
use std::path::Path;

/// Runs the DVCQG simulator on `addr` until Ctrl-C.
pub fn run(addr: SocketAddr, config: Option<&Path>) -> Outcome {
    match serve(addr, config) {
        Ok(()) => Outcome::Valid,
        Err(e) => {
            eprintln!("error: {e:#}");
            Outcome::Unreadable
        }
    }
}

fn serve(addr: SocketAddr, config: Option<&Path>) -> anyhow::Result<()> {
    let config = match config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            DvcqgConfig::from_json(&text)
                .with_context(|| format!("invalid simulator configuration {}", path.display()))?
        }
        None => DvcqgConfig::default(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        eprintln!(
            "DVCQG simulator on http://{addr} (admin API under /admin, see docs/simulators.md)"
        );
        tokio::select! {
            r = run_dvcqg(addr, config) => r.with_context(|| format!("DVCQG simulator on {addr}")),
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    })
}
