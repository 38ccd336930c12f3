//! The `dossier.sync` route: keeps the national portal (DVCQG) in step with the journal.
//!
//! A work item on `dossier.sync` says only "look at dossier X". The route does not send
//! what the message carries; it reconciles:
//!
//! 1. **Claim** the dossier in the journal ([`Journal::begin_sync`], a lease per owner,
//!    renewed before a call once half of it has passed: [`Journal::renew_sync`]). `Busy`:
//!    another worker holds it — postponed by one lease without counting an attempt: a
//!    live holder looks again after releasing (see 5), and the claim of a holder that died
//!    lapses by then, so its dossiers are not left to the sweeper. `Unknown`: no version
//!    received yet; the version's own work item will come — acknowledged.
//! 2. **Plan** with [`lienthong_workflow::plan`] from the state the claim saw (desired
//!    version, acknowledged version, whether the portal knows the dossier, unacknowledged
//!    steps). The journal is only storage; the decisions are the workflow crate's.
//! 3. For each call of the plan: **map** the stored provincial body to the DVCQG item (a
//!    mapping refusal parks the work item with the paths of the findings, never their
//!    values), ask the **circuit breaker** (denied: postponed until it reopens without counting an
//!    attempt, [`lienthong_workflow::breaker::deferred`], `Delivery::postpone`), **call** the client, tell the breaker the
//!    result's health, **decide** ([`lienthong_workflow::decide`]), **record** what the
//!    portal acknowledged (`ack_version`, `mark_portal_known`, `ack_step`) and **log** the
//!    call in the message log (hash and size of the payload, outcome, attempts, the
//!    partner's code; no body, no partner message: both may hold personal data).
//! 4. **Settle** the delivery: everything acknowledged → plan again (a newer version or new
//!    steps may have arrived meanwhile) until the plan is empty, then `ack`;
//!    `RetryAfter` → [`Delivery::retry_after`]; `Park` → [`Delivery::park`].
//! 5. **Release** the claim ([`Journal::end_sync`]) whatever happened, then look at the
//!    state once more: anything recorded while the claim was held (whose work item was
//!    acknowledged as `Busy`) is reconciled now.
//!
//! Idempotent: a repeated or late work item plans from the journal, so once the portal
//! acknowledged everything it sends nothing. Out of order: the plan never sends a version
//! at or below the acknowledged one.
//!
//! Deliveries are spread over lanes by a stable hash of the dossier code, so one node
//! handles one dossier's items one at a time; several nodes are kept apart by the claim.

use crate::catalogue::Catalogue;
use crate::relay::stopped;
use jiff::{SignedDuration, Timestamp};
use lienthong_bus::{Bus, BusError, Delivery, RetryOutcome};
use lienthong_dvcqg::client::DvcqgClient;
use lienthong_dvcqg::map::{MappingConfig, dossier_to_dvcqg, progress_to_dvcqg};
use lienthong_dvcqg::wire::{DossierItem, ProgressItem};
use lienthong_journal::messages::{Direction, MessageRecord, Outcome};
use lienthong_journal::state::{SyncClaim, SyncPlan as ClaimedPlan};
use lienthong_journal::{Journal, JournalError};
use lienthong_model::{Finding, PartnerFailure};
use lienthong_workflow::breaker::{deferral, deferred};
use lienthong_workflow::outcome::operation;
use lienthong_workflow::{
    BreakerConfig, BreakerState, Call, CallResult, CircuitBreaker, ConfigError, Decision,
    DossierMode, DossierSync, Health, Permit, Reason, Record, RetryPolicy, StepSync, decide,
};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tracing::Instrument;

/// The bus route this module consumes.
pub const ROUTE: &str = "dossier.sync";
/// The partner name in logs, breaker reasons and the message log.
pub const PARTNER: &str = "dvcqg";
/// The `body_kind` of a stored provincial dossier version.
pub const BODY_DOSSIER: &str = "provincial.dossier";
/// The `body_kind` of a stored provincial progress step.
pub const BODY_PROGRESS: &str = "provincial.progress";

