//! The VDXP client against a minimal in-test stub of the axis: every operation, the
//! signature as the axis verifies it (`vdxp.md` §9.2), the `hash-file` quirk (§6), the raw
//! `sendEdoc` body (§7), the success rule (§4) and the error classification of
//! `lienthong_vdxp::error`.
//!
//! The stub verifies signatures independently of the crate's signer: its own HMAC-SHA256
//! on `sha2`, its own unpadded hex for `hash-file`, and the §9.2 checks (HMAC over the
//! received sign-header, every signed member equal to its header, `systemid` member equal
//! to the header, `sign-header-key` listing the same names, the operation's parameters
//! read only from signed members, a parseable timestamp). Any failure answers
//! `{"status":"FAIL","ErrorCode":"401"}`. Its other codes follow §9.3–§9.5.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes as AxumBytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use bytes::Bytes;
use lienthong_vdxp::sign;
use lienthong_vdxp::{
    DeliveryStatus, DocId, ErrorKind, Fault, MessageType, NewAgency, Page, VdxpClient, VdxpConfig,
    VdxpError,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const SYSTEM: &str = "vxp.test.01";
const SECRET: &str = "s3cret";
/// Organisations hosted by [`SYSTEM`].
const HOSTED: [&str; 2] = ["000.00.00.G22", "000.00.00.H41"];
/// Organisations the stub knows but another system hosts.
const FOREIGN: [&str; 1] = ["000.00.00.H14"];

fn sample(name: &str) -> Bytes {
    let path = format!("{}/../edxml/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    Bytes::from(std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
}

// ---------------------------------------------------------------------------------------
// Independent signature primitives of the stub.

fn stub_hmac(key: &[u8], msg: &[u8]) -> String {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let ipad: Vec<u8> = k
        .iter()
        .map(|b| b ^ 0x36)
        .chain(msg.iter().copied())
        .collect();
    let inner = Sha256::digest(&ipad);
    let opad: Vec<u8> = k
        .iter()
        .map(|b| b ^ 0x5c)
        .chain(inner.iter().copied())
        .collect();
    Sha256::digest(&opad)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn stub_hash_file(file: &[u8]) -> String {
    Sha256::digest(file)
        .iter()
        .map(|b| format!("{b:x}"))
        .collect()
}

fn timestamp_parses(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() == 20
        && b[8] == b'T'
        && b[15] == b'+'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 8 || i == 15 || c.is_ascii_digit())
}

// ---------------------------------------------------------------------------------------
// The stub.

/// A forced reply for the next axis call, applied after the signature check.
#[derive(Clone)]
enum Scripted {
    /// Reply HTTP 200 with this JSON.
    Json(Value),
    /// Reply with this status, an optional `Retry-After`, and this body.
    Status(u16, Option<&'static str>, &'static str),
    /// Sleep this long, then handle the call normally.
    Sleep(Duration),
}

/// One request the stub received.
#[derive(Clone, Debug)]
struct Recorded {
    method: Method,
    op: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Recorded {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Clone)]
struct Delivery {
    doc_id: String,
    kind: String,
    bytes: Vec<u8>,
    from: String,
    to: String,
    state: String,
    description: Option<String>,
}

#[derive(Clone)]
struct Sent {
    doc_id: String,
    kind: String,
    from: String,
    /// Recipient, delivery docId (None: failed).
    recipients: Vec<(String, Option<String>)>,
}

#[derive(Default)]
struct StubState {
    next_id: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    delay_ms: AtomicUsize,
    script: Mutex<VecDeque<Scripted>>,
    requests: Mutex<Vec<Recorded>>,
    deliveries: Mutex<Vec<Delivery>>,
    sent: Mutex<Vec<Sent>>,
    agencies: Mutex<Vec<Value>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn ok(extra: Value) -> Response {
    let mut body = json!({"status": "OK", "ErrorCode": "0", "ErrorDesc": "Thanh cong"});
    if let (Some(b), Value::Object(extra)) = (body.as_object_mut(), extra) {
        b.extend(extra);
    }
    axum::Json(body).into_response()
}

fn fail(code: &str, desc: &str) -> Response {
    axum::Json(json!({"status": "FAIL", "ErrorCode": code, "ErrorDesc": desc})).into_response()
}

struct InFlight<'a>(&'a StubState);

impl<'a> InFlight<'a> {
    fn enter(s: &'a StubState) -> Self {
        let now = s.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        s.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(s)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The parameters each operation uses (§9.2 rule 4).
fn used_params(op: &str) -> &'static [&'static str] {
    match op {
        "sendEdoc" => &["servicetype", "messagetype", "from", "hash-file", "to"],
        "getReceivedEdocList" | "countReceiveEdoc" | "countReceiveStatus" => {
            &["servicetype", "messagetype", "pageSize", "pageIndex"]
        }
        "getSentEdocList" => &["servicetype", "messagetype", "docId", "docid"],
        "getEdoc" | "downloadEdoc" => &["docId", "docid"],
        "updateStatus" => &["docId", "docid", "status", "description"],
        "getAgenciesListQD20" => &["level"],
        "deleteAgency" => &["AgencyCode"],
        _ => &[],
    }
}

/// §9.2: the signed parameters (lower-case names, `docid` folded into `docId`'s key), or
/// why the request is refused.
fn authenticate(op: &str, headers: &HeaderMap) -> Result<HashMap<String, String>, String> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let system = get("XroadVnpt-systemid").ok_or("no systemid")?;
    let signed = get("XroadVnpt-sign-header").ok_or("no sign-header")?;
    let hash = get("XroadVnpt-hash-header").ok_or("no hash-header")?;
    let secrets = HashMap::from([(SYSTEM, SECRET)]);
    let secret = secrets.get(system).ok_or("unknown system")?;
    if !stub_hmac(secret.as_bytes(), signed.as_bytes()).eq_ignore_ascii_case(hash) {
        return Err("hash mismatch".into());
    }
    let Ok(Value::Object(members)) = serde_json::from_str::<Value>(signed) else {
        return Err("sign-header is not a JSON object".into());
    };
    let mut params = HashMap::new();
    let mut names = HashSet::new();
    for (key, value) in &members {
        let name = key
            .strip_prefix("XroadVnpt-")
            .ok_or("member without prefix")?;
        let value = value.as_str().ok_or("member not a string")?;
        if get(key) != Some(value) {
            return Err(format!("header {key} differs from its signed value"));
        }
        names.insert(name.to_owned());
        let lower = name.to_ascii_lowercase();
        params.insert(lower, value.to_owned());
    }
    if params.get("systemid").map(String::as_str) != Some(system) {
        return Err("systemid member differs".into());
    }
    if let Some(list) = get("XroadVnpt-sign-header-key") {
        let listed: HashSet<String> = list.split(';').map(str::to_owned).collect();
        if listed != names {
            return Err("sign-header-key lists other names".into());
        }
    }
    for p in used_params(op) {
        if headers.contains_key(format!("XroadVnpt-{p}").as_str())
            && !params.contains_key(&p.to_ascii_lowercase())
        {
            return Err(format!("parameter {p} not signed"));
        }
    }
    match params.get("timestamp") {
        Some(t) if timestamp_parses(t) => {}
        _ => return Err("timestamp does not parse".into()),
    }
    Ok(params)
}

async fn handle(
    State(s): State<Arc<StubState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: AxumBytes,
) -> Response {
    let op = uri.path().trim_start_matches('/').to_owned();
    let _guard = InFlight::enter(&s);
    lock(&s.requests).push(Recorded {
        method: method.clone(),
        op: op.clone(),
        headers: headers.clone(),
        body: Bytes::copy_from_slice(&body),
    });
    let delay = s.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay as u64)).await;
    }
    let params = match authenticate(&op, &headers) {
        Ok(p) => p,
        Err(why) => return fail("401", &why),
    };
    let scripted = lock(&s.script).pop_front();
    match scripted {
        Some(Scripted::Json(v)) => return axum::Json(v).into_response(),
        Some(Scripted::Status(status, retry_after, text)) => {
            let mut r = (
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                text.to_owned(),
            )
                .into_response();
            if let Some(ra) = retry_after {
                r.headers_mut()
                    .insert("retry-after", ra.parse().expect("header value"));
            }
            return r;
        }
        Some(Scripted::Sleep(d)) => tokio::time::sleep(d).await,
        None => {}
    }
    let expected_method = if op == "downloadEdoc" {
        Method::GET
    } else {
        Method::POST
    };
    if method != expected_method {
        return fail("400", "wrong method");
    }
    let p = |name: &str| params.get(&name.to_ascii_lowercase()).cloned();
    match op.as_str() {
        "sendEdoc" => send_edoc(&s, &headers, &params, &body),
        "getReceivedEdocList" | "countReceiveEdoc" | "countReceiveStatus" => {
            let Some(kind) = p("messagetype") else {
                return fail("400", "messagetype missing");
            };
            if p("servicetype").as_deref() != Some("eDoc") {
                return fail("400", "servicetype");
            }
            let listed: Vec<Delivery> = lock(&s.deliveries)
                .iter()
                .filter(|d| {
                    d.kind == kind
                        && HOSTED.contains(&d.to.as_str())
                        && matches!(d.state.as_str(), "pending" | "processing")
                })
                .cloned()
                .collect();
            if op != "getReceivedEdocList" {
                return ok(json!({"count": listed.len()}));
            }
            let (size, index) = match (p("pageSize"), p("pageIndex")) {
                (Some(size), Some(index)) => {
                    match (size.parse::<usize>(), index.parse::<usize>()) {
                        (Ok(size), Ok(index)) if size > 0 && index > 0 => (size, index),
                        _ => return fail("400", "bad page"),
                    }
                }
                _ => (usize::MAX, 1),
            };
            let items: Vec<Value> = listed
                .iter()
                .skip(size.saturating_mul(index - 1))
                .take(size)
                .map(|d| {
                    json!({
                        "docId": d.doc_id, "serviceType": "eDoc", "messageType": d.kind,
                        "created_time": "2025/11/27 10:30:00", "updated_time": "2025/11/27 10:30:00",
                        "from": d.from, "to": d.to, "status": d.state, "status_desc": null
                    })
                })
                .collect();
            ok(json!({"data": items}))
        }
        "getEdoc" | "downloadEdoc" => {
            if body.len() != if op == "getEdoc" { 2 } else { 0 } {
                return fail("400", "unexpected body");
            }
            let Some(id) = p("docId") else {
                return fail("400", "docId missing");
            };
            let found = lock(&s.deliveries)
                .iter()
                .find(|d| d.doc_id == id && HOSTED.contains(&d.to.as_str()))
                .map(|d| d.bytes.clone());
            match found {
                None => fail("404", "Khong tim thay van ban"),
                Some(bytes) if op == "downloadEdoc" => bytes.into_response(),
                Some(bytes) => {
                    // MIME-style line breaks, as a Java encoder may produce.
                    let text = base64::engine::general_purpose::STANDARD.encode(bytes);
                    let lines: Vec<String> = text
                        .as_bytes()
                        .chunks(76)
                        .map(|c| String::from_utf8_lossy(c).into_owned())
                        .collect();
                    ok(json!({"data": lines.join("\r\n")}))
                }
            }
        }
        "updateStatus" => {
            let (Some(id), Some(status)) = (p("docId"), p("status")) else {
                return fail("400", "docId or status missing");
            };
            if !matches!(status.as_str(), "done" | "fail" | "processing") {
                return fail("400", "bad status");
            }
            let mut deliveries = lock(&s.deliveries);
            let Some(d) = deliveries
                .iter_mut()
                .find(|d| d.doc_id == id && HOSTED.contains(&d.to.as_str()))
            else {
                return fail("404", "Khong tim thay van ban");
            };
            if matches!(d.state.as_str(), "done" | "fail") && d.state != status {
                return fail("409", "Trang thai da ket thuc");
            }
            d.state = status;
            d.description = p("description");
            ok(json!({}))
        }
        "getSentEdocList" => {
            let Some(id) = p("docId") else {
                return fail("400", "docId missing");
            };
            let sent = lock(&s.sent).iter().find(|x| x.doc_id == id).cloned();
            let Some(sent) = sent else {
                return fail("404", "Khong tim thay van ban");
            };
            let deliveries = lock(&s.deliveries);
            let items: Vec<Value> = sent
                .recipients
                .iter()
                .map(|(to, delivery)| {
                    let receive = delivery
                        .as_ref()
                        .and_then(|id| deliveries.iter().find(|d| &d.doc_id == id))
                        .map(|d| d.state.clone())
                        .filter(|s| s != "pending")
                        .unwrap_or_default();
                    json!({
                        "serviceType": "eDoc", "messageType": sent.kind,
                        "senderDocId": sent.doc_id, "receiverDocId": delivery,
                        "fromCode": sent.from, "toCode": to, "title": null, "notation": 12,
                        "sentTime": "2025/11/27 10:30:00", "receivedTime": null,
                        "sendStatus": if delivery.is_some() { "delivered" } else { "failed" },
                        "sendStatusDesc": "", "receiveStatus": receive, "receiveStatusDesc": ""
                    })
                })
                .collect();
            ok(json!({"data": items}))
        }
        "getAgenciesList" => ok(json!({"data": lock(&s.agencies).clone()})),
        "getAgenciesListQD20" => {
            if p("level").is_none() {
                return fail("400", "level missing");
            }
            let items: Vec<Value> = lock(&s.agencies)
                .iter()
                .map(|a| {
                    json!({"id": a["id"], "code": a["code"], "name": a["name"],
                           "mail": a["mail"], "code102": a["code"]})
                })
                .collect();
            ok(json!({"data": items}))
        }
        "registerAgency" => {
            let Ok(Value::Object(a)) = serde_json::from_slice::<Value>(&body) else {
                return fail("400", "body is not a JSON object");
            };
            let mut agencies = lock(&s.agencies);
            agencies.retain(|x| x["code"] != a["code"]);
            agencies.push(Value::Object(a));
            ok(json!({}))
        }
        "deleteAgency" => {
            let Some(code) = p("AgencyCode") else {
                return fail("400", "AgencyCode missing");
            };
            lock(&s.agencies).retain(|x| x["code"] != code.as_str());
            ok(json!({}))
        }
        "getSynchronizeUnit" => ok(json!({"data": [
            {"id": 1, "code": "000.00.00.H41", "name": "UBND Tỉnh Nghệ An", "mail": null,
             "pid": 0, "version": "7", "centerCode": SYSTEM, "deleted": "false",
             "modifyDate": "2025/11/27 10:30:00", "isAgency": 1},
            "not an object"
        ]})),
        _ => fail("400", "unknown operation"),
    }
}

