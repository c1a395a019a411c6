//! Exporting a `.btr` trace, or a time range of it, to CSV (spreadsheets) or Parquet (pandas, polars).
//!
//! Layout: when every exported channel shares one sample rate and start time (a PPK2 import, a single
//! channel) the file is **wide**: a `time_s` column and one column per channel named `NAME_UNIT` (`current_A`;
//! just `NAME` for a channel without a unit, like the logic line `D0`), one row per sample. Otherwise the
//! samples of different channels do not line up in rows, and the file is **long**, Benchtop's recording
//! format: `time_s,channel,value,unit`, one row per sample, one channel after the other. Gaps (NaN samples,
//! and a channel that ends before the others in the wide layout) are empty cells in CSV and nulls in Parquet
//! (NaN in pandas). Both layouts import back with `benchtop trace import`.
//!
//! The trace is read in pieces of [`PIECE_SAMPLES`], so memory stays flat whatever the length; Parquet gets
//! one row group per piece. The file is written to `OUT.part` and renamed over `OUT` once complete.

use std::fmt::Write as _;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, Float32Array, Float64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use serde::Serialize;
use thiserror::Error;

use super::reader::{Trace, TraceError};

#[cfg(test)]
mod tests;

/// Samples read from the trace per piece (and rows per Parquet row group).
pub const PIECE_SAMPLES: u64 = 64 * 1024;

/// How rows are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// `time_s` and one column per channel.
    Wide,
    /// `time_s,channel,value,unit`.
    Long,
}

impl Layout {
    /// The layout's name as the summary prints it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Wide => "wide",
            Self::Long => "long",
        }
    }
}

/// What to export.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExportOptions {
    /// Start, s on the trace's time axis (default: the first sample).
    pub from_s: Option<f64>,
    /// End, s (default: the last sample).
    pub to_s: Option<f64>,
    /// Channels by name, in this order (default: all, in the trace's order).
    pub channels: Vec<String>,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportSummary {
    /// The file written.
    pub out_file: String,
    /// Row layout.
    pub layout: Layout,
    /// Channels exported, in column (or row) order.
    pub channels: Vec<String>,
    /// Rows written (header not counted).
    pub rows: u64,
    /// Samples with a value that were written.
    pub values: u64,
}

