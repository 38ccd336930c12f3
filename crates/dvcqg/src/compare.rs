//! Comparing the dossier the gateway would send with the portal's copy (`TraCuuHoSo`), for
//! `lienthong resync`.
//!
//! The portal's answer is read leniently ([`read_dossier_item`]) and both sides are compared
//! member by member in their wire form, so formatting the reader tolerates (numbers for
//! strings, surrounding blanks) is not a difference. A [`Difference`] names the member and
//! shows both values only for members that hold no personal data; for the others it says
//! that they differ and nothing more.

use crate::read::read_dossier_item;
use crate::wire::DossierItem;
use serde::Serialize;
use serde_json::Value;

/// Members whose values are personal data: compared, never shown.
const PERSONAL: &[&str] = &[
    "ChuHoSo",
    "SoGiayToChuHoSo",
    "MaDoiTuong",
    "Email",
    "Fax",
    "SoDienThoai",
    "ThongTinKhac",
    "TrichYeuHoSo",
    "DinhDanhCHS",
    "GhiChu",
    "ThongTinTra",
];

/// Members the gateway never writes (read-only on the portal's side).
const NOT_SENT: &[&str] = &["SoBienNhan"];

/// One member whose value differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// The member (`TrangThaiHoSo`, `TaiLieuNop`, …).
    pub field: String,
    /// What the gateway would send (`None` for personal data, or a list's summary).
    pub expected: Option<String>,
    /// What the portal holds (same rule).
    pub found: Option<String>,
}

fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => format!("{} item(s)", a.len()),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The members in which the portal's copy `found` differs from `expected`, in the wire
/// order of `expected`. A `found` that is not an object differs in every member.
pub fn differences(expected: &DossierItem, found: &Value) -> Vec<Difference> {
    let mut findings = Vec::new();
    let found = read_dossier_item(found, "", &mut findings).unwrap_or_default();
    let (Ok(Value::Object(want)), Ok(Value::Object(have))) =
        (serde_json::to_value(expected), serde_json::to_value(&found))
    else {
        return Vec::new();
    };
    let mut names: Vec<&String> = want.keys().collect();
    for k in have.keys() {
        if !want.contains_key(k) {
            names.push(k);
        }
    }
    let empty = Value::Null;
    let blank = |v: &Value| match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    };
    let mut out = Vec::new();
    for name in names {
        if NOT_SENT.contains(&name.as_str()) {
            continue;
        }
        let a = want.get(name).unwrap_or(&empty);
        let b = have.get(name).unwrap_or(&empty);
        let same = match (a, b) {
            (Value::String(x), Value::String(y)) => x.trim() == y.trim(),
            _ => a == b || (blank(a) && blank(b)),
        };
        if same {
            continue;
        }
        let personal = PERSONAL.contains(&name.as_str());
        out.push(Difference {
            field: name.clone(),
            expected: (!personal).then(|| shown(a)),
            found: (!personal).then(|| shown(b)),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item() -> DossierItem {
        DossierItem {
            MaHoSo: "000.00.15.H41-260101-0001".into(),
            MaTTHC: "1.001193".into(),
            TrangThaiHoSo: "4".into(),
            ChuHoSo: "Nguyễn Văn A".into(),
            SoDienThoai: "0912345678".into(),
            ..DossierItem::default()
        }
    }

    #[test]
    fn an_equal_copy_has_no_difference() {
        let i = item();
        let v = serde_json::to_value(&i).expect("json");
        assert!(differences(&i, &v).is_empty());
    }

    #[test]
    fn differences_name_fields_and_hide_personal_values() {
        let i = item();
        let mut v = serde_json::to_value(&i).expect("json");
        v["TrangThaiHoSo"] = "2".into();
        v["SoDienThoai"] = "0000".into();
        let d = differences(&i, &v);
        assert_eq!(d.len(), 2, "{d:?}");
        assert_eq!(d[0].field, "SoDienThoai");
        assert_eq!(d[0].expected, None);
        assert_eq!(d[1].field, "TrangThaiHoSo");
        assert_eq!(d[1].expected.as_deref(), Some("4"));
        assert_eq!(d[1].found.as_deref(), Some("2"));
        let text = format!("{d:?}");
        assert!(!text.contains("0912345678") && !text.contains("0000"));
    }
}