fn send_edoc(
    s: &StubState,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
    body: &[u8],
) -> Response {
    if headers.get("content-type").and_then(|v| v.to_str().ok()) != Some("application/octet-stream")
    {
        return fail("400", "content type");
    }
    // Strip one trailing CR LF (or LF).
    let file = body
        .strip_suffix(b"\r\n")
        .or_else(|| body.strip_suffix(b"\n"))
        .unwrap_or(body);
    let (Some(kind), Some(hash), Some(from)) = (
        params.get("messagetype"),
        params.get("hash-file"),
        params.get("from"),
    ) else {
        return fail("400", "parameter missing");
    };
    let padded: String = Sha256::digest(file)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if *hash != stub_hash_file(file) && *hash != padded {
        return fail("400", "hash-file mismatch");
    }
    let Ok(parsed) = lienthong_edxml::read(file.to_vec()) else {
        return fail("422", "not edXML");
    };
    if parsed.message.kind() != kind {
        return fail("422", "kind does not match messagetype");
    }
    if !HOSTED.contains(&from.as_str()) && from != SYSTEM {
        return fail("403", "sender not hosted");
    }
    let recipients: Vec<String> = match params.get("to") {
        Some(to) => serde_json::from_str::<Vec<String>>(to).unwrap_or_default(),
        None => match &parsed.message {
            lienthong_edxml::Message::Edoc(m) => m
                .document
                .to
                .iter()
                .filter_map(|o| o.organ_id.as_ref().map(|id| id.as_str().to_owned()))
                .collect(),
            lienthong_edxml::Message::Status(m) => m
                .status
                .response_for
                .as_ref()
                .and_then(|r| r.organ_id.as_ref())
                .map(|id| vec![id.as_str().to_owned()])
                .unwrap_or_default(),
        },
    };
    let known = |org: &str| HOSTED.contains(&org) || FOREIGN.contains(&org);
    if !recipients.iter().any(|r| known(r)) {
        return fail("422", "no deliverable recipient");
    }
    let doc_id = format!("sent-{:04}", s.next_id.fetch_add(1, Ordering::SeqCst) + 1);
    let mut deliveries = lock(&s.deliveries);
    let mut listed = Vec::new();
    for r in recipients {
        if known(&r) {
            let id = format!("dlv-{:04}", s.next_id.fetch_add(1, Ordering::SeqCst) + 1);
            deliveries.push(Delivery {
                doc_id: id.clone(),
                kind: kind.clone(),
                bytes: file.to_vec(),
                from: from.clone(),
                to: r.clone(),
                state: "pending".into(),
                description: None,
            });
            listed.push((r, Some(id)));
        } else {
            listed.push((r, None));
        }
    }
    lock(&s.sent).push(Sent {
        doc_id: doc_id.clone(),
        kind: kind.clone(),
        from: from.clone(),
        recipients: listed,
    });
    ok(json!({"DocId": doc_id}))
}

