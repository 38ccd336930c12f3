//! Seeded fault injection shared by the simulators.
//!
//! Every call to a simulated endpoint (never to `/admin`) asks the [`FaultEngine`] for a
//! [`Decision`], in this order:
//!
//! 1. a **down window** is open → HTTP 503 at once (`Retry-After` = seconds left);
//! 2. more than `rate_limit_per_sec` calls were admitted in the last second → HTTP 429
//!    at once (`Retry-After: 1`);
//! 3. a pending **next-failure** rule matches the service → that failure (count
//!    decremented);
//! 4. the **random** faults, drawn from the seeded generator: five numbers per call,
//!    always, so the same seed and the same calls give the same sequence of outcomes —
//!    reset (`reset_rate`), HTTP status (`http_status_rate`, one of `http_statuses`),
//!    injected error code (`error_rate`), hang (`hang_rate`: processed, answered after
//!    `hang_ms`), else a normal answer.
//!
//! `latency_ms` delays every answer except those of steps 1 and 2.

use crate::rng::Rng;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};
use thiserror::Error;

/// At most this many outcomes are kept in [`FaultReport::sequence`].
const SEQUENCE_LIMIT: usize = 10_000;

/// Random and scheduled faults (`POST /admin/faults`). Every member is optional in JSON;
/// the defaults inject nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultSettings {
    /// Seed of the fault generator; setting the faults restarts the sequence.
    pub seed: u64,
    /// Share of calls answered with the injected error code (HTTP 200), 0–1.
    pub error_rate: f64,
    /// Share of calls answered with an HTTP error status, 0–1.
    pub http_status_rate: f64,
    /// The statuses drawn from (uniformly); default 429, 500, 503. 429 and 503 carry
    /// `Retry-After: 1`.
    pub http_statuses: Vec<u16>,
    /// Added before every answer, in milliseconds.
    pub latency_ms: u64,
    /// Share of calls that are processed but answered only after `hang_ms`, 0–1.
    pub hang_rate: f64,
    /// Length of a hang in milliseconds (default 65 000: past a 60-second client timeout).
    pub hang_ms: u64,
    /// Share of calls whose connection is dropped without an answer, 0–1 (the call is
    /// not processed).
    pub reset_rate: f64,
    /// The endpoint answers 503 until this instant (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub down_until: Option<String>,
    /// The endpoint answers 503 for this many milliseconds from now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub down_for_ms: Option<u64>,
    /// More calls than this in one second are answered 429.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_per_sec: Option<u32>,
}

impl Default for FaultSettings {
    fn default() -> Self {
        FaultSettings {
            seed: 0,
            error_rate: 0.0,
            http_status_rate: 0.0,
            http_statuses: vec![429, 500, 503],
            latency_ms: 0,
            hang_rate: 0.0,
            hang_ms: 65_000,
            reset_rate: 0.0,
            down_until: None,
            down_for_ms: None,
            rate_limit_per_sec: None,
        }
    }
}

/// Fault settings or a rule that cannot be used.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum FaultError {
    /// A rate outside 0–1.
    #[error("{name} must be between 0 and 1, got {value}")]
    Rate {
        /// The setting.
        name: &'static str,
        /// Its value.
        value: f64,
    },
    /// An HTTP status outside 100–599.
    #[error("HTTP status {0} is not between 100 and 599")]
    Status(u16),
    /// `http_status_rate` without statuses to draw from.
    #[error("http_status_rate is set but http_statuses is empty")]
    NoStatuses,
    /// `down_until` is not an RFC 3339 instant.
    #[error("down_until is not an RFC 3339 instant: {0}")]
    DownUntil(String),
    /// Both `down_until` and `down_for_ms`.
    #[error("give either down_until or down_for_ms, not both")]
    BothDown,
    /// `rate_limit_per_sec` of 0.
    #[error("rate_limit_per_sec must be at least 1")]
    ZeroRateLimit,
    /// A next-failure rule with a count of 0.
    #[error("count must be at least 1")]
    ZeroCount,
}

