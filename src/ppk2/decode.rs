//! The PPK2's sample stream — 4-byte little-endian words at 100 kS/s, no header, no framing — cut into samples,
//! with lost samples found, marked and never invented.
//!
//! Each word carries a 6-bit rolling counter (bits 18-23), the only evidence of loss. A word is committed only
//! once the words after it confirm it:
//! * **in sequence**: a word that follows the expected counter is committed when the next 4 words follow it,
//!   so the word that straddles a byte-level cut is still held when the mismatches begin;
//! * **word loss**: after a break, a gap of `(counter − expected) & 0x3F` samples is committed only when 6
//!   consecutive words at the same alignment confirm the new sequence;
//! * **byte loss**: after 4 consecutive mismatches, 8 within 16 words, or 32 words without a confirmed run, the
//!   framing is declared lost and found again by scoring the 4 byte offsets on counter continuity. Words on
//!   either side of the cut that might hold a byte of the other side join the gap, so a byte loss costs up to
//!   2 samples more than it damaged (3 when counters line up by chance, about once in 64 losses). The gap is
//!   the counter difference, raised by multiples of 64 when the skipped bytes could not otherwise fit: bytes
//!   get lost, never inserted.
//!
//! A lost sample becomes a [`GAP`] sample (NaN current, logic 0, range [`GAP_RANGE`]), so sample `k` of the
//! output is at `t0 + k · 10 µs`. A loss of exactly 64·n words is invisible to the counter; it is estimated
//! against the wall clock by [`Decoder::note_elapsed`] and reported, not filled in, because the clock says
//! neither where the samples went missing nor exactly how many (only within its tolerance), and padding at a
//! guessed place would mis-time every sample between the real loss and the guess.
//!
//! Limits: a loss of a multiple of 4 bytes that does not start on a word boundary leaves one word mixing two
//! samples that the counter cannot tell from a real one; losses closer together than the resynchronisation
//! window (about 40 words) are recovered from, but two cuts inside one word add up to such a loss. The hot
//! path checks 64 counters at a time without branching and converts whole runs of words straight from the
//! input with a precomputed [`Converter`].

use super::convert::Converter;

/// Samples per second of the PPK2's stream.
pub const SAMPLE_RATE_HZ: f64 = 100_000.0;
/// Flag bit: the 14-bit ADC field was pinned at [`OVER_RANGE_ADC`]; the input exceeded the range, and the
/// converted value, though it may look plausible, is a floor.
pub const OVER_RANGE: u8 = 1 << 0;
/// Flag bit: the word's range field was 5, 6 or 7; the current is NaN.
pub const INVALID_RANGE: u8 = 1 << 1;
/// Flag bit: a lost sample; current NaN, logic 0, range [`GAP_RANGE`].
pub const GAP: u8 = 1 << 2;
/// The range recorded for a [`GAP`] sample, which has none.
pub const GAP_RANGE: u8 = 0xFF;
/// The ADC field of an over-range sample.
pub const OVER_RANGE_ADC: u32 = 0x3FFF;

/// Linked words that must follow a word before it is committed.
const HOLD_WORDS: usize = 4;
/// Length of a run of linked words that confirms an alignment after a break.
const CONFIRM_WORDS: usize = 6;
/// Consecutive mismatching words that declare the framing lost.
const DESYNC_CONSECUTIVE: u32 = 4;
/// Mismatches within the last [`DESYNC_WINDOW_WORDS`] words that declare the framing lost.
const DESYNC_IN_WINDOW: u32 = 8;
/// Window of the rule above.
const DESYNC_WINDOW_WORDS: u32 = 16;
/// Words scanned after a break without a confirmed run before the framing is declared lost anyway.
const MAX_BREAK_SCAN_WORDS: usize = 32;
/// Words per byte offset scored when re-aligning.
const SCORE_WORDS: usize = 32;

/// Decoded samples, one entry per sample in each vector, appended to by [`Decoder::push`].
#[derive(Debug, Clone, Default)]
pub struct Block {
    /// Current, A; NaN for a gap, an invalid range or a range without usable calibration.
    pub current_a: Vec<f32>,
    /// Digital inputs D0..D7, bit N = DN; 0 for a gap.
    pub logic: Vec<u8>,
    /// Measurement range 0-4 (5-7 when invalid); [`GAP_RANGE`] for a gap.
    pub range: Vec<u8>,
    /// [`OVER_RANGE`], [`INVALID_RANGE`] and [`GAP`] bits.
    pub flags: Vec<u8>,
}

