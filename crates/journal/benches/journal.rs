//! Journal benchmarks: batched message-log writes on SQLite (records per second) and
//! search by dossier code in a large log (latency). Prints its numbers.
//!
//! `cargo bench -p lienthong-journal` runs small sizes; `LIENTHONG_BENCH_FULL=1` runs the
//! full ones (1 000 000 records). `cargo test --benches` runs the small sizes as a check.

#![allow(missing_docs)]

use jiff::{SignedDuration, Timestamp};
use lienthong_journal::messages::{Direction, LogEntry, MessageRecord, Outcome, SearchQuery};
use lienthong_journal::{Journal, JournalOptions};
use std::time::{Duration, Instant};

fn record(i: u64, dossiers: u64, t0: Timestamp) -> MessageRecord {
    let mut r = MessageRecord::new(
        format!("msg-{i:08}"),
        if i.is_multiple_of(2) {
            Direction::In
        } else {
            Direction::Out
        },
        ["dvcqg", "vdxp", "mc-nghean"][(i % 3) as usize],
        "dvcqg.DongBoHoSoMC",
        format!("payload {i}").as_bytes(),
        t0 + SignedDuration::from_millis(i as i64 * 10),
    );
    r.dossier_code = Some(format!("000.00.12.H41-250303-{:06}", i % dossiers));
    r.doc_id = i.is_multiple_of(4).then(|| format!("doc-{i}"));
    r.outcome = if i.is_multiple_of(10) {
        Outcome::Rejected
    } else {
        Outcome::Accepted
    };
    r.attempts = 1;
    r.answer_code = Some("0".into());
    r
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn bench(total: u64, batch: usize, queries: usize) {
    let dir = std::env::temp_dir().join(format!("lienthong-journal-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let url = format!("sqlite://{}/bench.db", dir.display());
    let j = Journal::open(&JournalOptions::new(&url))
        .await
        .expect("open");
    let t0: Timestamp = "2025-03-03T01:00:00Z".parse().expect("t");
    let dossiers = (total / 5).max(1);

    let mut written = 0u64;
    let mut write_time = Duration::ZERO;
    while written < total {
        let n = (batch as u64).min(total - written);
        let records: Vec<MessageRecord> = (written..written + n)
            .map(|i| record(i, dossiers, t0))
            .collect();
        let entries: Vec<LogEntry<'_>> = records
            .iter()
            .map(|r| LogEntry {
                record: r,
                body: None,
            })
            .collect();
        let start = Instant::now();
        j.log_messages(&entries).await.expect("log");
        write_time += start.elapsed();
        written += n;
    }
    println!(
        "sqlite batched writes: {total} records in batches of {batch}: {:.2} s, {:.0} records/s",
        write_time.as_secs_f64(),
        total as f64 / write_time.as_secs_f64()
    );

    let mut lat = Vec::with_capacity(queries);
    let mut found = 0usize;
    for q in 0..queries {
        let code = format!("000.00.12.H41-250303-{:06}", (q as u64 * 7919) % dossiers);
        let start = Instant::now();
        let page = j
            .search(&SearchQuery {
                dossier_code: Some(code),
                ..SearchQuery::default()
            })
            .await
            .expect("search");
        lat.push(start.elapsed());
        found += page.items.len();
    }
    lat.sort();
    println!(
        "sqlite search by dossier code at {total} records: {queries} queries, {:.1} hits each, \
         median {:?}, p99 {:?}, max {:?}",
        found as f64 / queries as f64,
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat[lat.len() - 1]
    );
    j.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    let full = std::env::var_os("LIENTHONG_BENCH_FULL").is_some();
    let (total, queries) = if full {
        (1_000_000, 2_000)
    } else {
        (5_000, 50)
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(bench(total, 1000, queries));
}
