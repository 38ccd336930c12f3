//! The one error type of the VDXP client, [`VdxpError`]: who is at fault ([`Fault`]),
//! whether a later retry can help (`retryable`), what happened ([`ErrorKind`]), and the
//! axis's own `ErrorCode` and `ErrorDesc`, verbatim (`error_code`, `message`).
//!
//! It has the shape of `lienthong_dvcqg::DvcqgError` (same field names and the same
//! [`Fault`] semantics); [`Fault`] is defined identically here rather than taken from the
//! DVCQG crate, until both move to a shared crate.
//!
//! # Decision table
//!
//! The client never retries: the caller (the bus, the receiving loop of `vdxp.md` §8)
//! decides, guided by `retryable` and `retry_after`.
//!
//! No list of the real axis's error codes is public (§4). The codes 400–422 below are those
//! of the simulator (§9.5), which mirror what the real axis is believed to refuse; they are
//! the only codes the client tells apart. Every other code is treated as an unexplained,
//! possibly transient failure.
//!
//! | what happened | [`ErrorKind`] | [`Fault`] | retryable | why |
//! |---|---|---|---|---|
//! | request timed out (`timeout_ms`) | `Timeout` | `Network` | yes | the axis may have applied the call; repeating is harmless (a repeated `sendEdoc` is a duplicate the recipients de-duplicate by `DocumentId`, §8) |
//! | connection refused, DNS, TLS handshake | `Connect` | `Network` | yes | |
//! | connection reset, body read error | `Transport` | `Network` | yes | |
//! | HTTP 408 (body not an envelope) | `Http(408)` | `Network` | yes | |
//! | HTTP 429 (body not an envelope) | `Http(429)` | `Partner` | yes | `retry_after` from `Retry-After` (seconds or HTTP date) |
//! | HTTP 5xx (body not an envelope) | `Http(5xx)` | `Partner` | yes | `retry_after` when sent |
//! | other non-2xx HTTP status (body not an envelope) | `Http(status)` | `Us` | no | wrong base URL or path, or a proxy refusing us; redirects are not followed |
//! | 2xx, body not an envelope (not JSON, no `status`/`ErrorCode`) | `Decode` | `Partner` | yes | typically an error page of a proxy |
//! | success envelope without the payload (`data` of `getEdoc`, `count`), or `data` not base64 | `Decode` | `Partner` | yes | |
//! | success envelope of `sendEdoc` without `DocId` | `Decode` | `Partner` | **no** | the axis accepted the message; resending would deliver it twice and the send cannot be followed without its id: an operator must look |
//! | `ErrorCode` 401: signature or authentication refused | `Auth` | `Us` | no | wrong `systemid` or secret, or a signing bug: configuration |
//! | `ErrorCode` 400: missing or malformed parameter, bad `hash-file`, bad `status` | `BadRequest` | `Us` | no | we built a request the axis cannot read |
//! | `ErrorCode` 403: sender organisation not hosted by our `systemid` | `NotHosted` | `Us` | no | the `From/OrganId` is not registered for our centre: configuration or a wrong message |
//! | `ErrorCode` 404: unknown or foreign `docId` | `UnknownDoc` | `Partner` | no | see below |
//! | `ErrorCode` 409: change of a final delivery state | `Conflict` | `Us` | no | we already reported `done`/`fail` and now say otherwise: our bookkeeping is inconsistent, repeating cannot change a final state |
//! | `ErrorCode` 422: unparseable message, kind/`messagetype` mismatch, no deliverable recipient | `Undeliverable` | `Us` | no | the message cannot be delivered as is; it must be corrected |
//! | any other failure envelope (`status` ≠ `OK` or `ErrorCode` ≠ 0), e.g. 500 | `Partner` | `Partner` | yes | `error_code` and `message` (`ErrorDesc`) preserved verbatim for the operator |
//! | refused locally before sending (parameter value not printable ASCII or with surrounding white space, message not edXML, kind ≠ `messagetype`, no `From/OrganId`, empty `to`) | `InvalidRequest` | `Us` | no | nothing was sent |
//! | invalid configuration (URL, concurrency, timeout, CA file, no system CA certificates) | `Config` | `Us` | no | raised by [`crate::client::VdxpClient::new`] |
//!
//! A non-2xx reply whose body *is* an envelope is decided by the envelope (§4); its
//! `Retry-After` is kept.
//!
//! **404 is the partner's fault, not retryable.** The gateway only ever uses ids the axis
//! handed it (from `getReceivedEdocList` or `sendEdoc`); when the axis then says it does not
//! know one, the inconsistency is on its side (lost state, or an item listed to us that
//! belongs to another centre) — nothing in our configuration can fix it. Repeating the same
//! call cannot make the id known again, so it is not retryable; the receiving loop of §8
//! does not need a retry anyway: an item still listed comes back with the next poll of
//! `getReceivedEdocList`, which is the natural retry.
//!
//! # Personal data
//!
//! The `Display` text names the service, the operation, the kind, the fault and the
//! axis's `ErrorCode`, never its `ErrorDesc` (which may echo message content). Read
//! [`VdxpError::message`] where it is shown to an operator.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;

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
    /// A non-2xx HTTP status whose body is not a response envelope.
    Http(u16),
    /// A reply that is not what the operation returns (not an envelope, no payload).
    Decode,
    /// `ErrorCode` 401: the signature or the `systemid` was refused.
    Auth,
    /// `ErrorCode` 400: a missing or malformed parameter.
    BadRequest,
    /// `ErrorCode` 403: the sender organisation is not hosted by our `systemid`.
    NotHosted,
    /// `ErrorCode` 404: the axis does not know the `docId` (or it is another centre's).
    UnknownDoc,
    /// `ErrorCode` 409: a final delivery state cannot be changed.
    Conflict,
    /// `ErrorCode` 422: the message cannot be delivered as it is.
    Undeliverable,
    /// Any other failure envelope.
    Partner,
    /// The request was refused before sending (see the decision table).
    InvalidRequest,
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
            ErrorKind::Decode => f.write_str("unexpected reply"),
            ErrorKind::Auth => f.write_str("signature or system refused"),
            ErrorKind::BadRequest => f.write_str("bad parameter"),
            ErrorKind::NotHosted => f.write_str("sender not hosted by this system"),
            ErrorKind::UnknownDoc => f.write_str("unknown docId"),
            ErrorKind::Conflict => f.write_str("final delivery state cannot change"),
            ErrorKind::Undeliverable => f.write_str("message cannot be delivered as is"),
            ErrorKind::Partner => f.write_str("axis reported a failure"),
            ErrorKind::InvalidRequest => f.write_str("request refused before sending"),
            ErrorKind::Config => f.write_str("invalid configuration"),
        }
    }
}

