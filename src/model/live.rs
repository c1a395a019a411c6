//! The live state of one device: its channels, each with a [`Series`], on the host's timeline.
//!
//! Devices stamp batches with their own clock (µs since boot). [`DeviceClock`] maps that onto the host's
//! timeline (seconds since the window started) with an offset fixed at the first batch, so sample spacing
//! stays exactly the device's; when the device clock jumps back (a reset), the offset is taken again.
//! Channels come from the device's own description, so plots need no configuration.

use firmware_protocol::{ChannelDescriptor, CurrentBatch, DeviceInfo, SampleBatch};

use super::series::{Series, SeriesLimits};

/// Maps a device's clock onto the host's timeline.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DeviceClock {
    /// Host seconds at device time zero, once known.
    offset_s: Option<f64>,
    /// Latest device time seen, µs.
    last_device_us: u64,
    /// Times the device clock went backwards and the offset was taken again.
    pub resyncs: u32,
}

impl DeviceClock {
    /// Host time of `device_us`, given that a batch ending at `device_end_us` was received at `host_now_s`.
    pub fn to_host(&mut self, device_us: u64, device_end_us: u64, host_now_s: f64) -> f64 {
        // A clock more than a second behind what we saw means the device restarted.
        let restarted = device_end_us + 1_000_000 < self.last_device_us;
        if self.offset_s.is_none() || restarted {
            if restarted {
                self.resyncs += 1;
            }
            self.offset_s = Some(host_now_s - device_end_us as f64 * 1e-6);
        }
        self.last_device_us = self.last_device_us.max(device_end_us);
        if restarted {
            self.last_device_us = device_end_us;
        }
        self.offset_s.unwrap_or(host_now_s) + device_us as f64 * 1e-6
    }
}

/// One channel's description and data.
#[derive(Debug, Clone)]
pub struct LiveChannel {
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
}

impl LiveDevice {
    /// An empty store for the device `info` describes.
    pub fn new(info: DeviceInfo, limits: SeriesLimits) -> Self {
        let channels = info
            .channels
            .iter()
            .map(|descriptor| LiveChannel {
                descriptor: descriptor.clone(),
                series: Series::new(limits),
                dropped_samples: 0,
            })
            .collect();
        Self {
            info,
            channels,
            clock: DeviceClock::default(),
            unknown_channel_batches: 0,
        }
    }

    fn channel_mut(&mut self, id: u8) -> Option<&mut LiveChannel> {
        let found = self.channels.iter_mut().find(|c| c.descriptor.id == id);
        if found.is_none() {
            self.unknown_channel_batches += 1;
        }
        found
    }

    /// Adds a sample batch received at `host_now_s`.
    pub fn ingest_samples(&mut self, batch: &SampleBatch, host_now_s: f64) {
        let n = batch.values.len() as u64;
        let end_us =
            batch.first_sample_time_us + n.saturating_sub(1) * u64::from(batch.sample_period_us);
        let t0 = self
            .clock
            .to_host(batch.first_sample_time_us, end_us, host_now_s);
        let period_s = f64::from(batch.sample_period_us) * 1e-6;
        let Some(channel) = self.channel_mut(batch.channel_id) else {
            return;
        };
        let values: Vec<f32> = batch
            .values
            .iter()
            .map(|&raw| channel.descriptor.physical(i64::from(raw)) as f32)
            .collect();
        channel.series.push_batch(t0, period_s, &values);
    }

    /// Adds a current batch received at `host_now_s`.
    pub fn ingest_current(&mut self, batch: &CurrentBatch, host_now_s: f64) {
        let n = batch.values.len() as u64;
        let period_ns = u64::from(batch.sample_period_ns);
        let end_us = batch.first_sample_time_us + n.saturating_sub(1) * period_ns / 1000;
        let t0 = self
            .clock
            .to_host(batch.first_sample_time_us, end_us, host_now_s);
        let Some(channel) = self.channel_mut(batch.channel_id) else {
            return;
        };
        channel.dropped_samples += u64::from(batch.dropped_before);
        let values: Vec<f32> = batch
            .values
            .iter()
            .map(|&raw| channel.descriptor.physical(i64::from(raw)) as f32)
            .collect();
        channel
            .series
            .push_batch(t0, period_ns as f64 * 1e-9, &values);
    }

    /// Newest sample time over all channels.
    pub fn newest_s(&self) -> Option<f64> {
        self.channels
            .iter()
            .filter_map(|c| c.series.last())
            .map(|(t, _)| t)
            .reduce(f64::max)
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
        channels
            .push(channel(0, "temperature", "°C", 0.01))
            .unwrap();
        channels.push(channel(3, "current", "nA", 1.0)).unwrap();
        DeviceInfo {
            protocol_version: PROTOCOL_VERSION,
            device_id: 1,
            firmware_version: FirmwareVersion {
                major: 0,
                minor: 1,
                patch: 0,
            },
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
        assert!(
            (samples[0].0 - 10.0).abs() < 1e-9 && (samples[2].0 - 10.2).abs() < 1e-9,
            "{samples:?}"
        );
        assert_eq!(samples[1].1, 22.1);

        // The next batch keeps the device's spacing even if it arrives late.
        let next = SampleBatch {
            first_sample_time_us: 5_300_000,
            values: HVec::from_slice(&[2230]).unwrap(),
            ..batch
        };
        device.ingest_samples(&next, 12.0);
        assert_eq!(
            device.channels[0]
                .series
                .last()
                .map(|(t, _)| (t * 1e6).round() / 1e6),
            Some(10.3)
        );
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
        let (t, v) = device.channels[1].series.last().unwrap();
        assert_eq!(((t * 1000.0).round(), v), (105_000.0, 30.0));
        assert_eq!(device.dropped_samples(), 14);
    }

    #[test]
    fn unknown_channels_are_counted_not_stored() {
        let mut device = LiveDevice::new(info(), SeriesLimits::default());
        let batch = SampleBatch {
            channel_id: 9,
            first_sample_time_us: 0,
            sample_period_us: 1,
            values: HVec::new(),
        };
        device.ingest_samples(&batch, 1.0);
        assert_eq!(device.unknown_channel_batches, 1);
        assert!(
            device
                .channels
                .iter()
                .all(|c| c.series.samples_total() == 0)
        );
    }
}
