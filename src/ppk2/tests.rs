//! Stream-level tests of the PPK2 decoder: synthetic words split at every byte offset, injected byte and word
//! losses checked sample by sample against the source, 64-sample losses found by the clock, and proptests of
//! random loss patterns. The metadata, conversion, command and filter tests live beside their code.

use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

use super::{Block, Converter, DecodeStats, Decoder, GAP, GAP_RANGE, INVALID_RANGE, OVER_RANGE, parse_metadata};

/// The reference's example metadata (ppk2-rs doc comment), one `KEY: value` per line as the device sends it.
pub(super) const EXAMPLE_METADATA: &str = "Calibrated: 0
R0: 1003.3506
R1: 101.5865
R2: 10.3027
R3: 0.9636
R4: 0.0564
GS0: 0.0000
GS1: 112.7890
GS2: 18.0115
GS3: 2.4217
GS4: 0.0729
GI0: 1.0000
GI1: 0.9695
GI2: 0.9609
GI3: 0.9519
GI4: 0.9582
O0: 112.9420
O1: 75.4627
O2: 64.6020
O3: 50.4983
O4: 87.2177
VDD: 3000
HW: 9173
mode: 2
S0: 0.000000048
S1: 0.000000596
S2: 0.000005281
S3: 0.000062577
S4: 0.002940743
I0: -0.000000104
I1: -0.000001443
I2: 0.000036439
I3: -0.000374119
I4: -0.009388455
UG0: 1.00
UG1: 1.00
UG2: 1.00
UG3: 1.00
UG4: 1.00
IA: 56
END
";

/// A converter from the example metadata at its 3000 mV.
pub(super) fn example_converter() -> Converter {
    let metadata = parse_metadata(EXAMPLE_METADATA.as_bytes()).unwrap();
    Converter::new(&metadata.calibration, metadata.vdd_mv)
}

/// One stream word as the PPK2 packs it.
fn word(adc: u16, range: u8, counter: u8, logic: u8) -> u32 {
    u32::from(adc & 0x3FFF)
        | (u32::from(range & 0x7) << 14)
        | (u32::from(counter & 0x3F) << 18)
        | (u32::from(logic) << 24)
}

/// `samples` words with counters 0, 1, 2, … and random codes, ranges 0-4 and logic.
fn source_words(samples: usize, seed: u64) -> Vec<u32> {
    let mut rng = Pcg64::seed_from_u64(seed);
    (0..samples).map(|k| word(rng.random_range(0..0x3FFF), rng.random_range(0..5), k as u8, rng.random())).collect()
}

