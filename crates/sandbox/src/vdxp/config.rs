//! Configuration of the VDXP axis simulator (`vdxp.md` §9.1, `docs/simulators.md`): the
//! registry (connected systems with their secrets and hosted organisations, agencies of
//! the catalogue calls), the simulator's own `OrganId`, the switches of the *sim rules*,
//! the base path, the body limit and the initial faults.
//!
//! Every member has a default, so `{}` is a complete configuration. [`VdxpConfig::default`]
//! registers two systems — `lienthong` (the gateway, hosting `000.00.00.H41` and
//! `000.00.12.H41`) and `peer` (hosting `000.00.00.G22`, `000.00.00.H14`,
//! `000.00.00.G17`) — so the official sample messages (G22 → H41, H14, G17, and the
//! statuses between H41 and G22) route.

use crate::fault::{FaultError, FaultSettings};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A configuration the simulator cannot run with.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ConfigError {
    /// Not valid JSON for [`VdxpConfig`].
    #[error("invalid VDXP simulator configuration: {0}")]
    Parse(String),
    /// A system without `systemid` or secret.
    #[error("system {0} has an empty systemid or secret")]
    EmptySystem(usize),
    /// Two systems with the same `systemid`.
    #[error("two systems are named {0:?}")]
    DuplicateSystem(String),
    /// An organisation hosted twice (an organisation belongs to exactly one system).
    #[error("organisation {0:?} is hosted more than once")]
    DuplicateOrgan(String),
    /// An empty organisation code.
    #[error("system {0:?} hosts an empty organisation code")]
    EmptyOrgan(String),
    /// An agency without a code, or two agencies with the same code.
    #[error("agency {0}: empty or duplicate code")]
    Agency(usize),
    /// The simulator's own `OrganId` is empty.
    #[error("organ_id must not be empty")]
    EmptyOrganId,
    /// A base path that is neither empty nor `/` followed by characters, ends with `/`,
    /// holds `{`, `}` or `*`, or lies under `/admin`.
    #[error(
        "base_path must be empty or start with '/', not end with '/', hold no '{{', '}}' or '*', nor lie under /admin: {0:?}"
    )]
    BasePath(String),
    /// The initial faults are invalid.
    #[error("faults: {0}")]
    Faults(#[from] FaultError),
}

/// A connected system (trung tâm liên thông): its `systemid`, HMAC secret and the
/// organisations it hosts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemEntry {
    /// `XroadVnpt-systemid`.
    pub systemid: String,
    /// The shared key of the HMAC (§5.1 step 6).
    pub secret: String,
    /// Organisation codes (`OrganId`) hosted by the system; the `systemid` itself counts
    /// as one too (§9.3 step 3).
    #[serde(default)]
    pub organ_ids: Vec<String>,
}

impl SystemEntry {
    /// Whether the system hosts `organ` (its own `systemid` included).
    pub fn hosts(&self, organ: &str) -> bool {
        let o = organ.trim();
        o == self.systemid || self.organ_ids.iter().any(|x| x == o)
    }
}

/// An agency of `getAgenciesList`, `getAgenciesListQD20` and `getSynchronizeUnit`. Only
/// `code` and `name` are required. The meaning of `pid`, `level` and of the QĐ 20 code is
/// undocumented (§3); the simulator serves what is configured (ASSUMPTION).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgencyEntry {
    /// `id` (served as a string; the SDK reads it with `getAsString`). Empty: a number
    /// is assigned in list order.
    #[serde(default)]
    pub id: String,
    /// `code`: the organisation code.
    pub code: String,
    /// `name`.
    pub name: String,
    /// `mail`.
    #[serde(default)]
    pub mail: String,
    /// `pid` (parent; `pcode` of `registerAgency`).
    #[serde(default)]
    pub pid: String,
    /// `oldCode` of `getAgenciesList` (2.0.1).
    #[serde(default)]
    pub old_code: String,
    /// `code102` of `getAgenciesListQD20`; empty: the code.
    #[serde(default)]
    pub code102: String,
    /// Level matched by the `level` parameter of `getAgenciesListQD20`; `None`: listed
    /// only when no level is asked.
    #[serde(default)]
    pub level: Option<u32>,
    /// `mobile` of `registerAgency` (stored, not served by any list).
    #[serde(default)]
    pub mobile: String,
    /// `fax` of `registerAgency` (stored, not served by any list).
    #[serde(default)]
    pub fax: String,
    /// `isAgency` of `getSynchronizeUnit` (default true).
    #[serde(default = "yes")]
    pub is_agency: bool,
}

