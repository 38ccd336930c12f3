//! The decisions agree with the DVCQG adapter where both hold the same fact: the status
//! reduction of `dvcqg.md` §8 (completed by this crate's decisions for 1, 2 and 5,
//! `docs/status-reduction.md`) and the chunk size of progress calls (§7).

use lienthong_dvcqg::WireCode;
use lienthong_dvcqg::wire::MAX_PROGRESS_ITEMS_PER_CALL;
use lienthong_model::DossierStatus;
use lienthong_workflow::{MAX_STEPS_PER_CALL, reduce};

#[test]
fn status_reduction_agrees_with_the_adapter() {
    for status in DossierStatus::ALL {
        let ours = reduce(*status).map(|r| r.status().code());
        assert_eq!(
            ours,
            lienthong_dvcqg::reduced_status(*status),
            "{}",
            status.name()
        );
    }
    // The documented rows (§8), and the decided ones.
    let expected = [
        None,
        Some("2"),
        Some("5"),
        Some("2"),
        Some("5"),
        Some("2"),
        Some("5"),
        Some("5"),
        Some("2"),
        Some("2"),
    ];
    for (status, want) in DossierStatus::ALL.iter().zip(expected) {
        assert_eq!(
            lienthong_dvcqg::reduced_status(*status),
            want,
            "{}",
            status.name()
        );
    }
}

#[test]
fn progress_chunks_agree_with_the_client() {
    assert_eq!(MAX_STEPS_PER_CALL, MAX_PROGRESS_ITEMS_PER_CALL);
}
