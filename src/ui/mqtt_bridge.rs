//! The MQTT bridge of the Live view: publish the selected device's readings to a broker the way the device
//! itself would, from the window.
//!
//! The form takes the broker URL (credentials, TLS and version as in `benchtop bridge`), the topic template,
//! QoS, retain and the payload format. Connecting runs on the I/O runtime; once connected, the window hands
//! each telemetry message of the device to [`Bridge::forward`], which never waits (a full outbox drops and
//! counts). Stopping publishes `offline` and disconnects in the background.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use eframe::egui::{self, RichText, TextEdit};

use super::theme;
use crate::io::Telemetry;
use crate::model::live::LiveDevice;
use crate::model::series::SeriesLimits;
use crate::mqtt::bridge::DEFAULT_TOPIC_TEMPLATE;
use crate::mqtt::{Bridge, BridgeOptions, MqttUrl, PayloadFormat, Qos};
use firmware_protocol::DeviceInfo;

/// Where a device's bridge stands.
enum State {
    /// Not bridged.
    Off,
    /// Connecting on the runtime.
    Connecting(Receiver<Result<Bridge, String>>),
    /// Publishing; the placer turns telemetry into timed values.
    Running { bridge: Bridge, placer: LiveDevice },
    /// The last attempt failed.
    Failed(String),
}

/// The bridge form and the bridge of one device.
pub struct BridgePanel {
    /// Broker URL.
    pub broker: String,
    /// Topic template (`{device}`, `{channel}`).
    pub topic_template: String,
    /// QoS 0, 1 or 2.
    pub qos: u8,
    /// Retain samples.
    pub retain: bool,
    /// Payload format.
    pub payload: PayloadFormat,
    state: State,
}

impl Default for BridgePanel {
    fn default() -> Self {
        BridgePanel {
            broker: "mqtt://127.0.0.1:1883".into(),
            topic_template: DEFAULT_TOPIC_TEMPLATE.into(),
            qos: 0,
            retain: false,
            payload: PayloadFormat::Text,
            state: State::Off,
        }
    }
}

impl BridgePanel {
    /// Whether the bridge publishes now.
    pub fn running(&self) -> bool {
        matches!(self.state, State::Running { .. })
    }

    /// The last failure, if the bridge did not start.
    pub fn error(&self) -> Option<&str> {
        match &self.state {
            State::Failed(reason) => Some(reason),
            _ => None,
        }
    }

    /// Messages queued and dropped so far, while running.
    pub fn counts(&self) -> Option<(u64, u64)> {
        match &self.state {
            State::Running { bridge, .. } => {
                let stats = bridge.stats();
                Some((stats.messages_queued.load(Ordering::Relaxed), stats.messages_dropped.load(Ordering::Relaxed)))
            }
            _ => None,
        }
    }

    /// Starts connecting for the device `info` on `runtime`.
    pub fn start(&mut self, runtime: &tokio::runtime::Handle, info: &DeviceInfo, repaint: egui::Context) {
        let url = match MqttUrl::parse(self.broker.trim()) {
            Ok(url) => url,
            Err(e) => {
                self.state = State::Failed(e.to_string());
                return;
            }
        };
        let mut options = BridgeOptions::new(url);
        options.topic_template = self.topic_template.trim().to_string();
        options.qos = match self.qos {
            1 => Qos::AtLeastOnce,
            2 => Qos::ExactlyOnce,
            _ => Qos::AtMostOnce,
        };
        options.retain = self.retain;
        options.payload = self.payload;
        let (tx, rx) = channel();
        let device_id = info.device_id;
        runtime.spawn(async move {
            let result = Bridge::connect(options, device_id).await.map_err(|e| e.to_string());
            let _ = tx.send(result);
            repaint.request_repaint();
        });
        self.state = State::Connecting(rx);
    }