impl FaultSettings {
    /// Checks ranges and parses `down_until`.
    pub fn validate(&self) -> Result<(), FaultError> {
        for (name, value) in [
            ("error_rate", self.error_rate),
            ("http_status_rate", self.http_status_rate),
            ("hang_rate", self.hang_rate),
            ("reset_rate", self.reset_rate),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(FaultError::Rate { name, value });
            }
        }
        if let Some(s) = self
            .http_statuses
            .iter()
            .find(|s| !(100..=599).contains(*s))
        {
            return Err(FaultError::Status(*s));
        }
        if self.http_status_rate > 0.0 && self.http_statuses.is_empty() {
            return Err(FaultError::NoStatuses);
        }
        if self.down_until.is_some() && self.down_for_ms.is_some() {
            return Err(FaultError::BothDown);
        }
        self.down_until()?;
        if self.rate_limit_per_sec == Some(0) {
            return Err(FaultError::ZeroRateLimit);
        }
        Ok(())
    }

    fn down_until(&self) -> Result<Option<Timestamp>, FaultError> {
        match &self.down_until {
            None => Ok(None),
            Some(s) => s
                .trim()
                .parse::<Timestamp>()
                .map(Some)
                .map_err(|_| FaultError::DownUntil(s.clone())),
        }
    }
}

/// A scheduled failure (`POST /admin/next-failures`): the next `count` calls of `service`
/// (`"*"`: any) fail this way.
///
/// * `reset` → the connection is dropped without an answer;
/// * `http_status` alone → that HTTP status with a short text body;
/// * `error_code` and/or `message` → a JSON answer with them (the injected code and
///   message by default), HTTP `http_status` or 200;
/// * `delay_ms` alone → the call is processed normally and answered after the delay
///   (a timeout on the client's side); with any of the above → the failure is answered
///   after the delay;
/// * nothing but `service`/`count` → the injected error code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NextFailure {
    /// Service name, `"auth"` for the authentication endpoint, `"*"` for any call.
    pub service: String,
    /// How many calls (default 1); the remaining count is shown by
    /// `GET /admin/next-failures`.
    pub count: u32,
    /// The `error_code` to answer (free text; rendered as a number when the response
    /// style asks for numbers and it is one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The HTTP status to answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// The `message` to answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Delay before the answer, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// Drop the connection.
    pub reset: bool,
}

impl Default for NextFailure {
    fn default() -> Self {
        NextFailure {
            service: "*".to_owned(),
            count: 1,
            error_code: None,
            http_status: None,
            message: None,
            delay_ms: None,
            reset: false,
        }
    }
}

impl NextFailure {
    /// Checks the count and the status.
    pub fn validate(&self) -> Result<(), FaultError> {
        if self.count == 0 {
            return Err(FaultError::ZeroCount);
        }
        match self.http_status {
            Some(s) if !(100..=599).contains(&s) => Err(FaultError::Status(s)),
            _ => Ok(()),
        }
    }

    fn matches(&self, service: &str) -> bool {
        let s = self.service.trim();
        s == "*" || s == service
    }

    fn decision(&self, latency: Duration) -> Decision {
        let delay = Duration::from_millis(self.delay_ms.unwrap_or(0));
        let failure = if self.reset {
            Failure::Reset
        } else if self.error_code.is_none() && self.message.is_none() {
            match self.http_status {
                Some(status) => Failure::Http { status },
                None if self.delay_ms.is_some() => {
                    return Decision::Proceed {
                        before: latency,
                        after: delay,
                        label: "delayed",
                    };
                }
                None => Failure::Answer {
                    status: 200,
                    code: None,
                    message: None,
                },
            }
        } else {
            Failure::Answer {
                status: self.http_status.unwrap_or(200),
                code: self.error_code.clone(),
                message: self.message.clone(),
            }
        };
        Decision::Fail {
            delay: latency + delay,
            failure,
        }
    }
}

