//! The cryptography and formats of request signing (`vdxp.md` §5, §6), server side:
//! HMAC-SHA256 written on `sha2` (RFC 2104), the `hash-file` digest without zero padding,
//! the `ddMMyyyy'T'HHmmss+SSSS` timestamp, and the verification of a request's
//! `XroadVnpt-*` headers (§9.2).

use axum::http::HeaderMap;
use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::Offset;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Vietnamese local time, UTC+07:00 (no daylight saving since 1975).
pub const VIETNAM: Offset = Offset::constant(7);

/// Prefix of every parameter header and signed member.
pub const PREFIX: &str = "XroadVnpt-";

/// SHA-256 block size in bytes.
const BLOCK: usize = 64;

/// HMAC-SHA256 (RFC 2104): `H((K ^ opad) || H((K ^ ipad) || message))`, the key hashed
/// first when longer than a block and zero-padded to a block.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        let digest: [u8; 32] = Sha256::digest(key).into();
        block[..32].copy_from_slice(&digest);
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    let inner: [u8; 32] = inner.finalize().into();
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner);
    outer.finalize().into()
}

/// Lowercase hex, two digits per byte.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The SHA-256 of `file` as the SDK writes `hash-file` (§6): each byte in lowercase hex
/// **without** a leading zero (Java `Integer.toHexString(b & 0xFF)`).
pub fn hash_file(file: &[u8]) -> String {
    let digest: [u8; 32] = Sha256::digest(file).into();
    let mut s = String::with_capacity(64);
    for b in digest {
        let _ = write!(s, "{b:x}");
    }
    s
}

/// The standard (padded, 64-character) SHA-256 hex of `file`.
pub fn sha256_hex(file: &[u8]) -> String {
    let digest: [u8; 32] = Sha256::digest(file).into();
    hex(&digest)
}

/// Whether `claimed` is the `hash-file` of `file`: the unpadded form of §6 or, leniently,
/// the padded 64-character form (hex case ignored).
pub fn hash_file_matches(claimed: &str, file: &[u8]) -> bool {
    let c = claimed.trim();
    c.eq_ignore_ascii_case(&hash_file(file)) || c.eq_ignore_ascii_case(&sha256_hex(file))
}

/// Reads a `timestamp` parameter, `ddMMyyyy'T'HHmmss+SSSS` in Vietnamese local time (the
/// `+` is a literal, the last four digits are milliseconds).
pub fn parse_timestamp(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<i32> {
        let part = b.get(r)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    if b.len() != 20 || b[8] != b'T' || b[15] != b'+' {
        return None;
    }
    let millis = digits(16..20)?;
    if millis > 999 {
        return None;
    }
    let dt = DateTime::new(
        i16::try_from(digits(4..8)?).ok()?,
        i8::try_from(digits(2..4)?).ok()?,
        i8::try_from(digits(0..2)?).ok()?,
        i8::try_from(digits(9..11)?).ok()?,
        i8::try_from(digits(11..13)?).ok()?,
        i8::try_from(digits(13..15)?).ok()?,
        millis * 1_000_000,
    )
    .ok()?;
    VIETNAM.to_timestamp(dt).ok()
}

/// Writes `t` as a `timestamp` parameter (`ddMMyyyy'T'HHmmss+SSSS`, Vietnamese local time).
pub fn format_timestamp(t: Timestamp) -> String {
    let d = VIETNAM.to_datetime(t);
    format!(
        "{:02}{:02}{:04}T{:02}{:02}{:02}+{:04}",
        d.day(),
        d.month(),
        d.year(),
        d.hour(),
        d.minute(),
        d.second(),
        d.subsec_nanosecond() / 1_000_000
    )
}

/// Writes `t` as `yyyy/MM/dd HH:mm:ss` in Vietnamese local time: the form of edXML
/// timestamps and of the simulator's list times.
pub fn format_local(t: Timestamp) -> String {
    let d = VIETNAM.to_datetime(t);
    format!(
        "{:04}/{:02}/{:02} {:02}:{:02}:{:02}",
        d.year(),
        d.month(),
        d.day(),
        d.hour(),
        d.minute(),
        d.second()
    )
}

/// A request that passed §9.2: the calling system and its signed parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Signed {
    /// The calling system.
    pub(crate) systemid: String,
    /// Signed members by lowercase name without the prefix (`docid`, `hash-file`, …).
    pub(crate) params: BTreeMap<String, String>,
    /// When the client says it signed.
    pub(crate) timestamp: Timestamp,
}

impl Signed {
    /// A signed parameter (name case-insensitive, so `docId` and `docid` are one).
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.params
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// A header as text (`None` when absent or not UTF-8).
pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let v = headers.get(name.to_ascii_lowercase().as_str())?;
    std::str::from_utf8(v.as_bytes()).ok()
}

/// The `XroadVnpt-<name>` header as text.
pub(crate) fn param_header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    header(headers, &format!("{PREFIX}{name}"))
}

