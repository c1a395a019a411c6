//! The application: devices on the left (connections panel), the selected device's plots in the middle, its
//! console at the bottom.
//!
//! Every device runs as a task on the I/O runtime and reports through one bounded channel of tagged
//! [`DeviceEvent`]s that [`BenchtopApp::logic`] drains within a time budget; the UI thread never waits on
//! I/O, and sends commands without waiting either.

use std::sync::Arc;
use std::time::{Duration, Instant};

use eframe::egui::{self, RichText};
use tokio::sync::{mpsc, watch};

use super::ble_explore::BleExplorer;
use super::ble_scan::{BleScan, ScanAction};
use super::coap_panel::CoapPanel;
use super::connections::{self, Action};
use super::console::{self, ConsoleState};
use super::devices::{DeviceEntry, DeviceState};
use super::inspector::InspectorView;
use super::mqtt_bridge::BridgePanel;
use super::plot::{self, PlotState, WINDOWS_S};
use super::power::{PowerAction, PowerView};
use super::provision::ProvisionView;
use super::settings::Settings;
use super::theme;
use super::toasts::{Level, Toasts};
use crate::io::device_task::{DeviceEvent, DeviceTaskOptions, EventSink, RecordingStatus, run_device};
use crate::io::ports::{PortInfo, list_ports};
use crate::io::replay::RecordedChannel;
use crate::model::live::LiveDevice;
use crate::model::source::Source;

/// Events queued between the device tasks and the window.
const EVENT_QUEUE: usize = 4096;
/// Longest `logic` spends draining events per frame.
const DRAIN_BUDGET: Duration = Duration::from_millis(4);
/// Most captured frames taken per device per update (the tap behind it drops the oldest when it overflows).
const FRAMES_PER_UPDATE: usize = 256;
/// How often the port list is refreshed (plug and unplug show up within this).
const PORT_REFRESH: Duration = Duration::from_secs(1);

/// The Benchtop window.
pub struct BenchtopApp {
    runtime: tokio::runtime::Handle,
    ctx: egui::Context,
    events: mpsc::Receiver<(u64, DeviceEvent)>,
    events_tx: mpsc::Sender<(u64, DeviceEvent)>,
    devices: Vec<DeviceEntry>,
    selected: Option<u64>,
    next_id: u64,
    ports: watch::Receiver<Vec<PortInfo>>,
    settings: Settings,
    console: ConsoleState,
    toasts: Toasts,
    /// Zero of the host timeline that plots use.
    started: Instant,
    /// Which view fills the middle.
    view: View,
    power: PowerView,
    inspector: InspectorView,
    provision: ProvisionView,
    /// MQTT bridges by device entry id, and whether the Live view shows the bridge form.
    bridges: std::collections::HashMap<u64, BridgePanel>,
    show_bridge: bool,
    ble_scan: BleScan,
    ble_explorer: BleExplorer,
    coap_panel: CoapPanel,
}

/// The views of the middle of the window; `benchtop --view NAME` opens on one (lowercase names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum View {
    /// Live plots of the selected device.
    Live,
    /// A current trace: envelope, markers, states.
    Power,
    /// Energy budget and battery life.
    Budget,
    /// A payload decoded field by field.
    Inspect,
    /// Keys and intervals into devices: bench flow and line mode.
    Provision,
}

impl BenchtopApp {
    /// The window with default settings, opening `source` at once; `ctx` is woken when events arrive.
    pub fn new(ctx: egui::Context, runtime: tokio::runtime::Handle, source: &str) -> Self {
        Self::with_settings(ctx, runtime, source, Settings::default())
    }

    /// The window with saved `settings`, opening `source` at once.
    pub fn with_settings(
        ctx: egui::Context,
        runtime: tokio::runtime::Handle,
        source: &str,
        settings: Settings,
    ) -> Self {
        ctx.set_theme(if settings.light_theme { egui::Theme::Light } else { egui::Theme::Dark });
        let (events_tx, events) = mpsc::channel(EVENT_QUEUE);
        let (ports_tx, ports) = watch::channel(Vec::new());
        runtime.spawn(watch_ports(ports_tx, ctx.clone()));
        let runtime_for_provision = runtime.clone();
        let mut app = Self {
            runtime,
            ctx,
            events,
            events_tx,
            devices: Vec::new(),
            selected: None,
            next_id: 1,
            ports,
            settings,
            console: ConsoleState::default(),
            toasts: Toasts::default(),
            started: Instant::now(),
            view: View::Live,
            power: PowerView::default(),
            inspector: InspectorView::default(),
            provision: ProvisionView::new(runtime_for_provision),
            bridges: std::collections::HashMap::new(),
            show_bridge: false,
            ble_scan: BleScan::default(),
            ble_explorer: BleExplorer::default(),
            coap_panel: CoapPanel::default(),
        };
        app.connect(source);
        app
    }

