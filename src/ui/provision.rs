//! The Provision tab: a bench flow for one device, step by step, and a line mode that provisions every
//! device plugged into the station.
//!
//! Bench: pick a device → its identity and configuration (secrets only as check values) → edit the interval,
//! adaptive reporting, LoRaWAN identity and key, MQTT credentials → generate keys → Stage → Check (our check
//! values against the device's) → Commit → Read back. Secrets are masked unless revealed. Line: a template,
//! a ledger, Start; a large PASS/FAIL for the last device, a log per device, and counters.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, channel};
use std::time::Instant;

use eframe::egui::{self, RichText, TextEdit};
use firmware_protocol::config::{AdaptiveReporting, ReportingConfig};
use firmware_protocol::kcv::{SecretField, key_check_value};
use tokio::runtime::Handle;

use super::provision_bench::{BenchCommand, BenchForm, BenchStatus, BenchWorker, StepState};
use super::theme;
use crate::model::source::Source;
use crate::provision::export::{self, ExportFormat, ExportOptions};
use crate::provision::flow::{DevicePlan, Station, Step, describe_adaptive};
use crate::provision::keys::{AppKey, Eui64, Password};
use crate::provision::ledger::Ledger;
use crate::provision::line::{Counters, LineEvent, LineStation, Watch};
use crate::provision::template::Template;

/// Lines of the line-mode log kept on screen.
const LOG_LINES_KEPT: usize = 500;

/// Bench or line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One device, step by step.
    Bench,
    /// Every device plugged in, with a template.
    Line,
}

/// The form's text, as typed (no `Debug`: it holds secrets in the clear).
#[derive(Clone)]
struct FormText {
    dev_eui: String,
    join_eui: String,
    app_key: String,
    interval_s: String,
    adaptive: bool,
    base_s: String,
    min_s: String,
    max_s: String,
    mqtt: bool,
    client_id: String,
    user: String,
    password: String,
}

impl Default for FormText {
    fn default() -> Self {
        FormText {
            dev_eui: String::new(),
            join_eui: "0000000000000000".into(),
            app_key: String::new(),
            interval_s: "300".into(),
            adaptive: false,
            base_s: "300".into(),
            min_s: "60".into(),
            max_s: "3600".into(),
            mqtt: false,
            client_id: String::new(),
            user: String::new(),
            password: String::new(),
        }
    }
}

/// A running line station and what it reported.
struct Line {
    station: LineStation,
    events: Receiver<LineEvent>,
    started: Instant,
}

/// The Provision tab.
pub struct ProvisionView {
    runtime: Handle,
    mode: Mode,
    /// Ledger URL (sqlite:FILE or postgres://…).
    pub ledger_url: String,
    station: String,
    operator: String,
    source: String,
    offered: String,
    form: FormText,
    reveal: bool,
    bench: Option<BenchWorker>,
    form_error: Option<String>,
    /// Line mode's template file.
    pub template_path: String,
    /// A directory of links to serial devices that line mode also watches.
    pub watch_dir: String,
    line: Option<Line>,
    line_error: Option<String>,
    log: Vec<(bool, String)>,
    last: Option<(bool, String)>,
    counters: Counters,
    /// Export format chosen.
    pub export_format: ExportFormat,
    /// Where the export goes.
    pub export_path: String,
    chirpstack_application_id: String,
    chirpstack_device_profile_id: String,
    export: Option<Receiver<Result<String, String>>>,
    export_result: Option<Result<String, String>>,
}

impl ProvisionView {
    /// A tab with default settings: a SQLite ledger beside the working directory.
    pub fn new(runtime: Handle) -> Self {
        ProvisionView {
            runtime,
            mode: Mode::Bench,
            ledger_url: "sqlite:benchtop-ledger.sqlite".into(),
            station: "bench".into(),
            operator: std::env::var("USER").unwrap_or_else(|_| "operator".into()),
            source: "sim".into(),
            offered: String::new(),
            form: FormText::default(),
            reveal: false,
            bench: None,
            form_error: None,
            template_path: "assets/templates/line-eu868.toml".into(),
            watch_dir: String::new(),
            line: None,
            line_error: None,
            log: Vec::new(),
            last: None,
            counters: Counters::default(),
            export_format: ExportFormat::TtsCsv,
            export_path: "devices.csv".into(),
            chirpstack_application_id: String::new(),
            chirpstack_device_profile_id: String::new(),
            export: None,
            export_result: None,
        }
    }