/// Why an export failed.
#[derive(Debug, Error)]
pub enum ExportError {
    /// The trace could not be read.
    #[error(transparent)]
    Trace(#[from] TraceError),
    /// The output format is not one this build writes.
    #[error("cannot export to this file type; name the output .csv or .parquet: {0}")]
    UnknownFormat(PathBuf),
    /// The range or channel choice selects nothing sensible.
    #[error("{problem}: {path}")]
    Selection {
        /// The trace.
        path: PathBuf,
        /// What is wrong and what to do.
        problem: String,
    },
    /// Writing failed.
    #[error("could not write the export ({reason}); check the disk and the folder: {path}")]
    Write {
        /// The output.
        path: PathBuf,
        /// The reason.
        reason: String,
    },
}

/// One exported channel and its sample range.
struct Column {
    channel: usize,
    header: String,
    name: String,
    unit: String,
    rate_hz: f64,
    start_s: f64,
    start: u64,
    end: u64,
}

/// Where rows go.
enum Sink {
    Csv(csv::Writer<BufWriter<File>>),
    Parquet(ArrowWriter<File>),
}

/// Exports `options`' channels and range of `trace` to `out` (`.csv` or `.parquet`).
pub fn export(trace: &Trace, out: &Path, options: &ExportOptions) -> Result<ExportSummary, ExportError> {
    let extension = out.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let parquet = match extension.as_str() {
        "csv" => false,
        "parquet" | "pq" => true,
        _ => return Err(ExportError::UnknownFormat(out.to_path_buf())),
    };
    if !super::import::folder_exists(out) {
        return Err(ExportError::Write {
            path: out.to_path_buf(),
            reason: "its folder does not exist; create it or choose another --out".into(),
        });
    }
    let columns = select(trace, options)?;
    let layout = if columns.windows(2).all(|w| w[0].rate_hz == w[1].rate_hz && w[0].start_s == w[1].start_s) {
        Layout::Wide
    } else {
        Layout::Long
    };
    let mut part_name = out.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    part_name.push(".part");
    let part = out.with_file_name(part_name);
    let mut writer = Writer { path: out.to_path_buf(), part: part.clone(), rows: 0, values: 0, text: String::new() };
    let result = writer.write(trace, &columns, layout, parquet);
    if let Err(error) = result {
        let _ = std::fs::remove_file(&part);
        return Err(error);
    }
    std::fs::rename(&part, out).map_err(|e| {
        let _ = std::fs::remove_file(&part);
        writer.error(e)
    })?;
    Ok(ExportSummary {
        out_file: out.display().to_string(),
        layout,
        channels: columns.into_iter().map(|c| c.name).collect(),
        rows: writer.rows,
        values: writer.values,
    })
}

/// The channels asked for, each with the sample range of the time range.
fn select(trace: &Trace, options: &ExportOptions) -> Result<Vec<Column>, ExportError> {
    let selection = |problem: String| ExportError::Selection { path: trace.path().to_path_buf(), problem };
    if let (Some(from), Some(to)) = (options.from_s, options.to_s)
        && to <= from
    {
        return Err(selection(format!("--to ({to} s) must be after --from ({from} s); swap or correct them")));
    }
    let ids: Vec<usize> = if options.channels.is_empty() {
        (0..trace.channel_count()).collect()
    } else {
        options.channels.iter().map(|name| trace.find_channel(name)).collect::<Result<_, _>>()?
    };
    if ids.is_empty() {
        return Err(selection("the trace has no channels, so there is nothing to export".into()));
    }
    let mut columns = Vec::with_capacity(ids.len());
    for channel in ids {
        let Some(def) = trace.channel(channel) else { continue };
        let count = trace.sample_count(channel);
        let index = |t: f64| trace.index_at(channel, t).round().clamp(0.0, count as f64) as u64;
        let header = if def.unit.is_empty() { def.name.clone() } else { format!("{}_{}", def.name, def.unit) };
        columns.push(Column {
            channel,
            header,
            name: def.name.clone(),
            unit: def.unit.clone(),
            rate_hz: def.sample_rate_hz,
            start_s: def.start_s,
            start: options.from_s.map_or(0, index),
            end: options.to_s.map_or(count, index),
        });
    }
    Ok(columns)
}

/// Decimal places of `time_s` at `rate_hz`: two more than a sample period needs, so times read back exactly
/// enough to give the same rate, without a tail of noise digits.
fn time_decimals(rate_hz: f64) -> usize {
    (rate_hz.log10().ceil() as i64 + 2).clamp(3, 12) as usize
}

/// Writes rows and counts them.
struct Writer {
    path: PathBuf,
    part: PathBuf,
    rows: u64,
    values: u64,
    text: String,
}

impl Writer {
    fn error(&self, reason: impl std::fmt::Display) -> ExportError {
        ExportError::Write { path: self.path.clone(), reason: reason.to_string() }
    }

    fn write(&mut self, trace: &Trace, columns: &[Column], layout: Layout, parquet: bool) -> Result<(), ExportError> {
        let file = File::create(&self.part).map_err(|e| self.error(e))?;
        let schema = schema(columns, layout);
        let mut sink = if parquet {
            let properties = WriterProperties::builder()
                .set_compression(Compression::SNAPPY)
                .set_max_row_group_row_count(Some(PIECE_SAMPLES as usize))
                .build();
            Sink::Parquet(ArrowWriter::try_new(file, schema.clone(), Some(properties)).map_err(|e| self.error(e))?)
        } else {
            let mut csv = csv::Writer::from_writer(BufWriter::with_capacity(1 << 16, file));
            let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            csv.write_record(&names).map_err(|e| self.error(e))?;
            Sink::Csv(csv)
        };
        match layout {
            Layout::Wide => self.wide(trace, columns, &schema, &mut sink)?,
            Layout::Long => {
                for column in columns {
                    self.long(trace, column, &schema, &mut sink)?;
                }
            }
        }
        match sink {
            Sink::Csv(mut csv) => csv.flush().map_err(|e| self.error(e)),
            Sink::Parquet(writer) => writer.close().map(|_| ()).map_err(|e| self.error(e)),
        }
    }

