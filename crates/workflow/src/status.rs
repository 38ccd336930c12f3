//! Status reduction for dossiers citizens submitted on the national portal itself: their
//! processing status goes back with `DongBoTrangThaiHoSo`, `type` = `"2"` (`dvcqg.md` §8),
//! whose `TrangThai` takes only two values — `2` (accepted) and `5` (needs a supplement /
//! refused). [`reduce`] maps each of the ten internal statuses to one of them, or to
//! nothing; [`report_due`] says when a report is sent and [`plan_report`] gives the call,
//! whose result goes through [`crate::outcome::decide`] like a sync call's.
//!
//! The docs give the reduction for seven statuses (4, 6, 9, 10 → `2`; 3, 7, 8 → `5`, as
//! OpenCPS does). They are silent on 1, 2 and 5; the decisions, and why, are in
//! `docs/status-reduction.md`, and [`REDUCTION`] is that table.
//!
//! The reduced status is given as a [`DossierStatus`] ([`ReducedStatus::status`]:
//! `Accepted` or `SupplementRequested`), so the DVCQG adapter writes its wire code (`2`,
//! `5`) with its own code table; this crate knows no wire format.

use lienthong_model::DossierStatus;
use serde::Serialize;

use crate::sync::Call;

/// The status reported back to the portal for a portal submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReducedStatus {
    /// The province accepted the dossier and is handling it, or has handled it (`2`).
    Accepted,
    /// The applicant must act, or the dossier will not be handled: a supplement is
    /// requested, it was not accepted, withdrawn or stopped (`5`).
    NeedsAction,
}

impl ReducedStatus {
    /// The status whose code the portal receives: [`DossierStatus::Accepted`] (code 2) or
    /// [`DossierStatus::SupplementRequested`] (code 5).
    pub fn status(self) -> DossierStatus {
        match self {
            ReducedStatus::Accepted => DossierStatus::Accepted,
            ReducedStatus::NeedsAction => DossierStatus::SupplementRequested,
        }
    }
}

/// The reduction, for every internal status in code order (`None`: not reported).
pub const REDUCTION: [(DossierStatus, Option<ReducedStatus>); 10] = [
    // 1: nothing decided yet; the portal shows the submission already (decision).
    (DossierStatus::Registered, None),
    // 2: literally the reduced code 2 (decision).
    (DossierStatus::Accepted, Some(ReducedStatus::Accepted)),
    // 3: dvcqg.md §8.
    (DossierStatus::NotAccepted, Some(ReducedStatus::NeedsAction)),
    // 4: dvcqg.md §8.
    (DossierStatus::Processing, Some(ReducedStatus::Accepted)),
    // 5: literally the reduced code 5 (decision).
    (
        DossierStatus::SupplementRequested,
        Some(ReducedStatus::NeedsAction),
    ),
    // 6: dvcqg.md §8.
    (
        DossierStatus::FinancialObligation,
        Some(ReducedStatus::Accepted),
    ),
    // 7: dvcqg.md §8.
    (DossierStatus::Withdrawn, Some(ReducedStatus::NeedsAction)),
    // 8: dvcqg.md §8.
    (DossierStatus::Stopped, Some(ReducedStatus::NeedsAction)),
    // 9: dvcqg.md §8.
    (DossierStatus::Finished, Some(ReducedStatus::Accepted)),
    // 10: dvcqg.md §8.
    (DossierStatus::Returned, Some(ReducedStatus::Accepted)),
];

/// The status reported to the portal for a dossier in `status`, or `None` when that
/// status is not reported (only [`DossierStatus::Registered`]).
pub fn reduce(status: DossierStatus) -> Option<ReducedStatus> {
    match status {
        DossierStatus::Registered => None,
        DossierStatus::Accepted
        | DossierStatus::Processing
        | DossierStatus::FinancialObligation
        | DossierStatus::Finished
        | DossierStatus::Returned => Some(ReducedStatus::Accepted),
        DossierStatus::NotAccepted
        | DossierStatus::SupplementRequested
        | DossierStatus::Withdrawn
        | DossierStatus::Stopped => Some(ReducedStatus::NeedsAction),
    }
}

/// Whether a report is due for a portal submission now in `current`, when the last status
/// reported was `last_reported` (an internal status; `None`: nothing reported yet), and
/// which.
///
/// A report is sent on every change of the internal status that reduces to something,
/// even when the reduced status stays the same (processing → finished → returned are three
/// reports of `2`): each carries its own text, time and documents (the result documents
/// come with "returned"). The same status twice sends nothing.
pub fn report_due(
    last_reported: Option<DossierStatus>,
    current: DossierStatus,
) -> Option<ReducedStatus> {
    if last_reported == Some(current) {
        return None;
    }
    reduce(current)
}

