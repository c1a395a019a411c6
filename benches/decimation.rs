#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! Live-plot data path: ingesting samples into a [`Series`] and reducing a time range to one min/max pair
//! per pixel column. Run with `cargo bench --bench decimation`.
//!
//! The headline case is the Live view's: a 2,000-pixel-wide plot of one hour of a 1 MS/s channel.

use std::hint::black_box;

use benchtop::model::series::Series;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const RATE_HZ: f64 = 1_000_000.0;
const BATCH: usize = 4096;

/// A current-like waveform: sleep with noise and periodic bursts.
fn batch(start: u64) -> Vec<f32> {
    (0..BATCH as u64)
        .map(|i| {
            let n = start + i;
            let burst = if n % 1_000_000 < 90_000 { 120e6 } else { 10e3 };
            burst + ((n.wrapping_mul(2_654_435_761) >> 16) % 1000) as f32
        })
        .collect()
}

fn filled(seconds: u64) -> Series {
    let mut series = Series::default();
    let total = seconds * RATE_HZ as u64;
    let template = batch(0);
    let mut n = 0;
    while n < total {
        series.push_batch(n as f64 / RATE_HZ, 1.0 / RATE_HZ, &template);
        n += BATCH as u64;
    }
    series
}

fn ingest(c: &mut Criterion) {
    let mut group = c.benchmark_group("series");
    let batches: Vec<Vec<f32>> = (0..256).map(|k| batch(k * BATCH as u64)).collect();
    group.throughput(Throughput::Elements((batches.len() * BATCH) as u64));
    group.bench_function("ingest 1 Mi samples in 4096-sample batches", |b| {
        let mut series = Series::default();
        let mut t = 0.0;
        b.iter(|| {
            for values in &batches {
                series.push_batch(t, 1.0 / RATE_HZ, black_box(values));
                t += BATCH as f64 / RATE_HZ;
            }
        })
    });
    group.finish();
}

fn envelope(c: &mut Criterion) {
    let hour = filled(3600);
    let (_, newest) = hour.time_range().unwrap();
    let mut group = c.benchmark_group("series");
    group.bench_function("envelope 2000 px over 1 h of 1 MS/s", |b| {
        b.iter(|| black_box(hour.envelope(0.0, newest, 2000)))
    });
    group.bench_function("envelope 2000 px over the last 10 s of 1 MS/s", |b| {
        b.iter(|| black_box(hour.envelope(newest - 10.0, newest, 2000)))
    });
    group.bench_function("envelope 2000 px over the last 1 ms of 1 MS/s (raw)", |b| {
        b.iter(|| black_box(hour.envelope(newest - 1e-3, newest, 2000)))
    });
    group.finish();
}

criterion_group!(benches, ingest, envelope);
criterion_main!(benches);
