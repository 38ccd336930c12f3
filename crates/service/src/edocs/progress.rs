//! Axis status → dossier progress: for a document linked to a dossier, each status the
//! recipients report about it becomes a progress step of that dossier (and so reaches the
//! national portal through the `dossier.sync` route).
//!
//! The mapping from axis code to the step's status and text is configurable
//! (`[vdxp.progress."NN"]`); the defaults are in [`default_rule`] and `docs/edocs.md`. The
//! handler comes from the status message's `StaffInfo`, else the reporting organisation's
//! name. Steps made here get `step_seq` = [`AXIS_STEP_BASE`] + the microsecond at which
//! the journal recorded the status, so that they never collide with the one-stop-shop's
//! own steps (1, 2, …) and so that recording one again is a duplicate.

use crate::config::ProgressRule;
use jiff::Timestamp;
use lienthong_model::{DossierStatus, Handler, ProgressStep, StatusReport};
use std::collections::BTreeMap;

/// First `step_seq` of steps made from axis statuses.
pub const AXIS_STEP_BASE: u64 = 1_000_000_000_000_000_000;

/// One rule: the status after the step (`None`: unchanged) and the text template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The dossier status the step reports.
    pub status: Option<DossierStatus>,
    /// `{code}`, `{subject}`, `{organ}`, `{description}` are replaced.
    pub text: String,
}

/// The default rule of an axis status code (`None`: no step).
pub fn default_rule(code: &str) -> Option<Rule> {
    let text = match code {
        "01" => "Văn bản {code} đã đến {organ}",
        "02" => "{organ} từ chối tiếp nhận văn bản {code}: {description}",
        "03" => "{organ} đã tiếp nhận văn bản {code}",
        "04" => "{organ} đã phân công xử lý văn bản {code}",
        "05" => "{organ} đang xử lý văn bản {code}",
        "06" => "{organ} đã xử lý xong văn bản {code}",
        "15" => "{organ} đồng ý lấy lại/cập nhật văn bản {code}",
        "16" => "{organ} từ chối lấy lại/cập nhật văn bản {code}: {description}",
        _ => return None,
    };
    Some(Rule {
        status: Some(DossierStatus::Processing),
        text: text.to_owned(),
    })
}

/// The mapping in force: the configured rules over the defaults.
#[derive(Debug, Clone, Default)]
pub struct ProgressMap {
    rules: BTreeMap<String, Option<Rule>>,
}

impl ProgressMap {
    /// The configured rules (`enabled = false` removes a default).
    pub fn from_config(rules: &BTreeMap<String, ProgressRule>) -> ProgressMap {
        ProgressMap {
            rules: rules
                .iter()
                .map(|(code, r)| {
                    let code = lienthong_model::StatusCode::new(code)
                        .and_then(|c| c.normalized())
                        .unwrap_or_else(|| code.clone());
                    let rule = r.enabled.then(|| Rule {
                        status: DossierStatus::from_name(r.status.trim()),
                        text: r.text.clone(),
                    });
                    (code, rule)
                })
                .collect(),
        }
    }

    /// The rule of `code` (normalised two-digit code).
    pub fn rule(&self, code: &str) -> Option<Rule> {
        match self.rules.get(code) {
            Some(r) => r.clone(),
            None => default_rule(code),
        }
    }
}

/// What the document the status is about looks like to the step's text.
#[derive(Debug, Clone, Default)]
pub struct About<'a> {
    /// `number/notation` of the document.
    pub code: Option<&'a str>,
    /// Its subject.
    pub subject: Option<&'a str>,
}