    /// Opens another device and shows it; a `.btr` trace opens in the Power view instead.
    pub fn connect(&mut self, source: &str) {
        let trace_path = source.strip_prefix("file:").unwrap_or(source);
        let lower = trace_path.to_ascii_lowercase();
        if lower.ends_with(".btr") || lower.ends_with(".ppk2") {
            self.open_trace(std::path::Path::new(trace_path));
            return;
        }
        if let Some(target) = source.strip_prefix("ppk2:") {
            self.view = View::Power;
            match self.power.ppk2_form.set_from_target(target) {
                Ok(()) => {
                    self.power.start_ppk2();
                    self.settings.remember(source);
                }
                Err(error) => self.toasts.push(Level::Error, error),
            }
            return;
        }
        let id = self.next_id;
        self.next_id += 1;
        let (commands, command_rx) = mpsc::channel(16);
        let ctx = self.ctx.clone();
        let sink = EventSink {
            device: id,
            tx: self.events_tx.clone(),
            wake: Arc::new(move || ctx.request_repaint_after(Duration::from_millis(16))),
        };
        let text = source.to_string();
        self.runtime.spawn(async move {
            match Source::parse(&text) {
                Ok(source) => run_device(source, DeviceTaskOptions::default(), command_rx, sink).await,
                Err(e) => {
                    sink.state(DeviceEvent::Failed(e.to_string())).await;
                }
            }
        });
        let mut entry = DeviceEntry::new(id, source.to_string(), commands);
        if let Some(tree) = self.settings.layouts.get(source) {
            entry.layout.restore(tree.clone());
        }
        self.devices.push(entry);
        self.selected = Some(id);
        self.settings.remember(source);
    }

    /// Shows a `.btr` trace in the Power view (a `.ppk2` is imported first).
    pub fn open_trace(&mut self, path: &std::path::Path) {
        self.view = View::Power;
        match self.power.open_any(path) {
            Ok(()) => self.settings.remember(&format!("file:{}", path.display())),
            Err(error) => self.toasts.push(Level::Error, error),
        }
    }

    /// Which view fills the middle.
    pub fn view(&self) -> View {
        self.view
    }

    /// Switches the middle view.
    pub fn set_view(&mut self, view: View) {
        self.view = view;
    }

    /// The Inspect view.
    pub fn inspector(&mut self) -> &mut InspectorView {
        &mut self.inspector
    }

    /// The selected device's MQTT bridge (its form and state).
    pub fn bridge(&mut self) -> Option<&mut BridgePanel> {
        let id = self.selected?;
        Some(self.bridges.entry(id).or_default())
    }

    /// The Bluetooth scan of the devices panel.
    pub fn ble_scan(&mut self) -> &mut BleScan {
        &mut self.ble_scan
    }

    /// The GATT explorer window.
    pub fn ble_explorer(&mut self) -> &mut BleExplorer {
        &mut self.ble_explorer
    }

    /// The CoAP section of the devices panel.
    pub fn coap_panel(&mut self) -> &mut CoapPanel {
        &mut self.coap_panel
    }

    /// The Provision tab.
    pub fn provision(&mut self) -> &mut ProvisionView {
        &mut self.provision
    }

    /// The Power view.
    pub fn power(&mut self) -> &mut PowerView {
        &mut self.power
    }

    /// The saved preferences, as they stand.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The messages shown as toasts.
    pub fn toasts(&self) -> impl Iterator<Item = &str> {
        self.toasts.texts()
    }

    /// The devices, in the order they were opened.
    pub fn devices(&self) -> &[DeviceEntry] {
        &self.devices
    }

    fn selected_device(&self) -> Option<&DeviceEntry> {
        self.devices.iter().find(|d| Some(d.id) == self.selected)
    }

    /// Whether the selected device's plots are paused; `None` until it is connected.
    pub fn paused(&self) -> Option<bool> {
        let plots = self.selected_device()?.plots.as_ref()?;
        Some(plots.paused_at_s.is_some())
    }

    /// The selected device's plot settings, once connected.
    pub fn plot_state(&self) -> Option<&PlotState> {
        self.selected_device()?.plots.as_ref()
    }

