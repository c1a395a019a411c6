//! The GATT explorer window: a scanned Bluetooth LE device connected and laid open. Its services,
//! characteristics and descriptors with their Bluetooth SIG names, UUIDs and properties; per characteristic
//! read (hex and the decoded standard value), write (hex or text, with or without response as the
//! characteristic allows), subscribe with a count of notifications and of those dropped, and a small plot of
//! the numbers a subscribed characteristic notifies; the device's signal over the scan as a sparkline.
//!
//! The connection is a task on the I/O runtime ([`crate::ble::explorer`]); this window sends it commands and
//! drains its events each frame, so it never waits on Bluetooth. One device is explored at a time; closing
//! the window or exploring another device disconnects. What the stack refuses shows as its sentence. Not a
//! source: nothing here is recorded; `Open` in the scan list is for that.

mod state;

use eframe::egui::{self, RichText, TextEdit};
use egui_plot::{Legend, Line, Plot, PlotPoints};
use uuid::Uuid;

pub use self::state::{CharacteristicView, Connection, ExplorerState, PLOT_POINTS, spaced_hex};
use super::ble_scan::BleScan;
use super::theme;
use crate::ble::explore::GattTree;
use crate::ble::explorer::{ExploreCommand, ExplorerLink, spawn_explorer};
use crate::ble::scan::ScannedDevice;
use crate::inspect::input::parse_hex_text;

/// Most events taken from the connection per frame (the rest wait for the next frame).
const EVENTS_PER_FRAME: usize = 1024;

/// One device being explored.
struct Session {
    device_id: String,
    title: String,
    runtime: tokio::runtime::Handle,
    link: Option<ExplorerLink>,
    state: ExplorerState,
}

/// The explorer: at most one device at a time.
#[derive(Default)]
pub struct BleExplorer {
    session: Option<Session>,
}

impl BleExplorer {
    /// Connects to the scanned device `device_id` (shown as `title`) on `runtime` and opens the window; a
    /// device explored before is disconnected.
    pub fn open(&mut self, runtime: &tokio::runtime::Handle, device_id: &str, title: &str, ctx: &egui::Context) {
        let mut session = Session {
            device_id: device_id.to_string(),
            title: title.to_string(),
            runtime: runtime.clone(),
            link: None,
            state: ExplorerState::default(),
        };
        session.connect(ctx);
        self.session = Some(session);
    }

    /// Disconnects and closes the window.
    pub fn close(&mut self) {
        self.session = None;
    }

    /// The platform id of the device explored, if any.
    pub fn device_id(&self) -> Option<&str> {
        self.session.as_ref().map(|s| s.device_id.as_str())
    }

    /// Where the connection stands, if a device is explored.
    pub fn connection(&self) -> Option<&Connection> {
        self.session.as_ref().map(|s| &s.state.connection)
    }

    /// The explored tree, once connected.
    pub fn tree(&self) -> Option<&GattTree> {
        self.session.as_ref()?.state.tree.as_ref()
    }

    /// A characteristic of the explored device.
    pub fn characteristic(&self, uuid: Uuid) -> Option<&CharacteristicView> {
        self.session.as_ref()?.state.characteristics.get(&uuid)
    }

    /// The last error sentence (connection, read, write, subscription), if any.
    pub fn last_error(&self) -> Option<&str> {
        self.session.as_ref()?.state.last_error.as_deref()
    }

    /// Takes the connection's events and shows the window; `scan` gives the signal history.
    pub fn ui(&mut self, ctx: &egui::Context, scan: &BleScan) {
        let Some(session) = self.session.as_mut() else { return };
        session.drain(ctx);
        let seen = scan.device(&session.device_id);
        let mut open = true;
        egui::Window::new(format!("Explore {}", session.title))
            .id(egui::Id::unique("ble explorer"))
            .open(&mut open)
            .default_pos([330.0, 60.0])
            .default_width(560.0)
            .default_height(760.0)
            .vscroll(true)
            .show(ctx, |ui| session.ui(ui, seen.as_ref()));
        if !open {
            self.close();
        }
    }
}

impl Session {
    fn connect(&mut self, ctx: &egui::Context) {
        let wake_ctx = ctx.clone();
        let wake = std::sync::Arc::new(move || wake_ctx.request_repaint());
        self.link = Some(spawn_explorer(&self.runtime, self.device_id.clone(), wake));
        // Explored afresh, on the same characteristic if it is still there.
        let selected = self.state.selected;
        self.state = ExplorerState { selected, ..ExplorerState::default() };
    }

    fn send(&mut self, command: ExploreCommand) -> bool {
        let sent = self.link.as_ref().is_some_and(|link| link.commands.try_send(command).is_ok());
        if !sent {
            self.state.busy();
        }
        sent
    }

    fn drain(&mut self, ctx: &egui::Context) {
        for _ in 0..EVENTS_PER_FRAME {
            let Some(link) = self.link.as_mut() else { return };
            match link.events.try_recv() {
                Ok(event) => self.state.apply(event),
                Err(tokio::sync::mpsc::error::TryRecvError::Empty) => return,
                Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => {
                    self.link = None;
                    if !matches!(self.state.connection, Connection::Disconnected(_)) {
                        self.state.end(None);
                    }
                    return;
                }
            }
        }
        ctx.request_repaint();
    }

