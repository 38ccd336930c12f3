//! Configuration of the DVCQG simulator (`docs/dvcqg.md` §13.1, `docs/simulators.md`):
//! accounts, session lifetime, response style, error codes, catalogues, the validation
//! switches, endpoint paths, the citizen-side receiver and initial faults.
//!
//! Every member has a default, so `{}` is a complete configuration; [`DvcqgConfig::default`]
//! is a realistic Nghệ An (`H41`) setup whose procedure catalogue holds the procedures of
//! the provincial generator, so generated dossiers pass the catalogue check.

use crate::fault::{FaultError, FaultSettings};
use serde::{Deserialize, Deserializer, Serialize};
use thiserror::Error;

/// A configuration the simulator cannot run with.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ConfigError {
    /// Not valid JSON for [`DvcqgConfig`].
    #[error("invalid DVCQG simulator configuration: {0}")]
    Parse(String),
    /// An endpoint path that is not `/` followed by at least one character, contains
    /// `{`, `}` or `*`, or lies under `/admin`.
    #[error(
        "{name} must start with '/', not lie under /admin and hold no '{{', '}}' or '*': {path:?}"
    )]
    Path {
        /// The setting.
        name: &'static str,
        /// Its value.
        path: String,
    },
    /// Two endpoints on the same path.
    #[error("auth_path, integration_path and share_path must differ")]
    SamePaths,
    /// An account without a user name.
    #[error("account {0} has an empty username")]
    EmptyUsername(usize),
    /// Two accounts with the same user name.
    #[error("two accounts are named {0:?}")]
    DuplicateUsername(String),
    /// The initial faults are invalid.
    #[error("faults: {0}")]
    Faults(#[from] FaultError),
}

/// A portal account issued to a province (§2, §13.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// User name of the authentication call.
    pub username: String,
    /// Password of the authentication call.
    pub password: String,
    /// Expected `dstcode` request header; `None`: not checked.
    #[serde(default)]
    pub dstcode: Option<String>,
    /// `madonvi` values the account may send; empty: any.
    #[serde(default)]
    pub madonvi: Vec<String>,
}

/// The success code of service replies as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SuccessCode {
    /// `"0"`.
    #[default]
    #[serde(rename = "0")]
    Zero,
    /// `"00"`.
    #[serde(rename = "00")]
    DoubleZero,
}

impl SuccessCode {
    /// The code.
    pub fn as_str(self) -> &'static str {
        match self {
            SuccessCode::Zero => "0",
            SuccessCode::DoubleZero => "00",
        }
    }
}

/// How `error_code` is written (§13.1), so the client's leniency can be tested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResponseStyle {
    /// Authentication replies carry `error_code` as a JSON number (`0`, `1`); else as a
    /// string (`"0"`, `"1"`). Default true.
    pub auth_error_code_as_number: bool,
    /// Success code of service replies when written as text: `"0"` (default) or `"00"`.
    pub service_success_code: SuccessCode,
    /// Service replies carry every `error_code` (success included) as a JSON number.
    /// Default false (strings).
    pub service_error_code_as_number: bool,
}

impl Default for ResponseStyle {
    fn default() -> Self {
        ResponseStyle {
            auth_error_code_as_number: true,
            service_success_code: SuccessCode::Zero,
            service_error_code_as_number: false,
        }
    }
}

/// A partial [`ResponseStyle`] (`POST /admin/response-style`): absent members keep their
/// value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResponseStylePatch {
    /// See [`ResponseStyle::auth_error_code_as_number`].
    pub auth_error_code_as_number: Option<bool>,
    /// See [`ResponseStyle::service_success_code`].
    pub service_success_code: Option<SuccessCode>,
    /// See [`ResponseStyle::service_error_code_as_number`].
    pub service_error_code_as_number: Option<bool>,
}

impl ResponseStyle {
    /// This style with the members of `patch` applied.
    pub fn patched(self, patch: ResponseStylePatch) -> Self {
        ResponseStyle {
            auth_error_code_as_number: patch
                .auth_error_code_as_number
                .unwrap_or(self.auth_error_code_as_number),
            service_success_code: patch
                .service_success_code
                .unwrap_or(self.service_success_code),
            service_error_code_as_number: patch
                .service_error_code_as_number
                .unwrap_or(self.service_error_code_as_number),
        }
    }
}

