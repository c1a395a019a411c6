//! The Inspect tab: paste a payload (hex or base64), pick a format or a layout file, and read every field
//! with its bytes. Hovering a byte highlights its field, hovering a field highlights its bytes; the cost of the
//! payload on a LoRaWAN link is shown under it. Captured payloads (the protocol frames of connected devices,
//! the console's hex lines, pastes) stay in a bounded list to come back to ([`captures`]); a device's frame
//! decodes with that device's schema report.
//!
//! Decoding is synchronous: payloads are at most a few kilobytes, and every decoder is linear.

mod captures;

use std::path::PathBuf;
use std::sync::Arc;

use eframe::egui::{self, Color32, RichText};
use postcard_rpc::host_client::SchemaReport;

pub use self::captures::{CAPTURES_PER_KIND, Capture, CaptureFilter, CaptureKind, Captures};
use super::theme;
use crate::inspect::cost::Cost;
use crate::inspect::input::{parse_base64, parse_hex};
use crate::inspect::mqtt::{self, MqttVersion};
use crate::inspect::{Decoded, FORMAT_NAMES, Field, frame};
use crate::io::capture::CapturedFrame;
/// Bytes per row of the hex pane.
const ROW_BYTES: usize = 16;

/// What decodes the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoder {
    /// One of [`FORMAT_NAMES`].
    Format(String),
    /// A layout file (TOML).
    Layout(PathBuf),
}

/// The Inspect tab's state.
pub struct InspectorView {
    /// The pasted text.
    pub input: String,
    /// How the payload is decoded.
    pub decoder: Decoder,
    /// The layout path typed in.
    pub layout_input: String,
    /// Values to encode with the layout: `name=value,…`.
    pub encode_input: String,
    /// How MQTT packets are read: `None` guesses (3.1.1 unless the packet shows MQTT 5).
    mqtt_version: Option<MqttVersion>,
    encode_error: Option<String>,
    bytes: Vec<u8>,
    decoded: Option<Result<Decoded, String>>,
    /// Byte range to highlight (from the hovered field or byte), this frame.
    highlight: Option<std::ops::Range<usize>>,
    captures: Captures,
    /// The schema report of the device whose frame is shown, for the `frame` format.
    schema: Option<Arc<SchemaReport>>,
    last_decoded: Option<(String, Decoder)>,
}

impl Default for InspectorView {
    fn default() -> Self {
        Self {
            input: String::new(),
            decoder: Decoder::Format("lpp".into()),
            layout_input: String::new(),
            encode_input: String::new(),
            mqtt_version: None,
            encode_error: None,
            bytes: Vec::new(),
            decoded: None,
            highlight: None,
            captures: Captures::default(),
            schema: None,
            last_decoded: None,
        }
    }
}

impl InspectorView {
    /// The decoded payload (or why it could not be decoded).
    pub fn decoded(&self) -> Option<&Result<Decoded, String>> {
        self.decoded.as_ref()
    }

    /// The byte range highlighted from the last hover, if any.
    pub fn highlighted(&self) -> Option<std::ops::Range<usize>> {
        self.highlight.clone()
    }

    /// How MQTT packets are read (`None`: guess).
    pub fn mqtt_version(&self) -> Option<MqttVersion> {
        self.mqtt_version
    }

    /// Chooses how MQTT packets are read (`None`: guess) and decodes again.
    pub fn set_mqtt_version(&mut self, version: Option<MqttVersion>) {
        self.mqtt_version = version;
        self.last_decoded = None;
    }

    /// Keeps a pasted payload or a console line in the capture list (newest first).
    pub fn capture(&mut self, label: impl Into<String>, bytes: Vec<u8>) {
        self.captures.push(Capture { label: label.into(), bytes, kind: CaptureKind::Pasted, schema: None });
    }

    /// Keeps a protocol frame that device `source` sent or received, `at_s` seconds into the session, with
    /// the device's schema report for decoding it (unless the list is paused).
    pub fn capture_frame(&mut self, source: &str, frame: &CapturedFrame, at_s: f64, schema: Option<Arc<SchemaReport>>) {
        self.captures.push_frame(source, frame, at_s, schema);
    }

