//! Mapping between the canonical model ([`Dossier`], [`ProgressStep`]) and the DVCQG wire
//! objects ([`DossierItem`], [`ProgressItem`]), in both directions, with findings.
//!
//! Writing follows `dvcqg.md` §6.2 (field mapping and presence rule), §7 and §9; nothing
//! is dropped silently: cuts to the portal's lengths and identity numbers DVCQG cannot
//! carry are reported as warnings, missing required values as errors. Reading (the
//! dossiers of `TraCuuHoSo` answers) reports unknown codes and unreadable dates at the
//! JSON Pointer of the DVCQG field. Findings never contain personal data (names, identity
//! numbers, phone numbers, addresses).

use crate::codes::{
    WireCode, flag_code, flag_from_code, identity_kind_code, identity_kind_from_code, true_false,
};
use crate::time::{self, TimeError};
use crate::wire::{
    DatabaseItem, DossierItem, FeeItem, IdentifierItem, OtherAttachmentItem, ProgressItem,
    ResultDocumentItem, SubmittedDocumentItem, SupplementItem,
};
use jiff::Timestamp;
use lienthong_model::{
    Applicant, ApplicantCategory, Channel, Dossier, DossierStatus, Fee, Finding, Handler,
    IdentityDocument, IdentityKind, OnlinePayment, OtherAttachment, Procedure, ProgressStep,
    ResultDelivery, ResultDocument, SubmittedDocument, SupplementRequest, Unit,
};
use std::collections::BTreeMap;

/// The `DinhDanhCHS` placeholder one client sends when it knows no number (§9.6).
pub const PLACEHOLDER_KIND: &str = "2";
/// See [`PLACEHOLDER_KIND`].
pub const PLACEHOLDER_NUMBER: &str = "000000001";

/// How dossiers are mapped to DVCQG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingConfig {
    /// Local procedure code → portal procedure code; a code without an entry is sent
    /// unchanged.
    pub procedure_map: BTreeMap<String, String>,
    /// `TrichYeuHoSo` is cut to this many characters (default 1000).
    pub summary_max_chars: usize,
    /// `NguoiXuLy` is cut to this many characters (default 50).
    pub handler_max_chars: usize,
    /// `NoiNopHoSo` to send; when `None`, the dossier's own submission place, if any.
    pub submission_place: Option<String>,
    /// `DSKetNoiCSDL` codes to send; when empty, the dossier's own list.
    pub consulted_databases: Vec<String>,
    /// Send the placeholder `{"LoaiDinhDanh":"2","SoDinhDanh":"000000001"}` when no real
    /// identifier can be sent (`dvcqg.dinh_danh_fallback`, default off).
    pub dinh_danh_fallback: bool,
}

impl Default for MappingConfig {
    fn default() -> Self {
        MappingConfig {
            procedure_map: BTreeMap::new(),
            summary_max_chars: 1000,
            handler_max_chars: 50,
            submission_place: None,
            consulted_databases: Vec::new(),
            dinh_danh_fallback: false,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Model → DVCQG
// ---------------------------------------------------------------------------------------

fn or_empty(s: &Option<String>) -> String {
    s.clone().unwrap_or_default()
}

/// An optional instant as a DVCQG date; an instant 14 digits cannot carry is an error.
fn date(t: Option<Timestamp>, path: &str, f: &mut Vec<Finding>) -> String {
    match time::format_opt(t) {
        Ok(s) => s,
        Err(TimeError::OutOfRange | TimeError::Invalid) => {
            f.push(
                Finding::error(
                    path,
                    "date cannot be written in the DVCQG format; sent empty",
                )
                .expected("a date in the years 0001-9999")
                .found(t.map(|t| t.to_string()).unwrap_or_default()),
            );
            String::new()
        }
    }
}

fn opt_flag(b: Option<bool>) -> String {
    b.map(flag_code).unwrap_or_default().to_owned()
}

/// Cuts `s` to `max` characters, with a warning (never silently).
fn cut(s: &str, max: usize, path: &str, what: &str, f: &mut Vec<Finding>) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_owned();
    }
    f.push(
        Finding::warning(path, format!("{what} truncated for DVCQG"))
            .expected(format!("at most {max} characters"))
            .found(format!("{n} characters")),
    );
    s.chars().take(max).collect()
}

/// What an identity kind requires, for messages.
fn identity_form(kind: IdentityKind) -> &'static str {
    match kind {
        IdentityKind::CitizenId => "12 digits",
        IdentityKind::LegacyId => "9 digits",
        IdentityKind::Other => "a non-empty number",
    }
}

fn dinh_danh(a: &Applicant, cfg: &MappingConfig, f: &mut Vec<Finding>) -> Vec<IdentifierItem> {
    let mut out = Vec::new();
    for (i, doc) in a.identity_documents.iter().enumerate() {
        let Some(code) = identity_kind_code(doc.kind) else {
            // DinhDanhCHS knows only the two national kinds; the first document still
            // travels in SoGiayToChuHoSo, a later one does not travel at all.
            if i > 0 {
                f.push(Finding::warning(
                    format!("/applicant/identity_documents/{i}"),
                    format!(
                        "a {} identity document after the first is not carried by DVCQG",
                        doc.kind.name()
                    ),
                ));
            }
            continue;
        };
        if doc.kind.fits(&doc.number) {
            out.push(IdentifierItem {
                LoaiDinhDanh: code.to_owned(),
                SoDinhDanh: doc.number.clone(),
            });
        } else {
            // Personal data: the finding states the form and the length, never the number.
            f.push(
                Finding::warning(
                    format!("/applicant/identity_documents/{i}/number"),
                    format!(
                        "{} number does not have the required form; not sent in DinhDanhCHS",
                        doc.kind.name()
                    ),
                )
                .expected(identity_form(doc.kind))
                .found(format!("{} characters", doc.number.chars().count())),
            );
        }
    }
    if out.is_empty() && cfg.dinh_danh_fallback {
        out.push(IdentifierItem {
            LoaiDinhDanh: PLACEHOLDER_KIND.to_owned(),
            SoDinhDanh: PLACEHOLDER_NUMBER.to_owned(),
        });
    }
    out
}

