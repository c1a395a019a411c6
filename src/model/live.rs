//! The live state of one device: its channels, each with a [`Series`], on the host's timeline.
//!
//! Devices stamp batches with their own clock (µs since boot). [`DeviceClock`] maps that onto the host's
//! timeline (seconds since the window started) with an offset fixed at the first batch, so sample spacing
//! stays exactly the device's; when the device clock jumps back (a reset), the offset is taken again.
//! Channels come from the device's own description, so plots need no configuration.

use firmware_protocol::{ChannelDescriptor, CurrentBatch, DeviceInfo, SampleBatch};

use super::series::{Series, SeriesLimits};

/// Maps a device's clock onto the host's timeline.
///
/// The offset is taken from the first batch (its last sample is stamped with the time it arrived) and kept,
/// so the device's own sample spacing survives arrival jitter. A channel whose batch starts no later than
/// its previous batch ended means the device clock restarted (a reset): the offset is taken again.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeviceClock {
    /// Host seconds at device time zero, once known.
    offset_s: Option<f64>,
    /// Device time at which each channel's latest batch ended, µs.
    channel_end_us: std::collections::BTreeMap<u8, u64>,
    /// Times the device clock went backwards and the offset was taken again.
    pub resyncs: u32,
}

impl DeviceClock {
    /// Host time of `device_us`, the first sample of a batch of `channel` ending at `device_end_us` that was
    /// received at `host_now_s`.
    pub fn to_host(&mut self, channel: u8, device_us: u64, device_end_us: u64, host_now_s: f64) -> f64 {
        let restarted = self.channel_end_us.get(&channel).is_some_and(|&end| device_us <= end);
        if restarted {
            self.resyncs += 1;
            self.channel_end_us.clear();
        }
        if self.offset_s.is_none() || restarted {
            self.offset_s = Some(host_now_s - device_end_us as f64 * 1e-6);
        }
        self.channel_end_us.insert(channel, device_end_us);
        self.offset_s.unwrap_or(host_now_s) + device_us as f64 * 1e-6
    }

    /// Forgets the offset, for a new connection: the device may have kept running or restarted meanwhile.
    pub fn reset(&mut self) {
        let resyncs = self.resyncs;
        *self = Self { resyncs, ..Self::default() };
    }
}

/// One channel's description and data.
#[derive(Debug, Clone)]
pub struct LiveChannel {
    /// Full name (a text board's label may be longer than a protocol channel name).
    pub name: String,
    /// Unit, empty when unknown.
    pub unit: String,
    /// What the device says the channel is.
    pub descriptor: ChannelDescriptor,
    /// Physical values over time.
    pub series: Series,
    /// Samples the device reported as dropped.
    pub dropped_samples: u64,
}

/// A device's channels and clock.
#[derive(Debug, Clone)]
pub struct LiveDevice {
    /// The device's description.
    pub info: DeviceInfo,
    /// One entry per channel, in the device's order.
    pub channels: Vec<LiveChannel>,
    /// Device clock to host timeline.
    pub clock: DeviceClock,
    /// Batches naming a channel the device did not describe.
    pub unknown_channel_batches: u64,
    limits: SeriesLimits,
}

/// A batch placed on the host timeline in physical units, ready to store or to write out.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    /// Index into [`LiveDevice::channels`].
    pub channel: usize,
    /// Host time of the first value, s.
    pub t0_s: f64,
    /// Time between values, s (0 for a single value).
    pub period_s: f64,
    /// Physical values.
    pub values: Vec<f32>,
}

impl LiveDevice {
    /// An empty store for the device `info` describes.
    pub fn new(info: DeviceInfo, limits: SeriesLimits) -> Self {
        let channels = info
            .channels
            .iter()
            .map(|descriptor| LiveChannel {
                name: descriptor.name.to_string(),
                unit: descriptor.unit.to_string(),
                descriptor: descriptor.clone(),
                series: Series::new(limits),
                dropped_samples: 0,
            })
            .collect();
        Self { info, channels, clock: DeviceClock::default(), unknown_channel_batches: 0, limits }
    }

    fn channel_index(&mut self, id: u8) -> Option<usize> {
        let found = self.channels.iter().position(|c| c.descriptor.id == id);
        if found.is_none() {
            self.unknown_channel_batches += 1;
        }
        found
    }

