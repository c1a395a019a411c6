//! Recording a device's placed batches into a `.btr` trace: one trace channel per device channel with a fixed
//! sample rate, values in base units (nA → A), gaps where the device's clock says samples are missing.
//!
//! A channel's first batch fixes its rate (the batch's sample period) and its start time; every later batch
//! lands at the sample index its time gives. A batch that starts later than the next index leaves a gap of
//! NaN of exactly the missing length; one that overlaps what is written (a resent batch) has its overlap
//! dropped. Jumps of more than [`MAX_GAP_S`] (a clock that restarted) are not filled: the batch is appended
//! where the trace ends. Channels without a sample period (text boards) are skipped and counted.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::model::live::{LiveChannel, Placed};
use crate::model::units::to_base_unit;
use crate::trace::{ChannelDef, TraceWriter, WriteError};

/// Longest gap filled with NaN; a longer jump is a clock discontinuity, not lost samples.
pub const MAX_GAP_S: f64 = 60.0;
/// How often samples are handed to the disk: the most a crash can lose.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(200);

/// One device channel's place in the trace.
#[derive(Debug, Clone, Copy)]
struct Mapped {
    trace_channel: usize,
    start_s: f64,
    rate_hz: f64,
    factor: f64,
}

/// A `.btr` file receiving placed batches.
pub struct TraceSink {
    /// The trace being written.
    pub writer: TraceWriter,
    /// Device channel index → trace channel, once seen.
    mapped: Vec<Option<Mapped>>,
    /// Names of channels left out (no fixed rate).
    pub skipped: Vec<String>,
    last_flush: Instant,
}

impl TraceSink {
    /// Creates the file.
    pub fn create(path: &Path) -> Result<Self, WriteError> {
        Ok(Self {
            writer: TraceWriter::create(path)?,
            mapped: Vec::new(),
            skipped: Vec::new(),
            last_flush: Instant::now(),
        })
    }

    /// Writes one placed batch of `channel`.
    pub fn write(&mut self, channel: &LiveChannel, placed: &Placed) -> Result<(), WriteError> {
        if self.mapped.len() <= placed.channel {
            self.mapped.resize(placed.channel + 1, None);
        }
        let mapped = match self.mapped[placed.channel] {
            Some(mapped) => mapped,
            None => {
                if placed.period_s <= 0.0 || !placed.period_s.is_finite() {
                    if !self.skipped.contains(&channel.name) {
                        self.skipped.push(channel.name.clone());
                    }
                    return Ok(());
                }
                let (factor, unit) = to_base_unit(&channel.unit).unwrap_or((1.0, ""));
                let unit = if unit.is_empty() { channel.unit.clone() } else { unit.to_string() };
                let rate_hz = 1.0 / placed.period_s;
                let trace_channel = self.writer.add_channel(ChannelDef {
                    name: channel.name.clone(),
                    unit,
                    sample_rate_hz: rate_hz,
                    start_s: placed.t0_s,
                })?;
                let mapped = Mapped { trace_channel, start_s: placed.t0_s, rate_hz, factor };
                self.mapped[placed.channel] = Some(mapped);
                mapped
            }
        };
        let next = self.writer.sample_count(mapped.trace_channel);
        let at = ((placed.t0_s - mapped.start_s) * mapped.rate_hz).round();
        let mut values: &[f32] = &placed.values;
        if at.is_finite() && (at - next as f64).abs() <= MAX_GAP_S * mapped.rate_hz {
            let at = at.max(0.0) as u64;
            if at > next {
                self.writer.append_gap(mapped.trace_channel, at - next)?;
            } else {
                let overlap = ((next - at) as usize).min(values.len());
                values = &values[overlap..];
            }
        }
        let scaled: Vec<f32> = values.iter().map(|&v| (f64::from(v) * mapped.factor) as f32).collect();
        self.writer.append(mapped.trace_channel, &scaled)?;
        if self.last_flush.elapsed() >= FLUSH_INTERVAL {
            self.writer.flush()?;
            self.last_flush = Instant::now();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::series::{Series, SeriesLimits};
    use crate::trace::Trace;

    fn channel(name: &str, unit: &str) -> LiveChannel {
        LiveChannel {
            name: name.into(),
            unit: unit.into(),
            descriptor: firmware_protocol::ChannelDescriptor {
                id: 0,
                name: heapless::String::new(),
                unit: heapless::String::new(),
                kind: firmware_protocol::ChannelKind::Sensor,
                raw_type: firmware_protocol::RawType::I32,
                scale: 1.0,
                offset: 0.0,
                nominal_rate_hz: 0.0,
            },
            series: Series::new(SeriesLimits { raw_samples: 1, blocks_per_level: 1 }),
            dropped_samples: 0,
        }
    }

    fn placed(channel: usize, t0_s: f64, period_s: f64, values: Vec<f32>) -> Placed {
        Placed { channel, t0_s, period_s, values }
    }

    #[test]
    fn batches_land_at_their_time_with_exact_gaps_and_base_units() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rec.btr");
        let mut sink = TraceSink::create(&path).unwrap();
        let current = channel("current", "nA");
        let text = channel("rssi", "dBm");
        sink.write(&current, &placed(0, 1.0, 1e-3, vec![1000.0; 10])).unwrap();
        // 5 samples missing, then a batch that repeats the last two samples already written.
        sink.write(&current, &placed(0, 1.015, 1e-3, vec![2000.0; 4])).unwrap();
        sink.write(&current, &placed(0, 1.017, 1e-3, vec![3000.0; 4])).unwrap();
        sink.write(&text, &placed(1, 1.0, 0.0, vec![-60.0])).unwrap();
        assert_eq!(sink.skipped, vec!["rssi".to_string()]);
        sink.writer.finish().unwrap();
        let trace = Trace::open(&path).unwrap();
        let def = trace.channel(0).unwrap();
        assert_eq!((def.unit.as_str(), def.sample_rate_hz, def.start_s), ("A", 1000.0, 1.0));
        let samples = trace.read_samples(0, 0, 100).unwrap();
        assert_eq!(samples.len(), 21);
        assert!(samples[..10].iter().all(|&v| (v - 1e-6).abs() < 1e-12));
        assert!(samples[10..15].iter().all(|v| v.is_nan()), "{samples:?}");
        assert!(samples[15..19].iter().all(|&v| (v - 2e-6).abs() < 1e-12));
        assert!(samples[19..21].iter().all(|&v| (v - 3e-6).abs() < 1e-12));
    }
}
