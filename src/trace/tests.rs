//! Round trips through real files: exact statistics against a plain scan, plot columns, recovery of files cut
//! off mid-write, damaged chunks, and the golden recording that keeps format 1 readable.

use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::format::{BLOCK_SAMPLES, ChannelDef, FILE_HEADER_LEN};
use super::*;

fn current(rate_hz: f64) -> ChannelDef {
    ChannelDef { name: "current".into(), unit: "A".into(), sample_rate_hz: rate_hz, start_s: 0.0 }
}

/// A deterministic trace with sleep floor, bursts and a gap.
fn waveform(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| {
            if (10_000..10_300).contains(&i) {
                f32::NAN
            } else if i % 5000 < 40 {
                0.12 + (i % 7) as f32 * 1e-3
            } else {
                2e-6 + ((i * 7919) % 101) as f32 * 1e-8
            }
        })
        .collect()
}

fn write(path: &Path, samples: &[f32], piece: usize) {
    let mut writer = TraceWriter::create(path).unwrap();
    let ch = writer.add_channel(current(100_000.0)).unwrap();
    writer.set_meta("source", serde_json::json!("test")).unwrap();
    for part in samples.chunks(piece) {
        writer.append(ch, part).unwrap();
    }
    writer.finish().unwrap();
}

/// The reference: every sample on its own, summed with compensation.
fn plain(samples: &[f32]) -> Summary {
    let mut acc = Accumulator::default();
    for &v in samples {
        let mut one = Summary::EMPTY;
        one.push(v);
        acc.add(&one);
    }
    acc.summary()
}

fn assert_close(a: &Summary, b: &Summary) {
    assert_eq!(a.count, b.count);
    assert_eq!((a.min, a.max), (b.min, b.max));
    let tolerance = 1e-12 * b.sum.abs().max(1e-9);
    assert!((a.sum - b.sum).abs() <= tolerance, "sum {} vs {}", a.sum, b.sum);
    assert!((a.sum_sq - b.sum_sq).abs() <= 1e-12 * b.sum_sq.abs().max(1e-12), "sum_sq");
}

fn temp(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    (dir, path)
}

#[test]
fn a_finished_recording_reads_back_sample_for_sample() {
    let (_dir, path) = temp("a.btr");
    let samples = waveform(3 << 20);
    write(&path, &samples, 70_001);
    let trace = Trace::open(&path).unwrap();
    assert!(trace.report().finished);
    assert_eq!(trace.report().rebuilt_blocks, 0, "a finished file has every block on disk");
    assert_eq!(trace.sample_count(0), samples.len() as u64);
    assert_eq!(trace.meta()["source"], "test");
    let back = trace.read_samples(0, 1_000_000, 1_100_000).unwrap();
    assert_eq!(back.len(), 100_000);
    assert!(back.iter().zip(&samples[1_000_000..1_100_000]).all(|(a, b)| a.to_bits() == b.to_bits()));
    let gap = trace.read_samples(0, 9_999, 10_301).unwrap();
    assert!(!gap[0].is_nan() && gap[1..301].iter().all(|v| v.is_nan()) && !gap[301].is_nan());
}

#[test]
fn statistics_of_ranges_match_a_plain_scan() {
    let (_dir, path) = temp("s.btr");
    let samples = waveform((1 << 20) + 12_345);
    write(&path, &samples, 1 << 16);
    let trace = Trace::open(&path).unwrap();
    let n = samples.len() as u64;
    for (a, b) in [(0, n), (1, n - 1), (511, 513), (512, 1024), (10_100, 10_200), (7, 900_001), (300_000, 300_000)] {
        assert_close(&trace.summary(0, a, b).unwrap(), &plain(&samples[a as usize..b as usize]));
    }
    let stats = trace.stats(0, 0, n).unwrap();
    assert_eq!(stats.count, n - 300);
    assert!((stats.duration_s - n as f64 / 1e5).abs() < 1e-9);
    let expected_charge = plain(&samples).sum / 1e5;
    assert!((stats.integral - expected_charge).abs() < 1e-12 * expected_charge);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn any_range_is_exact(a in 0u64..300_000, len in 0u64..300_000) {
        let (_dir, path) = temp("p.btr");
        let samples = waveform(300_000);
        write(&path, &samples, 33_333);
        let trace = Trace::open(&path).unwrap();
        let b = (a + len).min(300_000);
        let a = a.min(b);
        assert_close(&trace.summary(0, a, b).unwrap(), &plain(&samples[a as usize..b as usize]));
    }
}

