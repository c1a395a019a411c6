//! Errors a device returns from an endpoint: one small `Copy` enum, cheap to carry on a microcontroller.
//!
//! Protocol-level failures (a request the device cannot parse, an endpoint it does not know) are reported by
//! postcard-rpc's own [`postcard_rpc::standard_icd::WireError`] on the error key; everything an endpoint
//! itself refuses is a [`DeviceError`] inside the endpoint's `Result` response.

use postcard_schema::Schema;
use serde::{Deserialize, Serialize};

/// Why a device refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Schema)]
pub enum DeviceError {
    /// The device does not implement this request.
    UnknownEndpoint,
    /// A configuration value is out of range or malformed; names the field.
    BadValue(ConfigField),
    /// The device is busy (for example writing flash); try again shortly.
    Busy,
    /// Writing or reading persistent storage failed; the previous configuration is still in force.
    StorageFailure,
    /// Commit, check or discard was asked for but nothing is staged.
    NothingStaged,
    /// The commit named a staged configuration other than the one staged now (someone staged in between).
    StagedMismatch,
    /// The device has no such capability (for example LoRaWAN keys on a Wi-Fi board).
    Unsupported,
}

/// A configuration field, as named in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Schema)]
pub enum ConfigField {
    /// [`crate::ReportingConfig::interval_secs`].
    IntervalSecs,
    /// [`crate::AdaptiveReporting::base_interval_secs`].
    AdaptiveBaseIntervalSecs,
    /// [`crate::AdaptiveReporting::min_interval_secs`].
    AdaptiveMinIntervalSecs,
    /// [`crate::AdaptiveReporting::max_interval_secs`].
    AdaptiveMaxIntervalSecs,
    /// [`crate::AdaptiveReporting::change_threshold_milli`].
    AdaptiveChangeThreshold,
    /// [`crate::AdaptiveReporting::low_battery_stretch_percent`].
    AdaptiveLowBatteryStretch,
    /// [`crate::LoraWanConfig::dev_eui`].
    DevEui,
    /// [`crate::LoraWanConfig::join_eui`].
    JoinEui,
    /// [`crate::LoraWanConfig::app_key`].
    AppKey,
    /// [`crate::MqttConfig::client_id`].
    MqttClientId,
    /// [`crate::MqttConfig::user`].
    MqttUser,
    /// [`crate::MqttConfig::password`].
    MqttPassword,
    /// [`crate::StreamingConfig::current_rate_hz`].
    StreamingRate,
    /// [`crate::IdentifyRequest::duration_ms`].
    IdentifyDuration,
}

impl ConfigField {
    /// The field's name as users see it in the configuration.
    pub const fn name(self) -> &'static str {
        match self {
            ConfigField::IntervalSecs => "reporting interval",
            ConfigField::AdaptiveBaseIntervalSecs => "adaptive base interval",
            ConfigField::AdaptiveMinIntervalSecs => "adaptive minimum interval",
            ConfigField::AdaptiveMaxIntervalSecs => "adaptive maximum interval",
            ConfigField::AdaptiveChangeThreshold => "adaptive change threshold",
            ConfigField::AdaptiveLowBatteryStretch => "low-battery stretch",
            ConfigField::DevEui => "DevEUI",
            ConfigField::JoinEui => "JoinEUI",
            ConfigField::AppKey => "AppKey",
            ConfigField::MqttClientId => "MQTT client id",
            ConfigField::MqttUser => "MQTT user",
            ConfigField::MqttPassword => "MQTT password",
            ConfigField::StreamingRate => "streaming rate",
            ConfigField::IdentifyDuration => "identify duration",
        }
    }
}

impl core::fmt::Display for DeviceError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DeviceError::UnknownEndpoint => f.write_str("the device does not know this request"),
            DeviceError::BadValue(field) => write!(f, "the device refused the value of the {}", field.name()),
            DeviceError::Busy => f.write_str("the device is busy; try again"),
            DeviceError::StorageFailure => {
                f.write_str("the device could not write its storage; its previous configuration is still in force")
            }
            DeviceError::NothingStaged => f.write_str("nothing is staged on the device"),
            DeviceError::StagedMismatch => {
                f.write_str("the staged configuration changed since it was checked; check it again before committing")
            }
            DeviceError::Unsupported => f.write_str("the device does not support this"),
        }
    }
}

impl core::error::Error for DeviceError {}
