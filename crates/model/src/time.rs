//! Dates and timestamps as agencies write them, kept raw and read leniently.
//!
//! The standard forms are `yyyy/MM/dd` and `yyyy/MM/dd HH:mm:ss` in Vietnamese local time
//! (UTC+7, no daylight saving). Other observed forms are understood, and anything else is
//! kept as written: a value is never lost because it cannot be read as a date.

use jiff::civil::{Date, DateTime, Time};
use serde::Serialize;
use std::fmt;

/// Offset of Vietnamese local time (Asia/Ho_Chi_Minh has kept UTC+7 since 1975).
pub const VIETNAM_OFFSET_SECONDS: i32 = 7 * 3600;

/// A date as written (trimmed), e.g. `2015/09/30`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct LenientDate(String);

/// A timestamp as written (trimmed), e.g. `2018/09/28 17:25:11`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct LenientTimestamp(String);

impl LenientDate {
    /// Keeps a non-blank value (trimmed); blank means absent.
    pub fn new(raw: &str) -> Option<Self> {
        let t = crate::trim_xml(raw);
        (!t.is_empty()).then(|| LenientDate(t.to_owned()))
    }

    /// A date in the standard form.
    pub fn from_date(d: Date) -> Self {
        LenientDate(format_date(d))
    }

    /// The value as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Reads the value in any of the observed forms; `None` when impossible or unreadable.
    pub fn parse(&self) -> Option<Date> {
        parse_date_lenient(&self.0)
    }

    /// Whether the value is a real date written exactly as `yyyy/MM/dd`.
    pub fn is_standard(&self) -> bool {
        parse_ymd(&self.0, b'/').is_some()
    }
}

impl LenientTimestamp {
    /// Keeps a non-blank value (trimmed); blank means absent.
    pub fn new(raw: &str) -> Option<Self> {
        let t = crate::trim_xml(raw);
        (!t.is_empty()).then(|| LenientTimestamp(t.to_owned()))
    }

    /// A timestamp in the standard form.
    pub fn from_datetime(dt: DateTime) -> Self {
        LenientTimestamp(format_timestamp(dt))
    }

    /// The value as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Reads the value in any of the observed forms, as Vietnamese local time.
    pub fn parse(&self) -> Option<DateTime> {
        parse_timestamp_lenient(&self.0)
    }

    /// Whether the value is a real time written exactly as `yyyy/MM/dd HH:mm:ss`.
    pub fn is_standard(&self) -> bool {
        let s = self.0.as_bytes();
        s.len() == 19
            && s[10] == b' '
            && parse_ymd(&self.0[..10], b'/').is_some()
            && parse_hms(&self.0[11..], true).is_some()
    }
}

impl fmt::Display for LenientDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for LenientTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `yyyy/MM/dd`.
pub fn format_date(d: Date) -> String {
    format!("{:04}/{:02}/{:02}", d.year(), d.month(), d.day())
}

