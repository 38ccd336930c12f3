//! The DVCQG client against a minimal in-test stub of the portal: authentication and
//! headers (§2, §3), the session rule (§3.1), the dossier flow (§6.1), progress chunks
//! (§7), the response rule (§5) and the error classification (§11).
//!
//! The stub follows the simulator rules of `dvcqg.md` §13 where they matter here (bad
//! credentials → `error_code` 1, unknown session → `"-1"`, duplicate insert → `"2"` with
//! `đã tồn tại`, unknown service → `"4"`), plus a script of forced replies for the next
//! service calls.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use lienthong_dvcqg::wire::ErrorCode;
use lienthong_dvcqg::{
    ClientConfig, DossierItem, DvcqgClient, DvcqgError, ErrorKind, Fault, ProgressItem,
    StatusSyncItem, SyncOutcome,
};
use serde_json::{Value, json};

const USER: &str = "hcc.h41";
const PASSWORD: &str = "mat-khau-bi-mat";
const DSTCODE: &str = "H41";
const MADONVI: &str = "000.00.00.H41";
const PROCEDURE: &str = "1.001193.000.00.00.H41";

/// A forced reply for the next service call (authentication calls are never scripted).
#[derive(Clone)]
enum Scripted {
    /// Handle the call normally.
    Pass,
    /// Reply HTTP 200 with this JSON.
    Json(Value),
    /// Reply with this status, an optional `Retry-After`, and a JSON error body.
    Status(u16, Option<String>),
    /// Sleep this long, then handle the call normally.
    Sleep(Duration),
    /// Reply HTTP 200 with this text.
    Raw(&'static str),
}

/// One request the stub received.
#[derive(Clone)]
struct Recorded {
    path: &'static str,
    headers: HeaderMap,
    raw: String,
    body: Value,
}

#[derive(Default)]
struct StubState {
    expect_dstcode: Option<String>,
    auth_calls: AtomicUsize,
    auth_delay_ms: AtomicU64,
    service_delay_ms: AtomicU64,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    next_token: AtomicUsize,
    tokens: Mutex<HashSet<String>>,
    script: Mutex<VecDeque<Scripted>>,
    auth_requests: Mutex<Vec<Recorded>>,
    requests: Mutex<Vec<Recorded>>,
    dossiers: Mutex<HashMap<String, Value>>,
    progress: Mutex<Vec<Value>>,
    statuses: Mutex<Vec<Value>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Counts a service request in flight for as long as it lives.
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

fn reply(v: Value) -> Response {
    axum::Json(v).into_response()
}

fn record(path: &'static str, headers: &HeaderMap, body: &Bytes) -> Recorded {
    let raw = String::from_utf8_lossy(body).into_owned();
    let body = serde_json::from_str(&raw).unwrap_or(Value::Null);
    Recorded {
        path,
        headers: headers.clone(),
        raw,
        body,
    }
}

async fn auth(State(s): State<Arc<StubState>>, headers: HeaderMap, body: Bytes) -> Response {
    s.auth_calls.fetch_add(1, Ordering::SeqCst);
    let rec = record("auth", &headers, &body);
    lock(&s.auth_requests).push(rec.clone());
    let delay = s.auth_delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let dstcode_ok = match &s.expect_dstcode {
        None => true,
        Some(want) => headers.get("dstcode").and_then(|v| v.to_str().ok()) == Some(want),
    };
    if rec.body["username"] != USER || rec.body["password"] != PASSWORD || !dstcode_ok {
        return reply(json!({"error_code": 1, "message": "Sai thông tin đăng nhập"}));
    }
    let token = format!("tok-{}", s.next_token.fetch_add(1, Ordering::SeqCst) + 1);
    lock(&s.tokens).insert(token.clone());
    reply(json!({"error_code": 0, "message": "Thành công", "session": token}))
}

async fn integration(s: State<Arc<StubState>>, headers: HeaderMap, body: Bytes) -> Response {
    service(s, "integration", headers, body).await
}

async fn share(s: State<Arc<StubState>>, headers: HeaderMap, body: Bytes) -> Response {
    service(s, "share", headers, body).await
}

async fn service(
    State(s): State<Arc<StubState>>,
    path: &'static str,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let _guard = InFlight::enter(&s);
    let rec = record(path, &headers, &body);
    lock(&s.requests).push(rec.clone());
    let delay = s.service_delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let scripted = lock(&s.script).pop_front();
    match scripted {
        None | Some(Scripted::Pass) => {}
        Some(Scripted::Json(v)) => return reply(v),
        Some(Scripted::Raw(text)) => return text.into_response(),
        Some(Scripted::Status(code, retry_after)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut resp = (
                status,
                axum::Json(json!({"error_code": "500", "message": "Lỗi máy chủ"})),
            )
                .into_response();
            if let Some(value) = retry_after.and_then(|v| HeaderValue::from_str(&v).ok()) {
                resp.headers_mut().insert("retry-after", value);
            }
            return resp;
        }
        Some(Scripted::Sleep(d)) => tokio::time::sleep(d).await,
    }
    handle(&s, path, &rec.body)
}

/// The normal behaviour (§13.2–13.4, reduced).
fn handle(s: &StubState, path: &str, body: &Value) -> Response {
    let token = body["session"].as_str().unwrap_or("");
    if !lock(&s.tokens).contains(token) {
        return reply(
            json!({"error_code": "-1", "message": "Phiên làm việc không hợp lệ hoặc đã hết hạn"}),
        );
    }
    if body["madonvi"] != MADONVI {
        return reply(json!({"error_code": "-1", "message": "Mã đơn vị không hợp lệ"}));
    }
    let ok = |message: &str| reply(json!({"error_code": "0", "message": message}));
    let result =
        |items: Value| reply(json!({"error_code": "0", "message": "Thành công", "result": items}));
    let empty = Vec::new();
    let data = body["data"].as_array().unwrap_or(&empty);
    match (path, body["service"].as_str().unwrap_or("")) {
        ("integration", "DongBoHoSoMC") => {
            let updating = match &body["isUpdating"] {
                Value::String(t) if t.eq_ignore_ascii_case("true") => true,
                Value::String(f) if f.eq_ignore_ascii_case("false") => false,
                Value::Bool(b) => *b,
                _ => {
                    return reply(json!({"error_code": "3", "message": "isUpdating không hợp lệ"}));
                }
            };
            let mut dossiers = lock(&s.dossiers);
            for item in data {
                let code = item["MaHoSo"].as_str().unwrap_or("");
                if !updating && dossiers.contains_key(code) {
                    return reply(
                        json!({"error_code": "2", "message": format!("Hồ sơ {code} đã tồn tại")}),
                    );
                }
            }
            for item in data {
                let code = item["MaHoSo"].as_str().unwrap_or("").to_owned();
                dossiers.insert(code, item.clone());
            }
            ok("Đồng bộ thành công")
        }
        ("integration", "CapNhatTienDoHoSoMC") => {
            let dossiers = lock(&s.dossiers);
            if let Some(bad) = data
                .iter()
                .find(|i| !dossiers.contains_key(i["MaHoSo"].as_str().unwrap_or("")))
            {
                return reply(
                    json!({"error_code": "3", "message": format!("Không tìm thấy hồ sơ {}", bad["MaHoSo"])}),
                );
            }
            lock(&s.progress).extend(data.iter().cloned());
            ok("Cập nhật tiến độ thành công")
        }
        ("integration", "TraCuuHoSo") => {
            let code = body["mahoso"].as_str().unwrap_or("");
            match lock(&s.dossiers).get(code) {
                Some(d) => result(json!([d])),
                None => result(json!([])),
            }
        }
        ("integration", "LayThuTuc") => {
            if body["maTTHC"] == PROCEDURE {
                result(json!([{
                    "MATTHC": PROCEDURE,
                    "TENTTHC": "Đăng ký khai sinh",
                    "LINHVUCTHUCHIEN": [{"MALINHVUC": "G03-GD10", "TENLINHVUC": "Hộ tịch"}]
                }]))
            } else {
                result(json!([]))
            }
        }
        ("integration", "DongBoTrangThaiHoSo") => {
            if body["type"] != "2" {
                return reply(json!({"error_code": "3", "message": "type không hợp lệ"}));
            }
            lock(&s.statuses).extend(data.iter().cloned());
            ok("Đồng bộ thành công")
        }
        ("share", "LayDanhSachTTHC") => {
            result(json!([{"MATTHC": PROCEDURE, "TENTTHC": "Đăng ký khai sinh"}]))
        }
        ("share", "LayDanhMucCoQuan") => result(json!([
            {"MADONVI": MADONVI, "TENDONVI": "UBND tỉnh", "CAPDONVI": "1"}
        ])),
        ("share", "LayDanhMucLinhVuc") => result(json!([
            {"MALINHVUC": "G03-GD10", "TENLINHVUC": "Hộ tịch", "MANGANH": "G03"}
        ])),
        _ => reply(json!({"error_code": "4", "message": "Dịch vụ không hợp lệ"})),
    }
}

/// A running stub.
struct Stub {
    base: String,
    state: Arc<StubState>,
}

impl Stub {
    async fn start(expect_dstcode: Option<&str>) -> Stub {
        let state = Arc::new(StubState {
            expect_dstcode: expect_dstcode.map(str::to_owned),
            ..StubState::default()
        });
        let app = Router::new()
            .route("/api/auth", post(auth))
            .route("/api/integration", post(integration))
            .route("/api/share", post(share))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Stub {
            base: format!("http://{addr}/api"),
            state,
        }
    }

