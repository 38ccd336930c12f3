//! Checks across the fields of a dossier or step that was read: identifier forms
//! (`codes.md`), identity numbers, and times that contradict each other or the status.
//! Findings never quote personal data (identity numbers, phones, addresses).

use jiff::Timestamp;
use lienthong_model::{Dossier, DossierStatus, Finding, OrganId, ProgressStep};

/// `{organisation code}-{yyMMdd}-{NNNN}` (`codes.md` §4.1).
pub fn is_strict_dossier_code(code: &str) -> bool {
    let mut parts = code.splitn(3, '-');
    let (Some(org), Some(date), Some(counter)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let org_ok = OrganId::parse_lenient(org).is_some_and(|o| o.is_strict());
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let date_ok = date.len() == 6 && digits(date) && {
        let m: u32 = date[2..4].parse().unwrap_or(0);
        let d: u32 = date[4..6].parse().unwrap_or(0);
        (1..=12).contains(&m) && (1..=31).contains(&d)
    };
    org_ok && date_ok && (4..=5).contains(&counter.len()) && digits(counter)
}

/// Procedure code forms (`codes.md` §2): `Some(true)` strict (long, short or mixed),
/// `Some(false)` only lenient (`D.DDDDDD` + anything), `None` not a procedure code.
pub fn procedure_code_form(code: &str) -> Option<bool> {
    let b = code.as_bytes();
    let core = b.len() >= 8
        && b[0].is_ascii_digit()
        && b[1] == b'.'
        && b[2..8].iter().all(u8::is_ascii_digit);
    if !core {
        return None;
    }
    let rest = &code[8..];
    if rest.is_empty() {
        return Some(true);
    }
    let suffix = rest.strip_prefix('.')?;
    let level1 = |s: &str| {
        let s = s.as_bytes();
        s.len() == 3 && s[0].is_ascii_uppercase() && s[1..].iter().all(u8::is_ascii_digit)
    };
    // long: .000.00.00.H41 ; mixed: .H56
    let long = suffix.len() == 13 && OrganId::parse_lenient(suffix).is_some_and(|o| o.is_strict());
    Some(long || level1(suffix))
}

/// A phone or fax number: 8 to 15 digits, with `+`, spaces, dots, dashes and brackets.
pub fn is_phone(s: &str) -> bool {
    let digits = s.bytes().filter(u8::is_ascii_digit).count();
    (8..=15).contains(&digits)
        && s.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b' ' | b'.' | b'-' | b'(' | b')'))
}

/// Field code (`codes.md` §3), strict form `^[A-Z][0-9]{2}-[A-Z]{1,6}[0-9]{1,3}$`.
pub fn is_strict_field_code(code: &str) -> bool {
    let Some((head, tail)) = code.split_once('-') else {
        return false;
    };
    let h = head.as_bytes();
    let letters = tail.bytes().take_while(u8::is_ascii_uppercase).count();
    let digits = &tail[letters..];
    h.len() == 3
        && h[0].is_ascii_uppercase()
        && h[1..].iter().all(u8::is_ascii_digit)
        && (1..=6).contains(&letters)
        && (1..=3).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
}

/// A time as the format writes it (Vietnamese local time), for findings.
fn local(t: Timestamp) -> String {
    crate::write::time(t)
}

fn order(
    f: &mut Vec<Finding>,
    later: (&str, Option<Timestamp>),
    earlier: (&str, Option<Timestamp>),
    error: bool,
) {
    if let ((lname, Some(l)), (ename, Some(e))) = (later, earlier)
        && l < e
    {
        let msg = format!("{lname} is before {ename}");
        let finding = if error {
            Finding::error(format!("/{lname}"), msg)
        } else {
            Finding::warning(format!("/{lname}"), msg)
        };
        f.push(
            finding
                .expected(format!("a time not before {ename} ({})", local(e)))
                .found(local(l)),
        );
    }
}

/// What the province configured for validation.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Own unit codes accepted although they are not in the strict 4-part form
    /// (`codes.md` §1.4: own codes must be strict unless explicitly configured).
    pub own_code_overrides: Vec<String>,
}

/// Checks a dossier that was read, with the default policy.
pub fn validate_dossier(d: &Dossier) -> Vec<Finding> {
    validate_dossier_with(d, &Policy::default())
}

