//! Property tests of sync planning over arbitrary journal states, and of the whole loop
//! (plan → call → decide → record) against a model of the portal.

use std::time::Duration;

use lienthong_model::{Fault, PartnerFailure};
use lienthong_workflow::outcome::acknowledged;
use lienthong_workflow::{
    Call, CallResult, Decision, DossierMode, DossierSync, MAX_STEPS_PER_CALL, RetryPolicy,
    StepSync, decide, plan,
};
use proptest::prelude::*;

fn state() -> impl Strategy<Value = DossierSync> {
    (
        proptest::option::of(0u64..20),
        proptest::option::of(0u64..20),
        any::<bool>(),
        proptest::collection::vec((0u64..60, any::<bool>()), 0..45),
    )
        .prop_map(
            |(desired_version, acked_version, portal_knows, steps)| DossierSync {
                code: "000.00.12.H41-250314-0007".into(),
                desired_version,
                acked_version,
                portal_knows,
                steps: steps
                    .into_iter()
                    .map(|(step_seq, acked)| StepSync { step_seq, acked })
                    .collect(),
            },
        )
}

fn progress_steps(calls: &[Call]) -> Vec<u64> {
    calls
        .iter()
        .flat_map(|c| match c {
            Call::Progress { steps } => steps.clone(),
            Call::Dossier { .. } | Call::StatusReport { .. } => Vec::new(),
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Executing a plan call by call, each acknowledged: a version only when it is newer
    /// than the acknowledged one, insert exactly when the portal does not know the dossier,
    /// steps only once it does, ascending across the plan, at most ten per call, every
    /// unacknowledged step once; afterwards nothing is left to plan.
    #[test]
    fn a_plan_executes_in_order(mut s in state()) {
        let p = plan(&s);
        let due = s.steps_due();
        let mut last_step: Option<u64> = None;
        for (i, call) in p.calls.iter().enumerate() {
            match call {
                Call::Dossier { version, mode } => {
                    prop_assert_eq!(i, 0, "the dossier call comes first");
                    prop_assert_eq!(Some(*version), s.desired_version);
                    prop_assert!(s.acked_version.is_none_or(|a| a < *version), "stale version sent");
                    prop_assert_eq!(*mode == DossierMode::Insert, !s.portal_knows_dossier());
                }
                Call::Progress { steps } => {
                    prop_assert!(s.portal_knows_dossier(), "steps before the portal knows the dossier");
                    prop_assert!(!steps.is_empty() && steps.len() <= MAX_STEPS_PER_CALL);
                    for &seq in steps {
                        prop_assert!(last_step.is_none_or(|l| l < seq), "steps out of order");
                        last_step = Some(seq);
                    }
                }
                Call::StatusReport { .. } => prop_assert!(false, "a sync plan reports no status"),
            }
            s.apply(&acknowledged(call));
        }
        let sent = progress_steps(&p.calls);
        if p.waiting.is_none() {
            prop_assert_eq!(sent, due);
        } else {
            prop_assert!(p.calls.is_empty() && sent.is_empty());
        }
        let again = plan(&s);
        prop_assert!(again.is_empty(), "left after executing the plan: {:?}", again);
        prop_assert_eq!(again.waiting, p.waiting);
    }

    /// After the first k calls of a plan are acknowledged, planning again gives exactly the
    /// rest of the plan: nothing new, nothing repeated.
    #[test]
    fn replanning_after_a_prefix_gives_the_rest(s in state(), k in 0usize..8) {
        let p = plan(&s);
        let k = k.min(p.calls.len());
        let mut s2 = s.clone();
        for call in &p.calls[..k] {
            s2.apply(&acknowledged(call));
        }
        prop_assert_eq!(&plan(&s2).calls[..], &p.calls[k..]);
    }

    /// A progress call partly accepted: the accepted steps are never planned again, the
    /// others keep their order.
    #[test]
    fn a_partly_accepted_chunk_leaves_the_rest(s in state(), n in 0usize..MAX_STEPS_PER_CALL) {
        let p = plan(&s);
        let Some(pos) = p.calls.iter().position(|c| matches!(c, Call::Progress { .. })) else {
            return Ok(());
        };
        let mut s2 = s.clone();
        for call in &p.calls[..pos] {
            s2.apply(&acknowledged(call));
        }
        let failure = network_failure();
        let d = decide(
            &p.calls[pos],
            &CallResult::Failed { failure: &failure, accepted_steps: n },
            1,
            &RetryPolicy::default(),
            0,
        );
        let is_retry = matches!(d, Decision::RetryAfter { .. });
        prop_assert!(is_retry);
        s2.apply(d.record());
        let before = progress_steps(&p.calls);
        let accepted = d.record().steps.clone();
        let expected: Vec<u64> = before.into_iter().filter(|x| !accepted.contains(x)).collect();
        prop_assert_eq!(progress_steps(&plan(&s2).calls), expected);
    }

    /// The duplicate signal on an insert: planning again sends the same version as an
    /// update, then the same steps.
    #[test]
    fn duplicate_on_insert_becomes_an_update(s in state()) {
        let p = plan(&s);
        let Some(Call::Dossier { version, mode: DossierMode::Insert }) = p.calls.first().cloned() else {
            return Ok(());
        };
        let d = decide(&p.calls[0], &CallResult::Duplicate, 1, &RetryPolicy::default(), 0);
        let is_replan = matches!(d, Decision::Ack { replan: true, .. });
        prop_assert!(is_replan);
        let mut s2 = s.clone();
        s2.apply(d.record());
        let again = plan(&s2);
        prop_assert_eq!(
            again.calls.first(),
            Some(&Call::Dossier { version, mode: DossierMode::Update })
        );
        prop_assert_eq!(&again.calls[1..], &p.calls[1..]);
    }

    /// Planning is a function of the state: the order of the step list does not matter.
    #[test]
    fn planning_ignores_the_order_of_steps(s in state()) {
        let mut reversed = s.clone();
        reversed.steps.reverse();
        prop_assert_eq!(plan(&s), plan(&reversed));
    }
}

fn network_failure() -> PartnerFailure {
    PartnerFailure {
        partner: "dvcqg",
        operation: "CapNhatTienDoHoSoMC",
        fault: Fault::Network,
        retryable: true,
        needs_review: false,
        error_code: None,
        message: None,
        retry_after: None,
        summary: "timeout".into(),
    }
}

/// What happens in the model run, one event at a time.
#[derive(Debug, Clone)]
enum Event {
    /// A one-stop-shop sends version `v` (the journal keeps the newest as desired).
    Version(u64),
    /// A one-stop-shop sends step `seq`.
    Step(u64),
    /// The worker runs the next call of the plan; how it ends.
    Run(Ending),
}

#[derive(Debug, Clone, Copy)]
enum Ending {
    /// The portal applies it and the answer arrives.
    Ok,
    /// The portal never sees it (connection refused).
    Lost,
    /// The portal applies it, but the answer is lost (timeout): the gateway retries.
    Unanswered,
}

fn events() -> impl Strategy<Value = Vec<Event>> {
    let event = prop_oneof![
        1 => (1u64..12).prop_map(Event::Version),
        1 => (1u64..30).prop_map(Event::Step),
        3 => prop_oneof![
            3 => Just(Ending::Ok),
            1 => Just(Ending::Lost),
            1 => Just(Ending::Unanswered),
        ]
        .prop_map(Event::Run),
    ];
    proptest::collection::vec(event, 0..120)
}

/// The portal as the simulator behaves: an insert of a known dossier is a duplicate,
/// progress for an unknown dossier is refused.
#[derive(Debug, Default)]
struct Portal {
    knows: bool,
    versions: Vec<u64>,
    steps: Vec<u64>,
}

impl Portal {
    /// Applies a call; `None` is the duplicate signal.
    fn apply(&mut self, call: &Call) -> Result<Option<()>, TestCaseError> {
        match call {
            Call::Dossier {
                mode: DossierMode::Insert,
                ..
            } if self.knows => Ok(None),
            Call::Dossier { version, .. } => {
                self.knows = true;
                self.versions.push(*version);
                Ok(Some(()))
            }
            Call::Progress { steps } => {
                if !self.knows {
                    return Err(TestCaseError::fail(
                        "progress for a dossier the portal does not know",
                    ));
                }
                self.steps.extend(steps);
                Ok(Some(()))
            }
            Call::StatusReport { .. } => Err(TestCaseError::fail("not a sync call")),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// The whole loop against the portal model, with versions and steps arriving in any
    /// order and calls lost or unanswered: the portal never sees an older version after a
    /// newer one, never a step before it knows the dossier; once everything is answered,
    /// it holds the newest version and every step, and nothing is left to plan.
    #[test]
    fn the_loop_converges(events in events()) {
        let mut journal = DossierSync { code: "D".into(), ..DossierSync::default() };
        let mut portal = Portal::default();
        let policy = RetryPolicy::default();
        for event in events {
            match event {
                Event::Version(v) => {
                    if journal.desired_version.is_none_or(|d| d < v) {
                        journal.desired_version = Some(v);
                    }
                }
                Event::Step(seq) => {
                    if !journal.steps.iter().any(|s| s.step_seq == seq) {
                        journal.steps.push(StepSync { step_seq: seq, acked: false });
                    }
                }
                Event::Run(ending) => {
                    let Some(call) = plan(&journal).calls.first().cloned() else { continue };
                    run(&mut journal, &mut portal, &call, ending, &policy)?;
                }
            }
        }
        // Drain: every call answered.
        for _ in 0..100 {
            let Some(call) = plan(&journal).calls.first().cloned() else { break };
            run(&mut journal, &mut portal, &call, Ending::Ok, &policy)?;
        }
        prop_assert!(plan(&journal).is_empty());
        prop_assert!(portal.versions.windows(2).all(|w| w[0] <= w[1]), "{:?}", portal.versions);
        prop_assert_eq!(portal.versions.last().copied(), journal.desired_version);
        if journal.desired_version.is_some() {
            let mut on_portal = portal.steps.clone();
            on_portal.sort_unstable();
            on_portal.dedup();
            let mut recorded: Vec<u64> = journal.steps.iter().map(|s| s.step_seq).collect();
            recorded.sort_unstable();
            prop_assert_eq!(on_portal, recorded);
        } else {
            prop_assert!(portal.steps.is_empty());
        }
    }
}

fn run(
    journal: &mut DossierSync,
    portal: &mut Portal,
    call: &Call,
    ending: Ending,
    policy: &RetryPolicy,
) -> Result<(), TestCaseError> {
    let failure = network_failure();
    let result = match ending {
        Ending::Lost => CallResult::Failed {
            failure: &failure,
            accepted_steps: 0,
        },
        Ending::Ok | Ending::Unanswered => {
            let applied = portal.apply(call)?;
            match (ending, applied) {
                (Ending::Unanswered, _) => CallResult::Failed {
                    failure: &failure,
                    accepted_steps: 0,
                },
                (_, Some(())) => CallResult::Accepted,
                (_, None) => CallResult::Duplicate,
            }
        }
    };
    let d = decide(call, &result, 1, policy, 0);
    if let Decision::RetryAfter { delay, .. } = &d {
        prop_assert!(*delay <= Duration::from_secs(5));
    }
    let is_park = matches!(d, Decision::Park { .. });
    prop_assert!(!is_park, "nothing here needs a human: {:?}", d);
    journal.apply(d.record());
    Ok(())
}
