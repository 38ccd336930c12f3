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
