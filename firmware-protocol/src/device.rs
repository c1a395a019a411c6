//! What a device says about itself on connect: identity, firmware, capabilities and its channels.
//!
//! The host builds its plots from [`DeviceInfo::channels`] with no configuration, so every channel carries
//! its name, unit and the affine map from the raw integer on the wire to the physical value.

use heapless::{String, Vec};
use postcard_schema::Schema;
use serde::{Deserialize, Serialize};

/// Most channels one device can describe.
pub const MAX_CHANNELS: usize = 8;
/// Longest channel name in bytes (short lowercase names such as `temperature`; they appear in topics and columns).
pub const MAX_CHANNEL_NAME_LEN: usize = 16;
/// Longest unit string in bytes (`°C` is 3 bytes of UTF-8).
pub const MAX_UNIT_LEN: usize = 8;
/// Longest hardware revision string in bytes.
pub const MAX_HARDWARE_REVISION_LEN: usize = 16;

/// The answer to the device-info endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub struct DeviceInfo {
    /// The [`crate::PROTOCOL_VERSION`] the firmware was built with.
    pub protocol_version: u16,
    /// A 64-bit identity unique to this device (for example from the MCU's factory-programmed unique id).
    pub device_id: u64,
    /// Firmware version.
    pub firmware_version: FirmwareVersion,
    /// Hardware revision, free text (`"rev-c"`).
    pub hardware_revision: String<MAX_HARDWARE_REVISION_LEN>,
    /// What this device can do.
    pub capabilities: Capabilities,
    /// Channels in the order the device reports them.
    pub channels: Vec<ChannelDescriptor, MAX_CHANNELS>,
}

/// A semantic firmware version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Schema)]
pub struct FirmwareVersion {
    /// Incompatible changes.
    pub major: u8,
    /// Compatible additions.
    pub minor: u8,
    /// Fixes.
    pub patch: u16,
}

/// Capability flags, a bit set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, Schema)]
pub struct Capabilities(pub u32);

impl Capabilities {
    /// Streams telemetry batches when streaming is on.
    pub const STREAMING: Self = Self(1 << 0);
    /// Implements the staged configuration lifecycle.
    pub const CONFIG: Self = Self(1 << 1);
    /// Has a LoRaWAN radio and takes LoRaWAN identities and keys.
    pub const LORAWAN: Self = Self(1 << 2);
    /// Reports over MQTT and takes MQTT credentials.
    pub const MQTT: Self = Self(1 << 3);
    /// Measures its own supply current at a high rate.
    pub const CURRENT_MEASUREMENT: Self = Self(1 << 4);
    /// Can blink an LED (or similar) when asked to identify itself.
    pub const IDENTIFY: Self = Self(1 << 5);
    /// Reboots on request.
    pub const REBOOT: Self = Self(1 << 6);
    /// Supports adaptive reporting.
    pub const ADAPTIVE_REPORTING: Self = Self(1 << 7);

    /// The empty set.
    pub const fn empty() -> Self {
        Self(0)
    }

    /// The union of two sets.
    #[must_use]
    pub const fn with(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Whether every flag of `other` is set here.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Each known flag with its name, for display.
    pub const NAMED: [(Self, &'static str); 8] = [
        (Self::STREAMING, "streaming"),
        (Self::CONFIG, "config"),
        (Self::LORAWAN, "lorawan"),
        (Self::MQTT, "mqtt"),
        (Self::CURRENT_MEASUREMENT, "current-measurement"),
        (Self::IDENTIFY, "identify"),
        (Self::REBOOT, "reboot"),
        (Self::ADAPTIVE_REPORTING, "adaptive-reporting"),
    ];
}

/// What a channel measures; decides where the host shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Schema)]
pub enum ChannelKind {
    /// An environmental or application sensor.
    Sensor,
    /// A supply current (shown in the power view).
    Current,
    /// A supply or battery voltage.
    Voltage,
    /// A digital line, 0 or 1.
    Logic,
    /// Text log lines rather than numbers.
    Log,
}

/// The integer type the device measures in; values travel as `i32` (or `u32` for current batches) but the
/// host uses this to show the raw range and to check for overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Schema)]
pub enum RawType {
    /// Unsigned 8-bit.
    U8,
    /// Signed 8-bit.
    I8,
    /// Unsigned 16-bit.
    U16,
    /// Signed 16-bit.
    I16,
    /// Unsigned 32-bit.
    U32,
    /// Signed 32-bit.
    I32,
}

impl RawType {
    /// Whether `raw` fits this type.
    pub const fn contains(self, raw: i64) -> bool {
        let (min, max) = match self {
            RawType::U8 => (0, u8::MAX as i64),
            RawType::I8 => (i8::MIN as i64, i8::MAX as i64),
            RawType::U16 => (0, u16::MAX as i64),
            RawType::I16 => (i16::MIN as i64, i16::MAX as i64),
            RawType::U32 => (0, u32::MAX as i64),
            RawType::I32 => (i32::MIN as i64, i32::MAX as i64),
        };
        raw >= min && raw <= max
    }
}

/// One channel of a device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub struct ChannelDescriptor {
    /// Id used in telemetry batches.
    pub id: u8,
    /// Short lowercase name (`temperature`).
    pub name: String<MAX_CHANNEL_NAME_LEN>,
    /// Physical unit (`°C`, `%`, `V`, `nA`).
    pub unit: String<MAX_UNIT_LEN>,
    /// What it measures.
    pub kind: ChannelKind,
    /// The integer type of raw samples.
    pub raw_type: RawType,
    /// Physical value = raw × `scale` + `offset`.
    pub scale: f64,
    /// See [`ChannelDescriptor::scale`].
    pub offset: f64,
    /// Nominal sample rate while streaming.
    pub nominal_rate_hz: f32,
}

impl ChannelDescriptor {
    /// The physical value of a raw sample.
    pub fn physical(&self, raw: i64) -> f64 {
        raw as f64 * self.scale + self.offset
    }
}