    /// A client configuration for this stub (correct credentials and `dstcode`).
    fn config(&self) -> ClientConfig {
        ClientConfig {
            adapter_url: self.base.clone(),
            auth_endpoint: "/auth".into(),
            integration_endpoint: "/integration".into(),
            share_endpoint: "/share".into(),
            username: USER.into(),
            password: PASSWORD.into(),
            dstcode: self.state.expect_dstcode.clone(),
            madonvi: MADONVI.into(),
            ..ClientConfig::default()
        }
    }

    fn client(&self) -> DvcqgClient {
        DvcqgClient::new(self.config()).expect("client")
    }

    fn script(&self, items: impl IntoIterator<Item = Scripted>) {
        lock(&self.state.script).extend(items);
    }

    fn auth_calls(&self) -> usize {
        self.state.auth_calls.load(Ordering::SeqCst)
    }

    fn requests(&self) -> Vec<Recorded> {
        lock(&self.state.requests).clone()
    }

    /// Invalidates every issued session (as the simulator's "expire a session").
    fn expire_sessions(&self) {
        lock(&self.state.tokens).clear();
    }
}

fn dossier(code: &str) -> DossierItem {
    DossierItem {
        MaHoSo: code.into(),
        MaTTHC: PROCEDURE.into(),
        TenTTHC: "Đăng ký khai sinh".into(),
        KenhThucHien: "1".into(),
        LoaiDoiTuong: "1".into(),
        NgayTiepNhan: "20250314091502".into(),
        TrangThaiHoSo: "2".into(),
        HinhThuc: "0".into(),
        HoSoCoThanhPhanSoHoa: "0".into(),
        TaiKhoanDuocXacThucVoiVNeID: "0".into(),
        DuocThanhToanTrucTuyen: "0".into(),
        ..DossierItem::default()
    }
}

fn steps(code: &str, n: usize) -> Vec<ProgressItem> {
    (0..n)
        .map(|i| ProgressItem {
            MaHoSo: code.into(),
            NguoiXuLy: "Cán bộ".into(),
            ThoiDiemXuLy: "20250314091502".into(),
            NoiDungXuLy: format!("bước {i}"),
            TrangThai: "4".into(),
            ..ProgressItem::default()
        })
        .collect()
}

fn assert_class(e: &DvcqgError, kind: ErrorKind, fault: Fault, retryable: bool) {
    assert_eq!(
        (e.kind, e.fault, e.retryable),
        (kind, fault, retryable),
        "{e}"
    );
}

const CODE: &str = "000.00.12.H41-250314-0007";

#[tokio::test]
async fn authentication_and_headers() {
    let stub = Stub::start(Some(DSTCODE)).await;
    let client = stub.client();
    assert_eq!(client.lookup_dossier("X").await.expect("lookup"), None);

    let auths = lock(&stub.state.auth_requests).clone();
    assert_eq!(auths.len(), 1);
    assert_eq!(
        auths[0].raw,
        format!("{{\"username\":\"{USER}\",\"password\":\"{PASSWORD}\"}}")
    );
    let service = &stub.requests()[0];
    assert_eq!(service.path, "integration");
    assert_eq!(
        service.raw,
        format!(
            "{{\"session\":\"tok-1\",\"madonvi\":\"{MADONVI}\",\"service\":\"TraCuuHoSo\",\"mahoso\":\"X\"}}"
        )
    );
    for rec in [&auths[0], service] {
        let h = &rec.headers;
        assert_eq!(h["accept"], "application/json");
        assert_eq!(h["content-type"], "application/json");
        assert_eq!(h["charset"], "utf-8");
        assert_eq!(h["dstcode"], DSTCODE);
    }

    // Without a configured dstcode, no header.
    let stub = Stub::start(None).await;
    stub.client().lookup_dossier("X").await.expect("lookup");
    assert!(stub.requests()[0].headers.get("dstcode").is_none());
    assert!(
        lock(&stub.state.auth_requests)[0]
            .headers
            .get("dstcode")
            .is_none()
    );
}

#[tokio::test]
async fn session_is_reused_across_calls_and_clones() {
    let stub = Stub::start(Some(DSTCODE)).await;
    let client = stub.client();
    client.lookup_dossier("A").await.expect("lookup");
    client.procedures().await.expect("catalogue");
    client.clone().lookup_dossier("B").await.expect("lookup");
    assert_eq!(stub.auth_calls(), 1);
    assert!(stub.requests().iter().all(|r| r.body["session"] == "tok-1"));
}

#[tokio::test]
async fn session_refreshed_proactively_after_max_age() {
    let stub = Stub::start(None).await;
    let client = DvcqgClient::new(ClientConfig {
        session_max_age_secs: 1,
        ..stub.config()
    })
    .expect("client");
    client.lookup_dossier("A").await.expect("lookup");
    client.lookup_dossier("A").await.expect("lookup");
    assert_eq!(stub.auth_calls(), 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    client.lookup_dossier("A").await.expect("lookup");
    assert_eq!(stub.auth_calls(), 2);
    let sessions: Vec<Value> = stub
        .requests()
        .iter()
        .map(|r| r.body["session"].clone())
        .collect();
    assert_eq!(sessions, [json!("tok-1"), json!("tok-1"), json!("tok-2")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn single_flight_on_a_cold_client() {
    let stub = Stub::start(None).await;
    stub.state.auth_delay_ms.store(150, Ordering::SeqCst);
    let client = stub.client();
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let c = client.clone();
            tokio::spawn(async move { c.lookup_dossier(&format!("X-{i}")).await })
        })
        .collect();
    for t in tasks {
        t.await.expect("join").expect("lookup");
    }
    assert_eq!(stub.auth_calls(), 1);
    assert_eq!(stub.requests().len(), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn single_flight_refresh_after_session_expiry() {
    let stub = Stub::start(None).await;
    let client = DvcqgClient::new(ClientConfig {
        refresh_if_older_than_secs: 0,
        ..stub.config()
    })
    .expect("client");
    client.lookup_dossier("warm-up").await.expect("lookup");
    stub.expire_sessions();
    stub.state.auth_delay_ms.store(100, Ordering::SeqCst);
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let c = client.clone();
            tokio::spawn(async move { c.lookup_dossier(&format!("X-{i}")).await })
        })
        .collect();
    for t in tasks {
        t.await.expect("join").expect("lookup after refresh");
    }
    // One authentication for the warm-up, one shared refresh.
    assert_eq!(stub.auth_calls(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn single_flight_shares_a_failed_authentication() {
    let stub = Stub::start(None).await;
    stub.state.auth_delay_ms.store(150, Ordering::SeqCst);
    let client = DvcqgClient::new(ClientConfig {
        password: "wrong".into(),
        ..stub.config()
    })
    .expect("client");
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let c = client.clone();
            tokio::spawn(async move { c.lookup_dossier("X").await })
        })
        .collect();
    for t in tasks {
        let e = t.await.expect("join").expect_err("bad credentials");
        assert_class(&e, ErrorKind::Auth, Fault::Us, false);
    }
    assert_eq!(stub.auth_calls(), 1);
    assert!(stub.requests().is_empty());
}

#[tokio::test]
async fn failure_with_an_old_session_refreshes_and_repeats_once() {
    let stub = Stub::start(None).await;
    let client = DvcqgClient::new(ClientConfig {
        refresh_if_older_than_secs: 0,
        ..stub.config()
    })
    .expect("client");
    client.lookup_dossier("warm-up").await.expect("lookup");

    // Expired session ("-1"): refresh, repeat, success.
    stub.expire_sessions();
    client
        .lookup_dossier("A")
        .await
        .expect("repeated after refresh");
    assert_eq!(stub.auth_calls(), 2);
    let sessions: Vec<Value> = stub
        .requests()
        .iter()
        .map(|r| r.body["session"].clone())
        .collect();
    assert_eq!(sessions, [json!("tok-1"), json!("tok-1"), json!("tok-2")]);

    // HTTP 401 is treated the same way.
    stub.script([Scripted::Status(401, None)]);
    client
        .lookup_dossier("A")
        .await
        .expect("repeated after 401");
    assert_eq!(stub.auth_calls(), 3);

    // A second failure is reported as is, with the portal's reply verbatim.
    let fail = json!({"error_code": "5", "message": "Lỗi giả lập"});
    stub.script([Scripted::Json(fail.clone()), Scripted::Json(fail)]);
    let before = stub.requests().len();
    let e = client
        .lookup_dossier("A")
        .await
        .expect_err("second failure");
    assert_class(&e, ErrorKind::Partner, Fault::Partner, true);
    assert_eq!(e.error_code(), Some(&ErrorCode::Text("5".into())));
    assert_eq!(e.message(), Some("Lỗi giả lập"));
    assert_eq!(e.service, "TraCuuHoSo");
    assert_eq!(stub.requests().len(), before + 2);
    assert_eq!(stub.auth_calls(), 4);
}

#[tokio::test]
async fn failure_with_a_young_session_is_not_repeated() {
    let stub = Stub::start(None).await;
    let client = stub.client(); // refresh_if_older_than_secs: 60
    stub.script([Scripted::Json(
        json!({"error_code": "-1", "message": "Phiên làm việc không hợp lệ"}),
    )]);
    let e = client.lookup_dossier("A").await.expect_err("failure");
    assert_class(&e, ErrorKind::Partner, Fault::Partner, true);
    assert_eq!(e.error_code(), Some(&ErrorCode::Text("-1".into())));
    assert_eq!(stub.auth_calls(), 1);
    assert_eq!(stub.requests().len(), 1);
}

#[tokio::test]
async fn insert_then_duplicate_falls_back_to_update() {
    let stub = Stub::start(Some(DSTCODE)).await;
    let client = stub.client();
    let item = dossier(CODE);
    assert_eq!(
        client.sync_dossier(&item, false).await.expect("insert"),
        SyncOutcome::Inserted
    );
    assert_eq!(
        client.sync_dossier(&item, false).await.expect("duplicate"),
        SyncOutcome::UpdatedAfterDuplicate
    );
    assert_eq!(
        client.sync_dossier(&item, true).await.expect("update"),
        SyncOutcome::Updated
    );
    let flags: Vec<Value> = stub
        .requests()
        .iter()
        .map(|r| r.body["isUpdating"].clone())
        .collect();
    assert_eq!(flags, ["False", "False", "True", "True"]);
    for r in stub.requests() {
        assert_eq!(r.body["service"], "DongBoHoSoMC");
        assert_eq!(r.body["data"].as_array().map(Vec::len), Some(1));
        assert_eq!(r.body["data"][0]["MaHoSo"], CODE);
    }
    // The resent update is the same payload.
    let reqs = stub.requests();
    assert_eq!(reqs[1].body["data"], reqs[2].body["data"]);
    assert_eq!(stub.auth_calls(), 1);

    // The duplicate text on an update is an ordinary failure.
    stub.script([Scripted::Json(
        json!({"error_code": "2", "message": "Hồ sơ đã tồn tại"}),
    )]);
    let e = client.sync_dossier(&item, true).await.expect_err("failure");
    assert_class(&e, ErrorKind::Partner, Fault::Partner, true);
}

#[tokio::test]
async fn progress_is_sent_in_chunks_of_ten_in_order() {
    let stub = Stub::start(None).await;
    let client = stub.client();
    client
        .sync_dossier(&dossier(CODE), false)
        .await
        .expect("insert");
    client
        .send_progress(&steps(CODE, 23))
        .await
        .expect("progress");
    let sizes: Vec<usize> = stub
        .requests()
        .iter()
        .filter(|r| r.body["service"] == "CapNhatTienDoHoSoMC")
        .map(|r| r.body["data"].as_array().map_or(0, Vec::len))
        .collect();
    assert_eq!(sizes, [10, 10, 3]);
    let sent: Vec<String> = lock(&stub.state.progress)
        .iter()
        .map(|p| p["NoiDungXuLy"].as_str().unwrap_or("").to_owned())
        .collect();
    let expected: Vec<String> = (0..23).map(|i| format!("bước {i}")).collect();
    assert_eq!(sent, expected);

    // Nothing to send, no call.
    let before = stub.requests().len();
    client.send_progress(&[]).await.expect("empty");
    assert_eq!(stub.requests().len(), before);
}

#[tokio::test]
async fn progress_stops_at_the_first_failed_chunk() {
    let stub = Stub::start(None).await;
    let client = stub.client();
    client
        .sync_dossier(&dossier(CODE), false)
        .await
        .expect("insert");
    stub.script([
        Scripted::Pass,
        Scripted::Json(json!({"error_code": "5", "message": "Lỗi giả lập"})),
    ]);
    let e = client
        .send_progress(&steps(CODE, 23))
        .await
        .expect_err("second chunk fails");
    assert_class(&e, ErrorKind::Partner, Fault::Partner, true);
    assert_eq!(e.accepted, Some(10));
    assert_eq!(e.service, "CapNhatTienDoHoSoMC");
    let calls = stub
        .requests()
        .iter()
        .filter(|r| r.body["service"] == "CapNhatTienDoHoSoMC")
        .count();
    assert_eq!(calls, 2);
    assert_eq!(lock(&stub.state.progress).len(), 10);
}

#[tokio::test]
async fn http_errors_are_retryable_partner_faults() {
    let stub = Stub::start(None).await;
    let client = stub.client();
    for (status, retry_after, expected) in [
        (500, None, None),
        (503, Some("7".to_owned()), Some(Duration::from_secs(7))),
        (429, Some("3".to_owned()), Some(Duration::from_secs(3))),
        (
            429,
            Some("Sun, 06 Nov 1994 08:49:37 GMT".to_owned()),
            Some(Duration::ZERO),
        ),
    ] {
        stub.script([Scripted::Status(status, retry_after)]);
        let e = client.lookup_dossier("A").await.expect_err("HTTP error");
        assert_class(&e, ErrorKind::Http(status), Fault::Partner, true);
        assert_eq!(e.retry_after, expected, "{status}");
        // The JSON error body is kept verbatim.
        assert_eq!(e.message(), Some("Lỗi máy chủ"));
    }
    stub.script([Scripted::Status(404, None)]);
    let e = client.lookup_dossier("A").await.expect_err("404");
    assert_class(&e, ErrorKind::Http(404), Fault::Us, false);
    // 5xx and 404 are not session problems: no refresh.
    assert_eq!(stub.auth_calls(), 1);

    stub.script([Scripted::Raw("<html>Bad gateway</html>")]);
    let e = client.lookup_dossier("A").await.expect_err("not JSON");
    assert_class(&e, ErrorKind::Decode, Fault::Partner, true);
}

#[tokio::test]
async fn timeout_is_a_retryable_network_fault() {
    let stub = Stub::start(None).await;
    let client = DvcqgClient::new(ClientConfig {
        timeout_ms: 200,
        ..stub.config()
    })
    .expect("client");
    client.lookup_dossier("warm-up").await.expect("lookup");
    stub.script([Scripted::Sleep(Duration::from_secs(2))]);
    let started = Instant::now();
    let e = client.lookup_dossier("A").await.expect_err("timeout");
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_class(&e, ErrorKind::Timeout, Fault::Network, true);
    assert!(e.cause().is_some());
}

#[tokio::test]
async fn review_codes_are_parked_not_retried() {
    let stub = Stub::start(None).await;
    let client = stub.client();
    stub.script([Scripted::Json(
        json!({"error_code": "3", "message": "Hồ sơ cần xem xét"}),
    )]);
    let e = client
        .sync_dossier(&dossier(CODE), false)
        .await
        .expect_err("review");
    assert_class(&e, ErrorKind::NeedsReview, Fault::Partner, false);
    assert!(e.needs_review());
    assert_eq!(e.message(), Some("Hồ sơ cần xem xét"));
    assert_eq!(e.error_code(), Some(&ErrorCode::Text("3".into())));
    assert_eq!(stub.requests().len(), 1);
}

#[tokio::test]
async fn bad_credentials_are_our_fault_and_final() {
    let stub = Stub::start(Some(DSTCODE)).await;
    for config in [
        ClientConfig {
            password: "wrong".into(),
            ..stub.config()
        },
        ClientConfig {
            dstcode: Some("H99".into()),
            ..stub.config()
        },
    ] {
        let client = DvcqgClient::new(config).expect("client");
        let e = client.lookup_dossier("A").await.expect_err("refused");
        assert_class(&e, ErrorKind::Auth, Fault::Us, false);
        assert_eq!(e.service, "auth");
        assert_eq!(e.error_code(), Some(&ErrorCode::Number(1.into())));
        assert_eq!(e.message(), Some("Sai thông tin đăng nhập"));
        assert!(!e.to_string().contains("wrong"), "{e}");
    }
    assert!(stub.requests().is_empty());
}

#[tokio::test]
async fn connection_refused_is_a_retryable_network_fault() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let client = DvcqgClient::new(ClientConfig {
        adapter_url: format!("http://{addr}"),
        auth_endpoint: "/auth".into(),
        integration_endpoint: "/integration".into(),
        share_endpoint: "/share".into(),
        username: USER.into(),
        password: PASSWORD.into(),
        madonvi: MADONVI.into(),
        ..ClientConfig::default()
    })
    .expect("client");
    let e = client.lookup_dossier("A").await.expect_err("refused");
    assert_class(&e, ErrorKind::Connect, Fault::Network, true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrency_limit_is_honoured() {
    let stub = Stub::start(None).await;
    let client = DvcqgClient::new(ClientConfig {
        max_concurrency: 2,
        ..stub.config()
    })
    .expect("client");
    stub.state.service_delay_ms.store(80, Ordering::SeqCst);
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let c = client.clone();
            tokio::spawn(async move { c.lookup_dossier(&format!("X-{i}")).await })
        })
        .collect();
    for t in tasks {
        t.await.expect("join").expect("lookup");
    }
    assert_eq!(stub.requests().len(), 10);
    assert_eq!(stub.state.max_in_flight.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn lookups_catalogues_and_status_sync() {
    let stub = Stub::start(None).await;
    let client = stub.client();
    assert_eq!(client.lookup_dossier(CODE).await.expect("lookup"), None);
    client
        .sync_dossier(&dossier(CODE), false)
        .await
        .expect("insert");
    let found = client
        .lookup_dossier(CODE)
        .await
        .expect("lookup")
        .expect("known");
    assert_eq!(found["MaHoSo"], CODE);

    let p = client
        .procedure(PROCEDURE)
        .await
        .expect("procedure")
        .expect("known");
    assert_eq!(p["LINHVUCTHUCHIEN"][0]["MALINHVUC"], "G03-GD10");
    assert_eq!(client.procedure("0.0").await.expect("procedure"), None);

    assert_eq!(
        client.procedures().await.expect("procedures")[0]["MATTHC"],
        PROCEDURE
    );
    assert_eq!(
        client.agencies().await.expect("agencies")[0]["MADONVI"],
        MADONVI
    );
    assert_eq!(client.fields().await.expect("fields")[0]["MANGANH"], "G03");

    let item = StatusSyncItem {
        MaHoSo: "G22.99-250314-0001".into(),
        MaHoSoDonVi: CODE.into(),
        TrangThai: "2".into(),
        ..StatusSyncItem::default()
    };
    client.sync_status(&[item]).await.expect("status");
    assert_eq!(lock(&stub.state.statuses).len(), 1);

    let reqs = stub.requests();
    let by_service = |name: &str| {
        reqs.iter()
            .find(|r| r.body["service"] == name)
            .map(|r| (r.path, r.raw.clone()))
            .expect("request")
    };
    assert_eq!(by_service("LayDanhMucCoQuan").0, "share");
    assert_eq!(by_service("LayThuTuc").0, "integration");
    assert!(by_service("LayThuTuc").1.ends_with(&format!(
        "\"service\":\"LayThuTuc\",\"maTTHC\":\"{PROCEDURE}\"}}"
    )));
    assert!(
        by_service("DongBoTrangThaiHoSo")
            .1
            .contains("\"type\":\"2\",\"data\":[")
    );
    assert_eq!(stub.auth_calls(), 1);
}
