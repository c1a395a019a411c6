#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Golden `.btr` files: format 1 as committed must stay readable with the same values, and today's writer must
//! produce the same bytes. A deliberate format change regenerates them with
//! `UPDATE_GOLDEN=1 cargo test --test btr_golden` and shows up in the diff (and in `docs/btr-format.md`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use benchtop::trace::TraceError;
use benchtop::trace::format::{
    CHUNK_HEADER_LEN, ChunkHeader, ChunkKind, FILE_HEADER_LEN, FILE_MAGIC, TRAILER_LEN, begin_chunk, seal_chunk,
};
use benchtop::trace::{ChannelDef, Trace, TraceWriter};

/// 2023-11-14 22:13:20 UTC.
const CREATED_UNIX_MS: u64 = 1_700_000_000_000;

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name)
}

/// `current` at 10 kHz: 1 mA for samples 0..1000, a 300-sample gap, then 10 µA with 20 mA for the first 50
/// samples of every 500. `voltage` at 1 kHz: 3.0 V for 200 samples, then 2.9 V for 200.
fn current(i: usize) -> f32 {
    if i < 1000 {
        1e-3
    } else if i < 1300 {
        f32::NAN
    } else if i % 500 < 50 {
        20e-3
    } else {
        10e-6
    }
}

fn voltage(i: usize) -> f32 {
    if i < 200 { 3.0 } else { 2.9 }
}

/// Writes the golden content in three flushed pieces, so each channel has three samples chunks.
fn write_golden(path: &Path) {
    let i: Vec<f32> = (0..4000).map(current).collect();
    let v: Vec<f32> = (0..400).map(voltage).collect();
    let mut writer = TraceWriter::create_with_time(path, CREATED_UNIX_MS).unwrap();
    let def = |name: &str, unit: &str, rate| ChannelDef {
        name: name.into(),
        unit: unit.into(),
        sample_rate_hz: rate,
        start_s: 0.0,
    };
    let ch_i = writer.add_channel(def("current", "A", 10_000.0)).unwrap();
    let ch_v = writer.add_channel(def("voltage", "V", 1000.0)).unwrap();
    writer.set_meta("device", serde_json::json!("golden board")).unwrap();
    writer.set_meta("voltage_v", serde_json::json!(3.3)).unwrap();
    writer.append(ch_i, &i[..1000]).unwrap();
    writer.append(ch_v, &v[..100]).unwrap();
    writer.flush().unwrap();
    writer.append_gap(ch_i, 300).unwrap();
    writer.append(ch_i, &i[1300..2500]).unwrap();
    writer.append(ch_v, &v[100..300]).unwrap();
    writer.flush().unwrap();
    writer.append(ch_i, &i[2500..]).unwrap();
    writer.append(ch_v, &v[300..]).unwrap();
    writer.finish().unwrap();
}

/// Bytes past the start of the cut chunk where the crash copy ends: its header, first index, 700 samples and
/// half of the next one.
const CUT_INTO_CHUNK: usize = CHUNK_HEADER_LEN + 8 + 700 * 4 + 2;

/// The file as a crash would leave it: cut in the middle of `current`'s third samples chunk.
fn cut(bytes: &[u8]) -> Vec<u8> {
    let mut at = FILE_HEADER_LEN;
    let mut current_samples_chunks = 0;
    loop {
        let header_bytes: [u8; CHUNK_HEADER_LEN] = bytes[at..at + CHUNK_HEADER_LEN].try_into().unwrap();
        let header = ChunkHeader::decode(&header_bytes).expect("a chunk header");
        if header.kind == ChunkKind::Samples as u8 && header.channel == 0 {
            current_samples_chunks += 1;
            if current_samples_chunks == 3 {
                return bytes[..at + CUT_INTO_CHUNK].to_vec();
            }
        }
        at += CHUNK_HEADER_LEN + header.payload_len as usize;
    }
}

fn close(actual: f64, expected: f64) {
    // Values are stored as f32: 1 mA is 1.0000000475 mA, so sums agree to well within 1 ppm.
    assert!((actual - expected).abs() <= 1e-6 * expected.abs(), "{actual} vs {expected}");
}

