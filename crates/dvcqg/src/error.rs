//! The one error type of the DVCQG client, [`DvcqgError`]: who is at fault ([`Fault`]),
//! whether a later retry can help (`retryable`), what happened ([`ErrorKind`]), and the
//! portal's own `error_code` and `message`, verbatim.
//!
//! # Decision table
//!
//! No list of the portal's error codes is public (`dvcqg.md` §5), so apart from the rules of
//! §5 nothing here branches on a specific code. The client itself never retries with
//! back-off — the bus does, guided by `retryable` and `retry_after`; the client only repeats
//! a call once after a session refresh (§3.1) and resends an insert as an update after the
//! duplicate signal (§6.1). The rows below are what is left *after* those two.
//!
//! | what happened | [`ErrorKind`] | [`Fault`] | retryable | notes |
//! |---|---|---|---|---|
//! | request timed out (`timeout_ms`) | `Timeout` | `Network` | yes | the portal may still have applied the call; re-sending is safe (update / append) |
//! | connection refused / DNS / TLS handshake | `Connect` | `Network` | yes | |
//! | connection reset, body read error | `Transport` | `Network` | yes | |
//! | HTTP 408 | `Http(408)` | `Network` | yes | |
//! | HTTP 429 | `Http(429)` | `Partner` | yes | `retry_after` from `Retry-After` (seconds or HTTP date) |
//! | HTTP 5xx | `Http(5xx)` | `Partner` | yes | `retry_after` when sent |
//! | HTTP 401 / 403 (after the one session refresh, or on the authentication call) | `Http(401/403)` | `Us` | no | account lacks the right; configuration |
//! | other HTTP status (3xx, 4xx) | `Http(status)` | `Us` | no | wrong endpoint path or a request the portal cannot read; redirects are not followed |
//! | HTTP 2xx, body not a JSON object | `Decode` | `Partner` | yes | typically an error page of a proxy in front of the portal |
//! | `error_code` 3 / -3 without the duplicate text (§5 rule 4) | `NeedsReview` | `Partner` | **no** | park for a human |
//! | any other §5 failure, incl. `đã tồn tại` on an update and an invalid session after the refresh | `Partner` | `Partner` | yes | back off, then dead-letter with [`DvcqgError::message`] |
//! | authentication refused (`error_code` present and not success: bad credentials, wrong `dstcode`) | `Auth` | `Us` | **no** | fix the configuration |
//! | authentication reply with a success code (or none) but no session | `Auth` | `Partner` | yes | protocol anomaly |
//! | invalid configuration (URL, `dstcode` header value, CA file, no system CA certificates) | `Config` | `Us` | no | raised by [`crate::client::DvcqgClient::new`] |
//!
//! Validation failures of the portal cannot be told apart from transient ones (no code
//! list), so an ordinary §5 failure is retryable: the bus backs off and finally
//! dead-letters it with the portal's message for an operator.
//!
//! # Personal data
//!
//! The `Display` text names the service, the kind, the fault, and the portal's
//! `error_code`, but never the portal's `message` — a validation message may echo a
//! name or an identity number. Read [`DvcqgError::message`] where the message is shown to
//! an operator.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;

use crate::wire::ErrorCode;

/// Who is at fault: the project-wide classification, shared with every partner client.
pub use lienthong_model::Fault;

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// No complete answer within `timeout_ms`.
    Timeout,
    /// The connection could not be established (refused, DNS, TLS handshake).
    Connect,
    /// The connection broke while sending or receiving.
    Transport,
    /// The portal answered with this non-2xx HTTP status.
    Http(u16),
    /// The portal answered with a §5 failure (rule 5).
    Partner,
    /// `error_code` 3 or -3 without the duplicate text (§5 rule 4): park for human review.
    NeedsReview,
    /// The authentication call (§3) gave no session.
    Auth,
    /// A 2xx reply whose body is not a JSON object.
    Decode,
    /// The client configuration is unusable.
    Config,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Timeout => f.write_str("timeout"),
            ErrorKind::Connect => f.write_str("connection failed"),
            ErrorKind::Transport => f.write_str("transport error"),
            ErrorKind::Http(status) => write!(f, "HTTP {status}"),
            ErrorKind::Partner => f.write_str("portal reported a failure"),
            ErrorKind::NeedsReview => f.write_str("portal reply needs human review"),
            ErrorKind::Auth => f.write_str("authentication refused"),
            ErrorKind::Decode => f.write_str("reply is not a JSON object"),
            ErrorKind::Config => f.write_str("invalid configuration"),
        }
    }
}

