//! Unit tests of the emulated PPK2's command parser, reply queue and stream.

use super::*;
use crate::sim::ppk2::waveform::CYCLE_SAMPLES;

fn emulator(faults: Ppk2Faults) -> Ppk2Emulator {
    Ppk2Emulator::new(Ppk2Options { seed: 7, faults, ..Ppk2Options::default() })
}

fn words(bytes: &[u8]) -> Vec<u32> {
    assert_eq!(bytes.len() % 4, 0);
    bytes.chunks_exact(4).map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]])).collect()
}

#[test]
fn commands_cut_at_every_byte_are_applied_once_complete() {
    let mut unit = emulator(Ppk2Faults::default());
    let gain = 1.05f32.to_le_bytes();
    let script = [
        &[OP_REGULATOR, 0x0C, 0xE4][..],
        &[OP_MODE, 1],
        &[OP_DUT_POWER, 0],
        &[OP_USER_GAIN, 3, gain[0], gain[1], gain[2], gain[3]],
        &[OP_START],
    ]
    .concat();
    for (i, byte) in script.iter().enumerate() {
        assert!(unit.receive(&[*byte]).is_empty());
        if i == 1 {
            assert_eq!(unit.vdd_mv(), 3000, "applied before its second payload byte");
        }
    }
    assert_eq!(unit.vdd_mv(), 3300);
    assert_eq!(unit.mode(), Ppk2Mode::Ampere);
    assert!(!unit.dut_powered());
    assert!((unit.reported_calibration().user_gain[3] - 1.05).abs() < 1e-6);
    assert!(unit.streaming());
    assert_eq!(unit.counters().commands, 5);
    assert_eq!(unit.counters().ignored_commands, 0);
}

#[test]
fn values_out_of_bounds_and_unknown_opcodes_are_ignored_and_counted() {
    let mut unit = emulator(Ppk2Faults::default());
    let nan = f32::NAN.to_le_bytes();
    unit.receive(&[OP_REGULATOR, 0x03, 0x1F]); // 799 mV
    unit.receive(&[OP_REGULATOR, 0x13, 0x89]); // 5001 mV
    unit.receive(&[OP_MODE, 3, OP_DUT_POWER, 2, 0x42]);
    unit.receive(&[OP_USER_GAIN, 5, 0, 0, 0x80, 0x3F, OP_USER_GAIN, 0, nan[0], nan[1], nan[2], nan[3]]);
    assert_eq!(unit.counters().ignored_commands, 7);
    assert_eq!((unit.vdd_mv(), unit.mode(), unit.dut_powered()), (3000, Ppk2Mode::Source, true));
    assert_eq!(unit.reported_calibration().user_gain, [1.0; 5]);
    unit.receive(&[OP_REGULATOR, 0x03, 0x20, OP_REGULATOR, 0x13, 0x88]);
    assert_eq!(unit.vdd_mv(), 5000);
}

#[test]
fn metadata_reports_the_present_settings() {
    let mut unit = emulator(Ppk2Faults::default());
    let text = String::from_utf8(unit.receive(&[OP_REGULATOR, 0x0C, 0xE4, OP_MODE, 1, OP_METADATA])).unwrap();
    assert!(text.starts_with("Calibrated: 0\nR0: 1003.3506\n"));
    assert!(text.contains("\nVDD: 3300\n") && text.contains("\nmode: 1\n") && text.ends_with("IA: 56\nEND\n"));
    assert_eq!(unit.counters().metadata_replies, 1);
}

#[test]
fn stray_byte_precedes_only_the_first_reply() {
    let mut unit = emulator(Ppk2Faults { metadata_stray_byte: true, ..Ppk2Faults::default() });
    let first = unit.receive(&[OP_METADATA]);
    let second = unit.receive(&[OP_METADATA]);
    assert_eq!(first[0], STRAY_BYTE);
    assert_eq!(&first[1..], &second[..]);
    assert_eq!(second[0], b'C');
}

#[test]
fn fragmented_metadata_comes_out_one_piece_per_round() {
    let whole = emulator(Ppk2Faults::default()).receive(&[OP_METADATA]);
    let mut unit = emulator(Ppk2Faults { metadata_fragment_bytes: 100, ..Ppk2Faults::default() });
    let mut pieces = vec![unit.receive(&[OP_METADATA])];
    loop {
        let piece = unit.produce(0);
        if piece.is_empty() {
            break;
        }
        pieces.push(piece);
    }
    assert_eq!(pieces.len(), whole.len().div_ceil(100));
    assert!(pieces.iter().all(|p| p.len() <= 100));
    assert_eq!(pieces.concat(), whole);
}

