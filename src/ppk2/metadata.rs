//! The PPK2's metadata reply (`0x19`): `KEY: value` text up to an `END` line, read into calibration constants.
//!
//! The reply is read the way the field has learnt to: lossily (a stray 0x81 can lead after a firmware update),
//! keys in any order and any case, several pairs on one line or one per line, values with any number of
//! decimals, `-nan` accepted. A key that is absent keeps the reference's default; a value that is present but
//! zero, NaN or absurd is kept as it is and reported by [`Calibration::problems`], and the converter turns
//! that range into NaN — a corrupt unit (R0 = 3.1e27, R1..R4 = 0 has been seen) must not read as plausible
//! numbers. This module does no I/O: the caller accumulates chunks until [`metadata_complete`].

use std::collections::BTreeMap;
use std::fmt;

use thiserror::Error;

use super::RANGE_COUNT;
use super::command::{Mode, USER_GAIN_MAX, USER_GAIN_MIN, VOLTAGE_MAX_MV, VOLTAGE_MIN_MV};

/// The reference's default shunt per range, ohms, used when the metadata has no `R` line for it. It is also
/// the nominal value the plausibility bounds are centred on.
pub const DEFAULT_SHUNT_OHM: [f64; RANGE_COUNT] = [1031.64, 101.65, 10.15, 0.94, 0.043];

/// A shunt further than this factor from its range's nominal value is refused. The reference's example unit is
/// within 1.32× (R4 = 0.0564 Ω against 0.043 Ω), and the bounds stay inside 0.01–10,000 Ω for every range.
const SHUNT_FACTOR: f64 = 4.0;
/// Bounds of the first-order gain `GI`; real units report 0.95–1.0.
const GI_BOUNDS: (f64, f64) = (0.5, 2.0);
/// Bound of |`GS`|, 1/A; the example's largest is 112.8 (range 1).
const GS_LIMIT: f64 = 1000.0;
/// Bound of |`O`|, counts of 4·adc: an offset beyond the ADC's full scale would make every reading garbage.
const O_LIMIT: f64 = 65_536.0;
/// Bound of |`S`|, A/V; the example's largest is 0.0029.
const S_LIMIT: f64 = 1.0;
/// Bound of |`I`|, A; the example's largest is 0.0094.
const I_LIMIT: f64 = 1.0;

/// The per-range constants of the conversion, as the metadata gives them (index = range 0 to 4).
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    /// Shunt resistance `R`, ohms. Default [`DEFAULT_SHUNT_OHM`].
    pub r: [f64; RANGE_COUNT],
    /// Second-order gain `GS`, 1/A. Default 1.
    pub gs: [f64; RANGE_COUNT],
    /// First-order gain `GI`. Default 1.
    pub gi: [f64; RANGE_COUNT],
    /// ADC offset `O`, in counts of 4·adc. Default 0.
    pub o: [f64; RANGE_COUNT],
    /// VDD-dependent term `S`, A/V. Default 0.
    pub s: [f64; RANGE_COUNT],
    /// Constant offset `I`, A. Default 0.
    pub i: [f64; RANGE_COUNT],
    /// User gain `UG`. Default 1.
    pub ug: [f64; RANGE_COUNT],
}

impl Default for Calibration {
    fn default() -> Self {
        Self {
            r: DEFAULT_SHUNT_OHM,
            gs: [1.0; RANGE_COUNT],
            gi: [1.0; RANGE_COUNT],
            o: [0.0; RANGE_COUNT],
            s: [0.0; RANGE_COUNT],
            i: [0.0; RANGE_COUNT],
            ug: [1.0; RANGE_COUNT],
        }
    }
}

/// One calibration constant, named as in the metadata (`R`, `GS`, `GI`, `O`, `S`, `I`, `UG`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Constant {
    /// Shunt resistance.
    R,
    /// Second-order gain.
    Gs,
    /// First-order gain.
    Gi,
    /// ADC offset.
    O,
    /// VDD-dependent term.
    S,
    /// Constant offset.
    I,
    /// User gain.
    Ug,
}

impl fmt::Display for Constant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Constant::R => "R",
            Constant::Gs => "GS",
            Constant::Gi => "GI",
            Constant::O => "O",
            Constant::S => "S",
            Constant::I => "I",
            Constant::Ug => "UG",
        })
    }
}

