//! The DVCQG wire format (`dvcqg.md` §4–8): the objects of `DongBoHoSoMC`,
//! `CapNhatTienDoHoSoMC` and `DongBoTrangThaiHoSo`, the request envelope, and the response
//! envelope with the portal's success rule (§5) and authentication rule (§3).
//!
//! Struct fields carry the exact wire names and are declared in the table order of the
//! specification, so serialising a struct writes its keys in that order. Every scalar is a
//! JSON string (dates `yyyyMMddHHmmss` or `""`, see [`crate::time`]).
//!
//! Request bodies are built as text: `serde_json::Map` keeps keys sorted unless the
//! `preserve_order` feature happens to be unified in, so the envelope members
//! (`session`, `madonvi`, `service`, then the parameters) are written by hand, each value
//! with `serde_json`, and typed items are serialised straight from their structs.

#![allow(non_snake_case)]

use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};
use thiserror::Error;

/// Service names (§4).
pub mod service {
    /// Create / update dossiers.
    pub const SYNC_DOSSIERS: &str = "DongBoHoSoMC";
    /// Append processing steps.
    pub const PROGRESS: &str = "CapNhatTienDoHoSoMC";
    /// Does the portal know this dossier?
    pub const LOOKUP_DOSSIER: &str = "TraCuuHoSo";
    /// Procedure details.
    pub const PROCEDURE: &str = "LayThuTuc";
    /// Procedure catalogue (share endpoint).
    pub const PROCEDURE_CATALOGUE: &str = "LayDanhSachTTHC";
    /// Agency catalogue (share endpoint).
    pub const AGENCY_CATALOGUE: &str = "LayDanhMucCoQuan";
    /// Field catalogue (share endpoint).
    pub const FIELD_CATALOGUE: &str = "LayDanhMucLinhVuc";
    /// Status of dossiers submitted on the portal itself.
    pub const STATUS_SYNC: &str = "DongBoTrangThaiHoSo";
}

/// At most this many progress items per `CapNhatTienDoHoSoMC` call (§7).
pub const MAX_PROGRESS_ITEMS_PER_CALL: usize = 10;

/// A submitted document (`TaiLieuNop` item, §6.3).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SubmittedDocumentItem {
    /// File id in the one-stop-shop.
    pub TepDinhKemId: String,
    /// File name.
    pub TenTepDinhKem: String,
    /// `"True"` / `"False"`.
    pub IsDeleted: String,
    /// Dossier component code.
    pub MaThanhPhanHoSo: String,
    /// Download URL.
    pub DuongDanTaiTepTin: String,
    /// Digitised, `"0"` / `"1"` / `""`.
    pub DuocSoHoa: String,
    /// Reused from an earlier result, `"0"` / `"1"` / `""`.
    pub DuocTaiSuDung: String,
    /// Taken from the citizen's data store on the portal, `"0"` / `"1"` / `""`.
    pub DuocLayTuKhoDMQG: String,
    /// Code of the earlier result it replaces.
    pub MaKetQuaThayThe: String,
}

/// A fee (`DanhSachLePhi` item, §6.3).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FeeItem {
    /// Fee name.
    pub TenPhiLePhi: String,
    /// Fee code.
    pub MaPhiLePhi: String,
    /// How it is collected.
    pub HinhThucThu: String,
    /// Amount in đồng, decimal digits without separators; `"0"` = no fee.
    pub Gia: String,
    /// Kind of fee.
    pub LoaiPhiLePhi: String,
}

/// Another attached paper (`DanhSachTepDinhKemKhac` item, §6.3).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OtherAttachmentItem {
    /// Name.
    pub TenGiayTo: String,
    /// Number of copies, decimal digits or `""`.
    pub SoLuong: String,
    /// Kind.
    pub LoaiGiayTo: String,
}

