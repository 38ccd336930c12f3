//! A circuit breaker per partner, as a pure state machine with the time passed in: while a
//! partner is down, work items stop spending attempts (and the partner stops receiving
//! calls) until a single probe shows it is back.
//!
//! ```text
//!            failure_threshold consecutive failures within `window`
//!   Closed ─────────────────────────────────────────────────────────▶ Open { until }
//!     ▲                                                                │
//!     │ probe succeeds                       `allow` at or after until │
//!     │                                                                ▼
//!     └──────────────────────────── HalfOpen (one probe) ◀─────────────┘
//!                                        │ probe fails: Open again for `cool_down`
//! ```
//!
//! * **Closed**: every call is allowed. A [`Health::Failure`] counts; a run of failures
//!   older than `window` (measured from its first failure) starts again at one; a
//!   [`Health::Success`] resets the count; [`Health::Neutral`] changes nothing.
//! * **Open**: [`CircuitBreaker::allow`] denies until `until` (the reply says when to come
//!   back). Results recorded while open belong to calls started before it opened and are
//!   ignored.
//! * **HalfOpen**: the first `allow` is the probe; others are denied while it is in flight.
//!   Its success closes the breaker, its failure opens it again; a neutral result lets
//!   another probe through. A probe whose result never comes (the worker died) is given
//!   up after `probe_timeout`, and the next `allow` becomes the probe.
//!
//! Which results say something about the partner's health is decided by [`Health::of`].
//! One breaker per partner (`dvcqg`, `vdxp`), shared by that partner's workers behind a
//! lock; the service owns the clock.

use std::time::Duration;

use jiff::Timestamp;
use lienthong_model::{Fault, PartnerFailure};
use serde::Serialize;

use crate::ConfigError;
use crate::outcome::{CallResult, Decision, Reason};

/// The breaker's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct BreakerConfig {
    /// Consecutive failures that open the breaker (at least 1).
    pub failure_threshold: u32,
    /// The failures must fall within this time from the first of the run.
    pub window: Duration,
    /// How long the breaker stays open before a probe.
    pub cool_down: Duration,
    /// How long a probe may stay without a result before another is allowed.
    pub probe_timeout: Duration,
}

impl Default for BreakerConfig {
    /// 5 failures within 2 minutes open the breaker for 30 s; a probe is given up after
    /// 3 minutes (the DVCQG client's timeout is 60 s per request, and a call may be
    /// repeated once after a session refresh).
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 5,
            window: Duration::from_secs(120),
            cool_down: Duration::from_secs(30),
            probe_timeout: Duration::from_secs(180),
        }
    }
}

impl BreakerConfig {
    /// Checks the settings: a threshold of at least 1 and non-zero durations.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.failure_threshold == 0 {
            return Err(ConfigError::new(
                "breaker.failure_threshold",
                "at least 1",
                "0",
            ));
        }
        for (field, d) in [
            ("breaker.window", self.window),
            ("breaker.cool_down", self.cool_down),
            ("breaker.probe_timeout", self.probe_timeout),
        ] {
            if d.is_zero() {
                return Err(ConfigError::new(field, "a positive duration", "0"));
            }
        }
        Ok(())
    }
}

/// What a call's result says about the partner's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// The partner answered deliberately (a success, the duplicate signal, a reply that
    /// needs review).
    Success,
    /// The partner or the path to it failed in a way a retry may fix: network faults
    /// (timeouts, refused or reset connections) and retryable partner faults (HTTP 5xx and
    /// 429, unreadable replies, ordinary failure replies).
    Failure,
    /// Says nothing about the partner: our own faults (configuration, requests it cannot
    /// accept) and calls never made.
    Neutral,
}

impl Health {
    /// The health a call's result shows.
    pub fn of(result: &CallResult<'_>) -> Health {
        match result {
            CallResult::Accepted | CallResult::Duplicate => Health::Success,
            CallResult::Failed { failure, .. } => Health::of_failure(failure),
            CallResult::Invalid { .. } => Health::Neutral,
        }
    }

