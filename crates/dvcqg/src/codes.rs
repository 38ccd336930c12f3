//! The DVCQG code tables (`dvcqg.md` §9), mapping the model's enums to their wire codes
//! and back, plus the English status words of the portal-side API and the reduced status
//! of `DongBoTrangThaiHoSo` (§8).
//!
//! Codes are written canonically (`"4"`) and read leniently: surrounding white space is
//! trimmed and leading zeros are accepted (`" 04 "` reads as `4`).

use lienthong_model::{
    ApplicantCategory, Channel, DossierStatus, IdentityKind, OnlinePayment, ResultDelivery,
};

/// A model enum with a closed DVCQG code table.
pub trait WireCode: Sized + Copy + 'static {
    /// The codes of the table, in order.
    const CODES: &'static [&'static str];

    /// The wire code.
    fn code(self) -> &'static str;

    /// Reads a code leniently (trimmed, leading zeros accepted); `None` when unknown.
    fn from_code(s: &str) -> Option<Self>;

    /// The allowed codes, for the `expected` of findings: `one of 1, 2, 3`.
    fn allowed() -> String {
        format!("one of {}", Self::CODES.join(", "))
    }
}

/// A numeric code in canonical form: trimmed, ASCII digits only, leading zeros removed
/// (`"00"` → `"0"`); `None` when the text is not a non-negative decimal number.
pub fn canonical(s: &str) -> Option<&str> {
    let t = s.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let stripped = t.trim_start_matches('0');
    Some(if stripped.is_empty() {
        &t[t.len() - 1..]
    } else {
        stripped
    })
}

macro_rules! code_table {
    ($ty:ty { $($variant:path => $code:literal,)* }) => {
        impl WireCode for $ty {
            const CODES: &'static [&'static str] = &[$($code,)*];

            fn code(self) -> &'static str {
                match self {
                    $($variant => $code,)*
                }
            }

            fn from_code(s: &str) -> Option<Self> {
                match canonical(s)? {
                    $($code => Some($variant),)*
                    _ => None,
                }
            }
        }
    };
}

code_table!(DossierStatus {
    DossierStatus::Registered => "1",
    DossierStatus::Accepted => "2",
    DossierStatus::NotAccepted => "3",
    DossierStatus::Processing => "4",
    DossierStatus::SupplementRequested => "5",
    DossierStatus::FinancialObligation => "6",
    DossierStatus::Withdrawn => "7",
    DossierStatus::Stopped => "8",
    DossierStatus::Finished => "9",
    DossierStatus::Returned => "10",
});

code_table!(Channel {
    Channel::InPerson => "1",
    Channel::Online => "2",
    Channel::Postal => "3",
});

code_table!(ApplicantCategory {
    ApplicantCategory::Citizen => "1",
    ApplicantCategory::Enterprise => "2",
    ApplicantCategory::StateAgency => "3",
    ApplicantCategory::Organisation => "4",
});

code_table!(ResultDelivery {
    ResultDelivery::AtOffice => "0",
    ResultDelivery::ByPost => "1",
});

code_table!(OnlinePayment {
    OnlinePayment::None => "0",
    OnlinePayment::DvcqgPlatform => "1",
    OnlinePayment::OwnGateway => "2",
    OnlinePayment::NotPaidOnline => "3",
});

/// The `LoaiDinhDanh` codes (§9.6).
pub const IDENTITY_KIND_CODES: &[&str] = &["1", "2"];

/// `LoaiDinhDanh` of an identity kind; `None` for [`IdentityKind::Other`], which DVCQG
/// cannot carry in `DinhDanhCHS`.
pub fn identity_kind_code(kind: IdentityKind) -> Option<&'static str> {
    match kind {
        IdentityKind::CitizenId => Some("1"),
        IdentityKind::LegacyId => Some("2"),
        IdentityKind::Other => None,
    }
}

