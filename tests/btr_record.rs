#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! `benchtop record … --out X.btr` as a user runs it: a finished recording, and one killed with SIGKILL
//! mid-write that must reopen with everything up to the last flush and exact statistics.

use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use benchtop::trace::{Summary, Trace};

const BIN: &str = env!("CARGO_BIN_EXE_benchtop");

fn plain(samples: &[f32]) -> Summary {
    let mut s = Summary::EMPTY;
    samples.iter().for_each(|&v| s.push(v));
    s
}

#[test]
fn records_the_simulated_board_to_a_trace_in_si_units() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sim.btr");
    let output = Command::new(BIN)
        .args(["record", "sim:seed=5", "--duration", "1500ms", "--json", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["channels"], 4);
    let trace = Trace::open(&out).unwrap();
    assert!(trace.report().finished);
    assert_eq!(trace.meta()["source"], "sim:seed=5");
    let current = trace.find_channel("current").unwrap();
    let def = trace.channel(current).unwrap();
    assert_eq!((def.unit.as_str(), def.sample_rate_hz.round()), ("A", 1000.0));
    let n = trace.sample_count(current);
    assert!((1200..=1600).contains(&n), "about 1.5 s at 1 kS/s, got {n}");
    let samples = trace.read_samples(current, 0, n).unwrap();
    // The simulated board sleeps at microamps and transmits at tens of milliamps: SI units, not nA.
    let stats = trace.stats(current, 0, n).unwrap();
    assert!(stats.min > 1e-7 && stats.min < 1e-3 && stats.max > 1e-2 && stats.max < 1.0, "{stats:?}");
    assert_eq!(stats.count, plain(&samples).count);
}

#[cfg(unix)]
#[test]
fn a_recording_killed_mid_write_reopens_with_all_but_the_last_fraction_of_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("killed.btr");
    let mut child = Command::new(BIN)
        .args(["record", "sim:seed=9", "--duration", "60s", "--out"])
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    let killed_unix_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as f64;
    child.kill().unwrap(); // SIGKILL: no destructor, no index, no trailer
    child.wait().unwrap();

    let trace = Trace::open(&out).unwrap();
    let report = trace.report();
    assert!(!report.finished, "a killed recording has no index");
    let current = trace.find_channel("current").unwrap();
    let n = trace.sample_count(current);
    assert!(n > 1000, "more than a second of current survives, got {n}");
    // What was lost is at most the flush interval plus a batch in flight: well under a second.
    let recorded_until_s = trace.time_of(current, n as f64);
    let killed_at_s = (killed_unix_ms - trace.created_unix_ms() as f64) / 1e3;
    let lost_s = killed_at_s - recorded_until_s;
    // The trace's clock starts when the first batch arrives, a few ms after the file header's timestamp
    // (kept in ms), so "nothing lost" can read as a few tens of ms below zero.
    assert!((-0.1..0.6).contains(&lost_s), "lost {lost_s:.3} s before the kill");
    // Summaries were rebuilt and agree with the raw samples.
    assert!(report.rebuilt_blocks > 0 || n < 512);
    let samples = trace.read_samples(current, 0, n).unwrap();
    let exact = plain(&samples);
    let summary = trace.summary(current, 0, n).unwrap();
    assert_eq!((summary.count, summary.min, summary.max), (exact.count, exact.min, exact.max));
    assert!((summary.sum - exact.sum).abs() <= 1e-9 * exact.sum.abs());

    // `benchtop trace stats` reads it too and says it was cut off.
    let output = Command::new(BIN).args(["trace", "stats", "--json"]).arg(&out).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stderr).contains("was not finished"));
    let stats: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(stats["count"].as_u64(), Some(exact.count));
}