    /// Places a sample batch received at `host_now_s` on the timeline, without storing it.
    pub fn place_samples(&mut self, batch: &SampleBatch, host_now_s: f64) -> Option<Placed> {
        let n = batch.values.len() as u64;
        let end_us = batch.first_sample_time_us + n.saturating_sub(1) * u64::from(batch.sample_period_us);
        let t0_s = self.clock.to_host(batch.channel_id, batch.first_sample_time_us, end_us, host_now_s);
        let channel = self.channel_index(batch.channel_id)?;
        let descriptor = &self.channels[channel].descriptor;
        let values = batch.values.iter().map(|&raw| descriptor.physical(i64::from(raw)) as f32).collect();
        Some(Placed { channel, t0_s, period_s: f64::from(batch.sample_period_us) * 1e-6, values })
    }

    /// Places a current batch received at `host_now_s` on the timeline, without storing it.
    pub fn place_current(&mut self, batch: &CurrentBatch, host_now_s: f64) -> Option<Placed> {
        let n = batch.values.len() as u64;
        let period_ns = u64::from(batch.sample_period_ns);
        let end_us = batch.first_sample_time_us + n.saturating_sub(1) * period_ns / 1000;
        let t0_s = self.clock.to_host(batch.channel_id, batch.first_sample_time_us, end_us, host_now_s);
        let channel = self.channel_index(batch.channel_id)?;
        let live = &mut self.channels[channel];
        live.dropped_samples += u64::from(batch.dropped_before);
        let values = batch.values.iter().map(|&raw| live.descriptor.physical(i64::from(raw)) as f32).collect();
        Some(Placed { channel, t0_s, period_s: period_ns as f64 * 1e-9, values })
    }

    /// Places named values of a text line received at `host_now_s`, adding channels for new names.
    pub fn place_named(&mut self, values: &[(String, f64)], host_now_s: f64) -> Vec<Placed> {
        values
            .iter()
            .filter_map(|(name, value)| {
                let channel = self.named_channel(name)?;
                Some(Placed { channel, t0_s: host_now_s, period_s: 0.0, values: vec![*value as f32] })
            })
            .collect()
    }

    /// The channel called `name`, created if new (text boards describe channels by naming them).
    fn named_channel(&mut self, name: &str) -> Option<usize> {
        if let Some(i) = self.channels.iter().position(|c| c.name == name) {
            return Some(i);
        }
        let id = u8::try_from(self.channels.len()).ok()?;
        let mut short = heapless::String::new();
        for c in name.chars() {
            if short.push(c).is_err() {
                break;
            }
        }
        let descriptor = ChannelDescriptor {
            id,
            name: short,
            unit: heapless::String::new(),
            kind: firmware_protocol::ChannelKind::Sensor,
            raw_type: firmware_protocol::RawType::I32,
            scale: 1.0,
            offset: 0.0,
            nominal_rate_hz: 0.0,
        };
        self.channels.push(LiveChannel {
            name: name.to_string(),
            unit: String::new(),
            descriptor,
            series: Series::new(self.limits),
            dropped_samples: 0,
        });
        Some(self.channels.len() - 1)
    }

    /// Stores samples already on the timeline (a recording read back), under the channel `name`.
    pub fn ingest_points(&mut self, name: &str, unit: &str, points: &[(f64, f32)]) {
        let Some(i) = self.named_channel(name) else { return };
        let channel = &mut self.channels[i];
        if channel.unit.is_empty() {
            channel.unit = unit.to_string();
        }
        for &(t, value) in points {
            channel.series.push(t, value);
        }
    }

    /// Stores a placed batch.
    pub fn store(&mut self, placed: &Placed) {
        if let Some(channel) = self.channels.get_mut(placed.channel) {
            channel.series.push_batch(placed.t0_s, placed.period_s, &placed.values);
        }
    }

    /// Places and stores a sample batch received at `host_now_s`.
    pub fn ingest_samples(&mut self, batch: &SampleBatch, host_now_s: f64) {
        if let Some(placed) = self.place_samples(batch, host_now_s) {
            self.store(&placed);
        }
    }

    /// Places and stores a current batch received at `host_now_s`.
    pub fn ingest_current(&mut self, batch: &CurrentBatch, host_now_s: f64) {
        if let Some(placed) = self.place_current(batch, host_now_s) {
            self.store(&placed);
        }
    }

    /// Places and stores the named values of a text line received at `host_now_s`.
    pub fn ingest_named(&mut self, values: &[(String, f64)], host_now_s: f64) {
        for placed in self.place_named(values, host_now_s) {
            self.store(&placed);
        }
    }

    /// Newest sample time over all channels.
    pub fn newest_s(&self) -> Option<f64> {
        self.channels.iter().filter_map(|c| c.series.last()).map(|(t, _)| t).reduce(f64::max)
    }

    /// Samples the device reported as dropped, over all channels.
    pub fn dropped_samples(&self) -> u64 {
        self.channels.iter().map(|c| c.dropped_samples).sum()
    }
}

#[cfg(test)]
mod tests {
    use firmware_protocol::*;
    use heapless::Vec as HVec;

