#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The emulated PPK2 checked against the protocol reference by hand: a tiny metadata parser and word decoder
//! written here (not Benchtop's decoder), the conversion formula applied to the parsed constants, the faults
//! counted, and the real-time stream over a pseudo-terminal.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use benchtop::sim::ppk2::waveform::CYCLE_SAMPLES;
use benchtop::sim::ppk2::{Ppk2Emulator, Ppk2Faults, Ppk2Options, serve_pty};

const START: u8 = 0x06;
const STOP: u8 = 0x07;
const METADATA: u8 = 0x19;

/// The 40 keys the reference lists.
fn reference_keys() -> Vec<String> {
    let mut keys = vec!["Calibrated".to_string(), "VDD".into(), "HW".into(), "mode".into(), "IA".into()];
    for prefix in ["R", "GS", "GI", "O", "S", "I", "UG"] {
        keys.extend((0..5).map(|r| format!("{prefix}{r}")));
    }
    keys
}

/// Reads a metadata reply as the reference says: lossily (a stray 0x81 may lead), `KEY: value` lines up to `END`.
fn parse_metadata(bytes: &[u8]) -> HashMap<String, f64> {
    let text = String::from_utf8_lossy(bytes);
    assert!(text.ends_with("END\n"), "reply does not end with END: {text:?}");
    let mut values = HashMap::new();
    for line in text.lines() {
        let line = line.trim_start_matches('\u{FFFD}');
        if line == "END" {
            break;
        }
        let (key, value) = line.split_once(": ").unwrap_or_else(|| panic!("not `KEY: value`: {line:?}"));
        assert!(values.insert(key.to_string(), value.parse::<f64>().unwrap()).is_none(), "{key} twice");
    }
    values
}

/// The reference's conversion, from parsed metadata.
fn convert_a(meta: &HashMap<String, f64>, word: u32, vdd_mv: f64) -> f64 {
    let adc = f64::from(word & 0x3FFF);
    let r = (word >> 14) & 0x7;
    let k = |name: &str| meta[&format!("{name}{r}")];
    let x = (4.0 * adc - k("O")) * (1.8 / 163_840.0) / k("R");
    k("UG") * (x * (k("GS") * x + k("GI")) + k("S") * (vdd_mv / 1000.0) + k("I"))
}

fn words(bytes: &[u8]) -> Vec<u32> {
    bytes.chunks_exact(4).map(|w| u32::from_le_bytes(w.try_into().unwrap())).collect()
}

fn emulator(faults: &str) -> Ppk2Emulator {
    Ppk2Emulator::new(Ppk2Options { seed: 5, faults: Ppk2Faults::parse(faults).unwrap(), ..Ppk2Options::default() })
}

#[test]
fn metadata_has_every_reference_key_and_the_example_values() {
    let meta = parse_metadata(&emulator("").receive(&[METADATA]));
    let mut keys: Vec<&String> = meta.keys().collect();
    let mut expected = reference_keys();
    keys.sort();
    expected.sort();
    assert_eq!(keys, expected.iter().collect::<Vec<_>>());
    assert_eq!(meta["R0"], 1003.3506);
    assert_eq!(meta["GS1"], 112.789);
    assert_eq!(meta["O4"], 87.2177);
    assert_eq!(meta["I4"], -0.009388455);
    assert_eq!((meta["VDD"], meta["HW"], meta["mode"], meta["IA"]), (3000.0, 9173.0, 2.0, 56.0));
}

#[test]
fn quirky_metadata_still_parses_lossily() {
    let mut unit = emulator("stray-byte,fragment=50,corrupt-calibration");
    let mut reply = unit.receive(&[METADATA]);
    assert_eq!(reply.len(), 50);
    assert_eq!(reply[0], 0x81);
    while !reply.ends_with(b"END\n") {
        let piece = unit.produce(0);
        assert!(!piece.is_empty(), "reply stopped before END");
        reply.extend(piece);
    }
    let meta = parse_metadata(&reply);
    assert_eq!(meta["R0"], 3.1e27);
    assert_eq!([meta["R1"], meta["R2"], meta["R3"], meta["R4"]], [0.0; 4]);
}

