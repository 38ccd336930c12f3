//! The DVCQG simulator over real HTTP on loopback (`docs/dvcqg.md` §13,
//! `docs/simulators.md`): authentication and sessions, dossier and progress
//! synchronisation with validation and switches, lookups and catalogues, response style,
//! every fault mode and its determinism, inspection, and the citizen-side push.

use axum::Router;
use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::routing::post;
use lienthong_dvcqg::wire::{
    DossierItem, Outcome, ProgressItem, Response, classify, lookup_dossier_body, progress_body,
    session_of, sync_dossiers_body,
};
use lienthong_dvcqg::{MappingConfig, dossier_to_dvcqg, progress_to_dvcqg};
use lienthong_sandbox::dvcqg::{Account, DvcqgConfig, DvcqgSim, spawn_dvcqg};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const USER: &str = "lienthong";
const PASSWORD: &str = "lienthong-secret";
const DSTCODE: &str = "H41-DVC";
const MADONVI: &str = "000.00.00.H41";
const CODE: &str = "000.00.12.H41-250314-0007";

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    match reqwest::Client::builder().no_proxy().build() {
        Ok(c) => c,
        Err(e) => panic!("client: {e}"),
    }
}

/// A simulator on a free loopback port and a client for it.
struct Portal {
    base: String,
    sim: DvcqgSim,
    http: reqwest::Client,
    _task: tokio::task::JoinHandle<()>,
}

impl Portal {
    async fn start(config: DvcqgConfig) -> Portal {
        let (addr, sim, task) = spawn_dvcqg(config).await.expect("simulator starts");
        Portal {
            base: format!("http://{addr}"),
            sim,
            http: http(),
            _task: task,
        }
    }

    async fn default() -> Portal {
        Portal::start(DvcqgConfig::default()).await
    }

    /// POSTs `body` to `path` with the §2 headers (`dstcode` when given).
    async fn send(
        &self,
        path: &str,
        body: String,
        dstcode: Option<&str>,
    ) -> reqwest::Result<reqwest::Response> {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("Accept", "application/json")
            .header("Content-Type", "application/json")
            .header("Charset", "utf-8")
            .body(body);
        if let Some(d) = dstcode {
            req = req.header("dstcode", d);
        }
        req.send().await
    }

    /// POSTs and reads the JSON answer (HTTP 200 expected).
    async fn call(&self, path: &str, body: String) -> Value {
        let resp = self.send(path, body, Some(DSTCODE)).await.expect("answer");
        assert_eq!(resp.status(), 200);
        resp.json().await.expect("JSON answer")
    }

    async fn auth_with(&self, user: &str, password: &str, dstcode: Option<&str>) -> Value {
        let body = lienthong_dvcqg::wire::auth_body(user, password);
        let resp = self.send("/auth", body, dstcode).await.expect("answer");
        assert_eq!(resp.status(), 200);
        resp.json().await.expect("JSON answer")
    }

    async fn login(&self) -> String {
        let v = self.auth_with(USER, PASSWORD, Some(DSTCODE)).await;
        let r = Response::try_from(v).expect("envelope");
        session_of(&r).expect("session").to_owned()
    }

    async fn insert(&self, session: &str, items: &[DossierItem]) -> Value {
        self.call(
            "/integration",
            sync_dossiers_body(session, MADONVI, false, items),
        )
        .await
    }

    async fn update(&self, session: &str, items: &[DossierItem]) -> Value {
        self.call(
            "/integration",
            sync_dossiers_body(session, MADONVI, true, items),
        )
        .await
    }

    async fn lookup(&self, session: &str, code: &str) -> Value {
        self.call("/integration", lookup_dossier_body(session, MADONVI, code))
            .await
    }

    async fn service(&self, path: &str, session: &str, service: &str, params: Value) -> Value {
        let mut body = json!({"session": session, "madonvi": MADONVI, "service": service});
        if let (Value::Object(b), Value::Object(p)) = (&mut body, params) {
            b.extend(p);
        }
        self.call(path, body.to_string()).await
    }

    async fn admin_get(&self, path: &str) -> Value {
        let resp = self
            .http
            .get(format!("{}/admin/{path}", self.base))
            .send()
            .await
            .expect("admin answer");
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        resp.json().await.expect("JSON")
    }

    async fn admin_post(&self, path: &str, body: Value) -> (u16, Value) {
        let resp = self
            .http
            .post(format!("{}/admin/{path}", self.base))
            .json(&body)
            .send()
            .await
            .expect("admin answer");
        let status = resp.status().as_u16();
        (status, resp.json().await.expect("JSON"))
    }

    async fn faults(&self, settings: Value) {
        let (status, v) = self.admin_post("faults", settings).await;
        assert_eq!(status, 200, "{v}");
    }
}

fn dossier(code: &str) -> DossierItem {
    DossierItem {
        MaHoSo: code.into(),
        MaTTHC: "1.001193.000.00.00.H41".into(),
        TenTTHC: "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam".into(),
        MaLinhVuc: "G12-LL01".into(),
        TenLinhVuc: "Lý lịch tư pháp".into(),
        KenhThucHien: "2".into(),
        ChuHoSo: "Nguyễn Văn A".into(),
        LoaiDoiTuong: "1".into(),
        SoDienThoai: "0900000000".into(),
        TrichYeuHoSo: "Đề nghị cấp phiếu lý lịch tư pháp".into(),
        NgayTiepNhan: "20250314091502".into(),
        NgayHenTra: "20250321170000".into(),
        TrangThaiHoSo: "2".into(),
        HinhThuc: "0".into(),
        DonViXuLy: "Sở Tư pháp".into(),
        HoSoCoThanhPhanSoHoa: "0".into(),
        TaiKhoanDuocXacThucVoiVNeID: "0".into(),
        DuocThanhToanTrucTuyen: "0".into(),
        ..DossierItem::default()
    }
}

fn step(code: &str, what: &str, status: &str) -> ProgressItem {
    ProgressItem {
        MaHoSo: code.into(),
        NguoiXuLy: "Nguyễn Thị Hồng".into(),
        ChucDanh: "Chuyên viên".into(),
        ThoiDiemXuLy: "20250314100000".into(),
        PhongBanXuLy: "Bộ phận Một cửa".into(),
        NoiDungXuLy: what.into(),
        TrangThai: status.into(),
        ..ProgressItem::default()
    }
}

