//! The documentation of the provincial format stays true to the code.
//!
//! * Every example in `docs/examples/` reads without findings, validates, is written back
//!   exactly as it is (canonical key order) and survives write → read.
//! * `docs/examples/dossiers.ndjson` repeats the single dossier examples, one per line.
//! * The JSON Schemas in `docs/schema/` agree with the reader and the model, checked without
//!   a JSON-Schema library: declared properties, `required` lists, JSON types and `enum`s.
//! * Typical breakages are reported at the JSON Pointer paths the guide promises.

use lienthong_model::{
    Applicant, ApplicantCategory, Channel, Dossier, DossierStatus, Fee, Finding, Handler,
    IdentityDocument, IdentityKind, OnlinePayment, OtherAttachment, Procedure, ProgressStep,
    ResultDelivery, ResultDocument, SubmittedDocument, SupplementRequest, Unit,
};
use lienthong_provincial::Kind;
use lienthong_provincial::read::{read_dossier, read_progress};
use lienthong_provincial::validate::{validate_dossier, validate_progress};
use lienthong_provincial::write::{
    dossier_json, dossier_json_pretty, progress_json, progress_json_pretty,
};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn docs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs")
}

fn read_text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn parse(text: &str, what: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{what}: not JSON: {e}"))
}

/// One `docs/examples/*.json` file.
struct Example {
    name: String,
    text: String,
    value: Value,
}

/// Every `docs/examples/*.json`, sorted by file name.
fn examples() -> Vec<Example> {
    let dir = docs_dir().join("examples");
    let mut out: Vec<Example> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let text = read_text(&p);
            let value = parse(&text, &name);
            Example { name, text, value }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(!out.is_empty(), "no examples in {}", dir.display());
    out
}

fn schema(name: &str) -> Value {
    let path = docs_dir().join("schema").join(name);
    parse(&read_text(&path), name)
}

fn dossier_schema() -> Value {
    schema("provincial-dossier.v1.schema.json")
}

fn progress_schema() -> Value {
    schema("provincial-progress.v1.schema.json")
}

fn read_d(v: &Value) -> (Option<Dossier>, Vec<Finding>) {
    let mut f = Vec::new();
    let d = read_dossier(v, &mut f);
    (d, f)
}

fn read_p(v: &Value) -> (Option<ProgressStep>, Vec<Finding>) {
    let mut f = Vec::new();
    let p = read_progress(v, &mut f);
    (p, f)
}

fn errors(f: &[Finding]) -> Vec<&Finding> {
    f.iter().filter(|x| x.is_error()).collect()
}

// ---------------------------------------------------------------------------------------
// (a) examples
// ---------------------------------------------------------------------------------------