fn to_bytes(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

fn decoder() -> Decoder {
    Decoder::new(example_converter())
}

/// Decodes `bytes` in reads of random sizes (0 to 600 bytes, often tiny), then flushes.
fn decode_in_pieces(bytes: &[u8], seed: u64) -> (Block, DecodeStats) {
    let mut rng = Pcg64::seed_from_u64(seed);
    let (mut decoder, mut block) = (decoder(), Block::new());
    let mut rest = bytes;
    while !rest.is_empty() {
        let size = if rng.random_bool(0.3) { rng.random_range(0..8) } else { rng.random_range(0..600) };
        let (piece, tail) = rest.split_at(size.min(rest.len()));
        decoder.push(piece, &mut block);
        rest = tail;
    }
    decoder.flush(&mut block);
    (block, decoder.stats())
}

/// Asserts sample `index` of `block` is exactly `source`'s word decoded.
fn assert_sample(block: &Block, index: usize, source: u32, converter: &Converter) {
    let expected_a = converter.current_from_word(source);
    assert_eq!(block.current_a[index].to_bits(), expected_a.to_bits(), "current of sample {index}");
    assert_eq!(block.logic[index], (source >> 24) as u8, "logic of sample {index}");
    assert_eq!(block.range[index], ((source >> 14) & 7) as u8, "range of sample {index}");
    assert_eq!(block.flags[index] & GAP, 0, "sample {index} is not a gap");
}

#[test]
fn every_split_point_of_a_clean_stream_decodes_every_sample() {
    let source = source_words(300, 1);
    let bytes = to_bytes(&source);
    let converter = example_converter();
    for split in 0..=bytes.len() {
        let (mut decoder, mut block) = (decoder(), Block::new());
        decoder.push(&bytes[..split], &mut block);
        decoder.push(&bytes[split..], &mut block);
        decoder.flush(&mut block);
        assert_eq!(block.len(), source.len(), "split at byte {split}");
        for (index, &w) in source.iter().enumerate() {
            assert_sample(&block, index, w, &converter);
        }
        let stats = decoder.stats();
        assert_eq!((stats.samples, stats.lost_samples, stats.discarded_bytes), (300, 0, 0), "split at {split}");
    }
}

#[test]
fn reads_of_random_sizes_and_one_byte_reads_give_the_same_samples() {
    let source = source_words(5000, 2);
    let bytes = to_bytes(&source);
    let (pieces, _) = decode_in_pieces(&bytes, 3);
    let (mut decoder, mut single) = (decoder(), Block::new());
    for byte in &bytes {
        decoder.push(std::slice::from_ref(byte), &mut single);
    }
    decoder.flush(&mut single);
    let converter = example_converter();
    for block in [&pieces, &single] {
        assert_eq!(block.len(), 5000);
        for (index, &w) in source.iter().enumerate() {
            assert_sample(block, index, w, &converter);
        }
    }
}

#[test]
fn words_wait_for_confirmation_and_flush_releases_them() {
    let bytes = to_bytes(&source_words(10, 4));
    let (mut decoder, mut block) = (decoder(), Block::new());
    decoder.push(&bytes[..4 * 9 + 2], &mut block);
    // Nothing until the scoring window is full at the very start; flush decides with what is there.
    assert!(block.len() < 9);
    decoder.push(&bytes[4 * 9 + 2..], &mut block);
    decoder.flush(&mut block);
    assert_eq!(block.len(), 10);
    assert_eq!(decoder.buffered_bytes(), 0);
}

#[test]
fn over_range_and_invalid_range_are_flagged_and_counted() {
    let mut source = source_words(200, 5);
    source[50] = word(0x3FFF, 2, 50, 0x81);
    source[51] = word(100, 5, 51, 0);
    source[52] = word(100, 7, 52, 0);
    let (block, stats) = decode_in_pieces(&to_bytes(&source), 6);
    assert_eq!(block.flags[50], OVER_RANGE);
    assert!(block.current_a[50].is_finite(), "an over-range sample still converts");
    assert_eq!(block.logic[50], 0x81);
    for index in [51, 52] {
        assert_eq!(block.flags[index], INVALID_RANGE);
        assert!(block.current_a[index].is_nan());
    }
    assert_eq!(block.range[52], 7);
    assert_eq!((stats.over_range, stats.invalid_range), (1, 2));
}

#[test]
fn whole_word_losses_become_gaps_of_exactly_their_length() {
    let source = source_words(2000, 7);
    let converter = example_converter();
    for lost in [1usize, 2, 5, 31, 63] {
        let mut kept = source.clone();
        kept.drain(1000..1000 + lost);
        let (block, stats) = decode_in_pieces(&to_bytes(&kept), lost as u64);
        assert_eq!(block.len(), 2000, "{lost} lost");
        for (index, &w) in source.iter().enumerate() {
            if (1000..1000 + lost).contains(&index) {
                assert_eq!(block.flags[index], GAP);
                assert!(block.current_a[index].is_nan());
                assert_eq!((block.logic[index], block.range[index]), (0, GAP_RANGE));
            } else {
                assert_sample(&block, index, w, &converter);
            }
        }
        assert_eq!((stats.lost_samples, stats.gaps, stats.resyncs), (lost as u64, 1, 0));
    }
}

#[test]
fn a_stream_starting_mid_word_aligns_without_a_gap() {
    let source = source_words(500, 8);
    let bytes = to_bytes(&source);
    let (block, stats) = decode_in_pieces(&bytes[3..], 9);
    // Word 0 is cut, so the stream starts at word 1.
    assert_eq!(block.len(), 499);
    assert_sample(&block, 0, source[1], &example_converter());
    assert_eq!((stats.discarded_bytes, stats.lost_samples, stats.resyncs), (1, 0, 0));
}

/// A loss injected into a source stream.
#[derive(Debug, Clone, Copy)]
enum Loss {
    /// `count` bytes (1-3) removed starting at byte `at_byte` of the stream.
    Bytes { at_byte: usize, count: usize },
    /// `count` whole words removed starting at word `at_word`.
    Words { at_word: usize, count: usize },
}

/// The stream with `losses` (in increasing position, far apart) applied, and which source samples lost a byte.
fn apply_losses(source: &[u32], losses: &[Loss]) -> (Vec<u8>, Vec<bool>) {
    let bytes = to_bytes(source);
    let mut removed = vec![false; bytes.len()];
    for loss in losses {
        let (from, count) = match *loss {
            Loss::Bytes { at_byte, count } => (at_byte, count),
            Loss::Words { at_word, count } => (4 * at_word, 4 * count),
        };
        removed[from..from + count].iter_mut().for_each(|r| *r = true);
    }
    let damaged = (0..source.len()).map(|k| removed[4 * k..4 * k + 4].contains(&true)).collect();
    let kept = bytes.iter().zip(&removed).filter(|(_, r)| !**r).map(|(b, _)| *b).collect();
    (kept, damaged)
}

/// Checks a decode of a lossy stream sample by sample: the timeline is exact; every sample that is not a gap
/// is the source's sample at that index; every run of gap samples holds a lost sample; whole-word losses are
/// gaps of exactly their length. Returns, per byte loss, how many samples more than it damaged it cost.
fn check_lossy_decode(source: &[u32], losses: &[Loss], seed: u64) -> Vec<usize> {
    let (bytes, damaged) = apply_losses(source, losses);
    let (block, stats) = decode_in_pieces(&bytes, seed);
    let converter = example_converter();
    assert_eq!(block.len(), source.len(), "the timeline keeps its length ({losses:?})");
    let values: std::collections::HashSet<u32> =
        source.iter().map(|&w| converter.current_from_word(w).to_bits()).collect();
    for index in 0..source.len() {
        if block.flags[index] & GAP == 0 {
            assert!(!damaged[index], "sample {index} lost a byte but was decoded ({losses:?})");
            let current = block.current_a[index];
            assert!(current.is_nan() || values.contains(&current.to_bits()), "sample {index} is not a source value");
            assert_sample(&block, index, source[index], &converter);
        }
    }
    let mut runs = Vec::new();
    let mut index = 0;
    while index < block.len() {
        let end = (index..block.len()).find(|&k| block.flags[k] & GAP == 0).unwrap_or(block.len());
        if end > index {
            runs.push(index..end);
        }
        index = end + 1;
    }
    assert_eq!(runs.len(), losses.len(), "one gap per loss ({losses:?})");
    let mut extras = Vec::new();
    for (run, loss) in runs.iter().zip(losses) {
        let hit = run.clone().filter(|&k| damaged[k]).count();
        assert!(hit > 0, "gap {run:?} holds no lost sample ({loss:?})");
        match *loss {
            Loss::Words { at_word, count } => assert_eq!(*run, at_word..at_word + count, "whole-word loss"),
            Loss::Bytes { at_byte, count } => {
                let damaged_here = (at_byte + count - 1) / 4 - at_byte / 4 + 1;
                assert_eq!(hit, damaged_here, "byte loss at {at_byte}: every damaged sample is in the gap");
                // More than 2 extra only when counters line up by chance (about 1 in 64 losses, each further
                // sample 64 times rarer).
                assert!(run.len() - hit <= 5, "byte loss at {at_byte}: gap {run:?} for {hit} damaged");
                extras.push(run.len() - hit);
            }
        }
    }
    assert_eq!(stats.resyncs, extras.len() as u64, "one resynchronisation per byte loss");
    assert_eq!(stats.samples + stats.lost_samples, source.len() as u64);
    extras
}

/// Losses at random places at least 80 words apart: 1, 2 or 3 bytes anywhere, or 1-63 whole words.
fn random_losses(rng: &mut Pcg64, samples: usize) -> Vec<Loss> {
    let mut losses = Vec::new();
    let mut at_word = 100 + rng.random_range(0..200);
    while at_word + 200 < samples {
        if rng.random_bool(0.6) {
            let at_byte = 4 * at_word + rng.random_range(0..4);
            losses.push(Loss::Bytes { at_byte, count: rng.random_range(1..=3) });
            at_word += 2;
        } else {
            let count = rng.random_range(1..64);
            losses.push(Loss::Words { at_word, count });
            at_word += count;
        }
        at_word += 80 + rng.random_range(0..400);
    }
    losses
}

#[test]
fn byte_and_word_losses_are_resynchronised_without_wrong_values() {
    let mut extras = Vec::new();
    for seed in 0..40 {
        let source = source_words(20_000, 100 + seed);
        let losses = random_losses(&mut Pcg64::seed_from_u64(seed), source.len());
        assert!(losses.len() > 20);
        extras.extend(check_lossy_decode(&source, &losses, seed));
    }
    let beyond = |limit: usize| extras.iter().filter(|&&e| e > limit).count();
    assert!(extras.len() > 1000);
    assert!(
        beyond(2) * 100 <= extras.len() * 4,
        "{} of {} byte losses cost more than 2 extra",
        beyond(2),
        extras.len()
    );
    assert!(
        beyond(3) * 1000 <= extras.len() * 2,
        "{} of {} byte losses cost more than 3 extra",
        beyond(3),
        extras.len()
    );
}

#[test]
fn every_byte_position_and_length_of_a_small_loss_is_handled() {
    let source = source_words(400, 11);
    for at_byte in 800..816 {
        for count in 1..=3 {
            let extras = check_lossy_decode(&source, &[Loss::Bytes { at_byte, count }], at_byte as u64);
            assert!(extras[0] <= 2, "{count} bytes lost at {at_byte}: {} extra", extras[0]);
        }
    }
}

#[test]
fn losses_the_counter_cannot_see_are_found_by_the_clock() {
    let source = source_words(100_000, 12);
    for (lost, reported, suspected) in [(0usize, 0u64, 0u64), (64, 0, 64), (128 + 5, 5, 128)] {
        let mut kept = source.clone();
        kept.drain(50_000..50_000 + lost);
        let (mut decoder, mut block) = (decoder(), Block::new());
        decoder.set_clock_tolerance(0.0, 0.0);
        for piece in to_bytes(&kept).chunks(4096) {
            decoder.push(piece, &mut block);
        }
        decoder.flush(&mut block);
        decoder.note_elapsed(source.len() as f64 / 100_000.0);
        let stats = decoder.stats();
        assert_eq!(stats.lost_samples, reported, "{lost} lost");
        assert_eq!(stats.suspected_unreported_samples, suspected, "{lost} lost");
    }
}

#[test]
fn the_default_clock_tolerance_ignores_latency_but_not_many_aliased_losses() {
    let source = source_words(100_000, 13);
    let mut kept = source.clone();
    for k in 0..20 {
        kept.drain(4000 * (k + 1)..4000 * (k + 1) + 64);
    }
    let (mut decoder, mut block) = (decoder(), Block::new());
    decoder.push(&to_bytes(&kept), &mut block);
    // 5 ms of latency: within the default 10 ms tolerance, so nothing is suspected…
    let mut clean = self::decoder();
    clean.push(&to_bytes(&source), &mut Block::new());
    clean.note_elapsed(1.005);
    assert_eq!(clean.stats().suspected_unreported_samples, 0);
    // …while 1280 samples missing after 1 s is beyond it: at least 1280 − 1000 − 10, in multiples of 64.
    decoder.note_elapsed(1.0);
    assert_eq!(decoder.stats().suspected_unreported_samples, 256);
    assert_eq!(decoder.stats().lost_samples, 0);
}

#[test]
fn reset_forgets_the_stream() {
    let bytes = to_bytes(&source_words(100, 14));
    let (mut decoder, mut block) = (decoder(), Block::new());
    decoder.push(&bytes[..203], &mut block);
    decoder.reset();
    assert_eq!((decoder.stats(), decoder.buffered_bytes()), (DecodeStats::default(), 0));
    block.clear();
    decoder.push(&bytes, &mut block);
    decoder.flush(&mut block);
    assert_eq!(block.len(), 100);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Random sources, random far-apart losses, random read sizes: the same guarantees as above.
    #[test]
    fn random_far_apart_losses_keep_every_guarantee(source_seed in any::<u64>(), loss_seed in any::<u64>()) {
        let source = source_words(6000, source_seed);
        let losses = random_losses(&mut Pcg64::seed_from_u64(loss_seed), source.len());
        let _extras = check_lossy_decode(&source, &losses, loss_seed);
    }

    /// Any loss pattern, however dense: the decoder never panics, accounts for every sample it emits, and is
    /// back in step with the source by the end.
    #[test]
    fn any_loss_pattern_recovers(
        source_seed in any::<u64>(),
        cuts in proptest::collection::vec((0usize..23_000, 1usize..300), 0..40),
        read_seed in any::<u64>(),
    ) {
        let source = source_words(6000, source_seed);
        let mut bytes = to_bytes(&source);
        // Cut at random byte positions, keeping the last 400 words whole.
        for (at, count) in cuts {
            let at = at % (bytes.len() - 1600);
            let end = (at + count).min(bytes.len() - 1600);
            bytes.drain(at..end);
        }
        let (block, stats) = decode_in_pieces(&bytes, read_seed);
        prop_assert_eq!(stats.samples + stats.lost_samples, block.len() as u64);
        prop_assert!(block.len() >= 300);
        let converter = example_converter();
        let tail = block.len() - 300;
        for (k, &w) in source[source.len() - 300..].iter().enumerate() {
            prop_assert_eq!(block.current_a[tail + k].to_bits(), converter.current_from_word(w).to_bits());
        }
    }
}

#[test]
fn garbage_before_and_instead_of_a_stream_is_discarded_not_decoded() {
    let mut rng = Pcg64::seed_from_u64(15);
    let noise: Vec<u8> = (0..3000).map(|_| rng.random()).collect();
    let (block, stats) = decode_in_pieces(&noise, 16);
    // Random bytes almost never hold 6 words in counter sequence at one alignment.
    assert!(block.len() < 64, "{} samples decoded from noise", block.len());
    assert!(stats.discarded_bytes > 2500);
}
