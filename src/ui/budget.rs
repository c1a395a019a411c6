//! The energy budget panel: pick or type a power profile, edit its states and battery, read the average
//! current and lifetimes, try other reporting intervals and LoRa settings, and compare two profiles.
//!
//! All arithmetic is in [`crate::model::budget`]; this file only edits a working copy of a [`Profile`] and a
//! [`Battery`] and shows what the model says about them, every frame (a handful of multiplications). The
//! panel persists the typed-in profile, the battery and the what-if settings; profiles measured from traces
//! are session data and are not saved. It is not wired into a window here: a host calls [`BudgetPanel::ui`].

use eframe::egui::{self, DragValue, Grid, RichText, TextEdit};
use serde::{Deserialize, Serialize};

use super::theme;
use crate::model::budget::battery::HOURS_PER_YEAR;
use crate::model::budget::radio::{app_payload_to_phy, min_spacing_s, uplink_charge};
use crate::model::budget::{
    Battery, Lifetime, LoraSettings, PRESETS, Profile, State, compare, load_preset, with_interval, with_radio,
};

/// Measured profiles kept for picking; the oldest goes first.
const MEASURED_LIMIT: usize = 8;
/// LoRa bandwidths offered, Hz.
const BANDWIDTHS_HZ: [f64; 3] = [125_000.0, 250_000.0, 500_000.0];

/// Where a profile comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ProfileChoice {
    /// A shipped preset, by id.
    Preset(String),
    /// A profile segmented from a trace, by the name it was given.
    Measured(String),
    /// The profile typed into the table.
    Typed,
}

/// The energy budget panel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BudgetPanel {
    /// What the working copy was loaded from.
    choice: ProfileChoice,
    /// The profile shown and edited.
    profile: Profile,
    /// The battery it runs on.
    battery: Battery,
    /// The typed-in profile, kept while presets are looked at.
    typed: Profile,
    /// What-if reporting interval, s.
    interval_s: f64,
    /// What-if radio settings.
    radio: LoraSettings,
    /// What-if LoRaWAN application payload, bytes.
    app_payload_bytes: usize,
    /// What-if duty-cycle limit, 0–1.
    duty_cycle: f64,
    /// Profile B of the comparison (A is the working copy).
    compare_with: ProfileChoice,
    /// Profiles from segmented traces, newest last.
    #[serde(skip)]
    measured: Vec<(String, Profile)>,
}

impl Default for BudgetPanel {
    /// The WiFi preset, compared with the typed-in example, with LoRaWAN's usual radio settings.
    fn default() -> Self {
        let typed = typed_example();
        let (profile, battery) = load_preset("wifi").unwrap_or_else(|_| (typed.clone(), Battery::default()));
        Self {
            choice: ProfileChoice::Preset("wifi".into()),
            profile,
            battery,
            typed,
            interval_s: 300.0,
            radio: LoraSettings::default(),
            app_payload_bytes: 10,
            duty_cycle: 0.01,
            compare_with: ProfileChoice::Typed,
            measured: Vec::new(),
        }
    }
}

/// What a new typed-in profile starts as.
fn typed_example() -> Profile {
    Profile {
        name: "My device".into(),
        period_s: Some(60.0),
        states: vec![State::new("sleep", 0.005, 0.998), State::new("active", 20.0, 0.002)],
    }
}

impl BudgetPanel {
    /// The profile being edited.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The battery being edited.
    pub fn battery(&self) -> &Battery {
        &self.battery
    }

    /// The lifetime of the working profile, when profile and battery are valid.
    pub fn lifetime(&self) -> Option<Lifetime> {
        self.profile.validate().ok()?;
        self.battery.validate().ok()?;
        Some(self.battery.lifetime(self.profile.avg_current_ma()))
    }

    /// Offers `profile`, segmented from a trace, under `name` (replacing one of that name) and shows it.
    pub fn set_measured(&mut self, name: &str, profile: Profile) {
        self.measured.retain(|(n, _)| n != name);
        if self.measured.len() >= MEASURED_LIMIT {
            self.measured.remove(0);
        }
        self.measured.push((name.to_string(), profile.clone()));
        self.choice = ProfileChoice::Measured(name.to_string());
        self.profile = profile;
    }