    /// The outcome of the last export: the sentence shown under the Export button.
    pub fn export_result(&self) -> Option<&Result<String, String>> {
        self.export_result.as_ref()
    }

    /// Writes the ledger's committed devices in the chosen format, on a thread.
    fn start_export(&mut self, repaint: egui::Context) {
        let (tx, rx) = channel();
        let url = self.ledger_url.clone();
        let format = self.export_format;
        let path = PathBuf::from(self.export_path.trim());
        let nonempty = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
        let options = ExportOptions {
            chirpstack_application_id: nonempty(&self.chirpstack_application_id),
            chirpstack_device_profile_id: nonempty(&self.chirpstack_device_profile_id),
        };
        let spawned = std::thread::Builder::new().name("ledger-export".into()).spawn(move || {
            let result = (|| -> Result<String, String> {
                let mut ledger = Ledger::open(&url).map_err(|e| e.to_string())?;
                let records = ledger.committed().map_err(|e| e.to_string())?;
                let bytes = export::render(&records, format, &options).map_err(|e| e.to_string())?;
                export::write_atomically(&path, &bytes)
                    .map_err(|e| format!("could not write {}: {e}", path.display()))?;
                Ok(format!("Wrote {} device(s) to {} ({format})", records.len(), path.display()))
            })();
            let _ = tx.send(result);
            repaint.request_repaint();
        });
        match spawned {
            Ok(_) => {
                self.export = Some(rx);
                self.export_result = None;
            }
            Err(e) => self.export_result = Some(Err(format!("could not start the export: {e}"))),
        }
    }

    fn export_ui(&mut self, ui: &mut egui::Ui) {
        if let Some(rx) = &self.export
            && let Ok(result) = rx.try_recv()
        {
            self.export_result = Some(result);
            self.export = None;
        }
        egui::CollapsingHeader::new("Export the ledger").default_open(false).show(ui, |ui| {
            ui.horizontal(|ui| {
                let before = self.export_format;
                egui::ComboBox::from_label("Format").selected_text(self.export_format.name()).show_ui(ui, |ui| {
                    for format in ExportFormat::ALL {
                        ui.selectable_value(&mut self.export_format, format, format.name());
                    }
                });
                if self.export_format != before {
                    let stem =
                        self.export_path.rsplit_once('.').map_or(self.export_path.clone(), |(s, _)| s.to_string());
                    self.export_path = format!("{stem}.{}", self.export_format.file_extension());
                }
                let label = ui.label("File");
                ui.add(TextEdit::singleline(&mut self.export_path).desired_width(260.0)).labelled_by(label.id);
                let busy = self.export.is_some();
                if ui.add_enabled(!busy, egui::Button::new("Export")).clicked() {
                    self.start_export(ui.ctx().clone());
                }
            });
            if self.export_format == ExportFormat::Chirpstack {
                ui.horizontal(|ui| {
                    let label = ui.label("Application id");
                    ui.add(TextEdit::singleline(&mut self.chirpstack_application_id).desired_width(280.0))
                        .labelled_by(label.id);
                    let label = ui.label("Device profile id");
                    ui.add(TextEdit::singleline(&mut self.chirpstack_device_profile_id).desired_width(280.0))
                        .labelled_by(label.id);
                });
            }
            ui.label(
                RichText::new("The file holds AppKeys: it is written owner-only.")
                    .color(ui.visuals().weak_text_color()),
            );
            match &self.export_result {
                Some(Ok(text)) => {
                    ui.colored_label(theme::OK, text);
                }
                Some(Err(text)) => {
                    ui.colored_label(ui.visuals().error_fg_color, text);
                }
                None => {}
            }
        });
    }

    /// Offers the selected device as the bench flow's device; taken when the selection changes, so what the
    /// user typed stays until then.
    pub fn set_source(&mut self, source: &str) {
        if self.bench.is_none() && self.offered != source {
            self.offered = source.to_string();
            self.source = source.to_string();
        }
    }

    /// Types a device source into the bench flow's field.
    pub fn type_source(&mut self, source: &str) {
        self.source = source.to_string();
    }