/// Settings of the sync route.
#[derive(Debug, Clone)]
pub struct SyncSettings {
    /// How dossiers and steps are mapped to DVCQG items.
    pub mapping: MappingConfig,
    /// The breaker in front of the portal.
    pub breaker: BreakerConfig,
    /// Back-off of retried work items.
    pub policy: RetryPolicy,
    /// Who claims dossiers (node name); must differ between nodes.
    pub owner: String,
    /// How long a claim holds; renewed before a call once half of it has passed, so half
    /// of it must be longer than one call takes (up to twice the client's timeout: one
    /// session refresh and repeat, and the duplicate → update fallback). A node that dies holds its dossiers this long.
    pub lease: SignedDuration,
    /// Dossiers handled at the same time on this node (at least 1).
    pub lanes: usize,
    /// Unsettled deliveries per partition the bus may hand this node.
    pub prefetch: u16,
    /// Plans per delivery at most (a dossier that keeps changing is retried after that).
    pub max_plans: u32,
    /// The portal's procedure catalogue, for procedure names and fields a dossier lacks.
    pub catalogue: Option<Arc<Catalogue>>,
}

impl Default for SyncSettings {
    /// Default mapping, breaker and back-off; owner `sync`, 5-minute lease, 8 lanes,
    /// prefetch 4, 16 plans per delivery.
    fn default() -> Self {
        SyncSettings {
            mapping: MappingConfig::default(),
            breaker: BreakerConfig::default(),
            policy: RetryPolicy::default(),
            owner: "sync".into(),
            lease: SignedDuration::from_mins(5),
            lanes: 8,
            prefetch: 4,
            max_plans: 16,
            catalogue: None,
        }
    }
}

/// Why the sync route cannot run.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// A setting that cannot work (operator's fault; retrying does not help).
    #[error("sync route settings (fix the configuration): {0}")]
    Config(#[from] ConfigError),
    /// A setting outside the ranges the route accepts (operator's fault).
    #[error("sync route settings (fix the configuration): {0}")]
    Settings(String),
    /// The bus refused the consumer.
    #[error("cannot consume {route} (retry helps: {}): {source}", source.retryable())]
    Consume {
        /// The route.
        route: &'static str,
        /// The bus's error.
        source: BusError,
    },
    /// The bus closed under the consumer (restart the route once the bus is back).
    #[error("the bus closed while {route} was consuming (retry helps once it is back)")]
    BusClosed {
        /// The route.
        route: &'static str,
    },
    /// A worker lane ended abnormally (a bug: see the log; restarting may help).
    #[error("a worker lane of {route} stopped; its delivery goes back to the bus")]
    LaneStopped {
        /// The route.
        route: &'static str,
    },
}

impl SyncError {
    /// Whether starting the route again later can succeed.
    pub fn retryable(&self) -> bool {
        match self {
            SyncError::Config(_) | SyncError::Settings(_) => false,
            SyncError::Consume { source, .. } => source.retryable(),
            SyncError::BusClosed { .. } | SyncError::LaneStopped { .. } => true,
        }
    }
}

/// What handling one delivery did (it is settled by then).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// The portal has everything the journal holds: acknowledged.
    Synced,
    /// Another worker holds the dossier: postponed by one lease (no attempt counted).
    Busy,
    /// No version of the dossier yet: acknowledged.
    Unknown,
    /// Scheduled again after `delay` (or parked by the bus after the last attempt).
    Retry {
        /// The delay asked for.
        delay: Duration,
        /// Why.
        reason: String,
    },
    /// Not tried (the portal's circuit breaker is open) and scheduled again after `delay`
    /// without counting an attempt.
    Postponed {
        /// The delay asked for.
        delay: Duration,
        /// Why.
        reason: String,
    },
    /// Parked for an operator.
    Parked {
        /// Why.
        reason: String,
    },
}

/// A partner's circuit breaker shared by the routes that call it.
pub type SharedBreaker = Arc<Mutex<CircuitBreaker>>;

/// Locks a shared breaker. The breaker is a plain value: a panic elsewhere cannot leave it
/// half-written, so a poisoned lock is used as it is.
pub fn lock_breaker(b: &SharedBreaker) -> MutexGuard<'_, CircuitBreaker> {
    b.lock().unwrap_or_else(|e| e.into_inner())
}

/// The `dossier.sync` route. See the [module documentation](self).
pub struct SyncRoute {
    journal: Journal,
    client: DvcqgClient,
    mapping: MappingConfig,
    breaker: SharedBreaker,
    policy: RetryPolicy,
    owner: String,
    lease: SignedDuration,
    lanes: usize,
    prefetch: u16,
    max_plans: u32,
    catalogue: Option<Arc<Catalogue>>,
}

impl std::fmt::Debug for SyncRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncRoute")
            .field("owner", &self.owner)
            .field("breaker", &self.breaker_state())
            .field("policy", &self.policy)
            .field("lanes", &self.lanes)
            .finish_non_exhaustive()
    }
}

