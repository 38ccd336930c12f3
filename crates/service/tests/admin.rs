//! The admin API and `/metrics` on a started gateway (SQLite journal, embedded bus, the
//! DVCQG simulator as the portal): roles, replay and discard with their audit entries,
//! maintenance mode, and metric names free of dossier codes. The alert rules in
//! `deploy/prometheus/alerts.yml` use only names the gateway exports.

use lienthong_bus::{Message, Reason};
use lienthong_provincial::generate::Generator;
use lienthong_provincial::write::dossier_json;
use lienthong_sandbox::dvcqg::{DvcqgConfig, DvcqgSim, spawn_dvcqg};
use lienthong_service::auth::TokenHash;
use lienthong_service::config::Config;
use lienthong_service::gateway::Gateway;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const CLIENT: &str = "lt_admin_test_client";
const VIEWER: &str = "lt_admin_test_viewer";
const OPERATOR: &str = "lt_admin_test_operator";
const ADMIN: &str = "lt_admin_test_admin";
const KEY_HEX: &str = "2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a";
/// A route the gateway does not consume yet: messages parked there stay parked.
const ROUTE: &str = "document.outbound";

struct Gw {
    gateway: Gateway,
    url: String,
    http: reqwest::Client,
    dir: std::path::PathBuf,
    _sim: DvcqgSim,
}

