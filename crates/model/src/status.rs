//! Status messages (trạng thái văn bản): what happened to a document at its recipient.

use crate::document::{ResponseFor, StaffInfo, TraceEntry};
use crate::org::Organisation;
use crate::time::LenientTimestamp;
use serde::Serialize;
use std::fmt;

/// A status code as written (trimmed), e.g. `03`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct StatusCode(String);

/// The nine status codes in use (`edxml.md` §8.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KnownStatus {
    /// 01 đã đến: arrived at the recipient's software.
    Received,
    /// 02 từ chối tiếp nhận: refused, reason in the description.
    Refused,
    /// 03 đã tiếp nhận: accepted and registered.
    Accepted,
    /// 04 phân công: assigned for handling.
    Assigned,
    /// 05 đang xử lý: being handled.
    Processing,
    /// 06 hoàn thành: handling finished.
    Finished,
    /// 13 lấy lại / thu hồi: the sender asks to take the document back.
    TakeBackRequested,
    /// 15 đồng ý cập nhật/lấy lại: update or take-back accepted.
    ChangeAccepted,
    /// 16 từ chối cập nhật/lấy lại: update or take-back refused.
    ChangeRefused,
}

impl KnownStatus {
    /// All nine, in code order.
    pub const ALL: [KnownStatus; 9] = [
        Self::Received,
        Self::Refused,
        Self::Accepted,
        Self::Assigned,
        Self::Processing,
        Self::Finished,
        Self::TakeBackRequested,
        Self::ChangeAccepted,
        Self::ChangeRefused,
    ];

    /// The two-digit code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Received => "01",
            Self::Refused => "02",
            Self::Accepted => "03",
            Self::Assigned => "04",
            Self::Processing => "05",
            Self::Finished => "06",
            Self::TakeBackRequested => "13",
            Self::ChangeAccepted => "15",
            Self::ChangeRefused => "16",
        }
    }
}

impl StatusCode {
    /// Keeps a non-blank value (trimmed); blank means absent.
    pub fn new(raw: &str) -> Option<Self> {
        let t = crate::trim_xml(raw);
        (!t.is_empty()).then(|| StatusCode(t.to_owned()))
    }

    /// The code of a known status.
    pub fn of(known: KnownStatus) -> Self {
        StatusCode(known.code().to_owned())
    }

    /// As written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Two-digit form of a numeric code (`"3"` → `"03"`, `" 003"` → `"03"`); `None` when
    /// the code is not a number below 100.
    pub fn normalized(&self) -> Option<String> {
        let n: u32 = self.0.trim().parse().ok()?;
        (n < 100).then(|| format!("{n:02}"))
    }

    /// The known status, if the code is one of the nine.
    pub fn known(&self) -> Option<KnownStatus> {
        let n = self.normalized()?;
        KnownStatus::ALL.into_iter().find(|k| k.code() == n)
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A status message: who reports what about which document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StatusReport {
    /// The organisation reporting the status.
    pub from: Option<Organisation>,
    /// The document the status is about.
    pub response_for: Option<ResponseFor>,
    /// The clerk.
    pub staff: Option<StaffInfo>,
    /// The code; absent only when a message carries an empty `StatusCode`.
    pub status_code: Option<StatusCode>,
    /// Free text reason or message.
    pub description: Option<String>,
    /// When.
    pub timestamp: Option<LenientTimestamp>,
    /// Hops, when a relay added any.
    pub trace: Vec<TraceEntry>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_normalise_to_two_digits() {
        let c = StatusCode::new(" 3 ").expect("code");
        assert_eq!(c.as_str(), "3");
        assert_eq!(c.normalized().as_deref(), Some("03"));
        assert_eq!(c.known(), Some(KnownStatus::Accepted));
        assert_eq!(StatusCode::new("07").and_then(|c| c.known()), None);
        assert_eq!(StatusCode::new("x1").and_then(|c| c.normalized()), None);
        assert_eq!(StatusCode::new("  "), None);
    }
}
