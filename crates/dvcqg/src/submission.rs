//! Dossiers citizens submit on the portal itself ("portal submissions"): the push that brings
//! them to the province, and the `DongBoTrangThaiHoSo` item that reports their processing
//! status back (`dvcqg.md` §8).
//!
//! The push contract is an ASSUMPTION shared with the simulator (no public contract exists,
//! `docs/simulators.md`): `POST <receiver>` with `Authorization: Bearer <token>` and the body
//! `{"service":"DongBoHoSoDVCQG","data":[<dossier object>]}`, the dossier object being the
//! `DongBoHoSoMC` item of §6. [`read_push`] reads such a body leniently (like every portal
//! object, [`crate::read`]) and validates each dossier as the portal does
//! ([`validate_dossier_item`]); every problem is a finding at its JSON Pointer
//! (`/data/0/TrangThaiHoSo`), never quoting personal values.
//!
//! [`status_item`] writes the report of one status: the reduced status comes from the
//! caller (the workflow crate decides the reduction), this module only knows its wire code.

use crate::codes::WireCode;
use crate::read::{read_dossier_item, validate_dossier_item};
use crate::time;
use crate::wire::{DossierItem, StatusSyncItem};
use jiff::Timestamp;
use lienthong_jsonread::Obj;
use lienthong_model::{DossierStatus, Finding, Severity};

/// The `service` of a push (ASSUMPTION, the simulator's contract).
pub const PUSH_SERVICE: &str = "DongBoHoSoDVCQG";

/// At most this many dossiers per push (the simulator sends one).
pub const MAX_PUSHED_ITEMS: usize = 100;

/// A push that was read: its dossiers, validated, and the warnings met on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Push {
    /// The dossiers, in body order.
    pub items: Vec<DossierItem>,
    /// Warnings (unknown fields, a missing `service`); never errors.
    pub warnings: Vec<Finding>,
}

/// Reads and validates a push body. `Err` holds every finding (at least one error) when
/// any dossier is unusable: the push is taken whole or not at all.
pub fn read_push(body: &[u8]) -> Result<Push, Vec<Finding>> {
    let value = match lienthong_jsonread::parse(body) {
        Ok(v) => v,
        Err(f) => return Err(vec![f]),
    };
    let mut f = Vec::new();
    let Some(mut o) = Obj::new(&value, "", &mut f) else {
        return Err(f);
    };
    match o.lenient_str("service", &mut f) {
        None => f.push(
            Finding::warning("/service", "no service name; read as a dossier push")
                .expected(PUSH_SERVICE),
        ),
        Some(s) if s == PUSH_SERVICE => {}
        Some(s) => f.push(
            Finding::error("/service", "not a dossier push")
                .expected(PUSH_SERVICE)
                .found(s),
        ),
    }
    let has_data = o.has("data");
    let entries = o.array("data", &mut f);
    let mut items = Vec::with_capacity(entries.len());
    if entries.is_empty() && has_data && !f.iter().any(|x| x.path == "/data") {
        f.push(
            Finding::error("/data", "no dossier in the push")
                .expected("an array of 1 to 100 dossier objects")
                .found("an empty array"),
        );
    } else if !has_data {
        f.push(
            Finding::error("/data", "no dossier in the push")
                .expected("an array of 1 to 100 dossier objects"),
        );
    } else if entries.len() > MAX_PUSHED_ITEMS {
        f.push(
            Finding::error("/data", "too many dossiers in one push")
                .expected(format!("at most {MAX_PUSHED_ITEMS}"))
                .found(entries.len().to_string()),
        );
    }
    for (path, v) in entries.iter().take(MAX_PUSHED_ITEMS) {
        if let Some(item) = read_dossier_item(v, path, &mut f) {
            validate_dossier_item(&item, path, &mut f);
            items.push(item);
        }
    }
    o.finish(Severity::Warning, &mut f);
    if f.iter().any(Finding::is_error) {
        return Err(f);
    }
    Ok(Push { items, warnings: f })
}