    /// Samples received so far over all channels of the selected device.
    pub fn samples_received(&self) -> u64 {
        self.selected_device()
            .and_then(|d| d.live.as_ref())
            .map_or(0, |live| live.channels.iter().map(|c| c.series.samples_total()).sum())
    }

    fn apply(&mut self, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Connect(source) => self.connect(&source),
                Action::Select(id) => self.selected = Some(id),
                Action::Disconnect(id) => {
                    if let Some(device) = self.devices.iter().find(|d| d.id == id) {
                        device.disconnect();
                    }
                }
                Action::Remove(id) => {
                    self.devices.retain(|d| d.id != id);
                    if self.selected == Some(id) {
                        self.selected = self.devices.last().map(|d| d.id);
                    }
                }
            }
        }
    }

    fn power_ui(&mut self, ui: &mut egui::Ui) {
        if let Some(device) = self.devices.iter_mut().find(|d| Some(d.id) == self.selected)
            && device.live.is_some()
            && device.active()
        {
            ui.horizontal(|ui| {
                if let Some(path) = device.recording.clone() {
                    ui.colored_label(theme::ERROR, format!("Recording {}", path.display()));
                    if ui.button("Stop recording").clicked() {
                        device.toggle_recording(path);
                    }
                } else if ui
                    .button(format!("Record {} to a trace", device.source))
                    .on_hover_text(
                        "Every fixed-rate channel, current in amperes, to a .btr file shown here as it grows",
                    )
                    .clicked()
                {
                    let path = device.recording_path().with_extension("btr");
                    device.toggle_recording(path.clone());
                    self.power.open_when_ready(path);
                }
            });
        }
        if let Some(PowerAction::UseInBudget(name, profile)) = self.power.ui(ui) {
            self.settings.budget.set_measured(&name, profile);
            self.view = View::Budget;
        }
    }

    fn central_ui(&mut self, ui: &mut egui::Ui) {
        let Some(device) = self.devices.iter_mut().find(|d| Some(d.id) == self.selected) else {
            ui.label(RichText::new("Open a device on the left").color(theme::MUTED));
            return;
        };
        if device.live.is_some() {
            let bridge = self.bridges.entry(device.id).or_default();
            ui.horizontal(|ui| {
                if device.active() {
                    recording_ui(ui, device);
                }
                for (parquet, label) in [(false, "Export view as CSV"), (true, "Export view as Parquet")] {
                    if ui.button(label).on_hover_text("The time range on screen, visible channels").clicked() {
                        export_view(&self.runtime, device, parquet, self.events_tx.clone());
                    }
                }
                let label = if bridge.running() { "MQTT bridge (on)" } else { "MQTT bridge" };
                let shown = self.show_bridge;
                if ui
                    .selectable_label(shown, label)
                    .on_hover_text("Publish this device's readings to a broker")
                    .clicked()
                {
                    self.show_bridge = !shown;
                }
            });
            if self.show_bridge || bridge.running() {
                let info =
                    (device.state == DeviceState::Connected).then(|| device.live.as_ref().map(|l| &l.info)).flatten();
                bridge.ui(ui, &self.runtime, info);
            }
            broker_status_ui(ui, device);
        }
        match (&device.state, device.live.as_ref(), device.plots.as_mut()) {
            (_, Some(live), Some(plots)) => {
                state_banner_ui(ui, &device.state);
                toolbar_ui(ui, live, plots);
                if let Some(t) = plot::plots_ui(ui, live, plots, &mut device.layout) {
                    plot::readout_ui(ui, live, plots, t);
                }
            }
            (DeviceState::Failed(reason), _, _) => {
                ui.colored_label(theme::ERROR, format!("{}: {reason}", device.source));
            }
            (state, _, _) => {
                ui.colored_label(theme::PENDING, format!("{}: {}…", device.source, state.label()));
            }
        }
    }

    fn console_ui(&mut self, ui: &mut egui::Ui) {
        let Some(device) = self.devices.iter_mut().find(|d| Some(d.id) == self.selected) else { return };
        let can_send = device.text && device.state == DeviceState::Connected;
        if let Some(notice) = &device.notice {
            ui.colored_label(theme::ERROR, notice);
        }
        match console::console_ui(ui, &mut self.console, &device.console, can_send) {
            Some(console::ConsoleAction::Send(Ok(bytes))) => {
                device.notice = None;
                device.send(bytes);
            }
            Some(console::ConsoleAction::Send(Err(error))) => device.notice = Some(error.0),
            Some(console::ConsoleAction::Inspect(label, bytes)) => {
                self.inspector.show_bytes(&bytes);
                self.inspector.capture(format!("{} · {label}", device.source), bytes);
                self.view = View::Inspect;
            }
            None => {}
        }
    }
}

