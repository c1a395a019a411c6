//! The Power view: a `.btr` current trace drawn as a min/max envelope with its mean, zoomable from hours to
//! single samples; two markers with exact statistics, charge and energy between them; states found by
//! current level and handed to the budget; a second trace to compare.
//!
//! Each frame asks the trace for one summary per pixel column of the visible range, so drawing costs the
//! same for a minute or for a day of samples. A recording still being written is followed with
//! [`Trace::refresh`]. No file is read outside the trace's own reads; errors show in the view.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use eframe::egui::{self, RichText};
use egui_plot::{Legend, Line, Plot, PlotPoints, VLine};

use super::ppk2_live::{Ppk2Form, Ppk2Live};
use super::theme;
use crate::cli::trace::si;
use crate::model::budget::{Profile, SegmentOptions, Segmentation, segment};
use crate::trace::Trace;
use crate::trace::selection::{SelectionStats, Voltage, selection_stats, window_means};

/// How often a recording in progress is looked at again.
const REFRESH_INTERVAL: Duration = Duration::from_millis(250);
/// Windows a selection is cut into for finding states.
const SEGMENT_WINDOWS: usize = 20_000;
/// Longest the view waits for a recording or an import to produce its file.
const PENDING_LIMIT: Duration = Duration::from_secs(120);
/// Height of the logic-line strip under the current, points.
const LOGIC_HEIGHT: f32 = 130.0;
/// Vertical distance between two logic lines in the strip.
const LOGIC_PITCH: f64 = 1.5;
/// Width of the markers/states column, points.
const SIDE_WIDTH: f32 = 340.0;
/// Currents below this are drawn at this level on the log scale, A.
const LOG_FLOOR_A: f64 = 1e-9;

/// States found in a trace, with where the windows start.
pub struct FoundStates {
    /// The segmentation (editable).
    pub segmentation: Segmentation,
    /// Trace time of the first window, s.
    pub start_s: f64,
}

/// What the view asks of the window around it.
#[derive(Debug, Clone, PartialEq)]
pub enum PowerAction {
    /// Show this measured profile in the budget.
    UseInBudget(String, Profile),
}

/// The Power view's state.
pub struct PowerView {
    /// The path typed in the open box.
    pub path_input: String,
    trace: Option<Trace>,
    /// Waiting for this file to appear (a recording just started).
    pending: Option<(PathBuf, Instant)>,
    channel: usize,
    /// Supply voltage for energy, V.
    pub voltage_v: f64,
    /// A voltage channel to use instead of `voltage_v`.
    voltage_channel: Option<usize>,
    /// Marker times, s.
    pub markers: [Option<f64>; 2],
    set_view: Option<(f64, f64)>,
    /// The visible time range last drawn.
    pub visible: Option<(f64, f64)>,
    /// Follow the end of a recording in progress.
    pub follow: bool,
    /// Plot log10 of the current.
    pub log_scale: bool,
    states: Option<FoundStates>,
    compare_input: String,
    compare: Option<Trace>,
    /// Where "Export selection" writes.
    pub export_input: String,
    message: Option<(bool, String)>,
    last_refresh: Instant,
    /// Set by an import thread that failed.
    import_failure: std::sync::Arc<std::sync::Mutex<Option<String>>>,
    /// The PPK2 form's inputs.
    pub ppk2_form: Ppk2Form,
    /// Where PPK2 recordings are written (the working folder by default).
    pub record_dir: PathBuf,
    /// A PPK2 session recording into the trace shown.
    ppk2: Option<Ppk2Live>,
}

impl Default for PowerView {
    fn default() -> Self {
        Self {
            path_input: String::new(),
            trace: None,
            pending: None,
            channel: 0,
            voltage_v: 3.7,
            voltage_channel: None,
            markers: [None, None],
            set_view: None,
            visible: None,
            follow: false,
            log_scale: false,
            states: None,
            compare_input: String::new(),
            compare: None,
            export_input: "selection.csv".into(),
            message: None,
            last_refresh: Instant::now(),
            import_failure: Default::default(),
            ppk2_form: Ppk2Form::default(),
            record_dir: PathBuf::from("."),
            ppk2: None,
        }
    }
}