fn yes() -> bool {
    true
}

/// The VDXP simulator's configuration. JSON members are the field names; all optional.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VdxpConfig {
    /// Connected systems.
    pub systems: Vec<SystemEntry>,
    /// The agency catalogue.
    pub agencies: Vec<AgencyEntry>,
    /// The `OrganId` of the simulator's own `TraceHeader` entries (default `vxp.sandbox`,
    /// ASSUMPTION: the real axis's code is unknown).
    pub organ_id: String,
    /// Refuse (`401`) a signed `timestamp` further than this from the server's clock;
    /// `None` (default): freshness is not checked (§9.2 step 5).
    pub max_timestamp_skew_secs: Option<u64>,
    /// `From/OrganId` (and `from`) must be hosted by the calling system, else `403`
    /// (default true, §9.3 step 3).
    pub check_sender_hosted: bool,
    /// Insert the simulator's `TraceHeader` into delivered documents (default true, §9.3
    /// step 6).
    pub add_trace_header: bool,
    /// Prefix of the operation paths: `""` (default) serves `/sendEdoc`, `/vxp` serves
    /// `/vxp/sendEdoc`.
    pub base_path: String,
    /// Largest request body accepted, in bytes (default 64 MiB); larger → HTTP 413.
    pub max_body_bytes: usize,
    /// Faults in force from the start.
    pub faults: FaultSettings,
}

impl Default for VdxpConfig {
    fn default() -> Self {
        VdxpConfig {
            systems: vec![
                SystemEntry {
                    systemid: "lienthong".into(),
                    secret: "lienthong-vdxp-secret".into(),
                    organ_ids: vec!["000.00.00.H41".into(), "000.00.12.H41".into()],
                },
                SystemEntry {
                    systemid: "peer".into(),
                    secret: "peer-secret".into(),
                    organ_ids: vec![
                        "000.00.00.G22".into(),
                        "000.00.00.H14".into(),
                        "000.00.00.G17".into(),
                    ],
                },
            ],
            agencies: default_agencies(),
            organ_id: "vxp.sandbox".into(),
            max_timestamp_skew_secs: None,
            check_sender_hosted: true,
            add_trace_header: true,
            base_path: String::new(),
            max_body_bytes: 64 * 1024 * 1024,
            faults: FaultSettings::default(),
        }
    }
}

/// The organisations of the default systems (names as in the official samples).
fn default_agencies() -> Vec<AgencyEntry> {
    [
        (
            "1",
            "000.00.00.G22",
            "Văn phòng Chính phủ",
            "vpcp@gov.vn",
            "",
            1,
        ),
        (
            "2",
            "000.00.00.H41",
            "UBND Tỉnh Nghệ An",
            "nghean@gov.vn",
            "",
            1,
        ),
        ("3", "000.00.12.H41", "Sở Tư pháp tỉnh Nghệ An", "", "2", 2),
        (
            "4",
            "000.00.00.H14",
            "UBND Tỉnh Cao Bằng",
            "caobang@gov.vn",
            "",
            1,
        ),
        (
            "5",
            "000.00.00.G17",
            "Sở Thông tin truyền thông Hải Phòng",
            "",
            "",
            1,
        ),
    ]
    .into_iter()
    .map(|(id, code, name, mail, pid, level)| AgencyEntry {
        id: id.into(),
        code: code.into(),
        name: name.into(),
        mail: mail.into(),
        pid: pid.into(),
        old_code: String::new(),
        code102: String::new(),
        level: Some(level),
        mobile: String::new(),
        fax: String::new(),
        is_agency: true,
    })
    .collect()
}

