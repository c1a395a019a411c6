//! The Inspect tab's capture list: payloads kept to come back to — pasted or sent from the console, and the
//! protocol frames connected devices send and receive.
//!
//! A 1 kHz telemetry stream must not bury the one request a user wants to look at, so the list keeps the
//! newest [`CAPTURES_PER_KIND`] of each kind (telemetry, requests and responses, logs, MQTT, CoAP, pasted) and
//! no more;
//! the user can hide kinds and pause the list (frames that arrive while paused are counted, not kept).
//! Labelling a frame reads only its header.

use std::collections::VecDeque;
use std::sync::Arc;

use eframe::egui::{self, RichText};
use postcard_rpc::host_client::SchemaReport;

use crate::inspect::frame::identify;
use crate::io::capture::{CapturedFrame, FrameKind};
use crate::ui::theme;

/// Captures kept of each kind.
pub const CAPTURES_PER_KIND: usize = 50;

/// What a capture is, for filtering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureKind {
    /// Telemetry topics from a device (samples, current).
    Telemetry,
    /// Requests to a device, its responses, and anything else on the protocol.
    Exchange,
    /// Log lines from a device.
    Log,
    /// MQTT PUBLISH packets received from a broker (decoded with the `mqtt` format).
    Mqtt,
    /// CoAP datagrams a CoAP source sent or received (decoded with the `coap` format).
    Coap,
    /// Pasted, or taken from the console.
    Pasted,
}

/// A payload kept for later.
#[derive(Debug, Clone, PartialEq)]
pub struct Capture {
    /// Where it came from and when.
    pub label: String,
    /// The bytes.
    pub bytes: Vec<u8>,
    /// Which kind it is.
    pub kind: CaptureKind,
    /// The reporting device's schema, for decoding a protocol frame; `None` for other payloads.
    pub schema: Option<Arc<SchemaReport>>,
}

impl Capture {
    /// Whether it is a protocol frame of a device (decoded with the `frame` format).
    pub fn is_frame(&self) -> bool {
        !matches!(self.kind, CaptureKind::Pasted | CaptureKind::Mqtt | CaptureKind::Coap)
    }

    /// The built-in format that reads it, if it came from a device or a broker.
    pub fn format(&self) -> Option<&'static str> {
        match self.kind {
            CaptureKind::Mqtt => Some("mqtt"),
            CaptureKind::Coap => Some("coap"),
            CaptureKind::Pasted => None,
            _ => Some("frame"),
        }
    }
}

/// Which kinds the list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaptureFilter {
    /// Show telemetry frames.
    pub telemetry: bool,
    /// Show requests and responses.
    pub exchanges: bool,
    /// Show log frames.
    pub logs: bool,
    /// Show MQTT messages.
    pub mqtt: bool,
    /// Show CoAP datagrams.
    pub coap: bool,
}

impl Default for CaptureFilter {
    fn default() -> Self {
        Self { telemetry: true, exchanges: true, logs: true, mqtt: true, coap: true }
    }
}

impl CaptureFilter {
    fn shows(&self, kind: CaptureKind) -> bool {
        match kind {
            CaptureKind::Telemetry => self.telemetry,
            CaptureKind::Exchange => self.exchanges,
            CaptureKind::Log => self.logs,
            CaptureKind::Mqtt => self.mqtt,
            CaptureKind::Coap => self.coap,
            CaptureKind::Pasted => true,
        }
    }
}

/// The capture list.
#[derive(Default)]
pub struct Captures {
    /// Newest first, each with the number it was kept under (a stable widget id, so a click lands on the
    /// capture that was under the pointer even when newer ones pushed the list down meanwhile).
    list: VecDeque<(u64, Capture)>,
    /// Captures kept so far.
    kept: u64,
    /// Which kinds are shown.
    pub filter: CaptureFilter,
    /// While paused, device frames are counted, not kept.
    pub paused: bool,
    /// Device frames not kept because the list was paused.
    pub skipped_while_paused: u64,
}

impl Captures {
    /// Keeps a capture (newest first), dropping the oldest of its kind beyond [`CAPTURES_PER_KIND`].
    pub fn push(&mut self, capture: Capture) {
        let kind = capture.kind;
        self.kept += 1;
        self.list.push_front((self.kept, capture));
        if self.list.iter().filter(|(_, c)| c.kind == kind).count() > CAPTURES_PER_KIND
            && let Some(oldest) = self.list.iter().rposition(|(_, c)| c.kind == kind)
        {
            self.list.remove(oldest);
        }
    }

