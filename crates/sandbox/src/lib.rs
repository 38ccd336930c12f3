//! Faithful simulators of the external systems lienthong talks to, for tests, demos and
//! load runs, all in memory and library-first (a test starts one on `127.0.0.1:0`).
//!
//! * [`dvcqg`] — the national public service portal (Cổng Dịch vụ công quốc gia):
//!   authentication and sessions, dossier and progress synchronisation with the portal's
//!   validation, lookups and catalogues, the citizen side (dossiers submitted on the
//!   portal pushed to the province), an admin API for fault injection and inspection
//!   (`docs/dvcqg.md` §13, `docs/simulators.md`);
//! * [`vdxp`] — the national document exchange axis (Trục liên thông văn bản quốc gia):
//!   `XroadVnpt-*` request signatures, `sendEdoc` with the `hash-file` quirk, routing of
//!   edXML documents and statuses between registered systems, per-recipient deliveries
//!   and their state machine, agency catalogues, an admin API for injection, inspection,
//!   fault injection and duplicate delivery (`vdxp.md` §9, `docs/simulators.md`);
//! * [`fault`] — the seeded fault-injection engine the simulators share (latency, hangs,
//!   HTTP errors, injected error codes, dropped connections, down windows, rate limits).

mod conn;
pub mod dvcqg;
pub mod fault;
mod rng;
pub mod vdxp;

pub use dvcqg::{DvcqgConfig, DvcqgSim, run_dvcqg, spawn_dvcqg};
pub use vdxp::{VdxpConfig, VdxpSim, run_vdxp, spawn_vdxp};