/// A calibration constant that makes its range unusable. That range converts to NaN.
#[derive(Debug, Clone, Copy, PartialEq, Error)]
pub enum CalibrationProblem {
    /// NaN or infinite (`-nan` in the reply, or a value that is not a number).
    #[error(
        "range {range}: {constant}{range} is {}, not a number, so range {range} reads as missing; ask for the metadata again, and if it persists restore the PPK2's calibration with Nordic's tools",
        shown(.value)
    )]
    NotFinite {
        /// The range, 0 to 4.
        range: u8,
        /// Which constant.
        constant: Constant,
        /// The value read.
        value: f64,
    },
    /// A shunt of zero or less ohms.
    #[error(
        "range {range}: shunt R{range} = {} Ω is not positive, so range {range} reads as missing; ask for the metadata again, and if it persists restore the PPK2's calibration with Nordic's tools",
        shown(.value_ohm)
    )]
    ShuntNotPositive {
        /// The range, 0 to 4.
        range: u8,
        /// The value read, ohms.
        value_ohm: f64,
    },
    /// A shunt far from the range's nominal resistance.
    #[error(
        "range {range}: shunt R{range} = {} Ω is outside the {}–{} Ω a PPK2 has in that range, so range {range} reads as missing; ask for the metadata again, and if it persists restore the PPK2's calibration with Nordic's tools",
        shown(.value_ohm), shown(.min_ohm), shown(.max_ohm)
    )]
    ShuntImplausible {
        /// The range, 0 to 4.
        range: u8,
        /// The value read, ohms.
        value_ohm: f64,
        /// Lowest plausible value, ohms.
        min_ohm: f64,
        /// Highest plausible value, ohms.
        max_ohm: f64,
    },
    /// A user gain the Nordic app itself would reset.
    #[error(
        "range {range}: user gain UG{range} = {} is outside 0.9–1.1, so range {range} reads as missing; set it back to 1.0 (command 0x25) or redo the user calibration in the Power Profiler app",
        shown(.gain)
    )]
    UserGainOutOfRange {
        /// The range, 0 to 4.
        range: u8,
        /// The value read.
        gain: f64,
    },
    /// Another constant far outside what real units report.
    #[error(
        "range {range}: {constant}{range} = {} is outside {} to {}, so range {range} reads as missing; ask for the metadata again, and if it persists restore the PPK2's calibration with Nordic's tools",
        shown(.value), shown(.min), shown(.max)
    )]
    Implausible {
        /// The range, 0 to 4.
        range: u8,
        /// Which constant.
        constant: Constant,
        /// The value read.
        value: f64,
        /// Lowest plausible value.
        min: f64,
        /// Highest plausible value.
        max: f64,
    },
}

impl CalibrationProblem {
    /// The range this problem makes unusable.
    pub fn range(&self) -> u8 {
        match *self {
            CalibrationProblem::NotFinite { range, .. }
            | CalibrationProblem::ShuntNotPositive { range, .. }
            | CalibrationProblem::ShuntImplausible { range, .. }
            | CalibrationProblem::UserGainOutOfRange { range, .. }
            | CalibrationProblem::Implausible { range, .. } => range,
        }
    }
}

impl Calibration {
    /// Every constant that makes its range unusable, range by range. Empty for a sound calibration.
    pub fn problems(&self) -> Vec<CalibrationProblem> {
        (0..RANGE_COUNT).flat_map(|range| self.range_problems(range)).collect()
    }

    /// Whether `range` (0 to 4) has no problem and converts to real numbers.
    pub fn range_usable(&self, range: usize) -> bool {
        range < RANGE_COUNT && self.range_problems(range).is_empty()
    }