    /// The bench worker's status, for tests and the status bar.
    pub fn bench_status(&self) -> Option<BenchStatus> {
        self.bench.as_ref().map(BenchWorker::status)
    }

    /// Passed/failed counters of line mode.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Drains line events; called every frame, also while the tab is hidden.
    pub fn poll(&mut self) {
        let Some(line) = &self.line else { return };
        while let Ok(event) = line.events.try_recv() {
            match &event {
                LineEvent::Done { port, outcome } => {
                    self.counters.count(outcome, line.started.elapsed());
                    let text = format!("{port}: {}", outcome.summary());
                    self.last = Some((outcome.passed, text.clone()));
                    self.log.push((!outcome.passed, text));
                }
                LineEvent::Appeared { port } => self.log.push((false, format!("{port}: device appeared"))),
                LineEvent::Gone { port } => self.log.push((false, format!("{port}: removed"))),
                LineEvent::Step { port, step } => self.log.push((false, format!("{port}: {step} done"))),
                LineEvent::Reconciled { count, serials } => self.log.push((
                    true,
                    format!("{count} attempt(s) left unfinished by a previous run are burned: serials {serials:?}"),
                )),
            }
        }
        if self.log.len() > LOG_LINES_KEPT {
            let excess = self.log.len() - LOG_LINES_KEPT;
            self.log.drain(..excess);
        }
    }