impl Block {
    /// An empty block.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.current_a.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.current_a.is_empty()
    }

    /// Removes every sample, keeping the allocations.
    pub fn clear(&mut self) {
        self.current_a.clear();
        self.logic.clear();
        self.range.clear();
        self.flags.clear();
    }

    fn push_gap(&mut self, samples: usize) {
        let len = self.len() + samples;
        self.current_a.resize(len, f32::NAN);
        self.logic.resize(len, 0);
        self.range.resize(len, GAP_RANGE);
        self.flags.resize(len, GAP);
    }
}

/// What the decoder has seen since it was created or reset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecodeStats {
    /// Samples decoded from words (including over-range and invalid-range ones).
    pub samples: u64,
    /// [`GAP`] samples inserted.
    pub lost_samples: u64,
    /// Places where a gap was inserted.
    pub gaps: u64,
    /// Times the byte framing was lost and found again.
    pub resyncs: u64,
    /// Bytes skipped: while aligning at the start, re-aligning, or in words that could not be trusted.
    pub discarded_bytes: u64,
    /// Samples with the ADC field pinned at full scale.
    pub over_range: u64,
    /// Samples with range 5, 6 or 7.
    pub invalid_range: u64,
    /// Samples the wall clock says are missing beyond those counted in `lost_samples`, in whole multiples of
    /// 64 (the losses the 6-bit counter cannot see). A lower bound given the clock tolerance; not inserted.
    pub suspected_unreported_samples: u64,
}

/// What a slow-path step decided.
enum Step {
    /// Carry on from this byte position.
    To(usize),
    /// Wait for more bytes.
    NeedMore,
    /// Stop here: the bytes before this position are used, the rest cannot be decoded (end of stream).
    Done(usize),
}

/// Turns the PPK2's byte stream, in reads of any size, into samples. See the module documentation.
#[derive(Debug, Clone)]
pub struct Decoder {
    converter: Converter,
    /// Bytes received but not yet committed; the first is at a word boundary of the current alignment.
    pending: Vec<u8>,
    /// Counter the next committed word should have; `None` until the first alignment.
    expected: Option<u32>,
    /// The framing is lost and no alignment has been found yet.
    hunting: bool,
    /// Bytes dropped since the last committed word; they belong to the next gap.
    dropped_since_commit: u64,
    stats: DecodeStats,
    latency_tolerance_s: f64,
    drift_tolerance_ppm: f64,
}

impl Decoder {
    /// A decoder converting with `converter`. The clock tolerance of [`Decoder::note_elapsed`] starts at
    /// 10 ms of latency plus 100 ppm of drift.
    pub fn new(converter: Converter) -> Self {
        Self {
            converter,
            pending: Vec::new(),
            expected: None,
            hunting: false,
            dropped_since_commit: 0,
            stats: DecodeStats::default(),
            latency_tolerance_s: 0.010,
            drift_tolerance_ppm: 100.0,
        }
    }

    /// Replaces the converter (after a regulator voltage change), keeping the stream state.
    pub fn set_converter(&mut self, converter: Converter) {
        self.converter = converter;
    }

    /// The converter in use.
    pub fn converter(&self) -> &Converter {
        &self.converter
    }

    /// How far the wall clock may be off before [`Decoder::note_elapsed`] suspects a loss: `latency_s` for
    /// data still in flight (USB frames, OS buffers) plus `drift_ppm` of the elapsed time for the two clocks.
    pub fn set_clock_tolerance(&mut self, latency_s: f64, drift_ppm: f64) {
        self.latency_tolerance_s = latency_s.max(0.0);
        self.drift_tolerance_ppm = drift_ppm.max(0.0);
    }

    /// Forgets the stream (call it when sending Start): statistics, alignment and buffered bytes.
    pub fn reset(&mut self) {
        *self = Self {
            latency_tolerance_s: self.latency_tolerance_s,
            drift_tolerance_ppm: self.drift_tolerance_ppm,
            ..Self::new(self.converter.clone())
        };
    }

    /// The statistics so far.
    pub fn stats(&self) -> DecodeStats {
        self.stats.clone()
    }

    /// Bytes received and not yet turned into samples (held for confirmation or a partial word).
    pub fn buffered_bytes(&self) -> usize {
        self.pending.len()
    }

