//! What the emulated PPK2 measures: a known current and logic waveform as a pure function of the sample
//! index, and the range the unit measures each current in.
//!
//! One cycle is 100 ms (10,000 samples at 100 kS/s) of a sensor node that crosses all five ranges:
//!
//! | samples (ms) | state | current | range | D0 |
//! |---|---|---|---|---|
//! | 0–6,000 (0–60) | sleep | 3 µA | 0 | low |
//! | 6,000–7,000 (60–70) | sensor wake | 40 µA | 1 | low |
//! | 7,000–8,000 (70–80) | CPU idle | 600 µA | 2 | low |
//! | 8,000–9,000 (80–90) | CPU active | 8 mA | 3 | low |
//! | 9,000–10,000 (90–100) | radio TX | 120 mA | 4 | high |
//!
//! Each level carries a ±2 % ripple with a period of 997 samples (prime, so it never lines up with the
//! cycle), so that the ADC codes differ from sample to sample within a state. D1 toggles every 10 ms; D2–D7
//! stay low. With the over-range switch, samples 9,500–9,600 of each cycle draw 30 A, beyond range 4's
//! full scale (≈ 24 A with the example calibration, whose second-order gain is large in that range).
//!
//! Range selection, a decade per range ([`RANGE_UPPER_A`]): range `r` is used below `10 µA · 10^r`, and
//! range 4 from 10 mA up. The real firmware's switch points are not published; decades put each level of
//! the cycle in the middle of its own range.

/// Samples per second of the PPK2 stream.
pub const SAMPLE_RATE_HZ: u64 = 100_000;
/// Time between samples, µs.
pub const SAMPLE_PERIOD_US: u64 = 1_000_000 / SAMPLE_RATE_HZ;
/// Samples in one cycle of the waveform (100 ms).
pub const CYCLE_SAMPLES: u64 = 10_000;
/// Upper limit, exclusive, of ranges 0 to 3, A; range 4 takes everything above.
pub const RANGE_UPPER_A: [f64; 4] = [10e-6, 100e-6, 1e-3, 10e-3];
/// The current of the over-range stretch, A.
pub const OVER_RANGE_A: f64 = 30.0;
/// Relative amplitude of the ripple on every level.
pub const RIPPLE_FRACTION: f64 = 0.02;
/// Ripple period, samples.
pub const RIPPLE_PERIOD_SAMPLES: u64 = 997;

/// One state of the cycle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    /// What the device is doing.
    pub name: &'static str,
    /// First sample of the state within the cycle.
    pub start_sample: u64,
    /// Nominal current, A (before ripple).
    pub current_a: f64,
    /// The range this current is measured in.
    pub range: u8,
}

/// The states of one cycle, in order; each lasts until the next one's start (the last until the cycle ends).
pub const SEGMENTS: [Segment; 5] = [
    Segment { name: "sleep", start_sample: 0, current_a: 3e-6, range: 0 },
    Segment { name: "sensor wake", start_sample: 6_000, current_a: 40e-6, range: 1 },
    Segment { name: "CPU idle", start_sample: 7_000, current_a: 600e-6, range: 2 },
    Segment { name: "CPU active", start_sample: 8_000, current_a: 8e-3, range: 3 },
    Segment { name: "radio TX", start_sample: 9_000, current_a: 120e-3, range: 4 },
];
const OVER_RANGE_SAMPLES: std::ops::Range<u64> = 9_500..9_600;

/// The state at `sample_index`.
pub fn segment_at(sample_index: u64) -> &'static Segment {
    let position = sample_index % CYCLE_SAMPLES;
    SEGMENTS.iter().rev().find(|s| s.start_sample <= position).unwrap_or(&SEGMENTS[0])
}

/// The current the device draws at `sample_index`, A.
pub fn current_a(sample_index: u64, over_range: bool) -> f64 {
    if over_range && OVER_RANGE_SAMPLES.contains(&(sample_index % CYCLE_SAMPLES)) {
        return OVER_RANGE_A;
    }
    let phase = (sample_index % RIPPLE_PERIOD_SAMPLES) as f64 / RIPPLE_PERIOD_SAMPLES as f64;
    segment_at(sample_index).current_a * (1.0 + RIPPLE_FRACTION * (std::f64::consts::TAU * phase).sin())
}

/// The digital inputs at `sample_index`: bit N is DN.
pub fn logic(sample_index: u64) -> u8 {
    let position = sample_index % CYCLE_SAMPLES;
    let d0_tx = u8::from(position >= SEGMENTS[4].start_sample);
    let d1_toggle = ((sample_index / 1_000) % 2) as u8;
    d0_tx | (d1_toggle << 1)
}

/// The range a current is measured in; see the module docs.
pub fn range_for_current(current_a: f64) -> u8 {
    RANGE_UPPER_A.iter().position(|&upper| current_a < upper).map_or(4, |r| r as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_segment_sits_in_its_own_range_through_the_ripple() {
        for index in 0..CYCLE_SAMPLES * 3 {
            let segment = segment_at(index);
            let current = current_a(index, false);
            assert_eq!(range_for_current(current), segment.range, "sample {index}: {current} A");
        }
        let ranges: Vec<u8> = SEGMENTS.iter().map(|s| s.range).collect();
        assert_eq!(ranges, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn ripple_stays_within_its_amplitude() {
        let (min, max) = (0..RIPPLE_PERIOD_SAMPLES)
            .map(|i| current_a(i, false) / 3e-6)
            .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
        assert!(min >= 0.98 - 1e-9 && max <= 1.02 + 1e-9 && max - min > 0.039, "{min}..{max}");
    }

    #[test]
    fn logic_lines_follow_the_cycle() {
        assert_eq!(logic(0), 0b00);
        assert_eq!(logic(1_000), 0b10);
        assert_eq!(logic(8_999), 0b00);
        assert_eq!(logic(9_000), 0b11);
        assert_eq!(logic(9_999), 0b11);
        assert_eq!(logic(19_000), 0b11, "every cycle starts with D1 low, so the pattern repeats");
        assert_eq!(logic(10_999), 0b00);
        assert_eq!(logic(10_000), 0b00);
    }

    #[test]
    fn over_range_only_when_asked_and_only_in_its_stretch() {
        assert_eq!(current_a(19_550, true), OVER_RANGE_A);
        assert!(current_a(19_550, false) < 0.2);
        assert!(current_a(19_600, true) < 0.2);
        assert_eq!(range_for_current(OVER_RANGE_A), 4);
    }
}