impl PowerView {
    /// Opens a `.btr` trace, or imports a CSV, `.ppk2` or raw file into a `.btr` beside it (on a thread) and
    /// opens that once it is written.
    pub fn open_any(&mut self, path: &Path) -> Result<(), String> {
        let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        if extension == "btr" {
            return self.open(path);
        }
        if !path.exists() {
            return Err(format!("there is no such file: {}", path.display()));
        }
        let target = free_trace_path(path);
        let (input, out) = (path.to_path_buf(), target.clone());
        let failure = self.import_failure.clone();
        std::thread::Builder::new()
            .name("benchtop-import".into())
            .spawn(move || {
                if let Err(error) = crate::trace::import::import_file(&input, &out, &Default::default())
                    && let Ok(mut slot) = failure.lock()
                {
                    *slot = Some(error.to_string());
                }
            })
            .map_err(|e| format!("could not start the import: {e}"))?;
        self.message = Some((false, format!("Importing {} into {}", path.display(), target.display())));
        self.pending = Some((target, Instant::now()));
        Ok(())
    }

    /// Opens `path` and shows all of it.
    pub fn open(&mut self, path: &Path) -> Result<(), String> {
        let trace = Trace::open(path).map_err(|e| e.to_string())?;
        self.channel = trace.channels().position(|c| c.unit == "A").unwrap_or(0);
        self.voltage_channel = None;
        if let Some(voltage_v) = trace.meta().get("voltage_v").and_then(serde_json::Value::as_f64) {
            self.voltage_v = voltage_v;
        }
        self.markers = [None, None];
        self.states = None;
        self.follow = !trace.report().finished;
        self.set_view = Some(self.full_range(&trace));
        self.path_input = path.display().to_string();
        self.message = (trace.report().unreadable_tail_bytes > 0 && !self.follow)
            .then(|| (false, "This recording was cut off; it was read up to its last complete chunk.".to_string()));
        self.trace = Some(trace);
        Ok(())
    }

    /// Shows `path` as soon as it exists: a recording that was just started.
    pub fn open_when_ready(&mut self, path: PathBuf) {
        self.pending = Some((path, Instant::now()));
    }

    /// Starts recording a PPK2 into a new trace in [`PowerView::record_dir`] and shows it as it grows.
    pub fn start_ppk2(&mut self) {
        let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let path = self.record_dir.join(format!("benchtop-ppk2-{stamp}.btr"));
        match Ppk2Live::start(self.ppk2_form.options(), self.ppk2_form.spike_filter, path.clone()) {
            Ok(live) => {
                self.ppk2 = Some(live);
                self.open_when_ready(path);
            }
            Err(error) => self.message = Some((true, error)),
        }
    }

    /// The PPK2 session, if one was started.
    pub fn ppk2(&self) -> Option<&Ppk2Live> {
        self.ppk2.as_ref()
    }

    /// The open trace.
    pub fn trace(&self) -> Option<&Trace> {
        self.trace.as_ref()
    }

    /// The states found last, if any.
    pub fn states(&self) -> Option<&FoundStates> {
        self.states.as_ref()
    }

    /// The message shown (error?, text).
    pub fn message(&self) -> Option<&(bool, String)> {
        self.message.as_ref()
    }

    fn full_range(&self, trace: &Trace) -> (f64, f64) {
        let channel = self.channel.min(trace.channel_count().saturating_sub(1));
        let start = trace.channel(channel).map_or(0.0, |c| c.start_s);
        let end = trace.time_of(channel, trace.sample_count(channel) as f64);
        (start, if end > start { end } else { start + 1.0 })
    }

    /// The markers in time order, when both are set.
    pub fn marker_range(&self) -> Option<(f64, f64)> {
        let [Some(a), Some(b)] = self.markers else { return None };
        Some((a.min(b), a.max(b)))
    }

    fn voltage(&self) -> Voltage {
        self.voltage_channel.map_or(Voltage::Fixed(self.voltage_v), Voltage::Channel)
    }

    /// Exact figures between the markers.
    pub fn marker_stats(&self) -> Option<Result<SelectionStats, String>> {
        let trace = self.trace.as_ref()?;
        let (a, b) = self.marker_range()?;
        Some(selection_stats(trace, self.channel, a, b, Some(self.voltage())).map_err(|e| e.to_string()))
    }