/// Maps a dossier to a `DongBoHoSoMC` item (`dvcqg.md` §6.2), with the findings of the
/// mapping: errors for what the portal requires and the dossier lacks (`/code`,
/// `/procedure/code`, `/received_at`, `/status`), warnings for cuts and for identity
/// numbers that cannot be sent.
pub fn dossier_to_dvcqg(d: &Dossier, cfg: &MappingConfig) -> (DossierItem, Vec<Finding>) {
    let mut f = Vec::new();
    if d.code.trim().is_empty() {
        f.push(Finding::error(
            "/code",
            "DVCQG requires the dossier code (MaHoSo)",
        ));
    }
    let procedure_code = cfg
        .procedure_map
        .get(&d.procedure.code)
        .unwrap_or(&d.procedure.code)
        .clone();
    if procedure_code.trim().is_empty() {
        f.push(Finding::error(
            "/procedure/code",
            "DVCQG requires the procedure code (MaTTHC)",
        ));
    }
    if d.received_at.is_none() {
        f.push(
            Finding::error(
                "/received_at",
                "DVCQG requires the reception time (NgayTiepNhan)",
            )
            .expected("a time"),
        );
    }
    if d.status.is_none() {
        f.push(
            Finding::error(
                "/status",
                "DVCQG requires the dossier status (TrangThaiHoSo)",
            )
            .expected(format!("one of {}", DossierStatus::names())),
        );
    }
    let a = &d.applicant;
    let summary = cut(
        d.summary.as_deref().unwrap_or(""),
        cfg.summary_max_chars,
        "/summary",
        "summary",
        &mut f,
    );

    let submitted = d
        .submitted_documents
        .iter()
        .map(|x| SubmittedDocumentItem {
            TepDinhKemId: or_empty(&x.id),
            TenTepDinhKem: x.name.clone(),
            IsDeleted: true_false(x.deleted).to_owned(),
            MaThanhPhanHoSo: or_empty(&x.component_code),
            DuongDanTaiTepTin: or_empty(&x.url),
            DuocSoHoa: opt_flag(x.digitised),
            DuocTaiSuDung: opt_flag(x.reused),
            DuocLayTuKhoDMQG: opt_flag(x.from_citizen_store),
            MaKetQuaThayThe: or_empty(&x.replaces_result_code),
        })
        .collect();
    let fees = d
        .fees
        .iter()
        .map(|x| FeeItem {
            TenPhiLePhi: x.name.clone(),
            MaPhiLePhi: or_empty(&x.code),
            HinhThucThu: or_empty(&x.collection_method),
            Gia: x.amount.to_string(),
            LoaiPhiLePhi: or_empty(&x.kind),
        })
        .collect();
    let others = d
        .other_attachments
        .iter()
        .map(|x| OtherAttachmentItem {
            TenGiayTo: x.name.clone(),
            SoLuong: x.quantity.map(|q| q.to_string()).unwrap_or_default(),
            LoaiGiayTo: or_empty(&x.kind),
        })
        .collect();
    let supplements = d
        .supplement_requests
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let p = |field: &str| format!("/supplement_requests/{i}/{field}");
            SupplementItem {
                HoSoBoSungId: or_empty(&x.id),
                NguoiYeuCauBoSung: or_empty(&x.requested_by),
                NoiDungBoSung: x.content.clone(),
                NgayBoSung: date(x.requested_at, &p("requested_at"), &mut f),
                NguoiTiepNhanBoSung: or_empty(&x.received_by),
                ThongTinTiepNhan: or_empty(&x.receipt_info),
                NgayTiepNhanBoSung: date(x.received_at, &p("received_at"), &mut f),
                TrangThaiBoSung: or_empty(&x.status),
                DanhSachGiayToBoSung: Vec::new(),
                DanhSachLePhiBoSung: Vec::new(),
                NgayHenTraTruoc: date(x.previous_due_at, &p("previous_due_at"), &mut f),
                NgayHenTraMoi: date(x.new_due_at, &p("new_due_at"), &mut f),
            }
        })
        .collect();
    let results = d
        .result_documents
        .iter()
        .map(|x| ResultDocumentItem {
            TenGiayTo: x.name.clone(),
            MaThanhPhanHoSo: or_empty(&x.component_code),
            GiayToId: or_empty(&x.id),
            DuongDanTepTinKetQua: or_empty(&x.url),
            MaGiayToKetQua: or_empty(&x.result_code),
        })
        .collect();
    let databases = if cfg.consulted_databases.is_empty() {
        &d.consulted_databases
    } else {
        &cfg.consulted_databases
    };

    let item = DossierItem {
        MaHoSo: d.code.clone(),
        MaTTHC: procedure_code,
        TenTTHC: or_empty(&d.procedure.name),
        MaLinhVuc: or_empty(&d.procedure.field_code),
        TenLinhVuc: or_empty(&d.procedure.field_name),
        SoBienNhan: None,
        KenhThucHien: d.channel.unwrap_or(Channel::InPerson).code().to_owned(),
        ChuHoSo: or_empty(&a.name),
        SoGiayToChuHoSo: a
            .identity_documents
            .first()
            .map(|x| x.number.clone())
            .filter(|n| !n.is_empty()),
        LoaiDoiTuong: a
            .category
            .unwrap_or(ApplicantCategory::Citizen)
            .code()
            .to_owned(),
        MaDoiTuong: or_empty(&a.portal_account),
        ThongTinKhac: or_empty(&d.other_info),
        Email: or_empty(&a.email),
        Fax: or_empty(&a.fax),
        SoDienThoai: or_empty(&a.phone),
        TrichYeuHoSo: summary,
        NgayTiepNhan: date(d.received_at, "/received_at", &mut f),
        NgayHenTra: date(d.due_at, "/due_at", &mut f),
        TrangThaiHoSo: d.status.map(WireCode::code).unwrap_or_default().to_owned(),
        NgayTra: date(d.returned_at, "/returned_at", &mut f),
        ThongTinTra: or_empty(&d.return_info),
        HinhThuc: d
            .result_delivery
            .unwrap_or(ResultDelivery::AtOffice)
            .code()
            .to_owned(),
        NgayKetThucXuLy: date(d.finished_at, "/finished_at", &mut f),
        DonViXuLy: or_empty(&d.unit.name),
        GhiChu: or_empty(&d.note),
        TaiLieuNop: submitted,
        DanhSachLePhi: fees,
        DanhSachTepDinhKemKhac: others,
        DanhSachHoSoBoSung: supplements,
        DanhSachGiayToKetQua: results,
        NoiNopHoSo: cfg
            .submission_place
            .clone()
            .or_else(|| d.submission_place.clone()),
        HoSoCoThanhPhanSoHoa: flag_code(d.digitised.unwrap_or(false)).to_owned(),
        TaiKhoanDuocXacThucVoiVNeID: flag_code(a.vneid_verified.unwrap_or(false)).to_owned(),
        DuocThanhToanTrucTuyen: d
            .online_payment
            .unwrap_or(OnlinePayment::None)
            .code()
            .to_owned(),
        NgayTuChoi: d
            .refused_at
            .map(|t| date(Some(t), "/refused_at", &mut f))
            .filter(|s| !s.is_empty()),
        DinhDanhCHS: dinh_danh(a, cfg, &mut f),
        NgayNopHoSo: d
            .submitted_at
            .map(|t| date(Some(t), "/submitted_at", &mut f))
            .filter(|s| !s.is_empty()),
        DSKetNoiCSDL: databases
            .iter()
            .map(|c| DatabaseItem { MaCSDL: c.clone() })
            .collect(),
    };
    (item, f)
}

