//! `lienthong convert`, `lienthong validate` and `lienthong gen`: wiring of the provincial
//! and DVCQG format crates through the model. Input is one JSON document or NDJSON (one
//! per line); output keeps the same framing. Exit codes as for every validating command:
//! 0 valid, 1 invalid (an error finding), 2 unreadable.

use crate::edxml_cmd::{Outcome, load, print_findings};
use crate::{DossierFormat, Format, KindArg, MappingArgs};
use lienthong_dvcqg::map::{
    MappingConfig, dossier_from_dvcqg, dossier_to_dvcqg, progress_from_dvcqg, progress_to_dvcqg,
};
use lienthong_dvcqg::read::{
    is_item, is_progress_item, read_dossier_item, read_progress_item, validate_dossier_item,
    validate_progress_item,
};
use lienthong_edxml::Finding;
use lienthong_provincial::Kind;
use lienthong_provincial::generate::Generator;
use lienthong_provincial::read::{read_dossier, read_progress};
use lienthong_provincial::validate::{Policy, validate_dossier_with, validate_progress};
use lienthong_provincial::write::{
    dossier_json, dossier_json_pretty, progress_json, progress_json_pretty,
};
use serde_json::Value;
use std::io::{self, Write};
use std::path::Path;

/// How the input was framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Single,
    Lines,
}

/// One input document: its line (for NDJSON) and its JSON, or why it is not JSON.
struct Doc {
    line: Option<usize>,
    value: Result<Value, Finding>,
}

fn split(bytes: &[u8]) -> (Framing, Vec<Doc>) {
    match lienthong_jsonread::parse(bytes) {
        Ok(v) => (
            Framing::Single,
            vec![Doc {
                line: None,
                value: Ok(v),
            }],
        ),
        Err(single) => {
            let lines: Vec<(usize, &[u8])> = bytes
                .split(|b| *b == b'\n')
                .enumerate()
                .map(|(i, l)| (i + 1, l))
                .filter(|(_, l)| l.iter().any(|b| !b.is_ascii_whitespace()))
                .collect();
            if lines.len() < 2 {
                return (
                    Framing::Single,
                    vec![Doc {
                        line: None,
                        value: Err(single),
                    }],
                );
            }
            let docs = lines
                .into_iter()
                .map(|(n, l)| Doc {
                    line: Some(n),
                    value: lienthong_jsonread::parse(l),
                })
                .collect();
            (Framing::Lines, docs)
        }
    }
}

fn on_line(line: Option<usize>, mut findings: Vec<Finding>) -> Vec<Finding> {
    if let Some(n) = line {
        for f in &mut findings {
            f.message = format!("line {n}: {}", f.message);
        }
    }
    findings
}

fn load_input(file: Option<&Path>, format: Format) -> Result<Vec<u8>, Outcome> {
    load(file.unwrap_or(Path::new("-"))).map_err(|f| {
        print_findings(&mut io::stderr().lock(), &[f], format);
        Outcome::Unreadable
    })
}

fn worst(a: Outcome, b: Outcome) -> Outcome {
    if (b as u8) > (a as u8) { b } else { a }
}

fn outcome_of(findings: &[Finding]) -> Outcome {
    crate::edxml_cmd::outcome(findings)
}