#[test]
fn words_decode_by_hand_to_the_cycle() {
    let mut unit = emulator("");
    unit.receive(&[START]);
    let stream = words(&unit.produce(2 * CYCLE_SAMPLES as usize));
    assert_eq!(stream.len(), 20_000);
    for (i, &word) in stream.iter().enumerate() {
        let ms_in_cycle = (i % 10_000) / 100;
        let expected_range = match ms_in_cycle {
            0..60 => 0,
            60..70 => 1,
            70..80 => 2,
            80..90 => 3,
            _ => 4,
        };
        assert_eq!((word >> 14) & 0x7, expected_range, "sample {i}");
        assert_eq!((word >> 18) & 0x3F, i as u32 % 64, "counter at sample {i}");
        let d0 = word >> 24 & 1;
        let d1 = word >> 25 & 1;
        assert_eq!(d0, u32::from(ms_in_cycle >= 90), "D0 at sample {i}");
        assert_eq!(d1, (i as u32 / 1000) % 2, "D1 at sample {i}");
        assert_eq!(word >> 26, 0, "D2-D7 at sample {i}");
    }
}

#[test]
fn conversion_round_trips_within_half_an_adc_step_in_every_range() {
    for vdd_mv in [1800u16, 3000, 5000] {
        let mut unit = emulator("");
        unit.receive(&[0x0D, (vdd_mv >> 8) as u8, vdd_mv as u8, METADATA]);
        let meta = parse_metadata(&unit.receive(&[METADATA]));
        assert_eq!(meta["VDD"], f64::from(vdd_mv));
        unit.receive(&[START]);
        let stream = words(&unit.produce(CYCLE_SAMPLES as usize));
        let mut seen_ranges = [0usize; 5];
        for (i, &word) in stream.iter().enumerate() {
            let i = i as u64;
            let decoded = convert_a(&meta, word, f64::from(vdd_mv));
            let step = convert_a(&meta, word + 1, f64::from(vdd_mv)) - decoded;
            let expected = unit.expected_current_a(i);
            assert!((decoded - unit.quantised_current_a(i)).abs() <= 1e-12 * decoded.abs(), "sample {i}");
            assert!((decoded - expected).abs() <= step / 2.0 * (1.0 + 1e-9), "sample {i}: {expected} → {decoded}");
            seen_ranges[((word >> 14) & 7) as usize] += 1;
        }
        assert_eq!(seen_ranges, [6000, 1000, 1000, 1000, 1000]);
    }
}

#[test]
fn user_gain_changes_the_metadata_and_the_decoded_value_not_the_code() {
    let mut unit = emulator("");
    unit.receive(&[START]);
    let before = words(&unit.produce(8_000))[7_500];
    let gain = 1.1f32.to_le_bytes();
    unit.receive(&[0x25, 2, gain[0], gain[1]]);
    unit.receive(&[gain[2], gain[3], STOP]);
    let meta = parse_metadata(&unit.receive(&[METADATA]));
    assert_eq!(meta["UG2"], 1.1);
    assert_eq!(unit.sample(7_500).word, before);
    let decoded = convert_a(&meta, before, 3000.0);
    // The metadata prints gains to two decimals as a real unit does; the unit keeps the f32 the host sent
    // (1.10000002…), so the two decodings differ in the eighth digit.
    assert!((decoded / unit.quantised_current_a(7_500) - 1.0).abs() < 1e-7);
    assert!((decoded / unit.expected_current_a(7_500) - 1.1).abs() < 0.01);
}

#[test]
fn commands_split_across_writes_are_understood() {
    let mut unit = emulator("");
    // 3300 mV as IRNAS computes it (0x0C 0xE4), then ampere mode and metadata, cut at awkward places.
    for piece in [&[0x0D][..], &[0x0C], &[0xE4, 0x11], &[0x01, 0x19]] {
        let reply = unit.receive(piece);
        assert_eq!(reply.is_empty(), piece != [0x01, 0x19]);
        if !reply.is_empty() {
            let meta = parse_metadata(&reply);
            assert_eq!((meta["VDD"], meta["mode"]), (3300.0, 1.0));
        }
    }
    assert_eq!(unit.counters().commands, 3);
}