/// A failed DVCQG call. See the [module documentation](self) for the decision table.
#[derive(Debug, Clone, Error)]
#[error("{}", self.describe())]
pub struct DvcqgError {
    /// Who is at fault.
    pub fault: Fault,
    /// Whether the same call may succeed later, unchanged (with back-off).
    pub retryable: bool,
    /// What happened.
    pub kind: ErrorKind,
    /// The service called (`DongBoHoSoMC`, …), or `"auth"` for the authentication call and
    /// `""` for configuration errors.
    pub service: &'static str,
    /// The portal's `error_code`, verbatim, when it sent a reply envelope (also kept for
    /// HTTP errors whose body is an envelope).
    pub error_code: Option<ErrorCode>,
    /// The portal's `message`, verbatim. May contain personal data: show it to operators,
    /// do not log it.
    pub message: Option<String>,
    /// How long the portal asked us to wait (`Retry-After`), when it said so.
    pub retry_after: Option<Duration>,
    /// For calls split into several requests ([`send_progress`]): how many items the portal
    /// accepted before this failure. `None` for single calls.
    ///
    /// [`send_progress`]: crate::client::DvcqgClient::send_progress
    pub accepted: Option<usize>,
    /// [`sync_dossier`]: the portal answered the insert that it has the dossier
    /// (`đã tồn tại`), and this is the failure of the update resent after it. Whoever
    /// retries must send an update: another insert is refused again.
    ///
    /// [`sync_dossier`]: crate::client::DvcqgClient::sync_dossier
    pub portal_has_dossier: bool,
    source: Option<Arc<dyn StdError + Send + Sync>>,
}

impl DvcqgError {
    /// The project-wide shape of this failure, for routes and operators.
    pub fn to_failure(&self) -> lienthong_model::PartnerFailure {
        lienthong_model::PartnerFailure {
            partner: "dvcqg",
            operation: self.service,
            fault: self.fault,
            retryable: self.retryable,
            needs_review: self.needs_review(),
            error_code: self.error_code.as_ref().map(|c| c.raw()),
            message: self.message.clone(),
            retry_after: self.retry_after,
            summary: self.to_string(),
        }
    }

    /// A bare error; the constructors below fill in the rest.
    pub(crate) fn new(kind: ErrorKind, fault: Fault, retryable: bool) -> Self {
        DvcqgError {
            fault,
            retryable,
            kind,
            service: "",
            error_code: None,
            message: None,
            retry_after: None,
            accepted: None,
            portal_has_dossier: false,
            source: None,
        }
    }