    /// Decodes `bytes`, the next read from the port, appending samples to `out`. A few words stay buffered
    /// until the words after them confirm them.
    pub fn push(&mut self, bytes: &[u8], out: &mut Block) {
        if self.pending.is_empty() {
            let consumed = self.run(bytes, false, out);
            self.pending.extend_from_slice(bytes.get(consumed..).unwrap_or_default());
            return;
        }
        let mut data = std::mem::take(&mut self.pending);
        data.extend_from_slice(bytes);
        let consumed = self.run(&data, false, out);
        data.drain(..consumed.min(data.len()));
        self.pending = data;
    }

    /// Decodes what is buffered as the end of the stream: words in sequence are committed without waiting
    /// for confirmation, and bytes that cannot be decoded are counted as discarded.
    pub fn flush(&mut self, out: &mut Block) {
        let data = std::mem::take(&mut self.pending);
        let consumed = self.run(&data, true, out);
        self.stats.discarded_bytes += data.len().saturating_sub(consumed) as u64;
    }

    /// Cross-checks the samples accounted for against `elapsed_s` seconds of streaming (since Start, or the
    /// last reset) at 100 kS/s, and updates [`DecodeStats::suspected_unreported_samples`].
    pub fn note_elapsed(&mut self, elapsed_s: f64) {
        if !(elapsed_s.is_finite() && elapsed_s >= 0.0) {
            return;
        }
        let expected_samples = elapsed_s * SAMPLE_RATE_HZ;
        let tolerance_samples =
            self.latency_tolerance_s * SAMPLE_RATE_HZ + expected_samples * self.drift_tolerance_ppm * 1e-6;
        let accounted = self.stats.samples + self.stats.lost_samples + (self.pending.len() / 4) as u64;
        let missing = (expected_samples - tolerance_samples - accounted as f64).round();
        // Only whole multiples of 64 can hide from the counter; anything else would already be a gap.
        self.stats.suspected_unreported_samples = if missing >= 64.0 { (missing as u64 / 64) * 64 } else { 0 };
    }

    /// Decodes `data` from its start; returns how many bytes were used (committed or discarded).
    fn run(&mut self, data: &[u8], last: bool, out: &mut Block) -> usize {
        let mut pos = 0;
        loop {
            let step = match self.expected {
                Some(expected) if !self.hunting => {
                    let (words, _) = data.get(pos..).unwrap_or_default().as_chunks::<4>();
                    let linked = count_linked(words, expected);
                    let hold = if last { 0 } else { HOLD_WORDS };
                    let commit = linked.saturating_sub(hold);
                    self.commit(words.get(..commit).unwrap_or_default(), out);
                    pos += 4 * commit;
                    if linked == words.len() {
                        break;
                    }
                    self.after_break(data, pos, linked - commit, last, out)
                }
                _ => self.align(data, pos, 0, last, out),
            };
            match step {
                Step::To(next) => pos = next,
                Step::NeedMore => break,
                Step::Done(end) => {
                    pos = end;
                    break;
                }
            }
        }
        pos
    }

    /// Appends linked words, all in sequence with `expected`.
    fn commit(&mut self, words: &[[u8; 4]], out: &mut Block) {
        let Some(last) = words.last() else { return };
        let converter = &self.converter;
        out.current_a.extend(words.iter().map(|w| converter.current_from_word(u32::from_le_bytes(*w))));
        out.logic.extend(words.iter().map(|w| w[3]));
        out.range.extend(words.iter().map(|w| (w[1] >> 6) | ((w[2] & 1) << 2)));
        let first_flag = out.flags.len();
        out.flags.extend(words.iter().map(|w| flags_of(u32::from_le_bytes(*w))));
        let (mut over_range, mut invalid_range) = (0u64, 0u64);
        for &flags in out.flags.get(first_flag..).unwrap_or_default() {
            over_range += u64::from(flags & OVER_RANGE);
            invalid_range += u64::from((flags & INVALID_RANGE) >> 1);
        }
        self.stats.samples += words.len() as u64;
        self.stats.over_range += over_range;
        self.stats.invalid_range += invalid_range;
        self.expected = Some((counter_of(u32::from_le_bytes(*last)) + 1) & 0x3F);
        self.dropped_since_commit = 0;
    }