#[test]
fn columns_cover_the_range_at_every_zoom() {
    let (_dir, path) = temp("c.btr");
    let samples = waveform(2 << 20);
    write(&path, &samples, 1 << 20);
    let trace = Trace::open(&path).unwrap();
    let n = samples.len() as f64;
    for (start, end) in [(0.0, n), (1000.0, 1500.0), (0.0, 20_000.0), (123_456.0, 1_900_000.0), (n - 10.0, n + 50.0)] {
        let columns = trace.columns(0, start, end, 200).unwrap();
        assert_eq!(columns.summaries.len(), 200);
        let total: u64 = columns.summaries.iter().map(|s| s.count).sum();
        let (a, b) = (start.max(0.0) as usize, end.min(n) as usize);
        let exact = plain(&samples[a..b]);
        // Block-built columns may take in up to half a block beyond each end of the range.
        let slack = if (end - start) / 200.0 < BLOCK_SAMPLES as f64 { 0 } else { ((end - start) / 200.0) as u64 };
        assert!(total.abs_diff(exact.count) <= slack, "{start}..{end}: {total} vs {}", exact.count);
        let max = columns.summaries.iter().map(|s| s.max).fold(f32::NEG_INFINITY, f32::max);
        assert!(max >= exact.max || slack > 0, "{start}..{end}: the burst peak must show");
    }
    // Zoomed to a few samples per column, the columns are the samples themselves.
    let columns = trace.columns(0, 5000.0, 5010.0, 10).unwrap();
    for (i, s) in columns.summaries.iter().enumerate() {
        assert_eq!((s.count, s.min), (1, samples[5000 + i]));
    }
}

#[test]
fn a_recording_dropped_without_finishing_reopens_with_every_sample_handed_over() {
    let (_dir, path) = temp("crash.btr");
    let samples = waveform(700_000);
    let mut writer = TraceWriter::create(&path).unwrap();
    let ch = writer.add_channel(current(1e5)).unwrap();
    writer.append(ch, &samples[..650_000]).unwrap();
    writer.flush().unwrap();
    writer.append(ch, &samples[650_000..]).unwrap();
    drop(writer); // no finish: no index, no trailer, no summaries of the last chunk
    let trace = Trace::open(&path).unwrap();
    let report = trace.report();
    assert!(!report.finished);
    assert_eq!(trace.sample_count(0), 700_000);
    assert!(report.rebuilt_blocks >= 700_000 / BLOCK_SAMPLES, "summaries rebuilt: {report:?}");
    assert_close(&trace.summary(0, 3, 699_999).unwrap(), &plain(&samples[3..699_999]));
}

#[test]
fn a_file_cut_mid_chunk_opens_up_to_the_last_complete_chunk() {
    let (_dir, path) = temp("cut.btr");
    let samples = waveform(3 << 20);
    write(&path, &samples, 1 << 20);
    let full = std::fs::metadata(&path).unwrap().len();
    // Cut in the middle of the third samples chunk: the index and trailer are gone too.
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(full / 3 * 2 + 1000).unwrap();
    let trace = Trace::open(&path).unwrap();
    assert!(!trace.report().finished);
    assert!(trace.report().unreadable_tail_bytes > 0);
    assert_eq!(trace.sample_count(0), 2 << 20);
    let n = trace.sample_count(0);
    assert_close(&trace.summary(0, 0, n).unwrap(), &plain(&samples[..n as usize]));
}

#[test]
fn a_damaged_chunk_ends_the_readable_part_there() {
    let (_dir, path) = temp("bad.btr");
    let samples = waveform(3 << 20);
    write(&path, &samples, 1 << 20);
    let mut bytes = std::fs::read(&path).unwrap();
    // Flip a byte inside the second samples chunk; the index at the end still points at it, so also break
    // the trailer to force the checked scan.
    let second_chunk_sample = FILE_HEADER_LEN + (1 << 20) * 4 + 4096;
    bytes[second_chunk_sample + 4 * 1000] ^= 0x40;
    let len = bytes.len();
    bytes[len - 1] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let trace = Trace::open(&path).unwrap();
    assert_eq!(trace.sample_count(0), 1 << 20, "only the chunk before the damage is trusted");
}

#[test]
fn a_recording_in_progress_is_followed_by_refresh() {
    let (_dir, path) = temp("live.btr");
    let mut writer = TraceWriter::create(&path).unwrap();
    let ch = writer.add_channel(current(1e3)).unwrap();
    writer.append(ch, &[1.0; 1000]).unwrap();
    writer.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    let mut trace = Trace::open(&path).unwrap();
    assert_eq!(trace.sample_count(0), 1000);
    writer.append(ch, &[3.0; 24_000]).unwrap();
    writer.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert!(trace.refresh().unwrap());
    assert_eq!(trace.sample_count(0), 25_000);
    let s = trace.summary(0, 0, 25_000).unwrap();
    assert_eq!((s.count, s.min, s.max), (25_000, 1.0, 3.0));
    writer.finish().unwrap();
    assert!(!trace.refresh().unwrap());
    assert!(Trace::open(&path).unwrap().report().finished);
}

#[test]
fn not_a_trace_says_so() {
    let (_dir, path) = temp("x.btr");
    std::fs::write(&path, b"time_s,channel,value,unit\n0.1,current,1,A\n").unwrap();
    let error = Trace::open(&path).unwrap_err().to_string();
    assert!(error.contains("is not a Benchtop trace"), "{error}");
}

#[test]
fn channel_errors_name_what_exists() {
    let (_dir, path) = temp("n.btr");
    write(&path, &[1.0; 10], 10);
    let trace = Trace::open(&path).unwrap();
    let error = trace.find_channel("voltage").unwrap_err().to_string();
    assert!(error.contains("no channel `voltage`") && error.contains("current"), "{error}");
    let mut writer = TraceWriter::create(&path).unwrap();
    let bad = ChannelDef { sample_rate_hz: 0.0, ..current(1.0) };
    assert!(writer.add_channel(bad).unwrap_err().to_string().contains("sample rate"));
}
