//! Sync planning: given what the journal holds for one dossier (the desired version, the
//! version the portal acknowledged, whether the portal knows the dossier, which progress
//! steps it acknowledged), what must be sent to the national portal, in which order.
//!
//! # Rules (`dvcqg.md` §6.1, §7)
//!
//! 1. **The version.** The desired version is sent when the portal has not acknowledged it
//!    (no acknowledged version, or an older one). A desired version at or below the
//!    acknowledged one is *stale* and never sent: the portal never sees an older version
//!    after a newer one. It is sent as an **insert** (`isUpdating` = `"False"`) while the
//!    portal does not know the dossier, as an **update** (`"True"`) once it does.
//! 2. **The steps.** Progress steps not acknowledged are sent in ascending `step_seq`, at
//!    most [`MAX_STEPS_PER_CALL`] per call, one dossier per call, and only once the portal
//!    knows the dossier: after the dossier call in the same plan, or — when the portal does
//!    not know the dossier and no version has been received — not at all
//!    ([`Waiting::NoVersion`]).
//! 3. **Order of execution.** The calls of a [`SyncPlan`] run one after the other, each only
//!    when every earlier one was acknowledged; when one fails, the rest of the plan is
//!    dropped and the dossier is planned again later from the journal's state. The plan is
//!    a function of that state only, so a bus message that arrives late, twice or out of
//!    order plans the same thing as the newest one.
//!
//! An acknowledged version implies that the portal knows the dossier, whatever
//! `portal_knows` says ([`DossierSync::portal_knows_dossier`]).

use lienthong_model::DossierStatus;
use serde::Serialize;

/// The most progress steps sent in one `CapNhatTienDoHoSoMC` call (`dvcqg.md` §7).
pub const MAX_STEPS_PER_CALL: usize = 10;

/// One progress step as the journal holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct StepSync {
    /// Position of the step, monotonic per dossier.
    pub step_seq: u64,
    /// Whether the portal acknowledged it.
    pub acked: bool,
}

/// The sync state of one dossier, as the journal holds it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DossierSync {
    /// Dossier code (mã hồ sơ).
    pub code: String,
    /// The latest version received (the desired state); `None` while only steps arrived.
    pub desired_version: Option<u64>,
    /// The latest version the portal acknowledged.
    pub acked_version: Option<u64>,
    /// Whether the portal knows the dossier (it accepted a version, or answered an insert
    /// with the duplicate signal).
    pub portal_knows: bool,
    /// The progress steps recorded, in any order (acknowledged ones may be left out).
    pub steps: Vec<StepSync>,
}

impl DossierSync {
    /// A dossier with a desired version, nothing acknowledged, no steps.
    pub fn new(code: impl Into<String>, desired_version: u64) -> Self {
        DossierSync {
            code: code.into(),
            desired_version: Some(desired_version),
            ..DossierSync::default()
        }
    }

    /// Whether the portal knows the dossier: `portal_knows`, or any acknowledged version.
    pub fn portal_knows_dossier(&self) -> bool {
        self.portal_knows || self.acked_version.is_some()
    }

    /// The version to send, if any: the desired one when it is newer than the acknowledged
    /// one.
    pub fn version_due(&self) -> Option<u64> {
        let desired = self.desired_version?;
        match self.acked_version {
            Some(acked) if acked >= desired => None,
            _ => Some(desired),
        }
    }

    /// The steps not acknowledged, ascending, each `step_seq` once (a step listed twice
    /// counts as acknowledged when either entry says so).
    pub fn steps_due(&self) -> Vec<u64> {
        let mut steps = self.steps.clone();
        // Acknowledged entries first within one step_seq, so the dedup keeps them.
        steps.sort_unstable_by_key(|s| (s.step_seq, !s.acked));
        steps.dedup_by_key(|s| s.step_seq);
        steps
            .into_iter()
            .filter(|s| !s.acked)
            .map(|s| s.step_seq)
            .collect()
    }

