//! Outcome decisions: what the result of one call to the portal means for the work item —
//! record what the portal acknowledged and go on ([`Decision::Ack`]), try again later
//! ([`Decision::RetryAfter`], exponential back-off with seeded jitter, honouring the
//! partner's `Retry-After`), or stop and wait for a human ([`Decision::Park`]).
//!
//! # Decision table (`dvcqg.md` §5, §11)
//!
//! The session refresh ("other failure, token older than 60 s: refresh, repeat once") and
//! the client-side duplicate fallback happen inside the DVCQG client; what reaches
//! [`decide`] is what is left after them.
//!
//! | call | result | decision | recorded |
//! |---|---|---|---|
//! | dossier, version V | [`CallResult::Accepted`] (inserted, updated, updated after the duplicate signal) | `Ack`, go on with the steps | version V, portal knows |
//! | progress, steps S | [`CallResult::Accepted`] | `Ack` | steps S |
//! | status report of status T | [`CallResult::Accepted`] | `Ack` | status T reported |
//! | dossier insert | [`CallResult::Duplicate`] (`đã tồn tại`) | `Ack` with `replan`: the next plan sends V as an update | portal knows |
//! | dossier update, progress, status report | [`CallResult::Duplicate`] | `RetryAfter` (an ordinary failure, §5 rule 1) | — |
//! | any | failure that needs review (`error_code` 3 / -3, §5 rule 4) | `Park` with the partner's code | — |
//! | any | retryable failure: transport error, timeout, HTTP 408 / 429 / 5xx, unreadable reply, ordinary §5 failure (incl. validation messages, which cannot be told apart) | `RetryAfter` back-off; the bus parks on the last attempt ("then dead-letter") | — |
//! | any | failure that is not retryable (our fault: configuration, HTTP 4xx, authentication refused) | `Park`: nothing changes until someone fixes something | — |
//! | progress, steps S | any failure after the portal accepted the first *n* steps of S | as above | the first *n* steps |
//! | any | [`CallResult::Invalid`]: the gateway cannot build the request (mapping refused the dossier) | `Park` | — |
//!
//! # Reasons and personal data
//!
//! A [`Reason`] carries the failure's summary (safe to log) and the partner's code, never
//! the partner's message, which may quote personal data; operators read that from the
//! [`PartnerFailure`] kept by the journal.

use std::time::Duration;

use lienthong_model::PartnerFailure;
use serde::Serialize;

use crate::ConfigError;
use crate::sync::{Call, DossierMode, Record};

/// Why a work item is retried or parked: the text for operators and logs (no personal data)
/// and, when a partner answered, its own code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Reason {
    /// What went wrong (no personal data).
    pub message: String,
    /// The partner's code (DVCQG `error_code`, verbatim), when there is one.
    pub partner_code: Option<String>,
}

impl Reason {
    /// A reason without a partner code.
    pub fn new(message: impl Into<String>) -> Self {
        Reason {
            message: message.into(),
            partner_code: None,
        }
    }

    /// The reason of a partner failure: its summary and code.
    pub fn of(failure: &PartnerFailure) -> Self {
        Reason {
            message: failure.summary.clone(),
            partner_code: failure.error_code.clone(),
        }
    }
}

/// The result of one call, as the service sees it once the client returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallResult<'a> {
    /// The portal accepted the call (for a dossier: inserted, updated, or updated after
    /// the duplicate signal).
    Accepted,
    /// The portal answered with the duplicate signal `đã tồn tại` (§5 rule 1) and the
    /// call was not resent.
    Duplicate,
    /// The call failed.
    Failed {
        /// The failure, in the shape every partner client converts into.
        failure: &'a PartnerFailure,
        /// For a progress call sent as several requests: how many steps, from the start of
        /// the call's list, the portal accepted before the failure. 0 otherwise.
        accepted_steps: usize,
    },
    /// The gateway could not build the request (e.g. the mapping refused the dossier); no
    /// call was made. The summary must hold no personal data.
    Invalid {
        /// What is wrong.
        summary: &'a str,
    },
}

