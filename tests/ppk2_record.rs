#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! `benchtop record ppk2:PATH` against the emulated PPK2 on a pseudo-terminal: the trace holds the waveform
//! the emulator was given, sample for sample, with gaps of exact length where bytes were dropped.

use std::process::Command;

use benchtop::sim::ppk2::{Ppk2Emulator, Ppk2Faults, Ppk2Options, serve_pty};
use benchtop::trace::Trace;

const BIN: &str = env!("CARGO_BIN_EXE_benchtop");

fn options(faults: &str) -> Ppk2Options {
    // The recorder sets the regulator to 3300 mV, which enters the conversion (the S·VDD term).
    Ppk2Options { seed: 11, faults: Ppk2Faults::parse(faults).unwrap(), vdd_mv: 3300, ..Ppk2Options::default() }
}

/// Records 1.5 s and checks every sample against the emulator's waveform; returns (samples, lost, gaps).
fn record_and_check(faults: &str) -> (u64, u64, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ppk2.btr");
    let (path, handle) = serve_pty(options(faults)).unwrap();
    let output = Command::new(BIN)
        .args(["record", &format!("ppk2:{path}"), "--duration", "1500ms", "--json", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let counters = handle.stop().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();

    let trace = Trace::open(&out).unwrap();
    let current = trace.find_channel("current").unwrap();
    let d0 = trace.find_channel("D0").unwrap();
    let n = trace.sample_count(current);
    assert!(n > 100_000, "about 1.5 s at 100 kS/s, got {n}");
    let samples = trace.read_samples(current, 0, n).unwrap();
    let logic = trace.read_samples(d0, 0, n).unwrap();
    let reference = Ppk2Emulator::new(options(""));
    let mut lost = 0u64;
    let mut checked = 0u64;
    for (i, (&value, &d0)) in samples.iter().zip(&logic).enumerate() {
        if value.is_nan() {
            lost += 1;
            assert!(d0.is_nan(), "a gap is a gap in every channel (sample {i})");
            continue;
        }
        let expected = reference.quantised_current_a(i as u64);
        let tolerance = 1e-5 * expected.abs().max(1e-9);
        assert!(
            (f64::from(value) - expected).abs() <= tolerance,
            "sample {i}: recorded {value}, the emulator made {expected}"
        );
        let sample = reference.sample(i as u64);
        assert_eq!(d0, f32::from(sample.logic & 1), "D0 at sample {i}");
        checked += 1;
    }
    assert_eq!(lost, summary["lost_samples"].as_u64().unwrap(), "the NaN samples are the gaps the recorder reported");
    assert!(checked > 100_000);
    (n, lost, serde_json::json!({ "emulator": format!("{counters:?}"), "summary": summary }))
}

#[test]
fn a_clean_stream_is_the_emulators_waveform_sample_for_sample() {
    let (_n, lost, report) = record_and_check("");
    assert_eq!(lost, 0, "{report}");
}

#[test]
fn dropped_bytes_become_gaps_of_exact_length_and_nothing_else_changes() {
    // About one byte in 20,000 lost: a few dozen losses in 1.5 s, each shifting the framing.
    let (_n, lost, report) = record_and_check("drop-bytes=0.00005");
    assert!(lost > 0, "bytes were dropped, so samples must be missing: {report}");
    assert!(report["summary"]["resyncs"].as_u64().unwrap() > 0, "{report}");
}

#[test]
fn dropped_samples_become_gaps_of_exact_length() {
    let (_n, lost, report) = record_and_check("drop-samples=0.0005");
    assert!(lost > 0, "{report}");
}