/// Reads a `LoaiDinhDanh` code leniently.
pub fn identity_kind_from_code(s: &str) -> Option<IdentityKind> {
    match canonical(s)? {
        "1" => Some(IdentityKind::CitizenId),
        "2" => Some(IdentityKind::LegacyId),
        _ => None,
    }
}

/// A `"0"`/`"1"` flag (`HoSoCoThanhPhanSoHoa`, `DuocSoHoa`, …).
pub fn flag_code(b: bool) -> &'static str {
    if b { "1" } else { "0" }
}

/// A `"True"`/`"False"` flag (`IsDeleted`, `isUpdating`).
pub fn true_false(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

/// Reads a flag leniently: `0`/`1` (leading zeros accepted) or `true`/`false` in any case.
pub fn flag_from_code(s: &str) -> Option<bool> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("true") {
        return Some(true);
    }
    if t.eq_ignore_ascii_case("false") {
        return Some(false);
    }
    match canonical(t)? {
        "0" => Some(false),
        "1" => Some(true),
        _ => None,
    }
}

/// A status reported as an English word by the portal-side API (§9.1), case-insensitive;
/// `interoperating`, `posting` and unknown words have no status.
pub fn status_from_word(word: &str) -> Option<DossierStatus> {
    let w = word.trim().to_ascii_lowercase();
    Some(match w.as_str() {
        "receiving" => DossierStatus::Registered,
        "new" => DossierStatus::Accepted,
        "denied" => DossierStatus::NotAccepted,
        "processing" => DossierStatus::Processing,
        "waiting" => DossierStatus::SupplementRequested,
        "paying" => DossierStatus::FinancialObligation,
        "cancelled" => DossierStatus::Withdrawn,
        "unresolved" => DossierStatus::Stopped,
        "releasing" => DossierStatus::Finished,
        "done" => DossierStatus::Returned,
        _ => return None,
    })
}