    /// Finds states in the marker range (or the whole trace).
    pub fn find_states(&mut self) {
        let Some(trace) = self.trace.as_ref() else { return };
        let (a, b) = self.marker_range().unwrap_or_else(|| self.full_range(trace));
        let result = window_means(trace, self.channel, a, b, SEGMENT_WINDOWS).map_err(|e| e.to_string()).and_then(
            |(means, window_s)| segment(&means, window_s, &SegmentOptions::default()).map_err(|e| e.to_string()),
        );
        match result {
            Ok(segmentation) => self.states = Some(FoundStates { segmentation, start_s: a }),
            Err(error) => self.message = Some((true, format!("Could not find states: {error}"))),
        }
    }

    fn poll_files(&mut self) {
        if let Some(error) = self.import_failure.lock().ok().and_then(|mut slot| slot.take()) {
            self.pending = None;
            self.message = Some((true, format!("Import failed: {error}")));
        }
        if let Some((path, since)) = self.pending.clone() {
            if path.exists() && self.open(&path).is_ok() {
                self.pending = None;
            } else if since.elapsed() > PENDING_LIMIT {
                self.pending = None;
                self.message = Some((true, format!("The recording did not start: {} never appeared", path.display())));
            }
        }
        if self.last_refresh.elapsed() < REFRESH_INTERVAL {
            return;
        }
        self.last_refresh = Instant::now();
        let Some(trace) = self.trace.as_mut() else { return };
        match trace.refresh() {
            Ok(grew) if grew && self.follow => {
                let (_, end) = self.full_range_of_current();
                let width = self.visible.map_or(10.0, |(a, b)| (b - a).max(1e-3));
                self.set_view = Some((end - width, end));
            }
            Ok(_) => {}
            Err(error) => self.message = Some((true, error.to_string())),
        }
    }

    fn full_range_of_current(&self) -> (f64, f64) {
        self.trace.as_ref().map_or((0.0, 1.0), |t| self.full_range(t))
    }

    /// The whole view; returns what the window should do.
    pub fn ui(&mut self, ui: &mut egui::Ui) -> Option<PowerAction> {
        self.poll_files();
        if self.pending.is_some() || (self.follow && self.trace.is_some()) {
            ui.ctx().request_repaint_after(REFRESH_INTERVAL);
        }
        self.open_bar_ui(ui);
        match self.ppk2.as_mut() {
            Some(live) if !live.status().ended => {
                live.ui(ui);
                ui.ctx().request_repaint_after(REFRESH_INTERVAL);
            }
            _ => {
                if let Some(live) = self.ppk2.as_mut() {
                    live.ui(ui);
                }
                if self.ppk2_form.ui(ui) {
                    self.start_ppk2();
                }
            }
        }
        if let Some((error, text)) = &self.message {
            ui.colored_label(if *error { theme::ERROR } else { theme::PENDING }, text);
        }
        if self.trace.is_none() {
            ui.add_space(theme::SECTION_SPACING);
            ui.label(
                RichText::new(
                    "Open a .btr trace (or drop one on the window), import one with `benchtop trace import`, \
                     or record a device's current to a trace from the Live view.",
                )
                .color(theme::MUTED),
            );
            return None;
        }
        let mut action = None;
        let plot_width = (ui.available_width() - SIDE_WIDTH - 12.0).max(200.0);
        ui.horizontal_top(|ui| {
            ui.allocate_ui(egui::vec2(plot_width, ui.available_height()), |ui| {
                ui.vertical(|ui| {
                    self.toolbar_ui(ui);
                    self.plot_ui(ui);
                });
            });
            ui.separator();
            ui.vertical(|ui| {
                egui::ScrollArea::vertical().id_salt("power-side").show(ui, |ui| action = self.side_ui(ui));
            });
        });
        action
    }

