//! The simulated board: a device written against `firmware-protocol` the way firmware is, driven by the
//! caller's clock so that a seed and a sequence of inputs always give the same bytes out.
//!
//! The caller feeds it received bytes ([`SimBoard::receive`]) and asks for what it sends
//! ([`SimBoard::poll`]); nothing here touches a thread, a socket or the wall clock. Faults from
//! [`Faults`] are applied to the bytes on their way out.

use std::collections::VecDeque;

use firmware_protocol::firmware::{FrameWriter, Request, SCHEMA_DATA_KEY, for_each_schema_message};
use firmware_protocol::telemetry::{CURRENT_BATCH_MAX_SAMPLES, SAMPLE_BATCH_MAX_SAMPLES};
use firmware_protocol::*;
use heapless::{String, Vec as HVec};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

use super::faults::Faults;
use super::storage::SimStorage;
use super::stream::{ChannelStream, Due};
use super::waveform::{Noise, phase_at};

/// Highest current sample rate the simulated board accepts.
pub const MAX_CURRENT_RATE_HZ: u32 = 1_000_000;
/// Channel ids of the simulated board.
pub const TEMPERATURE: u8 = 0;
/// See [`TEMPERATURE`].
pub const HUMIDITY: u8 = 1;
/// See [`TEMPERATURE`].
pub const BATTERY: u8 = 2;
/// See [`TEMPERATURE`].
pub const CURRENT: u8 = 3;
/// Sample rate of the three slow sensor channels.
pub const SENSOR_RATE_HZ: f64 = 10.0;

/// How to build a simulated board.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SimOptions {
    /// Seed of all randomness; also decides the device id.
    pub seed: u64,
    /// Faults to inject.
    pub faults: Faults,
}

/// Everything that happened that a test or the CLI may want to know.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimCounters {
    /// Resets since creation (requested, or caused by a fault).
    pub resets: u32,
    /// Bytes dropped by the drop-bytes fault.
    pub dropped_bytes: u64,
    /// Frames corrupted by the corrupt fault.
    pub corrupted_frames: u64,
    /// Requests handled.
    pub requests: u64,
}

/// The simulated board; see the module docs.
pub struct SimBoard {
    options: SimOptions,
    device_id: u64,
    rng: Pcg64Mcg,
    storage: SimStorage,
    generation: u32,
    config: Config,
    staged: Option<Config>,
    streaming: StreamingConfig,
    boot_us: u64,
    decoder: FrameDecoder,
    writer: FrameWriter,
    noise: Noise,
    sensors: [ChannelStream; 3],
    current: ChannelStream,
    sensor_values: [HVec<i32, SAMPLE_BATCH_MAX_SAMPLES>; 3],
    current_values: HVec<u32, CURRENT_BATCH_MAX_SAMPLES>,
    last_phase_transmit: bool,
    /// Frames waiting to go out, with the time they are due.
    outbox: VecDeque<(u64, Vec<u8>)>,
    reset_pending: bool,
    counters: SimCounters,
}

impl SimBoard {
    /// A board that boots at `now_us` on the caller's clock.
    pub fn new(options: SimOptions, now_us: u64) -> Self {
        let device_id = device_id_for_seed(options.seed);
        let (generation, config) = SimStorage::default().load();
        let mut board = Self {
            rng: Pcg64Mcg::seed_from_u64(options.seed),
            options,
            device_id,
            storage: SimStorage::default(),
            generation,
            streaming: config.streaming,
            config,
            staged: None,
            boot_us: now_us,
            decoder: FrameDecoder::new(),
            writer: FrameWriter::new(),
            noise: Noise::default(),
            sensors: std::array::from_fn(|_| ChannelStream::new(SENSOR_RATE_HZ, 0, SAMPLE_BATCH_MAX_SAMPLES)),
            current: ChannelStream::new(1000.0, 0, CURRENT_BATCH_MAX_SAMPLES),
            sensor_values: Default::default(),
            current_values: HVec::new(),
            last_phase_transmit: false,
            outbox: VecDeque::new(),
            reset_pending: false,
            counters: SimCounters::default(),
        };
        board.boot(now_us, "power on");
        board
    }

    /// The board's 64-bit id.
    pub fn device_id(&self) -> u64 {
        self.device_id
    }

