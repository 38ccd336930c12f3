//! Property tests of the circuit breaker over arbitrary sequences of calls and results.

use std::time::Duration;

use jiff::Timestamp;
use lienthong_workflow::{BreakerConfig, BreakerState, CircuitBreaker, Health, Permit};
use proptest::prelude::*;

#[derive(Debug, Clone, Copy)]
enum Event {
    /// `allow`, after this many seconds.
    Allow(u64),
    /// `record`, after this many seconds.
    Record(u64, Health),
}

fn events() -> impl Strategy<Value = Vec<Event>> {
    let health = prop_oneof![
        1 => Just(Health::Success),
        3 => Just(Health::Failure),
        1 => Just(Health::Neutral)
    ];
    let event = prop_oneof![
        (0u64..40).prop_map(Event::Allow),
        ((0u64..40), health).prop_map(|(dt, h)| Event::Record(dt, h)),
    ];
    proptest::collection::vec(event, 0..200)
}

fn config() -> impl Strategy<Value = BreakerConfig> {
    (1u32..6, 1u64..120, 1u64..60, 1u64..200).prop_map(|(n, w, c, p)| BreakerConfig {
        failure_threshold: n,
        window: Duration::from_secs(w),
        cool_down: Duration::from_secs(c),
        probe_timeout: Duration::from_secs(p),
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn breaker_invariants(config in config(), events in events()) {
        let mut b = CircuitBreaker::new(config);
        let mut now = Timestamp::from_second(1_750_000_000).expect("time");
        for event in events {
            let before = b.state();
            match event {
                Event::Allow(dt) => {
                    now = now.saturating_add(Duration::from_secs(dt)).expect("time");
                    let permit = b.allow(now);
                    match (before, permit) {
                        // Closed always allows.
                        (BreakerState::Closed { .. }, p) => prop_assert_eq!(p, Permit::Allow),
                        // Open denies until the cool-down ends, then lets a probe through.
                        (BreakerState::Open { until }, Permit::Deny { retry_at }) => {
                            prop_assert!(now < until && retry_at == until);
                        }
                        (BreakerState::Open { until }, Permit::Allow) => prop_assert!(now >= until),
                        // One probe at a time, unless it was lost (timed out).
                        (BreakerState::HalfOpen { probe_since: Some(t) }, Permit::Allow) => {
                            prop_assert!(now >= t.saturating_add(config.probe_timeout).expect("time"));
                        }
                        (BreakerState::HalfOpen { probe_since: None }, p) => {
                            prop_assert_eq!(p, Permit::Allow);
                        }
                        (BreakerState::HalfOpen { .. }, Permit::Deny { .. }) => {}
                    }
                    if let Permit::Deny { retry_at } = permit {
                        prop_assert!(retry_at > now, "deny in the past");
                        prop_assert_eq!(b.state(), before, "a denial changes nothing");
                    }
                    if permit == Permit::Allow && !matches!(before, BreakerState::Closed { .. }) {
                        prop_assert_eq!(b.state(), BreakerState::HalfOpen { probe_since: Some(now) });
                    }
                }
                Event::Record(dt, health) => {
                    now = now.saturating_add(Duration::from_secs(dt)).expect("time");
                    b.record(now, health);
                    let after = b.state();
                    match (before, health, after) {
                        (BreakerState::Open { .. }, _, a) => prop_assert_eq!(a, before),
                        (_, Health::Success, a) => {
                            prop_assert_eq!(a, BreakerState::Closed { failures: 0, since: None });
                        }
                        (BreakerState::Closed { .. }, Health::Neutral, a) => prop_assert_eq!(a, before),
                        (BreakerState::HalfOpen { .. }, Health::Neutral, a) => {
                            prop_assert_eq!(a, BreakerState::HalfOpen { probe_since: None });
                        }
                        (_, Health::Failure, BreakerState::Open { until }) => {
                            prop_assert_eq!(until, now.saturating_add(config.cool_down).expect("time"));
                        }
                        (BreakerState::HalfOpen { .. }, Health::Failure, a) => {
                            prop_assert!(false, "a failed probe must open the breaker, got {:?}", a);
                        }
                        (BreakerState::Closed { failures, .. }, Health::Failure, BreakerState::Closed { failures: f, since }) => {
                            prop_assert!(f >= 1 && f < config.failure_threshold);
                            let BreakerState::Closed { since: first, .. } = before else {
                                unreachable!()
                            };
                            let within = first.is_some_and(|t| {
                                now < t.saturating_add(config.window).expect("time")
                            });
                            // A run continues within the window, and starts again after it.
                            prop_assert_eq!(f, if within { failures + 1 } else { 1 });
                            prop_assert!(since.is_some_and(|s| s <= now));
                        }
                        (b4, h, a) => prop_assert!(false, "unexpected {:?} --{:?}--> {:?}", b4, h, a),
                    }
                }
            }
        }
    }
}
