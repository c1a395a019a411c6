//! A power profile: the states a device cycles through (sleep, active, transmit…), each with its mean current
//! and its share of the time, and optionally the period of the cycle.
//!
//! A [`Profile`] built through [`Profile::new`] or read with [`Profile::from_toml_str`] is valid: at least one
//! state, every current finite and ≥ 0, names unique, shares in 0..=1 that add up to exactly 1. The fields are
//! public so that editors can change them; call [`Profile::validate`] after editing. In a TOML file a state
//! may be given by `duration_s` per period instead of `share` (the profile then needs `period_s`), and at most
//! one state may give neither: it takes the rest of the time. Everything is normalised to shares on reading.
//! This module knows nothing of batteries beyond reading a `[battery]` table that sits in the same file.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::battery::Battery;

/// How far the shares may add up away from 100 % (0.1 percentage point) before a profile is refused.
pub const SHARE_TOLERANCE: f64 = 0.001;

/// One state of a profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// What the device does in this state ("deep sleep", "LoRa transmit").
    pub name: String,
    /// Mean current drawn in this state, mA.
    pub current_ma: f64,
    /// Share of the time spent in this state, 0..=1.
    pub share: f64,
}

impl State {
    /// A state from its name, mean current in mA and share of the time (0..=1).
    pub fn new(name: impl Into<String>, current_ma: f64, share: f64) -> Self {
        Self { name: name.into(), current_ma, share }
    }
}

/// States with their shares of the time, and the period of the cycle when it is known.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// What the profile describes ("WiFi sensor").
    pub name: String,
    /// Length of one cycle (usually the reporting interval), s; `None` when only shares are known.
    pub period_s: Option<f64>,
    /// The states, in the order they are listed.
    pub states: Vec<State>,
}

/// Why a profile was refused. Each message says which state is wrong and what to change.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProfileError {
    /// No states at all.
    #[error("the profile has no states; add at least one state with a name, a current in mA and a share")]
    NoStates,
    /// A state without a name.
    #[error("state number {index} has no name; give every state a name")]
    UnnamedState {
        /// 1-based position in the list.
        index: usize,
    },
    /// Two states with one name.
    #[error("two states are named `{state}`; give each state its own name")]
    DuplicateName {
        /// The repeated name.
        state: String,
    },
    /// A negative, infinite or NaN current.
    #[error("state `{state}`: current {current_ma} mA is not a finite number ≥ 0; give its mean current in mA")]
    BadCurrent {
        /// The state.
        state: String,
        /// The value given.
        current_ma: f64,
    },
    /// A share outside 0..=1.
    #[error("state `{state}`: share {share} is not between 0 and 1; give its fraction of the time (0.25 = 25 %)")]
    BadShare {
        /// The state.
        state: String,
        /// The value given.
        share: f64,
    },
    /// The shares do not add up to 100 %.
    #[error("the shares add up to {percent:.3} %, not 100 %; change them so that they total 100 %")]
    SharesDoNotAddUp {
        /// The total, %.
        percent: f64,
    },
    /// A period that is not a positive number.
    #[error("period_s = {period_s} is not a positive number of seconds; give the length of one cycle")]
    BadPeriod {
        /// The value given.
        period_s: f64,
    },
    /// A state with both a share and a duration.
    #[error("state `{state}` has both share and duration_s; keep one of them")]
    ShareAndDuration {
        /// The state.
        state: String,
    },
    /// A duration without a period to divide it by.
    #[error("state `{state}` is given by duration_s but the profile has no period_s; add period_s (the cycle length)")]
    DurationWithoutPeriod {
        /// The state.
        state: String,
    },
    /// A negative or non-finite duration.
    #[error("state `{state}`: duration_s = {duration_s} is not a finite number ≥ 0; give its seconds per period")]
    BadDuration {
        /// The state.
        state: String,
        /// The value given.
        duration_s: f64,
    },
    /// More than one state left to take the rest of the time.
    #[error("states `{first}` and `{second}` give neither share nor duration_s; only one state may take the rest")]
    TwoRests {
        /// The first such state.
        first: String,
        /// The second such state.
        second: String,
    },
    /// The given shares leave nothing (or less than nothing) for the state that takes the rest.
    #[error("the other states already take {percent:.3} % of the time, leaving nothing for `{state}`; shorten them")]
    NoRestLeft {
        /// The state that takes the rest.
        state: String,
        /// What the others take, %.
        percent: f64,
    },
    /// Not valid TOML, or fields of the wrong type.
    #[error("the profile is not valid: {0}")]
    Toml(String),
    /// The file could not be read or written.
    #[error("{message} {path}")]
    Io {
        /// What failed, as a sentence start ("could not read profile").
        message: String,
        /// The file.
        path: String,
    },
}

