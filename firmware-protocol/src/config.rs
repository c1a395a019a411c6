//! Device configuration and its lifecycle: read, stage, check, commit, discard.
//!
//! A device holds two slots: the committed configuration it runs with, and a staged one that the host builds
//! up with [`ConfigItem`]s. The host asks for the staged slot's [`ConfigView`] (secrets replaced by
//! [`Kcv`]s), compares the check values with its own, and commits naming the staged [`ConfigDigest`]; the
//! device keeps running its previous configuration until that commit completes.

use heapless::String;
use postcard_schema::Schema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::ConfigField;
use crate::kcv::{Kcv, SecretField, key_check_value};

/// Longest reporting interval a device accepts: one week.
pub const MAX_INTERVAL_SECS: u32 = 7 * 24 * 3600;
/// Highest streaming rate the protocol allows; a device may accept less.
pub const MAX_STREAM_RATE_HZ: u32 = 10_000_000;
/// Longest MQTT client id, user name and password, in bytes.
pub const MAX_MQTT_FIELD_LEN: usize = 64;

/// How often the device reports when adaptive reporting is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Schema)]
pub struct ReportingConfig {
    /// Seconds between reports, 1 ..= [`MAX_INTERVAL_SECS`].
    pub interval_secs: u32,
}

/// Adaptive reporting: report sooner when the reading changes, later when the battery is low.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Schema)]
pub struct AdaptiveReporting {
    /// Whether adaptive reporting replaces the fixed interval.
    pub enabled: bool,
    /// Interval while the reading is steady.
    pub base_interval_secs: u32,
    /// Shortest interval, used while the reading changes fast.
    pub min_interval_secs: u32,
    /// Longest interval, never exceeded even with the low-battery stretch.
    pub max_interval_secs: u32,
    /// Change of the primary reading that triggers an early report, in thousandths of its physical unit.
    pub change_threshold_milli: u32,
    /// Interval multiplier on low battery, in percent (100 = no stretch, 300 = three times longer), 100 ..= 1000.
    pub low_battery_stretch_percent: u16,
}

/// LoRaWAN identity and root key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Schema)]
pub struct LoraWanConfig {
    /// DevEUI, most significant byte first as printed on labels.
    pub dev_eui: [u8; 8],
    /// JoinEUI (AppEUI in LoRaWAN 1.0), most significant byte first.
    pub join_eui: [u8; 8],
    /// AppKey (LoRaWAN 1.0.x root key), a secret.
    pub app_key: [u8; 16],
}

/// MQTT client settings.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Schema)]
pub struct MqttConfig {
    /// Client identifier, printable ASCII without spaces, 1 ..= 64 bytes.
    pub client_id: String<MAX_MQTT_FIELD_LEN>,
    /// User name, may be empty.
    pub user: String<MAX_MQTT_FIELD_LEN>,
    /// Password, a secret, may be empty.
    pub password: String<MAX_MQTT_FIELD_LEN>,
}

/// Whether the device streams telemetry to the host, and how fast its current channel samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Schema)]
pub struct StreamingConfig {
    /// Streaming on or off.
    pub enabled: bool,
    /// Sample rate of the high-rate current channel, 1 ..= [`MAX_STREAM_RATE_HZ`].
    pub current_rate_hz: u32,
}

/// A device's whole configuration, secrets included; never leaves the device whole.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Schema)]
pub struct Config {
    /// Fixed interval.
    pub reporting: ReportingConfig,
    /// Adaptive reporting.
    pub adaptive: AdaptiveReporting,
    /// LoRaWAN identity and key.
    pub lorawan: LoraWanConfig,
    /// MQTT credentials.
    pub mqtt: MqttConfig,
    /// Streaming to the host.
    pub streaming: StreamingConfig,
}

/// One group of settings to stage; staging replaces that group in the staged slot.
#[derive(Clone, PartialEq, Serialize, Deserialize, Schema)]
pub enum ConfigItem {
    /// Replace the fixed interval.
    Reporting(ReportingConfig),
    /// Replace the adaptive reporting settings.
    Adaptive(AdaptiveReporting),
    /// Replace the LoRaWAN identity and key.
    LoraWan(LoraWanConfig),
    /// Replace the MQTT credentials.
    Mqtt(MqttConfig),
    /// Replace the streaming settings.
    Streaming(StreamingConfig),
}

/// A digest of a whole configuration (secrets included), naming exactly what a commit makes permanent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, Schema)]
pub struct ConfigDigest(pub [u8; 8]);

/// The LoRaWAN settings as the host may see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Schema)]
pub struct LoraWanView {
    /// DevEUI.
    pub dev_eui: [u8; 8],
    /// JoinEUI.
    pub join_eui: [u8; 8],
    /// Check value of the AppKey.
    pub app_key_kcv: Kcv,
}

