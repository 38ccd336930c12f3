//! Lenient reading of DVCQG objects from JSON, and the validation the portal (and its
//! simulator, `dvcqg.md` §13.3–13.4) applies to them.
//!
//! Readers accept every scalar as a string, a number or a boolean (`"1"` and `1` alike),
//! trim values, treat null and absent as `""`, and report unknown fields as warnings; they
//! fail only when the value is not an object. Validators check presence of the required
//! fields, the `yyyyMMddHHmmss` dates and the §9 code tables. All findings are at JSON
//! Pointer paths under the given prefix (`/TrangThaiHoSo`, `/TaiLieuNop/0/TenTepDinhKem`).
//! Values of personal fields (names, identity numbers, portal account, phone, fax, e-mail)
//! never appear in findings.

use crate::codes::{IDENTITY_KIND_CODES, WireCode, identity_kind_from_code};
use crate::time;
use crate::wire::{
    DatabaseItem, DossierItem, FeeItem, IdentifierItem, OtherAttachmentItem, ProgressItem,
    ResultDocumentItem, SubmittedDocumentItem, SupplementItem,
};
use lienthong_jsonread::{Obj, type_name};
use lienthong_model::{
    ApplicantCategory, Channel, DossierStatus, Finding, OnlinePayment, ResultDelivery, Severity,
};
use serde_json::Value;

/// A scalar field as text; `""` when absent, null or blank.
fn s(o: &mut Obj<'_>, key: &'static str, f: &mut Vec<Finding>) -> String {
    o.lenient_str(key, f).unwrap_or_default()
}

/// A scalar field holding personal data: as [`s`], but a finding about it shows only the
/// JSON type of the value, never the value.
fn personal(o: &mut Obj<'_>, key: &'static str, f: &mut Vec<Finding>) -> String {
    let ty = o.raw(key).map(type_name);
    let mut own = Vec::new();
    let v = o.lenient_str(key, &mut own).unwrap_or_default();
    for mut x in own {
        if x.found.is_some() {
            x.found = Some(format!(
                "{} (value withheld: personal data)",
                ty.unwrap_or("a value")
            ));
        }
        f.push(x);
    }
    v
}

/// An optional scalar field: `None` when absent, null or blank.
fn opt(o: &mut Obj<'_>, key: &'static str, f: &mut Vec<Finding>) -> Option<String> {
    o.lenient_str(key, f)
}

/// An array of opaque items (shape not observed): kept as they are.
fn values(o: &mut Obj<'_>, key: &'static str, f: &mut Vec<Finding>) -> Vec<Value> {
    o.array(key, f)
        .into_iter()
        .map(|(_, v)| v.clone())
        .collect()
}

/// The objects of an array field, each read by `read`.
fn objects<'v, T>(
    o: &mut Obj<'v>,
    key: &'static str,
    f: &mut Vec<Finding>,
    read: impl Fn(Obj<'v>, &mut Vec<Finding>) -> T,
) -> Vec<T> {
    let mut out = Vec::new();
    for (path, v) in o.array(key, f) {
        if let Some(x) = Obj::new(v, &path, f) {
            out.push(read(x, f));
        }
    }
    out
}

fn submitted(mut x: Obj<'_>, f: &mut Vec<Finding>) -> SubmittedDocumentItem {
    let item = SubmittedDocumentItem {
        TepDinhKemId: s(&mut x, "TepDinhKemId", f),
        TenTepDinhKem: s(&mut x, "TenTepDinhKem", f),
        IsDeleted: s(&mut x, "IsDeleted", f),
        MaThanhPhanHoSo: s(&mut x, "MaThanhPhanHoSo", f),
        DuongDanTaiTepTin: s(&mut x, "DuongDanTaiTepTin", f),
        DuocSoHoa: s(&mut x, "DuocSoHoa", f),
        DuocTaiSuDung: s(&mut x, "DuocTaiSuDung", f),
        DuocLayTuKhoDMQG: s(&mut x, "DuocLayTuKhoDMQG", f),
        MaKetQuaThayThe: s(&mut x, "MaKetQuaThayThe", f),
    };
    x.finish(Severity::Warning, f);
    item
}

fn fee(mut x: Obj<'_>, f: &mut Vec<Finding>) -> FeeItem {
    let item = FeeItem {
        TenPhiLePhi: s(&mut x, "TenPhiLePhi", f),
        MaPhiLePhi: s(&mut x, "MaPhiLePhi", f),
        HinhThucThu: s(&mut x, "HinhThucThu", f),
        Gia: s(&mut x, "Gia", f),
        LoaiPhiLePhi: s(&mut x, "LoaiPhiLePhi", f),
    };
    x.finish(Severity::Warning, f);
    item
}