#[test]
fn reset_restores_power_on_and_loses_the_rest_of_its_write() {
    let mut unit = emulator(Ppk2Faults::default());
    unit.receive(&[OP_REGULATOR, 0x0C, 0xE4, OP_START]);
    unit.produce(100);
    assert!(unit.receive(&[OP_RESET, OP_METADATA]).is_empty());
    assert!(!unit.streaming());
    assert_eq!((unit.vdd_mv(), unit.next_sample_index()), (3000, 0));
    assert!(!unit.receive(&[OP_METADATA]).is_empty());
}

#[test]
fn stopped_unit_sends_nothing_and_keeps_its_index() {
    let mut unit = emulator(Ppk2Faults::default());
    assert!(unit.produce(1000).is_empty());
    unit.skip_samples(50);
    assert_eq!(unit.next_sample_index(), 0);
    unit.receive(&[OP_START]);
    assert_eq!(unit.produce(10).len(), 40);
    unit.receive(&[OP_STOP]);
    assert!(unit.produce(10).is_empty());
    assert_eq!(unit.next_sample_index(), 10);
}

#[test]
fn words_carry_the_waveform_fields() {
    let mut unit = emulator(Ppk2Faults::default());
    unit.receive(&[OP_START]);
    let stream = words(&unit.produce(CYCLE_SAMPLES as usize));
    for (index, &word) in stream.iter().enumerate() {
        let index = index as u64;
        let expected = unit.sample(index);
        assert_eq!(word, expected.word);
        assert_eq!((word >> 18) & 0x3F, (index % 64) as u32);
        assert_eq!((word >> 14) & 0x7, u32::from(waveform::segment_at(index).range));
        assert_eq!(word >> 24, u32::from(waveform::logic(index)));
        assert_eq!(word & (1 << 17), 0, "bit 17 is unused");
    }
}

#[test]
fn unpowered_dut_draws_nothing_and_its_lines_are_low() {
    let mut unit = emulator(Ppk2Faults::default());
    unit.receive(&[OP_DUT_POWER, 0, OP_START]);
    let index = 9_500;
    let sample = unit.sample(index);
    assert_eq!((sample.current_a, sample.range, sample.logic), (0.0, 0, 0));
    assert!(unit.quantised_current_a(index).abs() < 50e-9, "within one range-0 step of 0 A");
}

#[test]
fn over_range_stretch_pins_the_adc_field() {
    let unit = emulator(Ppk2Faults { over_range: true, ..Ppk2Faults::default() });
    let pinned = unit.sample(9_550);
    assert_eq!((pinned.adc14, pinned.range, pinned.over_range), (0x3FFF, 4, true));
    assert_eq!(unit.expected_current_a(9_550), waveform::OVER_RANGE_A);
    assert!(unit.quantised_current_a(9_550) < waveform::OVER_RANGE_A);
    assert!(!unit.sample(9_600).over_range);
}

#[test]
fn stale_backlog_is_the_unaligned_tail_of_the_stream_until_stop() {
    let mut unit = emulator(Ppk2Faults { stale_bytes_on_open: 17, ..Ppk2Faults::default() });
    assert!(unit.streaming(), "left streaming by an earlier session");
    unit.host_opened();
    let backlog = unit.produce(0);
    assert_eq!(backlog.len(), 17);
    // 17 bytes are the last 17 of 5 words: the last byte of word 0, then words 1 to 4 whole.
    assert_eq!(&backlog[1..], &[1, 2, 3, 4].map(|i| unit.sample(i).word.to_le_bytes()).concat()[..]);
    assert_eq!(unit.counters().stale_bytes, 17);
    unit.receive(&[OP_STOP]);
    unit.host_closed();
    unit.host_opened();
    assert!(unit.produce(100).is_empty(), "stopped: nothing stale on the next open");
}

#[test]
fn host_close_cuts_dut_power_and_keeps_mode_and_vdd() {
    let mut unit = emulator(Ppk2Faults::default());
    unit.receive(&[OP_REGULATOR, 0x0C, 0xE4, OP_MODE, 1, OP_START]);
    unit.host_closed();
    assert!(!unit.dut_powered() && unit.streaming());
    assert_eq!((unit.vdd_mv(), unit.mode()), (3300, Ppk2Mode::Ampere));
}

#[test]
fn same_seed_same_bytes_under_faults() {
    let faults = Ppk2Faults { drop_byte_probability: 0.01, drop_sample_probability: 0.01, ..Ppk2Faults::default() };
    let run = |seed| {
        let mut unit = Ppk2Emulator::new(Ppk2Options { seed, faults: faults.clone(), ..Ppk2Options::default() });
        unit.receive(&[OP_START]);
        unit.produce(5_000)
    };
    assert_eq!(run(3), run(3));
    assert_ne!(run(3), run(4));
}