    fn open_bar_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let label = ui.label("Trace");
            let field = egui::TextEdit::singleline(&mut self.path_input)
                .hint_text("recording.btr, capture.csv, session.ppk2")
                .desired_width(320.0);
            let edit = ui.add(field).labelled_by(label.id);
            let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if ui.button("Open trace").clicked() || enter {
                let path = PathBuf::from(self.path_input.trim());
                if let Err(error) = self.open_any(&path) {
                    self.message = Some((true, error));
                }
            }
            if let Some((path, _)) = &self.pending {
                ui.label(RichText::new(format!("waiting for {}", path.display())).color(theme::PENDING));
            }
        });
    }

    fn toolbar_ui(&mut self, ui: &mut egui::Ui) {
        let Some(trace) = self.trace.as_ref() else { return };
        let mut channel = self.channel;
        let full = self.full_range(trace);
        let recording = !trace.report().finished;
        ui.horizontal(|ui| {
            egui::ComboBox::from_label("Channel")
                .selected_text(trace.channel(channel).map_or("-".into(), |c| format!("{} ({})", c.name, c.unit)))
                .show_ui(ui, |ui| {
                    for (i, def) in trace.channels().enumerate() {
                        ui.selectable_value(&mut channel, i, format!("{} ({})", def.name, def.unit));
                    }
                });
            if ui.button("Fit").on_hover_text("Show the whole trace").clicked() {
                self.set_view = Some(full);
            }
            ui.checkbox(&mut self.log_scale, "Log scale");
            if recording {
                ui.checkbox(&mut self.follow, "Follow").on_hover_text("Keep the newest samples in view");
            }
        });
        if channel != self.channel {
            self.channel = channel;
            self.states = None;
        }
    }

    fn plot_ui(&mut self, ui: &mut egui::Ui) {
        let Some(trace) = self.trace.as_ref() else { return };
        let channel = self.channel;
        let unit = trace.channel(channel).map_or(String::new(), |c| c.unit.clone());
        let log_scale = self.log_scale;
        let y_of = move |v: f64| if log_scale { v.max(LOG_FLOOR_A).log10() } else { v };
        let set_view = self.set_view.take();
        let markers = self.markers;
        let states = self.states.as_ref();
        let compare = self.compare.as_ref();
        let mut visible = None;
        let mut failure = None;
        let y_unit = unit.clone();
        let logic = logic_channels(trace);
        let logic_height = if logic.is_empty() { 0.0 } else { LOGIC_HEIGHT };
        let plot = Plot::new("power-plot")
            .width(ui.available_width())
            .height((ui.available_height() - logic_height).max(120.0))
            .link_axis(egui::Id::unique("benchtop-power-x"), [true, false])
            .link_cursor(egui::Id::unique("benchtop-power-x"), [true, false])
            .legend(Legend::default())
            .allow_zoom([true, false])
            .allow_scroll([true, false])
            .allow_drag([true, false])
            .allow_double_click_reset(false)
            .x_axis_formatter(|mark, _| format_trace_time(mark.value, mark.step_size))
            .y_axis_formatter(move |mark, _| {
                let v = if log_scale { 10f64.powf(mark.value) } else { mark.value };
                si(v, &y_unit)
            })
            .y_axis_min_width(80.0);
        let response = plot.show(ui, |plot_ui| {
            if let Some((a, b)) = set_view {
                plot_ui.set_plot_bounds_x(a..=b);
            }
            let bounds = plot_ui.plot_bounds();
            let (t0, t1) = (bounds.min()[0], bounds.max()[0]);
            visible = Some((t0, t1));
            let px = plot_ui.transform().frame().width().max(1.0) as usize;
            let mut y_range = (f64::INFINITY, f64::NEG_INFINITY);
            let mut draw = |plot_ui: &mut egui_plot::PlotUi, trace: &Trace, ch: usize, name: &str, color, envelope| {
                let (i0, i1) = (trace.index_at(ch, t0), trace.index_at(ch, t1));
                match trace.columns(ch, i0, i1, px) {
                    Ok(columns) => {
                        let mut band = Vec::with_capacity(columns.summaries.len() * 2);
                        let mut mean = Vec::with_capacity(columns.summaries.len());
                        for (c, s) in columns.summaries.iter().enumerate() {
                            if s.count == 0 {
                                continue;
                            }
                            let t = trace.time_of(ch, columns.start + (c as f64 + 0.5) * columns.width);
                            let (lo, hi) = (y_of(f64::from(s.min)), y_of(f64::from(s.max)));
                            band.push([t, lo]);
                            band.push([t, hi]);
                            mean.push([t, y_of(s.mean())]);
                            y_range = (y_range.0.min(lo), y_range.1.max(hi));
                        }
                        if envelope {
                            plot_ui.line(
                                Line::new(format!("{name} min/max"), PlotPoints::new(band)).color(color).width(1.0),
                            );
                        }
                        plot_ui.line(
                            Line::new(format!("{name} mean"), PlotPoints::new(mean)).color(theme::SERIES[1]).width(1.5),
                        );
                    }
                    Err(error) => failure = Some(error.to_string()),
                }
            };
            draw(plot_ui, trace, channel, "current", theme::SERIES[0], true);
            if let Some(other) = compare {
                let ch = other.channels().position(|c| c.unit == "A").unwrap_or(0);
                draw(plot_ui, other, ch, "compared", theme::SERIES[3], true);
            }
            if let Some(found) = states {
                let mut steps = Vec::new();
                for segment in found.segmentation.segments() {
                    let (a, b) = (found.start_s + segment.start_s, found.start_s + segment.end_s);
                    if b < t0 || a > t1 {
                        continue;
                    }
                    steps.push([a, y_of(segment.mean_a)]);
                    steps.push([b, y_of(segment.mean_a)]);
                    if steps.len() > 20_000 {
                        break;
                    }
                }
                plot_ui.line(Line::new("states", PlotPoints::new(steps)).color(theme::SERIES[2]).width(2.0));
            }
            for (i, marker) in markers.iter().enumerate() {
                if let Some(t) = marker {
                    let name = if i == 0 { "marker A" } else { "marker B" };
                    plot_ui.vline(VLine::new(name, *t).color(theme::PENDING).width(1.5));
                }
            }
            if y_range.0.is_finite() {
                let margin = ((y_range.1 - y_range.0) * 0.05).max(if log_scale { 0.1 } else { 1e-9 });
                plot_ui.set_plot_bounds_y((y_range.0 - margin)..=(y_range.1 + margin));
            }
            plot_ui.pointer_coordinate().map(|p| p.x)
        });
        let r = &response.response;
        if r.dragged() || (r.hovered() && ui.input(|i| i.smooth_scroll_delta != egui::Vec2::ZERO)) {
            self.follow = false;
        }
        if let Some(t) = response.inner {
            if r.clicked() {
                self.markers[0] = Some(t);
            }
            if r.secondary_clicked() {
                self.markers[1] = Some(t);
            }
        }
        if !logic.is_empty()
            && let Some((t0, t1)) = visible
            && let Err(error) = logic_ui(ui, trace, &logic, t0, t1)
        {
            failure = Some(error);
        }
        self.visible = visible;
        if let Some(error) = failure {
            self.message = Some((true, error));
        }
    }

    fn side_ui(&mut self, ui: &mut egui::Ui) -> Option<PowerAction> {
        let mut action = None;
        ui.heading("Markers");
        ui.horizontal(|ui| {
            for (i, label) in ["A", "B"].iter().enumerate() {
                let name = ui.label(*label);
                match self.markers[i] {
                    Some(mut t) => {
                        let drag = egui::DragValue::new(&mut t).speed(0.001).suffix(" s").max_decimals(9);
                        if ui.add(drag).labelled_by(name.id).changed() {
                            self.markers[i] = Some(t);
                        }
                    }
                    None => {
                        ui.label(RichText::new("not set").color(theme::MUTED));
                    }
                }
            }
        });
        ui.horizontal(|ui| {
            if ui.button("Markers to view").clicked()
                && let Some((a, b)) = self.visible
            {
                let w = b - a;
                self.markers = [Some(a + w * 0.1), Some(b - w * 0.1)];
            }
            let range = self.marker_range();
            if ui.add_enabled(range.is_some(), egui::Button::new("Zoom to markers")).clicked() {
                self.set_view = range.map(|(a, b)| (a - (b - a) * 0.05, b + (b - a) * 0.05));
            }
            if ui.button("Clear").clicked() {
                self.markers = [None, None];
            }
        });
        self.voltage_ui(ui);
        match self.marker_stats() {
            None => {
                ui.label(RichText::new("Set both markers to measure between them.").color(theme::MUTED));
            }
            Some(Err(error)) => {
                ui.colored_label(theme::ERROR, error);
            }
            Some(Ok(stats)) => stats_grid_ui(ui, &stats, self.compare_stats().as_ref()),
        }
        ui.horizontal(|ui| {
            let label = ui.label("To");
            ui.add(egui::TextEdit::singleline(&mut self.export_input).desired_width(150.0)).labelled_by(label.id);
            if ui.add_enabled(self.marker_range().is_some(), egui::Button::new("Export selection")).clicked() {
                self.export_selection();
            }
        });
        ui.add_space(theme::SECTION_SPACING);
        ui.heading("States");
        ui.horizontal(|ui| {
            let what = if self.marker_range().is_some() { "Find states between markers" } else { "Find states" };
            if ui.button(what).clicked() {
                self.find_states();
            }
        });
        if let Some(profile) = self.states_ui(ui) {
            action = Some(profile);
        }
        ui.add_space(theme::SECTION_SPACING);
        ui.heading("Compare");
        ui.horizontal(|ui| {
            let label = ui.label("With");
            ui.add(egui::TextEdit::singleline(&mut self.compare_input).hint_text("other.btr").desired_width(150.0))
                .labelled_by(label.id);
            if ui.button("Compare").clicked() {
                match Trace::open(Path::new(self.compare_input.trim())) {
                    Ok(trace) => self.compare = Some(trace),
                    Err(error) => self.message = Some((true, error.to_string())),
                }
            }
            if self.compare.is_some() && ui.button("Stop comparing").clicked() {
                self.compare = None;
            }
        });
        action
    }

    fn voltage_ui(&mut self, ui: &mut egui::Ui) {
        let Some(trace) = self.trace.as_ref() else { return };
        let volt_channels: Vec<(usize, String)> =
            trace.channels().enumerate().filter(|(_, c)| c.unit == "V").map(|(i, c)| (i, c.name.clone())).collect();
        ui.horizontal(|ui| {
            let mut choice = self.voltage_channel;
            egui::ComboBox::from_label("Energy at")
                .selected_text(match choice.and_then(|i| trace.channel(i)) {
                    Some(c) => format!("measured {}", c.name),
                    None => "a set voltage".to_string(),
                })
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut choice, None, "a set voltage");
                    for (i, name) in &volt_channels {
                        ui.selectable_value(&mut choice, Some(*i), format!("measured {name}"));
                    }
                });
            self.voltage_channel = choice;
            if choice.is_none() {
                ui.add(egui::DragValue::new(&mut self.voltage_v).range(0.0..=60.0).speed(0.01).suffix(" V"));
            }
        });
    }

    fn compare_stats(&self) -> Option<SelectionStats> {
        let other = self.compare.as_ref()?;
        let (a, b) = self.marker_range()?;
        let ch = other.channels().position(|c| c.unit == "A").unwrap_or(0);
        selection_stats(other, ch, a, b, Some(Voltage::Fixed(self.voltage_v))).ok()
    }

    fn export_selection(&mut self) {
        let (Some(trace), Some((a, b))) = (self.trace.as_ref(), self.marker_range()) else { return };
        let out = PathBuf::from(self.export_input.trim());
        self.message = Some(match export_selection(trace, self.channel, a, b, &out) {
            Ok(rows) => (false, format!("Wrote {rows} samples to {}", out.display())),
            Err(error) => (true, error),
        });
    }

    fn states_ui(&mut self, ui: &mut egui::Ui) -> Option<PowerAction> {
        let found = self.states.as_mut()?;
        let mut action = None;
        let mut rename = None;
        let mut merge = None;
        let seg = &found.segmentation;
        let total: f64 = (0..seg.names().len()).map(|i| seg.state_time_s(i)).sum();
        egui::Grid::new("power-states").striped(true).show(ui, |ui| {
            ui.strong("state");
            ui.strong("mean");
            ui.strong("time");
            ui.end_row();
            for (i, name) in seg.names().iter().enumerate() {
                let mut text = name.clone();
                if ui.add(egui::TextEdit::singleline(&mut text).desired_width(80.0)).changed() {
                    rename = Some((i, text));
                }
                ui.label(si(seg.state_mean_a(i), "A"));
                let time = seg.state_time_s(i);
                ui.label(format!("{:.3} % ({:.3} s)", 100.0 * time / total.max(f64::MIN_POSITIVE), time));
                if i > 0 && ui.small_button("merge up").on_hover_text("Merge into the state above").clicked() {
                    merge = Some((i - 1, i));
                }
                ui.end_row();
            }
        });
        if let Some(period) = seg.period_s {
            ui.label(format!("Repeats every {period:.3} s"));
        }
        let name = self
            .trace
            .as_ref()
            .and_then(|t| t.path().file_stem().map(|s| s.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "trace".into());
        if ui.button("Use in budget").clicked() {
            action = Some(PowerAction::UseInBudget(name.clone(), seg.profile(&name)));
        }
        if let Some((i, text)) = rename
            && let Err(error) = found.segmentation.rename_state(i, &text)
        {
            self.message = Some((true, error.to_string()));
        }
        if let Some((keep, absorb)) = merge
            && let Some(found) = self.states.as_mut()
            && let Err(error) = found.segmentation.merge_states(keep, absorb)
        {
            self.message = Some((true, error.to_string()));
        }
        action
    }
}

