//! What travels on the wire: AMQP headers of a bus message, written and read back.

use crate::headers;
use lapin::types::{AMQPValue, FieldTable};
use std::collections::BTreeMap;

/// The bus headers of one message (besides the publisher's own headers).
#[derive(Clone, Debug, Default)]
pub(crate) struct BusHeaders {
    pub(crate) route: String,
    pub(crate) key: String,
    pub(crate) attempt: u32,
    pub(crate) first_error: Option<String>,
    pub(crate) last_error: Option<String>,
    pub(crate) partner_code: Option<String>,
    /// Claim-check blob id and body size.
    pub(crate) claim: Option<(String, u64)>,
    pub(crate) replayed_by: Option<String>,
}

fn s(v: &str) -> AMQPValue {
    AMQPValue::LongString(v.into())
}

/// The header table: the publisher's headers plus the bus headers.
pub(crate) fn encode(user: &BTreeMap<String, String>, bus: &BusHeaders) -> FieldTable {
    let mut t = FieldTable::default();
    for (k, v) in user {
        t.insert(k.as_str().into(), s(v));
    }
    t.insert(headers::ROUTE.into(), s(&bus.route));
    t.insert(headers::KEY.into(), s(&bus.key));
    t.insert(
        headers::ATTEMPT.into(),
        AMQPValue::LongLongInt(i64::from(bus.attempt)),
    );
    let opt = [
        (headers::FIRST_ERROR, &bus.first_error),
        (headers::LAST_ERROR, &bus.last_error),
        (headers::PARTNER_CODE, &bus.partner_code),
        (headers::REPLAYED_BY, &bus.replayed_by),
    ];
    for (name, v) in opt {
        if let Some(v) = v {
            t.insert(name.into(), s(v));
        }
    }
    if let Some((claim, size)) = &bus.claim {
        t.insert(headers::CLAIM.into(), s(claim));
        t.insert(
            headers::CLAIM_SIZE.into(),
            AMQPValue::LongLongInt(i64::try_from(*size).unwrap_or(i64::MAX)),
        );
    }
    t
}

fn as_string(v: &AMQPValue) -> Option<String> {
    match v {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_string()),
        AMQPValue::ByteArray(b) => Some(String::from_utf8_lossy(b.as_slice()).into_owned()),
        _ => None,
    }
}

fn as_int(v: &AMQPValue) -> Option<i64> {
    match v {
        AMQPValue::ShortShortInt(i) => Some(i64::from(*i)),
        AMQPValue::ShortShortUInt(i) => Some(i64::from(*i)),
        AMQPValue::ShortInt(i) => Some(i64::from(*i)),
        AMQPValue::ShortUInt(i) => Some(i64::from(*i)),
        AMQPValue::LongInt(i) => Some(i64::from(*i)),
        AMQPValue::LongUInt(i) => Some(i64::from(*i)),
        AMQPValue::LongLongInt(i) => Some(*i),
        other => as_string(other).and_then(|s| s.trim().parse().ok()),
    }
}

/// A string header.
pub(crate) fn get_str(t: Option<&FieldTable>, name: &str) -> Option<String> {
    t?.inner().get(name).and_then(as_string)
}

/// An integer header (any integer type, or a decimal string).
pub(crate) fn get_int(t: Option<&FieldTable>, name: &str) -> Option<i64> {
    t?.inner().get(name).and_then(as_int)
}

/// Headers the broker adds (dead-lettering, delivery count) and the bus headers that
/// [`decode`] reads into fields: not the publisher's. `x-lienthong-replayed-by` stays visible
/// to the consumer (as on the embedded backend): it tells who sent a parked message back.
fn broker_header(name: &str) -> bool {
    name == "x-death"
        || name == "x-delivery-count"
        || name.starts_with("x-first-death-")
        || name.starts_with("x-last-death-")
        || (name.starts_with("x-lienthong-") && name != headers::REPLAYED_BY)
}

/// The publisher's own headers (bus and broker headers removed).
pub(crate) fn user_headers(t: Option<&FieldTable>) -> BTreeMap<String, String> {
    let Some(t) = t else {
        return BTreeMap::new();
    };
    t.inner()
        .iter()
        .filter(|(k, _)| !broker_header(k.as_str()))
        .filter_map(|(k, v)| Some((k.as_str().to_string(), as_string(v)?)))
        .collect()
}

/// Reads the bus headers back (attempt defaults to 1).
pub(crate) fn decode(t: Option<&FieldTable>) -> BusHeaders {
    let claim = get_str(t, headers::CLAIM).map(|c| {
        let size = get_int(t, headers::CLAIM_SIZE).unwrap_or(0).max(0) as u64;
        (c, size)
    });
    BusHeaders {
        route: get_str(t, headers::ROUTE).unwrap_or_default(),
        key: get_str(t, headers::KEY).unwrap_or_default(),
        attempt: get_int(t, headers::ATTEMPT)
            .and_then(|a| u32::try_from(a).ok())
            .filter(|a| *a >= 1)
            .unwrap_or(1),
        first_error: get_str(t, headers::FIRST_ERROR),
        last_error: get_str(t, headers::LAST_ERROR),
        partner_code: get_str(t, headers::PARTNER_CODE),
        claim,
        replayed_by: get_str(t, headers::REPLAYED_BY),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip() {
        let mut user = BTreeMap::new();
        user.insert("content-kind".to_string(), "edxml".to_string());
        let bus = BusHeaders {
            route: "r".into(),
            key: "k".into(),
            attempt: 3,
            first_error: Some("first".into()),
            last_error: Some("last".into()),
            partner_code: Some("E42".into()),
            claim: Some(("blob".into(), 123)),
            replayed_by: None,
        };
        let mut t = encode(&user, &bus);
        t.insert("x-delivery-count".into(), AMQPValue::LongLongInt(2));
        let back = decode(Some(&t));
        assert_eq!(back.attempt, 3);
        assert_eq!(back.claim, Some(("blob".into(), 123)));
        assert_eq!(back.partner_code.as_deref(), Some("E42"));
        assert_eq!(user_headers(Some(&t)), user);
        assert_eq!(decode(None).attempt, 1);
    }
}
