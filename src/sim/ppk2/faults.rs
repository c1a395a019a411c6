//! Fault and quirk switches of the emulated PPK2: what a real unit on a real USB cable does to a host.
//!
//! Parsed from a comma-separated list such as `drop-bytes=1e-4,drop-samples=0.001,stale=17412,corrupt-calibration`
//! (`benchtop sim --ppk2 --faults …`). Every random fault draws from the emulator's seeded generator, so a
//! seed and a sequence of host commands always give the same bytes out. This is a separate list from the
//! simulated board's [`crate::sim::Faults`] because the two devices fail in different ways.

use thiserror::Error;

/// Which faults and quirks the emulated PPK2 shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ppk2Faults {
    /// Probability that each byte of the sample stream is lost (`drop-bytes=P`). This shifts the host's
    /// framing; metadata replies are never damaged by it.
    pub drop_byte_probability: f64,
    /// Probability that each sample word is lost whole (`drop-samples=P`); the 6-bit counter still advances,
    /// so the host sees a gap.
    pub drop_sample_probability: f64,
    /// The unit was left streaming by a killed session (`stale=N`): it starts streaming, and whenever a host
    /// opens the port while it streams, the host first gets this many bytes of backlog (not aligned to a
    /// word unless a multiple of 4), then the live stream until it sends stop (0x07).
    pub stale_bytes_on_open: usize,
    /// The metadata reports the corrupt constants seen on a real unit: `R0 = 3.1e27`, `R1..R4 = 0`
    /// (`corrupt-calibration`). The stream is still made with the good constants, as that unit's
    /// measurements were fine with another unit's constants.
    pub corrupt_calibration: bool,
    /// The metadata reply comes in pieces of this many bytes, one piece per production round
    /// (`fragment=N`); 0 sends it whole.
    pub metadata_fragment_bytes: usize,
    /// The first metadata reply after power-on starts with a stray 0x81 byte, as after a firmware update
    /// (`stray-byte`).
    pub metadata_stray_byte: bool,
    /// The waveform includes a 1 ms stretch far above range 4's full scale each cycle, so the ADC field is
    /// pinned at 0x3FFF (`over-range`).
    pub over_range: bool,
}

/// A fault list that could not be read.
#[derive(Debug, Error, PartialEq)]
pub enum Ppk2FaultsError {
    /// An entry that is not one of the known faults.
    #[error(
        "unknown PPK2 fault `{0}`; known: drop-bytes=P, drop-samples=P, stale=BYTES, corrupt-calibration, \
         fragment=BYTES, stray-byte, over-range"
    )]
    Unknown(String),
    /// A value that did not parse.
    #[error("bad value for PPK2 fault `{name}`: {reason}")]
    BadValue {
        /// The fault.
        name: String,
        /// Why.
        reason: String,
    },
}

impl Ppk2Faults {
    /// Parses a comma-separated list; the empty string means a healthy unit.
    pub fn parse(list: &str) -> Result<Self, Ppk2FaultsError> {
        let mut faults = Ppk2Faults::default();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (name, value) = match entry.split_once('=') {
                Some((n, v)) => (n.trim(), Some(v.trim())),
                None => (entry, None),
            };
            let bad = |reason: &str| Ppk2FaultsError::BadValue { name: name.to_string(), reason: reason.to_string() };
            let probability = || -> Result<f64, Ppk2FaultsError> {
                let p: f64 = value
                    .ok_or_else(|| bad("needs a probability, e.g. 0.001"))?
                    .parse()
                    .map_err(|_| bad("not a number"))?;
                if (0.0..=1.0).contains(&p) { Ok(p) } else { Err(bad("must be between 0 and 1")) }
            };
            let bytes = || -> Result<usize, Ppk2FaultsError> {
                value
                    .ok_or_else(|| bad("needs a number of bytes, e.g. 17412"))?
                    .parse()
                    .map_err(|_| bad("not a whole number of bytes"))
            };
            let flag = || -> Result<bool, Ppk2FaultsError> {
                match value {
                    None => Ok(true),
                    Some(_) => Err(bad("takes no value")),
                }
            };
            match name {
                "drop-bytes" => faults.drop_byte_probability = probability()?,
                "drop-samples" => faults.drop_sample_probability = probability()?,
                "stale" => faults.stale_bytes_on_open = bytes()?,
                "corrupt-calibration" => faults.corrupt_calibration = flag()?,
                "fragment" => faults.metadata_fragment_bytes = bytes()?,
                "stray-byte" => faults.metadata_stray_byte = flag()?,
                "over-range" => faults.over_range = flag()?,
                other => return Err(Ppk2FaultsError::Unknown(other.to_string())),
            }
        }
        Ok(faults)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_fault() {
        let f = Ppk2Faults::parse(
            "drop-bytes=0.001, drop-samples=0.5,stale=17412,corrupt-calibration,fragment=64,stray-byte,over-range",
        )
        .unwrap();
        assert_eq!(f.drop_byte_probability, 0.001);
        assert_eq!(f.drop_sample_probability, 0.5);
        assert_eq!(f.stale_bytes_on_open, 17412);
        assert!(f.corrupt_calibration && f.metadata_stray_byte && f.over_range);
        assert_eq!(f.metadata_fragment_bytes, 64);
        assert_eq!(Ppk2Faults::parse(" ").unwrap(), Ppk2Faults::default());
    }

    #[test]
    fn rejects_nonsense_with_a_reason() {
        assert!(matches!(Ppk2Faults::parse("explode"), Err(Ppk2FaultsError::Unknown(_))));
        assert!(matches!(Ppk2Faults::parse("corrupt"), Err(Ppk2FaultsError::Unknown(_))));
        assert!(matches!(Ppk2Faults::parse("drop-samples=2"), Err(Ppk2FaultsError::BadValue { .. })));
        assert!(matches!(Ppk2Faults::parse("stale=-1"), Err(Ppk2FaultsError::BadValue { .. })));
        assert!(matches!(Ppk2Faults::parse("stale"), Err(Ppk2FaultsError::BadValue { .. })));
        assert!(matches!(Ppk2Faults::parse("over-range=yes"), Err(Ppk2FaultsError::BadValue { .. })));
    }
}
