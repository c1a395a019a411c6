//! ADC code and range to amperes, by the reference's formula, with the per-range constants folded once.
//!
//! ```text
//! x = (4·adc14 − O[r]) · (1.8 / 163840) / R[r]
//! I = UG[r] · ( x·(GS[r]·x + GI[r]) + S[r]·VDD_mV/1000 + I[r] )
//! ```
//!
//! [`Converter::new`] expands this to `x = a·adc14 + b`, `I = x·(gs·x + gi) + c` per range, in f64, so a sample
//! costs a table load and three multiply-adds. Ranges 5 to 7 and ranges with a [`CalibrationProblem`] get NaN
//! coefficients, so they convert to NaN without a branch. No clamping: the Nordic app shows values under
//! 0.2 µA as 0, which is a display choice left to the caller.

use super::RANGE_COUNT;
use super::metadata::{Calibration, CalibrationProblem};

/// Volts per count of `4·adc14` at the ADC input: the reference's `1.8 / 163840`.
pub const ADC_VOLTS_PER_COUNT: f64 = 1.8 / 163_840.0;

/// The folded constants of one range.
#[derive(Debug, Clone, Copy, PartialEq)]
struct RangeCoefficients {
    /// Amperes per ADC code before gain: `4 · ADC_VOLTS_PER_COUNT / R`.
    a: f64,
    /// Amperes at code 0 before gain: `−O · ADC_VOLTS_PER_COUNT / R`.
    b: f64,
    /// `UG · GS`, 1/A.
    gs: f64,
    /// `UG · GI`.
    gi: f64,
    /// `UG · (S · VDD_V + I)`, A.
    c: f64,
}

impl RangeCoefficients {
    const UNUSABLE: RangeCoefficients =
        RangeCoefficients { a: f64::NAN, b: f64::NAN, gs: f64::NAN, gi: f64::NAN, c: f64::NAN };
}

/// Converts ADC codes of one PPK2 to amperes, for one regulator voltage.
#[derive(Debug, Clone, PartialEq)]
pub struct Converter {
    /// Indexed by the 3-bit range field, so every code has an entry; 5 to 7 are unusable.
    ranges: [RangeCoefficients; 8],
    vdd_mv: u16,
    problems: Vec<CalibrationProblem>,
}

impl Converter {
    /// A converter for `calibration` with the regulator at `vdd_mv` (the voltage Benchtop set, which may differ
    /// from the metadata's). Ranges with problems convert to NaN; [`Converter::problems`] lists them.
    pub fn new(calibration: &Calibration, vdd_mv: u16) -> Self {
        let problems = calibration.problems();
        let vdd_v = f64::from(vdd_mv) / 1000.0;
        let mut ranges = [RangeCoefficients::UNUSABLE; 8];
        for (index, slot) in ranges.iter_mut().enumerate().take(RANGE_COUNT) {
            if problems.iter().any(|p| usize::from(p.range()) == index) {
                continue;
            }
            let at = |array: &[f64; RANGE_COUNT]| array.get(index).copied().unwrap_or(f64::NAN);
            let (r, o, ug) = (at(&calibration.r), at(&calibration.o), at(&calibration.ug));
            *slot = RangeCoefficients {
                a: 4.0 * ADC_VOLTS_PER_COUNT / r,
                b: -o * ADC_VOLTS_PER_COUNT / r,
                gs: ug * at(&calibration.gs),
                gi: ug * at(&calibration.gi),
                c: ug * (at(&calibration.s) * vdd_v + at(&calibration.i)),
            };
        }
        Self { ranges, vdd_mv, problems }
    }

    /// The regulator voltage this converter assumes, mV.
    pub fn vdd_mv(&self) -> u16 {
        self.vdd_mv
    }

    /// The calibration problems found; their ranges convert to NaN.
    pub fn problems(&self) -> &[CalibrationProblem] {
        &self.problems
    }

    /// Whether `range` converts to real numbers (0 to 4 and no calibration problem).
    pub fn range_usable(&self, range: u8) -> bool {
        self.ranges.get(usize::from(range)).is_some_and(|c| c.a.is_finite())
    }

    /// Current in amperes for a 14-bit ADC field in `range`; NaN for ranges 5 and up and for ranges with a
    /// calibration problem. `adc14` is used as given; the device never sends more than 0x3FFF.
    pub fn current_a(&self, adc14: u16, range: u8) -> f32 {
        match self.ranges.get(usize::from(range)) {
            Some(coefficients) => evaluate(coefficients, f64::from(adc14)),
            None => f32::NAN,
        }
    }

    /// Current in amperes for a raw stream word (ADC in bits 0-13, range in bits 14-16). The decoder's hot
    /// path: no branch, no bounds check.
    #[inline]
    pub fn current_from_word(&self, word: u32) -> f32 {
        // The mask keeps the index below 8, the table's length, so the indexing cannot fail.
        let coefficients = &self.ranges[((word >> 14) & 0x7) as usize];
        evaluate(coefficients, f64::from(word & 0x3FFF))
    }
}

