//! The connections panel: serial ports with their USB identity, a field for any port path or TCP address,
//! the simulated board, and every open device with its state and rates. It returns what the user asked for
//! as [`Action`]s; the app carries them out.

use eframe::egui::{self, RichText};

use super::devices::{DeviceEntry, DeviceState};
use super::theme;
use crate::io::ports::PortInfo;
use crate::io::ppk2::{PPK2_PID, PPK2_VID};

/// Whether a port is a Nordic PPK2's.
pub fn is_ppk2(port: &PortInfo) -> bool {
    port.vid == Some(PPK2_VID) && port.pid == Some(PPK2_PID)
}

/// Baud rates offered.
pub const BAUD_RATES: [u32; 9] = [9600, 19_200, 38_400, 57_600, 115_200, 230_400, 460_800, 921_600, 1_000_000];
/// Board formats offered, as the `format=` option names them (`None` = detect).
pub const FORMATS: [(Option<&str>, &str); 5] = [
    (None, "detect"),
    (Some("protocol"), "Benchtop protocol"),
    (Some("plotter"), "serial plotter"),
    (Some("csv"), "CSV"),
    (Some("raw"), "raw text"),
];

/// What the user asked for in the panel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Open a source.
    Connect(String),
    /// Show this device.
    Select(u64),
    /// Disconnect this device.
    Disconnect(u64),
    /// Forget a closed or failed device.
    Remove(u64),
}

/// The panel's own inputs, kept between frames (and in settings).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ConnectForm {
    /// A port path or `tcp:HOST:PORT`.
    pub target: String,
    /// Baud rate for serial ports.
    pub baud: u32,
    /// Index into [`FORMATS`].
    pub format: usize,
    /// Hold DTR and RTS low on open, so boards that reset on them keep running.
    pub no_reset: bool,
}

impl Default for ConnectForm {
    fn default() -> Self {
        Self { target: String::new(), baud: 115_200, format: 0, no_reset: false }
    }
}

impl ConnectForm {
    /// The source string for a serial port path with the chosen baud rate and format.
    pub fn serial_source(&self, path: &str) -> String {
        let mut options = Vec::new();
        if self.baud != 115_200 {
            options.push(format!("baud={}", self.baud));
        }
        if let Some((Some(format), _)) = FORMATS.get(self.format) {
            options.push(format!("format={format}"));
        }
        if self.no_reset {
            options.push("dtr=off&rts=off".to_string());
        }
        if options.is_empty() { format!("serial:{path}") } else { format!("serial:{path}?{}", options.join("&")) }
    }

    /// The source string for what was typed: a full source string as is, else a serial port path.
    pub fn typed_source(&self) -> Option<String> {
        let target = self.target.trim();
        if target.is_empty() {
            return None;
        }
        let is_source = ["serial:", "tcp:", "sim", "ble:", "ppk2:", "mqtt://", "coap://", "file:"]
            .iter()
            .any(|prefix| target.starts_with(prefix));
        Some(if is_source { target.to_string() } else { self.serial_source(target) })
    }
}