    /// Keeps a device's protocol frame, labelled `source · received path kind · t s · n bytes` (an MQTT packet by
    /// its topic, a CoAP datagram by its one-line summary), unless paused.
    pub fn push_frame(&mut self, source: &str, frame: &CapturedFrame, at_s: f64, schema: Option<Arc<SchemaReport>>) {
        if self.paused {
            self.skipped_while_paused += 1;
            return;
        }
        if let Some(topic) = frame.mqtt_topic() {
            let label = format!(
                "{source} · {} PUBLISH {topic} · {at_s:.3} s · {} bytes",
                frame.direction.verb(),
                frame.bytes.len()
            );
            self.push(Capture { label, bytes: frame.bytes.clone(), kind: CaptureKind::Mqtt, schema: None });
            return;
        }
        if frame.kind == FrameKind::Coap {
            let label = format!(
                "{source} · {} {} · {at_s:.3} s · {} bytes",
                frame.direction.verb(),
                crate::coap::message::summary(&frame.bytes),
                frame.bytes.len()
            );
            self.push(Capture { label, bytes: frame.bytes.clone(), kind: CaptureKind::Coap, schema: None });
            return;
        }
        let (what, kind) = match identify(&frame.bytes, schema.as_deref()) {
            None => ("not a protocol frame".to_string(), CaptureKind::Exchange),
            Some(id) => {
                let kind = match id.kind {
                    "topic" if id.path.contains("log") => CaptureKind::Log,
                    "topic" if !id.path.starts_with("postcard-rpc/") => CaptureKind::Telemetry,
                    _ => CaptureKind::Exchange,
                };
                (format!("{} {}", id.path, id.kind).trim_end().to_string(), kind)
            }
        };
        let label = format!("{source} · {} {what} · {at_s:.3} s · {} bytes", frame.direction.verb(), frame.bytes.len());
        self.push(Capture { label, bytes: frame.bytes.clone(), kind, schema });
    }

    /// The captures the filter shows, newest first.
    pub fn shown(&self) -> impl Iterator<Item = &Capture> {
        self.list.iter().map(|(_, c)| c).filter(|c| self.filter.shows(c.kind))
    }

    /// Every capture kept, newest first.
    pub fn all(&self) -> impl Iterator<Item = &Capture> {
        self.list.iter().map(|(_, c)| c)
    }

