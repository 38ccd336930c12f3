//! The axis's wire values (`vdxp.md` §3–§4): the response envelope and its success rule,
//! the fixed parameter words, and the list items, read leniently.
//!
//! Item fields are informational strings (§3.1: only `docId` and `messageType` drive
//! logic), so every field is read from whatever JSON scalar the axis sends: a string as is,
//! a number or boolean as its text, `null` or absent as `None`, an array or object as its
//! JSON text. Integers and booleans ([`SyncUnit`]) also accept their string forms.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The axis id of a send or a delivery (`DocId` / `docId`). Opaque: 24 hex digits and UUIDs
/// have been seen; never parsed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DocId(String);

impl DocId {
    /// Wraps an id.
    pub fn new(id: impl Into<String>) -> Self {
        DocId(id.into())
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for DocId {
    fn from(s: String) -> Self {
        DocId(s)
    }
}

impl From<&str> for DocId {
    fn from(s: &str) -> Self {
        DocId(s.to_owned())
    }
}

impl AsRef<str> for DocId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// The `messagetype` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageType {
    /// `edoc`: a document message.
    Edoc,
    /// `status`: a status message.
    Status,
}

impl MessageType {
    /// The wire word.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::Edoc => "edoc",
            MessageType::Status => "status",
        }
    }

    /// Reads the wire word (trimmed, case-insensitive).
    pub fn from_word(word: &str) -> Option<Self> {
        let w = word.trim();
        if w.eq_ignore_ascii_case("edoc") {
            Some(MessageType::Edoc)
        } else if w.eq_ignore_ascii_case("status") {
            Some(MessageType::Status)
        } else {
            None
        }
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `status` parameter of `updateStatus` (§3, §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// `done`: stored and handed over (final).
    Done,
    /// `fail`: permanently unusable (final).
    Fail,
    /// `processing`: keeps the item listed (the gateway does not send it, §8).
    Processing,
}

impl DeliveryStatus {
    /// The wire word.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Done => "done",
            DeliveryStatus::Fail => "fail",
            DeliveryStatus::Processing => "processing",
        }
    }
}

impl fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The value of `servicetype`.
pub const SERVICE_TYPE: &str = "eDoc";

/// The response envelope (§4), read leniently.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Envelope {
    /// `status` (`OK` / `FAIL`), as text.
    pub status: Option<String>,
    /// `ErrorCode`, as text (a number as its JSON text).
    pub error_code: Option<String>,
    /// `ErrorDesc`.
    pub error_desc: Option<String>,
    /// The whole object, for the per-operation payload (`DocId`, `data`, `count`).
    pub body: Map<String, Value>,
}

impl Envelope {
    /// Reads a reply body as an envelope: a JSON object with a `status` or an `ErrorCode`
    /// member. `None` for anything else (not JSON, not an object, neither member).
    pub fn parse(body: &[u8]) -> Option<Envelope> {
        let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(body) else {
            return None;
        };
        if !body.contains_key("status") && !body.contains_key("ErrorCode") {
            return None;
        }
        Some(Envelope {
            status: text(body.get("status")),
            error_code: text(body.get("ErrorCode")),
            error_desc: text(body.get("ErrorDesc")),
            body,
        })
    }

    /// The success rule (§4): `status` = `"OK"` and `ErrorCode` = `"0"` or the number 0.
    pub fn is_success(&self) -> bool {
        let code_ok = match self.body.get("ErrorCode") {
            Some(Value::String(s)) => s == "0",
            Some(Value::Number(n)) => n.as_u64() == Some(0) || n.as_i64() == Some(0),
            _ => false,
        };
        self.status.as_deref() == Some("OK") && code_ok
    }

    /// `DocId` (also accepted as `docId`), as text; `None` when absent or blank.
    pub fn doc_id(&self) -> Option<DocId> {
        text(self.body.get("DocId"))
            .or_else(|| text(self.body.get("docId")))
            .filter(|s| !s.trim().is_empty())
            .map(DocId)
    }