    use super::*;

    fn info() -> DeviceInfo {
        let channel = |id, name: &str, unit: &str, scale| ChannelDescriptor {
            id,
            name: heapless::String::try_from(name).unwrap(),
            unit: heapless::String::try_from(unit).unwrap(),
            kind: ChannelKind::Sensor,
            raw_type: RawType::I16,
            scale,
            offset: 0.0,
            nominal_rate_hz: 10.0,
        };
        let mut channels = HVec::new();
        channels.push(channel(0, "temperature", "°C", 0.01)).unwrap();
        channels.push(channel(3, "current", "nA", 1.0)).unwrap();
        DeviceInfo {
            protocol_version: PROTOCOL_VERSION,
            device_id: 1,
            firmware_version: FirmwareVersion { major: 0, minor: 1, patch: 0 },
            hardware_revision: heapless::String::new(),
            capabilities: Capabilities::empty(),
            channels,
        }
    }

    #[test]
    fn batches_land_on_the_host_timeline_in_physical_units() {
        let mut device = LiveDevice::new(info(), SeriesLimits::default());
        let batch = SampleBatch {
            channel_id: 0,
            first_sample_time_us: 5_000_000,
            sample_period_us: 100_000,
            values: HVec::from_slice(&[2200, 2210, 2220]).unwrap(),
        };
        // Received at host time 10.2 s: the last sample (device 5.2 s) maps to 10.2 s.
        device.ingest_samples(&batch, 10.2);
        let samples: Vec<(f64, f32)> = device.channels[0].series.raw_range(0.0, 100.0).collect();
        assert_eq!(samples.len(), 3);
        assert!((samples[0].0 - 10.0).abs() < 1e-9 && (samples[2].0 - 10.2).abs() < 1e-9, "{samples:?}");
        assert_eq!(samples[1].1, 22.1);

        // The next batch keeps the device's spacing even if it arrives late.
        let next = SampleBatch { first_sample_time_us: 5_300_000, values: HVec::from_slice(&[2230]).unwrap(), ..batch };
        device.ingest_samples(&next, 12.0);
        assert_eq!(device.channels[0].series.last().map(|(t, _)| (t * 1e6).round() / 1e6), Some(10.3));
    }

    #[test]
    fn a_device_reset_resynchronises_the_clock() {
        let mut device = LiveDevice::new(info(), SeriesLimits::default());
        let at = |t_us, values: &[u32]| CurrentBatch {
            channel_id: 3,
            first_sample_time_us: t_us,
            sample_period_ns: 1_000_000,
            dropped_before: 7,
            values: HVec::from_slice(values).unwrap(),
        };
        device.ingest_current(&at(60_000_000, &[10, 20]), 100.0);
        device.ingest_current(&at(10_000, &[30]), 105.0);
        assert_eq!(device.clock.resyncs, 1);
        // A reset soon after boot is caught too: the channel's clock went back, however little.
        device.ingest_current(&at(20_000, &[31]), 105.1);
        device.ingest_current(&at(5_000, &[32]), 105.2);
        assert_eq!(device.clock.resyncs, 2);
        assert_eq!(device.channels[1].series.last().map(|(t, v)| ((t * 1000.0).round(), v)), Some((105_200.0, 32.0)));
        device.ingest_current(&at(6_000, &[33]), 105.3);
        assert_eq!(device.clock.resyncs, 2);
        assert_eq!(device.dropped_samples(), 7 * 5);
    }

    #[test]
    fn text_boards_grow_channels_by_name() {
        let mut device = LiveDevice::new(info(), SeriesLimits::default());
        let line = vec![("outside_temperature_c".to_string(), 4.5), ("temperature".to_string(), 21.0)];
        device.ingest_named(&line, 3.0);
        device.ingest_named(&line[..1], 4.0);
        assert_eq!(device.channels.len(), 3);
        assert_eq!(device.channels[2].name, "outside_temperature_c");
        assert_eq!(device.channels[2].series.raw_range(0.0, 10.0).collect::<Vec<_>>(), vec![(3.0, 4.5), (4.0, 4.5)]);
        // An existing protocol channel of the same name takes the value.
        assert_eq!(device.channels[0].series.last(), Some((3.0, 21.0)));
    }

    #[test]
    fn unknown_channels_are_counted_not_stored() {
        let mut device = LiveDevice::new(info(), SeriesLimits::default());
        let batch = SampleBatch { channel_id: 9, first_sample_time_us: 0, sample_period_us: 1, values: HVec::new() };
        device.ingest_samples(&batch, 1.0);
        assert_eq!(device.unknown_channel_batches, 1);
        assert!(device.channels.iter().all(|c| c.series.samples_total() == 0));
    }
}