/// The marker statistics, with a second trace's beside them when comparing.
fn stats_grid_ui(ui: &mut egui::Ui, stats: &SelectionStats, other: Option<&SelectionStats>) {
    egui::Grid::new("power-stats").striped(true).num_columns(3).show(ui, |ui| {
        let s = &stats.stats;
        let o = other.map(|o| o.stats);
        let mut row = |label: &str, value: String, other: Option<String>| {
            ui.label(label);
            ui.label(RichText::new(value).monospace());
            if let Some(other) = other {
                ui.label(RichText::new(other).monospace().color(theme::SERIES[3]));
            }
            ui.end_row();
        };
        row("Δt", format!("{:.6} s", stats.to_s - stats.from_s), None);
        row("samples", s.count.to_string(), o.map(|o| o.count.to_string()));
        row("mean", si(s.mean, "A"), o.map(|o| si(o.mean, "A")));
        row("std", si(s.std, "A"), o.map(|o| si(o.std, "A")));
        row("rms", si(s.rms, "A"), o.map(|o| si(o.rms, "A")));
        row("min", si(s.min, "A"), o.map(|o| si(o.min, "A")));
        row("max", si(s.max, "A"), o.map(|o| si(o.max, "A")));
        row("peak-to-peak", si(s.p2p, "A"), o.map(|o| si(o.p2p, "A")));
        row("charge", si(stats.charge_c, "C"), other.map(|o| si(o.charge_c, "C")));
        row("charge", format!("{:.6} µAh", stats.charge_uah), other.map(|o| format!("{:.6} µAh", o.charge_uah)));
        row(
            "energy",
            stats.energy_j.map_or("–".into(), |e| si(e, "J")),
            other.and_then(|o| o.energy_j).map(|e| si(e, "J")),
        );
    });
}