    /// At `start` are `chain` words in sequence with `expected`, then a word that is not. Looks for a
    /// confirmed run at the same alignment (whole words lost) before the mismatches declare the framing lost.
    fn after_break(&mut self, data: &[u8], start: usize, chain: usize, last: bool, out: &mut Block) -> Step {
        let (words, _) = data.get(start..).unwrap_or_default().as_chunks::<4>();
        let word = |i: usize| words.get(i).map_or(0, |w| u32::from_le_bytes(*w));
        let (mut consecutive, mut history) = (0u32, 0u32);
        let mut m = chain;
        loop {
            if m + CONFIRM_WORDS > words.len() {
                if !last {
                    return Step::NeedMore;
                }
                // End of stream: the chain is all that can still be trusted.
                self.commit(words.get(..chain).unwrap_or_default(), out);
                return Step::Done(start + 4 * chain);
            }
            if run_linked(words.get(m..m + CONFIRM_WORDS).unwrap_or_default()) {
                self.commit(words.get(..chain).unwrap_or_default(), out);
                let junk_bytes = 4 * (m - chain) as u64;
                self.stats.discarded_bytes += junk_bytes;
                self.insert_gap(counter_of(word(m)), junk_bytes, out);
                return Step::To(start + 4 * m);
            }
            let mismatch = m == chain || !linked(word(m - 1), word(m));
            consecutive = if mismatch { consecutive + 1 } else { 0 };
            history = ((history << 1) | u32::from(mismatch)) & ((1 << DESYNC_WINDOW_WORDS) - 1);
            if consecutive >= DESYNC_CONSECUTIVE
                || history.count_ones() >= DESYNC_IN_WINDOW
                || m - chain + 1 >= MAX_BREAK_SCAN_WORDS
            {
                return self.align(data, start, chain, last, out);
            }
            m += 1;
        }
    }

    /// Finds the byte alignment from `start`: at the first word, after losing the framing, or while hunting.
    /// `chain` words at `start` are in sequence with `expected` at the old alignment.
    fn align(&mut self, data: &[u8], start: usize, chain: usize, last: bool, out: &mut Block) -> Step {
        let available = data.len().saturating_sub(start);
        if available < 4 * SCORE_WORDS + 3 && !(last && available >= 4 * CONFIRM_WORDS) {
            return Step::NeedMore;
        }
        let window_end = (start + 4 * SCORE_WORDS + 3).min(data.len());
        let offset = best_offset(data.get(start..window_end).unwrap_or_default());
        // The first confirmed run at the chosen offset within the scoring window. Nothing before it can be
        // trusted at the new alignment, and old words ending less than 4 bytes before it may hold a byte of it.
        let Some(first_run) = run_starts(data, start + offset, window_end).next() else {
            return self.hunt(start, available);
        };
        if self.expected.is_none() {
            // The first alignment of the stream: no gap to account for.
            self.stats.discarded_bytes += (first_run - start) as u64;
            self.expected = word_at(data, first_run).map(counter_of);
            self.hunting = false;
            self.dropped_since_commit = 0;
            return Step::To(first_run);
        }
        // A word out of sequence after the chain had its counter (byte 2) damaged, so the cut is at most 2 bytes
        // into it, and a new word starting before that could still hold a byte from before the cut. (Trimming
        // chain words that overlap the first run would save a sample when a garbage word linked by chance, but
        // it is unsafe when the first run itself starts with garbage words linked by chance.)
        let earliest_new = if self.hunting { start } else { start + 4 * chain + 2 };
        let Some(new_start) = run_starts(data, first_run, data.len()).find(|&pos| pos >= earliest_new) else {
            if available > 4 * (2 * SCORE_WORDS + CONFIRM_WORDS) {
                return self.hunt(start, available);
            }
            return Step::NeedMore;
        };
        // Old words that end at least 4 bytes before the first run are whole. The chain's last word is never
        // trusted: it is the one most likely to straddle the cut.
        let whole = (first_run.saturating_sub(start + 4) / 4).min(chain.saturating_sub(1));
        let (old_words, _) = data.get(start..start + 4 * whole).unwrap_or_default().as_chunks::<4>();
        self.commit(old_words, out);
        let skipped = (new_start - (start + 4 * whole)) as u64;
        self.stats.discarded_bytes += skipped;
        self.insert_gap(word_at(data, new_start).map_or(0, counter_of), skipped, out);
        self.stats.resyncs += 1;
        self.hunting = false;
        Step::To(new_start)
    }

    /// No alignment found from `start`: drops most of a scoring window and hunts on.
    fn hunt(&mut self, start: usize, available: usize) -> Step {
        let drop = 4 * (SCORE_WORDS - CONFIRM_WORDS);
        if available < drop + 4 * CONFIRM_WORDS {
            return Step::NeedMore;
        }
        self.hunting = true;
        self.stats.discarded_bytes += drop as u64;
        self.dropped_since_commit += drop as u64;
        Step::To(start + drop)
    }

