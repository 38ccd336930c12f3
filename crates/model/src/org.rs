//! Organisations and their codes (mã định danh), per QCVN 102:2016 and `codes.md` §1.

use serde::Serialize;
use std::fmt;

/// An organisation code as received: trimmed, never empty, never the text `null`.
///
/// Any non-empty token is accepted; [`OrganId::class`] tells which of the observed forms
/// it has. Codes are compared exactly (case-sensitive).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct OrganId(String);

/// The forms of organisation code seen on the wire (`codes.md` §1.3), tested in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrganIdClass {
    /// `NNN.NN.NN.XNN`, e.g. `000.00.00.G22`.
    Strict,
    /// Short or legacy, level-1 group last, e.g. `28.22.H17`, `001.00.20.TT2`.
    ShortLegacy,
    /// Level-1 group first, e.g. `H56.14`.
    LevelOneFirst,
    /// A system id used as an organisation, e.g. `vxp.saas.02`.
    SystemId,
    /// Any other non-empty token, e.g. a tax number.
    Other,
}

impl OrganId {
    /// Reads a code leniently: trims it; empty or `null` (any case) means absent.
    pub fn parse_lenient(raw: &str) -> Option<OrganId> {
        if crate::is_null_token(raw) {
            None
        } else {
            Some(OrganId(crate::trim_xml(raw).to_owned()))
        }
    }

    /// The code as written (trimmed).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Which observed form the code has.
    pub fn class(&self) -> OrganIdClass {
        classify(&self.0)
    }

    /// Whether the code has the strict 4-part form.
    pub fn is_strict(&self) -> bool {
        self.class() == OrganIdClass::Strict
    }

    /// Whether the code may be one of the gateway's own codes
    /// (`^[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[AGH][0-9]{2}$`).
    pub fn is_valid_own_code(&self) -> bool {
        self.is_strict() && matches!(self.0.as_bytes()[10], b'A' | b'G' | b'H')
    }

    /// The level-1 unit (last group) of a strict code, e.g. `H41`.
    pub fn level1(&self) -> Option<&str> {
        self.is_strict().then(|| &self.0[10..])
    }
}

impl fmt::Display for OrganId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn all_digits(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

fn classify(s: &str) -> OrganIdClass {
    let groups: Vec<&str> = s.split('.').collect();
    let n = groups.len();
    // strict: NNN.NN.NN.XNN
    if n == 4
        && all_digits(groups[0], 3, 3)
        && all_digits(groups[1], 2, 2)
        && all_digits(groups[2], 2, 2)
        && groups[3].len() == 3
        && groups[3].as_bytes()[0].is_ascii_uppercase()
        && all_digits(&groups[3][1..], 2, 2)
    {
        return OrganIdClass::Strict;
    }
    // short / legacy: (\d{1,3}\.){1,3}[A-Z]{1,2}\d{1,2}
    if (2..=4).contains(&n) && groups[..n - 1].iter().all(|g| all_digits(g, 1, 3)) {
        let last = groups[n - 1].as_bytes();
        let letters = last.iter().take_while(|b| b.is_ascii_uppercase()).count();
        let digits = &last[letters..];
        if (1..=2).contains(&letters)
            && (1..=2).contains(&digits.len())
            && digits.iter().all(u8::is_ascii_digit)
        {
            return OrganIdClass::ShortLegacy;
        }
    }
    // level-1 first: [A-Z]\d{2}(\.\d{2}){1,3}
    if (2..=4).contains(&n) {
        let first = groups[0].as_bytes();
        if first.len() == 3
            && first[0].is_ascii_uppercase()
            && first[1..].iter().all(u8::is_ascii_digit)
            && groups[1..].iter().all(|g| all_digits(g, 2, 2))
        {
            return OrganIdClass::LevelOneFirst;
        }
    }
    // system id: [a-z]+(\.[a-z0-9]+)+
    if n >= 2
        && !groups[0].is_empty()
        && groups[0].bytes().all(|b| b.is_ascii_lowercase())
        && groups[1..].iter().all(|g| {
            !g.is_empty()
                && g.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
    {
        return OrganIdClass::SystemId;
    }
    OrganIdClass::Other
}

/// An organisation block (`From`, `To`, status `From`): the code and what the sender says
/// about the organisation. Every field is optional on reading.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Organisation {
    /// Organisation code.
    pub organ_id: Option<OrganId>,
    /// Managing body (usually a name).
    pub organization_in_charge: Option<String>,
    /// Name of the organisation.
    pub organ_name: Option<String>,
    /// Postal address.
    pub organ_add: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Telephone number.
    pub telephone: Option<String>,
    /// Fax number.
    pub fax: Option<String>,
    /// Web site.
    pub website: Option<String>,
}

impl Organisation {
    /// Whether nothing at all is known.
    pub fn is_empty(&self) -> bool {
        *self == Organisation::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(s: &str) -> OrganIdClass {
        OrganId::parse_lenient(s)
            .map(|o| o.class())
            .unwrap_or(OrganIdClass::Other)
    }

    #[test]
    fn classes_of_observed_codes() {
        use OrganIdClass::*;
        for (code, want) in [
            ("000.00.00.G22", Strict),
            ("002.00.20.H13", Strict),
            ("01.02.G22", ShortLegacy),
            ("001.00.20.TT2", ShortLegacy),
            ("28.22.H17", ShortLegacy),
            ("14.00.W00", ShortLegacy),
            ("999.010.01.H22", ShortLegacy),
            ("99.99.99.G21", ShortLegacy),
            ("001.00.20.JB2", ShortLegacy),
            ("H56.14", LevelOneFirst),
            ("H37.02.02", LevelOneFirst),
            ("vxp.saas.02", SystemId),
            ("0100100079", Other),
            ("000.21.36.I03", Strict),
        ] {
            assert_eq!(class(code), want, "{code}");
        }
    }

    #[test]
    fn null_and_blank_are_absent() {
        assert_eq!(OrganId::parse_lenient("  NULL "), None);
        assert_eq!(OrganId::parse_lenient(" \t"), None);
        assert_eq!(
            OrganId::parse_lenient(" 000.00.00.H41\r\n").map(|o| o.to_string()),
            Some("000.00.00.H41".to_owned())
        );
    }

    #[test]
    fn own_codes_and_level1() {
        let h = OrganId::parse_lenient("000.00.00.H41").expect("code");
        assert!(h.is_valid_own_code());
        assert_eq!(h.level1(), Some("H41"));
        let i = OrganId::parse_lenient("000.21.36.I03").expect("code");
        assert!(!i.is_valid_own_code());
        assert_eq!(
            OrganId::parse_lenient("28.22.H17").expect("code").level1(),
            None
        );
    }
}
