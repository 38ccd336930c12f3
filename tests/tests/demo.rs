//! `lienthong demo` end to end: simulators, a gateway on the embedded backends, generated
//! dossiers through the ingest API, a portal outage in the middle. At the end every accepted
//! dossier that could be sent is at the portal: nothing waits, nothing is retrying, nothing is
//! parked, and the invalid submissions were refused; citizens' dossiers submitted on the portal
//! reached the gateway and were all taken by the province; documents went over the axis to a
//! second gateway (the Government Office) and their statuses came back, and the Office's
//! documents reached the province.

use lienthong_e2e::lienthong;

/// The numbers of the last summary line.
fn last_summary(out: &str) -> Vec<u64> {
    let line = out
        .lines()
        .rev()
        .find(|l| l.starts_with('[') && l.contains("portal:"))
        .unwrap_or_else(|| panic!("no summary in:\n{out}"));
    line.split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().expect("number"))
        .collect()
}

#[test]
fn demo_drains_everything_through_an_outage() {
    let out = lienthong()
        .args(["demo", "--duration", "24", "--rate", "4", "--seed", "5"])
        .output()
        .expect("run demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("the national portal goes down"), "{stdout}");
    // [secs] sent V versions + S steps: A accepted, R refused (invalid), O other |
    // portal: D dossiers (I inserts, U updates), P steps | bus: W waiting, T retrying, K parked
    // | citizens on the portal: C submitted, E taken by the province
    let n = last_summary(&stdout);
    let [
        _,
        versions,
        steps,
        accepted,
        refused,
        other,
        dossiers,
        inserts,
        _updates,
        portal_steps,
        waiting,
        retrying,
        parked,
        submitted,
        taken,
    ] = n[..]
    else {
        panic!("unexpected summary {n:?} in:\n{stdout}")
    };
    assert!(versions > 20 && steps > 20, "{stdout}");
    assert!(
        refused > 0,
        "the invalid submissions must be refused: {stdout}"
    );
    assert_eq!(other, 0, "{stdout}");
    assert_eq!(accepted + refused, versions + steps, "{stdout}");
    assert!(dossiers > 10 && portal_steps > 10, "{stdout}");
    assert_eq!(inserts, dossiers, "one insert per dossier: {stdout}");
    assert_eq!((waiting, retrying, parked), (0, 0, 0), "{stdout}");
    assert!(
        submitted > 0,
        "citizens' dossiers reached the gateway: {stdout}"
    );
    // The last submissions may arrive after the province's last pull.
    assert!(
        taken > 0 && taken <= submitted && submitted - taken <= 2,
        "the province took what citizens submitted: {stdout}"
    );
    // documents: S sent to the Government Office; statuses back: A arrived (01), C accepted
    // (03), H in handling (05), F finished (06), R refused (02) | O received from the Office,
    // T taken by the province's clerk
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with("documents:"))
        .unwrap_or_else(|| panic!("no documents line in:\n{stdout}"));
    let d: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().expect("number"))
        .collect();
    // The numbers of the line: S, A, 01, C, 03, H, 05, F, 06, R, 02, O, T.
    let [
        sent,
        arrived,
        _,
        accepted_03,
        _,
        _,
        _,
        finished,
        _,
        _,
        _,
        from_office,
        taken_docs,
    ] = d[..]
    else {
        panic!("unexpected documents line {d:?}: {line}")
    };
    assert!(sent > 3, "documents went to the Office: {line}");
    assert!(
        arrived > 0 && accepted_03 > 0 && finished > 0,
        "their statuses came back: {line}"
    );
    assert!(arrived <= sent, "{line}");
    assert!(
        from_office > 0 && taken_docs > 0 && taken_docs <= from_office,
        "the province took the Office's documents: {line}"
    );
}