struct Stub {
    base: String,
    state: Arc<StubState>,
}

impl Stub {
    async fn start() -> Stub {
        let state = Arc::new(StubState::default());
        lock(&state.agencies).push(json!({
            "id": "1", "code": "000.00.00.G22", "name": "Văn phòng Chính phủ",
            "mail": "vpcp@chinhphu.vn", "pid": null, "oldCode": "G22"
        }));
        let app = Router::new().fallback(handle).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Stub {
            base: format!("http://{addr}"),
            state,
        }
    }

    fn config(&self) -> VdxpConfig {
        VdxpConfig {
            base_url: self.base.clone(),
            systemid: SYSTEM.into(),
            secret: SECRET.into(),
            ..VdxpConfig::default()
        }
    }

    fn client(&self) -> VdxpClient {
        VdxpClient::new(self.config()).expect("client")
    }

    fn script(&self, items: impl IntoIterator<Item = Scripted>) {
        lock(&self.state.script).extend(items);
    }

    fn requests(&self) -> Vec<Recorded> {
        lock(&self.state.requests).clone()
    }

    fn last(&self) -> Recorded {
        self.requests().pop().expect("a request")
    }

    /// A delivery waiting for us, as if another province had sent it.
    fn inject(&self, doc_id: &str, kind: &str, bytes: &[u8]) {
        lock(&self.state.deliveries).push(Delivery {
            doc_id: doc_id.into(),
            kind: kind.into(),
            bytes: bytes.to_vec(),
            from: "000.00.00.H14".into(),
            to: "000.00.00.H41".into(),
            state: "pending".into(),
            description: None,
        });
    }
}

fn assert_class(e: &VdxpError, kind: ErrorKind, fault: Fault, retryable: bool) {
    assert_eq!(
        (e.kind, e.fault, e.retryable),
        (kind, fault, retryable),
        "{e}"
    );
}

/// Sends a request signed with the crate's signer, with `tamper` applied to the headers,
/// straight through reqwest; returns the stub's JSON answer.
async fn raw_call(
    stub: &Stub,
    op: &str,
    secret: &str,
    params: &[(&str, &str)],
    tamper: impl FnOnce(&mut reqwest::header::HeaderMap),
) -> Value {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ts = sign::format_timestamp(jiff::Timestamp::now());
    let mut all = vec![("Content-Type", "application/json")];
    all.extend_from_slice(params);
    let mut headers = reqwest::header::HeaderMap::new();
    for (n, v) in sign::sign(SYSTEM, secret, &ts, &all) {
        headers.insert(
            reqwest::header::HeaderName::from_bytes(n.as_bytes()).expect("name"),
            v.parse().expect("value"),
        );
    }
    tamper(&mut headers);
    let http = reqwest::Client::builder().build().expect("http");
    http.post(format!("{}/{op}", stub.base))
        .headers(headers)
        .body("{}")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json")
}