    /// Counters of what happened.
    pub fn counters(&self) -> SimCounters {
        self.counters
    }

    /// The committed configuration (what survives a reset), with its generation.
    pub fn committed(&self) -> (u32, Config) {
        self.storage.load()
    }

    /// What the board says about itself.
    pub fn device_info(&self) -> DeviceInfo {
        let channel = |id, name: &str, unit: &str, kind, raw_type, scale, rate| ChannelDescriptor {
            id,
            name: String::try_from(name).unwrap_or_default(),
            unit: String::try_from(unit).unwrap_or_default(),
            kind,
            raw_type,
            scale,
            offset: 0.0,
            nominal_rate_hz: rate,
        };
        let mut channels = HVec::new();
        let list = [
            channel(TEMPERATURE, "temperature", "°C", ChannelKind::Sensor, RawType::I16, 0.01, SENSOR_RATE_HZ as f32),
            channel(HUMIDITY, "humidity", "%", ChannelKind::Sensor, RawType::U16, 0.01, SENSOR_RATE_HZ as f32),
            channel(BATTERY, "battery", "V", ChannelKind::Voltage, RawType::U16, 0.001, SENSOR_RATE_HZ as f32),
            channel(
                CURRENT,
                "current",
                "nA",
                ChannelKind::Current,
                RawType::U32,
                1.0,
                self.streaming.current_rate_hz as f32,
            ),
        ];
        for descriptor in list {
            let _ = channels.push(descriptor);
        }
        DeviceInfo {
            protocol_version: PROTOCOL_VERSION,
            device_id: self.device_id,
            firmware_version: FirmwareVersion { major: 0, minor: 1, patch: 0 },
            hardware_revision: String::try_from("sim").unwrap_or_default(),
            capabilities: Capabilities::STREAMING
                .with(Capabilities::CONFIG)
                .with(Capabilities::LORAWAN)
                .with(Capabilities::MQTT)
                .with(Capabilities::CURRENT_MEASUREMENT)
                .with(Capabilities::IDENTIFY)
                .with(Capabilities::REBOOT)
                .with(Capabilities::ADAPTIVE_REPORTING),
            channels,
        }
    }

    /// Bytes arriving from the host at `now_us`.
    pub fn receive(&mut self, bytes: &[u8], now_us: u64) {
        let mut payloads = Vec::new();
        self.decoder.feed(bytes, |payload| payloads.push(payload.to_vec()));
        let resets = self.counters.resets;
        for payload in payloads {
            // After a reset, the rest of what arrived went to a board that was not listening.
            if self.reset_pending || self.counters.resets != resets {
                break;
            }
            self.handle(&payload, now_us);
        }
    }

    /// Advances the board to `now_us` and appends what it sends to `out`.
    pub fn poll(&mut self, now_us: u64, out: &mut Vec<u8>) {
        if self.reset_pending {
            // A requested reboot: the acknowledgement (and whatever was queued before it) goes out first.
            while let Some((_, frame)) = self.outbox.pop_front() {
                self.transmit(&frame, out);
            }
            self.reset(now_us, "reset");
        }
        self.sample(now_us);
        while self.outbox.front().is_some_and(|(due, _)| *due <= now_us) {
            if let Some((_, frame)) = self.outbox.pop_front() {
                self.transmit(&frame, out);
            }
        }
    }

    fn boot(&mut self, now_us: u64, reason: &str) {
        let (generation, config) = self.storage.load();
        self.generation = generation;
        self.streaming = config.streaming;
        self.config = config;
        self.staged = None;
        self.boot_us = now_us;
        self.decoder = FrameDecoder::new();
        self.restart_streams();
        let text = format!("booted ({reason}), configuration generation {generation}");
        self.log(now_us, LogLevel::Info, &text);
    }

    fn reset(&mut self, now_us: u64, reason: &str) {
        self.reset_pending = false;
        self.counters.resets += 1;
        self.outbox.clear();
        self.boot(now_us, reason);
    }

    fn restart_streams(&mut self) {
        let start_ns = 0;
        self.sensors = std::array::from_fn(|_| ChannelStream::new(SENSOR_RATE_HZ, start_ns, SAMPLE_BATCH_MAX_SAMPLES));
        self.current = ChannelStream::new(self.streaming.current_rate_hz as f64, start_ns, CURRENT_BATCH_MAX_SAMPLES);
        self.sensor_values = Default::default();
        self.current_values.clear();
    }

