//! An MQTT subscription opened as a board: every message on the topic filter becomes telemetry, so the Live
//! view, the recorder and `benchtop record` treat a broker's feed like a text board.
//!
//! Each topic is a channel, named by the topic (or `topic/field` with a layout), created when it first
//! appears: one plot per topic with no configuration. Status topics (`…/status/{device}` = `online` or
//! `offline`), alerts, undecodable payloads and connection losses become log lines, not values. Every PUBLISH
//! received is also offered to the Inspect tab's capture list through a [`FrameTap`], as the packet's bytes.
//! The connection reconnects and resubscribes on its own; the telemetry stream only ends when the board is
//! dropped.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use firmware_protocol::{Capabilities, DeviceInfo, FirmwareVersion, LogLevel};
use tokio::sync::mpsc;

use super::MqttError;
use super::client::{ClientOptions, MqttClient, MqttEvent, MqttStats};
use super::decode::{Alerts, PayloadDecoding, Reading, read};
use super::url::MqttUrl;
use crate::io::capture::{Direction, FrameListener, FrameTap};
use crate::io::feed::Feed;
use crate::io::link::LinkStats;
use crate::io::session::{Telemetry, TelemetryStream};

/// The latest status each device reported on a status topic, by device id (the topic's last level).
pub type DeviceStatuses = BTreeMap<String, DeviceStatus>;

/// A device's latest status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceStatus {
    /// `online` (true) or `offline`.
    pub online: bool,
    /// When it was reported.
    pub at: Instant,
}

/// An open MQTT subscription.
pub struct MqttBoard {
    info: DeviceInfo,
    stats: Arc<LinkStats>,
    tap: FrameTap,
    statuses: Arc<Mutex<DeviceStatuses>>,
    client: MqttClient,
}

impl MqttBoard {
    /// Connects to the broker in `url` and subscribes to its topic filter; telemetry goes on a channel of
    /// `capacity` messages (a full channel drops and counts). Must run inside the tokio runtime.
    pub async fn open(url: &MqttUrl, capacity: usize) -> Result<(MqttBoard, TelemetryStream), MqttError> {
        let filter = url.topic_filter.clone().ok_or_else(|| {
            MqttError::Setup(format!(
                "an MQTT source needs a topic filter after the broker, e.g. mqtt://{}/sensors/#",
                url.address()
            ))
        })?;
        let decoding = PayloadDecoding::from_url(url).map_err(MqttError::Setup)?;
        let mut options = ClientOptions::new(url.clone(), client_id("benchtop-source"));
        options.subscriptions = vec![(filter, url.qos)];
        let (client, events) = MqttClient::connect(options).await?;
        let source = url.to_string();
        let info = DeviceInfo {
            protocol_version: 0,
            device_id: crate::io::board::fnv1a(source.as_bytes()),
            firmware_version: FirmwareVersion { major: 0, minor: 0, patch: 0 },
            hardware_revision: heapless::String::try_from("mqtt").unwrap_or_default(),
            capabilities: Capabilities::empty(),
            channels: heapless::Vec::new(),
        };
        let stats = Arc::new(LinkStats::default());
        let tap = FrameTap::default();
        let statuses = Arc::new(Mutex::new(DeviceStatuses::new()));
        let (feed, telemetry) = Feed::new(capacity, stats.clone());
        let reader = Reader {
            decoding,
            alerts: Alerts::new(url.alerts.clone()),
            mqtt_stats: client.stats().clone(),
            tap: tap.clone(),
            statuses: statuses.clone(),
            feed,
            unreadable_topics: HashSet::new(),
        };
        tokio::spawn(reader.run(events));
        Ok((MqttBoard { info, stats, tap, statuses, client }, telemetry))
    }

    /// A description with no channels: channels are named by the topics as they arrive.
    pub fn info(&self) -> &DeviceInfo {
        &self.info
    }

    /// Counters in the terms of a link: messages received as frames, payload bytes, dropped telemetry.
    pub fn stats(&self) -> &Arc<LinkStats> {
        &self.stats
    }

