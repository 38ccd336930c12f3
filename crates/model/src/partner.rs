//! Failures of calls to partner systems (DVCQG, VDXP), in one shape for every route:
//! who is at fault and whether a retry can help, with the partner's own code and message
//! kept verbatim. Each client has its detailed error type; both convert into
//! [`PartnerFailure`], which is what the bus and the operators see.

use serde::Serialize;
use std::fmt;
use std::time::Duration;

/// Who is at fault for a failed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// The gateway: configuration (credentials, URLs, certificates) or a request the partner
    /// cannot accept. Retrying does not help until someone changes something here.
    Us,
    /// The partner: it answered, but not with a success.
    Partner,
    /// The path between: no answer (timeout, connection refused or reset).
    Network,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Fault::Us => "our fault",
            Fault::Partner => "partner fault",
            Fault::Network => "network fault",
        })
    }
}

/// A failed call to a partner, as routes handle it (retry after a delay, or park with the
/// reason).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartnerFailure {
    /// `dvcqg` or `vdxp`.
    pub partner: &'static str,
    /// The operation or service, e.g. `DongBoHoSoMC`, `sendEdoc`.
    pub operation: &'static str,
    /// Who is at fault.
    pub fault: Fault,
    /// Whether repeating the call later can succeed.
    pub retryable: bool,
    /// Whether a human must look before anything is sent again.
    pub needs_review: bool,
    /// The partner's error code, verbatim.
    pub error_code: Option<String>,
    /// The partner's message, verbatim. It may quote personal data: show it to operators,
    /// never log it.
    pub message: Option<String>,
    /// How long the partner asked us to wait.
    pub retry_after: Option<Duration>,
    /// What went wrong, without the partner's message (safe to log).
    pub summary: String,
}

impl fmt::Display for PartnerFailure {
    /// The summary only: never the partner's message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {} ({}, {})",
            self.partner,
            self.operation,
            self.summary,
            self.fault,
            if self.retryable {
                "retryable"
            } else {
                "not retryable"
            }
        )
    }
}

/// The classification of a non-2xx HTTP answer whose body says nothing more, shared by
/// every partner client: 408 is the network's, 429 and 5xx the partner's (both worth a
/// retry); anything else is a request we should not have sent as it is.
pub fn http_status_fault(status: u16) -> (Fault, bool) {
    match status {
        408 => (Fault::Network, true),
        429 | 500..=599 => (Fault::Partner, true),
        _ => (Fault::Us, false),
    }
}

/// Reads a `Retry-After` value (RFC 9110 §10.2.3): delay-seconds, or an HTTP date, counted
/// from `now`; a date in the past gives zero.
pub fn parse_retry_after(value: &str, now: jiff::Timestamp) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    static PARSER: jiff::fmt::rfc2822::DateTimeParser = jiff::fmt::rfc2822::DateTimeParser::new();
    let at = PARSER.parse_timestamp(value).ok()?;
    Some(Duration::try_from(now.duration_until(at)).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_statuses() {
        assert_eq!(http_status_fault(408), (Fault::Network, true));
        for s in [429, 500, 502, 503, 599] {
            assert_eq!(http_status_fault(s), (Fault::Partner, true), "{s}");
        }
        for s in [301, 400, 401, 403, 404, 409] {
            assert_eq!(http_status_fault(s), (Fault::Us, false), "{s}");
        }
    }

    #[test]
    fn retry_after_forms() {
        let now: jiff::Timestamp = "1994-11-06T08:47:37Z".parse().expect("time");
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::from_secs(120))
        );
        let later: jiff::Timestamp = "1994-11-06T09:00:00Z".parse().expect("time");
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", later),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }
}