/// Converts one document; `Ok(output)` when it could be converted, findings either way.
fn convert_one(
    v: &Value,
    from: DossierFormat,
    to: DossierFormat,
    kind: Option<KindArg>,
    pretty: bool,
    rules: &Rules,
    f: &mut Vec<Finding>,
) -> Option<String> {
    let cfg = &rules.mapping;
    let kind = match kind {
        Some(KindArg::Dossier) => Kind::Dossier,
        Some(KindArg::Progress) => Kind::Progress,
        None if from == DossierFormat::Dvcqg && is_progress_item(v) => Kind::Progress,
        None if from == DossierFormat::Dvcqg => Kind::Dossier,
        None => Kind::detect(v),
    };
    let json = |value: &dyn erased::Ser| -> String { value.to_json(pretty) };
    match (from, kind) {
        (DossierFormat::Provincial, Kind::Dossier) => {
            let d = read_dossier(v, f)?;
            f.extend(validate_dossier_with(&d, &rules.policy));
            if f.iter().any(Finding::is_error) {
                return None;
            }
            match to {
                DossierFormat::Dvcqg => {
                    let (item, mf) = dossier_to_dvcqg(&d, cfg);
                    f.extend(mf);
                    (!f.iter().any(Finding::is_error)).then(|| json(&item))
                }
                DossierFormat::Provincial => Some(if pretty {
                    dossier_json_pretty(&d)
                } else {
                    dossier_json(&d)
                }),
            }
        }
        (DossierFormat::Provincial, Kind::Progress) => {
            let p = read_progress(v, f)?;
            f.extend(validate_progress(&p));
            if f.iter().any(Finding::is_error) {
                return None;
            }
            match to {
                DossierFormat::Dvcqg => {
                    let (item, mf) = progress_to_dvcqg(&p, cfg);
                    f.extend(mf);
                    (!f.iter().any(Finding::is_error)).then(|| json(&item))
                }
                DossierFormat::Provincial => Some(if pretty {
                    progress_json_pretty(&p)
                } else {
                    progress_json(&p)
                }),
            }
        }
        (DossierFormat::Dvcqg, Kind::Dossier) => {
            let item = read_dossier_item(v, "", f)?;
            validate_dossier_item(&item, "", f);
            if f.iter().any(Finding::is_error) {
                return None;
            }
            match to {
                DossierFormat::Dvcqg => Some(json(&item)),
                DossierFormat::Provincial => {
                    let (d, mf) = dossier_from_dvcqg(&item);
                    f.extend(mf);
                    Some(if pretty {
                        dossier_json_pretty(&d)
                    } else {
                        dossier_json(&d)
                    })
                }
            }
        }
        (DossierFormat::Dvcqg, Kind::Progress) => {
            let item = read_progress_item(v, "", f)?;
            validate_progress_item(&item, "", f);
            if f.iter().any(Finding::is_error) {
                return None;
            }
            match to {
                DossierFormat::Dvcqg => Some(json(&item)),
                DossierFormat::Provincial => {
                    let (p, mf) = progress_from_dvcqg(&item);
                    f.extend(mf);
                    Some(if pretty {
                        progress_json_pretty(&p)
                    } else {
                        progress_json(&p)
                    })
                }
            }
        }
    }
}

/// Serialising any DVCQG item without naming its type.
mod erased {
    /// A serialisable value.
    pub trait Ser {
        /// As JSON text.
        fn to_json(&self, pretty: bool) -> String;
    }
    impl<T: serde::Serialize> Ser for T {
        fn to_json(&self, pretty: bool) -> String {
            let r = if pretty {
                serde_json::to_string_pretty(self)
            } else {
                serde_json::to_string(self)
            };
            // Plain structs of strings and arrays: serialising cannot fail.
            r.unwrap_or_default()
        }
    }
}

/// The configured identifier rules.
struct Rules {
    mapping: MappingConfig,
    policy: Policy,
}

impl Rules {
    fn from_args(args: &MappingArgs) -> Rules {
        Rules {
            mapping: MappingConfig {
                procedure_map: args.procedure_map.iter().cloned().collect(),
                ..MappingConfig::default()
            },
            policy: Policy {
                own_code_overrides: args.own_codes.clone(),
            },
        }
    }
}

/// `lienthong convert`.
pub fn convert(
    from: DossierFormat,
    to: DossierFormat,
    kind: Option<KindArg>,
    file: Option<&Path>,
    format: Format,
    args: &MappingArgs,
) -> Outcome {
    let bytes = match load_input(file, format) {
        Ok(b) => b,
        Err(o) => return o,
    };
    let (framing, docs) = split(&bytes);
    let rules = Rules::from_args(args);
    let mut stdout = io::BufWriter::new(io::stdout().lock());
    let mut all = Vec::new();
    let mut result = Outcome::Valid;
    for doc in docs {
        let mut f = Vec::new();
        match &doc.value {
            Err(e) => {
                f.push(e.clone());
                result = worst(result, Outcome::Unreadable);
            }
            Ok(v) => {
                if let Some(out) = convert_one(
                    v,
                    from,
                    to,
                    kind,
                    framing == Framing::Single,
                    &rules,
                    &mut f,
                ) {
                    let _ = writeln!(stdout, "{out}");
                }
                result = worst(result, outcome_of(&f));
            }
        }
        all.extend(on_line(doc.line, f));
    }
    let _ = stdout.flush();
    if !all.is_empty() {
        print_findings(&mut io::stderr().lock(), &all, format);
    }
    result
}

