//! Documents between two provinces, end to end: two gateways (province A = Nghệ An,
//! `000.00.00.H41`, with the national portal; province B = Cao Bằng, `000.00.00.H14`), the
//! VDXP simulator between them and the DVCQG simulator, all over loopback and driven only
//! through their HTTP APIs — on the embedded backends, and on RabbitMQ + PostgreSQL when
//! `LIENTHONG_TEST_AMQP_URL` and `LIENTHONG_TEST_DATABASE_URL` are set.
//!
//! Covered: a document linked to a dossier goes from A to B, B's system takes it and
//! reports 03, 05, 06 (01 is sent on arrival), A sees every status and the dossier's
//! progress at the portal shows each of them; a rejection (02, reason required); a
//! take-back (13 → 15); a recipient known only by its old code is routed to its new code
//! and an unknown one is refused; a send whose answer was lost (the axis took it, the
//! gateway timed out) is found on the axis and not sent again. After all of it, no message
//! was ever accepted twice by the axis.

use base64::Engine as _;
use lienthong_model::Dossier;
use lienthong_provincial::generate::Generator;
use lienthong_provincial::write::dossier_json;
use lienthong_sandbox::dvcqg::{DvcqgConfig, DvcqgSim, spawn_dvcqg};
use lienthong_sandbox::fault::NextFailure;
use lienthong_sandbox::vdxp::{AgencyEntry, SystemEntry, VdxpConfig, VdxpSim, spawn_vdxp};
use lienthong_service::auth::TokenHash;
use lienthong_service::config::Config;
use lienthong_service::gateway::Gateway;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

const MOTCUA_A: &str = "lt_e2e_edocs_motcua_a";
const VANTHU_A: &str = "lt_e2e_edocs_vanthu_a";
const VANTHU_B: &str = "lt_e2e_edocs_vanthu_b";
const OPERATOR_A: &str = "lt_e2e_edocs_operator_a";
const KEY_HEX: &str = "2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b";
const H41: &str = "000.00.00.H41";
const H14: &str = "000.00.00.H14";
/// The code Cao Bằng had before the merger (the axis lists it as `oldCode`).
const H14_OLD: &str = "000.00.00.H15";
const SECRET_A: &str = "secret-of-province-a";
const SECRET_B: &str = "secret-of-province-b";
const RETRY_DELAYS_SECS: [u64; 3] = [1, 2, 5];
const SEED: u64 = 11;

static COUNTER: AtomicU32 = AtomicU32::new(0);

enum Parts {
    Embedded,
    Remote { amqp: String, pg: String },
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn remote() -> Option<Parts> {
    match (
        env("LIENTHONG_TEST_AMQP_URL"),
        env("LIENTHONG_TEST_DATABASE_URL"),
    ) {
        (Some(amqp), Some(pg)) => Some(Parts::Remote { amqp, pg }),
        (None, _) => {
            eprintln!("skipped: LIENTHONG_TEST_AMQP_URL is not set");
            None
        }
        (_, None) => {
            eprintln!("skipped: LIENTHONG_TEST_DATABASE_URL is not set");
            None
        }
    }
}

async fn pg_exec(base: &str, sql: String) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(base)
        .await
        .expect("connect to the test PostgreSQL");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&pool)
        .await
        .expect("schema statement");
    pool.close().await;
}

fn organisation(code: &str, name: &str) -> String {
    format!(
        r#"
[[vdxp.organisations]]
organ_id = "{code}"
organization_in_charge = "{name}"
organ_name = "{name}"
organ_add = "Số 1 đường Trung tâm"
email = "vanthu@example.gov.vn"
telephone = "0200 3840000"
fax = "0200 3840001"
website = "example.gov.vn"
"#
    )
}

/// One province's gateway.
struct Province {
    gateway: Gateway,
    url: String,
    dir: std::path::PathBuf,
    pg_schema: Option<(String, String)>,
    amqp_topology: Option<(String, String)>,
}

