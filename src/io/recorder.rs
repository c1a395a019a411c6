//! Writing a device's samples to a file as they arrive: CSV today (one row per sample: time, channel,
//! value, unit), the format spreadsheets, pandas and polars all open.
//!
//! Rows are written in the order batches arrive, so each channel's rows are in time order while channels
//! interleave by batch. The file is flushed when the recorder finishes; a recorder dropped without
//! [`Recorder::finish`] still flushes what it buffered.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::model::live::{LiveDevice, Placed};

/// Why a recording could not be written.
#[derive(Debug, Error)]
pub enum RecordError {
    /// The file could not be created.
    #[error("could not create {path}: {source}. Check that the folder exists and is writable")]
    Create {
        /// The file.
        path: PathBuf,
        /// The system's reason.
        source: std::io::Error,
    },
    /// Writing failed part way (disk full, file system gone).
    #[error("could not write {path}: {source}; the rows written so far are kept")]
    Write {
        /// The file.
        path: PathBuf,
        /// The reason.
        source: csv::Error,
    },
    /// An extension this build does not write.
    #[error("cannot record to `{0}`: use a .csv file")]
    UnknownFormat(String),
}

/// Counts of what a recorder wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordSummary {
    /// Rows (samples) written.
    pub samples: u64,
    /// Distinct channels that had at least one sample.
    pub channels: usize,
}

/// A file being recorded.
pub struct Recorder {
    path: PathBuf,
    writer: csv::Writer<BufWriter<File>>,
    summary: RecordSummary,
    seen: Vec<bool>,
}

impl Recorder {
    /// Creates `path`; the format comes from its extension.
    pub fn create(path: &Path) -> Result<Self, RecordError> {
        let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        if extension != "csv" {
            return Err(RecordError::UnknownFormat(path.display().to_string()));
        }
        let file = File::create(path).map_err(|source| RecordError::Create { path: path.to_path_buf(), source })?;
        let mut writer = csv::Writer::from_writer(BufWriter::with_capacity(1 << 16, file));
        writer
            .write_record(["time_s", "channel", "value", "unit"])
            .map_err(|source| RecordError::Write { path: path.to_path_buf(), source })?;
        Ok(Self { path: path.to_path_buf(), writer, summary: RecordSummary::default(), seen: Vec::new() })
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
        for (i, value) in placed.values.iter().enumerate() {
            let t = placed.t0_s + i as f64 * placed.period_s;
            self.writer
                .write_record([format!("{t:.6}"), channel.name.clone(), value.to_string(), channel.unit.clone()])
                .map_err(|source| RecordError::Write { path: self.path.clone(), source })?;
            self.summary.samples += 1;
        }
        Ok(())
    }

    /// Flushes and closes the file.
    pub fn finish(mut self) -> Result<RecordSummary, RecordError> {
        self.writer.flush().map_err(|e| RecordError::Write { path: self.path.clone(), source: csv::Error::from(e) })?;
        Ok(self.summary)
    }
}