fn other_attachment(mut x: Obj<'_>, f: &mut Vec<Finding>) -> OtherAttachmentItem {
    let item = OtherAttachmentItem {
        TenGiayTo: s(&mut x, "TenGiayTo", f),
        SoLuong: s(&mut x, "SoLuong", f),
        LoaiGiayTo: s(&mut x, "LoaiGiayTo", f),
    };
    x.finish(Severity::Warning, f);
    item
}

fn supplement(mut x: Obj<'_>, f: &mut Vec<Finding>) -> SupplementItem {
    let item = SupplementItem {
        HoSoBoSungId: s(&mut x, "HoSoBoSungId", f),
        NguoiYeuCauBoSung: s(&mut x, "NguoiYeuCauBoSung", f),
        NoiDungBoSung: s(&mut x, "NoiDungBoSung", f),
        NgayBoSung: s(&mut x, "NgayBoSung", f),
        NguoiTiepNhanBoSung: s(&mut x, "NguoiTiepNhanBoSung", f),
        ThongTinTiepNhan: s(&mut x, "ThongTinTiepNhan", f),
        NgayTiepNhanBoSung: s(&mut x, "NgayTiepNhanBoSung", f),
        TrangThaiBoSung: s(&mut x, "TrangThaiBoSung", f),
        DanhSachGiayToBoSung: values(&mut x, "DanhSachGiayToBoSung", f),
        DanhSachLePhiBoSung: values(&mut x, "DanhSachLePhiBoSung", f),
        NgayHenTraTruoc: s(&mut x, "NgayHenTraTruoc", f),
        NgayHenTraMoi: s(&mut x, "NgayHenTraMoi", f),
    };
    x.finish(Severity::Warning, f);
    item
}

fn result_document(mut x: Obj<'_>, f: &mut Vec<Finding>) -> ResultDocumentItem {
    let item = ResultDocumentItem {
        TenGiayTo: s(&mut x, "TenGiayTo", f),
        MaThanhPhanHoSo: s(&mut x, "MaThanhPhanHoSo", f),
        GiayToId: s(&mut x, "GiayToId", f),
        DuongDanTepTinKetQua: s(&mut x, "DuongDanTepTinKetQua", f),
        MaGiayToKetQua: s(&mut x, "MaGiayToKetQua", f),
    };
    x.finish(Severity::Warning, f);
    item
}

fn identifier(mut x: Obj<'_>, f: &mut Vec<Finding>) -> IdentifierItem {
    let item = IdentifierItem {
        LoaiDinhDanh: s(&mut x, "LoaiDinhDanh", f),
        SoDinhDanh: personal(&mut x, "SoDinhDanh", f),
    };
    x.finish(Severity::Warning, f);
    item
}

fn database(mut x: Obj<'_>, f: &mut Vec<Finding>) -> DatabaseItem {
    let item = DatabaseItem {
        MaCSDL: s(&mut x, "MaCSDL", f),
    };
    x.finish(Severity::Warning, f);
    item
}

