//! `benchtop bridge SOURCE --broker mqtt://127.0.0.1:1883`: publish a board's telemetry to a broker.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;

use crate::io::{Board, SessionOptions};
use crate::model::source::Source;
use crate::mqtt::bridge::{Bridge, BridgeEnd, BridgeOptions, DEFAULT_TOPIC_TEMPLATE, PayloadFormat};
use crate::mqtt::url::{MqttUrl, MqttVersion, Password, Qos};

/// Options of `benchtop bridge`.
#[derive(Debug, Args)]
pub struct BridgeArgs {
    /// The device: sim, serial:/dev/ttyACM0, tcp:HOST:PORT (as for `benchtop record`).
    pub source: String,
    /// The broker: mqtt://[user[:password]@]host[:port][?options], or mqtts://… for TLS.
    #[arg(long, default_value = "mqtt://127.0.0.1:1883")]
    pub broker: String,
    /// Topic of each sample; {device} is the 16-hex-digit device id, {channel} the channel's name.
    #[arg(long, default_value = DEFAULT_TOPIC_TEMPLATE)]
    pub topic_template: String,
    /// QoS of the samples: 0, 1 or 2.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=2))]
    pub qos: u8,
    /// Publish samples as retained messages.
    #[arg(long)]
    pub retain: bool,
    /// How values are written: text (23.4), json ({"value":23.4,"unit":"°C","t":…}) or raw (f32, little-endian).
    #[arg(long, value_enum, default_value = "text")]
    pub payload: PayloadFormat,
    /// Stop after this long (e.g. 30s, 5min); without it, run until Ctrl-C.
    #[arg(long)]
    pub duration: Option<humantime::Duration>,
    /// Client id (default: benchtop-bridge-DEVICEID).
    #[arg(long)]
    pub client_id: Option<String>,
    /// User name.
    #[arg(long)]
    pub user: Option<String>,
    /// Password (never printed).
    #[arg(long, requires = "user")]
    pub password: Option<Password>,
    /// MQTT version: 3.1.1 or 5.
    #[arg(long, value_name = "3.1.1|5")]
    pub mqtt_version: Option<String>,
    /// CA certificate (PEM) that signed the broker's certificate (TLS; implies mqtts://).
    #[arg(long)]
    pub ca: Option<PathBuf>,
    /// Client certificate (PEM), with --key.
    #[arg(long, requires = "key")]
    pub cert: Option<PathBuf>,
    /// Client private key (PEM), with --cert.
    #[arg(long, requires = "cert")]
    pub key: Option<PathBuf>,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    pub json: bool,
}

impl BridgeArgs {
    /// The broker URL with the command-line options applied over it.
    fn broker_url(&self) -> anyhow::Result<MqttUrl> {
        let mut url = MqttUrl::parse(&self.broker)?;
        if let Some(filter) = &url.topic_filter {
            anyhow::bail!(
                "--broker takes a broker address without a topic (`/{filter}`); set topics with --topic-template"
            );
        }
        if let Some(id) = &self.client_id {
            url.client_id = Some(id.clone());
        }
        if let Some(user) = &self.user {
            url.user = Some(user.clone());
            url.password = self.password.clone();
        }
        if let Some(version) = &self.mqtt_version {
            url.version = MqttVersion::parse(version)
                .with_context(|| format!("--mqtt-version must be 3.1.1 or 5, not `{version}`"))?;
        }
        if self.ca.is_some() || self.cert.is_some() {
            if !url.tls && url.port_given.is_none() {
                url.port_given = Some(crate::mqtt::url::DEFAULT_TLS_PORT);
            }
            url.tls = true;
        }
        url.ca = self.ca.clone().or(url.ca);
        url.cert = self.cert.clone().or(url.cert);
        url.key = self.key.clone().or(url.key);
        Ok(url)
    }
}

/// Runs `benchtop bridge`.
pub async fn run(args: BridgeArgs) -> anyhow::Result<()> {
    let source = Source::parse(&args.source)?;
    if matches!(source, Source::Mqtt(_)) {
        anyhow::bail!("the bridge publishes a device; {source} is already on a broker");
    }
    let mut options = BridgeOptions::new(args.broker_url()?);
    options.topic_template = args.topic_template.clone();
    options.qos = Qos::from_level(args.qos).unwrap_or_default();
    options.retain = args.retain;
    options.payload = args.payload;
    let opened = Board::open(&source, SessionOptions::default(), 4096)
        .await
        .with_context(|| format!("could not open {source}"))?;
    let (board, mut telemetry) = (opened.board, opened.telemetry);
    let info = board.info().clone();
    let broker = options.broker.to_string();
    let bridge = Bridge::connect(options, info.device_id).await?;
    eprintln!(
        "bridging {source} to {broker}: samples on {}, status on {}",
        bridge.topic("{channel}"),
        bridge.status_topic()
    );
    let started = Instant::now();
    let stop = async {
        match args.duration {
            Some(duration) => tokio::time::sleep(Duration::from(duration)).await,
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    };
    let end = bridge.run(&info, &mut telemetry, stop).await;
    let stats = bridge.stats().clone();
    let mqtt = bridge.mqtt_stats().clone();
    bridge.stop(Duration::from_secs(2)).await;
    let (read, dropped) = (
        stats.samples_read.load(std::sync::atomic::Ordering::Relaxed),
        stats.messages_dropped.load(std::sync::atomic::Ordering::Relaxed),
    );
    let mqtt = mqtt.snapshot();
    let device_dropped = board.stats().snapshot().dropped_messages;
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "samples": read,
                "published": mqtt.published,
                "dropped": dropped,
                "device_dropped": device_dropped,
                "connections": mqtt.connections,
                "device_gone": end == BridgeEnd::DeviceGone,
            })
        );
    }
    eprintln!(
        "read {read} samples in {:.1} s; {} messages written to the broker over {} connection(s){}",
        started.elapsed().as_secs_f64(),
        mqtt.published,
        mqtt.connections,
        if dropped > 0 {
            format!("; {dropped} dropped while the broker was away or slower than the device")
        } else {
            String::new()
        }
    );
    if end == BridgeEnd::DeviceGone {
        anyhow::bail!("the device disconnected; the bridge published `offline` and stopped");
    }
    Ok(())
}