#[test]
fn todays_writer_writes_the_golden_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("fresh.btr");
    write_golden(&fresh);
    let bytes = std::fs::read(&fresh).unwrap();
    let cut_bytes = cut(&bytes);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(golden("")).unwrap();
        std::fs::write(golden("trace-v1.btr"), &bytes).unwrap();
        std::fs::write(golden("trace-v1-cut.btr"), &cut_bytes).unwrap();
        return;
    }
    let hint = "the .btr bytes changed; if that is deliberate, run UPDATE_GOLDEN=1 cargo test --test btr_golden";
    assert!(std::fs::read(golden("trace-v1.btr")).unwrap() == bytes, "{hint}");
    assert!(std::fs::read(golden("trace-v1-cut.btr")).unwrap() == cut_bytes, "{hint} (cut copy)");
    assert!(bytes.len() + cut_bytes.len() < 100_000, "golden files must stay small");
}

#[test]
fn the_golden_file_reads_back_with_the_numbers_worked_out_by_hand() {
    let trace = Trace::open(&golden("trace-v1.btr")).unwrap();
    assert!(trace.report().finished);
    assert_eq!(trace.created_unix_ms(), CREATED_UNIX_MS);
    let names: Vec<(&str, &str, f64)> =
        trace.channels().map(|c| (c.name.as_str(), c.unit.as_str(), c.sample_rate_hz)).collect();
    assert_eq!(names, [("current", "A", 10_000.0), ("voltage", "V", 1000.0)]);
    assert_eq!(trace.meta()["device"], "golden board");
    assert_eq!(trace.meta()["voltage_v"], 3.3);
    assert_eq!((trace.sample_count(0), trace.sample_count(1)), (4000, 400));

    let samples = trace.read_samples(0, 998, 1302).unwrap();
    assert_eq!((samples[0], samples[1]), (1e-3, 1e-3));
    assert!(samples[2..302].iter().all(|v| v.is_nan()));
    assert_eq!((samples[302], samples[303]), (10e-6, 10e-6));
    assert_eq!(trace.read_samples(0, 3549, 3551).unwrap(), [20e-3, 10e-6]);

    // 1000 × 1 mA + 250 × 20 mA (5 bursts of 50) + 2450 × 10 µA = 6.0245 A·samples over 3700 samples.
    let stats = trace.stats(0, 0, 4000).unwrap();
    assert_eq!(stats.count, 3700);
    close(stats.mean, 6.0245 / 3700.0);
    close(stats.integral, 6.0245e-4);
    assert_eq!((stats.min, stats.max), (f64::from(10e-6f32), f64::from(20e-3f32)));
    assert!((stats.duration_s - 0.4).abs() < 1e-12);
    let stats = trace.stats(1, 0, 400).unwrap();
    assert_eq!(stats.count, 400);
    close(stats.mean, 2.95);
}

#[test]
fn the_cut_golden_file_opens_up_to_its_last_complete_chunk() {
    let trace = Trace::open(&golden("trace-v1-cut.btr")).unwrap();
    let report = trace.report();
    assert!(!report.finished);
    assert_eq!(report.unreadable_tail_bytes, CUT_INTO_CHUNK as u64);
    // current's level-0 summaries were in the lost tail: its 4 complete blocks are rebuilt from samples.
    assert_eq!(report.rebuilt_blocks, 4);
    assert_eq!(trace.meta()["device"], "golden board");
    assert_eq!((trace.sample_count(0), trace.sample_count(1)), (2500, 300));

    // 1000 × 1 mA + 100 × 20 mA + 1100 × 10 µA = 3.011 A·samples over 2200 samples.
    let stats = trace.stats(0, 0, 2500).unwrap();
    assert_eq!(stats.count, 2200);
    close(stats.integral, 3.011e-4);
    close(stats.mean, 3.011 / 2200.0);
    // 200 × 3.0 V + 100 × 2.9 V over 300 samples.
    close(trace.stats(1, 0, 300).unwrap().mean, 890.0 / 300.0);
}

