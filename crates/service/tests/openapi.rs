//! `GET /openapi.json` on a started gateway: the document parses, declares OpenAPI 3.1, has
//! both ingest paths with their methods, documents every status the ingest handlers can
//! answer (read from `ingest.rs` itself), and its request schemas accept the repository's
//! examples (checked with a small validator for the keywords the provincial schemas use,
//! `pattern` and `format` excepted).

use lienthong_service::auth::TokenHash;
use lienthong_service::config::Config;
use lienthong_service::gateway::Gateway;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

async fn served() -> Value {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("lienthong-openapi-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let toml = format!(
        r#"
[gateway]
listen = "127.0.0.1:0"
data_dir = "{}"
[[units]]
code = "000.00.12.H41"
name = "Unit"
[[clients]]
name = "motcua"
token_sha256 = "{}"
units = ["*"]
[portal]
receiver_token_sha256 = "{}"
"#,
        dir.display(),
        TokenHash::of("lt_test"),
        TokenHash::of("lt_portal")
    );
    let env = |name: &str| (name == "LIENTHONG_JOURNAL_KEY").then(|| "2a".repeat(32));
    let config = Config::parse(&toml, "test", &env).expect("config");
    let gw = Gateway::start(&config, &env).await.expect("start");
    let resp = reqwest::get(format!("http://{}/openapi.json", gw.addr()))
        .await
        .expect("get");
    assert_eq!(resp.status(), 200);
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(ct.starts_with("application/json"), "{ct}");
    let text = resp.text().await.expect("body");
    // The documented submission paths are routed (401 without a token, not 404).
    let http = reqwest::Client::new();
    for (method, path) in [
        ("GET", "/v1/submissions"),
        ("POST", "/v1/submissions/X/ack"),
        ("POST", "/v1/portal/dossiers"),
    ] {
        let url = format!("http://{}{path}", gw.addr());
        let r = match method {
            "GET" => http.get(url),
            _ => http.post(url),
        };
        let status = r.send().await.expect("send").status();
        assert_eq!(status, 401, "{method} {path}");
    }
    gw.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    serde_json::from_str(&text).expect("the served document is JSON")
}

/// Status codes named in the ingest handlers' source.
fn statuses_in_ingest() -> BTreeSet<u16> {
    let src = std::fs::read_to_string(root().join("crates/service/src/ingest.rs")).expect("src");
    statuses_in(&src, "ingest.rs")
}

/// Status codes named in the portal handlers' source (before the webhook signing part).
fn statuses_in_portal() -> BTreeSet<u16> {
    let src = std::fs::read_to_string(root().join("crates/service/src/portal.rs")).expect("src");
    let handlers = src
        .split("/// Lowercase hex of the HMAC")
        .next()
        .unwrap_or("");
    statuses_in(handlers, "portal.rs")
}

fn statuses_in(src: &str, file: &str) -> BTreeSet<u16> {
    let names = [
        ("OK", 200),
        ("ACCEPTED", 202),
        ("BAD_REQUEST", 400),
        ("UNAUTHORIZED", 401),
        ("FORBIDDEN", 403),
        ("NOT_FOUND", 404),
        ("CONFLICT", 409),
        ("PAYLOAD_TOO_LARGE", 413),
        ("UNPROCESSABLE_ENTITY", 422),
        ("TOO_MANY_REQUESTS", 429),
        ("INTERNAL_SERVER_ERROR", 500),
        ("SERVICE_UNAVAILABLE", 503),
    ];
    let mut found = BTreeSet::new();
    for part in src.split("StatusCode::").skip(1) {
        let name: String = part
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || *c == '_')
            .collect();
        if name.is_empty() {
            continue; // `StatusCode::from_u16` replays a stored status.
        }
        let code = names.iter().find(|(n, _)| *n == name).unwrap_or_else(|| {
            panic!("StatusCode::{name} in {file}: add it here and to docs/openapi.json")
        });
        found.insert(code.1);
    }
    found
}

fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) if r.starts_with("#/") => doc.pointer(&r[1..]).expect("local $ref resolves"),
        _ => v,
    }
}

#[tokio::test]
async fn the_served_document_describes_the_submissions_api() {
    let doc = served().await;
    let ops = |path: &str| -> Vec<String> {
        doc["paths"][path]
            .as_object()
            .unwrap_or_else(|| panic!("{path} documented"))
            .keys()
            .cloned()
            .collect()
    };
    assert_eq!(ops("/v1/submissions"), ["get"]);
    assert_eq!(ops("/v1/submissions/{code}/ack"), ["post"]);
    assert_eq!(ops("/v1/portal/dossiers"), ["post"]);
    let mut documented = BTreeSet::new();
    for op in [
        &doc["paths"]["/v1/submissions"]["get"],
        &doc["paths"]["/v1/submissions/{code}/ack"]["post"],
        &doc["paths"]["/v1/portal/dossiers"]["post"],
    ] {
        for (code, resp) in op["responses"].as_object().expect("responses") {
            let code: u16 = code.parse().expect("numeric status");
            documented.insert(code);
            if code >= 400 {
                let resp = resolve(&doc, resp);
                let schema = resolve(&doc, &resp["content"]["application/json"]["schema"]);
                let required = schema["required"].as_array().expect("required");
                assert!(required.contains(&Value::from("error")), "{code}");
            }
        }
    }
    let in_source = statuses_in_portal();
    assert!(in_source.len() >= 7, "{in_source:?}");
    let missing: Vec<_> = in_source.difference(&documented).collect();
    assert!(missing.is_empty(), "undocumented statuses: {missing:?}");
    // The webhook: its signature headers and body.
    let hook = &doc["webhooks"]["portalSubmission"]["post"];
    let headers: Vec<&str> = hook["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(
        headers,
        [
            "X-Lienthong-Timestamp",
            "X-Lienthong-Signature",
            "X-Lienthong-Delivery"
        ]
    );
    let body = resolve(
        &doc,
        &hook["requestBody"]["content"]["application/json"]["schema"],
    );
    assert!(
        body["required"]
            .as_array()
            .expect("required")
            .contains(&Value::from("code"))
    );
}

