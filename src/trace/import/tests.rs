//! Importer tests on files written here: CSV in its dialects, gaps of exact length, jitter, errors with line
//! numbers, `.ppk2` fixtures built with the zip crate, and raw `f32`.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::*;
use crate::trace::Trace;

fn dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn write_text(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Imports `input` into `out.btr` next to it and opens the result.
fn import(input: &Path, options: &ImportOptions) -> (ImportSummary, Trace) {
    let out = input.with_file_name("out.btr");
    let summary = import_file(input, &out, options).unwrap();
    (summary, Trace::open(&out).unwrap())
}

fn import_error(input: &Path, options: &ImportOptions) -> String {
    import_file(input, &input.with_file_name("out.btr"), options).unwrap_err().to_string()
}

fn all_samples(trace: &Trace, channel: usize) -> Vec<f32> {
    trace.read_samples(channel, 0, trace.sample_count(channel)).unwrap()
}

#[test]
fn a_csv_with_seconds_and_amperes_reads_sample_for_sample() {
    let dir = dir();
    let mut text = String::from("time_s,current_a\n");
    for i in 0..1000 {
        text += &format!("{},{}\n", 12.5 + i as f64 / 1000.0, (i % 10) as f64 * 1e-3);
    }
    let (summary, trace) = import(&write_text(dir.path(), "a.csv", &text), &ImportOptions::default());
    assert_eq!(summary.imported_from, "csv");
    assert_eq!((summary.samples, summary.channels[0].missing_samples), (1000, 0));
    assert!((summary.duration_s - 1.0).abs() < 1e-12);
    let def = trace.channel(0).unwrap();
    assert_eq!((def.name.as_str(), def.unit.as_str(), def.sample_rate_hz, def.start_s), ("current", "A", 1000.0, 12.5));
    let samples = all_samples(&trace, 0);
    assert_eq!(samples[7], 7e-3);
    assert_eq!(samples[999], 9e-3);
    assert_eq!(trace.meta()["source_file"], "a.csv");
    assert_eq!(trace.meta()["imported_from"], "csv");
}

#[test]
fn header_units_convert_to_seconds_and_amperes() {
    let dir = dir();
    // The Power Profiler's own CSV export: milliseconds and microamperes, plus a logic column to ignore.
    let mut text = String::from("Timestamp(ms),Current(uA),D0-D7\n");
    for i in 0..200 {
        text += &format!("{:.2},{},00000000\n", i as f64 * 0.01, 250 + i);
    }
    let (_, trace) = import(&write_text(dir.path(), "ppk.csv", &text), &ImportOptions::default());
    assert_eq!(trace.channel(0).unwrap().sample_rate_hz, 100_000.0);
    let samples = all_samples(&trace, 0);
    assert_eq!(samples.len(), 200);
    assert!((samples[10] - 260e-6).abs() < 1e-12, "{}", samples[10]);

    for (header, scale) in [("t [us],I [mA]", 1e-3), ("time,current_na", 1e-9), ("time_ms;current", 1.0)] {
        let separator = if header.contains(';') { ";" } else { "," };
        let time_scale = if header.contains("us") {
            1e6
        } else if header.contains("ms") {
            1e3
        } else {
            1.0
        };
        let mut text = format!("{header}\n");
        for i in 0..50 {
            text += &format!("{}{separator}{}\n", i as f64 * 0.5 * time_scale, 4);
        }
        let (_, trace) = import(&write_text(dir.path(), "u.csv", &text), &ImportOptions::default());
        assert_eq!(trace.channel(0).unwrap().sample_rate_hz, 2.0, "{header}");
        assert!((f64::from(all_samples(&trace, 0)[3]) - 4.0 * scale).abs() < 1e-6 * 4.0 * scale, "{header}");
    }
}

#[test]
fn without_a_header_the_columns_are_seconds_and_amperes_unless_overridden() {
    let dir = dir();
    let text: String = (0..20).map(|i| format!("{},{}\n", i * 2, 1.5)).collect();
    let path = write_text(dir.path(), "plain.csv", &text);
    let (_, trace) = import(&path, &ImportOptions::default());
    assert_eq!(trace.channel(0).unwrap().sample_rate_hz, 0.5);
    assert_eq!(all_samples(&trace, 0)[0], 1.5);
    let options = ImportOptions {
        time_unit: Some(TimeUnit::Milliseconds),
        current_unit: Some(CurrentUnit::Microamperes),
        ..ImportOptions::default()
    };
    let (_, trace) = import(&path, &options);
    assert_eq!(trace.channel(0).unwrap().sample_rate_hz, 500.0);
    assert!((all_samples(&trace, 0)[0] - 1.5e-6).abs() < 1e-12);
}

#[test]
fn missing_rows_become_a_gap_of_exactly_their_length() {
    let dir = dir();
    let mut text = String::from("time_s,current_a\n");
    let rows: Vec<usize> = (0..100).chain(137..300).chain(301..400).collect();
    for &i in &rows {
        text += &format!("{:.4},{}\n", i as f64 * 1e-3, i);
    }
    let (summary, trace) = import(&write_text(dir.path(), "gap.csv", &text), &ImportOptions::default());
    assert_eq!(summary.samples, 400);
    assert_eq!(summary.channels[0].missing_samples, 38);
    let samples = all_samples(&trace, 0);
    assert_eq!(samples[99], 99.0);
    assert!(samples[100..137].iter().all(|v| v.is_nan()));
    assert_eq!(samples[137], 137.0);
    assert!(samples[300].is_nan());
    assert_eq!(samples[301], 301.0);
    assert_eq!(samples[399], 399.0);
}

#[test]
fn jittery_and_rounded_timestamps_keep_every_row_and_the_true_rate() {
    let dir = dir();
    // ±15 % jitter from a fixed sequence: every step stays under 1.5 periods, so no gap may appear.
    let mut text = String::from("time,current\n");
    let mut state = 12345u32;
    for i in 0..5000 {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
        let jitter = (f64::from(state >> 16) / 65535.0 - 0.5) * 0.3;
        text += &format!("{:.9},1e-6\n", (i as f64 + jitter) / 2000.0);
    }
    let (summary, trace) = import(&write_text(dir.path(), "jitter.csv", &text), &ImportOptions::default());
    assert_eq!((summary.samples, summary.channels[0].missing_samples), (5000, 0));
    assert_eq!(trace.channel(0).unwrap().sample_rate_hz, 2000.0);

    // 3 kHz in milliseconds rounded to a microsecond: steps of 0.333 and 0.334 ms, still 3000 Hz.
    let text: String = std::iter::once("time_ms,current_ua\n".to_string())
        .chain((0..9000).map(|i| format!("{:.3},5\n", i as f64 / 3.0)))
        .collect();
    let (summary, trace) = import(&write_text(dir.path(), "rounded.csv", &text), &ImportOptions::default());
    assert_eq!(trace.channel(0).unwrap().sample_rate_hz, 3000.0);
    assert_eq!(summary.channels[0].missing_samples, 0);
}

#[test]
fn empty_current_cells_are_missing_samples() {
    let dir = dir();
    let text = "time_s,current_a\n0,1\n0.1,\n0.2,3\n0.3,4\n";
    let (summary, trace) = import(&write_text(dir.path(), "e.csv", text), &ImportOptions::default());
    assert_eq!(summary.channels[0].missing_samples, 1);
    let samples = all_samples(&trace, 0);
    assert!(samples[1].is_nan() && samples[2] == 3.0);
}

#[test]
fn bad_rows_are_errors_that_name_the_line_and_what_to_do() {
    let dir = dir();
    let backwards = write_text(dir.path(), "b.csv", "time_s,current_a\n0,1\n0.1,1\n0.2,1\n0.15,1\n0.3,1\n");
    let error = import_error(&backwards, &ImportOptions::default());
    assert!(error.starts_with("line 5: the time goes backwards"), "{error}");
    assert!(error.contains("sort the rows") && error.ends_with("b.csv"), "{error}");

    // Past the rows that set the rate, too.
    let mut text = String::from("time_s,current_a\n");
    for i in 0..20_000 {
        text += &format!("{},{}\n", i as f64 * 1e-3, if i == 15_000 { "1.2.3" } else { "1" });
    }
    let error = import_error(&write_text(dir.path(), "n.csv", &text), &ImportOptions::default());
    assert!(error.starts_with("line 15002: `1.2.3` in the current_a column is not a number"), "{error}");
    assert!(error.contains("correct or delete the line"), "{error}");

    let error =
        import_error(&write_text(dir.path(), "t.csv", "time_s,current_a\n0,1\nsoon,1\n"), &ImportOptions::default());
    assert!(error.starts_with("line 3: `soon` in the time column is not a number"), "{error}");
    let error = import_error(&write_text(dir.path(), "one.csv", "time_s,current_a\n0,1\n"), &ImportOptions::default());
    assert!(error.contains("only 1 row") && error.contains("two to tell the sample rate"), "{error}");
    let error = import_error(&write_text(dir.path(), "h.csv", "voltage,temperature\n1,2\n"), &ImportOptions::default());
    assert!(error.starts_with("line 1: no time column among `voltage, temperature`"), "{error}");
    let error =
        import_error(&write_text(dir.path(), "s.csv", "time,current\n0,1\n0,1\n0,1\n"), &ImportOptions::default());
    assert!(error.contains("the time does not advance"), "{error}");
    let error =
        import_error(&write_text(dir.path(), "k.csv", "time(h),current\n0,1\n1,1\n"), &ImportOptions::default());
    assert!(error.contains("--time-unit"), "{error}");
}

#[test]
fn a_failed_import_leaves_no_part_file_and_keeps_the_old_trace() {
    let dir = dir();
    let good = write_text(dir.path(), "good.csv", "time_s,current_a\n0,1\n1,2\n2,3\n");
    let out = dir.path().join("out.btr");
    import_file(&good, &out, &ImportOptions::default()).unwrap();
    let before = std::fs::read(&out).unwrap();
    let bad = write_text(dir.path(), "bad.csv", "time_s,current_a\n0,1\n1,2\n0.5,3\n");
    assert!(import_file(&bad, &out, &ImportOptions::default()).is_err());
    assert_eq!(std::fs::read(&out).unwrap(), before);
    assert!(!dir.path().join("out.btr.part").exists());
    let error = import_file(&out, &out, &ImportOptions::default()).unwrap_err().to_string();
    assert!(error.contains("would replace the input"), "{error}");
    let nowhere = dir.path().join("no/such/folder/out.btr");
    let error = import_file(&good, &nowhere, &ImportOptions::default()).unwrap_err().to_string();
    assert!(error.starts_with("the folder for the output does not exist") && error.ends_with("out.btr"), "{error}");
}

#[test]
fn benchtop_long_format_takes_the_current_channel_in_amperes() {
    let dir = dir();
    // As `benchtop record` writes it: channels interleaved by batch, the simulated board's current in nA.
    let mut text = String::from("time_s,channel,value,unit\n");
    for batch in 0..10 {
        text += &format!("{:.6},temperature,22.5,°C\n", batch as f64 * 0.1);
        for i in 0..100 {
            let t = (batch * 100 + i) as f64 * 1e-3;
            text += &format!("{t:.6},current,{},nA\n", 1000 + i);
        }
    }
    let path = write_text(dir.path(), "rec.csv", &text);
    let (summary, trace) = import(&path, &ImportOptions::default());
    assert_eq!(summary.imported_from, "benchtop-csv");
    let def = trace.channel(0).unwrap();
    assert_eq!((def.name.as_str(), def.unit.as_str(), def.sample_rate_hz), ("current", "A", 1000.0));
    let samples = all_samples(&trace, 0);
    assert_eq!(samples.len(), 1000);
    assert!((samples[142] - 1042e-9).abs() < 1e-15);

    let options = ImportOptions { channel: Some("temperature".into()), ..ImportOptions::default() };
    let (_, trace) = import(&path, &options);
    let def = trace.channel(0).unwrap();
    assert_eq!((def.name.as_str(), def.unit.as_str(), def.sample_rate_hz), ("temperature", "°C", 10.0));
    assert_eq!(all_samples(&trace, 0), vec![22.5; 10]);

    let options = ImportOptions { channel: Some("humidity".into()), ..ImportOptions::default() };
    let error = import_error(&path, &options);
    assert!(error.contains("no rows of channel `humidity`"), "{error}");
}

#[test]
fn semicolons_and_decimal_commas_are_read() {
    let dir = dir();
    let text = "Zeit_s;Strom_mA\n0,000;1,5\n0,010;2,5\n0,020;3,5\n";
    // Not English headers: the time column is found by the `time` rule only, so name it with overrides.
    let error = import_error(&write_text(dir.path(), "de.csv", text), &ImportOptions::default());
    assert!(error.contains("no time column"), "{error}");
    let text = "time_s;current_ma\n0,000;1,5\n0,010;2,5\n0,020;3,5\n";
    let (_, trace) = import(&write_text(dir.path(), "de.csv", text), &ImportOptions::default());
    assert_eq!(trace.channel(0).unwrap().sample_rate_hz, 100.0);
    assert!((all_samples(&trace, 0)[1] - 2.5e-3).abs() < 1e-9);
}

/// Builds a `.ppk2` file the way Power Profiler does: a zip of metadata.json, session.raw and minimap.raw.
pub(crate) fn write_ppk2(path: &Path, metadata: &str, frames: &[(f32, u16)], extra_raw_bytes: &[u8]) {
    let file = std::fs::File::create(path).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("session.raw", options).unwrap();
    for (microamps, bits) in frames {
        zip.write_all(&microamps.to_le_bytes()).unwrap();
        zip.write_all(&bits.to_be_bytes()).unwrap();
    }
    zip.write_all(extra_raw_bytes).unwrap();
    zip.start_file("minimap.raw", options).unwrap();
    zip.write_all(br#"{"lastElementFoldCount":0,"data":{"length":0,"min":[],"max":[]}}"#).unwrap();
    zip.start_file("metadata.json", options).unwrap();
    zip.write_all(metadata.as_bytes()).unwrap();
    zip.finish().unwrap();
}

const PPK2_METADATA: &str =
    r#"{"metadata":{"samplesPerSecond":100000,"startSystemTime":1700000000123},"formatVersion":2}"#;

/// Frames of a fixture: a 10 µA floor with a 2 mA burst, D0 following the burst, D1 toggling, a lost sample.
pub(crate) fn ppk2_frames(n: usize) -> Vec<(f32, u16)> {
    (0..n)
        .map(|i| {
            let burst = (1000..1200).contains(&i);
            let microamps = if i == 5000 {
                f32::NAN
            } else if burst {
                2000.0
            } else {
                10.0
            };
            let d0 = if burst { 0b10 } else { 0b01 };
            let d1 = if i % 100 == 0 { 0b11 } else { 0b01 };
            let bits = if i == 5000 { 0 } else { d0 | d1 << 2 | 0x5550 };
            (microamps, bits)
        })
        .collect()
}

#[test]
fn a_ppk2_session_imports_current_and_logic_lines() {
    let dir = dir();
    let path = dir.path().join("session.ppk2");
    write_ppk2(&path, PPK2_METADATA, &ppk2_frames(200_000), &[]);
    let (summary, trace) = import(&path, &ImportOptions::default());
    assert_eq!(summary.imported_from, "ppk2");
    let names: Vec<&str> = summary.channels.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["current", "D0", "D1", "D2", "D3", "D4", "D5", "D6", "D7"]);
    assert_eq!(summary.samples, 9 * 200_000);
    assert!((summary.duration_s - 2.0).abs() < 1e-12);
    assert_eq!(trace.created_unix_ms(), 1_700_000_000_123);
    assert_eq!(trace.meta()["start_unix_ms"], 1_700_000_000_123u64);
    assert_eq!(trace.meta()["imported_from"], "ppk2");
    assert_eq!((trace.channel(0).unwrap().unit.as_str(), trace.channel(1).unwrap().unit.as_str()), ("A", ""));

    let current = all_samples(&trace, 0);
    assert!((current[0] - 10e-6).abs() < 1e-12 && (current[1100] - 2e-3).abs() < 1e-9);
    assert!(current[5000].is_nan());
    let stats = trace.stats(0, 0, 200_000).unwrap();
    assert_eq!(stats.count, 199_999);
    let expected_charge = (200.0 * 2e-3 + 199_799.0 * 10e-6) / 1e5;
    assert!((stats.integral - expected_charge).abs() < 1e-6 * expected_charge, "{}", stats.integral);

    let d0 = all_samples(&trace, 1);
    assert_eq!((d0[999], d0[1000], d0[1199], d0[1200]), (0.0, 1.0, 1.0, 0.0));
    assert!(d0[5000].is_nan());
    let d1 = all_samples(&trace, 2);
    assert_eq!((d1[100], d1[101]), (0.5, 0.0));
    // D2..D7 are 01 pairs from 0x5550: low throughout.
    assert_eq!(trace.stats(8, 0, 200_000).unwrap().max, 0.0);
}

#[test]
fn broken_ppk2_files_say_what_is_wrong() {
    let dir = dir();
    let path = dir.path().join("x.ppk2");
    std::fs::write(&path, b"PK\x03\x04 this is not really a zip").unwrap();
    let error = import_error(&path, &ImportOptions::default());
    assert!(error.contains("not a readable .ppk2 file") && error.ends_with("x.ppk2"), "{error}");

    let file = std::fs::File::create(&path).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    zip.start_file("metadata.json", zip::write::SimpleFileOptions::default()).unwrap();
    zip.write_all(PPK2_METADATA.as_bytes()).unwrap();
    zip.finish().unwrap();
    let error = import_error(&path, &ImportOptions::default());
    assert!(error.contains("no session.raw"), "{error}");

    write_ppk2(&path, &PPK2_METADATA.replace("\"formatVersion\":2", "\"formatVersion\":3"), &ppk2_frames(10), &[]);
    let error = import_error(&path, &ImportOptions::default());
    assert!(error.contains("format version 3") && error.contains("save it again"), "{error}");

    write_ppk2(&path, PPK2_METADATA, &ppk2_frames(10), &[1, 2, 3]);
    let error = import_error(&path, &ImportOptions::default());
    assert!(error.contains("ends 3 bytes into a sample"), "{error}");
    assert!(!dir.path().join("out.btr").exists(), "no trace is left behind");
}

#[test]
fn raw_f32_needs_a_rate_and_whole_samples() {
    let dir = dir();
    let path = dir.path().join("raw.f32");
    let values: Vec<f32> = (0..100_000).map(|i| if i == 7 { f32::NAN } else { i as f32 * 1e-6 }).collect();
    std::fs::write(&path, values.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()).unwrap();
    let options =
        ImportOptions { format: Some(ImportFormat::F32le), sample_rate_hz: Some(50_000.0), ..ImportOptions::default() };
    let (summary, trace) = import(&path, &options);
    assert_eq!((summary.samples, summary.channels[0].missing_samples, summary.duration_s), (100_000, 1, 2.0));
    let back = all_samples(&trace, 0);
    assert!(back.iter().zip(&values).all(|(a, b)| a.to_bits() == b.to_bits()));
    assert_eq!(trace.meta()["imported_from"], "f32le");

    let error = import_error(&path, &ImportOptions { sample_rate_hz: None, ..options.clone() });
    assert!(error.contains("--rate HZ"), "{error}");
    std::fs::write(&path, [0u8; 10]).unwrap();
    let error = import_error(&path, &options);
    assert!(error.contains("ends 2 bytes into a sample"), "{error}");
}

#[test]
fn the_format_follows_the_extension_then_the_first_bytes() {
    let dir = dir();
    let zip = dir.path().join("capture.bin");
    write_ppk2(&zip, PPK2_METADATA, &ppk2_frames(4), &[]);
    assert_eq!(ImportFormat::detect(&zip), ImportFormat::Ppk2);
    assert_eq!(ImportFormat::detect(&write_text(dir.path(), "log.txt", "0,1\n")), ImportFormat::Csv);
    assert_eq!(ImportFormat::detect(&dir.path().join("missing.dat")), ImportFormat::Csv);
    assert_eq!("uA".parse::<CurrentUnit>(), Ok(CurrentUnit::Microamperes));
    assert!("h".parse::<TimeUnit>().unwrap_err().contains("s, ms, us or ns"));
}