/// Most samples "Export selection" writes from the window; longer selections go through `benchtop trace export`.
pub const EXPORT_MAX_SAMPLES: u64 = 20_000_000;

/// Writes samples of `channel` between `from_s` and `to_s` to a CSV or Parquet file (time_s, channel, value,
/// unit); returns the samples written. Gaps are left out.
pub fn export_selection(trace: &Trace, channel: usize, from_s: f64, to_s: f64, out: &Path) -> Result<u64, String> {
    let (a, b) = crate::trace::selection::index_range(trace, channel, from_s, to_s);
    if b - a > EXPORT_MAX_SAMPLES {
        return Err(format!(
            "the selection has {} samples, more than the window exports ({EXPORT_MAX_SAMPLES}); use `benchtop trace export {} --from {from_s} --to {to_s} --out {}`",
            b - a,
            trace.path().display(),
            out.display()
        ));
    }
    let def = trace.channel(channel).ok_or("the channel is gone")?;
    let samples = trace.read_samples(channel, a, b).map_err(|e| e.to_string())?;
    let points = samples
        .iter()
        .enumerate()
        .filter(|(_, v)| !v.is_nan())
        .map(|(i, &v)| (trace.time_of(channel, (a + i as u64) as f64), v))
        .collect();
    let recorded = crate::io::replay::RecordedChannel { name: def.name.clone(), unit: def.unit.clone(), points };
    let summary = crate::io::recorder::export(out, &[recorded]).map_err(|e| e.to_string())?;
    Ok(summary.samples)
}