    fn wide(
        &mut self,
        trace: &Trace,
        columns: &[Column],
        schema: &Arc<Schema>,
        sink: &mut Sink,
    ) -> Result<(), ExportError> {
        let Some(first) = columns.first() else { return Ok(()) };
        let start = columns.iter().map(|c| c.start).min().unwrap_or(0);
        let end = columns.iter().map(|c| c.end).max().unwrap_or(0);
        let decimals = time_decimals(first.rate_hz);
        let mut values: Vec<Vec<f32>> = vec![Vec::new(); columns.len()];
        let mut piece_start = start;
        while piece_start < end {
            let piece_end = end.min(piece_start + PIECE_SAMPLES);
            let rows = (piece_end - piece_start) as usize;
            for (column, buffer) in columns.iter().zip(&mut values) {
                trace.read_samples_into(column.channel, piece_start, piece_end.min(column.end), buffer)?;
                // A channel that ends early leaves empty cells, like a gap.
                buffer.resize(rows, f32::NAN);
            }
            let times = (piece_start..piece_end).map(|i| first.start_s + i as f64 / first.rate_hz);
            match sink {
                Sink::Csv(csv) => {
                    for (row, t) in times.enumerate() {
                        self.text.clear();
                        let _ = write!(self.text, "{t:.decimals$}");
                        csv.write_field(&self.text).map_err(|e| self.error(e))?;
                        for buffer in &values {
                            self.csv_value(csv, buffer[row])?;
                        }
                        csv.write_record(None::<&[u8]>).map_err(|e| self.error(e))?;
                    }
                }
                Sink::Parquet(writer) => {
                    let mut arrays: Vec<ArrayRef> = vec![Arc::new(Float64Array::from_iter_values(times))];
                    for buffer in &values {
                        self.values += buffer.iter().filter(|v| !v.is_nan()).count() as u64;
                        arrays.push(Arc::new(nullable(buffer)));
                    }
                    let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(|e| self.error(e))?;
                    writer.write(&batch).map_err(|e| self.error(e))?;
                }
            }
            self.rows += rows as u64;
            piece_start = piece_end;
        }
        Ok(())
    }

    fn long(
        &mut self,
        trace: &Trace,
        column: &Column,
        schema: &Arc<Schema>,
        sink: &mut Sink,
    ) -> Result<(), ExportError> {
        let decimals = time_decimals(column.rate_hz);
        let mut buffer = Vec::new();
        let mut piece_start = column.start;
        while piece_start < column.end {
            let piece_end = column.end.min(piece_start + PIECE_SAMPLES);
            trace.read_samples_into(column.channel, piece_start, piece_end, &mut buffer)?;
            let times = (piece_start..piece_end).map(|i| column.start_s + i as f64 / column.rate_hz);
            match sink {
                Sink::Csv(csv) => {
                    for (t, &value) in times.zip(&buffer) {
                        self.text.clear();
                        let _ = write!(self.text, "{t:.decimals$}");
                        csv.write_field(&self.text).map_err(|e| self.error(e))?;
                        csv.write_field(&column.name).map_err(|e| self.error(e))?;
                        self.csv_value(csv, value)?;
                        csv.write_field(&column.unit).map_err(|e| self.error(e))?;
                        csv.write_record(None::<&[u8]>).map_err(|e| self.error(e))?;
                    }
                }
                Sink::Parquet(writer) => {
                    let rows = buffer.len();
                    self.values += buffer.iter().filter(|v| !v.is_nan()).count() as u64;
                    let arrays: Vec<ArrayRef> = vec![
                        Arc::new(Float64Array::from_iter_values(times)),
                        Arc::new(StringArray::from_iter_values(std::iter::repeat_n(&column.name, rows))),
                        Arc::new(nullable(&buffer)),
                        Arc::new(StringArray::from_iter_values(std::iter::repeat_n(&column.unit, rows))),
                    ];
                    let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(|e| self.error(e))?;
                    writer.write(&batch).map_err(|e| self.error(e))?;
                }
            }
            self.rows += buffer.len() as u64;
            piece_start = piece_end;
        }
        Ok(())
    }

    /// Writes one value cell: the shortest text that reads back as the same `f32`, empty for a gap.
    fn csv_value(&mut self, csv: &mut csv::Writer<BufWriter<File>>, value: f32) -> Result<(), ExportError> {
        self.text.clear();
        if !value.is_nan() {
            self.values += 1;
            let _ = write!(self.text, "{value}");
        }
        csv.write_field(&self.text).map_err(|e| self.error(e))
    }
}

/// The Arrow columns of an export.
fn schema(columns: &[Column], layout: Layout) -> Arc<Schema> {
    let time = Field::new("time_s", DataType::Float64, false);
    Arc::new(Schema::new(match layout {
        Layout::Wide => std::iter::once(time)
            .chain(columns.iter().map(|c| Field::new(c.header.as_str(), DataType::Float32, true)))
            .collect::<Vec<_>>(),
        Layout::Long => vec![
            time,
            Field::new("channel", DataType::Utf8, false),
            Field::new("value", DataType::Float32, true),
            Field::new("unit", DataType::Utf8, false),
        ],
    }))
}

/// Samples as an Arrow column with nulls for the gaps.
fn nullable(samples: &[f32]) -> Float32Array {
    samples.iter().map(|v| (!v.is_nan()).then_some(*v)).collect()
}
