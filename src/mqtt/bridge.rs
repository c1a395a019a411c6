//! The bridge: a board's telemetry published to a broker the way the device itself would publish it.
//!
//! Every sample becomes one message on a topic made from a template (`sensors/data/{device}/{channel}`:
//! `{device}` is the 16-hex-digit device id in lower case, `{channel}` the channel's name), with the value as
//! number text (`23.4`), JSON (`{"value":23.4,"unit":"°C","t":1764000000.123}`, `t` in Unix seconds) or raw
//! bytes (the value as a little-endian IEEE-754 `f32`). The bridge announces itself on
//! `sensors/status/{device}`: `online` (retained, QoS 1) on every connection, `offline` (retained, QoS 1) on a
//! clean stop, and the same `offline` as its last will for when it vanishes.
//!
//! Reading the device never waits on the network: each message goes into the connection's bounded outbox
//! with a `try_send`, and a full outbox (the broker away, or slower than the board) drops the message and
//! counts it. [`BridgeStats`] counts samples read whether or not they could be sent.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use firmware_protocol::DeviceInfo;

use super::MqttError;
use super::client::{ClientOptions, LastWill, MqttClient, MqttEvent, MqttStats, Publisher};
use super::url::{MqttUrl, Qos};
use crate::io::session::{Telemetry, TelemetryStream};
use crate::model::live::{LiveDevice, Placed};
use crate::model::series::SeriesLimits;

/// Default topic template for samples.
pub const DEFAULT_TOPIC_TEMPLATE: &str = "sensors/data/{device}/{channel}";
/// Default topic template for the bridge's status.
pub const DEFAULT_STATUS_TEMPLATE: &str = "sensors/status/{device}";

/// How a sample's value is written in a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum PayloadFormat {
    /// Number text: `23.4`.
    #[default]
    Text,
    /// `{"value":23.4,"unit":"°C","t":1764000000.123}` (`t`: Unix seconds, ms resolution).
    Json,
    /// The value as a little-endian IEEE-754 `f32` (4 bytes).
    Raw,
}

/// How a bridge publishes.
#[derive(Debug, Clone)]
pub struct BridgeOptions {
    /// The broker, credentials, TLS, client id, version, session and packet size.
    pub broker: MqttUrl,
    /// Topic of each sample; `{device}` and `{channel}` are filled in.
    pub topic_template: String,
    /// Topic of the bridge's `online`/`offline` status; `{device}` is filled in.
    pub status_template: String,
    /// QoS of the samples.
    pub qos: Qos,
    /// Whether samples are retained.
    pub retain: bool,
    /// How values are written.
    pub payload: PayloadFormat,
    /// Messages the outbox holds while the broker is slow or away; beyond, they are dropped and counted.
    pub outbox_capacity: usize,
}

impl BridgeOptions {
    /// Options with the defaults: the standard topics, QoS 0, no retain, number text, an outbox of 4096.
    pub fn new(broker: MqttUrl) -> Self {
        Self {
            broker,
            topic_template: DEFAULT_TOPIC_TEMPLATE.into(),
            status_template: DEFAULT_STATUS_TEMPLATE.into(),
            qos: Qos::AtMostOnce,
            retain: false,
            payload: PayloadFormat::Text,
            outbox_capacity: 4096,
        }
    }
}

/// What the bridge has done, shared with whoever shows it.
#[derive(Debug, Default)]
pub struct BridgeStats {
    /// Samples read from the device (sent or not).
    pub samples_read: AtomicU64,
    /// Messages put into the outbox.
    pub messages_queued: AtomicU64,
    /// Messages dropped because the outbox was full.
    pub messages_dropped: AtomicU64,
}

/// Why [`Bridge::run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BridgeEnd {
    /// The stop future completed (duration over, Ctrl-C).
    Stopped,
    /// The device's telemetry ended (unplugged, closed).
    DeviceGone,
}

/// A running bridge for one device.
pub struct Bridge {
    client: MqttClient,
    publisher: Publisher,
    options: BridgeOptions,
    device_hex: String,
    status_topic: String,
    stats: Arc<BridgeStats>,
    /// Wall-clock time at host time zero of the placed samples.
    wall_origin_s: f64,
    /// Host time zero of the placed samples.
    started: Instant,
}

impl Bridge {
    /// Connects for the device `device_id` with `offline` as the last will, and publishes `online` on every
    /// connection (the first one included).
    pub async fn connect(options: BridgeOptions, device_id: u64) -> Result<Bridge, MqttError> {
        let device_hex = format!("{device_id:016x}");
        let status_topic = options.status_template.replace("{device}", &device_hex);
        let mut client_options = ClientOptions::new(options.broker.clone(), format!("benchtop-bridge-{device_hex}"));
        client_options.outbox_capacity = options.outbox_capacity;
        client_options.last_will = Some(LastWill {
            topic: status_topic.clone(),
            payload: b"offline".to_vec(),
            qos: Qos::AtLeastOnce,
            retain: true,
        });
        let (client, mut events) = MqttClient::connect(client_options).await?;
        let publisher = client.publisher();
        // `online` goes into the outbox now, ahead of any sample; after a reconnection, as soon as it is known.
        publisher.publish(&status_topic, b"online".to_vec(), Qos::AtLeastOnce, true);
        let announcer = (publisher.clone(), status_topic.clone());
        tokio::spawn(async move {
            let mut first = true;
            while let Some(event) = events.recv().await {
                if let MqttEvent::Connected { .. } = event
                    && !std::mem::take(&mut first)
                {
                    announcer.0.publish(&announcer.1, b"online".to_vec(), Qos::AtLeastOnce, true);
                }
            }
        });
        let wall_origin_s = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
        Ok(Bridge {
            client,
            publisher,
            options,
            device_hex,
            status_topic,
            stats: Arc::new(BridgeStats::default()),
            wall_origin_s,
            started: Instant::now(),
        })
    }

