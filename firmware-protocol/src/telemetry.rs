//! Telemetry messages a device publishes: sample batches, high-rate current batches and log lines.
//!
//! Telemetry is batched because per-frame overhead is what a link (and a radio) pays for: one frame carries
//! many samples with the device time of the first one and a fixed sample period. Samples are never
//! timestamped one by one.

use heapless::{String, Vec};
use postcard_schema::Schema;
use serde::{Deserialize, Serialize};

/// Most samples in one [`SampleBatch`].
pub const SAMPLE_BATCH_MAX_SAMPLES: usize = 32;
/// Most samples in one [`CurrentBatch`]; sized so a batch of worst-case values fits [`crate::MAX_PAYLOAD_LEN`].
pub const CURRENT_BATCH_MAX_SAMPLES: usize = 160;
/// Longest log line text in bytes.
pub const MAX_LOG_TEXT_LEN: usize = 96;

/// Evenly spaced samples of one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub struct SampleBatch {
    /// The channel these samples belong to ([`crate::ChannelDescriptor::id`]).
    pub channel_id: u8,
    /// Device time of the first sample, µs since the device booted.
    pub first_sample_time_us: u64,
    /// Time between consecutive samples, µs.
    pub sample_period_us: u32,
    /// Raw values, in the channel's raw units.
    pub values: Vec<i32, SAMPLE_BATCH_MAX_SAMPLES>,
}

/// Evenly spaced samples of a high-rate current channel (up to 1 MS/s and beyond, hence ns periods).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub struct CurrentBatch {
    /// The current channel's id.
    pub channel_id: u8,
    /// Device time of the first sample, µs since the device booted.
    pub first_sample_time_us: u64,
    /// Time between consecutive samples, ns.
    pub sample_period_ns: u32,
    /// Samples the device had to drop before this batch (its own buffer overflowed), so the host can show a gap.
    pub dropped_before: u32,
    /// Raw values, in the channel's raw units (nA for the simulated board).
    pub values: Vec<u32, CURRENT_BATCH_MAX_SAMPLES>,
}

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Schema)]
pub enum LogLevel {
    /// Very detailed.
    Trace,
    /// Diagnostic.
    Debug,
    /// Normal operation.
    Info,
    /// Something unexpected that the device handled.
    Warn,
    /// Something failed.
    Error,
}

/// One line of the device's log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub struct LogLine {
    /// Device time, µs since boot.
    pub device_time_us: u64,
    /// Severity.
    pub level: LogLevel,
    /// The text, cut to [`MAX_LOG_TEXT_LEN`] bytes.
    pub text: String<MAX_LOG_TEXT_LEN>,
}
