//! The portal's behaviour (`docs/dvcqg.md` §13.2–13.5), without I/O: the simulator's
//! state and the processing of one decoded call on the auth, integration or share
//! endpoint. The HTTP layer (`http.rs`) applies faults around it.

use super::config::{DvcqgConfig, ResponseStyle};
use super::records::{
    CallStats, CitizenPush, DossierRecord, DossierVersion, ProgressRecord, SessionInfo,
    StatusSyncRecord,
};
use crate::fault::FaultEngine;
use crate::rng::Rng;
use axum::http::HeaderMap;
use jiff::Timestamp;
use lienthong_dvcqg::codes::canonical;
use lienthong_dvcqg::read::{
    read_dossier_item, read_progress_item, validate_dossier_item, validate_progress_item,
};
use lienthong_dvcqg::time;
use lienthong_dvcqg::wire::{ProgressItem, StatusSyncItem, service};
use lienthong_model::Finding;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// Reply texts. The real portal's texts are unknown except for the duplicate signal
/// (`đã tồn tại`) and the success heuristic (`thành công`), which these keep.
pub(crate) mod msg {
    /// Authentication succeeded.
    pub(crate) const AUTH_OK: &str = "Thành công";
    /// Wrong credentials or `dstcode` at authentication.
    pub(crate) const AUTH_BAD: &str = "Sai thông tin đăng nhập";
    /// Unknown or expired session.
    pub(crate) const SESSION_BAD: &str = "Phiên làm việc không hợp lệ hoặc đã hết hạn";
    /// Wrong `dstcode` on a service call.
    pub(crate) const DSTCODE_BAD: &str = "Sai mã dstcode";
    /// `DongBoHoSoMC` succeeded.
    pub(crate) const SYNC_OK: &str = "Đồng bộ thành công";
    /// `CapNhatTienDoHoSoMC` succeeded.
    pub(crate) const PROGRESS_OK: &str = "Cập nhật tiến độ thành công";
    /// `DongBoTrangThaiHoSo` succeeded.
    pub(crate) const STATUS_OK: &str = "Đồng bộ trạng thái thành công";
    /// A lookup or catalogue succeeded.
    pub(crate) const LOOKUP_OK: &str = "Thành công";
    /// Unknown service.
    pub(crate) const UNKNOWN_SERVICE: &str = "Dịch vụ không hợp lệ";
    /// Injected failure.
    pub(crate) const INJECTED: &str = "Lỗi hệ thống (giả lập)";
    /// Prefix of validation errors.
    pub(crate) const INVALID: &str = "Dữ liệu không hợp lệ";
}

/// The three simulated endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// Authentication.
    Auth,
    /// Synchronisation and lookups.
    Integration,
    /// Shared catalogues.
    Share,
}

/// A processed call: the JSON answer and the outcome label for the statistics.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Processed {
    pub(crate) body: Value,
    pub(crate) outcome: &'static str,
}

/// A session issued by the authentication endpoint.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    username: String,
    issued: Instant,
    issued_at: Timestamp,
}

/// Who is calling (from the session and the envelope).
#[derive(Debug, Clone)]
struct Caller {
    username: String,
    madonvi: String,
}

/// The whole simulator state, behind the handle's mutex.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) config: DvcqgConfig,
    pub(crate) style: ResponseStyle,
    pub(crate) sessions: HashMap<String, Session>,
    pub(crate) dossiers: BTreeMap<String, DossierRecord>,
    pub(crate) status_sync: Vec<StatusSyncRecord>,
    pub(crate) citizen: Vec<CitizenPush>,
    pub(crate) citizen_codes: BTreeSet<String>,
    pub(crate) citizen_counter: u32,
    pub(crate) calls: CallStats,
    pub(crate) faults: FaultEngine,
    token_rng: Rng,
}

/// `code` as JSON: a number when `as_number` and it is an integer, else the text.
pub(crate) fn code_value(code: &str, as_number: bool) -> Value {
    match code.trim().parse::<i64>() {
        Ok(n) if as_number => Value::from(n),
        _ => Value::String(code.to_owned()),
    }
}