/// What to do after a call.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case", tag = "decision")]
pub enum Decision {
    /// Record what the portal acknowledged and go on with the next call of the plan — or,
    /// with `replan`, plan again from the recorded state now (the rest of the plan is
    /// void). When the plan is done, plan again; an empty plan settles the work item.
    Ack {
        /// What to record.
        record: Record,
        /// The rest of the plan is void: plan again now.
        replan: bool,
    },
    /// Record what was acknowledged (a partly accepted progress call), then try the work
    /// item again after `delay`.
    RetryAfter {
        /// What to record first.
        record: Record,
        /// How long to wait.
        delay: Duration,
        /// Why.
        reason: Reason,
    },
    /// The work item was not tried (its partner is presumed down, see
    /// [`crate::breaker::deferred`]): nothing to record; try again after `delay` **without
    /// counting an attempt**, so an outage of any length parks nothing.
    Postpone {
        /// How long to wait.
        delay: Duration,
        /// Why.
        reason: Reason,
    },
    /// Record what was acknowledged, then park the work item for a human.
    Park {
        /// What to record first.
        record: Record,
        /// Why, with the partner's code.
        reason: Reason,
    },
}

impl Decision {
    /// What to record, whatever the decision.
    pub fn record(&self) -> &Record {
        /// What a postponed work item records: nothing.
        static NOTHING: Record = Record {
            version: None,
            portal_knows: false,
            steps: Vec::new(),
            status_reported: None,
        };
        match self {
            Decision::Ack { record, .. }
            | Decision::RetryAfter { record, .. }
            | Decision::Park { record, .. } => record,
            Decision::Postpone { .. } => &NOTHING,
        }
    }
}

/// Exponential back-off with jitter, capped, honouring the partner's `Retry-After`.
///
/// For attempt *n* (1 for the first): `e = min(base · 2^(n−1), max_delay)`, then a
/// jittered delay in `[e/2, e]` drawn from the seed ("equal jitter": spreads retries of
/// many items without ever retrying much sooner than planned). When the partner asked for
/// a delay, the result is at least that request, itself capped at `max_retry_after` (a
/// partner cannot park our queue for a week).
///
/// The bus rounds the delay up to its next delay tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct RetryPolicy {
    /// The delay of the first retry, before jitter.
    pub base: Duration,
    /// The largest back-off delay, before honouring `Retry-After`.
    pub max_delay: Duration,
    /// The largest partner-requested delay honoured.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// 5 s, doubling, at most 1 h; a partner's `Retry-After` honoured up to 6 h (the bus's
    /// default delay tiers run from 5 s to 6 h).
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_secs(5),
            max_delay: Duration::from_secs(3600),
            max_retry_after: Duration::from_secs(6 * 3600),
        }
    }
}

impl RetryPolicy {
    /// Checks the policy: a non-zero base no larger than `max_delay`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.base.is_zero() {
            return Err(ConfigError::new("retry.base", "a positive duration", "0"));
        }
        if self.base > self.max_delay {
            return Err(ConfigError::new(
                "retry.max_delay",
                "at least retry.base",
                format!("{:?} < {:?}", self.max_delay, self.base),
            ));
        }
        Ok(())
    }

    /// The back-off before exponent and jitter: `min(base · 2^(attempt−1), max_delay)`
    /// (attempt 0 counts as 1).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let doublings = attempt.max(1) - 1;
        let factor = 1u32.checked_shl(doublings).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max_delay)
    }

    /// The delay before attempt `attempt + 1`, after attempt `attempt` (1 for the first)
    /// failed; `seed` picks the jitter (the same seed and attempt give the same delay),
    /// `retry_after` is the partner's request.
    pub fn delay(&self, attempt: u32, seed: u64, retry_after: Option<Duration>) -> Duration {
        let ceiling = self.ceiling(attempt);
        let half = ceiling / 2;
        let spread = ceiling - half;
        let r = splitmix64(seed ^ u64::from(attempt).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        // (r / 2^64) of the spread, to 32 bits, in nanoseconds, without floating point (a
        // spread of at most 2^94 ns times 2^32 fits in a u128).
        let jitter = (spread.as_nanos() * u128::from(r >> 32)) >> 32;
        let jittered = half.saturating_add(Duration::from_nanos(
            u64::try_from(jitter).unwrap_or(u64::MAX),
        ));
        match retry_after {
            Some(asked) => jittered.max(asked.min(self.max_retry_after)),
            None => jittered,
        }
    }
}