#[tokio::test]
async fn the_served_document_describes_the_ingest_api() {
    let doc = served().await;
    let version = doc["openapi"].as_str().expect("openapi");
    assert!(version.starts_with("3.1."), "{version}");
    let dossiers = &doc["paths"]["/v1/dossiers"];
    let progress = &doc["paths"]["/v1/dossiers/{code}/progress"];
    for path in [dossiers, progress] {
        let ops: Vec<&String> = path.as_object().expect("path").keys().collect();
        assert_eq!(ops, ["post"], "only POST is routed");
    }
    // Every status the handlers can answer is documented on some operation (the NDJSON 200
    // on the batch form), with a JSON error body for every refusal.
    let mut documented = BTreeSet::new();
    for op in [&dossiers["post"], &progress["post"]] {
        for (code, resp) in op["responses"].as_object().expect("responses") {
            let code: u16 = code.parse().expect("numeric status");
            documented.insert(code);
            let resp = resolve(&doc, resp);
            if code >= 400 {
                let schema = resolve(&doc, &resp["content"]["application/json"]["schema"]);
                let required = schema["required"].as_array().expect("required");
                assert!(required.contains(&Value::from("error")), "{code}");
                assert!(required.contains(&Value::from("message")), "{code}");
            }
            if [429, 503].contains(&code) {
                assert!(resp["headers"]["Retry-After"].is_object(), "{code}");
            }
        }
        let params: Vec<&str> = op["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .filter_map(|p| resolve(&doc, p)["name"].as_str())
            .collect();
        assert!(params.contains(&"Idempotency-Key"), "{params:?}");
    }
    let in_source = statuses_in_ingest();
    assert!(in_source.len() >= 10, "{in_source:?}");
    let missing: Vec<_> = in_source.difference(&documented).collect();
    assert!(missing.is_empty(), "undocumented statuses: {missing:?}");
    // Findings, the NDJSON batch and its per-line answer, bearer auth.
    let finding = &doc["components"]["schemas"]["Finding"]["properties"];
    for k in ["severity", "path", "message", "expected", "found"] {
        assert!(finding[k].is_object(), "Finding.{k}");
    }
    assert!(dossiers["post"]["requestBody"]["content"]["application/x-ndjson"].is_object());
    let line = &doc["components"]["schemas"]["BatchLineAnswer"]["properties"];
    for k in ["line", "status", "code", "version", "result"] {
        assert!(line[k].is_object(), "BatchLineAnswer.{k}");
    }
    let results = &doc["components"]["schemas"]["Result"]["enum"];
    assert_eq!(
        results,
        &serde_json::json!(["accepted", "stale", "duplicate"])
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    // The provincial schemas are inlined in the served copy.
    assert_eq!(
        doc["components"]["schemas"]["ProvincialDossier"]["title"],
        "Provincial dossier v1"
    );
    // The request schemas accept the repository's examples.
    let dossier = resolve(
        &doc,
        &dossiers["post"]["requestBody"]["content"]["application/json"]["schema"],
    );
    let step = resolve(
        &doc,
        &progress["post"]["requestBody"]["content"]["application/json"]["schema"],
    );
    let mut checked = 0;
    for entry in std::fs::read_dir(root().join("docs/examples")).expect("examples") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("read"))
            .expect("example JSON");
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let schema = if name.starts_with("progress") {
            step
        } else {
            dossier
        };
        let mut errors = Vec::new();
        check(schema, schema, &v, "", &mut errors);
        assert!(errors.is_empty(), "{name}: {errors:#?}");
        checked += 1;
    }
    assert!(checked >= 7, "{checked} examples");
    // And the validator is not blind: a broken dossier is refused.
    let mut bad: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("docs/examples/dossier-birth-extract-online.json"))
            .expect("read"),
    )
    .expect("json");
    bad["colour"] = "red".into();
    bad["version"] = "one".into();
    bad["status"] = "done".into();
    let mut errors = Vec::new();
    check(dossier, dossier, &bad, "", &mut errors);
    assert_eq!(errors.len(), 3, "{errors:#?}");
}