    /// Stops publishing: `offline` is published and the connection closed in the background.
    pub fn stop(&mut self, runtime: &tokio::runtime::Handle) {
        if let State::Running { bridge, .. } = std::mem::replace(&mut self.state, State::Off) {
            runtime.spawn(bridge.stop(Duration::from_secs(2)));
        }
    }

    /// Takes a finished connection attempt; called every frame.
    pub fn poll(&mut self, info: Option<&DeviceInfo>) {
        if let State::Connecting(rx) = &self.state
            && let Ok(result) = rx.try_recv()
        {
            self.state = match (result, info) {
                (Ok(bridge), Some(info)) => State::Running {
                    bridge,
                    placer: LiveDevice::new(info.clone(), SeriesLimits { raw_samples: 1, blocks_per_level: 1 }),
                },
                (Ok(_), None) => State::Failed("the device went away while the bridge connected".into()),
                (Err(reason), _) => State::Failed(reason),
            };
        }
    }

    /// Publishes one telemetry message of the device, without waiting.
    pub fn forward(&mut self, telemetry: &Telemetry) {
        if let State::Running { bridge, placer } = &mut self.state {
            bridge.forward(placer, telemetry);
        }
    }

    /// The form, or the running bridge's counters and a Stop button.
    pub fn ui(&mut self, ui: &mut egui::Ui, runtime: &tokio::runtime::Handle, info: Option<&DeviceInfo>) {
        self.poll(info);
        match &self.state {
            State::Running { bridge, .. } => {
                let stats = bridge.stats();
                let mqtt = bridge.mqtt_stats().snapshot();
                let stop = ui
                    .horizontal_wrapped(|ui| {
                        let (text, color) =
                            if mqtt.connected { ("connected", theme::OK) } else { ("reconnecting", theme::PENDING) };
                        ui.label(RichText::new(format!("Bridge {text}")).color(color));
                        ui.label(format!(
                            "{} samples · {} queued · {} dropped · status on {}",
                            stats.samples_read.load(Ordering::Relaxed),
                            stats.messages_queued.load(Ordering::Relaxed),
                            stats.messages_dropped.load(Ordering::Relaxed),
                            bridge.status_topic()
                        ));
                        ui.button("Stop bridge").clicked()
                    })
                    .inner;
                if stop {
                    self.stop(runtime);
                }
                return;
            }
            State::Connecting(_) => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(format!("connecting to {}…", crate::mqtt::url::redact(&self.broker)));
                });
                return;
            }
            State::Off | State::Failed(_) => {}
        }
        egui::Grid::new("mqtt-bridge").num_columns(2).show(ui, |ui| {
            let label = ui.label("Broker");
            ui.add(TextEdit::singleline(&mut self.broker).desired_width(320.0)).labelled_by(label.id);
            ui.end_row();
            let label = ui.label("Topic");
            ui.add(TextEdit::singleline(&mut self.topic_template).desired_width(320.0)).labelled_by(label.id);
            ui.end_row();
            ui.label("QoS");
            ui.horizontal(|ui| {
                for qos in 0..=2u8 {
                    ui.selectable_value(&mut self.qos, qos, qos.to_string());
                }
                ui.checkbox(&mut self.retain, "Retain");
                ui.label("Payload");
                for (format, name) in
                    [(PayloadFormat::Text, "number"), (PayloadFormat::Json, "JSON"), (PayloadFormat::Raw, "raw f32")]
                {
                    ui.selectable_value(&mut self.payload, format, name);
                }
            });
            ui.end_row();
        });
        ui.horizontal(|ui| {
            let start = ui.add_enabled(info.is_some(), egui::Button::new("Start bridge"));
            if start.on_hover_text("Publish every reading; `offline` is the last will").clicked()
                && let Some(info) = info
            {
                self.start(runtime, info, ui.ctx().clone());
            }
            if let State::Failed(reason) = &self.state {
                ui.colored_label(ui.visuals().error_fg_color, reason);
            }
        });
    }
}
