#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! Trace store figures: summarising raw samples, appending with the pyramid and the disk thread, opening,
//! exact statistics and plot columns over a recording on local disk.
//!
//! `BENCHTOP_BENCH_SAMPLES` sets the recording's length (default 2·10⁸ samples, 800 MB, written once to
//! `target/bench-traces/` and reused); `benchtop trace bench --samples 2000000000` runs the full-size workload
//! with worst cases over zoom levels and random ranges.

use std::hint::black_box;
use std::path::PathBuf;

use benchtop::trace::{ChannelDef, Summary, Trace, TraceWriter};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

fn samples(n: usize) -> Vec<f32> {
    (0..n).map(|i| if i % 100_000 < 500 { 0.08 } else { 2e-6 + (i % 97) as f32 * 1e-9 }).collect()
}

fn current() -> ChannelDef {
    ChannelDef { name: "current".into(), unit: "A".into(), sample_rate_hz: 1e6, start_s: 0.0 }
}

fn summarise(c: &mut Criterion) {
    let data = samples(1 << 20);
    let mut group = c.benchmark_group("summary");
    group.throughput(Throughput::Elements(data.len() as u64));
    group.bench_function("of 1 Mi samples", |b| b.iter(|| black_box(Summary::of(black_box(&data)))));
    group.finish();
}

fn append(c: &mut Criterion) {
    let data = samples(1 << 22);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("append.btr");
    let mut group = c.benchmark_group("append");
    group.sample_size(10);
    group.throughput(Throughput::Elements(16 * data.len() as u64));
    group.bench_function("64 Mi samples with pyramid and disk thread", |b| {
        b.iter_batched(
            || (),
            |()| {
                let mut writer = TraceWriter::create(&path).unwrap();
                let channel = writer.add_channel(current()).unwrap();
                for _ in 0..16 {
                    writer.append(channel, &data).unwrap();
                }
                writer.finish().unwrap();
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn bench_file() -> PathBuf {
    let n: u64 = std::env::var("BENCHTOP_BENCH_SAMPLES").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000_000);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-traces");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("criterion-{n}.btr"));
    let ready = Trace::open(&path).is_ok_and(|t| t.report().finished && t.sample_count(0) == n);
    if !ready {
        let data = samples(1 << 22);
        let mut writer = TraceWriter::create(&path).unwrap();
        let channel = writer.add_channel(current()).unwrap();
        let mut left = n;
        while left > 0 {
            let take = left.min(data.len() as u64) as usize;
            writer.append(channel, &data[..take]).unwrap();
            left -= take as u64;
        }
        writer.finish().unwrap();
    }
    path
}

fn read(c: &mut Criterion) {
    let path = bench_file();
    let trace = Trace::open(&path).unwrap();
    let n = trace.sample_count(0);
    let mut group = c.benchmark_group("read");
    group.bench_function("open", |b| b.iter(|| black_box(Trace::open(&path).unwrap())));
    group.bench_function("stats over all samples", |b| b.iter(|| black_box(trace.stats(0, 0, n))));
    group.bench_function("stats over a ragged sub-range", |b| {
        b.iter(|| black_box(trace.stats(0, black_box(12_345), black_box(n - 54_321))))
    });
    for span in [n, n / 64, 2000 * 400, 2000 * 4] {
        group.bench_function(format!("2000 columns over {span} samples"), |b| {
            b.iter(|| black_box(trace.columns(0, 1000.0, 1000.0 + span as f64, 2000)))
        });
    }
    group.finish();
}

criterion_group!(benches, summarise, append, read);
criterion_main!(benches);