    /// Records what the portal acknowledged (what [`crate::outcome::decide`] says to
    /// record), the way the journal does: versions only move forward, an acknowledged
    /// version or the duplicate signal makes the portal know the dossier, steps are marked
    /// one by one (unknown `step_seq`s are ignored). A reported status is not part of this
    /// state (see [`crate::status::plan_report`]).
    pub fn apply(&mut self, record: &Record) {
        if let Some(v) = record.version {
            if self.acked_version.is_none_or(|a| a < v) {
                self.acked_version = Some(v);
            }
            self.portal_knows = true;
        }
        if record.portal_knows {
            self.portal_knows = true;
        }
        for step in &mut self.steps {
            if record.steps.contains(&step.step_seq) {
                step.acked = true;
            }
        }
    }
}

/// How a version goes to the portal (`isUpdating` of `DongBoHoSoMC`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DossierMode {
    /// The portal does not know the dossier: `isUpdating` = `"False"`.
    Insert,
    /// The portal knows it: `isUpdating` = `"True"`.
    Update,
}

/// One call to the portal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case", tag = "call")]
pub enum Call {
    /// `DongBoHoSoMC` with this version of the dossier.
    Dossier {
        /// The version to send.
        version: u64,
        /// Insert or update.
        mode: DossierMode,
    },
    /// `CapNhatTienDoHoSoMC` with these steps (1 to [`MAX_STEPS_PER_CALL`], ascending).
    Progress {
        /// The `step_seq`s, ascending.
        steps: Vec<u64>,
    },
    /// `DongBoTrangThaiHoSo` (`type` 2) for a dossier submitted on the portal, reporting
    /// this internal status (reduced by [`crate::status::reduce`]); planned by
    /// [`crate::status::plan_report`].
    StatusReport {
        /// The internal status reported.
        status: DossierStatus,
    },
}

/// Why a dossier has something pending that cannot be sent yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case", tag = "waiting")]
pub enum Waiting {
    /// Steps arrived, but no version of the dossier has been received and the portal does
    /// not know it: the steps wait for the first version.
    NoVersion {
        /// How many steps wait.
        steps: usize,
    },
}

/// What to send for one dossier, in execution order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncPlan {
    /// The calls; each runs only when every earlier one was acknowledged.
    pub calls: Vec<Call>,
    /// Something pending that cannot be sent yet.
    pub waiting: Option<Waiting>,
}

impl SyncPlan {
    /// Whether there is nothing to send now.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }
}

/// What the journal must record after a call: what the portal acknowledged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Record {
    /// A version the portal accepted (the dossier is known from now on).
    pub version: Option<u64>,
    /// The portal knows the dossier (set with `version`, and alone for the duplicate
    /// signal on an insert).
    pub portal_knows: bool,
    /// Steps the portal accepted.
    pub steps: Vec<u64>,
    /// The internal status whose report the portal accepted (portal submissions).
    pub status_reported: Option<DossierStatus>,
}

impl Record {
    /// Whether there is nothing to record.
    pub fn is_empty(&self) -> bool {
        self.version.is_none()
            && !self.portal_knows
            && self.steps.is_empty()
            && self.status_reported.is_none()
    }
}