/// A supplement request (`DanhSachHoSoBoSung` item, §6.3).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SupplementItem {
    /// Id in the one-stop-shop.
    pub HoSoBoSungId: String,
    /// Official who asked.
    pub NguoiYeuCauBoSung: String,
    /// What is asked.
    pub NoiDungBoSung: String,
    /// When it was asked.
    pub NgayBoSung: String,
    /// Official who received the supplement.
    pub NguoiTiepNhanBoSung: String,
    /// What was received.
    pub ThongTinTiepNhan: String,
    /// When the supplement was received.
    pub NgayTiepNhanBoSung: String,
    /// State of the request.
    pub TrangThaiBoSung: String,
    /// Supplementary papers (item shape not observed; written empty).
    pub DanhSachGiayToBoSung: Vec<Value>,
    /// Supplementary fees (item shape not observed; written empty).
    pub DanhSachLePhiBoSung: Vec<Value>,
    /// Due date before the request.
    pub NgayHenTraTruoc: String,
    /// Due date after it.
    pub NgayHenTraMoi: String,
}

/// A result document (`DanhSachGiayToKetQua` item, §6.3).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResultDocumentItem {
    /// Name.
    pub TenGiayTo: String,
    /// Dossier component code.
    pub MaThanhPhanHoSo: String,
    /// Id in the one-stop-shop.
    pub GiayToId: String,
    /// Download URL of the electronic result.
    pub DuongDanTepTinKetQua: String,
    /// Code of the electronic result.
    pub MaGiayToKetQua: String,
}

/// A personal identifier of the applicant (`DinhDanhCHS` item, §9.6). Personal data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IdentifierItem {
    /// `"1"` citizen identity number (12 digits), `"2"` legacy card (9 digits).
    pub LoaiDinhDanh: String,
    /// The number.
    pub SoDinhDanh: String,
}

/// A national database consulted (`DSKetNoiCSDL` item).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DatabaseItem {
    /// Database code (list not public).
    pub MaCSDL: String,
}

/// A dossier object of `DongBoHoSoMC` (§6.2), fields in table order.
///
/// Presence when written: every A and O field always (`""` / `[]` when unknown);
/// `KenhThucHien`, `HoSoCoThanhPhanSoHoa`, `TaiKhoanDuocXacThucVoiVNeID` and
/// `DuocThanhToanTrucTuyen` always; `SoGiayToChuHoSo`, `NgayTuChoi`, `DinhDanhCHS`,
/// `NgayNopHoSo`, `NoiNopHoSo` and `DSKetNoiCSDL` only when known; `SoBienNhan` never (it
/// is kept when read).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DossierItem {
    /// 1. Dossier code, the key on the portal.
    pub MaHoSo: String,
    /// 2. Procedure code as known to the portal.
    pub MaTTHC: String,
    /// 3. Procedure name.
    pub TenTTHC: String,
    /// 4. Field code.
    pub MaLinhVuc: String,
    /// 5. Field name.
    pub TenLinhVuc: String,
    /// 6. Receipt number (Hà Giang client only); read, never written.
    #[serde(skip_serializing)]
    pub SoBienNhan: Option<String>,
    /// 7. Submission channel, `"1"`–`"3"`.
    pub KenhThucHien: String,
    /// 8. Applicant's name. Personal data.
    pub ChuHoSo: String,
    /// 9. Applicant's identity document number. Personal data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub SoGiayToChuHoSo: Option<String>,
    /// 10. Applicant category, `"1"`–`"4"`.
    pub LoaiDoiTuong: String,
    /// 11. Applicant's portal account (TechID).
    pub MaDoiTuong: String,
    /// 12. Other information.
    pub ThongTinKhac: String,
    /// 13. Applicant's e-mail. Personal data.
    pub Email: String,
    /// 14. Applicant's fax. Personal data.
    pub Fax: String,
    /// 15. Applicant's phone. Personal data.
    pub SoDienThoai: String,
    /// 16. Dossier abstract, at most 1000 characters.
    pub TrichYeuHoSo: String,
    /// 17. Reception time.
    pub NgayTiepNhan: String,
    /// 18. Promised return date.
    pub NgayHenTra: String,
    /// 19. Current status, `"1"`–`"10"`.
    pub TrangThaiHoSo: String,
    /// 20. Date the result was returned.
    pub NgayTra: String,
    /// 21. Information about the returned result.
    pub ThongTinTra: String,
    /// 22. Result delivery, `"0"` / `"1"`.
    pub HinhThuc: String,
    /// 23. End of processing.
    pub NgayKetThucXuLy: String,
    /// 24. Name of the processing agency.
    pub DonViXuLy: String,
    /// 25. Note.
    pub GhiChu: String,
    /// 26. Submitted documents.
    pub TaiLieuNop: Vec<SubmittedDocumentItem>,
    /// 27. Fees.
    pub DanhSachLePhi: Vec<FeeItem>,
    /// 28. Other attachments.
    pub DanhSachTepDinhKemKhac: Vec<OtherAttachmentItem>,
    /// 29. Supplement requests.
    pub DanhSachHoSoBoSung: Vec<SupplementItem>,
    /// 30. Result documents.
    pub DanhSachGiayToKetQua: Vec<ResultDocumentItem>,
    /// 31. Submission place (meaning not documented).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub NoiNopHoSo: Option<String>,
    /// 32. The dossier has digitised components, `"0"` / `"1"`.
    pub HoSoCoThanhPhanSoHoa: String,
    /// 33. The applicant's account is verified with VNeID, `"0"` / `"1"`.
    pub TaiKhoanDuocXacThucVoiVNeID: String,
    /// 34. Online payment, `"0"`–`"3"`.
    pub DuocThanhToanTrucTuyen: String,
    /// 35. Date of refusal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub NgayTuChoi: Option<String>,
    /// 36. Applicant's personal identifiers. Personal data.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub DinhDanhCHS: Vec<IdentifierItem>,
    /// 37. Submission time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub NgayNopHoSo: Option<String>,
    /// 38. National databases consulted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub DSKetNoiCSDL: Vec<DatabaseItem>,
}