/// A request header as trimmed text.
fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// A parameter by name, exact first, then ignoring ASCII case.
fn param<'a>(body: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    body.get(name).or_else(|| {
        body.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// A scalar parameter as trimmed text (strings and numbers).
fn text_param(body: &Map<String, Value>, name: &str) -> Option<String> {
    match param(body, name)? {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Whether `s` is a procedure core `D.DDDDDD` (codes.md §2).
fn is_core(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 8
        && b[1] == b'.'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 1 || c.is_ascii_digit())
}

/// Whether a sent `MaTTHC` designates a catalogue procedure: the same code, or the short
/// form (core) of a long catalogue code, or a long form of a short catalogue code.
pub(crate) fn procedure_matches(sent: &str, entry: &str) -> bool {
    let (s, e) = (sent.trim(), entry.trim());
    let extends = |long: &str, core: &str| {
        is_core(core) && long.len() > 8 && long.starts_with(core) && long[8..].starts_with('.')
    };
    s == e || extends(e, s) || extends(s, e)
}

/// The error finding's field, relative to the item at `prefix`.
fn field_of<'a>(f: &'a Finding, prefix: &str) -> &'a str {
    f.path
        .strip_prefix(prefix)
        .map(|s| s.trim_start_matches('/'))
        .filter(|s| !s.is_empty())
        .unwrap_or("(toàn bộ đối tượng)")
}

/// `Dữ liệu không hợp lệ: <who>, trường <field>: <message> (expected …, found …)`.
fn finding_message(who: &str, f: &Finding, prefix: &str) -> String {
    let mut m = format!(
        "{}: {who}, trường {}: {}",
        msg::INVALID,
        field_of(f, prefix),
        f.message
    );
    let _ = match (&f.expected, &f.found) {
        (Some(e), Some(x)) => write!(m, " (expected {e}, found {x})"),
        (Some(e), None) => write!(m, " (expected {e})"),
        (None, Some(x)) => write!(m, " (found {x})"),
        (None, None) => Ok(()),
    };
    m
}

/// How a dossier is named in messages.
fn dossier_who(code: &str, index: usize) -> String {
    let code = code.trim();
    if code.is_empty() {
        format!("hồ sơ thứ {} (không có MaHoSo)", index + 1)
    } else {
        format!("hồ sơ {code}")
    }
}

impl State {
    pub(crate) fn new(config: DvcqgConfig, faults: FaultEngine) -> Self {
        State {
            style: config.response_style,
            config,
            sessions: HashMap::new(),
            dossiers: BTreeMap::new(),
            status_sync: Vec::new(),
            citizen: Vec::new(),
            citizen_codes: BTreeSet::new(),
            citizen_counter: 0,
            calls: CallStats::default(),
            faults,
            token_rng: Rng::from_entropy(),
        }
    }

    fn ttl(&self) -> Duration {
        Duration::from_secs(self.config.session_ttl_secs)
    }

    // -----------------------------------------------------------------------------------
    // Replies
    // -----------------------------------------------------------------------------------

    fn auth_reply(&self, code: &str, message: &str, session: Option<String>) -> Value {
        let mut v = json!({
            "error_code": code_value(code, self.style.auth_error_code_as_number),
            "message": message,
        });
        if let (Some(s), Value::Object(m)) = (session, &mut v) {
            m.insert("session".into(), Value::String(s));
        }
        v
    }

    fn reply(&self, code: &str, message: impl Into<String>) -> Value {
        json!({
            "error_code": code_value(code, self.style.service_error_code_as_number),
            "message": message.into(),
        })
    }

    fn ok(&self, message: &str, result: Option<Vec<Value>>) -> Value {
        let mut v = self.reply(self.style.service_success_code.as_str(), message);
        if let (Some(r), Value::Object(m)) = (result, &mut v) {
            m.insert("result".into(), Value::Array(r));
        }
        v
    }

    fn failed(&self, code: &str, message: impl Into<String>, outcome: &'static str) -> Processed {
        Processed {
            body: self.reply(code, message),
            outcome,
        }
    }

    fn invalid(&self, message: impl Into<String>) -> Processed {
        self.failed(&self.config.codes.invalid, message, "invalid")
    }