/// A call ready to go: the items mapped from the stored bodies.
enum Request {
    Dossier {
        item: Box<DossierItem>,
        update: bool,
    },
    Progress {
        items: Vec<ProgressItem>,
    },
}

/// Why a call could not be prepared.
enum Unprepared {
    /// The stored data cannot become a request (mapping refusal): park.
    Refused(String),
    /// The journal does not hold what the plan needs (it changed under the claim): retry.
    Missing(String),
}

/// How a call went.
enum Sent {
    Accepted,
    Failed {
        failure: PartnerFailure,
        accepted_steps: usize,
        /// The portal said it has the dossier before the call failed (the update resent
        /// after `đã tồn tại`): the next plan must send an update.
        portal_has_dossier: bool,
    },
}

/// How a delivery ends, before it is settled.
enum Settlement {
    Synced,
    Busy,
    Unknown,
    Retry {
        delay: Duration,
        reason: Reason,
    },
    /// Not tried (breaker open): again after `delay`, no attempt counted.
    Postpone {
        delay: Duration,
        reason: Reason,
    },
    Park {
        reason: Reason,
    },
}

/// What to do after a call.
enum Flow {
    /// Go on with the next call of the plan (the last one done: plan again).
    Next,
    /// Drop the rest of the plan and plan again from the journal.
    Replan,
    /// Stop and settle the delivery.
    Settle(Settlement),
}

/// FNV-1a 64: a stable hash (same on every node and version) for jitter seeds and lanes.
fn stable_hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The paths of the error findings (never their values: they may be personal data).
fn error_paths(findings: &[Finding]) -> String {
    let mut paths: Vec<&str> = findings
        .iter()
        .filter(|f| f.is_error())
        .map(|f| {
            if f.path.is_empty() {
                "/"
            } else {
                f.path.as_str()
            }
        })
        .collect();
    paths.dedup();
    paths.join(", ")
}

fn has_errors(findings: &[Finding]) -> bool {
    findings.iter().any(Finding::is_error)
}

impl SyncRoute {
    /// A route over `journal` and `client`, with checked settings.
    pub fn new(
        journal: Journal,
        client: DvcqgClient,
        settings: SyncSettings,
    ) -> Result<Self, SyncError> {
        settings.breaker.validate()?;
        settings.policy.validate()?;
        if settings.lanes == 0 {
            return Err(SyncError::Settings(
                "lanes: expected at least 1, found 0".into(),
            ));
        }
        if settings.prefetch == 0 {
            return Err(SyncError::Settings(
                "prefetch: expected at least 1, found 0".into(),
            ));
        }
        if settings.max_plans == 0 {
            return Err(SyncError::Settings(
                "max_plans: expected at least 1, found 0".into(),
            ));
        }
        if !settings.lease.is_positive() {
            return Err(SyncError::Settings(format!(
                "lease: expected a positive duration, found {}",
                settings.lease
            )));
        }
        if settings.owner.trim().is_empty() {
            return Err(SyncError::Settings(
                "owner: expected a node name, found nothing".into(),
            ));
        }
        Ok(SyncRoute {
            journal,
            client,
            mapping: settings.mapping,
            breaker: Arc::new(Mutex::new(CircuitBreaker::new(settings.breaker))),
            policy: settings.policy,
            owner: settings.owner,
            lease: settings.lease,
            lanes: settings.lanes,
            prefetch: settings.prefetch,
            max_plans: settings.max_plans,
            catalogue: settings.catalogue,
        })
    }

    /// The client of the portal (shared with the admin API's lookups).
    pub fn client(&self) -> &DvcqgClient {
        &self.client
    }

    /// The procedure catalogue, when one is kept.
    pub fn catalogue(&self) -> Option<&Arc<Catalogue>> {
        self.catalogue.as_ref()
    }