/// `input` with the `.btr` extension, numbered (`name-2.btr`…) if that file exists already.
fn free_trace_path(input: &Path) -> PathBuf {
    let first = input.with_extension("btr");
    if !first.exists() {
        return first;
    }
    let stem = input.file_stem().map_or_else(|| "trace".into(), |s| s.to_string_lossy().into_owned());
    (2..).map(|n| input.with_file_name(format!("{stem}-{n}.btr"))).find(|p| !p.exists()).unwrap_or(first)
}

/// A time axis label with as many decimals as the grid step needs (down to nanoseconds): `12.5 s`,
/// `12.000250 s`, `2:05.5` past a minute.
pub fn format_trace_time(t_s: f64, step_s: f64) -> String {
    let decimals = (-step_s.abs().max(1e-9).log10().floor()).clamp(0.0, 9.0) as usize;
    if t_s.abs() < 60.0 {
        format!("{t_s:.decimals$} s")
    } else {
        let minutes = (t_s / 60.0).floor();
        let seconds = t_s - minutes * 60.0;
        let width = if decimals == 0 { 2 } else { decimals + 3 };
        format!("{minutes}:{seconds:0width$.decimals$}")
    }
}

/// Channels named `D0`…`D7` without a unit: a PPK2's logic inputs.
fn logic_channels(trace: &Trace) -> Vec<(usize, usize)> {
    trace
        .channels()
        .enumerate()
        .filter_map(|(i, c)| {
            let bit = c.name.strip_prefix('D')?.parse::<usize>().ok()?;
            (c.unit.is_empty() && bit < 8).then_some((i, bit))
        })
        .collect()
}