    /// The JSON answer of an injected failure on `endpoint`.
    pub(crate) fn fault_reply(
        &self,
        endpoint: Endpoint,
        code: Option<&str>,
        message: Option<&str>,
    ) -> Value {
        let code = code.unwrap_or(&self.config.codes.injected);
        let message = message.unwrap_or(msg::INJECTED);
        match endpoint {
            Endpoint::Auth => self.auth_reply(code, message, None),
            _ => self.reply(code, message),
        }
    }

    // -----------------------------------------------------------------------------------
    // Sessions
    // -----------------------------------------------------------------------------------

    /// Live sessions for inspection.
    pub(crate) fn session_infos(&self) -> Vec<SessionInfo> {
        let ttl = self.ttl();
        let mut v: Vec<SessionInfo> = self
            .sessions
            .iter()
            .map(|(token, s)| SessionInfo {
                token_prefix: token.chars().take(8).collect(),
                username: s.username.clone(),
                issued: s.issued_at,
                age_secs: s.issued.elapsed().as_secs(),
                expired: s.issued.elapsed() >= ttl,
            })
            .collect();
        v.sort_by_key(|s| s.issued);
        v
    }

    /// Ends the sessions of `username` (all when `None`); returns how many.
    pub(crate) fn expire_sessions(&mut self, username: Option<&str>) -> usize {
        let before = self.sessions.len();
        self.sessions
            .retain(|_, s| username.is_some_and(|u| u != s.username));
        before - self.sessions.len()
    }

    // -----------------------------------------------------------------------------------
    // Processing
    // -----------------------------------------------------------------------------------

    /// Processes one call whose body was decoded (or not) as JSON.
    pub(crate) fn process(
        &mut self,
        endpoint: Endpoint,
        headers: &HeaderMap,
        parsed: &Result<Value, String>,
        now: Timestamp,
    ) -> Processed {
        let body = match parsed {
            Ok(Value::Object(m)) => m,
            Ok(_) => {
                return self.malformed(
                    endpoint,
                    format!("{}: nội dung phải là một đối tượng JSON", msg::INVALID),
                );
            }
            Err(e) => {
                return self.malformed(
                    endpoint,
                    format!("{}: nội dung không phải JSON hợp lệ ({e})", msg::INVALID),
                );
            }
        };
        match endpoint {
            Endpoint::Auth => self.auth(headers, body),
            _ => self.service(endpoint, headers, body, now),
        }
    }

    fn malformed(&self, endpoint: Endpoint, message: String) -> Processed {
        let code = &self.config.codes.invalid;
        let body = match endpoint {
            Endpoint::Auth => self.auth_reply(code, &message, None),
            _ => self.reply(code, message),
        };
        Processed {
            body,
            outcome: "malformed",
        }
    }

    fn auth(&mut self, headers: &HeaderMap, body: &Map<String, Value>) -> Processed {
        let user = body.get("username").and_then(Value::as_str);
        let pass = body.get("password").and_then(Value::as_str);
        let dstcode = header(headers, "dstcode");
        let ok = self.config.accounts.iter().find(|a| {
            Some(a.username.as_str()) == user
                && Some(a.password.as_str()) == pass
                && a.dstcode
                    .as_deref()
                    .is_none_or(|d| Some(d.trim()) == dstcode)
        });
        match ok.map(|a| a.username.clone()) {
            Some(username) => {
                let token = self.token_rng.token();
                self.sessions.insert(
                    token.clone(),
                    Session {
                        username,
                        issued: Instant::now(),
                        issued_at: Timestamp::now(),
                    },
                );
                Processed {
                    body: self.auth_reply("0", msg::AUTH_OK, Some(token)),
                    outcome: "ok",
                }
            }
            None => Processed {
                body: self.auth_reply(&self.config.codes.bad_credentials, msg::AUTH_BAD, None),
                outcome: "bad_credentials",
            },
        }
    }

