//! `benchtop info SOURCE`: connect, read the device's description, print it (a table, or `--json`).

use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use firmware_protocol::{Capabilities, ChannelKind, DeviceInfo, RawType};
use serde::Serialize;

use crate::io::{Session, SessionOptions};
use crate::model::source::Source;

/// Options of `benchtop info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// The device: sim, serial:/dev/ttyACM0, serial:auto, tcp:HOST:PORT, ble:NAME.
    pub source: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// How long to wait for each answer.
    #[arg(long, default_value = "1s")]
    pub timeout: humantime::Duration,
}

/// The JSON form of `benchtop info`.
#[derive(Debug, Serialize)]
pub struct InfoReport {
    /// The source as given.
    pub source: String,
    /// 16 hex digits.
    pub device_id: String,
    /// Protocol version.
    pub protocol_version: u16,
    /// `major.minor.patch`.
    pub firmware_version: String,
    /// Hardware revision.
    pub hardware_revision: String,
    /// Capability names.
    pub capabilities: Vec<&'static str>,
    /// Channels.
    pub channels: Vec<ChannelReport>,
}

/// One channel in [`InfoReport`].
#[derive(Debug, Serialize)]
pub struct ChannelReport {
    /// Id.
    pub id: u8,
    /// Name.
    pub name: String,
    /// Unit.
    pub unit: String,
    /// Kind.
    pub kind: &'static str,
    /// Raw integer type.
    pub raw_type: &'static str,
    /// Scale.
    pub scale: f64,
    /// Offset.
    pub offset: f64,
    /// Nominal rate.
    pub nominal_rate_hz: f32,
}

impl InfoReport {
    /// The report for a device.
    pub fn new(source: &str, info: &DeviceInfo) -> Self {
        let v = info.firmware_version;
        InfoReport {
            source: source.to_string(),
            device_id: format!("{:016x}", info.device_id),
            protocol_version: info.protocol_version,
            firmware_version: format!("{}.{}.{}", v.major, v.minor, v.patch),
            hardware_revision: info.hardware_revision.to_string(),
            capabilities: Capabilities::NAMED
                .iter()
                .filter(|(flag, _)| info.capabilities.contains(*flag))
                .map(|(_, name)| *name)
                .collect(),
            channels: info
                .channels
                .iter()
                .map(|c| ChannelReport {
                    id: c.id,
                    name: c.name.to_string(),
                    unit: c.unit.to_string(),
                    kind: kind_name(c.kind),
                    raw_type: raw_type_name(c.raw_type),
                    scale: c.scale,
                    offset: c.offset,
                    nominal_rate_hz: c.nominal_rate_hz,
                })
                .collect(),
        }
    }

    /// The human-readable table.
    pub fn to_table(&self) -> String {
        let mut out = format!(
            "device {}  firmware {}  hardware {}  protocol {}\ncapabilities: {}\n\n",
            self.device_id,
            self.firmware_version,
            self.hardware_revision,
            self.protocol_version,
            self.capabilities.join(", ")
        );
        out.push_str(&format!(
            "{:>3}  {:<16} {:<6} {:<8} {:<4} {:>10} {:>8} {:>12}\n",
            "id", "channel", "unit", "kind", "raw", "scale", "offset", "rate"
        ));
        for c in &self.channels {
            out.push_str(&format!(
                "{:>3}  {:<16} {:<6} {:<8} {:<4} {:>10} {:>8} {:>9} Hz\n",
                c.id, c.name, c.unit, c.kind, c.raw_type, c.scale, c.offset, c.nominal_rate_hz
            ));
        }
        out
    }
}

/// Runs `benchtop info`.
pub async fn run(args: InfoArgs) -> anyhow::Result<()> {
    let source = Source::parse(&args.source)?;
    let options = SessionOptions { timeout: Duration::from(args.timeout), ..SessionOptions::default() };
    let session = Session::open(&source, options).await.with_context(|| format!("could not read {source}"))?;
    let report = InfoReport::new(&args.source, session.info());
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_table());
    }
    Ok(())
}

fn kind_name(kind: ChannelKind) -> &'static str {
    match kind {
        ChannelKind::Sensor => "sensor",
        ChannelKind::Current => "current",
        ChannelKind::Voltage => "voltage",
        ChannelKind::Logic => "logic",
        ChannelKind::Log => "log",
    }
}

fn raw_type_name(raw: RawType) -> &'static str {
    match raw {
        RawType::U8 => "u8",
        RawType::I8 => "i8",
        RawType::U16 => "u16",
        RawType::I16 => "i16",
        RawType::U32 => "u32",
        RawType::I32 => "i32",
    }
}
