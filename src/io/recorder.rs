//! Writing a device's samples to a file as they arrive, chosen by the file's extension: one row per sample
//! (`time_s`, `channel`, `value`, `unit`) as CSV (spreadsheets) or Parquet (pandas, polars), or a `.btr`
//! trace (see [`crate::trace`]) for current and other fixed-rate channels, in SI units.
//!
//! Rows are written in the order batches arrive, so each channel's rows are in time order while channels
//! interleave by batch. CSV is flushed as it goes and survives a crash up to the last buffer; Parquet is
//! written in row groups and is readable only once [`Recorder::finish`] has written its footer, so prefer CSV
//! for long unattended recordings.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, Float32Array, Float64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use thiserror::Error;

use super::replay::RecordedChannel;
use super::trace_sink::TraceSink;
use crate::model::live::{LiveDevice, Placed};

/// Why a recording could not be written.
#[derive(Debug, Error)]
pub enum RecordError {
    /// The file could not be created.
    #[error("could not create the recording ({error}); check that the folder exists and is writable: {path}")]
    Create {
        /// The file.
        path: PathBuf,
        /// The system's reason.
        error: std::io::Error,
    },
    /// Writing failed part way (disk full, file system gone).
    #[error("could not write {path}: {reason}; the rows written so far are kept")]
    Write {
        /// The file.
        path: PathBuf,
        /// The reason.
        reason: String,
    },
    /// An extension this build does not write.
    #[error("cannot record to `{0}`: use a .btr, .csv or .parquet file")]
    UnknownFormat(String),
    /// The trace writer failed.
    #[error(transparent)]
    Trace(#[from] crate::trace::WriteError),
}

/// Counts of what a recorder wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordSummary {
    /// Rows (samples) written.
    pub samples: u64,
    /// Distinct channels that had at least one sample.
    pub channels: usize,
    /// Channels left out because they have no fixed sample rate (text boards) and the format needs one.
    pub skipped_channels: usize,
}

/// Rows per Parquet row group (and per batch handed to the Parquet writer).
const PARQUET_ROWS_PER_GROUP: usize = 64 * 1024;

/// The columns of a recording.
fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("time_s", DataType::Float64, false),
        Field::new("channel", DataType::Utf8, false),
        Field::new("value", DataType::Float32, false),
        Field::new("unit", DataType::Utf8, false),
    ]))
}

/// Rows waiting to become a Parquet row group.
#[derive(Default)]
struct Columns {
    time_s: Vec<f64>,
    channel: Vec<String>,
    value: Vec<f32>,
    unit: Vec<String>,
}

enum Sink {
    Csv(csv::Writer<BufWriter<File>>),
    Parquet { writer: ArrowWriter<File>, columns: Columns },
    Trace(TraceSink),
}

/// A file being recorded.
pub struct Recorder {
    path: PathBuf,
    sink: Sink,
    summary: RecordSummary,
    seen: Vec<bool>,
}

impl Recorder {
    /// Creates `path`; the format comes from its extension (`.csv` or `.parquet`).
    pub fn create(path: &Path) -> Result<Self, RecordError> {
        let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        if extension == "btr" {
            let sink = Sink::Trace(TraceSink::create(path)?);
            return Ok(Self { path: path.to_path_buf(), sink, summary: RecordSummary::default(), seen: Vec::new() });
        }
        if extension != "csv" && extension != "parquet" {
            return Err(RecordError::UnknownFormat(path.display().to_string()));
        }
        let file = File::create(path).map_err(|error| RecordError::Create { path: path.to_path_buf(), error })?;
        let write_error = |reason: String| RecordError::Write { path: path.to_path_buf(), reason };
        let sink = if extension == "csv" {
            let mut writer = csv::Writer::from_writer(BufWriter::with_capacity(1 << 16, file));
            writer.write_record(["time_s", "channel", "value", "unit"]).map_err(|e| write_error(e.to_string()))?;
            Sink::Csv(writer)
        } else {
            let properties = WriterProperties::builder()
                .set_compression(Compression::SNAPPY)
                .set_max_row_group_row_count(Some(PARQUET_ROWS_PER_GROUP))
                .build();
            let writer =
                ArrowWriter::try_new(file, schema(), Some(properties)).map_err(|e| write_error(e.to_string()))?;
            Sink::Parquet { writer, columns: Columns::default() }
        };
        Ok(Self { path: path.to_path_buf(), sink, summary: RecordSummary::default(), seen: Vec::new() })
    }