    fn service(
        &mut self,
        endpoint: Endpoint,
        headers: &HeaderMap,
        body: &Map<String, Value>,
        now: Timestamp,
    ) -> Processed {
        let codes = self.config.codes.clone();
        let token = body
            .get("session")
            .and_then(Value::as_str)
            .map(str::trim)
            .unwrap_or("");
        let username = match self.sessions.get(token) {
            Some(s) if s.issued.elapsed() < self.ttl() => s.username.clone(),
            Some(_) => {
                self.sessions.remove(token);
                return self.failed(&codes.bad_session, msg::SESSION_BAD, "bad_session");
            }
            None => return self.failed(&codes.bad_session, msg::SESSION_BAD, "bad_session"),
        };
        let Some(account) = self.config.accounts.iter().find(|a| a.username == username) else {
            return self.failed(&codes.bad_session, msg::SESSION_BAD, "bad_session");
        };
        let dstcode_ok = account
            .dstcode
            .as_deref()
            .is_none_or(|d| header(headers, "dstcode") == Some(d.trim()));
        if !dstcode_ok {
            return self.failed(&codes.bad_dstcode, msg::DSTCODE_BAD, "bad_dstcode");
        }
        let madonvi = body
            .get("madonvi")
            .and_then(Value::as_str)
            .map(str::trim)
            .unwrap_or("")
            .to_owned();
        if !account.madonvi.is_empty() && !account.madonvi.iter().any(|m| m.trim() == madonvi) {
            let message = if madonvi.is_empty() {
                "Thiếu mã đơn vị (madonvi)".to_owned()
            } else {
                format!("Mã đơn vị {madonvi} không thuộc tài khoản {username}")
            };
            return self.failed(&codes.bad_madonvi, message, "bad_madonvi");
        }
        let caller = Caller { username, madonvi };
        let name = body
            .get("service")
            .and_then(Value::as_str)
            .map(str::trim)
            .unwrap_or("");
        match (endpoint, name) {
            (Endpoint::Integration, service::SYNC_DOSSIERS) => {
                self.sync_dossiers(body, &caller, now)
            }
            (Endpoint::Integration, service::PROGRESS) => self.progress(body, &caller, now),
            (Endpoint::Integration, service::LOOKUP_DOSSIER) => self.lookup(body),
            (Endpoint::Integration, service::PROCEDURE) => self.procedure(body),
            (Endpoint::Integration, service::STATUS_SYNC) => self.status_sync(body, &caller, now),
            (Endpoint::Share, service::PROCEDURE_CATALOGUE) => {
                let r = self
                    .config
                    .procedures
                    .iter()
                    .map(|p| json!({"MATTHC": p.code, "TENTTHC": p.name}))
                    .collect();
                self.found(r)
            }
            (Endpoint::Share, service::AGENCY_CATALOGUE) => {
                let r = self
                    .config
                    .agencies
                    .iter()
                    .map(|a| json!({"MADONVI": a.code, "TENDONVI": a.name, "CAPDONVI": a.level}))
                    .collect();
                self.found(r)
            }
            (Endpoint::Share, service::FIELD_CATALOGUE) => {
                let r = self
                    .config
                    .fields
                    .iter()
                    .map(
                        |f| json!({"MALINHVUC": f.code, "TENLINHVUC": f.name, "MANGANH": f.sector}),
                    )
                    .collect();
                self.found(r)
            }
            _ => self.failed(
                &codes.unknown_service,
                msg::UNKNOWN_SERVICE,
                "unknown_service",
            ),
        }
    }

    fn found(&self, result: Vec<Value>) -> Processed {
        Processed {
            body: self.ok(msg::LOOKUP_OK, Some(result)),
            outcome: "ok",
        }
    }