/// Checks a dossier that was read.
pub fn validate_dossier_with(d: &Dossier, policy: &Policy) -> Vec<Finding> {
    let mut f = Vec::new();
    if !d.code.is_empty() && !is_strict_dossier_code(&d.code) {
        f.push(
            Finding::warning(
                "/code",
                "dossier code is not in the form {unit code}-{yyMMdd}-{NNNN}",
            )
            .expected("e.g. 000.00.12.H41-250314-0007")
            .found(d.code.clone()),
        );
    }
    if d.code.chars().any(char::is_control) {
        f.push(Finding::error(
            "/code",
            "dossier code contains control characters",
        ));
    }
    if let Some(code) = &d.unit.code {
        let strict = OrganId::parse_lenient(code).is_some_and(|o| o.is_strict());
        if !strict && !policy.own_code_overrides.iter().any(|c| c == code) {
            f.push(
                Finding::error(
                    "/unit/code",
                    "unit code is not in the strict 4-part form (a unit whose code really has \
                     another form must be listed as an own-code override)",
                )
                .expected("NNN.NN.NN.XNN, e.g. 000.00.12.H41")
                .found(code.clone()),
            );
        }
    }
    if !d.procedure.code.is_empty() {
        match procedure_code_form(&d.procedure.code) {
            None => f.push(
                Finding::error("/procedure/code", "not a procedure code")
                    .expected("D.DDDDDD, optionally followed by .000.00.00.XNN")
                    .found(d.procedure.code.clone()),
            ),
            Some(false) => f.push(
                Finding::warning("/procedure/code", "procedure code in an unusual form")
                    .expected("1.001193, 1.001193.000.00.00.H41 or 2.002621.H56")
                    .found(d.procedure.code.clone()),
            ),
            Some(true) => {}
        }
    }
    if let Some(code) = &d.procedure.field_code
        && !is_strict_field_code(code)
    {
        f.push(
            Finding::warning("/procedure/field_code", "field code in an unusual form")
                .expected("e.g. G03-GD10")
                .found(code.clone()),
        );
    }
    for (i, doc) in d.applicant.identity_documents.iter().enumerate() {
        if !doc.kind.fits(&doc.number) {
            let expected = match doc.kind {
                lienthong_model::IdentityKind::CitizenId => "12 digits",
                lienthong_model::IdentityKind::LegacyId => "9 digits",
                lienthong_model::IdentityKind::Other => "a non-empty number",
            };
            f.push(
                Finding::error(
                    format!("/applicant/identity_documents/{i}/number"),
                    format!("not a valid {} number", doc.kind.name()),
                )
                .expected(expected)
                .found(format!("{} characters", doc.number.chars().count())),
            );
        }
    }
    if let Some(email) = &d.applicant.email {
        let ok = email
            .split_once('@')
            .is_some_and(|(u, h)| !u.is_empty() && h.contains('.') && !email.contains(' '));
        if !ok {
            f.push(Finding::error("/applicant/email", "not an e-mail address"));
        }
    }
    for (path, phone) in [
        ("/applicant/phone", &d.applicant.phone),
        ("/applicant/fax", &d.applicant.fax),
    ] {
        if let Some(p) = phone
            && !is_phone(p)
        {
            // Personal data: say what is wrong, never echo the number.
            f.push(
                Finding::error(path, "not a phone number")
                    .expected("8 to 15 digits, optionally with +, spaces, dots, dashes or ()"),
            );
        }
    }
    let urls = d
        .submitted_documents
        .iter()
        .enumerate()
        .map(|(i, x)| (format!("/submitted_documents/{i}/url"), &x.url))
        .chain(
            d.result_documents
                .iter()
                .enumerate()
                .map(|(i, x)| (format!("/result_documents/{i}/url"), &x.url)),
        );
    for (path, url) in urls {
        if let Some(u) = url {
            let ok = (u.starts_with("https://") || u.starts_with("http://"))
                && !u.contains(char::is_whitespace);
            if !ok {
                f.push(
                    Finding::error(path, "not a web address")
                        .expected("an http:// or https:// URL")
                        .found(u.clone()),
                );
            }
        }
    }
    // times against each other
    order(
        &mut f,
        ("received_at", d.received_at),
        ("submitted_at", d.submitted_at),
        false,
    );
    order(
        &mut f,
        ("due_at", d.due_at),
        ("received_at", d.received_at),
        true,
    );
    order(
        &mut f,
        ("finished_at", d.finished_at),
        ("received_at", d.received_at),
        true,
    );
    order(
        &mut f,
        ("returned_at", d.returned_at),
        ("received_at", d.received_at),
        true,
    );
    order(
        &mut f,
        ("returned_at", d.returned_at),
        ("finished_at", d.finished_at),
        true,
    );
    order(
        &mut f,
        ("refused_at", d.refused_at),
        ("submitted_at", d.submitted_at),
        true,
    );
    // times against the status
    use DossierStatus as S;
    let missing = |f: &mut Vec<Finding>, field: &str, status: S| {
        f.push(
            Finding::error(
                format!("/{field}"),
                format!("status {} needs {field}", status.name()),
            )
            .expected("an RFC 3339 time"),
        );
    };
    if let Some(status) = d.status {
        if status != S::Registered && status != S::NotAccepted && d.received_at.is_none() {
            missing(&mut f, "received_at", status);
        }
        if matches!(status, S::Finished | S::Returned) && d.finished_at.is_none() {
            missing(&mut f, "finished_at", status);
        }
        if status == S::Returned && d.returned_at.is_none() {
            missing(&mut f, "returned_at", status);
        }
        if status == S::NotAccepted && d.refused_at.is_none() {
            missing(&mut f, "refused_at", status);
        }
        if d.returned_at.is_some() && status != S::Returned {
            f.push(
                Finding::error(
                    "/status",
                    "the result was returned but the status says otherwise",
                )
                .expected("returned")
                .found(status.name()),
            );
        }
        if d.refused_at.is_some() && status != S::NotAccepted {
            f.push(
                Finding::error(
                    "/status",
                    "the dossier was refused but the status says otherwise",
                )
                .expected("not_accepted")
                .found(status.name()),
            );
        }
        if d.finished_at.is_some()
            && matches!(
                status,
                S::Registered | S::Accepted | S::Processing | S::SupplementRequested
            )
        {
            f.push(
                Finding::error(
                    "/status",
                    "processing has finished but the status says otherwise",
                )
                .expected("finished, returned, withdrawn or stopped")
                .found(status.name()),
            );
        }
    }
    for (i, s) in d.supplement_requests.iter().enumerate() {
        if let (Some(r), Some(q)) = (s.received_at, s.requested_at)
            && r < q
        {
            f.push(
                Finding::error(
                    format!("/supplement_requests/{i}/received_at"),
                    "supplement received before it was requested",
                )
                .found(local(r)),
            );
        }
    }
    f
}