/// A progress object of `CapNhatTienDoHoSoMC` (§7), fields in table order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProgressItem {
    /// 1. Dossier the step belongs to.
    pub MaHoSo: String,
    /// 2. Official who handled the step, at most 50 characters.
    pub NguoiXuLy: String,
    /// 3. That official's title.
    pub ChucDanh: String,
    /// 4. Time of the step.
    pub ThoiDiemXuLy: String,
    /// 5. Department.
    pub PhongBanXuLy: String,
    /// 6. What was done.
    pub NoiDungXuLy: String,
    /// 7. Dossier status after the step, `"1"`–`"10"`.
    pub TrangThai: String,
    /// 8. Step start.
    pub NgayBatDau: String,
    /// 9. Step deadline.
    pub NgayKetThucTheoQuyDinh: String,
}

/// An item of `DongBoTrangThaiHoSo` (§8), for dossiers submitted on the portal itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StatusSyncItem {
    /// The portal's dossier code.
    pub MaHoSo: String,
    /// The local dossier code.
    pub MaHoSoDonVi: String,
    /// Applicant's portal account.
    pub MaDoiTuong: String,
    /// Text.
    pub NoiDung: String,
    /// Date-time of the step.
    pub NgayXuLy: String,
    /// Reduced status, `"2"` or `"5"` ([`crate::codes::reduced_status`]).
    pub TrangThai: String,
    /// Documents (shape not observed).
    pub TaiLieuXuLy: Vec<Value>,
}

/// Serialises a value whose serialisation cannot fail (structs of strings and JSON values).
fn to_json<T: Serialize + ?Sized>(v: &T) -> String {
    match serde_json::to_string(v) {
        Ok(s) => s,
        // Only I/O errors, non-string map keys and custom `Serialize` errors can make
        // serde_json fail; none can occur for the types of this module.
        Err(e) => unreachable!("serialising a DVCQG wire value failed: {e}"),
    }
}

/// Writes an envelope; each parameter value is already JSON text.
fn envelope(session: &str, madonvi: &str, service: &str, params: &[(&str, String)]) -> String {
    let mut out = String::from("{");
    let fixed = [
        ("session", to_json(session)),
        ("madonvi", to_json(madonvi)),
        ("service", to_json(service)),
    ];
    for (i, (key, json)) in fixed.iter().chain(params).enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&to_json(*key));
        out.push(':');
        out.push_str(json);
    }
    out.push('}');
    out
}