/// `lienthong validate`: detects edXML, provincial or DVCQG JSON and prints findings.
pub fn validate(file: Option<&Path>, format: Format, args: &MappingArgs) -> Outcome {
    let bytes = match load_input(file, format) {
        Ok(b) => b,
        Err(o) => return o,
    };
    let first = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace() && *b != 0xEF && *b != 0xBB && *b != 0xBF);
    let looks_json = first.is_some_and(|i| bytes[i] == b'{' || bytes[i] == b'[');
    if !looks_json {
        return crate::edxml_cmd::validate_bytes(bytes, file.unwrap_or(Path::new("-")), format);
    }
    let (_, docs) = split(&bytes);
    let rules = Rules::from_args(args);
    let mut all = Vec::new();
    let mut result = Outcome::Valid;
    for doc in docs {
        let mut f = Vec::new();
        match &doc.value {
            Err(e) => {
                f.push(e.clone());
                result = worst(result, Outcome::Unreadable);
            }
            Ok(v) => {
                let from = if is_item(v) {
                    DossierFormat::Dvcqg
                } else {
                    DossierFormat::Provincial
                };
                // Converting also runs every check of the target mapping (truncations,
                // fields the portal requires).
                let _ = convert_one(v, from, DossierFormat::Dvcqg, None, false, &rules, &mut f);
                result = worst(result, outcome_of(&f));
            }
        }
        all.extend(on_line(doc.line, f));
    }
    print_findings(&mut io::stdout().lock(), &all, format);
    result
}

/// `lienthong gen dossiers`.
pub fn gen_dossiers(count: usize, seed: u64) -> Outcome {
    let mut out = io::BufWriter::new(io::stdout().lock());
    for d in Generator::new(seed).dossiers(count) {
        if writeln!(out, "{}", dossier_json(&d)).is_err() {
            return Outcome::Unreadable;
        }
    }
    if out.flush().is_err() {
        return Outcome::Unreadable;
    }
    Outcome::Valid
}

/// `lienthong gen progress`.
pub fn gen_progress(count: usize, seed: u64) -> Outcome {
    let mut out = io::BufWriter::new(io::stdout().lock());
    for p in Generator::new(seed).progress(count) {
        if writeln!(out, "{}", progress_json(&p)).is_err() {
            return Outcome::Unreadable;
        }
    }
    if out.flush().is_err() {
        return Outcome::Unreadable;
    }
    Outcome::Valid
}

/// A provincial document read and validated: the model value and its body (one JSON line).
pub enum Provincial {
    /// A dossier version.
    Dossier(Box<lienthong_model::dossier::Dossier>, Vec<u8>),
    /// A progress step.
    Progress(lienthong_model::dossier::ProgressStep, Vec<u8>),
}

/// One document of an input: where it was and what it is, or the findings that refuse it.
pub struct ProvincialDoc {
    /// NDJSON line, when the input had several.
    pub line: Option<usize>,
    /// The document, or its findings (at least one error).
    pub item: Result<Provincial, Vec<Finding>>,
}

impl ProvincialDoc {
    /// `line N` or `document`, for messages.
    pub fn place(&self) -> String {
        self.line
            .map_or_else(|| "document".to_string(), |n| format!("line {n}"))
    }
}

/// Reads provincial dossiers and progress steps (one JSON document or NDJSON) with the same
/// checks as `lienthong validate` (default policy).
pub fn provincial_documents(bytes: &[u8]) -> Vec<ProvincialDoc> {
    let (_, docs) = split(bytes);
    let policy = Policy::default();
    docs.into_iter()
        .map(|doc| {
            let item = match doc.value {
                Err(e) => Err(vec![e]),
                Ok(v) => {
                    let mut f = Vec::new();
                    let item = match Kind::detect(&v) {
                        Kind::Dossier => read_dossier(&v, &mut f).map(|d| {
                            f.extend(validate_dossier_with(&d, &policy));
                            let body = dossier_json(&d).into_bytes();
                            Provincial::Dossier(Box::new(d), body)
                        }),
                        Kind::Progress => read_progress(&v, &mut f).map(|p| {
                            f.extend(validate_progress(&p));
                            let body = progress_json(&p).into_bytes();
                            Provincial::Progress(p, body)
                        }),
                    };
                    match item {
                        Some(item) if !f.iter().any(Finding::is_error) => Ok(item),
                        _ => Err(on_line(doc.line, f)),
                    }
                }
            };
            ProvincialDoc {
                line: doc.line,
                item,
            }
        })
        .collect()
}
