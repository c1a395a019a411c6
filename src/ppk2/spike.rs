//! The host-side spike filter the official Power Profiler applies by default, as an option beside the raw data.
//!
//! A range switch in the PPK2 causes a short transient. The filter keeps two exponential moving averages of
//! the current — `avg` with α (0.18) for ranges 0–3 and `avg4` with α5 (0.06) for range 4 — and for `samples`
//! (3) samples starting at a range change outputs the average instead of the sample (`avg4` in range 4). In
//! range 4 the first two of those samples also restore both averages to their previous values, so the spike
//! does not leak into them. This is the logic of the app's `serialDevice.ts`; hdoordt/ppk2-rs has the
//! range-change test inverted (it re-arms when the range is *unchanged*), so with it only the switching sample
//! is replaced and the next two pass through — the tests here pin the app's behaviour.
//!
//! The filter returns a new value and keeps no reference to the raw series; callers store both. A NaN input
//! (a lost sample, an invalid range, an unusable calibration) passes through as NaN and leaves the state
//! alone, so one gap does not poison the averages. Reset it whenever streaming starts (`0x06`), as the app does.

use thiserror::Error;

/// The filter's tunable parameters (the app's "Spike filter" panel).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpikeFilterParams {
    /// Smoothing factor of the average used in ranges 0–3, in (0, 1]. Default 0.18.
    pub alpha: f64,
    /// Smoothing factor of the average used in range 4, in (0, 1]. Default 0.06.
    pub alpha_range4: f64,
    /// How many samples, counting the one where the range changes, are replaced by the average. Default 3.
    pub samples: u32,
}

impl Default for SpikeFilterParams {
    fn default() -> Self {
        Self { alpha: 0.18, alpha_range4: 0.06, samples: 3 }
    }
}

/// Parameters the filter refuses.
#[derive(Debug, Clone, Copy, PartialEq, Error)]
pub enum SpikeFilterError {
    /// A smoothing factor outside (0, 1].
    #[error(
        "spike filter {name} = {value} is not in (0, 1]; use a fraction such as 0.18 (larger follows the signal faster)"
    )]
    BadAlpha {
        /// `alpha` or `alpha_range4`.
        name: &'static str,
        /// The value given.
        value: f64,
    },
}

impl SpikeFilterParams {
    /// Checks that both smoothing factors are in (0, 1].
    pub fn validate(&self) -> Result<(), SpikeFilterError> {
        for (name, value) in [("alpha", self.alpha), ("alpha_range4", self.alpha_range4)] {
            if !(value > 0.0 && value <= 1.0) {
                return Err(SpikeFilterError::BadAlpha { name, value });
            }
        }
        Ok(())
    }
}

/// The spike filter's state over one stream.
#[derive(Debug, Clone, PartialEq)]
pub struct SpikeFilter {
    params: SpikeFilterParams,
    /// Average for ranges 0–3, A; `None` before the first sample.
    avg_a: Option<f64>,
    /// Average for range 4, A.
    avg4_a: Option<f64>,
    prev_range: Option<u8>,
    /// Samples still to replace after the last range change.
    after_spike: u32,
    /// Samples since the last range change (0 on the change itself).
    since_change: u32,
}

impl Default for SpikeFilter {
    fn default() -> Self {
        Self::with_params(SpikeFilterParams::default())
    }
}

impl SpikeFilter {
    /// A filter with checked parameters.
    pub fn new(params: SpikeFilterParams) -> Result<Self, SpikeFilterError> {
        params.validate()?;
        Ok(Self::with_params(params))
    }

    fn with_params(params: SpikeFilterParams) -> Self {
        Self { params, avg_a: None, avg4_a: None, prev_range: None, after_spike: 0, since_change: 0 }
    }

    /// The parameters in use.
    pub fn params(&self) -> SpikeFilterParams {
        self.params
    }

    /// Changes the parameters, keeping the averages (the app lets them be tuned while sampling).
    pub fn set_params(&mut self, params: SpikeFilterParams) -> Result<(), SpikeFilterError> {
        params.validate()?;
        self.params = params;
        Ok(())
    }

    /// Forgets the averages and the last range, as when streaming starts.
    pub fn reset(&mut self) {
        *self = Self::with_params(self.params);
    }

    /// The filtered value of one sample: `current_a` measured in `range`.
    pub fn filter(&mut self, current_a: f32, range: u8) -> f32 {
        if current_a.is_nan() {
            return f32::NAN;
        }
        let current = f64::from(current_a);
        let ema = |alpha: f64, avg: Option<f64>| Some(avg.map_or(current, |avg| alpha * current + (1.0 - alpha) * avg));
        let (prev_avg, prev_avg4) = (self.avg_a, self.avg4_a);
        self.avg_a = ema(self.params.alpha, self.avg_a);
        self.avg4_a = ema(self.params.alpha_range4, self.avg4_a);

        let changed = self.prev_range.is_some_and(|prev| prev != range);
        self.prev_range = Some(range);
        if !changed && self.after_spike == 0 {
            return current_a;
        }
        if changed {
            self.since_change = 0;
            self.after_spike = self.params.samples;
        } else {
            self.since_change += 1;
        }
        self.after_spike = self.after_spike.saturating_sub(1);
        let replaced = if range == 4 {
            if self.since_change < 2 {
                self.avg_a = prev_avg;
                self.avg4_a = prev_avg4;
            }
            self.avg4_a
        } else {
            self.avg_a
        };
        replaced.map_or(current_a, |value| value as f32)
    }