/// How a failing call is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Drop the connection without an answer.
    Reset,
    /// An HTTP error status with a short text body.
    Http {
        /// The status.
        status: u16,
    },
    /// A JSON error answer; `None` members take the simulator's injected code / message.
    Answer {
        /// The HTTP status (200 unless a rule says otherwise).
        status: u16,
        /// `error_code`.
        code: Option<String>,
        /// `message`.
        message: Option<String>,
    },
}

/// What to do with a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The endpoint is down: HTTP 503 now.
    Down {
        /// Seconds until the window closes (at least 1).
        retry_after_secs: u64,
    },
    /// Over the rate limit: HTTP 429 now.
    RateLimited,
    /// Fail after `delay`; the call is not processed.
    Fail {
        /// Wait this long first.
        delay: Duration,
        /// How to fail.
        failure: Failure,
    },
    /// Process the call: wait `before`, process, wait `after`, answer.
    Proceed {
        /// Latency before processing.
        before: Duration,
        /// Hang or delay after processing.
        after: Duration,
        /// `"pass"`, `"hang"` or `"delayed"`, for the outcome sequence.
        label: &'static str,
    },
}

impl Decision {
    /// A short label of the outcome: `pass`, `hang`, `delayed`, `down`, `rate_limited`,
    /// `reset`, `http_<status>`, `error`.
    pub fn label(&self) -> String {
        match self {
            Decision::Down { .. } => "down".to_owned(),
            Decision::RateLimited => "rate_limited".to_owned(),
            Decision::Fail { failure, .. } => match failure {
                Failure::Reset => "reset".to_owned(),
                Failure::Http { status } => format!("http_{status}"),
                Failure::Answer { .. } => "error".to_owned(),
            },
            Decision::Proceed { label, .. } => (*label).to_owned(),
        }
    }
}

/// The fault engine's state for inspection (`GET /admin/faults`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultReport {
    /// The settings in force.
    pub settings: FaultSettings,
    /// End of the down window, if one is open.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub down_until: Option<Timestamp>,
    /// Pending next-failure rules with their remaining counts.
    pub next_failures: Vec<NextFailure>,
    /// Outcomes counted by label since the settings were last set.
    pub counts: BTreeMap<String, u64>,
    /// The outcome of every call since the settings were last set, oldest first (at most
    /// the last 10 000).
    pub sequence: Vec<String>,
}

/// Decides the fate of each call; see the module documentation.
#[derive(Debug, Clone)]
pub struct FaultEngine {
    settings: FaultSettings,
    rng: Rng,
    down_until: Option<Timestamp>,
    admitted: VecDeque<Instant>,
    next: Vec<NextFailure>,
    counts: BTreeMap<String, u64>,
    sequence: VecDeque<String>,
}

impl Default for FaultEngine {
    fn default() -> Self {
        FaultEngine {
            settings: FaultSettings::default(),
            rng: Rng::new(0),
            down_until: None,
            admitted: VecDeque::new(),
            next: Vec::new(),
            counts: BTreeMap::new(),
            sequence: VecDeque::new(),
        }
    }
}

impl FaultEngine {
    /// An engine with `settings` in force.
    pub fn new(settings: FaultSettings) -> Result<Self, FaultError> {
        let mut e = FaultEngine::default();
        e.set(settings)?;
        Ok(e)
    }

    /// Replaces the settings: restarts the generator from the seed, opens the down window
    /// if one is given, clears the counts and the sequence (pending next-failure rules
    /// stay).
    pub fn set(&mut self, settings: FaultSettings) -> Result<(), FaultError> {
        settings.validate()?;
        self.down_until = match (settings.down_until()?, settings.down_for_ms) {
            (Some(t), _) => Some(t),
            (None, Some(ms)) => Some(
                Timestamp::now()
                    + SignedDuration::from_millis(i64::try_from(ms).unwrap_or(i64::MAX)),
            ),
            (None, None) => None,
        };
        self.rng = Rng::new(settings.seed);
        self.settings = settings;
        self.admitted.clear();
        self.counts.clear();
        self.sequence.clear();
        Ok(())
    }