/// Reads a `DongBoHoSoMC` / `TraCuuHoSo` dossier object found at `path` (`""` for the
/// root). `None` only when the value is not an object (an error finding); otherwise every
/// field is read leniently, type mismatches are errors and the field is left `""`, unknown
/// fields are warnings. No validation: see [`validate_dossier_item`].
pub fn read_dossier_item(v: &Value, path: &str, f: &mut Vec<Finding>) -> Option<DossierItem> {
    let mut o = Obj::new(v, path, f)?;
    let item = DossierItem {
        MaHoSo: s(&mut o, "MaHoSo", f),
        MaTTHC: s(&mut o, "MaTTHC", f),
        TenTTHC: s(&mut o, "TenTTHC", f),
        MaLinhVuc: s(&mut o, "MaLinhVuc", f),
        TenLinhVuc: s(&mut o, "TenLinhVuc", f),
        SoBienNhan: opt(&mut o, "SoBienNhan", f),
        KenhThucHien: s(&mut o, "KenhThucHien", f),
        ChuHoSo: personal(&mut o, "ChuHoSo", f),
        SoGiayToChuHoSo: Some(personal(&mut o, "SoGiayToChuHoSo", f)).filter(|x| !x.is_empty()),
        LoaiDoiTuong: s(&mut o, "LoaiDoiTuong", f),
        MaDoiTuong: personal(&mut o, "MaDoiTuong", f),
        ThongTinKhac: s(&mut o, "ThongTinKhac", f),
        Email: personal(&mut o, "Email", f),
        Fax: personal(&mut o, "Fax", f),
        SoDienThoai: personal(&mut o, "SoDienThoai", f),
        TrichYeuHoSo: s(&mut o, "TrichYeuHoSo", f),
        NgayTiepNhan: s(&mut o, "NgayTiepNhan", f),
        NgayHenTra: s(&mut o, "NgayHenTra", f),
        TrangThaiHoSo: s(&mut o, "TrangThaiHoSo", f),
        NgayTra: s(&mut o, "NgayTra", f),
        ThongTinTra: s(&mut o, "ThongTinTra", f),
        HinhThuc: s(&mut o, "HinhThuc", f),
        NgayKetThucXuLy: s(&mut o, "NgayKetThucXuLy", f),
        DonViXuLy: s(&mut o, "DonViXuLy", f),
        GhiChu: s(&mut o, "GhiChu", f),
        TaiLieuNop: objects(&mut o, "TaiLieuNop", f, submitted),
        DanhSachLePhi: objects(&mut o, "DanhSachLePhi", f, fee),
        DanhSachTepDinhKemKhac: objects(&mut o, "DanhSachTepDinhKemKhac", f, other_attachment),
        DanhSachHoSoBoSung: objects(&mut o, "DanhSachHoSoBoSung", f, supplement),
        DanhSachGiayToKetQua: objects(&mut o, "DanhSachGiayToKetQua", f, result_document),
        NoiNopHoSo: opt(&mut o, "NoiNopHoSo", f),
        HoSoCoThanhPhanSoHoa: s(&mut o, "HoSoCoThanhPhanSoHoa", f),
        TaiKhoanDuocXacThucVoiVNeID: s(&mut o, "TaiKhoanDuocXacThucVoiVNeID", f),
        DuocThanhToanTrucTuyen: s(&mut o, "DuocThanhToanTrucTuyen", f),
        NgayTuChoi: opt(&mut o, "NgayTuChoi", f),
        DinhDanhCHS: objects(&mut o, "DinhDanhCHS", f, identifier),
        NgayNopHoSo: opt(&mut o, "NgayNopHoSo", f),
        DSKetNoiCSDL: objects(&mut o, "DSKetNoiCSDL", f, database),
    };
    o.finish(Severity::Warning, f);
    Some(item)
}

/// Reads a `CapNhatTienDoHoSoMC` progress object found at `path`, like
/// [`read_dossier_item`].
pub fn read_progress_item(v: &Value, path: &str, f: &mut Vec<Finding>) -> Option<ProgressItem> {
    let mut o = Obj::new(v, path, f)?;
    let item = ProgressItem {
        MaHoSo: s(&mut o, "MaHoSo", f),
        NguoiXuLy: s(&mut o, "NguoiXuLy", f),
        ChucDanh: s(&mut o, "ChucDanh", f),
        ThoiDiemXuLy: s(&mut o, "ThoiDiemXuLy", f),
        PhongBanXuLy: s(&mut o, "PhongBanXuLy", f),
        NoiDungXuLy: s(&mut o, "NoiDungXuLy", f),
        TrangThai: s(&mut o, "TrangThai", f),
        NgayBatDau: s(&mut o, "NgayBatDau", f),
        NgayKetThucTheoQuyDinh: s(&mut o, "NgayKetThucTheoQuyDinh", f),
    };
    o.finish(Severity::Warning, f);
    Some(item)
}

// ---------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------

fn required(value: &str, path: String, what: &str, f: &mut Vec<Finding>) -> bool {
    if value.trim().is_empty() {
        f.push(
            Finding::error(path, format!("DVCQG requires {what}")).expected("a non-empty value"),
        );
        false
    } else {
        true
    }
}

/// A date field: `""` or exactly 14 digits forming a real `yyyyMMddHHmmss`.
fn date(value: &str, path: String, f: &mut Vec<Finding>) {
    let v = value.trim();
    if !v.is_empty() && !time::is_strict(v) {
        f.push(
            Finding::error(path, "not a valid DVCQG date-time")
                .expected(time::FORMAT)
                .found(v),
        );
    }
}

