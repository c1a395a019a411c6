#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! `benchtop trace import`, `stats` and `export` as a user runs them, checked against numbers worked out by
//! hand.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_benchtop");

fn benchtop(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn json(output: &Output) -> serde_json::Value {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Within 1 ppm: traces store `f32`, whose 1 mA is 1.0000000475 mA.
fn close(value: &serde_json::Value, expected: f64) -> bool {
    (value.as_f64().unwrap() - expected).abs() <= 1e-6 * expected.abs().max(1e-12)
}

fn text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// 1 kHz in milliseconds and milliamperes: 400 rows at 1 mA, rows 400..450 missing, 550 rows at 3 mA.
fn write_csv(path: &Path) {
    let mut csv = String::from("time_ms,current_ma\n");
    for i in (0..1000).filter(|i| !(400..450).contains(i)) {
        csv += &format!("{i},{}\n", if i < 400 { 1 } else { 3 });
    }
    std::fs::write(path, csv).unwrap();
}

#[test]
fn import_then_stats_then_export() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, btr) = (dir.path().join("run.csv"), dir.path().join("run.btr"));
    write_csv(&csv);

    let summary =
        json(&benchtop(&["trace", "import", csv.to_str().unwrap(), "--out", btr.to_str().unwrap(), "--json"]));
    assert_eq!(summary["imported_from"], "csv");
    assert_eq!(summary["samples"], 1000);
    assert_eq!(summary["channels"][0]["missing_samples"], 50);
    assert_eq!(summary["channels"][0]["sample_rate_hz"], 1000.0);
    assert!(close(&summary["duration_s"], 1.0));

    // 950 samples: 400 × 1 mA + 550 × 3 mA = 2.05 A·samples; mean 2.05 / 950 A; charge 2.05 / 1000 C.
    let stats = json(&benchtop(&["trace", "stats", btr.to_str().unwrap(), "--json"]));
    assert_eq!(stats["count"], 950);
    assert!(close(&stats["mean_a"], 2.05 / 950.0), "{}", stats["mean_a"]);
    assert!(close(&stats["charge_c"], 2.05e-3), "{}", stats["charge_c"]);
    assert!(close(&stats["max_a"], 3e-3) && close(&stats["min_a"], 1e-3));
    let stats = json(&benchtop(&["trace", "stats", btr.to_str().unwrap(), "--from", "0.1", "--to", "0.3", "--json"]));
    assert_eq!(stats["count"], 200);
    assert!(close(&stats["charge_c"], 2e-4), "{}", stats["charge_c"]);

    // 0.39 s ..< 0.46 s: 10 samples at 1 mA, the 50-sample gap as empty cells, 10 samples at 3 mA.
    let out = dir.path().join("cut.csv");
    let args = ["trace", "export", btr.to_str().unwrap(), "--out", out.to_str().unwrap(), "--from", "0.39"];
    let summary = json(&benchtop(&[&args[..], &["--to", "0.46", "--json"]].concat()));
    assert_eq!(
        (summary["layout"].as_str(), summary["rows"].as_u64(), summary["values"].as_u64()),
        (Some("wide"), Some(70), Some(20))
    );
    let exported = text(&out);
    let lines: Vec<&str> = exported.lines().collect();
    assert_eq!(lines.len(), 71);
    assert_eq!(lines[0], "time_s,current_A");
    assert_eq!(lines[1], "0.39000,0.001");
    assert_eq!(lines[11], "0.40000,");
    assert_eq!(lines[61], "0.45000,0.003");

    // The whole trace to Parquet, in a human summary this time.
    let parquet = dir.path().join("all.parquet");
    let output = benchtop(&["trace", "export", btr.to_str().unwrap(), "--out", parquet.to_str().unwrap()]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("exported 1000 rows (wide layout) of current to "));
    assert!(std::fs::metadata(&parquet).unwrap().len() > 0);
}

#[test]
fn a_ppk2_file_and_raw_samples_import_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let ppk2 = dir.path().join("session.ppk2");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&ppk2).unwrap());
    let options = zip::write::SimpleFileOptions::default();
    zip.start_file("session.raw", options).unwrap();
    for i in 0..1000u16 {
        // 100 µA, then 300 µA; D0 high for the second half, every other line low.
        let (microamps, d0) = if i < 500 { (100f32, 0b01) } else { (300f32, 0b10) };
        zip.write_all(&microamps.to_le_bytes()).unwrap();
        zip.write_all(&(0x5554u16 | d0).to_be_bytes()).unwrap();
    }
    zip.start_file("metadata.json", options).unwrap();
    zip.write_all(br#"{"metadata":{"samplesPerSecond":1000,"startSystemTime":1700000000000},"formatVersion":2}"#)
        .unwrap();
    zip.finish().unwrap();
    let btr = dir.path().join("session.btr");
    let summary =
        json(&benchtop(&["trace", "import", ppk2.to_str().unwrap(), "--out", btr.to_str().unwrap(), "--json"]));
    assert_eq!(summary["imported_from"], "ppk2");
    assert_eq!(summary["channels"].as_array().unwrap().len(), 9);
    let stats = json(&benchtop(&["trace", "stats", btr.to_str().unwrap(), "--json"]));
    assert!(close(&stats["mean_a"], 200e-6), "{}", stats["mean_a"]);
    assert!(close(&stats["charge_c"], 200e-6), "{}", stats["charge_c"]);
    let stats = json(&benchtop(&["trace", "stats", btr.to_str().unwrap(), "--channel", "D0", "--json"]));
    assert!(close(&stats["mean_a"], 0.5));

    let raw = dir.path().join("samples.bin");
    std::fs::write(&raw, [2e-3f32; 400].iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()).unwrap();
    let out = dir.path().join("raw.btr");
    let args = ["trace", "import", raw.to_str().unwrap(), "--out", out.to_str().unwrap(), "--f32le", "--rate", "200"];
    let summary = json(&benchtop(&[&args[..], &["--json"]].concat()));
    assert!(close(&summary["duration_s"], 2.0));
    let stats = json(&benchtop(&["trace", "stats", out.to_str().unwrap(), "--json"]));
    assert!(close(&stats["charge_c"], 4e-3), "{}", stats["charge_c"]);
}

#[test]
fn mistakes_get_one_sentence_with_the_path_last() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.csv");
    let out = dir.path().join("x.btr");
    let output = benchtop(&["trace", "import", missing.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("error: could not read the input"), "{stderr}");
    assert!(stderr.trim_end().ends_with("nope.csv"), "{stderr}");

    let csv = dir.path().join("bad.csv");
    std::fs::write(&csv, "time_s,current_a\n0,1\n1,2\n0.5,3\n").unwrap();
    let output = benchtop(&["trace", "import", csv.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("error: line 4: the time goes backwards"), "{stderr}");
    assert!(!out.exists(), "a failed import writes nothing");

    let output = benchtop(&["trace", "import", csv.to_str().unwrap(), "--out", out.to_str().unwrap(), "--rate", "5"]);
    assert_eq!(output.status.code(), Some(2), "--rate without --f32le is a usage error");

    write_csv(&csv);
    json(&benchtop(&["trace", "import", csv.to_str().unwrap(), "--out", out.to_str().unwrap(), "--json"]));
    let output =
        benchtop(&["trace", "export", out.to_str().unwrap(), "--out", dir.path().join("y.xlsx").to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("name the output .csv or .parquet") && stderr.trim_end().ends_with("y.xlsx"), "{stderr}");
}