    /// The settings in force.
    pub fn settings(&self) -> &FaultSettings {
        &self.settings
    }

    /// Queues a next-failure rule (after the pending ones).
    pub fn push_next(&mut self, rule: NextFailure) -> Result<(), FaultError> {
        rule.validate()?;
        self.next.push(rule);
        Ok(())
    }

    /// Pending next-failure rules with their remaining counts.
    pub fn next_failures(&self) -> &[NextFailure] {
        &self.next
    }

    /// Drops every pending next-failure rule.
    pub fn clear_next(&mut self) {
        self.next.clear();
    }

    /// The state for inspection.
    pub fn report(&self) -> FaultReport {
        FaultReport {
            settings: self.settings.clone(),
            down_until: self.down_until.filter(|t| *t > Timestamp::now()),
            next_failures: self.next.clone(),
            counts: self.counts.clone(),
            sequence: self.sequence.iter().cloned().collect(),
        }
    }

    /// Decides the fate of one call of `service`.
    pub fn decide(&mut self, service: &str) -> Decision {
        let d = self.decide_inner(service);
        let label = d.label();
        *self.counts.entry(label.clone()).or_insert(0) += 1;
        if self.sequence.len() == SEQUENCE_LIMIT {
            self.sequence.pop_front();
        }
        self.sequence.push_back(label);
        d
    }