/// The simulator's error codes (§13.5). The real portal's codes are unknown; these are
/// the simulator's choices, free text, rendered as numbers when the response style asks
/// for numbers and the text is an integer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ErrorCodes {
    /// Wrong user name or password, or wrong `dstcode` at authentication. Default `1`.
    pub bad_credentials: String,
    /// Wrong or missing `dstcode` header on a service call. Default `1`.
    pub bad_dstcode: String,
    /// Unknown or expired session. Default `-1`.
    pub bad_session: String,
    /// `madonvi` not allowed for the session's account. Default `-1`.
    pub bad_madonvi: String,
    /// Dossier already exists (with `đã tồn tại`). Default `2`.
    pub duplicate: String,
    /// Validation error, malformed JSON or parameters. Default `3`.
    pub invalid: String,
    /// Unknown dossier (progress, strict update). Default `3`.
    pub not_found: String,
    /// Unknown service. Default `4`.
    pub unknown_service: String,
    /// Injected failure. Default `5`.
    pub injected: String,
}

impl Default for ErrorCodes {
    fn default() -> Self {
        ErrorCodes {
            bad_credentials: "1".into(),
            bad_dstcode: "1".into(),
            bad_session: "-1".into(),
            bad_madonvi: "-1".into(),
            duplicate: "2".into(),
            invalid: "3".into(),
            not_found: "3".into(),
            unknown_service: "4".into(),
            injected: "5".into(),
        }
    }
}

/// A field (lĩnh vực) of a procedure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcedureField {
    /// `MALINHVUC`.
    pub code: String,
    /// `TENLINHVUC`.
    pub name: String,
}

/// A procedure of the catalogue (`LayDanhSachTTHC`, `LayThuTuc`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcedureEntry {
    /// `MATTHC`, long or short form (codes.md §2).
    pub code: String,
    /// `TENTTHC`.
    pub name: String,
    /// `LINHVUCTHUCHIEN`.
    #[serde(default)]
    pub fields: Vec<ProcedureField>,
}

/// An agency of the catalogue (`LayDanhMucCoQuan`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgencyEntry {
    /// `MADONVI`.
    pub code: String,
    /// `TENDONVI`.
    pub name: String,
    /// `CAPDONVI` (a number or a string in the configuration; served as a string).
    #[serde(default, deserialize_with = "text_or_number")]
    pub level: String,
}

/// A field of the catalogue (`LayDanhMucLinhVuc`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldEntry {
    /// `MALINHVUC`.
    pub code: String,
    /// `TENLINHVUC`.
    pub name: String,
    /// `MANGANH`.
    #[serde(default)]
    pub sector: String,
}

fn text_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum TextOrNumber {
        Text(String),
        Number(serde_json::Number),
    }
    Ok(match TextOrNumber::deserialize(d)? {
        TextOrNumber::Text(s) => s,
        TextOrNumber::Number(n) => n.to_string(),
    })
}

/// The DVCQG simulator's configuration. JSON members are the field names; all optional.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DvcqgConfig {
    /// Accounts issued to provinces.
    pub accounts: Vec<Account>,
    /// Session lifetime in seconds (default 1800).
    pub session_ttl_secs: u64,
    /// How `error_code` is written.
    pub response_style: ResponseStyle,
    /// The simulator's error codes.
    pub codes: ErrorCodes,
    /// Procedure catalogue.
    pub procedures: Vec<ProcedureEntry>,
    /// Agency catalogue.
    pub agencies: Vec<AgencyEntry>,
    /// Field catalogue.
    pub fields: Vec<FieldEntry>,
    /// Province code looked for in the first part of `MaHoSo` (default `H41`).
    pub province_code: String,
    /// `MaTTHC` must be in the procedure catalogue, long or short form (default true).
    pub check_procedure_catalogue: bool,
    /// The part of `MaHoSo` before the first `-` must contain `province_code` (default
    /// true).
    pub check_province_in_code: bool,
    /// An update (`isUpdating` True) of an unknown dossier is refused instead of stored
    /// as new (default false).
    pub strict_update: bool,
    /// At most this many progress items per `CapNhatTienDoHoSoMC` call; `None`
    /// (default): no limit.
    pub max_progress_items_per_call: Option<usize>,
    /// Path of the authentication endpoint (default `/auth`).
    pub auth_path: String,
    /// Path of the integration endpoint (default `/integration`).
    pub integration_path: String,
    /// Path of the share endpoint (default `/share`).
    pub share_path: String,
    /// Largest request body accepted, in bytes (default 16 MiB); larger → HTTP 413.
    pub max_body_bytes: usize,
    /// Citizen side (ASSUMPTION): where dossiers submitted on the portal are pushed.
    pub receiver_url: Option<String>,
    /// Citizen side (ASSUMPTION): bearer token of the push.
    pub receiver_token: Option<String>,
    /// Faults in force from the start.
    pub faults: FaultSettings,
    /// File of the state snapshot: loaded when the simulator is spawned (if it exists),
    /// written by `POST /admin/snapshot`. `None` (default): no snapshot on disk.
    pub snapshot_path: Option<String>,
}