/// A JSON-Schema check of the keywords the provincial schemas use: `$ref` (local to the
/// schema), `type`, `enum`, `const`, `required`, `properties`, `additionalProperties: false`,
/// `items`, `minLength`/`maxLength`, `minimum`/`maximum`, `minItems`, `if`/`then`/`else`,
/// `allOf`/`anyOf`/`oneOf`.
fn check(root: &Value, s: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let target = r
            .strip_prefix('#')
            .and_then(|p| root.pointer(p))
            .unwrap_or_else(|| panic!("unresolved $ref {r}"));
        check(root, target, v, at, errors);
    }
    if let Some(t) = s.get("type") {
        let types: Vec<&str> = match t {
            Value::String(x) => vec![x.as_str()],
            Value::Array(xs) => xs.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let ok = types.iter().any(|t| match *t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "null" => v.is_null(),
            _ => false,
        });
        if !ok {
            errors.push(format!("{at}: not of type {types:?}"));
            return;
        }
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array)
        && !e.contains(v)
    {
        errors.push(format!("{at}: not one of the enum"));
    }
    if let Some(c) = s.get("const")
        && c != v
    {
        errors.push(format!("{at}: not the const"));
    }
    if let Some(x) = v.as_str() {
        let n = x.chars().count() as u64;
        if s.get("minLength")
            .and_then(Value::as_u64)
            .is_some_and(|m| n < m)
        {
            errors.push(format!("{at}: too short"));
        }
        if s.get("maxLength")
            .and_then(Value::as_u64)
            .is_some_and(|m| n > m)
        {
            errors.push(format!("{at}: too long"));
        }
    }
    if let Some(x) = v.as_f64() {
        if s.get("minimum")
            .and_then(Value::as_f64)
            .is_some_and(|m| x < m)
        {
            errors.push(format!("{at}: below the minimum"));
        }
        if s.get("maximum")
            .and_then(Value::as_f64)
            .is_some_and(|m| x > m)
        {
            errors.push(format!("{at}: above the maximum"));
        }
    }
    if let Some(obj) = v.as_object() {
        for r in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(k) = r.as_str()
                && !obj.contains_key(k)
            {
                errors.push(format!("{at}/{k}: required"));
            }
        }
        let props = s.get("properties").and_then(Value::as_object);
        for (k, x) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(ps) => check(root, ps, x, &format!("{at}/{k}"), errors),
                None if s.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    errors.push(format!("{at}/{k}: not allowed"));
                }
                None => {}
            }
        }
    }
    if let Some(arr) = v.as_array() {
        if s.get("minItems")
            .and_then(Value::as_u64)
            .is_some_and(|m| (arr.len() as u64) < m)
        {
            errors.push(format!("{at}: too few items"));
        }
        if let Some(items) = s.get("items") {
            for (i, x) in arr.iter().enumerate() {
                check(root, items, x, &format!("{at}/{i}"), errors);
            }
        }
    }
    if let Some(cond) = s.get("if") {
        let mut e = Vec::new();
        check(root, cond, v, at, &mut e);
        let branch = if e.is_empty() {
            s.get("then")
        } else {
            s.get("else")
        };
        if let Some(b) = branch {
            check(root, b, v, at, errors);
        }
    }
    for all in s
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        check(root, all, v, at, errors);
    }
    for (key, need_one) in [("anyOf", false), ("oneOf", true)] {
        if let Some(alts) = s.get(key).and_then(Value::as_array) {
            let passing = alts
                .iter()
                .filter(|a| {
                    let mut e = Vec::new();
                    check(root, a, v, at, &mut e);
                    e.is_empty()
                })
                .count();
            if passing == 0 || (need_one && passing > 1) {
                errors.push(format!("{at}: {key} not satisfied ({passing} passing)"));
            }
        }
    }
}

#[tokio::test]
async fn the_served_document_describes_the_document_api() {
    let doc = served().await;
    let ops = [
        ("/v1/edocs", "post"),
        ("/v1/edocs/{id}", "get"),
        ("/v1/edocs/{id}/status", "post"),
        ("/v1/edocs/inbox", "get"),
        ("/v1/edocs/inbox/{id}/ack", "post"),
    ];
    let mut documented = BTreeSet::new();
    for (path, method) in ops {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} documented");
        for (code, resp) in op["responses"].as_object().expect("responses") {
            let code: u16 = code.parse().expect("numeric status");
            documented.insert(code);
            if code >= 400 {
                let resp = resolve(&doc, resp);
                let schema = resolve(&doc, &resp["content"]["application/json"]["schema"]);
                let required = schema["required"].as_array().expect("required");
                assert!(required.contains(&Value::from("error")), "{path} {code}");
            }
        }
    }
    let src = std::fs::read_to_string(root().join("crates/service/src/edocs/api.rs")).expect("src");
    let in_source = statuses_in(&src, "edocs/api.rs");
    assert!(in_source.len() >= 8, "{in_source:?}");
    let missing: Vec<_> = in_source.difference(&documented).collect();
    assert!(missing.is_empty(), "undocumented statuses: {missing:?}");
    let new = resolve(
        &doc,
        &doc["paths"]["/v1/edocs"]["post"]["requestBody"]["content"]["application/json"]["schema"],
    );
    for field in [
        "to",
        "code_number",
        "subject",
        "attachments",
        "dossier_code",
    ] {
        assert!(new["properties"][field].is_object(), "{field}");
    }
}