    /// The health a failure shows.
    ///
    /// An ordinary failure reply counts as a failure although it may be a validation
    /// message about one dossier (the portal's codes do not tell them apart, `dvcqg.md`
    /// §5): one success of any other call resets the count, so only a run of
    /// `failure_threshold` failures in a row opens the breaker.
    pub fn of_failure(failure: &PartnerFailure) -> Health {
        match failure.fault {
            Fault::Network => Health::Failure,
            Fault::Partner if failure.needs_review => Health::Success,
            Fault::Partner if failure.retryable => Health::Failure,
            Fault::Partner => Health::Success,
            Fault::Us => Health::Neutral,
        }
    }
}

/// Where the breaker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum BreakerState {
    /// Calls go through.
    Closed {
        /// Consecutive failures so far.
        failures: u32,
        /// When the first of them happened.
        since: Option<Timestamp>,
    },
    /// Calls are denied until `until`.
    Open {
        /// When a probe may go.
        until: Timestamp,
    },
    /// One probe may go.
    HalfOpen {
        /// When the probe in flight was allowed (`None`: no probe in flight).
        probe_since: Option<Timestamp>,
    },
}

/// The answer of [`CircuitBreaker::allow`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case", tag = "permit")]
pub enum Permit {
    /// Make the call (and record its result).
    Allow,
    /// Do not call; come back at `retry_at`.
    Deny {
        /// When to try again.
        retry_at: Timestamp,
    },
}

/// A circuit breaker for one partner. See the [module documentation](self).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    state: BreakerState,
}

impl CircuitBreaker {
    /// A closed breaker.
    pub fn new(config: BreakerConfig) -> Self {
        CircuitBreaker {
            config,
            state: BreakerState::Closed {
                failures: 0,
                since: None,
            },
        }
    }

    /// Where it stands.
    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// Its settings.
    pub fn config(&self) -> &BreakerConfig {
        &self.config
    }

    /// Whether a call may go now. In half-open state an [`Permit::Allow`] makes this call
    /// the probe: its result must be [`record`](Self::record)ed.
    pub fn allow(&mut self, now: Timestamp) -> Permit {
        match self.state {
            BreakerState::Closed { .. } => Permit::Allow,
            BreakerState::Open { until } if now < until => Permit::Deny { retry_at: until },
            BreakerState::Open { .. } | BreakerState::HalfOpen { probe_since: None } => {
                self.state = BreakerState::HalfOpen {
                    probe_since: Some(now),
                };
                Permit::Allow
            }
            BreakerState::HalfOpen {
                probe_since: Some(since),
            } => {
                let expires = add(since, self.config.probe_timeout);
                if now < expires {
                    Permit::Deny { retry_at: expires }
                } else {
                    self.state = BreakerState::HalfOpen {
                        probe_since: Some(now),
                    };
                    Permit::Allow
                }
            }
        }
    }

    /// Records the health shown by a call's result.
    pub fn record(&mut self, now: Timestamp, health: Health) {
        self.state = match (self.state, health) {
            (BreakerState::Closed { .. }, Health::Success) => BreakerState::Closed {
                failures: 0,
                since: None,
            },
            (BreakerState::Closed { failures, since }, Health::Failure) => {
                let (failures, since) = match since {
                    Some(first) if now < add(first, self.config.window) => {
                        (failures.saturating_add(1), first)
                    }
                    _ => (1, now),
                };
                if failures >= self.config.failure_threshold {
                    self.open(now)
                } else {
                    BreakerState::Closed {
                        failures,
                        since: Some(since),
                    }
                }
            }
            (state @ BreakerState::Closed { .. }, Health::Neutral) => state,
            (state @ BreakerState::Open { .. }, _) => state,
            (BreakerState::HalfOpen { .. }, Health::Success) => BreakerState::Closed {
                failures: 0,
                since: None,
            },
            (BreakerState::HalfOpen { .. }, Health::Failure) => self.open(now),
            (BreakerState::HalfOpen { .. }, Health::Neutral) => {
                BreakerState::HalfOpen { probe_since: None }
            }
        };
    }

    fn open(&self, now: Timestamp) -> BreakerState {
        BreakerState::Open {
            until: add(now, self.config.cool_down),
        }
    }
}

/// `t + d`, saturating at the end of time.
fn add(t: Timestamp, d: Duration) -> Timestamp {
    t.saturating_add(d).unwrap_or(Timestamp::MAX)
}