    /// Shows the tab.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        self.poll();
        egui::ScrollArea::vertical().id_salt("provision").show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.heading("Provision");
                ui.selectable_value(&mut self.mode, Mode::Bench, "Bench");
                ui.selectable_value(&mut self.mode, Mode::Line, "Line");
            });
            egui::Grid::new("provision-ledger").num_columns(2).show(ui, |ui| {
                let label = ui.label("Ledger");
                ui.add(TextEdit::singleline(&mut self.ledger_url).desired_width(360.0)).labelled_by(label.id);
                ui.end_row();
                let label = ui.label("Station");
                ui.add(TextEdit::singleline(&mut self.station).desired_width(160.0)).labelled_by(label.id);
                ui.end_row();
                let label = ui.label("Operator");
                ui.add(TextEdit::singleline(&mut self.operator).desired_width(160.0)).labelled_by(label.id);
                ui.end_row();
            });
            self.export_ui(ui);
            ui.separator();
            match self.mode {
                Mode::Bench => self.bench_ui(ui),
                Mode::Line => self.line_ui(ui),
            }
        });
    }

    fn bench_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let label = ui.label("Device");
            let enabled = self.bench.is_none();
            ui.add_enabled(enabled, TextEdit::singleline(&mut self.source).desired_width(260.0)).labelled_by(label.id);
            if self.bench.is_none() {
                if ui.button("Read device").clicked() {
                    match Source::parse(&self.source) {
                        Ok(source) => {
                            self.form_error = None;
                            self.bench = Some(BenchWorker::start(self.runtime.clone(), source, ui.ctx().clone()));
                        }
                        Err(error) => self.form_error = Some(error.to_string()),
                    }
                }
            } else if ui.button("Close").on_hover_text("Discard anything staged and close the device").clicked()
                && let Some(bench) = self.bench.take()
            {
                bench.send(BenchCommand::Abandon);
            }
        });
        let Some(status) = self.bench_status() else {
            ui.label("Read a device to see its identity and configuration.");
            self.error_ui(ui);
            return;
        };
        if let Some(busy) = status.busy {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(format!("{busy}…"));
            });
        }
        // What the device runs now beside what it is to get, so the two read across.
        ui.columns(2, |columns| {
            self.identity_ui(&mut columns[0], &status);
            self.form_ui(&mut columns[1]);
        });
        ui.separator();
        self.steps_ui(ui, &status);
    }

    fn error_ui(&self, ui: &mut egui::Ui) {
        if let Some(error) = &self.form_error {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
    }

    fn identity_ui(&mut self, ui: &mut egui::Ui, status: &BenchStatus) {
        let (Some(info), Some(config)) = (&status.info, &status.config) else { return };
        ui.strong("The device now");
        egui::Grid::new("provision-identity").num_columns(2).striped(true).show(ui, |ui| {
            let row = |ui: &mut egui::Ui, name: &str, value: String| {
                ui.label(name);
                ui.monospace(value);
                ui.end_row();
            };
            row(ui, "Device id", format!("{:016X}", info.device_id));
            let v = info.firmware_version;
            row(ui, "Firmware", format!("{}.{}.{} ({})", v.major, v.minor, v.patch, info.hardware_revision));
            row(ui, "Generation", config.generation.to_string());
            row(ui, "DevEUI", Eui64(config.lorawan.dev_eui).to_string());
            row(ui, "JoinEUI", Eui64(config.lorawan.join_eui).to_string());
            // Check values of the factory state read as words: the key unset, the password empty.
            let unset = key_check_value(info.device_id, SecretField::AppKey, &[0; 16]);
            let app_key = if config.lorawan.app_key_kcv == unset {
                "unset".to_string()
            } else {
                config.lorawan.app_key_kcv.to_string()
            };
            row(ui, "AppKey check value", app_key);
            row(ui, "Interval", format!("{} s", config.reporting.interval_secs));
            let a = &config.adaptive;
            let adaptive = if a.enabled {
                format!("{} s ({}..{} s)", a.base_interval_secs, a.min_interval_secs, a.max_interval_secs)
            } else {
                "off".to_string()
            };
            ui.label("Adaptive");
            ui.monospace(adaptive).on_hover_text(describe_adaptive(a));
            ui.end_row();
            row(ui, "MQTT client id", config.mqtt.client_id.to_string());
            row(ui, "MQTT user", config.mqtt.user.to_string());
            let empty = key_check_value(info.device_id, SecretField::MqttPassword, b"");
            let password = if config.mqtt.password_kcv == empty {
                "empty".to_string()
            } else {
                config.mqtt.password_kcv.to_string()
            };
            row(ui, "MQTT password check value", password);
        });
        if self.form.dev_eui.is_empty() {
            let current = Eui64(config.lorawan.dev_eui);
            let eui = if Eui64::parse_dev_eui(&current.to_string()).is_ok() {
                current
            } else {
                Eui64::from_u64(info.device_id)
            };
            self.form.dev_eui = eui.to_string();
            self.form.interval_s = config.reporting.interval_secs.to_string();
        }
    }

    fn form_ui(&mut self, ui: &mut egui::Ui) {
        ui.strong("New configuration");
        let f = &mut self.form;
        let reveal = self.reveal;
        let mono = egui::TextStyle::Monospace;
        let wide = ui.available_width() - 130.0;
        egui::Grid::new("provision-form").num_columns(2).show(ui, |ui| {
            let label = ui.label("DevEUI");
            ui.add(TextEdit::singleline(&mut f.dev_eui).font(mono.clone()).desired_width(150.0)).labelled_by(label.id);
            ui.end_row();
            let label = ui.label("JoinEUI");
            ui.add(TextEdit::singleline(&mut f.join_eui).font(mono.clone()).desired_width(150.0)).labelled_by(label.id);
            ui.end_row();
            let label = ui.label("AppKey");
            ui.add(TextEdit::singleline(&mut f.app_key).font(mono.clone()).password(!reveal).desired_width(wide))
                .labelled_by(label.id);
            ui.end_row();
            ui.label("");
            if ui.button("Generate key").on_hover_text("A new AppKey from the OS random source").clicked() {
                match AppKey::generate_app_key() {
                    Ok(key) => f.app_key = key.expose_hex(),
                    Err(e) => self.form_error = Some(e.to_string()),
                }
            }
            ui.end_row();
            let label = ui.label("Interval (s)");
            ui.add(TextEdit::singleline(&mut f.interval_s).desired_width(80.0)).labelled_by(label.id);
            ui.end_row();
            ui.label("");
            ui.checkbox(&mut f.adaptive, "Adaptive reporting");
            ui.end_row();
            if f.adaptive {
                ui.label("Base, min, max (s)");
                ui.horizontal(|ui| {
                    ui.add(TextEdit::singleline(&mut f.base_s).desired_width(60.0));
                    ui.add(TextEdit::singleline(&mut f.min_s).desired_width(60.0));
                    ui.add(TextEdit::singleline(&mut f.max_s).desired_width(60.0));
                });
                ui.end_row();
            }
            ui.label("");
            ui.checkbox(&mut f.mqtt, "MQTT credentials");
            ui.end_row();
            if f.mqtt {
                let label = ui.label("Client id");
                ui.add(TextEdit::singleline(&mut f.client_id).desired_width(wide)).labelled_by(label.id);
                ui.end_row();
                let label = ui.label("User");
                ui.add(TextEdit::singleline(&mut f.user).desired_width(wide)).labelled_by(label.id);
                ui.end_row();
                let label = ui.label("Password");
                ui.add(TextEdit::singleline(&mut f.password).password(!reveal).desired_width(wide))
                    .labelled_by(label.id);
                ui.end_row();
                ui.label("");
                if ui.button("Generate password").clicked() {
                    match Password::generate_password(24) {
                        Ok(p) => f.password = p.expose().clone(),
                        Err(e) => self.form_error = Some(e.to_string()),
                    }
                }
                ui.end_row();
            }
            ui.label("");
            ui.checkbox(&mut self.reveal, "Reveal secrets");
            ui.end_row();
        });
    }

    fn parse_form(&self) -> Result<BenchForm, String> {
        let f = &self.form;
        let secs = |text: &str, name: &str| -> Result<u32, String> {
            text.trim().parse::<u32>().map_err(|_| format!("{name} must be a whole number of seconds"))
        };
        let reporting = ReportingConfig { interval_secs: secs(&f.interval_s, "the interval")? };
        reporting.validate().map_err(|field| format!("the {} is out of range (1 s to one week)", field.name()))?;
        let adaptive = if f.adaptive {
            let adaptive = AdaptiveReporting {
                enabled: true,
                base_interval_secs: secs(&f.base_s, "the base interval")?,
                min_interval_secs: secs(&f.min_s, "the minimum interval")?,
                max_interval_secs: secs(&f.max_s, "the maximum interval")?,
                change_threshold_milli: 500,
                low_battery_stretch_percent: 200,
            };
            adaptive.validate().map_err(|field| {
                format!("adaptive reporting: the {} is out of range (min ≤ base ≤ max)", field.name())
            })?;
            Some(adaptive)
        } else {
            None
        };
        if f.app_key.trim().is_empty() {
            return Err("the AppKey is empty: type one or press Generate key".into());
        }
        let mqtt = if f.mqtt {
            if f.client_id.is_empty() || !f.client_id.bytes().all(|b| b.is_ascii_graphic()) || f.client_id.len() > 64 {
                return Err("the MQTT client id must be 1 to 64 printable characters without spaces".into());
            }
            if f.password.chars().any(char::is_control) || f.password.len() > 64 {
                return Err("the MQTT password must be at most 64 bytes without control characters".into());
            }
            Some((f.client_id.clone(), f.user.clone(), Password::new(f.password.clone())))
        } else {
            None
        };
        Ok(BenchForm {
            plan: DevicePlan {
                dev_eui: Eui64::parse_dev_eui(&f.dev_eui).map_err(|e| e.to_string())?,
                join_eui: Eui64::parse_join_eui(&f.join_eui).map_err(|e| e.to_string())?,
                app_key: AppKey::parse_app_key(&f.app_key).map_err(|e| e.to_string())?,
                reporting,
                adaptive,
                mqtt,
            },
            ledger_url: self.ledger_url.clone(),
            station: self.station.clone(),
            operator: self.operator.clone(),
        })
    }

    fn steps_ui(&mut self, ui: &mut egui::Ui, status: &BenchStatus) {
        let idle = status.busy.is_none() && !status.closed;
        let done = |step| *status.state(step) == StepState::Done;
        ui.horizontal(|ui| {
            let stage = ui.add_enabled(idle && done(Step::Identify) && !done(Step::Stage), egui::Button::new("Stage"));
            if stage.on_hover_text("Reserve in the ledger and stage on the device").clicked() {
                match self.parse_form() {
                    Ok(form) => {
                        self.form_error = None;
                        if let Some(bench) = &self.bench {
                            bench.send(BenchCommand::Stage(Box::new(form)));
                        }
                    }
                    Err(error) => self.form_error = Some(error),
                }
            }
            let buttons = [
                (Step::Check, "Check", Step::Stage, (|| BenchCommand::Check) as fn() -> BenchCommand),
                (Step::Commit, "Commit", Step::Check, || BenchCommand::Commit),
                (Step::ReadBack, "Read back", Step::Commit, || BenchCommand::ReadBack),
            ];
            for (step, label, after, command) in buttons {
                if ui.add_enabled(idle && done(after) && !done(step), egui::Button::new(label)).clicked()
                    && let Some(bench) = &self.bench
                {
                    bench.send(command());
                }
            }
        });
        // The outcome right under the buttons, where the eye is after a click.
        if let Some((error, message)) = &status.message {
            let color = if *error { ui.visuals().error_fg_color } else { theme::OK };
            ui.label(RichText::new(message).color(color).strong());
        }
        self.error_ui(ui);
        ui.horizontal_wrapped(|ui| {
            for (step, state) in &status.steps {
                let (text, color) = match state {
                    StepState::Pending => (format!("{step}: pending"), ui.visuals().weak_text_color()),
                    StepState::Done => (format!("{step}: done"), theme::OK),
                    StepState::Failed(_) => (format!("{step}: failed"), ui.visuals().error_fg_color),
                };
                ui.label(RichText::new(text).color(color));
            }
        });
        if let Some(serial) = status.serial {
            ui.label(format!("Ledger serial {serial}"));
        }
        if !status.comparisons.is_empty() {
            ui.strong("Check values: computed here vs shown by the device");
            egui::Grid::new("provision-compare").num_columns(4).striped(true).show(ui, |ui| {
                for c in &status.comparisons {
                    ui.label(c.field);
                    ui.monospace(&c.expected);
                    ui.monospace(&c.device);
                    if c.matches() {
                        ui.colored_label(theme::OK, "match");
                    } else {
                        ui.colored_label(ui.visuals().error_fg_color, "MISMATCH");
                    }
                    ui.end_row();
                }
            });
        }
    }

    fn line_ui(&mut self, ui: &mut egui::Ui) {
        egui::Grid::new("provision-line").num_columns(2).show(ui, |ui| {
            let label = ui.label("Template");
            ui.add(TextEdit::singleline(&mut self.template_path).desired_width(360.0)).labelled_by(label.id);
            ui.end_row();
            let label = ui.label("Also watch directory");
            ui.add(TextEdit::singleline(&mut self.watch_dir).desired_width(360.0).hint_text("/dev/serial/by-id"))
                .labelled_by(label.id);
            ui.end_row();
        });
        ui.horizontal(|ui| {
            if self.line.is_none() {
                if ui.button("Start line").clicked() {
                    self.start_line();
                }
            } else if ui.button("Stop line").clicked()
                && let Some(line) = self.line.take()
            {
                line.station.stop();
            }
        });
        if let Some(error) = &self.line_error {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
        ui.label(RichText::new(self.counters.summary()).size(18.0));
        match &self.last {
            Some((true, text)) => {
                ui.label(RichText::new("PASS").size(64.0).strong().color(theme::OK));
                ui.label(text);
            }
            Some((false, text)) => {
                ui.label(RichText::new("FAIL").size(64.0).strong().color(ui.visuals().error_fg_color));
                ui.label(text);
            }
            None if self.line.is_some() => {
                ui.label(RichText::new("Waiting for a device").size(28.0));
            }
            None => {}
        }
        ui.strong("Log");
        egui::ScrollArea::vertical().id_salt("provision-log").max_height(240.0).stick_to_bottom(true).show(ui, |ui| {
            for (error, line) in &self.log {
                if *error {
                    ui.colored_label(ui.visuals().error_fg_color, line);
                } else {
                    ui.monospace(line);
                }
            }
        });
    }

    fn start_line(&mut self) {
        self.line_error = None;
        let template = match Template::load(&PathBuf::from(self.template_path.trim())) {
            Ok(t) => t,
            Err(e) => {
                self.line_error = Some(e.to_string());
                return;
            }
        };
        let watch = Watch {
            usb: template.watch_usb.clone(),
            dirs: if self.watch_dir.trim().is_empty() {
                Vec::new()
            } else {
                vec![PathBuf::from(self.watch_dir.trim())]
            },
            baud: template.baud,
        };
        let station = Station { station: self.station.clone(), operator: self.operator.clone(), template };
        let (tx, rx) = channel();
        match LineStation::start(self.runtime.clone(), station, &self.ledger_url, watch, None, tx) {
            Ok(station) => {
                self.counters = Counters::default();
                self.last = None;
                self.line = Some(Line { station, events: rx, started: Instant::now() });
            }
            Err(e) => self.line_error = Some(e.to_string()),
        }
    }
}
