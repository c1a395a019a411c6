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
    let range = trace.find_channel("range").unwrap();
    let over_range = trace.find_channel("over_range").unwrap();
    let n = trace.sample_count(current);
    assert!(n > 100_000, "about 1.5 s at 100 kS/s, got {n}");
    let samples = trace.read_samples(current, 0, n).unwrap();
    let logic = trace.read_samples(d0, 0, n).unwrap();
    let ranges = trace.read_samples(range, 0, n).unwrap();
    let over = trace.read_samples(over_range, 0, n).unwrap();
    // The reference is the same emulator without the transport faults (they change what is sent, not what is
    // measured); an over-range stretch is part of the waveform, so it stays.
    let reference = Ppk2Emulator::new(options(if faults.contains("over-range") { "over-range" } else { "" }));
    let mut lost = 0u64;
    let mut checked = 0u64;
    for (i, (&value, &d0)) in samples.iter().zip(&logic).enumerate() {
        if value.is_nan() {
            lost += 1;
            assert!(d0.is_nan(), "a gap is a gap in every channel (sample {i})");
            continue;
        }
        let sample = reference.sample(i as u64);
        assert_eq!(ranges[i], f32::from(sample.range), "range at sample {i}");
        assert_eq!(over[i], f32::from(u8::from(sample.over_range)), "over-range flag at sample {i}");
        if sample.over_range {
            // Pinned at full scale: a floor, not a reading; only the flag is checked.
            checked += 1;
            continue;
        }
        let expected = reference.quantised_current_a(i as u64);
        let tolerance = 1e-5 * expected.abs().max(1e-9);
        assert!(
            (f64::from(value) - expected).abs() <= tolerance,
            "sample {i}: recorded {value}, the emulator made {expected}"
        );
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

#[test]
fn over_range_samples_are_flagged_where_the_adc_was_pinned() {
    let (_n, _lost, report) = record_and_check("over-range");
    assert!(report["summary"]["samples"].as_u64().unwrap() > 100_000, "{report}");
}

#[test]
fn a_stream_left_running_by_a_killed_session_is_stopped_and_drained_on_open() {
    // The unit is already streaming and sends 3 kB of stale, unaligned words when the port opens.
    let (_n, lost, report) = record_and_check("stale=3001");
    assert_eq!(lost, 0, "stale bytes are drained before the metadata, not decoded: {report}");
}

#[test]
fn a_corrupt_calibration_is_reported_and_never_used() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("corrupt.btr");
    let (path, handle) = serve_pty(options("corrupt-calibration")).unwrap();
    let output = Command::new(BIN)
        .args(["record", &format!("ppk2:{path}"), "--duration", "500ms", "--json", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    drop(handle);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("warning:"), "the problems are said: {stderr}");
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["calibration_problems"].as_array().unwrap().len(), 5, "{summary}");
    let trace = Trace::open(&out).unwrap();
    let current = trace.find_channel("current").unwrap();
    let n = trace.sample_count(current);
    assert!(n > 10_000);
    let samples = trace.read_samples(current, 0, n).unwrap();
    assert!(samples.iter().all(|v| v.is_nan()), "no range has usable constants, so no current is invented");
    // The logic inputs do not depend on the calibration and are still there.
    let d1 = trace.read_samples(trace.find_channel("D1").unwrap(), 0, n).unwrap();
    assert!(d1.contains(&1.0) && d1.contains(&0.0));
}

#[test]
fn a_port_that_is_not_a_ppk2_is_a_clear_error() {
    let (mut master, slave) = serialport::TTYPort::pair().unwrap();
    use serialport::SerialPort as _;
    let path = slave.name().unwrap();
    let output = Command::new(BIN)
        .args(["record", &format!("ppk2:{path}"), "--duration", "1s", "--out", "/tmp/never-written.btr"])
        .output()
        .unwrap();
    use std::io::Read as _;
    let mut sink = [0u8; 64];
    let _ = master.read(&mut sink);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("did not answer the PPK2 metadata command"), "{stderr}");
    assert!(!std::path::Path::new("/tmp/never-written.btr").exists());
}
