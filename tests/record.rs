#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! `benchtop record` as a user runs it: a protocol board (in process and over a pty) and a text board on a
//! pty, written to a CSV file that a spreadsheet opens.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use serialport::{SerialPort, TTYPort};

const BIN: &str = env!("CARGO_BIN_EXE_benchtop");

/// Rows per channel, and each channel's times, read back from the CSV.
fn read(path: &std::path::Path) -> BTreeMap<String, Vec<(f64, f64, String)>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    assert_eq!(reader.headers().unwrap(), vec!["time_s", "channel", "value", "unit"]);
    let mut channels: BTreeMap<String, Vec<(f64, f64, String)>> = BTreeMap::new();
    for row in reader.records() {
        let row = row.unwrap();
        channels.entry(row[1].to_string()).or_default().push((
            row[0].parse().unwrap(),
            row[2].parse().unwrap(),
            row[3].to_string(),
        ));
    }
    channels
}

#[test]
fn records_the_simulated_board_to_csv() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sim.csv");
    let output =
        Command::new(BIN).args(["record", "sim:seed=41", "--duration", "1500ms", "--out"]).arg(&out).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stderr).contains("of 4 channels"));
    let channels = read(&out);
    assert_eq!(channels.keys().collect::<Vec<_>>(), ["battery", "current", "humidity", "temperature"]);
    // 1 kHz current for ~1.5 s, 10 Hz sensors; times increase within each channel; units come along.
    assert!(channels["current"].len() > 1000, "{}", channels["current"].len());
    assert!(channels["temperature"].len() >= 10);
    for rows in channels.values() {
        assert!(rows.windows(2).all(|w| w[1].0 > w[0].0), "times must increase");
    }
    assert!(channels["temperature"].iter().all(|(_, v, unit)| unit == "°C" && (15.0..30.0).contains(v)));
    // Spacing of the current channel is the device's 1 ms, not the arrival jitter.
    let current = &channels["current"];
    let spacing = (current[101].0 - current[1].0) / 100.0;
    assert!((spacing - 0.001).abs() < 1e-6, "{spacing}");
}

#[test]
fn records_a_plotter_board_on_a_pty_by_label() {
    let (mut master, slave) = TTYPort::pair().unwrap();
    let path = slave.name().unwrap();
    drop(slave);
    master.set_timeout(Duration::from_millis(5)).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer_stop = stop.clone();
    let writer = std::thread::spawn(move || {
        let mut n = 0u32;
        while !writer_stop.load(std::sync::atomic::Ordering::Relaxed) {
            let _ = master.write_all(format!("rssi:-{} snr:{}.25\n", 60 + n % 10, n % 7).as_bytes());
            let mut sink = [0u8; 64];
            let _ = std::io::Read::read(&mut master, &mut sink);
            n += 1;
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("radio.csv");
    let mut child = Command::new(BIN)
        .args(["record", &format!("serial:{path}?format=plotter"), "--duration", "1s", "--out"])
        .arg(&out)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut summary = String::new();
    BufReader::new(child.stderr.take().unwrap()).read_line(&mut summary).unwrap();
    assert!(child.wait().unwrap().success(), "{summary}");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    let channels = read(&out);
    assert_eq!(channels.keys().collect::<Vec<_>>(), ["rssi", "snr"]);
    assert!(channels["rssi"].len() > 50, "{summary}");
    assert!(channels["rssi"].iter().all(|(_, v, _)| (-69.0..=-60.0).contains(v)));
    assert!(channels["snr"].iter().all(|(_, v, _)| v.fract() == 0.25));
}

#[test]
fn bad_outputs_fail_before_connecting() {
    let output = Command::new(BIN).args(["record", "sim", "--out", "/nonexistent-dir/x.csv"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("could not create the recording"), "{stderr}");
    assert!(stderr.trim_end().ends_with("/nonexistent-dir/x.csv"), "the path comes last: {stderr}");
    assert_eq!(stderr.matches("No such file").count(), 1, "the cause once: {stderr}");
    let output = Command::new(BIN).args(["record", "sim", "--out", "x.xlsx"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot record to `x.xlsx`"));
}

#[test]
fn parquet_recordings_read_back_like_csv_ones() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sim.parquet");
    let output =
        Command::new(BIN).args(["record", "sim:seed=42", "--duration", "1s", "--out"]).arg(&out).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let channels = benchtop::io::replay::read_recording(&out).unwrap();
    let names: Vec<&str> = channels.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names.len(), 4, "{names:?}");
    let current = channels.iter().find(|c| c.name == "current").unwrap();
    assert_eq!(current.unit, "nA");
    assert!(current.points.len() > 500);
    assert!(current.points.windows(2).all(|w| w[1].0 > w[0].0));
    let summary = String::from_utf8_lossy(&output.stderr);
    let total: usize = channels.iter().map(|c| c.points.len()).sum();
    assert!(summary.contains(&format!("wrote {total} samples")), "{summary} vs {total}");
}

#[test]
fn a_damaged_recording_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.csv");
    std::fs::write(&path, "time_s,channel,value,unit\n0.1,temp,21.5,°C\n0.2,temp,hot,°C\n").unwrap();
    let error = benchtop::io::replay::read_recording(&path).unwrap_err().to_string();
    assert!(error.contains("line 3: value `hot` is not a number"), "{error}");
    std::fs::write(&path, "a,b\n1,2\n").unwrap();
    let error = benchtop::io::replay::read_recording(&path).unwrap_err().to_string();
    assert!(error.contains("is not a Benchtop recording"), "{error}");
    let cut = dir.path().join("cut.parquet");
    std::fs::write(&cut, b"PAR1 not finished").unwrap();
    let error = benchtop::io::replay::read_recording(&cut).unwrap_err().to_string();
    assert!(error.contains("could not read"), "{error}");
}