/// A request body of the session style (§4): members `session`, `madonvi`, `service`,
/// then `params` in the given order.
///
/// Returned as JSON text, not as a `serde_json::Value`: a `Value` object would reorder the
/// members unless serde_json's `preserve_order` feature is on, which this crate cannot rely
/// on. For the same reason, object values inside `params` are written in `serde_json::Map`
/// order; the typed helpers ([`sync_dossiers_body`], …) keep the table order of their items.
pub fn request_body(
    session: &str,
    madonvi: &str,
    service: &str,
    params: Vec<(&str, Value)>,
) -> String {
    let params: Vec<(&str, String)> = params
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect();
    envelope(session, madonvi, service, &params)
}

/// The `DongBoHoSoMC` body: `isUpdating` (`"True"` / `"False"`) then `data`.
pub fn sync_dossiers_body(
    session: &str,
    madonvi: &str,
    is_updating: bool,
    items: &[DossierItem],
) -> String {
    envelope(
        session,
        madonvi,
        service::SYNC_DOSSIERS,
        &[
            ("isUpdating", to_json(crate::codes::true_false(is_updating))),
            ("data", to_json(items)),
        ],
    )
}

/// The `CapNhatTienDoHoSoMC` body: `data`. The caller keeps to
/// [`MAX_PROGRESS_ITEMS_PER_CALL`] items per call.
pub fn progress_body(session: &str, madonvi: &str, items: &[ProgressItem]) -> String {
    envelope(
        session,
        madonvi,
        service::PROGRESS,
        &[("data", to_json(items))],
    )
}

/// The `DongBoTrangThaiHoSo` body: `type` = `"2"`, then `data`.
pub fn status_sync_body(session: &str, madonvi: &str, items: &[StatusSyncItem]) -> String {
    envelope(
        session,
        madonvi,
        service::STATUS_SYNC,
        &[("type", to_json("2")), ("data", to_json(items))],
    )
}

/// The `TraCuuHoSo` body: `mahoso`.
pub fn lookup_dossier_body(session: &str, madonvi: &str, mahoso: &str) -> String {
    envelope(
        session,
        madonvi,
        service::LOOKUP_DOSSIER,
        &[("mahoso", to_json(mahoso))],
    )
}

/// The authentication body (§3): `{"username": …, "password": …}` in that order.
pub fn auth_body(username: &str, password: &str) -> String {
    format!(
        "{{\"username\":{},\"password\":{}}}",
        to_json(username),
        to_json(password)
    )
}

/// `error_code` as the portal sent it: a JSON number or a string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ErrorCode {
    /// A JSON number, e.g. `0`.
    Number(Number),
    /// A string, e.g. `"00"` (any other JSON type is kept here as its JSON text).
    Text(String),
}

impl ErrorCode {
    /// The code as the partner wrote it, without JSON quotes (`3` for both `3` and `"3"`):
    /// what operators filter parked messages by.
    pub fn raw(&self) -> String {
        match self {
            ErrorCode::Number(n) => n.to_string(),
            ErrorCode::Text(s) => s.trim().to_owned(),
        }
    }

    /// Whether the code means success: the number 0, or `"0"` / `"00"` after trimming.
    pub fn is_success(&self) -> bool {
        match self {
            ErrorCode::Number(n) => n.as_u64() == Some(0) || n.as_i64() == Some(0),
            ErrorCode::Text(s) => matches!(s.trim(), "0" | "00"),
        }
    }

    /// Whether the code is `3` or `-3` (number or trimmed string), which the gateway parks
    /// for human review (§5 rule 4).
    pub fn is_review(&self) -> bool {
        match self {
            ErrorCode::Number(n) => matches!(n.as_i64(), Some(3 | -3)),
            ErrorCode::Text(s) => matches!(s.trim(), "3" | "-3"),
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ErrorCode::Number(n) => write!(f, "{n}"),
            ErrorCode::Text(s) => write!(f, "{s:?}"),
        }
    }
}

/// A reply that is not a response envelope.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ResponseError {
    /// The reply is JSON but not an object.
    #[error("the portal's reply is not a JSON object")]
    NotAnObject,
}

/// The response envelope (§3, §5), read leniently: `error_code` as a number or a string or
/// absent; `message` and `session` absent or null as `None`; `result` absent or null as
/// empty, a lone non-array value as a one-item list.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Value")]
pub struct Response {
    /// The code; `None` when absent or null.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<ErrorCode>,
    /// The message text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The `result` array.
    pub result: Vec<Value>,
    /// The session token (authentication replies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
}

