//! The agency directory on both backends: merged lists keep known values, old codes (from
//! the axis and from configuration, which wins) resolve to current agencies through chains,
//! never in a loop, past deleted ones; search by name fragment and by old code.

mod common;

use common::TestDb;
use jiff::{SignedDuration, Timestamp};
use lienthong_journal::agencies::{AgencyRow, Resolved};

fn t0() -> Timestamp {
    "2026-03-02T02:00:00Z".parse().expect("time")
}

fn row(code: &str) -> AgencyRow {
    AgencyRow {
        code: code.into(),
        ..AgencyRow::default()
    }
}

fn renamed_to(r: &Resolved) -> Option<(&str, &str)> {
    match r {
        Resolved::Renamed { from, to } => Some((from.as_str(), to.code.as_str())),
        _ => None,
    }
}

async fn directory(db: TestDb) {
    let j = db.open().await;
    // getAgenciesList: names, mail, oldCode.
    let list = vec![
        AgencyRow {
            name: Some("Sở Y tế tỉnh Nghệ An".into()),
            mail: Some("syt@nghean.gov.vn".into()),
            pid: Some("H40".into()),
            old_code: Some("SYT-NA".into()),
            ..row("000.00.12.H40")
        },
        AgencyRow {
            name: Some("UBND tỉnh Nghệ An".into()),
            old_code: Some("000.00.00.H40".into()),
            ..row("000.00.00.H40")
        },
        AgencyRow {
            name: Some("Sở Tư pháp (cũ)".into()),
            ..row("000.00.20.H40")
        },
    ];
    assert_eq!(
        j.upsert_agencies(&list, "getAgenciesList", t0())
            .await
            .expect("upsert"),
        3
    );
    // getAgenciesListQD20: code102, no mail; getSynchronizeUnit: version, deleted.
    let later = t0() + SignedDuration::from_mins(5);
    let qd20 = vec![AgencyRow {
        code102: Some("G22.40.12".into()),
        level: Some(2),
        ..row("000.00.12.H40")
    }];
    j.upsert_agencies(&qd20, "getAgenciesListQD20", later)
        .await
        .expect("upsert");
    let sync = vec![
        AgencyRow {
            version: Some(7),
            is_agency: Some(true),
            center_code: Some("H40".into()),
            modified: Some("2026-01-01 10:00:00".into()),
            ..row(" 000.00.12.H40 ")
        },
        AgencyRow {
            deleted: true,
            ..row("000.00.20.H40")
        },
    ];
    j.upsert_agencies(&sync, "getSynchronizeUnit", later)
        .await
        .expect("upsert");
    assert_eq!(j.agency_count().await.expect("count"), 3);

    let Resolved::Current(syt) = j.resolve_agency(" 000.00.12.H40 ").await.expect("resolve") else {
        panic!("expected a current agency");
    };
    assert_eq!(syt.name.as_deref(), Some("Sở Y tế tỉnh Nghệ An"), "kept");
    assert_eq!(syt.mail.as_deref(), Some("syt@nghean.gov.vn"), "kept");
    assert_eq!(syt.pid.as_deref(), Some("H40"));
    assert_eq!(syt.old_code.as_deref(), Some("SYT-NA"));
    assert_eq!(syt.code102.as_deref(), Some("G22.40.12"));
    assert_eq!(syt.level, Some(2));
    assert_eq!(syt.version, Some(7));
    assert_eq!(syt.is_agency, Some(true));
    assert_eq!(syt.center_code.as_deref(), Some("H40"));
    assert_eq!(syt.modified.as_deref(), Some("2026-01-01 10:00:00"));
    assert!(!syt.deleted);
    assert_eq!(syt.source, "getSynchronizeUnit");
    assert_eq!(syt.synced_at, later);

    // Renamed through the axis's oldCode and code102; an alias equal to the code is none.
    let r = j.resolve_agency("SYT-NA").await.expect("resolve");
    assert_eq!(renamed_to(&r), Some(("SYT-NA", "000.00.12.H40")));
    let r = j.resolve_agency("G22.40.12").await.expect("resolve");
    assert_eq!(renamed_to(&r), Some(("G22.40.12", "000.00.12.H40")));
    assert!(matches!(
        j.resolve_agency("000.00.00.H40").await.expect("resolve"),
        Resolved::Current(_)
    ));
    assert_eq!(
        j.resolve_agency("NOPE").await.expect("resolve"),
        Resolved::Unknown
    );
    assert_eq!(
        j.resolve_agency("  ").await.expect("resolve"),
        Resolved::Unknown
    );
    // A deleted agency without an alias is unknown.
    assert_eq!(
        j.resolve_agency("000.00.20.H40").await.expect("resolve"),
        Resolved::Unknown
    );

    // Configuration: merged units. Config wins over the axis for the same alias; a deleted
    // agency with an alias is followed; chains are followed; loops end as unknown.
    j.set_config_aliases(&[
        ("SYT-NA".into(), "000.00.00.H40".into()),
        ("000.00.20.H40".into(), "STP-MOI".into()),
        ("STP-MOI".into(), "000.00.12.H40".into()),
        ("LOOP-A".into(), "LOOP-B".into()),
        ("LOOP-B".into(), "LOOP-A".into()),
    ])
    .await
    .expect("config");
    let r = j.resolve_agency("SYT-NA").await.expect("resolve");
    assert_eq!(
        renamed_to(&r),
        Some(("SYT-NA", "000.00.00.H40")),
        "config wins"
    );
    let r = j.resolve_agency("000.00.20.H40").await.expect("resolve");
    assert_eq!(
        renamed_to(&r),
        Some(("000.00.20.H40", "000.00.12.H40")),
        "deleted agency followed through a chain"
    );
    assert_eq!(
        j.resolve_agency("LOOP-A").await.expect("resolve"),
        Resolved::Unknown
    );
    // A chain longer than the hop limit is not followed to its end.
    let long: Vec<(String, String)> = (0..12)
        .map(|i| (format!("L{i}"), format!("L{}", i + 1)))
        .chain([("L12".to_owned(), "000.00.00.H40".to_owned())])
        .collect();
    j.set_config_aliases(&long).await.expect("config");
    let r = j.resolve_agency("L10").await.expect("resolve");
    assert_eq!(renamed_to(&r), Some(("L10", "000.00.00.H40")));
    assert_eq!(
        j.resolve_agency("L0").await.expect("resolve"),
        Resolved::Unknown
    );
    // Replacing the configured aliases drops the old ones; the axis's come back into view.
    let r = j.resolve_agency("SYT-NA").await.expect("resolve");
    assert_eq!(renamed_to(&r), Some(("SYT-NA", "000.00.12.H40")));
    j.set_config_aliases(&[]).await.expect("config");
    assert_eq!(
        j.resolve_agency("STP-MOI").await.expect("resolve"),
        Resolved::Unknown
    );

    // Search.
    let codes = |v: Vec<lienthong_journal::agencies::AgencyRecord>| {
        v.into_iter().map(|a| a.code).collect::<Vec<_>>()
    };
    assert_eq!(
        codes(j.search_agencies("nghệ an", 10).await.expect("search")),
        ["000.00.00.H40", "000.00.12.H40"]
    );
    assert_eq!(
        codes(j.search_agencies("Sở Y tế", 10).await.expect("search")),
        ["000.00.12.H40"]
    );
    assert_eq!(
        codes(j.search_agencies("ubnd", 10).await.expect("search")),
        ["000.00.00.H40"]
    );
    assert_eq!(
        codes(j.search_agencies("syt-na", 10).await.expect("search")),
        ["000.00.12.H40"],
        "by old code"
    );
    assert_eq!(
        codes(j.search_agencies("G22.40", 10).await.expect("search")),
        ["000.00.12.H40"],
        "by code102"
    );
    assert_eq!(
        codes(
            j.search_agencies("000.00.20.H40", 10)
                .await
                .expect("search")
        ),
        ["000.00.20.H40"],
        "exact code, deleted ones included"
    );
    assert_eq!(
        codes(j.search_agencies("H40", 2).await.expect("search")),
        ["000.00.00.H40", "000.00.12.H40"],
        "by code, limited"
    );
    assert!(j.search_agencies("%", 10).await.expect("search").is_empty());
    j.close().await;
}
both_backends!(agency_directory, directory);
