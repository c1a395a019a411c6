//! The emulated PPK2's calibration: the per-range constants its metadata reports, the text of the `0x19`
//! reply, and the reference's current conversion in both directions.
//!
//! It is written from the PPK2 USB protocol reference (metadata §3, conversion §5: Nordic's nRF Connect
//! Power Profiler and ppk2-rs) alone, and deliberately shares nothing with Benchtop's PPK2 decoder, so that
//! the two check each other. The forward formula is
//!
//! ```text
//! x = (4·adc14 − O[r]) · (1.8 / 163840) / R[r]
//! I = UG[r] · ( x·(GS[r]·x + GI[r]) + S[r]·VDD_V + I[r] )
//! ```
//!
//! and [`Ppk2Calibration::adc_code`] inverts it: it solves the quadratic in `x` for the root that tends to
//! the linear solution as `GS → 0`, and rounds to the nearest 14-bit code. Invariant: for a code that is not
//! clamped, the forward formula applied to it lands within half an ADC step of the current it was made from.

use std::fmt::Write as _;

/// Number of measurement ranges.
pub const RANGES: usize = 5;
/// Largest 14-bit ADC field; a field pinned here means the input was over-range.
pub const ADC_MAX: u16 = 0x3FFF;
/// Volts per count of `4·adc14`: the reference's `1.8 / 163840`.
const VOLTS_PER_COUNT: f64 = 1.8 / 163_840.0;

/// Per-range calibration constants, as the metadata reports them.
#[derive(Debug, Clone, PartialEq)]
pub struct Ppk2Calibration {
    /// `Calibrated:` (informational; units with complete constants say 0).
    pub calibrated: bool,
    /// Shunt resistance per range, ohms (`R0..R4`).
    pub r_ohms: [f64; RANGES],
    /// Second-order gain per range, 1/A (`GS0..GS4`).
    pub gs: [f64; RANGES],
    /// First-order gain per range (`GI0..GI4`).
    pub gi: [f64; RANGES],
    /// ADC offset per range, in counts of `4·adc14` (`O0..O4`).
    pub o_counts: [f64; RANGES],
    /// VDD-dependent term per range, A/V (`S0..S4`).
    pub s_a_per_v: [f64; RANGES],
    /// Constant offset per range, A (`I0..I4`).
    pub i_a: [f64; RANGES],
    /// User gain per range (`UG0..UG4`), changed by the host with `0x25`.
    pub user_gain: [f64; RANGES],
    /// `HW:` hardware number.
    pub hw: u32,
    /// `IA:` value.
    pub ia: u32,
}

impl Ppk2Calibration {
    /// The constants of the reference's example metadata (ppk2-rs's doc comment).
    pub fn example() -> Self {
        Self {
            calibrated: false,
            r_ohms: [1003.3506, 101.5865, 10.3027, 0.9636, 0.0564],
            gs: [0.0, 112.7890, 18.0115, 2.4217, 0.0729],
            gi: [1.0, 0.9695, 0.9609, 0.9519, 0.9582],
            o_counts: [112.9420, 75.4627, 64.6020, 50.4983, 87.2177],
            s_a_per_v: [0.000000048, 0.000000596, 0.000005281, 0.000062577, 0.002940743],
            i_a: [-0.000000104, -0.000001443, 0.000036439, -0.000374119, -0.009388455],
            user_gain: [1.0; RANGES],
            hw: 9173,
            ia: 56,
        }
    }

    /// The example with the corruption seen on a real unit (DevZone): `R0 = 3.1e27`, `R1..R4 = 0`.
    pub fn corrupt() -> Self {
        Self { r_ohms: [3.1e27, 0.0, 0.0, 0.0, 0.0], ..Self::example() }
    }