impl Profile {
    /// A validated profile whose shares are scaled to add up to exactly 1.
    pub fn new(name: impl Into<String>, period_s: Option<f64>, states: Vec<State>) -> Result<Self, ProfileError> {
        let mut profile = Self { name: name.into(), period_s, states };
        profile.validate()?;
        profile.normalise();
        Ok(profile)
    }

    /// Checks the invariants listed in the module documentation.
    pub fn validate(&self) -> Result<(), ProfileError> {
        if self.states.is_empty() {
            return Err(ProfileError::NoStates);
        }
        if let Some(period_s) = self.period_s
            && !(period_s.is_finite() && period_s > 0.0)
        {
            return Err(ProfileError::BadPeriod { period_s });
        }
        for (i, state) in self.states.iter().enumerate() {
            check_name(&self.states[..i], &state.name, i)?;
            if !(state.current_ma.is_finite() && state.current_ma >= 0.0) {
                return Err(ProfileError::BadCurrent { state: state.name.clone(), current_ma: state.current_ma });
            }
            if !(0.0..=1.0).contains(&state.share) {
                return Err(ProfileError::BadShare { state: state.name.clone(), share: state.share });
            }
        }
        let total = self.share_total();
        if (total - 1.0).abs() > SHARE_TOLERANCE {
            return Err(ProfileError::SharesDoNotAddUp { percent: total * 100.0 });
        }
        Ok(())
    }

    /// Scales the shares so that they add up to exactly 1 (a valid profile is within 0.1 % of it already).
    pub fn normalise(&mut self) {
        let total = self.share_total();
        if total > 0.0 {
            for state in &mut self.states {
                state.share /= total;
            }
        }
    }

    /// The sum of the shares.
    pub fn share_total(&self) -> f64 {
        self.states.iter().map(|s| s.share).sum()
    }

    /// The time-weighted mean current, mA.
    pub fn avg_current_ma(&self) -> f64 {
        self.states.iter().map(|s| s.current_ma * s.share).sum()
    }

    /// Seconds per period spent in state `index`, when the period is known.
    pub fn duration_s(&self, index: usize) -> Option<f64> {
        Some(self.states.get(index)?.share * self.period_s?)
    }

    /// Seconds per period of every state, in order, when the period is known.
    pub fn durations_s(&self) -> Option<Vec<f64>> {
        let period_s = self.period_s?;
        Some(self.states.iter().map(|s| s.share * period_s).collect())
    }