/// Plans the calls that bring the portal to the journal's state (see the [module
/// documentation](self) for the rules).
pub fn plan(state: &DossierSync) -> SyncPlan {
    let mut calls = Vec::new();
    let version = state.version_due();
    let knows = state.portal_knows_dossier();
    if let Some(version) = version {
        calls.push(Call::Dossier {
            version,
            mode: if knows {
                DossierMode::Update
            } else {
                DossierMode::Insert
            },
        });
    }
    let steps = state.steps_due();
    // Known now, or known once the dossier call of this plan is acknowledged.
    if knows || version.is_some() {
        calls.extend(
            steps
                .chunks(MAX_STEPS_PER_CALL)
                .map(|chunk| Call::Progress {
                    steps: chunk.to_vec(),
                }),
        );
        SyncPlan {
            calls,
            waiting: None,
        }
    } else {
        SyncPlan {
            calls,
            waiting: (!steps.is_empty()).then_some(Waiting::NoVersion { steps: steps.len() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(seqs: &[(u64, bool)]) -> Vec<StepSync> {
        seqs.iter()
            .map(|&(step_seq, acked)| StepSync { step_seq, acked })
            .collect()
    }

    #[test]
    fn first_sync_inserts_then_sends_steps() {
        let mut s = DossierSync::new("D", 1);
        s.steps = steps(&[(2, false), (1, false)]);
        let p = plan(&s);
        assert_eq!(
            p.calls,
            [
                Call::Dossier {
                    version: 1,
                    mode: DossierMode::Insert
                },
                Call::Progress { steps: vec![1, 2] }
            ]
        );
        assert_eq!(p.waiting, None);
    }

    #[test]
    fn known_dossier_is_updated() {
        let s = DossierSync {
            acked_version: Some(1),
            ..DossierSync::new("D", 3)
        };
        assert_eq!(
            plan(&s).calls,
            [Call::Dossier {
                version: 3,
                mode: DossierMode::Update
            }]
        );
        let s = DossierSync {
            portal_knows: true,
            ..DossierSync::new("D", 1)
        };
        assert_eq!(
            plan(&s).calls,
            [Call::Dossier {
                version: 1,
                mode: DossierMode::Update
            }]
        );
    }

    #[test]
    fn stale_and_acknowledged_versions_are_not_sent() {
        for acked in [3, 4] {
            let s = DossierSync {
                acked_version: Some(acked),
                ..DossierSync::new("D", 3)
            };
            assert!(plan(&s).is_empty(), "acked {acked}");
        }
    }

    #[test]
    fn steps_wait_for_the_first_version() {
        let s = DossierSync {
            code: "D".into(),
            steps: steps(&[(1, false), (2, true), (3, false)]),
            ..DossierSync::default()
        };
        let p = plan(&s);
        assert!(p.is_empty());
        assert_eq!(p.waiting, Some(Waiting::NoVersion { steps: 2 }));
    }

    #[test]
    fn steps_of_a_known_dossier_go_without_a_version() {
        let s = DossierSync {
            code: "D".into(),
            portal_knows: true,
            steps: steps(&[(5, false)]),
            ..DossierSync::default()
        };
        assert_eq!(plan(&s).calls, [Call::Progress { steps: vec![5] }]);
    }

    #[test]
    fn steps_in_chunks_of_ten() {
        let s = DossierSync {
            acked_version: Some(1),
            steps: (1..=23)
                .rev()
                .map(|n| StepSync {
                    step_seq: n,
                    acked: n == 4,
                })
                .collect(),
            ..DossierSync::new("D", 1)
        };
        let p = plan(&s);
        let chunks: Vec<Vec<u64>> = p
            .calls
            .iter()
            .map(|c| match c {
                Call::Progress { steps } => steps.clone(),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks[0], [1, 2, 3, 5, 6, 7, 8, 9, 10, 11]);
        assert_eq!(chunks[1], [12, 13, 14, 15, 16, 17, 18, 19, 20, 21]);
        assert_eq!(chunks[2], [22, 23]);
    }

    #[test]
    fn a_step_listed_twice_counts_once() {
        let s = DossierSync {
            portal_knows: true,
            steps: steps(&[(1, false), (1, true), (2, false), (2, false)]),
            ..DossierSync::default()
        };
        assert_eq!(s.steps_due(), [2]);
    }

    #[test]
    fn apply_moves_versions_forward_only() {
        let mut s = DossierSync::new("D", 5);
        s.apply(&Record {
            version: Some(5),
            portal_knows: true,
            ..Record::default()
        });
        s.apply(&Record {
            version: Some(2),
            portal_knows: true,
            ..Record::default()
        });
        assert_eq!(s.acked_version, Some(5));
        assert!(plan(&s).is_empty());
    }

    #[test]
    fn duplicate_signal_turns_the_insert_into_an_update() {
        let mut s = DossierSync::new("D", 2);
        s.apply(&Record {
            version: None,
            portal_knows: true,
            ..Record::default()
        });
        assert_eq!(
            plan(&s).calls,
            [Call::Dossier {
                version: 2,
                mode: DossierMode::Update
            }]
        );
    }
}
