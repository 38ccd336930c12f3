//! Request signing (`vdxp.md` §5) and the `hash-file` parameter (§6), as pure functions so
//! that the client, its tests and the axis simulator compute exactly the same strings.
//!
//! # The algorithm ([`sign`])
//!
//! 1. The parameter map: `systemid`, `timestamp` ([`format_timestamp`]:
//!    `ddMMyyyy'T'HHmmss+SSSS`, milliseconds padded to four digits, Vietnamese local time),
//!    `Content-Type`, and the call's parameters (`to` as JSON text, [`to_parameter`];
//!    `hash-file` from [`hash_file`]).
//! 2. Its entries in the order in which the SDK's `java.util.HashMap` iterates them
//!    ([`sdk_order`]), the entries being put in the order `systemid`, `timestamp`,
//!    `Content-Type`, then the call's parameters.
//! 3. One `XroadVnpt-<name>: <value>` header per entry, in that order; the `Content-Type`
//!    entry is also the ordinary `Content-Type` header.
//! 4. `XroadVnpt-sign-header-key` = the names joined with `;`.
//! 5. `XroadVnpt-sign-header` = compact JSON `{"XroadVnpt-<name>":"<value>",…}` in the same
//!    order, strings escaped as Gson does ([`gson_string`]).
//! 6. `XroadVnpt-hash-header` = lowercase hex of HMAC-SHA256 (key: the secret's UTF-8
//!    bytes; message: the sign-header's UTF-8 bytes). HMAC is implemented here on `sha2`
//!    (RFC 2104, [`hmac_sha256`]).
//! 7. `User-Agent: JAVASDKAgent/1.0.0 XRoad/VPCP` and `XroadVnpt-version: 3.0.201608`.
//!
//! Nothing here validates values: the client refuses parameter values that cannot travel
//! as raw header values (non-ASCII, control characters, surrounding white space) before it
//! signs.

use jiff::Timestamp;
use jiff::tz::Offset;
use sha2::{Digest, Sha256};

/// Prefix of every parameter header and of every member of the sign-header.
pub const PREFIX: &str = "XroadVnpt-";
/// Header listing the signed names.
pub const SIGN_HEADER_KEY: &str = "XroadVnpt-sign-header-key";
/// Header carrying the signed JSON.
pub const SIGN_HEADER: &str = "XroadVnpt-sign-header";
/// Header carrying the HMAC.
pub const HASH_HEADER: &str = "XroadVnpt-hash-header";
/// Header carrying the SDK's protocol version.
pub const VERSION_HEADER: &str = "XroadVnpt-version";
/// The SDK's protocol version.
pub const VERSION: &str = "3.0.201608";
/// The SDK's `User-Agent`.
pub const USER_AGENT: &str = "JAVASDKAgent/1.0.0 XRoad/VPCP";
/// The parameter (and ordinary header) name of the content type.
pub const CONTENT_TYPE: &str = "Content-Type";
/// Content type of `sendEdoc`.
pub const OCTET_STREAM: &str = "application/octet-stream";
/// Content type of every other call.
pub const JSON: &str = "application/json";

/// Vietnamese local time, UTC+07:00 (no daylight saving since 1975; the gateway signs in
/// `Asia/Ho_Chi_Minh`, §5.1).
pub const VIETNAM: Offset = Offset::constant(7);