/// The worked example of `docs/btr-format.md`: one channel, one metadata key, three samples.
fn write_example(path: &Path) {
    let mut writer = TraceWriter::create_with_time(path, CREATED_UNIX_MS).unwrap();
    let def = ChannelDef { name: "i".into(), unit: "A".into(), sample_rate_hz: 1000.0, start_s: 0.0 };
    let ch = writer.add_channel(def).unwrap();
    writer.set_meta("v", serde_json::json!(3.3)).unwrap();
    writer.append(ch, &[1e-3, f32::NAN, 2.5e-3]).unwrap();
    writer.finish().unwrap();
}

/// `xxd`-style lines: offset, 16 bytes in hex, the printable ones as text.
fn hex_dump(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (row, line) in bytes.chunks(16).enumerate() {
        let mut hex = format!("{:08x}:", row * 16);
        for pair in line.chunks(2) {
            hex.push(' ');
            pair.iter().for_each(|b| {
                let _ = write!(hex, "{b:02x}");
            });
        }
        let text: String = line.iter().map(|&b| if (0x20..0x7f).contains(&b) { b as char } else { '.' }).collect();
        let _ = writeln!(out, "{hex:<51}{text}");
    }
    out
}

#[test]
fn the_worked_example_in_the_format_spec_is_what_the_writer_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("example.btr");
    write_example(&path);
    let dump = hex_dump(&std::fs::read(&path).unwrap());
    let spec_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/btr-format.md");
    let spec = std::fs::read_to_string(&spec_path).unwrap();
    if std::env::var_os("UPDATE_GOLDEN").is_some() && !spec.contains(&dump) {
        println!("{dump}");
        panic!("put this dump in docs/btr-format.md, in the worked example's code block");
    }
    assert!(spec.contains(&dump), "docs/btr-format.md must hold this dump of the example:\n{dump}");
}

/// Writes `bytes` to a file in `dir` and opens it.
fn open_bytes(dir: &Path, bytes: &[u8]) -> Result<Trace, TraceError> {
    let path = dir.join("variant.btr");
    std::fs::write(&path, bytes).unwrap();
    Trace::open(&path)
}

#[test]
fn the_spec_prose_holds_for_the_example() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("example.btr");
    write_example(&path);
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes.len(), 364);
    assert_eq!(bytes[..8], FILE_MAGIC);

    // Cut after 0xaa (inside the index): channel, metadata and the three samples by scanning.
    let trace = open_bytes(dir.path(), &bytes[..0xaa + 5]).unwrap();
    assert!(!trace.report().finished);
    assert_eq!((trace.sample_count(0), trace.meta()["v"].as_f64()), (3, Some(3.3)));
    // Cut inside the samples chunk: the channel and the metadata, no samples.
    let trace = open_bytes(dir.path(), &bytes[..0xa0]).unwrap();
    assert_eq!((trace.channel_count(), trace.sample_count(0), trace.meta().len()), (1, 0, 1));

    // A chunk of a kind this reader does not know is skipped (the trailer is dropped to force the scan).
    let mut unknown = Vec::new();
    begin_chunk(&mut unknown, ChunkKind::Meta, 0, 0);
    unknown[4] = 42;
    unknown.extend_from_slice(b"from a newer writer");
    seal_chunk(&mut unknown);
    let mut with_unknown = bytes[..0x86].to_vec();
    with_unknown.extend_from_slice(&unknown);
    with_unknown.extend_from_slice(&bytes[0x86..bytes.len() - TRAILER_LEN]);
    let trace = open_bytes(dir.path(), &with_unknown).unwrap();
    assert_eq!(trace.sample_count(0), 3);
    assert_eq!(trace.read_samples(0, 2, 3).unwrap(), [2.5e-3]);

    // A file that needs a newer reader is refused, with its version named.
    let mut newer = bytes.clone();
    newer[8] = 2;
    newer[10] = 2;
    let crc = crc32c::crc32c(&newer[..28]);
    newer[28..32].copy_from_slice(&crc.to_le_bytes());
    let error = open_bytes(dir.path(), &newer).unwrap_err().to_string();
    assert!(error.contains("newer Benchtop (format 2)"), "{error}");
    // A newer writer whose file older readers can still read (min_reader_version 1) opens.
    newer[10] = 1;
    let crc = crc32c::crc32c(&newer[..28]);
    newer[28..32].copy_from_slice(&crc.to_le_bytes());
    assert_eq!(open_bytes(dir.path(), &newer).unwrap().sample_count(0), 3);
}
