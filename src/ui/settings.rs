//! Preferences kept between runs: the connect form (baud rate, format), recent sources, the arrangement of
//! each recent source's plot panes, and the theme. Preferences only: no session data, no secrets. Missing or unreadable fields fall back to their
//! defaults, so an older or damaged settings file never stops the window from opening.

use serde::{Deserialize, Serialize};

use super::connections::ConnectForm;
use super::plot::Tile;

/// Recent sources remembered.
pub const RECENT_KEPT: usize = 10;

/// The persisted preferences.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// The connections panel's inputs.
    pub form: ConnectForm,
    /// Sources opened, newest first.
    pub recent_sources: Vec<String>,
    /// Light rather than dark theme.
    pub light_theme: bool,
    /// How each recent source's plot panes were arranged.
    pub layouts: std::collections::BTreeMap<String, egui_tiles::Tree<Tile>>,
    /// The budget view's typed-in profile, battery and what-if settings.
    pub budget: super::budget::BudgetPanel,
}

impl Settings {
    /// Remembers `source` as the most recent.
    pub fn remember(&mut self, source: &str) {
        self.recent_sources.retain(|s| s != source);
        self.recent_sources.insert(0, source.to_string());
        self.recent_sources.truncate(RECENT_KEPT);
        let recent = &self.recent_sources;
        self.layouts.retain(|source, _| recent.contains(source));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_sources_are_unique_newest_first_and_bounded() {
        let mut settings = Settings::default();
        for i in 0..15 {
            settings.remember(&format!("serial:/dev/ttyACM{i}"));
        }
        settings.remember("serial:/dev/ttyACM10");
        assert_eq!(settings.recent_sources.len(), RECENT_KEPT);
        assert_eq!(settings.recent_sources[0], "serial:/dev/ttyACM10");
        assert_eq!(settings.recent_sources.iter().filter(|s| *s == "serial:/dev/ttyACM10").count(), 1);
    }

    #[test]
    fn layouts_are_kept_only_for_recent_sources_and_survive_serialisation() {
        let mut settings = Settings::default();
        settings.remember("sim");
        let tree = egui_tiles::Tree::new_horizontal(eframe::egui::Id::unique("t"), vec![Tile::Pane(1), Tile::Pane(0)]);
        settings.layouts.insert("sim".into(), tree.clone());
        settings.layouts.insert("gone".into(), tree.clone());
        settings.remember("tcp:127.0.0.1:7000");
        assert_eq!(settings.layouts.keys().collect::<Vec<_>>(), ["sim"]);
        let back: Settings = serde_json::from_str(&serde_json::to_string(&settings).unwrap()).unwrap();
        assert_eq!(back.layouts["sim"], tree);
    }

    #[test]
    fn damaged_or_old_settings_fall_back_field_by_field() {
        let old: Settings = serde_json::from_str(r#"{"light_theme": true, "unknown": 3}"#).unwrap();
        assert!(old.light_theme);
        assert!(old.recent_sources.is_empty());
        assert_eq!(old.form, ConnectForm::default());
    }
}