    /// The capture list, its filter and pause switch.
    pub fn captures(&mut self) -> &mut Captures {
        &mut self.captures
    }

    /// Shows a capture as the payload; a device's frame is decoded as a frame with the device's schema.
    pub fn open_capture(&mut self, capture: &Capture) {
        self.show_bytes(&capture.bytes);
        self.schema = capture.schema.clone();
        if let Some(format) = capture.format() {
            self.decoder = Decoder::Format(format.into());
        }
        // The schema is not part of what `refresh` compares: decode again.
        self.last_decoded = None;
    }

    /// Shows `bytes` as the payload (hex in the paste box).
    pub fn show_bytes(&mut self, bytes: &[u8]) {
        self.input = bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ");
    }

    /// Decodes the pasted text with the chosen decoder, if either changed.
    pub fn refresh(&mut self) {
        let key = (self.input.clone(), self.decoder.clone());
        if self.last_decoded.as_ref() == Some(&key) {
            return;
        }
        self.last_decoded = Some(key);
        if self.input.trim().is_empty() {
            self.bytes.clear();
            self.decoded = None;
            return;
        }
        self.decoded = Some(match parse_payload(&self.input) {
            Err(error) => {
                self.bytes.clear();
                Err(error.to_string())
            }
            Ok(bytes) => {
                self.bytes = bytes;
                self.decode()
            }
        });
    }

    fn decode(&self) -> Result<Decoded, String> {
        match &self.decoder {
            Decoder::Format(name)
                if name == "mqtt"
                    && let Some(version) = self.mqtt_version =>
            {
                Ok(mqtt::decode_version(&self.bytes, version))
            }
            Decoder::Format(name) if name == "frame" => {
                Ok(frame::decode_with_schema(&self.bytes, self.schema.as_deref()))
            }
            Decoder::Format(name) => crate::inspect::decode_format(name, &self.bytes).map_err(|e| e.to_string()),
            Decoder::Layout(path) => Ok(load_layout(path)?.decode(&self.bytes)),
        }
    }

    /// Encodes `name=value,…` with the chosen layout and shows the bytes as the payload (a downlink or a test
    /// vector); the error says which field and why.
    pub fn encode(&mut self) {
        let Decoder::Layout(path) = &self.decoder else {
            self.encode_error = Some("choose a layout first: encoding needs one".into());
            return;
        };
        match load_layout(path).and_then(|layout| layout.encode(&self.encode_input).map_err(|e| e.to_string())) {
            Ok(bytes) => {
                self.encode_error = None;
                self.show_bytes(&bytes);
            }
            Err(error) => self.encode_error = Some(error),
        }
    }

