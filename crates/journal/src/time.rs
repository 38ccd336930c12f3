//! Times in the database: BIGINT microseconds since the Unix epoch (UTC), the same on
//! both backends, so ordering and range queries are plain integer comparisons.

use crate::error::{JournalError, Result};
use jiff::Timestamp;

/// A timestamp as stored.
pub(crate) fn us(t: Timestamp) -> i64 {
    t.as_microsecond()
}

/// An optional timestamp as stored.
pub(crate) fn us_opt(t: Option<Timestamp>) -> Option<i64> {
    t.map(us)
}

/// A stored timestamp.
pub(crate) fn ts(v: i64) -> Result<Timestamp> {
    Timestamp::from_microsecond(v)
        .map_err(|e| JournalError::Corrupt(format!("timestamp {v} out of range: {e}")))
}

/// A stored optional timestamp.
pub(crate) fn ts_opt(v: Option<i64>) -> Result<Option<Timestamp>> {
    v.map(ts).transpose()
}