/// The MQTT settings as the host may see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Schema)]
pub struct MqttView {
    /// Client identifier.
    pub client_id: String<MAX_MQTT_FIELD_LEN>,
    /// User name.
    pub user: String<MAX_MQTT_FIELD_LEN>,
    /// Check value of the password.
    pub password_kcv: Kcv,
}

/// A configuration as the device shows it: secrets replaced by check values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub struct ConfigView {
    /// Number of commits since the device's storage was created; the committed slot's own count.
    pub generation: u32,
    /// Digest of the whole configuration this view shows.
    pub digest: ConfigDigest,
    /// Fixed interval.
    pub reporting: ReportingConfig,
    /// Adaptive reporting.
    pub adaptive: AdaptiveReporting,
    /// LoRaWAN, AppKey as a check value.
    pub lorawan: LoraWanView,
    /// MQTT, password as a check value.
    pub mqtt: MqttView,
    /// Streaming.
    pub streaming: StreamingConfig,
}

/// Commit the staged configuration, which must still be the one with this digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Schema)]
pub struct CommitRequest {
    /// The digest from the check the host verified.
    pub digest: ConfigDigest,
}

/// What a completed commit made permanent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Schema)]
pub struct CommitReceipt {
    /// The new generation.
    pub generation: u32,
    /// The digest now in force.
    pub digest: ConfigDigest,
}

/// Blink (or otherwise show) so that a person can tell which board is which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Schema)]
pub struct IdentifyRequest {
    /// How long to identify, 1 ..= 60 000 ms.
    pub duration_ms: u16,
}

impl Default for Config {
    /// The factory configuration: 60 s interval, adaptive off, no LoRaWAN identity, no MQTT, streaming on at 1 kHz.
    fn default() -> Self {
        Config {
            reporting: ReportingConfig { interval_secs: 60 },
            adaptive: AdaptiveReporting {
                enabled: false,
                base_interval_secs: 60,
                min_interval_secs: 10,
                max_interval_secs: 3600,
                change_threshold_milli: 500,
                low_battery_stretch_percent: 200,
            },
            lorawan: LoraWanConfig { dev_eui: [0; 8], join_eui: [0; 8], app_key: [0; 16] },
            mqtt: MqttConfig { client_id: String::new(), user: String::new(), password: String::new() },
            streaming: StreamingConfig { enabled: true, current_rate_hz: 1000 },
        }
    }
}

impl ReportingConfig {
    /// Checks the ranges; names the offending field.
    pub fn validate(&self) -> Result<(), ConfigField> {
        check_interval(self.interval_secs, ConfigField::IntervalSecs)
    }
}

impl AdaptiveReporting {
    /// Checks ranges and that min ≤ base ≤ max; names the offending field.
    pub fn validate(&self) -> Result<(), ConfigField> {
        check_interval(self.min_interval_secs, ConfigField::AdaptiveMinIntervalSecs)?;
        check_interval(self.base_interval_secs, ConfigField::AdaptiveBaseIntervalSecs)?;
        check_interval(self.max_interval_secs, ConfigField::AdaptiveMaxIntervalSecs)?;
        if self.base_interval_secs < self.min_interval_secs {
            return Err(ConfigField::AdaptiveBaseIntervalSecs);
        }
        if self.max_interval_secs < self.base_interval_secs {
            return Err(ConfigField::AdaptiveMaxIntervalSecs);
        }
        if !(100..=1000).contains(&self.low_battery_stretch_percent) {
            return Err(ConfigField::AdaptiveLowBatteryStretch);
        }
        Ok(())
    }
}

impl LoraWanConfig {
    /// Rejects a DevEUI or AppKey of all zeros or all ones (unset or erased flash, never a real value).
    /// An all-zero JoinEUI is allowed: LoRaWAN 1.0 networks use it.
    pub fn validate(&self) -> Result<(), ConfigField> {
        if is_uniform(&self.dev_eui) {
            return Err(ConfigField::DevEui);
        }
        if self.join_eui == [0xFF; 8] {
            return Err(ConfigField::JoinEui);
        }
        if is_uniform(&self.app_key) {
            return Err(ConfigField::AppKey);
        }
        Ok(())
    }
}

impl MqttConfig {
    /// Client id: 1 ..= 64 printable ASCII characters without spaces; user and password: no control characters.
    pub fn validate(&self) -> Result<(), ConfigField> {
        let id = self.client_id.as_str();
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ConfigField::MqttClientId);
        }
        if self.user.chars().any(char::is_control) {
            return Err(ConfigField::MqttUser);
        }
        if self.password.chars().any(char::is_control) {
            return Err(ConfigField::MqttPassword);
        }
        Ok(())
    }
}