/// Checks a progress step that was read.
pub fn validate_progress(p: &ProgressStep) -> Vec<Finding> {
    let mut f = Vec::new();
    order(
        &mut f,
        ("deadline_at", p.deadline_at),
        ("started_at", p.started_at),
        false,
    );
    order(&mut f, ("at", p.at), ("started_at", p.started_at), true);
    if !p.dossier_code.is_empty() && !is_strict_dossier_code(&p.dossier_code) {
        f.push(
            Finding::warning(
                "/dossier_code",
                "dossier code is not in the form {unit code}-{yyMMdd}-{NNNN}",
            )
            .found(p.dossier_code.clone()),
        );
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifier_forms() {
        assert!(is_strict_dossier_code("000.00.26.H31-201231-0001"));
        assert!(is_strict_dossier_code("000.00.12.H41-250314-10007"));
        assert!(!is_strict_dossier_code("HS-2025-0001"));
        assert!(!is_strict_dossier_code("000.00.26.H31-201331-0001"));
        assert_eq!(procedure_code_form("1.003560.000.00.00.H56"), Some(true));
        assert_eq!(procedure_code_form("2.000477"), Some(true));
        assert_eq!(procedure_code_form("2.002621.H56"), Some(true));
        assert_eq!(procedure_code_form("2.002621.abc"), Some(false));
        assert_eq!(procedure_code_form("TTHC-01"), None);
        assert!(is_strict_field_code("G03-GD10"));
        assert!(!is_strict_field_code("GD10"));
    }
}