// ---------------------------------------------------------------------------------------
// Round trips.

#[tokio::test]
async fn send_receive_and_report_round_trip() {
    let stub = Stub::start().await;
    let client = stub.client();

    // A status message from H41 about a document of G22: both hosted by us, so it comes
    // back to our own inbox.
    let file = sample("status_inbox_01.edxml");
    let sent = client
        .send_edoc(file.clone(), MessageType::Status, None)
        .await
        .expect("send");
    assert!(sent.as_str().starts_with("sent-"), "{sent}");

    assert_eq!(
        client
            .count_received(MessageType::Status)
            .await
            .expect("count"),
        1
    );
    assert_eq!(
        client
            .count_received(MessageType::Edoc)
            .await
            .expect("count"),
        0
    );
    let items = client
        .get_received_list(MessageType::Status, None)
        .await
        .expect("list");
    assert_eq!(items.len(), 1);
    let item = &items[0];
    assert_eq!(item.message_kind(), Some(MessageType::Status));
    assert_eq!(item.from.as_deref(), Some("000.00.00.H41"));
    assert_eq!(item.to.as_deref(), Some("000.00.00.G22"));
    assert_eq!(item.status.as_deref(), Some("pending"));
    assert_eq!(item.status_desc, None);
    assert!(
        client
            .get_received_list(MessageType::Edoc, None)
            .await
            .expect("list")
            .is_empty()
    );

    // getEdoc: base64 (with line breaks) decoded to the exact bytes sent.
    let fetched = client.get_edoc(&item.doc_id).await.expect("getEdoc");
    assert_eq!(fetched, file);
    let downloaded = client.download_edoc(&item.doc_id).await.expect("download");
    assert_eq!(downloaded, file);

    // Per-recipient progress of the send.
    let progress = client
        .get_sent_list(&sent, MessageType::Status)
        .await
        .expect("sent list");
    assert_eq!(progress.len(), 1);
    assert_eq!(progress[0].sender_doc_id.as_deref(), Some(sent.as_str()));
    assert_eq!(
        progress[0].receiver_doc_id.as_deref(),
        Some(item.doc_id.as_str())
    );
    assert_eq!(progress[0].send_status.as_deref(), Some("delivered"));
    assert_eq!(progress[0].receive_status.as_deref(), Some(""));
    assert_eq!(progress[0].notation.as_deref(), Some("12"));
    assert_eq!(progress[0].title, None);

    // processing keeps the item listed; done is final and removes it.
    client
        .update_status(&item.doc_id, DeliveryStatus::Processing, None)
        .await
        .expect("processing");
    assert_eq!(
        client
            .count_received(MessageType::Status)
            .await
            .expect("count"),
        1
    );
    client
        .update_status(&item.doc_id, DeliveryStatus::Done, Some("Da nhan"))
        .await
        .expect("done");
    // Repeating the same final value is accepted.
    client
        .update_status(&item.doc_id, DeliveryStatus::Done, None)
        .await
        .expect("done again");
    assert_eq!(
        client
            .count_received(MessageType::Status)
            .await
            .expect("count"),
        0
    );
    let progress = client
        .get_sent_list(&sent, MessageType::Status)
        .await
        .expect("sent list");
    assert_eq!(progress[0].receive_status.as_deref(), Some("done"));
}

#[tokio::test]
async fn edoc_to_several_recipients_and_paging() {
    let stub = Stub::start().await;
    let client = stub.client();
    // edoc_update: from G22 to H41 (ours), H14 (another system's) and G17 (unknown to the
    // stub: recorded as failed).
    let file = sample("edoc_update.edxml");
    let sent = client
        .send_edoc(file.clone(), MessageType::Edoc, None)
        .await
        .expect("send");
    let progress = client
        .get_sent_list(&sent, MessageType::Edoc)
        .await
        .expect("sent list");
    let to: Vec<_> = progress
        .iter()
        .map(|p| (p.to_code.as_deref(), p.send_status.as_deref()))
        .collect();
    assert_eq!(
        to,
        vec![
            (Some("000.00.00.H41"), Some("delivered")),
            (Some("000.00.00.H14"), Some("delivered")),
            (Some("000.00.00.G17"), Some("failed")),
        ]
    );
    stub.inject("inj-1", "edoc", b"<edXML/>");
    stub.inject("inj-2", "edoc", b"<edXML/>");
    let all = client
        .get_received_list(MessageType::Edoc, None)
        .await
        .expect("list");
    assert_eq!(all.len(), 3);
    let page = client
        .get_received_list(MessageType::Edoc, Some(Page { size: 2, index: 2 }))
        .await
        .expect("page");
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].doc_id.as_str(), "inj-2");
    let rec = stub.last();
    assert_eq!(rec.header("XroadVnpt-pageSize"), Some("2"));
    assert_eq!(rec.header("XroadVnpt-pageIndex"), Some("2"));
    assert!(
        rec.header("XroadVnpt-sign-header")
            .expect("signed")
            .contains(r#""XroadVnpt-pageIndex":"2""#)
    );
    // The delivered edoc is the sender's bytes, large attachments included.
    let ours = all
        .iter()
        .find(|i| i.from.as_deref() == Some("000.00.00.G22"))
        .expect("delivered to H41");
    assert_eq!(client.get_edoc(&ours.doc_id).await.expect("getEdoc"), file);
}

#[tokio::test]
async fn agencies_and_units_round_trip() {
    let stub = Stub::start().await;
    let client = stub.client();
    let agencies = client.get_agencies().await.expect("agencies");
    assert_eq!(agencies.len(), 1);
    assert_eq!(agencies[0].code.as_deref(), Some("000.00.00.G22"));
    assert_eq!(agencies[0].old_code.as_deref(), Some("G22"));
    assert_eq!(agencies[0].pid, None);

    let new = NewAgency {
        id: String::new(),
        pcode: SYSTEM.into(),
        code: "000.00.00.H41".into(),
        name: "UBND Tỉnh Nghệ An".into(),
        mail: "nghean@gov.vn".into(),
        mobile: "0238000000".into(),
        fax: String::new(),
    };
    client.register_agency(&new).await.expect("register");
    let rec = stub.last();
    assert_eq!(
        rec.body,
        Bytes::from(serde_json::to_vec(&new).expect("json"))
    );
    assert!(std::str::from_utf8(&rec.body).expect("utf-8").starts_with(
        r#"{"id":"","pcode":"vxp.test.01","code":"000.00.00.H41","name":"UBND Tỉnh Nghệ An""#
    ));
    let qd20 = client.get_agencies_qd20("1").await.expect("qd20");
    assert_eq!(qd20.len(), 2);
    assert_eq!(qd20[1].code102.as_deref(), Some("000.00.00.H41"));
    assert_eq!(qd20[1].name.as_deref(), Some("UBND Tỉnh Nghệ An"));

    client.delete_agency("000.00.00.G22").await.expect("delete");
    let agencies = client.get_agencies().await.expect("agencies");
    assert_eq!(agencies.len(), 1);
    assert_eq!(agencies[0].code.as_deref(), Some("000.00.00.H41"));

    let units = client.get_synchronize_unit().await.expect("units");
    assert_eq!(units.len(), 1, "the non-object item is skipped");
    let u = &units[0];
    assert_eq!(u.id.as_deref(), Some("1"));
    assert_eq!(u.version, Some(7));
    assert_eq!(u.deleted, Some(false));
    assert_eq!(u.is_agency, Some(true));
    assert_eq!(u.center_code.as_deref(), Some(SYSTEM));
    assert_eq!(u.mail, None);
}

