//! Fault switches of the simulated board: what a real board on a real cable does to a host.
//!
//! Parsed from a list such as `drop-bytes=0.001,corrupt=0.01,reset-on-commit,late=300ms`, the same text in
//! the CLI (`--faults`) and the source string (`sim:faults=…`).

use std::time::Duration;

use thiserror::Error;

/// Which faults the board injects.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// Probability that each byte the board sends is lost.
    pub drop_byte_probability: f64,
    /// Probability that each frame the board sends has one byte corrupted.
    pub corrupt_frame_probability: f64,
    /// The next commit is interrupted by a reset half way through writing storage (once).
    pub reset_on_commit: bool,
    /// Every answer to a request is sent this late.
    pub answer_delay: Duration,
}

/// A fault list that could not be read.
#[derive(Debug, Error, PartialEq)]
pub enum FaultsError {
    /// An entry that is not one of the known faults.
    #[error("unknown fault `{0}`; known: drop-bytes=P, corrupt=P, reset-on-commit, late=DURATION")]
    Unknown(String),
    /// A value that did not parse.
    #[error("bad value for fault `{name}`: {reason}")]
    BadValue {
        /// The fault.
        name: String,
        /// Why.
        reason: String,
    },
}

impl Faults {
    /// Parses a comma-separated list; the empty string means no faults.
    pub fn parse(list: &str) -> Result<Self, FaultsError> {
        let mut faults = Faults::default();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (name, value) = match entry.split_once('=') {
                Some((n, v)) => (n.trim(), Some(v.trim())),
                None => (entry, None),
            };
            let bad = |reason: &str| FaultsError::BadValue { name: name.to_string(), reason: reason.to_string() };
            let probability = |value: Option<&str>| -> Result<f64, FaultsError> {
                let p: f64 = value
                    .ok_or_else(|| bad("needs a probability, e.g. 0.01"))?
                    .parse()
                    .map_err(|_| bad("not a number"))?;
                if (0.0..=1.0).contains(&p) { Ok(p) } else { Err(bad("must be between 0 and 1")) }
            };
            match name {
                "drop-bytes" => faults.drop_byte_probability = probability(value)?,
                "corrupt" => faults.corrupt_frame_probability = probability(value)?,
                "reset-on-commit" => faults.reset_on_commit = true,
                "late" => {
                    let text = value.ok_or_else(|| bad("needs a duration, e.g. 300ms"))?;
                    faults.answer_delay = humantime::parse_duration(text).map_err(|e| bad(&e.to_string()))?;
                }
                other => return Err(FaultsError::Unknown(other.to_string())),
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
        let f = Faults::parse("drop-bytes=0.001, corrupt=0.5,reset-on-commit,late=250ms").unwrap();
        assert_eq!(f.drop_byte_probability, 0.001);
        assert_eq!(f.corrupt_frame_probability, 0.5);
        assert!(f.reset_on_commit);
        assert_eq!(f.answer_delay, Duration::from_millis(250));
        assert_eq!(Faults::parse("").unwrap(), Faults::default());
    }

    #[test]
    fn rejects_nonsense_with_a_reason() {
        assert!(matches!(Faults::parse("explode"), Err(FaultsError::Unknown(_))));
        assert!(matches!(Faults::parse("corrupt=2"), Err(FaultsError::BadValue { .. })));
        assert!(matches!(Faults::parse("late=soon"), Err(FaultsError::BadValue { .. })));
        assert!(matches!(Faults::parse("drop-bytes"), Err(FaultsError::BadValue { .. })));
    }
}