/// Maps a processing step to a `CapNhatTienDoHoSoMC` item (`dvcqg.md` §7): `NguoiXuLy`
/// cut to [`MappingConfig::handler_max_chars`] with a warning at `/handler/name`; errors
/// at `/dossier_code`, `/at` and `/status` when those required values are missing.
pub fn progress_to_dvcqg(p: &ProgressStep, cfg: &MappingConfig) -> (ProgressItem, Vec<Finding>) {
    let mut f = Vec::new();
    if p.dossier_code.trim().is_empty() {
        f.push(Finding::error(
            "/dossier_code",
            "DVCQG requires the dossier code (MaHoSo)",
        ));
    }
    if p.at.is_none() {
        f.push(
            Finding::error("/at", "DVCQG requires the time of the step (ThoiDiemXuLy)")
                .expected("a time"),
        );
    }
    if p.status.is_none() {
        f.push(
            Finding::error(
                "/status",
                "DVCQG requires the status after the step (TrangThai)",
            )
            .expected(format!("one of {}", DossierStatus::names())),
        );
    }
    let item = ProgressItem {
        MaHoSo: p.dossier_code.clone(),
        NguoiXuLy: cut(
            &p.handler.name,
            cfg.handler_max_chars,
            "/handler/name",
            "handler name",
            &mut f,
        ),
        ChucDanh: or_empty(&p.handler.title),
        ThoiDiemXuLy: date(p.at, "/at", &mut f),
        PhongBanXuLy: or_empty(&p.handler.department),
        NoiDungXuLy: p.action.clone(),
        TrangThai: p.status.map(WireCode::code).unwrap_or_default().to_owned(),
        NgayBatDau: date(p.started_at, "/started_at", &mut f),
        NgayKetThucTheoQuyDinh: date(p.deadline_at, "/deadline_at", &mut f),
    };
    (item, f)
}

// ---------------------------------------------------------------------------------------
// DVCQG → model
// ---------------------------------------------------------------------------------------

/// A trimmed, non-empty value.
fn text(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

fn read_code<T: WireCode>(s: &str, path: &str, f: &mut Vec<Finding>) -> Option<T> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    let v = T::from_code(t);
    if v.is_none() {
        f.push(
            Finding::error(path, "unknown code")
                .expected(T::allowed())
                .found(t),
        );
    }
    v
}

fn read_flag(s: &str, path: &str, f: &mut Vec<Finding>) -> Option<bool> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    let v = flag_from_code(t);
    if v.is_none() {
        f.push(
            Finding::error(path, "not a flag")
                .expected("0 or 1")
                .found(t),
        );
    }
    v
}

fn read_date(s: &str, path: &str, f: &mut Vec<Finding>) -> Option<Timestamp> {
    match time::parse(s) {
        Ok(t) => t,
        Err(e) => {
            f.push(
                Finding::error(path, e.to_string())
                    .expected(time::FORMAT)
                    .found(s.trim()),
            );
            None
        }
    }
}