impl StreamingConfig {
    /// Rate in 1 ..= [`MAX_STREAM_RATE_HZ`].
    pub fn validate(&self) -> Result<(), ConfigField> {
        if !(1..=MAX_STREAM_RATE_HZ).contains(&self.current_rate_hz) {
            return Err(ConfigField::StreamingRate);
        }
        Ok(())
    }
}

impl IdentifyRequest {
    /// Duration in 1 ..= 60 000 ms.
    pub fn validate(&self) -> Result<(), ConfigField> {
        if !(1..=60_000).contains(&self.duration_ms) {
            return Err(ConfigField::IdentifyDuration);
        }
        Ok(())
    }
}

impl ConfigItem {
    /// Validates the item on its own.
    pub fn validate(&self) -> Result<(), ConfigField> {
        match self {
            ConfigItem::Reporting(r) => r.validate(),
            ConfigItem::Adaptive(a) => a.validate(),
            ConfigItem::LoraWan(l) => l.validate(),
            ConfigItem::Mqtt(m) => m.validate(),
            ConfigItem::Streaming(s) => s.validate(),
        }
    }
}

impl Config {
    /// Replaces the group `item` names.
    pub fn apply(&mut self, item: &ConfigItem) {
        match item {
            ConfigItem::Reporting(r) => self.reporting = *r,
            ConfigItem::Adaptive(a) => self.adaptive = *a,
            ConfigItem::LoraWan(l) => self.lorawan = l.clone(),
            ConfigItem::Mqtt(m) => self.mqtt = m.clone(),
            ConfigItem::Streaming(s) => self.streaming = *s,
        }
    }

    /// The digest of the whole configuration: SHA-256 over its postcard encoding, truncated to 8 bytes.
    pub fn digest(&self) -> ConfigDigest {
        let hasher = postcard::serialize_with_flavor(self, HashFlavor(Sha256::new())).unwrap_or_else(|_| Sha256::new());
        let full = hasher.finalize();
        let mut digest = [0u8; 8];
        digest.copy_from_slice(&full[..8]);
        ConfigDigest(digest)
    }

    /// The view the host may see, with check values computed for `device_id`.
    pub fn view(&self, device_id: u64, generation: u32) -> ConfigView {
        ConfigView {
            generation,
            digest: self.digest(),
            reporting: self.reporting,
            adaptive: self.adaptive,
            lorawan: LoraWanView {
                dev_eui: self.lorawan.dev_eui,
                join_eui: self.lorawan.join_eui,
                app_key_kcv: key_check_value(device_id, SecretField::AppKey, &self.lorawan.app_key),
            },
            mqtt: MqttView {
                client_id: self.mqtt.client_id.clone(),
                user: self.mqtt.user.clone(),
                password_kcv: key_check_value(device_id, SecretField::MqttPassword, self.mqtt.password.as_bytes()),
            },
            streaming: self.streaming,
        }
    }
}

// Secrets stay out of Debug output so they cannot reach a log by accident.
impl core::fmt::Debug for LoraWanConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LoraWanConfig")
            .field("dev_eui", &self.dev_eui)
            .field("join_eui", &self.join_eui)
            .field("app_key", &"<secret>")
            .finish()
    }
}

impl core::fmt::Debug for MqttConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MqttConfig")
            .field("client_id", &self.client_id)
            .field("user", &self.user)
            .field("password", &"<secret>")
            .finish()
    }
}

impl core::fmt::Debug for Config {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Config")
            .field("reporting", &self.reporting)
            .field("adaptive", &self.adaptive)
            .field("lorawan", &self.lorawan)
            .field("mqtt", &self.mqtt)
            .field("streaming", &self.streaming)
            .finish()
    }
}

impl core::fmt::Debug for ConfigItem {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ConfigItem::Reporting(r) => f.debug_tuple("Reporting").field(r).finish(),
            ConfigItem::Adaptive(a) => f.debug_tuple("Adaptive").field(a).finish(),
            ConfigItem::LoraWan(l) => f.debug_tuple("LoraWan").field(l).finish(),
            ConfigItem::Mqtt(m) => f.debug_tuple("Mqtt").field(m).finish(),
            ConfigItem::Streaming(s) => f.debug_tuple("Streaming").field(s).finish(),
        }
    }
}

impl core::fmt::Display for ConfigDigest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

fn check_interval(secs: u32, field: ConfigField) -> Result<(), ConfigField> {
    if (1..=MAX_INTERVAL_SECS).contains(&secs) { Ok(()) } else { Err(field) }
}

fn is_uniform(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| b == 0) || bytes.iter().all(|&b| b == 0xFF)
}

/// A postcard flavor that hashes instead of buffering, so a digest needs no scratch memory.
struct HashFlavor(Sha256);

impl postcard::ser_flavors::Flavor for HashFlavor {
    type Output = Sha256;

    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.0.update([data]);
        Ok(())
    }

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.0.update(data);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<Self::Output> {
        Ok(self.0)
    }
}
