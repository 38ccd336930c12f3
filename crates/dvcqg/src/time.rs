//! DVCQG dates (`dvcqg.md` §10): `yyyyMMddHHmmss`, 24-hour, in `Asia/Ho_Chi_Minh` local
//! time with no zone designator; `""` means unknown.
//!
//! Vietnam has kept UTC+07:00 without daylight saving since 1975, so local time is handled
//! as that fixed offset and no time zone database is needed. Reading also accepts `yyyyMMdd`
//! (midnight local time) and ISO 8601 / RFC 3339 (with an offset, or without one as local
//! time), which portal answers may use.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::Offset;
use thiserror::Error;

/// The offset of Vietnamese local time, UTC+07:00.
pub const VIETNAM: Offset = Offset::constant(7);

/// The format written, for messages.
pub const FORMAT: &str = "yyyyMMddHHmmss";

/// A DVCQG date that cannot be read or written.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TimeError {
    /// The text is not a date in any accepted form.
    #[error("not a valid date-time (expected yyyyMMddHHmmss)")]
    Invalid,
    /// The date falls outside the years 0001–9999 (which 14 digits can carry) or outside
    /// the range of [`Timestamp`].
    #[error("date outside the supported range (years 0001-9999)")]
    OutOfRange,
}

/// Writes `t` as `yyyyMMddHHmmss` in Vietnamese local time; sub-second digits are dropped.
pub fn format(t: Timestamp) -> Result<String, TimeError> {
    let dt = VIETNAM.to_datetime(t);
    if !(1..=9999).contains(&dt.year()) {
        return Err(TimeError::OutOfRange);
    }
    // Written digit by digit: this runs for every date of every dossier sent.
    let mut out = String::with_capacity(14);
    let mut put = |value: i32, width: u32| {
        for p in (0..width).rev() {
            let digit = (value / 10i32.pow(p)) % 10;
            out.push(char::from(b'0' + digit as u8));
        }
    };
    put(i32::from(dt.year()), 4);
    put(i32::from(dt.month()), 2);
    put(i32::from(dt.day()), 2);
    put(i32::from(dt.hour()), 2);
    put(i32::from(dt.minute()), 2);
    put(i32::from(dt.second()), 2);
    Ok(out)
}

/// Writes an optional instant: `""` when unknown.
pub fn format_opt(t: Option<Timestamp>) -> Result<String, TimeError> {
    t.map_or_else(|| Ok(String::new()), format)
}

/// Reads a DVCQG date leniently: blank is `Ok(None)`; `yyyyMMddHHmmss`, `yyyyMMdd`,
/// RFC 3339 / ISO 8601 with an offset, and ISO 8601 without one (local time) are accepted.
pub fn parse(s: &str) -> Result<Option<Timestamp>, TimeError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        let dt = match s.len() {
            14 => parse_digits(s),
            8 => parse_digits(s).map(|d| d.date().to_datetime(Time::midnight())),
            _ => None,
        };
        let dt = dt.ok_or(TimeError::Invalid)?;
        return local(dt).map(Some);
    }
    if let Ok(t) = s.parse::<Timestamp>() {
        return Ok(Some(t));
    }
    if let Ok(dt) = s.parse::<DateTime>() {
        return Ok(Some(local(dt)?));
    }
    if let Ok(d) = s.parse::<Date>() {
        return Ok(Some(local(d.to_datetime(Time::midnight()))?));
    }
    Err(TimeError::Invalid)
}

/// Whether `s` is exactly a valid 14-digit `yyyyMMddHHmmss` (what the portal accepts in
/// requests).
pub fn is_strict(s: &str) -> bool {
    s.len() == 14 && s.bytes().all(|b| b.is_ascii_digit()) && parse_digits(s).is_some()
}

/// `yyyyMMdd[HHmmss]` (8 or 14 ASCII digits, checked by the caller) as a civil date-time.
fn parse_digits(s: &str) -> Option<DateTime> {
    let n = |a: usize, b: usize| s.get(a..b).and_then(|x| x.parse::<i16>().ok());
    let year = n(0, 4)?;
    let month = i8::try_from(n(4, 6)?).ok()?;
    let day = i8::try_from(n(6, 8)?).ok()?;
    if year == 0 {
        return None;
    }
    let date = Date::new(year, month, day).ok()?;
    if s.len() == 8 {
        return Some(date.to_datetime(Time::midnight()));
    }
    let hour = i8::try_from(n(8, 10)?).ok()?;
    let minute = i8::try_from(n(10, 12)?).ok()?;
    let second = i8::try_from(n(12, 14)?).ok()?;
    let time = Time::new(hour, minute, second, 0).ok()?;
    Some(date.to_datetime(time))
}

fn local(dt: DateTime) -> Result<Timestamp, TimeError> {
    VIETNAM.to_timestamp(dt).map_err(|_| TimeError::OutOfRange)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    #[test]
    fn writes_local_time() {
        let t = ts("2025-03-14T09:15:02+07:00");
        assert_eq!(format(t).as_deref(), Ok("20250314091502"));
        assert_eq!(
            format(ts("2025-03-13T17:00:00Z")).as_deref(),
            Ok("20250314000000")
        );
        assert_eq!(
            format(ts("2025-03-14T09:15:02.999+07:00")).as_deref(),
            Ok("20250314091502")
        );
        assert_eq!(format_opt(None).as_deref(), Ok(""));
        assert_eq!(format(Timestamp::MIN), Err(TimeError::OutOfRange));
        assert_eq!(
            format(ts("0000-06-01T00:00:00Z")),
            Err(TimeError::OutOfRange)
        );
    }

    #[test]
    fn reads_every_accepted_form() {
        let t = ts("2025-03-14T09:15:02+07:00");
        assert_eq!(parse("20250314091502"), Ok(Some(t)));
        assert_eq!(parse(" 20250314091502 "), Ok(Some(t)));
        assert_eq!(parse("2025-03-14T09:15:02+07:00"), Ok(Some(t)));
        assert_eq!(parse("2025-03-14T02:15:02Z"), Ok(Some(t)));
        assert_eq!(parse("2025-03-14T09:15:02"), Ok(Some(t)));
        assert_eq!(parse("2025-03-14 09:15:02"), Ok(Some(t)));
        let midnight = ts("2025-03-14T00:00:00+07:00");
        assert_eq!(parse("20250314"), Ok(Some(midnight)));
        assert_eq!(parse("2025-03-14"), Ok(Some(midnight)));
        assert_eq!(parse(""), Ok(None));
        assert_eq!(parse("   "), Ok(None));
    }

    #[test]
    fn rejects_impossible_values() {
        for bad in [
            "20250230091502",
            "20251314091502",
            "20250314241502",
            "20250314096002",
            "20250314091560",
            "00000314091502",
            "2025031409150",
            "202503140915020",
            "2025031",
            "2025-02-30T00:00:00+07:00",
            "yesterday",
            "14/03/2025",
        ] {
            assert_eq!(parse(bad), Err(TimeError::Invalid), "{bad}");
        }
    }

    #[test]
    fn strict_form() {
        assert!(is_strict("20250314091502"));
        assert!(!is_strict("20250314"));
        assert!(!is_strict("2025-03-14T09:15:02+07:00"));
        assert!(!is_strict("20250230091502"));
        assert!(!is_strict(""));
    }
}