    fn ui(&mut self, ui: &mut egui::Ui, seen: Option<&ScannedDevice>) {
        self.connection_ui(ui);
        rssi_ui(ui, seen);
        if let Some(notice) = &self.state.notice {
            ui.colored_label(theme::ERROR, notice);
        }
        let Some(tree) = self.state.tree.clone() else { return };
        ui.separator();
        let connected = self.state.connection == Connection::Connected;
        for service in &tree.services {
            let title = if service.primary { service.label.clone() } else { format!("{} (secondary)", service.label) };
            egui::CollapsingHeader::new(title).id_salt(&service.uuid).default_open(true).show(ui, |ui| {
                for node in &service.characteristics {
                    let Ok(uuid) = node.uuid.parse::<Uuid>() else { continue };
                    self.tree_row_ui(ui, uuid);
                }
            });
        }
        ui.separator();
        let Some(selected) = self.state.selected else {
            ui.label(RichText::new("Pick a characteristic to read, write or subscribe").color(theme::MUTED));
            self.plots_ui(ui);
            return;
        };
        let commands = ui.add_enabled_ui(connected, |ui| self.detail_ui(ui, selected)).inner;
        for command in commands {
            if self.send(command)
                && let Some(c) = self.state.characteristics.get_mut(&selected)
            {
                c.pending = true;
            }
        }
        self.plots_ui(ui);
    }

    fn connection_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let (text, color) = match &self.state.connection {
                Connection::Connecting => ("Connecting", theme::PENDING),
                Connection::Connected => ("Connected", theme::OK),
                Connection::Disconnecting => ("Disconnecting", theme::PENDING),
                Connection::Disconnected(None) => ("Disconnected", theme::MUTED),
                Connection::Disconnected(Some(_)) => ("Not connected", theme::ERROR),
            };
            ui.label(RichText::new(text).color(color).strong());
            if let Some(tree) = &self.state.tree {
                ui.label(
                    RichText::new(format!("{} · ATT MTU {} bytes", tree.address, tree.att_mtu)).color(theme::MUTED),
                );
            }
            match self.state.connection {
                Connection::Connecting | Connection::Disconnecting => {
                    ui.spinner();
                }
                Connection::Connected => {
                    if ui.button("Disconnect").clicked() && self.send(ExploreCommand::Disconnect) {
                        self.state.connection = Connection::Disconnecting;
                    }
                }
                Connection::Disconnected(_) => {
                    if ui.button("Connect").on_hover_text("Connect again and explore afresh").clicked() {
                        self.connect(ui.ctx());
                    }
                }
            }
        });
    }

    /// One characteristic in the tree: its label to select it, properties, a summary of its value, and its
    /// descriptors.
    fn tree_row_ui(&mut self, ui: &mut egui::Ui, uuid: Uuid) {
        let Some(c) = self.state.characteristics.get(&uuid) else { return };
        ui.horizontal(|ui| {
            if ui
                .selectable_label(self.state.selected == Some(uuid), &c.label)
                .on_hover_text(uuid.to_string())
                .clicked()
            {
                self.state.selected = Some(uuid);
            }
            ui.label(RichText::new(c.properties.join(", ")).color(theme::MUTED));
            if let Some(summary) = c.decoded().or_else(|| c.value().map(spaced_hex)) {
                ui.label(RichText::new(format!("= {summary}")).color(theme::MUTED));
            }
            if c.subscribed {
                ui.label(RichText::new(format!("· {} notified", c.notifications)).color(theme::OK));
            }
        });
        for descriptor in &c.descriptors {
            ui.horizontal(|ui| {
                ui.add_space(24.0);
                ui.label(RichText::new(format!("descriptor {descriptor}")).color(theme::MUTED).small());
            });
        }
    }

    /// The selected characteristic's value and operations; returns the commands asked for.
    fn detail_ui(&mut self, ui: &mut egui::Ui, uuid: Uuid) -> Vec<ExploreCommand> {
        let mut commands = Vec::new();
        let Some(c) = self.state.characteristics.get_mut(&uuid) else { return commands };
        ui.strong(format!("Characteristic {}", c.label));
        ui.label(RichText::new(format!("{uuid} · {}", c.properties.join(", "))).color(theme::MUTED).monospace());
        ui.horizontal(|ui| {
            ui.label("Value");
            match c.value() {
                Some(value) => {
                    ui.label(RichText::new(spaced_hex(value)).monospace()).on_hover_text("hex, as sent");
                    if let Some(decoded) = c.decoded() {
                        ui.label(RichText::new(decoded).strong());
                    }
                }
                None => {
                    ui.label(RichText::new("not read yet").color(theme::MUTED));
                }
            }
            if c.has("read") && ui.add_enabled(!c.pending, egui::Button::new("Read")).clicked() {
                commands.push(ExploreCommand::Read(uuid));
            }
            if c.pending {
                ui.spinner();
            }
        });
        let with = c.has("write");
        let without = c.has("write-without-response");
        if with || without {
            ui.horizontal(|ui| {
                let label = ui.label("Bytes");
                let hint = if c.write_as_text { "text, sent as UTF-8" } else { "hex, like 01 ff" };
                ui.add(TextEdit::singleline(&mut c.write_text).hint_text(hint).desired_width(180.0))
                    .labelled_by(label.id);
                ui.selectable_value(&mut c.write_as_text, false, "hex");
                ui.selectable_value(&mut c.write_as_text, true, "text");
                if with && without {
                    ui.checkbox(&mut c.with_response, "with response");
                }
                if ui.add_enabled(!c.pending, egui::Button::new("Write")).clicked() {
                    let value = if c.write_as_text {
                        Ok(c.write_text.clone().into_bytes())
                    } else {
                        parse_hex_text(&c.write_text)
                    };
                    match value {
                        Ok(value) => commands.push(ExploreCommand::Write {
                            characteristic: uuid,
                            value,
                            with_response: with && (c.with_response || !without),
                        }),
                        Err(error) => c.outcome = Some(Err(error)),
                    }
                }
            });
        }
        if c.has("notify") || c.has("indicate") {
            ui.horizontal(|ui| {
                let (label, command) = if c.subscribed {
                    ("Unsubscribe", ExploreCommand::Unsubscribe(uuid))
                } else {
                    ("Subscribe", ExploreCommand::Subscribe(uuid))
                };
                if ui.add_enabled(!c.pending, egui::Button::new(label)).clicked() {
                    commands.push(command);
                }
                if c.subscribed || c.notifications > 0 {
                    ui.label(format!("{} notifications · {} dropped", c.notifications, c.dropped));
                }
                let numeric = !c.series.is_empty();
                ui.add_enabled(numeric, egui::Checkbox::new(&mut c.plot, "Plot"))
                    .on_disabled_hover_text("Subscribe; a notification with a number in it can be plotted");
            });
        }
        match &c.outcome {
            Some(Ok(note)) => {
                ui.label(RichText::new(note).color(theme::MUTED));
            }
            Some(Err(error)) => {
                ui.colored_label(theme::ERROR, error);
            }
            None => {}
        }
        commands
    }

    /// A small plot per plotted characteristic, one line per channel.
    fn plots_ui(&self, ui: &mut egui::Ui) {
        for c in self.state.characteristics.values().filter(|c| c.plot) {
            ui.label(RichText::new(&c.label).color(theme::MUTED));
            Plot::new(("ble explorer plot", c.uuid))
                .height(140.0)
                .legend(Legend::default())
                .x_axis_label("s since connecting")
                .show(ui, |plot_ui| {
                    for (i, (name, points)) in c.series.iter().enumerate() {
                        let points: Vec<[f64; 2]> = points.iter().copied().collect();
                        let color = theme::SERIES[i % theme::SERIES.len()];
                        plot_ui.line(Line::new(name.as_str(), PlotPoints::new(points)).color(color).width(1.5));
                    }
                });
        }
    }
}

