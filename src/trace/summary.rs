//! Summaries of runs of samples (count, sum, sum of squares, min, max) and the statistics derived from them.
//!
//! A [`Summary`] is what the trace pyramid stores per block and what a selection or a plot column reduces to.
//! Summaries merge associatively, so the statistics of any range come from whole blocks plus raw samples at the
//! two ends. NaN samples mean "no data" (a gap) and are skipped: `count` counts real samples only.
//!
//! Precision: block sums are taken in `f64` over at most one block's samples, and [`Accumulator`] combines
//! any number of them with Neumaier's compensated summation, so charge over hours of samples keeps the
//! precision of `f64` instead of losing a digit per factor of ten in sample count.

use serde::Serialize;

/// Count, sum, sum of squares, min and max of a run of samples; NaN samples are not counted.
///
/// The in-memory layout is the on-disk one on little-endian machines (32 bytes, no padding), so the reader
/// can read blocks straight into a `Vec<Summary>`.
#[derive(Debug, Clone, Copy, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct Summary {
    /// Samples that hold a value.
    pub count: u64,
    /// Sum of the values.
    pub sum: f64,
    /// Sum of the squared values.
    pub sum_sq: f64,
    /// Smallest value (+∞ when empty).
    pub min: f32,
    /// Largest value (−∞ when empty).
    pub max: f32,
}

impl Default for Summary {
    fn default() -> Self {
        Self::EMPTY
    }
}

/// Lanes of the sample loop: wide enough for the compiler to keep several vector registers busy.
const LANES: usize = 8;

impl Summary {
    /// The summary of no samples.
    pub const EMPTY: Self = Self { count: 0, sum: 0.0, sum_sq: 0.0, min: f32::INFINITY, max: f32::NEG_INFINITY };

    /// Bytes of one summary on disk.
    pub const ENCODED_LEN: usize = 32;

    /// The summary of `samples`, skipping NaN.
    ///
    /// Written as independent lanes so that it compiles to vector code: this loop runs once for every sample
    /// recorded.
    pub fn of(samples: &[f32]) -> Self {
        let mut count = [0u32; LANES];
        let mut sum = [0f64; LANES];
        let mut sum_sq = [0f64; LANES];
        let mut min = [f32::INFINITY; LANES];
        let mut max = [f32::NEG_INFINITY; LANES];
        let mut chunks = samples.chunks_exact(LANES);
        for chunk in &mut chunks {
            for lane in 0..LANES {
                let v = chunk[lane];
                let valid = !v.is_nan();
                let x = if valid { v } else { 0.0 };
                count[lane] += u32::from(valid);
                let x64 = f64::from(x);
                sum[lane] += x64;
                sum_sq[lane] += x64 * x64;
                // `f32::min` ignores a NaN operand and compiles to vector min instructions; a compare and
                // select here would stop the loop vectorising (fifteen times slower).
                min[lane] = min[lane].min(v);
                max[lane] = max[lane].max(v);
            }
        }
        let mut out = Self::EMPTY;
        for lane in 0..LANES {
            out.count += u64::from(count[lane]);
            out.sum += sum[lane];
            out.sum_sq += sum_sq[lane];
            out.min = out.min.min(min[lane]);
            out.max = out.max.max(max[lane]);
        }
        for &v in chunks.remainder() {
            out.push(v);
        }
        out
    }

    /// Adds one sample (NaN is skipped).
    pub fn push(&mut self, v: f32) {
        if v.is_nan() {
            return;
        }
        let x = f64::from(v);
        self.count += 1;
        self.sum += x;
        self.sum_sq += x * x;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    /// Adds the samples `other` summarises.
    pub fn merge(&mut self, other: &Summary) {
        self.count += other.count;
        self.sum += other.sum;
        self.sum_sq += other.sum_sq;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// Mean of the values, NaN when empty.
    pub fn mean(&self) -> f64 {
        if self.count == 0 { f64::NAN } else { self.sum / self.count as f64 }
    }

    /// Little-endian encoding: count u64, sum f64, sum_sq f64, min f32, max f32.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.count.to_le_bytes());
        out.extend_from_slice(&self.sum.to_le_bytes());
        out.extend_from_slice(&self.sum_sq.to_le_bytes());
        out.extend_from_slice(&self.min.to_le_bytes());
        out.extend_from_slice(&self.max.to_le_bytes());
    }

    /// Converts a summary read as little-endian bytes on a big-endian machine (and back).
    pub fn swap_bytes(&mut self) {
        self.count = self.count.swap_bytes();
        self.sum = f64::from_bits(self.sum.to_bits().swap_bytes());
        self.sum_sq = f64::from_bits(self.sum_sq.to_bits().swap_bytes());
        self.min = f32::from_bits(self.min.to_bits().swap_bytes());
        self.max = f32::from_bits(self.max.to_bits().swap_bytes());
    }

    /// Decodes one summary from exactly [`Summary::ENCODED_LEN`] bytes.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let u64_at = |at: usize| bytes.get(at..at + 8).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes);
        let f32_at = |at: usize| bytes.get(at..at + 4).and_then(|b| b.try_into().ok()).map(f32::from_le_bytes);
        Some(Self {
            count: u64_at(0)?,
            sum: f64::from_bits(u64_at(8)?),
            sum_sq: f64::from_bits(u64_at(16)?),
            min: f32_at(24)?,
            max: f32_at(28)?,
        })
    }
}

/// Neumaier-compensated sum: adding millions of terms loses no more than a few ulps of the total.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CompensatedSum {
    sum: f64,
    compensation: f64,
}

impl CompensatedSum {
    /// Adds `x`.
    pub fn add(&mut self, x: f64) {
        let t = self.sum + x;
        if self.sum.abs() >= x.abs() {
            self.compensation += (self.sum - t) + x;
        } else {
            self.compensation += (x - t) + self.sum;
        }
        self.sum = t;
    }

