//! Throughput of the edXML codec on the sample messages in `tests/data`.
//!
//! Measures, each group next to its own baseline over the same bytes:
//!
//! * `status_read` — [`lienthong_edxml::read`] of all 9 status samples per iteration
//!   (messages/s), against a bare quick-xml `NsReader` event loop;
//! * `edoc_read` — reading each of the 4 document samples (one benchmark per file,
//!   attachments left encoded), against the bare loop over the same file;
//! * `edoc_read_decode` — reading plus decoding every attachment to a `Vec` (what the
//!   official Java library does), against the bare loop; throughput in message bytes;
//! * `attachment_sha256` — [`lienthong_edxml::Base64Content::digest`] (decode + SHA-256)
//!   against [`lienthong_edxml::Base64Content::decode_chunks`] with an empty sink (decode
//!   only), over all attachments of the 4 samples; throughput in decoded bytes;
//! * `write` — [`lienthong_edxml::to_vec`] of each read document and of all 9 statuses,
//!   against the bare loop reading the written output; throughput in output bytes.
//!
//! The bare loop calls `read_resolved_event` until `Eof` and only `black_box`es the events;
//! like the reader, it first skips any stray bytes before the first `<`.

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use lienthong_edxml::{Base64Content, Message};
use quick_xml::NsReader;
use quick_xml::events::Event;
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

/// One sample file: its name (without extension) and its bytes.
struct Sample {
    name: String,
    bytes: Bytes,
}