/// The device's RSSI over the scan as a sparkline, with the latest reading.
fn rssi_ui(ui: &mut egui::Ui, seen: Option<&ScannedDevice>) {
    let Some(device) = seen.filter(|d| d.rssi_history.len() > 1) else {
        ui.label(RichText::new("RSSI: scan to see the signal over time").color(theme::MUTED));
        return;
    };
    ui.horizontal(|ui| {
        ui.label("RSSI");
        let (rect, response) = ui.allocate_exact_size(egui::vec2(180.0, 24.0), egui::Sense::hover());
        let (first_s, last_s) = (device.rssi_history[0].0, device.rssi_history[device.rssi_history.len() - 1].0);
        let min = device.rssi_history.iter().map(|&(_, dbm)| dbm).min().unwrap_or(0);
        let max = device.rssi_history.iter().map(|&(_, dbm)| dbm).max().unwrap_or(0);
        let span_s = (last_s - first_s).max(f64::EPSILON);
        let span_dbm = f32::from((max - min).max(1));
        let points: Vec<egui::Pos2> = device
            .rssi_history
            .iter()
            .map(|&(at_s, dbm)| {
                let x = rect.left() + rect.width() * ((at_s - first_s) / span_s) as f32;
                // A steady signal is a line through the middle, not along the floor.
                let share = if max == min { 0.5 } else { f32::from(dbm - min) / span_dbm };
                let y = rect.bottom() - rect.height() * share;
                egui::pos2(x, y)
            })
            .collect();
        ui.painter().add(egui::Shape::line(points, egui::Stroke::new(1.5, theme::SERIES[0])));
        response.on_hover_text(format!(
            "{} readings over {:.0} s of scanning, {min}..{max} dBm",
            device.rssi_history.len(),
            last_s - first_s
        ));
        if let Some(dbm) = device.rssi_last_dbm() {
            ui.label(RichText::new(format!("{dbm} dBm")).color(theme::MUTED));
        }
    });
}