#[test]
fn examples_read_without_findings_validate_and_are_canonical() {
    let mut dossiers = Vec::new();
    let mut steps = Vec::new();
    for ex in examples() {
        let name = &ex.name;
        match Kind::detect(&ex.value) {
            Kind::Dossier => {
                assert!(name.starts_with("dossier-"), "{name}: a dossier example");
                let (d, f) = read_d(&ex.value);
                assert!(f.is_empty(), "{name}: reading found {f:#?}");
                let d = d.expect("an object");
                let v = validate_dossier(&d);
                assert!(errors(&v).is_empty(), "{name}: validation errors {v:#?}");
                assert!(
                    v.is_empty(),
                    "{name}: examples should be clean, found {v:#?}"
                );
                // The file is the canonical output: keys in the writer's order, 2-space indent.
                assert_eq!(
                    ex.text.trim_end(),
                    dossier_json_pretty(&d),
                    "{name}: not canonical"
                );
                // write → read is the identity.
                let (back, f) = read_d(&parse(&dossier_json(&d), name));
                assert!(f.is_empty(), "{name}: rereading found {f:#?}");
                assert_eq!(
                    back.as_ref(),
                    Some(&d),
                    "{name}: write → read changed the dossier"
                );
                dossiers.push(d);
            }
            Kind::Progress => {
                assert!(name.starts_with("progress-"), "{name}: a progress example");
                let (p, f) = read_p(&ex.value);
                assert!(f.is_empty(), "{name}: reading found {f:#?}");
                let p = p.expect("an object");
                let v = validate_progress(&p);
                assert!(errors(&v).is_empty(), "{name}: validation errors {v:#?}");
                assert!(
                    v.is_empty(),
                    "{name}: examples should be clean, found {v:#?}"
                );
                assert_eq!(
                    ex.text.trim_end(),
                    progress_json_pretty(&p),
                    "{name}: not canonical"
                );
                let (back, f) = read_p(&parse(&progress_json(&p), name));
                assert!(f.is_empty(), "{name}: rereading found {f:#?}");
                assert_eq!(
                    back.as_ref(),
                    Some(&p),
                    "{name}: write → read changed the step"
                );
                steps.push(p);
            }
        }
    }

    // What the guide promises the examples show.
    assert!(dossiers.len() >= 4, "at least four dossier examples");
    let procedures: BTreeSet<&str> = dossiers.iter().map(|d| d.procedure.code.as_str()).collect();
    let units: BTreeSet<_> = dossiers.iter().map(|d| d.unit.code.clone()).collect();
    assert_eq!(
        procedures.len(),
        dossiers.len(),
        "one procedure per example"
    );
    assert_eq!(units.len(), dossiers.len(), "one unit per example");
    for channel in Channel::ALL {
        assert!(
            dossiers.iter().any(|d| d.channel == Some(*channel)),
            "{channel:?}"
        );
    }
    let has = |pred: &dyn Fn(&Dossier) -> bool| dossiers.iter().any(pred);
    assert!(has(&|d| d.status == Some(DossierStatus::Returned)
        && d.finished_at.zip(d.due_at).is_some_and(|(f, due)| f <= due)
        && d.applicant.portal_account.is_some()
        && d.applicant.vneid_verified == Some(true)
        && d.online_payment == Some(OnlinePayment::DvcqgPlatform)
        && !d.result_documents.is_empty()));
    assert!(has(&|d| d.channel == Some(Channel::InPerson)
        && d.finished_at.zip(d.due_at).is_some_and(|(f, due)| f > due)
        && !d.supplement_requests.is_empty()));
    assert!(has(&|d| d.channel == Some(Channel::Postal)
        && d.applicant.category == Some(ApplicantCategory::Enterprise)
        && d.applicant.identity_documents.is_empty()));
    assert!(has(
        &|d| d.status == Some(DossierStatus::NotAccepted) && d.refused_at.is_some()
    ));

    // The steps belong to one example dossier and count 1, 2, 3, … in time order.
    assert!(steps.len() >= 3, "at least three progress steps");
    steps.sort_by_key(|p| p.step_seq);
    let code = &steps[0].dossier_code;
    assert!(
        dossiers.iter().any(|d| &d.code == code),
        "steps of an example dossier"
    );
    for (i, p) in steps.iter().enumerate() {
        assert_eq!(&p.dossier_code, code, "all steps of one dossier");
        assert_eq!(p.step_seq, i as u64 + 1, "step_seq 1, 2, 3, …");
    }
    for w in steps.windows(2) {
        assert!(w[0].at <= w[1].at, "steps in time order");
    }
}

// ---------------------------------------------------------------------------------------
// (b) NDJSON
// ---------------------------------------------------------------------------------------

#[test]
fn ndjson_repeats_the_single_dossier_examples() {
    let path = docs_dir().join("examples/dossiers.ndjson");
    let text = read_text(&path);
    assert!(text.ends_with('\n'), "dossiers.ndjson ends with a newline");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.iter().all(|l| !l.trim().is_empty()), "no blank lines");
    let singles: Vec<Example> = examples()
        .into_iter()
        .filter(|e| Kind::detect(&e.value) == Kind::Dossier)
        .collect();
    assert_eq!(lines.len(), singles.len(), "one line per dossier example");
    for (n, (line, single)) in lines.iter().zip(&singles).enumerate() {
        let v = parse(line, &format!("dossiers.ndjson line {}", n + 1));
        assert_eq!(v, single.value, "line {} is not {}", n + 1, single.name);
        // Each line is the canonical one-line form.
        let (d, f) = read_d(&v);
        assert!(f.is_empty(), "line {}: {f:#?}", n + 1);
        assert_eq!(
            *line,
            dossier_json(&d.expect("an object")),
            "line {}",
            n + 1
        );
    }
}

// ---------------------------------------------------------------------------------------
// (c) schemas ↔ reader and model
// ---------------------------------------------------------------------------------------

/// The schema node that describes a value: `node`, or what its local `$ref` points to.
fn target<'a>(root: &'a Value, node: &'a Value) -> &'a Value {
    match node.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let pointer = r
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("only local references: {r}"));
            root.pointer(pointer)
                .unwrap_or_else(|| panic!("dangling reference {r}"))
        }
        None => node,
    }
}

