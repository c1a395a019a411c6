//! Writing a PPK2's decoded stream to a `.btr` trace: `current` in amperes at 100 kS/s, the logic inputs
//! `D0`…`D7` (0 or 1) beside it on the same time base, `range` (the measurement range 0–4 each sample was
//! taken in; 5–7 mark words with an invalid range, whose current is NaN), `over_range` (1 where the ADC was
//! pinned at full scale: the current shown there is a floor, not a reading), and optionally
//! `current_filtered`, the spike filter's output, next to the raw series it never replaces.
//!
//! Lost samples arrive from the decoder as gap samples and are written as NaN in every channel, so a gap has
//! its exact length everywhere. The decoder's counts (lost samples, resyncs, discarded bytes) go into the
//! trace's metadata when it is finished.

use std::path::Path;
use std::time::Instant;

use super::ppk2::SAMPLE_RATE_HZ;
use super::trace_sink::FLUSH_INTERVAL;
use crate::ppk2::{Block, DecodeStats, GAP, Metadata, OVER_RANGE, SpikeFilter};
use crate::trace::{ChannelDef, TraceWriter, WriteError};

/// A PPK2 recording being written.
pub struct Ppk2TraceSink {
    writer: TraceWriter,
    current: usize,
    logic: [usize; 8],
    range: usize,
    over_range: usize,
    filtered: Option<(usize, SpikeFilter)>,
    last_flush: Instant,
    scratch: Vec<f32>,
    /// Samples written (gaps included).
    pub samples: u64,
}

impl Ppk2TraceSink {
    /// Creates `path` with the PPK2's channels; `spike_filter` adds the filtered current channel.
    pub fn create(path: &Path, metadata: &Metadata, spike_filter: bool) -> Result<Self, WriteError> {
        let mut writer = TraceWriter::create(path)?;
        let def = |name: &str, unit: &str| ChannelDef {
            name: name.into(),
            unit: unit.into(),
            sample_rate_hz: SAMPLE_RATE_HZ,
            start_s: 0.0,
        };
        let current = writer.add_channel(def("current", "A"))?;
        let mut logic = [0usize; 8];
        for (bit, slot) in logic.iter_mut().enumerate() {
            *slot = writer.add_channel(def(&format!("D{bit}"), ""))?;
        }
        let range = writer.add_channel(def("range", ""))?;
        let over_range = writer.add_channel(def("over_range", ""))?;
        let filtered = if spike_filter {
            Some((writer.add_channel(def("current_filtered", "A"))?, SpikeFilter::default()))
        } else {
            None
        };
        writer.set_meta("source", serde_json::json!("ppk2"))?;
        writer.set_meta("voltage_v", serde_json::json!(f64::from(metadata.vdd_mv) / 1000.0))?;
        writer.set_meta(
            "ppk2",
            serde_json::json!({ "hardware": metadata.hardware, "vdd_mv": metadata.vdd_mv, "calibrated": metadata.calibrated }),
        )?;
        Ok(Self {
            writer,
            current,
            logic,
            range,
            over_range,
            filtered,
            last_flush: Instant::now(),
            scratch: Vec::new(),
            samples: 0,
        })
    }

    /// Appends a decoded block to every channel.
    pub fn write(&mut self, block: &Block) -> Result<(), WriteError> {
        self.writer.append(self.current, &block.current_a)?;
        for (bit, &channel) in self.logic.iter().enumerate() {
            self.scratch.clear();
            self.scratch.extend(
                block
                    .logic
                    .iter()
                    .zip(&block.flags)
                    .map(|(&logic, &flags)| if flags & GAP != 0 { f32::NAN } else { f32::from((logic >> bit) & 1) }),
            );
            self.writer.append(channel, &self.scratch)?;
        }
        self.scratch.clear();
        self.scratch.extend(
            block.range.iter().zip(&block.flags).map(
                |(&range, &flags)| {
                    if flags & GAP != 0 { f32::NAN } else { f32::from(range) }
                },
            ),
        );
        self.writer.append(self.range, &self.scratch)?;
        self.scratch.clear();
        self.scratch.extend(block.flags.iter().map(|&flags| {
            if flags & GAP != 0 {
                f32::NAN
            } else if flags & OVER_RANGE != 0 {
                1.0
            } else {
                0.0
            }
        }));
        self.writer.append(self.over_range, &self.scratch)?;
        if let Some((channel, filter)) = self.filtered.as_mut() {
            self.scratch.clear();
            self.scratch.extend(
                block.current_a.iter().zip(&block.range).map(|(&current_a, &range)| filter.filter(current_a, range)),
            );
            self.writer.append(*channel, &self.scratch)?;
        }
        self.samples += block.current_a.len() as u64;
        if self.last_flush.elapsed() >= FLUSH_INTERVAL {
            self.writer.flush()?;
            self.last_flush = Instant::now();
        }
        Ok(())
    }

    /// Records the decoder's counts and closes the file.
    pub fn finish(mut self, stats: &DecodeStats) -> Result<(), WriteError> {
        let stats = serde_json::json!({
            "samples": stats.samples,
            "lost_samples": stats.lost_samples,
            "gaps": stats.gaps,
            "resyncs": stats.resyncs,
            "discarded_bytes": stats.discarded_bytes,
            "over_range": stats.over_range,
            "invalid_range": stats.invalid_range,
            "suspected_unreported_samples": stats.suspected_unreported_samples,
        });
        self.writer.set_meta("ppk2_stats", stats)?;
        self.writer.finish()
    }
}