    /// The position of the state called `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.states.iter().position(|s| s.name == name)
    }

    /// The state that counts as sleep: the lowest current; of equal currents, the larger share.
    pub fn sleep_index(&self) -> Option<usize> {
        (0..self.states.len()).min_by(|&a, &b| {
            let (sa, sb) = (&self.states[a], &self.states[b]);
            sa.current_ma.total_cmp(&sb.current_ma).then(sb.share.total_cmp(&sa.share))
        })
    }

    /// The state that counts as transmitting: one whose name mentions transmit or TX, else the highest current.
    pub fn transmit_index(&self) -> Option<usize> {
        let named = self.states.iter().position(|s| {
            let name = s.name.to_lowercase();
            name.contains("transmit") || name.split(|c: char| !c.is_alphanumeric()).any(|word| word == "tx")
        });
        named.or_else(|| {
            (0..self.states.len()).max_by(|&a, &b| self.states[a].current_ma.total_cmp(&self.states[b].current_ma))
        })
    }

    /// Reads a profile from TOML (see the module documentation); a `[battery]` table is allowed and ignored.
    pub fn from_toml_str(text: &str) -> Result<Self, ProfileError> {
        Ok(ProfileDocument::from_toml_str(text)?.profile)
    }

    /// Reads a profile from a TOML file.
    pub fn load(path: &Path) -> Result<Self, ProfileError> {
        Ok(ProfileDocument::load(path)?.profile)
    }

    /// The profile as TOML, states by share.
    pub fn to_toml_string(&self) -> Result<String, ProfileError> {
        ProfileDocument { profile: self.clone(), battery: None }.to_toml_string()
    }

    /// Writes the profile to a TOML file.
    pub fn save(&self, path: &Path) -> Result<(), ProfileError> {
        ProfileDocument { profile: self.clone(), battery: None }.save(path)
    }
}

fn check_name(earlier: &[State], name: &str, index: usize) -> Result<(), ProfileError> {
    if name.trim().is_empty() {
        return Err(ProfileError::UnnamedState { index: index + 1 });
    }
    if earlier.iter().any(|s| s.name == name) {
        return Err(ProfileError::DuplicateName { state: name.to_string() });
    }
    Ok(())
}

/// A profile file: the profile and, when the file has one, its `[battery]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileDocument {
    /// The profile, validated and normalised.
    pub profile: Profile,
    /// The battery the file names, if any.
    pub battery: Option<Battery>,
}

/// The TOML shape of a profile file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    period_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    battery: Option<Battery>,
    #[serde(default)]
    states: Vec<StateFile>,
}

/// The TOML shape of a state: a share, a duration, or neither (the rest of the time).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    name: String,
    current_ma: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    share: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    duration_s: Option<f64>,
}

impl ProfileDocument {
    /// Reads a profile file from TOML text.
    pub fn from_toml_str(text: &str) -> Result<Self, ProfileError> {
        let file: ProfileFile = toml::from_str(text).map_err(|e| ProfileError::Toml(e.message().to_string()))?;
        let states = resolve_states(&file)?;
        let profile = Profile::new(file.name, file.period_s, states)?;
        Ok(Self { profile, battery: file.battery })
    }

    /// Reads a profile file.
    pub fn load(path: &Path) -> Result<Self, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|e| ProfileError::Io {
            message: format!("could not read profile ({e}):"),
            path: path.display().to_string(),
        })?;
        Self::from_toml_str(&text)
    }

    /// The file as TOML, states by share.
    pub fn to_toml_string(&self) -> Result<String, ProfileError> {
        let file = ProfileFile {
            name: self.profile.name.clone(),
            period_s: self.profile.period_s,
            battery: self.battery.clone(),
            states: self
                .profile
                .states
                .iter()
                .map(|s| StateFile {
                    name: s.name.clone(),
                    current_ma: s.current_ma,
                    share: Some(s.share),
                    duration_s: None,
                })
                .collect(),
        };
        toml::to_string_pretty(&file).map_err(|e| ProfileError::Toml(e.to_string()))
    }

    /// Writes the file.
    pub fn save(&self, path: &Path) -> Result<(), ProfileError> {
        let text = self.to_toml_string()?;
        std::fs::write(path, text).map_err(|e| ProfileError::Io {
            message: format!("could not write profile ({e}):"),
            path: path.display().to_string(),
        })
    }
}

