//! `lienthong resync CODE`: what to repair when the portal's copy of a dossier no longer
//! matches what the journal believes the portal acknowledged.
//!
//! The gateway compares the journal's state of a dossier with the portal's answer to a
//! lookup (`TraCuuHoSo`) and hands the facts in as a [`ResyncView`]; [`decide_resync`]
//! says whether the two are in step and, if not, which acknowledgements to forget so the
//! ordinary sync plan ([`crate::sync::plan`]) sends what is missing:
//!
//! | the portal | the journal believes | repair |
//! | --- | --- | --- |
//! | does not know the dossier | it knows it, or acknowledged a version or steps | forget the version, every step and that the portal knows it: the next plan inserts, then sends every step |
//! | knows it, some fields differ from the desired version | anything | forget the acknowledged version, keep "the portal knows it": the next plan updates |
//! | knows it, reports fewer steps than the journal saw acknowledged | anything | forget the step acknowledgements: every step is sent again |
//! | knows it, fields equal | it does not know it | remember that it knows it (no resend) |
//! | knows it, fields equal, steps not fewer | anything | in step: nothing to do |
//!
//! The portal's lookup does not always report its steps; without a count the steps are
//! taken as they are (resending them would make duplicates on the portal).

/// What the portal answered for the dossier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortalCopy {
    /// The lookup found nothing.
    Absent,
    /// The lookup found the dossier.
    Present {
        /// Names of the fields whose values differ from the desired version as it would
        /// be sent (empty: the portal holds what the journal would send).
        differing: Vec<String>,
        /// Progress steps the portal reports, when its answer says.
        steps: Option<u64>,
    },
}

/// The facts of one dossier, from the journal and from the portal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResyncView {
    /// The desired (latest received) version.
    pub version: u64,
    /// The version the journal believes the portal acknowledged.
    pub acked_version: Option<u64>,
    /// Whether the journal believes the portal knows the dossier.
    pub portal_known: bool,
    /// Progress steps recorded in the journal.
    pub steps: u64,
    /// Of these, the ones the journal believes the portal acknowledged.
    pub steps_acked: u64,
    /// What the portal answered.
    pub portal: PortalCopy,
}

/// What the journal must forget (then a sync is enqueued).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forget {
    /// Forget the acknowledged version (the desired version is sent again).
    pub version: bool,
    /// Forget every step acknowledgement (every step is sent again).
    pub steps: bool,
    /// Whether the portal knows the dossier from now on (insert when `false`).
    pub portal_knows: bool,
}

/// The verdict on one dossier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resync {
    /// The portal holds what the journal believes: nothing to repair.
    InStep,
    /// The journal's beliefs are wrong: forget, then sync.
    Repair {
        /// What to forget.
        forget: Forget,
        /// Why, one short sentence per finding (field names, counts; no values).
        findings: Vec<String>,
    },
}

/// Decides the repair of one dossier. See the [module documentation](self).
pub fn decide_resync(v: &ResyncView) -> Resync {
    let mut findings = Vec::new();
    match &v.portal {
        PortalCopy::Absent => {
            if !(v.portal_known || v.acked_version.is_some() || v.steps_acked > 0) {
                // Nothing was acknowledged yet: the ordinary sync is still due, and a
                // fresh work item only hurries it.
                findings.push("the portal does not know the dossier yet; a sync is due".into());
            } else {
                findings.push(format!(
                    "the portal does not know the dossier, but the journal believes it \
                     acknowledged {}",
                    believed(v)
                ));
            }
            Resync::Repair {
                forget: Forget {
                    version: true,
                    steps: true,
                    portal_knows: false,
                },
                findings,
            }
        }
        PortalCopy::Present { differing, steps } => {
            let mut forget = Forget {
                version: false,
                steps: false,
                portal_knows: true,
            };
            if !differing.is_empty() {
                findings.push(format!(
                    "the portal's copy differs from version {} in {}",
                    v.version,
                    differing.join(", ")
                ));
                forget.version = true;
            }
            if let Some(n) = steps
                && *n < v.steps_acked
            {
                findings.push(format!(
                    "the portal reports {n} progress step(s), the journal believes it \
                     acknowledged {}",
                    v.steps_acked
                ));
                forget.steps = true;
            }
            if !v.portal_known {
                findings.push("the journal did not know that the portal has the dossier".into());
            }
            if findings.is_empty() {
                Resync::InStep
            } else {
                Resync::Repair { forget, findings }
            }
        }
    }
}

fn believed(v: &ResyncView) -> String {
    let mut parts = Vec::new();
    if let Some(a) = v.acked_version {
        parts.push(format!("version {a}"));
    }
    if v.steps_acked > 0 {
        parts.push(format!("{} step(s)", v.steps_acked));
    }
    if parts.is_empty() {
        "that it knows it".into()
    } else {
        parts.join(" and ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(portal: PortalCopy) -> ResyncView {
        ResyncView {
            version: 3,
            acked_version: Some(3),
            portal_known: true,
            steps: 4,
            steps_acked: 4,
            portal,
        }
    }

    #[test]
    fn a_dossier_lost_by_the_portal_is_inserted_again_with_every_step() {
        let r = decide_resync(&view(PortalCopy::Absent));
        let Resync::Repair { forget, findings } = r else {
            panic!("repair expected")
        };
        assert_eq!(
            forget,
            Forget {
                version: true,
                steps: true,
                portal_knows: false
            }
        );
        assert!(
            findings[0].contains("version 3 and 4 step(s)"),
            "{findings:?}"
        );
    }

    #[test]
    fn a_changed_copy_is_updated_and_steps_are_kept() {
        let r = decide_resync(&view(PortalCopy::Present {
            differing: vec!["TrangThaiHoSo".into()],
            steps: None,
        }));
        let Resync::Repair { forget, findings } = r else {
            panic!("repair expected")
        };
        assert_eq!(
            forget,
            Forget {
                version: true,
                steps: false,
                portal_knows: true
            }
        );
        assert!(findings[0].contains("TrangThaiHoSo"));
    }

    #[test]
    fn missing_steps_are_sent_again() {
        let r = decide_resync(&view(PortalCopy::Present {
            differing: vec![],
            steps: Some(2),
        }));
        assert!(matches!(
            r,
            Resync::Repair {
                forget: Forget {
                    version: false,
                    steps: true,
                    portal_knows: true
                },
                ..
            }
        ));
    }

    #[test]
    fn an_equal_copy_is_in_step() {
        let r = decide_resync(&view(PortalCopy::Present {
            differing: vec![],
            steps: Some(4),
        }));
        assert_eq!(r, Resync::InStep);
        let r = decide_resync(&view(PortalCopy::Present {
            differing: vec![],
            steps: None,
        }));
        assert_eq!(r, Resync::InStep);
    }

    #[test]
    fn a_copy_the_journal_did_not_know_about_is_remembered() {
        let mut v = view(PortalCopy::Present {
            differing: vec![],
            steps: None,
        });
        v.portal_known = false;
        v.acked_version = None;
        let Resync::Repair { forget, .. } = decide_resync(&v) else {
            panic!("repair expected")
        };
        assert!(forget.portal_knows && !forget.version && !forget.steps);
    }
}