    /// The whole tab.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        self.input_ui(ui);
        // The capture list sits above the decoded payload, as a packet list above its details.
        if let Some(capture) = self.captures.ui(ui) {
            self.open_capture(&capture);
        }
        self.refresh();
        let highlight = self.highlight.take();
        ui.separator();
        match &self.decoded {
            None => {
                ui.label(
                    RichText::new("Paste a payload as hex (01 67 00 e1) or base64, and pick its format or a layout.")
                        .color(theme::MUTED),
                );
            }
            Some(Err(error)) => {
                ui.colored_label(theme::ERROR, error);
            }
            Some(Ok(decoded)) => {
                let decoded = decoded.clone();
                let mut hovered = None;
                ui.horizontal_top(|ui| {
                    ui.vertical(|ui| {
                        let shown = decoded.bytes(&self.bytes);
                        if shown.len() == self.bytes.len() {
                            ui.strong(format!("{} bytes", shown.len()));
                        } else {
                            ui.strong(format!("{} bytes decoded from {}", shown.len(), self.bytes.len()));
                        }
                        for note in &decoded.notes {
                            ui.label(RichText::new(note).color(theme::MUTED));
                        }
                        if let Some(byte) = hex_ui(ui, shown, highlight.as_ref()) {
                            hovered = decoded.field_at(byte).and_then(|path| path.last().map(|f| f.bytes()));
                        }
                    });
                    ui.separator();
                    ui.vertical(|ui| {
                        egui::ScrollArea::vertical().id_salt("inspect-tree").max_height(420.0).show(ui, |ui| {
                            for warning in &decoded.warnings {
                                ui.colored_label(theme::PENDING, warning);
                            }
                            for field in &decoded.fields {
                                if let Some(range) = field_ui(ui, field, highlight.as_ref()) {
                                    hovered = Some(range);
                                }
                            }
                        });
                    });
                });
                ui.separator();
                cost_ui(ui, &decoded);
                self.highlight = hovered;
            }
        }
    }

    fn input_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let label = ui.label("Payload");
            ui.add(
                egui::TextEdit::multiline(&mut self.input)
                    .hint_text("hex or base64")
                    .desired_rows(2)
                    .desired_width(480.0)
                    .font(egui::TextStyle::Monospace),
            )
            .labelled_by(label.id);
            if ui.button("Keep").on_hover_text("Keep this payload in the capture list").clicked()
                && !self.bytes.is_empty()
            {
                let label = format!("pasted, {} bytes", self.bytes.len());
                self.capture(label, self.bytes.clone());
            }
        });
        ui.horizontal(|ui| {
            ui.label("Decode as");
            for format in FORMAT_NAMES {
                let selected = self.decoder == Decoder::Format(format.into());
                if ui.selectable_label(selected, format).clicked() {
                    self.decoder = Decoder::Format(format.into());
                }
            }
            ui.separator();
            let label = ui.label("Layout");
            ui.add(egui::TextEdit::singleline(&mut self.layout_input).hint_text("sensor.toml").desired_width(200.0))
                .labelled_by(label.id);
            if ui.button("Use layout").clicked() && !self.layout_input.trim().is_empty() {
                self.decoder = Decoder::Layout(PathBuf::from(self.layout_input.trim()));
                // A layout file may have changed on disk: decode again.
                self.last_decoded = None;
            }
        });
        if self.decoder == Decoder::Format("mqtt".into()) {
            ui.horizontal(|ui| {
                ui.label("MQTT version");
                let choices = [(None, "auto"), (Some(MqttVersion::V3_1_1), "3.1.1"), (Some(MqttVersion::V5), "5")];
                for (version, label) in choices {
                    let hint = match version {
                        None => "3.1.1 unless the packet shows it is MQTT 5 (a PUBLISH does not say)",
                        Some(_) => "Read the packet with this version's layout",
                    };
                    if ui.selectable_label(self.mqtt_version == version, label).on_hover_text(hint).clicked() {
                        self.set_mqtt_version(version);
                    }
                }
            });
        }
        if matches!(self.decoder, Decoder::Layout(_)) {
            ui.horizontal(|ui| {
                let label = ui.label("Encode");
                ui.add(
                    egui::TextEdit::singleline(&mut self.encode_input)
                        .hint_text("temperature=21.5,humidity=40")
                        .desired_width(360.0),
                )
                .labelled_by(label.id);
                if ui.button("Make bytes").on_hover_text("Fill the payload from these values").clicked() {
                    self.encode();
                }
                if let Some(error) = &self.encode_error {
                    ui.colored_label(theme::ERROR, error);
                }
            });
        }
    }
}

/// The hex pane; returns the byte under the pointer.
fn hex_ui(ui: &mut egui::Ui, bytes: &[u8], highlight: Option<&std::ops::Range<usize>>) -> Option<usize> {
    let mut hovered = None;
    // Columns as narrow as two hex digits, so that the field tree fits beside the grid.
    egui::Grid::new("inspect-hex").spacing([4.0, 2.0]).min_col_width(0.0).show(ui, |ui| {
        for (row, chunk) in bytes.chunks(ROW_BYTES).enumerate() {
            ui.label(RichText::new(format!("{:04x}", row * ROW_BYTES)).monospace().color(theme::MUTED));
            for (column, byte) in chunk.iter().enumerate() {
                let index = row * ROW_BYTES + column;
                let lit = highlight.is_some_and(|r| r.contains(&index));
                let mut text = RichText::new(format!("{byte:02x}")).monospace();
                if lit {
                    text = text.background_color(theme::SERIES[0]).color(Color32::BLACK);
                }
                if ui.label(text).hovered() {
                    hovered = Some(index);
                }
            }
            ui.end_row();
        }
    });
    hovered
}