/// The call that reports `current` for a portal submission, when a report is due
/// ([`report_due`]). Its result goes through [`crate::outcome::decide`] like any other call;
/// an acknowledgement records [`Record::status_reported`](crate::sync::Record), the
/// `last_reported` of the next report.
pub fn plan_report(last_reported: Option<DossierStatus>, current: DossierStatus) -> Option<Call> {
    report_due(last_reported, current).map(|_| Call::StatusReport { status: current })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_is_reduced_as_documented() {
        assert_eq!(REDUCTION.len(), DossierStatus::ALL.len());
        for (row, status) in REDUCTION.iter().zip(DossierStatus::ALL) {
            assert_eq!(row.0, *status, "table in code order");
            assert_eq!(reduce(*status), row.1, "{}", status.name());
        }
    }

    #[test]
    fn the_documented_part_of_the_reduction() {
        use DossierStatus::*;
        for s in [Processing, FinancialObligation, Finished, Returned] {
            assert_eq!(reduce(s), Some(ReducedStatus::Accepted), "{}", s.name());
        }
        for s in [NotAccepted, Withdrawn, Stopped] {
            assert_eq!(reduce(s), Some(ReducedStatus::NeedsAction), "{}", s.name());
        }
    }

    #[test]
    fn the_decided_part_of_the_reduction() {
        assert_eq!(reduce(DossierStatus::Registered), None);
        assert_eq!(
            reduce(DossierStatus::Accepted),
            Some(ReducedStatus::Accepted)
        );
        assert_eq!(
            reduce(DossierStatus::SupplementRequested),
            Some(ReducedStatus::NeedsAction)
        );
    }

    #[test]
    fn reduced_statuses_are_the_two_portal_statuses() {
        assert_eq!(ReducedStatus::Accepted.status(), DossierStatus::Accepted);
        assert_eq!(
            ReducedStatus::NeedsAction.status(),
            DossierStatus::SupplementRequested
        );
        // Reducing a reduced status gives itself.
        for r in [ReducedStatus::Accepted, ReducedStatus::NeedsAction] {
            assert_eq!(reduce(r.status()), Some(r));
        }
    }

    #[test]
    fn reports_on_every_change_of_a_reported_status() {
        use DossierStatus::*;
        assert_eq!(report_due(None, Registered), None);
        assert_eq!(report_due(None, Accepted), Some(ReducedStatus::Accepted));
        assert_eq!(report_due(Some(Accepted), Accepted), None);
        assert_eq!(
            report_due(Some(Accepted), Processing),
            Some(ReducedStatus::Accepted)
        );
        assert_eq!(
            report_due(Some(Processing), SupplementRequested),
            Some(ReducedStatus::NeedsAction)
        );
        assert_eq!(
            report_due(Some(SupplementRequested), Processing),
            Some(ReducedStatus::Accepted)
        );
        assert_eq!(
            report_due(Some(Finished), Returned),
            Some(ReducedStatus::Accepted)
        );
        assert_eq!(report_due(Some(Returned), Returned), None);
        for s in DossierStatus::ALL {
            assert_eq!(report_due(Some(*s), *s), None, "{}", s.name());
            assert_eq!(report_due(None, *s), reduce(*s), "{}", s.name());
        }
    }

    #[test]
    fn a_report_is_a_call_and_its_acknowledgement_is_recorded() {
        use crate::outcome::{CallResult, Decision, RetryPolicy, decide, operation};
        assert_eq!(plan_report(None, DossierStatus::Registered), None);
        let call = plan_report(Some(DossierStatus::Processing), DossierStatus::Returned)
            .expect("a report is due");
        assert_eq!(
            call,
            Call::StatusReport {
                status: DossierStatus::Returned
            }
        );
        assert_eq!(operation(&call), "DongBoTrangThaiHoSo");
        let d = decide(&call, &CallResult::Accepted, 1, &RetryPolicy::default(), 0);
        assert!(matches!(d, Decision::Ack { replan: false, .. }), "{d:?}");
        assert_eq!(d.record().status_reported, Some(DossierStatus::Returned));
        assert_eq!(
            plan_report(d.record().status_reported, DossierStatus::Returned),
            None
        );
        // The duplicate signal means nothing for a status report: an ordinary failure.
        let d = decide(&call, &CallResult::Duplicate, 1, &RetryPolicy::default(), 0);
        assert!(matches!(d, Decision::RetryAfter { .. }), "{d:?}");
    }
}