    /// Maps a stored dossier body to the DVCQG item the route would send, procedure names
    /// and fields the dossier lacks filled from the catalogue. The error names the paths
    /// at fault (never their values).
    pub async fn map_dossier(&self, body_kind: &str, body: &[u8]) -> Result<DossierItem, String> {
        if body_kind != BODY_DOSSIER {
            return Err(format!(
                "stored body of kind {body_kind:?} is not a provincial dossier"
            ));
        }
        let mut findings = Vec::new();
        let dossier = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|value| lienthong_provincial::read::read_dossier(&value, &mut findings));
        let Some(mut dossier) = dossier.filter(|_| !has_errors(&findings)) else {
            return Err(format!(
                "stored dossier body does not read (errors at {})",
                error_paths(&findings)
            ));
        };
        if let Some(c) = &self.catalogue {
            let portal_code = self
                .mapping
                .procedure_map
                .get(&dossier.procedure.code)
                .unwrap_or(&dossier.procedure.code)
                .clone();
            if c.fill(&mut dossier, &portal_code).await {
                tracing::debug!(dossier = %dossier.code, partner = PARTNER,
                    procedure = %portal_code, "procedure name or field filled from the catalogue");
            }
        }
        let (item, findings) = dossier_to_dvcqg(&dossier, &self.mapping);
        if has_errors(&findings) {
            return Err(format!(
                "DVCQG mapping refused the dossier (errors at {})",
                error_paths(&findings)
            ));
        }
        if !findings.is_empty() {
            tracing::info!(dossier = %dossier.code, partner = PARTNER,
                warnings = %findings.iter().map(|f| f.path.as_str()).collect::<Vec<_>>().join(", "),
                "dossier mapped with warnings");
        }
        Ok(item)
    }

    /// Where the portal's breaker stands.
    pub fn breaker_state(&self) -> BreakerState {
        self.lock_breaker().state()
    }

    fn lock_breaker(&self) -> MutexGuard<'_, CircuitBreaker> {
        lock_breaker(&self.breaker)
    }

    /// The portal's circuit breaker, for the other routes that call the portal (one breaker
    /// per partner: a portal that is down is down for every call).
    pub fn breaker(&self) -> SharedBreaker {
        Arc::clone(&self.breaker)
    }

    /// Consumes `dossier.sync` until `shutdown` turns `true` (or its sender is dropped).
    /// Deliveries in hand are finished (a call in flight may take up to the client's
    /// timeout); deliveries not yet started are left to the bus, which redelivers them.
    pub async fn run(
        self: Arc<Self>,
        bus: &Bus,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), SyncError> {
        let mut consumer =
            bus.consume(ROUTE, self.prefetch)
                .await
                .map_err(|source| SyncError::Consume {
                    route: ROUTE,
                    source,
                })?;
        tracing::info!(owner = %self.owner, lanes = self.lanes, "sync route started");
        let mut lanes = Vec::with_capacity(self.lanes);
        let mut tasks = Vec::with_capacity(self.lanes);
        for _ in 0..self.lanes {
            let (tx, mut rx) = mpsc::channel::<Delivery>(1);
            let route = Arc::clone(&self);
            tasks.push(tokio::spawn(async move {
                while let Some(delivery) = rx.recv().await {
                    route.handle(delivery).await;
                }
            }));
            lanes.push(tx);
        }
        let result = loop {
            tokio::select! {
                () = stopped(&mut shutdown) => break Ok(()),
                next = consumer.next() => {
                    let Some(delivery) = next else {
                        break Err(SyncError::BusClosed { route: ROUTE });
                    };
                    let lane = (stable_hash(&delivery.message.key) % lanes.len() as u64) as usize;
                    if lanes[lane].send(delivery).await.is_err() {
                        break Err(SyncError::LaneStopped { route: ROUTE });
                    }
                }
            }
        };
        drop(lanes);
        for task in tasks {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "sync lane ended abnormally");
            }
        }
        drop(consumer);
        tracing::info!(owner = %self.owner, "sync route stopped");
        result
    }

    /// Handles one delivery of `dossier.sync` and settles it.
    pub async fn handle(&self, delivery: Delivery) -> Handled {
        let code = delivery.message.key.clone();
        let seed = stable_hash(&delivery.message.id);
        let attempt = delivery.attempt;
        let span = tracing::info_span!("sync", dossier = %code, partner = PARTNER, attempt);
        async move {
            let settlement = if code.trim().is_empty() {
                Settlement::Park {
                    reason: Reason::new("work item without a dossier code"),
                }
            } else if let Some(held) = self.held_back() {
                held
            } else {
                self.reconcile(&code, attempt, seed).await
            };
            self.settle(&code, delivery, settlement).await
        }
        .instrument(span)
        .await
    }

    async fn settle(&self, code: &str, delivery: Delivery, s: Settlement) -> Handled {
        let id = delivery.message.id.clone();
        let (handled, result) = match s {
            Settlement::Synced => (Handled::Synced, delivery.ack().await.map(|_| ())),
            Settlement::Busy => (
                Handled::Busy,
                delivery
                    .postpone(self.lease.unsigned_abs())
                    .await
                    .map(|_| ()),
            ),
            Settlement::Unknown => (Handled::Unknown, delivery.ack().await.map(|_| ())),
            Settlement::Retry { delay, reason } => {
                let bus_reason = to_bus_reason(&reason);
                let r = delivery.retry_after(delay, bus_reason).await;
                if let Ok(RetryOutcome::Parked) = r {
                    tracing::warn!(dossier = %code, partner = PARTNER, message = %id,
                        reason = %reason.message, "attempts exhausted; work item parked");
                }
                (
                    Handled::Retry {
                        delay,
                        reason: reason.message,
                    },
                    r.map(|_| ()),
                )
            }
            Settlement::Postpone { delay, reason } => {
                let r = delivery.postpone(delay).await;
                (
                    Handled::Postponed {
                        delay,
                        reason: reason.message,
                    },
                    r.map(|_| ()),
                )
            }
            Settlement::Park { reason } => {
                tracing::warn!(dossier = %code, partner = PARTNER, message = %id,
                    reason = %reason.message, "work item parked");
                let r = delivery.park(to_bus_reason(&reason)).await;
                (
                    Handled::Parked {
                        reason: reason.message,
                    },
                    r,
                )
            }
        };
        if let Err(e) = result {
            // Unsettled: the bus delivers it again, and the plan is made afresh.
            tracing::warn!(dossier = %code, partner = PARTNER, message = %id, error = %e,
                "settling the work item failed; the bus will deliver it again");
        }
        handled
    }

    /// While the breaker is open, a delivery is postponed at once, before the journal is
    /// touched: during an outage a backlog then costs the broker's redeliveries only, not
    /// a claim, a read and a mapping per message. (A half-open breaker lets the delivery
    /// through: it may be the probe.)
    fn held_back(&self) -> Option<Settlement> {
        let now = Timestamp::now();
        match self.lock_breaker().state() {
            BreakerState::Open { until } if now < until => {
                let (delay, reason) = deferral(PARTNER, until, now);
                Some(Settlement::Postpone { delay, reason })
            }
            _ => None,
        }
    }

    /// Claims, plans and calls until the plan is empty or a call settles the work item;
    /// releases the claim.
    async fn reconcile(&self, code: &str, attempt: u32, seed: u64) -> Settlement {
        let mut plans = 0;
        loop {
            plans += 1;
            if plans > self.max_plans {
                self.release(code).await;
                return Settlement::Retry {
                    delay: self.policy.delay(attempt, seed, None),
                    reason: Reason::new(format!(
                        "dossier changed through {} plans without settling; trying later",
                        self.max_plans
                    )),
                };
            }
            let mut claimed_at = std::time::Instant::now();
            let claim = match self
                .journal
                .begin_sync(code, &self.owner, self.lease, Timestamp::now())
                .await
            {
                Ok(c) => c,
                Err(e) => {
                    self.release(code).await;
                    return self.journal_failure(&e, attempt, seed);
                }
            };
            let claimed = match claim {
                SyncClaim::Busy => {
                    tracing::debug!(dossier = %code, "dossier held by another worker");
                    return Settlement::Busy;
                }
                SyncClaim::Unknown => {
                    tracing::debug!(dossier = %code, "no version yet; steps wait for it");
                    return Settlement::Unknown;
                }
                SyncClaim::Plan(p) => p,
            };
            let state = DossierSync {
                code: code.to_owned(),
                desired_version: Some(claimed.desired_version),
                acked_version: claimed.acked_version,
                portal_knows: claimed.portal_known,
                steps: claimed
                    .steps
                    .iter()
                    .map(|s| StepSync {
                        step_seq: s.step_seq,
                        acked: false,
                    })
                    .collect(),
            };
            let plan = lienthong_workflow::plan(&state);
            if plan.is_empty() {
                self.release(code).await;
                // Anything recorded while the claim was held had its work item find the
                // dossier busy: look once more now that the claim is released.
                match self.pending(code).await {
                    Ok(true) => continue,
                    Ok(false) => {
                        tracing::debug!(dossier = %code, "portal in step with the journal");
                        return Settlement::Synced;
                    }
                    Err(e) => return self.journal_failure(&e, attempt, seed),
                }
            }
            tracing::debug!(dossier = %code, calls = plan.calls.len(), "sync plan");
            let mut replan = false;
            for call in &plan.calls {
                // Renewed when half the lease has passed: a call then still has at least
                // half a lease (2.5 × the client's timeout) before the claim could lapse,
                // and the common plan — one call right after the claim — costs no renewal.
                if claimed_at.elapsed() >= self.lease.unsigned_abs() / 2 {
                    claimed_at = std::time::Instant::now();
                    match self
                        .journal
                        .renew_sync(code, &self.owner, self.lease, Timestamp::now())
                        .await
                    {
                        Ok(true) => {}
                        Ok(false) => {
                            // The lease ran out and another worker took the dossier: it
                            // carries on from the journal's state.
                            tracing::warn!(dossier = %code, "sync claim lost to another worker");
                            return Settlement::Busy;
                        }
                        Err(e) => {
                            self.release(code).await;
                            return self.journal_failure(&e, attempt, seed);
                        }
                    }
                }
                match self.step(code, call, &claimed, attempt, seed).await {
                    Flow::Next => {}
                    Flow::Replan => {
                        replan = true;
                        break;
                    }
                    Flow::Settle(s) => {
                        self.release(code).await;
                        return s;
                    }
                }
            }
            if replan {
                continue;
            }
            // The whole plan went through: release the claim, then look once more for
            // anything recorded meanwhile (its work item found the dossier busy) — one
            // claim fewer than planning again under the claim to find the plan empty.
            self.release(code).await;
            match self.pending(code).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::debug!(dossier = %code, "portal in step with the journal");
                    return Settlement::Synced;
                }
                Err(e) => return self.journal_failure(&e, attempt, seed),
            }
        }
    }

    /// One call of a plan: prepare, ask the breaker, call, decide, record, log.
    async fn step(
        &self,
        code: &str,
        call: &Call,
        claimed: &ClaimedPlan,
        attempt: u32,
        seed: u64,
    ) -> Flow {
        let request = match self.prepare(call, claimed).await {
            Ok(r) => r,
            Err(Unprepared::Missing(why)) => {
                return Flow::Settle(Settlement::Retry {
                    delay: self.policy.delay(attempt, seed, None),
                    reason: Reason::new(why),
                });
            }
            Err(Unprepared::Refused(summary)) => {
                let result = CallResult::Invalid { summary: &summary };
                let decision = decide(call, &result, attempt, &self.policy, seed);
                self.log(code, call, &[], Outcome::Rejected, 0, None).await;
                return self.conclude(code, decision, attempt, seed).await;
            }
        };
        let now = Timestamp::now();
        let permit = self.lock_breaker().allow(now);
        if let Permit::Deny { retry_at } = permit {
            tracing::info!(dossier = %code, partner = PARTNER, %retry_at,
                "portal presumed down; work item deferred");
            return self
                .conclude(code, deferred(PARTNER, retry_at, now), attempt, seed)
                .await;
        }
        let payload = request.payload();
        let started = std::time::Instant::now();
        let sent = self.send(request).await;
        crate::metrics::portal_call(
            PARTNER,
            operation(call),
            crate::metrics::call_outcome(match &sent {
                Sent::Accepted => None,
                Sent::Failed { failure, .. } => Some(failure.fault),
            }),
            started.elapsed(),
        );
        let result = match &sent {
            Sent::Accepted => CallResult::Accepted,
            Sent::Failed {
                failure,
                accepted_steps,
                ..
            } => CallResult::Failed {
                failure,
                accepted_steps: *accepted_steps,
            },
        };
        let breaker = {
            let mut b = self.lock_breaker();
            b.record(Timestamp::now(), Health::of(&result));
            b.state()
        };
        crate::metrics::breaker(PARTNER, breaker);
        let decision = decide(call, &result, attempt, &self.policy, seed);
        let (outcome, answer_code) = match (&decision, &sent) {
            (Decision::Ack { .. }, _) => (Outcome::Accepted, None),
            (_, Sent::Failed { failure, .. }) => (
                if matches!(decision, Decision::Park { .. }) {
                    Outcome::Parked
                } else {
                    Outcome::Pending
                },
                failure.error_code.clone(),
            ),
            (Decision::Park { .. }, Sent::Accepted) => (Outcome::Parked, None),
            (Decision::RetryAfter { .. } | Decision::Postpone { .. }, Sent::Accepted) => {
                (Outcome::Pending, None)
            }
        };
        match &sent {
            Sent::Accepted => {
                tracing::info!(dossier = %code, partner = PARTNER, operation = operation(call),
                    "portal accepted");
            }
            Sent::Failed { failure, .. } => {
                tracing::warn!(dossier = %code, partner = PARTNER, operation = operation(call),
                    failure = %failure, "portal call failed");
            }
        }
        self.log(code, call, &payload, outcome, 1, answer_code)
            .await;
        if let Sent::Failed {
            portal_has_dossier: true,
            ..
        } = &sent
            && let Err(e) = self.journal.mark_portal_known(code, Timestamp::now()).await
        {
            return Flow::Settle(self.journal_failure(&e, attempt, seed));
        }
        self.conclude(code, decision, attempt, seed).await
    }

    /// Records what the decision says the portal acknowledged, then turns it into a flow.
    async fn conclude(&self, code: &str, decision: Decision, attempt: u32, seed: u64) -> Flow {
        if let Err(e) = self.record(code, decision.record()).await {
            return Flow::Settle(self.journal_failure(&e, attempt, seed));
        }
        match decision {
            Decision::Ack { replan: false, .. } => Flow::Next,
            // The rest of this plan is stale (an insert became an update).
            Decision::Ack { replan: true, .. } => Flow::Replan,
            Decision::RetryAfter { delay, reason, .. } => {
                Flow::Settle(Settlement::Retry { delay, reason })
            }
            Decision::Postpone { delay, reason } => {
                Flow::Settle(Settlement::Postpone { delay, reason })
            }
            Decision::Park { reason, .. } => Flow::Settle(Settlement::Park { reason }),
        }
    }

    /// Maps the stored bodies the call needs to DVCQG items.
    async fn prepare(&self, call: &Call, claimed: &ClaimedPlan) -> Result<Request, Unprepared> {
        match call {
            Call::Dossier { version, mode } => {
                let Some(v) = claimed.version.as_ref().filter(|v| v.version == *version) else {
                    return Err(Unprepared::Missing(format!(
                        "journal holds no body for version {version} under the claim"
                    )));
                };
                let item = self
                    .map_dossier(&v.body_kind, &v.body)
                    .await
                    .map_err(Unprepared::Refused)?;
                Ok(Request::Dossier {
                    item: Box::new(item),
                    update: *mode == DossierMode::Update,
                })
            }
            Call::Progress { steps } => {
                let mut items = Vec::with_capacity(steps.len());
                for seq in steps {
                    let Some(s) = claimed.steps.iter().find(|s| s.step_seq == *seq) else {
                        return Err(Unprepared::Missing(format!(
                            "journal holds no body for step {seq} under the claim"
                        )));
                    };
                    if s.body_kind != BODY_PROGRESS {
                        return Err(Unprepared::Refused(format!(
                            "stored body of step {seq} (kind {:?}) is not a provincial step",
                            s.body_kind
                        )));
                    }
                    let mut findings = Vec::new();
                    let step = serde_json::from_slice::<serde_json::Value>(&s.body)
                        .ok()
                        .and_then(|value| {
                            lienthong_provincial::read::read_progress(&value, &mut findings)
                        });
                    let Some(step) = step.filter(|_| !has_errors(&findings)) else {
                        return Err(Unprepared::Refused(format!(
                            "stored body of step {seq} does not read (errors at {})",
                            error_paths(&findings)
                        )));
                    };
                    let (item, findings) = progress_to_dvcqg(&step, &self.mapping);
                    if has_errors(&findings) {
                        return Err(Unprepared::Refused(format!(
                            "DVCQG mapping refused step {seq} (errors at {})",
                            error_paths(&findings)
                        )));
                    }
                    items.push(item);
                }
                Ok(Request::Progress { items })
            }
            Call::StatusReport { .. } => Err(Unprepared::Refused(
                "status reports are not sent by the dossier.sync route".into(),
            )),
        }
    }

    async fn send(&self, request: Request) -> Sent {
        let result = match &request {
            Request::Dossier { item, update } => {
                self.client
                    .sync_dossier(item, *update)
                    .await
                    .map(|outcome| {
                        tracing::debug!(dossier = %item.MaHoSo, partner = PARTNER, ?outcome,
                        "dossier on the portal");
                    })
            }
            Request::Progress { items } => self.client.send_progress(items).await,
        };
        match result {
            Ok(()) => Sent::Accepted,
            Err(e) => Sent::Failed {
                failure: e.to_failure(),
                accepted_steps: e.accepted.unwrap_or(0),
                portal_has_dossier: e.portal_has_dossier,
            },
        }
    }

    /// Writes what the portal acknowledged to the journal.
    async fn record(&self, code: &str, record: &Record) -> Result<(), JournalError> {
        let now = Timestamp::now();
        if let Some(v) = record.version {
            self.journal.ack_version(code, v, now).await?;
        } else if record.portal_knows {
            self.journal.mark_portal_known(code, now).await?;
        }
        for seq in &record.steps {
            self.journal.ack_step(code, *seq, now).await?;
        }
        Ok(())
    }

    /// Logs a call to the portal (or a refused one) in the message log: one entry per
    /// logical call, updated on each attempt. Failures to log are warned, not fatal.
    async fn log(
        &self,
        code: &str,
        call: &Call,
        payload: &[u8],
        outcome: Outcome,
        tried: u32,
        answer_code: Option<String>,
    ) {
        let id = log_id(code, call);
        let now = Timestamp::now();
        let previous = match self.journal.message(&id).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(dossier = %code, partner = PARTNER, error = %e,
                    "message log unreadable; logging afresh");
                None
            }
        };
        let mut record = MessageRecord::new(
            id,
            Direction::Out,
            PARTNER,
            format!("{PARTNER}.{}", operation(call)),
            payload,
            previous.as_ref().map_or(now, |p| p.created_at),
        );
        record.route = Some(ROUTE.to_owned());
        record.dossier_code = Some(code.to_owned());
        record.outcome = outcome;
        record.attempts = previous.as_ref().map_or(0, |p| p.attempts) + tried;
        if tried > 0 {
            record.first_attempt_at = previous
                .as_ref()
                .and_then(|p| p.first_attempt_at)
                .or(Some(now));
            record.last_attempt_at = Some(now);
        }
        if outcome != Outcome::Pending {
            record.finished_at = Some(now);
        }
        record.answer_code = answer_code;
        if let Err(e) = self.journal.log_message(&record, None).await {
            tracing::warn!(dossier = %code, partner = PARTNER, error = %e,
                "logging the portal call failed");
        }
    }

    /// Releases the claim; a failure is only warned (the lease runs out by itself).
    async fn release(&self, code: &str) {
        if let Err(e) = self.journal.end_sync(code, &self.owner).await {
            tracing::warn!(dossier = %code, error = %e,
                "releasing the sync claim failed; it lapses with its lease");
        }
    }

    /// Whether the journal holds something the portal has not acknowledged.
    async fn pending(&self, code: &str) -> Result<bool, JournalError> {
        Ok(self
            .journal
            .dossier_state(code)
            .await?
            .is_some_and(|s| s.acked_version.is_none_or(|a| a < s.version) || s.steps_pending > 0))
    }

    fn journal_failure(&self, e: &JournalError, attempt: u32, seed: u64) -> Settlement {
        let reason = Reason::new(format!("journal ({}): {e}", e.blame()));
        if e.retryable() {
            Settlement::Retry {
                delay: self.policy.delay(attempt, seed, None),
                reason,
            }
        } else {
            Settlement::Park { reason }
        }
    }
}