/// The decision for a work item whose partner's breaker said [`Permit::Deny`]: come back
/// at `retry_at`, nothing recorded, no attempt counted (the item was not tried).
pub fn deferred(partner: &str, retry_at: Timestamp, now: Timestamp) -> Decision {
    let (delay, reason) = deferral(partner, retry_at, now);
    Decision::Postpone { delay, reason }
}

/// How long a work item held back by `partner`'s open breaker waits (until `retry_at`), and
/// why: the parts of [`deferred`], for a route that settles without a [`Decision`].
pub fn deferral(partner: &str, retry_at: Timestamp, now: Timestamp) -> (Duration, Reason) {
    let delay = Duration::try_from(now.duration_until(retry_at)).unwrap_or(Duration::ZERO);
    (
        delay,
        Reason::new(format!("{partner}: circuit open, partner presumed down")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(1_750_000_000 + secs).expect("time")
    }

    fn breaker() -> CircuitBreaker {
        CircuitBreaker::new(BreakerConfig {
            failure_threshold: 3,
            window: Duration::from_secs(60),
            cool_down: Duration::from_secs(30),
            probe_timeout: Duration::from_secs(90),
        })
    }

    fn open_at(now: Timestamp) -> CircuitBreaker {
        let mut b = breaker();
        for _ in 0..3 {
            b.record(now, Health::Failure);
        }
        assert!(matches!(b.state(), BreakerState::Open { .. }));
        b
    }

    #[test]
    fn closed_allows_and_counts_failures() {
        let mut b = breaker();
        assert_eq!(b.allow(t(0)), Permit::Allow);
        b.record(t(0), Health::Failure);
        b.record(t(10), Health::Failure);
        assert_eq!(
            b.state(),
            BreakerState::Closed {
                failures: 2,
                since: Some(t(0))
            }
        );
        assert_eq!(b.allow(t(10)), Permit::Allow);
    }

    #[test]
    fn closed_to_open_after_the_threshold_within_the_window() {
        let mut b = breaker();
        b.record(t(0), Health::Failure);
        b.record(t(20), Health::Failure);
        b.record(t(59), Health::Failure);
        assert_eq!(b.state(), BreakerState::Open { until: t(89) });
    }

    #[test]
    fn failures_outside_the_window_start_a_new_run() {
        let mut b = breaker();
        b.record(t(0), Health::Failure);
        b.record(t(30), Health::Failure);
        b.record(t(60), Health::Failure);
        assert_eq!(
            b.state(),
            BreakerState::Closed {
                failures: 1,
                since: Some(t(60))
            }
        );
    }

    #[test]
    fn success_resets_and_neutral_changes_nothing() {
        let mut b = breaker();
        b.record(t(0), Health::Failure);
        b.record(t(1), Health::Failure);
        b.record(t(2), Health::Neutral);
        assert!(matches!(
            b.state(),
            BreakerState::Closed { failures: 2, .. }
        ));
        b.record(t(3), Health::Success);
        assert_eq!(
            b.state(),
            BreakerState::Closed {
                failures: 0,
                since: None
            }
        );
        b.record(t(4), Health::Failure);
        b.record(t(5), Health::Failure);
        assert!(matches!(
            b.state(),
            BreakerState::Closed { failures: 2, .. }
        ));
    }

    #[test]
    fn open_denies_until_the_cool_down_ends() {
        let mut b = open_at(t(0));
        assert_eq!(b.allow(t(1)), Permit::Deny { retry_at: t(30) });
        assert_eq!(b.allow(t(29)), Permit::Deny { retry_at: t(30) });
        // Late results of calls started before it opened are ignored.
        b.record(t(5), Health::Success);
        b.record(t(6), Health::Failure);
        assert_eq!(b.state(), BreakerState::Open { until: t(30) });
    }

    #[test]
    fn open_to_half_open_lets_one_probe_through() {
        let mut b = open_at(t(0));
        assert_eq!(b.allow(t(30)), Permit::Allow);
        assert_eq!(
            b.state(),
            BreakerState::HalfOpen {
                probe_since: Some(t(30))
            }
        );
        assert_eq!(b.allow(t(31)), Permit::Deny { retry_at: t(120) });
    }

    #[test]
    fn half_open_to_closed_on_success() {
        let mut b = open_at(t(0));
        assert_eq!(b.allow(t(40)), Permit::Allow);
        b.record(t(41), Health::Success);
        assert_eq!(
            b.state(),
            BreakerState::Closed {
                failures: 0,
                since: None
            }
        );
        assert_eq!(b.allow(t(41)), Permit::Allow);
    }

    #[test]
    fn half_open_to_open_on_failure() {
        let mut b = open_at(t(0));
        assert_eq!(b.allow(t(40)), Permit::Allow);
        b.record(t(45), Health::Failure);
        assert_eq!(b.state(), BreakerState::Open { until: t(75) });
        assert_eq!(b.allow(t(50)), Permit::Deny { retry_at: t(75) });
    }

    #[test]
    fn half_open_neutral_result_frees_the_probe() {
        let mut b = open_at(t(0));
        assert_eq!(b.allow(t(40)), Permit::Allow);
        b.record(t(41), Health::Neutral);
        assert_eq!(b.state(), BreakerState::HalfOpen { probe_since: None });
        assert_eq!(b.allow(t(42)), Permit::Allow);
        assert_eq!(b.allow(t(43)), Permit::Deny { retry_at: t(132) });
    }

    #[test]
    fn a_lost_probe_is_given_up_after_its_timeout() {
        let mut b = open_at(t(0));
        assert_eq!(b.allow(t(30)), Permit::Allow);
        assert_eq!(b.allow(t(119)), Permit::Deny { retry_at: t(120) });
        assert_eq!(b.allow(t(120)), Permit::Allow);
        assert_eq!(
            b.state(),
            BreakerState::HalfOpen {
                probe_since: Some(t(120))
            }
        );
    }

    #[test]
    fn threshold_of_one_opens_at_once() {
        let mut b = CircuitBreaker::new(BreakerConfig {
            failure_threshold: 1,
            ..BreakerConfig::default()
        });
        b.record(t(0), Health::Failure);
        assert!(matches!(b.state(), BreakerState::Open { .. }));
    }

    #[test]
    fn health_of_results() {
        let base = PartnerFailure {
            partner: "dvcqg",
            operation: "DongBoHoSoMC",
            fault: Fault::Network,
            retryable: true,
            needs_review: false,
            error_code: None,
            message: None,
            retry_after: None,
            summary: String::new(),
        };
        let with = |fault, retryable, needs_review| PartnerFailure {
            fault,
            retryable,
            needs_review,
            ..base.clone()
        };
        let cases = [
            (with(Fault::Network, true, false), Health::Failure),
            (with(Fault::Partner, true, false), Health::Failure),
            (with(Fault::Partner, false, true), Health::Success),
            (with(Fault::Partner, false, false), Health::Success),
            (with(Fault::Us, false, false), Health::Neutral),
        ];
        for (f, expected) in &cases {
            let r = CallResult::Failed {
                failure: f,
                accepted_steps: 0,
            };
            assert_eq!(Health::of(&r), *expected, "{f:?}");
        }
        assert_eq!(Health::of(&CallResult::Accepted), Health::Success);
        assert_eq!(Health::of(&CallResult::Duplicate), Health::Success);
        assert_eq!(
            Health::of(&CallResult::Invalid { summary: "x" }),
            Health::Neutral
        );
    }

    #[test]
    fn deferred_waits_until_the_breaker_reopens() {
        let d = deferred("dvcqg", t(30), t(10));
        assert!(
            matches!(&d, Decision::Postpone { delay, .. }
                if *delay == Duration::from_secs(20)),
            "{d:?}"
        );
        assert!(d.record().is_empty());
        let d = deferred("dvcqg", t(5), t(10));
        assert!(matches!(d, Decision::Postpone { delay, .. } if delay.is_zero()));
    }

    #[test]
    fn config_validation() {
        assert!(BreakerConfig::default().validate().is_ok());
        let bad = BreakerConfig {
            failure_threshold: 0,
            ..BreakerConfig::default()
        };
        assert!(bad.validate().is_err());
        let bad = BreakerConfig {
            cool_down: Duration::ZERO,
            ..BreakerConfig::default()
        };
        let e = bad.validate().expect_err("zero cool-down");
        assert!(e.to_string().contains("breaker.cool_down"), "{e}");
    }
}
