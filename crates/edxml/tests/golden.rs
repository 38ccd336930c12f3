//! Byte-level golden tests: parse then write reproduces the official SDK output.

use lienthong_edxml::{normalize, read};
use std::path::PathBuf;

fn data(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn first_difference(a: &[u8], b: &[u8]) -> String {
    let i = a
        .iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let from = i.saturating_sub(80);
    format!(
        "first difference at byte {i}:\n--- expected\n{}\n--- written\n{}",
        String::from_utf8_lossy(&a[from..(i + 80).min(a.len())]),
        String::from_utf8_lossy(&b[from..(i + 80).min(b.len())])
    )
}

#[test]
fn sdk_samples_round_trip_byte_for_byte() {
    for name in [
        "edoc_update.edxml",
        "edoc_replacement.edxml",
        "edoc_revocation.edxml",
    ] {
        let original = data(name);
        let (written, findings) = normalize(original.clone()).expect(name);
        assert!(
            written == original,
            "{name}: {}",
            first_difference(&original, &written)
        );
        assert!(
            findings.iter().all(|f| !f.is_error()),
            "{name}: {findings:?}"
        );
    }
}

#[test]
fn normalize_is_idempotent_on_every_sample() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("data dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "edxml") {
            continue;
        }
        let original = std::fs::read(&path).expect("read");
        let (once, _) = normalize(original.clone()).expect("first normalize");
        let (twice, _) = normalize(once.clone()).expect("second normalize");
        assert!(
            once == twice,
            "{}: {}",
            path.display(),
            first_difference(&once, &twice)
        );
        // facts preserved: the message read from the normalized bytes equals the original's
        let a = read(original).expect("read original").message;
        let b = read(once).expect("read normalized").message;
        assert_eq!(a, b, "{}", path.display());
        n += 1;
    }
    assert_eq!(n, 13, "expected the 13 official samples");
}