fn read_number<T: std::str::FromStr>(s: &str, path: &str, f: &mut Vec<Finding>) -> Option<T> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    let v = if t.bytes().all(|b| b.is_ascii_digit()) {
        t.parse::<T>().ok()
    } else {
        None
    };
    if v.is_none() {
        f.push(
            Finding::error(path, "not a non-negative whole number")
                .expected("decimal digits")
                .found(t),
        );
    }
    v
}

/// The organisation code at the head of a dossier code, when it has the strict form
/// `^[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Z][0-9]{2}$` (`codes.md` §1.1, §4.1).
pub fn unit_code_of(dossier_code: &str) -> Option<&str> {
    let head = dossier_code.trim().split('-').next()?;
    let b = head.as_bytes();
    let digit = |i: usize| b[i].is_ascii_digit();
    let strict = b.len() == 13
        && (0..3).all(digit)
        && b[3] == b'.'
        && (4..6).all(digit)
        && b[6] == b'.'
        && (7..9).all(digit)
        && b[9] == b'.'
        && b[10].is_ascii_uppercase()
        && (11..13).all(digit);
    strict.then_some(head)
}

fn identity_documents(item: &DossierItem, f: &mut Vec<Finding>) -> Vec<IdentityDocument> {
    let mut docs: Vec<IdentityDocument> = Vec::new();
    for (i, x) in item.DinhDanhCHS.iter().enumerate() {
        let path = format!("/DinhDanhCHS/{i}");
        let kind_code = x.LoaiDinhDanh.trim();
        let number = x.SoDinhDanh.trim();
        if crate::codes::canonical(kind_code) == Some(PLACEHOLDER_KIND)
            && number == PLACEHOLDER_NUMBER
        {
            // The "no number known" placeholder of §9.6 is not an identifier.
            continue;
        }
        if number.is_empty() {
            f.push(Finding::warning(
                format!("{path}/SoDinhDanh"),
                "identifier without a number ignored",
            ));
            continue;
        }
        let kind = match identity_kind_from_code(kind_code) {
            Some(k) => k,
            None => {
                f.push(
                    Finding::error(
                        format!("{path}/LoaiDinhDanh"),
                        "unknown identifier kind; kept as another document",
                    )
                    .expected(format!(
                        "one of {}",
                        crate::codes::IDENTITY_KIND_CODES.join(", ")
                    ))
                    .found(kind_code),
                );
                IdentityKind::Other
            }
        };
        if !kind.fits(number) {
            // Personal data: the finding states the form and the length, never the number.
            f.push(
                Finding::warning(
                    format!("{path}/SoDinhDanh"),
                    "identifier does not have the form its kind requires",
                )
                .expected(identity_form(kind))
                .found(format!("{} characters", number.chars().count())),
            );
        }
        docs.push(IdentityDocument {
            kind,
            number: number.to_owned(),
        });
    }
    // SoGiayToChuHoSo is the main document: first in the list. When it is not among the
    // identifiers, it is a document DinhDanhCHS cannot carry (kind Other).
    if let Some(main) = item.SoGiayToChuHoSo.as_deref().and_then(text) {
        match docs.iter().position(|d| d.number == main) {
            Some(0) => {}
            Some(j) => {
                let d = docs.remove(j);
                docs.insert(0, d);
            }
            None => docs.insert(
                0,
                IdentityDocument {
                    kind: IdentityKind::Other,
                    number: main,
                },
            ),
        }
    }
    docs
}

