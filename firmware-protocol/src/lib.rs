#![no_std]
#![doc = include_str!("../README.md")]

pub mod ble;
pub mod config;
pub mod device;
pub mod error;
pub mod firmware;
pub mod framing;
pub mod icd;
pub mod kcv;
pub mod telemetry;

pub use config::{
    AdaptiveReporting, CommitReceipt, CommitRequest, Config, ConfigDigest, ConfigItem, ConfigView, IdentifyRequest,
    LoraWanConfig, LoraWanView, MqttConfig, MqttView, ReportingConfig, StreamingConfig,
};
pub use device::{Capabilities, ChannelDescriptor, ChannelKind, DeviceInfo, FirmwareVersion, RawType};
pub use error::{ConfigField, DeviceError};
pub use framing::{DecoderStats, FrameDecoder, FrameError, MAX_ENCODED_FRAME_LEN, MAX_PAYLOAD_LEN, encode_frame};
pub use icd::*;
pub use kcv::{Kcv, SecretField, key_check_value};
pub use telemetry::{CurrentBatch, LogLevel, LogLine, SampleBatch};

/// Re-exported so firmware and host use the same postcard-rpc items (header, keys, traits).
pub use postcard_rpc;

/// The protocol's version; a host refuses a device whose major protocol differs.
pub const PROTOCOL_VERSION: u16 = 1;