    fn range_problems(&self, index: usize) -> Vec<CalibrationProblem> {
        let mut problems = Vec::new();
        let Some(&nominal_ohm) = DEFAULT_SHUNT_OHM.get(index) else { return problems };
        // `index` < 5 here, so the narrowing cannot lose anything.
        let range = index as u8;
        let value = |array: &[f64; RANGE_COUNT]| array.get(index).copied().unwrap_or(f64::NAN);
        let constants = [
            (Constant::R, value(&self.r)),
            (Constant::Gs, value(&self.gs)),
            (Constant::Gi, value(&self.gi)),
            (Constant::O, value(&self.o)),
            (Constant::S, value(&self.s)),
            (Constant::I, value(&self.i)),
            (Constant::Ug, value(&self.ug)),
        ];
        for (constant, value) in constants {
            if !value.is_finite() {
                problems.push(CalibrationProblem::NotFinite { range, constant, value });
                continue;
            }
            let (min, max) = match constant {
                Constant::R => {
                    let (min_ohm, max_ohm) = (nominal_ohm / SHUNT_FACTOR, nominal_ohm * SHUNT_FACTOR);
                    if value <= 0.0 {
                        problems.push(CalibrationProblem::ShuntNotPositive { range, value_ohm: value });
                    } else if !(min_ohm..=max_ohm).contains(&value) {
                        problems.push(CalibrationProblem::ShuntImplausible {
                            range,
                            value_ohm: value,
                            min_ohm,
                            max_ohm,
                        });
                    }
                    continue;
                }
                Constant::Ug => {
                    if !(f64::from(USER_GAIN_MIN)..=f64::from(USER_GAIN_MAX)).contains(&value) {
                        problems.push(CalibrationProblem::UserGainOutOfRange { range, gain: value });
                    }
                    continue;
                }
                Constant::Gs => (-GS_LIMIT, GS_LIMIT),
                Constant::Gi => GI_BOUNDS,
                Constant::O => (-O_LIMIT, O_LIMIT),
                Constant::S => (-S_LIMIT, S_LIMIT),
                Constant::I => (-I_LIMIT, I_LIMIT),
            };
            if !(min..=max).contains(&value) {
                problems.push(CalibrationProblem::Implausible { range, constant, value, min, max });
            }
        }
        problems
    }
}

/// What the metadata reply says.
#[derive(Debug, Clone, PartialEq)]
pub struct Metadata {
    /// The conversion constants, with defaults where a key was absent. Check [`Calibration::problems`].
    pub calibration: Calibration,
    /// Regulator voltage the device reports (`VDD`), mV.
    pub vdd_mv: u16,
    /// Hardware revision (`HW`), if it was a number.
    pub hardware: Option<u32>,
    /// Power mode the device is in (`mode`: 1 ampere, 2 source), if known.
    pub mode: Option<Mode>,
    /// `Calibrated: 1`. Informational only: units whose constants are complete report 0.
    pub calibrated: bool,
    /// Every `key: value` pair read, keys lowercased, values as sent (including `IA` and unknown keys).
    pub fields: BTreeMap<String, String>,
}

/// Why a metadata reply could not be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MetadataError {
    /// No `END` line yet.
    #[error(
        "the PPK2's metadata reply stops after {received_bytes} bytes without its END line; keep reading, and if END never comes ask again (command 0x19)"
    )]
    Incomplete {
        /// Bytes received so far.
        received_bytes: usize,
    },
    /// An `END` line but no calibration key before it.
    #[error(
        "the PPK2's reply has no calibration values before END; stop streaming (command 0x07), drain the port and ask for the metadata again"
    )]
    NoCalibration,
    /// No `VDD` line.
    #[error(
        "the PPK2's metadata has no VDD line; ask for the metadata again, and update the PPK2's firmware if it stays missing"
    )]
    MissingVdd,
    /// A `VDD` value that is not a voltage the regulator can have.
    #[error(
        "the PPK2's metadata gives VDD as `{value}`, not a whole number of mV from 800 to 5000; ask for the metadata again"
    )]
    BadVdd {
        /// The value as sent.
        value: String,
    },
}

/// Whether `bytes` (the reply so far) contains its `END` line.
pub fn metadata_complete(bytes: &[u8]) -> bool {
    String::from_utf8_lossy(bytes).lines().any(|line| clean(line).eq_ignore_ascii_case("end"))
}

/// A number as a person reads it: plain in the usual magnitudes, scientific beyond (3.1e27, not 28 digits).
fn shown(value: &f64) -> String {
    let magnitude = value.abs();
    if magnitude == 0.0 || !value.is_finite() || (1e-4..1e6).contains(&magnitude) {
        format!("{value}")
    } else {
        format!("{value:e}")
    }
}

