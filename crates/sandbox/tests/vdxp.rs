//! The VDXP axis simulator over real HTTP on loopback (`vdxp.md` §9,
//! `docs/simulators.md`): request signatures with a test-side signer written from §5.1
//! (SDK key order, Gson escaping, the `hash-file` quirk), `sendEdoc` of the official
//! samples as raw bytes and as multipart, routing of documents and statuses, the receiving
//! side's state machine, sent lists, agencies, the inserted `TraceHeader`, fault modes,
//! duplicate delivery and the admin API.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jiff::Timestamp;
use lienthong_edxml::{Message, read};
use lienthong_sandbox::fault::{FaultSettings, NextFailure};
use lienthong_sandbox::vdxp::sign::{format_timestamp, hmac_sha256};
use lienthong_sandbox::vdxp::{
    DeliveryState, MessageType, SystemEntry, VdxpConfig, VdxpSim, spawn_vdxp,
};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

const G22: &str = "000.00.00.G22";
const H41: &str = "000.00.00.H41";
const H14: &str = "000.00.00.H14";
const G17: &str = "000.00.00.G17";
const DOC: &str = "000.00.00.G22,2015/09/30,7816/VPCP-TTĐT";
const EDOCS: [&str; 4] = [
    "edoc_new.edxml",
    "edoc_replacement.edxml",
    "edoc_revocation.edxml",
    "edoc_update.edxml",
];

fn sample(name: &str) -> Vec<u8> {
    let path = format!("{}/../edxml/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

// ---------------------------------------------------------------------------------------
// The test-side signer (§5.1), independent of the simulator's verification code; only the
// HMAC primitive (checked against RFC 4231 in the unit tests) is shared.
// ---------------------------------------------------------------------------------------

/// Java `String.hashCode` (UTF-16 code units).
fn java_hash(s: &str) -> u32 {
    s.encode_utf16()
        .fold(0u32, |h, c| h.wrapping_mul(31).wrapping_add(u32::from(c)))
}

/// The iteration order of a `java.util.HashMap` of default capacity 16 filled in
/// `keys` order (§5.1 step 2).
fn java_order<T: Clone>(entries: &[(String, T)]) -> Vec<(String, T)> {
    let bucket = |k: &str| {
        let h = java_hash(k);
        (h ^ (h >> 16)) & 15
    };
    let mut out: Vec<(String, T)> = Vec::new();
    for b in 0..16 {
        out.extend(entries.iter().filter(|(k, _)| bucket(k) == b).cloned());
    }
    out
}

/// Gson `JsonElement.toString()` of a string (§5.1 step 5).
fn gson(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\u{8}' => o.push_str("\\b"),
            '\t' => o.push_str("\\t"),
            '\n' => o.push_str("\\n"),
            '\u{c}' => o.push_str("\\f"),
            '\r' => o.push_str("\\r"),
            '\u{2028}' => o.push_str("\\u2028"),
            '\u{2029}' => o.push_str("\\u2029"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// `hash-file` (§6): every digest byte as `Integer.toHexString`.
fn hash_file(file: &[u8]) -> String {
    Sha256::digest(file)
        .iter()
        .map(|b| format!("{b:x}"))
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug, Clone)]
struct Signer {
    systemid: String,
    secret: String,
}

fn signer(systemid: &str, secret: &str) -> Signer {
    Signer {
        systemid: systemid.to_owned(),
        secret: secret.to_owned(),
    }
}

fn lienthong() -> Signer {
    signer("lienthong", "lienthong-vdxp-secret")
}

fn peer() -> Signer {
    signer("peer", "peer-secret")
}

type Headers = Vec<(String, String)>;

impl Signer {
    /// The headers of a call (§5.1 steps 1–7) at `timestamp`.
    fn headers_at(&self, content_type: &str, params: &[(&str, &str)], timestamp: &str) -> Headers {
        let mut map: Vec<(String, String)> = vec![
            ("systemid".into(), self.systemid.clone()),
            ("timestamp".into(), timestamp.to_owned()),
            ("Content-Type".into(), content_type.to_owned()),
        ];
        map.extend(
            params
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let ordered = java_order(&map);
        let mut h: Headers = ordered
            .iter()
            .map(|(k, v)| (format!("XroadVnpt-{k}"), v.clone()))
            .collect();
        let keys: Vec<&str> = ordered.iter().map(|(k, _)| k.as_str()).collect();
        let members: Vec<String> = ordered
            .iter()
            .map(|(k, v)| format!("{}:{}", gson(&format!("XroadVnpt-{k}")), gson(v)))
            .collect();
        let sign = format!("{{{}}}", members.join(","));
        let hash = hex(&hmac_sha256(self.secret.as_bytes(), sign.as_bytes()));
        h.push(("Content-Type".into(), content_type.into()));
        h.push(("XroadVnpt-sign-header-key".into(), keys.join(";")));
        h.push(("XroadVnpt-sign-header".into(), sign));
        h.push(("XroadVnpt-hash-header".into(), hash));
        h.push(("User-Agent".into(), "JAVASDKAgent/1.0.0 XRoad/VPCP".into()));
        h.push(("XroadVnpt-version".into(), "3.0.201608".into()));
        h
    }

    fn headers(&self, content_type: &str, params: &[(&str, &str)]) -> Headers {
        self.headers_at(content_type, params, &format_timestamp(Timestamp::now()))
    }
}

fn set(h: &mut Headers, name: &str, value: &str) {
    match h.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
        Some(e) => e.1 = value.to_owned(),
        None => h.push((name.to_owned(), value.to_owned())),
    }
}

fn remove(h: &mut Headers, name: &str) {
    h.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
}

fn get<'a>(h: &'a Headers, name: &str) -> &'a str {
    h.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map_or("", |(_, v)| v.as_str())
}

// ---------------------------------------------------------------------------------------
// The simulator and its client.
// ---------------------------------------------------------------------------------------

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    match reqwest::Client::builder().no_proxy().build() {
        Ok(c) => c,
        Err(e) => panic!("client: {e}"),
    }
}

struct Axis {
    base: String,
    sim: VdxpSim,
    http: reqwest::Client,
    _task: tokio::task::JoinHandle<()>,
}

/// The default configuration plus `peer` hosting the sender of `edoc_new.edxml`
/// (`002.00.20.H13`) and a third system hosting its recipient (`28.22.H17`).
fn with_edoc_new() -> VdxpConfig {
    let mut c = VdxpConfig::default();
    c.systems[1].organ_ids.push("002.00.20.H13".into());
    c.systems.push(SystemEntry {
        systemid: "danang".into(),
        secret: "danang-secret".into(),
        organ_ids: vec!["28.22.H17".into()],
    });
    c
}

impl Axis {
    async fn start(config: VdxpConfig) -> Axis {
        let (addr, sim, task) = spawn_vdxp(config).await.expect("simulator starts");
        Axis {
            base: format!("http://{addr}"),
            sim,
            http: http(),
            _task: task,
        }
    }

    async fn default() -> Axis {
        Axis::start(VdxpConfig::default()).await
    }

    async fn send(
        &self,
        method: Method,
        op: &str,
        headers: &Headers,
        body: Vec<u8>,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let mut req = self.http.request(method, format!("{}/{op}", self.base));
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        req.body(body).send().await
    }

    async fn json(&self, method: Method, op: &str, headers: &Headers, body: Vec<u8>) -> Value {
        let r = self.send(method, op, headers, body).await.expect("answer");
        assert_eq!(r.status(), 200, "{op}");
        r.json().await.expect("JSON")
    }

    /// A JSON call with the empty body of §3.
    async fn call(&self, who: &Signer, op: &str, params: &[(&str, &str)]) -> Value {
        let h = who.headers("application/json", params);
        self.json(Method::POST, op, &h, Vec::new()).await
    }

    /// The headers of a `sendEdoc` of `file` (SDK key set, `from` when given).
    fn send_headers(
        who: &Signer,
        file: &[u8],
        messagetype: &str,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Headers {
        let hash = hash_file(file);
        let mut params = vec![
            ("servicetype", "eDoc"),
            ("messagetype", messagetype),
            ("hash-file", hash.as_str()),
        ];
        if let Some(f) = from {
            params.push(("from", f));
        }
        if let Some(t) = to {
            params.push(("to", t));
        }
        let mut h = who.headers("application/octet-stream", &params);
        // The SDK's HttpURLConnection adds these (§2).
        h.push(("Cache-Control".into(), "no-cache".into()));
        h.push(("Pragma".into(), "no-cache".into()));
        h
    }

    /// `sendEdoc` as the SDK puts it on the wire (§7): the bytes followed by CR LF.
    async fn send_edoc(
        &self,
        who: &Signer,
        file: &[u8],
        messagetype: &str,
        from: Option<&str>,
    ) -> Value {
        let h = Axis::send_headers(who, file, messagetype, from, None);
        self.send_raw(&h, file).await
    }

    async fn send_raw(&self, h: &Headers, file: &[u8]) -> Value {
        let mut body = file.to_vec();
        body.extend_from_slice(b"\r\n");
        self.json(Method::POST, "sendEdoc", h, body).await
    }

    /// `sendEdoc` as a genuine multipart body with the part `file_doc`.
    async fn send_multipart(&self, who: &Signer, file: &[u8], messagetype: &str) -> Value {
        let mut h = Axis::send_headers(who, file, messagetype, None, None);
        let boundary = "===1764214200042===";
        h.retain(|(k, _)| k != "Content-Type");
        h.push((
            "Content-Type".into(),
            format!("multipart/form-data; boundary={boundary}"),
        ));
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file_doc\"; filename=\"x.edxml\"\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(file);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        self.json(Method::POST, "sendEdoc", &h, body).await
    }

    async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}/admin/{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("admin answers");
        let status = r.status().as_u16();
        (status, r.json().await.expect("admin JSON"))
    }
}