/// The progress step of `status` (received at `recorded_at`) for `dossier`, or `None`
/// when the mapping makes no step of its code.
pub fn step_of(
    map: &ProgressMap,
    dossier: &str,
    status: &StatusReport,
    about: &About<'_>,
    recorded_at: Timestamp,
) -> Option<ProgressStep> {
    let code = status.status_code.as_ref()?.normalized()?;
    let rule = map.rule(&code)?;
    let organ = status
        .from
        .as_ref()
        .and_then(|o| {
            o.organ_name
                .clone()
                .or(o.organ_id.as_ref().map(|c| c.as_str().to_owned()))
        })
        .unwrap_or_else(|| "cơ quan nhận".to_owned());
    let description = status.description.clone().unwrap_or_default();
    let text = rule
        .text
        .replace("{code}", about.code.unwrap_or("?"))
        .replace("{subject}", about.subject.unwrap_or(""))
        .replace("{organ}", &organ)
        .replace("{description}", description.trim());
    let text = text.trim().trim_end_matches(':').trim().to_owned();
    let handler = match &status.staff {
        Some(s) if s.staff.as_deref().is_some_and(|n| !n.trim().is_empty()) => Handler {
            name: s.staff.clone().unwrap_or_default(),
            title: None,
            department: s.department.clone().or_else(|| Some(organ.clone())),
        },
        _ => Handler {
            name: organ.clone(),
            title: None,
            department: None,
        },
    };
    let at = status
        .timestamp
        .as_ref()
        .and_then(|t| t.parse())
        .and_then(|dt| jiff::tz::offset(7).to_timestamp(dt).ok())
        .unwrap_or(recorded_at);
    let micros = u64::try_from(recorded_at.as_microsecond()).unwrap_or(0);
    Some(ProgressStep {
        dossier_code: dossier.to_owned(),
        step_seq: AXIS_STEP_BASE + micros,
        handler,
        at: Some(at),
        action: text,
        status: rule.status,
        started_at: Some(at),
        deadline_at: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lienthong_model::{StaffInfo, StatusCode};

    fn status(code: &str) -> StatusReport {
        StatusReport {
            from: Some(lienthong_model::Organisation {
                organ_name: Some("Sở Tài chính".into()),
                ..Default::default()
            }),
            status_code: StatusCode::new(code),
            description: Some("Sai thẩm quyền".into()),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_and_overrides() {
        let mut cfg = BTreeMap::new();
        cfg.insert(
            "6".to_owned(),
            ProgressRule {
                status: "finished".into(),
                text: "{organ} xong {code}".into(),
                enabled: true,
            },
        );
        cfg.insert(
            "01".to_owned(),
            ProgressRule {
                status: String::new(),
                text: String::new(),
                enabled: false,
            },
        );
        let map = ProgressMap::from_config(&cfg);
        let about = About {
            code: Some("125/UBND-KSTT"),
            subject: None,
        };
        let now = Timestamp::from_second(1_800_000_000).expect("test value");
        assert!(step_of(&map, "D1", &status("01"), &about, now).is_none());
        let s = step_of(&map, "D1", &status("06"), &about, now).expect("test value");
        assert_eq!(s.action, "Sở Tài chính xong 125/UBND-KSTT");
        assert_eq!(s.status, Some(DossierStatus::Finished));
        let r = step_of(&map, "D1", &status("02"), &about, now).expect("test value");
        assert_eq!(
            r.action,
            "Sở Tài chính từ chối tiếp nhận văn bản 125/UBND-KSTT: Sai thẩm quyền"
        );
        assert_eq!(r.status, Some(DossierStatus::Processing));
        assert_eq!(r.handler.name, "Sở Tài chính");
        assert!(r.step_seq > AXIS_STEP_BASE);
        assert!(step_of(&map, "D1", &status("13"), &about, now).is_none());
    }

    #[test]
    fn handler_from_staff_info() {
        let mut s = status("03");
        s.staff = Some(StaffInfo {
            department: Some("Văn thư".into()),
            staff: Some("Lê Văn C".into()),
            ..Default::default()
        });
        let now = Timestamp::from_second(1_800_000_000).expect("test value");
        let step =
            step_of(&ProgressMap::default(), "D1", &s, &About::default(), now).expect("test value");
        assert_eq!(step.handler.name, "Lê Văn C");
        assert_eq!(step.handler.department.as_deref(), Some("Văn thư"));
        // Recording the same status again gives the same step.
        let again =
            step_of(&ProgressMap::default(), "D1", &s, &About::default(), now).expect("test value");
        assert_eq!(step.step_seq, again.step_seq);
    }
}