    /// The bridge's counters.
    pub fn stats(&self) -> &Arc<BridgeStats> {
        &self.stats
    }

    /// The connection's counters (connected, reconnections, published).
    pub fn mqtt_stats(&self) -> &Arc<MqttStats> {
        self.client.stats()
    }

    /// The status topic (`sensors/status/{device}`).
    pub fn status_topic(&self) -> &str {
        &self.status_topic
    }

    /// The topic a channel's samples go to.
    pub fn topic(&self, channel: &str) -> String {
        self.options.topic_template.replace("{device}", &self.device_hex).replace("{channel}", channel)
    }

    /// Publishes placed samples of `device`'s channel without waiting.
    pub fn publish_placed(&self, device: &LiveDevice, placed: &Placed) {
        let Some(channel) = device.channels.get(placed.channel) else { return };
        let topic = self.topic(&channel.name);
        for (i, value) in placed.values.iter().enumerate() {
            self.stats.samples_read.fetch_add(1, Ordering::Relaxed);
            let t_s = self.wall_origin_s + placed.t0_s + placed.period_s * i as f64;
            let payload = encode(self.options.payload, *value, &channel.unit, t_s);
            if self.publisher.publish(&topic, payload, self.options.qos, self.options.retain) {
                self.stats.messages_queued.fetch_add(1, Ordering::Relaxed);
            } else {
                self.stats.messages_dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Places one telemetry message on the device's channels and publishes its samples.
    pub fn forward(&self, device: &mut LiveDevice, telemetry: &Telemetry) {
        let host_s = |at: Instant| at.saturating_duration_since(self.started).as_secs_f64();
        let placed: Vec<Placed> = match telemetry {
            Telemetry::Samples { batch, received_at } => {
                device.place_samples(batch, host_s(*received_at)).into_iter().collect()
            }
            Telemetry::Current { batch, received_at } => {
                device.place_current(batch, host_s(*received_at)).into_iter().collect()
            }
            Telemetry::Text { values, received_at, .. } => device.place_named(values, host_s(*received_at)),
            Telemetry::Log { .. } => Vec::new(),
        };
        for placed in &placed {
            self.publish_placed(device, placed);
        }
    }

    /// Forwards the device's telemetry until `stop` completes or the telemetry ends.
    pub async fn run(
        &self,
        info: &DeviceInfo,
        telemetry: &mut TelemetryStream,
        stop: impl Future<Output = ()>,
    ) -> BridgeEnd {
        // Placement only: nothing is kept beyond the batch being published.
        let mut device = LiveDevice::new(info.clone(), SeriesLimits { raw_samples: 1, blocks_per_level: 1 });
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = &mut stop => return BridgeEnd::Stopped,
                message = telemetry.rx.recv() => match message {
                    Some(message) => self.forward(&mut device, &message),
                    None => return BridgeEnd::DeviceGone,
                },
            }
        }
    }

    /// Publishes `offline` (retained, QoS 1) and disconnects cleanly, waiting up to `timeout` for the outbox
    /// to be written.
    pub async fn stop(self, timeout: Duration) {
        self.publisher.publish(&self.status_topic, b"offline".to_vec(), Qos::AtLeastOnce, true);
        self.client.disconnect(timeout).await;
    }
}

/// A value as a message payload.
pub fn encode(format: PayloadFormat, value: f32, unit: &str, t_s: f64) -> Vec<u8> {
    match format {
        PayloadFormat::Text => value.to_string().into_bytes(),
        PayloadFormat::Json => {
            let t_ms = (t_s * 1000.0).round() / 1000.0;
            // Through f64 from the shortest text of the f32, so 23.4 stays 23.4 and not 23.399999618530273.
            let value: f64 = value.to_string().parse().unwrap_or(f64::from(value));
            serde_json::json!({ "value": value, "unit": unit, "t": t_ms }).to_string().into_bytes()
        }
        PayloadFormat::Raw => value.to_le_bytes().to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads() {
        assert_eq!(encode(PayloadFormat::Text, 23.4, "°C", 0.0), b"23.4");
        assert_eq!(
            String::from_utf8(encode(PayloadFormat::Json, 23.4, "°C", 1_764_000_000.123_4)).unwrap(),
            r#"{"t":1764000000.123,"unit":"°C","value":23.4}"#
        );
        assert_eq!(encode(PayloadFormat::Raw, 1.0, "", 0.0), [0x00, 0x00, 0x80, 0x3f]);
    }
}
