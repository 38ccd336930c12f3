//! The ingest API over real HTTP on loopback, with a real SQLite journal: 202 only once the
//! state and its work item are committed; every refusal says why and records nothing.

use lienthong_journal::{Journal, JournalOptions, Key, PersonalData};
use lienthong_model::dossier::Dossier;
use lienthong_provincial::generate::Generator;
use lienthong_provincial::validate::Policy;
use lienthong_provincial::write::{dossier_json, progress_json};
use lienthong_service::auth::{TokenHash, Tokens};
use lienthong_service::config::Config;
use lienthong_service::ingest::{Ingest, router};
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

const CLIENT: &str = "lt_client_token_for_tests";
const OTHER: &str = "lt_other_unit_token";
const OPERATOR: &str = "lt_operator_token";

struct Gw {
    url: String,
    journal: Journal,
    maintenance: Arc<AtomicBool>,
    pressure: Arc<AtomicU64>,
    http: reqwest::Client,
    dir: std::path::PathBuf,
}

fn dossiers() -> Vec<Dossier> {
    Generator::new(3).dossiers(40)
}

async fn start(tag: &str, unit: &str) -> Gw {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = std::env::temp_dir().join(format!("lienthong-ingest-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let mut o = JournalOptions::new(format!("sqlite://{}/j.db", dir.display()));
    o.personal_data = PersonalData {
        key: Some(Key::parse(&"2a".repeat(32)).expect("key")),
        ..o.personal_data
    };
    let journal = Journal::open(&o).await.expect("journal");
    let toml = format!(
        r#"
[[units]]
code = "{unit}"
name = "Unit"
[[units]]
code = "000.00.99.H41"
name = "Other"
[[clients]]
name = "motcua"
token_sha256 = "{c}"
units = ["{unit}"]
[[clients]]
name = "other"
token_sha256 = "{x}"
units = ["000.00.99.H41"]
[[operators]]
name = "op"
token_sha256 = "{o}"
role = "admin"
"#,
        c = TokenHash::of(CLIENT),
        x = TokenHash::of(OTHER),
        o = TokenHash::of(OPERATOR)
    );
    let config = Config::parse(&toml, "test", &|_| None).expect("config");
    let maintenance = Arc::new(AtomicBool::new(false));
    let pressure = Arc::new(AtomicU64::new(0));
    let state = Arc::new(Ingest {
        journal: journal.clone(),
        tokens: Tokens::from_config(&config),
        policy: Policy::default(),
        maintenance: maintenance.clone(),
        pressure: pressure.clone(),
        max_request_bytes: 256 * 1024,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router(state)).await;
    });
    Gw {
        url: format!("http://{addr}"),
        journal,
        maintenance,
        pressure,
        http: reqwest::Client::builder().build().expect("client"),
        dir,
    }
}

impl Gw {
    async fn post(
        &self,
        path: &str,
        token: Option<&str>,
        body: String,
        headers: &[(&str, &str)],
    ) -> (u16, Option<String>, Value) {
        let mut r = self
            .http
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body(body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        let resp = r.send().await.expect("send");
        let status = resp.status().as_u16();
        let retry = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = resp.text().await.expect("body");
        (
            status,
            retry,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn work_items(&self) -> usize {
        self.journal
            .pending_work(1000)
            .await
            .expect("pending")
            .len()
    }

    async fn finish(self) {
        self.journal.close().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test]
async fn accepted_only_once_committed_and_resends_get_the_same_answer() {
    let all = dossiers();
    let d = &all[0];
    let unit = d.unit.code.clone().expect("generated dossiers have a unit");
    let gw = start("ok", &unit).await;
    let body = dossier_json(d);
    let (s, _, v) = gw
        .post("/v1/dossiers", Some(CLIENT), body.clone(), &[])
        .await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(v["result"], "accepted");
    assert_eq!(v["code"], d.code.as_str());
    // Committed: the state and its work item are in the journal when 202 arrives.
    let state = gw
        .journal
        .dossier_state(&d.code)
        .await
        .expect("state")
        .expect("known");
    assert_eq!(state.version, d.version);
    assert_eq!(gw.work_items().await, 1);
    // The same submission again: the original answer, nothing new.
    let (s2, _, v2) = gw
        .post("/v1/dossiers", Some(CLIENT), body.clone(), &[])
        .await;
    assert_eq!((s2, &v2), (202, &v));
    assert_eq!(gw.work_items().await, 1);
    // A client key reused for another body is refused.
    let (s, _, _) = gw
        .post(
            "/v1/dossiers",
            Some(CLIENT),
            body.clone(),
            &[("idempotency-key", "k1")],
        )
        .await;
    assert_eq!(s, 202);
    let mut other = d.clone();
    other.version += 1;
    let (s, _, v) = gw
        .post(
            "/v1/dossiers",
            Some(CLIENT),
            dossier_json(&other),
            &[("idempotency-key", "k1")],
        )
        .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["error"], "idempotency_key_reused");
    // A progress step of the dossier.
    let step = Generator::new(3)
        .progress(200)
        .into_iter()
        .find(|p| p.dossier_code == d.code)
        .map(|mut p| {
            p.step_seq = 1;
            p
        });
    if let Some(step) = step {
        let path = format!("/v1/dossiers/{}/progress", d.code);
        let (s, _, v) = gw
            .post(&path, Some(CLIENT), progress_json(&step), &[])
            .await;
        assert_eq!(s, 202, "{v}");
        let (s, _, v) = gw
            .post(&path, Some(CLIENT), progress_json(&step), &[])
            .await;
        assert_eq!(s, 202, "{v}");
        let (s, _, v) = gw
            .post(
                "/v1/dossiers/SOMETHING-ELSE/progress",
                Some(CLIENT),
                progress_json(&step),
                &[],
            )
            .await;
        assert_eq!(s, 400, "{v}");
    }
    gw.finish().await;
}

#[tokio::test]
async fn refusals_say_why_and_record_nothing() {
    let all = dossiers();
    let d = &all[0];
    let unit = d.unit.code.clone().expect("unit");
    let gw = start("refuse", &unit).await;
    let body = dossier_json(d);
    // No token, unknown token, operator token, a client of another unit.
    let (s, _, v) = gw.post("/v1/dossiers", None, body.clone(), &[]).await;
    assert_eq!(s, 401, "{v}");
    let (s, _, _) = gw
        .post("/v1/dossiers", Some("lt_nope"), body.clone(), &[])
        .await;
    assert_eq!(s, 401);
    let (s, _, v) = gw
        .post("/v1/dossiers", Some(OPERATOR), body.clone(), &[])
        .await;
    assert_eq!(s, 403, "{v}");
    let (s, _, v) = gw
        .post("/v1/dossiers", Some(OTHER), body.clone(), &[])
        .await;
    assert_eq!(s, 403, "{v}");
    assert!(
        v["message"].as_str().is_some_and(|m| m.contains(&unit)),
        "{v}"
    );
    // Invalid: findings with the path; nothing recorded.
    let broken = body.replacen(&format!("\"code\":\"{}\"", d.code), "\"code\":\"\"", 1);
    assert_ne!(broken, body);
    let (s, _, v) = gw.post("/v1/dossiers", Some(CLIENT), broken, &[]).await;
    assert_eq!(s, 400, "{v}");
    assert!(
        v["findings"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["path"] == "/code")),
        "{v}"
    );
    let (s, _, v) = gw
        .post("/v1/dossiers", Some(CLIENT), "{not json".into(), &[])
        .await;
    assert_eq!(s, 400, "{v}");
    // Too large.
    let (s, _, _) = gw
        .post(
            "/v1/dossiers",
            Some(CLIENT),
            format!("{{\"x\":\"{}\"}}", "a".repeat(300 * 1024)),
            &[],
        )
        .await;
    assert_eq!(s, 413);
    // Maintenance and backpressure, with Retry-After.
    gw.maintenance.store(true, Ordering::Relaxed);
    let (s, retry, _) = gw
        .post("/v1/dossiers", Some(CLIENT), body.clone(), &[])
        .await;
    assert_eq!((s, retry.as_deref()), (503, Some("60")));
    gw.maintenance.store(false, Ordering::Relaxed);
    gw.pressure.store(7, Ordering::Relaxed);
    let (s, retry, _) = gw
        .post("/v1/dossiers", Some(CLIENT), body.clone(), &[])
        .await;
    assert_eq!((s, retry.as_deref()), (429, Some("7")));
    gw.pressure.store(0, Ordering::Relaxed);
    // Nothing of all that reached the journal.
    assert!(
        gw.journal
            .dossier_state(&d.code)
            .await
            .expect("state")
            .is_none()
    );
    assert_eq!(gw.work_items().await, 0);
    // A step for a dossier not received yet, from a client scoped to units: 409.
    let step = Generator::new(3).progress(5).remove(0);
    let (s, retry, v) = gw
        .post(
            &format!("/v1/dossiers/{}/progress", step.dossier_code),
            Some(CLIENT),
            progress_json(&step),
            &[],
        )
        .await;
    assert_eq!((s, retry.as_deref()), (409, Some("5")), "{v}");
    gw.finish().await;
}

#[tokio::test]
async fn an_ndjson_batch_is_answered_line_by_line() {
    let all = dossiers();
    let unit = all[0].unit.code.clone().expect("unit");
    let mine: Vec<&Dossier> = all
        .iter()
        .filter(|d| d.unit.code.as_deref() == Some(&unit))
        .take(3)
        .collect();
    assert!(!mine.is_empty());
    let gw = start("ndjson", &unit).await;
    let mut body = String::new();
    for d in &mine {
        body.push_str(&dossier_json(d));
        body.push('\n');
    }
    body.push_str("{\"code\":\"\"}\n");
    let resp = gw
        .http
        .post(format!("{}/v1/dossiers", gw.url))
        .bearer_auth(CLIENT)
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 200);
    let text = resp.text().await.expect("text");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), mine.len() + 1, "{text}");
    for (i, l) in lines.iter().enumerate().take(mine.len()) {
        assert_eq!(l["line"], i + 1);
        assert_eq!(l["status"], 202, "{l}");
    }
    assert_eq!(lines[mine.len()]["status"], 400);
    // Each version that became the desired state caused exactly one work item.
    let accepted = lines.iter().filter(|l| l["result"] == "accepted").count();
    assert!(accepted >= 1);
    assert_eq!(gw.work_items().await, accepted);
    gw.finish().await;
}

