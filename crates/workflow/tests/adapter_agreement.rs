//! The decisions agree with the DVCQG adapter where both hold the same fact: the status
//! reduction of `dvcqg.md` §8 and the chunk size of progress calls (§7). The adapter's
//! reduction covers only the statuses the docs name; where it has none, this crate's
//! decision (`docs/status-reduction.md`) is checked against the code it must produce.

use lienthong_dvcqg::WireCode;
use lienthong_dvcqg::wire::MAX_PROGRESS_ITEMS_PER_CALL;
use lienthong_model::DossierStatus;
use lienthong_workflow::{MAX_STEPS_PER_CALL, reduce};

#[test]
fn status_reduction_agrees_with_the_adapter() {
    for status in DossierStatus::ALL {
        let ours = reduce(*status).map(|r| r.status().code());
        match lienthong_dvcqg::reduced_status(*status) {
            Some(documented) => assert_eq!(ours, Some(documented), "{}", status.name()),
            None => {
                let decided = match status {
                    DossierStatus::Registered => None,
                    DossierStatus::Accepted => Some("2"),
                    DossierStatus::SupplementRequested => Some("5"),
                    other => panic!("the adapter has no reduction for {}", other.name()),
                };
                assert_eq!(ours, decided, "{}", status.name());
            }
        }
    }
}

#[test]
fn progress_chunks_agree_with_the_client() {
    assert_eq!(MAX_STEPS_PER_CALL, MAX_PROGRESS_ITEMS_PER_CALL);
}
