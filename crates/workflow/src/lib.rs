//! The gateway's domain decisions, pure and without I/O: the routes hand in what the
//! journal and the clients told them, and get back what to do. No clock (times are
//! arguments), no randomness (seeds are arguments), no wire format (codes are model enums).
//!
//! * [`sync`] — what to send to the national portal (DVCQG) for one dossier: insert or
//!   update of the desired version, then the unacknowledged progress steps in `step_seq`
//!   order, at most ten per call, never before the portal knows the dossier.
//! * [`outcome`] — what a call's result means: record and go on, retry after a back-off, or
//!   park for a human (`dvcqg.md` §11).
//! * [`breaker`] — a circuit breaker per partner, so work items stop spending attempts
//!   while a partner is down.
//! * [`resync`] — what to repair when the portal's copy of a dossier no longer matches
//!   what the journal believes it acknowledged (`lienthong resync`).
//! * [`status`] — the status reduction for dossiers submitted on the portal itself
//!   (`DongBoTrangThaiHoSo`, `dvcqg.md` §8).
//!
//! A sync route, in outline:
//!
//! ```text
//! loop {
//!     state = journal.state(code)                       // DossierSync
//!     plan = sync::plan(&state); if plan.is_empty() { ack the work item; break }
//!     for call in plan.calls {
//!         if breaker.allow(now) is Deny { retry_at } { settle with breaker::deferred(..); return }
//!         result = client call
//!         breaker.record(now, Health::of(&result))
//!         decision = outcome::decide(&call, &result, attempt, &policy, seed)
//!         journal.record(decision.record())             // DossierSync::apply, in SQL
//!         match decision { Ack { replan: false } => continue, Ack { replan: true } => break,
//!                          RetryAfter { .. } | Park { .. } => { settle the work item; return } }
//!     }
//! }
//! ```

pub mod breaker;
pub mod outcome;
pub mod resync;
pub mod status;
pub mod sync;

pub use breaker::{BreakerConfig, BreakerState, CircuitBreaker, Health, Permit};
pub use outcome::{CallResult, Decision, Reason, RetryPolicy, decide};
pub use resync::{Forget, PortalCopy, Resync, ResyncView, decide_resync};
pub use status::{ReducedStatus, plan_report, reduce, report_due};
pub use sync::{
    Call, DossierMode, DossierSync, MAX_STEPS_PER_CALL, Record, StepSync, SyncPlan, Waiting, plan,
};

/// A setting of this crate's policies that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: expected {expected}, found {found}")]
pub struct ConfigError {
    /// The setting, e.g. `breaker.failure_threshold`.
    pub field: &'static str,
    /// What it must be.
    pub expected: &'static str,
    /// What it is.
    pub found: String,
}

impl ConfigError {
    pub(crate) fn new(
        field: &'static str,
        expected: &'static str,
        found: impl Into<String>,
    ) -> Self {
        ConfigError {
            field,
            expected,
            found: found.into(),
        }
    }
}