impl Request {
    /// The items as JSON, for the message log's hash and size.
    fn payload(&self) -> Vec<u8> {
        let json = match self {
            Request::Dossier { item, .. } => serde_json::to_vec(item),
            Request::Progress { items } => serde_json::to_vec(items),
        };
        json.unwrap_or_default()
    }
}

/// The message-log id of a logical call: one per dossier version and insert/update, one
/// per run of steps.
fn log_id(code: &str, call: &Call) -> String {
    match call {
        Call::Dossier { version, mode } => {
            let m = match mode {
                DossierMode::Insert => "insert",
                DossierMode::Update => "update",
            };
            format!("out-{PARTNER}-{code}-v{version}-{m}")
        }
        Call::Progress { steps } => format!(
            "out-{PARTNER}-{code}-steps-{}-{}",
            steps.first().copied().unwrap_or(0),
            steps.last().copied().unwrap_or(0)
        ),
        Call::StatusReport { status } => {
            format!("out-{PARTNER}-{code}-status-{}", status.name())
        }
    }
}

fn to_bus_reason(r: &Reason) -> lienthong_bus::Reason {
    lienthong_bus::Reason {
        message: r.message.clone(),
        partner_code: r.partner_code.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_hash_is_fnv1a() {
        assert_eq!(stable_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash("wi-1"), stable_hash("wi-1"));
        assert_ne!(stable_hash("wi-1"), stable_hash("wi-2"));
    }

    #[test]
    fn error_paths_name_paths_only() {
        let f = vec![
            Finding::error("/received_at", "required").found("secret value"),
            Finding::warning("/summary", "cut"),
            Finding::error("/status", "required"),
        ];
        let s = error_paths(&f);
        assert_eq!(s, "/received_at, /status");
        assert!(!s.contains("secret"));
    }

    #[test]
    fn log_ids_name_the_logical_call() {
        let c = Call::Dossier {
            version: 2,
            mode: DossierMode::Update,
        };
        assert_eq!(log_id("D", &c), "out-dvcqg-D-v2-update");
        let c = Call::Progress {
            steps: vec![4, 5, 6],
        };
        assert_eq!(log_id("D", &c), "out-dvcqg-D-steps-4-6");
    }
}