    /// Loads the preset `id` with its battery, as picking it does.
    pub fn select_preset(&mut self, id: &str) {
        if let Ok((profile, battery)) = load_preset(id) {
            self.choice = ProfileChoice::Preset(id.to_string());
            self.profile = profile;
            self.battery = battery;
        }
    }

    /// The profile a choice stands for, if it is still there.
    fn resolve(&self, choice: &ProfileChoice) -> Option<Profile> {
        match choice {
            ProfileChoice::Preset(id) => load_preset(id).ok().map(|(profile, _)| profile),
            ProfileChoice::Measured(name) => self.measured.iter().find(|(n, _)| n == name).map(|(_, p)| p.clone()),
            ProfileChoice::Typed => Some(self.typed.clone()),
        }
    }

    /// Every choice with its label, for pickers.
    fn choices(&self) -> Vec<(ProfileChoice, String)> {
        let mut choices: Vec<(ProfileChoice, String)> = PRESETS
            .iter()
            .filter_map(|p| Some((ProfileChoice::Preset(p.id.to_string()), p.load().ok()?.0.name)))
            .collect();
        for (name, _) in &self.measured {
            choices.push((ProfileChoice::Measured(name.clone()), format!("Measured: {name}")));
        }
        choices.push((ProfileChoice::Typed, "Typed in".to_string()));
        choices
    }

    fn choice_label(&self, choice: &ProfileChoice) -> String {
        self.choices().into_iter().find(|(c, _)| c == choice).map_or_else(|| "none".to_string(), |(_, l)| l)
    }

