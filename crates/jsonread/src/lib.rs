//! Field-by-field JSON reading with findings.
//!
//! serde stops at the first error and names it by line and column; operators need every
//! defect of a document at once, each at its JSON Pointer path (`/applicant/phone`) with
//! what was expected and what was found. [`Obj`] wraps one JSON object: each accessor
//! records the field as known, converts it, and pushes a [`Finding`] when the value is
//! missing, of the wrong type or malformed; [`Obj::finish`] reports the fields nobody
//! asked for. Format crates (provincial, DVCQG) build their readers on it.

use jiff::Timestamp;
use lienthong_model::{Finding, Severity};
use serde_json::{Map, Value};

/// Longest string accepted in any field (characters).
pub const MAX_STRING_CHARS: usize = 65_536;

/// Escapes one JSON Pointer reference token (RFC 6901).
pub fn escape_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// The JSON type of a value, for messages.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A short rendering of a value for `found`.
pub fn preview(v: &Value) -> String {
    let s = match v {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    };
    if s.chars().count() > 60 {
        let cut: String = s.chars().take(57).collect();
        format!("{cut}...")
    } else {
        s
    }
}

/// Parses a JSON document; a syntax error becomes one finding at `/` with its position.
pub fn parse(bytes: &[u8]) -> Result<Value, Finding> {
    serde_json::from_slice(bytes).map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Eof => "not valid JSON (truncated?)",
            _ => "not valid JSON",
        };
        let detail = e.to_string();
        let detail = detail
            .split(" at line")
            .next()
            .unwrap_or(&detail)
            .to_owned();
        Finding::error("/", format!("{what}: {detail}")).found(format!(
            "line {}, column {}",
            e.line(),
            e.column()
        ))
    })
}

/// One JSON object being read.
pub struct Obj<'v> {
    map: &'v Map<String, Value>,
    path: String,
    known: Vec<&'static str>,
}

