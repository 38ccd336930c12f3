//! Provincial → DVCQG → model keeps every field DVCQG can carry, over generated dossiers
//! and steps of many seeds (the two format crates never meet except here and in the binary).

use lienthong_dvcqg::map::{
    MappingConfig, dossier_from_dvcqg, dossier_to_dvcqg, progress_from_dvcqg, progress_to_dvcqg,
};
use lienthong_model::{Dossier, ProgressStep};
use lienthong_provincial::generate::Generator;
use lienthong_provincial::read::{read_dossier, read_progress};
use lienthong_provincial::write::{dossier_json, progress_json};

/// What DVCQG does not carry: the version (set by the sender, kept by the journal) and
/// the applicant's postal address; and the defaults it writes for unknown values
/// (`dvcqg.md` §6.2 writer rule: these keys are always sent).
fn dvcqg_projection(d: &Dossier) -> Dossier {
    use lienthong_model::{ApplicantCategory, Channel, OnlinePayment, ResultDelivery};
    let mut d = d.clone();
    d.version = 0;
    d.applicant.address = None;
    d.channel.get_or_insert(Channel::InPerson);
    d.applicant
        .category
        .get_or_insert(ApplicantCategory::Citizen);
    d.applicant.vneid_verified.get_or_insert(false);
    d.digitised.get_or_insert(false);
    d.online_payment.get_or_insert(OnlinePayment::None);
    d.result_delivery.get_or_insert(ResultDelivery::AtOffice);
    d
}

#[test]
fn generated_dossiers_survive_the_portal_format() {
    let cfg = MappingConfig::default();
    let mut n = 0;
    for seed in 0..20 {
        for d in Generator::new(seed).dossiers(100) {
            // through the provincial wire format first
            let v: serde_json::Value = serde_json::from_str(&dossier_json(&d)).expect("json");
            let mut f = Vec::new();
            let read = read_dossier(&v, &mut f).expect("object");
            assert!(f.is_empty(), "{f:?}");
            let (item, f) = dossier_to_dvcqg(&read, &cfg);
            assert!(f.iter().all(|x| !x.is_error()), "{}: {f:?}", d.code);
            // and through the DVCQG wire format
            let wire = serde_json::to_string(&item).expect("json");
            let mut f = Vec::new();
            let item2 = lienthong_dvcqg::read::read_dossier_item(
                &serde_json::from_str(&wire).expect("json"),
                "",
                &mut f,
            )
            .expect("object");
            assert!(f.is_empty(), "{f:?}");
            let (back, f) = dossier_from_dvcqg(&item2);
            assert!(f.iter().all(|x| !x.is_error()), "{f:?}");
            assert_eq!(back, dvcqg_projection(&d), "{}", d.code);
            n += 1;
        }
    }
    assert_eq!(n, 2000);
}

#[test]
fn generated_steps_survive_the_portal_format() {
    let cfg = MappingConfig::default();
    for seed in 0..20 {
        for p in Generator::new(seed).progress(100) {
            let v: serde_json::Value = serde_json::from_str(&progress_json(&p)).expect("json");
            let mut f = Vec::new();
            let read = read_progress(&v, &mut f).expect("object");
            assert!(f.is_empty(), "{f:?}");
            let (item, f) = progress_to_dvcqg(&read, &cfg);
            assert!(f.is_empty(), "{f:?}");
            let (back, f) = progress_from_dvcqg(&item);
            assert!(f.iter().all(|x| !x.is_error()), "{f:?}");
            let want = ProgressStep {
                step_seq: 0,
                ..p.clone()
            };
            assert_eq!(back, want);
        }
    }
}