    fn decide_inner(&mut self, service: &str) -> Decision {
        if let Some(until) = self.down_until {
            let now = Timestamp::now();
            if now < until {
                let left = until.duration_since(now).as_secs_f64().ceil();
                return Decision::Down {
                    retry_after_secs: (left as u64).max(1),
                };
            }
            self.down_until = None;
        }
        if let Some(limit) = self.settings.rate_limit_per_sec {
            let now = Instant::now();
            while self
                .admitted
                .front()
                .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
            {
                self.admitted.pop_front();
            }
            if self.admitted.len() >= limit as usize {
                return Decision::RateLimited;
            }
            self.admitted.push_back(now);
        }
        let latency = Duration::from_millis(self.settings.latency_ms);
        if let Some(i) = self.next.iter().position(|r| r.matches(service)) {
            let decision = self.next[i].decision(latency);
            self.next[i].count -= 1;
            if self.next[i].count == 0 {
                self.next.remove(i);
            }
            return decision;
        }
        // Always five draws, so the sequence depends on the seed and the call count only.
        let reset = self.rng.next_f64();
        let status = self.rng.next_f64();
        let pick = self.rng.next_f64();
        let error = self.rng.next_f64();
        let hang = self.rng.next_f64();
        let s = &self.settings;
        if reset < s.reset_rate {
            Decision::Fail {
                delay: latency,
                failure: Failure::Reset,
            }
        } else if status < s.http_status_rate && !s.http_statuses.is_empty() {
            let n = s.http_statuses.len();
            let i = ((pick * n as f64) as usize).min(n - 1);
            Decision::Fail {
                delay: latency,
                failure: Failure::Http {
                    status: s.http_statuses[i],
                },
            }
        } else if error < s.error_rate {
            Decision::Fail {
                delay: latency,
                failure: Failure::Answer {
                    status: 200,
                    code: None,
                    message: None,
                },
            }
        } else if hang < s.hang_rate {
            Decision::Proceed {
                before: latency,
                after: Duration::from_millis(s.hang_ms),
                label: "hang",
            }
        } else {
            Decision::Proceed {
                before: latency,
                after: Duration::ZERO,
                label: "pass",
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(e: &mut FaultEngine, n: usize) -> Vec<String> {
        (0..n).map(|_| e.decide("DongBoHoSoMC").label()).collect()
    }

    #[test]
    fn nothing_by_default() {
        let mut e = FaultEngine::default();
        assert!(labels(&mut e, 50).iter().all(|l| l == "pass"));
    }

    #[test]
    fn same_seed_same_sequence() {
        let s = FaultSettings {
            seed: 42,
            error_rate: 0.2,
            http_status_rate: 0.2,
            reset_rate: 0.1,
            hang_rate: 0.1,
            hang_ms: 1,
            ..FaultSettings::default()
        };
        let mut a = FaultEngine::new(s.clone()).expect("valid");
        let mut b = FaultEngine::new(s.clone()).expect("valid");
        let la = labels(&mut a, 200);
        assert_eq!(la, labels(&mut b, 200));
        for kind in ["pass", "error", "reset", "hang"] {
            assert!(la.iter().any(|l| l == kind), "{kind} never drawn");
        }
        assert!(la.iter().any(|l| l.starts_with("http_")));
        a.set(s).expect("valid");
        assert_eq!(la, labels(&mut a, 200));
        let mut c = FaultEngine::new(FaultSettings {
            seed: 43,
            ..a.settings().clone()
        })
        .expect("valid");
        assert_ne!(la, labels(&mut c, 200));
    }

    #[test]
    fn rates_of_one_always_fire() {
        let mut e = FaultEngine::new(FaultSettings {
            error_rate: 1.0,
            ..FaultSettings::default()
        })
        .expect("valid");
        assert!(labels(&mut e, 20).iter().all(|l| l == "error"));
    }

    #[test]
    fn next_failures_are_consumed_in_order() {
        let mut e = FaultEngine::default();
        e.push_next(NextFailure {
            service: "CapNhatTienDoHoSoMC".into(),
            count: 2,
            http_status: Some(500),
            ..NextFailure::default()
        })
        .expect("valid");
        assert_eq!(e.decide("DongBoHoSoMC").label(), "pass");
        assert_eq!(e.decide("CapNhatTienDoHoSoMC").label(), "http_500");
        assert_eq!(e.next_failures()[0].count, 1);
        assert_eq!(e.decide("CapNhatTienDoHoSoMC").label(), "http_500");
        assert!(e.next_failures().is_empty());
        assert_eq!(e.decide("CapNhatTienDoHoSoMC").label(), "pass");
        e.push_next(NextFailure {
            delay_ms: Some(5),
            ..NextFailure::default()
        })
        .expect("valid");
        assert_eq!(e.decide("auth").label(), "delayed");
        e.push_next(NextFailure::default()).expect("valid");
        assert_eq!(e.decide("auth").label(), "error");
        assert_eq!(
            e.push_next(NextFailure {
                count: 0,
                ..NextFailure::default()
            }),
            Err(FaultError::ZeroCount)
        );
    }

    #[test]
    fn down_window_and_rate_limit() {
        let mut e = FaultEngine::new(FaultSettings {
            down_for_ms: Some(60_000),
            ..FaultSettings::default()
        })
        .expect("valid");
        match e.decide("x") {
            Decision::Down { retry_after_secs } => assert!((59..=60).contains(&retry_after_secs)),
            d => panic!("{d:?}"),
        }
        e.set(FaultSettings {
            down_until: Some("2000-01-01T00:00:00Z".into()),
            rate_limit_per_sec: Some(2),
            ..FaultSettings::default()
        })
        .expect("valid");
        assert_eq!(labels(&mut e, 3), ["pass", "pass", "rate_limited"]);
    }

    #[test]
    fn invalid_settings() {
        let bad = |s: FaultSettings| s.validate().expect_err("invalid");
        assert!(matches!(
            bad(FaultSettings {
                error_rate: 1.5,
                ..FaultSettings::default()
            }),
            FaultError::Rate {
                name: "error_rate",
                ..
            }
        ));
        assert_eq!(
            bad(FaultSettings {
                http_statuses: vec![42],
                ..FaultSettings::default()
            }),
            FaultError::Status(42)
        );
        assert!(matches!(
            bad(FaultSettings {
                down_until: Some("tomorrow".into()),
                ..FaultSettings::default()
            }),
            FaultError::DownUntil(_)
        ));
        assert_eq!(
            bad(FaultSettings {
                rate_limit_per_sec: Some(0),
                ..FaultSettings::default()
            }),
            FaultError::ZeroRateLimit
        );
    }
}