/// Exports what the plots show (the time range of the panes, every visible channel) on the I/O runtime.
fn export_view(
    runtime: &tokio::runtime::Handle,
    device: &DeviceEntry,
    parquet: bool,
    events: mpsc::Sender<(u64, DeviceEvent)>,
) {
    let (Some(live), Some(plots)) = (device.live.as_ref(), device.plots.as_ref()) else { return };
    let newest = live.newest_s().unwrap_or(0.0);
    let end = plots.paused_at_s.unwrap_or(newest);
    let (t0, t1) = plots.view_range.unwrap_or((end - plots.window_s, end));
    let channels: Vec<RecordedChannel> = live
        .channels
        .iter()
        .enumerate()
        .filter(|(i, _)| plots.visible.get(*i).copied().unwrap_or(true))
        .map(|(_, c)| RecordedChannel {
            name: c.name.clone(),
            unit: c.unit.clone(),
            points: c.series.raw_range(t0, t1 + 1e-9).collect(),
        })
        .collect();
    let mut path = device.recording_path();
    path.set_extension(if parquet { "parquet" } else { "csv" });
    let id = device.id;
    runtime.spawn(async move {
        let written = path.clone();
        let result = tokio::task::spawn_blocking(move || crate::io::recorder::export(&written, &channels)).await;
        let status = match result {
            Ok(Ok(summary)) => RecordingStatus::Stopped { path, samples: summary.samples },
            Ok(Err(error)) => RecordingStatus::Failed(error.to_string()),
            Err(_) => RecordingStatus::Failed("the export stopped unexpectedly".into()),
        };
        let _ = events.send((id, DeviceEvent::Recording(status))).await;
    });
}

fn recording_ui(ui: &mut egui::Ui, device: &mut DeviceEntry) {
    ui.horizontal(|ui| {
        let label = if device.recording.is_some() { "Stop recording" } else { "Record" };
        if ui.button(label).on_hover_text("Every channel to a CSV file in the current folder").clicked() {
            let path = device.recording_path();
            device.toggle_recording(path);
        }
        if let Some(path) = &device.recording {
            ui.colored_label(theme::ERROR, format!("REC {}", path.display()));
        }
    });
}

fn state_banner_ui(ui: &mut egui::Ui, state: &DeviceState) {
    match state {
        DeviceState::Connected => {}
        DeviceState::Lost(reason) => {
            ui.colored_label(theme::PENDING, format!("{reason}. Waiting for it to come back…"));
        }
        DeviceState::Closed => {
            ui.colored_label(theme::MUTED, "Disconnected; the data received is kept.");
        }
        DeviceState::File => {
            ui.colored_label(theme::MUTED, "A recording: drag to pan, scroll to zoom, double-click to see it all.");
        }
        other => {
            ui.colored_label(theme::PENDING, other.label());
        }
    }
}

fn toolbar_ui(ui: &mut egui::Ui, device: &LiveDevice, plots: &mut PlotState) {
    ui.horizontal(|ui| {
        let paused = plots.paused_at_s.is_some();
        let label = if paused { "Resume" } else { "Pause" };
        if ui.button(label).on_hover_text("Space").clicked() {
            plots.toggle_pause(device.newest_s().unwrap_or(0.0));
        }
        ui.checkbox(&mut plots.follow, "Follow");
        egui::ComboBox::from_label("Window").selected_text(format!("last {}", window_name(plots.window_s))).show_ui(
            ui,
            |ui| {
                for window in WINDOWS_S {
                    ui.selectable_value(&mut plots.window_s, window, window_name(window));
                }
            },
        );
        if paused {
            ui.colored_label(theme::PENDING, "paused");
        }
        ui.separator();
        for (i, channel) in device.channels.iter().enumerate() {
            let mut shown = plots.visible.get(i).copied().unwrap_or(true);
            let name = RichText::new(channel.name.as_str()).color(plots.color(i));
            let response = ui.checkbox(&mut shown, name).on_hover_text("Right-click: colour, pane");
            if response.changed()
                && let Some(slot) = plots.visible.get_mut(i)
            {
                *slot = shown;
            }
            response.context_menu(|ui| channel_menu_ui(ui, device, plots, i));
        }
        ui.separator();
        xy_picker_ui(ui, device, plots);
    });
}