/// SplitMix64: one step of a small, well-mixed generator (the jitter source).
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What the portal acknowledged when `call` succeeded.
pub fn acknowledged(call: &Call) -> Record {
    match call {
        Call::Dossier { version, .. } => Record {
            version: Some(*version),
            portal_knows: true,
            ..Record::default()
        },
        Call::Progress { steps } => Record {
            steps: steps.clone(),
            ..Record::default()
        },
        Call::StatusReport { status } => Record {
            status_reported: Some(*status),
            ..Record::default()
        },
    }
}

/// Decides what to do after `call` gave `result` on bus attempt `attempt` (1 for the
/// first); `seed` picks the back-off jitter (e.g. a hash of the work item's id). See the
/// [module documentation](self) for the table.
pub fn decide(
    call: &Call,
    result: &CallResult<'_>,
    attempt: u32,
    policy: &RetryPolicy,
    seed: u64,
) -> Decision {
    match *result {
        CallResult::Accepted => Decision::Ack {
            record: acknowledged(call),
            replan: false,
        },
        CallResult::Duplicate => match call {
            Call::Dossier {
                mode: DossierMode::Insert,
                ..
            } => Decision::Ack {
                record: Record {
                    portal_knows: true,
                    ..Record::default()
                },
                replan: true,
            },
            _ => Decision::RetryAfter {
                record: Record::default(),
                delay: policy.delay(attempt, seed, None),
                reason: Reason::new(format!(
                    "dvcqg {}: duplicate signal on a call that is not an insert",
                    operation(call)
                )),
            },
        },
        CallResult::Failed {
            failure,
            accepted_steps,
        } => {
            let record = match call {
                Call::Progress { steps } if accepted_steps > 0 => Record {
                    steps: steps.iter().take(accepted_steps).copied().collect(),
                    ..Record::default()
                },
                _ => Record::default(),
            };
            let reason = Reason::of(failure);
            if failure.needs_review || !failure.retryable {
                Decision::Park { record, reason }
            } else {
                Decision::RetryAfter {
                    record,
                    delay: policy.delay(attempt, seed, failure.retry_after),
                    reason,
                }
            }
        }
        CallResult::Invalid { summary } => Decision::Park {
            record: Record::default(),
            reason: Reason::new(format!("{}: {summary}", operation(call))),
        },
    }
}