    fn device_time_us(&self, now_us: u64) -> u64 {
        now_us.saturating_sub(self.boot_us)
    }

    fn interval_us(&self) -> u64 {
        let secs = if self.config.adaptive.enabled {
            self.config.adaptive.base_interval_secs
        } else {
            self.config.reporting.interval_secs
        };
        u64::from(secs.max(1)) * 1_000_000
    }

    fn sample(&mut self, now_us: u64) {
        let device_now_ns = self.device_time_us(now_us) * 1000;
        let interval_us = self.interval_us();
        self.log_uplinks(now_us, interval_us);
        if !self.streaming.enabled {
            return;
        }
        loop {
            match self.current.next(device_now_ns) {
                Due::Sample { time_ns, .. } => {
                    let phase = phase_at(time_ns / 1000, interval_us);
                    let value = self.noise.current_na(phase, &mut self.rng);
                    let _ = self.current_values.push(value);
                }
                Due::Flush => self.send_current_batch(),
                Due::Idle => break,
            }
        }
        for channel in [TEMPERATURE, HUMIDITY, BATTERY] {
            let i = usize::from(channel);
            loop {
                match self.sensors[i].next(device_now_ns) {
                    Due::Sample { time_ns, .. } => {
                        let value = self.sensor_raw(channel, time_ns / 1000, interval_us);
                        let _ = self.sensor_values[i].push(value);
                    }
                    Due::Flush => self.send_sensor_batch(channel),
                    Due::Idle => break,
                }
            }
        }
    }

    fn sensor_raw(&mut self, channel: u8, time_us: u64, interval_us: u64) -> i32 {
        match channel {
            TEMPERATURE => (self.noise.temperature_c(time_us, &mut self.rng) * 100.0).round() as i32,
            HUMIDITY => (self.noise.humidity_percent(time_us, &mut self.rng) * 100.0).round() as i32,
            _ => {
                let current_na = phase_at(time_us, interval_us).mean_current_na();
                (self.noise.battery_v(time_us, current_na, &mut self.rng) * 1000.0).round() as i32
            }
        }
    }

    fn send_sensor_batch(&mut self, channel: u8) {
        let i = usize::from(channel);
        let (first_ns, _) = self.sensors[i].take_batch();
        let batch = SampleBatch {
            channel_id: channel,
            first_sample_time_us: first_ns / 1000,
            sample_period_us: (self.sensors[i].period_ns() / 1000) as u32,
            values: std::mem::take(&mut self.sensor_values[i]),
        };
        self.send_topic::<SampleBatchTopic>(&batch);
    }

    fn send_current_batch(&mut self) {
        let (first_ns, dropped) = self.current.take_batch();
        let batch = CurrentBatch {
            channel_id: CURRENT,
            first_sample_time_us: first_ns / 1000,
            sample_period_ns: self.current.period_ns() as u32,
            dropped_before: dropped.min(u64::from(u32::MAX)) as u32,
            values: std::mem::take(&mut self.current_values),
        };
        self.send_topic::<CurrentBatchTopic>(&batch);
    }

    /// A log line at the start of every uplink, as firmware would print it.
    fn log_uplinks(&mut self, now_us: u64, interval_us: u64) {
        let transmitting = phase_at(self.device_time_us(now_us), interval_us) == super::waveform::Phase::Transmit;
        if transmitting && !self.last_phase_transmit {
            self.log(now_us, LogLevel::Debug, "uplink: 20 bytes at SF7");
        }
        self.last_phase_transmit = transmitting;
    }

    fn log(&mut self, now_us: u64, level: LogLevel, text: &str) {
        let mut line = String::new();
        for c in text.chars() {
            if line.push(c).is_err() {
                break;
            }
        }
        let message = LogLine { device_time_us: self.device_time_us(now_us), level, text: line };
        self.send_topic::<LogTopic>(&message);
    }

    fn send_topic<T: postcard_rpc::Topic>(&mut self, message: &T::Message)
    where
        T::Message: serde::Serialize,
    {
        if let Ok(frame) = self.writer.topic::<T>(message) {
            // Telemetry is due at once; only answers can be made late by a fault.
            self.outbox.push_back((0, frame.to_vec()));
        }
    }

