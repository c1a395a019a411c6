//! Nordic Power Profiler Kit II: the driver's pure logic, with no port, no thread and no clock of its own.
//!
//! What is here: the commands as bytes ([`Command`]), the metadata reply read into calibration constants
//! ([`parse_metadata`], [`Calibration::problems`]), the reference's conversion from ADC code to amperes
//! ([`Converter`]), the byte stream cut into samples with loss detection and resynchronisation ([`Decoder`]),
//! and the host-side spike filter the official app applies ([`SpikeFilter`]). What is not: opening the USB
//! port, reading it on a thread, and timing — `crate::io` does that and feeds bytes and elapsed time in here.
//!
//! Invariants the rest of Benchtop can rely on:
//! * a sample is never invented: a lost or damaged word becomes a [`GAP`] sample (current NaN), so sample `k`
//!   of a stream is always at `t0 + k · 10 µs`;
//! * a range whose calibration is missing, corrupt or absurd converts to NaN, never to a default, and the
//!   problem is reported ([`CalibrationProblem`]);
//! * the raw current is never altered; the spike filter gives a second, filtered value beside it.
//!
//! The facts used (opcodes, word layout, formula, filter constants, loss pitfalls) are those of
//! `shared/reference/ppk2.md`, gathered from Nordic's nRF Connect Power Profiler and community drivers.

mod command;
mod convert;
mod decode;
mod metadata;
mod spike;

#[cfg(test)]
mod tests;

pub use command::{
    Command, Mode, Ppk2Error, USER_GAIN_MAX, USER_GAIN_MIN, VOLTAGE_MAX_MV, VOLTAGE_MIN_MV, mode_switch,
};
pub use convert::{ADC_VOLTS_PER_COUNT, Converter};
pub use decode::{
    Block, DecodeStats, Decoder, GAP, GAP_RANGE, INVALID_RANGE, OVER_RANGE, OVER_RANGE_ADC, SAMPLE_RATE_HZ,
};
pub use metadata::{
    Calibration, CalibrationProblem, Constant, DEFAULT_SHUNT_OHM, Metadata, MetadataError, metadata_complete,
    parse_metadata,
};
pub use spike::{SpikeFilter, SpikeFilterError, SpikeFilterParams};

/// Number of measurement ranges the PPK2 reports (0 to 4); range codes 5 to 7 in a word are invalid.
pub const RANGE_COUNT: usize = 5;
