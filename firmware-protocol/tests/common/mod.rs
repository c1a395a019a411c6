#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Sample messages shared by the golden-bytes and round-trip tests.
#![allow(dead_code)]

use firmware_protocol::*;
use heapless::{String, Vec};

pub fn s<const N: usize>(text: &str) -> String<N> {
    String::try_from(text).unwrap()
}

pub fn device_info() -> DeviceInfo {
    let mut channels = Vec::new();
    channels
        .push(ChannelDescriptor {
            id: 0,
            name: s("temperature"),
            unit: s("°C"),
            kind: ChannelKind::Sensor,
            raw_type: RawType::I16,
            scale: 0.01,
            offset: 0.0,
            nominal_rate_hz: 10.0,
        })
        .unwrap();
    channels
        .push(ChannelDescriptor {
            id: 3,
            name: s("current"),
            unit: s("nA"),
            kind: ChannelKind::Current,
            raw_type: RawType::U32,
            scale: 1.0,
            offset: 0.0,
            nominal_rate_hz: 1000.0,
        })
        .unwrap();
    DeviceInfo {
        protocol_version: PROTOCOL_VERSION,
        device_id: 0x0123_4567_89AB_CDEF,
        firmware_version: FirmwareVersion { major: 1, minor: 2, patch: 3 },
        hardware_revision: s("rev-c"),
        capabilities: Capabilities::STREAMING.with(Capabilities::CONFIG).with(Capabilities::LORAWAN),
        channels,
    }
}

pub fn lorawan() -> LoraWanConfig {
    LoraWanConfig {
        dev_eui: [0x70, 0xB3, 0xD5, 0x7E, 0xD0, 0x00, 0x00, 0x01],
        join_eui: [0; 8],
        app_key: [0x2B, 0x7E, 0x15, 0x16, 0x28, 0xAE, 0xD2, 0xA6, 0xAB, 0xF7, 0x15, 0x88, 0x09, 0xCF, 0x4F, 0x3C],
    }
}

pub fn mqtt() -> MqttConfig {
    MqttConfig { client_id: s("bench-01"), user: s("sensor"), password: s("hunter2") }
}

pub fn config() -> Config {
    Config { lorawan: lorawan(), mqtt: mqtt(), ..Default::default() }
}

pub fn sample_batch() -> SampleBatch {
    SampleBatch {
        channel_id: 0,
        first_sample_time_us: 1_000_000,
        sample_period_us: 100_000,
        values: Vec::from_slice(&[2210, 2211, -5, 0]).unwrap(),
    }
}

pub fn current_batch() -> CurrentBatch {
    CurrentBatch {
        channel_id: 3,
        first_sample_time_us: 2_500_000,
        sample_period_ns: 1000,
        dropped_before: 0,
        values: Vec::from_slice(&[10_000, 10_250, 50_000_000, 120_000_000]).unwrap(),
    }
}

pub fn log_line() -> LogLine {
    LogLine { device_time_us: 42, level: LogLevel::Warn, text: s("radio: join retry 2") }
}