/// Calls `visit(schema pointer, node)` for the root, every property schema and every
/// array `items` schema, recursively.
fn walk<'a>(root: &'a Value, node: &'a Value, at: &str, visit: &mut dyn FnMut(&str, &'a Value)) {
    visit(at, node);
    let t = target(root, node);
    if let Some(props) = t.get("properties").and_then(Value::as_object) {
        for (k, sub) in props {
            walk(root, sub, &format!("{at}/properties/{k}"), visit);
        }
    }
    if let Some(items) = t.get("items") {
        walk(root, items, &format!("{at}/items"), visit);
    }
}

fn json_type(root: &Value, node: &Value) -> String {
    target(root, node)
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("schema node without a type: {node}"))
        .to_owned()
}

#[test]
fn schemas_are_well_formed() {
    for (name, s) in [
        ("dossier", dossier_schema()),
        ("progress", progress_schema()),
    ] {
        assert_eq!(
            s["$schema"], "https://json-schema.org/draft/2020-12/schema",
            "{name}: draft 2020-12"
        );
        let id = s["$id"].as_str().unwrap_or_default();
        assert!(
            id.starts_with("https://lienthong.example/schema/provincial-")
                && id.ends_with(".v1.schema.json"),
            "{name}: $id {id}"
        );
        let mut problems = Vec::new();
        walk(&s, &s, "", &mut |at, node| {
            let t = target(&s, node);
            if node
                .get("description")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                problems.push(format!("{at}: no description"));
            }
            if t.get("type").and_then(Value::as_str) == Some("object") {
                if t.get("additionalProperties") != Some(&Value::Bool(false)) {
                    problems.push(format!("{at}: additionalProperties is not false"));
                }
                if t.get("properties").and_then(Value::as_object).is_none() {
                    problems.push(format!("{at}: object without properties"));
                }
            }
            if t.get("format").and_then(Value::as_str) == Some("date-time") {
                let pattern = t.get("pattern").and_then(Value::as_str).unwrap_or_default();
                if !pattern.contains("Z|[+-][0-9]{2}:[0-9]{2}") {
                    problems.push(format!("{at}: time pattern does not demand an offset"));
                }
            }
            if t.get("type").and_then(Value::as_str) == Some("integer")
                && t.get("minimum") != Some(&json!(0))
            {
                problems.push(format!("{at}: integer without minimum 0"));
            }
        });
        assert!(problems.is_empty(), "{name}: {problems:#?}");
    }
}