/// The logic lines as a strip under the current plot, on the same time axis: each line's min and max per
/// pixel column, so a line that toggles within a column shows as a bar rather than vanishing.
fn logic_ui(ui: &mut egui::Ui, trace: &Trace, logic: &[(usize, usize)], t0: f64, t1: f64) -> Result<(), String> {
    let mut failure = None;
    Plot::new("power-logic")
        .width(ui.available_width())
        .height(LOGIC_HEIGHT)
        .link_axis(egui::Id::unique("benchtop-power-x"), [true, false])
        .link_cursor(egui::Id::unique("benchtop-power-x"), [true, false])
        .allow_zoom([true, false])
        .allow_scroll([true, false])
        .allow_drag([true, false])
        .show_axes([false, true])
        .y_axis_min_width(80.0)
        .y_axis_formatter(|mark, _| {
            let line = (mark.value / LOGIC_PITCH).round();
            let on_line = (mark.value - line * LOGIC_PITCH).abs() < 0.01;
            if on_line && (0.0..8.0).contains(&line) { format!("D{line}") } else { String::new() }
        })
        .show(ui, |plot_ui| {
            plot_ui.set_plot_bounds_y(-0.3..=(8.0 * LOGIC_PITCH));
            let px = plot_ui.transform().frame().width().max(1.0) as usize;
            for &(channel, bit) in logic {
                let base = bit as f64 * LOGIC_PITCH;
                let (i0, i1) = (trace.index_at(channel, t0), trace.index_at(channel, t1));
                match trace.columns(channel, i0, i1, px) {
                    Ok(columns) => {
                        let mut points = Vec::with_capacity(columns.summaries.len() * 2);
                        for (c, s) in columns.summaries.iter().enumerate() {
                            if s.count == 0 {
                                continue;
                            }
                            let t = trace.time_of(channel, columns.start + (c as f64 + 0.5) * columns.width);
                            points.push([t, base + f64::from(s.min)]);
                            points.push([t, base + f64::from(s.max)]);
                        }
                        let color = theme::SERIES[bit % theme::SERIES.len()];
                        plot_ui.line(Line::new(format!("D{bit}"), PlotPoints::new(points)).color(color).width(1.0));
                    }
                    Err(error) => failure = Some(error.to_string()),
                }
            }
        });
    failure.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_labels_keep_the_decimals_the_zoom_needs() {
        assert_eq!(format_trace_time(12.5, 0.5), "12.5 s");
        assert_eq!(format_trace_time(12.00025, 0.00005), "12.00025 s");
        assert_eq!(format_trace_time(3.0, 10.0), "3 s");
        assert_eq!(format_trace_time(125.5, 0.1), "2:05.5");
        assert_eq!(format_trace_time(125.0, 10.0), "2:05");
    }

    #[test]
    fn an_import_never_overwrites_a_trace() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("run.csv");
        assert_eq!(free_trace_path(&input), dir.path().join("run.btr"));
        std::fs::write(dir.path().join("run.btr"), b"").unwrap();
        assert_eq!(free_trace_path(&input), dir.path().join("run-2.btr"));
    }
}
