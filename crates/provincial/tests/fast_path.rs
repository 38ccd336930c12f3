//! The fast reader and the strict reader agree: whenever the fast path accepts a document
//! the strict reader reads the same dossier without a finding, and whenever the strict
//! reader finds nothing the fast path accepts. Checked over generated dossiers and
//! thousands of random single-field mutations of them.

use lienthong_provincial::fast::read_dossier_fast;
use lienthong_provincial::generate::{Generator, Rng};
use lienthong_provincial::read::read_dossier;
use lienthong_provincial::write::dossier_json;
use serde_json::{Value, json};

fn strict(v: &Value) -> (Option<lienthong_model::Dossier>, usize) {
    let mut f = Vec::new();
    let d = read_dossier(v, &mut f);
    (d, f.len())
}

/// Every path to a value inside `v`.
fn paths(v: &Value, here: Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(here.clone());
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let mut p = here.clone();
                p.push(k.clone());
                paths(x, p, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                let mut p = here.clone();
                p.push(i.to_string());
                paths(x, p, out);
            }
        }
        _ => {}
    }
}

fn at<'v>(v: &'v mut Value, path: &[String]) -> &'v mut Value {
    path.iter().fold(v, |v, k| match v {
        Value::Object(m) => m.get_mut(k).expect("key"),
        Value::Array(a) => &mut a[k.parse::<usize>().expect("index")],
        _ => unreachable!("paths only lead into containers"),
    })
}

#[test]
fn fast_and_strict_readers_agree() {
    let replacements = [
        json!(null),
        json!(""),
        json!("   "),
        json!("  padded  "),
        json!(5),
        json!(-1),
        json!(1.5),
        json!(true),
        json!("2025-13-01T00:00:00Z"),
        json!("2025-03-14T09:15:02"),
        json!("2025-03-14T09:15:02.25+07:00"),
        json!("processing"),
        json!("bogus"),
        json!({}),
        json!([]),
        json!(4_294_967_296u64),
        json!("x".repeat(70_000)),
    ];
    let mut rng = Rng::new(99);
    let (mut accepted, mut refused) = (0, 0);
    for d in Generator::new(3).dossiers(300) {
        let json = dossier_json(&d);
        // unmodified: both read it, identically
        assert_eq!(read_dossier_fast(json.as_bytes()), Some(d.clone()));
        let original: Value = serde_json::from_str(&json).expect("json");
        let mut all = Vec::new();
        paths(&original, Vec::new(), &mut all);
        for _ in 0..10 {
            let mut v = original.clone();
            let path = rng.pick(&all).clone();
            match rng.below(3) {
                0 if !path.is_empty() => {
                    let (last, parent) = path.split_last().expect("non-empty");
                    match at(&mut v, parent) {
                        Value::Object(m) => {
                            m.remove(last);
                        }
                        Value::Array(a) => {
                            a.remove(last.parse::<usize>().expect("index"));
                        }
                        _ => {}
                    }
                }
                1 => {
                    if let Value::Object(m) = at(&mut v, &path) {
                        m.insert("unexpected".into(), json!(1));
                    } else {
                        *at(&mut v, &path) = rng.pick(&replacements).clone();
                    }
                }
                _ => *at(&mut v, &path) = rng.pick(&replacements).clone(),
            }
            let bytes = serde_json::to_vec(&v).expect("json");
            let fast = read_dossier_fast(&bytes);
            let (slow, findings) = strict(&v);
            if findings == 0 {
                assert_eq!(fast, slow, "{}", String::from_utf8_lossy(&bytes));
                accepted += 1;
            } else {
                assert_eq!(fast, None, "fast path accepted a document with findings");
                refused += 1;
            }
        }
    }
    assert!(
        accepted > 300 && refused > 1000,
        "{accepted} accepted, {refused} refused"
    );
}