    /// Filters a block: appends one value to `out` for every pair of `current_a` and `range`.
    pub fn filter_into(&mut self, current_a: &[f32], range: &[u8], out: &mut Vec<f32>) {
        out.extend(current_a.iter().zip(range).map(|(&current_a, &range)| self.filter(current_a, range)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(got: f32, expected: f64) -> bool {
        (f64::from(got) - expected).abs() < 1e-9
    }

    #[test]
    fn a_steady_range_passes_samples_through() {
        let mut filter = SpikeFilter::default();
        for (k, current_a) in [1e-3f32, 2e-3, 5e-4, 7e-3].into_iter().enumerate() {
            assert_eq!(filter.filter(current_a, 1), current_a, "sample {k}");
        }
    }

    #[test]
    fn a_switch_to_range_four_holds_both_averages_for_two_samples_and_replaces_three() {
        let mut filter = SpikeFilter::default();
        for _ in 0..3 {
            filter.filter(1e-3, 1);
        }
        // The switching sample: both averages are restored to 1e-3 and avg4 is shown.
        assert!(close(filter.filter(50e-3, 4), 1e-3));
        // Second sample: still restored (since_change = 1 < 2), avg4 = 1e-3 again.
        assert!(close(filter.filter(10e-3, 4), 1e-3));
        // Third: avg4 = 0.06·0.01 + 0.94·0.001 = 0.00154, not restored, shown.
        assert!(close(filter.filter(10e-3, 4), 0.00154));
        // Fourth: the three replaced samples are over; the raw value passes. ppk2-rs, with its inverted test,
        // would already have passed the second and third samples raw (10 mA).
        assert_eq!(filter.filter(10e-3, 4), 10e-3);
    }

    #[test]
    fn a_switch_between_low_ranges_shows_the_moving_average() {
        let mut filter = SpikeFilter::default();
        for _ in 0..3 {
            filter.filter(1e-3, 1);
        }
        // avg = 0.18·0.005 + 0.82·0.001 = 0.00172
        assert!(close(filter.filter(5e-3, 2), 0.00172));
        // avg = 0.18·0.005 + 0.82·0.00172 = 0.0023104
        assert!(close(filter.filter(5e-3, 2), 0.0023104));
        // avg = 0.18·0.005 + 0.82·0.0023104 = 0.002794528
        assert!(close(filter.filter(5e-3, 2), 0.002794528));
        assert_eq!(filter.filter(5e-3, 2), 5e-3);
    }

    #[test]
    fn nan_passes_through_without_touching_the_state() {
        let mut filter = SpikeFilter::default();
        filter.filter(1e-3, 1);
        let before = filter.clone();
        assert!(filter.filter(f32::NAN, 0xFF).is_nan());
        assert_eq!(filter, before);
        assert_eq!(filter.filter(2e-3, 1), 2e-3, "the gap's range did not count as a change");
    }

    #[test]
    fn parameters_tune_it_and_reset_forgets() {
        let params = SpikeFilterParams { alpha: 0.5, alpha_range4: 0.5, samples: 1 };
        let mut filter = SpikeFilter::new(params).unwrap();
        filter.filter(1e-3, 0);
        // avg = 0.5·0.003 + 0.5·0.001 = 0.002, and only the switching sample is replaced.
        assert!(close(filter.filter(3e-3, 1), 0.002));
        assert_eq!(filter.filter(3e-3, 1), 3e-3);
        filter.reset();
        assert_eq!(filter.filter(9e-3, 3), 9e-3, "after reset the first sample starts the averages");
        assert_eq!(filter.params(), params);
        assert!(SpikeFilter::new(SpikeFilterParams { alpha: 0.0, ..params }).is_err());
        let error = filter.set_params(SpikeFilterParams { alpha_range4: 1.5, ..params }).unwrap_err();
        assert!(error.to_string().contains("alpha_range4 = 1.5"), "{error}");
    }

    #[test]
    fn filter_into_appends_one_value_per_sample() {
        let mut filter = SpikeFilter::default();
        let mut out = vec![7.0];
        filter.filter_into(&[1e-3, 1e-3, 50e-3], &[1, 1, 4], &mut out);
        assert_eq!(out.len(), 4);
        assert!(close(out[3], 1e-3));
    }
}