    /// `count` as a non-negative integer (a number or a numeric string).
    pub fn count(&self) -> Option<u64> {
        integer(self.body.get("count")).and_then(|n| u64::try_from(n).ok())
    }

    /// `data` as a list: absent or `null` → empty, an array → its items, a lone object →
    /// one item.
    pub fn data_list(&self) -> Vec<Value> {
        match self.body.get("data") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items.clone(),
            Some(other) => vec![other.clone()],
        }
    }
}

/// A JSON value as informational text: a string as is, `null`/absent as `None`, anything
/// else as its JSON text.
pub fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// A JSON value as an integer: a number with no fraction, or a string holding one.
pub fn integer(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A JSON value as a boolean: `true`/`false`, the numbers 0/1 (any non-zero is true),
/// or the strings `true`/`false`/`1`/`0` (case-insensitive, trimmed).
pub fn flag(v: Option<&Value>) -> Option<bool> {
    match v? {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_f64().map(|f| f != 0.0),
        Value::String(s) => {
            let s = s.trim();
            if s.eq_ignore_ascii_case("true") || s == "1" {
                Some(true)
            } else if s.eq_ignore_ascii_case("false") || s == "0" {
                Some(false)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// An item of `getReceivedEdocList` (§3.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReceivedItem {
    /// `docId`: the key for `getEdoc` and `updateStatus`.
    pub doc_id: DocId,
    /// `serviceType` (`eDoc`).
    pub service_type: Option<String>,
    /// `messageType` (`edoc` or `status`) as sent; see [`ReceivedItem::message_kind`].
    pub message_type: Option<String>,
    /// `created_time`, format undocumented.
    pub created_time: Option<String>,
    /// `updated_time`, format undocumented.
    pub updated_time: Option<String>,
    /// `from`: the sender.
    pub from: Option<String>,
    /// `to`: the recipient.
    pub to: Option<String>,
    /// `status`: the delivery state, values undocumented.
    pub status: Option<String>,
    /// `status_desc`.
    pub status_desc: Option<String>,
}

impl ReceivedItem {
    /// Reads one item; `None` when it is not an object or has no usable `docId`.
    pub fn from_value(v: &Value) -> Option<Self> {
        let o = v.as_object()?;
        let doc_id = text(o.get("docId"))
            .or_else(|| text(o.get("docid")))
            .or_else(|| text(o.get("DocId")))
            .filter(|s| !s.trim().is_empty())?;
        Some(ReceivedItem {
            doc_id: DocId(doc_id),
            service_type: text(o.get("serviceType")),
            message_type: text(o.get("messageType")),
            created_time: text(o.get("created_time")),
            updated_time: text(o.get("updated_time")),
            from: text(o.get("from")),
            to: text(o.get("to")),
            status: text(o.get("status")),
            status_desc: text(o.get("status_desc")),
        })
    }

    /// `messageType` read as a [`MessageType`], when it is one.
    pub fn message_kind(&self) -> Option<MessageType> {
        self.message_type
            .as_deref()
            .and_then(MessageType::from_word)
    }
}

/// An item of `getSentEdocList` (§3.2): one per recipient of a sent message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SentItem {
    /// `serviceType`.
    pub service_type: Option<String>,
    /// `messageType`.
    pub message_type: Option<String>,
    /// `senderDocId`: the id returned by `sendEdoc`.
    pub sender_doc_id: Option<String>,
    /// `receiverDocId`: this recipient's copy.
    pub receiver_doc_id: Option<String>,
    /// `fromCode`.
    pub from_code: Option<String>,
    /// `toCode`.
    pub to_code: Option<String>,
    /// `title`.
    pub title: Option<String>,
    /// `notation`.
    pub notation: Option<String>,
    /// `sentTime`.
    pub sent_time: Option<String>,
    /// `receivedTime`.
    pub received_time: Option<String>,
    /// `sendStatus`.
    pub send_status: Option<String>,
    /// `sendStatusDesc`.
    pub send_status_desc: Option<String>,
    /// `receiveStatus`.
    pub receive_status: Option<String>,
    /// `receiveStatusDesc`.
    pub receive_status_desc: Option<String>,
}

impl SentItem {
    /// Reads one item; `None` when it is not an object.
    pub fn from_value(v: &Value) -> Option<Self> {
        let o = v.as_object()?;
        let t = |k: &str| text(o.get(k));
        Some(SentItem {
            service_type: t("serviceType"),
            message_type: t("messageType"),
            sender_doc_id: t("senderDocId"),
            receiver_doc_id: t("receiverDocId"),
            from_code: t("fromCode"),
            to_code: t("toCode"),
            title: t("title"),
            notation: t("notation"),
            sent_time: t("sentTime"),
            received_time: t("receivedTime"),
            send_status: t("sendStatus"),
            send_status_desc: t("sendStatusDesc"),
            receive_status: t("receiveStatus"),
            receive_status_desc: t("receiveStatusDesc"),
        })
    }
}

/// An item of `getAgenciesList`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Agency {
    /// `id`.
    pub id: Option<String>,
    /// `code`.
    pub code: Option<String>,
    /// `name`.
    pub name: Option<String>,
    /// `mail`.
    pub mail: Option<String>,
    /// `pid` (meaning undocumented).
    pub pid: Option<String>,
    /// `oldCode` (read by SDK 2.0.1).
    pub old_code: Option<String>,
}

impl Agency {
    /// Reads one item; `None` when it is not an object.
    pub fn from_value(v: &Value) -> Option<Self> {
        let o = v.as_object()?;
        let t = |k: &str| text(o.get(k));
        Some(Agency {
            id: t("id"),
            code: t("code"),
            name: t("name"),
            mail: t("mail"),
            pid: t("pid"),
            old_code: t("oldCode"),
        })
    }
}

/// An item of `getAgenciesListQD20`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AgencyQd20 {
    /// `id`.
    pub id: Option<String>,
    /// `code`.
    pub code: Option<String>,
    /// `name`.
    pub name: Option<String>,
    /// `mail`.
    pub mail: Option<String>,
    /// `code102`: the code under QCVN 102.
    pub code102: Option<String>,
}

impl AgencyQd20 {
    /// Reads one item; `None` when it is not an object.
    pub fn from_value(v: &Value) -> Option<Self> {
        let o = v.as_object()?;
        let t = |k: &str| text(o.get(k));
        Some(AgencyQd20 {
            id: t("id"),
            code: t("code"),
            name: t("name"),
            mail: t("mail"),
            code102: t("code102"),
        })
    }
}

/// An item of `getSynchronizeUnit`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncUnit {
    /// `id`.
    pub id: Option<String>,
    /// `code`.
    pub code: Option<String>,
    /// `name`.
    pub name: Option<String>,
    /// `mail`.
    pub mail: Option<String>,
    /// `pid`.
    pub pid: Option<String>,
    /// `version`.
    pub version: Option<i64>,
    /// `centerCode`.
    pub center_code: Option<String>,
    /// `deleted`.
    pub deleted: Option<bool>,
    /// `modifyDate`, format undocumented.
    pub modify_date: Option<String>,
    /// `isAgency`.
    pub is_agency: Option<bool>,
}

