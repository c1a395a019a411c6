//! The trace store's performance workload, shared by `benchtop trace bench` and `benches/trace.rs`: write a
//! long recording, then time opening it, exact statistics over all of it and over random sub-ranges, and
//! 2,000 plot columns at every zoom level.
//!
//! Timings are wall-clock medians (and worst cases) with the file in the page cache, which is how a user
//! meets a recording they just made. `scripts/bench-vs-pyjls.py` runs the same workload through Joulescope's
//! JLS library for comparison.

use std::path::Path;
use std::time::{Duration, Instant};

use rand::{Rng as _, SeedableRng as _};
use serde::Serialize;

use super::format::ChannelDef;
use super::{Trace, TraceWriter};

/// What the workload measured.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Samples written.
    pub samples: u64,
    /// Samples appended per second, including the pyramid and the disk thread, millions.
    pub append_msps: f64,
    /// File bytes per sample.
    pub bytes_per_sample: f64,
    /// Opening the finished file, median ms.
    pub open_ms: f64,
    /// Exact statistics over every sample, median ms.
    pub stats_all_ms: f64,
    /// Exact statistics over random sub-ranges, median ms.
    pub stats_range_median_ms: f64,
    /// Exact statistics over random sub-ranges, worst ms.
    pub stats_range_worst_ms: f64,
    /// 2,000 columns, the worst zoom level's median ms.
    pub columns_worst_zoom_ms: f64,
    /// 2,000 columns, the worst single call ms.
    pub columns_worst_ms: f64,
}

/// A current-like waveform: a noisy sleep floor with periodic bursts, different on every call.
fn fill(buffer: &mut [f32], rng: &mut rand_pcg::Pcg64Mcg, offset: u64) {
    for (i, v) in buffer.iter_mut().enumerate() {
        let n = offset + i as u64;
        let floor = 2e-6 + rng.random::<f32>() * 1e-7;
        *v = if n % 100_000 < 500 { 0.08 + floor * 1000.0 } else { floor };
    }
}

fn median(mut times: Vec<Duration>) -> f64 {
    times.sort();
    times.get(times.len() / 2).map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

/// Writes `samples` samples to `path` (unless `reuse` and a finished file with that many is there), then times
/// the reads. `progress` hears what is happening.
pub fn run(path: &Path, samples: u64, reuse: bool, progress: &mut dyn FnMut(&str)) -> anyhow::Result<BenchReport> {
    let existing = reuse.then(|| Trace::open(path).ok()).flatten();
    let append_msps = match existing {
        Some(trace) if trace.report().finished && trace.sample_count(0) == samples => {
            progress("reusing the recording written by an earlier run (append rate not measured again)");
            f64::NAN
        }
        _ => {
            progress(&format!("writing {samples} samples to {}", path.display()));
            let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(7);
            // Generating noise is not part of the measurement: prepare a few buffers up front.
            let buffers: Vec<Vec<f32>> = (0..4)
                .map(|b| {
                    let mut buffer = vec![0f32; 1 << 22];
                    fill(&mut buffer, &mut rng, b << 22);
                    buffer
                })
                .collect();
            let started = Instant::now();
            let mut writer = TraceWriter::create(path)?;
            let channel = writer.add_channel(ChannelDef {
                name: "current".into(),
                unit: "A".into(),
                sample_rate_hz: 1e6,
                start_s: 0.0,
            })?;
            let mut written = 0u64;
            let mut next = 0usize;
            while written < samples {
                let buffer = &buffers[next % buffers.len()];
                let n = (samples - written).min(buffer.len() as u64) as usize;
                writer.append(channel, &buffer[..n])?;
                written += n as u64;
                next += 1;
            }
            writer.finish()?;
            samples as f64 / started.elapsed().as_secs_f64() / 1e6
        }
    };
    let bytes_per_sample = std::fs::metadata(path)?.len() as f64 / samples as f64;

    let mut opens = Vec::new();
    for _ in 0..21 {
        let started = Instant::now();
        let trace = Trace::open(path)?;
        opens.push(started.elapsed());
        drop(trace);
    }
    let trace = Trace::open(path)?;
    let n = trace.sample_count(0);

    let mut all = Vec::new();
    for _ in 0..101 {
        let started = Instant::now();
        std::hint::black_box(trace.stats(0, 0, n)?);
        all.push(started.elapsed());
    }

    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(11);
    let mut ranges = Vec::new();
    for _ in 0..1000 {
        let a = rng.random_range(0..n);
        let b = rng.random_range(a..=n);
        std::hint::black_box(trace.stats(0, a, b)?);
        let started = Instant::now();
        std::hint::black_box(trace.stats(0, a, b)?);
        ranges.push(started.elapsed());
    }
    let ranges_worst = ranges.iter().max().map_or(0.0, |d| d.as_secs_f64() * 1e3);

    let mut columns_worst_zoom_ms = 0f64;
    let mut columns_worst_ms = 0f64;
    let mut span = n as f64;
    while span >= 1000.0 {
        let mut times = Vec::new();
        for _ in 0..15 {
            let start = rng.random_range(0.0..=(n as f64 - span));
            // Warm page cache, as for a range the user just looked at: the first call brings it in.
            std::hint::black_box(trace.columns(0, start, start + span, 2000)?);
            let started = Instant::now();
            std::hint::black_box(trace.columns(0, start, start + span, 2000)?);
            times.push(started.elapsed());
        }
        columns_worst_ms = columns_worst_ms.max(times.iter().max().map_or(0.0, |d| d.as_secs_f64() * 1e3));
        let zoom_ms = median(times);
        progress(&format!("2,000 columns over {span:.0} samples: {zoom_ms:.3} ms median"));
        columns_worst_zoom_ms = columns_worst_zoom_ms.max(zoom_ms);
        span /= 4.0;
    }

    Ok(BenchReport {
        samples,
        append_msps,
        bytes_per_sample,
        open_ms: median(opens),
        stats_all_ms: median(all),
        stats_range_median_ms: median(ranges),
        stats_range_worst_ms: ranges_worst,
        columns_worst_zoom_ms,
        columns_worst_ms,
    })
}