/// Maps a dossier read from the portal (`TraCuuHoSo`) back to the model. Values are
/// trimmed, `""` means unknown; unknown codes, flags, numbers and unreadable dates are
/// reported at the JSON Pointer of the DVCQG field (`/TrangThaiHoSo`,
/// `/TaiLieuNop/0/DuocSoHoa`) and left unknown. `version` is not on the wire (0);
/// `unit.code` is the head of `MaHoSo` when it is a strict organisation code.
///
/// `SoGiayToChuHoSo` becomes the first identity document (kind
/// [`IdentityKind::Other`] unless `DinhDanhCHS` has the same number); the `DinhDanhCHS`
/// placeholder `{"2","000000001"}` is ignored.
pub fn dossier_from_dvcqg(item: &DossierItem) -> (Dossier, Vec<Finding>) {
    let mut f = Vec::new();
    let fr = &mut f;
    let code = item.MaHoSo.trim().to_owned();
    let submitted_documents = item
        .TaiLieuNop
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let p = |field: &str| format!("/TaiLieuNop/{i}/{field}");
            SubmittedDocument {
                id: text(&x.TepDinhKemId),
                name: x.TenTepDinhKem.trim().to_owned(),
                component_code: text(&x.MaThanhPhanHoSo),
                url: text(&x.DuongDanTaiTepTin),
                deleted: read_flag(&x.IsDeleted, &p("IsDeleted"), fr).unwrap_or(false),
                digitised: read_flag(&x.DuocSoHoa, &p("DuocSoHoa"), fr),
                reused: read_flag(&x.DuocTaiSuDung, &p("DuocTaiSuDung"), fr),
                from_citizen_store: read_flag(&x.DuocLayTuKhoDMQG, &p("DuocLayTuKhoDMQG"), fr),
                replaces_result_code: text(&x.MaKetQuaThayThe),
            }
        })
        .collect();
    let fees = item
        .DanhSachLePhi
        .iter()
        .enumerate()
        .map(|(i, x)| Fee {
            code: text(&x.MaPhiLePhi),
            name: x.TenPhiLePhi.trim().to_owned(),
            amount: read_number(&x.Gia, &format!("/DanhSachLePhi/{i}/Gia"), fr).unwrap_or(0),
            collection_method: text(&x.HinhThucThu),
            kind: text(&x.LoaiPhiLePhi),
        })
        .collect();
    let other_attachments = item
        .DanhSachTepDinhKemKhac
        .iter()
        .enumerate()
        .map(|(i, x)| OtherAttachment {
            name: x.TenGiayTo.trim().to_owned(),
            quantity: read_number(
                &x.SoLuong,
                &format!("/DanhSachTepDinhKemKhac/{i}/SoLuong"),
                fr,
            ),
            kind: text(&x.LoaiGiayTo),
        })
        .collect();
    let supplement_requests = item
        .DanhSachHoSoBoSung
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let p = |field: &str| format!("/DanhSachHoSoBoSung/{i}/{field}");
            SupplementRequest {
                id: text(&x.HoSoBoSungId),
                requested_by: text(&x.NguoiYeuCauBoSung),
                content: x.NoiDungBoSung.trim().to_owned(),
                requested_at: read_date(&x.NgayBoSung, &p("NgayBoSung"), fr),
                received_by: text(&x.NguoiTiepNhanBoSung),
                receipt_info: text(&x.ThongTinTiepNhan),
                received_at: read_date(&x.NgayTiepNhanBoSung, &p("NgayTiepNhanBoSung"), fr),
                status: text(&x.TrangThaiBoSung),
                previous_due_at: read_date(&x.NgayHenTraTruoc, &p("NgayHenTraTruoc"), fr),
                new_due_at: read_date(&x.NgayHenTraMoi, &p("NgayHenTraMoi"), fr),
            }
        })
        .collect();
    let result_documents = item
        .DanhSachGiayToKetQua
        .iter()
        .map(|x| ResultDocument {
            id: text(&x.GiayToId),
            name: x.TenGiayTo.trim().to_owned(),
            component_code: text(&x.MaThanhPhanHoSo),
            url: text(&x.DuongDanTepTinKetQua),
            result_code: text(&x.MaGiayToKetQua),
        })
        .collect();

    let d = Dossier {
        unit: Unit {
            code: unit_code_of(&code).map(str::to_owned),
            name: text(&item.DonViXuLy),
        },
        version: 0,
        procedure: Procedure {
            code: item.MaTTHC.trim().to_owned(),
            name: text(&item.TenTTHC),
            field_code: text(&item.MaLinhVuc),
            field_name: text(&item.TenLinhVuc),
        },
        channel: read_code(&item.KenhThucHien, "/KenhThucHien", fr),
        applicant: Applicant {
            name: text(&item.ChuHoSo),
            category: read_code(&item.LoaiDoiTuong, "/LoaiDoiTuong", fr),
            identity_documents: identity_documents(item, fr),
            portal_account: text(&item.MaDoiTuong),
            vneid_verified: read_flag(
                &item.TaiKhoanDuocXacThucVoiVNeID,
                "/TaiKhoanDuocXacThucVoiVNeID",
                fr,
            ),
            email: text(&item.Email),
            phone: text(&item.SoDienThoai),
            fax: text(&item.Fax),
            address: None,
        },
        summary: text(&item.TrichYeuHoSo),
        other_info: text(&item.ThongTinKhac),
        note: text(&item.GhiChu),
        status: read_code(&item.TrangThaiHoSo, "/TrangThaiHoSo", fr),
        submitted_at: read_date(
            item.NgayNopHoSo.as_deref().unwrap_or(""),
            "/NgayNopHoSo",
            fr,
        ),
        received_at: read_date(&item.NgayTiepNhan, "/NgayTiepNhan", fr),
        due_at: read_date(&item.NgayHenTra, "/NgayHenTra", fr),
        finished_at: read_date(&item.NgayKetThucXuLy, "/NgayKetThucXuLy", fr),
        returned_at: read_date(&item.NgayTra, "/NgayTra", fr),
        refused_at: read_date(item.NgayTuChoi.as_deref().unwrap_or(""), "/NgayTuChoi", fr),
        result_delivery: read_code(&item.HinhThuc, "/HinhThuc", fr),
        return_info: text(&item.ThongTinTra),
        digitised: read_flag(&item.HoSoCoThanhPhanSoHoa, "/HoSoCoThanhPhanSoHoa", fr),
        online_payment: read_code(&item.DuocThanhToanTrucTuyen, "/DuocThanhToanTrucTuyen", fr),
        submitted_documents,
        fees,
        other_attachments,
        supplement_requests,
        result_documents,
        consulted_databases: item
            .DSKetNoiCSDL
            .iter()
            .filter_map(|x| text(&x.MaCSDL))
            .collect(),
        submission_place: item.NoiNopHoSo.as_deref().and_then(text),
        code,
    };
    (d, f)
}