/// Reads a complete metadata reply.
pub fn parse_metadata(bytes: &[u8]) -> Result<Metadata, MetadataError> {
    let text = String::from_utf8_lossy(bytes);
    let mut fields = BTreeMap::new();
    let mut complete = false;
    for line in text.lines() {
        let line = clean(line);
        if line.eq_ignore_ascii_case("end") {
            complete = true;
            break;
        }
        read_pairs(line, &mut fields);
    }
    if !complete {
        return Err(MetadataError::Incomplete { received_bytes: bytes.len() });
    }

    let mut calibration = Calibration::default();
    let mut found = false;
    for (prefix, array) in [
        ("r", &mut calibration.r),
        ("gs", &mut calibration.gs),
        ("gi", &mut calibration.gi),
        ("o", &mut calibration.o),
        ("s", &mut calibration.s),
        ("i", &mut calibration.i),
        ("ug", &mut calibration.ug),
    ] {
        for (index, slot) in array.iter_mut().enumerate() {
            if let Some(value) = fields.get(&format!("{prefix}{index}")) {
                // Present but not a number (`-nan`, empty, garbled) becomes NaN, which `problems` reports;
                // the Nordic app would silently keep the default instead.
                *slot = value.trim().parse::<f64>().unwrap_or(f64::NAN);
                found = true;
            }
        }
    }
    if !found {
        return Err(MetadataError::NoCalibration);
    }

    let vdd_text = fields.get("vdd").ok_or(MetadataError::MissingVdd)?;
    let vdd_mv = parse_vdd_mv(vdd_text).ok_or_else(|| MetadataError::BadVdd { value: vdd_text.clone() })?;
    let hardware = fields.get("hw").and_then(|v| v.trim().parse::<u32>().ok());
    let mode = fields.get("mode").and_then(|v| v.trim().parse::<u8>().ok()).and_then(Mode::from_code);
    let calibrated = fields.get("calibrated").and_then(|v| v.trim().parse::<f64>().ok()).is_some_and(|v| v != 0.0);
    Ok(Metadata { calibration, vdd_mv, hardware, mode, calibrated, fields })
}

/// A line without surrounding whitespace or leading junk (the U+FFFD a stray 0x81 decodes to, or the tail of
/// binary samples still in the port when the reply began).
fn clean(line: &str) -> &str {
    line.trim().trim_start_matches(|c: char| !c.is_ascii_alphanumeric())
}

/// Reads `key: value` pairs from one line: one pair per line as the device sends it, or several separated by
/// spaces; `key:value` without the space too. Tokens that are not a key with a value are ignored.
fn read_pairs(line: &str, fields: &mut BTreeMap<String, String>) {
    let mut tokens = line.split_whitespace().peekable();
    while let Some(token) = tokens.next() {
        let Some((key, rest)) = token.split_once(':') else { continue };
        let key = clean(key).to_ascii_lowercase();
        let value = if !rest.is_empty() {
            rest.to_string()
        } else if let Some(next) = tokens.next_if(|next| !next.contains(':')) {
            next.to_string()
        } else {
            String::new()
        };
        if !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            // A repeated key takes its last value, as the app's JSON.parse would.
            fields.insert(key, value);
        }
    }
}