    /// The list with its filter and pause controls; returns the capture clicked.
    pub fn ui(&mut self, ui: &mut egui::Ui) -> Option<Capture> {
        if self.list.is_empty() && !self.paused {
            return None;
        }
        ui.separator();
        ui.horizontal(|ui| {
            ui.strong("Captured");
            ui.checkbox(&mut self.filter.telemetry, "Telemetry");
            ui.checkbox(&mut self.filter.exchanges, "Requests and responses");
            ui.checkbox(&mut self.filter.logs, "Logs");
            ui.checkbox(&mut self.filter.mqtt, "MQTT");
            ui.checkbox(&mut self.filter.coap, "CoAP");
            let pause = if self.paused { "Resume capture" } else { "Pause capture" };
            if ui.button(pause).on_hover_text("Keep the list still while you look at it").clicked() {
                self.paused = !self.paused;
            }
            if self.skipped_while_paused > 0 {
                ui.label(
                    RichText::new(format!("{} frames not kept while paused", self.skipped_while_paused))
                        .color(theme::MUTED),
                );
            }
        });
        let mut chosen = None;
        egui::ScrollArea::vertical().id_salt("inspect-captures").max_height(140.0).show(ui, |ui| {
            for (kept, capture) in self.list.iter().filter(|(_, c)| self.filter.shows(c.kind)) {
                if ui.push_id(kept, |ui| ui.selectable_label(false, &capture.label)).inner.clicked() {
                    chosen = Some(capture.clone());
                }
            }
        });
        chosen
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::io::capture::Direction;

    fn frame(hex: &str) -> CapturedFrame {
        let bytes = (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
        CapturedFrame { kind: FrameKind::Protocol, direction: Direction::FromDevice, at: Instant::now(), bytes }
    }

    const SAMPLES: &str = "0310e601010dc0843da08d0604c422c622090519896ae300";
    const PING: &str = "0310bd010af8acd19101811d10e500";

    #[test]
    fn a_telemetry_flood_keeps_the_newest_of_each_kind_and_the_one_request() {
        let mut captures = Captures::default();
        captures.push_frame("sim", &frame(PING), 0.5, None);
        for i in 0..1000 {
            captures.push_frame("sim", &frame(SAMPLES), 1.0 + f64::from(i) / 1000.0, None);
        }
        let telemetry: Vec<_> = captures.all().filter(|c| c.kind == CaptureKind::Telemetry).collect();
        assert_eq!(telemetry.len(), CAPTURES_PER_KIND);
        assert!(telemetry[0].label.contains("1.999 s"), "newest first: {}", telemetry[0].label);
        let requests: Vec<_> = captures.all().filter(|c| c.kind == CaptureKind::Exchange).collect();
        assert_eq!(requests.len(), 1);
        assert!(requests[0].label.starts_with("sim · received postcard-rpc/ping request"), "{}", requests[0].label);

        captures.filter.telemetry = false;
        assert_eq!(captures.shown().count(), 1);
        captures.paused = true;
        captures.push_frame("sim", &frame(SAMPLES), 3.0, None);
        assert_eq!((captures.all().count(), captures.skipped_while_paused), (CAPTURES_PER_KIND + 1, 1));
    }

    #[test]
    fn an_mqtt_message_is_labelled_by_its_topic_and_read_as_mqtt() {
        let mut captures = Captures::default();
        let packet = vec![0x30, 0x0C, 0x00, 0x08, b's', b'/', b'd', b'/', b't', b'e', b'm', b'p', b'2', b'3'];
        let frame = CapturedFrame {
            kind: FrameKind::Mqtt,
            direction: Direction::FromDevice,
            at: Instant::now(),
            bytes: packet,
        };
        captures.push_frame("mqtt://127.0.0.1:1883/s/#", &frame, 2.0, None);
        let capture = captures.all().next().unwrap();
        assert_eq!(capture.kind, CaptureKind::Mqtt);
        assert!(capture.label.contains("PUBLISH s/d/temp"), "{}", capture.label);
        assert_eq!(capture.format(), Some("mqtt"));
        captures.filter.mqtt = false;
        assert_eq!(captures.shown().count(), 0);
    }

    #[test]
    fn coap_datagrams_are_labelled_by_their_summary_and_direction_and_read_as_coap() {
        let mut captures = Captures::default();
        // CON GET /temperature with Observe 0, message id 0x1a2b, token 0x7e.
        let request = vec![
            0x41, 0x01, 0x1a, 0x2b, 0x7e, 0x60, 0x5b, b't', b'e', b'm', b'p', b'e', b'r', b'a', b't', b'u', b'r', b'e',
        ];
        // ACK 2.05 Content, Observe 3, payload "21.5".
        let response = vec![0x61, 0x45, 0x1a, 0x2b, 0x7e, 0x61, 0x03, 0xFF, b'2', b'1', b'.', b'5'];
        let at = Instant::now();
        let source = "coap://127.0.0.1:5683/temperature";
        let sent = CapturedFrame { kind: FrameKind::Coap, direction: Direction::ToDevice, at, bytes: request };
        let received = CapturedFrame { kind: FrameKind::Coap, direction: Direction::FromDevice, at, bytes: response };
        captures.push_frame(source, &sent, 1.0, None);
        captures.push_frame(source, &received, 1.25, None);
        let labels: Vec<&str> = captures.all().map(|c| c.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "coap://127.0.0.1:5683/temperature · received ACK 2.05 Content obs=3 (4 B) mid 0x1a2b · 1.250 s · 12 bytes",
                "coap://127.0.0.1:5683/temperature · sent CON GET /temperature obs=0 mid 0x1a2b · 1.000 s · 18 bytes",
            ]
        );
        let capture = captures.all().next().unwrap();
        assert_eq!((capture.kind, capture.format(), capture.is_frame()), (CaptureKind::Coap, Some("coap"), false));
        // A datagram that is not CoAP still lands in the CoAP list, saying why.
        let junk = CapturedFrame { kind: FrameKind::Coap, direction: Direction::FromDevice, at, bytes: vec![0xC0] };
        captures.push_frame(source, &junk, 2.0, None);
        assert!(
            captures.all().next().unwrap().label.contains("received not CoAP ("),
            "{}",
            captures.all().next().unwrap().label
        );
        captures.filter.coap = false;
        assert_eq!(captures.shown().count(), 0);
        captures.filter = CaptureFilter { coap: true, ..CaptureFilter::default() };
        assert_eq!(captures.shown().count(), 3);
    }
}