async fn start(tag: &str) -> Gw {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = std::env::temp_dir().join(format!("lienthong-admin-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let sim_config = DvcqgConfig::default();
    let account = sim_config.accounts[0].clone();
    let (sim_addr, sim, _task) = spawn_dvcqg(sim_config).await.expect("simulator");
    let toml = format!(
        r#"
[gateway]
listen = "127.0.0.1:0"
data_dir = "{data}"
node_name = "admin-test"

[bus]
retry_delays_secs = [1, 2, 5]

[dvcqg]
adapter_url = "http://{sim_addr}"
username = "{user}"
dstcode = "H41-DVC"
madonvi = "000.00.00.H41"
timeout_ms = 5000

[[units]]
code = "000.00.00.H41"
name = "UBND tỉnh Nghệ An"

[[clients]]
name = "motcua"
token_sha256 = "{c}"
units = ["*"]

[[operators]]
name = "vy"
token_sha256 = "{v}"
role = "viewer"

[[operators]]
name = "op"
token_sha256 = "{o}"
role = "operator"

[[operators]]
name = "root"
token_sha256 = "{a}"
role = "admin"
"#,
        data = dir.display(),
        user = account.username,
        c = TokenHash::of(CLIENT),
        v = TokenHash::of(VIEWER),
        o = TokenHash::of(OPERATOR),
        a = TokenHash::of(ADMIN),
    );
    let password = account.password.clone();
    let env = move |name: &str| match name {
        "LIENTHONG_DVCQG_PASSWORD" => Some(password.clone()),
        "LIENTHONG_JOURNAL_KEY" => Some(KEY_HEX.to_owned()),
        _ => None,
    };
    let config = Config::parse(&toml, "test", &env).expect("config");
    let gateway = Gateway::start(&config, &env).await.expect("gateway");
    Gw {
        url: format!("http://{}", gateway.addr()),
        gateway,
        http: reqwest::Client::new(),
        dir,
        _sim: sim,
    }
}

impl Gw {
    async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut r = self.http.get(format!("{}{path}", self.url));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        let resp = r.send().await.expect("send");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut r = self
            .http
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        let resp = r.send().await.expect("send");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn metrics(&self) -> String {
        self.http
            .get(format!("{}/metrics", self.url))
            .send()
            .await
            .expect("scrape")
            .text()
            .await
            .expect("text")
    }

    /// Parks `ids` on [`ROUTE`] through the gateway's own bus, as a route would.
    async fn park(&self, ids: &[&str]) {
        let bus = self.gateway.bus();
        for id in ids {
            bus.publish(Message::new(
                *id,
                ROUTE,
                format!("key-{id}"),
                b"{}".to_vec(),
            ))
            .await
            .expect("publish");
        }
        let mut consumer = bus.consume(ROUTE, 8).await.expect("consume");
        for _ in ids {
            let d = tokio::time::timeout(Duration::from_secs(10), consumer.next())
                .await
                .expect("delivery in time")
                .expect("delivery");
            d.park(Reason::new("the axis refused the document").partner_code("E42"))
                .await
                .expect("park");
        }
    }

    async fn stop(self) {
        self.gateway.stop().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn route_info<'a>(queues: &'a Value, route: &str) -> &'a Value {
    queues["queues"]
        .as_array()
        .and_then(|a| a.iter().find(|q| q["route"] == route))
        .expect("route listed")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_replay_discard_and_the_audit_log() {
    let gw = start("roles").await;
    gw.park(&["m-1", "m-2", "m-3", "m-4"]).await;

    // Who may look.
    assert_eq!(gw.get("/v1/admin/queues", None).await.0, 401);
    assert_eq!(gw.get("/v1/admin/queues", Some("lt_nobody")).await.0, 401);
    assert_eq!(gw.get("/v1/admin/queues", Some(CLIENT)).await.0, 403);
    let (s, q) = gw.get("/v1/admin/queues", Some(VIEWER)).await;
    assert_eq!(s, 200, "{q}");
    assert_eq!(route_info(&q, ROUTE)["parked"], 4, "{q}");
    let (s, p) = gw
        .get(
            &format!("/v1/admin/parked?route={ROUTE}&partner_code=E42"),
            Some(VIEWER),
        )
        .await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["parked"].as_array().map(Vec::len), Some(4), "{p}");
    let (_, p) = gw
        .get(
            "/v1/admin/parked?reason=AXIS%20REFUSED&limit=2",
            Some(VIEWER),
        )
        .await;
    assert_eq!(p["parked"].as_array().map(Vec::len), Some(2), "{p}");
    let (s, _) = gw.get("/v1/admin/parked?status=lost", Some(VIEWER)).await;
    assert_eq!(s, 400);

    // A viewer cannot act; neither can a client.
    let one = json!({ "route": ROUTE, "id": "m-1", "reason": "the axis is back" });
    assert_eq!(
        gw.post("/v1/admin/parked/replay", Some(VIEWER), one.clone())
            .await
            .0,
        403
    );
    assert_eq!(
        gw.post("/v1/admin/parked/replay", Some(CLIENT), one.clone())
            .await
            .0,
        403
    );

    // An operator replays one and discards one; a discard needs a reason.
    let (s, r) = gw
        .post("/v1/admin/parked/replay", Some(OPERATOR), one)
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["replayed"], 1);
    let (s, r) = gw
        .post(
            "/v1/admin/parked/discard",
            Some(OPERATOR),
            json!({ "route": ROUTE, "id": "m-2" }),
        )
        .await;
    assert_eq!(s, 400, "{r}");
    let (s, r) = gw
        .post(
            "/v1/admin/parked/discard",
            Some(OPERATOR),
            json!({ "route": ROUTE, "id": "m-2", "reason": "sent by post instead" }),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["discarded"], 1);
    // Ambiguous or empty selections are refused.
    for bad in [
        json!({ "all": true, "id": "m-3", "route": ROUTE, "reason": "x" }),
        json!({ "filter": {}, "reason": "x" }),
        json!({ "id": "m-3", "reason": "x" }),
        json!({ "reason": "x" }),
    ] {
        let (s, r) = gw
            .post("/v1/admin/parked/discard", Some(OPERATOR), bad.clone())
            .await;
        assert_eq!(s, 400, "{bad} → {r}");
    }
    // A filter selects the rest of the route.
    let (s, r) = gw
        .post(
            "/v1/admin/parked/discard",
            Some(OPERATOR),
            json!({ "filter": { "route": ROUTE, "partner_code": "E42" }, "reason": "obsolete" }),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["discarded"], 2);
    let (_, p) = gw
        .get(&format!("/v1/admin/parked?route={ROUTE}"), Some(VIEWER))
        .await;
    assert_eq!(p["parked"].as_array().map(Vec::len), Some(0), "{p}");
    let (_, p) = gw
        .get(
            &format!("/v1/admin/parked?route={ROUTE}&status=discarded"),
            Some(VIEWER),
        )
        .await;
    assert_eq!(p["parked"].as_array().map(Vec::len), Some(3), "{p}");
    assert_eq!(p["parked"][0]["resolved_by"], "op", "{p}");

    // The audit log: admin only, newest first, with actor, role and reason.
    assert_eq!(gw.get("/v1/admin/audit", Some(OPERATOR)).await.0, 403);
    let (s, a) = gw.get("/v1/admin/audit", Some(ADMIN)).await;
    assert_eq!(s, 200, "{a}");
    let log = a["audit"].as_array().expect("entries");
    let actions: Vec<&str> = log.iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(
        actions,
        vec!["parked.discard", "parked.discard", "parked.replay"],
        "{a}"
    );
    let replay = &log[2];
    assert_eq!(replay["actor"], "op");
    assert_eq!(replay["role"], "operator");
    assert_eq!(replay["reason"], "the axis is back");
    assert_eq!(replay["target"], format!("{ROUTE}/m-1"));
    assert!(
        replay["at"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{replay}"
    );
    assert_eq!(log[1]["reason"], "sent by post instead");
    assert_eq!(log[0]["details"]["filter"]["partner_code"], "E42");
    let (_, a) = gw
        .get("/v1/admin/audit?action=parked.replay&actor=op", Some(ADMIN))
        .await;
    assert_eq!(a["audit"].as_array().map(Vec::len), Some(1), "{a}");
    let (s, _) = gw.get("/v1/admin/audit?since=yesterday", Some(ADMIN)).await;
    assert_eq!(s, 400);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_mode_closes_and_reopens_intake() {
    let gw = start("maintenance").await;
    let mut g = Generator::new(11);
    let d1 = dossier_json(&g.story().versions[0]);
    let d2 = dossier_json(&g.story().versions[0]);
    let submit = |body: String| {
        let gw = &gw;
        async move {
            gw.http
                .post(format!("{}/v1/dossiers", gw.url))
                .bearer_auth(CLIENT)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .expect("send")
        }
    };
    let on = json!({ "on": true, "reason": "database upgrade" });
    assert_eq!(
        gw.post("/v1/admin/maintenance", Some(OPERATOR), on.clone())
            .await
            .0,
        403
    );
    assert_eq!(
        gw.post("/v1/admin/maintenance", Some(ADMIN), json!({ "on": true }))
            .await
            .0,
        400,
        "a reason is required"
    );
    let (s, r) = gw.post("/v1/admin/maintenance", Some(ADMIN), on).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["maintenance"], true);
    assert_eq!(r["was"], false);
    let resp = submit(d1.clone()).await;
    assert_eq!(resp.status().as_u16(), 503);
    assert!(resp.headers().get("retry-after").is_some());
    assert_eq!(gw.get("/health", None).await.0, 503);

    let (s, _) = gw
        .post(
            "/v1/admin/maintenance",
            Some(ADMIN),
            json!({ "on": false, "reason": "upgrade done" }),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(submit(d1).await.status().as_u16(), 202);
    assert_eq!(submit(d2).await.status().as_u16(), 202);

    let (_, a) = gw.get("/v1/admin/audit", Some(ADMIN)).await;
    let log = a["audit"].as_array().expect("entries");
    let got: Vec<(&str, &str)> = log
        .iter()
        .filter_map(|e| Some((e["action"].as_str()?, e["reason"].as_str()?)))
        .collect();
    assert_eq!(
        got,
        vec![
            ("maintenance.off", "upgrade done"),
            ("maintenance.on", "database upgrade")
        ]
    );
    assert!(
        log.iter()
            .all(|e| e["actor"] == "root" && e["role"] == "admin")
    );
    gw.stop().await;
}

/// The PromQL expressions of a rule file, by a plain scan: `expr: …` on one line, or
/// `expr: |` / `expr: >` followed by the lines indented deeper than the key.
fn alert_expressions(text: &str) -> Vec<String> {
    let mut exprs = Vec::new();
    let mut block: Option<(usize, String)> = None;
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        if let Some((key_indent, body)) = &mut block {
            if line.trim().is_empty() || indent > *key_indent {
                body.push_str(line.trim());
                body.push(' ');
                continue;
            }
            exprs.push(std::mem::take(body));
            block = None;
        }
        let trimmed = line.trim_start().trim_start_matches("- ");
        if let Some(rest) = trimmed.strip_prefix("expr:") {
            let rest = rest.trim();
            if rest.starts_with('|') || rest.starts_with('>') {
                block = Some((indent, String::new()));
            } else {
                exprs.push(rest.trim_matches(['"', '\'']).to_owned());
            }
        }
    }
    if let Some((_, body)) = block {
        exprs.push(body);
    }
    exprs
}

/// Every `lienthong_*` name in the expressions of a rule file.
fn alert_metric_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    for expr in alert_expressions(text) {
        let mut rest = expr.as_str();
        while let Some(at) = rest.find("lienthong_") {
            let before_ok = at == 0 || {
                let b = rest.as_bytes()[at - 1];
                !b.is_ascii_alphanumeric() && b != b'_'
            };
            let tail = &rest[at..];
            let end = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(tail.len());
            if before_ok && !names.iter().any(|n| n == &tail[..end]) {
                names.push(tail[..end].to_owned());
            }
            rest = &tail[end..];
        }
    }
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_cover_the_alert_rules_and_carry_no_dossier_codes() {
    let gw = start("metrics").await;
    gw.park(&["p-1"]).await;
    let mut g = Generator::new(23);
    let mut codes = Vec::new();
    for _ in 0..5 {
        let d = g.story().versions.remove(0);
        codes.push(d.code.clone());
        let r = gw
            .http
            .post(format!("{}/v1/dossiers", gw.url))
            .bearer_auth(CLIENT)
            .header("content-type", "application/json")
            .body(dossier_json(&d))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status().as_u16(), 202);
    }
    // Refused submissions count too.
    let r = gw
        .http
        .post(format!("{}/v1/dossiers", gw.url))
        .bearer_auth("lt_nobody")
        .body("{}")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 401);

    // Wait until the portal calls show.
    let deadline = Instant::now() + Duration::from_secs(30);
    let text = loop {
        let t = gw.metrics().await;
        if t.contains("lienthong_portal_calls_total{") && t.contains("lienthong_breaker_open{")
            || Instant::now() > deadline
        {
            break t;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for name in [
        "lienthong_queue_depth{route=\"dossier.sync\"}",
        &format!("lienthong_parked{{route=\"{ROUTE}\"}} 1"),
        "lienthong_ingest_total{kind=\"dossier\",result=\"accepted\"}",
        "lienthong_ingest_total{kind=\"dossier\",result=\"unauthorized\"}",
        "lienthong_ingest_total{kind=\"progress\",result=\"throttled\"} 0",
        "lienthong_portal_calls_total{partner=\"dvcqg\",call=\"DongBoHoSoMC\",outcome=\"accepted\"}",
        "lienthong_portal_call_seconds_bucket{partner=\"dvcqg\",call=\"DongBoHoSoMC\",le=",
        "lienthong_portal_call_seconds_count{partner=\"dvcqg\",call=\"DongBoHoSoMC\"}",
        "lienthong_breaker_open{partner=\"dvcqg\"} 0",
        "# TYPE lienthong_portal_call_seconds histogram",
    ] {
        assert!(text.contains(name), "{name} missing from /metrics:\n{text}");
    }
    for code in &codes {
        assert!(
            !text.contains(code.as_str()),
            "dossier code {code} in /metrics"
        );
    }
    assert!(!text.contains("p-1"), "message id in /metrics");

    // The alert rules use only names the gateway exports.
    let rules = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/prometheus/alerts.yml"),
    )
    .expect("alerts.yml");
    let names = alert_metric_names(&rules);
    assert!(names.len() >= 4, "{names:?}");
    for n in &names {
        assert!(
            text.lines().any(|l| !l.starts_with('#')
                && l.starts_with(n.as_str())
                && l[n.len()..].starts_with(['{', ' '])),
            "alerts.yml uses {n}, which /metrics does not export:\n{text}"
        );
    }
    assert!(
        rules.contains("up == 0") || rules.contains("up{"),
        "no gateway-down rule"
    );
    gw.stop().await;
}

#[test]
fn the_alert_scan_reads_expressions_only() {
    let text = "groups:\n  - rules:\n      - alert: A\n        expr: lienthong_b > 0 and nolienthong_d\n\
                \x20       annotations:\n          description: see lienthong_c\n\
                \x20     - alert: B\n        expr: |\n          sum(rate(lienthong_a_total{x=\"y\"}[5m]))\n\
                \x20           / lienthong_e\n        for: 5m\n";
    assert_eq!(
        alert_metric_names(text),
        vec!["lienthong_b", "lienthong_a_total", "lienthong_e"]
    );
}

/// Signs in on the dashboard: the cookie (`lt_session=…`) and the CSRF token.
async fn sign_in(gw: &Gw, token: &str) -> (u16, Option<String>, Value) {
    let resp = gw
        .http
        .post(format!("{}/ui/api/session", gw.url))
        .header("content-type", "application/json")
        .body(json!({ "token": token }).to_string())
        .send()
        .await
        .expect("send");
    let status = resp.status().as_u16();
    let cookie = resp
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (status, cookie, resp.json().await.unwrap_or(Value::Null))
}

/// A request with the session cookie (and the CSRF header when given).
async fn with_cookie(
    gw: &Gw,
    method: reqwest::Method,
    path: &str,
    cookie: &str,
    csrf: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let pair = cookie.split(';').next().expect("cookie pair");
    let mut r = gw
        .http
        .request(method, format!("{}{path}", gw.url))
        .header("cookie", pair);
    if let Some(c) = csrf {
        r = r.header("x-csrf-token", c);
    }
    if let Some(b) = body {
        r = r
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let resp = r.send().await.expect("send");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("text");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_sessions_csrf_overview_search_timeline_report() {
    use reqwest::Method;
    let gw = start("dashboard").await;
    gw.park(&["d-1", "d-2"]).await;
    // A dossier through the ingest API, for search and the timeline.
    let d = Generator::new(3)
        .story()
        .versions
        .first()
        .cloned()
        .expect("a version");
    let (s, v) = gw
        .post(
            "/v1/dossiers",
            Some(CLIENT),
            serde_json::from_str(&dossier_json(&d)).expect("json"),
        )
        .await;
    assert_eq!(s, 202, "{v}");

    // Sign-in: unknown and client tokens are refused; an operator gets a cookie.
    assert_eq!(sign_in(&gw, "lt_nobody").await.0, 401);
    assert_eq!(sign_in(&gw, CLIENT).await.0, 401);
    let (s, cookie, who) = sign_in(&gw, OPERATOR).await;
    assert_eq!(s, 200, "{who}");
    let cookie = cookie.expect("a session cookie");
    assert!(cookie.starts_with("lt_session="), "{cookie}");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attr), "{attr} in {cookie}");
    }
    assert_eq!(
        (who["operator"].as_str(), who["role"].as_str()),
        (Some("op"), Some("operator"))
    );
    let csrf = who["csrf"].as_str().expect("csrf").to_owned();
    let (s, again) = with_cookie(&gw, Method::GET, "/ui/api/session", &cookie, None, None).await;
    assert_eq!((s, &again["csrf"]), (200, &who["csrf"]), "{again}");
    assert_eq!(
        with_cookie(
            &gw,
            Method::GET,
            "/ui/api/session",
            "lt_session=forged",
            None,
            None
        )
        .await
        .0,
        401
    );

    // The admin API takes the cookie; a state change needs the CSRF token too.
    let (s, o) = with_cookie(&gw, Method::GET, "/v1/admin/overview", &cookie, None, None).await;
    assert_eq!(s, 200, "{o}");
    assert_eq!(o["parked"], 2, "{o}");
    assert_eq!(o["partners"][0]["partner"], "dvcqg");
    assert_eq!(o["partners"][1]["state"], "not_configured", "{o}");
    assert_eq!(o["last_hour"]["buckets"].as_array().map(Vec::len), Some(12));
    assert!(
        o["last_hour"]["messages"].as_u64().is_some_and(|n| n >= 1),
        "{o}"
    );
    let replay = json!({ "route": ROUTE, "id": "d-1", "reason": "from the dashboard" });
    let (s, v) = with_cookie(
        &gw,
        Method::POST,
        "/v1/admin/parked/replay",
        &cookie,
        None,
        Some(replay.clone()),
    )
    .await;
    assert_eq!((s, v["error"].as_str()), (403, Some("csrf")), "{v}");
    let (s, v) = with_cookie(
        &gw,
        Method::POST,
        "/v1/admin/parked/replay",
        &cookie,
        Some("0000"),
        Some(replay.clone()),
    )
    .await;
    assert_eq!(s, 403, "a wrong CSRF token: {v}");
    let (s, v) = with_cookie(
        &gw,
        Method::POST,
        "/v1/admin/parked/replay",
        &cookie,
        Some(&csrf),
        Some(replay.clone()),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (_, o) = with_cookie(&gw, Method::GET, "/v1/admin/overview", &cookie, None, None).await;
    assert_eq!(o["parked"], 1, "replayed from the dashboard: {o}");
    // A viewer's session can look, not act.
    let (_, vcookie, vwho) = sign_in(&gw, VIEWER).await;
    let vcookie = vcookie.expect("cookie");
    let (s, v) = with_cookie(
        &gw,
        Method::POST,
        "/v1/admin/parked/replay",
        &vcookie,
        vwho["csrf"].as_str(),
        Some(json!({ "route": ROUTE, "id": "d-2", "reason": "x" })),
    )
    .await;
    assert_eq!((s, v["error"].as_str()), (403, Some("forbidden")), "{v}");
    let (s, _) = with_cookie(&gw, Method::GET, "/v1/admin/audit", &vcookie, None, None).await;
    assert_eq!(s, 403, "the audit log is for admins");

    // Search and timeline, personal data masked.
    let path = format!("/v1/admin/search?dossier={}", d.code);
    let (s, found) = with_cookie(&gw, Method::GET, &path, &cookie, None, None).await;
    assert_eq!(s, 200, "{found}");
    let messages = found["messages"].as_array().expect("messages");
    assert!(!messages.is_empty(), "{found}");
    assert!(
        messages
            .iter()
            .all(|m| m["dossier_code"] == d.code.as_str())
    );
    assert!(
        !found.to_string().contains("\"body\""),
        "no bodies in search answers"
    );
    let path = format!("/v1/admin/dossiers/{}/timeline", d.code);
    let (s, tl) = with_cookie(&gw, Method::GET, &path, &cookie, None, None).await;
    assert_eq!(s, 200, "{tl}");
    assert_eq!(tl["entries"][0]["kind"], "version", "{tl}");
    let (s, _) = with_cookie(
        &gw,
        Method::GET,
        "/v1/admin/dossiers/000.00.00.H41-000000-0000/timeline",
        &cookie,
        None,
        None,
    )
    .await;
    assert_eq!(s, 404);

    // The report, JSON and CSV.
    let (s, r) = with_cookie(
        &gw,
        Method::GET,
        "/v1/admin/report?from=2020-01-01&to=2030-12-31&by=agency",
        &cookie,
        None,
        None,
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["total"]["received"], 1, "{r}");
    let (s, csv) = with_cookie(
        &gw,
        Method::GET,
        "/v1/admin/report?from=2020-01-01&to=2030-12-31&format=csv",
        &cookie,
        None,
        None,
    )
    .await;
    assert_eq!(s, 200);
    let csv = csv.as_str().expect("text").to_owned();
    assert!(csv.starts_with("label,received,online,resolved,"), "{csv}");
    assert!(
        csv.lines()
            .last()
            .is_some_and(|l| l.starts_with("total,1,")),
        "{csv}"
    );
    let (s, _) = with_cookie(
        &gw,
        Method::GET,
        "/v1/admin/report?from=2025-13-01",
        &cookie,
        None,
        None,
    )
    .await;
    assert_eq!(s, 400);
    let (s, m) = with_cookie(
        &gw,
        Method::GET,
        "/v1/admin/maintenance",
        &vcookie,
        None,
        None,
    )
    .await;
    assert_eq!((s, &m["on"]), (200, &json!(false)));

    // Sign-out needs the CSRF token; afterwards the cookie is worthless.
    let (s, _) = with_cookie(&gw, Method::DELETE, "/ui/api/session", &cookie, None, None).await;
    assert_eq!(s, 403);
    let (s, _) = with_cookie(
        &gw,
        Method::DELETE,
        "/ui/api/session",
        &cookie,
        Some(&csrf),
        None,
    )
    .await;
    assert_eq!(s, 204);
    assert_eq!(
        with_cookie(&gw, Method::GET, "/v1/admin/overview", &cookie, None, None)
            .await
            .0,
        401
    );
    // Every action of the session is in the audit log, under the operator's name.
    let (_, audit) = gw.get("/v1/admin/audit?actor=op", Some(ADMIN)).await;
    let actions: Vec<&str> = audit["audit"]
        .as_array()
        .expect("audit")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for a in ["ui.sign_in", "parked.replay", "ui.sign_out"] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
    gw.stop().await;
}