fn assert_ok(v: &Value) {
    assert_eq!(v["status"], "OK", "{v}");
    assert_eq!(v["ErrorCode"], "0", "{v}");
    assert_eq!(v["ErrorDesc"], "Thanh cong", "{v}");
}

fn assert_fail(v: &Value, code: &str) {
    assert_eq!(v["status"], "FAIL", "{v}");
    assert_eq!(v["ErrorCode"], code, "{v}");
    assert!(
        v["ErrorDesc"].as_str().is_some_and(|d| !d.is_empty()),
        "{v}"
    );
}

fn doc_id(v: &Value) -> String {
    assert_ok(v);
    let id = v["DocId"].as_str().expect("DocId").to_owned();
    assert_eq!(id.len(), 36, "lowercase UUID: {id}");
    assert_eq!(id, id.to_ascii_lowercase());
    id
}

fn ids(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .expect("data array")
        .iter()
        .map(|i| i["docId"].as_str().expect("docId").to_owned())
        .collect()
}

async fn received(axis: &Axis, who: &Signer, messagetype: &str) -> Value {
    let v = axis
        .call(
            who,
            "getReceivedEdocList",
            &[("servicetype", "eDoc"), ("messagetype", messagetype)],
        )
        .await;
    assert_ok(&v);
    v
}

async fn update(axis: &Axis, who: &Signer, doc: &str, status: &str) -> Value {
    axis.call(who, "updateStatus", &[("docId", doc), ("status", status)])
        .await
}

// ---------------------------------------------------------------------------------------
// Signing (§5, §9.2).
// ---------------------------------------------------------------------------------------

#[test]
fn java_hashmap_order_reproduces_the_sdk_table() {
    let order = |params: &[&str]| {
        let mut keys = vec!["systemid", "timestamp", "Content-Type"];
        keys.extend_from_slice(params);
        let entries: Vec<(String, ())> = keys.iter().map(|k| ((*k).to_owned(), ())).collect();
        java_order(&entries)
            .into_iter()
            .map(|(k, _)| k)
            .collect::<Vec<_>>()
            .join(";")
    };
    let table = [
        (
            vec!["servicetype", "messagetype"],
            "systemid;servicetype;messagetype;timestamp;Content-Type",
        ),
        (
            vec!["servicetype", "messagetype", "docId"],
            "systemid;servicetype;messagetype;docId;timestamp;Content-Type",
        ),
        (
            vec!["servicetype", "messagetype", "hash-file", "from"],
            "systemid;servicetype;messagetype;hash-file;from;timestamp;Content-Type",
        ),
        (
            vec!["servicetype", "messagetype", "hash-file", "from", "to"],
            "systemid;servicetype;messagetype;hash-file;from;to;timestamp;Content-Type",
        ),
        (vec!["docId"], "systemid;docId;timestamp;Content-Type"),
        (
            vec!["docId", "status"],
            "systemid;docId;timestamp;Content-Type;status",
        ),
        (
            vec!["docId", "status", "description"],
            "systemid;docId;description;timestamp;Content-Type;status",
        ),
        (vec![], "systemid;timestamp;Content-Type"),
        (vec!["level"], "systemid;level;timestamp;Content-Type"),
        (
            vec!["AgencyCode"],
            "systemid;AgencyCode;timestamp;Content-Type",
        ),
        (
            vec!["docId", "filePath", "status"],
            "systemid;docId;filePath;timestamp;Content-Type;status",
        ),
    ];
    for (params, expected) in table {
        assert_eq!(order(&params), expected);
    }
    assert_eq!(gson("a\"b\\c\n\u{1}/<é"), "\"a\\\"b\\\\c\\n\\u0001/<é\"");
}

#[test]
fn hash_file_vectors_of_vdxp_md() {
    assert_eq!(
        hash_file(b"abc"),
        "ba7816bf8f1cfea414140de5dae2223b0361a396177a9cb410ff61f2015ad"
    );
    let inbox = hash_file(&sample("status_inbox_01.edxml"));
    assert_eq!(
        inbox,
        "f51ba8b927ea8c7e6c2be88ef55b86ca859f23fbcbf9e213e23e24e"
    );
    assert_eq!(inbox.len(), 55);
    assert_eq!(
        hash_file(&sample("edoc_update.edxml")),
        "90da13a57ed0e9a52280b620384dd33d9ca278f6fd7cb38e106acc783cd9a7"
    );
    assert_eq!(
        lienthong_sandbox::vdxp::sign::hash_file(&sample("edoc_update.edxml")),
        hash_file(&sample("edoc_update.edxml"))
    );
}

fn test_system() -> VdxpConfig {
    let mut c = VdxpConfig::default();
    c.systems.push(SystemEntry {
        systemid: "vxp.test.01".into(),
        secret: "s3cret".into(),
        organ_ids: vec!["000.00.13.H41".into()],
    });
    c
}

