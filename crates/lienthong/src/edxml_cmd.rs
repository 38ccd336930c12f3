//! `lienthong edxml inspect | normalize | validate`.
//!
//! Exit codes, shared by every validating command: 0 = read and valid (warnings allowed),
//! 1 = read but invalid (an error finding), 2 = could not be read at all.

use crate::Format;
use lienthong_edxml::{Finding, check, read, summarize};
use std::io::{self, Read, Write};
use std::path::Path;

/// Outcome of a validating command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Read and valid.
    Valid = 0,
    /// Read but invalid.
    Invalid = 1,
    /// Not readable.
    Unreadable = 2,
}

pub fn load(file: &Path) -> Result<Vec<u8>, Finding> {
    let result = if file.as_os_str() == "-" {
        let mut v = Vec::new();
        io::stdin().read_to_end(&mut v).map(|_| v)
    } else {
        std::fs::read(file)
    };
    result.map_err(|e| Finding::error("/", format!("cannot read {}: {e}", file.display())))
}

/// Prints findings; errors writing them (closed pipe) are ignored.
pub fn print_findings(out: &mut dyn Write, findings: &[Finding], format: Format) {
    let _ = match format {
        Format::Text => findings.iter().try_for_each(|f| writeln!(out, "{f}")),
        Format::Json => serde_json::to_writer_pretty(&mut *out, findings)
            .map_err(io::Error::other)
            .and_then(|()| writeln!(out)),
    };
}

pub fn outcome(findings: &[Finding]) -> Outcome {
    if findings.iter().any(Finding::is_error) {
        Outcome::Invalid
    } else {
        Outcome::Valid
    }
}

/// Reads and checks a file; on failure prints the finding to `err_out` and returns `Err`.
fn read_checked(
    file: &Path,
    format: Format,
    err_out: &mut dyn Write,
) -> Result<
    (
        lienthong_edxml::Message,
        lienthong_edxml::Checked,
        Vec<Finding>,
    ),
    Outcome,
> {
    let bytes = match load(file) {
        Ok(b) => b,
        Err(f) => {
            print_findings(err_out, &[f], format);
            return Err(Outcome::Unreadable);
        }
    };
    let parsed = match read(bytes) {
        Ok(p) => p,
        Err(e) => {
            print_findings(err_out, &[e.finding], format);
            return Err(Outcome::Unreadable);
        }
    };
    let checked = check(&parsed.message);
    let mut findings = parsed.findings;
    findings.extend(checked.findings.iter().cloned());
    Ok((parsed.message, checked, findings))
}

/// `inspect`: facts as JSON on stdout, findings on stderr.
pub fn inspect(file: &Path, format: Format) -> Outcome {
    let mut stderr = io::stderr().lock();
    let (message, checked, findings) = match read_checked(file, format, &mut stderr) {
        Ok(x) => x,
        Err(o) => return o,
    };
    let summary = summarize(&message, &checked);
    let mut stdout = io::stdout().lock();
    let _ = serde_json::to_writer_pretty(&mut stdout, &summary)
        .map_err(io::Error::other)
        .and_then(|()| writeln!(stdout));
    if !findings.is_empty() {
        print_findings(&mut stderr, &findings, format);
    }
    outcome(&findings)
}

/// `normalize`: strict layout on stdout, findings on stderr.
pub fn normalize(file: &Path, format: Format) -> Outcome {
    let mut stderr = io::stderr().lock();
    let (message, _, findings) = match read_checked(file, format, &mut stderr) {
        Ok(x) => x,
        Err(o) => return o,
    };
    let mut stdout = io::BufWriter::new(io::stdout().lock());
    let written = lienthong_edxml::write(&message, &mut stdout)
        .map_err(|e| e.to_string())
        .and_then(|()| stdout.flush().map_err(|e| e.to_string()));
    if let Err(e) = written {
        print_findings(
            &mut stderr,
            &[Finding::error("/", format!("cannot write the output: {e}"))],
            format,
        );
        return Outcome::Unreadable;
    }
    if !findings.is_empty() {
        print_findings(&mut stderr, &findings, format);
    }
    outcome(&findings)
}

/// `validate`: findings on stdout.
pub fn validate(file: &Path, format: Format) -> Outcome {
    match load(file) {
        Ok(bytes) => validate_bytes(bytes, file, format),
        Err(f) => {
            print_findings(&mut io::stdout().lock(), &[f], format);
            Outcome::Unreadable
        }
    }
}

/// `validate` of bytes already loaded from `file`.
pub fn validate_bytes(bytes: Vec<u8>, file: &Path, format: Format) -> Outcome {
    let mut stdout = io::stdout().lock();
    let parsed = match read(bytes) {
        Ok(p) => p,
        Err(e) => {
            print_findings(&mut stdout, &[e.finding], format);
            return Outcome::Unreadable;
        }
    };
    let checked = check(&parsed.message);
    let mut findings = parsed.findings;
    findings.extend(checked.findings);
    let message = parsed.message;
    print_findings(&mut stdout, &findings, format);
    let result = outcome(&findings);
    if format == Format::Text {
        let errors = findings.iter().filter(|f| f.is_error()).count();
        eprintln!(
            "{}: {} message, {} error(s), {} warning(s): {}",
            file.display(),
            message.kind(),
            errors,
            findings.len() - errors,
            if result == Outcome::Valid {
                "valid"
            } else {
                "invalid"
            }
        );
    }
    result
}