// ---------------------------------------------------------------------------------------
// Wire form.

#[tokio::test]
async fn every_request_is_signed_in_the_sdk_order_with_the_sdk_bodies() {
    let stub = Stub::start().await;
    let client = stub.client();
    let file = sample("status_inbox_01.edxml");
    let sent = client
        .send_edoc(file, MessageType::Status, None)
        .await
        .expect("send");
    let item = client
        .get_received_list(MessageType::Status, None)
        .await
        .expect("list")
        .remove(0);
    client.get_edoc(&item.doc_id).await.expect("getEdoc");
    client.download_edoc(&item.doc_id).await.expect("download");
    client
        .update_status(&item.doc_id, DeliveryStatus::Done, None)
        .await
        .expect("done");
    client
        .update_status(&item.doc_id, DeliveryStatus::Done, Some("ok"))
        .await
        .expect("done with description");
    client
        .get_sent_list(&sent, MessageType::Status)
        .await
        .expect("sent");
    client
        .count_received(MessageType::Edoc)
        .await
        .expect("count");
    client
        .count_received(MessageType::Status)
        .await
        .expect("count");
    client.get_agencies().await.expect("agencies");
    client.get_agencies_qd20("1").await.expect("qd20");
    client
        .register_agency(&NewAgency::default())
        .await
        .expect("register");
    client.delete_agency("X").await.expect("delete");
    client.get_synchronize_unit().await.expect("units");

    let expected: [(&str, &str, &str, &str); 14] = [
        (
            "sendEdoc",
            "systemid;servicetype;messagetype;hash-file;from;timestamp;Content-Type",
            "application/octet-stream",
            "<file>",
        ),
        (
            "getReceivedEdocList",
            "systemid;servicetype;messagetype;timestamp;Content-Type",
            "application/json",
            "",
        ),
        (
            "getEdoc",
            "systemid;docId;timestamp;Content-Type",
            "application/json",
            "{}",
        ),
        (
            "downloadEdoc",
            "systemid;docId;timestamp;Content-Type",
            "application/json",
            "",
        ),
        (
            "updateStatus",
            "systemid;docId;timestamp;Content-Type;status",
            "application/json",
            "{}",
        ),
        (
            "updateStatus",
            "systemid;docId;description;timestamp;Content-Type;status",
            "application/json",
            "{}",
        ),
        (
            "getSentEdocList",
            "systemid;servicetype;messagetype;docId;timestamp;Content-Type",
            "application/json",
            "",
        ),
        (
            "countReceiveEdoc",
            "systemid;servicetype;messagetype;timestamp;Content-Type",
            "application/json",
            "{}",
        ),
        (
            "countReceiveStatus",
            "systemid;servicetype;messagetype;timestamp;Content-Type",
            "application/json",
            "{}",
        ),
        (
            "getAgenciesList",
            "systemid;timestamp;Content-Type",
            "application/json",
            "",
        ),
        (
            "getAgenciesListQD20",
            "systemid;level;timestamp;Content-Type",
            "application/json",
            "",
        ),
        (
            "registerAgency",
            "systemid;timestamp;Content-Type",
            "application/json",
            "<json>",
        ),
        (
            "deleteAgency",
            "systemid;AgencyCode;timestamp;Content-Type",
            "application/json",
            "{}",
        ),
        (
            "getSynchronizeUnit",
            "systemid;timestamp;Content-Type",
            "application/json",
            "",
        ),
    ];
    let requests = stub.requests();
    assert_eq!(requests.len(), 14);
    for (rec, (op, keys, content_type, body)) in requests.iter().zip(expected) {
        assert_eq!(rec.op, op);
        assert_eq!(rec.header("XroadVnpt-sign-header-key"), Some(keys), "{op}");
        assert_eq!(rec.header("content-type"), Some(content_type), "{op}");
        assert_eq!(
            rec.header("XroadVnpt-Content-Type"),
            Some(content_type),
            "{op}"
        );
        assert_eq!(rec.header("XroadVnpt-systemid"), Some(SYSTEM), "{op}");
        assert_eq!(
            rec.header("user-agent"),
            Some("JAVASDKAgent/1.0.0 XRoad/VPCP"),
            "{op}"
        );
        assert_eq!(rec.header("XroadVnpt-version"), Some("3.0.201608"), "{op}");
        let ts = rec.header("XroadVnpt-timestamp").expect("timestamp");
        assert!(timestamp_parses(ts), "{ts}");
        // Exactly the signed names travel as XroadVnpt-<name> headers (no leftovers of
        // earlier calls, unlike the SDK).
        let sent_params: HashSet<String> = rec
            .headers
            .keys()
            .filter_map(|k| k.as_str().strip_prefix("xroadvnpt-"))
            .filter(|n| !n.starts_with("sign-header") && *n != "hash-header" && *n != "version")
            .map(str::to_owned)
            .collect();
        let signed: HashSet<String> = keys.split(';').map(|k| k.to_ascii_lowercase()).collect();
        assert_eq!(sent_params, signed, "{op}");
        let expected_method = if op == "downloadEdoc" { "GET" } else { "POST" };
        assert_eq!(rec.method.as_str(), expected_method, "{op}");
        match body {
            "<file>" | "<json>" => assert!(!rec.body.is_empty()),
            b => assert_eq!(rec.body, Bytes::from(b), "{op}"),
        }
    }
    // The sign-header is the JSON of those headers in that order, and its HMAC verifies.
    let get_edoc = &requests[2];
    let signed = get_edoc.header("XroadVnpt-sign-header").expect("signed");
    let ts = get_edoc.header("XroadVnpt-timestamp").expect("ts");
    assert_eq!(
        signed,
        format!(
            r#"{{"XroadVnpt-systemid":"{SYSTEM}","XroadVnpt-docId":"{}","XroadVnpt-timestamp":"{ts}","XroadVnpt-Content-Type":"application/json"}}"#,
            item.doc_id
        )
    );
    assert_eq!(
        get_edoc.header("XroadVnpt-hash-header"),
        Some(stub_hmac(SECRET.as_bytes(), signed.as_bytes()).as_str())
    );
}