/// Colour and pane of one channel.
fn channel_menu_ui(ui: &mut egui::Ui, device: &LiveDevice, plots: &mut PlotState, channel: usize) {
    ui.horizontal(|ui| {
        ui.label("Colour");
        if let Some(color) = plots.colors.get_mut(channel) {
            ui.color_edit_button_srgba(color);
        }
    });
    ui.label("Move to pane");
    let titles: Vec<String> = plots.panes.iter().map(|p| p.title.clone()).collect();
    for (p, title) in titles.iter().enumerate() {
        if ui.button(title).clicked() {
            plots.move_to_pane(channel, Some(p), title);
            ui.close();
        }
    }
    if ui.button("A pane of its own").clicked() {
        let title = device.channels.get(channel).map_or_else(String::new, |c| c.name.clone());
        plots.move_to_pane(channel, None, &title);
        ui.close();
    }
}

/// Chooses the two channels of the XY plot.
fn xy_picker_ui(ui: &mut egui::Ui, device: &LiveDevice, plots: &mut PlotState) {
    let name = |i: usize| device.channels.get(i).map_or("?", |c| c.name.as_str());
    let selected = plots.xy.map_or_else(|| "off".to_string(), |(x, y)| format!("{} vs {}", name(y), name(x)));
    egui::ComboBox::from_label("XY").selected_text(selected).show_ui(ui, |ui| {
        ui.selectable_value(&mut plots.xy, None, "off");
        for x in 0..device.channels.len() {
            for y in 0..device.channels.len() {
                if x != y {
                    ui.selectable_value(&mut plots.xy, Some((x, y)), format!("{} vs {}", name(y), name(x)));
                }
            }
        }
    });
}

fn window_name(window_s: f64) -> String {
    if window_s < 60.0 {
        format!("{window_s} s")
    } else if window_s < 3600.0 {
        format!("{} min", window_s / 60.0)
    } else {
        format!("{} h", window_s / 3600.0)
    }
}