/// A gateway killed between beginning a submission and answering it leaves the submission
/// begun; the client, which got no answer, sends it again to the restarted gateway. Found
/// by the chaos suite: it was told `409 in_progress` for five minutes. It is taken over once
/// the submission has been left for `ABANDONED_AFTER` (30 s), and recorded once.
#[tokio::test]
async fn a_submission_abandoned_by_a_killed_gateway_is_taken_over() {
    use lienthong_journal::idempotency::{Begin, SubmissionKey};
    use lienthong_service::ingest::ABANDONED_AFTER;
    let d = &dossiers()[0];
    let unit = d.unit.code.clone().expect("generated dossiers have a unit");
    let gw = start("abandoned", &unit).await;
    let body = dossier_json(d);
    // What the killed gateway left: begun, never answered, 31 s ago.
    let key = SubmissionKey::for_version("motcua", &d.code, d.version);
    let then = jiff::Timestamp::now() - ABANDONED_AFTER - jiff::SignedDuration::from_secs(1);
    let begun = gw
        .journal
        .begin_submission(&key, body.as_bytes(), then, ABANDONED_AFTER)
        .await
        .expect("begin");
    assert_eq!(begun, Begin::New);
    let (s, _, v) = gw
        .post("/v1/dossiers", Some(CLIENT), body.clone(), &[])
        .await;
    assert_eq!(s, 202, "the resend is taken over: {v}");
    assert_eq!(v["result"], "accepted", "{v}");
    assert_eq!(gw.work_items().await, 1);
    // A submission begun just now is still in progress: the client is asked to wait.
    let mut next = d.clone();
    next.version += 1;
    let key = SubmissionKey::for_version("motcua", &next.code, next.version);
    let body = dossier_json(&next);
    gw.journal
        .begin_submission(
            &key,
            body.as_bytes(),
            jiff::Timestamp::now(),
            ABANDONED_AFTER,
        )
        .await
        .expect("begin");
    let (s, retry, v) = gw.post("/v1/dossiers", Some(CLIENT), body, &[]).await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(v["error"], "in_progress", "{v}");
    assert_eq!(retry.as_deref(), Some("1"));
    gw.finish().await;
}