    fn answer(&mut self, frame: Result<Vec<u8>, FrameError>, due_us: u64) {
        if let Ok(frame) = frame {
            self.outbox.push_back((due_us, frame));
        }
    }

    fn handle(&mut self, payload: &[u8], now_us: u64) {
        let Some(request) = Request::parse(payload) else {
            return;
        };
        self.counters.requests += 1;
        let delay_us = self.options.faults.answer_delay.as_micros() as u64;
        macro_rules! reply {
            ($endpoint:ty, $value:expr) => {{
                let value = $value;
                let frame = self.writer.response::<$endpoint>(&request, &value).map(<[u8]>::to_vec);
                self.answer(frame, now_us + delay_us);
            }};
        }
        macro_rules! decode {
            ($endpoint:ty) => {
                match request.decode::<$endpoint>() {
                    Ok(value) => value,
                    Err(_) => {
                        let frame = self.writer.wire_error(&request, &WireError::DeserFailed).map(<[u8]>::to_vec);
                        self.answer(frame, now_us + delay_us);
                        return;
                    }
                }
            };
        }

        if request.is::<PingEndpoint>() {
            reply!(PingEndpoint, decode!(PingEndpoint));
        } else if request.is::<DeviceInfoEndpoint>() {
            reply!(DeviceInfoEndpoint, self.device_info());
        } else if request.is::<GetAllSchemasEndpoint>() {
            let mut frames = Vec::new();
            let writer = &mut self.writer;
            let totals = for_each_schema_message(|message| match writer.topic_raw(SCHEMA_DATA_KEY, &message) {
                Ok(frame) => {
                    frames.push(frame.to_vec());
                    true
                }
                Err(_) => false,
            });
            for frame in frames {
                self.outbox.push_back((now_us + delay_us, frame));
            }
            reply!(GetAllSchemasEndpoint, totals);
        } else if request.is::<ConfigReadEndpoint>() {
            reply!(ConfigReadEndpoint, self.config.view(self.device_id, self.generation));
        } else if request.is::<ConfigStageEndpoint>() {
            let item = decode!(ConfigStageEndpoint);
            reply!(ConfigStageEndpoint, self.stage(&item));
        } else if request.is::<ConfigCheckEndpoint>() {
            let result = match &self.staged {
                Some(staged) => Ok(staged.view(self.device_id, self.generation)),
                None => Err(DeviceError::NothingStaged),
            };
            reply!(ConfigCheckEndpoint, result);
        } else if request.is::<ConfigCommitEndpoint>() {
            let commit = decode!(ConfigCommitEndpoint);
            if self.options.faults.reset_on_commit && self.staged.is_some() {
                // Power fails half way through the flash write: no answer, a torn slot, a reboot.
                self.options.faults.reset_on_commit = false;
                if let Some(staged) = &self.staged {
                    self.storage.write(self.generation + 1, staged, true);
                }
                self.reset(now_us, "power loss during commit");
                return;
            }
            reply!(ConfigCommitEndpoint, self.commit(commit, now_us));
        } else if request.is::<ConfigDiscardEndpoint>() {
            let result = if self.staged.take().is_some() { Ok(()) } else { Err(DeviceError::NothingStaged) };
            reply!(ConfigDiscardEndpoint, result);
        } else if request.is::<StreamingSetEndpoint>() {
            let streaming = decode!(StreamingSetEndpoint);
            let result = self.validate_streaming(&streaming);
            if result.is_ok() {
                self.set_streaming(streaming);
            }
            reply!(StreamingSetEndpoint, result);
        } else if request.is::<IdentifyEndpoint>() {
            let identify = decode!(IdentifyEndpoint);
            let result = identify.validate().map_err(DeviceError::BadValue);
            if result.is_ok() {
                let text = format!("identify: blinking for {} ms", identify.duration_ms);
                self.log(now_us, LogLevel::Info, &text);
            }
            reply!(IdentifyEndpoint, result);
        } else if request.is::<RebootEndpoint>() {
            reply!(RebootEndpoint, Ack::Ok(()));
            // The answer goes out first; the reset happens on the next poll.
            self.reset_pending = true;
        } else {
            let frame = self.writer.wire_error(&request, &WireError::UnknownKey).map(<[u8]>::to_vec);
            self.answer(frame, now_us + delay_us);
        }
    }

