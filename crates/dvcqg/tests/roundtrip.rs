//! Property tests: for every dossier and progress step DVCQG can carry, model → wire item
//! → model is the identity (with `version` / `step_seq` 0), the item survives the JSON
//! request body and the lenient reader unchanged, and passes the portal's validation.

use jiff::Timestamp;
use jiff::civil::date;
use lienthong_dvcqg::time::VIETNAM;
use lienthong_dvcqg::{
    DossierItem, MappingConfig, ProgressItem, dossier_from_dvcqg, dossier_to_dvcqg, progress_body,
    progress_from_dvcqg, progress_to_dvcqg, read_dossier_item, read_progress_item,
    sync_dossiers_body, time, validate_dossier_item, validate_progress_item,
};
use lienthong_model::{
    Applicant, ApplicantCategory, Channel, Dossier, DossierStatus, Fee, Handler, IdentityDocument,
    IdentityKind, OnlinePayment, OtherAttachment, Procedure, ProgressStep, ResultDelivery,
    ResultDocument, SubmittedDocument, SupplementRequest, Unit,
};
use proptest::collection::vec;
use proptest::option::of;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::Value;

/// A value as the readers return it: trimmed and non-empty; Vietnamese letters (NFC),
/// JSON-special characters, inner line breaks.
fn value() -> impl Strategy<Value = String> {
    "[A-Za-z0-9ăâđêôơưĂÂĐÊÔƠƯáàảãạếềểễệốồổỗộớờởỡợứừửữựíìỉĩịýỳỷỹỵ &<>\"'\\\\/.,:;()\n\t-]{1,40}"
        .prop_map(|s| s.trim().to_owned())
        .prop_filter("non-empty", |s| !s.is_empty())
}

/// A plain `String` field: empty or a value.
fn plain() -> impl Strategy<Value = String> {
    prop_oneof![1 => Just(String::new()), 4 => value()]
}

fn opt() -> impl Strategy<Value = Option<String>> {
    of(value())
}

/// An instant at whole seconds whose Vietnamese local date lies in the years 0001–9999
/// (mostly 2015–2050).
fn instant() -> impl Strategy<Value = Timestamp> {
    let lo = VIETNAM
        .to_timestamp(date(1, 1, 1).at(0, 0, 0, 0))
        .expect("min")
        .as_second();
    // jiff's last instant, 9999-12-31T05:00:00+07:00.
    let hi = Timestamp::MAX.as_second();
    let recent = Timestamp::from_second(1_420_070_400)
        .expect("2015")
        .as_second()
        ..Timestamp::from_second(2_524_608_000)
            .expect("2050")
            .as_second();
    prop_oneof![3 => recent, 1 => lo..=hi]
        .prop_map(|s| Timestamp::from_second(s).expect("in range"))
}

fn at() -> impl Strategy<Value = Option<Timestamp>> {
    of(instant())
}

fn code_and_unit() -> impl Strategy<Value = (String, Option<String>)> {
    prop_oneof![
        (
            "[0-9]{3}\\.[0-9]{2}\\.[0-9]{2}\\.[A-Z][0-9]{2}",
            "[0-9]{6}-[0-9]{4,5}"
        )
            .prop_map(|(unit, rest)| (format!("{unit}-{rest}"), Some(unit))),
        "[a-z][a-z0-9.-]{0,20}".prop_map(|code| (code, None)),
    ]
}

fn applicant() -> impl Strategy<Value = Applicant> {
    let fitting = prop_oneof![
        "[0-9]{12}".prop_map(|number| IdentityDocument {
            kind: IdentityKind::CitizenId,
            number,
        }),
        "[0-9]{9}".prop_map(|number| IdentityDocument {
            kind: IdentityKind::LegacyId,
            number,
        }),
    ];
    let other = "[A-Z0-9]{1,12}".prop_map(|number| IdentityDocument {
        kind: IdentityKind::Other,
        number,
    });
    let documents = (of(other), vec(fitting, 0..3))
        .prop_map(|(other, fitting)| other.into_iter().chain(fitting).collect::<Vec<_>>())
        .prop_filter("distinct real numbers", |docs: &Vec<IdentityDocument>| {
            let mut numbers: Vec<&str> = docs.iter().map(|d| d.number.as_str()).collect();
            numbers.sort_unstable();
            numbers.dedup();
            numbers.len() == docs.len() && !numbers.contains(&"000000001")
        });
    (
        opt(),
        select(ApplicantCategory::ALL),
        documents,
        opt(),
        any::<bool>(),
        opt(),
        opt(),
        opt(),
    )
        .prop_map(
            |(name, category, identity_documents, portal_account, vneid, email, phone, fax)| {
                Applicant {
                    name,
                    category: Some(category),
                    identity_documents,
                    portal_account,
                    vneid_verified: Some(vneid),
                    email,
                    phone,
                    fax,
                    address: None,
                }
            },
        )
}

