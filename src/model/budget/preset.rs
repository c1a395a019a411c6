//! The profiles Benchtop ships with, embedded in the binary so that they work from any folder.
//!
//! Each preset is a profile file (format: `assets/presets/README.md`) with a `[battery]` table. Adding one
//! means adding its TOML file and a line to [`PRESETS`]; the tests check that every preset reads and that
//! every id is unique.

use super::battery::Battery;
use super::profile::{Profile, ProfileDocument, ProfileError};

/// A shipped profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset {
    /// Short name for the command line (`--preset wifi`).
    pub id: &'static str,
    /// The profile file's text.
    pub toml: &'static str,
}

/// Every preset, in the order pickers list them.
pub const PRESETS: [Preset; 2] = [
    Preset { id: "wifi", toml: include_str!("../../../assets/presets/wifi.toml") },
    Preset { id: "lora", toml: include_str!("../../../assets/presets/lora.toml") },
];

/// The ids of all presets, for help texts and error messages.
pub fn preset_ids() -> Vec<&'static str> {
    PRESETS.iter().map(|p| p.id).collect()
}

/// Why a preset could not be had.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PresetError {
    /// No preset by that id.
    #[error("there is no preset `{id}`; use one of: {known}")]
    Unknown {
        /// The id asked for.
        id: String,
        /// The ids there are, comma-separated.
        known: String,
    },
    /// A shipped file that does not read (a bug in Benchtop, caught by its tests).
    #[error("preset `{id}` is broken: {source}")]
    Broken {
        /// The preset.
        id: &'static str,
        /// What is wrong with it.
        source: ProfileError,
    },
}

impl Preset {
    /// The preset's profile and battery.
    pub fn load(&self) -> Result<(Profile, Battery), PresetError> {
        let document =
            ProfileDocument::from_toml_str(self.toml).map_err(|source| PresetError::Broken { id: self.id, source })?;
        Ok((document.profile, document.battery.unwrap_or_default()))
    }
}

/// The preset called `id` (`wifi`, `lora`), read.
pub fn load_preset(id: &str) -> Result<(Profile, Battery), PresetError> {
    let preset = PRESETS
        .iter()
        .find(|p| p.id.eq_ignore_ascii_case(id))
        .ok_or_else(|| PresetError::Unknown { id: id.to_string(), known: preset_ids().join(", ") })?;
    preset.load()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_reads_with_its_battery() {
        for preset in PRESETS {
            let document = ProfileDocument::from_toml_str(preset.toml).unwrap();
            assert!(document.battery.is_some(), "{} has a [battery] table", preset.id);
            let (profile, battery) = preset.load().unwrap();
            battery.validate().unwrap();
            assert!(profile.period_s.is_some(), "{} has a period for what-ifs", preset.id);
            assert!(profile.transmit_index().is_some_and(|i| i != profile.sleep_index().unwrap_or(i)));
        }
        let mut ids = preset_ids();
        ids.dedup();
        assert_eq!(ids.len(), PRESETS.len());
    }

    #[test]
    fn the_presets_hold_the_documented_figures() {
        let (wifi, battery) = load_preset("wifi").unwrap();
        assert!((wifi.avg_current_ma() - 0.43994).abs() < 1e-12);
        assert_eq!(battery.capacity_mah, 3000.0);
        let (lora, _) = load_preset("LoRa").unwrap();
        assert!((lora.avg_current_ma() - (0.999 * 0.01 + 0.0005 * 50.0 + 0.0005 * 120.0)).abs() < 1e-12);
        assert_eq!(lora.states[2].name, "LoRa transmit");
    }

    /// The example in `assets/presets/README.md` is a valid file and means what its comments say.
    #[test]
    fn the_documented_example_reads() {
        let readme = include_str!("../../../assets/presets/README.md");
        let example = readme.split("```toml").nth(1).and_then(|rest| rest.split("```").next()).unwrap();
        let document = ProfileDocument::from_toml_str(example).unwrap();
        assert_eq!(document.battery, Some(Battery::default()));
        let shares: Vec<f64> = document.profile.states.iter().map(|s| s.share).collect();
        assert!((shares[0] - 0.999).abs() < 1e-12, "{shares:?}");
        assert!((shares[1] - 0.0005).abs() < 1e-12 && (shares[2] - 0.0005).abs() < 1e-12, "{shares:?}");
        let (lora, _) = load_preset("lora").unwrap();
        assert!((document.profile.avg_current_ma() - lora.avg_current_ma()).abs() < 1e-12);
    }

    #[test]
    fn an_unknown_preset_lists_the_known_ones() {
        let error = load_preset("zigbee").unwrap_err();
        assert_eq!(error.to_string(), "there is no preset `zigbee`; use one of: wifi, lora");
    }
}