/// Formats `t` with the SDK's Java pattern `ddMMyyyy'T'HHmmss+SSSS` in Vietnamese local
/// time: 27 Nov 2025 10:30:00.042 (+07:00) → `27112025T103000+0042`. The `+` is a literal;
/// the last four digits are the milliseconds, zero-padded.
pub fn format_timestamp(t: Timestamp) -> String {
    let dt = VIETNAM.to_datetime(t);
    format!(
        "{:02}{:02}{:04}T{:02}{:02}{:02}+{:04}",
        dt.day(),
        dt.month(),
        dt.year(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        dt.millisecond()
    )
}

/// Java's `String.hashCode` (over UTF-16 code units, wrapping 32-bit arithmetic).
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

/// The bucket index of `java.util.HashMap` for a key in a table of `capacity` buckets.
fn bucket(name: &str, capacity: usize) -> usize {
    let h = java_string_hash(name) as u32;
    ((h ^ (h >> 16)) as usize) & (capacity - 1)
}

/// The order in which a `java.util.HashMap<String, _>` created with the default capacity
/// (16) and load factor (0.75) iterates its keys after they were put in the order given.
/// A repeated name keeps its first position (Java replaces the value in place).
///
/// Modelled: the hash spreading `h ^ (h >>> 16)`, insertion order within a bucket, the
/// doubling when the size exceeds the threshold, and the doubling instead of
/// treeification of a bucket reaching 9 keys while the table is smaller than 64. Not
/// modelled: treeified buckets (9 colliding keys in a table of 64 or more) — never met by
/// the key sets of the axis calls.
pub fn sdk_order<'a>(names: &[&'a str]) -> Vec<&'a str> {
    let mut capacity = 16usize;
    let mut table: Vec<Vec<&'a str>> = vec![Vec::new(); capacity];
    let mut size = 0usize;
    let resize = |table: &mut Vec<Vec<&'a str>>, capacity: &mut usize| {
        *capacity *= 2;
        let mut next: Vec<Vec<&'a str>> = vec![Vec::new(); *capacity];
        // Java splits each bucket in order into its "lo" and "hi" halves, preserving the
        // relative order; visiting the old buckets in order gives the same result.
        for name in table.iter().flatten() {
            next[bucket(name, *capacity)].push(name);
        }
        *table = next;
    };
    for &name in names {
        let b = bucket(name, capacity);
        if table[b].contains(&name) {
            continue;
        }
        table[b].push(name);
        if table[b].len() >= 9 && capacity < 64 {
            resize(&mut table, &mut capacity);
        }
        size += 1;
        if size * 4 > capacity * 3 {
            resize(&mut table, &mut capacity);
        }
    }
    table.into_iter().flatten().collect()
}

/// A string as a JSON string literal, escaped as Gson's `JsonElement.toString()` does:
/// `"` and `\` backslash-escaped; U+0008, U+0009, U+000A, U+000C, U+000D as `\b \t \n \f
/// \r`; other code points below U+0020 as `\u00xx`; U+2028 and U+2029 as `\u2028` and
/// `\u2029`; everything else (including `/`, `<`, `>`, `&`, `=`, `'`) as is.
pub fn gson_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The sign-header JSON of entries already in order: `{"XroadVnpt-<name>":"<value>",…}`,
/// no white space.
pub fn sign_header(entries: &[(&str, &str)]) -> String {
    let mut out = String::from("{");
    for (i, (name, value)) in entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&gson_string(&format!("{PREFIX}{name}")));
        out.push(':');
        out.push_str(&gson_string(value));
    }
    out.push('}');
    out
}

/// SHA-256 block size in bytes.
const BLOCK: usize = 64;

/// HMAC-SHA256 (RFC 2104): `H((K ^ opad) || H((K ^ ipad) || message))`, the key hashed
/// first when longer than one block and zero-padded to one block.
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
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// The `XroadVnpt-hash-header` value: lowercase hex of HMAC-SHA256 over the sign-header
/// string, keyed with the secret's UTF-8 bytes.
pub fn hash_header(secret: &str, sign_header: &str) -> String {
    hex(&hmac_sha256(secret.as_bytes(), sign_header.as_bytes()))
}

/// The `hash-file` parameter of `sendEdoc` (§6): the SHA-256 of the exact .edxml bytes
/// (without the trailing CR LF of the body), each byte as lowercase hex **without a
/// leading zero** (Java `Integer.toHexString(b & 0xFF)`), so usually fewer than 64
/// characters. `abc` → `ba7816bf8f1cfea414140de5dae2223b0361a396177a9cb410ff61f2015ad`.
pub fn hash_file(file: &[u8]) -> String {
    let digest: [u8; 32] = Sha256::digest(file).into();
    let mut s = String::with_capacity(64);
    for b in digest {
        s.push_str(&format!("{b:x}"));
    }
    s
}