/// §5.2 sent verbatim, and the `sendEdoc` example of §5.2 rebuilt by the test signer.
#[tokio::test]
async fn worked_example_verifies_over_http() {
    let axis = Axis::start(test_system()).await;
    let sign = r#"{"XroadVnpt-systemid":"vxp.test.01","XroadVnpt-servicetype":"eDoc","XroadVnpt-messagetype":"edoc","XroadVnpt-timestamp":"27112025T103000+0042","XroadVnpt-Content-Type":"application/json"}"#;
    let verbatim: Headers = [
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
        ("XroadVnpt-sign-header", sign),
        (
            "XroadVnpt-hash-header",
            "ef46a3a70705f112a3e6f8410d02e6a9b1eaaf596fc9d3ba6c0fe16b2ea85f1e",
        ),
        ("User-Agent", "JAVASDKAgent/1.0.0 XRoad/VPCP"),
        ("XroadVnpt-version", "3.0.201608"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let s = signer("vxp.test.01", "s3cret");
    let rebuilt = s.headers_at(
        "application/json",
        &[("servicetype", "eDoc"), ("messagetype", "edoc")],
        "27112025T103000+0042",
    );
    for name in [
        "XroadVnpt-sign-header",
        "XroadVnpt-hash-header",
        "XroadVnpt-sign-header-key",
    ] {
        assert_eq!(get(&rebuilt, name), get(&verbatim, name), "{name}");
    }
    let v = axis
        .json(Method::POST, "getReceivedEdocList", &verbatim, Vec::new())
        .await;
    assert_ok(&v);
    assert_eq!(v["data"], json!([]));

    let h = s.headers_at(
        "application/octet-stream",
        &[
            ("servicetype", "eDoc"),
            ("messagetype", "edoc"),
            ("hash-file", &hash_file(b"abc")),
            ("from", H41),
        ],
        "27112025T103000+0042",
    );
    assert_eq!(
        get(&h, "XroadVnpt-sign-header"),
        r#"{"XroadVnpt-systemid":"vxp.test.01","XroadVnpt-servicetype":"eDoc","XroadVnpt-messagetype":"edoc","XroadVnpt-hash-file":"ba7816bf8f1cfea414140de5dae2223b0361a396177a9cb410ff61f2015ad","XroadVnpt-from":"000.00.00.H41","XroadVnpt-timestamp":"27112025T103000+0042","XroadVnpt-Content-Type":"application/octet-stream"}"#
    );
    assert_eq!(
        get(&h, "XroadVnpt-hash-header"),
        "5843ac42f16ef683207b53cb44abfdea878d998412d901e0061cfe578bb3dc3f"
    );
    // Signature and hash-file pass; `abc` is no edXML message.
    let v = axis.send_raw(&h, b"abc").await;
    assert_fail(&v, "422");

    let to = s.headers_at(
        "application/octet-stream",
        &[
            ("servicetype", "eDoc"),
            ("messagetype", "edoc"),
            ("hash-file", "x"),
            ("from", H41),
            ("to", r#"["000.00.00.G22"]"#),
        ],
        "27112025T103000+0042",
    );
    assert!(get(&to, "XroadVnpt-sign-header").contains(r#""XroadVnpt-to":"[\"000.00.00.G22\"]""#));
    assert_eq!(get(&to, "XroadVnpt-to"), r#"["000.00.00.G22"]"#);
}

#[tokio::test]
async fn authentication_failures_are_401() {
    let axis = Axis::default().await;
    let params = [("servicetype", "eDoc"), ("messagetype", "edoc")];
    let ok = lienthong().headers("application/json", &params);
    let run = |h: Headers| {
        let axis = &axis;
        async move {
            axis.json(Method::POST, "getReceivedEdocList", &h, Vec::new())
                .await
        }
    };
    assert_ok(&run(ok.clone()).await);

    // Bad HMAC: wrong secret, or a flipped digit.
    let h = signer("lienthong", "wrong").headers("application/json", &params);
    assert_fail(&run(h).await, "401");
    let mut h = ok.clone();
    let mut mac = get(&h, "XroadVnpt-hash-header").to_owned();
    mac.replace_range(0..1, if mac.starts_with('0') { "1" } else { "0" });
    set(&mut h, "XroadVnpt-hash-header", &mac);
    assert_fail(&run(h).await, "401");
    // Upper-case hex is the same digest.
    let mut h = ok.clone();
    let upper = get(&h, "XroadVnpt-hash-header").to_ascii_uppercase();
    set(&mut h, "XroadVnpt-hash-header", &upper);
    assert_ok(&run(h).await);

    // Unknown system.
    let h = signer("nobody", "x").headers("application/json", &params);
    assert_fail(&run(h).await, "401");

    // Missing signature headers.
    for name in [
        "XroadVnpt-systemid",
        "XroadVnpt-sign-header",
        "XroadVnpt-hash-header",
    ] {
        let mut h = ok.clone();
        remove(&mut h, name);
        assert_fail(&run(h).await, "401");
    }

    // A signed member that differs from its header, or whose header is missing.
    let mut h = ok.clone();
    set(&mut h, "XroadVnpt-messagetype", "status");
    assert_fail(&run(h).await, "401");
    let mut h = ok.clone();
    remove(&mut h, "XroadVnpt-servicetype");
    assert_fail(&run(h).await, "401");
    // The header systemid must be the signed one.
    let mut h = lienthong().headers("application/json", &params);
    set(&mut h, "XroadVnpt-systemid", "peer");
    assert_fail(&run(h).await, "401");

    // sign-header-key must list the signed names; order and case are free.
    let mut h = ok.clone();
    set(
        &mut h,
        "XroadVnpt-sign-header-key",
        "systemid;servicetype;timestamp;Content-Type",
    );
    assert_fail(&run(h).await, "401");
    let mut h = ok.clone();
    set(
        &mut h,
        "XroadVnpt-sign-header-key",
        "Content-Type;timestamp;messagetype;servicetype;systemid",
    );
    assert_ok(&run(h).await);
    let mut h = ok.clone();
    remove(&mut h, "XroadVnpt-sign-header-key");
    assert_ok(&run(h).await);

    // Not JSON.
    let mut h = ok.clone();
    let sign = "not json";
    set(&mut h, "XroadVnpt-sign-header", sign);
    let mac = hex(&hmac_sha256(b"lienthong-vdxp-secret", sign.as_bytes()));
    set(&mut h, "XroadVnpt-hash-header", &mac);
    assert_fail(&run(h).await, "401");

    // A timestamp that does not parse, or is not signed.
    let h = lienthong().headers_at("application/json", &params, "2025-11-27T10:30:00");
    assert_fail(&run(h).await, "401");

    assert!(
        axis.sim
            .calls()
            .count("getReceivedEdocList", "unauthorized")
            >= 10
    );
}

#[tokio::test]
async fn unsigned_operation_parameters_are_401() {
    let axis = Axis::default().await;
    let edoc = sample("edoc_update.edxml");
    let v = axis.send_edoc(&peer(), &edoc, "edoc", Some(G22)).await;
    let _ = doc_id(&v);
    let id = ids(&received(&axis, &lienthong(), "edoc").await)[0].clone();

    // docId sent as a header but not signed.
    let mut h = lienthong().headers("application/json", &[]);
    h.push(("XroadVnpt-docId".into(), id.clone()));
    let v = axis.json(Method::POST, "getEdoc", &h, b"{}".to_vec()).await;
    assert_fail(&v, "401");
    // status unsigned on updateStatus.
    let mut h = lienthong().headers("application/json", &[("docId", &id)]);
    h.push(("XroadVnpt-status".into(), "done".into()));
    let v = axis
        .json(Method::POST, "updateStatus", &h, b"{}".to_vec())
        .await;
    assert_fail(&v, "401");
    // messagetype unsigned on the list.
    let mut h = lienthong().headers("application/json", &[("servicetype", "eDoc")]);
    h.push(("XroadVnpt-messagetype".into(), "edoc".into()));
    let v = axis
        .json(Method::POST, "getReceivedEdocList", &h, Vec::new())
        .await;
    assert_fail(&v, "401");
    // to unsigned on sendEdoc.
    let mut h = Axis::send_headers(&peer(), &edoc, "edoc", Some(G22), None);
    h.push(("XroadVnpt-to".into(), H41.into()));
    assert_fail(&axis.send_raw(&h, &edoc).await, "401");
    // A missing (rather than unsigned) parameter is 400.
    let v = axis.call(&lienthong(), "getEdoc", &[]).await;
    assert_fail(&v, "400");
    let v = axis
        .call(
            &lienthong(),
            "getReceivedEdocList",
            &[("servicetype", "eDoc")],
        )
        .await;
    assert_fail(&v, "400");
    assert_eq!(
        axis.sim.delivery(&id).expect("kept").state,
        DeliveryState::Pending
    );
}

#[tokio::test]
async fn extra_members_stale_timestamps_and_case_are_tolerated() {
    let axis = Axis::default().await;
    let edoc = sample("edoc_update.edxml");
    doc_id(&axis.send_edoc(&peer(), &edoc, "edoc", Some(G22)).await);
    let id = ids(&received(&axis, &lienthong(), "edoc").await)[0].clone();

    // The SDK quirks: a timestamp from start-up, and parameters of earlier calls signed
    // again (updateStatus after getEdoc signs filePath).
    let h = lienthong().headers_at(
        "application/json",
        &[
            ("docId", &id),
            ("filePath", "/tmp/inbox/x.edxml"),
            ("servicetype", "eDoc"),
            ("messagetype", "edoc"),
            ("status", "processing"),
        ],
        "01012019T000000+0000",
    );
    assert!(get(&h, "XroadVnpt-sign-header-key").contains("filePath"));
    let v = axis
        .json(Method::POST, "updateStatus", &h, b"{}".to_vec())
        .await;
    assert_ok(&v);
    assert_eq!(
        axis.sim.delivery(&id).expect("kept").state,
        DeliveryState::Processing
    );

    // docid (lower case) is docId; header names are case-insensitive.
    let h = lienthong().headers("application/json", &[("docid", &id)]);
    let h: Headers = h
        .into_iter()
        .map(|(k, v)| {
            if k == "XroadVnpt-docid" {
                ("XROADVNPT-DOCID".to_owned(), v)
            } else {
                (k, v)
            }
        })
        .collect();
    let v = axis.json(Method::POST, "getEdoc", &h, b"{}".to_vec()).await;
    assert_ok(&v);
    assert!(v["data"].as_str().is_some());
}

#[tokio::test]
async fn configured_skew_refuses_stale_timestamps() {
    let axis = Axis::start(VdxpConfig {
        max_timestamp_skew_secs: Some(300),
        ..VdxpConfig::default()
    })
    .await;
    let params = [("servicetype", "eDoc"), ("messagetype", "edoc")];
    let h = lienthong().headers_at("application/json", &params, "01012019T000000+0000");
    let v = axis
        .json(Method::POST, "getReceivedEdocList", &h, Vec::new())
        .await;
    assert_fail(&v, "401");
    assert_ok(&received(&axis, &lienthong(), "edoc").await);
}

// ---------------------------------------------------------------------------------------
// sendEdoc (§7, §9.3).
// ---------------------------------------------------------------------------------------

fn from_of(name: &str) -> &'static str {
    if name == "edoc_new.edxml" {
        "002.00.20.H13"
    } else {
        G22
    }
}

fn recipients_of(name: &str) -> Vec<&'static str> {
    if name == "edoc_new.edxml" {
        vec!["28.22.H17"]
    } else {
        vec![H41, H14, G17]
    }
}

#[tokio::test]
async fn each_official_sample_is_accepted_raw_and_multipart() {
    let axis = Axis::start(with_edoc_new()).await;
    for name in EDOCS {
        let file = sample(name);
        for multipart in [false, true] {
            let v = if multipart {
                axis.send_multipart(&peer(), &file, "edoc").await
            } else {
                axis.send_edoc(&peer(), &file, "edoc", Some(from_of(name)))
                    .await
            };
            let id = doc_id(&v);
            let m = axis.sim.sent_message(&id).expect("recorded");
            assert_eq!(m.bytes, file, "{name}: the file without the trailing CR LF");
            assert_eq!(m.system, "peer");
            assert_eq!(m.from, from_of(name));
            assert_eq!(m.document_id.as_deref(), Some(DOC));
            let to: Vec<&str> = m.recipients.iter().map(|r| r.to.as_str()).collect();
            assert_eq!(to, recipients_of(name), "{name}");
            assert!(m.trace_inserted);
            assert!(m.recipients.iter().all(|r| r.deliveries.len() == 1));
        }
    }
    assert_eq!(axis.sim.sent(Some("peer")).len(), 8);
    assert!(axis.sim.sent(Some("lienthong")).is_empty());
    // The statuses too, from their senders' systems.
    for name in [
        "status_inbox_01.edxml",
        "status_rejection_02.edxml",
        "status_acceptance_03.edxml",
        "status_assignment_04.edxml",
        "status_processing_05.edxml",
        "status_finish_06.edxml",
        "status_change-acceptance_15.edxml",
        "status_change-rejection_16.edxml",
    ] {
        let v = axis
            .send_edoc(&lienthong(), &sample(name), "status", Some(H41))
            .await;
        doc_id(&v);
    }
    let v = axis
        .send_edoc(
            &peer(),
            &sample("status_cancellation_13.edxml"),
            "status",
            Some(G22),
        )
        .await;
    doc_id(&v);
}

#[tokio::test]
async fn hash_file_is_checked() {
    let axis = Axis::default().await;
    let file = sample("edoc_update.edxml");
    // Wrong digest → 400.
    let mut h = Axis::send_headers(&peer(), &file, "edoc", Some(G22), None);
    let bad = hash_file(b"other");
    let hb = peer().headers(
        "application/octet-stream",
        &[
            ("servicetype", "eDoc"),
            ("messagetype", "edoc"),
            ("hash-file", &bad),
            ("from", G22),
        ],
    );
    assert_fail(&axis.send_raw(&hb, &file).await, "400");
    // The hash is over the file without the trailing CR LF: hashing the body fails.
    let mut body = file.clone();
    body.extend_from_slice(b"\r\n");
    let hb = Axis::send_headers(&peer(), &body, "edoc", Some(G22), None);
    let v = axis.json(Method::POST, "sendEdoc", &hb, body.clone()).await;
    assert_fail(&v, "400");
    // Only one CR LF is stripped.
    let mut twice = body.clone();
    twice.extend_from_slice(b"\r\n");
    let v = axis.json(Method::POST, "sendEdoc", &hb, twice).await;
    doc_id(&v);
    // A bare LF is stripped too.
    let mut lf = file.clone();
    lf.push(b'\n');
    doc_id(&axis.json(Method::POST, "sendEdoc", &h, lf).await);
    // Without the terminator, the sample's own final CR LF is taken for it: the hash
    // no longer matches (a file that does not end with a line break would pass).
    assert!(file.ends_with(b"\r\n"));
    assert_fail(
        &axis.json(Method::POST, "sendEdoc", &h, file.clone()).await,
        "400",
    );
    let bare = &file[..file.len() - 2];
    let hb = Axis::send_headers(&peer(), bare, "edoc", Some(G22), None);
    doc_id(
        &axis
            .json(Method::POST, "sendEdoc", &hb, bare.to_vec())
            .await,
    );
    // The padded 64-character form is accepted.
    let padded = hex(&Sha256::digest(&file));
    assert_eq!(padded.len(), 64);
    let hp = peer().headers(
        "application/octet-stream",
        &[
            ("servicetype", "eDoc"),
            ("messagetype", "edoc"),
            ("hash-file", &padded),
            ("from", G22),
        ],
    );
    doc_id(&axis.send_raw(&hp, &file).await);
    // Missing hash-file → 400; empty file → 400.
    let hm = peer().headers(
        "application/octet-stream",
        &[("servicetype", "eDoc"), ("messagetype", "edoc")],
    );
    assert_fail(&axis.send_raw(&hm, &file).await, "400");
    set(&mut h, "Content-Type", "multipart/form-data; boundary=zz");
    let v = axis
        .json(Method::POST, "sendEdoc", &h, b"--zz--\r\n".to_vec())
        .await;
    assert_fail(&v, "400");
}

#[tokio::test]
async fn kind_must_match_messagetype() {
    let axis = Axis::default().await;
    let v = axis
        .send_edoc(&peer(), &sample("edoc_update.edxml"), "status", Some(G22))
        .await;
    assert_fail(&v, "422");
    let v = axis
        .send_edoc(
            &lienthong(),
            &sample("status_acceptance_03.edxml"),
            "edoc",
            Some(H41),
        )
        .await;
    assert_fail(&v, "422");
    let v = axis
        .send_edoc(&peer(), b"<html>not edXML</html>", "edoc", Some(G22))
        .await;
    assert_fail(&v, "422");
    let v = axis
        .send_edoc(&peer(), &sample("edoc_update.edxml"), "fax", Some(G22))
        .await;
    assert_fail(&v, "400");
    assert!(axis.sim.sent(None).is_empty());
    assert!(axis.sim.deliveries(None).is_empty());
}

#[tokio::test]
async fn sender_must_be_hosted() {
    let axis = Axis::default().await;
    let edoc = sample("edoc_update.edxml");
    // G22 belongs to peer, not to lienthong.
    assert_fail(
        &axis.send_edoc(&lienthong(), &edoc, "edoc", None).await,
        "403",
    );
    // from names an organisation of another system.
    assert_fail(
        &axis.send_edoc(&peer(), &edoc, "edoc", Some(H41)).await,
        "403",
    );
    // The systemid counts as an organisation of the system.
    let text = String::from_utf8(edoc.clone()).expect("utf-8");
    let own = text.replacen(
        "<edXML:OrganId>000.00.00.G22</edXML:OrganId>",
        "<edXML:OrganId>peer</edXML:OrganId>",
        1,
    );
    doc_id(
        &axis
            .send_edoc(&peer(), own.as_bytes(), "edoc", Some("peer"))
            .await,
    );
    assert!(axis.sim.deliveries(None).iter().all(|d| d.from == "peer"));

    let off = Axis::start(VdxpConfig {
        check_sender_hosted: false,
        ..VdxpConfig::default()
    })
    .await;
    doc_id(&off.send_edoc(&lienthong(), &edoc, "edoc", None).await);
}

#[tokio::test]
async fn recipients_from_the_to_parameter_and_unknown_recipients() {
    let axis = Axis::default().await;
    let edoc = sample("edoc_update.edxml");
    let send_to = |to: &'static str| {
        let axis = &axis;
        let edoc = edoc.clone();
        async move {
            let h = Axis::send_headers(&peer(), &edoc, "edoc", Some(G22), Some(to));
            axis.send_raw(&h, &edoc).await
        }
    };
    // A JSON array with an unknown code: delivered to H41, failed for the other.
    let id = doc_id(&send_to(r#"["000.00.00.H41","000.00.00.X99"]"#).await);
    let m = axis.sim.sent_message(&id).expect("recorded");
    assert_eq!(m.recipients.len(), 2);
    assert_eq!(m.recipients[0].deliveries.len(), 1);
    assert_eq!(m.recipients[1].system, None);
    assert!(m.recipients[1].deliveries.is_empty());
    let sent = axis
        .call(
            &peer(),
            "getSentEdocList",
            &[
                ("servicetype", "eDoc"),
                ("messagetype", "edoc"),
                ("docId", &id),
            ],
        )
        .await;
    assert_ok(&sent);
    let items = sent["data"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["sendStatus"], "delivered");
    assert_eq!(items[1]["sendStatus"], "failed");
    assert_eq!(items[1]["toCode"], "000.00.00.X99");
    assert_eq!(items[1]["receiverDocId"], "");
    // A JSON string and comma-separated text.
    let id = doc_id(&send_to(r#""000.00.00.H14""#).await);
    assert_eq!(
        axis.sim.sent_message(&id).expect("sent").recipients[0].to,
        H14
    );
    let id = doc_id(&send_to("000.00.00.H14, 000.00.12.H41").await);
    let m = axis.sim.sent_message(&id).expect("sent");
    assert_eq!(m.recipients[1].system.as_deref(), Some("lienthong"));
    // Nobody deliverable → 422, nothing recorded.
    assert_fail(&send_to(r#"["000.00.00.X99"]"#).await, "422");
    assert_eq!(axis.sim.sent(None).len(), 3);
}

#[tokio::test]
async fn statuses_follow_the_original_document() {
    let axis = Axis::default().await;
    let edoc_id = doc_id(
        &axis
            .send_edoc(&peer(), &sample("edoc_update.edxml"), "edoc", Some(G22))
            .await,
    );
    // 03 from H41 about the G22 document → to G22, on peer.
    let id = doc_id(
        &axis
            .send_edoc(
                &lienthong(),
                &sample("status_acceptance_03.edxml"),
                "status",
                Some(H41),
            )
            .await,
    );
    let m = axis.sim.sent_message(&id).expect("sent");
    assert_eq!(m.message_type, MessageType::Status);
    assert_eq!(m.status_code.as_deref(), Some("03"));
    let to: Vec<(&str, Option<&str>)> = m
        .recipients
        .iter()
        .map(|r| (r.to.as_str(), r.system.as_deref()))
        .collect();
    assert_eq!(to, [(G22, Some("peer"))]);
    let statuses = received(&axis, &peer(), "status").await;
    assert_eq!(statuses["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(statuses["data"][0]["from"], H41);
    assert_eq!(statuses["data"][0]["to"], G22);
    assert_eq!(statuses["data"][0]["messageType"], "status");
    // Delivered unchanged: no trace entry in statuses.
    let d = axis.sim.delivery(&ids(&statuses)[0]).expect("delivery");
    assert_eq!(d.bytes, sample("status_acceptance_03.edxml"));
    assert!(
        received(&axis, &lienthong(), "status").await["data"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );

    // 13 from G22 (the document's sender) → to its recipients H41, H14, G17.
    let id = doc_id(
        &axis
            .send_edoc(
                &peer(),
                &sample("status_cancellation_13.edxml"),
                "status",
                Some(G22),
            )
            .await,
    );
    let m = axis.sim.sent_message(&id).expect("sent");
    let to: Vec<&str> = m.recipients.iter().map(|r| r.to.as_str()).collect();
    assert_eq!(to, [H41, H14, G17]);
    let lt = received(&axis, &lienthong(), "status").await;
    assert_eq!(lt["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(lt["data"][0]["from"], G22);
    assert_eq!(lt["data"][0]["to"], H41);
    // peer now has the 03 and two copies of the 13 (H14, G17).
    assert_eq!(
        received(&axis, &peer(), "status").await["data"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    assert!(axis.sim.sent_message(&edoc_id).is_some());
}

#[tokio::test]
async fn statuses_fall_back_to_response_for_organ() {
    let axis = Axis::default().await;
    // No document known: 03's ResponseFor/OrganId is G22 (registered).
    let id = doc_id(
        &axis
            .send_edoc(
                &lienthong(),
                &sample("status_acceptance_03.edxml"),
                "status",
                Some(H41),
            )
            .await,
    );
    assert_eq!(
        axis.sim.sent_message(&id).expect("sent").recipients[0].to,
        G22
    );
    // 13's ResponseFor/OrganId is H41.
    let id = doc_id(
        &axis
            .send_edoc(
                &peer(),
                &sample("status_cancellation_13.edxml"),
                "status",
                Some(G22),
            )
            .await,
    );
    assert_eq!(
        axis.sim.sent_message(&id).expect("sent").recipients[0].to,
        H41
    );
    // Unregistered ResponseFor/OrganId and no document → 422.
    let text = String::from_utf8(sample("status_acceptance_03.edxml")).expect("utf-8");
    let stray = text.replace(
        "<edXML:OrganId>000.00.00.G22</edXML:OrganId>",
        "<edXML:OrganId>000.00.00.X99</edXML:OrganId>",
    );
    assert_fail(
        &axis
            .send_edoc(&lienthong(), stray.as_bytes(), "status", Some(H41))
            .await,
        "422",
    );
}

// ---------------------------------------------------------------------------------------
// Receiving side (§9.4).
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn every_recipient_has_its_own_delivery() {
    let axis = Axis::default().await;
    let id = doc_id(
        &axis
            .send_edoc(&peer(), &sample("edoc_revocation.edxml"), "edoc", Some(G22))
            .await,
    );
    let m = axis.sim.sent_message(&id).expect("sent");
    let mut all: Vec<String> = m
        .recipients
        .iter()
        .flat_map(|r| r.deliveries.iter().map(|d| d.doc_id.clone()))
        .collect();
    assert_eq!(all.len(), 3);
    assert!(!all.contains(&id));
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 3);
    let lt = received(&axis, &lienthong(), "edoc").await;
    let item = &lt["data"][0];
    assert_eq!(lt["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(item["serviceType"], "eDoc");
    assert_eq!(item["messageType"], "edoc");
    assert_eq!(item["from"], G22);
    assert_eq!(item["to"], H41);
    assert_eq!(item["status"], "pending");
    for key in ["created_time", "updated_time"] {
        let t = item[key].as_str().expect("time");
        assert_eq!(t.len(), 19, "yyyy/MM/dd HH:mm:ss: {t}");
        assert_eq!(&t[4..5], "/");
    }
    let pr = received(&axis, &peer(), "edoc").await;
    let to: Vec<&str> = pr["data"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["to"].as_str())
        .collect();
    assert_eq!(to, [H14, G17]);
    // Nobody reads another system's delivery.
    let foreign = ids(&pr)[0].clone();
    assert_fail(
        &axis
            .call(&lienthong(), "getEdoc", &[("docId", &foreign)])
            .await,
        "404",
    );
    assert_fail(&update(&axis, &lienthong(), &foreign, "done").await, "404");
}

#[tokio::test]
async fn receive_state_machine() {
    let axis = Axis::default().await;
    let file = sample("edoc_replacement.edxml");
    doc_id(&axis.send_edoc(&peer(), &file, "edoc", Some(G22)).await);
    doc_id(
        &axis
            .send_edoc(&peer(), &sample("edoc_update.edxml"), "edoc", Some(G22))
            .await,
    );
    let lt = lienthong();
    let listed = ids(&received(&axis, &lt, "edoc").await);
    assert_eq!(listed.len(), 2, "oldest first");
    let (first, second) = (listed[0].clone(), listed[1].clone());
    assert!(ids(&received(&axis, &lt, "status").await).is_empty());

    // getEdoc: base64 of the delivered bytes; fetching changes nothing.
    let v = axis.call(&lt, "getEdoc", &[("docId", &first)]).await;
    assert_ok(&v);
    let data = STANDARD
        .decode(v["data"].as_str().expect("data"))
        .expect("base64");
    assert_eq!(data, axis.sim.delivery(&first).expect("kept").bytes);
    assert_eq!(ids(&received(&axis, &lt, "edoc").await), listed);
    // downloadEdoc (GET): the raw bytes.
    let h = lt.headers("application/json", &[("docId", &first)]);
    let r = axis
        .send(Method::GET, "downloadEdoc", &h, Vec::new())
        .await
        .expect("answer");
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.expect("body").to_vec(), data);
    assert_eq!(axis.sim.delivery(&first).expect("kept").fetches, 2);

    // processing keeps it listed, with a description.
    let h = lt.headers(
        "application/json",
        &[
            ("docId", &first),
            ("status", "processing"),
            ("description", "Dang xu ly"),
        ],
    );
    assert_ok(
        &axis
            .json(Method::POST, "updateStatus", &h, b"{}".to_vec())
            .await,
    );
    let v = received(&axis, &lt, "edoc").await;
    assert_eq!(ids(&v), listed);
    assert_eq!(v["data"][0]["status"], "processing");
    assert_eq!(
        axis.sim
            .delivery(&first)
            .expect("kept")
            .description
            .as_deref(),
        Some("Dang xu ly")
    );
    // done removes it; repeating done is fine; changing a final value is 409.
    assert_ok(&update(&axis, &lt, &first, "done").await);
    assert_eq!(ids(&received(&axis, &lt, "edoc").await), [second.as_str()]);
    assert_ok(&update(&axis, &lt, &first, "done").await);
    assert_fail(&update(&axis, &lt, &first, "fail").await, "409");
    assert_fail(&update(&axis, &lt, &first, "processing").await, "409");
    // A final delivery can still be fetched.
    assert_ok(&axis.call(&lt, "getEdoc", &[("docId", &first)]).await);
    // fail is final too.
    assert_ok(&update(&axis, &lt, &second, "fail").await);
    assert_fail(&update(&axis, &lt, &second, "done").await, "409");
    assert!(ids(&received(&axis, &lt, "edoc").await).is_empty());
    // Bad value → 400; unknown docId → 404.
    assert_fail(&update(&axis, &lt, &second, "read").await, "400");
    assert_fail(
        &update(&axis, &lt, "5bebcfeff858e3e0cc154762", "done").await,
        "404",
    );
    assert_fail(
        &axis
            .call(&lt, "getEdoc", &[("docId", "5bebcfeff858e3e0cc154762")])
            .await,
        "404",
    );
    let h = lt.headers("application/json", &[("docId", "nope")]);
    let v = axis.json(Method::GET, "downloadEdoc", &h, Vec::new()).await;
    assert_fail(&v, "404");
    assert_eq!(
        axis.sim.delivery(&first).expect("kept").state,
        DeliveryState::Done
    );
    assert_eq!(
        axis.sim.delivery(&second).expect("kept").state,
        DeliveryState::Fail
    );
}

#[tokio::test]
async fn counts_and_paging() {
    let axis = Axis::default().await;
    for _ in 0..3 {
        doc_id(
            &axis
                .send_edoc(&peer(), &sample("edoc_update.edxml"), "edoc", Some(G22))
                .await,
        );
    }
    doc_id(
        &axis
            .send_edoc(
                &peer(),
                &sample("status_cancellation_13.edxml"),
                "status",
                Some(G22),
            )
            .await,
    );
    let lt = lienthong();
    let params = [("servicetype", "eDoc"), ("messagetype", "edoc")];
    for (op, expected) in [("countReceiveEdoc", 3), ("countReceiveStatus", 1)] {
        for method in [Method::POST, Method::GET] {
            let h = lt.headers("application/json", &params);
            let v = axis.json(method, op, &h, b"{}".to_vec()).await;
            assert_ok(&v);
            assert_eq!(v["count"], expected, "{op}");
        }
    }
    // Counts without any parameter.
    assert_eq!(axis.call(&lt, "countReceiveEdoc", &[]).await["count"], 3);
    assert_eq!(
        axis.call(&peer(), "countReceiveEdoc", &[]).await["count"],
        6
    );

    let all = ids(&received(&axis, &lt, "edoc").await);
    let page = |size: &'static str, index: &'static str| {
        let axis = &axis;
        let lt = lt.clone();
        async move {
            axis.call(
                &lt,
                "getReceivedEdocList",
                &[
                    ("servicetype", "eDoc"),
                    ("messagetype", "edoc"),
                    ("pageSize", size),
                    ("pageIndex", index),
                ],
            )
            .await
        }
    };
    assert_eq!(ids(&page("2", "1").await), all[..2]);
    assert_eq!(ids(&page("2", "2").await), all[2..]);
    assert!(ids(&page("2", "3").await).is_empty());
    assert_fail(&page("0", "1").await, "400");
    assert_ok(&update(&axis, &lt, &all[0], "done").await);
    assert_eq!(axis.call(&lt, "countReceiveEdoc", &[]).await["count"], 2);
    assert_eq!(axis.sim.listed("lienthong", MessageType::Edoc).len(), 2);
}

#[tokio::test]
async fn sent_list_reports_each_recipient() {
    let axis = Axis::default().await;
    let id = doc_id(
        &axis
            .send_edoc(&peer(), &sample("edoc_update.edxml"), "edoc", Some(G22))
            .await,
    );
    let lt = lienthong();
    let delivery = ids(&received(&axis, &lt, "edoc").await)[0].clone();
    let h = lt.headers(
        "application/json",
        &[
            ("docId", &delivery),
            ("status", "done"),
            ("description", "Da nhan"),
        ],
    );
    assert_ok(
        &axis
            .json(Method::POST, "updateStatus", &h, b"{}".to_vec())
            .await,
    );

    let params = [
        ("servicetype", "eDoc"),
        ("messagetype", "edoc"),
        ("docId", id.as_str()),
    ];
    let v = axis.call(&peer(), "getSentEdocList", &params).await;
    assert_ok(&v);
    let items = v["data"].as_array().expect("items");
    assert_eq!(items.len(), 3);
    for (item, to) in items.iter().zip([H41, H14, G17]) {
        assert_eq!(item["serviceType"], "eDoc");
        assert_eq!(item["messageType"], "edoc");
        assert_eq!(item["senderDocId"], id.as_str());
        assert_eq!(item["fromCode"], G22);
        assert_eq!(item["toCode"], to);
        assert_eq!(item["sendStatus"], "delivered");
        assert_eq!(item["notation"], "7816/VPCP-TTĐT");
        assert!(item["title"].as_str().is_some_and(|t| t.starts_with("V/v")));
        assert_eq!(item["sentTime"].as_str().map(str::len), Some(19));
        for key in [
            "sendStatusDesc",
            "receivedTime",
            "receiveStatusDesc",
            "receiverDocId",
        ] {
            assert!(item[key].is_string(), "{key}");
        }
    }
    assert_eq!(items[0]["receiverDocId"], delivery.as_str());
    assert_eq!(items[0]["receiveStatus"], "done");
    assert_eq!(items[0]["receiveStatusDesc"], "Da nhan");
    assert_eq!(items[0]["receivedTime"].as_str().map(str::len), Some(19));
    assert_eq!(items[1]["receiveStatus"], "");
    assert_eq!(items[1]["receivedTime"], "");
    // Only the sender may ask; unknown ids are 404.
    assert_fail(&axis.call(&lt, "getSentEdocList", &params).await, "404");
    assert_fail(
        &axis
            .call(
                &peer(),
                "getSentEdocList",
                &[("docId", "00000000-0000-4000-8000-000000000000")],
            )
            .await,
        "404",
    );
    // Without docId (sim rule 18): every send of the caller, of the given messagetype.
    let all = axis.call(&peer(), "getSentEdocList", &[]).await;
    assert_ok(&all);
    assert_eq!(all["data"], v["data"], "{all}");
    let statuses = axis
        .call(&peer(), "getSentEdocList", &[("messagetype", "status")])
        .await;
    assert_ok(&statuses);
    assert_eq!(statuses["data"], json!([]), "{statuses}");
    let theirs = axis.call(&lt, "getSentEdocList", &[]).await;
    assert_ok(&theirs);
    assert!(
        theirs["data"]
            .as_array()
            .is_some_and(|d| d.iter().all(|i| i["fromCode"] != "000.00.00.G22")),
        "another system's sends are not listed: {theirs}"
    );
}

// ---------------------------------------------------------------------------------------
// Agencies.
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn agency_calls() {
    let axis = Axis::default().await;
    let lt = lienthong();
    let v = axis.call(&lt, "getAgenciesList", &[]).await;
    assert_ok(&v);
    let list = v["data"].as_array().expect("data");
    assert_eq!(list.len(), 5);
    for a in list {
        for key in ["id", "code", "name", "mail", "pid", "oldCode"] {
            assert!(a[key].is_string(), "{key}: {a}");
        }
    }
    assert!(
        list.iter()
            .any(|a| a["code"] == H41 && a["name"] == "UBND Tỉnh Nghệ An")
    );

    let v = axis
        .call(&lt, "getAgenciesListQD20", &[("level", "1")])
        .await;
    assert_ok(&v);
    let qd = v["data"].as_array().expect("data");
    assert_eq!(qd.len(), 4);
    assert!(
        qd.iter()
            .all(|a| a["code102"].is_string() && a["code"] != "000.00.12.H41")
    );
    assert_eq!(
        axis.call(&lt, "getAgenciesListQD20", &[("level", "2")])
            .await["data"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_fail(
        &axis
            .call(&lt, "getAgenciesListQD20", &[("level", "x")])
            .await,
        "400",
    );

    let v = axis.call(&lt, "getSynchronizeUnit", &[]).await;
    assert_ok(&v);
    let units = v["data"].as_array().expect("data");
    let h41 = units.iter().find(|u| u["code"] == H41).expect("H41");
    assert_eq!(h41["centerCode"], "lienthong");
    assert_eq!(h41["version"], 1);
    assert_eq!(h41["deleted"], false);
    assert_eq!(h41["isAgency"], true);
    assert!(h41["modifyDate"].is_string() && h41["pid"].is_string());

    // registerAgency attaches a new organisation to the caller.
    let h = lt.headers("application/json", &[]);
    let body = json!({"id": "", "pcode": H41, "code": "000.00.15.H41", "name": "Sở Xây dựng",
                      "mail": "sxd@nghean.gov.vn", "mobile": "", "fax": ""});
    let v = axis
        .json(
            Method::POST,
            "registerAgency",
            &h,
            body.to_string().into_bytes(),
        )
        .await;
    assert_ok(&v);
    assert!(axis.sim.systems()[0].hosts("000.00.15.H41"));
    let list = axis.call(&lt, "getAgenciesList", &[]).await;
    let new = list["data"]
        .as_array()
        .and_then(|l| l.iter().find(|a| a["code"] == "000.00.15.H41").cloned())
        .expect("registered");
    assert_eq!(new["pid"], H41);
    assert_eq!(new["name"], "Sở Xây dựng");
    // …which can now receive.
    let h = Axis::send_headers(
        &peer(),
        &sample("edoc_update.edxml"),
        "edoc",
        Some(G22),
        Some("000.00.15.H41"),
    );
    doc_id(&axis.send_raw(&h, &sample("edoc_update.edxml")).await);
    assert_eq!(
        received(&axis, &lt, "edoc").await["data"][0]["to"],
        "000.00.15.H41"
    );
    // Registering another system's organisation → 403; a body without code → 400.
    let h = lt.headers("application/json", &[]);
    let v = axis
        .json(
            Method::POST,
            "registerAgency",
            &h,
            json!({"code": G22}).to_string().into_bytes(),
        )
        .await;
    assert_fail(&v, "403");
    let v = axis
        .json(Method::POST, "registerAgency", &h, b"{}".to_vec())
        .await;
    assert_fail(&v, "400");

    // deleteAgency: gone from the lists, deleted with a new version in the sync list.
    let v = axis
        .call(&lt, "deleteAgency", &[("AgencyCode", "000.00.15.H41")])
        .await;
    assert_ok(&v);
    assert!(!axis.sim.systems()[0].hosts("000.00.15.H41"));
    let list = axis.call(&lt, "getAgenciesList", &[]).await;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(5));
    let units = axis.call(&lt, "getSynchronizeUnit", &[]).await;
    let gone = units["data"]
        .as_array()
        .and_then(|l| l.iter().find(|a| a["code"] == "000.00.15.H41").cloned())
        .expect("kept in sync");
    assert_eq!(gone["deleted"], true);
    assert_eq!(gone["version"], 2);
    assert_fail(
        &axis
            .call(&lt, "deleteAgency", &[("AgencyCode", "000.00.15.H41")])
            .await,
        "404",
    );
    assert_fail(
        &axis.call(&lt, "deleteAgency", &[("AgencyCode", G22)]).await,
        "403",
    );
    assert_fail(&axis.call(&lt, "deleteAgency", &[]).await, "400");
}

// ---------------------------------------------------------------------------------------
// The inserted TraceHeader (§9.3 step 6).
// ---------------------------------------------------------------------------------------

fn trace_of(bytes: &[u8]) -> Vec<(String, String)> {
    let Message::Edoc(m) = read(bytes.to_vec()).expect("edXML").message else {
        panic!("not a document");
    };
    m.document
        .trace
        .iter()
        .map(|t| {
            (
                t.organ_id
                    .as_ref()
                    .map(|o| o.as_str().to_owned())
                    .unwrap_or_default(),
                t.timestamp
                    .as_ref()
                    .map(|x| x.as_str().to_owned())
                    .unwrap_or_default(),
            )
        })
        .collect()
}

/// The sent bytes with one entry inserted after the last `</edXML:TraceHeader>`, written
/// independently of the simulator.
fn expected_delivery(sent: &[u8], eol: &str, stamp: &str) -> Vec<u8> {
    let end_tag = b"</edXML:TraceHeader>";
    let at = sent
        .windows(end_tag.len())
        .rposition(|w| w == end_tag)
        .expect("a TraceHeader")
        + end_tag.len();
    let entry = format!(
        "{eol}        <edXML:TraceHeader>{eol}          <edXML:OrganId>vxp.sandbox</edXML:OrganId>{eol}          <edXML:Timestamp>{stamp}</edXML:Timestamp>{eol}        </edXML:TraceHeader>"
    );
    [&sent[..at], entry.as_bytes(), &sent[at..]].concat()
}

#[tokio::test]
async fn delivered_documents_differ_only_by_the_inserted_trace_header() {
    let axis = Axis::start(with_edoc_new()).await;
    let mut files: Vec<(String, Vec<u8>, &str)> = EDOCS
        .iter()
        .map(|n| ((*n).to_owned(), sample(n), "\r\n"))
        .collect();
    // An LF variant.
    let lf = String::from_utf8(sample("edoc_update.edxml"))
        .expect("utf-8")
        .replace("\r\n", "\n");
    files.push(("edoc_update.edxml (LF)".into(), lf.into_bytes(), "\n"));
    for (name, file, eol) in files {
        let from = from_of(&name.replace(" (LF)", ""));
        let id = doc_id(&axis.send_edoc(&peer(), &file, "edoc", Some(from)).await);
        let m = axis.sim.sent_message(&id).expect("sent");
        let trace = trace_of(&m.delivered);
        let before = trace_of(&file);
        assert_eq!(trace.len(), before.len() + 1, "{name}");
        let (organ, stamp) = trace.last().cloned().expect("entry");
        assert_eq!(organ, "vxp.sandbox");
        assert_eq!(stamp.len(), 19, "yyyy/MM/dd HH:mm:ss: {stamp}");
        assert_eq!(
            m.delivered.to_vec(),
            expected_delivery(&file, eol, &stamp),
            "{name}"
        );
        // Every delivery carries the same bytes; getEdoc returns them.
        for r in &m.recipients {
            for d in &r.deliveries {
                assert_eq!(axis.sim.delivery(&d.doc_id).expect("d").bytes, m.delivered);
            }
        }
    }
    let lt = lienthong();
    let first = ids(&received(&axis, &lt, "edoc").await)[0].clone();
    let v = axis.call(&lt, "getEdoc", &[("docId", &first)]).await;
    let got = STANDARD
        .decode(v["data"].as_str().expect("data"))
        .expect("b64");
    assert_eq!(
        trace_of(&got).last().map(|t| t.0.as_str()),
        Some("vxp.sandbox")
    );

    // Switched off: delivered as sent.
    let off = Axis::start(VdxpConfig {
        add_trace_header: false,
        ..VdxpConfig::default()
    })
    .await;
    let file = sample("edoc_update.edxml");
    let id = doc_id(&off.send_edoc(&peer(), &file, "edoc", Some(G22)).await);
    let m = off.sim.sent_message(&id).expect("sent");
    assert!(!m.trace_inserted);
    assert_eq!(m.delivered, file);
}

// ---------------------------------------------------------------------------------------
// Faults and duplicates (§9.5).
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn random_faults_answer_the_injected_failure() {
    let axis = Axis::start(VdxpConfig {
        faults: FaultSettings {
            error_rate: 1.0,
            ..FaultSettings::default()
        },
        ..VdxpConfig::default()
    })
    .await;
    let v = axis
        .send_edoc(&peer(), &sample("edoc_update.edxml"), "edoc", Some(G22))
        .await;
    assert_eq!(v["status"], "FAIL");
    assert_eq!(v["ErrorCode"], "500");
    assert!(v["ErrorDesc"].is_string());
    assert!(
        axis.sim.sent(None).is_empty(),
        "an injected failure is not processed"
    );
    assert_eq!(axis.sim.calls().count("sendEdoc", "injected_error"), 1);
    // Admin calls are never subject to faults.
    let (status, report) = axis.admin(Method::GET, "faults", None).await;
    assert_eq!(status, 200);
    assert_eq!(report["counts"]["error"], 1);
    let (status, _) = axis.admin(Method::DELETE, "faults", None).await;
    assert_eq!(status, 200);
    doc_id(
        &axis
            .send_edoc(&peer(), &sample("edoc_update.edxml"), "edoc", Some(G22))
            .await,
    );
}

#[tokio::test]
async fn next_failures_by_operation() {
    let axis = Axis::default().await;
    let file = sample("edoc_update.edxml");
    let lt = lienthong();
    let push = |rule: Value| {
        let axis = &axis;
        async move {
            let (status, v) = axis.admin(Method::POST, "next-failures", Some(rule)).await;
            assert_eq!(status, 200, "{v}");
        }
    };
    // The given ErrorCode and HTTP status, only for the named operation, count 2.
    push(json!({"service": "sendEdoc", "count": 2, "error_code": "-1", "message": "Loi", "http_status": 500})).await;
    assert_ok(&received(&axis, &lt, "edoc").await);
    for _ in 0..2 {
        let h = Axis::send_headers(&peer(), &file, "edoc", Some(G22), None);
        let mut body = file.clone();
        body.extend_from_slice(b"\r\n");
        let r = axis
            .send(Method::POST, "sendEdoc", &h, body)
            .await
            .expect("answer");
        assert_eq!(r.status(), 500);
        let v: Value = r.json().await.expect("JSON");
        assert_eq!(
            v,
            json!({"status": "FAIL", "ErrorCode": "-1", "ErrorDesc": "Loi"})
        );
    }
    doc_id(&axis.send_edoc(&peer(), &file, "edoc", Some(G22)).await);

    // The default failure: FAIL 500 with HTTP 200.
    push(json!({"service": "getReceivedEdocList"})).await;
    assert_fail(
        &axis
            .call(
                &lt,
                "getReceivedEdocList",
                &[("servicetype", "eDoc"), ("messagetype", "edoc")],
            )
            .await,
        "500",
    );

    // An HTTP status alone: plain text.
    push(json!({"service": "getEdoc", "http_status": 503})).await;
    let id = ids(&received(&axis, &lt, "edoc").await)[0].clone();
    let h = lt.headers("application/json", &[("docId", &id)]);
    let r = axis
        .send(Method::POST, "getEdoc", &h, b"{}".to_vec())
        .await
        .expect("answer");
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "1");

    // A reset: a transport error, the call not processed.
    push(json!({"service": "updateStatus", "reset": true})).await;
    let h = lt.headers("application/json", &[("docId", &id), ("status", "done")]);
    let err = axis
        .send(Method::POST, "updateStatus", &h, b"{}".to_vec())
        .await
        .expect_err("dropped connection");
    assert!(!err.is_status());
    assert_eq!(
        axis.sim.delivery(&id).expect("kept").state,
        DeliveryState::Pending
    );
    assert_eq!(axis.sim.calls().count("updateStatus", "reset"), 1);

    // A delay alone: processed, answered late.
    push(json!({"service": "updateStatus", "delay_ms": 300})).await;
    let started = Instant::now();
    assert_ok(&update(&axis, &lt, &id, "done").await);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(
        axis.sim.delivery(&id).expect("kept").state,
        DeliveryState::Done
    );

    let (_, v) = axis.admin(Method::GET, "next-failures", None).await;
    assert_eq!(v["next_failures"], json!([]));
    let seq = axis.sim.faults().sequence;
    assert!(seq.iter().any(|s| s == "reset") && seq.iter().any(|s| s == "delayed"));
    // The handle's rule API.
    axis.sim
        .push_next_failure(NextFailure {
            service: "countReceiveEdoc".into(),
            error_code: Some("999".into()),
            ..NextFailure::default()
        })
        .expect("valid");
    assert_fail(&axis.call(&lt, "countReceiveEdoc", &[]).await, "999");
}

#[tokio::test]
async fn down_window_and_rate_limit() {
    let axis = Axis::default().await;
    let (status, _) = axis
        .admin(Method::POST, "faults", Some(json!({"down_for_ms": 60_000})))
        .await;
    assert_eq!(status, 200);
    let h = lienthong().headers("application/json", &[]);
    let r = axis
        .send(Method::POST, "getAgenciesList", &h, Vec::new())
        .await
        .expect("answer");
    assert_eq!(r.status(), 503);
    axis.sim
        .set_faults(FaultSettings {
            rate_limit_per_sec: Some(1),
            ..FaultSettings::default()
        })
        .expect("valid");
    assert_ok(&axis.call(&lienthong(), "getAgenciesList", &[]).await);
    let r = axis
        .send(Method::POST, "getAgenciesList", &h, Vec::new())
        .await
        .expect("answer");
    assert_eq!(r.status(), 429);
}

#[tokio::test]
async fn duplicate_delivery() {
    let axis = Axis::default().await;
    let (status, v) = axis
        .admin(Method::POST, "duplicate-next-delivery", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(v["pending"], 1);
    let id = doc_id(
        &axis
            .send_edoc(&peer(), &sample("edoc_update.edxml"), "edoc", Some(G22))
            .await,
    );
    let lt = lienthong();
    let listed = ids(&received(&axis, &lt, "edoc").await);
    assert_eq!(listed.len(), 2);
    assert_ne!(listed[0], listed[1]);
    let a = axis.sim.delivery(&listed[0]).expect("first");
    let b = axis.sim.delivery(&listed[1]).expect("second");
    assert_eq!(a.bytes, b.bytes);
    assert_eq!((a.duplicate, b.duplicate), (false, true));
    assert_eq!(a.sender_doc_id, id);
    assert_eq!(b.sender_doc_id, id);
    // Both are acknowledged independently.
    assert_ok(&update(&axis, &lt, &listed[0], "done").await);
    assert_eq!(
        ids(&received(&axis, &lt, "edoc").await),
        [listed[1].as_str()]
    );
    // Each recipient got two; the next message is single again.
    let m = axis.sim.sent_message(&id).expect("sent");
    assert!(m.recipients.iter().all(|r| r.deliveries.len() == 2));
    let sent = axis
        .call(&peer(), "getSentEdocList", &[("docId", &id)])
        .await;
    assert_eq!(sent["data"].as_array().map(Vec::len), Some(6));
    let id2 = doc_id(
        &axis
            .send_edoc(&peer(), &sample("edoc_update.edxml"), "edoc", Some(G22))
            .await,
    );
    let m2 = axis.sim.sent_message(&id2).expect("sent");
    assert!(m2.recipients.iter().all(|r| r.deliveries.len() == 1));
    assert_eq!(axis.sim.duplicate_next_delivery(0), 0);
}

// ---------------------------------------------------------------------------------------
// Admin API and HTTP surface.
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn admin_inject_sent_deliveries_reset() {
    let axis = Axis::default().await;
    let file = sample("edoc_update.edxml");
    let (status, v) = axis
        .admin(
            Method::POST,
            "inject",
            Some(json!({"from_system": "peer", "messagetype": "edoc",
                        "data_base64": STANDARD.encode(&file)})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let id = v["DocId"].as_str().expect("DocId").to_owned();
    let deliveries = v["deliveries"].as_array().expect("deliveries");
    assert_eq!(deliveries.len(), 3);
    assert_eq!(deliveries[0]["to"], H41);
    assert_eq!(deliveries[0]["system"], "lienthong");
    let first = deliveries[0]["docId"].as_str().expect("docId").to_owned();
    // The gateway sees it like any other delivery.
    assert_eq!(
        ids(&received(&axis, &lienthong(), "edoc").await),
        [first.as_str()]
    );
    assert_ok(&update(&axis, &lienthong(), &first, "done").await);

    // What lienthong sent: its status, with bytes and per-recipient state.
    doc_id(
        &axis
            .send_edoc(
                &lienthong(),
                &sample("status_acceptance_03.edxml"),
                "status",
                Some(H41),
            )
            .await,
    );
    let (_, sent) = axis.admin(Method::GET, "sent?system=lienthong", None).await;
    assert_eq!(sent["count"], 1);
    let s = &sent["sent"][0];
    assert_eq!(s["message_type"], "status");
    assert_eq!(s["status_code"], "03");
    assert_eq!(s["recipients"][0]["to"], G22);
    assert_eq!(s["recipients"][0]["send_status"], "delivered");
    assert_eq!(s["recipients"][0]["deliveries"][0]["state"], "pending");
    assert_eq!(
        STANDARD
            .decode(s["data_base64"].as_str().expect("b64"))
            .expect("b64"),
        sample("status_acceptance_03.edxml")
    );
    let (_, peer_sent) = axis.admin(Method::GET, "sent?system=peer", None).await;
    assert_eq!(peer_sent["sent"][0]["DocId"], id.as_str());
    assert_eq!(peer_sent["sent"][0]["injected"], true);
    assert_eq!(
        peer_sent["sent"][0]["recipients"][0]["deliveries"][0]["state"],
        "done"
    );

    let (_, d) = axis
        .admin(Method::GET, "deliveries?system=lienthong", None)
        .await;
    assert_eq!(d["count"], 1);
    assert_eq!(d["listed"], 0);
    assert_eq!(d["deliveries"][0]["state"], "done");
    assert_eq!(d["deliveries"][0]["to_system"], "lienthong");
    let (_, d) = axis
        .admin(Method::GET, "deliveries?system=peer&state=pending", None)
        .await;
    assert_eq!(d["count"], 3);

    // Injection errors carry the axis code.
    let (status, v) = axis
        .admin(
            Method::POST,
            "inject",
            Some(json!({"from_system": "lienthong", "messagetype": "edoc",
                        "data_base64": STANDARD.encode(&file)})),
        )
        .await;
    assert_eq!(status, 403, "{v}");
    assert_eq!(v["ErrorCode"], "403");
    let (status, _) = axis
        .admin(
            Method::POST,
            "inject",
            Some(json!({"from_system": "peer", "messagetype": "status",
                        "data_base64": STANDARD.encode(&file)})),
        )
        .await;
    assert_eq!(status, 422);
    let (status, _) = axis
        .admin(Method::POST, "inject", Some(json!({"from_system": "peer"})))
        .await;
    assert_eq!(status, 400);
    // to overrides the recipients.
    let (status, v) = axis
        .admin(
            Method::POST,
            "inject",
            Some(
                json!({"from_system": "peer", "data_base64": STANDARD.encode(&file),
                        "to": ["000.00.12.H41"]}),
            ),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["deliveries"][0]["to"], "000.00.12.H41");

    let (_, config) = axis.admin(Method::GET, "config", None).await;
    assert_eq!(config["systems"][0]["secret"], "***");
    let (_, registry) = axis.admin(Method::GET, "registry", None).await;
    assert_eq!(registry["systems"][1]["systemid"], "peer");
    assert!(registry["systems"][1].get("secret").is_none());
    let (_, calls) = axis.admin(Method::GET, "calls", None).await;
    assert!(calls["total"].as_u64().is_some_and(|n| n >= 3));
    let last = calls["recent"]
        .as_array()
        .and_then(|r| r.last())
        .cloned()
        .expect("a call");
    assert!(last["headers"].get("xroadvnpt-hash-header").is_none());

    let (status, _) = axis.admin(Method::POST, "reset", None).await;
    assert_eq!(status, 200);
    assert!(axis.sim.sent(None).is_empty());
    assert!(axis.sim.deliveries(None).is_empty());
    assert_eq!(axis.sim.calls().total, 0);
}

#[tokio::test]
async fn http_surface() {
    let axis = Axis::start(VdxpConfig {
        base_path: "/vxp".into(),
        max_body_bytes: 1024,
        ..VdxpConfig::default()
    })
    .await;
    let h = lienthong().headers("application/json", &[]);
    // Operations live under the base path.
    let r = axis
        .send(Method::POST, "vxp/getAgenciesList", &h, Vec::new())
        .await
        .expect("answer");
    assert_eq!(r.status(), 200);
    let r = axis
        .send(Method::POST, "getAgenciesList", &h, Vec::new())
        .await
        .expect("answer");
    assert_eq!(r.status(), 404);
    let r = axis
        .send(Method::POST, "vxp/sendKnobstick", &h, Vec::new())
        .await
        .expect("answer");
    assert_eq!(r.status(), 404);
    // POST-only operations refuse GET.
    let r = axis
        .send(Method::GET, "vxp/getAgenciesList", &h, Vec::new())
        .await
        .expect("answer");
    assert_eq!(r.status(), 405);
    // Bodies over the limit → 413; the SDK's incidental headers are fine.
    let mut h = h;
    h.push(("Accept-Encoding".into(), "gzip,deflate".into()));
    h.push(("Expect".into(), "100-continue".into()));
    let r = axis
        .send(Method::POST, "vxp/registerAgency", &h, vec![b' '; 4096])
        .await
        .expect("answer");
    assert_eq!(r.status(), 413);
    assert_eq!(axis.sim.calls().count("registerAgency", "too_large"), 1);
    let r = axis
        .send(Method::POST, "vxp/getSynchronizeUnit", &h, Vec::new())
        .await
        .expect("answer");
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .is_ok_and(|c| c.starts_with("application/json"))
    );
}