impl<'v> Obj<'v> {
    /// Wraps `value` found at `path`; an error finding when it is not an object.
    pub fn new(value: &'v Value, path: &str, f: &mut Vec<Finding>) -> Option<Obj<'v>> {
        match value {
            Value::Object(map) => Some(Obj {
                map,
                path: path.to_owned(),
                known: Vec::new(),
            }),
            other => {
                f.push(
                    Finding::error(root(path), "expected an object")
                        .expected("an object")
                        .found(type_name(other)),
                );
                None
            }
        }
    }

    /// The path of this object.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The path of one of its fields.
    pub fn at(&self, key: &str) -> String {
        format!("{}/{}", self.path, escape_token(key))
    }

    /// Whether the field is present and not null (marks it known).
    pub fn has(&mut self, key: &'static str) -> bool {
        self.known.push(key);
        !matches!(self.map.get(key), None | Some(Value::Null))
    }

    /// The raw value, if present and not null (marks it known).
    pub fn raw(&mut self, key: &'static str) -> Option<&'v Value> {
        self.known.push(key);
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn missing(&self, key: &str, expected: &str, f: &mut Vec<Finding>) {
        f.push(Finding::error(self.at(key), "required field missing").expected(expected));
    }

    fn wrong(&self, key: &str, expected: &str, v: &Value, f: &mut Vec<Finding>) {
        f.push(
            Finding::error(self.at(key), format!("expected {expected}"))
                .expected(expected)
                .found(format!("{} {}", type_name(v), preview(v))),
        );
    }

    /// An optional string: absent, null and `""` (after trimming) mean `None`.
    pub fn opt_str(&mut self, key: &'static str, f: &mut Vec<Finding>) -> Option<String> {
        let v = self.raw(key)?;
        match v {
            Value::String(s) => {
                let t = s.trim();
                if t.chars().count() > MAX_STRING_CHARS {
                    f.push(
                        Finding::error(self.at(key), "value too long")
                            .expected(format!("at most {MAX_STRING_CHARS} characters"))
                            .found(format!("{} characters", t.chars().count())),
                    );
                    return None;
                }
                (!t.is_empty()).then(|| t.to_owned())
            }
            other => {
                self.wrong(key, "a string", other, f);
                None
            }
        }
    }

    /// A required, non-empty string.
    pub fn req_str(&mut self, key: &'static str, f: &mut Vec<Finding>) -> Option<String> {
        let present = self.has(key);
        let v = self.opt_str(key, f);
        if v.is_none() && !present {
            self.missing(key, "a non-empty string", f);
        } else if v.is_none() && matches!(self.map.get(key), Some(Value::String(_))) {
            f.push(
                Finding::error(self.at(key), "must not be empty").expected("a non-empty string"),
            );
        }
        v
    }

    /// A scalar read leniently as text: strings, numbers and booleans are accepted (wire
    /// formats that send `"1"` and `1` alike); absent, null and `""` mean `None`.
    pub fn lenient_str(&mut self, key: &'static str, f: &mut Vec<Finding>) -> Option<String> {
        match self.raw(key)? {
            Value::String(_) => self.opt_str(key, f),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(if *b { "True" } else { "False" }.to_owned()),
            other => {
                self.wrong(key, "a string or a number", other, f);
                None
            }
        }
    }

    /// An optional non-negative integer.
    pub fn opt_u64(&mut self, key: &'static str, f: &mut Vec<Finding>) -> Option<u64> {
        let v = self.raw(key)?;
        match v.as_u64() {
            Some(n) => Some(n),
            None => {
                self.wrong(key, "a non-negative integer", v, f);
                None
            }
        }
    }

    /// A required non-negative integer.
    pub fn req_u64(&mut self, key: &'static str, f: &mut Vec<Finding>) -> Option<u64> {
        if !self.has(key) {
            self.missing(key, "a non-negative integer", f);
            return None;
        }
        self.opt_u64(key, f)
    }

    /// An optional boolean.
    pub fn opt_bool(&mut self, key: &'static str, f: &mut Vec<Finding>) -> Option<bool> {
        let v = self.raw(key)?;
        match v {
            Value::Bool(b) => Some(*b),
            other => {
                self.wrong(key, "true or false", other, f);
                None
            }
        }
    }

    /// An optional RFC 3339 time with an offset, e.g. `2025-03-14T09:15:02+07:00`.
    pub fn opt_time(&mut self, key: &'static str, f: &mut Vec<Finding>) -> Option<Timestamp> {
        let v = self.raw(key)?;
        let Value::String(s) = v else {
            self.wrong(key, "an RFC 3339 time with offset", v, f);
            return None;
        };
        match parse_rfc3339(s.trim()) {
            Some(t) => Some(t),
            None => {
                f.push(
                    Finding::error(self.at(key), "not a valid time")
                        .expected("RFC 3339 with offset, e.g. 2025-03-14T09:15:02+07:00")
                        .found(preview(v)),
                );
                None
            }
        }
    }

    /// A required RFC 3339 time.
    pub fn req_time(&mut self, key: &'static str, f: &mut Vec<Finding>) -> Option<Timestamp> {
        if !self.has(key) {
            self.missing(key, "an RFC 3339 time with offset", f);
            return None;
        }
        self.opt_time(key, f)
    }

    /// An optional name from a closed list.
    pub fn opt_enum<T>(
        &mut self,
        key: &'static str,
        from_name: fn(&str) -> Option<T>,
        names: &str,
        f: &mut Vec<Finding>,
    ) -> Option<T> {
        let v = self.raw(key)?;
        let Value::String(s) = v else {
            self.wrong(key, &format!("one of {names}"), v, f);
            return None;
        };
        match from_name(s.trim()) {
            Some(t) => Some(t),
            None => {
                f.push(
                    Finding::error(self.at(key), "unknown value")
                        .expected(format!("one of {names}"))
                        .found(preview(v)),
                );
                None
            }
        }
    }

    /// An optional nested object.
    pub fn opt_obj(&mut self, key: &'static str, f: &mut Vec<Finding>) -> Option<Obj<'v>> {
        let path = self.at(key);
        let v = self.raw(key)?;
        Obj::new(v, &path, f)
    }

    /// A required nested object.
    pub fn req_obj(&mut self, key: &'static str, f: &mut Vec<Finding>) -> Option<Obj<'v>> {
        if !self.has(key) {
            self.missing(key, "an object", f);
            return None;
        }
        self.opt_obj(key, f)
    }

    /// The items of an optional array, each with its path; absent and null mean empty.
    pub fn array(&mut self, key: &'static str, f: &mut Vec<Finding>) -> Vec<(String, &'v Value)> {
        let path = self.at(key);
        match self.raw(key) {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("{path}/{i}"), v))
                .collect(),
            Some(other) => {
                self.wrong(key, "an array", other, f);
                Vec::new()
            }
        }
    }

    /// Reports every field nobody asked for, with the given severity.
    pub fn finish(self, severity: Severity, f: &mut Vec<Finding>) {
        for key in self.map.keys() {
            if !self.known.iter().any(|k| k == key) {
                let path = self.at(key);
                let finding = match severity {
                    Severity::Error => Finding::error(path, "unknown field"),
                    Severity::Warning => Finding::warning(path, "unknown field ignored"),
                };
                f.push(finding);
            }
        }
    }
}

fn root(path: &str) -> &str {
    if path.is_empty() { "/" } else { path }
}

/// RFC 3339 with a mandatory offset (`Z` or `±HH:MM`), e.g. `2025-03-14T09:15:02+07:00`,
/// with an optional fraction of a second. Hand-written: it runs for every time field of
/// every dossier on the ingest path.
pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
    use jiff::civil::{Date, DateTime, Time};
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i32> {
        b.get(from..to)?.iter().try_fold(0i32, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + i32::from(c - b'0'))
        })
    };
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let mut i = 19;
    let mut nanos = 0i32;
    if b[i] == b'.' {
        let start = i + 1;
        let mut end = start;
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
        let digits = end - start;
        if digits == 0 || digits > 9 {
            return None;
        }
        nanos = num(start, end)? * 10i32.pow(9 - digits as u32);
        i = end;
    }
    let offset_seconds = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let secs = num(i + 1, i + 3)? * 3600 + num(i + 4, i + 6)? * 60;
            if *sign == b'-' { -secs } else { secs }
        }
        _ => return None,
    };
    let date = Date::new(
        i16::try_from(year).ok()?,
        i8::try_from(month).ok()?,
        i8::try_from(day).ok()?,
    )
    .ok()?;
    let time = Time::new(
        i8::try_from(hour).ok()?,
        i8::try_from(minute).ok()?,
        i8::try_from(second).ok()?,
        nanos,
    )
    .ok()?;
    let offset = jiff::tz::Offset::from_seconds(offset_seconds).ok()?;
    offset.to_timestamp(DateTime::from_parts(date, time)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_defect_is_reported_at_its_path() {
        let v = json!({"name": 3, "when": "yesterday", "n": -1, "ok": "x", "extra/field": 1,
                        "inner": {"flag": "yes"}, "list": "no", "kind": "blue", "empty": "  "});
        let mut f = Vec::new();
        let mut o = Obj::new(&v, "", &mut f).expect("object");
        assert_eq!(o.opt_str("name", &mut f), None);
        assert_eq!(o.opt_time("when", &mut f), None);
        assert_eq!(o.opt_u64("n", &mut f), None);
        assert_eq!(o.req_str("ok", &mut f).as_deref(), Some("x"));
        assert_eq!(o.req_str("missing", &mut f), None);
        assert_eq!(o.req_str("empty", &mut f), None);
        let mut inner = o.opt_obj("inner", &mut f).expect("inner");
        assert_eq!(inner.opt_bool("flag", &mut f), None);
        inner.finish(Severity::Error, &mut f);
        assert!(o.array("list", &mut f).is_empty());
        assert_eq!(
            o.opt_enum("kind", |s| (s == "red").then_some(()), "red", &mut f),
            None
        );
        o.finish(Severity::Error, &mut f);
        let paths: Vec<&str> = f.iter().map(|x| x.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/name",
                "/when",
                "/n",
                "/missing",
                "/empty",
                "/inner/flag",
                "/list",
                "/kind",
                "/extra~1field"
            ]
        );
        assert!(f.iter().all(Finding::is_error));
        assert_eq!(f[0].found.as_deref(), Some("a number 3"));
    }

    #[test]
    fn times_need_an_offset() {
        assert!(parse_rfc3339("2025-03-14T09:15:02+07:00").is_some());
        assert!(parse_rfc3339("2025-03-14T02:15:02Z").is_some());
        assert!(parse_rfc3339("2025-03-14T09:15:02").is_none());
        assert!(parse_rfc3339("2025-03-14").is_none());
        assert!(parse_rfc3339("2025-02-30T09:15:02+07:00").is_none());
        assert!(parse_rfc3339("2025-03-14T09:15:02.5+07:00").is_some());
        assert!(parse_rfc3339("2025-03-14T09:15:02+0700").is_none());
        assert!(parse_rfc3339("2025-03-14T09:15:02+07:00x").is_none());
        let a = parse_rfc3339("2025-03-14T09:15:02.123456789-05:30").expect("time");
        let b: Timestamp = "2025-03-14T09:15:02.123456789-05:30".parse().expect("jiff");
        assert_eq!(a, b);
        assert_eq!(
            parse_rfc3339("2025-03-14T02:15:02Z"),
            parse_rfc3339("2025-03-14T09:15:02+07:00")
        );
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let e = parse(b"{\"a\": 1,\n \"b\": }").expect_err("bad json");
        assert_eq!(e.path, "/");
        assert_eq!(e.found.as_deref(), Some("line 2, column 7"));
        let e = parse(b"{\"a\": \"\xff\"}").expect_err("bad utf-8");
        assert!(e.message.contains("not valid JSON"), "{e}");
    }
}