    /// Shows the panel.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        egui::ScrollArea::vertical().id_salt("budget_panel").show(ui, |ui| {
            ui.heading("Energy budget");
            self.picker_ui(ui);
            ui.add_space(theme::SECTION_SPACING);
            self.states_ui(ui);
            ui.add_space(theme::SECTION_SPACING);
            self.battery_ui(ui);
            ui.add_space(theme::SECTION_SPACING);
            self.results_ui(ui);
            ui.add_space(theme::SECTION_SPACING);
            egui::CollapsingHeader::new("What if").default_open(true).show(ui, |ui| self.what_if_ui(ui));
            egui::CollapsingHeader::new("Compare two profiles").default_open(true).show(ui, |ui| self.compare_ui(ui));
        });
        if self.choice == ProfileChoice::Typed {
            self.typed = self.profile.clone();
        }
    }

    fn picker_ui(&mut self, ui: &mut egui::Ui) {
        let mut picked = None;
        ui.horizontal(|ui| {
            egui::ComboBox::from_label("Profile").selected_text(self.choice_label(&self.choice)).show_ui(ui, |ui| {
                for (choice, label) in self.choices() {
                    if ui.selectable_label(choice == self.choice, label).clicked() {
                        picked = Some(choice);
                    }
                }
            });
            let name_label = ui.label("Name");
            ui.add(TextEdit::singleline(&mut self.profile.name).desired_width(160.0)).labelled_by(name_label.id);
        });
        match picked {
            Some(ProfileChoice::Preset(id)) => self.select_preset(&id),
            Some(choice) => {
                if let Some(profile) = self.resolve(&choice) {
                    self.profile = profile;
                }
                self.choice = choice;
            }
            None => {}
        }
    }

    fn states_ui(&mut self, ui: &mut egui::Ui) {
        let period_s = self.profile.period_s;
        let mut remove = None;
        Grid::new("budget_states").striped(true).num_columns(5).show(ui, |ui| {
            for header in ["State", "Current", "Share", "Per period", ""] {
                ui.label(RichText::new(header).color(theme::MUTED));
            }
            ui.end_row();
            let count = self.profile.states.len();
            for (i, state) in self.profile.states.iter_mut().enumerate() {
                let row = i + 1;
                // A grid cell offers only last frame's column width; ask for the room a name needs.
                ui.add_sized([160.0, ui.spacing().interact_size.y], TextEdit::singleline(&mut state.name))
                    .accessible_name(format!("State {row} name"));
                ui.add(DragValue::new(&mut state.current_ma).speed(0.01).range(0.0..=f64::MAX).suffix(" mA"))
                    .accessible_name(format!("State {row} current"));
                let mut percent = state.share * 100.0;
                let share = ui.add(DragValue::new(&mut percent).speed(0.001).range(0.0..=100.0).suffix(" %"));
                if share.accessible_name(format!("State {row} share")).changed() {
                    state.share = percent / 100.0;
                }
                match period_s {
                    Some(period_s) => {
                        let mut duration_s = state.share * period_s;
                        let duration =
                            ui.add(DragValue::new(&mut duration_s).speed(0.001).range(0.0..=period_s).suffix(" s"));
                        if duration.accessible_name(format!("State {row} per period")).changed() {
                            state.share = duration_s / period_s;
                        }
                    }
                    None => {
                        ui.label(RichText::new("no period").color(theme::MUTED));
                    }
                }
                if count > 1 && ui.button("Remove").on_hover_text("Remove this state").clicked() {
                    remove = Some(i);
                }
                ui.end_row();
            }
        });
        if let Some(i) = remove {
            self.profile.states.remove(i);
        }
        ui.horizontal(|ui| {
            if ui.button("Add state").clicked() {
                let name = format!("state {}", self.profile.states.len() + 1);
                self.profile.states.push(State::new(name, 1.0, 0.0));
            }
            if ui
                .button("Sleep takes the rest")
                .on_hover_text("Set the sleep share so that shares total 100 %")
                .clicked()
            {
                balance_with_sleep(&mut self.profile);
            }
            let mut known = self.profile.period_s.is_some();
            if ui.checkbox(&mut known, "Period").changed() {
                self.profile.period_s = known.then_some(60.0);
            }
            if let Some(period_s) = &mut self.profile.period_s {
                ui.add(DragValue::new(period_s).speed(1.0).range(0.001..=f64::MAX).suffix(" s"))
                    .accessible_name("Period length");
            }
        });
    }

    fn battery_ui(&mut self, ui: &mut egui::Ui) {
        let battery = &mut self.battery;
        Grid::new("budget_battery").num_columns(2).show(ui, |ui| {
            let label = ui.label("Capacity");
            ui.add(DragValue::new(&mut battery.capacity_mah).speed(10.0).range(1.0..=f64::MAX).suffix(" mAh"))
                .labelled_by(label.id);
            ui.end_row();
            let label = ui.label("Voltage");
            ui.add(DragValue::new(&mut battery.voltage_v).speed(0.01).range(0.1..=100.0).suffix(" V"))
                .labelled_by(label.id);
            ui.end_row();
            percent_row(ui, "Usable", &mut battery.usable_share, 1.0..=100.0, " %");
            percent_row(ui, "Self-discharge", &mut battery.self_discharge_per_year, 0.0..=99.0, " %/year");
        });
    }

    fn results_ui(&mut self, ui: &mut egui::Ui) {
        if let Err(error) = self.profile.validate() {
            ui.colored_label(theme::ERROR, error.to_string());
            return;
        }
        if let Err(error) = self.battery.validate() {
            ui.colored_label(theme::ERROR, error.to_string());
            return;
        }
        let lifetime = self.battery.lifetime(self.profile.avg_current_ma());
        ui.label(RichText::new(format!("Average current: {:.5} mA", lifetime.avg_current_ma)).strong());
        ui.label(format!("Plain lifetime: {}", lifetime_text(lifetime.plain_hours)));
        ui.label(format!("Derated lifetime: {}", lifetime_text(lifetime.derated_hours)));
        ui.label(format!("Energy per day: {:.2} mWh", lifetime.energy_per_day_wh * 1000.0));
        ui.label(
            RichText::new("Derated: usable share of the capacity, self-discharge as an extra drain.")
                .color(theme::MUTED),
        );
    }

    fn what_if_ui(&mut self, ui: &mut egui::Ui) {
        if self.profile.validate().is_err() || self.battery.validate().is_err() {
            ui.label(RichText::new("Fix the profile and battery above to try what-ifs.").color(theme::MUTED));
            return;
        }
        let now = self.battery.lifetime(self.profile.avg_current_ma());
        ui.horizontal(|ui| {
            let label = ui.label("Reporting interval");
            ui.add(DragValue::new(&mut self.interval_s).speed(1.0).range(0.001..=f64::MAX).suffix(" s"))
                .labelled_by(label.id);
        });
        match with_interval(&self.profile, self.interval_s) {
            Ok(changed) => {
                let then = self.battery.lifetime(changed.avg_current_ma());
                change_ui(ui, &now, &then);
                if ui.button("Use this interval").clicked() {
                    self.profile = changed;
                }
            }
            Err(error) => {
                ui.colored_label(theme::PENDING, error.to_string());
            }
        }
        ui.add_space(theme::SECTION_SPACING);
        self.radio_ui(ui, &now);
    }

    fn radio_ui(&mut self, ui: &mut egui::Ui, now: &Lifetime) {
        ui.label(RichText::new("LoRa uplink").strong());
        ui.horizontal(|ui| {
            let label = ui.label("SF");
            ui.add(DragValue::new(&mut self.radio.spreading_factor).range(5..=12)).labelled_by(label.id);
            egui::ComboBox::from_label("Bandwidth")
                .selected_text(format!("{} kHz", self.radio.bandwidth_hz / 1000.0))
                .show_ui(ui, |ui| {
                    for bandwidth_hz in BANDWIDTHS_HZ {
                        ui.selectable_value(
                            &mut self.radio.bandwidth_hz,
                            bandwidth_hz,
                            format!("{} kHz", bandwidth_hz / 1000.0),
                        );
                    }
                });
            let label = ui.label("CR 4/");
            let mut denominator = self.radio.coding_rate + 4;
            if ui.add(DragValue::new(&mut denominator).range(5..=8)).labelled_by(label.id).changed() {
                self.radio.coding_rate = denominator - 4;
            }
            let label = ui.label("Application payload");
            ui.add(DragValue::new(&mut self.app_payload_bytes).range(0..=242).suffix(" B")).labelled_by(label.id);
            let label = ui.label("Duty cycle");
            let mut percent = self.duty_cycle * 100.0;
            if ui
                .add(DragValue::new(&mut percent).speed(0.01).range(0.01..=100.0).suffix(" %"))
                .labelled_by(label.id)
                .changed()
            {
                self.duty_cycle = percent / 100.0;
            }
        });
        self.radio.payload_bytes = app_payload_to_phy(self.app_payload_bytes);
        let airtime = match self.radio.time_on_air() {
            Ok(airtime) => airtime,
            Err(error) => {
                ui.colored_label(theme::ERROR, error.to_string());
                return;
            }
        };
        let ldro = if airtime.low_data_rate_optimize { "on" } else { "off" };
        ui.label(format!(
            "Time on air: {:.3} ms ({} payload symbols, low data rate optimisation {ldro})",
            airtime.time_on_air_ms, airtime.payload_symbols
        ));
        if let Ok(spacing_s) = min_spacing_s(airtime.time_on_air_ms, self.duty_cycle) {
            ui.label(format!("Duty-cycle spacing: one uplink every {spacing_s:.2} s at most"));
        }
        let transmit = self.profile.transmit_index().and_then(|i| self.profile.states.get(i));
        if let Some(state) = transmit
            && let Ok(charge) = uplink_charge(airtime.time_on_air_ms, state.current_ma)
        {
            ui.label(format!(
                "Charge per uplink: {:.1} µC = {:.3} µAh at {} mA ({})",
                charge.charge_uc, charge.charge_uah, state.current_ma, state.name
            ));
        }
        match with_radio(&self.profile, &self.radio) {
            Ok((changed, _)) => {
                let then = self.battery.lifetime(changed.avg_current_ma());
                change_ui(ui, now, &then);
                if ui.button("Use this airtime").clicked() {
                    self.profile = changed;
                }
            }
            Err(error) => {
                ui.colored_label(theme::PENDING, error.to_string());
            }
        }
    }

    fn compare_ui(&mut self, ui: &mut egui::Ui) {
        let mut picked = None;
        egui::ComboBox::from_label("Compare with").selected_text(self.choice_label(&self.compare_with)).show_ui(
            ui,
            |ui| {
                for (choice, label) in self.choices() {
                    if ui.selectable_label(choice == self.compare_with, label).clicked() {
                        picked = Some(choice);
                    }
                }
            },
        );
        if let Some(choice) = picked {
            self.compare_with = choice;
        }
        let Some(b) = self.resolve(&self.compare_with) else {
            ui.label(RichText::new("That profile is no longer there; pick another.").color(theme::MUTED));
            return;
        };
        if self.profile.validate().is_err() || b.validate().is_err() || self.battery.validate().is_err() {
            ui.label(RichText::new("Both profiles must be valid to compare them.").color(theme::MUTED));
            return;
        }
        let comparison = compare(&self.profile, &self.battery, &b, &self.battery);
        ui.label(
            RichText::new(format!("A: {}   B: {}   (both on the battery above)", self.profile.name, b.name))
                .color(theme::MUTED),
        );
        Grid::new("budget_compare").striped(true).num_columns(6).show(ui, |ui| {
            for header in ["State", "A current", "A share", "B current", "B share", "Change"] {
                ui.label(RichText::new(header).color(theme::MUTED));
            }
            ui.end_row();
            for row in &comparison.rows {
                ui.label(&row.name);
                for side in [&row.a, &row.b] {
                    match side {
                        Some(side) => {
                            ui.label(format!("{:.4} mA", side.current_ma));
                            ui.label(format!("{:.4} %", side.share * 100.0));
                        }
                        None => {
                            ui.label("—");
                            ui.label("—");
                        }
                    }
                }
                delta_label(ui, row.contribution_delta_ma(), "mA", false);
                ui.end_row();
            }
            ui.label(RichText::new("Average current").strong());
            ui.label(format!("{:.5} mA", comparison.a.avg_current_ma));
            ui.label("");
            ui.label(format!("{:.5} mA", comparison.b.avg_current_ma));
            ui.label("");
            delta_label(ui, comparison.avg_current_delta_ma, "mA", false);
            ui.end_row();
            ui.label(RichText::new("Derated lifetime").strong());
            ui.label(format!("{:.2} years", comparison.a.derated_years));
            ui.label("");
            ui.label(format!("{:.2} years", comparison.b.derated_years));
            ui.label("");
            delta_label(ui, comparison.derated_hours_delta / HOURS_PER_YEAR, "years", true);
            ui.end_row();
        });
        ui.label(format!("B lasts {:.2} × as long as A", comparison.derated_ratio()));
    }
}