    /// Inserts the gap before a word with counter `next_counter`, `skipped_bytes` after the last committed
    /// word (plus any dropped while hunting), and makes that word the expected one.
    fn insert_gap(&mut self, next_counter: u32, skipped_bytes: u64, out: &mut Block) {
        let expected = self.expected.unwrap_or(next_counter);
        let mut gap = u64::from(next_counter.wrapping_sub(expected) & 0x3F);
        // Bytes are lost, never inserted: every skipped byte belongs to a missing sample, so the gap holds at
        // least that many words; the counter only knows it modulo 64.
        let min_gap = (skipped_bytes + self.dropped_since_commit).div_ceil(4);
        if gap < min_gap {
            gap += (min_gap - gap).div_ceil(64) * 64;
        }
        if gap > 0 {
            out.push_gap(gap as usize);
            self.stats.lost_samples += gap;
            self.stats.gaps += 1;
        }
        self.expected = Some(next_counter);
        self.dropped_since_commit = 0;
    }
}

/// The word at byte `pos`, if 4 bytes are there.
fn word_at(data: &[u8], pos: usize) -> Option<u32> {
    let (words, _) = data.get(pos..).unwrap_or_default().as_chunks::<4>();
    words.first().map(word_of)
}

/// Positions from `from`, in steps of 4, where a confirmed run starts and ends by `end`.
fn run_starts(data: &[u8], from: usize, end: usize) -> impl Iterator<Item = usize> + '_ {
    let end = end.min(data.len());
    (from..end.saturating_sub(4 * CONFIRM_WORDS - 1)).step_by(4).filter(move |&pos| {
        let (words, _) = data.get(pos..end).unwrap_or_default().as_chunks::<4>();
        words.len() >= CONFIRM_WORDS && run_linked(words.get(..CONFIRM_WORDS).unwrap_or_default())
    })
}

/// The byte offset (0-3) of `window` whose words best continue each other's counters; ties go to the offset
/// with fewer invalid range codes, then to the lower offset.
fn best_offset(window: &[u8]) -> usize {
    let mut best = (0usize, 0usize, usize::MAX);
    for offset in 0..4 {
        let (words, _) = window.get(offset..).unwrap_or_default().as_chunks::<4>();
        let links = words.windows(2).filter(|pair| linked(word_of(&pair[0]), word_of(&pair[1]))).count();
        let invalid = words.iter().filter(|w| (word_of(w) >> 14) & 0x7 >= 5).count();
        if links > best.1 || (links == best.1 && invalid < best.2) {
            best = (offset, links, invalid);
        }
    }
    best.0
}

#[inline]
fn word_of(bytes: &[u8; 4]) -> u32 {
    u32::from_le_bytes(*bytes)
}

#[inline]
fn counter_of(word: u32) -> u32 {
    (word >> 18) & 0x3F
}

#[inline]
fn linked(previous: u32, next: u32) -> bool {
    counter_of(next) == (counter_of(previous) + 1) & 0x3F
}

#[inline]
fn flags_of(word: u32) -> u8 {
    let over_range = u8::from(word & OVER_RANGE_ADC == OVER_RANGE_ADC) * OVER_RANGE;
    let invalid_range = u8::from((word >> 14) & 0x7 >= 5) * INVALID_RANGE;
    over_range | invalid_range
}

/// Whether every word follows the one before it.
fn run_linked(words: &[[u8; 4]]) -> bool {
    words.windows(2).all(|pair| linked(word_of(&pair[0]), word_of(&pair[1])))
}

/// How many leading words are in sequence starting from `expected`. Checks 64 words at a time without
/// branching (the counter wraps at 64, so `expected + i` covers a block), then finds the break in the block.
fn count_linked(words: &[[u8; 4]], expected: u32) -> usize {
    let mut done = 0;
    for block in words.chunks(64) {
        let mismatch =
            block.iter().zip(0u32..).fold(0u32, |acc, (w, i)| acc | (u32::from(w[2] >> 2) ^ ((expected + i) & 0x3F)));
        if mismatch != 0 {
            let in_block = block.iter().zip(0u32..).position(|(w, i)| u32::from(w[2] >> 2) != (expected + i) & 0x3F);
            return done + in_block.unwrap_or(block.len());
        }
        done += block.len();
        // 64 words bring the counter back to `expected`, so only the last, shorter block would move it, and
        // nothing follows that one.
    }
    done
}