/// A failed VDXP call. See the [module documentation](self) for the decision table.
#[derive(Debug, Clone, Error)]
#[error("{}", self.describe())]
pub struct VdxpError {
    /// Who is at fault.
    pub fault: Fault,
    /// Whether the same call may succeed later, unchanged (with back-off).
    pub retryable: bool,
    /// What happened.
    pub kind: ErrorKind,
    /// The operation called (`sendEdoc`, `getEdoc`, …); `""` for configuration errors.
    pub operation: &'static str,
    /// The axis's `ErrorCode`, verbatim (a JSON number as its text), when it sent an
    /// envelope.
    pub error_code: Option<String>,
    /// The axis's `ErrorDesc`, verbatim. Show it to operators; do not log it.
    pub message: Option<String>,
    /// How long the axis asked us to wait (`Retry-After`), when it said so.
    pub retry_after: Option<Duration>,
    source: Option<Arc<dyn StdError + Send + Sync>>,
}

impl VdxpError {
    /// The project-wide shape of this failure, for routes and operators.
    pub fn to_failure(&self) -> lienthong_model::PartnerFailure {
        lienthong_model::PartnerFailure {
            partner: "vdxp",
            operation: self.operation,
            fault: self.fault,
            retryable: self.retryable,
            needs_review: false,
            error_code: self.error_code.clone(),
            message: self.message.clone(),
            retry_after: self.retry_after,
            summary: self.to_string(),
        }
    }

    /// A bare error; the constructors below fill in the rest.
    pub(crate) fn new(kind: ErrorKind, fault: Fault, retryable: bool) -> Self {
        VdxpError {
            fault,
            retryable,
            kind,
            operation: "",
            error_code: None,
            message: None,
            retry_after: None,
            source: None,
        }
    }

