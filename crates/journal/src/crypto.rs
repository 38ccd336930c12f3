//! Personal data at rest: AES-256-GCM encryption of the personal fields of stored bodies,
//! and masking for readers who may not see them.
//!
//! The journal does not know any message format. The caller (configuration) names the
//! JSON members that hold personal data — identity numbers, phones, addresses — by member
//! name, matched at any depth ([`PersonalData::fields`]). In a JSON body each such member's
//! value (whatever its type; an object or array is encrypted whole) is replaced by the
//! string `enc:v1:` + base64(nonce ‖ ciphertext ‖ tag) of its JSON text, with the member
//! name as associated data, so a value cannot be moved to another member unnoticed. The
//! rest of the body stays readable. A body that is not JSON (an edXML envelope, …) is
//! encrypted whole (magic prefix `LTENC1`) when [`PersonalData::encrypt_opaque`] is set.
//!
//! Masking never decrypts: an encrypted member reads `***`, an encrypted opaque body reads
//! as a placeholder.

use crate::error::{JournalError, Result};
use aes_gcm::aead::{Aead, Generate, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value;
use std::collections::HashSet;
use std::fmt;

const FIELD_PREFIX: &str = "enc:v1:";
const OPAQUE_MAGIC: &[u8] = b"LTENC1";
const OPAQUE_AAD: &[u8] = b"lienthong-journal-body";
/// What a reader without the right to see personal data gets instead of a value.
pub const MASK: &str = "***";

/// A 256-bit key. Its `Debug` never shows the bytes.
#[derive(Clone)]
pub struct Key([u8; 32]);

impl Key {
    /// From 32 raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Key {
        Key(bytes)
    }

    /// From text: 64 hexadecimal digits or standard base64 of 32 bytes.
    pub fn parse(text: &str) -> Result<Key> {
        let t = text.trim();
        let bytes = if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| u8::from_str_radix(&t[2 * i..2 * i + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
                .map_err(|_| JournalError::Config("encryption key: bad hex".into()))?
        } else {
            B64.decode(t).map_err(|_| {
                JournalError::Config(
                    "encryption key: expected 64 hex digits or base64 of 32 bytes".into(),
                )
            })?
        };
        let arr: [u8; 32] = bytes.try_into().map_err(|v: Vec<u8>| {
            JournalError::Config(format!(
                "encryption key: expected 32 bytes, found {}",
                v.len()
            ))
        })?;
        Ok(Key(arr))
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

/// Which members of stored bodies hold personal data, and the key that protects them.
#[derive(Debug, Clone, Default)]
pub struct PersonalData {
    /// JSON member names holding personal data, matched at any depth.
    pub fields: Vec<String>,
    /// The key; without one, storing a body that holds personal data is refused.
    pub key: Option<Key>,
    /// Whether bodies that are not JSON are encrypted whole (needs a key).
    pub encrypt_opaque: bool,
}

/// Whether a reader may see personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reveal {
    /// Personal values are replaced by [`MASK`] (the default).
    #[default]
    Masked,
    /// Personal values are decrypted (needs the key).
    Clear,
}

/// The prepared policy.
#[derive(Clone)]
pub(crate) struct Protector {
    fields: HashSet<String>,
    cipher: Option<Aes256Gcm>,
    encrypt_opaque: bool,
}

impl fmt::Debug for Protector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Protector")
            .field("fields", &self.fields)
            .field("key", &self.cipher.as_ref().map(|_| "<redacted>"))
            .field("encrypt_opaque", &self.encrypt_opaque)
            .finish()
    }
}

impl Protector {
    pub(crate) fn new(p: &PersonalData) -> Protector {
        Protector {
            fields: p.fields.iter().cloned().collect(),
            cipher: p.key.as_ref().map(|k| Aes256Gcm::new(&k.0.into())),
            encrypt_opaque: p.encrypt_opaque,
        }
    }

    fn cipher(&self) -> Result<&Aes256Gcm> {
        self.cipher.as_ref().ok_or_else(|| {
            JournalError::Config(
                "a body holds personal data but no encryption key is configured".into(),
            )
        })
    }

