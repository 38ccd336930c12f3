//! Provincial JSON → read and validated → DVCQG JSON, for typical dossiers of about 3 KB
//! (generated), on one core: the cost of `lienthong convert` and of the ingest path.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lienthong_dvcqg::map::{MappingConfig, dossier_to_dvcqg};
use lienthong_provincial::fast::{read_dossier_fast, read_dossier_slice};
use lienthong_provincial::generate::Generator;
use lienthong_provincial::read::read_dossier;
use lienthong_provincial::validate::validate_dossier;
use lienthong_provincial::write::dossier_json;
use std::hint::black_box;
use std::time::Duration;

/// Provincial JSON → DVCQG JSON; `None` if the dossier had an error.
fn convert(json: &[u8], cfg: &MappingConfig) -> Option<Vec<u8>> {
    let (d, mut f) = read_dossier_slice(json).ok()?;
    let d = d?;
    f.extend(validate_dossier(&d));
    let (item, mf) = dossier_to_dvcqg(&d, cfg);
    f.extend(mf);
    if f.iter().any(|x| x.is_error()) {
        return None;
    }
    serde_json::to_vec(&item).ok()
}

fn bench(c: &mut Criterion) {
    let cfg = MappingConfig::default();
    // dossiers of about 3 KB: the generator's returned dossiers with documents and fees
    let docs: Vec<Vec<u8>> = Generator::new(11)
        .dossiers(2000)
        .iter()
        .map(|d| dossier_json(d).into_bytes())
        .filter(|j| (2500..=3500).contains(&j.len()))
        .take(200)
        .collect();
    assert!(!docs.is_empty(), "no generated dossier of about 3 KB");
    let bytes: usize = docs.iter().map(Vec::len).sum();
    eprintln!(
        "{} dossiers, {} bytes on average",
        docs.len(),
        bytes / docs.len()
    );
    let mut g = c.benchmark_group("provincial_to_dvcqg");
    g.throughput(Throughput::Elements(docs.len() as u64));
    g.bench_function("read_validate_map_write", |b| {
        b.iter(|| {
            for d in &docs {
                black_box(convert(black_box(d), &cfg));
            }
        })
    });
    g.bench_function("serde_json_parse_only", |b| {
        b.iter(|| {
            for d in &docs {
                black_box(serde_json::from_slice::<serde_json::Value>(black_box(d)).ok());
            }
        })
    });
    g.finish();

    // where the time goes, stage by stage, over the same dossiers
    let values: Vec<serde_json::Value> = docs
        .iter()
        .map(|d| serde_json::from_slice(d).expect("json"))
        .collect();
    let dossiers: Vec<_> = values
        .iter()
        .map(|v| read_dossier(v, &mut Vec::new()).expect("dossier"))
        .collect();
    let items: Vec<_> = dossiers
        .iter()
        .map(|d| dossier_to_dvcqg(d, &cfg).0)
        .collect();
    let mut g = c.benchmark_group("stages");
    g.throughput(Throughput::Elements(docs.len() as u64));
    g.bench_function("read_fast_from_bytes", |b| {
        b.iter(|| {
            for d in &docs {
                black_box(read_dossier_fast(black_box(d)));
            }
        })
    });
    g.bench_function("read_strict_from_value", |b| {
        b.iter(|| {
            for v in &values {
                black_box(read_dossier(black_box(v), &mut Vec::new()));
            }
        })
    });
    g.bench_function("validate", |b| {
        b.iter(|| {
            for d in &dossiers {
                black_box(validate_dossier(black_box(d)));
            }
        })
    });
    g.bench_function("map", |b| {
        b.iter(|| {
            for d in &dossiers {
                black_box(dossier_to_dvcqg(black_box(d), &cfg));
            }
        })
    });
    g.bench_function("serialize", |b| {
        b.iter(|| {
            for i in &items {
                black_box(serde_json::to_vec(black_box(i)).ok());
            }
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(20);
    targets = bench
}
criterion_main!(benches);