fn submitted_document() -> impl Strategy<Value = SubmittedDocument> {
    (
        opt(),
        plain(),
        opt(),
        opt(),
        any::<bool>(),
        of(any::<bool>()),
        of(any::<bool>()),
        of(any::<bool>()),
        opt(),
    )
        .prop_map(
            |(id, name, component_code, url, deleted, digitised, reused, store, replaces)| {
                SubmittedDocument {
                    id,
                    name,
                    component_code,
                    url,
                    deleted,
                    digitised,
                    reused,
                    from_citizen_store: store,
                    replaces_result_code: replaces,
                }
            },
        )
}

fn fee() -> impl Strategy<Value = Fee> {
    (opt(), plain(), any::<u64>(), opt(), opt()).prop_map(
        |(code, name, amount, collection_method, kind)| Fee {
            code,
            name,
            amount,
            collection_method,
            kind,
        },
    )
}

fn other_attachment() -> impl Strategy<Value = OtherAttachment> {
    (plain(), of(any::<u32>()), opt()).prop_map(|(name, quantity, kind)| OtherAttachment {
        name,
        quantity,
        kind,
    })
}

fn supplement_request() -> impl Strategy<Value = SupplementRequest> {
    (
        (opt(), opt(), plain(), at(), opt()),
        (opt(), at(), opt(), at(), at()),
    )
        .prop_map(
            |(
                (id, requested_by, content, requested_at, received_by),
                (receipt_info, received_at, status, previous_due_at, new_due_at),
            )| SupplementRequest {
                id,
                requested_by,
                content,
                requested_at,
                received_by,
                receipt_info,
                received_at,
                status,
                previous_due_at,
                new_due_at,
            },
        )
}

fn result_document() -> impl Strategy<Value = ResultDocument> {
    (opt(), plain(), opt(), opt(), opt()).prop_map(
        |(id, name, component_code, url, result_code)| ResultDocument {
            id,
            name,
            component_code,
            url,
            result_code,
        },
    )
}

fn summary() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        4 => opt(),
        1 => "[a-zđồạã]{1000}".prop_map(Some),
    ]
}

fn dossier() -> impl Strategy<Value = Dossier> {
    let head = (
        code_and_unit(),
        opt(),
        (value(), opt(), opt(), opt()),
        select(Channel::ALL),
        applicant(),
        summary(),
        opt(),
        opt(),
        of(select(DossierStatus::ALL)),
    );
    let times = (at(), at(), at(), at(), at(), at());
    let rest = (
        select(ResultDelivery::ALL),
        opt(),
        any::<bool>(),
        select(OnlinePayment::ALL),
        vec(submitted_document(), 0..3),
        vec(fee(), 0..3),
        vec(other_attachment(), 0..3),
        vec(supplement_request(), 0..3),
        vec(result_document(), 0..3),
        vec(value(), 0..3),
        opt(),
    );
    (head, times, rest).prop_map(
        |(
            (
                (code, unit_code),
                unit_name,
                (p_code, p_name, f_code, f_name),
                channel,
                applicant,
                summary,
                other_info,
                note,
                status,
            ),
            (submitted_at, received_at, due_at, finished_at, returned_at, refused_at),
            (
                result_delivery,
                return_info,
                digitised,
                online_payment,
                submitted_documents,
                fees,
                other_attachments,
                supplement_requests,
                result_documents,
                consulted_databases,
                submission_place,
            ),
        )| Dossier {
            code,
            version: 0,
            unit: Unit {
                code: unit_code,
                name: unit_name,
            },
            procedure: Procedure {
                code: p_code,
                name: p_name,
                field_code: f_code,
                field_name: f_name,
            },
            channel: Some(channel),
            applicant,
            summary,
            other_info,
            note,
            status,
            submitted_at,
            received_at,
            due_at,
            finished_at,
            returned_at,
            refused_at,
            result_delivery: Some(result_delivery),
            return_info,
            digitised: Some(digitised),
            online_payment: Some(online_payment),
            submitted_documents,
            fees,
            other_attachments,
            supplement_requests,
            result_documents,
            consulted_databases,
            submission_place,
        },
    )
}