fn classify_json(v: &Value, is_insert: bool) -> Outcome {
    classify(&Response::try_from(v.clone()).expect("envelope"), is_insert)
}

fn message(v: &Value) -> &str {
    v["message"].as_str().unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// Authentication and sessions
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn authentication() {
    let p = Portal::default().await;
    let ok = p.auth_with(USER, PASSWORD, Some(DSTCODE)).await;
    assert_eq!(ok["error_code"], json!(0));
    assert_eq!(ok["message"], "Thành công");
    assert!(ok["session"].as_str().is_some_and(|s| s.len() >= 16));

    let refused = json!({"error_code": 1, "message": "Sai thông tin đăng nhập"});
    assert_eq!(p.auth_with(USER, "wrong", Some(DSTCODE)).await, refused);
    assert_eq!(
        p.auth_with("nobody", PASSWORD, Some(DSTCODE)).await,
        refused
    );
    assert_eq!(p.auth_with(USER, PASSWORD, Some("H56-DVC")).await, refused);
    assert_eq!(p.auth_with(USER, PASSWORD, None).await, refused);

    // Without a configured dstcode the header is not checked.
    let mut c = DvcqgConfig::default();
    c.accounts[0].dstcode = None;
    let p = Portal::start(c).await;
    assert_eq!(
        p.auth_with(USER, PASSWORD, None).await["error_code"],
        json!(0)
    );
    let calls = p.sim.calls();
    assert_eq!(calls.count("auth", "ok"), 1);
    let h = &calls.recent[0].headers;
    assert_eq!(h.get("charset").map(String::as_str), Some("utf-8"));
    assert_eq!(
        h.get("content-type").map(String::as_str),
        Some("application/json")
    );
    assert!(!h.contains_key("dstcode"));
    assert!(
        calls.recent.iter().all(|c| c.body.is_none()),
        "no credentials in the log"
    );
}

#[tokio::test]
async fn session_expires_after_its_lifetime() {
    let p = Portal::start(DvcqgConfig {
        session_ttl_secs: 1,
        ..DvcqgConfig::default()
    })
    .await;
    let s = p.login().await;
    assert_eq!(p.lookup(&s, CODE).await["error_code"], "0");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let v = p.lookup(&s, CODE).await;
    assert_eq!(
        v,
        json!({"error_code": "-1", "message": "Phiên làm việc không hợp lệ hoặc đã hết hạn"})
    );
    assert_eq!(p.lookup("made-up", CODE).await["error_code"], "-1");
}

#[tokio::test]
async fn admin_expires_sessions() {
    let p = Portal::default().await;
    let s = p.login().await;
    assert_eq!(
        p.admin_get("sessions").await["sessions"][0]["username"],
        USER
    );
    let (status, v) = p.admin_post("expire-sessions", json!({})).await;
    assert_eq!((status, v), (200, json!({"expired": 1})));
    assert_eq!(p.lookup(&s, CODE).await["error_code"], "-1");
    let s = p.login().await;
    let (_, v) = p
        .admin_post("expire-sessions", json!({"username": "other"}))
        .await;
    assert_eq!(v["expired"], 0);
    assert_eq!(p.lookup(&s, CODE).await["error_code"], "0");
}

#[tokio::test]
async fn madonvi_and_dstcode_on_service_calls() {
    let mut c = DvcqgConfig::default();
    c.accounts.push(Account {
        username: "other".into(),
        password: "other-secret".into(),
        dstcode: None,
        madonvi: vec!["000.00.00.H56".into()],
    });
    let p = Portal::start(c).await;
    let s = p.login().await;
    let v = p
        .call(
            "/integration",
            lookup_dossier_body(&s, "000.00.00.H56", CODE),
        )
        .await;
    assert_eq!(v["error_code"], "-1");
    assert!(message(&v).contains("000.00.00.H56"), "{v}");
    let v = p
        .call("/integration", lookup_dossier_body(&s, "", CODE))
        .await;
    assert_eq!(v["error_code"], "-1");

    // The other account may use its own unit, and has no dstcode to check.
    let o = p.auth_with("other", "other-secret", None).await;
    let o = o["session"].as_str().expect("session");
    let v = p
        .send(
            "/integration",
            lookup_dossier_body(o, "000.00.00.H56", CODE),
            None,
        )
        .await
        .expect("answer");
    assert_eq!(v.json::<Value>().await.expect("json")["error_code"], "0");

    // The first account's dstcode is required on service calls too.
    let v = p
        .send("/integration", lookup_dossier_body(&s, MADONVI, CODE), None)
        .await
        .expect("answer");
    let v: Value = v.json().await.expect("json");
    assert_eq!(v, json!({"error_code": "1", "message": "Sai mã dstcode"}));
    assert_eq!(p.sim.calls().count("TraCuuHoSo", "bad_dstcode"), 1);
}

// ---------------------------------------------------------------------------------------
// DongBoHoSoMC
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn insert_duplicate_update_lookup() {
    let p = Portal::default().await;
    let s = p.login().await;
    let item = dossier(CODE);
    let v = p.insert(&s, std::slice::from_ref(&item)).await;
    assert_eq!(
        v,
        json!({"error_code": "0", "message": "Đồng bộ thành công"})
    );
    assert_eq!(classify_json(&v, true), Outcome::Success);

    let v = p.insert(&s, std::slice::from_ref(&item)).await;
    assert_eq!(v["error_code"], "2");
    assert!(message(&v).contains("đã tồn tại"), "{v}");
    assert!(message(&v).contains(CODE), "{v}");
    assert_eq!(classify_json(&v, true), Outcome::Duplicate);

    let changed = DossierItem {
        TrangThaiHoSo: "4".into(),
        ..item.clone()
    };
    let v = p.update(&s, std::slice::from_ref(&changed)).await;
    assert_eq!(v["error_code"], "0");

    let d = p.sim.dossier(CODE).expect("stored");
    assert_eq!(
        (d.inserts, d.updates, d.duplicate_inserts, d.versions.len()),
        (1, 1, 1, 2)
    );
    assert_eq!(d.versions[0].item, item);
    assert!(!d.versions[0].is_updating && d.versions[1].is_updating);
    assert!(d.versions[0].arrival <= d.versions[1].arrival);
    assert_eq!(d.versions[1].raw["TrangThaiHoSo"], "4");
    assert_eq!(d.versions[1].madonvi, MADONVI);

    let v = p.lookup(&s, CODE).await;
    assert_eq!(v["error_code"], "0");
    assert_eq!(v["result"][0]["MaHoSo"], CODE);
    assert_eq!(v["result"][0]["TrangThaiHoSo"], "4");
    let v = p.lookup(&s, "000.00.12.H41-250314-9999").await;
    assert_eq!(
        v,
        json!({"error_code": "0", "message": "Thành công", "result": []})
    );

    // The same over the admin API.
    let all = p.admin_get("dossiers").await;
    assert_eq!(all["count"], 1);
    assert_eq!(all["dossiers"][0]["MaHoSo"], CODE);
    assert_eq!(all["dossiers"][0]["duplicate_inserts"], 1);
    let one = p.admin_get(&format!("dossiers/{CODE}")).await;
    assert_eq!(one["versions"][1]["version"], 2);
    assert!(one["versions"][0]["arrival"].as_str().is_some());
    let resp = p
        .http
        .get(format!("{}/admin/dossiers/nothing", p.base))
        .send()
        .await
        .expect("answer");
    assert_eq!(resp.status(), 404);

    let calls = p.admin_get("calls").await;
    assert_eq!(calls["by_service"]["DongBoHoSoMC"]["ok"], 2);
    assert_eq!(calls["by_service"]["DongBoHoSoMC"]["duplicate"], 1);
    assert_eq!(calls["by_service"]["TraCuuHoSo"]["ok"], 2);
}

#[tokio::test]
async fn is_updating_forms() {
    let p = Portal::default().await;
    let s = p.login().await;
    let item = serde_json::to_value(dossier(CODE)).expect("json");
    let body = |flag: Value, code: &str| {
        let mut it = item.clone();
        it["MaHoSo"] = json!(code);
        json!({"session": s, "madonvi": MADONVI, "service": "DongBoHoSoMC",
               "isUpdating": flag, "data": [it]})
        .to_string()
    };
    let a = "000.00.12.H41-250314-0001";
    assert_eq!(
        p.call("/integration", body(json!("FALSE"), a)).await["error_code"],
        "0"
    );
    assert_eq!(
        p.call("/integration", body(json!(false), a)).await["error_code"],
        "2"
    );
    assert_eq!(
        p.call("/integration", body(json!(true), a)).await["error_code"],
        "0"
    );
    assert_eq!(
        p.call("/integration", body(json!(" true "), a)).await["error_code"],
        "0"
    );
    for bad in [json!("yes"), json!(1), json!(null)] {
        let v = p.call("/integration", body(bad.clone(), a)).await;
        assert_eq!(v["error_code"], "3", "{bad}");
        assert!(message(&v).contains("isUpdating"), "{v}");
    }
    let d = p.sim.dossier(a).expect("stored");
    assert_eq!((d.inserts, d.updates), (1, 2));
}

#[tokio::test]
async fn update_of_an_unknown_dossier() {
    let p = Portal::default().await;
    let s = p.login().await;
    assert_eq!(p.update(&s, &[dossier(CODE)]).await["error_code"], "0");
    let d = p.sim.dossier(CODE).expect("stored as new");
    assert_eq!((d.inserts, d.updates), (0, 1));

    let p = Portal::start(DvcqgConfig {
        strict_update: true,
        ..DvcqgConfig::default()
    })
    .await;
    let s = p.login().await;
    let v = p.update(&s, &[dossier(CODE)]).await;
    assert_eq!(v["error_code"], "3");
    assert!(
        message(&v).contains("không tồn tại") && message(&v).contains(CODE),
        "{v}"
    );
    assert!(p.sim.dossiers().is_empty());
}

#[tokio::test]
async fn validation_names_dossier_and_field_all_or_nothing() {
    let p = Portal::default().await;
    let s = p.login().await;
    let good = dossier("000.00.12.H41-250314-0001");
    let bad = DossierItem {
        NgayTiepNhan: "2025-03-14".into(),
        ..dossier("000.00.12.H41-250314-0002")
    };
    let v = p.insert(&s, &[good.clone(), bad]).await;
    assert_eq!(v["error_code"], "3");
    let m = message(&v);
    assert!(m.contains("000.00.12.H41-250314-0002"), "{m}");
    assert!(m.contains("NgayTiepNhan"), "{m}");
    assert!(m.contains("yyyyMMddHHmmss"), "{m}");
    assert!(p.sim.dossiers().is_empty(), "nothing stored");

    let cases: [(&str, DossierItem); 5] = [
        (
            "MaTTHC",
            DossierItem {
                MaTTHC: String::new(),
                ..good.clone()
            },
        ),
        (
            "TrangThaiHoSo",
            DossierItem {
                TrangThaiHoSo: "11".into(),
                ..good.clone()
            },
        ),
        (
            "KenhThucHien",
            DossierItem {
                KenhThucHien: "4".into(),
                ..good.clone()
            },
        ),
        (
            "HinhThuc",
            DossierItem {
                HinhThuc: "2".into(),
                ..good.clone()
            },
        ),
        (
            "NgayHenTra",
            DossierItem {
                NgayHenTra: "20250231170000".into(),
                ..good.clone()
            },
        ),
    ];
    for (field, item) in cases {
        let v = p.insert(&s, &[item]).await;
        assert_eq!(v["error_code"], "3", "{field}");
        assert!(message(&v).contains(field), "{field}: {v}");
        assert!(message(&v).contains("000.00.12.H41-250314-0001"), "{v}");
    }
    // A missing MaHoSo names the item by position.
    let v = p.insert(&s, &[good.clone(), dossier("")]).await;
    assert!(
        message(&v).contains("thứ 2") && message(&v).contains("MaHoSo"),
        "{v}"
    );
    // Wrong JSON types are validation errors too; personal data is never echoed.
    let body = json!({"session": s, "madonvi": MADONVI, "service": "DongBoHoSoMC",
        "isUpdating": "False",
        "data": [{"MaHoSo": CODE, "SoDienThoai": ["0987654321"]}]});
    let v = p.call("/integration", body.to_string()).await;
    assert!(message(&v).contains("SoDienThoai"), "{v}");
    assert!(!message(&v).contains("0987654321"), "{v}");
    // Empty and missing data.
    let body = json!({"session": s, "madonvi": MADONVI, "service": "DongBoHoSoMC",
        "isUpdating": "False", "data": []});
    assert_eq!(
        p.call("/integration", body.to_string()).await["error_code"],
        "3"
    );
    assert_eq!(p.insert(&s, &[good]).await["error_code"], "0");
}

#[tokio::test]
async fn procedure_catalogue_switch() {
    let p = Portal::default().await;
    let s = p.login().await;
    let unknown = DossierItem {
        MaTTHC: "9.999999".into(),
        ..dossier(CODE)
    };
    let v = p.insert(&s, std::slice::from_ref(&unknown)).await;
    assert_eq!(v["error_code"], "3");
    assert!(
        message(&v).contains("MaTTHC") && message(&v).contains("9.999999"),
        "{v}"
    );
    // Short and long forms of catalogue procedures.
    let short = DossierItem {
        MaTTHC: "1.001193".into(),
        ..dossier("000.00.12.H41-250314-0001")
    };
    let long = DossierItem {
        MaTTHC: "2.000477.000.00.00.H41".into(),
        ..dossier("000.00.12.H41-250314-0002")
    };
    assert_eq!(p.insert(&s, &[short, long]).await["error_code"], "0");

    let p = Portal::start(DvcqgConfig {
        check_procedure_catalogue: false,
        ..DvcqgConfig::default()
    })
    .await;
    let s = p.login().await;
    assert_eq!(p.insert(&s, &[unknown]).await["error_code"], "0");
}

#[tokio::test]
async fn province_in_code_switch() {
    let foreign = dossier("000.00.12.H56-250314-0001");
    let p = Portal::default().await;
    let s = p.login().await;
    let v = p.insert(&s, std::slice::from_ref(&foreign)).await;
    assert_eq!(v["error_code"], "3");
    assert!(
        message(&v).contains("MaHoSo") && message(&v).contains("H41"),
        "{v}"
    );
    // Only the part before the first '-' counts.
    let v = p.insert(&s, &[dossier("000.00.12.H56-H41-0001")]).await;
    assert_eq!(v["error_code"], "3");

    let p = Portal::start(DvcqgConfig {
        check_province_in_code: false,
        ..DvcqgConfig::default()
    })
    .await;
    let s = p.login().await;
    assert_eq!(p.insert(&s, &[foreign]).await["error_code"], "0");
}

#[tokio::test]
async fn generated_dossiers_and_progress_pass() {
    let p = Portal::default().await;
    let s = p.login().await;
    let cfg = MappingConfig::default();
    let mut g = lienthong_provincial::generate::Generator::new(11);
    for _ in 0..25 {
        let story = g.story();
        for (i, version) in story.versions.iter().enumerate() {
            let (item, _) = dossier_to_dvcqg(version, &cfg);
            let v = if i == 0 {
                p.insert(&s, &[item]).await
            } else {
                p.update(&s, &[item]).await
            };
            assert_eq!(v["error_code"], "0", "{v}");
        }
        let steps: Vec<ProgressItem> = story
            .steps
            .iter()
            .map(|st| progress_to_dvcqg(st, &cfg).0)
            .collect();
        for chunk in steps.chunks(10) {
            let v = p
                .call("/integration", progress_body(&s, MADONVI, chunk))
                .await;
            assert_eq!(v["error_code"], "0", "{v}");
        }
    }
    assert_eq!(p.sim.dossiers().len(), 25);
}

// ---------------------------------------------------------------------------------------
// CapNhatTienDoHoSoMC
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn progress_steps() {
    let p = Portal::default().await;
    let s = p.login().await;
    let body = |items: &[ProgressItem]| progress_body(&s, MADONVI, items);
    let v = p
        .call("/integration", body(&[step(CODE, "Tiếp nhận", "2")]))
        .await;
    assert_eq!(v["error_code"], "3");
    assert!(
        message(&v).contains("không tồn tại") && message(&v).contains(CODE),
        "{v}"
    );

    p.insert(&s, &[dossier(CODE)]).await;
    let first = [
        step(CODE, "Tiếp nhận", "2"),
        step(CODE, "Chuyển xử lý", "4"),
        step(CODE, "Thẩm định", "4"),
    ];
    let v = p.call("/integration", body(&first)).await;
    assert_eq!(v["error_code"], "0");
    assert!(message(&v).contains("thành công"), "{v}");
    assert_eq!(classify_json(&v, false), Outcome::Success);
    // A resent step is a duplicate, still appended.
    let v = p
        .call(
            "/integration",
            body(&[first[1].clone(), step(CODE, "Trả kết quả", "10")]),
        )
        .await;
    assert_eq!(v["error_code"], "0");
    let d = p.sim.dossier(CODE).expect("stored");
    let done: Vec<&str> = d
        .progress
        .iter()
        .map(|x| x.item.NoiDungXuLy.as_str())
        .collect();
    assert_eq!(
        done,
        [
            "Tiếp nhận",
            "Chuyển xử lý",
            "Thẩm định",
            "Chuyển xử lý",
            "Trả kết quả"
        ]
    );
    assert_eq!(d.duplicate_steps, 1);
    assert!(d.progress[3].duplicate && !d.progress[1].duplicate);
    assert_eq!(d.progress[4].seq, 5);

    // All or nothing: an unknown dossier or an invalid step stores nothing.
    let v = p
        .call(
            "/integration",
            body(&[
                step(CODE, "X", "4"),
                step("000.00.12.H41-250314-0999", "Y", "4"),
            ]),
        )
        .await;
    assert_eq!(v["error_code"], "3");
    let bad = ProgressItem {
        ThoiDiemXuLy: "20250314".into(),
        ..step(CODE, "Z", "4")
    };
    let v = p
        .call("/integration", body(&[step(CODE, "X", "4"), bad]))
        .await;
    assert!(
        message(&v).contains("ThoiDiemXuLy") && message(&v).contains(CODE),
        "{v}"
    );
    let v = p.call("/integration", body(&[step(CODE, "X", "11")])).await;
    assert!(message(&v).contains("TrangThai"), "{v}");
    assert_eq!(p.sim.dossier(CODE).expect("stored").progress.len(), 5);

    let one = p.admin_get(&format!("dossiers/{CODE}")).await;
    assert_eq!(one["duplicate_steps"], 1);
    assert_eq!(one["progress"][2]["item"]["NoiDungXuLy"], "Thẩm định");
}

#[tokio::test]
async fn progress_limit_per_call() {
    let p = Portal::start(DvcqgConfig {
        max_progress_items_per_call: Some(2),
        ..DvcqgConfig::default()
    })
    .await;
    let s = p.login().await;
    p.insert(&s, &[dossier(CODE)]).await;
    let steps = [
        step(CODE, "a", "2"),
        step(CODE, "b", "4"),
        step(CODE, "c", "4"),
    ];
    let v = p
        .call("/integration", progress_body(&s, MADONVI, &steps))
        .await;
    assert_eq!(v["error_code"], "3");
    let v = p
        .call("/integration", progress_body(&s, MADONVI, &steps[..2]))
        .await;
    assert_eq!(v["error_code"], "0");
}

// ---------------------------------------------------------------------------------------
// Other services
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn catalogues_and_procedures() {
    let p = Portal::default().await;
    let s = p.login().await;
    let v = p.service("/share", &s, "LayDanhSachTTHC", json!({})).await;
    assert_eq!(v["error_code"], "0");
    let list = v["result"].as_array().expect("result");
    assert_eq!(list.len(), 7);
    assert!(list.iter().any(|x| x["MATTHC"] == "1.001193.000.00.00.H41"));
    assert!(list.iter().all(|x| x["TENTTHC"].is_string()));
    let v = p.service("/share", &s, "LayDanhMucCoQuan", json!({})).await;
    assert_eq!(v["result"][0]["MADONVI"], MADONVI);
    assert_eq!(v["result"][0]["CAPDONVI"], "1");
    let v = p
        .service("/share", &s, "LayDanhMucLinhVuc", json!({}))
        .await;
    assert!(
        v["result"]
            .as_array()
            .expect("result")
            .iter()
            .any(|x| x["MALINHVUC"] == "G03-GD10" && x["MANGANH"] == "G03")
    );

    // Share services only on the share path, integration services only on theirs.
    let v = p
        .service("/integration", &s, "LayDanhSachTTHC", json!({}))
        .await;
    assert_eq!(
        v,
        json!({"error_code": "4", "message": "Dịch vụ không hợp lệ"})
    );
    let v = p
        .call("/share", lookup_dossier_body(&s, MADONVI, CODE))
        .await;
    assert_eq!(v["error_code"], "4");

    let v = p
        .service(
            "/integration",
            &s,
            "LayThuTuc",
            json!({"maTTHC": "1.001193"}),
        )
        .await;
    assert_eq!(v["result"][0]["MATTHC"], "1.001193.000.00.00.H41");
    assert_eq!(
        v["result"][0]["LINHVUCTHUCHIEN"][0]["MALINHVUC"],
        "G12-LL01"
    );
    let v = p
        .service(
            "/integration",
            &s,
            "LayThuTuc",
            json!({"maTTHC": "9.999999"}),
        )
        .await;
    assert_eq!(v["result"], json!([]));
    assert_eq!(v["error_code"], "0");
}

#[tokio::test]
async fn unknown_service_and_malformed_bodies() {
    let p = Portal::default().await;
    let s = p.login().await;
    let v = p.service("/integration", &s, "LayDVC", json!({})).await;
    assert_eq!(
        v,
        json!({"error_code": "4", "message": "Dịch vụ không hợp lệ"})
    );
    let v = p
        .call(
            "/integration",
            json!({"session": s, "madonvi": MADONVI}).to_string(),
        )
        .await;
    assert_eq!(v["error_code"], "4");

    let v = p.call("/integration", "{\"session\": ".to_owned()).await;
    assert_eq!(v["error_code"], "3");
    assert!(message(&v).contains("JSON"), "{v}");
    let v = p.call("/integration", "[1, 2]".to_owned()).await;
    assert_eq!(v["error_code"], "3");
    let v = p.call("/auth", "not json".to_owned()).await;
    assert_eq!(v["error_code"], json!(3));
    assert_eq!(p.sim.calls().count("(none)", "malformed"), 2);

    // Wrong method and unknown paths are plain HTTP errors.
    let r = p
        .http
        .get(format!("{}/integration", p.base))
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status(), 405);
    let r = p
        .send("/elsewhere", "{}".into(), None)
        .await
        .expect("answer");
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn status_sync_of_portal_dossiers() {
    let p = Portal::default().await;
    let s = p.login().await;
    let item = json!({"MaHoSo": "G22-250314-0001", "MaHoSoDonVi": CODE, "MaDoiTuong": "techid-1",
        "NoiDung": "Đã tiếp nhận", "NgayXuLy": "20250314091502", "TrangThai": "2", "TaiLieuXuLy": []});
    let v = p
        .service(
            "/integration",
            &s,
            "DongBoTrangThaiHoSo",
            json!({"type": "2", "data": [item]}),
        )
        .await;
    assert_eq!(v["error_code"], "0");
    let v = p
        .service(
            "/integration",
            &s,
            "DongBoTrangThaiHoSo",
            json!({"type": "1", "data": [item]}),
        )
        .await;
    assert_eq!(v["error_code"], "3");
    assert!(message(&v).contains("type"), "{v}");
    let mut bad = item.clone();
    bad["TrangThai"] = json!("4");
    let v = p
        .service(
            "/integration",
            &s,
            "DongBoTrangThaiHoSo",
            json!({"type": "2", "data": [bad]}),
        )
        .await;
    assert!(message(&v).contains("TrangThai"), "{v}");
    let stored = p.admin_get("status-sync").await;
    assert_eq!(stored["count"], 1);
    assert_eq!(stored["items"][0]["item"]["MaHoSoDonVi"], CODE);
    assert_eq!(stored["items"][0]["citizen_dossier"], false);
}

#[tokio::test]
async fn response_style_switches() {
    let p = Portal::default().await;
    let s = p.login().await;
    let (_, style) = p
        .admin_post("response-style", json!({"service_success_code": "00"}))
        .await;
    assert_eq!(style["service_success_code"], "00");
    assert_eq!(style["auth_error_code_as_number"], true);
    let v = p.insert(&s, &[dossier(CODE)]).await;
    assert_eq!(v["error_code"], "00");
    assert_eq!(classify_json(&v, true), Outcome::Success);

    p.admin_post(
        "response-style",
        json!({"service_error_code_as_number": true, "auth_error_code_as_number": false}),
    )
    .await;
    let v = p.insert(&s, &[dossier(CODE)]).await;
    assert_eq!(v["error_code"], json!(2));
    assert_eq!(classify_json(&v, true), Outcome::Duplicate);
    assert_eq!(p.lookup(&s, CODE).await["error_code"], json!(0));
    let v = p.auth_with(USER, PASSWORD, Some(DSTCODE)).await;
    assert_eq!(v["error_code"], "0");
    assert!(session_of(&Response::try_from(v).expect("envelope")).is_some());
    assert_eq!(
        p.auth_with(USER, "x", Some(DSTCODE)).await["error_code"],
        "1"
    );

    let (status, _) = p
        .admin_post("response-style", json!({"service_success_code": "000"}))
        .await;
    assert_eq!(status, 400);
    // Reset restores the configured style.
    p.admin_post("reset", json!({})).await;
    assert_eq!(
        p.admin_get("response-style").await["service_success_code"],
        "0"
    );
}

#[tokio::test]
async fn reset_forgets_everything() {
    let p = Portal::default().await;
    let s = p.login().await;
    p.insert(&s, &[dossier(CODE)]).await;
    let (status, _) = p.admin_post("reset", json!(null)).await;
    assert_eq!(status, 200);
    assert!(p.sim.dossiers().is_empty());
    assert_eq!(p.sim.calls().total, 0);
    assert_eq!(p.lookup(&s, CODE).await["error_code"], "-1");
}

#[tokio::test]
async fn configurable_paths() {
    let p = Portal::start(DvcqgConfig {
        auth_path: "/api/auth".into(),
        integration_path: "/api/lienthong".into(),
        share_path: "/api/share".into(),
        ..DvcqgConfig::default()
    })
    .await;
    let body = lienthong_dvcqg::wire::auth_body(USER, PASSWORD);
    let v: Value = p
        .send("/api/auth", body.clone(), Some(DSTCODE))
        .await
        .expect("answer")
        .json()
        .await
        .expect("json");
    let s = v["session"].as_str().expect("session").to_owned();
    assert_eq!(p.lookup_at("/api/lienthong", &s).await["error_code"], "0");
    let r = p.send("/auth", body, Some(DSTCODE)).await.expect("answer");
    assert_eq!(r.status(), 404);
}

impl Portal {
    async fn lookup_at(&self, path: &str, session: &str) -> Value {
        self.call(path, lookup_dossier_body(session, MADONVI, CODE))
            .await
    }
}

// ---------------------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn fault_error_rate() {
    let p = Portal::default().await;
    let s = p.login().await;
    p.faults(json!({"error_rate": 1.0})).await;
    let injected = json!({"error_code": "5", "message": "Lỗi hệ thống (giả lập)"});
    assert_eq!(p.lookup(&s, CODE).await, injected);
    assert_eq!(p.insert(&s, &[dossier(CODE)]).await, injected);
    assert!(
        p.sim.dossiers().is_empty(),
        "a failed call is not processed"
    );
    let v = p.auth_with(USER, PASSWORD, Some(DSTCODE)).await;
    assert_eq!(
        v,
        json!({"error_code": 5, "message": "Lỗi hệ thống (giả lập)"})
    );
    // Admin is never faulty.
    let f = p.admin_get("faults").await;
    assert_eq!(f["counts"]["error"], 3);
    assert_eq!(p.sim.calls().count("DongBoHoSoMC", "injected_error"), 1);
    // The injected code comes from the configuration.
    let mut c = DvcqgConfig::default();
    c.codes.injected = "-9".into();
    c.faults.error_rate = 1.0;
    let p = Portal::start(c).await;
    assert_eq!(
        p.auth_with(USER, PASSWORD, Some(DSTCODE)).await["error_code"],
        json!(-9)
    );
}