/// The `DongBoTrangThaiHoSo` item reporting `reduced` (the status whose code the portal
/// receives: [`DossierStatus::Accepted`] → `"2"` or [`DossierStatus::SupplementRequested`]
/// → `"5"`) for the portal dossier `portal`, known locally as `local_code`, with the text
/// of the step and its time. `TaiLieuXuLy` is sent empty: the shape of its items was never
/// observed (§8), and the gateway does not invent one.
pub fn status_item(
    portal: &DossierItem,
    local_code: &str,
    reduced: DossierStatus,
    text: &str,
    at: Timestamp,
) -> StatusSyncItem {
    StatusSyncItem {
        MaHoSo: portal.MaHoSo.trim().to_owned(),
        MaHoSoDonVi: local_code.to_owned(),
        MaDoiTuong: portal.MaDoiTuong.trim().to_owned(),
        NoiDung: text.to_owned(),
        NgayXuLy: time::format(at).unwrap_or_default(),
        TrangThai: reduced.code().to_owned(),
        TaiLieuXuLy: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item() -> serde_json::Value {
        json!({
            "MaHoSo": "000.00.12.H41-250314-90001",
            "MaTTHC": "1.001193",
            "TrangThaiHoSo": "1",
            "NgayTiepNhan": "20250314091502",
            "KenhThucHien": "2",
            "MaDoiTuong": "techid-1",
            "SoDienThoai": "0900000000",
        })
    }

    #[test]
    fn a_push_reads_and_validates() {
        let body = json!({"service": PUSH_SERVICE, "data": [item()]}).to_string();
        let p = read_push(body.as_bytes()).expect("valid");
        assert_eq!(p.items.len(), 1);
        assert_eq!(p.items[0].MaHoSo, "000.00.12.H41-250314-90001");
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        let body = json!({"data": [item()], "extra": 1}).to_string();
        let p = read_push(body.as_bytes()).expect("valid");
        let paths: Vec<_> = p.warnings.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["/service", "/extra"]);
    }

    #[test]
    fn a_bad_push_names_the_field_and_never_the_personal_value() {
        let mut bad = item();
        bad["TrangThaiHoSo"] = json!("11");
        bad["SoDienThoai"] = json!(["0900000000"]);
        let body = json!({"service": PUSH_SERVICE, "data": [item(), bad]}).to_string();
        let f = read_push(body.as_bytes()).expect_err("invalid");
        let paths: Vec<_> = f
            .iter()
            .filter(|x| x.is_error())
            .map(|x| x.path.as_str())
            .collect();
        assert_eq!(paths, ["/data/1/SoDienThoai", "/data/1/TrangThaiHoSo"]);
        assert!(f.iter().all(|x| !x.to_string().contains("0900000000")));
        for (body, path) in [
            (b"{".to_vec(), "/"),
            (
                json!({"service": "X", "data": [item()]})
                    .to_string()
                    .into_bytes(),
                "/service",
            ),
            (
                json!({"service": PUSH_SERVICE}).to_string().into_bytes(),
                "/data",
            ),
            (
                json!({"service": PUSH_SERVICE, "data": []})
                    .to_string()
                    .into_bytes(),
                "/data",
            ),
            (
                json!({"service": PUSH_SERVICE, "data": {}})
                    .to_string()
                    .into_bytes(),
                "/data",
            ),
            (
                json!({"service": PUSH_SERVICE, "data": [1]})
                    .to_string()
                    .into_bytes(),
                "/data/0",
            ),
        ] {
            let f = read_push(&body).expect_err("invalid");
            assert!(
                f.iter().any(|x| x.is_error() && x.path == path),
                "{path}: {f:?}"
            );
        }
    }

    #[test]
    fn status_items_carry_the_reduced_code() {
        let body = json!({"service": PUSH_SERVICE, "data": [item()]}).to_string();
        let p = read_push(body.as_bytes()).expect("valid");
        let at = Timestamp::from_second(1_741_918_502).expect("instant");
        let s = status_item(
            &p.items[0],
            "LOCAL-1",
            DossierStatus::SupplementRequested,
            "Yêu cầu bổ sung",
            at,
        );
        assert_eq!(s.MaHoSo, "000.00.12.H41-250314-90001");
        assert_eq!(s.MaHoSoDonVi, "LOCAL-1");
        assert_eq!(s.MaDoiTuong, "techid-1");
        assert_eq!(s.TrangThai, "5");
        assert_eq!(s.NgayXuLy, "20250314091502");
        let s = status_item(&p.items[0], "L", DossierStatus::Accepted, "", at);
        assert_eq!(s.TrangThai, "2");
    }
}