impl Default for DvcqgConfig {
    fn default() -> Self {
        DvcqgConfig {
            accounts: vec![Account {
                username: "lienthong".into(),
                password: "lienthong-secret".into(),
                dstcode: Some("H41-DVC".into()),
                madonvi: vec!["000.00.00.H41".into()],
            }],
            session_ttl_secs: 1800,
            response_style: ResponseStyle::default(),
            codes: ErrorCodes::default(),
            procedures: default_procedures(),
            agencies: default_agencies(),
            fields: default_fields(),
            province_code: "H41".into(),
            check_procedure_catalogue: true,
            check_province_in_code: true,
            strict_update: false,
            max_progress_items_per_call: None,
            auth_path: "/auth".into(),
            integration_path: "/integration".into(),
            share_path: "/share".into(),
            max_body_bytes: 16 * 1024 * 1024,
            receiver_url: None,
            receiver_token: None,
            faults: FaultSettings::default(),
            snapshot_path: None,
        }
    }
}

impl DvcqgConfig {
    /// Reads a configuration from JSON (absent members take their defaults) and
    /// validates it.
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        let c: DvcqgConfig =
            serde_json::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        c.validate()?;
        Ok(c)
    }

    /// Checks the paths, the accounts and the initial faults.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let paths = [
            ("auth_path", &self.auth_path),
            ("integration_path", &self.integration_path),
            ("share_path", &self.share_path),
        ];
        for (name, path) in paths {
            let bad = !path.starts_with('/')
                || path.len() < 2
                || path.contains(['{', '}', '*'])
                || path == "/admin"
                || path.starts_with("/admin/");
            if bad {
                return Err(ConfigError::Path {
                    name,
                    path: path.clone(),
                });
            }
        }
        if self.auth_path == self.integration_path
            || self.auth_path == self.share_path
            || self.integration_path == self.share_path
        {
            return Err(ConfigError::SamePaths);
        }
        for (i, a) in self.accounts.iter().enumerate() {
            if a.username.trim().is_empty() {
                return Err(ConfigError::EmptyUsername(i));
            }
            if self.accounts[..i].iter().any(|b| b.username == a.username) {
                return Err(ConfigError::DuplicateUsername(a.username.clone()));
            }
        }
        self.faults.validate()?;
        Ok(())
    }
}

/// The procedures of the provincial generator (`crates/provincial/src/generate.rs`).
fn default_procedures() -> Vec<ProcedureEntry> {
    let p = |code: &str, name: &str, field: &str, field_name: &str| ProcedureEntry {
        code: code.into(),
        name: name.into(),
        fields: vec![ProcedureField {
            code: field.into(),
            name: field_name.into(),
        }],
    };
    vec![
        p(
            "2.000477",
            "Cấp bản sao trích lục hộ tịch",
            "G12-HT01",
            "Hộ tịch",
        ),
        p(
            "1.001193.000.00.00.H41",
            "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam",
            "G12-LL01",
            "Lý lịch tư pháp",
        ),
        p(
            "1.009972.000.00.00.H41",
            "Cấp giấy phép xây dựng mới đối với công trình cấp II",
            "G13-XD02",
            "Hoạt động xây dựng",
        ),
        p(
            "2.001610",
            "Đăng ký thành lập công ty TNHH hai thành viên trở lên",
            "G08-DN01",
            "Thành lập và hoạt động của doanh nghiệp",
        ),
        p(
            "1.003560.000.00.00.H41",
            "Đăng ký biến động quyền sử dụng đất, quyền sở hữu tài sản gắn liền với đất",
            "G11-DD01",
            "Đất đai",
        ),
        p(
            "2.000205.000.00.00.H41",
            "Cấp giấy phép lao động cho người lao động nước ngoài làm việc tại Việt Nam",
            "G14-LD05",
            "Việc làm",
        ),
        p(
            "1.005092",
            "Công nhận văn bằng tốt nghiệp do cơ sở giáo dục nước ngoài cấp",
            "G03-GD10",
            "Văn bằng, chứng chỉ",
        ),
    ]
}