/// Maps a progress item read from the portal back to the model; `step_seq` is not on the
/// wire (0). Unknown codes and unreadable dates are reported at `/TrangThai`,
/// `/ThoiDiemXuLy`, ….
pub fn progress_from_dvcqg(item: &ProgressItem) -> (ProgressStep, Vec<Finding>) {
    let mut f = Vec::new();
    let fr = &mut f;
    let p = ProgressStep {
        dossier_code: item.MaHoSo.trim().to_owned(),
        step_seq: 0,
        handler: Handler {
            name: item.NguoiXuLy.trim().to_owned(),
            title: text(&item.ChucDanh),
            department: text(&item.PhongBanXuLy),
        },
        at: read_date(&item.ThoiDiemXuLy, "/ThoiDiemXuLy", fr),
        action: item.NoiDungXuLy.trim().to_owned(),
        status: read_code(&item.TrangThai, "/TrangThai", fr),
        started_at: read_date(&item.NgayBatDau, "/NgayBatDau", fr),
        deadline_at: read_date(&item.NgayKetThucTheoQuyDinh, "/NgayKetThucTheoQuyDinh", fr),
    };
    (p, f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lienthong_model::Severity;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn sample() -> Dossier {
        Dossier {
            code: "000.00.12.H41-250314-0007".into(),
            version: 3,
            unit: Unit {
                code: Some("000.00.12.H41".into()),
                name: Some("Sở Nội vụ".into()),
            },
            procedure: Procedure {
                code: "1.001193.000.00.00.H41".into(),
                name: Some("Thủ tục".into()),
                field_code: Some("G03-GD10".into()),
                field_name: Some("Giáo dục".into()),
            },
            channel: Some(Channel::Online),
            applicant: Applicant {
                name: Some("Nguyễn Văn A".into()),
                category: Some(ApplicantCategory::Citizen),
                vneid_verified: Some(false),
                identity_documents: vec![IdentityDocument {
                    kind: IdentityKind::CitizenId,
                    number: "001203004567".into(),
                }],
                phone: Some("0900000000".into()),
                ..Applicant::default()
            },
            summary: Some("Đề nghị".into()),
            status: Some(DossierStatus::Accepted),
            received_at: Some(ts("2025-03-14T09:15:02+07:00")),
            due_at: Some(ts("2025-03-21T17:00:00+07:00")),
            submitted_at: Some(ts("2025-03-14T08:30:00+07:00")),
            result_delivery: Some(ResultDelivery::AtOffice),
            digitised: Some(false),
            online_payment: Some(OnlinePayment::None),
            ..Dossier::default()
        }
    }

    #[test]
    fn maps_the_example_of_the_specification() {
        let (item, f) = dossier_to_dvcqg(&sample(), &MappingConfig::default());
        assert!(f.is_empty(), "{f:?}");
        assert_eq!(item.MaHoSo, "000.00.12.H41-250314-0007");
        assert_eq!(item.KenhThucHien, "2");
        assert_eq!(item.LoaiDoiTuong, "1");
        assert_eq!(item.NgayTiepNhan, "20250314091502");
        assert_eq!(item.NgayHenTra, "20250321170000");
        assert_eq!(item.TrangThaiHoSo, "2");
        assert_eq!(item.HinhThuc, "0");
        assert_eq!(item.HoSoCoThanhPhanSoHoa, "0");
        assert_eq!(item.TaiKhoanDuocXacThucVoiVNeID, "0");
        assert_eq!(item.DuocThanhToanTrucTuyen, "0");
        assert_eq!(item.NgayNopHoSo.as_deref(), Some("20250314083000"));
        assert_eq!(item.NgayTuChoi, None);
        assert_eq!(item.SoGiayToChuHoSo.as_deref(), Some("001203004567"));
        assert_eq!(
            item.DinhDanhCHS,
            [IdentifierItem {
                LoaiDinhDanh: "1".into(),
                SoDinhDanh: "001203004567".into()
            }]
        );
        assert_eq!(item.NoiNopHoSo, None);
        assert!(item.DSKetNoiCSDL.is_empty());

        let (back, f) = dossier_from_dvcqg(&item);
        assert!(f.is_empty(), "{f:?}");
        assert_eq!(
            back,
            Dossier {
                version: 0,
                ..sample()
            }
        );
    }

    #[test]
    fn defaults_when_unknown() {
        let d = Dossier {
            code: "X".into(),
            procedure: Procedure {
                code: "1.001193".into(),
                ..Procedure::default()
            },
            status: Some(DossierStatus::Registered),
            received_at: Some(ts("2025-03-14T09:15:02+07:00")),
            ..Dossier::default()
        };
        let (item, f) = dossier_to_dvcqg(&d, &MappingConfig::default());
        assert!(f.is_empty(), "{f:?}");
        assert_eq!(item.KenhThucHien, "1");
        assert_eq!(item.LoaiDoiTuong, "1");
        assert_eq!(item.HinhThuc, "0");
        assert_eq!(item.DuocThanhToanTrucTuyen, "0");
        assert_eq!(item.NgayHenTra, "");
        assert_eq!(item.SoGiayToChuHoSo, None);
        assert!(item.DinhDanhCHS.is_empty());
        let (back, _) = dossier_from_dvcqg(&DossierItem {
            KenhThucHien: String::new(),
            ..item
        });
        assert_eq!(back.channel, None);
        assert_eq!(back.unit.code, None);
    }

    #[test]
    fn required_values_are_errors() {
        let (item, f) = dossier_to_dvcqg(&Dossier::default(), &MappingConfig::default());
        let paths: Vec<&str> = f.iter().map(|x| x.path.as_str()).collect();
        assert_eq!(
            paths,
            ["/code", "/procedure/code", "/received_at", "/status"]
        );
        assert!(f.iter().all(Finding::is_error));
        assert_eq!(item.TrangThaiHoSo, "");
        assert_eq!(item.NgayTiepNhan, "");
    }

    #[test]
    fn summary_is_cut_with_a_warning() {
        let long: String = "ă".repeat(1005);
        let d = Dossier {
            summary: Some(long),
            ..sample()
        };
        let (item, f) = dossier_to_dvcqg(&d, &MappingConfig::default());
        assert_eq!(item.TrichYeuHoSo.chars().count(), 1000);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Warning);
        assert_eq!(f[0].path, "/summary");
        assert!(f[0].message.contains("truncated for DVCQG"));
        assert_eq!(f[0].expected.as_deref(), Some("at most 1000 characters"));
        assert_eq!(f[0].found.as_deref(), Some("1005 characters"));

        let exact = Dossier {
            summary: Some("ă".repeat(1000)),
            ..sample()
        };
        assert!(
            dossier_to_dvcqg(&exact, &MappingConfig::default())
                .1
                .is_empty()
        );
    }

    #[test]
    fn handler_is_cut_with_a_warning() {
        let p = ProgressStep {
            dossier_code: "X".into(),
            handler: Handler {
                name: "Nguyễn".repeat(10),
                ..Handler::default()
            },
            at: Some(ts("2025-03-14T09:15:02+07:00")),
            status: Some(DossierStatus::Processing),
            ..ProgressStep::default()
        };
        let (item, f) = progress_to_dvcqg(&p, &MappingConfig::default());
        assert_eq!(item.NguoiXuLy.chars().count(), 50);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Warning);
        assert_eq!(f[0].path, "/handler/name");
        assert_eq!(f[0].expected.as_deref(), Some("at most 50 characters"));
        assert_eq!(f[0].found.as_deref(), Some("60 characters"));
        assert!(!f[0].to_string().contains("Nguyễn"));
        assert_eq!(item.ThoiDiemXuLy, "20250314091502");
        assert_eq!(item.TrangThai, "4");
    }

    #[test]
    fn progress_requires_time_and_status() {
        let (item, f) = progress_to_dvcqg(&ProgressStep::default(), &MappingConfig::default());
        let paths: Vec<&str> = f.iter().map(|x| x.path.as_str()).collect();
        assert_eq!(paths, ["/dossier_code", "/at", "/status"]);
        assert_eq!(item.TrangThai, "");
    }

    #[test]
    fn identity_numbers_that_do_not_fit_are_not_sent() {
        let mut d = sample();
        d.applicant.identity_documents = vec![
            IdentityDocument {
                kind: IdentityKind::Other,
                number: "B1234567".into(),
            },
            IdentityDocument {
                kind: IdentityKind::CitizenId,
                number: "00120300456".into(),
            },
            IdentityDocument {
                kind: IdentityKind::LegacyId,
                number: "123456789".into(),
            },
        ];
        let (item, f) = dossier_to_dvcqg(&d, &MappingConfig::default());
        assert_eq!(item.SoGiayToChuHoSo.as_deref(), Some("B1234567"));
        assert_eq!(
            item.DinhDanhCHS,
            [IdentifierItem {
                LoaiDinhDanh: "2".into(),
                SoDinhDanh: "123456789".into()
            }]
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Warning);
        assert_eq!(f[0].path, "/applicant/identity_documents/1/number");
        let shown = f[0].to_string();
        assert!(!shown.contains("00120300456"), "{shown}");
        assert_eq!(f[0].found.as_deref(), Some("11 characters"));

        // Back: SoGiayToChuHoSo first, as another document.
        let (back, f) = dossier_from_dvcqg(&item);
        assert!(f.is_empty(), "{f:?}");
        assert_eq!(
            back.applicant.identity_documents,
            [
                IdentityDocument {
                    kind: IdentityKind::Other,
                    number: "B1234567".into()
                },
                IdentityDocument {
                    kind: IdentityKind::LegacyId,
                    number: "123456789".into()
                },
            ]
        );
    }

    #[test]
    fn fallback_identifier() {
        let mut d = sample();
        d.applicant.identity_documents.clear();
        let cfg = MappingConfig {
            dinh_danh_fallback: true,
            ..MappingConfig::default()
        };
        let (item, _) = dossier_to_dvcqg(&d, &cfg);
        assert_eq!(
            item.DinhDanhCHS,
            [IdentifierItem {
                LoaiDinhDanh: "2".into(),
                SoDinhDanh: "000000001".into()
            }]
        );
        let (back, _) = dossier_from_dvcqg(&item);
        assert!(back.applicant.identity_documents.is_empty());
        // Only when no real identifier is sent.
        let (item, _) = dossier_to_dvcqg(&sample(), &cfg);
        assert_eq!(item.DinhDanhCHS.len(), 1);
        assert_eq!(item.DinhDanhCHS[0].LoaiDinhDanh, "1");
    }

    #[test]
    fn configuration_overrides() {
        let mut d = sample();
        d.submission_place = Some("1".into());
        d.consulted_databases = vec!["3".into()];
        let (item, _) = dossier_to_dvcqg(&d, &MappingConfig::default());
        assert_eq!(item.NoiNopHoSo.as_deref(), Some("1"));
        assert_eq!(item.DSKetNoiCSDL, [DatabaseItem { MaCSDL: "3".into() }]);
        let cfg = MappingConfig {
            procedure_map: BTreeMap::from([(
                "1.001193.000.00.00.H41".to_owned(),
                "1.001193".to_owned(),
            )]),
            submission_place: Some("2".into()),
            consulted_databases: vec!["7".into()],
            ..MappingConfig::default()
        };
        let (item, _) = dossier_to_dvcqg(&d, &cfg);
        assert_eq!(item.MaTTHC, "1.001193");
        assert_eq!(item.NoiNopHoSo.as_deref(), Some("2"));
        assert_eq!(item.DSKetNoiCSDL, [DatabaseItem { MaCSDL: "7".into() }]);
    }

    #[test]
    fn arrays_are_mapped() {
        let mut d = sample();
        d.submitted_documents = vec![SubmittedDocument {
            id: Some("f1".into()),
            name: "Đơn".into(),
            deleted: false,
            digitised: Some(true),
            ..SubmittedDocument::default()
        }];
        d.fees = vec![Fee {
            name: "Lệ phí".into(),
            amount: 150_000,
            ..Fee::default()
        }];
        d.other_attachments = vec![OtherAttachment {
            name: "Bản sao".into(),
            quantity: Some(2),
            kind: None,
        }];
        d.supplement_requests = vec![SupplementRequest {
            content: "Bổ sung".into(),
            requested_at: Some(ts("2025-03-15T10:00:00+07:00")),
            ..SupplementRequest::default()
        }];
        let (item, f) = dossier_to_dvcqg(&d, &MappingConfig::default());
        assert!(f.is_empty());
        let t = &item.TaiLieuNop[0];
        assert_eq!(
            (
                t.IsDeleted.as_str(),
                t.DuocSoHoa.as_str(),
                t.DuocTaiSuDung.as_str()
            ),
            ("False", "1", "")
        );
        assert_eq!(item.DanhSachLePhi[0].Gia, "150000");
        assert_eq!(item.DanhSachTepDinhKemKhac[0].SoLuong, "2");
        assert_eq!(item.DanhSachHoSoBoSung[0].NgayBoSung, "20250315100000");
        assert!(item.DanhSachHoSoBoSung[0].DanhSachGiayToBoSung.is_empty());
        let (back, f) = dossier_from_dvcqg(&item);
        assert!(f.is_empty());
        assert_eq!(back, Dossier { version: 0, ..d });
    }

    #[test]
    fn reading_reports_bad_values_at_wire_paths() {
        let (item, _) = dossier_to_dvcqg(&sample(), &MappingConfig::default());
        let bad = DossierItem {
            TrangThaiHoSo: "11".into(),
            KenhThucHien: "x".into(),
            NgayHenTra: "20250230000000".into(),
            HoSoCoThanhPhanSoHoa: "2".into(),
            TaiLieuNop: vec![SubmittedDocumentItem {
                IsDeleted: "maybe".into(),
                ..SubmittedDocumentItem::default()
            }],
            DanhSachLePhi: vec![FeeItem {
                Gia: "1.000".into(),
                ..FeeItem::default()
            }],
            DinhDanhCHS: vec![IdentifierItem {
                LoaiDinhDanh: "1".into(),
                SoDinhDanh: "12345".into(),
            }],
            ..item
        };
        let (d, f) = dossier_from_dvcqg(&bad);
        let paths: Vec<&str> = f.iter().map(|x| x.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/TaiLieuNop/0/IsDeleted",
                "/DanhSachLePhi/0/Gia",
                "/KenhThucHien",
                "/DinhDanhCHS/0/SoDinhDanh",
                "/TrangThaiHoSo",
                "/NgayHenTra",
                "/HoSoCoThanhPhanSoHoa",
            ]
        );
        assert_eq!(d.status, None);
        assert_eq!(d.channel, None);
        assert_eq!(d.due_at, None);
        assert_eq!(
            f[4].expected.as_deref(),
            Some("one of 1, 2, 3, 4, 5, 6, 7, 8, 9, 10")
        );
        assert_eq!(f[4].found.as_deref(), Some("11"));
        assert!(!f[3].to_string().contains("12345"));
    }

    #[test]
    fn reading_accepts_lenient_forms() {
        let item = DossierItem {
            MaHoSo: " 000.00.12.H41-250314-0007 ".into(),
            TrangThaiHoSo: "04".into(),
            NgayTiepNhan: "20250314".into(),
            NgayHenTra: "2025-03-21T17:00:00+07:00".into(),
            KenhThucHien: " 3".into(),
            ..DossierItem::default()
        };
        let (d, f) = dossier_from_dvcqg(&item);
        assert!(f.is_empty(), "{f:?}");
        assert_eq!(d.code, "000.00.12.H41-250314-0007");
        assert_eq!(d.unit.code.as_deref(), Some("000.00.12.H41"));
        assert_eq!(d.status, Some(DossierStatus::Processing));
        assert_eq!(d.channel, Some(Channel::Postal));
        assert_eq!(d.received_at, Some(ts("2025-03-14T00:00:00+07:00")));
        assert_eq!(d.due_at, Some(ts("2025-03-21T17:00:00+07:00")));
    }

    #[test]
    fn unit_code_only_from_strict_heads() {
        assert_eq!(
            unit_code_of("000.00.12.H41-250314-0007"),
            Some("000.00.12.H41")
        );
        assert_eq!(unit_code_of("000.00.12.H41"), Some("000.00.12.H41"));
        assert_eq!(unit_code_of("00.00.12.H41-250314-0007"), None);
        assert_eq!(unit_code_of("000.00.12.h41-250314-0007"), None);
        assert_eq!(unit_code_of("H41-1"), None);
        assert_eq!(unit_code_of(""), None);
        assert_eq!(unit_code_of("000.00.12.H4ă-1"), None);
    }

    #[test]
    fn later_documents_of_other_kinds_are_reported_not_dropped() {
        let mut d = sample();
        d.applicant.identity_documents = vec![
            IdentityDocument {
                kind: IdentityKind::CitizenId,
                number: "040123456789".to_owned(),
            },
            IdentityDocument {
                kind: IdentityKind::Other,
                number: "B1234567".to_owned(),
            },
        ];
        let (item, f) = dossier_to_dvcqg(&d, &MappingConfig::default());
        assert_eq!(item.DinhDanhCHS.len(), 1);
        let w = f
            .iter()
            .find(|x| x.path == "/applicant/identity_documents/1")
            .expect("a warning about the passport");
        assert!(!w.is_error());
        assert!(!w.message.contains("B1234567"), "no personal data: {w}");
    }
}