/// Draws the panel.
pub fn connections_ui(
    ui: &mut egui::Ui,
    form: &mut ConnectForm,
    ports: &[PortInfo],
    devices: &[DeviceEntry],
    selected: Option<u64>,
    recent: &[String],
) -> Vec<Action> {
    let mut actions = Vec::new();
    ui.label(RichText::new("Devices").strong());
    if devices.is_empty() {
        ui.label(RichText::new("None open").color(theme::MUTED));
    }
    for device in devices {
        device_row_ui(ui, device, selected == Some(device.id), &mut actions);
    }
    ui.separator();

    ui.label(RichText::new("Serial ports").strong());
    egui::ComboBox::from_label("Baud").selected_text(form.baud.to_string()).show_ui(ui, |ui| {
        for baud in BAUD_RATES {
            ui.selectable_value(&mut form.baud, baud, baud.to_string());
        }
    });
    egui::ComboBox::from_label("Format").selected_text(FORMATS[form.format.min(FORMATS.len() - 1)].1).show_ui(
        ui,
        |ui| {
            for (i, (_, name)) in FORMATS.iter().enumerate() {
                ui.selectable_value(&mut form.format, i, *name);
            }
        },
    );
    ui.checkbox(&mut form.no_reset, "Open without resetting the board")
        .on_hover_text("Holds DTR and RTS low, which many boards use as their reset line");
    if ports.is_empty() {
        ui.label(RichText::new("No serial ports found; plug a board in or type a path").color(theme::MUTED));
    }
    for port in ports {
        ui.horizontal(|ui| {
            if is_ppk2(port) {
                // A PPK2 is a current meter, not a board: it opens in the Power view.
                if ui.button("Measure").on_hover_text("Nordic PPK2: record and show its current").clicked() {
                    actions.push(Action::Connect(format!("ppk2:{}", port.path)));
                }
                ui.label(format!("PPK2 · {}", port.describe()));
                return;
            }
            if ui.button("Connect").on_hover_text(port.describe()).clicked() {
                actions.push(Action::Connect(form.serial_source(&port.path)));
            }
            ui.label(port.describe());
        });
    }
    ui.horizontal(|ui| {
        let field =
            egui::TextEdit::singleline(&mut form.target).hint_text("/dev/pts/3, tcp:192.168.1.20:7000, file:run.csv");
        let response = ui.add(field.desired_width(170.0)).labelled_by(ui.label("Port or address").id);
        let submitted = response.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if (ui.button("Open").clicked() || submitted)
            && let Some(source) = form.typed_source()
        {
            actions.push(Action::Connect(source));
        }
    });
    if !recent.is_empty() {
        ui.separator();
        ui.label(RichText::new("Recent").strong());
        for source in recent.iter().take(5) {
            ui.horizontal(|ui| {
                if ui.small_button("Open").on_hover_text(source).clicked() {
                    actions.push(Action::Connect(source.clone()));
                }
                ui.label(RichText::new(source).small());
            });
        }
    }
    ui.separator();
    if ui.button("Add a simulated board").clicked() {
        let seed = devices.iter().filter(|d| d.source.starts_with("sim")).count();
        actions.push(Action::Connect(if seed == 0 { "sim".into() } else { format!("sim:seed={seed}") }));
    }
    actions
}

fn device_row_ui(ui: &mut egui::Ui, device: &DeviceEntry, selected: bool, actions: &mut Vec<Action>) {
    let color = match device.state {
        DeviceState::Connected => theme::OK,
        DeviceState::Connecting(_) | DeviceState::Lost(_) => theme::PENDING,
        DeviceState::Failed(_) => theme::ERROR,
        DeviceState::Closed | DeviceState::File => theme::MUTED,
    };
    ui.horizontal(|ui| {
        if ui.selectable_label(selected, &device.source).clicked() {
            actions.push(Action::Select(device.id));
        }
        if device.active() {
            if ui.small_button("Disconnect").clicked() {
                actions.push(Action::Disconnect(device.id));
            }
        } else if ui.small_button("Remove").clicked() {
            actions.push(Action::Remove(device.id));
        }
    });
    ui.colored_label(color, device.state.label());
    if let DeviceState::Failed(reason) | DeviceState::Lost(reason) = &device.state {
        ui.label(RichText::new(reason).color(theme::MUTED).small());
    }
    if let (DeviceState::Connected, Some(stats)) = (&device.state, &device.stats) {
        let s = stats.snapshot();
        let dropped = device.live.as_ref().map_or(0, |live| live.dropped_samples());
        ui.label(
            RichText::new(format!(
                "{:.1} kB/s · {:.0} frames/s · {} decode errors · {} dropped",
                device.rates.bytes_per_s / 1000.0,
                device.rates.frames_per_s,
                s.decode_errors(),
                dropped + s.dropped_messages
            ))
            .small(),
        );
    }
    ui.add_space(4.0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_build_source_strings() {
        let mut form = ConnectForm::default();
        assert_eq!(form.serial_source("/dev/ttyACM0"), "serial:/dev/ttyACM0");
        form.baud = 9600;
        form.format = 2;
        assert_eq!(form.serial_source("/dev/ttyUSB0"), "serial:/dev/ttyUSB0?baud=9600&format=plotter");
        form.target = " tcp:10.0.0.5:7000 ".into();
        assert_eq!(form.typed_source().as_deref(), Some("tcp:10.0.0.5:7000"));
        form.target = "/dev/pts/4".into();
        assert_eq!(form.typed_source().as_deref(), Some("serial:/dev/pts/4?baud=9600&format=plotter"));
        form.target.clear();
        assert_eq!(form.typed_source(), None);
        form.no_reset = true;
        form.format = 0;
        assert_eq!(form.serial_source("/dev/ttyACM0"), "serial:/dev/ttyACM0?baud=9600&dtr=off&rts=off");
        assert!(crate::model::source::Source::parse(&form.serial_source("/dev/ttyACM0")).is_ok());
    }
}