#[tokio::test]
async fn fault_http_statuses() {
    let p = Portal::default().await;
    let s = p.login().await;
    for (status, retry) in [(503, Some("1")), (429, Some("1")), (500, None)] {
        p.faults(json!({"http_status_rate": 1.0, "http_statuses": [status]}))
            .await;
        let r = p
            .send(
                "/integration",
                lookup_dossier_body(&s, MADONVI, CODE),
                Some(DSTCODE),
            )
            .await
            .expect("answer");
        assert_eq!(r.status().as_u16(), status);
        let got = r.headers().get("retry-after").and_then(|v| v.to_str().ok());
        assert_eq!(got, retry, "{status}");
    }
    // Default statuses: 429, 500, 503.
    p.faults(json!({"http_status_rate": 1.0, "seed": 3})).await;
    for _ in 0..10 {
        let r = p.send("/auth", "{}".into(), None).await.expect("answer");
        assert!([429, 500, 503].contains(&r.status().as_u16()));
    }
    let (status, v) = p.admin_post("faults", json!({"http_statuses": [42]})).await;
    assert_eq!(status, 400);
    assert!(v["error"].as_str().is_some_and(|e| e.contains("42")), "{v}");
    let (status, _) = p.admin_post("faults", json!({"error_rate": -0.1})).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn fault_latency_and_hang() {
    let p = Portal::default().await;
    let s = p.login().await;
    p.faults(json!({"latency_ms": 300})).await;
    let t = Instant::now();
    assert_eq!(p.lookup(&s, CODE).await["error_code"], "0");
    assert!(t.elapsed() >= Duration::from_millis(300));

    // A hang: processed, answered too late for a client with a short timeout.
    p.faults(json!({"hang_rate": 1.0, "hang_ms": 3000})).await;
    let r = p
        .http
        .post(format!("{}/integration", p.base))
        .header("dstcode", DSTCODE)
        .body(sync_dossiers_body(&s, MADONVI, false, &[dossier(CODE)]))
        .timeout(Duration::from_millis(400))
        .send()
        .await;
    assert!(r.is_err_and(|e| e.is_timeout()));
    assert!(p.sim.dossier(CODE).is_some(), "processed before the hang");
    p.faults(json!({})).await;
    let v = p.insert(&s, &[dossier(CODE)]).await;
    assert!(
        message(&v).contains("đã tồn tại"),
        "the retry meets the duplicate signal"
    );
}

#[tokio::test]
async fn fault_rate_limit() {
    let p = Portal::default().await;
    let s = p.login().await;
    p.faults(json!({"rate_limit_per_sec": 3})).await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let r = p
            .send(
                "/integration",
                lookup_dossier_body(&s, MADONVI, CODE),
                Some(DSTCODE),
            )
            .await
            .expect("answer");
        if r.status() == 429 {
            assert_eq!(r.headers()["retry-after"], "1");
        }
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(p.lookup(&s, CODE).await["error_code"], "0");
    assert_eq!(p.sim.calls().count("TraCuuHoSo", "rate_limited"), 2);
}

#[tokio::test]
async fn fault_down_window() {
    let p = Portal::default().await;
    let s = p.login().await;
    p.faults(json!({"down_for_ms": 600})).await;
    let t = Instant::now();
    let r = p
        .send("/auth", "{}".into(), Some(DSTCODE))
        .await
        .expect("answer");
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    assert!(t.elapsed() < Duration::from_millis(500), "answered at once");
    assert!(p.admin_get("faults").await["down_until"].is_string());
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(p.lookup(&s, CODE).await["error_code"], "0");

    let until = (jiff::Timestamp::now() + jiff::SignedDuration::from_secs(60)).to_string();
    p.faults(json!({"down_until": until})).await;
    let r = p
        .send("/auth", "{}".into(), Some(DSTCODE))
        .await
        .expect("answer");
    assert_eq!(r.status(), 503);
    let secs: u64 = r.headers()["retry-after"]
        .to_str()
        .expect("text")
        .parse()
        .expect("secs");
    assert!((59..=60).contains(&secs), "{secs}");
    p.faults(json!({"down_until": "2000-01-01T00:00:00Z"}))
        .await;
    assert_eq!(p.lookup(&s, CODE).await["error_code"], "0");
}

#[tokio::test]
async fn next_failures_count_down() {
    let p = Portal::default().await;
    let s = p.login().await;
    let (status, v) = p
        .admin_post(
            "next-failures",
            json!({"service": "DongBoHoSoMC", "count": 2, "error_code": "-3", "message": "Lỗi không xác định"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(v["next_failures"][0]["count"], 2);
    assert_eq!(
        p.lookup(&s, CODE).await["error_code"],
        "0",
        "other services pass"
    );
    let v = p.insert(&s, &[dossier(CODE)]).await;
    assert_eq!(
        v,
        json!({"error_code": "-3", "message": "Lỗi không xác định"})
    );
    assert!(matches!(classify_json(&v, true), Outcome::NeedsReview(_)));
    assert_eq!(
        p.admin_get("next-failures").await["next_failures"][0]["count"],
        1
    );
    assert_eq!(p.insert(&s, &[dossier(CODE)]).await["error_code"], "-3");
    assert_eq!(
        p.admin_get("next-failures").await["next_failures"],
        json!([])
    );
    assert_eq!(p.insert(&s, &[dossier(CODE)]).await["error_code"], "0");

    // An HTTP status for any call, then a delayed success.
    p.admin_post("next-failures", json!({"service": "*", "http_status": 502}))
        .await;
    let r = p
        .send(
            "/integration",
            lookup_dossier_body(&s, MADONVI, CODE),
            Some(DSTCODE),
        )
        .await
        .expect("answer");
    assert_eq!(r.status(), 502);
    p.admin_post("next-failures", json!({"delay_ms": 300}))
        .await;
    let t = Instant::now();
    assert_eq!(p.lookup(&s, CODE).await["error_code"], "0");
    assert!(t.elapsed() >= Duration::from_millis(300));
    // Auth can be targeted too; default failure is the injected code.
    p.admin_post("next-failures", json!({"service": "auth"}))
        .await;
    assert_eq!(
        p.auth_with(USER, PASSWORD, Some(DSTCODE)).await["error_code"],
        json!(5)
    );
    // Clearing.
    p.admin_post("next-failures", json!({"count": 5})).await;
    let r = p
        .http
        .delete(format!("{}/admin/next-failures", p.base))
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status(), 200);
    assert_eq!(p.lookup(&s, CODE).await["error_code"], "0");
    let (status, _) = p.admin_post("next-failures", json!({"count": 0})).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn fault_reset_drops_the_connection() {
    let p = Portal::default().await;
    let s = p.login().await;
    p.admin_post(
        "next-failures",
        json!({"service": "DongBoHoSoMC", "reset": true}),
    )
    .await;
    let r = p
        .send(
            "/integration",
            sync_dossiers_body(&s, MADONVI, false, &[dossier(CODE)]),
            Some(DSTCODE),
        )
        .await;
    let e = r.expect_err("connection error");
    assert!(is_connection_reset(&e), "{e:?}");
    assert!(p.sim.dossier(CODE).is_none(), "not processed");
    // The next call, on a new connection, is fine.
    assert_eq!(p.insert(&s, &[dossier(CODE)]).await["error_code"], "0");

    p.faults(json!({"reset_rate": 1.0})).await;
    for _ in 0..3 {
        let e = p.send("/auth", "{}".into(), None).await.expect_err("reset");
        assert!(is_connection_reset(&e), "{e:?}");
    }
    assert_eq!(p.sim.calls().count("auth", "reset"), 3);
    assert_eq!(p.sim.calls().count("DongBoHoSoMC", "reset"), 1);
}

/// Whether the error chain holds an I/O error "connection reset by peer".
fn is_connection_reset(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return io.kind() == std::io::ErrorKind::ConnectionReset;
        }
        cur = err.source();
    }
    false
}

/// What the client saw of one call.
async fn observe(p: &Portal, s: &str) -> String {
    match p
        .send(
            "/integration",
            lookup_dossier_body(s, MADONVI, CODE),
            Some(DSTCODE),
        )
        .await
    {
        Err(_) => "reset".to_owned(),
        Ok(r) if r.status() != 200 => format!("http_{}", r.status().as_u16()),
        Ok(r) => {
            let v: Value = r.json().await.expect("json");
            if v["error_code"] == "5" {
                "error"
            } else {
                "ok"
            }
            .to_owned()
        }
    }
}

#[tokio::test]
async fn faults_are_deterministic_by_seed() {
    let p = Portal::default().await;
    let s = p.login().await;
    let settings = json!({"seed": 7, "error_rate": 0.25, "http_status_rate": 0.25,
        "http_statuses": [500, 503], "reset_rate": 0.15, "hang_rate": 0.2, "hang_ms": 20});
    let mut runs = Vec::new();
    for _ in 0..2 {
        p.faults(settings.clone()).await;
        let mut seen = Vec::new();
        for _ in 0..30 {
            seen.push(observe(&p, &s).await);
        }
        runs.push(seen);
    }
    assert_eq!(runs[0], runs[1]);
    for kind in ["ok", "error", "reset", "http_500", "http_503"] {
        assert!(
            runs[0].iter().any(|k| k == kind),
            "{kind} never seen: {:?}",
            runs[0]
        );
    }
    // The server's sequence agrees ("pass" and "hang" are both "ok" for the client).
    let seq = p.admin_get("faults").await["sequence"].clone();
    let seq: Vec<String> = serde_json::from_value(seq).expect("labels");
    let seq: Vec<&str> = seq
        .iter()
        .map(|l| {
            if l == "pass" || l == "hang" {
                "ok"
            } else {
                l.as_str()
            }
        })
        .collect();
    assert_eq!(seq, runs[1]);
    // Another seed, another sequence.
    let mut other = settings.clone();
    other["seed"] = json!(8);
    p.faults(other).await;
    let mut seen = Vec::new();
    for _ in 0..30 {
        seen.push(observe(&p, &s).await);
    }
    assert_ne!(seen, runs[0]);
}

// ---------------------------------------------------------------------------------------
// Citizen side
// ---------------------------------------------------------------------------------------

type Inbox = Arc<Mutex<Vec<(Option<String>, Value)>>>;

async fn receiver() -> (String, Inbox) {
    let inbox: Inbox = Arc::default();
    let app = Router::new().route(
        "/dvcqg/inbox",
        post({
            let inbox = inbox.clone();
            move |headers: HeaderMap, body: Bytes| async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                inbox
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((auth, v));
                axum::Json(json!({"error_code": "0", "message": "Đã nhận"}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/dvcqg/inbox"), inbox)
}

#[tokio::test]
async fn citizen_dossiers_reach_the_receiver() {
    let (url, inbox) = receiver().await;
    let p = Portal::start(DvcqgConfig {
        receiver_url: Some(url),
        receiver_token: Some("tok-123".into()),
        ..DvcqgConfig::default()
    })
    .await;
    let (status, v) = p
        .admin_post("citizen-dossiers", json!({"count": 2, "seed": 5}))
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (v["pushed"].clone(), v["delivered"].clone()),
        (json!(2), json!(2))
    );
    let (status, v) = p
        .admin_post(
            "citizen-dossiers",
            serde_json::to_value(dossier(CODE)).expect("json"),
        )
        .await;
    assert_eq!((status, v["delivered"].clone()), (200, json!(1)));

    let got = inbox.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert_eq!(got.len(), 3);
    for (auth, body) in &got {
        assert_eq!(auth.as_deref(), Some("Bearer tok-123"));
        assert_eq!(body["service"], "DongBoHoSoDVCQG");
        assert_eq!(body["data"].as_array().map(Vec::len), Some(1));
    }
    let first = got[0].1["data"][0].clone();
    assert_eq!(first["KenhThucHien"], "2");
    assert!(
        first["MaHoSo"]
            .as_str()
            .is_some_and(|c| c.contains(".H41-"))
    );
    assert_eq!(got[2].1["data"][0]["MaHoSo"], CODE);

    let pushes = p.admin_get("citizen-dossiers").await;
    assert_eq!(pushes["count"], 3);
    assert_eq!(pushes["pushes"][0]["http_status"], 200);

    // The province reports back on a pushed dossier.
    let s = p.login().await;
    let code = first["MaHoSo"].as_str().expect("code");
    let item = json!({"MaHoSo": code, "MaHoSoDonVi": "000.00.12.H41-250314-0001", "NoiDung": "Tiếp nhận",
        "NgayXuLy": "20250314091502", "TrangThai": "2"});
    let v = p
        .service(
            "/integration",
            &s,
            "DongBoTrangThaiHoSo",
            json!({"type": "2", "data": [item]}),
        )
        .await;
    assert_eq!(v["error_code"], "0");
    assert!(p.sim.status_sync()[0].citizen_dossier);

    let (status, _) = p.admin_post("citizen-dossiers", json!("nonsense")).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn citizen_push_needs_a_receiver() {
    let p = Portal::default().await;
    let (status, v) = p.admin_post("citizen-dossiers", json!({"count": 1})).await;
    assert_eq!(status, 409);
    assert!(
        v["error"]
            .as_str()
            .is_some_and(|e| e.contains("receiver_url"))
    );

    // An unreachable receiver is recorded as a failed push.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead = format!("http://{}/x", listener.local_addr().expect("addr"));
    drop(listener);
    let p = Portal::start(DvcqgConfig {
        receiver_url: Some(dead),
        ..DvcqgConfig::default()
    })
    .await;
    let (status, v) = p.admin_post("citizen-dossiers", json!({"count": 1})).await;
    assert_eq!(status, 200);
    assert_eq!(v["delivered"], 0);
    assert!(v["results"][0]["error"].is_string());
}

#[tokio::test]
async fn snapshot_survives_a_restart() {
    let dir = std::env::temp_dir().join(format!("lienthong-sandbox-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("dvcqg.json").to_string_lossy().into_owned();
    let _ = std::fs::remove_file(&path);
    let config = DvcqgConfig {
        snapshot_path: Some(path.clone()),
        ..DvcqgConfig::default()
    };
    let p = Portal::start(config.clone()).await;
    let s = p.login().await;
    p.insert(&s, &[dossier(CODE)]).await;
    p.call(
        "/integration",
        progress_body(&s, MADONVI, &[step(CODE, "Tiếp nhận", "2")]),
    )
    .await;
    let (status, v) = p.admin_post("snapshot", json!({})).await;
    assert_eq!(status, 200, "{v}");
    let saved = p.admin_get("snapshot").await;
    assert_eq!(saved["dossiers"][0]["MaHoSo"], CODE);

    let q = Portal::start(config).await;
    let d = q.sim.dossier(CODE).expect("loaded");
    assert_eq!((d.versions.len(), d.progress.len()), (1, 1));
    let s = q.login().await;
    assert!(message(&q.insert(&s, &[dossier(CODE)]).await).contains("đã tồn tại"));

    // Restore from a snapshot body; without snapshot_path, saving is refused.
    let r = Portal::default().await;
    let (status, v) = r.admin_post("restore", saved).await;
    assert_eq!((status, v), (200, json!({"restored": 1})));
    assert!(r.sim.dossier(CODE).is_some());
    assert_eq!(r.admin_post("snapshot", json!({})).await.0, 409);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn oversized_bodies() {
    let p = Portal::start(DvcqgConfig {
        max_body_bytes: 100,
        ..DvcqgConfig::default()
    })
    .await;
    let r = p
        .send("/integration", "x".repeat(200), Some(DSTCODE))
        .await
        .expect("answer");
    assert_eq!(r.status(), 413);
    assert_eq!(p.sim.calls().count("(none)", "too_large"), 1);
}