    fn validate_streaming(&self, streaming: &StreamingConfig) -> Ack {
        streaming.validate().map_err(DeviceError::BadValue)?;
        if streaming.current_rate_hz > MAX_CURRENT_RATE_HZ {
            return Err(DeviceError::BadValue(ConfigField::StreamingRate));
        }
        Ok(())
    }

    /// Applies new streaming settings: samples already taken are sent, the new rate starts from the next
    /// sample time.
    fn set_streaming(&mut self, streaming: StreamingConfig) {
        self.streaming = streaming;
        if !self.current_values.is_empty() {
            self.send_current_batch();
        }
        let last = self.last_sample_time_ns();
        self.current = ChannelStream::new(self.streaming.current_rate_hz as f64, last, CURRENT_BATCH_MAX_SAMPLES);
        for channel in [TEMPERATURE, HUMIDITY, BATTERY] {
            if !self.sensor_values[usize::from(channel)].is_empty() {
                self.send_sensor_batch(channel);
            }
        }
        self.sensors = std::array::from_fn(|_| ChannelStream::new(SENSOR_RATE_HZ, last, SAMPLE_BATCH_MAX_SAMPLES));
    }

    fn last_sample_time_ns(&self) -> u64 {
        self.sensors[0].next_time_ns().max(self.current.next_time_ns())
    }

    fn stage(&mut self, item: &ConfigItem) -> Ack {
        item.validate().map_err(DeviceError::BadValue)?;
        if let ConfigItem::Streaming(streaming) = item {
            self.validate_streaming(streaming)?;
        }
        let config = self.config.clone();
        self.staged.get_or_insert(config).apply(item);
        Ok(())
    }

    fn commit(&mut self, request: CommitRequest, now_us: u64) -> CommitResult {
        let Some(staged) = self.staged.clone() else {
            // A retried commit whose first answer was lost: the configuration in force is the one asked for.
            return if request.digest == self.config.digest() {
                Ok(CommitReceipt { generation: self.generation, digest: request.digest })
            } else {
                Err(DeviceError::NothingStaged)
            };
        };
        if staged.digest() != request.digest {
            return Err(DeviceError::StagedMismatch);
        }
        let generation = self.generation + 1;
        self.storage.write(generation, &staged, false);
        if self.storage.load() != (generation, staged.clone()) {
            return Err(DeviceError::StorageFailure);
        }
        let streaming_changed = staged.streaming != self.config.streaming;
        self.generation = generation;
        self.config = staged;
        self.staged = None;
        if streaming_changed {
            self.set_streaming(self.config.streaming);
        }
        let text = format!("configuration generation {generation} committed");
        self.log(now_us, LogLevel::Info, &text);
        Ok(CommitReceipt { generation, digest: request.digest })
    }

    /// Moves one frame to `out`, through the fault switches.
    fn transmit(&mut self, frame: &[u8], out: &mut Vec<u8>) {
        let faults = &self.options.faults;
        let mut frame = frame.to_vec();
        if faults.corrupt_frame_probability > 0.0 && self.rng.random_bool(faults.corrupt_frame_probability) {
            let body_len = frame.len().saturating_sub(1).max(1);
            let at = self.rng.random_range(0..body_len);
            if let Some(byte) = frame.get_mut(at) {
                *byte ^= self.rng.random_range(1..=255u8);
            }
            self.counters.corrupted_frames += 1;
        }
        if faults.drop_byte_probability > 0.0 {
            let p = faults.drop_byte_probability;
            let before = frame.len();
            frame.retain(|_| !self.rng.random_bool(p));
            self.counters.dropped_bytes += (before - frame.len()) as u64;
        }
        out.extend_from_slice(&frame);
    }
}

/// A stable, distinct device id per seed (SplitMix64), with a recognisable `B7` top byte.
pub fn device_id_for_seed(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z & 0x00FF_FFFF_FFFF_FFFF) | 0xB700_0000_0000_0000
}

#[cfg(test)]
#[path = "board_tests.rs"]
mod tests;