impl VdxpConfig {
    /// Reads a configuration from JSON (absent members take their defaults) and
    /// validates it.
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        let c: VdxpConfig =
            serde_json::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        c.validate()?;
        Ok(c)
    }

    /// Checks the registry, the base path and the initial faults.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut organs = std::collections::BTreeSet::new();
        for (i, s) in self.systems.iter().enumerate() {
            if s.systemid.trim().is_empty() || s.secret.is_empty() {
                return Err(ConfigError::EmptySystem(i));
            }
            if self.systems[..i].iter().any(|t| t.systemid == s.systemid) {
                return Err(ConfigError::DuplicateSystem(s.systemid.clone()));
            }
            for o in &s.organ_ids {
                if o.trim().is_empty() {
                    return Err(ConfigError::EmptyOrgan(s.systemid.clone()));
                }
                if !organs.insert(o.trim().to_owned()) {
                    return Err(ConfigError::DuplicateOrgan(o.clone()));
                }
            }
        }
        for (i, a) in self.agencies.iter().enumerate() {
            if a.code.trim().is_empty() || self.agencies[..i].iter().any(|b| b.code == a.code) {
                return Err(ConfigError::Agency(i));
            }
        }
        if self.organ_id.trim().is_empty() {
            return Err(ConfigError::EmptyOrganId);
        }
        let b = &self.base_path;
        if !b.is_empty()
            && (!b.starts_with('/')
                || b.len() < 2
                || b.ends_with('/')
                || b.contains(['{', '}', '*'])
                || b == "/admin"
                || b.starts_with("/admin/"))
        {
            return Err(ConfigError::BasePath(b.clone()));
        }
        self.faults.validate()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_json_is_the_default() {
        assert_eq!(
            VdxpConfig::from_json("{}").expect("valid"),
            VdxpConfig::default()
        );
        VdxpConfig::default().validate().expect("valid default");
    }

    #[test]
    fn partial_json() {
        let c = VdxpConfig::from_json(
            r#"{"systems": [{"systemid": "a", "secret": "s", "organ_ids": ["X"]}],
                "agencies": [{"code": "X", "name": "Y"}], "max_timestamp_skew_secs": 300,
                "base_path": "/vxp"}"#,
        )
        .expect("valid");
        assert_eq!(c.systems.len(), 1);
        assert!(c.systems[0].hosts("X") && c.systems[0].hosts("a"));
        assert!(c.agencies[0].is_agency);
        assert_eq!(c.max_timestamp_skew_secs, Some(300));
        assert!(c.check_sender_hosted && c.add_trace_header);
    }

    #[test]
    fn invalid_configurations() {
        let bad = |s: &str| VdxpConfig::from_json(s).expect_err("invalid");
        assert!(matches!(bad(r#"{"unknown": 1}"#), ConfigError::Parse(_)));
        assert_eq!(
            bad(r#"{"systems": [{"systemid": "", "secret": "s"}]}"#),
            ConfigError::EmptySystem(0)
        );
        assert_eq!(
            bad(
                r#"{"systems": [{"systemid": "a", "secret": "s"}, {"systemid": "a", "secret": "t"}]}"#
            ),
            ConfigError::DuplicateSystem("a".into())
        );
        assert_eq!(
            bad(
                r#"{"systems": [{"systemid": "a", "secret": "s", "organ_ids": ["X"]}, {"systemid": "b", "secret": "t", "organ_ids": ["X"]}]}"#
            ),
            ConfigError::DuplicateOrgan("X".into())
        );
        assert_eq!(
            bad(r#"{"agencies": [{"code": "X", "name": "a"}, {"code": "X", "name": "b"}]}"#),
            ConfigError::Agency(1)
        );
        assert_eq!(bad(r#"{"organ_id": " "}"#), ConfigError::EmptyOrganId);
        for p in ["vxp", "/", "/vxp/", "/admin", "/admin/x", "/{x}"] {
            assert!(matches!(
                bad(&format!(r#"{{"base_path": "{p}"}}"#)),
                ConfigError::BasePath(_)
            ));
        }
        assert!(matches!(
            bad(r#"{"faults": {"error_rate": 2}}"#),
            ConfigError::Faults(_)
        ));
    }
}