impl SyncUnit {
    /// Reads one item; `None` when it is not an object.
    pub fn from_value(v: &Value) -> Option<Self> {
        let o = v.as_object()?;
        let t = |k: &str| text(o.get(k));
        Some(SyncUnit {
            id: t("id"),
            code: t("code"),
            name: t("name"),
            mail: t("mail"),
            pid: t("pid"),
            version: integer(o.get("version")),
            center_code: t("centerCode"),
            deleted: flag(o.get("deleted")),
            modify_date: t("modifyDate"),
            is_agency: flag(o.get("isAgency")),
        })
    }
}

/// The body of `registerAgency`: `{"id","pcode","code","name","mail","mobile","fax"}`, in
/// that order. `pcode` looks like the parent or centre code (undocumented).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAgency {
    /// `id`.
    pub id: String,
    /// `pcode`.
    pub pcode: String,
    /// `code`: the organisation code.
    pub code: String,
    /// `name`.
    pub name: String,
    /// `mail`.
    pub mail: String,
    /// `mobile`.
    pub mobile: String,
    /// `fax`.
    pub fax: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env(v: Value) -> Envelope {
        Envelope::parse(v.to_string().as_bytes()).expect("envelope")
    }

    #[test]
    fn success_rule() {
        assert!(env(json!({"status": "OK", "ErrorCode": "0"})).is_success());
        assert!(env(json!({"status": "OK", "ErrorCode": 0})).is_success());
        for v in [
            json!({"status": "OK", "ErrorCode": "1"}),
            json!({"status": "OK"}),
            json!({"status": "FAIL", "ErrorCode": "0"}),
            json!({"status": "ok", "ErrorCode": "0"}),
            json!({"status": "OK", "ErrorCode": "00"}),
            json!({"status": "OK", "ErrorCode": null}),
            json!({"ErrorCode": "0"}),
        ] {
            assert!(!env(v.clone()).is_success(), "{v}");
        }
        assert_eq!(Envelope::parse(b"<html>"), None);
        assert_eq!(Envelope::parse(b"[1]"), None);
        assert_eq!(Envelope::parse(br#"{"data": []}"#), None);
        let e = env(json!({"status": "FAIL", "ErrorCode": 404, "ErrorDesc": "x"}));
        assert_eq!(e.error_code.as_deref(), Some("404"));
        assert_eq!(e.error_desc.as_deref(), Some("x"));
    }

    #[test]
    fn payloads() {
        let e = env(
            json!({"status": "OK", "ErrorCode": "0", "DocId": "5bebcfeff858e3e0cc154762", "count": "3"}),
        );
        assert_eq!(e.doc_id(), Some(DocId::new("5bebcfeff858e3e0cc154762")));
        assert_eq!(e.count(), Some(3));
        assert!(e.data_list().is_empty());
        let e = env(
            json!({"status": "OK", "ErrorCode": "0", "DocId": " ", "count": -1, "data": {"a": 1}}),
        );
        assert_eq!(e.doc_id(), None);
        assert_eq!(e.count(), None);
        assert_eq!(e.data_list().len(), 1);
    }

    #[test]
    fn lenient_items() {
        let item = ReceivedItem::from_value(&json!({
            "docId": 12345, "serviceType": "eDoc", "messageType": "STATUS",
            "created_time": 1732678200000u64, "status": 1, "status_desc": null, "to": ["a"]
        }))
        .expect("item");
        assert_eq!(item.doc_id.as_str(), "12345");
        assert_eq!(item.message_kind(), Some(MessageType::Status));
        assert_eq!(item.created_time.as_deref(), Some("1732678200000"));
        assert_eq!(item.status.as_deref(), Some("1"));
        assert_eq!(item.status_desc, None);
        assert_eq!(item.to.as_deref(), Some(r#"["a"]"#));
        assert_eq!(item.from, None);
        assert!(ReceivedItem::from_value(&json!({"messageType": "edoc"})).is_none());
        assert!(ReceivedItem::from_value(&json!("x")).is_none());

        let unit = SyncUnit::from_value(&json!({
            "id": 7, "version": "12", "deleted": "false", "isAgency": 1, "centerCode": "vxp.saas.03"
        }))
        .expect("unit");
        assert_eq!(unit.id.as_deref(), Some("7"));
        assert_eq!(unit.version, Some(12));
        assert_eq!(unit.deleted, Some(false));
        assert_eq!(unit.is_agency, Some(true));
        let unit =
            SyncUnit::from_value(&json!({"version": 3.0, "deleted": true, "isAgency": "yes"}))
                .expect("unit");
        assert_eq!(unit.version, Some(3));
        assert_eq!(unit.deleted, Some(true));
        assert_eq!(unit.is_agency, None);
    }

    #[test]
    fn register_body_order() {
        let body = serde_json::to_string(&NewAgency {
            code: "000.00.00.H41".into(),
            ..NewAgency::default()
        })
        .expect("json");
        assert_eq!(
            body,
            r#"{"id":"","pcode":"","code":"000.00.00.H41","name":"","mail":"","mobile":"","fax":""}"#
        );
    }
}