    /// Writes one placed batch of `device`'s channel.
    pub fn write(&mut self, device: &LiveDevice, placed: &Placed) -> Result<(), RecordError> {
        let Some(channel) = device.channels.get(placed.channel) else { return Ok(()) };
        if self.seen.len() <= placed.channel {
            self.seen.resize(placed.channel + 1, false);
        }
        if !self.seen[placed.channel] && !placed.values.is_empty() {
            self.seen[placed.channel] = true;
            self.summary.channels += 1;
        }
        let times = (0..placed.values.len()).map(|i| placed.t0_s + i as f64 * placed.period_s);
        match &mut self.sink {
            Sink::Trace(sink) => {
                let before = sink.skipped.len();
                sink.write(channel, placed)?;
                self.summary.skipped_channels += sink.skipped.len() - before;
            }
            Sink::Csv(writer) => {
                for (t, value) in times.zip(&placed.values) {
                    writer
                        .write_record([
                            format!("{t:.6}"),
                            channel.name.clone(),
                            value.to_string(),
                            channel.unit.clone(),
                        ])
                        .map_err(|e| RecordError::Write { path: self.path.clone(), reason: e.to_string() })?;
                }
            }
            Sink::Parquet { columns, .. } => {
                columns.time_s.extend(times);
                columns.value.extend_from_slice(&placed.values);
                columns.channel.extend(std::iter::repeat_n(channel.name.clone(), placed.values.len()));
                columns.unit.extend(std::iter::repeat_n(channel.unit.clone(), placed.values.len()));
            }
        }
        self.summary.samples += placed.values.len() as u64;
        if let Sink::Parquet { columns, .. } = &self.sink
            && columns.time_s.len() >= PARQUET_ROWS_PER_GROUP
        {
            self.flush_parquet()?;
        }
        Ok(())
    }

    /// Writes samples that are already on the timeline (an export of what the window holds).
    pub fn write_points(&mut self, name: &str, unit: &str, points: &[(f64, f32)]) -> Result<(), RecordError> {
        if points.is_empty() {
            return Ok(());
        }
        self.summary.channels += 1;
        match &mut self.sink {
            Sink::Trace(_) => return Err(RecordError::UnknownFormat(self.path.display().to_string())),
            Sink::Csv(writer) => {
                for (t, value) in points {
                    writer
                        .write_record([format!("{t:.6}"), name.to_string(), value.to_string(), unit.to_string()])
                        .map_err(|e| RecordError::Write { path: self.path.clone(), reason: e.to_string() })?;
                }
            }
            Sink::Parquet { columns, .. } => {
                columns.time_s.extend(points.iter().map(|(t, _)| *t));
                columns.value.extend(points.iter().map(|(_, v)| *v));
                columns.channel.extend(std::iter::repeat_n(name.to_string(), points.len()));
                columns.unit.extend(std::iter::repeat_n(unit.to_string(), points.len()));
            }
        }
        self.summary.samples += points.len() as u64;
        self.flush_parquet()
    }

    fn flush_parquet(&mut self) -> Result<(), RecordError> {
        let Sink::Parquet { writer, columns } = &mut self.sink else { return Ok(()) };
        if columns.time_s.is_empty() {
            return Ok(());
        }
        let taken = std::mem::take(columns);
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(Float64Array::from(taken.time_s)),
            Arc::new(StringArray::from(taken.channel)),
            Arc::new(Float32Array::from(taken.value)),
            Arc::new(StringArray::from(taken.unit)),
        ];
        let write_error = |reason: String| RecordError::Write { path: self.path.clone(), reason };
        let batch = RecordBatch::try_new(schema(), arrays).map_err(|e| write_error(e.to_string()))?;
        writer.write(&batch).map_err(|e| write_error(e.to_string()))
    }

    /// Records a fact about the recording (source, device); only `.btr` files keep it.
    pub fn describe(&mut self, key: &str, value: serde_json::Value) -> Result<(), RecordError> {
        if let Sink::Trace(sink) = &mut self.sink {
            sink.writer.set_meta(key, value)?;
        }
        Ok(())
    }

    /// Flushes and closes the file.
    pub fn finish(mut self) -> Result<RecordSummary, RecordError> {
        self.flush_parquet()?;
        let path = self.path.clone();
        let write_error = |reason: String| RecordError::Write { path: path.clone(), reason };
        match self.sink {
            Sink::Csv(mut writer) => writer.flush().map_err(|e| write_error(e.to_string()))?,
            Sink::Parquet { writer, .. } => {
                writer.close().map_err(|e| write_error(e.to_string()))?;
            }
            Sink::Trace(sink) => sink.writer.finish()?,
        }
        Ok(self.summary)
    }
}

/// Writes channels' samples to `path` in one go; for exports from the window.
pub fn export(path: &Path, channels: &[RecordedChannel]) -> Result<RecordSummary, RecordError> {
    let mut recorder = Recorder::create(path)?;
    for channel in channels {
        recorder.write_points(&channel.name, &channel.unit, &channel.points)?;
    }
    recorder.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_read_back_the_same_in_both_formats() {
        let dir = tempfile::tempdir().unwrap();
        let channel = |name: &str, unit: &str, points: Vec<(f64, f32)>| RecordedChannel {
            name: name.into(),
            unit: unit.into(),
            points,
        };
        let channels =
            vec![channel("temp", "°C", vec![(0.5, 21.5), (1.5, 21.75)]), channel("rssi, dBm", "", vec![(0.7, -61.0)])];
        for name in ["view.csv", "view.parquet"] {
            let path = dir.path().join(name);
            let summary = export(&path, &channels).unwrap();
            assert_eq!((summary.samples, summary.channels), (3, 2));
            let back = crate::io::replay::read_recording(&path).unwrap();
            assert_eq!(back.len(), 2, "{name}");
            assert_eq!(back[0].points, channels[0].points, "{name}");
            assert_eq!(back[1].name, "rssi, dBm", "{name}: a comma in a name survives");
            assert_eq!(back[0].unit, "°C");
        }
    }
}