/// The province and the units of the provincial generator.
fn default_agencies() -> Vec<AgencyEntry> {
    [
        ("000.00.00.H41", "Ủy ban nhân dân tỉnh Nghệ An", "1"),
        ("000.00.12.H41", "Sở Tư pháp tỉnh Nghệ An", "2"),
        ("000.00.15.H41", "Sở Xây dựng tỉnh Nghệ An", "2"),
        ("000.00.08.H41", "Sở Kế hoạch và Đầu tư tỉnh Nghệ An", "2"),
        (
            "000.00.20.H41",
            "Sở Tài nguyên và Môi trường tỉnh Nghệ An",
            "2",
        ),
        (
            "000.00.11.H41",
            "Sở Lao động - Thương binh và Xã hội tỉnh Nghệ An",
            "2",
        ),
        ("000.00.03.H41", "Sở Giáo dục và Đào tạo tỉnh Nghệ An", "2"),
    ]
    .into_iter()
    .map(|(code, name, level)| AgencyEntry {
        code: code.into(),
        name: name.into(),
        level: level.into(),
    })
    .collect()
}

/// The fields of the default procedures; `MANGANH` is the ministry-shaped prefix of the
/// field code (codes.md §3).
fn default_fields() -> Vec<FieldEntry> {
    default_procedures()
        .into_iter()
        .flat_map(|p| p.fields)
        .map(|f| FieldEntry {
            sector: f.code.split('-').next().unwrap_or_default().to_owned(),
            code: f.code,
            name: f.name,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_json_is_the_default() {
        assert_eq!(
            DvcqgConfig::from_json("{}").expect("valid"),
            DvcqgConfig::default()
        );
        DvcqgConfig::default().validate().expect("valid default");
    }

    #[test]
    fn partial_json_and_levels_as_numbers() {
        let c = DvcqgConfig::from_json(
            r#"{"session_ttl_secs": 1, "agencies": [{"code": "X", "name": "Y", "level": 2}],
                "response_style": {"service_success_code": "00"}}"#,
        )
        .expect("valid");
        assert_eq!(c.session_ttl_secs, 1);
        assert_eq!(c.agencies[0].level, "2");
        assert_eq!(
            c.response_style.service_success_code,
            SuccessCode::DoubleZero
        );
        assert!(c.response_style.auth_error_code_as_number);
        assert_eq!(c.province_code, "H41");
    }

    #[test]
    fn invalid_configurations() {
        assert!(matches!(
            DvcqgConfig::from_json(r#"{"unknown": 1}"#),
            Err(ConfigError::Parse(_))
        ));
        assert!(matches!(
            DvcqgConfig::from_json(r#"{"auth_path": "auth"}"#),
            Err(ConfigError::Path {
                name: "auth_path",
                ..
            })
        ));
        assert!(matches!(
            DvcqgConfig::from_json(r#"{"share_path": "/admin/x"}"#),
            Err(ConfigError::Path { .. })
        ));
        assert_eq!(
            DvcqgConfig::from_json(r#"{"share_path": "/integration"}"#),
            Err(ConfigError::SamePaths)
        );
        assert!(matches!(
            DvcqgConfig::from_json(r#"{"faults": {"error_rate": 2}}"#),
            Err(ConfigError::Faults(_))
        ));
        assert!(matches!(
            DvcqgConfig::from_json(r#"{"response_style": {"service_success_code": "000"}}"#),
            Err(ConfigError::Parse(_))
        ));
    }

    #[test]
    fn fields_follow_procedures() {
        let c = DvcqgConfig::default();
        assert_eq!(c.fields.len(), c.procedures.len());
        assert!(c.fields.iter().all(|f| f.code.starts_with(&f.sector)));
    }
}