/// `yyyy/MM/dd HH:mm:ss`.
pub fn format_timestamp(dt: DateTime) -> String {
    format!(
        "{} {:02}:{:02}:{:02}",
        format_date(dt.date()),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

fn num(s: &str, len: usize) -> Option<i32> {
    (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// `yyyy{sep}MM{sep}dd`, a real date.
fn parse_ymd(s: &str, sep: u8) -> Option<Date> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != sep || b[7] != sep {
        return None;
    }
    make_date(num(&s[..4], 4)?, num(&s[5..7], 2)?, num(&s[8..], 2)?)
}

/// `dd{sep}MM{sep}yyyy`, a real date.
fn parse_dmy(s: &str, sep: u8) -> Option<Date> {
    let b = s.as_bytes();
    if b.len() != 10 || b[2] != sep || b[5] != sep {
        return None;
    }
    make_date(num(&s[6..], 4)?, num(&s[3..5], 2)?, num(&s[..2], 2)?)
}

fn make_date(y: i32, m: i32, d: i32) -> Option<Date> {
    Date::new(
        i16::try_from(y).ok()?,
        i8::try_from(m).ok()?,
        i8::try_from(d).ok()?,
    )
    .ok()
}

fn parse_date_only(s: &str) -> Option<Date> {
    parse_ymd(s, b'/')
        .or_else(|| parse_dmy(s, b'/'))
        .or_else(|| parse_ymd(s, b'-'))
        .or_else(|| parse_dmy(s, b'-'))
        .or_else(|| {
            (s.len() == 8)
                .then(|| make_date(num(&s[..4], 4)?, num(&s[4..6], 2)?, num(&s[6..], 2)?))
                .flatten()
        })
}

/// Dates: `yyyy/MM/dd`, `dd/MM/yyyy`, `yyyy-MM-dd`, `dd-MM-yyyy`, `yyyyMMdd`, or the date
/// part of a timestamp.
pub fn parse_date_lenient(raw: &str) -> Option<Date> {
    let s = crate::trim_xml(raw);
    parse_date_only(s).or_else(|| parse_timestamp_lenient(s).map(|dt| dt.date()))
}

/// `HH:mm:ss` (or `HH:mm` when seconds are optional), with an optional fraction.
fn parse_hms(s: &str, need_seconds: bool) -> Option<Time> {
    let (main, frac) = match s.split_once('.') {
        Some((m, f)) if !f.is_empty() && f.len() <= 9 && f.bytes().all(|b| b.is_ascii_digit()) => {
            (m, Some(f))
        }
        Some(_) => return None,
        None => (s, None),
    };
    let parts: Vec<&str> = main.split(':').collect();
    let (h, m, sec) = match parts.as_slice() {
        [h, m, s] => (num(h, 2)?, num(m, 2)?, num(s, 2)?),
        [h, m] if !need_seconds && frac.is_none() => (num(h, 2)?, num(m, 2)?, 0),
        _ => return None,
    };
    let nanos = match frac {
        Some(f) => {
            let mut padded = f.to_owned();
            while padded.len() < 9 {
                padded.push('0');
            }
            padded.parse::<i32>().ok()?
        }
        None => 0,
    };
    Time::new(
        i8::try_from(h).ok()?,
        i8::try_from(m).ok()?,
        i8::try_from(sec).ok()?,
        nanos,
    )
    .ok()
}

/// Splits a trailing `Z` or `±HH:MM` / `±HHMM` offset off an ISO time; returns seconds.
fn split_offset(t: &str) -> Option<(&str, Option<i32>)> {
    if let Some(rest) = t.strip_suffix('Z').or_else(|| t.strip_suffix('z')) {
        return Some((rest, Some(0)));
    }
    if let Some(pos) = t.rfind(['+', '-']) {
        let (time, off) = t.split_at(pos);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let digits: String = off[1..].chars().filter(|c| *c != ':').collect();
        if digits.len() == 4 {
            let h = num(&digits[..2], 2)?;
            let m = num(&digits[2..], 2)?;
            return Some((time, Some(sign * (h * 3600 + m * 60))));
        }
        return None;
    }
    Some((t, None))
}

/// Timestamps: `yyyy/MM/dd HH:mm:ss`, `yyyy/MM/dd HH:mm`, `yyyy-MM-ddTHH:mm:ss[.f][offset]`,
/// `yyyy-MM-dd HH:mm:ss`, `dd/MM/yyyy HH:mm:ss`, then a bare date (midnight). A value with
/// an offset is converted to Vietnamese local time.
pub fn parse_timestamp_lenient(raw: &str) -> Option<DateTime> {
    let s = crate::trim_xml(raw);
    if let Some((d, t)) = s.split_once(' ') {
        let t = t.trim_start_matches(' ');
        if let Some(date) = parse_ymd(d, b'/') {
            return parse_hms(t, false).map(|time| date.to_datetime(time));
        }
        if let Some(date) = parse_ymd(d, b'-').or_else(|| parse_dmy(d, b'/')) {
            return parse_hms(t, true).map(|time| date.to_datetime(time));
        }
        return None;
    }
    if let Some((d, t)) = s.split_once(['T', 't']) {
        let date = parse_ymd(d, b'-')?;
        let (t, offset) = split_offset(t)?;
        let dt = date.to_datetime(parse_hms(t, true)?);
        return match offset {
            None => Some(dt),
            Some(off) => {
                let shift = i64::from(VIETNAM_OFFSET_SECONDS - off);
                dt.checked_add(jiff::SignedDuration::from_secs(shift)).ok()
            }
        };
    }
    parse_date_only(s).map(|d| d.to_datetime(Time::midnight()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Option<String> {
        parse_date_lenient(s).map(format_date)
    }
    fn ts(s: &str) -> Option<String> {
        parse_timestamp_lenient(s).map(format_timestamp)
    }

    #[test]
    fn date_forms() {
        assert_eq!(d("2015/09/30"), Some("2015/09/30".into()));
        assert_eq!(d("30/10/2020"), Some("2020/10/30".into()));
        assert_eq!(d("2020-10-30"), Some("2020/10/30".into()));
        assert_eq!(d("30-10-2020"), Some("2020/10/30".into()));
        assert_eq!(d("20201030"), Some("2020/10/30".into()));
        assert_eq!(d("2018/09/28 17:25:11"), Some("2018/09/28".into()));
        assert_eq!(d("2014/02/30"), None);
        assert_eq!(d("hôm qua"), None);
        assert!(LenientDate::new("2015/09/30").is_some_and(|x| x.is_standard()));
        assert!(LenientDate::new("30/09/2015").is_some_and(|x| !x.is_standard()));
    }

    #[test]
    fn timestamp_forms() {
        assert_eq!(
            ts("2018/09/28 17:25:11"),
            Some("2018/09/28 17:25:11".into())
        );
        assert_eq!(ts("2018/09/28 17:25"), Some("2018/09/28 17:25:00".into()));
        assert_eq!(
            ts("2018-09-28T17:25:11"),
            Some("2018/09/28 17:25:11".into())
        );
        assert_eq!(
            ts("2018-09-28T10:25:11.123Z"),
            Some("2018/09/28 17:25:11".into())
        );
        assert_eq!(
            ts("2018-09-28T17:25:11+07:00"),
            Some("2018/09/28 17:25:11".into())
        );
        assert_eq!(
            ts("2018-09-28 17:25:11"),
            Some("2018/09/28 17:25:11".into())
        );
        assert_eq!(
            ts("28/09/2018 17:25:11"),
            Some("2018/09/28 17:25:11".into())
        );
        assert_eq!(ts("2018/09/28"), Some("2018/09/28 00:00:00".into()));
        assert_eq!(ts("2018/09/28 25:00:00"), None);
        assert!(LenientTimestamp::new("2015/09/20 11:08:36").is_some_and(|x| x.is_standard()));
        assert!(LenientTimestamp::new("2015-09-20 11:08:36").is_some_and(|x| !x.is_standard()));
    }
}
