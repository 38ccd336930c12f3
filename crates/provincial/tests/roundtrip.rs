//! Generated and example dossiers: write → read is the identity, validation finds nothing
//! wrong with them, and one broken field at a time is reported at its path.

use lienthong_model::{Dossier, Finding, ProgressStep};
use lienthong_provincial::generate::Generator;
use lienthong_provincial::read::{read_dossier, read_progress};
use lienthong_provincial::validate::{validate_dossier, validate_progress};
use lienthong_provincial::write::{dossier_json, progress_json};
use serde_json::Value;

fn reread_dossier(d: &Dossier) -> (Option<Dossier>, Vec<Finding>) {
    let v: Value = serde_json::from_str(&dossier_json(d)).expect("json");
    let mut f = Vec::new();
    (read_dossier(&v, &mut f), f)
}

fn reread_progress(p: &ProgressStep) -> (Option<ProgressStep>, Vec<Finding>) {
    let v: Value = serde_json::from_str(&progress_json(p)).expect("json");
    let mut f = Vec::new();
    (read_progress(&v, &mut f), f)
}

#[test]
fn generated_dossiers_round_trip_and_are_valid() {
    for seed in [1, 7, 42] {
        let mut g = Generator::new(seed);
        for d in g.dossiers(300) {
            let (back, f) = reread_dossier(&d);
            assert!(f.is_empty(), "{}: {f:?}", d.code);
            assert_eq!(back.as_ref(), Some(&d));
            let v = validate_dossier(&d);
            assert!(v.iter().all(|x| !x.is_error()), "{}: {v:?}", d.code);
        }
        let mut g = Generator::new(seed);
        for p in g.progress(300) {
            let (back, f) = reread_progress(&p);
            assert!(f.is_empty(), "{f:?}");
            assert_eq!(back.as_ref(), Some(&p));
            let v = validate_progress(&p);
            assert!(v.iter().all(|x| !x.is_error()), "{v:?}");
        }
    }
}

#[test]
fn generation_is_deterministic_and_varied() {
    let a = Generator::new(5).dossiers(200);
    let b = Generator::new(5).dossiers(200);
    assert_eq!(a, b);
    assert_ne!(a, Generator::new(6).dossiers(200));
    use lienthong_model::{Channel, DossierStatus};
    let has = |pred: &dyn Fn(&Dossier) -> bool| a.iter().any(pred);
    assert!(has(&|d| d.channel == Some(Channel::Online)));
    assert!(has(&|d| d.channel == Some(Channel::InPerson)));
    assert!(has(&|d| d.channel == Some(Channel::Postal)));
    assert!(has(&|d| d.status == Some(DossierStatus::NotAccepted)));
    assert!(has(&|d| d.status == Some(DossierStatus::Returned)));
    assert!(
        has(&|d| d.finished_at.zip(d.due_at).is_some_and(|(f, due)| f > due)),
        "late cases"
    );
    assert!(
        has(&|d| d.finished_at.zip(d.due_at).is_some_and(|(f, due)| f <= due)),
        "on-time cases"
    );
    assert!(has(&|d| !d.supplement_requests.is_empty()));
    assert!(has(&|d| d.version > 2));
    let procedures: std::collections::HashSet<_> = a.iter().map(|d| &d.procedure.code).collect();
    assert!(procedures.len() >= 5);
    // versions of one dossier grow; steps of one dossier grow
    for w in a.windows(2) {
        if w[0].code == w[1].code {
            assert!(w[1].version > w[0].version);
        }
    }
    let steps = Generator::new(5).progress(200);
    for w in steps.windows(2) {
        if w[0].dossier_code == w[1].dossier_code {
            assert_eq!(w[1].step_seq, w[0].step_seq + 1);
        }
    }
    assert_eq!(steps[0].dossier_code, a[0].code, "same seed, same dossiers");
}