impl TryFrom<Value> for Response {
    type Error = ResponseError;

    fn try_from(v: Value) -> Result<Self, Self::Error> {
        let Value::Object(mut map) = v else {
            return Err(ResponseError::NotAnObject);
        };
        let text = |v: Value| match v {
            Value::Null => None,
            Value::String(s) => Some(s),
            other => Some(other.to_string()),
        };
        let error_code = match map.remove("error_code") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => Some(ErrorCode::Number(n)),
            Some(Value::String(s)) => Some(ErrorCode::Text(s)),
            Some(other) => Some(ErrorCode::Text(other.to_string())),
        };
        let result = match map.remove("result") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items,
            Some(other) => vec![other],
        };
        Ok(Response {
            error_code,
            message: map.remove("message").and_then(text),
            result,
            session: map.remove("session").and_then(text),
        })
    }
}

impl Response {
    /// Parses a reply body.
    pub fn parse(body: &[u8]) -> Result<Response, serde_json::Error> {
        serde_json::from_slice(body)
    }
}

/// What a reply means for the call that caused it (§5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The call succeeded.
    Success,
    /// The dossier already exists on the portal (only for a `DongBoHoSoMC` insert):
    /// resend the same payload once with `isUpdating` = `"True"`.
    Duplicate,
    /// `error_code` 3 or -3 without the duplicate text: park for human review, no
    /// automatic retry. Carries the portal's message.
    NeedsReview(String),
    /// Any other reply. Carries the portal's message (or, when it sent none, a
    /// description of the reply) for operators.
    Failure(String),
}

/// Lower-cases `s` and decomposes the precomposed letters of the two signal phrases
/// (`đã tồn tại`, `thành công`) into base letter + combining marks (NFD).
///
/// There is no Unicode normalisation dependency: the signal phrases are compared in
/// decomposed form, and only the letters they contain are decomposed in the message. A
/// message in NFC, in NFD, or mixing both therefore matches exactly when its NFC form
/// contains the phrase. (`đ` has no decomposition.)
fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars().flat_map(char::to_lowercase) {
        match c {
            'ã' => out.push_str("a\u{303}"),
            'ạ' => out.push_str("a\u{323}"),
            'à' => out.push_str("a\u{300}"),
            'ô' => out.push_str("o\u{302}"),
            'ồ' => out.push_str("o\u{302}\u{300}"),
            c => out.push(c),
        }
    }
    out
}

/// Whether `message` carries the duplicate signal `đã tồn tại` (any case, NFC or NFD).
pub fn is_duplicate_message(message: &str) -> bool {
    fold(message).contains(&fold("đã tồn tại"))
}

/// Whether `message` says `thành công` (any case, NFC or NFD).
pub fn is_success_message(message: &str) -> bool {
    fold(message).contains(&fold("thành công"))
}

/// Classifies a reply by the rules of §5, in their order. `is_insert`: the call was a
/// `DongBoHoSoMC` with `isUpdating` = `"False"` (the only call for which the duplicate
/// signal means "already on the portal").
///
/// 1. `message` contains `đã tồn tại` → [`Outcome::Duplicate`] on an insert,
///    [`Outcome::Failure`] otherwise, whatever `error_code` says;
/// 2. `error_code` 0, `"0"` or `"00"` (trimmed) → [`Outcome::Success`];
/// 3. no `error_code` (absent or null) → success iff `message` contains `thành công`;
/// 4. `error_code` 3 or -3 → [`Outcome::NeedsReview`];
/// 5. anything else → [`Outcome::Failure`].
pub fn classify(r: &Response, is_insert: bool) -> Outcome {
    let message = r.message.as_deref().unwrap_or("");
    if is_duplicate_message(message) {
        return if is_insert {
            Outcome::Duplicate
        } else {
            Outcome::Failure(message.to_owned())
        };
    }
    let describe = || {
        if !message.trim().is_empty() {
            message.to_owned()
        } else {
            match &r.error_code {
                Some(code) => format!("error_code {code} without a message"),
                None => "no error_code and no message".to_owned(),
            }
        }
    };
    match &r.error_code {
        Some(code) if code.is_success() => Outcome::Success,
        None if is_success_message(message) => Outcome::Success,
        None => Outcome::Failure(describe()),
        Some(code) if code.is_review() => Outcome::NeedsReview(describe()),
        Some(_) => Outcome::Failure(describe()),
    }
}