#[tokio::test]
async fn send_edoc_body_is_the_raw_file_plus_crlf() {
    let stub = Stub::start().await;
    let client = stub.client();
    let file = sample("edoc_update.edxml");
    client
        .send_edoc(file.clone(), MessageType::Edoc, None)
        .await
        .expect("send");
    let rec = stub.last();
    let mut expected = file.to_vec();
    expected.extend_from_slice(b"\r\n");
    assert_eq!(rec.body.len(), expected.len());
    assert!(rec.body == expected, "body differs from the file + CR LF");
    assert_eq!(rec.header("content-type"), Some("application/octet-stream"));
    assert_eq!(
        rec.header("content-length"),
        Some(expected.len().to_string().as_str())
    );
    assert!(!rec.body.starts_with(b"--"));
    // hash-file over the file without the CR LF, in the unpadded form of vdxp.md §6.
    assert_eq!(
        rec.header("XroadVnpt-hash-file"),
        Some("90da13a57ed0e9a52280b620384dd33d9ca278f6fd7cb38e106acc783cd9a7")
    );
    assert_eq!(rec.header("XroadVnpt-from"), Some("000.00.00.G22"));
    assert_eq!(rec.header("XroadVnpt-servicetype"), Some("eDoc"));
    assert_eq!(rec.header("XroadVnpt-messagetype"), Some("edoc"));
    assert_eq!(rec.header("XroadVnpt-to"), None, "to is omitted by default");
}

#[tokio::test]
async fn hash_file_quirk_for_a_digest_starting_with_zero_nibbles() {
    // Search variants of a small message (a trailing comment after the root element) for
    // one whose SHA-256 starts with the byte 00.
    let base = sample("status_inbox_01.edxml");
    let file = (0u32..200_000)
        .map(|n| {
            let mut v = base.to_vec();
            v.extend_from_slice(format!("<!-- {n} -->").as_bytes());
            v
        })
        .find(|v| Sha256::digest(v)[0] == 0)
        .expect("a digest starting with 00");
    let digest = Sha256::digest(&file);
    let quirk = stub_hash_file(&file);
    assert!(quirk.starts_with(&format!("0{:x}", digest[1])), "{quirk}");
    assert!(quirk.len() < 64);

    let stub = Stub::start().await;
    let client = stub.client();
    client
        .send_edoc(Bytes::from(file.clone()), MessageType::Status, None)
        .await
        .expect("accepted: the stub recomputed the same hash-file");
    let rec = stub.last();
    assert_eq!(rec.header("XroadVnpt-hash-file"), Some(quirk.as_str()));
    assert_eq!(sign::hash_file(&file), quirk);
}