/// A code field: `""` or a code of the table of `T` (read leniently).
fn code<T: WireCode>(value: &str, path: String, f: &mut Vec<Finding>) {
    let v = value.trim();
    if !v.is_empty() && T::from_code(v).is_none() {
        f.push(
            Finding::error(path, "code not in the DVCQG table")
                .expected(T::allowed())
                .found(v),
        );
    }
}

/// Checks a dossier item as the portal's simulator does (`dvcqg.md` §13.3): `MaHoSo`,
/// `MaTTHC`, `TrangThaiHoSo` and `NgayTiepNhan` non-empty; every date `""` or a valid
/// 14-digit `yyyyMMddHHmmss`; `TrangThaiHoSo`, `KenhThucHien`, `LoaiDoiTuong`,
/// `HinhThuc`, `DuocThanhToanTrucTuyen` and `LoaiDinhDanh` within the §9 tables. Findings
/// are at `path` + the field's JSON Pointer.
pub fn validate_dossier_item(item: &DossierItem, path: &str, f: &mut Vec<Finding>) {
    let at = |field: &str| format!("{path}/{field}");
    required(&item.MaHoSo, at("MaHoSo"), "the dossier code (MaHoSo)", f);
    required(&item.MaTTHC, at("MaTTHC"), "the procedure code (MaTTHC)", f);
    if required(
        &item.TrangThaiHoSo,
        at("TrangThaiHoSo"),
        "the dossier status (TrangThaiHoSo)",
        f,
    ) {
        code::<DossierStatus>(&item.TrangThaiHoSo, at("TrangThaiHoSo"), f);
    }
    if required(
        &item.NgayTiepNhan,
        at("NgayTiepNhan"),
        "the reception time (NgayTiepNhan)",
        f,
    ) {
        date(&item.NgayTiepNhan, at("NgayTiepNhan"), f);
    }
    code::<Channel>(&item.KenhThucHien, at("KenhThucHien"), f);
    code::<ApplicantCategory>(&item.LoaiDoiTuong, at("LoaiDoiTuong"), f);
    date(&item.NgayHenTra, at("NgayHenTra"), f);
    date(&item.NgayTra, at("NgayTra"), f);
    code::<ResultDelivery>(&item.HinhThuc, at("HinhThuc"), f);
    date(&item.NgayKetThucXuLy, at("NgayKetThucXuLy"), f);
    for (i, x) in item.DanhSachHoSoBoSung.iter().enumerate() {
        let p = |field: &str| format!("{path}/DanhSachHoSoBoSung/{i}/{field}");
        date(&x.NgayBoSung, p("NgayBoSung"), f);
        date(&x.NgayTiepNhanBoSung, p("NgayTiepNhanBoSung"), f);
        date(&x.NgayHenTraTruoc, p("NgayHenTraTruoc"), f);
        date(&x.NgayHenTraMoi, p("NgayHenTraMoi"), f);
    }
    code::<OnlinePayment>(
        &item.DuocThanhToanTrucTuyen,
        at("DuocThanhToanTrucTuyen"),
        f,
    );
    date(
        item.NgayTuChoi.as_deref().unwrap_or(""),
        at("NgayTuChoi"),
        f,
    );
    for (i, x) in item.DinhDanhCHS.iter().enumerate() {
        let p = format!("{path}/DinhDanhCHS/{i}/LoaiDinhDanh");
        let v = x.LoaiDinhDanh.trim();
        if identity_kind_from_code(v).is_none() {
            f.push(
                Finding::error(p, "code not in the DVCQG table")
                    .expected(format!("one of {}", IDENTITY_KIND_CODES.join(", ")))
                    .found(v),
            );
        }
    }
    date(
        item.NgayNopHoSo.as_deref().unwrap_or(""),
        at("NgayNopHoSo"),
        f,
    );
}

/// Checks a progress item as the simulator does (§13.4): `MaHoSo` non-empty,
/// `ThoiDiemXuLy` a valid `yyyyMMddHHmmss`, `TrangThai` within 1–10, the optional dates
/// `""` or valid.
pub fn validate_progress_item(item: &ProgressItem, path: &str, f: &mut Vec<Finding>) {
    let at = |field: &str| format!("{path}/{field}");
    required(&item.MaHoSo, at("MaHoSo"), "the dossier code (MaHoSo)", f);
    if required(
        &item.ThoiDiemXuLy,
        at("ThoiDiemXuLy"),
        "the time of the step (ThoiDiemXuLy)",
        f,
    ) {
        date(&item.ThoiDiemXuLy, at("ThoiDiemXuLy"), f);
    }
    if required(
        &item.TrangThai,
        at("TrangThai"),
        "the status after the step (TrangThai)",
        f,
    ) {
        code::<DossierStatus>(&item.TrangThai, at("TrangThai"), f);
    }
    date(&item.NgayBatDau, at("NgayBatDau"), f);
    date(
        &item.NgayKetThucTheoQuyDinh,
        at("NgayKetThucTheoQuyDinh"),
        f,
    );
}