#[inline]
fn evaluate(coefficients: &RangeCoefficients, adc: f64) -> f32 {
    let x = coefficients.a * adc + coefficients.b;
    (x * (coefficients.gs * x + coefficients.gi) + coefficients.c) as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ppk2::tests::example_converter;

    /// Relative error of `got` against a hand-worked value.
    fn relative_error(got: f32, expected: f64) -> f64 {
        ((f64::from(got) - expected) / expected).abs()
    }

    /// Every range at one code, worked by hand from the reference's example metadata at VDD = 3000 mV
    /// (S·VDD/1000 uses 3.0 V; UG = 1 everywhere). k = 1.8 / 163840 = 1.0986328125e-5 V exactly.
    #[test]
    fn every_range_converts_as_worked_by_hand() {
        let converter = example_converter();
        let cases: [(u8, u16, f64); 5] = [
            // Range 0, adc 1000: 4·1000 − 112.9420 = 3887.0580; × k = 0.04270449463 V;
            // ÷ R0 1003.3506 = x = 4.256188677e-5 A. GS0 = 0, so x·(0·x + 1.0) = 4.256188677e-5.
            // S0·3.0 = 1.44e-7; + I0 (−1.04e-7) = 4.0e-8. I = 4.256188677e-5 + 4.0e-8 = 4.260188677e-5 A.
            (0, 1000, 4.260188677e-5),
            // Range 1, adc 2000: 8000 − 75.4627 = 7924.5373; × k = 0.08706156702 V; ÷ 101.5865 =
            // x = 8.570190627e-4 A. GS1·x = 112.7890·x = 0.09666232307; + GI1 0.9695 = 1.066162323;
            // x·1.066162323 = 9.137214348e-4. S1·3.0 = 1.788e-6; + I1 (−1.443e-6) = 3.45e-7.
            // I = 9.137214348e-4 + 3.45e-7 = 9.140664348e-4 A.
            (1, 2000, 9.140664348e-4),
            // Range 2, adc 3000: 12000 − 64.6020 = 11935.3980; × k = 0.1311261987 V; ÷ 10.3027 =
            // x = 0.01272736261 A. GS2·x = 18.0115·x = 0.2292388916; + GI2 0.9609 = 1.190138892;
            // x·1.190138892 = 0.01514732923. S2·3.0 = 1.5843e-5; + I2 3.6439e-5 = 5.2282e-5.
            // I = 0.01514732923 + 0.000052282 = 0.01519961123 A.
            (2, 3000, 0.01519961123),
            // Range 3, adc 1500: 6000 − 50.4983 = 5949.5017; × k = 0.06536317786 V; ÷ 0.9636 =
            // x = 0.06783227258 A. GS3·x = 2.4217·x = 0.1642694145; + GI3 0.9519 = 1.116169415;
            // x·1.116169415 = 0.07571230797. S3·3.0 = 1.87731e-4; + I3 (−3.74119e-4) = −1.86388e-4.
            // I = 0.07571230797 − 0.000186388 = 0.07552591997 A.
            (3, 1500, 0.07552591997),
            // Range 4, adc 600: 2400 − 87.2177 = 2312.7823; × k = 0.02540898523 V; ÷ 0.0564 =
            // x = 0.4505139225 A. GS4·x = 0.0729·x = 0.03284246495; + GI4 0.9582 = 0.9910424650;
            // x·0.9910424650 = 0.4464784283. S4·3.0 = 0.008822229; + I4 (−0.009388455) = −0.000566226.
            // I = 0.4464784283 − 0.000566226 = 0.4459122023 A.
            (4, 600, 0.4459122023),
        ];
        for (range, adc, expected_a) in cases {
            let got = converter.current_a(adc, range);
            // f32 carries about 7 significant digits; require 6.
            assert!(relative_error(got, expected_a) < 1e-6, "range {range}: {got} A, by hand {expected_a} A");
            let word = u32::from(adc) | (u32::from(range) << 14) | (17 << 18) | (0xA5 << 24);
            assert_eq!(converter.current_from_word(word).to_bits(), got.to_bits(), "range {range} from a word");
        }
    }

    #[test]
    fn the_regulator_voltage_enters_through_s() {
        let calibration = crate::ppk2::parse_metadata(crate::ppk2::tests::EXAMPLE_METADATA.as_bytes()).unwrap();
        let at_3000 = Converter::new(&calibration.calibration, 3000);
        let at_5000 = Converter::new(&calibration.calibration, 5000);
        // Range 4: S4 · (5.0 − 3.0) = 0.002940743 · 2 = 0.005881486 A more.
        let difference = f64::from(at_5000.current_a(600, 4)) - f64::from(at_3000.current_a(600, 4));
        assert!((difference - 0.005881486).abs() < 1e-7, "{difference}");
        assert_eq!(at_5000.vdd_mv(), 5000);
    }

    #[test]
    fn ranges_five_to_seven_and_beyond_are_nan() {
        let converter = example_converter();
        for range in [5u8, 6, 7, 8, 255] {
            assert!(converter.current_a(1000, range).is_nan(), "range {range}");
            assert!(!converter.range_usable(range));
        }
        for range in 5u32..8 {
            assert!(converter.current_from_word(1000 | (range << 14)).is_nan());
        }
        assert!((0..5).all(|range| converter.range_usable(range)));
    }

    #[test]
    fn defaults_convert_with_the_default_shunts() {
        let converter = Converter::new(&Calibration::default(), 3300);
        // Range 2, adc 8192: x = 4·8192 · k / 10.15 = 32768 · 1.0986328125e-5 / 10.15 = 0.36 / 10.15
        // = 0.0354679803 A; GS = GI = 1: x·(x + 1) = 0.0354679803 + 0.0354679803² = 0.0354679803 + 0.0012579776
        // = 0.0367259579 A.
        let got = converter.current_a(8192, 2);
        assert!(relative_error(got, 0.0367259579) < 1e-6, "{got}");
        assert!(converter.problems().is_empty());
    }
}