/// The session token of an authentication reply (§3): present and non-empty (trimmed) and
/// `error_code` 0, `"0"` or `"00"`; else `None`.
pub fn session_of(r: &Response) -> Option<&str> {
    if !r.error_code.as_ref().is_some_and(ErrorCode::is_success) {
        return None;
    }
    r.session
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn resp(v: Value) -> Response {
        Response::try_from(v).expect("object")
    }

    #[test]
    fn dossier_keys_in_table_order_with_presence_rule() {
        let item = DossierItem {
            MaHoSo: "000.00.12.H41-250314-0007".into(),
            SoBienNhan: Some("BN-1".into()),
            ..DossierItem::default()
        };
        let v: Value = serde_json::from_str(&to_json(&item)).expect("json");
        let text = to_json(&item);
        let keys: Vec<&str> = text
            .match_indices("\":")
            .map(|(i, _)| {
                let start = text[..i].rfind('"').map_or(0, |s| s + 1);
                &text[start..i]
            })
            .collect();
        assert_eq!(
            keys,
            [
                "MaHoSo",
                "MaTTHC",
                "TenTTHC",
                "MaLinhVuc",
                "TenLinhVuc",
                "KenhThucHien",
                "ChuHoSo",
                "LoaiDoiTuong",
                "MaDoiTuong",
                "ThongTinKhac",
                "Email",
                "Fax",
                "SoDienThoai",
                "TrichYeuHoSo",
                "NgayTiepNhan",
                "NgayHenTra",
                "TrangThaiHoSo",
                "NgayTra",
                "ThongTinTra",
                "HinhThuc",
                "NgayKetThucXuLy",
                "DonViXuLy",
                "GhiChu",
                "TaiLieuNop",
                "DanhSachLePhi",
                "DanhSachTepDinhKemKhac",
                "DanhSachHoSoBoSung",
                "DanhSachGiayToKetQua",
                "HoSoCoThanhPhanSoHoa",
                "TaiKhoanDuocXacThucVoiVNeID",
                "DuocThanhToanTrucTuyen",
            ]
        );
        assert_eq!(v["TaiLieuNop"], json!([]));
        assert!(v.get("SoBienNhan").is_none());

        let full = DossierItem {
            SoGiayToChuHoSo: Some("x".into()),
            NoiNopHoSo: Some("2".into()),
            NgayTuChoi: Some("20250314091502".into()),
            DinhDanhCHS: vec![IdentifierItem::default()],
            NgayNopHoSo: Some("20250314083000".into()),
            DSKetNoiCSDL: vec![DatabaseItem { MaCSDL: "7".into() }],
            ..item
        };
        let text = to_json(&full);
        let order = [
            "\"KenhThucHien\"",
            "\"ChuHoSo\"",
            "\"SoGiayToChuHoSo\"",
            "\"LoaiDoiTuong\"",
            "\"DanhSachGiayToKetQua\"",
            "\"NoiNopHoSo\"",
            "\"HoSoCoThanhPhanSoHoa\"",
            "\"DuocThanhToanTrucTuyen\"",
            "\"NgayTuChoi\"",
            "\"DinhDanhCHS\"",
            "\"NgayNopHoSo\"",
            "\"DSKetNoiCSDL\"",
        ];
        let positions: Vec<usize> = order
            .iter()
            .map(|k| text.find(k).unwrap_or_else(|| panic!("{k} missing")))
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
    }

    #[test]
    fn dossier_item_reads_back_including_receipt_number() {
        let v = json!({"MaHoSo": "A-1", "SoBienNhan": "BN-1", "TrangThaiHoSo": "2"});
        let item: DossierItem = serde_json::from_value(v).expect("item");
        assert_eq!(item.SoBienNhan.as_deref(), Some("BN-1"));
        assert_eq!(item.TrangThaiHoSo, "2");
        assert_eq!(item.KenhThucHien, "");
    }

    #[test]
    fn envelope_member_order() {
        let items = [DossierItem {
            MaHoSo: "M".into(),
            ..DossierItem::default()
        }];
        let body = sync_dossiers_body("tok", "000.00.00.H41", false, &items);
        assert!(
            body.starts_with(
                "{\"session\":\"tok\",\"madonvi\":\"000.00.00.H41\",\"service\":\"DongBoHoSoMC\",\"isUpdating\":\"False\",\"data\":[{\"MaHoSo\":\"M\",\"MaTTHC\":\"\""
            ),
            "{body}"
        );
        let v: Value = serde_json::from_str(&body).expect("valid json");
        assert_eq!(v["data"][0]["MaHoSo"], "M");
        assert!(
            sync_dossiers_body("t", "m", true, &[]).contains("\"isUpdating\":\"True\",\"data\":[]")
        );

        let body = progress_body("t", "m", &[ProgressItem::default()]);
        assert!(body.starts_with(
            "{\"session\":\"t\",\"madonvi\":\"m\",\"service\":\"CapNhatTienDoHoSoMC\",\"data\":[{\"MaHoSo\":\"\",\"NguoiXuLy\":\"\",\"ChucDanh\":\"\",\"ThoiDiemXuLy\""
        ));
        let body = status_sync_body("t", "m", &[StatusSyncItem::default()]);
        assert!(body.starts_with(
            "{\"session\":\"t\",\"madonvi\":\"m\",\"service\":\"DongBoTrangThaiHoSo\",\"type\":\"2\",\"data\":[{\"MaHoSo\":\"\",\"MaHoSoDonVi\""
        ));
        assert!(body.ends_with("\"TaiLieuXuLy\":[]}]}"));

        let body = request_body(
            "t\"1",
            "m",
            "TraCuuHoSo",
            vec![("mahoso", json!("X")), ("a", json!(1))],
        );
        assert_eq!(
            body,
            "{\"session\":\"t\\\"1\",\"madonvi\":\"m\",\"service\":\"TraCuuHoSo\",\"mahoso\":\"X\",\"a\":1}"
        );
        assert_eq!(
            lookup_dossier_body("t", "m", "X"),
            "{\"session\":\"t\",\"madonvi\":\"m\",\"service\":\"TraCuuHoSo\",\"mahoso\":\"X\"}"
        );
        assert_eq!(
            auth_body("u", "p"),
            "{\"username\":\"u\",\"password\":\"p\"}"
        );
    }

    #[test]
    fn response_reading_is_lenient() {
        let r = Response::parse(br#"{"error_code": 0, "message": "ok", "session": "abc"}"#)
            .expect("parse");
        assert_eq!(r.error_code, Some(ErrorCode::Number(0.into())));
        assert_eq!(r.session.as_deref(), Some("abc"));
        assert!(r.result.is_empty());
        let r = Response::parse(br#"{"error_code": "0", "result": [{"a": 1}], "message": null}"#)
            .expect("parse");
        assert_eq!(r.error_code, Some(ErrorCode::Text("0".into())));
        assert_eq!(r.result.len(), 1);
        assert_eq!(r.message, None);
        let r = Response::parse(br#"{"result": null, "error_code": null}"#).expect("parse");
        assert_eq!(r.error_code, None);
        assert!(r.result.is_empty());
        assert!(Response::parse(b"[]").is_err());
        assert_eq!(
            Response::try_from(json!(1)),
            Err(ResponseError::NotAnObject)
        );
    }

    #[test]
    fn duplicate_rule_first() {
        let r = resp(json!({"error_code": "2", "message": "Hồ sơ X đã tồn tại"}));
        assert_eq!(classify(&r, true), Outcome::Duplicate);
        assert_eq!(
            classify(&r, false),
            Outcome::Failure("Hồ sơ X đã tồn tại".into())
        );
        // Whatever error_code says, including success and review codes.
        for code in [json!("0"), json!(0), json!("3"), json!(-3), Value::Null] {
            let r = resp(json!({"error_code": code, "message": "HỒ SƠ ĐÃ TỒN TẠI"}));
            assert_eq!(classify(&r, true), Outcome::Duplicate, "{code}");
        }
        let nfd = "Ho\u{302}\u{300} so\u{31b} X đa\u{303} to\u{302}\u{300}n ta\u{323}i";
        let r = resp(json!({"error_code": "2", "message": nfd}));
        assert_eq!(classify(&r, true), Outcome::Duplicate);
        let mixed = "đã to\u{302}\u{300}n tại";
        assert!(is_duplicate_message(mixed));
        let upper_nfd = "ĐA\u{303} TO\u{302}\u{300}N TA\u{323}I";
        assert!(is_duplicate_message(upper_nfd));
        assert!(!is_duplicate_message("đã tồn"));
        assert!(!is_duplicate_message("da ton tai"));
        assert!(!is_duplicate_message("đẫ tồn tại"));
    }

    #[test]
    fn success_codes() {
        for code in [json!(0), json!("0"), json!("00"), json!(" 0 "), json!(-0)] {
            let r = resp(json!({"error_code": code, "message": "Đồng bộ thành công"}));
            assert_eq!(classify(&r, true), Outcome::Success, "{code}");
            assert_eq!(classify(&r, false), Outcome::Success, "{code}");
        }
        let r = resp(json!({"error_code": "000", "message": "x"}));
        assert_eq!(classify(&r, false), Outcome::Failure("x".into()));
    }

    #[test]
    fn no_code_depends_on_the_message() {
        let r = resp(json!({"message": "Cập nhật tiến độ thành công"}));
        assert_eq!(classify(&r, false), Outcome::Success);
        let r = resp(json!({"message": "CẬP NHẬT THA\u{300}NH CO\u{302}NG"}));
        assert_eq!(classify(&r, false), Outcome::Success);
        let r = resp(json!({"error_code": null, "message": "thành công"}));
        assert_eq!(classify(&r, false), Outcome::Success);
        let r = resp(json!({"message": "Lỗi hệ thống"}));
        assert_eq!(classify(&r, false), Outcome::Failure("Lỗi hệ thống".into()));
        let r = resp(json!({}));
        assert_eq!(
            classify(&r, false),
            Outcome::Failure("no error_code and no message".into())
        );
        // With a code, the text alone does not make a success.
        let r = resp(json!({"error_code": "1", "message": "thành công"}));
        assert_eq!(classify(&r, false), Outcome::Failure("thành công".into()));
    }

    #[test]
    fn review_codes() {
        for code in [json!("3"), json!(3), json!("-3"), json!(-3), json!(" 3 ")] {
            let r = resp(json!({"error_code": code, "message": "?"}));
            assert_eq!(
                classify(&r, false),
                Outcome::NeedsReview("?".into()),
                "{code}"
            );
            assert_eq!(
                classify(&r, true),
                Outcome::NeedsReview("?".into()),
                "{code}"
            );
        }
        let r = resp(json!({"error_code": "3"}));
        assert_eq!(
            classify(&r, false),
            Outcome::NeedsReview("error_code \"3\" without a message".into())
        );
    }

    #[test]
    fn other_codes_fail() {
        for code in [
            json!("-1"),
            json!(-1),
            json!("1"),
            json!(2),
            json!(""),
            json!(true),
            json!(0.5),
        ] {
            let r = resp(json!({"error_code": code, "message": "Phiên làm việc không hợp lệ"}));
            assert_eq!(
                classify(&r, false),
                Outcome::Failure("Phiên làm việc không hợp lệ".into()),
                "{code}"
            );
        }
        let r = resp(json!({"error_code": -1}));
        assert_eq!(
            classify(&r, false),
            Outcome::Failure("error_code -1 without a message".into())
        );
    }

    #[test]
    fn authentication() {
        let ok = resp(json!({"error_code": 0, "message": "Thành công", "session": "tok"}));
        assert_eq!(session_of(&ok), Some("tok"));
        for code in [json!("0"), json!("00")] {
            let r = resp(json!({"error_code": code, "session": " tok "}));
            assert_eq!(session_of(&r), Some("tok"));
        }
        let bad = resp(json!({"error_code": 1, "message": "Sai thông tin đăng nhập"}));
        assert_eq!(session_of(&bad), None);
        let r = resp(json!({"error_code": 1, "session": "tok"}));
        assert_eq!(session_of(&r), None);
        let r = resp(json!({"error_code": 0, "session": ""}));
        assert_eq!(session_of(&r), None);
        let r = resp(json!({"session": "tok"}));
        assert_eq!(session_of(&r), None);
    }
}