    /// The `data` array of a call: present, an array, not empty.
    fn data<'a>(&self, body: &'a Map<String, Value>) -> Result<&'a [Value], Processed> {
        match body.get("data") {
            Some(Value::Array(a)) if !a.is_empty() => Ok(a),
            Some(Value::Array(_)) => Err(self.invalid(format!("{}: data rỗng", msg::INVALID))),
            _ => Err(self.invalid(format!("{}: thiếu data (mảng các đối tượng)", msg::INVALID))),
        }
    }

    fn in_catalogue(&self, code: &str) -> bool {
        self.config
            .procedures
            .iter()
            .any(|p| procedure_matches(code, &p.code))
    }

    fn sync_dossiers(
        &mut self,
        body: &Map<String, Value>,
        caller: &Caller,
        now: Timestamp,
    ) -> Processed {
        let is_updating = match body.get("isUpdating") {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("true") => true,
            Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("false") => false,
            Some(other) => {
                return self.invalid(format!(
                    "{}: isUpdating phải là \"True\" hoặc \"False\" (found {other})",
                    msg::INVALID
                ));
            }
            None => return self.invalid(format!("{}: thiếu isUpdating", msg::INVALID)),
        };
        let data = match self.data(body) {
            Ok(d) => d,
            Err(p) => return p,
        };
        let mut items = Vec::with_capacity(data.len());
        for (i, raw) in data.iter().enumerate() {
            let prefix = format!("/data/{i}");
            let mut f = Vec::new();
            let Some(item) = read_dossier_item(raw, &prefix, &mut f) else {
                return self.invalid(format!(
                    "{}: hồ sơ thứ {} không phải một đối tượng JSON",
                    msg::INVALID,
                    i + 1
                ));
            };
            validate_dossier_item(&item, &prefix, &mut f);
            let who = dossier_who(&item.MaHoSo, i);
            if let Some(err) = f.iter().find(|x| x.is_error()) {
                return self.invalid(finding_message(&who, err, &prefix));
            }
            if self.config.check_procedure_catalogue && !self.in_catalogue(&item.MaTTHC) {
                return self.invalid(format!(
                    "{}: {who}, trường MaTTHC: thủ tục {} không có trong danh mục TTHC",
                    msg::INVALID,
                    item.MaTTHC.trim()
                ));
            }
            let province = self.config.province_code.trim();
            let first = item.MaHoSo.trim().split('-').next().unwrap_or("");
            if self.config.check_province_in_code && !first.contains(province) {
                return self.invalid(format!(
                    "{}: {who}, trường MaHoSo: phần trước dấu '-' ({first}) không chứa mã tỉnh {province}",
                    msg::INVALID
                ));
            }
            items.push((item, raw));
        }
        let mut seen = BTreeSet::new();
        for (item, _) in &items {
            let code = item.MaHoSo.trim();
            let known = self.dossiers.contains_key(code) || seen.contains(code);
            if !is_updating && known {
                if let Some(d) = self.dossiers.get_mut(code) {
                    d.duplicate_inserts += 1;
                }
                return self.failed(
                    &self.config.codes.duplicate,
                    format!("Hồ sơ {code} đã tồn tại"),
                    "duplicate",
                );
            }
            if is_updating && self.config.strict_update && !known {
                return self.failed(
                    &self.config.codes.not_found,
                    format!("Hồ sơ {code} không tồn tại"),
                    "not_found",
                );
            }
            seen.insert(code);
        }
        for (item, raw) in items {
            let code = item.MaHoSo.trim().to_owned();
            let d = self
                .dossiers
                .entry(code.clone())
                .or_insert_with(|| DossierRecord {
                    code,
                    inserts: 0,
                    updates: 0,
                    duplicate_inserts: 0,
                    versions: Vec::new(),
                    progress: Vec::new(),
                    duplicate_steps: 0,
                });
            if is_updating {
                d.updates += 1;
            } else {
                d.inserts += 1;
            }
            d.versions.push(DossierVersion {
                version: d.versions.len() as u32 + 1,
                arrival: now,
                is_updating,
                username: caller.username.clone(),
                madonvi: caller.madonvi.clone(),
                item,
                raw: raw.clone(),
            });
        }
        Processed {
            body: self.ok(msg::SYNC_OK, None),
            outcome: "ok",
        }
    }

    fn progress(
        &mut self,
        body: &Map<String, Value>,
        caller: &Caller,
        now: Timestamp,
    ) -> Processed {
        let data = match self.data(body) {
            Ok(d) => d,
            Err(p) => return p,
        };
        let max = self.config.max_progress_items_per_call;
        if let Some(max) = max.filter(|m| data.len() > *m) {
            return self.invalid(format!(
                "{}: tối đa {max} bước tiến độ mỗi lần gọi (found {})",
                msg::INVALID,
                data.len()
            ));
        }
        let mut steps: Vec<(ProgressItem, &Value)> = Vec::with_capacity(data.len());
        for (i, raw) in data.iter().enumerate() {
            let prefix = format!("/data/{i}");
            let mut f = Vec::new();
            let Some(item) = read_progress_item(raw, &prefix, &mut f) else {
                return self.invalid(format!(
                    "{}: bước tiến độ thứ {} không phải một đối tượng JSON",
                    msg::INVALID,
                    i + 1
                ));
            };
            validate_progress_item(&item, &prefix, &mut f);
            if let Some(err) = f.iter().find(|x| x.is_error()) {
                let who = format!(
                    "bước tiến độ thứ {} ({})",
                    i + 1,
                    dossier_who(&item.MaHoSo, i)
                );
                return self.invalid(finding_message(&who, err, &prefix));
            }
            steps.push((item, raw));
        }
        if let Some((item, _)) = steps
            .iter()
            .find(|(item, _)| !self.dossiers.contains_key(item.MaHoSo.trim()))
        {
            return self.failed(
                &self.config.codes.not_found,
                format!("Hồ sơ {} không tồn tại", item.MaHoSo.trim()),
                "not_found",
            );
        }
        for (item, raw) in steps {
            if let Some(d) = self.dossiers.get_mut(item.MaHoSo.trim()) {
                let duplicate = d.progress.iter().any(|p| p.item == item);
                if duplicate {
                    d.duplicate_steps += 1;
                }
                d.progress.push(ProgressRecord {
                    seq: d.progress.len() as u32 + 1,
                    arrival: now,
                    duplicate,
                    username: caller.username.clone(),
                    madonvi: caller.madonvi.clone(),
                    item,
                    raw: raw.clone(),
                });
            }
        }
        Processed {
            body: self.ok(msg::PROGRESS_OK, None),
            outcome: "ok",
        }
    }

    fn lookup(&self, body: &Map<String, Value>) -> Processed {
        let Some(code) = text_param(body, "mahoso").filter(|c| !c.is_empty()) else {
            return self.invalid(format!("{}: thiếu mahoso", msg::INVALID));
        };
        let result = self
            .dossiers
            .get(&code)
            .and_then(DossierRecord::latest)
            .map(|item| serde_json::to_value(item).unwrap_or(Value::Null))
            .into_iter()
            .collect();
        self.found(result)
    }

    fn procedure(&self, body: &Map<String, Value>) -> Processed {
        let Some(code) = text_param(body, "maTTHC").filter(|c| !c.is_empty()) else {
            return self.invalid(format!("{}: thiếu maTTHC", msg::INVALID));
        };
        let procs = &self.config.procedures;
        let p = procs
            .iter()
            .find(|p| p.code.trim() == code)
            .or_else(|| procs.iter().find(|p| procedure_matches(&code, &p.code)));
        let result = p
            .map(|p| {
                let fields: Vec<Value> = p
                    .fields
                    .iter()
                    .map(|f| json!({"MALINHVUC": f.code, "TENLINHVUC": f.name}))
                    .collect();
                json!({"MATTHC": p.code, "TENTTHC": p.name, "LINHVUCTHUCHIEN": fields})
            })
            .into_iter()
            .collect();
        self.found(result)
    }

    fn status_sync(
        &mut self,
        body: &Map<String, Value>,
        caller: &Caller,
        now: Timestamp,
    ) -> Processed {
        let type_ok = match body.get("type") {
            Some(Value::String(s)) => s.trim() == "2",
            Some(Value::Number(n)) => n.as_u64() == Some(2),
            _ => false,
        };
        if !type_ok {
            return self.invalid(format!("{}: type phải là \"2\"", msg::INVALID));
        }
        let data = match self.data(body) {
            Ok(d) => d,
            Err(p) => return p,
        };
        let mut items = Vec::with_capacity(data.len());
        for (i, raw) in data.iter().enumerate() {
            match read_status_item(raw) {
                Ok(item) => {
                    let who = dossier_who(&item.MaHoSo, i);
                    if item.MaHoSo.is_empty() {
                        return self
                            .invalid(format!("{}: {who}, trường MaHoSo: trống", msg::INVALID));
                    }
                    if !matches!(canonical(&item.TrangThai), Some("2" | "5")) {
                        return self.invalid(format!(
                            "{}: {who}, trường TrangThai: phải là 2 hoặc 5 (found {})",
                            msg::INVALID,
                            item.TrangThai
                        ));
                    }
                    if !item.NgayXuLy.is_empty() && !time::is_strict(&item.NgayXuLy) {
                        return self.invalid(format!(
                            "{}: {who}, trường NgayXuLy: not a valid DVCQG date-time (expected {}, found {})",
                            msg::INVALID,
                            time::FORMAT,
                            item.NgayXuLy
                        ));
                    }
                    items.push(item);
                }
                Err(field) => {
                    return self.invalid(format!(
                        "{}: mục thứ {}, trường {field}: sai kiểu dữ liệu",
                        msg::INVALID,
                        i + 1
                    ));
                }
            }
        }
        for item in items {
            let citizen_dossier = self.citizen_codes.contains(&item.MaHoSo);
            self.status_sync.push(StatusSyncRecord {
                arrival: now,
                username: caller.username.clone(),
                madonvi: caller.madonvi.clone(),
                citizen_dossier,
                item,
            });
        }
        Processed {
            body: self.ok(msg::STATUS_OK, None),
            outcome: "ok",
        }
    }
}