    /// The connection's own counters (connected, reconnections, drops).
    pub fn mqtt_stats(&self) -> &Arc<MqttStats> {
        self.client.stats()
    }

    /// Copies of the PUBLISH packets received from now on, for the capture list ([`Direction::FromDevice`];
    /// decode them with the inspector's `mqtt` format; [`crate::io::capture::CapturedFrame::mqtt_topic`]
    /// gives the topic for a label).
    pub fn frames(&self) -> FrameListener {
        self.tap.listen()
    }

    /// The shared table of statuses, updated as status messages arrive (for a window that shows it live).
    pub fn status_table(&self) -> Arc<Mutex<DeviceStatuses>> {
        self.statuses.clone()
    }

    /// The latest `online`/`offline` status of each device seen on a status topic.
    pub fn device_statuses(&self) -> DeviceStatuses {
        self.statuses.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

/// A client id unlikely to collide with another Benchtop on the same broker.
pub fn client_id(prefix: &str) -> String {
    let mut random = [0u8; 4];
    let _ = getrandom::fill(&mut random);
    format!("{prefix}-{:08x}", u32::from_le_bytes(random))
}

struct Reader {
    decoding: PayloadDecoding,
    alerts: Alerts,
    mqtt_stats: Arc<MqttStats>,
    tap: FrameTap,
    statuses: Arc<Mutex<DeviceStatuses>>,
    feed: Feed,
    /// Topics already reported as unreadable (each is reported once, not once per message).
    unreadable_topics: HashSet<String>,
}

impl Reader {
    async fn run(mut self, mut events: mpsc::Receiver<MqttEvent>) {
        while let Some(event) = events.recv().await {
            let delivered = match event {
                MqttEvent::Message(message) => {
                    self.feed.stats().frames_rx.fetch_add(1, Ordering::Relaxed);
                    self.feed.stats().bytes_rx.fetch_add(message.packet.len() as u64, Ordering::Relaxed);
                    self.tap.mqtt(Direction::FromDevice, &message.packet);
                    self.message(&message.topic, &message.payload, message.received_at)
                }
                MqttEvent::Connected { session_present } => {
                    let how = if session_present { "session resumed" } else { "subscribed again" };
                    let connections = self.mqtt_stats.connections.load(Ordering::Relaxed);
                    connections <= 1 || self.feed.log(LogLevel::Info, &format!("reconnected to the broker ({how})"))
                }
                MqttEvent::Disconnected { reason, retry_in } => self.feed.log(
                    LogLevel::Warn,
                    &format!("connection lost: {reason}; retrying in {:.1} s", retry_in.as_secs_f64()),
                ),
            };
            if !delivered {
                return;
            }
        }
    }

    /// Turns a message into telemetry; false once nobody listens.
    fn message(&mut self, topic: &str, payload: &[u8], received_at: Instant) -> bool {
        match read(&self.decoding, topic, payload) {
            Reading::Values(values) => {
                let mut alive = true;
                for (channel, value) in &values {
                    for alert in self.alerts.check(channel, *value) {
                        tracing::warn!("{alert}");
                        alive &= self.feed.log(LogLevel::Warn, &alert.to_string());
                    }
                }
                let line = String::from_utf8_lossy(payload).into_owned();
                alive && self.feed.send(Telemetry::Text { received_at, line: format!("{topic} {line}"), values })
            }
            Reading::Status { device, online } => {
                if let Ok(mut statuses) = self.statuses.lock() {
                    statuses.insert(device.clone(), DeviceStatus { online, at: received_at });
                }
                let word = if online { "online" } else { "offline" };
                self.feed.log(LogLevel::Info, &format!("device {device} is {word}"))
            }
            Reading::Unreadable(reason) => {
                if self.unreadable_topics.len() < 1024 && self.unreadable_topics.insert(topic.to_string()) {
                    tracing::warn!("{reason}");
                    self.feed.log(LogLevel::Warn, &reason)
                } else {
                    true
                }
            }
        }
    }
}