/// Turns durations and the one state that takes the rest into shares.
fn resolve_states(file: &ProfileFile) -> Result<Vec<State>, ProfileError> {
    let mut rest: Option<usize> = None;
    let mut states = Vec::with_capacity(file.states.len());
    for (i, spec) in file.states.iter().enumerate() {
        let share = match (spec.share, spec.duration_s) {
            (Some(_), Some(_)) => return Err(ProfileError::ShareAndDuration { state: spec.name.clone() }),
            (Some(share), None) => share,
            (None, Some(duration_s)) => {
                let Some(period_s) = file.period_s else {
                    return Err(ProfileError::DurationWithoutPeriod { state: spec.name.clone() });
                };
                if !(duration_s.is_finite() && duration_s >= 0.0) {
                    return Err(ProfileError::BadDuration { state: spec.name.clone(), duration_s });
                }
                duration_s / period_s
            }
            (None, None) => {
                if let Some(first) = rest {
                    return Err(ProfileError::TwoRests {
                        first: file.states[first].name.clone(),
                        second: spec.name.clone(),
                    });
                }
                rest = Some(i);
                0.0
            }
        };
        states.push(State::new(spec.name.clone(), spec.current_ma, share));
    }
    if let Some(i) = rest {
        let taken: f64 = states.iter().map(|s| s.share).sum();
        if taken >= 1.0 {
            return Err(ProfileError::NoRestLeft { state: states[i].name.clone(), percent: taken * 100.0 });
        }
        states[i].share = 1.0 - taken;
    }
    Ok(states)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wifi() -> Profile {
        Profile::new(
            "WiFi sensor",
            Some(60.0),
            vec![
                State::new("deep sleep", 0.02, 0.997),
                State::new("wake", 80.0, 0.001),
                State::new("transmit", 170.0, 0.002),
            ],
        )
        .unwrap()
    }

    #[test]
    fn average_current_is_the_share_weighted_mean() {
        let expected = 0.997 * 0.02 + 0.001 * 80.0 + 0.002 * 170.0;
        assert!((wifi().avg_current_ma() - expected).abs() < 1e-12);
        assert!((wifi().avg_current_ma() - 0.43994).abs() < 1e-9);
    }

    #[test]
    fn durations_follow_the_period() {
        let durations = wifi().durations_s().unwrap();
        assert!((durations[0] - 59.82).abs() < 1e-9);
        assert!((durations[2] - 0.12).abs() < 1e-9);
        let mut no_period = wifi();
        no_period.period_s = None;
        assert_eq!(no_period.duration_s(0), None);
    }

    #[test]
    fn shares_must_add_up_within_a_tenth_of_a_percent() {
        let almost = vec![State::new("sleep", 0.01, 0.9995), State::new("tx", 100.0, 0.0)];
        let profile = Profile::new("p", None, almost).unwrap();
        assert!((profile.share_total() - 1.0).abs() < 1e-12, "normalised");
        let short = vec![State::new("sleep", 0.01, 0.99), State::new("tx", 100.0, 0.005)];
        let error = Profile::new("p", None, short).unwrap_err();
        assert_eq!(error, ProfileError::SharesDoNotAddUp { percent: 99.5 });
        assert!(error.to_string().contains("99.500 %"), "{error}");
    }

    #[test]
    fn errors_name_the_state_and_say_what_to_do() {
        let negative = Profile::new("p", None, vec![State::new("sleep", -1.0, 1.0)]).unwrap_err();
        assert!(negative.to_string().starts_with("state `sleep`: current -1 mA"), "{negative}");
        assert!(negative.to_string().contains("give its mean current"), "{negative}");
        let nan = Profile::new("p", None, vec![State::new("rx", f64::NAN, 1.0)]).unwrap_err();
        assert!(matches!(nan, ProfileError::BadCurrent { ref state, .. } if state == "rx"));
        let share = Profile::new("p", None, vec![State::new("rx", 1.0, 1.5)]).unwrap_err();
        assert!(matches!(share, ProfileError::BadShare { .. }));
        assert_eq!(Profile::new("p", None, vec![]).unwrap_err(), ProfileError::NoStates);
        let twice = vec![State::new("a", 1.0, 0.5), State::new("a", 2.0, 0.5)];
        assert_eq!(Profile::new("p", None, twice).unwrap_err(), ProfileError::DuplicateName { state: "a".into() });
        let period = Profile::new("p", Some(0.0), vec![State::new("a", 1.0, 1.0)]).unwrap_err();
        assert_eq!(period, ProfileError::BadPeriod { period_s: 0.0 });
    }

    #[test]
    fn toml_round_trip() {
        let text = wifi().to_toml_string().unwrap();
        let back = Profile::from_toml_str(&text).unwrap();
        assert_eq!(back.name, "WiFi sensor");
        assert_eq!(back.period_s, Some(60.0));
        assert_eq!(back.states.len(), 3);
        assert!((back.avg_current_ma() - wifi().avg_current_ma()).abs() < 1e-12);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wifi.toml");
        wifi().save(&path).unwrap();
        assert_eq!(Profile::load(&path).unwrap().states, back.states);
        let document = ProfileDocument { profile: wifi(), battery: Some(Battery::default()) };
        let again = ProfileDocument::from_toml_str(&document.to_toml_string().unwrap()).unwrap();
        assert_eq!(again.battery, Some(Battery::default()));
        assert_eq!(again.profile.states.len(), 3);
        let missing = Profile::load(&dir.path().join("nope.toml")).unwrap_err();
        assert!(missing.to_string().starts_with("could not read profile"), "{missing}");
        assert!(missing.to_string().ends_with("nope.toml"), "{missing}");
    }

    #[test]
    fn durations_and_the_rest_become_shares() {
        let text = r#"
            name = "LoRa node"
            period_s = 120.0
            [[states]]
            name = "sleep"
            current_ma = 0.01
            [[states]]
            name = "measure"
            current_ma = 50.0
            duration_s = 0.06
            [[states]]
            name = "LoRa transmit"
            current_ma = 120.0
            share = 0.0005
        "#;
        let profile = Profile::from_toml_str(text).unwrap();
        assert!((profile.states[1].share - 0.0005).abs() < 1e-12);
        assert!((profile.states[0].share - 0.999).abs() < 1e-12);
        assert_eq!(profile.transmit_index(), Some(2));
        assert_eq!(profile.sleep_index(), Some(0));
    }

    #[test]
    fn malformed_files_are_refused_with_reasons() {
        let no_period = "name = \"x\"\n[[states]]\nname = \"a\"\ncurrent_ma = 1.0\nduration_s = 1.0\n";
        assert_eq!(
            Profile::from_toml_str(no_period).unwrap_err(),
            ProfileError::DurationWithoutPeriod { state: "a".into() }
        );
        let both =
            "name = \"x\"\nperiod_s = 2.0\n[[states]]\nname = \"a\"\ncurrent_ma = 1.0\nduration_s = 2.0\nshare = 1.0\n";
        assert_eq!(Profile::from_toml_str(both).unwrap_err(), ProfileError::ShareAndDuration { state: "a".into() });
        let two_rests =
            "name = \"x\"\n[[states]]\nname = \"a\"\ncurrent_ma = 1.0\n[[states]]\nname = \"b\"\ncurrent_ma = 1.0\n";
        assert!(matches!(Profile::from_toml_str(two_rests).unwrap_err(), ProfileError::TwoRests { .. }));
        let typo = "name = \"x\"\n[[states]]\nname = \"a\"\ncurent_ma = 1.0\nshare = 1.0\n";
        let error = Profile::from_toml_str(typo).unwrap_err();
        assert!(error.to_string().contains("curent_ma"), "{error}");
    }

    #[test]
    fn transmit_is_found_by_name_before_current() {
        let profile = Profile::new(
            "p",
            None,
            vec![
                State::new("sleep", 0.01, 0.9),
                State::new("TX burst", 40.0, 0.05),
                State::new("sensor warm-up", 90.0, 0.05),
            ],
        )
        .unwrap();
        assert_eq!(profile.transmit_index(), Some(1));
    }
}
