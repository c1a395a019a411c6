//! Export tests: import → export → import round trips, both layouts, Parquet read back, ranges and errors.

use std::path::{Path, PathBuf};

use arrow_array::{Array as _, Float32Array, Float64Array, RecordBatch, StringArray};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::*;
use crate::trace::import::tests::{ppk2_frames, write_ppk2};
use crate::trace::import::{ImportOptions, import_file};
use crate::trace::{ChannelDef, TraceWriter};

fn read_parquet(path: &Path) -> Vec<RecordBatch> {
    let file = File::open(path).unwrap();
    ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .with_batch_size(8192)
        .build()
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn f32_column(batch: &RecordBatch, index: usize) -> &Float32Array {
    batch.column(index).as_any().downcast_ref::<Float32Array>().unwrap()
}

/// A trace with `current` at 1 kHz (a gap at 100..150) and `battery` at 10 Hz starting at 0.05 s.
fn two_rates(dir: &Path) -> PathBuf {
    let path = dir.join("two.btr");
    let mut writer = TraceWriter::create(&path).unwrap();
    let def = |name: &str, unit: &str, rate, start_s| ChannelDef {
        name: name.into(),
        unit: unit.into(),
        sample_rate_hz: rate,
        start_s,
    };
    let current = writer.add_channel(def("current", "A", 1000.0, 0.0)).unwrap();
    let battery = writer.add_channel(def("battery", "V", 10.0, 0.05)).unwrap();
    let samples: Vec<f32> =
        (0..2000).map(|i| if (100..150).contains(&i) { f32::NAN } else { i as f32 * 1e-6 }).collect();
    writer.append(current, &samples).unwrap();
    writer.append(battery, &(0..20).map(|i| 3.0 + i as f32 * 0.01).collect::<Vec<_>>()).unwrap();
    writer.finish().unwrap();
    path
}

#[test]
fn csv_import_export_import_gives_back_every_sample() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("in.csv");
    // 200,000 rows at 100 kHz cross several export pieces; rows 70,000..70,123 are missing.
    let mut text = String::from("time_s,current_ua\n");
    for i in (0..200_000).filter(|i| !(70_000..70_123).contains(i)) {
        text += &format!("{:.5},{}\n", i as f64 * 1e-5, (i % 997) as f64 * 0.37);
    }
    std::fs::write(&source, text).unwrap();
    let first = dir.path().join("first.btr");
    import_file(&source, &first, &ImportOptions::default()).unwrap();
    let trace = Trace::open(&first).unwrap();
    let csv_path = dir.path().join("out.csv");
    let summary = export(&trace, &csv_path, &ExportOptions::default()).unwrap();
    assert_eq!((summary.layout, summary.rows, summary.values), (Layout::Wide, 200_000, 200_000 - 123));

    let text = std::fs::read_to_string(&csv_path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("time_s,current_A"));
    assert_eq!(lines.nth(70_000), Some("0.7000000,"), "a gap is an empty cell");

    let second = dir.path().join("second.btr");
    import_file(&csv_path, &second, &ImportOptions::default()).unwrap();
    let again = Trace::open(&second).unwrap();
    assert_eq!(again.channel(0), trace.channel(0));
    let (a, b) = (trace.read_samples(0, 0, 200_000).unwrap(), again.read_samples(0, 0, 200_000).unwrap());
    assert_eq!(b.len(), 200_000);
    assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())));
}