    /// The reference's forward conversion: the current, in amperes, that a 14-bit ADC field `adc14` in
    /// `range` means at regulator voltage `vdd_mv`. Not finite when the range's constants are unusable.
    pub fn current_a(&self, range: usize, adc14: u16, vdd_mv: u16) -> f64 {
        let Some(r) = self.r_ohms.get(range) else { return f64::NAN };
        let x = (4.0 * f64::from(adc14) - self.o_counts[range]) * VOLTS_PER_COUNT / r;
        self.user_gain[range]
            * (x * (self.gs[range] * x + self.gi[range])
                + self.s_a_per_v[range] * (f64::from(vdd_mv) / 1000.0)
                + self.i_a[range])
    }

    /// The inverse conversion: the 14-bit ADC field that best represents `current_a` in `range` at
    /// `vdd_mv`, and whether it had to be clamped (to `0` below the range, to [`ADC_MAX`] above it; the
    /// latter is what the hardware reports as over-range).
    pub fn adc_code(&self, range: usize, current_a: f64, vdd_mv: u16) -> (u16, bool) {
        let Some(&r) = self.r_ohms.get(range) else { return (ADC_MAX, true) };
        let (gs, gi, ug) = (self.gs[range], self.gi[range], self.user_gain[range]);
        // GS·x² + GI·x + c = 0, with everything that does not depend on x folded into c.
        let c = self.s_a_per_v[range] * (f64::from(vdd_mv) / 1000.0) + self.i_a[range] - current_a / ug;
        let discriminant = (gi * gi - 4.0 * gs * c).max(0.0);
        // The form −2c / (GI + √D) is the root that becomes −c/GI as GS → 0, without the cancellation of
        // (−GI + √D) / 2GS when GS is tiny.
        let x = -2.0 * c / (gi + discriminant.sqrt());
        let counts = (x * r / VOLTS_PER_COUNT + self.o_counts[range]) / 4.0;
        if !counts.is_finite() {
            return (ADC_MAX, true);
        }
        let rounded = counts.round();
        if rounded >= f64::from(ADC_MAX) {
            (ADC_MAX, true)
        } else if rounded < 0.0 {
            (0, true)
        } else {
            (rounded as u16, false)
        }
    }