impl eframe::App for BenchtopApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        let started = Instant::now();
        let origin = self.started;
        let host_s = move |at: Instant| at.saturating_duration_since(origin).as_secs_f64();
        self.provision.poll();
        while started.elapsed() < DRAIN_BUDGET {
            let Ok((id, event)) = self.events.try_recv() else { break };
            if let DeviceEvent::Telemetry(telemetry) = &event
                && let Some(bridge) = self.bridges.get_mut(&id)
            {
                bridge.forward(telemetry);
            }
            if let Some(device) = self.devices.iter_mut().find(|d| d.id == id)
                && let Some((error, text)) = device.apply(event, host_s)
            {
                self.toasts.push(if error { Level::Error } else { Level::Info }, text);
            }
        }
        if !self.events.is_empty() {
            ctx.request_repaint();
        }
        let now = Instant::now();
        for device in &mut self.devices {
            device.tick(now);
            // Protocol frames for the Inspect tab's capture list; the list bounds what it keeps.
            if let Some(frames) = device.frames.as_mut() {
                for frame in frames.drain(FRAMES_PER_UPDATE) {
                    self.inspector.capture_frame(&device.source, &frame, host_s(frame.at), device.schema.clone());
                }
            }
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let typing = ui.ctx().egui_wants_keyboard_input();
        if !typing
            && ui.input(|i| i.key_pressed(egui::Key::Space))
            && let Some(device) = self.devices.iter_mut().find(|d| Some(d.id) == self.selected)
            && let (Some(live), Some(plots)) = (device.live.as_ref(), device.plots.as_mut())
        {
            plots.toggle_pause(live.newest_s().unwrap_or(0.0));
        }
        if !typing && let Some(device) = self.devices.iter_mut().find(|d| Some(d.id) == self.selected) {
            if ui.input(|i| i.key_pressed(egui::Key::R)) && device.live.is_some() && device.active() {
                let path = device.recording_path();
                device.toggle_recording(path);
            }
            if ui.input(|i| i.key_pressed(egui::Key::F))
                && let Some(plots) = device.plots.as_mut()
            {
                plots.follow = !plots.follow;
                plots.paused_at_s = None;
            }
        }
        egui::Panel::top("title").show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.heading("Benchtop");
                let views = [
                    (View::Live, "Live"),
                    (View::Power, "Power"),
                    (View::Budget, "Budget"),
                    (View::Inspect, "Inspect"),
                    (View::Provision, "Provision"),
                ];
                for (view, label) in views {
                    ui.selectable_value(&mut self.view, view, label);
                }
                let hint = match self.view {
                    View::Live => "Space pauses · F follows · R records",
                    View::Power => "click sets marker A · right click marker B",
                    View::Budget => "battery life from a profile",
                    View::Inspect => "hover a byte or a field to see the other",
                    View::Provision => "secrets show only as check values unless revealed",
                };
                ui.label(RichText::new(hint).color(theme::MUTED));
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    let label = if self.settings.light_theme { "Dark theme" } else { "Light theme" };
                    if ui.button(label).clicked() {
                        self.settings.light_theme = !self.settings.light_theme;
                        let theme = if self.settings.light_theme { egui::Theme::Light } else { egui::Theme::Dark };
                        ui.ctx().set_theme(theme);
                    }
                });
            });
        });
        let ports = self.ports.borrow().clone();
        let mut actions = Vec::new();
        let mut ble_action = None;
        let mut coap_open = None;
        egui::Panel::left("connections").resizable(true).default_size(300.0).show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| {
                actions = connections::connections_ui(
                    ui,
                    &mut self.settings.form,
                    &ports,
                    &self.devices,
                    self.selected,
                    &self.settings.recent_sources,
                );
                ui.separator();
                ble_action = self.ble_scan.ui(ui, &self.runtime);
                ui.separator();
                coap_open = self.coap_panel.ui(ui, &self.runtime);
            });
        });
        egui::Panel::bottom("console").resizable(true).default_size(160.0).show(ui, |ui| self.console_ui(ui));
        let dropped: Vec<std::path::PathBuf> = ui.input(|i| {
            i.raw.dropped_files.iter().map(|f| f.path().to_path_buf()).filter(|p| !p.as_os_str().is_empty()).collect()
        });
        for path in dropped {
            self.connect(&format!("file:{}", path.display()));
        }
        egui::CentralPanel::default().show(ui, |ui| match self.view {
            View::Live => self.central_ui(ui),
            View::Power => self.power_ui(ui),
            View::Budget => self.settings.budget.ui(ui),
            View::Inspect => self.inspector.ui(ui),
            View::Provision => {
                if let Some(device) = self.selected_device() {
                    let source = device.source.clone();
                    self.provision.set_source(&source);
                }
                self.provision.ui(ui);
            }
        });
        self.toasts.ui(ui.ctx());
        self.apply(actions);
        match ble_action {
            Some(ScanAction::Open(source)) => self.connect(&source),
            Some(ScanAction::Explore { device_id, title }) => {
                self.ble_explorer.open(&self.runtime, &device_id, &title, ui.ctx());
            }
            None => {}
        }
        if let Some(source) = coap_open {
            self.connect(&source);
        }
        self.ble_explorer.ui(ui.ctx(), &self.ble_scan);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        for device in &self.devices {
            if let Some(tree) = device.layout.saved()
                && self.settings.recent_sources.contains(&device.source)
            {
                self.settings.layouts.insert(device.source.clone(), tree.clone());
            }
        }
        eframe::set_value(storage, eframe::APP_KEY, &self.settings);
    }
}

impl Drop for BenchtopApp {
    fn drop(&mut self) {
        for device in &self.devices {
            device.disconnect();
        }
    }
}

/// Publishes the port list whenever it changes, until the window is gone.
async fn watch_ports(tx: watch::Sender<Vec<PortInfo>>, ctx: egui::Context) {
    while !tx.is_closed() {
        if let Ok(ports) = tokio::task::spawn_blocking(list_ports).await
            && *tx.borrow() != ports
        {
            let _ = tx.send(ports);
            ctx.request_repaint();
        }
        tokio::time::sleep(PORT_REFRESH).await;
    }
}

/// For an MQTT source: the devices seen on status topics, green when online, red when offline.
fn broker_status_ui(ui: &mut egui::Ui, device: &DeviceEntry) {
    let Some(table) = &device.broker_statuses else { return };
    let statuses = table.lock().map(|t| t.clone()).unwrap_or_default();
    if statuses.is_empty() {
        return;
    }
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new("Devices on the broker").color(theme::MUTED));
        for (id, status) in &statuses {
            let (word, color) = if status.online { ("online", theme::OK) } else { ("offline", theme::ERROR) };
            let ago = status.at.elapsed().as_secs();
            ui.label(RichText::new(format!("{id} {word}")).color(color)).on_hover_text(format!("reported {ago} s ago"));
        }
    });
}