/// Verifies a request (§9.2 steps 1–5): `secret_of` gives the secret of a registered
/// system; `guarded` are the parameters the operation uses, each of which, when sent as a
/// header, must be signed; `max_skew_secs` bounds the distance between the signed
/// timestamp and `now`. The error is the text of the `401` answer.
pub(crate) fn verify(
    headers: &HeaderMap,
    secret_of: impl Fn(&str) -> Option<String>,
    guarded: &[&str],
    max_skew_secs: Option<u64>,
    now: Timestamp,
) -> Result<Signed, String> {
    let required = |name: &str| {
        param_header(headers, name).ok_or_else(|| format!("missing header {PREFIX}{name}"))
    };
    let systemid = required("systemid")?;
    let sign_header = required("sign-header")?;
    let hash_header = required("hash-header")?;
    let secret = secret_of(systemid).ok_or_else(|| format!("unknown system {systemid}"))?;
    let mac = hex(&hmac_sha256(secret.as_bytes(), sign_header.as_bytes()));
    if !mac.eq_ignore_ascii_case(hash_header.trim()) {
        return Err("hash-header does not match the signature".to_owned());
    }
    let members: serde_json::Map<String, Value> =
        serde_json::from_str(sign_header).map_err(|_| "sign-header is not a JSON object")?;
    let mut params = BTreeMap::new();
    let mut names = Vec::new();
    for (member, value) in &members {
        let Some(name) = member
            .get(..PREFIX.len())
            .filter(|p| p.eq_ignore_ascii_case(PREFIX))
            .map(|_| &member[PREFIX.len()..])
        else {
            return Err(format!(
                "signed member {member:?} lacks the {PREFIX} prefix"
            ));
        };
        let Value::String(value) = value else {
            return Err(format!("signed member {member} is not a string"));
        };
        if param_header(headers, name) != Some(value.as_str()) {
            return Err(format!("signed member {member} differs from its header"));
        }
        names.push(name.to_ascii_lowercase());
        params.insert(name.to_ascii_lowercase(), value.clone());
    }
    if params.get("systemid").map(String::as_str) != Some(systemid) {
        return Err("signed systemid differs from the header".to_owned());
    }
    if let Some(keys) = param_header(headers, "sign-header-key") {
        let mut listed: Vec<String> = keys
            .split(';')
            .map(|k| k.trim().to_ascii_lowercase())
            .filter(|k| !k.is_empty())
            .collect();
        listed.sort();
        listed.dedup();
        names.sort();
        names.dedup();
        if listed != names {
            return Err("sign-header-key does not list the signed members".to_owned());
        }
    }
    for name in guarded {
        let lower = name.to_ascii_lowercase();
        if param_header(headers, name).is_some() && !params.contains_key(&lower) {
            return Err(format!("parameter {name} is not signed"));
        }
    }
    let stamp = params
        .get("timestamp")
        .ok_or("timestamp is not signed")?
        .as_str();
    let timestamp = parse_timestamp(stamp).ok_or_else(|| format!("bad timestamp {stamp:?}"))?;
    if let Some(max) = max_skew_secs {
        let skew = now.duration_since(timestamp).as_secs().unsigned_abs();
        if skew > max {
            return Err(format!(
                "timestamp {stamp} is {skew} s from the server's clock (at most {max})"
            ));
        }
    }
    Ok(Signed {
        systemid: systemid.to_owned(),
        params,
        timestamp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }

    /// RFC 4231 §4.2–4.8 (test case 5, a truncated output, is left out).
    #[test]
    fn rfc4231_vectors() {
        let cases: [(Vec<u8>, Vec<u8>, &str); 6] = [
            (
                vec![0x0b; 20],
                b"Hi There".to_vec(),
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe".to_vec(),
                b"what do ya want for nothing?".to_vec(),
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                vec![0xaa; 20],
                vec![0xdd; 50],
                "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
            ),
            (
                unhex("0102030405060708090a0b0c0d0e0f10111213141516171819"),
                vec![0xcd; 50],
                "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
            ),
            (
                vec![0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
            (
                vec![0xaa; 131],
                b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".to_vec(),
                "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
            ),
        ];
        for (key, data, expected) in cases {
            assert_eq!(hex(&hmac_sha256(&key, &data)), expected);
        }
        // Test case 5: output truncated to 128 bits.
        let t5 = hmac_sha256(&[0x0c; 20], b"Test With Truncation");
        assert_eq!(hex(&t5[..16]), "a3b6167473100ee06e0c796c2955552b");
        // A key of exactly one block is used as is.
        assert_ne!(hmac_sha256(&[1; 64], b"x"), hmac_sha256(&[1; 65], b"x"));
    }

    #[test]
    fn hash_file_without_padding() {
        assert_eq!(
            hash_file(b"abc"),
            "ba7816bf8f1cfea414140de5dae2223b0361a396177a9cb410ff61f2015ad"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(hash_file_matches(
            "ba7816bf8f1cfea414140de5dae2223b0361a396177a9cb410ff61f2015ad",
            b"abc"
        ));
        assert!(hash_file_matches(
            "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
            b"abc"
        ));
        assert!(!hash_file_matches("ba7816bf", b"abc"));
    }

    #[test]
    fn timestamps() {
        let t = parse_timestamp("27112025T103000+0042").expect("valid");
        assert_eq!(t.to_string(), "2025-11-27T03:30:00.042Z");
        assert_eq!(format_timestamp(t), "27112025T103000+0042");
        assert_eq!(format_local(t), "2025/11/27 10:30:00");
        for bad in [
            "",
            "27112025T103000",
            "27112025T103000+042",
            "27112025T103000+1000",
            "31022025T103000+0000",
            "27112025 103000+0042",
            "2711202AT103000+0042",
        ] {
            assert!(parse_timestamp(bad).is_none(), "{bad}");
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                HeaderValue::from_str(v).expect("value"),
            );
        }
        h
    }

    const SIGN_52: &str = r#"{"XroadVnpt-systemid":"vxp.test.01","XroadVnpt-servicetype":"eDoc","XroadVnpt-messagetype":"edoc","XroadVnpt-timestamp":"27112025T103000+0042","XroadVnpt-Content-Type":"application/json"}"#;

    fn example_52() -> Vec<(&'static str, &'static str)> {
        vec![
            ("Content-Type", "application/json"),
            ("XroadVnpt-systemid", "vxp.test.01"),
            ("XroadVnpt-servicetype", "eDoc"),
            ("XroadVnpt-messagetype", "edoc"),
            ("XroadVnpt-timestamp", "27112025T103000+0042"),
            ("XroadVnpt-Content-Type", "application/json"),
            (
                "XroadVnpt-sign-header-key",
                "systemid;servicetype;messagetype;timestamp;Content-Type",
            ),
            ("XroadVnpt-sign-header", SIGN_52),
            (
                "XroadVnpt-hash-header",
                "ef46a3a70705f112a3e6f8410d02e6a9b1eaaf596fc9d3ba6c0fe16b2ea85f1e",
            ),
            ("User-Agent", "JAVASDKAgent/1.0.0 XRoad/VPCP"),
            ("XroadVnpt-version", "3.0.201608"),
        ]
    }

    fn secret(s: &str) -> Option<String> {
        (s == "vxp.test.01").then(|| "s3cret".to_owned())
    }

    /// §5.2: the worked example verifies, both HMACs match the document.
    #[test]
    fn worked_example_verifies() {
        assert_eq!(
            hex(&hmac_sha256(b"s3cret", SIGN_52.as_bytes())),
            "ef46a3a70705f112a3e6f8410d02e6a9b1eaaf596fc9d3ba6c0fe16b2ea85f1e"
        );
        let send = r#"{"XroadVnpt-systemid":"vxp.test.01","XroadVnpt-servicetype":"eDoc","XroadVnpt-messagetype":"edoc","XroadVnpt-hash-file":"ba7816bf8f1cfea414140de5dae2223b0361a396177a9cb410ff61f2015ad","XroadVnpt-from":"000.00.00.H41","XroadVnpt-timestamp":"27112025T103000+0042","XroadVnpt-Content-Type":"application/octet-stream"}"#;
        assert_eq!(
            hex(&hmac_sha256(b"s3cret", send.as_bytes())),
            "5843ac42f16ef683207b53cb44abfdea878d998412d901e0061cfe578bb3dc3f"
        );
        let now = Timestamp::now();
        let signed = verify(
            &headers(&example_52()),
            secret,
            &["servicetype", "messagetype"],
            None,
            now,
        )
        .expect("the worked example verifies");
        assert_eq!(signed.systemid, "vxp.test.01");
        assert_eq!(signed.param("MessageType"), Some("edoc"));
        assert_eq!(format_timestamp(signed.timestamp), "27112025T103000+0042");
        // Upper-case hex is accepted.
        let mut upper = example_52();
        upper[8].1 = "EF46A3A70705F112A3E6F8410D02E6A9B1EAAF596FC9D3BA6C0FE16B2EA85F1E";
        assert!(verify(&headers(&upper), secret, &[], None, now).is_ok());
        // A stale timestamp fails only with a maximum skew.
        assert!(verify(&headers(&example_52()), secret, &[], Some(60), now).is_err());
    }

    #[test]
    fn verification_failures() {
        let now = Timestamp::now();
        let run = |pairs: Vec<(&str, &str)>, guarded: &[&str]| {
            verify(&headers(&pairs), secret, guarded, None, now).expect_err("refused")
        };
        let mut p = example_52();
        p[8].1 = "00";
        assert!(run(p, &[]).contains("hash-header"));
        let mut p = example_52();
        p[1].1 = "vxp.test.02";
        assert!(run(p, &[]).contains("unknown system"));
        let mut p = example_52();
        p[3].1 = "status";
        assert!(run(p, &[]).contains("differs"));
        let mut p = example_52();
        p[6].1 = "systemid;servicetype;timestamp;Content-Type";
        assert!(run(p, &[]).contains("sign-header-key"));
        let mut p = example_52();
        p.push(("XroadVnpt-docId", "abc"));
        assert!(run(p, &["docId"]).contains("not signed"));
        let mut p = example_52();
        p.retain(|(k, _)| *k != "XroadVnpt-hash-header");
        assert!(run(p, &[]).contains("missing"));
    }
}