/// Whether a JSON value looks like a DVCQG item (it has `MaHoSo`), for format detection.
pub fn is_item(v: &Value) -> bool {
    matches!(v, Value::Object(m) if m.contains_key("MaHoSo"))
}

/// Whether a DVCQG item is a progress item (`CapNhatTienDoHoSoMC`) rather than a dossier.
pub fn is_progress_item(v: &Value) -> bool {
    matches!(v, Value::Object(m)
        if m.contains_key("NguoiXuLy") || m.contains_key("ThoiDiemXuLy") || m.contains_key("NoiDungXuLy"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths(f: &[Finding]) -> Vec<&str> {
        f.iter().map(|x| x.path.as_str()).collect()
    }

    #[test]
    fn numbers_and_strings_alike() {
        let v = json!({
            "MaHoSo": "000.00.12.H41-250314-0007",
            "MaTTHC": "1.001193",
            "TrangThaiHoSo": 2,
            "KenhThucHien": "2",
            "NgayTiepNhan": 20250314091502u64,
            "HinhThuc": 0,
            "TaiLieuNop": [{"TenTepDinhKem": "Đơn", "IsDeleted": false, "DuocSoHoa": 1}],
            "DanhSachLePhi": [{"TenPhiLePhi": "Lệ phí", "Gia": 150000}],
            "DanhSachHoSoBoSung": [{"NoiDungBoSung": "x", "DanhSachGiayToBoSung": [{"a": 1}]}],
            "DinhDanhCHS": [{"LoaiDinhDanh": 1, "SoDinhDanh": "001203004567"}],
            "SoBienNhan": "BN-1",
            "NgayTuChoi": "",
            "DSKetNoiCSDL": [{"MaCSDL": 7}],
        });
        let mut f = Vec::new();
        let item = read_dossier_item(&v, "", &mut f).expect("object");
        assert!(f.is_empty(), "{f:?}");
        assert_eq!(item.TrangThaiHoSo, "2");
        assert_eq!(item.NgayTiepNhan, "20250314091502");
        assert_eq!(item.HinhThuc, "0");
        assert_eq!(item.TaiLieuNop[0].IsDeleted, "False");
        assert_eq!(item.TaiLieuNop[0].DuocSoHoa, "1");
        assert_eq!(item.DanhSachLePhi[0].Gia, "150000");
        assert_eq!(
            item.DanhSachHoSoBoSung[0].DanhSachGiayToBoSung,
            [json!({"a": 1})]
        );
        assert_eq!(item.DinhDanhCHS[0].LoaiDinhDanh, "1");
        assert_eq!(item.SoBienNhan.as_deref(), Some("BN-1"));
        assert_eq!(item.NgayTuChoi, None);
        assert_eq!(item.DSKetNoiCSDL[0].MaCSDL, "7");
        validate_dossier_item(&item, "", &mut f);
        assert!(f.is_empty(), "{f:?}");
    }

    #[test]
    fn type_errors_and_unknown_fields() {
        let v = json!({
            "MaHoSo": ["x"],
            "SoDienThoai": ["0900000000"],
            "DinhDanhCHS": [{"LoaiDinhDanh": "1", "SoDinhDanh": {"n": "001203004567"}}],
            "TaiLieuNop": [1, {"Extra": "y"}],
            "DanhSachLePhi": "none",
            "Unknown": 1,
        });
        let mut f = Vec::new();
        let item = read_dossier_item(&v, "/data/0", &mut f).expect("object");
        assert_eq!(item.MaHoSo, "");
        assert_eq!(
            paths(&f),
            [
                "/data/0/MaHoSo",
                "/data/0/SoDienThoai",
                "/data/0/TaiLieuNop/0",
                "/data/0/TaiLieuNop/1/Extra",
                "/data/0/DanhSachLePhi",
                "/data/0/DinhDanhCHS/0/SoDinhDanh",
                "/data/0/Unknown",
            ]
        );
        assert!(f[3].severity == Severity::Warning && f[6].severity == Severity::Warning);
        assert!(f[0].is_error() && f[1].is_error() && f[5].is_error());
        for x in &f {
            let shown = x.to_string();
            assert!(!shown.contains("0900000000"), "{shown}");
            assert!(!shown.contains("001203004567"), "{shown}");
        }
        assert_eq!(
            f[1].found.as_deref(),
            Some("an array (value withheld: personal data)")
        );
        assert_eq!(f[0].found.as_deref(), Some("an array [\"x\"]"));

        let mut f = Vec::new();
        assert!(read_dossier_item(&json!([]), "/data/0", &mut f).is_none());
        assert_eq!(paths(&f), ["/data/0"]);
    }

    #[test]
    fn validation_of_a_dossier() {
        let v = json!({
            "MaHoSo": " ",
            "TrangThaiHoSo": "11",
            "NgayTiepNhan": "20250314",
            "NgayHenTra": "2025-03-21T17:00:00+07:00",
            "KenhThucHien": "4",
            "LoaiDoiTuong": "0",
            "HinhThuc": "2",
            "DuocThanhToanTrucTuyen": "9",
            "NgayTuChoi": "20250230000000",
            "DanhSachHoSoBoSung": [{"NgayBoSung": "x"}],
            "DinhDanhCHS": [{"LoaiDinhDanh": "3", "SoDinhDanh": "1"}],
            "NgayNopHoSo": "20250314083000",
        });
        let mut f = Vec::new();
        let item = read_dossier_item(&v, "", &mut f).expect("object");
        assert!(f.is_empty());
        validate_dossier_item(&item, "", &mut f);
        assert_eq!(
            paths(&f),
            [
                "/MaHoSo",
                "/MaTTHC",
                "/TrangThaiHoSo",
                "/NgayTiepNhan",
                "/KenhThucHien",
                "/LoaiDoiTuong",
                "/NgayHenTra",
                "/HinhThuc",
                "/DanhSachHoSoBoSung/0/NgayBoSung",
                "/DuocThanhToanTrucTuyen",
                "/NgayTuChoi",
                "/DinhDanhCHS/0/LoaiDinhDanh",
            ]
        );
        assert!(f.iter().all(Finding::is_error));
        assert_eq!(
            f[2].expected.as_deref(),
            Some("one of 1, 2, 3, 4, 5, 6, 7, 8, 9, 10")
        );
        assert_eq!(f[2].found.as_deref(), Some("11"));
        assert_eq!(f[3].expected.as_deref(), Some("yyyyMMddHHmmss"));
        assert_eq!(f[3].found.as_deref(), Some("20250314"));
        assert_eq!(f[4].expected.as_deref(), Some("one of 1, 2, 3"));
        assert_eq!(f[7].expected.as_deref(), Some("one of 0, 1"));
        assert_eq!(f[9].expected.as_deref(), Some("one of 0, 1, 2, 3"));
        assert_eq!(f[11].expected.as_deref(), Some("one of 1, 2"));
    }

    #[test]
    fn progress_items() {
        let v = json!({
            "MaHoSo": "X",
            "NguoiXuLy": "Cán bộ",
            "ThoiDiemXuLy": 20250314091502u64,
            "TrangThai": 4,
            "NgayBatDau": "",
            "Other": null,
        });
        let mut f = Vec::new();
        let item = read_progress_item(&v, "/data/3", &mut f).expect("object");
        assert_eq!(paths(&f), ["/data/3/Other"]);
        assert_eq!(item.TrangThai, "4");
        assert_eq!(item.ThoiDiemXuLy, "20250314091502");
        let mut f = Vec::new();
        validate_progress_item(&item, "/data/3", &mut f);
        assert!(f.is_empty(), "{f:?}");

        let bad = ProgressItem {
            ThoiDiemXuLy: "2025031409150".into(),
            TrangThai: "0".into(),
            NgayKetThucTheoQuyDinh: "20251301000000".into(),
            ..ProgressItem::default()
        };
        validate_progress_item(&bad, "", &mut f);
        assert_eq!(
            paths(&f),
            [
                "/MaHoSo",
                "/ThoiDiemXuLy",
                "/TrangThai",
                "/NgayKetThucTheoQuyDinh"
            ]
        );
        let mut f = Vec::new();
        validate_progress_item(&ProgressItem::default(), "", &mut f);
        assert_eq!(paths(&f), ["/MaHoSo", "/ThoiDiemXuLy", "/TrangThai"]);
    }
}