/// The portal service a call uses.
pub fn operation(call: &Call) -> &'static str {
    match call {
        Call::Dossier { .. } => "DongBoHoSoMC",
        Call::Progress { .. } => "CapNhatTienDoHoSoMC",
        Call::StatusReport { .. } => "DongBoTrangThaiHoSo",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lienthong_model::Fault;

    fn failure(fault: Fault, retryable: bool, needs_review: bool) -> PartnerFailure {
        PartnerFailure {
            partner: "dvcqg",
            operation: "DongBoHoSoMC",
            fault,
            retryable,
            needs_review,
            error_code: None,
            message: Some("Hồ sơ của Nguyễn Văn A".into()),
            retry_after: None,
            summary: "DVCQG DongBoHoSoMC: portal reported a failure".into(),
        }
    }

    const INSERT: Call = Call::Dossier {
        version: 4,
        mode: DossierMode::Insert,
    };
    const UPDATE: Call = Call::Dossier {
        version: 4,
        mode: DossierMode::Update,
    };

    fn progress() -> Call {
        Call::Progress {
            steps: vec![3, 4, 7],
        }
    }

    fn kind(d: &Decision) -> &'static str {
        match d {
            Decision::Ack { replan: false, .. } => "ack",
            Decision::Ack { replan: true, .. } => "ack+replan",
            Decision::RetryAfter { .. } => "retry",
            Decision::Postpone { .. } => "postpone",
            Decision::Park { .. } => "park",
        }
    }

    /// `dvcqg.md` §11, row by row, plus the client's error table.
    #[test]
    fn outcome_table() {
        let p = RetryPolicy::default();
        let mut review = failure(Fault::Partner, false, true);
        review.error_code = Some("\"-3\"".into());
        let mut ordinary = failure(Fault::Partner, true, false);
        ordinary.error_code = Some("\"5\"".into());
        let transport = failure(Fault::Network, true, false);
        let http5xx = failure(Fault::Partner, true, false);
        let config = failure(Fault::Us, false, false);
        let failed = |f| CallResult::Failed {
            failure: f,
            accepted_steps: 0,
        };
        let cases: Vec<(&str, Call, CallResult<'_>, &str)> = vec![
            ("success, dossier", INSERT, CallResult::Accepted, "ack"),
            ("success, progress", progress(), CallResult::Accepted, "ack"),
            (
                "duplicate on a create",
                INSERT,
                CallResult::Duplicate,
                "ack+replan",
            ),
            (
                "duplicate on an update",
                UPDATE,
                CallResult::Duplicate,
                "retry",
            ),
            (
                "duplicate on progress",
                progress(),
                CallResult::Duplicate,
                "retry",
            ),
            ("error_code 3 / -3", UPDATE, failed(&review), "park"),
            ("other failure", UPDATE, failed(&ordinary), "retry"),
            (
                "transport error / timeout",
                INSERT,
                failed(&transport),
                "retry",
            ),
            ("HTTP 5xx", progress(), failed(&http5xx), "retry"),
            ("our fault, not retryable", UPDATE, failed(&config), "park"),
            (
                "mapping refused",
                INSERT,
                CallResult::Invalid {
                    summary: "missing MaTTHC",
                },
                "park",
            ),
        ];
        for (name, call, result, expected) in cases {
            let d = decide(&call, &result, 1, &p, 7);
            assert_eq!(kind(&d), expected, "{name}: {d:?}");
        }
    }

    #[test]
    fn what_is_recorded() {
        let p = RetryPolicy::default();
        let d = decide(&UPDATE, &CallResult::Accepted, 1, &p, 0);
        assert_eq!(
            d.record(),
            &Record {
                version: Some(4),
                portal_knows: true,
                ..Record::default()
            }
        );
        let d = decide(&progress(), &CallResult::Accepted, 1, &p, 0);
        assert_eq!(d.record().steps, [3, 4, 7]);
        assert_eq!(d.record().version, None);
        let d = decide(&INSERT, &CallResult::Duplicate, 1, &p, 0);
        assert_eq!(
            d.record(),
            &Record {
                version: None,
                portal_knows: true,
                ..Record::default()
            }
        );
    }

    #[test]
    fn partly_accepted_progress_records_the_accepted_steps() {
        let p = RetryPolicy::default();
        let f = failure(Fault::Network, true, false);
        let d = decide(
            &progress(),
            &CallResult::Failed {
                failure: &f,
                accepted_steps: 2,
            },
            3,
            &p,
            0,
        );
        assert_eq!(kind(&d), "retry");
        assert_eq!(d.record().steps, [3, 4]);
        // More than the call held: all of them, no more.
        let d = decide(
            &progress(),
            &CallResult::Failed {
                failure: &f,
                accepted_steps: 50,
            },
            3,
            &p,
            0,
        );
        assert_eq!(d.record().steps, [3, 4, 7]);
        // A dossier call never records steps.
        let d = decide(
            &UPDATE,
            &CallResult::Failed {
                failure: &f,
                accepted_steps: 2,
            },
            3,
            &p,
            0,
        );
        assert!(d.record().is_empty());
    }

    #[test]
    fn reasons_keep_the_code_but_not_the_message() {
        let mut f = failure(Fault::Partner, false, true);
        f.error_code = Some("3".into());
        let d = decide(
            &UPDATE,
            &CallResult::Failed {
                failure: &f,
                accepted_steps: 0,
            },
            1,
            &RetryPolicy::default(),
            0,
        );
        let Decision::Park { reason, .. } = d else {
            panic!("expected park: {d:?}")
        };
        assert_eq!(reason.partner_code.as_deref(), Some("3"));
        assert!(!reason.message.contains("Nguyễn"), "{}", reason.message);
    }

    #[test]
    fn back_off_grows_and_is_capped() {
        let p = RetryPolicy::default();
        let secs = |n: u32| p.ceiling(n).as_secs();
        assert_eq!(
            (1..=12).map(secs).collect::<Vec<_>>(),
            [5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600]
        );
        assert_eq!(p.ceiling(0), p.ceiling(1));
        assert_eq!(p.ceiling(u32::MAX), p.max_delay);
        for attempt in [0, 1, 2, 5, 11, 40, u32::MAX] {
            for seed in 0..200 {
                let d = p.delay(attempt, seed, None);
                let c = p.ceiling(attempt);
                assert!(d >= c / 2 && d <= c, "attempt {attempt} seed {seed}: {d:?}");
            }
        }
    }

    #[test]
    fn extreme_policies_do_not_overflow() {
        let p = RetryPolicy {
            base: Duration::from_secs(u64::MAX / 4),
            max_delay: Duration::MAX,
            max_retry_after: Duration::MAX,
        };
        for seed in [0, 1, u64::MAX] {
            let d = p.delay(u32::MAX, seed, Some(Duration::MAX));
            assert_eq!(d, Duration::MAX);
            let d = p.delay(200, seed, None);
            assert!(d <= p.ceiling(200) && d >= p.ceiling(200) / 2);
        }
    }

    #[test]
    fn jitter_is_seeded() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(4, 99, None), p.delay(4, 99, None));
        let distinct: std::collections::BTreeSet<Duration> =
            (0..50).map(|seed| p.delay(4, seed, None)).collect();
        assert!(distinct.len() > 40, "{}", distinct.len());
    }

    #[test]
    fn retry_after_is_honoured_up_to_its_cap() {
        let p = RetryPolicy::default();
        let asked = Duration::from_secs(900);
        assert_eq!(p.delay(1, 0, Some(asked)), asked);
        // A shorter request does not shorten the back-off.
        let d = p.delay(8, 0, Some(Duration::from_secs(1)));
        assert!(d >= p.ceiling(8) / 2);
        // Beyond the back-off cap, up to its own cap.
        assert_eq!(
            p.delay(1, 0, Some(Duration::from_secs(4 * 3600))),
            Duration::from_secs(4 * 3600)
        );
        assert_eq!(
            p.delay(1, 0, Some(Duration::from_secs(7 * 86400))),
            p.max_retry_after
        );
        let mut f = failure(Fault::Partner, true, false);
        f.retry_after = Some(asked);
        let d = decide(
            &UPDATE,
            &CallResult::Failed {
                failure: &f,
                accepted_steps: 0,
            },
            1,
            &p,
            0,
        );
        assert!(matches!(d, Decision::RetryAfter { delay, .. } if delay == asked));
    }

    #[test]
    fn policy_validation() {
        assert!(RetryPolicy::default().validate().is_ok());
        let zero = RetryPolicy {
            base: Duration::ZERO,
            ..RetryPolicy::default()
        };
        assert!(zero.validate().is_err());
        let inverted = RetryPolicy {
            base: Duration::from_secs(10),
            max_delay: Duration::from_secs(1),
            ..RetryPolicy::default()
        };
        let e = inverted.validate().expect_err("inverted");
        assert!(e.to_string().contains("retry.max_delay"), "{e}");
    }
}