/// One field and its children; returns the byte range of the field under the pointer.
fn field_ui(
    ui: &mut egui::Ui,
    field: &Field,
    highlight: Option<&std::ops::Range<usize>>,
) -> Option<std::ops::Range<usize>> {
    let mut hovered = None;
    let value = match &field.value {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let place = match (field.bit_offset, field.bit_length) {
        (Some(bit), Some(bits)) => format!("bit {bit}+{bits}"),
        _ => format!("{}+{}", field.offset, field.length),
    };
    let text = format!("{}  {} {}  [{place}]", field.name, value, field.unit);
    let lit = highlight.is_some_and(|r| *r == field.bytes());
    let mut label = RichText::new(text);
    if lit {
        label = label.background_color(theme::SERIES[0]).color(Color32::BLACK);
    }
    if field.children.is_empty() {
        if ui.label(label).hovered() {
            hovered = Some(field.bytes());
        }
    } else {
        let response =
            egui::CollapsingHeader::new(label).id_salt((field.offset, &field.name)).default_open(true).show(ui, |ui| {
                for child in &field.children {
                    if let Some(range) = field_ui(ui, child, highlight) {
                        hovered = Some(range);
                    }
                }
            });
        if response.header_response.hovered() {
            hovered = Some(field.bytes());
        }
    }
    for warning in &field.warnings {
        ui.colored_label(theme::PENDING, format!("  {warning}"));
    }
    hovered
}

/// Size against JSON and against LoRaWAN's payload limits.
fn cost_ui(ui: &mut egui::Ui, decoded: &Decoded) {
    let cost = Cost::of(decoded);
    ui.label(format!(
        "{} bytes as sent · {} bytes as compact JSON ({:.1}× larger)",
        decoded.size_bytes,
        decoded.json_size_bytes,
        decoded.json_size_bytes as f64 / decoded.size_bytes.max(1) as f64
    ));
    egui::Grid::new("inspect-cost").striped(true).show(ui, |ui| {
        ui.strong("data rate");
        ui.strong("limit");
        ui.strong("fits");
        ui.strong("time on air");
        ui.strong("as JSON");
        ui.end_row();
        let air = |fit: &crate::inspect::cost::Fit| match (fit.fits, fit.time_on_air_ms) {
            (true, Some(ms)) => format!("{ms:.1} ms"),
            (true, None) => "fits".to_string(),
            (false, _) => "does not fit".to_string(),
        };
        for rate in &cost.data_rates {
            ui.label(format!("{} (SF{})", rate.data_rate.name, rate.data_rate.spreading_factor));
            ui.label(format!("{} B", rate.data_rate.max_app_payload_bytes));
            ui.label(if rate.payload.fits { "yes" } else { "no" });
            ui.label(air(&rate.payload));
            ui.label(air(&rate.json));
            ui.end_row();
        }
    });
}

/// Hex if the text reads as hex, else base64; the hex error is the one shown when neither reads.
pub fn parse_payload(text: &str) -> Result<Vec<u8>, crate::inspect::InspectError> {
    match parse_hex(text) {
        Ok(bytes) => Ok(bytes),
        Err(hex_error) => parse_base64(text).map_err(|_| hex_error),
    }
}

/// Reads and parses a layout file; errors name the file last.
fn load_layout(path: &std::path::Path) -> Result<crate::inspect::layout::Layout, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("could not read the layout ({e}): {}", path.display()))?;
    crate::inspect::layout::Layout::from_toml(&text).map_err(|e| format!("{e}: {}", path.display()))
}