impl Province {
    async fn stop(self) {
        self.gateway.stop().await;
        if let Some((url, prefix)) = self.amqp_topology {
            let mut c = lienthong_bus::BusConfig::new(
                lienthong_bus::Backend::Amqp {
                    url,
                    store_url: String::new(),
                },
                lienthong_bus::standard_routes(),
            );
            c.prefix = prefix;
            c.retry_delays = RETRY_DELAYS_SECS.map(Duration::from_secs).to_vec();
            lienthong_bus::amqp::delete_topology(&c)
                .await
                .expect("delete the test's topology");
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some((pg, schema)) = self.pg_schema {
            pg_exec(&pg, format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await;
        }
    }
}

struct World {
    a: Province,
    b: Province,
    vdxp: VdxpSim,
    dvcqg_url: String,
    _dvcqg: DvcqgSim,
    http: reqwest::Client,
}

/// Starts a gateway for `systemid` hosting `organ`, with `extra` TOML (units, clients,
/// the portal).
async fn province(
    parts: &Parts,
    name: &str,
    vdxp_addr: std::net::SocketAddr,
    systemid: &str,
    organ: (&str, &str),
    extra: &str,
    secrets: impl Fn(&str) -> Option<String> + Clone + Send + Sync + 'static,
) -> Province {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let tag = format!("{}-{n}", std::process::id());
    let dir = std::env::temp_dir().join(format!("lienthong-e2e-edocs-{name}-{tag}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let prefix = format!("lte2edoc{}", tag.replace('-', "x"));
    let (bus, pg_schema, amqp_topology) = match parts {
        Parts::Embedded => (
            format!("[bus]\nretry_delays_secs = {RETRY_DELAYS_SECS:?}\n"),
            None,
            None,
        ),
        Parts::Remote { amqp, pg } => {
            let schema = format!("e2e_edocs_{}", tag.replace('-', "_"));
            pg_exec(pg, format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await;
            pg_exec(pg, format!("CREATE SCHEMA {schema}")).await;
            let sep = if pg.contains('?') { '&' } else { '?' };
            let journal = format!("{pg}{sep}options=-csearch_path%3D{schema}");
            (
                format!(
                    "[journal]\nurl = \"{journal}\"\n\n[bus]\namqp_url = \"{amqp}\"\n\
                     prefix = \"{prefix}\"\nretry_delays_secs = {RETRY_DELAYS_SECS:?}\n"
                ),
                Some((pg.clone(), schema)),
                Some((amqp.clone(), prefix)),
            )
        }
    };
    let toml = format!(
        r#"
[gateway]
listen = "127.0.0.1:0"
data_dir = "{data}"
node_name = "e2e-{name}-{tag}"

{bus}

[vdxp]
base_url = "http://{vdxp_addr}"
systemid = "{systemid}"
timeout_ms = 1000
poll_interval_secs = 1
agencies_sync_secs = 2
{org}
{extra}
"#,
        data = dir.display(),
        org = organisation(organ.0, organ.1),
    );
    let config = Config::parse(&toml, name, &secrets).expect("config");
    let findings = config.check(&secrets);
    assert!(
        !findings.iter().any(|f| f.is_error()),
        "configuration of {name}: {findings:?}"
    );
    let gateway = Gateway::start(&config, &secrets).await.expect("gateway");
    Province {
        url: format!("http://{}", gateway.addr()),
        gateway,
        dir,
        pg_schema,
        amqp_topology,
    }
}

impl World {
    async fn start(parts: Parts) -> World {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let unit = Generator::new(SEED)
            .story()
            .versions
            .first()
            .and_then(|d| d.unit.code.clone())
            .expect("generated dossiers have a unit");
        let agency = |code: &str, name: &str, old: &str| AgencyEntry {
            id: String::new(),
            code: code.into(),
            name: name.into(),
            mail: "vanthu@example.gov.vn".into(),
            pid: String::new(),
            old_code: old.into(),
            code102: String::new(),
            level: Some(1),
            mobile: String::new(),
            fax: String::new(),
            is_agency: true,
        };
        let vdxp_config = VdxpConfig {
            systems: vec![
                SystemEntry {
                    systemid: "tinh-a".into(),
                    secret: SECRET_A.into(),
                    organ_ids: vec![H41.into()],
                },
                SystemEntry {
                    systemid: "tinh-b".into(),
                    secret: SECRET_B.into(),
                    organ_ids: vec![H14.into()],
                },
            ],
            agencies: vec![
                agency(H41, "UBND Tỉnh Nghệ An", ""),
                agency(H14, "UBND Tỉnh Cao Bằng", H14_OLD),
            ],
            ..VdxpConfig::default()
        };
        let (vdxp_addr, vdxp, _t) = spawn_vdxp(vdxp_config).await.expect("VDXP simulator");
        let dvcqg_config = DvcqgConfig::default();
        let account = dvcqg_config.accounts[0].clone();
        let (dvcqg_addr, dvcqg, _t) = spawn_dvcqg(dvcqg_config).await.expect("DVCQG simulator");
        let password = account.password.clone();
        let secrets_a = move |n: &str| match n {
            "LIENTHONG_DVCQG_PASSWORD" => Some(password.clone()),
            "LIENTHONG_JOURNAL_KEY" => Some(KEY_HEX.to_owned()),
            "LIENTHONG_VDXP_SECRET" => Some(SECRET_A.to_owned()),
            _ => None,
        };
        let secrets_b = |n: &str| match n {
            "LIENTHONG_JOURNAL_KEY" => Some(KEY_HEX.to_owned()),
            "LIENTHONG_VDXP_SECRET" => Some(SECRET_B.to_owned()),
            _ => None,
        };
        let extra_a = format!(
            r#"
[dvcqg]
adapter_url = "http://{dvcqg_addr}"
username = "{user}"
dstcode = "{dstcode}"
madonvi = "{madonvi}"
timeout_ms = 5000
breaker_open_secs = 1

[[units]]
code = "{unit}"
name = "Bộ phận một cửa"

[[units]]
code = "{H41}"
name = "UBND Tỉnh Nghệ An"

[[clients]]
name = "motcua"
token_sha256 = "{m}"
units = ["{unit}"]

[[clients]]
name = "vanthu-a"
token_sha256 = "{v}"
units = ["{H41}"]

[[operators]]
name = "lan"
token_sha256 = "{o}"
role = "operator"
"#,
            user = account.username,
            dstcode = account.dstcode.clone().unwrap_or_default(),
            madonvi = account.madonvi[0],
            m = TokenHash::of(MOTCUA_A),
            v = TokenHash::of(VANTHU_A),
            o = TokenHash::of(OPERATOR_A),
        );
        let extra_b = format!(
            r#"
[[units]]
code = "{H14}"
name = "UBND Tỉnh Cao Bằng"

[[clients]]
name = "vanthu-b"
token_sha256 = "{v}"
units = ["{H14}"]
"#,
            v = TokenHash::of(VANTHU_B),
        );
        let a = province(
            &parts,
            "a",
            vdxp_addr,
            "tinh-a",
            (H41, "UBND Tỉnh Nghệ An"),
            &extra_a,
            secrets_a,
        )
        .await;
        let b = province(
            &parts,
            "b",
            vdxp_addr,
            "tinh-b",
            (H14, "UBND Tỉnh Cao Bằng"),
            &extra_b,
            secrets_b,
        )
        .await;
        World {
            a,
            b,
            vdxp,
            dvcqg_url: format!("http://{dvcqg_addr}"),
            _dvcqg: dvcqg,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
        }
    }

    async fn stop(self) {
        self.a.stop().await;
        self.b.stop().await;
    }

    async fn call(&self, r: reqwest::RequestBuilder) -> (u16, Value) {
        let resp = r.send().await.expect("send");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn get(&self, p: &Province, path: &str, token: &str) -> (u16, Value) {
        self.call(self.http.get(format!("{}{path}", p.url)).bearer_auth(token))
            .await
    }

    async fn post(&self, p: &Province, path: &str, token: &str, body: &Value) -> (u16, Value) {
        self.call(
            self.http
                .post(format!("{}{path}", p.url))
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await
    }

    /// A sends a document; returns its gateway id and `DocumentId`.
    async fn send_a(&self, number: &str, to: &str, dossier: Option<&str>) -> (String, String) {
        let (s, v) = self
            .post(
                &self.a,
                "/v1/edocs",
                VANTHU_A,
                &document(number, to, dossier),
            )
            .await;
        assert_eq!(s, 202, "{v}");
        (
            v["id"].as_str().expect("id").to_owned(),
            v["document_id"].as_str().expect("document_id").to_owned(),
        )
    }

    /// Waits until B's inbox holds a message about `document_id` with `action`, and
    /// returns it.
    async fn b_receives(&self, document_id: &str, action: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
        loop {
            let (s, v) = self.get(&self.b, "/v1/edocs/inbox", VANTHU_B).await;
            assert_eq!(s, 200, "{v}");
            if let Some(item) = v["items"].as_array().and_then(|items| {
                items
                    .iter()
                    .find(|i| i["document_id"] == document_id && i["action"] == action)
            }) {
                return item.clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out: B receives {action} of {document_id}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until A's record of `id` reports `status` as its latest.
    async fn a_sees(&self, id: &str, status: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
        loop {
            let (s, v) = self
                .get(&self.a, &format!("/v1/edocs/{id}"), VANTHU_A)
                .await;
            assert_eq!(s, 200, "{v}");
            if v["last_status"] == status {
                return v;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out: A sees status {status} of {id}: {v}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn document(number: &str, to: &str, dossier: Option<&str>) -> Value {
    let pdf = format!("%PDF-1.4 văn bản số {number}").into_bytes();
    let mut v = json!({
        "to": [to],
        "code_number": number,
        "code_notation": "UBND-KSTT",
        "place": "Nghệ An",
        "type_name": "Công văn",
        "subject": format!("V/v xin ý kiến (văn bản {number})"),
        "typer_notation": "KSTT",
        "signer": { "competence": "KT. CHỦ TỊCH", "position": "Phó Chủ tịch", "full_name": "Nguyễn Văn A" },
        "staff": { "department": "Văn thư", "staff": "Trần Thị B" },
        "attachments": [{
            "name": format!("{number}-UBND-KSTT.pdf"),
            "content_base64": base64::engine::general_purpose::STANDARD.encode(pdf),
        }],
    });
    if let Some(d) = dossier {
        v["dossier_code"] = json!(d);
    }
    v
}

/// The file of the first attachment of a received item (the edXML in `edxml_base64`).
fn attachment(item: &Value, name: &str) -> Vec<u8> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(item["edxml_base64"].as_str().expect("edxml"))
        .expect("base64");
    let parsed = lienthong_edxml::read(bytes::Bytes::from(bytes)).expect("edXML");
    let lienthong_edxml::Message::Edoc(m) = parsed.message else {
        panic!("a document");
    };
    assert_eq!(m.attachments[0].attachment_name.as_deref(), Some(name));
    let content = m.attachments[0]
        .content
        .as_ref()
        .expect("content")
        .decode()
        .expect("decode");
    lienthong_edxml::attachment::unpack_zip_of_one(&content, true, Some(name))
        .expect("unzip")
        .unwrap_or(content)
}

async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        if check().await {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A generated dossier of province A's unit.
fn dossier() -> Dossier {
    let mut g = Generator::new(SEED);
    let s = g.story();
    s.versions.first().cloned().expect("a version")
}

async fn scenarios(w: &World) {
    // --- A document's life, linked to a dossier: sent, 01, 03, 05, 06.
    let d = dossier();
    let (s, v) = w
        .post(
            &w.a,
            "/v1/dossiers",
            MOTCUA_A,
            &serde_json::from_str::<Value>(&dossier_json(&d)).expect("json"),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    let (id, document_id) = w.send_a("125", H14, Some(&d.code)).await;
    assert_eq!(document_id.split(',').next(), Some(H41), "{document_id}");
    let item = w.b_receives(&document_id, "new_document").await;
    let first = item.clone();
    assert_eq!(item["from"], H41);
    let file = attachment(&item, "125-UBND-KSTT.pdf");
    assert_eq!(file, "%PDF-1.4 văn bản số 125".as_bytes());
    let in_id = item["id"].as_str().expect("id").to_owned();
    let (s, v) = w
        .post(
            &w.b,
            &format!("/v1/edocs/inbox/{in_id}/ack"),
            VANTHU_B,
            &json!({}),
        )
        .await;
    assert_eq!(
        (s, v["result"].as_str()),
        (200, Some("acknowledged")),
        "{v}"
    );
    w.a_sees(&id, "01").await;
    for code in ["03", "05", "06"] {
        let (s, v) = w
            .post(
                &w.b,
                &format!("/v1/edocs/{in_id}/status"),
                VANTHU_B,
                &json!({ "code": code, "staff": { "department": "Văn thư", "staff": "Lê Văn C" } }),
            )
            .await;
        assert_eq!(s, 202, "{code}: {v}");
        w.a_sees(&id, code).await;
    }
    let rec = w.a_sees(&id, "06").await;
    let statuses: Vec<&str> = rec["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter(|h| h["kind"] == "status" && h["direction"] == "in")
        .filter_map(|h| h["status_code"].as_str())
        .collect();
    assert_eq!(statuses, ["01", "03", "05", "06"], "{rec}");
    // The dossier's progress at the portal shows every status, handled by B's clerk.
    eventually("the portal shows the axis statuses as progress", || async {
        let r = w
            .call(
                w.http
                    .get(format!("{}/admin/dossiers/{}", w.dvcqg_url, d.code)),
            )
            .await;
        let texts: Vec<String> = r.1["progress"]
            .as_array()
            .map(|p| {
                p.iter()
                    .filter_map(|s| s["item"]["NoiDungXuLy"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        ["đã đến", "đã tiếp nhận", "đang xử lý", "đã xử lý xong"]
            .iter()
            .all(|t| {
                texts
                    .iter()
                    .any(|x| x.contains(t) && x.contains("125/UBND-KSTT"))
            })
    })
    .await;

    // The dossier's timeline in A's journal shows the document and its statuses.
    let timeline =
        w.a.gateway
            .journal()
            .timeline(&d.code)
            .await
            .expect("timeline");
    let summaries: Vec<&str> = timeline.iter().map(|e| e.summary.as_str()).collect();
    assert!(
        summaries
            .iter()
            .any(|s| s.starts_with("out vdxp edxml.edoc") && s.contains(&document_id)),
        "{summaries:#?}"
    );
    assert_eq!(
        summaries
            .iter()
            .filter(|s| s.starts_with("in vdxp edxml.status"))
            .count(),
        4,
        "{summaries:#?}"
    );

    // --- A rejection: 02 needs a reason.
    let (id2, doc2) = w.send_a("126", H14, None).await;
    let item = w.b_receives(&doc2, "new_document").await;
    let in2 = item["id"].as_str().expect("id").to_owned();
    let (s, v) = w
        .post(
            &w.b,
            &format!("/v1/edocs/{in2}/status"),
            VANTHU_B,
            &json!({ "code": "02" }),
        )
        .await;
    assert_eq!(s, 422, "02 without a reason: {v}");
    let (s, v) = w
        .post(
            &w.b,
            &format!("/v1/edocs/{in2}/status"),
            VANTHU_B,
            &json!({ "code": "02", "description": "Sai thẩm quyền" }),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    let rec = w.a_sees(&id2, "02").await;
    assert!(
        rec["history"]
            .as_array()
            .expect("history")
            .iter()
            .any(|h| h["status_code"] == "02" && h["subject"] == "Sai thẩm quyền"),
        "{rec}"
    );

    // --- An update of that document (BussinessDocType 2): B is asked to act on it.
    let mut update = document("126", H14, None);
    update["business"] = json!({ "type": 2, "target": doc2, "reason": "Sửa trích yếu" });
    let (s, v) = w.post(&w.a, "/v1/edocs", VANTHU_A, &update).await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(
        v["document_id"],
        doc2.as_str(),
        "the target in MessageHeader: {v}"
    );
    let asked = w.b_receives(&doc2, "update").await;
    assert_eq!(asked["business_type"], 2, "{asked}");

    // --- A document as multipart: the JSON fields and the file as it is.
    let boundary = "lienthong-e2e-boundary";
    let mut fields = document("131", H14, None);
    fields
        .as_object_mut()
        .expect("object")
        .remove("attachments");
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"document\"\r\n\
         Content-Type: application/json\r\n\r\n{fields}\r\n--{boundary}\r\n\
         Content-Disposition: form-data; name=\"file\"; filename=\"131-UBND-KSTT.pdf\"\r\n\
         Content-Type: application/pdf\r\n\r\n%PDF-1.4 multipart\r\n--{boundary}--\r\n"
    );
    let (s, v) = w
        .call(
            w.http
                .post(format!("{}/v1/edocs", w.a.url))
                .bearer_auth(VANTHU_A)
                .header(
                    "content-type",
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(body),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    let item = w
        .b_receives(v["document_id"].as_str().expect("id"), "new_document")
        .await;
    assert_eq!(
        attachment(&item, "131-UBND-KSTT.pdf"),
        b"%PDF-1.4 multipart"
    );

    // --- A ready edXML: read, checked, written strictly with its values; sent as it is
    // (here: the message B received for 125, renumbered 132). The same message again is a
    // duplicate.
    let received = base64::engine::general_purpose::STANDARD
        .decode(first["edxml_base64"].as_str().expect("edxml"))
        .expect("base64");
    let text = String::from_utf8(received).expect("UTF-8");
    let renumbered = text
        .replace(",125/UBND-KSTT<", ",132/UBND-KSTT<")
        .replace("<edXML:CodeNumber>125<", "<edXML:CodeNumber>132<");
    let doc132 = document_id.replace(",125/", ",132/");
    for expected in [202, 200] {
        let (s, v) = w
            .call(
                w.http
                    .post(format!("{}/v1/edocs", w.a.url))
                    .bearer_auth(VANTHU_A)
                    .header("content-type", "application/xml")
                    .body(renumbered.clone()),
            )
            .await;
        assert_eq!(s, expected, "{v}");
        assert_eq!(v["document_id"], doc132.as_str(), "{v}");
    }
    w.b_receives(&doc132, "new_document").await;

    // --- A take-back: A asks (13), B agrees (15).
    let (id3, doc3) = w.send_a("127", H14, None).await;
    let item = w.b_receives(&doc3, "new_document").await;
    let in3 = item["id"].as_str().expect("id").to_owned();
    let (s, v) = w
        .post(
            &w.a,
            &format!("/v1/edocs/{id3}/status"),
            VANTHU_A,
            &json!({ "code": "03" }),
        )
        .await;
    assert_eq!(s, 422, "the sender cannot report 03: {v}");
    let (s, v) = w
        .post(
            &w.a,
            &format!("/v1/edocs/{id3}/status"),
            VANTHU_A,
            &json!({ "code": "13", "description": "Gửi nhầm, xin lấy lại" }),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    let asked = w.b_receives(&doc3, "revoke_request").await;
    assert_eq!(asked["status_code"], "13", "{asked}");
    let (s, v) = w
        .post(
            &w.b,
            &format!("/v1/edocs/{in3}/status"),
            VANTHU_B,
            &json!({ "code": "15", "description": "Đồng ý" }),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    w.a_sees(&id3, "15").await;

    // --- The directory: an old code is routed to the new one; an unknown code is refused.
    eventually("A's agency directory is synced", || async {
        w.a.gateway.journal().agency_count().await.expect("count") > 0
    })
    .await;
    let (s, v) = w
        .post(&w.a, "/v1/edocs", VANTHU_A, &document("128", H14_OLD, None))
        .await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(v["to"], json!([H14]), "{v}");
    assert!(
        v["warnings"]
            .as_array()
            .is_some_and(|w| w.iter().any(|f| f["path"] == "/to/0")),
        "{v}"
    );
    let doc4 = v["document_id"].as_str().expect("id").to_owned();
    w.b_receives(&doc4, "new_document").await;
    // B's status 01 about it has gone out: no other send is on its way.
    eventually(
        "B's status 01 about the routed document is sent",
        || async {
            w.vdxp.sent(Some("tinh-b")).iter().any(|m| {
                m.document_id.as_deref() == Some(doc4.as_str())
                    && m.status_code.as_deref() == Some("01")
            })
        },
    )
    .await;
    let (s, v) = w
        .post(
            &w.a,
            "/v1/edocs",
            VANTHU_A,
            &document("129", "000.00.00.H77", None),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    assert!(
        v["findings"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["path"] == "/to/0")),
        "{v}"
    );

    // --- The axis took a document but its answer was lost: found, not sent again.
    w.vdxp
        .push_next_failure(NextFailure {
            service: "sendEdoc".into(),
            delay_ms: Some(2500),
            ..NextFailure::default()
        })
        .expect("fault");
    let (id5, doc5) = w.send_a("130", H14, None).await;
    eventually("the interrupted send is recorded as sent", || async {
        let (_, v) = w.get(&w.a, &format!("/v1/edocs/{id5}"), VANTHU_A).await;
        v["state"] == "sent"
    })
    .await;
    w.b_receives(&doc5, "new_document").await;
    let (_, rec) = w.get(&w.a, &format!("/v1/edocs/{id5}"), VANTHU_A).await;
    assert_eq!(
        rec["attempts"], 1,
        "found on the axis, not sent again: {rec}"
    );
    // The gateway asked the axis what it had sent before deciding.
    assert!(
        w.vdxp.calls().count("getSentEdocList", "ok") >= 1,
        "{:?}",
        w.vdxp.calls().by_operation
    );

    // --- The axis refuses a document (422: cannot be delivered as is): parked at once, with
    // the reason; the operator sends it again once the cause is fixed (audited).
    w.vdxp
        .push_next_failure(NextFailure {
            service: "sendEdoc".into(),
            error_code: Some("422".into()),
            message: Some("Khong co don vi nhan".into()),
            ..NextFailure::default()
        })
        .expect("fault");
    let (id6, doc6) = w.send_a("133", H14, None).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let parked = loop {
        let (_, v) = w.get(&w.a, &format!("/v1/edocs/{id6}"), VANTHU_A).await;
        if v["state"] == "parked" {
            break v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out: the refused document is parked: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        parked["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("sendEdoc")),
        "{parked}"
    );
    let (s, v) = w
        .post(
            &w.a,
            &format!("/v1/admin/edocs/{id6}/resend"),
            OPERATOR_A,
            &json!({ "reason": "the recipient registered again" }),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    w.b_receives(&doc6, "new_document").await;
    let (s, v) = w
        .post(
            &w.a,
            &format!("/v1/admin/edocs/{id6}/resend"),
            OPERATOR_A,
            &json!({ "reason": "again" }),
        )
        .await;
    assert_eq!(s, 409, "never twice: {v}");
    let audit =
        w.a.gateway
            .journal()
            .audit_log(&lienthong_journal::audit::AuditFilter {
                action: Some("edoc.resend".into()),
                ..Default::default()
            })
            .await
            .expect("audit");
    assert_eq!(audit.len(), 1, "one resend, audited: {audit:?}");
    assert_eq!(audit[0].entry.actor, "lan");
    assert_eq!(audit[0].entry.target.as_deref(), Some(id6.as_str()));

    // No message was ever accepted twice by the axis: the gateway sends the bytes it
    // composed and stored, so a second send of one message has the same bytes.
    let sent = w.vdxp.sent(None);
    let mut seen = BTreeMap::new();
    for m in &sent {
        let key = (m.system.clone(), m.bytes.clone());
        *seen.entry(key).or_insert(0) += 1;
    }
    let twice: Vec<_> = seen
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|((system, bytes), n)| {
            (
                system,
                String::from_utf8_lossy(&bytes[..bytes.len().min(400)]).into_owned(),
                n,
            )
        })
        .collect();
    assert!(twice.is_empty(), "sent more than once: {twice:?}");
    assert_eq!(
        sent.iter()
            .filter(|m| m.document_id.as_deref() == Some(doc5.as_str()) && m.status_code.is_none())
            .count(),
        1,
        "the interrupted document reached the axis once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_between_two_provinces_embedded() {
    let w = World::start(Parts::Embedded).await;
    scenarios(&w).await;
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_between_two_provinces_rabbitmq_postgres() {
    let Some(parts) = remote() else {
        return;
    };
    let w = World::start(parts).await;
    scenarios(&w).await;
    w.stop().await;
}