#[test]
fn drop_samples_leaves_counter_gaps_that_add_up_to_the_count() {
    let mut unit = emulator("drop-samples=0.05");
    unit.receive(&[START]);
    let stream = words(&unit.produce(100_000));
    let counters = unit.counters();
    assert_eq!(stream.len() as u64, counters.samples_sent);
    assert_eq!(counters.samples_sent + counters.dropped_samples, 100_000);
    assert!((4_000..6_000).contains(&counters.dropped_samples), "{counters:?}");
    let mut gaps = 0;
    let mut expected = 0u32;
    for &word in &stream {
        let counter = (word >> 18) & 0x3F;
        gaps += counter.wrapping_sub(expected) & 0x3F;
        expected = (counter + 1) & 0x3F;
    }
    // Drops after the last word sent leave no gap in the stream; the last sample made was number 99,999.
    let trailing = (99_999u32 % 64).wrapping_sub(expected.wrapping_sub(1)) & 0x3F;
    assert_eq!(u64::from(gaps + trailing), counters.dropped_samples);
}

#[test]
fn drop_bytes_removes_exactly_the_counted_bytes() {
    let mut unit = emulator("drop-bytes=0.001");
    unit.receive(&[START]);
    let bytes = unit.produce(100_000);
    let dropped = unit.counters().dropped_bytes;
    assert_eq!(bytes.len() as u64 + dropped, 400_000);
    assert!((250..550).contains(&dropped), "{dropped}");
    assert_eq!(unit.counters().dropped_samples, 0);
}

fn open(path: &str) -> Box<dyn serialport::SerialPort> {
    serialport::new(path, 115_200).timeout(Duration::from_millis(50)).open().unwrap()
}

/// Reads until `until` says stop or `limit` passes; returns what arrived.
fn read_for(port: &mut dyn serialport::SerialPort, limit: Duration, until: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline && !until(&got) {
        match port.read(&mut buf) {
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => panic!("read failed: {e}"),
        }
    }
    got
}

#[test]
fn over_a_pty_metadata_then_100_ks_per_second_then_silence() {
    let (path, handle) = serve_pty(Ppk2Options::default()).unwrap();
    let mut port = open(&path);

    port.write_all(&[STOP, METADATA]).unwrap();
    let reply = read_for(&mut *port, Duration::from_secs(2), |got| got.ends_with(b"END\n"));
    assert_eq!(parse_metadata(&reply).len(), 40);

    port.write_all(&[START]).unwrap();
    let first = read_for(&mut *port, Duration::from_secs(2), |got| !got.is_empty());
    let measuring_from = Instant::now();
    let stream = read_for(&mut *port, Duration::from_millis(500), |_| false);
    let elapsed_s = measuring_from.elapsed().as_secs_f64();
    let words_per_s = stream.len() as f64 / 4.0 / elapsed_s;
    assert!((60_000.0..140_000.0).contains(&words_per_s), "{words_per_s:.0} words/s");

    // Nothing lost while the host kept reading: the counter runs on without a gap.
    let all = [first, stream].concat();
    if handle.counters().overflow_samples == 0 {
        for pair in words(&all).windows(2) {
            assert_eq!((pair[1] >> 18) & 0x3F, ((pair[0] >> 18) + 1) & 0x3F);
        }
    }

    port.write_all(&[STOP]).unwrap();
    // Drain what was in flight, then expect silence.
    let mut quiet_since = Instant::now();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(2);
    while quiet_since.elapsed() < Duration::from_millis(100) && Instant::now() < deadline {
        if let Ok(n) = port.read(&mut buf)
            && n > 0
        {
            quiet_since = Instant::now();
        }
    }
    let after_stop = read_for(&mut *port, Duration::from_millis(300), |_| false);
    assert!(after_stop.is_empty(), "{} bytes after stop", after_stop.len());
    let counters = handle.stop().unwrap();
    assert!(counters.samples_sent > 30_000, "{counters:?}");
}

#[test]
fn over_a_pty_a_stale_unit_streams_at_a_new_host_until_stopped() {
    let (path, handle) =
        serve_pty(Ppk2Options { faults: Ppk2Faults::parse("stale=17412").unwrap(), ..Ppk2Options::default() }).unwrap();
    let mut port = open(&path);
    let stale = read_for(&mut *port, Duration::from_secs(2), |got| got.len() >= 20_000);
    assert!(stale.len() >= 20_000, "only {} bytes arrived unasked", stale.len());
    port.write_all(&[STOP]).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    port.clear(serialport::ClearBuffer::Input).unwrap();
    port.write_all(&[METADATA]).unwrap();
    let reply = read_for(&mut *port, Duration::from_secs(2), |got| got.ends_with(b"END\n"));
    assert!(reply.starts_with(b"Calibrated: "), "metadata after stop and drain starts clean");
    assert_eq!(handle.counters().stale_bytes, 17_412);
}