#[test]
fn a_ppk2_import_exports_wide_parquet_with_nulls_for_lost_samples() {
    let dir = tempfile::tempdir().unwrap();
    let ppk2 = dir.path().join("s.ppk2");
    write_ppk2(
        &ppk2,
        r#"{"metadata":{"samplesPerSecond":100000,"startSystemTime":0},"formatVersion":2}"#,
        &ppk2_frames(70_000),
        &[],
    );
    let btr = dir.path().join("s.btr");
    import_file(&ppk2, &btr, &ImportOptions::default()).unwrap();
    let trace = Trace::open(&btr).unwrap();
    let out = dir.path().join("s.parquet");
    let options = ExportOptions { channels: vec!["current".into(), "D0".into()], ..ExportOptions::default() };
    let summary = export(&trace, &out, &options).unwrap();
    assert_eq!((summary.layout, summary.rows), (Layout::Wide, 70_000));

    let batches = read_parquet(&out);
    let names: Vec<String> = batches[0].schema().fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(names, ["time_s", "current_A", "D0"]);
    assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 70_000);
    let first = &batches[0];
    let time = first.column(0).as_any().downcast_ref::<Float64Array>().unwrap();
    assert!((time.value(1100) - 0.011).abs() < 1e-12);
    assert!((f32_column(first, 1).value(1100) - 2e-3).abs() < 1e-9);
    assert_eq!(f32_column(first, 2).value(1100), 1.0);
    assert!(f32_column(first, 1).is_null(5000) && f32_column(first, 2).is_null(5000));
    assert_eq!(f32_column(first, 1).null_count(), 1);
}

#[test]
fn channels_of_different_rates_export_long_and_a_range_cuts_rows() {
    let dir = tempfile::tempdir().unwrap();
    let trace = Trace::open(&two_rates(dir.path())).unwrap();
    let out = dir.path().join("long.csv");
    let summary = export(&trace, &out, &ExportOptions::default()).unwrap();
    assert_eq!((summary.layout, summary.rows, summary.values), (Layout::Long, 2020, 1970));
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "time_s,channel,value,unit");
    assert_eq!(lines[1 + 120], "0.12000,current,,A");
    assert_eq!(lines[1 + 2000], "0.050,battery,3,V");
    assert!(lines[1 + 2019].starts_with("1.950,battery,3.1") && lines[1 + 2019].ends_with(",V"), "{}", lines[2020]);

    // 0.5 s ..< 1.0 s: 500 current samples and battery samples 5..9 (0.55 s … 0.95 s).
    let options = ExportOptions { from_s: Some(0.5), to_s: Some(1.0), channels: Vec::new() };
    let out = dir.path().join("range.parquet");
    let summary = export(&trace, &out, &options).unwrap();
    assert_eq!(summary.rows, 505);
    let batches = read_parquet(&out);
    let last = batches.last().unwrap();
    let channel = last.column(1).as_any().downcast_ref::<StringArray>().unwrap();
    assert_eq!(channel.value(last.num_rows() - 1), "battery");
    assert!((f32_column(last, 2).value(last.num_rows() - 1) - 3.09).abs() < 1e-6);
}

#[test]
fn export_errors_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let trace = Trace::open(&two_rates(dir.path())).unwrap();
    let error = export(&trace, &dir.path().join("x.xlsx"), &ExportOptions::default()).unwrap_err().to_string();
    assert!(error.contains("name the output .csv or .parquet") && error.ends_with("x.xlsx"), "{error}");
    let backwards = ExportOptions { from_s: Some(2.0), to_s: Some(1.0), channels: Vec::new() };
    let error = export(&trace, &dir.path().join("x.csv"), &backwards).unwrap_err().to_string();
    assert!(error.contains("must be after --from") && error.ends_with("two.btr"), "{error}");
    let unknown = ExportOptions { channels: vec!["voltage".into()], ..ExportOptions::default() };
    let error = export(&trace, &dir.path().join("x.csv"), &unknown).unwrap_err().to_string();
    assert!(error.contains("no channel `voltage`") && error.contains("current, battery"), "{error}");
    assert!(!dir.path().join("x.csv").exists() && !dir.path().join("x.csv.part").exists());
}

#[test]
fn time_decimals_follow_the_rate() {
    assert_eq!(time_decimals(1.0), 3);
    assert_eq!(time_decimals(1000.0), 5);
    assert_eq!(time_decimals(100_000.0), 7);
    assert_eq!(time_decimals(3000.0), 6);
}