/// A percentage row of the battery grid editing a 0–1 share.
fn percent_row(
    ui: &mut egui::Ui,
    name: &str,
    share: &mut f64,
    range_percent: std::ops::RangeInclusive<f64>,
    suffix: &str,
) {
    let label = ui.label(name);
    let mut percent = *share * 100.0;
    if ui
        .add(DragValue::new(&mut percent).speed(0.1).range(range_percent).suffix(suffix))
        .labelled_by(label.id)
        .changed()
    {
        *share = percent / 100.0;
    }
    ui.end_row();
}

/// Sets the sleep state's share to what the other states leave (never below zero).
fn balance_with_sleep(profile: &mut Profile) {
    let Some(sleep) = profile.sleep_index() else { return };
    let others: f64 = profile.states.iter().enumerate().filter(|(i, _)| *i != sleep).map(|(_, s)| s.share).sum();
    if let Some(state) = profile.states.get_mut(sleep) {
        state.share = (1.0 - others).max(0.0);
    }
}

/// `31582 h · 1316 days · 3.61 years`.
fn lifetime_text(hours: f64) -> String {
    format!("{hours:.0} h · {:.0} days · {:.2} years", hours / 24.0, hours / HOURS_PER_YEAR)
}

/// A what-if's outcome next to the present one.
fn change_ui(ui: &mut egui::Ui, now: &Lifetime, then: &Lifetime) {
    ui.horizontal(|ui| {
        ui.label(format!(
            "Average current {:.5} mA (now {:.5}), derated lifetime {:.2} years (now {:.2})",
            then.avg_current_ma, now.avg_current_ma, then.derated_years, now.derated_years
        ));
        delta_label(ui, then.derated_years - now.derated_years, "years", true);
    });
}

/// A signed difference, green when it helps the battery and red when it hurts.
fn delta_label(ui: &mut egui::Ui, delta: f64, unit: &str, more_is_better: bool) {
    let color = if delta == 0.0 {
        theme::MUTED
    } else if (delta > 0.0) == more_is_better {
        theme::OK
    } else {
        theme::ERROR
    };
    ui.colored_label(color, format!("{delta:+.4} {unit}"));
}