/// The `to` parameter: the JSON text of the recipient array, e.g.
/// `["000.00.00.G22","000.00.00.H41"]` (the header carries this text; the sign-header
/// escapes it once more as a string).
pub fn to_parameter(recipients: &[&str]) -> String {
    let mut out = String::from("[");
    for (i, r) in recipients.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&gson_string(r));
    }
    out.push(']');
    out
}

/// Signs one request (§5.1) and returns every header to send, in this order: the ordinary
/// `Content-Type` (when `params` has one), one `XroadVnpt-<name>` per parameter in the
/// SDK's order, `XroadVnpt-sign-header-key`, `XroadVnpt-sign-header`,
/// `XroadVnpt-hash-header`, `User-Agent`, `XroadVnpt-version`.
///
/// `timestamp` is the already formatted value ([`format_timestamp`]). `params` holds every
/// parameter but `systemid` and `timestamp`: the `Content-Type` entry (`application/json`,
/// or `application/octet-stream` for `sendEdoc`) and the call's parameters, values exactly
/// as they go into the headers. The map is filled as the SDK fills it — `systemid`,
/// `timestamp`, `Content-Type`, then the other parameters in the given order — and iterated
/// in [`sdk_order`]. A name given twice keeps its first position and its last value, as in
/// the Java map; `systemid` or `timestamp` in `params` replace the arguments likewise.
pub fn sign(
    system_id: &str,
    secret: &str,
    timestamp: &str,
    params: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut entries: Vec<(&str, &str)> = vec![("systemid", system_id), ("timestamp", timestamp)];
    let content_type = params.iter().rev().find(|(n, _)| *n == CONTENT_TYPE);
    if let Some(&ct) = content_type {
        entries.push(ct);
    }
    for &(name, value) in params {
        match entries.iter_mut().find(|(n, _)| *n == name) {
            Some(entry) => entry.1 = value,
            None => entries.push((name, value)),
        }
    }
    let names: Vec<&str> = entries.iter().map(|(n, _)| *n).collect();
    let ordered: Vec<(&str, &str)> = sdk_order(&names)
        .into_iter()
        .filter_map(|name| entries.iter().find(|(n, _)| *n == name).copied())
        .collect();

    let signed = sign_header(&ordered);
    let hash = hash_header(secret, &signed);
    let mut headers = Vec::with_capacity(ordered.len() + 6);
    if let Some((_, ct)) = ordered.iter().find(|(n, _)| *n == CONTENT_TYPE) {
        headers.push((CONTENT_TYPE.to_owned(), (*ct).to_owned()));
    }
    for (name, value) in &ordered {
        headers.push((format!("{PREFIX}{name}"), (*value).to_owned()));
    }
    let key = ordered
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(";");
    headers.push((SIGN_HEADER_KEY.to_owned(), key));
    headers.push((SIGN_HEADER.to_owned(), signed));
    headers.push((HASH_HEADER.to_owned(), hash));
    headers.push(("User-Agent".to_owned(), USER_AGENT.to_owned()));
    headers.push((VERSION_HEADER.to_owned(), VERSION.to_owned()));
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no header {name}"))
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }

    /// 27 Nov 2025 10:30:00.042 in Vietnam.
    fn example_time() -> Timestamp {
        VIETNAM
            .to_timestamp(jiff::civil::date(2025, 11, 27).at(10, 30, 0, 42_000_000))
            .expect("in range")
    }

    #[test]
    fn timestamp_format() {
        assert_eq!(format_timestamp(example_time()), "27112025T103000+0042");
        // Milliseconds use four digits; hours are 24-hour; the zone is +07:00.
        let t: Timestamp = "2025-01-02T16:04:05.999Z".parse().expect("ts");
        assert_eq!(format_timestamp(t), "02012025T230405+0999");
        let t: Timestamp = "2025-12-31T17:00:00Z".parse().expect("ts");
        assert_eq!(format_timestamp(t), "01012026T000000+0000");
    }

    #[test]
    fn worked_example_get_received_edoc_list() {
        let ts = format_timestamp(example_time());
        let headers = sign(
            "vxp.test.01",
            "s3cret",
            &ts,
            &[
                ("Content-Type", JSON),
                ("servicetype", "eDoc"),
                ("messagetype", "edoc"),
            ],
        );
        let expected_sign_header = r#"{"XroadVnpt-systemid":"vxp.test.01","XroadVnpt-servicetype":"eDoc","XroadVnpt-messagetype":"edoc","XroadVnpt-timestamp":"27112025T103000+0042","XroadVnpt-Content-Type":"application/json"}"#;
        let expected: Vec<(String, String)> = [
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
            ("XroadVnpt-sign-header", expected_sign_header),
            (
                "XroadVnpt-hash-header",
                "ef46a3a70705f112a3e6f8410d02e6a9b1eaaf596fc9d3ba6c0fe16b2ea85f1e",
            ),
            ("User-Agent", "JAVASDKAgent/1.0.0 XRoad/VPCP"),
            ("XroadVnpt-version", "3.0.201608"),
        ]
        .into_iter()
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(headers, expected);
        // The caller's parameter order does not matter.
        let again = sign(
            "vxp.test.01",
            "s3cret",
            &ts,
            &[
                ("messagetype", "edoc"),
                ("servicetype", "eDoc"),
                ("Content-Type", JSON),
            ],
        );
        assert_eq!(again, expected);
    }

    #[test]
    fn worked_example_send_edoc() {
        let file_hash = hash_file(b"abc");
        let headers = sign(
            "vxp.test.01",
            "s3cret",
            "27112025T103000+0042",
            &[
                ("Content-Type", OCTET_STREAM),
                ("servicetype", "eDoc"),
                ("messagetype", "edoc"),
                ("hash-file", &file_hash),
                ("from", "000.00.00.H41"),
            ],
        );
        assert_eq!(
            header(&headers, SIGN_HEADER),
            r#"{"XroadVnpt-systemid":"vxp.test.01","XroadVnpt-servicetype":"eDoc","XroadVnpt-messagetype":"edoc","XroadVnpt-hash-file":"ba7816bf8f1cfea414140de5dae2223b0361a396177a9cb410ff61f2015ad","XroadVnpt-from":"000.00.00.H41","XroadVnpt-timestamp":"27112025T103000+0042","XroadVnpt-Content-Type":"application/octet-stream"}"#
        );
        assert_eq!(
            header(&headers, HASH_HEADER),
            "5843ac42f16ef683207b53cb44abfdea878d998412d901e0061cfe578bb3dc3f"
        );
        assert_eq!(header(&headers, "Content-Type"), OCTET_STREAM);

        // With a `to` array: the header carries the JSON text, the member escapes it.
        let to = to_parameter(&["000.00.00.G22"]);
        let headers = sign(
            "vxp.test.01",
            "s3cret",
            "27112025T103000+0042",
            &[
                ("Content-Type", OCTET_STREAM),
                ("servicetype", "eDoc"),
                ("messagetype", "edoc"),
                ("hash-file", &file_hash),
                ("from", "000.00.00.H41"),
                ("to", &to),
            ],
        );
        assert_eq!(header(&headers, "XroadVnpt-to"), r#"["000.00.00.G22"]"#);
        assert!(header(&headers, SIGN_HEADER).contains(r#""XroadVnpt-to":"[\"000.00.00.G22\"]""#));
        assert_eq!(
            header(&headers, SIGN_HEADER_KEY),
            "systemid;servicetype;messagetype;hash-file;from;to;timestamp;Content-Type"
        );
    }

    #[test]
    fn sdk_order_table() {
        // vdxp.md §5.1 step 2: every row, keys put as the SDK puts them.
        let rows: [(&[&str], &str); 10] = [
            (
                &["servicetype", "messagetype"],
                "systemid;servicetype;messagetype;timestamp;Content-Type",
            ),
            (
                &["servicetype", "messagetype", "docId"],
                "systemid;servicetype;messagetype;docId;timestamp;Content-Type",
            ),
            (
                &["from", "servicetype", "messagetype", "hash-file"],
                "systemid;servicetype;messagetype;hash-file;from;timestamp;Content-Type",
            ),
            (
                &["from", "to", "servicetype", "messagetype", "hash-file"],
                "systemid;servicetype;messagetype;hash-file;from;to;timestamp;Content-Type",
            ),
            (&["docId"], "systemid;docId;timestamp;Content-Type"),
            (
                &["docId", "status"],
                "systemid;docId;timestamp;Content-Type;status",
            ),
            (
                &["docId", "status", "description"],
                "systemid;docId;description;timestamp;Content-Type;status",
            ),
            (&[], "systemid;timestamp;Content-Type"),
            (&["level"], "systemid;level;timestamp;Content-Type"),
            (
                &["AgencyCode"],
                "systemid;AgencyCode;timestamp;Content-Type",
            ),
        ];
        for (params, expected) in rows {
            let mut names = vec!["systemid", "timestamp", "Content-Type"];
            names.extend_from_slice(params);
            assert_eq!(sdk_order(&names).join(";"), expected, "{params:?}");
            let pairs: Vec<(&str, &str)> = std::iter::once(("Content-Type", JSON))
                .chain(params.iter().map(|p| (*p, "x")))
                .collect();
            let headers = sign("s", "k", "t", &pairs);
            assert_eq!(header(&headers, SIGN_HEADER_KEY), expected);
        }
        // The SDK's own quirk (§5.1): a stale `filePath` signed with `updateStatus`.
        assert_eq!(
            sdk_order(&[
                "systemid",
                "timestamp",
                "Content-Type",
                "docId",
                "filePath",
                "status"
            ])
            .join(";"),
            "systemid;docId;filePath;timestamp;Content-Type;status"
        );
    }

    #[test]
    fn sdk_order_resizes_like_java() {
        // One-letter keys hash to their code point. "q" (113) shares bucket 1 with "a" (97)
        // in 16 buckets but not in 32 (113 & 31 = 17). Twelve keys stay in 16 buckets; the
        // 13th put exceeds the threshold 12 and the table doubles, as in Java.
        let twelve = ["q", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"];
        assert_eq!(sdk_order(&twelve), twelve);
        let mut thirteen = twelve.to_vec();
        thirteen.push("l");
        let mut expected = thirteen[1..].to_vec();
        expected.push("q");
        assert_eq!(sdk_order(&thirteen), expected);
        // Colliding keys keep their insertion order; repeated keys their first position.
        assert_eq!(java_string_hash("Aa"), java_string_hash("BB"));
        assert_eq!(sdk_order(&["BB", "Aa", "BB"]), vec!["BB", "Aa"]);
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(
            java_string_hash("systemid"),
            "systemid".bytes().fold(0i32, |h, b| {
                h.wrapping_mul(31).wrapping_add(i32::from(b))
            })
        );
    }

    #[test]
    fn repeated_names_keep_first_position_last_value() {
        let h = sign(
            "sys",
            "k",
            "t",
            &[("Content-Type", JSON), ("docId", "a"), ("docId", "b")],
        );
        assert_eq!(
            header(&h, SIGN_HEADER_KEY),
            "systemid;docId;timestamp;Content-Type"
        );
        assert_eq!(header(&h, "XroadVnpt-docId"), "b");
    }

    #[test]
    fn gson_escaping() {
        assert_eq!(gson_string("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(
            gson_string("\u{8}\t\n\u{c}\r\u{1}\u{1f}"),
            r#""\b\t\n\f\r\u0001\u001f""#
        );
        assert_eq!(gson_string("\u{2028}\u{2029}"), r#""\u2028\u2029""#);
        assert_eq!(gson_string("/<>&='é\u{7f}"), "\"/<>&='é\u{7f}\"");
        assert_eq!(
            sign_header(&[("a", "1"), ("b\"", "x\ny")]),
            r#"{"XroadVnpt-a":"1","XroadVnpt-b\"":"x\ny"}"#
        );
    }

    #[test]
    fn hmac_rfc4231_vectors() {
        let long_key = [0xaau8; 131];
        let cases: [(&[u8], &[u8], &str); 7] = [
            (
                &[0x0b; 20],
                b"Hi There",
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe",
                b"what do ya want for nothing?",
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                &[0xaa; 20],
                &[0xdd; 50],
                "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
            ),
            (
                &[
                    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                    23, 24, 25,
                ],
                &[0xcd; 50],
                "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
            ),
            // Test case 5 specifies only the first 128 bits.
            (
                &[0x0c; 20],
                b"Test With Truncation",
                "a3b6167473100ee06e0c796c2955552b",
            ),
            (
                &long_key,
                b"Test Using Larger Than Block-Size Key - Hash Key First",
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
            (
                &long_key,
                b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.",
                "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
            ),
        ];
        for (i, (key, data, expected)) in cases.into_iter().enumerate() {
            let mac = hmac_sha256(key, data);
            assert_eq!(
                &mac[..expected.len() / 2],
                unhex(expected).as_slice(),
                "case {}",
                i + 1
            );
        }
        // A key of exactly one block is used as is (not hashed).
        let key = [0x11u8; 64];
        assert_ne!(
            hmac_sha256(&key, b"x"),
            hmac_sha256(&Sha256::digest(key), b"x")
        );
    }

    #[test]
    fn hash_file_quirk() {
        assert_eq!(
            hash_file(b"abc"),
            "ba7816bf8f1cfea414140de5dae2223b0361a396177a9cb410ff61f2015ad"
        );
        assert_eq!(hash_file(b"abc").len(), 61);
        let data = concat!(env!("CARGO_MANIFEST_DIR"), "/../edxml/tests/data/");
        let file = std::fs::read(format!("{data}status_inbox_01.edxml")).expect("sample");
        assert_eq!(
            hash_file(&file),
            "f51ba8b927ea8c7e6c2be88ef55b86ca859f23fbcbf9e213e23e24e"
        );
        let file = std::fs::read(format!("{data}edoc_update.edxml")).expect("sample");
        assert_eq!(
            hash_file(&file),
            "90da13a57ed0e9a52280b620384dd33d9ca278f6fd7cb38e106acc783cd9a7"
        );
    }

    #[test]
    fn hash_file_of_a_digest_starting_with_zero_bytes() {
        // Search small inputs for a digest whose first byte is 0x00: the unpadded form then
        // starts with a single "0" followed by the second byte.
        let input = (0u32..100_000)
            .map(|n| n.to_string())
            .find(|s| Sha256::digest(s.as_bytes())[0] == 0)
            .expect("a digest starting with 00 among 100 000 inputs");
        let digest: [u8; 32] = Sha256::digest(input.as_bytes()).into();
        // Derived from the padded form: drop the leading zero of every two-digit pair.
        let padded = hex(&digest);
        assert!(padded.starts_with("00"));
        let expected: String = padded
            .as_bytes()
            .chunks(2)
            .map(|pair| match pair {
                [b'0', low] => char::from(*low).to_string(),
                _ => String::from_utf8_lossy(pair).into_owned(),
            })
            .collect();
        let quirk = hash_file(input.as_bytes());
        assert_eq!(quirk, expected);
        assert!(quirk.starts_with(&format!("0{:x}", digest[1])));
        assert!(quirk.len() < 64);
    }
}
