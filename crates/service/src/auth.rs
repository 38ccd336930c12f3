//! Who may do what: client tokens scoped to units, operator tokens with roles.
//!
//! Tokens are random (32 bytes from the operating system, written `lt_` + 64 hex digits) and
//! only their SHA-256 is stored in the configuration, so a leaked configuration file does not
//! leak a credential. A presented token is hashed and looked up; hashes are compared in
//! constant time. `lienthong token new` prints a fresh token and its hash.

use crate::config::Config;
use sha2::{Digest, Sha256};
use std::fmt;

/// An operator's role; each includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Sees queues, parked messages, searches (personal data masked), statistics.
    Viewer,
    /// Also replays and discards parked messages, resyncs dossiers.
    Operator,
    /// Also switches maintenance mode and sees personal data in clear.
    Admin,
}

impl Role {
    /// `viewer`, `operator`, `admin`.
    pub fn name(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    /// From the configured name.
    pub fn from_name(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "operator" => Some(Role::Operator),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    /// Whether this role may act as `needed`.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }
}

/// The SHA-256 of a token, as stored in the configuration.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// The hash of a presented token.
    pub fn of(token: &str) -> TokenHash {
        TokenHash(Sha256::digest(token.as_bytes()).into())
    }

    /// Reads 64 hex digits (either case).
    pub fn parse(hex: &str) -> Option<TokenHash> {
        let hex = hex.trim();
        if hex.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, pair) in hex.as_bytes().chunks(2).enumerate() {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            out[i] = (hi * 16 + lo) as u8;
        }
        Some(TokenHash(out))
    }

    /// Compares in time independent of where the hashes differ.
    pub fn matches(&self, other: &TokenHash) -> bool {
        self.0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

impl fmt::Display for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for TokenHash {
    /// Only a prefix: enough to tell hashes apart in a test failure.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({:02x}{:02x}…)", self.0[0], self.0[1])
    }
}

/// A fresh token and its hash.
#[derive(Debug)]
pub struct NewToken {
    /// Give this to the client or operator, once.
    pub token: String,
    /// Put this in the configuration.
    pub hash: TokenHash,
}

/// Why a token could not be made.
#[derive(Debug, thiserror::Error)]
#[error("the operating system's random source failed: {0}")]
pub struct RandomError(String);

/// Makes a token from 32 random bytes of the operating system.
pub fn new_token() -> Result<NewToken, RandomError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| RandomError(e.to_string()))?;
    let token = format!(
        "lt_{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    let hash = TokenHash::of(&token);
    Ok(NewToken { token, hash })
}

/// Who presented a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A local system.
    Client {
        /// Its configured name.
        name: String,
        /// The units it may submit for; `None` means every configured unit.
        units: Option<Vec<String>>,
    },
    /// An operator.
    Operator {
        /// Their configured name.
        name: String,
        /// Their role.
        role: Role,
    },
}

impl Principal {
    /// Whether this principal may submit for `unit` (operators submit nothing).
    pub fn may_submit_for(&self, unit: &str) -> bool {
        match self {
            Principal::Client { units: None, .. } => true,
            Principal::Client {
                units: Some(units), ..
            } => units.iter().any(|u| u == unit),
            Principal::Operator { .. } => false,
        }
    }

    /// Whether this principal may act as an operator with `needed`.
    pub fn may_operate(&self, needed: Role) -> bool {
        matches!(self, Principal::Operator { role, .. } if role.allows(needed))
    }

    /// The configured name.
    pub fn name(&self) -> &str {
        match self {
            Principal::Client { name, .. } | Principal::Operator { name, .. } => name,
        }
    }
}

/// The tokens of a configuration, ready to check presented ones.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    entries: Vec<(TokenHash, Principal)>,
}

impl Tokens {
    /// From a checked configuration (entries with an unreadable hash or role are skipped:
    /// [`Config::check`] reports them).
    pub fn from_config(c: &Config) -> Tokens {
        let mut entries = Vec::new();
        for cl in &c.clients {
            if let Some(h) = TokenHash::parse(&cl.token_sha256) {
                let units = if cl.units.iter().any(|u| u == "*") {
                    None
                } else {
                    Some(cl.units.clone())
                };
                entries.push((
                    h,
                    Principal::Client {
                        name: cl.name.clone(),
                        units,
                    },
                ));
            }
        }
        for op in &c.operators {
            if let (Some(h), Some(role)) = (
                TokenHash::parse(&op.token_sha256),
                Role::from_name(&op.role),
            ) {
                entries.push((
                    h,
                    Principal::Operator {
                        name: op.name.clone(),
                        role,
                    },
                ));
            }
        }
        Tokens { entries }
    }

    /// Who presented `token`, if anyone. Every entry is compared, so the time taken does not
    /// tell which one matched.
    pub fn identify(&self, token: &str) -> Option<&Principal> {
        let h = TokenHash::of(token);
        let mut found = None;
        for (e, p) in &self.entries {
            if e.matches(&h) && found.is_none() {
                found = Some(p);
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_round_trips_and_tokens_are_distinct() {
        let a = new_token().expect("token");
        let b = new_token().expect("token");
        assert_ne!(a.token, b.token);
        assert!(a.token.starts_with("lt_") && a.token.len() == 67);
        assert_eq!(TokenHash::parse(&a.hash.to_string()), Some(a.hash));
        assert_eq!(
            TokenHash::parse(&a.hash.to_string().to_uppercase()),
            Some(a.hash)
        );
        assert_eq!(TokenHash::of(&a.token), a.hash);
        assert!(TokenHash::parse("abc").is_none());
        assert!(TokenHash::parse(&"g".repeat(64)).is_none());
        // Known answer: SHA-256 of "abc".
        assert_eq!(
            TokenHash::of("abc").to_string(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn roles_include_lower_ones() {
        assert!(Role::Admin.allows(Role::Operator));
        assert!(Role::Operator.allows(Role::Viewer));
        assert!(!Role::Viewer.allows(Role::Operator));
        for r in [Role::Viewer, Role::Operator, Role::Admin] {
            assert_eq!(Role::from_name(r.name()), Some(r));
        }
    }

    #[test]
    fn principals_are_scoped() {
        let c = Principal::Client {
            name: "mc".into(),
            units: Some(vec!["000.00.15.H41".into()]),
        };
        assert!(c.may_submit_for("000.00.15.H41"));
        assert!(!c.may_submit_for("000.00.16.H41"));
        assert!(!c.may_operate(Role::Viewer));
        let all = Principal::Client {
            name: "all".into(),
            units: None,
        };
        assert!(all.may_submit_for("anything"));
        let v = Principal::Operator {
            name: "v".into(),
            role: Role::Viewer,
        };
        assert!(v.may_operate(Role::Viewer));
        assert!(!v.may_operate(Role::Operator));
        assert!(!v.may_submit_for("000.00.15.H41"));
    }
}