/// Loads the samples whose file name starts with `prefix`, sorted by name.
fn samples(prefix: &str) -> Vec<Sample> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut out: Vec<Sample> = std::fs::read_dir(&dir)
        .expect("tests/data is readable")
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "edxml"))
        .filter_map(|p| {
            let name = p.file_stem()?.to_str()?.to_owned();
            name.starts_with(prefix).then_some((name, p))
        })
        .map(|(name, p)| Sample {
            name,
            bytes: Bytes::from(std::fs::read(&p).expect("sample is readable")),
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(!out.is_empty(), "no {prefix}*.edxml samples");
    out
}

/// The baseline: every namespace-resolved event of the document, doing nothing with it.
fn bare_loop(input: &[u8]) -> usize {
    let start = memchr::memchr(b'<', input).unwrap_or(input.len());
    let mut reader = NsReader::from_reader(&input[start..]);
    let mut events = 0usize;
    loop {
        match reader.read_resolved_event() {
            Ok((_, Event::Eof)) => break,
            Ok(ev) => {
                black_box(ev);
                events += 1;
            }
            Err(e) => panic!("sample is not well-formed: {e}"),
        }
    }
    events
}

/// Reads a sample into the model.
fn read(sample: &Sample) -> Message {
    lienthong_edxml::read(sample.bytes.clone())
        .expect("sample is readable")
        .message
}

/// The attachment contents of a document message.
fn contents(message: &Message) -> Vec<Base64Content> {
    match message {
        Message::Edoc(m) => m
            .attachments
            .iter()
            .filter_map(|a| a.content.clone())
            .collect(),
        Message::Status(_) => Vec::new(),
    }
}

fn status_read(c: &mut Criterion) {
    let status = samples("status_");
    let mut g = c.benchmark_group("status_read");
    g.throughput(Throughput::Elements(status.len() as u64));
    g.bench_function("lienthong_read", |b| {
        b.iter(|| {
            for s in &status {
                black_box(lienthong_edxml::read(s.bytes.clone()).expect("readable"));
            }
        })
    });
    g.bench_function("quick_xml_bare", |b| {
        b.iter(|| {
            for s in &status {
                black_box(bare_loop(&s.bytes));
            }
        })
    });
    g.finish();
}

fn edoc_read(c: &mut Criterion) {
    let edocs = samples("edoc_");
    let mut g = c.benchmark_group("edoc_read");
    for s in &edocs {
        g.throughput(Throughput::Bytes(s.bytes.len() as u64));
        g.bench_with_input(BenchmarkId::new("lienthong_read", &s.name), s, |b, s| {
            b.iter(|| black_box(lienthong_edxml::read(s.bytes.clone()).expect("readable")))
        });
        g.bench_with_input(BenchmarkId::new("quick_xml_bare", &s.name), s, |b, s| {
            b.iter(|| black_box(bare_loop(&s.bytes)))
        });
    }
    g.finish();
}

fn edoc_read_decode(c: &mut Criterion) {
    let edocs = samples("edoc_");
    let mut g = c.benchmark_group("edoc_read_decode");
    for s in &edocs {
        g.throughput(Throughput::Bytes(s.bytes.len() as u64));
        g.bench_with_input(
            BenchmarkId::new("lienthong_read_decode", &s.name),
            s,
            |b, s| {
                b.iter(|| {
                    let parsed = lienthong_edxml::read(s.bytes.clone()).expect("readable");
                    for content in contents(&parsed.message) {
                        black_box(content.decode().expect("valid base64"));
                    }
                    black_box(parsed)
                })
            },
        );
        g.bench_with_input(BenchmarkId::new("quick_xml_bare", &s.name), s, |b, s| {
            b.iter(|| black_box(bare_loop(&s.bytes)))
        });
    }
    g.finish();
}

fn attachment_sha256(c: &mut Criterion) {
    let attachments: Vec<Base64Content> = samples("edoc_")
        .iter()
        .flat_map(|s| contents(&read(s)))
        .collect();
    assert!(
        !attachments.is_empty(),
        "the edoc samples carry attachments"
    );
    let decoded: u64 = attachments
        .iter()
        .map(|a| a.decoded_len().expect("valid base64"))
        .sum();
    let mut g = c.benchmark_group("attachment_sha256");
    g.throughput(Throughput::Bytes(decoded));
    g.bench_function(format!("digest/{}_attachments", attachments.len()), |b| {
        b.iter(|| {
            for a in &attachments {
                black_box(a.digest().expect("valid base64"));
            }
        })
    });
    g.bench_function(
        format!("decode_chunks_only/{}_attachments", attachments.len()),
        |b| {
            b.iter(|| {
                for a in &attachments {
                    black_box(a.decode_chunks(|piece| {
                        black_box(piece);
                    }))
                    .expect("valid base64");
                }
            })
        },
    );
    g.finish();
}

fn write(c: &mut Criterion) {
    let mut cases: Vec<(String, Vec<Message>)> = samples("edoc_")
        .iter()
        .map(|s| (s.name.clone(), vec![read(s)]))
        .collect();
    let status = samples("status_");
    cases.push((
        format!("status_all_{}", status.len()),
        status.iter().map(read).collect(),
    ));
    let mut g = c.benchmark_group("write");
    for (name, messages) in &cases {
        let outputs: Vec<Vec<u8>> = messages.iter().map(lienthong_edxml::to_vec).collect();
        let len: usize = outputs.iter().map(Vec::len).sum();
        g.throughput(Throughput::Bytes(len as u64));
        g.bench_with_input(BenchmarkId::new("to_vec", name), messages, |b, ms| {
            b.iter(|| {
                for m in ms {
                    black_box(lienthong_edxml::to_vec(m));
                }
            })
        });
        g.bench_with_input(
            BenchmarkId::new("quick_xml_bare_on_output", name),
            &outputs,
            |b, outs| {
                b.iter(|| {
                    for o in outs {
                        black_box(bare_loop(o));
                    }
                })
            },
        );
    }
    g.finish();
}

/// Short measurements: the whole run stays within a few minutes on two cores.
fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
}

criterion_group! {
    name = benches;
    config = config();
    targets = status_read, edoc_read, edoc_read_decode, attachment_sha256, write
}
criterion_main!(benches);