/// `VDD` in mV: a whole number in the regulator's range (`3000` or `3000.0`).
fn parse_vdd_mv(text: &str) -> Option<u16> {
    let value = text.trim().parse::<f64>().ok()?;
    let in_range = (f64::from(VOLTAGE_MIN_MV)..=f64::from(VOLTAGE_MAX_MV)).contains(&value);
    // Checked to be whole and within 800..=5000, so the conversion is exact.
    (in_range && value.fract() == 0.0).then_some(value as u16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ppk2::Converter;
    use crate::ppk2::tests::EXAMPLE_METADATA;

    fn example() -> Metadata {
        parse_metadata(EXAMPLE_METADATA.as_bytes()).unwrap()
    }

    /// The example with some lines replaced: `(key, Some(value))` changes a value, `(key, None)` drops the line.
    fn example_with(changes: &[(&str, Option<&str>)]) -> String {
        let mut text = String::new();
        for line in EXAMPLE_METADATA.lines() {
            let key = line.split(':').next().unwrap_or_default();
            match changes.iter().find(|(k, _)| *k == key) {
                Some((_, Some(value))) => text.push_str(&format!("{key}: {value}\n")),
                Some((_, None)) => {}
                None => text.push_str(&format!("{line}\n")),
            }
        }
        text
    }

    #[test]
    fn the_reference_example_reads_in_full() {
        let metadata = example();
        let calibration = &metadata.calibration;
        assert_eq!(calibration.r, [1003.3506, 101.5865, 10.3027, 0.9636, 0.0564]);
        assert_eq!(calibration.gs, [0.0, 112.7890, 18.0115, 2.4217, 0.0729]);
        assert_eq!(calibration.gi, [1.0, 0.9695, 0.9609, 0.9519, 0.9582]);
        assert_eq!(calibration.o, [112.9420, 75.4627, 64.6020, 50.4983, 87.2177]);
        assert_eq!(calibration.s, [0.000000048, 0.000000596, 0.000005281, 0.000062577, 0.002940743]);
        assert_eq!(calibration.i, [-0.000000104, -0.000001443, 0.000036439, -0.000374119, -0.009388455]);
        assert_eq!(calibration.ug, [1.0; 5]);
        assert_eq!((metadata.vdd_mv, metadata.hardware, metadata.mode), (3000, Some(9173), Some(Mode::Source)));
        assert!(!metadata.calibrated);
        assert_eq!(metadata.fields.get("ia").map(String::as_str), Some("56"));
        assert_eq!(metadata.fields.len(), 40);
        assert!(calibration.problems().is_empty(), "{:?}", calibration.problems());
    }

    #[test]
    fn fragments_are_complete_only_once_end_arrives_and_parse_the_same() {
        let bytes = EXAMPLE_METADATA.as_bytes();
        let end = EXAMPLE_METADATA.find("END").unwrap();
        for split in 0..=bytes.len() {
            assert_eq!(metadata_complete(&bytes[..split]), split >= end + 3, "first {split} bytes");
            if split < end + 3 {
                assert!(matches!(parse_metadata(&bytes[..split]), Err(MetadataError::Incomplete { .. })));
            }
        }
        // Accumulated from pieces of 7 bytes, it parses to the same thing.
        let mut reply = Vec::new();
        for piece in bytes.chunks(7) {
            reply.extend_from_slice(piece);
        }
        assert_eq!(parse_metadata(&reply).unwrap(), example());
    }

    #[test]
    fn order_case_stray_bytes_layout_and_decimals_do_not_matter() {
        let mut lines: Vec<&str> = EXAMPLE_METADATA.lines().filter(|l| *l != "END").collect();
        lines.reverse();
        let reordered = format!("{}\nEND\n", lines.join("\n"));
        let lowercase = EXAMPLE_METADATA.replace("GS", "gs").replace("VDD", "Vdd").replace("mode", "MODE");
        let mut stray = vec![0x81];
        stray.extend_from_slice(EXAMPLE_METADATA.as_bytes());
        // The reference prints several pairs per line; ppk2lab saw values with 20 decimals.
        let dense = "Calibrated: 0\nR0: 1003.3506   R1: 101.5865  R2: 10.3027  R3: 0.9636  R4: 0.0564\n\
            GS0: 0.0000 GS1: 112.7890 GS2: 18.0115 GS3: 2.4217 GS4: 0.0729\n\
            GI0: 1.0000 GI1: 0.9695 GI2: 0.9609 GI3: 0.9519 GI4: 0.9582\n\
            O0: 112.9420 O1: 75.4627 O2: 64.6020 O3: 50.4983 O4: 87.2177\nVDD: 3000   HW: 9173   mode: 2\n\
            S0: 0.00000004800000000000 S1: 0.000000596 S2: 0.000005281 S3: 0.000062577 S4: 0.00294074300000000000\n\
            I0: -0.000000104 I1: -0.000001443 I2: 0.000036439 I3: -0.000374119 I4:-0.009388455\n\
            UG0: 1.00 UG1: 1.00 UG2: 1.00 UG3: 1.00 UG4: 1.00\nIA: 56\r\nEND\r\n";
        let expected = example();
        for (name, bytes) in [
            ("reordered", reordered.into_bytes()),
            ("case", lowercase.into_bytes()),
            ("0x81 first", stray),
            ("dense", dense.as_bytes().to_vec()),
        ] {
            assert!(metadata_complete(&bytes), "{name}");
            let metadata = parse_metadata(&bytes).unwrap();
            assert_eq!(metadata.calibration, expected.calibration, "{name}");
            assert_eq!((metadata.vdd_mv, metadata.mode), (3000, Some(Mode::Source)), "{name}");
        }
    }

    #[test]
    fn absent_keys_keep_the_reference_defaults() {
        let text = example_with(&[("GS2", None), ("R3", None), ("UG0", None), ("O4", None), ("HW", None)]);
        let metadata = parse_metadata(text.as_bytes()).unwrap();
        let calibration = &metadata.calibration;
        assert_eq!((calibration.gs[2], calibration.r[3], calibration.ug[0], calibration.o[4]), (1.0, 0.94, 1.0, 0.0));
        assert_eq!(metadata.hardware, None);
        assert!(calibration.problems().is_empty());
        let defaults = Calibration::default();
        assert_eq!(defaults.r, [1031.64, 101.65, 10.15, 0.94, 0.043]);
        assert!(defaults.problems().is_empty(), "the defaults are within the bounds");
    }

    #[test]
    fn the_devzone_unit_reports_every_range_and_converts_to_nan() {
        let text = example_with(&[
            ("R0", Some("3.1e27")),
            ("R1", Some("0")),
            ("R2", Some("0.0000")),
            ("R3", Some("0")),
            ("R4", Some("0")),
        ]);
        let metadata = parse_metadata(text.as_bytes()).unwrap();
        let problems = metadata.calibration.problems();
        assert_eq!(problems.len(), 5, "{problems:?}");
        assert!(
            matches!(problems[0], CalibrationProblem::ShuntImplausible { range: 0, value_ohm, .. } if value_ohm == 3.1e27)
        );
        for (range, problem) in (1..5).zip(&problems[1..]) {
            assert_eq!(*problem, CalibrationProblem::ShuntNotPositive { range, value_ohm: 0.0 });
        }
        let converter = Converter::new(&metadata.calibration, metadata.vdd_mv);
        for range in 0..5 {
            assert!(converter.current_a(1000, range).is_nan(), "range {range} must not convert");
        }
        let message = problems[0].to_string();
        assert!(message.contains("range 0") && message.contains("R0 = 3.1e27 Ω"), "{message}");
        assert!(message.contains("ask for the metadata again"), "{message}");
        assert!(problems[2].to_string().contains("shunt R2 = 0 Ω is not positive"), "{}", problems[2]);
    }

    #[test]
    fn nan_and_absurd_values_spoil_only_their_range() {
        let text = example_with(&[("GI1", Some("-nan")), ("UG2", Some("1.5")), ("O3", Some("1e9")), ("S4", Some(""))]);
        let metadata = parse_metadata(text.as_bytes()).unwrap();
        let problems = metadata.calibration.problems();
        assert_eq!(problems.iter().map(CalibrationProblem::range).collect::<Vec<_>>(), [1, 2, 3, 4]);
        assert!(matches!(problems[0], CalibrationProblem::NotFinite { range: 1, constant: Constant::Gi, .. }));
        assert_eq!(problems[1], CalibrationProblem::UserGainOutOfRange { range: 2, gain: 1.5 });
        assert!(problems[1].to_string().contains("UG2 = 1.5 is outside 0.9–1.1"), "{}", problems[1]);
        assert!(problems[2].to_string().contains("O3 = 1e9 is outside -65536 to 65536"), "{}", problems[2]);
        let converter = Converter::new(&metadata.calibration, 3000);
        assert!(converter.current_a(1000, 0).is_finite(), "range 0 is sound");
        assert!((1..5).all(|range| converter.current_a(1000, range).is_nan()));
        assert!(!metadata.calibration.range_usable(1) && metadata.calibration.range_usable(0));
    }

    #[test]
    fn replies_that_cannot_be_used_say_why() {
        assert_eq!(parse_metadata(b"R0: 1000\nVDD: 3000\n"), Err(MetadataError::Incomplete { received_bytes: 19 }));
        assert_eq!(parse_metadata(b"\x01\x02garbage\nEND\n"), Err(MetadataError::NoCalibration));
        let no_vdd = example_with(&[("VDD", None)]);
        assert_eq!(parse_metadata(no_vdd.as_bytes()), Err(MetadataError::MissingVdd));
        for vdd in ["9000", "3000.5", "-nan", ""] {
            let text = example_with(&[("VDD", Some(vdd))]);
            let error = parse_metadata(text.as_bytes()).unwrap_err();
            assert_eq!(error, MetadataError::BadVdd { value: vdd.to_string() });
            assert!(error.to_string().contains("ask for the metadata again"));
        }
        let text = example_with(&[("mode", Some("7")), ("Calibrated", Some("1"))]);
        let metadata = parse_metadata(text.as_bytes()).unwrap();
        assert_eq!((metadata.mode, metadata.calibrated), (None, true));
    }
}