#[tokio::test]
async fn explicit_recipients_travel_as_json_text() {
    let stub = Stub::start().await;
    let client = stub.client();
    let sent = client
        .send_edoc(
            sample("status_inbox_01.edxml"),
            MessageType::Status,
            Some(&["000.00.00.H14", "999.99.99.Z99"]),
        )
        .await
        .expect("send");
    let rec = stub.last();
    assert_eq!(
        rec.header("XroadVnpt-to"),
        Some(r#"["000.00.00.H14","999.99.99.Z99"]"#)
    );
    let signed = rec.header("XroadVnpt-sign-header").expect("signed");
    assert!(
        signed.contains(r#""XroadVnpt-to":"[\"000.00.00.H14\",\"999.99.99.Z99\"]""#),
        "{signed}"
    );
    assert_eq!(
        rec.header("XroadVnpt-sign-header-key"),
        Some("systemid;servicetype;messagetype;hash-file;from;to;timestamp;Content-Type")
    );
    let progress = client
        .get_sent_list(&sent, MessageType::Status)
        .await
        .expect("sent list");
    let states: Vec<_> = progress
        .iter()
        .map(|p| (p.to_code.clone(), p.send_status.clone()))
        .collect();
    assert_eq!(
        states,
        vec![
            (Some("000.00.00.H14".into()), Some("delivered".into())),
            (Some("999.99.99.Z99".into()), Some("failed".into())),
        ]
    );
}

#[tokio::test]
async fn the_stub_really_verifies_signatures() {
    let stub = Stub::start().await;
    let params = [("docId", "x")];
    // Untampered: authenticated (then 404 for the unknown docId).
    let v = raw_call(&stub, "getEdoc", SECRET, &params, |_| {}).await;
    assert_eq!(v["ErrorCode"], "404");
    // A header that differs from its signed value.
    let v = raw_call(&stub, "getEdoc", SECRET, &params, |h| {
        h.insert("XroadVnpt-docId", "y".parse().expect("value"));
    })
    .await;
    assert_eq!(v["ErrorCode"], "401");
    // An operation parameter that is not signed.
    let v = raw_call(&stub, "updateStatus", SECRET, &params, |h| {
        h.insert("XroadVnpt-status", "done".parse().expect("value"));
    })
    .await;
    assert_eq!(v["ErrorCode"], "401");
    // A hash in upper case is accepted; a wrong one is not.
    let v = raw_call(&stub, "getEdoc", SECRET, &params, |h| {
        let upper = h["XroadVnpt-hash-header"]
            .to_str()
            .expect("ascii")
            .to_ascii_uppercase();
        h.insert("XroadVnpt-hash-header", upper.parse().expect("value"));
    })
    .await;
    assert_eq!(v["ErrorCode"], "404");
    let v = raw_call(&stub, "getEdoc", "other", &params, |_| {}).await;
    assert_eq!(v["ErrorCode"], "401");
    // A sign-header-key naming other names.
    let v = raw_call(&stub, "getEdoc", SECRET, &params, |h| {
        h.insert(
            "XroadVnpt-sign-header-key",
            "systemid;docId".parse().expect("value"),
        );
    })
    .await;
    assert_eq!(v["ErrorCode"], "401");
}

// ---------------------------------------------------------------------------------------
// Error classification.

#[tokio::test]
async fn a_wrong_secret_is_our_fault_and_final() {
    let stub = Stub::start().await;
    let client = VdxpClient::new(VdxpConfig {
        secret: "wrong-secret".into(),
        ..stub.config()
    })
    .expect("client");
    let e = client
        .get_received_list(MessageType::Edoc, None)
        .await
        .expect_err("refused");
    assert_class(&e, ErrorKind::Auth, Fault::Us, false);
    assert_eq!(e.error_code(), Some("401"));
    assert_eq!(e.message(), Some("hash mismatch"));
    assert!(!e.to_string().contains("wrong-secret"), "{e}");
    let e = client
        .send_edoc(sample("status_inbox_01.edxml"), MessageType::Status, None)
        .await
        .expect_err("refused");
    assert_class(&e, ErrorKind::Auth, Fault::Us, false);
    assert_eq!(e.operation, "sendEdoc");
    // An unknown systemid likewise.
    let client = VdxpClient::new(VdxpConfig {
        systemid: "vxp.other.99".into(),
        ..stub.config()
    })
    .expect("client");
    let e = client.get_agencies().await.expect_err("refused");
    assert_class(&e, ErrorKind::Auth, Fault::Us, false);
}

#[tokio::test]
async fn axis_refusals_follow_the_decision_table() {
    let stub = Stub::start().await;
    let client = stub.client();

    // 400: a parameter the axis cannot accept (page index 0).
    let e = client
        .get_received_list(MessageType::Edoc, Some(Page { size: 10, index: 0 }))
        .await
        .expect_err("400");
    assert_class(&e, ErrorKind::BadRequest, Fault::Us, false);
    assert_eq!(e.error_code(), Some("400"));

    // 403: the sender (002.00.20.H13) is not hosted by our system.
    let e = client
        .send_edoc(sample("edoc_new.edxml"), MessageType::Edoc, None)
        .await
        .expect_err("403");
    assert_class(&e, ErrorKind::NotHosted, Fault::Us, false);
    assert_eq!(e.message(), Some("sender not hosted"));

    // 404: an id the axis does not know.
    let unknown = DocId::new("5bebcfeff858e3e0cc154762");
    for e in [
        client.get_edoc(&unknown).await.expect_err("404"),
        client.download_edoc(&unknown).await.expect_err("404"),
        client
            .update_status(&unknown, DeliveryStatus::Done, None)
            .await
            .expect_err("404"),
        client
            .get_sent_list(&unknown, MessageType::Edoc)
            .await
            .expect_err("404"),
    ] {
        assert_class(&e, ErrorKind::UnknownDoc, Fault::Partner, false);
        assert_eq!(e.message(), Some("Khong tim thay van ban"));
    }

    // 409: changing a final state.
    stub.inject("inj-1", "edoc", b"<edXML/>");
    let id = DocId::new("inj-1");
    client
        .update_status(&id, DeliveryStatus::Done, None)
        .await
        .expect("done");
    let e = client
        .update_status(&id, DeliveryStatus::Fail, Some("khong doc duoc"))
        .await
        .expect_err("409");
    assert_class(&e, ErrorKind::Conflict, Fault::Us, false);
    assert_eq!(e.error_code(), Some("409"));

    // 422: no deliverable recipient.
    let e = client
        .send_edoc(
            sample("status_inbox_01.edxml"),
            MessageType::Status,
            Some(&["999.99.99.Z99"]),
        )
        .await
        .expect_err("422");
    assert_class(&e, ErrorKind::Undeliverable, Fault::Us, false);

    // Any other code: retryable, the partner's, code and text verbatim.
    stub.script([
        Scripted::Json(json!({"status": "FAIL", "ErrorCode": "500", "ErrorDesc": "Loi he thong"})),
        Scripted::Json(
            json!({"status": "FAIL", "ErrorCode": "E_DB", "ErrorDesc": "Lỗi CSDL: 'x'"}),
        ),
        Scripted::Json(json!({"status": "OK", "ErrorCode": 7})),
        Scripted::Json(json!({"status": "FAIL"})),
    ]);
    let e = client.get_agencies().await.expect_err("500");
    assert_class(&e, ErrorKind::Partner, Fault::Partner, true);
    assert_eq!(
        (e.error_code(), e.message()),
        (Some("500"), Some("Loi he thong"))
    );
    let e = client.get_agencies().await.expect_err("E_DB");
    assert_class(&e, ErrorKind::Partner, Fault::Partner, true);
    assert_eq!(
        (e.error_code(), e.message()),
        (Some("E_DB"), Some("Lỗi CSDL: 'x'"))
    );
    assert!(!e.to_string().contains("CSDL"), "{e}");
    let e = client.get_agencies().await.expect_err("OK but code 7");
    assert_class(&e, ErrorKind::Partner, Fault::Partner, true);
    assert_eq!(e.error_code(), Some("7"));
    let e = client.get_agencies().await.expect_err("FAIL without code");
    assert_class(&e, ErrorKind::Partner, Fault::Partner, true);
    assert_eq!(e.error_code(), None);

    // The success rule accepts the number 0.
    stub.script([Scripted::Json(
        json!({"status": "OK", "ErrorCode": 0, "data": []}),
    )]);
    assert!(client.get_agencies().await.expect("ok").is_empty());
}

#[tokio::test]
async fn http_failures_and_undecodable_replies() {
    let stub = Stub::start().await;
    let client = stub.client();
    stub.script([
        Scripted::Status(503, Some("7"), "<html>Service Unavailable</html>"),
        Scripted::Status(429, Some("3"), "slow down"),
        Scripted::Status(404, None, "Not Found"),
        Scripted::Status(502, None, ""),
        // A non-2xx reply whose body is an envelope: the envelope decides.
        Scripted::Status(
            500,
            Some("2"),
            r#"{"status":"FAIL","ErrorCode":"404","ErrorDesc":"x"}"#,
        ),
        Scripted::Status(200, None, "<html>proxy error</html>"),
        Scripted::Status(200, None, r#"{"data": []}"#),
    ]);
    let e = client.get_agencies().await.expect_err("503");
    assert_class(&e, ErrorKind::Http(503), Fault::Partner, true);
    assert_eq!(e.retry_after, Some(Duration::from_secs(7)));
    let e = client.get_agencies().await.expect_err("429");
    assert_class(&e, ErrorKind::Http(429), Fault::Partner, true);
    assert_eq!(e.retry_after, Some(Duration::from_secs(3)));
    let e = client.get_agencies().await.expect_err("404");
    assert_class(&e, ErrorKind::Http(404), Fault::Us, false);
    let e = client.get_agencies().await.expect_err("502");
    assert_class(&e, ErrorKind::Http(502), Fault::Partner, true);
    let e = client.get_agencies().await.expect_err("envelope");
    assert_class(&e, ErrorKind::UnknownDoc, Fault::Partner, false);
    assert_eq!(e.retry_after, Some(Duration::from_secs(2)));
    let e = client.get_agencies().await.expect_err("html");
    assert_class(&e, ErrorKind::Decode, Fault::Partner, true);
    let e = client.get_agencies().await.expect_err("no status");
    assert_class(&e, ErrorKind::Decode, Fault::Partner, true);

    // downloadEdoc: a non-2xx non-envelope is an HTTP error; an envelope decides.
    stub.script([
        Scripted::Status(503, None, "busy"),
        Scripted::Json(json!({"status": "FAIL", "ErrorCode": "401", "ErrorDesc": "x"})),
    ]);
    let id = DocId::new("x");
    let e = client.download_edoc(&id).await.expect_err("503");
    assert_class(&e, ErrorKind::Http(503), Fault::Partner, true);
    let e = client.download_edoc(&id).await.expect_err("401");
    assert_class(&e, ErrorKind::Auth, Fault::Us, false);
}

#[tokio::test]
async fn success_replies_without_their_payload() {
    let stub = Stub::start().await;
    let client = stub.client();
    stub.script([
        Scripted::Json(json!({"status": "OK", "ErrorCode": "0"})),
        Scripted::Json(json!({"status": "OK", "ErrorCode": "0", "data": "%%%"})),
        Scripted::Json(json!({"status": "OK", "ErrorCode": "0"})),
        Scripted::Json(json!({"status": "OK", "ErrorCode": "0", "count": "abc"})),
    ]);
    let id = DocId::new("x");
    let e = client.get_edoc(&id).await.expect_err("no data");
    assert_class(&e, ErrorKind::Decode, Fault::Partner, true);
    let e = client.get_edoc(&id).await.expect_err("not base64");
    assert_class(&e, ErrorKind::Decode, Fault::Partner, true);
    // sendEdoc accepted without an id: resending would duplicate, so not retryable.
    let e = client
        .send_edoc(sample("status_inbox_01.edxml"), MessageType::Status, None)
        .await
        .expect_err("no DocId");
    assert_class(&e, ErrorKind::Decode, Fault::Partner, false);
    let e = client
        .count_received(MessageType::Edoc)
        .await
        .expect_err("bad count");
    assert_class(&e, ErrorKind::Decode, Fault::Partner, true);
}

#[tokio::test]
async fn list_items_are_read_leniently() {
    let stub = Stub::start().await;
    let client = stub.client();
    stub.script([Scripted::Json(json!({
        "status": "OK", "ErrorCode": "0", "ErrorDesc": "Thanh cong",
        "data": [
            {"docId": 42, "messageType": "edoc", "status": 0, "created_time": 1732678200000u64},
            {"docid": "abc", "serviceType": "eDoc", "messageType": "status", "from": null},
            {"messageType": "edoc"},
            "junk",
            {"docId": "  "}
        ]
    }))]);
    let items = client
        .get_received_list(MessageType::Edoc, None)
        .await
        .expect("list");
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].doc_id.as_str(), "42");
    assert_eq!(items[0].status.as_deref(), Some("0"));
    assert_eq!(items[0].created_time.as_deref(), Some("1732678200000"));
    assert_eq!(items[1].doc_id.as_str(), "abc");
    assert_eq!(items[1].message_kind(), Some(MessageType::Status));
    assert_eq!(items[1].from, None);
    // `data` absent, or a lone object.
    stub.script([
        Scripted::Json(json!({"status": "OK", "ErrorCode": "0"})),
        Scripted::Json(json!({"status": "OK", "ErrorCode": "0", "data": {"code": "X"}})),
    ]);
    assert!(client.get_agencies().await.expect("none").is_empty());
    let one = client.get_agencies().await.expect("one");
    assert_eq!(one[0].code.as_deref(), Some("X"));
}

#[tokio::test]
async fn invalid_requests_are_refused_before_sending() {
    let stub = Stub::start().await;
    let client = stub.client();
    let status = sample("status_inbox_01.edxml");
    let mut errors = vec![
        client
            .get_edoc(&DocId::new("tài-liệu"))
            .await
            .expect_err("non-ASCII"),
        client
            .get_edoc(&DocId::new("a\r\nX-Injected: 1"))
            .await
            .expect_err("control characters"),
        client
            .update_status(&DocId::new(" x"), DeliveryStatus::Done, None)
            .await
            .expect_err("leading space"),
        client
            .update_status(
                &DocId::new("x"),
                DeliveryStatus::Fail,
                Some("không đọc được"),
            )
            .await
            .expect_err("non-ASCII description"),
        client
            .send_edoc(status.clone(), MessageType::Edoc, None)
            .await
            .expect_err("kind mismatch"),
        client
            .send_edoc(
                Bytes::from_static(b"not xml at all"),
                MessageType::Edoc,
                None,
            )
            .await
            .expect_err("not edXML"),
        client
            .send_edoc(status.clone(), MessageType::Status, Some(&[]))
            .await
            .expect_err("empty to"),
    ];
    errors.push(client.delete_agency("H41\n").await.expect_err("newline"));
    for e in &errors {
        assert_class(e, ErrorKind::InvalidRequest, Fault::Us, false);
        assert!(e.cause().is_some());
    }
    assert!(stub.requests().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn timeout_is_a_retryable_network_fault() {
    let stub = Stub::start().await;
    let client = VdxpClient::new(VdxpConfig {
        timeout_ms: 200,
        ..stub.config()
    })
    .expect("client");
    client.get_agencies().await.expect("warm-up");
    stub.script([Scripted::Sleep(Duration::from_secs(2))]);
    let started = Instant::now();
    let e = client.get_agencies().await.expect_err("timeout");
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_class(&e, ErrorKind::Timeout, Fault::Network, true);
    assert!(e.cause().is_some());
}

#[tokio::test]
async fn connection_refused_is_a_retryable_network_fault() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let client = VdxpClient::new(VdxpConfig {
        base_url: format!("http://{addr}"),
        systemid: SYSTEM.into(),
        secret: SECRET.into(),
        ..VdxpConfig::default()
    })
    .expect("client");
    let e = client
        .get_received_list(MessageType::Edoc, None)
        .await
        .expect_err("refused");
    assert_class(&e, ErrorKind::Connect, Fault::Network, true);
}

#[tokio::test]
async fn connection_reset_is_a_retryable_network_fault() {
    use tokio::io::AsyncReadExt as _;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            // Read the request head, then close without answering.
            let mut buf = [0u8; 4096];
            let _ = socket.read(&mut buf).await;
            drop(socket);
        }
    });
    let client = VdxpClient::new(VdxpConfig {
        base_url: format!("http://{addr}"),
        systemid: SYSTEM.into(),
        secret: SECRET.into(),
        ..VdxpConfig::default()
    })
    .expect("client");
    let e = client.get_agencies().await.expect_err("reset");
    assert_class(&e, ErrorKind::Transport, Fault::Network, true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrency_limit_is_honoured() {
    let stub = Stub::start().await;
    let client = VdxpClient::new(VdxpConfig {
        max_concurrency: 2,
        ..stub.config()
    })
    .expect("client");
    stub.state.delay_ms.store(80, Ordering::SeqCst);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let c = client.clone();
            tokio::spawn(async move { c.get_agencies().await })
        })
        .collect();
    for t in tasks {
        t.await.expect("join").expect("agencies");
    }
    assert_eq!(stub.state.max_in_flight.load(Ordering::SeqCst), 2);
}