fn progress_step() -> impl Strategy<Value = ProgressStep> {
    (
        code_and_unit(),
        prop_oneof![Just(String::new()), "[A-Za-zđĐồạã ]{0,48}[a-z]"],
        opt(),
        opt(),
        at(),
        plain(),
        of(select(DossierStatus::ALL)),
        at(),
        at(),
    )
        .prop_map(
            |(
                (dossier_code, _),
                name,
                title,
                department,
                at,
                action,
                status,
                started_at,
                deadline_at,
            )| {
                ProgressStep {
                    dossier_code,
                    step_seq: 0,
                    handler: Handler {
                        name: name.trim().to_owned(),
                        title,
                        department,
                    },
                    at,
                    action,
                    status,
                    started_at,
                    deadline_at,
                }
            },
        )
}

/// Only the errors for required values the dossier lacks, never a warning.
fn only_required_errors(d: &Dossier, f: &[lienthong_model::Finding]) -> bool {
    let mut expected = Vec::new();
    if d.received_at.is_none() {
        expected.push("/received_at");
    }
    if d.status.is_none() {
        expected.push("/status");
    }
    f.iter().map(|x| x.path.as_str()).collect::<Vec<_>>() == expected
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn dossier_round_trip(d in dossier()) {
        let (item, f) = dossier_to_dvcqg(&d, &MappingConfig::default());
        prop_assert!(only_required_errors(&d, &f), "{f:?}");
        let (back, g) = dossier_from_dvcqg(&item);
        prop_assert!(g.is_empty(), "{g:?}");
        prop_assert_eq!(&back, &d);

        // Through the request body and the lenient reader.
        let body = sync_dossiers_body("tok", "000.00.00.H41", false, std::slice::from_ref(&item));
        let head = "{\"session\":\"tok\",\"madonvi\":\"000.00.00.H41\",\"service\":\"DongBoHoSoMC\",\"isUpdating\":\"False\",\"data\":[{\"MaHoSo\":";
        prop_assert!(body.starts_with(head), "{}", body);
        let v: Value = serde_json::from_str(&body).expect("valid JSON");
        let mut h = Vec::new();
        let read = read_dossier_item(&v["data"][0], "/data/0", &mut h);
        prop_assert!(h.is_empty(), "{h:?}");
        prop_assert_eq!(read.as_ref(), Some(&item));
        let typed: DossierItem = serde_json::from_value(v["data"][0].clone()).expect("serde");
        prop_assert_eq!(&typed, &item);

        let mut h = Vec::new();
        validate_dossier_item(&item, "/data/0", &mut h);
        let valid = d.received_at.is_some() && d.status.is_some();
        prop_assert_eq!(h.is_empty(), valid, "{:?}", h);
    }

    #[test]
    fn progress_round_trip(p in progress_step()) {
        let (item, f) = progress_to_dvcqg(&p, &MappingConfig::default());
        prop_assert_eq!(f.is_empty(), p.at.is_some() && p.status.is_some(), "{:?}", f);
        prop_assert!(f.iter().all(|x| x.is_error()));
        let (back, g) = progress_from_dvcqg(&item);
        prop_assert!(g.is_empty(), "{g:?}");
        prop_assert_eq!(&back, &p);

        let body = progress_body("tok", "m", std::slice::from_ref(&item));
        let v: Value = serde_json::from_str(&body).expect("valid JSON");
        let mut h = Vec::new();
        let read: Option<ProgressItem> = read_progress_item(&v["data"][0], "/data/0", &mut h);
        prop_assert!(h.is_empty(), "{h:?}");
        prop_assert_eq!(read.as_ref(), Some(&item));
        let mut h = Vec::new();
        validate_progress_item(&item, "", &mut h);
        prop_assert_eq!(h.is_empty(), f.is_empty(), "{:?}", h);
    }

    #[test]
    fn time_round_trip(t in instant()) {
        let s = time::format(t).expect("in range");
        prop_assert_eq!(s.len(), 14);
        prop_assert!(time::is_strict(&s));
        prop_assert_eq!(time::parse(&s), Ok(Some(t)));
    }

    #[test]
    fn summary_is_never_longer_than_the_limit(s in "[a-zđồạã ]{0,1100}", max in 0usize..1100) {
        let d = Dossier { summary: Some(s.clone()), ..Dossier::default() };
        let cfg = MappingConfig { summary_max_chars: max, ..MappingConfig::default() };
        let (item, f) = dossier_to_dvcqg(&d, &cfg);
        let n = s.chars().count();
        prop_assert_eq!(item.TrichYeuHoSo.chars().count(), n.min(max));
        let warned = f.iter().any(|x| x.path == "/summary" && !x.is_error());
        prop_assert_eq!(warned, n > max);
    }
}