    fn seal(&self, plain: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
        let cipher = self.cipher()?;
        let nonce = Nonce::try_generate()
            .map_err(|e| JournalError::Crypto(format!("no randomness for a nonce: {e}")))?;
        let ct = cipher
            .encrypt(&nonce, Payload { msg: plain, aad })
            .map_err(|_| JournalError::Crypto("encryption failed".into()))?;
        let mut out = Vec::with_capacity(nonce.len() + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
        let cipher = self.cipher.as_ref().ok_or_else(|| {
            JournalError::Config("personal data requested in clear but no key is configured".into())
        })?;
        if sealed.len() < 12 + 16 {
            return Err(JournalError::Crypto("encrypted value too short".into()));
        }
        let (nonce, ct) = sealed.split_at(12);
        let nonce =
            Nonce::try_from(nonce).map_err(|_| JournalError::Crypto("bad nonce length".into()))?;
        cipher
            .decrypt(&nonce, Payload { msg: ct, aad })
            .map_err(|_| {
                JournalError::Crypto("decryption failed (wrong key or tampered value)".into())
            })
    }

    /// The body as it is stored: personal members (JSON) or the whole body (other
    /// formats, when configured) encrypted.
    pub(crate) fn protect(&self, body: &[u8]) -> Result<Vec<u8>> {
        if self.fields.is_empty() && !self.encrypt_opaque {
            return Ok(body.to_vec());
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(mut v) if v.is_object() || v.is_array() => {
                if self.fields.is_empty() {
                    return Ok(body.to_vec());
                }
                let mut changed = false;
                self.walk_protect(&mut v, &mut changed)?;
                if !changed {
                    return Ok(body.to_vec());
                }
                serde_json::to_vec(&v)
                    .map_err(|e| JournalError::Crypto(format!("re-serialising a body: {e}")))
            }
            _ if self.encrypt_opaque && self.cipher.is_some() => {
                let mut out = OPAQUE_MAGIC.to_vec();
                out.extend(self.seal(body, OPAQUE_AAD)?);
                Ok(out)
            }
            _ => Ok(body.to_vec()),
        }
    }

    fn walk_protect(&self, v: &mut Value, changed: &mut bool) -> Result<()> {
        match v {
            Value::Object(map) => {
                for (name, value) in map.iter_mut() {
                    if self.fields.contains(name) {
                        if value.is_null() || is_sealed(value) {
                            continue;
                        }
                        let text = serde_json::to_vec(value).map_err(|e| {
                            JournalError::Crypto(format!("serialising a value: {e}"))
                        })?;
                        let sealed = self.seal(&text, name.as_bytes())?;
                        *value = Value::String(format!("{FIELD_PREFIX}{}", B64.encode(sealed)));
                        *changed = true;
                    } else {
                        self.walk_protect(value, changed)?;
                    }
                }
            }
            Value::Array(items) => {
                for item in items {
                    self.walk_protect(item, changed)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The stored body as a reader sees it.
    pub(crate) fn reveal(&self, stored: &[u8], reveal: Reveal) -> Result<Vec<u8>> {
        if let Some(sealed) = stored.strip_prefix(OPAQUE_MAGIC) {
            return match reveal {
                Reveal::Clear => self.open(sealed, OPAQUE_AAD),
                Reveal::Masked => Ok(format!(
                    "[encrypted body, {} bytes]",
                    sealed.len().saturating_sub(28)
                )
                .into_bytes()),
            };
        }
        if self.fields.is_empty() || !contains(stored, FIELD_PREFIX.as_bytes()) {
            return Ok(stored.to_vec());
        }
        let Ok(mut v) = serde_json::from_slice::<Value>(stored) else {
            return Ok(stored.to_vec());
        };
        self.walk_reveal(&mut v, reveal)?;
        serde_json::to_vec(&v).map_err(|e| JournalError::Corrupt(format!("stored body: {e}")))
    }

    fn walk_reveal(&self, v: &mut Value, reveal: Reveal) -> Result<()> {
        match v {
            Value::Object(map) => {
                for (name, value) in map.iter_mut() {
                    let sealed = match value {
                        Value::String(s) if self.fields.contains(name) => {
                            s.strip_prefix(FIELD_PREFIX).map(str::to_owned)
                        }
                        _ => None,
                    };
                    match (sealed, reveal) {
                        (Some(_), Reveal::Masked) => *value = Value::String(MASK.into()),
                        (Some(b64), Reveal::Clear) => {
                            let sealed = B64.decode(b64.as_bytes()).map_err(|_| {
                                JournalError::Corrupt("encrypted value is not base64".into())
                            })?;
                            let plain = self.open(&sealed, name.as_bytes())?;
                            *value = serde_json::from_slice(&plain).map_err(|e| {
                                JournalError::Corrupt(format!("decrypted value: {e}"))
                            })?;
                        }
                        (None, _) => self.walk_reveal(value, reveal)?,
                    }
                }
            }
            Value::Array(items) => {
                for item in items {
                    self.walk_reveal(item, reveal)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

fn is_sealed(v: &Value) -> bool {
    matches!(v, Value::String(s) if s.starts_with(FIELD_PREFIX))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn protector(key: bool) -> Protector {
        Protector::new(&PersonalData {
            fields: vec![
                "phone".into(),
                "identity_documents".into(),
                "address".into(),
            ],
            key: key.then(|| Key::from_bytes([7; 32])),
            encrypt_opaque: true,
        })
    }

    #[test]
    fn fields_are_encrypted_and_read_back() {
        let p = protector(true);
        let body = br#"{"code":"X1","applicant":{"name":"Le Van A","phone":"0912345678","address":"12 Le Loi","identity_documents":[{"kind":"citizen_id","number":"001203004567"}]}}"#;
        let stored = p.protect(body).expect("protect");
        let text = String::from_utf8(stored.clone()).expect("utf8");
        assert!(!text.contains("0912345678"));
        assert!(!text.contains("001203004567"));
        assert!(!text.contains("12 Le Loi"));
        assert!(
            text.contains("Le Van A"),
            "non-personal members stay readable"
        );
        let clear = p.reveal(&stored, Reveal::Clear).expect("reveal");
        let a: Value = serde_json::from_slice(body).expect("json");
        let b: Value = serde_json::from_slice(&clear).expect("json");
        assert_eq!(a, b);
        let masked =
            String::from_utf8(p.reveal(&stored, Reveal::Masked).expect("mask")).expect("utf8");
        assert!(masked.contains(r#""phone":"***""#), "{masked}");
        assert!(masked.contains(r#""identity_documents":"***""#));
        // Member order is kept.
        assert!(masked.find("\"code\"") < masked.find("\"applicant\""));
    }

    #[test]
    fn moving_a_value_to_another_member_is_detected() {
        let p = protector(true);
        let stored = p
            .protect(br#"{"phone":"0912345678","address":"x"}"#)
            .expect("p");
        let mut v: Value = serde_json::from_slice(&stored).expect("json");
        let phone = v["phone"].clone();
        v["address"] = phone;
        let tampered = serde_json::to_vec(&v).expect("json");
        assert!(matches!(
            p.reveal(&tampered, Reveal::Clear),
            Err(JournalError::Crypto(_))
        ));
    }

    #[test]
    fn wrong_key_fails_and_no_key_refuses_personal_data() {
        let stored = protector(true).protect(br#"{"phone":"0912"}"#).expect("p");
        let other = Protector::new(&PersonalData {
            fields: vec!["phone".into()],
            key: Some(Key::from_bytes([8; 32])),
            encrypt_opaque: false,
        });
        assert!(other.reveal(&stored, Reveal::Clear).is_err());
        assert!(other.reveal(&stored, Reveal::Masked).is_ok());
        assert!(matches!(
            protector(false).protect(br#"{"phone":"0912"}"#),
            Err(JournalError::Config(_))
        ));
        // Without personal members the body is stored unchanged, key or not.
        let plain = br#"{"code":"A"}"#;
        assert_eq!(protector(false).protect(plain).expect("p"), plain.to_vec());
    }

    #[test]
    fn opaque_bodies_are_encrypted_whole() {
        let p = protector(true);
        let xml = b"<edXML:Envelope>CCCD 001203004567</edXML:Envelope>";
        let stored = p.protect(xml).expect("p");
        assert!(stored.starts_with(OPAQUE_MAGIC));
        assert!(!contains(&stored, b"001203004567"));
        assert_eq!(p.reveal(&stored, Reveal::Clear).expect("r"), xml.to_vec());
        let masked = p.reveal(&stored, Reveal::Masked).expect("m");
        assert!(String::from_utf8_lossy(&masked).starts_with("[encrypted body"));
    }

    #[test]
    fn keys_parse_from_hex_and_base64() {
        let hex = "00".repeat(31) + "ff";
        assert!(Key::parse(&hex).is_ok());
        assert!(Key::parse(&B64.encode([1u8; 32])).is_ok());
        assert!(Key::parse("short").is_err());
        assert_eq!(format!("{:?}", Key::from_bytes([1; 32])), "Key(<redacted>)");
    }
}