/// Every key of `value` is declared at its place in the schema.
fn undeclared(root: &Value, node: &Value, value: &Value, path: &str, out: &mut Vec<String>) {
    let s = target(root, node);
    match value {
        Value::Object(m) => {
            let props = s.get("properties").and_then(Value::as_object);
            for (k, v) in m {
                match props.and_then(|p| p.get(k)) {
                    Some(sub) => undeclared(root, sub, v, &format!("{path}/{k}"), out),
                    None => out.push(format!("{path}/{k}")),
                }
            }
        }
        Value::Array(items) => {
            let Some(item_schema) = s.get("items") else {
                out.push(format!("{path}: array not declared as one"));
                return;
            };
            for (i, v) in items.iter().enumerate() {
                undeclared(root, item_schema, v, &format!("{path}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// Every property the schema declares is present in `value` (for the full documents).
fn not_covered(root: &Value, node: &Value, value: &Value, path: &str, out: &mut Vec<String>) {
    let s = target(root, node);
    if let Some(props) = s.get("properties").and_then(Value::as_object) {
        for (k, sub) in props {
            match value.get(k) {
                Some(v) => not_covered(root, sub, v, &format!("{path}/{k}"), out),
                None => out.push(format!("{path}/{k}")),
            }
        }
    } else if let Some(items) = s.get("items") {
        match value.as_array().and_then(|a| a.first()) {
            Some(first) => not_covered(root, items, first, &format!("{path}/0"), out),
            None => out.push(format!("{path}/0")),
        }
    }
}

#[test]
fn every_key_of_every_example_is_declared_in_the_schema() {
    let (ds, ps) = (dossier_schema(), progress_schema());
    for ex in examples() {
        let s = match Kind::detect(&ex.value) {
            Kind::Dossier => &ds,
            Kind::Progress => &ps,
        };
        let mut out = Vec::new();
        undeclared(s, s, &ex.value, "", &mut out);
        assert!(out.is_empty(), "{}: not in the schema: {out:?}", ex.name);
    }
}

/// A dossier with every field the reader knows, every list with one item.
fn full_dossier() -> Value {
    json!({
        "code": "000.00.12.H41-250314-0007",
        "version": 3,
        "unit": {"code": "000.00.12.H41", "name": "Sở Tư pháp tỉnh Nghệ An"},
        "procedure": {
            "code": "1.001193.000.00.00.H41",
            "name": "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam",
            "field_code": "G12-LL01",
            "field_name": "Lý lịch tư pháp"
        },
        "channel": "online",
        "applicant": {
            "name": "Hoàng Thị Mai",
            "category": "citizen",
            "identity_documents": [{"kind": "citizen_id", "number": "040195004821"}],
            "portal_account": "techid-7730152846",
            "vneid_verified": true,
            "email": "hoangmai@example.vn",
            "phone": "0936102847",
            "fax": "02383591204",
            "address": "Số 14 đường Nguyễn Du, phường Bến Thủy, TP Vinh, tỉnh Nghệ An"
        },
        "summary": "Đề nghị cấp Phiếu lý lịch tư pháp số 1",
        "other_info": "Nhận kết quả bản điện tử",
        "note": "Hồ sơ đúng hạn",
        "status": "returned",
        "submitted_at": "2025-03-14T08:30:00+07:00",
        "received_at": "2025-03-14T09:15:02+07:00",
        "due_at": "2025-03-28T17:00:00+07:00",
        "finished_at": "2025-03-26T10:00:00+07:00",
        "returned_at": "2025-03-26T15:00:00+07:00",
        "refused_at": "2025-03-14T10:00:00+07:00",
        "result_delivery": "by_post",
        "return_info": "Đã trả Phiếu lý lịch tư pháp số 1",
        "digitised": true,
        "online_payment": "own_gateway",
        "submitted_documents": [{
            "id": "tl1",
            "name": "Tờ khai yêu cầu cấp Phiếu lý lịch tư pháp",
            "component_code": "TPHS01",
            "url": "https://motcua.nghean.example.vn/files/tl1",
            "deleted": true,
            "digitised": true,
            "reused": true,
            "from_citizen_store": true,
            "replaces_result_code": "KQ-0001"
        }],
        "fees": [{
            "code": "LP-1.001193",
            "name": "Phí cấp Phiếu lý lịch tư pháp",
            "amount": 200000,
            "collection_method": "Trực tuyến",
            "kind": "Phí"
        }],
        "other_attachments": [{"name": "Giấy ủy quyền", "quantity": 1, "kind": "Bản chính"}],
        "supplement_requests": [{
            "id": "bs1",
            "requested_by": "Trần Văn Lâm",
            "content": "Bổ sung bản chụp giấy tờ tùy thân",
            "requested_at": "2025-03-17T10:00:00+07:00",
            "received_by": "Nguyễn Thị Hồng",
            "receipt_info": "Đã nhận",
            "received_at": "2025-03-18T09:00:00+07:00",
            "status": "Đã bổ sung",
            "previous_due_at": "2025-03-26T17:00:00+07:00",
            "new_due_at": "2025-03-28T17:00:00+07:00"
        }],
        "result_documents": [{
            "id": "kq1",
            "name": "Phiếu lý lịch tư pháp số 1",
            "component_code": "KQ01",
            "url": "https://motcua.nghean.example.vn/ketqua/kq1",
            "result_code": "KQ-0002"
        }],
        "consulted_databases": ["7"],
        "submission_place": "2"
    })
}

/// A progress step with every field the reader knows.
fn full_progress() -> Value {
    json!({
        "dossier_code": "000.00.12.H41-250314-0007",
        "step_seq": 1,
        "handler": {"name": "Nguyễn Thị Hồng", "title": "Chuyên viên", "department": "Bộ phận Một cửa"},
        "at": "2025-03-14T09:15:02+07:00",
        "action": "Tiếp nhận hồ sơ",
        "status": "accepted",
        "started_at": "2025-03-14T08:30:00+07:00",
        "deadline_at": "2025-03-14T17:00:00+07:00"
    })
}

/// The full documents set every field of the model: the destructuring below names every
/// field, so a field added to the model breaks this test until the documents, the schemas
/// and the guide know it.
#[test]
fn full_documents_set_every_field_of_the_model() {
    let (d, f) = read_d(&full_dossier());
    assert!(f.is_empty(), "{f:#?}");
    let Dossier {
        code,
        version: _,
        unit: Unit {
            code: unit_code,
            name: unit_name,
        },
        procedure:
            Procedure {
                code: procedure_code,
                name,
                field_code,
                field_name,
            },
        channel,
        applicant:
            Applicant {
                name: applicant_name,
                category,
                identity_documents,
                portal_account,
                vneid_verified,
                email,
                phone,
                fax,
                address,
            },
        summary,
        other_info,
        note,
        status,
        submitted_at,
        received_at,
        due_at,
        finished_at,
        returned_at,
        refused_at,
        result_delivery,
        return_info,
        digitised,
        online_payment,
        submitted_documents,
        fees,
        other_attachments,
        supplement_requests,
        result_documents,
        consulted_databases,
        submission_place,
    } = d.expect("an object");
    assert!(!code.is_empty() && !procedure_code.is_empty());
    let strings = [
        unit_code,
        unit_name,
        name,
        field_code,
        field_name,
        applicant_name,
        portal_account,
        email,
        phone,
        fax,
        address,
        summary,
        other_info,
        note,
        return_info,
        submission_place,
    ];
    assert!(strings.iter().all(Option::is_some), "{strings:?}");
    let times = [
        submitted_at,
        received_at,
        due_at,
        finished_at,
        returned_at,
        refused_at,
    ];
    assert!(times.iter().all(Option::is_some), "{times:?}");
    assert!(channel.is_some() && category.is_some() && status.is_some());
    assert!(result_delivery.is_some() && online_payment.is_some());
    assert!(vneid_verified.is_some() && digitised.is_some());
    assert!(!consulted_databases.is_empty());
    let [IdentityDocument { kind: _, number }] = identity_documents.as_slice() else {
        panic!("one identity document");
    };
    assert!(!number.is_empty());
    let [
        SubmittedDocument {
            id,
            name,
            component_code,
            url,
            deleted,
            digitised,
            reused,
            from_citizen_store,
            replaces_result_code,
        },
    ] = submitted_documents.as_slice()
    else {
        panic!("one submitted document");
    };
    assert!(!name.is_empty() && *deleted);
    assert!(
        [id, component_code, url, replaces_result_code]
            .iter()
            .all(|x| x.is_some())
    );
    assert!(
        [digitised, reused, from_citizen_store]
            .iter()
            .all(|x| x.is_some())
    );
    let [
        Fee {
            code,
            name,
            amount,
            collection_method,
            kind,
        },
    ] = fees.as_slice()
    else {
        panic!("one fee");
    };
    assert!(!name.is_empty() && *amount > 0);
    assert!([code, collection_method, kind].iter().all(|x| x.is_some()));
    let [
        OtherAttachment {
            name,
            quantity,
            kind,
        },
    ] = other_attachments.as_slice()
    else {
        panic!("one other attachment");
    };
    assert!(!name.is_empty() && quantity.is_some() && kind.is_some());
    let [
        SupplementRequest {
            id,
            requested_by,
            content,
            requested_at,
            received_by,
            receipt_info,
            received_at,
            status,
            previous_due_at,
            new_due_at,
        },
    ] = supplement_requests.as_slice()
    else {
        panic!("one supplement request");
    };
    assert!(!content.is_empty());
    assert!(
        [id, requested_by, received_by, receipt_info, status]
            .iter()
            .all(|x| x.is_some())
    );
    assert!(
        [requested_at, received_at, previous_due_at, new_due_at]
            .iter()
            .all(|x| x.is_some())
    );
    let [
        ResultDocument {
            id,
            name,
            component_code,
            url,
            result_code,
        },
    ] = result_documents.as_slice()
    else {
        panic!("one result document");
    };
    assert!(!name.is_empty());
    assert!(
        [id, component_code, url, result_code]
            .iter()
            .all(|x| x.is_some())
    );

    let (p, f) = read_p(&full_progress());
    assert!(f.is_empty(), "{f:#?}");
    let ProgressStep {
        dossier_code,
        step_seq: _,
        handler: Handler {
            name,
            title,
            department,
        },
        at,
        action,
        status,
        started_at,
        deadline_at,
    } = p.expect("an object");
    assert!(!dossier_code.is_empty() && !name.is_empty() && !action.is_empty());
    assert!(title.is_some() && department.is_some() && status.is_some());
    assert!(at.is_some() && started_at.is_some() && deadline_at.is_some());
}

/// The full documents, the writer and the schemas declare the same fields.
#[test]
fn schemas_declare_exactly_the_fields_of_the_reader_and_writer() {
    fn rewrite_dossier(v: &Value) -> String {
        dossier_json(&read_d(v).0.expect("an object"))
    }
    fn rewrite_progress(v: &Value) -> String {
        progress_json(&read_p(v).0.expect("an object"))
    }
    type Rewrite = fn(&Value) -> String;
    for (name, s, full, rewrite) in [
        (
            "dossier",
            dossier_schema(),
            full_dossier(),
            rewrite_dossier as Rewrite,
        ),
        (
            "progress",
            progress_schema(),
            full_progress(),
            rewrite_progress as Rewrite,
        ),
    ] {
        // The writer writes every field of the full document back.
        assert_eq!(
            parse(&rewrite(&full), name),
            full,
            "{name}: the writer drops a field"
        );
        let mut out = Vec::new();
        undeclared(&s, &s, &full, "", &mut out);
        assert!(out.is_empty(), "{name}: read but not declared: {out:?}");
        let mut out = Vec::new();
        not_covered(&s, &s, &full, "", &mut out);
        assert!(out.is_empty(), "{name}: declared but not read: {out:?}");
    }
}

/// Every object's `required` list, by schema pointer, as `read.rs` requires.
fn required_by_reader(kind: Kind) -> BTreeMap<String, Vec<&'static str>> {
    let list: Vec<(&str, Vec<&str>)> = match kind {
        Kind::Dossier => vec![
            (
                "",
                vec![
                    "code",
                    "version",
                    "unit",
                    "procedure",
                    "applicant",
                    "status",
                ],
            ),
            ("/properties/unit", vec!["code"]),
            ("/properties/procedure", vec!["code"]),
            ("/properties/applicant", vec!["name"]),
            (
                "/properties/applicant/properties/identity_documents/items",
                vec!["kind", "number"],
            ),
            ("/properties/submitted_documents/items", vec!["name"]),
            ("/properties/fees/items", vec!["name", "amount"]),
            ("/properties/other_attachments/items", vec!["name"]),
            ("/properties/supplement_requests/items", vec!["content"]),
            ("/properties/result_documents/items", vec!["name"]),
        ],
        Kind::Progress => vec![
            (
                "",
                vec![
                    "dossier_code",
                    "step_seq",
                    "handler",
                    "at",
                    "action",
                    "status",
                ],
            ),
            ("/properties/handler", vec!["name"]),
        ],
    };
    list.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

#[test]
fn schema_required_lists_are_the_readers() {
    for (kind, s) in [
        (Kind::Dossier, dossier_schema()),
        (Kind::Progress, progress_schema()),
    ] {
        let mut found: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        walk(&s, &s, "", &mut |at, node| {
            if let Some(req) = target(&s, node).get("required").and_then(Value::as_array) {
                let names = req.iter().map(|r| r.as_str().expect("a name")).collect();
                found.insert(at.to_owned(), names);
            }
        });
        assert_eq!(found, required_by_reader(kind), "{kind:?}");
    }
}

/// Each property declared in the schema, as (JSON Pointer in the full document, schema
/// node, required?).
fn declared_paths<'a>(root: &'a Value, full: &Value) -> Vec<(String, &'a Value, bool)> {
    fn go<'a>(
        root: &'a Value,
        node: &'a Value,
        value: &Value,
        path: &str,
        out: &mut Vec<(String, &'a Value, bool)>,
    ) {
        let s = target(root, node);
        if let Some(props) = s.get("properties").and_then(Value::as_object) {
            let required: Vec<&str> = s
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            for (k, sub) in props {
                let p = format!("{path}/{k}");
                out.push((p.clone(), sub, required.contains(&k.as_str())));
                if let Some(v) = value.get(k) {
                    go(root, sub, v, &p, out);
                }
            }
        } else if let (Some(items), Some(first)) =
            (s.get("items"), value.as_array().and_then(|a| a.first()))
            && target(root, items).get("properties").is_some()
        {
            go(root, items, first, &format!("{path}/0"), out);
        }
    }
    let mut out = Vec::new();
    go(root, root, full, "", &mut out);
    out
}

fn findings_of(kind: Kind, v: &Value) -> Vec<Finding> {
    match kind {
        Kind::Dossier => read_d(v).1,
        Kind::Progress => read_p(v).1,
    }
}

/// Removes the value at a JSON Pointer from its parent object.
fn remove_at(v: &mut Value, pointer: &str) {
    let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
    v.pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .expect("an object")
        .remove(key);
}

/// Required in the schema ⇔ "required field missing" from the reader; each declared JSON
/// type is the one the reader accepts (a value of another type is an error at its path).
#[test]
fn schema_required_and_types_match_the_reader() {
    for (kind, s, full) in [
        (Kind::Dossier, dossier_schema(), full_dossier()),
        (Kind::Progress, progress_schema(), full_progress()),
    ] {
        for (path, node, required) in declared_paths(&s, &full) {
            let mut v = full.clone();
            remove_at(&mut v, &path);
            let f = findings_of(kind, &v);
            if required {
                assert!(
                    f.iter().any(|x| x.is_error()
                        && x.path == path
                        && x.message == "required field missing"),
                    "{kind:?} {path}: required in the schema, the reader says {f:#?}"
                );
            } else {
                assert!(
                    f.is_empty(),
                    "{kind:?} {path}: optional in the schema, the reader says {f:#?}"
                );
            }

            let wrong = match json_type(&s, node).as_str() {
                "string" => json!(7),
                "integer" => json!("7"),
                "boolean" => json!("true"),
                "array" | "object" => json!("x"),
                other => panic!("{path}: unexpected type {other}"),
            };
            let mut v = full.clone();
            *v.pointer_mut(&path).expect("present in the full document") = wrong;
            let f = findings_of(kind, &v);
            assert!(
                f.iter().any(|x| x.is_error() && x.path == path),
                "{kind:?} {path}: a value of another type is not refused: {f:#?}"
            );
        }
    }
}

#[test]
fn schema_enums_are_the_model_names() {
    fn names<T: Copy>(all: &[T], name: fn(T) -> &'static str) -> Vec<String> {
        all.iter().map(|x| name(*x).to_owned()).collect()
    }
    let status = names(DossierStatus::ALL, DossierStatus::name);
    let expected_dossier: BTreeMap<&str, Vec<String>> = BTreeMap::from([
        ("/properties/channel", names(Channel::ALL, Channel::name)),
        (
            "/properties/applicant/properties/category",
            names(ApplicantCategory::ALL, ApplicantCategory::name),
        ),
        (
            "/properties/applicant/properties/identity_documents/items/properties/kind",
            names(IdentityKind::ALL, IdentityKind::name),
        ),
        ("/properties/status", status.clone()),
        (
            "/properties/result_delivery",
            names(ResultDelivery::ALL, ResultDelivery::name),
        ),
        (
            "/properties/online_payment",
            names(OnlinePayment::ALL, OnlinePayment::name),
        ),
    ]);
    let expected_progress = BTreeMap::from([("/properties/status", status)]);

    /// Every `enum` anywhere in the document, by JSON Pointer of the node that holds it.
    fn enums(v: &Value, at: &str, out: &mut BTreeMap<String, Vec<String>>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::Array(values)) = m.get("enum") {
                    let values = values
                        .iter()
                        .map(|x| x.as_str().expect("a name").to_owned());
                    out.insert(at.to_owned(), values.collect());
                }
                for (k, sub) in m {
                    enums(sub, &format!("{at}/{k}"), out);
                }
            }
            Value::Array(items) => {
                for (i, sub) in items.iter().enumerate() {
                    enums(sub, &format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
    }
    for (s, expected) in [
        (dossier_schema(), expected_dossier),
        (progress_schema(), expected_progress),
    ] {
        let mut found = BTreeMap::new();
        enums(&s, "", &mut found);
        let expected: BTreeMap<String, Vec<String>> = expected
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        assert_eq!(found, expected);
    }
}

// ---------------------------------------------------------------------------------------
// (d) one breakage at a time, reported where the guide says
// ---------------------------------------------------------------------------------------

fn base_example() -> Value {
    let path = docs_dir().join("examples/dossier-birth-extract-online.json");
    parse(&read_text(&path), "dossier-birth-extract-online.json")
}

/// Reading and validating, as `lienthong validate` does before mapping.
fn check(v: &Value) -> Vec<Finding> {
    let (d, mut f) = read_d(v);
    if let Some(d) = d {
        f.extend(validate_dossier(&d));
    }
    f
}

fn set(v: &mut Value, pointer: &str, value: Value) {
    *v.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("{pointer} in the example")) = value;
}

#[test]
fn each_breakage_is_an_error_at_its_path() {
    type Break = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Break, &str)> = vec![
        ("remove code", Box::new(|v| remove_at(v, "/code")), "/code"),
        (
            "version as a string",
            Box::new(|v| set(v, "/version", json!("3"))),
            "/version",
        ),
        (
            "unknown status",
            Box::new(|v| set(v, "/status", json!("done"))),
            "/status",
        ),
        (
            "time without T and offset",
            Box::new(|v| set(v, "/received_at", json!("2025-03-14 09:15"))),
            "/received_at",
        ),
        (
            "short citizen id",
            Box::new(|v| set(v, "/applicant/identity_documents/0/number", json!("12345"))),
            "/applicant/identity_documents/0/number",
        ),
        (
            "unknown field",
            Box::new(|v| {
                v.as_object_mut()
                    .expect("an object")
                    .insert("colour".into(), json!("red"));
            }),
            "/colour",
        ),
        (
            "negative amount",
            Box::new(|v| set(v, "/fees/0/amount", json!(-5))),
            "/fees/0/amount",
        ),
        (
            "due before reception",
            Box::new(|v| set(v, "/due_at", json!("2025-03-13T17:00:00+07:00"))),
            "/due_at",
        ),
    ];
    let base = base_example();
    assert!(check(&base).is_empty(), "the base example is clean");
    for (what, breakage, path) in cases {
        let mut v = base.clone();
        breakage(&mut v);
        let f = check(&v);
        let error_paths: BTreeSet<&str> = f
            .iter()
            .filter(|x| x.is_error())
            .map(|x| x.path.as_str())
            .collect();
        assert_eq!(error_paths, BTreeSet::from([path]), "{what}: {f:#?}");
    }
}

/// The findings quoted in `docs/provincial-format.md`, word for word; none of them shows
/// the identity number.
#[test]
fn findings_quoted_in_the_guide() {
    let guide = read_text(&docs_dir().join("provincial-format.md"));
    let quote = |v: &Value| -> Vec<String> { check(v).iter().map(ToString::to_string).collect() };

    let mut v = base_example();
    set(
        &mut v,
        "/applicant/identity_documents/0/number",
        json!("04018901234"),
    );
    let f = quote(&v);
    assert_eq!(
        f,
        [
            "error: /applicant/identity_documents/0/number: not a valid citizen_id number (expected 12 digits, found 11 characters)"
        ]
    );
    assert!(!f[0].contains("04018901234"));

    let mut v = base_example();
    set(&mut v, "/received_at", json!("2025-03-14 09:15"));
    set(&mut v, "/status", json!("done"));
    v.as_object_mut()
        .expect("an object")
        .insert("colour".into(), json!("red"));
    let f = quote(&v);
    assert_eq!(
        f,
        [
            "error: /status: unknown value (expected one of registered, accepted, not_accepted, processing, supplement_requested, financial_obligation, withdrawn, stopped, finished, returned, found \"done\")",
            "error: /received_at: not a valid time (expected RFC 3339 with offset, e.g. 2025-03-14T09:15:02+07:00, found \"2025-03-14 09:15\")",
            "error: /colour: unknown field",
        ]
    );

    let mut v = base_example();
    set(&mut v, "/due_at", json!("2025-03-13T17:00:00+07:00"));
    set(&mut v, "/code", json!("HS-2025-0007"));
    let f = quote(&v);
    assert_eq!(
        f,
        [
            "warning: /code: dossier code is not in the form {unit code}-{yyMMdd}-{NNNN} (expected e.g. 000.00.12.H41-250314-0007, found HS-2025-0007)",
            "error: /due_at: due_at is before received_at (expected a time not before received_at (2025-03-14T09:15:02+07:00), found 2025-03-13T17:00:00+07:00)",
        ]
    );

    let mut v = base_example();
    remove_at(&mut v, "/returned_at");
    let f = quote(&v);
    assert_eq!(
        f,
        ["error: /returned_at: status returned needs returned_at (expected an RFC 3339 time)"]
    );

    for line in [
        "error: /applicant/identity_documents/0/number: not a valid citizen_id number (expected 12 digits, found 11 characters)",
        "error: /colour: unknown field",
        "error: /returned_at: status returned needs returned_at (expected an RFC 3339 time)",
    ] {
        assert!(guide.contains(line), "the guide quotes: {line}");
    }
}