    /// The `0x19` reply: `KEY: value` lines in the order and number formats of the example, ending `END\n`.
    /// `vdd_mv` and `mode` are the device's current settings, which the reply reports.
    pub fn metadata_text(&self, vdd_mv: u16, mode: u8) -> String {
        // `{:.4}` prints every digit of 3.1e27, as a C `%f` would; the text parses back to the same value.
        let mut out = format!("Calibrated: {}\n", u8::from(self.calibrated));
        let groups: [(&str, &[f64; RANGES], usize); 4] =
            [("R", &self.r_ohms, 4), ("GS", &self.gs, 4), ("GI", &self.gi, 4), ("O", &self.o_counts, 4)];
        for (key, values, decimals) in groups {
            for (index, value) in values.iter().enumerate() {
                let _ = writeln!(out, "{key}{index}: {value:.decimals$}");
            }
        }
        let _ = writeln!(out, "VDD: {vdd_mv}\nHW: {}\nmode: {mode}", self.hw);
        let groups: [(&str, &[f64; RANGES], usize); 3] =
            [("S", &self.s_a_per_v, 9), ("I", &self.i_a, 9), ("UG", &self.user_gain, 2)];
        for (key, values, decimals) in groups {
            for (index, value) in values.iter().enumerate() {
                let _ = writeln!(out, "{key}{index}: {value:.decimals$}");
            }
        }
        let _ = writeln!(out, "IA: {}\nEND", self.ia);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_metadata_matches_the_reference_text_line_for_line() {
        let text = Ppk2Calibration::example().metadata_text(3000, 2);
        let expected = "Calibrated: 0\nR0: 1003.3506\nR1: 101.5865\nR2: 10.3027\nR3: 0.9636\nR4: 0.0564\n\
            GS0: 0.0000\nGS1: 112.7890\nGS2: 18.0115\nGS3: 2.4217\nGS4: 0.0729\n\
            GI0: 1.0000\nGI1: 0.9695\nGI2: 0.9609\nGI3: 0.9519\nGI4: 0.9582\n\
            O0: 112.9420\nO1: 75.4627\nO2: 64.6020\nO3: 50.4983\nO4: 87.2177\n\
            VDD: 3000\nHW: 9173\nmode: 2\n\
            S0: 0.000000048\nS1: 0.000000596\nS2: 0.000005281\nS3: 0.000062577\nS4: 0.002940743\n\
            I0: -0.000000104\nI1: -0.000001443\nI2: 0.000036439\nI3: -0.000374119\nI4: -0.009388455\n\
            UG0: 1.00\nUG1: 1.00\nUG2: 1.00\nUG3: 1.00\nUG4: 1.00\nIA: 56\nEND\n";
        assert_eq!(text, expected);
    }

    #[test]
    fn corrupt_metadata_says_what_the_devzone_unit_said() {
        let text = Ppk2Calibration::corrupt().metadata_text(3300, 1);
        let r0: f64 = text.lines().find_map(|l| l.strip_prefix("R0: ")).unwrap().parse().unwrap();
        assert_eq!(r0, 3.1e27);
        for key in ["R1: 0.0000", "R4: 0.0000", "VDD: 3300", "mode: 1"] {
            assert!(text.lines().any(|l| l == key), "missing {key}");
        }
    }

    #[test]
    fn a_hand_worked_code_converts_as_the_reference_says() {
        // Range 0, field 96, 3000 mV: x = (384 − 112.942)·(1.8/163840)/1003.3506 = 2.967988e-6 A;
        // I = x·1 + 4.8e-8·3 − 1.04e-7 = 3.007988e-6 A.
        let i = Ppk2Calibration::example().current_a(0, 96, 3000);
        assert!((i - 3.007_988e-6).abs() < 1e-12, "{i}");
        // Range 4, field 0x3FFF: x = 12.748189 A, and the second-order gain lifts full scale to 24.062188 A.
        let full_scale = Ppk2Calibration::example().current_a(4, ADC_MAX, 3000);
        assert!((full_scale - 24.062_188).abs() < 1e-5, "{full_scale}");
    }

    #[test]
    fn inverse_lands_within_half_a_step_in_every_range() {
        let cal = Ppk2Calibration::example();
        let currents = [[1e-6, 3e-6, 9e-6], [15e-6, 40e-6, 95e-6], [150e-6, 600e-6, 0.9e-3], [2e-3, 8e-3, 9e-3]];
        let tx = [[20e-3, 120e-3, 500e-3]];
        for (range, set) in currents.iter().chain(tx.iter()).enumerate() {
            for &current_a in set {
                for vdd_mv in [800, 3000, 5000] {
                    let (code, clamped) = cal.adc_code(range, current_a, vdd_mv);
                    assert!(!clamped, "range {range} {current_a} A clamped");
                    let back = cal.current_a(range, code, vdd_mv);
                    let step = cal.current_a(range, code + 1, vdd_mv) - back;
                    assert!(step > 0.0);
                    assert!((back - current_a).abs() <= step / 2.0 + 1e-15, "range {range}: {current_a} → {back}");
                }
            }
        }
    }

    #[test]
    fn inverse_clamps_beyond_the_adc() {
        let cal = Ppk2Calibration::example();
        assert_eq!(cal.adc_code(4, 30.0, 3000), (ADC_MAX, true));
        assert_eq!(cal.adc_code(0, -1e-3, 3000), (0, true));
        assert_eq!(Ppk2Calibration::corrupt().adc_code(0, 3e-6, 3000), (ADC_MAX, true));
    }

    #[test]
    fn user_gain_scales_the_forward_formula_and_the_inverse_follows() {
        let mut cal = Ppk2Calibration::example();
        let before = cal.current_a(2, 1000, 3000);
        cal.user_gain[2] = 1.05;
        assert!((cal.current_a(2, 1000, 3000) / before - 1.05).abs() < 1e-12);
        let (code, _) = cal.adc_code(2, 600e-6, 3000);
        let (unscaled, _) = Ppk2Calibration::example().adc_code(2, 600e-6, 3000);
        assert!(code < unscaled);
    }
}