    /// An invalid configuration.
    pub(crate) fn config(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, Fault::Us, false).with_source(Detail(detail.into()))
    }

    /// A transport-level failure of `reqwest`.
    pub(crate) fn transport(service: &'static str, e: reqwest::Error) -> Self {
        let (kind, fault, retryable) = if e.is_timeout() {
            (ErrorKind::Timeout, Fault::Network, true)
        } else if e.is_connect() {
            (ErrorKind::Connect, Fault::Network, true)
        } else if e.is_builder() {
            (ErrorKind::Config, Fault::Us, false)
        } else {
            (ErrorKind::Transport, Fault::Network, true)
        };
        DvcqgError {
            service,
            source: Some(Arc::new(e)),
            ..Self::new(kind, fault, retryable)
        }
    }

    /// A non-2xx HTTP status.
    pub(crate) fn http(service: &'static str, status: u16, retry_after: Option<Duration>) -> Self {
        let (fault, retryable) = lienthong_model::partner::http_status_fault(status);
        DvcqgError {
            service,
            retry_after,
            ..Self::new(ErrorKind::Http(status), fault, retryable)
        }
    }

    /// In the given service.
    pub(crate) fn at(mut self, service: &'static str) -> Self {
        self.service = service;
        self
    }

    /// With the portal's `error_code` and `message`.
    pub(crate) fn with_reply(mut self, code: Option<ErrorCode>, message: Option<String>) -> Self {
        self.error_code = code;
        self.message = message;
        self
    }

    /// With a source error.
    pub(crate) fn with_source(mut self, e: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(e));
        self
    }

    /// The portal's `error_code`, verbatim.
    pub fn error_code(&self) -> Option<&ErrorCode> {
        self.error_code.as_ref()
    }

    /// The portal's `message`, verbatim (may contain personal data; do not log).
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// Whether an operator must look at the item before anything is sent again.
    pub fn needs_review(&self) -> bool {
        self.kind == ErrorKind::NeedsReview
    }

    /// Whether the failure may be a stale session (§3.1): a §5 failure or HTTP 401/403.
    pub(crate) fn session_suspect(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Partner | ErrorKind::NeedsReview | ErrorKind::Http(401 | 403)
        )
    }

    fn describe(&self) -> String {
        let mut s = String::from("DVCQG");
        if !self.service.is_empty() {
            s.push(' ');
            s.push_str(self.service);
        }
        s.push_str(": ");
        s.push_str(&self.kind.to_string());
        if let Some(code) = &self.error_code {
            s.push_str(&format!(" (error_code {code})"));
        }
        if let Some(source) = &self.source {
            s.push_str(": ");
            s.push_str(&chain(source.as_ref()));
        }
        if let Some(n) = self.accepted {
            s.push_str(&format!(", {n} item(s) accepted before"));
        }
        s.push_str(&format!(
            " [{}, {}]",
            self.fault,
            if self.retryable {
                "retryable"
            } else {
                "not retryable"
            }
        ));
        if let Some(d) = self.retry_after {
            s.push_str(&format!(" retry after {}s", d.as_secs()));
        }
        s
    }
}

impl DvcqgError {
    /// The underlying error (transport error, configuration detail, JSON error), if any;
    /// also [`std::error::Error::source`]. Its text is part of the `Display` text.
    pub fn cause(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        self.source.as_deref()
    }
}

/// An error and its sources, joined with `": "`.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        next = cause.source();
    }
    text
}

/// A configuration message as an error source.
#[derive(Debug, Error)]
#[error("{0}")]
struct Detail(String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_classification() {
        let e = DvcqgError::http("x", 503, None);
        assert_eq!((e.fault, e.retryable), (Fault::Partner, true));
        let e = DvcqgError::http("x", 429, Some(Duration::from_secs(3)));
        assert_eq!((e.fault, e.retryable), (Fault::Partner, true));
        assert!(e.to_string().contains("retry after 3s"), "{e}");
        let e = DvcqgError::http("x", 408, None);
        assert_eq!((e.fault, e.retryable), (Fault::Network, true));
        for status in [301, 400, 401, 403, 404] {
            let e = DvcqgError::http("x", status, None);
            assert_eq!((e.fault, e.retryable), (Fault::Us, false), "{status}");
        }
    }

    #[test]
    fn display_omits_the_message() {
        let e = DvcqgError::new(ErrorKind::Partner, Fault::Partner, true).with_reply(
            Some(ErrorCode::Text("5".into())),
            Some("Chủ hồ sơ Nguyễn Văn A".into()),
        );
        let text = e.to_string();
        assert!(text.contains("error_code \"5\""), "{text}");
        assert!(!text.contains("Nguyễn"), "{text}");
        assert_eq!(e.message(), Some("Chủ hồ sơ Nguyễn Văn A"));
    }
}