    /// An invalid configuration.
    pub(crate) fn config(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, Fault::Us, false).with_source(Detail(detail.into()))
    }

    /// A request refused before sending.
    pub(crate) fn invalid(operation: &'static str, detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidRequest, Fault::Us, false)
            .at(operation)
            .with_source(Detail(detail.into()))
    }

    /// A transport-level failure of `reqwest`.
    pub(crate) fn transport(operation: &'static str, e: reqwest::Error) -> Self {
        let (kind, fault, retryable) = if e.is_timeout() {
            (ErrorKind::Timeout, Fault::Network, true)
        } else if e.is_connect() {
            (ErrorKind::Connect, Fault::Network, true)
        } else if e.is_builder() {
            (ErrorKind::Config, Fault::Us, false)
        } else {
            (ErrorKind::Transport, Fault::Network, true)
        };
        VdxpError {
            operation,
            source: Some(Arc::new(e)),
            ..Self::new(kind, fault, retryable)
        }
    }

    /// A non-2xx HTTP status whose body is not an envelope.
    pub(crate) fn http(
        operation: &'static str,
        status: u16,
        retry_after: Option<Duration>,
    ) -> Self {
        let (fault, retryable) = lienthong_model::partner::http_status_fault(status);
        VdxpError {
            operation,
            retry_after,
            ..Self::new(ErrorKind::Http(status), fault, retryable)
        }
    }

    /// A failure envelope, classified by its `ErrorCode` (decision table).
    pub(crate) fn envelope(
        operation: &'static str,
        error_code: Option<String>,
        message: Option<String>,
    ) -> Self {
        let (kind, fault, retryable) = match error_code.as_deref().map(str::trim) {
            Some("401") => (ErrorKind::Auth, Fault::Us, false),
            Some("400") => (ErrorKind::BadRequest, Fault::Us, false),
            Some("403") => (ErrorKind::NotHosted, Fault::Us, false),
            Some("404") => (ErrorKind::UnknownDoc, Fault::Partner, false),
            Some("409") => (ErrorKind::Conflict, Fault::Us, false),
            Some("422") => (ErrorKind::Undeliverable, Fault::Us, false),
            _ => (ErrorKind::Partner, Fault::Partner, true),
        };
        VdxpError {
            operation,
            error_code,
            message,
            ..Self::new(kind, fault, retryable)
        }
    }

    /// A reply that is not what the operation returns.
    pub(crate) fn decode(operation: &'static str, detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Decode, Fault::Partner, true)
            .at(operation)
            .with_source(Detail(detail.into()))
    }

    /// In the given operation.
    pub(crate) fn at(mut self, operation: &'static str) -> Self {
        self.operation = operation;
        self
    }

    /// With a source error.
    pub(crate) fn with_source(mut self, e: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(e));
        self
    }

    /// The axis's `ErrorCode`, verbatim.
    pub fn error_code(&self) -> Option<&str> {
        self.error_code.as_deref()
    }

    /// The axis's `ErrorDesc`, verbatim (show to operators; do not log).
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// The underlying error (transport error, configuration detail, decoding problem), if
    /// any; also [`std::error::Error::source`]. Its text is part of the `Display` text.
    pub fn cause(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        self.source.as_deref()
    }

    fn describe(&self) -> String {
        let mut s = String::from("VDXP");
        if !self.operation.is_empty() {
            s.push(' ');
            s.push_str(self.operation);
        }
        s.push_str(": ");
        s.push_str(&self.kind.to_string());
        if let Some(code) = &self.error_code {
            s.push_str(&format!(" (ErrorCode {code:?})"));
        }
        if let Some(source) = &self.source {
            s.push_str(": ");
            s.push_str(&chain(source.as_ref()));
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

/// An error and its sources, joined with `": "`.
pub(crate) fn chain(e: &dyn StdError) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        next = cause.source();
    }
    text
}

/// A detail message as an error source.
#[derive(Debug, Error)]
#[error("{0}")]
struct Detail(String);

#[cfg(test)]
mod tests {
    use super::*;

    fn class(e: &VdxpError) -> (ErrorKind, Fault, bool) {
        (e.kind, e.fault, e.retryable)
    }

    #[test]
    fn envelope_codes() {
        let cases = [
            ("401", ErrorKind::Auth, Fault::Us, false),
            ("400", ErrorKind::BadRequest, Fault::Us, false),
            ("403", ErrorKind::NotHosted, Fault::Us, false),
            ("404", ErrorKind::UnknownDoc, Fault::Partner, false),
            ("409", ErrorKind::Conflict, Fault::Us, false),
            ("422", ErrorKind::Undeliverable, Fault::Us, false),
            ("500", ErrorKind::Partner, Fault::Partner, true),
            ("E_BUSY", ErrorKind::Partner, Fault::Partner, true),
            ("0", ErrorKind::Partner, Fault::Partner, true),
        ];
        for (code, kind, fault, retryable) in cases {
            let e = VdxpError::envelope("getEdoc", Some(code.into()), Some("mô tả".into()));
            assert_eq!(class(&e), (kind, fault, retryable), "{code}");
            assert_eq!(e.error_code(), Some(code));
            assert_eq!(e.message(), Some("mô tả"));
            assert!(!e.to_string().contains("mô tả"), "{e}");
        }
        let e = VdxpError::envelope("getEdoc", None, None);
        assert_eq!(
            class(&e),
            (ErrorKind::Partner, Fault::Partner, true),
            "no code"
        );
    }

    #[test]
    fn http_statuses() {
        let e = VdxpError::http("x", 503, Some(Duration::from_secs(3)));
        assert_eq!((e.fault, e.retryable), (Fault::Partner, true));
        assert!(e.to_string().contains("retry after 3s"), "{e}");
        let e = VdxpError::http("x", 429, None);
        assert_eq!((e.fault, e.retryable), (Fault::Partner, true));
        let e = VdxpError::http("x", 408, None);
        assert_eq!((e.fault, e.retryable), (Fault::Network, true));
        for status in [301, 400, 401, 403, 404] {
            let e = VdxpError::http("x", status, None);
            assert_eq!((e.fault, e.retryable), (Fault::Us, false), "{status}");
        }
    }
}