/// The reduced `TrangThai` of `DongBoTrangThaiHoSo` (§8): `"2"` (accepted) for statuses
/// 2, 4, 6, 9, 10; `"5"` (needs supplement / refused) for 3, 5, 7, 8; `None` for 1
/// (registered), which is not reported.
///
/// §8 names 4, 6, 9, 10 → `2` and 3, 7, 8 → `5`; 2 and 5 are the reduced codes themselves
/// and 1 decides nothing. Those three are the gateway's decisions, made by the workflow
/// crate (`lienthong_workflow::status::reduce`, table and reasons in
/// `docs/status-reduction.md`); this table agrees with it for every status (a test in the
/// workflow crate holds the two together).
pub fn reduced_status(status: DossierStatus) -> Option<&'static str> {
    match status {
        DossierStatus::Accepted
        | DossierStatus::Processing
        | DossierStatus::FinancialObligation
        | DossierStatus::Finished
        | DossierStatus::Returned => Some("2"),
        DossierStatus::NotAccepted
        | DossierStatus::SupplementRequested
        | DossierStatus::Withdrawn
        | DossierStatus::Stopped => Some("5"),
        DossierStatus::Registered => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: WireCode + PartialEq + std::fmt::Debug>(all: &[T], codes: &[&str]) {
        assert_eq!(T::CODES, codes);
        assert_eq!(all.len(), codes.len());
        for (v, c) in all.iter().zip(codes) {
            assert_eq!(v.code(), *c);
            assert_eq!(T::from_code(c), Some(*v));
            assert_eq!(
                T::from_code(&format!(" 0{c} ")),
                Some(*v),
                "leading zero {c}"
            );
        }
    }

    #[test]
    fn dossier_status() {
        let codes = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"];
        round_trip(DossierStatus::ALL, &codes);
        assert_eq!(
            DossierStatus::from_code("10"),
            Some(DossierStatus::Returned)
        );
        assert_eq!(
            DossierStatus::from_code("010"),
            Some(DossierStatus::Returned)
        );
        for bad in ["0", "11", "", " ", "-1", "+4", "4.0", "a", "1 0"] {
            assert_eq!(DossierStatus::from_code(bad), None, "{bad:?}");
        }
        assert_eq!(
            DossierStatus::allowed(),
            "one of 1, 2, 3, 4, 5, 6, 7, 8, 9, 10"
        );
    }

    #[test]
    fn channel() {
        round_trip(Channel::ALL, &["1", "2", "3"]);
        assert_eq!(Channel::from_code("0"), None);
        assert_eq!(Channel::from_code("4"), None);
    }

    #[test]
    fn applicant_category() {
        round_trip(ApplicantCategory::ALL, &["1", "2", "3", "4"]);
        assert_eq!(ApplicantCategory::from_code("5"), None);
        assert_eq!(ApplicantCategory::from_code("0"), None);
    }

    #[test]
    fn result_delivery() {
        round_trip(ResultDelivery::ALL, &["0", "1"]);
        assert_eq!(
            ResultDelivery::from_code("00"),
            Some(ResultDelivery::AtOffice)
        );
        assert_eq!(ResultDelivery::from_code("2"), None);
    }

    #[test]
    fn online_payment() {
        round_trip(OnlinePayment::ALL, &["0", "1", "2", "3"]);
        assert_eq!(OnlinePayment::from_code("4"), None);
    }

    #[test]
    fn identity_kind() {
        assert_eq!(identity_kind_code(IdentityKind::CitizenId), Some("1"));
        assert_eq!(identity_kind_code(IdentityKind::LegacyId), Some("2"));
        assert_eq!(identity_kind_code(IdentityKind::Other), None);
        assert_eq!(identity_kind_from_code("1"), Some(IdentityKind::CitizenId));
        assert_eq!(identity_kind_from_code(" 02"), Some(IdentityKind::LegacyId));
        assert_eq!(identity_kind_from_code("3"), None);
        assert_eq!(identity_kind_from_code("0"), None);
    }

    #[test]
    fn flags() {
        assert_eq!(flag_code(true), "1");
        assert_eq!(flag_code(false), "0");
        assert_eq!(true_false(true), "True");
        assert_eq!(true_false(false), "False");
        assert_eq!(flag_from_code("1"), Some(true));
        assert_eq!(flag_from_code(" 0 "), Some(false));
        assert_eq!(flag_from_code("TRUE"), Some(true));
        assert_eq!(flag_from_code("False"), Some(false));
        assert_eq!(flag_from_code("2"), None);
        assert_eq!(flag_from_code("yes"), None);
        assert_eq!(flag_from_code(""), None);
    }

    #[test]
    fn english_words() {
        let words = [
            "receiving",
            "new",
            "denied",
            "processing",
            "waiting",
            "paying",
            "cancelled",
            "unresolved",
            "releasing",
            "done",
        ];
        for (w, s) in words.iter().zip(DossierStatus::ALL) {
            assert_eq!(status_from_word(w), Some(*s), "{w}");
        }
        assert_eq!(status_from_word(" Done "), Some(DossierStatus::Returned));
        assert_eq!(status_from_word("interoperating"), None);
        assert_eq!(status_from_word("posting"), None);
        assert_eq!(status_from_word(""), None);
    }

    #[test]
    fn reduction() {
        let reduced: Vec<(&str, Option<&str>)> = DossierStatus::ALL
            .iter()
            .map(|s| (s.code(), reduced_status(*s)))
            .collect();
        assert_eq!(
            reduced,
            [
                ("1", None),
                ("2", Some("2")),
                ("3", Some("5")),
                ("4", Some("2")),
                ("5", Some("5")),
                ("6", Some("2")),
                ("7", Some("5")),
                ("8", Some("5")),
                ("9", Some("2")),
                ("10", Some("2")),
            ]
        );
    }

    #[test]
    fn canonical_codes() {
        assert_eq!(canonical("00"), Some("0"));
        assert_eq!(canonical(" 007 "), Some("7"));
        assert_eq!(canonical("10"), Some("10"));
        assert_eq!(canonical(""), None);
        assert_eq!(canonical("-3"), None);
        assert_eq!(canonical("３"), None);
    }
}
