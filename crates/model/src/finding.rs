//! Findings: the one shape in which every validating command of lienthong reports a defect.
//!
//! A finding has a severity, a path (an element path such as
//! `/edXML/edXMLEnvelope/edXMLHeader/MessageHeader/From/OrganId` for XML, a JSON Pointer for
//! JSON), a message, and the `expected` / `found` values where they apply.

use serde::Serialize;
use std::fmt;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; the input is still usable as it is.
    Warning,
    /// The input is invalid for its purpose.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// One defect found in an input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// `error` or `warning`.
    pub severity: Severity,
    /// Where: an element path for XML, a JSON Pointer for JSON.
    pub path: String,
    /// What is wrong, in one sentence.
    pub message: String,
    /// What was expected, when that can be said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// What was found instead, when that can be said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub found: Option<String>,
}

impl Finding {
    /// An error at `path`.
    pub fn error(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, path, message)
    }

    /// A warning at `path`.
    pub fn warning(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, path, message)
    }

    fn new(severity: Severity, path: impl Into<String>, message: impl Into<String>) -> Self {
        Finding {
            severity,
            path: path.into(),
            message: message.into(),
            expected: None,
            found: None,
        }
    }

    /// Adds what was expected.
    pub fn expected(mut self, expected: impl Into<String>) -> Self {
        self.expected = Some(expected.into());
        self
    }

    /// Adds what was found.
    pub fn found(mut self, found: impl Into<String>) -> Self {
        self.found = Some(found.into());
        self
    }

    /// Whether this finding is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Finding {
    /// One line: `error: /path: message (expected X, found Y)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.severity, self.path, self.message)?;
        match (&self.expected, &self.found) {
            (Some(e), Some(x)) => write!(f, " (expected {e}, found {x})"),
            (Some(e), None) => write!(f, " (expected {e})"),
            (None, Some(x)) => write!(f, " (found {x})"),
            (None, None) => Ok(()),
        }
    }
}

/// Whether any finding of the list is an error.
pub fn has_errors(findings: &[Finding]) -> bool {
    findings.iter().any(Finding::is_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_carries_expected_and_found() {
        let f = Finding::error("/a/b", "bad value")
            .expected("1 or 2")
            .found("7");
        assert_eq!(
            f.to_string(),
            "error: /a/b: bad value (expected 1 or 2, found 7)"
        );
        let w = Finding::warning("/a", "odd");
        assert_eq!(w.to_string(), "warning: /a: odd");
    }
}