    /// The sum so far.
    pub fn value(&self) -> f64 {
        self.sum + self.compensation
    }
}

/// Combines any number of summaries without losing precision in the sums.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Accumulator {
    count: u64,
    sum: CompensatedSum,
    sum_sq: CompensatedSum,
    min: f32,
    max: f32,
}

impl Default for Accumulator {
    fn default() -> Self {
        Self {
            count: 0,
            sum: CompensatedSum::default(),
            sum_sq: CompensatedSum::default(),
            min: f32::INFINITY,
            max: f32::NEG_INFINITY,
        }
    }
}

impl Accumulator {
    /// Adds a summary.
    pub fn add(&mut self, summary: &Summary) {
        if summary.count == 0 {
            return;
        }
        self.count += summary.count;
        self.sum.add(summary.sum);
        self.sum_sq.add(summary.sum_sq);
        self.min = self.min.min(summary.min);
        self.max = self.max.max(summary.max);
    }

    /// The combined summary.
    pub fn summary(&self) -> Summary {
        Summary { count: self.count, sum: self.sum.value(), sum_sq: self.sum_sq.value(), min: self.min, max: self.max }
    }
}

/// Statistics of a selection of a channel sampled at a fixed rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stats {
    /// Samples with a value.
    pub count: u64,
    /// Length of the selection, s (gaps included).
    pub duration_s: f64,
    /// Mean value.
    pub mean: f64,
    /// Population standard deviation.
    pub std: f64,
    /// Root mean square.
    pub rms: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// max − min.
    pub p2p: f64,
    /// Integral of the value over time (coulombs for a current in amperes): sum × sample period.
    pub integral: f64,
}

impl Stats {
    /// Statistics of `summary` over `duration_s`, for samples `period_s` apart.
    pub fn from_summary(summary: &Summary, duration_s: f64, period_s: f64) -> Self {
        let n = summary.count as f64;
        let (mean, std, rms) = if summary.count == 0 {
            (f64::NAN, f64::NAN, f64::NAN)
        } else {
            let mean = summary.sum / n;
            let variance = (summary.sum_sq / n - mean * mean).max(0.0);
            (mean, variance.sqrt(), (summary.sum_sq / n).sqrt())
        };
        let (min, max) =
            if summary.count == 0 { (f64::NAN, f64::NAN) } else { (f64::from(summary.min), f64::from(summary.max)) };
        Self {
            count: summary.count,
            duration_s,
            mean,
            std,
            rms,
            min,
            max,
            p2p: max - min,
            integral: summary.sum * period_s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(samples: &[f32]) -> Summary {
        let mut s = Summary::EMPTY;
        for &v in samples {
            s.push(v);
        }
        s
    }

    #[test]
    fn the_vector_loop_agrees_with_one_sample_at_a_time_and_skips_nan() {
        let samples: Vec<f32> =
            (0..1001).map(|i| if i % 97 == 3 { f32::NAN } else { (i as f32 * 0.37).sin() }).collect();
        let fast = Summary::of(&samples);
        let slow = naive(&samples);
        assert_eq!(fast.count, 1001 - 11);
        assert_eq!(fast.count, slow.count);
        assert_eq!((fast.min, fast.max), (slow.min, slow.max));
        assert!((fast.sum - slow.sum).abs() < 1e-9);
        assert!((fast.sum_sq - slow.sum_sq).abs() < 1e-9);
    }

    #[test]
    fn an_all_nan_run_is_empty() {
        let s = Summary::of(&[f32::NAN; 20]);
        assert_eq!(s, Summary::EMPTY);
        assert!(s.mean().is_nan());
    }

    #[test]
    fn encoding_round_trips() {
        let s = Summary::of(&[1.5, -2.0, 3.25]);
        let mut bytes = Vec::new();
        s.encode(&mut bytes);
        assert_eq!(bytes.len(), Summary::ENCODED_LEN);
        assert_eq!(Summary::decode(&bytes), Some(s));
        assert_eq!(Summary::decode(&bytes[..31]), None);
    }

    #[test]
    fn compensated_sums_keep_precision_over_a_billion_terms_worth_of_blocks() {
        // 4 million blocks of 512 samples of 1.1 µA: a plain f64 sum drifts, the compensated one does not.
        let block = Summary { count: 512, sum: 512.0 * 1.1e-6, sum_sq: 512.0 * 1.21e-12, min: 1.1e-6, max: 1.1e-6 };
        let mut acc = Accumulator::default();
        let mut plain = 0.0f64;
        for _ in 0..4_000_000 {
            acc.add(&block);
            plain += block.sum;
        }
        let exact = 4_000_000.0 * 512.0 * 1.1e-6;
        let compensated_error = (acc.summary().sum - exact).abs() / exact;
        assert!(compensated_error < 1e-15, "compensated error {compensated_error}");
        assert!((plain - exact).abs() / exact > compensated_error, "the plain sum should be the worse one");
    }

    #[test]
    fn stats_of_a_square_wave() {
        let samples: Vec<f32> = (0..1000).map(|i| if i < 500 { 1.0 } else { 3.0 }).collect();
        let stats = Stats::from_summary(&Summary::of(&samples), 1.0, 1e-3);
        assert_eq!(stats.count, 1000);
        assert!((stats.mean - 2.0).abs() < 1e-12);
        assert!((stats.std - 1.0).abs() < 1e-12);
        assert!((stats.rms - 5f64.sqrt()).abs() < 1e-12);
        assert_eq!((stats.min, stats.max, stats.p2p), (1.0, 3.0, 2.0));
        assert!((stats.integral - 2.0).abs() < 1e-12);
    }
}