/// Reads a `DongBoTrangThaiHoSo` item leniently (scalars as strings or numbers, null as
/// empty); `Err(field)` when the item or a field has the wrong JSON type.
fn read_status_item(v: &Value) -> Result<StatusSyncItem, &'static str> {
    let m = v.as_object().ok_or("(toàn bộ đối tượng)")?;
    let s = |key: &'static str| -> Result<String, &'static str> {
        match m.get(key) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.trim().to_owned()),
            Some(Value::Number(n)) => Ok(n.to_string()),
            Some(Value::Bool(b)) => Ok(b.to_string()),
            Some(_) => Err(key),
        }
    };
    let docs = match m.get("TaiLieuXuLy") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(_) => return Err("TaiLieuXuLy"),
    };
    Ok(StatusSyncItem {
        MaHoSo: s("MaHoSo")?,
        MaHoSoDonVi: s("MaHoSoDonVi")?,
        MaDoiTuong: s("MaDoiTuong")?,
        NoiDung: s("NoiDung")?,
        NgayXuLy: s("NgayXuLy")?,
        TrangThai: s("TrangThai")?,
        TaiLieuXuLy: docs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn procedure_forms() {
        assert!(procedure_matches("2.000477", "2.000477"));
        assert!(procedure_matches("2.000477.000.00.00.H41", "2.000477"));
        assert!(procedure_matches("1.001193", "1.001193.000.00.00.H41"));
        assert!(procedure_matches(" 1.001193 ", "1.001193.000.00.00.H41"));
        assert!(!procedure_matches(
            "1.001193.000.00.00.H56",
            "1.001193.000.00.00.H41"
        ));
        assert!(!procedure_matches("1.00119", "1.001193.000.00.00.H41"));
        assert!(!procedure_matches("1.0011930", "1.001193"));
        assert!(!procedure_matches("", "1.001193"));
    }

    #[test]
    fn codes_as_numbers_or_text() {
        assert_eq!(code_value("-1", true), json!(-1));
        assert_eq!(code_value("00", true), json!(0));
        assert_eq!(code_value("00", false), json!("00"));
        assert_eq!(code_value("E1", true), json!("E1"));
    }

    #[test]
    fn status_items() {
        let item = read_status_item(&json!({"MaHoSo": "X", "TrangThai": 2, "NgayXuLy": null}))
            .expect("item");
        assert_eq!(item.TrangThai, "2");
        assert_eq!(item.NgayXuLy, "");
        assert_eq!(read_status_item(&json!({"MaHoSo": ["X"]})), Err("MaHoSo"));
    }
}
